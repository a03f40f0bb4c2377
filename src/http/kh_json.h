/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON in and out for the API, strict as STYLE.md asks: a request body must be one JSON object,
 * valid UTF-8, no duplicate keys, no trailing bytes, nesting at most KH_LIMIT_JSON_DEPTH, strings
 * at most KH_LIMIT_JSON_STRING_BYTES; unknown fields are refused where the schema says so.
 * Reading is on jansson; jansson stays inside this file's implementation.
 *
 * Writing is our own small streaming writer into a struct kh_buf, compact (no spaces, one line),
 * so a response that carries a secret (a plaintext, a data key) can be written straight into a
 * KH_BUF_SECURE buffer and wiped after it is sent.
 */
#ifndef KH_JSON_H
#define KH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"

/* ---- reading ---- */

/* A parsed JSON value (object, array, string, number, bool or null); borrowed views into it are
 * valid until the document is freed. */
struct kh_json;

/*
 * Parses a request body that must be a JSON object. Errors: KH_ERR_BAD_INPUT (not JSON, not an
 * object, duplicate key, invalid UTF-8, NUL in a string, too deep, trailing bytes),
 * KH_ERR_TOO_LARGE (a string over the limit), KH_ERR_NOMEM. out_error (optional, 128 bytes)
 * gets a short English reason with the position, safe to show to the client (never echoes the
 * input).
 */
KH_MUST_CHECK kh_rc kh_json_parse_object(struct kh_slice body, struct kh_json **out,
                                         char *out_error, size_t out_error_len);
/* The document (root); NULL accepted. */
void kh_json_free(struct kh_json **doc);

/* KH_ERR_BAD_INPUT naming the first member of obj not in allowed (NULL-terminated list); the
 * name is shown with bytes outside printable ASCII (and quotes, backslashes) as '?', cut short
 * when long. */
KH_MUST_CHECK kh_rc kh_json_only(const struct kh_json *obj, const char *const *allowed,
                                 char *out_error, size_t out_error_len);

/*
 * Typed member access on an object. Absent members: KH_ERR_NOT_FOUND (so callers can tell
 * optional from wrong); a member of another type (null included) or obj not an object:
 * KH_ERR_BAD_INPUT. Strings come back as borrowed slices without their NUL (no embedded NULs,
 * checked at parse).
 */
KH_MUST_CHECK kh_rc kh_json_get_string(const struct kh_json *obj, const char *name,
                                       struct kh_slice *out);
/* Integers only (no fraction or exponent), within [min, max], else KH_ERR_BAD_INPUT. */
KH_MUST_CHECK kh_rc kh_json_get_int(const struct kh_json *obj, const char *name, int64_t min,
                                    int64_t max, int64_t *out);
KH_MUST_CHECK kh_rc kh_json_get_bool(const struct kh_json *obj, const char *name, bool *out);
/* Standard Base64 with padding, decoded and appended to out (which bounds it: too long is
 * KH_ERR_TOO_LARGE); invalid Base64 is KH_ERR_BAD_ENCODING. On failure out is unchanged. */
KH_MUST_CHECK kh_rc kh_json_get_base64(const struct kh_json *obj, const char *name,
                                       struct kh_buf *out);
/* Arrays: the member as an array (KH_ERR_NOT_FOUND / KH_ERR_BAD_INPUT as above). */
KH_MUST_CHECK kh_rc kh_json_get_array(const struct kh_json *obj, const char *name,
                                      const struct kh_json **out, size_t *out_count);
/* Element i of an array (i < count); NULL when arr is not an array or i is out of range. */
const struct kh_json *kh_json_array_at(const struct kh_json *arr, size_t i);
/* An element's type checks and values: the same rules as the member getters above, with
 * KH_ERR_BAD_INPUT for a value of another type. */
bool kh_json_is_object(const struct kh_json *v);
KH_MUST_CHECK kh_rc kh_json_as_string(const struct kh_json *v, struct kh_slice *out);
KH_MUST_CHECK kh_rc kh_json_as_int(const struct kh_json *v, int64_t min, int64_t max, int64_t *out);
KH_MUST_CHECK kh_rc kh_json_as_bool(const struct kh_json *v, bool *out);
KH_MUST_CHECK kh_rc kh_json_as_base64(const struct kh_json *v, struct kh_buf *out);
KH_MUST_CHECK kh_rc kh_json_as_array(const struct kh_json *v, size_t *out_count);

/* For code that walks a document without knowing its schema (the fuzz target, tests). */
enum kh_json_kind {
	KH_JSON_NULL = 0,
	KH_JSON_BOOL,
	KH_JSON_INT,
	KH_JSON_REAL, /* a number with a fraction or exponent: no getter reads it */
	KH_JSON_STRING,
	KH_JSON_ARRAY,
	KH_JSON_OBJECT,
};
enum kh_json_kind kh_json_kind_of(const struct kh_json *v);
/* The members of an object in document order: set *cursor = NULL, then each call gives the
 * next member's name (borrowed, without NUL) and value, and false after the last one. */
bool kh_json_object_next(const struct kh_json *obj, void **cursor, struct kh_slice *out_name,
                         const struct kh_json **out_value);

/* ---- writing ---- */

/*
 * A streaming writer: objects and arrays nest; keys are written by kh_json_key before each
 * member value. Strings are escaped as RFC 8259 section 7 allows (\" \\ \b \f \n \r \t, other
 * control characters as \u00XX); other UTF-8 passes through, and invalid UTF-8 is refused
 * (callers give valid UTF-8). Errors stick: later calls do nothing and kh_json_writer_end
 * reports the first one: KH_ERR_TOO_LARGE (the buffer's limit), KH_ERR_NOMEM, or
 * KH_ERR_INTERNAL for misuse (a value without its key in an object, a key outside an object,
 * an end that does not match its begin, nesting over KH_JSON_WRITER_DEPTH, a second top-level
 * value, invalid UTF-8).
 */
#define KH_JSON_WRITER_DEPTH 16u
struct kh_json_writer {
	struct kh_buf *out;
	kh_rc rc;
	unsigned depth;
	bool first[KH_JSON_WRITER_DEPTH + 1];     /* no member written yet at this depth */
	bool in_object[KH_JSON_WRITER_DEPTH + 1]; /* the container at this depth is an object */
	bool after_key;
};
void kh_json_writer_init(struct kh_json_writer *w, struct kh_buf *out);
void kh_json_object_begin(struct kh_json_writer *w);
void kh_json_object_end(struct kh_json_writer *w);
void kh_json_array_begin(struct kh_json_writer *w);
void kh_json_array_end(struct kh_json_writer *w);
void kh_json_key(struct kh_json_writer *w, const char *key);
void kh_json_string(struct kh_json_writer *w, struct kh_slice s);
void kh_json_cstr(struct kh_json_writer *w, const char *s);
void kh_json_int(struct kh_json_writer *w, int64_t v);
void kh_json_uint(struct kh_json_writer *w, uint64_t v);
void kh_json_bool(struct kh_json_writer *w, bool v);
void kh_json_null(struct kh_json_writer *w);
/* Standard Base64 with padding of bytes, as a string. */
void kh_json_base64(struct kh_json_writer *w, struct kh_slice bytes);
/* An RFC 3339 UTC time string from Unix nanoseconds (seconds precision). */
void kh_json_time(struct kh_json_writer *w, int64_t unix_ns);
/* KH_OK when the document is complete (one top-level value, depth 0) and nothing failed. */
KH_MUST_CHECK kh_rc kh_json_writer_end(struct kh_json_writer *w);

#endif
