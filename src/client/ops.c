// SPDX-License-Identifier: Apache-2.0
/*
 * The typed helpers of libkeyhold: create a key, encrypt, decrypt, data keys, sign, verify.
 * Each builds its JSON body in secure memory with the compact writer, makes one call, and
 * reads the members it needs from the answer with the strict reader. Key tags are checked
 * before they go into a path.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "client/kh_client_int.h"
#include "client/kh_envelope.h"

#define PATH_LEN 160u

/* ---- shared pieces ---- */

void kh_client_body_init(struct kh_client_body *b)
{
	kh_buf_init(&b->buf, KH_CLIENT_REQUEST_MAX, KH_BUF_SECURE);
	kh_json_writer_init(&b->w, &b->buf);
}

void kh_client_body_cleanup(struct kh_client_body *b)
{
	kh_buf_cleanup(&b->buf);
}

enum keyhold_err kh_client_json_call(struct keyhold_client *c, const char *method, const char *path,
                                     struct kh_client_body *b, struct kh_json **out_doc)
{
	struct kh_buf resp;
	long status = 0;
	struct kh_slice body = KH_SLICE_EMPTY;
	if (b != NULL) {
		kh_rc rc = kh_json_writer_end(&b->w);
		if (rc != KH_OK)
			return kh_client_fail(c,
			                      rc == KH_ERR_TOO_LARGE ? KEYHOLD_ERR_TOO_LARGE
			                                             : kh_client_err_of(rc),
			                      "cannot build the request");
		body = kh_buf_slice(&b->buf);
	}
	kh_buf_init(&resp, KH_CLIENT_RESPONSE_MAX, KH_BUF_SECURE);
	enum keyhold_err err = kh_client_call(c, method, path, body, &status, &resp);
	if (err == KEYHOLD_OK &&
	    kh_json_parse_object(kh_buf_slice(&resp), out_doc, NULL, 0) != KH_OK)
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "the answer is not a JSON object");
	kh_buf_cleanup(&resp);
	return err;
}

enum keyhold_err kh_client_take_string(struct keyhold_client *c, const struct kh_json *doc,
                                       const char *name, bool b64, struct keyhold_buf *out)
{
	struct kh_slice s;
	struct kh_buf b;
	if (kh_json_get_string(doc, name, &s) != KH_OK)
		return kh_client_fail(c, KEYHOLD_ERR_PROTOCOL,
		                      "a member is missing from the answer");
	kh_buf_init(&b, s.len, KH_BUF_SECURE);
	kh_rc rc = b64 ? kh_base64_decode(s, &b) : kh_buf_append(&b, s);
	if (rc == KH_OK && b.ptr == NULL)
		rc = kh_buf_reserve(&b, 0); /* an empty value still gets its NUL */
	if (rc != KH_OK) {
		kh_buf_cleanup(&b);
		return kh_client_fail(c,
		                      rc == KH_ERR_NOMEM ? KEYHOLD_ERR_NOMEM : KEYHOLD_ERR_PROTOCOL,
		                      "a member of the answer is malformed");
	}
	kh_client_buf_move(&b, out);
	return KEYHOLD_OK;
}

/* "/v1/keys/<tag>/<op>" for a tag that may go into a path. */
static enum keyhold_err key_path(struct keyhold_client *c, const char *tag, const char *op,
                                 char *out)
{
	if (!kh_envelope_tag_ok(tag))
		return kh_client_fail(c, KEYHOLD_ERR_USAGE,
		                      "a key tag is 1-64 of A-Z a-z 0-9 _ . -");
	snprintf(out, PATH_LEN, "/v1/keys/%s/%s", tag, op);
	return KEYHOLD_OK;
}

static void member_b64(struct kh_json_writer *w, const char *name, const uint8_t *p, size_t n)
{
	kh_json_key(w, name);
	kh_json_base64(w, KH_SLICE(p, n));
}

static void member_context(struct kh_json_writer *w, const uint8_t *ctx, size_t ctx_len)
{
	if (ctx != NULL && ctx_len > 0)
		member_b64(w, "context", ctx, ctx_len);
}

