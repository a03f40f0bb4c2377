#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# keyholdd over HTTPS against nginx serving a fixed JSON response over HTTPS with the same kind
# of certificate, measured in the same run with wrk on loopback (HTTP.md's method): the ratio is
# what our HTTP layer, authentication, JSON, key operations and audit trail cost on top of a
# tuned server doing nothing. Each crypto row also shows the raw rate of its primitive on one
# core (openssl speed, same run). Rows:
#   health          GET /v1/sys/health: no authentication, no storage
#   get key         GET /v1/keys/{tag}: token, a read, the audit record of the read
#   encrypt 1 KiB   POST /v1/keys/{tag}/encrypt      } token, key cache, the operation, and the
#   decrypt 1 KiB   POST /v1/keys/{tag}/decrypt      } audit record, usage count and history in
#   data-key        POST /v1/keys/{tag}/data-key     } one durable commit shared by concurrent
#   sign p-256      POST /v1/keys/{tag}/sign         } requests (group commit)
#   sign rsa-2048   POST /v1/keys/{tag}/sign (PSS)   }
# The rate limit is turned off for the run (it would answer 429 at 200 requests/s).
#
# Usage: bench_server.sh KEYHOLDD [SECONDS] (default 10 s per run, 64 connections, 2 threads).
set -euo pipefail

keyholdd=$(realpath "$1")
seconds=${2:-10}
conns=64
work=$(mktemp -d "${TMPDIR:-/tmp}/keyhold-bench-XXXXXX")
kpid= npid=
cleanup() {
  [[ -n $kpid ]] && kill "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null
  [[ -n $npid ]] && kill "$npid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "bench_server: $*" >&2
  exit 1
}
source "$(dirname "$0")/lib.sh"

# keyholdd in development mode (its CA and certificate are reused for nginx).
start_keyholdd
auth=(-H "Authorization: Bearer $token" -H 'Content-Type: application/json')
api() { # api PATH BODY -> response body
  curl -fsS --cacert "$ca" "${auth[@]}" -d "$2" "https://127.0.0.1:$kport/v1$1"
}
aes=$(api /keys '{"name":"bench-aes","type":"aes-256-gcm"}' | jq -r .tag)
p256=$(api /keys '{"name":"bench-p256","type":"ecdsa-p256","usage":"sign-verify"}' | jq -r .tag)
rsa=$(api /keys '{"name":"bench-rsa","type":"rsa-2048","usage":"sign-verify"}' | jq -r .tag)

# nginx: fixed JSON body, same TLS settings class (TLS 1.2/1.3, P-256 certificate).
start_nginx '{"initialized":true,"sealed":false,"standby":false,"version":"0.1.0","node_id":"node-1","cluster_size":1}'
sleep 0.5

plain=$(head -c 1024 /dev/urandom | base64 -w0)
ciphertext=$(api "/keys/$aes/encrypt" "{\"plaintext\":\"$plain\"}" | jq -r .ciphertext)
message=$(head -c 256 /dev/urandom | base64 -w0)
post_script() { # post_script NAME BODY: a wrk script POSTing BODY with the token
  cat >"$work/$1.lua" <<EOF
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
EOF
}
post_script encrypt "{\"plaintext\":\"$plain\"}"
post_script decrypt "{\"ciphertext\":\"$ciphertext\"}"
post_script data-key '{"bits":256,"include_plaintext":true}'
post_script sign "{\"message\":\"$message\"}"
cat >"$work/get.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $token"
EOF

# Raw primitive rates on one core (openssl speed), operations per second.
speed_aead() { # speed_aead BYTES
  openssl speed -seconds 1 -evp aes-256-gcm -bytes "$1" 2>/dev/null |
    awk -v n="$1" '/^AES-256-GCM/ { v = $2; sub(/k$/, "", v); printf "%.0f", v * 1000 / n }'
}
raw_aead=$(speed_aead 1024)
raw_aead_small=$(speed_aead 64)
raw_p256=$(openssl speed -seconds 1 ecdsap256 2>/dev/null | awk '/nistp256/ { print int($(NF-1)) }')
raw_rsa=$(openssl speed -seconds 1 rsa2048 2>/dev/null | awk '/^rsa 2048/ { print int($(NF-1)) }')

# rate URL [SCRIPT] -> "requests/s p50_ms p99_ms non2xx"
rate() {
  local out
  out=$(wrk -t2 -c$conns -d${seconds}s --latency ${2:+-s "$2"} "$1" 2>&1)
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $5}' <<<"$out")
  echo "${rps:-0} ${p50:-?} ${p99:-?} ${errs:-0}"
}

read -r ref _ _ _ <<<"$(rate "https://127.0.0.1:$nport/")"
printf 'keyholdd vs nginx (fixed JSON over HTTPS), wrk -t2 -c%d -d%ss, loopback, %s CPUs, audit on\n' \
  "$conns" "$seconds" "$(nproc)"
printf '%-14s %11s %10s %8s %12s %9s %9s %8s\n' operation "keyhold r/s" "nginx r/s" "x nginx" \
  "raw op/s" p50 p99 non-2xx
k=https://127.0.0.1:$kport/v1
for row in "health|$k/sys/health||-" \
  "get key|$k/keys/$aes|$work/get.lua|-" \
  "encrypt 1 KiB|$k/keys/$aes/encrypt|$work/encrypt.lua|$raw_aead" \
  "decrypt 1 KiB|$k/keys/$aes/decrypt|$work/decrypt.lua|$raw_aead" \
  "data-key|$k/keys/$aes/data-key|$work/data-key.lua|$raw_aead_small" \
  "sign p-256|$k/keys/$p256/sign|$work/sign.lua|$raw_p256" \
  "sign rsa-2048|$k/keys/$rsa/sign|$work/sign.lua|$raw_rsa"; do
  IFS='|' read -r name url script raw <<<"$row"
  read -r rps p50 p99 errs <<<"$(rate "$url" "$script")"
  ratio=$(awk -v a="$rps" -v b="$ref" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
  printf '%-14s %11.0f %10.0f %8s %12s %9s %9s %8s\n' "$name" "$rps" "$ref" "$ratio" "$raw" \
    "$p50" "$p99" "$errs"
done
