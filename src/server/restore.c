// SPDX-License-Identifier: Apache-2.0
/*
 * `keyholdd restore --from FILE`: the offline half of backups. The server is stopped (or the data
 * directory is new); the unseal shares come from standard input, one Base64 share per line
 * (development mode reads <data_dir>/dev-unseal when it is there), rebuild the unseal key, and
 * the backup (barrier/kh_backup.h) is decrypted chunk by chunk into a temporary file beside the
 * database. Only once its last chunk has authenticated does the file become keyhold.db: wrong
 * shares, another barrier's backup or an altered file leave the data directory as it was. An
 * existing database is replaced only with --force, and is then kept as
 * keyhold.db.before-restore (with its -wal and -shm files).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrier/kh_backup.h"
#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "server/kh_server_int.h"

#define PATH_LEN (KH_SERVER_PATH_MAX + 64)
#define LINE_MAX_LEN 512u /* one Base64 share, with room for spaces */
#define SHARES_TEXT_MAX (KH_LIMIT_SHARES_MAX * (LINE_MAX_LEN + 1))
#define PROGRESS_EVERY ((uint64_t)64 * 1024 * 1024)

static const char *const saved_suffixes[] = {"", "-wal", "-shm"};

struct restore {
	const struct kh_server_config *cfg;
	const char *from;
	char db[PATH_LEN];
	char tmp[PATH_LEN];
	struct kh_buf text; /* secure: the shares as read */
	struct kh_buf bin[KH_LIMIT_SHARES_MAX];
	struct kh_slice shares[KH_LIMIT_SHARES_MAX];
	size_t share_count;
};

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Reads all of standard input (bounded) into out. */
static kh_rc read_stdin(struct kh_buf *out)
{
	uint8_t piece[1024];
	kh_rc rc = KH_OK;
	for (;;) {
		ssize_t n = read(STDIN_FILENO, piece, sizeof(piece));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = KH_ERR_STORAGE;
		if (n <= 0)
			break;
		rc = kh_buf_append(out, KH_SLICE(piece, (size_t)n));
		if (rc != KH_OK)
			break;
	}
	kh_wipe(piece, sizeof(piece));
	return rc;
}

/* The shares' text: dev-unseal in development mode when present, else standard input. */
static kh_rc shares_text(struct restore *r)
{
	char path[PATH_LEN];
	snprintf(path, sizeof(path), "%s/dev-unseal", r->cfg->data_dir);
	if (r->cfg->dev && exists(path)) {
		fprintf(stderr, "keyholdd: reading the unseal share from %s\n", path);
		return kh_file_read(path, &r->text);
	}
	if (isatty(STDIN_FILENO))
		fputs(
		    "keyholdd: give the unseal shares, one per line, then end of input (Ctrl-D)\n",
		    stderr);
	return read_stdin(&r->text);
}

/* Splits the text into lines and decodes each non-empty one. */
static kh_rc shares_decode(struct restore *r)
{
	const uint8_t *p = r->text.ptr, *end = r->text.ptr + r->text.len;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *stop = nl != NULL ? nl : end;
		size_t len = (size_t)(stop - p);
		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0) {
			KH_ENSURE(r->share_count < KH_LIMIT_SHARES_MAX, KH_ERR_BAD_SHARE);
			KH_ENSURE(len <= LINE_MAX_LEN, KH_ERR_BAD_SHARE);
			struct kh_buf *b = &r->bin[r->share_count];
			if (kh_base64_decode(KH_SLICE(p, len), b) != KH_OK)
				return KH_ERR_BAD_SHARE;
			r->shares[r->share_count++] = kh_buf_slice(b);
		}
		p = stop + 1;
	}
	KH_ENSURE(r->share_count > 0, KH_ERR_BAD_SHARE);
	return KH_OK;
}

