// SPDX-License-Identifier: Apache-2.0
/*
 * AWS Signature Version 4 with HMAC-SHA-256: the canonical request, the string to sign, the
 * signing key derivation, and the strict parse of the Authorization and X-Amz-Date headers that
 * comes first. Section names in comments are those of the AWS SigV4 reference ("Create a
 * canonical request", "Create a string to sign", "Calculate the signature").
 *
 * Nothing here is proportional to the peer's input beyond kh_limits.h: a request with more
 * headers, longer headers or a longer URI than those limits is refused before any work, and the
 * body is only hashed. The secret, "AWS4" + secret and every derived key live in secure memory
 * and are wiped on the way out; the expected signature is compared with kh_ct_eq and is never
 * written anywhere else.
 */
#include <stdlib.h>
#include <string.h>

#include "authz/kh_sigv4.h"
#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"

#define MAC_LEN 32u
#define METHOD_MAX 32u
#define SERVICE_MAX 64u
#define SCOPE_TERMINATOR "aws4_request"
#define QUERY_ENCODED_MAX (4u * KH_LIMIT_URI_BYTES) /* %XX per byte, plus '=' per parameter */

static const char *const reason_names[KH_SIGV4_REASON_COUNT] = {
    [KH_SIGV4_OK] = "ok",
    [KH_SIGV4_BAD_REQUEST] = "bad-request",
    [KH_SIGV4_NO_AUTHORIZATION] = "no-authorization",
    [KH_SIGV4_BAD_AUTHORIZATION] = "bad-authorization",
    [KH_SIGV4_BAD_CREDENTIAL] = "bad-credential",
    [KH_SIGV4_BAD_SIGNED_HEADERS] = "bad-signed-headers",
    [KH_SIGV4_BAD_SIGNATURE_FORMAT] = "bad-signature-format",
    [KH_SIGV4_BAD_DATE] = "bad-date",
    [KH_SIGV4_DATE_MISMATCH] = "date-mismatch",
    [KH_SIGV4_CLOCK_SKEW] = "clock-skew",
    [KH_SIGV4_WRONG_SERVICE] = "wrong-service",
    [KH_SIGV4_WRONG_REGION] = "wrong-region",
    [KH_SIGV4_UNSIGNED_REQUIRED] = "unsigned-required-header",
    [KH_SIGV4_SIGNED_HEADER_ABSENT] = "signed-header-absent",
    [KH_SIGV4_UNKNOWN_ACCESS_KEY] = "unknown-access-key",
    [KH_SIGV4_SIGNATURE_MISMATCH] = "signature-mismatch",
};

