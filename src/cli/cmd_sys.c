// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold operator ... (init, unseal, seal, rekey, rotate-root, status, metrics, backup,
 * backups), keystore
 * create, account create and webhook-set|show|delete, token create and revoke (API.md
 * "System", "Audit and notifications"). Shares, tokens and webhook secrets
 * are read from files or standard input and never from the command line; the ones the server
 * issues are printed once (or written to a 0600 file with -o).
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "cli/kh_cli.h"

#define SHARE_TEXT_MAX 512u
#define TTL_MAX (365u * 86400u)

static void show_all(const struct kh_json *doc, const char *const *fields)
{
	cli_show_fields(doc, fields);
}

/* The shares of an init or rekey answer, one per line, and what to do with them. */
static void show_shares(const struct kh_json *doc)
{
	const struct kh_json *arr = cli_member(doc, "shares");
	size_t n = 0;
	struct kh_slice s;
	char buf[64];
	if (arr == NULL || kh_json_as_array(arr, &n) != KH_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		if (kh_json_as_string(kh_json_array_at(arr, i), &s) == KH_OK)
			printf("share %zu  %.*s\n", i + 1, (int)s.len, (const char *)s.ptr);
	}
	printf("threshold %s\n", cli_text(doc, "threshold", buf, sizeof(buf)));
	fputs("keyhold: the shares are shown only now: give each to its custodian\n", stderr);
}

/* ---- init, unseal, seal, rekey, rotate-root, status ---- */

static int custodian_keys(const struct cli_args *a, struct kh_json_writer *w)
{
	if (a->pos_count == 0)
		return KH_EXIT_OK;
	kh_json_key(w, "custodian_keys");
	kh_json_array_begin(w);
	for (unsigned i = 0; i < a->pos_count; i++) {
		struct kh_buf pem;
		kh_buf_init(&pem, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN);
		int ex = cli_read_input(a->pos[i], &pem, "custodian key");
		if (ex == KH_EXIT_OK)
			kh_json_string(w, kh_buf_slice(&pem));
		kh_buf_cleanup(&pem);
		if (ex != KH_EXIT_OK)
			return ex;
	}
	kh_json_array_end(w);
	return KH_EXIT_OK;
}

/* --shares and --threshold as members (defaults: the server's, 5 and 3). */
static int share_counts(const struct cli_args *a, struct kh_json_writer *w)
{
	static const char *const names[] = {"shares", "threshold"};
	for (size_t i = 0; i < 2; i++) {
		uint64_t n = 0;
		const char *v = cli_opt(a, names[i]);
		if (v == NULL)
			continue;
		int ex = cli_uint(v, names[i], 1, KH_LIMIT_SHARES_MAX, &n);
		if (ex != KH_EXIT_OK)
			return ex;
		kh_json_key(w, names[i]);
		kh_json_uint(w, n);
	}
	return KH_EXIT_OK;
}

static void show_init(const struct kh_json *doc)
{
	char buf[256];
	show_shares(doc);
	printf("operator token  %s\n", cli_text(doc, "operator_token", buf, sizeof(buf)));
	fputs("keyhold: the service stays sealed until threshold shares are given "
	      "(keyhold operator unseal)\n",
	      stderr);
}

static int op_init(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	int ex = share_counts(a, &b.w);
	if (ex == KH_EXIT_OK)
		ex = custodian_keys(a, &b.w);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "POST", "/v1/sys/init", &b, show_init);
	cli_body_cleanup(&b);
	return ex;
}

static void show_seal_state(const struct kh_json *doc)
{
	static const char *const fields[] = {"sealed", "progress", "threshold", NULL};
	show_all(doc, fields);
}

static int op_unseal(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	struct kh_buf share;
	int ex = KH_EXIT_OK;
	if (cli_flag(a, "reset") && a->pos_count > 0)
		return cli_usage_error("--reset takes no share");
	cli_body_init(&b);
	kh_buf_init(&share, SHARE_TEXT_MAX, KH_BUF_SECURE);
	kh_json_object_begin(&b.w);
	if (cli_flag(a, "reset")) {
		kh_json_key(&b.w, "reset");
		kh_json_bool(&b.w, true);
	} else {
		ex = cli_read_text(cli_pos(a, 0), &share, "share");
		kh_json_key(&b.w, "share");
		kh_json_string(&b.w, kh_buf_slice(&share));
	}
	kh_json_object_end(&b.w);
	kh_buf_cleanup(&share);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "POST", "/v1/sys/unseal", &b, show_seal_state);
	cli_body_cleanup(&b);
	return ex;
}

