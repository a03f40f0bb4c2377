/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The system routes through kh_api_handle over a real engine on a store never initialised, with
 * requests made by kh_http_local_init: init with custodian keys hands out shares only those
 * keys open, which unseal the store; init refused for a custodian key that cannot encrypt (or
 * is no key at all) leaves the store uninitialised, to be initialised again; a JSON body is
 * taken under every spelling of its media type and refused under others; rekey names what is
 * wrong with its input.
 */
#include "kh_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kh_api.h"
#include "base/kh_codec.h"
#include "crypto/kh_crypto.h"
#include "http/kh_json.h"

struct env {
	char dir[256];
	char path[300];
	struct kh_clock clock;
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	struct kh_api *api;
	struct kh_pkey *rsa[2];
	struct kh_pkey *ec;
};

/* The layers as keyholdd opens them on a fresh data directory. */
static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	assert_non_null(e);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(e->dir, sizeof(e->dir));
	snprintf(e->path, sizeof(e->path), "%s/keyhold.db", e->dir);
	kh_clock_fake_init(&e->clock, INT64_C(1800000000) * KH_NS_PER_SEC);
	struct kh_store_options so = {.path = e->path};
	assert_int_equal(kh_store_open(&so, &e->store), KH_OK);
	struct kh_barrier_options bo = {.store = e->store, .clock = &e->clock};
	assert_int_equal(kh_barrier_new(&bo, &e->barrier), KH_OK);
	struct kh_audit_options ao = {.store = e->store, .barrier = e->barrier, .clock = &e->clock};
	assert_int_equal(kh_audit_new(&ao, &e->audit), KH_OK);
	struct kh_keys_options ko = {
	    .store = e->store, .barrier = e->barrier, .audit = e->audit, .clock = &e->clock};
	assert_int_equal(kh_keys_new(&ko, &e->keys), KH_OK);
	struct kh_authz_options zo = {e->store, e->barrier, e->audit, e->keys, &e->clock};
	assert_int_equal(kh_authz_new(&zo, &e->authz), KH_OK);
	struct kh_api_options po = {.store = e->store,
	                            .barrier = e->barrier,
	                            .audit = e->audit,
	                            .keys = e->keys,
	                            .authz = e->authz,
	                            .clock = &e->clock};
	assert_int_equal(kh_api_new(&po, &e->api), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_RSA_2048, &e->rsa[0]), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_RSA_2048, &e->rsa[1]), KH_OK);
	assert_int_equal(kh_pkey_generate(KH_PKEY_EC_P256, &e->ec), KH_OK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	kh_api_free(&e->api);
	kh_authz_free(&e->authz);
	kh_keys_free(&e->keys);
	kh_audit_free(&e->audit);
	kh_barrier_free(&e->barrier);
	kh_store_close(&e->store);
	kh_pkey_free(&e->rsa[0]);
	kh_pkey_free(&e->rsa[1]);
	kh_pkey_free(&e->ec);
	kh_test_rmtree(e->dir);
	free(e);
	return 0;
}

/* Sends a request with its body as content_type (and the bearer token, when not NULL) and
 * returns its status; the answer's body is parsed into *out_doc when out_doc is not NULL. */
static unsigned call_as(struct env *e, const char *token, const char *method, const char *target,
                        const char *content_type, const char *body, struct kh_json **out_doc)
{
	char auth[128];
	const struct kh_http_kv headers[] = {{"Content-Type", content_type},
	                                     {"Authorization", auth}};
	struct kh_http_local l;
	struct kh_http_response resp;
	char err[128];
	snprintf(auth, sizeof(auth), "Bearer %s", token != NULL ? token : "");
	memset(&resp, 0, sizeof(resp));
	assert_int_equal(kh_http_local_init(&l, method, kh_slice_from_cstr(target), headers,
	                                    token != NULL ? 2 : 1, kh_slice_from_cstr(body)),
	                 KH_OK);
	kh_buf_init(&resp.body, 1u << 20, KH_BUF_PLAIN);
	kh_api_handle(e->api, &l.req, &resp);
	if (out_doc != NULL)
		assert_int_equal(
		    kh_json_parse_object(kh_buf_slice(&resp.body), out_doc, err, sizeof(err)),
		    KH_OK);
	kh_buf_cleanup(&resp.body);
	kh_http_local_cleanup(&l);
	return resp.status;
}

static unsigned call_typed(struct env *e, const char *method, const char *target,
                           const char *content_type, const char *body, struct kh_json **out_doc)
{
	return call_as(e, NULL, method, target, content_type, body, out_doc);
}

static unsigned call(struct env *e, const char *method, const char *target, const char *body,
                     struct kh_json **out_doc)
{
	return call_typed(e, method, target, "application/json", body, out_doc);
}

