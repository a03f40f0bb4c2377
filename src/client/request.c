// SPDX-License-Identifier: Apache-2.0
/*
 * One HTTP exchange with keyholdd on libcurl, and the generic keyhold_request. The answer's
 * error document (API.md "Errors") is read into the client so callers can show the server's
 * code, message and request id.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "client/kh_client_int.h"
#include "kh_version.h"

struct exchange {
	struct keyhold_client *c;
	struct kh_buf *resp;
	bool too_large;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct exchange *x = arg;
	size_t n = size * nmemb;
	if (kh_buf_append(x->resp, KH_SLICE(ptr, n)) != KH_OK) {
		x->too_large = true;
		return 0; /* aborts the transfer */
	}
	return n;
}

/* Keeps the X-Request-Id of the answer for error messages. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct exchange *x = arg;
	size_t n = size * nmemb;
	static const char name[] = "x-request-id:";
	if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0) {
		const char *v = ptr + sizeof(name) - 1;
		size_t len = n - (sizeof(name) - 1);
		while (len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
			len--;
		if (len < sizeof(x->c->request_id)) {
			memcpy(x->c->request_id, v, len);
			x->c->request_id[len] = '\0';
		}
	}
	return n;
}

/* The header list; the Authorization line is built in secure memory, and libcurl's copy of it
 * is wiped in headers_free. */
static enum keyhold_err headers_build(struct keyhold_client *c, bool has_body,
                                      struct curl_slist **out)
{
	struct curl_slist *list = curl_slist_append(NULL, "Accept: application/json");
	if (list != NULL)
		list = curl_slist_append(list, "Expect:");
	if (list != NULL && has_body)
		list = curl_slist_append(list, "Content-Type: application/json");
	if (list != NULL && c->token != NULL) {
		size_t n = sizeof("Authorization: Bearer ") + strlen(c->token);
		char *line = kh_secure_alloc(n);
		struct curl_slist *next = NULL;
		if (line != NULL) {
			snprintf(line, n, "Authorization: Bearer %s", c->token);
			next = curl_slist_append(list, line);
			kh_secure_free(&line);
		}
		if (next == NULL)
			curl_slist_free_all(list);
		list = next;
	}
	KH_ENSURE(list != NULL, KEYHOLD_ERR_NOMEM);
	*out = list;
	return KEYHOLD_OK;
}

static void headers_free(struct curl_slist *list)
{
	for (struct curl_slist *p = list; p != NULL; p = p->next)
		kh_wipe(p->data, strlen(p->data));
	curl_slist_free_all(list);
}

static bool set_common(struct keyhold_client *c, CURL *h, const char *url,
                       struct curl_slist *headers, struct exchange *x, char *errbuf)
{
	return curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->total_ms) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
	       (c->ca_file == NULL ||
	        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file) == CURLE_OK) &&
	       curl_easy_setopt(h, CURLOPT_USERAGENT, "keyhold/" KH_VERSION_STRING) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_WRITEDATA, x) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HEADERDATA, x) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
}

static bool set_method(CURL *h, const char *method, struct kh_slice body)
{
	if (strcmp(method, "GET") == 0 && body.len == 0)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK;
	if (strcmp(method, "DELETE") == 0 && body.len == 0)
		return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE") == CURLE_OK;
	/* POST, PUT, PATCH: a body, possibly empty, sent from our (secure) buffer. */
	return curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_POSTFIELDS,
	                        body.len > 0 ? (const char *)body.ptr : "") == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len) == CURLE_OK &&
	       (strcmp(method, "POST") == 0 ||
	        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK);
}

static bool method_ok(const char *m)
{
	static const char *const known[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(m, known[i]) == 0)
			return true;
	}
	return false;
}

static bool path_ok(const char *path)
{
	size_t n = strnlen(path, KH_CLIENT_PATH_MAX + 1);
	if (n == 0 || n > KH_CLIENT_PATH_MAX || path[0] != '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (path[i] <= 0x20 || path[i] >= 0x7f || path[i] == '#')
			return false;
	}
	return true;
}

