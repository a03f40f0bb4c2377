#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# EST (RFC 7030, PKI.md "EST") against the real keyholdd in development mode, driven by two
# independent clients: strongSwan's `pki --estca` / `pki --est` and curl with the openssl
# command line. An ECDSA root and an RSA root each serve a profile under an EST label; the
# ECDSA one is also the server's est_default_label. Checked: cacerts is the CA's certificate
# (certs-only, base64), csrattrs names the profile's key type, simpleenroll with HTTP Basic
# (an account's name and API token) issues a certificate that `openssl verify` accepts,
# simplereenroll with the certificate as TLS client certificate renews it under the same
# subject (another subject 400, a revoked certificate refused, a certificate of another CA
# refused), no or wrong credentials 401 with the Basic challenge, a bad CSR 400, and on a
# label that needs approval the 202 + Retry-After flow: the same CSR again finds the same
# request (one pending request in the list), an ra-officer approves it, and the same CSR then
# gets the certificate. serverkeygen answers the KMC's key pair, a CMS envelope that `openssl
# cms -decrypt` opens with the CSR's key, and its certificate. An SM2 CA serves an SM2 CSR (signed with the GM/T ID) over its label too.
set -euo pipefail

keyholdd=$1
source "$(dirname "$0")/lib.sh"
init_work est
command -v pki >/dev/null || fail "strongswan-pki is not installed (scripts/deps.sh)"
cat >"$work/keyholdd.json" <<'JSON'
{"est_default_label": "devices"}
JSON
start_keyholdd --config "$work/keyholdd.json"
url=https://127.0.0.1:$port
tlsca=$work/var/tls/ca.pem
mgr=$(cat "$work/var/dev-token")
cd "$work"

