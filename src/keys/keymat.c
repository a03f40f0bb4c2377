/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key material of one key version and the crypto operations on it (see kh_keymat.h for the
 * blob formats, which this file implements byte for byte). A table maps each key type to the
 * kind of object it becomes: an AEAD key (with the derived convergent-nonce key), an HMAC key,
 * or an asymmetric key. The AEAD object may be used by one thread at a time, so a kh_keymat
 * serialises seal and open under its own mutex; HMAC, HKDF and kh_pkey calls keep no state
 * between calls and need no lock. Every buffer that holds a secret or plaintext is secure
 * memory and is wiped on the way out; a failed operation leaves the caller's buffer as it was.
 */
#include "keys/kh_keymat.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_endian.h"
#include "base/kh_int.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

enum {
	SECRET_LEN = KH_AEAD_KEY_LEN, /* symmetric and HMAC secrets (kh_keymat_generate) */
	NONCE_KEY_LEN = 32,           /* HKDF-SHA-256 output for convergent nonces */
	BINDING_LEN = 16,             /* RSA/SM2: first 16 bytes of SHA-256(AD) */
	MAC_LEN = 32,                 /* HMAC-SHA-256 */
	SHA256_LEN = 32,
	FMT_SYMMETRIC = 0x01,
	FMT_PKENC = 0x02,
	FMT_SIGNATURE = 0x01,
	FMT_MAC = 0x01,
	/* format | nonce | tag around the AEAD ciphertext */
	SYM_OVERHEAD = 1 + KH_AEAD_NONCE_LEN + KH_AEAD_TAG_LEN,
	VERSION_DIGITS_MAX = 10, /* "4294967295" */
	DER_SEQUENCE = 0x30,
};

/* The largest blob a text within KH_LIMIT_CIPHERTEXT_BYTES can carry. */
#define BLOB_MAX (KH_LIMIT_CIPHERTEXT_BYTES / 4 * 3)

/* kh_keymat.h: the label that starts the associated data, and the HKDF info of the nonce key. */
static const char AD_LABEL[] = "keyhold/v1/encrypt";
static const char NONCE_INFO[] = "keyhold/v1/convergent-nonce";
static const char TEXT_PREFIX[] = "kh:v";

enum mat_kind {
	KIND_AEAD = 1,
	KIND_MAC,
	KIND_PKEY,
};

struct mat_info {
	enum mat_kind kind;
	enum kh_aead aead;      /* KIND_AEAD */
	enum kh_pkey_type pkey; /* KIND_PKEY */
	bool pkenc;             /* KIND_PKEY: can encrypt (RSA-OAEP, SM2) */
};

static const struct mat_info mat_infos[KH_KEY_TYPE_MAX + 1] = {
    [KH_KEY_AES_256_GCM] = {.kind = KIND_AEAD, .aead = KH_AEAD_AES_256_GCM},
    [KH_KEY_SM4] = {.kind = KIND_AEAD, .aead = KH_AEAD_SM4_CTR_HMAC_SM3},
    [KH_KEY_CHACHA20_POLY1305] = {.kind = KIND_AEAD, .aead = KH_AEAD_CHACHA20_POLY1305},
    [KH_KEY_RSA_2048] = {.kind = KIND_PKEY, .pkey = KH_PKEY_RSA_2048, .pkenc = true},
    [KH_KEY_RSA_3072] = {.kind = KIND_PKEY, .pkey = KH_PKEY_RSA_3072, .pkenc = true},
    [KH_KEY_RSA_4096] = {.kind = KIND_PKEY, .pkey = KH_PKEY_RSA_4096, .pkenc = true},
    [KH_KEY_ECDSA_P256] = {.kind = KIND_PKEY, .pkey = KH_PKEY_EC_P256},
    [KH_KEY_ECDSA_P384] = {.kind = KIND_PKEY, .pkey = KH_PKEY_EC_P384},
    [KH_KEY_ED25519] = {.kind = KIND_PKEY, .pkey = KH_PKEY_ED25519},
    [KH_KEY_SM2] = {.kind = KIND_PKEY, .pkey = KH_PKEY_SM2, .pkenc = true},
    [KH_KEY_HMAC_SHA256] = {.kind = KIND_MAC},
};

