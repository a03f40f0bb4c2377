/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkeyhold: the C client of keyholdd's REST API v1 (API.md), and envelope encryption of
 * files under a data key the server issues.
 *
 * A struct keyhold_client holds one server address, one bearer token and one keep-alive
 * connection; use one client per thread. Every call returns an enum keyhold_err; after a
 * failure keyhold_client_error() tells what the server (or the network) said.
 *
 * TLS is always verified (against the CA file given, else the system's trust store); plain
 * http:// is accepted only for loopback addresses. Secrets (the token, plaintexts, data keys,
 * every response body) are kept in locked memory excluded from core dumps and wiped when
 * released; libcurl's own transfer buffers are outside that control.
 *
 * This header is the whole public interface: no internal header of keyhold is needed.
 */
#ifndef KEYHOLD_H
#define KEYHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KEYHOLD_WARN_UNUSED __attribute__((warn_unused_result))

/* ---- errors ---- */

enum keyhold_err {
	KEYHOLD_OK = 0,
	KEYHOLD_ERR_USAGE,              /* a bad argument to the library (NULL, empty, too long) */
	KEYHOLD_ERR_CONFIG,             /* address, CA file or token file unusable */
	KEYHOLD_ERR_NOMEM,              /* out of (secure) memory */
	KEYHOLD_ERR_CONNECT,            /* no answer: refused, DNS, TLS verification, timeout */
	KEYHOLD_ERR_PROTOCOL,           /* the server's answer is not what the API promises */
	KEYHOLD_ERR_BAD_REQUEST,        /* 400: the request was refused as malformed */
	KEYHOLD_ERR_INVALID_CIPHERTEXT, /* 400 InvalidCiphertext: altered, or wrong key/context */
	KEYHOLD_ERR_UNAUTHENTICATED,    /* 401: no token, or unknown, expired or revoked */
	KEYHOLD_ERR_FORBIDDEN,          /* 403 */
	KEYHOLD_ERR_NOT_FOUND,          /* 404 (also for keys the caller holds no role on) */
	KEYHOLD_ERR_CONFLICT,           /* 409: disabled key or version, pending deletion, exists */
	KEYHOLD_ERR_TOO_LARGE,          /* 413 */
	KEYHOLD_ERR_RATE_LIMITED,       /* 429 */
	KEYHOLD_ERR_CLIENT,             /* another 4xx */
	KEYHOLD_ERR_SEALED,             /* 503: the service is sealed */
	KEYHOLD_ERR_SERVER,             /* another 5xx */
	KEYHOLD_ERR_IO,                 /* reading or writing a local file failed */
	KEYHOLD_ERR_FORMAT,             /* not an envelope file, or a header we refuse */
	KEYHOLD_ERR_INTEGRITY,          /* an envelope file was altered, truncated or extended */
	KEYHOLD_ERR_CRYPTO,             /* the local crypto library failed */
	KEYHOLD_ERR_INTERNAL,
};

/* A short English sentence for the code; never NULL. */
const char *keyhold_strerror(enum keyhold_err err);

/* ---- set-up ---- */

/*
 * Process-wide set-up, once, before threads start: libcurl, the crypto library, and the secure
 * arena (secure_arena_bytes; 0 for the default of 4 MiB). Optional for single-threaded
 * programs: keyhold_client_new does it on first use with the default size.
 */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_global_init(size_t secure_arena_bytes);

struct keyhold_client;

/*
 * A client of the server at address: "https://host[:port][/prefix]" (a missing scheme means
 * https), or "http://..." for 127.0.0.0/8, [::1] and localhost only. No token yet: set one
 * before calling anything but health, init and unseal.
 */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_client_new(const char *address,
                                                        struct keyhold_client **out);
/* Frees the client (NULL accepted) and wipes its token; sets *client to NULL. */
void keyhold_client_free(struct keyhold_client **client);

/* The bearer token (len bytes, no NUL needed); copied into secure memory. len 0 clears it. */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_client_set_token(struct keyhold_client *client,
                                                              const char *token, size_t len);
