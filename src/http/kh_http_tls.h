/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside src/http/ only: the server certificate for libmicrohttpd's GnuTLS sessions, replaceable
 * while the server runs (tls.c). libmicrohttpd 0.9.75 fixes its certificate at daemon start,
 * so the daemon is started with MHD_OPTION_HTTPS_CERT_CALLBACK instead and every handshake asks
 * kh_http_tls_retrieve for the current certificate "generation". A connection holds a
 * reference to the generation it was given until it closes, so a reload never frees a key a
 * live session still uses.
 *
 * With mutual TLS (mtls.c, linger.c) every session also asks for a client certificate
 * (GNUTLS_CERT_REQUEST, so that a client without one reaches our check too and is refused the
 * same way) and checks it from its own verification callback (gnutls_session_set_verify_function)
 * while the handshake runs. A refused client gets a fatal handshake_failure alert, the write side
 * is shut, and the socket is drained before it is closed. Sessions are never resumed
 * (libmicrohttpd 0.9.75 sets no session cache and no ticket key), so every connection's
 * certificate is checked.
 */
#ifndef KH_HTTP_TLS_H
#define KH_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"
#include "http/kh_http.h"

/* Certificates in one chain we accept (leaf plus intermediates). */
#define KH_HTTP_TLS_CHAIN_MAX 8u

struct kh_http_tls;

/* ---- mutual TLS: which client certificates a listener accepts (mtls.c) ---- */

struct kh_http_mtls;

/* ca_pem: the CAs' PEM bundle (KH_ERR_BAD_KEY when empty or when no certificate in it parses);
 * names: accepted client names, copied (KH_ERR_BAD_INPUT for one that is empty, longer than
 * KH_HTTP_CLIENT_NAME_MAX or not visible ASCII); count 0 accepts any name. */
KH_MUST_CHECK kh_rc kh_http_mtls_new(struct kh_slice ca_pem, const char *const *names,
                                     size_t name_count, struct kh_http_mtls **out);
/* After every connection has ended; NULL accepted. */
void kh_http_mtls_free(struct kh_http_mtls **m);
/* During the handshake: whether the peer's certificate chains to the bundle (status, not only
 * the return code; validity dates included) and its subject CN or a SAN dNSName is an accepted
 * name. On success out_name gets the accepted name as configured (with no names configured: the
 * certificate's first usable CN or dNSName, or ""). Refusals are logged with their reason. */
bool kh_http_mtls_check(const struct kh_http_mtls *m, gnutls_session_t session,
                        char out_name[KH_HTTP_CLIENT_NAME_MAX + 1]);
/* Ends a refused handshake: sends the fatal handshake_failure alert, shuts the write side and
 * hands a duplicate of the socket to the drain (linger.c). The caller then fails the
 * handshake; libmicrohttpd closes its own descriptor. */
void kh_http_mtls_refuse(const struct kh_http_mtls *m, gnutls_session_t session);

/* Lingering close (linger.c): a thread that reads and drops what still arrives on a socket
 * until the peer closes, a deadline passes or a byte budget is spent, then closes it. */
struct kh_http_linger;
KH_MUST_CHECK kh_rc kh_http_linger_new(struct kh_http_linger **out);
/* Takes fd in every case (closed at once when too many are draining). */
void kh_http_linger_add(struct kh_http_linger *l, int fd);
/* Stops the thread and closes what is still draining; NULL accepted. */
void kh_http_linger_free(struct kh_http_linger **l);

/* ---- the server certificate ---- */

/* KH_ERR_BAD_KEY when the PEM chain or key does not parse or the key is not the leaf's. mtls:
 * NULL for no client certificates; otherwise it is taken over (freed with t, or here on
 * error). */
KH_MUST_CHECK kh_rc kh_http_tls_new(struct kh_slice cert_pem, struct kh_slice key_pem,
                                    struct kh_http_mtls *mtls, struct kh_http_tls **out);
/* New connections get the new pair; on error the current one stays. */
KH_MUST_CHECK kh_rc kh_http_tls_reload(struct kh_http_tls *t, struct kh_slice cert_pem,
                                       struct kh_slice key_pem);
/* After every connection has ended; NULL accepted. */
void kh_http_tls_free(struct kh_http_tls **t);

/* Ask every client for a certificate without checking it (kh_http_options.request_client_cert);
 * no effect with mutual TLS, which asks and checks. Before the server starts. */
void kh_http_tls_request_client_cert(struct kh_http_tls *t);
/* The certificate chain the peer sent in the handshake, leaf first, DER, unverified (borrowed
 * from the session: valid while the connection lives); at most max, returns the count put in
 * out (0 without one). */
size_t kh_http_tls_peer_chain(gnutls_session_t session, struct kh_slice *out, size_t max);

/* Per connection, from the connection-start notification (before the handshake): ties the
 * session to t and, with mutual TLS, asks for and checks a client certificate. *out_ctx goes back
 * to kh_http_tls_conn_end when the connection closes. */
KH_MUST_CHECK kh_rc kh_http_tls_conn_start(struct kh_http_tls *t, gnutls_session_t session,
                                           void **out_ctx);
void kh_http_tls_conn_end(void *ctx);
/* The verified client name of the session ("" without mutual TLS or before the handshake). */
const char *kh_http_tls_client_name(gnutls_session_t session);

/* The gnutls_certificate_retrieve_function2 given to MHD_OPTION_HTTPS_CERT_CALLBACK. */
int kh_http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey);

#endif
