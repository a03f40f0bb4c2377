/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 seal (kh_pkcs11.h): a vendor module loaded with dlopen, one read-write user
 * session on the token found by label, and an AES-256 key in the token that encrypts with
 * CKM_AES_GCM. PKCS#11 state belongs to the process, not to a session: C_Initialize and
 * C_Finalize act on the whole module, and every session an application has on a token shares
 * one login state (PKCS#11 v2.40 base, 5.4 and 5.6). So this file counts the open objects per
 * module in a small process-wide table: the first open initialises the module, and only the
 * last close logs out and finalises it, so closing one object never ends another's session.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "barrier/kh_pkcs11.h"
#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

/* Last: p11-kit's pkcs11.h leaves macros such as aad_len and iv_len defined, which would rename
 * fields of those names in any header included after it. This file avoids those names. */
#include <p11-kit-1/p11-kit/pkcs11.h>

enum {
	NONCE_LEN = 12,       /* 96-bit GCM IV, the length SP 800-38D 8.2.2 gives random IVs */
	TAG_LEN = 16,         /* 128-bit GCM tag */
	KEY_LEN = 32,         /* AES-256 */
	TOKEN_LABEL_LEN = 32, /* v2.40 base 3.2: CK_TOKEN_INFO.label is 32 bytes, blank padded */
	SLOT_LIST_TRIES = 4,  /* the slot count may grow between the two C_GetSlotList calls */
};

/* One per module this process uses through kh_pkcs11 (see the file comment). */
struct module_use {
	CK_FUNCTION_LIST_PTR fn;
	unsigned long opens;
	bool finalize; /* we ran C_Initialize, so the last close runs C_Finalize */
	struct module_use *next;
};

static pthread_mutex_t modules_mu = PTHREAD_MUTEX_INITIALIZER;
static struct module_use *modules;

struct kh_pkcs11 {
	pthread_mutex_t mu; /* serialises key_find, encrypt and decrypt on the session */
	void *dl;
	CK_FUNCTION_LIST_PTR fn;
	struct module_use *use;
	CK_SESSION_HANDLE session;
	bool session_open;
	bool logged_in;
	bool have_key;
	CK_OBJECT_HANDLE key;
	char *key_label; /* NUL-terminated for the log; CKA_LABEL gets the bytes without it */
	size_t key_label_len;
};

/* PKCS#11 takes input buffers through non-const pointers (pData, pPin, pIv...); the module only
 * reads them. */
static void *unconst(const void *ptr)
{
	return (void *)(uintptr_t)ptr;
}

/* A token error the caller cannot fix: logged for the operator. */
static kh_rc ck_error(const char *call, CK_RV rv)
{
	KH_LOG_WARN("pkcs11 call failed", KH_LF_STR("call", call), KH_LF_UINT("ckr", rv));
	return rv == CKR_HOST_MEMORY ? KH_ERR_NOMEM : KH_ERR_INTERNAL;
}

static bool rv_is_pin_error(CK_RV rv)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_EXPIRED:
	case CKR_PIN_LOCKED:
	case CKR_USER_PIN_NOT_INITIALIZED:
		return true;
	default:
		return false;
	}
}

/*
 * SoftHSM reports a failed tag check as CKR_GENERAL_ERROR, other tokens as
 * CKR_ENCRYPTED_DATA_INVALID or CKR_ENCRYPTED_DATA_LEN_RANGE. So any failure of C_Decrypt on a
 * well-formed blob is KH_ERR_DECRYPT, except those that blame the token or the session rather
 * than the data.
 */
static kh_rc decrypt_error(CK_RV rv)
{
	switch (rv) {
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_OPERATION_NOT_INITIALIZED:
	case CKR_BUFFER_TOO_SMALL:
		return ck_error("C_Decrypt", rv);
	default:
		KH_LOG_DEBUG("pkcs11 decrypt refused", KH_LF_UINT("ckr", rv));
		return KH_ERR_DECRYPT;
	}
}

/* ---- the process-wide module table ---- */

