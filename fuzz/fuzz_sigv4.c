/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes AWS SigV4 verification (authz/kh_sigv4.h): the Authorization and X-Amz-Date parsers,
 * the canonical request and the whole verify path, under one fixed credential.
 *
 * Input: a mode byte, then lines separated by '\n':
 *   Authorization value, X-Amz-Date value, method, raw path, raw query, Host value,
 *   one more header "name:value" (ignored without ':'), and the rest is the body.
 * Mode bit 0 clear: the request is verified as given. Bit 0 set: the Authorization line is
 * replaced by what kh_sigv4_sign makes for the request (when it signs it at all).
 *
 * Properties checked on every input:
 *   - verify answers KH_OK or KH_ERR_UNAUTHENTICATED, with a reason that agrees, and answers
 *     the same twice (deterministic);
 *   - a request verifies only if kh_sigv4_sign made its Authorization: as given, never;
 *   - a request kh_sigv4_sign signed verifies, names the credential, and stops verifying when
 *     a byte is appended to its body;
 *   - the canonical request built over the Authorization line as a SignedHeaders list, when
 *     built, ends with the 64 hex digits of the body's SHA-256.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz/kh_sigv4.h"
#include "crypto/kh_crypto.h"

#define AK "AKIAFUZZFUZZFUZZFUZZ"
#define SECRET "Fz0/Fz1+Fz2=Fz3/Fz4+Fz5=Fz6/Fz7+Fz8=Fz9/Fza+Fzb"
#define SERVICE "kms-xks-proxy"
#define LINES 7

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kh_rc lookup(void *arg, struct kh_slice ak, struct kh_buf *out)
{
	(void)arg;
	if (!kh_slice_eq(ak, KH_SLICE_LIT(AK)))
		return KH_ERR_NOT_FOUND;
	return kh_buf_append_cstr(out, SECRET);
}

/* Any time is close enough: the fuzzer reaches the MAC whatever date it writes. */
static kh_rc verify(const struct kh_sigv4_request *req, struct kh_sigv4_identity *id,
                    enum kh_sigv4_reason *why)
{
	struct kh_sigv4_policy p = {.service = SERVICE, .now_ns = 0, .max_skew_ns = INT64_MAX};
	kh_rc rc = kh_sigv4_verify(&p, req, lookup, NULL, id, why);
	if (rc != KH_OK && rc != KH_ERR_UNAUTHENTICATED)
		abort();
	if ((rc == KH_OK) != (*why == KH_SIGV4_OK))
		abort();
	return rc;
}

static void check_canonical(const struct kh_sigv4_request *req, struct kh_slice list)
{
	struct kh_buf out;
	kh_buf_init(&out, 1u << 20, KH_BUF_PLAIN);
	if (kh_sigv4_canonical_request(req, list, &out) == KH_OK) {
		if (out.len < 64)
			abort();
		for (size_t i = out.len - 64; i < out.len; i++)
			if (strchr("0123456789abcdef", out.ptr[i]) == NULL || out.ptr[i] == 0)
				abort();
	} else if (out.len != 0) {
		abort();
	}
	kh_buf_cleanup(&out);
}

/* Signs req into auth (its Authorization header's value); false when the signer refuses. */
static bool sign(const struct kh_sigv4_request *req, struct kh_buf *auth)
{
	struct kh_sigv4_credential cred = {KH_SLICE_LIT(AK), KH_SLICE_LIT(SECRET), "us-east-1",
	                                   SERVICE};
	kh_rc rc = kh_sigv4_sign(&cred, req, auth);
	if (rc != KH_OK && rc != KH_ERR_BAD_INPUT && rc != KH_ERR_TOO_LARGE)
		abort();
	return rc == KH_OK;
}

static void check_signed(struct kh_sigv4_request *req)
{
	struct kh_sigv4_identity id;
	enum kh_sigv4_reason why;
	uint8_t *longer = malloc(req->body.len + 1);

	if (verify(req, &id, &why) != KH_OK || strcmp(id.access_key_id, AK) != 0)
		abort();
	if (longer == NULL)
		return;
	if (req->body.len > 0)
		memcpy(longer, req->body.ptr, req->body.len);
	longer[req->body.len] = '!';
	req->body = KH_SLICE(longer, req->body.len + 1);
	if (verify(req, &id, &why) != KH_ERR_UNAUTHENTICATED)
		abort();
	free(longer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_slice line[LINES];
	struct kh_sigv4_header h[4];
	struct kh_sigv4_request req;
	struct kh_sigv4_identity id;
	enum kh_sigv4_reason why, again;
	struct kh_buf auth;
	const uint8_t *p = data + (size > 0);
	const uint8_t *end = data + size;
	const uint8_t *colon;
	size_t n = 3;
	kh_rc rc;

	if (kh_crypto_init() != KH_OK)
		abort();
	for (size_t i = 0; i < LINES; i++) {
		const uint8_t *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
		const uint8_t *stop = nl != NULL ? nl : end;
		line[i] = KH_SLICE(p, (size_t)(stop - p));
		p = nl != NULL ? nl + 1 : end;
	}
	h[0] = (struct kh_sigv4_header){KH_SLICE_LIT("X-Amz-Date"), line[1]};
	h[1] = (struct kh_sigv4_header){KH_SLICE_LIT("Host"), line[5]};
	h[2] = (struct kh_sigv4_header){KH_SLICE_LIT("Authorization"), line[0]};
	colon = line[6].len > 0 ? memchr(line[6].ptr, ':', line[6].len) : NULL;
	if (colon != NULL)
		h[n++] = (struct kh_sigv4_header){
		    KH_SLICE(line[6].ptr, (size_t)(colon - line[6].ptr)),
		    KH_SLICE(colon + 1, line[6].len - (size_t)(colon + 1 - line[6].ptr))};
	req = (struct kh_sigv4_request){line[2], line[3], line[4],
	                                h,       n,       KH_SLICE(p, (size_t)(end - p))};

	check_canonical(&req, line[0]);
	kh_buf_init(&auth, 4096, KH_BUF_PLAIN);
	if (size > 0 && (data[0] & 1) != 0) {
		/* The signer signs every header but Authorization, whose value it makes: a second
		 * one would be refused by the verifier, rightly. */
		if (n == 4 && h[3].name.len == 13 &&
		    strncasecmp((const char *)h[3].name.ptr, "authorization", 13) == 0)
			req.header_count = 3;
		if (sign(&req, &auth)) {
			h[2].value = kh_buf_slice(&auth);
			check_signed(&req);
		}
	} else {
		rc = verify(&req, &id, &why);
		if (rc == KH_OK)
			abort(); /* a forgery */
		if (verify(&req, &id, &again) != rc || again != why)
			abort();
	}
	kh_buf_cleanup(&auth);
	kh_crypto_thread_cleanup();
	return 0;
}
