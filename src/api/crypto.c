// SPDX-License-Identifier: Apache-2.0
/*
 * Crypto operations (API.md "Crypto operations"): encrypt and decrypt (one item or a batch),
 * data keys, re-encryption, signatures, MACs, public keys and random bytes. Each handler
 * decodes its members into bounded buffers (the limits of API.md, 413 beyond them), calls one
 * function of keys/, and writes the answer.
 *
 * Plaintexts and data keys are decoded into KH_BUF_SECURE buffers and every answer that carries
 * one is written into a secure response body (kh_api_secure_body), so no copy of a secret is
 * left in ordinary memory by this file.
 *
 * A batch ({"batch":[{...},...]}, at most KH_LIMIT_BATCH_ITEMS) answers item by item: an item
 * the client got wrong (bad input, too large, a ciphertext that does not decrypt, a disabled
 * version) gets {"error":{"code","message"}} in its place; a refusal that concerns the whole
 * key (not found, forbidden, disabled, wrong type or usage, sealed) or a failure of ours fails
 * the whole request.
 */
#include <stdio.h>
#include <string.h>

#include "api/kh_api_int.h"
#include "base/kh_limits.h"
#include "crypto/kh_crypto.h"

/* A data key is at most 512 bits. */
#define DATA_KEY_MAX_BYTES (KH_LIMIT_DATA_KEY_BITS_MAX / 8u)

/* ---- members ---- */

/* A Base64 member of obj decoded into out, which bounds it; absent: KH_ERR_NOT_FOUND (no
 * message), so the caller decides whether it was needed. */
static kh_rc b64_member(struct kh_api_call *c, const struct kh_json *obj, const char *name,
                        struct kh_buf *out)
{
	if (obj == NULL)
		return KH_ERR_NOT_FOUND;
	kh_rc rc = kh_json_get_base64(obj, name, out);
	switch (rc) {
	case KH_OK:
	case KH_ERR_NOT_FOUND:
		return rc;
	case KH_ERR_TOO_LARGE:
		return kh_api_member_fail(c, rc, name, "is too large");
	default:
		return kh_api_member_fail(c, rc, name, "must be standard Base64 with padding");
	}
}

static kh_rc b64_required(struct kh_api_call *c, const struct kh_json *obj, const char *name,
                          struct kh_buf *out)
{
	kh_rc rc = b64_member(c, obj, name, out);
	return rc == KH_ERR_NOT_FOUND ? kh_api_member_fail(c, KH_ERR_BAD_INPUT, name, "is required")
	                              : rc;
}

static kh_rc b64_optional(struct kh_api_call *c, const struct kh_json *obj, const char *name,
                          struct kh_buf *out)
{
	kh_rc rc = b64_member(c, obj, name, out);
	return rc == KH_ERR_NOT_FOUND ? KH_OK : rc;
}

/* A "kh:v<N>:..." member (ciphertext, signature, MAC), borrowed from the document. */
static kh_rc text_member(struct kh_api_call *c, const struct kh_json *obj, const char *name,
                         struct kh_slice *out)
{
	kh_rc rc = obj != NULL ? kh_json_get_string(obj, name, out) : KH_ERR_NOT_FOUND;
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, name, "is required");
	if (rc != KH_OK)
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, name, "must be a string");
	if (out->len > KH_LIMIT_CIPHERTEXT_BYTES)
		return kh_api_member_fail(c, KH_ERR_TOO_LARGE, name, "is too large");
	return KH_OK;
}

/* ---- batches ---- */

typedef kh_rc (*item_fn)(struct kh_api_call *c, const struct kh_json *obj);

/* Errors that belong to one item; any other fails the whole batch. A key whose type or usage
 * does not allow the operation refuses every item alike. */
static bool item_error(kh_rc rc)
{
	if (rc == KH_ERR_WRONG_KEY_TYPE)
		return false;
	switch (kh_rc_class_of(rc)) {
	case KH_CLASS_BAD_INPUT:
	case KH_CLASS_TOO_LARGE:
	case KH_CLASS_CRYPTO:
		return true;
	default:
		return rc == KH_ERR_VERSION_DISABLED;
	}
}