static struct module_use *module_lookup(CK_FUNCTION_LIST_PTR fn)
{
	struct module_use *u = modules;

	while (u != NULL && u->fn != fn)
		u = u->next;
	return u;
}

/* Initialises fn and records it; CKR_CRYPTOKI_ALREADY_INITIALIZED means another part of the
 * process did, and then that part finalises it, not us. Called with modules_mu held. */
static kh_rc module_init(CK_FUNCTION_LIST_PTR fn, struct module_use **out)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	struct module_use *u = kh_calloc(1, sizeof(*u));
	CK_RV rv;

	KH_ENSURE(u != NULL, KH_ERR_NOMEM);
	rv = fn->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		kh_free(&u);
		return ck_error("C_Initialize", rv);
	}
	u->fn = fn;
	u->finalize = rv == CKR_OK;
	u->next = modules;
	modules = u;
	*out = u;
	return KH_OK;
}

static kh_rc module_acquire(struct kh_pkcs11 *p)
{
	struct module_use *u;
	kh_rc rc = KH_OK;

	pthread_mutex_lock(&modules_mu);
	u = module_lookup(p->fn);
	if (u == NULL)
		rc = module_init(p->fn, &u);
	if (rc == KH_OK) {
		u->opens++;
		p->use = u;
	}
	pthread_mutex_unlock(&modules_mu);
	return rc;
}

/* Ends p's session. Logging out while another object uses the module would log that object out
 * too; closing the last session on a token logs out anyway (v2.40 base 5.6, C_CloseSession). */
static void module_release(struct kh_pkcs11 *p)
{
	struct module_use *u = p->use;
	struct module_use **link = &modules;

	pthread_mutex_lock(&modules_mu);
	if (p->logged_in && u->opens == 1)
		(void)p->fn->C_Logout(p->session);
	if (p->session_open)
		(void)p->fn->C_CloseSession(p->session);
	if (--u->opens == 0) {
		if (u->finalize)
			(void)p->fn->C_Finalize(NULL);
		while (*link != u)
			link = &(*link)->next;
		*link = u->next;
		kh_free(&u);
	}
	pthread_mutex_unlock(&modules_mu);
	p->use = NULL;
}

/* ---- open ---- */

static kh_rc config_check(const struct kh_pkcs11_config *cfg)
{
	size_t token_len;
	size_t key_len;

	KH_ENSURE(cfg != NULL, KH_ERR_INTERNAL);
	/* An absolute path: the module sees the PIN and the key, so no library search path may
	 * choose it. */
	KH_ENSURE(cfg->module_path != NULL && cfg->module_path[0] == '/', KH_ERR_BAD_INPUT);
	KH_ENSURE(cfg->token_label != NULL && cfg->key_label != NULL, KH_ERR_BAD_INPUT);
	token_len = strnlen(cfg->token_label, TOKEN_LABEL_LEN + 1);
	KH_ENSURE(token_len >= 1 && token_len <= TOKEN_LABEL_LEN, KH_ERR_BAD_INPUT);
	key_len = strnlen(cfg->key_label, KH_LIMIT_NAME_MAX + 1);
	KH_ENSURE(key_len >= KH_LIMIT_NAME_MIN && key_len <= KH_LIMIT_NAME_MAX, KH_ERR_BAD_INPUT);
	/* Every token with a user PIN needs a non-empty one: an empty PIN is a wrong PIN. */
	KH_ENSURE(cfg->pin.ptr != NULL && cfg->pin.len > 0, KH_ERR_UNAUTHENTICATED);
	return KH_OK;
}

static kh_rc module_load(struct kh_pkcs11 *p, const char *path)
{
	CK_C_GetFunctionList get;
	CK_RV rv;

	p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (p->dl == NULL) {
		const char *why = dlerror();

		KH_LOG_WARN("cannot load pkcs11 module", KH_LF_STR("path", path),
		            KH_LF_STR("reason", why != NULL ? why : ""));
		return KH_ERR_BAD_INPUT;
	}
	get = (CK_C_GetFunctionList)dlsym(p->dl, "C_GetFunctionList");
	rv = get != NULL ? get(&p->fn) : CKR_FUNCTION_NOT_SUPPORTED;
	if (rv != CKR_OK || p->fn == NULL) {
		KH_LOG_WARN("not a pkcs11 module", KH_LF_STR("path", path), KH_LF_UINT("ckr", rv));
		return KH_ERR_BAD_INPUT;
	}
	return module_acquire(p);
}

