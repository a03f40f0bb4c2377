/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line of keyhold xks: options given several times come back in order, the last
 * one wins where one value is read, --usage takes exactly its four forms, and an external key
 * id goes into a path only when it is 1-128 of A-Z a-z 0-9 . _ - and not "." or "..".
 */
#include <stdio.h>
#include <string.h>

#include "kh_test.h"

#include "cli/kh_cli.h"

static const struct cli_cmd *xks_cmd(const char *name)
{
	for (const struct cli_cmd *c = cli_xks_cmds; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	fail_msg("no command xks %s", name);
	return NULL;
}

static int parse(const char *name, char **argv, int argc, struct cli_args *out)
{
	struct cli c;
	bool done = false;
	memset(&c, 0, sizeof(c));
	return cli_parse(&c, xks_cmd(name), argc, argv, out, &done);
}

static void repeated_options_come_back_in_order(void **state)
{
	char *argv[] = {"7",       "ext-1",   "--admin",       "arn:aws:iam::1:role/a",
	                "--user",  "arn:*",   "--admin=arn:b", "--usage",
	                "encrypt", "--admin", "arn:c"};
	struct cli_args a;
	(void)state;
	assert_int_equal(parse("key attach", argv, 11, &a), KH_EXIT_OK);
	assert_int_equal(a.pos_count, 2);
	assert_string_equal(cli_opt_nth(&a, "admin", 0), "arn:aws:iam::1:role/a");
	assert_string_equal(cli_opt_nth(&a, "admin", 1), "arn:b");
	assert_string_equal(cli_opt_nth(&a, "admin", 2), "arn:c");
	assert_null(cli_opt_nth(&a, "admin", 3));
	assert_string_equal(cli_opt_nth(&a, "user", 0), "arn:*");
	assert_null(cli_opt_nth(&a, "user", 1));
	assert_null(cli_opt_nth(&a, "name", 0));
	assert_null(cli_opt_nth(&a, "no-such-option", 0));
	/* One value read the usual way is the last one given. */
	assert_string_equal(cli_opt(&a, "admin"), "arn:c");
	assert_string_equal(cli_opt(&a, "usage"), "encrypt");
	cli_args_free(&a);
	assert_null(a.occ);
	assert_int_equal(a.occ_count, 0);
}

static void flags_count_as_given(void **state)
{
	char *argv[] = {"3", "--disable", "--quota", "10"};
	struct cli_args a;
	(void)state;
	assert_int_equal(parse("store update", argv, 4, &a), KH_EXIT_OK);
	assert_int_equal(a.occ_count, 2);
	assert_true(cli_flag(&a, "disable"));
	assert_false(cli_flag(&a, "enable"));
	assert_string_equal(cli_opt_nth(&a, "disable", 0), "");
	cli_args_free(&a);
}

static void bad_command_lines_are_usage_errors(void **state)
{
	char *unknown[] = {"7", "ext", "--admins", "x"};
	char *missing[] = {"7", "ext", "--admin"};
	char *too_many[] = {"7", "ext", "extra"};
	char *flag_value[] = {"--secondary-auth=yes"};
	struct cli_args a;
	(void)state;
	assert_int_equal(parse("key attach", unknown, 4, &a), KH_EXIT_USAGE);
	assert_int_equal(parse("key attach", missing, 3, &a), KH_EXIT_USAGE);
	assert_int_equal(parse("key get", too_many, 3, &a), KH_EXIT_USAGE);
	assert_int_equal(parse("store create", flag_value, 1, &a), KH_EXIT_USAGE);
}

static void usage_takes_its_four_forms(void **state)
{
	unsigned bits = 99;
	(void)state;
	assert_true(cli_xks_usage_parse("encrypt,decrypt", &bits));
	assert_int_equal(bits, CLI_XKS_ENCRYPT | CLI_XKS_DECRYPT);
	assert_true(cli_xks_usage_parse("decrypt,encrypt", &bits));
	assert_int_equal(bits, CLI_XKS_ENCRYPT | CLI_XKS_DECRYPT);
	assert_true(cli_xks_usage_parse("encrypt", &bits));
	assert_int_equal(bits, CLI_XKS_ENCRYPT);
	assert_true(cli_xks_usage_parse("decrypt", &bits));
	assert_int_equal(bits, CLI_XKS_DECRYPT);
	assert_true(cli_xks_usage_parse("none", &bits));
	assert_int_equal(bits, 0);
	static const char *const bad[] = {"",        "both",     "encrypt,",        ",decrypt",
	                                  "ENCRYPT", "encrypt ", "encrypt,encrypt", "none,encrypt",
	                                  "sign"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bits = 99;
		assert_false(cli_xks_usage_parse(bad[i], &bits));
		assert_int_equal(bits, 99);
	}
	assert_false(cli_xks_usage_parse(NULL, &bits));
}

static void external_ids_fit_a_path_segment(void **state)
{
	char id[130];
	(void)state;
	assert_true(cli_xks_external_id_ok("a"));
	assert_true(cli_xks_external_id_ok("Key_1.v2-final"));
	assert_true(cli_xks_external_id_ok("..."));
	memset(id, 'k', 128);
	id[128] = '\0';
	assert_true(cli_xks_external_id_ok(id));
	id[128] = 'k';
	id[129] = '\0';
	assert_false(cli_xks_external_id_ok(id));
	static const char *const bad[] = {"", ".", "..", "a/b", "a b", "a%2f", "a?b", "é", "a\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(cli_xks_external_id_ok(bad[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(repeated_options_come_back_in_order),
	    cmocka_unit_test(flags_count_as_given),
	    cmocka_unit_test(bad_command_lines_are_usage_errors),
	    cmocka_unit_test(usage_takes_its_four_forms),
	    cmocka_unit_test(external_ids_fit_a_path_segment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
