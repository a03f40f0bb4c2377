// SPDX-License-Identifier: Apache-2.0
/*
 * XKS JSON bodies (kh_xks_body.h): the four request decoders, which share the requestMetadata
 * reader and differ in their operation members, and the encoders of the answers and the error
 * document. The XKS error names and their statuses live in one table here.
 *
 * The plaintext is decoded straight into a secure buffer; the JSON document that carried its
 * Base64 text is wiped when it is freed (http/json.c), which kh_xks_request_cleanup does.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "xks/kh_xks_body.h"

/* ---- error names ---- */

static const struct {
	const char *name;
	unsigned status;
} errors[KH_XKS_ERR_COUNT] = {
    [KH_XKS_ERR_VALIDATION] = {"ValidationException", 400},
    [KH_XKS_ERR_INVALID_STATE] = {"InvalidStateException", 400},
    [KH_XKS_ERR_INVALID_CIPHERTEXT] = {"InvalidCiphertextException", 400},
    [KH_XKS_ERR_INVALID_KEY_USAGE] = {"InvalidKeyUsageException", 400},
    [KH_XKS_ERR_AUTHENTICATION_FAILED] = {"AuthenticationFailedException", 401},
    [KH_XKS_ERR_ACCESS_DENIED] = {"AccessDeniedException", 403},
    [KH_XKS_ERR_KEY_NOT_FOUND] = {"KeyNotFoundException", 404},
    [KH_XKS_ERR_INVALID_URI_PATH] = {"InvalidUriPathException", 404},
    [KH_XKS_ERR_THROTTLING] = {"ThrottlingException", 429},
    [KH_XKS_ERR_UNSUPPORTED_OPERATION] = {"UnsupportedOperationException", 501},
    [KH_XKS_ERR_DEPENDENCY_TIMEOUT] = {"DependencyTimeoutException", 503},
    [KH_XKS_ERR_INTERNAL] = {"InternalException", 500},
};

const char *kh_xks_error_name(enum kh_xks_error e)
{
	return (unsigned)e < KH_XKS_ERR_COUNT ? errors[e].name : errors[KH_XKS_ERR_INTERNAL].name;
}

unsigned kh_xks_error_status(enum kh_xks_error e)
{
	return (unsigned)e < KH_XKS_ERR_COUNT ? errors[e].status
	                                      : errors[KH_XKS_ERR_INTERNAL].status;
}

enum kh_xks_error kh_xks_error_of(kh_rc rc)
{
	switch (kh_rc_class_of(rc)) {
	case KH_CLASS_BAD_INPUT:
		return rc == KH_ERR_WRONG_KEY_TYPE ? KH_XKS_ERR_INVALID_KEY_USAGE
		                                   : KH_XKS_ERR_VALIDATION;
	case KH_CLASS_TOO_LARGE:
		return KH_XKS_ERR_UNSUPPORTED_OPERATION;
	case KH_CLASS_UNAUTHENTICATED:
		return KH_XKS_ERR_AUTHENTICATION_FAILED;
	case KH_CLASS_FORBIDDEN:
		return KH_XKS_ERR_ACCESS_DENIED;
	case KH_CLASS_NOT_FOUND:
		return KH_XKS_ERR_KEY_NOT_FOUND;
	case KH_CLASS_CONFLICT:
		return KH_XKS_ERR_INVALID_STATE;
	case KH_CLASS_SEALED:
		/* ARCHITECTURE.md: sealed, every XKS operation answers 503; AWS retries it. */
		return KH_XKS_ERR_DEPENDENCY_TIMEOUT;
	case KH_CLASS_RATE_LIMITED:
		return KH_XKS_ERR_THROTTLING;
	case KH_CLASS_CRYPTO:
		return KH_XKS_ERR_INVALID_CIPHERTEXT;
	default:
		return KH_XKS_ERR_INTERNAL;
	}
}

/* ---- decoding ---- */

struct decoder {
	struct kh_xks_request req;
	const struct kh_json *root;
	struct kh_xks_fault *fault;
	const char *too_large; /* the first member over its limit, reported after the 400 checks */
};

/* Fails with rc; the message names our member, never the client's bytes. */
static kh_rc refuse(struct decoder *d, kh_rc rc, const char *name, const char *what)
{
	d->fault->error = kh_xks_error_of(rc);
	if (name != NULL)
		snprintf(d->fault->message, sizeof(d->fault->message), "\"%s\" %s", name, what);
	else
		snprintf(d->fault->message, sizeof(d->fault->message), "%s", what);
	return rc;
}

