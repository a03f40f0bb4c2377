/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutual TLS for a listener (XKS.md, "Optional mutual TLS per listener"; see kh_http_tls.h):
 * the CA bundle and the accepted names, the check of a client certificate during the
 * handshake, and the refusal that the client must be able to read.
 *
 * The check runs from the session's certificate verification callback, which GnuTLS calls right
 * after the client's Certificate (TLS 1.2, RFC 5246 7.4.6) or its CertificateVerify (TLS 1.3,
 * RFC 8446 4.4.2-4.4.3, before the client's Finished is read), so a refused certificate never
 * completes the handshake and no request is ever read. GnuTLS itself sends no alert when a
 * handshake fails (libmicrohttpd does not ask it to either), so the refusal writes the fatal
 * handshake_failure alert itself (RFC 8446 6.2, RFC 5246 7.2.2), under whatever keys the
 * session writes with at that point: plaintext in TLS 1.2, the server's application traffic
 * keys in TLS 1.3, which is what a client that has sent its Finished reads with.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/x509.h>

#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "http/kh_http_tls.h"

struct kh_http_mtls {
	gnutls_x509_trust_list_t trust;
	char **names;
	size_t name_count;
	struct kh_http_linger *linger;
};

void kh_http_mtls_free(struct kh_http_mtls **mp)
{
	struct kh_http_mtls *m = *mp;

	if (m == NULL)
		return;
	kh_http_linger_free(&m->linger);
	if (m->trust != NULL)
		gnutls_x509_trust_list_deinit(m->trust, 1);
	for (size_t i = 0; i < m->name_count; i++)
		kh_free(&m->names[i]);
	kh_free(&m->names);
	kh_free(mp);
}

/* A name we compare against: 1..KH_HTTP_CLIENT_NAME_MAX visible ASCII characters. */
static bool name_ok(const char *name)
{
	size_t n = 0;

	if (name == NULL)
		return false;
	for (; name[n] != '\0'; n++)
		if (n >= KH_HTTP_CLIENT_NAME_MAX || name[n] <= ' ' || name[n] > '~')
			return false;
	return n > 0;
}

static kh_rc copy_names(struct kh_http_mtls *m, const char *const *names, size_t count)
{
	if (count == 0)
		return KH_OK;
	KH_ENSURE(names != NULL, KH_ERR_BAD_INPUT);
	m->names = kh_calloc(count, sizeof(*m->names));
	KH_ENSURE(m->names != NULL, KH_ERR_NOMEM);
	for (size_t i = 0; i < count; i++) {
		size_t len;

		KH_ENSURE(name_ok(names[i]), KH_ERR_BAD_INPUT);
		len = strlen(names[i]);
		m->names[i] = kh_alloc(len + 1);
		KH_ENSURE(m->names[i] != NULL, KH_ERR_NOMEM);
		memcpy(m->names[i], names[i], len + 1);
		m->name_count = i + 1;
	}
	return KH_OK;
}

