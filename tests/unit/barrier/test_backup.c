/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encrypted backups: round trips of 0 bytes, 1 byte, exactly one chunk and two and a half
 * chunks, read with the live barrier and with shares; every header byte and bytes of every part
 * of a chunk flipped, truncation at chunk boundaries and inside chunks, bytes appended, chunks
 * swapped or spliced from another backup: all KH_ERR_DECRYPT; a barrier or shares of another
 * set refused as such; too few and forged shares refused; a backup still opening after the root
 * key rotated and its term was retired, and offline with its own shares after a rekey.
 */
#include "kh_test.h"
#include "kh_test_store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrier/kh_backup.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define CHUNK KH_LIMIT_BACKUP_CHUNK_BYTES
#define CHUNK_OVERHEAD (5u + 16u) /* last | length, then the tag */
#define BIG (CHUNK * 5u / 2u)

struct side {
	char path[300];
	struct kh_store *store;
	struct kh_barrier *b;
	struct kh_barrier_shares *shares;
};

struct fixture {
	char dir[256];
	char file[320];
	char file2[320];
	struct kh_clock clock;
	struct side one;   /* 5 shares, threshold 3, unsealed */
	struct side other; /* another barrier: 1 share, unsealed */
	uint8_t *data;     /* BIG bytes of a pattern */
};

static void side_open(struct fixture *f, struct side *s, const char *name, unsigned n, unsigned k)
{
	struct kh_barrier_progress p;
	snprintf(s->path, sizeof(s->path), "%s/%s.db", f->dir, name);
	struct kh_store_options so = {.path = s->path};
	assert_int_equal(kh_store_open(&so, &s->store), KH_OK);
	struct kh_barrier_options bo = {.store = s->store, .clock = &f->clock};
	assert_int_equal(kh_barrier_new(&bo, &s->b), KH_OK);
	assert_int_equal(kh_barrier_init(s->b, n, k, &s->shares), KH_OK);
	for (unsigned i = 0; i < k; i++)
		assert_int_equal(kh_barrier_unseal(s->b, kh_buf_slice(&s->shares->share[i]), &p),
		                 KH_OK);
	assert_false(p.sealed);
}

static void side_close(struct side *s)
{
	kh_barrier_shares_free(&s->shares);
	kh_barrier_free(&s->b);
	kh_store_close(&s->store);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(kh_crypto_init(), KH_OK);
	kh_test_tmpdir(f->dir, sizeof(f->dir));
	snprintf(f->file, sizeof(f->file), "%s/a.khb", f->dir);
	snprintf(f->file2, sizeof(f->file2), "%s/b.khb", f->dir);
	kh_clock_fake_init(&f->clock, INT64_C(1800000000) * KH_NS_PER_SEC);
	side_open(f, &f->one, "one", 5, 3);
	side_open(f, &f->other, "other", 1, 1);
	f->data = malloc(BIG);
	assert_non_null(f->data);
	for (size_t i = 0; i < BIG; i++)
		f->data[i] = (uint8_t)(i * 31u + (i >> 13));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	side_close(&f->one);
	side_close(&f->other);
	kh_test_rmtree(f->dir);
	free(f->data);
	free(f);
	return 0;
}

/* Writes the first len bytes of the pattern to path, in uneven pieces. */
static void write_backup(struct kh_barrier *b, const char *path, const uint8_t *data, size_t len,
                         uint64_t *out_bytes, uint8_t out_sha[32])
{
	struct kh_backup_writer *w = NULL;
	assert_int_equal(kh_backup_writer_open(b, KH_BACKUP_STORE, path, &w), KH_OK);
	size_t off = 0, piece = 1;
	while (off < len) {
		size_t n = piece < len - off ? piece : len - off;
		assert_int_equal(kh_backup_write(w, KH_SLICE(data + off, n)), KH_OK);
		off += n;
		piece = piece * 7 + 3; /* 1, 10, 73, ... up past a chunk */
	}
	assert_int_equal(kh_backup_writer_close(&w, out_bytes, out_sha), KH_OK);
	assert_null(w);
}

