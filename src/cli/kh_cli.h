/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the keyhold command: the command table every command group file contributes to, the
 * parsed arguments a command receives, and the helpers they share (the call to the server
 * with its error reporting and exit codes, input and output files, tables, JSON views).
 *
 * Exit codes (documented in --help and docs/keyhold.1): 0 ok, 1 other failures (a signature
 * or MAC that does not verify, a broken audit chain, an altered envelope, local I/O), 2 usage
 * or configuration, 3 authentication or authorisation (401, 403), 4 not found (404), 5 other
 * client errors (4xx), 6 server errors (5xx, sealed) and connection failures.
 */
#ifndef KH_CLI_H
#define KH_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "base/kh_buf.h"
#include "http/kh_json.h"
#include "keyhold/keyhold.h"

enum {
	KH_EXIT_OK = 0,
	KH_EXIT_FAILURE = 1,
	KH_EXIT_USAGE = 2,
	KH_EXIT_AUTH = 3,
	KH_EXIT_NOT_FOUND = 4,
	KH_EXIT_CLIENT = 5,
	KH_EXIT_SERVER = 6,
};

/* ---- commands ---- */

struct cli_opt {
	const char *name;     /* long name, without "--" */
	char short_name;      /* 0: none */
	const char *arg_name; /* NULL: a flag without a value */
	const char *help;
};

#define CLI_MAX_OPTS 16u /* options of one command (pki profile update has 15) */

/* One option as given on the command line (for options that may be repeated). */
struct cli_occurrence {
	unsigned opt; /* index into cmd->opts */
	const char *value;
};

struct cli_args {
	const struct cli_cmd *cmd;
	const char **pos; /* positional arguments */
	unsigned pos_count;
	const char *val[CLI_MAX_OPTS]; /* by index into cmd->opts (the last given); flags get "" */
	struct cli_occurrence *occ;    /* every option of the command given, in order */
	unsigned occ_count;
};

struct cli; /* the invocation: configuration, output mode, the client */

enum cli_cmd_flags {
	CLI_LOCAL = 1u,    /* needs no server */
	CLI_NO_TOKEN = 2u, /* sends no token (unauthenticated endpoints) */
};

struct cli_cmd {
	const char *group; /* "key", or NULL for a top-level command */
	const char *name;
	const char *synopsis; /* the arguments, as in usage lines */
	const char *summary;
	const struct cli_opt *opts; /* ends with a NULL name; NULL: none */
	unsigned min_pos, max_pos;
	int (*run)(struct cli *c, const struct cli_args *a);
	unsigned flags;
};

/* The command tables, one per group file, each ending with a NULL name. */
extern const struct cli_cmd cli_key_cmds[];
extern const struct cli_cmd cli_grant_cmds[];
extern const struct cli_cmd cli_crypto_cmds[];
extern const struct cli_cmd cli_sys_cmds[];
extern const struct cli_cmd cli_audit_cmds[];
extern const struct cli_cmd cli_envelope_cmds[];
extern const struct cli_cmd cli_local_cmds[];
extern const struct cli_cmd cli_xks_cmds[];
extern const struct cli_cmd cli_pki_cmds[];
extern const struct cli_cmd cli_kmc_cmds[];

/* Parses the arguments after the command's name into out (options of the command and the
 * global ones). Exit code; *out_done when --help was answered. */
int cli_parse(struct cli *c, const struct cli_cmd *cmd, int argc, char **argv, struct cli_args *out,
              bool *out_done);
void cli_args_free(struct cli_args *a);
/* Prints the help of one command. */
void cli_cmd_help(const struct cli_cmd *cmd, FILE *f);

/* An option's value (NULL when absent; "" for a flag that is set). */
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);
/* The i-th value (from 0, in command-line order) of an option that may be given several
 * times ("--admin A --admin B"); NULL past the last. */
const char *cli_opt_nth(const struct cli_args *a, const char *name, unsigned i);
/* Positional i, or NULL. */
const char *cli_pos(const struct cli_args *a, unsigned i);

