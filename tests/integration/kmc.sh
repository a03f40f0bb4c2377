#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Dual certificates and the key management centre (docs/dual-certificates.md) against the real
# keyholdd in development mode, driven with curl and the real CLI: an SM2 CA with an encryption
# profile and a signing profile whose dual_profile it is (an RA officer approves); users submit
# CSRs made with openssl; each fetches the envelope of the encryption private key the KMC made.
# Envelopes are opened without keyhold's envelope code: SKF and GM/T 0009 field by field by
# kmc_check (SM2-decrypt with the user's signing key, SM4-ECB), CMS by `openssl cms -decrypt`,
# and the private key must be the one of the encryption certificate the server issued. Then a
# key update (the old certificate revoked as superseded, its pair in history), the archive and
# pools, a recovery approved by 2 of 3 recovery officers (refused before, by the same officer
# twice and by the requester), a recovery refused, the audit records and /metrics.
#
#   kmc.sh KEYHOLDD KEYHOLD KMC_CHECK
set -euo pipefail

keyholdd=$1
keyhold=$2
check=$3
source "$(dirname "$0")/lib.sh"
init_work kmc
start_keyholdd
url=https://127.0.0.1:$port
tlsca=$work/var/tls/ca.pem
mgr=$(cat "$work/var/dev-token") # kms-manager of the development key store (id 1)
operator=$(cat "$work/var/operator-token")
cd "$work"

export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
unset KEYHOLD_TOKEN KEYHOLD_TOKEN_FILE KEYHOLD_CONFIG KEYHOLD_ADDR KEYHOLD_CA_FILE
mkdir -p "$HOME"
export KEYHOLD_ADDR=$url KEYHOLD_CA_FILE=$tlsca KEYHOLD_TOKEN_FILE=$work/token

