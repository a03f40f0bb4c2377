// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold pki ...: the certificate authorities of a key store (API.md "PKI", docs/pki.md):
 * CAs, their profiles, registration requests (submit, approve, reject), certificates
 * (download, revoke, hold, release, status) and CRLs, the last also fetched without a token
 * from the unauthenticated /pki/{ca}/ endpoints relying parties use; trust anchors (outside
 * roots an external CA may chain to), the trust list (the anchors and the root CAs as one PEM
 * bundle) and the delegated OCSP responder of a CA.
 *
 * Each command first turns its arguments into one call (method, path, JSON body) without
 * touching the network: cli_pki_build, which the unit tests drive. Everything the server
 * would refuse for its shape (ids, serials, enum values, reason names, URLs) is refused here
 * first as a usage error. Certificates, CSRs and CRLs are public: files get mode 0644 and are
 * replaced atomically. No private key ever passes through these commands.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_limits.h"
#include "cli/kh_cli.h"

#define CA_NAME_MAX 48u          /* the CA's key is "pki-ca.<name>" */
#define EST_LABEL_MAX 32u        /* KH_PKI_EST_LABEL_MAX */
#define SUBJECT_MAX 1024u        /* an RFC 4514 name */
#define VALIDITY_DAYS_MAX 36500u /* 100 years, the server's bound */
#define PATH_LEN_MAX 255u
#define URL_MAX 511u            /* a CRL distribution point or AIA URL */
#define REASON_MAX 255u         /* a rejection reason, free text */
#define TOKEN_MAX 128u          /* one key usage or EKU name, one dotted OID */
#define RESPONDER_DAYS_MAX 365u /* a responder certificate is short-lived: the server's bound */
/* A CSR or a certificate chain in PEM: a few certificates fit in 64 KiB. */
#define PEM_FILE_MAX KH_LIMIT_KEY_ENCODED_BYTES
/* What is written out: a certificate and its chain, or a CRL. */
#define SAVE_MAX (4u * 1024u * 1024u)

static const char *const key_types[] = {
    "rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ecdsa-p384", "ed25519", "sm2", NULL,
};
#define KEY_TYPES_TEXT "rsa-2048, rsa-3072, rsa-4096, ecdsa-p256, ecdsa-p384, ed25519 or sm2"

/* RFC 5280 4.2.1.3, the names OpenSSL uses. */
static const char *const key_usages[] = {
    "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
    "keyAgreement",     "keyCertSign",    "cRLSign",         NULL,
};
/* RFC 5280 4.2.1.12 purposes by name; anything else as a dotted OID. */
static const char *const eku_names[] = {
    "serverAuth",  "clientAuth",   "codeSigning", "emailProtection",
    "OCSPSigning", "timeStamping", NULL,
};
/* RFC 5280 5.3.1 reasons a revocation may give: certificateHold is "cert hold", and
 * removeFromCRL appears only in delta CRLs. */
static const char *const reasons[] = {
    "unspecified",        "keyCompromise", "cACompromise",
    "affiliationChanged", "superseded",    "cessationOfOperation",
    "privilegeWithdrawn", "aACompromise",  NULL,
};

static const char *const ca_kinds[] = {"root", "intermediate", "external", NULL};
static const char *const approvals[] = {"auto", "required", NULL};
static const char *const cert_kinds[] = {"sign", "encrypt", "both", NULL};
static const char *const envelope_forms[] = {"skf", "gmt0009", "cms", NULL};
static const char *const request_states[] = {"pending", "approved", "rejected", "issued", NULL};
static const char *const cert_states[] = {"good", "revoked", "hold", NULL};
static const char *const cert_labels[] = {"-----BEGIN CERTIFICATE-----", NULL};

/* ---- checks (unit-tested) ---- */

static bool one_of(const char *v, const char *const *names)
{
	for (size_t i = 0; v != NULL && names[i] != NULL; i++) {
		if (strcmp(v, names[i]) == 0)
			return true;
	}
	return false;
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

bool cli_pki_serial_parse(const char *text, char out[CLI_PKI_SERIAL_SIZE])
{
	char tmp[CLI_PKI_SERIAL_SIZE];
	size_t n = 0;
	/* "0A:1B:..." as openssl x509 -text prints it, or "0A1B..." as -serial does. */
	for (const char *p = text; p != NULL && *p != '\0'; p++) {
		if (*p == ':' && p != text && p[1] != '\0' && p[1] != ':')
			continue;
		if (!is_hex(*p) || n + 1 >= sizeof(tmp))
			return false;
		tmp[n++] = (char)(*p >= 'a' ? *p - ('a' - 'A') : *p);
	}
	if (n == 0)
		return false;
	tmp[n] = '\0';
	memcpy(out, tmp, n + 1);
	return true;
}

bool cli_pki_reason_ok(const char *name)
{
	return one_of(name, reasons);
}

/* Printable ASCII or UTF-8, 1..max bytes, no control characters. */
static bool text_ok(const char *s, size_t max)
{
	size_t n = s != NULL ? strnlen(s, max + 1) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	}
	return true;
}

static bool url_ok(const char *s)
{
	bool scheme = strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
	if (!scheme || !text_ok(s, URL_MAX))
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ' ' || (unsigned char)*p >= 0x80)
			return false;
	}
	return true;
}

static bool oid_ok(const char *s)
{
	bool dot = false, digit = false;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (!digit)
				return false;
			dot = true;
			digit = false;
		} else if (*p >= '0' && *p <= '9') {
			digit = true;
		} else {
			return false;
		}
	}
	return dot && digit;
}

static bool key_usage_ok(const char *s)
{
	return one_of(s, key_usages);
}

static bool eku_ok(const char *s)
{
	return one_of(s, eku_names) || oid_ok(s);
}

static bool key_type_ok(const char *s)
{
	return one_of(s, key_types);
}

/* ---- members ---- */

static void string_member(struct kh_json_writer *w, const char *member, const char *v)
{
	kh_json_key(w, member);
	kh_json_cstr(w, v);
}

/* --opt NAME, one of names (hint lists them); absent is fine unless required. */
static int enum_member(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                       const char *member, const char *const *names, const char *hint)
{
	const char *v = cli_opt(a, opt);
	if (v == NULL)
		return KH_EXIT_OK;
	if (!one_of(v, names))
		return cli_usage_error("--%s is %s, not '%s'", opt, hint, v);
	string_member(w, member, v);
	return KH_EXIT_OK;
}

