/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Statements of the PKI (pki/kh_pki.h): CAs, profiles, registration requests, certificates and
 * CRLs (migration 5), trust anchors and OCSP responders (migration 6). Each kind of row is read in
 * one fixed column order (the enums below), so pki/ decodes it with one decoder. Times are Unix
 * nanoseconds; serials upper-case hex.
 */
#ifndef KH_STORE_PKI_H
#define KH_STORE_PKI_H

#include "store/kh_store.h"

enum kh_q_pki_ca_col {
	KH_QPC_ID,
	KH_QPC_KEYSTORE_ID,
	KH_QPC_NAME,
	KH_QPC_KIND,
	KH_QPC_KEY_TAG,
	KH_QPC_PARENT_ID,
	KH_QPC_CERTIFICATE,
	KH_QPC_CSR,
	KH_QPC_SUBJECT,
	KH_QPC_NOT_AFTER,
	KH_QPC_NEXT_CRL_NUMBER,
	KH_QPC_CREATED_AT,
	KH_QPC_ANCHOR_ID,
	KH_QPC_RESPONDER_KEY_TAG,
	KH_QPC_RESPONDER_NOT_AFTER,
	KH_QPC_RESPONDER_GENERATION,
};

enum kh_q_pki_anchor_col {
	KH_QPA_ID,
	KH_QPA_KEYSTORE_ID,
	KH_QPA_NAME,
	KH_QPA_FINGERPRINT,
	KH_QPA_SUBJECT,
	KH_QPA_NOT_AFTER,
	KH_QPA_CERTIFICATE,
	KH_QPA_CREATED_AT,
};

enum kh_q_pki_profile_col {
	KH_QPP_CA_ID,
	KH_QPP_NAME,
	KH_QPP_KEY_TYPES,
	KH_QPP_VALIDITY_DAYS,
	KH_QPP_KEY_USAGE,
	KH_QPP_EKUS,
	KH_QPP_IS_CA,
	KH_QPP_PATH_LEN,
	KH_QPP_APPROVAL,
	KH_QPP_KIND,
	KH_QPP_CRL_URL,
	KH_QPP_OCSP_URL,
	KH_QPP_CA_ISSUERS_URL,
	KH_QPP_CREATED_AT,
	KH_QPP_UPDATED_AT,
	KH_QPP_DUAL_PROFILE,
	KH_QPP_EST_LABEL, /* NULL: not served over EST */
	KH_QPP_EST_AUTH,
};

/* The request's columns, then the key store of its CA. */
enum kh_q_pki_request_col {
	KH_QPR_ID,
	KH_QPR_CA_ID,
	KH_QPR_PROFILE,
	KH_QPR_CSR,
	KH_QPR_SUBJECT,
	KH_QPR_SANS,
	KH_QPR_STATUS,
	KH_QPR_SUBMITTER,
	KH_QPR_OFFICER,
	KH_QPR_REASON,
	KH_QPR_SERIAL,
	KH_QPR_CREATED_AT,
	KH_QPR_UPDATED_AT,
	KH_QPR_KEYSTORE_ID,
	KH_QPR_KEYGEN,        /* NULL, or "server" (EST serverkeygen) */
	KH_QPR_ENVELOPE_FORM, /* NULL, or a kh_envelope_form_name */
	KH_QPR_ENC_SERIAL,    /* NULL, or the encryption certificate of a dual request */
	KH_QPR_HAS_ENVELOPE,  /* 1 when an envelope is stored */
};

/* The certificate's columns, then the key store of its CA. */
enum kh_q_pki_cert_col {
	KH_QPX_SERIAL,
	KH_QPX_CA_ID,
	KH_QPX_REQUEST_ID,
	KH_QPX_SUBJECT,
	KH_QPX_NOT_BEFORE,
	KH_QPX_NOT_AFTER,
	KH_QPX_STATUS,
	KH_QPX_REVOKED_AT,
	KH_QPX_REASON,
	KH_QPX_STATUS_AT,
	KH_QPX_DER,
	KH_QPX_CREATED_AT,
	KH_QPX_KEYSTORE_ID,
};

/* keystore_id, name, kind, key_tag, parent_id (or NULL), certificate (or NULL), csr (or NULL),
 * subject, not_after, created_at -> id (next_crl_number starts at 1) */