static void write_item_error(struct kh_api_call *c, kh_rc rc)
{
	struct kh_api_error e = kh_api_error_of(rc);
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "error");
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "code");
	kh_json_cstr(&c->w, e.code);
	kh_json_key(&c->w, "message");
	kh_json_cstr(&c->w, c->message[0] != '\0' ? c->message : kh_rc_message(rc));
	kh_json_object_end(&c->w);
	kh_json_object_end(&c->w);
}

/* One item: checked like a body of its own, then run; writes its answer or its error. */
static kh_rc batch_item(struct kh_api_call *c, item_fn fn, const struct kh_json *item,
                        const char *const *fields)
{
	char err[128] = "";
	kh_rc rc = KH_OK;
	c->message[0] = '\0';
	if (!kh_json_is_object(item))
		rc = kh_api_fail(c, KH_ERR_BAD_INPUT, "each batch item must be an object");
	else if ((rc = kh_json_only(item, fields, err, sizeof(err))) != KH_OK)
		(void)kh_api_fail(c, rc, err);
	if (rc == KH_OK)
		rc = fn(c, item);
	if (rc == KH_OK)
		return KH_OK;
	if (!item_error(rc))
		return rc;
	write_item_error(c, rc);
	c->message[0] = '\0';
	return KH_OK;
}

/* Runs fn on the body, or on each item of its "batch". */
static kh_rc single_or_batch(struct kh_api_call *c, item_fn fn, const char *const *item_fields)
{
	static const char *const batch_only[] = {"batch", NULL};
	const struct kh_json *arr = NULL;
	size_t n = 0;
	char err[128] = "";
	kh_rc rc = kh_json_get_array(c->body, "batch", &arr, &n);
	if (rc == KH_ERR_NOT_FOUND)
		return fn(c, c->body);
	if (rc != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"batch\" must be an array of objects");
	if (kh_json_only(c->body, batch_only, err, sizeof(err)) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "\"batch\" takes no other members beside it");
	if (n == 0)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"batch\" must not be empty");
	if (n > KH_LIMIT_BATCH_ITEMS)
		return kh_api_fail(c, KH_ERR_TOO_LARGE, "\"batch\" holds at most 100 items");
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "batch");
	kh_json_array_begin(&c->w);
	for (size_t i = 0; i < n; i++)
		KH_GUARD(batch_item(c, fn, kh_json_array_at(arr, i), item_fields));
	kh_json_array_end(&c->w);
	kh_json_object_end(&c->w);
	return KH_OK;
}

/* ---- encrypt, decrypt ---- */

static kh_rc encrypt_one(struct kh_api_call *c, const struct kh_json *obj)
{
	kh_rc rc = KH_OK;
	struct kh_buf pt, ctx, ct;
	kh_buf_init(&pt, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_buf_init(&ctx, KH_LIMIT_CONTEXT_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&ct, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(b64_required(c, obj, "plaintext", &pt));
	KH_GUARD_OUT(b64_optional(c, obj, "context", &ctx));
	KH_GUARD_OUT(
	    kh_api_key_error(c, kh_keys_encrypt(c->api->keys, &c->who, c->params[0],
	                                        kh_buf_slice(&pt), kh_buf_slice(&ctx), &ct)));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "ciphertext");
	kh_json_string(&c->w, kh_buf_slice(&ct));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&ctx);
	kh_buf_cleanup(&ct);
	return rc;
}

static kh_rc decrypt_one(struct kh_api_call *c, const struct kh_json *obj)
{
	kh_rc rc = KH_OK;
	struct kh_slice ct;
	struct kh_buf ctx, pt;
	kh_buf_init(&ctx, KH_LIMIT_CONTEXT_BYTES, KH_BUF_PLAIN);
	/* A plaintext is shorter than its ciphertext. */
	kh_buf_init(&pt, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_SECURE);
	KH_GUARD_OUT(text_member(c, obj, "ciphertext", &ct));
	KH_GUARD_OUT(b64_optional(c, obj, "context", &ctx));
	KH_GUARD_OUT(kh_api_key_error(
	    c, kh_keys_decrypt(c->api->keys, &c->who, c->params[0], ct, kh_buf_slice(&ctx), &pt)));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "plaintext");
	kh_json_base64(&c->w, kh_buf_slice(&pt));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&ctx);
	kh_buf_cleanup(&pt);
	return rc;
}

