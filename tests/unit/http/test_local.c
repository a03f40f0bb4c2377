/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests made without a server (kh_http_local_init): the request reads as the server's would
 * (method, decoded and raw path, query lookup, headers by case-insensitive name, body, id and
 * address), every head check of the server refuses with its class (400 as bad input; 413, 414
 * and 431 as too large), the unauthenticated body limit applies, a request with no lookup data
 * answers NULL, and allocation failures leak nothing.
 */
#include "kh_test.h"

#include <stdlib.h>
#include <string.h>

#include "base/kh_limits.h"
#include "http/kh_http.h"

static kh_rc make(struct kh_http_local *l, const char *method, const char *target,
                  const struct kh_http_kv *headers, size_t count, struct kh_slice body)
{
	return kh_http_local_init(l, method, kh_slice_from_cstr(target), headers, count, body);
}

static void a_local_request_reads_like_the_servers(void **state)
{
	static const struct kh_http_kv headers[] = {
	    {"Authorization", "Bearer abc"},
	    {"content-type", "application/json"},
	    {"X-Dup", "first"},
	    {"x-dup", "second"},
	};
	static const char body[] = "{\"a\":1}";
	struct kh_http_local l;
	(void)state;
	assert_int_equal(make(&l, "POST", "/v1/keys/a%2Fb/encrypt?x=1+2&flag&x=3&y=%41", headers, 4,
	                      KH_SLICE(body, sizeof(body) - 1)),
	                 KH_OK);
	assert_int_equal(l.req.method, KH_HTTP_POST);
	assert_string_equal(l.req.method_name, "POST");
	assert_string_equal(l.req.path, "/v1/keys/a/b/encrypt");
	assert_string_equal(l.req.raw_path, "/v1/keys/a%2Fb/encrypt");
	assert_string_equal(l.req.query, "x=1+2&flag&x=3&y=%41");
	assert_string_equal(kh_http_request_query(&l.req, "x"), "1 2");
	assert_string_equal(kh_http_request_query(&l.req, "flag"), "");
	assert_string_equal(kh_http_request_query(&l.req, "y"), "A");
	assert_null(kh_http_request_query(&l.req, "z"));
	assert_string_equal(kh_http_request_header(&l.req, "CONTENT-TYPE"), "application/json");
	assert_string_equal(kh_http_request_header(&l.req, "x-dup"), "first");
	assert_null(kh_http_request_header(&l.req, "Accept"));
	assert_int_equal(l.req.body.len, sizeof(body) - 1);
	assert_ptr_equal(l.req.body.ptr, body);
	assert_string_equal(l.req.request_id, "local");
	assert_string_equal(l.req.remote_addr, "127.0.0.1");
	assert_false(l.req.tls);
	kh_http_local_cleanup(&l);
	assert_null(l.parts.ptr);
	kh_http_local_cleanup(&l);
}

static void a_target_without_query_has_an_empty_one(void **state)
{
	struct kh_http_local l;
	(void)state;
	assert_int_equal(make(&l, "BREW", "/", NULL, 0, KH_SLICE_EMPTY), KH_OK);
	assert_int_equal(l.req.method, KH_HTTP_OTHER);
	assert_string_equal(l.req.path, "/");
	assert_string_equal(l.req.query, "");
	assert_null(kh_http_request_query(&l.req, ""));
	assert_int_equal(l.req.body.len, 0);
	kh_http_local_cleanup(&l);
}

static void refused(const char *target, const struct kh_http_kv *headers, size_t count,
                    size_t body_len, kh_rc want)
{
	struct kh_http_local l;
	uint8_t *body = calloc(1, body_len + 1);
	assert_non_null(body);
	kh_rc rc = make(&l, "POST", target, headers, count, KH_SLICE(body, body_len));
	if (rc != want)
		fail_msg("%s: %s, want %s", target, kh_rc_name(rc), kh_rc_name(want));
	assert_null(l.req.path);
	assert_null(kh_http_request_header(&l.req, "Authorization"));
	kh_http_local_cleanup(&l);
	free(body);
}

