/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xks_load: a closed-loop load generator for the XKS proxy, calling it the way AWS KMS does:
 * HTTP/1.1 POSTs over keep-alive TLS, each signed afresh with SigV4 (kh_sigv4_sign over
 * host;x-amz-date at the current time, as AWS KMS signs them), one request in flight per
 * connection. The connections are spread over a few threads, each running its own epoll loop,
 * so that the generator stays cheap beside the server on a small machine: TLS sessions are
 * resumed when a connection has to be reopened, the request head is built in one buffer and
 * sent in one write, and nothing but the date, the signature and the latency clock is computed
 * per request.
 *
 * Every response must be 200; anything else counts as an error (the first error body is shown).
 * After the warm-up, it reports one line of key=value pairs on stdout:
 *
 *   xks_load rps=... requests=... seconds=... p50_ms=... p90_ms=... p99_ms=... p999_ms=...
 *            max_ms=... errors=... conn_errors=... connections=... threads=... client_cpu=...
 *            sign_us=...
 *
 * Latencies are kept in a log-linear histogram (1 µs steps below 128 µs, then 64 steps per
 * power of two: within 1.6%). Requests and latencies count the measured window only; errors
 * count the whole run, warm-up included. client_cpu is the generator's own CPU time over the
 * window, in cores; sign_us the mean time kh_sigv4_sign took. Exit status: 0 when every answer
 * was 200, 2 when some were not or connections failed, 1 for bad usage or a failed start.
 *
 * Like bench_crypto.c, this file includes OpenSSL outside src/crypto/: it is a TLS client,
 * which keyhold's crypto layer does not provide.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "authz/kh_sigv4.h"
#include "base/kh_buf.h"
#include "base/kh_clock.h"
#include "base/kh_int.h"
#include "crypto/kh_crypto.h"

enum {
	HIST_EXACT = 128, /* 1 µs buckets below this */
	HIST_SUB = 64,    /* buckets per power of two above */
	HIST_OCTAVES = 32,
	HIST_BUCKETS = HIST_EXACT + HIST_OCTAVES * HIST_SUB,
	MAX_CONNECTIONS = 4096,
	MAX_THREADS = 64,
	MAX_BODY = 1 << 20,
	MAX_RESPONSE = 1 << 20,
	HEAD_ROOM = 2048, /* request line and headers, signature included */
};
#define RETRY_NS (100 * KH_NS_PER_MS)

enum phase {
	PHASE_WARMUP,
	PHASE_MEASURE,
	PHASE_STOP
};

enum conn_state {
	CONN_CONNECTING,
	CONN_HANDSHAKE,
	CONN_SENDING,
	CONN_RECEIVING
};

struct options {
	char host[256];
	char port[8];
	char host_header[300]; /* host, and :port unless 443 (the value AWS signs) */
	char path[2048];
	uint8_t *body;
	size_t body_len;
	char access_key[KH_SIGV4_ACCESS_KEY_MAX + 1];
	struct kh_buf secret; /* KH_BUF_SECURE */
	const char *region;
	const char *service;
	const char *cacert;
	bool insecure;
	unsigned connections;
	unsigned threads;
	int64_t duration_ns;
	int64_t warmup_ns;
};

struct conn {
	int fd;
	SSL *ssl;
	enum conn_state state;
	uint32_t events; /* the epoll interest set now */
	char *req;       /* head and body of the request being sent */
	size_t req_len;
	char *resp;
	size_t resp_len, resp_cap;
	int64_t sent_ns;
	int64_t retry_ns; /* a failed connection is reopened from then on */
};

struct worker {
	pthread_t thread;
	int ep;
	struct conn *conns;
	size_t conn_count;
	struct kh_buf auth;
	int64_t date_sec;
	char amz_date[KH_SIGV4_AMZ_DATE_LEN + 1];
	uint64_t hist[HIST_BUCKETS];
	uint64_t requests, errors, conn_errors;
	uint64_t sign_count;
	int64_t sign_ns;
	int64_t max_us;
};