/* Every --opt, each a value or a comma-separated list of them, as one array member. */
static int list_member(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                       const char *member, bool (*ok)(const char *), const char *hint)
{
	if (cli_opt(a, opt) == NULL)
		return KH_EXIT_OK;
	kh_json_key(w, member);
	kh_json_array_begin(w);
	for (unsigned i = 0; cli_opt_nth(a, opt, i) != NULL; i++) {
		const char *p = cli_opt_nth(a, opt, i);
		do {
			const char *end = strchr(p, ',');
			size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
			char tok[TOKEN_MAX + 1];
			snprintf(tok, sizeof(tok), "%.*s", (int)(n < TOKEN_MAX ? n : TOKEN_MAX), p);
			if (n == 0 || n > TOKEN_MAX || !ok(tok))
				return cli_usage_error("--%s: '%.*s' is not %s", opt, (int)n, p,
				                       hint);
			kh_json_cstr(w, tok);
			p = end != NULL ? end + 1 : NULL;
		} while (p != NULL);
	}
	kh_json_array_end(w);
	return KH_EXIT_OK;
}

/* --opt URL (update: "" clears it). */
static int url_member(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                      const char *member, bool update)
{
	const char *v = cli_opt(a, opt);
	if (v == NULL)
		return KH_EXIT_OK;
	if (!(update && v[0] == '\0') && !url_ok(v))
		return cli_usage_error("--%s must be an http:// or https:// URL of at most %u "
		                       "characters%s",
		                       opt, URL_MAX, update ? " (or \"\" for none)" : "");
	string_member(w, member, v);
	return KH_EXIT_OK;
}

/* --opt NAME of [A-Za-z0-9_.-] up to max (update: "" clears it). */
static int name_member(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                       const char *member, unsigned max, bool update)
{
	const char *v = cli_opt(a, opt);
	if (v == NULL)
		return KH_EXIT_OK;
	if (!(update && v[0] == '\0') && !cli_segment_ok(v, max))
		return cli_usage_error("--%s must be 1-%u of A-Z a-z 0-9 _ . -%s", opt, max,
		                       update ? " (or \"\" for none)" : "");
	string_member(w, member, v);
	return KH_EXIT_OK;
}

static bool est_auth_ok(const char *v)
{
	return strcmp(v, "basic") == 0 || strcmp(v, "cert") == 0;
}

/* ---- paths ---- */

static int id_arg(const struct cli_args *a, unsigned i, const char *what, uint64_t *out)
{
	return cli_uint(cli_pos(a, i), what, 1, INT64_MAX, out);
}

/* /v1/pki/<collection>/<positional i as an id><suffix> */
static int id_path(const struct cli_args *a, unsigned i, const char *what, const char *collection,
                   const char *suffix, struct cli_pki_call *out)
{
	uint64_t id = 0;
	int ex = id_arg(a, i, what, &id);
	if (ex != KH_EXIT_OK)
		return ex;
	int n = snprintf(out->path, sizeof(out->path), "/v1/pki/%s/%llu%s", collection,
	                 (unsigned long long)id, suffix);
	return n > 0 && (size_t)n < sizeof(out->path) ? KH_EXIT_OK
	                                              : cli_usage_error("path too long");
}

static int ca_path(const struct cli_args *a, const char *suffix, struct cli_pki_call *out)
{
	return id_path(a, 0, "CA", "cas", suffix, out);
}

/* /v1/pki/cas/<CA>/profiles/<NAME> */
static int profile_path(const struct cli_args *a, struct cli_pki_call *out)
{
	char suffix[CLI_PATH_MAX];
	int ex = cli_path(suffix, sizeof(suffix), "/profiles/%s", cli_pos(a, 1));
	return ex != KH_EXIT_OK ? ex : ca_path(a, suffix, out);
}

static int serial_path(const struct cli_args *a, const char *suffix, struct cli_pki_call *out)
{
	char serial[CLI_PKI_SERIAL_SIZE];
	if (!cli_pki_serial_parse(cli_pos(a, 0), serial))
		return cli_usage_error("'%s' is not a certificate serial number (1-40 hex digits)",
		                       cli_pos(a, 0));
	int n = snprintf(out->path, sizeof(out->path), "/v1/pki/certificates/%s%s", serial, suffix);
	return n > 0 && (size_t)n < sizeof(out->path) ? KH_EXIT_OK
	                                              : cli_usage_error("path too long");
}

/* --opt ID as ?name=ID */
static int id_query(const struct cli_args *a, const char *opt, const char *name,
                    struct cli_pki_call *out)
{
	const char *v = cli_opt(a, opt);
	char flag[40];
	uint64_t id = 0;
	if (v == NULL)
		return KH_EXIT_OK;
	snprintf(flag, sizeof(flag), "--%s", opt);
	int ex = cli_uint(v, flag, 1, INT64_MAX, &id);
	return ex != KH_EXIT_OK ? ex : cli_query(out->path, sizeof(out->path), name, v);
}

static int enum_query(const struct cli_args *a, const char *opt, const char *const *names,
                      const char *hint, struct cli_pki_call *out)
{
	const char *v = cli_opt(a, opt);
	if (v != NULL && !one_of(v, names))
		return cli_usage_error("--%s is %s, not '%s'", opt, hint, v);
	return cli_query(out->path, sizeof(out->path), opt, v);
}

/* ---- files ---- */