/* The slots that hold a token; *out is freed by the caller. */
static kh_rc slot_list(struct kh_pkcs11 *p, CK_SLOT_ID **out, CK_ULONG *out_count)
{
	for (int i = 0; i < SLOT_LIST_TRIES; i++) {
		CK_ULONG n = 0;
		CK_SLOT_ID *slots;
		CK_RV rv = p->fn->C_GetSlotList(CK_TRUE, NULL, &n);

		if (rv != CKR_OK)
			return ck_error("C_GetSlotList", rv);
		KH_ENSURE(n > 0, KH_ERR_NOT_FOUND);
		slots = kh_calloc(n, sizeof(*slots));
		KH_ENSURE(slots != NULL, KH_ERR_NOMEM);
		rv = p->fn->C_GetSlotList(CK_TRUE, slots, &n);
		if (rv == CKR_OK) {
			*out = slots;
			*out_count = n;
			return KH_OK;
		}
		kh_free(&slots);
		if (rv != CKR_BUFFER_TOO_SMALL)
			return ck_error("C_GetSlotList", rv);
	}
	return ck_error("C_GetSlotList", CKR_BUFFER_TOO_SMALL); /* the count kept changing */
}

/* The one initialised token whose label is label; two such tokens are KH_ERR_CONFLICT, since
 * picking either could seal with the wrong one. */
static kh_rc token_find(struct kh_pkcs11 *p, const char *label, CK_SLOT_ID *out)
{
	unsigned char want[TOKEN_LABEL_LEN];
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_ULONG matches = 0;
	CK_SLOT_ID slot = 0;

	memset(want, ' ', sizeof(want));
	memcpy(want, label, strlen(label)); /* config_check: at most TOKEN_LABEL_LEN */
	KH_GUARD(slot_list(p, &slots, &n));
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;

		/* A token removed since C_GetSlotList is simply not a match. */
		if (p->fn->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		if ((info.flags & CKF_TOKEN_INITIALIZED) != 0 &&
		    memcmp(info.label, want, sizeof(want)) == 0) {
			matches++;
			slot = slots[i];
		}
	}
	kh_free(&slots);
	KH_ENSURE(matches > 0, KH_ERR_NOT_FOUND);
	KH_ENSURE(matches == 1, KH_ERR_CONFLICT);
	*out = slot;
	return KH_OK;
}

/*
 * The PIN goes from the caller's memory straight to C_Login; nothing here copies it. When this
 * process is already logged in to the token (another kh_pkcs11 on it is open), the token
 * answers CKR_USER_ALREADY_LOGGED_IN without checking the PIN (v2.40 base 5.6).
 */
static kh_rc session_login(struct kh_pkcs11 *p, CK_SLOT_ID slot, struct kh_slice pin)
{
	CK_RV rv = p->fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	                                &p->session);

	if (rv != CKR_OK)
		return ck_error("C_OpenSession", rv);
	p->session_open = true;
	rv = p->fn->C_Login(p->session, CKU_USER, unconst(pin.ptr), pin.len);
	if (rv_is_pin_error(rv)) {
		KH_LOG_WARN("pkcs11 login refused", KH_LF_UINT("ckr", rv));
		return KH_ERR_UNAUTHENTICATED;
	}
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
		return ck_error("C_Login", rv);
	p->logged_in = true;
	return KH_OK;
}

static kh_rc label_copy(struct kh_pkcs11 *p, const char *label)
{
	p->key_label_len = strlen(label); /* config_check: 1 to KH_LIMIT_NAME_MAX bytes */
	p->key_label = kh_alloc(p->key_label_len + 1);
	KH_ENSURE(p->key_label != NULL, KH_ERR_NOMEM);
	memcpy(p->key_label, label, p->key_label_len + 1);
	return KH_OK;
}

