/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PKCS#11 seal against a real SoftHSM2 token that each test creates in a fresh directory
 * with softhsm2-util: round trips, a key that persists in the token and is really sensitive and
 * not extractable (checked through the module directly), refusal of wrong PINs, unknown tokens,
 * non-PKCS#11 modules, unfit or duplicated keys, tampered, truncated and misbound blobs and
 * oversized inputs, two objects on one module, concurrent callers, and allocation failures.
 * SoftHSM2 is a build dependency: when it is missing the tests fail rather than skip.
 */
#include "kh_test.h"
#include "kh_test_hsm.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barrier/kh_pkcs11.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

/* Last: p11-kit's pkcs11.h leaves macros such as aad_len defined. */
#include <p11-kit-1/p11-kit/pkcs11.h>

#define TOKEN_LABEL "keyhold-test"
#define USER_PIN "12345678"
#define SO_PIN "87654321"
#define KEY_LABEL "keyhold-seal"
#define AAD "keyhold/v1/hsm-unseal-key"
#define BUF_MAX (64u * 1024u)
#define OVERHEAD (12u + 16u) /* nonce + tag */

struct fixture {
	char dir[256];
	uint8_t *pin; /* secure memory, as the daemon would hold it */
	struct kh_pkcs11_config cfg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(f->dir, sizeof(f->dir));
	kh_test_hsm_token(f->dir, TOKEN_LABEL, SO_PIN, USER_PIN);
	f->pin = kh_secure_alloc(sizeof(USER_PIN) - 1);
	assert_non_null(f->pin);
	memcpy(f->pin, USER_PIN, sizeof(USER_PIN) - 1);
	f->cfg = (struct kh_pkcs11_config){
	    .module_path = kh_test_hsm_module(),
	    .token_label = TOKEN_LABEL,
	    .pin = KH_SLICE(f->pin, sizeof(USER_PIN) - 1),
	    .key_label = KEY_LABEL,
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	kh_secure_free(&f->pin);
	kh_test_rmtree(f->dir);
	free(f);
	return 0;
}

/* ---- helpers ---- */

static struct kh_pkcs11 *open_ok(const struct kh_pkcs11_config *cfg)
{
	struct kh_pkcs11 *p = NULL;

	assert_int_equal(kh_pkcs11_open(cfg, &p), KH_OK);
	assert_non_null(p);
	return p;
}

static struct kh_pkcs11 *open_with_key(const struct kh_pkcs11_config *cfg)
{
	struct kh_pkcs11 *p = open_ok(cfg);

	assert_int_equal(kh_pkcs11_key_find(p, true), KH_OK);
	return p;
}

/* Opening must fail with want and leave the out-parameter alone. */
static void open_must_fail(const struct kh_pkcs11_config *cfg, kh_rc want)
{
	static char sentinel;
	struct kh_pkcs11 *p = (struct kh_pkcs11 *)(void *)&sentinel;

	assert_int_equal(kh_pkcs11_open(cfg, &p), want);
	assert_ptr_equal(p, &sentinel);
}

static struct kh_buf seal(struct kh_pkcs11 *p, struct kh_slice pt, struct kh_slice aad)
{
	struct kh_buf blob;

	kh_buf_init(&blob, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkcs11_encrypt(p, pt, aad, &blob), KH_OK);
	assert_int_equal(blob.len, pt.len + OVERHEAD);
	return blob;
}

static void assert_unseals(struct kh_pkcs11 *p, struct kh_slice blob, struct kh_slice aad,
                           struct kh_slice want)
{
	struct kh_buf back;

	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_pkcs11_decrypt(p, blob, aad, &back), KH_OK);
	assert_true(kh_secure_owns(back.ptr));
	assert_int_equal(back.len, want.len);
	assert_memory_equal(back.ptr, want.ptr, want.len);
	kh_buf_cleanup(&back);
}