/* PEM is ASCII text: anything else (DER, another encoding) is not sent as a JSON string. */
static bool pem_text_ok(struct kh_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t ch = s.ptr[i];
		if ((ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t') || ch >= 0x7f)
			return false;
	}
	return true;
}

/* A PEM file (or standard input) with a BEGIN <one of labels> line. */
static int read_pem(const char *path, const char *what, const char *const *labels,
                    struct cli_pki_call *out, const char *member)
{
	struct kh_buf pem;
	kh_buf_init(&pem, PEM_FILE_MAX, KH_BUF_PLAIN);
	int ex = cli_read_input(path, &pem, what);
	const char *text = ex == KH_EXIT_OK ? kh_buf_cstr(&pem) : NULL;
	bool found = false;
	for (size_t i = 0; text != NULL && labels[i] != NULL; i++)
		found = found || strstr(text, labels[i]) != NULL;
	if (ex == KH_EXIT_OK && (!found || !pem_text_ok(kh_buf_slice(&pem))))
		ex = cli_fail("%s is not a PEM %s (openssl ... -outform PEM writes one)",
		              path != NULL && strcmp(path, "-") != 0 ? path : "standard input",
		              what);
	if (ex == KH_EXIT_OK) {
		kh_json_key(&out->body.w, member);
		kh_json_string(&out->body.w, kh_buf_slice(&pem));
	}
	kh_buf_cleanup(&pem);
	return ex;
}

/* ---- building the calls ---- */

static void call_set(struct cli_pki_call *out, const char *method, bool has_body)
{
	out->method = method;
	out->has_body = has_body;
	if (has_body)
		kh_json_object_begin(&out->body.w);
}

static int ca_create_checks(const struct cli_args *a, const char *kind)
{
	bool external = kind != NULL && strcmp(kind, "external") == 0;
	if (!cli_segment_ok(cli_pos(a, 0), CA_NAME_MAX))
		return cli_usage_error("'%s' is not a CA name (1-%u of A-Z a-z 0-9 _ . -)",
		                       cli_pos(a, 0), CA_NAME_MAX);
	if (kind == NULL || cli_opt(a, "key-type") == NULL || cli_opt(a, "subject") == NULL)
		return cli_usage_error("--kind, --key-type and --subject are required");
	if (!key_type_ok(cli_opt(a, "key-type")))
		return cli_usage_error("--key-type is " KEY_TYPES_TEXT);
	if (!text_ok(cli_opt(a, "subject"), SUBJECT_MAX))
		return cli_usage_error("--subject must be a distinguished name such as "
		                       "\"CN=Example Root CA,O=Example\"");
	if ((cli_opt(a, "parent") != NULL) != (strcmp(kind, "intermediate") == 0))
		return cli_usage_error(
		    "--parent is required for an intermediate CA, and only there");
	if (external && cli_opt(a, "validity-days") != NULL)
		return cli_usage_error(
		    "an external CA's validity is chosen by the CA that signs it");
	if (external != (cli_opt(a, "output") != NULL))
		return cli_usage_error("-o FILE is required for an external CA (the CSR to send to "
		                       "the issuing CA), and only there");
	return KH_EXIT_OK;
}

static int build_ca_create(const struct cli_args *a, struct cli_pki_call *out)
{
	const char *kind = cli_opt(a, "kind");
	uint64_t parent = 0;
	if (kind != NULL && !one_of(kind, ca_kinds))
		return cli_usage_error("--kind is root, intermediate or external, not '%s'", kind);
	int ex = ca_create_checks(a, kind);
	if (ex == KH_EXIT_OK && cli_opt(a, "parent") != NULL)
		ex = cli_uint(cli_opt(a, "parent"), "--parent", 1, INT64_MAX, &parent);
	if (ex != KH_EXIT_OK)
		return ex;
	snprintf(out->path, sizeof(out->path), "/v1/pki/cas");
	call_set(out, "POST", true);
	string_member(&out->body.w, "name", cli_pos(a, 0));
	string_member(&out->body.w, "kind", kind);
	string_member(&out->body.w, "key_type", cli_opt(a, "key-type"));
	string_member(&out->body.w, "subject", cli_opt(a, "subject"));
	ex = cli_json_opt_uint(a, &out->body.w, "validity-days", "validity_days", 1,
	                       VALIDITY_DAYS_MAX);
	if (parent != 0) {
		kh_json_key(&out->body.w, "parent");
		kh_json_uint(&out->body.w, parent);
	}
	return ex;
}

static int build_ca_list(const struct cli_args *a, struct cli_pki_call *out)
{
	(void)a;
	snprintf(out->path, sizeof(out->path), "/v1/pki/cas");
	call_set(out, "GET", false);
	return KH_EXIT_OK;
}

static int build_ca_get(const struct cli_args *a, struct cli_pki_call *out)
{
	if (cli_flag(a, "chain") && cli_opt(a, "output") == NULL)
		return cli_usage_error(
		    "--chain writes a file: give -o FILE (- for standard output)");
	call_set(out, "GET", false);
	return ca_path(a, "", out);
}

static int build_ca_install(const struct cli_args *a, struct cli_pki_call *out)
{
	int ex = ca_path(a, "/certificate", out);
	if (ex != KH_EXIT_OK)
		return ex;
	call_set(out, "PUT", true);
	return read_pem(cli_pos(a, 1), "certificate", cert_labels, out, "certificate_pem");
}

/* The members profile create and update share; update may also clear and switch off. */
static int profile_members(const struct cli_args *a, struct kh_json_writer *w, bool update)
{
	bool ca = cli_flag(a, "ca"), no_ca = update && cli_flag(a, "no-ca");
	if (ca && no_ca)
		return cli_usage_error("give --ca or --no-ca, not both");
	if (cli_opt(a, "path-len") != NULL && !ca)
		return cli_usage_error("--path-len goes with --ca");
	int ex =
	    list_member(a, w, "key-type", "key_types", key_type_ok, "a key type: " KEY_TYPES_TEXT);
	if (ex == KH_EXIT_OK)
		ex =
		    cli_json_opt_uint(a, w, "validity-days", "validity_days", 1, VALIDITY_DAYS_MAX);
	if (ex == KH_EXIT_OK)
		ex = list_member(a, w, "key-usage", "key_usage", key_usage_ok,
		                 "a key usage: digitalSignature, nonRepudiation, keyEncipherment, "
		                 "dataEncipherment, keyAgreement, keyCertSign or cRLSign");
	if (ex == KH_EXIT_OK)
		ex = list_member(
		    a, w, "eku", "extended_key_usage", eku_ok,
		    "serverAuth, clientAuth, codeSigning, emailProtection, OCSPSigning, "
		    "timeStamping or a dotted OID");
	if (ex == KH_EXIT_OK && (ca || no_ca)) {
		kh_json_key(w, "is_ca");
		kh_json_bool(w, ca);
	}
	if (ex == KH_EXIT_OK)
		ex = cli_json_opt_uint(a, w, "path-len", "path_len", 0, PATH_LEN_MAX);
	if (ex == KH_EXIT_OK)
		ex = enum_member(a, w, "approval", "approval", approvals, "auto or required");
	if (ex == KH_EXIT_OK)
		ex = enum_member(a, w, "kind", "kind", cert_kinds, "sign, encrypt or both");
	if (ex == KH_EXIT_OK)
		ex = url_member(a, w, "crl-url", "crl_url", update);
	if (ex == KH_EXIT_OK)
		ex = url_member(a, w, "ocsp-url", "ocsp_url", update);
	if (ex == KH_EXIT_OK)
		ex = url_member(a, w, "ca-issuers-url", "ca_issuers_url", update);
	if (ex == KH_EXIT_OK)
		ex = name_member(a, w, "dual-profile", "dual_profile", KH_LIMIT_NAME_MAX, update);
	if (ex == KH_EXIT_OK)
		ex = name_member(a, w, "est-label", "est_label", EST_LABEL_MAX, update);
	if (ex == KH_EXIT_OK)
		ex = list_member(a, w, "est-auth", "est_auth", est_auth_ok, "basic or cert");
	return ex;
}

static int build_profile_create(const struct cli_args *a, struct cli_pki_call *out)
{
	if (!cli_segment_ok(cli_pos(a, 1), KH_LIMIT_NAME_MAX))
		return cli_usage_error("'%s' is not a profile name (1-%u of A-Z a-z 0-9 _ . -)",
		                       cli_pos(a, 1), KH_LIMIT_NAME_MAX);
	int ex = ca_path(a, "/profiles", out);
	if (ex != KH_EXIT_OK)
		return ex;
	call_set(out, "POST", true);
	string_member(&out->body.w, "name", cli_pos(a, 1));
	return profile_members(a, &out->body.w, false);
}

static int build_profile_list(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "GET", false);
	return ca_path(a, "/profiles", out);
}

