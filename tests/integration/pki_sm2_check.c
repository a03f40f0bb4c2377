/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keyhold's own verifiers run on what a live keyholdd served for an SM2 hierarchy, for
 * tests/integration/pki_sm2.sh. OpenSSL 3.0 cannot check an SM2 chain above the leaf, nor SM2
 * CRLs and OCSP responses, under the GM/T identity (PKI.md, "SM2 facts that bite"), so the
 * script asks this program, and Bouncy Castle independently (BcSm2Check.java):
 *
 *   pki_sm2_check chain ROOT.pem CHAIN.pem LEAF.pem
 *       kh_pki_chain_verify now, with the GM/T ID on every certificate; CHAIN.pem holds the
 *       intermediates (a root among them is harmless). Prints "chain ok" and one
 *       "cert SERIAL SIGALG" line per certificate, leaf first.
 *   pki_sm2_check crl ISSUER.pem CRL.der
 *       kh_pki_crl_verify, then the CRL read back: "crl ok number N delta BASE|-" and one
 *       "entry SERIAL REASON" line per revoked certificate.
 *   pki_sm2_check ocsp ISSUER.pem REQ.der RESP.der
 *       kh_pki_ocsp_verify, then for each CertID of the request the single response for it,
 *       checked to name ISSUER: "ocsp SERIAL good|unknown" or "ocsp SERIAL revoked REASON";
 *       "nonce ok" when the request's nonce came back unchanged.
 *
 * Serials print as upper-case hex of the INTEGER's magnitude. Any failure prints
 * "FAIL: <what>: <code>" on stderr and exits 1; usage errors exit 2.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/kh_buf.h"
#include "crypto/kh_crypto.h"
#include "crypto/kh_pki_cert.h"
#include "crypto/kh_pki_status.h"

/* Test inputs are a few certificates, CRLs of a handful of entries and single OCSP answers:
 * 1 MiB is far above any of them and keeps a wrong argument from eating memory. */
#define FILE_MAX (1024u * 1024u)
/* A root, the intermediates of a two- or three-tier hierarchy, with room to spare. */
#define CHAIN_CERTS_MAX 8u
#define SM2_WITH_SM3_OID "1.2.156.10197.1.501"

static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";
static const char pem_end[] = "-----END CERTIFICATE-----";

/* RFC 5280 5.3.1 names, as keyhold's API and Bouncy Castle's check print them. */
static const char *const reason_names[] = {
    [KH_CRL_REASON_UNSPECIFIED] = "unspecified",
    [KH_CRL_REASON_KEY_COMPROMISE] = "keyCompromise",
    [KH_CRL_REASON_CA_COMPROMISE] = "cACompromise",
    [KH_CRL_REASON_AFFILIATION_CHANGED] = "affiliationChanged",
    [KH_CRL_REASON_SUPERSEDED] = "superseded",
    [KH_CRL_REASON_CESSATION_OF_OPERATION] = "cessationOfOperation",
    [KH_CRL_REASON_CERTIFICATE_HOLD] = "certificateHold",
    [KH_CRL_REASON_REMOVE_FROM_CRL] = "removeFromCRL",
    [KH_CRL_REASON_PRIVILEGE_WITHDRAWN] = "privilegeWithdrawn",
    [KH_CRL_REASON_AA_COMPROMISE] = "aACompromise",
};

static const char *reason_name(bool has_reason, enum kh_crl_reason r)
{
	if (!has_reason)
		return "none";
	size_t i = (size_t)r;
	if (i >= sizeof(reason_names) / sizeof(reason_names[0]) || reason_names[i] == NULL)
		return "invalid";
	return reason_names[i];
}

static int failed(const char *what, kh_rc rc)
{
	fprintf(stderr, "FAIL: %s: %s\n", what, kh_rc_name(rc));
	return 1;
}

static void print_hex(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		printf("%02X", p[i]);
}

/* Reads a whole file into out (initialised with max FILE_MAX): a longer file is
 * KH_ERR_TOO_LARGE rather than silently cut. */
static kh_rc file_read(const char *path, struct kh_buf *out)
{
	uint8_t chunk[4096];
	kh_rc rc = KH_OK;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		return KH_ERR_NOT_FOUND;
	}
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), f);
		if (n > 0)
			KH_GUARD_OUT(kh_buf_append(out, KH_SLICE(chunk, n)));
		if (n < sizeof(chunk))
			break;
	}
	KH_ENSURE_OUT(ferror(f) == 0, KH_ERR_STORAGE);
