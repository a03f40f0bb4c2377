/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Asymmetric key objects: generation, import of PKCS#8 private keys (RFC 5208/5958) and
 * SubjectPublicKeyInfo public keys (RFC 5280 4.1.2.7), export in the same forms, and the
 * classification into the seven kh_pkey_type values keyhold supports.
 *
 * Import is strict, and refuses rather than repairs: exactly one DER object, or exactly one PEM
 * block with the expected label and nothing after it but whitespace; unencrypted PKCS#8 only
 * (no "ENCRYPTED PRIVATE KEY", no traditional "RSA/EC PRIVATE KEY"); RSA ("rsaEncryption", not
 * RSA-PSS-restricted keys) of exactly 2048, 3072 or 4096 bits; EC keys only on the named curves
 * P-256, P-384 and SM2 (explicit curve parameters are refused, RFC 5480 2.1.1); Ed25519. EC
 * private keys must pass OpenSSL's pairwise check, so a PKCS#8 whose embedded public point does
 * not match its scalar is refused. RSA private keys are not pairwise-checked: the check costs
 * 50 ms (2048 bits) to 350 ms (4096) of primality tests, and OpenSSL verifies every CRT result
 * with e, so an inconsistent RSA key can fail but cannot leak its factors. EC public points are
 * always exported uncompressed, whatever form they were imported in.
 */
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto_int.h"

struct kh_pkey {
	EVP_PKEY *evp;
	enum kh_pkey_type type;
	bool has_private;
};

/* How each type is generated and recognised. */
struct type_info {
	enum kh_pkey_type type;
	const char *keymgmt; /* OpenSSL key type name */
	const char *curve;   /* group name for generation */
	size_t rsa_bits;     /* RSA only */
};

static const struct type_info types[] = {
    {KH_PKEY_RSA_2048, "RSA", NULL, 2048}, /* RFC 8017 */
    {KH_PKEY_RSA_3072, "RSA", NULL, 3072}, /* RFC 8017 */
    {KH_PKEY_RSA_4096, "RSA", NULL, 4096}, /* RFC 8017 */
    {KH_PKEY_EC_P256, "EC", "P-256", 0},   /* FIPS 186-5, SEC 2 secp256r1 */
    {KH_PKEY_EC_P384, "EC", "P-384", 0},   /* FIPS 186-5, SEC 2 secp384r1 */
    {KH_PKEY_ED25519, "ED25519", NULL, 0}, /* RFC 8032 */
    {KH_PKEY_SM2, "SM2", "SM2", 0},        /* GB/T 32918.5 recommended curve */
};
#define TYPE_COUNT (sizeof(types) / sizeof(types[0]))

/* RSA public exponent for generated keys (FIPS 186-5 requires 2^16 < e < 2^256). */
enum {
	RSA_E = 65537
};

static const struct type_info *info_of(enum kh_pkey_type type)
{
	for (size_t i = 0; i < TYPE_COUNT; i++)
		if (types[i].type == type)
			return &types[i];
	return NULL;
}

EVP_PKEY *kh_pkey_evp(const struct kh_pkey *key)
{
	return key->evp;
}

/*
 * A parse failure on caller data: KH_ERR_BAD_KEY, unless the library ran out of memory on the
 * way. The library's reasons are noise (the input is the caller's), so they are not logged.
 */
static kh_rc parse_failure(void)
{
	kh_rc rc = KH_ERR_BAD_KEY;
	unsigned long e;

	while ((e = ERR_get_error()) != 0)
		if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE)
			rc = KH_ERR_NOMEM;
	return rc;
}

/* Wraps evp (taking ownership of it on every path). */
static kh_rc wrap(EVP_PKEY *evp, enum kh_pkey_type type, bool has_private, struct kh_pkey **out)
{
	struct kh_pkey *key = kh_alloc(sizeof(*key));

	if (key == NULL) {
		EVP_PKEY_free(evp);
		return KH_ERR_NOMEM;
	}
	key->evp = evp;
	key->type = type;
	key->has_private = has_private;
	*out = key;
	return KH_OK;
}