static int build_profile_get(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "GET", false);
	return profile_path(a, out);
}

static int build_profile_update(const struct cli_args *a, struct cli_pki_call *out)
{
	int ex = profile_path(a, out);
	if (ex != KH_EXIT_OK)
		return ex;
	if (a->occ_count == 0)
		return cli_usage_error("give at least one option to change (keyhold pki profile "
		                       "update --help)");
	call_set(out, "PATCH", true);
	return profile_members(a, &out->body.w, true);
}

static int build_request_submit(const struct cli_args *a, struct cli_pki_call *out)
{
	static const char *const labels[] = {"-----BEGIN CERTIFICATE REQUEST-----",
	                                     "-----BEGIN NEW CERTIFICATE REQUEST-----", NULL};
	uint64_t ca = 0;
	int ex = id_arg(a, 0, "CA", &ca);
	if (ex != KH_EXIT_OK)
		return ex;
	if (!cli_segment_ok(cli_pos(a, 1), KH_LIMIT_NAME_MAX))
		return cli_usage_error("'%s' is not a profile name (1-%u of A-Z a-z 0-9 _ . -)",
		                       cli_pos(a, 1), KH_LIMIT_NAME_MAX);
	snprintf(out->path, sizeof(out->path), "/v1/pki/requests");
	call_set(out, "POST", true);
	kh_json_key(&out->body.w, "ca");
	kh_json_uint(&out->body.w, ca);
	string_member(&out->body.w, "profile", cli_pos(a, 1));
	ex = enum_member(a, &out->body.w, "envelope-form", "envelope_form", envelope_forms,
	                 "skf, gmt0009 or cms");
	return ex != KH_EXIT_OK
	           ? ex
	           : read_pem(cli_pos(a, 2), "certificate request", labels, out, "csr");
}

static int build_request_list(const struct cli_args *a, struct cli_pki_call *out)
{
	snprintf(out->path, sizeof(out->path), "/v1/pki/requests");
	call_set(out, "GET", false);
	int ex =
	    enum_query(a, "status", request_states, "pending, approved, rejected or issued", out);
	if (ex == KH_EXIT_OK)
		ex = id_query(a, "ca", "ca", out);
	return ex != KH_EXIT_OK ? ex : cli_page_query(a, out->path, sizeof(out->path));
}

static int build_request_get(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "GET", false);
	return id_path(a, 0, "ID", "requests", "", out);
}

static int build_request_approve(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "POST", false);
	return id_path(a, 0, "ID", "requests", "/approve", out);
}

static int build_request_reject(const struct cli_args *a, struct cli_pki_call *out)
{
	const char *reason = cli_opt(a, "reason");
	int ex = id_path(a, 0, "ID", "requests", "/reject", out);
	if (ex != KH_EXIT_OK)
		return ex;
	if (reason != NULL && !text_ok(reason, REASON_MAX))
		return cli_usage_error("--reason must be 1-%u characters of text", REASON_MAX);
	call_set(out, "POST", true);
	if (reason != NULL)
		string_member(&out->body.w, "reason", reason);
	return KH_EXIT_OK;
}

static int build_cert_list(const struct cli_args *a, struct cli_pki_call *out)
{
	snprintf(out->path, sizeof(out->path), "/v1/pki/certificates");
	call_set(out, "GET", false);
	int ex = id_query(a, "ca", "ca", out);
	if (ex == KH_EXIT_OK)
		ex = enum_query(a, "status", cert_states, "good, revoked or hold", out);
	return ex != KH_EXIT_OK ? ex : cli_page_query(a, out->path, sizeof(out->path));
}

static int build_cert_get(const struct cli_args *a, struct cli_pki_call *out)
{
	bool der = cli_flag(a, "der");
	if (der && cli_flag(a, "chain"))
		return cli_usage_error("--der is one certificate: --chain needs PEM");
	if ((der || cli_flag(a, "chain")) && cli_opt(a, "output") == NULL)
		return cli_usage_error("--%s writes a file: give -o FILE (- for standard output)",
		                       der ? "der" : "chain");
	call_set(out, "GET", false);
	return serial_path(a, der ? "?format=der" : "", out);
}

static int build_cert_revoke(const struct cli_args *a, struct cli_pki_call *out)
{
	const char *reason = cli_opt(a, "reason");
	int ex = serial_path(a, "/revoke", out);
	if (ex != KH_EXIT_OK)
		return ex;
	if (reason != NULL && strcmp(reason, "certificateHold") == 0)
		return cli_usage_error(
		    "to put a certificate on hold: keyhold pki cert hold SERIAL");
	if (!cli_pki_reason_ok(reason))
		return cli_usage_error("--reason is required: unspecified, keyCompromise, "
		                       "cACompromise, affiliationChanged, superseded, "
		                       "cessationOfOperation, privilegeWithdrawn or aACompromise");
	call_set(out, "POST", true);
	string_member(&out->body.w, "reason", reason);
	return KH_EXIT_OK;
}

static int build_cert_hold(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "POST", false);
	return serial_path(a, "/hold", out);
}

static int build_cert_release(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "POST", false);
	return serial_path(a, "/release", out);
}

static int build_cert_status(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "GET", false);
	return serial_path(a, "/status", out);
}

static int build_crl_generate(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "POST", false);
	return ca_path(a, cli_flag(a, "delta") ? "/crl?delta=true" : "/crl", out);
}

