/* SPDX-License-Identifier: Apache-2.0 */
/*
 * xks_load: a closed-loop load generator for the XKS proxy, calling it the way AWS KMS does:
 * HTTP/1.1 POSTs over keep-alive TLS, each signed afresh with SigV4 (kh_sigv4_sign over
 * host;x-amz-date at the current time, as AWS KMS signs them), one request in flight per
 * connection, over the shared load core (load.h: connections, threads, latencies). Nothing but
 * the date and the signature is computed per request here.
 *
 * Every response must be 200; anything else counts as an error (the first error body is shown).
 * After the warm-up, it reports one line of key=value pairs on stdout:
 *
 *   xks_load rps=... requests=... seconds=... p50_ms=... p90_ms=... p99_ms=... p999_ms=...
 *            max_ms=... errors=... conn_errors=... connections=... threads=... client_cpu=...
 *            sign_us=...
 *
 * Latencies run from the signed request to the whole answer (load.c says how they are kept);
 * sign_us is the mean time kh_sigv4_sign took. Exit status: 0 when every answer was 200, 2 when
 * some were not or connections failed, 1 for bad usage or a failed start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/kh_sigv4.h"
#include "base/kh_clock.h"
#include "load.h"

enum {
	MAX_BODY = 1 << 20,
	HEAD_ROOM = 2048, /* request line and headers, signature included */
};

struct options {
	uint8_t *body;
	size_t body_len;
	char access_key[KH_SIGV4_ACCESS_KEY_MAX + 1];
	struct kh_buf secret; /* KH_BUF_SECURE */
	const char *region;
	const char *service;
};

/* What each load thread signs with: its own date and signature buffers, its signing time. */
struct signer {
	struct kh_buf auth;
	int64_t date_sec;
	char amz_date[KH_SIGV4_AMZ_DATE_LEN + 1];
	uint64_t sign_count;
	int64_t sign_ns;
};

static struct options opt = {
    .service = "kms-xks-proxy",
    .region = "us-east-1",
};
static struct signer signers[LOAD_MAX_THREADS];

static void usage(void)
{
	fprintf(stderr,
	        "usage: xks_load --url https://HOST:PORT/PATH (--body FILE | --body-json STRING)\n"
	        "                --access-key ID (--secret SECRET | --secret-file FILE)\n"
	        "                [--region us-east-1] [--service kms-xks-proxy]\n"
	        "                [--connections 64] [--threads 2] [--duration 10s] [--warmup 1s]\n"
	        "                [--cacert FILE | --insecure]\n"
	        "Durations: N or Ns (seconds), Nms (milliseconds).\n");
	exit(1);
}

static void parse_args(int argc, char **argv)
{
	struct kh_buf body;
	const char *url = NULL;

	kh_buf_init(&body, MAX_BODY, KH_BUF_PLAIN);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--insecure") == 0) {
			(void)load_option(a, NULL);
			continue;
		}
		if (strcmp(a, "--help") == 0 || v == NULL)
			usage();
		i++;
		if (load_option(a, v))
			continue;
		if (strcmp(a, "--url") == 0) {
			url = v;
		} else if (strcmp(a, "--body") == 0) {
			load_read_file(v, &body);
		} else if (strcmp(a, "--body-json") == 0) {
			if (kh_buf_append_cstr(&body, v) != KH_OK)
				load_die("body too large");
		} else if (strcmp(a, "--access-key") == 0) {
			if (strlen(v) == 0 || strlen(v) > KH_SIGV4_ACCESS_KEY_MAX)
				load_die("bad --access-key");
			snprintf(opt.access_key, sizeof(opt.access_key), "%s", v);
		} else if (strcmp(a, "--secret") == 0) {
			if (kh_buf_append_cstr(&opt.secret, v) != KH_OK)
				load_die("secret too long");
		} else if (strcmp(a, "--secret-file") == 0) {
			load_read_file(v, &opt.secret);
			while (opt.secret.len > 0 && (opt.secret.ptr[opt.secret.len - 1] == '\n' ||
			                              opt.secret.ptr[opt.secret.len - 1] == '\r'))
				kh_buf_truncate(&opt.secret, opt.secret.len - 1);
		} else if (strcmp(a, "--region") == 0) {
			opt.region = v;
		} else if (strcmp(a, "--service") == 0) {
			opt.service = v;
		} else {
			usage();
		}
	}
	if (url == NULL || opt.access_key[0] == '\0' || opt.secret.len == 0)
		usage();
	load_parse_url(url, true);
	opt.body = body.ptr; /* kept for the whole run */
	opt.body_len = body.len;
}

