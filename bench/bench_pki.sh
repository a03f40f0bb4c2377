#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# keyhold's PKI against PKI.md's "Required performance", each rate beside a reference measured
# in the same run, on one machine (the load generator shares it with the server):
#   issue p-256, issue sm2   POST /v1/pki/requests through an auto-approving profile of an
#                            issuing CA (under a root of the same algorithm), a pool of 64
#                            `openssl req` CSRs per algorithm round-robin; each 201 answer is a
#                            certificate issued, stored and audited (durable commit). Reference:
#                            the raw signing rate of the algorithm (`openssl speed`, one core)
#                            times the cores.
#   create sm2 key           POST /v1/keys {"type":"sm2"}: a key pair made, sealed, stored and
#                            audited. Reference: raw EVP_PKEY_generate of SM2 on one core (the
#                            "sm2 keygen" row of bench_crypto, run here), times the cores.
#   ocsp ...                 POST /pki/{ca}/ocsp over the plain-HTTP loopback listener: "cached"
#                            is one request without nonce repeated (keyhold caches those), "on
#                            demand" 1,000 requests with a nonce for distinct serials (never
#                            cached: a status read and a signature each); keep-alive, and with a
#                            new connection per request. Peer: `openssl ocsp -index` with two
#                            processes (-multi 2) for a P-256 CA of its own holding the same
#                            serials, sent the same kind of requests by the same generator; it
#                            signs every answer and closes the connection after each (HTTP/1.0).
#   ... with N in the store  keyholdd stopped, bench/pki_fill.sh adds N certificates (default
#                            1,000,000) to the P-256 issuing CA, keyholdd restarted on the store:
#                            OCSP for random serials of the filled set (cache misses: 20,000
#                            different ones per row), on one connection and under load, the cached request on one
#                            connection, and issuance again ("rate unchanged").
# Every answer must be a success (2xx, and an issued certificate, a successful OCSPResponse);
# a row with errors makes the script fail after printing the table.
#
# Usage: bench_pki.sh KEYHOLDD [SECONDS] [PKI_LOAD]
#   SECONDS per row (default 5, or $KH_BENCH_SECONDS; 1 s of warm-up comes on top); PKI_LOAD
#   the load generator (default: bench/pki_load of KEYHOLDD's build tree, with bench_crypto).
#   KH_BENCH_PKI_CERTS: certificates the fill adds (default 1000000; 0 skips those rows).
set -euo pipefail

