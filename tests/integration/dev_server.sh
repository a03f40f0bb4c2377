#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The real keyholdd in development mode, on a free port of 127.0.0.1, driven with curl over
# HTTPS (verifying the development CA): the copy-paste examples it prints, the error model for
# bad requests, the operator kept away from tenant keys, rotation and state errors, signing,
# paging a key's versions and grants, sealing and unsealing over the API, the audit chain and
# the results its records show, certificate reload on SIGHUP, a kill -9 that loses nothing
# acknowledged, verification of the audit chain as each caller sees it (with records edited in
# the database file), and a clean stop on SIGTERM.
set -euo pipefail

keyholdd=$1
source "$(dirname "$0")/lib.sh"
init_work it

start() {
  start_keyholdd
  url=https://127.0.0.1:$port
  token=$(cat "$work/var/dev-token")
  operator=$(cat "$work/var/operator-token")
}

# call METHOD PATH [BODY] [TOKEN] -> sets $status and $body
call() {
  local method=$1 path=$2 data=${3:-} tok=${4-$token}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$work/var/tls/ca.pem" -X "$method")
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}

expect() { # expect STATUS [CODE]
  [[ $status == "$1" ]] || fail "$method_path: status $status, wanted $1: $body"
  if [[ -n ${2:-} ]]; then
    [[ $(jq -r .error.code <<<"$body") == "$2" ]] || fail "$method_path: code in $body, wanted $2"
  fi
}
run() { method_path="$1 $2"; call "$@"; }

start
# Printed what it said it would, and kept its secrets private.
grep -q "$token" "$work/out.log" || fail "the banner does not show the token"
grep -q "$url" "$work/out.log" || fail "the banner does not show the URL"
for f in dev-unseal dev-token operator-token tls/ca.key tls/server.key keyhold.db; do
  [[ $(stat -c %a "$work/var/$f") == 600 ]] || fail "var/$f is not mode 0600"
done

run GET /v1/sys/health "" ""
expect 200
[[ $(jq -r .sealed <<<"$body") == false ]] || fail "health: $body"

# The three examples of the banner.
run POST /v1/keys '{"name":"demo"}'
expect 201
tag=$(jq -r .tag <<<"$body")
[[ $tag =~ ^[0-9a-f]{32}$ ]] || fail "tag $tag"
run POST "/v1/keys/$tag/encrypt" "{\"plaintext\":\"$(printf hello | base64)\"}"
expect 200
ct=$(jq -r .ciphertext <<<"$body")
[[ $ct == kh:v1:* ]] || fail "ciphertext $ct"
run POST "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct\"}"
expect 200
[[ $(jq -r .plaintext <<<"$body" | base64 -d) == hello ]] || fail "decrypt gave $body"

# Context binds, and a changed ciphertext is refused.
run POST "/v1/keys/$tag/encrypt" "{\"plaintext\":\"aGk=\",\"context\":\"$(printf ctx | base64)\"}"
ct_ctx=$(jq -r .ciphertext <<<"$body")
run POST "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct_ctx\"}"
expect 400 InvalidCiphertext
run POST "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct_ctx\",\"context\":\"$(printf ctx | base64)\"}"
expect 200

# The error model.
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}' ""
expect 401 Unauthenticated
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}' "kh_$(printf '0%.0s' $(seq 64))"
expect 401 Unauthenticated
run POST /v1/keys/0123456789abcdef0123456789abcdef/encrypt '{"plaintext":"aGk="}'
expect 404 NotFound
run GET "/v1/keys/$tag/encrypt"
expect 405 MethodNotAllowed
run POST "/v1/keys/$tag/encrypt" '{"plaintext":'
expect 400 BadRequest
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk=","plaintext":"aGk="}'
expect 400 BadRequest
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk=","extra":1}'
expect 400 BadRequest
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"not base64!"}'
expect 400 BadRequest
status=$(curl -sS -o "$work/body" -w '%{http_code}' --cacert "$work/var/tls/ca.pem" \
  -H "Authorization: Bearer $token" -H 'Content-Type: text/plain' --data-binary 'aGk=' \
  "$url/v1/keys/$tag/encrypt")