static int op_seal(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_call_show(c, "POST", "/v1/sys/seal", NULL, show_seal_state);
}

/* The old shares, one Base64 share per line of a file or standard input. */
static int old_shares(const struct cli_args *a, struct kh_json_writer *w)
{
	struct kh_buf text;
	size_t start = 0, count = 0;
	kh_buf_init(&text, KH_LIMIT_SHARES_MAX * SHARE_TEXT_MAX, KH_BUF_SECURE);
	int ex = cli_read_input(cli_pos(a, 0), &text, "old shares");
	kh_json_key(w, "old_shares");
	kh_json_array_begin(w);
	for (size_t i = 0; ex == KH_EXIT_OK && i <= text.len; i++) {
		if (i < text.len && text.ptr[i] != '\n')
			continue;
		size_t end = i;
		while (end > start && (text.ptr[end - 1] == '\r' || text.ptr[end - 1] == ' '))
			end--;
		if (end > start) {
			kh_json_string(w, KH_SLICE(text.ptr + start, end - start));
			count++;
		}
		start = i + 1;
	}
	kh_json_array_end(w);
	kh_buf_cleanup(&text);
	if (ex == KH_EXIT_OK && count == 0)
		ex = cli_fail("no old shares given (one per line)");
	return ex;
}

static int op_rekey(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	int ex = share_counts(a, &b.w);
	if (ex == KH_EXIT_OK)
		ex = old_shares(a, &b.w);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "POST", "/v1/sys/rekey", &b, show_shares);
	cli_body_cleanup(&b);
	return ex;
}

static void show_term(const struct kh_json *doc)
{
	static const char *const fields[] = {"term", NULL};
	show_all(doc, fields);
}

static int op_rotate_root(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_call_show(c, "POST", "/v1/sys/rotate-root", NULL, show_term);
}

/* ---- backups ---- */

static void show_backup(const struct kh_json *doc)
{
	static const char *const fields[] = {"file", "bytes", "sha256", "created_at", NULL};
	show_all(doc, fields);
}

static int op_backup(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_call_show(c, "POST", "/v1/sys/backup", NULL, show_backup);
}

static void show_backups(const struct kh_json *doc)
{
	static const char *const cols[] = {"file", "bytes", "modified", NULL};
	static const char *const heads[] = {"FILE", "BYTES", "MODIFIED"};
	cli_show_table(doc, "backups", cols, heads);
}

static int op_backups(struct cli *c, const struct cli_args *a)
{
	(void)a;
	return cli_call_show(c, "GET", "/v1/sys/backups", NULL, show_backups);
}

/* Health answers 503 when sealed and 501 before init: shown all the same, with the exit code
 * of the status (0 only when the service is serving). */
static int op_status(struct cli *c, const struct cli_args *a)
{
	static const char *const fields[] = {"initialized", "sealed",       "standby", "version",
	                                     "node_id",     "cluster_size", NULL};
	struct keyhold_client *client = NULL;
	struct keyhold_buf raw = {0};
	struct kh_json *doc = NULL;
	long status = 0;
	(void)a;
	int ex = cli_client(c, &client);
	if (ex != KH_EXIT_OK)
		return ex;
	enum keyhold_err err =
	    keyhold_request(client, "GET", "/v1/sys/health", NULL, &status, &raw);
	bool answered = status == 200 || status == 501 || status == 503;
	if (answered && c->json)
		printf("%.*s\n", (int)raw.len, (const char *)raw.data);
	else if (answered &&
	         kh_json_parse_object(KH_SLICE(raw.data, raw.len), &doc, NULL, 0) == KH_OK)
		show_all(doc, fields);
	ex = answered ? cli_exit_of(err) : cli_report(c, err);
	kh_json_free(&doc);
	keyhold_buf_free(&raw);
	return ex;
}

/* GET /metrics: Prometheus text, printed as it comes. */
static int op_metrics(struct cli *c, const struct cli_args *a)
{
	struct keyhold_client *client = NULL;
	struct keyhold_buf raw = {0};
	long status = 0;
	(void)a;
	int ex = cli_client(c, &client);
	if (ex != KH_EXIT_OK)
		return ex;
	enum keyhold_err err = keyhold_request(client, "GET", "/metrics", NULL, &status, &raw);
	if (err == KEYHOLD_OK)
		ex = cli_write_output(NULL, KH_SLICE(raw.data, raw.len), false);
	else
		ex = cli_report(c, err);
	keyhold_buf_free(&raw);
	return ex;
}

