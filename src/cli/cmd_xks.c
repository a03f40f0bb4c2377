// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold xks ...: the AWS external key stores keyhold serves (API.md "XKS management",
 * docs/xks.md): XKS key stores (one per URI path prefix), their SigV4 credentials, and the
 * keys attached to them under external key ids. Stores are named by id, keys by the store id
 * and the external key id, as in the API's paths.
 *
 * A new credential's secret is printed once, and with --console-file also written (mode 0600)
 * as the JSON file the AWS KMS console imports.
 */
#include <stdio.h>
#include <string.h>

#include "cli/kh_cli.h"

#define EXTERNAL_ID_MAX 128u
#define QUOTA_MAX 1000000u
#define ROTATION_DAYS_MAX 3650u
#define CONSOLE_FILE_MAX 1024u

/* ---- pure pieces (unit-tested) ---- */

bool cli_xks_usage_parse(const char *text, unsigned *out_bits)
{
	static const struct {
		const char *name;
		unsigned bits;
	} forms[] = {
	    {"encrypt,decrypt", CLI_XKS_ENCRYPT | CLI_XKS_DECRYPT},
	    {"decrypt,encrypt", CLI_XKS_ENCRYPT | CLI_XKS_DECRYPT},
	    {"encrypt", CLI_XKS_ENCRYPT},
	    {"decrypt", CLI_XKS_DECRYPT},
	    {"none", 0},
	};
	for (size_t i = 0; text != NULL && i < sizeof(forms) / sizeof(forms[0]); i++) {
		if (strcmp(text, forms[i].name) == 0) {
			*out_bits = forms[i].bits;
			return true;
		}
	}
	return false;
}

bool cli_xks_external_id_ok(const char *s)
{
	return cli_segment_ok(s, EXTERNAL_ID_MAX);
}

/* ---- paths ---- */

static int store_path(const struct cli_args *a, const char *suffix, char *out, size_t out_len)
{
	uint64_t id = 0;
	int ex = cli_uint(cli_pos(a, 0), "STORE", 1, INT64_MAX, &id);
	if (ex != KH_EXIT_OK)
		return ex;
	int n = snprintf(out, out_len, "/v1/xks/stores/%llu%s", (unsigned long long)id, suffix);
	return n > 0 && (size_t)n < out_len ? KH_EXIT_OK : cli_usage_error("path too long");
}

/* /v1/xks/stores/<store>/keys/<external id> */
static int key_path(const struct cli_args *a, char *out, size_t out_len)
{
	const char *ext = cli_pos(a, 1);
	int ex = store_path(a, "/keys/", out, out_len);
	if (ex != KH_EXIT_OK)
		return ex;
	if (!cli_xks_external_id_ok(ext))
		return cli_usage_error(
		    "'%s' is not an external key id (1-128 of A-Z a-z 0-9 . _ -)", ext);
	size_t n = strlen(out);
	int w = snprintf(out + n, out_len - n, "%s", ext);
	return w > 0 && (size_t)w < out_len - n ? KH_EXIT_OK : cli_usage_error("path too long");
}

/* ---- showing ---- */

static void show_store(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "id",        "keystore_id", "prefix",
	    "uri_path",  "region",      "secondary_auth",
	    "enabled",   "quota_rps",   "credential_count",
	    "key_count", "created_at",  "updated_at",
	    NULL,
	};
	cli_show_fields(doc, fields);
}

static void show_stores(const struct kh_json *doc)
{
	static const char *const cols[] = {"id",        "keystore_id",      "prefix", "enabled",
	                                   "key_count", "credential_count", NULL};
	static const char *const heads[] = {"ID",      "KEYSTORE", "PREFIX",
	                                    "ENABLED", "KEYS",     "CREDENTIALS"};
	cli_show_table(doc, "stores", cols, heads);
	cli_show_next(doc);
}

static void show_key(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "external_key_id",
	    "key",
	    "key_state",
	    "current_version",
	    "rotation_days",
	    "pending_rotation_days",
	    "usages",
	    "expires_at",
	    "administrators",
	    "users",
	    "created_at",
	    "updated_at",
	    NULL,
	};
	cli_show_fields(doc, fields);
}