/* Decrypt must fail with want and leave the output buffer as it was. */
static void assert_refused(struct kh_pkcs11 *p, struct kh_slice blob, struct kh_slice aad,
                           kh_rc want)
{
	struct kh_buf back;

	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&back, KH_SLICE_LIT("keep")), KH_OK);
	assert_int_equal(kh_pkcs11_decrypt(p, blob, aad, &back), want);
	assert_int_equal(back.len, 4);
	assert_memory_equal(back.ptr, "keep", 4);
	kh_buf_cleanup(&back);
}

/* ---- the module behind keyhold's back ---- */

struct raw {
	void *dl;
	CK_FUNCTION_LIST_PTR fn;
	CK_SESSION_HANDLE session;
};

/*
 * A session on the test token straight through the module. Only while a kh_pkcs11 is open: the
 * module is then initialised, and this process is logged in to the token (login state is per
 * application, PKCS#11 v2.40 base 5.6), so the session sees private objects without a PIN.
 */
static void raw_open(struct raw *r, const char *module)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_C_GetFunctionList get;
	CK_SLOT_ID slots[16];
	CK_ULONG n = 16;
	unsigned char want[32];

	memset(want, ' ', sizeof(want));
	memcpy(want, TOKEN_LABEL, sizeof(TOKEN_LABEL) - 1);
	r->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(r->dl);
	get = (CK_C_GetFunctionList)dlsym(r->dl, "C_GetFunctionList");
	assert_non_null(get);
	assert_int_equal(get(&r->fn), CKR_OK);
	assert_int_equal(r->fn->C_Initialize(&args), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	assert_int_equal(r->fn->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;

		assert_int_equal(r->fn->C_GetTokenInfo(slots[i], &info), CKR_OK);
		if (memcmp(info.label, want, sizeof(want)) != 0)
			continue;
		assert_int_equal(r->fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
		                                      NULL, NULL, &r->session),
		                 CKR_OK);
		return;
	}
	fail_msg("test token not found through the module");
}

/* Closes the session only: keyhold's object still owns the module. */
static void raw_close(struct raw *r)
{
	assert_int_equal(r->fn->C_CloseSession(r->session), CKR_OK);
	assert_int_equal(dlclose(r->dl), 0);
}

static CK_OBJECT_HANDLE raw_find_one(struct raw *r, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;

	assert_int_equal(r->fn->C_FindObjectsInit(r->session, tmpl, 2), CKR_OK);
	assert_int_equal(r->fn->C_FindObjects(r->session, found, 2, &n), CKR_OK);
	assert_int_equal(r->fn->C_FindObjectsFinal(r->session), CKR_OK);
	assert_int_equal(n, 1);
	return found[0];
}

/* An AES-256 token key under label whose value was supplied in the clear (so not sensitive
 * and extractable), as an operator importing a key might make one. */
static void raw_import_extractable_key(struct raw *r, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_AES;
	CK_BBOOL yes = CK_TRUE;
	CK_BBOOL no = CK_FALSE;
	uint8_t value[32];
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	    {CKA_VALUE, value, sizeof(value)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &no, sizeof(no)},
	    {CKA_EXTRACTABLE, &yes, sizeof(yes)},
	    {CKA_ENCRYPT, &yes, sizeof(yes)},
	    {CKA_DECRYPT, &yes, sizeof(yes)},
	};
	CK_OBJECT_HANDLE h;

	assert_int_equal(kh_rand_bytes(value, sizeof(value)), KH_OK);
	assert_int_equal(
	    r->fn->C_CreateObject(r->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h), CKR_OK);
}

/* ---- tests ---- */

static void encrypt_then_decrypt_round_trips_a_key_under_a_token_key(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	uint8_t key[32];
	struct kh_buf blob;

	assert_int_equal(kh_rand_bytes(key, sizeof(key)), KH_OK);
	blob = seal(p, KH_SLICE(key, sizeof(key)), KH_SLICE_LIT(AAD));
	assert_unseals(p, kh_buf_slice(&blob), KH_SLICE_LIT(AAD), KH_SLICE(key, sizeof(key)));
	kh_buf_cleanup(&blob);

	/* Empty AAD works too. */
	blob = seal(p, KH_SLICE(key, sizeof(key)), KH_SLICE_EMPTY);
	assert_unseals(p, kh_buf_slice(&blob), KH_SLICE_EMPTY, KH_SLICE(key, sizeof(key)));
	kh_buf_cleanup(&blob);
	kh_pkcs11_close(&p);
	assert_null(p);
}

