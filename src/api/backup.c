// SPDX-License-Identifier: Apache-2.0
/*
 * Backups (API.md "Backups"), the operator's alone: POST /v1/sys/backup snapshots the store
 * into a temporary file of the data directory, streams it through an encrypted backup
 * (barrier/kh_backup.h) to <data_dir>/backups/keyhold-<UTC time>.khb and removes the snapshot;
 * GET /v1/sys/backups lists the files there. Only this barrier (or its shares, offline with
 * `keyholdd restore`) can open what is written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/kh_api_int.h"
#include "barrier/kh_backup.h"
#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki.h"

#define NAME_PREFIX "keyhold-"
#define ARCHIVE_PREFIX "kmc-archive-" /* the key archive's own backups */
#define NAME_SUFFIX ".khb"
#define STAMP_LEN 16 /* yyyymmddThhmmssZ */
#define NAME_LEN (sizeof(ARCHIVE_PREFIX) - 1 + STAMP_LEN + sizeof(NAME_SUFFIX) - 1) /* longest */
#define PATH_LEN (KH_API_PATH_MAX + 64)
#define READ_PIECE (64u * 1024u)
#define PROGRESS_EVERY ((uint64_t)64 * 1024 * 1024)
/* A listing stops here: a directory of backups is pruned by the operator long before. */
#define LIST_MAX KH_LIMIT_PAGE_MAX

struct backup_result {
	enum kh_backup_kind kind;
	uint64_t pairs; /* archive: key pairs written */
	char name[NAME_LEN + 1];
	uint64_t bytes;
	uint8_t sha256[32];
	int64_t created_ns;
};

static kh_rc not_configured(struct kh_api_call *c)
{
	return kh_api_fail(c, KH_ERR_NOT_FOUND, "this server keeps no backups (no data directory)");
}

static kh_rc backups_dir(const struct kh_api *api, char *out)
{
	int n = snprintf(out, PATH_LEN, "%s/backups", api->data_dir);
	KH_ENSURE(n > 0 && n < (int)PATH_LEN, KH_ERR_INTERNAL);
	return KH_OK;
}

/* "keyhold-20261124T031500Z.khb" (or "kmc-archive-..." for the archive) for the time given. */
static void backup_name(int64_t now_ns, enum kh_backup_kind kind, char out[NAME_LEN + 1])
{
	time_t secs = (time_t)(now_ns / KH_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char stamp[STAMP_LEN + 1];
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, NAME_LEN + 1, "%s%s" NAME_SUFFIX,
	         kind == KH_BACKUP_ARCHIVE ? ARCHIVE_PREFIX : NAME_PREFIX, stamp);
}

