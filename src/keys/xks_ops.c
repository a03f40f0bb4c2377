// SPDX-License-Identifier: Apache-2.0
/*
 * The XKS proxy's path (kh_keys_xks.h): resolving a prefix, the secret of a credential, and the
 * three key operations AWS KMS calls: metadata, encrypt, decrypt. Each operation is one read
 * transaction that loads the attached key with its store's switches (one statement), checks in
 * XKS.md's order and takes the version's material from the keys cache; the AES-256-GCM work
 * outside any transaction; then one record (audit with the request's identifiers, usage history
 * and count), staged when p->defer is set. Nothing here ever logs or records plaintext.
 */
#include <string.h>

#include "base/kh_endian.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "keys/kh_keys_xks_int.h"
#include "store/kh_store_xks.h"
#include "keys/kh_xks_format.h"

/* ---- resolving a prefix, credentials ---- */

kh_rc kh_keys_xks_resolve(struct kh_keys *k, const char *prefix, struct kh_xks_store_info *out)
{
	struct kh_store_tx *tx = NULL;
	struct kh_xks_store_info s;
	KH_ENSURE(kh_xks_prefix_valid(prefix), KH_ERR_NOT_FOUND);
	if (kh_xks_cache_prefix_get(k, prefix, out))
		return KH_OK;
	uint64_t gen = kh_xks_cache_gen(k);
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_xks_store_load_prefix(tx, prefix, &s);
	kh_store_read_end(&tx);
	KH_GUARD(rc);
	kh_xks_cache_prefix_put(k, gen, &s);
	*out = s;
	return KH_OK;
}

static kh_rc secret_read(struct kh_keys *k, int64_t store_id, struct kh_slice ak,
                         struct kh_buf *out)
{
	struct kh_store_tx *tx = NULL;
	struct kh_store_rows *rows = NULL;
	char scope[KH_XKS_SCOPE_MAX];
	bool found = false;
	struct kh_store_val v[] = {KH_SV_INT(store_id), KH_SV_TEXTN(ak)};
	KH_GUARD(kh_store_read_begin(k->store, &tx));
	kh_rc rc = kh_store_query_one(tx, &kh_q_xks_cred_live, v, KH_SV_COUNT(v), &rows, &found);
	kh_store_rows_close(&rows);
	if (rc == KH_OK && !found)
		rc = KH_ERR_NOT_FOUND;
	if (rc == KH_OK) {
		kh_xks_secret_scope(store_id, ak, scope, sizeof(scope));
		rc = kh_barrier_get(k->barrier, tx, scope, out);
	}
	kh_store_read_end(&tx);
	return rc;
}