static void encrypt_and_decrypt_append_after_existing_contents(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	struct kh_buf blob;
	struct kh_buf back;

	kh_buf_init(&blob, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&blob, KH_SLICE_LIT("prefix")), KH_OK);
	assert_int_equal(kh_pkcs11_encrypt(p, KH_SLICE_LIT("secret"), KH_SLICE_LIT(AAD), &blob),
	                 KH_OK);
	assert_int_equal(blob.len, 6 + 6 + OVERHEAD);
	assert_memory_equal(blob.ptr, "prefix", 6);

	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	assert_int_equal(kh_buf_append(&back, KH_SLICE_LIT("ab")), KH_OK);
	assert_int_equal(
	    kh_pkcs11_decrypt(p, KH_SLICE(blob.ptr + 6, blob.len - 6), KH_SLICE_LIT(AAD), &back),
	    KH_OK);
	assert_int_equal(back.len, 2 + 6);
	assert_memory_equal(back.ptr, "absecret", 8);
	kh_buf_cleanup(&blob);
	kh_buf_cleanup(&back);
	kh_pkcs11_close(&p);
}

static void key_find_is_not_found_until_created_and_the_key_persists_in_the_token(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_ok(&f->cfg);
	struct kh_buf blob;

	assert_int_equal(kh_pkcs11_key_find(p, false), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_pkcs11_key_find(p, true), KH_OK);
	assert_int_equal(kh_pkcs11_key_find(p, false), KH_OK);
	assert_int_equal(kh_pkcs11_key_find(p, true), KH_OK); /* finds it, no second key */
	blob = seal(p, KH_SLICE_LIT("unseal key"), KH_SLICE_LIT(AAD));
	kh_pkcs11_close(&p);

	/* The last close finalised the module: this open reads the token from disk. */
	p = open_ok(&f->cfg);
	assert_int_equal(kh_pkcs11_key_find(p, false), KH_OK);
	assert_unseals(p, kh_buf_slice(&blob), KH_SLICE_LIT(AAD), KH_SLICE_LIT("unseal key"));
	kh_pkcs11_close(&p);
	kh_buf_cleanup(&blob);
}

static void closing_the_first_of_two_objects_leaves_the_second_logged_in(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *first = open_with_key(&f->cfg);
	struct kh_pkcs11 *second = open_with_key(&f->cfg);
	struct kh_buf blob = seal(first, KH_SLICE_LIT("unseal key"), KH_SLICE_LIT(AAD));

	/* first initialised the module; closing it must neither log out nor finalise. */
	kh_pkcs11_close(&first);
	assert_unseals(second, kh_buf_slice(&blob), KH_SLICE_LIT(AAD), KH_SLICE_LIT("unseal key"));
	kh_buf_cleanup(&blob);
	blob = seal(second, KH_SLICE_LIT("again"), KH_SLICE_LIT(AAD));
	kh_buf_cleanup(&blob);
	kh_pkcs11_close(&second);
}

