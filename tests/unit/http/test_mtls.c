/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutual TLS per listener (XKS.md), driven for real on 127.0.0.1: a throwaway CA issues the
 * accepted client certificates (by CN and by SAN dNSName), a certificate with another name, an
 * expired one; another CA and a self-signed certificate stand for strangers. libcurl (OpenSSL)
 * with the good certificate gets 200 and the handler sees the name; every bad case, and no
 * certificate at all, ends the handshake, in TLS 1.2 and 1.3, with the client reading a fatal
 * handshake_failure alert (checked with libcurl's error and with `openssl s_client`), never a
 * reset, and no request reaching the handler. Bad option combinations are refused at start.
 * A listener that only asks for a certificate (request_client_cert, for EST) hands whatever the
 * client sent, from any CA or self-signed or expired, to the handler as DER, and serves clients
 * that send none.
 */
#include "kh_test.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/kh_log.h"
#include "http/kh_http.h"
#include "http/kh_http_tls.h"

#define AWS_NAME "cks.kms.us-east-1.amazonaws.com"

static char dir[256];

/* ---- the handler: counts requests and echoes the client name ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned handled;

static unsigned handled_count(void)
{
	unsigned n;

	pthread_mutex_lock(&lock);
	n = handled;
	pthread_mutex_unlock(&lock);
	return n;
}

static void handler(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp)
{
	(void)ctx;
	pthread_mutex_lock(&lock);
	handled++;
	pthread_mutex_unlock(&lock);
	assert_int_equal(kh_buf_append_cstr(&resp->body, "client="), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&resp->body, req->client_name), KH_OK);
	assert_int_equal(kh_buf_append_cstr(&resp->body, req->tls ? "\ntls=1\n" : "\ntls=0\n"),
	                 KH_OK);
	resp->content_type = "text/plain";
	resp->status = 200;
}

/* ---- certificates ---- */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	char full[2400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);
	assert_int_equal(system(full), 0);
}

#define NEWKEY "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"

static void self_signed(const char *name, const char *subject_cn, const char *san)
{
	sh("openssl req -x509 " NEWKEY " -subj /CN=%s %s%s -days 2 -keyout %s.key -out %s.pem",
	   subject_cn, san != NULL ? "-addext subjectAltName=" : "", san != NULL ? san : "", name,
	   name);
}

/* A certificate for name issued by ca; days -1 makes one that has already expired. */
static void issue(const char *name, const char *ca, const char *subject_cn, const char *san,
                  int days)
{
	sh("openssl req -new " NEWKEY " -subj /CN=%s -keyout %s.key -out %s.csr", subject_cn, name,
	   name);
	sh("printf 'basicConstraints=CA:FALSE\\n%s%s\\n' > %s.ext",
	   san != NULL ? "subjectAltName=" : "", san != NULL ? san : "", name);
	sh("openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -days %d -extfile %s.ext -out "
	   "%s.pem",
	   name, ca, ca, days, name, name);
}

static int setup(void **state)
{
	(void)state;
	kh_test_tmpdir(dir, sizeof(dir));
	self_signed("ca", "test-client-ca", NULL);
	self_signed("other_ca", "other-client-ca", NULL);
	self_signed("server", "server", "IP:127.0.0.1");
	issue("good_cn", "ca", AWS_NAME, NULL, 2);
	issue("good_san", "ca", "xks-client",
	      "DNS:www.example.com,DNS:CKS.KMS.US-EAST-1.amazonaws.com", 2);
	issue("wrong_name", "ca", "cks.kms.eu-west-1.amazonaws.com", "DNS:xks.example.com", 2);
	issue("other_ca_client", "other_ca", AWS_NAME, NULL, 2);
	issue("expired", "ca", AWS_NAME, NULL, -1);
	self_signed("self_signed", AWS_NAME, "DNS:" AWS_NAME);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	kh_test_rmtree(dir);
	return 0;
}

static struct kh_buf read_file(const char *name)
{
	char path[512];
	struct kh_buf b;
	uint8_t chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	kh_buf_init(&b, 1u << 20, KH_BUF_PLAIN);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(kh_buf_append(&b, KH_SLICE(chunk, n)), KH_OK);
	fclose(f);
	return b;
}

/* ---- the server ---- */

static const char *const aws_names[] = {"cks.kms.us-west-2.amazonaws.com", AWS_NAME};

/* ca: the client CA bundle file, NULL for none; names as in kh_http_options. */
static kh_rc try_start(const char *ca, const char *const *names, size_t name_count,
                       struct kh_http_server **out)
{
	struct kh_buf cert = read_file("server.pem");
	struct kh_buf key = read_file("server.key");
	struct kh_buf bundle;
	struct kh_http_options o;
	kh_rc rc;

