/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON reading on jansson and our own compact writer (see kh_json.h).
 *
 * Reading takes three steps. A cheap pre-scan refuses an empty body, a body that does not start
 * with '{', and bracket nesting deeper than KH_LIMIT_JSON_DEPTH, so jansson (which recurses while
 * it parses and would allow 2048 levels) never goes deep. jansson then parses with duplicate keys
 * refused, NUL refused in strings (JSON_ALLOW_NUL is not set) and its end-of-input check on, so
 * trailing bytes fail; it validates UTF-8 itself (overlong forms, surrogates, truncated
 * sequences). Last, a walk over the tree enforces the depth and string limits on decoded values.
 *
 * jansson allocates through kh_alloc, so allocation-failure tests reach it, and every block it
 * frees is wiped first: a request body may carry a plaintext, and jansson keeps copies of its
 * strings (its token buffer, the values).
 */
#include "http/kh_json.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_clock.h"
#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"

/* ---- jansson's allocator ---- */

static pthread_once_t alloc_once = PTHREAD_ONCE_INIT;
/* Set when an allocation fails during a parse: jansson does not always report it as such. */
static _Thread_local bool alloc_failed;

static void *json_mem_alloc(size_t len)
{
	void *p = kh_alloc(len);

	if (p == NULL)
		alloc_failed = true;
	return p;
}

/* kh_alloc is malloc underneath (kh_mem.h), so malloc_usable_size gives the block's size; this
 * also holds for a block jansson took before these functions were installed. */
static void json_mem_free(void *p)
{
	if (p == NULL)
		return;
	kh_wipe(p, malloc_usable_size(p));
	kh_free_ptr(p);
}

static void alloc_setup(void)
{
	json_set_alloc_funcs(json_mem_alloc, json_mem_free);
}

/* ---- errors for the client ---- */

__attribute__((format(printf, 3, 4))) static void set_error(char *out, size_t out_len,
                                                            const char *fmt, ...)
{
	va_list ap;

	if (out == NULL || out_len == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(out, out_len, fmt, ap);
	va_end(ap);
}

static void set_error_at(char *out, size_t out_len, const char *reason, int line, int column)
{
	if (line > 0 && column > 0)
		set_error(out, out_len, "%s at line %d, column %d", reason, line, column);
	else
		set_error(out, out_len, "%s", reason);
}

/* Line and column (1-based; columns count characters, as jansson's do) of byte offset pos. */
static void set_error_at_offset(char *out, size_t out_len, const char *reason, struct kh_slice body,
                                size_t pos)
{
	size_t line = 1;
	size_t column = 0;

	for (size_t i = 0; i <= pos && i < body.len; i++) {
		if (body.ptr[i] == '\n') {
			line++;
			column = 0;
		} else if ((body.ptr[i] & 0xc0) != 0x80) {
			column++;
		}
	}
	set_error_at(out, out_len, reason, line > INT_MAX ? INT_MAX : (int)line,
	             column > INT_MAX ? INT_MAX : (int)column);
}

/* ---- UTF-8 ---- */

static bool is_cont(uint8_t c)
{
	return (c & 0xc0) == 0x80;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629 section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when it is not one. n >= 1. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && is_cont(p[1]) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || !is_cont(p[1]) || !is_cont(p[2]))
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || !is_cont(p[1]) || !is_cont(p[2]) || !is_cont(p[3]))
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