static size_t file_size(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return (size_t)st.st_size;
}

static void file_read(const char *path, struct kh_buf *out)
{
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	size_t len = file_size(path);
	uint8_t *p = NULL;
	assert_int_equal(kh_buf_extend(out, len, &p), KH_OK);
	assert_int_equal(read(fd, p, len), (ssize_t)len);
	kh_buf_commit(out, len);
	close(fd);
}

static void file_write(const char *path, struct kh_slice bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes.ptr, bytes.len), (ssize_t)bytes.len);
	close(fd);
}

/* Opens path with the live barrier (b) or with the first count shares of s, reads it to the
 * end and returns the first failure; on KH_OK *out holds the plaintext. */
static kh_rc read_back(struct kh_barrier *b, const struct side *s, size_t count, const char *path,
                       struct kh_buf *out)
{
	struct kh_backup_reader *r = NULL;
	enum kh_backup_kind kind = 0;
	struct kh_slice shares[5];
	kh_rc rc;
	if (b != NULL) {
		rc = kh_backup_reader_open(b, path, &r, &kind);
	} else {
		for (size_t i = 0; i < count; i++)
			shares[i] = kh_buf_slice(&s->shares->share[i]);
		rc = kh_backup_reader_open_shares(shares, count, path, &r, &kind);
	}
	if (rc != KH_OK) {
		assert_null(r);
		return rc;
	}
	assert_int_equal(kind, KH_BACKUP_STORE);
	bool end = false;
	size_t chunks = 0;
	while (!end && rc == KH_OK) {
		size_t before = out->len;
		rc = kh_backup_read(r, out, &end);
		/* Every chunk but the last is full. */
		if (rc == KH_OK && !end)
			assert_int_equal(out->len - before, CHUNK);
		chunks++;
	}
	if (rc == KH_OK) {
		/* The end stays the end. */
		size_t len = out->len;
		assert_int_equal(kh_backup_read(r, out, &end), KH_OK);
		assert_true(end);
		assert_int_equal(out->len, len);
	} else {
		/* A failed stream stays failed. */
		assert_int_equal(kh_backup_read(r, out, &end), KH_ERR_DECRYPT);
	}
	kh_backup_reader_close(&r);
	assert_null(r);
	return rc;
}

static kh_rc read_live(struct fixture *f, const char *path)
{
	struct kh_buf out;
	kh_buf_init(&out, BIG, KH_BUF_SECURE);
	kh_rc rc = read_back(f->one.b, NULL, 0, path, &out);
	kh_buf_cleanup(&out);
	return rc;
}

static void check_round_trip(struct fixture *f, size_t len)
{
	uint64_t bytes = 0;
	uint8_t sha[32], want_sha[32];
	struct kh_buf out, file;
	kh_buf_init(&out, BIG, KH_BUF_SECURE);
	kh_buf_init(&file, 2 * BIG, KH_BUF_PLAIN);
	unlink(f->file);
	write_backup(f->one.b, f->file, f->data, len, &bytes, sha);
	assert_int_equal(bytes, file_size(f->file));
	file_read(f->file, &file);
	assert_int_equal(kh_hash(KH_HASH_SHA256, kh_buf_slice(&file), want_sha, 32), KH_OK);
	assert_memory_equal(sha, want_sha, 32);
	/* The plaintext is not in the file. */
	if (len >= 64)
		assert_false(kh_test_file_contains(f->file, KH_SLICE(f->data + len / 2, 32)));
	/* With the live barrier. */
	assert_int_equal(read_back(f->one.b, NULL, 0, f->file, &out), KH_OK);
	assert_int_equal(out.len, len);
	if (len > 0)
		assert_memory_equal(out.ptr, f->data, len);
	assert_true(out.len == 0 || kh_secure_owns(out.ptr));
	/* With any three shares. */
	kh_buf_clear(&out);
	assert_int_equal(read_back(NULL, &f->one, 3, f->file, &out), KH_OK);
	assert_int_equal(out.len, len);
	if (len > 0)
		assert_memory_equal(out.ptr, f->data, len);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&file);
}