	kh_buf_init(&bundle, 0, KH_BUF_PLAIN);
	if (ca != NULL)
		bundle = read_file(ca);
	memset(&o, 0, sizeof(o));
	o.network_threads = 2;
	o.workers = 2;
	o.timeout_seconds = 5;
	o.cert_pem = kh_buf_slice(&cert);
	o.key_pem = kh_buf_slice(&key);
	o.client_ca_pem = kh_buf_slice(&bundle);
	o.client_names = names;
	o.client_name_count = name_count;
	rc = kh_http_server_start(&o, handler, NULL, out);
	kh_buf_cleanup(&cert); /* the server keeps its own copies */
	kh_buf_cleanup(&key);
	kh_buf_cleanup(&bundle);
	return rc;
}

static struct kh_http_server *start(const char *ca, const char *const *names, size_t name_count)
{
	struct kh_http_server *s = NULL;

	assert_int_equal(try_start(ca, names, name_count, &s), KH_OK);
	assert_non_null(s);
	pthread_mutex_lock(&lock);
	handled = 0;
	pthread_mutex_unlock(&lock);
	return s;
}

/* ---- clients ---- */

enum tls_version {
	TLS12,
	TLS13
};

struct reply {
	CURLcode code;
	long status;
	char body[1024];
	size_t body_len;
	char error[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;
	size_t room = sizeof(r->body) - 1 - r->body_len;
	size_t take = len < room ? len : room;

	memcpy(r->body + r->body_len, p, take);
	r->body_len += take;
	r->body[r->body_len] = '\0';
	return len;
}

/* GET /whoami over TLS with the client certificate cert (file stem; NULL: none). */
static void curl_get(struct kh_http_server *s, enum tls_version v, const char *cert,
                     struct reply *out)
{
	CURL *h = curl_easy_init();
	char url[128];
	char path[512];

	assert_non_null(h);
	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/whoami", (unsigned)kh_http_server_port(s));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, out->error);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	snprintf(path, sizeof(path), "%s/server.pem", dir);
	curl_easy_setopt(h, CURLOPT_CAINFO, path);
	curl_easy_setopt(h, CURLOPT_SSLVERSION,
	                 v == TLS12 ? CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2
	                            : CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3);
	if (cert != NULL) {
		snprintf(path, sizeof(path), "%s/%s.pem", dir, cert);
		curl_easy_setopt(h, CURLOPT_SSLCERT, path);
		snprintf(path, sizeof(path), "%s/%s.key", dir, cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, path);
	}
	out->code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_cleanup(h);
}

/*
 * `openssl s_client` with the certificate cert (NULL: none), sending one HTTP request once it
 * believes the handshake is done (in TLS 1.3 that is after its Finished, before the server has
 * checked the certificate) and reading until the server closes (-ign_eof). out gets what it
 * printed (stdout and stderr).
 */
static void s_client(struct kh_http_server *s, enum tls_version v, const char *cert, char *out,
                     size_t out_len)
{
	char cmd[2048];
	char cert_args[1024] = "";
	size_t n = 0;
	FILE *p;

	if (cert != NULL)
		snprintf(cert_args, sizeof(cert_args), "-cert '%s/%s.pem' -key '%s/%s.key'", dir,
		         cert, dir, cert);
	snprintf(cmd, sizeof(cmd),
	         "printf 'GET /whoami HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' | "
	         "timeout 20 openssl s_client -connect 127.0.0.1:%u -servername localhost %s "
	         "-CAfile '%s/server.pem' %s -ign_eof 2>&1",
	         (unsigned)kh_http_server_port(s), v == TLS12 ? "-tls1_2" : "-tls1_3", dir,
	         cert_args);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < out_len) {
		size_t got = fread(out + n, 1, out_len - 1 - n, p);
		if (got == 0)
			break;
		n += got;
	}
	out[n] = '\0';
	pclose(p);
}

/* ---- tests ---- */

static void good_certificate_is_served_and_the_handler_sees_its_name(void **state)
{
	struct kh_http_server *s = start("ca.pem", aws_names, 2);
	struct reply r;

	(void)state;
	for (int v = TLS12; v <= TLS13; v++) {
		curl_get(s, (enum tls_version)v, "good_cn", &r);
		if (r.code != CURLE_OK)
			fail_msg("TLS %s, CN certificate: %s", v == TLS12 ? "1.2" : "1.3", r.error);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "client=" AWS_NAME "\ntls=1\n");
		/* By SAN dNSName, in another case: the name as configured is reported. */
		curl_get(s, (enum tls_version)v, "good_san", &r);
		if (r.code != CURLE_OK)
			fail_msg("TLS %s, SAN certificate: %s", v == TLS12 ? "1.2" : "1.3",
			         r.error);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "client=" AWS_NAME "\ntls=1\n");
	}
	assert_int_equal(handled_count(), 4);
	kh_http_server_stop(&s);
}

