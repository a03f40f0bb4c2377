// SPDX-License-Identifier: Apache-2.0
/*
 * Outgoing HTTP(S) requests, for webhook deliveries, on libcurl: the only code that includes
 * it, as server.c is the only code that includes libmicrohttpd.
 *
 * A webhook URL is https:// to any host, or http:// to a loopback address only (a local relay
 * or a test receiver: plain HTTP must not carry signed events across a network). It carries no
 * user name or password (the URL is stored and shown as non-secret) and no fragment. Requests
 * follow no redirects (a 3xx is a failed delivery), speak only HTTP and HTTPS, verify the
 * server's certificate, and are bounded by a total timeout; the response body is read and
 * dropped.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "http/kh_http.h"
#include "kh_version.h"

#define DEFAULT_TIMEOUT_SECONDS 5u

kh_rc kh_http_client_init(void)
{
	/* Once per process, before threads start (libcurl's own rule for older builds). */
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? KH_OK : KH_ERR_INTERNAL;
}

/*
 * An address in 127.0.0.0/8 or ::1, or localhost (which libcurl resolves to loopback itself,
 * without asking DNS). libcurl gives IPv4 hosts it understands as a dotted quad ("127.1" and
 * "0x7f000001" become "127.0.0.1") and leaves anything else as a name to resolve, so the host
 * must parse as an address itself: "127.999.0.1" is a name that DNS may send anywhere.
 */
static bool loopback_host(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char inner[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(host);
	if (strcmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || n - 2 >= sizeof(inner) || host[0] != '[' || host[n - 1] != ']')
		return false;
	memcpy(inner, host + 1, n - 2);
	inner[n - 2] = '\0';
	return inet_pton(AF_INET6, inner, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static bool part_absent(CURLU *u, CURLUPart what)
{
	char *v = NULL;
	CURLUcode uc = curl_url_get(u, what, &v, 0);
	curl_free(v);
	return uc != CURLUE_OK;
}

static kh_rc url_parts_check(CURLU *u)
{
	char *scheme = NULL, *host = NULL;
	kh_rc rc = KH_ERR_BAD_INPUT;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (!part_absent(u, CURLUPART_USER) || !part_absent(u, CURLUPART_PASSWORD) ||
	    !part_absent(u, CURLUPART_FRAGMENT) || host[0] == '\0')
		goto out;
	if (strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 && loopback_host(host)))
		rc = KH_OK;
out:
	curl_free(scheme);
	curl_free(host);
	return rc;
}

kh_rc kh_http_url_check(const char *url)
{
	KH_ENSURE(url != NULL, KH_ERR_BAD_INPUT);
	size_t len = strnlen(url, KH_LIMIT_WEBHOOK_URL_BYTES + 1);
	KH_ENSURE(len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(len <= KH_LIMIT_WEBHOOK_URL_BYTES, KH_ERR_TOO_LARGE);
	/* Visible ASCII only: no spaces, controls or raw UTF-8 for the parser to guess about. */
	for (size_t i = 0; i < len; i++)
		KH_ENSURE(url[i] > 0x20 && url[i] < 0x7f, KH_ERR_BAD_INPUT);
	/* The scheme is ours to check, case-sensitively, before libcurl lowers it. */
	size_t scheme_len = strncmp(url, "https://", 8) == 0  ? 8
	                    : strncmp(url, "http://", 7) == 0 ? 7
	                                                      : 0;
	/* "https:///x" would leave libcurl to guess which part is the host: refused. */
	KH_ENSURE(scheme_len > 0 && url[scheme_len] != '/', KH_ERR_BAD_INPUT);
	CURLU *u = curl_url();
	KH_ENSURE(u != NULL, KH_ERR_NOMEM);
	kh_rc rc = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK ? url_parts_check(u)
	                                                               : KH_ERR_BAD_INPUT;
	curl_url_cleanup(u);
	return rc;
}

/* The response body is not used: read and dropped. */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

static kh_rc build_headers(const char *const *lines, struct curl_slist **out)
{
	struct curl_slist *list = curl_slist_append(NULL, "Content-Type: application/json");
	/* No "Expect: 100-continue" round trip for our small bodies. */
	if (list != NULL)
		list = curl_slist_append(list, "Expect:");
	for (size_t i = 0; list != NULL && lines != NULL && lines[i] != NULL; i++) {
		struct curl_slist *next = curl_slist_append(list, lines[i]);
		if (next == NULL) {
			curl_slist_free_all(list);
			list = NULL;
		} else {
			list = next;
		}
	}
	KH_ENSURE(list != NULL, KH_ERR_NOMEM);
	*out = list;
	return KH_OK;
}

static bool set_options(CURL *h, const struct kh_http_post *req, struct curl_slist *headers)
{
	long timeout_ms =
	    1000L * (req->timeout_seconds == 0 ? DEFAULT_TIMEOUT_SECONDS : req->timeout_seconds);
	return curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_USERAGENT, "keyhold/" KH_VERSION_STRING) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)req->body.ptr) == CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len) ==
	           CURLE_OK &&
	       curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard) == CURLE_OK;
}

kh_rc kh_http_post(const struct kh_http_post *req, unsigned *out_status)
{
	kh_rc rc = KH_OK;
	struct curl_slist *headers = NULL;
	long status = 0;
	KH_ENSURE(req != NULL && out_status != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(req->body.len == 0 || req->body.ptr != NULL, KH_ERR_INTERNAL);
	KH_GUARD(kh_http_url_check(req->url));
	KH_GUARD(build_headers(req->headers, &headers));
	CURL *h = curl_easy_init();
	KH_ENSURE_OUT(h != NULL, KH_ERR_NOMEM);
	KH_ENSURE_OUT(set_options(h, req, headers), KH_ERR_INTERNAL);
	CURLcode cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		KH_LOG_DEBUG("outgoing request failed",
		             KH_LF_STR("reason", curl_easy_strerror(cc)));
		*out_status = 0;
		goto out;
	}
	KH_ENSURE_OUT(curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK,
	              KH_ERR_INTERNAL);
	*out_status = status > 0 && status < 1000 ? (unsigned)status : 0;
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	return rc;
}