kh_rc kh_pkcs11_open(const struct kh_pkcs11_config *cfg, struct kh_pkcs11 **out)
{
	struct kh_pkcs11 *p;
	CK_SLOT_ID slot = 0;
	kh_rc rc;

	KH_ENSURE(out != NULL, KH_ERR_INTERNAL);
	KH_GUARD(config_check(cfg));
	p = kh_calloc(1, sizeof(*p));
	KH_ENSURE(p != NULL, KH_ERR_NOMEM);
	if (pthread_mutex_init(&p->mu, NULL) != 0) {
		kh_free(&p);
		return KH_ERR_INTERNAL;
	}
	KH_GUARD_OUT(label_copy(p, cfg->key_label));
	KH_GUARD_OUT(module_load(p, cfg->module_path));
	KH_GUARD_OUT(token_find(p, cfg->token_label, &slot));
	KH_GUARD_OUT(session_login(p, slot, cfg->pin));
	*out = p;
	p = NULL;
	rc = KH_OK;
out:
	kh_pkcs11_close(&p);
	return rc;
}

void kh_pkcs11_close(struct kh_pkcs11 **pp)
{
	struct kh_pkcs11 *p = *pp;

	if (p == NULL)
		return;
	if (p->use != NULL)
		module_release(p);
	if (p->dl != NULL)
		(void)dlclose(p->dl);
	kh_free(&p->key_label);
	pthread_mutex_destroy(&p->mu);
	kh_free(pp);
}

/* ---- the key ---- */

/* Up to two AES secret keys labelled key_label: two are enough to see a duplicate. */
static kh_rc key_search(struct kh_pkcs11 *p, CK_OBJECT_HANDLE found[2], CK_ULONG *out_count)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_LABEL, p->key_label, p->key_label_len},
	};
	CK_RV rv;
	CK_RV final_rv;

	rv = p->fn->C_FindObjectsInit(p->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]));
	if (rv != CKR_OK)
		return ck_error("C_FindObjectsInit", rv);
	rv = p->fn->C_FindObjects(p->session, found, 2, out_count);
	final_rv = p->fn->C_FindObjectsFinal(p->session);
	if (rv != CKR_OK)
		return ck_error("C_FindObjects", rv);
	if (final_rv != CKR_OK)
		return ck_error("C_FindObjectsFinal", final_rv);
	return KH_OK;
}

/* A key someone else put under the label must be as safe as one we generate: sensitive, not
 * extractable, 256-bit, able to encrypt and decrypt. Otherwise KH_ERR_BAD_KEY. */
static kh_rc key_check(struct kh_pkcs11 *p, CK_OBJECT_HANDLE key)
{
	CK_BBOOL sensitive = CK_FALSE;
	CK_BBOOL extractable = CK_TRUE;
	CK_BBOOL enc = CK_FALSE;
	CK_BBOOL dec = CK_FALSE;
	CK_ULONG len = 0;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_SENSITIVE, &sensitive, sizeof(sensitive)},
	    {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
	    {CKA_ENCRYPT, &enc, sizeof(enc)},
	    {CKA_DECRYPT, &dec, sizeof(dec)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	};
	CK_RV rv =
	    p->fn->C_GetAttributeValue(p->session, key, tmpl, sizeof(tmpl) / sizeof(tmpl[0]));

	if (rv != CKR_OK)
		return ck_error("C_GetAttributeValue", rv);
	if (sensitive != CK_TRUE || extractable != CK_FALSE || enc != CK_TRUE || dec != CK_TRUE ||
	    len != KEY_LEN) {
		KH_LOG_WARN("pkcs11 key under the label is unfit for the seal",
		            KH_LF_UINT("sensitive", sensitive),
		            KH_LF_UINT("extractable", extractable), KH_LF_UINT("value_len", len));
		return KH_ERR_BAD_KEY;
	}
	return KH_OK;
}