/* ---- key stores, accounts, tokens ---- */

static void show_keystore(const struct kh_json *doc)
{
	static const char *const fields[] = {"id", "name", NULL};
	show_all(doc, fields);
}

static int keystore_create(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "name");
	kh_json_cstr(&b.w, cli_pos(a, 0));
	kh_json_object_end(&b.w);
	int ex = cli_call_show(c, "POST", "/v1/keystores", &b, show_keystore);
	cli_body_cleanup(&b);
	return ex;
}

/* The token of an answer: to -o FILE (0600) or printed, with its id and expiry. */
static int token_out(const struct cli_args *a, const struct kh_json *doc)
{
	struct kh_slice token;
	char buf[64];
	const char *out = cli_opt(a, "output");
	if (kh_json_get_string(doc, "token", &token) != KH_OK)
		return cli_fail("the answer has no token");
	printf("token_id    %s\n", cli_text(doc, "token_id", buf, sizeof(buf)));
	if (cli_member(doc, "expires_at") != NULL)
		printf("expires_at  %s\n", cli_text(doc, "expires_at", buf, sizeof(buf)));
	if (out != NULL) {
		int ex = cli_write_line(out, token, true);
		if (ex == KH_EXIT_OK)
			printf("token       written to %s\n", out);
		return ex;
	}
	printf("token       %.*s\n", (int)token.len, (const char *)token.ptr);
	fputs("keyhold: the token is shown only now; keep it in a file of mode 0600\n", stderr);
	return KH_EXIT_OK;
}

static int call_token(struct cli *c, const struct cli_args *a, const char *path, struct cli_body *b,
                      bool with_account)
{
	static const char *const fields[] = {"id", "name", "keystore", "policies", NULL};
	struct cli_reply r;
	/* --json prints the whole answer, token included: it cannot honour -o too. */
	if (c->json && cli_opt(a, "output") != NULL)
		return cli_usage_error(
		    "--json prints the new token; with -o FILE leave --json out");
	int ex = cli_call(c, "POST", path, b, 0, &r);
	if (ex == KH_EXIT_OK && r.doc != NULL) {
		if (with_account)
			show_all(cli_member(r.doc, "account"), fields);
		ex = token_out(a, r.doc);
	}
	cli_reply_free(&r);
	return ex;
}

static int account_create(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	const char *policy = cli_opt(a, "policy");
	int ex = cli_path(path, sizeof(path), "/v1/keystores/%s/accounts", cli_pos(a, 0));
	if (ex != KH_EXIT_OK)
		return ex;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "name");
	kh_json_cstr(&b.w, cli_pos(a, 1));
	kh_json_key(&b.w, "policies");
	kh_json_array_begin(&b.w);
	kh_json_cstr(&b.w, policy != NULL ? policy : "kms-user");
	kh_json_array_end(&b.w);
	kh_json_object_end(&b.w);
	ex = call_token(c, a, path, &b, true);
	cli_body_cleanup(&b);
	return ex;
}

static void show_webhook(const struct kh_json *doc)
{
	static const char *const fields[] = {"url", "created_at", "updated_at", NULL};
	show_all(doc, fields);
}

static void show_deleted(const struct kh_json *doc)
{
	(void)doc;
	printf("deleted\n");
}

static int webhook_call(struct cli *c, const struct cli_args *a, const char *method,
                        cli_show_fn show)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/accounts/%s/webhook", cli_pos(a, 0));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, method, path, NULL, show);
}

static int account_webhook_show(struct cli *c, const struct cli_args *a)
{
	return webhook_call(c, a, "GET", show_webhook);
}

static int account_webhook_delete(struct cli *c, const struct cli_args *a)
{
	return webhook_call(c, a, "DELETE", show_deleted);
}

static int account_webhook_set(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	struct kh_buf secret;
	const char *file = cli_opt(a, "secret-file");
	int ex = cli_path(path, sizeof(path), "/v1/accounts/%s/webhook", cli_pos(a, 0));
	if (ex != KH_EXIT_OK)
		return ex;
	if (file == NULL)
		return cli_usage_error("--secret-file is required (the signing secret)");
	cli_body_init(&b);
	kh_buf_init(&secret, KH_LIMIT_WEBHOOK_SECRET_MAX, KH_BUF_SECURE);
	ex = cli_read_text(file, &secret, "webhook secret");
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "url");
	kh_json_cstr(&b.w, cli_pos(a, 1));
	kh_json_key(&b.w, "secret");
	kh_json_string(&b.w, kh_buf_slice(&secret));
	kh_json_object_end(&b.w);
	kh_buf_cleanup(&secret);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "PUT", path, &b, show_webhook);
	cli_body_cleanup(&b);
	return ex;
}