/* The error message of an answer. */
static void assert_message(struct kh_json *doc, const char *want)
{
	struct kh_slice got;
	const struct kh_json *err = NULL;
	void *cursor = NULL;
	struct kh_slice name;
	assert_true(kh_json_object_next(doc, &cursor, &name, &err));
	assert_int_equal(kh_json_get_string(err, "message", &got), KH_OK);
	if (!kh_slice_eq(got, kh_slice_from_cstr(want)))
		fail_msg("message \"%.*s\", want \"%s\"", (int)got.len, (const char *)got.ptr,
		         want);
	kh_json_free(&doc);
}

/* A public key as it goes into a JSON string (newlines escaped). */
static void json_pem(const struct kh_pkey *k, char *out, size_t out_len)
{
	struct kh_buf pem;
	size_t n = 0;
	kh_buf_init(&pem, 16 * 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_pkey_export_public_pem(k, &pem), KH_OK);
	for (size_t i = 0; i < pem.len; i++) {
		assert_true(n + 3 < out_len);
		if (pem.ptr[i] == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else {
			out[n++] = (char)pem.ptr[i];
		}
	}
	out[n] = '\0';
	kh_buf_cleanup(&pem);
}

static void assert_not_initialised(struct env *e)
{
	struct kh_json *doc = NULL;
	bool initialized = true;
	assert_int_equal(call(e, "GET", "/v1/sys/health", "", &doc), 501);
	assert_int_equal(kh_json_get_bool(doc, "initialized", &initialized), KH_OK);
	assert_false(initialized);
	kh_json_free(&doc);
}

/* Opens share i of the init answer with the custodian's private key and gives it to unseal;
 * returns whether the store is still sealed. */
static bool unseal_with(struct env *e, const struct kh_json *shares, size_t i,
                        const struct kh_pkey *custodian)
{
	struct kh_slice text;
	struct kh_buf ct, share, b64;
	struct kh_json *doc = NULL;
	char body[512];
	bool sealed = true;
	kh_buf_init(&ct, 4096, KH_BUF_PLAIN);
	kh_buf_init(&share, 512, KH_BUF_SECURE);
	kh_buf_init(&b64, 512, KH_BUF_SECURE);
	assert_int_equal(kh_json_as_string(kh_json_array_at(shares, i), &text), KH_OK);
	assert_int_equal(kh_base64_decode(text, &ct), KH_OK);
	assert_int_equal(kh_pkey_decrypt(custodian, kh_buf_slice(&ct), &share), KH_OK);
	assert_int_equal(kh_base64_encode(kh_buf_slice(&share), &b64), KH_OK);
	snprintf(body, sizeof(body), "{\"share\":\"%.*s\"}", (int)b64.len, (const char *)b64.ptr);
	assert_int_equal(call(e, "POST", "/v1/sys/unseal", body, &doc), 200);
	assert_int_equal(kh_json_get_bool(doc, "sealed", &sealed), KH_OK);
	kh_json_free(&doc);
	kh_buf_cleanup(&ct);
	kh_buf_cleanup(&share);
	kh_buf_cleanup(&b64);
	return sealed;
}

/* Found by fuzz/fuzz_api.c: a custodian key that could not encrypt was found only after the
 * barrier was initialised, so init answered 400, no share was ever handed out, and the store
 * could neither be unsealed nor initialised again. */
static void a_refused_custodian_key_leaves_the_store_to_initialise(void **state)
{
	struct env *e = *state;
	static char rsa0[4096], rsa1[4096], ec[4096], body[16384];
	json_pem(e->rsa[0], rsa0, sizeof(rsa0));
	json_pem(e->rsa[1], rsa1, sizeof(rsa1));
	json_pem(e->ec, ec, sizeof(ec));

	snprintf(body, sizeof(body),
	         "{\"shares\":2,\"threshold\":2,\"custodian_keys\":[\"%s\",\"%s\"]}", rsa0, ec);
	assert_int_equal(call(e, "POST", "/v1/sys/init", body, NULL), 400);
	assert_not_initialised(e);
	snprintf(body, sizeof(body),
	         "{\"shares\":2,\"threshold\":2,\"custodian_keys\":[\"%s\",\"-----BEGIN PUBLIC "
	         "KEY-----\\nAA==\\n-----END PUBLIC KEY-----\\n\"]}",
	         rsa0);
	assert_int_equal(call(e, "POST", "/v1/sys/init", body, NULL), 400);
	assert_not_initialised(e);
	snprintf(body, sizeof(body), "{\"shares\":2,\"threshold\":2,\"custodian_keys\":[\"%s\",7]}",
	         rsa0);
	assert_int_equal(call(e, "POST", "/v1/sys/init", body, NULL), 400);
	assert_not_initialised(e);

	/* Good keys: each share opens with its custodian's key, and they unseal. */
	struct kh_json *doc = NULL;
	const struct kh_json *shares = NULL;
	size_t count = 0;
	snprintf(body, sizeof(body),
	         "{\"shares\":2,\"threshold\":2,\"custodian_keys\":[\"%s\",\"%s\"]}", rsa0, rsa1);
	assert_int_equal(call(e, "POST", "/v1/sys/init", body, &doc), 200);
	assert_int_equal(kh_json_get_array(doc, "shares", &shares, &count), KH_OK);
	assert_int_equal(count, 2);
	assert_true(unseal_with(e, shares, 0, e->rsa[0]));
	assert_false(unseal_with(e, shares, 1, e->rsa[1]));
	kh_json_free(&doc);
	assert_int_equal(call(e, "POST", "/v1/sys/init", body, NULL), 409);
}

/* Found by fuzz/fuzz_api.c: "APPLICATION/JSON" and "application/json ; charset=utf-8" were
 * answered 415, though RFC 9110 8.3.1 makes them the same media type as "application/json". */
static void json_media_types_are_compared_as_rfc_9110_says(void **state)
{
	struct env *e = *state;
	static const char *const json[] = {
	    "application/json",
	    "APPLICATION/JSON",
	    "Application/Json; charset=utf-8",
	    "application/json ; charset=UTF-8",
	    "application/json\t;charset=utf-8",
	    "application/json;",
	};
	static const char *const other[] = {
	    "",
	    "text/plain",
	    "application/jsonx",
	    "application/json-seq",
	    "application/json x",
	    "application/jso",
	    "json",
	};
	for (size_t i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		if (call_typed(e, "POST", "/v1/sys/unseal", json[i], "{\"reset\":true}", NULL) !=
		    200)
			fail_msg("refused: %s", json[i]);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		if (call_typed(e, "POST", "/v1/sys/unseal", other[i], "{\"reset\":true}", NULL) !=
		    415)
			fail_msg("accepted: %s", other[i]);
}

/* Initialises with one share, unseals, and keeps the share and the operator's token. */
static void init_one_share(struct env *e, char *share, size_t share_len, char *token,
                           size_t token_len)
{
	struct kh_json *doc = NULL;
	const struct kh_json *shares = NULL;
	struct kh_slice s, t;
	size_t count = 0;
	char body[256];
	assert_int_equal(call(e, "POST", "/v1/sys/init", "{\"shares\":1,\"threshold\":1}", &doc),
	                 200);
	assert_int_equal(kh_json_get_array(doc, "shares", &shares, &count), KH_OK);
	assert_int_equal(kh_json_as_string(kh_json_array_at(shares, 0), &s), KH_OK);
	assert_int_equal(kh_json_get_string(doc, "operator_token", &t), KH_OK);
	assert_true(s.len < share_len && t.len < token_len);
	snprintf(share, share_len, "%.*s", (int)s.len, (const char *)s.ptr);
	snprintf(token, token_len, "%.*s", (int)t.len, (const char *)t.ptr);
	kh_json_free(&doc);
	snprintf(body, sizeof(body), "{\"share\":\"%s\"}", share);
	assert_int_equal(call(e, "POST", "/v1/sys/unseal", body, NULL), 200);
}

/* Seen in the answers of fuzz/fuzz_api.c: an old share that was not Base64 was reported as one that
 * does not open the keyring, a share that was not a string as "invalid input", and a threshold
 * above the shares only after the old shares had opened the keyring. */
static void rekey_says_what_is_wrong(void **state)
{
	struct env *e = *state;
	struct kh_json *doc = NULL;
	char share[256], token[128], body[512];
	const char *json = "application/json";
	init_one_share(e, share, sizeof(share), token, sizeof(token));
	assert_int_equal(
	    call_as(e, token, "POST", "/v1/sys/rekey", json, "{\"old_shares\":[\"@@\"]}", &doc),
	    400);
	assert_message(doc, "an old share is not Base64");
	assert_int_equal(
	    call_as(e, token, "POST", "/v1/sys/rekey", json, "{\"old_shares\":[1]}", &doc), 400);
	assert_message(doc, "\"old_shares\" must list the shares");
	snprintf(body, sizeof(body), "{\"shares\":1,\"threshold\":2,\"old_shares\":[\"%s\"]}",
	         share);
	assert_int_equal(call_as(e, token, "POST", "/v1/sys/rekey", json, body, &doc), 400);
	assert_message(doc, "threshold must be 2..shares, or 1 with a single share");
	assert_int_equal(call_as(e, token, "POST", "/v1/sys/rekey", json,
	                         "{\"old_shares\":[\"AQIBAAAA\"]}", &doc),
	                 400);
	assert_message(doc, "the old shares do not open the keyring");
	/* The share still works: nothing was changed. */
	snprintf(body, sizeof(body), "{\"shares\":3,\"threshold\":2,\"old_shares\":[\"%s\"]}",
	         share);
	assert_int_equal(call_as(e, token, "POST", "/v1/sys/rekey", json, body, NULL), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(rekey_says_what_is_wrong, setup, teardown),
	    cmocka_unit_test_setup_teardown(json_media_types_are_compared_as_rfc_9110_says, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(a_refused_custodian_key_leaves_the_store_to_initialise,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
