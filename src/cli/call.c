// SPDX-License-Identifier: Apache-2.0
/*
 * Calls to the server for the commands: request bodies in secure memory, paths whose
 * parameters are checked before they are inserted, the answer parsed strictly or printed as
 * is (--json), and every failure reported as "keyhold: <code>: <message>" with the exit code
 * of its kind.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "cli/kh_cli.h"

#define BODY_MAX (1024u * 1024u)

int cli_exit_of(enum keyhold_err err)
{
	switch (err) {
	case KEYHOLD_OK:
		return KH_EXIT_OK;
	case KEYHOLD_ERR_USAGE:
	case KEYHOLD_ERR_CONFIG:
		return KH_EXIT_USAGE;
	case KEYHOLD_ERR_UNAUTHENTICATED:
	case KEYHOLD_ERR_FORBIDDEN:
		return KH_EXIT_AUTH;
	case KEYHOLD_ERR_NOT_FOUND:
		return KH_EXIT_NOT_FOUND;
	case KEYHOLD_ERR_BAD_REQUEST:
	case KEYHOLD_ERR_INVALID_CIPHERTEXT:
	case KEYHOLD_ERR_CONFLICT:
	case KEYHOLD_ERR_TOO_LARGE:
	case KEYHOLD_ERR_RATE_LIMITED:
	case KEYHOLD_ERR_CLIENT:
		return KH_EXIT_CLIENT;
	case KEYHOLD_ERR_CONNECT:
	case KEYHOLD_ERR_PROTOCOL:
	case KEYHOLD_ERR_SEALED:
	case KEYHOLD_ERR_SERVER:
		return KH_EXIT_SERVER;
	default:
		return KH_EXIT_FAILURE;
	}
}

int cli_report(struct cli *c, enum keyhold_err err)
{
	const char *code = keyhold_client_error_code(c->client);
	const char *msg = keyhold_client_error(c->client);
	const char *rid = keyhold_client_request_id(c->client);
	fprintf(stderr, "keyhold: %s%s%s", code[0] ? code : "", code[0] ? ": " : "",
	        msg[0] ? msg : keyhold_strerror(err));
	if (rid[0] != '\0')
		fprintf(stderr, " (request %s)", rid);
	fputc('\n', stderr);
	if (err == KEYHOLD_ERR_UNAUTHENTICATED && c->client != NULL) {
		struct cli_config cfg;
		if (cli_config_resolve(c, &cfg) == KH_EXIT_OK && cfg.token_file == NULL &&
		    !cfg.token_env)
			fputs("keyhold: no token configured: use --token-file FILE, "
			      "KEYHOLD_TOKEN_FILE, or token_file in ~/.config/keyhold/config\n",
			      stderr);
	}
	if (err == KEYHOLD_ERR_CONNECT)
		fputs("keyhold: is keyholdd running at that address, and does --ca-file name its "
		      "CA?\n",
		      stderr);
	return cli_exit_of(err);
}

void cli_body_init(struct cli_body *b)
{
	kh_buf_init(&b->buf, BODY_MAX, KH_BUF_SECURE);
	kh_json_writer_init(&b->w, &b->buf);
}

void cli_body_cleanup(struct cli_body *b)
{
	kh_buf_cleanup(&b->buf);
}

void cli_reply_free(struct cli_reply *r)
{
	kh_json_free(&r->doc);
	keyhold_buf_free(&r->raw);
}

static void print_raw(const struct keyhold_buf *raw)
{
	if (raw->len > 0)
		fwrite(raw->data, 1, raw->len, stdout);
	fputc('\n', stdout);
}

int cli_call(struct cli *c, const char *method, const char *path, struct cli_body *body,
             unsigned flags, struct cli_reply *r)
{
	struct keyhold_client *client = NULL;
	long status = 0;
	memset(r, 0, sizeof(*r));
	int ex = cli_client(c, &client);
	if (ex != KH_EXIT_OK)
		return ex;
	if (body != NULL && kh_json_writer_end(&body->w) != KH_OK)
		return cli_fail("the request is too large");
	const char *text = body != NULL ? kh_buf_cstr(&body->buf) : NULL;
	enum keyhold_err err = keyhold_request(client, method, path, text, &status, &r->raw);
	if (err != KEYHOLD_OK) {
		/* --json shows the error document too, on standard output, for scripts. */
		if (c->json && r->raw.len > 0)
			print_raw(&r->raw);
		ex = cli_report(c, err);
		cli_reply_free(r);
		return ex;
	}
	if ((flags & CLI_CALL_EMPTY) != 0 && r->raw.len == 0) {
		cli_reply_free(r);
		return KH_EXIT_OK;
	}
	if ((flags & CLI_CALL_BYTES) != 0)
		return KH_EXIT_OK;
	if (c->json && (flags & CLI_CALL_RAW) == 0) {
		print_raw(&r->raw);
		cli_reply_free(r);
		return KH_EXIT_OK;
	}
	if (kh_json_parse_object(KH_SLICE(r->raw.data, r->raw.len), &r->doc, NULL, 0) != KH_OK) {
		cli_reply_free(r);
		fputs("keyhold: the server's answer is not a JSON object\n", stderr);
		return KH_EXIT_SERVER;
	}
	return KH_EXIT_OK;
}