static const char *const refused[] = {"wrong_name", "other_ca_client", "self_signed", "expired",
                                      NULL /* no certificate */};

static void bad_or_missing_certificate_fails_the_handshake_with_the_alert(void **state)
{
	struct kh_http_server *s = start("ca.pem", aws_names, 2);
	struct reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		for (int v = TLS12; v <= TLS13; v++) {
			const char *what = refused[i] != NULL ? refused[i] : "no certificate";

			curl_get(s, (enum tls_version)v, refused[i], &r);
			if (r.code == CURLE_OK)
				fail_msg("%s, TLS %s: served with %ld", what,
				         v == TLS12 ? "1.2" : "1.3", r.status);
			/* libcurl's OpenSSL read the alert (a reset would say "reset by peer"). */
			if (strstr(r.error, "alert handshake failure") == NULL)
				fail_msg("%s, TLS %s: %s", what, v == TLS12 ? "1.2" : "1.3",
				         r.error);
		}
	}
	assert_int_equal(handled_count(), 0);
	kh_http_server_stop(&s);
}

static void s_client_reads_alert_40_and_no_reset_in_tls_1_2_and_1_3(void **state)
{
	struct kh_http_server *s = start("ca.pem", aws_names, 2);
	static char out[65536];

	(void)state;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		for (int v = TLS12; v <= TLS13; v++) {
			s_client(s, (enum tls_version)v, refused[i], out, sizeof(out));
			if (strstr(out, "alert handshake failure") == NULL ||
			    strstr(out, "SSL alert number 40") == NULL ||
			    strstr(out, "errno=104") != NULL || strstr(out, "HTTP/1.1") != NULL)
				fail_msg("%s, TLS %s:\n%s",
				         refused[i] != NULL ? refused[i] : "none",
				         v == TLS12 ? "1.2" : "1.3", out);
		}
	}
	/* The TLS 1.3 clients sent a request after their Finished: none was served. */
	assert_int_equal(handled_count(), 0);
	/* The check itself: the good certificate gets its answer through the same client. */
	s_client(s, TLS13, "good_cn", out, sizeof(out));
	if (strstr(out, "client=" AWS_NAME) == NULL)
		fail_msg("good certificate through s_client:\n%s", out);
	kh_http_server_stop(&s);
}

static void without_names_any_certificate_of_the_bundle_is_accepted(void **state)
{
	struct kh_http_server *s = start("ca.pem", NULL, 0);
	struct reply r;

	(void)state;
	curl_get(s, TLS13, "wrong_name", &r);
	assert_int_equal(r.code, CURLE_OK);
	assert_string_equal(r.body, "client=cks.kms.eu-west-1.amazonaws.com\ntls=1\n");
	for (size_t i = 1; i < sizeof(refused) / sizeof(refused[0]); i++) {
		curl_get(s, TLS12, refused[i], &r);
		assert_int_not_equal(r.code, CURLE_OK);
		assert_non_null(strstr(r.error, "alert handshake failure"));
	}
	assert_int_equal(handled_count(), 1);
	kh_http_server_stop(&s);
}

static void ca_bundle_of_several_cas_accepts_each(void **state)
{
	struct kh_http_server *s;
	struct reply r;

	(void)state;
	sh("cat ca.pem other_ca.pem > both.pem");
	s = start("both.pem", aws_names, 2);
	curl_get(s, TLS13, "good_cn", &r);
	assert_int_equal(r.code, CURLE_OK);
	curl_get(s, TLS13, "other_ca_client", &r);
	assert_int_equal(r.code, CURLE_OK);
	curl_get(s, TLS13, "self_signed", &r);
	assert_int_not_equal(r.code, CURLE_OK);
	kh_http_server_stop(&s);
}

static void listener_without_client_ca_needs_no_client_certificate(void **state)
{
	struct kh_http_server *s = start(NULL, NULL, 0);
	struct reply r;

	(void)state;
	for (int v = TLS12; v <= TLS13; v++) {
		curl_get(s, (enum tls_version)v, NULL, &r);
		assert_int_equal(r.code, CURLE_OK);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "client=\ntls=1\n");
		/* A certificate offered anyway is not asked for and changes nothing. */
		curl_get(s, (enum tls_version)v, "self_signed", &r);
		assert_int_equal(r.code, CURLE_OK);
		assert_string_equal(r.body, "client=\ntls=1\n");
	}
	kh_http_server_stop(&s);
}

