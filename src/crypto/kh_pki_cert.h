/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The certificate half of the PKI toolkit (PKI.md): PKCS#10 requests (RFC 2986) parsed and
 * checked for proof of possession, or built for a CA key that an external root will certify;
 * RFC 5280 certificates built from a plain spec and signed by a CA key; chain verification at
 * a given time; and a read-back of a certificate's fields. No OpenSSL type crosses this header.
 *
 * SM2 (GM/T 0003, GM/T 0015): every SM2 signature made or checked here uses the GM/T 0009
 * default distinguishing ID KH_SM2_DEFAULT_ID, unless a spec names another for signing. A CSR
 * whose SM2 self-signature was made with an empty ID (what OpenSSL 3.0 does unless told
 * otherwise) fails proof of possession: we accept the standard ID only, so that a signature
 * never verifies under two identities.
 *
 * Errors, besides those in kh_crypto.h:
 *   KH_ERR_BAD_INPUT       malformed request, certificate, name, spec field or URL
 *   KH_ERR_TOO_LARGE       encoded input above KH_LIMIT_KEY_ENCODED_BYTES, or a field above the
 *                          fixed sizes below
 *   KH_ERR_BAD_SIGNATURE   proof of possession failed; a chain does not verify
 *   KH_ERR_WRONG_KEY_TYPE  a request's key is not one of the seven kh_pkey types
 *   KH_ERR_BAD_KEY         the signing key does not match the issuer certificate
 */
#ifndef KH_PKI_CERT_H
#define KH_PKI_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "crypto/kh_crypto.h"

#define KH_PKI_NAME_TEXT_MAX 1024 /* RFC 4514 text of a name, NUL included */
#define KH_PKI_NAME_DER_MAX 2048
#define KH_PKI_SAN_VALUE_MAX 512 /* one subjectAltName value as text, NUL included */
#define KH_PKI_SAN_COUNT_MAX 64
#define KH_PKI_URL_MAX 512 /* CRL distribution point or AIA URL, NUL included */
#define KH_PKI_URL_COUNT_MAX 4
#define KH_PKI_OID_TEXT_MAX 64 /* dotted OID, NUL included */
#define KH_PKI_EXT_COUNT_MAX 32
#define KH_PKI_EKU_COUNT_MAX 16
#define KH_PKI_KEYID_MAX 64
#define KH_PKI_SERIAL_MIN_LEN 8 /* RFC 5280 4.1.2.2 and CA/B: >= 64 bits, <= 20 octets */
#define KH_PKI_SERIAL_MAX_LEN 20

enum kh_pki_san_type {
	KH_PKI_SAN_DNS = 1,
	KH_PKI_SAN_IP, /* text: dotted IPv4 or RFC 5952 IPv6 */
	KH_PKI_SAN_EMAIL,
	KH_PKI_SAN_URI,
};

struct kh_pki_san {
	enum kh_pki_san_type type;
	char value[KH_PKI_SAN_VALUE_MAX];
};

/* RFC 5280 4.2.1.3 keyUsage bits. */
enum kh_pki_key_usage {
	KH_PKI_KU_DIGITAL_SIGNATURE = 1u << 0,
	KH_PKI_KU_NON_REPUDIATION = 1u << 1,
	KH_PKI_KU_KEY_ENCIPHERMENT = 1u << 2,
	KH_PKI_KU_DATA_ENCIPHERMENT = 1u << 3,
	KH_PKI_KU_KEY_AGREEMENT = 1u << 4,
	KH_PKI_KU_KEY_CERT_SIGN = 1u << 5,
	KH_PKI_KU_CRL_SIGN = 1u << 6,
};

/* ---- PKCS#10 requests ---- */

struct kh_pki_csr {
	char subject[KH_PKI_NAME_TEXT_MAX]; /* RFC 4514 */
	uint8_t subject_der[KH_PKI_NAME_DER_MAX];
	size_t subject_der_len;
	struct kh_pkey *key; /* public only; owned by the request */
	struct kh_pki_san sans[KH_PKI_SAN_COUNT_MAX];
	size_t san_count;
	/* OIDs of every extension requested (extensionRequest, PKCS#9 / RFC 2985 5.4.2). */
	char ext_oids[KH_PKI_EXT_COUNT_MAX][KH_PKI_OID_TEXT_MAX];
	size_t ext_count;
	char sig_alg_oid[KH_PKI_OID_TEXT_MAX];
	/* 0 for an algorithm outside kh_sig_alg that OpenSSL verified (sha512WithRSA...). */
	enum kh_sig_alg sig_alg;
};

