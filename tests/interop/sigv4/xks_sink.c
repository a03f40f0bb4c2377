/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A keep-alive HTTPS server that verifies every request with kh_sigv4_verify (service
 * kms-xks-proxy, region us-east-1, the real clock) and answers 200 {"ok":true} when it verifies,
 * 401 {"reason":"<why>"} when not: the other end of the xks_load test, which proves that what
 * the load generator sends is what it signed, at the current time, request after request on one
 * connection.
 *
 *   xks_sink CERT KEY PORT_FILE   listens on 127.0.0.1 (a free port, written to PORT_FILE) until
 *                                 killed; one thread per connection
 *
 * The test credential is XKS_SINK_AK / XKS_SINK_SECRET below. Like the load generator, this is
 * a TLS endpoint, so it calls OpenSSL directly.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authz/kh_sigv4.h"
#include "base/kh_clock.h"
#include "base/kh_int.h"
#include "crypto/kh_crypto.h"

#define XKS_SINK_AK "AKIAXKSLOADTESTQ2345"
#define XKS_SINK_SECRET "eGtzX2xvYWQgdGVzdCBzZWNyZXQsIG5vdCBhIHJlYWwgb25l"
#define MAX_REQUEST 65536
#define MAX_HEADERS 64

static SSL_CTX *ctx;

static kh_rc lookup(void *arg, struct kh_slice ak, struct kh_buf *out)
{
	(void)arg;
	if (kh_slice_eq(ak, KH_SLICE_LIT(XKS_SINK_AK)))
		return kh_buf_append_cstr(out, XKS_SINK_SECRET);
	return KH_ERR_NOT_FOUND;
}

struct request {
	struct kh_sigv4_header h[MAX_HEADERS];
	struct kh_sigv4_request r;
	size_t head_len;
};

/* Parses the head in buf[0..len) (ending with an empty line); the body is not needed yet. */
static int head_parse(const char *buf, size_t len, struct request *q, uint64_t *out_body_len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	const char *eol = end != NULL ? memmem(buf, len, "\r\n", 2) : NULL;
	const char *sp1, *sp2, *line;

	memset(q, 0, sizeof(*q));
	*out_body_len = 0;
	if (eol == NULL)
		return -1;
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (sp2 == NULL)
		return -1;
	q->r.method = KH_SLICE(buf, (size_t)(sp1 - buf));
	q->r.raw_path = KH_SLICE(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	q->r.raw_query = KH_SLICE_EMPTY;
	q->r.headers = q->h;
	for (line = eol + 2; line < end + 2; line = eol + 2) {
		const char *colon;
		struct kh_sigv4_header *h = &q->h[q->r.header_count];
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL || q->r.header_count == MAX_HEADERS)
			return -1;
		h->name = KH_SLICE(line, (size_t)(colon - line));
		h->value = KH_SLICE(colon + 1, (size_t)(eol - colon - 1));
		while (h->value.len > 0 && h->value.ptr[0] == ' ') {
			h->value.ptr++;
			h->value.len--;
		}
		if (h->name.len == 14 && strncasecmp(line, "content-length", 14) == 0 &&
		    kh_parse_u64(h->value, 0, MAX_REQUEST, out_body_len) != KH_OK)
			return -1;
		q->r.header_count++;
	}
	q->head_len = (size_t)(end + 4 - buf);
	return 0;
}

static void answer(SSL *ssl, struct request *q)
{
	struct kh_sigv4_policy p = {.service = "kms-xks-proxy",
	                            .region = "us-east-1",
	                            .now_ns = kh_clock_now(kh_clock_real())};
	struct kh_sigv4_identity id;
	enum kh_sigv4_reason why = KH_SIGV4_OK;
	char body[128], out[256];
	int status = 200, n, body_len;

	if (kh_sigv4_verify(&p, &q->r, lookup, NULL, &id, &why) != KH_OK)
		status = 401;
	body_len = status == 200 ? snprintf(body, sizeof(body), "{\"ok\":true}")
	                         : snprintf(body, sizeof(body), "{\"reason\":\"%s\"}",
	                                    kh_sigv4_reason_name(why));
	n = snprintf(
	    out, sizeof(out),
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
	    status, status == 200 ? "OK" : "Unauthorized", body_len, body);
	(void)SSL_write(ssl, out, n);
}

static void *serve(void *arg)
{
	SSL *ssl = arg;
	size_t cap = MAX_REQUEST + 16384, len = 0;
	char *buf = malloc(cap);

	if (buf == NULL || SSL_accept(ssl) != 1)
		goto out;
	for (;;) {
		struct request q;
		uint64_t body_len;
		int got = SSL_read(ssl, buf + len, (int)(cap - len));
		if (got <= 0)
			break;
		len += (size_t)got;
		while (memmem(buf, len, "\r\n\r\n", 4) != NULL) {
			size_t whole;
			if (head_parse(buf, len, &q, &body_len) != 0)
				goto out;
			whole = q.head_len + (size_t)body_len;
			if (len < whole)
				break;
			q.r.body = KH_SLICE(buf + q.head_len, (size_t)body_len);
			answer(ssl, &q);
			memmove(buf, buf + whole, len - whole);
			len -= whole;
		}
		if (len == cap)
			break;
	}
out:
	close(SSL_get_fd(ssl)); /* the socket BIO does not own it */
	SSL_free(ssl);
	free(buf);
	kh_crypto_thread_cleanup();
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t a_len = sizeof(a);
	int one = 1, ls;
	char tmp[4096];
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: xks_sink CERT KEY PORT_FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	ctx = SSL_CTX_new(TLS_server_method());
	if (kh_crypto_init() != KH_OK || ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "xks_sink: cannot set up TLS\n");
		return 1;
	}
	ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(ls, 128) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &a_len) != 0) {
		perror("xks_sink: listen");
		return 1;
	}
	/* Written aside and renamed, so that a reader never sees half a number. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[3]);
	f = fopen(tmp, "w");
	if (f == NULL || fprintf(f, "%u\n", ntohs(a.sin_port)) < 0 || fclose(f) != 0 ||
	    rename(tmp, argv[3]) != 0) {
		perror(argv[3]);
		return 1;
	}
	for (;;) {
		pthread_t t;
		SSL *ssl;
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			continue;
		ssl = SSL_new(ctx);
		if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
		    pthread_create(&t, NULL, serve, ssl) != 0) {
			SSL_free(ssl);
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}