static void show_keys(const struct kh_json *doc)
{
	static const char *const cols[] = {"external_key_id", "key",        "key_state",
	                                   "usages",          "expires_at", NULL};
	static const char *const heads[] = {"EXTERNAL ID", "KEY", "STATE", "USAGES", "EXPIRES"};
	cli_show_table(doc, "keys", cols, heads);
	cli_show_next(doc);
}

static void show_credentials(const struct kh_json *doc)
{
	static const char *const cols[] = {"access_key_id", "created_at", NULL};
	static const char *const heads[] = {"ACCESS KEY ID", "CREATED"};
	cli_show_table(doc, "credentials", cols, heads);
}

/* DELETE answers 204 without a body: nothing to show but what was done. */
static int call_no_content(struct cli *c, const char *path, const char *done)
{
	struct cli_reply r;
	int ex = cli_call(c, "DELETE", path, NULL, CLI_CALL_EMPTY, &r);
	cli_reply_free(&r);
	if (ex == KH_EXIT_OK && !c->json)
		printf("%s\n", done);
	return ex;
}

/* ---- stores ---- */

static int store_create(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	if (cli_opt(a, "prefix") == NULL)
		return cli_usage_error("--prefix is required");
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	cli_json_opt_string(a, &b.w, "prefix", "prefix");
	cli_json_opt_string(a, &b.w, "region", "region");
	if (cli_flag(a, "secondary-auth")) {
		kh_json_key(&b.w, "secondary_auth");
		kh_json_bool(&b.w, true);
	}
	int ex = cli_json_opt_uint(a, &b.w, "quota", "quota_rps", 0, QUOTA_MAX);
	if (ex == KH_EXIT_OK)
		ex = cli_json_opt_uint(a, &b.w, "keystore", "keystore_id", 1, INT64_MAX);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "POST", "/v1/xks/stores", &b, show_store);
	cli_body_cleanup(&b);
	return ex;
}

static int store_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX] = "/v1/xks/stores";
	int ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_stores);
}

static int store_get(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = store_path(a, "", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_store);
}

/* A pair of flags that set one boolean member; both is a usage error. */
static int flag_pair(const struct cli_args *a, struct kh_json_writer *w, const char *on,
                     const char *off, const char *member)
{
	if (cli_flag(a, on) && cli_flag(a, off))
		return cli_usage_error("give --%s or --%s, not both", on, off);
	if (cli_flag(a, on) || cli_flag(a, off)) {
		kh_json_key(w, member);
		kh_json_bool(w, cli_flag(a, on));
	}
	return KH_EXIT_OK;
}

static int store_update(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = store_path(a, "", path, sizeof(path));
	if (ex != KH_EXIT_OK)
		return ex;
	if (a->occ_count == 0)
		return cli_usage_error("give --region, --secondary-auth, --no-secondary-auth, "
		                       "--enable, --disable or --quota");
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	cli_json_opt_string(a, &b.w, "region", "region");
	ex = flag_pair(a, &b.w, "secondary-auth", "no-secondary-auth", "secondary_auth");
	if (ex == KH_EXIT_OK)
		ex = flag_pair(a, &b.w, "enable", "disable", "enabled");
	if (ex == KH_EXIT_OK)
		ex = cli_json_opt_uint(a, &b.w, "quota", "quota_rps", 0, QUOTA_MAX);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "PATCH", path, &b, show_store);
	cli_body_cleanup(&b);
	return ex;
}