extern const struct kh_store_query kh_q_pki_ca_insert;
/* id -> CA columns */
extern const struct kh_store_query kh_q_pki_ca_get;
/* keystore_id, name -> CA columns */
extern const struct kh_store_query kh_q_pki_ca_by_name;
/* keystore_id (0: all), after_id, limit -> CA columns, by id */
extern const struct kh_store_query kh_q_pki_ca_list;
/* certificate, not_after, anchor_id (or NULL), id: installs an external CA's certificate (only
 * while it has none) */
extern const struct kh_store_query kh_q_pki_ca_install;
/* id -> responder_key_tag, responder_cert, responder_not_after (no row: the CA signs) */
extern const struct kh_store_query kh_q_pki_ca_responder;
/* key_tag, cert, not_after, new generation, id, old generation: a new responder certificate
 * (only if no other change came first) */
extern const struct kh_store_query kh_q_pki_ca_set_responder;
/* id: back to responses signed by the CA */
extern const struct kh_store_query kh_q_pki_ca_clear_responder;
/* before, limit -> id of the CAs whose responder certificate ends before `before` */
extern const struct kh_store_query kh_q_pki_ca_responder_due;
/* keystore_id -> certificate of each root CA, by id */
extern const struct kh_store_query kh_q_pki_ca_roots;

/* keystore_id, name, fingerprint, subject, not_after, certificate, created_at -> id */
extern const struct kh_store_query kh_q_pki_anchor_insert;
/* id -> anchor columns */
extern const struct kh_store_query kh_q_pki_anchor_get;
/* keystore_id, name, fingerprint -> id of an anchor with that name or certificate */
extern const struct kh_store_query kh_q_pki_anchor_clash;
/* keystore_id, after_id, limit -> anchor columns, by id */
extern const struct kh_store_query kh_q_pki_anchor_list;
/* id */
extern const struct kh_store_query kh_q_pki_anchor_delete;
/* id -> name of a CA whose certificate it issued */
extern const struct kh_store_query kh_q_pki_anchor_users;

/* id, number: takes CRL number `number` (only if it is still the next one) */
extern const struct kh_store_query kh_q_pki_ca_take_crl_number;

/* ca_id, name, key_types, validity_days, key_usage, ekus, is_ca, path_len, approval, kind,
 * crl_url, ocsp_url, ca_issuers_url, created_at, updated_at, dual_profile, est_label (or NULL),
 * est_auth */
extern const struct kh_store_query kh_q_pki_profile_insert;
/* ca_id, name -> profile columns */
extern const struct kh_store_query kh_q_pki_profile_get;
/* ca_id -> profile columns, by name */
extern const struct kh_store_query kh_q_pki_profile_list;
/* the insert's parameters, in its order (created_at is not changed) */
extern const struct kh_store_query kh_q_pki_profile_update;
/* est_label -> profile columns (labels are unique across the service) */
extern const struct kh_store_query kh_q_pki_profile_by_est_label;

/* ca_id, profile, csr, subject, sans, status, submitter, officer (or NULL), serial (or NULL),
 * created_at, updated_at, csr_sha256 (hex), keygen (or NULL), envelope_form (or NULL) -> id */
extern const struct kh_store_query kh_q_pki_request_insert;
/* ca_id, csr_sha256, submitter -> request columns of the newest such request */
extern const struct kh_store_query kh_q_pki_request_by_csr;
/* id -> envelope (or NULL) */
extern const struct kh_store_query kh_q_pki_request_envelope;
/* serial of a signing certificate -> enc_serial of its dual request (no row: none) */
extern const struct kh_store_query kh_q_pki_request_twin;
/* enc_serial (or NULL), envelope (or NULL), id */
extern const struct kh_store_query kh_q_pki_request_set_dual;
/* id -> request columns */
extern const struct kh_store_query kh_q_pki_request_get;
/* keystore_id, ca_id (0: any), status ('': any), after_id, limit -> request columns, by id */
extern const struct kh_store_query kh_q_pki_request_list;
/* status, officer, reason (or NULL), serial (or NULL), updated_at, id: decides a request that
 * is still pending */
extern const struct kh_store_query kh_q_pki_request_decide;

/* serial, ca_id, request_id (or NULL), subject, not_before, not_after, der, created_at (status
 * good) */
extern const struct kh_store_query kh_q_pki_cert_insert;
/* serial -> certificate columns */
extern const struct kh_store_query kh_q_pki_cert_get;
/* keystore_id, ca_id (0: any), status ('': any), after serial ('' from the start), limit ->
 * certificate columns, by serial */
extern const struct kh_store_query kh_q_pki_cert_list;
/* status, revoked_at (or NULL), reason (or NULL), status_at, serial, old status: changes the
 * status only if it still is the old one */
