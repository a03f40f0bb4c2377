#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# docs/openapi.yaml describes the server that is built: every (method, path) of the yaml is a
# route of `keyholdd --routes` and every route is in the yaml (path parameters compared as {});
# then, against the real keyholdd in development mode, the answers of a handful of operations
# have the status the yaml lists for them, X-Request-Id, every member the yaml's response
# schema requires, and no member it does not list (nested objects and array items included).
# Only bash, awk, grep, sed, curl and jq: the yaml is read by its regular layout (see its
# header), not by a YAML parser.
#
# An operation marked `x-keyhold-pending: true` (being implemented) may be missing from the
# server; once the server has it, the test says so, and the mark should go.
set -euo pipefail

keyholdd=$1
yaml=$2
source "$(dirname "$0")/lib.sh"
init_work openapi

[[ -r $yaml ]] || fail "cannot read $yaml"

# ---- the yaml, read by its layout ----

# "METHOD /path" for every operation (parameters as {}); "pending METHOD /path" for the ones
# marked x-keyhold-pending.
yaml_operations() {
  awk '
    /^[^ ]/ { inpaths = ($0 == "paths:"); next }
    !inpaths { next }
    /^  \/[^ ]*:$/ { path = $1; sub(/:$/, "", path); gsub(/\{[^}\/]*\}/, "{}", path); next }
    /^    (get|put|post|patch|delete|head|options|trace):$/ {
      op = toupper(substr($1, 1, length($1) - 1)) " " path
      print op
      next
    }
    /^      x-keyhold-pending: true$/ { print "pending " op }
  ' "$yaml"
}

