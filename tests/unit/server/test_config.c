/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyholdd's configuration: the defaults, the example etc/keyholdd.json (every member) loads,
 * the rate limit and webhook retry members are read within their ranges and refused outside
 * them, unknown members are refused with a message, and the XKS listener's members (the example
 * etc/keyholdd-xks.json) are read and checked.
 */
#include "kh_test.h"

#include <stdio.h>
#include <string.h>

#include "server/kh_server.h"

#define EXAMPLE KH_TEST_DATA "/../../etc/keyholdd.json"
#define EXAMPLE_XKS KH_TEST_DATA "/../../etc/keyholdd-xks.json"

static void write_config(const char *dir, const char *text, char *out_path, size_t out_len)
{
	snprintf(out_path, out_len, "%s/keyholdd.json", dir);
	FILE *f = fopen(out_path, "wb");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void defaults_limit_at_200_per_second_burst_400(void **state)
{
	(void)state;
	struct kh_server_config c;
	kh_server_config_defaults(&c);
	assert_int_equal(c.rate_limit_rps, 200);
	assert_int_equal(c.rate_limit_burst, 400);
	assert_int_equal(c.webhook_retry_seconds, 30);
}

static void the_example_file_loads(void **state)
{
	(void)state;
	struct kh_server_config c;
	char err[160] = "";
	kh_server_config_defaults(&c);
	if (kh_server_config_load(&c, EXAMPLE, err, sizeof(err)) != KH_OK)
		fail_msg("etc/keyholdd.json: %s", err);
	assert_string_equal(c.node_id, "kms-1");
	assert_int_equal(c.rate_limit_rps, 200);
	assert_int_equal(c.rate_limit_burst, 400);
	assert_int_equal(c.webhook_retry_seconds, 30);
}

static void rate_limit_members_are_read_and_bounded(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		kh_rc rc;
	} cases[] = {
	    {"{\"rate_limit_rps\":0,\"rate_limit_burst\":0,\"webhook_retry_seconds\":1}", KH_OK},
	    {"{\"rate_limit_rps\":1000000,\"rate_limit_burst\":1000000}", KH_OK},
	    {"{\"rate_limit_rps\":1000001}", KH_ERR_BAD_INPUT},
	    {"{\"rate_limit_burst\":-1}", KH_ERR_BAD_INPUT},
	    {"{\"rate_limit_rps\":\"10\"}", KH_ERR_BAD_INPUT},
	    {"{\"webhook_retry_seconds\":0}", KH_ERR_BAD_INPUT},
	    {"{\"webhook_retry_seconds\":3601}", KH_ERR_BAD_INPUT},
	    {"{\"rate_limit\":5}", KH_ERR_BAD_INPUT},
	};
	char dir[256], path[300];
	kh_test_tmpdir(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kh_server_config c;
		char err[160] = "";
		kh_server_config_defaults(&c);
		write_config(dir, cases[i].text, path, sizeof(path));
		kh_rc rc = kh_server_config_load(&c, path, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("%s: %s (%s)", cases[i].text, kh_rc_name(rc), err);
		if (rc != KH_OK)
			assert_true(strlen(err) > 0);
	}
	struct kh_server_config c;
	char err[160] = "";
	kh_server_config_defaults(&c);
	write_config(dir,
	             "{\"rate_limit_rps\":10,\"rate_limit_burst\":20,\"webhook_retry_seconds\":2}",
	             path, sizeof(path));
	assert_int_equal(kh_server_config_load(&c, path, err, sizeof(err)), KH_OK);
	assert_int_equal(c.rate_limit_rps, 10);
	assert_int_equal(c.rate_limit_burst, 20);
	assert_int_equal(c.webhook_retry_seconds, 2);
	/* Members not given keep their defaults. */
	assert_string_equal(c.listen, "127.0.0.1:8443");
	kh_test_rmtree(dir);
}

static void xks_listener_members(void **state)
{
	(void)state;
	struct kh_server_config c;
	char err[160] = "";
	kh_server_config_defaults(&c);
	if (kh_server_config_load(&c, EXAMPLE_XKS, err, sizeof(err)) != KH_OK)
		fail_msg("etc/keyholdd-xks.json: %s", err);
	assert_string_equal(c.xks_listen, "0.0.0.0:9443");
	assert_string_equal(c.xks_client_ca, "/etc/keyhold/tls/aws-client-roots.pem");
	assert_int_equal(c.xks_client_name_count, 1);
	assert_string_equal(c.xks_client_names[0], "cks.kms.eu-west-1.amazonaws.com");
	static const struct {
		const char *text;
		kh_rc rc;
	} cases[] = {
	    {"{\"xks_client_ca\":\"/ca.pem\",\"xks_client_names\":[]}", KH_OK},
	    {"{\"xks_client_names\":[\"a\"]}", KH_ERR_BAD_INPUT}, /* names need a CA bundle */
	    {"{\"xks_client_ca\":\"/ca.pem\",\"xks_client_names\":[\"\"]}", KH_ERR_BAD_INPUT},
	    {"{\"xks_client_ca\":\"/ca.pem\",\"xks_client_names\":[1]}", KH_ERR_BAD_INPUT},
	    {"{\"xks_client_ca\":\"/ca.pem\",\"xks_client_names\":\"a\"}", KH_ERR_BAD_INPUT},
	    {"{\"xks_client_ca\":\"/ca.pem\",\"xks_client_names\":"
	     "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}",
	     KH_ERR_BAD_INPUT},
	    {"{\"xks_listen\":7}", KH_ERR_BAD_INPUT},
	};
	char dir[256], path[300];
	kh_test_tmpdir(dir, sizeof(dir));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kh_server_config_defaults(&c);
		err[0] = '\0';
		write_config(dir, cases[i].text, path, sizeof(path));
		kh_rc rc = kh_server_config_load(&c, path, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("%s: %s (%s)", cases[i].text, kh_rc_name(rc), err);
		if (rc != KH_OK)
			assert_true(strlen(err) > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_limit_at_200_per_second_burst_400),
	    cmocka_unit_test(the_example_file_loads),
	    cmocka_unit_test(rate_limit_members_are_read_and_bounded),
	    cmocka_unit_test(xks_listener_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
