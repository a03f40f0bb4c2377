#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The XKS listener of its own with mutual TLS (XKS.md): keyholdd with xks_listen, xks_client_ca
# and xks_client_names from its configuration file. A client certificate named as AWS names its
# own (cks.kms.us-east-1.amazonaws.com) reaches the proxy; a wrong name, another CA or no
# certificate end the handshake with a handshake_failure alert (openssl s_client shows it); the
# main listener still serves the XKS paths without client certificates, and the XKS listener
# serves nothing but them.
set -euo pipefail

keyholdd=$1
source "$(dirname "$0")/lib.sh"
init_work xks-mtls

# A client CA, AWS's client certificate, one with another name, one from another CA.
pki() { openssl "$@" >/dev/null 2>&1 || fail "openssl $*"; }
cd "$work"
pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 2 -subj /CN=client-ca
pki req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-ca.key \
  -out other-ca.pem -days 2 -subj /CN=other-ca
client() { # client NAME CA
  pki req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
    -subj "/CN=$1"
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=clientAuth\n' "$1" >"$1.ext"
  pki x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 1 \
    -extfile "$1.ext" -out "$1.pem"
}
client cks.kms.us-east-1.amazonaws.com ca
client cks.kms.eu-west-1.amazonaws.com ca
mv cks.kms.eu-west-1.amazonaws.com.pem wrong.pem
mv cks.kms.eu-west-1.amazonaws.com.key wrong.key
client cks.kms.us-east-1.amazonaws.com other-ca
mv cks.kms.us-east-1.amazonaws.com.pem stranger.pem
mv cks.kms.us-east-1.amazonaws.com.key stranger.key
client cks.kms.us-east-1.amazonaws.com ca
cd - >/dev/null

cat >"$work/keyholdd.json" <<EOF
{"xks_listen": "127.0.0.1:0", "xks_client_ca": "$work/ca.pem",
 "xks_client_names": ["cks.kms.us-east-1.amazonaws.com"]}
EOF
start_keyholdd --config "$work/keyholdd.json"
xport=
for _ in $(seq 1 100); do
  xport=$(grep -o '"msg":"XKS listener serving".*' "$work/err.log" | grep -o '"port":[0-9]*' |
    cut -d: -f2 || true)
  [[ -n $xport ]] && break
  sleep 0.05
done
[[ -n $xport ]] || fail "no XKS listener"
grep -q '"msg":"XKS listener serving".*"mutual_tls":"on"' "$work/err.log" || fail "mTLS not on"
cacert=$work/var/tls/ca.pem
token=$(cat "$work/var/dev-token")

api() { # api METHOD PATH [BODY]
  local args=(-sS --cacert "$cacert" -X "$1" -H "Authorization: Bearer $token")
  [[ -n ${3:-} ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  body=$(curl "${args[@]}" "https://127.0.0.1:$port$2") || fail "api $1 $2"
}
api POST /v1/xks/stores '{"prefix":"mtls"}'
store=$(jq -r .id <<<"$body")
api POST "/v1/xks/stores/$store/credentials"
ak=$(jq -r .access_key_id <<<"$body")
sk=$(jq -r .secret_access_key <<<"$body")
[[ $ak =~ ^[A-Z2-7]+$ ]] || fail "credential: $body"
echo '{"requestMetadata":{"kmsRequestId":"r-1","kmsOperation":"KmsHealthCheck"}}' >"$work/h.json"

health() { # health PORT [curl args...] -> $status $body
  local p=$1
  shift
  status=$(curl -sS -o "$work/xbody" -w '%{http_code}' --cacert "$cacert" \
    --aws-sigv4 "aws:amz:us-east-1:kms-xks-proxy" --user "$ak:$sk" \
    -H 'Content-Type: application/json' --data-binary @"$work/h.json" "$@" \
    "https://127.0.0.1:$p/mtls/kms/xks/v1/health" 2>"$work/err") || status=failed
  body=$(cat "$work/xbody" 2>/dev/null || true)
}

# AWS's certificate: served.
health "$xport" --cert "$work/cks.kms.us-east-1.amazonaws.com.pem" \
  --key "$work/cks.kms.us-east-1.amazonaws.com.key"
[[ $status == 200 ]] || fail "AWS's client certificate: $status $body"
[[ $(jq -r .xksProxyVendor <<<"$body") == keyhold ]] || fail "health: $body"
# The XKS listener serves XKS paths only.
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$cacert" \
  --cert "$work/cks.kms.us-east-1.amazonaws.com.pem" \
  --key "$work/cks.kms.us-east-1.amazonaws.com.key" "https://127.0.0.1:$xport/v1/sys/health")
[[ $status == 404 ]] || fail "native API on the XKS listener: $status"

# Refused in the handshake, with the alert.
for who in wrong stranger none; do
  args=()
  [[ $who != none ]] && args=(--cert "$work/$who.pem" --key "$work/$who.key")
  health "$xport" "${args[@]}"
  [[ $status == failed ]] || fail "$who: got HTTP $status"
  grep -qi 'alert handshake failure' "$work/err" || fail "$who: curl saw no handshake_failure"
  for v in -tls1_2 -tls1_3; do
    out=$(printf 'POST /mtls/kms/xks/v1/health HTTP/1.1\r\nHost: x\r\n\r\n' |
      timeout 10 openssl s_client -connect "127.0.0.1:$xport" "$v" -CAfile "$cacert" \
        "${args[@]/--/-}" -ign_eof 2>&1 || true)
    grep -q 'alert handshake failure' <<<"$out" || fail "$who $v: no alert: $out"
    grep -q 'SSL alert number 40' <<<"$out" || fail "$who $v: not alert 40"
    grep -q 'HTTP/1.1' <<<"$out" && fail "$who $v: an HTTP answer came back"
  done
done

# The main listener serves the XKS paths without client certificates.
health "$port"
[[ $status == 200 ]] || fail "XKS on the main listener: $status $body"
echo "xks-mtls: all checks passed"
