#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The XKS proxy (XKS.md) end to end: the real keyholdd in development mode, an XKS key store
# made through the native API, and AWS KMS's calls made with curl's own SigV4 signing
# (--aws-sigv4), plus xks_sign for the clock cases curl cannot make. Every error name with its
# status, routes before authentication, bad signatures, clock skew, credential rotation, every
# key usage, disable and enable, rotation, tampering, 16-byte IVs, size limits, secondary
# authorization, the quota, health, sealing, the audit records, and compact JSON throughout.
# Integrity values are recomputed here with sha256sum.
set -euo pipefail

keyholdd=$1
xks_sign=$2
source "$(dirname "$0")/lib.sh"
init_work xks

start_keyholdd
url=https://127.0.0.1:$port
token=$(cat "$work/var/dev-token")
operator=$(cat "$work/var/operator-token")
cacert=$work/var/tls/ca.pem

# api METHOD PATH [BODY] [TOKEN] -> $status, $body (the native API)
api() {
  local method=$1 path=$2 data=${3:-} tok=${4-$token}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$cacert" -X "$method")
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path" 2>"$work/err") || fail "curl $method $path"
  body=$(cat "$work/body")
}
want() { # want STATUS WHAT
  [[ $status == "$1" ]] || fail "$2: status $status, wanted $1: $body"
}

