#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Reproduces the asymmetric-key test data in tests/data/pkey/ used by
# tests/unit/crypto/test_pkey.c, test_sign.c and test_pkenc.c, with the openssl command line only
# (independently of keyhold's code).
#
# Keys are generated only when missing, so with the committed keys every deterministic output
# (the RSA PKCS#1 v1.5 signature, the SM2 digests e) is reproduced byte for byte; randomised
# outputs (PSS, ECDSA and SM2 signatures, OAEP and SM2 ciphertexts) come out different but
# equally valid, and the script verifies each of them with the command line before keeping it.
#
# Before generating anything it checks the SM3 implementation against GM/T 0004-2012 A.1 and
# the SM2 curve parameters against GB/T 32918.5-2017 (the recommended 256-bit curve), because
# the SM2 digests e = SM3(Z || M) are computed here by hand from those constants:
#   Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)    (GB/T 32918.2-2016 5.5)
#
# Usage: sh tests/data/gen_sign_vectors.sh   (needs openssl >= 3.0 and xxd)
set -eu

dir=$(cd "$(dirname "$0")" && pwd)/pkey
mkdir -p "$dir"
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

unhex() { xxd -r -p; }
tohex() { xxd -p | tr -d '\n'; }

# GM/T 0004-2012 A.1: SM3("abc").
got=$(printf abc | openssl dgst -sm3 -r | cut -d' ' -f1)
[ "$got" = 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0 ] ||
	{ echo "SM3 sample mismatch: $got" >&2; exit 1; }

# GB/T 32918.5-2017: the recommended curve's a, b and base point G.
sm2_a=FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
sm2_b=28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
sm2_g=32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
params=$(openssl ecparam -name SM2 -param_enc explicit -outform DER | tohex | tr a-f A-F)
case $params in
*"$sm2_a"*"$sm2_b"*"04$sm2_g"*) ;;
*) echo "SM2 curve parameters differ from GB/T 32918.5" >&2; exit 1 ;;
esac

# Keys (PKCS#8 PEM, unencrypted) and their SubjectPublicKeyInfo.
genkey() { # name algorithm [pkeyopt...]
	name=$1
	alg=$2
	shift 2
	if [ ! -f "$name.key.pem" ]; then
		set -- $(for o in "$@"; do printf -- '-pkeyopt %s ' "$o"; done)
		openssl genpkey -quiet -algorithm "$alg" "$@" -out "$name.key.pem"
	fi
	openssl pkey -in "$name.key.pem" -pubout -out "$name.pub.pem"
}
genkey rsa2048 RSA rsa_keygen_bits:2048 rsa_keygen_pubexp:65537
genkey p256 EC ec_paramgen_curve:P-256 ec_param_enc:named_curve
genkey p384 EC ec_paramgen_curve:P-384 ec_param_enc:named_curve
genkey sm2 SM2
# Keys that import must refuse.
genkey rsa1024 RSA rsa_keygen_bits:1024
genkey secp256k1 EC ec_paramgen_curve:secp256k1 ec_param_enc:named_curve
genkey x25519 X25519
genkey rsapss RSA-PSS rsa_keygen_bits:2048

# DER forms of the accepted keys, as the command line writes them.
for k in rsa2048 p256 sm2; do
	openssl pkcs8 -topk8 -nocrypt -in "$k.key.pem" -outform DER -out "$k.key.der"
	openssl pkey -pubin -in "$k.pub.pem" -outform DER -out "$k.pub.der"
done
# Refused encodings of an acceptable key: encrypted PKCS#8 (PEM and DER), the traditional
# "EC PRIVATE KEY" form, explicit curve parameters.
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:keyhold -in p256.key.pem -out p256.enc.pem
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:keyhold -in p256.key.pem -outform DER \
	-out p256.enc.der