static kh_rc write_all(int fd, struct kh_slice data)
{
	size_t off = 0;
	while (off < data.len) {
		ssize_t n = write(fd, data.ptr + off, data.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		KH_ENSURE(n > 0, KH_ERR_STORAGE);
		off += (size_t)n;
	}
	return KH_OK;
}

/* Decrypts the whole backup into fd; KH_OK only at its authenticated end. */
static kh_rc decrypt_into(struct kh_backup_reader *rd, int fd, uint64_t *out_bytes)
{
	struct kh_buf chunk;
	bool end = false;
	uint64_t done = 0, next = PROGRESS_EVERY;
	kh_rc rc = KH_OK;
	kh_buf_init(&chunk, KH_LIMIT_BACKUP_CHUNK_BYTES, KH_BUF_SECURE);
	while (!end && rc == KH_OK) {
		kh_buf_clear(&chunk);
		rc = kh_backup_read(rd, &chunk, &end);
		if (rc == KH_OK)
			rc = write_all(fd, kh_buf_slice(&chunk));
		done += chunk.len;
		if (rc == KH_OK && done >= next) {
			fprintf(stderr, "keyholdd: %llu MiB restored\n",
			        (unsigned long long)(done / (1024 * 1024)));
			next += PROGRESS_EVERY;
		}
	}
	kh_buf_cleanup(&chunk);
	if (rc == KH_OK && fsync(fd) != 0)
		rc = KH_ERR_STORAGE;
	if (rc == KH_OK)
		*out_bytes = done;
	return rc;
}

/* Keeps the existing database (and its log files) under the .before-restore name. */
static kh_rc keep_old(const struct restore *r)
{
	char from[PATH_LEN + 8], to[PATH_LEN + 32];
	for (size_t i = 0; i < sizeof(saved_suffixes) / sizeof(saved_suffixes[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", r->db, saved_suffixes[i]);
		snprintf(to, sizeof(to), "%s.before-restore%s", r->db, saved_suffixes[i]);
		if (exists(from) && rename(from, to) != 0)
			return KH_ERR_STORAGE;
	}
	return KH_OK;
}

static kh_rc sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	KH_ENSURE(fd >= 0, KH_ERR_STORAGE);
	int err = fsync(fd);
	close(fd);
	return err == 0 ? KH_OK : KH_ERR_STORAGE;
}

static const char *failure_text(kh_rc rc)
{
	switch (rc) {
	case KH_ERR_BAD_SHARE:
		return "the unseal shares are malformed, mistyped or fewer than the threshold";
	case KH_ERR_FORBIDDEN:
		return "the backup belongs to another barrier: these shares cannot open it";
	case KH_ERR_DECRYPT:
		return "the backup does not authenticate: it was altered or cut, or the shares are "
		       "not the ones it was made under";
	case KH_ERR_NOT_FOUND:
		return "the backup file does not exist";
	default:
		return kh_rc_message(rc);
	}
}

/* Opens the backup with the shares and writes it out as the database. */
static kh_rc restore_run(struct restore *r, uint64_t *out_bytes)
{
	kh_rc rc = KH_OK;
	struct kh_backup_reader *rd = NULL;
	enum kh_backup_kind kind = 0;
	int fd = -1;
	bool have_tmp = false;
	KH_GUARD_OUT(shares_text(r));
	KH_GUARD_OUT(shares_decode(r));
	KH_GUARD_OUT(kh_backup_reader_open_shares(r->shares, r->share_count, r->from, &rd, &kind));
	if (kind != KH_BACKUP_STORE) {
		fputs("keyholdd: restore: the file is a key archive, not a store backup\n", stderr);
		rc = KH_ERR_BAD_INPUT;
		goto out;
	}
	if (mkdir(r->cfg->data_dir, 0700) != 0 && errno != EEXIST) {
		rc = KH_ERR_STORAGE;
		goto out;
	}
	(void)unlink(r->tmp); /* a previous restore's, cut short */
	fd = open(r->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	KH_ENSURE_OUT(fd >= 0, KH_ERR_STORAGE);
	have_tmp = true;
	KH_GUARD_OUT(decrypt_into(rd, fd, out_bytes));
	KH_ENSURE_OUT(close(fd) == 0, KH_ERR_STORAGE);
	fd = -1;
	KH_GUARD_OUT(keep_old(r));
	KH_ENSURE_OUT(rename(r->tmp, r->db) == 0, KH_ERR_STORAGE);
	have_tmp = false;
	KH_GUARD_OUT(sync_dir(r->cfg->data_dir));
out:
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlink(r->tmp);
	kh_backup_reader_close(&rd);
	return rc;
}

/* The existing database and what --force would keep it as. */
static int refuse_existing(const struct restore *r, bool force)
{
	char saved[PATH_LEN + 32];
	snprintf(saved, sizeof(saved), "%s.before-restore", r->db);
	if (exists(r->db) && !force) {
		fprintf(stderr,
		        "keyholdd: restore: %s exists; stop keyholdd and add --force to replace it "
		        "(the old one is kept as %s)\n",
		        r->db, saved);
		return 1;
	}
	if (exists(r->db) && exists(saved)) {
		fprintf(stderr,
		        "keyholdd: restore: %s exists from an earlier restore; move it away\n",
		        saved);
		return 1;
	}
	return 0;
}

int kh_server_restore(const struct kh_server_config *c, const char *from, bool force)
{
	struct restore r = {.cfg = c, .from = from};
	uint64_t bytes = 0;
	kh_log_set_level(KH_LOG_ERROR); /* the one-line answers below say what failed */
	if (kh_mem_harden_process() != KH_OK || kh_crypto_init() != KH_OK) {
		fputs("keyholdd: restore: cannot start\n", stderr);
		return 1;
	}
	if (snprintf(r.db, sizeof(r.db), "%s/keyhold.db", c->data_dir) >= (int)sizeof(r.db) ||
	    snprintf(r.tmp, sizeof(r.tmp), "%s/keyhold.db.restoring", c->data_dir) >=
	        (int)sizeof(r.tmp))
		return 1;
	if (refuse_existing(&r, force) != 0)
		return 1;
	kh_buf_init(&r.text, SHARES_TEXT_MAX, KH_BUF_SECURE);
	for (size_t i = 0; i < KH_LIMIT_SHARES_MAX; i++)
		kh_buf_init(&r.bin[i], LINE_MAX_LEN, KH_BUF_SECURE);
	fprintf(stderr, "keyholdd: restoring %s into %s\n", from, r.db);
	kh_rc rc = restore_run(&r, &bytes);
	kh_buf_cleanup(&r.text);
	for (size_t i = 0; i < KH_LIMIT_SHARES_MAX; i++)
		kh_buf_cleanup(&r.bin[i]);
	if (rc != KH_OK) {
		fprintf(stderr, "keyholdd: restore: %s; nothing was written\n", failure_text(rc));
		return 1;
	}
	fprintf(stderr,
	        "keyholdd: restored %llu bytes into %s; start keyholdd and unseal it with the same "
	        "shares\n",
	        (unsigned long long)bytes, r.db);
	return 0;
}