static const char *const encrypt_item_fields[] = {"plaintext", "context", NULL};
static const char *const decrypt_item_fields[] = {"ciphertext", "context", NULL};

static kh_rc encrypt(struct kh_api_call *c)
{
	return single_or_batch(c, encrypt_one, encrypt_item_fields);
}

static kh_rc decrypt(struct kh_api_call *c)
{
	/* Before anything is written: the answer carries plaintexts. */
	KH_GUARD(kh_api_secure_body(c));
	return single_or_batch(c, decrypt_one, decrypt_item_fields);
}

/* ---- data keys, re-encryption ---- */

static kh_rc data_key_write(struct kh_api_call *c, const struct kh_buf *pt, const struct kh_buf *ct,
                            bool include_plaintext)
{
	if (include_plaintext)
		KH_GUARD(kh_api_secure_body(c));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "ciphertext");
	kh_json_string(&c->w, kh_buf_slice(ct));
	if (include_plaintext) {
		kh_json_key(&c->w, "plaintext");
		kh_json_base64(&c->w, kh_buf_slice(pt));
	}
	kh_json_object_end(&c->w);
	return KH_OK;
}

static kh_rc data_key(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	int64_t bits = 256;
	bool have = false, include_plaintext = true;
	struct kh_buf ctx, pt, ct;
	kh_buf_init(&ctx, KH_LIMIT_CONTEXT_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&pt, DATA_KEY_MAX_BYTES, KH_BUF_SECURE);
	kh_buf_init(&ct, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_api_opt_int(c, "bits", KH_LIMIT_DATA_KEY_BITS_MIN,
	                            KH_LIMIT_DATA_KEY_BITS_MAX, &bits, &have));
	if (bits % 8 != 0)
		KH_GUARD_OUT(kh_api_fail(c, KH_ERR_BAD_INPUT, "\"bits\" must be a multiple of 8"));
	KH_GUARD_OUT(kh_api_opt_bool(c, "include_plaintext", &include_plaintext));
	KH_GUARD_OUT(b64_optional(c, c->body, "context", &ctx));
	KH_GUARD_OUT(kh_api_key_error(c, kh_keys_data_key(c->api->keys, &c->who, c->params[0],
	                                                  (unsigned)bits, kh_buf_slice(&ctx),
	                                                  include_plaintext ? &pt : NULL, &ct)));
	KH_GUARD_OUT(data_key_write(c, &pt, &ct, include_plaintext));
out:
	kh_buf_cleanup(&ctx);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&ct);
	return rc;
}

static kh_rc reencrypt(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	struct kh_slice old;
	struct kh_buf ctx, ct;
	kh_buf_init(&ctx, KH_LIMIT_CONTEXT_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&ct, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(text_member(c, c->body, "ciphertext", &old));
	KH_GUARD_OUT(b64_optional(c, c->body, "context", &ctx));
	KH_GUARD_OUT(kh_api_key_error(c, kh_keys_reencrypt(c->api->keys, &c->who, c->params[0], old,
	                                                   kh_buf_slice(&ctx), &ct)));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "ciphertext");
	kh_json_string(&c->w, kh_buf_slice(&ct));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&ctx);
	kh_buf_cleanup(&ct);
	return rc;
}

/* ---- signatures ---- */

/* Algorithm names as AWS KMS spells them; keys/ refuses one that does not suit the key. */
static const struct {
	const char *name;
	enum kh_sig_alg alg;
} sig_algs[] = {
    {"RSASSA_PSS_SHA_256", KH_SIG_RSA_PSS_SHA256},
    {"RSASSA_PKCS1_V1_5_SHA_256", KH_SIG_RSA_PKCS1_SHA256},
    {"ECDSA_SHA_256", KH_SIG_ECDSA_SHA256},
    {"ECDSA_SHA_384", KH_SIG_ECDSA_SHA384},
    {"ED25519_SHA_512", KH_SIG_ED25519},
    {"SM2DSA", KH_SIG_SM2_SM3},
};

