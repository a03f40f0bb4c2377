#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The real keyhold CLI against the real keyholdd in development mode, on a free port of
# 127.0.0.1 over verified HTTPS: every command group, the exit code of each kind of failure
# (usage 2, 401/403 3, 404 4, other 4xx 5, sealed or unreachable 6), --json parsed with jq,
# paged lists followed page by page, secrets never taken from argv, and envelope encryption of a 20 MB file with tampering and
# truncation detected.
set -euo pipefail

keyholdd=$1
keyhold=$2
source "$(dirname "$0")/lib.sh"
init_work cli

start() {
  start_keyholdd
}

start
# A clean environment: no configuration file of the user running the tests.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
unset KEYHOLD_TOKEN KEYHOLD_TOKEN_FILE KEYHOLD_CONFIG KEYHOLD_ADDR KEYHOLD_CA_FILE
mkdir -p "$HOME"
export KEYHOLD_ADDR=https://127.0.0.1:$port KEYHOLD_CA_FILE=$work/var/tls/ca.pem
export KEYHOLD_TOKEN_FILE=$work/var/dev-token
op=(--token-file "$work/var/operator-token")

# kh EXIT ARGS...: runs keyhold with stdin from $in (default /dev/null); stdout in $out, stderr
# in $work/err; the exit code must be EXIT.
in=/dev/null
out=$work/out
kh() {
  local want=$1 got=0
  shift
  "$keyhold" "$@" <"$in" >"$out" 2>"$work/err" || got=$?
  [[ $got == "$want" ]] || fail "keyhold $*: exit $got, wanted $want"
  in=/dev/null
}
kh_json() { # kh_json ARGS... -> $json
  kh 0 --json "$@"
  json=$(cat "$out")
  jq -e . <<<"$json" >/dev/null || fail "keyhold --json $*: not JSON: $json"
}

# ---- local commands, usage errors, configuration ----
kh 0 version
grep -q '^keyhold ' "$out" || fail "version"
kh 0 --help
grep -q 'exit codes' "$out" || fail "--help has no exit codes"
for group in key grant operator keystore account token audit notifications envelope; do
  kh 0 "$group" --help
done
kh 0 key create --help
grep -q -- '--type' "$out" || fail "key create --help"
kh 2 frobnicate
kh 2 key frobnicate
kh 2 key
kh 2 key show
kh 2 key show a b
kh 2 key list --no-such-option
kh 2 key show 'a/b'
kh 2 key history x --limit 1000
kh 2 --addr http://192.0.2.1:80 key list   # plain http only to loopback
kh 2 --token-file "$work/missing" key list
echo 'token = kh_secret' >"$work/bad.conf"
KEYHOLD_CONFIG=$work/bad.conf kh 2 key list
grep -q 'token_file' "$work/err" || fail "a token in the config file is not explained"

# ---- keys ----
kh_json key create demo --description 'first key'
tag=$(jq -r .tag <<<"$json")
[[ $tag =~ ^[0-9a-f]{32}$ ]] || fail "tag $tag"
[[ $(jq -r .description <<<"$json") == 'first key' ]] || fail "description: $json"
kh 5 key create demo                       # 409: the name exists
kh 0 key show "$tag"
grep -q 'state *enabled' "$out" || fail "key show: $(cat "$out")"
kh 0 key list
grep -q "^$tag  demo" "$out" || fail "key list table: $(cat "$out")"
kh_json key list --state enabled --limit 10
[[ $(jq -r '.keys[0].tag' <<<"$json") == "$tag" ]] || fail "key list --json: $json"
kh_json key update "$tag" --rotation-days 30 --description renamed
[[ $(jq -r .description <<<"$json") == renamed ]] || fail "update: $json"
kh 2 key update "$tag"
kh 4 key show 0123456789abcdef0123456789abcdef
kh 4 encrypt 0123456789abcdef0123456789abcdef "$work/var/dev-token"

