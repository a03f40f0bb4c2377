/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON bodies of the XKS API (XKS.md "Bodies", "Operations"): request decoders that give a
 * validated struct, and encoders of the answers and of the error document, all compact
 * single-line JSON. Pure functions: no routes, no signatures, no keys.
 *
 * Errors. An XKS error is one of the names of the XKS.md table; kh_xks_error_of maps a kh_rc
 * to it by class, in this one place, and kh_xks_error_status gives its HTTP status. The decoders
 * fail with:
 *   KH_ERR_BAD_INPUT, KH_ERR_BAD_ENCODING  ValidationException (400): not JSON, a missing or
 *                                          mistyped member, bad Base64, a wrong algorithm name,
 *                                          a requestMetadata string that is empty when required,
 *                                          not printable ASCII or over 2048 bytes;
 *   KH_ERR_DECRYPT                         InvalidCiphertextException (400): an IV other than
 *                                          12 or 16 bytes, a tag other than 16;
 *   KH_ERR_TOO_LARGE                       UnsupportedOperationException (501): a plaintext or
 *                                          ciphertext over KH_LIMIT_XKS_PLAINTEXT_BYTES, AAD over
 *                                          KH_XKS_AAD_MAX, metadata over KH_XKS_METADATA_MAX;
 *   KH_ERR_NOMEM                           InternalException (500).
 * The checks run in the order of XKS.md "Routing": every ValidationException check first, then
 * the size limits, then the IV and tag lengths (a property of the ciphertext, checked where the
 * crypto would be). So a body that is both malformed and too large is a ValidationException.
 *
 * The last two kinds (KH_ERR_TOO_LARGE and KH_ERR_DECRYPT) are "late": XKS.md puts them after
 * the key lookup and secondary authorization, which need the requestMetadata. So the decoder
 * returns KH_OK for them with the request decoded (the oversized member left empty) and the
 * refusal in req->late and req->late_fault; the caller reports it at its place in the order.
 */
#ifndef KH_XKS_BODY_H
#define KH_XKS_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "http/kh_json.h"
#include "keys/kh_xks_format.h"

/* The errorName values of XKS.md, in the order of its table. */
enum kh_xks_error {
	KH_XKS_ERR_VALIDATION = 0,
	KH_XKS_ERR_INVALID_STATE,
	KH_XKS_ERR_INVALID_CIPHERTEXT,
	KH_XKS_ERR_INVALID_KEY_USAGE,
	KH_XKS_ERR_AUTHENTICATION_FAILED,
	KH_XKS_ERR_ACCESS_DENIED,
	KH_XKS_ERR_KEY_NOT_FOUND,
	KH_XKS_ERR_INVALID_URI_PATH,
	KH_XKS_ERR_THROTTLING,
	KH_XKS_ERR_UNSUPPORTED_OPERATION,
	KH_XKS_ERR_DEPENDENCY_TIMEOUT,
	KH_XKS_ERR_INTERNAL,
	KH_XKS_ERR_COUNT
};

/* "ValidationException" etc.; "InternalException" for a value outside the enum. */
const char *kh_xks_error_name(enum kh_xks_error e);
/* 400, 401, 403, 404, 429, 501, 503 or 500 (also for a value outside the enum). */
unsigned kh_xks_error_status(enum kh_xks_error e);
/*
 * The error for a failure, by class: bad input ValidationException, except KH_ERR_WRONG_KEY_TYPE
 * InvalidKeyUsageException; too large UnsupportedOperationException; unauthenticated
 * AuthenticationFailedException; forbidden AccessDeniedException; not found
 * KeyNotFoundException (a bad path is the router's InvalidUriPathException, never a kh_rc);
 * conflict (disabled key or version) InvalidStateException; sealed DependencyTimeoutException
 * (503: the key backend is unavailable for now); rate limited
 * ThrottlingException; crypto InvalidCiphertextException; anything else InternalException.
 */
enum kh_xks_error kh_xks_error_of(kh_rc rc);

/* What a refused request gets: the error and a message for the client (printable ASCII, never
 * a byte of the input). */
#define KH_XKS_MESSAGE_MAX 128u
struct kh_xks_fault {
	enum kh_xks_error error;
	char message[KH_XKS_MESSAGE_MAX];
};

enum kh_xks_op {
	KH_XKS_OP_HEALTH = 0,
	KH_XKS_OP_METADATA,
	KH_XKS_OP_ENCRYPT,
	KH_XKS_OP_DECRYPT,
	KH_XKS_OP_COUNT
};

/* requestMetadata. Strings are borrowed from the request's document; an absent optional
 * member is an empty slice. Required ones are never empty. */