static void round_trips_of_every_size(void **state)
{
	struct fixture *f = *state;
	check_round_trip(f, 0);
	check_round_trip(f, 1);
	check_round_trip(f, CHUNK);
	/* One chunk, exactly: a single chunk marked last, no empty one after it. */
	size_t one = file_size(f->file);
	check_round_trip(f, CHUNK - 1);
	assert_int_equal(file_size(f->file) + 1, one);
	check_round_trip(f, CHUNK + 1);
	assert_int_equal(file_size(f->file), one + 1 + CHUNK_OVERHEAD);
	check_round_trip(f, BIG);
}

static void writer_refuses_an_existing_file_and_a_sealed_barrier(void **state)
{
	struct fixture *f = *state;
	struct kh_backup_writer *w = NULL;
	file_write(f->file, KH_SLICE_LIT("keep me"));
	assert_int_equal(kh_backup_writer_open(f->one.b, KH_BACKUP_STORE, f->file, &w),
	                 KH_ERR_CONFLICT);
	assert_null(w);
	assert_int_equal(file_size(f->file), 7); /* untouched */
	assert_int_equal(kh_backup_writer_open(f->one.b, 0, f->file2, &w), KH_ERR_BAD_INPUT);
	/* Abort removes what was written. */
	assert_int_equal(kh_backup_writer_open(f->one.b, KH_BACKUP_ARCHIVE, f->file2, &w), KH_OK);
	assert_int_equal(kh_backup_write(w, KH_SLICE(f->data, 1000)), KH_OK);
	kh_backup_writer_abort(&w);
	assert_null(w);
	assert_int_equal(access(f->file2, F_OK), -1);
	kh_backup_writer_abort(&w); /* NULL is fine */
	assert_int_equal(kh_barrier_seal(f->one.b), KH_OK);
	assert_int_equal(kh_backup_writer_open(f->one.b, KH_BACKUP_STORE, f->file2, &w),
	                 KH_ERR_SEALED);
	assert_int_equal(access(f->file2, F_OK), -1);
}

static void every_header_byte_is_authenticated(void **state)
{
	struct fixture *f = *state;
	struct kh_buf good, bad;
	kh_buf_init(&good, 1 << 20, KH_BUF_PLAIN);
	kh_buf_init(&bad, 1 << 20, KH_BUF_PLAIN);
	write_backup(f->one.b, f->file, f->data, 1, NULL, NULL);
	file_read(f->file, &good);
	size_t header_len = good.len - (1 + CHUNK_OVERHEAD);
	assert_true(header_len > 42 + 60);
	for (size_t i = 0; i < header_len; i++) {
		kh_buf_clear(&bad);
		assert_int_equal(kh_buf_append(&bad, kh_buf_slice(&good)), KH_OK);
		bad.ptr[i] ^= (uint8_t)(1u << (i % 8));
		file_write(f->file2, kh_buf_slice(&bad));
		kh_rc want = i >= 18 && i < 26 ? KH_ERR_FORBIDDEN : KH_ERR_DECRYPT; /* set id */
		kh_rc got = read_live(f, f->file2);
		if (got != want)
			fail_msg("header byte %zu: %s", i, kh_rc_name(got));
	}
	/* Offline, a changed keyring copy or wrapped key fails too. */
	for (size_t i = 42; i < header_len; i += 7) {
		struct kh_buf out;
		kh_buf_clear(&bad);
		assert_int_equal(kh_buf_append(&bad, kh_buf_slice(&good)), KH_OK);
		bad.ptr[i] ^= 0x80;
		file_write(f->file2, kh_buf_slice(&bad));
		kh_buf_init(&out, 16, KH_BUF_SECURE);
		assert_int_equal(read_back(NULL, &f->one, 3, f->file2, &out), KH_ERR_DECRYPT);
		kh_buf_cleanup(&out);
	}
	kh_buf_cleanup(&good);
	kh_buf_cleanup(&bad);
}

