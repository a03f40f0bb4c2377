/* SPDX-License-Identifier: Apache-2.0 */
/* Inside server/: the running node and the pieces server.c, dev.c and sched.c share. */
#ifndef KH_SERVER_INT_H
#define KH_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "api/kh_api.h"
#include "pki/kh_pki.h"
#include "server/kh_server.h"
#include "xks/kh_xks_proxy.h"

struct kh_node {
	const struct kh_server_config *cfg;
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	struct kh_pki *pki;
	struct kh_api *api;
	struct kh_xks_proxy *xks;
	struct kh_pkcs11_config pkcs11;
	struct kh_buf pkcs11_pin; /* secure */
	/* Set and cleared under listen_mu, which /metrics also takes to read their counters. */
	pthread_mutex_t listen_mu;
	struct kh_http_server *https;
	struct kh_http_server *http;
	struct kh_http_server *xks_https; /* the XKS listener of its own, when configured */
	struct kh_buf tls_cert;           /* PEM */
	struct kh_buf tls_key;            /* PEM, secure */
	struct kh_buf xks_cert;           /* PEM, when the XKS listener has its own */
	struct kh_buf xks_key;            /* PEM, secure */
	struct kh_buf xks_ca;             /* PEM bundle for mutual TLS */
	/* scheduler */
	pthread_t sched;
	bool sched_started;
	pthread_mutex_t sched_mu;
	pthread_cond_t sched_cv;
	bool stopping;
	int64_t beat_at; /* monotonic time of the last XKS node beat */
	int64_t crl_at;  /* monotonic time of the last CRL refresh pass */
	int64_t kmc_at;  /* monotonic time of the last key management centre pass */
	bool kmc_busy;   /* its pools still want pairs */
	/* webhook deliverer */
	pthread_t hooks;
	bool hooks_started;
	pthread_mutex_t hooks_mu;
	pthread_cond_t hooks_cv;
	atomic_bool hooks_stopping;
};

/* dev.c: creates ./var on first start (TLS, init 1-of-1, key store, accounts, tokens), unseals
 * on every start, and prints how to use it. */
KH_MUST_CHECK kh_rc kh_dev_prepare_tls(struct kh_node *n);
KH_MUST_CHECK kh_rc kh_dev_bootstrap(struct kh_node *n);
void kh_dev_banner(struct kh_node *n);

/* sched.c: the background thread (rotations, deletions, purges, rewrap, CRL refresh). */
KH_MUST_CHECK kh_rc kh_sched_start(struct kh_node *n);
void kh_sched_stop(struct kh_node *n);

/* webhook.c: the webhook deliverer thread (notifications POSTed to accounts' webhooks). */
KH_MUST_CHECK kh_rc kh_webhook_start(struct kh_node *n);
void kh_webhook_stop(struct kh_node *n);
/* X-Keyhold-Signature: "sha256=" and the hex HMAC-SHA-256 under secret of timestamp "." body
 * (out_len >= 72). */
KH_MUST_CHECK kh_rc kh_webhook_signature(struct kh_slice secret, const char *timestamp,
                                         struct kh_slice body, char *out, size_t out_len);
/* When to try again after the attempts-th failed attempt (>= 1) of a notice made at made_at:
 * base_ns, doubling with each attempt up to an hour; 0 when that would be more than 24 hours
 * after made_at (the notice is given up). */
int64_t kh_webhook_next_attempt(int64_t base_ns, unsigned attempts, int64_t made_at, int64_t now);

/* server.c: reads a whole file into out (bounded by out's maximum). */
KH_MUST_CHECK kh_rc kh_file_read(const char *path, struct kh_buf *out);
/* Writes a file with mode 0600, replacing it atomically (temp file, fsync, rename). */
KH_MUST_CHECK kh_rc kh_file_write_private(const char *path, struct kh_slice data);

#endif
