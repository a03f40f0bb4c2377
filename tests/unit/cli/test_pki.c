/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line of keyhold pki, without a server: each command's arguments become exactly
 * the method, path and JSON body of the API (API.md "PKI"), and what the server would refuse
 * for its shape (ids, serials, enum values, reason names, URLs, missing or contradictory
 * options) is a usage error (exit 2) before any call. Public files are written whole, mode
 * 0644, replacing what was there.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "kh_test.h"

#include "cli/kh_cli.h"

static const struct cli_cmd *pki_cmd(const char *name)
{
	for (const struct cli_cmd *c = cli_pki_cmds; c->name != NULL; c++) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	fail_msg("no command pki %s", name);
	return NULL;
}

/* Parses argv for "pki <name>" (which must parse) and builds its call. */
static int build(const char *name, char **argv, int argc, struct cli_pki_call *call)
{
	struct cli c;
	struct cli_args a;
	bool done = false;
	memset(&c, 0, sizeof(c));
	assert_int_equal(cli_parse(&c, pki_cmd(name), argc, argv, &a, &done), KH_EXIT_OK);
	int ex = cli_pki_build(&a, call);
	cli_args_free(&a);
	return ex;
}

/* Builds, expects success, and checks the method, path and body (NULL: none). */
static void expect_call(const char *name, char **argv, int argc, const char *method,
                        const char *path, const char *body)
{
	struct cli_pki_call call;
	assert_int_equal(build(name, argv, argc, &call), KH_EXIT_OK);
	assert_string_equal(call.method, method);
	assert_string_equal(call.path, path);
	assert_int_equal(call.has_body, body != NULL);
	if (body != NULL) {
		assert_int_equal(kh_json_writer_end(&call.body.w), KH_OK);
		assert_string_equal(kh_buf_cstr(&call.body.buf), body);
	}
	cli_pki_call_cleanup(&call);
}

static void expect_usage(const char *name, char **argv, int argc)
{
	struct cli_pki_call call;
	assert_int_equal(build(name, argv, argc, &call), KH_EXIT_USAGE);
	cli_pki_call_cleanup(&call);
}

#define N(argv) ((int)(sizeof(argv) / sizeof((argv)[0])))

static void ca_create_builds_each_kind(void **state)
{
	char *root[] = {"root-ca",           "--kind",          "root",
	                "--key-type",        "ecdsa-p256",      "--subject",
	                "CN=Root,O=Example", "--validity-days", "7300"};
	char *inter[] = {"issuing", "--kind",     "intermediate", "-t", "sm2",
	                 "-s",      "CN=Issuing", "--parent",     "12"};
	char *ext[] = {"gm-sub",    "--kind", "external", "--key-type=sm2",
	               "--subject", "CN=Sub", "-o",       "sub.csr"};
	(void)state;
	expect_call("ca create", root, N(root), "POST", "/v1/pki/cas",
	            "{\"name\":\"root-ca\",\"kind\":\"root\",\"key_type\":\"ecdsa-p256\","
	            "\"subject\":\"CN=Root,O=Example\",\"validity_days\":7300}");
	expect_call("ca create", inter, N(inter), "POST", "/v1/pki/cas",
	            "{\"name\":\"issuing\",\"kind\":\"intermediate\",\"key_type\":\"sm2\","
	            "\"subject\":\"CN=Issuing\",\"parent\":12}");
	expect_call("ca create", ext, N(ext), "POST", "/v1/pki/cas",
	            "{\"name\":\"gm-sub\",\"kind\":\"external\",\"key_type\":\"sm2\","
	            "\"subject\":\"CN=Sub\"}");
}

