// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold grant ...: roles of accounts on a key (API.md "Who may do what"): manager,
 * encryptor, decryptor, encryptor-decryptor, reviewer.
 */
#include <stdio.h>

#include "cli/kh_cli.h"

static void show_grant(const struct kh_json *doc)
{
	static const char *const fields[] = {"account", "role", "created_at", NULL};
	cli_show_fields(doc, fields);
}

static int grant_add(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	uint64_t account = 0;
	int ex = cli_uint(cli_pos(a, 1), "ACCOUNT", 1, INT64_MAX, &account);
	if (ex == KH_EXIT_OK)
		ex = cli_path(path, sizeof(path), "/v1/keys/%s/grants", cli_pos(a, 0));
	if (ex != KH_EXIT_OK)
		return ex;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "account");
	kh_json_uint(&b.w, account);
	kh_json_key(&b.w, "role");
	kh_json_cstr(&b.w, cli_pos(a, 2));
	kh_json_object_end(&b.w);
	ex = cli_call_show(c, "POST", path, &b, show_grant);
	cli_body_cleanup(&b);
	return ex;
}

static void show_grants(const struct kh_json *doc)
{
	static const char *const cols[] = {"account", "role", "created_at", NULL};
	static const char *const heads[] = {"ACCOUNT", "ROLE", "GRANTED"};
	cli_show_table(doc, "grants", cols, heads);
	cli_show_next(doc);
}

static int grant_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	int ex = cli_path(path, sizeof(path), "/v1/keys/%s/grants", cli_pos(a, 0));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_grants);
}

static void show_revoked(const struct kh_json *doc)
{
	(void)doc;
	printf("revoked\n");
}

static int grant_revoke(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	uint64_t account = 0;
	int ex = cli_uint(cli_pos(a, 1), "ACCOUNT", 1, INT64_MAX, &account);
	if (ex == KH_EXIT_OK)
		ex = cli_path(path, sizeof(path), "/v1/keys/%s/grants/%s/%s", cli_pos(a, 0),
		              cli_pos(a, 1), cli_pos(a, 2));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "DELETE", path, NULL, show_revoked);
}

static const struct cli_opt list_opts[] = {
    {"limit", 'n', "N", "at most N grants (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_grant_cmds[] = {
    {"grant", "add", "TAG ACCOUNT ROLE",
     "give account (id) a role: manager, encryptor, decryptor, encryptor-decryptor, reviewer", NULL,
     3, 3, grant_add, 0},
    {"grant", "list", "TAG", "list the grants on a key, by account", list_opts, 1, 1, grant_list,
     0},
    {"grant", "revoke", "TAG ACCOUNT ROLE", "take a role away", NULL, 3, 3, grant_revoke, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
