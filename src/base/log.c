/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-lines logger that refuses secrets (see kh_log.h).
 */
#include "base/kh_log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/kh_clock.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"

enum {
	LINE_MAX_BYTES = 16 * 1024
};

static _Atomic int log_level = KH_LOG_INFO;
static _Atomic int log_fd = STDERR_FILENO;
static kh_log_sink log_sink;
static void *log_sink_arg;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char hex[] = "0123456789abcdef";

void kh_log_set_level(enum kh_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum kh_log_level kh_log_get_level(void)
{
	return (enum kh_log_level)atomic_load(&log_level);
}

void kh_log_set_sink(kh_log_sink sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

void kh_log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

/* A fixed-size line builder: appends quietly stop at the end and mark the line as cut. */
struct line {
	char buf[LINE_MAX_BYTES];
	size_t len;
	int cut;      /* a value was shortened to KH_LIMIT_LOG_VALUE_BYTES */
	int overflow; /* the line itself ran out of room */
};

static void put(struct line *l, const char *s, size_t n)
{
	/* Keep room for the closing "}\n". */
	size_t room = sizeof(l->buf) - 2 - l->len;
	if (n > room) {
		n = room;
		l->overflow = 1;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_cstr(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* JSON string body: escapes quotes, backslashes and control bytes; cuts long values. */
static void put_escaped(struct line *l, const uint8_t *s, size_t n)
{
	size_t i;

	if (n > KH_LIMIT_LOG_VALUE_BYTES) {
		n = KH_LIMIT_LOG_VALUE_BYTES;
		l->cut = 1;
	}
	for (i = 0; i < n; i++) {
		uint8_t c = s[i];
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
		if (c == '"' || c == '\\') {
			char two[2] = {'\\', (char)c};
			put(l, two, 2);
		} else if (c < 0x20 || c == 0x7f) {
			put(l, esc, sizeof(esc));
		} else {
			put(l, (const char *)&c, 1);
		}
	}
}

static void put_key(struct line *l, const char *name)
{
	put_cstr(l, ",\"");
	put_escaped(l, (const uint8_t *)name, strlen(name));
	put_cstr(l, "\":");
}

static void put_field(struct line *l, const struct kh_log_field *f)
{
	char num[32];
	size_t i;

	put_key(l, f->name);
	switch (f->type) {
	case KH_LOG_T_STR:
		if (f->v.str == NULL) {
			put_cstr(l, "null");
			return;
		}
		put_cstr(l, "\"");
		if (kh_secure_owns(f->v.str))
			put_cstr(l, "[redacted]");
		else
			put_escaped(l, (const uint8_t *)f->v.str, strlen(f->v.str));
		put_cstr(l, "\"");
		return;
	case KH_LOG_T_BYTES:
		put_cstr(l, "\"");
		if (f->v.bytes.len > 0 && kh_secure_owns(f->v.bytes.ptr)) {
			put_cstr(l, "[redacted]");
		} else {
			size_t n = f->v.bytes.len;
			if (n > KH_LIMIT_LOG_VALUE_BYTES / 2) {
				n = KH_LIMIT_LOG_VALUE_BYTES / 2;
				l->cut = 1;
			}
			for (i = 0; i < n; i++) {
				char two[2] = {hex[f->v.bytes.ptr[i] >> 4],
				               hex[f->v.bytes.ptr[i] & 0xf]};
				put(l, two, 2);
			}
		}
		put_cstr(l, "\"");
		return;
	case KH_LOG_T_INT:
		snprintf(num, sizeof(num), "%lld", (long long)f->v.i);
		put_cstr(l, num);
		return;
	case KH_LOG_T_UINT:
		snprintf(num, sizeof(num), "%llu", (unsigned long long)f->v.u);
		put_cstr(l, num);
		return;
	case KH_LOG_T_RC:
		put_cstr(l, "\"");
		put_cstr(l, kh_rc_name(f->v.rc));
		put_cstr(l, "\"");
		return;
	}
	put_cstr(l, "null");
}

/* Builds the whole line; with fields == NULL only the time, level and message. */
static void build_line(struct line *l, enum kh_log_level level, const char *msg,
                       const struct kh_log_field *fields, size_t field_count)
{
	static const char mark[] = ",\"truncated\":true";
	char ts[KH_RFC3339_MAX];
	size_t i;

	l->len = 0;
	l->cut = 0;
	l->overflow = 0;
	if (kh_time_format_rfc3339(kh_clock_now(kh_clock_real()), 1, ts, sizeof(ts)) != KH_OK)
		ts[0] = '\0';
	put_cstr(l, "{\"ts\":\"");
	put_cstr(l, ts);
	put_cstr(l, "\",\"level\":\"");
	put_cstr(l, level_names[level]);
	put_cstr(l, "\",\"msg\":\"");
	if (msg != NULL && !kh_secure_owns(msg))
		put_escaped(l, (const uint8_t *)msg, strlen(msg));
	put_cstr(l, "\"");
	for (i = 0; fields != NULL && i < field_count; i++) {
		if (fields[i].name != NULL)
			put_field(l, &fields[i]);
	}
	if (l->cut || fields == NULL)
		put(l, mark, sizeof(mark) - 1);
}

void kh_log_write(enum kh_log_level level, const char *msg, const struct kh_log_field *fields,
                  size_t field_count)
{
	struct line l;

	if (level < kh_log_get_level() || level >= KH_LOG_OFF)
		return;
	build_line(&l, level, msg, fields, field_count);
	if (l.overflow) /* too many fields: keep a well-formed line with the message only */
		build_line(&l, level, msg, NULL, 0);
	l.buf[l.len++] = '}';
	l.buf[l.len++] = '\n';

	if (log_sink != NULL) {
		log_sink(log_sink_arg, l.buf, l.len);
	} else {
		/* One write per line keeps lines whole when threads log at once. */
		ssize_t w = write(atomic_load(&log_fd), l.buf, l.len);
		(void)w;
	}
}
