/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON reading and writing: every member type read back, every refusal STYLE.md asks for with
 * its exact code (not an object, duplicate keys, trailing bytes, invalid UTF-8, NUL, depth,
 * string size, empty bodies), the typed getters' absent/wrong-type/range rules, strict Base64,
 * the writer's escaping, numbers and misuse errors, write-then-parse round trips, secure output
 * buffers, and allocation failures through jansson.
 */
#include "kh_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_clock.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "http/kh_json.h"

enum {
	ERR_LEN = 128
};

/* Parses exactly len bytes from a heap copy of that size, so ASan catches any read past the
 * end (the body is not NUL-terminated). */
static kh_rc parse_bytes(const void *text, size_t len, struct kh_json **doc, char *err)
{
	uint8_t *copy = malloc(len == 0 ? 1 : len);
	kh_rc rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, text, len);
	*doc = NULL;
	err[0] = '\0';
	rc = kh_json_parse_object(KH_SLICE(copy, len), doc, err, ERR_LEN);
	free(copy);
	if (rc != KH_OK)
		assert_null(*doc);
	return rc;
}

static kh_rc parse(const char *text, struct kh_json **doc, char *err)
{
	return parse_bytes(text, strlen(text), doc, err);
}

static struct kh_json *parse_ok(const char *text)
{
	struct kh_json *doc;
	char err[ERR_LEN];
	kh_rc rc = parse(text, &doc, err);

	if (rc != KH_OK)
		fail_msg("refused %s: %s (%s)", text, kh_rc_name(rc), err);
	return doc;
}

static void accept(const char *text)
{
	struct kh_json *doc = parse_ok(text);

	assert_non_null(doc);
	kh_json_free(&doc);
	assert_null(doc);
}

/* Refused with exactly this code, and the message contains want (when not NULL). */
static void refused_bytes(const void *text, size_t len, kh_rc want_rc, const char *want)
{
	struct kh_json *doc;
	char err[ERR_LEN];
	kh_rc rc = parse_bytes(text, len, &doc, err);

	if (rc != want_rc)
		fail_msg("input of %zu bytes: got %s, want %s (%s)", len, kh_rc_name(rc),
		         kh_rc_name(want_rc), err);
	assert_true(strlen(err) > 0);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
}

static void refused(const char *text, kh_rc want_rc, const char *want)
{
	refused_bytes(text, strlen(text), want_rc, want);
}

/* A heap string: prefix, then n copies of unit, then suffix. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	size_t ul = strlen(unit);
	size_t len = strlen(prefix) + n * ul + strlen(suffix);
	char *s = malloc(len + 1);
	char *p;

	assert_non_null(s);
	p = stpcpy(s, prefix);
	for (size_t i = 0; i < n; i++)
		p = stpcpy(p, unit);
	strcpy(p, suffix);
	return s;
}

static void assert_slice_str(struct kh_slice s, const char *want)
{
	assert_int_equal(s.len, strlen(want));
	if (s.len > 0)
		assert_memory_equal(s.ptr, want, s.len);
}

/* ---- parsing: accepted ---- */

static void reads_every_member_type(void **state)
{
	struct kh_json *doc = parse_ok(
	    " {\"s\":\"hi\",\"e\":\"\",\"i\":-42,\"t\":true,\"f\":false,\"n\":null,\"r\":1.5,"
	    "\"a\":[1,\"x\",{},[],true,null],\"o\":{\"k\":\"v\"},\"b\":\"Zm9v\"}\r\n\t ");
	struct kh_slice s;
	int64_t i;
	bool b;
	const struct kh_json *arr;
	const struct kh_json *o;
	size_t count;
	struct kh_buf buf;
	(void)state;

	assert_int_equal(kh_json_get_string(doc, "s", &s), KH_OK);
	assert_slice_str(s, "hi");
	assert_int_equal(kh_json_get_string(doc, "e", &s), KH_OK);
	assert_int_equal(s.len, 0);
	assert_int_equal(kh_json_get_int(doc, "i", INT64_MIN, INT64_MAX, &i), KH_OK);
	assert_int_equal(i, -42);
	assert_int_equal(kh_json_get_bool(doc, "t", &b), KH_OK);
	assert_true(b);
	assert_int_equal(kh_json_get_bool(doc, "f", &b), KH_OK);
	assert_false(b);
	assert_int_equal(kh_json_get_array(doc, "a", &arr, &count), KH_OK);
	assert_int_equal(count, 6);
	assert_int_equal(kh_json_get_array(doc, "o", &o, &count), KH_ERR_BAD_INPUT);
	kh_buf_init(&buf, 16, KH_BUF_PLAIN);
	assert_int_equal(kh_json_get_base64(doc, "b", &buf), KH_OK);
	assert_string_equal(kh_buf_cstr(&buf), "foo");
	kh_buf_cleanup(&buf);

	/* Kinds and document order. */
	{
		static const char *const names[] = {"s", "e", "i", "t", "f",
		                                    "n", "r", "a", "o", "b"};
		static const enum kh_json_kind kinds[] = {
		    KH_JSON_STRING, KH_JSON_STRING, KH_JSON_INT,   KH_JSON_BOOL,   KH_JSON_BOOL,
		    KH_JSON_NULL,   KH_JSON_REAL,   KH_JSON_ARRAY, KH_JSON_OBJECT, KH_JSON_STRING};
		void *cursor = NULL;
		struct kh_slice name;
		const struct kh_json *v;
		size_t n = 0;

		while (kh_json_object_next(doc, &cursor, &name, &v)) {
			assert_true(n < 10);
			assert_slice_str(name, names[n]);
			assert_int_equal(kh_json_kind_of(v), kinds[n]);
			n++;
		}
		assert_int_equal(n, 10);
		/* Stays at the end. */
		assert_false(kh_json_object_next(doc, &cursor, &name, &v));
	}
	kh_json_free(&doc);
	assert_null(doc);
	kh_json_free(&doc);
	kh_json_free(NULL);
}

