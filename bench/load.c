/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The load generators' shared core (load.h): connections, TLS, the epoll loops, the latency
 * histogram and the common result fields. TLS sessions are resumed when a connection has to be
 * reopened, a request is sent in one write, and nothing but the request the generator lays out
 * and the latency clock is computed per request, so that the generator stays cheap beside the
 * server on a small machine.
 *
 * Latencies are kept in a log-linear histogram (1 µs steps below 128 µs, then 64 steps per
 * power of two: within 1.6%), from the request laid out to the whole answer. Requests and
 * latencies count the measured window only; errors count the whole run, warm-up included.
 * client_cpu is the generator's own CPU time over the window, in cores.
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
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/kh_clock.h"
#include "base/kh_int.h"
#include "crypto/kh_crypto.h"
#include "load.h"

enum {
	HIST_EXACT = 128, /* 1 µs buckets below this */
	HIST_SUB = 64,    /* buckets per power of two above */
	HIST_OCTAVES = 32,
	HIST_BUCKETS = HIST_EXACT + HIST_OCTAVES * HIST_SUB,
	MAX_RESPONSE = 1 << 20,
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

struct conn {
	int fd;
	SSL *ssl; /* NULL over plain TCP */
	enum conn_state state;
	uint32_t events; /* the epoll interest set now */
	char *req;       /* the request being sent */
	size_t req_len, req_sent;
	char *resp;
	size_t resp_len, resp_cap;
	int64_t sent_ns;
	int64_t retry_ns; /* a failed connection is reopened from then on */
};

struct worker {
	pthread_t thread;
	unsigned index;
	int ep;
	struct conn *conns;
	size_t conn_count;
	uint64_t seq;
	uint64_t hist[HIST_BUCKETS];
	uint64_t requests, errors, conn_errors;
	int64_t max_us;
};

struct load_options load = {
    .port = "443",
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

_Noreturn void load_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", load.name, what);
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

int64_t load_parse_duration(const char *text)
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
		load_die("bad duration (N, Ns or Nms)");
	return (int64_t)v * unit;
}

unsigned load_parse_count(const char *text, unsigned max)
{
	uint64_t v;

	if (kh_parse_u64(kh_slice_from_cstr(text), 1, max, &v) != KH_OK)
		load_die("bad count");
	return (unsigned)v;
}

void load_read_file(const char *name, struct kh_buf *out)
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
			load_die("file too large");
	}
	if (ferror(f))
		load_die("cannot read a file");
	fclose(f);
}

/* http(s)://HOST[:PORT]/PATH; HOST may be [v6]. */
void load_parse_url(const char *url, bool https_only)
{
	const char *p, *slash, *colon, *host_end, *authority;
	const char *default_port;
	size_t host_len;

	if (strncmp(url, "https://", 8) == 0) {
		load.tls = true;
		default_port = "443";
	} else if (!https_only && strncmp(url, "http://", 7) == 0) {
		load.tls = false;
		default_port = "80";
	} else {
		load_die(https_only ? "--url must start with https://"
		                    : "--url must start with http:// or https://");
	}
	authority = p = strstr(url, "//") + 2;
	snprintf(load.port, sizeof(load.port), "%s", default_port);
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(slash - p));
		if (host_end == NULL)
			load_die("bad --url");
		p++;
		colon = host_end[1] == ':' ? host_end + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(slash - p));
		host_end = colon != NULL ? colon : slash;
	}
	host_len = (size_t)(host_end - p);
	if (host_len == 0 || host_len >= sizeof(load.host))
		load_die("bad host in --url");
	memcpy(load.host, p, host_len);
	load.host[host_len] = '\0';
	if (colon != NULL) {
		size_t port_len = (size_t)(slash - colon - 1);
		uint64_t port;
		if (kh_parse_u64(KH_SLICE(colon + 1, port_len), 1, 65535, &port) != KH_OK)
			load_die("bad port in --url");
		snprintf(load.port, sizeof(load.port), "%u", (unsigned)port);
	}
	if (strlen(slash) >= sizeof(load.path))
		load_die("path too long");
	snprintf(load.path, sizeof(load.path), "%s", *slash != '\0' ? slash : "/");
	/* The Host header as clients send it (and AWS signs it): the port only when it is not the
	 * scheme's default. */
	if (strcmp(load.port, default_port) == 0)
		snprintf(load.host_header, sizeof(load.host_header), "%.*s",
		         (int)(host_end - authority), authority);
	else
		snprintf(load.host_header, sizeof(load.host_header), "%.*s",
		         (int)(slash - authority), authority);
}