# ---- the XKS key store, two credentials, four keys ----
api POST /v1/xks/stores '{"prefix":"xks/test","region":"us-east-1"}'
want 201 "create store"
store=$(jq -r .id <<<"$body")
[[ $(jq -r .uri_path <<<"$body") == /xks/test/kms/xks/v1 ]] || fail "uri_path: $body"
api POST "/v1/xks/stores/$store/credentials"
want 201 "credential 1"
ak1=$(jq -r .access_key_id <<<"$body")
sk1=$(jq -r .secret_access_key <<<"$body")
api POST "/v1/xks/stores/$store/credentials"
want 201 "credential 2"
ak2=$(jq -r .access_key_id <<<"$body")
sk2=$(jq -r .secret_access_key <<<"$body")
[[ $ak1 =~ ^[A-Z2-7]{20,30}$ && $ak1 != "$ak2" ]] || fail "access key ids $ak1 $ak2"
[[ ${#sk1} -ge 43 && $sk1 =~ ^[A-Za-z0-9/+=]+$ ]] || fail "secret format"

attach() { # attach EXTERNAL_ID USAGES_JSON -> $tag
  api POST "/v1/xks/stores/$store/keys" "{\"external_key_id\":\"$1\",\"usages\":$2}"
  want 201 "attach $1"
  tag=$(jq -r .key <<<"$body")
}
attach both '["encrypt","decrypt"]'
tag_both=$tag
attach enc-only '["encrypt"]'
attach dec-only '["decrypt"]'
attach no-usage '[]'

# ---- XKS calls ----
ak=$ak1
sk=$sk1
region=us-east-1
base=/xks/test/kms/xks/v1
principal=arn:aws:iam::111122223333:role/app-1

# xks PATH BODY_FILE [curl args...] -> $status, $body (signed by curl)
xks() {
  local path=$1 file=$2
  shift 2
  status=$(curl -sS -o "$work/xbody" -w '%{http_code}' --cacert "$cacert" \
    --aws-sigv4 "aws:amz:$region:kms-xks-proxy" --user "$ak:$sk" \
    -H 'Content-Type: application/json' --data-binary "@$file" "$@" "$url$path" \
    2>"$work/err") || fail "curl POST $path"
  body=$(cat "$work/xbody")
}
# expect_error STATUS NAME WHAT: the error document, compact
expect_error() {
  [[ $status == "$1" ]] || fail "$3: status $status, wanted $1: $body"
  [[ $(jq -r .errorName <<<"$body") == "$2" ]] || fail "$3: $body, wanted $2"
  compact "$3"
}
# compact WHAT: one line, no whitespace between tokens
compact() {
  [[ $(jq -c . <<<"$body") == "$body" ]] || fail "$1: not compact JSON: $body"
}
ok() { # ok WHAT
  [[ $status == 200 ]] || fail "$1: status $status: $body"
  compact "$1"
}

md() { # md OPERATION -> requestMetadata JSON
  jq -cn --arg op "$1" --arg p "$principal" \
    '{kmsRequestId:"4112f4d6-db54-4af4-ae30-c55a22a8dfae",kmsOperation:$op,awsPrincipalArn:$p,
      kmsKeyArn:"arn:aws:kms:us-east-1:111122223333:key/1234abcd"}'
}
health_body() { echo '{"requestMetadata":{"kmsRequestId":"r-1","kmsOperation":"KmsHealthCheck"}}' >"$work/h.json"; }
meta_body() { jq -cn --argjson md "$(md DescribeKey)" '{requestMetadata:$md}' >"$work/m.json"; }
enc_body() { # enc_body PLAINTEXT_B64 [AAD_B64] [integrity]
  jq -cn --argjson md "$(md Encrypt)" --arg pt "$1" --arg aad "${2:-}" --arg i "${3:-}" \
    '{requestMetadata:$md,plaintext:$pt,encryptionAlgorithm:"AES_GCM"}
     + (if $aad != "" then {additionalAuthenticatedData:$aad} else {} end)
     + (if $i != "" then {ciphertextDataIntegrityValueAlgorithm:"SHA_256"} else {} end)' \
    >"$work/e.json"
}
dec_body() { # dec_body ENCRYPT_ANSWER [AAD_B64]
  jq -c --argjson md "$(md Decrypt)" --arg aad "${2:-}" \
    '{requestMetadata:$md,ciphertext,initializationVector,authenticationTag,ciphertextMetadata,
      encryptionAlgorithm:"AES_GCM"}
     + (if $aad != "" then {additionalAuthenticatedData:$aad} else {} end)' <<<"$1" >"$work/d.json"
}
b64() { base64 -w0; }

health_body
meta_body

# Health: deep, compact, the fleet of one live node.
xks $base/health "$work/h.json"
ok health
[[ $(jq -r .xksProxyVendor <<<"$body") == keyhold ]] || fail "health vendor: $body"
[[ $(jq -r .xksProxyFleetSize <<<"$body") == 1 ]] || fail "health fleet: $body"
[[ $(jq -r '.ekmFleetDetails[0].healthStatus' <<<"$body") == ACTIVE ]] || fail "health: $body"
[[ $(jq -r .xksProxyModel <<<"$body") == "keyhold "* ]] || fail "health model: $body"
echo '{}' >"$work/empty.json"
xks $base/health "$work/empty.json"
expect_error 400 ValidationException "health with {}"
echo '{"requestMetadata":{}}' >"$work/empty-md.json"
xks $base/health "$work/empty-md.json"
expect_error 400 ValidationException "health with an empty requestMetadata"

# Routes: 404 before authentication, 405 for GET.
for path in /xks/test/extra/kms/xks/v1/health /xks/kms/xks/v1/health /nope/kms/xks/v1/health \
  $base/keys/both/sign $base/keys/bad%21id/encrypt "$base/keys/$(printf 'k%.0s' {1..129})/metadata" \
  $base/keys//metadata $base/health/extra; do
  status=$(curl -sS -o "$work/xbody" -w '%{http_code}' --cacert "$cacert" \
    -H 'Content-Type: application/json' --data-binary @"$work/h.json" "$url$path")
  body=$(cat "$work/xbody")
  expect_error 404 InvalidUriPathException "unsigned POST $path"
done
status=$(curl -sS -o "$work/xbody" -w '%{http_code}' --cacert "$cacert" "$url$base/health")
body=$(cat "$work/xbody")
[[ $status == 405 ]] || fail "GET health: $status $body"
xks $base/health "$work/h.json" -X GET
[[ $status == 405 ]] || fail "signed GET health: $status $body"
xks $base/keys/both/metadata "$work/m.json" -X PUT
[[ $status == 405 ]] || fail "PUT metadata: $status $body"

# Signatures: missing, wrong secret, unknown access key, wrong region, the second credential,
# a body changed after signing, and the clock.
status=$(curl -sS -o "$work/xbody" -w '%{http_code}' --cacert "$cacert" \
  -H 'Content-Type: application/json' --data-binary @"$work/h.json" "$url$base/health")
body=$(cat "$work/xbody")
expect_error 401 AuthenticationFailedException "unsigned health"
sk=${sk1%?}x
xks $base/health "$work/h.json"
expect_error 401 AuthenticationFailedException "wrong secret"
ak=AAAAAAAAAAAAAAAAAAAA
sk=$sk1
xks $base/health "$work/h.json"
expect_error 401 AuthenticationFailedException "unknown access key"
ak=not-a-key-id
xks $base/health "$work/h.json"
expect_error 401 AuthenticationFailedException "malformed access key id"
ak=$ak1
region=eu-west-1
xks $base/health "$work/h.json"
expect_error 401 AuthenticationFailedException "wrong region"
region=us-east-1
ak=$ak2
sk=$sk2
xks $base/health "$work/h.json"
ok "second credential"
signed() { # signed OFFSET BODY_FILE SENT_FILE -> $status $body
  mapfile -t hdr < <("$xks_sign" "$ak" "$sk" us-east-1 "127.0.0.1:$port" $base/health "$2" "$1")
  status=$(curl -sS -o "$work/xbody" -w '%{http_code}' --cacert "$cacert" \
    -H 'Content-Type: application/json' -H "${hdr[0]}" -H "${hdr[1]}" \
    --data-binary @"$3" "$url$base/health")
  body=$(cat "$work/xbody")
}
signed -240 "$work/h.json" "$work/h.json"
ok "signed 4 minutes ago"
signed 240 "$work/h.json" "$work/h.json"
ok "signed 4 minutes ahead"
signed -360 "$work/h.json" "$work/h.json"
expect_error 401 AuthenticationFailedException "signed 6 minutes ago"
grep -q '"reason":"clock-skew"' "$work/err.log" || fail "no clock-skew reason logged"
signed 360 "$work/h.json" "$work/h.json"
expect_error 401 AuthenticationFailedException "signed 6 minutes ahead"
echo '{"requestMetadata":{"kmsRequestId":"r-2","kmsOperation":"KmsHealthCheck"}}' >"$work/h2.json"
signed 0 "$work/h.json" "$work/h2.json"
expect_error 401 AuthenticationFailedException "body changed after signing"
grep -q '"reason":"signature-mismatch"' "$work/err.log" || fail "no mismatch reason logged"

# Revoking a credential ends it at once; the other keeps working.
api DELETE "/v1/xks/stores/$store/credentials/$ak2"
want 204 "revoke credential 2"
xks $base/health "$work/h.json"
expect_error 401 AuthenticationFailedException "revoked credential"
ak=$ak1
sk=$sk1
xks $base/health "$work/h.json"
ok "credential 1 after revoking 2"

# Metadata of each key.
xks $base/keys/both/metadata "$work/m.json"
ok "metadata both"
[[ $body == '{"keySpec":"AES_256","keyUsage":["ENCRYPT","DECRYPT"],"keyStatus":"ENABLED"}' ]] ||
  fail "metadata both: $body"
xks $base/keys/enc-only/metadata "$work/m.json"
[[ $(jq -c .keyUsage <<<"$body") == '["ENCRYPT"]' ]] || fail "metadata enc-only: $body"
xks $base/keys/dec-only/metadata "$work/m.json"
[[ $(jq -c .keyUsage <<<"$body") == '["DECRYPT"]' ]] || fail "metadata dec-only: $body"
xks $base/keys/no-usage/metadata "$work/m.json"
[[ $(jq -c .keyUsage <<<"$body") == '[]' ]] || fail "metadata no-usage: $body"
xks $base/keys/unknown/metadata "$work/m.json"
expect_error 404 KeyNotFoundException "metadata of an unknown key"
jq -c 'del(.requestMetadata.awsPrincipalArn)' "$work/m.json" >"$work/m-bad.json"
xks $base/keys/both/metadata "$work/m-bad.json"
expect_error 400 ValidationException "metadata without awsPrincipalArn"

# Encrypt 4096 bytes with 8192 bytes of AAD and an integrity value; check it with sha256sum.
head -c 4096 /dev/urandom >"$work/pt"
head -c 8192 /dev/urandom >"$work/aad"
pt=$(b64 <"$work/pt")
aad=$(b64 <"$work/aad")
enc_body "$pt" "$aad" integrity
xks $base/keys/both/encrypt "$work/e.json"
ok "encrypt 4096 + 8192"
enc=$body
for f in ciphertext initializationVector authenticationTag ciphertextMetadata \
  ciphertextDataIntegrityValue; do
  jq -r ".$f" <<<"$enc" | base64 -d >"$work/$f" || fail "encrypt answer $f: $enc"
done
[[ $(stat -c %s "$work/ciphertext") == 4096 ]] || fail "ciphertext length"
[[ $(stat -c %s "$work/initializationVector") == 12 ]] || fail "IV length"
[[ $(stat -c %s "$work/authenticationTag") == 16 ]] || fail "tag length"
md_len=$(stat -c %s "$work/ciphertextMetadata")
((md_len >= 1 && md_len <= 20)) || fail "metadata length $md_len"
want_iv=$(cat "$work/aad" "$work/ciphertextMetadata" "$work/initializationVector" \
  "$work/ciphertext" "$work/authenticationTag" | sha256sum | cut -d' ' -f1)
got_iv=$(od -An -tx1 -v "$work/ciphertextDataIntegrityValue" | tr -d ' \n')
[[ $want_iv == "$got_iv" ]] || fail "integrity value $got_iv, sha256sum says $want_iv"
dec_body "$enc" "$aad"
xks $base/keys/both/decrypt "$work/d.json"
ok "decrypt 4096 + 8192"
[[ $(jq -r .plaintext <<<"$body") == "$pt" ]] || fail "decrypt gave another plaintext"
# Without the AAD, with another AAD, with a changed byte: InvalidCiphertextException.
dec_body "$enc"
xks $base/keys/both/decrypt "$work/d.json"
expect_error 400 InvalidCiphertextException "decrypt without the AAD"
tamper() { # tamper FIELD: the encrypt answer with the first byte of a Base64 field flipped
  jq -r ".$1" <<<"$enc" | base64 -d >"$work/t"
  local first
  first=$(od -An -tu1 -N1 "$work/t" | tr -d ' ')
  # shellcheck disable=SC2059
  printf "\\x$(printf %02x $((first ^ 1)))" | dd of="$work/t" bs=1 count=1 conv=notrunc 2>/dev/null
  jq -c --arg v "$(b64 <"$work/t")" ".$1 = \$v" <<<"$enc"
}
for field in ciphertext authenticationTag initializationVector ciphertextMetadata; do
  dec_body "$(tamper $field)" "$aad"
  xks $base/keys/both/decrypt "$work/d.json"
  expect_error 400 InvalidCiphertextException "decrypt with $field changed"
done
# A 16-byte IV is a valid length: it reaches the tag check (the round trip is a unit test).
dec_body "$(jq -c --arg iv "$(head -c 16 /dev/urandom | b64)" '.initializationVector = $iv' <<<"$enc")" "$aad"
xks $base/keys/both/decrypt "$work/d.json"
expect_error 400 InvalidCiphertextException "decrypt with a 16-byte IV"
dec_body "$(jq -c --arg iv "$(head -c 13 /dev/urandom | b64)" '.initializationVector = $iv' <<<"$enc")" "$aad"
xks $base/keys/both/decrypt "$work/d.json"
expect_error 400 InvalidCiphertextException "decrypt with a 13-byte IV"
# Bad Base64 and algorithm names are validation errors.
jq -c '.plaintext = "abc"' "$work/e.json" >"$work/e-bad.json"
xks $base/keys/both/encrypt "$work/e-bad.json"
expect_error 400 ValidationException "bad Base64"
jq -c '.encryptionAlgorithm = "AES_CBC"' "$work/e.json" >"$work/e-bad.json"
xks $base/keys/both/encrypt "$work/e-bad.json"
expect_error 400 ValidationException "bad algorithm"

# Sizes: over our maximum is 501, but an unknown key is still 404 first.
enc_body "$(head -c 70000 /dev/zero | b64)"
xks $base/keys/both/encrypt "$work/e.json"
expect_error 501 UnsupportedOperationException "encrypt 70000 bytes"
xks $base/keys/unknown/encrypt "$work/e.json"
expect_error 404 KeyNotFoundException "encrypt 70000 bytes with an unknown key"

# Usages: encrypt-only, decrypt-only, none.
small=$(printf 'Hello World!' | b64)
enc_body "$small"
xks $base/keys/enc-only/encrypt "$work/e.json"
ok "encrypt-only encrypts"
enc_only=$body
dec_body "$enc_only"
xks $base/keys/enc-only/decrypt "$work/d.json"
expect_error 400 InvalidKeyUsageException "encrypt-only decrypts"
enc_body "$small" "" integrity
xks $base/keys/enc-only/encrypt "$work/e.json"
expect_error 400 InvalidKeyUsageException "encrypt-only with an integrity value"
# The usage wins over a tag failure.
dec_body "$(tamper authenticationTag)" "$aad"
xks $base/keys/enc-only/decrypt "$work/d.json"
expect_error 400 InvalidKeyUsageException "encrypt-only, bad tag"
enc_body "$small"
xks $base/keys/dec-only/encrypt "$work/e.json"
expect_error 400 InvalidKeyUsageException "decrypt-only encrypts"
api PATCH "/v1/xks/stores/$store/keys/dec-only" '{"usages":["encrypt","decrypt"]}'
want 200 "dec-only gets encrypt"
xks $base/keys/dec-only/encrypt "$work/e.json"
ok "encrypt for dec-only"
dec_only=$body
api PATCH "/v1/xks/stores/$store/keys/dec-only" '{"usages":["decrypt"]}'
want 200 "dec-only back to decrypt"
dec_body "$dec_only"
xks $base/keys/dec-only/decrypt "$work/d.json"
ok "decrypt-only decrypts"
[[ $(jq -r .plaintext <<<"$body") == "$small" ]] || fail "decrypt-only plaintext"
xks $base/keys/no-usage/encrypt "$work/e.json"
expect_error 400 InvalidKeyUsageException "no-usage encrypts"
dec_body "$dec_only"
xks $base/keys/no-usage/decrypt "$work/d.json"
expect_error 400 InvalidKeyUsageException "no-usage decrypts"

# Disable, enable; the key's own state.
api PATCH "/v1/xks/stores/$store/keys/both" '{"enabled":false}'
want 200 "disable both"
xks $base/keys/both/metadata "$work/m.json"
[[ $(jq -r .keyStatus <<<"$body") == DISABLED ]] || fail "metadata of a disabled key: $body"
enc_body "$small"
xks $base/keys/both/encrypt "$work/e.json"
expect_error 400 InvalidStateException "encrypt with a disabled key"
dec_body "$enc" "$aad"
xks $base/keys/both/decrypt "$work/d.json"
expect_error 400 InvalidStateException "decrypt with a disabled key"
api PATCH "/v1/xks/stores/$store/keys/both" '{"enabled":true}'
want 200 "enable both"
xks $base/keys/both/decrypt "$work/d.json"
ok "decrypt after enabling"

# Expiry: a key past its expiry is disabled to AWS.
# (An expiry must be in the future when it is set: five seconds, then wait for it.)
api PATCH "/v1/xks/stores/$store/keys/enc-only" \
  "{\"expires_at\":\"$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%SZ)\"}"
want 200 "expire enc-only"
xks $base/keys/enc-only/metadata "$work/m.json"
[[ $(jq -r .keyStatus <<<"$body") == ENABLED ]] || fail "metadata before the expiry: $body"
sleep 6
xks $base/keys/enc-only/metadata "$work/m.json"
[[ $(jq -r .keyStatus <<<"$body") == DISABLED ]] || fail "metadata of an expired key: $body"
xks $base/keys/enc-only/encrypt "$work/e.json"
expect_error 400 InvalidStateException "encrypt with an expired key"
api PATCH "/v1/xks/stores/$store/keys/enc-only" '{"expires_at":null}'
want 200 "unexpire enc-only"

# Rotation: new ciphertexts name the new version; old ones still decrypt.
api POST "/v1/keys/$tag_both/rotate"
want 200 "rotate both"
enc_body "$small" "$aad"
xks $base/keys/both/encrypt "$work/e.json"
ok "encrypt after rotation"
enc2=$body
[[ $(jq -r .ciphertextMetadata <<<"$enc2") != $(jq -r .ciphertextMetadata <<<"$enc") ]] ||
  fail "the metadata does not change with the version"
dec_body "$enc2" "$aad"
xks $base/keys/both/decrypt "$work/d.json"
ok "decrypt the new version"
dec_body "$enc" "$aad"
xks $base/keys/both/decrypt "$work/d.json"
ok "decrypt the old version"
[[ $(jq -r .plaintext <<<"$body") == "$pt" ]] || fail "old version plaintext"

# Secondary authorization: users may encrypt, administrators may read metadata.
api PATCH "/v1/xks/stores/$store/keys/both" \
  '{"users":["arn:aws:iam::111122223333:role/app-*"],"administrators":["arn:aws:iam::111122223333:user/admin"]}'
want 200 "principals"
api PATCH "/v1/xks/stores/$store" '{"secondary_auth":true}'
want 200 "secondary auth on"
enc_body "$small"
xks $base/keys/both/encrypt "$work/e.json"
ok "user pattern allows"
principal=arn:aws:iam::111122223333:role/other
enc_body "$small"
xks $base/keys/both/encrypt "$work/e.json"
expect_error 403 AccessDeniedException "user pattern denies"
xks $base/keys/unknown/encrypt "$work/e.json"
expect_error 404 KeyNotFoundException "unknown key before secondary authorization"
principal=arn:aws:iam::111122223333:user/admin
meta_body
xks $base/keys/both/metadata "$work/m.json"
ok "administrator reads metadata"
enc_body "$small"
xks $base/keys/both/encrypt "$work/e.json"
expect_error 403 AccessDeniedException "administrator encrypts"
xks $base/health "$work/h.json"
ok "health is never denied"
api PATCH "/v1/xks/stores/$store" '{"secondary_auth":false}'
want 200 "secondary auth off"
principal=arn:aws:iam::111122223333:role/app-1
meta_body

# The quota: one request per second (however slow this machine, ten in a row cannot all fit).
api PATCH "/v1/xks/stores/$store" '{"quota_rps":1}'
want 200 "quota"
throttled=0
for _ in $(seq 1 10); do
  xks $base/keys/both/metadata "$work/m.json"
  if [[ $status == 429 ]]; then
    expect_error 429 ThrottlingException "over the quota"
    throttled=$((throttled + 1))
  fi
done
((throttled > 0)) || fail "no request was throttled"
api PATCH "/v1/xks/stores/$store" '{"quota_rps":0}'
want 200 "no quota"
xks $base/keys/both/metadata "$work/m.json"
ok "after the quota"

# A disabled store: InvalidStateException.
api PATCH "/v1/xks/stores/$store" '{"enabled":false}'
want 200 "disable store"
xks $base/keys/both/metadata "$work/m.json"
expect_error 400 InvalidStateException "metadata in a disabled store"
api PATCH "/v1/xks/stores/$store" '{"enabled":true}'
want 200 "enable store"

# Audit: the XKS uses are there with AWS's request id, never a plaintext.
api GET "/v1/audit?key=$tag_both"
want 200 "audit"
grep -q 'xks.encrypt' <<<"$body" || fail "no xks.encrypt record"
grep -q '4112f4d6-db54-4af4-ae30-c55a22a8dfae' <<<"$body" || fail "no kmsRequestId in audit"
grep -q "$pt" <<<"$body" && fail "a plaintext in the audit log"
grep -q "$pt" "$work/err.log" && fail "a plaintext in the server log"
grep -q "$sk1" "$work/err.log" "$work/out.log" && fail "a secret in the logs"
grep -q '"msg":"xks".*"kms_request_id":"4112f4d6' "$work/err.log" || fail "XKS calls not logged"

# /metrics counts the XKS calls.
metrics=$(curl -sS --cacert "$cacert" "$url/metrics")
ok_calls=$(grep -o '^keyhold_xks_requests_total{result="ok"} [0-9]*' <<<"$metrics" | cut -d' ' -f2)
((ok_calls > 20)) || fail "XKS calls in /metrics: ${ok_calls:-none}"
grep -q '^keyhold_xks_requests_total{result="throttled"} [1-9]' <<<"$metrics" ||
  fail "throttled XKS calls in /metrics"

# Sealed: 503 DependencyTimeoutException, then back.
api POST /v1/sys/seal "" "$operator"
want 200 "seal"
xks $base/health "$work/h.json"
expect_error 503 DependencyTimeoutException "health while sealed"
api POST /v1/sys/unseal "{\"share\":\"$(cat "$work/var/dev-unseal")\"}" ""
want 200 "unseal"
xks $base/health "$work/h.json"
ok "health after unsealing"

echo "xks: all checks passed"
