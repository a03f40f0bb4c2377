// SPDX-License-Identifier: Apache-2.0
/*
 * The XKS proxy's handler (kh_xks_proxy.h) over a real engine (store, barrier, keys) with
 * requests built as the server builds them (kh_http_local) and signed with our SigV4 signer at
 * the fake clock's time: the order of checks of XKS.md when a request has several faults, the
 * quota, the health cache, sealing, and compact answers.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authz/kh_sigv4.h"
#include "base/kh_codec.h"
#include "http/kh_json.h"
#include "kh_test_keys.h"
#include "keys/kh_keys_xks.h"
#include "xks/kh_xks_proxy.h"

struct fx {
	struct kh_test_keys *t;
	struct kh_clock mono;
	struct kh_xks_proxy *x;
	struct kh_principal mgr;
	int64_t store;
	char ak[KH_XKS_ACCESS_KEY_MAX + 1];
	struct kh_buf secret;
	/* the last answer */
	unsigned status;
	char body[70000];
	char error[64];
};

#define PREFIX "p/x"
#define BASE "/" PREFIX "/kms/xks/v1"
#define HOST "xks.example.com"
#define PRINCIPAL "arn:aws:iam::111122223333:role/app-1"

static void attach(struct fx *f, const char *id, unsigned usages)
{
	struct kh_xks_key_attach a = {.external_key_id = id, .rotation_days = -1, .usages = usages};
	struct kh_xks_key_info info;
	assert_int_equal(kh_keys_xks_key_attach(f->t->keys, &f->mgr, f->store, &a, &info), KH_OK);
}

static int setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	f->t = kh_test_keys_new(0);
	kh_clock_fake_init(&f->mono, 1000 * KH_NS_PER_SEC);
	int64_t ks = kh_test_keys_keystore(f->t, "tenant");
	f->mgr = kh_test_keys_manager(f->t, ks, "mgr");
	struct kh_xks_store_create sc = {.prefix = PREFIX, .region = "us-east-1"};
	struct kh_xks_store_info si;
	assert_int_equal(kh_keys_xks_store_create(f->t->keys, &f->mgr, &sc, &si), KH_OK);
	f->store = si.id;
	struct kh_xks_credential_info ci;
	kh_buf_init(&f->secret, 256, KH_BUF_SECURE);
	assert_int_equal(
	    kh_keys_xks_credential_issue(f->t->keys, &f->mgr, f->store, &ci, &f->secret), KH_OK);
	snprintf(f->ak, sizeof(f->ak), "%s", ci.access_key_id);
	attach(f, "both", KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT);
	attach(f, "enc", KH_XKS_USE_ENCRYPT);
	struct kh_xks_proxy_options o = {.keys = f->t->keys,
	                                 .barrier = f->t->barrier,
	                                 .clock = &f->t->clock,
	                                 .node_id = "node-a",
	                                 .mono_clock = &f->mono};
	assert_int_equal(kh_xks_proxy_new(&o, &f->x), KH_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	kh_xks_proxy_free(&f->x);
	kh_buf_cleanup(&f->secret);
	kh_test_keys_free(&f->t);
	test_free(f);
	return 0;
}

