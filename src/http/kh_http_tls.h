/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside src/http/ only: the server certificate for libmicrohttpd's GnuTLS sessions, replaceable
 * while the server runs (tls.c). libmicrohttpd 0.9.75 fixes its certificate at daemon start,
 * so the daemon is started with MHD_OPTION_HTTPS_CERT_CALLBACK instead and every handshake asks
 * kh_http_tls_retrieve for the current certificate "generation". A connection holds a
 * reference to the generation it was given until it closes, so a reload never frees a key a
 * live session still uses.
 */
#ifndef KH_HTTP_TLS_H
#define KH_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"

/* Certificates in one chain we accept (leaf plus intermediates). */
#define KH_HTTP_TLS_CHAIN_MAX 8u

struct kh_http_tls;

/* KH_ERR_BAD_KEY when the PEM chain or key does not parse or the key is not the leaf's. */
KH_MUST_CHECK kh_rc kh_http_tls_new(struct kh_slice cert_pem, struct kh_slice key_pem,
                                    struct kh_http_tls **out);
/* New connections get the new pair; on error the current one stays. */
KH_MUST_CHECK kh_rc kh_http_tls_reload(struct kh_http_tls *t, struct kh_slice cert_pem,
                                       struct kh_slice key_pem);
/* After every connection has ended; NULL accepted. */
void kh_http_tls_free(struct kh_http_tls **t);

/* Per connection, from the connection-start notification (before the handshake): ties the
 * session to t. *out_ctx goes back to kh_http_tls_conn_end when the connection closes. */
KH_MUST_CHECK kh_rc kh_http_tls_conn_start(struct kh_http_tls *t, gnutls_session_t session,
                                           void **out_ctx);
void kh_http_tls_conn_end(void *ctx);

/* The gnutls_certificate_retrieve_function2 given to MHD_OPTION_HTTPS_CERT_CALLBACK. */
int kh_http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey);

#endif