static void what_the_server_refuses_is_refused(void **state)
{
	static const struct kh_http_kv bad_name[] = {{"X Bad", "v"}};
	static const struct kh_http_kv bad_value[] = {{"X-Bad", "a\rb"}};
	static const struct kh_http_kv framing[] = {{"Content-Length", "0"},
	                                            {"Transfer-Encoding", "chunked"}};
	struct kh_http_kv big[2] = {{"X-Big", NULL}, {"X-Big", NULL}};
	char *filler = malloc(KH_LIMIT_HEADER_BYTES / 2 + 1);
	char *long_target = malloc(KH_LIMIT_URI_BYTES + 2);
	(void)state;
	assert_non_null(filler);
	assert_non_null(long_target);
	memset(filler, 'a', KH_LIMIT_HEADER_BYTES / 2);
	filler[KH_LIMIT_HEADER_BYTES / 2] = '\0';
	big[0].value = filler;
	big[1].value = filler;
	long_target[0] = '/';
	memset(long_target + 1, 'a', KH_LIMIT_URI_BYTES);
	long_target[KH_LIMIT_URI_BYTES + 1] = '\0';

	refused("", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused("v1/keys", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused("/v1/a b", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused("/v1/\xc3\xa9", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused("/v1/%zz", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused("/v1/%00", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused("/v1?x=%0", NULL, 0, 0, KH_ERR_BAD_INPUT);
	refused(long_target, NULL, 0, 0, KH_ERR_TOO_LARGE);
	refused("/", bad_name, 1, 0, KH_ERR_BAD_INPUT);
	refused("/", bad_value, 1, 0, KH_ERR_BAD_INPUT);
	refused("/", framing, 2, 0, KH_ERR_BAD_INPUT);
	refused("/", big, 2, 0, KH_ERR_TOO_LARGE);
	free(filler);
	free(long_target);
}

static void the_body_limit_is_smaller_without_authorization(void **state)
{
	static const struct kh_http_kv auth[] = {{"Authorization", "Bearer x"}};
	struct kh_http_local l;
	uint8_t *body = calloc(1, KH_LIMIT_BODY_BYTES + 1);
	(void)state;
	assert_non_null(body);
	assert_int_equal(make(&l, "POST", "/", NULL, 0, KH_SLICE(body, KH_LIMIT_BODY_UNAUTH_BYTES)),
	                 KH_OK);
	kh_http_local_cleanup(&l);
	refused("/", NULL, 0, KH_LIMIT_BODY_UNAUTH_BYTES + 1, KH_ERR_TOO_LARGE);
	assert_int_equal(make(&l, "POST", "/", auth, 1, KH_SLICE(body, KH_LIMIT_BODY_BYTES)),
	                 KH_OK);
	kh_http_local_cleanup(&l);
	refused("/", auth, 1, KH_LIMIT_BODY_BYTES + 1, KH_ERR_TOO_LARGE);
	free(body);
}

static void a_request_without_lookup_data_finds_nothing(void **state)
{
	struct kh_http_request req;
	(void)state;
	memset(&req, 0, sizeof(req));
	assert_null(kh_http_request_header(&req, "Authorization"));
	assert_null(kh_http_request_query(&req, "limit"));
}

static kh_rc local_alloc(void *arg)
{
	struct kh_http_local l;
	(void)arg;
	KH_GUARD(kh_http_local_init(&l, "GET", KH_SLICE_LIT("/v1/keys?limit=5&next=c1"), NULL, 0,
	                            KH_SLICE_EMPTY));
	kh_rc rc =
	    strcmp(kh_http_request_query(&l.req, "limit"), "5") == 0 ? KH_OK : KH_ERR_INTERNAL;
	kh_http_local_cleanup(&l);
	return rc;
}

static void allocation_failures_leak_nothing(void **state)
{
	(void)state;
	kh_test_alloc_failures(local_alloc, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_local_request_reads_like_the_servers),
	    cmocka_unit_test(a_target_without_query_has_an_empty_one),
	    cmocka_unit_test(what_the_server_refuses_is_refused),
	    cmocka_unit_test(the_body_limit_is_smaller_without_authorization),
	    cmocka_unit_test(a_request_without_lookup_data_finds_nothing),
	    cmocka_unit_test(allocation_failures_leak_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
