// SPDX-License-Identifier: Apache-2.0
/*
 * The KHE1 envelope format (kh_envelope.h): header encoding and strict decoding, and the
 * chunked AES-256-GCM stream. Memory is constant: one chunk of plaintext (secure) and one of
 * ciphertext, whatever the length of the stream. Plaintext reaches the output only after its
 * chunk has authenticated.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_endian.h"
#include "base/kh_mem.h"
#include "client/kh_envelope.h"
#include "crypto/kh_crypto.h"

#define FIXED_LEN 22u /* magic, alg, chunk_size, nonce_base, tag_len */
#define AAD_LEN 41u   /* header hash, counter, final flag */

bool kh_envelope_tag_ok(const char *tag)
{
	size_t n = tag != NULL ? strnlen(tag, KH_ENVELOPE_TAG_MAX + 1) : 0;
	if (n == 0 || n > KH_ENVELOPE_TAG_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = tag[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
		if (!ok)
			return false;
	}
	/* "." and ".." would change the meaning of a URL path. */
	return strcmp(tag, ".") != 0 && strcmp(tag, "..") != 0;
}

/* A sealed data key as the server writes it: "kh:v" and visible ASCII only. */
static bool dk_ok(const char *dk, size_t n)
{
	if (n < 5 || n > KH_ENVELOPE_DK_MAX || strncmp(dk, "kh:v", 4) != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (dk[i] < 0x21 || dk[i] > 0x7e)
			return false;
	}
	return true;
}

static bool chunk_size_ok(uint32_t n)
{
	return n >= KH_ENVELOPE_CHUNK_MIN && n <= KH_ENVELOPE_CHUNK_MAX;
}

kh_rc kh_envelope_header_init(struct kh_envelope_header *h, const char *tag,
                              const char *dk_ciphertext, uint32_t chunk_size)
{
	size_t dk_len = dk_ciphertext != NULL ? strnlen(dk_ciphertext, KH_ENVELOPE_DK_MAX + 1) : 0;
	if (chunk_size == 0)
		chunk_size = KH_ENVELOPE_CHUNK_DEFAULT;
	KH_ENSURE(kh_envelope_tag_ok(tag) && dk_ok(dk_ciphertext, dk_len) &&
	              chunk_size_ok(chunk_size),
	          KH_ERR_BAD_INPUT);
	memset(h, 0, sizeof(*h));
	h->chunk_size = chunk_size;
	KH_GUARD(kh_rand_bytes(h->nonce_base, sizeof(h->nonce_base)));
	memcpy(h->key_tag, tag, strlen(tag) + 1);
	memcpy(h->dk_ciphertext, dk_ciphertext, dk_len + 1);
	return KH_OK;
}

kh_rc kh_envelope_header_encode(struct kh_envelope_header *h, struct kh_buf *out)
{
	uint8_t fixed[FIXED_LEN], dk_len[2];
	size_t start = out->len, tag_len = strlen(h->key_tag), dk_n = strlen(h->dk_ciphertext);
	KH_ENSURE(kh_envelope_tag_ok(h->key_tag) && dk_ok(h->dk_ciphertext, dk_n) &&
	              chunk_size_ok(h->chunk_size),
	          KH_ERR_BAD_INPUT);
	memcpy(fixed, KH_ENVELOPE_MAGIC, 4);
	fixed[4] = KH_ENVELOPE_ALG_AES_256_GCM;
	kh_be32_put(fixed + 5, h->chunk_size);
	memcpy(fixed + 9, h->nonce_base, KH_ENVELOPE_NONCE_LEN);
	fixed[21] = (uint8_t)tag_len;
	dk_len[0] = (uint8_t)(dk_n >> 8);
	dk_len[1] = (uint8_t)dk_n;
	KH_GUARD(kh_buf_append(out, KH_SLICE(fixed, sizeof(fixed))));
	KH_GUARD(kh_buf_append(out, KH_SLICE(h->key_tag, tag_len)));
	KH_GUARD(kh_buf_append(out, KH_SLICE(dk_len, sizeof(dk_len))));
	KH_GUARD(kh_buf_append(out, KH_SLICE(h->dk_ciphertext, dk_n)));
	return kh_hash(KH_HASH_SHA256, KH_SLICE(out->ptr + start, out->len - start), h->hash,
	               sizeof(h->hash));
}

/* ---- reading ---- */

static size_t read_full(FILE *in, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		size_t r = fread(p + got, 1, n - got, in);
		if (r == 0)
			break;
		got += r;
	}
	return got;
}