kh_rc kh_keys_xks_secret(struct kh_keys *k, int64_t store_id, struct kh_slice access_key_id,
                         struct kh_buf *out_secret)
{
	struct kh_buf secret;
	KH_ENSURE(out_secret != NULL && (out_secret->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	/* Never a format error: whatever was presented is simply not a credential. */
	KH_ENSURE(kh_xks_access_key_valid(access_key_id), KH_ERR_NOT_FOUND);
	if (kh_xks_cache_secret_get(k, store_id, access_key_id, out_secret) == KH_OK)
		return KH_OK;
	uint64_t gen = kh_xks_cache_gen(k);
	kh_buf_init(&secret, KH_BARRIER_SECRET_MAX, KH_BUF_SECURE);
	kh_rc rc = secret_read(k, store_id, access_key_id, &secret);
	if (rc == KH_OK)
		rc = kh_buf_append(out_secret, kh_buf_slice(&secret));
	if (rc == KH_OK)
		kh_xks_cache_secret_put(k, gen, store_id, access_key_id, kh_buf_slice(&secret));
	kh_buf_cleanup(&secret);
	return rc;
}

/* ---- one call ---- */

struct xuse {
	struct kh_keys *k;
	const struct kh_principal *p;
	const struct kh_xks_call *call;
	enum kh_keys_op op;
	struct kh_xks_key_info x;
	struct kh_xks_key_store st;
	bool found;
	uint32_t version;
	struct kh_keys_cached *mat;
	const char *rule; /* the secondary authorization rule that denied, or NULL */
};

/* XKS.md "Keys and authorization": metadata is for administrators and users; encrypt and
 * decrypt for users. Off unless the store turned it on. */
static kh_rc secondary_auth(struct xuse *u)
{
	if (!u->st.secondary_auth)
		return KH_OK;
	const char *arn = u->call->aws_principal_arn;
	if (kh_xks_patterns_match(u->x.users, arn))
		return KH_OK;
	if (u->op == KH_OP_XKS_METADATA) {
		if (kh_xks_patterns_match(u->x.administrators, arn))
			return KH_OK;
		u->rule = "administrators,users";
	} else {
		u->rule = "users";
	}
	return KH_ERR_FORBIDDEN;
}

static bool expired(const struct xuse *u)
{
	return u->x.expires_at != 0 && u->x.expires_at <= kh_clock_now(u->k->clock);
}

/* Key state and expiry: a deleted key is as unusable as a disabled one. */
static kh_rc state_check(const struct xuse *u)
{
	if (u->x.key.state == KH_KEY_DELETED)
		return KH_ERR_KEY_DISABLED;
	KH_GUARD(kh_keys_state_error(u->x.key.state));
	KH_ENSURE(!expired(u), KH_ERR_KEY_DISABLED);
	return KH_OK;
}

/* Our ciphertextMetadata: format byte, BE32 key version. Anything else: 0. */
static uint32_t metadata_version(struct kh_slice md)
{
	if (md.len != KH_XKS_CIPHERTEXT_METADATA_LEN || md.ptr[0] != KH_XKS_METADATA_FORMAT)
		return 0;
	return kh_be32_get(md.ptr + 1);
}

/* The checks up to the usage (XKS.md "Order of checks"), in the read transaction. */
static kh_rc checks_in(struct xuse *u, struct kh_store_tx *tx, unsigned need)
{
	const struct kh_xks_call *call = u->call;
	KH_GUARD(kh_xks_key_load(tx, call->store_id, call->external_key_id, &u->x, &u->st));
	u->found = true;
	KH_ENSURE(u->st.enabled, KH_ERR_CONFLICT);
	KH_GUARD(secondary_auth(u));
	KH_GUARD(call->size_rc);
	if (need == 0)
		return KH_OK; /* metadata answers whatever the state */
	KH_GUARD(state_check(u));
	KH_ENSURE((u->x.usages & need) == need, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(u->x.key.type == KH_KEY_AES_256_GCM && u->x.key.usage == KH_USAGE_ENCRYPT_DECRYPT,
	          KH_ERR_WRONG_KEY_TYPE);
	return KH_OK;
}

/* Everything up to the crypto; version 0 with need set is a ciphertext we cannot place. */
static kh_rc begin_in(struct xuse *u, struct kh_store_tx *tx, unsigned need, uint32_t version,
                      bool current)
{
	KH_GUARD(checks_in(u, tx, need));
	if (need == 0)
		return KH_OK;
	u->version = current ? u->x.key.current_version : version;
	KH_ENSURE(u->version != 0 && u->version <= u->x.key.current_version, KH_ERR_DECRYPT);
	KH_GUARD(kh_keys_version_check(tx, &u->x.key, u->version));
	return kh_keys_material(u->k, tx, &u->x.key, u->version, &u->mat);
}

static kh_rc begin(struct xuse *u, unsigned need, uint32_t version, bool current)
{
	struct kh_store_tx *tx = NULL;
	const struct kh_principal *p = u->p;
	KH_ENSURE(u->call != NULL && p->kind == KH_PRINCIPAL_XKS &&
	              p->xks_store_id == u->call->store_id,
	          KH_ERR_FORBIDDEN);
	KH_GUARD(kh_store_read_begin(u->k->store, &tx));
	kh_rc rc = begin_in(u, tx, need, version, current);
	kh_store_read_end(&tx);
	return rc;
}

/* Appends s as the inside of a JSON string, cut at a character boundary so that out stays
 * within budget bytes. Controls and '"' '\' are escaped; a byte that does not start a valid
 * UTF-8 sequence becomes '?'. */
static void json_text(char *out, size_t *len, size_t budget, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = *len;
	for (size_t i = 0; s != NULL && s[i] != '\0';) {
		char piece[8];
		size_t pl = 0, adv = 1;
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			piece[pl++] = '\\';
			piece[pl++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(piece, "\\u00", 4);
			pl = 4;
			piece[pl++] = hex[c >> 4];
			piece[pl++] = hex[c & 15];
		} else if (c < 0x80) {
			piece[pl++] = (char)c;
		} else {
			size_t want = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
			size_t j = 1;
			while (want > 0 && j < want && ((unsigned char)s[i + j] & 0xc0) == 0x80)
				j++;
			if (want > 0 && j == want) {
				memcpy(piece, s + i, want);
				pl = adv = want;
			} else {
				piece[pl++] = '?';
			}
		}
		if (n + pl > budget)
			break;
		memcpy(out + n, piece, pl);
		n += pl;
		i += adv;
	}
	*len = n;
}

static void json_field(char *out, size_t *len, const char *name, const char *value, size_t cap)
{
	size_t n = *len;
	size_t name_len = strlen(name);
	memcpy(out + n, name, name_len);
	n += name_len;
	json_text(out, &n, n + cap, value);
	out[n++] = '"';
	*len = n;
}

/* The audit detail of a call: the request's identifiers, cut so that the whole object stays
 * within KH_AUDIT_FIELD_MAX (each value has its own share), and the rule that denied. */
static void call_detail(const struct xuse *u, char out[KH_AUDIT_FIELD_MAX + 1])
{
	const struct kh_xks_call *c = u->call;
	size_t n = 0;
	json_field(out, &n, "{\"kms_request_id\":\"", c->kms_request_id, 160);
	json_field(out, &n, ",\"kms_operation\":\"", c->kms_operation, 96);
	json_field(out, &n, ",\"aws_principal_arn\":\"", c->aws_principal_arn, 480);
	json_field(out, &n, ",\"external_key_id\":\"", c->external_key_id, 132);
	if (u->rule != NULL)
		json_field(out, &n, ",\"rule\":\"", u->rule, 32);
	out[n++] = '}';
	out[n] = '\0';
}

static kh_rc end(struct xuse *u, kh_rc outcome)
{
	char detail[KH_AUDIT_FIELD_MAX + 1];
	kh_keys_material_release(u->k, &u->mat);
	if (u->call == NULL)
		return kh_keys_record(u->k, u->p, u->op, NULL, 0, outcome);
	call_detail(u, detail);
	struct kh_keys_use_record r = {
	    .op = u->op,
	    .key = u->found ? &u->x.key : NULL,
	    .version = u->found ? u->version : 0,
	    .detail = detail,
	};
	return kh_keys_record_use(u->k, u->p, &r, outcome);
}

static struct xuse *xuse_new(struct kh_keys *k, const struct kh_principal *p,
                             const struct kh_xks_call *call, enum kh_keys_op op)
{
	/* The attached key carries two pattern lists: on the heap, not the stack. */
	struct xuse *u = kh_alloc(sizeof(*u));
	if (u != NULL) {
		u->k = k;
		u->p = p;
		u->call = call;
		u->op = op;
		u->found = false;
		u->version = 0;
		u->mat = NULL;
		u->rule = NULL;
	}
	return u;
}

kh_rc kh_keys_xks_metadata(struct kh_keys *k, const struct kh_principal *p,
                           const struct kh_xks_call *call, struct kh_xks_key_state *out)
{
	struct xuse *u = xuse_new(k, p, call, KH_OP_XKS_METADATA);
	KH_ENSURE(u != NULL, KH_ERR_NOMEM);
	kh_rc rc = end(u, begin(u, 0, 0, false));
	if (rc == KH_OK) {
		out->usages = u->x.usages;
		out->enabled = state_check(u) == KH_OK;
	}
	kh_free(&u);
	return rc;
}

/* The associated data XKS.md fixes, into a fresh buffer. */
static kh_rc xks_ad(struct kh_slice aad, struct kh_slice md, struct kh_buf *ad)
{
	kh_buf_init(ad, 2 + KH_XKS_AAD_MAX + 1 + KH_XKS_METADATA_MAX, KH_BUF_PLAIN);
	return kh_xks_aad(aad, md, ad);
}

/* XKS.md "encrypt": the integrity value of the fresh output, then a decryption of it that must
 * give the plaintext back. */
static kh_rc integrity_and_check(struct xuse *u, struct kh_slice ad, struct kh_slice aad,
                                 struct kh_slice pt, struct kh_slice ct, struct kh_xks_sealed *out)
{
	uint8_t *back = NULL;
	struct kh_slice md = KH_SLICE(out->metadata, sizeof(out->metadata));
	struct kh_slice iv = KH_SLICE(out->iv, sizeof(out->iv));
	struct kh_slice tag = KH_SLICE(out->tag, sizeof(out->tag));
	KH_GUARD(kh_xks_integrity(aad, md, iv, ct, tag, out->integrity));
	if (pt.len == 0)
		return kh_keymat_aead_open(u->mat->m, iv, ad, ct, tag, NULL);
	back = kh_secure_alloc(pt.len);
	KH_ENSURE(back != NULL, KH_ERR_NOMEM);
	kh_rc rc = kh_keymat_aead_open(u->mat->m, iv, ad, ct, tag, back);
	if (rc == KH_OK && !kh_ct_eq(KH_SLICE(back, pt.len), pt))
		rc = KH_ERR_INTERNAL;
	kh_secure_free(&back);
	return rc;
}

static kh_rc seal(struct xuse *u, struct kh_slice pt, struct kh_slice aad, bool want_integrity,
                  struct kh_xks_sealed *out)
{
	struct kh_buf ad;
	uint8_t *ct = NULL;
	out->metadata[0] = KH_XKS_METADATA_FORMAT;
	kh_be32_put(out->metadata + 1, u->version);
	struct kh_slice md = KH_SLICE(out->metadata, sizeof(out->metadata));
	kh_rc rc = xks_ad(aad, md, &ad);
	if (rc == KH_OK)
		rc = kh_rand_bytes(out->iv, sizeof(out->iv));
	if (rc == KH_OK && pt.len > 0)
		rc = kh_buf_extend(&out->ciphertext, pt.len, &ct);
	if (rc == KH_OK)
		rc = kh_keymat_aead_seal(u->mat->m, KH_SLICE(out->iv, sizeof(out->iv)),
		                         kh_buf_slice(&ad), pt, ct, out->tag);
	if (rc == KH_OK)
		kh_buf_commit(&out->ciphertext, pt.len);
	if (rc == KH_OK && want_integrity)
		rc = integrity_and_check(u, kh_buf_slice(&ad), aad, pt, KH_SLICE(ct, pt.len), out);
	kh_buf_cleanup(&ad);
	return rc;
}

kh_rc kh_keys_xks_encrypt(struct kh_keys *k, const struct kh_principal *p,
                          const struct kh_xks_call *call, struct kh_slice plaintext,
                          struct kh_slice aad, bool want_integrity, struct kh_xks_sealed *out)
{
	struct xuse *u = xuse_new(k, p, call, KH_OP_XKS_ENCRYPT);
	KH_ENSURE(u != NULL, KH_ERR_NOMEM);
	size_t mark = out->ciphertext.len;
	/* The check-decryption of the integrity value needs the decrypt usage too. */
	unsigned need = KH_XKS_USE_ENCRYPT | (want_integrity ? KH_XKS_USE_DECRYPT : 0u);
	kh_rc rc = begin(u, need, 0, true);
	if (rc == KH_OK)
		rc = seal(u, plaintext, aad, want_integrity, out);
	rc = end(u, rc);
	if (rc != KH_OK && out->ciphertext.len > mark)
		kh_buf_truncate(&out->ciphertext, mark);
	kh_free(&u);
	return rc;
}

static kh_rc open_into(struct xuse *u, struct kh_slice ct, struct kh_slice iv, struct kh_slice tag,
                       struct kh_slice md, struct kh_slice aad, struct kh_buf *out)
{
	struct kh_buf ad;
	uint8_t *pt = NULL;
	KH_ENSURE(iv.len == KH_XKS_IV_LEN || iv.len == KH_XKS_IV_LEN_LONG, KH_ERR_DECRYPT);
	KH_ENSURE(tag.len == KH_XKS_TAG_LEN, KH_ERR_DECRYPT);
	kh_rc rc = xks_ad(aad, md, &ad);
	if (rc == KH_OK && ct.len > 0)
		rc = kh_buf_extend(out, ct.len, &pt);
	if (rc == KH_OK)
		rc = kh_keymat_aead_open(u->mat->m, iv, kh_buf_slice(&ad), ct, tag, pt);
	if (rc == KH_OK)
		kh_buf_commit(out, ct.len);
	kh_buf_cleanup(&ad);
	return rc;
}

kh_rc kh_keys_xks_decrypt(struct kh_keys *k, const struct kh_principal *p,
                          const struct kh_xks_call *call, struct kh_slice ciphertext,
                          struct kh_slice iv, struct kh_slice tag, struct kh_slice metadata,
                          struct kh_slice aad, struct kh_buf *out)
{
	KH_ENSURE((out->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	struct xuse *u = xuse_new(k, p, call, KH_OP_XKS_DECRYPT);
	KH_ENSURE(u != NULL, KH_ERR_NOMEM);
	size_t mark = out->len;
	kh_rc rc = begin(u, KH_XKS_USE_DECRYPT, metadata_version(metadata), false);
	if (rc == KH_OK)
		rc = open_into(u, ciphertext, iv, tag, metadata, aad, out);
	rc = end(u, rc);
	if (rc != KH_OK && out->len > mark)
		kh_buf_truncate(out, mark);
	kh_free(&u);
	return rc;
}