/* Signs a fresh request at the current time and lays it out in req. */
static size_t build(unsigned worker, uint64_t seq, char *req)
{
	struct signer *w = &signers[worker];
	int64_t now = kh_clock_now(kh_clock_real());
	int64_t t0, t1;
	struct kh_sigv4_header h[2];
	struct kh_sigv4_request r;
	struct kh_sigv4_credential cred = {
	    .access_key_id = kh_slice_from_cstr(opt.access_key),
	    .secret = kh_buf_slice(&opt.secret),
	    .region = opt.region,
	    .service = opt.service,
	};
	int n;

	(void)seq;
	if (now / KH_NS_PER_SEC != w->date_sec) {
		time_t t = (time_t)(now / KH_NS_PER_SEC);
		struct tm tm;
		w->date_sec = now / KH_NS_PER_SEC;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(w->amz_date, sizeof(w->amz_date), "%Y%m%dT%H%M%SZ", &tm) == 0)
			load_die("cannot format the date");
	}
	/* AWS KMS signs host;x-amz-date (XKS.md); Content-Type is sent unsigned, as it does. */
	h[0] = (struct kh_sigv4_header){KH_SLICE_LIT("Host"), kh_slice_from_cstr(load.host_header)};
	h[1] = (struct kh_sigv4_header){KH_SLICE_LIT("X-Amz-Date"),
	                                KH_SLICE(w->amz_date, KH_SIGV4_AMZ_DATE_LEN)};
	r = (struct kh_sigv4_request){
	    .method = KH_SLICE_LIT("POST"),
	    .raw_path = kh_slice_from_cstr(load.path),
	    .raw_query = KH_SLICE_EMPTY,
	    .headers = h,
	    .header_count = 2,
	    .body = KH_SLICE(opt.body, opt.body_len),
	};
	kh_buf_clear(&w->auth);
	t0 = kh_clock_mono_ns();
	if (kh_sigv4_sign(&cred, &r, &w->auth) != KH_OK)
		load_die("kh_sigv4_sign failed (bad access key, region, service or path?)");
	t1 = kh_clock_mono_ns();
	w->sign_ns += t1 - t0;
	w->sign_count++;
	n = snprintf(req, HEAD_ROOM,
	             "POST %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	             load.path, load.host_header, w->amz_date, kh_buf_cstr(&w->auth), opt.body_len);
	if (n < 0 || (size_t)n >= HEAD_ROOM)
		load_die("request head too large");
	memcpy(req + n, opt.body, opt.body_len);
	return (size_t)n + opt.body_len;
}

int main(int argc, char **argv)
{
	uint64_t signs = 0;
	int64_t sign_ns = 0;
	int status;

	load.name = "xks_load";
	load.ok_status = 200;
	kh_buf_init(&opt.secret, KH_SIGV4_SECRET_MAX, KH_BUF_SECURE);
	parse_args(argc, argv);
	for (size_t t = 0; t < LOAD_MAX_THREADS; t++) {
		kh_buf_init(&signers[t].auth, HEAD_ROOM, KH_BUF_PLAIN);
		signers[t].date_sec = -1;
	}
	load.request_max = HEAD_ROOM + opt.body_len;
	load.build = build;
	status = load_run();
	for (size_t t = 0; t < LOAD_MAX_THREADS; t++) {
		signs += signers[t].sign_count;
		sign_ns += signers[t].sign_ns;
	}
	printf(" sign_us=%.1f\n", signs > 0 ? (double)sign_ns / (double)signs / 1000.0 : 0.0);
	return status;
}