[[ $status == 415 && $(jq -r .error.code "$work/body") == UnsupportedMediaType ]] ||
  fail "text/plain body gave $status: $(cat "$work/body")"
big=$(head -c 40000 /dev/zero | base64 -w0)
run POST "/v1/keys/$tag/encrypt" "{\"plaintext\":\"$big\"}"
expect 413 PayloadTooLarge
head -c 1100000 /dev/zero | tr '\0' a >"$work/huge"
status=$(curl -sS -o "$work/body" -w '%{http_code}' --cacert "$work/var/tls/ca.pem" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @"$work/huge" "$url/v1/keys/$tag/encrypt")
[[ $status == 413 ]] || fail "a 1.1 MB body gave $status"

# The operator runs the service and never uses tenant keys.
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}' "$operator"
expect 403 Forbidden
run POST /v1/keystores '{"name":"second"}' "$operator"
expect 201
run POST /v1/keystores '{"name":"third"}'
expect 403 Forbidden
# A further operator token, for the operator only; it works at once.
run POST /v1/sys/tokens '{"ttl_seconds":600}' "$operator"
expect 201
run POST /v1/keystores '{"name":"fourth"}' "$(jq -r .token <<<"$body")"
expect 201
run POST /v1/sys/tokens ''
expect 403 Forbidden

# Rotation keeps old ciphertexts readable; a disabled key refuses to work.
run POST "/v1/keys/$tag/rotate"
expect 200
[[ $(jq -r .current_version <<<"$body") == 2 ]] || fail "rotate: $body"
run POST "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct\"}"
expect 200
run POST "/v1/keys/$tag/disable"
expect 200
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}'
expect 409 KeyDisabled
run POST "/v1/keys/$tag/enable"
expect 200

# Signing.
run POST /v1/keys '{"name":"signer","type":"ecdsa-p256"}'
expect 201
stag=$(jq -r .tag <<<"$body")
msg=$(printf 'to be signed' | base64)
run POST "/v1/keys/$stag/sign" "{\"message\":\"$msg\"}"
expect 200
sig=$(jq -r .signature <<<"$body")
run POST "/v1/keys/$stag/verify" "{\"message\":\"$msg\",\"signature\":\"$sig\"}"
[[ $(jq -r .valid <<<"$body") == true ]] || fail "verify: $body"
run POST "/v1/keys/$stag/verify" "{\"message\":\"$(printf other | base64)\",\"signature\":\"$sig\"}"
[[ $(jq -r .valid <<<"$body") == false ]] || fail "verify of another message: $body"

# A key's versions and grants are paged like the keys: ?limit= (default 50), ?next= cursors.
# page_all PATH ARRAY: GET PATH, then each next page; the items in $work/items, $pages pages.
page_all() {
  local path=$1 array=$2 next='' sep='?'
  [[ $path == *'?'* ]] && sep='&'
  pages=0
  : >"$work/items"
  while :; do
    if [[ -n $next ]]; then run GET "${path}${sep}next=$next"; else run GET "$path"; fi
    expect 200
    jq -c ".${array}[]" <<<"$body" >>"$work/items"
    pages=$((pages + 1))
    next=$(jq -r '.next // empty' <<<"$body")
    [[ -n $next ]] || break
    [[ $next =~ ^c1[0-9a-f]{16}$ ]] || fail "cursor $next"
  done
}
run POST /v1/keys '{"name":"paged"}'
expect 201
ptag=$(jq -r .tag <<<"$body")
for _ in $(seq 2 51); do
  run POST "/v1/keys/$ptag/rotate"
  expect 200
