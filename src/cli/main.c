/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyhold, the command-line client. For now it offers what works without a server: its
 * version and a local self-test of the crypto layer (the same known-answer checks keyholdd
 * runs before it serves). Server commands arrive with keyholdd.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_clock.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "kh_version.h"

/* Exit codes: distinct per failure kind so scripts can branch. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_GENERIC = 1,
	EXIT_USAGE = 2,
};

static void usage(FILE *f)
{
	fputs("usage: keyhold <command>\n"
	      "\n"
	      "commands:\n"
	      "  version     print the version of keyhold and of its crypto library\n"
	      "  selftest    run the known-answer self-test of every primitive\n"
	      "  help        show this text\n",
	      f);
}

static int cmd_version(void)
{
	printf("keyhold %s\n%s\n", KH_VERSION_STRING, kh_crypto_library_version());
	return EXIT_OK;
}

static int cmd_selftest(void)
{
	int64_t start = kh_clock_mono_ns();
	kh_rc rc = kh_crypto_selftest();
	int64_t us = (kh_clock_mono_ns() - start) / 1000;

	if (rc != KH_OK) {
		fprintf(stderr, "keyhold: self-test FAILED: %s (%s)\n", kh_rc_message(rc),
		        kh_rc_name(rc));
		return EXIT_FAILURE_GENERIC;
	}
	printf("self-test passed: hashes, HMAC, HKDF, AEADs, key wrap, RSA, ECDSA, Ed25519, SM2, "
	       "Shamir (%lld us)\n",
	       (long long)us);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	kh_rc rc;

	if (kh_mem_harden_process() != KH_OK)
		fputs("keyhold: warning: could not disable core dumps\n", stderr);
	if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	rc = kh_crypto_init();
	if (rc != KH_OK) {
		fprintf(stderr, "keyhold: crypto library unavailable: %s\n", kh_rc_message(rc));
		return EXIT_FAILURE_GENERIC;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)
		return cmd_version();
	if (strcmp(argv[1], "selftest") == 0)
		return cmd_selftest();
	fprintf(stderr, "keyhold: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
