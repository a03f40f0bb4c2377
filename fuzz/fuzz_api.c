/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the REST API as a whole: the router (kh_api_handle) and the request decoding of every
 * handler (path parameters, query parameters, JSON bodies) over a real engine (store, barrier,
 * audit, keys, authz) in a temporary directory, with requests built as the server builds them
 * (kh_http_local_init), so nothing here runs a socket or a thread of its own.
 *
 * Set-up, once per process, in /dev/shm (else $TMPDIR or /tmp): a barrier with one share,
 * unsealed; key store "fuzz" with a kms-manager and a kms-user account, key store "other" with
 * a kms-manager; tokens for the operator and the three accounts; keys aes-256-gcm (rotated
 * once), ecdsa-p256, hmac-sha256, rsa-2048 (encrypt-decrypt) and ed25519 in "fuzz", aes-256-gcm
 * in "other"; the user holds a different role on each "fuzz" key (key_defs[] below); and
 * ciphertexts, signatures and a MAC made with them; an XKS key store in each key store, each
 * with a credential and a key attached as "ext-1" (make_xks). The database as it then is becomes
 * the template: before every input it is copied back and the layers reopened and unsealed, so every
 * input starts from the same state and a crash replays from its input alone. For that reason no
 * route is left out: an input may seal, rekey, rotate the root key, revoke the known tokens or
 * destroy the known keys, and the next input does not see it. Each caller may make RATE_BURST
 * requests per input before the rate limit answers 429 (its clock never moves).
 *
 * An input starts with one byte: 'U' starts from a store never initialised instead (health
 * answers 501, init succeeds, no token is known), anything else from the set-up. Then come up
 * to MAX_REQUESTS requests, each read as:
 *   method  1 byte: below 0x80 the route's own method, else (and for raw paths) GET, HEAD,
 *           POST, PUT, PATCH, DELETE or OPTIONS by the low 7 bits mod 7
 *   route   1 byte mod (ROUTE_COUNT + 1): a route of routes[], or a raw path (1 length byte
 *           and the bytes)
 *   params  1 byte per {} of the route: 0xff takes the segment from the input (1 length byte
 *           and the bytes), else a known value (knowns[]) by the value mod their count
 *   caller  1 byte mod 7: no token, the operator, the manager, the user, the other key store's
 *           manager, an unknown well-formed token, or an Authorization value from the input
 *           (1 length byte and the bytes, cut at a NUL)
 *   type    1 byte mod 8: the Content-Type (types[]: JSON in four spellings, none, others)
 *   query   1 length byte and the bytes
 *   body    2 length bytes (little endian) and the bytes (cut at the end of the input)
 * In raw paths, segments, queries and bodies "${name}" stands for a value made at set-up
 * (substs[]: ciphertexts, signatures, the MAC, the share, tags and ids). Requests the server
 * would refuse before the API sees them (bad target, bad header, body over its limit) are
 * skipped.
 *
 * Checked on every response (abort() on a violation):
 *   - the status is one API.md documents: 200, 201, 204, 400, 401, 403, 404, 405, 409, 413,
 *     415, 429, or 503 while the barrier is sealed (501 from health before init); never 500
 *     (no storage can fail here), nor 415 for a JSON body; init that succeeds leaves the
 *     barrier sealed, one that fails leaves it as it was;
 *   - a JSON answer parses with kh_json_parse_object; an error is exactly
 *     {"error":{"code","message","request_id"}} with the code of its status and this request's
 *     id, and Retry-After on 429 and 503; a 2xx has no "error" member; only GET /metrics
 *     answers text, and only the PKI's DER answers (CRLs, certificates, OCSP responses) are
 *     binary, and a 204 has no body;
 *   - a 2xx answer matches a route of the table by method and path; without a valid token a
 *     path that needs one answers 401, 404, 405, 429 or 503, and a valid, unrevoked token never
 *     401 (and 503 while sealed);
 *   - who may (API.md "Who may do what"): operator-only routes answer 2xx to the operator only,
 *     key routes never to the operator, key creation only to kms-managers, the audit log never
 *     to the user, inboxes never to the operator; a key, account, key store or token of one key
 *     store is never served to an account of the other; an account's tokens and webhook only
 *     to it, its key store's managers and the operator; until a grant is added in the input, the
 *     user only gets 2xx for what its role on the key allows; the other key store's keys,
 *     accounts and tokens never answer an account 403 (which would tell them from unknown
 *     ones), nor do keys the user holds no role on;
 *   - XKS management answers 2xx only to the operator and kms-managers, about XKS key stores
 *     of the caller's key store only; the other key store's manager is never told 403 about
 *     them; store lists hold only the caller's key store's stores;
 *   - the PKI: a CA of one key store (a root in each, made at set-up with profiles "auto" and
 *     "ra" and one certificate, make_pki) never answers 2xx or 403 to an account of the other;
 *     the /pki/ publication paths need no token;
 *   - no answer contains a known token, nor the secret of a set-up XKS credential (shown
 *     once, when issued), and none contains the unseal share (raw or Base64)
 *     unless the input itself put it in a request; webhook answers never have a "secret",
 *     and a webhook set over http:// goes to a loopback address;
 *   - a ciphertext from encrypt, data-key or re-encrypt decrypts (through keys/, with the
 *     request's context) to the request's plaintext, the data key (of the bits asked for) or
 *     the old ciphertext's plaintext; a signature or MAC from sign or mac verifies; random
 *     bytes are as many as asked for;
 *   - the life cycle of the known keys (API.md "Lifecycle rules"): a key route answers 2xx only
 *     in a state that allows it (crypto only when enabled, cancel and DELETE only pending
 *     deletion, nothing changes a deleted key, a deletion confirmed by another key's name is
 *     refused), and every key object shows the state the answers so far gave the key (cancel
 *     leaves it disabled); rotation adds a version, the current one is never disabled, and
 *     only it encrypts, signs and MACs ("kh:v<n>:");
 *   - lists hold only what the caller may see: keys of its key store (the user's: those it
 *     holds a role on), grants to accounts of the key's store, audit records of its key store
 *     (the operator's: the system's);
 *   - an answer with a secret at the top (plaintext, token, random bytes, shares, an XKS
 *     secret access key or console file, or batch plaintexts) is in a KH_BUF_SECURE body;
 *   - nothing is logged at error level (a storage or internal failure, even one the answer
 *     hides), and after the input the audit chain still verifies.
 *
 * The table of routes must list every route the router has (checked at start): a new route is
 * fuzzed, with what API.md says of it, from the day it is added. FUZZ_API_TRACE=1 in the
 * environment prints each request with its answer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/kh_api.h"
#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "crypto/kh_crypto.h"
#include "http/kh_json.h"
#include "keys/kh_keys_xks.h"
#include "pki/kh_pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fail(__LINE__, #cond);                                                     \
	} while (0)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_REQUESTS 10u
#define RESPONSE_BODY_MAX ((size_t)16 * 1024 * 1024) /* the server's (server.c) */
#define START_NS (INT64_C(1800000000) * KH_NS_PER_SEC)
#define RATE_BURST 8u /* requests per caller and input before 429 */
#define SUBST_MAX ((size_t)512 * 1024)

static const char *current_path = "";
static void remove_files(void);

static void fail(int line, const char *what)
{
	fprintf(stderr, "fuzz_api: line %d: %s (path %s)\n", line, what, current_path);
	remove_files();
	abort();
}

/* ---- the log ---- */

/* Errors only reach the log when something failed that must not: a storage or internal
 * failure, even one the answer does not show. */
static char logged[512];

static void log_sink(void *arg, const char *line, size_t len)
{
	(void)arg;
	if (logged[0] == '\0')
		snprintf(logged, sizeof(logged), "%.*s", (int)len, line);
}

static void check_log(void)
{
	if (logged[0] != '\0')
		fprintf(stderr, "fuzz_api: logged: %s", logged);
	CHECK(logged[0] == '\0');
}

/* ---- the routes, as API.md lists them ---- */

enum route_flags {
	R_PUBLIC = 1u << 0,     /* no token (API.md "no auth") */
	R_OPERATOR = 1u << 1,   /* the operator only */
	R_MANAGERS = 1u << 2,   /* kms-manager accounts only */
	R_AUDIT = 1u << 3,      /* the operator and kms-managers */
	R_INBOX = 1u << 4,      /* accounts only */
	R_KEYS = 1u << 5,       /* under /v1/keys: never the operator */
	R_KEY = 1u << 6,        /* {0} is a key tag */
	R_KEYSTORE = 1u << 7,   /* {0} is a key store id */
	R_ACCOUNT = 1u << 8,    /* {0} is an account id */
	R_TOKEN = 1u << 9,      /* {0} is a token id */
	R_WEBHOOK = 1u << 10,   /* the answer never has the secret */
	R_GRANT_ADD = 1u << 11, /* may give the user a new role */
	R_XKS = 1u << 12,       /* XKS management: the operator and kms-managers only */
	R_XKS_STORE = 1u << 13, /* {0} is an XKS key store id */
	R_LONG = 1u << 14,      /* {} segments up to KH_LIMIT_PATH_PARAM_LONG_BYTES */
	R_PKI = 1u << 15,       /* the PKI: never 2xx to the other key store about "fuzz"'s CAs */
	R_BINARY = 1u << 16,    /* a 200 may be DER (CRL, certificate, OCSP response) */
	R_PKI_CA = 1u << 17,    /* {0} is a CA id */
	R_TAIL = 1u << 18,      /* the last {} is the rest of the path ('/' included) */
	R_RAW_BODY = 1u << 19,  /* the body is not JSON (415 for a JSON one is right) */
	R_EST = 1u << 20,       /* EST (RFC 7030): its own authentication, text/plain errors, 202 */
};

/* Per-key roles (API.md), as bits of the roles that allow a key route. */
enum {
	MGR = 1u << 0,
	ENC = 1u << 1,
	DEC = 1u << 2,
	ENCDEC = 1u << 3,
	REV = 1u << 4,
	ANY = MGR | ENC | DEC | ENCDEC | REV
};

struct route {
	const char *method;
	const char *pattern; /* {} is one segment */
	unsigned flags;
	unsigned roles; /* R_KEY routes: roles that allow it */
};

#define KEY_ROUTE(m, p, roles)                                                                     \
	{                                                                                          \
		m, p, R_KEYS | R_KEY, roles                                                        \
	}