static void bad_option_combinations_are_refused(void **state)
{
	struct kh_http_server *s = NULL;
	struct kh_buf ca = read_file("ca.pem");
	struct kh_http_options o;
	const char *const empty_name[] = {""};
	const char *const spaced_name[] = {"cks kms"};

	(void)state;
	/* Names without a bundle. */
	assert_int_equal(try_start(NULL, aws_names, 2, &s), KH_ERR_BAD_INPUT);
	/* A bundle in which nothing parses, or a key where the CAs go. */
	sh("printf 'not a certificate\\n' > junk.pem");
	assert_int_equal(try_start("junk.pem", aws_names, 2, &s), KH_ERR_BAD_KEY);
	assert_int_equal(try_start("ca.key", NULL, 0, &s), KH_ERR_BAD_KEY);
	/* Names that cannot match anything. */
	assert_int_equal(try_start("ca.pem", empty_name, 1, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(try_start("ca.pem", spaced_name, 1, &s), KH_ERR_BAD_INPUT);
	assert_int_equal(try_start("ca.pem", NULL, 1, &s), KH_ERR_BAD_INPUT);
	/* Mutual TLS on a plain HTTP listener. */
	memset(&o, 0, sizeof(o));
	o.client_ca_pem = kh_buf_slice(&ca);
	assert_int_equal(kh_http_server_start(&o, handler, NULL, &s), KH_ERR_BAD_INPUT);
	assert_null(s);
	kh_buf_cleanup(&ca);
}

/* ---- client certificates asked for, not checked (request_client_cert: EST) ---- */

/* Answers with the DER of the client's certificate as the handler saw it, or "none". */
static void cert_handler(void *ctx, const struct kh_http_request *req,
                         struct kh_http_response *resp)
{
	(void)ctx;
	pthread_mutex_lock(&lock);
	handled++;
	pthread_mutex_unlock(&lock);
	if (req->client_cert.len == 0) {
		assert_int_equal(req->client_chain_count, 0);
		assert_int_equal(kh_buf_append_cstr(&resp->body, "none"), KH_OK);
	} else {
		assert_true(req->client_chain_count >= 1);
		assert_ptr_equal(req->client_chain[0].ptr, req->client_cert.ptr);
		assert_int_equal(kh_buf_append(&resp->body, req->client_cert), KH_OK);
	}
	assert_string_equal(req->client_name, "");
	resp->content_type = "application/octet-stream";
	resp->status = 200;
}

static struct kh_http_server *start_asking(void)
{
	struct kh_buf cert = read_file("server.pem");
	struct kh_buf key = read_file("server.key");
	struct kh_http_server *s = NULL;
	struct kh_http_options o;

	memset(&o, 0, sizeof(o));
	o.network_threads = 2;
	o.workers = 2;
	o.timeout_seconds = 5;
	o.cert_pem = kh_buf_slice(&cert);
	o.key_pem = kh_buf_slice(&key);
	o.request_client_cert = true;
	assert_int_equal(kh_http_server_start(&o, cert_handler, NULL, &s), KH_OK);
	kh_buf_cleanup(&cert);
	kh_buf_cleanup(&key);
	pthread_mutex_lock(&lock);
	handled = 0;
	pthread_mutex_unlock(&lock);
	return s;
}

static void asked_client_certificate_reaches_the_handler_unverified(void **state)
{
	static const char *const certs[] = {"good_cn", "other_ca_client", "self_signed", "expired"};
	struct kh_http_server *s = start_asking();
	struct reply r;

	(void)state;
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		sh("openssl x509 -in %s.pem -outform DER -out %s.der", certs[i], certs[i]);
		struct kh_buf der = read_file(i == 0   ? "good_cn.der"
		                              : i == 1 ? "other_ca_client.der"
		                              : i == 2 ? "self_signed.der"
		                                       : "expired.der");
		for (int v = TLS12; v <= TLS13; v++) {
			curl_get(s, (enum tls_version)v, certs[i], &r);
			if (r.code != CURLE_OK)
				fail_msg("%s, TLS %s: %s", certs[i], v == TLS12 ? "1.2" : "1.3",
				         r.error);
			assert_int_equal(r.status, 200);
			assert_int_equal(r.body_len, der.len);
			assert_memory_equal(r.body, der.ptr, der.len);
		}
		kh_buf_cleanup(&der);
	}
	assert_int_equal(handled_count(), 8);
	kh_http_server_stop(&s);
}

static void asking_listener_serves_clients_without_a_certificate(void **state)
{
	struct kh_http_server *s = start_asking();
	struct reply r;
	static char out[65536];

	(void)state;
	for (int v = TLS12; v <= TLS13; v++) {
		curl_get(s, (enum tls_version)v, NULL, &r);
		if (r.code != CURLE_OK)
			fail_msg("TLS %s: %s", v == TLS12 ? "1.2" : "1.3", r.error);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "none");
	}
	/* openssl s_client reads the CertificateRequest and goes on without a certificate. */
	s_client(s, TLS13, NULL, out, sizeof(out));
	if (strstr(out, "HTTP/1.1 200") == NULL || strstr(out, "none") == NULL)
		fail_msg("s_client without a certificate:\n%s", out);
	assert_int_equal(handled_count(), 3);
	kh_http_server_stop(&s);
}