static void reads_arrays_and_elements(void **state)
{
	struct kh_json *doc = parse_ok("{\"a\":[{\"k\":7},\"x\",3,false,[1,2],\"AAE=\",1.0,null]}");
	const struct kh_json *arr;
	size_t count;
	struct kh_slice s;
	int64_t i;
	bool b;
	struct kh_buf buf;
	(void)state;

	assert_int_equal(kh_json_get_array(doc, "a", &arr, &count), KH_OK);
	assert_int_equal(count, 8);
	assert_true(kh_json_is_object(kh_json_array_at(arr, 0)));
	assert_int_equal(kh_json_get_int(kh_json_array_at(arr, 0), "k", 0, 10, &i), KH_OK);
	assert_int_equal(i, 7);
	assert_false(kh_json_is_object(kh_json_array_at(arr, 1)));
	assert_int_equal(kh_json_as_string(kh_json_array_at(arr, 1), &s), KH_OK);
	assert_slice_str(s, "x");
	assert_int_equal(kh_json_as_string(kh_json_array_at(arr, 2), &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_as_int(kh_json_array_at(arr, 2), 0, 3, &i), KH_OK);
	assert_int_equal(i, 3);
	assert_int_equal(kh_json_as_int(kh_json_array_at(arr, 2), 4, 9, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_as_bool(kh_json_array_at(arr, 3), &b), KH_OK);
	assert_false(b);
	assert_int_equal(kh_json_as_array(kh_json_array_at(arr, 4), &count), KH_OK);
	assert_int_equal(count, 2);
	assert_int_equal(kh_json_as_array(kh_json_array_at(arr, 3), &count), KH_ERR_BAD_INPUT);
	kh_buf_init(&buf, 16, KH_BUF_PLAIN);
	assert_int_equal(kh_json_as_base64(kh_json_array_at(arr, 5), &buf), KH_OK);
	kh_test_assert_hex(kh_buf_slice(&buf), "0001");
	assert_int_equal(kh_json_as_base64(kh_json_array_at(arr, 2), &buf), KH_ERR_BAD_INPUT);
	assert_int_equal(buf.len, 2);
	kh_buf_cleanup(&buf);
	assert_int_equal(kh_json_as_int(kh_json_array_at(arr, 6), 0, 3, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_kind_of(kh_json_array_at(arr, 7)), KH_JSON_NULL);
	/* A batch item that is not an object: the getters say bad input, not absent. */
	assert_int_equal(kh_json_get_string(kh_json_array_at(arr, 1), "k", &s), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_only(kh_json_array_at(arr, 1), NULL, NULL, 0), KH_ERR_BAD_INPUT);
	/* Out of range, or not an array. */
	assert_null(kh_json_array_at(arr, 8));
	assert_null(kh_json_array_at(doc, 0));
	assert_null(kh_json_array_at(NULL, 0));
	kh_json_free(&doc);
}

static void accepts_empty_object_and_surrounding_whitespace(void **state)
{
	struct kh_json *doc = parse_ok(" \t\r\n{ }\n\n");
	void *cursor = NULL;
	struct kh_slice name;
	const struct kh_json *v;
	(void)state;

	assert_false(kh_json_object_next(doc, &cursor, &name, &v));
	assert_int_equal(kh_json_only(doc, NULL, NULL, 0), KH_OK);
	kh_json_free(&doc);
}

static void reads_only_the_slice_it_is_given(void **state)
{
	const char text[] = "{\"a\":1}trailing";
	struct kh_json *doc = NULL;
	char err[ERR_LEN];
	int64_t i;
	(void)state;

	assert_int_equal(kh_json_parse_object(KH_SLICE(text, 7), &doc, err, sizeof(err)), KH_OK);
	assert_int_equal(kh_json_get_int(doc, "a", 0, 1, &i), KH_OK);
	kh_json_free(&doc);
}

/* ---- parsing: refused ---- */

static void refuses_a_root_that_is_not_an_object(void **state)
{
	static const char *const roots[] = {"[]",   "[{}]", "\"{}\"",         "1",    "-1", "true",
	                                    "null", "x{}",  "\xef\xbb\xbf{}", " ]{}", "}"};
	(void)state;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		refused(roots[i], KH_ERR_BAD_INPUT, "not a JSON object");
	refused("\n  [1]", KH_ERR_BAD_INPUT, "not a JSON object at line 2, column 3");
}

static void refuses_empty_and_whitespace_bodies(void **state)
{
	struct kh_json *doc = NULL;
	char err[ERR_LEN];
	(void)state;

	refused("", KH_ERR_BAD_INPUT, "empty body");
	refused(" \t\r\n  ", KH_ERR_BAD_INPUT, "empty body");
	assert_int_equal(kh_json_parse_object(KH_SLICE_EMPTY, &doc, err, sizeof(err)),
	                 KH_ERR_BAD_INPUT);
	assert_null(doc);
	/* Form feed and vertical tab are not JSON whitespace. */
	refused("\f{}", KH_ERR_BAD_INPUT, "not a JSON object");
	refused("{}\v", KH_ERR_BAD_INPUT, NULL);
}

static void refuses_duplicate_keys(void **state)
{
	(void)state;
	refused("{\"a\":1,\"a\":1}", KH_ERR_BAD_INPUT, "duplicate member name");
	refused("{\"a\":1,\"b\":2,\"a\":\"x\"}", KH_ERR_BAD_INPUT, "duplicate member name");
	/* The same name after unescaping. */
	refused("{\"a\":1,\"\\u0061\":2}", KH_ERR_BAD_INPUT, "duplicate member name");
	refused("{\"o\":{\"x\":[],\"x\":{}}}", KH_ERR_BAD_INPUT, "duplicate member name");
	refused("{\"l\":[{\"k\":1,\"k\":1}]}", KH_ERR_BAD_INPUT, "duplicate member name");
	refused("{\n\"a\": 1,\n\"a\": 2\n}", KH_ERR_BAD_INPUT, "at line 3");
	/* Names that differ only in case are different names. */
	accept("{\"a\":1,\"A\":2}");
}

static void refuses_trailing_bytes(void **state)
{
	(void)state;
	refused("{} x", KH_ERR_BAD_INPUT, "unexpected bytes after the object");
	refused("{}{}", KH_ERR_BAD_INPUT, "unexpected bytes after the object");
	refused("{},", KH_ERR_BAD_INPUT, NULL);
	refused("{}]", KH_ERR_BAD_INPUT, NULL);
	refused("{} \"\"", KH_ERR_BAD_INPUT, NULL);
	refused_bytes("{}\0", 3, KH_ERR_BAD_INPUT, NULL);
	refused_bytes("{\"a\":1}\0\0", 9, KH_ERR_BAD_INPUT, NULL);
}

static void refuses_malformed_json(void **state)
{
	static const char *const bad[] = {"{",
	                                  "{\"a\"",
	                                  "{\"a\":",
	                                  "{\"a\":1",
	                                  "{\"a\":1,}",
	                                  "{a:1}",
	                                  "{'a':1}",
	                                  "{\"a\":01}",
	                                  "{\"a\":+1}",
	                                  "{\"a\":.5}",
	                                  "{\"a\":1.}",
	                                  "{\"a\":NaN}",
	                                  "{\"a\":tru}",
	                                  "{\"a\":\"x}",
	                                  "{\"a\":\"\\x\"}",
	                                  "{\"a\":[1,]}",
	                                  "{\"a\" 1}",
	                                  "{,}",
	                                  "{\"a\":\"\t\"}",
	                                  "{\"a\":\"\n\"}",
	                                  "{\"a\":\"\\u12\"}",
	                                  "{\"a\":1 /* c */}",
	                                  "{\"a\":\"\\"};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], KH_ERR_BAD_INPUT, NULL);
}

static void refuses_invalid_utf8(void **state)
{
	static const char *const bad[] = {
	    "{\"a\":\"\xc0\xaf\"}",             /* overlong '/' */
	    "{\"a\":\"\xc1\xbf\"}",             /* overlong */
	    "{\"a\":\"\xe0\x80\xaf\"}",         /* overlong, three bytes */
	    "{\"a\":\"\xf0\x80\x80\xaf\"}",     /* overlong, four bytes */
	    "{\"a\":\"\xed\xa0\x80\"}",         /* U+D800, a surrogate */
	    "{\"a\":\"\xed\xbf\xbf\"}",         /* U+DFFF */
	    "{\"a\":\"\xe2\x82\"}",             /* truncated three-byte sequence */
	    "{\"a\":\"\xf0\x9f\x98\"}",         /* truncated four-byte sequence */
	    "{\"a\":\"\xc3\"}",                 /* truncated two-byte sequence */
	    "{\"a\":\"\x80\"}",                 /* lone continuation byte */
	    "{\"a\":\"\xf4\x90\x80\x80\"}",     /* above U+10FFFF */
	    "{\"a\":\"\xf8\x88\x80\x80\x80\"}", /* five-byte form */
	    "{\"a\":\"\xff\"}",
	    "{\"\xc0\xaf\":1}", /* in a member name */
	    "{\"a\":1}\xff",    /* outside strings */
	    "{\"a\":\"x\xe2\x82\xac\xe2\x82\"}",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i], KH_ERR_BAD_INPUT, "invalid UTF-8");
	/* The position is where the bad sequence starts (characters counted). */
	refused("{\"a\":\"\xc3\xa9\xc0\xaf\"}", KH_ERR_BAD_INPUT,
	        "invalid UTF-8 at line 1, column 8");
	/* Escapes that would make a surrogate on their own. */
	refused("{\"a\":\"\\ud800\"}", KH_ERR_BAD_INPUT, NULL);
	refused("{\"a\":\"\\udc00\"}", KH_ERR_BAD_INPUT, NULL);
	refused("{\"a\":\"\\ud800\\u0041\"}", KH_ERR_BAD_INPUT, NULL);
	refused("{\"a\":\"\\ude00\\ud83d\"}", KH_ERR_BAD_INPUT, NULL);
}