# ---- encrypt, decrypt (stdin and files, context), reencrypt ----
printf 'hello, world' >"$work/pt"
in=$work/pt kh 0 encrypt "$tag"
ct=$(cat "$out")
[[ $ct == kh:v1:* ]] || fail "ciphertext $ct"
echo "$ct" >"$work/ct0"
in=$work/ct0 kh 0 decrypt "$tag"
[[ $(cat "$out") == 'hello, world' ]] || fail "decrypt from stdin"
kh 0 encrypt "$tag" "$work/pt" -o "$work/ct" --context 'order 42'
kh 5 decrypt "$tag" "$work/ct"             # InvalidCiphertext: the context is missing
grep -q InvalidCiphertext "$work/err" || fail "no InvalidCiphertext in the message"
printf 'order 42' >"$work/ctx"
kh 0 decrypt "$tag" "$work/ct" --context-file "$work/ctx" -o "$work/pt.out"
cmp -s "$work/pt" "$work/pt.out" || fail "decrypt to a file"
[[ $(stat -c %a "$work/pt.out") == 600 ]] || fail "a plaintext file is not mode 0600"
head -c 40000 /dev/zero >"$work/big"
kh 1 encrypt "$tag" "$work/big"            # over 32 KiB: refused before sending
grep -q 'envelope' "$work/err" || fail "no hint at envelope encryption"
kh_json encrypt "$tag" "$work/pt"
[[ $(jq -r .ciphertext <<<"$json") == kh:v1:* ]] || fail "encrypt --json: $json"

# ---- rotation, versions, reencrypt, history ----
kh_json key rotate "$tag"
[[ $(jq -r .current_version <<<"$json") == 2 ]] || fail "rotate: $json"
in=$work/pt kh 0 encrypt "$tag"
[[ $(cat "$out") == kh:v2:* ]] || fail "after rotation: $(cat "$out")"
echo "$ct" >"$work/ct1"
kh 0 reencrypt "$tag" "$work/ct1"
[[ $(cat "$out") == kh:v2:* ]] || fail "reencrypt: $(cat "$out")"
cp "$out" "$work/ct2"
kh 0 key versions "$tag"
grep -q '^2 *enabled' "$out" || fail "versions: $(cat "$out")"
kh 5 key version-disable "$tag" 2          # the current version
kh 0 key version-disable "$tag" 1
kh 5 decrypt "$tag" "$work/ct1"            # 409 VersionDisabled
grep -q VersionDisabled "$work/err" || fail "no VersionDisabled"
kh 0 decrypt "$tag" "$work/ct2"
kh_json key version-enable "$tag" 1
[[ $(jq -r .state <<<"$json") == enabled ]] || fail "version-enable: $json"
kh 0 decrypt "$tag" "$work/ct1"
kh 4 key version-enable "$tag" 9
kh_json key history "$tag" --limit 5
[[ $(jq '.history | length' <<<"$json") == 5 ]] || fail "history: $json"

# ---- state: disabled keys refuse with 409 -> exit 5 ----
kh 0 key disable "$tag"
in=$work/pt kh 5 encrypt "$tag"
grep -q KeyDisabled "$work/err" || fail "no KeyDisabled: $(cat "$work/err")"
kh 0 key enable "$tag"
in=$work/pt kh 0 encrypt "$tag"

# ---- data keys, random ----
kh_json data-key "$tag" --bits 128
[[ $(jq -r .plaintext <<<"$json" | base64 -d | wc -c) == 16 ]] || fail "data-key: $json"
kh 0 data-key "$tag" -o "$work/dk"
[[ $(stat -c %s "$work/dk") == 32 && $(stat -c %a "$work/dk") == 600 ]] || fail "data-key -o"
cp "$out" "$work/dk.ct"
kh 0 decrypt "$tag" "$work/dk.ct" -o "$work/dk.back"
cmp -s "$work/dk" "$work/dk.back" || fail "the sealed data key does not decrypt to the key"
kh_json data-key "$tag" --no-plaintext
[[ $(jq -r 'has("plaintext")' <<<"$json") == false ]] || fail "--no-plaintext: $json"
kh 2 data-key "$tag" --bits 100
kh 0 random --bytes 16 --raw
[[ $(wc -c <"$out") == 16 ]] || fail "random --raw"
kh_json random
[[ $(jq -r .random <<<"$json" | base64 -d | wc -c) == 32 ]] || fail "random: $json"

# ---- signatures, MACs, public keys ----
kh_json key create signer --type ecdsa-p256
stag=$(jq -r .tag <<<"$json")
printf 'to be signed' >"$work/msg"
kh 0 sign "$stag" "$work/msg" -o "$work/sig"
in=$work/msg kh 0 verify "$stag" --signature-file "$work/sig"
[[ $(cat "$out") == valid ]] || fail "verify: $(cat "$out")"
printf 'something else' >"$work/msg2"
kh 1 verify "$stag" "$work/msg2" --signature "$(cat "$work/sig")"
kh 2 verify "$stag" "$work/msg"                  # no signature given
openssl dgst -sha256 -binary "$work/msg" >"$work/digest"
kh 0 sign "$stag" "$work/digest" --digest --algorithm ECDSA_SHA_256 -o "$work/dsig"
kh 0 verify "$stag" "$work/msg" --signature-file "$work/dsig"
kh 5 sign "$tag" "$work/msg"                     # an AES key does not sign
kh 0 public-key "$stag" -o "$work/pub.pem"
openssl pkey -pubin -in "$work/pub.pem" -noout || fail "public-key is not a PEM public key"
kh_json key create hmac --type hmac-sha256
mtag=$(jq -r .tag <<<"$json")
kh 0 mac "$mtag" "$work/msg" -o "$work/mac"
kh 0 verify-mac "$mtag" "$work/msg" --mac-file "$work/mac"
kh 1 verify-mac "$mtag" "$work/msg2" --mac-file "$work/mac"