kh_rc kh_pkey_generate(enum kh_pkey_type type, struct kh_pkey **out)
{
	const struct type_info *ti = info_of(type);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *evp = NULL;
	OSSL_PARAM params[3];
	size_t bits;
	unsigned int e = RSA_E;
	kh_rc rc;

	KH_ENSURE(ti != NULL, KH_ERR_BAD_INPUT);
	bits = ti->rsa_bits;
	if (ti->rsa_bits != 0) {
		params[0] = OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &bits);
		params[1] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &e);
		params[2] = OSSL_PARAM_construct_end();
	} else if (ti->curve != NULL) {
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
		                                             kh_unconst(ti->curve), 0);
		params[1] = OSSL_PARAM_construct_end();
	} else {
		params[0] = OSSL_PARAM_construct_end();
	}
	/* By name, so that OpenSSL 3.0 makes an SM2 key rather than an EC key on the SM2 curve. */
	ctx = EVP_PKEY_CTX_new_from_name(NULL, ti->keymgmt, NULL);
	if (ctx == NULL) {
		rc = kh_ossl_error("EVP_PKEY_CTX_new_from_name");
		goto out;
	}
	if (EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_CTX_set_params(ctx, params) != 1 ||
	    EVP_PKEY_generate(ctx, &evp) != 1) {
		rc = kh_ossl_error("key generation");
		goto out;
	}
	rc = wrap(evp, type, true, out);
	evp = NULL;
out:
	EVP_PKEY_free(evp);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* The NID of an EC-family key's named curve; NID_undef for explicit parameters. */
