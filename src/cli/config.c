// SPDX-License-Identifier: Apache-2.0
/*
 * Where the CLI finds its server and token: the global flags, then the environment
 * (KEYHOLD_ADDR, KEYHOLD_TOKEN_FILE, KEYHOLD_TOKEN, KEYHOLD_CA_FILE), then the configuration
 * file ($KEYHOLD_CONFIG, else $XDG_CONFIG_HOME/keyhold/config, else ~/.config/keyhold/config:
 * "key = value" lines, '#' comments, keys addr, token_file, ca_file, timeout), then the
 * defaults. The token itself is never a flag nor a config value: only a file names it (or,
 * less safely, KEYHOLD_TOKEN). The client object is made here on first use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_int.h"
#include "cli/kh_cli.h"

#define DEFAULT_ADDR "https://127.0.0.1:8443"
#define CONFIG_LINE_MAX 4096
#define VALUE_MAX 4096

/* ---- global options ---- */

static const struct {
	const char *name;
	bool has_arg;
} globals[] = {
    {"addr", true}, {"token-file", true}, {"ca-file", true}, {"timeout", true}, {"json", false},
};

bool cli_global_known(const char *name)
{
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++) {
		if (strcmp(globals[i].name, name) == 0)
			return true;
	}
	return false;
}

bool cli_global_has_arg(const char *name)
{
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++) {
		if (strcmp(globals[i].name, name) == 0)
			return globals[i].has_arg;
	}
	return false;
}

static int timeout_parse(const char *text, const char *where, long *out)
{
	uint64_t s = 0;
	if (kh_parse_u64(kh_slice_from_cstr(text), 1, 3600, &s) != KH_OK)
		return cli_usage_error("%s: the timeout is 1..3600 seconds", where);
	*out = (long)s * 1000L;
	return KH_EXIT_OK;
}

bool cli_global_opt(struct cli *c, const char *name, const char *value, int *out_exit)
{
	*out_exit = KH_EXIT_OK;
	if (strcmp(name, "json") == 0)
		c->json = true;
	else if (strcmp(name, "addr") == 0)
		c->flags.addr = value;
	else if (strcmp(name, "token-file") == 0)
		c->flags.token_file = value;
	else if (strcmp(name, "ca-file") == 0)
		c->flags.ca_file = value;
	else if (strcmp(name, "timeout") == 0)
		*out_exit = timeout_parse(value, "--timeout", &c->flags.timeout_ms);
	else
		return false;
	return true;
}

/* ---- the configuration file ---- */

static char file_addr[VALUE_MAX], file_token_file[VALUE_MAX], file_ca_file[VALUE_MAX];

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* A value with a leading "~/" taken from $HOME. */
static bool expand(const char *value, char *out)
{
	const char *home = getenv("HOME");
	int n = strncmp(value, "~/", 2) == 0 && home != NULL
	            ? snprintf(out, VALUE_MAX, "%s/%s", home, value + 2)
	            : snprintf(out, VALUE_MAX, "%s", value);
	return n > 0 && n < VALUE_MAX;
}

static int config_line(char *line, const char *path, unsigned lineno, struct cli_config *cfg)
{
	char *eq = strchr(line, '=');
	if (eq == NULL)
		return cli_usage_error("%s:%u: expected key = value", path, lineno);
	*eq = '\0';
	const char *key = trim(line), *value = trim(eq + 1);
	char *dest = NULL;
	if (strcmp(key, "addr") == 0)
		dest = file_addr;
	else if (strcmp(key, "token_file") == 0)
		dest = file_token_file;
	else if (strcmp(key, "ca_file") == 0)
		dest = file_ca_file;
	else if (strcmp(key, "timeout") == 0)
		return timeout_parse(value, path, &cfg->timeout_ms);
	else if (strcmp(key, "token") == 0)
		return cli_usage_error(
		    "%s:%u: tokens do not go in the configuration; put the token "
		    "in a file (mode 0600) and name it with token_file",
		    path, lineno);
	else
		return cli_usage_error("%s:%u: unknown key '%s'", path, lineno, key);
	if (value[0] == '\0' || !expand(value, dest))
		return cli_usage_error("%s:%u: bad value for %s", path, lineno, key);
	if (dest == file_addr)
		cfg->addr = dest;
	else if (dest == file_token_file)
		cfg->token_file = dest;
	else
		cfg->ca_file = dest;
	return KH_EXIT_OK;
}

