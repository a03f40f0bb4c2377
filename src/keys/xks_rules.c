// SPDX-License-Identifier: Apache-2.0
/*
 * XKS key stores: the rules values must follow (kh_keys_xks.h), the matcher of AWS principal
 * patterns, and the store and key rows as read from storage (checked like any input).
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "keys/kh_keys_xks_int.h"
#include "store/kh_store_xks.h"

/* ---- rules ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* XKS.md "Routing": 1-117 of [A-Za-z0-9/_-]; no leading or trailing '/', no "//". */
bool kh_xks_prefix_valid(const char *s)
{
	if (s == NULL)
		return false;
	size_t n = strnlen(s, KH_XKS_PREFIX_MAX + 1);
	if (n == 0 || n > KH_XKS_PREFIX_MAX || s[0] == '/' || s[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!is_alnum(c) && c != '/' && c != '_' && c != '-')
			return false;
		if (c == '/' && s[i + 1] == '/')
			return false;
	}
	return true;
}

bool kh_xks_region_valid(const char *s)
{
	if (s == NULL)
		return true;
	size_t n = strnlen(s, KH_XKS_REGION_MAX + 1);
	if (n > KH_XKS_REGION_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

/* XKS.md "Routing": 1-128 of [A-Za-z0-9._-]. */
bool kh_xks_external_id_valid(const char *s)
{
	return kh_name_valid(s, KH_XKS_EXTERNAL_KEY_ID_MAX);
}

/* XKS.md "Authentication": 20-30 of [A-Z2-7]. */
bool kh_xks_access_key_valid(struct kh_slice s)
{
	if (s.ptr == NULL || s.len < KH_XKS_ACCESS_KEY_LEN || s.len > KH_XKS_ACCESS_KEY_MAX)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.ptr[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7')))
			return false;
	}
	return true;
}

kh_rc kh_xks_patterns_check(const char *list)
{
	if (list == NULL || list[0] == '\0')
		return KH_OK;
	size_t total = strnlen(list, KH_XKS_PATTERN_LIST_MAX + 1);
	KH_ENSURE(total <= KH_XKS_PATTERN_LIST_MAX, KH_ERR_BAD_INPUT);
	unsigned count = 0;
	size_t len = 0;
	for (size_t i = 0; i <= total; i++) {
		char c = list[i];
		if (c == '\n' || c == '\0') {
			/* An empty pattern (a leading, trailing or doubled '\n') matches nothing
			 * and is a mistake. */
			KH_ENSURE(len > 0 && len <= KH_XKS_PATTERN_MAX, KH_ERR_BAD_INPUT);
			KH_ENSURE(++count <= KH_XKS_PATTERNS_MAX, KH_ERR_BAD_INPUT);
			len = 0;
			continue;
		}
		/* Visible ASCII: no spaces, no controls, nothing beyond 0x7e. */
		KH_ENSURE(c > 0x20 && c < 0x7f, KH_ERR_BAD_INPUT);
		len++;
	}
	return KH_OK;
}

/* First position of needle in hay from `from` on, or SIZE_MAX. */
static size_t find(struct kh_slice hay, size_t from, struct kh_slice needle)
{
	if (needle.len > hay.len)
		return SIZE_MAX;
	for (size_t i = from; i + needle.len <= hay.len; i++) {
		if (memcmp(hay.ptr + i, needle.ptr, needle.len) == 0)
			return i;
	}
	return SIZE_MAX;
}

/*
 * A pattern is literal pieces separated by '*'. The first piece must start the value, the last
 * must end it, and those between must appear in order, each taken at its leftmost place: if the
 * rest can match after any place, it can after the leftmost one, so nothing is ever retried.
 * At most len(pattern) searches of the value: no backtracking blow-up whatever the stars.
 */
bool kh_keys_xks_pattern_match(struct kh_slice pattern, struct kh_slice value)
{
	const uint8_t *star = pattern.len > 0 ? memchr(pattern.ptr, '*', pattern.len) : NULL;
	if (star == NULL)
		return kh_slice_eq(pattern, value);
	size_t head = (size_t)(star - pattern.ptr);
	size_t last_star = pattern.len;
	while (pattern.ptr[last_star - 1] != '*')
		last_star--;
	size_t tail = pattern.len - last_star;
	if (head + tail > value.len || memcmp(pattern.ptr, value.ptr, head) != 0 ||
	    memcmp(pattern.ptr + last_star, value.ptr + value.len - tail, tail) != 0)
		return false;
	struct kh_slice middle = KH_SLICE(value.ptr + head, value.len - head - tail);
	size_t pos = 0;
	size_t i = head + 1;
	while (i < last_star) {
		size_t j = i;
		while (pattern.ptr[j] != '*')
			j++;
		if (j > i) {
			struct kh_slice piece = KH_SLICE(pattern.ptr + i, j - i);
			size_t at = find(middle, pos, piece);
			if (at == SIZE_MAX)
				return false;
			pos = at + piece.len;
		}
		i = j + 1;
	}
	return true;
}

bool kh_xks_patterns_match(const char *list, const char *value)
{
	struct kh_slice v = kh_slice_from_cstr(value != NULL ? value : "");
	const char *p = list;
	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '\n');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		if (len > 0 && kh_keys_xks_pattern_match(KH_SLICE(p, len), v))
			return true;
		p = end != NULL ? end + 1 : NULL;
	}
	return false;
}

void kh_xks_secret_scope(int64_t store_id, struct kh_slice access_key_id, char *out, size_t out_len)
{
	int n = access_key_id.len <= KH_XKS_ACCESS_KEY_MAX ? (int)access_key_id.len : 0;
	snprintf(out, out_len, "xks/%lld/%.*s", (long long)store_id, n,
	         (const char *)access_key_id.ptr);
}

