// SPDX-License-Identifier: Apache-2.0
/*
 * Walking a paged list (API.md "Lists are paged"): the first page as asked for, then each next
 * one with the cursor the previous answer gave, until an answer has none. The cursor is the
 * server's and opaque to us, but it goes into a URL, so it is checked first: 1-192 unreserved
 * characters of RFC 3986 section 2.3 (an XKS key list's cursor carries an external key id of up
 * to 128 characters), and never the same twice in a row (a server that does not move on would
 * be followed for ever).
 */
#include <stdio.h>
#include <string.h>

#include "client/kh_client_int.h"

#define CURSOR_MAX 192u

static bool cursor_ok(struct kh_slice s)
{
	if (s.len == 0 || s.len > CURSOR_MAX)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.ptr[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
		          ch == '~';
		if (!ok)
			return false;
	}
	return true;
}

/* Whether the query of path has a next= parameter already. */
static bool has_next(const char *path)
{
	const char *q = strchr(path, '?');
	for (const char *p = q; p != NULL; p = strchr(p + 1, '&'))
		if (strncmp(p + 1, "next=", 5) == 0)
			return true;
	return false;
}

/* The "next" member of a page: absent leaves *cursor empty (the last page). */
static enum keyhold_err next_of(struct keyhold_client *c, const struct kh_buf *page, char *cursor)
{
	struct kh_json *doc = NULL;
	struct kh_slice s;
	enum keyhold_err err = KEYHOLD_OK;
	if (kh_json_parse_object(kh_buf_slice(page), &doc, NULL, 0) != KH_OK)
		return kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "a page is not a JSON object");
	kh_rc rc = kh_json_get_string(doc, "next", &s);
	if (rc == KH_ERR_NOT_FOUND) {
		cursor[0] = '\0';
	} else if (rc != KH_OK || !cursor_ok(s)) {
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "a page has a malformed \"next\"");
	} else if (strlen(cursor) == s.len && memcmp(cursor, s.ptr, s.len) == 0) {
		err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "a page gave its own cursor again");
	} else {
		memcpy(cursor, s.ptr, s.len);
		cursor[s.len] = '\0';
	}
	kh_json_free(&doc);
	return err;
}

/* One page: GET, hand it to fn, find the next cursor. */
static enum keyhold_err one_page(struct keyhold_client *c, const char *path, char *cursor,
                                 keyhold_page_fn fn, void *arg)
{
	struct kh_buf resp;
	long status = 0;
	kh_buf_init(&resp, KH_CLIENT_RESPONSE_MAX, KH_BUF_SECURE);
	enum keyhold_err err = kh_client_call(c, "GET", path, KH_SLICE_EMPTY, &status, &resp);
	if (err == KEYHOLD_OK)
		err = next_of(c, &resp, cursor);
	if (err == KEYHOLD_OK) {
		/* A JSON object was read, so there is a buffer, with room kept for a NUL. */
		resp.ptr[resp.len] = '\0';
		const struct keyhold_buf page = {resp.ptr, resp.len};
		err = fn(&page, arg);
	}
	kh_buf_cleanup(&resp);
	return err;
}

enum keyhold_err keyhold_list(struct keyhold_client *c, const char *path, keyhold_page_fn fn,
                              void *arg)
{
	char cursor[CURSOR_MAX + 1] = "";
	char url[KH_CLIENT_PATH_MAX + 1];
	KH_ENSURE(c != NULL && path != NULL && fn != NULL, KEYHOLD_ERR_USAGE);
	size_t n = strnlen(path, KH_CLIENT_PATH_MAX + 1);
	if (n > KH_CLIENT_PATH_MAX || has_next(path))
		return kh_client_fail(c, KEYHOLD_ERR_USAGE,
		                      "a list's path is too long, or names a cursor already");
	const char sep = strchr(path, '?') != NULL ? '&' : '?';
	KH_CLIENT_GUARD(one_page(c, path, cursor, fn, arg));
	while (cursor[0] != '\0') {
		int w = snprintf(url, sizeof(url), "%s%cnext=%s", path, sep, cursor);
		if (w < 0 || (size_t)w >= sizeof(url))
			return kh_client_fail(c, KEYHOLD_ERR_USAGE, "a list's path is too long");
		KH_CLIENT_GUARD(one_page(c, url, cursor, fn, arg));
	}
	return KEYHOLD_OK;
}