static int store_delete(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = store_path(a, "", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : call_no_content(c, path, "deleted");
}

/* ---- credentials ---- */

/* The AWS console file from the answer's "console_file" member, rebuilt with the strict
 * reader and the compact writer, in secure memory. */
static int console_file_text(const struct kh_json *doc, struct kh_buf *out)
{
	const struct kh_json *cf = cli_member(doc, "console_file");
	const struct kh_json *cred = cli_member(cf, "XksProxyAuthenticationCredential");
	struct kh_slice uri, ak, secret;
	struct kh_json_writer w;
	if (cf == NULL || cred == NULL ||
	    kh_json_get_string(cf, "XksProxyUriPath", &uri) != KH_OK ||
	    kh_json_get_string(cred, "AccessKeyId", &ak) != KH_OK ||
	    kh_json_get_string(cred, "RawSecretAccessKey", &secret) != KH_OK) {
		fputs("keyhold: the answer has no console file\n", stderr);
		return KH_EXIT_SERVER;
	}
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "XksProxyUriPath");
	kh_json_string(&w, uri);
	kh_json_key(&w, "XksProxyAuthenticationCredential");
	kh_json_object_begin(&w);
	kh_json_key(&w, "AccessKeyId");
	kh_json_string(&w, ak);
	kh_json_key(&w, "RawSecretAccessKey");
	kh_json_string(&w, secret);
	kh_json_object_end(&w);
	kh_json_object_end(&w);
	if (kh_json_writer_end(&w) != KH_OK || kh_buf_append_byte(out, '\n') != KH_OK)
		return cli_fail("the console file is too large");
	return KH_EXIT_OK;
}

static int write_console_file(const char *path, const struct kh_json *doc)
{
	struct kh_buf text;
	kh_buf_init(&text, CONSOLE_FILE_MAX, KH_BUF_SECURE);
	int ex = console_file_text(doc, &text);
	if (ex == KH_EXIT_OK)
		ex = cli_write_output(path, kh_buf_slice(&text), true);
	if (ex == KH_EXIT_OK)
		fprintf(stderr,
		        "keyhold: wrote the AWS console file %s (mode 0600): it holds the secret\n",
		        path);
	kh_buf_cleanup(&text);
	return ex;
}

static void show_credential(const struct kh_json *doc)
{
	static const char *const fields[] = {"access_key_id", "secret_access_key", "created_at",
	                                     NULL};
	cli_show_fields(doc, fields);
	fputs("keyhold: the secret access key is shown this once: keep it now\n", stderr);
}

static int credential_issue(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_reply r;
	const char *file = cli_opt(a, "console-file");
	int ex = store_path(a, "/credentials", path, sizeof(path));
	if (ex != KH_EXIT_OK)
		return ex;
	if (file != NULL && strcmp(file, "-") == 0)
		return cli_usage_error("--console-file needs a file name (standard output has the "
		                       "answer)");
	/* The answer is taken whole, so the console file is written with --json too. */
	ex = cli_call(c, "POST", path, NULL, CLI_CALL_RAW, &r);
	if (ex == KH_EXIT_OK && file != NULL)
		ex = write_console_file(file, r.doc);
	if (ex == KH_EXIT_OK && c->json)
		ex = cli_write_line(NULL, KH_SLICE(r.raw.data, r.raw.len), true);
	else if (ex == KH_EXIT_OK)
		show_credential(r.doc);
	cli_reply_free(&r);
	return ex;
}

static int credential_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = store_path(a, "/credentials", path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_credentials);
}

static int credential_revoke(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX], suffix[CLI_PATH_MAX];
	int ex = cli_path(suffix, sizeof(suffix), "/credentials/%s", cli_pos(a, 1));
	if (ex == KH_EXIT_OK)
		ex = store_path(a, suffix, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : call_no_content(c, path, "revoked");
}

/* ---- keys ---- */

/* --usage as the "usages" array. */
static int usages_member(const struct cli_args *a, struct kh_json_writer *w, const char *deflt)
{
	const char *v = cli_opt(a, "usage") != NULL ? cli_opt(a, "usage") : deflt;
	unsigned bits = 0;
	if (v == NULL)
		return KH_EXIT_OK;
	if (!cli_xks_usage_parse(v, &bits))
		return cli_usage_error("--usage is encrypt,decrypt, encrypt, decrypt or none");
	kh_json_key(w, "usages");
	kh_json_array_begin(w);
	if ((bits & CLI_XKS_ENCRYPT) != 0)
		kh_json_cstr(w, "encrypt");
	if ((bits & CLI_XKS_DECRYPT) != 0)
		kh_json_cstr(w, "decrypt");
	kh_json_array_end(w);
	return KH_EXIT_OK;
}

