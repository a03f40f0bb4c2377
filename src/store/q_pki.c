// SPDX-License-Identifier: Apache-2.0
/* The statements of the PKI (see kh_store_pki.h). */
#include "store/kh_store_pki.h"

#define CA_COLUMNS                                                                                 \
	"id, keystore_id, name, kind, key_tag, parent_id, certificate, csr, subject, not_after,"   \
	" next_crl_number, created_at, anchor_id, responder_key_tag, responder_not_after,"         \
	" responder_generation"
#define ANCHOR_COLUMNS                                                                             \
	"id, keystore_id, name, fingerprint, subject, not_after, certificate, created_at"
#define PROFILE_COLUMNS                                                                            \
	"ca_id, name, key_types, validity_days, key_usage, ekus, is_ca, path_len, approval, kind," \
	" crl_url, ocsp_url, ca_issuers_url, created_at, updated_at, dual_profile, est_label,"     \
	" est_auth"
#define REQUEST_SELECT                                                                             \
	"SELECT r.id, r.ca_id, r.profile, r.csr, r.subject, r.sans, r.status, r.submitter,"        \
	" r.officer, r.reason, r.serial, r.created_at, r.updated_at, c.keystore_id, r.keygen,"     \
	" r.envelope_form, r.enc_serial, r.envelope IS NOT NULL"                                   \
	" FROM pki_requests r JOIN pki_cas c ON c.id = r.ca_id"
#define CERT_SELECT                                                                                \
	"SELECT x.serial, x.ca_id, x.request_id, x.subject, x.not_before, x.not_after, x.status,"  \
	" x.revoked_at, x.reason, x.status_at, x.der, x.created_at, c.keystore_id"                 \
	" FROM pki_certificates x JOIN pki_cas c ON c.id = x.ca_id"

const struct kh_store_query kh_q_pki_ca_insert = {
    "pki_ca.insert",
    "INSERT INTO pki_cas (keystore_id, name, kind, key_tag, parent_id, certificate, csr, subject,"
    " not_after, next_crl_number, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)"
    " RETURNING id"};
const struct kh_store_query kh_q_pki_ca_get = {"pki_ca.get",
                                               "SELECT " CA_COLUMNS " FROM pki_cas WHERE id = ?"};
const struct kh_store_query kh_q_pki_ca_by_name = {
    "pki_ca.by_name", "SELECT " CA_COLUMNS " FROM pki_cas WHERE keystore_id = ? AND name = ?"};
const struct kh_store_query kh_q_pki_ca_list = {
    "pki_ca.list", "SELECT " CA_COLUMNS " FROM pki_cas WHERE (?1 = 0 OR keystore_id = ?1)"
                   " AND id > ?2 ORDER BY id LIMIT ?3"};
const struct kh_store_query kh_q_pki_ca_install = {
    "pki_ca.install", "UPDATE pki_cas SET certificate = ?, not_after = ?, anchor_id = ?"
                      " WHERE id = ? AND certificate IS NULL"};
const struct kh_store_query kh_q_pki_ca_responder = {
    "pki_ca.responder", "SELECT responder_key_tag, responder_cert, responder_not_after"
                        " FROM pki_cas WHERE id = ? AND responder_cert IS NOT NULL"};
const struct kh_store_query kh_q_pki_ca_set_responder = {
    "pki_ca.set_responder",
    "UPDATE pki_cas SET responder_key_tag = ?, responder_cert = ?, responder_not_after = ?,"
    " responder_generation = ? WHERE id = ? AND responder_generation = ?"};
const struct kh_store_query kh_q_pki_ca_clear_responder = {
    "pki_ca.clear_responder",
    "UPDATE pki_cas SET responder_key_tag = NULL, responder_cert = NULL,"
    " responder_not_after = NULL WHERE id = ? AND responder_cert IS NOT NULL"};
const struct kh_store_query kh_q_pki_ca_responder_due = {
    "pki_ca.responder_due", "SELECT id FROM pki_cas WHERE responder_cert IS NOT NULL"
                            " AND responder_not_after < ? ORDER BY responder_not_after LIMIT ?"};
