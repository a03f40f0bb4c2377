/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyholdd: configuration, start-up (production and development mode), the background
 * scheduler, signals. main.c only parses the command line and calls kh_server_run.
 */
#ifndef KH_SERVER_H
#define KH_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "base/kh_rc.h"
#include "pki/kh_pki.h"

#define KH_SERVER_PATH_MAX 512u
#define KH_SERVER_ADDR_MAX 64u
#define KH_SERVER_XKS_NAMES_MAX 8u
#define KH_SERVER_XKS_NAME_LEN 256u

struct kh_server_config {
	bool dev;
	char data_dir[KH_SERVER_PATH_MAX];
	/* HTTPS listener "127.0.0.1:8443" / "[::1]:8443" / "0.0.0.0:8443". */
	char listen[KH_SERVER_ADDR_MAX];
	/* Optional plain HTTP listener, loopback addresses only (empty: none). */
	char http_listen[KH_SERVER_ADDR_MAX];
	char tls_cert[KH_SERVER_PATH_MAX]; /* PEM chain */
	char tls_key[KH_SERVER_PATH_MAX];  /* PEM private key */
	char log_level[16];                /* debug, info, warn, error */
	unsigned network_threads;          /* 0: CPUs */
	unsigned workers;                  /* 0: 2 x CPUs */
	char node_id[64];
	/* PKCS#11 seal (module empty: shares only). */
	char pkcs11_module[KH_SERVER_PATH_MAX];
	char pkcs11_token[64];
	char pkcs11_pin_file[KH_SERVER_PATH_MAX];
	char pkcs11_key[64];
	/* Token bucket per principal: requests per second (0: no limit) and burst. */
	unsigned rate_limit_rps;
	unsigned rate_limit_burst;
	/* Webhook retries: the first comes after this many seconds, then twice as long each time
	 * up to an hour; after 24 hours the notice stays in the inbox only. */
	unsigned webhook_retry_seconds;
	/* XKS (XKS.md): the proxy answers on the HTTPS listener above, and on this listener of its
	 * own when set ("host:port"), with its own certificate (default: tls_cert and tls_key).
	 * xks_client_ca (a PEM bundle) turns on mutual TLS on that listener; xks_client_names are
	 * the client certificate names accepted (CN or a SAN dNSName; none: any the bundle
	 * verifies), such as cks.kms.us-east-1.amazonaws.com. */
	char xks_listen[KH_SERVER_ADDR_MAX];
	char xks_tls_cert[KH_SERVER_PATH_MAX];
	char xks_tls_key[KH_SERVER_PATH_MAX];
	char xks_client_ca[KH_SERVER_PATH_MAX];
	char xks_client_names[KH_SERVER_XKS_NAMES_MAX][KH_SERVER_XKS_NAME_LEN];
	unsigned xks_client_name_count;
	/* The key management centre (PKI.md "KMC"): spare encryption key pairs kept per family
	 * (SM2, P-256, RSA-2048), made at most kmc_pool_refill per second in the background; how
	 * long a pair stays archived once out of use; recovery's quorum k and how long a recovery
	 * request waits for it. */
	unsigned kmc_pool_size;
	unsigned kmc_pool_refill;
	unsigned kmc_retention_days;
	unsigned kmc_recovery_quorum;
	unsigned kmc_recovery_ttl_hours;
	/* EST (RFC 7030 3.2.2): the profile label served without a label, under
	 * /.well-known/est/<operation> ("": none, those paths are 404). */
	char est_default_label[KH_PKI_EST_LABEL_MAX + 1];
};

/* Defaults: production paths; dev mode changes data_dir to ./var. */
void kh_server_config_defaults(struct kh_server_config *c);
/* Reads a JSON configuration file over c (members as in etc/keyholdd.json). Unknown members,
 * wrong types and bad values are errors; out_error gets a message for the operator. */
KH_MUST_CHECK kh_rc kh_server_config_load(struct kh_server_config *c, const char *path,
                                          char *out_error, size_t out_error_len);
/* Splits "host:port" or "[v6]:port" into a numeric address and a port (0..65535; 0 picks a
 * free port, which the server logs and development mode prints). */
KH_MUST_CHECK kh_rc kh_server_addr_parse(const char *text, char *out_host, size_t out_host_len,
                                         uint16_t *out_port);

/* Runs until SIGINT or SIGTERM; SIGHUP reloads the TLS certificate. Returns the exit code. */
int kh_server_run(const struct kh_server_config *c);

/* `keyholdd restore`: decrypts the backup at from into c's data directory with the unseal
 * shares read from standard input (development mode: its dev-unseal file when present).
 * Refuses an existing database unless force (which keeps it as keyhold.db.before-restore).
 * Prints progress and a one-line result to stderr; returns the exit code (0, or 1 with nothing
 * written). */
int kh_server_restore(const struct kh_server_config *c, const char *from, bool force);

#endif