done
page_all "/v1/keys/$ptag/versions" versions
[[ $pages == 2 && $(jq -s '[.[].version] == [range(1; 52)]' "$work/items") == true ]] ||
  fail "51 versions in pages of the default 50: $pages pages, $(jq -sc '[.[].version]' "$work/items")"
page_all "/v1/keys/$ptag/versions?limit=17" versions
[[ $pages == 3 && $(jq -s length "$work/items") == 51 ]] || fail "versions by 17: $pages pages"
page_all "/v1/keys/$ptag/versions?limit=51" versions
[[ $pages == 1 ]] || fail "exactly the limit is one page"
run GET "/v1/keys/$ptag/versions?limit=1000&next=$(printf 'c1%016x' 51)"
expect 200
[[ $(jq -c . <<<"$body") == '{"versions":[]}' ]] || fail "after the last version: $body"
# Grants: three accounts of the key store, with roles that spread one account over pages.
accounts=()
for name in carol dave erin; do
  run POST /v1/keystores/1/accounts "{\"name\":\"$name\",\"policies\":[\"kms-user\"]}"
  expect 201
  accounts+=("$(jq -r .account.id <<<"$body")")
done
for role in manager encryptor decryptor encryptor-decryptor reviewer; do
  run POST "/v1/keys/$ptag/grants" "{\"account\":${accounts[0]},\"role\":\"$role\"}"
  expect 201
done
for a in "${accounts[@]:1}"; do
  run POST "/v1/keys/$ptag/grants" "{\"account\":$a,\"role\":\"reviewer\"}"
  expect 201
done
run GET "/v1/keys/$ptag/grants?limit=1000"
expect 200
jq -c '.grants[] | {account, role}' <<<"$body" >"$work/grants.all"
[[ $(wc -l <"$work/grants.all") == 7 && $(jq -r .next <<<"$body") == null ]] ||
  fail "grants in one page: $body"
[[ $(jq -sr '[.[0:5][].role] | join(" ")' "$work/grants.all") == \
  'decryptor encryptor encryptor-decryptor manager reviewer' ]] || fail "grant order: $body"
for limit in 1 2 3 6 7; do
  page_all "/v1/keys/$ptag/grants?limit=$limit" grants
  jq -c '{account, role}' "$work/items" | cmp -s - "$work/grants.all" ||
    fail "grants by $limit differ from the whole list: $(cat "$work/items")"
  [[ $pages == $(((7 + limit - 1) / limit)) ]] || fail "grants by $limit: $pages pages"
done
# The same errors as for the keys: a limit out of range, a cursor the server did not write.
for query in limit=0 limit=1001 limit=-1 limit=ten next=c1 next=c10000000000000000 \
  next=c1000000000000000g next=c2000000000000000a next=C1000000000000000A; do
  for list in versions grants; do
    run GET "/v1/keys/$ptag/$list?$query"
    expect 400 BadRequest
  done
done
# A well-formed cursor that names no place in a list of grants (role 0, 6, 7; account 0).
for pos in $((accounts[0] * 8)) $((accounts[0] * 8 + 6)) $((accounts[0] * 8 + 7)) 3; do
  run GET "/v1/keys/$ptag/grants?next=$(printf 'c1%016x' "$pos")"
  expect 400 BadRequest
  [[ $(jq -r .error.message <<<"$body") == '"next" is not a cursor of this list' ]] ||
    fail "cursor $pos: $body"
done
# A cursor of another key's list places this key's list and shows nothing of the other key.
run GET "/v1/keys/$ptag/versions?limit=1"
run GET "/v1/keys/$tag/versions?next=$(jq -r .next <<<"$body")"
expect 200
[[ $(jq -c '[.versions[].version]' <<<"$body") == '[2]' ]] || fail "another key's cursor: $body"
# Whatever the page, the operator is refused and an unknown key is not found.
run GET "/v1/keys/$ptag/grants?limit=1" "" "$operator"
expect 403 Forbidden
run GET "/v1/keys/0123456789abcdef0123456789abcdef/versions?limit=1"
expect 404 NotFound