struct sig_input {
	struct kh_buf msg;
	bool is_digest;
	int alg; /* 0: the key's default */
};

static kh_rc sig_alg_decode(struct kh_api_call *c, int *out)
{
	struct kh_slice s;
	kh_rc rc = kh_json_get_string(c->body, "algorithm", &s);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"algorithm\" must be a string");
	for (size_t i = 0; i < sizeof(sig_algs) / sizeof(sig_algs[0]); i++) {
		if (kh_slice_eq(s, kh_slice_from_cstr(sig_algs[i].name))) {
			*out = (int)sig_algs[i].alg;
			return KH_OK;
		}
	}
	return kh_api_fail(c, KH_ERR_BAD_INPUT, "unknown signing algorithm");
}

/* "message" or "digest" (exactly one), and "algorithm". */
static kh_rc sig_input_decode(struct kh_api_call *c, struct sig_input *in)
{
	bool has_message = kh_api_has(c, "message");
	in->is_digest = kh_api_has(c, "digest");
	if (has_message == in->is_digest)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "give either \"message\" or \"digest\"");
	KH_GUARD(b64_required(c, c->body, in->is_digest ? "digest" : "message", &in->msg));
	return sig_alg_decode(c, &in->alg);
}

static kh_rc sign(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	struct sig_input in = {.alg = 0};
	struct kh_buf sig;
	kh_buf_init(&in.msg, KH_LIMIT_SIGN_MESSAGE_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&sig, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(sig_input_decode(c, &in));
	KH_GUARD_OUT(kh_api_key_error(c, kh_keys_sign(c->api->keys, &c->who, c->params[0], in.alg,
	                                              in.is_digest, kh_buf_slice(&in.msg), &sig)));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "signature");
	kh_json_string(&c->w, kh_buf_slice(&sig));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&in.msg);
	kh_buf_cleanup(&sig);
	return rc;
}

static void write_valid(struct kh_api_call *c, bool valid)
{
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "valid");
	kh_json_bool(&c->w, valid);
	kh_json_object_end(&c->w);
}

static kh_rc verify(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	struct sig_input in = {.alg = 0};
	struct kh_slice sig;
	bool valid = false;
	kh_buf_init(&in.msg, KH_LIMIT_SIGN_MESSAGE_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(sig_input_decode(c, &in));
	KH_GUARD_OUT(text_member(c, c->body, "signature", &sig));
	KH_GUARD_OUT(
	    kh_api_key_error(c, kh_keys_verify(c->api->keys, &c->who, c->params[0], in.alg,
	                                       in.is_digest, kh_buf_slice(&in.msg), sig, &valid)));
	write_valid(c, valid);
out:
	kh_buf_cleanup(&in.msg);
	return rc;
}

/* ---- MACs ---- */

static kh_rc mac(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	struct kh_buf msg, out;
	kh_buf_init(&msg, KH_LIMIT_SIGN_MESSAGE_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&out, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(b64_required(c, c->body, "message", &msg));
	KH_GUARD_OUT(kh_api_key_error(
	    c, kh_keys_mac(c->api->keys, &c->who, c->params[0], kh_buf_slice(&msg), &out)));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "mac");
	kh_json_string(&c->w, kh_buf_slice(&out));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&msg);
	kh_buf_cleanup(&out);
	return rc;
}

static kh_rc verify_mac(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	struct kh_buf msg;
	struct kh_slice tag;
	bool valid = false;
	kh_buf_init(&msg, KH_LIMIT_SIGN_MESSAGE_BYTES, KH_BUF_PLAIN);
	KH_GUARD_OUT(b64_required(c, c->body, "message", &msg));
	KH_GUARD_OUT(text_member(c, c->body, "mac", &tag));
	KH_GUARD_OUT(kh_api_key_error(c, kh_keys_verify_mac(c->api->keys, &c->who, c->params[0],
	                                                    kh_buf_slice(&msg), tag, &valid)));
	write_valid(c, valid);
out:
	kh_buf_cleanup(&msg);
	return rc;
}

/* ---- public keys, random bytes ---- */