/* Chunk i's offset in a BIG backup whose header is header_len bytes. */
static size_t chunk_at(size_t header_len, size_t i)
{
	return header_len + i * (CHUNK + CHUNK_OVERHEAD);
}

static void flip_and_expect(struct fixture *f, const struct kh_buf *good, size_t at, uint8_t mask)
{
	struct kh_buf bad;
	kh_buf_init(&bad, 2 * BIG, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append(&bad, kh_buf_slice(good)), KH_OK);
	bad.ptr[at] ^= mask;
	file_write(f->file2, kh_buf_slice(&bad));
	kh_rc got = read_live(f, f->file2);
	if (got != KH_ERR_DECRYPT)
		fail_msg("flip at %zu: %s", at, kh_rc_name(got));
	kh_buf_cleanup(&bad);
}

static void body_flips_fail(void **state)
{
	struct fixture *f = *state;
	struct kh_buf good;
	kh_buf_init(&good, 2 * BIG, KH_BUF_PLAIN);
	write_backup(f->one.b, f->file, f->data, BIG, NULL, NULL);
	file_read(f->file, &good);
	size_t header_len = good.len - (3 * CHUNK_OVERHEAD + BIG);
	assert_int_equal(read_live(f, f->file), KH_OK);
	for (size_t c = 0; c < 3; c++) {
		size_t at = chunk_at(header_len, c);
		size_t len = c < 2 ? CHUNK : BIG - 2 * CHUNK;
		flip_and_expect(f, &good, at, 0x01);                /* the last flag */
		flip_and_expect(f, &good, at + 1, 0x80);            /* the length, high byte */
		flip_and_expect(f, &good, at + 4, 0x01);            /* the length, low bit */
		flip_and_expect(f, &good, at + 5, 0x01);            /* the first ciphertext byte */
		flip_and_expect(f, &good, at + 5 + len / 2, 0x10);  /* one inside */
		flip_and_expect(f, &good, at + 5 + len + 15, 0x80); /* the tag's last byte */
	}
	kh_buf_cleanup(&good);
}

