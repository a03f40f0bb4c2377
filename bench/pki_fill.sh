#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Fills a stopped keyholdd's store with COUNT certificates of one CA, for bench_pki.sh's
# "certificates managed" rows (PKI.md: OCSP p99 < 2 ms with millions of certificates in the
# store). Rows go straight into pki_certificates (schema migration 5) with sqlite3, in
# transactions of 100,000 with the progress printed after each:
#   serial     16 random bytes, upper-case hex, first bit clear (as kh_pki draws them)
#   status     1 in 100 revoked (keyCompromise), the rest good
#   times      not_before now, not_after in a year, in nanoseconds as keyhold stores them
#   der        one real certificate's DER (DER_FILE) for every row: its serial and subject do
#              not match the row's. OCSP reads only serial and status; the DER is there so that
#              the table has its real size on disk.
# Serials that collide (never, in practice) are skipped: the count printed is what went in.
#
# Usage: pki_fill.sh DB CA_ID COUNT DER_FILE (keyholdd must not be running on DB).
set -euo pipefail

db=$1 ca_id=$2 count=$3 der=$4
chunk=100000
[[ -f $db ]] || { echo "pki_fill: no database $db" >&2; exit 1; }
[[ $ca_id =~ ^[0-9]+$ && $count =~ ^[0-9]+$ ]] || { echo "pki_fill: bad CA id or count" >&2; exit 1; }
[[ -s $der ]] || { echo "pki_fill: no DER at $der" >&2; exit 1; }

now=$(($(date +%s) * 1000000000))
year=$((365 * 86400 * 1000000000))
start=$(date +%s.%N)
before=$(sqlite3 "$db" "SELECT count(*) FROM pki_certificates")
done_count=0
while ((done_count < count)); do
  n=$((count - done_count < chunk ? count - done_count : chunk))
  sqlite3 "$db" <<SQL >/dev/null
PRAGMA busy_timeout = 10000;
PRAGMA cache_size = -262144;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE d AS SELECT readfile('$der') AS der;
WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < $n)
INSERT OR IGNORE INTO pki_certificates
  (serial, ca_id, request_id, subject, not_before, not_after, status, revoked_at, reason,
   status_at, der, created_at)
SELECT substr('01234567', 1 + abs(random() % 8), 1) || substr(hex(randomblob(16)), 2),
       $ca_id, NULL, 'CN=fill-' || ($done_count + n), $now, $now + $year,
       CASE WHEN n % 100 = 0 THEN 'revoked' ELSE 'good' END,
       CASE WHEN n % 100 = 0 THEN $now END, CASE WHEN n % 100 = 0 THEN 1 END,
       CASE WHEN n % 100 = 0 THEN $now END, (SELECT der FROM d), $now
FROM i;
COMMIT;
SQL
  done_count=$((done_count + n))
  printf 'pki_fill: %d of %d rows (%.0f s)\n' "$done_count" "$count" \
    "$(echo "$(date +%s.%N) - $start" | bc)" >&2
done
after=$(sqlite3 "$db" "SELECT count(*) FROM pki_certificates")
sqlite3 "$db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
printf 'pki_fill: %d certificates added for CA %d in %.0f s (%d in the store; %s MiB on disk)\n' \
  "$((after - before))" "$ca_id" "$(echo "$(date +%s.%N) - $start" | bc)" "$after" \
  "$(($(stat -c %s "$db") / 1048576))" >&2