static void accepts_valid_utf8_and_escapes(void **state)
{
	struct kh_json *doc =
	    parse_ok("{\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\","
	             "\"p\":\"\\ud83d\\ude00\",\"e\":\"\\u00e9\\u20AC\","
	             "\"c\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u001f\","
	             "\"\xc3\xa9\":1}");
	struct kh_slice s;
	int64_t i;
	(void)state;

	assert_int_equal(kh_json_get_string(doc, "u", &s), KH_OK);
	assert_slice_str(s, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
	assert_int_equal(kh_json_get_string(doc, "p", &s), KH_OK);
	assert_slice_str(s, "\xf0\x9f\x98\x80");
	assert_int_equal(kh_json_get_string(doc, "e", &s), KH_OK);
	assert_slice_str(s, "\xc3\xa9\xe2\x82\xac");
	assert_int_equal(kh_json_get_string(doc, "c", &s), KH_OK);
	assert_slice_str(s, "\"\\/\b\f\n\r\t\x1f");
	assert_int_equal(kh_json_get_int(doc, "\xc3\xa9", 1, 1, &i), KH_OK);
	kh_json_free(&doc);
}

static void refuses_nul_in_strings(void **state)
{
	(void)state;
	refused("{\"a\":\"x\\u0000y\"}", KH_ERR_BAD_INPUT, "NUL");
	refused("{\"a\":\"\\u0000\"}", KH_ERR_BAD_INPUT, "NUL");
	refused("{\"a\":[\"\\u0000\"]}", KH_ERR_BAD_INPUT, "NUL");
	refused("{\"a\\u0000b\":1}", KH_ERR_BAD_INPUT, "NUL");
	/* A raw NUL byte is a control character, never allowed in a string. */
	refused_bytes("{\"a\":\"x\0y\"}", 11, KH_ERR_BAD_INPUT, NULL);
	refused_bytes("{\"a\0\":1}", 8, KH_ERR_BAD_INPUT, NULL);
	refused_bytes("{\0}", 3, KH_ERR_BAD_INPUT, NULL);
}

/* `levels` nested containers: an object holding levels - 1 nested arrays, or objects. */
static char *nested(size_t levels, bool objects)
{
	char *head = objects ? repeat("", "{\"a\":", levels - 1, "{}")
	                     : repeat("{\"a\":", "[", levels - 1, "");
	char *s = objects ? repeat(head, "}", levels - 1, "") : repeat(head, "]", levels - 1, "}");

	free(head);
	return s;
}

static void nesting_of_32_is_accepted_and_33_refused(void **state)
{
	char *ok_arrays = nested(KH_LIMIT_JSON_DEPTH, false);
	char *ok_objects = nested(KH_LIMIT_JSON_DEPTH, true);
	char *deep_arrays = nested(KH_LIMIT_JSON_DEPTH + 1, false);
	char *deep_objects = nested(KH_LIMIT_JSON_DEPTH + 1, true);
	char *very_deep = repeat("{\"a\":", "[", 100000, "");
	char *brackets_in_string = repeat("{\"a\":\"", "[{\\\"", 1000, "\"}");
	(void)state;

	accept(ok_arrays);
	accept(ok_objects);
	refused(deep_arrays, KH_ERR_BAD_INPUT, "nested too deep at line 1, column 37");
	refused(deep_objects, KH_ERR_BAD_INPUT, "nested too deep");
	/* Refused by the pre-scan before jansson recurses (ASan would report a stack overflow). */
	refused(very_deep, KH_ERR_BAD_INPUT, "nested too deep");
	/* Brackets in strings, escaped quotes included, do not count. */
	accept(brackets_in_string);
	free(ok_arrays);
	free(ok_objects);
	free(deep_arrays);
	free(deep_objects);
	free(very_deep);
	free(brackets_in_string);
}

static void strings_over_the_limit_are_too_large(void **state)
{
	char *at_limit = repeat("{\"a\":\"", "x", KH_LIMIT_JSON_STRING_BYTES, "\"}");
	char *over = repeat("{\"a\":\"", "x", KH_LIMIT_JSON_STRING_BYTES + 1, "\"}");
	char *over_in_array = repeat("{\"a\":[1,\"", "x", KH_LIMIT_JSON_STRING_BYTES + 1, "\"]}");
	char *name_over = repeat("{\"", "x", KH_LIMIT_JSON_STRING_BYTES + 1, "\":1}");
	/* The limit is on decoded bytes: 2 bytes of escape make 1 byte. */
	char *escaped_at_limit = repeat("{\"a\":\"", "\\n", KH_LIMIT_JSON_STRING_BYTES, "\"}");
	char *escaped_over =
	    repeat("{\"a\":\"", "\\u00e9", KH_LIMIT_JSON_STRING_BYTES / 2 + 1, "\"}");
	struct kh_json *doc;
	struct kh_slice s;
	(void)state;

	doc = parse_ok(at_limit);
	assert_int_equal(kh_json_get_string(doc, "a", &s), KH_OK);
	assert_int_equal(s.len, KH_LIMIT_JSON_STRING_BYTES);
	kh_json_free(&doc);
	refused(over, KH_ERR_TOO_LARGE, "longer than 262144 bytes");
	refused(over_in_array, KH_ERR_TOO_LARGE, NULL);
	refused(name_over, KH_ERR_TOO_LARGE, NULL);
	doc = parse_ok(escaped_at_limit);
	assert_int_equal(kh_json_get_string(doc, "a", &s), KH_OK);
	assert_int_equal(s.len, KH_LIMIT_JSON_STRING_BYTES);
	kh_json_free(&doc);
	refused(escaped_over, KH_ERR_TOO_LARGE, NULL);
	free(at_limit);
	free(over);
	free(over_in_array);
	free(name_over);
	free(escaped_at_limit);
	free(escaped_over);
}

static void numbers_out_of_int64_are_refused(void **state)
{
	struct kh_json *doc =
	    parse_ok("{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"z\":-0}");
	int64_t i;
	(void)state;

	assert_int_equal(kh_json_get_int(doc, "min", INT64_MIN, INT64_MAX, &i), KH_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(kh_json_get_int(doc, "max", INT64_MIN, INT64_MAX, &i), KH_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(kh_json_get_int(doc, "z", 0, 0, &i), KH_OK);
	assert_int_equal(i, 0);
	kh_json_free(&doc);
	refused("{\"a\":9223372036854775808}", KH_ERR_BAD_INPUT, "number out of range");
	refused("{\"a\":-9223372036854775809}", KH_ERR_BAD_INPUT, "number out of range");
	refused("{\"a\":1e400}", KH_ERR_BAD_INPUT, "number out of range");
}

static void error_messages_never_echo_the_input(void **state)
{
	static const char *const bad[] = {"{\"secretvalue\": secretvalue}",
	                                  "{\"a\":\"secretvalue",
	                                  "{\"a\":1}secretvalue",
	                                  "{\"a\":\"\\qsecretvalue\"}",
	                                  "[\"secretvalue\"]",
	                                  "secretvalue",
	                                  "{\"a\":\"\\usecr\"}",
	                                  "{\"a\":secretvalue1}"};
	struct kh_json *doc;
	char err[ERR_LEN];
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &doc, err), KH_ERR_BAD_INPUT);
		assert_null(strstr(err, "secr"));
		assert_null(strstr(err, "near"));
		assert_non_null(strstr(err, "line 1, column "));
	}
}