/* An object member (names are unique: the reader refuses duplicates). */
static kh_rc get_object(const struct kh_json *obj, const char *name, const struct kh_json **out)
{
	void *cursor = NULL;
	struct kh_slice n;
	const struct kh_json *v;
	while (kh_json_object_next(obj, &cursor, &n, &v)) {
		if (kh_slice_eq(n, kh_slice_from_cstr(name))) {
			KH_ENSURE(kh_json_is_object(v), KH_ERR_BAD_INPUT);
			*out = v;
			return KH_OK;
		}
	}
	return KH_ERR_NOT_FOUND;
}

static bool printable(struct kh_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < 0x20 || s.ptr[i] > 0x7e)
			return false;
	}
	return true;
}

#define OPS_ALL ((1u << KH_XKS_OP_COUNT) - 1u)
#define OPS_KEYED (OPS_ALL & ~(1u << KH_XKS_OP_HEALTH))
#define OPS_CRYPTO ((1u << KH_XKS_OP_ENCRYPT) | (1u << KH_XKS_OP_DECRYPT))

/* XKS.md "Bodies": the requestMetadata members and the operations that require them. */
static const struct {
	const char *name;  /* as read */
	const char *shown; /* in messages */
	size_t offset;
	unsigned required; /* bit (1 << op) */
} md_members[] = {
    {"kmsRequestId", "requestMetadata.kmsRequestId",
     offsetof(struct kh_xks_request_metadata, kms_request_id), OPS_ALL},
    {"kmsOperation", "requestMetadata.kmsOperation",
     offsetof(struct kh_xks_request_metadata, kms_operation), OPS_ALL},
    {"awsPrincipalArn", "requestMetadata.awsPrincipalArn",
     offsetof(struct kh_xks_request_metadata, aws_principal_arn), OPS_KEYED},
    {"kmsKeyArn", "requestMetadata.kmsKeyArn",
     offsetof(struct kh_xks_request_metadata, kms_key_arn), OPS_CRYPTO},
    {"kmsViaService", "requestMetadata.kmsViaService",
     offsetof(struct kh_xks_request_metadata, kms_via_service), 0},
    {"awsSourceVpc", "requestMetadata.awsSourceVpc",
     offsetof(struct kh_xks_request_metadata, aws_source_vpc), 0},
    {"awsSourceVpce", "requestMetadata.awsSourceVpce",
     offsetof(struct kh_xks_request_metadata, aws_source_vpce), 0},
};

/* Opaque strings: only their type, length and alphabet are checked, never their value. */
static kh_rc decode_request_metadata(struct decoder *d)
{
	const struct kh_json *md = NULL;
	kh_rc rc = get_object(d->root, "requestMetadata", &md);
	if (rc == KH_ERR_NOT_FOUND)
		return refuse(d, KH_ERR_BAD_INPUT, "requestMetadata", "is required");
	if (rc != KH_OK)
		return refuse(d, KH_ERR_BAD_INPUT, "requestMetadata", "must be an object");
	for (size_t i = 0; i < sizeof(md_members) / sizeof(md_members[0]); i++) {
		bool required = (md_members[i].required & (1u << d->req.op)) != 0;
		struct kh_slice s = KH_SLICE_EMPTY;
		rc = kh_json_get_string(md, md_members[i].name, &s);
		if (rc == KH_ERR_NOT_FOUND && !required)
			continue;
		if (rc == KH_ERR_NOT_FOUND)
			return refuse(d, KH_ERR_BAD_INPUT, md_members[i].shown, "is required");
		if (rc != KH_OK)
			return refuse(d, KH_ERR_BAD_INPUT, md_members[i].shown, "must be a string");
		if ((required && s.len == 0) || s.len > KH_LIMIT_XKS_METADATA_STRING_BYTES ||
		    !printable(s))
			return refuse(d, KH_ERR_BAD_INPUT, md_members[i].shown,
			              required ? "must be 1 to 2048 printable ASCII characters"
			                       : "must be at most 2048 printable ASCII characters");
		memcpy((uint8_t *)&d->req.md + md_members[i].offset, &s, sizeof(s));
	}
	return KH_OK;
}

/* Whether s is valid Base64, however long: decoded a piece at a time into a small secure
 * buffer, since it may be a plaintext over our limit. Padding may only end the last piece. */