/* Sends method path body, signed with (ak, secret) unless ak is NULL, at now + skew. */
static void send_as(struct fx *f, const char *method, const char *path, const char *body,
                    const char *ak, struct kh_slice secret, const char *region)
{
	char date[KH_SIGV4_AMZ_DATE_LEN + 1];
	time_t secs = (time_t)(kh_clock_now(&f->t->clock) / KH_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	struct kh_buf auth;
	kh_buf_init(&auth, 1024, KH_BUF_PLAIN);
	struct kh_http_kv h[4] = {
	    {"Host", HOST}, {"X-Amz-Date", date}, {"Content-Type", "application/json"}, {0}};
	size_t hn = 3;
	if (ak != NULL) {
		const struct kh_sigv4_header sh[] = {
		    {kh_slice_from_cstr("Host"), kh_slice_from_cstr(HOST)},
		    {kh_slice_from_cstr("X-Amz-Date"), kh_slice_from_cstr(date)},
		    {kh_slice_from_cstr("Content-Type"), kh_slice_from_cstr("application/json")},
		};
		struct kh_sigv4_request sr = {.method = kh_slice_from_cstr(method),
		                              .raw_path = kh_slice_from_cstr(path),
		                              .raw_query = kh_slice_from_cstr(""),
		                              .headers = sh,
		                              .header_count = 3,
		                              .body = kh_slice_from_cstr(body)};
		struct kh_sigv4_credential cred = {.access_key_id = kh_slice_from_cstr(ak),
		                                   .secret = secret,
		                                   .region = region,
		                                   .service = "kms-xks-proxy"};
		assert_int_equal(kh_sigv4_sign(&cred, &sr, &auth), KH_OK);
		assert_int_equal(kh_buf_append_byte(&auth, 0), KH_OK);
		h[hn++] = (struct kh_http_kv){"Authorization", (const char *)auth.ptr};
	}
	struct kh_http_local l;
	assert_int_equal(kh_http_local_init(&l, method, kh_slice_from_cstr(path), h, hn,
	                                    kh_slice_from_cstr(body)),
	                 KH_OK);
	struct kh_http_response resp;
	memset(&resp, 0, sizeof(resp));
	kh_buf_init(&resp.body, 1024 * 1024, KH_BUF_PLAIN);
	kh_xks_proxy_handle(f->x, &l.req, &resp);
	f->status = resp.status;
	assert_true(resp.body.len < sizeof(f->body));
	memcpy(f->body, resp.body.ptr, resp.body.len);
	f->body[resp.body.len] = '\0';
	f->error[0] = '\0';
	struct kh_json *doc = NULL;
	char err[128];
	struct kh_slice name;
	if (resp.body.len > 0 &&
	    kh_json_parse_object(kh_buf_slice(&resp.body), &doc, err, sizeof(err)) == KH_OK &&
	    kh_json_get_string(doc, "errorName", &name) == KH_OK)
		snprintf(f->error, sizeof(f->error), "%.*s", (int)name.len, (const char *)name.ptr);
	kh_json_free(&doc);
	/* Every answer is one compact line. */
	assert_null(strchr(f->body, '\n'));
	assert_null(strstr(f->body, "\": "));
	kh_buf_cleanup(&resp.body);
	kh_http_local_cleanup(&l);
	kh_buf_cleanup(&auth);
}

static void send(struct fx *f, const char *path, const char *body)
{
	send_as(f, "POST", path, body, f->ak, kh_buf_slice(&f->secret), "us-east-1");
}

static void expect(struct fx *f, unsigned status, const char *error)
{
	if (f->status != status || strcmp(f->error, error) != 0)
		fail_msg("got %u %s, want %u %s: %s", f->status, f->error, status, error, f->body);
}

#define MD(op)                                                                                     \
	"{\"kmsRequestId\":\"r-1\",\"kmsOperation\":\"" op "\",\"awsPrincipalArn\":\"" PRINCIPAL   \
	"\",\"kmsKeyArn\":\"arn:aws:kms:us-east-1:111122223333:key/k\"}"
#define HEALTH                                                                                     \
	"{\"requestMetadata\":{\"kmsRequestId\":\"r-h\",\"kmsOperation\":\"KmsHealthCheck\"}}"
#define META "{\"requestMetadata\":" MD("DescribeKey") "}"
#define ENC(pt)                                                                                    \
	"{\"requestMetadata\":" MD("Encrypt") ",\"plaintext\":\"" pt                               \
	                                      "\",\"encryptionAlgorithm\":\"AES_GCM\"}"

/* A decrypt body with these members (Base64 text). */
static void dec_body(char *out, size_t len, const char *ct, const char *iv, const char *tag,
                     const char *md)
{
	snprintf(out, len,
	         "{\"requestMetadata\":" MD("Decrypt") ",\"ciphertext\":\"%s\","
	                                               "\"initializationVector\":\"%s\","
	                                               "\"authenticationTag\":\"%s\","
	                                               "\"ciphertextMetadata\":\"%s\","
	                                               "\"encryptionAlgorithm\":\"AES_GCM\"}",
	         ct, iv, tag, md);
}

/* A plaintext of n bytes as Base64 (caller frees). */
static char *b64_zeros(size_t n)
{
	struct kh_buf raw, enc;
	kh_buf_init(&raw, n + 1, KH_BUF_PLAIN);
	kh_buf_init(&enc, 2 * n + 8, KH_BUF_PLAIN);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kh_buf_append_byte(&raw, 0), KH_OK);
	assert_int_equal(kh_base64_encode(kh_buf_slice(&raw), &enc), KH_OK);
	char *s = test_malloc(enc.len + 1);
	memcpy(s, enc.ptr, enc.len);
	s[enc.len] = '\0';
	kh_buf_cleanup(&raw);
	kh_buf_cleanup(&enc);
	return s;
}

