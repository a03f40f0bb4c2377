// SPDX-License-Identifier: Apache-2.0
/*
 * Encrypted backups (kh_backup.h, where the format is): the writer wraps a fresh data key under
 * the current root key term and encrypts the stream in chunks; the reader finds the term key
 * either in the live barrier or, offline, through the keyring copy in the header and the unseal
 * key rebuilt from shares. Everything read from a file is bounded before it is used, and any
 * failure to authenticate is KH_ERR_DECRYPT.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "barrier/kh_backup.h"
#include "barrier/kh_barrier_int.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define MAGIC "KHBACKUP"
#define MAGIC_LEN 8u
#define BACKUP_FORMAT 1u
#define PREFIX_LEN 8u
/* magic | format | kind | created | set id | term | nonce prefix | keyring length */
#define FIXED_LEN (MAGIC_LEN + 1u + 1u + 8u + KH_BARRIER_SET_ID_LEN + 4u + PREFIX_LEN + 4u)
#define OFF_KIND 9u
#define OFF_SET_ID 18u
#define OFF_TERM 26u
#define OFF_PREFIX 30u
#define OFF_KEYRING_LEN 38u
#define WRAPPED_LEN (KH_AEAD_NONCE_LEN + KH_BARRIER_KEY_LEN + KH_AEAD_TAG_LEN)
#define HEADER_MAX (FIXED_LEN + KH_BARRIER_META_MAX + WRAPPED_LEN)
#define HASH_LEN 32u
#define CHUNK_HEAD_LEN 5u /* last | length */
#define CHUNK_MAX KH_LIMIT_BACKUP_CHUNK_BYTES
#define SEALED_MAX (CHUNK_HEAD_LEN + CHUNK_MAX + KH_AEAD_TAG_LEN)
#define PATH_LEN_MAX 4096u /* PATH_MAX on Linux */

static const char key_ad[] = "keyhold/v1/backup-key";
static const char chunk_ad[] = "keyhold/v1/backup-chunk";

struct kh_backup_writer {
	int fd;
	char *path;
	struct kh_aead_key *key;
	uint8_t prefix[PREFIX_LEN];
	uint8_t header_hash[HASH_LEN];
	uint32_t counter;
	bool failed;
	struct kh_buf pending; /* secure: plaintext of the chunk being filled */
	struct kh_buf sealed;  /* one encrypted chunk on its way to the file */
	struct kh_hash_ctx *file_hash;
	uint64_t bytes;
};

struct kh_backup_reader {
	int fd;
	struct kh_aead_key *key;
	uint8_t prefix[PREFIX_LEN];
	uint8_t header_hash[HASH_LEN];
	uint32_t counter;
	bool done;
	bool failed;
	struct kh_buf sealed;
};

/* The parsed header: views into the header bytes. */
struct header {
	enum kh_backup_kind kind;
	const uint8_t *set_id;
	uint32_t term;
	const uint8_t *prefix;
	struct kh_slice keyring;
	struct kh_slice signed_part; /* everything before the wrapped key (the wrap's AD) */
	struct kh_slice wrapped;
};

/* ---- chunk crypto, shared by both directions ---- */

static void chunk_nonce(const uint8_t prefix[PREFIX_LEN], uint32_t counter,
                        uint8_t out[KH_AEAD_NONCE_LEN])
{
	memcpy(out, prefix, PREFIX_LEN);
	kh_be32_put(out + PREFIX_LEN, counter);
}

/* AD "keyhold/v1/backup-chunk" | header hash | counter | last */
#define CHUNK_AD_LEN (sizeof(chunk_ad) - 1 + HASH_LEN + 4u + 1u)
static void chunk_aad(const uint8_t header_hash[HASH_LEN], uint32_t counter, bool last,
                      uint8_t out[CHUNK_AD_LEN])
{
	size_t n = sizeof(chunk_ad) - 1;
	memcpy(out, chunk_ad, n);
	memcpy(out + n, header_hash, HASH_LEN);
	kh_be32_put(out + n + HASH_LEN, counter);
	out[n + HASH_LEN + 4] = last ? 1 : 0;
}