/*
 * Parses a request, PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST", one block, only
 * whitespace after it) or DER (one object, no trailing bytes), at most KH_LIMIT_KEY_ENCODED_BYTES,
 * and checks its self-signature (SM2: with KH_SM2_DEFAULT_ID). SAN types other than the four
 * above are refused (KH_ERR_BAD_INPUT) rather than dropped.
 */
KH_MUST_CHECK kh_rc kh_pki_csr_parse(struct kh_slice data, struct kh_pki_csr **out);
void kh_pki_csr_free(struct kh_pki_csr **csr);

/*
 * Appends the PEM of a request for key (which must hold its private half) naming subject
 * (RFC 4514 text) and asking for the SANs given (san_count may be 0), signed with the key's
 * default algorithm (SM2: SM2-with-SM3 and KH_SM2_DEFAULT_ID).
 */
KH_MUST_CHECK kh_rc kh_pki_csr_build(const struct kh_pkey *key, const char *subject,
                                     const struct kh_pki_san *sans, size_t san_count,
                                     struct kh_buf *out_pem);

/* ---- Certificates ---- */

struct kh_pki_cert_spec {
	/* Big-endian, KH_PKI_SERIAL_MIN_LEN..MAX_LEN bytes, positive, minimally encoded (the
	 * first byte is 0x01..0x7f). kh_pki_serial_random makes one. */
	struct kh_slice serial;
	/* The subject: DER Name if subject_der is not empty, else RFC 4514 text. */
	struct kh_slice subject_der;
	const char *subject;
	/* Issuer certificate (DER); empty for a self-signed certificate, whose key is then the
	 * signer's and must equal subject_key. */
	struct kh_slice issuer_cert_der;
	int64_t not_before, not_after; /* Unix seconds, not_before < not_after */
	const struct kh_pkey *subject_key;
	bool is_ca;
	int path_len;       /* CA only: -1 for no pathLenConstraint */
	unsigned key_usage; /* kh_pki_key_usage bits; 0 = no keyUsage extension */
	/* Names (serverAuth, clientAuth, codeSigning, emailProtection, OCSPSigning,
	 * timeStamping) or dotted OIDs. */
	const char *const *ekus;
	size_t eku_count;
	const struct kh_pki_san *sans;
	size_t san_count;
	const char *const *crl_urls;
	size_t crl_url_count;
	const char *ocsp_url;       /* NULL or "" for none */
	const char *ca_issuers_url; /* NULL or "" for none */
	/* SM2 signer only: the signer's ID; empty = KH_SM2_DEFAULT_ID. */
	struct kh_slice sm2_id;
	bool ocsp_nocheck; /* id-pkix-ocsp-nocheck: a delegated OCSP responder's certificate */
};

/* out[0..len) = a random positive serial of len bytes (KH_PKI_SERIAL_MIN_LEN..MAX_LEN). */
KH_MUST_CHECK kh_rc kh_pki_serial_random(uint8_t *out, size_t len);

/*
 * Builds and signs an X.509 v3 certificate, appending its DER to out_der. Extensions:
 * basicConstraints (critical; CA:TRUE with the path length, or CA:FALSE), keyUsage (critical),
 * extKeyUsage, subjectAltName (critical when the subject is empty, RFC 5280 4.2.1.6),
 * cRLDistributionPoints, authorityInfoAccess, id-pkix-ocsp-nocheck, subjectKeyIdentifier (SHA-1 of
 * the public key bits, RFC 5280 4.2.1.2 method 1) and authorityKeyIdentifier (the issuer's SKI).
 * Signature: RSA sha256WithRSAEncryption, P-256 ecdsa-with-SHA256, P-384 ecdsa-with-SHA384,
 * Ed25519, SM2 SM2-with-SM3. KH_ERR_BAD_KEY when signer does not match the issuer certificate.
 */
KH_MUST_CHECK kh_rc kh_pki_cert_build(const struct kh_pki_cert_spec *spec,
                                      const struct kh_pkey *signer, struct kh_buf *out_der);

/* DER <-> PEM ("CERTIFICATE") for one certificate; the input is checked to parse. */
KH_MUST_CHECK kh_rc kh_pki_cert_to_pem(struct kh_slice der, struct kh_buf *out_pem);
KH_MUST_CHECK kh_rc kh_pki_cert_from_pem(struct kh_slice pem, struct kh_buf *out_der);

