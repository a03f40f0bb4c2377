/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the OCSP request parser (RFC 6960 4.1) and the GET form's decoding (A.1). Every input
 * is tried both as DER and as a GET path segment. Properties checked, not only "no crash": a
 * rejected input leaves the output untouched; an accepted request has 1..16 CertIDs with
 * consistent hash and serial lengths and a nonce within bounds, and a response built for it
 * reads back with the same CertIDs and nonce; a decoded GET segment is at most 16 KiB; and the
 * Base64 of any input of that size decodes back to the input.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "crypto/kh_pki_status.h"
#include "kh_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum {
	OUT_MAX = 256 * 1024,
	FILL = 0xa5,
};

/* The responder: a P-256 CA made once. */
static struct kh_pkey *ca_key;
static struct kh_buf ca_der;

/* DER of a PEM certificate (strict Base64 once the lines are joined). */
static void pem_to_der(struct kh_slice pem, struct kh_buf *out)
{
	struct kh_buf b64;
	kh_buf_init(&b64, OUT_MAX, KH_BUF_PLAIN);
	const char *p = (const char *)pem.ptr, *end = p + pem.len;
	const char *body = strstr(p, "-----\n");
	if (body == NULL)
		abort();
	for (p = body + 6; p < end && *p != '-'; p++) {
		if (*p != '\n' && kh_buf_append_byte(&b64, (uint8_t)*p) != KH_OK)
			abort();
	}
	if (kh_base64_decode(kh_buf_slice(&b64), out) != KH_OK)
		abort();
	kh_buf_cleanup(&b64);
}

/* The responder's key and certificate, made once with leak tracking off (kh_fuzz.h). */
static void init_once(void)
{
	static bool ready;
	struct kh_buf pem;

	if (ready)
		return;
	kh_fuzz_crypto_init();
	kh_fuzz_lsan_off();
	kh_buf_init(&pem, OUT_MAX, KH_BUF_PLAIN);
	kh_buf_init(&ca_der, OUT_MAX, KH_BUF_PLAIN);
	if (kh_pkey_generate(KH_PKEY_EC_P256, &ca_key) != KH_OK ||
	    kh_x509_self_signed_ca(ca_key, "fuzz CA", 30, &pem) != KH_OK)
		abort();
	pem_to_der(kh_buf_slice(&pem), &ca_der);
	kh_buf_cleanup(&pem);
	kh_fuzz_lsan_on();
	ready = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	init_once();
	return 0;
}

static void check_request(const struct kh_ocsp_request *r)
{
	if (r->id_count < 1 || r->id_count > KH_PKI_OCSP_CERTIDS_MAX)
		abort();
	if (r->has_nonce ? r->nonce_len < 1 || r->nonce_len > KH_PKI_OCSP_NONCE_MAX_LEN
	                 : r->nonce_len != 0)
		abort();
	for (size_t i = 0; i < r->id_count; i++) {
		const struct kh_ocsp_certid *id = &r->ids[i];
		size_t want = id->hash == KH_OCSP_HASH_SHA1     ? 20
		              : id->hash == KH_OCSP_HASH_SHA256 ? 32
		                                                : 0;
		if (want == 0 || id->hash_len != want || id->serial_len < 1 ||
		    id->serial_len > KH_PKI_SERIAL_MAX_LEN || id->serial[0] == 0)
			abort();
		bool match = false;
		if (kh_pki_ocsp_certid_matches(id, kh_buf_slice(&ca_der), &match) != KH_OK)
			abort();
	}
}

/* A response for every CertID of r reads back with the same CertIDs and nonce. */
static void check_response(const struct kh_ocsp_request *r)
{
	static struct kh_ocsp_single singles[KH_PKI_OCSP_CERTIDS_MAX];
	static struct kh_ocsp_response_info info;
	struct kh_buf resp;

	for (size_t i = 0; i < r->id_count; i++)
		singles[i] = (struct kh_ocsp_single){
		    .id = r->ids[i], .status = KH_OCSP_UNKNOWN, .this_update = 1700000000};
	const struct kh_ocsp_response_params p = {
	    .signer_cert = kh_buf_slice(&ca_der),
	    .produced_at = 1700000000,
	    .singles = singles,
	    .single_count = r->id_count,
	    .nonce = KH_SLICE(r->nonce, r->nonce_len),
	};
	kh_buf_init(&resp, OUT_MAX, KH_BUF_PLAIN);
	if (kh_pki_ocsp_response_build(ca_key, &p, &resp) != KH_OK ||
	    kh_pki_ocsp_verify(kh_buf_slice(&resp), kh_buf_slice(&ca_der)) != KH_OK ||
	    kh_pki_ocsp_response_parse(kh_buf_slice(&resp), &info) != KH_OK)
		abort();
	if (info.single_count != r->id_count || info.has_nonce != r->has_nonce ||
	    info.nonce_len != r->nonce_len || memcmp(info.nonce, r->nonce, r->nonce_len) != 0)
		abort();
	for (size_t i = 0; i < r->id_count; i++) {
		const struct kh_ocsp_certid *a = &info.singles[i].id, *b = &r->ids[i];
		if (a->hash != b->hash || a->serial_len != b->serial_len ||
		    memcmp(a->serial, b->serial, b->serial_len) != 0 ||
		    memcmp(a->name_hash, b->name_hash, b->hash_len) != 0 ||
		    memcmp(a->key_hash, b->key_hash, b->hash_len) != 0)
			abort();
	}
	kh_buf_cleanup(&resp);
}

static void try_der(struct kh_slice in)
{
	static struct kh_ocsp_request r, untouched;
	memset(&r, FILL, sizeof(r));
	memset(&untouched, FILL, sizeof(untouched));
	if (kh_pki_ocsp_request_parse(in, &r) == KH_OK) {
		check_request(&r);
		check_response(&r);
	} else if (memcmp(&r, &untouched, sizeof(r)) != 0) {
		abort();
	}
}

static void try_get(struct kh_slice in)
{
	struct kh_buf der, b64;
	kh_buf_init(&der, OUT_MAX, KH_BUF_PLAIN);
	if (kh_buf_append_byte(&der, FILL) != KH_OK)
		abort();
	if (kh_pki_ocsp_get_decode(in, &der) == KH_OK) {
		if (der.len - 1 > KH_LIMIT_OCSP_REQUEST_BYTES)
			abort();
		try_der(KH_SLICE(der.ptr + 1, der.len - 1));
	} else if (der.len != 1 || der.ptr[0] != FILL) {
		abort();
	}
	/* Base64 of the input, as a client would send it, decodes back to the input. */
	if (in.len > 0 && in.len <= KH_LIMIT_OCSP_REQUEST_BYTES) {
		kh_buf_init(&b64, OUT_MAX, KH_BUF_PLAIN);
		kh_buf_clear(&der);
		if (kh_base64_encode(in, &b64) != KH_OK ||
		    kh_pki_ocsp_get_decode(kh_buf_slice(&b64), &der) != KH_OK ||
		    !kh_slice_eq(kh_buf_slice(&der), in))
			abort();
		kh_buf_cleanup(&b64);
	}
	kh_buf_cleanup(&der);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	try_der(KH_SLICE(data, size));
	try_get(KH_SLICE(data, size));
	kh_crypto_thread_cleanup();
	return 0;
}