/* Reads {"error":{"code","message","request_id"}} into the client, when the answer is one. */
static void read_error_doc(struct keyhold_client *c, const struct kh_buf *resp)
{
	struct kh_json *doc = NULL;
	const struct kh_json *err = NULL;
	struct kh_slice s;
	void *cursor = NULL;
	struct kh_slice name;
	if (resp->len == 0 || kh_json_parse_object(kh_buf_slice(resp), &doc, NULL, 0) != KH_OK)
		return;
	while (kh_json_object_next(doc, &cursor, &name, &err)) {
		if (kh_slice_eq(name, KH_SLICE_LIT("error")))
			break;
		err = NULL;
	}
	if (err != NULL && kh_json_get_string(err, "code", &s) == KH_OK &&
	    s.len < sizeof(c->err_code)) {
		memcpy(c->err_code, s.ptr, s.len);
		c->err_code[s.len] = '\0';
	}
	if (err != NULL && kh_json_get_string(err, "message", &s) == KH_OK) {
		/* Shown on terminals: no control characters. */
		size_t n = s.len < sizeof(c->err_msg) - 1 ? s.len : sizeof(c->err_msg) - 1;
		for (size_t i = 0; i < n; i++)
			c->err_msg[i] = s.ptr[i] < 0x20 || s.ptr[i] == 0x7f ? '?' : (char)s.ptr[i];
		c->err_msg[n] = '\0';
	}
	if (err != NULL && kh_json_get_string(err, "request_id", &s) == KH_OK &&
	    s.len < sizeof(c->request_id)) {
		memcpy(c->request_id, s.ptr, s.len);
		c->request_id[s.len] = '\0';
	}
	kh_json_free(&doc);
}

static enum keyhold_err perform(struct keyhold_client *c, const char *url, const char *method,
                                struct kh_slice body, long *out_status, struct kh_buf *resp)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct exchange x = {c, resp, false};
	CURL *h = c->curl;
	KH_CLIENT_GUARD(headers_build(c, body.len > 0, &headers));
	curl_easy_reset(h); /* keeps the connection for keep-alive */
	enum keyhold_err err = KEYHOLD_ERR_INTERNAL;
	if (set_common(c, h, url, headers, &x, errbuf) && set_method(h, method, body)) {
		CURLcode cc = curl_easy_perform(h);
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (x.too_large)
			err = kh_client_fail(c, KEYHOLD_ERR_PROTOCOL, "the answer is too large");
		else if (cc != CURLE_OK)
			err = kh_client_fail(c, KEYHOLD_ERR_CONNECT,
			                     errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
		else
			err = KEYHOLD_OK;
		*out_status = status;
	}
	/* Nothing of ours may stay in the handle between calls. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	headers_free(headers);
	return err;
}

enum keyhold_err kh_client_call(struct keyhold_client *c, const char *method, const char *path,
                                struct kh_slice body, long *out_status, struct kh_buf *resp)
{
	long status = 0;
	KH_ENSURE(c != NULL && method != NULL && path != NULL && out_status != NULL,
	          KEYHOLD_ERR_USAGE);
	c->err_code[0] = '\0';
	c->err_msg[0] = '\0';
	c->request_id[0] = '\0';
	if (!method_ok(method) || !path_ok(path))
		return kh_client_fail(c, KEYHOLD_ERR_USAGE, "unknown method, or a malformed path");
	if (body.len > KH_CLIENT_REQUEST_MAX)
		return kh_client_fail(c, KEYHOLD_ERR_TOO_LARGE, "the request body is over 1 MiB");
	size_t n = strlen(c->base) + strlen(path) + 1;
	char *url = kh_alloc(n);
	KH_ENSURE(url != NULL, kh_client_fail(c, KEYHOLD_ERR_NOMEM, NULL));
	snprintf(url, n, "%s%s", c->base, path);
	kh_buf_clear(resp);
	enum keyhold_err err = perform(c, url, method, body, &status, resp);
	kh_free(&url);
	KH_CLIENT_GUARD(err);
	*out_status = status;
	err = KEYHOLD_OK;
	if (status < 200 || status >= 300) {
		read_error_doc(c, resp);
		err = kh_client_status_err(status, c->err_code);
		if (c->err_msg[0] == '\0')
			snprintf(c->err_msg, sizeof(c->err_msg), "HTTP status %ld", status);
	}
	return err;
}

enum keyhold_err keyhold_request(struct keyhold_client *c, const char *method, const char *path,
                                 const char *json_body, long *out_status,
                                 struct keyhold_buf *out_response)
{
	struct kh_buf resp;
	long status = 0;
	KH_ENSURE(out_response != NULL && out_status != NULL, KEYHOLD_ERR_USAGE);
	struct kh_slice body =
	    json_body != NULL ? kh_slice_from_cstr(json_body) : (struct kh_slice)KH_SLICE_EMPTY;
	kh_buf_init(&resp, KH_CLIENT_RESPONSE_MAX, KH_BUF_SECURE);
	enum keyhold_err err = kh_client_call(c, method, path, body, &status, &resp);
	*out_status = status;
	if (status != 0)
		kh_client_buf_move(&resp, out_response);
	kh_buf_cleanup(&resp);
	return err;
}