static struct options opt = {
    .port = "443",
    .service = "kms-xks-proxy",
    .region = "us-east-1",
    .connections = 64,
    .threads = 2,
    .duration_ns = 10 * KH_NS_PER_SEC,
    .warmup_ns = 1 * KH_NS_PER_SEC,
};
static SSL_CTX *ctx;
static _Atomic int phase = PHASE_WARMUP;
static atomic_flag error_shown = ATOMIC_FLAG_INIT;
static atomic_flag conn_error_shown = ATOMIC_FLAG_INIT;

/* The newest session ticket, offered when a connection is reopened. */
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_SESSION *session;

static void usage(void)
{
	fprintf(stderr,
	        "usage: xks_load --url https://HOST:PORT/PATH (--body FILE | --body-json STRING)\n"
	        "                --access-key ID (--secret SECRET | --secret-file FILE)\n"
	        "                [--region us-east-1] [--service kms-xks-proxy]\n"
	        "                [--connections 64] [--threads 2] [--duration 10s] [--warmup 1s]\n"
	        "                [--cacert FILE | --insecure]\n"
	        "Durations: N or Ns (seconds), Nms (milliseconds).\n");
	exit(1);
}

static void die(const char *what)
{
	fprintf(stderr, "xks_load: %s\n", what);
	exit(1);
}

/* ---- latency histogram ---- */

static size_t hist_index(uint64_t us)
{
	unsigned e;
	size_t i;

	if (us < HIST_EXACT)
		return (size_t)us;
	e = 63u - (unsigned)__builtin_clzll(us); /* >= 7 */
	i = HIST_EXACT + (size_t)(e - 7) * HIST_SUB + (size_t)((us >> (e - 6)) - HIST_SUB);
	return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* The middle of bucket i, in microseconds. */
static double hist_value(size_t i)
{
	size_t o, s;
	double step;

	if (i < HIST_EXACT)
		return (double)i;
	o = (i - HIST_EXACT) / HIST_SUB;
	s = (i - HIST_EXACT) % HIST_SUB;
	step = (double)(UINT64_C(1) << (o + 1));
	return (double)(HIST_SUB + s) * step + step / 2;
}

static double hist_quantile_ms(const uint64_t *h, uint64_t total, double q)
{
	uint64_t rank = (uint64_t)((double)total * q + 0.999999);
	uint64_t seen = 0;

	if (total == 0)
		return 0;
	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h[i];
		if (seen >= rank)
			return hist_value(i) / 1000.0;
	}
	return hist_value(HIST_BUCKETS - 1) / 1000.0;
}

/* ---- options ---- */

static int64_t parse_duration(const char *text)
{
	size_t n = strlen(text);
	int64_t unit = KH_NS_PER_SEC;
	uint64_t v;

	if (n > 2 && strcmp(text + n - 2, "ms") == 0) {
		unit = KH_NS_PER_MS;
		n -= 2;
	} else if (n > 1 && text[n - 1] == 's') {
		n -= 1;
	}
	if (kh_parse_u64(KH_SLICE(text, n), 0, 86400000, &v) != KH_OK)
		die("bad duration (N, Ns or Nms)");
	return (int64_t)v * unit;
}

static unsigned parse_count(const char *text, unsigned max)
{
	uint64_t v;

	if (kh_parse_u64(kh_slice_from_cstr(text), 1, max, &v) != KH_OK)
		die("bad count");
	return (unsigned)v;
}

/* Appends a whole file to out (up to out's maximum). */
static void read_file(const char *name, struct kh_buf *out)
{
	FILE *f = fopen(name, "rb");
	uint8_t chunk[4096];
	size_t n;

	if (f == NULL) {
		perror(name);
		exit(1);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (kh_buf_append(out, KH_SLICE(chunk, n)) != KH_OK)
			die("file too large");
	}
	if (ferror(f))
		die("cannot read a file");
	fclose(f);
}

