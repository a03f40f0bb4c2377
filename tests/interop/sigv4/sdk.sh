#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Signs requests with the AWS SDK's SigV4 signer (sign.mjs) and verifies them with keyhold's
# (sigv4_interop). The npm packages are pinned by package-lock.json and installed with `npm ci`
# into the build tree, once per lock file.
#   sdk.sh <sigv4_interop> <work dir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
interop=$1
work=$2

mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/sign.mjs" "$work/"
if ! cmp -s "$work/package-lock.json" "$work/node_modules/.installed-lock" 2>/dev/null; then
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$work/package-lock.json" "$work/node_modules/.installed-lock"
fi
rm -rf "$work/out"
node "$work/sign.mjs" "$work/out"
"$interop" files "$work/out/suite" service
"$interop" files "$work/out/xks" kms-xks-proxy
