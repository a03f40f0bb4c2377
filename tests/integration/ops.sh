#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Operations, against the real keyholdd in development mode with a configuration file that
# lowers the rate limit (10/s, burst 20) and the first webhook retry (1 s):
#  - GET /metrics: no token, text format 0.0.4 line by line, counters and gauges that move with
#    the requests made, the seal state;
#  - the per-principal rate limit: 429 TooManyRequests with Retry-After, one account's bucket
#    independent of another's, refilled after a second; failed authentications limited by
#    address; health and metrics never limited;
#  - webhooks end to end with webhook_sink (500 to its first request, 204 after): set, read
#    (never the secret), refused URLs and callers, deliveries signed as documented (the
#    signature recomputed with openssl), a retry after the failure, the grantee told when a
#    manager disables a granted key, nothing delivered after the webhook is deleted, and the
#    secret never in clear in the database or the log.
set -euo pipefail

keyholdd=$1
sink=$2
source "$(dirname "$0")/lib.sh"
init_work ops

cat >"$work/keyholdd.json" <<'EOF'
{"rate_limit_rps": 2, "rate_limit_burst": 20, "webhook_retry_seconds": 1}
EOF
start_keyholdd --config keyholdd.json
url=https://127.0.0.1:$port
ca=$work/var/tls/ca.pem
token=$(cat "$work/var/dev-token")
operator=$(cat "$work/var/operator-token")

# call METHOD PATH [BODY] [TOKEN] -> $status, $body, headers in $work/headers. A 429 is waited
# out (Retry-After) and retried, so that only the tests of the limit itself see it.
call() {
  local method=$1 path=$2 data=${3:-} tok=${4-$token}
  local args=(-sS -o "$work/body" -D "$work/headers" -w '%{http_code}' --cacert "$ca" -X "$method")
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  for _ in 1 2 3 4 5; do
    status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
    [[ $status == 429 ]] || break
    sleep "$(header Retry-After)"
  done
  body=$(cat "$work/body")
}
# once METHOD PATH [BODY] [TOKEN]: the same without retrying a 429.
once() {
  local method=$1 path=$2 data=${3:-} tok=${4-$token}
  local args=(-sS -o "$work/body" -D "$work/headers" -w '%{http_code}' --cacert "$ca" -X "$method")
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}
header() { grep -i "^$1:" "$work/headers" | head -n1 | cut -d: -f2- | tr -d ' \r'; }
expect() { # expect STATUS [CODE]
  [[ $status == "$1" ]] || fail "$what: status $status, wanted $1: $body"
  if [[ -n ${2:-} ]]; then
    [[ $(jq -r .error.code <<<"$body") == "$2" ]] || fail "$what: code in $body, wanted $2"
  fi
}
run() { what="$1 $2"; call "$@"; }

# ---- /metrics ----

metrics() {
  curl -sS --cacert "$ca" -D "$work/mheaders" -o "$work/metrics" "$url/metrics" ||
    fail "GET /metrics"
}
# metric 'NAME{LABELS}' -> its value (0 when absent)
metric() {
  awk -v want="$1" 'substr($0, 1, length(want) + 1) == want " " { print $2; found = 1 }
    END { if (!found) print 0 }' "$work/metrics"
}

metrics
grep -qi '^content-type: text/plain; version=0.0.4' "$work/mheaders" ||
  fail "/metrics content type: $(cat "$work/mheaders")"
