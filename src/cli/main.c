/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyhold, the command-line client of keyholdd: every endpoint of the REST API v1 as a
 * command ("keyhold key create demo"), envelope encryption of whole files, and the local
 * version and self-test. This file finds the command in the tables the group files export
 * (a dispatch table, not a chain of ifs), handles the global options and prints the help.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "cli/kh_cli.h"

/* Room for the largest answer (2 MiB) while it grows, a request body and an envelope chunk;
 * small enough that it and OpenSSL's secure heap stay under a common 8 MiB RLIMIT_MEMLOCK. */
#define SECURE_ARENA_BYTES (6u * 1024u * 1024u)
#define STDIO_BUFFER_BYTES 4096u

static const struct cli_cmd *const tables[] = {
    cli_key_cmds,      cli_grant_cmds, cli_crypto_cmds, cli_sys_cmds, cli_audit_cmds,
    cli_envelope_cmds, cli_local_cmds, cli_xks_cmds,    cli_pki_cmds, cli_kmc_cmds,
};

static const char global_help[] =
    "global options (before or after the command):\n"
    "  --addr URL          server address (env KEYHOLD_ADDR; default https://127.0.0.1:8443)\n"
    "  --token-file FILE   file whose first line is the token; - reads standard input\n"
    "                      (env KEYHOLD_TOKEN_FILE; KEYHOLD_TOKEN may hold the token itself,\n"
    "                      but a file is safer: the environment leaks to child processes)\n"
    "  --ca-file FILE      PEM CA certificates to trust (env KEYHOLD_CA_FILE; default: the\n"
    "                      system's). TLS is always verified; http:// only to loopback\n"
    "  --timeout SECONDS   give up on a request after this long (default 60)\n"
    "  --json              print the server's JSON answer instead of tables\n"
    "  -h, --help          help; after a command, that command's help\n"
    "\n"
    "configuration file: $KEYHOLD_CONFIG or ~/.config/keyhold/config, lines of key = value\n"
    "  with the keys addr, token_file, ca_file, timeout. Flags beat the environment, which\n"
    "  beats the file. Tokens, plaintexts and shares are never taken from the command line.\n"
    "\n"
    "exit codes:\n"
    "  0  success\n"
    "  1  other failure: a signature or MAC that does not verify, a broken audit chain, an\n"
    "     altered envelope file, a local file error\n"
    "  2  usage or configuration error\n"
    "  3  authentication or authorisation refused (401, 403)\n"
    "  4  not found (404)\n"
    "  5  other client error (4xx: bad request, conflict such as a disabled key, too large)\n"
    "  6  server error (5xx, sealed) or no connection\n";

/* The groups in the order of the help, with a line each. */
static const struct {
	const char *name;
	const char *summary;
} groups[] = {
    {"key", "create and manage keys: lifecycle, versions, usage history"},
    {"grant", "give accounts roles on a key"},
    {"operator", "initialise, unseal, seal, rekey, rotate the root key, health, backups"},
    {"keystore", "create key stores (operator)"},
    {"account", "create accounts (operator, or the key store's managers)"},
    {"token", "issue and revoke API tokens"},
    {"audit", "read and verify the audit log"},
    {"notifications", "the account's inbox"},
    {"envelope", "encrypt and decrypt whole files with a data key"},
    {"xks", "AWS external key stores: stores, SigV4 credentials, keys (docs/xks.md)"},
    {"pki", "certificate authorities: CAs, profiles, requests, certificates, CRLs (docs/pki.md)"},
};

static void usage(FILE *f)
{
	fputs("usage: keyhold [global options] <command> [arguments] [options]\n\ncommands:\n", f);
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		fprintf(f, "  %-14s %s\n", groups[g].name, groups[g].summary);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct cli_cmd *cmd = tables[t]; cmd->name != NULL; cmd++) {
			if (cmd->group == NULL)
				fprintf(f, "  %-14s %s\n", cmd->name, cmd->summary);
		}
	}
	fprintf(f,
	        "\n'keyhold <command> --help' shows a command group's commands, or a command's\n"
	        "arguments and options.\n\n%s",
	        global_help);
}

static void group_help(const char *group, FILE *f)
{
	fprintf(f, "usage: keyhold %s <command> [arguments] [options]\n\ncommands:\n", group);
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct cli_cmd *cmd = tables[t]; cmd->name != NULL; cmd++) {
			if (cmd->group != NULL && strcmp(cmd->group, group) == 0)
				fprintf(f, "  %-20s %s\n", cmd->name, cmd->summary);
		}
	}
	fprintf(f,
	        "\n'keyhold %s <command> --help' shows a command's arguments and options.\n"
	        "Exit codes and global options: keyhold --help.\n",
	        group);
}

static bool is_group(const char *name)
{
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (strcmp(groups[g].name, name) == 0)
			return true;
	}
	return false;
}

static const struct cli_cmd *find(const char *group, const char *name)
{
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct cli_cmd *cmd = tables[t]; cmd->name != NULL; cmd++) {
			bool same_group =
			    group == NULL ? cmd->group == NULL
			                  : cmd->group != NULL && strcmp(cmd->group, group) == 0;
			if (same_group && strcmp(cmd->name, name) == 0)
				return cmd;
		}
	}
	return NULL;
}

static bool is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