/* Streams the snapshot file into the writer, logging progress for large stores. */
static kh_rc stream_file(const char *path, struct kh_backup_writer *w)
{
	kh_rc rc = KH_OK;
	uint64_t done = 0, next_log = PROGRESS_EVERY;
	uint8_t *piece = kh_alloc(READ_PIECE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	KH_ENSURE_OUT(piece != NULL, KH_ERR_NOMEM);
	KH_ENSURE_OUT(fd >= 0, KH_ERR_STORAGE);
	for (;;) {
		ssize_t n = read(fd, piece, READ_PIECE);
		if (n < 0 && errno == EINTR)
			continue;
		KH_ENSURE_OUT(n >= 0, KH_ERR_STORAGE);
		if (n == 0)
			break;
		KH_GUARD_OUT(kh_backup_write(w, KH_SLICE(piece, (size_t)n)));
		done += (uint64_t)n;
		if (done >= next_log) {
			KH_LOG_INFO("backup in progress", KH_LF_UINT("bytes", done));
			next_log += PROGRESS_EVERY;
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (piece != NULL) {
		/* The snapshot holds only what the database file holds, but leaves no copy. */
		kh_wipe(piece, READ_PIECE);
		kh_free(&piece);
	}
	return rc;
}

static kh_rc make_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return KH_OK;
	KH_LOG_ERROR("cannot create the backups directory", KH_LF_STR("path", path),
	             KH_LF_STR("reason", strerror(errno)));
	return KH_ERR_STORAGE;
}

static kh_rc backup_run(struct kh_api_call *c, struct backup_result *out)
{
	kh_rc rc = KH_OK;
	struct kh_api *api = c->api;
	struct kh_backup_writer *w = NULL;
	char dir[PATH_LEN], path[PATH_LEN + NAME_LEN + 2], tmp[PATH_LEN + NAME_LEN + 16];
	bool have_tmp = false;
	out->created_ns = kh_clock_now(api->clock);
	backup_name(out->created_ns, KH_BACKUP_STORE, out->name);
	KH_GUARD(backups_dir(api, dir));
	KH_GUARD(make_dir(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, out->name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.snapshot", api->data_dir, out->name);
	/* The backup's own name first: a second backup in the same second is a conflict before
	 * anything is copied. */
	rc = kh_backup_writer_open(api->barrier, KH_BACKUP_STORE, path, &w);
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc, "a backup of that name exists; try again in a second");
	KH_GUARD(rc);
	rc = kh_store_snapshot(api->store, tmp);
	have_tmp = rc == KH_OK;
	if (rc == KH_ERR_CONFLICT)
		rc = kh_api_fail(c, rc, "a backup is being made");
	KH_GUARD_OUT(rc);
	KH_GUARD_OUT(stream_file(tmp, w));
	rc = kh_backup_writer_close(&w, &out->bytes, out->sha256);
	KH_GUARD_OUT(rc);
	KH_LOG_INFO("backup written", KH_LF_STR("file", out->name),
	            KH_LF_UINT("bytes", out->bytes));
out:
	kh_backup_writer_abort(&w);
	if (have_tmp)
		unlink(tmp);
	return rc;
}

static void write_result(struct kh_api_call *c, const struct backup_result *r)
{
	static const char digits[] = "0123456789abcdef";
	char hex[65];
	for (size_t i = 0; i < 32; i++) {
		hex[2 * i] = digits[r->sha256[i] >> 4];
		hex[2 * i + 1] = digits[r->sha256[i] & 15];
	}
	hex[64] = '\0';
	c->status = 201;
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "file");
	kh_json_cstr(&c->w, r->name);
	kh_json_key(&c->w, "kind");
	kh_json_cstr(&c->w, r->kind == KH_BACKUP_ARCHIVE ? "archive" : "store");
	if (r->kind == KH_BACKUP_ARCHIVE) {
		kh_json_key(&c->w, "pairs");
		kh_json_uint(&c->w, r->pairs);
	}
	kh_json_key(&c->w, "bytes");
	kh_json_uint(&c->w, r->bytes);
	kh_json_key(&c->w, "sha256");
	kh_json_cstr(&c->w, hex);
	kh_json_key(&c->w, "created_at");
	kh_json_time(&c->w, r->created_ns);
	kh_json_object_end(&c->w);
}

static kh_rc backup_create(struct kh_api_call *c)
{
	struct backup_result r = {0};
	char detail[NAME_LEN + 64] = "";
	KH_GUARD(kh_api_operator_only(c, "sys.backup"));
	if (c->api->data_dir[0] == '\0')
		return not_configured(c);
	if (pthread_mutex_trylock(&c->api->backup_mu) != 0)
		return kh_api_fail(c, KH_ERR_CONFLICT, "another backup is being made");
	kh_rc rc = backup_run(c, &r);
	pthread_mutex_unlock(&c->api->backup_mu);
	if (rc == KH_OK)
		snprintf(detail, sizeof(detail), "{\"file\":\"%s\",\"bytes\":%llu}", r.name,
		         (unsigned long long)r.bytes);
	/* Sealed, nothing can be appended; the refusal says so already. */
	if (rc != KH_ERR_SEALED)
		KH_GUARD(kh_api_audit(c, "sys.backup", 0, rc, rc == KH_OK ? detail : NULL));
	KH_GUARD(rc);
	write_result(c, &r);
	return KH_OK;
}

/* ---- listing ---- */

struct listed {
	char name[NAME_LEN + 1];
	uint64_t bytes;
	int64_t modified_ns;
};

static bool has_form(const char *name, const char *prefix)
{
	size_t len = strnlen(name, NAME_LEN + 1), pre = strlen(prefix);
	size_t suf = sizeof(NAME_SUFFIX) - 1;
	if (len != pre + STAMP_LEN + suf || strncmp(name, prefix, pre) != 0 ||
	    strcmp(name + len - suf, NAME_SUFFIX) != 0)
		return false;
	for (size_t i = pre; i < pre + STAMP_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || name[i] == 'T' || name[i] == 'Z'))
			return false;
	return true;
}

/* A whole store's backup or an archive's, by its name. */
static bool is_backup_name(const char *name)
{
	return has_form(name, NAME_PREFIX) || has_form(name, ARCHIVE_PREFIX);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct listed *)a)->name, ((const struct listed *)b)->name);
}