static kh_rc base64_check(struct kh_slice s)
{
	enum {
		PIECE = 4096
	};
	struct kh_buf tmp;
	kh_rc rc = s.len % 4 == 0 ? KH_OK : KH_ERR_BAD_ENCODING;
	kh_buf_init(&tmp, PIECE / 4 * 3, KH_BUF_SECURE);
	for (size_t off = 0; off < s.len && rc == KH_OK; off += PIECE) {
		size_t n = s.len - off < PIECE ? s.len - off : PIECE;
		if (off + n < s.len && s.ptr[off + n - 1] == '=')
			rc = KH_ERR_BAD_ENCODING;
		else
			rc = kh_base64_decode(KH_SLICE(s.ptr + off, n), &tmp);
		kh_buf_clear(&tmp);
	}
	kh_buf_cleanup(&tmp);
	return rc;
}

/* A Base64 member decoded into out (which bounds it). Over the bound, the text is still checked
 * and the size refusal kept for later. */
static kh_rc b64_member(struct decoder *d, const char *name, bool required, struct kh_buf *out)
{
	struct kh_slice s;
	kh_rc rc = kh_json_get_base64(d->root, name, out);
	switch (rc) {
	case KH_OK:
		return KH_OK;
	case KH_ERR_NOT_FOUND:
		return required ? refuse(d, KH_ERR_BAD_INPUT, name, "is required") : KH_OK;
	case KH_ERR_BAD_INPUT:
		return refuse(d, rc, name, "must be a string of standard Base64 with padding");
	case KH_ERR_TOO_LARGE:
		if (kh_json_get_string(d->root, name, &s) != KH_OK)
			return refuse(d, KH_ERR_INTERNAL, NULL, "internal error");
		rc = base64_check(s);
		if (rc == KH_ERR_NOMEM)
			return refuse(d, rc, NULL, "out of memory");
		if (rc != KH_OK)
			return refuse(d, KH_ERR_BAD_ENCODING, name,
			              "must be standard Base64 with padding");
		if (d->too_large == NULL)
			d->too_large = name;
		return KH_OK;
	case KH_ERR_NOMEM:
		return refuse(d, rc, NULL, "out of memory");
	default:
		return refuse(d, KH_ERR_BAD_ENCODING, name, "must be standard Base64 with padding");
	}
}

/* A member whose only allowed value is want (an algorithm name). */
static kh_rc name_member(struct decoder *d, const char *name, const char *want, bool required,
                         bool *out_present)
{
	struct kh_slice s;
	kh_rc rc = kh_json_get_string(d->root, name, &s);
	*out_present = false;
	if (rc == KH_ERR_NOT_FOUND)
		return required ? refuse(d, KH_ERR_BAD_INPUT, name, "is required") : KH_OK;
	if (rc != KH_OK)
		return refuse(d, KH_ERR_BAD_INPUT, name, "must be a string");
	if (!kh_slice_eq(s, kh_slice_from_cstr(want))) {
		d->fault->error = KH_XKS_ERR_VALIDATION;
		snprintf(d->fault->message, sizeof(d->fault->message), "\"%s\" must be \"%s\"",
		         name, want);
		return KH_ERR_BAD_INPUT;
	}
	*out_present = true;
	return KH_OK;
}

static kh_rc decode_encrypt(struct decoder *d)
{
	bool present = false;
	KH_GUARD(b64_member(d, "plaintext", true, &d->req.plaintext));
	KH_GUARD(name_member(d, "encryptionAlgorithm", "AES_GCM", true, &present));
	KH_GUARD(b64_member(d, "additionalAuthenticatedData", false, &d->req.aad));
	KH_GUARD(name_member(d, "ciphertextDataIntegrityValueAlgorithm", "SHA_256", false,
	                     &d->req.want_integrity));
	return KH_OK;
}

static kh_rc decode_decrypt(struct decoder *d)
{
	bool present = false;
	KH_GUARD(b64_member(d, "ciphertext", true, &d->req.ciphertext));
	KH_GUARD(b64_member(d, "initializationVector", true, &d->req.iv));
	KH_GUARD(b64_member(d, "authenticationTag", true, &d->req.tag));
	KH_GUARD(name_member(d, "encryptionAlgorithm", "AES_GCM", true, &present));
	KH_GUARD(b64_member(d, "ciphertextMetadata", false, &d->req.metadata));
	KH_GUARD(b64_member(d, "additionalAuthenticatedData", false, &d->req.aad));
	return KH_OK;
}

/* XKS.md: IV of 12 or 16 bytes, tag of 16; anything else is InvalidCiphertextException. */
static kh_rc check_decrypt_lengths(struct decoder *d)
{
	if (d->req.iv.len != KH_XKS_IV_LEN && d->req.iv.len != KH_XKS_IV_LEN_LONG)
		return refuse(d, KH_ERR_DECRYPT, "initializationVector", "must be 12 or 16 bytes");
	if (d->req.tag.len != KH_XKS_TAG_LEN)
		return refuse(d, KH_ERR_DECRYPT, "authenticationTag", "must be 16 bytes");
	return KH_OK;
}

