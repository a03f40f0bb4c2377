/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Verifies requests signed by independent SigV4 signers with kh_sigv4_verify, exactly as they
 * arrive on the wire, and checks that each stops verifying once a byte of its body or its
 * method changes.
 *
 *   sigv4_interop files <dir> <service>   every <dir>/<name>.http (written by sign.mjs with
 *                                         the AWS SDK's signer at 20150830T123600Z)
 *   sigv4_interop curl <curl>             runs curl --aws-sigv4 against a one-shot listener on
 *                                         127.0.0.1 (a POST with a JSON body, then a GET with a
 *                                         query) and verifies what curl sent, at the real time
 *
 * Prints "N passed, 0 failed" and exits 0, or says what failed and exits 1.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "authz/kh_sigv4.h"
#include "crypto/kh_crypto.h"

#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define CURL_AK "AKIAKEYHOLDINTEROP234"
#define CURL_SECRET "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2Fs"
#define T0_NS (INT64_C(1440938160) * INT64_C(1000000000)) /* 20150830T123600Z */
#define MAX_REQUEST 65536
#define MAX_HEADERS 64

extern char **environ;

static unsigned passed;

struct wire {
	char method[16];
	struct kh_slice path, query, body;
	struct kh_sigv4_header h[MAX_HEADERS];
	size_t n;
};

static kh_rc lookup(void *arg, struct kh_slice ak, struct kh_buf *out)
{
	(void)arg;
	if (kh_slice_eq(ak, KH_SLICE_LIT(SUITE_AK)))
		return kh_buf_append_cstr(out, SUITE_SECRET);
	if (kh_slice_eq(ak, KH_SLICE_LIT(CURL_AK)))
		return kh_buf_append_cstr(out, CURL_SECRET);
	return KH_ERR_NOT_FOUND;
}

/* Splits an HTTP/1.1 request (data[0..len)) into its parts; the body is what follows the
 * head, cut to Content-Length when there is one. */
static int wire_parse(const char *data, size_t len, struct wire *w)
{
	const char *end = memmem(data, len, "\r\n\r\n", 4);
	const char *line = data;
	const char *eol = memmem(data, len, "\r\n", 2);
	const char *sp1, *sp2, *q;

	memset(w, 0, sizeof(*w));
	if (end == NULL || eol == NULL)
		return -1;
	sp1 = memchr(line, ' ', (size_t)(eol - line));
	/* The version follows the last space: the suite's get-space sends a raw space in the
	 * target, as its request files do. */
	sp2 = eol;
	while (sp1 != NULL && sp2 > sp1 + 1 && sp2[-1] != ' ')
		sp2--;
	sp2 = sp1 != NULL && sp2 > sp1 + 1 ? sp2 - 1 : NULL;
	if (sp2 == NULL || (size_t)(sp1 - line) >= sizeof(w->method))
		return -1;
	memcpy(w->method, line, (size_t)(sp1 - line));
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	w->path = KH_SLICE(sp1 + 1, (size_t)((q != NULL ? q : sp2) - sp1 - 1));
	if (q != NULL)
		w->query = KH_SLICE(q + 1, (size_t)(sp2 - q - 1));
	w->body = KH_SLICE(end + 4, len - (size_t)(end + 4 - data));
	for (line = eol + 2; line < end + 2; line = eol + 2) {
		const char *colon;
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL || w->n == MAX_HEADERS)
			return -1;
		w->h[w->n].name = KH_SLICE(line, (size_t)(colon - line));
		w->h[w->n].value = KH_SLICE(colon + 1, (size_t)(eol - colon - 1));
		if (w->h[w->n].name.len == 14 && strncasecmp(line, "content-length", 14) == 0) {
			size_t cl = (size_t)strtoul((const char *)w->h[w->n].value.ptr, NULL, 10);
			if (cl < w->body.len)
				w->body.len = cl;
		}
		w->n++;
	}
	return 0;
}

static kh_rc wire_verify(const struct wire *w, const char *service, int64_t now_ns,
                         enum kh_sigv4_reason *why)
{
	struct kh_sigv4_policy p = {.service = service, .region = "us-east-1", .now_ns = now_ns};
	struct kh_sigv4_request req = {
	    kh_slice_from_cstr(w->method), w->path, w->query, w->h, w->n, w->body};
	struct kh_sigv4_identity id;
	return kh_sigv4_verify(&p, &req, lookup, NULL, &id, why);
}

/* The request verifies; with its method changed, or its body changed, it does not. */
static int check(const char *name, struct wire *w, const char *service, int64_t now_ns)
{
	enum kh_sigv4_reason why = KH_SIGV4_OK;
	char body[MAX_REQUEST];
	kh_rc rc = wire_verify(w, service, now_ns, &why);

	if (rc != KH_OK) {
		fprintf(stderr, "%s: %s (%s)\n", name, kh_rc_name(rc), kh_sigv4_reason_name(why));
		return 1;
	}
	memcpy(w->method, strcmp(w->method, "PUT") == 0 ? "GET" : "PUT", 4);
	rc = wire_verify(w, service, now_ns, &why);
	if (rc != KH_ERR_UNAUTHENTICATED || why != KH_SIGV4_SIGNATURE_MISMATCH) {
		fprintf(stderr, "%s: verifies with another method\n", name);
		return 1;
	}
	memcpy(body, w->body.ptr, w->body.len);
	body[w->body.len] = 'x';
	w->body = KH_SLICE(body, w->body.len + 1);
	if (wire_verify(w, service, now_ns, &why) != KH_ERR_UNAUTHENTICATED) {
		fprintf(stderr, "%s: verifies with another body\n", name);
		return 1;
	}
	printf("ok %s\n", name);
	passed++;
	return 0;
}