/* https://HOST[:PORT]/PATH; HOST may be [v6]. */
static void parse_url(const char *url)
{
	const char *p, *slash, *colon, *host_end;
	size_t host_len;

	if (strncmp(url, "https://", 8) != 0)
		die("--url must start with https://");
	p = url + 8;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(slash - p));
		if (host_end == NULL)
			die("bad --url");
		p++;
		colon = host_end[1] == ':' ? host_end + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		host_end = colon != NULL ? colon : slash;
	}
	host_len = (size_t)(host_end - p);
	if (host_len == 0 || host_len >= sizeof(opt.host))
		die("bad host in --url");
	memcpy(opt.host, p, host_len);
	opt.host[host_len] = '\0';
	if (colon != NULL) {
		size_t port_len = (size_t)(slash - colon - 1);
		uint64_t port;
		if (kh_parse_u64(KH_SLICE(colon + 1, port_len), 1, 65535, &port) != KH_OK)
			die("bad port in --url");
		snprintf(opt.port, sizeof(opt.port), "%u", (unsigned)port);
	}
	if (strlen(slash) >= sizeof(opt.path))
		die("path too long");
	snprintf(opt.path, sizeof(opt.path), "%s", *slash != '\0' ? slash : "/");
	/* The Host header as AWS sends and signs it: the port only when it is not the default. */
	if (strcmp(opt.port, "443") == 0)
		snprintf(opt.host_header, sizeof(opt.host_header), "%.*s",
		         (int)(host_end - url - 8), url + 8);
	else
		snprintf(opt.host_header, sizeof(opt.host_header), "%.*s", (int)(slash - url - 8),
		         url + 8);
}

static void parse_args(int argc, char **argv)
{
	struct kh_buf body;
	const char *url = NULL;

	kh_buf_init(&body, MAX_BODY, KH_BUF_PLAIN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--insecure") == 0) {
			opt.insecure = true;
			continue;
		}
		if (strcmp(a, "--help") == 0 || v == NULL)
			usage();
		i++;
		if (strcmp(a, "--url") == 0) {
			url = v;
		} else if (strcmp(a, "--body") == 0) {
			read_file(v, &body);
		} else if (strcmp(a, "--body-json") == 0) {
			if (kh_buf_append_cstr(&body, v) != KH_OK)
				die("body too large");
		} else if (strcmp(a, "--access-key") == 0) {
			if (strlen(v) == 0 || strlen(v) > KH_SIGV4_ACCESS_KEY_MAX)
				die("bad --access-key");
			snprintf(opt.access_key, sizeof(opt.access_key), "%s", v);
		} else if (strcmp(a, "--secret") == 0) {
			if (kh_buf_append_cstr(&opt.secret, v) != KH_OK)
				die("secret too long");
		} else if (strcmp(a, "--secret-file") == 0) {
			read_file(v, &opt.secret);
			while (opt.secret.len > 0 && (opt.secret.ptr[opt.secret.len - 1] == '\n' ||
			                              opt.secret.ptr[opt.secret.len - 1] == '\r'))
				kh_buf_truncate(&opt.secret, opt.secret.len - 1);
		} else if (strcmp(a, "--region") == 0) {
			opt.region = v;
		} else if (strcmp(a, "--service") == 0) {
			opt.service = v;
		} else if (strcmp(a, "--connections") == 0) {
			opt.connections = parse_count(v, MAX_CONNECTIONS);
		} else if (strcmp(a, "--threads") == 0) {
			opt.threads = parse_count(v, MAX_THREADS);
		} else if (strcmp(a, "--duration") == 0) {
			opt.duration_ns = parse_duration(v);
		} else if (strcmp(a, "--warmup") == 0) {
			opt.warmup_ns = parse_duration(v);
		} else if (strcmp(a, "--cacert") == 0) {
			opt.cacert = v;
		} else {
			usage();
		}
	}
	if (url == NULL || opt.access_key[0] == '\0' || opt.secret.len == 0)
		usage();
	if (opt.duration_ns <= 0)
		die("--duration must be positive");
	if (opt.cacert == NULL && !opt.insecure)
		die("give --cacert FILE or --insecure");
	parse_url(url);
	opt.body = body.ptr; /* kept for the whole run */
	opt.body_len = body.len;
	if (opt.threads > opt.connections)
		opt.threads = opt.connections;
}

/* ---- TLS ---- */

static int session_new(SSL *ssl, SSL_SESSION *s)
{
	(void)ssl;
	pthread_mutex_lock(&session_lock);
	SSL_SESSION_free(session);
	session = s; /* we keep the reference the library handed us */
	pthread_mutex_unlock(&session_lock);
	return 1;
}