static size_t first_bad_utf8(struct kh_slice s)
{
	size_t i = 0;

	while (i < s.len) {
		size_t n = utf8_len(s.ptr + i, s.len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return s.len;
}

/* ---- parsing ---- */

static const json_t *to_jansson(const struct kh_json *v)
{
	return (const json_t *)(const void *)v;
}

static const struct kh_json *from_jansson(const json_t *v)
{
	return (const struct kh_json *)(const void *)v;
}

/* jansson's object iterators take a non-const object though they only read it. */
static json_t *unconst(const json_t *v)
{
	return (json_t *)(uintptr_t)v;
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Refuses, before jansson sees the body: nothing but whitespace, a first value that is not an
 * object, and brackets nested deeper than the limit. Brackets inside strings do not count; a
 * backslash in a string escapes the next byte, so \" does not end it. On malformed JSON the
 * count may be off, but never below what jansson would recurse before it fails.
 */
static kh_rc prescan(struct kh_slice body, char *err, size_t err_len)
{
	unsigned depth = 0;
	size_t i = 0;

	while (i < body.len && is_ws(body.ptr[i]))
		i++;
	if (i == body.len) {
		set_error(err, err_len, "empty body: a JSON object is required");
		return KH_ERR_BAD_INPUT;
	}
	if (body.ptr[i] != '{') {
		set_error_at_offset(err, err_len, "the body is not a JSON object", body, i);
		return KH_ERR_BAD_INPUT;
	}
	for (; i < body.len; i++) {
		uint8_t c = body.ptr[i];

		if (c == '"') {
			for (i++; i < body.len && body.ptr[i] != '"'; i++) {
				if (body.ptr[i] == '\\')
					i++;
			}
		} else if (c == '{' || c == '[') {
			if (++depth > KH_LIMIT_JSON_DEPTH) {
				set_error_at_offset(err, err_len, "JSON nested too deep", body, i);
				return KH_ERR_BAD_INPUT;
			}
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return KH_OK;
}

static const struct {
	enum json_error_code code;
	kh_rc rc;
	const char *reason;
} jansson_errors[] = {
    {json_error_out_of_memory, KH_ERR_NOMEM, "out of memory"},
    {json_error_stack_overflow, KH_ERR_BAD_INPUT, "JSON nested too deep"},
    {json_error_premature_end_of_input, KH_ERR_BAD_INPUT, "unexpected end of the body"},
    {json_error_end_of_input_expected, KH_ERR_BAD_INPUT, "unexpected bytes after the object"},
    {json_error_null_character, KH_ERR_BAD_INPUT, "NUL character in a string"},
    {json_error_null_byte_in_key, KH_ERR_BAD_INPUT, "NUL character in a member name"},
    {json_error_duplicate_key, KH_ERR_BAD_INPUT, "duplicate member name"},
    {json_error_numeric_overflow, KH_ERR_BAD_INPUT, "number out of range"},
};

/* jansson's own message quotes the input ("near '...'"), so only its code and position are
 * used. */
static kh_rc parse_error(const json_error_t *e, struct kh_slice body, char *err, size_t err_len)
{
	enum json_error_code code = json_error_code(e);

	if (code == json_error_invalid_utf8) {
		/* jansson gives no position for this one. */
		set_error_at_offset(err, err_len, "invalid UTF-8", body, first_bad_utf8(body));
		return KH_ERR_BAD_INPUT;
	}
	for (size_t i = 0; i < sizeof(jansson_errors) / sizeof(jansson_errors[0]); i++) {
		if (jansson_errors[i].code == code) {
			set_error_at(err, err_len, jansson_errors[i].reason, e->line, e->column);
			return jansson_errors[i].rc;
		}
	}
	set_error_at(err, err_len, "invalid JSON", e->line, e->column);
	return KH_ERR_BAD_INPUT;
}

static kh_rc string_len_ok(size_t len, char *err, size_t err_len)
{
	if (len <= KH_LIMIT_JSON_STRING_BYTES)
		return KH_OK;
	set_error(err, err_len, "a string is longer than %u bytes", KH_LIMIT_JSON_STRING_BYTES);
	return KH_ERR_TOO_LARGE;
}

/* Depth and string limits on the decoded tree; depth counts containers, the root is 1. The
 * pre-scan already bounds the recursion. */
static kh_rc check_tree(const json_t *v, unsigned depth, char *err, size_t err_len)
{
	json_t *o = unconst(v);

	if (json_is_string(v))
		return string_len_ok(json_string_length(v), err, err_len);
	if (!json_is_object(v) && !json_is_array(v))
		return KH_OK;
	if (depth > KH_LIMIT_JSON_DEPTH) {
		set_error(err, err_len, "JSON nested too deep");
		return KH_ERR_BAD_INPUT;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			KH_GUARD(check_tree(json_array_get(v, i), depth + 1, err, err_len));
		return KH_OK;
	}
	for (void *it = json_object_iter(o); it != NULL; it = json_object_iter_next(o, it)) {
		KH_GUARD(string_len_ok(json_object_iter_key_len(it), err, err_len));
		KH_GUARD(check_tree(json_object_iter_value(it), depth + 1, err, err_len));
	}
	return KH_OK;
}

kh_rc kh_json_parse_object(struct kh_slice body, struct kh_json **out, char *out_error,
                           size_t out_error_len)
{
	json_error_t jerr;
	json_t *root;
	kh_rc rc;

	KH_ENSURE(out != NULL, KH_ERR_INTERNAL);
	KH_GUARD(prescan(body, out_error, out_error_len));

	pthread_once(&alloc_once, alloc_setup);
	alloc_failed = false;
	root = json_loadb((const char *)body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (alloc_failed) {
		json_decref(root);
		set_error(out_error, out_error_len, "out of memory");
		return KH_ERR_NOMEM;
	}
	if (root == NULL)
		return parse_error(&jerr, body, out_error, out_error_len);
	if (!json_is_object(root)) {
		set_error(out_error, out_error_len, "the body is not a JSON object");
		rc = KH_ERR_BAD_INPUT;
	} else {
		rc = check_tree(root, 1, out_error, out_error_len);
	}
	if (rc != KH_OK) {
		json_decref(root);
		return rc;
	}
	*out = (struct kh_json *)(void *)root;
	return KH_OK;
}

void kh_json_free(struct kh_json **doc)
{
	if (doc == NULL || *doc == NULL)
		return;
	json_decref((json_t *)(void *)*doc);
	*doc = NULL;
}

/* ---- reading values ---- */

enum kh_json_kind kh_json_kind_of(const struct kh_json *v)
{
	const json_t *j = to_jansson(v);

	if (j == NULL)
		return KH_JSON_NULL;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return KH_JSON_OBJECT;
	case JSON_ARRAY:
		return KH_JSON_ARRAY;
	case JSON_STRING:
		return KH_JSON_STRING;
	case JSON_INTEGER:
		return KH_JSON_INT;
	case JSON_REAL:
		return KH_JSON_REAL;
	case JSON_TRUE:
	case JSON_FALSE:
		return KH_JSON_BOOL;
	case JSON_NULL:
	default:
		return KH_JSON_NULL;
	}
}

bool kh_json_object_next(const struct kh_json *obj, void **cursor, struct kh_slice *out_name,
                         const struct kh_json **out_value)
{
	json_t *o = unconst(to_jansson(obj));
	void *it;

	if (o == NULL || cursor == NULL || !json_is_object(o))
		return false;
	it = *cursor == NULL ? json_object_iter(o) : json_object_iter_next(o, *cursor);
	if (it == NULL)
		return false;
	*cursor = it;
	*out_name = KH_SLICE(json_object_iter_key(it), json_object_iter_key_len(it));
	*out_value = from_jansson(json_object_iter_value(it));
	return true;
}

static bool name_allowed(struct kh_slice name, const char *const *allowed)
{
	for (; allowed != NULL && *allowed != NULL; allowed++) {
		if (kh_slice_eq(name, kh_slice_from_cstr(*allowed)))
			return true;
	}
	return false;
}

/* The name as the client sent it, but only printable ASCII and not too much of it: the message
 * may end up in a log line or a terminal. */
static void unknown_member_error(struct kh_slice name, char *err, size_t err_len)
{
	enum {
		SHOWN_MAX = 40
	};
	char shown[SHOWN_MAX + 1];
	size_t n = name.len;

	if (n > SHOWN_MAX)
		n = SHOWN_MAX;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = name.ptr[i];
		shown[i] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	shown[n] = '\0';
	set_error(err, err_len, "unknown member \"%s%s\"", shown, name.len > n ? "..." : "");
}

kh_rc kh_json_only(const struct kh_json *obj, const char *const *allowed, char *out_error,
                   size_t out_error_len)
{
	void *cursor = NULL;
	struct kh_slice name;
	const struct kh_json *value;

	if (!kh_json_is_object(obj)) {
		set_error(out_error, out_error_len, "a JSON object is required");
		return KH_ERR_BAD_INPUT;
	}
	while (kh_json_object_next(obj, &cursor, &name, &value)) {
		if (!name_allowed(name, allowed)) {
			unknown_member_error(name, out_error, out_error_len);
			return KH_ERR_BAD_INPUT;
		}
	}
	return KH_OK;
}

/* obj and name come from the program (NULL is a bug); obj not being an object is the client's
 * doing, e.g. a batch item that is a number. */
static kh_rc member(const struct kh_json *obj, const char *name, const struct kh_json **out)
{
	const json_t *o = to_jansson(obj);
	const json_t *v;

	KH_ENSURE(o != NULL && name != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(json_is_object(o), KH_ERR_BAD_INPUT);
	v = json_object_get(o, name);
	KH_ENSURE(v != NULL, KH_ERR_NOT_FOUND);
	*out = from_jansson(v);
	return KH_OK;
}

bool kh_json_is_object(const struct kh_json *v)
{
	const json_t *j = to_jansson(v);

	return j != NULL && json_is_object(j);
}

kh_rc kh_json_as_string(const struct kh_json *v, struct kh_slice *out)
{
	const json_t *j = to_jansson(v);

	KH_ENSURE(j != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(json_is_string(j), KH_ERR_BAD_INPUT);
	*out = KH_SLICE(json_string_value(j), json_string_length(j));
	return KH_OK;
}

kh_rc kh_json_as_int(const struct kh_json *v, int64_t min, int64_t max, int64_t *out)
{
	const json_t *j = to_jansson(v);
	json_int_t n;

	KH_ENSURE(j != NULL, KH_ERR_INTERNAL);
	/* jansson keeps numbers with a fraction or an exponent as reals, even 1.0 and 1e2. */
	KH_ENSURE(json_is_integer(j), KH_ERR_BAD_INPUT);
	n = json_integer_value(j);
	KH_ENSURE(n >= min && n <= max, KH_ERR_BAD_INPUT);
	*out = n;
	return KH_OK;
}

kh_rc kh_json_as_bool(const struct kh_json *v, bool *out)
{
	const json_t *j = to_jansson(v);

	KH_ENSURE(j != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(json_is_boolean(j), KH_ERR_BAD_INPUT);
	*out = json_is_true(j);
	return KH_OK;
}

kh_rc kh_json_as_base64(const struct kh_json *v, struct kh_buf *out)
{
	struct kh_slice s;
	size_t old_len = out->len;
	kh_rc rc;

	KH_GUARD(kh_json_as_string(v, &s));
	rc = kh_base64_decode(s, out);
	if (rc != KH_OK)
		kh_buf_truncate(out, old_len);
	return rc;
}

kh_rc kh_json_as_array(const struct kh_json *v, size_t *out_count)
{
	const json_t *j = to_jansson(v);

	KH_ENSURE(j != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(json_is_array(j), KH_ERR_BAD_INPUT);
	*out_count = json_array_size(j);
	return KH_OK;
}

const struct kh_json *kh_json_array_at(const struct kh_json *arr, size_t i)
{
	const json_t *j = to_jansson(arr);

	return j != NULL ? from_jansson(json_array_get(j, i)) : NULL;
}

kh_rc kh_json_get_string(const struct kh_json *obj, const char *name, struct kh_slice *out)
{
	const struct kh_json *v;

	KH_GUARD(member(obj, name, &v));
	return kh_json_as_string(v, out);
}

kh_rc kh_json_get_int(const struct kh_json *obj, const char *name, int64_t min, int64_t max,
                      int64_t *out)
{
	const struct kh_json *v;

	KH_GUARD(member(obj, name, &v));
	return kh_json_as_int(v, min, max, out);
}

kh_rc kh_json_get_bool(const struct kh_json *obj, const char *name, bool *out)
{
	const struct kh_json *v;

	KH_GUARD(member(obj, name, &v));
	return kh_json_as_bool(v, out);
}

kh_rc kh_json_get_base64(const struct kh_json *obj, const char *name, struct kh_buf *out)
{
	const struct kh_json *v;

	KH_GUARD(member(obj, name, &v));
	return kh_json_as_base64(v, out);
}

kh_rc kh_json_get_array(const struct kh_json *obj, const char *name, const struct kh_json **out,
                        size_t *out_count)
{
	const struct kh_json *v;
	size_t n;

	KH_GUARD(member(obj, name, &v));
	KH_GUARD(kh_json_as_array(v, &n));
	*out = v;
	*out_count = n;
	return KH_OK;
}

/* ---- writing ---- */

void kh_json_writer_init(struct kh_json_writer *w, struct kh_buf *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->rc = out != NULL ? KH_OK : KH_ERR_INTERNAL;
	w->first[0] = true;
}

static void fail(struct kh_json_writer *w, kh_rc rc)
{
	if (w->rc == KH_OK)
		w->rc = rc;
}

static void put(struct kh_json_writer *w, struct kh_slice s)
{
	if (w->rc == KH_OK && s.len > 0)
		fail(w, kh_buf_append(w->out, s));
}

static void put_byte(struct kh_json_writer *w, uint8_t c)
{
	put(w, KH_SLICE(&c, 1));
}

/* RFC 8259 section 7: the two-character escapes where there is one, else \u00XX. */
static void put_escape(struct kh_json_writer *w, uint8_t c)
{
	static const char hex[] = "0123456789abcdef";
	char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
	size_t n = 2;

	switch (c) {
	case '"':
		e[1] = '"';
		break;
	case '\\':
		e[1] = '\\';
		break;
	case '\b':
		e[1] = 'b';
		break;
	case '\f':
		e[1] = 'f';
		break;
	case '\n':
		e[1] = 'n';
		break;
	case '\r':
		e[1] = 'r';
		break;
	case '\t':
		e[1] = 't';
		break;
	default:
		n = 6;
		break;
	}
	put(w, KH_SLICE(e, n));
}

/* A quoted, escaped string; runs of bytes that need no escape are copied in one piece. */
static void put_string(struct kh_json_writer *w, struct kh_slice s)
{
	size_t run = 0;
	size_t i = 0;

	put_byte(w, '"');
	while (i < s.len && w->rc == KH_OK) {
		uint8_t c = s.ptr[i];

		if (c >= 0x80) {
			size_t n = utf8_len(s.ptr + i, s.len - i);
			if (n == 0) {
				fail(w, KH_ERR_INTERNAL);
				return;
			}
			i += n;
		} else if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
		} else {
			if (i > run)
				put(w, KH_SLICE(s.ptr + run, i - run));
			put_escape(w, c);
			run = ++i;
		}
	}
	if (i > run)
		put(w, KH_SLICE(s.ptr + run, i - run));
	put_byte(w, '"');
}

/*
 * Before every value: in an object the value must follow its key (which wrote the comma); in an
 * array the value gets its comma; at the top only one value is allowed. False when the writer
 * has failed.
 */
static bool value_begin(struct kh_json_writer *w)
{
	if (w->rc != KH_OK)
		return false;
	if (w->in_object[w->depth]) {
		if (!w->after_key) {
			fail(w, KH_ERR_INTERNAL);
			return false;
		}
		w->after_key = false;
		return true;
	}
	if (!w->first[w->depth]) {
		if (w->depth == 0) {
			fail(w, KH_ERR_INTERNAL);
			return false;
		}
		put_byte(w, ',');
	}
	w->first[w->depth] = false;
	return w->rc == KH_OK;
}

static void container_begin(struct kh_json_writer *w, bool object)
{
	if (w->depth >= KH_JSON_WRITER_DEPTH)
		fail(w, KH_ERR_INTERNAL);
	if (!value_begin(w))
		return;
	put_byte(w, object ? '{' : '[');
	w->depth++;
	w->first[w->depth] = true;
	w->in_object[w->depth] = object;
}

static void container_end(struct kh_json_writer *w, bool object)
{
	if (w->rc != KH_OK)
		return;
	if (w->depth == 0 || w->in_object[w->depth] != object || w->after_key) {
		fail(w, KH_ERR_INTERNAL);
		return;
	}
	put_byte(w, object ? '}' : ']');
	w->depth--;
}

void kh_json_object_begin(struct kh_json_writer *w)
{
	container_begin(w, true);
}

void kh_json_object_end(struct kh_json_writer *w)
{
	container_end(w, true);
}

void kh_json_array_begin(struct kh_json_writer *w)
{
	container_begin(w, false);
}

void kh_json_array_end(struct kh_json_writer *w)
{
	container_end(w, false);
}

void kh_json_key(struct kh_json_writer *w, const char *key)
{
	if (w->rc != KH_OK)
		return;
	if (key == NULL || !w->in_object[w->depth] || w->after_key) {
		fail(w, KH_ERR_INTERNAL);
		return;
	}
	if (!w->first[w->depth])
		put_byte(w, ',');
	w->first[w->depth] = false;
	put_string(w, kh_slice_from_cstr(key));
	put_byte(w, ':');
	w->after_key = true;
}

void kh_json_string(struct kh_json_writer *w, struct kh_slice s)
{
	if (value_begin(w))
		put_string(w, s);
}

void kh_json_cstr(struct kh_json_writer *w, const char *s)
{
	if (s == NULL) {
		fail(w, KH_ERR_INTERNAL);
		return;
	}
	kh_json_string(w, kh_slice_from_cstr(s));
}

static void put_literal(struct kh_json_writer *w, const char *text, int len)
{
	if (len <= 0) {
		fail(w, KH_ERR_INTERNAL);
		return;
	}
	if (value_begin(w))
		put(w, KH_SLICE(text, (size_t)len));
}

void kh_json_int(struct kh_json_writer *w, int64_t v)
{
	char s[24];

	put_literal(w, s, snprintf(s, sizeof(s), "%" PRId64, v));
}

void kh_json_uint(struct kh_json_writer *w, uint64_t v)
{
	char s[24];

	put_literal(w, s, snprintf(s, sizeof(s), "%" PRIu64, v));
}

void kh_json_bool(struct kh_json_writer *w, bool v)
{
	put_literal(w, v ? "true" : "false", v ? 4 : 5);
}

void kh_json_null(struct kh_json_writer *w)
{
	put_literal(w, "null", 4);
}

void kh_json_base64(struct kh_json_writer *w, struct kh_slice bytes)
{
	if (!value_begin(w))
		return;
	/* Straight into the buffer: secrets stay in a secure one, and the alphabet needs no
	 * escapes. */
	put_byte(w, '"');
	if (w->rc == KH_OK)
		fail(w, kh_base64_encode(bytes, w->out));
	put_byte(w, '"');
}

void kh_json_time(struct kh_json_writer *w, int64_t unix_ns)
{
	char t[KH_RFC3339_MAX];

	if (w->rc != KH_OK)
		return;
	/* Every int64_t nanosecond time is within years 1677-2262, so this does not fail. */
	if (kh_time_format_rfc3339(unix_ns, 0, t, sizeof(t)) != KH_OK) {
		fail(w, KH_ERR_INTERNAL);
		return;
	}
	kh_json_string(w, kh_slice_from_cstr(t));
}

kh_rc kh_json_writer_end(struct kh_json_writer *w)
{
	if (w->rc == KH_OK && (w->depth != 0 || w->first[0]))
		w->rc = KH_ERR_INTERNAL;
	return w->rc;
}
