/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Certificate status for the PKI: CRLs (RFC 5280 section 5, full and delta) and OCSP
 * (RFC 6960: request parsing, signed responses, error responses), signed by a struct kh_pkey
 * with sha256WithRSAEncryption, ECDSA with SHA-256 (P-256) or SHA-384 (P-384), Ed25519, or
 * SM2-with-SM3 under the GM/T default distinguishing ID. The verifiers check our own outputs
 * over the exact to-be-signed bytes, which is the only way to check SM2 CRLs and responses
 * with OpenSSL 3.0 (PKI.md, "SM2 facts that bite").
 *
 * Times are seconds since the Unix epoch (UTC). Serial numbers travel as big-endian magnitude
 * bytes of a positive INTEGER (1..20 bytes, RFC 5280 4.1.2.2), without the sign byte DER adds.
 * Certificates are DER. Errors: KH_ERR_BAD_INPUT for malformed input or parameters,
 * KH_ERR_BAD_KEY when the signer does not match its certificate or a certificate does not
 * parse, KH_ERR_TOO_LARGE above the kh_limits.h bounds, KH_ERR_BAD_SIGNATURE from verifiers.
 */
#ifndef KH_PKI_STATUS_H
#define KH_PKI_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "base/kh_limits.h"
#include "crypto/kh_crypto.h"

#define KH_PKI_SERIAL_MAX_LEN 20
#define KH_PKI_OCSP_CERTIDS_MAX KH_LIMIT_OCSP_CERTIDS
#define KH_PKI_OCSP_HASH_MAX_LEN 32
#define KH_PKI_OCSP_NONCE_MAX_LEN 32 /* RFC 8954 2.1: 1..32 octets */

/* RFC 5280 5.3.1 CRLReason (7 is unused). */
enum kh_crl_reason {
	KH_CRL_REASON_UNSPECIFIED = 0,
	KH_CRL_REASON_KEY_COMPROMISE = 1,
	KH_CRL_REASON_CA_COMPROMISE = 2,
	KH_CRL_REASON_AFFILIATION_CHANGED = 3,
	KH_CRL_REASON_SUPERSEDED = 4,
	KH_CRL_REASON_CESSATION_OF_OPERATION = 5,
	KH_CRL_REASON_CERTIFICATE_HOLD = 6,
	KH_CRL_REASON_REMOVE_FROM_CRL = 8, /* delta CRLs only (RFC 5280 5.2.4) */
	KH_CRL_REASON_PRIVILEGE_WITHDRAWN = 9,
	KH_CRL_REASON_AA_COMPROMISE = 10,
};

/* ---- CRLs ---- */

struct kh_pki_crl_entry {
	struct kh_slice serial; /* leading zero bytes are dropped */
	int64_t revoked_at;
	/* UNSPECIFIED writes no reasonCode extension, as RFC 5280 5.3.1 asks. */
	enum kh_crl_reason reason;
	int64_t invalidity_date; /* 0: no invalidityDate extension */
};

struct kh_pki_crl_params {
	struct kh_slice ca_cert; /* the issuing CA's certificate (DER) */
	uint64_t crl_number;
	bool delta;               /* a delta CRL (deltaCRLIndicator) */
	uint64_t base_crl_number; /* the base CRL's number, for a delta */
	int64_t this_update;
	int64_t next_update; /* after this_update */
	const struct kh_pki_crl_entry *entries;
	size_t entry_count; /* at most KH_LIMIT_CRL_ENTRIES */
};

/*
 * Appends a signed v2 CRL (DER): issuer = the CA certificate's subject, CRL number, the
 * authority key identifier (the CA's subjectKeyIdentifier, else SHA-1 of its key), for a delta
 * the critical deltaCRLIndicator. ca_key must be the key of ca_cert (KH_ERR_BAD_KEY).
 */
KH_MUST_CHECK kh_rc kh_pki_crl_build(const struct kh_pkey *ca_key,
                                     const struct kh_pki_crl_params *params,
                                     struct kh_buf *out_der);

/* Appends PEM ("-----BEGIN <label>-----") of der, for example label "X509 CRL". */
KH_MUST_CHECK kh_rc kh_pki_der_to_pem(struct kh_slice der, const char *label,
                                      struct kh_buf *out_pem);

/* KH_OK when crl's signature verifies under signer_cert's key (SM2 with the default ID),
 * KH_ERR_BAD_SIGNATURE when it does not, KH_ERR_BAD_INPUT when crl is not a CRL. */
KH_MUST_CHECK kh_rc kh_pki_crl_verify(struct kh_slice crl, struct kh_slice signer_cert);

struct kh_pki_crl_info_entry {
	uint8_t serial[KH_PKI_SERIAL_MAX_LEN];
	size_t serial_len;
	int64_t revoked_at;
	bool has_reason;
	enum kh_crl_reason reason;
	int64_t invalidity_date; /* 0: none */
};

struct kh_pki_crl_info {
	bool has_number;
	uint64_t crl_number;
	bool delta;
	uint64_t base_crl_number;
	int64_t this_update;
	int64_t next_update; /* 0: none */
	struct kh_pki_crl_info_entry *entries;
	size_t entry_count;
};

/* Reads a CRL back (no signature check). Release with kh_pki_crl_info_cleanup. */
KH_MUST_CHECK kh_rc kh_pki_crl_parse(struct kh_slice crl, struct kh_pki_crl_info *out);
void kh_pki_crl_info_cleanup(struct kh_pki_crl_info *info);