out:
	fclose(f);
	return rc;
}

/* One certificate from a PEM file of exactly one. */
static kh_rc cert_load(const char *path, struct kh_buf *out_der)
{
	struct kh_buf pem;
	kh_buf_init(&pem, FILE_MAX, KH_BUF_PLAIN);
	kh_rc rc = file_read(path, &pem);
	if (rc == KH_OK)
		rc = kh_pki_cert_from_pem(kh_buf_slice(&pem), out_der);
	kh_buf_cleanup(&pem);
	return rc;
}

/* The certificates of a PEM bundle, in order, each into its own buffer of ders[]. A bundle
 * with none, or with more than CHAIN_CERTS_MAX, is refused. */
static kh_rc bundle_load(const char *path, struct kh_buf *ders, size_t *out_count)
{
	struct kh_buf pem;
	size_t count = 0;
	kh_rc rc;

	kh_buf_init(&pem, FILE_MAX, KH_BUF_PLAIN);
	KH_GUARD_OUT(file_read(path, &pem));
	const char *text = kh_buf_cstr(&pem);
	for (const char *b = strstr(text, pem_begin); b != NULL; b = strstr(b, pem_begin)) {
		const char *e = strstr(b, pem_end);
		KH_ENSURE_OUT(e != NULL, KH_ERR_BAD_INPUT);
		KH_ENSURE_OUT(count < CHAIN_CERTS_MAX, KH_ERR_TOO_LARGE);
		e += sizeof(pem_end) - 1;
		KH_GUARD_OUT(kh_pki_cert_from_pem(KH_SLICE(b, (size_t)(e - b)), &ders[count]));
		count++;
		b = e;
	}
	KH_ENSURE_OUT(count > 0, KH_ERR_BAD_INPUT);
	*out_count = count;
out:
	kh_buf_cleanup(&pem);
	return rc;
}

/* "cert SERIAL SIGALG"; every certificate of an SM2 hierarchy is signed with SM2-with-SM3. */
static kh_rc cert_print(struct kh_slice der)
{
	struct kh_pki_cert_info *info = NULL;
	KH_GUARD(kh_pki_cert_info_read(der, &info));
	bool sm2 = strcmp(info->sig_alg_oid, SM2_WITH_SM3_OID) == 0;
	printf("cert %s %s\n", info->serial_hex, info->sig_alg_oid);
	kh_pki_cert_info_free(&info);
	return sm2 ? KH_OK : KH_ERR_WRONG_KEY_TYPE;
}

static int cmd_chain(const char *root_path, const char *chain_path, const char *leaf_path)
{
	struct kh_buf root, leaf, inter[CHAIN_CERTS_MAX];
	struct kh_slice inter_slices[CHAIN_CERTS_MAX];
	size_t inter_count = 0;
	char reason[256] = "";
	int status = 1;
	kh_rc rc;

	kh_buf_init(&root, FILE_MAX, KH_BUF_PLAIN);
	kh_buf_init(&leaf, FILE_MAX, KH_BUF_PLAIN);
	for (size_t i = 0; i < CHAIN_CERTS_MAX; i++)
		kh_buf_init(&inter[i], FILE_MAX, KH_BUF_PLAIN);
	if ((rc = cert_load(root_path, &root)) != KH_OK) {
		status = failed("root certificate", rc);
		goto out;
	}
	if ((rc = bundle_load(chain_path, inter, &inter_count)) != KH_OK) {
		status = failed("chain certificates", rc);
		goto out;
	}
	if ((rc = cert_load(leaf_path, &leaf)) != KH_OK) {
		status = failed("leaf certificate", rc);
		goto out;
	}
	for (size_t i = 0; i < inter_count; i++)
		inter_slices[i] = kh_buf_slice(&inter[i]);
	struct kh_slice root_slice = kh_buf_slice(&root);
	rc = kh_pki_chain_verify(kh_buf_slice(&leaf), inter_slices, inter_count, &root_slice, 1,
	                         (int64_t)time(NULL), reason, sizeof(reason));
	if (rc != KH_OK) {
		fprintf(stderr, "chain: %s\n", reason);
		status = failed("chain", rc);
		goto out;
	}
	printf("chain ok\n");
	if ((rc = cert_print(kh_buf_slice(&leaf))) != KH_OK) {
		status = failed("leaf signature algorithm", rc);
		goto out;
	}
	for (size_t i = 0; i < inter_count; i++) {
		if ((rc = cert_print(inter_slices[i])) != KH_OK) {
			status = failed("chain signature algorithm", rc);
			goto out;
		}
	}
	if ((rc = cert_print(root_slice)) != KH_OK) {
		status = failed("root signature algorithm", rc);
		goto out;
	}
	status = 0;
out:
	kh_buf_cleanup(&root);
	kh_buf_cleanup(&leaf);
	for (size_t i = 0; i < CHAIN_CERTS_MAX; i++)
		kh_buf_cleanup(&inter[i]);
	return status;
}

