// SPDX-License-Identifier: Apache-2.0
/*
 * keyholdd's configuration: defaults, the JSON file (etc/keyholdd.json documents every member)
 * and listen addresses. The file is parsed with the same strict reader as API bodies: unknown
 * members, duplicates and wrong types are refused with a message, never guessed at.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_int.h"
#include "base/kh_mem.h"
#include "http/kh_json.h"
#include "pki/kh_pki.h"
#include "server/kh_server.h"

#define CONFIG_FILE_MAX (64u * 1024u)

void kh_server_config_defaults(struct kh_server_config *c)
{
	*c = (struct kh_server_config){0};
	snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/keyhold");
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8443");
	snprintf(c->tls_cert, sizeof(c->tls_cert), "/etc/keyhold/tls/server.pem");
	snprintf(c->tls_key, sizeof(c->tls_key), "/etc/keyhold/tls/server.key");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->node_id, sizeof(c->node_id), "node-1");
	c->rate_limit_rps = 200;
	c->rate_limit_burst = 400;
	c->webhook_retry_seconds = 30;
	c->kmc_pool_size = KH_PKI_KMC_POOL_DEFAULT;
	c->kmc_pool_refill = 200;
	c->kmc_retention_days = KH_PKI_KMC_RETENTION_DAYS_DEFAULT;
	c->kmc_recovery_quorum = KH_PKI_KMC_QUORUM_DEFAULT;
	c->kmc_recovery_ttl_hours = KH_PKI_KMC_RECOVERY_TTL_HOURS_DEFAULT;
}

kh_rc kh_server_addr_parse(const char *text, char *out_host, size_t out_host_len,
                           uint16_t *out_port)
{
	uint64_t port = 0;
	const char *colon = strrchr(text, ':');
	KH_ENSURE(colon != NULL && colon != text, KH_ERR_BAD_INPUT);
	const char *host = text;
	size_t host_len = (size_t)(colon - text);
	if (text[0] == '[') {
		KH_ENSURE(host_len >= 3 && text[host_len - 1] == ']', KH_ERR_BAD_INPUT);
		host = text + 1;
		host_len -= 2;
	}
	KH_ENSURE(host_len > 0 && host_len < out_host_len, KH_ERR_BAD_INPUT);
	KH_GUARD(kh_parse_u64(kh_slice_from_cstr(colon + 1), 0, 65535, &port));
	memcpy(out_host, host, host_len);
	out_host[host_len] = '\0';
	*out_port = (uint16_t)port;
	return KH_OK;
}

static kh_rc read_file(const char *path, struct kh_buf *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t chunk[4096];
	size_t n;
	KH_ENSURE(f != NULL, KH_ERR_NOT_FOUND);
	kh_rc rc = KH_OK;
	while (rc == KH_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = kh_buf_append(out, KH_SLICE(chunk, n));
	fclose(f);
	return rc;
}

struct string_member {
	const char *name;
	size_t offset;
	size_t size;
};

#define MEMBER(field)                                                                              \
	{                                                                                          \
#field, offsetof(struct kh_server_config, field),                                  \
		    sizeof(((struct kh_server_config *)0)->field)                                  \
	}

static const struct string_member strings[] = {
    MEMBER(data_dir),     MEMBER(listen),          MEMBER(http_listen),   MEMBER(tls_cert),
    MEMBER(tls_key),      MEMBER(log_level),       MEMBER(node_id),       MEMBER(pkcs11_module),
    MEMBER(pkcs11_token), MEMBER(pkcs11_pin_file), MEMBER(pkcs11_key),    MEMBER(xks_listen),
    MEMBER(xks_tls_cert), MEMBER(xks_tls_key),     MEMBER(xks_client_ca), MEMBER(est_default_label),
};

static const char *const allowed[] = {
    "data_dir",
    "listen",
    "http_listen",
    "tls_cert",
    "tls_key",
    "log_level",
    "node_id",
    "pkcs11_module",
    "pkcs11_token",
    "pkcs11_pin_file",
    "pkcs11_key",
    "network_threads",
    "workers",
    "rate_limit_rps",
    "rate_limit_burst",
    "webhook_retry_seconds",
    "xks_listen",
    "xks_tls_cert",
    "xks_tls_key",
    "xks_client_ca",
    "xks_client_names",
    "kmc_pool_size",
    "kmc_pool_refill",
    "kmc_retention_days",
    "kmc_recovery_quorum",
    "kmc_recovery_ttl_hours",
    "est_default_label",
    NULL,
};

static kh_rc load_strings(struct kh_server_config *c, const struct kh_json *doc, char *err,
                          size_t err_len)
{
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		struct kh_slice s;
		kh_rc rc = kh_json_get_string(doc, strings[i].name, &s);
		if (rc == KH_ERR_NOT_FOUND)
			continue;
		if (rc != KH_OK || s.len >= strings[i].size) {
			snprintf(err, err_len, "\"%s\" must be a string of at most %zu bytes",
			         strings[i].name, strings[i].size - 1);
			return KH_ERR_BAD_INPUT;
		}
		char *dst = (char *)c + strings[i].offset;
		memcpy(dst, s.ptr, s.len);
		dst[s.len] = '\0';
	}
	return KH_OK;
}

static kh_rc load_uint(const struct kh_json *doc, const char *name, unsigned min, unsigned max,
                       unsigned *out, char *err, size_t err_len)
{
	int64_t v = 0;
	kh_rc rc = kh_json_get_int(doc, name, min, max, &v);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK) {
		snprintf(err, err_len, "\"%s\" must be an integer %u..%u", name, min, max);
		return KH_ERR_BAD_INPUT;
	}
	*out = (unsigned)v;
	return KH_OK;
}

/* The numeric members and their ranges. */
static const struct {
	const char *name;
	size_t offset;
	unsigned min, max;
} numbers[] = {
    {"network_threads", offsetof(struct kh_server_config, network_threads), 0, 1024},
    {"workers", offsetof(struct kh_server_config, workers), 0, 1024},
    {"rate_limit_rps", offsetof(struct kh_server_config, rate_limit_rps), 0, 1000000},
    {"rate_limit_burst", offsetof(struct kh_server_config, rate_limit_burst), 0, 1000000},
    {"webhook_retry_seconds", offsetof(struct kh_server_config, webhook_retry_seconds), 1, 3600},
    {"kmc_pool_size", offsetof(struct kh_server_config, kmc_pool_size), 1, KH_PKI_KMC_POOL_MAX},
    {"kmc_pool_refill", offsetof(struct kh_server_config, kmc_pool_refill), 1, 100000},
    /* The default is LD/T 02.1's ten years; an operator may choose less, never under a year. */
    {"kmc_retention_days", offsetof(struct kh_server_config, kmc_retention_days), 365, 36500},
    {"kmc_recovery_quorum", offsetof(struct kh_server_config, kmc_recovery_quorum), 1, 16},
    {"kmc_recovery_ttl_hours", offsetof(struct kh_server_config, kmc_recovery_ttl_hours), 1, 720},
};

