// SPDX-License-Identifier: Apache-2.0
/*
 * The crypto operations on keys (API.md "Crypto operations"). Each one: a read transaction
 * that loads the key, checks the caller's roles, the key's state, the usage, the version's
 * state, and takes the version's material from the cache (or the barrier); the operation itself
 * outside any transaction; then one write with the audit record, the usage history entry and
 * the usage count (shared with concurrent callers by group commit).
 *
 * After a rotation only the newest version encrypts, signs and MACs; older enabled versions
 * decrypt and verify; disabled versions do neither.
 */
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys_int.h"
#include "store/kh_store_keys.h"

struct use {
	struct kh_keys *k;
	const struct kh_principal *p;
	enum kh_keys_op op;
	const char *tag;
	struct kh_key_info key;
	bool found;
	uint32_t version;
	struct kh_keys_cached *mat;
};

/* The version must exist and be enabled; unknown versions are the ciphertext's fault. */
kh_rc kh_keys_version_check(struct kh_store_tx *tx, const struct kh_key_info *key, uint32_t version)
{
	struct kh_store_rows *rows = NULL;
	struct kh_slice s;
	bool found = false;
	enum kh_version_state state = KH_VERSION_DISABLED;
	int64_t destroyed = 0;
	struct kh_store_val v[] = {KH_SV_INT(key->id), KH_SV_INT(version)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_version_get, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_store_rows_text(rows, 1, &s) : KH_ERR_DECRYPT;
	if (rc == KH_OK && kh_version_state_parse(s, &state) != KH_OK)
		rc = KH_ERR_STORAGE;
	if (rc == KH_OK)
		rc = kh_store_rows_int(rows, 4, &destroyed);
	kh_store_rows_close(&rows);
	KH_GUARD(rc);
	KH_ENSURE(destroyed == 0, KH_ERR_DECRYPT);
	KH_ENSURE(state == KH_VERSION_ENABLED, KH_ERR_VERSION_DISABLED);
	return KH_OK;
}

static kh_rc begin_in(struct use *u, struct kh_store_tx *tx, uint32_t version,
                      enum kh_key_usage need, bool material)
{
	KH_GUARD(kh_keys_load(tx, u->p->keystore_id, u->tag, &u->key));
	u->found = true;
	KH_GUARD(kh_keys_authorize(tx, u->p, &u->key, u->op));
	KH_GUARD(kh_keys_state_error(u->key.state));
	KH_ENSURE(u->key.usage == need, KH_ERR_WRONG_KEY_TYPE);
	u->version = version != 0 ? version : u->key.current_version;
	KH_ENSURE(u->version <= u->key.current_version, KH_ERR_DECRYPT);
	KH_GUARD(kh_keys_version_check(tx, &u->key, u->version));
	if (material)
		KH_GUARD(kh_keys_material(u->k, tx, &u->key, u->version, &u->mat));
	return KH_OK;
}

/* Loads and checks everything an operation needs; version 0 = the current one. */
static kh_rc use_begin(struct use *u, uint32_t version, enum kh_key_usage need, bool material)
{
	struct kh_store_tx *tx = NULL;
	KH_ENSURE(u->p->kind == KH_PRINCIPAL_ACCOUNT, KH_ERR_FORBIDDEN);
	KH_GUARD(kh_store_read_begin(u->k->store, &tx));
	kh_rc rc = begin_in(u, tx, version, need, material);
	kh_store_read_end(&tx);
	return rc;
}

/* use_begin for the service itself: any key of p->keystore_id, no roles (kh_keys_with_signer). */
static kh_rc system_begin_in(struct use *u, struct kh_store_tx *tx)
{
	KH_GUARD(kh_keys_load(tx, u->p->keystore_id, u->tag, &u->key));
	u->found = true;
	KH_GUARD(kh_keys_state_error(u->key.state));
	KH_ENSURE(u->key.usage == KH_USAGE_SIGN_VERIFY, KH_ERR_WRONG_KEY_TYPE);
	u->version = u->key.current_version;
	KH_GUARD(kh_keys_version_check(tx, &u->key, u->version));
	return kh_keys_material(u->k, tx, &u->key, u->version, &u->mat);
}

static kh_rc system_begin(struct use *u)
{
	struct kh_store_tx *tx = NULL;
	KH_ENSURE(u->p->keystore_id > 0, KH_ERR_FORBIDDEN);
	KH_GUARD(kh_store_read_begin(u->k->store, &tx));
	kh_rc rc = system_begin_in(u, tx);
	kh_store_read_end(&tx);
	return rc;
}

/* Releases the material and records the use; returns outcome (or a failure to record). */
static kh_rc use_end(struct use *u, kh_rc outcome)
{
	kh_keys_material_release(u->k, &u->mat);
	return kh_keys_record(u->k, u->p, u->op, u->found ? &u->key : NULL,
	                      u->found ? u->version : 0, outcome);
}

/* use_end for operations with output: out-parameters are written only on success, so what the
 * operation appended from mark on is taken back (wiped if secure) when it, or the record of it,
 * failed. */
static kh_rc use_end_out(struct use *u, kh_rc outcome, struct kh_buf *out, size_t mark)
{
	kh_rc rc = use_end(u, outcome);
	if (rc != KH_OK && out != NULL && out->len > mark)
		kh_buf_truncate(out, mark);
	return rc;
}

static struct kh_keymat_bind bind_of(const struct use *u, uint32_t version, struct kh_slice ctx)
{
	return (struct kh_keymat_bind){
	    .key_tag = kh_slice_from_cstr(u->key.tag), .version = version, .context = ctx};
}

/* Parses "kh:v<N>:..." into blob; *out_version 0 when it does not parse. */
static void parse_text(struct kh_slice text, uint32_t *out_version, struct kh_buf *blob)
{
	if (kh_keymat_text_parse(text, out_version, blob) != KH_OK)
		*out_version = 0;
}

/* ---- encrypt, decrypt, data keys, re-encryption ---- */

kh_rc kh_keys_encrypt(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                      struct kh_slice plaintext, struct kh_slice context, struct kh_buf *out)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_ENCRYPT, .tag = tag};
	size_t mark = out->len;
	kh_rc rc = use_begin(&u, 0, KH_USAGE_ENCRYPT_DECRYPT, true);
	if (rc == KH_OK) {
		struct kh_keymat_bind b = bind_of(&u, u.version, context);
		rc = kh_keymat_encrypt(u.mat->m, u.key.convergent, &b, plaintext, out);
	}
	return use_end_out(&u, rc, out, mark);
}

