/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS Signature Version 4 (XKS.md "Authentication"): a verifier for requests signed with
 * "AWS4-HMAC-SHA256" in the Authorization header, and a signer for tests and benchmarks.
 *
 * The verifier is generic: it knows nothing of HTTP libraries or of where secrets are kept. The
 * caller hands it the request as received (method, raw path and query, headers, body) and a
 * lookup that turns an access key id into its secret. Every authentication failure is
 * KH_ERR_UNAUTHENTICATED, whatever was wrong (a strange access key id is not a format error);
 * an enum says why, for logs only: it never carries a secret or a signature.
 *
 * Canonical request (docs/sigv4.md has the details and the limits):
 *   - URI: the raw path as sent, normalised ("." and ".." segments resolved, empty segments
 *     dropped, a trailing '/' kept) and then URI-encoded as a whole except '/': so a path sent
 *     percent-encoded is encoded twice, as AWS specifies for every service but S3;
 *   - query: parameters split on '&' (empty ones dropped) and '=', percent-decoded, encoded
 *     again (RFC 3986 unreserved characters kept, everything else %XX), sorted by name, then
 *     value; '+' is a plus sign, not a space;
 *   - headers: the ones named in SignedHeaders, names lower-cased, each value trimmed with inner
 *     runs of spaces and tabs collapsed to one space, repeated headers joined with ',' in the
 *     order received;
 *   - payload: the hex SHA-256 of the body, always computed (x-amz-content-sha256 is an ordinary
 *     header; UNSIGNED-PAYLOAD and chunked signing are refused by the mismatch they cause).
 *
 * Thread-safe: no state.
 */
#ifndef KH_SIGV4_H
#define KH_SIGV4_H

#include <stdint.h>

#include "base/kh_buf.h"

#define KH_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define KH_SIGV4_AMZ_DATE_LEN 16u    /* yyyymmddThhmmssZ */
#define KH_SIGV4_ACCESS_KEY_MAX 128u /* longer ids cannot match any credential */
#define KH_SIGV4_REGION_MAX 64u      /* [a-z0-9-] */
#define KH_SIGV4_SECRET_MAX 256u     /* what a lookup may return */
#define KH_SIGV4_DEFAULT_SKEW_NS (INT64_C(300) * INT64_C(1000000000)) /* 5 minutes */

/* One header as received; repeated headers appear as repeated entries. */
struct kh_sigv4_header {
	struct kh_slice name, value;
};

/* The request as received: raw_path is the path of the request target as sent (before any
 * percent-decoding), raw_query what follows '?' (empty when there is none). */
struct kh_sigv4_request {
	struct kh_slice method, raw_path, raw_query;
	const struct kh_sigv4_header *headers;
	size_t header_count;
	struct kh_slice body;
};

struct kh_sigv4_policy {
	const char *service; /* the credential scope's service must equal it ("kms-xks-proxy") */
	const char *region;  /* the scope's region must equal it; NULL: any */
	int64_t now_ns;      /* the server's clock */
	int64_t max_skew_ns; /* |X-Amz-Date - now| allowed; 0: KH_SIGV4_DEFAULT_SKEW_NS */
};

/*
 * Puts the secret of access_key_id into out_secret (KH_BUF_SECURE, at most
 * KH_SIGV4_SECRET_MAX bytes) and returns KH_OK, or KH_ERR_NOT_FOUND when no live credential has
 * that id. Any other code is passed on by kh_sigv4_verify (a sealed or broken store is not an
 * authentication failure). Rotation: several credentials may be live at once, each with its
 * own access key id.
 */
typedef kh_rc (*kh_sigv4_lookup_fn)(void *arg, struct kh_slice access_key_id,
                                    struct kh_buf *out_secret);

