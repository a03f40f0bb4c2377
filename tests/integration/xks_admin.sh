#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# XKS management (API.md "XKS management") against the real keyholdd in development mode, with
# curl and the real keyhold CLI: every route, the 400 of each member at fault, 401, 403 (a
# kms-user), 404 (another key store's manager, unknown ids), 409 (a prefix or external key id
# taken, a fifth live credential, a store that still has keys), paging of stores and keys with
# their cursors, revocation, the AWS console file (content and mode 0600), external key ids of
# 128 characters in paths, and an audit record for each change.
set -euo pipefail

keyholdd=$1
keyhold=$2
source "$(dirname "$0")/lib.sh"
init_work xks-admin
start_keyholdd
url=https://127.0.0.1:$port
ca=$work/var/tls/ca.pem
mgr=$(cat "$work/var/dev-token")        # kms-manager of the development key store (id 1)
operator=$(cat "$work/var/operator-token")

# api METHOD PATH [BODY] [TOKEN]: $status and $body of the answer ("-" as TOKEN: none).
api() {
  local method=$1 path=$2 data=${3:-} tok=${4:-$mgr}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$ca" -X "$method")
  [[ $tok != - ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}
# want STATUS [CODE [MESSAGE-PART]]: the last answer's status, error code and message.
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

S=/v1/xks/stores
rfc3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'

# ---- authentication, stores ----
api GET $S "" -
want 401 Unauthenticated
api POST $S '{"prefix":"aws/prod","region":"eu-west-1"}'
want 201
store=$(jq -r .id <<<"$body")
jqt '.keystore_id == 1 and .prefix == "aws/prod" and .uri_path == "/aws/prod/kms/xks/v1"'
jqt '.region == "eu-west-1" and .secondary_auth == false and .enabled == true'
jqt '.quota_rps == 0 and .credential_count == 0 and .key_count == 0'
[[ $(jq -r .created_at <<<"$body") =~ $rfc3339 ]] || fail "created_at: $body"
[[ $(jq -r .updated_at <<<"$body") =~ $rfc3339 ]] || fail "updated_at: $body"

long_prefix=$(printf 'p%.0s' $(seq 1 118))
for bad in '{}' '{"prefix":""}' '{"prefix":"/lead"}' '{"prefix":"trail/"}' '{"prefix":"a//b"}' \
  '{"prefix":"sp ace"}' '{"prefix":"dot.ted"}' "{\"prefix\":\"$long_prefix\"}" '{"prefix":7}'; do
  api POST $S "$bad"
  [[ $status == 400 || $status == 413 ]] || fail "prefix $bad: $status $body"
  grep -q prefix <<<"$body" || fail "the message does not name prefix: $body"
done
api POST $S '{"prefix":"ok1","region":"EU-West"}'
want 400 BadRequest '"region"'
api POST $S '{"prefix":"ok1","quota_rps":-1}'
want 400 BadRequest '"quota_rps"'
api POST $S '{"prefix":"ok1","quota_rps":1000001}'
want 400 BadRequest '"quota_rps"'
api POST $S '{"prefix":"ok1","secondary_auth":"yes"}'
want 400 BadRequest '"secondary_auth"'
api POST $S '{"prefix":"ok1","colour":"red"}'
want 400 BadRequest colour
api POST $S '{"prefix":"ok1"'
want 400 BadRequest
api POST $S '{"prefix":"ok1"}' "$operator"
want 400 BadRequest '"keystore_id"'
api POST $S '{"prefix":"aws/prod"}'
want 409 Conflict 'prefix'
api POST $S '{"prefix":"ops/made","keystore_id":1,"secondary_auth":true,"quota_rps":5}' "$operator"
want 201
jqt '.keystore_id == 1 and .secondary_auth == true and .quota_rps == 5'
op_store=$(jq -r .id <<<"$body")
api POST $S '{"prefix":"ops/none","keystore_id":999}' "$operator"
want 404 NotFound

# A kms-user of the key store is refused; a manager of another key store sees nothing.
api POST /v1/keystores/1/accounts '{"name":"bob","policies":["kms-user"]}'
want 201
bob=$(jq -r .token <<<"$body")
api GET "$S/$store" "" "$bob"
want 403 Forbidden
api POST $S '{"prefix":"bob"}' "$bob"
want 403 Forbidden
api POST /v1/keystores '{"name":"tenant2"}' "$operator"
want 201
ks2=$(jq -r .id <<<"$body")
api POST "/v1/keystores/$ks2/accounts" '{"name":"eve","policies":["kms-manager"]}' "$operator"
want 201
eve=$(jq -r .token <<<"$body")
for path in "$S/$store" "$S/$store/credentials" "$S/$store/keys"; do
  api GET "$path" "" "$eve"
  want 404 NotFound
done
api GET $S "" "$eve"
want 200
jqt '.stores == []'
api GET "$S/abc"
want 404 NotFound
api GET "$S/999999"
want 404 NotFound

# Paging: five stores of key store 1, two a page.
for p in page/a page/b page/c; do
  api POST $S "{\"prefix\":\"$p\"}"
  want 201
done
api GET "$S?limit=2"
want 200
jqt '(.stores | length) == 2 and (.next | type) == "string"'
seen=2
next=$(jq -r .next <<<"$body")
while [[ $next != null ]]; do
  api GET "$S?limit=2&next=$next"
  want 200
  seen=$((seen + $(jq '.stores | length' <<<"$body")))
  next=$(jq -r '.next // "null"' <<<"$body")
done
[[ $seen == 5 ]] || fail "paging saw $seen stores, not 5"
api GET "$S?next=bogus"
want 400 BadRequest next
api GET "$S?limit=0"
want 400 BadRequest limit
api GET $S "" "$operator"
want 200
jqt '(.stores | length) == 5'

# Read and update.
api GET "$S/$store"
want 200
jqt ".id == $store"
api PATCH "$S/$store" '{}'
want 400 BadRequest
api PATCH "$S/$store" '{"region":"EU"}'
want 400 BadRequest '"region"'
api PATCH "$S/$store" '{"prefix":"moved"}'
want 400 BadRequest prefix
api PATCH "$S/$store" '{"secondary_auth":true,"quota_rps":50,"region":""}'
want 200
jqt '.secondary_auth == true and .quota_rps == 50 and .region == ""'
api PATCH "$S/$store" '{"enabled":false}'
want 200
jqt '.enabled == false'
api PATCH "$S/$store" '{"enabled":true,"secondary_auth":false}'
want 200
jqt '.enabled == true and .secondary_auth == false'

# ---- credentials ----
api POST "$S/$store/credentials"
want 201
ak1=$(jq -r .access_key_id <<<"$body")
secret1=$(jq -r .secret_access_key <<<"$body")
[[ $ak1 =~ ^[A-Z2-7]{20}$ ]] || fail "access key id: $body"
[[ $secret1 =~ ^[A-Za-z0-9/+]{44}$ ]] || fail "secret: $body"
jqt ".console_file.XksProxyUriPath == \"/aws/prod/kms/xks/v1\""
jqt ".console_file.XksProxyAuthenticationCredential.AccessKeyId == \"$ak1\""
jqt ".console_file.XksProxyAuthenticationCredential.RawSecretAccessKey == \"$secret1\""
api GET "$S/$store/credentials"
want 200
jqt "(.credentials | length) == 1 and .credentials[0].access_key_id == \"$ak1\""
grep -qF -- "$secret1" <<<"$body" && fail "a list shows the secret"
for _ in 2 3 4; do
  api POST "$S/$store/credentials"
  want 201
done
api POST "$S/$store/credentials"
want 409 Conflict 'revoke one'
api DELETE "$S/$store/credentials/$ak1"
want 204
[[ -z $body ]] || fail "a 204 has a body: $body"
api DELETE "$S/$store/credentials/$ak1"
want 404 NotFound
api DELETE "$S/$store/credentials/abc"
want 404 NotFound
api DELETE "$S/$store/credentials/$ak1" "" "$eve"
want 404 NotFound
api GET "$S/$store/credentials"
want 200
jqt '(.credentials | length) == 3'
api GET "$S/$store"
jqt '.credential_count == 3'
api POST "$S/$store/credentials" '{"x":1}'
want 400 BadRequest

# ---- keys ----
K=$S/$store/keys
arn='arn:aws:iam::111122223333:role/app'
api POST "$K" "{\"external_key_id\":\"key-1\",\"usages\":[\"encrypt\",\"decrypt\"],\"users\":[\"$arn\"],\"administrators\":[\"arn:aws:iam::111122223333:root\",\"arn:aws:iam::*:role/admin-*\"]}"
want 201
key1=$(jq -r .key <<<"$body")
[[ $key1 =~ ^[0-9a-f]{32}$ ]] || fail "key tag: $body"
jqt '.external_key_id == "key-1" and .key_state == "enabled" and .current_version == 1'
jqt '.usages == ["encrypt","decrypt"] and .expires_at == null and .rotation_days == 90'
jqt ".users == [\"$arn\"] and (.administrators | length) == 2"
api GET "/v1/keys/$key1"
want 200
jqt '.type == "aes-256-gcm"'

api POST /v1/keys '{"name":"existing"}'
want 201
existing=$(jq -r .tag <<<"$body")
api POST "$K" "{\"external_key_id\":\"key-2\",\"key\":\"$existing\",\"usages\":[\"decrypt\"],\"expires_at\":\"2099-06-01T12:00:00Z\",\"rotation_days\":30}"
want 201
jqt ".key == \"$existing\" and .usages == [\"decrypt\"] and .expires_at == \"2099-06-01T12:00:00Z\""
jqt '(.pending_rotation_days // .rotation_days) == 30 and .administrators == [] and .users == []'
api POST /v1/keys '{"name":"signer","type":"ecdsa-p256"}'
signer=$(jq -r .tag <<<"$body")
api POST "$K" "{\"external_key_id\":\"key-3\",\"key\":\"$signer\",\"usages\":[]}"
want 400 BadRequest '"key"'
api POST "$K" '{"external_key_id":"key-3","key":"0123456789abcdef0123456789abcdef","usages":[]}'
want 404 NotFound
api POST "$K" '{"external_key_id":"key-1","usages":[]}'
want 409 Conflict
api POST "$K" "{\"external_key_id\":\"key-9\",\"key\":\"$existing\",\"usages\":[]}"
want 409 Conflict 'attached already'
api POST "$K" "{\"external_key_id\":\"key-3\",\"key\":\"$existing\",\"name\":\"n\",\"usages\":[]}"
want 400 BadRequest '"name"'
long_id=$(printf 'k%.0s' $(seq 1 129))
future='"usages":[]'
for bad in '{"usages":[]}' '{"external_key_id":"key-3"}' \
  '{"external_key_id":"key-3","usages":["sign"]}' \
  '{"external_key_id":"key-3","usages":["encrypt","encrypt"]}' \
  '{"external_key_id":"key-3","usages":"encrypt"}' \
  "{\"external_key_id\":\"key-3\",$future,\"expires_at\":\"2001-01-01T00:00:00Z\"}" \
  "{\"external_key_id\":\"key-3\",$future,\"expires_at\":\"tomorrow\"}" \
  "{\"external_key_id\":\"key-3\",$future,\"rotation_days\":3651}" \
  "{\"external_key_id\":\"key-3\",$future,\"users\":[\"with space\"]}" \
  "{\"external_key_id\":\"key-3\",$future,\"users\":[\"\"]}" \
  "{\"external_key_id\":\"key-3\",$future,\"administrators\":\"arn\"}" \
  "{\"external_key_id\":\".\",$future}" "{\"external_key_id\":\"a/b\",$future}" \
  "{\"external_key_id\":\"$long_id\",$future}"; do
  api POST "$K" "$bad"
  [[ $status == 400 || $status == 413 ]] || fail "attach $bad: $status $body"
done
patterns=$(for i in $(seq 1 17); do printf '"arn:aws:iam::%012d:role/r"\n' "$i"; done | jq -s -c .)
api POST "$K" "{\"external_key_id\":\"key-3\",$future,\"users\":$patterns}"
want 400 BadRequest '"users"'
patterns=$(jq -c '.[:16]' <<<"$patterns")
id128=$(printf 'x%.0s' $(seq 1 128))
api POST "$K" "{\"external_key_id\":\"$id128\",$future,\"users\":$patterns}"
want 201
jqt '(.users | length) == 16 and .usages == []'
api GET "$K/$id128"
want 200
jqt ".external_key_id == \"$id128\""
api GET "$K/$long_id"
want 404

# Paging of keys: three, one a page.
api GET "$K?limit=1"
want 200
seen=1
next=$(jq -r .next <<<"$body")
[[ $next != null ]] || fail "a first page of one key gave no next: $body"
while [[ $next != null ]]; do
  api GET "$K?limit=1&next=$next"
  want 200
  seen=$((seen + $(jq '.keys | length' <<<"$body")))
  next=$(jq -r '.next // "null"' <<<"$body")
done
[[ $seen == 3 ]] || fail "paging saw $seen keys, not 3"
api GET "$K?next=c10000000000000001"
want 400 BadRequest next
api GET "$K?next=k1.a/b"
want 400 BadRequest next

# Update: state, expiry, usages, principals, rotation.
api PATCH "$K/key-1" '{}'
want 400 BadRequest
api PATCH "$K/key-1" '{"enabled":false}'
want 200
jqt '.key_state == "disabled"'
api GET "/v1/keys/$key1"
jqt '.state == "disabled"'
api PATCH "$K/key-1" '{"enabled":true,"usages":[],"expires_at":"2098-01-01T00:00:00Z"}'
want 200
jqt '.key_state == "enabled" and .usages == [] and .expires_at == "2098-01-01T00:00:00Z"'
api PATCH "$K/key-1" '{"expires_at":null,"users":[],"administrators":["arn:*"],"rotation_days":0}'
want 200
jqt '.expires_at == null and .users == [] and .administrators == ["arn:*"]'
jqt '(.pending_rotation_days // .rotation_days) == 0'
api PATCH "$K/key-1" '{"usages":["decrypt"],"external_key_id":"x"}'
want 400 BadRequest external_key_id
api PATCH "$K/nope" '{"usages":[]}'
want 404 NotFound
api GET "$K/key-1" "" "$bob"
want 403 Forbidden
api GET "$K/key-1" "" "$eve"
want 404 NotFound

# Detach; the store cannot go while keys are attached.
api DELETE "$S/$store"
want 409 Conflict 'detach'
for k in key-1 key-2 "$id128"; do
  api DELETE "$K/$k"
  want 204
done
api DELETE "$K/key-1"
want 404 NotFound
api GET "/v1/keys/$existing"
want 200
api DELETE "$S/$store"
want 204
api GET "$S/$store"
want 404 NotFound
api DELETE "$S/$op_store" "" "$operator"
want 204

# ---- the CLI ----
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
unset KEYHOLD_TOKEN KEYHOLD_CONFIG
mkdir -p "$HOME"
export KEYHOLD_ADDR=$url KEYHOLD_CA_FILE=$ca KEYHOLD_TOKEN_FILE=$work/var/dev-token
out=$work/out
kh() {
  local want=$1 got=0
  shift
  "$keyhold" "$@" </dev/null >"$out" 2>"$work/err" || got=$?
  [[ $got == "$want" ]] || fail "keyhold $*: exit $got, wanted $want"
}
kh 0 --json xks store create --prefix cli/one --region us-east-1 --secondary-auth --quota 10
body=$(cat "$out")
cs=$(jq -r .id <<<"$body")
jqt '.uri_path == "/cli/one/kms/xks/v1" and .secondary_auth == true and .quota_rps == 10'
kh 5 xks store create --prefix cli/one
kh 2 xks store create
kh 2 xks store create --prefix x --quota many
kh 0 xks store list
grep -q "cli/one" "$out" || fail "store list: $(cat "$out")"
kh 0 xks store get "$cs"
grep -q 'uri_path *\/cli\/one\/kms\/xks\/v1' "$out" || fail "store get: $(cat "$out")"
kh 4 xks store get 999999
kh 2 xks store get abc
kh 2 xks store update "$cs"
kh 2 xks store update "$cs" --enable --disable
kh 0 --json xks store update "$cs" --disable --no-secondary-auth --quota 0
body=$(cat "$out")
jqt '.enabled == false and .secondary_auth == false and .quota_rps == 0'
kh 0 xks store update "$cs" --enable

umask 022
kh 0 xks credential issue "$cs" --console-file "$work/console.json"
grep -q 'wrote the AWS console file' "$work/err" || fail "issue did not say so: $(cat "$work/err")"
[[ $(stat -c %a "$work/console.json") == 600 ]] || fail "console file mode $(stat -c %a "$work/console.json")"
body=$(cat "$work/console.json")
jqt '.XksProxyUriPath == "/cli/one/kms/xks/v1"'
jqt '.XksProxyAuthenticationCredential.AccessKeyId | test("^[A-Z2-7]{20}$")'
jqt '.XksProxyAuthenticationCredential.RawSecretAccessKey | test("^[A-Za-z0-9/+]{44}$")'
cak=$(jq -r .XksProxyAuthenticationCredential.AccessKeyId <<<"$body")
csecret=$(jq -r .XksProxyAuthenticationCredential.RawSecretAccessKey <<<"$body")
grep -qF -- "$csecret" "$out" || fail "the secret is not printed: $(cat "$out")"
grep -qF -- "$cak" "$out" || fail "the access key id is not printed"
kh 0 --json xks credential issue "$cs"
body=$(cat "$out")
cak2=$(jq -r .access_key_id <<<"$body")
kh 0 xks credential list "$cs"
grep -q "^$cak " "$out" && grep -q "^$cak2 " "$out" || fail "credential list: $(cat "$out")"
grep -qF -- "$csecret" "$out" && fail "credential list shows a secret"
kh 0 xks credential revoke "$cs" "$cak"
grep -q revoked "$out" || fail "revoke: $(cat "$out")"
kh 4 xks credential revoke "$cs" "$cak"
kh 2 xks credential issue "$cs" --console-file -

kh 0 --json xks key attach "$cs" cli-key --usage encrypt --admin 'arn:aws:iam::1:root' \
  --admin 'arn:aws:iam::1:role/a*' --user 'arn:aws:iam::1:role/app' --rotation-days 7
body=$(cat "$out")
jqt '.usages == ["encrypt"] and .administrators == ["arn:aws:iam::1:root","arn:aws:iam::1:role/a*"]'
jqt '.users == ["arn:aws:iam::1:role/app"] and (.pending_rotation_days // .rotation_days) == 7'
kh 0 --json xks key attach "$cs" cli-key-2 --key "$existing" --expires 2097-01-01T00:00:00Z
body=$(cat "$out")
jqt ".key == \"$existing\" and .usages == [\"encrypt\",\"decrypt\"] and .expires_at == \"2097-01-01T00:00:00Z\""
kh 2 xks key attach "$cs" cli-key-3 --usage both
kh 2 xks key attach "$cs" 'a/b'
kh 5 xks key attach "$cs" cli-key
kh 0 xks key list "$cs"
grep -q '^cli-key ' "$out" && grep -q '^cli-key-2 ' "$out" || fail "key list: $(cat "$out")"
kh 0 xks key list "$cs" --limit 1
grep -q -- '--next k1\.' "$work/err" || fail "key list gave no next cursor: $(cat "$work/err")"
kh 0 xks key get "$cs" cli-key
grep -q 'key_state *enabled' "$out" || fail "key get: $(cat "$out")"
kh 0 xks key disable "$cs" cli-key
grep -q 'key_state *disabled' "$out" || fail "key disable: $(cat "$out")"
kh 0 xks key enable "$cs" cli-key
grep -q 'key_state *enabled' "$out" || fail "key enable: $(cat "$out")"
kh 2 xks key update "$cs" cli-key
kh 2 xks key update "$cs" cli-key --user x --clear-users
kh 0 --json xks key update "$cs" cli-key-2 --expires never --clear-admins --user 'arn:*' --usage none
body=$(cat "$out")
jqt '.expires_at == null and .administrators == [] and .users == ["arn:*"] and .usages == []'
kh 3 --token-file <(printf '%s\n' "$bob") xks key get "$cs" cli-key
kh 4 xks key get "$cs" nope
kh 5 xks store delete "$cs"
kh 0 xks key detach "$cs" cli-key
grep -q detached "$out" || fail "detach: $(cat "$out")"
kh 0 xks key detach "$cs" cli-key-2
kh 4 xks key detach "$cs" cli-key
kh 0 xks store delete "$cs"
grep -q deleted "$out" || fail "store delete: $(cat "$out")"
kh 4 xks store get "$cs"

# ---- every change left its audit record ----
api GET "/v1/audit?limit=1000"
want 200
for operation in xks.store.create xks.store.update xks.store.delete xks.credential.issue \
  xks.credential.revoke xks.key.attach xks.key.update xks.key.detach; do
  n=$(jq "[.records[] | select(.operation == \"$operation\" and .result == \"ok\")] | length" <<<"$body")
  [[ $n -gt 0 ]] || fail "no audit record of $operation"
done
# Refusals too: the kms-user's, the fifth credential's.
n=$(jq '[.records[] | select(.operation == "xks.store.get" and .result == "Forbidden")] | length' <<<"$body")
[[ $n -gt 0 ]] || fail "the kms-user's refusal left no audit record"
n=$(jq '[.records[] | select(.operation == "xks.credential.issue" and .result == "Conflict")] | length' <<<"$body")
[[ $n -gt 0 ]] || fail "the fifth credential's refusal left no audit record"
# The operator's changes are in the key store's records too.
n=$(jq '[.records[] | select(.operation == "xks.store.create" and .principal == "operator")] | length' <<<"$body")
[[ $n -gt 0 ]] || fail "the operator's store creation is not in the key store's audit"
echo "ok: XKS management"