/* Append only: seeds name routes by their index. */
static const struct route routes[] = {
    {"GET", "/v1/sys/health", R_PUBLIC, 0},
    {"POST", "/v1/sys/init", R_PUBLIC, 0},
    {"POST", "/v1/sys/unseal", R_PUBLIC, 0},
    {"POST", "/v1/sys/seal", R_OPERATOR, 0},
    {"POST", "/v1/sys/rekey", R_OPERATOR, 0},
    {"POST", "/v1/sys/rotate-root", R_OPERATOR, 0},
    {"POST", "/v1/keystores", R_OPERATOR, 0},
    {"POST", "/v1/keystores/{}/accounts", R_KEYSTORE, 0},
    {"POST", "/v1/accounts/{}/tokens", R_ACCOUNT, 0},
    {"POST", "/v1/sys/tokens", R_OPERATOR, 0},
    {"DELETE", "/v1/tokens/{}", R_TOKEN, 0},
    {"POST", "/v1/keys", R_KEYS | R_MANAGERS, 0},
    {"GET", "/v1/keys", R_KEYS, 0},
    KEY_ROUTE("GET", "/v1/keys/{}", ANY),
    KEY_ROUTE("PATCH", "/v1/keys/{}", MGR),
    KEY_ROUTE("DELETE", "/v1/keys/{}", MGR),
    KEY_ROUTE("POST", "/v1/keys/{}/rotate", MGR),
    KEY_ROUTE("POST", "/v1/keys/{}/disable", MGR),
    KEY_ROUTE("POST", "/v1/keys/{}/enable", MGR),
    KEY_ROUTE("POST", "/v1/keys/{}/schedule-deletion", MGR),
    KEY_ROUTE("POST", "/v1/keys/{}/cancel-deletion", MGR),
    KEY_ROUTE("GET", "/v1/keys/{}/versions", MGR | REV),
    KEY_ROUTE("POST", "/v1/keys/{}/versions/{}/disable", MGR),
    KEY_ROUTE("POST", "/v1/keys/{}/versions/{}/enable", MGR),
    KEY_ROUTE("GET", "/v1/keys/{}/grants", MGR),
    {"POST", "/v1/keys/{}/grants", R_KEYS | R_KEY | R_GRANT_ADD, MGR},
    KEY_ROUTE("DELETE", "/v1/keys/{}/grants/{}/{}", MGR),
    KEY_ROUTE("GET", "/v1/keys/{}/history", MGR | REV),
    KEY_ROUTE("POST", "/v1/keys/{}/encrypt", MGR | ENC | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/decrypt", MGR | DEC | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/data-key", MGR | ENC | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/reencrypt", MGR | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/sign", MGR | ENC | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/verify", MGR | DEC | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/mac", MGR | ENC | ENCDEC),
    KEY_ROUTE("POST", "/v1/keys/{}/verify-mac", MGR | DEC | ENCDEC),
    KEY_ROUTE("GET", "/v1/keys/{}/public-key", MGR | ENC | DEC | ENCDEC),
    {"POST", "/v1/random", 0, 0},
    {"GET", "/v1/audit", R_AUDIT, 0},
    {"POST", "/v1/audit/verify", R_AUDIT, 0},
    {"GET", "/v1/notifications", R_INBOX, 0},
    {"POST", "/v1/notifications/ack", R_INBOX, 0},
    {"PUT", "/v1/accounts/{}/webhook", R_ACCOUNT | R_WEBHOOK, 0},
    {"GET", "/v1/accounts/{}/webhook", R_ACCOUNT | R_WEBHOOK, 0},
    {"DELETE", "/v1/accounts/{}/webhook", R_ACCOUNT | R_WEBHOOK, 0},
    {"GET", "/metrics", R_PUBLIC, 0},
    {"POST", "/v1/xks/stores", R_XKS, 0},
    {"GET", "/v1/xks/stores", R_XKS, 0},
    {"GET", "/v1/xks/stores/{}", R_XKS | R_XKS_STORE, 0},
    {"PATCH", "/v1/xks/stores/{}", R_XKS | R_XKS_STORE, 0},
    {"DELETE", "/v1/xks/stores/{}", R_XKS | R_XKS_STORE, 0},
    {"POST", "/v1/xks/stores/{}/credentials", R_XKS | R_XKS_STORE, 0},
    {"GET", "/v1/xks/stores/{}/credentials", R_XKS | R_XKS_STORE, 0},
    {"DELETE", "/v1/xks/stores/{}/credentials/{}", R_XKS | R_XKS_STORE, 0},
    {"POST", "/v1/xks/stores/{}/keys", R_XKS | R_XKS_STORE, 0},
    {"GET", "/v1/xks/stores/{}/keys", R_XKS | R_XKS_STORE, 0},
    {"GET", "/v1/xks/stores/{}/keys/{}", R_XKS | R_XKS_STORE | R_LONG, 0},
    {"PATCH", "/v1/xks/stores/{}/keys/{}", R_XKS | R_XKS_STORE | R_LONG, 0},
    {"DELETE", "/v1/xks/stores/{}/keys/{}", R_XKS | R_XKS_STORE | R_LONG, 0},
    {"POST", "/v1/pki/cas", R_PKI, 0},
    {"GET", "/v1/pki/cas", R_PKI, 0},
    {"GET", "/v1/pki/cas/{}", R_PKI | R_PKI_CA, 0},
    {"PUT", "/v1/pki/cas/{}/certificate", R_PKI | R_PKI_CA, 0},
    {"POST", "/v1/pki/cas/{}/profiles", R_PKI | R_PKI_CA, 0},
    {"GET", "/v1/pki/cas/{}/profiles", R_PKI | R_PKI_CA, 0},
    {"GET", "/v1/pki/cas/{}/profiles/{}", R_PKI | R_PKI_CA, 0},
    {"PATCH", "/v1/pki/cas/{}/profiles/{}", R_PKI | R_PKI_CA, 0},
    {"POST", "/v1/pki/cas/{}/crl", R_PKI | R_PKI_CA, 0},
    {"POST", "/v1/pki/cas/{}/ocsp-responder", R_PKI | R_PKI_CA, 0},
    {"GET", "/v1/pki/cas/{}/ocsp-responder", R_PKI | R_PKI_CA | R_BINARY, 0},
    {"DELETE", "/v1/pki/cas/{}/ocsp-responder", R_PKI | R_PKI_CA, 0},
    {"POST", "/v1/pki/trust-anchors", R_PKI, 0},
    {"GET", "/v1/pki/trust-anchors", R_PKI, 0},
    {"GET", "/v1/pki/trust-anchors/{}", R_PKI, 0},
    {"DELETE", "/v1/pki/trust-anchors/{}", R_PKI, 0},
    {"GET", "/v1/pki/trust-list", R_PKI | R_BINARY, 0},
    {"POST", "/v1/pki/requests", R_PKI, 0},
    {"GET", "/v1/pki/requests", R_PKI, 0},
    {"GET", "/v1/pki/requests/{}", R_PKI, 0},
    {"POST", "/v1/pki/requests/{}/approve", R_PKI, 0},
    {"POST", "/v1/pki/requests/{}/reject", R_PKI, 0},
    {"GET", "/v1/pki/certificates", R_PKI, 0},
    {"GET", "/v1/pki/certificates/{}", R_PKI | R_BINARY, 0},
    {"GET", "/v1/pki/certificates/{}/status", R_PKI, 0},
    {"POST", "/v1/pki/certificates/{}/revoke", R_PKI, 0},
    {"POST", "/v1/pki/certificates/{}/hold", R_PKI, 0},
    {"POST", "/v1/pki/certificates/{}/release", R_PKI, 0},
    {"GET", "/pki/{}/crl", R_PUBLIC | R_PKI | R_BINARY, 0},
    {"GET", "/pki/{}/delta-crl", R_PUBLIC | R_PKI | R_BINARY, 0},
    {"GET", "/pki/{}/ca.crt", R_PUBLIC | R_PKI | R_BINARY, 0},
    {"GET", "/pki/{}/trust-list", R_PUBLIC | R_PKI | R_BINARY, 0},
    {"POST", "/pki/{}/ocsp", R_PUBLIC | R_PKI | R_BINARY | R_RAW_BODY, 0},
    {"GET", "/pki/{}/ocsp/{}", R_PUBLIC | R_PKI | R_BINARY | R_TAIL, 0},
    {"POST", "/v1/sys/backup", R_OPERATOR, 0},
    {"GET", "/v1/sys/backups", R_OPERATOR, 0},
    {"POST", "/v1/pki/kmc/backup", R_OPERATOR, 0},
    {"POST", "/v1/pki/kmc/restore", R_OPERATOR, 0},
    {"GET", "/.well-known/est/cacerts", R_PUBLIC | R_PKI | R_BINARY | R_EST, 0},
    {"GET", "/.well-known/est/csrattrs", R_PUBLIC | R_PKI | R_BINARY | R_EST, 0},
    {"POST", "/.well-known/est/simpleenroll", R_PUBLIC | R_PKI | R_EST | R_RAW_BODY, 0},
    {"POST", "/.well-known/est/simplereenroll", R_PUBLIC | R_PKI | R_EST | R_RAW_BODY, 0},
    {"POST", "/.well-known/est/serverkeygen", R_PUBLIC | R_PKI | R_EST | R_RAW_BODY, 0},
    {"GET", "/.well-known/est/{}/cacerts", R_PUBLIC | R_PKI | R_BINARY | R_EST, 0},
    {"GET", "/.well-known/est/{}/csrattrs", R_PUBLIC | R_PKI | R_BINARY | R_EST, 0},
    {"POST", "/.well-known/est/{}/simpleenroll", R_PUBLIC | R_PKI | R_EST | R_RAW_BODY, 0},
    {"POST", "/.well-known/est/{}/simplereenroll", R_PUBLIC | R_PKI | R_EST | R_RAW_BODY, 0},
    {"POST", "/.well-known/est/{}/serverkeygen", R_PUBLIC | R_PKI | R_EST | R_RAW_BODY, 0},
    {"GET", "/v1/pki/requests/{}/envelope", R_PKI, 0},
    {"POST", "/v1/pki/requests/{}/update-encryption", R_PKI, 0},
    {"GET", "/v1/pki/kmc/keys", R_PKI, 0},
    {"GET", "/v1/pki/kmc/keys/{}", R_PKI, 0},
    {"GET", "/v1/pki/kmc/pool", R_PKI | R_AUDIT, 0},
    {"POST", "/v1/pki/kmc/recoveries", R_PKI, 0},
    {"GET", "/v1/pki/kmc/recoveries", R_PKI, 0},
    {"GET", "/v1/pki/kmc/recoveries/{}", R_PKI, 0},
    {"POST", "/v1/pki/kmc/recoveries/{}/approve", R_PKI, 0},
    {"POST", "/v1/pki/kmc/recoveries/{}/reject", R_PKI, 0},
    {"GET", "/v1/pki/kmc/recoveries/{}/envelope", R_PKI, 0},
};
#define ROUTE_COUNT COUNT(routes)

/* ---- callers, keys and known values ---- */

enum who {
	WHO_NONE,
	WHO_OPERATOR,
	WHO_MANAGER, /* kms-manager of "fuzz" */
	WHO_USER,    /* kms-user of "fuzz" */
	WHO_OTHER,   /* kms-manager of "other" */
	WHO_UNKNOWN, /* a well-formed token nobody holds */
	WHO_RAW,     /* an Authorization value from the input */
	WHO_COUNT
};
#define TOKEN_HOLDERS 4u /* WHO_OPERATOR .. WHO_OTHER hold tokens[] */

enum key {
	KEY_AES,
	KEY_EC,
	KEY_HMAC,
	KEY_RSA,
	KEY_ED,
	KEY_OTHER, /* in key store "other" */
	KEY_COUNT
};

static const struct {
	const char *name;
	enum kh_key_type type;
	enum kh_key_usage usage;
	enum kh_role user_role; /* 0: none */
} key_defs[KEY_COUNT] = {
    [KEY_AES] = {"aes", KH_KEY_AES_256_GCM, 0, KH_ROLE_ENCRYPTOR_DECRYPTOR},
    [KEY_EC] = {"ec", KH_KEY_ECDSA_P256, 0, KH_ROLE_ENCRYPTOR},
    [KEY_HMAC] = {"hmac", KH_KEY_HMAC_SHA256, 0, 0},
    [KEY_RSA] = {"rsa", KH_KEY_RSA_2048, KH_USAGE_ENCRYPT_DECRYPT, KH_ROLE_REVIEWER},
    [KEY_ED] = {"ed", KH_KEY_ED25519, 0, KH_ROLE_DECRYPTOR},
    [KEY_OTHER] = {"other", KH_KEY_AES_256_GCM, 0, 0},
};

/* What a known path parameter is. */
enum known_kind {
	K_TAG,
	K_NUMBER,
	K_ACCOUNT,
	K_KEYSTORE,
	K_TOKEN,
	K_TEXT,
	K_XKS_STORE, /* owner: the key store, 0 or 1 */
	K_PKI_CA,    /* owner: the key store, 0 or 1 */
};

struct known {
	enum known_kind kind;
	int owner; /* K_TAG: enum key; K_ACCOUNT, K_TOKEN: enum who; K_KEYSTORE: 0 or 1 */
	char text[48];
};