const char *kh_sigv4_reason_name(enum kh_sigv4_reason reason)
{
	if ((unsigned)reason >= KH_SIGV4_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

/* ---- characters and slices ---- */

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 3986 2.3 unreserved: the characters SigV4's UriEncode leaves as they are. */
static bool is_unreserved(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint8_t to_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static struct kh_slice trim_ows(struct kh_slice s)
{
	while (s.len > 0 && is_ows(s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len > 0 && is_ows(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

/* Case-insensitive equality of a received name with a lower-case one. */
static bool name_eq(struct kh_slice name, struct kh_slice lower)
{
	if (name.len != lower.len)
		return false;
	for (size_t i = 0; i < name.len; i++)
		if (to_lower(name.ptr[i]) != lower.ptr[i])
			return false;
	return true;
}

static bool slice_is_cstr(struct kh_slice s, const char *c)
{
	return c != NULL && kh_slice_eq(s, kh_slice_from_cstr(c));
}

static int slice_cmp(struct kh_slice a, struct kh_slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
	if (c != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

/* Splits s at the first sep: *head before it, s after it (empty when sep is absent). */
static bool split_at(struct kh_slice *s, uint8_t sep, struct kh_slice *head)
{
	const uint8_t *p = s->len > 0 ? memchr(s->ptr, sep, s->len) : NULL;
	if (p == NULL) {
		*head = *s;
		s->ptr += s->len;
		s->len = 0;
		return false;
	}
	*head = KH_SLICE(s->ptr, (size_t)(p - s->ptr));
	s->len -= head->len + 1;
	s->ptr = p + 1;
	return true;
}

/* How many headers are named lname; *out_first gets the first one's trimmed value. */
static size_t header_find(const struct kh_sigv4_request *req, const char *lname,
                          struct kh_slice *out_first)
{
	size_t n = 0;
	for (size_t i = 0; i < req->header_count; i++) {
		if (!name_eq(req->headers[i].name, kh_slice_from_cstr(lname)))
			continue;
		if (n++ == 0)
			*out_first = trim_ows(req->headers[i].value);
	}
	return n;
}

/* The request's form and size, before anything is built from it. */
static bool request_ok(const struct kh_sigv4_request *req)
{
	size_t header_bytes = 0;

	if (req->method.len == 0 || req->method.len > METHOD_MAX)
		return false;
	for (size_t i = 0; i < req->method.len; i++)
		if (!is_tchar(req->method.ptr[i]))
			return false;
	if (req->raw_path.len == 0 || req->raw_path.ptr[0] != '/' ||
	    req->raw_path.len + req->raw_query.len > KH_LIMIT_URI_BYTES)
		return false;
	if (req->header_count > KH_LIMIT_SIGV4_HEADERS || (req->header_count > 0 && !req->headers))
		return false;
	for (size_t i = 0; i < req->header_count; i++) {
		const struct kh_sigv4_header *h = &req->headers[i];
		if (h->name.len == 0)
			return false;
		for (size_t j = 0; j < h->name.len; j++)
			if (!is_tchar(h->name.ptr[j]))
				return false;
		for (size_t j = 0; j < h->value.len; j++)
			if (h->value.ptr[j] == '\0' || h->value.ptr[j] == '\r' ||
			    h->value.ptr[j] == '\n')
				return false;
		header_bytes += h->name.len + h->value.len;
		if (header_bytes > KH_LIMIT_HEADER_BYTES)
			return false;
	}
	return true;
}

/* ---- "Create a canonical request" ---- */

static kh_rc uri_encode_byte(struct kh_buf *out, uint8_t c)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t *p = NULL;

	if (is_unreserved(c))
		return kh_buf_append_byte(out, c);
	KH_GUARD(kh_buf_extend(out, 3, &p));
	p[0] = '%';
	p[1] = (uint8_t)hex[c >> 4];
	p[2] = (uint8_t)hex[c & 15];
	kh_buf_commit(out, 3);
	return KH_OK;
}

/*
 * CanonicalURI: the path as sent, with "." and ".." segments resolved and empty segments
 * dropped (a trailing '/' kept), then UriEncode'd except '/'. What AWS's own signers do for
 * every service but S3 (and what the test suite's get-slash*, get-relative* and get-utf8
 * expect); a path that was percent-encoded on the wire is thus encoded twice.
 */
static kh_rc canonical_uri(struct kh_slice path, struct kh_buf *out)
{
	size_t start = out->len;
	struct kh_slice rest = KH_SLICE(path.ptr + 1, path.len - 1);
	bool more = true;

	while (more) {
		struct kh_slice seg;
		more = split_at(&rest, '/', &seg);
		if (seg.len == 0 || slice_is_cstr(seg, "."))
			continue;
		if (slice_is_cstr(seg, "..")) {
			size_t n = out->len;
			while (n > start && out->ptr[n - 1] != '/')
				n--;
			kh_buf_truncate(out, n > start ? n - 1 : start);
			continue;
		}
		KH_GUARD(kh_buf_append_byte(out, '/'));
		for (size_t i = 0; i < seg.len; i++)
			KH_GUARD(uri_encode_byte(out, seg.ptr[i]));
	}
	if (out->len == start || path.ptr[path.len - 1] == '/')
		KH_GUARD(kh_buf_append_byte(out, '/'));
	return KH_OK;
}

/* Percent-decodes s (strictly: '%' takes two hex digits) and UriEncodes each byte again. */
static kh_rc query_part_encode(struct kh_slice s, struct kh_buf *out)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];
		if (c == '%') {
			int hi = i + 2 < s.len ? kh_hex_digit(s.ptr[i + 1]) : -1;
			int lo = hi >= 0 ? kh_hex_digit(s.ptr[i + 2]) : -1;
			KH_ENSURE(lo >= 0, KH_ERR_BAD_INPUT);
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		KH_GUARD(uri_encode_byte(out, c));
	}
	return KH_OK;
}

struct qparam {
	size_t off;
	struct kh_slice name, value; /* set once the encoded buffer stops moving */
	size_t name_len, value_len;
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a;
	const struct qparam *y = b;
	int c = slice_cmp(x->name, y->name);
	return c != 0 ? c : slice_cmp(x->value, y->value);
}

/* Encodes each parameter into enc and records where it is. */
static kh_rc query_collect(struct kh_slice q, struct kh_buf *enc, struct qparam *params,
                           size_t *out_count)
{
	size_t count = 0;
	bool more = q.len > 0;

	while (more) {
		struct kh_slice pair, name;
		more = split_at(&q, '&', &pair);
		if (pair.len == 0)
			continue;
		KH_ENSURE(count < KH_LIMIT_SIGV4_QUERY_PARAMS, KH_ERR_TOO_LARGE);
		split_at(&pair, '=', &name);
		params[count].off = enc->len;
		KH_GUARD(query_part_encode(name, enc));
		params[count].name_len = enc->len - params[count].off;
		KH_GUARD(query_part_encode(pair, enc));
		params[count].value_len = enc->len - params[count].off - params[count].name_len;
		count++;
	}
	*out_count = count;
	return KH_OK;
}

/* CanonicalQueryString: name=value pairs, each part UriEncoded, sorted by name then value,
 * joined with '&'; a parameter without '=' has an empty value. */
static kh_rc canonical_query(struct kh_slice q, struct kh_buf *out)
{
	kh_rc rc = KH_OK;
	struct kh_buf enc;
	struct qparam *params = kh_calloc(KH_LIMIT_SIGV4_QUERY_PARAMS, sizeof(*params));
	size_t count = 0;

	kh_buf_init(&enc, QUERY_ENCODED_MAX, KH_BUF_PLAIN);
	KH_ENSURE_OUT(params != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(query_collect(q, &enc, params, &count));
	for (size_t i = 0; i < count; i++) {
		params[i].name = KH_SLICE(enc.ptr + params[i].off, params[i].name_len);
		params[i].value =
		    KH_SLICE(params[i].name.ptr + params[i].name_len, params[i].value_len);
	}
	if (count > 1)
		qsort(params, count, sizeof(*params), qparam_cmp);
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			KH_GUARD_OUT(kh_buf_append_byte(out, '&'));
		KH_GUARD_OUT(kh_buf_append(out, params[i].name));
		KH_GUARD_OUT(kh_buf_append_byte(out, '='));
		KH_GUARD_OUT(kh_buf_append(out, params[i].value));
	}
out:
	kh_buf_cleanup(&enc);
	kh_free(&params);
	return rc;
}

/* Trimall: the value without surrounding whitespace, inner runs of it as one space. */
static kh_rc header_value_append(struct kh_slice v, struct kh_buf *out)
{
	bool space = false;
	v = trim_ows(v);
	for (size_t i = 0; i < v.len; i++) {
		if (is_ows(v.ptr[i])) {
			space = true;
			continue;
		}
		if (space)
			KH_GUARD(kh_buf_append_byte(out, ' '));
		space = false;
		KH_GUARD(kh_buf_append_byte(out, v.ptr[i]));
	}
	return KH_OK;
}

/* SignedHeaders: 1..KH_LIMIT_SIGV4_SIGNED_HEADERS lower-case tokens, strictly ascending. */
static bool signed_list_ok(struct kh_slice list)
{
	struct kh_slice prev = KH_SLICE_EMPTY;
	size_t count = 0;
	bool more = true;

	while (more) {
		struct kh_slice name;
		more = split_at(&list, ';', &name);
		if (name.len == 0 || ++count > KH_LIMIT_SIGV4_SIGNED_HEADERS)
			return false;
		for (size_t i = 0; i < name.len; i++)
			if (!is_tchar(name.ptr[i]) || to_lower(name.ptr[i]) != name.ptr[i])
				return false;
		if (count > 1 && slice_cmp(prev, name) >= 0)
			return false;
		prev = name;
	}
	return true;
}

/* CanonicalHeaders: "name:value\n" for each signed name, in the list's (sorted) order. */
static kh_rc canonical_headers(const struct kh_sigv4_request *req, struct kh_slice list,
                               struct kh_buf *out, enum kh_sigv4_reason *why)
{
	bool more = true;
	while (more) {
		struct kh_slice name;
		size_t n = 0;
		more = split_at(&list, ';', &name);
		KH_GUARD(kh_buf_append(out, name));
		KH_GUARD(kh_buf_append_byte(out, ':'));
		for (size_t i = 0; i < req->header_count; i++) {
			if (!name_eq(req->headers[i].name, name))
				continue;
			if (n++ > 0)
				KH_GUARD(kh_buf_append_byte(out, ','));
			KH_GUARD(header_value_append(req->headers[i].value, out));
		}
		if (n == 0) {
			*why = KH_SIGV4_SIGNED_HEADER_ABSENT;
			return KH_ERR_BAD_INPUT;
		}
		KH_GUARD(kh_buf_append_byte(out, '\n'));
	}
	return KH_OK;
}

static kh_rc hex_sha256_append(struct kh_slice in, struct kh_buf *out)
{
	uint8_t md[MAC_LEN];
	KH_GUARD(kh_hash(KH_HASH_SHA256, in, md, sizeof(md)));
	return kh_hex_encode(KH_SLICE(md, sizeof(md)), out);
}

/* The request and list are checked by the caller. */
static kh_rc canonical_build(const struct kh_sigv4_request *req, struct kh_slice list,
                             struct kh_buf *out, enum kh_sigv4_reason *why)
{
	*why = KH_SIGV4_BAD_REQUEST;
	KH_GUARD(kh_buf_append(out, req->method));
	KH_GUARD(kh_buf_append_byte(out, '\n'));
	KH_GUARD(canonical_uri(req->raw_path, out));
	KH_GUARD(kh_buf_append_byte(out, '\n'));
	KH_GUARD(canonical_query(req->raw_query, out));
	KH_GUARD(kh_buf_append_byte(out, '\n'));
	KH_GUARD(canonical_headers(req, list, out, why));
	KH_GUARD(kh_buf_append_byte(out, '\n'));
	KH_GUARD(kh_buf_append(out, list));
	KH_GUARD(kh_buf_append_byte(out, '\n'));
	return hex_sha256_append(req->body, out);
}

/* Builds at the end of out; on failure out is as it was. */
static kh_rc canonical(const struct kh_sigv4_request *req, struct kh_slice list, struct kh_buf *out,
                       enum kh_sigv4_reason *why)
{
	size_t start = out->len;
	kh_rc rc = canonical_build(req, list, out, why);
	if (rc != KH_OK)
		kh_buf_truncate(out, start);
	return rc;
}

kh_rc kh_sigv4_canonical_request(const struct kh_sigv4_request *req, struct kh_slice signed_headers,
                                 struct kh_buf *out)
{
	enum kh_sigv4_reason why;
	KH_ENSURE(req != NULL && out != NULL, KH_ERR_INTERNAL);
	KH_ENSURE(request_ok(req) && signed_list_ok(signed_headers), KH_ERR_BAD_INPUT);
	return canonical(req, signed_headers, out, &why);
}

/* ---- "Create a string to sign" ---- */

kh_rc kh_sigv4_string_to_sign(struct kh_slice amz_date, struct kh_slice scope,
                              struct kh_slice canonical_request, struct kh_buf *out)
{
	size_t start;
	kh_rc rc = KH_OK;

	KH_ENSURE(out != NULL, KH_ERR_INTERNAL);
	start = out->len;
	KH_GUARD_OUT(kh_buf_append_cstr(out, KH_SIGV4_ALGORITHM "\n"));
	KH_GUARD_OUT(kh_buf_append(out, amz_date));
	KH_GUARD_OUT(kh_buf_append_byte(out, '\n'));
	KH_GUARD_OUT(kh_buf_append(out, scope));
	KH_GUARD_OUT(kh_buf_append_byte(out, '\n'));
	KH_GUARD_OUT(hex_sha256_append(canonical_request, out));
out:
	if (rc != KH_OK)
		kh_buf_truncate(out, start);
	return rc;
}

/* ---- "Calculate the signature" ---- */

struct scope {
	struct kh_slice date, region, service;
};

/*
 * kSecret = "AWS4" + secret; kDate = HMAC(kSecret, date); kRegion = HMAC(kDate, region);
 * kService = HMAC(kRegion, service); kSigning = HMAC(kService, "aws4_request");
 * mac = HMAC(kSigning, string to sign). Every key lives in one secure block, wiped when freed;
 * mac must be secure memory too (it is the answer a forger wants).
 */
static kh_rc signature_mac(struct kh_slice secret, const struct scope *sc, struct kh_slice sts,
                           uint8_t mac[MAC_LEN])
{
	kh_rc rc = KH_OK;
	size_t ks_len = 4 + secret.len;
	uint8_t *mem = NULL;
	uint8_t *a, *b;

	KH_ENSURE(secret.len > 0 && secret.len <= KH_SIGV4_SECRET_MAX, KH_ERR_INTERNAL);
	mem = kh_secure_alloc(ks_len + 2 * MAC_LEN);
	KH_ENSURE(mem != NULL, KH_ERR_NOMEM);
	a = mem + ks_len;
	b = a + MAC_LEN;
	memcpy(mem, "AWS4", 4);
	memcpy(mem + 4, secret.ptr, secret.len);
	KH_GUARD_OUT(kh_hmac(KH_HASH_SHA256, KH_SLICE(mem, ks_len), sc->date, a, MAC_LEN));
	KH_GUARD_OUT(kh_hmac(KH_HASH_SHA256, KH_SLICE(a, MAC_LEN), sc->region, b, MAC_LEN));
	KH_GUARD_OUT(kh_hmac(KH_HASH_SHA256, KH_SLICE(b, MAC_LEN), sc->service, a, MAC_LEN));
	KH_GUARD_OUT(kh_hmac(KH_HASH_SHA256, KH_SLICE(a, MAC_LEN), KH_SLICE_LIT(SCOPE_TERMINATOR),
	                     b, MAC_LEN));
	KH_GUARD_OUT(kh_hmac(KH_HASH_SHA256, KH_SLICE(b, MAC_LEN), sts, mac, MAC_LEN));
out:
	kh_secure_free(&mem);
	return rc;
}

/* ---- the Authorization and X-Amz-Date headers ---- */

struct auth {
	struct kh_slice ak;
	struct scope sc;
	struct kh_slice scope; /* "date/region/service/aws4_request" as sent */
	struct kh_slice signed_headers;
	struct kh_slice signature;
};

static bool all_chars(struct kh_slice s, size_t min, size_t max, bool (*ok)(uint8_t))
{
	if (s.len < min || s.len > max)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!ok(s.ptr[i]))
			return false;
	return true;
}

static bool is_visible(uint8_t c)
{
	return c > 0x20 && c < 0x7f;
}

static bool is_region_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
}

static bool is_lower_hex(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

/* Credential=<access key id>/<yyyymmdd>/<region>/<service>/aws4_request */
static bool credential_parse(struct kh_slice v, struct auth *a)
{
	struct kh_slice rest = v;
	struct kh_slice term;

	if (!split_at(&rest, '/', &a->ak))
		return false;
	a->scope = rest;
	if (!split_at(&rest, '/', &a->sc.date) || !split_at(&rest, '/', &a->sc.region) ||
	    !split_at(&rest, '/', &a->sc.service) || split_at(&rest, '/', &term))
		return false;
	return all_chars(a->ak, 1, KH_SIGV4_ACCESS_KEY_MAX, is_visible) &&
	       all_chars(a->sc.date, 8, 8, is_digit) &&
	       all_chars(a->sc.region, 1, KH_SIGV4_REGION_MAX, is_region_char) &&
	       all_chars(a->sc.service, 1, SERVICE_MAX, is_visible) &&
	       slice_is_cstr(term, SCOPE_TERMINATOR);
}

enum {
	P_CREDENTIAL,
	P_SIGNED_HEADERS,
	P_SIGNATURE,
	P_COUNT
};
static const char *const param_names[P_COUNT] = {"Credential", "SignedHeaders", "Signature"};

/* "Name=value" pairs separated by ',' and optional spaces; each name exactly once. */
static bool auth_params(struct kh_slice rest, struct kh_slice values[P_COUNT])
{
	bool seen[P_COUNT] = {false, false, false};

	while (rest.len > 0) {
		struct kh_slice pair, name;
		size_t p = 0;
		bool comma = split_at(&rest, ',', &pair);
		if (!split_at(&pair, '=', &name))
			return false;
		while (p < P_COUNT && !slice_is_cstr(name, param_names[p]))
			p++;
		if (p == P_COUNT || seen[p] || pair.len == 0)
			return false;
		seen[p] = true;
		values[p] = pair;
		while (comma && rest.len > 0 && rest.ptr[0] == ' ') {
			rest.ptr++;
			rest.len--;
		}
		if (comma && rest.len == 0)
			return false; /* a trailing comma */
	}
	return seen[P_CREDENTIAL] && seen[P_SIGNED_HEADERS] && seen[P_SIGNATURE];
}

/* AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=... (any order of the three) */
static enum kh_sigv4_reason auth_parse(struct kh_slice v, struct auth *a)
{
	struct kh_slice alg = KH_SLICE_LIT(KH_SIGV4_ALGORITHM);
	struct kh_slice values[P_COUNT];

	if (v.len <= alg.len || memcmp(v.ptr, alg.ptr, alg.len) != 0 || v.ptr[alg.len] != ' ')
		return KH_SIGV4_BAD_AUTHORIZATION;
	v.ptr += alg.len;
	v.len -= alg.len;
	v = trim_ows(v);
	if (!auth_params(v, values))
		return KH_SIGV4_BAD_AUTHORIZATION;
	if (!credential_parse(values[P_CREDENTIAL], a))
		return KH_SIGV4_BAD_CREDENTIAL;
	if (!signed_list_ok(values[P_SIGNED_HEADERS]))
		return KH_SIGV4_BAD_SIGNED_HEADERS;
	if (!all_chars(values[P_SIGNATURE], 2 * MAC_LEN, 2 * MAC_LEN, is_lower_hex))
		return KH_SIGV4_BAD_SIGNATURE_FORMAT;
	a->signed_headers = values[P_SIGNED_HEADERS];
	a->signature = values[P_SIGNATURE];
	return KH_SIGV4_OK;
}

static int64_t digits(const uint8_t *p, size_t n)
{
	int64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* yyyymmddThhmmssZ (ISO 8601 basic, UTC), a real date from 1970 to 2261 (int64 ns). */
static bool amz_date_parse(struct kh_slice v, int64_t *out_ns)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const uint8_t *p = v.ptr;
	int64_t y, mo, d, h, mi, s;
	bool leap;

	if (v.len != KH_SIGV4_AMZ_DATE_LEN || p[8] != 'T' || p[15] != 'Z' ||
	    !all_chars(KH_SLICE(p, 8), 8, 8, is_digit) ||
	    !all_chars(KH_SLICE(p + 9, 6), 6, 6, is_digit))
		return false;
	y = digits(p, 4);
	mo = digits(p + 4, 2);
	d = digits(p + 6, 2);
	h = digits(p + 9, 2);
	mi = digits(p + 11, 2);
	s = digits(p + 13, 2);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || s > 59)
		return false;
	*out_ns =
	    ((days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + s) * INT64_C(1000000000);
	return true;
}

static bool list_has(struct kh_slice list, const char *name)
{
	bool more = true;
	while (more) {
		struct kh_slice n;
		more = split_at(&list, ';', &n);
		if (slice_is_cstr(n, name))
			return true;
	}
	return false;
}

static bool within_skew(int64_t t_ns, const struct kh_sigv4_policy *policy)
{
	int64_t max = policy->max_skew_ns != 0 ? policy->max_skew_ns : KH_SIGV4_DEFAULT_SKEW_NS;
	int64_t diff;
	if (__builtin_sub_overflow(policy->now_ns, t_ns, &diff))
		return false;
	return diff <= max && diff >= -max;
}

/* Everything that needs no crypto: the request's form, the two headers, scope and time. */
static enum kh_sigv4_reason check_form(const struct kh_sigv4_policy *policy,
                                       const struct kh_sigv4_request *req, struct auth *a,
                                       struct kh_slice *out_amz_date, int64_t *out_t_ns)
{
	struct kh_slice v = KH_SLICE_EMPTY;
	enum kh_sigv4_reason why;

	if (!request_ok(req) || header_find(req, "host", &v) > 1)
		return KH_SIGV4_BAD_REQUEST;
	if (header_find(req, "authorization", &v) != 1)
		return KH_SIGV4_NO_AUTHORIZATION;
	why = auth_parse(v, a);
	if (why != KH_SIGV4_OK)
		return why;
	if (header_find(req, "x-amz-date", out_amz_date) != 1 ||
	    !amz_date_parse(*out_amz_date, out_t_ns))
		return KH_SIGV4_BAD_DATE;
	if (memcmp(out_amz_date->ptr, a->sc.date.ptr, 8) != 0)
		return KH_SIGV4_DATE_MISMATCH;
	if (!slice_is_cstr(a->sc.service, policy->service))
		return KH_SIGV4_WRONG_SERVICE;
	if (policy->region != NULL && !slice_is_cstr(a->sc.region, policy->region))
		return KH_SIGV4_WRONG_REGION;
	if (!within_skew(*out_t_ns, policy))
		return KH_SIGV4_CLOCK_SKEW;
	if (!list_has(a->signed_headers, "host") || !list_has(a->signed_headers, "x-amz-date"))
		return KH_SIGV4_UNSIGNED_REQUIRED;
	return KH_SIGV4_OK;
}

static void identity_fill(const struct auth *a, int64_t t_ns, struct kh_sigv4_identity *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->access_key_id, a->ak.ptr, a->ak.len);
	memcpy(out->region, a->sc.region.ptr, a->sc.region.len);
	memcpy(out->date, a->sc.date.ptr, 8);
	out->time_ns = t_ns;
}

/* Builds the string to sign into sts; a request the canonical form refuses is the peer's. */
static kh_rc verify_sts(const struct kh_sigv4_request *req, const struct auth *a,
                        struct kh_slice amz_date, struct kh_buf *sts, enum kh_sigv4_reason *why)
{
	kh_rc rc = KH_OK;
	struct kh_buf canon;

	kh_buf_init(&canon, KH_LIMIT_SIGV4_CANONICAL_BYTES, KH_BUF_PLAIN);
	rc = canonical(req, a->signed_headers, &canon, why);
	if (rc == KH_ERR_BAD_INPUT || rc == KH_ERR_TOO_LARGE)
		rc = KH_ERR_UNAUTHENTICATED;
	KH_GUARD_OUT(rc);
	KH_GUARD_OUT(kh_sigv4_string_to_sign(amz_date, a->scope, kh_buf_slice(&canon), sts));
out:
	kh_buf_cleanup(&canon);
	return rc;
}

/* Looks the secret up and compares the signature; *why is set on a mismatch. */
static kh_rc verify_mac(const struct auth *a, struct kh_slice sts, kh_sigv4_lookup_fn lookup,
                        void *arg, enum kh_sigv4_reason *why)
{
	kh_rc rc = KH_OK;
	struct kh_buf secret;
	uint8_t presented[MAC_LEN];
	uint8_t *mac = kh_secure_alloc(MAC_LEN);

	kh_buf_init(&secret, KH_SIGV4_SECRET_MAX, KH_BUF_SECURE);
	KH_ENSURE_OUT(mac != NULL, KH_ERR_NOMEM);
	rc = lookup(arg, a->ak, &secret);
	if (rc == KH_ERR_NOT_FOUND || (rc == KH_OK && secret.len == 0)) {
		*why = KH_SIGV4_UNKNOWN_ACCESS_KEY;
		rc = KH_ERR_UNAUTHENTICATED;
	}
	KH_GUARD_OUT(rc);
	KH_GUARD_OUT(signature_mac(kh_buf_slice(&secret), &a->sc, sts, mac));
	for (size_t i = 0; i < MAC_LEN; i++)
		presented[i] = (uint8_t)(kh_hex_digit(a->signature.ptr[2 * i]) << 4 |
		                         kh_hex_digit(a->signature.ptr[2 * i + 1]));
	if (!kh_ct_eq(KH_SLICE(mac, MAC_LEN), KH_SLICE(presented, MAC_LEN))) {
		*why = KH_SIGV4_SIGNATURE_MISMATCH;
		rc = KH_ERR_UNAUTHENTICATED;
	}
out:
	kh_secure_free(&mac);
	kh_buf_cleanup(&secret);
	return rc;
}

kh_rc kh_sigv4_verify(const struct kh_sigv4_policy *policy, const struct kh_sigv4_request *req,
                      kh_sigv4_lookup_fn lookup, void *arg, struct kh_sigv4_identity *out,
                      enum kh_sigv4_reason *out_reason)
{
	kh_rc rc = KH_OK;
	enum kh_sigv4_reason why = KH_SIGV4_BAD_REQUEST;
	struct auth a;
	struct kh_slice amz_date = KH_SLICE_EMPTY;
	int64_t t_ns = 0;
	struct kh_buf sts;

	kh_buf_init(&sts, 256, KH_BUF_PLAIN);
	KH_ENSURE_OUT(policy != NULL && policy->service != NULL && policy->max_skew_ns >= 0 &&
	                  req != NULL && lookup != NULL && out != NULL,
	              KH_ERR_INTERNAL);
	memset(&a, 0, sizeof(a));
	why = check_form(policy, req, &a, &amz_date, &t_ns);
	KH_ENSURE_OUT(why == KH_SIGV4_OK, KH_ERR_UNAUTHENTICATED);
	KH_GUARD_OUT(verify_sts(req, &a, amz_date, &sts, &why));
	KH_GUARD_OUT(verify_mac(&a, kh_buf_slice(&sts), lookup, arg, &why));
	identity_fill(&a, t_ns, out);
	why = KH_SIGV4_OK;
out:
	kh_buf_cleanup(&sts);
	if (out_reason != NULL)
		*out_reason = why;
	return rc;
}

/* ---- the signer ---- */

static int slice_qcmp(const void *a, const void *b)
{
	return slice_cmp(*(const struct kh_slice *)a, *(const struct kh_slice *)b);
}

/* SignedHeaders for every header of req but Authorization: lower-cased, sorted, distinct. */
static kh_rc sign_list(const struct kh_sigv4_request *req, struct kh_buf *lower,
                       struct kh_buf *list)
{
	struct kh_slice names[KH_LIMIT_SIGV4_HEADERS];
	size_t n = 0;
	size_t total = 0;

	for (size_t i = 0; i < req->header_count; i++)
		total += req->headers[i].name.len;
	KH_GUARD(kh_buf_reserve(lower, total)); /* so the slices below never move */
	for (size_t i = 0; i < req->header_count; i++) {
		struct kh_slice name = req->headers[i].name;
		size_t off = lower->len;
		if (name_eq(name, KH_SLICE_LIT("authorization")))
			continue;
		for (size_t j = 0; j < name.len; j++)
			KH_GUARD(kh_buf_append_byte(lower, to_lower(name.ptr[j])));
		names[n++] = KH_SLICE(lower->ptr + off, name.len);
	}
	if (n > 1)
		qsort(names, n, sizeof(names[0]), slice_qcmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && kh_slice_eq(names[i], names[i - 1]))
			continue;
		if (i > 0)
			KH_GUARD(kh_buf_append_byte(list, ';'));
		KH_GUARD(kh_buf_append(list, names[i]));
	}
	KH_ENSURE(signed_list_ok(kh_buf_slice(list)), KH_ERR_BAD_INPUT);
	return KH_OK;
}

static bool credential_ok(const struct kh_sigv4_credential *c)
{
	return c->region != NULL && c->service != NULL &&
	       all_chars(c->access_key_id, 1, KH_SIGV4_ACCESS_KEY_MAX, is_visible) &&
	       memchr(c->access_key_id.ptr, '/', c->access_key_id.len) == NULL &&
	       memchr(c->access_key_id.ptr, ',', c->access_key_id.len) == NULL &&
	       all_chars(kh_slice_from_cstr(c->region), 1, KH_SIGV4_REGION_MAX, is_region_char) &&
	       all_chars(kh_slice_from_cstr(c->service), 1, SERVICE_MAX, is_visible) &&
	       strchr(c->service, '/') == NULL && c->secret.len > 0 &&
	       c->secret.len <= KH_SIGV4_SECRET_MAX;
}

/* Appends "AWS4-HMAC-SHA256 Credential=<ak>/<scope>, SignedHeaders=<list>, Signature=<hex>". */
static kh_rc sign_header(const struct kh_sigv4_credential *cred, struct kh_slice scope,
                         struct kh_slice list, const uint8_t *mac, struct kh_buf *out)
{
	KH_GUARD(kh_buf_append_cstr(out, KH_SIGV4_ALGORITHM " Credential="));
	KH_GUARD(kh_buf_append(out, cred->access_key_id));
	KH_GUARD(kh_buf_append_byte(out, '/'));
	KH_GUARD(kh_buf_append(out, scope));
	KH_GUARD(kh_buf_append_cstr(out, ", SignedHeaders="));
	KH_GUARD(kh_buf_append(out, list));
	KH_GUARD(kh_buf_append_cstr(out, ", Signature="));
	return kh_hex_encode(KH_SLICE(mac, MAC_LEN), out);
}

kh_rc kh_sigv4_sign(const struct kh_sigv4_credential *cred, const struct kh_sigv4_request *req,
                    struct kh_buf *out_authorization)
{
	kh_rc rc = KH_OK;
	enum kh_sigv4_reason why;
	struct kh_buf lower, list, scope, canon, sts;
	struct kh_slice amz_date = KH_SLICE_EMPTY, host;
	struct scope sc;
	int64_t t_ns;
	uint8_t *mac = NULL;
	size_t start = out_authorization != NULL ? out_authorization->len : 0;

	kh_buf_init(&lower, KH_LIMIT_HEADER_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&list, KH_LIMIT_HEADER_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&scope, 256, KH_BUF_PLAIN);
	kh_buf_init(&canon, KH_LIMIT_SIGV4_CANONICAL_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&sts, 256, KH_BUF_PLAIN);
	KH_ENSURE_OUT(cred != NULL && req != NULL && out_authorization != NULL, KH_ERR_INTERNAL);
	KH_ENSURE_OUT(credential_ok(cred) && request_ok(req), KH_ERR_BAD_INPUT);
	KH_ENSURE_OUT(header_find(req, "x-amz-date", &amz_date) == 1 &&
	                  amz_date_parse(amz_date, &t_ns) && header_find(req, "host", &host) == 1,
	              KH_ERR_BAD_INPUT);
	KH_GUARD_OUT(sign_list(req, &lower, &list));
	sc = (struct scope){KH_SLICE(amz_date.ptr, 8), kh_slice_from_cstr(cred->region),
	                    kh_slice_from_cstr(cred->service)};
	KH_GUARD_OUT(kh_buf_append(&scope, sc.date));
	KH_GUARD_OUT(kh_buf_append_byte(&scope, '/'));
	KH_GUARD_OUT(kh_buf_append(&scope, sc.region));
	KH_GUARD_OUT(kh_buf_append_byte(&scope, '/'));
	KH_GUARD_OUT(kh_buf_append(&scope, sc.service));
	KH_GUARD_OUT(kh_buf_append_cstr(&scope, "/" SCOPE_TERMINATOR));
	KH_GUARD_OUT(canonical(req, kh_buf_slice(&list), &canon, &why));
	KH_GUARD_OUT(
	    kh_sigv4_string_to_sign(amz_date, kh_buf_slice(&scope), kh_buf_slice(&canon), &sts));
	mac = kh_secure_alloc(MAC_LEN);
	KH_ENSURE_OUT(mac != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(signature_mac(cred->secret, &sc, kh_buf_slice(&sts), mac));
	KH_GUARD_OUT(
	    sign_header(cred, kh_buf_slice(&scope), kh_buf_slice(&list), mac, out_authorization));
out:
	if (rc != KH_OK && out_authorization != NULL)
		kh_buf_truncate(out_authorization, start);
	kh_secure_free(&mac);
	kh_buf_cleanup(&lower);
	kh_buf_cleanup(&list);
	kh_buf_cleanup(&scope);
	kh_buf_cleanup(&canon);
	kh_buf_cleanup(&sts);
	return rc;
}
