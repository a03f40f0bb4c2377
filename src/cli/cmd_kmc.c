// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold pki envelope|update-encryption|kmc ...|recovery ...: the key management centre of
 * dual certificates (docs/dual-certificates.md, API.md "PKI"). The envelope of an issued dual
 * request and of an approved recovery is written to a file as the raw bytes the server sent in
 * Base64 (an SKF ENVELOPEDKEYBLOB, GM/T 0009 DER or CMS DER): ciphertext for the recipient's
 * key, never a private key, yet written with mode 0600 as the user's own material. The archive
 * and pool commands only read; recovery requests carry a PKCS#10 request for the recipient key.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "cli/kh_cli.h"

#define REASON_MAX 255u /* the server keeps reasons of up to 255 characters */
#define CSR_FILE_MAX KH_LIMIT_KEY_ENCODED_BYTES
/* An envelope: 388 bytes (SKF) to a few KiB (CMS of an RSA-4096 key): room to spare. */
#define ENVELOPE_MAX KH_LIMIT_KEY_ENCODED_BYTES

static const char *const key_states[] = {"spare", "in_use", "history", NULL};
static const char *const recovery_states[] = {"pending",  "approved", "delivered",
                                              "rejected", "expired",  NULL};
static const char *const forms[] = {"skf", "gmt0009", "cms", NULL};

static bool one_of(const char *v, const char *const *names)
{
	for (size_t i = 0; v != NULL && names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0)
			return true;
	}
	return false;
}

static bool text_ok(const char *s, size_t max)
{
	size_t n = s != NULL ? strnlen(s, max + 1) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

/* "/v1/pki/<collection>/<ID><suffix>" for positional 0, a numeric id. */
static int id_path(const struct cli_args *a, const char *collection, const char *suffix, char *out,
                   size_t out_len)
{
	uint64_t id = 0;
	int ex = cli_uint(cli_pos(a, 0), "ID", 1, INT64_MAX, &id);
	if (ex != KH_EXIT_OK)
		return ex;
	int n =
	    snprintf(out, out_len, "/v1/pki/%s/%llu%s", collection, (unsigned long long)id, suffix);
	return n > 0 && (size_t)n < out_len ? KH_EXIT_OK : cli_usage_error("path too long");
}

static int enum_query(const struct cli_args *a, const char *opt, const char *const *names,
                      const char *hint, char *path, size_t path_len)
{
	const char *v = cli_opt(a, opt);
	if (v != NULL && !one_of(v, names))
		return cli_usage_error("--%s is %s, not '%s'", opt, hint, v);
	return cli_query(path, path_len, opt, v);
}

static int keystore_query(const struct cli_args *a, char *path, size_t path_len)
{
	const char *v = cli_opt(a, "keystore-id");
	uint64_t id = 0;
	if (v == NULL)
		return KH_EXIT_OK;
	int ex = cli_uint(v, "--keystore-id", 1, INT64_MAX, &id);
	return ex != KH_EXIT_OK ? ex : cli_query(path, path_len, "keystore_id", v);
}

/* ---- showing ---- */

static void show_request(const struct kh_json *doc)
{
	static const char *const fields[] = {"id",
	                                     "ca",
	                                     "profile",
	                                     "status",
	                                     "serial",
	                                     "subject",
	                                     "encryption_serial",
	                                     "envelope_form",
	                                     "envelope_ready",
	                                     NULL};
	cli_show_fields(doc, fields);
}

static void show_key(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "id",      "algorithm",      "state",      "keystore", "ca",         "serial",
	    "request", "history_reason", "created_at", "used_at",  "history_at", "retain_until",
	    NULL};
	cli_show_fields(doc, fields);
}

static void show_keys(const struct kh_json *doc)
{
	static const char *const cols[] = {
	    "id", "algorithm", "state", "serial", "history_reason", "retain_until", NULL};
	static const char *const heads[] = {"ID",     "ALGORITHM", "STATE",
	                                    "SERIAL", "HISTORY",   "RETAIN UNTIL"};
	cli_show_table(doc, "keys", cols, heads);
	cli_show_next(doc);
}

static void show_pool(const struct kh_json *doc)
{
	static const char *const fields[] = {"size", NULL};
	static const char *const cols[] = {"algorithm", "spare", NULL};
	static const char *const heads[] = {"ALGORITHM", "SPARE"};
	cli_show_fields(doc, fields);
	cli_show_table(doc, "pools", cols, heads);
}

static void show_recovery(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "id",     "serial",    "kmc_key",    "requester",  "reason",     "form", "status",
	    "quorum", "approvals", "expires_at", "created_at", "updated_at", NULL};
	cli_show_fields(doc, fields);
}