/* The unauthenticated endpoint: the CA by id or name, as relying parties see it. */
static int build_crl_get(const struct cli_args *a, struct cli_pki_call *out)
{
	if (cli_opt(a, "output") == NULL)
		return cli_usage_error("a CRL is DER: give -o FILE (- for standard output)");
	call_set(out, "GET", false);
	return cli_path(out->path, sizeof(out->path),
	                cli_flag(a, "delta") ? "/pki/%s/delta-crl" : "/pki/%s/crl", cli_pos(a, 0));
}

/* A root certificate from outside that an external CA's certificate may chain to. */
static int build_anchor_add(const struct cli_args *a, struct cli_pki_call *out)
{
	if (!cli_segment_ok(cli_pos(a, 0), KH_LIMIT_NAME_MAX))
		return cli_usage_error(
		    "'%s' is not a trust anchor name (1-%u of A-Z a-z 0-9 _ . -)", cli_pos(a, 0),
		    KH_LIMIT_NAME_MAX);
	snprintf(out->path, sizeof(out->path), "/v1/pki/trust-anchors");
	call_set(out, "POST", true);
	string_member(&out->body.w, "name", cli_pos(a, 0));
	return read_pem(cli_pos(a, 1), "certificate", cert_labels, out, "certificate_pem");
}

/* --keystore-id: an operator names the key store; an account always sees its own. */
static int build_anchor_list(const struct cli_args *a, struct cli_pki_call *out)
{
	snprintf(out->path, sizeof(out->path), "/v1/pki/trust-anchors");
	call_set(out, "GET", false);
	return id_query(a, "keystore-id", "keystore_id", out);
}

static int build_anchor_get(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "GET", false);
	return id_path(a, 0, "ID", "trust-anchors", "", out);
}

static int build_anchor_remove(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "DELETE", false);
	return id_path(a, 0, "ID", "trust-anchors", "", out);
}

static int build_trust_list(const struct cli_args *a, struct cli_pki_call *out)
{
	snprintf(out->path, sizeof(out->path), "/v1/pki/trust-list");
	call_set(out, "GET", false);
	return id_query(a, "keystore-id", "keystore_id", out);
}

static int build_responder_issue(const struct cli_args *a, struct cli_pki_call *out)
{
	int ex = ca_path(a, "/ocsp-responder", out);
	if (ex != KH_EXIT_OK)
		return ex;
	call_set(out, "POST", true);
	ex = cli_json_opt_uint(a, &out->body.w, "validity-days", "validity_days", 1,
	                       RESPONDER_DAYS_MAX);
	if (ex == KH_EXIT_OK && cli_flag(a, "new-key")) {
		kh_json_key(&out->body.w, "new_key");
		kh_json_bool(&out->body.w, true);
	}
	return ex;
}

static int build_responder_get(const struct cli_args *a, struct cli_pki_call *out)
{
	bool der = cli_flag(a, "der");
	if (der && cli_opt(a, "output") == NULL)
		return cli_usage_error("--der writes a file: give -o FILE (- for standard output)");
	call_set(out, "GET", false);
	return ca_path(a, der ? "/ocsp-responder?format=der" : "/ocsp-responder", out);
}

static int build_responder_remove(const struct cli_args *a, struct cli_pki_call *out)
{
	call_set(out, "DELETE", false);
	return ca_path(a, "/ocsp-responder", out);
}

typedef int (*build_fn)(const struct cli_args *a, struct cli_pki_call *out);

static const struct {
	const char *name;
	build_fn build;
} builders[] = {
    {"ca create", build_ca_create},
    {"ca list", build_ca_list},
    {"ca get", build_ca_get},
    {"ca install", build_ca_install},
    {"ca responder issue", build_responder_issue},
    {"ca responder get", build_responder_get},
    {"ca responder remove", build_responder_remove},
    {"profile create", build_profile_create},
    {"profile list", build_profile_list},
    {"profile get", build_profile_get},
    {"profile update", build_profile_update},
    {"request submit", build_request_submit},
    {"request list", build_request_list},
    {"request get", build_request_get},
    {"request approve", build_request_approve},
    {"request reject", build_request_reject},
    {"cert list", build_cert_list},
    {"cert get", build_cert_get},
    {"cert revoke", build_cert_revoke},
    {"cert hold", build_cert_hold},
    {"cert release", build_cert_release},
    {"cert status", build_cert_status},
    {"crl generate", build_crl_generate},
    {"crl get", build_crl_get},
    {"anchor add", build_anchor_add},
    {"anchor list", build_anchor_list},
    {"anchor get", build_anchor_get},
    {"anchor remove", build_anchor_remove},
    {"trust-list", build_trust_list},
};

int cli_pki_build(const struct cli_args *a, struct cli_pki_call *out)
{
	out->method = NULL;
	out->path[0] = '\0';
	out->has_body = false;
	cli_body_init(&out->body);
	for (size_t i = 0; i < sizeof(builders) / sizeof(builders[0]); i++) {
		if (strcmp(a->cmd->name, builders[i].name) == 0) {
			int ex = builders[i].build(a, out);
			if (ex == KH_EXIT_OK && out->has_body)
				kh_json_object_end(&out->body.w);
			return ex;
		}
	}
	return cli_fail("no request for 'pki %s'", a->cmd->name);
}

void cli_pki_call_cleanup(struct cli_pki_call *call)
{
	cli_body_cleanup(&call->body);
}

/* ---- showing ---- */

static void show_ca(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "id",
	    "name",
	    "kind",
	    "key_type",
	    "key",
	    "subject",
	    "parent",
	    "trust_anchor",
	    "not_after",
	    "ocsp_responder.key",
	    "ocsp_responder.not_after",
	    "created_at",
	    NULL,
	};
	cli_show_fields(doc, fields);
}

static void show_cas(const struct kh_json *doc)
{
	static const char *const cols[] = {"id",      "name",   "kind",      "key_type",
	                                   "subject", "parent", "not_after", NULL};
	static const char *const heads[] = {"ID",      "NAME",   "KIND",   "KEY TYPE",
	                                    "SUBJECT", "PARENT", "EXPIRES"};
	cli_show_table(doc, "cas", cols, heads);
}

static void show_profile(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "name",     "key_types",      "validity_days", "key_usage", "extended_key_usage",
	    "is_ca",    "path_len",       "approval",      "kind",      "crl_url",
	    "ocsp_url", "ca_issuers_url", "dual_profile",  "est_label", "est_auth",
	    NULL,
	};
	cli_show_fields(doc, fields);
}

