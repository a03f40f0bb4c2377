/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pki_load: a closed-loop load generator sending a fixed set of pre-built HTTP/1.1 requests
 * round-robin, over the shared load core (load.h: keep-alive or one request per connection,
 * TLS or plain HTTP, threads, latencies). bench_pki.sh drives keyhold's PKI with it (CSRs to
 * POST /v1/pki/requests, OCSP requests to /pki/{ca}/ocsp) and `openssl ocsp` as the OCSP peer.
 *
 * The requests come from a list file, one per line: METHOD PATH [BODY_FILE]. The headers of a
 * --headers file (one "Name: value" per line, e.g. the bearer token, which is thus never in
 * argv) go into every request, with Host, Content-Type (--content-type) and Content-Length;
 * --close adds "Connection: close" and opens a new connection for every request.
 *
 * An answer counts as a success only when its status is 2xx, its body holds the --expect text
 * (when given), and, with --ocsp, the body is an OCSPResponse whose responseStatus is
 * successful (RFC 6960 4.2.1). Anything else is an error, and the first is printed.
 *
 *   pki_load rps=... requests=... seconds=... p50_ms=... p90_ms=... p99_ms=... p999_ms=...
 *            max_ms=... errors=... conn_errors=... connections=... threads=... client_cpu=...
 *            request_count=...
 *
 * Exit status: 0 when every answer was a success, 2 when some were not or connections failed,
 * 1 for bad usage or a failed start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

enum {
	MAX_REQUESTS = 1 << 20,
	MAX_BODY = 64 * 1024,
	MAX_HEADERS = 8192,
	MAX_LIST = 64 << 20,
};

struct request {
	char *bytes; /* head and body, laid out once */
	size_t len;
};

static struct request *requests;
static size_t request_count;
static const char *expect;

static void usage(void)
{
	fprintf(stderr,
	        "usage: pki_load --url http(s)://HOST:PORT --requests LIST [--headers FILE]\n"
	        "                [--content-type TYPE] [--expect TEXT] [--ocsp] [--close]\n"
	        "                [--connections 64] [--threads 2] [--duration 10s] [--warmup 1s]\n"
	        "                [--cacert FILE | --insecure]\n"
	        "LIST: one request a line, METHOD PATH [BODY_FILE] (paths under the URL's).\n"
	        "Durations: N or Ns (seconds), Nms (milliseconds).\n");
	exit(1);
}

/* Lays out one request: its line, the common headers, the body. */
static void request_add(const char *method, const char *path, const char *body_file,
                        const char *headers, const char *content_type)
{
	struct kh_buf body, r;
	char head[4096];
	int n;

	if (request_count == MAX_REQUESTS)
		load_die("too many requests");
	kh_buf_init(&body, MAX_BODY, KH_BUF_PLAIN);
	if (body_file != NULL)
		load_read_file(body_file, &body);
	n = snprintf(head, sizeof(head), "%s %s%s HTTP/1.1\r\nHost: %s\r\n", method,
	             strcmp(load.path, "/") == 0 ? "" : load.path, path, load.host_header);
	if (n < 0 || (size_t)n >= sizeof(head))
		load_die("request line too long");
	kh_buf_init(&r, sizeof(head) + MAX_HEADERS + MAX_BODY, KH_BUF_PLAIN);
	if (kh_buf_append_cstr(&r, head) != KH_OK || kh_buf_append_cstr(&r, headers) != KH_OK)
		load_die("request too large");
	if (body_file != NULL) {
		n = snprintf(head, sizeof(head), "Content-Type: %s\r\nContent-Length: %zu\r\n",
		             content_type, body.len);
		if (n < 0 || (size_t)n >= sizeof(head) || kh_buf_append_cstr(&r, head) != KH_OK)
			load_die("request too large");
	}
	if ((load.close_each && kh_buf_append_cstr(&r, "Connection: close\r\n") != KH_OK) ||
	    kh_buf_append_cstr(&r, "\r\n") != KH_OK ||
	    kh_buf_append(&r, kh_buf_slice(&body)) != KH_OK)
		load_die("request too large");
	if (r.len > load.request_max)
		load.request_max = r.len;
	requests[request_count++] = (struct request){(char *)r.ptr, r.len}; /* kept for the run */
	kh_buf_cleanup(&body);
}