static void error_buffer_is_optional_and_bounded(void **state)
{
	struct kh_json *doc = NULL;
	char small[8];
	(void)state;

	assert_int_equal(kh_json_parse_object(KH_SLICE_LIT("{}{}"), &doc, NULL, 0),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_parse_object(KH_SLICE_LIT("{}{}"), &doc, small, 0),
	                 KH_ERR_BAD_INPUT);
	memset(small, 'z', sizeof(small));
	assert_int_equal(kh_json_parse_object(KH_SLICE_LIT("[]"), &doc, small, sizeof(small)),
	                 KH_ERR_BAD_INPUT);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_null(doc);
}

/* ---- kh_json_only ---- */

static void only_names_the_first_unknown_member(void **state)
{
	static const char *const allowed[] = {"name", "type", "usage", NULL};
	struct kh_json *doc = parse_ok("{\"name\":\"k\",\"colour\":1,\"type\":\"x\",\"size\":2}");
	struct kh_json *good = parse_ok("{\"usage\":\"sign\",\"name\":\"k\"}");
	char err[ERR_LEN];
	(void)state;

	assert_int_equal(kh_json_only(doc, allowed, err, sizeof(err)), KH_ERR_BAD_INPUT);
	assert_string_equal(err, "unknown member \"colour\"");
	assert_int_equal(kh_json_only(good, allowed, err, sizeof(err)), KH_OK);
	/* A prefix of an allowed name is not allowed. */
	kh_json_free(&good);
	good = parse_ok("{\"nam\":1}");
	assert_int_equal(kh_json_only(good, allowed, err, sizeof(err)), KH_ERR_BAD_INPUT);
	assert_string_equal(err, "unknown member \"nam\"");
	/* No list: every member is unknown. */
	assert_int_equal(kh_json_only(good, NULL, err, sizeof(err)), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_only(good, (const char *const[]){NULL}, NULL, 0),
	                 KH_ERR_BAD_INPUT);
	kh_json_free(&good);
	kh_json_free(&doc);
}

static void only_shows_names_safely(void **state)
{
	char *long_name = repeat("{\"", "n", 300, "\":1}");
	struct kh_json *doc = parse_ok("{\"a\\\"b\\\\c\\u0001d\\n\xc3\xa9\":1}");
	struct kh_json *long_doc = parse_ok(long_name);
	char err[ERR_LEN];
	(void)state;

	assert_int_equal(kh_json_only(doc, NULL, err, sizeof(err)), KH_ERR_BAD_INPUT);
	assert_string_equal(err, "unknown member \"a?b?c?d???\"");
	assert_int_equal(kh_json_only(long_doc, NULL, err, sizeof(err)), KH_ERR_BAD_INPUT);
	assert_string_equal(err, "unknown member \"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...\"");
	kh_json_free(&doc);
	kh_json_free(&long_doc);
	free(long_name);
}

/* ---- typed getters ---- */

static void absent_members_are_not_found(void **state)
{
	struct kh_json *doc = parse_ok("{\"A\":1,\"a \":true}");
	struct kh_slice s;
	int64_t i;
	bool b;
	const struct kh_json *arr;
	size_t count;
	struct kh_buf buf;
	(void)state;

	kh_buf_init(&buf, 16, KH_BUF_PLAIN);
	assert_int_equal(kh_json_get_string(doc, "a", &s), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_json_get_int(doc, "a", 0, 9, &i), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_json_get_bool(doc, "a", &b), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_json_get_base64(doc, "a", &buf), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_json_get_array(doc, "a", &arr, &count), KH_ERR_NOT_FOUND);
	assert_int_equal(kh_json_get_string(doc, "", &s), KH_ERR_NOT_FOUND);
	/* Programmer errors. */
	assert_int_equal(kh_json_get_string(doc, NULL, &s), KH_ERR_INTERNAL);
	assert_int_equal(kh_json_get_string(NULL, "a", &s), KH_ERR_INTERNAL);
	assert_int_equal(buf.len, 0);
	kh_buf_cleanup(&buf);
	kh_json_free(&doc);
}