# ---- accounts, grants, tokens (the dev key store is id 1) ----
kh 2 --json account create 1 bob -o "$work/bob-token" # --json would print the token
[[ -e $work/bob-token ]] && fail "--json with -o wrote a token file"
grep -q "leave --json out" "$work/err" || fail "--json with -o: $(cat "$work/err")"
kh 0 account create 1 bob -o "$work/bob-token"
[[ $(stat -c %a "$work/bob-token") == 600 ]] || fail "a token file is not mode 0600"
grep -q "$(cat "$work/bob-token")" "$out" && fail "the token was printed although -o was given"
bob=$(awk '$1 == "id" {print $2}' "$out")
[[ $bob =~ ^[0-9]+$ ]] || fail "account id: $(cat "$out")"
kh 4 --token-file "$work/bob-token" key show "$tag"  # no role yet: indistinguishable from none
kh_json grant add "$tag" "$bob" encryptor
[[ $(jq -r .role <<<"$json") == encryptor ]] || fail "grant add: $json"
kh 0 grant list "$tag"
grep -q "^$bob *encryptor" "$out" || fail "grant list: $(cat "$out")"
in=$work/pt kh 0 --token-file "$work/bob-token" encrypt "$tag"
cp "$out" "$work/bob-ct"
kh 3 --token-file "$work/bob-token" decrypt "$tag" "$work/bob-ct"   # encryptor only: 403
kh 2 grant add "$tag" "$bob" encryptor --frobnicate
kh 5 grant add "$tag" "$bob" not-a-role

# ---- paged lists: --limit and --next, the next cursor hinted on standard error ----
kh_json key create paged
ptag=$(jq -r .tag <<<"$json")
for _ in 1 2 3 4; do kh 0 key rotate "$ptag"; done
for role in reviewer manager decryptor; do kh 0 grant add "$ptag" "$bob" "$role"; done
kh 0 grant add "$ptag" 1 reviewer
# cli_pages WANT CMD...: runs CMD with --limit 2, then with each hinted --next, until no hint;
# the pages' rows (without headers) in $work/rows; there must be WANT pages.
cli_pages() {
  local want=$1 next='' n=0
  shift
  : >"$work/rows"
  while :; do
    if [[ -n $next ]]; then kh 0 "$@" --limit 2 --next "$next"; else kh 0 "$@" --limit 2; fi
    tail -n +2 "$out" >>"$work/rows"
    n=$((n + 1))
    next=$(sed -n 's/^(more: repeat with --next \(c1[0-9a-f]*\))$/\1/p' "$work/err")
    [[ -n $next ]] || break
  done
  [[ $n == "$want" ]] || fail "keyhold $*: $n pages, wanted $want"
}
cli_pages 3 key versions "$ptag"
[[ $(awk '{print $1}' "$work/rows" | tr '\n' ' ') == '1 2 3 4 5 ' ]] ||
  fail "versions over pages: $(cat "$work/rows")"
cli_pages 2 grant list "$ptag"
[[ $(awk '{print $1 "/" $2}' "$work/rows" | tr '\n' ' ') == "1/reviewer $bob/decryptor $bob/manager $bob/reviewer " ]] ||
  fail "grants over pages: $(cat "$work/rows")"
kh_json key versions "$ptag" --limit 4
[[ $(jq -c '[.versions[].version]' <<<"$json") == '[1,2,3,4]' ]] || fail "versions --json: $json"
kh_json key versions "$ptag" --limit 4 --next "$(jq -r .next <<<"$json")"
[[ $(jq -c '[.versions[].version]' <<<"$json") == '[5]' && $(jq -r .next <<<"$json") == null ]] ||
  fail "the last page of versions: $json"