/* Reads the token from a file (its first line; "-" reads standard input). */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_client_set_token_file(struct keyhold_client *client,
                                                                   const char *path);
/* PEM file of the CA certificates to trust instead of the system's; NULL: the system's. */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_client_set_ca_file(struct keyhold_client *client,
                                                                const char *path);
/* Connection and whole-request timeouts in milliseconds (0 keeps the default: 10 s, 60 s). */
void keyhold_client_set_timeouts(struct keyhold_client *client, long connect_ms, long total_ms);

/*
 * What the last failed call of this client learned, for messages: the server's error code
 * ("KeyDisabled"; "" when there was no error document), its message (or libcurl's, or ours),
 * and the request id ("" when unknown). Valid until the next call on the client.
 */
const char *keyhold_client_error_code(const struct keyhold_client *client);
const char *keyhold_client_error(const struct keyhold_client *client);
const char *keyhold_client_request_id(const struct keyhold_client *client);

/* ---- responses ---- */

/*
 * Bytes owned by the caller, in secure memory: data is NUL-terminated (len excludes the NUL)
 * or NULL when len is 0. Start with {0}; keyhold_buf_free wipes and frees, leaving {0}.
 */
struct keyhold_buf {
	uint8_t *data;
	size_t len;
};
void keyhold_buf_free(struct keyhold_buf *buf);

/* ---- the generic call ---- */

/*
 * Sends method ("GET", "POST", "PATCH", "PUT", "DELETE") to path ("/v1/keys?state=enabled"),
 * with json_body (a JSON text; NULL or "" for none) as application/json. *out_status gets the
 * answer's status (0 when there was none); on any answer *out_response gets its body (freed
 * first). The result is KEYHOLD_OK
 * for 2xx and the error of the status otherwise (the body is still returned, and the error
 * document is also read into keyhold_client_error()).
 */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_request(struct keyhold_client *client,
                                                     const char *method, const char *path,
                                                     const char *json_body, long *out_status,
                                                     struct keyhold_buf *out_response);

/* ---- lists ---- */

/*
 * Called with each page of a list: the server's JSON answer (an object whose array member
 * holds the items, as keyhold_request would return it), valid during the call only and wiped
 * after it. Anything but KEYHOLD_OK stops the walk.
 */
typedef enum keyhold_err (*keyhold_page_fn)(const struct keyhold_buf *page, void *arg);

/*
 * Every page of a paged list (GET /v1/keys, /v1/keys/{tag}/versions, /v1/keys/{tag}/grants,
 * /v1/audit, /v1/notifications, /v1/xks/stores, /v1/xks/stores/{id}/keys): GETs path, whose query
 * may choose the page size and filters
 * ("/v1/keys/<tag>/grants?limit=1000") but not a cursor, then each following page with the
 * "next" cursor of the previous answer, until an answer has none. Returns the first failure
 * (the server's, or fn's result); pages handed to fn before it stay handed. An answer that is
 * not a JSON object, or whose "next" is malformed or repeats the cursor that fetched it, is
 * KEYHOLD_ERR_PROTOCOL.
 */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_list(struct keyhold_client *client, const char *path,
                                                  keyhold_page_fn fn, void *arg);

/* ---- typed helpers for the common operations ---- */

/* Key tags are at most 64 characters (the server's are 32 hex digits). */
#define KEYHOLD_TAG_SIZE 65

/* Creates a key; type NULL means "aes-256-gcm", usage NULL the type's default. */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_key_create(struct keyhold_client *client,
                                                        const char *name, const char *type,
                                                        const char *usage,
                                                        char out_tag[KEYHOLD_TAG_SIZE]);

/* Encrypts (at most 32 KiB); *out_ciphertext gets the "kh:v<N>:..." text. context (AAD) may
 * be NULL; decrypt must give the same bytes. */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_encrypt(struct keyhold_client *client, const char *tag,
                                                     const uint8_t *plaintext, size_t plaintext_len,
                                                     const uint8_t *context, size_t context_len,
                                                     struct keyhold_buf *out_ciphertext);
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_decrypt(struct keyhold_client *client, const char *tag,
                                                     const char *ciphertext, const uint8_t *context,
                                                     size_t context_len,
                                                     struct keyhold_buf *out_plaintext);