/* ---- OCSP ---- */

enum kh_ocsp_hash {
	KH_OCSP_HASH_SHA1 = 1,
	KH_OCSP_HASH_SHA256,
};

/* RFC 6960 4.1.1 CertID. */
struct kh_ocsp_certid {
	enum kh_ocsp_hash hash;
	size_t hash_len; /* 20 or 32, both hashes */
	uint8_t name_hash[KH_PKI_OCSP_HASH_MAX_LEN];
	uint8_t key_hash[KH_PKI_OCSP_HASH_MAX_LEN];
	uint8_t serial[KH_PKI_SERIAL_MAX_LEN];
	size_t serial_len;
};

struct kh_ocsp_request {
	struct kh_ocsp_certid ids[KH_PKI_OCSP_CERTIDS_MAX];
	size_t id_count; /* 1..KH_PKI_OCSP_CERTIDS_MAX */
	bool has_nonce;
	uint8_t nonce[KH_PKI_OCSP_NONCE_MAX_LEN];
	size_t nonce_len;
};

/*
 * Parses an OCSPRequest (DER, at most KH_LIMIT_OCSP_REQUEST_BYTES, nothing after it).
 * KH_ERR_BAD_INPUT for anything malformed, a hash other than SHA-1/SHA-256, a nonce that is
 * not an OCTET STRING of 1..32 bytes; KH_ERR_TOO_LARGE for more than KH_PKI_OCSP_CERTIDS_MAX
 * CertIDs or a longer input. The optional request signature is ignored (RFC 6960 4.1.2).
 */
KH_MUST_CHECK kh_rc kh_pki_ocsp_request_parse(struct kh_slice der, struct kh_ocsp_request *out);

/*
 * RFC 6960 A.1: the GET form's last path segment is url-encoding(base64(DER)). Appends the DER
 * after %XX decoding ('+', '/' and '=' may also come unescaped) and strict Base64 decoding.
 */
KH_MUST_CHECK kh_rc kh_pki_ocsp_get_decode(struct kh_slice segment, struct kh_buf *out_der);

/* *out_match tells whether id names a certificate issued by ca_cert (hashes of its subject
 * name DER and of its public key BIT STRING value, RFC 6960 4.1.1). */
KH_MUST_CHECK kh_rc kh_pki_ocsp_certid_matches(const struct kh_ocsp_certid *id,
                                               struct kh_slice ca_cert, bool *out_match);

enum kh_ocsp_cert_status {
	KH_OCSP_GOOD = 0,
	KH_OCSP_REVOKED = 1,
	KH_OCSP_UNKNOWN = 2,
};

struct kh_ocsp_single {
	struct kh_ocsp_certid id; /* as received */
	enum kh_ocsp_cert_status status;
	int64_t revoked_at; /* revoked only */
	bool has_reason;    /* revoked only */
	enum kh_crl_reason reason;
	int64_t this_update;
	int64_t next_update; /* 0: none */
};

struct kh_ocsp_response_params {
	struct kh_slice signer_cert; /* the CA's or a delegated responder's certificate (DER) */
	bool include_signer_cert;    /* put it in certs (for a delegated responder) */
	int64_t produced_at;
	const struct kh_ocsp_single *singles;
	size_t single_count;   /* 1..KH_PKI_OCSP_CERTIDS_MAX */
	struct kh_slice nonce; /* echoed when not empty */
};

/* RFC 6960 4.2.1 OCSPResponseStatus. */
enum kh_ocsp_response_status {
	KH_OCSP_SUCCESSFUL = 0,
	KH_OCSP_MALFORMED_REQUEST = 1,
	KH_OCSP_INTERNAL_ERROR = 2,
	KH_OCSP_TRY_LATER = 3,
	KH_OCSP_SIG_REQUIRED = 5,
	KH_OCSP_UNAUTHORIZED = 6,
};

/*
 * Appends a successful OCSPResponse (DER) holding a BasicOCSPResponse signed by signer, whose
 * certificate is params->signer_cert (KH_ERR_BAD_KEY if they do not match): responderID by key
 * hash, the single responses, the nonce echoed.
 */
KH_MUST_CHECK kh_rc kh_pki_ocsp_response_build(const struct kh_pkey *signer,
                                               const struct kh_ocsp_response_params *params,
                                               struct kh_buf *out_der);
/* Appends an unsigned OCSPResponse with an error status (not KH_OCSP_SUCCESSFUL). */
KH_MUST_CHECK kh_rc kh_pki_ocsp_error_response(enum kh_ocsp_response_status status,
                                               struct kh_buf *out_der);

/* KH_OK when the BasicOCSPResponse inside resp verifies under signer_cert's key. */
KH_MUST_CHECK kh_rc kh_pki_ocsp_verify(struct kh_slice resp, struct kh_slice signer_cert);

struct kh_ocsp_response_info {
	enum kh_ocsp_response_status status;
	int64_t produced_at; /* successful responses only, as below */
	struct kh_ocsp_single singles[KH_PKI_OCSP_CERTIDS_MAX];
	size_t single_count;
	bool has_nonce;
	uint8_t nonce[KH_PKI_OCSP_NONCE_MAX_LEN];
	size_t nonce_len;
};

/* Reads an OCSPResponse back (no signature check). */
KH_MUST_CHECK kh_rc kh_pki_ocsp_response_parse(struct kh_slice resp,
                                               struct kh_ocsp_response_info *out);

#endif
