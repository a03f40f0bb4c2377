// SPDX-License-Identifier: Apache-2.0
/*
 * EST, Enrollment over Secure Transport (RFC 7030; PKI.md "EST"), under /.well-known/est/: for
 * the profile whose est_label is L, /.well-known/est/L/<operation>, and without the label for
 * the profile named by the server's est_default_label. The paths are public for the router: EST
 * authenticates by itself, with HTTP Basic (an account's name and one of its API tokens) and/or
 * the TLS client certificate the main listener asks for (RFC 7030 3.2.3, 3.3.2), as the
 * profile's est_auth allows. An authenticated client acts as that account: its request goes
 * through kh_pki_request_submit like any other, audited there.
 *
 * Answers are base64 (Content-Transfer-Encoding: base64, RFC 7030 4.1.3) in one line, without
 * line breaks (RFC 8951 3.1 points to RFC 4648; strongSwan 5.9 cannot read broken lines). Bodies
 * are read leniently as RFC 8951 3 asks: base64 with or without line breaks, and also DER or
 * PEM. A request that needs approval answers 202 with Retry-After (RFC 7030 4.2.3); the client
 * sends the same CSR again and finds its own request (kh_pki_request_find_csr), so waiting never
 * makes a second request. Errors are text/plain, one English line.
 *
 * Channel binding (RFC 7030 3.5, tls-unique in the CSR's challengePassword) is not done.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/kh_api_int.h"
#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "pki/kh_pki.h"

#define RETRY_AFTER "60" /* seconds a client waits before asking again for a pending request */
#define CSR_MAX (16u * 1024u)
#define REALM "Basic realm=\"keyhold EST\""

enum est_op {
	EST_ENROLL,
	EST_REENROLL,
	EST_KEYGEN,
};

/* ---- answers ---- */

/* A text/plain error answer (the router's JSON errors do not suit EST clients). */
static kh_rc est_fail(struct kh_api_call *c, kh_rc rc, const char *msg)
{
	struct kh_api_error e = kh_api_error_of(rc);
	if (e.status >= 500 && rc != KH_ERR_SEALED)
		KH_LOG_ERROR("EST request failed", KH_LF_STR("request_id", c->req->request_id),
		             KH_LF_STR("path", c->req->path), KH_LF_RC(rc));
	if (msg == NULL || msg[0] == '\0' || e.status >= 500)
		msg = kh_rc_message(rc);
	kh_buf_clear(&c->resp->body);
	KH_GUARD(kh_buf_append_cstr(&c->resp->body, msg));
	KH_GUARD(kh_buf_append_cstr(&c->resp->body, "\n"));
	c->resp->content_type = "text/plain; charset=utf-8";
	c->status = e.status;
	if (e.status == 401)
		KH_GUARD(kh_http_response_header(c->resp, "WWW-Authenticate", REALM));
	if (e.status == 503 || e.status == 429) {
		char retry[16];
		snprintf(retry, sizeof(retry), "%u", c->retry_after > 0 ? c->retry_after : 5u);
		KH_GUARD(kh_http_response_header(c->resp, "Retry-After", retry));
	}
	return KH_OK;
}

/* 200 with a base64 DER body of the given type. */
static kh_rc base64_answer(struct kh_api_call *c, struct kh_slice der, const char *type)
{
	kh_buf_clear(&c->resp->body);
	KH_GUARD(kh_base64_encode(der, &c->resp->body));
	KH_GUARD(kh_http_response_header(c->resp, "Content-Transfer-Encoding", "base64"));
	c->resp->content_type = type;
	c->status = 200;
	return KH_OK;
}

/* ---- the label ---- */

/* The profile of the path's label (or the default one), with the CA to serve. */
static kh_rc est_profile(struct kh_api_call *c, bool labelled, struct kh_pki_profile *out)
{
	const char *label = labelled ? c->params[0] : c->api->est_default_label;
	if (label[0] == '\0')
		return est_fail(c, KH_ERR_NOT_FOUND, "no default EST label on this server");
	kh_rc rc = kh_pki_est_profile(c->api->pki, label, out);
	if (rc == KH_ERR_NOT_FOUND)
		return est_fail(c, rc, "no such EST label");
	return rc != KH_OK ? est_fail(c, rc, NULL) : KH_OK;
}