static void ca_create_refuses_contradictions(void **state)
{
	char *no_kind[] = {"a", "--key-type", "sm2", "--subject", "CN=a"};
	char *bad_kind[] = {"a", "--kind", "sub", "--key-type", "sm2", "--subject", "CN=a"};
	char *bad_type[] = {"a",           "--kind",    "root", "--key-type",
	                    "aes-256-gcm", "--subject", "CN=a"};
	char *no_parent[] = {"a",   "--kind",    "intermediate", "--key-type",
	                     "sm2", "--subject", "CN=a"};
	char *root_parent[] = {"a",         "--kind", "root",     "--key-type", "sm2",
	                       "--subject", "CN=a",   "--parent", "1"};
	char *parent_zero[] = {"a",         "--kind", "intermediate", "--key-type", "sm2",
	                       "--subject", "CN=a",   "--parent",     "0"};
	char *ext_no_out[] = {"a", "--kind", "external", "--key-type", "sm2", "--subject", "CN=a"};
	char *ext_days[] = {"a",    "--kind", "external", "--key-type",      "sm2", "--subject",
	                    "CN=a", "-o",     "f",        "--validity-days", "10"};
	char *root_out[] = {"a",         "--kind", "root", "--key-type", "sm2",
	                    "--subject", "CN=a",   "-o",   "f"};
	char *bad_name[] = {"a/b", "--kind", "root", "--key-type", "sm2", "--subject", "CN=a"};
	char *days[] = {"a",    "--kind",          "root", "--key-type", "sm2", "--subject",
	                "CN=a", "--validity-days", "36501"};
	char *subject[] = {"a", "--kind", "root", "--key-type", "sm2", "--subject", "CN=a\nO=b"};
	(void)state;
	expect_usage("ca create", no_kind, N(no_kind));
	expect_usage("ca create", bad_kind, N(bad_kind));
	expect_usage("ca create", bad_type, N(bad_type));
	expect_usage("ca create", no_parent, N(no_parent));
	expect_usage("ca create", root_parent, N(root_parent));
	expect_usage("ca create", parent_zero, N(parent_zero));
	expect_usage("ca create", ext_no_out, N(ext_no_out));
	expect_usage("ca create", ext_days, N(ext_days));
	expect_usage("ca create", root_out, N(root_out));
	expect_usage("ca create", bad_name, N(bad_name));
	expect_usage("ca create", days, N(days));
	expect_usage("ca create", subject, N(subject));
}

static void ca_reads_take_numeric_ids(void **state)
{
	char *get[] = {"7"};
	char *chain[] = {"7", "--chain", "-o", "chain.pem"};
	char *chain_no_out[] = {"7", "--chain"};
	char *bad[] = {"root-ca"};
	(void)state;
	expect_call("ca list", NULL, 0, "GET", "/v1/pki/cas", NULL);
	expect_call("ca get", get, 1, "GET", "/v1/pki/cas/7", NULL);
	expect_call("ca get", chain, N(chain), "GET", "/v1/pki/cas/7", NULL);
	expect_usage("ca get", chain_no_out, N(chain_no_out));
	expect_usage("ca get", bad, 1);
}

static void profile_create_sends_lists_in_order(void **state)
{
	char *argv[] = {"3",
	                "tls-server",
	                "--key-type",
	                "ecdsa-p256",
	                "-t",
	                "rsa-2048,sm2",
	                "--validity-days",
	                "397",
	                "--key-usage",
	                "digitalSignature,keyEncipherment",
	                "--eku",
	                "serverAuth",
	                "--eku",
	                "1.3.6.1.5.5.7.3.2",
	                "--approval",
	                "required",
	                "--kind",
	                "sign",
	                "--crl-url",
	                "http://pki.example/pki/3/crl",
	                "--ocsp-url",
	                "http://pki.example/pki/3/ocsp",
	                "--ca-issuers-url",
	                "http://pki.example/pki/3/ca.crt"};
	char *sub_ca[] = {"3",           "sub-ca",      "--ca",        "--path-len", "0",
	                  "--key-usage", "keyCertSign", "--key-usage", "cRLSign"};
	(void)state;
	expect_call("profile create", argv, N(argv), "POST", "/v1/pki/cas/3/profiles",
	            "{\"name\":\"tls-server\",\"key_types\":[\"ecdsa-p256\",\"rsa-2048\",\"sm2\"],"
	            "\"validity_days\":397,"
	            "\"key_usage\":[\"digitalSignature\",\"keyEncipherment\"],"
	            "\"extended_key_usage\":[\"serverAuth\",\"1.3.6.1.5.5.7.3.2\"],"
	            "\"approval\":\"required\",\"kind\":\"sign\","
	            "\"crl_url\":\"http://pki.example/pki/3/crl\","
	            "\"ocsp_url\":\"http://pki.example/pki/3/ocsp\","
	            "\"ca_issuers_url\":\"http://pki.example/pki/3/ca.crt\"}");
	expect_call("profile create", sub_ca, N(sub_ca), "POST", "/v1/pki/cas/3/profiles",
	            "{\"name\":\"sub-ca\",\"key_usage\":[\"keyCertSign\",\"cRLSign\"],"
	            "\"is_ca\":true,\"path_len\":0}");
}