static void routes_come_before_signatures(void **state)
{
	struct fx *f = *state;
	/* Unsigned: bad paths and unknown prefixes are 404, a known route is 401. */
	send_as(f, "POST", "/p/x/extra/kms/xks/v1/health", HEALTH, NULL, (struct kh_slice){0},
	        NULL);
	expect(f, 404, "InvalidUriPathException");
	send_as(f, "POST", "/other/kms/xks/v1/health", HEALTH, NULL, (struct kh_slice){0}, NULL);
	expect(f, 404, "InvalidUriPathException");
	send_as(f, "POST", BASE "/keys/a!b/encrypt", HEALTH, NULL, (struct kh_slice){0}, NULL);
	expect(f, 404, "InvalidUriPathException");
	send_as(f, "POST", BASE "/health", HEALTH, NULL, (struct kh_slice){0}, NULL);
	expect(f, 401, "AuthenticationFailedException");
	/* Other methods: 405, before the signature too. */
	send_as(f, "GET", BASE "/health", "", NULL, (struct kh_slice){0}, NULL);
	assert_int_equal(f->status, 405);
	/* Signed by the right credential in another region, or by a stranger. */
	send_as(f, "POST", BASE "/health", HEALTH, f->ak, kh_buf_slice(&f->secret), "eu-west-1");
	expect(f, 401, "AuthenticationFailedException");
	send_as(f, "POST", BASE "/health", HEALTH, "AAAAAAAAAAAAAAAAAAAA", kh_buf_slice(&f->secret),
	        "us-east-1");
	expect(f, 401, "AuthenticationFailedException");
	send(f, BASE "/health", HEALTH);
	expect(f, 200, "");
	/* A known route, a bad body: 400 after the signature. */
	send(f, BASE "/health", "{}");
	expect(f, 400, "ValidationException");
	send(f, BASE "/health", "not json");
	expect(f, 400, "ValidationException");
}