/* Decrypts text with the version it names, after use_begin succeeded for that version. */
static kh_rc decrypt_with(struct use *u, struct kh_slice blob, struct kh_slice context,
                          struct kh_buf *out)
{
	struct kh_keymat_bind b = bind_of(u, u->version, context);
	return kh_keymat_decrypt(u->mat->m, &b, blob, out);
}

/* Begins a use for the version a ciphertext names; a text that does not parse is reported
 * after the authorisation, so strangers learn nothing either way. */
static kh_rc begin_for_text(struct use *u, struct kh_slice text, enum kh_key_usage need,
                            struct kh_buf *blob)
{
	uint32_t version = 0;
	parse_text(text, &version, blob);
	if (version == 0) {
		KH_GUARD(use_begin(u, 0, need, false));
		return KH_ERR_DECRYPT;
	}
	return use_begin(u, version, need, true);
}

kh_rc kh_keys_decrypt(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                      struct kh_slice ciphertext, struct kh_slice context, struct kh_buf *out)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_DECRYPT, .tag = tag};
	struct kh_buf blob;
	size_t mark = out->len;
	kh_buf_init(&blob, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	kh_rc rc = begin_for_text(&u, ciphertext, KH_USAGE_ENCRYPT_DECRYPT, &blob);
	if (rc == KH_OK)
		rc = decrypt_with(&u, kh_buf_slice(&blob), context, out);
	kh_buf_cleanup(&blob);
	return use_end_out(&u, rc, out, mark);
}