/* Why a request did not authenticate: for logs and tests, never for the peer. */
enum kh_sigv4_reason {
	KH_SIGV4_OK = 0,
	KH_SIGV4_BAD_REQUEST,          /* method, path, query or headers malformed or too large */
	KH_SIGV4_NO_AUTHORIZATION,     /* Authorization missing or repeated */
	KH_SIGV4_BAD_AUTHORIZATION,    /* not "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, ..." */
	KH_SIGV4_BAD_CREDENTIAL,       /* the credential scope is malformed */
	KH_SIGV4_BAD_SIGNED_HEADERS,   /* SignedHeaders malformed, unsorted or repeated names */
	KH_SIGV4_BAD_SIGNATURE_FORMAT, /* Signature is not 64 lower-case hex digits */
	KH_SIGV4_BAD_DATE,             /* X-Amz-Date missing, repeated or not yyyymmddThhmmssZ */
	KH_SIGV4_DATE_MISMATCH,        /* the scope's date is not X-Amz-Date's */
	KH_SIGV4_CLOCK_SKEW,           /* X-Amz-Date too far from now */
	KH_SIGV4_WRONG_SERVICE,
	KH_SIGV4_WRONG_REGION,
	KH_SIGV4_UNSIGNED_REQUIRED,    /* host or x-amz-date is not among the signed headers */
	KH_SIGV4_SIGNED_HEADER_ABSENT, /* a signed header is not in the request */
	KH_SIGV4_UNKNOWN_ACCESS_KEY,
	KH_SIGV4_SIGNATURE_MISMATCH,
	KH_SIGV4_REASON_COUNT
};
/* "signature-mismatch" etc.; never NULL. */
const char *kh_sigv4_reason_name(enum kh_sigv4_reason reason);

/* Who signed, on success. */
struct kh_sigv4_identity {
	char access_key_id[KH_SIGV4_ACCESS_KEY_MAX + 1];
	char region[KH_SIGV4_REGION_MAX + 1];
	char date[9];    /* the scope's yyyymmdd */
	int64_t time_ns; /* X-Amz-Date */
};

/*
 * Verifies req against policy. KH_OK fills out. KH_ERR_UNAUTHENTICATED for every failure of the
 * request; KH_ERR_INTERNAL for a bad policy (no service, negative skew); KH_ERR_NOMEM or
 * KH_ERR_LIBCRYPTO when we fail; any other code of lookup as it returned it. *out_reason
 * (optional) is always written. Requires host and x-amz-date among the signed headers.
 */
KH_MUST_CHECK kh_rc kh_sigv4_verify(const struct kh_sigv4_policy *policy,
                                    const struct kh_sigv4_request *req, kh_sigv4_lookup_fn lookup,
                                    void *arg, struct kh_sigv4_identity *out,
                                    enum kh_sigv4_reason *out_reason);

/*
 * Appends the canonical request for req over signed_headers (the SignedHeaders value:
 * lower-case names, sorted, distinct, ';'-separated). KH_ERR_BAD_INPUT: a malformed list or
 * request, or a listed header absent from req; KH_ERR_TOO_LARGE: above the limits of
 * kh_limits.h.
 */
KH_MUST_CHECK kh_rc kh_sigv4_canonical_request(const struct kh_sigv4_request *req,
                                               struct kh_slice signed_headers, struct kh_buf *out);
/* Appends "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex SHA-256 of canonical_request>", scope
 * being "<yyyymmdd>/<region>/<service>/aws4_request". */
KH_MUST_CHECK kh_rc kh_sigv4_string_to_sign(struct kh_slice amz_date, struct kh_slice scope,
                                            struct kh_slice canonical_request, struct kh_buf *out);

struct kh_sigv4_credential {
	struct kh_slice access_key_id;
	struct kh_slice secret;
	const char *region;
	const char *service;
};
/*
 * Appends the Authorization value for req, signing every header it has (an Authorization
 * header excepted) at the time of its X-Amz-Date header, which must be there with host.
 * KH_ERR_BAD_INPUT for a request the verifier would refuse on its form, KH_ERR_TOO_LARGE for one
 * above the limits of kh_limits.h (more query parameters than it sorts).
 */
KH_MUST_CHECK kh_rc kh_sigv4_sign(const struct kh_sigv4_credential *cred,
                                  const struct kh_sigv4_request *req,
                                  struct kh_buf *out_authorization);

#endif