# The audit chain verifies.
run POST /v1/audit/verify '' "$operator"
expect 200
[[ $(jq -r .ok <<<"$body") == true ]] || fail "audit verify: $body"

# Audit records and usage history give results as the error codes the calls answered with.
run GET "/v1/audit?key=$tag&limit=1000"
expect 200
results=" $(jq -r '[.records[].result] | unique | join(" ")' <<<"$body") "
for want in ok InvalidCiphertext KeyDisabled; do
  [[ $results == *" $want "* ]] || fail "no $want among the audit results:$results"
done
[[ $results != *KH_* ]] || fail "internal names among the audit results:$results"
run GET "/v1/audit?limit=1000" "" "$operator"
expect 200
jq -e '[.records[] | select(.operation == "key.encrypt" and .principal == "operator")] |
  length > 0 and all(.result == "Forbidden")' <<<"$body" >/dev/null ||
  fail "the operator's refused encrypt is not Forbidden in the audit log: $body"
run GET "/v1/keys/$tag/history"
expect 200
results=" $(jq -r '[.history[].result] | unique | join(" ")' <<<"$body") "
[[ $results == *" KeyDisabled "* && $results == *" InvalidCiphertext "* &&
  $results != *KH_* ]] || fail "usage history results:$results"

# Seal and unseal over the API.
run POST /v1/sys/seal '' "$operator"
expect 200
run GET /v1/sys/health "" ""
expect 503
run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}'
expect 503 Sealed
run POST /v1/sys/unseal "{\"share\":\"$(cat "$work/var/dev-unseal")\",\"reset\":true}" ""
expect 400 BadRequest
run POST /v1/sys/unseal "{\"share\":\"$(cat "$work/var/dev-unseal")\"}" ""
expect 200
[[ $(jq -r .sealed <<<"$body") == false ]] || fail "unseal: $body"
run POST /v1/sys/unseal '{"share":"AAAA"}' ""
expect 200 # already unsealed: nothing to do

# HEAD is GET without the body, for load balancers that check with HEAD.
head=$(curl -sS --head --cacert "$work/var/tls/ca.pem" -o "$work/head.body" \
  -w '%{http_code} %{size_download}' "$url/v1/sys/health")
[[ $head == "200 0" ]] || fail "HEAD /v1/sys/health: $head"
grep -qi '^content-type: application/json' < <(curl -sS -I --cacert "$work/var/tls/ca.pem" \
  "$url/v1/sys/health") || fail "HEAD /v1/sys/health: no JSON content type"

# SIGHUP reloads the certificate.
kill -HUP "$pid"
for _ in $(seq 1 100); do
  grep -q 'TLS certificate reloaded' "$work/err.log" && break
  sleep 0.05
done
grep -q 'TLS certificate reloaded' "$work/err.log" || fail "no reload after SIGHUP"
run GET /v1/sys/health "" ""
expect 200

# kill -9 loses nothing acknowledged: the key, its rotation, and its ciphertexts survive.
run POST /v1/keys '{"name":"durable"}'
expect 201
dtag=$(jq -r .tag <<<"$body")
run POST "/v1/keys/$dtag/encrypt" '{"plaintext":"ZHVyYWJsZQ=="}'
dct=$(jq -r .ciphertext <<<"$body")
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=
start
run POST "/v1/keys/$dtag/decrypt" "{\"ciphertext\":\"$dct\"}"
expect 200
[[ $(jq -r .plaintext <<<"$body") == ZHVyYWJsZQ== ]] || fail "after kill -9: $body"
run GET "/v1/keys/$tag"
[[ $(jq -r .current_version <<<"$body") == 2 ]] || fail "rotation lost: $body"

