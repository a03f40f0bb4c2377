/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the JSON reader and writer. Properties checked on every input, not only "no crash":
 * - a refused body is KH_ERR_BAD_INPUT or KH_ERR_TOO_LARGE with a short, printable message;
 * - an accepted document keeps the limits: every name and string is valid UTF-8 without NUL and
 *   within KH_LIMIT_JSON_STRING_BYTES, and nesting is at most KH_LIMIT_JSON_DEPTH;
 * - every member reads through exactly the typed getter of its kind (the others say bad input,
 *   never not found), and a string that decodes as Base64 re-encodes to the same text, while one
 *   that does not leaves the output buffer as it was;
 * - kh_json_only accepts the document's own names and refuses the list without the first one;
 * - the writer re-emits the document (reals as null: no getter reads them), refusing it exactly
 *   when it nests deeper than KH_JSON_WRITER_DEPTH; the output parses back to the same members,
 *   writing that again gives the same bytes, and a secure buffer gets the same bytes too;
 * - the input itself, written as a string value, reads back unchanged when it is valid UTF-8
 *   without NUL; the writer refuses invalid UTF-8.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "http/kh_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/* An independent UTF-8 check (RFC 3629): decode, then refuse overlong forms, surrogates and
 * anything above U+10FFFF. */
static bool valid_utf8(struct kh_slice s)
{
	size_t i = 0;

	while (i < s.len) {
		uint8_t c = s.ptr[i];
		uint32_t cp;
		uint32_t min;
		size_t n;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 2;
			cp = c & 0x1fU;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			cp = c & 0x0fU;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			cp = c & 0x07U;
			min = 0x10000;
		} else {
			return false;
		}
		if (s.len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s.ptr[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s.ptr[i + k] & 0x3fU);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

static bool has_nul(struct kh_slice s)
{
	return s.len > 0 && memchr(s.ptr, 0, s.len) != NULL;
}

static bool clean_string(struct kh_slice s)
{
	return s.len <= KH_LIMIT_JSON_STRING_BYTES && valid_utf8(s) && !has_nul(s);
}

/* A NUL-terminated copy of a member name (names hold no NUL). */
static char *cname(struct kh_slice name)
{
	char *s = malloc(name.len + 1);

	CHECK(s != NULL);
	if (name.len > 0)
		memcpy(s, name.ptr, name.len);
	s[name.len] = '\0';
	return s;
}

static void check_error_message(const char *err)
{
	size_t n = strlen(err);

	CHECK(n > 0 && n < 128);
	for (size_t i = 0; i < n; i++)
		CHECK(err[i] >= 0x20 && err[i] < 0x7f);
}

static void check_base64(const struct kh_json *obj, const char *name, struct kh_slice s)
{
	struct kh_buf dec;
	struct kh_buf enc;
	kh_rc rc;

	kh_buf_init(&dec, KH_LIMIT_JSON_STRING_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&enc, KH_LIMIT_JSON_STRING_BYTES + 8, KH_BUF_PLAIN);
	CHECK(kh_buf_append_byte(&dec, '>') == KH_OK);
	rc = kh_json_get_base64(obj, name, &dec);
	if (rc == KH_OK) {
		CHECK(kh_base64_encode(KH_SLICE(dec.ptr + 1, dec.len - 1), &enc) == KH_OK);
		CHECK(kh_slice_eq(kh_buf_slice(&enc), s));
	} else {
		CHECK(rc == KH_ERR_BAD_ENCODING);
		CHECK(dec.len == 1 && dec.ptr[0] == '>');
	}
	kh_buf_cleanup(&dec);
	kh_buf_cleanup(&enc);
}

/* Exactly the getter of the member's kind works; the others say bad input. */
static void check_member(const struct kh_json *obj, const char *name, const struct kh_json *v)
{
	enum kh_json_kind kind = kh_json_kind_of(v);
	struct kh_slice s;
	struct kh_slice s2;
	int64_t i;
	int64_t i2;
	bool b;
	bool b2;
	const struct kh_json *arr;
	size_t count;
	size_t count2;
	kh_rc rc;

	rc = kh_json_get_string(obj, name, &s);
	CHECK(rc == (kind == KH_JSON_STRING ? KH_OK : KH_ERR_BAD_INPUT));
	if (rc == KH_OK) {
		CHECK(kh_json_as_string(v, &s2) == KH_OK && s.ptr == s2.ptr && s.len == s2.len);
		check_base64(obj, name, s);
	} else {
		struct kh_buf buf;
		kh_buf_init(&buf, 16, KH_BUF_PLAIN);
		CHECK(kh_json_get_base64(obj, name, &buf) == KH_ERR_BAD_INPUT && buf.len == 0);
		kh_buf_cleanup(&buf);
	}

	rc = kh_json_get_int(obj, name, INT64_MIN, INT64_MAX, &i);
	CHECK(rc == (kind == KH_JSON_INT ? KH_OK : KH_ERR_BAD_INPUT));
	if (rc == KH_OK) {
		CHECK(kh_json_as_int(v, i, i, &i2) == KH_OK && i == i2);
		if (i < INT64_MAX)
			CHECK(kh_json_get_int(obj, name, i + 1, INT64_MAX, &i2) ==
			      KH_ERR_BAD_INPUT);
		if (i > INT64_MIN)
			CHECK(kh_json_get_int(obj, name, INT64_MIN, i - 1, &i2) ==
			      KH_ERR_BAD_INPUT);
	}

	rc = kh_json_get_bool(obj, name, &b);
	CHECK(rc == (kind == KH_JSON_BOOL ? KH_OK : KH_ERR_BAD_INPUT));
	if (rc == KH_OK)
		CHECK(kh_json_as_bool(v, &b2) == KH_OK && b == b2);

	rc = kh_json_get_array(obj, name, &arr, &count);
	CHECK(rc == (kind == KH_JSON_ARRAY ? KH_OK : KH_ERR_BAD_INPUT));
	if (rc == KH_OK)
		CHECK(arr == v && kh_json_as_array(v, &count2) == KH_OK && count == count2);

	CHECK(kh_json_is_object(v) == (kind == KH_JSON_OBJECT));
}

/* Checks limits and getters everywhere below v; returns v's nesting depth. */
static unsigned walk(const struct kh_json *v)
{
	unsigned deepest = 0;

	switch (kh_json_kind_of(v)) {
	case KH_JSON_STRING: {
		struct kh_slice s;
		CHECK(kh_json_as_string(v, &s) == KH_OK && clean_string(s));
		return 0;
	}
	case KH_JSON_ARRAY: {
		size_t count;
		CHECK(kh_json_as_array(v, &count) == KH_OK);
		for (size_t i = 0; i < count; i++) {
			unsigned d = walk(kh_json_array_at(v, i));
			deepest = d > deepest ? d : deepest;
		}
		CHECK(kh_json_array_at(v, count) == NULL);
		return deepest + 1;
	}
	case KH_JSON_OBJECT: {
		void *cursor = NULL;
		struct kh_slice name;
		const struct kh_json *m;
		while (kh_json_object_next(v, &cursor, &name, &m)) {
			char *n = cname(name);
			unsigned d;
			CHECK(clean_string(name));
			check_member(v, n, m);
			free(n);
			d = walk(m);
			deepest = d > deepest ? d : deepest;
		}
		return deepest + 1;
	}
	default:
		return 0;
	}
}

static void check_only(const struct kh_json *root)
{
	void *cursor = NULL;
	struct kh_slice name;
	const struct kh_json *m;
	size_t n = 0;
	char **names;
	char err[128];

	while (kh_json_object_next(root, &cursor, &name, &m))
		n++;
	names = calloc(n + 1, sizeof(*names));
	CHECK(names != NULL);
	cursor = NULL;
	for (size_t i = 0; kh_json_object_next(root, &cursor, &name, &m); i++)
		names[i] = cname(name);
	CHECK(kh_json_only(root, (const char *const *)names, err, sizeof(err)) == KH_OK);
	if (n > 0) {
		/* Names are unique, so without the first one that member is unknown. */
		CHECK(kh_json_only(root, (const char *const *)names + 1, err, sizeof(err)) ==
		      KH_ERR_BAD_INPUT);
		check_error_message(err);
		CHECK(strncmp(err, "unknown member \"", 16) == 0);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void emit(struct kh_json_writer *w, const struct kh_json *v)
{
	struct kh_slice s;
	int64_t i;
	bool b;
	size_t count;

	switch (kh_json_kind_of(v)) {
	case KH_JSON_BOOL:
		CHECK(kh_json_as_bool(v, &b) == KH_OK);
		kh_json_bool(w, b);
		break;
	case KH_JSON_INT:
		CHECK(kh_json_as_int(v, INT64_MIN, INT64_MAX, &i) == KH_OK);
		if (i >= 0)
			kh_json_uint(w, (uint64_t)i);
		else
			kh_json_int(w, i);
		break;
	case KH_JSON_STRING:
		CHECK(kh_json_as_string(v, &s) == KH_OK);
		kh_json_string(w, s);
		break;
	case KH_JSON_ARRAY:
		CHECK(kh_json_as_array(v, &count) == KH_OK);
		kh_json_array_begin(w);
		for (size_t k = 0; k < count; k++)
			emit(w, kh_json_array_at(v, k));
		kh_json_array_end(w);
		break;
	case KH_JSON_OBJECT: {
		void *cursor = NULL;
		struct kh_slice name;
		const struct kh_json *m;
		kh_json_object_begin(w);
		while (kh_json_object_next(v, &cursor, &name, &m)) {
			char *n = cname(name);
			kh_json_key(w, n);
			free(n);
			emit(w, m);
		}
		kh_json_object_end(w);
		break;
	}
	case KH_JSON_NULL:
	case KH_JSON_REAL:
	default:
		kh_json_null(w);
		break;
	}
}

/* a as written (reals became null) and b as read back. */
static bool same(const struct kh_json *a, const struct kh_json *b)
{
	enum kh_json_kind ka = kh_json_kind_of(a);
	enum kh_json_kind kb = kh_json_kind_of(b);
	struct kh_slice sa, sb;
	int64_t ia, ib;
	bool ba, bb;
	size_t ca, cb;

	if (ka == KH_JSON_REAL)
		ka = KH_JSON_NULL;
	if (ka != kb)
		return false;
	switch (ka) {
	case KH_JSON_BOOL:
		return kh_json_as_bool(a, &ba) == KH_OK && kh_json_as_bool(b, &bb) == KH_OK &&
		       ba == bb;
	case KH_JSON_INT:
		return kh_json_as_int(a, INT64_MIN, INT64_MAX, &ia) == KH_OK &&
		       kh_json_as_int(b, INT64_MIN, INT64_MAX, &ib) == KH_OK && ia == ib;
	case KH_JSON_STRING:
		return kh_json_as_string(a, &sa) == KH_OK && kh_json_as_string(b, &sb) == KH_OK &&
		       kh_slice_eq(sa, sb);
	case KH_JSON_ARRAY:
		if (kh_json_as_array(a, &ca) != KH_OK || kh_json_as_array(b, &cb) != KH_OK ||
		    ca != cb)
			return false;
		for (size_t k = 0; k < ca; k++) {
			if (!same(kh_json_array_at(a, k), kh_json_array_at(b, k)))
				return false;
		}
		return true;
	case KH_JSON_OBJECT: {
		void *cur_a = NULL;
		void *cur_b = NULL;
		const struct kh_json *ma;
		const struct kh_json *mb;
		for (;;) {
			bool more_a = kh_json_object_next(a, &cur_a, &sa, &ma);
			bool more_b = kh_json_object_next(b, &cur_b, &sb, &mb);
			if (more_a != more_b)
				return false;
			if (!more_a)
				return true;
			if (!kh_slice_eq(sa, sb) || !same(ma, mb))
				return false;
		}
	}
	default:
		return true;
	}
}

static kh_rc write_doc(const struct kh_json *root, struct kh_buf *out)
{
	struct kh_json_writer w;

	kh_json_writer_init(&w, out);
	emit(&w, root);
	return kh_json_writer_end(&w);
}

static void check_rewrite(const struct kh_json *root, unsigned depth, size_t in_len)
{
	struct kh_buf out;
	struct kh_buf again;
	struct kh_json *back = NULL;
	char err[128];
	kh_rc rc;

	/* Whitespace goes, escapes never grow; only a real (3 bytes at least, "1e1") grows, to
	 * null. */
	kh_buf_init(&out, 2 * in_len + 64, KH_BUF_PLAIN);
	kh_buf_init(&again, 2 * in_len + 64, KH_BUF_PLAIN);
	rc = write_doc(root, &out);
	if (depth > KH_JSON_WRITER_DEPTH) {
		CHECK(rc == KH_ERR_INTERNAL);
		goto out;
	}
	CHECK(rc == KH_OK);
	CHECK(kh_json_parse_object(kh_buf_slice(&out), &back, err, sizeof(err)) == KH_OK);
	CHECK(same(root, back));
	CHECK(write_doc(back, &again) == KH_OK);
	CHECK(kh_slice_eq(kh_buf_slice(&out), kh_buf_slice(&again)));
	if (out.len <= 64 * 1024) {
		struct kh_buf secure;
		kh_buf_init(&secure, out.len, KH_BUF_SECURE);
		CHECK(write_doc(root, &secure) == KH_OK);
		CHECK(kh_slice_eq(kh_buf_slice(&out), kh_buf_slice(&secure)));
		kh_buf_cleanup(&secure);
	}
out:
	kh_json_free(&back);
	kh_buf_cleanup(&out);
	kh_buf_cleanup(&again);
}

/* The raw input as one string value: the escaper must round-trip any clean string. */
static void check_string_round_trip(struct kh_slice in)
{
	struct kh_buf out;
	struct kh_json_writer w;
	struct kh_json *doc = NULL;
	struct kh_slice s;
	char err[128];
	kh_rc rc;

	kh_buf_init(&out, 6 * in.len + 64, KH_BUF_PLAIN);
	kh_json_writer_init(&w, &out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "v");
	kh_json_string(&w, in);
	kh_json_object_end(&w);
	rc = kh_json_writer_end(&w);
	if (!valid_utf8(in)) {
		CHECK(rc == KH_ERR_INTERNAL);
	} else {
		CHECK(rc == KH_OK);
		rc = kh_json_parse_object(kh_buf_slice(&out), &doc, err, sizeof(err));
		if (has_nul(in)) {
			CHECK(rc == KH_ERR_BAD_INPUT);
		} else if (in.len > KH_LIMIT_JSON_STRING_BYTES) {
			CHECK(rc == KH_ERR_TOO_LARGE);
		} else {
			CHECK(rc == KH_OK);
			CHECK(kh_json_get_string(doc, "v", &s) == KH_OK && kh_slice_eq(s, in));
		}
	}
	kh_json_free(&doc);
	kh_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_json *doc = NULL;
	char err[128];
	kh_rc rc;

	err[0] = '\0';
	rc = kh_json_parse_object(KH_SLICE(data, size), &doc, err, sizeof(err));
	if (rc != KH_OK) {
		CHECK(rc == KH_ERR_BAD_INPUT || rc == KH_ERR_TOO_LARGE);
		CHECK(doc == NULL);
		check_error_message(err);
	} else {
		unsigned depth;
		CHECK(kh_json_is_object(doc));
		depth = walk(doc);
		CHECK(depth >= 1 && depth <= KH_LIMIT_JSON_DEPTH);
		check_only(doc);
		check_rewrite(doc, depth, size);
		kh_json_free(&doc);
	}
	check_string_round_trip(KH_SLICE(data, size));
	return 0;
}
