/* SPDX-License-Identifier: Apache-2.0 */
/* A real SoftHSM2 token for tests (see kh_test_hsm.h). */
#include "kh_test_hsm.h"

#include "kh_test.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const module_paths[] = {
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
};

static void write_conf(const char *dir)
{
	char tokens[300], conf[300];
	FILE *fp;

	assert_true(snprintf(tokens, sizeof(tokens), "%s/tokens", dir) < (int)sizeof(tokens));
	assert_int_equal(mkdir(tokens, 0700), 0);
	assert_true(snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir) < (int)sizeof(conf));
	fp = fopen(conf, "w");
	assert_non_null(fp);
	fprintf(fp, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	        tokens);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(setenv("SOFTHSM2_CONF", conf, 1), 0);
}

/* softhsm2-util with fixed arguments, its chatter on stdout sent to /dev/null. */
static void init_token(const char *label, const char *so_pin, const char *pin)
{
	/* posix_spawn wants mutable strings. */
	char l[64], s[64], u[64], prog[] = "softhsm2-util", init[] = "--init-token",
	                          free_[] = "--free", lab[] = "--label", sop[] = "--so-pin",
	                          up[] = "--pin";
	assert_true(snprintf(l, sizeof(l), "%s", label) < (int)sizeof(l));
	assert_true(snprintf(s, sizeof(s), "%s", so_pin) < (int)sizeof(s));
	assert_true(snprintf(u, sizeof(u), "%s", pin) < (int)sizeof(u));
	char *argv[] = {prog, init, free_, lab, l, sop, s, up, u, NULL};
	posix_spawn_file_actions_t fa;
	pid_t pid = 0;
	int status = 0;
	int err;

	assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
	assert_int_equal(
	    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0), 0);
	err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err != 0)
		fail_msg("cannot run softhsm2-util (%s); the build installs softhsm2",
		         strerror(err));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("softhsm2-util --init-token failed (wait status %d)", status);
}

const char *kh_test_hsm_module(void)
{
	for (size_t i = 0; i < sizeof(module_paths) / sizeof(module_paths[0]); i++)
		if (access(module_paths[i], R_OK) == 0)
			return module_paths[i];
	fail_msg("libsofthsm2.so not found; the build installs softhsm2");
	return NULL;
}

void kh_test_hsm_token(const char *dir, const char *label, const char *so_pin, const char *pin)
{
	write_conf(dir);
	init_token(label, so_pin, pin);
}
