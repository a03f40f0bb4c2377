/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyhold_list against a small paged list served on 127.0.0.1: every page is fetched once, in
 * order, with the caller's query kept and the server's cursor passed back; a single page, an
 * empty list and a callback that stops are handled; a path that names a cursor is refused;
 * a failure on a later page is the server's error; and a server that answers with something
 * that is not a page, a cursor unfit for a URL, a cursor of another type, or the same cursor
 * again is a protocol error rather than a request built from it or an endless walk.
 */
#include "kh_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_int.h"
#include "http/kh_http.h"
#include "http/kh_json.h"
#include "keyhold/keyhold.h"

enum mode {
	M_NORMAL,
	M_REPEAT,      /* the second page gives the cursor that fetched it */
	M_BAD_CURSOR,  /* a cursor with a character unfit for a URL */
	M_NUMBER,      /* "next" is a number */
	M_NOT_JSON,    /* the second page is not JSON */
	M_FAIL_SECOND, /* the second page is a 404 error document */
	M_LONG_CURSOR, /* 193 characters */
};

/* The list: items 1..count; a cursor "p<n>" means after item n. */
static struct {
	enum mode mode;
	unsigned count;
	unsigned requests;
	char queries[16][128]; /* the query of each request */
} srv;

static void write_page(struct kh_json_writer *w, unsigned after, unsigned limit)
{
	unsigned last = after;
	char next[256];
	kh_json_object_begin(w);
	kh_json_key(w, "items");
	kh_json_array_begin(w);
	for (unsigned i = after + 1; i <= srv.count && i <= after + limit; i++) {
		kh_json_uint(w, i);
		last = i;
	}
	kh_json_array_end(w);
	if (last >= srv.count)
		goto end;
	snprintf(next, sizeof(next), "p%u", last);
	if (srv.mode == M_REPEAT && after > 0)
		snprintf(next, sizeof(next), "p%u", after);
	if (srv.mode == M_BAD_CURSOR)
		snprintf(next, sizeof(next), "p%u&x=1", last);
	if (srv.mode == M_LONG_CURSOR)
		snprintf(next, sizeof(next), "p%0192u", last);
	kh_json_key(w, "next");
	if (srv.mode == M_NUMBER)
		kh_json_uint(w, last);
	else
		kh_json_cstr(w, next);
end:
	kh_json_object_end(w);
}

static void handler(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp)
{
	struct kh_json_writer w;
	uint64_t limit = 2, after = 0;
	(void)ctx;
	if (srv.requests < 16)
		snprintf(srv.queries[srv.requests], sizeof(srv.queries[0]), "%s", req->query);
	srv.requests++;
	const char *l = kh_http_request_query(req, "limit");
	const char *n = kh_http_request_query(req, "next");
	if (l != NULL && kh_parse_u64(kh_slice_from_cstr(l), 1, 100, &limit) != KH_OK)
		limit = 0;
	if (n != NULL &&
	    (n[0] != 'p' || kh_parse_u64(kh_slice_from_cstr(n + 1), 0, 1000, &after) != KH_OK))
		limit = 0;
	resp->status = 200;
	kh_json_writer_init(&w, &resp->body);
	if (limit == 0 || (after > 0 && srv.mode == M_FAIL_SECOND)) {
		resp->status = limit == 0 ? 400 : 404;
		kh_json_object_begin(&w);
		kh_json_key(&w, "error");
		kh_json_object_begin(&w);
		kh_json_key(&w, "code");
		kh_json_cstr(&w, limit == 0 ? "BadRequest" : "NotFound");
		kh_json_key(&w, "message");
		kh_json_cstr(&w, "no such page");
		kh_json_key(&w, "request_id");
		kh_json_cstr(&w, req->request_id);
		kh_json_object_end(&w);
		kh_json_object_end(&w);
	} else if (after > 0 && srv.mode == M_NOT_JSON) {
		resp->content_type = "text/plain";
		assert_int_equal(kh_buf_append(&resp->body, KH_SLICE_LIT("not a page")), KH_OK);
		return;
	} else {
		write_page(&w, (unsigned)after, (unsigned)limit);
	}
	assert_int_equal(kh_json_writer_end(&w), KH_OK);
}

struct env {
	struct kh_http_server *server;
	struct keyhold_client *client;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct kh_http_options o;
	char addr[64];
	assert_non_null(e);
	memset(&o, 0, sizeof(o));
	o.network_threads = 2;
	o.workers = 1;
	o.timeout_seconds = 5;
	memset(&srv, 0, sizeof(srv));
	assert_int_equal(kh_http_server_start(&o, handler, NULL, &e->server), KH_OK);
	snprintf(addr, sizeof(addr), "http://127.0.0.1:%u",
	         (unsigned)kh_http_server_port(e->server));
	assert_int_equal(keyhold_client_new(addr, &e->client), KEYHOLD_OK);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	keyhold_client_free(&e->client);
	kh_http_server_stop(&e->server);
	free(e);
	return 0;
}

/* What the callback saw: the items of every page, in order. */
struct seen {
	unsigned pages;
	unsigned items[64];
	unsigned count;
	unsigned stop_after; /* pages; 0: never stop */
};

