#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# keyholdd as an AWS KMS external key store proxy (XKS.md), called as AWS KMS calls it: POSTs
# over keep-alive TLS, each signed afresh with SigV4 (host;x-amz-date, the current time), by
# xks_load. The reference is nginx returning a fixed JSON answer over HTTPS with the same kind
# of certificate, driven by the same xks_load doing the same signing work, in the same run:
# the ratio compares like with like. Rows:
#   xks encrypt   POST /<prefix>/kms/xks/v1/keys/<id>/encrypt: 32-byte plaintext (a data key,
#                 as AWS sends), 40 bytes of AAD, AES_GCM
#   xks decrypt   POST .../decrypt of one encrypt's answer, same AAD
#   xks health    POST .../health
# Setup goes through the native REST API with the development token: an XKS store for the
# prefix bench/xks, a credential, and an XKS key bench-key-1 (a new aes-256-gcm key). The rate
# limit is turned off for the run (it would answer 429).
#
# Usage: bench_xks.sh KEYHOLDD [SECONDS] [XKS_LOAD]
#   SECONDS per row (default 10, or $KH_BENCH_SECONDS; 1 s of warm-up comes on top),
#   XKS_LOAD the load generator (default: bench/xks_load of KEYHOLDD's build tree).
#   KH_BENCH_XKS_REFERENCE_ONLY=1 measures only the nginx row (no XKS API needed).
set -euo pipefail

keyholdd=$(realpath "$1")
seconds=${2:-${KH_BENCH_SECONDS:-10}}
xks_load=$(realpath "${3:-$(dirname "$keyholdd")/../bench/xks_load}")
conns=64
threads=2
prefix=bench/xks
external_key=bench-key-1
work=$(mktemp -d "${TMPDIR:-/tmp}/keyhold-bench-xks-XXXXXX")
kpid='' npid=''
cleanup() {
  [[ -n $kpid ]] && kill "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null
  [[ -n $npid ]] && kill "$npid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
umask 077

fail() {
  echo "bench_xks: $*" >&2
  exit 1
}
[[ -x $xks_load ]] || fail "no load generator at $xks_load (build the release preset)"

source "$(dirname "$0")/lib.sh"

# keyholdd in development mode (its CA and certificate are reused for nginx).
start_keyholdd

# nginx: a fixed answer shaped like an XKS encrypt answer, same TLS settings class.
fixed='{"authenticationTag":"vBxN2ncH1oEkR8WVXpmyYQ==","ciphertext":"D2e6d6rFlXT/LfOqD2e6d6rFlXT/LfOqD2e6d6rFlXQ=","ciphertextMetadata":"AQAAAAE=","initializationVector":"HMrlRw85cAJUd5Ax"}'
start_nginx "$fixed"

# The request bodies, as AWS KMS sends them (a data key to wrap, the encryption context's AAD).
b64() { head -c "$1" /dev/urandom | base64 -w0; }
plaintext=$(b64 32)
aad=$(b64 40)
metadata() { # metadata OPERATION -> the requestMetadata member
  printf '"requestMetadata":{"awsPrincipalArn":"arn:aws:iam::123456789012:user/bench",'
  printf '"kmsKeyArn":"arn:aws:kms:us-east-1:123456789012:key/bench","kmsOperation":"%s",' "$1"
  printf '"kmsRequestId":"4112f4d6-db54-4af4-ae30-c55a22a8dfae"}'
}
printf '{%s,"plaintext":"%s","encryptionAlgorithm":"AES_GCM","additionalAuthenticatedData":"%s"}' \
  "$(metadata Encrypt)" "$plaintext" "$aad" >"$work/encrypt.json"
printf '{"requestMetadata":{"kmsRequestId":"%s","kmsOperation":"KmsHealthCheck"}}' \
  "4112f4d6-db54-4af4-ae30-c55a22a8dfae" >"$work/health.json"

# load URL BODY_FILE ACCESS_KEY SECRET_FILE -> xks_load's line (exit 2, some errors, is shown)
load() {
  local rc=0
  "$xks_load" --url "$1" --body "$2" --access-key "$3" --secret-file "$4" --cacert "$ca" \
    --region us-east-1 --connections $conns --threads $threads --duration "${seconds}s" \
    --warmup 1s || rc=$?
  [[ $rc -eq 0 || $rc -eq 2 ]] || fail "xks_load failed ($rc) on $1"
}
field() { # field NAME LINE
  tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'
}
ms() { awk -v v="$1" 'BEGIN { printf "%.2fms", v }'; }
row() { # row NAME LINE REFERENCE_RPS
  local rps ratio
  rps=$(field rps "$2")
  ratio=$(awk -v a="$rps" -v b="$3" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
  printf '%-14s %11.0f %10.0f %8s %9s %9s %9s %7s %8s\n' "$1" "$rps" "$3" "$ratio" \
    "$(ms "$(field p50_ms "$2")")" "$(ms "$(field p99_ms "$2")")" \
    "$(ms "$(field p999_ms "$2")")" "$(field client_cpu "$2")" \
    "$(($(field errors "$2") + $(field conn_errors "$2")))"
}

# The reference first: it needs no XKS API. Its credential has the shape of ours (a 20-letter
# access key id, a 44-character secret), so that the signing work is the same.
printf 'QmVuY2hTZWNyZXRGb3JUaGVOZ2lueFJlZmVyZW5jZTE=' >"$work/nginx.secret"
for _ in $(seq 1 100); do
  (echo >/dev/tcp/127.0.0.1/"$nport") 2>/dev/null && break
  sleep 0.05
done
path=/$prefix/kms/xks/v1/keys/$external_key/encrypt
ref_line=$(load "https://127.0.0.1:$nport$path" "$work/encrypt.json" AKIAXKSBENCHREFERENCE "$work/nginx.secret")
ref=$(field rps "$ref_line")
printf 'keyholdd XKS proxy vs nginx (fixed JSON over HTTPS), xks_load -c%d -t%d -d%ss, SigV4 per request, loopback, %s CPUs\n' \
  "$conns" "$threads" "$seconds" "$(nproc)"
printf '%-14s %11s %10s %8s %9s %9s %9s %7s %8s\n' operation "r/s" "nginx r/s" "x nginx" \
  p50 p99 p99.9 "gen cpu" errors
row "nginx (ref)" "$ref_line" "$ref"
goal() {
  echo "goal: >= 10,000 requests/s with p99 < 10 ms on 2 cores (AWS allows 1,800/s, times out at 250 ms)"
}
if [[ ${KH_BENCH_XKS_REFERENCE_ONLY:-} == 1 ]]; then
  goal
  exit 0
fi

# Setup through the native REST API; any failure stops here with what the server said.
api() { # api PATH BODY -> response body
  local out code
  local args=(-sS --cacert "$ca" -H "Authorization: Bearer $token" -X POST)
  [[ -n $2 ]] && args+=(-H 'Content-Type: application/json' -d "$2")
  out=$(curl "${args[@]}" -w '\n%{http_code}' "https://127.0.0.1:$kport/v1$1") ||
    fail "setup: POST /v1$1: curl failed"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $code == 2?? ]] || fail "setup: POST /v1$1 answered HTTP $code: $out" \
    "(the XKS management API of API.md is needed)"
  printf '%s' "$out"
}
need() { # need JSON FIELD -> its value, or a clear failure
  local v
  v=$(jq -er ".$2 // empty" <<<"$1" 2>/dev/null) || fail "setup: no \"$2\" in $1"
  printf '%s' "$v"
}
store=$(api /xks/stores "{\"prefix\":\"$prefix\"}")
store_id=$(need "$store" id)
cred=$(api "/xks/stores/$store_id/credentials" '')
access_key=$(need "$cred" access_key_id)
need "$cred" secret_access_key >"$work/xks.secret"
api "/xks/stores/$store_id/keys" \
  "{\"external_key_id\":\"$external_key\",\"usages\":[\"encrypt\",\"decrypt\"]}" >/dev/null

