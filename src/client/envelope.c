// SPDX-License-Identifier: Apache-2.0
/*
 * Envelope encryption of streams and files (keyhold.h): a fresh data key from the server
 * wraps the data locally in the KHE1 format (format.c); to decrypt, the server unseals the
 * data key named in the header. The data key exists in clear only in secure memory, for the
 * length of one call. File outputs go through a temporary file renamed on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kh_mem.h"
#include "client/kh_client_int.h"
#include "client/kh_envelope.h"

/* The size of a regular file behind a stream, 0 when it is a pipe or unknown. */
static uint64_t stream_size(FILE *f)
{
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		return 0;
	return (uint64_t)st.st_size;
}

static void progress_of(const struct keyhold_envelope_options *o, uint64_t total,
                        struct kh_envelope_progress *out)
{
	*out = (struct kh_envelope_progress){NULL, NULL, total};
	if (o != NULL) {
		out->fn = o->progress;
		out->arg = o->progress_arg;
	}
}

static enum keyhold_err io_fail(struct keyhold_client *c, kh_rc rc, const char *what)
{
	switch (rc) {
	case KH_ERR_STORAGE:
		return kh_client_fail(c, KEYHOLD_ERR_IO, what);
	case KH_ERR_TOO_LARGE:
		return kh_client_fail(c, KEYHOLD_ERR_TOO_LARGE,
		                      "the stream is too long for one data key");
	default:
		return kh_client_fail(c, kh_client_err_of(rc), NULL);
	}
}

enum keyhold_err keyhold_envelope_encrypt_stream(struct keyhold_client *c, const char *tag,
                                                 FILE *in, FILE *out,
                                                 const struct keyhold_envelope_options *options)
{
	struct keyhold_buf dk = {0}, dk_ct = {0};
	struct kh_envelope_progress progress;
	KH_ENSURE(c != NULL && in != NULL && out != NULL, KEYHOLD_ERR_USAGE);
	uint32_t chunk = options != NULL ? options->chunk_size : 0;
	if (chunk != 0 && (chunk < KH_ENVELOPE_CHUNK_MIN || chunk > KH_ENVELOPE_CHUNK_MAX))
		return kh_client_fail(c, KEYHOLD_ERR_USAGE, "the chunk size must be 1 KiB..1 MiB");
	struct kh_envelope_header *h = kh_calloc(1, sizeof(*h));
	KH_ENSURE(h != NULL, kh_client_fail(c, KEYHOLD_ERR_NOMEM, NULL));
	enum keyhold_err err = keyhold_data_key(c, tag, 256, NULL, 0, &dk, &dk_ct);
	if (err == KEYHOLD_OK && dk.len != KH_ENVELOPE_KEY_LEN)
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "the data key is not 256 bits");
	if (err == KEYHOLD_OK &&
	    kh_envelope_header_init(h, tag, (const char *)dk_ct.data, chunk) != KH_OK)
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "the sealed data key is malformed");
	if (err == KEYHOLD_OK) {
		progress_of(options, stream_size(in), &progress);
		kh_rc rc = kh_envelope_seal(h, KH_SLICE(dk.data, dk.len), in, out, &progress);
		if (rc != KH_OK)
			err = io_fail(c, rc, "cannot read the input or write the envelope");
	}
	keyhold_buf_free(&dk);
	keyhold_buf_free(&dk_ct);
	kh_free(&h);
	return err;
}

static enum keyhold_err open_fail(struct keyhold_client *c, kh_rc rc,
                                  const struct kh_envelope_fault *f)
{
	char msg[160];
	if (rc != KH_ERR_DECRYPT)
		return io_fail(c, rc, "cannot read the envelope or write the output");
	if (f->truncated)
		snprintf(
		    msg, sizeof(msg),
		    "the envelope is truncated: it ends after chunk %llu, which is not the last",
		    (unsigned long long)f->chunk);
	else
		snprintf(msg, sizeof(msg),
		         "the envelope is altered, truncated or extended: chunk %llu does not "
		         "authenticate",
		         (unsigned long long)f->chunk);
	return kh_client_fail(c, KEYHOLD_ERR_INTEGRITY, msg);
}

