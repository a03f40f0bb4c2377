#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# An SM2 two-tier PKI (docs/pki.md section 3) against the real keyholdd in development mode,
# built with the real CLI: SM2 root and issuing CA, a profile with CRL and OCSP URLs that needs
# an RA officer's approval, leaves from `openssl req -sm3 -sigopt distid:` CSRs, one revoked
# (keyCompromise) and one on hold. What the server then serves without authentication (chains,
# full and delta CRLs, OCSP answers with a nonce for good, revoked, held and unknown serials) is
# checked twice, because OpenSSL 3.0 cannot check SM2 signatures above the leaf under the GM/T
# signer ID (PKI.md, "SM2 facts that bite"): by keyhold's own verifiers (pki_sm2_check) and by
# Bouncy Castle (BcSm2Check.java, when Java is installed; scripts/deps.sh installs it), whose
# PKIX validation must also find each leaf's status in the CRLs. Copies with one byte of the
# signed part changed must be rejected by both, and BC must reject a signature checked under
# the empty ID.
#
#   pki_sm2.sh KEYHOLDD KEYHOLD PKI_SM2_CHECK BcSm2Check.java
set -euo pipefail

keyholdd=$1
keyhold=$2
check=$3
bc_src=$4
source "$(dirname "$0")/lib.sh"
init_work pki-sm2
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start_keyholdd --http-listen "127.0.0.1:$hport"
plain=http://127.0.0.1:$hport
cd "$work"

# A clean CLI environment: no configuration file of the user running the tests.
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config
unset KEYHOLD_TOKEN KEYHOLD_TOKEN_FILE KEYHOLD_CONFIG KEYHOLD_ADDR KEYHOLD_CA_FILE
mkdir -p "$HOME"
export KEYHOLD_ADDR=https://127.0.0.1:$port KEYHOLD_CA_FILE=$work/var/tls/ca.pem
export KEYHOLD_TOKEN_FILE=$work/var/dev-token # kms-manager of the development key store (id 1)

# kh ARGS...: keyhold --json ARGS, its answer in $json (stderr in $work/err for fail()).
# khf ARGS...: keyhold ARGS without --json, for the commands that write a file with -o
# (`account create --json` prints the new token rather than writing it to -o).
kh() {
  "$keyhold" --json "$@" >"$work/out" 2>"$work/err" || fail "keyhold --json $*"
  json=$(cat "$work/out")
}
khf() { "$keyhold" "$@" >"$work/out" 2>"$work/err" || fail "keyhold $*"; }
# run WHAT CMD...: CMD must succeed; its output (stdout and stderr) in $work/run.out.
run() {
  local what=$1
  shift
  "$@" >"$work/run.out" 2>&1 || fail "$what: $(cat "$work/run.out")"
}
fetch() { # fetch NAME URL [CURL ARGS...]: 200 and the body in NAME
  local name=$1 url=$2
  shift 2
  code=$(curl -sS -o "$name" -w '%{http_code}' "$@" "$url") || fail "curl $url"
  [[ $code == 200 ]] || fail "$url: status $code"
}
# has FILE LINE: FILE holds exactly the line LINE.
has() { grep -qxF -- "$2" "$1" || fail "no line '$2' in $1: $(cat "$1")"; }
upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }

# ---- accounts, CAs and profile, as in docs/pki.md sections 1 and 3 ----
khf account create 1 ra-alice --policy ra-officer -o ra-alice.token
khf account create 1 web-team -o web-team.token
kh pki ca create gm-root --kind root --key-type sm2 \
  --subject 'CN=Example SM2 Root CA,O=Example,C=CN' --validity-days 7300
root=$(jq -r .id <<<"$json")
kh pki ca create gm-issuing --kind intermediate --parent "$root" --key-type sm2 \
  --subject 'CN=Example SM2 Issuing CA,O=Example,C=CN' --validity-days 3650