/* Every --<opt> as the array member (none given: nothing; --clear-<...>: []). */
static int patterns_member(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                           const char *clear, const char *member)
{
	bool cleared = clear != NULL && cli_flag(a, clear);
	if (cleared && cli_opt(a, opt) != NULL)
		return cli_usage_error("give --%s or --%s, not both", opt, clear);
	if (!cleared && cli_opt(a, opt) == NULL)
		return KH_EXIT_OK;
	kh_json_key(w, member);
	kh_json_array_begin(w);
	for (unsigned i = 0; cli_opt_nth(a, opt, i) != NULL; i++)
		kh_json_cstr(w, cli_opt_nth(a, opt, i));
	kh_json_array_end(w);
	return KH_EXIT_OK;
}

/* --expires TIME ("never" for none where allow_never). */
static void expires_member(const struct cli_args *a, struct kh_json_writer *w, bool allow_never)
{
	const char *v = cli_opt(a, "expires");
	if (v == NULL)
		return;
	kh_json_key(w, "expires_at");
	if (allow_never && strcmp(v, "never") == 0)
		kh_json_null(w);
	else
		kh_json_cstr(w, v);
}

/* The members attach and update share. */
static int key_members(const struct cli_args *a, struct kh_json_writer *w, bool update)
{
	int ex = usages_member(a, w, update ? NULL : "encrypt,decrypt");
	expires_member(a, w, update);
	if (ex == KH_EXIT_OK)
		ex =
		    cli_json_opt_uint(a, w, "rotation-days", "rotation_days", 0, ROTATION_DAYS_MAX);
	if (ex == KH_EXIT_OK)
		ex = patterns_member(a, w, "admin", update ? "clear-admins" : NULL,
		                     "administrators");
	if (ex == KH_EXIT_OK)
		ex = patterns_member(a, w, "user", update ? "clear-users" : NULL, "users");
	return ex;
}

static int key_attach(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = store_path(a, "/keys", path, sizeof(path));
	if (ex != KH_EXIT_OK)
		return ex;
	if (!cli_xks_external_id_ok(cli_pos(a, 1)))
		return cli_usage_error(
		    "'%s' is not an external key id (1-128 of A-Z a-z 0-9 . _ -)", cli_pos(a, 1));
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "external_key_id");
	kh_json_cstr(&b.w, cli_pos(a, 1));
	cli_json_opt_string(a, &b.w, "key", "key");
	cli_json_opt_string(a, &b.w, "name", "name");
	ex = key_members(a, &b.w, false);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "POST", path, &b, show_key);
	cli_body_cleanup(&b);
	return ex;
}

static int key_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = store_path(a, "/keys", path, sizeof(path));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_keys);
}

static int key_get(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = key_path(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_key);
}

static int key_detach(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = key_path(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : call_no_content(c, path, "detached (the key stays)");
}

static int key_patch(struct cli *c, const struct cli_args *a, struct cli_body *b)
{
	char path[CLI_PATH_MAX];
	int ex = key_path(a, path, sizeof(path));
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "PATCH", path, b, show_key);
	return ex;
}

static int key_state(struct cli *c, const struct cli_args *a, bool enabled)
{
	struct cli_body b;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "enabled");
	kh_json_bool(&b.w, enabled);
	kh_json_object_end(&b.w);
	int ex = key_patch(c, a, &b);
	cli_body_cleanup(&b);
	return ex;
}

static int key_enable(struct cli *c, const struct cli_args *a)
{
	return key_state(c, a, true);
}

static int key_disable(struct cli *c, const struct cli_args *a)
{
	return key_state(c, a, false);
}

static int key_update(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	if (a->occ_count == 0)
		return cli_usage_error("give --usage, --expires, --rotation-days, --admin, --user, "
		                       "--clear-admins or --clear-users");
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	int ex = key_members(a, &b.w, true);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = key_patch(c, a, &b);
	cli_body_cleanup(&b);
	return ex;
}

/* ---- the table ---- */