static int config_path(char *out, size_t len, bool *out_explicit)
{
	const char *p = getenv("KEYHOLD_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n = 0;
	*out_explicit = p != NULL && p[0] != '\0';
	if (*out_explicit)
		n = snprintf(out, len, "%s", p);
	else if (xdg != NULL && xdg[0] != '\0')
		n = snprintf(out, len, "%s/keyhold/config", xdg);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(out, len, "%s/.config/keyhold/config", home);
	else
		out[0] = '\0';
	return n >= 0 && (size_t)n < len ? KH_EXIT_OK : cli_usage_error("config path too long");
}

static int config_file(struct cli_config *cfg)
{
	char path[VALUE_MAX], line[CONFIG_LINE_MAX];
	bool explicit_path = false;
	unsigned lineno = 0;
	int ex = config_path(path, sizeof(path), &explicit_path);
	if (ex != KH_EXIT_OK || path[0] == '\0')
		return ex;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return explicit_path || errno != ENOENT
		           ? cli_usage_error("cannot read the configuration file %s", path)
		           : KH_EXIT_OK;
	while (ex == KH_EXIT_OK && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *s = trim(line);
		if (s[0] != '\0' && s[0] != '#')
			ex = config_line(s, path, lineno, cfg);
	}
	fclose(f);
	return ex;
}

/* ---- resolution ---- */

static const char *first(const char *a, const char *b, const char *c)
{
	if (a != NULL && a[0] != '\0')
		return a;
	if (b != NULL && b[0] != '\0')
		return b;
	return c != NULL && c[0] != '\0' ? c : NULL;
}

int cli_config_resolve(const struct cli *c, struct cli_config *out)
{
	struct cli_config file = {NULL, NULL, NULL, false, 0};
	int ex = config_file(&file);
	if (ex != KH_EXIT_OK)
		return ex;
	const char *env_token = getenv("KEYHOLD_TOKEN");
	out->addr = first(c->flags.addr, getenv("KEYHOLD_ADDR"), file.addr);
	if (out->addr == NULL)
		out->addr = DEFAULT_ADDR;
	out->ca_file = first(c->flags.ca_file, getenv("KEYHOLD_CA_FILE"), file.ca_file);
	/* A token file named on the command line or in KEYHOLD_TOKEN_FILE beats KEYHOLD_TOKEN,
	 * which beats the file named in the configuration. */
	out->token_file = first(c->flags.token_file, getenv("KEYHOLD_TOKEN_FILE"), NULL);
	out->token_env = out->token_file == NULL && env_token != NULL && env_token[0] != '\0';
	if (out->token_file == NULL && !out->token_env)
		out->token_file = file.token_file;
	out->timeout_ms = c->flags.timeout_ms != 0 ? c->flags.timeout_ms : file.timeout_ms;
	return KH_EXIT_OK;
}

/* ---- the client ---- */

static int client_token(struct cli *c, const struct cli_config *cfg)
{
	enum keyhold_err err = KEYHOLD_OK;
	if (c->no_token)
		return KH_EXIT_OK;
	if (cfg->token_file != NULL) {
		if (strcmp(cfg->token_file, "-") == 0 && cli_claim_stdin("token") != KH_EXIT_OK)
			return KH_EXIT_USAGE;
		err = keyhold_client_set_token_file(c->client, cfg->token_file);
		if (err != KEYHOLD_OK)
			return cli_usage_error("token file %s: %s", cfg->token_file,
			                       keyhold_client_error(c->client));
	} else if (cfg->token_env) {
		const char *t = getenv("KEYHOLD_TOKEN");
		err = keyhold_client_set_token(c->client, t, strlen(t));
		if (err != KEYHOLD_OK)
			return cli_usage_error("KEYHOLD_TOKEN does not hold a token");
	}
	return KH_EXIT_OK;
}

int cli_client(struct cli *c, struct keyhold_client **out)
{
	struct cli_config cfg;
	if (c->client != NULL) {
		*out = c->client;
		return KH_EXIT_OK;
	}
	int ex = cli_config_resolve(c, &cfg);
	if (ex != KH_EXIT_OK)
		return ex;
	enum keyhold_err err = keyhold_client_new(cfg.addr, &c->client);
	if (err == KEYHOLD_ERR_CONFIG)
		return cli_usage_error("the address '%s' is not usable: https://host[:port], or "
		                       "http:// to a loopback address only",
		                       cfg.addr);
	if (err != KEYHOLD_OK)
		return cli_fail("%s", keyhold_strerror(err));
	if (cfg.ca_file != NULL && keyhold_client_set_ca_file(c->client, cfg.ca_file) != KEYHOLD_OK)
		return cli_usage_error("cannot read the CA file %s", cfg.ca_file);
	keyhold_client_set_timeouts(c->client, 0, cfg.timeout_ms);
	ex = client_token(c, &cfg);
	if (ex != KH_EXIT_OK)
		return ex;
	*out = c->client;
	return KH_EXIT_OK;
}