static kh_rc key_generate(struct kh_pkcs11 *p, CK_OBJECT_HANDLE *out)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_ULONG len = KEY_LEN;
	CK_BBOOL yes = CK_TRUE;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_LABEL, p->key_label, p->key_label_len},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &yes, sizeof(yes)},
	    {CKA_WRAP, &no, sizeof(no)},
	    {CKA_UNWRAP, &no, sizeof(no)},
	    {CKA_SIGN, &no, sizeof(no)},
	    {CKA_VERIFY, &no, sizeof(no)},
	    {CKA_DERIVE, &no, sizeof(no)},
	};
	CK_RV rv =
	    p->fn->C_GenerateKey(p->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), out);

	if (rv != CKR_OK)
		return ck_error("C_GenerateKey", rv);
	KH_LOG_INFO("pkcs11 seal key generated", KH_LF_STR("label", p->key_label));
	return KH_OK;
}

static kh_rc key_find_locked(struct kh_pkcs11 *p, bool create)
{
	CK_OBJECT_HANDLE found[2] = {0, 0};
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0;

	KH_GUARD(key_search(p, found, &n));
	KH_ENSURE(n <= 1, KH_ERR_CONFLICT);
	if (n == 1) {
		key = found[0];
		KH_GUARD(key_check(p, key));
	} else {
		KH_ENSURE(create, KH_ERR_NOT_FOUND);
		KH_GUARD(key_generate(p, &key));
	}
	p->key = key;
	p->have_key = true;
	return KH_OK;
}

