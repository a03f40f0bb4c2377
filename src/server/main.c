// SPDX-License-Identifier: Apache-2.0
/*
 * keyholdd's command line: the configuration file and the options that override it, and the
 * offline `keyholdd restore`. Exit codes: 0 after a clean stop (or restore), 1 when the service
 * could not start (or the restore failed), 2 for a usage error.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "api/kh_api.h"
#include "kh_version.h"
#include "server/kh_server.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: keyholdd [options]\n"
	    "  --config FILE        JSON configuration (see etc/keyholdd.json)\n"
	    "  --dev                development mode: ./var, self-initialised and unsealed\n"
	    "  --listen ADDR:PORT   HTTPS listener (default 127.0.0.1:8443)\n"
	    "  --http-listen ADDR:PORT  plain HTTP listener, loopback only\n"
	    "  --data-dir DIR       where the database lives\n"
	    "  --tls-cert FILE      PEM certificate chain\n"
	    "  --tls-key FILE       PEM private key\n"
	    "  --log-level LEVEL    debug, info, warn or error\n"
	    "  --xks-listen ADDR:PORT  an HTTPS listener for the XKS proxy alone\n"
	    "  --version, --help\n"
	    "\n"
	    "usage: keyholdd restore --from FILE [--config FILE | --dev] [--data-dir DIR] "
	    "[--force]\n"
	    "  restores an encrypted backup (POST /v1/sys/backup) as the database of the data\n"
	    "  directory, with the unseal shares read from standard input, one per line\n"
	    "  (--dev: from the data directory's dev-unseal when there). With keyholdd stopped.\n"
	    "  --force              replace an existing database (kept as "
	    "keyhold.db.before-restore)\n");
}

/* Copies an option's value; false (usage error) when missing or too long. */
static bool take(int argc, char **argv, int *i, char *out, size_t out_len)
{
	if (*i + 1 >= argc || strlen(argv[*i + 1]) >= out_len)
		return false;
	(*i)++;
	snprintf(out, out_len, "%s", argv[*i]);
	return true;
}

struct option {
	const char *name;
	size_t offset;
	size_t size;
};

#define OPT(flag, field)                                                                           \
	{                                                                                          \
		flag, offsetof(struct kh_server_config, field),                                    \
		    sizeof(((struct kh_server_config *)0)->field)                                  \
	}

static const struct option options[] = {
    OPT("--listen", listen),         OPT("--http-listen", http_listen),
    OPT("--data-dir", data_dir),     OPT("--tls-cert", tls_cert),
    OPT("--tls-key", tls_key),       OPT("--log-level", log_level),
    OPT("--xks-listen", xks_listen),
};

/* Applies the command line over c (the config file was read first). */
static int parse(int argc, char **argv, struct kh_server_config *c)
{
	for (int i = 1; i < argc; i++) {
		bool known = false;
		for (size_t o = 0; o < sizeof(options) / sizeof(options[0]); o++) {
			if (strcmp(argv[i], options[o].name) != 0)
				continue;
			if (!take(argc, argv, &i, (char *)c + options[o].offset, options[o].size))
				return 2;
			known = true;
		}
		if (known || strcmp(argv[i], "--dev") == 0)
			continue;
		if (strcmp(argv[i], "--config") == 0) {
			i++; /* read before */
			continue;
		}
		fprintf(stderr, "keyholdd: unknown option %s\n", argv[i]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* --dev puts everything under ./var unless told otherwise. */
static void dev_defaults(struct kh_server_config *c)
{
	c->dev = true;
	snprintf(c->data_dir, sizeof(c->data_dir), "./var");
	snprintf(c->tls_cert, sizeof(c->tls_cert), "./var/tls/server.pem");
	snprintf(c->tls_key, sizeof(c->tls_key), "./var/tls/server.key");
}

static int load_config(int argc, char **argv, struct kh_server_config *c)
{
	char err[160] = "";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dev") == 0)
			dev_defaults(c);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") != 0)
			continue;
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (kh_server_config_load(c, argv[i + 1], err, sizeof(err)) != KH_OK) {
			fprintf(stderr, "keyholdd: %s: %s\n", argv[i + 1], err);
			return 2;
		}
	}
	return 0;
}

/* keyholdd restore ...: argv[0] is "restore". */
static int restore_main(int argc, char **argv)
{
	struct kh_server_config c;
	char from[KH_SERVER_PATH_MAX] = "";
	bool force = false;
	kh_server_config_defaults(&c);
	int rc = load_config(argc, argv, &c);
	if (rc != 0)
		return rc;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0) {
			if (!take(argc, argv, &i, from, sizeof(from)))
				return 2;
		} else if (strcmp(argv[i], "--data-dir") == 0) {
			if (!take(argc, argv, &i, c.data_dir, sizeof(c.data_dir)))
				return 2;
		} else if (strcmp(argv[i], "--config") == 0) {
			i++; /* read before */
		} else if (strcmp(argv[i], "--force") == 0) {
			force = true;
		} else if (strcmp(argv[i], "--dev") != 0) {
			fprintf(stderr, "keyholdd: restore: unknown option %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (from[0] == '\0') {
		fputs("keyholdd: restore: --from FILE is required\n", stderr);
		return 2;
	}
	return kh_server_restore(&c, from, force);
}

int main(int argc, char **argv)
{
	struct kh_server_config c;
	if (argc > 1 && strcmp(argv[1], "restore") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				usage(stdout);
				return 0;
			}
		}
		return restore_main(argc - 1, argv + 1);
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--version") == 0) {
			printf("keyholdd %s\n", KH_VERSION_STRING);
			return 0;
		}
		/* Hidden: the route table, for tests/integration/openapi.sh. */
		if (strcmp(argv[i], "--routes") == 0) {
			kh_api_routes_print(stdout);
			return 0;
		}
	}
	kh_server_config_defaults(&c);
	int rc = load_config(argc, argv, &c);
	if (rc == 0)
		rc = parse(argc, argv, &c);
	if (rc != 0)
		return rc;
	return kh_server_run(&c);
}