static kh_rc decode_nothing(struct decoder *d)
{
	(void)d;
	return KH_OK;
}

static kh_rc (*const op_decoders[KH_XKS_OP_COUNT])(struct decoder *d) = {
    [KH_XKS_OP_HEALTH] = decode_nothing,
    [KH_XKS_OP_METADATA] = decode_nothing,
    [KH_XKS_OP_ENCRYPT] = decode_encrypt,
    [KH_XKS_OP_DECRYPT] = decode_decrypt,
};

static void request_init(struct kh_xks_request *req, enum kh_xks_op op)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	kh_buf_init(&req->plaintext, KH_LIMIT_XKS_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_buf_init(&req->aad, KH_XKS_AAD_MAX, KH_BUF_PLAIN);
	kh_buf_init(&req->ciphertext, KH_LIMIT_XKS_PLAINTEXT_BYTES, KH_BUF_PLAIN);
	/* Any length reads, so a wrong one is the ciphertext error, not a size refusal. */
	kh_buf_init(&req->iv, KH_LIMIT_JSON_STRING_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&req->tag, KH_LIMIT_JSON_STRING_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&req->metadata, KH_XKS_METADATA_MAX, KH_BUF_PLAIN);
}

kh_rc kh_xks_request_decode(enum kh_xks_op op, struct kh_slice body, struct kh_xks_request *out,
                            struct kh_xks_fault *fault)
{
	struct decoder d = {.fault = fault};
	char why[128] = "";
	kh_rc rc;

	if ((unsigned)op >= KH_XKS_OP_COUNT)
		return refuse(&d, KH_ERR_INTERNAL, NULL, "internal error");
	request_init(&d.req, op);
	rc = kh_json_parse_object(body, &d.req.doc, why, sizeof(why));
	if (rc != KH_OK) {
		rc = refuse(&d, rc, NULL, rc == KH_ERR_NOMEM ? "out of memory" : why);
		goto out;
	}
	d.root = d.req.doc;
	KH_GUARD_OUT(decode_request_metadata(&d));
	KH_GUARD_OUT(op_decoders[op](&d));
	/* The late refusals: reported into the request, not as the result. */
	d.fault = &d.req.late_fault;
	if (d.too_large != NULL)
		d.req.late =
		    refuse(&d, KH_ERR_TOO_LARGE, d.too_large, "is larger than this proxy takes");
	else if (op == KH_XKS_OP_DECRYPT)
		d.req.late = check_decrypt_lengths(&d);
	*out = d.req;
	return KH_OK;
out:
	kh_xks_request_cleanup(&d.req);
	return rc;
}

void kh_xks_request_cleanup(struct kh_xks_request *req)
{
	kh_json_free(&req->doc);
	kh_buf_cleanup(&req->plaintext);
	kh_buf_cleanup(&req->aad);
	kh_buf_cleanup(&req->ciphertext);
	kh_buf_cleanup(&req->iv);
	kh_buf_cleanup(&req->tag);
	kh_buf_cleanup(&req->metadata);
	memset(&req->md, 0, sizeof(req->md));
	req->want_integrity = false;
	req->late = KH_OK;
}

/* ---- encoding ---- */

/* Ends the document; on failure out goes back to what it held before. */
static kh_rc finish(struct kh_json_writer *w, struct kh_buf *out, size_t mark)
{
	kh_rc rc = kh_json_writer_end(w);
	if (rc != KH_OK)
		kh_buf_truncate(out, mark);
	return rc;
}

static bool usage_ok(const char *u)
{
	size_t n = u != NULL ? strlen(u) : 0;
	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((u[i] < 'A' || u[i] > 'Z') && u[i] != '_')
			return false;
	}
	return true;
}

kh_rc kh_xks_metadata_encode(const char *const *usages, size_t usage_count, bool enabled,
                             struct kh_buf *out)
{
	struct kh_json_writer w;
	size_t mark = out->len;

	KH_ENSURE(usage_count <= KH_XKS_KEY_USAGE_MAX && (usages != NULL || usage_count == 0),
	          KH_ERR_INTERNAL);
	for (size_t i = 0; i < usage_count; i++)
		KH_ENSURE(usage_ok(usages[i]), KH_ERR_INTERNAL);
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "keySpec");
	kh_json_cstr(&w, "AES_256");
	kh_json_key(&w, "keyUsage");
	kh_json_array_begin(&w);
	for (size_t i = 0; i < usage_count; i++)
		kh_json_cstr(&w, usages[i]);
	kh_json_array_end(&w);
	kh_json_key(&w, "keyStatus");
	kh_json_cstr(&w, enabled ? "ENABLED" : "DISABLED");
	kh_json_object_end(&w);
	return finish(&w, out, mark);
}