static void several_faults_answer_in_the_order_of_the_specification(void **state)
{
	struct fx *f = *state;
	char *big = b64_zeros(KH_LIMIT_XKS_PLAINTEXT_BYTES + 1);
	size_t n = strlen(big) + 512;
	char *body = test_malloc(n);
	snprintf(body, n,
	         "{\"requestMetadata\":" MD("Encrypt") ",\"plaintext\":\"%s\","
	                                               "\"encryptionAlgorithm\":\"AES_GCM\"}",
	         big);
	/* Unknown key and too large: the key. */
	send(f, BASE "/keys/nope/encrypt", body);
	expect(f, 404, "KeyNotFoundException");
	/* Known key, too large. */
	send(f, BASE "/keys/both/encrypt", body);
	expect(f, 501, "UnsupportedOperationException");
	/* Too large and a disabled key: the size. */
	struct kh_xks_key_update u = {
	    .usages = -1, .expires_at = -1, .rotation_days = -1, .enabled = 0};
	struct kh_xks_key_info info;
	assert_int_equal(kh_keys_xks_key_update(f->t->keys, &f->mgr, f->store, "enc", &u, &info),
	                 KH_OK);
	send(f, BASE "/keys/enc/encrypt", body);
	expect(f, 501, "UnsupportedOperationException");
	/* Disabled and the wrong usage: the state. */
	char dec[1024];
	dec_body(dec, sizeof(dec), "AAAA", "AAAAAAAAAAAAAAAA",
	         "AAAAAAAAAAAAAAAAAAAAAA==", "AQAAAAE=");
	send(f, BASE "/keys/enc/decrypt", dec);
	expect(f, 400, "InvalidStateException");
	u.enabled = 1;
	assert_int_equal(kh_keys_xks_key_update(f->t->keys, &f->mgr, f->store, "enc", &u, &info),
	                 KH_OK);
	/* Wrong usage and a bad IV length: the usage. */
	dec_body(dec, sizeof(dec), "AAAA", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA==", "AQAAAAE=");
	send(f, BASE "/keys/enc/decrypt", dec);
	expect(f, 400, "InvalidKeyUsageException");
	/* The right usage and a bad IV length: the ciphertext. */
	send(f, BASE "/keys/both/decrypt", dec);
	expect(f, 400, "InvalidCiphertextException");
	/* Secondary authorization comes before the size. */
	struct kh_xks_store_update su = {.secondary_auth = 1, .enabled = -1, .quota_rps = -1};
	struct kh_xks_store_info si;
	assert_int_equal(kh_keys_xks_store_update(f->t->keys, &f->mgr, f->store, &su, &si), KH_OK);
	send(f, BASE "/keys/both/encrypt", body);
	expect(f, 403, "AccessDeniedException");
	send(f, BASE "/keys/nope/encrypt", body);
	expect(f, 404, "KeyNotFoundException");
	test_free(body);
	test_free(big);
}

static void a_round_trip_and_its_answers(void **state)
{
	struct fx *f = *state;
	send(f, BASE "/keys/both/metadata", META);
	expect(f, 200, "");
	assert_string_equal(f->body,
	                    "{\"keySpec\":\"AES_256\",\"keyUsage\":[\"ENCRYPT\",\"DECRYPT\"],"
	                    "\"keyStatus\":\"ENABLED\"}");
	send(f, BASE "/keys/both/encrypt", ENC("SGVsbG8gV29ybGQh"));
	expect(f, 200, "");
	struct kh_json *doc = NULL;
	char err[128];
	struct kh_slice ct, iv, tag, md;
	assert_int_equal(kh_json_parse_object(kh_slice_from_cstr(f->body), &doc, err, sizeof(err)),
	                 KH_OK);
	assert_int_equal(kh_json_get_string(doc, "ciphertext", &ct), KH_OK);
	assert_int_equal(kh_json_get_string(doc, "initializationVector", &iv), KH_OK);
	assert_int_equal(kh_json_get_string(doc, "authenticationTag", &tag), KH_OK);
	assert_int_equal(kh_json_get_string(doc, "ciphertextMetadata", &md), KH_OK);
	assert_int_equal(ct.len, 16); /* 12 bytes */
	char s[4][64];
	snprintf(s[0], sizeof(s[0]), "%.*s", (int)ct.len, (const char *)ct.ptr);
	snprintf(s[1], sizeof(s[1]), "%.*s", (int)iv.len, (const char *)iv.ptr);
	snprintf(s[2], sizeof(s[2]), "%.*s", (int)tag.len, (const char *)tag.ptr);
	snprintf(s[3], sizeof(s[3]), "%.*s", (int)md.len, (const char *)md.ptr);
	kh_json_free(&doc);
	char dec[1024];
	dec_body(dec, sizeof(dec), s[0], s[1], s[2], s[3]);
	send(f, BASE "/keys/both/decrypt", dec);
	expect(f, 200, "");
	assert_string_equal(f->body, "{\"plaintext\":\"SGVsbG8gV29ybGQh\"}");
}

static void the_quota_refills_with_time(void **state)
{
	struct fx *f = *state;
	struct kh_xks_store_update su = {.secondary_auth = -1, .enabled = -1, .quota_rps = 4};
	struct kh_xks_store_info si;
	assert_int_equal(kh_keys_xks_store_update(f->t->keys, &f->mgr, f->store, &su, &si), KH_OK);
	for (int i = 0; i < 4; i++) {
		send(f, BASE "/keys/both/metadata", META);
		expect(f, 200, "");
	}
	send(f, BASE "/keys/both/metadata", META);
	expect(f, 429, "ThrottlingException");
	kh_clock_fake_advance(&f->mono, KH_NS_PER_SEC / 4);
	send(f, BASE "/keys/both/metadata", META);
	expect(f, 200, "");
	send(f, BASE "/keys/both/metadata", META);
	expect(f, 429, "ThrottlingException");
	struct kh_xks_proxy_stats st;
	kh_xks_proxy_stats(f->x, &st);
	assert_int_equal(st.throttled, 2);
}

static void health_is_deep_and_cached(void **state)
{
	struct fx *f = *state;
	struct kh_xks_proxy_stats st;
	assert_int_equal(kh_xks_proxy_beat(f->x), KH_OK);
	for (int i = 0; i < 3; i++) {
		send(f, BASE "/health", HEALTH);
		expect(f, 200, "");
	}
	assert_non_null(strstr(f->body, "\"xksProxyFleetSize\":1,"));
	assert_non_null(strstr(f->body, "\"xksProxyVendor\":\"keyhold\""));
	assert_non_null(strstr(f->body, "{\"id\":\"node-a\""));
	assert_non_null(strstr(f->body, "\"healthStatus\":\"ACTIVE\""));
	kh_xks_proxy_stats(f->x, &st);
	assert_int_equal(st.health_checks, 1);
	/* After the cache time a new check runs. */
	kh_clock_fake_advance(&f->mono, KH_XKS_HEALTH_CACHE_DEFAULT_NS);
	send(f, BASE "/health", HEALTH);
	expect(f, 200, "");
	kh_xks_proxy_stats(f->x, &st);
	assert_int_equal(st.health_checks, 2);
	/* Another live node shows in the fleet; a sealed one as UNAVAILABLE. */
	struct kh_xks_node other = {
	    .id = "node-b", .sealed = true, .healthy = false, .seen_at = kh_test_keys_now(f->t)};
	assert_int_equal(kh_keys_node_beat(f->t->keys, &other), KH_OK);
	send(f, BASE "/health", HEALTH);
	expect(f, 200, "");
	assert_non_null(strstr(f->body, "\"xksProxyFleetSize\":2,"));
	assert_non_null(strstr(f->body, "{\"id\":\"node-b\""));
	assert_non_null(strstr(f->body, "\"healthStatus\":\"UNAVAILABLE\""));
	/* Once it stops beating it leaves the fleet. */
	kh_test_keys_advance(f->t, KH_XKS_NODE_WINDOW_DEFAULT_NS + KH_NS_PER_SEC);
	assert_int_equal(kh_xks_proxy_beat(f->x), KH_OK);
	send(f, BASE "/health", HEALTH);
	expect(f, 200, "");
	assert_non_null(strstr(f->body, "\"xksProxyFleetSize\":1,"));
	assert_null(strstr(f->body, "node-b"));
}

static void sealed_is_503(void **state)
{
	struct fx *f = *state;
	assert_int_equal(kh_barrier_seal(f->t->barrier), KH_OK);
	send(f, BASE "/health", HEALTH);
	expect(f, 503, "DependencyTimeoutException");
	send(f, BASE "/keys/both/encrypt", ENC("AAAA"));
	expect(f, 503, "DependencyTimeoutException");
	/* A bad route is still a bad route. */
	send(f, "/nope/kms/xks/v1/health", HEALTH);
	expect(f, 404, "InvalidUriPathException");
	kh_test_keys_unseal(f->t);
	send(f, BASE "/health", HEALTH);
	expect(f, 200, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(routes_come_before_signatures, setup, teardown),
	    cmocka_unit_test_setup_teardown(several_faults_answer_in_the_order_of_the_specification,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(a_round_trip_and_its_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(the_quota_refills_with_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(health_is_deep_and_cached, setup, teardown),
	    cmocka_unit_test_setup_teardown(sealed_is_503, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