static void members_of_another_type_are_bad_input(void **state)
{
	struct kh_json *doc = parse_ok("{\"s\":\"1\",\"i\":1,\"r\":1.0,\"x\":1e2,\"X\":1E2,"
	                               "\"f\":-1.5e-3,\"t\":true,\"n\":null,\"a\":[],\"o\":{}}");
	static const char *const names[] = {"s", "i", "r", "x", "X", "f", "t", "n", "a", "o"};
	(void)state;

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const char *n = names[k];
		struct kh_slice s;
		int64_t i;
		bool b;
		const struct kh_json *arr;
		size_t count;
		struct kh_buf buf;

		kh_buf_init(&buf, 16, KH_BUF_PLAIN);
		assert_int_equal(kh_json_get_string(doc, n, &s),
		                 strcmp(n, "s") == 0 ? KH_OK : KH_ERR_BAD_INPUT);
		assert_int_equal(kh_json_get_int(doc, n, INT64_MIN, INT64_MAX, &i),
		                 strcmp(n, "i") == 0 ? KH_OK : KH_ERR_BAD_INPUT);
		assert_int_equal(kh_json_get_bool(doc, n, &b),
		                 strcmp(n, "t") == 0 ? KH_OK : KH_ERR_BAD_INPUT);
		assert_int_equal(kh_json_get_array(doc, n, &arr, &count),
		                 strcmp(n, "a") == 0 ? KH_OK : KH_ERR_BAD_INPUT);
		/* "1" is a string, but not Base64. */
		assert_int_equal(kh_json_get_base64(doc, n, &buf),
		                 strcmp(n, "s") == 0 ? KH_ERR_BAD_ENCODING : KH_ERR_BAD_INPUT);
		assert_int_equal(buf.len, 0);
		kh_buf_cleanup(&buf);
	}
	kh_json_free(&doc);
}

