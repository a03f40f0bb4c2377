// SPDX-License-Identifier: Apache-2.0
/*
 * libkeyhold's client object and its one HTTP exchange, on libcurl (the only file of the
 * client that includes it). TLS is verified always; plain http is allowed only to loopback
 * addresses, where nothing crosses a network. No redirects are followed and only http and
 * https are spoken, so a hostile answer cannot send the token elsewhere.
 *
 * The bearer token lives in secure memory. The header line handed to libcurl is built there
 * too, and the copy libcurl makes of it is wiped before it is freed; libcurl's own transfer
 * buffers are outside our control. Response bodies go straight into secure buffers (they may
 * carry plaintexts, data keys, tokens or shares).
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "client/kh_client_int.h"
#include "crypto/kh_crypto.h"
#include "http/kh_http.h"
#include "kh_version.h"

#define CONNECT_MS_DEFAULT 10000L
#define TOTAL_MS_DEFAULT 60000L
#define ADDRESS_MAX (KH_LIMIT_WEBHOOK_URL_BYTES - sizeof("https://"))

/* ---- errors ---- */

static const char *const err_text[] = {
    [KEYHOLD_OK] = "success",
    [KEYHOLD_ERR_USAGE] = "invalid argument",
    [KEYHOLD_ERR_CONFIG] = "unusable client configuration",
    [KEYHOLD_ERR_NOMEM] = "out of memory",
    [KEYHOLD_ERR_CONNECT] = "cannot reach the server",
    [KEYHOLD_ERR_PROTOCOL] = "unexpected answer from the server",
    [KEYHOLD_ERR_BAD_REQUEST] = "the server refused the request as malformed",
    [KEYHOLD_ERR_INVALID_CIPHERTEXT] = "the ciphertext is altered, or not for this key and context",
    [KEYHOLD_ERR_UNAUTHENTICATED] = "not authenticated",
    [KEYHOLD_ERR_FORBIDDEN] = "not allowed",
    [KEYHOLD_ERR_NOT_FOUND] = "not found",
    [KEYHOLD_ERR_CONFLICT] = "the state of the object does not allow this",
    [KEYHOLD_ERR_TOO_LARGE] = "too large",
    [KEYHOLD_ERR_RATE_LIMITED] = "too many requests; retry later",
    [KEYHOLD_ERR_CLIENT] = "the server refused the request",
    [KEYHOLD_ERR_SEALED] = "the service is sealed",
    [KEYHOLD_ERR_SERVER] = "the server failed",
    [KEYHOLD_ERR_IO] = "a local file could not be read or written",
    [KEYHOLD_ERR_FORMAT] = "not a keyhold envelope file",
    [KEYHOLD_ERR_INTEGRITY] = "the envelope file is altered, truncated or extended",
    [KEYHOLD_ERR_CRYPTO] = "the crypto library failed",
    [KEYHOLD_ERR_INTERNAL] = "internal error",
};

const char *keyhold_strerror(enum keyhold_err err)
{
	if ((size_t)err < sizeof(err_text) / sizeof(err_text[0]) && err_text[err] != NULL)
		return err_text[err];
	return "unknown error";
}

enum keyhold_err kh_client_err_of(kh_rc rc)
{
	switch (kh_rc_class_of(rc)) {
	case KH_CLASS_OK:
		return KEYHOLD_OK;
	case KH_CLASS_NOMEM:
		return KEYHOLD_ERR_NOMEM;
	case KH_CLASS_BAD_INPUT:
	case KH_CLASS_TOO_LARGE:
		return KEYHOLD_ERR_USAGE;
	case KH_CLASS_STORAGE:
		return KEYHOLD_ERR_IO;
	default:
		return rc == KH_ERR_LIBCRYPTO ? KEYHOLD_ERR_CRYPTO : KEYHOLD_ERR_INTERNAL;
	}
}

enum keyhold_err kh_client_status_err(long status, const char *code)
{
	static const struct {
		long status;
		enum keyhold_err err;
	} table[] = {
	    {401, KEYHOLD_ERR_UNAUTHENTICATED}, {403, KEYHOLD_ERR_FORBIDDEN},
	    {404, KEYHOLD_ERR_NOT_FOUND},       {409, KEYHOLD_ERR_CONFLICT},
	    {413, KEYHOLD_ERR_TOO_LARGE},       {429, KEYHOLD_ERR_RATE_LIMITED},
	    {503, KEYHOLD_ERR_SEALED},
	};
	if (status >= 200 && status < 300)
		return KEYHOLD_OK;
	if (status == 400)
		return code != NULL && strcmp(code, "InvalidCiphertext") == 0
		           ? KEYHOLD_ERR_INVALID_CIPHERTEXT
		           : KEYHOLD_ERR_BAD_REQUEST;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].status == status)
			return table[i].err;
	}
	if (status >= 400 && status < 500)
		return KEYHOLD_ERR_CLIENT;
	return status >= 500 && status < 600 ? KEYHOLD_ERR_SERVER : KEYHOLD_ERR_PROTOCOL;
}