kh_rc kh_pkcs11_key_find(struct kh_pkcs11 *p, bool create)
{
	kh_rc rc;

	KH_ENSURE(p != NULL, KH_ERR_INTERNAL);
	pthread_mutex_lock(&p->mu);
	rc = key_find_locked(p, create);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* ---- AES-GCM in the token ---- */

/* PKCS#11 v2.40 current mechanisms, CKM_AES_GCM: the IV, the AAD and the tag length travel in
 * CK_GCM_PARAMS; C_Encrypt returns ciphertext || tag and C_Decrypt takes the same. */
static void gcm_setup(CK_GCM_PARAMS *gcm, CK_MECHANISM *mech, const uint8_t *nonce,
                      struct kh_slice aad)
{
	static const uint8_t empty;

	gcm->pIv = unconst(nonce);
	gcm->ulIvLen = NONCE_LEN;
	gcm->ulIvBits = NONCE_LEN * 8;
	gcm->pAAD = unconst(aad.len > 0 ? aad.ptr : &empty);
	gcm->ulAADLen = aad.len;
	gcm->ulTagBits = TAG_LEN * 8;
	mech->mechanism = CKM_AES_GCM;
	mech->pParameter = gcm;
	mech->ulParameterLen = sizeof(*gcm);
}

static kh_rc check_aad(struct kh_slice aad)
{
	KH_ENSURE(aad.ptr != NULL || aad.len == 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(aad.len <= KH_LIMIT_HSM_WRAP_BYTES, KH_ERR_TOO_LARGE);
	return KH_OK;
}

/* The output size is known (plaintext + tag), so the buffer is sized exactly and C_Encrypt is
 * called once; a length query first would only cost a round trip to the token. */
static kh_rc encrypt_locked(struct kh_pkcs11 *p, struct kh_slice pt, struct kh_slice aad,
                            struct kh_buf *out)
{
	const size_t total = NONCE_LEN + pt.len + TAG_LEN;
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech;
	CK_ULONG n = pt.len + TAG_LEN;
	uint8_t *dst = NULL;
	CK_RV rv;

	KH_ENSURE(p->have_key, KH_ERR_INTERNAL); /* kh_pkcs11_key_find first */
	KH_GUARD(kh_buf_extend(out, total, &dst));
	/* Random 96-bit nonces: the seal encrypts a handful of times per key, far below the 2^32
	 * invocations SP 800-38D 8.3 allows. */
	KH_GUARD(kh_rand_bytes(dst, NONCE_LEN));
	gcm_setup(&gcm, &mech, dst, aad);
	rv = p->fn->C_EncryptInit(p->session, &mech, p->key);
	if (rv != CKR_OK)
		return ck_error("C_EncryptInit", rv);
	rv = p->fn->C_Encrypt(p->session, unconst(pt.ptr), pt.len, dst + NONCE_LEN, &n);
	if (rv != CKR_OK)
		return ck_error("C_Encrypt", rv);
	KH_ENSURE(n == pt.len + TAG_LEN, KH_ERR_INTERNAL);
	kh_buf_commit(out, total);
	return KH_OK;
}

kh_rc kh_pkcs11_encrypt(struct kh_pkcs11 *p, struct kh_slice plaintext, struct kh_slice aad,
                        struct kh_buf *out)
{
	kh_rc rc;

	KH_ENSURE(p != NULL && out != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(plaintext.ptr != NULL && plaintext.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(plaintext.len <= KH_LIMIT_HSM_WRAP_BYTES, KH_ERR_TOO_LARGE);
	KH_GUARD(check_aad(aad));
	pthread_mutex_lock(&p->mu);
	rc = encrypt_locked(p, plaintext, aad, out);
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/*
 * Decrypts into secure scratch, so out is untouched unless the tag verifies. The scratch holds
 * the whole ciphertext || tag: SoftHSM asks for that much room even though it writes only the
 * plaintext, which v2.40 base 5.2 allows.
 */
static kh_rc decrypt_locked(struct kh_pkcs11 *p, struct kh_slice blob, struct kh_slice aad,
                            struct kh_buf *out)
{
	const size_t sealed_len = blob.len - NONCE_LEN; /* ciphertext || tag */
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech;
	CK_ULONG n = sealed_len;
	uint8_t *scratch = NULL;
	CK_RV rv;
	kh_rc rc;

	KH_ENSURE(p->have_key, KH_ERR_INTERNAL); /* kh_pkcs11_key_find first */
	scratch = kh_secure_alloc(sealed_len);
	KH_ENSURE(scratch != NULL, KH_ERR_NOMEM);
	gcm_setup(&gcm, &mech, blob.ptr, aad);
	rv = p->fn->C_DecryptInit(p->session, &mech, p->key);
	if (rv != CKR_OK) {
		rc = ck_error("C_DecryptInit", rv);
		goto out;
	}
	rv = p->fn->C_Decrypt(p->session, unconst(blob.ptr + NONCE_LEN), sealed_len, scratch, &n);
	if (rv != CKR_OK) {
		rc = decrypt_error(rv);
		goto out;
	}
	KH_ENSURE_OUT(n == sealed_len - TAG_LEN, KH_ERR_INTERNAL);
	KH_GUARD_OUT(kh_buf_append(out, KH_SLICE(scratch, n)));
	rc = KH_OK;
out:
	kh_secure_free(&scratch); /* wipes */
	return rc;
}

kh_rc kh_pkcs11_decrypt(struct kh_pkcs11 *p, struct kh_slice blob, struct kh_slice aad,
                        struct kh_buf *out)
{
	kh_rc rc;

	KH_ENSURE(p != NULL && out != NULL, KH_ERR_INTERNAL);
	KH_ENSURE((out->flags & KH_BUF_SECURE) != 0, KH_ERR_INTERNAL); /* plaintext is secret */
	KH_ENSURE(blob.len <= NONCE_LEN + KH_LIMIT_HSM_WRAP_BYTES + TAG_LEN, KH_ERR_TOO_LARGE);
	/* kh_pkcs11_encrypt never seals an empty plaintext. */
	KH_ENSURE(blob.ptr != NULL && blob.len > NONCE_LEN + TAG_LEN, KH_ERR_BAD_INPUT);
	KH_GUARD(check_aad(aad));
	pthread_mutex_lock(&p->mu);
	rc = decrypt_locked(p, blob, aad, out);
	pthread_mutex_unlock(&p->mu);
	return rc;
}