static const struct cli_opt store_create_opts[] = {
    {"prefix", 'p', "PREFIX", "URI path prefix: 1-117 of A-Z a-z 0-9 / _ - (required)"},
    {"region", 'r', "REGION", "accept only SigV4 scopes of this AWS region (default: any)"},
    {"secondary-auth", 0, NULL, "check each request's AWS principal against the key's patterns"},
    {"quota", 0, "N", "at most N XKS requests per second (default 0: no quota)"},
    {"keystore", 0, "ID", "the key store (the operator must name it; a manager's own)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt store_update_opts[] = {
    {"region", 'r', "REGION", "accept only this AWS region (\"\" for any)"},
    {"secondary-auth", 0, NULL, "turn secondary authorization on"},
    {"no-secondary-auth", 0, NULL, "turn secondary authorization off"},
    {"enable", 0, NULL, "serve AWS again"},
    {"disable", 0, NULL, "refuse every XKS request (InvalidStateException)"},
    {"quota", 0, "N", "requests per second, 0 for none"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt list_opts[] = {
    {"limit", 'n', "N", "at most N a page (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt issue_opts[] = {
    {"console-file", 'o', "FILE", "also write the AWS console JSON file (mode 0600)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt attach_opts[] = {
    {"key", 'k', "TAG", "attach this aes-256-gcm key (default: create a new one)"},
    {"name", 0, "NAME", "the new key's name (default xks-<store>-<external id>)"},
    {"usage", 'u', "USAGE", "encrypt,decrypt (default), encrypt, decrypt or none"},
    {"expires", 0, "TIME", "RFC 3339 time after which AWS gets DISABLED (default: never)"},
    {"rotation-days", 0, "DAYS", "rotation period of the key, 0 for none"},
    {"admin", 0, "PATTERN", "AWS principal ARN pattern ('*' wildcard) for metadata; repeat"},
    {"user", 0, "PATTERN", "AWS principal ARN pattern for encrypt and decrypt; repeat"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt key_update_opts[] = {
    {"usage", 'u', "USAGE", "encrypt,decrypt, encrypt, decrypt or none"},
    {"expires", 0, "TIME", "RFC 3339 expiry, or never"},
    {"rotation-days", 0, "DAYS", "rotation period of the key, 0 for none"},
    {"admin", 0, "PATTERN", "replace the administrators with these patterns; repeat"},
    {"user", 0, "PATTERN", "replace the users with these patterns; repeat"},
    {"clear-admins", 0, NULL, "no administrator patterns"},
    {"clear-users", 0, NULL, "no user patterns"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_xks_cmds[] = {
    {"xks", "store create", "", "create an XKS key store for a URI path prefix", store_create_opts,
     0, 0, store_create, 0},
    {"xks", "store list", "", "list the XKS key stores you manage", list_opts, 0, 0, store_list, 0},
    {"xks", "store get", "STORE", "show an XKS key store", NULL, 1, 1, store_get, 0},
    {"xks", "store update", "STORE", "change region, secondary authorization, state or quota",
     store_update_opts, 1, 1, store_update, 0},
    {"xks", "store delete", "STORE",
     "delete an XKS key store without keys (revokes its "
     "credentials)",
     NULL, 1, 1, store_delete, 0},
    {"xks", "credential issue", "STORE", "issue a SigV4 credential; the secret is shown once",
     issue_opts, 1, 1, credential_issue, 0},
    {"xks", "credential list", "STORE", "list the live credentials (never their secrets)", NULL, 1,
     1, credential_list, 0},
    {"xks", "credential revoke", "STORE ACCESS_KEY_ID", "revoke a credential at once", NULL, 2, 2,
     credential_revoke, 0},
    {"xks", "key attach", "STORE EXTERNAL_ID", "attach a key under an external key id", attach_opts,
     2, 2, key_attach, 0},
    {"xks", "key list", "STORE", "list the keys of an XKS key store", list_opts, 1, 1, key_list, 0},
    {"xks", "key get", "STORE EXTERNAL_ID", "show an XKS key", NULL, 2, 2, key_get, 0},
    {"xks", "key update", "STORE EXTERNAL_ID", "change usages, expiry, rotation or principals",
     key_update_opts, 2, 2, key_update, 0},
    {"xks", "key enable", "STORE EXTERNAL_ID", "enable the key (AWS can use it again)", NULL, 2, 2,
     key_enable, 0},
    {"xks", "key disable", "STORE EXTERNAL_ID", "disable the key (AWS gets DISABLED)", NULL, 2, 2,
     key_disable, 0},
    {"xks", "key detach", "STORE EXTERNAL_ID", "detach the key (the keyhold key stays)", NULL, 2, 2,
     key_detach, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