extern const struct kh_store_query kh_q_pki_cert_set_status;
/* ca_id, serial -> status, revoked_at, reason (OCSP) */
extern const struct kh_store_query kh_q_pki_cert_status;
/* ca_id -> serial, status, revoked_at, reason of the revoked and held certificates (full CRL) */
extern const struct kh_store_query kh_q_pki_cert_revoked;
/* ca_id, since -> serial, status, revoked_at, reason, status_at of those whose status changed
 * after since (delta CRL) */
extern const struct kh_store_query kh_q_pki_cert_changed;

/* ca_id, number, delta, base_number (or NULL), this_update, der */
extern const struct kh_store_query kh_q_pki_crl_insert;
/* ca_id, delta -> number, this_update, der of the newest CRL of that kind */
extern const struct kh_store_query kh_q_pki_crl_latest;

/* ---- key management centre (migration 7) ---- */

enum kh_q_kmc_key_col {
	KH_QKK_ID,
	KH_QKK_ALGORITHM,
	KH_QKK_STATE,
	KH_QKK_PUBLIC_KEY,
	KH_QKK_KEYSTORE_ID, /* NULL while spare */
	KH_QKK_CA_ID,
	KH_QKK_SERIAL,
	KH_QKK_REQUEST_ID,
	KH_QKK_HISTORY_REASON,
	KH_QKK_CREATED_AT,
	KH_QKK_USED_AT,
	KH_QKK_HISTORY_AT,
	KH_QKK_RETAIN_UNTIL,
};

/* algorithm, state, public_key, created_at, used_at (or NULL) -> id */
extern const struct kh_store_query kh_q_kmc_key_insert;
/* algorithm -> count of spare pairs */
extern const struct kh_store_query kh_q_kmc_key_depth;
/* algorithm, limit -> id of spare pairs, oldest first */
extern const struct kh_store_query kh_q_kmc_key_spares;
/* used_at, keystore_id, ca_id, serial, request_id (or NULL), id: a spare pair becomes the key
 * of that certificate (only while still spare) */
extern const struct kh_store_query kh_q_kmc_key_bind;
/* reason, history_at, retain_until, serial -> id of the pair moved to history */
extern const struct kh_store_query kh_q_kmc_key_to_history;
/* now, limit -> serial, keystore_id of pairs in use whose certificate has expired */
extern const struct kh_store_query kh_q_kmc_key_expired;
/* id -> kmc columns */
extern const struct kh_store_query kh_q_kmc_key_get;
/* serial -> kmc columns */
extern const struct kh_store_query kh_q_kmc_key_by_serial;
/* keystore_id, state ('': any), after_id, limit -> kmc columns, by id */
extern const struct kh_store_query kh_q_kmc_key_list;

enum kh_q_kmc_recovery_col {
	KH_QKR_ID,
	KH_QKR_KEYSTORE_ID,
	KH_QKR_KEY_ID,
	KH_QKR_SERIAL,
	KH_QKR_REQUESTER,
	KH_QKR_REASON,
	KH_QKR_FORM,
	KH_QKR_STATUS,
	KH_QKR_QUORUM,
	KH_QKR_APPROVALS,
	KH_QKR_HAS_ENVELOPE,
	KH_QKR_EXPIRES_AT,
	KH_QKR_CREATED_AT,
	KH_QKR_UPDATED_AT,
};

/* keystore_id, key_id, serial, requester, reason, recipient (CSR), form, quorum, expires_at,
 * created_at, updated_at -> id (status pending, no approvals) */
extern const struct kh_store_query kh_q_kmc_recovery_insert;
/* id -> recovery columns */
extern const struct kh_store_query kh_q_kmc_recovery_get;
/* keystore_id, status ('': any), after_id, limit -> recovery columns, by id */
extern const struct kh_store_query kh_q_kmc_recovery_list;
/* id -> recipient */
extern const struct kh_store_query kh_q_kmc_recovery_recipient;
/* id -> envelope (or NULL) */
extern const struct kh_store_query kh_q_kmc_recovery_envelope;
/* status, approvals, envelope (or NULL), updated_at, id, old status */
extern const struct kh_store_query kh_q_kmc_recovery_set;
/* now, limit -> id, keystore_id of pending recoveries past their wait */
extern const struct kh_store_query kh_q_kmc_recovery_due;
/* recovery_id, officer, approve (0/1), reason (or NULL), at */
extern const struct kh_store_query kh_q_kmc_vote_insert;
/* recovery_id, officer -> approve */
extern const struct kh_store_query kh_q_kmc_vote_get;

#endif