/* ---- rows ---- */

static kh_rc flag_col(struct kh_store_rows *rows, unsigned col, bool *out)
{
	int64_t v = 0;
	KH_GUARD(kh_store_rows_int(rows, col, &v));
	KH_ENSURE(v == 0 || v == 1, KH_ERR_STORAGE);
	*out = v == 1;
	return KH_OK;
}

static kh_rc count_col(struct kh_store_rows *rows, unsigned col, unsigned max, unsigned *out)
{
	int64_t v = 0;
	KH_GUARD(kh_store_rows_int(rows, col, &v));
	KH_ENSURE(v >= 0 && v <= max, KH_ERR_STORAGE);
	*out = (unsigned)v;
	return KH_OK;
}

kh_rc kh_xks_store_decode(struct kh_store_rows *rows, struct kh_xks_store_info *out)
{
	struct kh_xks_store_info s = {0};
	KH_GUARD(kh_store_rows_int(rows, KH_QXS_ID, &s.id));
	KH_GUARD(kh_store_rows_int(rows, KH_QXS_KEYSTORE_ID, &s.keystore_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QXS_PREFIX, s.prefix, sizeof(s.prefix)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QXS_REGION, s.region, sizeof(s.region)));
	KH_GUARD(flag_col(rows, KH_QXS_SECONDARY_AUTH, &s.secondary_auth));
	KH_GUARD(flag_col(rows, KH_QXS_ENABLED, &s.enabled));
	KH_GUARD(count_col(rows, KH_QXS_QUOTA_RPS, KH_XKS_QUOTA_MAX, &s.quota_rps));
	KH_GUARD(kh_store_rows_int(rows, KH_QXS_CREATED_AT, &s.created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QXS_UPDATED_AT, &s.updated_at));
	KH_GUARD(count_col(rows, KH_QXS_CREDENTIAL_COUNT, UINT32_MAX, &s.credential_count));
	KH_GUARD(count_col(rows, KH_QXS_KEY_COUNT, UINT32_MAX, &s.key_count));
	KH_ENSURE(kh_xks_prefix_valid(s.prefix) && kh_xks_region_valid(s.region), KH_ERR_STORAGE);
	*out = s;
	return KH_OK;
}

static kh_rc store_load_by(struct kh_store_tx *tx, const struct kh_store_query *q,
                           struct kh_store_val v, struct kh_xks_store_info *out)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_GUARD(kh_store_query_one(tx, q, &v, 1, &rows, &found));
	kh_rc rc = found ? kh_xks_store_decode(rows, out) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}

kh_rc kh_xks_store_load(struct kh_store_tx *tx, int64_t id, struct kh_xks_store_info *out)
{
	return store_load_by(tx, &kh_q_xks_store_get, KH_SV_INT(id), out);
}

kh_rc kh_xks_store_load_prefix(struct kh_store_tx *tx, const char *prefix,
                               struct kh_xks_store_info *out)
{
	KH_ENSURE(kh_xks_prefix_valid(prefix), KH_ERR_NOT_FOUND);
	return store_load_by(tx, &kh_q_xks_store_by_prefix, KH_SV_TEXT(prefix), out);
}

kh_rc kh_xks_key_decode(struct kh_store_rows *rows, struct kh_xks_key_info *out,
                        struct kh_xks_key_store *out_store)
{
	int64_t usages = 0, expires = 0;
	bool expires_null = true;
	KH_GUARD(kh_keys_row_decode(rows, &out->key));
	KH_GUARD(kh_store_rows_int(rows, KH_QXK_STORE_ID, &out->store_id));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QXK_EXTERNAL_KEY_ID, out->external_key_id,
	                                 sizeof(out->external_key_id)));
	KH_GUARD(kh_store_rows_int(rows, KH_QXK_USAGES, &usages));
	KH_GUARD(kh_store_rows_int_opt(rows, KH_QXK_EXPIRES_AT, &expires, &expires_null));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QXK_ADMINISTRATORS, out->administrators,
	                                 sizeof(out->administrators)));
	KH_GUARD(kh_store_rows_text_copy(rows, KH_QXK_USERS, out->users, sizeof(out->users)));
	KH_GUARD(kh_store_rows_int(rows, KH_QXK_CREATED_AT, &out->created_at));
	KH_GUARD(kh_store_rows_int(rows, KH_QXK_UPDATED_AT, &out->updated_at));
	KH_GUARD(flag_col(rows, KH_QXK_STORE_ENABLED, &out_store->enabled));
	KH_GUARD(flag_col(rows, KH_QXK_STORE_SECONDARY_AUTH, &out_store->secondary_auth));
	KH_ENSURE(usages >= 0 && usages <= (KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT),
	          KH_ERR_STORAGE);
	KH_ENSURE(expires_null || expires > 0, KH_ERR_STORAGE);
	out->usages = (unsigned)usages;
	out->expires_at = expires_null ? 0 : expires;
	return KH_OK;
}

kh_rc kh_xks_key_load(struct kh_store_tx *tx, int64_t store_id, const char *external_key_id,
                      struct kh_xks_key_info *out, struct kh_xks_key_store *out_store)
{
	struct kh_store_rows *rows = NULL;
	bool found = false;
	KH_ENSURE(kh_xks_external_id_valid(external_key_id), KH_ERR_NOT_FOUND);
	struct kh_store_val v[] = {KH_SV_INT(store_id), KH_SV_TEXT(external_key_id)};
	KH_GUARD(kh_store_query_one(tx, &kh_q_xks_key_get, v, KH_SV_COUNT(v), &rows, &found));
	kh_rc rc = found ? kh_xks_key_decode(rows, out, out_store) : KH_ERR_NOT_FOUND;
	kh_store_rows_close(&rows);
	return rc;
}