/* The --headers file, each line ended with CRLF. */
static void read_headers(const char *name, struct kh_buf *out)
{
	struct kh_buf raw;
	size_t start = 0;

	kh_buf_init(&raw, MAX_HEADERS, KH_BUF_PLAIN);
	load_read_file(name, &raw);
	while (start < raw.len) {
		const uint8_t *nl = memchr(raw.ptr + start, '\n', raw.len - start);
		size_t end = nl != NULL ? (size_t)(nl - raw.ptr) : raw.len;
		size_t line_end = end > start && raw.ptr[end - 1] == '\r' ? end - 1 : end;
		if (line_end > start &&
		    (kh_buf_append(out, KH_SLICE(raw.ptr + start, line_end - start)) != KH_OK ||
		     kh_buf_append_cstr(out, "\r\n") != KH_OK))
			load_die("headers too large");
		start = end + 1;
	}
	kh_buf_cleanup(&raw);
}

/* The next word of *p (ended with a NUL written over the blank after it); NULL at the end. */
static char *next_word(char **p)
{
	char *s = *p, *w;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	if (*s == '\0')
		return NULL;
	w = s;
	while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return w;
}

/* The list file: METHOD PATH [BODY_FILE] a line. */
static void read_list(const char *name, const char *headers, const char *content_type)
{
	FILE *f = fopen(name, "r");
	char line[4096];

	if (f == NULL) {
		perror(name);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line;
		char *method = next_word(&p);
		char *path = method != NULL ? next_word(&p) : NULL;
		char *body = path != NULL ? next_word(&p) : NULL;
		if (method == NULL)
			continue;
		if (path != NULL && path[0] == '/')
			request_add(method, path, body, headers, content_type);
		else
			load_die("bad line in --requests (METHOD /PATH [BODY_FILE])");
	}
	fclose(f);
	if (request_count == 0)
		load_die("no requests in --requests");
}

/* RFC 6960 4.2.1: OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, ... }; 0 is
 * successful. */
static bool check_ocsp(const uint8_t *body, size_t len, const char **out_why)
{
	size_t i = 2;

	*out_why = "not a successful OCSPResponse";
	if (len < 5 || body[0] != 0x30)
		return false;
	if (body[1] & 0x80)
		i += body[1] & 0x7f;
	return i + 3 <= len && body[i] == 0x0a && body[i + 1] == 0x01 && body[i + 2] == 0x00;
}

static bool check_expect(const uint8_t *body, size_t len, const char **out_why)
{
	*out_why = "the answer lacks the --expect text";
	return memmem(body, len, expect, strlen(expect)) != NULL;
}

static size_t build(unsigned worker, uint64_t seq, char *req)
{
	const struct request *r =
	    &requests[(seq * load.threads + worker) % (uint64_t)request_count];

	memcpy(req, r->bytes, r->len);
	return r->len;
}

int main(int argc, char **argv)
{
	struct kh_buf headers;
	const char *url = NULL, *list = NULL, *headers_file = NULL;
	const char *content_type = "application/octet-stream";
	bool ocsp = false;
	int status;

	load.name = "pki_load";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--insecure") == 0 || strcmp(a, "--ocsp") == 0 ||
		    strcmp(a, "--close") == 0) {
			ocsp |= strcmp(a, "--ocsp") == 0;
			load.close_each |= strcmp(a, "--close") == 0;
			(void)load_option(a, NULL);
			continue;
		}
		if (strcmp(a, "--help") == 0 || v == NULL)
			usage();
		i++;
		if (load_option(a, v))
			continue;
		if (strcmp(a, "--url") == 0)
			url = v;
		else if (strcmp(a, "--requests") == 0)
			list = v;
		else if (strcmp(a, "--headers") == 0)
			headers_file = v;
		else if (strcmp(a, "--content-type") == 0)
			content_type = v;
		else if (strcmp(a, "--expect") == 0)
			expect = v;
		else
			usage();
	}
	if (url == NULL || list == NULL || (ocsp && expect != NULL))
		usage();
	load_parse_url(url, false);
	kh_buf_init(&headers, MAX_HEADERS, KH_BUF_PLAIN);
	if (headers_file != NULL)
		read_headers(headers_file, &headers);
	requests = calloc(MAX_REQUESTS, sizeof(*requests));
	if (requests == NULL)
		load_die("out of memory");
	read_list(list, kh_buf_cstr(&headers), content_type);
	load.check = ocsp ? check_ocsp : expect != NULL ? check_expect : NULL;
	load.build = build;
	status = load_run();
	printf(" request_count=%zu\n", request_count);
	return status;
}