static int token_create(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	uint64_t ttl = 0;
	const char *ttl_text = cli_opt(a, "ttl");
	int ex = ttl_text != NULL ? cli_uint(ttl_text, "--ttl", 1, TTL_MAX, &ttl) : KH_EXIT_OK;
	if (ex == KH_EXIT_OK)
		ex = cli_path(path, sizeof(path), "/v1/accounts/%s/tokens", cli_pos(a, 0));
	if (ex != KH_EXIT_OK)
		return ex;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	if (ttl > 0) {
		kh_json_key(&b.w, "ttl_seconds");
		kh_json_uint(&b.w, ttl);
	}
	kh_json_object_end(&b.w);
	ex = call_token(c, a, path, &b, false);
	cli_body_cleanup(&b);
	return ex;
}

static void show_revoked(const struct kh_json *doc)
{
	(void)doc;
	printf("revoked\n");
}

static int token_revoke(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/tokens/%s", cli_pos(a, 0));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "DELETE", path, NULL, show_revoked);
}

/* ---- the table ---- */

static const struct cli_opt init_opts[] = {
    {"shares", 'n', "N", "number of shares (default 5)"},
    {"threshold", 'k', "K", "shares needed to unseal (default 3)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt unseal_opts[] = {
    {"reset", 0, NULL, "forget the shares given so far"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt account_opts[] = {
    {"policy", 'p', "POLICY", "kms-manager, kms-user (default), ra-officer or recovery-officer"},
    {"output", 'o', "FILE", "write the new token to FILE (mode 0600) instead of printing it"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt webhook_opts[] = {
    {"secret-file", 0, "FILE", "file holding the HMAC signing secret (- for standard input)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt token_opts[] = {
    {"ttl", 0, "SECONDS", "the token expires after this long (default: never)"},
    {"output", 'o', "FILE", "write the new token to FILE (mode 0600) instead of printing it"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_sys_cmds[] = {
    {"operator", "init", "[CUSTODIAN-PEM...]",
     "initialise the service; with custodian public keys each share comes back encrypted",
     init_opts, 0, KH_LIMIT_SHARES_MAX, op_init, CLI_NO_TOKEN},
    {"operator", "unseal", "[SHARE-FILE|-]", "give one unseal share (read from a file or stdin)",
     unseal_opts, 0, 1, op_unseal, CLI_NO_TOKEN},
    {"operator", "seal", "", "drop the root key from memory", NULL, 0, 0, op_seal, 0},
    {"operator", "rekey", "[OLD-SHARES-FILE|-]",
     "replace the shares; the old ones come one per line from a file or stdin", init_opts, 0, 1,
     op_rekey, 0},
    {"operator", "rotate-root", "", "start a new root key term", NULL, 0, 0, op_rotate_root, 0},
    {"operator", "status", "", "health: initialised, sealed, version (exit 6 unless serving)", NULL,
     0, 0, op_status, CLI_NO_TOKEN},
    {"operator", "metrics", "", "the Prometheus metrics (GET /metrics)", NULL, 0, 0, op_metrics, 0},
    {"operator", "backup", "",
     "write an encrypted backup of the whole store to the server's data directory", NULL, 0, 0,
     op_backup, 0},
    {"operator", "backups", "", "the backup files in the server's data directory", NULL, 0, 0,
     op_backups, 0},
    {"keystore", "create", "NAME", "create a key store (operator)", NULL, 1, 1, keystore_create, 0},
    {"account", "create", "KEYSTORE-ID NAME", "create an account and its first token", account_opts,
     2, 2, account_create, 0},
    {"account", "webhook-set", "ACCOUNT-ID URL",
     "POST the account's notifications to URL, signed with a secret", webhook_opts, 2, 2,
     account_webhook_set, 0},
    {"account", "webhook-show", "ACCOUNT-ID", "the account's webhook URL (never the secret)", NULL,
     1, 1, account_webhook_show, 0},
    {"account", "webhook-delete", "ACCOUNT-ID", "stop sending the account's notifications", NULL, 1,
     1, account_webhook_delete, 0},
    {"token", "create", "ACCOUNT-ID", "issue another token for an account", token_opts, 1, 1,
     token_create, 0},
    {"token", "revoke", "TOKEN-ID", "revoke a token at once", NULL, 1, 1, token_revoke, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