kh_rc kh_keys_data_key(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                       unsigned bits, struct kh_slice context, struct kh_buf *out_plaintext,
                       struct kh_buf *out_ciphertext)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_DATA_KEY, .tag = tag};
	uint8_t *dk = NULL;
	size_t len = bits / 8;
	size_t mark_pt = out_plaintext != NULL ? out_plaintext->len : 0;
	size_t mark_ct = out_ciphertext->len;
	kh_rc rc = use_begin(&u, 0, KH_USAGE_ENCRYPT_DECRYPT, true);
	if (rc == KH_OK && !kh_key_type_is_symmetric(u.key.type))
		rc = KH_ERR_WRONG_KEY_TYPE;
	if (rc == KH_OK && (bits < KH_LIMIT_DATA_KEY_BITS_MIN ||
	                    bits > KH_LIMIT_DATA_KEY_BITS_MAX || bits % 8 != 0))
		rc = KH_ERR_BAD_INPUT;
	/* The data key is a secret: it goes to secure memory only (as kh_keymat_decrypt asks). */
	if (rc == KH_OK && out_plaintext != NULL && (out_plaintext->flags & KH_BUF_SECURE) == 0)
		rc = KH_ERR_INTERNAL;
	if (rc == KH_OK) {
		dk = kh_secure_alloc(len);
		rc = dk != NULL ? kh_rand_secret(dk, len) : KH_ERR_NOMEM;
	}
	if (rc == KH_OK) {
		struct kh_keymat_bind b = bind_of(&u, u.version, context);
		rc = kh_keymat_encrypt(u.mat->m, false, &b, KH_SLICE(dk, len), out_ciphertext);
	}
	if (rc == KH_OK && out_plaintext != NULL)
		rc = kh_buf_append(out_plaintext, KH_SLICE(dk, len));
	kh_secure_free(&dk);
	rc = use_end_out(&u, rc, out_ciphertext, mark_ct);
	if (rc != KH_OK && out_plaintext != NULL && out_plaintext->len > mark_pt)
		kh_buf_truncate(out_plaintext, mark_pt);
	return rc;
}

kh_rc kh_keys_reencrypt(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                        struct kh_slice ciphertext, struct kh_slice context, struct kh_buf *out)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_REENCRYPT, .tag = tag};
	struct kh_keys_cached *current = NULL;
	struct kh_buf blob, plain;
	size_t mark = out->len;
	kh_buf_init(&blob, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&plain, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_rc rc = begin_for_text(&u, ciphertext, KH_USAGE_ENCRYPT_DECRYPT, &blob);
	if (rc == KH_OK)
		rc = decrypt_with(&u, kh_buf_slice(&blob), context, &plain);
	if (rc == KH_OK) {
		struct kh_store_tx *tx = NULL;
		rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK)
			rc = kh_keys_material(k, tx, &u.key, u.key.current_version, &current);
		kh_store_read_end(&tx);
	}
	if (rc == KH_OK) {
		struct kh_keymat_bind b = bind_of(&u, u.key.current_version, context);
		rc = kh_keymat_encrypt(current->m, u.key.convergent, &b, kh_buf_slice(&plain), out);
	}
	kh_keys_material_release(k, &current);
	kh_buf_cleanup(&plain);
	kh_buf_cleanup(&blob);
	return use_end_out(&u, rc, out, mark);
}

/* ---- signatures and MACs ---- */

kh_rc kh_keys_sign(struct kh_keys *k, const struct kh_principal *p, const char *tag, int alg,
                   bool is_digest, struct kh_slice msg, struct kh_buf *out)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_SIGN, .tag = tag};
	size_t mark = out->len;
	kh_rc rc = use_begin(&u, 0, KH_USAGE_SIGN_VERIFY, true);
	if (rc == KH_OK)
		rc = kh_keymat_sign(u.mat->m, u.version, alg, is_digest, msg, out);
	return use_end_out(&u, rc, out, mark);
}

kh_rc kh_keys_with_signer(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                          kh_keys_signer_fn fn, void *arg)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_SIGN_WITH, .tag = tag};
	kh_rc rc = p->kind == KH_PRINCIPAL_SYSTEM ? system_begin(&u)
	                                          : use_begin(&u, 0, KH_USAGE_SIGN_VERIFY, true);
	const struct kh_pkey *key = rc == KH_OK ? kh_keymat_pkey(u.mat->m) : NULL;
	if (rc == KH_OK && key == NULL)
		rc = KH_ERR_WRONG_KEY_TYPE;
	if (rc == KH_OK)
		rc = fn(arg, key);
	return use_end(&u, rc);
}

/* A signature or MAC that does not parse, or names a version that does not exist, is simply
 * not valid; a disabled version is an error (the caller should know why). */
static kh_rc begin_for_check(struct use *u, struct kh_slice text, enum kh_key_usage need,
                             struct kh_buf *blob, bool *out_parsed)
{
	uint32_t version = 0;
	parse_text(text, &version, blob);
	*out_parsed = version != 0;
	if (version == 0)
		return use_begin(u, 0, need, false);
	kh_rc rc = use_begin(u, version, need, true);
	if (rc == KH_ERR_DECRYPT) {
		*out_parsed = false;
		return KH_OK;
	}
	return rc;
}

