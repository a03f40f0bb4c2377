#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Reproduces the KH_AEAD_SM4_CTR_HMAC_SM3 known-answer vectors hard-coded in
# tests/unit/crypto/test_aead.c, independently of keyhold's code, with the openssl command line
# only. The composition is the one kh_crypto.h specifies:
#
#   key      = MAC_KEY (16) || ENC_KEY (16)
#   ct       = SM4-CTR(ENC_KEY, counter block = nonce (12) || BE32(1), pt)
#   tag      = first 16 bytes of HMAC-SM3(MAC_KEY, aad || nonce || ct || BE64(8 * len(aad)))
#
# Before generating anything it checks the tool against the published samples: the SM4 block
# cipher example of GM/T 0002-2012 (appendix A.1) and the SM3 "abc" example of GM/T 0004-2012
# (appendix A.1), so a broken openssl cannot produce silently wrong vectors.
#
# Usage: sh tests/data/gen_sm4_aead_vectors.sh   (needs openssl >= 3.0 and xxd)
set -eu

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

unhex() { xxd -r -p; }
tohex() { xxd -p | tr -d '\n'; }

# GM/T 0002-2012 A.1: key = plaintext = 0123456789abcdeffedcba9876543210.
sample=0123456789abcdeffedcba9876543210
got=$(printf '%s' "$sample" | unhex | openssl enc -sm4-ecb -nopad -K "$sample" | tohex)
[ "$got" = 681edf34d206965e86b3e94f536e4246 ] || { echo "SM4 sample mismatch: $got" >&2; exit 1; }
# GM/T 0004-2012 A.1: SM3("abc").
got=$(printf abc | openssl dgst -sm3 -r | cut -d' ' -f1)
[ "$got" = 66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0 ] ||
	{ echo "SM3 sample mismatch: $got" >&2; exit 1; }

# vector KEY NONCE AAD PT (hex; empty strings allowed) -> prints ct and tag
vector() {
	mac_key=$(printf '%s' "$1" | cut -c1-32)
	enc_key=$(printf '%s' "$1" | cut -c33-64)
	nonce=$2
	aad=$3
	pt=$4
	printf '%s' "$pt" | unhex >"$tmp/pt"
	openssl enc -sm4-ctr -K "$enc_key" -iv "${nonce}00000001" -in "$tmp/pt" -out "$tmp/ct"
	ct=$(tohex <"$tmp/ct")
	aad_bits=$(printf '%016x' $((${#aad} / 2 * 8)))
	printf '%s%s%s%s' "$aad" "$nonce" "$ct" "$aad_bits" | unhex >"$tmp/macin"
	tag=$(openssl mac -digest SM3 -macopt "hexkey:$mac_key" -in "$tmp/macin" HMAC |
		tr 'A-F' 'a-f' | cut -c1-32)
	echo "key   $1"
	echo "nonce $nonce"
	echo "aad   $aad"
	echo "pt    $pt"
	echo "ct    $ct"
	echo "tag   $tag"
	echo
}

# MAC_KEY = 00..0f; ENC_KEY = the GM/T 0002-2012 sample key.
key=000102030405060708090a0b0c0d0e0f0123456789abcdeffedcba9876543210
# 1: no AAD; 43 bytes of plaintext (two full blocks and a partial one).
vector "$key" 101112131415161718191a1b "" \
	"$(printf 'The quick brown fox jumps over the lazy dog' | tohex)"
# 2: 20 bytes of AAD; 32 bytes of plaintext (exactly two blocks).
vector "$key" 202122232425262728292a2b "$(printf 'keyhold sm4 aad test' | tohex)" \
	"$(printf 'sixteen byte blksixteen byte blk' | tohex)"
# 3: AAD and an empty plaintext (the tag alone authenticates the AAD).
vector "$key" 303132333435363738393a3b "$(printf 'header only' | tohex)" ""
# 4: nothing at all but the nonce.
vector "$key" 404142434445464748494a4b "" ""