static void tls_init(void)
{
	ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		die("cannot make a TLS context");
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, session_new);
	if (opt.insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		if (SSL_CTX_load_verify_locations(ctx, opt.cacert, NULL) != 1)
			die("cannot load --cacert");
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
}

/* ---- connections ---- */

static void conn_watch(struct worker *w, struct conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = c};

	if (c->events == events)
		return;
	if (epoll_ctl(w->ep, c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &ev) != 0)
		die("epoll_ctl failed");
	c->events = events;
}

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->ssl = NULL;
	c->fd = -1;
	c->events = 0;
}

/* Counts a failed connection, prints the first of the run (with OpenSSL's reason when there
 * is one) and closes it; it is reopened after a pause, so that a server that refuses or fails
 * every handshake is not hammered. */
static void conn_fail(struct worker *w, struct conn *c, const char *what)
{
	unsigned long e = ERR_peek_error();
	char reason[256] = "";

	w->conn_errors++;
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (!atomic_flag_test_and_set(&conn_error_shown))
		fprintf(stderr, "xks_load: connection error: %s%s%s%s\n", what, e ? " (" : "",
		        reason, e ? ")" : "");
	conn_close(c);
	c->retry_ns = kh_clock_mono_ns() + RETRY_NS;
}

static const struct addrinfo *target;

static bool conn_open(struct worker *w, struct conn *c)
{
	int one = 1;

	c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		die("socket failed");
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, target->ai_addr, target->ai_addrlen) != 0 && errno != EINPROGRESS) {
		conn_fail(w, c, strerror(errno));
		return false;
	}
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		die("cannot make a TLS connection");
	if (!opt.insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, opt.host) != 1 &&
		    SSL_set1_host(c->ssl, opt.host) != 1)
			die("cannot set the expected host name");
	}
	{
		struct in6_addr a6;
		struct in_addr a4;
		if (inet_pton(AF_INET, opt.host, &a4) != 1 &&
		    inet_pton(AF_INET6, opt.host, &a6) != 1)
			(void)SSL_set_tlsext_host_name(c->ssl, opt.host);
	}
	pthread_mutex_lock(&session_lock);
	if (session != NULL)
		(void)SSL_set_session(c->ssl, session);
	pthread_mutex_unlock(&session_lock);
	c->state = CONN_CONNECTING;
	c->resp_len = 0;
	conn_watch(w, c, EPOLLOUT);
	return true;
}

/* Signs a fresh request at the current time and lays it out in c->req. */
static void conn_build(struct worker *w, struct conn *c)
{
	int64_t now = kh_clock_now(kh_clock_real());
	int64_t t0, t1;
	struct kh_sigv4_header h[2];
	struct kh_sigv4_request r;
	struct kh_sigv4_credential cred = {
	    .access_key_id = kh_slice_from_cstr(opt.access_key),
	    .secret = kh_buf_slice(&opt.secret),
	    .region = opt.region,
	    .service = opt.service,
	};
	int n;

	if (now / KH_NS_PER_SEC != w->date_sec) {
		time_t t = (time_t)(now / KH_NS_PER_SEC);
		struct tm tm;
		w->date_sec = now / KH_NS_PER_SEC;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(w->amz_date, sizeof(w->amz_date), "%Y%m%dT%H%M%SZ", &tm) == 0)
			die("cannot format the date");
	}
	/* AWS KMS signs host;x-amz-date (XKS.md); Content-Type is sent unsigned, as it does. */
	h[0] = (struct kh_sigv4_header){KH_SLICE_LIT("Host"), kh_slice_from_cstr(opt.host_header)};
	h[1] = (struct kh_sigv4_header){KH_SLICE_LIT("X-Amz-Date"),
	                                KH_SLICE(w->amz_date, KH_SIGV4_AMZ_DATE_LEN)};
	r = (struct kh_sigv4_request){
	    .method = KH_SLICE_LIT("POST"),
	    .raw_path = kh_slice_from_cstr(opt.path),
	    .raw_query = KH_SLICE_EMPTY,
	    .headers = h,
	    .header_count = 2,
	    .body = KH_SLICE(opt.body, opt.body_len),
	};
	kh_buf_clear(&w->auth);
	t0 = kh_clock_mono_ns();
	if (kh_sigv4_sign(&cred, &r, &w->auth) != KH_OK)
		die("kh_sigv4_sign failed (bad access key, region, service or path?)");
	t1 = kh_clock_mono_ns();
	w->sign_ns += t1 - t0;
	w->sign_count++;
	c->sent_ns = t1; /* latency: from the signed request to the whole answer */
	n = snprintf(c->req, HEAD_ROOM,
	             "POST %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	             opt.path, opt.host_header, w->amz_date, kh_buf_cstr(&w->auth), opt.body_len);
	if (n < 0 || (size_t)n >= HEAD_ROOM)
		die("request head too large");
	memcpy(c->req + n, opt.body, opt.body_len);
	c->req_len = (size_t)n + opt.body_len;
	c->state = CONN_SENDING;
}

