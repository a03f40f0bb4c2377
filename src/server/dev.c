// SPDX-License-Identifier: Apache-2.0
/*
 * Development mode (`keyholdd --dev`, what `make run` starts): everything lives in one data
 * directory (./var). On first start it makes a CA and a TLS certificate for 127.0.0.1 and
 * localhost, initialises the barrier with a single share kept in var/dev-unseal, creates the
 * key store "dev" with a manager account, and writes the manager's and the operator's tokens
 * to var/dev-token and var/operator-token (all mode 0600). On every start it unseals itself
 * from var/dev-unseal. None of this happens without --dev.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/kh_codec.h"
#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "server/kh_server_int.h"

#define PATH_LEN (KH_SERVER_PATH_MAX + 32)
#define PEM_MAX (64u * 1024u)

static void path_of(const struct kh_node *n, const char *name, char *out)
{
	snprintf(out, PATH_LEN, "%s/%s", n->cfg->data_dir, name);
}

static kh_rc mkdir_private(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return KH_OK;
	KH_LOG_ERROR("cannot create directory", KH_LF_STR("path", path),
	             KH_LF_STR("reason", strerror(errno)));
	return KH_ERR_STORAGE;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* ---- TLS ---- */

static kh_rc write_key(const char *path, const struct kh_pkey *k)
{
	struct kh_buf pem;
	kh_buf_init(&pem, PEM_MAX, KH_BUF_SECURE);
	kh_rc rc = kh_pkey_export_private_pem(k, &pem);
	if (rc == KH_OK)
		rc = kh_file_write_private(path, kh_buf_slice(&pem));
	kh_buf_cleanup(&pem);
	return rc;
}

static kh_rc make_tls(struct kh_node *n, const char *ca_path)
{
	static const char *const dns[] = {"localhost", NULL};
	static const char *const ips[] = {"127.0.0.1", "::1", NULL};
	char ca_key_path[PATH_LEN];
	struct kh_pkey *ca = NULL, *srv = NULL;
	struct kh_buf ca_pem, chain;
	kh_buf_init(&ca_pem, PEM_MAX, KH_BUF_PLAIN);
	kh_buf_init(&chain, PEM_MAX, KH_BUF_PLAIN);
	path_of(n, "tls/ca.key", ca_key_path);
	kh_rc rc = kh_pkey_generate(KH_PKEY_EC_P256, &ca);
	if (rc == KH_OK)
		rc = kh_pkey_generate(KH_PKEY_EC_P256, &srv);
	if (rc == KH_OK)
		rc = kh_x509_self_signed_ca(ca, "keyhold development CA", 3650, &ca_pem);
	if (rc == KH_OK)
		rc = kh_x509_issue_server(ca, kh_buf_slice(&ca_pem), srv, "localhost", dns, ips,
		                          825, &chain);
	/* The server sends its chain: its certificate, then the CA's. */
	if (rc == KH_OK)
		rc = kh_buf_append(&chain, kh_buf_slice(&ca_pem));
	if (rc == KH_OK)
		rc = write_key(ca_key_path, ca);
	if (rc == KH_OK)
		rc = write_key(n->cfg->tls_key, srv);
	if (rc == KH_OK)
		rc = kh_file_write_private(n->cfg->tls_cert, kh_buf_slice(&chain));
	if (rc == KH_OK)
		rc = kh_file_write_private(ca_path, kh_buf_slice(&ca_pem));
	kh_pkey_free(&ca);
	kh_pkey_free(&srv);
	kh_buf_cleanup(&ca_pem);
	kh_buf_cleanup(&chain);
	return rc;
}

