// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold version and selftest, which need no server, and keyhold api, the generic call for
 * anything the other commands do not cover (it prints the answer as the server sent it).
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_clock.h"
#include "cli/kh_cli.h"
#include "crypto/kh_crypto.h"
#include "kh_version.h"

static int version(struct cli *c, const struct cli_args *a)
{
	(void)c;
	(void)a;
	printf("keyhold %s\n%s\n", KH_VERSION_STRING, kh_crypto_library_version());
	return KH_EXIT_OK;
}

static int selftest(struct cli *c, const struct cli_args *a)
{
	(void)c;
	(void)a;
	int64_t start = kh_clock_mono_ns();
	kh_rc rc = kh_crypto_selftest();
	int64_t us = (kh_clock_mono_ns() - start) / 1000;
	if (rc != KH_OK)
		return cli_fail("self-test FAILED: %s (%s)", kh_rc_message(rc), kh_rc_name(rc));
	printf("self-test passed: hashes, HMAC, HKDF, AEADs, key wrap, RSA, ECDSA, Ed25519, SM2, "
	       "Shamir (%lld us)\n",
	       (long long)us);
	return KH_EXIT_OK;
}

static int api(struct cli *c, const struct cli_args *a)
{
	struct keyhold_client *client = NULL;
	struct keyhold_buf raw = {0};
	struct kh_buf body;
	long status = 0;
	int ex = cli_client(c, &client);
	if (ex != KH_EXIT_OK)
		return ex;
	kh_buf_init(&body, 1024u * 1024u, KH_BUF_SECURE);
	if (cli_pos(a, 2) != NULL)
		ex = cli_read_input(cli_pos(a, 2), &body, "request body");
	if (ex == KH_EXIT_OK) {
		enum keyhold_err err =
		    keyhold_request(client, cli_pos(a, 0), cli_pos(a, 1),
		                    body.len > 0 ? kh_buf_cstr(&body) : NULL, &status, &raw);
		if (raw.len > 0)
			printf("%.*s\n", (int)raw.len, (const char *)raw.data);
		if (cli_flag(a, "status"))
			fprintf(stderr, "HTTP %ld\n", status);
		ex = err == KEYHOLD_OK ? KH_EXIT_OK : cli_report(c, err);
	}
	keyhold_buf_free(&raw);
	kh_buf_cleanup(&body);
	return ex;
}

static const struct cli_opt api_opts[] = {
    {"status", 0, NULL, "print the HTTP status on standard error"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_local_cmds[] = {
    {NULL, "api", "METHOD PATH [BODY-FILE|-]",
     "any API call (e.g. api GET /v1/keys); prints the JSON answer", api_opts, 2, 3, api, 0},
    {NULL, "version", "", "print the version of keyhold and of its crypto library", NULL, 0, 0,
     version, CLI_LOCAL},
    {NULL, "selftest", "", "run the known-answer self-test of every primitive, locally", NULL, 0, 0,
     selftest, CLI_LOCAL},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