enum keyhold_err kh_client_fail(struct keyhold_client *c, enum keyhold_err err, const char *msg)
{
	if (c != NULL) {
		c->err_code[0] = '\0';
		c->request_id[0] = '\0';
		snprintf(c->err_msg, sizeof(c->err_msg), "%s",
		         msg != NULL ? msg : keyhold_strerror(err));
	}
	return err;
}

const char *keyhold_client_error_code(const struct keyhold_client *c)
{
	return c != NULL ? c->err_code : "";
}

const char *keyhold_client_error(const struct keyhold_client *c)
{
	return c != NULL ? c->err_msg : "";
}

const char *keyhold_client_request_id(const struct keyhold_client *c)
{
	return c != NULL ? c->request_id : "";
}

/* ---- set-up ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static enum keyhold_err global_result = KEYHOLD_OK;
static size_t global_arena;

static void global_setup(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		global_result = KEYHOLD_ERR_INTERNAL;
		return;
	}
	if (kh_crypto_init() != KH_OK) {
		global_result = KEYHOLD_ERR_CRYPTO;
		return;
	}
	/* An arena made earlier (by the program itself) is fine too. */
	if (global_arena > 0 && kh_secure_init(global_arena) == KH_ERR_NOMEM)
		global_result = KEYHOLD_ERR_NOMEM;
}

enum keyhold_err keyhold_global_init(size_t secure_arena_bytes)
{
	global_arena = secure_arena_bytes;
	pthread_once(&global_once, global_setup);
	return global_result;
}

/* The address with a scheme and without trailing slashes, checked. */
static enum keyhold_err address_normalise(const char *address, char **out)
{
	size_t n = strnlen(address, ADDRESS_MAX + 1);
	bool has_scheme = strstr(address, "://") != NULL;
	KH_ENSURE(n > 0 && n <= ADDRESS_MAX, KEYHOLD_ERR_CONFIG);
	for (size_t i = 0; i < n; i++)
		KH_ENSURE(address[i] > 0x20 && address[i] < 0x7f, KEYHOLD_ERR_CONFIG);
	KH_ENSURE(!has_scheme || strncmp(address, "https://", 8) == 0 ||
	              strncmp(address, "http://", 7) == 0,
	          KEYHOLD_ERR_CONFIG);
	char *s = kh_alloc(n + sizeof("https://"));
	KH_ENSURE(s != NULL, KEYHOLD_ERR_NOMEM);
	snprintf(s, n + sizeof("https://"), "%s%s", has_scheme ? "" : "https://", address);
	for (size_t len = strlen(s); len > 0 && s[len - 1] == '/'; len--)
		s[len - 1] = '\0';
	/* The rules of every URL keyhold sends to (https anywhere, http to loopback only, no
	 * credentials or fragment), and no query: paths are appended to it. */
	if (kh_http_url_check(s) != KH_OK || strchr(s, '?') != NULL) {
		kh_free(&s);
		return KEYHOLD_ERR_CONFIG;
	}
	*out = s;
	return KEYHOLD_OK;
}

enum keyhold_err keyhold_client_new(const char *address, struct keyhold_client **out)
{
	enum keyhold_err err;
	KH_ENSURE(address != NULL && out != NULL, KEYHOLD_ERR_USAGE);
	KH_CLIENT_GUARD(keyhold_global_init(0));
	struct keyhold_client *c = kh_calloc(1, sizeof(*c));
	KH_ENSURE(c != NULL, KEYHOLD_ERR_NOMEM);
	err = address_normalise(address, &c->base);
	if (err == KEYHOLD_OK) {
		c->curl = curl_easy_init();
		if (c->curl == NULL)
			err = KEYHOLD_ERR_NOMEM;
	}
	if (err != KEYHOLD_OK) {
		keyhold_client_free(&c);
		return err;
	}
	c->connect_ms = CONNECT_MS_DEFAULT;
	c->total_ms = TOTAL_MS_DEFAULT;
	*out = c;
	return KEYHOLD_OK;
}

void keyhold_client_free(struct keyhold_client **client)
{
	if (client == NULL || *client == NULL)
		return;
	struct keyhold_client *c = *client;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	kh_secure_free(&c->token);
	kh_free(&c->base);
	kh_free(&c->ca_file);
	kh_free(client);
}

