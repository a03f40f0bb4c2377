// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold envelope encrypt|decrypt: whole files of any size under a fresh data key, streamed
 * in constant memory in the KHE1 format (docs/cli.md "Envelope file format"), with a progress
 * bar on standard error for files over a few megabytes when it is a terminal. With -o the
 * output appears only when complete (a temporary file is renamed); to standard output, a
 * failure leaves what was written so far, and the exit code says to discard it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/kh_cli.h"

#define PROGRESS_MIN_BYTES (4u * 1024u * 1024u)
#define BAR_WIDTH 30

struct progress {
	const char *verb;
	bool shown;
	int last_permille;
};

static void progress_draw(uint64_t done, uint64_t total, void *arg)
{
	struct progress *p = arg;
	double mib = 1024.0 * 1024.0;
	if (total < PROGRESS_MIN_BYTES && done < PROGRESS_MIN_BYTES)
		return;
	if (total == 0 || done > total) {
		fprintf(stderr, "\r%s %.1f MiB", p->verb, (double)done / mib);
		p->shown = true;
		return;
	}
	int permille = (int)(done * 1000u / total);
	/* A redraw per whole percent is plenty. */
	if (p->shown && permille / 10 == p->last_permille / 10)
		return;
	char bar[BAR_WIDTH + 1];
	int fill = permille * BAR_WIDTH / 1000;
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r%s [%s] %3d%% %.1f/%.1f MiB", p->verb, bar, permille / 10,
	        (double)done / mib, (double)total / mib);
	p->shown = true;
	p->last_permille = permille;
}

static void progress_end(struct progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
}

static int options_of(const struct cli_args *a, struct progress *p,
                      struct keyhold_envelope_options *o)
{
	uint64_t chunk = 0;
	const char *size = cli_opt(a, "chunk-size");
	memset(o, 0, sizeof(*o));
	if (size != NULL) {
		int ex = cli_uint(size, "--chunk-size", 1024, 1024u * 1024u, &chunk);
		if (ex != KH_EXIT_OK)
			return ex;
		o->chunk_size = (uint32_t)chunk;
	}
	if (!cli_flag(a, "quiet") && isatty(STDERR_FILENO)) {
		o->progress = progress_draw;
		o->progress_arg = p;
	}
	return KH_EXIT_OK;
}

static bool is_std(const char *path)
{
	return path == NULL || strcmp(path, "-") == 0;
}

/* Runs the file or stream form of an envelope operation (tag NULL: decrypt). */
static int run(struct cli *c, const char *tag, const char *in_path, const char *out_path,
               struct progress *p, const struct keyhold_envelope_options *o)
{
	struct keyhold_client *client = NULL;
	enum keyhold_err err;
	int ex = is_std(in_path) ? cli_claim_stdin("input") : KH_EXIT_OK;
	if (ex == KH_EXIT_OK)
		ex = cli_client(c, &client);
	if (ex != KH_EXIT_OK)
		return ex;
	if (!is_std(out_path)) {
		/* /dev/stdin keeps the rename-on-success of the file form for piped input. */
		const char *in = is_std(in_path) ? "/dev/stdin" : in_path;
		err = tag != NULL ? keyhold_envelope_encrypt_file(client, tag, in, out_path, o)
		                  : keyhold_envelope_decrypt_file(client, in, out_path, o);
	} else {
		FILE *in = is_std(in_path) ? stdin : fopen(in_path, "rb");
		if (in == NULL)
			return cli_fail("cannot open %s", in_path);
		err = tag != NULL ? keyhold_envelope_encrypt_stream(client, tag, in, stdout, o)
		                  : keyhold_envelope_decrypt_stream(client, in, stdout, o);
		if (in != stdin)
			fclose(in);
	}
	progress_end(p);
	return err == KEYHOLD_OK ? KH_EXIT_OK : cli_report(c, err);
}

static int envelope_encrypt(struct cli *c, const struct cli_args *a)
{
	struct progress p = {"encrypting", false, -1};
	struct keyhold_envelope_options o;
	const char *out = cli_opt(a, "output");
	int ex = options_of(a, &p, &o);
	if (ex != KH_EXIT_OK)
		return ex;
	if (is_std(out) && isatty(STDOUT_FILENO))
		return cli_usage_error(
		    "the envelope is binary: use -o FILE or redirect the output");
	return run(c, cli_pos(a, 0), cli_pos(a, 1), out, &p, &o);
}

static int envelope_decrypt(struct cli *c, const struct cli_args *a)
{
	struct progress p = {"decrypting", false, -1};
	struct keyhold_envelope_options o;
	int ex = options_of(a, &p, &o);
	if (ex != KH_EXIT_OK)
		return ex;
	return run(c, NULL, cli_pos(a, 0), cli_opt(a, "output"), &p, &o);
}

static const struct cli_opt encrypt_opts[] = {
    {"output", 'o', "FILE", "write the envelope to FILE (mode 0600; only when complete)"},
    {"chunk-size", 0, "BYTES", "plaintext bytes per chunk, 1024..1048576 (default 65536)"},
    {"quiet", 'q', NULL, "no progress bar"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt decrypt_opts[] = {
    {"output", 'o', "FILE", "write the plaintext to FILE (mode 0600; only when complete)"},
    {"quiet", 'q', NULL, "no progress bar"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_envelope_cmds[] = {
    {"envelope", "encrypt", "TAG [FILE|-]",
     "encrypt a file of any size under a fresh data key of the key TAG", encrypt_opts, 1, 2,
     envelope_encrypt, 0},
    {"envelope", "decrypt", "[FILE|-]", "decrypt an envelope file (the key is named in its header)",
     decrypt_opts, 0, 1, envelope_decrypt, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