/* Runs one call with a body that ends here, then takes member name of the answer. */
static enum keyhold_err call_take(struct keyhold_client *c, const char *path,
                                  struct kh_client_body *b, const char *name, bool b64,
                                  struct keyhold_buf *out)
{
	struct kh_json *doc = NULL;
	kh_json_object_end(&b->w);
	enum keyhold_err err = kh_client_json_call(c, "POST", path, b, &doc);
	if (err == KEYHOLD_OK)
		err = kh_client_take_string(c, doc, name, b64, out);
	kh_json_free(&doc);
	kh_client_body_cleanup(b);
	return err;
}

/* ---- keys ---- */

enum keyhold_err keyhold_key_create(struct keyhold_client *c, const char *name, const char *type,
                                    const char *usage, char out_tag[KEYHOLD_TAG_SIZE])
{
	struct kh_client_body b;
	struct kh_json *doc = NULL;
	struct kh_slice tag;
	KH_ENSURE(c != NULL && name != NULL && out_tag != NULL, KEYHOLD_ERR_USAGE);
	kh_client_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "name");
	kh_json_cstr(&b.w, name);
	if (type != NULL) {
		kh_json_key(&b.w, "type");
		kh_json_cstr(&b.w, type);
	}
	if (usage != NULL) {
		kh_json_key(&b.w, "usage");
		kh_json_cstr(&b.w, usage);
	}
	kh_json_object_end(&b.w);
	enum keyhold_err err = kh_client_json_call(c, "POST", "/v1/keys", &b, &doc);
	if (err == KEYHOLD_OK &&
	    (kh_json_get_string(doc, "tag", &tag) != KH_OK || tag.len >= KEYHOLD_TAG_SIZE))
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "the answer has no key tag");
	if (err == KEYHOLD_OK) {
		memcpy(out_tag, tag.ptr, tag.len);
		out_tag[tag.len] = '\0';
	}
	kh_json_free(&doc);
	kh_client_body_cleanup(&b);
	return err;
}

/* ---- encrypt, decrypt, data keys ---- */

enum keyhold_err keyhold_encrypt(struct keyhold_client *c, const char *tag,
                                 const uint8_t *plaintext, size_t plaintext_len,
                                 const uint8_t *context, size_t context_len,
                                 struct keyhold_buf *out_ciphertext)
{
	char path[PATH_LEN];
	struct kh_client_body b;
	KH_ENSURE(c != NULL && out_ciphertext != NULL && (plaintext != NULL || plaintext_len == 0),
	          KEYHOLD_ERR_USAGE);
	KH_CLIENT_GUARD(key_path(c, tag, "encrypt", path));
	kh_client_body_init(&b);
	kh_json_object_begin(&b.w);
	member_b64(&b.w, "plaintext", plaintext, plaintext_len);
	member_context(&b.w, context, context_len);
	return call_take(c, path, &b, "ciphertext", false, out_ciphertext);
}

enum keyhold_err keyhold_decrypt(struct keyhold_client *c, const char *tag, const char *ciphertext,
                                 const uint8_t *context, size_t context_len,
                                 struct keyhold_buf *out_plaintext)
{
	char path[PATH_LEN];
	struct kh_client_body b;
	KH_ENSURE(c != NULL && ciphertext != NULL && out_plaintext != NULL, KEYHOLD_ERR_USAGE);
	KH_CLIENT_GUARD(key_path(c, tag, "decrypt", path));
	kh_client_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "ciphertext");
	kh_json_cstr(&b.w, ciphertext);
	member_context(&b.w, context, context_len);
	return call_take(c, path, &b, "plaintext", true, out_plaintext);
}