static int run_files(const char *dir, const char *service)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	int bad = 0;

	if (n <= 0) {
		fprintf(stderr, "no requests in %s\n", dir);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		static char data[MAX_REQUEST];
		struct wire w;
		size_t len;
		FILE *f;
		if (strstr(names[i]->d_name, ".http") == NULL) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		f = fopen(path, "rb");
		len = f != NULL ? fread(data, 1, sizeof(data) - 1, f) : 0;
		if (f != NULL)
			fclose(f);
		if (len == 0 || wire_parse(data, len, &w) != 0) {
			fprintf(stderr, "%s: unreadable\n", path);
			bad = 1;
		} else {
			bad |= check(names[i]->d_name, &w, service, T0_NS);
		}
		free(names[i]);
	}
	free(names);
	return bad;
}

/* Reads one request from fd: the head, then Content-Length bytes of body. */
static size_t read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct wire w;
		ssize_t got;
		if (poll(&p, 1, 10000) <= 0)
			return 0;
		got = read(fd, buf + len, cap - 1 - len);
		if (got <= 0)
			return 0;
		len += (size_t)got;
		if (wire_parse(buf, len, &w) == 0) {
			size_t head = (size_t)((const char *)w.body.ptr - buf);
			size_t want = head + w.body.len;
			for (size_t i = 0; i < w.n; i++)
				if (w.h[i].name.len == 14 &&
				    strncasecmp((const char *)w.h[i].name.ptr, "content-length",
				                14) == 0)
					want = head + (size_t)strtoul(
					                  (const char *)w.h[i].value.ptr, NULL, 10);
			if (len >= want)
				return len;
		}
		if (len == cap - 1)
			return 0;
	}
}

/* Runs curl with args against a listener on 127.0.0.1 and verifies what it sent. */
static int run_curl_once(const char *curl, const char *name, const char *method,
                         const char *path_query, const char *body)
{
	static char data[MAX_REQUEST];
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char url[512], user[128], port[16];
	pid_t pid;
	int status = 0, fd, bad = 1;
	size_t len;
	struct wire w;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
		return 1;
	snprintf(port, sizeof(port), ":%u", ntohs(sa.sin_port));
	snprintf(url, sizeof(url), "http://127.0.0.1%s%s", port, path_query);
	snprintf(user, sizeof(user), "%s:%s", CURL_AK, CURL_SECRET);
	{
		const char *args[] = {curl,
		                      "-sS",
		                      "-o",
		                      "/dev/null",
		                      "-X",
		                      method,
		                      "--aws-sigv4",
		                      "aws:amz:us-east-1:kms-xks-proxy",
		                      "--user",
		                      user,
		                      "-H",
		                      "Content-Type: application/json",
		                      "--data-binary",
		                      body,
		                      url};
		static char copies[15][512];
		char *argv[16];
		size_t n = 0;
		for (size_t i = 0; i < 15; i++) {
			if (args[i] == NULL) /* no body: no --data-binary */
				continue;
			if (i == 12 && body == NULL)
				continue;
			snprintf(copies[n], sizeof(copies[n]), "%s", args[i]);
			argv[n] = copies[n];
			n++;
		}
		argv[n] = NULL;
		if (posix_spawn(&pid, curl, NULL, NULL, argv, environ) != 0) {
			fprintf(stderr, "%s: cannot run %s\n", name, curl);
			return 1;
		}
	}
	fd = accept(lfd, NULL, NULL);
	len = fd >= 0 ? read_request(fd, data, sizeof(data)) : 0;
	if (fd >= 0) {
		static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: "
		                         "close\r\n\r\n";
		if (write(fd, ok, sizeof(ok) - 1) < 0)
			perror("write");
		close(fd);
	}
	close(lfd);
	if (len == 0) {
		kill(pid, SIGTERM);
		fprintf(stderr, "%s: curl sent nothing readable\n", name);
	} else if (wire_parse(data, len, &w) != 0) {
		fprintf(stderr, "%s: unparsable request\n", name);
	} else {
		struct kh_slice host = KH_SLICE_EMPTY;
		for (size_t i = 0; i < w.n; i++)
			if (w.h[i].name.len == 4 &&
			    strncasecmp((const char *)w.h[i].name.ptr, "host", 4) == 0)
				host = w.h[i].value;
		/* curl puts the port in Host, and signs it. */
		if (memmem(host.ptr, host.len, port, strlen(port)) == NULL)
			fprintf(stderr, "%s: Host has no port\n", name);
		else
			bad = check(name, &w, "kms-xks-proxy", (int64_t)time(NULL) * 1000000000);
	}
	waitpid(pid, &status, 0);
	return bad;
}

int main(int argc, char **argv)
{
	int bad;

	if (kh_crypto_init() != KH_OK)
		return 1;
	if (argc == 4 && strcmp(argv[1], "files") == 0) {
		bad = run_files(argv[2], argv[3]);
	} else if (argc == 3 && strcmp(argv[1], "curl") == 0) {
		bad = run_curl_once(argv[2], "curl-post-json", "POST",
		                    "/keyhold/kms/xks/v1/keys/k1/encrypt",
		                    "{\"requestMetadata\":{\"kmsRequestId\":\"r-1\","
		                    "\"kmsOperation\":\"Encrypt\"},\"plaintext\":\"SGVsbG8=\","
		                    "\"encryptionAlgorithm\":\"AES_GCM\"}");
		bad |= run_curl_once(argv[2], "curl-get-query", "GET", "/keyhold/health?a=1&b=2",
		                     NULL);
	} else {
		fprintf(stderr, "usage: sigv4_interop files <dir> <service> | curl <curl>\n");
		return 2;
	}
	printf("%u passed, %d failed\n", passed, bad);
	return bad;
}
