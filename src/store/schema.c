// SPDX-License-Identifier: Apache-2.0
/*
 * The schema, as numbered migrations applied in order at open, each in the transaction that
 * records it in schema_migrations. A migration is never edited once released: changes come as a
 * new number. The SQL is the subset SQLite and PostgreSQL share (INTEGER, TEXT, BLOB mapped to
 * BYTEA by the PostgreSQL back-end); times are Unix nanoseconds in INTEGER columns.
 *
 * What lives where:
 *  meta           small named values of the system: barrier configuration, the encrypted
 *                 keyring, the audit head.
 *  sealed         every secret, AES-256-GCM under a root key term (barrier/), addressed by a
 *                 scope string that is also its associated data, so rows cannot be swapped.
 *  keystores, accounts, keys, key_versions, grants      tenants and their keys (keys/).
 *  usage_history  the latest uses of each key; audit the HMAC chain; notifications the outbox.
 *  tokens         API tokens as keyed hashes (authz/).
 *  webhooks       where an account's notifications are POSTed (audit/); the signing secret is
 *                 a barrier secret ("webhook/<account>"), never a column here.
 *  xks_stores, xks_credentials, xks_keys   AWS external key stores (keys/, XKS.md): one per URI
 *                 path prefix, their SigV4 credentials (the secret is a barrier secret,
 *                 "xks/<store>/<access key id>", never a column), and the keys attached to them
 *                 under external key ids.
 *  nodes          the keyholdd processes of a cluster and their last heartbeat (XKS health).
 *  pki_cas, pki_profiles, pki_requests, pki_certificates, pki_crls   the PKI (pki/, PKI.md):
 *                 CAs whose private key is a keyhold key of the key store (key_tag), their
 *                 profiles, registration requests, issued certificates and signed CRLs.
 *  pki_trust_anchors  root certificates a key store trusts without holding their keys.
 */
#include "store/kh_store_int.h"

static const char *const m1[] = {
    "CREATE TABLE meta ("
    " name TEXT PRIMARY KEY,"
    " value BLOB NOT NULL)",

    "CREATE TABLE sealed ("
    " scope TEXT PRIMARY KEY,"
    " term INTEGER NOT NULL,"
    " blob BLOB NOT NULL)",
    "CREATE INDEX sealed_by_term ON sealed(term)",

    "CREATE TABLE keystores ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL)",

    "CREATE TABLE accounts ("
    " id INTEGER PRIMARY KEY,"
    " keystore_id INTEGER NOT NULL REFERENCES keystores(id),"
    " name TEXT NOT NULL,"
    " policies INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (keystore_id, name))",

    /* A deleted key keeps its row (metadata readable for 365 days) but frees its name. */
    "CREATE TABLE keys ("
    " id INTEGER PRIMARY KEY,"
    " keystore_id INTEGER NOT NULL REFERENCES keystores(id),"
    " tag TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " type TEXT NOT NULL,"
    " usage TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " current_version INTEGER NOT NULL,"
    " convergent INTEGER NOT NULL,"
    " rotation_period_days INTEGER NOT NULL,"
    " pending_period_days INTEGER,"
    " next_rotation_at INTEGER,"
    " description TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " deletion_at INTEGER,"
    " deleted_at INTEGER,"
    " usage_count INTEGER NOT NULL DEFAULT 0,"
    " last_used_at INTEGER)",
    "CREATE UNIQUE INDEX keys_live_name ON keys(keystore_id, name) WHERE state <> 'deleted'",
    "CREATE INDEX keys_by_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL",
    "CREATE INDEX keys_by_deletion ON keys(deletion_at) WHERE deletion_at IS NOT NULL",
    "CREATE INDEX keys_by_deleted ON keys(deleted_at) WHERE deleted_at IS NOT NULL",

    /* state is the version's own state (enabled/disabled); the key's state covers it. */
    "CREATE TABLE key_versions ("
    " key_id INTEGER NOT NULL REFERENCES keys(id),"
    " version INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " public_key BLOB,"
    " destroyed INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (key_id, version))",

    "CREATE TABLE grants ("
    " key_id INTEGER NOT NULL REFERENCES keys(id),"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " role TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (key_id, account_id, role))",
    "CREATE INDEX grants_by_account ON grants(account_id)",

    "CREATE TABLE usage_history ("
    " id INTEGER PRIMARY KEY,"
    " key_id INTEGER NOT NULL REFERENCES keys(id),"
    " at INTEGER NOT NULL,"
    " operation TEXT NOT NULL,"
    " version INTEGER,"
    " principal TEXT NOT NULL,"
    " result TEXT NOT NULL)",
    "CREATE INDEX usage_by_key ON usage_history(key_id, id)",

    /* hash = HMAC(audit key, previous hash || canonical record); see audit/. */
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY,"
    " at INTEGER NOT NULL,"
    " request_id TEXT NOT NULL,"
    " principal TEXT NOT NULL,"
    " source TEXT NOT NULL,"
    " operation TEXT NOT NULL,"
    " keystore_id INTEGER,"
    " key_tag TEXT,"
    " version INTEGER,"
    " result TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " hash BLOB NOT NULL)",
    "CREATE INDEX audit_by_keystore ON audit(keystore_id, seq)",

    "CREATE TABLE notifications ("
    " id INTEGER PRIMARY KEY,"
    " account_id INTEGER NOT NULL REFERENCES accounts(id),"
    " at INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " key_tag TEXT,"
    " detail TEXT NOT NULL,"
    " acked INTEGER NOT NULL DEFAULT 0,"
    " delivered INTEGER NOT NULL DEFAULT 0,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER)",
    "CREATE INDEX notifications_by_account ON notifications(account_id, id)",
    ("CREATE INDEX notifications_undelivered ON notifications(next_attempt_at)"
     " WHERE delivered = 0"),
};