struct kh_keymat {
	enum kh_key_type type;
	const struct mat_info *info;
	struct kh_aead_key *aead; /* KIND_AEAD; used only under lock */
	uint8_t *nonce_key;       /* KIND_AEAD: NONCE_KEY_LEN bytes of secure memory */
	uint8_t *mac_key;         /* KIND_MAC: SECRET_LEN bytes of secure memory */
	struct kh_pkey *pkey;     /* KIND_PKEY; thread-safe by itself */
	pthread_mutex_t lock;
	bool lock_ready;
};

static const struct mat_info *info_of(enum kh_key_type type)
{
	if ((int)type <= 0 || (int)type > KH_KEY_TYPE_MAX)
		return NULL;
	return &mat_infos[type];
}

/* ---- Generation and loading ---- */

static kh_rc generate_secret(struct kh_buf *out)
{
	uint8_t *p = NULL;
	kh_rc rc;

	KH_GUARD(kh_buf_extend(out, SECRET_LEN, &p));
	rc = kh_rand_secret(p, SECRET_LEN);
	if (rc != KH_OK) {
		kh_wipe(p, SECRET_LEN);
		return rc;
	}
	kh_buf_commit(out, SECRET_LEN);
	return KH_OK;
}

static kh_rc generate_pkey(enum kh_pkey_type type, struct kh_buf *out_secret,
                           struct kh_buf *out_public)
{
	struct kh_pkey *key = NULL;
	kh_rc rc;

	KH_GUARD(kh_pkey_generate(type, &key));
	KH_GUARD_OUT(kh_pkey_export_private_der(key, out_secret));
	KH_GUARD_OUT(kh_pkey_export_public_der(key, out_public));
out:
	kh_pkey_free(&key);
	return rc;
}

kh_rc kh_keymat_generate(enum kh_key_type type, struct kh_buf *out_secret,
                         struct kh_buf *out_public)
{
	const struct mat_info *info = info_of(type);
	size_t secret_len = out_secret->len;
	size_t public_len = out_public->len;
	kh_rc rc;

