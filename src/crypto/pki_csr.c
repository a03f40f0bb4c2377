/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#10 certification requests (RFC 2986): the strict parser with its proof-of-possession
 * check, and the builder a CA key uses to ask an external root for its certificate.
 *
 * Parse order decides the error a caller sees: the encoding (KH_ERR_BAD_INPUT), then the key
 * (KH_ERR_WRONG_KEY_TYPE for any key that is not one of our seven types, including RSA-1024,
 * P-521, DSA, X25519), then the self-signature (KH_ERR_BAD_SIGNATURE), then the contents
 * (subject, extensions: KH_ERR_BAD_INPUT). SM2 self-signatures are checked with the GM/T
 * default ID only (see kh_pki_cert.h).
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "base/kh_mem.h"
#include "crypto/kh_pki_status.h"
#include "crypto/pki_cert_int.h"

static bool key_alg_known(int nid)
{
	return nid == NID_rsaEncryption || nid == NID_X9_62_id_ecPublicKey || nid == NID_ED25519 ||
	       nid == NID_sm2;
}

/* The request's key as a kh_pkey (SubjectPublicKeyInfo re-imported by the key module). */
static kh_rc read_key(X509_REQ *req, struct kh_pkey **out)
{
	X509_PUBKEY *xpk = X509_REQ_get_X509_PUBKEY(req);
	ASN1_OBJECT *alg = NULL;
	unsigned char *der = NULL;
	int der_len;
	kh_rc rc;

	KH_ENSURE(xpk != NULL, KH_ERR_BAD_INPUT);
	KH_ENSURE(X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, xpk) == 1,
	          kh_ossl_discard(KH_ERR_BAD_INPUT));
	KH_ENSURE(key_alg_known(OBJ_obj2nid(alg)), KH_ERR_WRONG_KEY_TYPE);
	/* A key of a known algorithm that does not decode is malformed, not unsupported. */
	KH_ENSURE(X509_PUBKEY_get0(xpk) != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	der_len = i2d_X509_PUBKEY(xpk, &der);
	KH_ENSURE(der_len > 0, kh_ossl_error("i2d_X509_PUBKEY"));
	rc = kh_pkey_import_public(KH_SLICE(der, (size_t)der_len), out);
	OPENSSL_free(der);
	/* It decoded, so the key module refused its size or curve. */
	return rc == KH_ERR_BAD_KEY ? KH_ERR_WRONG_KEY_TYPE : rc;
}

static kh_rc check_pop(X509_REQ *req, const struct kh_pkey *key)
{
	if (kh_pkey_type_of(key) == KH_PKEY_SM2) {
		ASN1_OCTET_STRING *id = NULL;
		KH_GUARD(kh_pki_sm2_default_id(&id));
		X509_REQ_set0_distinguishing_id(req, id); /* the request owns it now */
	}
	int ok = X509_REQ_verify(req, kh_pkey_evp(key));
	return ok == 1 ? KH_OK : kh_ossl_discard(KH_ERR_BAD_SIGNATURE);
}

static kh_rc read_subject(X509_REQ *req, struct kh_pki_csr *csr)
{
	const X509_NAME *name = X509_REQ_get_subject_name(req);
	const unsigned char *der = NULL;
	size_t der_len = 0;

	KH_ENSURE(name != NULL, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_pki_name_text(name, csr->subject, sizeof(csr->subject)));
	KH_ENSURE(X509_NAME_get0_der(name, &der, &der_len) == 1, kh_ossl_discard(KH_ERR_BAD_INPUT));
	KH_ENSURE(der_len <= sizeof(csr->subject_der), KH_ERR_TOO_LARGE);
	memcpy(csr->subject_der, der, der_len);
	csr->subject_der_len = der_len;
	return KH_OK;
}

static kh_rc read_one_ext(X509_EXTENSION *ext, struct kh_pki_csr *csr)
{
	const ASN1_OBJECT *obj = X509_EXTENSION_get_object(ext);
	char *slot;

	KH_ENSURE(csr->ext_count < KH_PKI_EXT_COUNT_MAX, KH_ERR_TOO_LARGE);
	slot = csr->ext_oids[csr->ext_count];
	KH_GUARD(kh_pki_oid_text(obj, slot, KH_PKI_OID_TEXT_MAX));
	/* RFC 5280 4.2: at most one instance of an extension. */
	for (size_t i = 0; i < csr->ext_count; i++)
		KH_ENSURE(strcmp(csr->ext_oids[i], slot) != 0, KH_ERR_BAD_INPUT);
	csr->ext_count++;
	if (OBJ_obj2nid(obj) == NID_subject_alt_name) {
		GENERAL_NAMES *gens = X509V3_EXT_d2i(ext);
		KH_ENSURE(gens != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
		kh_rc rc = kh_pki_sans_read(gens, csr->sans, &csr->san_count);
		GENERAL_NAMES_free(gens);
		return rc;
	}
	return KH_OK;
}

/* RFC 2985 5.4.2 extensionRequest. */
static kh_rc read_exts(X509_REQ *req, struct kh_pki_csr *csr)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	kh_rc rc = KH_OK;

	if (exts == NULL) {
		KH_ENSURE(X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) < 0,
		          kh_ossl_discard(KH_ERR_BAD_INPUT));
		return kh_ossl_discard(KH_OK);
	}
	for (int i = 0; i < sk_X509_EXTENSION_num(exts) && rc == KH_OK; i++)
		rc = read_one_ext(sk_X509_EXTENSION_value(exts, i), csr);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