static void truncation_reordering_and_splicing_fail(void **state)
{
	struct fixture *f = *state;
	struct kh_buf good, other, bad;
	kh_buf_init(&good, 2 * BIG, KH_BUF_PLAIN);
	kh_buf_init(&other, 2 * BIG, KH_BUF_PLAIN);
	kh_buf_init(&bad, 3 * BIG, KH_BUF_PLAIN);
	write_backup(f->one.b, f->file, f->data, BIG, NULL, NULL);
	file_read(f->file, &good);
	size_t header_len = good.len - (3 * CHUNK_OVERHEAD + BIG);
	size_t c1 = chunk_at(header_len, 1), c2 = chunk_at(header_len, 2);
	size_t full = CHUNK + CHUNK_OVERHEAD;

	/* Cut at each chunk boundary, inside a chunk, inside the header, and to nothing. */
	const size_t cuts[] = {c1, c2, c1 + 100, good.len - 1, header_len, header_len - 10, 0};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		file_write(f->file2, KH_SLICE(good.ptr, cuts[i]));
		kh_rc got = read_live(f, f->file2);
		if (got != KH_ERR_DECRYPT)
			fail_msg("cut at %zu: %s", cuts[i], kh_rc_name(got));
	}

	/* Bytes after the last chunk. */
	kh_buf_clear(&bad);
	assert_int_equal(kh_buf_append(&bad, kh_buf_slice(&good)), KH_OK);
	assert_int_equal(kh_buf_append_byte(&bad, 0), KH_OK);
	file_write(f->file2, kh_buf_slice(&bad));
	assert_int_equal(read_live(f, f->file2), KH_ERR_DECRYPT);

	/* The two full chunks swapped. */
	kh_buf_clear(&bad);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr, header_len)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr + c1, full)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr + header_len, full)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr + c2, good.len - c2)), KH_OK);
	file_write(f->file2, kh_buf_slice(&bad));
	assert_int_equal(read_live(f, f->file2), KH_ERR_DECRYPT);

	/* A chunk repeated in place of the next. */
	kh_buf_clear(&bad);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr, c1)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr + header_len, full)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr + c2, good.len - c2)), KH_OK);
	file_write(f->file2, kh_buf_slice(&bad));
	assert_int_equal(read_live(f, f->file2), KH_ERR_DECRYPT);

	/* A chunk of another backup of the same data, same barrier, same place. */
	unlink(f->file2);
	write_backup(f->one.b, f->file2, f->data, BIG, NULL, NULL);
	file_read(f->file2, &other);
	assert_int_equal(other.len, good.len);
	kh_buf_clear(&bad);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr, c1)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(other.ptr + c1, full)), KH_OK);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr + c2, good.len - c2)), KH_OK);
	unlink(f->file2);
	file_write(f->file2, kh_buf_slice(&bad));
	assert_int_equal(read_live(f, f->file2), KH_ERR_DECRYPT);

	/* The last chunk dropped and the one before it claiming to be last. */
	kh_buf_clear(&bad);
	assert_int_equal(kh_buf_append(&bad, KH_SLICE(good.ptr, c2)), KH_OK);
	bad.ptr[c1] = 1;
	file_write(f->file2, kh_buf_slice(&bad));
	assert_int_equal(read_live(f, f->file2), KH_ERR_DECRYPT);

	kh_buf_cleanup(&good);
	kh_buf_cleanup(&other);
	kh_buf_cleanup(&bad);
}

static void another_barrier_and_wrong_shares_are_refused(void **state)
{
	struct fixture *f = *state;
	struct kh_buf out, forged;
	struct kh_slice mixed[3];
	struct kh_backup_reader *r = NULL;
	uint8_t sum[32];
	kh_buf_init(&out, BIG, KH_BUF_SECURE);
	kh_buf_init(&forged, 256, KH_BUF_SECURE);
	write_backup(f->one.b, f->file, f->data, 5000, NULL, NULL);

	/* Another barrier, unsealed, refuses it; and ours refuses the other's. */
	assert_int_equal(read_back(f->other.b, NULL, 0, f->file, &out), KH_ERR_FORBIDDEN);
	write_backup(f->other.b, f->file2, f->data, 5000, NULL, NULL);
	assert_int_equal(read_live(f, f->file2), KH_ERR_FORBIDDEN);
	assert_int_equal(read_back(f->other.b, NULL, 0, f->file2, &out), KH_OK);

	/* The other barrier's share. */
	kh_buf_clear(&out);
	assert_int_equal(read_back(NULL, &f->other, 1, f->file, &out), KH_ERR_FORBIDDEN);
	/* Too few shares. */
	assert_int_equal(read_back(NULL, &f->one, 2, f->file, &out), KH_ERR_BAD_SHARE);
	/* A forged share with a good checksum: combines, opens nothing. */
	assert_int_equal(kh_buf_append(&forged, kh_buf_slice(&f->one.shares->share[2])), KH_OK);
	forged.ptr[11] ^= 0x5a;
	size_t body = forged.len - 4;
	assert_int_equal(kh_hash(KH_HASH_SHA256, KH_SLICE(forged.ptr, body), sum, 32), KH_OK);
	memcpy(forged.ptr + body, sum, 4);
	mixed[0] = kh_buf_slice(&f->one.shares->share[0]);
	mixed[1] = kh_buf_slice(&f->one.shares->share[1]);
	mixed[2] = kh_buf_slice(&forged);
	assert_int_equal(kh_backup_reader_open_shares(mixed, 3, f->file, &r, NULL), KH_ERR_DECRYPT);
	assert_null(r);
	/* A mistyped share. */
	mixed[2] = KH_SLICE(forged.ptr, forged.len - 1);
	assert_int_equal(kh_backup_reader_open_shares(mixed, 3, f->file, &r, NULL),
	                 KH_ERR_BAD_SHARE);
	/* A file that is not there, or not a backup. */
	assert_int_equal(kh_backup_reader_open(f->one.b, "/nonexistent/x.khb", &r, NULL),
	                 KH_ERR_NOT_FOUND);
	assert_int_equal(kh_backup_reader_open(f->one.b, f->one.path, &r, NULL), KH_ERR_DECRYPT);
	/* Sealed, the live barrier cannot open it. */
	assert_int_equal(kh_barrier_seal(f->one.b), KH_OK);
	assert_int_equal(kh_backup_reader_open(f->one.b, f->file, &r, NULL), KH_ERR_SEALED);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&forged);
}