/* "${name}" in requests. */
struct subst {
	const char *name;
	struct kh_buf value;
};

/* Content-Type values (NULL: none), and whether each names JSON (RFC 9110 8.3.1: in any case,
 * with parameters after optional whitespace). */
static const struct {
	const char *value;
	bool json;
} types[8] = {
    {"application/json", true},
    {NULL, false},
    {"application/json; charset=utf-8", true},
    {"text/plain", false},
    {"application/jsonx", false},
    {"", false},
    {"APPLICATION/JSON", true},
    {"Application/Json ;charset=UTF-8", true},
};
static const char *const methods[7] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
static const char *const public_paths[] = {"/v1/sys/health", "/v1/sys/init", "/v1/sys/unseal",
                                           "/metrics"};

static struct {
	bool ready;
	char dir[128];
	char db[160];
	char wal[168];
	char shm[168];
	struct kh_buf blank;    /* the database of a store never initialised */
	struct kh_buf snapshot; /* the database after the set-up */
	struct kh_clock clock;
	struct kh_clock limiter_clock; /* never moves: a caller's burst is all it gets */
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	struct kh_pki *pki;
	struct kh_api *api;
	struct kh_buf share;
	char share_b64[128];
	char tokens[TOKEN_HOLDERS][KH_TOKEN_LEN + 1];
	char xks_secrets[2][KH_XKS_SECRET_LEN + 1]; /* of the XKS key stores' credentials */
	int64_t token_ids[TOKEN_HOLDERS];
	struct kh_principal who[TOKEN_HOLDERS];
	int64_t keystores[2];
	char tags[KEY_COUNT][KH_KEY_TAG_LEN + 1];
	uint32_t versions[KEY_COUNT]; /* current versions after the set-up */
	struct known knowns[64];
	size_t known_count;
	struct subst substs[56];
	size_t subst_count;
} E;

/* The key store (0 "fuzz", 1 "other") of a caller that has one, else -1. */
static int keystore_of(int who)
{
	return who == WHO_MANAGER || who == WHO_USER ? 0 : who == WHO_OTHER ? 1 : -1;
}

static bool is_manager(int who)
{
	return who == WHO_MANAGER || who == WHO_OTHER;
}

static unsigned role_bit(enum kh_role r)
{
	switch (r) {
	case KH_ROLE_MANAGER:
		return MGR;
	case KH_ROLE_ENCRYPTOR:
		return ENC;
	case KH_ROLE_DECRYPTOR:
		return DEC;
	case KH_ROLE_ENCRYPTOR_DECRYPTOR:
		return ENCDEC;
	case KH_ROLE_REVIEWER:
		return REV;
	default:
		return 0;
	}
}

/* ---- the engine ---- */

static void setup_fail(const char *what, kh_rc rc)
{
	fprintf(stderr, "fuzz_api: set-up: %s: %s\n", what, kh_rc_name(rc));
	abort();
}

#define SETUP(expr)                                                                                \
	do {                                                                                       \
		kh_rc setup_rc_ = (expr);                                                          \
		if (setup_rc_ != KH_OK)                                                            \
			setup_fail(#expr, setup_rc_);                                              \
	} while (0)

#define HOLDER(who) ((size_t)(who)-WHO_OPERATOR)

enum open_mode {
	OPEN_INIT,     /* the set-up: initialise the barrier, keep its share, unseal */
	OPEN_UNSEALED, /* unseal with the share */
	OPEN_BLANK,    /* a store never initialised: sealed, as keyholdd starts on one */
};

/* The layers in the order keyholdd opens them (src/server/server.c). */
static void layers_open(enum open_mode mode)
{
	struct kh_barrier_progress p;
	struct kh_store_options so = {.path = E.db};
	SETUP(kh_store_open(&so, &E.store));
	struct kh_barrier_options bo = {.store = E.store, .clock = &E.clock};
	SETUP(kh_barrier_new(&bo, &E.barrier));
	if (mode == OPEN_INIT) {
		struct kh_barrier_shares *shares = NULL;
		SETUP(kh_barrier_init(E.barrier, 1, 1, &shares));
		SETUP(kh_buf_append(&E.share, kh_buf_slice(&shares->share[0])));
		kh_barrier_shares_free(&shares);
	}
	if (mode != OPEN_BLANK)
		SETUP(kh_barrier_unseal(E.barrier, kh_buf_slice(&E.share), &p));
	struct kh_audit_options ao = {.store = E.store, .barrier = E.barrier, .clock = &E.clock};
	SETUP(kh_audit_new(&ao, &E.audit));
	struct kh_keys_options ko = {
	    .store = E.store, .barrier = E.barrier, .audit = E.audit, .clock = &E.clock};
	SETUP(kh_keys_new(&ko, &E.keys));
	struct kh_authz_options zo = {E.store, E.barrier, E.audit, E.keys, &E.clock};
	SETUP(kh_authz_new(&zo, &E.authz));
	struct kh_pki_options ko2 = {
	    .keys = E.keys, .store = E.store, .audit = E.audit, .clock = &E.clock};
	SETUP(kh_pki_new(&ko2, &E.pki));
	struct kh_api_options po = {.store = E.store,
	                            .pki = E.pki,
	                            .barrier = E.barrier,
	                            .audit = E.audit,
	                            .keys = E.keys,
	                            .authz = E.authz,
	                            .clock = &E.clock,
	                            .node_id = "fuzz",
	                            .rate_limit_rps = 1,
	                            .rate_limit_burst = RATE_BURST,
	                            .rate_limit_clock = &E.limiter_clock,
	                            .data_dir = E.dir};
	SETUP(kh_api_new(&po, &E.api));
}

/* Each layer leaves the one below it (and the barrier's seal listeners) before it goes. */
static void layers_close(void)
{
	kh_api_free(&E.api);
	kh_pki_free(&E.pki);
	kh_authz_free(&E.authz);
	kh_keys_free(&E.keys);
	kh_audit_free(&E.audit);
	kh_barrier_free(&E.barrier);
	kh_store_close(&E.store);
}

static struct kh_buf *subst_new(const char *name)
{
	CHECK(E.subst_count < COUNT(E.substs));
	struct subst *s = &E.substs[E.subst_count++];
	s->name = name;
	kh_buf_init(&s->value, SUBST_MAX, KH_BUF_PLAIN);
	return &s->value;
}

static void subst_text(const char *name, const char *text)
{
	SETUP(kh_buf_append_cstr(subst_new(name), text));
}

static void known_add(enum known_kind kind, int owner, const char *text)
{
	CHECK(E.known_count < COUNT(E.knowns));
	struct known *k = &E.knowns[E.known_count++];
	k->kind = kind;
	k->owner = owner;
	snprintf(k->text, sizeof(k->text), "%s", text);
}

static void known_id(enum known_kind kind, int owner, int64_t id, const char *subst)
{
	char text[24];
	snprintf(text, sizeof(text), "%lld", (long long)id);
	known_add(kind, owner, text);
	if (subst != NULL)
		subst_text(subst, text);
}

static void make_account(enum who who, size_t keystore, const char *name, unsigned policies)
{
	const struct kh_principal *op = &E.who[HOLDER(WHO_OPERATOR)];
	int64_t id = 0;
	SETUP(kh_keys_account_create(E.keys, op, E.keystores[keystore], name, policies, &id));
	E.who[HOLDER(who)] = (struct kh_principal){.kind = KH_PRINCIPAL_ACCOUNT,
	                                           .account_id = id,
	                                           .keystore_id = E.keystores[keystore],
	                                           .policies = policies,
	                                           .request_id = "fuzz-setup",
	                                           .source = "127.0.0.1"};
}

/* Key stores, accounts and a token for each caller that holds one. */
static void make_callers(void)
{
	static const char *const id_substs[TOKEN_HOLDERS] = {NULL, "acct-manager", "acct-user",
	                                                     "acct-other"};
	struct kh_buf token;
	E.who[HOLDER(WHO_OPERATOR)] = (struct kh_principal){
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "fuzz-setup", .source = "127.0.0.1"};
	SETUP(kh_keys_keystore_create(E.keys, &E.who[0], "fuzz", &E.keystores[0]));
	SETUP(kh_keys_keystore_create(E.keys, &E.who[0], "other", &E.keystores[1]));
	make_account(WHO_MANAGER, 0, "admin", KH_POLICY_KMS_MANAGER);
	make_account(WHO_USER, 0, "alice", KH_POLICY_KMS_USER);
	make_account(WHO_OTHER, 1, "eve", KH_POLICY_KMS_MANAGER);
	for (size_t h = 0; h < TOKEN_HOLDERS; h++) {
		kh_buf_init(&token, KH_TOKEN_LEN + 1, KH_BUF_SECURE);
		if (h == 0)
			SETUP(kh_authz_token_issue_initial(E.authz, &E.token_ids[h], &token));
		else
			SETUP(kh_authz_token_issue(E.authz, &E.who[0], E.who[h].account_id, 0,
			                           &E.token_ids[h], &token));
		CHECK(token.len == KH_TOKEN_LEN);
		memcpy(E.tokens[h], token.ptr, token.len);
		kh_buf_cleanup(&token);
		if (h > 0)
			known_id(K_ACCOUNT, (int)h + WHO_OPERATOR, E.who[h].account_id,
			         id_substs[h]);
		known_id(K_TOKEN, (int)h + WHO_OPERATOR, E.token_ids[h], NULL);
	}
	known_id(K_KEYSTORE, 0, E.keystores[0], "ks");
	known_id(K_KEYSTORE, 1, E.keystores[1], "ks-other");
}

static void make_keys(void)
{
	static const char *const tag_substs[KEY_COUNT] = {"tag-aes", "tag-ec", "tag-hmac",
	                                                  "tag-rsa", "tag-ed", "tag-other"};
	for (size_t k = 0; k < KEY_COUNT; k++) {
		struct kh_key_create req = {.name = key_defs[k].name,
		                            .type = key_defs[k].type,
		                            .usage = key_defs[k].usage,
		                            .rotation_period_days = -1};
		struct kh_key_info info;
		const struct kh_principal *by =
		    &E.who[HOLDER(k == KEY_OTHER ? WHO_OTHER : WHO_MANAGER)];
		SETUP(kh_keys_create(E.keys, by, &req, &info));
		memcpy(E.tags[k], info.tag, sizeof(E.tags[k]));
		E.versions[k] = info.current_version;
		known_add(K_TAG, (int)k, info.tag);
		subst_text(tag_substs[k], info.tag);
		if (key_defs[k].user_role != 0)
			SETUP(kh_keys_grant_add(E.keys, by, info.tag,
			                        E.who[HOLDER(WHO_USER)].account_id,
			                        key_defs[k].user_role));
	}
}

/* Ciphertexts, signatures and a MAC the input can send back ("${ct}" ...). The messages are
 * "fuzz message" (ZnV6eiBtZXNzYWdl) and the context "ctx" (Y3R4). */
static void make_outputs(void)
{
	static const struct kh_slice msg = KH_SLICE_LIT("fuzz message");
	static const struct kh_slice ctx = KH_SLICE_LIT("ctx");
	const struct kh_principal *mgr = &E.who[HOLDER(WHO_MANAGER)];
	struct kh_key_info info;
	SETUP(kh_keys_encrypt(E.keys, mgr, E.tags[KEY_AES], msg, KH_SLICE_EMPTY, subst_new("ct")));
	SETUP(kh_keys_rotate(E.keys, mgr, E.tags[KEY_AES], &info));
	E.versions[KEY_AES] = info.current_version;
	SETUP(kh_keys_encrypt(E.keys, mgr, E.tags[KEY_AES], msg, KH_SLICE_EMPTY, subst_new("ct2")));
	SETUP(kh_keys_encrypt(E.keys, mgr, E.tags[KEY_AES], msg, ctx, subst_new("ctx-ct")));
	SETUP(kh_keys_encrypt(E.keys, mgr, E.tags[KEY_RSA], msg, KH_SLICE_EMPTY,
	                      subst_new("rsa-ct")));
	SETUP(kh_keys_encrypt(E.keys, &E.who[HOLDER(WHO_OTHER)], E.tags[KEY_OTHER], msg,
	                      KH_SLICE_EMPTY, subst_new("other-ct")));
	SETUP(kh_keys_sign(E.keys, mgr, E.tags[KEY_EC], 0, false, msg, subst_new("sig")));
	SETUP(kh_keys_sign(E.keys, mgr, E.tags[KEY_ED], 0, false, msg, subst_new("ed-sig")));
	SETUP(kh_keys_mac(E.keys, mgr, E.tags[KEY_HMAC], msg, subst_new("mac")));
}

/* An XKS key store in each key store ("fuzz/xks" and "other"), each with a credential (whose
 * secret no answer may show again) and a key attached as "ext-1"; the first also has a key
 * under a 100-character external key id ("${ext-long}"). The keys attached are new ones, so
 * the known keys' life cycle stays the checks' to follow. */
static void make_xks(void)
{
	static const char *const prefixes[2] = {"fuzz/xks", "other"};
	static const char *const store_substs[2] = {"xks", "xks-other"};
	static const char *const ak_substs[2] = {"xks-ak", "xks-ak-other"};
	char long_id[101];
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	for (size_t i = 0; i < 2; i++) {
		const struct kh_principal *mgr = &E.who[HOLDER(i == 0 ? WHO_MANAGER : WHO_OTHER)];
		struct kh_xks_store_create req = {.prefix = prefixes[i]};
		struct kh_xks_store_info info;
		struct kh_xks_credential_info cred;
		struct kh_xks_key_attach att = {.external_key_id = "ext-1",
		                                .rotation_days = -1,
		                                .usages = KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT};
		static struct kh_xks_key_info key;
		struct kh_buf secret;
		SETUP(kh_keys_xks_store_create(E.keys, mgr, &req, &info));
		known_id(K_XKS_STORE, (int)i, info.id, store_substs[i]);
		kh_buf_init(&secret, KH_XKS_SECRET_LEN + 32, KH_BUF_SECURE);
		SETUP(kh_keys_xks_credential_issue(E.keys, mgr, info.id, &cred, &secret));
		CHECK(secret.len > 0 && secret.len <= KH_XKS_SECRET_LEN);
		memcpy(E.xks_secrets[i], secret.ptr, secret.len);
		kh_buf_cleanup(&secret);
		known_add(K_TEXT, 0, cred.access_key_id);
		subst_text(ak_substs[i], cred.access_key_id);
		SETUP(kh_keys_xks_key_attach(E.keys, mgr, info.id, &att, &key));
		if (i == 0) {
			att.external_key_id = long_id;
			SETUP(kh_keys_xks_key_attach(E.keys, mgr, info.id, &att, &key));
		}
	}
	known_add(K_TEXT, 0, "ext-1");
	subst_text("ext-long", long_id);
}

/*
 * A root CA in each key store ("${ca}", "${ca-other}"), the first with a profile "auto"
 * (approval auto, P-256) and "ra" (approval required), a CSR for them ("${csr}", as it goes
 * between JSON quotes) and a certificate issued through "auto" ("${serial}").
 */
static void subst_json_text(const char *name, struct kh_slice text);

static void make_pki(void)
{
	static const char *const names[2] = {"fuzz-root", "other-root"};
	static const char *const substs[2] = {"ca", "ca-other"};
	struct kh_pki_ca ca[2];
	for (size_t i = 0; i < 2; i++) {
		const struct kh_principal *mgr = &E.who[HOLDER(i == 0 ? WHO_MANAGER : WHO_OTHER)];
		struct kh_pki_ca_create req = {.name = names[i],
		                               .kind = KH_PKI_CA_ROOT,
		                               .key_type = KH_KEY_ECDSA_P256,
		                               .subject = "CN=Fuzz Root",
		                               .validity_days = 365,
		                               .path_len = -1};
		SETUP(kh_pki_ca_create(E.pki, mgr, &req, &ca[i], NULL));
		known_id(K_PKI_CA, (int)i, ca[i].id, substs[i]);
	}
	const struct kh_principal *mgr = &E.who[HOLDER(WHO_MANAGER)];
	struct kh_pki_profile pr = {.ca_id = ca[0].id,
	                            .name = "auto",
	                            .key_types = KH_PKI_KEY_TYPE_BIT(KH_PKEY_EC_P256),
	                            .validity_days = 30,
	                            .key_usage = KH_PKI_KU_DIGITAL_SIGNATURE,
	                            .ekus = "serverAuth",
	                            .path_len = -1,
	                            .kind = KH_PKI_CERT_SIGN};
	SETUP(kh_pki_profile_create(E.pki, mgr, &pr));
	snprintf(pr.name, sizeof(pr.name), "ra");
	pr.approval_required = true;
	SETUP(kh_pki_profile_create(E.pki, mgr, &pr));
	known_add(K_TEXT, 0, "auto");
	struct kh_pkey *key = NULL;
	struct kh_buf pem;
	kh_buf_init(&pem, 8192, KH_BUF_PLAIN);
	SETUP(kh_pkey_generate(KH_PKEY_EC_P256, &key));
	SETUP(kh_pki_csr_build(key, "CN=fuzz.example", NULL, 0, &pem));
	subst_json_text("csr", kh_buf_slice(&pem));
	struct kh_pki_submit sub = {
	    .ca_id = ca[0].id, .profile = "auto", .csr = kh_buf_slice(&pem)};
	static struct kh_pki_request r;
	SETUP(kh_pki_request_submit(E.pki, mgr, &sub, &r, NULL, 0));
	CHECK(r.status == KH_PKI_REQ_ISSUED);
	known_add(K_TEXT, 0, r.serial);
	subst_text("serial", r.serial);
	kh_pkey_free(&key);
	kh_buf_cleanup(&pem);
}

/* Text as it goes between JSON quotes (PEM lines). */
static void subst_json_text(const char *name, struct kh_slice text)
{
	struct kh_buf *b = subst_new(name);
	for (size_t i = 0; i < text.len; i++) {
		if (text.ptr[i] == '\n')
			SETUP(kh_buf_append_cstr(b, "\\n"));
		else
			SETUP(kh_buf_append_byte(b, text.ptr[i]));
	}
}

/* Public keys for init's custodian_keys, and values past every limit: "${big}" decodes to
 * 48 KiB (over every member's limit), "${huge}" is over the JSON string limit. */
static void make_large(void)
{
	const struct kh_principal *mgr = &E.who[HOLDER(WHO_MANAGER)];
	struct kh_buf pem;
	uint32_t version = 0;
	kh_buf_init(&pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
	SETUP(kh_keys_public_key(E.keys, mgr, E.tags[KEY_RSA], 0, &version, &pem));
	subst_json_text("rsa-pem", kh_buf_slice(&pem));
	kh_buf_clear(&pem);
	SETUP(kh_keys_public_key(E.keys, mgr, E.tags[KEY_EC], 0, &version, &pem));
	subst_json_text("ec-pem", kh_buf_slice(&pem));
	kh_buf_cleanup(&pem);
	struct kh_buf *big = subst_new("big");
	struct kh_buf *huge = subst_new("huge");
	for (size_t i = 0; i < 64 * 1024; i++)
		SETUP(kh_buf_append_byte(big, 'A'));
	for (size_t i = 0; i < KH_LIMIT_JSON_STRING_BYTES + 4; i++)
		SETUP(kh_buf_append_byte(huge, 'A'));
}

/* Path parameters that are not ids: numbers at and past the edges, roles, a tag nobody has. */
static void make_knowns(void)
{
	static const char *const numbers[] = {"1",  "2",  "3",          "0",
	                                      "01", "-1", "4294967296", "9223372036854775808"};
	static const char *const texts[] = {"manager",   "encryptor",
	                                    "decryptor", "encryptor-decryptor",
	                                    "reviewer",  "0123456789abcdef0123456789abcdef",
	                                    "%2e%2e",    "."};
	for (size_t i = 0; i < COUNT(numbers); i++)
		known_add(K_NUMBER, 0, numbers[i]);
	for (size_t i = 0; i < COUNT(texts); i++)
		known_add(K_TEXT, 0, texts[i]);
}

static void read_file(const char *path, struct kh_buf *out)
{
	uint8_t chunk[65536];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		SETUP(kh_buf_append(out, KH_SLICE(chunk, (size_t)n)));
	CHECK(n == 0);
	close(fd);
}

static void write_file(const char *path, struct kh_slice bytes)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, bytes.ptr, bytes.len) == (ssize_t)bytes.len);
	close(fd);
}

