#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Encrypted backups end to end: keyholdd in development mode makes a key and a ciphertext;
# POST /v1/sys/backup (the operator's alone) writes an encrypted file that GET /v1/sys/backups
# lists and that holds nothing of the database in clear, as do `keyhold operator backup` and
# `keyhold operator backups`; the server stops; `keyholdd restore`
# rebuilds the store in a new data directory with the share, and the restored server, unsealed
# with the same share, decrypts the ciphertext. A tampered copy, a share of another barrier and
# a directory that already has a database (without --force) are refused with exit code 1 and
# nothing written; --force keeps the old database aside.
set -euo pipefail

keyholdd=$1
keyhold=$2
source "$(dirname "$0")/lib.sh"
init_work backup

# start_in DIR: keyholdd --dev with DIR as its working directory (data in DIR/var); sets $pid,
# $port, $url.
start_in() {
  local dir=$1
  : >"$dir/err.log"
  (cd "$dir" && exec "$keyholdd" --dev --listen 127.0.0.1:0 >>"$dir/out.log" 2>>"$dir/err.log") &
  pid=$!
  port=
  for _ in $(seq 1 200); do
    port=$(grep -o '"msg":"keyholdd serving".*"port":[0-9]*' "$dir/err.log" 2>/dev/null |
      grep -o '"port":[0-9]*' | cut -d: -f2 || true)
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/err.log" >&2; fail "keyholdd exited during start"; }
    sleep 0.05
  done
  [[ -n $port ]] || fail "keyholdd did not start in $dir"
  url=https://127.0.0.1:$port
  ca=$dir/var/tls/ca.pem
}

stop() {
  kill -TERM "$pid"
  wait "$pid" || fail "keyholdd exited with $? on SIGTERM"
  pid=
}

# call METHOD PATH [BODY] TOKEN -> $status, $body
call() {
  local method=$1 path=$2 data=${3:-} tok=${4:-}
  local args=(-sS -o "$work/body" -w '%{http_code}' --cacert "$ca" -X "$method")
  [[ -n $tok ]] && args+=(-H "Authorization: Bearer $tok")
  [[ -n $data ]] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
  status=$(curl "${args[@]}" "$url$path") || fail "curl $method $path"
  body=$(cat "$work/body")
}
expect() {
  [[ $status == "$1" ]] || fail "$what: status $status, wanted $1: $body"
}

# restore_into DIR [ARGS...] < shares: keyholdd restore in DIR; sets $restore_rc.
restore_into() {
  local dir=$1
  shift
  mkdir -p "$dir"
  restore_rc=0
  (cd "$dir" && exec "$keyholdd" restore "$@") >"$work/restore.out" 2>"$work/err" ||
    restore_rc=$?
}

# ---- a store with a key and a ciphertext, backed up ----

mkdir "$work/a"
start_in "$work/a"
token=$(cat "$work/a/var/dev-token")
operator=$(cat "$work/a/var/operator-token")
what="create key"
call POST /v1/keys '{"name":"backup-demo-key"}' "$token"
expect 201
tag=$(jq -r .tag <<<"$body")
what="encrypt"
call POST "/v1/keys/$tag/encrypt" "{\"plaintext\":\"$(printf 'kept across restore' | base64)\"}" "$token"
expect 200
ct=$(jq -r .ciphertext <<<"$body")

what="backup by an account"
call POST /v1/sys/backup "" "$token"
expect 403
what="backup without a token"
call POST /v1/sys/backup "" ""
expect 401
what="backups listed by an account"
call GET /v1/sys/backups "" "$token"
expect 403
what="backups before any"
call GET /v1/sys/backups "" "$operator"
expect 200
[[ $(jq '.backups | length' <<<"$body") == 0 ]] || fail "backups before any: $body"

