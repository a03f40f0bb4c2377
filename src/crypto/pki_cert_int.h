/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the PKI certificate files only (pki_name.c, pki_csr.c, pki_cert.c): name and
 * subjectAltName conversion, PEM/DER input, and the signing context each key type uses.
 */
#ifndef KH_PKI_CERT_INT_H
#define KH_PKI_CERT_INT_H

#include <openssl/x509v3.h>

#include "crypto/kh_crypto_int.h"
#include "crypto/kh_pki_cert.h"

/* RFC 4514 text -> Name. KH_ERR_BAD_INPUT for anything we cannot parse or do not know. */
KH_MUST_CHECK kh_rc kh_pki_name_parse(const char *text, X509_NAME **out);
/* Name -> RFC 4514 text (UTF-8, most specific RDN first). */
KH_MUST_CHECK kh_rc kh_pki_name_text(const X509_NAME *name, char *out, size_t out_len);

/* The four SAN kinds we handle, both ways; any other kind is KH_ERR_BAD_INPUT. */
KH_MUST_CHECK kh_rc kh_pki_sans_read(const GENERAL_NAMES *gens, struct kh_pki_san *out,
                                     size_t *out_count);
KH_MUST_CHECK kh_rc kh_pki_sans_make(const struct kh_pki_san *sans, size_t count,
                                     GENERAL_NAMES **out);

/* Dotted text of an OID; KH_ERR_TOO_LARGE when it does not fit. */
KH_MUST_CHECK kh_rc kh_pki_oid_text(const ASN1_OBJECT *obj, char *out, size_t out_len);
/* Copies len bytes of src and a NUL; KH_ERR_TOO_LARGE when they do not fit. */
KH_MUST_CHECK kh_rc kh_pki_copy_text(char *out, size_t out_len, const void *src, size_t len);

/*
 * The DER inside data: data itself when it does not start with "-----BEGIN", else the one PEM
 * block labelled label (or alt_label when not NULL), with only whitespace after it. *der_out
 * is OPENSSL_malloc'ed when *owned is set. Errors: KH_ERR_BAD_INPUT, KH_ERR_TOO_LARGE.
 */
KH_MUST_CHECK kh_rc kh_pki_der_in(struct kh_slice data, const char *label, const char *alt_label,
                                  unsigned char **der_out, long *der_len, bool *owned);

/* One DER certificate, all of it. KH_ERR_BAD_INPUT when it does not parse. */
KH_MUST_CHECK kh_rc kh_pki_x509_from_der(struct kh_slice der, X509 **out);

/*
 * A digest-sign context for signer with the algorithm its type takes (see kh_pki_cert.h);
 * SM2 with sm2_id (empty = KH_SM2_DEFAULT_ID) set on the key context.
 */
KH_MUST_CHECK kh_rc kh_pki_sign_ctx(const struct kh_pkey *signer, struct kh_slice sm2_id,
                                    EVP_MD_CTX **out);

/* An ASN1_OCTET_STRING holding KH_SM2_DEFAULT_ID, for X509_(REQ_)set0_distinguishing_id. */
KH_MUST_CHECK kh_rc kh_pki_sm2_default_id(ASN1_OCTET_STRING **out);

#endif
