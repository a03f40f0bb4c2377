/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names, messages and classes of result codes: the single table every layer consults.
 */
#include "base/kh_rc.h"

#include <stddef.h>
#include <string.h>

struct rc_info {
	const char *name;
	const char *message;
	enum kh_rc_class cls;
};

static const struct rc_info rc_table[KH_RC_COUNT] = {
    [KH_OK] = {"KH_OK", "success", KH_CLASS_OK},
    [KH_ERR_BAD_INPUT] = {"KH_ERR_BAD_INPUT", "invalid input", KH_CLASS_BAD_INPUT},
    [KH_ERR_BAD_ENCODING] = {"KH_ERR_BAD_ENCODING", "invalid encoding", KH_CLASS_BAD_INPUT},
    [KH_ERR_BAD_KEY] = {"KH_ERR_BAD_KEY", "malformed or unusable key", KH_CLASS_BAD_INPUT},
    [KH_ERR_WRONG_KEY_TYPE] = {"KH_ERR_WRONG_KEY_TYPE", "key type does not support this operation",
                               KH_CLASS_BAD_INPUT},
    [KH_ERR_BAD_SHARE] = {"KH_ERR_BAD_SHARE", "invalid, foreign or duplicate share",
                          KH_CLASS_BAD_INPUT},
    [KH_ERR_UNSUPPORTED_MEDIA] = {"KH_ERR_UNSUPPORTED_MEDIA", "unsupported media type",
                                  KH_CLASS_BAD_INPUT},
    [KH_ERR_TOO_LARGE] = {"KH_ERR_TOO_LARGE", "input exceeds a limit", KH_CLASS_TOO_LARGE},
    [KH_ERR_UNAUTHENTICATED] = {"KH_ERR_UNAUTHENTICATED", "authentication required",
                                KH_CLASS_UNAUTHENTICATED},
    [KH_ERR_FORBIDDEN] = {"KH_ERR_FORBIDDEN", "not allowed", KH_CLASS_FORBIDDEN},
    [KH_ERR_NOT_FOUND] = {"KH_ERR_NOT_FOUND", "not found", KH_CLASS_NOT_FOUND},
    [KH_ERR_CONFLICT] = {"KH_ERR_CONFLICT", "conflicts with the current state", KH_CLASS_CONFLICT},
    [KH_ERR_KEY_DISABLED] = {"KH_ERR_KEY_DISABLED", "the key is disabled", KH_CLASS_CONFLICT},
    [KH_ERR_KEY_PENDING_DELETION] = {"KH_ERR_KEY_PENDING_DELETION",
                                     "the key is scheduled for deletion", KH_CLASS_CONFLICT},
    [KH_ERR_VERSION_DISABLED] = {"KH_ERR_VERSION_DISABLED", "that key version is disabled",
                                 KH_CLASS_CONFLICT},
    [KH_ERR_SEALED] = {"KH_ERR_SEALED", "the service is sealed", KH_CLASS_SEALED},
    [KH_ERR_RATE_LIMITED] = {"KH_ERR_RATE_LIMITED", "too many requests; retry later",
                             KH_CLASS_RATE_LIMITED},
    [KH_ERR_DECRYPT] = {"KH_ERR_DECRYPT", "decryption failed: data or context was altered",
                        KH_CLASS_CRYPTO},
    [KH_ERR_BAD_SIGNATURE] = {"KH_ERR_BAD_SIGNATURE", "signature does not verify", KH_CLASS_CRYPTO},
    [KH_ERR_STORAGE] = {"KH_ERR_STORAGE", "storage failure", KH_CLASS_STORAGE},
    [KH_ERR_NOMEM] = {"KH_ERR_NOMEM", "out of memory", KH_CLASS_NOMEM},
    [KH_ERR_INTERNAL] = {"KH_ERR_INTERNAL", "internal error", KH_CLASS_INTERNAL},
    [KH_ERR_LIBCRYPTO] = {"KH_ERR_LIBCRYPTO", "cryptographic library failure", KH_CLASS_INTERNAL},
};

static const struct rc_info *rc_lookup(kh_rc rc)
{
	if ((unsigned)rc >= (unsigned)KH_RC_COUNT || rc_table[rc].name == NULL)
		return NULL;
	return &rc_table[rc];
}

const char *kh_rc_name(kh_rc rc)
{
	const struct rc_info *i = rc_lookup(rc);
	return i ? i->name : "KH_ERR_UNKNOWN";
}

kh_rc kh_rc_parse(const char *name, kh_rc *out)
{
	if (name == NULL)
		return KH_ERR_BAD_INPUT;
	for (int i = 0; i < KH_RC_COUNT; i++) {
		if (rc_table[i].name != NULL && strcmp(rc_table[i].name, name) == 0) {
			*out = (kh_rc)i;
			return KH_OK;
		}
	}
	return KH_ERR_BAD_INPUT;
}

const char *kh_rc_message(kh_rc rc)
{
	const struct rc_info *i = rc_lookup(rc);
	return i ? i->message : "unknown error";
}

enum kh_rc_class kh_rc_class_of(kh_rc rc)
{
	const struct rc_info *i = rc_lookup(rc);
	return i ? i->cls : KH_CLASS_INTERNAL;
}