/* A fresh data key of bits (128..512, multiple of 8) sealed under the key: *out_ciphertext the
 * sealed form, *out_plaintext (NULL: not asked for) the key itself. */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_data_key(struct keyhold_client *client,
                                                      const char *tag, unsigned bits,
                                                      const uint8_t *context, size_t context_len,
                                                      struct keyhold_buf *out_plaintext,
                                                      struct keyhold_buf *out_ciphertext);

/* Sign flags: the input is a digest the caller computed, not the message. */
#define KEYHOLD_SIGN_DIGEST 1u

/* Signs a message (at most 8 KiB) or digest; algorithm NULL is the key's default
 * ("ECDSA_SHA_256", "RSASSA_PSS_SHA_256", ...). *out_signature gets "kh:v<N>:...". */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_sign(struct keyhold_client *client, const char *tag,
                                                  const uint8_t *message, size_t message_len,
                                                  unsigned flags, const char *algorithm,
                                                  struct keyhold_buf *out_signature);
/* *out_valid tells whether signature is valid for the message; KEYHOLD_OK either way. */
KEYHOLD_WARN_UNUSED enum keyhold_err keyhold_verify(struct keyhold_client *client, const char *tag,
                                                    const uint8_t *message, size_t message_len,
                                                    unsigned flags, const char *algorithm,
                                                    const char *signature, bool *out_valid);

/* ---- envelope encryption of files (docs/cli.md "Envelope file format") ---- */

/*
 * Streams of any length, in constant memory: the plaintext is cut into chunks, each sealed
 * with AES-256-GCM under a fresh 256-bit data key from POST /v1/keys/{tag}/data-key; the file
 * starts with a header naming the key and carrying the sealed data key, so decryption needs
 * only the file and a token allowed to decrypt under that key.
 */
typedef void (*keyhold_progress_fn)(uint64_t done_bytes, uint64_t total_bytes, void *arg);

struct keyhold_envelope_options {
	uint32_t chunk_size;          /* plaintext bytes per chunk; 0: 64 KiB (1 KiB..1 MiB) */
	keyhold_progress_fn progress; /* NULL: none; total is 0 when unknown (a pipe) */
	void *progress_arg;
};

/* options may be NULL. in and out are open streams (binary); neither is closed. On failure
 * what was written to out must be discarded. The plaintext passes through the streams' stdio
 * buffers: make them unbuffered (setvbuf) or give them wiped buffers if that matters. */
KEYHOLD_WARN_UNUSED enum keyhold_err
keyhold_envelope_encrypt_stream(struct keyhold_client *client, const char *tag, FILE *in, FILE *out,
                                const struct keyhold_envelope_options *options);
/* KEYHOLD_ERR_INTEGRITY for any alteration, truncation or extension: the plaintext written
 * so far must then be discarded. */
KEYHOLD_WARN_UNUSED enum keyhold_err
keyhold_envelope_decrypt_stream(struct keyhold_client *client, FILE *in, FILE *out,
                                const struct keyhold_envelope_options *options);

/* The same between files (read and written unbuffered); out_path is written through a
 * temporary file beside it (mode 0600) that is renamed only on success, so a failure leaves no
 * partial output behind. */
KEYHOLD_WARN_UNUSED enum keyhold_err
keyhold_envelope_encrypt_file(struct keyhold_client *client, const char *tag, const char *in_path,
                              const char *out_path, const struct keyhold_envelope_options *options);
KEYHOLD_WARN_UNUSED enum keyhold_err
keyhold_envelope_decrypt_file(struct keyhold_client *client, const char *in_path,
                              const char *out_path, const struct keyhold_envelope_options *options);

#ifdef __cplusplus
}
#endif

#endif