/* 2: API tokens (authz/), stored as keyed hashes; account NULL is the operator. */
static const char *const m2[] = {
    "CREATE TABLE tokens ("
    " id INTEGER PRIMARY KEY,"
    " account_id INTEGER REFERENCES accounts(id),"
    " hash BLOB NOT NULL UNIQUE,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER,"
    " revoked_at INTEGER,"
    " created_by TEXT NOT NULL)",
    "CREATE INDEX tokens_by_account ON tokens(account_id)",
};

/* 3: webhooks (audit/): one endpoint per account. A notice the deliverer gives up on, or one of
 * an account without a webhook, keeps delivered = 0 with next_attempt_at NULL (inbox only). */
static const char *const m3[] = {
    "CREATE TABLE webhooks ("
    " account_id INTEGER PRIMARY KEY REFERENCES accounts(id),"
    " url TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
};

/* 4: XKS key stores (keys/kh_keys_xks.h). A keyhold key is attached to at most one
 * (store, external key id): the unique index on key_id. A credential is live while revoked_at
 * is NULL; its secret is the barrier secret "xks/<store id>/<access key id>", deleted on
 * revocation. nodes: one row per keyholdd, upserted by its heartbeat. */
static const char *const m4[] = {
    "CREATE TABLE xks_stores ("
    " id INTEGER PRIMARY KEY,"
    " keystore_id INTEGER NOT NULL REFERENCES keystores(id),"
    " prefix TEXT NOT NULL UNIQUE,"
    " region TEXT NOT NULL,"
    " secondary_auth INTEGER NOT NULL,"
    " enabled INTEGER NOT NULL,"
    " quota_rps INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE INDEX xks_stores_by_keystore ON xks_stores(keystore_id, id)",

    "CREATE TABLE xks_credentials ("
    " access_key_id TEXT PRIMARY KEY,"
    " store_id INTEGER NOT NULL REFERENCES xks_stores(id),"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER)",
    "CREATE INDEX xks_credentials_by_store ON xks_credentials(store_id, created_at)",

    "CREATE TABLE xks_keys ("
    " store_id INTEGER NOT NULL REFERENCES xks_stores(id),"
    " external_key_id TEXT NOT NULL,"
    " key_id INTEGER NOT NULL REFERENCES keys(id),"
    " usages INTEGER NOT NULL,"
    " expires_at INTEGER,"
    " administrators TEXT NOT NULL,"
    " users TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (store_id, external_key_id))",
    "CREATE UNIQUE INDEX xks_keys_by_key ON xks_keys(key_id)",

    "CREATE TABLE nodes ("
    " id TEXT PRIMARY KEY,"
    " sealed INTEGER NOT NULL,"
    " healthy INTEGER NOT NULL,"
    " seen_at INTEGER NOT NULL)",
};