ca=$(jq -r .id <<<"$json")
jq -e '.key_type == "sm2"' <<<"$json" >/dev/null || fail "issuing CA: $json"
kh pki profile create "$ca" sm2-server --key-type sm2 --validity-days 397 \
  --key-usage digitalSignature --eku serverAuth --approval required --kind sign \
  --crl-url "$plain/pki/$ca/crl" --ocsp-url "$plain/pki/$ca/ocsp"
khf pki ca get "$root" -o root.pem
khf pki ca get "$ca" -o issuing.pem
khf pki ca get "$ca" --chain -o chain.pem # the issuing CA, then the root
[[ $(grep -c 'BEGIN CERTIFICATE' chain.pem) == 2 ]] || fail "chain.pem: $(cat chain.pem)"

# ---- three leaves from SM2 CSRs signed with the GM/T ID, approved by the RA officer ----
serials=()
for n in 1 2 3; do
  openssl genpkey -algorithm SM2 -out "leaf$n.key" 2>/dev/null
  openssl req -new -key "leaf$n.key" -sm3 -sigopt distid:1234567812345678 \
    -subj "/CN=gm$n.example.cn" -addext "subjectAltName=DNS:gm$n.example.cn" \
    -out "leaf$n.csr" 2>/dev/null || fail "openssl req $n"
  KEYHOLD_TOKEN_FILE=web-team.token kh pki request submit "$ca" sm2-server "leaf$n.csr"
  jq -e '.status == "pending"' <<<"$json" >/dev/null || fail "request $n: $json"
  KEYHOLD_TOKEN_FILE=ra-alice.token khf pki request approve "$(jq -r .id <<<"$json")" \
    -o "leaf$n.pem"
  s=$(upper "$(openssl x509 -in "leaf$n.pem" -noout -serial | cut -d= -f2)")
  [[ -n $s ]] || fail "no serial in leaf$n.pem"
  serials+=("$s")
  khf pki cert get "$s" --chain -o "full$n.pem" # leaf, issuing CA, root
done
good=${serials[0]} revoked=${serials[1]} held=${serials[2]}
unknown=0123456789ABCDEF0123 # never issued
openssl x509 -in leaf1.pem -noout -ocsp_uri >ocsp_uri.out
[[ $(cat ocsp_uri.out) == "$plain/pki/$ca/ocsp" ]] || fail "OCSP URL: $(cat ocsp_uri.out)"
openssl x509 -in leaf1.pem -noout -text | grep -qF "URI:$plain/pki/$ca/crl" ||
  fail "no CRL distribution point in leaf1.pem"

# ---- revoke one, hold one; then a full CRL and a delta on it (RFC 5280 5.2.4) ----
# Each revocation already refreshes the CA's CRLs; a delta lists the changes of the last minute
# before its base too (src/pki/crl.c), so it names both even though its base holds them.
fetch crl0.der "$plain/pki/$ca/crl"
kh pki cert revoke "$revoked" --reason keyCompromise
kh pki cert hold "$held"
kh pki crl generate "$ca"
full=$(jq -r .number <<<"$json")
jq -e '.delta == false and .entry_count == 2' <<<"$json" >/dev/null || fail "full CRL: $json"
kh pki crl generate "$ca" --delta
delta=$(jq -r .number <<<"$json")
jq -e '.delta == true' <<<"$json" >/dev/null || fail "delta CRL: $json"
fetch crl.der "$plain/pki/$ca/crl"
fetch delta.der "$plain/pki/$ca/delta-crl"
fetch root-crl.der "$plain/pki/$root/crl"

# ---- OCSP requests with a nonce (openssl builds them: the CertID hashes are SHA-1) ----
for what in good revoked held unknown; do
  run "OCSP request $what" openssl ocsp -issuer issuing.pem -serial "0x${!what}" \
    -reqout "req-$what.der"
  fetch "resp-$what.der" "$plain/pki/$ca/ocsp" --data-binary "@req-$what.der" \
    -H 'Content-Type: application/ocsp-request'
done

