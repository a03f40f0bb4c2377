// SPDX-License-Identifier: Apache-2.0
/* XKS request paths (kh_xks_route.h): what is a route, what is not, and what a listener shared
 * with the native API hands to the proxy. */
#include <stdio.h>
#include <string.h>

#include "kh_test.h"
#include "xks/kh_xks_route.h"

static void the_four_routes_parse(void **state)
{
	(void)state;
	struct kh_xks_route r;
	assert_true(kh_xks_route_parse("/example/prefix/kms/xks/v1/health", &r));
	assert_int_equal(r.op, KH_XKS_OP_HEALTH);
	assert_string_equal(r.prefix, "example/prefix");
	assert_string_equal(r.key_id, "");
	static const struct {
		const char *path;
		enum kh_xks_op op;
	} ops[] = {
	    {"/p/kms/xks/v1/keys/k-1.a_b/metadata", KH_XKS_OP_METADATA},
	    {"/p/kms/xks/v1/keys/k-1.a_b/encrypt", KH_XKS_OP_ENCRYPT},
	    {"/p/kms/xks/v1/keys/k-1.a_b/decrypt", KH_XKS_OP_DECRYPT},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		assert_true(kh_xks_route_parse(ops[i].path, &r));
		assert_int_equal(r.op, ops[i].op);
		assert_string_equal(r.prefix, "p");
		assert_string_equal(r.key_id, "k-1.a_b");
	}
	/* A prefix that itself looks like a route part still splits from the end. */
	assert_true(kh_xks_route_parse("/a/kms/xks/v1/keys/kms/xks/v1/keys/x/encrypt", &r));
	assert_string_equal(r.prefix, "a/kms/xks/v1/keys");
	assert_string_equal(r.key_id, "x");
}

static void everything_else_is_no_route(void **state)
{
	(void)state;
	struct kh_xks_route r;
	static const char *const bad[] = {
	    "",
	    "/",
	    "health",
	    "/kms/xks/v1/health",        /* no prefix */
	    "//kms/xks/v1/health",       /* empty prefix */
	    "/p//q/kms/xks/v1/health",   /* empty segment */
	    "/p//kms/xks/v1/health",     /* trailing slash in the prefix */
	    "/p/kms/xks/v2/health",      /* another version */
	    "/p/kms/xks/v1/health/",     /* trailing slash */
	    "/p/kms/xks/v1/Health",      /* case matters */
	    "/p/kms/xks/v1/keys/k/sign", /* no such operation */
	    "/p/kms/xks/v1/keys//encrypt",
	    "/p/kms/xks/v1/keys/encrypt",
	    "/p/kms/xks/v1/key/k/encrypt",
	    "/p/kms/xks/v1/keys/k%21/encrypt", /* escapes are never in a valid id */
	    "/p/kms/xks/v1/keys/k!/encrypt",
	    "/p/kms/xks/v1/keys/a/b/encrypt", /* a key id has no slash */
	    "/p.q/kms/xks/v1/health",         /* '.' is not a prefix character */
	    "/p q/kms/xks/v1/health",
	    "/p/kms/xks/v1/health?x=1", /* the query is never part of the path given */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kh_xks_route_parse(bad[i], &r))
			fail_msg("%s parsed", bad[i]);
	}
}

static void lengths_are_bounded(void **state)
{
	(void)state;
	struct kh_xks_route r;
	char path[600];
	char prefix[KH_XKS_PREFIX_MAX + 2];
	/* A prefix of 117 characters is one, 118 is not. */
	memset(prefix, 'p', sizeof(prefix));
	prefix[KH_XKS_PREFIX_MAX] = '\0';
	snprintf(path, sizeof(path), "/%s/kms/xks/v1/health", prefix);
	assert_true(kh_xks_route_parse(path, &r));
	assert_int_equal(strlen(r.prefix), KH_XKS_PREFIX_MAX);
	prefix[KH_XKS_PREFIX_MAX] = 'p';
	prefix[KH_XKS_PREFIX_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/%s/kms/xks/v1/health", prefix);
	assert_false(kh_xks_route_parse(path, &r));
	/* A key id of 128 is one, 129 is not. */
	char id[KH_XKS_EXTERNAL_KEY_ID_MAX + 2];
	memset(id, 'k', sizeof(id));
	id[KH_XKS_EXTERNAL_KEY_ID_MAX] = '\0';
	snprintf(path, sizeof(path), "/p/kms/xks/v1/keys/%s/encrypt", id);
	assert_true(kh_xks_route_parse(path, &r));
	assert_int_equal(strlen(r.key_id), KH_XKS_EXTERNAL_KEY_ID_MAX);
	id[KH_XKS_EXTERNAL_KEY_ID_MAX] = 'k';
	id[KH_XKS_EXTERNAL_KEY_ID_MAX + 1] = '\0';
	snprintf(path, sizeof(path), "/p/kms/xks/v1/keys/%s/encrypt", id);
	assert_false(kh_xks_route_parse(path, &r));
	/* The whole path: at most 256 characters. */
	prefix[110] = '\0';
	id[KH_XKS_EXTERNAL_KEY_ID_MAX] = '\0';
	snprintf(path, sizeof(path), "/%s/kms/xks/v1/keys/%s/encrypt", prefix, id);
	assert_true(strlen(path) > KH_XKS_URI_PATH_MAX);
	assert_false(kh_xks_route_parse(path, &r));
}

static void prefix_and_key_id_rules(void **state)
{
	(void)state;
	assert_true(kh_xks_prefix_valid("a/B_c-9"));
	assert_false(kh_xks_prefix_valid("/a"));
	assert_false(kh_xks_prefix_valid("a/"));
	assert_false(kh_xks_prefix_valid("a//b"));
	assert_false(kh_xks_prefix_valid(""));
	assert_false(kh_xks_prefix_valid("a.b"));
	assert_true(kh_xks_external_id_valid("A.z_0-9"));
	assert_false(kh_xks_external_id_valid("a/b"));
	assert_false(kh_xks_external_id_valid(""));
	assert_false(kh_xks_external_id_valid("a b"));
}

static void a_shared_listener_hands_over_xks_paths_only(void **state)
{
	(void)state;
	assert_true(kh_xks_route_mentioned("/p/kms/xks/v1/health"));
	assert_true(kh_xks_route_mentioned("/p/extra/kms/xks/v1/keys/x/encrypt"));
	assert_true(kh_xks_route_mentioned("/kms/xks/v1"));
	assert_false(kh_xks_route_mentioned("/v1/keys"));
	assert_false(kh_xks_route_mentioned("/v1/xks/stores/1/keys"));
	assert_false(kh_xks_route_mentioned("/p/kms/xks/v10/health"));
	assert_false(kh_xks_route_mentioned("/metrics"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(the_four_routes_parse),
	    cmocka_unit_test(everything_else_is_no_route),
	    cmocka_unit_test(lengths_are_bounded),
	    cmocka_unit_test(prefix_and_key_id_rules),
	    cmocka_unit_test(a_shared_listener_hands_over_xks_paths_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