static void generated_key_is_sensitive_not_extractable_and_encrypt_only(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	struct raw r;
	CK_OBJECT_HANDLE h;
	uint8_t value[64];
	CK_ATTRIBUTE v = {CKA_VALUE, value, sizeof(value)};
	CK_BBOOL b[12];
	CK_ULONG len = 0;
	CK_ATTRIBUTE attrs[] = {
	    {CKA_TOKEN, &b[0], 1},
	    {CKA_PRIVATE, &b[1], 1},
	    {CKA_SENSITIVE, &b[2], 1},
	    {CKA_ALWAYS_SENSITIVE, &b[3], 1},
	    {CKA_ENCRYPT, &b[4], 1},
	    {CKA_DECRYPT, &b[5], 1},
	    {CKA_EXTRACTABLE, &b[6], 1},
	    {CKA_NEVER_EXTRACTABLE, &b[7], 1},
	    {CKA_WRAP, &b[8], 1},
	    {CKA_UNWRAP, &b[9], 1},
	    {CKA_SIGN, &b[10], 1},
	    {CKA_VERIFY, &b[11], 1},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	};
	static const CK_BBOOL want[12] = {1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0};

	raw_open(&r, f->cfg.module_path);
	h = raw_find_one(&r, KEY_LABEL);
	/* v2.40 base 5.7, C_GetAttributeValue: a sensitive or unextractable value is refused. */
	assert_int_equal(r.fn->C_GetAttributeValue(r.session, h, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
	assert_int_equal(v.ulValueLen, CK_UNAVAILABLE_INFORMATION);
	assert_int_equal(r.fn->C_GetAttributeValue(r.session, h, attrs, 13), CKR_OK);
	assert_memory_equal(b, want, sizeof(want));
	assert_int_equal(len, 32);
	raw_close(&r);
	kh_pkcs11_close(&p);
}

static void key_under_the_label_that_is_extractable_is_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_ok(&f->cfg);
	struct kh_pkcs11_config cfg = f->cfg;
	struct kh_pkcs11 *q;
	struct kh_buf out;
	struct raw r;

	raw_open(&r, f->cfg.module_path);
	raw_import_extractable_key(&r, "imported");
	raw_close(&r);
	cfg.key_label = "imported";
	q = open_ok(&cfg);
	assert_int_equal(kh_pkcs11_key_find(q, false), KH_ERR_BAD_KEY);
	assert_int_equal(kh_pkcs11_key_find(q, true), KH_ERR_BAD_KEY);
	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	/* No key was accepted, so there is nothing to encrypt with. */
	assert_int_equal(kh_pkcs11_encrypt(q, KH_SLICE_LIT("x"), KH_SLICE_EMPTY, &out),
	                 KH_ERR_INTERNAL);
	kh_buf_cleanup(&out);
	kh_pkcs11_close(&q);
	kh_pkcs11_close(&p);
}

/* A second AES key under label, generated straight through the module. */
static void raw_generate_key(struct raw *r, const char *label)
{
	CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
	    {CKA_LABEL, (void *)(uintptr_t)label, strlen(label)},
	    {CKA_VALUE_LEN, &len, sizeof(len)},
	    {CKA_TOKEN, &yes, sizeof(yes)},
	    {CKA_PRIVATE, &yes, sizeof(yes)},
	    {CKA_SENSITIVE, &yes, sizeof(yes)},
	    {CKA_EXTRACTABLE, &no, sizeof(no)},
	};
	CK_OBJECT_HANDLE h;

	assert_int_equal(
	    r->fn->C_GenerateKey(r->session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h),
	    CKR_OK);
}

static void two_keys_under_one_label_are_a_conflict(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	struct kh_pkcs11 *q;
	struct raw r;

	raw_open(&r, f->cfg.module_path);
	raw_generate_key(&r, KEY_LABEL);
	raw_close(&r);
	q = open_ok(&f->cfg);
	assert_int_equal(kh_pkcs11_key_find(q, false), KH_ERR_CONFLICT);
	assert_int_equal(kh_pkcs11_key_find(q, true), KH_ERR_CONFLICT);
	kh_pkcs11_close(&q);
	kh_pkcs11_close(&p);
}

static void wrong_or_empty_pin_is_unauthenticated(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11_config cfg = f->cfg;
	struct kh_pkcs11 *p;

	cfg.pin = KH_SLICE_LIT("00000000");
	open_must_fail(&cfg, KH_ERR_UNAUTHENTICATED);
	cfg.pin = KH_SLICE_LIT("1234567"); /* a prefix of the right PIN */
	open_must_fail(&cfg, KH_ERR_UNAUTHENTICATED);
	cfg.pin = KH_SLICE_EMPTY;
	open_must_fail(&cfg, KH_ERR_UNAUTHENTICATED);
	/* The failed opens left nothing behind: the right PIN still works. */
	p = open_ok(&f->cfg);
	kh_pkcs11_close(&p);
}

