/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Result codes and the guard macros that keep the happy path straight down.
 *
 * Every fallible function returns a kh_rc and is declared KH_MUST_CHECK. Each code belongs to
 * exactly one class; the HTTP layer maps classes to statuses in one table, so a new code never
 * needs a new status mapping. Codes are specific enough to tell the caller what went wrong
 * (a bad signature is not a malformed key); classes are what callers branch on.
 */
#ifndef KH_RC_H
#define KH_RC_H

#define KH_MUST_CHECK __attribute__((warn_unused_result))

typedef enum {
	KH_OK = 0,
	/* class BAD_INPUT: the caller sent something we refuse */
	KH_ERR_BAD_INPUT,         /* generic malformed or out-of-range input */
	KH_ERR_BAD_ENCODING,      /* invalid Base64, hex, or integer text */
	KH_ERR_BAD_KEY,           /* malformed DER/PEM or an unusable key */
	KH_ERR_WRONG_KEY_TYPE,    /* the key cannot do this operation */
	KH_ERR_BAD_SHARE,         /* a Shamir share is mistyped, foreign or duplicated */
	KH_ERR_UNSUPPORTED_MEDIA, /* a body in a format we do not take (Content-Type) */
	/* class TOO_LARGE */
	KH_ERR_TOO_LARGE,
	/* class UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, SEALED, RATE_LIMITED */
	KH_ERR_UNAUTHENTICATED,
	KH_ERR_FORBIDDEN,
	KH_ERR_NOT_FOUND,
	KH_ERR_CONFLICT,
	KH_ERR_KEY_DISABLED,         /* class CONFLICT: the key is disabled */
	KH_ERR_KEY_PENDING_DELETION, /* class CONFLICT: the key waits for deletion */
	KH_ERR_VERSION_DISABLED,     /* class CONFLICT: that key version is disabled */
	KH_ERR_SEALED,
	KH_ERR_RATE_LIMITED, /* too many requests from this caller; retry later */
	/* class CRYPTO: a cryptographic check on the caller's data failed */
	KH_ERR_DECRYPT,       /* authentication tag mismatch, bad padding, wrong context */
	KH_ERR_BAD_SIGNATURE, /* signature or MAC does not verify */
	/* class STORAGE, NOMEM, INTERNAL */
	KH_ERR_STORAGE,
	KH_ERR_NOMEM,
	KH_ERR_INTERNAL,
	KH_ERR_LIBCRYPTO, /* the crypto library failed where it should not; details in the log */
	KH_RC_COUNT
} kh_rc;

enum kh_rc_class {
	KH_CLASS_OK = 0,
	KH_CLASS_BAD_INPUT,
	KH_CLASS_TOO_LARGE,
	KH_CLASS_UNAUTHENTICATED,
	KH_CLASS_FORBIDDEN,
	KH_CLASS_NOT_FOUND,
	KH_CLASS_CONFLICT,
	KH_CLASS_SEALED,
	KH_CLASS_RATE_LIMITED,
	KH_CLASS_CRYPTO,
	KH_CLASS_STORAGE,
	KH_CLASS_NOMEM,
	KH_CLASS_INTERNAL,
};

/* "KH_ERR_DECRYPT" etc.; never NULL, "KH_ERR_UNKNOWN" for values outside the enum. */
const char *kh_rc_name(kh_rc rc);
/* The code kh_rc_name gives name for (an exact match, as stored in audit records);
 * KH_ERR_BAD_INPUT for NULL or a name that is no code's, "KH_ERR_UNKNOWN" included. */
KH_MUST_CHECK kh_rc kh_rc_parse(const char *name, kh_rc *out);
/* A short English sentence for users; never NULL. */
const char *kh_rc_message(kh_rc rc);
enum kh_rc_class kh_rc_class_of(kh_rc rc);

/* Return early with the result of expr when it is not KH_OK. */
#define KH_GUARD(expr)                                                                             \
	do {                                                                                       \
		kh_rc kh_guard_rc_ = (expr);                                                       \
		if (kh_guard_rc_ != KH_OK)                                                         \
			return kh_guard_rc_;                                                       \
	} while (0)

/* Return code when cond is false. */
#define KH_ENSURE(cond, code)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			return (code);                                                             \
	} while (0)

/* The same for functions that own resources: set the local `rc` and jump to `out:`. */
#define KH_GUARD_OUT(expr)                                                                         \
	do {                                                                                       \
		rc = (expr);                                                                       \
		if (rc != KH_OK)                                                                   \
			goto out;                                                                  \
	} while (0)

#define KH_ENSURE_OUT(cond, code)                                                                  \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			rc = (code);                                                               \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

#endif