static void crl_print(const struct kh_pki_crl_info *info)
{
	printf("crl ok number %llu delta ", (unsigned long long)info->crl_number);
	if (info->delta)
		printf("%llu\n", (unsigned long long)info->base_crl_number);
	else
		printf("-\n");
	for (size_t i = 0; i < info->entry_count; i++) {
		const struct kh_pki_crl_info_entry *e = &info->entries[i];
		printf("entry ");
		print_hex(e->serial, e->serial_len);
		printf(" %s\n", reason_name(e->has_reason, e->reason));
	}
}

static int cmd_crl(const char *issuer_path, const char *crl_path)
{
	struct kh_buf issuer, crl;
	struct kh_pki_crl_info info = {0};
	bool parsed = false;
	int status = 1;
	kh_rc rc;

	kh_buf_init(&issuer, FILE_MAX, KH_BUF_PLAIN);
	kh_buf_init(&crl, FILE_MAX, KH_BUF_PLAIN);
	if ((rc = cert_load(issuer_path, &issuer)) != KH_OK) {
		status = failed("issuer certificate", rc);
		goto out;
	}
	if ((rc = file_read(crl_path, &crl)) != KH_OK) {
		status = failed("CRL file", rc);
		goto out;
	}
	/* The signature first: nothing is read from a CRL its issuer did not sign. */
	if ((rc = kh_pki_crl_verify(kh_buf_slice(&crl), kh_buf_slice(&issuer))) != KH_OK) {
		status = failed("CRL signature", rc);
		goto out;
	}
	if ((rc = kh_pki_crl_parse(kh_buf_slice(&crl), &info)) != KH_OK) {
		status = failed("CRL contents", rc);
		goto out;
	}
	parsed = true;
	/* RFC 5280 5.2.3: a conforming CRL issuer includes the CRL number. */
	if (!info.has_number) {
		status = failed("CRL number missing", KH_ERR_BAD_INPUT);
		goto out;
	}
	crl_print(&info);
	status = 0;
out:
	if (parsed)
		kh_pki_crl_info_cleanup(&info);
	kh_buf_cleanup(&issuer);
	kh_buf_cleanup(&crl);
	return status;
}

static bool certid_same(const struct kh_ocsp_certid *a, const struct kh_ocsp_certid *b)
{
	return a->hash == b->hash && a->hash_len == b->hash_len &&
	       memcmp(a->name_hash, b->name_hash, a->hash_len) == 0 &&
	       memcmp(a->key_hash, b->key_hash, a->hash_len) == 0 &&
	       a->serial_len == b->serial_len && memcmp(a->serial, b->serial, a->serial_len) == 0;
}

/* One "ocsp SERIAL STATUS [REASON]" line for the request's CertID id, whose answer must be in
 * the response and name the issuer. */
static kh_rc single_print(const struct kh_ocsp_certid *id, const struct kh_ocsp_response_info *resp,
                          struct kh_slice issuer)
{
	static const char *const status_names[] = {"good", "revoked", "unknown"};
	bool match = false;

	KH_GUARD(kh_pki_ocsp_certid_matches(id, issuer, &match));
	KH_ENSURE(match, KH_ERR_BAD_INPUT);
	for (size_t i = 0; i < resp->single_count; i++) {
		const struct kh_ocsp_single *s = &resp->singles[i];
		if (!certid_same(id, &s->id))
			continue;
		KH_ENSURE((size_t)s->status < sizeof(status_names) / sizeof(status_names[0]),
		          KH_ERR_BAD_INPUT);
		printf("ocsp ");
		print_hex(id->serial, id->serial_len);
		printf(" %s", status_names[s->status]);
		if (s->status == KH_OCSP_REVOKED)
			printf(" %s", reason_name(s->has_reason, s->reason));
		printf("\n");
		return KH_OK;
	}
	return KH_ERR_NOT_FOUND;
}

