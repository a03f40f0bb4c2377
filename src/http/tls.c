/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server certificate, swappable at run time (see kh_http_tls.h). Each loaded pair is a
 * reference-counted generation: the server holds the current one, and every TLS connection
 * takes a reference in its first certificate request and drops it when it closes. A reload
 * swaps the current pointer under a mutex, so handshakes that start after it present the new
 * certificate while open connections keep theirs.
 *
 * The session finds its server through gnutls_db_set_ptr: libmicrohttpd keeps the session's
 * general user pointer (gnutls_session_set_ptr) for itself and never uses the session-cache
 * pointer, and with no cache callbacks installed GnuTLS only stores it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "http/kh_http_tls.h"

struct gen {
	atomic_uint refs;
	gnutls_pcert_st pcerts[KH_HTTP_TLS_CHAIN_MAX];
	unsigned count; /* initialised entries of pcerts */
	gnutls_privkey_t key;
};

struct kh_http_tls {
	pthread_mutex_t lock;
	struct gen *current;
	struct kh_http_mtls *mtls; /* NULL: no client certificate checked */
	bool request_cert;         /* without mtls: ask for one, unchecked */
};

struct conn {
	struct kh_http_tls *tls;
	struct gen *gen; /* NULL until the handshake asks for a certificate */
	char client_name[KH_HTTP_CLIENT_NAME_MAX + 1]; /* set once the client is verified */
};

static void gen_unref(struct gen **gp)
{
	struct gen *g = *gp;

	*gp = NULL;
	if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	for (unsigned i = 0; i < g->count; i++)
		gnutls_pcert_deinit(&g->pcerts[i]);
	if (g->key != NULL)
		gnutls_privkey_deinit(g->key); /* GnuTLS wipes the key parameters */
	kh_free(&g);
}

static kh_rc gnutls_rc(int err)
{
	return err == GNUTLS_E_MEMORY_ERROR ? KH_ERR_NOMEM : KH_ERR_BAD_KEY;
}

/* The private key must belong to the leaf certificate: compare the public keys. */
static kh_rc key_matches(const struct gen *g)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t mine = {NULL, 0};
	gnutls_datum_t leaf = {NULL, 0};
	kh_rc rc = KH_ERR_BAD_KEY;
	int err;

	err = gnutls_pubkey_init(&pub);
	KH_ENSURE_OUT(err >= 0, gnutls_rc(err));
	err = gnutls_pubkey_import_privkey(pub, g->key, 0, 0);
	KH_ENSURE_OUT(err >= 0, gnutls_rc(err));
	err = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &mine);
	KH_ENSURE_OUT(err >= 0, gnutls_rc(err));
	err = gnutls_pubkey_export2(g->pcerts[0].pubkey, GNUTLS_X509_FMT_DER, &leaf);
	KH_ENSURE_OUT(err >= 0, gnutls_rc(err));
	KH_ENSURE_OUT(mine.size == leaf.size && memcmp(mine.data, leaf.data, mine.size) == 0,
	              KH_ERR_BAD_KEY);
	rc = KH_OK;
out:
	gnutls_free(mine.data);
	gnutls_free(leaf.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return rc;
}

