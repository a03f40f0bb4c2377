#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs the Debian 12 packages keyhold needs, only when some are missing. Quiet when
# everything is present; idempotent. `deps.sh` covers build, run and test; `deps.sh fuzz` adds
# the clang toolchain for libFuzzer builds; `deps.sh bench` adds wrk and nginx for the server
# benchmark.
set -euo pipefail

packages=(
  gcc make libc6-dev cmake ninja-build pkg-config   # toolchain
  libssl-dev openssl                                # crypto (OpenSSL 3.0)
  libsqlite3-dev                                    # embedded store
  libp11-kit-dev                                    # pkcs11.h for the HSM seal
  libmicrohttpd-dev                                 # the HTTP server library (HTTP.md)
  libgnutls28-dev                                   # TLS inside libmicrohttpd; cert reload
  libjansson-dev                                    # JSON request parsing
  libcurl4-openssl-dev                              # HTTP client for the server tests
  curl jq                                           # HTTP client and JSON tool: tests, dev examples
  sqlite3                                           # tests edit a database file as an attacker would
  libcmocka-dev                                     # unit tests
  softhsm2                                          # a real PKCS#11 token for the seal tests
  clang-format cppcheck                             # style gates run by make test
  # Bouncy Castle cross-checks SM2 chains, CRLs and OCSP in the tests (integration/pki-sm2).
  default-jdk-headless libbcprov-java libbcpkix-java
  # strongSwan's `pki --est` / `pki --estca` is the independent EST client (integration/est);
  # its HTTP fetcher is the curl plugin of the extra plugins.
  strongswan-pki libstrongswan-extra-plugins
)
# Node.js and npm run the AWS SDK's SigV4 signer in the interop test (tests/interop/sigv4/); a
# machine that has them from elsewhere keeps its own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
if [[ "${1:-}" == "fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
if [[ "${1:-}" == "bench" ]]; then
  packages+=(wrk nginx-light)                       # load generator and reference server
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "deps: installing ${missing[*]}" >&2
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "deps: missing packages and not root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