static kh_rc header_fail(char *out_error, size_t out_error_len, const char *why)
{
	if (out_error != NULL && out_error_len > 0)
		snprintf(out_error, out_error_len, "%s", why);
	return KH_ERR_BAD_INPUT;
}

/* Reads exactly n bytes into p and into the running header hash. */
static kh_rc read_part(FILE *in, uint8_t *p, size_t n, struct kh_hash_ctx *hc)
{
	size_t got = read_full(in, p, n);
	if (got != n)
		return ferror(in) ? KH_ERR_STORAGE : KH_ERR_BAD_INPUT;
	return kh_hash_ctx_update(hc, KH_SLICE(p, n));
}

static kh_rc header_fixed(FILE *in, struct kh_envelope_header *h, struct kh_hash_ctx *hc,
                          size_t *out_tag_len, char *err, size_t err_len)
{
	uint8_t fixed[FIXED_LEN];
	kh_rc rc = read_part(in, fixed, sizeof(fixed), hc);
	if (rc == KH_ERR_BAD_INPUT || (rc == KH_OK && memcmp(fixed, KH_ENVELOPE_MAGIC, 4) != 0))
		return header_fail(err, err_len, "not a keyhold envelope file (no KHE1 header)");
	KH_GUARD(rc);
	if (fixed[4] != KH_ENVELOPE_ALG_AES_256_GCM)
		return header_fail(err, err_len, "unknown envelope algorithm");
	h->chunk_size = kh_be32_get(fixed + 5);
	if (!chunk_size_ok(h->chunk_size))
		return header_fail(err, err_len, "envelope chunk size out of range");
	memcpy(h->nonce_base, fixed + 9, KH_ENVELOPE_NONCE_LEN);
	*out_tag_len = fixed[21];
	if (*out_tag_len == 0 || *out_tag_len > KH_ENVELOPE_TAG_MAX)
		return header_fail(err, err_len, "envelope key tag length out of range");
	return KH_OK;
}

static kh_rc header_strings(FILE *in, struct kh_envelope_header *h, struct kh_hash_ctx *hc,
                            size_t tag_len, char *err, size_t err_len)
{
	uint8_t dk_len_be[2];
	size_t dk_len;
	kh_rc rc = read_part(in, (uint8_t *)h->key_tag, tag_len, hc);
	if (rc == KH_OK)
		rc = read_part(in, dk_len_be, sizeof(dk_len_be), hc);
	if (rc == KH_ERR_BAD_INPUT)
		return header_fail(err, err_len, "envelope header cut short");
	KH_GUARD(rc);
	h->key_tag[tag_len] = '\0';
	if (!kh_envelope_tag_ok(h->key_tag))
		return header_fail(err, err_len, "envelope key tag malformed");
	dk_len = (size_t)dk_len_be[0] << 8 | dk_len_be[1];
	if (dk_len == 0 || dk_len > KH_ENVELOPE_DK_MAX)
		return header_fail(err, err_len, "envelope data key length out of range");
	rc = read_part(in, (uint8_t *)h->dk_ciphertext, dk_len, hc);
	if (rc == KH_ERR_BAD_INPUT)
		return header_fail(err, err_len, "envelope header cut short");
	KH_GUARD(rc);
	h->dk_ciphertext[dk_len] = '\0';
	if (!dk_ok(h->dk_ciphertext, dk_len))
		return header_fail(err, err_len, "envelope data key malformed");
	return KH_OK;
}