const struct kh_store_query kh_q_pki_ca_roots = {
    "pki_ca.roots", "SELECT certificate FROM pki_cas WHERE keystore_id = ? AND kind = 'root'"
                    " AND certificate IS NOT NULL ORDER BY id"};

const struct kh_store_query kh_q_pki_anchor_insert = {
    "pki_anchor.insert",
    "INSERT INTO pki_trust_anchors (keystore_id, name, fingerprint, subject, not_after,"
    " certificate, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_pki_anchor_get = {
    "pki_anchor.get", "SELECT " ANCHOR_COLUMNS " FROM pki_trust_anchors WHERE id = ?"};
const struct kh_store_query kh_q_pki_anchor_clash = {
    "pki_anchor.clash", "SELECT id FROM pki_trust_anchors WHERE keystore_id = ?"
                        " AND (name = ? OR fingerprint = ?)"};
const struct kh_store_query kh_q_pki_anchor_list = {
    "pki_anchor.list", "SELECT " ANCHOR_COLUMNS " FROM pki_trust_anchors WHERE keystore_id = ?"
                       " AND id > ? ORDER BY id LIMIT ?"};
const struct kh_store_query kh_q_pki_anchor_delete = {"pki_anchor.delete",
                                                      "DELETE FROM pki_trust_anchors WHERE id = ?"};
const struct kh_store_query kh_q_pki_anchor_users = {
    "pki_anchor.users", "SELECT name FROM pki_cas WHERE anchor_id = ? ORDER BY id LIMIT 1"};

const struct kh_store_query kh_q_pki_ca_take_crl_number = {
    "pki_ca.take_crl_number", "UPDATE pki_cas SET next_crl_number = next_crl_number + 1"
                              " WHERE id = ? AND next_crl_number = ?"};

const struct kh_store_query kh_q_pki_profile_insert = {
    "pki_profile.insert", "INSERT INTO pki_profiles (" PROFILE_COLUMNS ")"
                          " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_pki_profile_get = {
    "pki_profile.get", "SELECT " PROFILE_COLUMNS " FROM pki_profiles WHERE ca_id = ? AND name = ?"};
const struct kh_store_query kh_q_pki_profile_list = {
    "pki_profile.list",
    "SELECT " PROFILE_COLUMNS " FROM pki_profiles WHERE ca_id = ? ORDER BY name"};
const struct kh_store_query kh_q_pki_profile_update = {
    "pki_profile.update",
    "UPDATE pki_profiles SET key_types = ?3, validity_days = ?4, key_usage = ?5, ekus = ?6,"
    " is_ca = ?7, path_len = ?8, approval = ?9, kind = ?10, crl_url = ?11, ocsp_url = ?12,"
    " ca_issuers_url = ?13, updated_at = ?15, dual_profile = ?16, est_label = ?17,"
    " est_auth = ?18 WHERE ca_id = ?1 AND name = ?2"};
const struct kh_store_query kh_q_pki_profile_by_est_label = {
    "pki_profile.by_est_label", "SELECT " PROFILE_COLUMNS " FROM pki_profiles WHERE est_label = ?"};

const struct kh_store_query kh_q_pki_request_insert = {
    "pki_request.insert",
    "INSERT INTO pki_requests (ca_id, profile, csr, subject, sans, status, submitter, officer,"
    " serial, created_at, updated_at, csr_sha256, keygen, envelope_form)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_pki_request_by_csr = {
    "pki_request.by_csr", REQUEST_SELECT " WHERE r.ca_id = ? AND r.csr_sha256 = ?"
                                         " AND r.submitter = ? ORDER BY r.id DESC LIMIT 1"};
const struct kh_store_query kh_q_pki_request_twin = {
    "pki_request.twin", "SELECT enc_serial FROM pki_requests WHERE serial = ?"
                        " AND enc_serial IS NOT NULL"};
const struct kh_store_query kh_q_pki_request_envelope = {
    "pki_request.envelope", "SELECT envelope FROM pki_requests WHERE id = ?"};
