/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny webhook receiver for tests/integration/ops.sh: listens on 127.0.0.1 (an ephemeral port,
 * printed on stdout), reads each HTTP/1.1 request (headers, then a Content-Length body) and
 * records it in DIR as N.head and N.body (N = 1, 2, ...; each written to a temporary name and
 * renamed, so a reader never sees half a request). It answers 500 to the first request and 204
 * to every later one, closing each connection. Runs until killed.
 *
 * usage: webhook_sink DIR
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384
#define BODY_MAX 65536

static int listen_loopback(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
		close(fd);
		return -1;
	}
	printf("%u\n", (unsigned)ntohs(a.sin_port));
	fflush(stdout);
	return fd;
}

/* Reads until the end of the header block; returns its length (with the blank line) and how
 * many bytes were read in all, or -1. */
static long read_head(int fd, char *buf, size_t cap, size_t *out_have)
{
	size_t have = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (end != NULL) {
			*out_have = have;
			return (long)(end - buf) + 4;
		}
		if (have + 1 >= cap)
			return -1;
	}
}

static size_t content_length(const char *head)
{
	for (const char *p = head; (p = strchr(p, '\n')) != NULL;) {
		p++;
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			return (size_t)strtoul(p + 15, NULL, 10);
	}
	return 0;
}

static int save(const char *dir, unsigned n, const char *ext, const char *data, size_t len)
{
	char tmp[4096], path[4096];
	snprintf(tmp, sizeof(tmp), "%s/.%u.%s.tmp", dir, n, ext);
	snprintf(path, sizeof(path), "%s/%u.%s", dir, n, ext);
	FILE *f = fopen(tmp, "wb");
	if (f == NULL)
		return -1;
	size_t w = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || w != len)
		return -1;
	return rename(tmp, path);
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	while (off < len) {
		ssize_t n = write(fd, s + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/* One connection: one request recorded and answered. */
static void serve(int c, const char *dir, unsigned *count)
{
	static char buf[HEAD_MAX + BODY_MAX + 1];
	size_t have = 0;
	long head_len = read_head(c, buf, HEAD_MAX, &have);
	if (head_len < 0)
		return;
	size_t body_len = content_length(buf);
	if (body_len > BODY_MAX)
		return;
	while (have < (size_t)head_len + body_len) {
		ssize_t n = read(c, buf + have, (size_t)head_len + body_len - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		have += (size_t)n;
	}
	unsigned n = ++*count;
	/* The body first: a reader waits for N.head, and then N.body is there. */
	if (save(dir, n, "body", buf + head_len, body_len) != 0 ||
	    save(dir, n, "head", buf, (size_t)head_len) != 0)
		fprintf(stderr, "webhook_sink: cannot record request %u\n", n);
	write_all(c, n == 1 ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
	                      "Connection: close\r\n\r\n"
	                    : "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: webhook_sink DIR\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int fd = listen_loopback();
	if (fd < 0) {
		perror("webhook_sink: listen");
		return 1;
	}
	for (;;) {
		int c = accept(fd, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			perror("webhook_sink: accept");
			return 1;
		}
		serve(c, argv[1], &count);
		close(c);
	}
}
