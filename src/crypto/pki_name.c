/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pieces the PKI certificate files share: distinguished names as RFC 4514 text both ways,
 * subjectAltNames (DNS, IP, email, URI) both ways, PEM/DER input, OID text, and the signing
 * context per key type (with the SM2 distinguishing ID, GM/T 0009 default).
 *
 * The RFC 4514 parser is strict and refuses rather than repairs: attribute types are OpenSSL
 * short or long names or dotted OIDs; values are UTF-8 with RFC 4514 2.4 escapes (a backslash
 * before one of ' "#+,;<=>\' or two hex digits); unescaped '"', ';', '<', '>', leading or
 * trailing spaces, spaces around separators, and the '#' hex form are refused. Printing uses
 * OpenSSL's RFC 2253 flags without escaping UTF-8, so our own output parses back unchanged.
 */
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "crypto/pki_cert_int.h"

enum {
	AVA_MAX = 32, /* attribute values in one name */
	AVA_VALUE_MAX =
	    256, /* bytes of one value after unescaping (ub-name is 32768; 256 is ample) */
	TYPE_TEXT_MAX = 64,
};

struct ava {
	ASN1_OBJECT *type;
	unsigned char value[AVA_VALUE_MAX];
	size_t len;
	bool joins_previous; /* '+': same RDN as the one before */
};

/* One attribute type at *p up to '='; advances past the '='. */
static kh_rc parse_type(const char **p, ASN1_OBJECT **out)
{
	char text[TYPE_TEXT_MAX];
	size_t n = 0;
	const char *s = *p;

	while (*s != '\0' && *s != '=') {
		char c = *s;
		KH_ENSURE((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		              (c >= '0' && c <= '9') || c == '.' || c == '-',
		          KH_ERR_BAD_INPUT);
		KH_ENSURE(n + 1 < sizeof(text), KH_ERR_BAD_INPUT);
		text[n++] = c;
		s++;
	}
	KH_ENSURE(*s == '=' && n > 0, KH_ERR_BAD_INPUT);
	text[n] = '\0';
	*out = OBJ_txt2obj(text, 0);
	KH_ENSURE(*out != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	*p = s + 1;
	return KH_OK;
}

/* One value at *p up to an unescaped ',' or '+' or the end (RFC 4514 3). */
static kh_rc parse_value(const char **p, struct ava *a)
{
	static const char specials[] = " \"#+,;<=>\\";
	const char *s = *p;

	KH_ENSURE(*s != '#' && *s != ' ', KH_ERR_BAD_INPUT);
	a->len = 0;
	while (*s != '\0' && *s != ',' && *s != '+') {
		unsigned char c = (unsigned char)*s++;
		bool escaped = false;
		if (c == '\\') {
			int hi = kh_hex_digit((uint8_t)(s[0]));
			int lo = hi >= 0 ? kh_hex_digit((uint8_t)(s[1])) : -1;
			if (hi >= 0 && lo >= 0) {
				c = (unsigned char)(hi * 16 + lo);
				s += 2;
			} else {
				KH_ENSURE(*s != '\0' && strchr(specials, *s) != NULL,
				          KH_ERR_BAD_INPUT);
				c = (unsigned char)*s++;
			}
			escaped = true;
		} else {
			KH_ENSURE(c != '"' && c != ';' && c != '<' && c != '>', KH_ERR_BAD_INPUT);
		}
		/* RFC 4514 2.4: a trailing space must be escaped. */
		KH_ENSURE(escaped || c != ' ' || (*s != '\0' && *s != ',' && *s != '+'),
		          KH_ERR_BAD_INPUT);
		KH_ENSURE(c != '\0' && a->len < sizeof(a->value), KH_ERR_BAD_INPUT);
		a->value[a->len++] = c;
	}
	KH_ENSURE(a->len > 0, KH_ERR_BAD_INPUT);
	*p = s;
	return KH_OK;
}

static kh_rc name_parse_avas(const char *text, struct ava *avas, size_t *out_count)
{
	const char *p = text;
	size_t n = 0;
	bool joins = false;

	while (*p != '\0') {
		KH_ENSURE(n < AVA_MAX, KH_ERR_BAD_INPUT);
		avas[n].joins_previous = joins;
		KH_GUARD(parse_type(&p, &avas[n].type));
		n++; /* counted now so that the caller frees the type on failure */
		*out_count = n;
		KH_GUARD(parse_value(&p, &avas[n - 1]));
		if (*p == '\0')
			break;
		joins = *p == '+';
		p++;
		KH_ENSURE(*p != '\0', KH_ERR_BAD_INPUT); /* no empty last RDN */
	}
	*out_count = n;
	return KH_OK;
}

/* Adds the RDNs to name last first: RFC 4514 2.1 writes the most specific RDN first. */
static kh_rc name_add_reversed(X509_NAME *name, const struct ava *avas, size_t n)
{
	size_t end = n;

	while (end > 0) {
		size_t start = end - 1;
		while (start > 0 && avas[start].joins_previous)
			start--;
		for (size_t i = start; i < end; i++) {
			if (X509_NAME_add_entry_by_OBJ(name, avas[i].type, MBSTRING_UTF8,
			                               avas[i].value, (int)avas[i].len, -1,
			                               i == start ? 0 : -1) != 1)
				return kh_ossl_discard(
				    KH_ERR_BAD_INPUT); /* bad UTF-8, wrong size */
		}
		end = start;
	}
	return KH_OK;
}

kh_rc kh_pki_name_parse(const char *text, X509_NAME **out)
{
	struct ava *avas = NULL;
	size_t n = 0;
	X509_NAME *name = NULL;
	kh_rc rc;

	KH_ENSURE(text != NULL && strlen(text) < KH_PKI_NAME_TEXT_MAX, KH_ERR_BAD_INPUT);
	avas = OPENSSL_zalloc(sizeof(*avas) * AVA_MAX);
	KH_ENSURE(avas != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(name_parse_avas(text, avas, &n));
	name = X509_NAME_new();
	KH_ENSURE_OUT(name != NULL, kh_ossl_error("X509_NAME_new"));
	KH_GUARD_OUT(name_add_reversed(name, avas, n));
	*out = name;
	name = NULL;
out:
	for (size_t i = 0; i < n; i++)
		ASN1_OBJECT_free(avas[i].type);
	OPENSSL_free(avas);
	X509_NAME_free(name);
	return rc;
}

kh_rc kh_pki_name_text(const X509_NAME *name, char *out, size_t out_len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	kh_rc rc;

	KH_ENSURE(bio != NULL, kh_ossl_error("BIO_new"));
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		rc = kh_ossl_discard(KH_ERR_BAD_INPUT);
	} else {
		len = BIO_get_mem_data(bio, &data);
		rc = len >= 0 ? kh_pki_copy_text(out, out_len, data, (size_t)len)
		              : kh_ossl_error("BIO_get_mem_data");
	}
	BIO_free(bio);
	return rc;
}

kh_rc kh_pki_copy_text(char *out, size_t out_len, const void *src, size_t len)
{
	KH_ENSURE(len < out_len, KH_ERR_TOO_LARGE);
	if (len > 0)
		memcpy(out, src, len);
	out[len] = '\0';
	return KH_OK;
}

kh_rc kh_pki_oid_text(const ASN1_OBJECT *obj, char *out, size_t out_len)
{
	int n = OBJ_obj2txt(out, (int)out_len, obj, 1);
	KH_ENSURE(n > 0, kh_ossl_discard(KH_ERR_BAD_INPUT));
	KH_ENSURE((size_t)n < out_len, KH_ERR_TOO_LARGE);
	return KH_OK;
}

/* An IA5String value as text: no NUL inside (a NUL would cut the name short in C). */
static kh_rc ia5_text(const ASN1_IA5STRING *s, char *out, size_t out_len)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	KH_ENSURE(d != NULL && len > 0 && memchr(d, 0, (size_t)len) == NULL, KH_ERR_BAD_INPUT);
	return kh_pki_copy_text(out, out_len, d, (size_t)len);
}

static kh_rc ip_text(const ASN1_OCTET_STRING *s, char *out, size_t out_len)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
	KH_ENSURE(af != 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(inet_ntop(af, d, out, (socklen_t)out_len) != NULL, KH_ERR_TOO_LARGE);
	return KH_OK;
}

kh_rc kh_pki_sans_read(const GENERAL_NAMES *gens, struct kh_pki_san *out, size_t *out_count)
{
	int n = sk_GENERAL_NAME_num(gens);
	KH_ENSURE(n >= 0 && (size_t)n <= KH_PKI_SAN_COUNT_MAX, KH_ERR_TOO_LARGE);
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		struct kh_pki_san *s = &out[i];
		switch (g->type) {
		case GEN_DNS:
			s->type = KH_PKI_SAN_DNS;
			KH_GUARD(ia5_text(g->d.dNSName, s->value, sizeof(s->value)));
			break;
		case GEN_EMAIL:
			s->type = KH_PKI_SAN_EMAIL;
			KH_GUARD(ia5_text(g->d.rfc822Name, s->value, sizeof(s->value)));
			break;
		case GEN_URI:
			s->type = KH_PKI_SAN_URI;
			KH_GUARD(
			    ia5_text(g->d.uniformResourceIdentifier, s->value, sizeof(s->value)));
			break;
		case GEN_IPADD:
			s->type = KH_PKI_SAN_IP;
			KH_GUARD(ip_text(g->d.iPAddress, s->value, sizeof(s->value)));
			break;
		default:
			return KH_ERR_BAD_INPUT;
		}
	}
	*out_count = (size_t)n;
	return KH_OK;
}

/* Printable ASCII without spaces: what DNS names, addresses and URIs may hold. */
static bool ia5_ok(const char *v)
{
	if (v[0] == '\0')
		return false;
	for (const char *p = v; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

static kh_rc san_make(const struct kh_pki_san *s, GENERAL_NAME **out)
{
	GENERAL_NAME *g = NULL;
	size_t len = strnlen(s->value, sizeof(s->value));
	int type = s->type == KH_PKI_SAN_DNS     ? GEN_DNS
	           : s->type == KH_PKI_SAN_EMAIL ? GEN_EMAIL
	           : s->type == KH_PKI_SAN_URI   ? GEN_URI
	           : s->type == KH_PKI_SAN_IP    ? GEN_IPADD
	                                         : -1;

	KH_ENSURE(type >= 0 && len < sizeof(s->value), KH_ERR_BAD_INPUT);
	if (type == GEN_IPADD) {
		ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s->value);
		KH_ENSURE(ip != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
		g = GENERAL_NAME_new();
		if (g == NULL) {
			ASN1_OCTET_STRING_free(ip);
			return kh_ossl_error("GENERAL_NAME_new");
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	} else {
		ASN1_IA5STRING *ia5;
		KH_ENSURE(ia5_ok(s->value), KH_ERR_BAD_INPUT);
		ia5 = ASN1_IA5STRING_new();
		g = GENERAL_NAME_new();
		if (ia5 == NULL || g == NULL || ASN1_STRING_set(ia5, s->value, (int)len) != 1) {
			ASN1_IA5STRING_free(ia5);
			GENERAL_NAME_free(g);
			return kh_ossl_error("GENERAL_NAME");
		}
		GENERAL_NAME_set0_value(g, type, ia5);
	}
	*out = g;
	return KH_OK;
}

kh_rc kh_pki_sans_make(const struct kh_pki_san *sans, size_t count, GENERAL_NAMES **out)
{
	GENERAL_NAMES *gens;

	KH_ENSURE(count > 0 && count <= KH_PKI_SAN_COUNT_MAX && sans != NULL, KH_ERR_BAD_INPUT);
	gens = sk_GENERAL_NAME_new_null();
	KH_ENSURE(gens != NULL, kh_ossl_error("sk_GENERAL_NAME_new_null"));
	for (size_t i = 0; i < count; i++) {
		GENERAL_NAME *g = NULL;
		kh_rc rc = san_make(&sans[i], &g);
		if (rc == KH_OK && sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			rc = kh_ossl_error("sk_GENERAL_NAME_push");
		}
		if (rc != KH_OK) {
			GENERAL_NAMES_free(gens);
			return rc;
		}
	}
	*out = gens;
	return KH_OK;
}

static bool only_whitespace(const char *p, long len)
{
	for (long i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* True when data starts with "-----BEGIN <label>-----" and a line end (RFC 7468 2). */
static bool begins_with_label(struct kh_slice data, const char *label)
{
	static const char begin[] = "-----BEGIN ";
	size_t b = sizeof(begin) - 1, n = strlen(label), at = b + n + 5;

	return data.len > at && memcmp(data.ptr, begin, b) == 0 &&
	       memcmp(data.ptr + b, label, n) == 0 && memcmp(data.ptr + b + n, "-----", 5) == 0 &&
	       (data.ptr[at] == '\n' || data.ptr[at] == '\r');
}

static kh_rc pem_in(struct kh_slice data, const char *label, unsigned char **der_out, long *der_len)
{
	BIO *bio = BIO_new_mem_buf(data.ptr, (int)data.len); /* len is within the limit */
	char *name = NULL, *header = NULL, *rest = NULL;
	unsigned char *der = NULL;
	long len = 0, rest_len;
	kh_rc rc = KH_ERR_BAD_INPUT;

	KH_ENSURE(bio != NULL, kh_ossl_error("BIO_new_mem_buf"));
	if (PEM_read_bio_ex(bio, &name, &header, &der, &len, PEM_FLAG_EAY_COMPATIBLE) != 1) {
		rc = kh_ossl_discard(KH_ERR_BAD_INPUT);
		goto out;
	}
	rest_len = BIO_get_mem_data(bio, &rest);
	KH_ENSURE_OUT(strcmp(name, label) == 0 && header[0] == '\0' && len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE_OUT(rest_len >= 0 && only_whitespace(rest, rest_len), KH_ERR_BAD_INPUT);
	*der_out = der;
	*der_len = len;
	der = NULL;
	rc = KH_OK;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(der);
	BIO_free(bio);
	return rc;
}

kh_rc kh_pki_der_in(struct kh_slice data, const char *label, const char *alt_label,
                    unsigned char **der_out, long *der_len, bool *owned)
{
	static const char begin[] = "-----BEGIN";

	KH_ENSURE(data.ptr != NULL && data.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(data.len <= KH_LIMIT_KEY_ENCODED_BYTES, KH_ERR_TOO_LARGE);
	if (data.len < sizeof(begin) - 1 || memcmp(data.ptr, begin, sizeof(begin) - 1) != 0) {
		*der_out = (unsigned char *)kh_unconst(data.ptr);
		*der_len = (long)data.len;
		*owned = false;
		return KH_OK;
	}
	if (alt_label != NULL && begins_with_label(data, alt_label))
		label = alt_label;
	KH_ENSURE(begins_with_label(data, label), KH_ERR_BAD_INPUT);
	KH_GUARD(pem_in(data, label, der_out, der_len));
	*owned = true;
	return KH_OK;
}

kh_rc kh_pki_x509_from_der(struct kh_slice der, X509 **out)
{
	const unsigned char *p = der.ptr;
	X509 *x;

	KH_ENSURE(der.ptr != NULL && der.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(der.len <= KH_LIMIT_KEY_ENCODED_BYTES, KH_ERR_TOO_LARGE);
	x = d2i_X509(NULL, &p, (long)der.len);
	KH_ENSURE(x != NULL, kh_ossl_discard(KH_ERR_BAD_INPUT));
	if (p != der.ptr + der.len) {
		X509_free(x);
		return KH_ERR_BAD_INPUT;
	}
	*out = x;
	return KH_OK;
}

kh_rc kh_pki_sign_ctx(const struct kh_pkey *signer, struct kh_slice sm2_id, EVP_MD_CTX **out)
{
	enum kh_pkey_type t = kh_pkey_type_of(signer);
	const EVP_MD *md = t == KH_PKEY_ED25519   ? NULL
	                   : t == KH_PKEY_EC_P384 ? kh_md_of(KH_HASH_SHA384)
	                   : t == KH_PKEY_SM2     ? kh_md_of(KH_HASH_SM3)
	                                          : kh_md_of(KH_HASH_SHA256);
	EVP_MD_CTX *mctx;
	EVP_PKEY_CTX *pctx = NULL;

	KH_ENSURE(kh_pkey_has_private(signer), KH_ERR_BAD_KEY);
	mctx = EVP_MD_CTX_new();
	KH_ENSURE(mctx != NULL, kh_ossl_error("EVP_MD_CTX_new"));
	if (EVP_DigestSignInit(mctx, &pctx, md, NULL, kh_pkey_evp(signer)) != 1) {
		EVP_MD_CTX_free(mctx);
		return kh_ossl_error("EVP_DigestSignInit");
	}
	if (t == KH_PKEY_SM2) {
		if (sm2_id.len == 0)
			sm2_id = KH_SLICE_LIT(KH_SM2_DEFAULT_ID);
		if (sm2_id.len > 255 ||
		    EVP_PKEY_CTX_set1_id(pctx, sm2_id.ptr, (int)sm2_id.len) <= 0) {
			EVP_MD_CTX_free(mctx);
			return sm2_id.len > 255 ? KH_ERR_BAD_INPUT : kh_ossl_error("set1_id");
		}
	}
	*out = mctx;
	return KH_OK;
}

kh_rc kh_pki_sm2_default_id(ASN1_OCTET_STRING **out)
{
	ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();

	if (id == NULL || ASN1_OCTET_STRING_set(id, (const unsigned char *)KH_SM2_DEFAULT_ID,
	                                        (int)(sizeof(KH_SM2_DEFAULT_ID) - 1)) != 1) {
		ASN1_OCTET_STRING_free(id);
		return kh_ossl_error("SM2 ID");
	}
	*out = id;
	return KH_OK;
}
