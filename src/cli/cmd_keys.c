// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold key ...: create, list, show and update keys; rotation, state, deletion; versions;
 * usage history (API.md "Keys"). Keys are named by their tag, as in the API's paths.
 */
#include <stdio.h>
#include <string.h>

#include "cli/kh_cli.h"

#define ROTATION_DAYS_MAX 3650u

static const char *const key_fields[] = {
    "tag",
    "name",
    "type",
    "usage",
    "state",
    "current_version",
    "rotation_period_days",
    "pending_rotation_period_days",
    "next_rotation_at",
    "created_at",
    "deletion_at",
    "deleted_at",
    "usage_count",
    "last_used_at",
    "convergent",
    "description",
    NULL,
};

static void show_key(const struct kh_json *doc)
{
	cli_show_fields(doc, key_fields);
}

/* ---- create, list, show, update ---- */

static int rotation_member(const struct cli_args *a, struct kh_json_writer *w)
{
	const char *days = cli_opt(a, "rotation-days");
	uint64_t n = 0;
	if (days == NULL)
		return KH_EXIT_OK;
	int ex = cli_uint(days, "--rotation-days", 0, ROTATION_DAYS_MAX, &n);
	if (ex == KH_EXIT_OK) {
		kh_json_key(w, "rotation_period_days");
		kh_json_uint(w, n);
	}
	return ex;
}

static void opt_member(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                       const char *member)
{
	const char *v = cli_opt(a, opt);
	if (v != NULL) {
		kh_json_key(w, member);
		kh_json_cstr(w, v);
	}
}

static int key_create(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "name");
	kh_json_cstr(&b.w, cli_pos(a, 0));
	opt_member(a, &b.w, "type", "type");
	opt_member(a, &b.w, "usage", "usage");
	opt_member(a, &b.w, "description", "description");
	if (cli_flag(a, "convergent")) {
		kh_json_key(&b.w, "convergent");
		kh_json_bool(&b.w, true);
	}
	int ex = rotation_member(a, &b.w);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "POST", "/v1/keys", &b, show_key);
	cli_body_cleanup(&b);
	return ex;
}

static void show_key_list(const struct kh_json *doc)
{
	static const char *const cols[] = {"tag", "name", "type", "state", "current_version", NULL};
	static const char *const heads[] = {"TAG", "NAME", "TYPE", "STATE", "VERSION"};
	cli_show_table(doc, "keys", cols, heads);
	cli_show_next(doc);
}

static int key_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX] = "/v1/keys";
	int ex = cli_query(path, sizeof(path), "state", cli_opt(a, "state"));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_key_list);
}

static int key_show(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s", cli_pos(a, 0));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_key);
}

static int key_update(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s", cli_pos(a, 0));
	if (ex != KH_EXIT_OK)
		return ex;
	if (!cli_flag(a, "description") && !cli_flag(a, "rotation-days"))
		return cli_usage_error("give --description or --rotation-days");
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	opt_member(a, &b.w, "description", "description");
	ex = rotation_member(a, &b.w);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call_show(c, "PATCH", path, &b, show_key);
	cli_body_cleanup(&b);
	return ex;
}

/* ---- lifecycle: POST /v1/keys/{tag}/<action>, answered with the key ---- */

static int key_action(struct cli *c, const struct cli_args *a, const char *action)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s/%s", cli_pos(a, 0), action);
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "POST", path, NULL, show_key);
}

static int key_rotate(struct cli *c, const struct cli_args *a)
{
	return key_action(c, a, "rotate");
}

static int key_disable(struct cli *c, const struct cli_args *a)
{
	return key_action(c, a, "disable");
}

static int key_enable(struct cli *c, const struct cli_args *a)
{
	return key_action(c, a, "enable");
}

static int key_cancel_deletion(struct cli *c, const struct cli_args *a)
{
	return key_action(c, a, "cancel-deletion");
}

static int key_schedule_deletion(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s/schedule-deletion", cli_pos(a, 0));
	if (ex != KH_EXIT_OK)
		return ex;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	opt_member(a, &b.w, "confirm-name", "confirm_name");
	kh_json_object_end(&b.w);
	ex = cli_call_show(c, "POST", path, &b, show_key);
	cli_body_cleanup(&b);
	return ex;
}

static void show_deleted(const struct kh_json *doc)
{
	(void)doc;
	printf("deleted: the key material is destroyed\n");
}

static int key_delete(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s", cli_pos(a, 0));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "DELETE", path, NULL, show_deleted);
}

/* ---- versions, history ---- */

static void show_versions(const struct kh_json *doc)
{
	static const char *const cols[] = {"version", "state", "created_at", "destroyed", NULL};
	static const char *const heads[] = {"VERSION", "STATE", "CREATED", "DESTROYED"};
	cli_show_table(doc, "versions", cols, heads);
	cli_show_next(doc);
}

static int key_versions(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s/versions", cli_pos(a, 0));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_versions);
}