kh 2 key versions "$ptag" --limit 0
kh 2 grant list "$ptag" --limit 1001
kh 5 key versions "$ptag" --next not-a-cursor    # 400 BadRequest
grep -q 'not a cursor' "$work/err" || fail "bad cursor message: $(cat "$work/err")"
kh 5 grant list "$ptag" --next c1ffffffffffffffff
kh_json --token-file "$work/bob-token" notifications list
nid=$(jq -r '.notifications[0].id' <<<"$json")
[[ $nid =~ ^[0-9]+$ ]] || fail "bob has no notification of his grant: $json"
kh 0 --token-file "$work/bob-token" notifications ack
grep -q 'acked' "$out" || fail "notifications ack: $(cat "$out")"
kh 3 notifications list "${op[@]}"             # the operator has no inbox
printf 'a webhook secret of 32 bytes....' >"$work/hook-secret"
kh_json account webhook-set "$bob" http://127.0.0.1:9/hook --secret-file "$work/hook-secret"
[[ $(jq -r .url <<<"$json") == http://127.0.0.1:9/hook ]] || fail "webhook-set: $json"
grep -q 'webhook secret' "$out" && fail "the webhook secret came back"
kh 0 --token-file "$work/bob-token" account webhook-show "$bob"
kh 5 account webhook-set "$bob" http://192.0.2.1/hook --secret-file "$work/hook-secret"
kh 0 account webhook-delete "$bob"
kh 4 account webhook-show "$bob"
kh 0 grant revoke "$tag" "$bob" encryptor
kh 4 grant revoke "$tag" "$bob" encryptor
# Tokens come from files or standard input, or (less safely) KEYHOLD_TOKEN.
in=$work/bob-token kh 0 --token-file - token create "$bob" --ttl 600 -o "$work/bob-token2"
grep -q expires_at "$out" || fail "token create --ttl: $(cat "$out")"
tid=$(awk '$1 == "token_id" {print $2}' "$out")
in=$work/bob-token kh 2 --token-file - encrypt "$tag"   # stdin cannot be token and plaintext
KEYHOLD_TOKEN=$(cat "$work/bob-token2") KEYHOLD_TOKEN_FILE='' kh 0 key list
kh 0 token revoke "$tid"
kh 3 --token-file "$work/bob-token2" key list
KEYHOLD_TOKEN_FILE='' kh 3 key list                # no token at all
grep -q 'no token configured' "$work/err" || fail "no hint about the missing token"

# ---- operator: key stores, init refused, seal/unseal, rekey, root rotation, audit ----
kh_json keystore create tenant2 "${op[@]}"
ks=$(jq -r .id <<<"$json")
kh_json account create "$ks" admin2 --policy kms-manager "${op[@]}"
[[ $(jq -r .account.policies[0] <<<"$json") == kms-manager ]] || fail "account: $json"
kh 3 keystore create tenant3                     # a manager is not the operator
kh 3 encrypt "$tag" "$work/pt" "${op[@]}"        # the operator never uses tenant keys
kh 5 operator init                               # already initialised: 409
grep -q 'already initialised' "$work/err" || fail "init: $(cat "$work/err")"
kh_json operator status
[[ $(jq -r .sealed <<<"$json") == false ]] || fail "status: $json"
kh 0 operator metrics "${op[@]}"
grep -q '^# TYPE' "$out" || fail "metrics: $(head -c 300 "$out")"
kh_json operator rotate-root "${op[@]}"
[[ $(jq -r .term <<<"$json") =~ ^[0-9]+$ ]] || fail "rotate-root: $json"
kh 0 operator rekey --shares 1 --threshold 1 "$work/var/dev-unseal" "${op[@]}"
awk '$1 == "share" {print $3}' "$out" >"$work/new-share"
[[ -s $work/new-share ]] || fail "rekey printed no share: $(cat "$out")"
kh 0 operator seal "${op[@]}"
kh 6 operator status
kh 6 encrypt "$tag" "$work/pt"                  # 503 Sealed
kh 5 operator unseal "$work/var/dev-unseal"     # the old share no longer opens it
kh 0 operator unseal --reset
in=$work/new-share kh 0 operator unseal
grep -q 'sealed *false' "$out" || fail "unseal: $(cat "$out")"
kh 0 encrypt "$tag" "$work/pt"
kh_json audit list "${op[@]}" --limit 5
[[ $(jq '.records | length' <<<"$json") == 5 && $(jq -r .next <<<"$json") == c1* ]] ||
  fail "audit list: $json"
kh_json audit list --key "$tag" --since 2000-01-01T00:00:00Z
[[ $(jq -r '.records[0].key' <<<"$json") == "$tag" ]] || fail "audit --key: $json"
kh_json audit verify "${op[@]}"
all=$(jq .checked <<<"$json")
[[ $(jq -r .ok <<<"$json") == true ]] || fail "audit verify: $json"
kh 0 audit verify                                # a manager: its key store's records only
grep -q 'ok *true' "$out" || fail "audit verify: $(cat "$out")"
mine=$(awk '$1 == "checked" {print $2}' "$out")
[[ $mine =~ ^[0-9]+$ ]] && ((mine > 0 && mine < all)) ||
  fail "a manager's verify checked $mine of $all records"
kh 3 --token-file "$work/bob-token" audit list
kh_json api GET "/v1/keys/$tag"
[[ $(jq -r .tag <<<"$json") == "$tag" ]] || fail "api: $json"

# ---- deletion ----
kh_json key create doomed
dtag=$(jq -r .tag <<<"$json")
kh 5 key delete "$dtag"                         # only pending deletion may be destroyed
kh_json key schedule-deletion "$dtag"
[[ $(jq -r .state <<<"$json") == pending-deletion ]] || fail "schedule: $json"
kh 5 encrypt "$dtag" "$work/pt"
kh_json key cancel-deletion "$dtag"
[[ $(jq -r .state <<<"$json") == disabled ]] || fail "cancel: $json"
kh 0 key schedule-deletion "$dtag" --confirm-name doomed
kh 0 key delete "$dtag"
kh_json key show "$dtag"
[[ $(jq -r .state <<<"$json") == deleted ]] || fail "deleted: $json"

# ---- envelope encryption of a 20 MB file ----
head -c 20000000 /dev/urandom >"$work/file"
kh 0 envelope encrypt "$tag" "$work/file" -o "$work/file.khe"
[[ $(head -c 4 "$work/file.khe") == KHE1 ]] || fail "no KHE1 magic"
kh 0 envelope decrypt "$work/file.khe" -o "$work/file.out"
cmp -s "$work/file" "$work/file.out" || fail "envelope round trip differs"
in=$work/pt kh 0 envelope encrypt "$tag"          # streams: stdin to stdout
cp "$out" "$work/small.khe"
in=$work/small.khe kh 0 envelope decrypt
cmp -s "$work/pt" "$out" || fail "envelope through pipes"
# One byte changed in the middle: refused with a clear error, no output file left.
cp "$work/file.khe" "$work/tampered.khe"
printf '\xff' | dd of="$work/tampered.khe" bs=1 seek=10000000 conv=notrunc status=none
kh 1 envelope decrypt "$work/tampered.khe" -o "$work/tampered.out"
grep -q 'altered' "$work/err" || fail "tampering message: $(cat "$work/err")"
[[ ! -e $work/tampered.out ]] || fail "a failed decryption left its output"
for f in "$work"/tampered.out.*; do
  [[ -e $f ]] && fail "a failed decryption left a temporary file: $f"
done
# Cut at a chunk boundary (the last chunk dropped), and cut anywhere.
size=$(stat -c %s "$work/file.khe")
head -c $((size - 20000000 % 65536 - 16)) "$work/file.khe" >"$work/cut.khe"
kh 1 envelope decrypt "$work/cut.khe" -o "$work/cut.out"
grep -q 'truncated' "$work/err" || fail "truncation message: $(cat "$work/err")"
head -c 12345678 "$work/file.khe" >"$work/cut2.khe"
kh 1 envelope decrypt "$work/cut2.khe" -o "$work/cut.out"
printf 'not an envelope' >"$work/junk"
kh 1 envelope decrypt "$work/junk" -o "$work/cut.out"
grep -q 'not a keyhold envelope' "$work/err" || fail "junk message: $(cat "$work/err")"
kh 4 --token-file "$work/bob-token" envelope decrypt "$work/file.khe" -o "$work/x"
kh 4 envelope encrypt 0123456789abcdef0123456789abcdef "$work/pt" -o "$work/x"

# ---- connection failures and TLS verification: exit 6 ----
kh 6 --addr "https://127.0.0.1:1" key list
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -days 1 \
  -keyout "$work/other.key" -out "$work/other-ca.pem" 2>/dev/null
kh 6 --ca-file "$work/other-ca.pem" key list     # a server this CA did not certify
grep -qi 'certificate' "$work/err" || fail "TLS failure message: $(cat "$work/err")"

# ---- the configuration file ----
cat >"$work/good.conf" <<EOF
# a comment
addr = https://127.0.0.1:$port
token_file = $work/var/dev-token
ca_file = $work/var/tls/ca.pem
EOF
KEYHOLD_CONFIG=$work/good.conf KEYHOLD_ADDR='' KEYHOLD_CA_FILE='' KEYHOLD_TOKEN_FILE='' \
  kh 0 key show "$tag"

kill -TERM "$pid"
wait "$pid" || fail "keyholdd exited with $? on SIGTERM"
pid=
echo "ok: keyhold CLI against keyholdd"