kh_rc kh_envelope_header_read(FILE *in, struct kh_envelope_header *out, char *out_error,
                              size_t out_error_len)
{
	kh_rc rc = KH_OK;
	struct kh_hash_ctx *hc = NULL;
	size_t tag_len = 0;
	struct kh_envelope_header *h = kh_calloc(1, sizeof(*h));
	KH_ENSURE(h != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(kh_hash_ctx_new(KH_HASH_SHA256, &hc));
	KH_GUARD_OUT(header_fixed(in, h, hc, &tag_len, out_error, out_error_len));
	KH_GUARD_OUT(header_strings(in, h, hc, tag_len, out_error, out_error_len));
	KH_GUARD_OUT(kh_hash_ctx_final(hc, h->hash, sizeof(h->hash)));
	*out = *h;
out:
	kh_hash_ctx_free(&hc);
	kh_free(&h);
	return rc;
}

/* ---- chunks ---- */

/* RFC 8446 5.3: the counter, left-padded to the nonce length, XORed into the base. */
static void chunk_nonce(const struct kh_envelope_header *h, uint64_t i,
                        uint8_t nonce[KH_ENVELOPE_NONCE_LEN])
{
	uint8_t ctr[8];
	kh_be64_put(ctr, i);
	memcpy(nonce, h->nonce_base, KH_ENVELOPE_NONCE_LEN);
	for (size_t k = 0; k < 8; k++)
		nonce[4 + k] ^= ctr[k];
}

static void chunk_aad(const struct kh_envelope_header *h, uint64_t i, bool final,
                      uint8_t aad[AAD_LEN])
{
	memcpy(aad, h->hash, 32);
	kh_be64_put(aad + 32, i);
	aad[40] = final ? 1 : 0;
}

/* Whether in is at its end (one byte looked at and put back). */
static bool at_eof(FILE *in)
{
	int ch = getc(in);
	if (ch == EOF)
		return true;
	return ungetc(ch, in) == EOF; /* cannot happen for one byte; treat as the end */
}

static void report(const struct kh_envelope_progress *p, uint64_t done)
{
	if (p != NULL && p->fn != NULL)
		p->fn(done, p->total, p->arg);
}

struct chunk_state {
	struct kh_aead_key *key;
	uint8_t *buf; /* chunk_size + tag */
	uint64_t done;
};

static kh_rc seal_chunks(const struct kh_envelope_header *h, struct chunk_state *s, FILE *in,
                         FILE *out, const struct kh_envelope_progress *progress)
{
	uint8_t nonce[KH_ENVELOPE_NONCE_LEN], aad[AAD_LEN];
	for (uint64_t i = 0;; i++) {
		KH_ENSURE(i < KH_ENVELOPE_CHUNKS_MAX, KH_ERR_TOO_LARGE);
		size_t n = read_full(in, s->buf, h->chunk_size);
		KH_ENSURE(!ferror(in), KH_ERR_STORAGE);
		bool final = n < h->chunk_size || at_eof(in);
		KH_ENSURE(!ferror(in), KH_ERR_STORAGE);
		chunk_nonce(h, i, nonce);
		chunk_aad(h, i, final, aad);
		KH_GUARD(kh_aead_seal(s->key, KH_SLICE(nonce, sizeof(nonce)),
		                      KH_SLICE(aad, sizeof(aad)), KH_SLICE(s->buf, n), s->buf,
		                      s->buf + n));
		KH_ENSURE(fwrite(s->buf, 1, n + KH_ENVELOPE_GCM_TAG_LEN, out) ==
		              n + KH_ENVELOPE_GCM_TAG_LEN,
		          KH_ERR_STORAGE);
		s->done += n;
		report(progress, s->done);
		if (final)
			return KH_OK;
	}
}

kh_rc kh_envelope_seal(struct kh_envelope_header *h, struct kh_slice key, FILE *in, FILE *out,
                       const struct kh_envelope_progress *progress)
{
	kh_rc rc = KH_OK;
	struct kh_buf hdr;
	struct chunk_state s = {0};
	KH_ENSURE(key.len == KH_ENVELOPE_KEY_LEN, KH_ERR_BAD_INPUT);
	kh_buf_init(&hdr, FIXED_LEN + KH_ENVELOPE_TAG_MAX + 2 + KH_ENVELOPE_DK_MAX, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_envelope_header_encode(h, &hdr));
	KH_GUARD_OUT(kh_aead_key_new(KH_AEAD_AES_256_GCM, key, &s.key));
	/* The plaintext chunk is a secret: secure memory, sealed in place. */
	s.buf = kh_secure_alloc(h->chunk_size + KH_ENVELOPE_GCM_TAG_LEN);
	KH_ENSURE_OUT(s.buf != NULL, KH_ERR_NOMEM);
	KH_ENSURE_OUT(fwrite(hdr.ptr, 1, hdr.len, out) == hdr.len, KH_ERR_STORAGE);
	KH_GUARD_OUT(seal_chunks(h, &s, in, out, progress));
	KH_ENSURE_OUT(fflush(out) == 0 && !ferror(out), KH_ERR_STORAGE);
out:
	kh_secure_free(&s.buf);
	kh_aead_key_free(&s.key);
	kh_buf_cleanup(&hdr);
	return rc;
}

/* Opens one record of n bytes (ciphertext and tag) as chunk i into pt. */
static kh_rc open_record(const struct kh_envelope_header *h, struct kh_aead_key *key, uint64_t i,
                         bool final, const uint8_t *rec, size_t n, uint8_t *pt)
{
	uint8_t nonce[KH_ENVELOPE_NONCE_LEN], aad[AAD_LEN];
	size_t ct_len = n - KH_ENVELOPE_GCM_TAG_LEN;
	chunk_nonce(h, i, nonce);
	chunk_aad(h, i, final, aad);
	return kh_aead_open(key, KH_SLICE(nonce, sizeof(nonce)), KH_SLICE(aad, sizeof(aad)),
	                    KH_SLICE(rec, ct_len), KH_SLICE(rec + ct_len, KH_ENVELOPE_GCM_TAG_LEN),
	                    pt);
}

/* A chunk that fails as the last one but opens as an inner one: the file was cut there. */
static kh_rc open_fault(const struct kh_envelope_header *h, struct chunk_state *s, uint64_t i,
                        bool final, const uint8_t *rec, size_t n, struct kh_envelope_fault *fault)
{
	fault->chunk = i;
	fault->truncated = final && n == (size_t)h->chunk_size + KH_ENVELOPE_GCM_TAG_LEN &&
	                   open_record(h, s->key, i, false, rec, n, s->buf) == KH_OK;
	kh_wipe(s->buf, h->chunk_size);
	return KH_ERR_DECRYPT;
}

static kh_rc open_chunks(const struct kh_envelope_header *h, struct chunk_state *s, uint8_t *rec,
                         FILE *in, FILE *out, const struct kh_envelope_progress *progress,
                         struct kh_envelope_fault *fault)
{
	size_t rec_len = (size_t)h->chunk_size + KH_ENVELOPE_GCM_TAG_LEN;
	for (uint64_t i = 0;; i++) {
		KH_ENSURE(i < KH_ENVELOPE_CHUNKS_MAX, KH_ERR_TOO_LARGE);
		size_t n = read_full(in, rec, rec_len);
		KH_ENSURE(!ferror(in), KH_ERR_STORAGE);
		if (n < KH_ENVELOPE_GCM_TAG_LEN) {
			/* No room for a tag: the final chunk is missing or cut. */
			*fault = (struct kh_envelope_fault){i, true};
			return KH_ERR_DECRYPT;
		}
		bool final = n < rec_len || at_eof(in);
		KH_ENSURE(!ferror(in), KH_ERR_STORAGE);
		if (open_record(h, s->key, i, final, rec, n, s->buf) != KH_OK)
			return open_fault(h, s, i, final, rec, n, fault);
		size_t pt_len = n - KH_ENVELOPE_GCM_TAG_LEN;
		KH_ENSURE(fwrite(s->buf, 1, pt_len, out) == pt_len, KH_ERR_STORAGE);
		kh_wipe(s->buf, pt_len);
		s->done += pt_len;
		report(progress, s->done);
		if (final)
			return KH_OK;
	}
}

kh_rc kh_envelope_open(const struct kh_envelope_header *h, struct kh_slice key, FILE *in, FILE *out,
                       const struct kh_envelope_progress *progress,
                       struct kh_envelope_fault *out_fault)
{
	kh_rc rc = KH_OK;
	struct chunk_state s = {0};
	struct kh_envelope_fault fault = {0, false};
	uint8_t *rec = NULL;
	KH_ENSURE(key.len == KH_ENVELOPE_KEY_LEN && chunk_size_ok(h->chunk_size), KH_ERR_BAD_INPUT);
	KH_GUARD_OUT(kh_aead_key_new(KH_AEAD_AES_256_GCM, key, &s.key));
	rec = kh_alloc((size_t)h->chunk_size + KH_ENVELOPE_GCM_TAG_LEN);
	s.buf = kh_secure_alloc(h->chunk_size);
	KH_ENSURE_OUT(rec != NULL && s.buf != NULL, KH_ERR_NOMEM);
	rc = open_chunks(h, &s, rec, in, out, progress, &fault);
	if (rc == KH_ERR_DECRYPT && out_fault != NULL)
		*out_fault = fault;
	KH_GUARD_OUT(rc);
	KH_ENSURE_OUT(fflush(out) == 0 && !ferror(out), KH_ERR_STORAGE);
out:
	kh_secure_free(&s.buf);
	kh_free(&rec);
	kh_aead_key_free(&s.key);
	return rc;
}