keyholdd=$(realpath "$1")
seconds=${2:-${KH_BENCH_SECONDS:-5}}
pki_load=$(realpath "${3:-$(dirname "$keyholdd")/../bench/pki_load}")
bench_crypto=$(dirname "$pki_load")/bench_crypto
fill=${KH_BENCH_PKI_CERTS:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
# keyholdd accepts 64 connections from one address (the HTTP layer's per-IP limit, not
# configurable), counting those it has not yet cleaned up: 48 keep-alive connections, with a
# pause between rows for the previous row's requests in flight to finish, and 16 for the rows
# that open a connection per request (at 32 a few dozen of about 34,000 were reset).
conns=48
close_conns=16
threads=2
cores=$(nproc)
work=$(mktemp -d "${TMPDIR:-/tmp}/keyhold-bench-pki-XXXXXX")
kpid='' opid=''
# openssl ocsp -multi: its parent waits for its responder processes, which a TERM to the
# parent does not end; each is ended by its id.
stop_peer() {
  [[ -n $opid ]] || return 0
  kill $(ps -o pid= --ppid "$opid") "$opid" 2>/dev/null
  wait "$opid" 2>/dev/null || true
  opid=''
}
cleanup() {
  [[ -n $kpid ]] && kill "$kpid" 2>/dev/null && wait "$kpid" 2>/dev/null
  stop_peer
  rm -rf "$work"
}
trap cleanup EXIT
umask 077

fail() {
  echo "bench_pki: $*" >&2
  exit 1
}
[[ -x $pki_load && -x $bench_crypto ]] || fail "no pki_load or bench_crypto beside $pki_load (build the release preset)"
started=$(date +%s)
progress() { printf 'bench_pki: [%3d s] %s\n' "$(($(date +%s) - started))" "$*" >&2; }

source "$here/lib.sh"

# ---- raw rates, one core: signatures (openssl speed) and SM2 key pairs (bench_crypto) ----
progress "raw rates: openssl speed ecdsap256 and sm2, bench_crypto keygen"
speed() { # speed ALG PATTERN -> sign/s
  openssl speed -seconds 3 "$1" 2>/dev/null | awk -v p="$2" '$0 ~ p { print int($(NF-1)) }'
}
raw_p256=$(speed ecdsap256 nistp256)
raw_sm2=$(speed sm2 CurveSM2)
keygen=$("$bench_crypto" "sm2 keygen")
raw_sm2_keygen=$(awk '/^sm2 keygen/ { print $4 }' <<<"$keygen")
ours_sm2_keygen=$(awk '/^sm2 keygen/ { print $3 }' <<<"$keygen")
[[ -n $raw_p256 && -n $raw_sm2 && -n $raw_sm2_keygen ]] || fail "no raw rates (openssl speed, bench_crypto)"

# ---- keyholdd, with the plain-HTTP loopback listener for OCSP ----
hport=$(free_port)
start_keyholdd --http-listen "127.0.0.1:$hport"
url=https://127.0.0.1:$kport
plain=http://127.0.0.1:$hport
printf 'Authorization: Bearer %s\n' "$token" >"$work/auth.headers"

api() { # api PATH BODY -> response body (POST)
  local out code
  out=$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary "$2" -w '\n%{http_code}' "$url/v1$1") || fail "setup: POST /v1$1: curl failed"
  code=${out##*$'\n'}
  out=${out%$'\n'*}
  [[ $code == 2?? ]] || fail "setup: POST /v1$1 answered HTTP $code: $out"
  printf '%s' "$out"
}
need() { jq -er ".$2 // empty" <<<"$1" 2>/dev/null || fail "setup: no \"$2\" in $1"; }

# A root and an issuing CA per algorithm, each issuing CA with an auto-approving profile.
make_cas() { # make_cas LABEL KEY_TYPE -> the issuing CA's id; its certificate in LABEL.pem
  local root inter
  root=$(api /pki/cas "{\"name\":\"$1-root\",\"kind\":\"root\",\"key_type\":\"$2\",\"subject\":\"CN=Bench Root $1\",\"validity_days\":3650}")
  inter=$(api /pki/cas "{\"name\":\"$1-issuing\",\"kind\":\"intermediate\",\"key_type\":\"$2\",\"subject\":\"CN=Bench Issuing $1\",\"validity_days\":1825,\"parent\":$(need "$root" id)}")
  need "$inter" certificate_pem >"$work/$1.pem"
  api "/pki/cas/$(need "$inter" id)/profiles" "{\"name\":\"bench\",\"key_types\":[\"$2\"],\"validity_days\":365,\"key_usage\":[\"digitalSignature\"],\"approval\":\"auto\"}" >/dev/null
  need "$inter" id
}
progress "setup: CAs, profiles, 64 CSRs per algorithm"
p256=$(make_cas p256 ecdsa-p256)
sm2=$(make_cas sm2 sm2)

# CSR pools and their request lists (POST /v1/pki/requests with the JSON body). An SM2 key must
# be made as SM2 (genpkey) for req to take the GM/T signer ID.
csrs() { # csrs LABEL CA
  local label=$1 ca_id=$2 i key=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) sig=()
  [[ $label == sm2 ]] && key=(-algorithm SM2) sig=(-sm3 -sigopt distid:1234567812345678)
  mkdir -p "$work/csr-$label"
  for i in $(seq 1 64); do
    { openssl genpkey "${key[@]}" -out "$work/csr-$label/$i.key" &&
      openssl req -new -key "$work/csr-$label/$i.key" "${sig[@]}" \
        -subj "/CN=bench-$label-$i.example" -out "$work/csr-$label/$i.csr"; } \
      >/dev/null 2>"$work/csr-$label/err" || fail "openssl req ($label): $(cat "$work/csr-$label/err")"
    jq -n --argjson ca "$ca_id" --rawfile csr "$work/csr-$label/$i.csr" \
      '{ca:$ca,profile:"bench",csr:$csr}' >"$work/csr-$label/$i.json"
    echo "POST /v1/pki/requests $work/csr-$label/$i.json"
  done >"$work/issue-$label.list"
}
csrs p256 "$p256" &
csr_pid=$!
csrs sm2 "$sm2"
wait "$csr_pid" || fail "making the CSRs"
# Key names are unique in a key store: one body per request, more than a row sends.
python3 - "$work/keys" <<'PY' || fail "making the key bodies"
import os, sys
d = sys.argv[1]
os.mkdir(d)
with open(os.path.join(d, "list"), "w") as lst:
    for i in range(50000):
        name = os.path.join(d, "%d.json" % i)
        open(name, "w").write('{"name":"bench-sm2-%d","type":"sm2","usage":"sign-verify"}' % i)
        lst.write("POST /v1/keys %s\n" % name)