static void profile_values_are_checked(void **state)
{
	char *eku[] = {"3", "p", "--eku", "anyThing"};
	char *oid[] = {"3", "p", "--eku", "1..3"};
	char *ku[] = {"3", "p", "--key-usage", "digitalsignature"};
	char *empty_item[] = {"3", "p", "--key-usage", "digitalSignature,"};
	char *type[] = {"3", "p", "--key-type", "hmac-sha256"};
	char *approval[] = {"3", "p", "--approval", "manual"};
	char *kind[] = {"3", "p", "--kind", "signing"};
	char *path_len[] = {"3", "p", "--path-len", "1"};
	char *url[] = {"3", "p", "--crl-url", "ldap://x/y"};
	char *url_space[] = {"3", "p", "--ocsp-url", "http://x/a b"};
	char *url_empty[] = {"3", "p", "--crl-url", ""};
	char *name[] = {"3", ".."};
	(void)state;
	expect_usage("profile create", eku, N(eku));
	expect_usage("profile create", oid, N(oid));
	expect_usage("profile create", ku, N(ku));
	expect_usage("profile create", empty_item, N(empty_item));
	expect_usage("profile create", type, N(type));
	expect_usage("profile create", approval, N(approval));
	expect_usage("profile create", kind, N(kind));
	expect_usage("profile create", path_len, N(path_len));
	expect_usage("profile create", url, N(url));
	expect_usage("profile create", url_space, N(url_space));
	expect_usage("profile create", url_empty, N(url_empty));
	expect_usage("profile create", name, N(name));
}

static void profile_update_sends_only_what_changes(void **state)
{
	char *argv[] = {"3", "tls-client", "--approval", "auto", "--no-ca", "--crl-url", ""};
	char *none[] = {"3", "tls-client"};
	char *both[] = {"3", "tls-client", "--ca", "--no-ca"};
	char *get[] = {"3", "tls-client"};
	(void)state;
	expect_call("profile update", argv, N(argv), "PATCH", "/v1/pki/cas/3/profiles/tls-client",
	            "{\"is_ca\":false,\"approval\":\"auto\",\"crl_url\":\"\"}");
	expect_usage("profile update", none, N(none));
	expect_usage("profile update", both, N(both));
	expect_call("profile get", get, N(get), "GET", "/v1/pki/cas/3/profiles/tls-client", NULL);
	expect_call("profile list", get, 1, "GET", "/v1/pki/cas/3/profiles", NULL);
}