# ---- tampered copies: one byte of the signed part changed, the structure intact ----
# The low bit of the last seconds digit of a time (a digit stays a digit: 0<->1, ..., 8<->9):
# the N-th UTCTime or GeneralizedTime (1-based) of the file. thisUpdate for a CRL, producedAt
# for an OCSP response, notAfter for a certificate (changing notBefore could make it "not yet
# valid", which is no signature failure).
flip_time() { # flip_time IN OUT N
  python3 - "$@" <<'PY'
import re, sys
d = bytearray(open(sys.argv[1], "rb").read())
times = list(re.finditer(rb"(\x17\x0d\d{12}|\x18\x0f\d{14})Z", bytes(d)))
m = times[int(sys.argv[3]) - 1]
d[m.end() - 2] ^= 0x01
open(sys.argv[2], "wb").write(bytes(d))
PY
}
flip_time crl.der bad-crl.der 1
flip_time resp-revoked.der bad-resp.der 1
openssl x509 -in leaf1.pem -outform DER -out leaf1.der
flip_time leaf1.der bad-leaf.der 2
openssl x509 -inform DER -in bad-leaf.der -out bad-leaf.pem 2>/dev/null || fail "bad-leaf.pem"
cmp -s leaf1.der bad-leaf.der && fail "the leaf was not changed"

# ---- keyhold's verifiers ----
for n in 1 2 3; do
  run "pki_sm2_check chain leaf$n" "$check" chain root.pem chain.pem "leaf$n.pem"
  has run.out "chain ok"
  has run.out "cert ${serials[n - 1]} 1.2.156.10197.1.501"
done
run "pki_sm2_check chain full1.pem" "$check" chain root.pem full1.pem leaf1.pem
run "pki_sm2_check crl" "$check" crl issuing.pem crl.der
has run.out "crl ok number $full delta -"
has run.out "entry $revoked keyCompromise"
has run.out "entry $held certificateHold"
grep -q "entry $good" run.out && fail "the good leaf is on the CRL: $(cat run.out)"
run "pki_sm2_check delta CRL" "$check" crl issuing.pem delta.der
has run.out "crl ok number $delta delta $full"
has run.out "entry $revoked keyCompromise"
has run.out "entry $held certificateHold"
run "pki_sm2_check CRL before revocation" "$check" crl issuing.pem crl0.der
grep -q "^entry" run.out && fail "entries before any revocation: $(cat run.out)"
run "pki_sm2_check root CRL" "$check" crl root.pem root-crl.der
grep -qx "crl ok number [0-9]* delta -" run.out || fail "root CRL: $(cat run.out)"
run "pki_sm2_check ocsp good" "$check" ocsp issuing.pem req-good.der resp-good.der
has run.out "ocsp $good good"
has run.out "nonce ok"
run "pki_sm2_check ocsp revoked" "$check" ocsp issuing.pem req-revoked.der resp-revoked.der
has run.out "ocsp $revoked revoked keyCompromise"
has run.out "nonce ok"
run "pki_sm2_check ocsp held" "$check" ocsp issuing.pem req-held.der resp-held.der
has run.out "ocsp $held revoked certificateHold"
has run.out "nonce ok"
run "pki_sm2_check ocsp unknown" "$check" ocsp issuing.pem req-unknown.der resp-unknown.der
has run.out "ocsp $unknown unknown"
has run.out "nonce ok"
# The wrong issuer's key, and each tampered copy: a bad signature, nothing else.
must_reject() { # must_reject WHAT ARGS...
  local what=$1
  shift
  "$check" "$@" >run.out 2>&1 && fail "pki_sm2_check accepted $what: $(cat run.out)"
  grep -q "KH_ERR_BAD_SIGNATURE" run.out || fail "pki_sm2_check on $what: $(cat run.out)"
}
must_reject "a CRL under the root's key" crl root.pem crl.der
must_reject "a changed CRL" crl issuing.pem bad-crl.der
must_reject "a changed OCSP response" ocsp issuing.pem req-revoked.der bad-resp.der
must_reject "a changed leaf" chain root.pem chain.pem bad-leaf.pem
echo "pki-sm2: keyhold's verifiers ok"