PY

# ---- the table ----
status=0
declare -A rate
field() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
load() { # load URL LIST [pki_load options...] -> pki_load's line (its errors fail the run later)
  local rc=0 u=$1 l=$2
  shift 2
  sleep 1
  "$pki_load" --url "$u" --requests "$l" --cacert "$ca" --duration "${seconds}s" --warmup 1s \
    "$@" || rc=$?
  [[ $rc -eq 0 || $rc -eq 2 ]] || fail "pki_load failed ($rc) on $u"
}
header() {
  printf '%-36s %8s %8s %8s %6s   %-26s %8s %7s\n' operation "r/s" p50 p99 errors reference "ref r/s" ratio
}
row() { # row KEY NAME LINE REFERENCE_NAME REFERENCE_RPS
  local r errors
  r=$(field rps "$3")
  errors=$(($(field errors "$3") + $(field conn_errors "$3")))
  ((errors == 0)) || status=1
  rate[$1]=$r
  printf '%-36s %8.0f %7.2fms %7.2fms %6d   %-26s %8s %7s\n' "$2" "$r" "$(field p50_ms "$3")" \
    "$(field p99_ms "$3")" "$errors" "$4" "$5" \
    "$(awk -v a="$r" -v b="$5" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')"
}
json=(--headers "$work/auth.headers" --content-type application/json)
ocsp=(--content-type application/ocsp-request --ocsp)

progress "issuance rows"
issue_p256=$(load "$url" "$work/issue-p256.list" "${json[@]}" --expect '"status":"issued"' --connections $conns --threads $threads)
issue_sm2=$(load "$url" "$work/issue-sm2.list" "${json[@]}" --expect '"status":"issued"' --connections $conns --threads $threads)
progress "sm2 key rows"
sm2_keys=$(load "$url" "$work/keys/list" "${json[@]}" --connections $conns --threads $threads)

# ---- OCSP requests: keyhold's P-256 issuing CA and the peer's, the same serials ----
progress "OCSP setup: serials, requests, the openssl ocsp peer"
db=$work/var/keyhold.db
# Serials of certificates the issuance rows made (a leading zero byte would be re-encoded
# shorter in a request: left out).
sqlite3 "file:$db?mode=ro" "SELECT serial FROM pki_certificates WHERE ca_id = $p256 AND serial NOT LIKE '00%' LIMIT 1000" >"$work/serials"
(($(wc -l <"$work/serials") >= 100)) || fail "too few certificates issued for the OCSP rows"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/peer.key" \
  -subj "/CN=Bench Peer Issuing P-256" -days 365 -out "$work/peer.pem" 2>/dev/null
exp=$(date -u -d '+1 year' +%y%m%d%H%M%SZ)
awk -v e="$exp" '{ printf "V\t%s\t\t%s\tunknown\t/CN=bench-%d\n", e, $1, NR }' "$work/serials" >"$work/index.txt"
# ocsp_requests ISSUER_PEM DIR NONCE SERIALS_FILE [URL_PATH]: one DER request per serial (a
# template from `openssl ocsp -reqout`, its serial and nonce replaced) and their list.
ocsp_requests() {
  local first
  first=$(head -1 "$4")
  mkdir -p "$2"
  openssl ocsp -issuer "$1" -serial "0x$first" -reqout "$2/template.der" \
    $([[ $3 == nonce ]] || echo -no_nonce) >/dev/null 2>&1 || fail "openssl ocsp -reqout"
  python3 - "$2" "$4" "${5:-/}" <<'PY' || fail "making OCSP requests"
import os, sys
out, serials, path = sys.argv[1], sys.argv[2], sys.argv[3]
t = open(os.path.join(out, "template.der"), "rb").read()
first = None
nonce_oid = bytes.fromhex("06092b0601050507300102")
nonce_at = t.find(nonce_oid)
with open(serials) as f, open(os.path.join(out, "list"), "w") as lst:
    for i, line in enumerate(f):
        s = bytes.fromhex(line.strip())
        first = first or s
        r = t.replace(first, s, 1)
        if nonce_at >= 0:  # OCTET STRING { OCTET STRING (16 bytes) } after the OID
            at = nonce_at + len(nonce_oid) + 4
            assert t[at - 4:at] == bytes.fromhex("04120410"), "unexpected nonce encoding"
            r = r[:at] + os.urandom(16) + r[at + 16:]
        name = os.path.join(out, "%d.der" % i)
        open(name, "wb").write(r)
        lst.write("POST %s %s\n" % (path, name))
PY
}
head -1 "$work/serials" >"$work/serial.one"
ocsp_requests "$work/p256.pem" "$work/ocsp-cached" no "$work/serial.one" "/pki/$p256/ocsp"
ocsp_requests "$work/p256.pem" "$work/ocsp-nonce" nonce "$work/serials" "/pki/$p256/ocsp"
ocsp_requests "$work/peer.pem" "$work/peer-nonce" nonce "$work/serials"
oport=$(free_port)
(cd "$work" && exec openssl ocsp -index index.txt -port "$oport" -rsigner peer.pem -rkey peer.key \
  -CA peer.pem -multi 2 -ignore_err >"$work/ocsp.out" 2>&1) &