# Every line is a HELP, a TYPE or a sample; every sampled family was typed first.
awk '
  /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { next }
  /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram)$/ { typed[$3] = 1; next }
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? ([0-9]+(\.[0-9]+)?|\+Inf)$/ {
    name = $0; sub(/[{ ].*/, "", name)
    fam = name; sub(/_(bucket|sum|count)$/, "", fam)
    if (!(name in typed) && !(fam in typed)) { print "untyped: " $0; bad = 1 }
    next
  }
  { print "bad line: " $0; bad = 1 }
  END { exit bad }' "$work/metrics" || fail "/metrics is not in the text format"
[[ $(metric keyhold_sealed) == 0 && $(metric keyhold_initialized) == 1 ]] ||
  fail "seal gauges: $(grep -E '^keyhold_(sealed|initialized)' "$work/metrics")"
enc='keyhold_http_requests_total{method="POST",route="/v1/keys/{}/encrypt",code="2xx"}'
enc_count='keyhold_http_request_duration_seconds_count{method="POST",route="/v1/keys/{}/encrypt"}'
enabled_before=$(metric 'keyhold_keys{state="enabled"}')
writes_before=$(metric keyhold_store_writes_total)
[[ $(metric "$enc") == 0 ]] || fail "encrypt counted before any encrypt"

run POST /v1/keys '{"name":"metered"}'
expect 201
tag=$(jq -r .tag <<<"$body")
for _ in 1 2 3; do
  run POST "/v1/keys/$tag/encrypt" '{"plaintext":"aGk="}'
  expect 200
done
run POST /v1/keys/0123456789abcdef0123456789abcdef/encrypt '{"plaintext":"aGk="}'
expect 404 NotFound
metrics
[[ $(metric "$enc") == 3 ]] || fail "encrypt 2xx: $(metric "$enc"), wanted 3"
[[ $(metric "${enc/2xx/4xx}") == 1 ]] || fail "encrypt 4xx: $(metric "${enc/2xx/4xx}")"
[[ $(metric "$enc_count") == 4 ]] || fail "encrypt latency count: $(metric "$enc_count")"
inf='keyhold_http_request_duration_seconds_bucket{method="POST",route="/v1/keys/{}/encrypt",le="+Inf"}'
[[ $(metric "$inf") == 4 ]] || fail "+Inf bucket: $(metric "$inf")"
[[ $(metric 'keyhold_keys{state="enabled"}') == $((enabled_before + 1)) ]] ||
  fail "enabled keys: $(metric 'keyhold_keys{state="enabled"}'), wanted $((enabled_before + 1))"
(($(metric keyhold_store_writes_total) > writes_before)) || fail "store writes did not move"
(($(metric keyhold_store_commits_total) > 0)) || fail "no store commits"
(($(metric keyhold_key_cache_entries) >= 1)) || fail "key cache: $(metric keyhold_key_cache_entries)"
[[ $(metric 'keyhold_http_requests_total{method="GET",route="/metrics",code="2xx"}') -ge 1 ]] ||
  fail "/metrics does not count itself"

# Sealed shows; metrics and health still answer while sealed.
run POST /v1/sys/seal '' "$operator"
expect 200
metrics
[[ $(metric keyhold_sealed) == 1 ]] || fail "keyhold_sealed while sealed: $(metric keyhold_sealed)"
run POST /v1/sys/unseal "{\"share\":\"$(cat "$work/var/dev-unseal")\"}" ""
expect 200
metrics
[[ $(metric keyhold_sealed) == 0 ]] || fail "keyhold_sealed after unseal"

# ---- the rate limit ----

# new_account NAME POLICY -> $acct (id) and $acct_token
new_account() {
  run POST /v1/keystores/1/accounts "{\"name\":\"$1\",\"policies\":[\"$2\"]}"
  expect 201
  acct=$(jq -r .account.id <<<"$body")
  acct_token=$(jq -r .token <<<"$body")
}
new_account carol kms-user
carol=$acct_token
new_account dave kms-user
dave=$acct_token

# 60 requests on one connection, far faster than 2/s: the burst of 20 passes (and the tokens
# that dripped in meanwhile, 2 a second even on a loaded machine), the rest is refused.
urls=()
for _ in $(seq 1 60); do urls+=(-o /dev/null "$url/v1/keys"); done
curl -sS --cacert "$ca" -H "Authorization: Bearer $carol" -w '%{http_code}\n' "${urls[@]}" \
  >"$work/codes"
ok=$(grep -c '^200$' "$work/codes" || true)
limited=$(grep -c '^429$' "$work/codes" || true)
((ok >= 20 && ok <= 30 && ok + limited == 60)) || fail "60 requests: $ok ok, $limited limited"
what="GET /v1/keys over the limit"
# At most a token or two can drip in before the next requests: one of a few is refused.
for _ in 1 2 3 4 5; do
  once GET /v1/keys "" "$carol"
  [[ $status == 429 ]] && break
done
expect 429 TooManyRequests
[[ $(header Retry-After) =~ ^[1-9][0-9]*$ ]] || fail "Retry-After: $(cat "$work/headers")"
[[ -n $(header X-Request-Id) ]] || fail "429 without X-Request-Id"
# Another account has its own bucket; health and metrics are not limited.
what="another account"
once GET /v1/keys "" "$dave"
expect 200
for _ in $(seq 1 30); do
  once GET /v1/sys/health "" ""
  [[ $status == 200 ]] || fail "health got $status under load"
done
metrics
(($(metric keyhold_rate_limited_total) >= limited + 1)) ||
  fail "rate limited total $(metric keyhold_rate_limited_total), wanted >= $((limited + 1))"
# After Retry-After, the bucket has refilled.
sleep 1.1
what="after Retry-After"
once GET /v1/keys "" "$carol"
expect 200
# Guessing tokens is limited by address.
bad="kh_$(printf '0%.0s' $(seq 64))"
curl -sS --cacert "$ca" -H "Authorization: Bearer $bad" -w '%{http_code}\n' "${urls[@]}" \
  >"$work/codes"
grep -q '^401$' "$work/codes" || fail "bad tokens: no 401 at all"
grep -q '^429$' "$work/codes" || fail "bad tokens: never limited"
sleep 2.1 # let the address bucket refill for what follows

# ---- webhooks ----

mkdir "$work/hooks"
"$sink" "$work/hooks" >"$work/sink.port" 2>"$work/sink.err" &
pids+=("$!")
for _ in $(seq 1 100); do
  [[ -s $work/sink.port ]] && break
  sleep 0.05
done
sink_port=$(head -n1 "$work/sink.port")
[[ $sink_port =~ ^[0-9]+$ ]] || fail "webhook_sink did not start"
hook_url="http://127.0.0.1:$sink_port/hook"
secret='s3cret-webhook-key-0123456789'

new_account alice kms-user
alice=$acct
alice_token=$acct_token
new_account bob kms-user
bob_token=$acct_token

run PUT "/v1/accounts/$alice/webhook" "{\"url\":\"$hook_url\",\"secret\":\"$secret\"}" "$alice_token"
expect 200
[[ $(jq -r .url <<<"$body") == "$hook_url" ]] || fail "webhook set: $body"
[[ $(jq 'has("secret")' <<<"$body") == false ]] || fail "the secret came back: $body"
run GET "/v1/accounts/$alice/webhook" "" "$alice_token"
expect 200
[[ $(jq -r '.url, has("secret")' <<<"$body" | paste -sd' ') == "$hook_url false" ]] ||
  fail "webhook read: $body"
# The key store's manager and the operator may read it; another user may not; other key
# stores and unknown accounts see nothing.
run GET "/v1/accounts/$alice/webhook"
expect 200
run GET "/v1/accounts/$alice/webhook" "" "$operator"
expect 200
run GET "/v1/accounts/$alice/webhook" "" "$bob_token"
expect 403 Forbidden
run PUT "/v1/accounts/$alice/webhook" "{\"url\":\"$hook_url\",\"secret\":\"$secret\"}" "$bob_token"
expect 403 Forbidden
run GET /v1/accounts/999999/webhook
expect 404 NotFound
# URLs and secrets that are refused.
for u in "http://192.0.2.1/hook" "https://user:pw@example.com/x" "ftp://example.com/x" \
  "https://example.com/x#f"; do
  run PUT "/v1/accounts/$alice/webhook" "{\"url\":\"$u\",\"secret\":\"$secret\"}" "$alice_token"
  expect 400 BadRequest
done
run PUT "/v1/accounts/$alice/webhook" "{\"url\":\"$hook_url\",\"secret\":\"short\"}" "$alice_token"
expect 400 BadRequest
long=$(printf 'a%.0s' $(seq 600))
run PUT "/v1/accounts/$alice/webhook" "{\"url\":\"https://example.com/$long\",\"secret\":\"$secret\"}" "$alice_token"
expect 413 PayloadTooLarge
run PUT "/v1/accounts/$alice/webhook" "{\"url\":\"$hook_url\"}" "$alice_token"
expect 400 BadRequest
run GET "/v1/accounts/$alice/webhook" "" "$alice_token"
[[ $(jq -r .url <<<"$body") == "$hook_url" ]] || fail "a refused change changed the webhook"

# A manager grants alice a key, then disables it: both are events for alice.
run POST /v1/keys '{"name":"shared"}'
expect 201
shared=$(jq -r .tag <<<"$body")
run POST "/v1/keys/$shared/grants" "{\"account\":$alice,\"role\":\"encryptor\"}"
expect 201
run POST "/v1/keys/$shared/disable"
expect 200

# Delivered in the background: the first attempt fails (500), the retry a second later works.
for _ in $(seq 1 150); do
  metrics
  [[ $(metric keyhold_notifications_pending) == 0 ]] && break
  sleep 0.1
done
[[ $(metric keyhold_notifications_pending) == 0 ]] || fail "notifications still pending"
# hdr N NAME: a header of recorded request N.
hdr() { grep -i "^$2:" "$work/hooks/$1.head" | head -n1 | cut -d: -f2- | tr -d ' \r'; }
count=$(find "$work/hooks" -name '*.head' | wc -l)
((count >= 3)) || fail "webhook_sink has $count requests, wanted a failure and two deliveries"
for n in $(seq 1 "$count"); do
  h=$work/hooks/$n
  head -n1 "$h.head" | grep -q '^POST /hook HTTP/1.1' || fail "request $n: $(head -n1 "$h.head")"
  [[ $(hdr "$n" Content-Type) == application/json ]] || fail "request $n content type"
  jq -e . "$h.body" >/dev/null || fail "request $n body is not JSON: $(cat "$h.body")"
  [[ $(jq -r 'keys_unsorted | join(",")' "$h.body") == id,time,event,key,detail ]] ||
    fail "request $n members: $(cat "$h.body")"
  [[ $(hdr "$n" X-Keyhold-Event) == $(jq -r .event "$h.body") ]] || fail "request $n event header"
  [[ $(hdr "$n" X-Keyhold-Delivery) == $(jq -r .id "$h.body") ]] || fail "request $n delivery id"
  [[ $(jq -r .key "$h.body") == "$shared" ]] || fail "request $n key: $(cat "$h.body")"
  ts=$(hdr "$n" X-Keyhold-Timestamp)
  now=$(date +%s)
  [[ $ts =~ ^[0-9]+$ ]] && ((ts <= now && ts > now - 60)) || fail "request $n timestamp $ts"
  want=$({ printf '%s.' "$ts"; cat "$h.body"; } | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
  [[ $(hdr "$n" X-Keyhold-Signature) == "sha256=$want" ]] ||
    fail "request $n signature $(hdr "$n" X-Keyhold-Signature), wanted sha256=$want"
done
# The delivery that got the 500 came again; both events reached alice after the failure.
first_id=$(hdr 1 X-Keyhold-Delivery)
retried=$(grep -l "^X-Keyhold-Delivery: $first_id" "$work/hooks"/*.head | wc -l)
((retried >= 2)) || fail "the failed delivery $first_id was not retried"
for ev in key.grant_added key.disabled; do
  found=
  for n in $(seq 2 "$count"); do
    [[ $(jq -r .event "$work/hooks/$n.body") == "$ev" ]] && found=$n
  done
  [[ -n $found ]] || fail "no $ev delivered after the failure"
done
run GET /v1/notifications "" "$alice_token"
expect 200
[[ $(jq -r '[.notifications[].event] | index("key.disabled") != null' <<<"$body") == true ]] ||
  fail "alice's inbox: $body"

# Deleted: no more deliveries, the inbox still fills.
run DELETE "/v1/accounts/$alice/webhook" "" "$alice_token"
expect 200
[[ $(jq -r .deleted <<<"$body") == true ]] || fail "delete: $body"
run DELETE "/v1/accounts/$alice/webhook" "" "$alice_token"
expect 404 NotFound
run GET "/v1/accounts/$alice/webhook" "" "$alice_token"
expect 404 NotFound
count=$(find "$work/hooks" -name '*.head' | wc -l)
run POST "/v1/keys/$shared/enable"
expect 200
sleep 2.5
[[ $(find "$work/hooks" -name '*.head' | wc -l) == "$count" ]] || fail "delivered after delete"
run GET /v1/notifications "" "$alice_token"
[[ $(jq -r '.notifications[0].event' <<<"$body") == key.enabled ]] || fail "inbox: $body"
metrics
[[ $(metric keyhold_notifications_pending) == 0 ]] || fail "an inbox-only notice stays pending"

# The secret is sealed: never in clear in the database, its WAL or the log.
for f in "$work/var/keyhold.db" "$work/var/keyhold.db-wal" "$work/err.log" "$work/out.log"; do
  [[ -e $f ]] || continue
  ! grep -qa "$secret" "$f" || fail "the webhook secret is in clear in $f"
done

kill -TERM "$pid"
wait "$pid" || fail "keyholdd exited with $? on SIGTERM"
pid=
echo "ok: metrics, rate limit, webhooks"