int cli_call_show(struct cli *c, const char *method, const char *path, struct cli_body *body,
                  cli_show_fn show)
{
	struct cli_reply r;
	int ex = cli_call(c, method, path, body, 0, &r);
	if (ex == KH_EXIT_OK && r.doc != NULL)
		show(r.doc);
	cli_reply_free(&r);
	return ex;
}

/* ---- paths ---- */

bool cli_segment_ok(const char *s, size_t max)
{
	return kh_name_valid(s, max) && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int cli_path(char *out, size_t out_len, const char *fmt, ...)
{
	va_list ap;
	const char *p = fmt;
	/* Every %s of fmt is a path segment from the user; check each before formatting. */
	va_start(ap, fmt);
	while ((p = strstr(p, "%s")) != NULL) {
		const char *seg = va_arg(ap, const char *);
		if (!cli_segment_ok(seg, 64)) {
			va_end(ap);
			return cli_usage_error("'%s' is not a valid key tag, id or name "
			                       "(1-64 of A-Z a-z 0-9 _ . -)",
			                       seg);
		}
		p += 2;
	}
	va_end(ap);
	va_start(ap, fmt);
	int n = vsnprintf(out, out_len, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < out_len ? KH_EXIT_OK : cli_usage_error("path too long");
}

int cli_query(char *path, size_t path_len, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(path);
	if (value == NULL)
		return KH_EXIT_OK;
	int w = snprintf(path + n, path_len - n, "%c%s=", strchr(path, '?') ? '&' : '?', name);
	if (w < 0 || (size_t)w >= path_len - n)
		return cli_usage_error("--%s is too long", name);
	n += (size_t)w;
	for (const char *v = value; *v != '\0'; v++) {
		unsigned char ch = (unsigned char)*v;
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
		             ch == '~';
		if (n + 4 >= path_len)
			return cli_usage_error("--%s is too long", name);
		if (plain) {
			path[n++] = (char)ch;
		} else {
			path[n++] = '%';
			path[n++] = hex[ch >> 4];
			path[n++] = hex[ch & 15];
		}
	}
	path[n] = '\0';
	return KH_EXIT_OK;
}

/* API.md "Lists are paged": at most 1000 a page. */
#define PAGE_MAX 1000u

int cli_page_query(const struct cli_args *a, char *path, size_t path_len)
{
	uint64_t n = 0;
	const char *limit = cli_opt(a, "limit");
	int ex = limit != NULL ? cli_uint(limit, "--limit", 1, PAGE_MAX, &n) : KH_EXIT_OK;
	if (ex == KH_EXIT_OK)
		ex = cli_query(path, path_len, "limit", limit);
	if (ex == KH_EXIT_OK)
		ex = cli_query(path, path_len, "next", cli_opt(a, "next"));
	return ex;
}