/* Global options before the command; *out_next is the index of the command word. */
static int parse_globals(struct cli *c, int argc, char **argv, int *out_next)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] != '\0'; i++) {
		const char *name = argv[i] + 2, *eq = strchr(name, '=');
		char key[32];
		int ex = KH_EXIT_OK;
		if (strcmp(name, "help") == 0 || strcmp(name, "version") == 0)
			break;
		snprintf(key, sizeof(key), "%.*s", (int)(eq ? (size_t)(eq - name) : strlen(name)),
		         name);
		if (!cli_global_known(key))
			return cli_usage_error("unknown option --%s", key);
		const char *value = eq ? eq + 1 : NULL;
		if (cli_global_has_arg(key) && value == NULL) {
			if (i + 1 >= argc)
				return cli_usage_error("--%s needs a value", key);
			value = argv[++i];
		}
		if (!cli_global_has_arg(key) && value != NULL)
			return cli_usage_error("--%s takes no value", key);
		(void)cli_global_opt(c, key, value, &ex);
		if (ex != KH_EXIT_OK)
			return ex;
	}
	*out_next = i;
	return KH_EXIT_OK;
}

static int run_cmd(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv)
{
	struct cli_args a;
	bool done = false;
	int ex = cli_parse(c, cmd, argc, argv, &a, &done);
	if (ex != KH_EXIT_OK || done)
		return ex;
	c->no_token = (cmd->flags & CLI_NO_TOKEN) != 0;
	ex = cmd->run(c, &a);
	cli_args_free(&a);
	return ex;
}

static int dispatch(struct cli *c, int argc, char **argv, int i)
{
	if (i >= argc) {
		usage(stderr);
		return KH_EXIT_USAGE;
	}
	if (is_help(argv[i])) {
		usage(stdout);
		return KH_EXIT_OK;
	}
	if (!is_group(argv[i])) {
		const char *name = strcmp(argv[i], "--version") == 0 ? "version" : argv[i];
		const struct cli_cmd *cmd = find(NULL, name);
		if (cmd == NULL) {
			fprintf(stderr, "keyhold: unknown command '%s'\n\n", argv[i]);
			usage(stderr);
			return KH_EXIT_USAGE;
		}
		return run_cmd(c, cmd, argc - i - 1, argv + i + 1);
	}
	if (i + 1 >= argc || is_help(argv[i + 1])) {
		group_help(argv[i], i + 1 >= argc ? stderr : stdout);
		return i + 1 >= argc ? KH_EXIT_USAGE : KH_EXIT_OK;
	}
	/* Three-word commands ("pki ca responder issue"), then two-word ones ("xks store
	 * create"), before one-word ones. */
	for (int words = 3; words >= 2; words--) {
		char name[96];
		if (i + words >= argc)
			continue;
		snprintf(name, sizeof(name), "%s %s%s%s", argv[i + 1], argv[i + 2],
		         words == 3 ? " " : "", words == 3 ? argv[i + 3] : "");
		const struct cli_cmd *long_cmd = find(argv[i], name);
		if (long_cmd != NULL)
			return run_cmd(c, long_cmd, argc - i - 1 - words, argv + i + 1 + words);
	}
	const struct cli_cmd *cmd = find(argv[i], argv[i + 1]);
	if (cmd == NULL) {
		fprintf(stderr, "keyhold: unknown command '%s %s'\n\n", argv[i], argv[i + 1]);
		group_help(argv[i], stderr);
		return KH_EXIT_USAGE;
	}
	return run_cmd(c, cmd, argc - i - 2, argv + i + 2);
}

/* Plaintexts, tokens and data keys pass through stdin's and stdout's buffers: those live in
 * secure memory and are wiped at the end, instead of lingering in the heap. */
static char *stdio_secure(FILE *f)
{
	char *buf = kh_secure_alloc(STDIO_BUFFER_BYTES);
	if (buf != NULL && setvbuf(f, buf, _IOFBF, STDIO_BUFFER_BYTES) != 0)
		kh_secure_free(&buf);
	return buf;
}

int main(int argc, char **argv)
{
	struct cli c;
	int i = 1;
	memset(&c, 0, sizeof(c));
	if (kh_mem_harden_process() != KH_OK)
		fputs("keyhold: warning: could not disable core dumps\n", stderr);
	enum keyhold_err err = keyhold_global_init(SECURE_ARENA_BYTES);
	if (err != KEYHOLD_OK) {
		fprintf(stderr, "keyhold: cannot start: %s\n", keyhold_strerror(err));
		return KH_EXIT_FAILURE;
	}
	char *in_buf = stdio_secure(stdin), *out_buf = stdio_secure(stdout);
	int ex = parse_globals(&c, argc, argv, &i);
	if (ex == KH_EXIT_OK)
		ex = dispatch(&c, argc, argv, i);
	keyhold_client_free(&c.client);
	if (fflush(stdout) != 0 && ex == KH_EXIT_OK)
		ex = cli_fail("cannot write to standard output");
	/* The buffers stay set (stdio may touch them until exit); their contents are wiped. */
	if (out_buf != NULL)
		kh_wipe(out_buf, STDIO_BUFFER_BYTES);
	if (in_buf != NULL)
		kh_wipe(in_buf, STDIO_BUFFER_BYTES);
	return ex;
}