/* The backups an input made (POST /v1/sys/backup writes to <dir>/backups), so that the next
 * input starts without them. */
static void remove_backups(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/backups", E.dir);
	DIR *d = opendir(path);
	if (d == NULL)
		return;
	const struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		/* No CHECK here: fail() comes this way too. */
		if (e->d_name[0] != '.')
			(void)unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	(void)rmdir(path);
}

/* The temporary directory, also when a check fails (the store is left open then). */
static void remove_files(void)
{
	if (E.dir[0] == '\0')
		return;
	remove_backups();
	unlink(E.db);
	unlink(E.wal);
	unlink(E.shm);
	rmdir(E.dir);
}

static void engine_cleanup(void)
{
	if (E.api != NULL)
		layers_close();
	remove_files();
	kh_buf_cleanup(&E.blank);
	kh_buf_cleanup(&E.snapshot);
	kh_buf_cleanup(&E.share);
	for (size_t i = 0; i < E.subst_count; i++)
		kh_buf_cleanup(&E.substs[i].value);
}

/* A private directory where fsync is cheap. */
static void make_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(E.dir, sizeof(E.dir), "/dev/shm/keyhold-fuzz-XXXXXX");
	if (mkdtemp(E.dir) == NULL) {
		snprintf(E.dir, sizeof(E.dir), "%s/keyhold-fuzz-XXXXXX",
		         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		CHECK(mkdtemp(E.dir) != NULL);
	}
	snprintf(E.db, sizeof(E.db), "%s/keyhold.db", E.dir);
	snprintf(E.wal, sizeof(E.wal), "%s-wal", E.db);
	snprintf(E.shm, sizeof(E.shm), "%s-shm", E.db);
}

static void engine_setup(void)
{
	struct stat st;
	SETUP(kh_crypto_init());
	kh_log_set_level(KH_LOG_ERROR);
	kh_log_set_sink(log_sink, NULL);
	make_dir();
	atexit(engine_cleanup);
	kh_clock_fake_init(&E.clock, START_NS);
	kh_clock_fake_init(&E.limiter_clock, START_NS);
	kh_buf_init(&E.share, 512, KH_BUF_SECURE);
	kh_buf_init(&E.blank, (size_t)64 * 1024 * 1024, KH_BUF_PLAIN);
	kh_buf_init(&E.snapshot, (size_t)64 * 1024 * 1024, KH_BUF_PLAIN);
	struct kh_store_options so = {.path = E.db};
	SETUP(kh_store_open(&so, &E.store));
	kh_store_close(&E.store);
	read_file(E.db, &E.blank);
	layers_open(OPEN_INIT);
	make_callers();
	make_keys();
	make_outputs();
	make_large();
	make_knowns();
	make_xks(); /* its knowns come last, so the seeds' known values keep their places */
	make_pki(); /* and the PKI's after them */
	struct kh_buf *b64 = subst_new("share");
	SETUP(kh_base64_encode(kh_buf_slice(&E.share), b64));
	CHECK(b64->len < sizeof(E.share_b64));
	memcpy(E.share_b64, b64->ptr, b64->len);
	layers_close();
	/* The last connection to close checkpoints the log into the database file. */
	CHECK(stat(E.wal, &st) != 0 || st.st_size == 0);
	read_file(E.db, &E.snapshot);
	E.ready = true;
}