static kh_rc wrap_aad(struct kh_slice signed_part, struct kh_buf *out)
{
	KH_GUARD(kh_buf_append(out, KH_SLICE_LIT(key_ad)));
	return kh_buf_append(out, signed_part);
}

/* ---- files ---- */

static kh_rc write_all(int fd, struct kh_slice data)
{
	size_t off = 0;
	while (off < data.len) {
		ssize_t n = write(fd, data.ptr + off, data.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			KH_LOG_ERROR("cannot write the backup file",
			             KH_LF_STR("reason", strerror(errno)));
			return KH_ERR_STORAGE;
		}
		off += (size_t)n;
	}
	return KH_OK;
}

/* Reads exactly len bytes; a file that ends first is a truncated backup. */
static kh_rc read_exact(int fd, uint8_t *out, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = read(fd, out + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			KH_LOG_ERROR("cannot read the backup file",
			             KH_LF_STR("reason", strerror(errno)));
			return KH_ERR_STORAGE;
		}
		if (n == 0) {
			KH_LOG_WARN("the backup file ends early", KH_LF_UINT("at", off));
			return KH_ERR_DECRYPT;
		}
		off += (size_t)n;
	}
	return KH_OK;
}

/* Appends len bytes of the file to b (plain). */
static kh_rc read_into(int fd, struct kh_buf *b, size_t len)
{
	uint8_t *p = NULL;
	KH_GUARD(kh_buf_extend(b, len, &p));
	KH_GUARD(read_exact(fd, p, len));
	kh_buf_commit(b, len);
	return KH_OK;
}

/* The directory entry of a new file must reach the disk too, or a crash could lose the file. */
static kh_rc sync_parent(const char *path)
{
	char dir[PATH_LEN_MAX];
	const char *slash = strrchr(path, '/');
	size_t len = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
	KH_ENSURE(len < sizeof(dir), KH_ERR_TOO_LARGE);
	memcpy(dir, slash == NULL ? "." : path, len);
	dir[len] = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	KH_ENSURE(fd >= 0, KH_ERR_STORAGE);
	int err = fsync(fd);
	close(fd);
	return err == 0 ? KH_OK : KH_ERR_STORAGE;
}

/* ---- writer ---- */

static kh_rc writer_emit(struct kh_backup_writer *w, struct kh_slice bytes)
{
	KH_GUARD(write_all(w->fd, bytes));
	KH_GUARD(kh_hash_ctx_update(w->file_hash, bytes));
	w->bytes += bytes.len;
	return KH_OK;
}

/* Encrypts the pending plaintext as the next chunk and writes it. */
static kh_rc writer_flush(struct kh_backup_writer *w, bool last)
{
	uint8_t nonce[KH_AEAD_NONCE_LEN], aad[CHUNK_AD_LEN], *p = NULL;
	size_t len = w->pending.len;
	/* 2^32 chunks of 1 MiB are 4 PiB: a counter that wraps would repeat a nonce. */
	KH_ENSURE(w->counter < UINT32_MAX, KH_ERR_TOO_LARGE);
	kh_buf_clear(&w->sealed);
	KH_GUARD(kh_buf_extend(&w->sealed, CHUNK_HEAD_LEN + len + KH_AEAD_TAG_LEN, &p));
	p[0] = last ? 1 : 0;
	kh_be32_put(p + 1, (uint32_t)len);
	chunk_nonce(w->prefix, w->counter, nonce);
	chunk_aad(w->header_hash, w->counter, last, aad);
	KH_GUARD(kh_aead_seal(w->key, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE(aad, sizeof(aad)),
	                      kh_buf_slice(&w->pending), p + CHUNK_HEAD_LEN,
	                      p + CHUNK_HEAD_LEN + len));
	kh_buf_commit(&w->sealed, CHUNK_HEAD_LEN + len + KH_AEAD_TAG_LEN);
	kh_buf_clear(&w->pending);
	w->counter++;
	return writer_emit(w, kh_buf_slice(&w->sealed));
}

