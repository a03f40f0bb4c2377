// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold audit list|verify and notifications list|ack (API.md "Audit and notifications").
 * A broken audit chain exits 1, so a cron job notices.
 */
#include <stdio.h>
#include <string.h>

#include "cli/kh_cli.h"

static void show_records(const struct kh_json *doc)
{
	static const char *const cols[] = {"seq", "time",   "principal", "operation",
	                                   "key", "result", NULL};
	static const char *const heads[] = {"SEQ",       "TIME", "PRINCIPAL",
	                                    "OPERATION", "KEY",  "RESULT"};
	cli_show_table(doc, "records", cols, heads);
	cli_show_next(doc);
}

static int audit_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX] = "/v1/audit";
	int ex = cli_query(path, sizeof(path), "since", cli_opt(a, "since"));
	if (ex == KH_EXIT_OK)
		ex = cli_query(path, sizeof(path), "key", cli_opt(a, "key"));
	if (ex == KH_EXIT_OK)
		ex = cli_query(path, sizeof(path), "account", cli_opt(a, "account"));
	if (ex == KH_EXIT_OK)
		ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_records);
}

static int audit_verify(struct cli *c, const struct cli_args *a)
{
	static const char *const fields[] = {"ok", "checked", "first_bad_seq", NULL};
	struct cli_reply r;
	bool ok = false;
	(void)a;
	/* Raw: the exit code depends on the answer even with --json. */
	int ex = cli_call(c, "POST", "/v1/audit/verify", NULL, CLI_CALL_RAW, &r);
	if (ex != KH_EXIT_OK) {
		cli_reply_free(&r);
		return ex;
	}
	if (c->json)
		printf("%.*s\n", (int)r.raw.len, (const char *)r.raw.data);
	else
		cli_show_fields(r.doc, fields);
	if (kh_json_get_bool(r.doc, "ok", &ok) != KH_OK)
		ex = cli_fail("the answer has no \"ok\"");
	else if (!ok)
		ex = cli_fail(
		    "the audit chain is BROKEN: records were deleted, edited or reordered");
	cli_reply_free(&r);
	return ex;
}

static void show_notices(const struct kh_json *doc)
{
	static const char *const cols[] = {"id", "time", "event", "key", "acked", "detail", NULL};
	static const char *const heads[] = {"ID", "TIME", "EVENT", "KEY", "ACKED", "DETAIL"};
	cli_show_table(doc, "notifications", cols, heads);
	cli_show_next(doc);
}

static int notifications_list(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX] = "/v1/notifications";
	int ex = cli_page_query(a, path, sizeof(path));
	return ex != KH_EXIT_OK ? ex : cli_call_show(c, "GET", path, NULL, show_notices);
}

/* The id of the newest notification, 0 when the inbox is empty. */
static int newest_notice(struct cli *c, int64_t *out)
{
	struct cli_reply r;
	const struct kh_json *arr = NULL;
	size_t n = 0;
	*out = 0;
	int ex = cli_call(c, "GET", "/v1/notifications?limit=1", NULL, CLI_CALL_RAW, &r);
	if (ex == KH_EXIT_OK && kh_json_get_array(r.doc, "notifications", &arr, &n) == KH_OK &&
	    n > 0 && kh_json_get_int(kh_json_array_at(arr, 0), "id", 1, INT64_MAX, out) != KH_OK)
		ex = cli_fail("the answer has no notification id");
	cli_reply_free(&r);
	return ex;
}

static void show_acked(const struct kh_json *doc)
{
	static const char *const fields[] = {"acked", NULL};
	cli_show_fields(doc, fields);
}

static int notifications_ack(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	uint64_t up_to = 0;
	int64_t newest = 0;
	int ex = cli_pos(a, 0) != NULL ? cli_uint(cli_pos(a, 0), "ID", 1, INT64_MAX, &up_to)
	                               : newest_notice(c, &newest);
	if (ex != KH_EXIT_OK)
		return ex;
	if (cli_pos(a, 0) == NULL) {
		if (newest == 0) {
			printf("nothing to acknowledge\n");
			return KH_EXIT_OK;
		}
		up_to = (uint64_t)newest;
	}
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "up_to");
	kh_json_uint(&b.w, up_to);
	kh_json_object_end(&b.w);
	ex = cli_call_show(c, "POST", "/v1/notifications/ack", &b, show_acked);
	cli_body_cleanup(&b);
	return ex;
}

static const struct cli_opt audit_opts[] = {
    {"since", 0, "TIME", "records at or after TIME (Unix seconds or RFC 3339)"},
    {"key", 0, "TAG", "records about this key"},
    {"account", 0, "ID", "records of this account"},
    {"limit", 'n', "N", "at most N records (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt page_opts[] = {
    {"limit", 'n', "N", "at most N (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_audit_cmds[] = {
    {"audit", "list", "", "audit records, oldest first (operator: system; managers: key store)",
     audit_opts, 0, 0, audit_list, 0},
    {"audit", "verify", "", "recompute the hash chain; exit 1 when it is broken", NULL, 0, 0,
     audit_verify, 0},
    {"notifications", "list", "", "your inbox, newest first", page_opts, 0, 0, notifications_list,
     0},
    {"notifications", "ack", "[ID]", "acknowledge up to ID (default: everything)", NULL, 0, 1,
     notifications_ack, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
