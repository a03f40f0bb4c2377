#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The XKS load generator (bench/xks_load) against xks_sink for a second: over 4 keep-alive TLS
# connections, every request it signs verifies with kh_sigv4_verify at the real time (xks_load
# exits 0 only when every answer was 200); and with a wrong secret, none does. Nothing here is
# timed: only the answers are checked.
#   xks_load.sh <xks_load> <xks_sink> <work dir>
set -euo pipefail
load=$1
sink=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
spid=
trap '[[ -n $spid ]] && kill "$spid" 2>/dev/null' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 2>/dev/null
"$sink" "$work/cert.pem" "$work/key.pem" "$work/port" &
spid=$!
for _ in $(seq 1 100); do
  [[ -s $work/port ]] && break
  sleep 0.05
done
port=$(cat "$work/port")
printf 'eGtzX2xvYWQgdGVzdCBzZWNyZXQsIG5vdCBhIHJlYWwgb25l' >"$work/secret"
printf 'eGtzX2xvYWQgdGVzdCBzZWNyZXQsIG5vdCBhIHJlYWwgb25m' >"$work/wrong"

run() { # run SECRET_FILE -> xks_load's line; its exit status in $rc
  rc=0
  "$load" --url "https://127.0.0.1:$port/bench/xks/kms/xks/v1/keys/bench-key-1/encrypt" \
    --body-json '{"requestMetadata":{"kmsRequestId":"1","kmsOperation":"Encrypt"},"plaintext":"AAAA"}' \
    --access-key AKIAXKSLOADTESTQ2345 --secret-file "$1" --cacert "$work/cert.pem" \
    --connections 4 --threads 2 --duration 1s --warmup 0 2>"$work/stderr" || rc=$?
}

out=$(run "$work/secret"; echo "$rc")
rc=${out##*$'\n'}
[[ $rc == 0 && $out =~ requests=[1-9] && $out =~ " errors=0 conn_errors=0 " ]] || {
  echo "FAIL: signed requests did not all verify (exit $rc): $out" >&2
  cat "$work/stderr" >&2
  exit 1
}
echo "ok every request verified: ${out%%$'\n'*}"

out=$(run "$work/wrong"; echo "$rc")
rc=${out##*$'\n'}
if [[ $rc != 2 ]] || ! grep -q 'HTTP 401: {"reason":"signature-mismatch"}' "$work/stderr"; then
  echo "FAIL: requests signed with a wrong secret were not refused (exit $rc): $out" >&2
  cat "$work/stderr" >&2
  exit 1
fi
echo "ok a wrong secret is refused"
