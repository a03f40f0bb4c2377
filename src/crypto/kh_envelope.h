/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key management centre's envelopes (PKI.md "Envelope for the encryption private key"): the
 * private key of a freshly issued encryption key pair, sealed to the user's signing public key
 * for delivery. Three forms:
 *
 * KH_ENVELOPE_SKF: GM/T 0016 (SKF) ENVELOPEDKEYBLOB, SM2 in SM2 only. Exactly
 * KH_ENVELOPE_SKF_LEN bytes, fields serialized one after the other with no padding, every
 * integer a little-endian u32, every coordinate and the scalar 32 bytes right-aligned in 64
 * (32 zero bytes first, then the big-endian value):
 *
 *   offset  len  field
 *        0    4  Version            = 1
 *        4    4  ulSymmAlgID        = 0x00000401 (SGD_SM4_ECB, GM/T 0006)
 *        8    4  ulBits             = 256
 *       12   64  cbEncryptedPriKey  SM4-ECB, no padding, of 32 zero bytes || d
 *       76    4  PubKey.BitLen      = 256
 *       80   64  PubKey.XCoordinate of the enveloped key pair's public key
 *      144   64  PubKey.YCoordinate
 *      208   64  ECCCipherBlob.XCoordinate  C1.x   } SM2 encryption (GB/T 32918.4, SM3)
 *      272   64  ECCCipherBlob.YCoordinate  C1.y   } of the random 16-byte SM4 key under
 *      336   32  ECCCipherBlob.HASH         C3     } the recipient's public key
 *      368    4  ECCCipherBlob.CipherLen    = 16
 *      372   16  ECCCipherBlob.Cipher       C2
 *
 * KH_ENVELOPE_GMT0009: GM/T 0009 DER, SM2 in SM2 only:
 *   SM2EnvelopedKey ::= SEQUENCE {
 *     symAlgID               AlgorithmIdentifier,  -- SM4-ECB 1.2.156.10197.1.104.1, no params
 *     symEncryptedKey        SM2Cipher,            -- SEQUENCE { x, y, hash, ciphertext } of
 *                                                  -- the SM4 key under the recipient's key
 *     sm2PublicKey           BIT STRING,           -- 04 || X || Y (65 bytes), enveloped pair
 *     sm2EncryptedPrivateKey BIT STRING }          -- SM4-ECB of d (32 bytes)
 *
 * KH_ENVELOPE_CMS: a ContentInfo with CMS (RFC 5652) EnvelopedData, DER, whose content is the
 * enveloped key's PKCS#8 PrivateKeyInfo (RFC 5958), encrypted with AES-256-CBC (RFC 3565). An RSA
 * recipient gets a KeyTransRecipientInfo with RSAES-OAEP, SHA-256 and MGF1-SHA-256 (RFC 8017,
 * RFC 4055); a P-256 or P-384 recipient a KeyAgreeRecipientInfo with ephemeral-static ECDH,
 * dhSinglePass-stdDH-sha256kdf-scheme and AES-256 key wrap (RFC 5753). What `openssl cms -decrypt`
 * reads, and the EST serverkeygen response (RFC 7030 4.4.2) wants.
 *
 * Every CMS recipient is named by subjectKeyIdentifier, SHA-1 of its subjectPublicKey BIT STRING
 * contents (RFC 5280 4.2.1.2 method 1): the signing key it is sealed to may have no certificate
 * yet.
 */
#ifndef KH_ENVELOPE_H
#define KH_ENVELOPE_H

#include "crypto/kh_crypto.h"

enum kh_envelope_form {
	KH_ENVELOPE_SKF = 1, /* GM/T 0016 (SKF) ENVELOPEDKEYBLOB, SM2 only */
	KH_ENVELOPE_GMT0009, /* GM/T 0009 SM2EnvelopedKey DER, SM2 only */
	KH_ENVELOPE_CMS,     /* CMS (RFC 5652) EnvelopedData DER carrying the PKCS#8 PrivateKeyInfo;
	                        RSA and EC recipients */
};

/* 12 + 64 + (4 + 64 + 64) + (64 + 64 + 32 + 4 + 16): the layout above. */
#define KH_ENVELOPE_SKF_LEN 388u

/* "skf", "gmt0009", "cms"; NULL for a value outside the enum. */
const char *kh_envelope_form_name(enum kh_envelope_form f);
/* The form named exactly s (as kh_envelope_form_name spells it); KH_ERR_BAD_INPUT otherwise. */
KH_MUST_CHECK kh_rc kh_envelope_form_parse(struct kh_slice s, enum kh_envelope_form *out);
/* The usual form for a recipient key type: SM2 -> SKF, RSA and ECDSA -> CMS; Ed25519 -> 0
 * (none: an Ed25519 key cannot receive an envelope). */
enum kh_envelope_form kh_envelope_form_default(enum kh_pkey_type recipient);

/*
 * Envelopes the private key of key to the public key to (only its public half is used) and
 * appends the envelope to out (a plain buffer is fine: the output is ciphertext; on failure out
 * is left as it was).
 *
 * SKF, GMT0009: both keys SM2, else KH_ERR_WRONG_KEY_TYPE. CMS: key of any kh_pkey type, to RSA
 * or ECDSA P-256/P-384; an SM2 or Ed25519 recipient is KH_ERR_WRONG_KEY_TYPE. A key without its
 * private half is KH_ERR_WRONG_KEY_TYPE; an unknown form KH_ERR_BAD_INPUT.
 *
 * The plain private key (scalar or PKCS#8) and the SM4 key exist only in secure memory and are
 * wiped before return. The CMS content-encryption key is made by OpenSSL inside its CMS code, in
 * its ordinary heap, and cleansed by it when freed.
 */
KH_MUST_CHECK kh_rc kh_envelope_seal(enum kh_envelope_form form, const struct kh_pkey *key,
                                     const struct kh_pkey *to, struct kh_buf *out);

#endif