# The $refs (to components/schemas or components/responses) of one response of one operation,
# and "oneOf" when its body is a choice: response_refs METHOD PATH STATUS (PATH with {}).
response_refs() {
  awk -v want_method="${1,,}" -v want_path="$2" -v want_status="$3" '
    /^[^ ]/ { inpaths = ($0 == "paths:"); next }
    !inpaths { next }
    /^  \/[^ ]*:$/ {
      path = $1; sub(/:$/, "", path); gsub(/\{[^}\/]*\}/, "{}", path); method = ""; next
    }
    /^    [a-z]+:$/ { method = $1; sub(/:$/, "", method); inresp = 0; status = ""; next }
    /^      responses:$/ { inresp = 1; status = ""; next }
    /^      [^ ]/ { inresp = 0; next }
    !inresp || path != want_path || method != want_method { next }
    /^        [^ ]/ { status = $1; gsub(/[^0-9]/, "", status); next }
    status != want_status { next }
    /oneOf:/ { print "oneOf" }
    /\$ref: / { r = $0; sub(/.*\$ref: */, "", r); gsub(/[^A-Za-z0-9_\/#]/, "", r); print r }
  ' "$yaml" | grep -E '^(oneOf$|#/components/(schemas|responses)/)' || true
}

# The lines of components/SECTION/NAME, its own line excluded: component_block SECTION NAME.
component_block() {
  awk -v want_section="$1:" -v want="$2" '
    /^[^ ]/ { incomp = ($0 == "components:"); next }
    !incomp { next }
    /^  [^ ]/ { section = $1; name = ""; next }
    /^    [^ ]/ { name = $1; sub(/:$/, "", name); next }
    section == want_section && name == want { print }
  ' "$yaml"
}

# The $refs to schemas of a components/responses entry, and "oneOf" when its body is a choice.
component_response_refs() {
  component_block responses "$1" | awk '
    /oneOf:/ { print "oneOf" }
    /\$ref: / { r = $0; sub(/.*\$ref: */, "", r); gsub(/[^A-Za-z0-9_\/#]/, "", r); print r }
  ' | grep -E '^(oneOf$|#/components/schemas/)' || true
}

# The error codes a components/responses entry allows (its flow-style `enum: [...]`).
component_response_codes() {
  component_block responses "$1" | sed -n 's/^ *enum: \[\(.*\)\]$/\1/p' | sed 's/, */\n/g' |
    grep -v '^$' || true
}

schema_block() {
  component_block schemas "$1"
}

# Members a schema block requires (its flow-style `required: [a, b]`), one a line.
required_of() {
  sed -n 's/^      required: \[\(.*\)\]$/\1/p' <<<"$1" | sed 's/, */\n/g' | grep -v '^$' || true
}

# Members a schema block lists under `properties:`, one a line.
properties_of() {
  awk '
    /^      properties:$/ { p = 1; next }
    /^      [^ ]/ { p = 0 }
    p && /^        [^ ]/ { n = $1; sub(/:$/, "", n); print n }
  ' <<<"$1"
}

# Members holding objects of a known schema: "obj MEMBER SCHEMA" for a $ref, "arr MEMBER
# SCHEMA[|SCHEMA...]" for an array whose items are a $ref or a oneOf of $refs.
nested_of() {
  awk '
    function name_of(line) {
      sub(/.*\/schemas\//, "", line); gsub(/[^A-Za-z0-9_]/, "", line); return line
    }
    function flush() { if (prop != "" && items != "") print "arr", prop, items; items = "" }
    /^      properties:$/ { p = 1; next }
    /^      [^ ]/ { flush(); p = 0 }
    !p { next }
    /^        [^ ]/ { flush(); prop = $1; sub(/:$/, "", prop); initems = 0; next }
    /^          [^ ]/ { initems = ($1 == "items:") }
    /^          \$ref: / { print "obj", prop, name_of($0); next }
    initems && /\$ref: / { items = items (items == "" ? "" : "|") name_of($0) }
    END { flush() }
  ' <<<"$1"
}

# check_schema FILE JQPATH SCHEMA: problems on stdout; status 1 when there are any.
check_schema() {
  local file=$1 at=$2 schema=$3 block props k kind prop refs n i r bad=0
  block=$(schema_block "$schema")
  [[ -n $block ]] || {
    echo "schema $schema is not in components/schemas"
    return 1
  }
  [[ $(jq -r "$at | type" "$file") == object ]] || {
    echo "$at is not an object ($schema)"
    return 1
  }
  for k in $(required_of "$block"); do
    if ! jq -e --arg k "$k" "$at | has(\$k)" "$file" >/dev/null; then
      echo "$at lacks \"$k\", which $schema requires"
      bad=1
    fi
  done
  props=$(properties_of "$block")
  for k in $(jq -r "$at | keys[]" "$file"); do
    if ! grep -qxF -- "$k" <<<"$props"; then
      echo "$at has \"$k\", which $schema does not list"
      bad=1
    fi
  done
  while read -r kind prop refs; do
    case $kind in
    obj)
      if [[ $(jq -r --arg p "$prop" "$at | .[\$p] | type" "$file") == object ]]; then
        check_schema "$file" "${at}[\"$prop\"]" "$refs" || bad=1
      fi
      ;;
    arr)
      n=$(jq -r --arg p "$prop" "$at | .[\$p] | if type == \"array\" then length else 0 end" \
        "$file")
      for ((i = 0; i < n && i < 5; i++)); do
        [[ $(jq -r --arg p "$prop" "$at | .[\$p][$i] | type" "$file") == object ]] || continue
        # One of the item schemas must fit.
        local fits=0 why=""
        for r in ${refs//|/ }; do
          if why+=$(check_schema "$file" "${at}[\"$prop\"][$i]" "$r")$'\n'; then
            fits=1
            break
          fi
        done
        if [[ $fits == 0 ]]; then
          echo "${at}[\"$prop\"][$i] fits none of $refs:"$'\n'"$why"
          bad=1
        fi
      done
      ;;
    esac
  done < <(nested_of "$block")
  return $bad
}

# check_response METHOD PATH: the last answer ($status, $work/body, $work/headers) against
# the yaml's response for that status.
checked=0
check_response() {
  local method=$1 path=$2 refs schemas=() r s one_of=0 problems="" ok codes code
  grep -qi '^X-Request-Id: [A-Za-z0-9._-]' "$work/headers" ||
    fail "$method $path: no X-Request-Id in the answer"
  refs=$(response_refs "$method" "$path" "$status")
  [[ -n $refs ]] ||
    fail "$method $path answered $status, which the yaml does not list: $(cat "$work/body")"
  # A 204 has no body: the yaml says so with components/responses/NoContent.
  if [[ $status == 204 || $refs == '#/components/responses/NoContent' ]]; then
    [[ $status == 204 && $refs == '#/components/responses/NoContent' && ! -s $work/body ]] ||
      fail "$method $path $status: a 204 is NoContent in the yaml, and has no body"
    checked=$((checked + 1))
    return 0
  fi
  while read -r r; do
    case $r in
    oneOf) one_of=1 ;;
    '#/components/responses/'*)
      codes=$(component_response_codes "${r##*/}")
      code=$(jq -r '.error.code? // empty' "$work/body" 2>/dev/null || true)
      if [[ -n $codes ]] && ! grep -qxF -- "$code" <<<"$codes"; then
        fail "$method $path $status: code \"$code\" is not one of ${r##*/}'s: ${codes//$'\n'/ }"
      fi
      while read -r s; do
        case $s in
        oneOf) one_of=1 ;;
        *) schemas+=("${s##*/}") ;;
        esac
      done < <(component_response_refs "${r##*/}")
      ;;
    *) schemas+=("${r##*/}") ;;
    esac
  done <<<"$refs"
  [[ ${#schemas[@]} -gt 0 ]] || fail "$method $path $status: no response schema in the yaml"
  jq -e . "$work/body" >/dev/null 2>&1 || fail "$method $path $status: the body is not JSON"
  if [[ $one_of == 1 ]]; then
    ok=0
    for s in "${schemas[@]}"; do
      if problems+=$(check_schema "$work/body" . "$s")$'\n'; then
        ok=1
        break
      fi
    done
  else
    ok=1
    for s in "${schemas[@]}"; do
      problems+=$(check_schema "$work/body" . "$s")$'\n' || ok=0
    done
  fi
  [[ $ok == 1 ]] || fail "$method $path $status does not fit the yaml (${schemas[*]}):
$problems
answer: $(cat "$work/body")"
  checked=$((checked + 1))
}

# ---- 1. the routes of the yaml are the server's ----

"$keyholdd" --routes >"$work/served.raw" || fail "keyholdd --routes failed"
sort -u "$work/served.raw" >"$work/served"
[[ -s $work/served ]] || fail "keyholdd --routes printed nothing"
yaml_operations >"$work/ops"
grep -v '^pending ' "$work/ops" | sort -u >"$work/documented"
{ grep '^pending ' "$work/ops" || true; } | sed 's/^pending //' | sort -u >"$work/pending"
[[ -s $work/documented ]] || fail "no operation found in $yaml (is its layout still regular?)"

undocumented=$(grep -vxF -f "$work/documented" "$work/served" || true)
unserved=$(grep -vxF -f "$work/served" "$work/documented" | grep -vxF -f "$work/pending" || true)
waiting=$(grep -vxF -f "$work/served" "$work/pending" || true)
arrived=$(grep -xF -f "$work/served" "$work/pending" || true)
if [[ -n $undocumented || -n $unserved ]]; then
  [[ -z $undocumented ]] || echo "routes of keyholdd missing from $yaml:"$'\n'"$undocumented" >&2
  [[ -z $unserved ]] || echo "operations of $yaml that keyholdd does not serve:"$'\n'"$unserved" >&2
  fail "docs/openapi.yaml and keyholdd --routes disagree"
fi
[[ -z $waiting ]] || echo "note: pending in the yaml, not served yet:"$'\n'"$waiting"
[[ -z $arrived ]] || echo "note: served now, drop their x-keyhold-pending:"$'\n'"$arrived"
echo "ok: $(wc -l <"$work/served") routes of keyholdd match $yaml"

# ---- 2. the answers of the live server fit the yaml ----

start() {
  start_keyholdd
  url=https://127.0.0.1:$port
  token=$(cat "$work/var/dev-token")
  operator=$(cat "$work/var/operator-token")
}

# op METHOD PATTERN URL-PATH [BODY] [TOKEN]: calls the server and checks the answer against the
# yaml's operation PATTERN (path with {}); sets $status and $body.
op() {
  local method=$1 pattern=$2 path=$3 data=${4:-} tok=${5-$token}
  local args=(-sS -o "$work/body" -D "$work/headers" -w '%{http_code}'
    --cacert "$work/var/tls/ca.pem" -X "$method")
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
  check_response "$method" "$pattern" || exit 1
}

expect() {
  [[ $status == "$1" ]] || fail "status $status, wanted $1: $body"
}

start
op GET /v1/sys/health /v1/sys/health "" ""
expect 200
op POST /v1/keys /v1/keys '{"name":"shape","description":"for the OpenAPI test"}'
expect 201
tag=$(jq -r .tag <<<"$body")
op POST /v1/keys/{}/encrypt "/v1/keys/$tag/encrypt" '{"plaintext":"aGk=","context":"Y3R4"}'
expect 200
ct=$(jq -r .ciphertext <<<"$body")
op POST /v1/keys/{}/encrypt "/v1/keys/$tag/encrypt" '{"batch":[{"plaintext":"aGk="},{"plaintext":"!"}]}'
expect 200
op POST /v1/keys/{}/decrypt "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct\",\"context\":\"Y3R4\"}"
expect 200
op POST /v1/keys/{}/decrypt "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct\"}"
expect 400
op POST /v1/keys/{}/data-key "/v1/keys/$tag/data-key" '{"bits":128}'
expect 200
op GET /v1/keys/{} "/v1/keys/$tag"
expect 200
op POST /v1/keys /v1/keys '{"name":"shape-2"}'
op GET /v1/keys "/v1/keys?limit=1"
expect 200
[[ $(jq -r .next <<<"$body") != null ]] || fail "a first page of one key gave no next: $body"
op GET /v1/keys/{}/versions "/v1/keys/$tag/versions"
expect 200
op POST /v1/keys/{}/rotate "/v1/keys/$tag/rotate"
expect 200
op GET /v1/keys/{}/versions "/v1/keys/$tag/versions?limit=1"
expect 200
[[ $(jq -r .next <<<"$body") != null ]] || fail "a first page of one version gave no next: $body"
op POST /v1/keystores/{}/accounts /v1/keystores/1/accounts '{"name":"grantee","policies":["kms-user"]}'
expect 201
grantee=$(jq -r .account.id <<<"$body")
for role in reviewer decryptor; do
  op POST /v1/keys/{}/grants "/v1/keys/$tag/grants" "{\"account\":$grantee,\"role\":\"$role\"}"
  expect 201
done
op GET /v1/keys/{}/grants "/v1/keys/$tag/grants?limit=1"
expect 200
[[ $(jq -r .next <<<"$body") != null ]] || fail "a first page of one grant gave no next: $body"
op GET /v1/keys/{}/grants "/v1/keys/$tag/grants?next=$(jq -r .next <<<"$body")"
expect 200
[[ $(jq -r '.grants[0].role' <<<"$body") == reviewer ]] || fail "the second page of grants: $body"
op GET /v1/keys/{}/grants "/v1/keys/$tag/grants?limit=0"
expect 400
op GET /v1/keys/{}/history "/v1/keys/$tag/history"
expect 200
op POST /v1/random /v1/random '{"bytes":16}'
expect 200
op GET /v1/notifications /v1/notifications
expect 200
op POST /v1/keystores /v1/keystores '{"name":"shapes"}' "$operator"
expect 201
ks=$(jq -r .id <<<"$body")
op POST /v1/keystores/{}/accounts "/v1/keystores/$ks/accounts" \
  '{"name":"user","policies":["kms-user"]}' "$operator"
expect 201
op GET /v1/audit "/v1/audit?limit=3" "" "$operator"
expect 200
op POST /v1/audit/verify /v1/audit/verify "" "$operator"
expect 200
# XKS management: a store, a credential, a key, the lists, and the 204s.
op POST /v1/xks/stores /v1/xks/stores '{"prefix":"shapes/xks","region":"eu-west-1"}'
expect 201
xs=$(jq -r .id <<<"$body")
op POST /v1/xks/stores/{}/credentials "/v1/xks/stores/$xs/credentials"
expect 201
ak=$(jq -r .access_key_id <<<"$body")
op GET /v1/xks/stores/{}/credentials "/v1/xks/stores/$xs/credentials"
expect 200
op POST /v1/xks/stores/{}/keys "/v1/xks/stores/$xs/keys" \
  '{"external_key_id":"shape-1","usages":["encrypt","decrypt"],"users":["arn:aws:iam::*:role/app"]}'
expect 201
op POST /v1/xks/stores/{}/keys "/v1/xks/stores/$xs/keys" \
  "{\"external_key_id\":\"shape-2\",\"key\":\"$tag\",\"usages\":[]}"
expect 201
op GET /v1/xks/stores/{}/keys "/v1/xks/stores/$xs/keys?limit=1"
expect 200
[[ $(jq -r .next <<<"$body") != null ]] || fail "a first page of one XKS key gave no next: $body"
op PATCH /v1/xks/stores/{}/keys/{} "/v1/xks/stores/$xs/keys/shape-1" \
  '{"expires_at":"2099-01-01T00:00:00Z","enabled":false}'
expect 200
op GET /v1/xks/stores/{}/keys/{} "/v1/xks/stores/$xs/keys/shape-1"
expect 200
op PATCH /v1/xks/stores/{} "/v1/xks/stores/$xs" '{"quota_rps":100}'
expect 200
op GET /v1/xks/stores /v1/xks/stores
expect 200
op GET /v1/xks/stores/{} "/v1/xks/stores/$xs"
expect 200
op DELETE /v1/xks/stores/{} "/v1/xks/stores/$xs"
expect 409
op DELETE /v1/xks/stores/{}/credentials/{} "/v1/xks/stores/$xs/credentials/$ak"
expect 204
for k in shape-1 shape-2; do
  op DELETE /v1/xks/stores/{}/keys/{} "/v1/xks/stores/$xs/keys/$k"
  expect 204
done
op DELETE /v1/xks/stores/{} "/v1/xks/stores/$xs"
expect 204
op POST /v1/audit/verify /v1/audit/verify
expect 200
# Errors.
op GET /v1/keys/{} /v1/keys/0123456789abcdef0123456789abcdef
expect 404
op POST /v1/keys/{}/encrypt "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}' ""
expect 401
op POST /v1/keys/{}/encrypt "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}' "$operator"
expect 403
op POST /v1/keys/{}/disable "/v1/keys/$tag/disable"
expect 200
op POST /v1/keys/{}/encrypt "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}'
expect 409

kill -TERM "$pid"
wait "$pid" || fail "keyholdd exited with $? on SIGTERM"
pid=
echo "ok: $checked answers of keyholdd fit $yaml"
