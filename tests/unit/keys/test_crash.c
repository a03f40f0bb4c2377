/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash safety: a child process creates, rotates and uses keys as fast as it can and reports
 * each operation to the parent through a pipe only after the call returned success. The parent
 * kills it with SIGKILL at a random moment, many times. After every kill the store must open,
 * the audit chain must verify, and every operation the child had been told was done must be
 * there: acknowledged means durable.
 */
#include "kh_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/kh_crypto.h"
#include "keys/kh_keys.h"

#define ROUNDS 40
#define REPORT_MAX (1u << 20)

struct world {
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
};

static char dir[256], path[300];
static uint8_t share[128];
static size_t share_len;
static int64_t keystore_id, account_id;

static void world_open(struct world *w)
{
	struct kh_store_options so = {.path = path};
	struct kh_barrier_progress p;
	assert_int_equal(kh_store_open(&so, &w->store), KH_OK);
	struct kh_barrier_options bo = {.store = w->store, .clock = kh_clock_real()};
	assert_int_equal(kh_barrier_new(&bo, &w->barrier), KH_OK);
	if (share_len > 0)
		assert_int_equal(kh_barrier_unseal(w->barrier, KH_SLICE(share, share_len), &p),
		                 KH_OK);
	struct kh_audit_options ao = {w->store, w->barrier, kh_clock_real()};
	assert_int_equal(kh_audit_new(&ao, &w->audit), KH_OK);
	struct kh_keys_options ko = {w->store, w->barrier, w->audit, kh_clock_real(), 0};
	assert_int_equal(kh_keys_new(&ko, &w->keys), KH_OK);
}

static void world_close(struct world *w)
{
	kh_keys_free(&w->keys);
	kh_audit_free(&w->audit);
	kh_barrier_free(&w->barrier);
	kh_store_close(&w->store);
}

static struct kh_principal manager(void)
{
	return (struct kh_principal){.kind = KH_PRINCIPAL_ACCOUNT,
	                             .account_id = account_id,
	                             .keystore_id = keystore_id,
	                             .policies = KH_POLICY_KMS_MANAGER,
	                             .request_id = "crash",
	                             .source = "test"};
}

static void setup_store(void)
{
	struct world w = {0};
	struct kh_barrier_shares *shares = NULL;
	struct kh_barrier_progress p;
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/keyhold.db", dir);
	world_open(&w);
	assert_int_equal(kh_barrier_init(w.barrier, 1, 1, &shares), KH_OK);
	share_len = shares->share[0].len;
	assert_true(share_len <= sizeof(share));
	memcpy(share, shares->share[0].ptr, share_len);
	assert_int_equal(kh_barrier_unseal(w.barrier, KH_SLICE(share, share_len), &p), KH_OK);
	kh_barrier_shares_free(&shares);
	struct kh_principal op = {
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "setup", .source = "test"};
	assert_int_equal(kh_keys_keystore_create(w.keys, &op, "crash", &keystore_id), KH_OK);
	assert_int_equal(kh_keys_account_create(w.keys, &op, keystore_id, "admin",
	                                        KH_POLICY_KMS_MANAGER, &account_id),
	                 KH_OK);
	world_close(&w);
}

/* Writes the whole line or dies: the parent must see complete reports only. */
static void report(int fd, const char *line)
{
	size_t len = strlen(line), off = 0;
	while (off < len) {
		ssize_t n = write(fd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(3);
		off += (size_t)n;
	}
}

/* The child: create a key, rotate it, use it; report each success. Never returns. */
static void child(int round, int fd)
{
	struct world w = {0};
	struct kh_principal p = manager();
	world_open(&w);
	for (int i = 0;; i++) {
		char name[64], line[128];
		struct kh_key_info key;
		struct kh_key_create req = {.name = name, .rotation_period_days = -1};
		snprintf(name, sizeof(name), "r%d-k%d", round, i);
		if (kh_keys_create(w.keys, &p, &req, &key) != KH_OK)
			_exit(4);
		snprintf(line, sizeof(line), "C %s %s\n", key.tag, name);
		report(fd, line);
		if (kh_keys_rotate(w.keys, &p, key.tag, &key) != KH_OK)
			_exit(5);
		snprintf(line, sizeof(line), "R %s %u\n", key.tag, key.current_version);
		report(fd, line);
		struct kh_buf ct;
		kh_buf_init(&ct, 4096, KH_BUF_PLAIN);
		if (kh_keys_encrypt(w.keys, &p, key.tag, KH_SLICE_LIT("data"), KH_SLICE_EMPTY,
		                    &ct) != KH_OK)
			_exit(6);
		kh_buf_cleanup(&ct);
		snprintf(line, sizeof(line), "U %s\n", key.tag);
		report(fd, line);
	}
}

static size_t read_all(int fd, char *buf, size_t max)
{
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, max - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < max - 1);
	}
	buf[len] = '\0';
	return len;
}

/* Checks one acknowledged operation against the reopened store. */
static void check_line(struct world *w, char *line, unsigned *checked)
{
	struct kh_principal p = manager();
	struct kh_key_info key;
	char tag[KH_KEY_TAG_LEN + 1], name[64];
	unsigned version = 0;
	if (sscanf(line, "C %32s %63s", tag, name) == 2) {
		assert_int_equal(kh_keys_get(w->keys, &p, tag, &key), KH_OK);
		assert_string_equal(key.name, name);
	} else if (sscanf(line, "R %32s %u", tag, &version) == 2) {
		assert_int_equal(kh_keys_get(w->keys, &p, tag, &key), KH_OK);
		assert_true(key.current_version >= version);
	} else if (sscanf(line, "U %32s", tag) == 1) {
		assert_int_equal(kh_keys_get(w->keys, &p, tag, &key), KH_OK);
		assert_true(key.usage_count >= 1);
	} else {
		fail_msg("unexpected report line: %s", line);
	}
	(*checked)++;
}

static void acknowledged_operations_survive_sigkill(void **state)
{
	(void)state;
	static char reports[REPORT_MAX];
	unsigned checked = 0;
	srand((unsigned)time(NULL));
	setup_store();
	for (int round = 0; round < ROUNDS; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child(round, fds[1]);
		}
		close(fds[1]);
		/* Let it work between 5 and 80 ms, then kill it mid-flight. */
		struct timespec ts = {0, (5 + rand() % 76) * 1000000L};
		nanosleep(&ts, NULL);
		assert_int_equal(kill(pid, SIGKILL), 0);
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		read_all(fds[0], reports, sizeof(reports));
		close(fds[0]);

		struct world w = {0};
		world_open(&w);
		struct kh_audit_verify_result v;
		assert_int_equal(kh_audit_verify(w.audit, -1, &v), KH_OK);
		assert_true(v.ok);
		for (char *save = NULL, *line = strtok_r(reports, "\n", &save); line != NULL;
		     line = strtok_r(NULL, "\n", &save))
			check_line(&w, line, &checked);
		world_close(&w);
	}
	fprintf(stderr, "%d kills, %u acknowledged operations checked\n", ROUNDS, checked);
	assert_true(checked > 0);
	kh_test_rmtree(dir);
}

int main(void)
{
	assert_int_equal(kh_crypto_init(), KH_OK);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(acknowledged_operations_survive_sigkill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