static void profile_est_and_dual_options(void **state)
{
	char *create[] = {"3",          "device",     "--est-label",    "devices",
	                  "--est-auth", "basic,cert", "--dual-profile", "device-enc"};
	char *update[] = {"3", "device", "--est-label", "", "--dual-profile", ""};
	char *auth[] = {"3", "device", "--est-auth", "token"};
	char *label[] = {"3", "device", "--est-label", "a/b"};
	char *long_label[] = {"3", "device", "--est-label", "abcdefghijklmnopqrstuvwxyz0123456"};
	char *empty_label[] = {"3", "device", "--est-label", ""};
	(void)state;
	expect_call("profile create", create, N(create), "POST", "/v1/pki/cas/3/profiles",
	            "{\"name\":\"device\",\"dual_profile\":\"device-enc\","
	            "\"est_label\":\"devices\",\"est_auth\":[\"basic\",\"cert\"]}");
	expect_call("profile update", update, N(update), "PATCH", "/v1/pki/cas/3/profiles/device",
	            "{\"dual_profile\":\"\",\"est_label\":\"\"}");
	expect_usage("profile create", auth, N(auth));
	expect_usage("profile create", label, N(label));
	expect_usage("profile create", long_label, N(long_label));
	expect_usage("profile create", empty_label, N(empty_label));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void request_submit_carries_the_csr_pem(void **state)
{
	char dir[256], csr[300], der[300];
	(void)state;
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(csr, sizeof(csr), "%s/req.csr", dir);
	snprintf(der, sizeof(der), "%s/req.der", dir);
	write_file(csr, "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
	                "-----END CERTIFICATE REQUEST-----\n");
	write_file(der, "0\x82\x01-----BEGIN CERTIFICATE REQUEST-----\n\xff\n");
	char *argv[] = {"3", "tls-server", csr, "-o", "cert.pem"};
	char *not_pem[] = {"3", "tls-server", der};
	char *missing[] = {"3", "tls-server", dir};
	char *bad_ca[] = {"x", "tls-server", csr};
	char *bad_profile[] = {"3", "tls server", csr};
	expect_call("request submit", argv, N(argv), "POST", "/v1/pki/requests",
	            "{\"ca\":3,\"profile\":\"tls-server\",\"csr\":\"-----BEGIN CERTIFICATE "
	            "REQUEST-----\\nMIIB\\n-----END CERTIFICATE REQUEST-----\\n\"}");
	struct cli_pki_call call;
	assert_int_equal(build("request submit", not_pem, N(not_pem), &call), KH_EXIT_FAILURE);
	cli_pki_call_cleanup(&call);
	assert_int_equal(build("request submit", missing, N(missing), &call), KH_EXIT_FAILURE);
	cli_pki_call_cleanup(&call);
	expect_usage("request submit", bad_ca, N(bad_ca));
	expect_usage("request submit", bad_profile, N(bad_profile));

	char *install[] = {"9", csr};
	assert_int_equal(build("ca install", install, N(install), &call), KH_EXIT_FAILURE);
	cli_pki_call_cleanup(&call);
	write_file(csr, "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
	expect_call("ca install", install, N(install), "PUT", "/v1/pki/cas/9/certificate",
	            "{\"certificate_pem\":\"-----BEGIN CERTIFICATE-----\\nMIIC\\n"
	            "-----END CERTIFICATE-----\\n\"}");
	kh_test_rmtree(dir);
}

/* Dual certificates: the signing profile names its encrypt twin; a submission may pick the
 * envelope's form. */
static void dual_profile_and_envelope_form(void **state)
{
	char dir[256], csr[300];
	(void)state;
	char *create[] = {"3", "gm-sign", "--kind", "sign", "--dual-profile", "gm-enc"};
	char *clear[] = {"3", "gm-sign", "--dual-profile", ""};
	char *empty[] = {"3", "gm-sign", "--dual-profile", ""};
	char *bad[] = {"3", "gm-sign", "--dual-profile", "gm enc"};
	expect_call("profile create", create, N(create), "POST", "/v1/pki/cas/3/profiles",
	            "{\"name\":\"gm-sign\",\"kind\":\"sign\",\"dual_profile\":\"gm-enc\"}");
	expect_call("profile update", clear, N(clear), "PATCH", "/v1/pki/cas/3/profiles/gm-sign",
	            "{\"dual_profile\":\"\"}");
	expect_usage("profile create", empty, N(empty));
	expect_usage("profile create", bad, N(bad));
	expect_usage("profile update", bad, N(bad));

	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(csr, sizeof(csr), "%s/req.csr", dir);
	write_file(csr, "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
	                "-----END CERTIFICATE REQUEST-----\n");
	char *gmt[] = {"3", "gm-sign", csr, "--envelope-form", "gmt0009"};
	char *bad_form[] = {"3", "gm-sign", csr, "--envelope-form", "pkcs12"};
	expect_call("request submit", gmt, N(gmt), "POST", "/v1/pki/requests",
	            "{\"ca\":3,\"profile\":\"gm-sign\",\"envelope_form\":\"gmt0009\","
	            "\"csr\":\"-----BEGIN CERTIFICATE REQUEST-----\\nMIIB\\n-----END "
	            "CERTIFICATE REQUEST-----\\n\"}");
	expect_usage("request submit", bad_form, N(bad_form));
	kh_test_rmtree(dir);
}

static void request_officer_commands(void **state)
{
	char *list[] = {"--status", "pending", "--ca", "3", "--limit", "100", "--next", "a b"};
	char *bad_status[] = {"--status", "open"};
	char *bad_ca[] = {"--ca", "-1"};
	char *id[] = {"42"};
	char *reject[] = {"42", "--reason", "the subject is not ours"};
	char *reject_ctl[] = {"42", "--reason", "a\tb"};
	char *bad_id[] = {"0"};
	(void)state;
	expect_call("request list", list, N(list), "GET",
	            "/v1/pki/requests?status=pending&ca=3&limit=100&next=a%20b", NULL);
	expect_call("request list", NULL, 0, "GET", "/v1/pki/requests", NULL);
	expect_usage("request list", bad_status, N(bad_status));
	expect_usage("request list", bad_ca, N(bad_ca));
	expect_call("request get", id, 1, "GET", "/v1/pki/requests/42", NULL);
	expect_call("request approve", id, 1, "POST", "/v1/pki/requests/42/approve", NULL);
	expect_call("request reject", id, 1, "POST", "/v1/pki/requests/42/reject", "{}");
	expect_call("request reject", reject, N(reject), "POST", "/v1/pki/requests/42/reject",
	            "{\"reason\":\"the subject is not ours\"}");
	expect_usage("request reject", reject_ctl, N(reject_ctl));
	expect_usage("request approve", bad_id, 1);
}

static void serials_are_hex_and_upper_cased(void **state)
{
	char out[CLI_PKI_SERIAL_SIZE] = "untouched";
	char longest[41];
	(void)state;
	assert_true(cli_pki_serial_parse("0a1b2C", out));
	assert_string_equal(out, "0A1B2C");
	assert_true(cli_pki_serial_parse("0a:1b:2c", out));
	assert_string_equal(out, "0A1B2C");
	memset(longest, 'f', 40);
	longest[40] = '\0';
	assert_true(cli_pki_serial_parse(longest, out));
	assert_int_equal(strlen(out), 40);
	static const char *const bad[] = {
	    "",    ":",  "0a:", ":0a", "0a::1b", "0x1F",
	    "1 2", "g1", "-1",  "1/2", "AB%2F",  "fffffffffffffffffffffffffffffffffffffffff"};
	strcpy(out, "untouched");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(cli_pki_serial_parse(bad[i], out));
		assert_string_equal(out, "untouched");
	}
}

static void certificate_commands(void **state)
{
	char *get[] = {"0a:ff"};
	char *der[] = {"0AFF", "--der", "-o", "c.der"};
	char *der_chain[] = {"0AFF", "--der", "--chain", "-o", "c.der"};
	char *der_no_out[] = {"0AFF", "--der"};
	char *chain_no_out[] = {"0AFF", "--chain"};
	char *revoke[] = {"0aff", "--reason", "keyCompromise"};
	char *hold_reason[] = {"0aff", "--reason", "certificateHold"};
	char *remove[] = {"0aff", "--reason", "removeFromCRL"};
	char *no_reason[] = {"0aff"};
	char *bad_serial[] = {"../x"};
	char *list[] = {"--ca", "3", "--status", "revoked"};
	char *bad_status[] = {"--status", "expired"};
	(void)state;
	expect_call("cert get", get, 1, "GET", "/v1/pki/certificates/0AFF", NULL);
	expect_call("cert get", der, N(der), "GET", "/v1/pki/certificates/0AFF?format=der", NULL);
	expect_usage("cert get", der_chain, N(der_chain));
	expect_usage("cert get", der_no_out, N(der_no_out));
	expect_usage("cert get", chain_no_out, N(chain_no_out));
	expect_call("cert revoke", revoke, N(revoke), "POST", "/v1/pki/certificates/0AFF/revoke",
	            "{\"reason\":\"keyCompromise\"}");
	expect_usage("cert revoke", hold_reason, N(hold_reason));
	expect_usage("cert revoke", remove, N(remove));
	expect_usage("cert revoke", no_reason, N(no_reason));
	expect_usage("cert get", bad_serial, 1);
	expect_call("cert hold", get, 1, "POST", "/v1/pki/certificates/0AFF/hold", NULL);
	expect_call("cert release", get, 1, "POST", "/v1/pki/certificates/0AFF/release", NULL);
	expect_call("cert status", get, 1, "GET", "/v1/pki/certificates/0AFF/status", NULL);
	expect_call("cert list", list, N(list), "GET", "/v1/pki/certificates?ca=3&status=revoked",
	            NULL);
	expect_usage("cert list", bad_status, N(bad_status));
}

static void reason_names_are_rfc5280(void **state)
{
	(void)state;
	static const char *const good[] = {
	    "unspecified", "keyCompromise",        "cACompromise",       "affiliationChanged",
	    "superseded",  "cessationOfOperation", "privilegeWithdrawn", "aACompromise"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(cli_pki_reason_ok(good[i]));
	static const char *const bad[] = {
	    "", "keycompromise", "key-compromise", "certificateHold", "removeFromCRL", "1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(cli_pki_reason_ok(bad[i]));
	assert_false(cli_pki_reason_ok(NULL));
}

static void crls_are_generated_and_fetched(void **state)
{
	char *ca[] = {"3"};
	char *delta[] = {"3", "--delta"};
	char *get[] = {"3", "-o", "ca.crl"};
	char *get_delta[] = {"root-ca", "--delta", "-o", "-"};
	char *get_no_out[] = {"3"};
	char *get_bad[] = {"a%2f", "-o", "x"};
	(void)state;
	expect_call("crl generate", ca, 1, "POST", "/v1/pki/cas/3/crl", NULL);
	expect_call("crl generate", delta, N(delta), "POST", "/v1/pki/cas/3/crl?delta=true", NULL);
	expect_call("crl get", get, N(get), "GET", "/pki/3/crl", NULL);
	expect_call("crl get", get_delta, N(get_delta), "GET", "/pki/root-ca/delta-crl", NULL);
	expect_usage("crl get", get_no_out, 1);
	expect_usage("crl get", get_bad, N(get_bad));
	/* Relying parties fetch CRLs without an account. */
	assert_int_equal(pki_cmd("crl get")->flags & CLI_NO_TOKEN, CLI_NO_TOKEN);
	assert_int_equal(pki_cmd("crl generate")->flags & CLI_NO_TOKEN, 0);
}

static void public_files_are_replaced_whole_with_mode_0644(void **state)
{
	char dir[256], path[300];
	struct stat st;
	(void)state;
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	write_file(path, "an older, longer file that must not leave a tail behind\n");
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(cli_write_public(path, KH_SLICE_LIT("PEM\n")), KH_EXIT_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(st.st_size, 4);
	/* Nothing but the file: no temporary left beside it. */
	DIR *d = opendir(dir);
	struct dirent *e;
	int entries = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 1);
	/* A directory that does not exist: a failure, not a usage error. */
	snprintf(path, sizeof(path), "%s/no/such/ca.pem", dir);
	assert_int_equal(cli_write_public(path, KH_SLICE_LIT("PEM\n")), KH_EXIT_FAILURE);
	kh_test_rmtree(dir);
}

static void trust_anchor_commands(void **state)
{
	char dir[256], pem[300], csr[300];
	struct cli_pki_call call;
	(void)state;
	kh_test_tmpdir(dir, sizeof(dir));
	snprintf(pem, sizeof(pem), "%s/root.pem", dir);
	snprintf(csr, sizeof(csr), "%s/req.csr", dir);
	write_file(pem, "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
	write_file(csr, "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n"
	                "-----END CERTIFICATE REQUEST-----\n");
	char *add[] = {"gm-root", pem};
	char *add_csr[] = {"gm-root", csr};
	char *add_missing[] = {"gm-root", dir};
	char *add_bad_name[] = {"gm root", pem};
	char *add_dots[] = {"..", pem};
	expect_call("anchor add", add, N(add), "POST", "/v1/pki/trust-anchors",
	            "{\"name\":\"gm-root\",\"certificate_pem\":\"-----BEGIN CERTIFICATE-----\\n"
	            "MIIC\\n-----END CERTIFICATE-----\\n\"}");
	/* A CSR is not a certificate; a directory cannot be read: failures, not usage. */
	assert_int_equal(build("anchor add", add_csr, N(add_csr), &call), KH_EXIT_FAILURE);
	cli_pki_call_cleanup(&call);
	assert_int_equal(build("anchor add", add_missing, N(add_missing), &call), KH_EXIT_FAILURE);
	cli_pki_call_cleanup(&call);
	expect_usage("anchor add", add_bad_name, N(add_bad_name));
	expect_usage("anchor add", add_dots, N(add_dots));

	char *list[] = {"--keystore-id", "4"};
	char *list_bad[] = {"--keystore-id", "0"};
	char *list_word[] = {"--keystore-id", "default"};
	char *id[] = {"5"};
	char *get_out[] = {"5", "-o", "root.pem"};
	char *bad_id[] = {"gm-root"};
	expect_call("anchor list", NULL, 0, "GET", "/v1/pki/trust-anchors", NULL);
	expect_call("anchor list", list, N(list), "GET", "/v1/pki/trust-anchors?keystore_id=4",
	            NULL);
	expect_usage("anchor list", list_bad, N(list_bad));
	expect_usage("anchor list", list_word, N(list_word));
	expect_call("anchor get", id, 1, "GET", "/v1/pki/trust-anchors/5", NULL);
	expect_call("anchor get", get_out, N(get_out), "GET", "/v1/pki/trust-anchors/5", NULL);
	expect_usage("anchor get", bad_id, 1);
	expect_call("anchor remove", id, 1, "DELETE", "/v1/pki/trust-anchors/5", NULL);
	expect_usage("anchor remove", bad_id, 1);
	kh_test_rmtree(dir);
}

static void trust_list_is_fetched_for_a_key_store(void **state)
{
	char *out[] = {"-o", "trust.pem"};
	char *ks[] = {"--keystore-id", "4", "-o", "-"};
	char *ks_bad[] = {"--keystore-id", "4x"};
	(void)state;
	expect_call("trust-list", NULL, 0, "GET", "/v1/pki/trust-list", NULL);
	expect_call("trust-list", out, N(out), "GET", "/v1/pki/trust-list", NULL);
	expect_call("trust-list", ks, N(ks), "GET", "/v1/pki/trust-list?keystore_id=4", NULL);
	expect_usage("trust-list", ks_bad, N(ks_bad));
}

static void ocsp_responder_commands(void **state)
{
	char *ca[] = {"3"};
	char *issue[] = {"3", "--validity-days", "7", "--new-key"};
	char *new_key[] = {"3", "--new-key"};
	char *days_over[] = {"3", "--validity-days", "366"};
	char *days_zero[] = {"3", "--validity-days", "0"};
	char *get_out[] = {"3", "-o", "responder.pem"};
	char *get_der[] = {"3", "--der", "-o", "responder.der"};
	char *get_der_stdout[] = {"3", "--der"};
	char *bad_ca[] = {"root-ca"};
	(void)state;
	expect_call("ca responder issue", ca, 1, "POST", "/v1/pki/cas/3/ocsp-responder", "{}");
	expect_call("ca responder issue", issue, N(issue), "POST", "/v1/pki/cas/3/ocsp-responder",
	            "{\"validity_days\":7,\"new_key\":true}");
	expect_call("ca responder issue", new_key, N(new_key), "POST",
	            "/v1/pki/cas/3/ocsp-responder", "{\"new_key\":true}");
	expect_usage("ca responder issue", days_over, N(days_over));
	expect_usage("ca responder issue", days_zero, N(days_zero));
	expect_usage("ca responder issue", bad_ca, 1);
	expect_call("ca responder get", ca, 1, "GET", "/v1/pki/cas/3/ocsp-responder", NULL);
	expect_call("ca responder get", get_out, N(get_out), "GET", "/v1/pki/cas/3/ocsp-responder",
	            NULL);
	expect_call("ca responder get", get_der, N(get_der), "GET",
	            "/v1/pki/cas/3/ocsp-responder?format=der", NULL);
	/* DER is not for a terminal: it needs -o (- says standard output on purpose). */
	expect_usage("ca responder get", get_der_stdout, N(get_der_stdout));
	expect_usage("ca responder get", bad_ca, 1);
	expect_call("ca responder remove", ca, 1, "DELETE", "/v1/pki/cas/3/ocsp-responder", NULL);
	expect_usage("ca responder remove", bad_ca, 1);
}

/* The CA's answer carries its responder as an object: "ocsp_responder.key" reaches into it. */
static void shown_fields_reach_into_member_objects(void **state)
{
	struct kh_json *doc = NULL;
	char buf[64];
	(void)state;
	assert_int_equal(kh_json_parse_object(KH_SLICE_LIT("{\"id\":3,\"ocsp_responder\":{\"key\":"
	                                                   "\"pki-ocsp.3\",\"not_after\":\"2027-"
	                                                   "01-01T00:00:00Z\"}}"),
	                                      &doc, NULL, 0),
	                 KH_OK);
	assert_string_equal(cli_text(doc, "ocsp_responder.key", buf, sizeof(buf)), "pki-ocsp.3");
	assert_string_equal(cli_text(doc, "ocsp_responder.not_after", buf, sizeof(buf)),
	                    "2027-01-01T00:00:00Z");
	assert_string_equal(cli_text(doc, "ocsp_responder.none", buf, sizeof(buf)), "-");
	assert_string_equal(cli_text(doc, "id.key", buf, sizeof(buf)), "-");
	assert_string_equal(cli_text(doc, "ocsp_responder", buf, sizeof(buf)), "{...}");
	kh_json_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ca_create_builds_each_kind),
	    cmocka_unit_test(ca_create_refuses_contradictions),
	    cmocka_unit_test(ca_reads_take_numeric_ids),
	    cmocka_unit_test(profile_create_sends_lists_in_order),
	    cmocka_unit_test(profile_values_are_checked),
	    cmocka_unit_test(profile_update_sends_only_what_changes),
	    cmocka_unit_test(profile_est_and_dual_options),
	    cmocka_unit_test(request_submit_carries_the_csr_pem),
	    cmocka_unit_test(dual_profile_and_envelope_form),
	    cmocka_unit_test(request_officer_commands),
	    cmocka_unit_test(serials_are_hex_and_upper_cased),
	    cmocka_unit_test(certificate_commands),
	    cmocka_unit_test(reason_names_are_rfc5280),
	    cmocka_unit_test(crls_are_generated_and_fetched),
	    cmocka_unit_test(public_files_are_replaced_whole_with_mode_0644),
	    cmocka_unit_test(trust_anchor_commands),
	    cmocka_unit_test(trust_list_is_fetched_for_a_key_store),
	    cmocka_unit_test(ocsp_responder_commands),
	    cmocka_unit_test(shown_fields_reach_into_member_objects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
