/* SPDX-License-Identifier: Apache-2.0 */
/* Inside pki/: issuing one certificate (issue.c), shared by submission and approval. */
#ifndef KH_PKI_ISSUE_H
#define KH_PKI_ISSUE_H

#include "pki/kh_pki_int.h"

struct kh_pki_issue {
	const struct kh_principal *signer; /* kh_pki_with_ca_key decides how it signs */
	const struct kh_pki_ca *ca;
	struct kh_slice ca_cert; /* DER */
	const struct kh_pki_profile *profile;
	const struct kh_pki_csr *csr;
	int64_t now;
	/* Where the signature's use of the CA key is staged (kh_keys.h "Deferred records"), so that
	 * the issuing change writes it in its own transaction (kh_pki_change.defer); NULL: it is
	 * committed on its own before the sign returns. */
	struct kh_keys_defer *defer;
};

struct kh_pki_issued {
	uint8_t serial[KH_PKI_SERIAL_LEN];
	char serial_hex[KH_PKI_SERIAL_HEX_MAX];
	int64_t not_before, not_after; /* seconds */
	struct kh_buf der;
	bool serial_taken; /* set by kh_pki_issue_store: draw again */
};

/* A fresh serial, validity from the profile capped by the CA's not_after, the signature. */
KH_MUST_CHECK kh_rc kh_pki_issue_sign(struct kh_pki *pk, const struct kh_pki_issue *in,
                                      struct kh_pki_issued *out);
/* Inside the change: inserts the certificate; a serial that exists sets out->serial_taken and
 * gives KH_ERR_CONFLICT. */
KH_MUST_CHECK kh_rc kh_pki_issue_store(struct kh_store_tx *tx, const struct kh_pki_issue *in,
                                       struct kh_pki_issued *out, int64_t request_id);
#endif