/* Parses the PEM pair into g. The key PEM is copied into secure memory for the parser. */
static kh_rc gen_load(struct gen *g, struct kh_slice cert_pem, struct kh_slice key_pem)
{
	uint8_t *cert_copy = NULL;
	uint8_t *key_copy = NULL;
	gnutls_datum_t d;
	unsigned count = KH_HTTP_TLS_CHAIN_MAX;
	kh_rc rc = KH_OK;
	int err;

	cert_copy = kh_alloc(cert_pem.len);
	key_copy = kh_secure_alloc(key_pem.len);
	KH_ENSURE_OUT(cert_copy != NULL && key_copy != NULL, KH_ERR_NOMEM);
	memcpy(cert_copy, cert_pem.ptr, cert_pem.len);
	memcpy(key_copy, key_pem.ptr, key_pem.len);

	d.data = cert_copy;
	d.size = (unsigned)cert_pem.len;
	err = gnutls_pcert_list_import_x509_raw(g->pcerts, &count, &d, GNUTLS_X509_FMT_PEM, 0);
	KH_ENSURE_OUT(err >= 0 && count > 0, gnutls_rc(err));
	g->count = count;

	err = gnutls_privkey_init(&g->key);
	KH_ENSURE_OUT(err >= 0, gnutls_rc(err));
	d.data = key_copy;
	d.size = (unsigned)key_pem.len;
	err = gnutls_privkey_import_x509_raw(g->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	KH_ENSURE_OUT(err >= 0, gnutls_rc(err));
	KH_GUARD_OUT(key_matches(g));
out:
	kh_free(&cert_copy);
	kh_secure_free(&key_copy);
	return rc;
}

static kh_rc gen_new(struct kh_slice cert_pem, struct kh_slice key_pem, struct gen **out)
{
	struct gen *g;
	kh_rc rc;

	KH_ENSURE(cert_pem.len > 0 && key_pem.len > 0, KH_ERR_BAD_KEY);
	KH_ENSURE(cert_pem.len <= KH_LIMIT_KEY_ENCODED_BYTES &&
	              key_pem.len <= KH_LIMIT_KEY_ENCODED_BYTES,
	          KH_ERR_BAD_KEY);
	g = kh_calloc(1, sizeof(*g));
	KH_ENSURE(g != NULL, KH_ERR_NOMEM);
	atomic_init(&g->refs, 1);
	rc = gen_load(g, cert_pem, key_pem);
	if (rc != KH_OK) {
		KH_LOG_WARN("TLS certificate or key refused", KH_LF_RC(rc));
		gen_unref(&g);
		return rc;
	}
	*out = g;
	return KH_OK;
}

kh_rc kh_http_tls_new(struct kh_slice cert_pem, struct kh_slice key_pem, struct kh_http_mtls *mtls,
                      struct kh_http_tls **out)
{
	struct kh_http_tls *t;
	struct gen *g = NULL;
	kh_rc rc = gen_new(cert_pem, key_pem, &g);

	if (rc != KH_OK) {
		kh_http_mtls_free(&mtls);
		return rc;
	}
	t = kh_calloc(1, sizeof(*t));
	if (t == NULL) {
		gen_unref(&g);
		kh_http_mtls_free(&mtls);
		return KH_ERR_NOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->current = g;
	t->mtls = mtls;
	*out = t;
	return KH_OK;
}

kh_rc kh_http_tls_reload(struct kh_http_tls *t, struct kh_slice cert_pem, struct kh_slice key_pem)
{
	struct gen *g = NULL;
	struct gen *old;

	KH_GUARD(gen_new(cert_pem, key_pem, &g));
	pthread_mutex_lock(&t->lock);
	old = t->current;
	t->current = g;
	pthread_mutex_unlock(&t->lock);
	gen_unref(&old); /* freed now, or by the last connection that uses it */
	return KH_OK;
}

void kh_http_tls_free(struct kh_http_tls **tp)
{
	struct kh_http_tls *t = *tp;

	if (t == NULL)
		return;
	gen_unref(&t->current);
	kh_http_mtls_free(&t->mtls);
	pthread_mutex_destroy(&t->lock);
	kh_free(tp);
}

/*
 * The session's certificate verification callback (mutual TLS only). GnuTLS runs it with the
 * client's certificate in hand and fails the handshake when it returns non-zero; a value below
 * -1 is passed on as the handshake's error, and GNUTLS_E_INSUFFICIENT_CREDENTIALS is one that
 * gnutls_error_to_alert maps to handshake_failure, the alert kh_http_mtls_refuse has sent.
 */
static int verify_client(gnutls_session_t session)
{
	struct conn *c = gnutls_db_get_ptr(session);

	if (c == NULL)
		return GNUTLS_E_INSUFFICIENT_CREDENTIALS; /* not a session we set up */
	if (kh_http_mtls_check(c->tls->mtls, session, c->client_name))
		return 0;
	kh_http_mtls_refuse(c->tls->mtls, session);
	return GNUTLS_E_INSUFFICIENT_CREDENTIALS;
}

kh_rc kh_http_tls_conn_start(struct kh_http_tls *t, gnutls_session_t session, void **out_ctx)
{
	struct conn *c;

	KH_ENSURE(session != NULL, KH_ERR_INTERNAL);
	c = kh_calloc(1, sizeof(*c));
	KH_ENSURE(c != NULL, KH_ERR_NOMEM);
	c->tls = t;
	gnutls_db_set_ptr(session, c);
	if (t->mtls != NULL) {
		/* REQUEST rather than REQUIRE: with REQUIRE GnuTLS fails a client without a
		 * certificate before the callback runs, and without the alert. */
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
		gnutls_session_set_verify_function(session, verify_client);
	} else if (t->request_cert) {
		/* Asked, never required, never checked here: no verify function and no
		 * gnutls_session_set_verify_cert, so a client without a certificate, or with one
		 * from a CA we do not know, completes the handshake. GnuTLS still checks its
		 * CertificateVerify, so a client that sent one holds its private key. */
		gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUEST);
	}
	*out_ctx = c;
	return KH_OK;
}

void kh_http_tls_request_client_cert(struct kh_http_tls *t)
{
	t->request_cert = true;
}

size_t kh_http_tls_peer_chain(gnutls_session_t session, struct kh_slice *out, size_t max)
{
	unsigned count = 0;
	const gnutls_datum_t *certs;
	size_t n = 0;

	if (session == NULL || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
		return 0;
	certs = gnutls_certificate_get_peers(session, &count);
	for (unsigned i = 0; certs != NULL && i < count && n < max; i++) {
		if (certs[i].size == 0)
			break;
		out[n++] = KH_SLICE(certs[i].data, certs[i].size);
	}
	return n;
}

const char *kh_http_tls_client_name(gnutls_session_t session)
{
	const struct conn *c = session != NULL ? gnutls_db_get_ptr(session) : NULL;

	return c != NULL ? c->client_name : "";
}

void kh_http_tls_conn_end(void *ctx)
{
	struct conn *c = ctx;

	if (c == NULL)
		return;
	gen_unref(&c->gen);
	kh_free(&c);
}

int kh_http_tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
                         const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
                         gnutls_pcert_st **pcert, unsigned int *pcert_length,
                         gnutls_privkey_t *privkey)
{
	struct conn *c = gnutls_db_get_ptr(session);

	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (c == NULL)
		return -1; /* not a session we set up: fail the handshake */
	if (c->gen == NULL) {
		pthread_mutex_lock(&c->tls->lock);
		c->gen = c->tls->current;
		atomic_fetch_add(&c->gen->refs, 1);
		pthread_mutex_unlock(&c->tls->lock);
	}
	*pcert = c->gen->pcerts;
	*pcert_length = c->gen->count;
	*privkey = c->gen->key;
	return 0;
}
