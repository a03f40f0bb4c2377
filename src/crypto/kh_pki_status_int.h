/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the CRL and OCSP code (src/crypto/pki_*.c) only: a small DER writer and reader
 * (X.690 definite lengths, one-byte tags), the signature algorithm of a signer, and the
 * certificate helpers. Signed structures are encoded by hand so that the bytes signed are
 * exactly the bytes sent, with the SM2 ID handled by kh_pkey_sign.
 */
#ifndef KH_PKI_STATUS_INT_H
#define KH_PKI_STATUS_INT_H

#include <openssl/x509.h>

#include "crypto/kh_crypto_int.h"
#include "crypto/kh_pki_status.h"

enum {
	DER_BOOLEAN = 0x01,
	DER_INTEGER = 0x02,
	DER_BIT_STRING = 0x03,
	DER_OCTET_STRING = 0x04,
	DER_NULL = 0x05,
	DER_OID = 0x06,
	DER_ENUMERATED = 0x0a,
	DER_UTC_TIME = 0x17,
	DER_GENERALIZED_TIME = 0x18,
	DER_SEQUENCE = 0x30,
	DER_CTX = 0x80,      /* context-specific, primitive */
	DER_CTX_CONS = 0xa0, /* context-specific, constructed */
};

/* Appends tag, length and content. */
KH_MUST_CHECK kh_rc kh_der_tlv(struct kh_buf *out, uint8_t tag, struct kh_slice content);
/* Appends tag and length only (the content follows). */
KH_MUST_CHECK kh_rc kh_der_header(struct kh_buf *out, uint8_t tag, size_t len);
/* Wraps everything in b from offset start in tag (moves the content up by the header). */
KH_MUST_CHECK kh_rc kh_der_wrap_from(struct kh_buf *b, size_t start, uint8_t tag);
/* INTEGER (or ENUMERATED with that tag) of a non-negative value. */
KH_MUST_CHECK kh_rc kh_der_uint(struct kh_buf *out, uint8_t tag, uint64_t v);
/* INTEGER of a positive serial number given as 1..20 magnitude bytes. */
KH_MUST_CHECK kh_rc kh_der_serial(struct kh_buf *out, struct kh_slice serial);
/* RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime after (or always when generalized). */
KH_MUST_CHECK kh_rc kh_der_time(struct kh_buf *out, int64_t t, bool generalized);
/* An Extension: SEQUENCE { OID, critical BOOLEAN if true, OCTET STRING value }. */
KH_MUST_CHECK kh_rc kh_der_extension(struct kh_buf *out, struct kh_slice oid_content, bool critical,
                                     struct kh_slice value);

/*
 * Reads the next TLV of in, which must carry tag: *out_content is its content, *out_whole the
 * TLV itself (either may be NULL), and in advances past it. KH_ERR_BAD_INPUT otherwise.
 */
KH_MUST_CHECK kh_rc kh_der_read(struct kh_slice *in, uint8_t tag, struct kh_slice *out_content,
                                struct kh_slice *out_whole);

/* The signature a signer key makes here, and its AlgorithmIdentifier DER. */
struct kh_pki_sigalg {
	enum kh_sig_alg alg;
	struct kh_slice algid;
};
KH_MUST_CHECK kh_rc kh_pki_sigalg_of_key(const struct kh_pkey *key, struct kh_pki_sigalg *out);
/* The algorithm of an AlgorithmIdentifier (whole TLV); KH_ERR_BAD_SIGNATURE when unknown. */
KH_MUST_CHECK kh_rc kh_pki_sigalg_of_algid(struct kh_slice algid, struct kh_pki_sigalg *out);

/* Signs tbs (a whole TLV) and appends SEQUENCE { tbs, algid, BIT STRING signature, extra }
 * (extra: whatever follows the signature, such as an OCSP response's certs, or empty). */
KH_MUST_CHECK kh_rc kh_pki_sign_wrap(const struct kh_pkey *key, const struct kh_pki_sigalg *sa,
                                     struct kh_slice tbs, struct kh_slice extra,
                                     struct kh_buf *out);
/* Checks SEQUENCE { tbs, algid, BIT STRING } (the content of signed) under cert's key. */
KH_MUST_CHECK kh_rc kh_pki_verify_signed(struct kh_slice tbs, struct kh_slice algid,
                                         struct kh_slice bits, X509 *cert);

/* A certificate from DER (exactly one, nothing after it); KH_ERR_BAD_KEY otherwise. */
KH_MUST_CHECK kh_rc kh_pki_cert_load(struct kh_slice der, X509 **out);
/* KH_ERR_BAD_KEY unless key is the private half of cert's public key. */
KH_MUST_CHECK kh_rc kh_pki_cert_key_check(X509 *cert, const struct kh_pkey *key);
/* SHA-1 of the subjectPublicKey BIT STRING value (RFC 5280 4.2.1.2 method 1, RFC 6960 KeyHash). */
KH_MUST_CHECK kh_rc kh_pki_cert_key_sha1(X509 *cert, uint8_t out[20]);

/* Seconds since the epoch of an ASN1_TIME; KH_ERR_BAD_INPUT for a malformed one. */
KH_MUST_CHECK kh_rc kh_pki_time_of(const ASN1_TIME *t, int64_t *out);
/* Magnitude bytes of a positive INTEGER of at most 20 bytes. */
KH_MUST_CHECK kh_rc kh_pki_serial_of(const ASN1_INTEGER *i, uint8_t *out, size_t *out_len);

#endif