/* Builds the header for the live barrier; *data_key gets the fresh data key (secure). */
static kh_rc header_build(struct kh_barrier *b, enum kh_backup_kind kind,
                          struct kh_backup_writer *w, struct kh_buf *out, uint8_t *data_key)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_config cfg;
	struct kh_barrier_keyring ring = {0};
	struct kh_buf keyring, aad;
	uint8_t *p = NULL;
	kh_buf_init(&keyring, KH_BARRIER_META_MAX, KH_BUF_PLAIN);
	kh_buf_init(&aad, HEADER_MAX, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_barrier_backup_source(b, &cfg, &keyring, &ring));
	const struct kh_barrier_term *t = kh_barrier_keyring_find(&ring, ring.current);
	KH_ENSURE_OUT(t != NULL && keyring.len > 0, KH_ERR_INTERNAL);
	KH_GUARD_OUT(kh_rand_bytes(w->prefix, PREFIX_LEN));
	KH_GUARD_OUT(kh_rand_secret(data_key, KH_BARRIER_KEY_LEN));
	KH_GUARD_OUT(kh_buf_extend(out, FIXED_LEN, &p));
	memcpy(p, MAGIC, MAGIC_LEN);
	p[MAGIC_LEN] = BACKUP_FORMAT;
	p[OFF_KIND] = (uint8_t)kind;
	kh_be64_put(p + OFF_KIND + 1, (uint64_t)kh_clock_now(b->clock));
	memcpy(p + OFF_SET_ID, cfg.set_id, KH_BARRIER_SET_ID_LEN);
	kh_be32_put(p + OFF_TERM, ring.current);
	memcpy(p + OFF_PREFIX, w->prefix, PREFIX_LEN);
	kh_be32_put(p + OFF_KEYRING_LEN, (uint32_t)keyring.len);
	kh_buf_commit(out, FIXED_LEN);
	KH_GUARD_OUT(kh_buf_append(out, kh_buf_slice(&keyring)));
	KH_GUARD_OUT(wrap_aad(kh_buf_slice(out), &aad));
	KH_GUARD_OUT(kh_barrier_aead_seal(KH_SLICE(t->key, KH_BARRIER_KEY_LEN), kh_buf_slice(&aad),
	                                  KH_SLICE(data_key, KH_BARRIER_KEY_LEN), out));
out:
	kh_barrier_keyring_wipe(&ring);
	kh_buf_cleanup(&keyring);
	kh_buf_cleanup(&aad);
	return rc;
}

static void writer_free(struct kh_backup_writer **wp, bool unlink_file)
{
	struct kh_backup_writer *w = *wp;
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_file && w->path != NULL)
		unlink(w->path);
	kh_aead_key_free(&w->key);
	kh_hash_ctx_free(&w->file_hash);
	kh_buf_cleanup(&w->pending);
	kh_buf_cleanup(&w->sealed);
	kh_free(&w->path);
	kh_free(wp);
}