static void unknown_token_label_is_not_found_and_impossible_labels_are_bad_input(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11_config cfg = f->cfg;

	cfg.token_label = "no-such-token";
	open_must_fail(&cfg, KH_ERR_NOT_FOUND);
	cfg.token_label = "keyhold-tes"; /* a prefix is not a match */
	open_must_fail(&cfg, KH_ERR_NOT_FOUND);
	cfg.token_label = "123456789012345678901234567890123"; /* 33 bytes: longer than any label */
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
	cfg.token_label = "";
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
	cfg.token_label = TOKEN_LABEL;
	cfg.key_label = "";
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
}

static void missing_relative_or_non_pkcs11_module_is_bad_input(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11_config cfg = f->cfg;
	Dl_info libc;

	cfg.module_path = "/nonexistent/libnothing.so";
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
	cfg.module_path = "libsofthsm2.so"; /* no library search path picks the module */
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
	cfg.module_path = f->dir; /* a directory */
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
	/* A real shared library without C_GetFunctionList: the C library. */
	assert_true(dladdr((void *)(uintptr_t)&getpid, &libc) != 0);
	assert_true(libc.dli_fname != NULL && libc.dli_fname[0] == '/');
	cfg.module_path = libc.dli_fname;
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
	cfg.module_path = NULL;
	open_must_fail(&cfg, KH_ERR_BAD_INPUT);
}

static void every_flipped_bit_of_nonce_ciphertext_or_tag_is_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	uint8_t key[32];
	struct kh_buf blob;
	uint8_t copy[32 + OVERHEAD];

	assert_int_equal(kh_rand_bytes(key, sizeof(key)), KH_OK);
	blob = seal(p, KH_SLICE(key, sizeof(key)), KH_SLICE_LIT(AAD));
	for (size_t i = 0; i < blob.len; i++) {
		memcpy(copy, blob.ptr, blob.len);
		copy[i] ^= (uint8_t)(1u << (i % 8));
		assert_refused(p, KH_SLICE(copy, blob.len), KH_SLICE_LIT(AAD), KH_ERR_DECRYPT);
	}
	/* The failed operations left the session usable. */
	assert_unseals(p, kh_buf_slice(&blob), KH_SLICE_LIT(AAD), KH_SLICE(key, sizeof(key)));
	kh_buf_cleanup(&blob);
	kh_pkcs11_close(&p);
}

static void wrong_aad_truncated_or_extended_blobs_are_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	struct kh_buf blob = seal(p, KH_SLICE_LIT("unseal key"), KH_SLICE_LIT(AAD));
	struct kh_slice s = kh_buf_slice(&blob);
	uint8_t longer[10 + OVERHEAD + 1];

	assert_refused(p, s, KH_SLICE_LIT("keyhold/v1/hsm-unseal-kez"), KH_ERR_DECRYPT);
	assert_refused(p, s, KH_SLICE_EMPTY, KH_ERR_DECRYPT);
	assert_refused(p, KH_SLICE(s.ptr, s.len - 1), KH_SLICE_LIT(AAD), KH_ERR_DECRYPT);
	assert_refused(p, KH_SLICE(s.ptr + 1, s.len - 1), KH_SLICE_LIT(AAD), KH_ERR_DECRYPT);
	memcpy(longer, s.ptr, s.len);
	longer[s.len] = 0;
	assert_refused(p, KH_SLICE(longer, sizeof(longer)), KH_SLICE_LIT(AAD), KH_ERR_DECRYPT);
	/* Too short to hold a nonce, a tag and at least one byte: never a blob. */
	assert_refused(p, KH_SLICE(s.ptr, OVERHEAD), KH_SLICE_LIT(AAD), KH_ERR_BAD_INPUT);
	assert_refused(p, KH_SLICE(s.ptr, 1), KH_SLICE_LIT(AAD), KH_ERR_BAD_INPUT);
	assert_refused(p, KH_SLICE_EMPTY, KH_SLICE_LIT(AAD), KH_ERR_BAD_INPUT);
	assert_unseals(p, s, KH_SLICE_LIT(AAD), KH_SLICE_LIT("unseal key"));
	kh_buf_cleanup(&blob);
	kh_pkcs11_close(&p);
}