const struct kh_store_query kh_q_pki_request_set_dual = {
    "pki_request.set_dual", "UPDATE pki_requests SET enc_serial = ?, envelope = ? WHERE id = ?"};
const struct kh_store_query kh_q_pki_request_get = {"pki_request.get",
                                                    REQUEST_SELECT " WHERE r.id = ?"};
const struct kh_store_query kh_q_pki_request_list = {
    "pki_request.list", REQUEST_SELECT " WHERE c.keystore_id = ?1 AND (?2 = 0 OR r.ca_id = ?2)"
                                       " AND (?3 = '' OR r.status = ?3) AND r.id > ?4"
                                       " ORDER BY r.id LIMIT ?5"};
const struct kh_store_query kh_q_pki_request_decide = {
    "pki_request.decide", "UPDATE pki_requests SET status = ?, officer = ?, reason = ?,"
                          " serial = ?, updated_at = ? WHERE id = ? AND status = 'pending'"};

const struct kh_store_query kh_q_pki_cert_insert = {
    "pki_cert.insert",
    "INSERT INTO pki_certificates (serial, ca_id, request_id, subject, not_before, not_after,"
    " status, der, created_at) VALUES (?, ?, ?, ?, ?, ?, 'good', ?, ?)"};
const struct kh_store_query kh_q_pki_cert_get = {"pki_cert.get", CERT_SELECT " WHERE x.serial = ?"};
const struct kh_store_query kh_q_pki_cert_list = {
    "pki_cert.list", CERT_SELECT " WHERE c.keystore_id = ?1 AND (?2 = 0 OR x.ca_id = ?2)"
                                 " AND (?3 = '' OR x.status = ?3) AND x.serial > ?4"
                                 " ORDER BY x.serial LIMIT ?5"};
const struct kh_store_query kh_q_pki_cert_set_status = {
    "pki_cert.set_status", "UPDATE pki_certificates SET status = ?, revoked_at = ?, reason = ?,"
                           " status_at = ? WHERE serial = ? AND status = ?"};
const struct kh_store_query kh_q_pki_cert_status = {
    "pki_cert.status",
    "SELECT status, revoked_at, reason FROM pki_certificates WHERE ca_id = ? AND serial = ?"};
const struct kh_store_query kh_q_pki_cert_revoked = {
    "pki_cert.revoked",
    "SELECT serial, status, revoked_at, reason FROM pki_certificates WHERE ca_id = ?"
    " AND status IN ('revoked', 'hold') ORDER BY serial"};
const struct kh_store_query kh_q_pki_cert_changed = {
    "pki_cert.changed", "SELECT serial, status, revoked_at, reason, status_at FROM pki_certificates"
                        " WHERE ca_id = ? AND status_at > ? ORDER BY serial"};

const struct kh_store_query kh_q_pki_crl_insert = {
    "pki_crl.insert", "INSERT INTO pki_crls (ca_id, number, delta, base_number, this_update, der)"
                      " VALUES (?, ?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_pki_crl_latest = {
    "pki_crl.latest", "SELECT number, this_update, der FROM pki_crls WHERE ca_id = ? AND delta = ?"
                      " ORDER BY number DESC LIMIT 1"};

#define KMC_COLUMNS                                                                                \
	"id, algorithm, state, public_key, keystore_id, ca_id, serial, request_id,"                \
	" history_reason, created_at, used_at, history_at, retain_until"

const struct kh_store_query kh_q_kmc_key_insert = {
    "kmc_key.insert", "INSERT INTO kmc_keys (algorithm, state, public_key, created_at, used_at)"
                      " VALUES (?, ?, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_kmc_key_depth = {
    "kmc_key.depth", "SELECT count(*) FROM kmc_keys WHERE algorithm = ? AND state = 'spare'"};
const struct kh_store_query kh_q_kmc_key_spares = {
    "kmc_key.spares",
    "SELECT id FROM kmc_keys WHERE algorithm = ? AND state = 'spare' ORDER BY id LIMIT ?"};