api() {
  local method=$1 path=$2 data=${3:-} tok=${4:-$mgr}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$tlsca" -X "$method")
  [[ $tok != - ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}
want() { [[ $status == "$1" ]] || fail "status $status, wanted $1: $body"; }

# est METHOD PATH [BODYFILE] [CURL ARGS...]: $status, headers in $work/hdr, body in $work/out.
est() {
  local method=$1 path=$2 file=${3:-}
  shift 3 || shift $#
  local args=(-sS -D "$work/hdr" -o "$work/out" -w '%{http_code}' --cacert "$tlsca" -X "$method")
  [[ -n $file ]] && args+=(-H 'Content-Type: application/pkcs10' --data-binary "@$file")
  status=$(curl "${args[@]}" "$@" "$url/.well-known/est$path") || fail "curl $method $path"
  body=$(cat "$work/out")
}
hdr() { grep -i "^$1:" "$work/hdr" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }
# certs-only base64 body -> PEM certificates in $1
p7_certs() { base64 -d "$work/out" | openssl pkcs7 -inform DER -print_certs -out "$1" 2>err ||
  fail "not a certs-only message: $body"; }
csr() { # csr NAME SUBJECT [KEYOPTS]: NAME.key, NAME.csr (base64 DER, as EST sends it)
  openssl req -new -newkey "${3:-ec}" ${4:+-pkeyopt "$4"} -nodes -keyout "$1.key" -subj "$2" \
    -outform DER -out "$1.der" 2>/dev/null
  openssl base64 -in "$1.der" -out "$1.csr"
}

# ---- CAs, profiles, accounts ----
api POST /v1/pki/cas '{"name":"est-ec","kind":"root","key_type":"ecdsa-p256","subject":"CN=EST Root EC,O=keyhold","validity_days":3650}'
want 201
ec=$(jq -r .id <<<"$body")
jq -r .certificate_pem <<<"$body" >ec-ca.pem
api POST /v1/pki/cas '{"name":"est-rsa","kind":"root","key_type":"rsa-2048","subject":"CN=EST Root RSA,O=keyhold","validity_days":3650}'
want 201
rsa=$(jq -r .id <<<"$body")
jq -r .certificate_pem <<<"$body" >rsa-ca.pem
api POST "/v1/pki/cas/$ec/profiles" '{"name":"device","key_types":["ecdsa-p256"],"validity_days":30,"extended_key_usage":["clientAuth"],"approval":"auto","kind":"sign","est_label":"devices","est_auth":["basic","cert"]}'
want 201
api POST "/v1/pki/cas/$ec/profiles" '{"name":"server","key_types":["ecdsa-p256","rsa-2048"],"validity_days":30,"approval":"required","kind":"sign","est_label":"servers","est_auth":["basic","cert"]}'
want 201
api POST "/v1/pki/cas/$rsa/profiles" '{"name":"rsa-device","key_types":["rsa-2048"],"validity_days":30,"extended_key_usage":["clientAuth"],"approval":"auto","kind":"sign","est_label":"rsa"}'
want 201
api POST "/v1/pki/cas/$ec/profiles" '{"name":"taken","key_types":["ecdsa-p256"],"validity_days":30,"est_label":"rsa"}'
want 409
api POST /v1/keystores/1/accounts '{"name":"device1","policies":["kms-user"]}'
want 201
devtok=$(jq -r .token <<<"$body")
api POST /v1/keystores/1/accounts '{"name":"officer","policies":["ra-officer"]}'
want 201
officer=$(jq -r .token <<<"$body")

# ---- cacerts, csrattrs ----
for path in /devices/cacerts /cacerts; do
  est GET "$path"
  [[ $status == 200 ]] || fail "cacerts $path: $status $body"
  [[ $(hdr Content-Type) == application/pkcs7-mime* ]] || fail "cacerts type: $(hdr Content-Type)"
  [[ $(hdr Content-Transfer-Encoding) == base64 ]] || fail "cacerts without the base64 header"
  p7_certs cacerts.pem
  cmp <(openssl x509 -in cacerts.pem -outform DER) <(openssl x509 -in ec-ca.pem -outform DER) ||
    fail "cacerts $path is not the CA's certificate"
done
est GET /rsa/cacerts
p7_certs rsa-cacerts.pem
cmp <(openssl x509 -in rsa-cacerts.pem -outform DER) <(openssl x509 -in rsa-ca.pem -outform DER) ||
  fail "the rsa label does not serve its CA"
est GET /nolabel/cacerts
[[ $status == 404 ]] || fail "unknown label: $status"

est GET /devices/csrattrs
[[ $status == 200 && $(hdr Content-Type) == application/csrattrs ]] || fail "csrattrs: $status $(hdr Content-Type)"
base64 -d out | openssl asn1parse -inform DER >attrs.txt || fail "csrattrs does not parse"
grep -q id-ecPublicKey attrs.txt && grep -q prime256v1 attrs.txt && grep -q ecdsa-with-SHA256 attrs.txt ||
  fail "csrattrs: $(cat attrs.txt)"
est GET /servers/csrattrs
base64 -d out | openssl asn1parse -inform DER >attrs.txt
grep -q rsaEncryption attrs.txt && grep -q sha256WithRSAEncryption attrs.txt || fail "csrattrs rsa: $(cat attrs.txt)"

# ---- strongSwan: pki --estca, pki --est with Basic ----
# strongSwan 5.9 always asks for <url>/.well-known/est/<operation>, with no label: it talks to
# the default label ("devices").
pki --estca --url "$url" --cacert "$tlsca" --caout sw-ca.der --outform der \
  --force >sw.log 2>&1 || fail "pki --estca: $(cat sw.log)"
ls sw-ca*.der >/dev/null 2>&1 || fail "pki --estca stored nothing: $(cat sw.log)"
cmp "$(ls sw-ca*.der | head -1)" <(openssl x509 -in ec-ca.pem -outform DER) ||
  fail "pki --estca got another certificate"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sw.key \
  -subj "/CN=sw-device/O=keyhold" -outform DER -out sw.csr 2>/dev/null
pki --est --url "$url" --in sw.csr --cacert "$tlsca" --cacert ec-ca.pem \
  --userpass "device1:$devtok" --outform pem >sw.crt 2>sw.log || fail "pki --est: $(cat sw.log)"
openssl verify -CAfile ec-ca.pem sw.crt >/dev/null || fail "strongSwan's certificate does not verify"
openssl x509 -in sw.crt -noout -subject | grep -q "CN = sw-device" || fail "subject of sw.crt"
# strongSwan re-enrolls with its certificate as TLS client certificate.
openssl req -new -key sw.key -subj "/CN=sw-device/O=keyhold" -outform DER -out sw-re.csr 2>/dev/null
pki --est --url "$url" --in sw-re.csr --cacert "$tlsca" --cacert ec-ca.pem \
  --cert sw.crt --key sw.key --outform pem >sw-re.crt 2>sw.log || fail "pki --est re-enroll: $(cat sw.log)"
openssl verify -CAfile ec-ca.pem sw-re.crt >/dev/null || fail "strongSwan's renewed certificate"
[[ $(openssl x509 -in sw-re.crt -noout -serial) != $(openssl x509 -in sw.crt -noout -serial) ]] ||
  fail "re-enrollment gave the old certificate"

# ---- curl: simpleenroll with Basic ----
csr dev1 "/CN=dev1.example/O=keyhold" ec ec_paramgen_curve:P-256
est POST /devices/simpleenroll dev1.csr -u "device1:$devtok"
[[ $status == 200 ]] || fail "simpleenroll: $status $body"
[[ $(hdr Content-Type) == "application/pkcs7-mime; smime-type=certs-only" ]] || fail "type $(hdr Content-Type)"
p7_certs dev1.pem
openssl verify -CAfile ec-ca.pem dev1.pem >/dev/null || fail "dev1 does not verify"
cmp <(openssl x509 -in dev1.pem -noout -pubkey) <(openssl pkey -in dev1.key -pubout) || fail "dev1 key"
# RFC 8951: base64 without line breaks, and DER, are read too.
tr -d '\n' <dev1.csr >flat.csr
est POST /devices/simpleenroll flat.csr -u "device1:$devtok"
[[ $status == 200 ]] || fail "flat base64: $status $body"
est POST /devices/simpleenroll dev1.der -u "device1:$devtok"
[[ $status == 200 ]] || fail "DER body: $status $body"
# RSA through its own label.
csr rsa1 "/CN=rsa1.example" rsa rsa_keygen_bits:2048
est POST /rsa/simpleenroll rsa1.csr -u "device1:$devtok"
[[ $status == 200 ]] || fail "rsa simpleenroll: $status $body"
p7_certs rsa1.pem
openssl verify -CAfile rsa-ca.pem rsa1.pem >/dev/null || fail "rsa1 does not verify"

# ---- refusals ----
est POST /devices/simpleenroll dev1.csr
[[ $status == 401 ]] || fail "no auth: $status"
[[ $(hdr WWW-Authenticate) == 'Basic realm="keyhold EST"' ]] || fail "challenge: $(hdr WWW-Authenticate)"
est POST /devices/simpleenroll dev1.csr -u "device1:kh_$(printf '0%.0s' {1..64})"
[[ $status == 401 ]] || fail "wrong token: $status"
est POST /devices/simpleenroll dev1.csr -u "officer:$devtok"
[[ $status == 401 ]] || fail "another account's name: $status"
printf 'bm90IGEgY3Ny\n' >bad.csr
est POST /devices/simpleenroll bad.csr -u "device1:$devtok"
[[ $status == 400 && $(hdr Content-Type) == text/plain* ]] || fail "bad CSR: $status $(hdr Content-Type) $body"
csr wrongtype "/CN=rsa-on-ec" rsa rsa_keygen_bits:2048
est POST /devices/simpleenroll wrongtype.csr -u "device1:$devtok"
[[ $status == 400 ]] && grep -q "key type" <<<"$body" || fail "key type: $status $body"
est POST /devices/simpleenroll "" -u "device1:$devtok" -H 'Content-Type: text/html' --data-binary @dev1.csr
[[ $status == 415 ]] || fail "content type: $status"

# ---- curl: simplereenroll with the certificate ----
csr dev1b "/CN=dev1.example/O=keyhold" ec ec_paramgen_curve:P-256
est POST /devices/simplereenroll dev1b.csr --cert dev1.pem --key dev1.key
[[ $status == 200 ]] || fail "simplereenroll: $status $body"
p7_certs dev1b.pem
openssl verify -CAfile ec-ca.pem dev1b.pem >/dev/null || fail "dev1b does not verify"
[[ $(openssl x509 -in dev1b.pem -noout -subject) == $(openssl x509 -in dev1.pem -noout -subject) ]] ||
  fail "re-enrollment changed the subject"
cmp <(openssl x509 -in dev1b.pem -noout -pubkey) <(openssl pkey -in dev1b.key -pubout) || fail "dev1b key"
api GET "/v1/pki/certificates/$(openssl x509 -in dev1b.pem -noout -serial | cut -d= -f2)" "" "$devtok"
want 200
csr other "/CN=someone-else" ec ec_paramgen_curve:P-256
est POST /devices/simplereenroll other.csr --cert dev1.pem --key dev1.key
[[ $status == 400 ]] && grep -q subject <<<"$body" || fail "other subject: $status $body"
est POST /devices/simplereenroll dev1b.csr -u "device1:$devtok"
[[ $status == 401 ]] || fail "re-enrollment by Basic: $status"
est POST /devices/simplereenroll dev1b.csr --cert rsa1.pem --key rsa1.key
[[ $status == 401 ]] || fail "certificate of another CA: $status $body"
# Enrollment by certificate (est_auth has "cert").
csr dev1c "/CN=dev1c.example" ec ec_paramgen_curve:P-256
est POST /devices/simpleenroll dev1c.csr --cert dev1b.pem --key dev1b.key
[[ $status == 200 ]] || fail "simpleenroll by certificate: $status $body"
# The rsa label allows Basic only.
csr rsa2 "/CN=rsa2.example" rsa rsa_keygen_bits:2048
est POST /rsa/simpleenroll rsa2.csr --cert rsa1.pem --key rsa1.key
[[ $status == 401 ]] || fail "certificate on a Basic-only label: $status"
# A revoked certificate renews nothing.
api POST "/v1/pki/certificates/$(openssl x509 -in dev1.pem -noout -serial | cut -d= -f2)/revoke" '{"reason":"keyCompromise"}'
want 200
est POST /devices/simplereenroll dev1b.csr --cert dev1.pem --key dev1.key
[[ $status == 403 ]] && grep -q revoked <<<"$body" || fail "revoked certificate: $status $body"

# ---- approval: 202, the same request, approval, the certificate ----
csr srv "/CN=srv.example" ec ec_paramgen_curve:P-256
est POST /servers/simpleenroll srv.csr -u "device1:$devtok"
[[ $status == 202 ]] || fail "pending: $status $body"
[[ $(hdr Retry-After) =~ ^[0-9]+$ ]] || fail "Retry-After: $(hdr Retry-After)"
est POST /servers/simpleenroll srv.csr -u "device1:$devtok"
[[ $status == 202 ]] || fail "pending again: $status $body"
api GET "/v1/pki/requests?status=pending&ca=$ec" "" "$officer"
want 200
[[ $(jq '[.requests[] | select(.profile == "server")] | length' <<<"$body") == 1 ]] || fail "requests: $body"
req=$(jq -r '.requests[] | select(.profile == "server") | .id' <<<"$body")
api POST "/v1/pki/requests/$req/approve" "" "$officer"
want 200
est POST /servers/simpleenroll srv.csr -u "device1:$devtok"
[[ $status == 200 ]] || fail "after approval: $status $body"
p7_certs srv.pem
openssl verify -CAfile ec-ca.pem srv.pem >/dev/null || fail "srv does not verify"
[[ $(openssl x509 -in srv.pem -noout -serial | cut -d= -f2) == $(jq -r .serial <<<"$(api GET "/v1/pki/requests/$req" "" "$officer"; echo "$body")") ]] ||
  fail "the answer is not the approved request's certificate"
# A rejected request answers with an error.
csr srv2 "/CN=srv2.example" ec ec_paramgen_curve:P-256
est POST /servers/simpleenroll srv2.csr -u "device1:$devtok"
[[ $status == 202 ]] || fail "pending 2: $status"
api GET "/v1/pki/requests?status=pending&ca=$ec" "" "$officer"
req2=$(jq -r '.requests[0].id' <<<"$body")
api POST "/v1/pki/requests/$req2/reject" '{"reason":"not ours"}' "$officer"
want 200
est POST /servers/simpleenroll srv2.csr -u "device1:$devtok"
[[ $status == 403 ]] && grep -q "not ours" <<<"$body" || fail "rejected: $status $body"

# ---- serverkeygen: the KMC makes the key pair, enveloped to the CSR's key ----
csr kg "/CN=kg.example" ec ec_paramgen_curve:P-256
est POST /devices/serverkeygen kg.csr -u "device1:$devtok"
[[ $status == 200 ]] || fail "serverkeygen: $status $body"
[[ $(hdr Content-Type) == "multipart/mixed; boundary=est-keyhold-part" ]] || fail "type $(hdr Content-Type)"
tr -d '\r' <out | awk '
  /^--est-keyhold-part/ { part++; head = 1; next }
  head && /^$/ { head = 0; next }
  head { print > ("head" part ".txt"); next }
  part == 1 { print > "kg-key.b64" }
  part == 2 { print > "kg-cert.b64" }'
grep -qx 'Content-Type: application/pkcs7-mime; smime-type=server-generated-key' head1.txt ||
  fail "key part: $(cat head1.txt)"
grep -qx 'Content-Type: application/pkcs7-mime; smime-type=certs-only' head2.txt || fail "cert part: $(cat head2.txt)"
base64 -d kg-key.b64 >kg-key.der
openssl cms -decrypt -inform DER -in kg-key.der -inkey kg.key -out kg-p8.der 2>err ||
  fail "the key part does not open with the CSR's key"
base64 -d kg-cert.b64 | openssl pkcs7 -inform DER -print_certs -out kg.pem 2>err || fail "cert part"
openssl verify -CAfile ec-ca.pem kg.pem >/dev/null || fail "kg does not verify"
cmp <(openssl pkey -inform DER -in kg-p8.der -pubout) <(openssl x509 -in kg.pem -noout -pubkey) ||
  fail "the delivered private key is not the certificate's"
cmp -s <(openssl pkey -in kg.key -pubout) <(openssl x509 -in kg.pem -noout -pubkey) &&
  fail "serverkeygen certified the CSR's own key"
# On the approval label: 202 like simpleenroll.
csr kg2 "/CN=kg2.example" ec ec_paramgen_curve:P-256
est POST /servers/serverkeygen kg2.csr -u "device1:$devtok"
[[ $status == 202 ]] || fail "serverkeygen pending: $status $body"

# ---- SM2: a CA, its label, an SM2 CSR (with the GM/T ID) enrolled over Basic ----
api POST /v1/pki/cas '{"name":"est-sm2","kind":"root","key_type":"sm2","subject":"CN=EST Root SM2,O=keyhold","validity_days":3650}'
want 201
sm2=$(jq -r .id <<<"$body")
jq -r .certificate_pem <<<"$body" >sm2-ca.pem
api POST "/v1/pki/cas/$sm2/profiles" '{"name":"gm","key_types":["sm2"],"validity_days":30,"kind":"sign","est_label":"gm"}'
want 201
est GET /gm/csrattrs
base64 -d out | openssl asn1parse -inform DER >attrs.txt
grep -q ':sm2$' attrs.txt && grep -q ':SM2-with-SM3$' attrs.txt ||
  fail "csrattrs sm2: $(cat attrs.txt)"
est GET /gm/cacerts
p7_certs gm-cacerts.pem
cmp <(openssl x509 -in gm-cacerts.pem -outform DER) <(openssl x509 -in sm2-ca.pem -outform DER) ||
  fail "the gm label does not serve the SM2 CA"
openssl genpkey -algorithm SM2 -out gm.key 2>/dev/null
openssl req -new -key gm.key -sm3 -sigopt distid:1234567812345678 -subj "/CN=gm.example.cn" \
  -outform DER -out gm.der 2>/dev/null
base64 gm.der >gm.csr
est POST /gm/simpleenroll gm.csr -u "device1:$devtok"
[[ $status == 200 ]] || fail "sm2 simpleenroll: $status $body"
p7_certs gm.pem
openssl x509 -in gm.pem -noout -issuer | grep -q "EST Root SM2" || fail "gm issuer"
cmp <(openssl x509 -in gm.pem -noout -pubkey) <(openssl pkey -in gm.key -pubout) || fail "gm key"

echo "est: ok"