static enum kh_sig_alg sig_alg_of(int nid)
{
	switch (nid) {
	case NID_sha256WithRSAEncryption:
		return KH_SIG_RSA_PKCS1_SHA256;
	case NID_ecdsa_with_SHA256:
		return KH_SIG_ECDSA_SHA256;
	case NID_ecdsa_with_SHA384:
		return KH_SIG_ECDSA_SHA384;
	case NID_ED25519:
		return KH_SIG_ED25519;
	case NID_SM2_with_SM3:
		return KH_SIG_SM2_SM3;
	default:
		return (enum kh_sig_alg)0; /* another algorithm OpenSSL verified */
	}
}

static kh_rc read_sig_alg(const X509_REQ *req, struct kh_pki_csr *csr)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;

	X509_REQ_get0_signature(req, NULL, &alg);
	KH_ENSURE(alg != NULL, KH_ERR_BAD_INPUT);
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	KH_GUARD(kh_pki_oid_text(obj, csr->sig_alg_oid, sizeof(csr->sig_alg_oid)));
	csr->sig_alg = sig_alg_of(OBJ_obj2nid(obj));
	return KH_OK;
}

static kh_rc req_from_der(const unsigned char *der, long len, X509_REQ **out)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, len);

	KH_ENSURE(req != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	/* One object and nothing after it; version 1 (0) is the only one RFC 2986 defines. */
	if (p != der + len || X509_REQ_get_version(req) != 0) {
		X509_REQ_free(req);
		return KH_ERR_BAD_INPUT;
	}
	*out = req;
	return KH_OK;
}

kh_rc kh_pki_csr_parse(struct kh_slice data, struct kh_pki_csr **out)
{
	unsigned char *der = NULL;
	long der_len = 0;
	bool owned = false;
	X509_REQ *req = NULL;
	struct kh_pki_csr *csr = NULL;
	kh_rc rc;

	KH_GUARD(kh_pki_der_in(data, "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST", &der,
	                       &der_len, &owned));
	KH_GUARD_OUT(req_from_der(der, der_len, &req));
	csr = kh_calloc(1, sizeof(*csr));
	KH_ENSURE_OUT(csr != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(read_key(req, &csr->key));
	KH_GUARD_OUT(check_pop(req, csr->key));
	KH_GUARD_OUT(read_subject(req, csr));
	KH_GUARD_OUT(read_exts(req, csr));
	KH_GUARD_OUT(read_sig_alg(req, csr));
	*out = csr;
	csr = NULL;
out:
	kh_pki_csr_free(&csr);
	X509_REQ_free(req);
	if (owned)
		OPENSSL_free(der);
	return rc;
}

void kh_pki_csr_free(struct kh_pki_csr **csr)
{
	if (csr == NULL || *csr == NULL)
		return;
	kh_pkey_free(&(*csr)->key);
	kh_free(csr);
}

static kh_rc add_san_request(X509_REQ *req, const struct kh_pki_san *sans, size_t count)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	kh_rc rc = KH_OK;

	KH_GUARD(kh_pki_sans_make(sans, count, &gens));
	if (X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1 ||
	    X509_REQ_add_extensions(req, exts) != 1)
		rc = kh_ossl_error("extensionRequest");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	return rc;
}

static kh_rc append_pem_req(X509_REQ *req, struct kh_buf *out)
{
	unsigned char *der = NULL;
	int len = i2d_X509_REQ(req, &der);
	KH_ENSURE(len > 0, kh_ossl_error("i2d_X509_REQ"));
	kh_rc rc = kh_pki_der_to_pem(KH_SLICE(der, (size_t)len), "CERTIFICATE REQUEST", out);
	OPENSSL_free(der);
	return rc;
}

kh_rc kh_pki_csr_build(const struct kh_pkey *key, const char *subject,
                       const struct kh_pki_san *sans, size_t san_count, struct kh_buf *out_pem)
{
	X509_REQ *req = NULL;
	X509_NAME *name = NULL;
	EVP_MD_CTX *mctx = NULL;
	kh_rc rc;

	KH_ENSURE(key != NULL && kh_pkey_has_private(key), KH_ERR_BAD_KEY);
	KH_GUARD(kh_pki_name_parse(subject, &name));
	req = X509_REQ_new();
	KH_ENSURE_OUT(req != NULL, kh_ossl_error("X509_REQ_new"));
	KH_ENSURE_OUT(X509_REQ_set_version(req, 0) == 1 &&
	                  X509_REQ_set_subject_name(req, name) == 1 &&
	                  X509_REQ_set_pubkey(req, kh_pkey_evp(key)) == 1,
	              kh_ossl_error("X509_REQ fields"));
	if (san_count > 0)
		KH_GUARD_OUT(add_san_request(req, sans, san_count));
	KH_GUARD_OUT(kh_pki_sign_ctx(key, KH_SLICE_EMPTY, &mctx));
	KH_ENSURE_OUT(X509_REQ_sign_ctx(req, mctx) > 0, kh_ossl_error("X509_REQ_sign_ctx"));
	rc = append_pem_req(req, out_pem);
out:
	EVP_MD_CTX_free(mctx);
	X509_REQ_free(req);
	X509_NAME_free(name);
	return rc;
}