static void show_profiles(const struct kh_json *doc)
{
	static const char *const cols[] = {
	    "name", "key_types", "validity_days", "approval", "kind", "is_ca", NULL};
	static const char *const heads[] = {"NAME", "KEY TYPES", "DAYS", "APPROVAL", "KIND", "CA"};
	cli_show_table(doc, "profiles", cols, heads);
}

static void show_request(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "id",      "ca",     "profile",           "status",
	    "subject", "serial", "encryption_serial", "envelope_form",
	    "message", NULL};
	cli_show_fields(doc, fields);
}

static void show_requests(const struct kh_json *doc)
{
	static const char *const cols[] = {"id",      "ca",     "profile", "status",
	                                   "subject", "serial", NULL};
	static const char *const heads[] = {"ID", "CA", "PROFILE", "STATUS", "SUBJECT", "SERIAL"};
	cli_show_table(doc, "requests", cols, heads);
	cli_show_next(doc);
}

static void show_cert(const struct kh_json *doc)
{
	static const char *const fields[] = {"serial",     "ca",         "subject",
	                                     "status",     "not_before", "not_after",
	                                     "revoked_at", "reason",     NULL};
	cli_show_fields(doc, fields);
}

static void show_certs(const struct kh_json *doc)
{
	static const char *const cols[] = {"serial", "ca", "subject", "status", "not_after", NULL};
	static const char *const heads[] = {"SERIAL", "CA", "SUBJECT", "STATUS", "EXPIRES"};
	cli_show_table(doc, "certificates", cols, heads);
	cli_show_next(doc);
}

static void show_crl(const struct kh_json *doc)
{
	static const char *const fields[] = {"number", "delta", "this_update", "next_update", NULL};
	cli_show_fields(doc, fields);
}

static void show_anchor(const struct kh_json *doc)
{
	static const char *const fields[] = {
	    "id",        "keystore_id", "name", "subject", "sha256_fingerprint",
	    "not_after", "created_at",  NULL};
	cli_show_fields(doc, fields);
}

static void show_anchors(const struct kh_json *doc)
{
	static const char *const cols[] = {
	    "id", "name", "subject", "not_after", "sha256_fingerprint", NULL};
	static const char *const heads[] = {"ID", "NAME", "SUBJECT", "EXPIRES", "SHA-256"};
	cli_show_table(doc, "trust_anchors", cols, heads);
}

/* ---- running ---- */

/* Writes the PEM members of doc, in order, to file; the first must be there unless
 * optional (a request still pending has no certificate yet). */
static int save_pem(const struct kh_json *doc, const char *const *members, const char *file,
                    bool optional)
{
	struct kh_buf out;
	struct kh_slice s;
	int ex = KH_EXIT_OK;
	if (kh_json_get_string(doc, members[0], &s) != KH_OK) {
		if (optional)
			fprintf(stderr, "keyhold: no certificate yet: nothing written to %s\n",
			        file);
		return optional ? KH_EXIT_OK
		                : cli_fail("the answer has no %s: nothing written to %s",
		                           members[0], file);
	}
	kh_buf_init(&out, SAVE_MAX, KH_BUF_PLAIN);
	for (size_t i = 0; members[i] != NULL && ex == KH_EXIT_OK; i++) {
		if (kh_json_get_string(doc, members[i], &s) != KH_OK)
			continue;
		bool nl = s.len > 0 && s.ptr[s.len - 1] != '\n';
		if (kh_buf_append(&out, s) != KH_OK ||
		    (nl && kh_buf_append_byte(&out, '\n') != KH_OK))
			ex = cli_fail("the answer is too large to save");
	}
	if (ex == KH_EXIT_OK)
		ex = cli_write_public(file, kh_buf_slice(&out));
	kh_buf_cleanup(&out);
	return ex;
}

/* Builds and makes the call; shows the answer (or prints its JSON), then, with -o, saves
 * members of it. "-o -" prints the PEM instead of the fields. done (may be NULL): what to
 * print when the server answers without a body. */
static int run_save(struct cli *c, const struct cli_args *a, cli_show_fn show,
                    const char *const *members, bool optional, const char *done)
{
	struct cli_pki_call call;
	struct cli_reply r;
	const char *file = members != NULL ? cli_opt(a, "output") : NULL;
	bool to_stdout = file != NULL && strcmp(file, "-") == 0;
	int ex = cli_pki_build(a, &call);
	if (ex == KH_EXIT_OK)
		ex = cli_call(
		    c, call.method, call.path, call.has_body ? &call.body : NULL,
		    (file != NULL ? CLI_CALL_RAW : 0u) | (done != NULL ? CLI_CALL_EMPTY : 0u), &r);
	cli_pki_call_cleanup(&call);
	if (ex == KH_EXIT_OK && r.doc == NULL && r.raw.len == 0 && done != NULL && !c->json)
		printf("%s\n", done);
	if (ex != KH_EXIT_OK || r.doc == NULL) /* failed, no body, or --json printed it */
		return ex;
	if (c->json && !to_stdout)
		ex = cli_write_line(NULL, KH_SLICE(r.raw.data, r.raw.len), false);
	else if (!to_stdout)
		show(r.doc);
	if (ex == KH_EXIT_OK && file != NULL)
		ex = save_pem(r.doc, members, file, optional);
	if (ex == KH_EXIT_OK && file != NULL && !to_stdout)
		fprintf(stderr, "keyhold: wrote %s\n", file);
	cli_reply_free(&r);
	return ex;
}

/* An answer that is not JSON (a DER certificate or CRL, a PEM bundle), written as is to -o,
 * or to standard output without it; --json does not change it. empty (may be NULL): what an
 * empty answer means, said on standard error; NULL: an empty answer is a failure. */
static int run_raw(struct cli *c, const struct cli_args *a, const char *format, const char *empty)
{
	struct cli_pki_call call;
	struct cli_reply r;
	const char *file = cli_opt(a, "output");
	bool to_file = file != NULL && strcmp(file, "-") != 0;
	int ex = cli_pki_build(a, &call);
	if (ex == KH_EXIT_OK)
		ex = cli_call(c, call.method, call.path, NULL, CLI_CALL_BYTES, &r);
	cli_pki_call_cleanup(&call);
	if (ex != KH_EXIT_OK)
		return ex;
	if (r.raw.len == 0 && empty == NULL)
		ex = cli_fail("the answer is empty: nothing written to %s",
		              to_file ? file : "standard output");
	else
		ex = cli_write_public(file, KH_SLICE(r.raw.data, r.raw.len));
	if (ex == KH_EXIT_OK && r.raw.len == 0)
		fprintf(stderr, "keyhold: %s\n", empty);
	if (ex == KH_EXIT_OK && to_file)
		fprintf(stderr, "keyhold: wrote %s (%s, %zu bytes)\n", file, format, r.raw.len);
	cli_reply_free(&r);
	return ex;
}