static bool token_char_ok(char ch)
{
	/* RFC 6750 2.1 b64token, and nothing that could end a header line. */
	return ch > 0x20 && ch < 0x7f;
}

enum keyhold_err keyhold_client_set_token(struct keyhold_client *c, const char *token, size_t len)
{
	KH_ENSURE(c != NULL && (token != NULL || len == 0), KEYHOLD_ERR_USAGE);
	KH_ENSURE(len <= KH_CLIENT_TOKEN_MAX, KEYHOLD_ERR_USAGE);
	for (size_t i = 0; i < len; i++)
		KH_ENSURE(token_char_ok(token[i]), KEYHOLD_ERR_USAGE);
	kh_secure_free(&c->token);
	if (len == 0)
		return KEYHOLD_OK;
	c->token = kh_secure_alloc(len + 1);
	KH_ENSURE(c->token != NULL, KEYHOLD_ERR_NOMEM);
	memcpy(c->token, token, len);
	return KEYHOLD_OK;
}

/* Reads at most max bytes of fd into a secure buffer (one byte more tells it was longer). */
static enum keyhold_err read_fd_secure(int fd, struct kh_buf *out)
{
	for (;;) {
		uint8_t *p = NULL;
		if (kh_buf_extend(out, 256, &p) != KH_OK)
			return out->len >= out->max ? KEYHOLD_ERR_CONFIG : KEYHOLD_ERR_NOMEM;
		ssize_t r = read(fd, p, 255);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return KEYHOLD_ERR_CONFIG;
		if (r == 0)
			return KEYHOLD_OK;
		kh_buf_commit(out, (size_t)r);
	}
}

enum keyhold_err keyhold_client_set_token_file(struct keyhold_client *c, const char *path)
{
	struct kh_buf text;
	KH_ENSURE(c != NULL && path != NULL, KEYHOLD_ERR_USAGE);
	bool std_in = strcmp(path, "-") == 0;
	int fd = std_in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kh_client_fail(c, KEYHOLD_ERR_CONFIG, "cannot open the token file");
	kh_buf_init(&text, KH_CLIENT_TOKEN_MAX + 512, KH_BUF_SECURE);
	enum keyhold_err err = read_fd_secure(fd, &text);
	if (!std_in)
		close(fd);
	/* The first line; a trailing newline (and CR) is not part of the token. */
	size_t len = 0;
	while (len < text.len && text.ptr[len] != '\n' && text.ptr[len] != '\r')
		len++;
	if (err == KEYHOLD_OK && len == 0)
		err = KEYHOLD_ERR_CONFIG;
	if (err == KEYHOLD_OK &&
	    keyhold_client_set_token(c, (const char *)text.ptr, len) != KEYHOLD_OK)
		err = KEYHOLD_ERR_CONFIG;
	kh_buf_cleanup(&text);
	return err == KEYHOLD_OK
	           ? KEYHOLD_OK
	           : kh_client_fail(c, err, "the token file is unreadable, empty or malformed");
}

enum keyhold_err keyhold_client_set_ca_file(struct keyhold_client *c, const char *path)
{
	KH_ENSURE(c != NULL, KEYHOLD_ERR_USAGE);
	kh_free(&c->ca_file);
	if (path == NULL)
		return KEYHOLD_OK;
	if (access(path, R_OK) != 0)
		return kh_client_fail(c, KEYHOLD_ERR_CONFIG, "cannot read the CA file");
	size_t n = strlen(path) + 1;
	c->ca_file = kh_alloc(n);
	KH_ENSURE(c->ca_file != NULL, KEYHOLD_ERR_NOMEM);
	memcpy(c->ca_file, path, n);
	return KEYHOLD_OK;
}

void keyhold_client_set_timeouts(struct keyhold_client *c, long connect_ms, long total_ms)
{
	if (c == NULL)
		return;
	if (connect_ms > 0)
		c->connect_ms = connect_ms;
	if (total_ms > 0)
		c->total_ms = total_ms;
}

/* ---- buffers ---- */

void keyhold_buf_free(struct keyhold_buf *b)
{
	if (b == NULL)
		return;
	kh_secure_free(&b->data);
	b->len = 0;
}

void kh_client_buf_move(struct kh_buf *b, struct keyhold_buf *out)
{
	keyhold_buf_free(out);
	if (b->ptr != NULL)
		b->ptr[b->len] = '\0'; /* kh_buf keeps room for it */
	out->data = b->ptr;
	out->len = b->len;
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
}