opid=$!
for _ in $(seq 1 100); do
  (echo >/dev/tcp/127.0.0.1/"$oport") 2>/dev/null && break
  sleep 0.05
done

progress "OCSP rows"
ka=(--connections $conns --threads $threads)
cl=(--connections $close_conns --threads $threads --close)
peer=$(load "http://127.0.0.1:$oport" "$work/peer-nonce/list" "${ocsp[@]}" "${cl[@]}")
stop_peer

ocsp_cached_ka=$(load "$plain" "$work/ocsp-cached/list" "${ocsp[@]}" "${ka[@]}")
ocsp_nonce_ka=$(load "$plain" "$work/ocsp-nonce/list" "${ocsp[@]}" "${ka[@]}")
ocsp_cached_cl=$(load "$plain" "$work/ocsp-cached/list" "${ocsp[@]}" "${cl[@]}")
ocsp_nonce_cl=$(load "$plain" "$work/ocsp-nonce/list" "${ocsp[@]}" "${cl[@]}")

# ---- N certificates in the store ----
if ((fill > 0)); then
  progress "filling the store with $fill certificates (keyholdd stopped)"
  kill "$kpid" && wait "$kpid" 2>/dev/null
  kpid=''
  sqlite3 "file:$db?mode=ro" "SELECT writefile('$work/leaf.der', der) FROM pki_certificates WHERE ca_id = $p256 LIMIT 1" >/dev/null
  bash "$here/pki_fill.sh" "$db" "$p256" "$fill" "$work/leaf.der"
  sqlite3 "file:$db?mode=ro" "SELECT serial FROM pki_certificates WHERE ca_id = $p256 AND request_id IS NULL AND serial NOT LIKE '00%' ORDER BY random() LIMIT 40000" >"$work/serials.filled"
  # Two disjoint halves, one per row, so that the second finds none of the first's answers
  # in the cache.
  head -20000 "$work/serials.filled" >"$work/serials.filled-1"
  tail -n +20001 "$work/serials.filled" >"$work/serials.filled-2"
  ocsp_requests "$work/p256.pem" "$work/ocsp-filled-1" no "$work/serials.filled-1" "/pki/$p256/ocsp"
  ocsp_requests "$work/p256.pem" "$work/ocsp-filled-2" no "$work/serials.filled-2" "/pki/$p256/ocsp"
  # The store read once, as a server that has run a while has it in the page cache (this VM
  # does not keep a file it has just written cached: cold, issuance fell to a few dozen a
  # second, each insert reading index pages from the disk).
  cat "$db" >/dev/null
  progress "keyholdd restarted on the filled store; rows"
  start_keyholdd --http-listen "127.0.0.1:$hport"
  url=https://127.0.0.1:$kport
  printf 'Authorization: Bearer %s\n' "$token" >"$work/auth.headers"
  one=(--connections 1 --threads 1)
  big_miss_1=$(load "$plain" "$work/ocsp-filled-1/list" "${ocsp[@]}" "${one[@]}")
  big_cached_1=$(load "$plain" "$work/ocsp-cached/list" "${ocsp[@]}" "${one[@]}")
  big_miss_ka=$(load "$plain" "$work/ocsp-filled-2/list" "${ocsp[@]}" "${ka[@]}")
  big_issue=$(load "$url" "$work/issue-p256.list" "${json[@]}" --expect '"status":"issued"' "${ka[@]}")
fi

# ---- the table ----
echo
printf 'keyhold PKI vs references measured in the same run, pki_load -c%d (-c%d for new conn rows) -t%d -d%ss, loopback, %d CPUs, %s\n' \
  "$conns" "$close_conns" "$threads" "$seconds" "$cores" "$(openssl version | cut -d' ' -f1-2)"