/* A DER certificate or CRL: -o is required (the builders check). */
static int run_bytes(struct cli *c, const struct cli_args *a)
{
	return run_raw(c, a, "DER", NULL);
}

static int run_show(struct cli *c, const struct cli_args *a, cli_show_fn show)
{
	return run_save(c, a, show, NULL, false, NULL);
}

static int ca_create(struct cli *c, const struct cli_args *a)
{
	static const char *const csr[] = {"csr_pem", NULL};
	return run_save(c, a, show_ca, csr, false, NULL);
}

static int ca_list(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_cas);
}

static int ca_get(struct cli *c, const struct cli_args *a)
{
	static const char *const cert[] = {"certificate_pem", NULL};
	static const char *const chain[] = {"chain_pem", NULL};
	return run_save(c, a, show_ca, cli_flag(a, "chain") ? chain : cert, false, NULL);
}

/* ca install, ca responder issue: the answer is the CA. */
static int ca_show(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_ca);
}

static int profile_show(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_profile);
}

static int profile_list(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_profiles);
}

static int request_issue(struct cli *c, const struct cli_args *a)
{
	static const char *const cert[] = {"certificate_pem", NULL};
	return run_save(c, a, show_request, cert, true, NULL);
}

static int request_show(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_request);
}

static int request_list(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_requests);
}

static int cert_list(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_certs);
}

static int cert_get(struct cli *c, const struct cli_args *a)
{
	static const char *const pem[] = {"pem", NULL};
	static const char *const chain[] = {"pem", "chain_pem", NULL};
	if (cli_flag(a, "der"))
		return run_bytes(c, a);
	return run_save(c, a, show_cert, cli_flag(a, "chain") ? chain : pem, false, NULL);
}

static int cert_show(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_cert);
}

/* revoke, hold, release: the answer is the certificate, or nothing. */
static int cert_change(struct cli *c, const struct cli_args *a)
{
	return run_save(c, a, show_cert, NULL, false, "done");
}

static int crl_generate(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_crl);
}

static int anchor_show(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_anchor);
}

static int anchor_list(struct cli *c, const struct cli_args *a)
{
	return run_show(c, a, show_anchors);
}

static int anchor_get(struct cli *c, const struct cli_args *a)
{
	static const char *const cert[] = {"certificate_pem", NULL};
	return run_save(c, a, show_anchor, cert, false, NULL);
}

/* anchor remove, ca responder remove: the answer is 204, no body, so nothing is shown. */
static int removed(struct cli *c, const struct cli_args *a)
{
	return run_save(c, a, show_ca, NULL, false, "removed");
}

static int trust_list(struct cli *c, const struct cli_args *a)
{
	return run_raw(c, a, "PEM", "the trust list is empty: no trust anchors and no root CAs");
}

static int responder_get(struct cli *c, const struct cli_args *a)
{
	return run_raw(c, a, cli_flag(a, "der") ? "DER" : "PEM", NULL);
}

/* ---- the table ---- */