bool load_option(const char *arg, const char *value)
{
	if (strcmp(arg, "--insecure") == 0)
		load.insecure = true;
	else if (value == NULL)
		return false;
	else if (strcmp(arg, "--connections") == 0)
		load.connections = load_parse_count(value, LOAD_MAX_CONNECTIONS);
	else if (strcmp(arg, "--threads") == 0)
		load.threads = load_parse_count(value, LOAD_MAX_THREADS);
	else if (strcmp(arg, "--duration") == 0)
		load.duration_ns = load_parse_duration(value);
	else if (strcmp(arg, "--warmup") == 0)
		load.warmup_ns = load_parse_duration(value);
	else if (strcmp(arg, "--cacert") == 0)
		load.cacert = value;
	else
		return false;
	return true;
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
		load_die("cannot make a TLS context");
	SSL_CTX_set_session_cache_mode(ctx,
	                               SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, session_new);
	if (load.insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	} else {
		if (SSL_CTX_load_verify_locations(ctx, load.cacert, NULL) != 1)
			load_die("cannot load --cacert");
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
		load_die("epoll_ctl failed");
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
		fprintf(stderr, "%s: connection error: %s%s%s%s\n", load.name, what, e ? " (" : "",
		        reason, e ? ")" : "");
	conn_close(c);
	c->retry_ns = kh_clock_mono_ns() + RETRY_NS;
}

static const struct addrinfo *target;

static void conn_tls_new(struct conn *c)
{
	struct in6_addr a6;
	struct in_addr a4;

	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		load_die("cannot make a TLS connection");
	if (!load.insecure) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, load.host) != 1 &&
		    SSL_set1_host(c->ssl, load.host) != 1)
			load_die("cannot set the expected host name");
	}
	if (inet_pton(AF_INET, load.host, &a4) != 1 && inet_pton(AF_INET6, load.host, &a6) != 1)
		(void)SSL_set_tlsext_host_name(c->ssl, load.host);
	pthread_mutex_lock(&session_lock);
	if (session != NULL)
		(void)SSL_set_session(c->ssl, session);
	pthread_mutex_unlock(&session_lock);
}

static bool conn_open(struct worker *w, struct conn *c)
{
	int one = 1;

	c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		load_die("socket failed");
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, target->ai_addr, target->ai_addrlen) != 0 && errno != EINPROGRESS) {
		conn_fail(w, c, strerror(errno));
		return false;
	}
	if (load.tls)
		conn_tls_new(c);
	c->state = CONN_CONNECTING;
	c->resp_len = 0;
	conn_watch(w, c, EPOLLOUT);
	return true;
}