const struct kh_store_query kh_q_kmc_key_bind = {
    "kmc_key.bind", "UPDATE kmc_keys SET state = 'in_use', used_at = ?, keystore_id = ?,"
                    " ca_id = ?, serial = ?, request_id = ? WHERE id = ? AND state = 'spare'"};
const struct kh_store_query kh_q_kmc_key_to_history = {
    "kmc_key.to_history",
    "UPDATE kmc_keys SET state = 'history', history_reason = ?, history_at = ?,"
    " retain_until = ? WHERE serial = ? AND state = 'in_use' RETURNING id"};
const struct kh_store_query kh_q_kmc_key_expired = {
    "kmc_key.expired", "SELECT k.serial, k.keystore_id FROM kmc_keys k JOIN pki_certificates x"
                       " ON x.serial = k.serial WHERE k.state = 'in_use' AND x.not_after < ?"
                       " ORDER BY k.id LIMIT ?"};
const struct kh_store_query kh_q_kmc_key_get = {"kmc_key.get", "SELECT " KMC_COLUMNS
                                                               " FROM kmc_keys WHERE id = ?"};
const struct kh_store_query kh_q_kmc_key_by_serial = {
    "kmc_key.by_serial", "SELECT " KMC_COLUMNS " FROM kmc_keys WHERE serial = ?"};
const struct kh_store_query kh_q_kmc_key_list = {
    "kmc_key.list", "SELECT " KMC_COLUMNS " FROM kmc_keys WHERE keystore_id = ?1"
                    " AND (?2 = '' OR state = ?2) AND id > ?3 ORDER BY id LIMIT ?4"};

#define RECOVERY_COLUMNS                                                                           \
	"id, keystore_id, key_id, serial, requester, reason, form, status, quorum, approvals,"     \
	" envelope IS NOT NULL, expires_at, created_at, updated_at"

const struct kh_store_query kh_q_kmc_recovery_insert = {
    "kmc_recovery.insert",
    "INSERT INTO kmc_recoveries (keystore_id, key_id, serial, requester, reason, recipient, form,"
    " status, quorum, approvals, expires_at, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, 0, ?, ?, ?) RETURNING id"};
const struct kh_store_query kh_q_kmc_recovery_get = {
    "kmc_recovery.get", "SELECT " RECOVERY_COLUMNS " FROM kmc_recoveries WHERE id = ?"};
const struct kh_store_query kh_q_kmc_recovery_list = {
    "kmc_recovery.list", "SELECT " RECOVERY_COLUMNS " FROM kmc_recoveries WHERE keystore_id = ?1"
                         " AND (?2 = '' OR status = ?2) AND id > ?3 ORDER BY id LIMIT ?4"};
const struct kh_store_query kh_q_kmc_recovery_recipient = {
    "kmc_recovery.recipient", "SELECT recipient FROM kmc_recoveries WHERE id = ?"};
const struct kh_store_query kh_q_kmc_recovery_envelope = {
    "kmc_recovery.envelope", "SELECT envelope FROM kmc_recoveries WHERE id = ?"};
const struct kh_store_query kh_q_kmc_recovery_set = {
    "kmc_recovery.set", "UPDATE kmc_recoveries SET status = ?, approvals = ?, envelope = ?,"
                        " updated_at = ? WHERE id = ? AND status = ?"};
const struct kh_store_query kh_q_kmc_recovery_due = {
    "kmc_recovery.due", "SELECT id, keystore_id FROM kmc_recoveries WHERE status = 'pending'"
                        " AND expires_at < ? ORDER BY id LIMIT ?"};
const struct kh_store_query kh_q_kmc_vote_insert = {
    "kmc_vote.insert",
    "INSERT INTO kmc_votes (recovery_id, officer, approve, reason, at) VALUES (?, ?, ?, ?, ?)"};
const struct kh_store_query kh_q_kmc_vote_get = {
    "kmc_vote.get", "SELECT approve FROM kmc_votes WHERE recovery_id = ? AND officer = ?"};
