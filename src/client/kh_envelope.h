/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The envelope file format "KHE1" without the server: header encoding and strict decoding, and
 * the chunked AES-256-GCM stream under a data key the caller already holds. envelope.c adds
 * the server round trips (data key out, data key back in); tests drive this part with a fixed
 * key.
 *
 * Layout (integers big-endian; docs/cli.md "Envelope file format" is the user's copy):
 *
 *   header  "KHE1" | alg (1) = 1: AES-256-GCM | chunk_size (4) | nonce_base (12)
 *           | tag_len (1) | key tag (tag_len, [A-Za-z0-9_.-]) | dk_len (2)
 *           | data-key ciphertext (dk_len, printable ASCII "kh:v<N>:...")
 *   chunks  ciphertext (chunk_size bytes; the final chunk 0..chunk_size) | GCM tag (16)
 *
 * Chunk i (from 0) uses nonce = nonce_base XOR (0^32 || BE64(i)) (the per-record nonce of
 * RFC 8446 5.3) and AAD = SHA-256(header) || BE64(i) || final (1 byte, 1 on the last chunk
 * only). The hash binds every header byte to every chunk; the counter fixes the order; the
 * final flag makes a file cut at a chunk boundary fail (the new last chunk was sealed as not
 * final) and makes bytes after the final chunk fail too. Every file has a final chunk (empty
 * only for an empty plaintext); a reader knows the last record by reaching the end of the file.
 */
#ifndef KH_ENVELOPE_H
#define KH_ENVELOPE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/kh_buf.h"

#define KH_ENVELOPE_MAGIC "KHE1"
#define KH_ENVELOPE_ALG_AES_256_GCM 1u
#define KH_ENVELOPE_CHUNK_DEFAULT (64u * 1024u)
/* Chunk sizes a reader accepts: the plaintext chunk lives in secure memory, so a file may not
 * make us lock more than a megabyte. */
#define KH_ENVELOPE_CHUNK_MIN 1024u
#define KH_ENVELOPE_CHUNK_MAX (1024u * 1024u)
#define KH_ENVELOPE_TAG_MAX 64u
/* A sealed 256-bit data key is about 90 characters; room for any key type the server has. */
#define KH_ENVELOPE_DK_MAX 4096u
#define KH_ENVELOPE_NONCE_LEN 12u
#define KH_ENVELOPE_KEY_LEN 32u
#define KH_ENVELOPE_GCM_TAG_LEN 16u
/* AES-GCM under one key: stay far below 2^32 invocations. */
#define KH_ENVELOPE_CHUNKS_MAX (1ull << 31)

struct kh_envelope_header {
	uint32_t chunk_size;
	uint8_t nonce_base[KH_ENVELOPE_NONCE_LEN];
	char key_tag[KH_ENVELOPE_TAG_MAX + 1];
	char dk_ciphertext[KH_ENVELOPE_DK_MAX + 1];
	uint8_t hash[32]; /* SHA-256 of the encoded header, set by encode and read */
};

/* Progress of a stream: bytes of plaintext done, and the total (0 when unknown). */
struct kh_envelope_progress {
	void (*fn)(uint64_t done, uint64_t total, void *arg);
	void *arg;
	uint64_t total;
};

/* Where a stream failed to authenticate: the chunk, and whether the file ends at a chunk
 * boundary that was not sealed as the last one (cut short, rather than altered). */
struct kh_envelope_fault {
	uint64_t chunk;
	bool truncated;
};

/* Whether a key tag may go into the header (and into a URL path): 1..64 of [A-Za-z0-9_.-]. */
bool kh_envelope_tag_ok(const char *tag);

/* Fills h for tag and dk (checked), with chunk_size (0: default) and a random nonce base. */
KH_MUST_CHECK kh_rc kh_envelope_header_init(struct kh_envelope_header *h, const char *tag,
                                            const char *dk_ciphertext, uint32_t chunk_size);
/* Appends the encoded header to out and sets h->hash. */
KH_MUST_CHECK kh_rc kh_envelope_header_encode(struct kh_envelope_header *h, struct kh_buf *out);
/*
 * Reads and checks a header from in: KH_ERR_BAD_INPUT when it is not a KHE1 header we accept
 * (message in out_error, 128 bytes), KH_ERR_STORAGE on a read error. Nothing is allocated
 * from a size the file declares before it is checked against the limits above.
 */
KH_MUST_CHECK kh_rc kh_envelope_header_read(FILE *in, struct kh_envelope_header *out,
                                            char *out_error, size_t out_error_len);

/* Writes the header, then the sealed chunks of everything in reads until EOF. key is the
 * 32-byte data key. KH_ERR_STORAGE on a read or write error. */
KH_MUST_CHECK kh_rc kh_envelope_seal(struct kh_envelope_header *h, struct kh_slice key, FILE *in,
                                     FILE *out, const struct kh_envelope_progress *progress);
/*
 * Opens the chunks that follow a header read by kh_envelope_header_read, writing plaintext to
 * out as each chunk authenticates. KH_ERR_DECRYPT when a chunk does not authenticate or the
 * file is cut or extended (*out_fault says where; optional); KH_ERR_STORAGE on I/O errors.
 */
KH_MUST_CHECK kh_rc kh_envelope_open(const struct kh_envelope_header *h, struct kh_slice key,
                                     FILE *in, FILE *out,
                                     const struct kh_envelope_progress *progress,
                                     struct kh_envelope_fault *out_fault);

#endif
