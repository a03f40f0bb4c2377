/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside audit/: the state shared by audit.c (the chained log), usage.c (usage history) and
 * notify.c (notifications), and the field checks all three apply to what they write and to
 * what they read back from the database.
 */
#ifndef KH_AUDIT_INT_H
#define KH_AUDIT_INT_H

#include <pthread.h>

#include "audit/kh_audit.h"

#define KH_AUDIT_KEY_LEN 32u
/* A text field copied out for a callback: the longest field and its NUL. */
#define KH_AUDIT_TEXT_SIZE (KH_AUDIT_FIELD_MAX + 1u)

struct kh_audit {
	struct kh_store *store;
	struct kh_barrier *barrier;
	const struct kh_clock *clock;

	/* Guards the cached audit key. */
	pthread_mutex_t mu;
	uint8_t *key; /* secure, KH_AUDIT_KEY_LEN, allocated by kh_audit_new */
	bool have_key;
	uint64_t seal_count; /* seals seen: a key loaded before a seal is not cached after it */
};

/*
 * A text field given by a caller: NULL is empty. KH_ERR_TOO_LARGE above KH_AUDIT_FIELD_MAX,
 * KH_ERR_BAD_INPUT when required and empty.
 */
KH_MUST_CHECK kh_rc kh_audit_field(const char *s, bool required, struct kh_slice *out);

/*
 * A text column read back: at most KH_AUDIT_FIELD_MAX bytes without NUL, else KH_ERR_STORAGE.
 * With nullable, NULL reads as empty. The slice is borrowed until the next step.
 */
KH_MUST_CHECK kh_rc kh_audit_col_text(struct kh_store_rows *rows, unsigned col, bool nullable,
                                      struct kh_slice *out);
/* An integer column read back within [min, max], else KH_ERR_STORAGE; nullable NULL is 0. */
KH_MUST_CHECK kh_rc kh_audit_col_int(struct kh_store_rows *rows, unsigned col, bool nullable,
                                     int64_t min, int64_t max, int64_t *out);
/* Copies a checked field into out[KH_AUDIT_TEXT_SIZE] and returns it as a C string. */
const char *kh_audit_cstr(struct kh_slice s, char *out);
/* A page size: 1..max, else KH_ERR_BAD_INPUT. */
KH_MUST_CHECK kh_rc kh_audit_limit(unsigned limit, unsigned max);

#endif
