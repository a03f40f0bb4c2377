/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signs one XKS request with kh_sigv4_sign at a chosen time, for the cases curl --aws-sigv4
 * cannot make (a clock off by minutes: curl sends a given X-Amz-Date twice), and prints the two
 * headers to send with curl -H:
 *
 *   xks_sign AK SECRET REGION HOST PATH BODY_FILE OFFSET_SECONDS
 *
 * signs "POST PATH" for Host: HOST with the body of BODY_FILE, Content-Type: application/json,
 * at now + OFFSET_SECONDS, and prints "X-Amz-Date: ..." and "Authorization: ..." lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/kh_sigv4.h"
#include "crypto/kh_crypto.h"

#define BODY_MAX (2u * 1024u * 1024u)

static int usage(void)
{
	fprintf(stderr, "usage: xks_sign AK SECRET REGION HOST PATH BODY_FILE OFFSET_SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	static char body[BODY_MAX];
	char date[KH_SIGV4_AMZ_DATE_LEN + 1];
	if (argc != 8)
		return usage();
	FILE *f = fopen(argv[6], "rb");
	if (f == NULL)
		return usage();
	size_t len = fread(body, 1, sizeof(body), f);
	fclose(f);
	time_t t = time(NULL) + (time_t)strtol(argv[7], NULL, 10);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	if (kh_crypto_init() != KH_OK)
		return 1;
	const struct kh_sigv4_header headers[] = {
	    {kh_slice_from_cstr("Content-Type"), kh_slice_from_cstr("application/json")},
	    {kh_slice_from_cstr("Host"), kh_slice_from_cstr(argv[4])},
	    {kh_slice_from_cstr("X-Amz-Date"), kh_slice_from_cstr(date)},
	};
	struct kh_sigv4_request req = {
	    .method = kh_slice_from_cstr("POST"),
	    .raw_path = kh_slice_from_cstr(argv[5]),
	    .raw_query = kh_slice_from_cstr(""),
	    .headers = headers,
	    .header_count = sizeof(headers) / sizeof(headers[0]),
	    .body = KH_SLICE(body, len),
	};
	struct kh_sigv4_credential cred = {
	    .access_key_id = kh_slice_from_cstr(argv[1]),
	    .secret = kh_slice_from_cstr(argv[2]),
	    .region = argv[3],
	    .service = "kms-xks-proxy",
	};
	struct kh_buf auth;
	kh_buf_init(&auth, 1024, KH_BUF_PLAIN);
	kh_rc rc = kh_sigv4_sign(&cred, &req, &auth);
	if (rc != KH_OK) {
		fprintf(stderr, "xks_sign: %s\n", kh_rc_name(rc));
		return 1;
	}
	printf("X-Amz-Date: %s\nAuthorization: %.*s\n", date, (int)auth.len,
	       (const char *)auth.ptr);
	kh_buf_cleanup(&auth);
	return 0;
}