/* xks_client_names: an array of up to KH_SERVER_XKS_NAMES_MAX non-empty names. */
static kh_rc load_xks_names(struct kh_server_config *c, const struct kh_json *doc, char *err,
                            size_t err_len)
{
	const struct kh_json *arr = NULL;
	size_t count = 0;
	kh_rc rc = kh_json_get_array(doc, "xks_client_names", &arr, &count);
	if (rc == KH_ERR_NOT_FOUND)
		return KH_OK;
	if (rc != KH_OK || count > KH_SERVER_XKS_NAMES_MAX)
		goto bad;
	for (size_t i = 0; i < count; i++) {
		struct kh_slice s;
		if (kh_json_as_string(kh_json_array_at(arr, i), &s) != KH_OK || s.len == 0 ||
		    s.len >= KH_SERVER_XKS_NAME_LEN)
			goto bad;
		memcpy(c->xks_client_names[i], s.ptr, s.len);
		c->xks_client_names[i][s.len] = '\0';
	}
	c->xks_client_name_count = (unsigned)count;
	return KH_OK;
bad:
	snprintf(err, err_len,
	         "\"xks_client_names\" must be an array of at most %u names of 1 to %u bytes",
	         KH_SERVER_XKS_NAMES_MAX, KH_SERVER_XKS_NAME_LEN - 1);
	return KH_ERR_BAD_INPUT;
}

static kh_rc load_numbers(struct kh_server_config *c, const struct kh_json *doc, char *err,
                          size_t err_len)
{
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		unsigned *dst = (unsigned *)(void *)((char *)c + numbers[i].offset);
		KH_GUARD(load_uint(doc, numbers[i].name, numbers[i].min, numbers[i].max, dst, err,
		                   err_len));
	}
	return KH_OK;
}

kh_rc kh_server_config_load(struct kh_server_config *c, const char *path, char *err, size_t err_len)
{
	kh_rc rc = KH_OK;
	struct kh_json *doc = NULL;
	struct kh_buf text;
	kh_buf_init(&text, CONFIG_FILE_MAX, KH_BUF_PLAIN);
	rc = read_file(path, &text);
	if (rc != KH_OK) {
		snprintf(err, err_len, "cannot read %s", path);
		goto out;
	}
	KH_GUARD_OUT(kh_json_parse_object(kh_buf_slice(&text), &doc, err, err_len));
	KH_GUARD_OUT(kh_json_only(doc, allowed, err, err_len));
	KH_GUARD_OUT(load_strings(c, doc, err, err_len));
	KH_GUARD_OUT(load_numbers(c, doc, err, err_len));
	KH_GUARD_OUT(load_xks_names(c, doc, err, err_len));
	if (c->xks_client_name_count > 0 && c->xks_client_ca[0] == '\0') {
		snprintf(err, err_len, "\"xks_client_names\" needs \"xks_client_ca\"");
		rc = KH_ERR_BAD_INPUT;
	}
	if (rc == KH_OK && c->est_default_label[0] != '\0' &&
	    !kh_name_valid(c->est_default_label, KH_PKI_EST_LABEL_MAX)) {
		snprintf(err, err_len, "\"est_default_label\" must be 1 to %u of [A-Za-z0-9_.-]",
		         KH_PKI_EST_LABEL_MAX);
		rc = KH_ERR_BAD_INPUT;
	}
out:
	kh_json_free(&doc);
	kh_buf_cleanup(&text);
	return rc;
}
