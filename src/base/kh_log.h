/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structured logging: one JSON object per line, written with a single write(2).
 *
 * There is no printf-style entry point. A record is a message plus typed fields, and every
 * string or byte field is checked against the secure arena before it is printed: a value that
 * lives in secure memory (a key, a share, a token, plaintext) is replaced by "[redacted]", so
 * a secret cannot reach the log even by mistake. Byte fields print as hex and are for public
 * values (digests, tags of keys); strings are JSON-escaped and cut at KH_LIMIT_LOG_VALUE_BYTES.
 *
 *   KH_LOG_INFO("key rotated", KH_LF_STR("key", tag), KH_LF_INT("version", v));
 */
#ifndef KH_LOG_H
#define KH_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"

enum kh_log_level {
	KH_LOG_DEBUG = 0,
	KH_LOG_INFO,
	KH_LOG_WARN,
	KH_LOG_ERROR,
	KH_LOG_OFF,
};

enum kh_log_type {
	KH_LOG_T_STR,
	KH_LOG_T_BYTES,
	KH_LOG_T_INT,
	KH_LOG_T_UINT,
	KH_LOG_T_RC,
};

struct kh_log_field {
	const char *name;
	enum kh_log_type type;
	union {
		const char *str;
		struct kh_slice bytes;
		int64_t i;
		uint64_t u;
		kh_rc rc;
	} v;
};

#define KH_LF_STR(n, s) ((struct kh_log_field){.name = (n), .type = KH_LOG_T_STR, .v.str = (s)})
#define KH_LF_BYTES(n, s)                                                                          \
	((struct kh_log_field){.name = (n), .type = KH_LOG_T_BYTES, .v.bytes = (s)})
#define KH_LF_INT(n, x)                                                                            \
	((struct kh_log_field){.name = (n), .type = KH_LOG_T_INT, .v.i = (int64_t)(x)})
#define KH_LF_UINT(n, x)                                                                           \
	((struct kh_log_field){.name = (n), .type = KH_LOG_T_UINT, .v.u = (uint64_t)(x)})
#define KH_LF_RC(x) ((struct kh_log_field){.name = "error", .type = KH_LOG_T_RC, .v.rc = (x)})

/* Receives each finished line (with its trailing newline). The default writes to stderr. */
typedef void (*kh_log_sink)(void *arg, const char *line, size_t len);

void kh_log_set_level(enum kh_log_level level);
enum kh_log_level kh_log_get_level(void);
/* NULL restores the stderr sink. */
void kh_log_set_sink(kh_log_sink sink, void *arg);
/* Writes to fd instead of stderr (for the daemon's log file). */
void kh_log_set_fd(int fd);

void kh_log_write(enum kh_log_level level, const char *msg, const struct kh_log_field *fields,
                  size_t field_count);

#define KH_LOG_FIELDS_(...)                                                                        \
	(const struct kh_log_field[]){__VA_ARGS__},                                                \
	    sizeof((const struct kh_log_field[]){__VA_ARGS__}) / sizeof(struct kh_log_field)
#define KH_LOG_(lvl, msg, ...)                                                                     \
	do {                                                                                       \
		if ((lvl) >= kh_log_get_level())                                                   \
			kh_log_write((lvl), (msg), KH_LOG_FIELDS_(__VA_ARGS__));                   \
	} while (0)

/* Each takes a message and at least one field; use KH_LF_NONE when there is nothing to add. */
#define KH_LF_NONE ((struct kh_log_field){.name = NULL})
#define KH_LOG_DEBUG(msg, ...) KH_LOG_(KH_LOG_DEBUG, msg, __VA_ARGS__)
#define KH_LOG_INFO(msg, ...) KH_LOG_(KH_LOG_INFO, msg, __VA_ARGS__)
#define KH_LOG_WARN(msg, ...) KH_LOG_(KH_LOG_WARN, msg, __VA_ARGS__)
#define KH_LOG_ERROR(msg, ...) KH_LOG_(KH_LOG_ERROR, msg, __VA_ARGS__)

#endif