kh_rc kh_dev_prepare_tls(struct kh_node *n)
{
	char tls_dir[PATH_LEN], ca_path[PATH_LEN];
	KH_GUARD(mkdir_private(n->cfg->data_dir));
	path_of(n, "tls", tls_dir);
	KH_GUARD(mkdir_private(tls_dir));
	path_of(n, "tls/ca.pem", ca_path);
	if (exists(ca_path) && exists(n->cfg->tls_cert) && exists(n->cfg->tls_key))
		return KH_OK;
	KH_LOG_INFO("development mode: creating a CA and a TLS certificate",
	            KH_LF_STR("ca", ca_path));
	return make_tls(n, ca_path);
}

/* ---- first start ---- */

static kh_rc write_secret_file(struct kh_node *n, const char *name, struct kh_slice value)
{
	char path[PATH_LEN];
	path_of(n, name, path);
	return kh_file_write_private(path, value);
}

static kh_rc save_share(struct kh_node *n, struct kh_slice share)
{
	struct kh_buf text;
	kh_buf_init(&text, 256, KH_BUF_SECURE);
	kh_rc rc = kh_base64_encode(share, &text);
	if (rc == KH_OK)
		rc = kh_buf_append_byte(&text, '\n');
	if (rc == KH_OK)
		rc = write_secret_file(n, "dev-unseal", kh_buf_slice(&text));
	kh_buf_cleanup(&text);
	return rc;
}

static kh_rc save_token(struct kh_node *n, const char *name, struct kh_buf *token)
{
	KH_GUARD(kh_buf_append_byte(token, '\n'));
	return write_secret_file(n, name, kh_buf_slice(token));
}

/* The key store "dev" with a manager account, whose token goes to var/dev-token. */
static kh_rc make_tenant(struct kh_node *n)
{
	static const struct kh_principal op = {
	    .kind = KH_PRINCIPAL_OPERATOR, .request_id = "dev-setup", .source = "local"};
	int64_t ks = 0, account = 0, token_id = 0;
	struct kh_buf token;
	KH_GUARD(kh_keys_keystore_create(n->keys, &op, "dev", &ks));
	KH_GUARD(
	    kh_keys_account_create(n->keys, &op, ks, "dev-admin", KH_POLICY_KMS_MANAGER, &account));
	kh_buf_init(&token, 128, KH_BUF_SECURE);
	kh_rc rc = kh_authz_token_issue(n->authz, &op, account, 0, &token_id, &token);
	if (rc == KH_OK)
		rc = save_token(n, "dev-token", &token);
	kh_buf_cleanup(&token);
	return rc;
}

static kh_rc first_start(struct kh_node *n)
{
	struct kh_barrier_shares *shares = NULL;
	struct kh_barrier_progress p;
	struct kh_buf token;
	int64_t token_id = 0;
	kh_buf_init(&token, 128, KH_BUF_SECURE);
	KH_LOG_WARN("development mode: initialising with ONE unseal share stored in the data "
	            "directory; never use this for real keys",
	            KH_LF_STR("data_dir", n->cfg->data_dir));
	kh_rc rc = kh_barrier_init(n->barrier, 1, 1, &shares);
	if (rc == KH_OK)
		rc = save_share(n, kh_buf_slice(&shares->share[0]));
	if (rc == KH_OK)
		rc = kh_barrier_unseal(n->barrier, kh_buf_slice(&shares->share[0]), &p);
	if (rc == KH_OK)
		rc = kh_authz_token_issue_initial(n->authz, &token_id, &token);
	if (rc == KH_OK)
		rc = save_token(n, "operator-token", &token);
	if (rc == KH_OK)
		rc = make_tenant(n);
	kh_barrier_shares_free(&shares);
	kh_buf_cleanup(&token);
	return rc;
}