/* ---- the invocation (main.c, config.c) ---- */

struct cli_config {
	const char *addr;
	const char *token_file;
	const char *ca_file;
	bool token_env; /* KEYHOLD_TOKEN is set */
	long timeout_ms;
};

struct cli {
	struct cli_config flags; /* from the command line: override everything */
	bool json;
	bool no_token;                 /* the command needs none (init, unseal, health) */
	struct keyhold_client *client; /* made on first use */
};

/* The effective configuration: flags, then the environment, then the config file
 * ($KEYHOLD_CONFIG, else ~/.config/keyhold/config), then defaults. Exit code. */
int cli_config_resolve(const struct cli *c, struct cli_config *out);
/* Applies one global option (--addr, --token-file, --ca-file, --timeout, --json); false when
 * name is not one. Sets *out_exit on a bad value. */
bool cli_global_opt(struct cli *c, const char *name, const char *value, int *out_exit);
/* Whether a global option takes a value (false for --json and unknown names). */
bool cli_global_has_arg(const char *name);
bool cli_global_known(const char *name);

/* Prints a usage error (printf-style) and returns KH_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "keyhold: <message>" and returns KH_EXIT_FAILURE. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The exit code of a library error. */
int cli_exit_of(enum keyhold_err err);
/* Prints the client's last error and returns its exit code. */
int cli_report(struct cli *c, enum keyhold_err err);

/* The client, connected to the configured server and holding the token. Exit code. */
int cli_client(struct cli *c, struct keyhold_client **out);

/* ---- calls ---- */

/* A JSON body being built (secure memory: it may carry plaintexts or shares). */
struct cli_body {
	struct kh_buf buf;
	struct kh_json_writer w;
};
void cli_body_init(struct cli_body *b);
void cli_body_cleanup(struct cli_body *b);

struct cli_reply {
	struct keyhold_buf raw;
	struct kh_json *doc;
};
void cli_reply_free(struct cli_reply *r);

enum cli_call_flags {
	CLI_CALL_RAW = 1u,   /* never print the answer, even with --json */
	CLI_CALL_EMPTY = 2u, /* the answer may have no body (204): r->doc stays NULL */
	CLI_CALL_BYTES = 4u, /* the answer is not JSON (a DER file): only r->raw, never printed */
};

/*
 * Calls the server; body may be NULL. On success with --json (and without CLI_CALL_RAW) the
 * answer is printed and r->doc is NULL: the command is done. Otherwise r->doc holds the parsed
 * answer for the command to show. Failures are reported; the result is the exit code.
 */
int cli_call(struct cli *c, const char *method, const char *path, struct cli_body *body,
             unsigned flags, struct cli_reply *r);
/* The usual ending: an exit code, or print the answer with show and exit 0. */
typedef void (*cli_show_fn)(const struct kh_json *doc);
int cli_call_show(struct cli *c, const char *method, const char *path, struct cli_body *body,
                  cli_show_fn show);

/* Writes "/v1/..." with segments checked: each %s argument must be 1-64 of A-Za-z0-9_.-
 * (a key tag, an id, a role). Usage error otherwise. */