/* The database as the set-up left it (or never initialised), the layers reopened, the clock
 * back. */
static void engine_reset(bool blank)
{
	remove_backups();
	unlink(E.wal);
	unlink(E.shm);
	write_file(E.db, kh_buf_slice(blank ? &E.blank : &E.snapshot));
	kh_clock_fake_set(&E.clock, START_NS);
	layers_open(blank ? OPEN_BLANK : OPEN_UNSEALED);
}

/* ---- reading an input ---- */

struct cursor {
	const uint8_t *p;
	size_t n;
};

static uint8_t take_byte(struct cursor *c)
{
	if (c->n == 0)
		return 0;
	c->n--;
	return *c->p++;
}

static struct kh_slice take_bytes(struct cursor *c, size_t len)
{
	struct kh_slice s = KH_SLICE(c->p, len < c->n ? len : c->n);
	c->p += s.len;
	c->n -= s.len;
	return s;
}

/* 1 length byte and the bytes. */
static struct kh_slice take_short(struct cursor *c)
{
	return take_bytes(c, take_byte(c));
}

/* A known key's life cycle (API.md "Lifecycle rules"), as bits so a set of them is a mask. */
enum life {
	LIFE_ENABLED = 1u << 0,
	LIFE_DISABLED = 1u << 1,
	LIFE_PENDING = 1u << 2,
	LIFE_DELETED = 1u << 3,
};

/* What one input has done so far that the checks must know. */
struct state {
	unsigned life[KEY_COUNT];    /* each known key's state, as the answers so far make it */
	uint32_t version[KEY_COUNT]; /* and its current version */
	bool blank;                  /* started from a store never initialised */
	bool share_used;             /* a request carried the unseal share */
	bool grants_added;           /* the user may hold roles key_defs[] does not give it */
	bool tokens_unknown;         /* a token may have been revoked */
	bool xks_enabled_set;        /* an XKS key update enabled or disabled some key */
};

/* The substitution named at in[i] ("${name}"), or NULL. */
static const struct subst *subst_at(struct kh_slice in, size_t i, size_t *out_len)
{
	if (in.len - i < 4 || in.ptr[i] != '$' || in.ptr[i + 1] != '{')
		return NULL;
	for (size_t k = 0; k < E.subst_count; k++) {
		size_t n = strlen(E.substs[k].name);
		if (in.len - i >= n + 3 && memcmp(in.ptr + i + 2, E.substs[k].name, n) == 0 &&
		    in.ptr[i + 2 + n] == '}') {
			*out_len = n + 3;
			return &E.substs[k];
		}
	}
	return NULL;
}

/* Appends in with every "${name}" replaced; false when out is full. */
static bool expand(struct kh_slice in, struct kh_buf *out, struct state *st)
{
	for (size_t i = 0; i < in.len;) {
		size_t used = 0;
		const struct subst *s = subst_at(in, i, &used);
		kh_rc rc;
		if (s != NULL) {
			rc = kh_buf_append(out, kh_buf_slice(&s->value));
			st->share_used |= strcmp(s->name, "share") == 0;
			i += used;
		} else {
			rc = kh_buf_append_byte(out, in.ptr[i]);
			i++;
		}
		if (rc != KH_OK)
			return false;
	}
	return true;
}

/* One request as read from the input. */
struct request {
	const char *method;
	struct kh_buf target;
	struct kh_buf body;
	int who;
	bool json; /* the body is sent as JSON */
	char auth[300];
	struct kh_http_kv headers[2];
	size_t header_count;
};