static kh_rc public_key(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	uint64_t version = 0;
	uint32_t got = 0;
	struct kh_buf pem;
	KH_GUARD(kh_api_query_uint(c, "version", 1, UINT32_MAX, &version));
	kh_buf_init(&pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	rc = kh_keys_public_key(c->api->keys, &c->who, c->params[0], (uint32_t)version, &got, &pem);
	if (rc == KH_ERR_NOT_FOUND)
		rc = kh_api_fail(c, rc, "no such key or key version");
	else
		rc = kh_api_key_error(c, rc);
	KH_GUARD_OUT(rc);
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "version");
	kh_json_uint(&c->w, got);
	kh_json_key(&c->w, "pem");
	kh_json_string(&c->w, kh_buf_slice(&pem));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&pem);
	return rc;
}

/* Random bytes for any authenticated caller. They may become a client's key, so they come from
 * the secret generator and travel in secure memory. */
static kh_rc random_bytes(struct kh_api_call *c)
{
	kh_rc rc = KH_OK;
	int64_t n = 0;
	uint8_t *p = NULL;
	struct kh_buf buf;
	if (kh_json_get_int(c->body, "bytes", 1, KH_LIMIT_RANDOM_BYTES, &n) != KH_OK)
		return kh_api_fail(c, KH_ERR_BAD_INPUT, "\"bytes\" must be an integer 1..1024");
	kh_buf_init(&buf, KH_LIMIT_RANDOM_BYTES, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_buf_extend(&buf, (size_t)n, &p));
	KH_GUARD_OUT(kh_rand_secret(p, (size_t)n));
	kh_buf_commit(&buf, (size_t)n);
	KH_GUARD_OUT(kh_api_secure_body(c));
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "random");
	kh_json_base64(&c->w, kh_buf_slice(&buf));
	kh_json_object_end(&c->w);
out:
	kh_buf_cleanup(&buf);
	return rc;
}

/* ---- routes ---- */

static const char *const encrypt_fields[] = {"plaintext", "context", "batch", NULL};
static const char *const decrypt_fields[] = {"ciphertext", "context", "batch", NULL};
static const char *const data_key_fields[] = {"bits", "include_plaintext", "context", NULL};
static const char *const reencrypt_fields[] = {"ciphertext", "context", NULL};
static const char *const sign_fields[] = {"message", "digest", "algorithm", NULL};
static const char *const verify_fields[] = {"message", "digest", "signature", "algorithm", NULL};
static const char *const mac_fields[] = {"message", NULL};
static const char *const verify_mac_fields[] = {"message", "mac", NULL};
static const char *const random_fields[] = {"bytes", NULL};

const struct kh_api_route kh_api_crypto_routes[] = {
    {KH_HTTP_POST, "/v1/keys/{}/encrypt", encrypt, KH_API_BODY | KH_API_DEFER, encrypt_fields},
    {KH_HTTP_POST, "/v1/keys/{}/decrypt", decrypt, KH_API_BODY | KH_API_DEFER, decrypt_fields},
    {KH_HTTP_POST, "/v1/keys/{}/data-key", data_key, KH_API_BODY_OPT | KH_API_DEFER,
     data_key_fields},
    {KH_HTTP_POST, "/v1/keys/{}/reencrypt", reencrypt, KH_API_BODY | KH_API_DEFER,
     reencrypt_fields},
    {KH_HTTP_POST, "/v1/keys/{}/sign", sign, KH_API_BODY | KH_API_DEFER, sign_fields},
    {KH_HTTP_POST, "/v1/keys/{}/verify", verify, KH_API_BODY | KH_API_DEFER, verify_fields},
    {KH_HTTP_POST, "/v1/keys/{}/mac", mac, KH_API_BODY | KH_API_DEFER, mac_fields},
    {KH_HTTP_POST, "/v1/keys/{}/verify-mac", verify_mac, KH_API_BODY | KH_API_DEFER,
     verify_mac_fields},
    {KH_HTTP_GET, "/v1/keys/{}/public-key", public_key, KH_API_DEFER, NULL},
    {KH_HTTP_POST, "/v1/random", random_bytes, KH_API_BODY, random_fields},
    {0, NULL, NULL, 0, NULL},
};