enum keyhold_err keyhold_envelope_decrypt_stream(struct keyhold_client *c, FILE *in, FILE *out,
                                                 const struct keyhold_envelope_options *options)
{
	char why[128] = "";
	struct keyhold_buf dk = {0};
	struct kh_envelope_progress progress;
	struct kh_envelope_fault fault = {0, false};
	KH_ENSURE(c != NULL && in != NULL && out != NULL, KEYHOLD_ERR_USAGE);
	struct kh_envelope_header *h = kh_calloc(1, sizeof(*h));
	KH_ENSURE(h != NULL, kh_client_fail(c, KEYHOLD_ERR_NOMEM, NULL));
	enum keyhold_err err = KEYHOLD_OK;
	kh_rc rc = kh_envelope_header_read(in, h, why, sizeof(why));
	if (rc == KH_ERR_BAD_INPUT)
		err = kh_client_fail(c, KEYHOLD_ERR_FORMAT, why);
	else if (rc != KH_OK)
		err = io_fail(c, rc, "cannot read the envelope");
	if (err == KEYHOLD_OK)
		err = keyhold_decrypt(c, h->key_tag, h->dk_ciphertext, NULL, 0, &dk);
	if (err == KEYHOLD_OK && dk.len != KH_ENVELOPE_KEY_LEN)
		err = kh_client_fail(c, KEYHOLD_ERR_FORMAT,
		                     "the envelope's data key is not 256 bits");
	if (err == KEYHOLD_OK) {
		uint64_t size = stream_size(in);
		progress_of(options, size, &progress);
		/* Progress counts plaintext: roughly the file less its header and tags. */
		if (size > 0)
			progress.total = size - size / ((uint64_t)h->chunk_size + 16u) * 16u;
		rc = kh_envelope_open(h, KH_SLICE(dk.data, dk.len), in, out, &progress, &fault);
		if (rc != KH_OK)
			err = open_fail(c, rc, &fault);
	}
	keyhold_buf_free(&dk);
	kh_free(&h);
	return err;
}

/* ---- files ---- */

struct out_file {
	char *tmp;
	FILE *f;
};

/* A temporary file beside path, mode 0600. */
static enum keyhold_err out_open(struct keyhold_client *c, const char *path, struct out_file *o)
{
	size_t n = strlen(path) + sizeof(".XXXXXX");
	o->tmp = kh_alloc(n);
	KH_ENSURE(o->tmp != NULL, kh_client_fail(c, KEYHOLD_ERR_NOMEM, NULL));
	snprintf(o->tmp, n, "%s.XXXXXX", path);
	int fd = mkstemp(o->tmp);
	if (fd >= 0)
		o->f = fdopen(fd, "wb");
	if (o->f == NULL) {
		if (fd >= 0) {
			close(fd);
			unlink(o->tmp);
		}
		kh_free(&o->tmp);
		return kh_client_fail(c, KEYHOLD_ERR_IO, "cannot create the output file");
	}
	return KEYHOLD_OK;
}

/* Renames the temporary file into place on success; removes it otherwise. */
static enum keyhold_err out_close(struct keyhold_client *c, const char *path, struct out_file *o,
                                  enum keyhold_err err)
{
	bool ok = err == KEYHOLD_OK && fflush(o->f) == 0 && fsync(fileno(o->f)) == 0;
	ok = fclose(o->f) == 0 && ok;
	if (ok)
		ok = rename(o->tmp, path) == 0;
	if (!ok)
		unlink(o->tmp);
	kh_free(&o->tmp);
	if (err == KEYHOLD_OK && !ok)
		err = kh_client_fail(c, KEYHOLD_ERR_IO, "cannot write the output file");
	return err;
}

typedef enum keyhold_err (*stream_fn)(struct keyhold_client *c, const char *tag, FILE *in,
                                      FILE *out, const struct keyhold_envelope_options *options);

static enum keyhold_err decrypt_adapter(struct keyhold_client *c, const char *tag, FILE *in,
                                        FILE *out, const struct keyhold_envelope_options *options)
{
	(void)tag;
	return keyhold_envelope_decrypt_stream(c, in, out, options);
}

static enum keyhold_err file_run(struct keyhold_client *c, stream_fn fn, const char *tag,
                                 const char *in_path, const char *out_path,
                                 const struct keyhold_envelope_options *options)
{
	struct out_file o = {NULL, NULL};
	KH_ENSURE(c != NULL && in_path != NULL && out_path != NULL, KEYHOLD_ERR_USAGE);
	FILE *in = fopen(in_path, "rb");
	if (in == NULL)
		return kh_client_fail(c, KEYHOLD_ERR_IO, "cannot open the input file");
	enum keyhold_err err = out_open(c, out_path, &o);
	if (err == KEYHOLD_OK) {
		/* Unbuffered: whole chunks go straight between the files and our secure memory,
		 * and no stdio buffer in the heap keeps a copy of the plaintext. */
		setvbuf(in, NULL, _IONBF, 0);
		setvbuf(o.f, NULL, _IONBF, 0);
		err = fn(c, tag, in, o.f, options);
		err = out_close(c, out_path, &o, err);
	}
	fclose(in);
	return err;
}

enum keyhold_err keyhold_envelope_encrypt_file(struct keyhold_client *c, const char *tag,
                                               const char *in_path, const char *out_path,
                                               const struct keyhold_envelope_options *options)
{
	return file_run(c, keyhold_envelope_encrypt_stream, tag, in_path, out_path, options);
}

enum keyhold_err keyhold_envelope_decrypt_file(struct keyhold_client *c, const char *in_path,
                                               const char *out_path,
                                               const struct keyhold_envelope_options *options)
{
	return file_run(c, decrypt_adapter, NULL, in_path, out_path, options);
}