static const struct cli_opt ca_create_opts[] = {
    {"kind", 0, "KIND", "root, intermediate or external (required)"},
    {"key-type", 't', "TYPE", KEY_TYPES_TEXT " (required)"},
    {"subject", 's', "DN", "the CA's name, e.g. \"CN=Example Root CA,O=Example\" (required)"},
    {"validity-days", 0, "N", "root and intermediate: days the certificate is valid"},
    {"parent", 0, "ID", "intermediate: the keyhold CA that signs it (required there)"},
    {"output", 'o', "FILE", "external: write the CSR (PEM) here (required there)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt ca_get_opts[] = {
    {"output", 'o', "FILE", "write the CA certificate (PEM) here; - for standard output"},
    {"chain", 0, NULL, "write the chain (this CA, then its issuers) instead"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt profile_create_opts[] = {
    {"key-type", 't', "TYPE", "a key type requests may have; repeat"},
    {"validity-days", 0, "N", "days an issued certificate is valid"},
    {"key-usage", 0, "USAGE", "digitalSignature, keyEncipherment, ... ; repeat"},
    {"eku", 0, "EKU", "serverAuth, clientAuth, ... or a dotted OID; repeat"},
    {"ca", 0, NULL, "issue CA certificates (basicConstraints cA)"},
    {"path-len", 0, "N", "with --ca: the pathLenConstraint"},
    {"approval", 0, "MODE", "auto (issue at once) or required (an RA officer approves)"},
    {"kind", 0, "KIND", "sign, encrypt or both"},
    {"crl-url", 0, "URL", "CRL distribution point written into each certificate"},
    {"ocsp-url", 0, "URL", "OCSP responder (AIA) written into each certificate"},
    {"ca-issuers-url", 0, "URL", "CA certificate location (AIA) written into each one"},
    {"dual-profile", 0, "NAME", "encryption profile of the same CA issued with each request"},
    {"est-label", 0, "LABEL", "serve over EST at /.well-known/est/LABEL/"},
    {"est-auth", 0, "AUTH", "EST client authentication: basic, cert; repeat"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt profile_update_opts[] = {
    {"key-type", 't', "TYPE", "replace the key types; repeat"},
    {"validity-days", 0, "N", "days an issued certificate is valid"},
    {"key-usage", 0, "USAGE", "replace the key usages; repeat"},
    {"eku", 0, "EKU", "replace the extended key usages; repeat"},
    {"ca", 0, NULL, "issue CA certificates"},
    {"no-ca", 0, NULL, "issue end-entity certificates"},
    {"path-len", 0, "N", "with --ca: the pathLenConstraint"},
    {"approval", 0, "MODE", "auto or required"},
    {"kind", 0, "KIND", "sign, encrypt or both"},
    {"crl-url", 0, "URL", "CRL distribution point (\"\" for none)"},
    {"ocsp-url", 0, "URL", "OCSP responder URL (\"\" for none)"},
    {"ca-issuers-url", 0, "URL", "CA certificate URL (\"\" for none)"},
    {"dual-profile", 0, "NAME", "encryption profile issued with each request (\"\" for none)"},
    {"est-label", 0, "LABEL", "EST label (\"\" to stop serving over EST)"},
    {"est-auth", 0, "AUTH", "replace the EST client authentications (basic, cert); repeat"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt cert_out_opts[] = {
    {"output", 'o', "FILE", "write the certificate (PEM) here once issued"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt submit_opts[] = {
    {"output", 'o', "FILE", "write the certificate (PEM) here once issued"},
    {"envelope-form", 0, "FORM", "dual profile: skf, gmt0009 or cms (default: by the key type)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt request_list_opts[] = {
    {"status", 0, "STATUS", "pending, approved, rejected or issued"},
    {"ca", 0, "ID", "only this CA's requests"},
    {"limit", 'n', "N", "at most N a page (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt reject_opts[] = {
    {"reason", 0, "TEXT", "why, for the requester"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt cert_list_opts[] = {
    {"ca", 0, "ID", "only this CA's certificates"},
    {"status", 0, "STATUS", "good, revoked or hold"},
    {"limit", 'n', "N", "at most N a page (1..1000, default 50)"},
    {"next", 0, "CURSOR", "the page after the one that printed this cursor"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt cert_get_opts[] = {
    {"output", 'o', "FILE", "write the certificate here; - for standard output"},
    {"chain", 0, NULL, "PEM: the certificate, then its CA chain"},
    {"der", 0, NULL, "the certificate alone, DER"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt revoke_opts[] = {
    {"reason", 'r', "REASON", "RFC 5280: keyCompromise, superseded, ... (required)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt crl_generate_opts[] = {
    {"delta", 0, NULL, "a delta CRL (changes since the last full one)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt crl_get_opts[] = {
    {"output", 'o', "FILE", "write the CRL (DER) here; - for standard output (required)"},
    {"delta", 0, NULL, "the delta CRL"},
    {NULL, 0, NULL, NULL},
};

static const struct cli_opt keystore_opts[] = {
    {"keystore-id", 0, "ID", "operator: the key store (an account always gets its own)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt anchor_get_opts[] = {
    {"output", 'o', "FILE", "write the anchor's certificate (PEM) here; - for standard output"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt trust_list_opts[] = {
    {"keystore-id", 0, "ID", "operator: the key store (an account always gets its own)"},
    {"output", 'o', "FILE", "write the PEM bundle here (default: standard output)"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt responder_issue_opts[] = {
    {"validity-days", 0, "N", "days the responder certificate is valid (1..365, default 30)"},
    {"new-key", 0, NULL, "a new responder key, not the current one"},
    {NULL, 0, NULL, NULL},
};
static const struct cli_opt responder_get_opts[] = {
    {"output", 'o', "FILE", "write the certificate here (default: PEM to standard output)"},
    {"der", 0, NULL, "DER instead of PEM (needs -o; - for standard output)"},
    {NULL, 0, NULL, NULL},
};

const struct cli_cmd cli_pki_cmds[] = {
    {"pki", "ca create", "NAME", "create a root, intermediate or external CA", ca_create_opts, 1, 1,
     ca_create, 0},
    {"pki", "ca list", "", "list the CAs of your key store", NULL, 0, 0, ca_list, 0},
    {"pki", "ca get", "ID", "show a CA; -o saves its certificate or chain", ca_get_opts, 1, 1,
     ca_get, 0},
    {"pki", "ca install", "ID CERT_FILE", "install an external CA's certificate (PEM)", NULL, 2, 2,
     ca_show, 0},
    {"pki", "ca responder issue", "CA", "issue (or renew) the CA's delegated OCSP responder",
     responder_issue_opts, 1, 1, ca_show, 0},
    {"pki", "ca responder get", "CA", "download the OCSP responder's certificate",
     responder_get_opts, 1, 1, responder_get, 0},
    {"pki", "ca responder remove", "CA", "go back to OCSP answers signed by the CA itself", NULL, 1,
     1, removed, 0},
    {"pki", "profile create", "CA NAME", "create a certificate profile", profile_create_opts, 2, 2,
     profile_show, 0},
    {"pki", "profile list", "CA", "list a CA's profiles", NULL, 1, 1, profile_list, 0},
    {"pki", "profile get", "CA NAME", "show a profile", NULL, 2, 2, profile_show, 0},
    {"pki", "profile update", "CA NAME", "change a profile", profile_update_opts, 2, 2,
     profile_show, 0},
    {"pki", "request submit", "CA PROFILE CSR_FILE",
     "submit a PKCS#10 request (PEM; - reads stdin)", submit_opts, 3, 3, request_issue, 0},
    {"pki", "request list", "", "list registration requests", request_list_opts, 0, 0, request_list,
     0},
    {"pki", "request get", "ID", "show a registration request", NULL, 1, 1, request_show, 0},
    {"pki", "request approve", "ID", "approve a pending request: the certificate is issued",
     cert_out_opts, 1, 1, request_issue, 0},
    {"pki", "request reject", "ID", "reject a pending request", reject_opts, 1, 1, request_show, 0},
    {"pki", "cert list", "", "list issued certificates", cert_list_opts, 0, 0, cert_list, 0},
    {"pki", "cert get", "SERIAL", "show a certificate; -o saves it", cert_get_opts, 1, 1, cert_get,
     0},
    {"pki", "cert revoke", "SERIAL", "revoke a certificate for good", revoke_opts, 1, 1,
     cert_change, 0},
    {"pki", "cert hold", "SERIAL", "suspend a certificate (certificateHold)", NULL, 1, 1,
     cert_change, 0},
    {"pki", "cert release", "SERIAL", "take a certificate off hold", NULL, 1, 1, cert_change, 0},
    {"pki", "cert status", "SERIAL", "good, revoked or on hold, and since when", NULL, 1, 1,
     cert_show, 0},
    {"pki", "crl generate", "CA", "sign a new full (or --delta) CRL now", crl_generate_opts, 1, 1,
     crl_generate, 0},
    {"pki", "crl get", "CA", "download the CA's published CRL (no token needed)", crl_get_opts, 1,
     1, run_bytes, CLI_NO_TOKEN},
    {"pki", "anchor add", "NAME CERT_FILE", "add a trust anchor: an outside root (PEM)", NULL, 2, 2,
     anchor_show, 0},
    {"pki", "anchor list", "", "list the trust anchors", keystore_opts, 0, 0, anchor_list, 0},
    {"pki", "anchor get", "ID", "show a trust anchor; -o saves its certificate", anchor_get_opts, 1,
     1, anchor_get, 0},
    {"pki", "anchor remove", "ID", "remove a trust anchor no external CA chains to", NULL, 1, 1,
     removed, 0},
    {"pki", "trust-list", "", "the trust anchors and root CAs as one PEM bundle", trust_list_opts,
     0, 0, trust_list, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