# ---- Bouncy Castle ----
# BC 1.72 keeps the ASN.1 utilities in bcutil.jar, apart from bcpkix; older versions do not.
jars=/usr/share/java
bc_cp=$jars/bcprov.jar:$jars/bcpkix.jar
[[ -f $jars/bcutil.jar ]] && bc_cp+=:$jars/bcutil.jar
if ! command -v javac >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "SKIP: no Java (javac), Bouncy Castle cross-check not run; scripts/deps.sh installs it"
elif [[ ! -f $jars/bcprov.jar || ! -f $jars/bcpkix.jar ]]; then
  echo "SKIP: no Bouncy Castle in $jars (libbcprov-java, libbcpkix-java), cross-check not run"
else
  mkdir -p java
  javac -nowarn -cp "$bc_cp" -d java "$bc_src" 2>"$work/err" || fail "javac BcSm2Check.java"
  bc=(java -cp "java:$bc_cp" BcSm2Check)
  for n in 1 2 3; do bc+=(chain root.pem chain.pem "leaf$n.pem"); done
  bc+=(crl issuing.pem crl.der crl issuing.pem delta.der crl root.pem root-crl.der)
  for what in good revoked held unknown; do
    bc+=(ocsp issuing.pem "req-$what.der" "resp-$what.der")
  done
  bc+=(id root.pem issuing.pem id issuing.pem leaf1.pem)
  for n in 1 2 3; do bc+=(pkix-crl root.pem issuing.pem "leaf$n.pem" crl.der root-crl.der); done
  bc+=('!crl' root.pem crl.der '!crl' issuing.pem bad-crl.der)
  bc+=('!ocsp' issuing.pem req-revoked.der bad-resp.der '!chain' root.pem chain.pem bad-leaf.pem)
  "${bc[@]}" >bc.out 2>&1 || fail "Bouncy Castle: $(cat bc.out)"
  for n in 1 2 3; do has bc.out "chain leaf$n.pem ok depth 3"; done
  issuing_serial=$(upper "$(openssl x509 -in issuing.pem -noout -serial | cut -d= -f2)")
  has bc.out "chain link ok $good <- $issuing_serial"
  has bc.out "crl crl.der ok number $full delta -"
  has bc.out "crl crl.der entry $revoked keyCompromise"
  has bc.out "crl crl.der entry $held certificateHold"
  grep -q "entry $good" bc.out && fail "BC: the good leaf is on a CRL: $(cat bc.out)"
  has bc.out "crl delta.der ok number $delta delta $full"
  has bc.out "crl delta.der entry $revoked keyCompromise"
  has bc.out "crl delta.der entry $held certificateHold"
  grep -qx "crl root-crl.der ok number [0-9]* delta -" bc.out || fail "BC root CRL: $(cat bc.out)"
  has bc.out "ocsp resp-good.der $good good"
  has bc.out "ocsp resp-revoked.der $revoked revoked keyCompromise"
  has bc.out "ocsp resp-held.der $held revoked certificateHold"
  has bc.out "ocsp resp-unknown.der $unknown unknown"
  for what in good revoked held unknown; do has bc.out "ocsp resp-$what.der nonce ok"; done
  has bc.out "id issuing.pem default-id ok gmt-id ok empty-id rejected"
  has bc.out "id leaf1.pem default-id ok gmt-id ok empty-id rejected"
  has bc.out "pkix-crl leaf1.pem valid"
  has bc.out "pkix-crl leaf2.pem revoked keyCompromise"
  has bc.out "pkix-crl leaf3.pem revoked certificateHold"
  has bc.out "rejected crl crl.der: signature invalid"
  has bc.out "rejected crl bad-crl.der: signature invalid"
  has bc.out "rejected ocsp bad-resp.der: signature invalid"
  grep -qx "rejected chain bad-leaf.pem: signature invalid: .*" bc.out ||
    fail "BC on the changed leaf: $(cat bc.out)"
  has bc.out "bc: ok"
  echo "pki-sm2: Bouncy Castle ok"
fi

echo "pki-sm2: ok"