kh_rc kh_keys_verify(struct kh_keys *k, const struct kh_principal *p, const char *tag, int alg,
                     bool is_digest, struct kh_slice msg, struct kh_slice signature,
                     bool *out_valid)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_VERIFY, .tag = tag};
	struct kh_buf blob;
	bool parsed = false, valid = false;
	kh_buf_init(&blob, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	kh_rc rc = begin_for_check(&u, signature, KH_USAGE_SIGN_VERIFY, &blob, &parsed);
	if (rc == KH_OK && parsed)
		rc = kh_keymat_verify(u.mat->m, alg, is_digest, msg, kh_buf_slice(&blob), &valid);
	kh_buf_cleanup(&blob);
	KH_GUARD(use_end(&u, rc));
	*out_valid = valid;
	return KH_OK;
}

kh_rc kh_keys_mac(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                  struct kh_slice msg, struct kh_buf *out)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_MAC, .tag = tag};
	size_t mark = out->len;
	kh_rc rc = use_begin(&u, 0, KH_USAGE_MAC, true);
	if (rc == KH_OK)
		rc = kh_keymat_mac(u.mat->m, u.version, msg, out);
	return use_end_out(&u, rc, out, mark);
}

kh_rc kh_keys_verify_mac(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                         struct kh_slice msg, struct kh_slice mac, bool *out_valid)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_VERIFY_MAC, .tag = tag};
	struct kh_buf blob;
	bool parsed = false, valid = false;
	kh_buf_init(&blob, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	kh_rc rc = begin_for_check(&u, mac, KH_USAGE_MAC, &blob, &parsed);
	if (rc == KH_OK && parsed)
		rc = kh_keymat_verify_mac(u.mat->m, msg, kh_buf_slice(&blob), &valid);
	kh_buf_cleanup(&blob);
	KH_GUARD(use_end(&u, rc));
	*out_valid = valid;
	return KH_OK;
}

/* ---- public keys ---- */

static kh_rc public_der(struct kh_keys *k, const struct use *u, struct kh_buf *der)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	struct kh_slice s;
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(u->key.id), KH_SV_INT(u->version)};
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_store_query_one(tx, &kh_q_version_get, v, KH_SV_COUNT(v), &rows, &found);
	if (rc == KH_OK)
		rc = found ? kh_store_rows_blob(rows, 3, &s) : KH_ERR_NOT_FOUND;
	if (rc == KH_OK)
		rc = kh_buf_append(der, s);
	kh_store_rows_close(&rows);
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_keys_public_key(struct kh_keys *k, const struct kh_principal *p, const char *tag,
                         uint32_t version, uint32_t *out_version, struct kh_buf *out_pem)
{
	struct use u = {.k = k, .p = p, .op = KH_OP_PUBLIC_KEY, .tag = tag};
	struct kh_pkey *pk = NULL;
	struct kh_buf der;
	size_t mark = out_pem->len;
	kh_buf_init(&der, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	kh_rc rc = KH_ERR_FORBIDDEN;
	if (p->kind == KH_PRINCIPAL_ACCOUNT) {
		struct kh_store_tx *tx = NULL;
		rc = kh_store_read_begin(k->store, &tx);
		if (rc == KH_OK) {
			rc = kh_keys_load(tx, p->keystore_id, tag, &u.key);
			u.found = rc == KH_OK;
		}
		if (rc == KH_OK)
			rc = kh_keys_authorize(tx, p, &u.key, u.op);
		if (rc == KH_OK)
			rc = kh_keys_state_error(u.key.state);
		if (rc == KH_OK && !kh_key_type_is_asymmetric(u.key.type))
			rc = KH_ERR_WRONG_KEY_TYPE;
		if (rc == KH_OK) {
			u.version = version != 0 ? version : u.key.current_version;
			rc = u.version <= u.key.current_version
			         ? kh_keys_version_check(tx, &u.key, u.version)
			         : KH_ERR_NOT_FOUND;
			if (rc == KH_ERR_DECRYPT)
				rc = KH_ERR_NOT_FOUND;
		}
		kh_store_read_end(&tx);
	}
	if (rc == KH_OK)
		rc = public_der(k, &u, &der);
	if (rc == KH_OK)
		rc = kh_pkey_import_public(kh_buf_slice(&der), &pk);
	if (rc == KH_OK)
		rc = kh_pkey_export_public_pem(pk, out_pem);
	kh_pkey_free(&pk);
	kh_buf_cleanup(&der);
	rc = use_end_out(&u, rc, out_pem, mark);
	if (rc == KH_OK)
		*out_version = u.version;
	return rc;
}