/* 5: the PKI (pki/kh_pki.h). A CA's key is the keyhold key key_tag of its key store; its
 * certificate is NULL until an external CA's certificate is installed (csr holds the request
 * sent out). Serials are upper-case hex, unique across CAs. status_at is when a certificate's
 * status last changed (revoke, hold, release; NULL while never changed): delta CRLs list what
 * changed after their base. */
static const char *const m5[] = {
    "CREATE TABLE pki_cas ("
    " id INTEGER PRIMARY KEY,"
    " keystore_id INTEGER NOT NULL REFERENCES keystores(id),"
    " name TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " key_tag TEXT NOT NULL,"
    " parent_id INTEGER REFERENCES pki_cas(id),"
    " certificate BLOB,"
    " csr BLOB,"
    " subject TEXT NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " next_crl_number INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (keystore_id, name))",

    "CREATE TABLE pki_profiles ("
    " ca_id INTEGER NOT NULL REFERENCES pki_cas(id),"
    " name TEXT NOT NULL,"
    " key_types INTEGER NOT NULL,"
    " validity_days INTEGER NOT NULL,"
    " key_usage INTEGER NOT NULL,"
    " ekus TEXT NOT NULL,"
    " is_ca INTEGER NOT NULL,"
    " path_len INTEGER NOT NULL,"
    " approval INTEGER NOT NULL,"
    " kind TEXT NOT NULL,"
    " crl_url TEXT NOT NULL,"
    " ocsp_url TEXT NOT NULL,"
    " ca_issuers_url TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (ca_id, name))",

    "CREATE TABLE pki_requests ("
    " id INTEGER PRIMARY KEY,"
    " ca_id INTEGER NOT NULL REFERENCES pki_cas(id),"
    " profile TEXT NOT NULL,"
    " csr BLOB NOT NULL,"
    " subject TEXT NOT NULL,"
    " sans TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " submitter TEXT NOT NULL,"
    " officer TEXT,"
    " reason TEXT,"
    " serial TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE INDEX pki_requests_by_status ON pki_requests(ca_id, status, id)",

    "CREATE TABLE pki_certificates ("
    " serial TEXT PRIMARY KEY,"
    " ca_id INTEGER NOT NULL REFERENCES pki_cas(id),"
    " request_id INTEGER REFERENCES pki_requests(id),"
    " subject TEXT NOT NULL,"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " revoked_at INTEGER,"
    " reason INTEGER,"
    " status_at INTEGER,"
    " der BLOB NOT NULL,"
    " created_at INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX pki_certificates_by_ca ON pki_certificates(ca_id, serial)",
    "CREATE INDEX pki_certificates_by_status ON pki_certificates(ca_id, status, serial)",
    "CREATE INDEX pki_certificates_by_change ON pki_certificates(ca_id, status_at)",

    "CREATE TABLE pki_crls ("
    " ca_id INTEGER NOT NULL REFERENCES pki_cas(id),"
    " number INTEGER NOT NULL,"
    " delta INTEGER NOT NULL,"
    " base_number INTEGER,"
    " this_update INTEGER NOT NULL,"
    " der BLOB NOT NULL,"
    " PRIMARY KEY (ca_id, number))",
    "CREATE INDEX pki_crls_by_kind ON pki_crls(ca_id, delta, number)",
};

/* 6: trust anchors (root certificates trusted, not held; an external CA's certificate is
 * checked against the one that issued it, anchor_id) and delegated OCSP responders (a key of
 * the key store, responder_key_tag, certified by the CA with id-kp-OCSPSigning; NULL while the
 * CA signs its own OCSP responses). */
static const char *const m6[] = {
    "CREATE TABLE pki_trust_anchors ("
    " id INTEGER PRIMARY KEY,"
    " keystore_id INTEGER NOT NULL REFERENCES keystores(id),"
    " name TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " certificate BLOB NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (keystore_id, name),"
    " UNIQUE (keystore_id, fingerprint))",
    "ALTER TABLE pki_cas ADD COLUMN anchor_id INTEGER REFERENCES pki_trust_anchors(id)",
    "ALTER TABLE pki_cas ADD COLUMN responder_key_tag TEXT",
    "ALTER TABLE pki_cas ADD COLUMN responder_cert BLOB",
    "ALTER TABLE pki_cas ADD COLUMN responder_not_after INTEGER",
    "ALTER TABLE pki_cas ADD COLUMN responder_generation INTEGER NOT NULL DEFAULT 0",
};