/* Case-insensitive search for a header's value in a response head; NULL when absent. */
static const char *head_find(const char *head, size_t head_len, const char *name, size_t *out_len)
{
	size_t name_len = strlen(name);
	const char *p = memchr(head, '\n', head_len);

	while (p != NULL && (size_t)(p + 1 - head) < head_len) {
		const char *line = p + 1;
		size_t left = head_len - (size_t)(line - head);
		const char *eol = memchr(line, '\n', left);
		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > name_len && strncasecmp(line, name, name_len) == 0 &&
		    line[name_len] == ':') {
			const char *v = line + name_len + 1;
			const char *e = eol;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*out_len = (size_t)(e - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

enum parse_result {
	PARSE_MORE,
	PARSE_DONE,
	PARSE_BAD
};

/* Whether c->resp holds a whole response; if so its status, total length and whether the
 * server will close the connection after it. */
static enum parse_result response_parse(const struct conn *c, int *out_status, size_t *out_len,
                                        bool *out_close)
{
	const char *end = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
	const char *v;
	size_t head_len, v_len;
	uint64_t status, body_len;

	if (end == NULL)
		return c->resp_len < 16384 ? PARSE_MORE : PARSE_BAD;
	head_len = (size_t)(end - c->resp) + 4;
	if (head_len < 12 || strncmp(c->resp, "HTTP/1.1 ", 9) != 0 ||
	    kh_parse_u64(KH_SLICE(c->resp + 9, 3), 100, 599, &status) != KH_OK)
		return PARSE_BAD;
	if (head_find(c->resp, head_len, "transfer-encoding", &v_len) != NULL)
		return PARSE_BAD; /* chunked answers: not what the servers measured here send */
	v = head_find(c->resp, head_len, "content-length", &v_len);
	if (v == NULL || kh_parse_u64(KH_SLICE(v, v_len), 0, MAX_RESPONSE, &body_len) != KH_OK)
		return PARSE_BAD;
	if (c->resp_len < head_len + body_len)
		return PARSE_MORE;
	v = head_find(c->resp, head_len, "connection", &v_len);
	*out_close = v != NULL && v_len == 5 && strncasecmp(v, "close", 5) == 0;
	*out_status = (int)status;
	*out_len = head_len + (size_t)body_len;
	return PARSE_DONE;
}

static void response_done(struct worker *w, struct conn *c, int status, size_t len)
{
	int64_t us = (kh_clock_mono_ns() - c->sent_ns) / 1000;

	if (status != 200) {
		const char *body = (const char *)memmem(c->resp, len, "\r\n\r\n", 4) + 4;
		w->errors++;
		if (!atomic_flag_test_and_set(&error_shown))
			fprintf(stderr, "xks_load: first error: HTTP %d: %.*s\n", status,
			        (int)(c->resp + len - body), body);
		return;
	}
	if (atomic_load_explicit(&phase, memory_order_relaxed) != PHASE_MEASURE)
		return;
	w->requests++;
	w->hist[hist_index((uint64_t)us)]++;
	if (us > w->max_us)
		w->max_us = us;
}

/* Handles what OpenSSL asked for after a call that could not complete: waits for the socket
 * or gives up on the connection. Returns false when the connection was closed. */
static bool conn_want(struct worker *w, struct conn *c, int ret, const char *what)
{
	int e = SSL_get_error(c->ssl, ret);

	if (e == SSL_ERROR_WANT_READ) {
		conn_watch(w, c, EPOLLIN);
		return true;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		conn_watch(w, c, EPOLLOUT);
		return true;
	}
	conn_fail(w, c,
	          e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? "closed by the server"
	                                                               : what);
	return false;
}

/* Reads what is there; finishes the response when it is whole. */
static bool conn_receive(struct worker *w, struct conn *c, bool *out_again)
{
	*out_again = false;
	for (;;) {
		int status, ret;
		size_t len;
		bool close_after;
		enum parse_result pr;

		if (c->resp_cap - c->resp_len < 4096) {
			char *p;
			if (c->resp_cap >= MAX_RESPONSE) {
				conn_fail(w, c, "response too large");
				return false;
			}
			p = realloc(c->resp, c->resp_cap * 2);
			if (p == NULL)
				die("out of memory");
			c->resp = p;
			c->resp_cap *= 2;
		}
		ret = SSL_read(c->ssl, c->resp + c->resp_len, (int)(c->resp_cap - c->resp_len));
		if (ret <= 0)
			return conn_want(w, c, ret, "TLS read failed");
		c->resp_len += (size_t)ret;
		pr = response_parse(c, &status, &len, &close_after);
		if (pr == PARSE_MORE)
			continue;
		if (pr == PARSE_BAD) {
			conn_fail(w, c, "malformed or unsupported response (no Content-Length?)");
			return false;
		}
		response_done(w, c, status, len);
		if (close_after || len != c->resp_len) {
			/* A server closing, or answering what was not asked: start afresh. */
			conn_close(c);
			return false;
		}
		c->resp_len = 0;
		*out_again = true;
		return true;
	}
}

/* Moves the connection along as far as it can go without waiting. */
static void conn_step(struct worker *w, struct conn *c)
{
	for (;;) {
		int ret, err = 0;
		socklen_t err_len = sizeof(err);
		bool again;

		if (atomic_load_explicit(&phase, memory_order_relaxed) == PHASE_STOP)
			return;
		switch (c->state) {
		case CONN_CONNECTING:
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 ||
			    err != 0) {
				conn_fail(w, c, strerror(err != 0 ? err : errno));
				return;
			}
			c->state = CONN_HANDSHAKE;
			break;
		case CONN_HANDSHAKE:
			ret = SSL_connect(c->ssl);
			if (ret != 1) {
				(void)conn_want(w, c, ret, "TLS handshake failed");
				return;
			}
			conn_build(w, c);
			break;
		case CONN_SENDING:
			ret = SSL_write(c->ssl, c->req, (int)c->req_len);
			if (ret <= 0) {
				(void)conn_want(w, c, ret, "TLS write failed");
				return;
			}
			/* The answer cannot be there yet: wait for it rather than try a read. */
			c->state = CONN_RECEIVING;
			conn_watch(w, c, EPOLLIN);
			return;
		case CONN_RECEIVING:
			if (!conn_receive(w, c, &again) || !again)
				return;
			conn_build(w, c);
			break;
		}
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[64];

	for (size_t i = 0; i < w->conn_count; i++)
		(void)conn_open(w, &w->conns[i]);
	while (atomic_load(&phase) != PHASE_STOP) {
		int n = epoll_wait(w->ep, ev, 64, 50);
		if (n < 0 && errno != EINTR)
			die("epoll_wait failed");
		for (int i = 0; i < n; i++)
			conn_step(w, ev[i].data.ptr);
		/* Reopen what closed (a refused connection is retried at the next round). */
		for (size_t i = 0; i < w->conn_count; i++) {
			if (w->conns[i].fd < 0 && atomic_load(&phase) != PHASE_STOP &&
			    kh_clock_mono_ns() >= w->conns[i].retry_ns)
				(void)conn_open(w, &w->conns[i]);
		}
	}
	for (size_t i = 0; i < w->conn_count; i++)
		conn_close(&w->conns[i]);
	kh_crypto_thread_cleanup();
	return NULL;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / KH_NS_PER_SEC, .tv_nsec = ns % KH_NS_PER_SEC};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void resolve(void)
{
	static struct addrinfo *res;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	int e = getaddrinfo(opt.host, opt.port, &hints, &res);

	if (e != 0) {
		fprintf(stderr, "xks_load: %s: %s\n", opt.host, gai_strerror(e));
		exit(1);
	}
	target = res;
}

static void report(struct worker *ws, double seconds, double cpu)
{
	static uint64_t hist[HIST_BUCKETS];
	uint64_t requests = 0, errors = 0, conn_errors = 0, signs = 0;
	int64_t sign_ns = 0, max_us = 0;

	for (unsigned t = 0; t < opt.threads; t++) {
		for (size_t i = 0; i < HIST_BUCKETS; i++)
			hist[i] += ws[t].hist[i];
		requests += ws[t].requests;
		errors += ws[t].errors;
		conn_errors += ws[t].conn_errors;
		signs += ws[t].sign_count;
		sign_ns += ws[t].sign_ns;
		if (ws[t].max_us > max_us)
			max_us = ws[t].max_us;
	}
	printf("xks_load rps=%.1f requests=%llu seconds=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
	       "p999_ms=%.3f max_ms=%.3f errors=%llu conn_errors=%llu connections=%u threads=%u "
	       "client_cpu=%.2f sign_us=%.1f\n",
	       (double)requests / seconds, (unsigned long long)requests, seconds,
	       hist_quantile_ms(hist, requests, 0.50), hist_quantile_ms(hist, requests, 0.90),
	       hist_quantile_ms(hist, requests, 0.99), hist_quantile_ms(hist, requests, 0.999),
	       (double)max_us / 1000.0, (unsigned long long)errors, (unsigned long long)conn_errors,
	       opt.connections, opt.threads, cpu / seconds,
	       signs > 0 ? (double)sign_ns / (double)signs / 1000.0 : 0.0);
	exit(errors + conn_errors > 0 || requests == 0 ? 2 : 0);
}

int main(int argc, char **argv)
{
	struct worker *ws;
	struct conn *conns;
	int64_t t0, t1;
	double cpu0, cpu1;

	kh_buf_init(&opt.secret, KH_SIGV4_SECRET_MAX, KH_BUF_SECURE);
	parse_args(argc, argv);
	if (kh_crypto_init() != KH_OK)
		die("kh_crypto_init failed");
	resolve();
	tls_init();
	ws = calloc(opt.threads, sizeof(*ws));
	conns = calloc(opt.connections, sizeof(*conns));
	if (ws == NULL || conns == NULL)
		die("out of memory");
	for (unsigned i = 0; i < opt.connections; i++) {
		struct conn *c = &conns[i];
		c->fd = -1;
		c->req = malloc(HEAD_ROOM + opt.body_len);
		c->resp_cap = 8192;
		c->resp = malloc(c->resp_cap);
		if (c->req == NULL || c->resp == NULL)
			die("out of memory");
	}
	/* Each thread takes a contiguous slice of the connections, as even as they divide. */
	for (unsigned t = 0, first = 0; t < opt.threads; t++) {
		unsigned n = opt.connections / opt.threads + (t < opt.connections % opt.threads);
		struct worker *w = &ws[t];
		w->conns = &conns[first];
		w->conn_count = n;
		w->date_sec = -1;
		first += n;
		kh_buf_init(&w->auth, HEAD_ROOM, KH_BUF_PLAIN);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->ep < 0)
			die("epoll_create1 failed");
		if (pthread_create(&w->thread, NULL, worker_run, w) != 0)
			die("pthread_create failed");
	}
	sleep_ns(opt.warmup_ns);
	t0 = kh_clock_mono_ns();
	cpu0 = cpu_seconds();
	atomic_store(&phase, PHASE_MEASURE);
	sleep_ns(opt.duration_ns);
	atomic_store(&phase, PHASE_STOP);
	t1 = kh_clock_mono_ns();
	cpu1 = cpu_seconds();
	for (unsigned t = 0; t < opt.threads; t++)
		pthread_join(ws[t].thread, NULL);
	report(ws, (double)(t1 - t0) / 1e9, cpu1 - cpu0);
	return 0;
}