static void show_version_state(const struct kh_json *doc)
{
	static const char *const fields[] = {"version", "state", NULL};
	cli_show_fields(doc, fields);
}

static int version_change(struct cli *c, const struct cli_args *a, const char *action)
{
	char path[CLI_PATH_MAX];
	uint64_t v = 0;
	int ex = cli_uint(cli_pos(a, 1), "VERSION", 1, UINT32_MAX, &v);
	if (ex == KH_EXIT_OK)
		ex = cli_path(path, sizeof(path), "/v1/keys/%s/versions/%s/%s", cli_pos(a, 0),
		              cli_pos(a, 1), action);
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "POST", path, NULL, show_version_state);
}

static int key_version_disable(struct cli *c, const struct cli_args *a)
{
	return version_change(c, a, "disable");
}

static int key_version_enable(struct cli *c, const struct cli_args *a)
{
	return version_change(c, a, "enable");
}

static void show_history(const struct kh_json *doc)
{
	static const char *const cols[] = {"at",        "operation", "version",
	                                   "principal", "result",    NULL};
	static const char *const heads[] = {"TIME", "OPERATION", "VERSION", "PRINCIPAL", "RESULT"};
	cli_show_table(doc, "history", cols, heads);
}

static int key_history(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	uint64_t limit = 0;
	const char *l = cli_opt(a, "limit");
	int ex = l != NULL ? cli_uint(l, "--limit", 1, 100, &limit) : KH_EXIT_OK;
	if (ex == KH_EXIT_OK)
		ex = cli_path(path, sizeof(path), "/v1/keys/%s/history", cli_pos(a, 0));
	if (ex == KH_EXIT_OK)
		ex = cli_query(path, sizeof(path), "limit", l);
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_history);
}

/* ---- the table ---- */

static const struct cli_opt create_opts[] = {
    {"type", 't', "TYPE",
     "aes-256-gcm (default), sm4, chacha20-poly1305, rsa-2048|3072|4096, ecdsa-p256|p384, "
     "ed25519, sm2, hmac-sha256"},
    {"usage", 'u', "USAGE", "encrypt-decrypt, sign-verify or mac (default: the type's)"},
    {"rotation-days", 0, "DAYS", "automatic rotation period, 0 for none (default 90)"},
    {"description", 'd', "TEXT", "free text, at most 256 bytes"},
    {"convergent", 0, NULL, "same plaintext and context give the same ciphertext"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt list_opts[] = {
    {"state", 0, "STATE", "only keys in this state (enabled, disabled, pending-deletion, deleted)"},
    {"limit", 'n', "N", "at most N keys (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt versions_opts[] = {
    {"limit", 'n', "N", "at most N versions (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt update_opts[] = {
    {"description", 'd', "TEXT", "new description"},
    {"rotation-days", 0, "DAYS", "new rotation period, from the next scheduled rotation on"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt deletion_opts[] = {
    {"confirm-name", 0, "NAME", "the key's name; required when the key has grants"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt history_opts[] = {
    {"limit", 'n', "N", "at most N records, newest first (1..100)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_key_cmds[] = {
    {"key", "create", "NAME", "create a key (POST /v1/keys)", create_opts, 1, 1, key_create, 0},
    {"key", "list", "", "list the keys you may see (GET /v1/keys)", list_opts, 0, 0, key_list, 0},
    {"key", "show", "TAG", "show a key (GET /v1/keys/{tag})", NULL, 1, 1, key_show, 0},
    {"key", "update", "TAG", "change the description or rotation period (PATCH)", update_opts, 1, 1,
     key_update, 0},
    {"key", "rotate", "TAG", "make a new version now", NULL, 1, 1, key_rotate, 0},
    {"key", "disable", "TAG", "stop the key from serving crypto operations", NULL, 1, 1,
     key_disable, 0},
    {"key", "enable", "TAG", "let a disabled key serve again", NULL, 1, 1, key_enable, 0},
    {"key", "schedule-deletion", "TAG", "delete the key after a 72-hour wait", deletion_opts, 1, 1,
     key_schedule_deletion, 0},
    {"key", "cancel-deletion", "TAG", "cancel a pending deletion (the key stays disabled)", NULL, 1,
     1, key_cancel_deletion, 0},
    {"key", "delete", "TAG", "destroy a key pending deletion now (DELETE)", NULL, 1, 1, key_delete,
     0},
    {"key", "versions", "TAG", "list the key's versions, oldest first", versions_opts, 1, 1,
     key_versions, 0},
    {"key", "version-disable", "TAG VERSION", "disable one version (not the current one)", NULL, 2,
     2, key_version_disable, 0},
    {"key", "version-enable", "TAG VERSION", "enable one version again", NULL, 2, 2,
     key_version_enable, 0},
    {"key", "history", "TAG", "the key's latest usage records", history_opts, 1, 1, key_history, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