enum keyhold_err keyhold_data_key(struct keyhold_client *c, const char *tag, unsigned bits,
                                  const uint8_t *context, size_t context_len,
                                  struct keyhold_buf *out_plaintext,
                                  struct keyhold_buf *out_ciphertext)
{
	char path[PATH_LEN];
	struct kh_client_body b;
	struct kh_json *doc = NULL;
	struct keyhold_buf pt = {0}, ct = {0};
	KH_ENSURE(c != NULL && out_ciphertext != NULL, KEYHOLD_ERR_USAGE);
	KH_CLIENT_GUARD(key_path(c, tag, "data-key", path));
	kh_client_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "bits");
	kh_json_uint(&b.w, bits);
	kh_json_key(&b.w, "include_plaintext");
	kh_json_bool(&b.w, out_plaintext != NULL);
	member_context(&b.w, context, context_len);
	kh_json_object_end(&b.w);
	enum keyhold_err err = kh_client_json_call(c, "POST", path, &b, &doc);
	if (err == KEYHOLD_OK)
		err = kh_client_take_string(c, doc, "ciphertext", false, &ct);
	if (err == KEYHOLD_OK && out_plaintext != NULL)
		err = kh_client_take_string(c, doc, "plaintext", true, &pt);
	if (err == KEYHOLD_OK) {
		keyhold_buf_free(out_ciphertext);
		*out_ciphertext = ct;
		ct = (struct keyhold_buf){0};
		if (out_plaintext != NULL) {
			keyhold_buf_free(out_plaintext);
			*out_plaintext = pt;
			pt = (struct keyhold_buf){0};
		}
	}
	keyhold_buf_free(&pt);
	keyhold_buf_free(&ct);
	kh_json_free(&doc);
	kh_client_body_cleanup(&b);
	return err;
}

/* ---- signatures ---- */

static void sig_members(struct kh_json_writer *w, const uint8_t *msg, size_t len, unsigned flags,
                        const char *algorithm)
{
	member_b64(w, (flags & KEYHOLD_SIGN_DIGEST) != 0 ? "digest" : "message", msg, len);
	if (algorithm != NULL) {
		kh_json_key(w, "algorithm");
		kh_json_cstr(w, algorithm);
	}
}

enum keyhold_err keyhold_sign(struct keyhold_client *c, const char *tag, const uint8_t *message,
                              size_t message_len, unsigned flags, const char *algorithm,
                              struct keyhold_buf *out_signature)
{
	char path[PATH_LEN];
	struct kh_client_body b;
	KH_ENSURE(c != NULL && out_signature != NULL && (message != NULL || message_len == 0),
	          KEYHOLD_ERR_USAGE);
	KH_CLIENT_GUARD(key_path(c, tag, "sign", path));
	kh_client_body_init(&b);
	kh_json_object_begin(&b.w);
	sig_members(&b.w, message, message_len, flags, algorithm);
	return call_take(c, path, &b, "signature", false, out_signature);
}

enum keyhold_err keyhold_verify(struct keyhold_client *c, const char *tag, const uint8_t *message,
                                size_t message_len, unsigned flags, const char *algorithm,
                                const char *signature, bool *out_valid)
{
	char path[PATH_LEN];
	struct kh_client_body b;
	struct kh_json *doc = NULL;
	bool valid = false;
	KH_ENSURE(c != NULL && signature != NULL && out_valid != NULL &&
	              (message != NULL || message_len == 0),
	          KEYHOLD_ERR_USAGE);
	KH_CLIENT_GUARD(key_path(c, tag, "verify", path));
	kh_client_body_init(&b);
	kh_json_object_begin(&b.w);
	sig_members(&b.w, message, message_len, flags, algorithm);
	kh_json_key(&b.w, "signature");
	kh_json_cstr(&b.w, signature);
	kh_json_object_end(&b.w);
	enum keyhold_err err = kh_client_json_call(c, "POST", path, &b, &doc);
	if (err == KEYHOLD_OK && kh_json_get_bool(doc, "valid", &valid) != KH_OK)
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "the answer has no \"valid\"");
	if (err == KEYHOLD_OK)
		*out_valid = valid;
	kh_json_free(&doc);
	kh_client_body_cleanup(&b);
	return err;
}