printf 'raw one-core rates: ecdsa-p256 sign %d/s, sm2 sign %d/s (openssl speed), sm2 keygen %d/s (EVP; kh_pkey_generate %d/s)\n\n' \
  "$raw_p256" "$raw_sm2" "$raw_sm2_keygen" "$ours_sm2_keygen"
header
row issue_p256 "issue p-256 (TLS, keep-alive)" "$issue_p256" "p-256 sign x $cores cores" $((raw_p256 * cores))
row issue_sm2 "issue sm2 (TLS, keep-alive)" "$issue_sm2" "sm2 sign x $cores cores" $((raw_sm2 * cores))
row sm2_keys "create sm2 key (TLS, keep-alive)" "$sm2_keys" "sm2 keygen x $cores cores" $((raw_sm2_keygen * cores))
row peer "openssl ocsp -multi 2 (new conn)" "$peer" "-" 0
row ocsp_cached_ka "ocsp cached (keep-alive)" "$ocsp_cached_ka" "openssl ocsp" "${rate[peer]%.*}"
row ocsp_nonce_ka "ocsp on demand (keep-alive)" "$ocsp_nonce_ka" "openssl ocsp" "${rate[peer]%.*}"
row ocsp_cached_cl "ocsp cached (new conn)" "$ocsp_cached_cl" "openssl ocsp" "${rate[peer]%.*}"
row ocsp_nonce_cl "ocsp on demand (new conn)" "$ocsp_nonce_cl" "openssl ocsp" "${rate[peer]%.*}"
echo "ocsp on demand vs raw p-256 sign x $cores cores ($((raw_p256 * cores))/s): keep-alive" \
  "$(awk -v a="${rate[ocsp_nonce_ka]}" -v b=$((raw_p256 * cores)) 'BEGIN { printf "%.3f", a / b }')," \
  "new conn $(awk -v a="${rate[ocsp_nonce_cl]}" -v b=$((raw_p256 * cores)) 'BEGIN { printf "%.3f", a / b }')"
if ((fill > 0)); then
  echo
  echo "with $fill more certificates in the store (OCSP: 20,000 random serials of them per row, cache misses)"
  header
  row big_miss_1 "ocsp filled serials, 1 conn" "$big_miss_1" "-" 0
  row big_cached_1 "ocsp cached, 1 conn" "$big_cached_1" "-" 0
  row big_miss_ka "ocsp filled serials, $conns conn" "$big_miss_ka" "ocsp on demand, empty" "${rate[ocsp_nonce_ka]%.*}"
  row big_issue "issue p-256, $conns conn" "$big_issue" "issue p-256, empty" "${rate[issue_p256]%.*}"
fi
echo
echo "goals (PKI.md): issuance >= 1,000/s p-256 and >= 500/s sm2; sm2 key pairs >= 2,000/s;"
echo "  ocsp >= 20,000/s cached and >= 80% of the raw signing rate on misses; with 10 million"
echo "  certificates, ocsp p99 < 2 ms and the issuance rate unchanged"
goal() { # goal NAME VALUE OP TARGET
  awk -v n="$1" -v v="$2" -v op="$3" -v t="$4" 'BEGIN {
    ok = (op == ">=" ? v >= t : v < t)
    printf "  %-44s %10.2f %s %-8s %s\n", n, v, op, t, ok ? "met" : "MISSED" }'
}
goal "issue p-256 r/s" "${rate[issue_p256]}" ">=" 1000
goal "issue sm2 r/s" "${rate[issue_sm2]}" ">=" 500
goal "create sm2 key r/s (server)" "${rate[sm2_keys]}" ">=" 2000
goal "kh_pkey_generate sm2 /s (one core)" "$ours_sm2_keygen" ">=" 2000
goal "ocsp cached r/s (keep-alive)" "${rate[ocsp_cached_ka]}" ">=" 20000
goal "ocsp on demand / (raw sign x cores)" \
  "$(awk -v a="${rate[ocsp_nonce_ka]}" -v b=$((raw_p256 * cores)) 'BEGIN { print a / b }')" ">=" 0.8
if ((fill > 0)); then
  goal "ocsp p99 ms, filled serials, 1 conn" "$(field p99_ms "$big_miss_1")" "<" 2
  goal "issue p-256 filled / empty" \
    "$(awk -v a="${rate[big_issue]}" -v b="${rate[issue_p256]}" 'BEGIN { print a / b }')" ">=" 0.9
fi
progress "done"
((status == 0)) || fail "some answers were errors (see the errors column and pki_load's messages above)"
