/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the XKS proxy as AWS KMS reaches it: kh_xks_proxy_handle over a real engine (store,
 * barrier, audit, keys) in a temporary directory, with requests built as the server builds them
 * (kh_http_local_init) and, when the input asks, validly signed with our SigV4 signer, so the
 * route parser, the signature check, the body decoders and the key operations all see fuzzed
 * bytes.
 *
 * Set-up, once per process (in /dev/shm, else $TMPDIR or /tmp): key store "fuzz", an XKS key
 * store with prefix "fz/a", one credential, keys "both" (encrypt and decrypt, rotated once),
 * "enc" (encrypt only) and "none"; secondary authorization off. Requests only record uses, so
 * the state an input leaves behind (usage counts, audit records) changes no answer.
 *
 * An input is:
 *   route  1 byte mod 5: health, metadata, encrypt, decrypt, or a raw path (1 length byte and
 *          the bytes, cut at a NUL)
 *   key    1 byte mod 4: "both", "enc", "none", or from the input (1 length byte and the bytes)
 *   sign   1 byte mod 5: signed validly, unsigned, signed with a wrong secret, signed by an
 *          unknown access key, or an Authorization value from the input (1 length byte)
 *   method 1 byte: below 0xf0 POST, else GET, PUT or DELETE
 *   body   the rest
 *
 * Checked on every answer (abort() on a violation): the status is one of 200, 400, 401, 403,
 * 404, 405, 429, 501 (never 500, nor 503: nothing here seals or times out); the body is one
 * compact JSON object (jq -c would not change it); an error is {"errorName"[,"errorMessage"]}
 * with the name of its status in the XKS.md table; 200 only for a validly signed POST of a
 * route, and then with the members of its operation; an unsigned or wrongly signed request
 * never gets past 401 (unless its route is bad: 404, or its method: 405); the secret never
 * appears in an answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "authz/kh_sigv4.h"
#include "base/kh_log.h"
#include "crypto/kh_crypto.h"
#include "http/kh_json.h"
#include "keys/kh_keys_xks.h"
#include "xks/kh_xks_proxy.h"
#include "xks/kh_xks_route.h"

#include "kh_fuzz.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_xks_proxy: check failed: %s (line %d)\n", #cond,     \
			        __LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