# Answers go out only once their records are durable, also when many are in flight (the
# records are committed in groups after the handlers return): kill -9 under load, then every
# encryption that was answered 200 is counted in the key's usage.
for i in $(seq 1 400); do echo "$i"; done >"$work/load.in"
xargs -P 16 -I{} curl -s -o /dev/null -w '%{http_code}\n' --cacert "$work/var/tls/ca.pem" \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary '{"plaintext":"bG9hZA=="}' "$url/v1/keys/$dtag/encrypt" \
  <"$work/load.in" >"$work/load.out" 2>/dev/null &
load_pid=$!
sleep 1
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
pid=
wait "$load_pid" || true
answered=$(grep -c '^200$' "$work/load.out" || true)
start
run GET "/v1/keys/$dtag"
used=$(jq -r .usage_count <<<"$body")
# The one encryption before the first kill, and every answered one since.
((used >= answered + 1)) || fail "answered $answered encryptions, usage_count is $used"
((answered > 0)) || fail "no encryption answered before the kill"
run POST /v1/audit/verify "" "$operator"
[[ $(jq -r .ok <<<"$body") == true ]] || fail "audit chain after kill -9 under load: $body"

# Verification walks the one chain of every tenant. The operator gets the whole chain's
# figures; a manager only its key store's records: how many verified, and where the chain
# breaks only when that is one of its own records.
run GET "/v1/audit?limit=1000"
expect 200
[[ $(jq -r .next <<<"$body") == null ]] || fail "more than one page of audit records"
jq '[.records[].seq]' <<<"$body" >"$work/mine.json"
mine=$(jq length "$work/mine.json")
run POST /v1/audit/verify
expect 200
[[ $(jq -c . <<<"$body") == "{\"ok\":true,\"checked\":$mine}" ]] ||
  fail "a manager's verify should count its $mine records: $body"
run POST /v1/audit/verify '' "$operator"
expect 200
[[ $(jq -r .ok <<<"$body") == true && $(jq .checked <<<"$body") -gt $mine ]] ||
  fail "the operator's verify should count every record: $body"
# Someone with the database file edits a system record, then one of the key store's.
forge() { # forge SEQ: edits that record's detail with the server stopped
  kill -TERM "$pid"
  wait "$pid" || fail "keyholdd exited with $? on SIGTERM"
  pid=
  sqlite3 "$work/var/keyhold.db" "UPDATE audit SET detail = '{\"forged\":1}' WHERE seq = $1" ||
    fail "sqlite3 could not edit record $1"
  start
}
sys_seq=$(sqlite3 "$work/var/keyhold.db" \
  "SELECT MAX(seq) FROM audit WHERE keystore_id = 0 AND seq > $(jq 'min' "$work/mine.json")")
[[ $sys_seq =~ ^[0-9]+$ ]] || fail "no system record after the key store's first"
forge "$sys_seq"
before=$(jq --argjson s "$sys_seq" '[.[] | select(. < $s)] | length' "$work/mine.json")
run POST /v1/audit/verify
expect 200
[[ $(jq -c . <<<"$body") == "{\"ok\":false,\"checked\":$before}" ]] ||
  fail "a break in a system record, to a manager: $body"
run POST /v1/audit/verify '' "$operator"
expect 200
[[ $(jq -r .ok <<<"$body") == false && $(jq .first_bad_seq <<<"$body") == "$sys_seq" ]] ||
  fail "a break in a system record, to the operator: $body"
own_seq=$(jq 'min' "$work/mine.json")
forge "$own_seq"
run POST /v1/audit/verify
expect 200
[[ $(jq -r .ok <<<"$body") == false && $(jq .first_bad_seq <<<"$body") == "$own_seq" ]] ||
  fail "a break in the key store's own record, to its manager: $body"
run POST /v1/audit/verify '' "$operator"
[[ $(jq .first_bad_seq <<<"$body") == "$own_seq" ]] || fail "the operator: $body"

# SIGTERM stops cleanly.
kill -TERM "$pid"
wait "$pid" || fail "keyholdd exited with $? on SIGTERM"
pid=
echo "ok: dev server integration"