static void two_encryptions_of_one_plaintext_differ(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	struct kh_buf a = seal(p, KH_SLICE_LIT("same key"), KH_SLICE_LIT(AAD));
	struct kh_buf b = seal(p, KH_SLICE_LIT("same key"), KH_SLICE_LIT(AAD));

	/* Fresh random nonces, so the nonces and the ciphertexts both differ. */
	assert_memory_not_equal(a.ptr, b.ptr, 12);
	assert_memory_not_equal(a.ptr + 12, b.ptr + 12, a.len - 12);
	assert_unseals(p, kh_buf_slice(&a), KH_SLICE_LIT(AAD), KH_SLICE_LIT("same key"));
	assert_unseals(p, kh_buf_slice(&b), KH_SLICE_LIT(AAD), KH_SLICE_LIT("same key"));
	kh_buf_cleanup(&a);
	kh_buf_cleanup(&b);
	kh_pkcs11_close(&p);
}

static void inputs_are_bounded_by_the_hsm_wrap_limit(void **state)
{
	static uint8_t big[KH_LIMIT_HSM_WRAP_BYTES + OVERHEAD + 1];
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	struct kh_slice at_limit = KH_SLICE(big, KH_LIMIT_HSM_WRAP_BYTES);
	struct kh_slice over = KH_SLICE(big, KH_LIMIT_HSM_WRAP_BYTES + 1);
	struct kh_buf out;

	assert_int_equal(kh_rand_bytes(big, sizeof(big)), KH_OK);
	out = seal(p, at_limit, at_limit);
	assert_unseals(p, kh_buf_slice(&out), at_limit, at_limit);
	kh_buf_cleanup(&out);

	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkcs11_encrypt(p, over, KH_SLICE_EMPTY, &out), KH_ERR_TOO_LARGE);
	assert_int_equal(kh_pkcs11_encrypt(p, KH_SLICE_LIT("k"), over, &out), KH_ERR_TOO_LARGE);
	assert_int_equal(kh_pkcs11_encrypt(p, KH_SLICE_EMPTY, KH_SLICE_EMPTY, &out),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(out.len, 0);
	kh_buf_cleanup(&out);
	assert_refused(p, KH_SLICE(big, KH_LIMIT_HSM_WRAP_BYTES + OVERHEAD + 1), KH_SLICE_EMPTY,
	               KH_ERR_TOO_LARGE);
	assert_refused(p, KH_SLICE(big, 40), over, KH_ERR_TOO_LARGE);
	kh_pkcs11_close(&p);
}

static void calls_before_key_find_or_into_a_plain_buffer_are_internal_errors(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_ok(&f->cfg);
	struct kh_buf out;
	uint8_t blob[40] = {0};

	kh_buf_init(&out, BUF_MAX, KH_BUF_PLAIN);
	assert_int_equal(kh_pkcs11_encrypt(p, KH_SLICE_LIT("k"), KH_SLICE_EMPTY, &out),
	                 KH_ERR_INTERNAL);
	assert_int_equal(out.len, 0);
	assert_refused(p, KH_SLICE(blob, sizeof(blob)), KH_SLICE_EMPTY, KH_ERR_INTERNAL);
	assert_int_equal(kh_pkcs11_key_find(p, true), KH_OK);
	/* Plaintext is secret: a plain output buffer is refused before the token is asked. */
	assert_int_equal(kh_pkcs11_decrypt(p, KH_SLICE(blob, sizeof(blob)), KH_SLICE_EMPTY, &out),
	                 KH_ERR_INTERNAL);
	kh_buf_cleanup(&out);
	kh_pkcs11_close(&p);
}

struct worker {
	struct kh_pkcs11 *p;
	kh_rc rc;
};

/* Round trips on a shared object. Without the object's lock, two threads' init/encrypt pairs
 * interleave on the one session: SoftHSM then fails them or crashes (seen with this load). */