static enum keyhold_err collect(const struct keyhold_buf *page, void *arg)
{
	struct seen *s = arg;
	struct kh_json *doc = NULL;
	const struct kh_json *arr = NULL;
	size_t n = 0;
	assert_int_equal(page->data[page->len], '\0');
	assert_int_equal(kh_json_parse_object(KH_SLICE(page->data, page->len), &doc, NULL, 0),
	                 KH_OK);
	assert_int_equal(kh_json_get_array(doc, "items", &arr, &n), KH_OK);
	for (size_t i = 0; i < n; i++) {
		int64_t v = 0;
		assert_int_equal(kh_json_as_int(kh_json_array_at(arr, i), 1, 1000, &v), KH_OK);
		assert_true(s->count < 64);
		s->items[s->count++] = (unsigned)v;
	}
	kh_json_free(&doc);
	s->pages++;
	return s->stop_after != 0 && s->pages == s->stop_after ? KEYHOLD_ERR_INTERNAL : KEYHOLD_OK;
}

static void expect_items(const struct seen *s, unsigned count)
{
	assert_int_equal(s->count, count);
	for (unsigned i = 0; i < count; i++)
		assert_int_equal(s->items[i], i + 1);
}

static void every_page_once_in_order(void **state)
{
	struct env *e = *state;
	struct seen s = {0};
	srv.count = 7;
	assert_int_equal(keyhold_list(e->client, "/v1/things?limit=3", collect, &s), KEYHOLD_OK);
	assert_int_equal(s.pages, 3);
	expect_items(&s, 7);
	/* The caller's query is kept and the server's cursor passed back as it came. */
	assert_int_equal(srv.requests, 3);
	assert_string_equal(srv.queries[0], "limit=3");
	assert_string_equal(srv.queries[1], "limit=3&next=p3");
	assert_string_equal(srv.queries[2], "limit=3&next=p6");
}

static void a_path_without_a_query_gets_one(void **state)
{
	struct env *e = *state;
	struct seen s = {0};
	srv.count = 4;
	assert_int_equal(keyhold_list(e->client, "/v1/things", collect, &s), KEYHOLD_OK);
	assert_int_equal(s.pages, 2);
	expect_items(&s, 4);
	assert_string_equal(srv.queries[0], "");
	assert_string_equal(srv.queries[1], "next=p2");
}

static void one_page_and_an_empty_list(void **state)
{
	struct env *e = *state;
	struct seen s = {0};
	srv.count = 3;
	assert_int_equal(keyhold_list(e->client, "/v1/things?limit=3", collect, &s), KEYHOLD_OK);
	assert_int_equal(s.pages, 1);
	expect_items(&s, 3);
	memset(&s, 0, sizeof(s));
	srv.count = 0;
	assert_int_equal(keyhold_list(e->client, "/v1/things", collect, &s), KEYHOLD_OK);
	assert_int_equal(s.pages, 1);
	assert_int_equal(s.count, 0);
}

static void the_callback_stops_the_walk(void **state)
{
	struct env *e = *state;
	struct seen s = {.stop_after = 2};
	srv.count = 9;
	assert_int_equal(keyhold_list(e->client, "/v1/things?limit=2", collect, &s),
	                 KEYHOLD_ERR_INTERNAL);
	assert_int_equal(s.pages, 2);
	assert_int_equal(srv.requests, 2);
}

static void a_path_naming_a_cursor_is_refused(void **state)
{
	struct env *e = *state;
	struct seen s = {0};
	static const char *const paths[] = {"/v1/things?next=p2", "/v1/things?limit=2&next=p2"};
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(keyhold_list(e->client, paths[i], collect, &s), KEYHOLD_ERR_USAGE);
	/* A parameter that merely ends in "next" is not one. */
	srv.count = 1;
	assert_int_equal(keyhold_list(e->client, "/v1/things?unnext=1", collect, &s), KEYHOLD_OK);
	assert_int_equal(keyhold_list(NULL, "/v1/things", collect, &s), KEYHOLD_ERR_USAGE);
	assert_int_equal(keyhold_list(e->client, NULL, collect, &s), KEYHOLD_ERR_USAGE);
	assert_int_equal(keyhold_list(e->client, "/v1/things", NULL, &s), KEYHOLD_ERR_USAGE);
	assert_int_equal(srv.requests, 1);
}

static void a_later_pages_failure_is_the_servers_error(void **state)
{
	struct env *e = *state;
	struct seen s = {0};
	srv.count = 5;
	srv.mode = M_FAIL_SECOND;
	assert_int_equal(keyhold_list(e->client, "/v1/things", collect, &s), KEYHOLD_ERR_NOT_FOUND);
	assert_int_equal(s.pages, 1);
	assert_string_equal(keyhold_client_error_code(e->client), "NotFound");
}

static void a_server_that_misbehaves_is_a_protocol_error(void **state)
{
	struct env *e = *state;
	static const enum mode modes[] = {M_REPEAT, M_BAD_CURSOR, M_NUMBER, M_NOT_JSON,
	                                  M_LONG_CURSOR};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct seen s = {0};
		srv.mode = modes[i];
		srv.count = 9;
		srv.requests = 0;
		assert_int_equal(keyhold_list(e->client, "/v1/things", collect, &s),
		                 KEYHOLD_ERR_PROTOCOL);
		/* Never more than the two pages it takes to see it; a bad cursor never sent. */
		assert_true(srv.requests <= 2);
		assert_true(s.pages <= 1);
	}
}

int main(void)
{
	assert_int_equal(keyhold_global_init(0), KEYHOLD_OK);
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(every_page_once_in_order),
	    T(a_path_without_a_query_gets_one),
	    T(one_page_and_an_empty_list),
	    T(the_callback_stops_the_walk),
	    T(a_path_naming_a_cursor_is_refused),
	    T(a_later_pages_failure_is_the_servers_error),
	    T(a_server_that_misbehaves_is_a_protocol_error),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
