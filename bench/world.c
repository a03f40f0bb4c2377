// SPDX-License-Identifier: Apache-2.0
/* The in-process benchmarks' world (world.h). */
#include "world.h"

#include <ftw.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/vfs.h>

#include "base/kh_clock.h"

/* The directory to remove at exit (atexit takes no argument). */
static char *world_dir;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Also runs at exit after a failed CHECK, so no run leaves a database behind. */
static void remove_dir(void)
{
	if (world_dir == NULL || world_dir[0] == '\0')
		return;
	if (nftw(world_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "bench: could not remove %s\n", world_dir);
	world_dir[0] = '\0';
}

void bench_world_open(struct bench_world *w)
{
	const char *base = getenv("TMPDIR");
	char path[300];
	struct kh_barrier_shares *shares = NULL;
	struct kh_barrier_progress progress;

	memset(w, 0, sizeof(*w));
	CHECK(snprintf(w->dir, sizeof(w->dir), "%s/keyhold-bench-XXXXXX",
	               base != NULL && base[0] != '\0' ? base : "/tmp") < (int)sizeof(w->dir));
	CHECK(mkdtemp(w->dir) != NULL);
	world_dir = w->dir;
	CHECK(atexit(remove_dir) == 0);
	snprintf(path, sizeof(path), "%s/keyhold.db", w->dir);

	struct kh_store_options so = {.path = path};
	CHECK_RC(kh_store_open(&so, &w->store));
	struct kh_barrier_options bo = {.store = w->store, .clock = kh_clock_real()};
	CHECK_RC(kh_barrier_new(&bo, &w->barrier));
	CHECK_RC(kh_barrier_init(w->barrier, 1, 1, &shares));
	CHECK_RC(kh_barrier_unseal(w->barrier, kh_buf_slice(&shares->share[0]), &progress));
	CHECK(!progress.sealed);
	kh_barrier_shares_free(&shares);
	struct kh_audit_options ao = {
	    .store = w->store, .barrier = w->barrier, .clock = kh_clock_real()};
	CHECK_RC(kh_audit_new(&ao, &w->audit));
	struct kh_keys_options ko = {
	    .store = w->store, .barrier = w->barrier, .audit = w->audit, .clock = kh_clock_real()};
	CHECK_RC(kh_keys_new(&ko, &w->keys));
	struct kh_principal op = {
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "bench", .source = "bench"};
	CHECK_RC(kh_keys_keystore_create(w->keys, &op, "bench", &w->keystore_id));
}

struct kh_principal bench_world_account(struct bench_world *w, const char *name, unsigned policies)
{
	struct kh_principal op = {
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "bench", .source = "bench"};
	int64_t id = 0;
	CHECK_RC(kh_keys_account_create(w->keys, &op, w->keystore_id, name, policies, &id));
	return (struct kh_principal){.kind = KH_PRINCIPAL_ACCOUNT,
	                             .account_id = id,
	                             .keystore_id = w->keystore_id,
	                             .policies = policies,
	                             .request_id = "bench",
	                             .source = "bench"};
}

const char *bench_world_fs(const struct bench_world *w)
{
	static const struct {
		long magic;
		const char *name;
	} names[] = {
	    {EXT4_SUPER_MAGIC, "ext4"},         {XFS_SUPER_MAGIC, "xfs"},
	    {BTRFS_SUPER_MAGIC, "btrfs"},       {TMPFS_MAGIC, "tmpfs"},
	    {OVERLAYFS_SUPER_MAGIC, "overlay"}, {NFS_SUPER_MAGIC, "nfs"},
	};
	struct statfs fs;
	CHECK(statfs(w->dir, &fs) == 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].magic == (long)fs.f_type)
			return names[i].name;
	return "unknown";
}

void bench_world_close(struct bench_world *w)
{
	kh_keys_free(&w->keys);
	kh_audit_free(&w->audit);
	kh_barrier_free(&w->barrier);
	kh_store_close(&w->store);
	remove_dir();
}