int cli_path(char *out, size_t out_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define CLI_PATH_MAX 512u
/* Appends "?name=value" or "&name=value" (percent-encoded) when value is not NULL. Exit code. */
int cli_query(char *path, size_t path_len, const char *name, const char *value);
/* Appends a list's --limit (checked: 1..1000) and --next of a to path. Exit code. */
int cli_page_query(const struct cli_args *a, char *path, size_t path_len);

/* ---- input and output ---- */

/* Standard input can give one thing (a token, a plaintext, a share...): the first to claim it
 * gets it, a second is a usage error. Exit code. */
int cli_claim_stdin(const char *what);
/* Reads a whole file ("-" or NULL: standard input) into out, which bounds it. Exit code. */
int cli_read_input(const char *path, struct kh_buf *out, const char *what);
/* As cli_read_input, then strips trailing whitespace (for ciphertexts, signatures, shares). */
int cli_read_text(const char *path, struct kh_buf *out, const char *what);
/* Writes data to path (NULL or "-": standard output); secret files get mode 0600. Exit code. */
int cli_write_output(const char *path, struct kh_slice data, bool secret);
/* Writes public data (certificates, CSRs, CRLs) to path (NULL or "-": standard output)
 * atomically: a temporary file in the same directory, mode 0644, synced, then renamed over
 * path, so a reader never sees half a certificate. Exit code. */
int cli_write_public(const char *path, struct kh_slice data);
/* Prints s and a newline to path or standard output. Exit code. */
int cli_write_line(const char *path, struct kh_slice s, bool secret);
/* Parses a decimal option value in [min, max]; usage error naming the option otherwise. */
int cli_uint(const char *text, const char *name, uint64_t min, uint64_t max, uint64_t *out);
/* The "--context" (text) or "--context-file" of a, Base64-encoded into a JSON member. */
int cli_context_member(const struct cli_args *a, struct kh_json_writer *w);

/* ---- XKS (cmd_xks.c) ---- */

#define CLI_XKS_ENCRYPT 1u
#define CLI_XKS_DECRYPT 2u
/* --usage: "encrypt,decrypt" (either order), "encrypt", "decrypt" or "none" as CLI_XKS_* bits;
 * false for anything else. */
bool cli_xks_usage_parse(const char *text, unsigned *out_bits);
/* An external key id that may go into a path: 1-128 of A-Za-z0-9._- but not "." or "..". */
bool cli_xks_external_id_ok(const char *s);
/* --opt as the JSON member named member of the object being written; absent: nothing. The
 * number form refuses a value outside [min, max] as a usage error (exit 2). */
void cli_json_opt_string(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                         const char *member);
int cli_json_opt_uint(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                      const char *member, uint64_t min, uint64_t max);
/* A path segment the CLI sends as is: 1 to max of [A-Za-z0-9_.-], neither "." nor "..". */
bool cli_segment_ok(const char *s, size_t max);

/* ---- PKI (cmd_pki.c) ---- */

/* The one call a pki command makes, built from its arguments alone (no server). */
struct cli_pki_call {
	const char *method;
	char path[CLI_PATH_MAX];
	bool has_body;
	struct cli_body body; /* complete when has_body, but not yet ended (cli_call ends it) */
};
/* Builds the call of a (parsed for a cli_pki_cmds command), reading the files it names; bad
 * arguments are reported as usage errors. Always cli_pki_call_cleanup after. Exit code. */
int cli_pki_build(const struct cli_args *a, struct cli_pki_call *out);
void cli_pki_call_cleanup(struct cli_pki_call *call);
/* A certificate serial number: 1-40 hex digits, colons allowed between them ("0A:1B"),
 * upper-cased without colons into out; false (out untouched) otherwise. */
#define CLI_PKI_SERIAL_SIZE 41u
bool cli_pki_serial_parse(const char *text, char out[CLI_PKI_SERIAL_SIZE]);
/* An RFC 5280 reason "cert revoke" accepts ("keyCompromise"; not certificateHold). */
bool cli_pki_reason_ok(const char *name);

/* ---- showing answers ---- */

/* The member name of obj, or NULL. */
const struct kh_json *cli_member(const struct kh_json *obj, const char *name);
/* Any scalar as text ("-" for null or absent, arrays of strings joined by ","). Here and in
 * the two below, a name "outer.inner" is the member inner of the object member outer. */
const char *cli_text(const struct kh_json *obj, const char *name, char *buf, size_t len);
/* Prints "name: value" lines for the given members, aligned. */
void cli_show_fields(const struct kh_json *obj, const char *const *names);
/* Prints the array member name of doc as a table with the given columns. */
void cli_show_table(const struct kh_json *doc, const char *array, const char *const *columns,
                    const char *const *headers);
/* Prints a "next page: --next <cursor>" hint when the answer has one. */
void cli_show_next(const struct kh_json *doc);

#endif