struct kh_xks_request_metadata {
	struct kh_slice kms_request_id;    /* all operations */
	struct kh_slice kms_operation;     /* all operations */
	struct kh_slice aws_principal_arn; /* required for metadata, encrypt, decrypt */
	struct kh_slice kms_key_arn;       /* required for encrypt, decrypt */
	struct kh_slice kms_via_service;   /* optional */
	struct kh_slice aws_source_vpc;    /* optional */
	struct kh_slice aws_source_vpce;   /* optional */
};

/*
 * A decoded request. Buffers an operation does not use stay empty; absent optional members are
 * empty buffers (the XKS formats treat absent and empty alike).
 */
struct kh_xks_request {
	enum kh_xks_op op;
	struct kh_json *doc; /* owns the strings of md */
	struct kh_xks_request_metadata md;
	struct kh_buf plaintext;  /* encrypt; KH_BUF_SECURE */
	struct kh_buf aad;        /* encrypt, decrypt: additionalAuthenticatedData */
	struct kh_buf ciphertext; /* decrypt */
	struct kh_buf iv;         /* decrypt: 12 or 16 bytes */
	struct kh_buf tag;        /* decrypt: 16 bytes */
	struct kh_buf metadata;   /* decrypt: ciphertextMetadata */
	bool want_integrity;      /* encrypt: ciphertextDataIntegrityValueAlgorithm was SHA_256 */
	kh_rc late;               /* KH_OK, KH_ERR_TOO_LARGE or KH_ERR_DECRYPT (see above) */
	struct kh_xks_fault late_fault; /* its error and message when late is not KH_OK */
};

/*
 * Decodes the body of op into out (which the caller releases with kh_xks_request_cleanup).
 * Unknown members are ignored at every level. On failure out is untouched and fault gets the
 * error, which is always kh_xks_error_of(the returned code), and a message. A late refusal is
 * KH_OK with out->late set (fault is then untouched).
 */
KH_MUST_CHECK kh_rc kh_xks_request_decode(enum kh_xks_op op, struct kh_slice body,
                                          struct kh_xks_request *out, struct kh_xks_fault *fault);
/* Wipes and frees; idempotent. A zeroed struct is fine. */
void kh_xks_request_cleanup(struct kh_xks_request *req);

/* ---- answers: each appends one compact JSON document to out, which is unchanged on failure
 * (KH_ERR_TOO_LARGE, KH_ERR_NOMEM, or KH_ERR_INTERNAL for arguments outside the API's rules) ----
 */

#define KH_XKS_KEY_USAGE_MAX 10u
/* {"keySpec":"AES_256","keyUsage":[...],"keyStatus":"ENABLED"|"DISABLED"}; usages are 0 to 10
 * values of [A-Z_] such as "ENCRYPT". */
KH_MUST_CHECK kh_rc kh_xks_metadata_encode(const char *const *usages, size_t usage_count,
                                           bool enabled, struct kh_buf *out);
/* {"ciphertext","initializationVector","authenticationTag","ciphertextMetadata"} and, when
 * integrity is not NULL, "ciphertextDataIntegrityValue". */
KH_MUST_CHECK kh_rc kh_xks_encrypt_encode(struct kh_slice ciphertext, struct kh_slice iv,
                                          struct kh_slice tag, struct kh_slice metadata,
                                          const uint8_t *integrity, struct kh_buf *out);
/* {"plaintext":"..."}; out must be KH_BUF_SECURE. */
KH_MUST_CHECK kh_rc kh_xks_decrypt_encode(struct kh_slice plaintext, struct kh_buf *out);

enum kh_xks_health_status {
	KH_XKS_HEALTH_ACTIVE = 0,
	KH_XKS_HEALTH_DEGRADED,
	KH_XKS_HEALTH_UNAVAILABLE,
};
struct kh_xks_ekm_node {
	const char *id;
	const char *model;
	enum kh_xks_health_status status;
};
#define KH_XKS_EKM_NODES_MAX 10u
struct kh_xks_health {
	uint64_t fleet_size;
	const char *proxy_model; /* "keyhold <version>" */
	const char *ekm_vendor;
	const struct kh_xks_ekm_node *nodes; /* 1 to KH_XKS_EKM_NODES_MAX */
	size_t node_count;
};
/* {"xksProxyFleetSize":N,"xksProxyVendor":"keyhold","xksProxyModel":...,"ekmVendor":...,
 * "ekmFleetDetails":[{"id","model","healthStatus"},...]}. */
KH_MUST_CHECK kh_rc kh_xks_health_encode(const struct kh_xks_health *h, struct kh_buf *out);

/* {"errorName":"...","errorMessage":"..."}; the message is left out when NULL or empty, cut to
 * 511 bytes, and bytes outside printable ASCII become '?'. */
KH_MUST_CHECK kh_rc kh_xks_error_encode(enum kh_xks_error e, const char *message,
                                        struct kh_buf *out);

#endif
