#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Makes the CSRs under tests/data/pki/ with the openssl command line (OpenSSL 3.0), as an
# independent producer for the CSR parser: RSA, ECDSA, Ed25519, SM2 with the GM/T default ID,
# SM2 with an empty ID (proof of possession fails), and keys keyhold refuses (P-521, RSA-1024).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
subj="/C=CN/O=keyhold test/CN=req.example.com"
sans="subjectAltName=DNS:req.example.com,DNS:www.example.com,IP:192.0.2.7,email:ops@example.com,URI:https://example.com/id"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key"
openssl req -new -key "$tmp/rsa.key" -subj "$subj" -addext "$sans" -sha256 -out rsa2048.csr.pem
openssl req -in rsa2048.csr.pem -outform DER -out rsa2048.csr.der
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.key"
openssl req -new -key "$tmp/p256.key" -subj "$subj" -addext "$sans" -sha256 -out p256.csr.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/p384.key"
openssl req -new -key "$tmp/p384.key" -subj "$subj" -sha384 -out p384.csr.pem
openssl genpkey -algorithm ED25519 -out "$tmp/ed.key"
openssl req -new -key "$tmp/ed.key" -subj "$subj" -addext "$sans" -out ed25519.csr.pem
openssl genpkey -algorithm SM2 -out "$tmp/sm2.key"
openssl req -new -key "$tmp/sm2.key" -subj "$subj" -addext "$sans" -sm3 \
	-sigopt distid:1234567812345678 -out sm2.csr.pem
openssl req -new -key "$tmp/sm2.key" -subj "$subj" -sm3 -out sm2_empty_id.csr.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$tmp/p521.key"
openssl req -new -key "$tmp/p521.key" -subj "$subj" -sha512 -out p521.csr.pem
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$tmp/rsa1024.key"
openssl req -new -key "$tmp/rsa1024.key" -subj "$subj" -sha256 -out rsa1024.csr.pem
# A request asking for an extension besides SAN, keyUsage, EKU and basicConstraints (pki/).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256x.key"
openssl req -new -key "$tmp/p256x.key" -subj "/C=CN/O=keyhold test/CN=ext.example.com" \
	-addext "subjectAltName=DNS:ext.example.com" -addext "nsComment=asks for more" -sha256 \
	-out p256_extra_ext.csr.pem