static kh_rc unseal_from_file(struct kh_node *n)
{
	char path[PATH_LEN];
	struct kh_buf text, share;
	struct kh_barrier_progress p;
	path_of(n, "dev-unseal", path);
	kh_buf_init(&text, 256, KH_BUF_SECURE);
	kh_buf_init(&share, 256, KH_BUF_SECURE);
	kh_rc rc = kh_file_read(path, &text);
	while (rc == KH_OK && text.len > 0 && text.ptr[text.len - 1] == '\n')
		kh_buf_truncate(&text, text.len - 1);
	if (rc == KH_OK)
		rc = kh_base64_decode(kh_buf_slice(&text), &share);
	if (rc == KH_OK)
		rc = kh_barrier_unseal(n->barrier, kh_buf_slice(&share), &p);
	if (rc != KH_OK)
		KH_LOG_ERROR("development mode: cannot unseal from the share file",
		             KH_LF_STR("path", path), KH_LF_RC(rc));
	kh_buf_cleanup(&text);
	kh_buf_cleanup(&share);
	return rc;
}

kh_rc kh_dev_bootstrap(struct kh_node *n)
{
	struct kh_barrier_status st;
	KH_GUARD(kh_barrier_status(n->barrier, &st));
	return st.initialized ? unseal_from_file(n) : first_start(n);
}

/* ---- banner ---- */

void kh_dev_banner(struct kh_node *n)
{
	const char *d = n->cfg->data_dir;
	char url[KH_SERVER_ADDR_MAX + 16], path[PATH_LEN];
	struct kh_buf token;
	char host[KH_SERVER_ADDR_MAX];
	uint16_t port = 0;
	if (kh_server_addr_parse(n->cfg->listen, host, sizeof(host), &port) != KH_OK)
		snprintf(host, sizeof(host), "127.0.0.1");
	/* The port actually bound (the configuration may say 0). */
	snprintf(url, sizeof(url), strchr(host, ':') != NULL ? "https://[%s]:%u" : "https://%s:%u",
	         host, kh_http_server_port(n->https));
	path_of(n, "dev-token", path);
	kh_buf_init(&token, 128, KH_BUF_SECURE);
	/* Development mode shows its token on purpose: it is a local toy. */
	if (kh_file_read(path, &token) != KH_OK || kh_buf_cstr(&token) == NULL)
		kh_buf_clear(&token);
	printf(
	    "\n"
	    "keyholdd is running in DEVELOPMENT mode: its only unseal share is in %s/dev-unseal.\n"
	    "Never keep real keys in it.\n\n"
	    "  URL       %s\n"
	    "  CA        %s/tls/ca.pem\n"
	    "  token     %s"
	    "            (in %s/dev-token: manager of key store \"dev\")\n"
	    "  operator  %s/operator-token\n\n"
	    "Try it from another terminal in this directory:\n\n"
	    "  export KEYHOLD_ADDR=%s KEYHOLD_TOKEN=$(cat %s/dev-token)\n"
	    "  kh() { curl -s --cacert %s/tls/ca.pem -H \"Authorization: Bearer $KEYHOLD_TOKEN\" "
	    "-H 'Content-Type: application/json' \"$@\"; }\n\n"
	    "  # 1. create a key\n"
	    "  TAG=$(kh -d '{\"name\":\"demo\"}' $KEYHOLD_ADDR/v1/keys | jq -r .tag)\n"
	    "  # 2. encrypt\n"
	    "  CT=$(kh -d '{\"plaintext\":\"'$(printf hello | base64)'\"}' "
	    "$KEYHOLD_ADDR/v1/keys/$TAG/encrypt | jq -r .ciphertext)\n"
	    "  # 3. decrypt\n"
	    "  kh -d '{\"ciphertext\":\"'$CT'\"}' $KEYHOLD_ADDR/v1/keys/$TAG/decrypt "
	    "| jq -r .plaintext | base64 -d\n\n"
	    "AWS KMS external key stores (XKS) are served at %s/<prefix>/kms/xks/v1:\n"
	    "see docs/xks.md (`keyhold xks store create --prefix ...`).\n\n"
	    "Stop with Ctrl-C. `make run` again keeps the keys; delete %s to start over.\n\n",
	    d, url, d, token.len > 0 ? kh_buf_cstr(&token) : "(missing)\n", d, d, url, d, d, url,
	    d);
	fflush(stdout);
	kh_buf_cleanup(&token);
}
