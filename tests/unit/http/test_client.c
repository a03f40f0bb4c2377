/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Outgoing requests (webhook deliveries): which URLs are acceptable (https anywhere, http only
 * to loopback, no credentials or fragment, bounded, visible ASCII), and a POST against our own
 * server on 127.0.0.1 that arrives with its body, content type and extra headers, reports the
 * status, follows no redirect, and reports "no answer" as status 0.
 */
#include "kh_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "http/kh_http.h"

static void acceptable_urls(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "https://hooks.example.com/keyhold",
	    "https://hooks.example.com:8443/a/b?c=d",
	    "https://192.0.2.10/x",
	    "https://[2001:db8::1]/x",
	    "http://127.0.0.1:8080/hook",
	    "http://127.1.2.3/hook",
	    "http://[::1]:9000/",
	    "http://localhost:9000/hook",
	    /* loopback in the other spellings libcurl turns into an address */
	    "http://127.1/hook",
	    "http://0x7f000001/hook",
	    "http://2130706433/hook",
	    "http://127.0.0.01/hook",
	    "http://[0:0:0:0:0:0:0:1]/hook",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (kh_http_url_check(good[i]) != KH_OK)
			fail_msg("refused: %s", good[i]);
	}
}

static void unacceptable_urls(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "hooks.example.com/x",
	    "ftp://hooks.example.com/x",
	    "HTTPS://hooks.example.com/x",
	    "http://hooks.example.com/x",     /* plain HTTP across a network */
	    "http://10.0.0.1/x",              /* not loopback */
	    "http://127.0.0.1.example.com/x", /* looks like loopback, is a name */
	    /* Seen while fuzzing the API's webhooks: digits and three dots, but no address,
	     * so a name that DNS resolves (and may send anywhere). */
	    "http://127.999.0.1/x",
	    "http://127.1.1.256/x",
	    "http://128.0.0.1/x",
	    "http://[::2]/x",
	    "https://user:pass@hooks.example.com/x",
	    "https://user@hooks.example.com/x",
	    "https://hooks.example.com/x#frag",
	    "https://hooks.example.com/a b",
	    "https://hooks.example.com/\x01",
	    "https://hooks.example.com/\xc3\xa9",
	    "https:///x",
	    "file:///etc/passwd",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (kh_http_url_check(bad[i]) != KH_ERR_BAD_INPUT)
			fail_msg("accepted: %s", bad[i]);
	}
	assert_int_equal(kh_http_url_check(NULL), KH_ERR_BAD_INPUT);
	char longest[KH_LIMIT_WEBHOOK_URL_BYTES + 2];
	memset(longest, 'a', sizeof(longest) - 1);
	memcpy(longest, "https://h.example/", 18);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(kh_http_url_check(longest), KH_ERR_TOO_LARGE);
	longest[KH_LIMIT_WEBHOOK_URL_BYTES] = '\0';
	assert_int_equal(kh_http_url_check(longest), KH_OK);
}

/* ---- a receiver ---- */

static struct {
	pthread_mutex_t lock;
	unsigned calls;
	char method[16];
	char path[128];
	char content_type[64];
	char event[64];
	char delivery[64];
	char body[256];
} rx = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void copy_header(const struct kh_http_request *req, const char *name, char *out,
                        size_t out_len)
{
	const char *v = kh_http_request_header(req, name);
	snprintf(out, out_len, "%s", v != NULL ? v : "");
}

static void receiver(void *ctx, const struct kh_http_request *req, struct kh_http_response *resp)
{
	(void)ctx;
	pthread_mutex_lock(&rx.lock);
	rx.calls++;
	snprintf(rx.method, sizeof(rx.method), "%s", req->method_name);
	snprintf(rx.path, sizeof(rx.path), "%s", req->path);
	copy_header(req, "Content-Type", rx.content_type, sizeof(rx.content_type));
	copy_header(req, "X-Keyhold-Event", rx.event, sizeof(rx.event));
	copy_header(req, "X-Keyhold-Delivery", rx.delivery, sizeof(rx.delivery));
	snprintf(rx.body, sizeof(rx.body), "%.*s", (int)req->body.len, (const char *)req->body.ptr);
	pthread_mutex_unlock(&rx.lock);
	if (strcmp(req->path, "/fail") == 0) {
		resp->status = 500;
	} else if (strcmp(req->path, "/moved") == 0) {
		resp->status = 302;
		assert_int_equal(kh_http_response_header(resp, "Location", "/ok"), KH_OK);
	} else {
		resp->status = 204;
	}
}

static void a_post_arrives_with_body_and_headers(void **state)
{
	(void)state;
	struct kh_http_server *s = NULL;
	struct kh_http_options o = {.workers = 2, .network_threads = 1};
	char url[128];
	unsigned status = 0;
	assert_int_equal(kh_http_client_init(), KH_OK);
	assert_int_equal(kh_http_server_start(&o, receiver, NULL, &s), KH_OK);
	const char *const headers[] = {"X-Keyhold-Event: key.disabled", "X-Keyhold-Delivery: 7",
	                               NULL};
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", kh_http_server_port(s));
	struct kh_http_post req = {url, KH_SLICE_LIT("{\"id\":7}"), headers, 5};
	assert_int_equal(kh_http_post(&req, &status), KH_OK);
	assert_int_equal(status, 204);
	assert_int_equal(rx.calls, 1);
	assert_string_equal(rx.method, "POST");
	assert_string_equal(rx.path, "/hook");
	assert_string_equal(rx.content_type, "application/json");
	assert_string_equal(rx.event, "key.disabled");
	assert_string_equal(rx.delivery, "7");
	assert_string_equal(rx.body, "{\"id\":7}");
	/* Statuses come back as they are; a redirect is not followed. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/fail", kh_http_server_port(s));
	assert_int_equal(kh_http_post(&req, &status), KH_OK);
	assert_int_equal(status, 500);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/moved", kh_http_server_port(s));
	assert_int_equal(kh_http_post(&req, &status), KH_OK);
	assert_int_equal(status, 302);
	assert_int_equal(rx.calls, 3);
	uint16_t port = kh_http_server_port(s);
	kh_http_server_stop(&s);
	/* Nobody listening: no answer, status 0, and not an error of ours. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", port);
	status = 99;
	assert_int_equal(kh_http_post(&req, &status), KH_OK);
	assert_int_equal(status, 0);
	/* A URL that is not acceptable is refused before anything is sent. */
	struct kh_http_post bad = {"http://192.0.2.1/x", KH_SLICE_LIT("{}"), NULL, 1};
	assert_int_equal(kh_http_post(&bad, &status), KH_ERR_BAD_INPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(acceptable_urls),
	    cmocka_unit_test(unacceptable_urls),
	    cmocka_unit_test(a_post_arrives_with_body_and_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