/* Lays out the next request; latency runs from here to the whole answer. */
static void conn_build(struct worker *w, struct conn *c)
{
	c->req_len = load.build(w->index, w->seq++, c->req);
	c->req_sent = 0;
	c->sent_ns = kh_clock_mono_ns();
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

struct response {
	int status;
	size_t head_len, len;
	bool close; /* the server closes the connection after it */
};

/* Whether c->resp holds a whole response; if so its status, lengths and whether the server will
 * close the connection after it (HTTP/1.0 unless it says keep-alive; HTTP/1.1 when it says
 * close). */
static enum parse_result response_parse(const struct conn *c, struct response *out)
{
	const char *end = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
	const char *v;
	size_t head_len, v_len;
	uint64_t status, body_len;
	bool http10;

	if (end == NULL)
		return c->resp_len < 16384 ? PARSE_MORE : PARSE_BAD;
	head_len = (size_t)(end - c->resp) + 4;
	http10 = strncmp(c->resp, "HTTP/1.0 ", 9) == 0;
	if (head_len < 12 || (!http10 && strncmp(c->resp, "HTTP/1.1 ", 9) != 0) ||
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
	if (http10)
		out->close = v == NULL || v_len != 10 || strncasecmp(v, "keep-alive", 10) != 0;
	else
		out->close = v != NULL && v_len == 5 && strncasecmp(v, "close", 5) == 0;
	out->status = (int)status;
	out->head_len = head_len;
	out->len = head_len + (size_t)body_len;
	return PARSE_DONE;
}

static void response_done(struct worker *w, struct conn *c, const struct response *r)
{
	int64_t us = (kh_clock_mono_ns() - c->sent_ns) / 1000;
	const uint8_t *body = (const uint8_t *)c->resp + r->head_len;
	size_t body_len = r->len - r->head_len;
	const char *why = NULL;
	bool ok = load.ok_status != 0 ? r->status == load.ok_status
	                              : r->status >= 200 && r->status <= 299;

	if (ok && load.check != NULL)
		ok = load.check(body, body_len, &why);
	if (!ok) {
		w->errors++;
		if (!atomic_flag_test_and_set(&error_shown))
			fprintf(stderr, "%s: first error: HTTP %d%s%s: %.*s\n", load.name,
			        r->status, why != NULL ? ", " : "", why != NULL ? why : "",
			        (int)(body_len > 2048 ? 2048 : body_len), (const char *)body);
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

/* Reads or writes what the socket takes now, over TLS or not: > 0 bytes moved; 0 when it has
 * to wait (the interest set is updated) or failed (the connection is closed: *out_closed). */
static size_t conn_io(struct worker *w, struct conn *c, bool write, char *buf, size_t len,
                      bool *out_closed)
{
	ssize_t n;

	*out_closed = false;
	if (c->ssl != NULL) {
		int ret =
		    write ? SSL_write(c->ssl, buf, (int)len) : SSL_read(c->ssl, buf, (int)len);
		if (ret > 0)
			return (size_t)ret;
		*out_closed = !conn_want(w, c, ret, write ? "TLS write failed" : "TLS read failed");
		return 0;
	}
	n = write ? send(c->fd, buf, len, MSG_NOSIGNAL) : recv(c->fd, buf, len, 0);
	if (n > 0)
		return (size_t)n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		conn_watch(w, c, write ? EPOLLOUT : EPOLLIN);
		return 0;
	}
	conn_fail(w, c, n == 0 ? "closed by the server" : strerror(errno));
	*out_closed = true;
	return 0;
}

/* Reads what is there; finishes the response when it is whole. */
static bool conn_receive(struct worker *w, struct conn *c, bool *out_again)
{
	*out_again = false;
	for (;;) {
		struct response r;
		enum parse_result pr;
		size_t n;
		bool closed;

		if (c->resp_cap - c->resp_len < 4096) {
			char *p;
			if (c->resp_cap >= MAX_RESPONSE) {
				conn_fail(w, c, "response too large");
				return false;
			}
			p = realloc(c->resp, c->resp_cap * 2);
			if (p == NULL)
				load_die("out of memory");
			c->resp = p;
			c->resp_cap *= 2;
		}
		n = conn_io(w, c, false, c->resp + c->resp_len, c->resp_cap - c->resp_len, &closed);
		if (n == 0)
			return !closed;
		c->resp_len += n;
		pr = response_parse(c, &r);
		if (pr == PARSE_MORE)
			continue;
		if (pr == PARSE_BAD) {
			conn_fail(w, c, "malformed or unsupported response (no Content-Length?)");
			return false;
		}
		response_done(w, c, &r);
		if (r.close || load.close_each || r.len != c->resp_len) {
			/* A server closing, one request per connection, or an answer to what was
			 * not asked: start afresh. */
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
		size_t n;
		bool again, closed;

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
			if (c->ssl != NULL && (ret = SSL_connect(c->ssl)) != 1) {
				(void)conn_want(w, c, ret, "TLS handshake failed");
				return;
			}
			conn_build(w, c);
			break;
		case CONN_SENDING:
			n = conn_io(w, c, true, c->req + c->req_sent, c->req_len - c->req_sent,
			            &closed);
			if (n == 0)
				return;
			c->req_sent += n;
			if (c->req_sent < c->req_len)
				break;
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
			load_die("epoll_wait failed");
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
	int e = getaddrinfo(load.host, load.port, &hints, &res);

	if (e != 0) {
		fprintf(stderr, "%s: %s: %s\n", load.name, load.host, gai_strerror(e));
		exit(1);
	}
	target = res;
}

static int report(struct worker *ws, double seconds, double cpu)
{
	static uint64_t hist[HIST_BUCKETS];
	uint64_t requests = 0, errors = 0, conn_errors = 0;
	int64_t max_us = 0;

	for (unsigned t = 0; t < load.threads; t++) {
		for (size_t i = 0; i < HIST_BUCKETS; i++)
			hist[i] += ws[t].hist[i];
		requests += ws[t].requests;
		errors += ws[t].errors;
		conn_errors += ws[t].conn_errors;
		if (ws[t].max_us > max_us)
			max_us = ws[t].max_us;
	}
	printf("%s rps=%.1f requests=%llu seconds=%.2f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
	       "p999_ms=%.3f max_ms=%.3f errors=%llu conn_errors=%llu connections=%u threads=%u "
	       "client_cpu=%.2f",
	       load.name, (double)requests / seconds, (unsigned long long)requests, seconds,
	       hist_quantile_ms(hist, requests, 0.50), hist_quantile_ms(hist, requests, 0.90),
	       hist_quantile_ms(hist, requests, 0.99), hist_quantile_ms(hist, requests, 0.999),
	       (double)max_us / 1000.0, (unsigned long long)errors, (unsigned long long)conn_errors,
	       load.connections, load.threads, cpu / seconds);
	return errors + conn_errors > 0 || requests == 0 ? 2 : 0;
}

int load_run(void)
{
	struct worker *ws;
	struct conn *conns;
	int64_t t0, t1;
	double cpu0, cpu1;

	if (load.duration_ns <= 0)
		load_die("--duration must be positive");
	if (load.tls && load.cacert == NULL && !load.insecure)
		load_die("give --cacert FILE or --insecure");
	if (load.threads > load.connections)
		load.threads = load.connections;
	if (kh_crypto_init() != KH_OK)
		load_die("kh_crypto_init failed");
	/* A server closing while a request is written is a connection error, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	resolve();
	if (load.tls)
		tls_init();
	ws = calloc(load.threads, sizeof(*ws));
	conns = calloc(load.connections, sizeof(*conns));
	if (ws == NULL || conns == NULL)
		load_die("out of memory");
	for (unsigned i = 0; i < load.connections; i++) {
		struct conn *c = &conns[i];
		c->fd = -1;
		c->req = malloc(load.request_max);
		c->resp_cap = 8192;
		c->resp = malloc(c->resp_cap);
		if (c->req == NULL || c->resp == NULL)
			load_die("out of memory");
	}
	/* Each thread takes a contiguous slice of the connections, as even as they divide. */
	for (unsigned t = 0, first = 0; t < load.threads; t++) {
		unsigned n =
		    load.connections / load.threads + (t < load.connections % load.threads);
		struct worker *w = &ws[t];
		w->index = t;
		w->conns = &conns[first];
		w->conn_count = n;
		first += n;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->ep < 0)
			load_die("epoll_create1 failed");
		if (pthread_create(&w->thread, NULL, worker_run, w) != 0)
			load_die("pthread_create failed");
	}
	sleep_ns(load.warmup_ns);
	t0 = kh_clock_mono_ns();
	cpu0 = cpu_seconds();
	atomic_store(&phase, PHASE_MEASURE);
	sleep_ns(load.duration_ns);
	atomic_store(&phase, PHASE_STOP);
	t1 = kh_clock_mono_ns();
	cpu1 = cpu_seconds();
	for (unsigned t = 0; t < load.threads; t++)
		pthread_join(ws[t].thread, NULL);
	int ex = report(ws, (double)(t1 - t0) / 1e9, cpu1 - cpu0);
	for (unsigned i = 0; i < load.connections; i++) {
		conn_close(&conns[i]);
		free(conns[i].req);
		free(conns[i].resp);
	}
	for (unsigned t = 0; t < load.threads; t++)
		close(ws[t].ep);
	free(conns);
	free(ws);
	return ex;
}