static int curve_nid(EVP_PKEY *evp)
{
	char name[64];
	char enc[32];
	size_t len = 0;
	int nid;

	if (EVP_PKEY_get_utf8_string_param(evp, OSSL_PKEY_PARAM_EC_ENCODING, enc, sizeof(enc),
	                                   &len) != 1 ||
	    strcmp(enc, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
		return NID_undef;
	if (EVP_PKEY_get_group_name(evp, name, sizeof(name), &len) != 1)
		return NID_undef;
	nid = OBJ_sn2nid(name);
	return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

/* Maps a parsed key to its kh_pkey_type, or KH_ERR_BAD_KEY for anything we do not support. */
static kh_rc classify(EVP_PKEY *evp, enum kh_pkey_type *out)
{
	int nid;

	if (EVP_PKEY_is_a(evp, "RSA")) {
		int bits = EVP_PKEY_get_bits(evp);
		for (size_t i = 0; i < TYPE_COUNT; i++) {
			if (types[i].rsa_bits != 0 && bits > 0 &&
			    (size_t)bits == types[i].rsa_bits) {
				*out = types[i].type;
				return KH_OK;
			}
		}
		return KH_ERR_BAD_KEY;
	}
	if (EVP_PKEY_is_a(evp, "ED25519")) {
		*out = KH_PKEY_ED25519;
		return KH_OK;
	}
	if (!EVP_PKEY_is_a(evp, "EC") && !EVP_PKEY_is_a(evp, "SM2"))
		return KH_ERR_BAD_KEY;
	nid = curve_nid(evp);
	/*
	 * OpenSSL 3.0 loads every key on the SM2 curve as type SM2 (its EC key type refuses the
	 * curve), so SM2 keys sign with SM2, never ECDSA. Should an EC-typed key on the SM2 curve
	 * ever appear, it is refused here rather than used for ECDSA.
	 */
	if (EVP_PKEY_is_a(evp, "SM2"))
		KH_ENSURE(nid == NID_sm2, KH_ERR_BAD_KEY);
	else
		KH_ENSURE(nid == NID_X9_62_prime256v1 || nid == NID_secp384r1, KH_ERR_BAD_KEY);
	/* Export in the one form every peer accepts (RFC 5480 2.2: uncompressed MUST). */
	if (EVP_PKEY_set_utf8_string_param(evp, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
		return kh_ossl_error("EC point format");
	*out = nid == NID_sm2         ? KH_PKEY_SM2
	       : nid == NID_secp384r1 ? KH_PKEY_EC_P384
	                              : KH_PKEY_EC_P256;
	return KH_OK;
}

/* EC, SM2 and Ed25519 private keys must match their public half (see the file comment). */
static kh_rc pairwise_check(EVP_PKEY *evp, enum kh_pkey_type type)
{
	EVP_PKEY_CTX *ctx;
	int ok;

	if (kh_pkey_type_is_rsa(type))
		return KH_OK;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, evp, NULL);
	if (ctx == NULL)
		return kh_ossl_error("EVP_PKEY_CTX_new_from_pkey");
	ok = EVP_PKEY_pairwise_check(ctx);
	EVP_PKEY_CTX_free(ctx);
	return ok == 1 ? KH_OK : parse_failure();
}

static bool has_pem_prefix(struct kh_slice data)
{
	static const char begin[] = "-----BEGIN";

	return data.len >= sizeof(begin) - 1 && memcmp(data.ptr, begin, sizeof(begin) - 1) == 0;
}

static bool only_whitespace(const char *p, long len)
{
	for (long i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* The DER inside a PEM block; decoded into OpenSSL's secure heap (it may hold a private key). */
struct pem_der {
	unsigned char *ptr;
	long len;
};

static void pem_der_free(struct pem_der *d)
{
	if (d->ptr != NULL)
		OPENSSL_secure_clear_free(d->ptr, (size_t)d->len);
	d->ptr = NULL;
	d->len = 0;
}

/* True when data starts with the line "-----BEGIN <label>-----" (RFC 7468 2). */
static bool begins_with_label(struct kh_slice data, const char *label)
{
	static const char begin[] = "-----BEGIN ";
	static const char dashes[] = "-----";
	size_t n = strlen(label);
	size_t at = sizeof(begin) - 1 + n + sizeof(dashes) - 1;

	return data.len > at && memcmp(data.ptr, begin, sizeof(begin) - 1) == 0 &&
	       memcmp(data.ptr + sizeof(begin) - 1, label, n) == 0 &&
	       memcmp(data.ptr + sizeof(begin) - 1 + n, dashes, sizeof(dashes) - 1) == 0 &&
	       (data.ptr[at] == '\n' || data.ptr[at] == '\r');
}

/*
 * Exactly one PEM block labelled label, first thing in data (PEM_read_bio_ex alone would skip
 * lines before it), without headers (RFC 7468 2), only whitespace after it.
 */
static kh_rc pem_unwrap(struct kh_slice data, const char *label, struct pem_der *out)
{
	BIO *bio = NULL;
	char *name = NULL;
	char *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	char *rest = NULL;
	long rest_len;
	kh_rc rc;

	KH_ENSURE(begins_with_label(data, label), KH_ERR_BAD_KEY);
	bio = BIO_new_mem_buf(data.ptr, (int)data.len); /* data.len is within the limit */
	if (bio == NULL)
		return kh_ossl_error("BIO_new_mem_buf");
	if (PEM_read_bio_ex(bio, &name, &header, &der, &der_len,
	                    PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE) != 1) {
		rc = parse_failure();
		goto out;
	}
	KH_ENSURE_OUT(strcmp(name, label) == 0 && header[0] == '\0' && der_len > 0, KH_ERR_BAD_KEY);
	rest_len = BIO_get_mem_data(bio, &rest);
	KH_ENSURE_OUT(rest_len >= 0 && only_whitespace(rest, rest_len), KH_ERR_BAD_KEY);
	out->ptr = der;
	out->len = der_len;
	der = NULL;
	rc = KH_OK;
out:
	OPENSSL_secure_free(name);
	OPENSSL_secure_free(header);
	if (der != NULL)
		OPENSSL_secure_clear_free(der, (size_t)der_len);
	BIO_free(bio);
	return rc;
}

/* One unencrypted PrivateKeyInfo (RFC 5958 2), nothing after it. */
static kh_rc private_from_der(const unsigned char *der, long len, EVP_PKEY **out)
{
	const unsigned char *p = der;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, len);
	EVP_PKEY *evp = NULL;
	kh_rc rc = KH_OK;

	if (p8 == NULL)
		return parse_failure();
	KH_ENSURE_OUT(p == der + len, KH_ERR_BAD_KEY);
	evp = EVP_PKCS82PKEY_ex(p8, NULL, NULL);
	if (evp == NULL) {
		rc = parse_failure();
		goto out;
	}
	*out = evp;
out:
	PKCS8_PRIV_KEY_INFO_free(p8); /* cleanses the private key octets */
	return rc;
}

/* One SubjectPublicKeyInfo, nothing after it. */
static kh_rc public_from_der(const unsigned char *der, long len, EVP_PKEY **out)
{
	const unsigned char *p = der;
	EVP_PKEY *evp = d2i_PUBKEY_ex(NULL, &p, len, NULL, NULL);

	if (evp == NULL)
		return parse_failure();
	if (p != der + len) {
		EVP_PKEY_free(evp);
		return KH_ERR_BAD_KEY;
	}
	*out = evp;
	return KH_OK;
}

typedef kh_rc (*der_parser)(const unsigned char *der, long len, EVP_PKEY **out);

static kh_rc import(struct kh_slice data, const char *pem_label, der_parser parse, bool has_private,
                    struct kh_pkey **out)
{
	struct pem_der pem = {NULL, 0};
	const unsigned char *der = data.ptr;
	long der_len = (long)data.len;
	EVP_PKEY *evp = NULL;
	enum kh_pkey_type type = KH_PKEY_RSA_2048;
	kh_rc rc;

	KH_ENSURE(data.len <= KH_LIMIT_KEY_ENCODED_BYTES, KH_ERR_TOO_LARGE);
	KH_ENSURE(data.ptr != NULL && data.len > 0, KH_ERR_BAD_KEY);
	if (has_pem_prefix(data)) {
		KH_GUARD(pem_unwrap(data, pem_label, &pem));
		der = pem.ptr;
		der_len = pem.len;
	}
	KH_GUARD_OUT(parse(der, der_len, &evp));
	KH_GUARD_OUT(classify(evp, &type));
	if (has_private)
		KH_GUARD_OUT(pairwise_check(evp, type));
	rc = wrap(evp, type, has_private, out);
	evp = NULL;
out:
	EVP_PKEY_free(evp);
	pem_der_free(&pem);
	return rc;
}

kh_rc kh_pkey_import_private(struct kh_slice data, struct kh_pkey **out)
{
	return import(data, PEM_STRING_PKCS8INF, private_from_der, true, out);
}

kh_rc kh_pkey_import_public(struct kh_slice data, struct kh_pkey **out)
{
	return import(data, PEM_STRING_PUBLIC, public_from_der, false, out);
}

enum kh_pkey_type kh_pkey_type_of(const struct kh_pkey *key)
{
	return key->type;
}

bool kh_pkey_has_private(const struct kh_pkey *key)
{
	return key->has_private;
}

/*
 * Encodes through a memory BIO (a secure-heap one for private keys, whose storage OpenSSL wipes
 * when it grows and when it is freed) and appends the result to out.
 */
static kh_rc encode(const struct kh_pkey *key, bool private_key, const char *format,
                    struct kh_buf *out)
{
	int selection = private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
	const char *structure = private_key ? "PrivateKeyInfo" : "SubjectPublicKeyInfo";
	OSSL_ENCODER_CTX *ctx = NULL;
	BIO *bio = NULL;
	char *data = NULL;
	long len;
	kh_rc rc;

	ctx = OSSL_ENCODER_CTX_new_for_pkey(key->evp, selection, format, structure, NULL);
	if (ctx == NULL || OSSL_ENCODER_CTX_get_num_encoders(ctx) == 0) {
		rc = kh_ossl_error("OSSL_ENCODER_CTX_new_for_pkey");
		goto out;
	}
	bio = BIO_new(private_key ? BIO_s_secmem() : BIO_s_mem());
	if (bio == NULL) {
		rc = kh_ossl_error("BIO_new");
		goto out;
	}
	if (OSSL_ENCODER_to_bio(ctx, bio) != 1) {
		rc = kh_ossl_error("OSSL_ENCODER_to_bio");
		goto out;
	}
	len = BIO_get_mem_data(bio, &data);
	KH_ENSURE_OUT(len > 0 && data != NULL, KH_ERR_LIBCRYPTO);
	rc = kh_buf_append(out, KH_SLICE(data, (size_t)len));
out:
	BIO_free(bio);
	OSSL_ENCODER_CTX_free(ctx);
	return rc;
}

static kh_rc export_private(const struct kh_pkey *key, const char *format, struct kh_buf *out)
{
	KH_REQUIRE_SECURE(out);
	KH_ENSURE(key->has_private, KH_ERR_WRONG_KEY_TYPE);
	return encode(key, true, format, out);
}

kh_rc kh_pkey_export_private_der(const struct kh_pkey *key, struct kh_buf *out)
{
	return export_private(key, "DER", out);
}

kh_rc kh_pkey_export_private_pem(const struct kh_pkey *key, struct kh_buf *out)
{
	return export_private(key, "PEM", out);
}

kh_rc kh_pkey_export_public_der(const struct kh_pkey *key, struct kh_buf *out)
{
	return encode(key, false, "DER", out);
}

kh_rc kh_pkey_export_public_pem(const struct kh_pkey *key, struct kh_buf *out)
{
	return encode(key, false, "PEM", out);
}

void kh_pkey_free(struct kh_pkey **key)
{
	if (key == NULL || *key == NULL)
		return;
	EVP_PKEY_free((*key)->evp); /* private components live in OpenSSL's secure heap */
	kh_free(key);
}
