#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The PKI (API.md "PKI") against the real keyholdd in development mode, with curl and the
# openssl command line as the independent checker: an ECDSA two-tier PKI (root, intermediate,
# a leaf from an `openssl req` CSR through a profile that needs approval, approved by an
# ra-officer account made through the API) that `openssl verify` accepts; an RSA root and leaf;
# revocation seen by `openssl crl` / `openssl verify -crl_check` and by `openssl ocsp` over the
# plain-HTTP loopback listener (good, then revoked, unknown for another CA's serial, the nonce
# echoed), the GET form of OCSP, a malformedRequest answer to garbage; each bad input with its
# status and message; an SM2 CA and leaf; and the audit records of it all.
set -euo pipefail

keyholdd=$1
source "$(dirname "$0")/lib.sh"
init_work pki
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_keyholdd --http-listen "127.0.0.1:$hport"
url=https://127.0.0.1:$port
plain=http://127.0.0.1:$hport
tlsca=$work/var/tls/ca.pem
mgr=$(cat "$work/var/dev-token") # kms-manager of the development key store (id 1)
operator=$(cat "$work/var/operator-token")
cd "$work"

# api METHOD PATH [BODY] [TOKEN]: $status and $body of the answer ("-" as TOKEN: none).
api() {
  local method=$1 path=$2 data=${3:-} tok=${4:-$mgr}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$tlsca" -X "$method")
  [[ $tok != - ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}
want() {
  [[ $status == "$1" ]] || fail "status $status, wanted $1: $body"
  if [[ -n ${2:-} ]]; then
    [[ $(jq -r .error.code <<<"$body") == "$2" ]] || fail "code, wanted $2: $body"
  fi
  if [[ -n ${3:-} ]]; then
    grep -qF -- "$3" <<<"$(jq -r .error.message <<<"$body")" || fail "message, wanted '$3': $body"
  fi
}
jqt() { jq -e "$1" <<<"$body" >/dev/null || fail "not $1: $body"; }
# json KEY=VALUE...: a JSON object of strings (jq does the quoting of PEM).
csr_body() { jq -n --argjson ca "$1" --arg p "$2" --rawfile csr "$3" '{ca:$ca,profile:$p,csr:$csr}'; }

# ---- an ECDSA two-tier PKI ----
api GET /v1/pki/cas "" -
want 401 Unauthenticated
api POST /v1/pki/cas '{"name":"root-ec","kind":"root","subject":"CN=Test Root EC,O=keyhold","validity_days":3650}'
want 201
root=$(jq -r .id <<<"$body")
jqt '.kind == "root" and .key_type == "ecdsa-p256" and .name == "root-ec" and (.key | length) > 0'
jqt '(.certificate_pem | startswith("-----BEGIN CERTIFICATE-----")) and (.not_after | test("Z$"))'
jq -r .certificate_pem <<<"$body" >root.pem
api POST /v1/pki/cas "{\"name\":\"inter-ec\",\"kind\":\"intermediate\",\"key_type\":\"ecdsa-p384\",\"subject\":\"CN=Test Inter EC,O=keyhold\",\"validity_days\":1825,\"parent\":$root}"
want 201
inter=$(jq -r .id <<<"$body")
jqt ".parent == $root and .key_type == \"ecdsa-p384\" and .kind == \"intermediate\""
jq -r .certificate_pem <<<"$body" >inter.pem
openssl verify -CAfile root.pem inter.pem >/dev/null || fail "the intermediate does not verify"
api GET "/v1/pki/cas/$inter"
want 200
jqt '.chain_pem | contains("BEGIN CERTIFICATE")'
api GET /v1/pki/cas
want 200
jqt "[.cas[].id] | contains([$root, $inter])"
api GET /v1/pki/cas/99999
want 404 NotFound "no such CA"

api POST "/v1/pki/cas/$inter/profiles" "{\"name\":\"tls\",\"key_types\":[\"ecdsa-p256\"],\"validity_days\":90,\"key_usage\":[\"digitalSignature\"],\"extended_key_usage\":[\"serverAuth\"],\"approval\":\"required\",\"kind\":\"sign\",\"ocsp_url\":\"$plain/pki/$inter/ocsp\",\"crl_url\":\"$plain/pki/$inter/crl\"}"
want 201
jqt '.name == "tls" and .approval == "required" and .key_types == ["ecdsa-p256"] and .extended_key_usage == ["serverAuth"]'
api POST "/v1/pki/cas/$inter/profiles" '{"name":"tls","key_types":["ecdsa-p256"],"validity_days":90}'
want 409 Conflict
api POST "/v1/pki/cas/$inter/profiles" '{"name":"bad","key_types":["dsa"],"validity_days":90}'
want 400 BadRequest '"key_types"'
api POST "/v1/pki/cas/$inter/profiles" '{"name":"bad","key_types":["ecdsa-p256"],"validity_days":90,"key_usage":["everything"]}'
want 400 BadRequest '"key_usage"'
api GET "/v1/pki/cas/$inter/profiles"
want 200
jqt '[.profiles[].name] == ["tls"]'
api PATCH "/v1/pki/cas/$inter/profiles/tls" '{"validity_days":60}'
want 200
jqt '.validity_days == 60 and .approval == "required"'
api GET "/v1/pki/cas/$inter/profiles/tls"
want 200
jqt '.validity_days == 60'
api GET "/v1/pki/cas/$inter/profiles/nope"
want 404 NotFound

# An ra-officer, made through the API by the manager.
api POST /v1/keystores/1/accounts '{"name":"officer","policies":["ra-officer"]}'
want 201
jqt '.account.policies == ["ra-officer"]'
officer=$(jq -r .token <<<"$body")

openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
  -subj "/CN=leaf.example/O=keyhold" -addext "subjectAltName=DNS:leaf.example" -out leaf.csr 2>/dev/null
api POST /v1/pki/requests "$(csr_body "$inter" tls leaf.csr)"
want 201
req=$(jq -r .id <<<"$body")
jqt '.status == "pending" and (has("certificate_pem") | not) and .profile == "tls"'
api GET "/v1/pki/requests?status=pending&ca=$inter" "" "$officer"
want 200
jqt "[.requests[].id] == [$req]"
api POST "/v1/pki/requests/$req/approve"
want 403 Forbidden "never the one who submitted it"
api POST "/v1/pki/requests/$req/approve" "" "$officer"
want 200
jqt '.status == "issued" and (.serial | length) > 0 and (.certificate_pem | startswith("-----BEGIN CERTIFICATE-----"))'
serial=$(jq -r .serial <<<"$body")
jq -r .certificate_pem <<<"$body" >leaf.pem
openssl verify -CAfile root.pem -untrusted inter.pem leaf.pem >verify.out 2>&1 || fail "leaf: $(cat verify.out)"
grep -q "leaf.pem: OK" verify.out || fail "verify: $(cat verify.out)"
api POST "/v1/pki/requests/$req/approve" "" "$officer"
want 409 Conflict "decided already"
api GET "/v1/pki/requests/$req"
want 200
jqt '.status == "issued"'

api GET "/v1/pki/certificates/$serial"
want 200
jqt ".serial == \"$serial\" and .ca == $inter and .status == \"good\" and (.pem | startswith(\"-----BEGIN\")) and (.chain_pem | contains(\"BEGIN CERTIFICATE\"))"
curl -sS --cacert "$tlsca" -H "Authorization: Bearer $mgr" -o leaf.der -w '%{content_type}' \
  "$url/v1/pki/certificates/$serial?format=der" >ct.out
grep -q application/pkix-cert ct.out || fail "format=der content type: $(cat ct.out)"
cmp <(openssl x509 -inform DER -in leaf.der) <(openssl x509 -in leaf.pem) || fail "DER differs"
api GET "/v1/pki/certificates?ca=$inter&status=good"
want 200
jqt "[.certificates[].serial] == [\"$serial\"]"
api GET "/v1/pki/certificates/$serial/status"
want 200
jqt '.status == "good"'

# ---- public paths: CA certificate, CRLs, OCSP ----
curl -sS -o ca.der -w '%{http_code} %{content_type}' "$url/pki/$inter/ca.crt" --cacert "$tlsca" >ct.out
grep -q "^200 application/pkix-cert" ct.out || fail "ca.crt: $(cat ct.out)"
cmp <(openssl x509 -inform DER -in ca.der) <(openssl x509 -in inter.pem) || fail "ca.crt differs"
curl -sS -o /dev/null -w '%{http_code}' "$plain/pki/99999/ca.crt" >ct.out
[[ $(cat ct.out) == 404 ]] || fail "unknown CA ca.crt: $(cat ct.out)"

ocsp() { # ocsp ISSUER ARGS...: openssl ocsp against the intermediate's responder
  local issuer=$1 ca=$2
  shift 2
  openssl ocsp -issuer "$issuer" "$@" -url "$plain/pki/$ca/ocsp" -CAfile root.pem \
    -verify_other inter.pem >ocsp.out 2>&1 || fail "openssl ocsp: $(cat ocsp.out)"
}
ocsp inter.pem "$inter" -cert leaf.pem -resp_text
grep -q "leaf.pem: good" ocsp.out || fail "OCSP good: $(cat ocsp.out)"
grep -q "Response verify OK" ocsp.out || fail "OCSP verify: $(cat ocsp.out)"
# openssl sends a nonce and checks the one echoed (it warns when it is missing or differs).
grep -q "OCSP Nonce" ocsp.out || fail "OCSP nonce not echoed: $(cat ocsp.out)"
grep -qi "nonce verify error\|no nonce in response" ocsp.out && fail "OCSP nonce: $(cat ocsp.out)"

curl -sS -o crl0.der -w '%{http_code} %{content_type}' "$plain/pki/$inter/crl" >ct.out
grep -q "^200 application/pkix-crl" ct.out || fail "crl: $(cat ct.out)"
cat root.pem inter.pem >chain.pem
openssl crl -inform DER -in crl0.der -CAfile chain.pem -noout 2>&1 | grep -q "verify OK" || fail "first CRL"

# ---- revocation ----
api POST "/v1/pki/certificates/$serial/revoke" '{"reason":"keyCompromise"}' "$officer"
want 403 Forbidden
api POST "/v1/pki/certificates/$serial/revoke" '{"reason":"bogus"}'
want 400 BadRequest '"reason"'
api POST "/v1/pki/certificates/$serial/revoke" '{"reason":"keyCompromise"}'
want 200
jqt '.status == "revoked" and .reason == "keyCompromise" and (.revoked_at | test("Z$"))'
api POST "/v1/pki/certificates/$serial/revoke" '{"reason":"keyCompromise"}'
want 409 Conflict "revoked already"
api GET "/v1/pki/certificates/$serial/status"
want 200
jqt '.status == "revoked" and .reason == "keyCompromise"'

curl -sS -o crl.der "$plain/pki/$inter/crl"
openssl crl -inform DER -in crl.der -CAfile chain.pem -noout 2>&1 | grep -q "verify OK" || fail "CRL verify"
openssl crl -inform DER -in crl.der -text -noout | grep -q "$serial" || fail "serial not in the CRL"
openssl crl -inform DER -in crl.der -out crl.pem
openssl verify -crl_check -CAfile root.pem -untrusted inter.pem -CRLfile crl.pem leaf.pem >verify.out 2>&1 &&
  fail "a revoked leaf verifies"
grep -q "certificate revoked" verify.out || fail "verify -crl_check: $(cat verify.out)"
curl -sS -o delta.der -w '%{http_code} %{content_type}' "$plain/pki/$inter/delta-crl" >ct.out
grep -q "^200 application/pkix-crl" ct.out || fail "delta-crl: $(cat ct.out)"
openssl crl -inform DER -in delta.der -text -noout | grep -q "Delta CRL Indicator" || fail "not a delta"

ocsp inter.pem "$inter" -cert leaf.pem
grep -q "leaf.pem: revoked" ocsp.out || fail "OCSP revoked: $(cat ocsp.out)"
grep -q "Reason: keyCompromise" ocsp.out || fail "OCSP reason: $(cat ocsp.out)"

# The GET form (RFC 6960 A.1), Base64 URL-encoded.
openssl ocsp -issuer inter.pem -cert leaf.pem -reqout req.der -no_nonce >/dev/null 2>&1
enc=$(base64 -w0 req.der | sed 's|/|%2F|g; s|+|%2B|g; s|=|%3D|g')
curl -sS -o get.der -w '%{http_code} %{content_type}' "$plain/pki/$inter/ocsp/$enc" >ct.out
grep -q "^200 application/ocsp-response" ct.out || fail "OCSP GET: $(cat ct.out)"
openssl ocsp -respin get.der -issuer inter.pem -cert leaf.pem -CAfile root.pem \
  -verify_other inter.pem -no_nonce >ocsp.out 2>&1 || fail "OCSP GET response: $(cat ocsp.out)"
grep -q "leaf.pem: revoked" ocsp.out || fail "OCSP GET: $(cat ocsp.out)"

# Garbage: malformedRequest in a 200 (RFC 6960 2.3); an unknown CA: 404.
curl -sS -o bad.der -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
  --data-binary 'garbage' "$plain/pki/$inter/ocsp" >ct.out
[[ $(cat ct.out) == 200 ]] || fail "OCSP garbage status: $(cat ct.out)"
{ openssl ocsp -respin bad.der -resp_text -noverify >ocsp.out 2>&1 || true; }
grep -qi "malformedrequest" ocsp.out || fail "OCSP garbage: not malformedRequest: $(cat ocsp.out)"
curl -sS -o bad.der -w '%{http_code}' "$plain/pki/$inter/ocsp/not-base64" >ct.out
[[ $(cat ct.out) == 200 ]] || fail "OCSP GET garbage status: $(cat ct.out)"
{ openssl ocsp -respin bad.der -resp_text -noverify >ocsp.out 2>&1 || true; }
grep -qi "malformedrequest" ocsp.out || fail "OCSP GET garbage: not malformedRequest: $(cat ocsp.out)"
curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/ocsp-request' \
  --data-binary @req.der "$plain/pki/99999/ocsp" >ct.out
[[ $(cat ct.out) == 404 ]] || fail "OCSP unknown CA: $(cat ct.out)"

# Hold and release.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l2.key \
  -subj "/CN=two.example" -out l2.csr 2>/dev/null
api POST /v1/pki/requests "$(csr_body "$inter" tls l2.csr)"
want 201
api POST "/v1/pki/requests/$(jq -r .id <<<"$body")/approve" "" "$officer"
want 200
s2=$(jq -r .serial <<<"$body")
jq -r .certificate_pem <<<"$body" >l2.pem
api POST "/v1/pki/certificates/$s2/release"
want 409 Conflict
api POST "/v1/pki/certificates/$s2/hold"
want 200
jqt '.status == "hold" and .reason == "certificateHold"'
api POST "/v1/pki/certificates/$s2/release"
want 200
jqt '.status == "good"'
api POST "/v1/pki/cas/$inter/crl?delta=true"
want 201
jqt '.delta == true and .number > 0 and (.next_update | test("Z$"))'
api POST "/v1/pki/cas/$inter/crl"
want 201
jqt '.delta == false'

# ---- an RSA root and leaf (auto approval) ----
api POST /v1/pki/cas '{"name":"root-rsa","kind":"root","key_type":"rsa-2048","subject":"CN=Test Root RSA","validity_days":3650}'
want 201
rsa=$(jq -r .id <<<"$body")
jq -r .certificate_pem <<<"$body" >rsa-root.pem
api POST "/v1/pki/cas/$rsa/profiles" '{"name":"auto","key_types":["rsa-2048"],"validity_days":30,"key_usage":["digitalSignature","keyEncipherment"],"extended_key_usage":["clientAuth"],"approval":"auto"}'
want 201
openssl req -new -newkey rsa:2048 -nodes -keyout rsa.key -subj "/CN=rsa.example" -out rsa.csr 2>/dev/null
api POST /v1/pki/requests "$(csr_body "$rsa" auto rsa.csr)"
want 201
jqt '.status == "issued" and .officer == "auto"'
jq -r .certificate_pem <<<"$body" >rsa-leaf.pem
rsa_serial=$(jq -r .serial <<<"$body")
openssl verify -CAfile rsa-root.pem rsa-leaf.pem | grep -q ": OK" || fail "RSA leaf"

# Another CA's serial is unknown to this responder.
ocsp inter.pem "$inter" -serial "0x$rsa_serial"
grep -q ": unknown" ocsp.out || fail "OCSP unknown: $(cat ocsp.out)"

# ---- bad inputs ----
printf -- '-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgcmVxdWVzdA==\n-----END CERTIFICATE REQUEST-----\n' >bad.csr
api POST /v1/pki/requests "$(csr_body "$inter" tls bad.csr)"
want 400 BadRequest 'CSR'
openssl req -in leaf.csr -outform DER -out leaf.csr.der
python3 - <<'PY'
d = bytearray(open("leaf.csr.der", "rb").read())
d[-3] ^= 0x01
open("mis.der", "wb").write(bytes(d))
PY
openssl req -inform DER -in mis.der -out mis.csr 2>/dev/null || { echo '-----BEGIN CERTIFICATE REQUEST-----'; base64 -w64 mis.der; echo '-----END CERTIFICATE REQUEST-----'; } >mis.csr
api POST /v1/pki/requests "$(csr_body "$inter" tls mis.csr)"
want 400 BadSignature "proof of possession"
openssl req -new -key leaf.key -subj "/CN=ext.example" -addext "nsComment=hello" -out ext.csr 2>/dev/null
api POST /v1/pki/requests "$(csr_body "$inter" tls ext.csr)"
want 400 BadRequest
grep -qi "extension" <<<"$(jq -r .error.message <<<"$body")" || fail "extension message: $body"
api POST /v1/pki/requests "$(csr_body "$inter" nope leaf.csr)"
want 400 BadRequest 'unknown profile'
api POST /v1/pki/requests "$(csr_body "$inter" tls rsa.csr)"
want 400 BadRequest
grep -qi "key type\|key_type\|type" <<<"$(jq -r .error.message <<<"$body")" || fail "key type message: $body"
api POST /v1/pki/requests '{"ca":1}'
want 400 BadRequest '"profile"'
api POST /v1/pki/cas '{"name":"x","kind":"leaf","subject":"CN=x","validity_days":1}'
want 400 BadRequest '"kind"'
api POST /v1/pki/cas '{"name":"x","kind":"root","key_type":"dsa","subject":"CN=x","validity_days":1}'
want 400 BadRequest '"key_type"'
api POST /v1/pki/cas '{"name":"x","kind":"intermediate","subject":"CN=x","validity_days":1}'
want 400 BadRequest '"parent"'
api POST /v1/pki/cas '{"name":"root-ec","kind":"root","subject":"CN=x","validity_days":1}'
want 409 Conflict
api POST /v1/pki/cas '{"name":"op","kind":"root","subject":"CN=x","validity_days":1}' "$operator"
[[ $status == 403 || $status == 400 ]] || fail "operator CA: $status $body"
api GET /v1/pki/certificates/ZZ
want 404 NotFound
api GET "/v1/pki/certificates/$serial?format=pdf"
want 400 BadRequest '"format"'

# ---- an external CA: key and CSR here, certificate later ----
api POST /v1/pki/cas '{"name":"ext","kind":"external","key_type":"ecdsa-p256","subject":"CN=Test External"}'
want 201
ext=$(jq -r .id <<<"$body")
jqt '(.csr_pem | startswith("-----BEGIN CERTIFICATE REQUEST-----")) and (has("certificate_pem") | not)'
api PUT "/v1/pki/cas/$ext/certificate" "$(jq -n --rawfile c leaf.pem '{certificate_pem:$c}')"
[[ $status == 400 ]] || fail "installing another key's certificate: $status $body"

# ---- trust anchors, and an external CA checked against one ----
# A root run elsewhere (openssl): trusted, not held.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout nat.key \
  -subj "/CN=National Root/O=Elsewhere" -days 3650 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign -out nat.pem 2>/dev/null
anchor_body() { jq -n --arg n "$1" --rawfile c "$2" '{name:$n,certificate_pem:$c}'; }
api POST /v1/pki/trust-anchors "$(anchor_body national nat.pem)" "$officer"
want 403 Forbidden
api POST /v1/pki/trust-anchors "$(anchor_body national nat.pem)"
want 201
anchor=$(jq -r .id <<<"$body")
fpr=$(openssl x509 -in nat.pem -outform DER | sha256sum | cut -d' ' -f1)
jqt ".name == \"national\" and .sha256_fingerprint == \"$fpr\" and (.subject | contains(\"National Root\"))"
api POST /v1/pki/trust-anchors "$(anchor_body again nat.pem)"
want 409 Conflict 'exists'
api POST /v1/pki/trust-anchors "$(anchor_body leaf leaf.pem)"
want 400 BadRequest 'self-issued'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ee.key \
  -subj "/CN=Not A CA" -days 30 -addext basicConstraints=critical,CA:FALSE -out ee.pem 2>/dev/null
api POST /v1/pki/trust-anchors "$(anchor_body ee ee.pem)"
want 400 BadRequest 'not a CA'
# One changed byte of the signature: the self-signature fails.
openssl x509 -in nat.pem -outform DER -out nat.der
python3 -c 'import sys; d=bytearray(open("nat.der","rb").read()); d[-5]^=1; open("natbad.der","wb").write(bytes(d))'
openssl x509 -inform DER -in natbad.der -out natbad.pem
api POST /v1/pki/trust-anchors "$(anchor_body bad natbad.pem)"
want 400 BadRequest 'self-signature'
api GET /v1/pki/trust-anchors "" "$officer"
want 200
jqt "[.trust_anchors[].id] == [$anchor]"
api GET "/v1/pki/trust-anchors/$anchor"
want 200
jqt '.certificate_pem | startswith("-----BEGIN CERTIFICATE-----")'
# The trust list: the anchors, then the key store's roots (EC, RSA); public next to the CRL.
curl -sS -o tl.pem -w '%{http_code} %{content_type}' --cacert "$tlsca" \
  -H "Authorization: Bearer $mgr" "$url/v1/pki/trust-list" >ct.out
grep -q "^200 application/pem-certificate-chain" ct.out || fail "trust list: $(cat ct.out)"
[[ $(grep -c "BEGIN CERTIFICATE" tl.pem) == 3 ]] || fail "trust list: $(grep -c BEGIN tl.pem) certificates"
openssl x509 -in tl.pem -noout -fingerprint -sha256 | tr -d ':' | grep -qi "$fpr" || fail "trust list: anchor first"
curl -sS -o tlp.pem -w '%{http_code}' "$plain/pki/$inter/trust-list" >ct.out
[[ $(cat ct.out) == 200 ]] && cmp -s tl.pem tlp.pem || fail "public trust list differs"

# The national root signs the external CA's request; installing it checks it under the anchor.
api GET "/v1/pki/cas/$ext"
jq -r .csr_pem <<<"$body" >ext.csr
printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n' >ca.ext
openssl x509 -req -in ext.csr -CA nat.pem -CAkey nat.key -CAcreateserial -days 365 \
  -extfile ca.ext -out ext.pem 2>/dev/null
# The same issuer name, another key: refused.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fake.key \
  -subj "/CN=National Root/O=Elsewhere" -days 30 -addext basicConstraints=critical,CA:TRUE -out fake.pem 2>/dev/null
openssl x509 -req -in ext.csr -CA fake.pem -CAkey fake.key -CAcreateserial -days 30 \
  -extfile ca.ext -out extfake.pem 2>/dev/null
api PUT "/v1/pki/cas/$ext/certificate" "$(jq -n --rawfile c extfake.pem '{certificate_pem:$c}')"
want 400 BadSignature 'trust anchor'
api PUT "/v1/pki/cas/$ext/certificate" "$(jq -n --rawfile c ext.pem '{certificate_pem:$c}')"
want 200
jqt ".trust_anchor == $anchor"
api GET "/v1/pki/cas/$ext"
jq -r .chain_pem <<<"$body" >ext-chain.pem
[[ $(grep -c "BEGIN CERTIFICATE" ext-chain.pem) == 2 ]] || fail "external chain: $(cat ext-chain.pem)"
api POST "/v1/pki/cas/$ext/profiles" '{"name":"srv","key_types":["ecdsa-p256"],"validity_days":30,"approval":"auto","kind":"sign"}'
want 201
jqt '.key_usage == ["digitalSignature","nonRepudiation"]'
api POST /v1/pki/requests "$(csr_body "$ext" srv l2.csr)"
want 201
jq -r .certificate_pem <<<"$body" >ext-leaf.pem
api GET "/v1/pki/certificates/$(jq -r .serial <<<"$body")"
jq -r .chain_pem <<<"$body" >ext-leaf-chain.pem
grep -q "$(sed -n 2p nat.pem)" ext-leaf-chain.pem || fail "the leaf's chain does not end with the anchor"
openssl verify -CAfile nat.pem -untrusted ext.pem ext-leaf.pem | grep -q ": OK" || fail "leaf under the national root"
api DELETE "/v1/pki/trust-anchors/$anchor"
want 409 Conflict 'chains to this trust anchor'
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout p.key \
  -subj "/CN=Partner Root" -days 30 -addext basicConstraints=critical,CA:TRUE -out partner.pem 2>/dev/null
api POST /v1/pki/trust-anchors "$(anchor_body partner partner.pem)"
want 201
partner=$(jq -r .id <<<"$body")
api DELETE "/v1/pki/trust-anchors/$partner"
want 204
api GET "/v1/pki/trust-anchors/$partner"
want 404 NotFound

# ---- sign-only and encrypt-only profiles ----
api POST "/v1/pki/cas/$inter/profiles" '{"name":"enc","key_types":["ecdsa-p256"],"validity_days":30,"key_usage":["digitalSignature"],"kind":"encrypt"}'
want 400 BadRequest 'encryption profile'
api POST "/v1/pki/cas/$inter/profiles" '{"name":"enc","key_types":["ed25519"],"validity_days":30,"kind":"encrypt"}'
want 400 BadRequest 'ed25519'
api POST "/v1/pki/cas/$inter/profiles" '{"name":"sig","key_types":["ecdsa-p256"],"validity_days":30,"key_usage":["keyAgreement"],"kind":"sign"}'
want 400 BadRequest 'signing profile'
api POST "/v1/pki/cas/$inter/profiles" '{"name":"enc","key_types":["ecdsa-p256"],"validity_days":30,"approval":"auto","kind":"encrypt"}'
want 201
jqt '.kind == "encrypt" and .key_usage == ["keyEncipherment","dataEncipherment","keyAgreement"]'
api POST /v1/pki/requests "$(csr_body "$inter" enc l2.csr)"
want 201
jq -r .certificate_pem <<<"$body" >enc.pem
openssl x509 -in enc.pem -noout -ext keyUsage >ku.txt
grep -q "Key Encipherment, Data Encipherment, Key Agreement" ku.txt || fail "encryption key usage: $(cat ku.txt)"
grep -qi "Digital Signature" ku.txt && fail "an encryption certificate may not sign: $(cat ku.txt)"
api PATCH "/v1/pki/cas/$inter/profiles/enc" '{"kind":"sign"}'
want 200
jqt '.kind == "sign" and .key_usage == ["digitalSignature","nonRepudiation"]'

# ---- a delegated OCSP responder ----
api POST "/v1/pki/cas/$inter/ocsp-responder" '{"validity_days":7}' "$officer"
want 403 Forbidden
api GET "/v1/pki/cas/$inter/ocsp-responder"
want 404 NotFound
api POST "/v1/pki/cas/$inter/ocsp-responder" '{"validity_days":7}'
want 200
jqt '(.ocsp_responder.key | length) > 0 and (.ocsp_responder.not_after | test("Z$"))'
rkey=$(jq -r .ocsp_responder.key <<<"$body")
curl -sS -o responder.pem --cacert "$tlsca" -H "Authorization: Bearer $mgr" \
  "$url/v1/pki/cas/$inter/ocsp-responder"
openssl x509 -in responder.pem -noout -text >responder.txt
grep -q "OCSP Signing" responder.txt || fail "responder EKU: $(cat responder.txt)"
grep -q "OCSP No Check" responder.txt || fail "responder nocheck: $(cat responder.txt)"
openssl verify -CAfile root.pem -untrusted inter.pem responder.pem | grep -q ": OK" || fail "responder chain"
# Signed by the responder now: openssl accepts it (issued by the CA, OCSPSigning) and the
# responder id is the responder key's hash.
ocsp inter.pem "$inter" -cert l2.pem -resp_text
grep -q "Response verify OK" ocsp.out || fail "delegated OCSP verify: $(cat ocsp.out)"
# (our subjectKeyIdentifier is that same SHA-1 of the key, RFC 5280 4.2.1.2 method 1)
rhash=$(openssl x509 -in responder.pem -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
grep -q "Responder Id: $rhash" ocsp.out || fail "responder id is not the responder's key ($rhash): $(cat ocsp.out)"
api GET "/v1/pki/certificates?ca=$inter&limit=100"
jqt '[.certificates[] | select(.subject | contains("OCSP Responder"))] | length == 1'
# A new key: the old one waits for deletion.
api POST "/v1/pki/cas/$inter/ocsp-responder" '{"new_key":true}'
want 200
[[ $(jq -r .ocsp_responder.key <<<"$body") != "$rkey" ]] || fail "new_key kept the key"
api GET "/v1/keys/$rkey"
jqt '.state == "pending-deletion"'
# Removed: the CA signs again.
api DELETE "/v1/pki/cas/$inter/ocsp-responder"
want 204
api DELETE "/v1/pki/cas/$inter/ocsp-responder"
want 404 NotFound
ocsp inter.pem "$inter" -cert l2.pem -resp_text
grep -q "Response verify OK" ocsp.out || fail "OCSP after removal: $(cat ocsp.out)"
grep -q "Responder Id: $rhash" ocsp.out && fail "still signed by the removed responder"
curl -sS --cacert "$tlsca" "$url/metrics" -o metrics.txt
grep -q "^keyhold_ocsp_cache_hits_total " metrics.txt || fail "metrics: $(grep ocsp metrics.txt)"

# ---- SM2 ----
api POST /v1/pki/cas '{"name":"root-sm2","kind":"root","key_type":"sm2","subject":"CN=Test Root SM2","validity_days":3650}'
want 201
sm2=$(jq -r .id <<<"$body")
jqt '.key_type == "sm2"'
jq -r .certificate_pem <<<"$body" >sm2-root.pem
api POST "/v1/pki/cas/$sm2/profiles" '{"name":"gm","key_types":["sm2"],"validity_days":365,"key_usage":["digitalSignature"],"approval":"auto"}'
want 201
openssl genpkey -algorithm SM2 -out sm2.key 2>/dev/null
openssl req -new -key sm2.key -sm3 -sigopt distid:1234567812345678 -subj "/CN=sm2.example" \
  -out sm2.csr 2>/dev/null
api POST /v1/pki/requests "$(csr_body "$sm2" gm sm2.csr)"
want 201
jqt '.status == "issued"'
jq -r .certificate_pem <<<"$body" >sm2-leaf.pem
openssl x509 -in sm2-leaf.pem -noout -text >sm2.txt
grep -q "SM2-with-SM3\|sm2sign-with-sm3\|SM2" sm2.txt || fail "SM2 leaf: $(head -20 sm2.txt)"
openssl x509 -in sm2-root.pem -noout -text | grep -q "SM2" || fail "SM2 root"
curl -sS -o sm2crl.der -w '%{http_code}' "$plain/pki/$sm2/crl" >ct.out
[[ $(cat ct.out) == 200 ]] || fail "SM2 CRL: $(cat ct.out)"

# ---- audit ----
api GET "/v1/audit?limit=1000"
want 200
for op in pki.ca.create pki.profile.create pki.profile.update pki.request.submit \
  pki.request.approve pki.certificate.issue pki.certificate.revoke pki.certificate.hold \
  pki.certificate.release pki.crl.generate pki.trust.add pki.trust.remove pki.ca.install \
  pki.ocsp_responder.issue pki.ocsp_responder.remove; do
  jq -e --arg op "$op" '[.records[] | select(.operation == $op)] | length > 0' <<<"$body" >/dev/null ||
    fail "no audit record of $op"
done
jq -e '[.records[] | select(.operation == "pki.certificate.revoke" and .result != "ok")] | length > 0' \
  <<<"$body" >/dev/null || fail "no audit record of a refused revocation"

echo "pki: ok"