/*
 * Verifies leaf (DER) up to one of roots (DER, trusted as given) through any of the
 * intermediates (DER), at Unix time at, RFC 5280 6.1 with OpenSSL's strict checks; SM2
 * signatures with KH_SM2_DEFAULT_ID on every certificate. KH_ERR_BAD_INPUT when a certificate
 * does not parse, KH_ERR_BAD_SIGNATURE when the chain does not verify; then, if reason is not
 * NULL, it receives a short English reason ("certificate has expired").
 */
KH_MUST_CHECK kh_rc kh_pki_chain_verify(struct kh_slice leaf, const struct kh_slice *intermediates,
                                        size_t intermediate_count, const struct kh_slice *roots,
                                        size_t root_count, int64_t at, char *reason,
                                        size_t reason_len);

/* The fields of a certificate, read back. */
/*
 * A trust anchor: a self-issued CA certificate (DER) whose signature verifies under its own key
 * (SM2 with KH_SM2_DEFAULT_ID) and that is valid at Unix time at. KH_ERR_BAD_INPUT when it does
 * not parse or is not a self-issued CA certificate valid then, KH_ERR_BAD_SIGNATURE when its
 * self-signature fails; reason (may be NULL) gets a short English reason.
 */
KH_MUST_CHECK kh_rc kh_pki_anchor_check(struct kh_slice der, int64_t at, char *reason,
                                        size_t reason_len);

/* The certificate's (DER) public key. */
KH_MUST_CHECK kh_rc kh_pki_cert_public_key(struct kh_slice der, struct kh_pkey **out);

struct kh_pki_cert_info {
	char serial_hex[2 * KH_PKI_SERIAL_MAX_LEN + 3]; /* upper-case hex, no sign */
	char subject[KH_PKI_NAME_TEXT_MAX];
	char issuer[KH_PKI_NAME_TEXT_MAX];
	int64_t not_before, not_after;
	enum kh_pkey_type key_type; /* 0 when the key is none of ours */
	bool is_ca;
	int path_len; /* -1 when absent */
	bool has_key_usage;
	unsigned key_usage;
	char ekus[KH_PKI_EKU_COUNT_MAX][KH_PKI_OID_TEXT_MAX]; /* dotted OIDs */
	size_t eku_count;
	struct kh_pki_san sans[KH_PKI_SAN_COUNT_MAX];
	size_t san_count;
	uint8_t ski[KH_PKI_KEYID_MAX];
	size_t ski_len;
	uint8_t aki[KH_PKI_KEYID_MAX];
	size_t aki_len;
	char crl_urls[KH_PKI_URL_COUNT_MAX][KH_PKI_URL_MAX];
	size_t crl_url_count;
	char ocsp_url[KH_PKI_URL_MAX];
	char ca_issuers_url[KH_PKI_URL_MAX];
	char sig_alg_oid[KH_PKI_OID_TEXT_MAX];
};

/* ---- EST (RFC 7030) objects (pki_est.c) ---- */

/* Appends a certs-only CMS SignedData (RFC 7030 4.1.3; RFC 5652 5.1 without signers) holding
 * the certificates (DER, at least one) in the order given. */
KH_MUST_CHECK kh_rc kh_pki_certs_only(const struct kh_slice *certs, size_t count,
                                      struct kh_buf *out_der);
/* Appends the CsrAttrs (RFC 7030 4.5.2) for the key types: each one's public key algorithm
 * (an EC key as the Attribute id-ecPublicKey whose value is its curve), then the signature
 * algorithm keyhold expects (sha256WithRSAEncryption, ecdsa-with-SHA256/384, SM2-with-SM3;
 * Ed25519's OID serves as both). Duplicates are written once; count 0 gives an empty SEQUENCE. */
KH_MUST_CHECK kh_rc kh_pki_csrattrs_build(const enum kh_pkey_type *types, size_t count,
                                          struct kh_buf *out_der);

/* Reads a certificate (DER); fields that do not fit the sizes above are KH_ERR_TOO_LARGE. */
KH_MUST_CHECK kh_rc kh_pki_cert_info_read(struct kh_slice der, struct kh_pki_cert_info **out);
void kh_pki_cert_info_free(struct kh_pki_cert_info **info);

#endif