#define SETUP(expr)                                                                                \
	do {                                                                                       \
		kh_rc setup_rc_ = (expr);                                                          \
		if (setup_rc_ != KH_OK) {                                                          \
			fprintf(stderr, "fuzz_xks_proxy: set-up: %s: %s\n", #expr,                 \
			        kh_rc_name(setup_rc_));                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define START_NS (INT64_C(1800000000) * KH_NS_PER_SEC)
#define PREFIX "fz/a"
#define HOST "xks.example.com"

static struct {
	bool ready;
	char dir[256];
	char db[300];
	struct kh_clock clock;
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_xks_proxy *proxy;
	char ak[KH_XKS_ACCESS_KEY_MAX + 1];
	struct kh_buf secret;
} E;

static void log_sink(void *arg, const char *line, size_t len)
{
	(void)arg;
	(void)line;
	(void)len;
}

static void cleanup(void)
{
	kh_xks_proxy_free(&E.proxy);
	kh_keys_free(&E.keys);
	kh_audit_free(&E.audit);
	kh_barrier_free(&E.barrier);
	kh_store_close(&E.store);
	kh_buf_cleanup(&E.secret);
	char path[320];
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", E.db, suffixes[i]);
		unlink(path);
	}
	rmdir(E.dir);
}

static void attach(const struct kh_principal *mgr, int64_t store, const char *id, unsigned usages)
{
	struct kh_xks_key_attach a = {.external_key_id = id, .rotation_days = -1, .usages = usages};
	struct kh_xks_key_info info;
	SETUP(kh_keys_xks_key_attach(E.keys, mgr, store, &a, &info));
	if (strcmp(id, "both") == 0) {
		struct kh_key_info k;
		SETUP(kh_keys_rotate(E.keys, mgr, info.key.tag, &k));
	}
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	kh_fuzz_crypto_init();
	/* The engine lives for the whole run (threads, caches, OpenSSL state): not a leak. */
	kh_fuzz_lsan_off();
	kh_log_set_level(KH_LOG_ERROR);
	kh_log_set_sink(log_sink, NULL);
	snprintf(E.dir, sizeof(E.dir), "/dev/shm/keyhold-fuzz-XXXXXX");
	if (mkdtemp(E.dir) == NULL) {
		snprintf(E.dir, sizeof(E.dir), "%s/keyhold-fuzz-XXXXXX",
		         tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
		CHECK(mkdtemp(E.dir) != NULL);
	}
	snprintf(E.db, sizeof(E.db), "%s/keyhold.db", E.dir);
	atexit(cleanup);
	kh_clock_fake_init(&E.clock, START_NS);
	struct kh_store_options so = {.path = E.db};
	SETUP(kh_store_open(&so, &E.store));
	struct kh_barrier_options bo = {.store = E.store, .clock = &E.clock};
	SETUP(kh_barrier_new(&bo, &E.barrier));
	struct kh_barrier_shares *shares = NULL;
	struct kh_barrier_progress p;
	SETUP(kh_barrier_init(E.barrier, 1, 1, &shares));
	SETUP(kh_barrier_unseal(E.barrier, kh_buf_slice(&shares->share[0]), &p));
	kh_barrier_shares_free(&shares);
	struct kh_audit_options ao = {.store = E.store, .barrier = E.barrier, .clock = &E.clock};
	SETUP(kh_audit_new(&ao, &E.audit));
	struct kh_keys_options ko = {
	    .store = E.store, .barrier = E.barrier, .audit = E.audit, .clock = &E.clock};
	SETUP(kh_keys_new(&ko, &E.keys));
	const struct kh_principal op = {
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "setup", .source = ""};
	int64_t ks = 0, acct = 0;
	SETUP(kh_keys_keystore_create(E.keys, &op, "fuzz", &ks));
	SETUP(kh_keys_account_create(E.keys, &op, ks, "mgr", KH_POLICY_KMS_MANAGER, &acct));
	const struct kh_principal mgr = {.kind = KH_PRINCIPAL_ACCOUNT,
	                                 .account_id = acct,
	                                 .keystore_id = ks,
	                                 .policies = KH_POLICY_KMS_MANAGER,
	                                 .request_id = "setup",
	                                 .source = ""};
	struct kh_xks_store_create sc = {.prefix = PREFIX};
	struct kh_xks_store_info si;
	SETUP(kh_keys_xks_store_create(E.keys, &mgr, &sc, &si));
	struct kh_xks_credential_info ci;
	kh_buf_init(&E.secret, 256, KH_BUF_SECURE);
	SETUP(kh_keys_xks_credential_issue(E.keys, &mgr, si.id, &ci, &E.secret));
	snprintf(E.ak, sizeof(E.ak), "%s", ci.access_key_id);
	attach(&mgr, si.id, "both", KH_XKS_USE_ENCRYPT | KH_XKS_USE_DECRYPT);
	attach(&mgr, si.id, "enc", KH_XKS_USE_ENCRYPT);
	attach(&mgr, si.id, "none", 0);
	struct kh_xks_proxy_options xo = {
	    .keys = E.keys, .barrier = E.barrier, .clock = &E.clock, .mono_clock = &E.clock};
	SETUP(kh_xks_proxy_new(&xo, &E.proxy));
	kh_fuzz_lsan_on();
	E.ready = true;
}

/* ---- reading an input ---- */

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint8_t byte(struct cursor *c)
{
	if (c->left == 0)
		return 0;
	c->left--;
	return *c->p++;
}

/* 1 length byte and that many bytes (cut at the end), as a C string (cut at a NUL). */
static void chunk(struct cursor *c, char *out, size_t out_len)
{
	size_t n = byte(c);
	if (n > c->left)
		n = c->left;
	if (n >= out_len)
		n = out_len - 1;
	memcpy(out, c->p, n);
	out[n] = '\0';
	out[strnlen(out, n)] = '\0';
	c->p += n;
	c->left -= n;
}

/* ---- checking an answer ---- */

static const struct {
	const char *name;
	unsigned status;
} names[] = {
    {"ValidationException", 400},           {"InvalidStateException", 400},
    {"InvalidCiphertextException", 400},    {"InvalidKeyUsageException", 400},
    {"AuthenticationFailedException", 401}, {"AccessDeniedException", 403},
    {"KeyNotFoundException", 404},          {"InvalidUriPathException", 404},
    {"ThrottlingException", 429},           {"UnsupportedOperationException", 501},
};

static bool has(const struct kh_json *doc, const char *name)
{
	struct kh_slice s;
	return kh_json_get_string(doc, name, &s) == KH_OK;
}

static void check_answer(const struct kh_http_response *resp, int op, bool signed_ok, bool post)
{
	unsigned st = resp->status;
	CHECK(st == 200 || st == 400 || st == 401 || st == 403 || st == 404 || st == 405 ||
	      st == 429 || st == 501);
	/* One compact line. */
	CHECK(memchr(resp->body.ptr, '\n', resp->body.len) == NULL);
	struct kh_json *doc = NULL;
	char err[128];
	CHECK(kh_json_parse_object(kh_buf_slice(&resp->body), &doc, err, sizeof(err)) == KH_OK);
	CHECK(memmem(resp->body.ptr, resp->body.len, E.secret.ptr, E.secret.len) == NULL);
	if (st == 200) {
		CHECK(signed_ok && post && op >= 0 && op < 4);
		CHECK(!has(doc, "errorName"));
		switch (op) {
		case 0:
			CHECK(has(doc, "xksProxyVendor") && has(doc, "xksProxyModel"));
			break;
		case 1:
			CHECK(has(doc, "keySpec") && has(doc, "keyStatus"));
			break;
		case 2:
			CHECK(has(doc, "ciphertext") && has(doc, "initializationVector") &&
			      has(doc, "authenticationTag") && has(doc, "ciphertextMetadata"));
			break;
		default:
			CHECK(op == 3 && has(doc, "plaintext"));
			break;
		}
	} else {
		struct kh_slice name;
		CHECK(kh_json_get_string(doc, "errorName", &name) == KH_OK);
		bool known = false;
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (kh_slice_eq(name, kh_slice_from_cstr(names[i].name))) {
				known = true;
				CHECK(st == names[i].status || st == 405);
			}
		}
		CHECK(known);
		if (!signed_ok)
			CHECK(st == 401 || st == 404 || st == 405);
	}
	kh_json_free(&doc);
}

/* ---- one request ---- */

static void sign(const char *method, const char *path, struct kh_slice body, const char *date,
                 const char *ak, struct kh_slice secret, struct kh_buf *out)
{
	const struct kh_sigv4_header sh[] = {
	    {kh_slice_from_cstr("Host"), kh_slice_from_cstr(HOST)},
	    {kh_slice_from_cstr("X-Amz-Date"), kh_slice_from_cstr(date)},
	    {kh_slice_from_cstr("Content-Type"), kh_slice_from_cstr("application/json")},
	};
	struct kh_sigv4_request sr = {.method = kh_slice_from_cstr(method),
	                              .raw_path = kh_slice_from_cstr(path),
	                              .raw_query = kh_slice_from_cstr(""),
	                              .headers = sh,
	                              .header_count = 3,
	                              .body = body};
	struct kh_sigv4_credential cred = {.access_key_id = kh_slice_from_cstr(ak),
	                                   .secret = secret,
	                                   .region = "us-east-1",
	                                   .service = "kms-xks-proxy"};
	/* A path the signer refuses is sent unsigned. */
	if (kh_sigv4_sign(&cred, &sr, out) != KH_OK || kh_buf_append_byte(out, 0) != KH_OK)
		kh_buf_clear(out);
}

/* The store's writer thread makes OpenSSL's per-thread random generators on its first use;
 * like those of kh_fuzz_crypto_init they live in the secure heap, which LeakSanitizer does not
 * scan, and kh_fuzz_lsan_off cannot bracket them (it holds for the calling thread only). Only
 * allocations made under EVP_RAND_instantiate are suppressed. */
#ifdef KH_FUZZ_LSAN
/* The suppression names a libcrypto function: only the slow unwinder sees through libcrypto's
 * frames (it has no frame pointers). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:EVP_RAND_instantiate\n";
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libFuzzer calls this before the first input; the replay driver does not (setup then runs on
 * the first input). */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!E.ready)
		setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ops[] = {"health", "metadata", "encrypt", "decrypt"};
	static const char *const keys[] = {"both", "enc", "none"};
	static const char *const methods[] = {"GET", "PUT", "DELETE"};
	if (!E.ready)
		setup();
	struct cursor c = {data, size};
	char raw[300], key[300], auth[300], path[700];
	int op = byte(&c) % 5;
	int k = byte(&c) % 4;
	int how = byte(&c) % 5;
	uint8_t m = byte(&c);
	if (op == 4)
		chunk(&c, raw, sizeof(raw));
	if (k == 3)
		chunk(&c, key, sizeof(key));
	else
		snprintf(key, sizeof(key), "%s", keys[k]);
	if (how == 4)
		chunk(&c, auth, sizeof(auth));
	const char *method = m < 0xf0 ? "POST" : methods[m % 3];
	if (op == 4)
		snprintf(path, sizeof(path), "%s", raw);
	else if (op == 0)
		snprintf(path, sizeof(path), "/" PREFIX "/kms/xks/v1/health");
	else
		snprintf(path, sizeof(path), "/" PREFIX "/kms/xks/v1/keys/%s/%s", key, ops[op]);
	struct kh_slice body = KH_SLICE(c.p, c.left);

	char date[KH_SIGV4_AMZ_DATE_LEN + 1];
	time_t secs = (time_t)(kh_clock_now(&E.clock) / KH_NS_PER_SEC);
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
	struct kh_buf a;
	kh_buf_init(&a, 1024, KH_BUF_PLAIN);
	static const char wrong[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	switch (how) {
	case 0:
		sign(method, path, body, date, E.ak, kh_buf_slice(&E.secret), &a);
		break;
	case 2:
		sign(method, path, body, date, E.ak, kh_slice_from_cstr(wrong), &a);
		break;
	case 3:
		sign(method, path, body, date, "BBBBBBBBBBBBBBBBBBBB", kh_buf_slice(&E.secret), &a);
		break;
	case 4:
		CHECK(kh_buf_append(&a, KH_SLICE(auth, strlen(auth) + 1)) == KH_OK);
		break;
	default:
		break;
	}
	struct kh_http_kv h[4] = {
	    {"Host", HOST}, {"X-Amz-Date", date}, {"Content-Type", "application/json"}, {0}};
	size_t hn = 3;
	if (a.len > 0)
		h[hn++] = (struct kh_http_kv){"Authorization", (const char *)a.ptr};
	struct kh_http_local l;
	if (kh_http_local_init(&l, method, kh_slice_from_cstr(path), h, hn, body) == KH_OK) {
		struct kh_http_response resp;
		memset(&resp, 0, sizeof(resp));
		kh_buf_init(&resp.body, 1024 * 1024, KH_BUF_PLAIN);
		kh_xks_proxy_handle(E.proxy, &l.req, &resp);
		bool signed_ok = how == 0 && a.len > 0;
		struct kh_xks_route r;
		int route_op = op;
		if (op == 4)
			route_op = kh_xks_route_parse(path, &r) && strcmp(r.prefix, PREFIX) == 0
			               ? (int)r.op
			               : -1;
		check_answer(&resp, route_op, signed_ok || how == 4, strcmp(method, "POST") == 0);
		kh_buf_cleanup(&resp.body);
		kh_http_local_cleanup(&l);
	}
	kh_buf_cleanup(&a);
	return 0;
}