/* The PEM bundle into a trust list; KH_ERR_BAD_KEY unless at least one CA parses. */
static kh_rc load_cas(struct kh_http_mtls *m, struct kh_slice ca_pem)
{
	uint8_t *copy;
	gnutls_datum_t d;
	int added;

	KH_ENSURE(ca_pem.len <= KH_LIMIT_KEY_ENCODED_BYTES * KH_HTTP_TLS_CHAIN_MAX, KH_ERR_BAD_KEY);
	KH_ENSURE(gnutls_x509_trust_list_init(&m->trust, 0) >= 0, KH_ERR_NOMEM);
	copy = kh_alloc(ca_pem.len + 1); /* GnuTLS's PEM reader wants a terminated string */
	KH_ENSURE(copy != NULL, KH_ERR_NOMEM);
	memcpy(copy, ca_pem.ptr, ca_pem.len);
	copy[ca_pem.len] = '\0';
	d.data = copy;
	d.size = (unsigned)ca_pem.len;
	added = gnutls_x509_trust_list_add_trust_mem(m->trust, &d, NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	kh_free(&copy);
	if (added == GNUTLS_E_MEMORY_ERROR)
		return KH_ERR_NOMEM;
	return added > 0 ? KH_OK : KH_ERR_BAD_KEY;
}

kh_rc kh_http_mtls_new(struct kh_slice ca_pem, const char *const *names, size_t name_count,
                       struct kh_http_mtls **out)
{
	struct kh_http_mtls *m;
	kh_rc rc = KH_OK;

	KH_ENSURE(ca_pem.len > 0, KH_ERR_BAD_KEY);
	m = kh_calloc(1, sizeof(*m));
	KH_ENSURE(m != NULL, KH_ERR_NOMEM);
	KH_GUARD_OUT(copy_names(m, names, name_count));
	KH_GUARD_OUT(load_cas(m, ca_pem));
	KH_GUARD_OUT(kh_http_linger_new(&m->linger));
	*out = m;
	m = NULL;
out:
	if (rc != KH_OK)
		KH_LOG_WARN("client certificate settings refused", KH_LF_RC(rc));
	kh_http_mtls_free(&m);
	return rc;
}

/* ---- the check ---- */

static bool ascii_equal_nocase(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++) {
		char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
		char y = (*b >= 'A' && *b <= 'Z') ? (char)(*b - 'A' + 'a') : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

/* Copies the accepted name equal to candidate (size bytes from GnuTLS) into out. */
static bool accept_name(const struct kh_http_mtls *m, const char *candidate, size_t size,
                        char out[KH_HTTP_CLIENT_NAME_MAX + 1])
{
	if (size == 0 || size > KH_HTTP_CLIENT_NAME_MAX || strlen(candidate) != size)
		return false; /* empty, too long, or an embedded NUL */
	for (size_t i = 0; i < m->name_count; i++) {
		if (ascii_equal_nocase(candidate, m->names[i])) {
			memcpy(out, m->names[i], strlen(m->names[i]) + 1);
			return true;
		}
	}
	if (m->name_count == 0 && name_ok(candidate)) {
		memcpy(out, candidate, size + 1); /* any name: report the certificate's own */
		return true;
	}
	return false;
}

/* The subject CNs, then the SAN dNSNames of the leaf, against the accepted names. */
static bool match_name(const struct kh_http_mtls *m, gnutls_x509_crt_t leaf,
                       char out[KH_HTTP_CLIENT_NAME_MAX + 1])
{
	char buf[KH_HTTP_CLIENT_NAME_MAX + 2];

	for (unsigned i = 0;; i++) {
		size_t size = sizeof(buf);
		int err = gnutls_x509_crt_get_dn_by_oid(leaf, GNUTLS_OID_X520_COMMON_NAME, i, 0,
		                                        buf, &size);
		if (err == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (err >= 0 && accept_name(m, buf, size, out))
			return true;
	}
	for (unsigned i = 0;; i++) {
		size_t size = sizeof(buf);
		int type = gnutls_x509_crt_get_subject_alt_name(leaf, i, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME && accept_name(m, buf, size, out))
			return true;
	}
	/* With no names configured a certificate without any usable name is still accepted. */
	if (m->name_count == 0) {
		out[0] = '\0';
		return true;
	}
	return false;
}

/* The peer's chain, verified against the bundle; *out_why says what failed. */
static bool verify_chain(const struct kh_http_mtls *m, gnutls_session_t session,
                         gnutls_x509_crt_t *crts, unsigned *count, const char **out_why,
                         unsigned *out_status)
{
	unsigned n = 0;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
	gnutls_typed_vdata_st purpose = {
	    .type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (void *)GNUTLS_KP_TLS_WWW_CLIENT, .size = 0};
	int err;

	*out_why = "no client certificate";
	if (peers == NULL || n == 0 ||
	    gnutls_certificate_type_get2(session, GNUTLS_CTYPE_CLIENT) != GNUTLS_CRT_X509)
		return false;
	*out_why = "client certificate chain too long or malformed";
	if (n > KH_HTTP_TLS_CHAIN_MAX)
		return false;
	for (*count = 0; *count < n; (*count)++) {
		if (gnutls_x509_crt_init(&crts[*count]) < 0)
			return false;
		if (gnutls_x509_crt_import(crts[*count], &peers[*count], GNUTLS_X509_FMT_DER) < 0) {
			(*count)++;
			return false;
		}
	}
	/* The return code only says the check ran; the status says whether the chain is good
	 * (a self-signed certificate returns 0 with GNUTLS_CERT_SIGNER_NOT_FOUND set). Time
	 * checks (not yet valid, expired) are part of it. */
	*out_why = "client certificate not verified by the CA bundle";
	err =
	    gnutls_x509_trust_list_verify_crt2(m->trust, crts, n, &purpose, 1, 0, out_status, NULL);
	return err >= 0 && *out_status == 0;
}

bool kh_http_mtls_check(const struct kh_http_mtls *m, gnutls_session_t session,
                        char out_name[KH_HTTP_CLIENT_NAME_MAX + 1])
{
	gnutls_x509_crt_t crts[KH_HTTP_TLS_CHAIN_MAX];
	unsigned count = 0;
	unsigned status = 0;
	const char *why = NULL;
	char name[KH_HTTP_CLIENT_NAME_MAX + 1];
	bool ok = verify_chain(m, session, crts, &count, &why, &status);

	if (ok) {
		why = "client certificate names none of the accepted clients";
		ok = match_name(m, crts[0], name);
	}
	for (unsigned i = 0; i < count; i++)
		gnutls_x509_crt_deinit(crts[i]);
	if (!ok) {
		KH_LOG_WARN("TLS client refused", KH_LF_STR("reason", why),
		            KH_LF_UINT("verify_status", status));
		return false;
	}
	memcpy(out_name, name, strlen(name) + 1);
	return true;
}

void kh_http_mtls_refuse(const struct kh_http_mtls *m, gnutls_session_t session)
{
	int fd = gnutls_transport_get_int(session);
	int err = gnutls_alert_send(session, GNUTLS_AL_FATAL, GNUTLS_A_HANDSHAKE_FAILURE);
	int dup_fd;

	if (err < 0)
		KH_LOG_WARN("TLS alert not sent", KH_LF_STR("detail", gnutls_strerror(err)));
	if (fd < 0)
		return;
	/* FIN right after the alert; the library closes its descriptor soon, and the duplicate
	 * keeps the socket open while the rest of what the client sent is drained. */
	shutdown(fd, SHUT_WR);
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd >= 0)
		kh_http_linger_add(m->linger, dup_fd);
}
