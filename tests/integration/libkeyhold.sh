#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# libkeyhold.so as users get it: it exports the keyhold_* functions and nothing else, and a
# program built only against include/keyhold/keyhold.h and the shared library (shared_client.c)
# does key operations and envelope encryption against the real keyholdd.
set -euo pipefail

keyholdd=$1
client=$2
library=$3
source "$(dirname "$0")/lib.sh"
init_work lib

exported=$(nm -D --defined-only "$library" | awk '$2 ~ /^[TDBR]$/ { sub(/@.*/, "", $3); print $3 }')
[[ -n $exported ]] || fail "libkeyhold exports nothing"
stray=$(grep -v '^keyhold_' <<<"$exported" || true)
[[ -z $stray ]] || fail "libkeyhold exports more than keyhold_*: $stray"
grep -qx keyhold_envelope_encrypt_file <<<"$exported" || fail "keyhold_envelope_encrypt_file missing"
readelf -d "$library" | grep -q 'SONAME.*libkeyhold\.so\.0' || fail "no soname libkeyhold.so.0"
readelf -d "$client" | grep -q 'NEEDED.*libkeyhold\.so\.0' || fail "the client does not use the .so"

start_keyholdd
"$client" "https://127.0.0.1:$port" "$work/var/tls/ca.pem" "$work/var/dev-token" "$work" ||
  fail "shared_client"
echo "libkeyhold: ok"