static void asking_for_client_certificates_needs_tls(void **state)
{
	struct kh_http_server *s = NULL;
	struct kh_http_options o;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.request_client_cert = true;
	assert_int_equal(kh_http_server_start(&o, cert_handler, NULL, &s), KH_ERR_BAD_INPUT);
	assert_null(s);
}

/* ---- the drain behind a refusal ---- */

/* A connected loopback pair: *client and the accepted *server. */
static void tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
	*server = accept(l, NULL, NULL);
	assert_true(*server >= 0);
	close(l);
}

/* What a read gives within 2 s: bytes, 0 (end of stream) or -errno. */
static ssize_t read_within(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[64];
	ssize_t n;

	assert_int_equal(poll(&p, 1, 2000), 1);
	n = recv(fd, buf, sizeof(buf), 0);
	return n < 0 ? -errno : n;
}

/*
 * What a refusal leaves: the server wrote its last bytes and shut its side while the client's
 * bytes are still unread, and the client goes on sending. Closing such a socket would answer
 * with a reset (the client's next read fails with ECONNRESET); the drain reads instead, so the
 * client sees a clean end of stream every time, and the socket closes once the client has.
 */
static void drained_socket_ends_cleanly_for_a_client_that_still_sends(void **state)
{
	struct kh_http_linger *l = NULL;
	int client;
	int server;

	(void)state;
	assert_int_equal(kh_http_linger_new(&l), KH_OK);
	tcp_pair(&client, &server);
	assert_int_equal(send(client, "unread flight", 13, 0), 13);
	assert_int_equal(send(server, "alert", 5, 0), 5);
	usleep(50 * 1000);
	assert_int_equal(shutdown(server, SHUT_WR), 0);
	kh_http_linger_add(l, server);
	assert_int_equal(read_within(client), 5);
	assert_int_equal(read_within(client), 0);
	usleep(100 * 1000);
	assert_int_equal(send(client, "late request", 12, MSG_NOSIGNAL), 12);
	usleep(100 * 1000);
	assert_int_equal(read_within(client), 0); /* still a clean end, no reset */
	close(client);
	/* A socket still draining at stop is closed by it (LeakSanitizer and fd checks). */
	tcp_pair(&client, &server);
	kh_http_linger_add(l, server);
	kh_http_linger_free(&l);
	assert_null(l);
	assert_int_equal(read_within(client), 0);
	close(client);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(good_certificate_is_served_and_the_handler_sees_its_name),
	    cmocka_unit_test(bad_or_missing_certificate_fails_the_handshake_with_the_alert),
	    cmocka_unit_test(s_client_reads_alert_40_and_no_reset_in_tls_1_2_and_1_3),
	    cmocka_unit_test(without_names_any_certificate_of_the_bundle_is_accepted),
	    cmocka_unit_test(ca_bundle_of_several_cas_accepts_each),
	    cmocka_unit_test(listener_without_client_ca_needs_no_client_certificate),
	    cmocka_unit_test(asked_client_certificate_reaches_the_handler_unverified),
	    cmocka_unit_test(asking_listener_serves_clients_without_a_certificate),
	    cmocka_unit_test(asking_for_client_certificates_needs_tls),
	    cmocka_unit_test(bad_option_combinations_are_refused),
	    cmocka_unit_test(drained_socket_ends_cleanly_for_a_client_that_still_sends),
	};
	int failed;

	kh_log_set_level(KH_LOG_ERROR); /* refusals are logged at WARN by design */
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	failed = cmocka_run_group_tests_name("mutual TLS", tests, setup, teardown);
	curl_global_cleanup();
	return failed;
}