# api METHOD PATH [JSON] [TOKEN]: the status in $status, the answer in $body.
api() {
  local method=$1 path=$2 data=${3:-} tok=${4:-$mgr}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$tlsca" -X "$method")
  [[ $tok != - ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}
# want STATUS [CODE [MESSAGE PART]]
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
# kh TOKEN ARGS...: keyhold --json ARGS as the account of TOKEN (from a file, as tokens should
# travel), the answer in $body.
kh() {
  printf '%s\n' "$1" >"$work/token"
  shift
  "$keyhold" --json "$@" >"$work/out" 2>"$work/err" || fail "keyhold $*"
  body=$(cat "$work/out")
}
# khf TOKEN ARGS...: keyhold ARGS (writing files with -o).
khf() {
  printf '%s\n' "$1" >"$work/token"
  shift
  "$keyhold" "$@" >"$work/out" 2>"$work/err" || fail "keyhold $*"
}
account() { # account NAME POLICY: prints the new account's token
  api POST /v1/keystores/1/accounts "{\"name\":\"$1\",\"policies\":[\"$2\"]}"
  want 201
  jq -r .token <<<"$body"
}
sm2_csr() { # sm2_csr NAME CN: NAME.key and NAME.csr (SM3 with the GM/T ID)
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out "$1.key" 2>/dev/null ||
    fail "SM2 key $1"
  openssl req -new -key "$1.key" -subj "/CN=$2/O=Example/C=CN" -sm3 \
    -sigopt distid:1234567812345678 -out "$1.csr" 2>/dev/null || fail "SM2 CSR $1"
}
cert_of() { # cert_of SERIAL FILE: the certificate's PEM
  api GET "/v1/pki/certificates/$1"
  want 200
  jq -r .pem <<<"$body" >"$2"
  grep -q 'BEGIN CERTIFICATE' "$2" || fail "no certificate $1: $body"
}
submit() { # submit TOKEN CA PROFILE CSR [FORM]: the request in $body
  local extra=()
  [[ -n ${5:-} ]] && extra=(--envelope-form "$5")
  kh "$1" pki request submit "$2" "$3" "$4" "${extra[@]}"
}
# open_cms ENVELOPE KEY CERT: openssl cms -decrypt with KEY, and the PKCS#8 inside must hold the
# private half of CERT's public key.
open_cms() {
  openssl cms -decrypt -inform DER -in "$1" -inkey "$2" -binary -out "$1.p8" 2>"$work/err" ||
    fail "openssl cms -decrypt $1"
  openssl pkey -inform DER -in "$1.p8" -pubout -out "$1.pub" 2>"$work/err" ||
    fail "the content of $1 is no PKCS#8 private key"
  openssl x509 -in "$3" -pubkey -noout >"$3.pub"
  cmp -s "$1.pub" "$3.pub" || fail "$1 holds another key than $3: $(cat "$1.pub" "$3.pub")"
}

# ---- accounts: the kms-manager is the development token ----
user=$(account alice kms-user)
user2=$(account bob kms-user)
ra=$(account ra-carol ra-officer)
rec1=$(account rec-dan recovery-officer)
rec2=$(account rec-erin recovery-officer)
rec3=$(account rec-frank recovery-officer)

# ---- an SM2 CA, an encryption profile and a signing profile that comes with it ----
kh "$mgr" pki ca create gm-root --kind root --key-type sm2 \
  --subject 'CN=Example SM2 Root CA,O=Example,C=CN' --validity-days 3650
sm2ca=$(jq -r .id <<<"$body")
kh "$mgr" pki profile create "$sm2ca" gm-enc --key-type sm2 --validity-days 365 --kind encrypt
kh "$mgr" pki profile create "$sm2ca" gm-sign --key-type sm2 --validity-days 365 --kind sign \
  --key-usage digitalSignature --approval required --dual-profile gm-enc
jqt '.dual_profile == "gm-enc" and .approval == "required" and .kind == "sign"'
# The twin must be an encryption profile of the same CA.
kh "$mgr" pki profile create "$sm2ca" gm-enc2 --key-type sm2 --validity-days 365 --kind sign
api PATCH "/v1/pki/cas/$sm2ca/profiles/gm-sign" '{"dual_profile":"gm-enc2"}'
want 400

# ---- the user's request: pending, no envelope until approved ----
sm2_csr alice 'alice.example.cn'
submit "$user" "$sm2ca" gm-sign alice.csr
jqt '.status == "pending" and (has("encryption_serial") | not)'
req=$(jq -r .id <<<"$body")
api GET "/v1/pki/requests/$req/envelope" "" "$user"
want 409 Conflict "pending"
api POST "/v1/pki/requests/$req/approve" "" "$ra"
want 200
jqt '.status == "issued" and .envelope_form == "skf" and .envelope_ready == true'
sign_serial=$(jq -r .serial <<<"$body")
enc_serial=$(jq -r .encryption_serial <<<"$body")
[[ -n $enc_serial && $enc_serial != null && $enc_serial != "$sign_serial" ]] ||
  fail "no encryption serial: $body"
# The envelope is the submitter's alone.
api GET "/v1/pki/requests/$req/envelope" "" "$ra"
want 403 Forbidden "only the submitter"
api GET "/v1/pki/requests/$req/envelope" "" "$user2"
want 403 Forbidden
api GET "/v1/pki/requests/999999/envelope" "" "$user"
want 404 NotFound
api GET "/v1/pki/requests/$req/envelope" "" "$user"
want 200
jqt '.form == "skf" and (.envelope | length) > 0'
jq -r .envelope <<<"$body" | base64 -d >alice-api.env
khf "$user" pki envelope "$req" -o alice.env
[[ $(stat -c %s alice.env) == 388 ]] || fail "SKF envelope of $(stat -c %s alice.env) bytes"
[[ $(stat -c %a alice.env) == 600 ]] || fail "envelope file mode $(stat -c %a alice.env)"
cmp -s alice.env alice-api.env || fail "keyhold pki envelope wrote other bytes than the API sent"

cert_of "$enc_serial" alice-enc.pem
cert_of "$sign_serial" alice-sign.pem
openssl x509 -in alice-enc.pem -noout -ext keyUsage | grep -q 'Key Encipherment' ||
  fail "encryption certificate without keyEncipherment: $(openssl x509 -in alice-enc.pem -noout -text)"
# The signing certificate is for the CSR's key; the encryption one is not.
openssl pkey -in alice.key -pubout -out alice.pub 2>/dev/null
openssl x509 -in alice-sign.pem -pubkey -noout | cmp -s - alice.pub || fail "signing cert key"
openssl x509 -in alice-enc.pem -pubkey -noout | cmp -s - alice.pub &&
  fail "the encryption certificate carries the signing key"
"$check" skf alice.env alice.key alice-enc.pem >check.out 2>&1 || fail "SKF: $(cat check.out)"
grep -qx 'skf ok: the private key matches the certificate' check.out || fail "$(cat check.out)"
# The checker must refuse: another recipient key, and another certificate.
sm2_csr other 'other.example.cn'
"$check" skf alice.env other.key alice-enc.pem >check.out 2>&1 &&
  fail "another key opened the envelope: $(cat check.out)"
"$check" skf alice.env alice.key alice-sign.pem >check.out 2>&1 &&
  fail "the envelope matched the signing certificate: $(cat check.out)"

# ---- the GM/T 0009 form, chosen at submission ----
sm2_csr bob 'bob.example.cn'
submit "$user2" "$sm2ca" gm-sign bob.csr gmt0009
jqt '.envelope_form == "gmt0009"'
bobreq=$(jq -r .id <<<"$body")
api POST "/v1/pki/requests/$bobreq/approve" "" "$ra"
want 200
cert_of "$(jq -r .encryption_serial <<<"$body")" bob-enc.pem
khf "$user2" pki envelope "$bobreq" -o bob.env
"$check" gmt0009 bob.env bob.key bob-enc.pem >check.out 2>&1 || fail "GM/T 0009: $(cat check.out)"
# A form the key cannot open is refused at submission.
api POST /v1/pki/requests "$(jq -n --argjson ca "$sm2ca" --rawfile csr bob.csr \
  '{ca:$ca,profile:"gm-sign",csr:$csr,envelope_form:"cms"}')" "$user2"
want 400 BadRequest
api POST /v1/pki/requests "$(jq -n --argjson ca "$sm2ca" --rawfile csr bob.csr \
  '{ca:$ca,profile:"gm-sign",csr:$csr,envelope_form:"pkcs12"}')" "$user2"
want 400 BadRequest '"envelope_form"'

# ---- ECDSA P-256 CA: a P-256 user and an RSA-2048 user, CMS opened by openssl ----
kh "$mgr" pki ca create ec-root --kind root --key-type ecdsa-p256 \
  --subject 'CN=Example EC Root CA,O=Example' --validity-days 3650
ecca=$(jq -r .id <<<"$body")
kh "$mgr" pki profile create "$ecca" enc --key-type ecdsa-p256 --key-type rsa-2048 \
  --validity-days 365 --kind encrypt
kh "$mgr" pki profile create "$ecca" sign --key-type ecdsa-p256 --key-type rsa-2048 \
  --validity-days 365 --kind sign --key-usage digitalSignature --approval required \
  --dual-profile enc
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl req -new -key ec.key -subj '/CN=ec.example' -out ec.csr 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key 2>/dev/null
openssl req -new -key rsa.key -subj '/CN=rsa.example' -out rsa.csr 2>/dev/null
for who in ec rsa; do
  submit "$user" "$ecca" sign "$who.csr"
  jqt '.status == "pending"'
  r=$(jq -r .id <<<"$body")
  api POST "/v1/pki/requests/$r/approve" "" "$ra"
  want 200
  jqt '.envelope_form == "cms" and .envelope_ready == true'
  cert_of "$(jq -r .encryption_serial <<<"$body")" "$who-enc.pem"
  khf "$user" pki envelope "$r" -o "$who.env"
  open_cms "$who.env" "$who.key" "$who-enc.pem"
done
openssl x509 -in rsa-enc.pem -noout -text | grep -q 'Public-Key: (2048 bit)' ||
  fail "the RSA user's encryption certificate is not RSA-2048"
openssl x509 -in ec-enc.pem -noout -text | grep -q 'NIST CURVE: P-256' ||
  fail "the P-256 user's encryption certificate is not P-256"
# The CMS envelope must not open with another key.
openssl cms -decrypt -inform DER -in rsa.env -inkey ec.key -binary -out /dev/null 2>/dev/null &&
  fail "another key opened the RSA user's envelope"

# ---- key update: a new pair and certificate, the old one revoked and in history ----
api POST "/v1/pki/requests/$req/update-encryption" "" "$user2"
want 403 Forbidden
kh "$user" pki update-encryption "$req"
new_serial=$(jq -r .encryption_serial <<<"$body")
[[ -n $new_serial && $new_serial != null && $new_serial != "$enc_serial" ]] ||
  fail "the update kept the serial: $body"
jqt ".serial == \"$sign_serial\" and .envelope_ready == true"
api GET "/v1/pki/certificates/$enc_serial/status"
want 200
jqt '.status == "revoked" and .reason == "superseded"'
api GET "/v1/pki/certificates/$new_serial/status"
want 200
jqt '.status == "good"'
cert_of "$new_serial" alice-enc2.pem
khf "$user" pki envelope "$req" -o alice2.env
"$check" skf alice2.env alice.key alice-enc2.pem >check.out 2>&1 || fail "updated: $(cat check.out)"
"$check" skf alice2.env alice.key alice-enc.pem >check.out 2>&1 &&
  fail "the updated envelope holds the old key"
# A request without a dual profile has nothing to update.
api POST "/v1/pki/requests/999999/update-encryption" "" "$user"
want 404 NotFound

# ---- the archive and the pools ----
api GET "/v1/pki/kmc/keys?state=history" "" "$operator"
want 200
api GET "/v1/pki/kmc/keys?state=history"
want 200
jqt "[.keys[] | select(.serial == \"$enc_serial\" and .state == \"history\" and .history_reason == \"updated\" and .algorithm == \"sm2\" and (.retain_until | test(\"Z$\")))] | length == 1"
old_key=$(jq -r ".keys[] | select(.serial == \"$enc_serial\") | .id" <<<"$body")
# Retention: ten years (3650 days) from when it left use, by default.
jq -e --arg s "$enc_serial" '.keys[] | select(.serial == $s) |
  ((.retain_until | fromdateiso8601) - (.history_at | fromdateiso8601)) == 3650 * 86400' \
  <<<"$body" >/dev/null || fail "retention is not 3650 days: $body"
api GET "/v1/pki/kmc/keys/$old_key"
want 200
jqt ".id == $old_key and .state == \"history\" and .ca == $sm2ca and .request == $req and .keystore == 1"
api GET "/v1/pki/kmc/keys?state=in_use&limit=1"
want 200
jqt '(.keys | length) == 1 and (.next | length) > 0 and .keys[0].state == "in_use"'
kh "$rec1" pki kmc keys --state in_use
jq -e "[.keys[] | select(.serial == \"$new_serial\")] | length == 1" <<<"$body" >/dev/null ||
  fail "recovery officers read the archive: $body"
api GET "/v1/pki/kmc/keys?state=lost"
want 400 BadRequest '"state"'
api GET "/v1/pki/kmc/keys" "" "$user"
want 403 Forbidden
api GET "/v1/pki/kmc/keys/$old_key" "" "$user"
want 403 Forbidden
api GET /v1/pki/kmc/keys/999999
want 404 NotFound
api GET /v1/pki/kmc/pool
want 200
jqt '.size == 64 and ([.pools[].algorithm] == ["sm2","ecdsa-p256","rsa-2048"]) and ([.pools[].spare | type] == ["number","number","number"])'
api GET /v1/pki/kmc/pool "" "$operator"
want 200
api GET /v1/pki/kmc/pool "" "$user"
want 403 Forbidden
kh "$mgr" pki kmc pool
jqt '.pools | length == 3'

# ---- recovery of the archived pair, to a new key, by 2 of 3 recovery officers ----
sm2_csr alice-new 'alice.example.cn'
kh "$user" pki recovery request --serial "$enc_serial" --reason 'laptop lost' --csr alice-new.csr
jqt ".status == \"pending\" and .quorum == 2 and .approvals == 0 and .form == \"skf\" and .kmc_key == $old_key and .requester != \"\""
rid=$(jq -r .id <<<"$body")
api GET "/v1/pki/kmc/recoveries/$rid/envelope" "" "$user"
want 409 Conflict "needs 2 approvals: 0 so far"
api POST "/v1/pki/kmc/recoveries/$rid/approve" "" "$rec1"
want 200
jqt '.status == "pending" and .approvals == 1'
api GET "/v1/pki/kmc/recoveries/$rid/envelope" "" "$user"
want 409 Conflict "needs 2 approvals: 1 so far"
api POST "/v1/pki/kmc/recoveries/$rid/approve" "" "$rec1"
want 409 Conflict "already"
api POST "/v1/pki/kmc/recoveries/$rid/approve" "" "$user"
want 403 Forbidden
api POST "/v1/pki/kmc/recoveries/$rid/approve" "" "$mgr"
want 403 Forbidden
api GET "/v1/pki/kmc/recoveries/$rid" "" "$user2"
want 403 Forbidden
kh "$rec2" pki recovery approve "$rid"
jqt '.status == "approved" and .approvals == 2'
api GET "/v1/pki/kmc/recoveries/$rid/envelope" "" "$rec2"
want 403 Forbidden "only the requester"
khf "$user" pki recovery envelope "$rid" -o recovered.env
"$check" skf recovered.env alice-new.key alice-enc.pem >check.out 2>&1 ||
  fail "recovered: $(cat check.out)"
"$check" skf recovered.env alice.key alice-enc.pem >check.out 2>&1 &&
  fail "the recovered envelope opened with the old signing key"
kh "$user" pki recovery get "$rid"
jqt '.status == "delivered"'
api POST "/v1/pki/kmc/recoveries/$rid/approve" "" "$rec3"
want 409 Conflict "delivered"

# ---- a recovery refused; recoveries that cannot be asked for ----
kh "$mgr" pki recovery request --serial "$new_serial" --reason 'audit request' --csr other.csr
rid2=$(jq -r .id <<<"$body")
api POST "/v1/pki/kmc/recoveries/$rid2/reject" '{}' "$rec3"
want 400 BadRequest '"reason"'
kh "$rec3" pki recovery reject "$rid2" --reason 'no ticket'
jqt '.status == "rejected"'
api GET "/v1/pki/kmc/recoveries/$rid2/envelope"
want 409 Conflict "rejected"
api POST /v1/pki/kmc/recoveries "$(jq -n --arg s "$sign_serial" --rawfile csr other.csr \
  '{serial:$s,reason:"x",csr:$csr}')"
want 404 NotFound "the certificate has no archived key pair"
api POST /v1/pki/kmc/recoveries "$(jq -n --arg s "$enc_serial" --rawfile csr other.csr \
  '{serial:$s,reason:"x",csr:$csr}')" "$user2"
want 403 Forbidden
api POST /v1/pki/kmc/recoveries "$(jq -n --arg s "$enc_serial" \
  '{serial:$s,reason:"x",csr:"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}')"
want 400 BadRequest
api POST /v1/pki/kmc/recoveries "$(jq -n --arg s "$enc_serial" --rawfile csr other.csr \
  '{serial:$s,csr:$csr}')"
want 400 BadRequest '"reason"'
api POST /v1/pki/kmc/recoveries "$(jq -n --rawfile csr other.csr '{serial:"XYZ",reason:"x",csr:$csr}')"
want 400 BadRequest '"serial"'
api GET "/v1/pki/kmc/recoveries?status=rejected" "" "$rec1"
want 200
jqt "[.recoveries[].id] == [$rid2]"
kh "$rec1" pki recovery list
jqt "[.recoveries[].id] == [$rid, $rid2]"
api GET "/v1/pki/kmc/recoveries?status=done" "" "$rec1"
want 400 BadRequest '"status"'
api GET /v1/pki/kmc/recoveries "" "$user"
want 403 Forbidden

# ---- the audit log and the metrics ----
api GET "/v1/audit?limit=1000"
want 200
for op in pki.kmc.deliver pki.kmc.update pki.kmc.recovery.request pki.kmc.recovery.approve \
  pki.kmc.recovery.release pki.kmc.recovery.deliver pki.kmc.recovery.reject; do
  jq -e --arg op "$op" '[.records[] | select(.operation == $op and .result == "ok")] | length > 0' \
    <<<"$body" >/dev/null || fail "no audit record of $op"
done
jq -e '[.records[] | select(.operation == "pki.kmc.recovery.approve" and .result == "ok")] |
  length == 2' <<<"$body" >/dev/null || fail "not two approvals in the audit log"
jq -e '[.records[] | select(.operation == "pki.kmc.recovery.approve" and .result != "ok")] |
  length >= 2' <<<"$body" >/dev/null || fail "refused approvals are not audited"
curl -sS --cacert "$tlsca" "$url/metrics" -o metrics.txt || fail "GET /metrics"
for alg in sm2 ecdsa-p256 rsa-2048; do
  grep -qE "^keyhold_kmc_pool_depth\{algorithm=\"$alg\"\} [0-9]+$" metrics.txt ||
    fail "no pool depth for $alg: $(grep kmc metrics.txt)"
done

echo "kmc: ok"