/* Reads the backups directory into items (regular files with a backup's name). */
static kh_rc list_read(const char *dir, struct listed *items, size_t *out_count)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	if (d == NULL) {
		*out_count = 0;
		return errno == ENOENT ? KH_OK : KH_ERR_STORAGE;
	}
	const struct dirent *e;
	while ((e = readdir(d)) != NULL && n < LIST_MAX) {
		struct stat st;
		if (!is_backup_name(e->d_name) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		memcpy(items[n].name, e->d_name,
		       strlen(e->d_name) + 1); /* its length was checked */
		items[n].bytes = (uint64_t)st.st_size;
		items[n].modified_ns =
		    (int64_t)st.st_mtim.tv_sec * KH_NS_PER_SEC + st.st_mtim.tv_nsec;
		n++;
	}
	closedir(d);
	qsort(items, n, sizeof(items[0]), by_name);
	*out_count = n;
	return KH_OK;
}

static kh_rc backup_list(struct kh_api_call *c)
{
	char dir[PATH_LEN];
	size_t n = 0;
	KH_GUARD(kh_api_operator_only(c, "sys.backups"));
	if (c->api->data_dir[0] == '\0')
		return not_configured(c);
	KH_GUARD(backups_dir(c->api, dir));
	struct listed *items = kh_calloc(LIST_MAX, sizeof(*items));
	KH_ENSURE(items != NULL, KH_ERR_NOMEM);
	kh_rc rc = list_read(dir, items, &n);
	if (rc == KH_OK) {
		kh_json_object_begin(&c->w);
		kh_json_key(&c->w, "backups");
		kh_json_array_begin(&c->w);
		for (size_t i = 0; i < n; i++) {
			kh_json_object_begin(&c->w);
			kh_json_key(&c->w, "file");
			kh_json_cstr(&c->w, items[i].name);
			kh_json_key(&c->w, "kind");
			kh_json_cstr(&c->w,
			             has_form(items[i].name, ARCHIVE_PREFIX) ? "archive" : "store");
			kh_json_key(&c->w, "bytes");
			kh_json_uint(&c->w, items[i].bytes);
			kh_json_key(&c->w, "modified");
			kh_json_time(&c->w, items[i].modified_ns);
			kh_json_object_end(&c->w);
		}
		kh_json_array_end(&c->w);
		kh_json_object_end(&c->w);
	}
	kh_free(&items);
	return rc;
}

/* ---- the key archive's own backup ---- */