openssl pkey -in p256.key.pem -traditional -out p256.trad.pem
openssl pkey -in p256.key.pem -ec_param_enc explicit -out p256.explicit.pem
# Accepted: a public key with a compressed point.
openssl pkey -in p256.key.pem -pubout -ec_conv_form compressed -out p256.compressed.pub.pem

printf abc >msg.bin

# RSA PKCS#1 v1.5 with SHA-256 (deterministic).
openssl dgst -sha256 -sign rsa2048.key.pem -out rsa2048.pkcs1.sig msg.bin
# RSA-PSS: SHA-256, MGF1-SHA-256, salt length 32.
openssl dgst -sha256 -sign rsa2048.key.pem -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 -out rsa2048.pss.sig msg.bin
openssl dgst -sha256 -verify rsa2048.pub.pem -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:32 -sigopt rsa_mgf1_md:sha256 -signature rsa2048.pss.sig msg.bin
# The same with a 20-byte salt: valid PSS, but not ours (verification requires 32).
openssl dgst -sha256 -sign rsa2048.key.pem -sigopt rsa_padding_mode:pss \
	-sigopt rsa_pss_saltlen:20 -sigopt rsa_mgf1_md:sha256 -out rsa2048.pss_salt20.sig msg.bin
# ECDSA.
openssl dgst -sha256 -sign p256.key.pem -out p256.sig msg.bin
openssl dgst -sha256 -verify p256.pub.pem -signature p256.sig msg.bin
openssl dgst -sha384 -sign p384.key.pem -out p384.sig msg.bin
openssl dgst -sha384 -verify p384.pub.pem -signature p384.sig msg.bin

# SM2 with SM3, under the default ID and under a caller-chosen one.
sm2sig() { # id output
	openssl pkeyutl -sign -inkey sm2.key.pem -rawin -digest sm3 -pkeyopt "distid:$1" \
		-in msg.bin -out "$2"
	openssl pkeyutl -verify -pubin -inkey sm2.pub.pem -rawin -digest sm3 \
		-pkeyopt "distid:$1" -in msg.bin -sigfile "$2"
}
sm2sig 1234567812345678 sm2.default_id.sig
sm2sig ALICE123@YAHOO.COM sm2.alice_id.sig
# e = SM3(Z || M) for each ID; the public point is the last 64 bytes of the SPKI.
sm2e() { # id output
	id_hex=$(printf '%s' "$1" | tohex)
	entl=$(printf '%04x' $((${#1} * 8)))
	xy=$(tail -c 64 sm2.pub.der | tohex)
	printf '%s' "$entl$id_hex$sm2_a$sm2_b$sm2_g$xy" | unhex | openssl dgst -sm3 -binary \
		>"$tmp/z"
	cat "$tmp/z" msg.bin | openssl dgst -sm3 -binary >"$2"
}
sm2e 1234567812345678 sm2.default_id.e
sm2e ALICE123@YAHOO.COM sm2.alice_id.e
# The digest really is what the signature covers: verify the CLI signature over e directly.
openssl pkeyutl -verify -pubin -inkey sm2.pub.pem -in sm2.default_id.e \
	-sigfile sm2.default_id.sig

# Public-key encryption of a fixed plaintext.
printf 'keyhold asymmetric encryption test' >pt.bin
openssl pkeyutl -encrypt -pubin -inkey rsa2048.pub.pem -pkeyopt rsa_padding_mode:oaep \
	-pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in pt.bin -out rsa2048.oaep.ct
openssl pkeyutl -encrypt -pubin -inkey sm2.pub.pem -in pt.bin -out sm2.ct
for c in "rsa2048.oaep.ct rsa2048 -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256" \
	"sm2.ct sm2"; do
	set -- $c
	ct=$1
	key=$2
	shift 2
	openssl pkeyutl -decrypt -inkey "$key.key.pem" "$@" -in "$ct" | cmp - pt.bin
done
chmod 644 ./*  # openssl writes private keys 0600; these are public test data
echo "tests/data/pkey regenerated"
