// SPDX-License-Identifier: Apache-2.0
/*
 * Command arguments: "--name value", "--name=value", "-x value", flags, positionals, and "--"
 * ending the options. A command's own options come from its table; the global options are
 * accepted anywhere too, so "keyhold key list --json" works as well as "keyhold --json key
 * list". Anything unknown is a usage error: nothing is guessed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "cli/kh_cli.h"

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("keyhold: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(keyhold --help for usage)\n", stderr);
	return KH_EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("keyhold: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return KH_EXIT_FAILURE;
}

static int opt_index(const struct cli_cmd *cmd, const char *name, size_t name_len, char short_name)
{
	if (cmd->opts == NULL)
		return -1;
	for (int i = 0; i < (int)CLI_MAX_OPTS && cmd->opts[i].name != NULL; i++) {
		const struct cli_opt *o = &cmd->opts[i];
		if (short_name != 0
		        ? o->short_name == short_name
		        : strlen(o->name) == name_len && strncmp(o->name, name, name_len) == 0)
			return i;
	}
	return -1;
}

/* One "--name[=value]" (or "-x"); *i advances past a separate value. */
static int parse_option(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv, int *i,
                        struct cli_args *out)
{
	const char *arg = argv[*i];
	bool is_long = arg[1] == '-';
	const char *name = arg + (is_long ? 2 : 1);
	const char *eq = is_long ? strchr(name, '=') : NULL;
	size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
	int k = is_long ? opt_index(cmd, name, name_len, 0)
	                : (name_len == 1 ? opt_index(cmd, NULL, 0, name[0]) : -1);
	char key[40];
	snprintf(key, sizeof(key), "%.*s", (int)name_len, name);
	bool has_arg = k >= 0 ? cmd->opts[k].arg_name != NULL : cli_global_has_arg(key);
	if (k < 0 && !(is_long && cli_global_known(key)))
		return cli_usage_error("unknown option %s for '%s%s%s'", arg,
		                       cmd->group ? cmd->group : "", cmd->group ? " " : "",
		                       cmd->name);
	const char *value = eq ? eq + 1 : NULL;
	if (has_arg && value == NULL) {
		if (*i + 1 >= argc)
			return cli_usage_error("%s needs a value", arg);
		value = argv[++*i];
	}
	if (!has_arg && value != NULL)
		return cli_usage_error("--%s takes no value", key);
	if (k >= 0) {
		out->val[k] = value != NULL ? value : "";
		out->occ[out->occ_count++] = (struct cli_occurrence){(unsigned)k, out->val[k]};
		return KH_EXIT_OK;
	}
	int ex = KH_EXIT_OK;
	(void)cli_global_opt(c, key, value, &ex);
	return ex;
}

void cli_cmd_help(const struct cli_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: keyhold %s%s%s%s%s [options]\n\n%s\n", cmd->group ? cmd->group : "",
	        cmd->group ? " " : "", cmd->name, cmd->synopsis[0] ? " " : "", cmd->synopsis,
	        cmd->summary);
	if (cmd->opts != NULL && cmd->opts[0].name != NULL) {
		fputs("\noptions:\n", f);
		for (const struct cli_opt *o = cmd->opts; o->name != NULL; o++) {
			char left[48], flag[4] = "   ";
			if (o->short_name != 0)
				snprintf(flag, sizeof(flag), "-%c,", o->short_name);
			snprintf(left, sizeof(left), "%s --%s%s%s", flag, o->name,
			         o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
			fprintf(f, "  %-28s %s\n", left, o->help);
		}
	}
	fputs("\nGlobal options and exit codes: keyhold --help.\n", f);
}

static bool wants_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out,
              bool *out_done)
{
	bool options_end = false;
	memset(out, 0, sizeof(*out));
	out->cmd = cmd;
	*out_done = false;
	out->pos = kh_calloc((size_t)argc + 1, sizeof(*out->pos));
	out->occ = kh_calloc((size_t)argc + 1, sizeof(*out->occ));
	if (out->pos == NULL || out->occ == NULL) {
		cli_args_free(out);
		return cli_fail("out of memory");
	}
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (!options_end && wants_help(arg)) {
			cli_cmd_help(cmd, stdout);
			cli_args_free(out);
			*out_done = true;
			return KH_EXIT_OK;
		}
		if (!options_end && strcmp(arg, "--") == 0) {
			options_end = true;
			continue;
		}
		if (!options_end && arg[0] == '-' && arg[1] != '\0') {
			int ex = parse_option(c, cmd, argc, argv, &i, out);
			if (ex != KH_EXIT_OK) {
				cli_args_free(out);
				return ex;
			}
			continue;
		}
		out->pos[out->pos_count++] = arg;
	}
	if (out->pos_count < cmd->min_pos || out->pos_count > cmd->max_pos) {
		cli_args_free(out);
		fprintf(stderr, "keyhold: wrong number of arguments\n");
		cli_cmd_help(cmd, stderr);
		return KH_EXIT_USAGE;
	}
	return KH_EXIT_OK;
}

void cli_args_free(struct cli_args *a)
{
	kh_free(&a->pos);
	kh_free(&a->occ);
	a->pos_count = 0;
	a->occ_count = 0;
}

const char *cli_opt(const struct cli_args *a, const char *name)
{
	int k = opt_index(a->cmd, name, strlen(name), 0);
	return k >= 0 ? a->val[k] : NULL;
}

bool cli_flag(const struct cli_args *a, const char *name)
{
	return cli_opt(a, name) != NULL;
}

const char *cli_opt_nth(const struct cli_args *a, const char *name, unsigned i)
{
	int k = opt_index(a->cmd, name, strlen(name), 0);
	for (unsigned j = 0; k >= 0 && j < a->occ_count; j++) {
		if (a->occ[j].opt == (unsigned)k && i-- == 0)
			return a->occ[j].value;
	}
	return NULL;
}

const char *cli_pos(const struct cli_args *a, unsigned i)
{
	return i < a->pos_count ? a->pos[i] : NULL;
}

void cli_json_opt_string(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                         const char *member)
{
	const char *v = cli_opt(a, opt);
	if (v != NULL) {
		kh_json_key(w, member);
		kh_json_cstr(w, v);
	}
}

int cli_json_opt_uint(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                      const char *member, uint64_t min, uint64_t max)
{
	const char *v = cli_opt(a, opt);
	char name[40];
	uint64_t n = 0;
	if (v == NULL)
		return KH_EXIT_OK;
	snprintf(name, sizeof(name), "--%s", opt);
	int ex = cli_uint(v, name, min, max, &n);
	if (ex == KH_EXIT_OK) {
		kh_json_key(w, member);
		kh_json_uint(w, n);
	}
	return ex;
}