static kh_rc archive_run(struct kh_api_call *c, struct backup_result *out)
{
	struct kh_api *api = c->api;
	struct kh_backup_writer *w = NULL;
	char dir[PATH_LEN], path[PATH_LEN + NAME_LEN + 2];
	out->kind = KH_BACKUP_ARCHIVE;
	out->created_ns = kh_clock_now(api->clock);
	backup_name(out->created_ns, KH_BACKUP_ARCHIVE, out->name);
	KH_GUARD(backups_dir(api, dir));
	KH_GUARD(make_dir(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, out->name);
	kh_rc rc = kh_backup_writer_open(api->barrier, KH_BACKUP_ARCHIVE, path, &w);
	if (rc == KH_ERR_CONFLICT)
		return kh_api_fail(c, rc, "a backup of that name exists; try again in a second");
	KH_GUARD(rc);
	rc = kh_pki_kmc_archive_write(api->pki, w, &out->pairs);
	if (rc == KH_OK)
		rc = kh_backup_writer_close(&w, &out->bytes, out->sha256);
	kh_backup_writer_abort(&w);
	if (rc == KH_OK)
		KH_LOG_INFO("key archive backup written", KH_LF_STR("file", out->name),
		            KH_LF_UINT("pairs", out->pairs), KH_LF_UINT("bytes", out->bytes));
	return rc;
}

static kh_rc archive_backup(struct kh_api_call *c)
{
	struct backup_result r = {0};
	char detail[NAME_LEN + 96] = "";
	KH_GUARD(kh_api_operator_only(c, "pki.kmc.backup"));
	if (c->api->data_dir[0] == '\0')
		return not_configured(c);
	if (pthread_mutex_trylock(&c->api->backup_mu) != 0)
		return kh_api_fail(c, KH_ERR_CONFLICT, "another backup is being made");
	kh_rc rc = archive_run(c, &r);
	pthread_mutex_unlock(&c->api->backup_mu);
	if (rc == KH_OK)
		snprintf(detail, sizeof(detail), "{\"file\":\"%s\",\"pairs\":%llu,\"bytes\":%llu}",
		         r.name, (unsigned long long)r.pairs, (unsigned long long)r.bytes);
	if (rc != KH_ERR_SEALED)
		KH_GUARD(kh_api_audit(c, "pki.kmc.backup", 0, rc, rc == KH_OK ? detail : NULL));
	KH_GUARD(rc);
	write_result(c, &r);
	return KH_OK;
}

static kh_rc archive_restore(struct kh_api_call *c)
{
	char name[NAME_LEN + 2], dir[PATH_LEN], path[PATH_LEN + NAME_LEN + 2];
	char detail[NAME_LEN + 128] = "";
	struct kh_backup_reader *r = NULL;
	enum kh_backup_kind kind = 0;
	struct kh_pki_kmc_import t = {0};
	KH_GUARD(kh_api_operator_only(c, "pki.kmc.restore"));
	if (c->api->data_dir[0] == '\0')
		return not_configured(c);
	KH_GUARD(kh_api_req_string(c, "file", name, sizeof(name)));
	if (!has_form(name, ARCHIVE_PREFIX))
		return kh_api_member_fail(c, KH_ERR_BAD_INPUT, "file",
		                          "names a key archive backup of GET /v1/sys/backups"
		                          " (kmc-archive-<time>.khb)");
	KH_GUARD(backups_dir(c->api, dir));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (pthread_mutex_trylock(&c->api->backup_mu) != 0)
		return kh_api_fail(c, KH_ERR_CONFLICT, "a backup or restore is running");
	kh_rc rc = kh_backup_reader_open(c->api->barrier, path, &r, &kind);
	if (rc == KH_OK && kind != KH_BACKUP_ARCHIVE)
		rc = KH_ERR_BAD_INPUT;
	if (rc == KH_OK)
		rc = kh_pki_kmc_archive_read(c->api->pki, r, &t);
	kh_backup_reader_close(&r);
	pthread_mutex_unlock(&c->api->backup_mu);
	snprintf(detail, sizeof(detail),
	         "{\"file\":\"%s\",\"added\":%llu,\"present\":%llu,\"conflicts\":%llu}", name,
	         (unsigned long long)t.added, (unsigned long long)t.present,
	         (unsigned long long)t.conflicts);
	if (rc != KH_ERR_SEALED)
		KH_GUARD(kh_api_audit(c, "pki.kmc.restore", 0, rc, detail));
	if (rc == KH_ERR_NOT_FOUND)
		return kh_api_fail(c, rc, "no such backup");
	if (rc == KH_ERR_FORBIDDEN)
		return kh_api_fail(c, rc, "the backup was made by another barrier");
	if (rc == KH_ERR_DECRYPT || rc == KH_ERR_BAD_INPUT)
		return kh_api_fail(c, KH_ERR_BAD_INPUT,
		                   "the file is not an intact key archive backup of this barrier");
	KH_GUARD(rc);
	kh_json_object_begin(&c->w);
	kh_json_key(&c->w, "file");
	kh_json_cstr(&c->w, name);
	kh_json_key(&c->w, "added");
	kh_json_uint(&c->w, t.added);
	kh_json_key(&c->w, "present");
	kh_json_uint(&c->w, t.present);
	kh_json_key(&c->w, "conflicts");
	kh_json_uint(&c->w, t.conflicts);
	kh_json_object_end(&c->w);
	return KH_OK;
}

static const char *const restore_fields[] = {"file", NULL};

const struct kh_api_route kh_api_backup_routes[] = {
    {KH_HTTP_POST, "/v1/pki/kmc/backup", archive_backup, 0, NULL},
    {KH_HTTP_POST, "/v1/pki/kmc/restore", archive_restore, KH_API_BODY, restore_fields},
    {KH_HTTP_POST, "/v1/sys/backup", backup_create, 0, NULL},
    {KH_HTTP_GET, "/v1/sys/backups", backup_list, 0, NULL},
    {0, NULL, NULL, 0, NULL},
};