static void show_recoveries(const struct kh_json *doc)
{
	static const char *const cols[] = {"id",        "serial",     "requester", "status",
	                                   "approvals", "expires_at", NULL};
	static const char *const heads[] = {"ID",     "SERIAL",    "REQUESTER",
	                                    "STATUS", "APPROVALS", "EXPIRES"};
	cli_show_table(doc, "recoveries", cols, heads);
	cli_show_next(doc);
}

/* ---- envelopes ---- */

/* GET path: {"form","envelope"}; with -o the envelope's bytes go to the file, else (or with
 * --json and no -o) the answer is shown. */
static int fetch_envelope(struct cli *c, const struct cli_args *a, const char *path)
{
	const char *file = cli_opt(a, "output");
	struct cli_reply r;
	struct kh_buf env;
	struct kh_slice form;
	int ex = cli_call(c, "GET", path, NULL, file != NULL ? CLI_CALL_RAW : 0u, &r);
	if (ex != KH_EXIT_OK || r.doc == NULL)
		return ex;
	if (file == NULL) {
		static const char *const fields[] = {"form", NULL};
		cli_show_fields(r.doc, fields);
		fputs("keyhold: give -o FILE to save the envelope\n", stderr);
		cli_reply_free(&r);
		return KH_EXIT_OK;
	}
	kh_buf_init(&env, ENVELOPE_MAX, KH_BUF_PLAIN);
	if (kh_json_get_base64(r.doc, "envelope", &env) != KH_OK || env.len == 0 ||
	    kh_json_get_string(r.doc, "form", &form) != KH_OK)
		ex = cli_fail("the answer has no envelope: nothing written to %s", file);
	if (ex == KH_EXIT_OK)
		ex = cli_write_output(file, kh_buf_slice(&env), true);
	if (ex == KH_EXIT_OK && strcmp(file, "-") != 0)
		fprintf(stderr, "keyhold: wrote %s (%.*s, %zu bytes)\n", file, (int)form.len,
		        (const char *)form.ptr, env.len);
	kh_buf_cleanup(&env);
	cli_reply_free(&r);
	return ex;
}

static int request_envelope(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = id_path(a, "requests", "/envelope", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : fetch_envelope(c, a, path);
}

static int update_encryption(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = id_path(a, "requests", "/update-encryption", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "POST", path, NULL, show_request);
}

/* ---- the archive and the pools ---- */

static int kmc_keys(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX] = "/v1/pki/kmc/keys";
	int ex = enum_query(a, "state", key_states, "spare, in_use or history", path, sizeof(path));
	if (ex == KH_EXIT_OK)
		ex = keystore_query(a, path, sizeof(path));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_keys);
}

static int kmc_key(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = id_path(a, "kmc/keys", "", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_key);
}

static int kmc_pool(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_call_show(c, "GET", "/v1/pki/kmc/pool", NULL, show_pool);
}

/* ---- recovery ---- */

static int recovery_request(struct cli *c, const struct cli_args *a)
{
	const char *serial = cli_opt(a, "serial"), *reason = cli_opt(a, "reason");
	const char *csr_file = cli_opt(a, "csr"), *form = cli_opt(a, "form");
	char hex[CLI_PKI_SERIAL_SIZE];
	if (serial == NULL || !cli_pki_serial_parse(serial, hex))
		return cli_usage_error("--serial is required: the encryption certificate's serial "
		                       "(1-40 hex digits)");
	if (!text_ok(reason, REASON_MAX))
		return cli_usage_error("--reason is required: 1-%u characters of text", REASON_MAX);
	if (csr_file == NULL)
		return cli_usage_error("--csr is required: the PKCS#10 request (PEM) of the key "
		                       "the envelope is for");
	if (form != NULL && !one_of(form, forms))
		return cli_usage_error("--form is skf, gmt0009 or cms, not '%s'", form);
	struct kh_buf csr;
	struct cli_body b;
	kh_buf_init(&csr, CSR_FILE_MAX, KH_BUF_PLAIN);
	int ex = cli_read_input(csr_file, &csr, "certificate request");
	if (ex == KH_EXIT_OK && strstr(kh_buf_cstr(&csr), "CERTIFICATE REQUEST-----") == NULL)
		ex = cli_fail("%s is not a PEM certificate request (openssl req -new writes one)",
		              csr_file);
	cli_body_init(&b);
	if (ex == KH_EXIT_OK) {
		kh_json_object_begin(&b.w);
		kh_json_key(&b.w, "serial");
		kh_json_cstr(&b.w, hex);
		kh_json_key(&b.w, "reason");
		kh_json_cstr(&b.w, reason);
		kh_json_key(&b.w, "csr");
		kh_json_string(&b.w, kh_buf_slice(&csr));
		cli_json_opt_string(a, &b.w, "form", "envelope_form");
		kh_json_object_end(&b.w);
		ex = cli_call_show(c, "POST", "/v1/pki/kmc/recoveries", &b, show_recovery);
	}
	cli_body_cleanup(&b);
	kh_buf_cleanup(&csr);
	return ex;
}