what="backup"
call POST /v1/sys/backup "" "$operator"
expect 201
file=$(jq -r .file <<<"$body")
[[ $file =~ ^keyhold-[0-9]{8}T[0-9]{6}Z\.khb$ ]] || fail "backup file name: $body"
[[ $(jq -r .kind <<<"$body") == store ]] || fail "backup kind: $body"
[[ $(jq -r .created_at <<<"$body") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] ||
  fail "created_at: $body"
backup=$work/a/var/backups/$file
[[ -f $backup ]] || fail "no $backup"
[[ $(stat -c %a "$work/a/var/backups") == 700 ]] || fail "backups/ is not mode 0700"
[[ $(stat -c %a "$backup") == 600 ]] || fail "the backup is not mode 0600"
[[ $(jq -r .bytes <<<"$body") == $(stat -c %s "$backup") ]] || fail "bytes: $body"
[[ $(jq -r .sha256 <<<"$body") == $(sha256sum "$backup" | cut -d' ' -f1) ]] || fail "sha256: $body"
[[ $(head -c 8 "$backup") == KHBACKUP ]] || fail "the file does not start with its magic"
# The snapshot is gone, and nothing of the database is readable in the backup.
ls -A "$work/a/var" | grep -q snapshot && fail "a snapshot was left in the data directory"
grep -q 'SQLite format' "$backup" && fail "the backup holds the database in clear"
grep -q 'backup-demo-key' "$backup" && fail "the backup holds a key name in clear"
what="backups listed"
call GET /v1/sys/backups "" "$operator"
expect 200
[[ $(jq -r '.backups[0].file' <<<"$body") == "$file" ]] || fail "listing: $body"
[[ $(jq -r '.backups[0].bytes' <<<"$body") == $(stat -c %s "$backup") ]] || fail "listing: $body"
# The command line: another backup (a second later: names have seconds), then both listed.
unset KEYHOLD_TOKEN KEYHOLD_TOKEN_FILE KEYHOLD_CONFIG
export KEYHOLD_ADDR=$url KEYHOLD_CA_FILE=$ca
sleep 1
"$keyhold" --token-file "$work/a/var/operator-token" operator backup >"$work/cli.out" 2>"$work/err" ||
  fail "keyhold operator backup"
cli_file=$(awk '$1 == "file" {print $2}' "$work/cli.out")
[[ -f $work/a/var/backups/$cli_file && $cli_file != "$file" ]] ||
  fail "keyhold operator backup printed: $(cat "$work/cli.out")"
grep -q "$(sha256sum "$work/a/var/backups/$cli_file" | cut -d' ' -f1)" "$work/cli.out" ||
  fail "keyhold operator backup: no sha256 in $(cat "$work/cli.out")"
"$keyhold" --token-file "$work/a/var/operator-token" operator backups >"$work/cli.out" 2>"$work/err" ||
  fail "keyhold operator backups"
grep -q "$file" "$work/cli.out" && grep -q "$cli_file" "$work/cli.out" ||
  fail "keyhold operator backups: $(cat "$work/cli.out")"
"$keyhold" --token-file "$work/a/var/dev-token" operator backup >/dev/null 2>"$work/err" &&
  fail "keyhold operator backup by an account succeeded"
what="audit"
call GET '/v1/audit' "" "$operator"
expect 200
jq -e '[.records[] | select(.operation == "sys.backup" and .result == "ok")] | length == 2' \
  <<<"$body" >/dev/null || fail "no sys.backup record: $body"
stop

# ---- refusals: nothing is written ----

cp "$backup" "$work/tampered.khb"
size=$(stat -c %s "$backup")
printf '\x01' | dd of="$work/tampered.khb" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$backup" "$work/tampered.khb" && fail "the copy was not changed"
restore_into "$work/t/var" --from "$work/tampered.khb" --data-dir . <"$work/a/var/dev-unseal"
[[ $restore_rc == 1 ]] || fail "a tampered backup: exit $restore_rc"
grep -q 'does not authenticate' "$work/err" || fail "tampered: $(cat "$work/err")"
[[ -z $(ls -A "$work/t/var") ]] || fail "a refused restore left files: $(ls -A "$work/t/var")"

# Cut after its header: no last chunk.
head -c 300 "$backup" >"$work/cut.khb"
restore_into "$work/t/var" --from "$work/cut.khb" --data-dir . <"$work/a/var/dev-unseal"
[[ $restore_rc == 1 ]] || fail "a cut backup: exit $restore_rc"
[[ -z $(ls -A "$work/t/var") ]] || fail "a refused restore left files"

# Another barrier's share.
mkdir "$work/other"
start_in "$work/other"
stop
restore_into "$work/t/var" --from "$backup" --data-dir . <"$work/other/var/dev-unseal"
[[ $restore_rc == 1 ]] || fail "another barrier's share: exit $restore_rc"
grep -q 'another barrier' "$work/err" || fail "another barrier: $(cat "$work/err")"
[[ -z $(ls -A "$work/t/var") ]] || fail "a refused restore left files"
# No share at all.
restore_into "$work/t/var" --from "$backup" --data-dir . </dev/null
[[ $restore_rc == 1 ]] || fail "no share: exit $restore_rc"

# A directory that has a database already.
restore_into "$work/other" --from "$backup" --dev <"$work/a/var/dev-unseal"
[[ $restore_rc == 1 ]] || fail "over an existing database without --force: exit $restore_rc"
grep -q -- '--force' "$work/err" || fail "existing database: $(cat "$work/err")"
# Usage errors.
restore_into "$work/t/var" --data-dir . </dev/null
[[ $restore_rc == 2 ]] || fail "restore without --from: exit $restore_rc"

# ---- the restore, into a new data directory ----

mkdir -p "$work/b/var"
cp "$work/a/var/dev-unseal" "$work/b/var/dev-unseal"
restore_into "$work/b" --from "$backup" --dev </dev/null
[[ $restore_rc == 0 ]] || fail "restore: exit $restore_rc"
grep -q 'restored' "$work/err" || fail "restore said: $(cat "$work/err")"
[[ $(stat -c %a "$work/b/var/keyhold.db") == 600 ]] || fail "the restored database is not 0600"
start_in "$work/b"
what="decrypt after restore"
call POST "/v1/keys/$tag/decrypt" "{\"ciphertext\":\"$ct\"}" "$token"
expect 200
[[ $(jq -r .plaintext <<<"$body" | base64 -d) == 'kept across restore' ]] ||
  fail "decrypt after restore: $body"
what="health after restore"
call GET /v1/sys/health "" ""
expect 200
stop

# With the share on standard input and --force over the other barrier's store, which is kept.
old_sum=$(sha256sum <"$work/other/var/keyhold.db")
restore_into "$work/other" --from "$backup" --force --data-dir var <"$work/a/var/dev-unseal"
[[ $restore_rc == 0 ]] || fail "restore --force: exit $restore_rc"
[[ $(sha256sum <"$work/other/var/keyhold.db.before-restore") == "$old_sum" ]] ||
  fail "--force did not keep the old database"
# Once more is refused: the kept copy would be lost.
restore_into "$work/other" --from "$backup" --force --data-dir var <"$work/a/var/dev-unseal"
[[ $restore_rc == 1 ]] || fail "a second --force: exit $restore_rc"
echo "backup: ok"