/* RFC 8954 / RFC 6960 4.4.1: the responder echoes the request's nonce unchanged. */
static kh_rc nonce_check(const struct kh_ocsp_request *req,
                         const struct kh_ocsp_response_info *resp)
{
	if (!req->has_nonce)
		return KH_OK;
	KH_ENSURE(resp->has_nonce && resp->nonce_len == req->nonce_len &&
	              memcmp(resp->nonce, req->nonce, req->nonce_len) == 0,
	          KH_ERR_BAD_INPUT);
	printf("nonce ok\n");
	return KH_OK;
}

static kh_rc ocsp_check(struct kh_slice issuer, struct kh_slice req_der, struct kh_slice resp_der,
                        const char **out_what)
{
	/* The parsed forms hold fixed arrays of KH_PKI_OCSP_CERTIDS_MAX entries: too big for
	 * comfort on the stack, and this program checks one response per run. */
	static struct kh_ocsp_request req;
	static struct kh_ocsp_response_info resp;

	*out_what = "OCSP request";
	KH_GUARD(kh_pki_ocsp_request_parse(req_der, &req));
	*out_what = "OCSP signature";
	KH_GUARD(kh_pki_ocsp_verify(resp_der, issuer));
	*out_what = "OCSP response";
	KH_GUARD(kh_pki_ocsp_response_parse(resp_der, &resp));
	KH_ENSURE(resp.status == KH_OCSP_SUCCESSFUL, KH_ERR_BAD_INPUT);
	for (size_t i = 0; i < req.id_count; i++) {
		*out_what = "OCSP single response";
		KH_GUARD(single_print(&req.ids[i], &resp, issuer));
	}
	*out_what = "OCSP nonce";
	return nonce_check(&req, &resp);
}

static int cmd_ocsp(const char *issuer_path, const char *req_path, const char *resp_path)
{
	struct kh_buf issuer, req, resp;
	const char *what = "";
	int status = 1;
	kh_rc rc;

	kh_buf_init(&issuer, FILE_MAX, KH_BUF_PLAIN);
	kh_buf_init(&req, FILE_MAX, KH_BUF_PLAIN);
	kh_buf_init(&resp, FILE_MAX, KH_BUF_PLAIN);
	if ((rc = cert_load(issuer_path, &issuer)) != KH_OK) {
		status = failed("issuer certificate", rc);
		goto out;
	}
	if ((rc = file_read(req_path, &req)) != KH_OK ||
	    (rc = file_read(resp_path, &resp)) != KH_OK) {
		status = failed("OCSP files", rc);
		goto out;
	}
	rc = ocsp_check(kh_buf_slice(&issuer), kh_buf_slice(&req), kh_buf_slice(&resp), &what);
	if (rc != KH_OK) {
		status = failed(what, rc);
		goto out;
	}
	status = 0;
out:
	kh_buf_cleanup(&issuer);
	kh_buf_cleanup(&req);
	kh_buf_cleanup(&resp);
	return status;
}

static int run_chain(char **args)
{
	return cmd_chain(args[0], args[1], args[2]);
}

static int run_crl(char **args)
{
	return cmd_crl(args[0], args[1]);
}

static int run_ocsp(char **args)
{
	return cmd_ocsp(args[0], args[1], args[2]);
}

static const struct command {
	const char *name;
	int arg_count;
	int (*run)(char **args);
} commands[] = {
    {"chain", 3, run_chain},
    {"crl", 2, run_crl},
    {"ocsp", 3, run_ocsp},
};

static int usage(void)
{
	fprintf(stderr, "usage: pki_sm2_check chain ROOT.pem CHAIN.pem LEAF.pem\n"
	                "       pki_sm2_check crl ISSUER.pem CRL.der\n"
	                "       pki_sm2_check ocsp ISSUER.pem REQ.der RESP.der\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		if (strcmp(argv[1], c->name) != 0)
			continue;
		if (argc != c->arg_count + 2)
			return usage();
		kh_rc rc = kh_crypto_init();
		if (rc != KH_OK)
			return failed("crypto init", rc);
		return c->run(argv + 2);
	}
	return usage();
}