static int recovery_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX] = "/v1/pki/kmc/recoveries";
	int ex =
	    enum_query(a, "status", recovery_states,
	               "pending, approved, delivered, rejected or expired", path, sizeof(path));
	if (ex == KH_EXIT_OK)
		ex = keystore_query(a, path, sizeof(path));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_recoveries);
}

static int recovery_get(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = id_path(a, "kmc/recoveries", "", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_recovery);
}

static int recovery_decide(struct cli *c, const struct cli_args *a, bool approve)
{
	const char *reason = cli_opt(a, "reason");
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = id_path(a, "kmc/recoveries", approve ? "/approve" : "/reject", path, sizeof(path));
	if (ex != KH_EXIT_OK)
		return ex;
	if ((reason != NULL || !approve) && !text_ok(reason, REASON_MAX))
		return cli_usage_error("--reason%s: 1-%u characters of text",
		                       approve ? "" : " is required", REASON_MAX);
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	cli_json_opt_string(a, &b.w, "reason", "reason");
	kh_json_object_end(&b.w);
	ex = cli_call_show(c, "POST", path, &b, show_recovery);
	cli_body_cleanup(&b);
	return ex;
}

static int recovery_approve(struct cli *c, const struct cli_args *a)
{
	return recovery_decide(c, a, true);
}

static int recovery_reject(struct cli *c, const struct cli_args *a)
{
	return recovery_decide(c, a, false);
}

static int recovery_envelope(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	if (cli_opt(a, "output") == NULL)
		return cli_usage_error("-o FILE is required: where the envelope goes");
	int ex = id_path(a, "kmc/recoveries", "/envelope", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : fetch_envelope(c, a, path);
}

/* ---- the table ---- */

static const struct cli_opt envelope_opts[] = {
    {"output", 'o', "FILE", "write the envelope's bytes here (mode 0600; - for standard output)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt keys_opts[] = {
    {"state", 0, "STATE", "spare, in_use or history"},
    {"keystore-id", 0, "ID", "operator: the key store (an account always gets its own)"},
    {"limit", 'n', "N", "at most N a page (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt recovery_request_opts[] = {
    {"serial", 0, "SERIAL", "the encryption certificate whose key pair is wanted (required)"},
    {"reason", 'r', "TEXT", "why, recorded in the audit log (required)"},
    {"csr", 0, "FILE", "PKCS#10 request (PEM) of the key the envelope is for (required)"},
    {"form", 0, "FORM", "skf, gmt0009 or cms (default: skf for SM2, cms for RSA and ECDSA)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt recovery_list_opts[] = {
    {"status", 0, "STATUS", "pending, approved, delivered, rejected or expired"},
    {"keystore-id", 0, "ID", "operator: the key store (an account always gets its own)"},
    {"limit", 'n', "N", "at most N a page (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt approve_opts[] = {
    {"reason", 'r', "TEXT", "a note, recorded with the approval"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt reject_opts[] = {
    {"reason", 'r', "TEXT", "why the recovery is refused (required)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_kmc_cmds[] = {
    {"pki", "envelope", "REQUEST_ID",
     "fetch the enveloped encryption private key of your dual request", envelope_opts, 1, 1,
     request_envelope, 0},
    {"pki", "update-encryption", "REQUEST_ID",
     "new encryption key pair and certificate for a dual request", NULL, 1, 1, update_encryption,
     0},
    {"pki", "kmc keys", "", "list the archived encryption key pairs", keys_opts, 0, 0, kmc_keys, 0},
    {"pki", "kmc key", "ID", "show one archived encryption key pair", NULL, 1, 1, kmc_key, 0},
    {"pki", "kmc pool", "", "spare key pairs of each algorithm", NULL, 0, 0, kmc_pool, 0},
    {"pki", "recovery request", "", "ask for an archived key pair, enveloped to a new key",
     recovery_request_opts, 0, 0, recovery_request, 0},
    {"pki", "recovery list", "", "list key pair recoveries", recovery_list_opts, 0, 0,
     recovery_list, 0},
    {"pki", "recovery get", "ID", "show a recovery", NULL, 1, 1, recovery_get, 0},
    {"pki", "recovery approve", "ID", "approve a recovery (recovery-officer)", approve_opts, 1, 1,
     recovery_approve, 0},
    {"pki", "recovery reject", "ID", "refuse a recovery (recovery-officer)", reject_opts, 1, 1,
     recovery_reject, 0},
    {"pki", "recovery envelope", "ID", "fetch an approved recovery's envelope (requester)",
     envelope_opts, 1, 1, recovery_envelope, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