# One encrypt through curl's own SigV4 signer (credentials in a config file, not argv), whose
# answer makes the decrypt body.
xks=https://127.0.0.1:$kport/$prefix/kms/xks/v1
printf 'user = "%s:%s"\n' "$access_key" "$(cat "$work/xks.secret")" >"$work/curl.conf"
answer=$(curl -sS -K "$work/curl.conf" --cacert "$ca" --aws-sigv4 aws:amz:us-east-1:kms-xks-proxy \
  -H 'Content-Type: application/json' --data-binary "@$work/encrypt.json" -w '\n%{http_code}' \
  "$xks/keys/$external_key/encrypt") || fail "setup: XKS encrypt: curl failed"
[[ ${answer##*$'\n'} == 200 ]] || fail "setup: XKS encrypt answered HTTP ${answer##*$'\n'}: ${answer%$'\n'*}"
answer=${answer%$'\n'*}
printf '{%s,"ciphertext":"%s","initializationVector":"%s","authenticationTag":"%s","ciphertextMetadata":"%s","encryptionAlgorithm":"AES_GCM","additionalAuthenticatedData":"%s"}' \
  "$(metadata Decrypt)" "$(need "$answer" ciphertext)" "$(need "$answer" initializationVector)" \
  "$(need "$answer" authenticationTag)" "$(need "$answer" ciphertextMetadata)" "$aad" \
  >"$work/decrypt.json"

for r in "xks encrypt|keys/$external_key/encrypt|encrypt" \
  "xks decrypt|keys/$external_key/decrypt|decrypt" \
  "xks health|health|health"; do
  IFS='|' read -r name route body <<<"$r"
  line=$(load "$xks/$route" "$work/$body.json" "$access_key" "$work/xks.secret")
  row "$name" "$line" "$ref"
done
goal