static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 100 && w->rc == KH_OK; i++) {
		uint8_t key[32];
		struct kh_buf blob;
		struct kh_buf back;

		kh_buf_init(&blob, BUF_MAX, KH_BUF_PLAIN);
		kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
		w->rc = kh_rand_bytes(key, sizeof(key));
		if (w->rc == KH_OK)
			w->rc =
			    kh_pkcs11_encrypt(w->p, KH_SLICE(key, 32), KH_SLICE_LIT(AAD), &blob);
		if (w->rc == KH_OK)
			w->rc =
			    kh_pkcs11_decrypt(w->p, kh_buf_slice(&blob), KH_SLICE_LIT(AAD), &back);
		if (w->rc == KH_OK && (back.len != 32 || memcmp(back.ptr, key, 32) != 0))
			w->rc = KH_ERR_INTERNAL;
		kh_buf_cleanup(&blob);
		kh_buf_cleanup(&back);
	}
	return NULL;
}

static void concurrent_callers_on_one_object_are_serialised(void **state)
{
	struct fixture *f = *state;
	struct kh_pkcs11 *p = open_with_key(&f->cfg);
	pthread_t threads[8];
	struct worker workers[8];

	for (int i = 0; i < 8; i++) {
		workers[i] = (struct worker){.p = p, .rc = KH_OK};
		assert_int_equal(pthread_create(&threads[i], NULL, worker_run, &workers[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(workers[i].rc, KH_OK);
	}
	kh_pkcs11_close(&p);
}

static kh_rc open_seal_and_unseal(void *arg)
{
	const struct kh_pkcs11_config *cfg = arg;
	struct kh_pkcs11 *p = NULL;
	struct kh_buf blob;
	struct kh_buf back;
	kh_rc rc;

	kh_buf_init(&blob, BUF_MAX, KH_BUF_PLAIN);
	kh_buf_init(&back, BUF_MAX, KH_BUF_SECURE);
	rc = kh_pkcs11_open(cfg, &p);
	if (rc == KH_OK)
		rc = kh_pkcs11_key_find(p, true);
	if (rc == KH_OK)
		rc = kh_pkcs11_encrypt(p, KH_SLICE_LIT("unseal key"), KH_SLICE_LIT(AAD), &blob);
	if (rc == KH_OK)
		rc = kh_pkcs11_decrypt(p, kh_buf_slice(&blob), KH_SLICE_LIT(AAD), &back);
	if (rc == KH_OK && (back.len != 10 || memcmp(back.ptr, "unseal key", 10) != 0))
		rc = KH_ERR_INTERNAL;
	kh_pkcs11_close(&p);
	kh_buf_cleanup(&blob);
	kh_buf_cleanup(&back);
	return rc;
}

static void allocation_failures_return_nomem_without_leaking(void **state)
{
	struct fixture *f = *state;

	kh_test_alloc_failures(open_seal_and_unseal, &f->cfg);
}

static void close_accepts_null(void **state)
{
	struct kh_pkcs11 *p = NULL;
	(void)state;

	kh_pkcs11_close(&p);
	assert_null(p);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(encrypt_then_decrypt_round_trips_a_key_under_a_token_key),
	    T(encrypt_and_decrypt_append_after_existing_contents),
	    T(key_find_is_not_found_until_created_and_the_key_persists_in_the_token),
	    T(closing_the_first_of_two_objects_leaves_the_second_logged_in),
	    T(generated_key_is_sensitive_not_extractable_and_encrypt_only),
	    T(key_under_the_label_that_is_extractable_is_refused),
	    T(two_keys_under_one_label_are_a_conflict),
	    T(wrong_or_empty_pin_is_unauthenticated),
	    T(unknown_token_label_is_not_found_and_impossible_labels_are_bad_input),
	    T(missing_relative_or_non_pkcs11_module_is_bad_input),
	    T(every_flipped_bit_of_nonce_ciphertext_or_tag_is_refused),
	    T(wrong_aad_truncated_or_extended_blobs_are_refused),
	    T(two_encryptions_of_one_plaintext_differ),
	    T(inputs_are_bounded_by_the_hsm_wrap_limit),
	    T(calls_before_key_find_or_into_a_plain_buffer_are_internal_errors),
	    T(concurrent_callers_on_one_object_are_serialised),
	    T(allocation_failures_return_nomem_without_leaking),
	    cmocka_unit_test(close_accepts_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
