/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Envelopes of an encryption private key (PKI.md "Envelope for the encryption private key"):
 * the key management centre hands a private key only in one of these forms, encrypted to a
 * public key whose private half the recipient holds.
 */
#ifndef KH_ENVELOPE_H
#define KH_ENVELOPE_H

#include "base/kh_buf.h"
#include "crypto/kh_crypto.h"

enum kh_envelope_form {
	KH_ENVELOPE_SKF = 1, /* GM/T 0016 (SKF) ENVELOPEDKEYBLOB, SM2 only */
	KH_ENVELOPE_GMT0009, /* GM/T 0009 SM2EnvelopedKey DER, SM2 only */
	KH_ENVELOPE_CMS,     /* CMS (RFC 5652) EnvelopedData DER of the PKCS#8; RSA and EC */
};

/* "skf", "gmt0009", "cms" */
const char *kh_envelope_form_name(enum kh_envelope_form f);
KH_MUST_CHECK kh_rc kh_envelope_form_parse(struct kh_slice s, enum kh_envelope_form *out);
/* SM2 -> SKF, RSA and ECDSA -> CMS; ed25519 -> 0 (none). */
enum kh_envelope_form kh_envelope_form_default(enum kh_pkey_type recipient);
/* Envelopes the private key of `key` to the public key `to`. */
KH_MUST_CHECK kh_rc kh_envelope_seal(enum kh_envelope_form form, const struct kh_pkey *key,
                                     const struct kh_pkey *to, struct kh_buf *out);

#endif
