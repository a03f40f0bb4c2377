/* SPDX-License-Identifier: Apache-2.0 */
/* Inside server/: the running node and the pieces server.c, dev.c and sched.c share. */
#ifndef KH_SERVER_INT_H
#define KH_SERVER_INT_H

#include <pthread.h>

#include "api/kh_api.h"
#include "server/kh_server.h"

struct kh_node {
	const struct kh_server_config *cfg;
	struct kh_store *store;
	struct kh_barrier *barrier;
	struct kh_audit *audit;
	struct kh_keys *keys;
	struct kh_authz *authz;
	struct kh_api *api;
	struct kh_pkcs11_config pkcs11;
	struct kh_buf pkcs11_pin; /* secure */
	struct kh_http_server *https;
	struct kh_http_server *http;
	struct kh_buf tls_cert; /* PEM */
	struct kh_buf tls_key;  /* PEM, secure */
	/* scheduler */
	pthread_t sched;
	bool sched_started;
	pthread_mutex_t sched_mu;
	pthread_cond_t sched_cv;
	bool stopping;
};

/* dev.c: creates ./var on first start (TLS, init 1-of-1, key store, accounts, tokens), unseals
 * on every start, and prints how to use it. */
KH_MUST_CHECK kh_rc kh_dev_prepare_tls(struct kh_node *n);
KH_MUST_CHECK kh_rc kh_dev_bootstrap(struct kh_node *n);
void kh_dev_banner(struct kh_node *n);

/* sched.c: the background thread (rotations, deletions, purges, rewrap). */
KH_MUST_CHECK kh_rc kh_sched_start(struct kh_node *n);
void kh_sched_stop(struct kh_node *n);

/* server.c: reads a whole file into out (bounded by out's maximum). */
KH_MUST_CHECK kh_rc kh_file_read(const char *path, struct kh_buf *out);
/* Writes a file with mode 0600, replacing it atomically (temp file, fsync, rename). */
KH_MUST_CHECK kh_rc kh_file_write_private(const char *path, struct kh_slice data);

#endif