	KH_ENSURE(info != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE((out_secret->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL);
	if (info->kind == KIND_PKEY)
		rc = generate_pkey(info->pkey, out_secret, out_public);
	else
		rc = generate_secret(out_secret);
	if (rc != KH_OK) {
		kh_buf_truncate(out_secret, secret_len);
		kh_buf_truncate(out_public, public_len);
	}
	return rc;
}

static kh_rc lock_init(struct kh_keymat *m)
{
	int e = pthread_mutex_init(&m->lock, NULL);

	if (e != 0)
		return e == ENOMEM || e == EAGAIN ? KH_ERR_NOMEM : KH_ERR_INTERNAL;
	m->lock_ready = true;
	return KH_OK;
}

static kh_rc load_aead(struct kh_keymat *m, struct kh_slice secret)
{
	KH_ENSURE(secret.len == SECRET_LEN && secret.ptr != NULL, KH_ERR_BAD_KEY);
	KH_GUARD(lock_init(m));
	KH_GUARD(kh_aead_key_new(m->info->aead, secret, &m->aead));
	m->nonce_key = kh_secure_alloc(NONCE_KEY_LEN);
	KH_ENSURE(m->nonce_key != NULL, KH_ERR_NOMEM);
	/* kh_keymat.h: nonce key = HKDF(secret, "keyhold/v1/convergent-nonce"); RFC 5869 with
	 * SHA-256 and no salt. A separate key, so the nonce PRF never shares a key with the AEAD.
	 */
	return kh_hkdf(KH_HASH_SHA256, secret, KH_SLICE_EMPTY, KH_SLICE_LIT(NONCE_INFO),
	               m->nonce_key, NONCE_KEY_LEN);
}

static kh_rc load_mac(struct kh_keymat *m, struct kh_slice secret)
{
	KH_ENSURE(secret.len == SECRET_LEN && secret.ptr != NULL, KH_ERR_BAD_KEY);
	m->mac_key = kh_secure_alloc(SECRET_LEN);
	KH_ENSURE(m->mac_key != NULL, KH_ERR_NOMEM);
	memcpy(m->mac_key, secret.ptr, SECRET_LEN);
	return KH_OK;
}

/* PKCS#8 DER only, as kh_keymat_generate writes it: the importer would also take PEM, which a
 * stored secret never is, so anything that does not start as a DER SEQUENCE is refused. */
static kh_rc load_pkey(struct kh_keymat *m, struct kh_slice secret)
{
	kh_rc rc;

	KH_ENSURE(secret.len > 0 && secret.ptr != NULL && secret.ptr[0] == DER_SEQUENCE,
	          KH_ERR_BAD_KEY);
	rc = kh_pkey_import_private(secret, &m->pkey);
	KH_ENSURE(rc != KH_ERR_TOO_LARGE, KH_ERR_BAD_KEY);
	KH_GUARD(rc);
	KH_ENSURE(kh_pkey_type_of(m->pkey) == m->info->pkey, KH_ERR_BAD_KEY);
	return KH_OK;
}

typedef kh_rc (*loader_fn)(struct kh_keymat *m, struct kh_slice secret);

static const loader_fn loaders[] = {
    [KIND_AEAD] = load_aead,
    [KIND_MAC] = load_mac,
    [KIND_PKEY] = load_pkey,
};

kh_rc kh_keymat_load(enum kh_key_type type, struct kh_slice secret, struct kh_keymat **out)
{
	const struct mat_info *info = info_of(type);
	struct kh_keymat *m = NULL;
	kh_rc rc;

	KH_ENSURE(info != NULL, KH_ERR_BAD_INPUT);
	m = kh_calloc(1, sizeof(*m));
	KH_ENSURE(m != NULL, KH_ERR_NOMEM);
	m->type = type;
	m->info = info;
	KH_GUARD_OUT(loaders[info->kind](m, secret));
	*out = m;
	m = NULL;
	rc = KH_OK;
out:
	kh_keymat_free(&m);
	return rc;
}

void kh_keymat_free(struct kh_keymat **pm)
{
	struct kh_keymat *m;

	if (pm == NULL || *pm == NULL)
		return;
	m = *pm;
	kh_aead_key_free(&m->aead);
	kh_secure_free(&m->nonce_key);
	kh_secure_free(&m->mac_key);
	kh_pkey_free(&m->pkey);
	if (m->lock_ready)
		(void)pthread_mutex_destroy(&m->lock);
	kh_free(pm);
}

enum kh_key_type kh_keymat_type(const struct kh_keymat *m)
{
	return m->type;
}

const struct kh_pkey *kh_keymat_pkey(const struct kh_keymat *m)
{
	return m->pkey;
}

/* ---- Text form ---- */

/* Appends "kh:v<version>:<base64 blob>" whole or not at all (room is reserved first). */
static kh_rc text_append(uint32_t version, struct kh_slice blob, struct kh_buf *out)
{
	char digits[VERSION_DIGITS_MAX];
	size_t n = 0;
	uint32_t v = version;

	do {
		digits[sizeof(digits) - 1 - n] = (char)('0' + v % 10);
		v /= 10;
		n++;
	} while (v != 0);
	KH_ENSURE(blob.len <= BLOB_MAX, KH_ERR_TOO_LARGE);
	KH_GUARD(
	    kh_buf_reserve(out, sizeof(TEXT_PREFIX) - 1 + n + 1 + kh_base64_encoded_len(blob.len)));
	KH_GUARD(kh_buf_append(out, KH_SLICE_LIT(TEXT_PREFIX)));
	KH_GUARD(kh_buf_append(out, KH_SLICE(digits + sizeof(digits) - n, n)));
	KH_GUARD(kh_buf_append_byte(out, ':'));
	return kh_base64_encode(blob, out);
}

kh_rc kh_keymat_text_parse(struct kh_slice text, uint32_t *out_version, struct kh_buf *out_blob)
{
	const size_t prefix_len = sizeof(TEXT_PREFIX) - 1;
	struct kh_slice b64;
	uint64_t v = 0;
	size_t colon;

	KH_ENSURE(text.len <= KH_LIMIT_CIPHERTEXT_BYTES, KH_ERR_TOO_LARGE);
	KH_ENSURE(text.ptr != NULL && text.len > prefix_len &&
	              memcmp(text.ptr, TEXT_PREFIX, prefix_len) == 0,
	          KH_ERR_BAD_ENCODING);
	for (colon = prefix_len; colon < text.len && text.ptr[colon] != ':'; colon++)
		KH_ENSURE(colon - prefix_len < VERSION_DIGITS_MAX, KH_ERR_BAD_ENCODING);
	KH_ENSURE(colon < text.len, KH_ERR_BAD_ENCODING);
	/* kh_int.h refuses signs, spaces and leading zeros; the range is 1..2^32-1. */
	KH_ENSURE(kh_parse_u64(KH_SLICE(text.ptr + prefix_len, colon - prefix_len), 1, UINT32_MAX,
	                       &v) == KH_OK,
	          KH_ERR_BAD_ENCODING);
	b64 = KH_SLICE(text.ptr + colon + 1, text.len - colon - 1);
	KH_ENSURE(b64.len > 0, KH_ERR_BAD_ENCODING); /* every blob has at least a format byte */
	KH_GUARD(kh_base64_decode(b64, out_blob));
	*out_version = (uint32_t)v;
	return KH_OK;
}

/* ---- Encryption ---- */

static bool can_encrypt(const struct kh_keymat *m)
{
	return m->info->kind == KIND_AEAD || (m->info->kind == KIND_PKEY && m->info->pkenc);
}

/* The tag is framed by 0x00 on both sides, so a tag holding 0x00 would make two different
 * bindings encode alike; tags are printable identifiers, and anything else is refused. */
static kh_rc bind_check(const struct kh_keymat_bind *bind)
{
	KH_ENSURE(bind->version >= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE(bind->key_tag.len > 0 && bind->key_tag.ptr != NULL &&
	              memchr(bind->key_tag.ptr, 0, bind->key_tag.len) == NULL,
	          KH_ERR_BAD_INPUT);
	KH_ENSURE(bind->context.len <= KH_LIMIT_CONTEXT_BYTES, KH_ERR_TOO_LARGE);
	KH_ENSURE(bind->context.len == 0 || bind->context.ptr != NULL, KH_ERR_BAD_INPUT);
	return KH_OK;
}

/* kh_keymat.h: AD = "keyhold/v1/encrypt" 0x00 | tag | 0x00 | BE32(version) |
 * BE32(len(context)) | context. ad must be a fresh buffer. */
static kh_rc ad_build(const struct kh_keymat_bind *bind, struct kh_buf *ad)
{
	uint8_t be[8];

	kh_be32_put(be, bind->version);
	kh_be32_put(be + 4, (uint32_t)bind->context.len);
	KH_GUARD(kh_buf_append(ad, KH_SLICE_LIT(AD_LABEL)));
	KH_GUARD(kh_buf_append_byte(ad, 0x00));
	KH_GUARD(kh_buf_append(ad, bind->key_tag));
	KH_GUARD(kh_buf_append_byte(ad, 0x00));
	KH_GUARD(kh_buf_append(ad, KH_SLICE(be, sizeof(be))));
	return kh_buf_append(ad, bind->context);
}

static size_t ad_len(const struct kh_keymat_bind *bind)
{
	return sizeof(AD_LABEL) - 1 + 1 + bind->key_tag.len + 1 + 8 + bind->context.len;
}

/* kh_keymat.h: the first 12 bytes of HMAC-SHA-256(nonce key, AD || plaintext). */
static kh_rc convergent_nonce(const struct kh_keymat *m, struct kh_slice ad, struct kh_slice pt,
                              uint8_t nonce[KH_AEAD_NONCE_LEN])
{
	const struct kh_slice parts[2] = {ad, pt};
	uint8_t mac[MAC_LEN];
	kh_rc rc;

	rc = kh_hmac_parts(KH_HASH_SHA256, KH_SLICE(m->nonce_key, NONCE_KEY_LEN), parts, 2, mac,
	                   sizeof(mac));
	if (rc == KH_OK)
		memcpy(nonce, mac, KH_AEAD_NONCE_LEN);
	kh_wipe(mac, sizeof(mac));
	return rc;
}

/* 0x01 | nonce | ciphertext | tag, sealed straight into the blob (plaintext never lands in it). */
static kh_rc seal_symmetric(struct kh_keymat *m, bool convergent, struct kh_slice ad,
                            struct kh_slice pt, struct kh_buf *blob)
{
	uint8_t *p = NULL;
	uint8_t *nonce;
	uint8_t *ct;
	kh_rc rc;

	KH_GUARD(kh_buf_extend(blob, SYM_OVERHEAD + pt.len, &p));
	p[0] = FMT_SYMMETRIC;
	nonce = p + 1;
	ct = nonce + KH_AEAD_NONCE_LEN;
	if (convergent)
		KH_GUARD(convergent_nonce(m, ad, pt, nonce));
	else
		KH_GUARD(kh_rand_bytes(nonce, KH_AEAD_NONCE_LEN));
	KH_ENSURE(pthread_mutex_lock(&m->lock) == 0, KH_ERR_INTERNAL);
	rc = kh_aead_seal(m->aead, KH_SLICE(nonce, KH_AEAD_NONCE_LEN), ad, pt, ct, ct + pt.len);
	(void)pthread_mutex_unlock(&m->lock);
	KH_GUARD(rc);
	kh_buf_commit(blob, SYM_OVERHEAD + pt.len);
	return KH_OK;
}

/* kh_keymat.h: 0x02 | public-key ciphertext of (first 16 bytes of SHA-256(AD) | plaintext). */
static kh_rc seal_pkey(struct kh_keymat *m, struct kh_slice ad, struct kh_slice pt,
                       struct kh_buf *blob)
{
	uint8_t digest[SHA256_LEN];
	struct kh_buf msg; /* holds the plaintext */
	kh_rc rc;

	kh_buf_init(&msg, BINDING_LEN + KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_hash(KH_HASH_SHA256, ad, digest, sizeof(digest)));
	KH_GUARD_OUT(kh_buf_append(&msg, KH_SLICE(digest, BINDING_LEN)));
	KH_GUARD_OUT(kh_buf_append(&msg, pt));
	KH_GUARD_OUT(kh_buf_append_byte(blob, FMT_PKENC));
	KH_GUARD_OUT(kh_pkey_encrypt(m->pkey, kh_buf_slice(&msg), blob));
out:
	kh_buf_cleanup(&msg);
	return rc;
}

kh_rc kh_keymat_encrypt(struct kh_keymat *m, bool convergent, const struct kh_keymat_bind *bind,
                        struct kh_slice pt, struct kh_buf *out)
{
	struct kh_buf ad;
	struct kh_buf blob;
	kh_rc rc;

	KH_ENSURE(can_encrypt(m), KH_ERR_WRONG_KEY_TYPE);
	/* API.md: convergent encryption is for symmetric keys only. */
	KH_ENSURE(!convergent || m->info->kind == KIND_AEAD, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(pt.len <= KH_LIMIT_PLAINTEXT_BYTES, KH_ERR_TOO_LARGE);
	KH_ENSURE(pt.len == 0 || pt.ptr != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(bind_check(bind));
	kh_buf_init(&ad, ad_len(bind), KH_BUF_PLAIN);
	kh_buf_init(&blob, BLOB_MAX, KH_BUF_PLAIN);
	KH_GUARD_OUT(ad_build(bind, &ad));
	if (m->info->kind == KIND_AEAD)
		KH_GUARD_OUT(seal_symmetric(m, convergent, kh_buf_slice(&ad), pt, &blob));
	else
		KH_GUARD_OUT(seal_pkey(m, kh_buf_slice(&ad), pt, &blob));
	KH_GUARD_OUT(text_append(bind->version, kh_buf_slice(&blob), out));
out:
	kh_buf_cleanup(&ad);
	kh_buf_cleanup(&blob);
	return rc;
}

/* Opens straight into out; kh_aead_open wipes what it wrote when the tag does not verify. */
static kh_rc open_symmetric(struct kh_keymat *m, struct kh_slice ad, struct kh_slice blob,
                            struct kh_buf *out)
{
	const uint8_t *nonce = blob.ptr + 1;
	const uint8_t *ct = nonce + KH_AEAD_NONCE_LEN;
	size_t ct_len;
	uint8_t *dst = NULL;
	kh_rc rc;

	KH_ENSURE(blob.len >= SYM_OVERHEAD && blob.ptr[0] == FMT_SYMMETRIC, KH_ERR_DECRYPT);
	ct_len = blob.len - SYM_OVERHEAD;
	KH_GUARD(kh_buf_extend(out, ct_len, &dst));
	KH_ENSURE(pthread_mutex_lock(&m->lock) == 0, KH_ERR_INTERNAL);
	rc = kh_aead_open(m->aead, KH_SLICE(nonce, KH_AEAD_NONCE_LEN), ad, KH_SLICE(ct, ct_len),
	                  KH_SLICE(ct + ct_len, KH_AEAD_TAG_LEN), dst);
	(void)pthread_mutex_unlock(&m->lock);
	KH_GUARD(rc);
	kh_buf_commit(out, ct_len);
	return KH_OK;
}

static kh_rc open_pkey(struct kh_keymat *m, struct kh_slice ad, struct kh_slice blob,
                       struct kh_buf *out)
{
	uint8_t digest[SHA256_LEN];
	struct kh_buf msg; /* binding | plaintext, wiped by cleanup on every path */
	kh_rc rc;

	KH_ENSURE(blob.len >= 1 && blob.ptr[0] == FMT_PKENC, KH_ERR_DECRYPT);
	kh_buf_init(&msg, BLOB_MAX, KH_BUF_SECURE);
	KH_GUARD_OUT(kh_hash(KH_HASH_SHA256, ad, digest, sizeof(digest)));
	KH_GUARD_OUT(kh_pkey_decrypt(m->pkey, KH_SLICE(blob.ptr + 1, blob.len - 1), &msg));
	KH_ENSURE_OUT(msg.len >= BINDING_LEN &&
	                  kh_ct_eq(KH_SLICE(msg.ptr, BINDING_LEN), KH_SLICE(digest, BINDING_LEN)),
	              KH_ERR_DECRYPT);
	KH_GUARD_OUT(kh_buf_append(out, KH_SLICE(msg.ptr + BINDING_LEN, msg.len - BINDING_LEN)));
out:
	kh_buf_cleanup(&msg);
	return rc;
}

kh_rc kh_keymat_decrypt(struct kh_keymat *m, const struct kh_keymat_bind *bind,
                        struct kh_slice blob, struct kh_buf *out)
{
	struct kh_buf ad;
	kh_rc rc;

	KH_ENSURE(can_encrypt(m), KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE((out->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL); /* plaintext is secret */
	KH_GUARD(bind_check(bind));
	KH_ENSURE(blob.len <= BLOB_MAX, KH_ERR_TOO_LARGE);
	KH_ENSURE(blob.len > 0 && blob.ptr != NULL, KH_ERR_DECRYPT);
	kh_buf_init(&ad, ad_len(bind), KH_BUF_PLAIN);
	KH_GUARD_OUT(ad_build(bind, &ad));
	if (m->info->kind == KIND_AEAD)
		rc = open_symmetric(m, kh_buf_slice(&ad), blob, out);
	else
		rc = open_pkey(m, kh_buf_slice(&ad), blob, out);
out:
	kh_buf_cleanup(&ad);
	return rc;
}

/* ---- Signatures ---- */

/*
 * kh_keymat.h: 0 is the type's default; RSA also takes PKCS#1 v1.5. A value that is not a
 * kh_sig_alg is KH_ERR_BAD_INPUT, one that does not suit the key KH_ERR_WRONG_KEY_TYPE.
 */
static kh_rc sig_alg(const struct kh_keymat *m, int alg, enum kh_sig_alg *out)
{
	enum kh_sig_alg def;

	KH_ENSURE(m->info->kind == KIND_PKEY, KH_ERR_WRONG_KEY_TYPE);
	def = kh_sig_default(m->info->pkey);
	KH_ENSURE(alg >= 0 && alg <= (int)KH_SIG_SM2_SM3, KH_ERR_BAD_INPUT);
	if (alg == 0 || alg == (int)def) {
		*out = def;
		return KH_OK;
	}
	/* RSA keys are the ones whose default is PSS. */
	KH_ENSURE(alg == (int)KH_SIG_RSA_PKCS1_SHA256 && def == KH_SIG_RSA_PSS_SHA256,
	          KH_ERR_WRONG_KEY_TYPE);
	*out = KH_SIG_RSA_PKCS1_SHA256;
	return KH_OK;
}

kh_rc kh_keymat_sign(struct kh_keymat *m, uint32_t version, int alg, bool is_digest,
                     struct kh_slice msg, struct kh_buf *out)
{
	enum kh_sig_alg sa = KH_SIG_RSA_PSS_SHA256;
	struct kh_buf blob;
	kh_rc rc;

	KH_GUARD(sig_alg(m, alg, &sa));
	KH_ENSURE(version >= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE(msg.len <= KH_LIMIT_SIGN_MESSAGE_BYTES, KH_ERR_TOO_LARGE);
	kh_buf_init(&blob, BLOB_MAX, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_buf_append_byte(&blob, FMT_SIGNATURE));
	/* API.md: SM2 signs with the GM/T default ID (the empty sm2_id). */
	if (is_digest)
		KH_GUARD_OUT(kh_pkey_sign_digest(m->pkey, sa, msg, &blob));
	else
		KH_GUARD_OUT(kh_pkey_sign(m->pkey, sa, msg, KH_SLICE_EMPTY, &blob));
	KH_GUARD_OUT(text_append(version, kh_buf_slice(&blob), out));
out:
	kh_buf_cleanup(&blob);
	return rc;
}

kh_rc kh_keymat_verify(struct kh_keymat *m, int alg, bool is_digest, struct kh_slice msg,
                       struct kh_slice blob, bool *out_valid)
{
	enum kh_sig_alg sa = KH_SIG_RSA_PSS_SHA256;
	bool well_formed = blob.len >= 1 && blob.ptr != NULL && blob.ptr[0] == FMT_SIGNATURE;
	struct kh_slice sig = well_formed ? KH_SLICE(blob.ptr + 1, blob.len - 1) : KH_SLICE_EMPTY;
	kh_rc rc;

	KH_GUARD(sig_alg(m, alg, &sa));
	KH_ENSURE(msg.len <= KH_LIMIT_SIGN_MESSAGE_BYTES, KH_ERR_TOO_LARGE);
	/* A malformed blob still goes through verification (with no signature, which fails), so
	 * that a bad digest length is reported the same way whatever the blob. */
	if (is_digest)
		rc = kh_pkey_verify_digest(m->pkey, sa, msg, sig);
	else
		rc = kh_pkey_verify(m->pkey, sa, msg, KH_SLICE_EMPTY, sig);
	if (rc == KH_ERR_BAD_SIGNATURE) {
		*out_valid = false;
		return KH_OK;
	}
	KH_GUARD(rc);
	*out_valid = well_formed;
	return KH_OK;
}

/* ---- MACs ---- */

kh_rc kh_keymat_mac(struct kh_keymat *m, uint32_t version, struct kh_slice msg, struct kh_buf *out)
{
	uint8_t blob[1 + MAC_LEN];

	KH_ENSURE(m->info->kind == KIND_MAC, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(version >= 1, KH_ERR_BAD_INPUT);
	KH_ENSURE(msg.len <= KH_LIMIT_SIGN_MESSAGE_BYTES, KH_ERR_TOO_LARGE);
	blob[0] = FMT_MAC;
	KH_GUARD(kh_hmac(KH_HASH_SHA256, KH_SLICE(m->mac_key, SECRET_LEN), msg, blob + 1, MAC_LEN));
	return text_append(version, KH_SLICE(blob, sizeof(blob)), out);
}

/* The whole 32-byte tag, compared in constant time (kh_hmac_verify would accept a truncated
 * one, which this format never produces). Length and format byte are public. */
kh_rc kh_keymat_verify_mac(struct kh_keymat *m, struct kh_slice msg, struct kh_slice blob,
                           bool *out_valid)
{
	uint8_t want[MAC_LEN];
	kh_rc rc;

	KH_ENSURE(m->info->kind == KIND_MAC, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(msg.len <= KH_LIMIT_SIGN_MESSAGE_BYTES, KH_ERR_TOO_LARGE);
	KH_GUARD_OUT(
	    kh_hmac(KH_HASH_SHA256, KH_SLICE(m->mac_key, SECRET_LEN), msg, want, sizeof(want)));
	*out_valid = blob.len == 1 + MAC_LEN && blob.ptr != NULL && blob.ptr[0] == FMT_MAC &&
	             kh_ct_eq(KH_SLICE(blob.ptr + 1, MAC_LEN), KH_SLICE(want, MAC_LEN));
out:
	kh_wipe(want, sizeof(want));
	return rc;
}

kh_rc kh_keymat_public_pem(struct kh_keymat *m, struct kh_buf *out)
{
	KH_ENSURE(m->info->kind == KIND_PKEY, KH_ERR_WRONG_KEY_TYPE);
	return kh_pkey_export_public_pem(m->pkey, out);
}

/* ---- Raw AEAD, for formats fixed elsewhere ---- */

kh_rc kh_keymat_aead_seal(struct kh_keymat *m, struct kh_slice nonce, struct kh_slice ad,
                          struct kh_slice pt, uint8_t *ct_out, uint8_t *tag_out)
{
	kh_rc rc;

	KH_ENSURE(m->info->kind == KIND_AEAD, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(pthread_mutex_lock(&m->lock) == 0, KH_ERR_INTERNAL);
	rc = kh_aead_seal(m->aead, nonce, ad, pt, ct_out, tag_out);
	(void)pthread_mutex_unlock(&m->lock);
	return rc;
}

kh_rc kh_keymat_aead_open(struct kh_keymat *m, struct kh_slice nonce, struct kh_slice ad,
                          struct kh_slice ct, struct kh_slice tag, uint8_t *pt_out)
{
	kh_rc rc;

	KH_ENSURE(m->info->kind == KIND_AEAD, KH_ERR_WRONG_KEY_TYPE);
	KH_ENSURE(pthread_mutex_lock(&m->lock) == 0, KH_ERR_INTERNAL);
	rc = kh_aead_open(m->aead, nonce, ad, ct, tag, pt_out);
	(void)pthread_mutex_unlock(&m->lock);
	return rc;
}