static kh_rc writer_start(struct kh_barrier *b, enum kh_backup_kind kind,
                          struct kh_backup_writer *w)
{
	kh_rc rc = KH_OK;
	struct kh_buf header;
	uint8_t *data_key = kh_secure_alloc(KH_BARRIER_KEY_LEN);
	kh_buf_init(&header, HEADER_MAX, KH_BUF_PLAIN);
	KH_ENSURE_OUT(data_key != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(header_build(b, kind, w, &header, data_key));
	KH_GUARD_OUT(kh_hash(KH_HASH_SHA256, kh_buf_slice(&header), w->header_hash, HASH_LEN));
	KH_GUARD_OUT(
	    kh_aead_key_new(KH_AEAD_AES_256_GCM, KH_SLICE(data_key, KH_BARRIER_KEY_LEN), &w->key));
	KH_GUARD_OUT(kh_hash_ctx_new(KH_HASH_SHA256, &w->file_hash));
	/* The whole chunk at once: growing a secure buffer would hold two copies for a while. */
	KH_GUARD_OUT(kh_buf_reserve(&w->pending, CHUNK_MAX));
	KH_GUARD_OUT(writer_emit(w, kh_buf_slice(&header)));
out:
	kh_secure_free(&data_key);
	kh_buf_cleanup(&header);
	return rc;
}

kh_rc kh_backup_writer_open(struct kh_barrier *b, enum kh_backup_kind kind, const char *path,
                            struct kh_backup_writer **out)
{
	kh_rc rc = KH_OK;
	KH_ENSURE(b != NULL && path != NULL && out != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(kind == KH_BACKUP_STORE || kind == KH_BACKUP_ARCHIVE, KH_ERR_BAD_INPUT);
	size_t path_len = strlen(path);
	KH_ENSURE(path_len > 0 && path_len < PATH_LEN_MAX, KH_ERR_BAD_INPUT);
	struct kh_backup_writer *w = kh_calloc(1, sizeof(*w));
	KH_ENSURE(w != NULL, KH_ERR_NOMEM);
	w->fd = -1;
	kh_buf_init(&w->pending, CHUNK_MAX, KH_BUF_SECURE);
	kh_buf_init(&w->sealed, SEALED_MAX, KH_BUF_PLAIN);
	w->path = kh_alloc(path_len + 1);
	KH_ENSURE_OUT(w->path != NULL, KH_ERR_NOMEM);
	memcpy(w->path, path, path_len + 1);
	/* Sealed first: a refusal must not leave an empty file behind. */
	struct kh_barrier_status st;
	KH_GUARD_OUT(kh_barrier_status(b, &st));
	KH_ENSURE_OUT(!st.sealed, KH_ERR_SEALED);
	w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->fd < 0) {
		rc = errno == EEXIST ? KH_ERR_CONFLICT : KH_ERR_STORAGE;
		if (rc == KH_ERR_STORAGE)
			KH_LOG_ERROR("cannot create the backup file", KH_LF_STR("path", path),
			             KH_LF_STR("reason", strerror(errno)));
		kh_free(&w->path); /* not ours to unlink */
		goto out;
	}
	KH_GUARD_OUT(writer_start(b, kind, w));
	*out = w;
	w = NULL;
out:
	writer_free(&w, true);
	return rc;
}

kh_rc kh_backup_write(struct kh_backup_writer *w, struct kh_slice data)
{
	KH_ENSURE(w != NULL && !w->failed, KH_ERR_INTERNAL);
	size_t off = 0;
	while (off < data.len) {
		/* A full chunk goes out only once more data follows: the last one is written by
		 * close, marked last, even when it is full. */
		if (w->pending.len == CHUNK_MAX) {
			kh_rc rc = writer_flush(w, false);
			if (rc != KH_OK) {
				w->failed = true;
				return rc;
			}
		}
		size_t take = CHUNK_MAX - w->pending.len;
		if (take > data.len - off)
			take = data.len - off;
		kh_rc rc = kh_buf_append(&w->pending, KH_SLICE(data.ptr + off, take));
		if (rc != KH_OK) {
			w->failed = true;
			return rc;
		}
		off += take;
	}
	return KH_OK;
}

kh_rc kh_backup_writer_close(struct kh_backup_writer **wp, uint64_t *out_bytes,
                             uint8_t out_sha256[32])
{
	kh_rc rc = KH_OK;
	uint8_t digest[HASH_LEN];
	struct kh_backup_writer *w = *wp;
	KH_ENSURE(w != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE_OUT(!w->failed, KH_ERR_INTERNAL);
	KH_GUARD_OUT(writer_flush(w, true));
	KH_GUARD_OUT(kh_hash_ctx_final(w->file_hash, digest, sizeof(digest)));
	KH_ENSURE_OUT(fsync(w->fd) == 0, KH_ERR_STORAGE);
	int fd = w->fd;
	w->fd = -1;
	KH_ENSURE_OUT(close(fd) == 0, KH_ERR_STORAGE);
	KH_GUARD_OUT(sync_parent(w->path));
	if (out_bytes != NULL)
		*out_bytes = w->bytes;
	if (out_sha256 != NULL)
		memcpy(out_sha256, digest, sizeof(digest));
out:
	writer_free(wp, rc != KH_OK);
	return rc;
}

void kh_backup_writer_abort(struct kh_backup_writer **w)
{
	writer_free(w, true);
}

/* ---- reader ---- */

static kh_rc header_read(int fd, struct kh_buf *h, struct header *out)
{
	KH_GUARD(read_into(fd, h, FIXED_LEN));
	const uint8_t *p = h->ptr;
	if (memcmp(p, MAGIC, MAGIC_LEN) != 0 || p[MAGIC_LEN] != BACKUP_FORMAT) {
		KH_LOG_WARN("not a keyhold backup of a format this build reads", KH_LF_NONE);
		return KH_ERR_DECRYPT;
	}
	uint8_t kind = p[OFF_KIND];
	uint32_t keyring_len = kh_be32_get(p + OFF_KEYRING_LEN);
	KH_ENSURE(kind == KH_BACKUP_STORE || kind == KH_BACKUP_ARCHIVE, KH_ERR_DECRYPT);
	/* The length comes from the file: bounded before anything is read or allocated. */
	KH_ENSURE(keyring_len >= 1 && keyring_len <= KH_BARRIER_META_MAX, KH_ERR_DECRYPT);
	KH_GUARD(read_into(fd, h, keyring_len + WRAPPED_LEN));
	p = h->ptr;
	*out = (struct header){
	    .kind = (enum kh_backup_kind)kind,
	    .set_id = p + OFF_SET_ID,
	    .term = kh_be32_get(p + OFF_TERM),
	    .prefix = p + OFF_PREFIX,
	    .keyring = KH_SLICE(p + FIXED_LEN, keyring_len),
	    .signed_part = KH_SLICE(p, FIXED_LEN + keyring_len),
	    .wrapped = KH_SLICE(p + FIXED_LEN + keyring_len, WRAPPED_LEN),
	};
	return KH_OK;
}

/* How the term key is found: the live barrier, or the unseal key rebuilt from shares. */
struct key_source {
	struct kh_barrier *b;
	struct kh_slice unseal_key;
};

static void hex_id(const uint8_t *id, char out[2 * KH_BARRIER_SET_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < KH_BARRIER_SET_ID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * KH_BARRIER_SET_ID_LEN] = '\0';
}

static kh_rc refuse_other_set(const uint8_t *ours, const uint8_t *theirs)
{
	char a[2 * KH_BARRIER_SET_ID_LEN + 1], b[2 * KH_BARRIER_SET_ID_LEN + 1];
	hex_id(ours, a);
	hex_id(theirs, b);
	KH_LOG_WARN("the backup belongs to another barrier (another set of unseal shares); refused",
	            KH_LF_STR("backup_set_id", b), KH_LF_STR("our_set_id", a));
	return KH_ERR_FORBIDDEN;
}

/* The keyring that holds the backup's term: the live one, else the backup's own copy. */
static kh_rc ring_for(const struct key_source *src, const struct header *h,
                      struct kh_barrier_keyring *ring)
{
	if (src->b == NULL) {
		kh_rc rc = kh_barrier_keyring_open(h->keyring, src->unseal_key, ring);
		if (rc == KH_ERR_STORAGE)
			rc = KH_ERR_DECRYPT; /* a bad copy is a bad file, not a bad database */
		if (rc == KH_ERR_DECRYPT)
			KH_LOG_WARN("the shares do not open the backup's keyring: wrong shares, or "
			            "an altered file",
			            KH_LF_NONE);
		return rc;
	}
	struct kh_barrier_config cfg;
	bool found = false;
	KH_GUARD(kh_barrier_config_load(src->b, &cfg, &found));
	KH_ENSURE(found, KH_ERR_SEALED);
	if (memcmp(cfg.set_id, h->set_id, KH_BARRIER_SET_ID_LEN) != 0)
		return refuse_other_set(cfg.set_id, h->set_id);
	KH_GUARD(kh_barrier_ring_live_copy(src->b, ring));
	if (kh_barrier_keyring_find(ring, h->term) != NULL)
		return KH_OK;
	/* Rewrap has retired the term since: the backup's copy of the keyring still has it. */
	kh_barrier_keyring_wipe(ring);
	kh_rc rc = kh_barrier_ring_open_live(src->b, h->keyring, ring);
	return rc == KH_ERR_STORAGE ? KH_ERR_DECRYPT : rc;
}

/* Unwraps the data key into a key object. */
static kh_rc data_key_open(const struct key_source *src, const struct header *h,
                           struct kh_aead_key **out)
{
	kh_rc rc = KH_OK;
	struct kh_barrier_keyring ring = {0};
	struct kh_buf aad, key;
	kh_buf_init(&aad, HEADER_MAX, KH_BUF_PLAIN);
	kh_buf_init(&key, KH_BARRIER_KEY_LEN, KH_BUF_SECURE);
	KH_GUARD_OUT(ring_for(src, h, &ring));
	const struct kh_barrier_term *t = kh_barrier_keyring_find(&ring, h->term);
	if (t == NULL) {
		KH_LOG_WARN("the backup's root key term is not in its keyring",
		            KH_LF_UINT("term", h->term));
		rc = KH_ERR_DECRYPT;
		goto out;
	}
	KH_GUARD_OUT(wrap_aad(h->signed_part, &aad));
	rc = kh_barrier_aead_open(KH_SLICE(t->key, KH_BARRIER_KEY_LEN), kh_buf_slice(&aad),
	                          h->wrapped, &key);
	if (rc == KH_ERR_DECRYPT)
		KH_LOG_WARN("the backup's header does not authenticate: the file was altered",
		            KH_LF_NONE);
	KH_GUARD_OUT(rc);
	KH_ENSURE_OUT(key.len == KH_BARRIER_KEY_LEN, KH_ERR_DECRYPT);
	KH_GUARD_OUT(kh_aead_key_new(KH_AEAD_AES_256_GCM, kh_buf_slice(&key), out));
out:
	kh_barrier_keyring_wipe(&ring);
	kh_buf_cleanup(&aad);
	kh_buf_cleanup(&key);
	return rc;
}

static kh_rc reader_open(const struct key_source *src, const char *path,
                         struct kh_backup_reader **out, enum kh_backup_kind *out_kind)
{
	kh_rc rc = KH_OK;
	struct header h;
	struct kh_buf hb;
	KH_ENSURE(path != NULL && out != NULL, KH_ERR_BAD_INPUT);
	struct kh_backup_reader *r = kh_calloc(1, sizeof(*r));
	KH_ENSURE(r != NULL, KH_ERR_NOMEM);
	r->fd = -1;
	kh_buf_init(&hb, HEADER_MAX, KH_BUF_PLAIN);
	kh_buf_init(&r->sealed, SEALED_MAX, KH_BUF_PLAIN);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = errno == ENOENT ? KH_ERR_NOT_FOUND : KH_ERR_STORAGE;
		goto out;
	}
	KH_GUARD_OUT(header_read(r->fd, &hb, &h));
	KH_GUARD_OUT(data_key_open(src, &h, &r->key));
	KH_GUARD_OUT(kh_hash(KH_HASH_SHA256, kh_buf_slice(&hb), r->header_hash, HASH_LEN));
	memcpy(r->prefix, h.prefix, PREFIX_LEN);
	if (out_kind != NULL)
		*out_kind = h.kind;
	*out = r;
	r = NULL;
out:
	kh_backup_reader_close(&r);
	kh_buf_cleanup(&hb);
	return rc;
}

kh_rc kh_backup_reader_open(struct kh_barrier *b, const char *path, struct kh_backup_reader **out,
                            enum kh_backup_kind *out_kind)
{
	KH_ENSURE(b != NULL, KH_ERR_BAD_INPUT);
	struct key_source src = {.b = b};
	return reader_open(&src, path, out, out_kind);
}

/* The shares' split must be the backup's: read the header's set id first, so that shares of
 * another barrier get a clear refusal instead of a failed decryption. */
static kh_rc shares_match(const struct kh_slice *shares, size_t count, const char *path)
{
	uint8_t fixed[FIXED_LEN];
	struct kh_shamir_info info;
	KH_ENSURE(count >= 1 && count <= KH_LIMIT_SHARES_MAX, KH_ERR_BAD_SHARE);
	KH_GUARD(kh_shamir_share_parse(shares[0], &info));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	KH_ENSURE(fd >= 0, errno == ENOENT ? KH_ERR_NOT_FOUND : KH_ERR_STORAGE);
	kh_rc rc = read_exact(fd, fixed, sizeof(fixed));
	close(fd);
	KH_GUARD(rc);
	if (memcmp(info.set_id, fixed + OFF_SET_ID, KH_BARRIER_SET_ID_LEN) != 0)
		return refuse_other_set(info.set_id, fixed + OFF_SET_ID);
	return KH_OK;
}

kh_rc kh_backup_reader_open_shares(const struct kh_slice *shares, size_t count, const char *path,
                                   struct kh_backup_reader **out, enum kh_backup_kind *out_kind)
{
	KH_ENSURE(shares != NULL && path != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(shares_match(shares, count, path));
	struct kh_buf key;
	kh_buf_init(&key, KH_LIMIT_SHAMIR_SECRET_BYTES, KH_BUF_SECURE);
	kh_rc rc = kh_shamir_combine(shares, count, &key, NULL);
	if (rc == KH_OK && key.len != KH_BARRIER_KEY_LEN)
		rc = KH_ERR_BAD_SHARE;
	if (rc == KH_OK) {
		struct key_source src = {.unseal_key = kh_buf_slice(&key)};
		rc = reader_open(&src, path, out, out_kind);
	}
	kh_buf_cleanup(&key);
	return rc;
}

/* After the last chunk the file must end: bytes appended to a backup are refused. */
static kh_rc expect_eof(int fd)
{
	uint8_t extra;
	for (;;) {
		ssize_t n = read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		KH_ENSURE(n >= 0, KH_ERR_STORAGE);
		if (n > 0)
			KH_LOG_WARN("bytes follow the backup's last chunk", KH_LF_NONE);
		return n == 0 ? KH_OK : KH_ERR_DECRYPT;
	}
}

static kh_rc reader_next(struct kh_backup_reader *r, struct kh_buf *out, bool *out_end)
{
	uint8_t head[CHUNK_HEAD_LEN], nonce[KH_AEAD_NONCE_LEN], aad[CHUNK_AD_LEN], *p = NULL;
	KH_GUARD(read_exact(r->fd, head, sizeof(head)));
	uint32_t len = kh_be32_get(head + 1);
	KH_ENSURE(head[0] <= 1 && len <= CHUNK_MAX, KH_ERR_DECRYPT);
	KH_ENSURE(r->counter < UINT32_MAX, KH_ERR_DECRYPT);
	bool last = head[0] == 1;
	kh_buf_clear(&r->sealed);
	KH_GUARD(read_into(r->fd, &r->sealed, (size_t)len + KH_AEAD_TAG_LEN));
	chunk_nonce(r->prefix, r->counter, nonce);
	chunk_aad(r->header_hash, r->counter, last, aad);
	KH_GUARD(kh_buf_extend(out, len, &p));
	kh_rc rc = kh_aead_open(r->key, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE(aad, sizeof(aad)),
	                        KH_SLICE(r->sealed.ptr, len),
	                        KH_SLICE(r->sealed.ptr + len, KH_AEAD_TAG_LEN), p);
	if (rc == KH_ERR_DECRYPT)
		KH_LOG_WARN("a backup chunk does not authenticate: the file was altered, cut or "
		            "reordered",
		            KH_LF_UINT("chunk", r->counter));
	KH_GUARD(rc);
	if (last)
		KH_GUARD(expect_eof(r->fd));
	kh_buf_commit(out, len);
	r->counter++;
	r->done = last;
	*out_end = last;
	return KH_OK;
}

kh_rc kh_backup_read(struct kh_backup_reader *r, struct kh_buf *out, bool *out_end)
{
	KH_ENSURE(r != NULL && out != NULL && out_end != NULL, KH_ERR_BAD_INPUT);
	/* Plaintext only ever lands in secure memory. */
	KH_ENSURE((out->flags & KH_BUF_SECURE) != 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(!r->failed, KH_ERR_DECRYPT);
	if (r->done) {
		*out_end = true;
		return KH_OK;
	}
	size_t before = out->len;
	kh_rc rc = reader_next(r, out, out_end);
	if (rc != KH_OK) {
		kh_buf_truncate(out, before);
		/* A stream that failed once must not go on: later chunks would follow a gap. */
		r->failed = rc != KH_ERR_NOMEM && rc != KH_ERR_TOO_LARGE;
	}
	return rc;
}

void kh_backup_reader_close(struct kh_backup_reader **rp)
{
	struct kh_backup_reader *r = *rp;
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	kh_aead_key_free(&r->key);
	kh_buf_cleanup(&r->sealed);
	kh_free(rp);
}