/* 7: the key management centre (PKI.md "KMC"). kmc_keys archives every encryption key pair
 * (spare, shared by the service's pool, then in use by one certificate of a key store, then
 * history) with its private key sealed by the barrier at scope "kmc/<id>"; rows are never
 * deleted within retain_until (NULL: not yet in history). kmc_recoveries and kmc_votes carry
 * k-of-n recovery. Requests gain what dual issuance, EST serverkeygen and EST retries need;
 * profiles their encryption twin and their EST label. */
static const char *const m7[] = {
    "CREATE TABLE kmc_keys ("
    " id INTEGER PRIMARY KEY,"
    " algorithm TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " public_key BLOB NOT NULL,"
    " keystore_id INTEGER REFERENCES keystores(id),"
    " ca_id INTEGER REFERENCES pki_cas(id),"
    " serial TEXT,"
    " request_id INTEGER REFERENCES pki_requests(id),"
    " history_reason TEXT,"
    " created_at INTEGER NOT NULL,"
    " used_at INTEGER,"
    " history_at INTEGER,"
    " retain_until INTEGER)",
    "CREATE INDEX kmc_keys_by_state ON kmc_keys(algorithm, state, id)",
    "CREATE INDEX kmc_keys_by_serial ON kmc_keys(serial)",
    "CREATE INDEX kmc_keys_by_keystore ON kmc_keys(keystore_id, id)",

    "CREATE TABLE kmc_recoveries ("
    " id INTEGER PRIMARY KEY,"
    " keystore_id INTEGER NOT NULL REFERENCES keystores(id),"
    " key_id INTEGER NOT NULL REFERENCES kmc_keys(id),"
    " serial TEXT NOT NULL,"
    " requester TEXT NOT NULL,"
    " reason TEXT NOT NULL,"
    " recipient BLOB NOT NULL,"
    " form TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " quorum INTEGER NOT NULL,"
    " approvals INTEGER NOT NULL,"
    " envelope BLOB,"
    " expires_at INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL)",
    "CREATE INDEX kmc_recoveries_by_status ON kmc_recoveries(keystore_id, status, id)",
    "CREATE TABLE kmc_votes ("
    " recovery_id INTEGER NOT NULL REFERENCES kmc_recoveries(id),"
    " officer TEXT NOT NULL,"
    " approve INTEGER NOT NULL,"
    " reason TEXT,"
    " at INTEGER NOT NULL,"
    " PRIMARY KEY (recovery_id, officer))",

    "ALTER TABLE pki_requests ADD COLUMN csr_sha256 TEXT",
    "CREATE INDEX pki_requests_by_csr ON pki_requests(ca_id, csr_sha256)",
    "ALTER TABLE pki_requests ADD COLUMN keygen TEXT",
    "ALTER TABLE pki_requests ADD COLUMN envelope_form TEXT",
    "ALTER TABLE pki_requests ADD COLUMN enc_serial TEXT",
    "ALTER TABLE pki_requests ADD COLUMN envelope BLOB",

    "ALTER TABLE pki_profiles ADD COLUMN dual_profile TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE pki_profiles ADD COLUMN est_label TEXT",
    "ALTER TABLE pki_profiles ADD COLUMN est_auth INTEGER NOT NULL DEFAULT 0",
    "CREATE UNIQUE INDEX pki_profiles_by_est_label ON pki_profiles(est_label)"
    " WHERE est_label IS NOT NULL",
};

#define MIGRATION(n, stmts)                                                                        \
	{                                                                                          \
		n, stmts, sizeof(stmts) / sizeof((stmts)[0])                                       \
	}

const struct kh_store_migration kh_store_migrations[] = {
    MIGRATION(1, m1), MIGRATION(2, m2), MIGRATION(3, m3), MIGRATION(4, m4),
    MIGRATION(5, m5), MIGRATION(6, m6), MIGRATION(7, m7),
};
const size_t kh_store_migration_count =
    sizeof(kh_store_migrations) / sizeof(kh_store_migrations[0]);

int64_t kh_store_schema_latest(void)
{
	return kh_store_migrations[kh_store_migration_count - 1].version;
}
