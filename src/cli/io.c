// SPDX-License-Identifier: Apache-2.0
/*
 * Inputs and outputs of the commands: plaintexts, messages and shares come from a file or
 * standard input (never from the command line, where other users could read them in ps), into
 * bounded secure buffers read with read(2) so no stdio buffer keeps a copy; outputs go to
 * standard output or to a file, mode 0600 when they are secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kh_codec.h"
#include "base/kh_int.h"
#include "base/kh_limits.h"
#include "cli/kh_cli.h"

static bool is_stdin(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0;
}

static int too_large(const struct kh_buf *out, const char *what)
{
	return cli_fail("the %s is larger than %zu bytes%s", what, out->max,
	                out->max >= KH_LIMIT_PLAINTEXT_BYTES
	                    ? " (keyhold envelope encrypt handles large files)"
	                    : "");
}

/* One read into out (or, when out is full, of one byte that proves the input too large);
 * 0 at the end of the input, -1 with errno on failure, -2 when too large. */
static ssize_t read_some(int fd, struct kh_buf *out)
{
	uint8_t *p = NULL, extra;
	ssize_t r;
	if (out->len == out->max) {
		do
			r = read(fd, &extra, 1);
		while (r < 0 && errno == EINTR);
		return r > 0 ? -2 : r;
	}
	if (kh_buf_extend(out, 1, &p) != KH_OK) {
		errno = ENOMEM;
		return -1;
	}
	/* What the buffer holds without growing (it keeps one byte for a NUL). */
	do
		r = read(fd, p, out->cap - out->len - 1);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		kh_buf_commit(out, (size_t)r);
	return r;
}

int cli_claim_stdin(const char *what)
{
	static const char *user;
	if (user != NULL && strcmp(user, what) != 0)
		return cli_usage_error("standard input cannot give both the %s and the %s", user,
		                       what);
	user = what;
	return KH_EXIT_OK;
}

int cli_read_input(const char *path, struct kh_buf *out, const char *what)
{
	int ex = is_stdin(path) ? cli_claim_stdin(what) : KH_EXIT_OK;
	if (ex != KH_EXIT_OK)
		return ex;
	int fd = is_stdin(path) ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;
	if (fd < 0)
		return cli_fail("cannot open %s: %s", path, strerror(errno));
	while ((r = read_some(fd, out)) > 0)
		;
	if (r == -2)
		ex = too_large(out, what);
	else if (r < 0)
		ex = cli_fail("cannot read the %s: %s", what, strerror(errno));
	if (!is_stdin(path))
		close(fd);
	return ex;
}

int cli_read_text(const char *path, struct kh_buf *out, const char *what)
{
	int ex = cli_read_input(path, out, what);
	if (ex != KH_EXIT_OK)
		return ex;
	size_t n = out->len;
	while (n > 0 && (out->ptr[n - 1] == '\n' || out->ptr[n - 1] == '\r' ||
	                 out->ptr[n - 1] == ' ' || out->ptr[n - 1] == '\t'))
		n--;
	kh_buf_truncate(out, n);
	if (n == 0)
		return cli_fail("the %s is empty", what);
	for (size_t i = 0; i < n; i++) {
		if (out->ptr[i] < 0x20 || out->ptr[i] > 0x7e)
			return cli_fail("the %s is not a single line of text", what);
	}
	return KH_EXIT_OK;
}

static int write_all(int fd, struct kh_slice data)
{
	size_t done = 0;
	while (done < data.len) {
		ssize_t w = write(fd, data.ptr + done, data.len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

int cli_write_output(const char *path, struct kh_slice data, bool secret)
{
	if (path == NULL || strcmp(path, "-") == 0) {
		fflush(stdout);
		if (write_all(STDOUT_FILENO, data) != 0)
			return cli_fail("cannot write to standard output: %s", strerror(errno));
		return KH_EXIT_OK;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, secret ? 0600 : 0644);
	if (fd < 0)
		return cli_fail("cannot create %s: %s", path, strerror(errno));
	/* An existing file keeps its mode on O_CREAT: tighten it for secrets. */
	int rc = (secret ? fchmod(fd, 0600) : 0) == 0 ? write_all(fd, data) : -1;
	if (close(fd) != 0)
		rc = -1;
	return rc == 0 ? KH_EXIT_OK : cli_fail("cannot write %s: %s", path, strerror(errno));
}

int cli_write_public(const char *path, struct kh_slice data)
{
	char tmp[PATH_MAX];
	if (path == NULL || strcmp(path, "-") == 0)
		return cli_write_output(NULL, data, false);
	int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return cli_usage_error("the file name %s is too long", path);
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return cli_fail("cannot create a file beside %s: %s", path, strerror(errno));
	int rc = fchmod(fd, 0644) == 0 && write_all(fd, data) == 0 && fsync(fd) == 0 ? 0 : -1;
	int err = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		err = errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -1;
		err = errno;
	}
	if (rc != 0) {
		(void)unlink(tmp);
		return cli_fail("cannot write %s: %s", path, strerror(err));
	}
	return KH_EXIT_OK;
}

int cli_write_line(const char *path, struct kh_slice s, bool secret)
{
	struct kh_buf line;
	kh_buf_init(&line, s.len + 1, secret ? KH_BUF_SECURE : KH_BUF_PLAIN);
	int ex = kh_buf_append(&line, s) == KH_OK && kh_buf_append_byte(&line, '\n') == KH_OK
	             ? cli_write_output(path, kh_buf_slice(&line), secret)
	             : cli_fail("out of memory");
	kh_buf_cleanup(&line);
	return ex;
}

int cli_uint(const char *text, const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
	if (kh_parse_u64(kh_slice_from_cstr(text), min, max, out) != KH_OK)
		return cli_usage_error("%s must be a whole number in %llu..%llu", name,
		                       (unsigned long long)min, (unsigned long long)max);
	return KH_EXIT_OK;
}

int cli_context_member(const struct cli_args *a, struct kh_json_writer *w)
{
	const char *text = cli_opt(a, "context"), *file = cli_opt(a, "context-file");
	struct kh_buf ctx;
	if (text != NULL && file != NULL)
		return cli_usage_error("give --context or --context-file, not both");
	if (text == NULL && file == NULL)
		return KH_EXIT_OK;
	kh_buf_init(&ctx, KH_LIMIT_CONTEXT_BYTES, KH_BUF_PLAIN);
	int ex = KH_EXIT_OK;
	if (file != NULL)
		ex = cli_read_input(file, &ctx, "context");
	else if (kh_buf_append_cstr(&ctx, text) != KH_OK)
		ex = cli_usage_error("the context is over %u bytes", KH_LIMIT_CONTEXT_BYTES);
	if (ex == KH_EXIT_OK && ctx.len > 0) {
		kh_json_key(w, "context");
		kh_json_base64(w, kh_buf_slice(&ctx));
	}
	kh_buf_cleanup(&ctx);
	return ex;
}
