/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two DER objects EST (RFC 7030) answers with that are not certificates themselves: the
 * "certs-only" CMS SignedData that carries certificates without a signature (RFC 7030 4.1.3,
 * RFC 5652 5.1: no digest algorithms, an empty id-data content, no signer infos), and the
 * CsrAttrs of RFC 7030 4.5.2 naming the key types and signature algorithms a profile accepts.
 * Both are written with the DER writer of pki_der.c, so any certificate bytes (SM2 included)
 * pass through unchanged.
 */
#include <string.h>

#include "crypto/kh_pki_cert.h"
#include "crypto/kh_pki_status_int.h"

/* Contents (without tag and length) of the OIDs used below. */
static const uint8_t oid_signed_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
static const uint8_t oid_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01};

#define OID(...)                                                                                   \
	{                                                                                          \
		(const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})             \
	}
struct oid {
	const uint8_t *ptr;
	size_t len;
};

/* RFC 5652 5.1 and RFC 7030 4.1.3: a degenerate SignedData (no signers) holding certs. */
kh_rc kh_pki_certs_only(const struct kh_slice *certs, size_t count, struct kh_buf *out_der)
{
	size_t start = out_der->len;
	kh_rc rc = KH_OK;
	KH_ENSURE(count > 0, KH_ERR_BAD_INPUT);
	for (size_t i = 0; i < count; i++)
		KH_ENSURE(certs[i].len > 0 && certs[i].ptr[0] == 0x30, KH_ERR_BAD_INPUT);
	/* ContentInfo */
	KH_GUARD_OUT(kh_der_tlv(out_der, 0x06, KH_SLICE(oid_signed_data, sizeof(oid_signed_data))));
	size_t sd = out_der->len;
	KH_GUARD_OUT(kh_der_uint(out_der, 0x02, 1));             /* version CMSVersion 1 */
	KH_GUARD_OUT(kh_der_tlv(out_der, 0x31, KH_SLICE_EMPTY)); /* digestAlgorithms {} */
	size_t eci = out_der->len;                               /* encapContentInfo */
	KH_GUARD_OUT(kh_der_tlv(out_der, 0x06, KH_SLICE(oid_data, sizeof(oid_data))));
	KH_GUARD_OUT(kh_der_wrap_from(out_der, eci, 0x30));
	size_t set = out_der->len; /* certificates [0] IMPLICIT CertificateSet */
	for (size_t i = 0; i < count; i++)
		KH_GUARD_OUT(kh_buf_append(out_der, certs[i]));
	KH_GUARD_OUT(kh_der_wrap_from(out_der, set, 0xa0));
	KH_GUARD_OUT(kh_der_tlv(out_der, 0x31, KH_SLICE_EMPTY)); /* signerInfos {} */
	KH_GUARD_OUT(kh_der_wrap_from(out_der, sd, 0x30));
	KH_GUARD_OUT(kh_der_wrap_from(out_der, sd, 0xa0)); /* content [0] EXPLICIT */
	KH_GUARD_OUT(kh_der_wrap_from(out_der, start, 0x30));
out:
	if (rc != KH_OK)
		out_der->len = start;
	return rc;
}

/* Key algorithm (with its curve as an Attribute value for EC), then signature algorithm. */
struct type_oids {
	enum kh_pkey_type type;
	struct oid key, curve, sig;
};

static const struct type_oids type_oids[] = {
    /* rsaEncryption, sha256WithRSAEncryption */
    {KH_PKEY_RSA_2048,
     OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01),
     {NULL, 0},
     OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b)},
    {KH_PKEY_RSA_3072,
     OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01),
     {NULL, 0},
     OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b)},
    {KH_PKEY_RSA_4096,
     OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01),
     {NULL, 0},
     OID(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b)},
    /* id-ecPublicKey with prime256v1, ecdsa-with-SHA256 */
    {KH_PKEY_EC_P256, OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01),
     OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07),
     OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02)},
    /* id-ecPublicKey with secp384r1, ecdsa-with-SHA384 */
    {KH_PKEY_EC_P384, OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01),
     OID(0x2b, 0x81, 0x04, 0x00, 0x22), OID(0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03)},
    /* id-Ed25519 (RFC 8410: the key and signature algorithm are one OID) */
    {KH_PKEY_ED25519, OID(0x2b, 0x65, 0x70), {NULL, 0}, {NULL, 0}},
    /* SM2 public key 1.2.156.10197.1.301, SM2-with-SM3 1.2.156.10197.1.501 */
    {KH_PKEY_SM2,
     OID(0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d),
     {NULL, 0},
     OID(0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x83, 0x75)},
};

/* Whether the OID content is already in out's elements from start on (RSA sizes share). */
static bool written(const struct kh_buf *out, size_t start, struct oid o)
{
	for (size_t at = start; at + 2 + o.len <= out->len;) {
		const uint8_t *p = out->ptr + at;
		if (p[0] == 0x06 && p[1] == o.len && memcmp(p + 2, o.ptr, o.len) == 0)
			return true;
		at += 2u + p[1]; /* every element written here is short-form */
	}
	return false;
}

static kh_rc write_oid(struct kh_buf *out, size_t start, struct oid o)
{
	if (o.ptr == NULL || written(out, start, o))
		return KH_OK;
	return kh_der_tlv(out, 0x06, KH_SLICE(o.ptr, o.len));
}

/* RFC 7030 4.5.2: CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID, each key type as its
 * algorithm OID (EC: an Attribute id-ecPublicKey whose value is the curve, as in the example of
 * RFC 7030 4.5.2), then the signature algorithms. */
kh_rc kh_pki_csrattrs_build(const enum kh_pkey_type *types, size_t count, struct kh_buf *out_der)
{
	size_t start = out_der->len;
	kh_rc rc = KH_OK;
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < sizeof(type_oids) / sizeof(type_oids[0]); j++) {
			const struct type_oids *t = &type_oids[j];
			if (t->type != types[i])
				continue;
			if (t->curve.ptr == NULL) {
				KH_GUARD_OUT(write_oid(out_der, start, t->key));
				continue;
			}
			size_t attr = out_der->len;
			KH_GUARD_OUT(kh_der_tlv(out_der, 0x06, KH_SLICE(t->key.ptr, t->key.len)));
			size_t set = out_der->len;
			KH_GUARD_OUT(
			    kh_der_tlv(out_der, 0x06, KH_SLICE(t->curve.ptr, t->curve.len)));
			KH_GUARD_OUT(kh_der_wrap_from(out_der, set, 0x31));
			KH_GUARD_OUT(kh_der_wrap_from(out_der, attr, 0x30));
		}
	}
	for (size_t i = 0; i < count; i++)
		for (size_t j = 0; j < sizeof(type_oids) / sizeof(type_oids[0]); j++)
			if (type_oids[j].type == types[i])
				KH_GUARD_OUT(write_oid(out_der, start, type_oids[j].sig));
	KH_GUARD_OUT(kh_der_wrap_from(out_der, start, 0x30));
out:
	if (rc != KH_OK)
		out_der->len = start;
	return rc;
}