/* ---- cacerts, csrattrs ---- */

static kh_rc cacerts(struct kh_api_call *c, bool labelled)
{
	struct kh_pki_profile pr;
	struct kh_buf der;
	KH_GUARD(est_profile(c, labelled, &pr));
	if (c->status != 200)
		return KH_OK;
	kh_buf_init(&der, KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_est_cacerts(c->api->pki, pr.ca_id, &der);
	if (rc == KH_OK)
		rc = base64_answer(c, kh_buf_slice(&der), "application/pkcs7-mime");
	else
		rc = est_fail(c, rc,
		              rc == KH_ERR_NOT_FOUND ? "the CA has no certificate yet" : NULL);
	kh_buf_cleanup(&der);
	return rc;
}

static kh_rc csrattrs(struct kh_api_call *c, bool labelled)
{
	struct kh_pki_profile pr;
	struct kh_buf der;
	KH_GUARD(est_profile(c, labelled, &pr));
	if (c->status != 200)
		return KH_OK;
	kh_buf_init(&der, 4096, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_est_csrattrs(&pr, &der);
	if (rc == KH_OK && der.len == 0)
		c->status = 204; /* RFC 7030 4.5.2: nothing to ask for */
	else if (rc == KH_OK)
		rc = base64_answer(c, kh_buf_slice(&der), "application/csrattrs");
	else
		rc = est_fail(c, rc, NULL);
	kh_buf_cleanup(&der);
	return rc;
}

/* ---- the request body ---- */

static bool is_b64(uint8_t ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '+' || ch == '/' || ch == '=';
}

static bool is_space(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/*
 * The CSR of the body: base64 (RFC 7030 4.2.1) with any line breaks and spaces (RFC 8951 3.1),
 * or as a courtesy PEM or DER, which kh_pki_csr_parse reads as they are. Content-Type, when
 * sent, must be application/pkcs10.
 */
static kh_rc read_csr(struct kh_api_call *c, struct kh_buf *out)
{
	const char *ct = kh_http_request_header(c->req, "Content-Type");
	static const char pkcs10[] = "application/pkcs10";
	struct kh_slice body = c->req->body;
	if (ct != NULL && (strncasecmp(ct, pkcs10, sizeof(pkcs10) - 1) != 0 ||
	                   (ct[sizeof(pkcs10) - 1] != '\0' && ct[sizeof(pkcs10) - 1] != ';' &&
	                    !is_space((uint8_t)ct[sizeof(pkcs10) - 1]))))
		return KH_ERR_UNSUPPORTED_MEDIA;
	KH_ENSURE(body.len > 0, KH_ERR_BAD_INPUT);
	KH_ENSURE(body.len <= 2 * CSR_MAX, KH_ERR_TOO_LARGE);
	bool text = true;
	for (size_t i = 0; i < body.len && text; i++)
		text = is_b64(body.ptr[i]) || is_space(body.ptr[i]);
	if (!text || (body.len > 10 && memcmp(body.ptr, "-----BEGIN", 10) == 0))
		return kh_buf_append(out, body);
	struct kh_buf packed;
	kh_buf_init(&packed, body.len + 1, KH_BUF_PLAIN);
	kh_rc rc = KH_OK;
	for (size_t i = 0; i < body.len && rc == KH_OK; i++)
		if (!is_space(body.ptr[i]))
			rc = kh_buf_append(&packed, KH_SLICE(body.ptr + i, 1));
	if (rc == KH_OK)
		rc = kh_base64_decode(kh_buf_slice(&packed), out);
	kh_buf_cleanup(&packed);
	return rc == KH_OK ? KH_OK : KH_ERR_BAD_INPUT;
}

/* ---- authentication ---- */

static void account_principal(struct kh_api_call *c, const struct kh_account *a)
{
	c->who = (struct kh_principal){
	    .kind = KH_PRINCIPAL_ACCOUNT,
	    .account_id = a->id,
	    .keystore_id = a->keystore_id,
	    .policies = a->policies,
	    .request_id = c->req->request_id,
	    .source = c->req->remote_addr,
	};
}

/* Authorization: Basic base64(name ":" token); the token must be one of that account's. */
static kh_rc basic_auth(struct kh_api_call *c, const char *h, char *msg, size_t msg_len)
{
	struct kh_buf creds;
	struct kh_principal p;
	struct kh_account a;
	kh_rc rc = KH_ERR_UNAUTHENTICATED;
	snprintf(msg, msg_len, "the name or token is wrong");
	kh_buf_init(&creds, 256, KH_BUF_SECURE);
	h += strspn(h, " ");
	KH_ENSURE_OUT(kh_base64_decode(kh_slice_from_cstr(h), &creds) == KH_OK,
	              KH_ERR_UNAUTHENTICATED);
	const uint8_t *colon = memchr(creds.ptr, ':', creds.len);
	KH_ENSURE_OUT(colon != NULL, KH_ERR_UNAUTHENTICATED);
	struct kh_slice user = KH_SLICE(creds.ptr, (size_t)(colon - creds.ptr));
	struct kh_slice token = KH_SLICE(colon + 1, creds.len - user.len - 1);
	rc = kh_authz_authenticate(c->api->authz, token, c->req->request_id, c->req->remote_addr,
	                           &p, NULL);
	if (rc == KH_ERR_UNAUTHENTICATED || (rc == KH_OK && p.kind != KH_PRINCIPAL_ACCOUNT))
		rc = KH_ERR_UNAUTHENTICATED;
	KH_GUARD_OUT(rc);
	rc = kh_keys_account_get(c->api->keys, p.account_id, &a);
	KH_ENSURE_OUT(rc != KH_ERR_NOT_FOUND, KH_ERR_UNAUTHENTICATED);
	KH_GUARD_OUT(rc);
	/* The name is checked in constant time like the token it comes with. */
	KH_ENSURE_OUT(kh_ct_eq(user, kh_slice_from_cstr(a.name)), KH_ERR_UNAUTHENTICATED);
	account_principal(c, &a);
	msg[0] = '\0';
out:
	kh_buf_cleanup(&creds);
	if (rc == KH_ERR_UNAUTHENTICATED)
		KH_LOG_INFO("EST authentication failed",
		            KH_LF_STR("request_id", c->req->request_id),
		            KH_LF_STR("source", c->req->remote_addr));
	return rc;
}

/* The TLS client certificate, issued by the label's CA; out (may be NULL) gets its subject. */
static kh_rc cert_auth(struct kh_api_call *c, const struct kh_pki_profile *pr,
                       struct kh_pki_est_client *out, char *msg, size_t msg_len)
{
	struct kh_account a;
	KH_GUARD(kh_pki_est_client_check(c->api->pki, pr->ca_id, c->req->client_cert, out, msg,
	                                 msg_len));
	kh_rc rc = kh_keys_account_get(c->api->keys, out->account_id, &a);
	if (rc == KH_ERR_NOT_FOUND) {
		snprintf(msg, msg_len, "the account of the client certificate is gone");
		return KH_ERR_FORBIDDEN;
	}
	KH_GUARD(rc);
	account_principal(c, &a);
	return KH_OK;
}

/* Who asks (c->who), as the operation and the profile's est_auth allow (RFC 7030 3.2.3):
 * re-enrollment by the current certificate only; enrollment by a certificate when allowed and
 * presented, else by Basic when allowed. */
static kh_rc authenticate(struct kh_api_call *c, const struct kh_pki_profile *pr, enum est_op op,
                          struct kh_pki_est_client *client, char *msg, size_t msg_len)
{
	const char *h = kh_http_request_header(c->req, "Authorization");
	static const char basic[] = "Basic ";
	bool by_cert = op == EST_REENROLL || (pr->est_auth & KH_PKI_EST_CERT) != 0;
	bool by_basic = op != EST_REENROLL && (pr->est_auth & KH_PKI_EST_BASIC) != 0;
	bool has_basic = h != NULL && strncasecmp(h, basic, sizeof(basic) - 1) == 0;
	if (by_cert && c->req->client_cert.len > 0) {
		kh_rc rc = cert_auth(c, pr, client, msg, msg_len);
		if (rc != KH_ERR_UNAUTHENTICATED || !(by_basic && has_basic))
			return rc;
	}
	if (by_basic && has_basic)
		return basic_auth(c, h + sizeof(basic) - 1, msg, msg_len);
	if (op == EST_REENROLL)
		snprintf(msg, msg_len,
		         "re-enrollment needs the current certificate as the TLS "
		         "client certificate");
	else
		snprintf(msg, msg_len, "%s",
		         by_basic && by_cert ? "authentication is required"
		         : by_basic          ? "HTTP Basic authentication is required"
		                             : "a TLS client certificate is required");
	return KH_ERR_UNAUTHENTICATED;
}

/* ---- enrollment ---- */

struct enroll {
	struct kh_pki_profile profile;
	struct kh_pki_est_client client; /* authenticated by certificate: whose it is */
	struct kh_buf csr;
	struct kh_pki_request req;
	char msg[KH_PKI_MESSAGE_MAX];
};

/* RFC 7030 4.2.2: a re-enrollment keeps the subject of the certificate it renews. */
static kh_rc same_subject(struct kh_api_call *c, struct enroll *e)
{
	struct kh_pki_csr *csr = NULL;
	kh_rc rc = kh_pki_csr_parse(kh_buf_slice(&e->csr), &csr);
	if (rc != KH_OK && kh_rc_class_of(rc) != KH_CLASS_NOMEM)
		return est_fail(c, KH_ERR_BAD_INPUT,
		                "the CSR does not parse or its signature fails");
	KH_GUARD(rc);
	bool same = strcmp(csr->subject, e->client.subject) == 0;
	kh_pki_csr_free(&csr);
	if (!same)
		return est_fail(c, KH_ERR_BAD_INPUT,
		                "the CSR's subject differs from the current certificate's");
	return KH_OK;
}

/*
 * RFC 7030 4.2.3: the client's earlier request for the same CSR, when answering it is what the
 * client waits for: a pending or rejected one, or one an officer issued. Not one the profile
 * issued at once (the client asks anew) nor the one that issued the certificate being renewed.
 */
static bool earlier(struct kh_api_call *c, struct enroll *e, enum est_op op)
{
	kh_rc rc = kh_pki_request_find_csr(c->api->pki, &c->who, e->profile.ca_id,
	                                   kh_buf_slice(&e->csr), &e->req);
	if (rc != KH_OK || strcmp(e->req.profile, e->profile.name) != 0 ||
	    e->req.server_keygen != (op == EST_KEYGEN))
		return false;
	if (e->req.status != KH_PKI_REQ_ISSUED)
		return true;
	if (strcmp(e->req.officer, "auto") == 0)
		return false;
	return op != EST_REENROLL || strcmp(e->req.serial, e->client.serial) != 0;
}

static kh_rc submit(struct kh_api_call *c, struct enroll *e, enum est_op op)
{
	struct kh_pki_submit s = {
	    .ca_id = e->profile.ca_id,
	    .profile = e->profile.name,
	    .csr = kh_buf_slice(&e->csr),
	    .server_keygen = op == EST_KEYGEN,
	};
	kh_rc rc = kh_pki_request_submit(c->api->pki, &c->who, &s, &e->req, e->msg, sizeof(e->msg));
	if (rc == KH_ERR_BAD_SIGNATURE)
		return est_fail(
		    c, KH_ERR_BAD_INPUT,
		    e->msg[0] != '\0' ? e->msg : "the CSR's proof of possession does not verify");
	if (rc == KH_ERR_NOT_FOUND)
		rc = KH_ERR_FORBIDDEN; /* an account of another key store */
	return rc != KH_OK ? est_fail(c, rc, e->msg) : KH_OK;
}

static kh_rc answer_issued(struct kh_api_call *c, struct enroll *e, enum est_op op);

/* The request's state as the answer: 202 while pending, the certificate once issued. */
static kh_rc answer(struct kh_api_call *c, struct enroll *e, enum est_op op)
{
	switch (e->req.status) {
	case KH_PKI_REQ_PENDING:
	case KH_PKI_REQ_APPROVED:
		kh_buf_clear(&c->resp->body);
		c->resp->content_type = "text/plain; charset=utf-8";
		c->status = 202;
		return kh_http_response_header(c->resp, "Retry-After", RETRY_AFTER);
	case KH_PKI_REQ_REJECTED:
		snprintf(e->msg, sizeof(e->msg), "the request was rejected: %.100s", e->req.reason);
		return est_fail(c, KH_ERR_FORBIDDEN, e->msg);
	case KH_PKI_REQ_ISSUED:
		return answer_issued(c, e, op);
	}
	return est_fail(c, KH_ERR_INTERNAL, NULL);
}

static kh_rc enroll(struct kh_api_call *c, bool labelled, enum est_op op)
{
	struct enroll *e = kh_calloc(1, sizeof(*e));
	KH_ENSURE(e != NULL, KH_ERR_NOMEM);
	kh_buf_init(&e->csr, 2 * CSR_MAX, KH_BUF_PLAIN);
	kh_rc rc = est_profile(c, labelled, &e->profile);
	if (rc != KH_OK || c->status != 200)
		goto out;
	rc = authenticate(c, &e->profile, op, &e->client, e->msg, sizeof(e->msg));
	if (rc != KH_OK) {
		rc = est_fail(c, rc, e->msg);
		goto out;
	}
	rc = read_csr(c, &e->csr);
	if (rc != KH_OK) {
		rc = est_fail(c, rc,
		              rc == KH_ERR_UNSUPPORTED_MEDIA
		                  ? "Content-Type must be application/pkcs10"
		                  : "the body must be a base64 PKCS#10 certification request");
		goto out;
	}
	if (op == EST_REENROLL && ((rc = same_subject(c, e)) != KH_OK || c->status != 200))
		goto out;
	if (!earlier(c, e, op)) {
		rc = submit(c, e, op);
		if (rc != KH_OK || c->status != 200)
			goto out;
	}
	rc = answer(c, e, op);
out:
	kh_buf_cleanup(&e->csr);
	kh_free(&e);
	return rc;
}

/* ---- the issued certificate ---- */

static kh_rc certificate_answer(struct kh_api_call *c, struct enroll *e)
{
	struct kh_buf der;
	kh_buf_init(&der, KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_est_certificate(c->api->pki, &c->who, e->req.serial, &der);
	if (rc == KH_OK)
		rc = base64_answer(c, kh_buf_slice(&der),
		                   "application/pkcs7-mime; smime-type=certs-only");
	else
		rc = est_fail(c, rc, NULL);
	kh_buf_cleanup(&der);
	return rc;
}

/* RFC 7030 4.4.2: the private key then the certificate, each a base64 part. */
#define BOUNDARY "est-keyhold-part"

static kh_rc keygen_part(struct kh_buf *out, const char *type, struct kh_slice der)
{
	KH_GUARD(kh_buf_append_cstr(out, "--" BOUNDARY "\r\nContent-Type: "));
	KH_GUARD(kh_buf_append_cstr(out, type));
	KH_GUARD(kh_buf_append_cstr(out, "\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
	KH_GUARD(kh_base64_encode(der, out));
	return kh_buf_append_cstr(out, "\r\n");
}

/*
 * The envelope is the KMC's (kh_pki_request_envelope, audited "pki.kmc.deliver"): for an RSA or
 * EC CSR key a CMS EnvelopedData of the PKCS#8 (RFC 7030 4.4.2 with the CSR's key as the
 * recipient, smime-type=server-generated-key); for an SM2 CSR key the GM/T envelope, which has
 * no MIME type of its own.
 */
static kh_rc keygen_answer(struct kh_api_call *c, struct enroll *e)
{
	enum kh_envelope_form form = 0;
	struct kh_buf env, cert;
	kh_buf_init(&env, KH_LIMIT_KEY_ENCODED_BYTES, KH_BUF_PLAIN); /* ciphertext */
	kh_buf_init(&cert, KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
	kh_rc rc = kh_pki_request_envelope(c->api->pki, &c->who, e->req.id, &form, &env);
	if (rc == KH_OK)
		rc = kh_pki_est_certificate(c->api->pki, &c->who, e->req.serial, &cert);
	if (rc != KH_OK) {
		rc = est_fail(c, rc,
		              rc == KH_ERR_NOT_FOUND ? "the key is not there to deliver" : NULL);
		goto out;
	}
	kh_buf_clear(&c->resp->body);
	KH_GUARD_OUT(keygen_part(&c->resp->body,
	                         form == KH_ENVELOPE_CMS
	                             ? "application/pkcs7-mime; smime-type=server-generated-key"
	                             : "application/octet-stream",
	                         kh_buf_slice(&env)));
	KH_GUARD_OUT(keygen_part(&c->resp->body, "application/pkcs7-mime; smime-type=certs-only",
	                         kh_buf_slice(&cert)));
	KH_GUARD_OUT(kh_buf_append_cstr(&c->resp->body, "--" BOUNDARY "--\r\n"));
	c->resp->content_type = "multipart/mixed; boundary=" BOUNDARY;
	c->status = 200;
out:
	kh_buf_cleanup(&env);
	kh_buf_cleanup(&cert);
	return rc;
}

static kh_rc answer_issued(struct kh_api_call *c, struct enroll *e, enum est_op op)
{
	return op == EST_KEYGEN ? keygen_answer(c, e) : certificate_answer(c, e);
}

/* ---- routes ---- */

static kh_rc est_cacerts(struct kh_api_call *c)
{
	return cacerts(c, false);
}
static kh_rc est_label_cacerts(struct kh_api_call *c)
{
	return cacerts(c, true);
}
static kh_rc est_csrattrs(struct kh_api_call *c)
{
	return csrattrs(c, false);
}
static kh_rc est_label_csrattrs(struct kh_api_call *c)
{
	return csrattrs(c, true);
}
static kh_rc est_simpleenroll(struct kh_api_call *c)
{
	return enroll(c, false, EST_ENROLL);
}
static kh_rc est_label_simpleenroll(struct kh_api_call *c)
{
	return enroll(c, true, EST_ENROLL);
}
static kh_rc est_simplereenroll(struct kh_api_call *c)
{
	return enroll(c, false, EST_REENROLL);
}
static kh_rc est_label_simplereenroll(struct kh_api_call *c)
{
	return enroll(c, true, EST_REENROLL);
}
static kh_rc est_serverkeygen(struct kh_api_call *c)
{
	return enroll(c, false, EST_KEYGEN);
}
static kh_rc est_label_serverkeygen(struct kh_api_call *c)
{
	return enroll(c, true, EST_KEYGEN);
}

#define EST "/.well-known/est"
#define GET_FLAGS (KH_API_PKI | KH_API_PUBLIC | KH_API_RAW)
#define POST_FLAGS (GET_FLAGS | KH_API_RAW_BODY)

const struct kh_api_route kh_api_est_routes[] = {
    {KH_HTTP_GET, EST "/cacerts", est_cacerts, GET_FLAGS, NULL},
    {KH_HTTP_GET, EST "/csrattrs", est_csrattrs, GET_FLAGS, NULL},
    {KH_HTTP_POST, EST "/simpleenroll", est_simpleenroll, POST_FLAGS, NULL},
    {KH_HTTP_POST, EST "/simplereenroll", est_simplereenroll, POST_FLAGS, NULL},
    {KH_HTTP_POST, EST "/serverkeygen", est_serverkeygen, POST_FLAGS, NULL},
    {KH_HTTP_GET, EST "/{}/cacerts", est_label_cacerts, GET_FLAGS, NULL},
    {KH_HTTP_GET, EST "/{}/csrattrs", est_label_csrattrs, GET_FLAGS, NULL},
    {KH_HTTP_POST, EST "/{}/simpleenroll", est_label_simpleenroll, POST_FLAGS, NULL},
    {KH_HTTP_POST, EST "/{}/simplereenroll", est_label_simplereenroll, POST_FLAGS, NULL},
    {KH_HTTP_POST, EST "/{}/serverkeygen", est_label_serverkeygen, POST_FLAGS, NULL},
    {0, NULL, NULL, 0, NULL},
};