static void int_range_is_inclusive_and_enforced(void **state)
{
	struct kh_json *doc = parse_ok("{\"shares\":5,\"neg\":-1,\"big\":4294967296}");
	int64_t i = 99;
	(void)state;

	assert_int_equal(kh_json_get_int(doc, "shares", 5, 5, &i), KH_OK);
	assert_int_equal(i, 5);
	assert_int_equal(kh_json_get_int(doc, "shares", 1, 255, &i), KH_OK);
	i = 99;
	assert_int_equal(kh_json_get_int(doc, "shares", 6, 255, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_get_int(doc, "shares", 1, 4, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_get_int(doc, "neg", 0, INT64_MAX, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(kh_json_get_int(doc, "big", 0, UINT32_MAX, &i), KH_ERR_BAD_INPUT);
	assert_int_equal(i, 99); /* untouched on failure */
	assert_int_equal(kh_json_get_int(doc, "big", 0, INT64_MAX, &i), KH_OK);
	assert_true(i == INT64_C(4294967296));
	kh_json_free(&doc);
}

static void base64_members_decode_strictly(void **state)
{
	struct kh_json *doc = parse_ok(
	    "{\"good\":\"Zm9vYmFy\",\"pad1\":\"Zm9vYmE=\",\"pad2\":\"Zm9vYg==\",\"empty\":\"\","
	    "\"badchar\":\"Zm9v!mFy\",\"url\":\"-_-_\",\"nopad\":\"Zm9vYg\",\"extrapad\":\"Zg===\","
	    "\"bits1\":\"Zm9=\",\"bits2\":\"Zh==\",\"space\":\"Zm9v YmFy\",\"nl\":\"Zm9v\\n\","
	    "\"midpad\":\"Zg==Zg==\",\"long\":\"AAAAAAAAAAAAAAAAAAAAAAAA\"}");
	static const char *const bad[] = {"badchar", "url",   "nopad", "extrapad", "bits1",
	                                  "bits2",   "space", "nl",    "midpad"};
	struct kh_buf buf;
	(void)state;

	kh_buf_init(&buf, 32, KH_BUF_PLAIN);
	assert_int_equal(kh_buf_append_cstr(&buf, ">"), KH_OK);
	assert_int_equal(kh_json_get_base64(doc, "good", &buf), KH_OK);
	assert_string_equal(kh_buf_cstr(&buf), ">foobar");
	assert_int_equal(kh_json_get_base64(doc, "pad1", &buf), KH_OK);
	assert_int_equal(kh_json_get_base64(doc, "pad2", &buf), KH_OK);
	assert_int_equal(kh_json_get_base64(doc, "empty", &buf), KH_OK);
	assert_string_equal(kh_buf_cstr(&buf), ">foobarfoobafoob");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kh_json_get_base64(doc, bad[i], &buf), KH_ERR_BAD_ENCODING);
		assert_string_equal(kh_buf_cstr(&buf), ">foobarfoobafoob");
	}
	/* 18 decoded bytes do not fit in what is left of the buffer: out stays as it was. */
	assert_int_equal(kh_json_get_base64(doc, "long", &buf), KH_ERR_TOO_LARGE);
	assert_string_equal(kh_buf_cstr(&buf), ">foobarfoobafoob");
	kh_buf_cleanup(&buf);
	kh_json_free(&doc);
}

static void base64_secrets_land_in_a_secure_buffer(void **state)
{
	struct kh_json *doc = parse_ok("{\"plaintext\":\"c2VjcmV0IGtleSBtYXRlcmlhbA==\"}");
	struct kh_buf secret;
	(void)state;

	kh_buf_init(&secret, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	assert_int_equal(kh_json_get_base64(doc, "plaintext", &secret), KH_OK);
	assert_true(kh_secure_owns(secret.ptr));
	assert_string_equal(kh_buf_cstr(&secret), "secret key material");
	kh_buf_cleanup(&secret);
	kh_json_free(&doc);
}

/* ---- writing ---- */

/* An empty plain buffer of at most max bytes for the writer. */
static struct kh_buf out_buf(size_t max)
{
	struct kh_buf b;

	kh_buf_init(&b, max, KH_BUF_PLAIN);
	return b;
}

static void writes_nested_objects_and_arrays(void **state)
{
	struct kh_buf b = out_buf(1024);
	struct kh_json_writer w;
	(void)state;

	kh_json_writer_init(&w, &b);
	kh_json_object_begin(&w);
	kh_json_key(&w, "a");
	kh_json_object_begin(&w);
	kh_json_key(&w, "b");
	kh_json_array_begin(&w);
	kh_json_int(&w, 1);
	kh_json_array_begin(&w);
	kh_json_array_end(&w);
	kh_json_object_begin(&w);
	kh_json_object_end(&w);
	kh_json_array_begin(&w);
	kh_json_null(&w);
	kh_json_bool(&w, true);
	kh_json_array_end(&w);
	kh_json_array_end(&w);
	kh_json_key(&w, "c");
	kh_json_cstr(&w, "x");
	kh_json_object_end(&w);
	kh_json_key(&w, "d");
	kh_json_array_begin(&w);
	kh_json_array_end(&w);
	kh_json_key(&w, "e");
	kh_json_object_begin(&w);
	kh_json_object_end(&w);
	kh_json_object_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
	assert_string_equal(kh_buf_cstr(&b),
	                    "{\"a\":{\"b\":[1,[],{},[null,true]],\"c\":\"x\"},\"d\":[],\"e\":{}}");
	kh_buf_cleanup(&b);
}

static void writes_an_array_at_the_top(void **state)
{
	struct kh_buf b = out_buf(64);
	struct kh_json_writer w;
	(void)state;

	kh_json_writer_init(&w, &b);
	kh_json_array_begin(&w);
	kh_json_cstr(&w, "a");
	kh_json_int(&w, 2);
	kh_json_array_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
	assert_string_equal(kh_buf_cstr(&b), "[\"a\",2]");
	kh_buf_cleanup(&b);
}

static const char *written_string(struct kh_buf *b, struct kh_slice s)
{
	struct kh_json_writer w;

	kh_buf_clear(b);
	kh_json_writer_init(&w, b);
	kh_json_string(&w, s);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
	return kh_buf_cstr(b);
}

static void escapes_every_control_character(void **state)
{
	static const char *const want[32] = {
	    "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
	    "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
	    "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
	    "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
	struct kh_buf b = out_buf(256);
	char expect[32];
	(void)state;

	for (unsigned c = 0; c < 32; c++) {
		uint8_t in[3] = {'a', (uint8_t)c, 'z'};
		snprintf(expect, sizeof(expect), "\"a%sz\"", want[c]);
		assert_string_equal(written_string(&b, KH_SLICE(in, 3)), expect);
	}
	assert_string_equal(written_string(&b, KH_SLICE_LIT("\"q\"\\b\\")),
	                    "\"\\\"q\\\"\\\\b\\\\\"");
	/* Solidus and DEL need no escape. */
	assert_string_equal(written_string(&b, KH_SLICE_LIT("a/b\x7f")), "\"a/b\x7f\"");
	assert_string_equal(written_string(&b, KH_SLICE_EMPTY), "\"\"");
	kh_buf_cleanup(&b);
}

static void passes_unicode_through(void **state)
{
	static const char text[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf "
	                           "\xe2\x80\xa8 \xf4\x8f\xbf\xbf";
	struct kh_buf b = out_buf(256);
	char expect[64];
	(void)state;

	snprintf(expect, sizeof(expect), "\"%s\"", text);
	assert_string_equal(written_string(&b, KH_SLICE_LIT(text)), expect);
	kh_buf_cleanup(&b);
}

static void refuses_to_write_invalid_utf8(void **state)
{
	static const char *const bad[] = {"\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
	                                  "\xe2\x82", "\x80",         "\xf4\x90\x80\x80",
	                                  "\xff",     "ok\xc3"};
	struct kh_buf b = out_buf(256);
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kh_json_writer w;
		kh_buf_clear(&b);
		kh_json_writer_init(&w, &b);
		kh_json_object_begin(&w);
		kh_json_key(&w, "k");
		kh_json_cstr(&w, bad[i]);
		kh_json_object_end(&w);
		assert_int_equal(kh_json_writer_end(&w), KH_ERR_INTERNAL);
	}
	kh_buf_cleanup(&b);
}

static void writes_numbers_booleans_null_base64_and_times(void **state)
{
	static const uint8_t bytes[] = {0xfb, 0xff, 0x00};
	struct kh_buf b = out_buf(1024);
	struct kh_json_writer w;
	(void)state;

	kh_json_writer_init(&w, &b);
	kh_json_array_begin(&w);
	kh_json_int(&w, INT64_MIN);
	kh_json_int(&w, INT64_MAX);
	kh_json_int(&w, 0);
	kh_json_int(&w, -1);
	kh_json_uint(&w, UINT64_MAX);
	kh_json_uint(&w, 0);
	kh_json_bool(&w, true);
	kh_json_bool(&w, false);
	kh_json_null(&w);
	kh_json_base64(&w, KH_SLICE(bytes, 3));
	kh_json_base64(&w, KH_SLICE(bytes, 1));
	kh_json_base64(&w, KH_SLICE_EMPTY);
	kh_json_time(&w, 0);
	kh_json_time(&w, INT64_C(1700000000) * KH_NS_PER_SEC + 999999999);
	kh_json_time(&w, -1);
	kh_json_time(&w, INT64_MAX);
	kh_json_array_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
	assert_string_equal(kh_buf_cstr(&b),
	                    "[-9223372036854775808,9223372036854775807,0,-1,18446744073709551615,0,"
	                    "true,false,null,\"+/8A\",\"+w==\",\"\",\"1970-01-01T00:00:00Z\","
	                    "\"2023-11-14T22:13:20Z\",\"1969-12-31T23:59:59Z\","
	                    "\"2262-04-11T23:47:16Z\"]");
	kh_buf_cleanup(&b);
}

typedef void (*writer_steps)(struct kh_json_writer *w);

static void value_without_key(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_int(w, 1);
	kh_json_object_end(w);
}

static void container_without_key(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_array_begin(w);
	kh_json_array_end(w);
	kh_json_object_end(w);
}

static void key_at_top(struct kh_json_writer *w)
{
	kh_json_key(w, "a");
	kh_json_int(w, 1);
}

static void key_in_array(struct kh_json_writer *w)
{
	kh_json_array_begin(w);
	kh_json_key(w, "a");
	kh_json_int(w, 1);
	kh_json_array_end(w);
}

static void key_after_key(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_key(w, "a");
	kh_json_key(w, "b");
	kh_json_int(w, 1);
	kh_json_object_end(w);
}

static void null_key(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_key(w, NULL);
	kh_json_int(w, 1);
	kh_json_object_end(w);
}

static void null_cstr(struct kh_json_writer *w)
{
	kh_json_array_begin(w);
	kh_json_cstr(w, NULL);
	kh_json_array_end(w);
}

static void end_without_begin(struct kh_json_writer *w)
{
	kh_json_object_end(w);
}

static void array_closed_as_object(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_key(w, "a");
	kh_json_array_begin(w);
	kh_json_object_end(w);
	kh_json_object_end(w);
}

static void object_closed_as_array(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_array_end(w);
}

static void end_after_dangling_key(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_key(w, "a");
	kh_json_object_end(w);
}

static void too_many_ends(struct kh_json_writer *w)
{
	kh_json_array_begin(w);
	kh_json_array_end(w);
	kh_json_array_end(w);
}

static void two_top_values(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_object_end(w);
	kh_json_object_begin(w);
	kh_json_object_end(w);
}

static void unclosed(struct kh_json_writer *w)
{
	kh_json_object_begin(w);
	kh_json_key(w, "a");
	kh_json_array_begin(w);
}

static void nothing(struct kh_json_writer *w)
{
	(void)w;
}

static void too_deep(struct kh_json_writer *w)
{
	for (unsigned i = 0; i <= KH_JSON_WRITER_DEPTH; i++)
		kh_json_array_begin(w);
	for (unsigned i = 0; i <= KH_JSON_WRITER_DEPTH; i++)
		kh_json_array_end(w);
}

/* Each sequence is balanced apart from its one mistake, so only that mistake can fail it. */
static void writer_misuse_is_internal_and_sticks(void **state)
{
	static const writer_steps misuse[] = {value_without_key,
	                                      container_without_key,
	                                      key_at_top,
	                                      key_in_array,
	                                      key_after_key,
	                                      null_key,
	                                      null_cstr,
	                                      end_without_begin,
	                                      array_closed_as_object,
	                                      object_closed_as_array,
	                                      end_after_dangling_key,
	                                      too_many_ends,
	                                      two_top_values,
	                                      unclosed,
	                                      nothing,
	                                      too_deep};
	struct kh_buf b = out_buf(1024);
	(void)state;

	for (size_t i = 0; i < sizeof(misuse) / sizeof(misuse[0]); i++) {
		struct kh_json_writer w;
		size_t len;

		kh_buf_clear(&b);
		kh_json_writer_init(&w, &b);
		misuse[i](&w);
		assert_int_equal(kh_json_writer_end(&w), KH_ERR_INTERNAL);
		/* Sticks: nothing more is written, the first error stays. */
		len = b.len;
		kh_json_cstr(&w, "more");
		kh_json_object_end(&w);
		kh_json_array_begin(&w);
		assert_int_equal(b.len, len);
		assert_int_equal(kh_json_writer_end(&w), KH_ERR_INTERNAL);
	}
	kh_buf_cleanup(&b);
}

static void nesting_of_16_is_written(void **state)
{
	struct kh_buf b = out_buf(1024);
	struct kh_json_writer w;
	(void)state;

	kh_json_writer_init(&w, &b);
	for (unsigned i = 0; i < KH_JSON_WRITER_DEPTH; i++)
		kh_json_array_begin(&w);
	for (unsigned i = 0; i < KH_JSON_WRITER_DEPTH; i++)
		kh_json_array_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
	assert_string_equal(kh_buf_cstr(&b), "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]");
	kh_buf_cleanup(&b);
}

static void buffer_limit_is_too_large_and_sticks(void **state)
{
	struct kh_buf b = out_buf(10);
	struct kh_json_writer w;
	(void)state;

	kh_json_writer_init(&w, &b);
	kh_json_object_begin(&w);
	kh_json_key(&w, "key");
	kh_json_cstr(&w, "a value too long");
	/* Misuse after the buffer error does not replace it. */
	kh_json_int(&w, 1);
	kh_json_array_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_ERR_TOO_LARGE);
	assert_true(b.len <= 10);
	kh_buf_cleanup(&b);

	b = out_buf(8);
	kh_json_writer_init(&w, &b);
	kh_json_array_begin(&w);
	kh_json_base64(&w, KH_SLICE_LIT("0123456789"));
	kh_json_array_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&b);

	kh_json_writer_init(&w, NULL);
	kh_json_null(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_ERR_INTERNAL);
}

/* A string holding every byte 1..127 and some multi-byte characters. */
static struct kh_slice awkward_string(uint8_t *store, size_t store_len)
{
	static const char tail[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xe2\x80\xa8";
	size_t n = 0;

	for (unsigned c = 1; c < 128; c++)
		store[n++] = (uint8_t)c;
	assert_true(n + sizeof(tail) - 1 <= store_len);
	memcpy(store + n, tail, sizeof(tail) - 1);
	return KH_SLICE(store, n + sizeof(tail) - 1);
}

static void written_documents_parse_back_to_the_same_members(void **state)
{
	static const uint8_t key[] = {0x00, 0x01, 0xfe, 0xff, 0x80, 0x7f};
	uint8_t store[256];
	struct kh_slice awkward = awkward_string(store, sizeof(store));
	struct kh_buf b = out_buf(4096);
	struct kh_buf dec;
	struct kh_json_writer w;
	struct kh_json *doc;
	char err[ERR_LEN];
	struct kh_slice s;
	int64_t i;
	bool flag;
	const struct kh_json *arr;
	const struct kh_json *inner;
	size_t count;
	(void)state;

	kh_json_writer_init(&w, &b);
	kh_json_object_begin(&w);
	kh_json_key(&w, "str");
	kh_json_string(&w, awkward);
	kh_json_key(&w, "\"key\\\n");
	kh_json_int(&w, INT64_MIN);
	kh_json_key(&w, "max");
	kh_json_int(&w, INT64_MAX);
	kh_json_key(&w, "flag");
	kh_json_bool(&w, true);
	kh_json_key(&w, "none");
	kh_json_null(&w);
	kh_json_key(&w, "key");
	kh_json_base64(&w, KH_SLICE(key, sizeof(key)));
	kh_json_key(&w, "when");
	kh_json_time(&w, INT64_C(1800000000) * KH_NS_PER_SEC);
	kh_json_key(&w, "list");
	kh_json_array_begin(&w);
	kh_json_object_begin(&w);
	kh_json_key(&w, "n");
	kh_json_uint(&w, 3);
	kh_json_object_end(&w);
	kh_json_cstr(&w, "");
	kh_json_array_end(&w);
	kh_json_object_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);

	assert_int_equal(kh_json_parse_object(kh_buf_slice(&b), &doc, err, sizeof(err)), KH_OK);
	assert_int_equal(kh_json_get_string(doc, "str", &s), KH_OK);
	assert_int_equal(s.len, awkward.len);
	assert_memory_equal(s.ptr, awkward.ptr, s.len);
	assert_int_equal(kh_json_get_int(doc, "\"key\\\n", INT64_MIN, INT64_MAX, &i), KH_OK);
	assert_true(i == INT64_MIN);
	assert_int_equal(kh_json_get_int(doc, "max", INT64_MIN, INT64_MAX, &i), KH_OK);
	assert_true(i == INT64_MAX);
	assert_int_equal(kh_json_get_bool(doc, "flag", &flag), KH_OK);
	assert_true(flag);
	assert_int_equal(kh_json_get_bool(doc, "none", &flag), KH_ERR_BAD_INPUT);
	kh_buf_init(&dec, 64, KH_BUF_SECURE);
	assert_int_equal(kh_json_get_base64(doc, "key", &dec), KH_OK);
	assert_int_equal(dec.len, sizeof(key));
	assert_memory_equal(dec.ptr, key, sizeof(key));
	kh_buf_cleanup(&dec);
	assert_int_equal(kh_json_get_string(doc, "when", &s), KH_OK);
	assert_slice_str(s, "2027-01-15T08:00:00Z");
	assert_int_equal(kh_json_get_array(doc, "list", &arr, &count), KH_OK);
	assert_int_equal(count, 2);
	inner = kh_json_array_at(arr, 0);
	assert_int_equal(kh_json_get_int(inner, "n", 3, 3, &i), KH_OK);
	assert_int_equal(kh_json_as_string(kh_json_array_at(arr, 1), &s), KH_OK);
	assert_int_equal(s.len, 0);
	assert_int_equal(kh_json_only(doc,
	                              (const char *const[]){"str", "\"key\\\n", "max", "flag",
	                                                    "none", "key", "when", "list", NULL},
	                              err, sizeof(err)),
	                 KH_OK);
	kh_json_free(&doc);
	kh_buf_cleanup(&b);
}

static void a_secure_buffer_receives_secrets(void **state)
{
	static const uint8_t data_key[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
	                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
	                                     23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
	struct kh_buf b;
	struct kh_json_writer w;
	(void)state;

	/* Small start so that the buffer grows (allocate, copy, wipe) while writing. */
	kh_buf_init(&b, 4096, KH_BUF_SECURE);
	kh_json_writer_init(&w, &b);
	kh_json_object_begin(&w);
	kh_json_key(&w, "plaintext");
	kh_json_base64(&w, KH_SLICE(data_key, sizeof(data_key)));
	kh_json_key(&w, "ciphertext");
	kh_json_cstr(
	    &w,
	    "kh:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	kh_json_object_end(&w);
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
	assert_true(kh_secure_owns(b.ptr));
	assert_non_null(strstr(kh_buf_cstr(&b),
	                       "{\"plaintext\":\"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\","));
	kh_buf_cleanup(&b);
}

/* ---- allocation failures ---- */

static kh_rc parse_and_read(void *arg)
{
	static const char text[] =
	    "{\"name\":\"k\\u00e9y\",\"shares\":[\"AAE=\",\"AgM=\"],\"n\":5,\"b\":true,"
	    "\"o\":{\"deep\":[[1,2],{\"x\":null}]},\"r\":1.25,\"plaintext\":\"c2VjcmV0\"}";
	static const char *const allowed[] = {"name", "shares", "n",         "b",
	                                      "o",    "r",      "plaintext", NULL};
	struct kh_json *doc = NULL;
	struct kh_buf secret;
	struct kh_buf shares;
	const struct kh_json *arr;
	size_t count;
	struct kh_slice s;
	int64_t n;
	bool b;
	kh_rc rc;
	(void)arg;

	kh_buf_init(&secret, 64, KH_BUF_SECURE);
	kh_buf_init(&shares, 64, KH_BUF_PLAIN);
	KH_GUARD_OUT(kh_json_parse_object(KH_SLICE_LIT(text), &doc, NULL, 0));
	KH_GUARD_OUT(kh_json_only(doc, allowed, NULL, 0));
	KH_GUARD_OUT(kh_json_get_string(doc, "name", &s));
	KH_GUARD_OUT(kh_json_get_int(doc, "n", 1, 9, &n));
	KH_GUARD_OUT(kh_json_get_bool(doc, "b", &b));
	KH_GUARD_OUT(kh_json_get_base64(doc, "plaintext", &secret));
	KH_GUARD_OUT(kh_json_get_array(doc, "shares", &arr, &count));
	for (size_t i = 0; i < count; i++)
		KH_GUARD_OUT(kh_json_as_base64(kh_json_array_at(arr, i), &shares));
	KH_ENSURE_OUT(secret.len == 6 && shares.len == 4 && s.len == 4, KH_ERR_INTERNAL);
out:
	kh_json_free(&doc);
	kh_buf_cleanup(&secret);
	kh_buf_cleanup(&shares);
	return rc;
}

static kh_rc write_document(void *arg)
{
	struct kh_buf b;
	struct kh_json_writer w;
	kh_rc rc;
	(void)arg;

	kh_buf_init(&b, 4096, KH_BUF_SECURE);
	kh_json_writer_init(&w, &b);
	kh_json_object_begin(&w);
	kh_json_key(&w, "plaintext");
	kh_json_base64(&w, KH_SLICE_LIT("a secret that is long enough to make the buffer grow"));
	kh_json_key(&w, "list");
	kh_json_array_begin(&w);
	for (int i = 0; i < 40; i++)
		kh_json_int(&w, INT64_MAX - i);
	kh_json_array_end(&w);
	kh_json_object_end(&w);
	rc = kh_json_writer_end(&w);
	kh_buf_cleanup(&b);
	return rc;
}

static void parsing_and_reading_survive_allocation_failures(void **state)
{
	(void)state;
	kh_test_alloc_failures(parse_and_read, NULL);
}

/* Otherwise the sweep above would never reach jansson's allocations. */
static void jansson_allocates_through_kh_alloc(void **state)
{
	struct kh_json *doc;
	(void)state;

	kh_mem_fail_at(0);
	doc = parse_ok("{\"a\":[\"b\",{\"c\":1}]}");
	assert_true(kh_mem_alloc_count() >= 4);
	kh_json_free(&doc);
}

static void writing_survives_allocation_failures(void **state)
{
	(void)state;
	kh_test_alloc_failures(write_document, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_every_member_type),
	    cmocka_unit_test(reads_arrays_and_elements),
	    cmocka_unit_test(accepts_empty_object_and_surrounding_whitespace),
	    cmocka_unit_test(reads_only_the_slice_it_is_given),
	    cmocka_unit_test(refuses_a_root_that_is_not_an_object),
	    cmocka_unit_test(refuses_empty_and_whitespace_bodies),
	    cmocka_unit_test(refuses_duplicate_keys),
	    cmocka_unit_test(refuses_trailing_bytes),
	    cmocka_unit_test(refuses_malformed_json),
	    cmocka_unit_test(refuses_invalid_utf8),
	    cmocka_unit_test(accepts_valid_utf8_and_escapes),
	    cmocka_unit_test(refuses_nul_in_strings),
	    cmocka_unit_test(nesting_of_32_is_accepted_and_33_refused),
	    cmocka_unit_test(strings_over_the_limit_are_too_large),
	    cmocka_unit_test(numbers_out_of_int64_are_refused),
	    cmocka_unit_test(error_messages_never_echo_the_input),
	    cmocka_unit_test(error_buffer_is_optional_and_bounded),
	    cmocka_unit_test(only_names_the_first_unknown_member),
	    cmocka_unit_test(only_shows_names_safely),
	    cmocka_unit_test(absent_members_are_not_found),
	    cmocka_unit_test(members_of_another_type_are_bad_input),
	    cmocka_unit_test(int_range_is_inclusive_and_enforced),
	    cmocka_unit_test(base64_members_decode_strictly),
	    cmocka_unit_test(base64_secrets_land_in_a_secure_buffer),
	    cmocka_unit_test(writes_nested_objects_and_arrays),
	    cmocka_unit_test(writes_an_array_at_the_top),
	    cmocka_unit_test(escapes_every_control_character),
	    cmocka_unit_test(passes_unicode_through),
	    cmocka_unit_test(refuses_to_write_invalid_utf8),
	    cmocka_unit_test(writes_numbers_booleans_null_base64_and_times),
	    cmocka_unit_test(writer_misuse_is_internal_and_sticks),
	    cmocka_unit_test(nesting_of_16_is_written),
	    cmocka_unit_test(buffer_limit_is_too_large_and_sticks),
	    cmocka_unit_test(written_documents_parse_back_to_the_same_members),
	    cmocka_unit_test(a_secure_buffer_receives_secrets),
	    cmocka_unit_test(parsing_and_reading_survive_allocation_failures),
	    cmocka_unit_test(jansson_allocates_through_kh_alloc),
	    cmocka_unit_test(writing_survives_allocation_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