kh_rc kh_xks_encrypt_encode(struct kh_slice ciphertext, struct kh_slice iv, struct kh_slice tag,
                            struct kh_slice metadata, const uint8_t *integrity, struct kh_buf *out)
{
	struct kh_json_writer w;
	size_t mark = out->len;

	KH_ENSURE(iv.len == KH_XKS_IV_LEN && tag.len == KH_XKS_TAG_LEN &&
	              metadata.len <= KH_XKS_METADATA_MAX,
	          KH_ERR_INTERNAL);
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "ciphertext");
	kh_json_base64(&w, ciphertext);
	kh_json_key(&w, "initializationVector");
	kh_json_base64(&w, iv);
	kh_json_key(&w, "authenticationTag");
	kh_json_base64(&w, tag);
	kh_json_key(&w, "ciphertextMetadata");
	kh_json_base64(&w, metadata);
	if (integrity != NULL) {
		kh_json_key(&w, "ciphertextDataIntegrityValue");
		kh_json_base64(&w, KH_SLICE(integrity, KH_XKS_INTEGRITY_LEN));
	}
	kh_json_object_end(&w);
	return finish(&w, out, mark);
}

kh_rc kh_xks_decrypt_encode(struct kh_slice plaintext, struct kh_buf *out)
{
	struct kh_json_writer w;
	size_t mark = out->len;

	KH_ENSURE((out->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "plaintext");
	kh_json_base64(&w, plaintext);
	kh_json_object_end(&w);
	return finish(&w, out, mark);
}

static const char *const health_names[] = {
    [KH_XKS_HEALTH_ACTIVE] = "ACTIVE",
    [KH_XKS_HEALTH_DEGRADED] = "DEGRADED",
    [KH_XKS_HEALTH_UNAVAILABLE] = "UNAVAILABLE",
};

kh_rc kh_xks_health_encode(const struct kh_xks_health *h, struct kh_buf *out)
{
	struct kh_json_writer w;
	size_t mark = out->len;

	KH_ENSURE(h->node_count >= 1 && h->node_count <= KH_XKS_EKM_NODES_MAX && h->nodes != NULL,
	          KH_ERR_INTERNAL);
	for (size_t i = 0; i < h->node_count; i++)
		KH_ENSURE((unsigned)h->nodes[i].status <
		              sizeof(health_names) / sizeof(health_names[0]),
		          KH_ERR_INTERNAL);
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "xksProxyFleetSize");
	kh_json_uint(&w, h->fleet_size);
	kh_json_key(&w, "xksProxyVendor");
	kh_json_cstr(&w, "keyhold");
	kh_json_key(&w, "xksProxyModel");
	kh_json_cstr(&w, h->proxy_model);
	kh_json_key(&w, "ekmVendor");
	kh_json_cstr(&w, h->ekm_vendor);
	kh_json_key(&w, "ekmFleetDetails");
	kh_json_array_begin(&w);
	for (size_t i = 0; i < h->node_count; i++) {
		kh_json_object_begin(&w);
		kh_json_key(&w, "id");
		kh_json_cstr(&w, h->nodes[i].id);
		kh_json_key(&w, "model");
		kh_json_cstr(&w, h->nodes[i].model);
		kh_json_key(&w, "healthStatus");
		kh_json_cstr(&w, health_names[h->nodes[i].status]);
		kh_json_object_end(&w);
	}
	kh_json_array_end(&w);
	kh_json_object_end(&w);
	return finish(&w, out, mark);
}

/* XKS.md: errorMessage is under 512 printable ASCII characters. */
#define ERROR_MESSAGE_MAX 511u

kh_rc kh_xks_error_encode(enum kh_xks_error e, const char *message, struct kh_buf *out)
{
	char clean[ERROR_MESSAGE_MAX + 1];
	size_t n = 0;
	struct kh_json_writer w;
	size_t mark = out->len;

	for (; message != NULL && message[n] != '\0' && n < ERROR_MESSAGE_MAX; n++) {
		char c = message[n];
		clean[n] = c >= 0x20 && c <= 0x7e ? c : '?';
	}
	clean[n] = '\0';
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "errorName");
	kh_json_cstr(&w, kh_xks_error_name(e));
	if (n > 0) {
		kh_json_key(&w, "errorMessage");
		kh_json_cstr(&w, clean);
	}
	kh_json_object_end(&w);
	return finish(&w, out, mark);
}