/* The path: a route with its {} filled, or raw bytes. */
static bool read_path(struct cursor *in, const struct route *r, struct request *rq,
                      struct state *st)
{
	if (r == NULL)
		return expand(take_short(in), &rq->target, st);
	for (const char *p = r->pattern; *p != '\0'; p++) {
		bool ok = true;
		if (p[0] == '{' && p[1] == '}') {
			uint8_t b = take_byte(in);
			if (b == 0xff)
				ok = expand(take_short(in), &rq->target, st);
			else
				ok = kh_buf_append_cstr(&rq->target,
				                        E.knowns[b % E.known_count].text) == KH_OK;
			p++;
		} else {
			ok = kh_buf_append_byte(&rq->target, (uint8_t)*p) == KH_OK;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* The Authorization header of the caller (none for WHO_NONE). */
static void read_caller(struct cursor *in, struct request *rq)
{
	rq->who = take_byte(in) % WHO_COUNT;
	switch (rq->who) {
	case WHO_NONE:
		return;
	case WHO_UNKNOWN:
		snprintf(rq->auth, sizeof(rq->auth), "Bearer kh_%s%s",
		         "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210");
		break;
	case WHO_RAW: {
		struct kh_slice raw = take_short(in);
		const uint8_t *nul = raw.len > 0 ? memchr(raw.ptr, 0, raw.len) : NULL;
		size_t n = nul != NULL ? (size_t)(nul - raw.ptr) : raw.len;
		memcpy(rq->auth, raw.ptr, n); /* at most 255 bytes */
		rq->auth[n] = '\0';
		break;
	}
	default:
		snprintf(rq->auth, sizeof(rq->auth), "Bearer %s", E.tokens[HOLDER(rq->who)]);
		break;
	}
	rq->headers[rq->header_count++] = (struct kh_http_kv){"Authorization", rq->auth};
}

static bool read_request(struct cursor *in, struct request *rq, struct state *st)
{
	uint8_t m = take_byte(in);
	uint8_t r = take_byte(in);
	const struct route *route =
	    r % (ROUTE_COUNT + 1) < ROUTE_COUNT ? &routes[r % (ROUTE_COUNT + 1)] : NULL;
	rq->method =
	    m < 0x80 && route != NULL ? route->method : methods[(m & 0x7f) % COUNT(methods)];
	if (!read_path(in, route, rq, st))
		return false;
	read_caller(in, rq);
	size_t t = take_byte(in) % COUNT(types);
	rq->json = types[t].json;
	if (types[t].value != NULL)
		rq->headers[rq->header_count++] =
		    (struct kh_http_kv){"Content-Type", types[t].value};
	struct kh_slice query = take_short(in);
	if (query.len > 0 &&
	    (kh_buf_append_byte(&rq->target, '?') != KH_OK || !expand(query, &rq->target, st)))
		return false;
	size_t body_len = take_byte(in);
	body_len |= (size_t)take_byte(in) << 8;
	return expand(take_bytes(in, body_len), &rq->body, st);
}

/* ---- what a response must be ---- */

/* A request and its answer, with what the checks derive from them. */
struct exchange {
	const struct kh_http_request *req;
	const struct kh_http_response *resp;
	int who;
	bool json;                 /* the body was sent as JSON */
	const struct route *match; /* the route of the table with this method and path */
	char params[4][KH_LIMIT_PATH_PARAM_LONG_BYTES + 1];
	bool sealed_before;
	bool sealed_after;
	bool initialized_before;
	bool initialized_after;
	const struct state *st;
};

/* Matches a decoded path against a pattern of the table, capturing the {} segments. */
static bool match_pattern(const struct route *r, const char *path, struct exchange *x)
{
	const char *pattern = r->pattern;
	size_t max = (r->flags & R_LONG) != 0 ? KH_LIMIT_PATH_PARAM_LONG_BYTES : KH_LIMIT_NAME_MAX;
	size_t n = 0;
	while (*pattern != '\0' && *path != '\0') {
		if (pattern[0] == '{' && pattern[1] == '}' && pattern[2] == '\0' &&
		    (r->flags & R_TAIL) != 0 && n < COUNT(x->params)) {
			/* The captured copy is cut to its size; the rest of the path is taken. */
			snprintf(x->params[n], sizeof(x->params[n]), "%s", path);
			return true;
		}
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t len = strcspn(path, "/");
			if (len == 0 || len > max || n == COUNT(x->params))
				return false;
			memcpy(x->params[n], path, len);
			x->params[n++][len] = '\0';
			pattern += 2;
			path += len;
		} else if (*pattern++ != *path++) {
			return false;
		}
	}
	return *pattern == '\0' && *path == '\0';
}

static void find_match(struct exchange *x)
{
	/* HEAD is answered as GET (the server drops the body). */
	const char *method = strcmp(x->req->method_name, "HEAD") == 0 ? "GET" : x->req->method_name;
	for (size_t i = 0; i < ROUTE_COUNT; i++) {
		if (strcmp(routes[i].method, method) == 0 &&
		    match_pattern(&routes[i], x->req->path, x)) {
			x->match = &routes[i];
			return;
		}
	}
}

static bool is_2xx(unsigned status)
{
	return status >= 200 && status < 300;
}

static const char *header_of(const struct kh_http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->header_count; i++)
		if (strcmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

static void check_status(const struct exchange *x)
{
	static const unsigned documented[] = {200, 201, 204, 400, 401, 403, 404,
	                                      405, 409, 413, 415, 429, 503};
	unsigned status = x->resp->status;
	bool known = false;
	for (size_t i = 0; i < COUNT(documented); i++)
		known |= status == documented[i];
	/* EST: 202 while a request waits for approval (RFC 7030 4.2.3). */
	known |= status == 202 && x->match != NULL && (x->match->flags & R_EST) != 0;
	/* Health answers 501 on a store never initialised (API.md "System"). */
	known |= status == 501 && !x->initialized_after && x->match != NULL &&
	         strcmp(x->match->pattern, "/v1/sys/health") == 0;
	CHECK(known);
	CHECK(status != 503 || x->sealed_after);
	CHECK(status != 415 || !x->json ||
	      (x->match != NULL && (x->match->flags & R_RAW_BODY) != 0));
	/* After init the service is sealed, waiting for its custodians; a refused init leaves
	 * the store as it was, to be initialised again. */
	if (x->match != NULL && strcmp(x->match->pattern, "/v1/sys/init") == 0) {
		if (is_2xx(status))
			CHECK(x->initialized_after && x->sealed_after);
		else
			CHECK(x->initialized_after == x->initialized_before);
	}
	if (status == 429)
		CHECK(header_of(x->resp, "Retry-After") != NULL);
}

/* API.md "Errors": the code of each status. */
static bool code_fits(unsigned status, struct kh_slice code)
{
	static const struct {
		unsigned status;
		const char *code;
	} codes[] = {
	    {400, "BadRequest"},
	    {400, "InvalidCiphertext"},
	    {401, "Unauthenticated"},
	    {403, "Forbidden"},
	    {404, "NotFound"},
	    {405, "MethodNotAllowed"},
	    {409, "Conflict"},
	    {409, "KeyDisabled"},
	    {409, "KeyPendingDeletion"},
	    {409, "VersionDisabled"},
	    {400, "BadSignature"},
	    {413, "PayloadTooLarge"},
	    {415, "UnsupportedMediaType"},
	    {429, "TooManyRequests"},
	    {503, "Sealed"},
	};
	for (size_t i = 0; i < COUNT(codes); i++)
		if (codes[i].status == status &&
		    kh_slice_eq(code, kh_slice_from_cstr(codes[i].code)))
			return true;
	return false;
}

static const struct kh_json *member(const struct kh_json *obj, const char *name)
{
	void *cursor = NULL;
	if (obj == NULL)
		return NULL;
	struct kh_slice n;
	const struct kh_json *v;
	while (kh_json_object_next(obj, &cursor, &n, &v))
		if (kh_slice_eq(n, kh_slice_from_cstr(name)))
			return v;
	return NULL;
}

static void check_error(const struct exchange *x, const struct kh_json *doc)
{
	static const char *const top[] = {"error", NULL};
	static const char *const inner[] = {"code", "message", "request_id", NULL};
	const struct kh_json *e = member(doc, "error");
	struct kh_slice code, message, id;
	char err[128];
	CHECK(kh_json_only(doc, top, err, sizeof(err)) == KH_OK);
	CHECK(e != NULL && kh_json_is_object(e));
	CHECK(kh_json_only(e, inner, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_get_string(e, "code", &code) == KH_OK);
	CHECK(kh_json_get_string(e, "message", &message) == KH_OK && message.len > 0);
	CHECK(kh_json_get_string(e, "request_id", &id) == KH_OK);
	CHECK(kh_slice_eq(id, kh_slice_from_cstr(x->req->request_id)));
	CHECK(code_fits(x->resp->status, code));
}

static bool names_secret(struct kh_slice name)
{
	static const char *const secrets[] = {"plaintext",   "token",          "random",
	                                      "shares",      "operator_token", "secret_access_key",
	                                      "console_file"};
	for (size_t i = 0; i < COUNT(secrets); i++)
		if (kh_slice_eq(name, kh_slice_from_cstr(secrets[i])))
			return true;
	return false;
}

/* Secrets at the top, or plaintexts in batch items, only in a secure body. */
static void check_secure(const struct exchange *x, const struct kh_json *doc)
{
	bool secure = (x->resp->body.flags & KH_BUF_SECURE) != 0;
	void *cursor = NULL;
	struct kh_slice name;
	const struct kh_json *v;
	size_t count = 0;
	while (kh_json_object_next(doc, &cursor, &name, &v)) {
		CHECK(secure || !names_secret(name));
		if (!kh_slice_eq(name, KH_SLICE_LIT("batch")) ||
		    kh_json_as_array(v, &count) != KH_OK)
			continue;
		for (size_t i = 0; i < count; i++) {
			const struct kh_json *item = kh_json_array_at(v, i);
			CHECK(secure || !kh_json_is_object(item) ||
			      member(item, "plaintext") == NULL);
		}
	}
}

static void check_document(const struct exchange *x)
{
	const struct kh_http_response *resp = x->resp;
	/* Health answers 503 (501) with its own document while sealed (not initialised). */
	bool health = x->match != NULL && strcmp(x->match->pattern, "/v1/sys/health") == 0 &&
	              (resp->status == 503 || resp->status == 501);
	struct kh_json *doc = NULL;
	char err[128];
	/* EST answers in its own media types, errors in text/plain (api/est.c). */
	if (x->match != NULL && (x->match->flags & R_EST) != 0) {
		CHECK(resp->status == 204 || resp->status == 202 || resp->content_type != NULL);
		CHECK(resp->status != 204 || resp->body.len == 0);
		CHECK(resp->status != 401 || header_of(resp, "WWW-Authenticate") != NULL);
		CHECK((resp->status != 503 && resp->status != 429) ||
		      header_of(resp, "Retry-After") != NULL);
		return;
	}
	if (resp->content_type != NULL) {
		CHECK((strcmp(x->req->path, "/metrics") == 0 ||
		       (x->match != NULL && (x->match->flags & R_BINARY) != 0)) &&
		      resp->status == 200);
		CHECK(resp->body.len > 0);
		return;
	}
	if (resp->status == 204) {
		CHECK(resp->body.len == 0);
		return;
	}
	CHECK(kh_json_parse_object(kh_buf_slice(&resp->body), &doc, err, sizeof(err)) == KH_OK);
	if (resp->status >= 400 && !health)
		check_error(x, doc);
	else
		CHECK(member(doc, "error") == NULL);
	if (resp->status == 503 && !health)
		CHECK(header_of(resp, "Retry-After") != NULL);
	check_secure(x, doc);
	if (x->match != NULL && (x->match->flags & R_WEBHOOK) != 0)
		CHECK(member(doc, "secret") == NULL);
	kh_json_free(&doc);
}

/* The caller sent a token the store knows (a store never initialised knows none). */
static bool holds_token(const struct exchange *x)
{
	return x->who >= WHO_OPERATOR && x->who <= WHO_OTHER && !x->st->blank;
}

static bool public_path(const char *path)
{
	/* The PKI's publication paths (/pki/{ca}/...) need no token. */
	if (strncmp(path, "/pki/", 5) == 0)
		return true;
	/* EST authenticates by itself (Basic or a client certificate), never by a token. */
	if (strncmp(path, "/.well-known/est/", 17) == 0)
		return true;
	for (size_t i = 0; i < COUNT(public_paths); i++)
		if (strcmp(path, public_paths[i]) == 0)
			return true;
	return false;
}

static void check_authentication(const struct exchange *x)
{
	unsigned status = x->resp->status;
	if (is_2xx(status))
		CHECK(x->match != NULL);
	/* A failed authentication costs the address a token of its budget too: 429. */
	if (!holds_token(x) && !public_path(x->req->path))
		CHECK(status == 401 || status == 404 || status == 405 || status == 429 ||
		      (status == 503 && x->sealed_before));
	if (holds_token(x) && !x->st->tokens_unknown)
		CHECK(status != 401);
	/* While sealed, a route that needs a token answers 503 to any that looks valid. */
	if (x->sealed_before && holds_token(x) && x->match != NULL &&
	    (x->match->flags & R_PUBLIC) == 0)
		CHECK(status == 503);
}

static const struct known *find_known(enum known_kind kind, const char *text)
{
	for (size_t i = 0; i < E.known_count; i++)
		if (E.knowns[i].kind == kind && strcmp(E.knowns[i].text, text) == 0)
			return &E.knowns[i];
	return NULL;
}

/* Keys of the other key store are never served to "fuzz" and back; the user only gets what
 * its role on the key allows, until the input adds a grant. */
static void check_key_access(const struct exchange *x)
{
	const struct known *k = find_known(K_TAG, x->params[0]);
	if (k == NULL)
		return;
	CHECK(keystore_of(x->who) == (k->owner == KEY_OTHER ? 1 : 0));
	if (x->who == WHO_USER && !x->st->grants_added)
		CHECK((x->match->roles & role_bit(key_defs[k->owner].user_role)) != 0);
}

/* An account's own, or its key store's managers' (the operator passed before). */
static bool may_act_for(int who, int owner)
{
	return who == owner || (is_manager(who) && keystore_of(who) == keystore_of(owner));
}

static void check_owner_access(const struct exchange *x)
{
	unsigned f = x->match->flags;
	const struct known *k;
	if (x->who == WHO_OPERATOR)
		return;
	if ((f & R_KEYSTORE) != 0 && (k = find_known(K_KEYSTORE, x->params[0])) != NULL)
		CHECK(is_manager(x->who) && keystore_of(x->who) == k->owner);
	if ((f & R_ACCOUNT) != 0 && (k = find_known(K_ACCOUNT, x->params[0])) != NULL)
		CHECK(may_act_for(x->who, k->owner));
	if ((f & R_TOKEN) != 0 && (k = find_known(K_TOKEN, x->params[0])) != NULL)
		CHECK(k->owner != WHO_OPERATOR && may_act_for(x->who, k->owner));
}

/* An account learns nothing of the other key store's keys, accounts and tokens: they answer
 * as unknown ones do, never 403 (API.md: "both 404"). */
static void check_foreign(const struct exchange *x)
{
	const struct known *k = NULL;
	int ks = -1;
	if (x->match == NULL || keystore_of(x->who) < 0)
		return;
	if ((x->match->flags & R_KEY) != 0 && (k = find_known(K_TAG, x->params[0])) != NULL)
		ks = k->owner == KEY_OTHER ? 1 : 0;
	else if ((x->match->flags & R_ACCOUNT) != 0 &&
	         (k = find_known(K_ACCOUNT, x->params[0])) != NULL)
		ks = keystore_of(k->owner);
	else if ((x->match->flags & R_TOKEN) != 0 &&
	         (k = find_known(K_TOKEN, x->params[0])) != NULL)
		ks = keystore_of(k->owner);
	/* XKS key stores: a manager of the other key store learns nothing of them (an account
	 * that manages nothing is refused alike for every id, which tells nothing). */
	else if ((x->match->flags & R_XKS_STORE) != 0 && is_manager(x->who) &&
	         (k = find_known(K_XKS_STORE, x->params[0])) != NULL)
		ks = k->owner;
	/* Another key store's CA answers an account 404, as if it did not exist. */
	else if ((x->match->flags & R_PKI_CA) != 0 &&
	         (k = find_known(K_PKI_CA, x->params[0])) != NULL)
		ks = k->owner;
	if (ks >= 0 && ks != keystore_of(x->who))
		CHECK(x->resp->status != 403);
	/* API.md: a key the user holds no role on answers 404, as if it did not exist. */
	if ((x->match->flags & R_KEY) != 0 && k != NULL && x->who == WHO_USER && !x->st->blank &&
	    !x->st->grants_added && key_defs[k->owner].user_role == 0)
		CHECK(x->resp->status != 403 && !is_2xx(x->resp->status));
}

/* API.md "Who may do what", for answers that say yes. */
static void check_access(const struct exchange *x)
{
	const struct known *k;
	unsigned f;
	if (!is_2xx(x->resp->status) || x->match == NULL || (x->match->flags & R_PUBLIC) != 0)
		return;
	f = x->match->flags;
	CHECK(holds_token(x));
	if ((f & R_OPERATOR) != 0)
		CHECK(x->who == WHO_OPERATOR);
	if ((f & R_MANAGERS) != 0)
		CHECK(is_manager(x->who));
	if ((f & R_AUDIT) != 0)
		CHECK(x->who == WHO_OPERATOR || is_manager(x->who));
	if ((f & (R_INBOX | R_KEYS)) != 0)
		CHECK(x->who != WHO_OPERATOR);
	if ((f & R_KEY) != 0)
		check_key_access(x);
	if ((f & (R_KEYSTORE | R_ACCOUNT | R_TOKEN)) != 0)
		check_owner_access(x);
	if ((f & R_XKS) != 0)
		CHECK(x->who == WHO_OPERATOR || is_manager(x->who));
	if ((f & R_XKS_STORE) != 0 && x->who != WHO_OPERATOR &&
	    (k = find_known(K_XKS_STORE, x->params[0])) != NULL)
		CHECK(keystore_of(x->who) == k->owner);
	/* A CA is its key store's: an account of the other one never gets a yes about it. */
	if ((f & R_PKI_CA) != 0 && x->who != WHO_OPERATOR &&
	    (k = find_known(K_PKI_CA, x->params[0])) != NULL)
		CHECK(keystore_of(x->who) == k->owner);
}

/* ---- what an answer that says yes means ---- */

/* The answers of crypto operations are checked with keys/ itself, as the manager of the key's
 * store: what encrypt, data-key and re-encrypt return decrypts (with the request's context)
 * to the request's plaintext, the data key, or what the old ciphertext held; what sign and mac
 * return verifies. Batches and signatures with a chosen algorithm are left out. */
struct round_trip {
	const struct kh_principal *mgr;
	const char *tag;
	const struct kh_json *req;  /* the request body, NULL when none */
	const struct kh_json *resp; /* the answer */
};

static struct kh_slice text_of(const struct kh_json *doc, const char *name)
{
	struct kh_slice s = KH_SLICE_EMPTY;
	CHECK(kh_json_get_string(doc, name, &s) == KH_OK);
	return s;
}

/* A Base64 member of the request (empty when absent, as the handlers take it). */
static void b64_of(const struct kh_json *doc, const char *name, struct kh_buf *out)
{
	kh_rc rc = doc != NULL ? kh_json_get_base64(doc, name, out) : KH_ERR_NOT_FOUND;
	CHECK(rc == KH_OK || rc == KH_ERR_NOT_FOUND);
}

/* ct decrypts under the context of the request to want (want NULL: to what old does). */
static void check_decrypts(const struct round_trip *rt, struct kh_slice ct,
                           const struct kh_buf *want, struct kh_slice old)
{
	struct kh_buf ctx, got, before;
	kh_buf_init(&ctx, KH_LIMIT_CONTEXT_BYTES, KH_BUF_PLAIN);
	kh_buf_init(&got, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_SECURE);
	kh_buf_init(&before, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_SECURE);
	b64_of(rt->req, "context", &ctx);
	CHECK(kh_keys_decrypt(E.keys, rt->mgr, rt->tag, ct, kh_buf_slice(&ctx), &got) == KH_OK);
	if (want == NULL) {
		CHECK(kh_keys_decrypt(E.keys, rt->mgr, rt->tag, old, kh_buf_slice(&ctx), &before) ==
		      KH_OK);
		want = &before;
	}
	CHECK(kh_slice_eq(kh_buf_slice(&got), kh_buf_slice(want)));
	kh_buf_cleanup(&ctx);
	kh_buf_cleanup(&got);
	kh_buf_cleanup(&before);
}

static void round_trip_encrypt(const struct round_trip *rt)
{
	struct kh_buf pt;
	if (member(rt->req, "batch") != NULL)
		return;
	kh_buf_init(&pt, KH_LIMIT_PLAINTEXT_BYTES, KH_BUF_SECURE);
	b64_of(rt->req, "plaintext", &pt);
	check_decrypts(rt, text_of(rt->resp, "ciphertext"), &pt, KH_SLICE_EMPTY);
	kh_buf_cleanup(&pt);
}

static void round_trip_data_key(const struct round_trip *rt)
{
	struct kh_buf key;
	if (member(rt->resp, "plaintext") == NULL)
		return;
	int64_t bits = 256;
	kh_rc rc = rt->req != NULL ? kh_json_get_int(rt->req, "bits", 0, INT64_MAX, &bits)
	                           : KH_ERR_NOT_FOUND;
	CHECK(rc == KH_OK || rc == KH_ERR_NOT_FOUND);
	kh_buf_init(&key, KH_LIMIT_DATA_KEY_BITS_MAX / 8, KH_BUF_SECURE);
	CHECK(kh_json_get_base64(rt->resp, "plaintext", &key) == KH_OK);
	CHECK(key.len * 8 == (size_t)bits);
	check_decrypts(rt, text_of(rt->resp, "ciphertext"), &key, KH_SLICE_EMPTY);
	kh_buf_cleanup(&key);
}

static void round_trip_sign(const struct round_trip *rt, bool mac)
{
	struct kh_buf msg;
	bool valid = false, digest = member(rt->req, "digest") != NULL;
	if (member(rt->req, "algorithm") != NULL)
		return;
	kh_buf_init(&msg, KH_LIMIT_SIGN_MESSAGE_BYTES, KH_BUF_PLAIN);
	b64_of(rt->req, digest ? "digest" : "message", &msg);
	if (mac)
		CHECK(kh_keys_verify_mac(E.keys, rt->mgr, rt->tag, kh_buf_slice(&msg),
		                         text_of(rt->resp, "mac"), &valid) == KH_OK);
	else
		CHECK(kh_keys_verify(E.keys, rt->mgr, rt->tag, 0, digest, kh_buf_slice(&msg),
		                     text_of(rt->resp, "signature"), &valid) == KH_OK);
	CHECK(valid);
	kh_buf_cleanup(&msg);
}

/* What each key route needs of the key's state, and what it leaves (0: the same). */
static const struct {
	const char *route;
	unsigned before;
	unsigned after;
} life_rules[] = {
    {"POST /v1/keys/{}/disable", LIFE_ENABLED | LIFE_DISABLED, LIFE_DISABLED},
    {"POST /v1/keys/{}/enable", LIFE_ENABLED | LIFE_DISABLED, LIFE_ENABLED},
    {"POST /v1/keys/{}/schedule-deletion", LIFE_ENABLED | LIFE_DISABLED, LIFE_PENDING},
    /* Cancelling leaves the key disabled; DELETE during the wait destroys at once. */
    {"POST /v1/keys/{}/cancel-deletion", LIFE_PENDING, LIFE_DISABLED},
    {"DELETE /v1/keys/{}", LIFE_PENDING, LIFE_DELETED},
    /* Only enabled keys serve crypto operations. */
    {"POST /v1/keys/{}/encrypt", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/decrypt", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/data-key", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/reencrypt", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/sign", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/verify", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/mac", LIFE_ENABLED, 0},
    {"POST /v1/keys/{}/verify-mac", LIFE_ENABLED, 0},
    /* A deleted key changes no more. */
    {"PATCH /v1/keys/{}", LIFE_ENABLED | LIFE_DISABLED | LIFE_PENDING, 0},
    {"POST /v1/keys/{}/rotate", LIFE_ENABLED | LIFE_DISABLED | LIFE_PENDING, 0},
    {"POST /v1/keys/{}/versions/{}/disable", LIFE_ENABLED | LIFE_DISABLED | LIFE_PENDING, 0},
    {"POST /v1/keys/{}/versions/{}/enable", LIFE_ENABLED | LIFE_DISABLED | LIFE_PENDING, 0},
    {"POST /v1/keys/{}/grants", LIFE_ENABLED | LIFE_DISABLED | LIFE_PENDING, 0},
};

static const char *life_name(unsigned life)
{
	switch (life) {
	case LIFE_ENABLED:
		return "enabled";
	case LIFE_DISABLED:
		return "disabled";
	case LIFE_PENDING:
		return "pending-deletion";
	default:
		return "deleted";
	}
}

/* A key object of a known key shows the state the answers so far gave it. */
static void check_key_object(const struct state *st, const struct kh_json *obj)
{
	struct kh_slice tag, state;
	char text[KH_KEY_TAG_LEN + 1];
	const struct known *k;
	int64_t version = 0;
	/* An XKS key update may have enabled or disabled a known key (attached in the input). */
	if (st->xks_enabled_set)
		return;
	if (kh_json_get_string(obj, "tag", &tag) != KH_OK || tag.len > KH_KEY_TAG_LEN ||
	    kh_json_get_string(obj, "state", &state) != KH_OK)
		return;
	snprintf(text, sizeof(text), "%.*s", (int)tag.len, (const char *)tag.ptr);
	if ((k = find_known(K_TAG, text)) == NULL)
		return;
	CHECK(kh_slice_eq(state, kh_slice_from_cstr(life_name(st->life[k->owner]))));
	CHECK(kh_json_get_int(obj, "current_version", 1, UINT32_MAX, &version) == KH_OK);
	CHECK(version == st->version[k->owner]);
}

/* After a rotation only the newest version encrypts and signs: what encrypt, data-key,
 * re-encrypt, sign and mac return (batch items too) is "kh:v<current>:...". */
static void check_output_version(const struct kh_json *obj, uint32_t version)
{
	static const char *const names[] = {"ciphertext", "signature", "mac"};
	const struct kh_json *batch = member(obj, "batch");
	char prefix[24];
	size_t count = 0;
	snprintf(prefix, sizeof(prefix), "kh:v%u:", version);
	for (size_t i = 0; i < COUNT(names); i++) {
		struct kh_slice text;
		if (kh_json_get_string(obj, names[i], &text) == KH_OK)
			CHECK(text.len > strlen(prefix) &&
			      memcmp(text.ptr, prefix, strlen(prefix)) == 0);
	}
	if (batch != NULL && kh_json_as_array(batch, &count) == KH_OK)
		for (size_t i = 0; i < count; i++)
			check_output_version(kh_json_array_at(batch, i), version);
}

/* Versions: rotation adds one, the current one is never disabled, the list has them all. */
static void check_versions(const struct exchange *x, struct state *st, size_t key,
                           const char *route, const struct kh_json *doc)
{
	char current[16];
	size_t count = 0;
	snprintf(current, sizeof(current), "%u", st->version[key]);
	if (strcmp(route, "POST /v1/keys/{}/rotate") == 0)
		st->version[key]++;
	if (strcmp(route, "POST /v1/keys/{}/versions/{}/disable") == 0)
		CHECK(strcmp(x->params[1], current) != 0);
	if (strcmp(route, "GET /v1/keys/{}/versions") == 0) {
		CHECK(kh_json_as_array(member(doc, "versions"), &count) == KH_OK);
		CHECK(count == st->version[key]);
	}
	if (strstr(route, "/verify") == NULL && strstr(route, "/decrypt") == NULL)
		check_output_version(doc, st->version[key]);
}

/* A deletion goes ahead only with no confirm_name or the key's own name (one given for another
 * key is a mistake to refuse). */
static void check_confirm_name(const struct exchange *x, const char *name)
{
	struct kh_json *req = NULL;
	struct kh_slice confirm;
	char err[128];
	if (x->req->body.len == 0)
		return;
	CHECK(kh_json_parse_object(x->req->body, &req, err, sizeof(err)) == KH_OK);
	if (kh_json_get_string(req, "confirm_name", &confirm) == KH_OK)
		CHECK(kh_slice_eq(confirm, kh_slice_from_cstr(name)));
	kh_json_free(&req);
}

/* A key route that says yes was allowed by the key's state, and moves it as API.md says. */
static void check_lifecycle(const struct exchange *x, struct state *st)
{
	const struct known *k;
	struct kh_json *doc = NULL;
	char name[96], err[128];
	if (!is_2xx(x->resp->status) || x->match == NULL || (x->match->flags & R_KEY) == 0 ||
	    st->blank || (k = find_known(K_TAG, x->params[0])) == NULL)
		return;
	snprintf(name, sizeof(name), "%s %s", x->match->method, x->match->pattern);
	for (size_t i = 0; i < COUNT(life_rules); i++) {
		if (strcmp(name, life_rules[i].route) != 0)
			continue;
		CHECK(st->xks_enabled_set || (st->life[k->owner] & life_rules[i].before) != 0);
		if (life_rules[i].after != 0)
			st->life[k->owner] = life_rules[i].after;
	}
	if (strcmp(name, "POST /v1/keys/{}/schedule-deletion") == 0)
		check_confirm_name(x, key_defs[k->owner].name);
	CHECK(kh_json_parse_object(kh_buf_slice(&x->resp->body), &doc, err, sizeof(err)) == KH_OK);
	check_versions(x, st, (size_t)k->owner, name, doc);
	check_key_object(st, doc);
	kh_json_free(&doc);
}

/* Lists hold only what the caller may see: keys of its own key store (for the user, only
 * those it holds a role on, until the input adds a grant), grants to accounts of the key's
 * store, audit records of its own key store (the operator: the system's). */
static void check_list_items(const struct exchange *x, const struct kh_json *items,
                             const char *kind)
{
	size_t count = 0;
	CHECK(kh_json_as_array(items, &count) == KH_OK);
	for (size_t i = 0; i < count; i++) {
		const struct kh_json *item = kh_json_array_at(items, i);
		const struct known *k;
		struct kh_slice tag;
		int64_t id = 0;
		char text[24];
		if (strcmp(kind, "keys") == 0) {
			CHECK(kh_json_get_string(item, "tag", &tag) == KH_OK);
			snprintf(text, sizeof(text), "%.*s", (int)tag.len, (const char *)tag.ptr);
			if ((k = find_known(K_TAG, text)) == NULL)
				continue;
			CHECK(keystore_of(x->who) == (k->owner == KEY_OTHER ? 1 : 0));
			CHECK(x->who != WHO_USER || x->st->grants_added ||
			      key_defs[k->owner].user_role != 0);
			check_key_object(x->st, item);
		} else if (strcmp(kind, "stores") == 0) {
			CHECK(kh_json_get_int(item, "keystore_id", 1, INT64_MAX, &id) == KH_OK);
			CHECK(x->who == WHO_OPERATOR || id == E.keystores[keystore_of(x->who)]);
		} else if (strcmp(kind, "records") == 0) {
			CHECK(kh_json_get_int(item, "keystore", 0, INT64_MAX, &id) == KH_OK);
			CHECK(id ==
			      (x->who == WHO_OPERATOR ? 0 : E.keystores[keystore_of(x->who)]));
		} else {
			CHECK(kh_json_get_int(item, "account", 1, INT64_MAX, &id) == KH_OK);
			snprintf(text, sizeof(text), "%lld", (long long)id);
			const struct known *tag_of = find_known(K_TAG, x->params[0]);
			if ((k = find_known(K_ACCOUNT, text)) != NULL && tag_of != NULL)
				CHECK(keystore_of(k->owner) ==
				      (tag_of->owner == KEY_OTHER ? 1 : 0));
		}
	}
}

static void check_lists(const struct exchange *x)
{
	static const char *const lists[][2] = {
	    {"GET /v1/keys", "keys"},
	    {"GET /v1/audit", "records"},
	    {"GET /v1/keys/{}/grants", "grants"},
	    {"GET /v1/xks/stores", "stores"},
	};
	struct kh_json *doc = NULL;
	char err[128], name[64];
	if (!is_2xx(x->resp->status) || x->match == NULL)
		return;
	snprintf(name, sizeof(name), "%s %s", x->match->method, x->match->pattern);
	for (size_t i = 0; i < COUNT(lists); i++) {
		if (strcmp(name, lists[i][0]) != 0)
			continue;
		CHECK(kh_json_parse_object(kh_buf_slice(&x->resp->body), &doc, err, sizeof(err)) ==
		      KH_OK);
		CHECK(member(doc, lists[i][1]) != NULL);
		check_list_items(x, member(doc, lists[i][1]), lists[i][1]);
		kh_json_free(&doc);
	}
}

/* API.md: a webhook's URL is https://, or http:// to a loopback address. The host is read here
 * as the classic inet_aton does (which takes "127.1" and "0x7f000001" as libcurl does); a host
 * that is no address is a name, and DNS may send it anywhere. */
static bool loopback_url(const char *url)
{
	char host[KH_LIMIT_WEBHOOK_URL_BYTES + 1];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;
	if (strncmp(url, "http://", 7) != 0)
		return true;
	n = strcspn(url + 7, "/?#");
	snprintf(host, sizeof(host), "%.*s", (int)n, url + 7);
	if (host[0] == '[') {
		char *end = strchr(host, ']');
		if (end == NULL)
			return false;
		*end = '\0';
		return inet_pton(AF_INET6, host + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if (strchr(host, ':') != NULL)
		*strchr(host, ':') = '\0';
	if (strcmp(host, "localhost") == 0)
		return true;
	return inet_aton(host, &a4) != 0 && (ntohl(a4.s_addr) >> 24) == 127;
}

static void check_webhook_url(const struct exchange *x)
{
	struct kh_json *req = NULL;
	struct kh_slice url;
	char text[KH_LIMIT_WEBHOOK_URL_BYTES + 1], err[128];
	if (!is_2xx(x->resp->status) || x->match == NULL || strcmp(x->match->method, "PUT") != 0 ||
	    (x->match->flags & R_WEBHOOK) == 0)
		return;
	CHECK(kh_json_parse_object(x->req->body, &req, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_get_string(req, "url", &url) == KH_OK && url.len < sizeof(text));
	snprintf(text, sizeof(text), "%.*s", (int)url.len, (const char *)url.ptr);
	CHECK(loopback_url(text));
	kh_json_free(&req);
}

static void check_random(const struct exchange *x)
{
	struct kh_json *req = NULL, *resp = NULL;
	struct kh_buf got;
	int64_t n = 0;
	char err[128];
	if (!is_2xx(x->resp->status) || x->match == NULL ||
	    strcmp(x->match->pattern, "/v1/random") != 0)
		return;
	CHECK(kh_json_parse_object(x->req->body, &req, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_parse_object(kh_buf_slice(&x->resp->body), &resp, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_get_int(req, "bytes", 1, KH_LIMIT_RANDOM_BYTES, &n) == KH_OK);
	kh_buf_init(&got, KH_LIMIT_RANDOM_BYTES, KH_BUF_SECURE);
	CHECK(kh_json_get_base64(resp, "random", &got) == KH_OK && got.len == (size_t)n);
	kh_buf_cleanup(&got);
	kh_json_free(&req);
	kh_json_free(&resp);
}

static void check_round_trip(const struct exchange *x)
{
	const struct known *k;
	struct round_trip rt;
	struct kh_json *req = NULL, *resp = NULL;
	const char *p;
	char err[128];
	if (!is_2xx(x->resp->status) || x->match == NULL || (x->match->flags & R_KEY) == 0 ||
	    (k = find_known(K_TAG, x->params[0])) == NULL)
		return;
	p = strrchr(x->match->pattern, '/');
	if (x->req->body.len > 0)
		CHECK(kh_json_parse_object(x->req->body, &req, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_parse_object(kh_buf_slice(&x->resp->body), &resp, err, sizeof(err)) == KH_OK);
	rt = (struct round_trip){&E.who[HOLDER(k->owner == KEY_OTHER ? WHO_OTHER : WHO_MANAGER)],
	                         E.tags[k->owner], req, resp};
	if (strcmp(p, "/encrypt") == 0)
		round_trip_encrypt(&rt);
	else if (strcmp(p, "/data-key") == 0)
		round_trip_data_key(&rt);
	else if (strcmp(p, "/reencrypt") == 0)
		check_decrypts(&rt, text_of(resp, "ciphertext"), NULL, text_of(req, "ciphertext"));
	else if (strcmp(p, "/sign") == 0 || strcmp(p, "/mac") == 0)
		round_trip_sign(&rt, strcmp(p, "/mac") == 0);
	kh_json_free(&req);
	kh_json_free(&resp);
}

static bool contains(const struct kh_http_response *resp, struct kh_slice needle)
{
	if (resp->body.len > 0 && memmem(resp->body.ptr, resp->body.len, needle.ptr, needle.len))
		return true;
	for (size_t i = 0; i < resp->header_count; i++)
		if (strstr(resp->headers[i].value, (const char *)needle.ptr) != NULL)
			return true;
	return false;
}

static void check_secrets(const struct exchange *x)
{
	for (size_t h = 0; h < TOKEN_HOLDERS; h++)
		CHECK(!contains(x->resp, kh_slice_from_cstr(E.tokens[h])));
	/* An XKS secret is shown once, when issued: never again. */
	for (size_t i = 0; i < COUNT(E.xks_secrets); i++)
		CHECK(!contains(x->resp, kh_slice_from_cstr(E.xks_secrets[i])));
	if (x->st->share_used)
		return;
	CHECK(!contains(x->resp, kh_slice_from_cstr(E.share_b64)));
	/* The raw share has NULs: only the body is searched for it. */
	CHECK(x->resp->body.len == 0 ||
	      memmem(x->resp->body.ptr, x->resp->body.len, E.share.ptr, E.share.len) == NULL);
}

/* ---- one request ---- */

static bool sealed(void)
{
	struct kh_barrier_status st;
	SETUP(kh_barrier_status(E.barrier, &st));
	return st.sealed;
}

static bool initialized(void)
{
	struct kh_barrier_status st;
	SETUP(kh_barrier_status(E.barrier, &st));
	return st.initialized;
}

static void send_request(struct request *rq, struct state *st, unsigned n)
{
	struct kh_http_local l;
	struct kh_http_response resp;
	struct exchange x = {.who = rq->who, .json = rq->json, .st = st};
	if (kh_http_local_init(&l, rq->method, kh_buf_slice(&rq->target), rq->headers,
	                       rq->header_count, kh_buf_slice(&rq->body)) != KH_OK)
		return; /* the server answers these itself */
	snprintf(l.req.request_id, sizeof(l.req.request_id), "fuzz-%u", n);
	memset(&resp, 0, sizeof(resp));
	kh_buf_init(&resp.body, RESPONSE_BODY_MAX, KH_BUF_PLAIN);
	current_path = l.req.path;
	x.req = &l.req;
	x.resp = &resp;
	x.sealed_before = sealed();
	x.initialized_before = initialized();
	kh_api_handle(E.api, &l.req, &resp);
	x.sealed_after = sealed();
	x.initialized_after = initialized();
	if (getenv("FUZZ_API_TRACE") != NULL)
		fprintf(stderr, "%s %s?%s (caller %d) -> %u %.*s\n", l.req.method_name, l.req.path,
		        l.req.query, rq->who, resp.status,
		        (int)(resp.body.len < 200 ? resp.body.len : 200),
		        (const char *)resp.body.ptr);
	find_match(&x);
	check_status(&x);
	check_document(&x);
	check_authentication(&x);
	check_access(&x);
	check_foreign(&x);
	check_secrets(&x);
	check_round_trip(&x);
	check_random(&x);
	check_webhook_url(&x);
	check_lists(&x);
	check_lifecycle(&x, st);
	check_log();
	if (is_2xx(resp.status) && x.match != NULL && (x.match->flags & R_GRANT_ADD) != 0)
		st->grants_added = true;
	if (is_2xx(resp.status) && x.match != NULL && (x.match->flags & R_TOKEN) != 0)
		st->tokens_unknown = true;
	if (is_2xx(resp.status) && x.match != NULL && (x.match->flags & R_LONG) != 0 &&
	    strcmp(x.match->method, "PATCH") == 0)
		st->xks_enabled_set = true;
	current_path = "";
	kh_buf_cleanup(&resp.body);
	kh_http_local_cleanup(&l);
}

static void run_request(struct cursor *in, struct state *st, unsigned n)
{
	struct request rq;
	memset(&rq, 0, sizeof(rq));
	kh_buf_init(&rq.target, 64 * 1024, KH_BUF_PLAIN);
	kh_buf_init(&rq.body, 2 * KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
	if (read_request(in, &rq, st))
		send_request(&rq, st, n);
	kh_buf_cleanup(&rq.target);
	kh_buf_cleanup(&rq.body);
}

/* Whatever the requests did, the audit chain still verifies (when the share still opens the
 * barrier: a rekey makes it stale). */
static void check_audit_chain(void)
{
	struct kh_audit_verify_result v;
	struct kh_barrier_progress p;
	if (sealed() && kh_barrier_unseal(E.barrier, kh_buf_slice(&E.share), &p) != KH_OK)
		return;
	memset(&v, 0, sizeof(v));
	CHECK(kh_audit_verify(E.audit, -1, &v) == KH_OK);
	CHECK(v.ok && v.first_bad_seq == 0);
}

/* The table above must list every route the router has: a new route fails here until it is
 * added (and so fuzzed, with what API.md says of it). */
static void check_table(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f != NULL);
	kh_api_routes_print(f);
	CHECK(fclose(f) == 0);
	for (char *line = text, *next; *line != '\0'; line = next) {
		bool listed = false;
		next = strchr(line, '\n');
		CHECK(next != NULL);
		*next++ = '\0';
		for (size_t i = 0; i < ROUTE_COUNT; i++) {
			char want[96];
			snprintf(want, sizeof(want), "%s %s", routes[i].method, routes[i].pattern);
			listed |= strcmp(line, want) == 0;
		}
		if (!listed)
			fprintf(stderr, "fuzz_api: route not in the table: %s\n", line);
		CHECK(listed);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor in = {data, size};
	struct state st = {.life = {0}};
	if (!E.ready) {
		check_table();
		engine_setup();
	}
	for (size_t k = 0; k < KEY_COUNT; k++) {
		st.life[k] = LIFE_ENABLED;
		st.version[k] = E.versions[k];
	}
	st.blank = take_byte(&in) == 'U';
	engine_reset(st.blank);
	for (unsigned i = 0; i < MAX_REQUESTS && in.n > 0; i++)
		run_request(&in, &st, i + 1);
	check_audit_chain();
	layers_close();
	check_log();
	/* OpenSSL keeps its error queue's memory for reuse: an input that happened to grow it
	 * would look to libFuzzer like one that leaks. */
	kh_crypto_thread_cleanup();
	return 0;
}