static void backups_outlive_root_rotation_and_rekey(void **state)
{
	struct fixture *f = *state;
	struct kh_barrier_status st;
	struct kh_barrier_shares *fresh = NULL;
	struct kh_slice old[3];
	struct kh_buf out;
	uint32_t term = 0;
	size_t done = 0, left = 0;
	kh_buf_init(&out, BIG, KH_BUF_SECURE);
	write_backup(f->one.b, f->file, f->data, 3000, NULL, NULL);
	/* Term 1 retired: the live keyring no longer has it, the backup's copy does. */
	assert_int_equal(kh_barrier_rotate_root(f->one.b, &term), KH_OK);
	assert_int_equal(kh_barrier_rewrap(f->one.b, 100, &done, &left), KH_OK);
	assert_int_equal(kh_barrier_status(f->one.b, &st), KH_OK);
	assert_int_equal(st.oldest_term, 2);
	assert_int_equal(read_back(f->one.b, NULL, 0, f->file, &out), KH_OK);
	assert_int_equal(out.len, 3000);
	assert_memory_equal(out.ptr, f->data, 3000);
	/* Backups made now use term 2. */
	write_backup(f->one.b, f->file2, f->data, 3000, NULL, NULL);
	assert_int_equal(read_live(f, f->file2), KH_OK);

	/* After a rekey the split is another: online refused, offline with the old shares. */
	for (size_t i = 0; i < 3; i++)
		old[i] = kh_buf_slice(&f->one.shares->share[i]);
	assert_int_equal(kh_barrier_rekey(f->one.b, old, 3, 3, 2, &fresh), KH_OK);
	assert_int_equal(read_live(f, f->file), KH_ERR_FORBIDDEN);
	kh_buf_clear(&out);
	assert_int_equal(read_back(NULL, &f->one, 3, f->file, &out), KH_OK);
	assert_int_equal(out.len, 3000);
	kh_barrier_shares_free(&fresh);
	kh_buf_cleanup(&out);
}

int main(void)
{
	/* Room for a 2.5 MiB plaintext growing in secure memory beside a writer's chunk. */
	if (kh_secure_init((size_t)16 * 1024 * 1024) != KH_OK)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(round_trips_of_every_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(writer_refuses_an_existing_file_and_a_sealed_barrier,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(every_header_byte_is_authenticated, setup, teardown),
	    cmocka_unit_test_setup_teardown(body_flips_fail, setup, teardown),
	    cmocka_unit_test_setup_teardown(truncation_reordering_and_splicing_fail, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(another_barrier_and_wrong_shares_are_refused, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(backups_outlive_root_rotation_and_rekey, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
