// SPDX-License-Identifier: Apache-2.0
/*
 * Field checks shared by the log, the usage history and the notifications: what callers give
 * is bounded before it is stored, and what the database gives back is bounded and typed again
 * before it reaches a callback (a damaged or hostile file is input too).
 */
#include <string.h>

#include "audit/kh_audit_int.h"

kh_rc kh_audit_field(const char *s, bool required, struct kh_slice *out)
{
	size_t len = s == NULL ? 0 : strnlen(s, KH_AUDIT_FIELD_MAX + 1);
	KH_ENSURE(len <= KH_AUDIT_FIELD_MAX, KH_ERR_TOO_LARGE);
	KH_ENSURE(len > 0 || !required, KH_ERR_BAD_INPUT);
	*out = len == 0 ? KH_SLICE_EMPTY : KH_SLICE(s, len);
	return KH_OK;
}

kh_rc kh_audit_col_text(struct kh_store_rows *rows, unsigned col, bool nullable,
                        struct kh_slice *out)
{
	struct kh_slice s = KH_SLICE_EMPTY;
	bool is_null = false;
	if (nullable)
		KH_GUARD(kh_store_rows_text_opt(rows, col, &s, &is_null));
	else
		KH_GUARD(kh_store_rows_text(rows, col, &s));
	if (is_null)
		s = KH_SLICE_EMPTY;
	KH_ENSURE(s.len <= KH_AUDIT_FIELD_MAX, KH_ERR_STORAGE);
	KH_ENSURE(s.len == 0 || memchr(s.ptr, '\0', s.len) == NULL, KH_ERR_STORAGE);
	*out = s;
	return KH_OK;
}

kh_rc kh_audit_col_int(struct kh_store_rows *rows, unsigned col, bool nullable, int64_t min,
                       int64_t max, int64_t *out)
{
	int64_t v = 0;
	bool is_null = false;
	if (nullable)
		KH_GUARD(kh_store_rows_int_opt(rows, col, &v, &is_null));
	else
		KH_GUARD(kh_store_rows_int(rows, col, &v));
	if (is_null)
		v = 0;
	KH_ENSURE(v >= min && v <= max, KH_ERR_STORAGE);
	*out = v;
	return KH_OK;
}

const char *kh_audit_cstr(struct kh_slice s, char *out)
{
	/* s passed kh_audit_col_text: at most KH_AUDIT_FIELD_MAX bytes. */
	if (s.len > 0)
		memcpy(out, s.ptr, s.len);
	out[s.len] = '\0';
	return out;
}

kh_rc kh_audit_limit(unsigned limit, unsigned max)
{
	KH_ENSURE(limit >= 1 && limit <= max, KH_ERR_BAD_INPUT);
	return KH_OK;
}
