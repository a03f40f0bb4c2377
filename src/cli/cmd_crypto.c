// SPDX-License-Identifier: Apache-2.0
/*
 * keyhold encrypt, decrypt, data-key, reencrypt, sign, verify, mac, verify-mac, public-key,
 * random (API.md "Crypto operations"). Plaintexts and messages come from a file argument or
 * standard input, never from the command line; outputs go to standard output or -o FILE
 * (mode 0600 for plaintexts, data keys and random bytes). Ciphertexts, signatures and MACs are
 * one line of text; plaintexts are written as raw bytes.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "cli/kh_cli.h"

/* ---- shared steps ---- */

/* Begins a body for POST /v1/keys/{tag}/<op> and writes its path. */
static int begin(const struct cli_args *a, const char *op, char *path, struct cli_body *b)
{
	int ex = cli_path(path, CLI_PATH_MAX, "/v1/keys/%s/%s", cli_pos(a, 0), op);
	if (ex != KH_EXIT_OK)
		return ex;
	cli_body_init(b);
	kh_json_object_begin(&b->w);
	return KH_EXIT_OK;
}

/* A file (or standard input) as a Base64 member; secure when the input is secret. */
static int input_member(const struct cli_args *a, struct kh_json_writer *w, const char *member,
                        size_t max, const char *what)
{
	struct kh_buf in;
	kh_buf_init(&in, max, KH_BUF_SECURE);
	int ex = cli_read_input(cli_pos(a, 1), &in, what);
	if (ex == KH_EXIT_OK) {
		kh_json_key(w, member);
		kh_json_base64(w, kh_buf_slice(&in));
	}
	kh_buf_cleanup(&in);
	return ex;
}

/* A one-line text (ciphertext, signature, MAC) from a file as a string member. */
static int text_member(const char *path, struct kh_json_writer *w, const char *member,
                       const char *what)
{
	struct kh_buf in;
	kh_buf_init(&in, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_PLAIN);
	int ex = cli_read_text(path, &in, what);
	if (ex == KH_EXIT_OK) {
		kh_json_key(w, member);
		kh_json_string(w, kh_buf_slice(&in));
	}
	kh_buf_cleanup(&in);
	return ex;
}

/* Calls, then writes the string member of the answer as a line (or its decoded bytes). */
static int call_output(struct cli *c, const struct cli_args *a, const char *path,
                       struct cli_body *b, const char *member, bool decode)
{
	struct cli_reply r;
	struct kh_slice s;
	struct kh_buf bytes;
	kh_json_object_end(&b->w);
	int ex = cli_call(c, "POST", path, b, 0, &r);
	cli_body_cleanup(b);
	if (ex != KH_EXIT_OK || r.doc == NULL) {
		cli_reply_free(&r);
		return ex;
	}
	kh_buf_init(&bytes, KH_LIMIT_CIPHERTEXT_BYTES, KH_BUF_SECURE);
	if (kh_json_get_string(r.doc, member, &s) != KH_OK ||
	    (decode && kh_base64_decode(s, &bytes) != KH_OK))
		ex = cli_fail("the answer has no valid \"%s\"", member);
	else if (decode)
		ex = cli_write_output(cli_opt(a, "output"), kh_buf_slice(&bytes), true);
	else
		ex = cli_write_line(cli_opt(a, "output"), s, false);
	kh_buf_cleanup(&bytes);
	cli_reply_free(&r);
	return ex;
}

/* ---- encrypt, decrypt, reencrypt ---- */

static int encrypt(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = begin(a, "encrypt", path, &b);
	if (ex != KH_EXIT_OK)
		return ex;
	ex = input_member(a, &b.w, "plaintext", KH_LIMIT_PLAINTEXT_BYTES, "plaintext");
	if (ex == KH_EXIT_OK)
		ex = cli_context_member(a, &b.w);
	if (ex != KH_EXIT_OK) {
		cli_body_cleanup(&b);
		return ex;
	}
	return call_output(c, a, path, &b, "ciphertext", false);
}

static int with_ciphertext(struct cli *c, const struct cli_args *a, const char *op,
                           const char *answer, bool decode)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = begin(a, op, path, &b);
	if (ex != KH_EXIT_OK)
		return ex;
	ex = text_member(cli_pos(a, 1), &b.w, "ciphertext", "ciphertext");
	if (ex == KH_EXIT_OK)
		ex = cli_context_member(a, &b.w);
	if (ex != KH_EXIT_OK) {
		cli_body_cleanup(&b);
		return ex;
	}
	return call_output(c, a, path, &b, answer, decode);
}

static int decrypt(struct cli *c, const struct cli_args *a)
{
	return with_ciphertext(c, a, "decrypt", "plaintext", true);
}

static int reencrypt(struct cli *c, const struct cli_args *a)
{
	return with_ciphertext(c, a, "reencrypt", "ciphertext", false);
}

/* ---- data keys ---- */

static int data_key_show(const struct cli_args *a, const struct kh_json *doc)
{
	struct kh_slice ct, pt;
	struct kh_buf key;
	const char *out = cli_opt(a, "output");
	if (kh_json_get_string(doc, "ciphertext", &ct) != KH_OK)
		return cli_fail("the answer has no \"ciphertext\"");
	bool has_pt = kh_json_get_string(doc, "plaintext", &pt) == KH_OK;
	if (out == NULL) {
		printf("ciphertext  %.*s\n", (int)ct.len, (const char *)ct.ptr);
		if (has_pt)
			printf("plaintext   %.*s\n", (int)pt.len, (const char *)pt.ptr);
		return KH_EXIT_OK;
	}
	/* -o: the raw key to the file, the sealed key to standard output. */
	kh_buf_init(&key, KH_LIMIT_DATA_KEY_BITS_MAX / 8, KH_BUF_SECURE);
	int ex = has_pt && kh_base64_decode(pt, &key) == KH_OK
	             ? cli_write_output(out, kh_buf_slice(&key), true)
	             : cli_fail("the answer has no valid \"plaintext\"");
	kh_buf_cleanup(&key);
	if (ex == KH_EXIT_OK)
		printf("%.*s\n", (int)ct.len, (const char *)ct.ptr);
	return ex;
}

static int data_key(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	struct cli_reply r = {0};
	uint64_t bits = 256;
	const char *bits_text = cli_opt(a, "bits");
	int ex = bits_text != NULL ? cli_uint(bits_text, "--bits", KH_LIMIT_DATA_KEY_BITS_MIN,
	                                      KH_LIMIT_DATA_KEY_BITS_MAX, &bits)
	                           : KH_EXIT_OK;
	if (ex == KH_EXIT_OK && cli_flag(a, "no-plaintext") && cli_flag(a, "output"))
		ex = cli_usage_error(
		    "-o writes the plaintext key: it cannot go with --no-plaintext");
	if (ex == KH_EXIT_OK)
		ex = begin(a, "data-key", path, &b);
	if (ex != KH_EXIT_OK)
		return ex;
	kh_json_key(&b.w, "bits");
	kh_json_uint(&b.w, bits);
	kh_json_key(&b.w, "include_plaintext");
	kh_json_bool(&b.w, !cli_flag(a, "no-plaintext"));
	ex = cli_context_member(a, &b.w);
	kh_json_object_end(&b.w);
	if (ex == KH_EXIT_OK)
		ex = cli_call(c, "POST", path, &b, 0, &r);
	cli_body_cleanup(&b);
	if (ex == KH_EXIT_OK && r.doc != NULL)
		ex = data_key_show(a, r.doc);
	cli_reply_free(&r);
	return ex;
}

/* ---- signatures and MACs ---- */

static int sign(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	bool digest = cli_flag(a, "digest");
	int ex = begin(a, "sign", path, &b);
	if (ex != KH_EXIT_OK)
		return ex;
	ex = input_member(a, &b.w, digest ? "digest" : "message", KH_LIMIT_SIGN_MESSAGE_BYTES,
	                  digest ? "digest" : "message");
	if (cli_opt(a, "algorithm") != NULL) {
		kh_json_key(&b.w, "algorithm");
		kh_json_cstr(&b.w, cli_opt(a, "algorithm"));
	}
	if (ex != KH_EXIT_OK) {
		cli_body_cleanup(&b);
		return ex;
	}
	return call_output(c, a, path, &b, "signature", false);
}

/* "--NAME TEXT" or "--NAME-file FILE" as a string member. */
static int given_text(const struct cli_args *a, struct kh_json_writer *w, const char *opt,
                      const char *opt_file, const char *member)
{
	const char *text = cli_opt(a, opt), *file = cli_opt(a, opt_file);
	if ((text == NULL) == (file == NULL))
		return cli_usage_error("give --%s or --%s", opt, opt_file);
	if (file != NULL && strcmp(file, "-") == 0 &&
	    (cli_pos(a, 1) == NULL || strcmp(cli_pos(a, 1), "-") == 0))
		return cli_usage_error("the message already comes from standard input");
	if (file != NULL)
		return text_member(file, w, member, member);
	kh_json_key(w, member);
	kh_json_cstr(w, text);
	return KH_EXIT_OK;
}

static int show_valid(struct cli *c, const char *path, struct cli_body *b)
{
	struct cli_reply r;
	bool valid = false;
	int ex = cli_call(c, "POST", path, b, 0, &r);
	cli_body_cleanup(b);
	if (ex != KH_EXIT_OK || r.doc == NULL) {
		cli_reply_free(&r);
		return ex;
	}
	if (kh_json_get_bool(r.doc, "valid", &valid) != KH_OK)
		ex = cli_fail("the answer has no \"valid\"");
	else
		printf("%s\n", valid ? "valid" : "INVALID");
	cli_reply_free(&r);
	return ex == KH_EXIT_OK && !valid ? KH_EXIT_FAILURE : ex;
}

static int verify(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	bool digest = cli_flag(a, "digest");
	int ex = begin(a, "verify", path, &b);
	if (ex != KH_EXIT_OK)
		return ex;
	ex = given_text(a, &b.w, "signature", "signature-file", "signature");
	if (ex == KH_EXIT_OK)
		ex = input_member(a, &b.w, digest ? "digest" : "message",
		                  KH_LIMIT_SIGN_MESSAGE_BYTES, digest ? "digest" : "message");
	if (ex == KH_EXIT_OK && cli_opt(a, "algorithm") != NULL) {
		kh_json_key(&b.w, "algorithm");
		kh_json_cstr(&b.w, cli_opt(a, "algorithm"));
	}
	kh_json_object_end(&b.w);
	if (ex != KH_EXIT_OK) {
		cli_body_cleanup(&b);
		return ex;
	}
	return show_valid(c, path, &b);
}

static int mac(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = begin(a, "mac", path, &b);
	if (ex == KH_EXIT_OK)
		ex = input_member(a, &b.w, "message", KH_LIMIT_SIGN_MESSAGE_BYTES, "message");
	if (ex != KH_EXIT_OK) {
		cli_body_cleanup(&b);
		return ex;
	}
	return call_output(c, a, path, &b, "mac", false);
}

static int verify_mac(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_body b;
	int ex = begin(a, "verify-mac", path, &b);
	if (ex != KH_EXIT_OK)
		return ex;
	ex = given_text(a, &b.w, "mac", "mac-file", "mac");
	if (ex == KH_EXIT_OK)
		ex = input_member(a, &b.w, "message", KH_LIMIT_SIGN_MESSAGE_BYTES, "message");
	kh_json_object_end(&b.w);
	if (ex != KH_EXIT_OK) {
		cli_body_cleanup(&b);
		return ex;
	}
	return show_valid(c, path, &b);
}

/* ---- public keys, random bytes ---- */

static int public_key(struct cli *c, const struct cli_args *a)
{
	char path[CLI_PATH_MAX];
	struct cli_reply r = {0};
	struct kh_slice pem;
	uint64_t v = 0;
	const char *version = cli_opt(a, "version");
	int ex = version != NULL ? cli_uint(version, "--version", 1, UINT32_MAX, &v) : KH_EXIT_OK;
	if (ex == KH_EXIT_OK)
		ex = cli_path(path, sizeof(path), "/v1/keys/%s/public-key", cli_pos(a, 0));
	if (ex == KH_EXIT_OK)
		ex = cli_query(path, sizeof(path), "version", version);
	if (ex == KH_EXIT_OK)
		ex = cli_call(c, "GET", path, NULL, 0, &r);
	if (ex != KH_EXIT_OK || r.doc == NULL) {
		cli_reply_free(&r);
		return ex;
	}
	if (kh_json_get_string(r.doc, "pem", &pem) != KH_OK)
		ex = cli_fail("the answer has no \"pem\"");
	else
		ex = cli_write_output(cli_opt(a, "output"), pem, false);
	cli_reply_free(&r);
	return ex;
}

static int random_bytes(struct cli *c, const struct cli_args *a)
{
	struct cli_body b;
	struct cli_reply r = {0};
	struct kh_slice s;
	struct kh_buf bytes;
	uint64_t n = 32;
	const char *count = cli_opt(a, "bytes");
	int ex =
	    count != NULL ? cli_uint(count, "--bytes", 1, KH_LIMIT_RANDOM_BYTES, &n) : KH_EXIT_OK;
	if (ex != KH_EXIT_OK)
		return ex;
	cli_body_init(&b);
	kh_json_object_begin(&b.w);
	kh_json_key(&b.w, "bytes");
	kh_json_uint(&b.w, n);
	kh_json_object_end(&b.w);
	ex = cli_call(c, "POST", "/v1/random", &b, 0, &r);
	cli_body_cleanup(&b);
	if (ex != KH_EXIT_OK || r.doc == NULL) {
		cli_reply_free(&r);
		return ex;
	}
	kh_buf_init(&bytes, KH_LIMIT_RANDOM_BYTES, KH_BUF_SECURE);
	if (kh_json_get_string(r.doc, "random", &s) != KH_OK)
		ex = cli_fail("the answer has no \"random\"");
	else if (!cli_flag(a, "raw"))
		ex = cli_write_line(cli_opt(a, "output"), s, true);
	else if (kh_base64_decode(s, &bytes) != KH_OK)
		ex = cli_fail("the answer's \"random\" is not Base64");
	else
		ex = cli_write_output(cli_opt(a, "output"), kh_buf_slice(&bytes), true);
	kh_buf_cleanup(&bytes);
	cli_reply_free(&r);
	return ex;
}

/* ---- the table ---- */

#define OPT_OUTPUT                                                                                 \
	{                                                                                          \
		"output", 'o', "FILE", "write the result to FILE instead of standard output"       \
	}
#define OPT_CONTEXT                                                                                \
	{                                                                                          \
		"context", 'c', "TEXT", "associated data; decrypt must give the same"              \
	}
#define OPT_CONTEXT_FILE                                                                           \
	{                                                                                          \
		"context-file", 0, "FILE", "associated data from a file"                           \
	}
#define OPT_END                                                                                    \
	{                                                                                          \
		NULL, 0, NULL, NULL                                                                \
	}

static const struct cli_opt enc_opts[] = {OPT_OUTPUT, OPT_CONTEXT, OPT_CONTEXT_FILE, OPT_END};
static const struct cli_opt dk_opts[] = {
    {"bits", 'b', "N", "key length, 128..512 in steps of 8 (default 256)"},
    {"no-plaintext", 0, NULL, "only the sealed data key"},
    {"output", 'o', "FILE", "write the raw key to FILE (mode 0600), the sealed key to stdout"},
    OPT_CONTEXT,
    OPT_CONTEXT_FILE,
    OPT_END,
};
static const struct cli_opt sign_opts[] = {
    OPT_OUTPUT,
    {"digest", 0, NULL, "the input is a digest (SHA-256/384, or SM3 e for SM2), not the message"},
    {"algorithm", 'a', "ALG",
     "RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ECDSA_SHA_256, ECDSA_SHA_384, "
     "ED25519_SHA_512, SM2DSA (default: the key's)"},
    OPT_END,
};
static const struct cli_opt verify_opts[] = {
    {"signature", 's', "SIG", "the signature (kh:v<N>:...)"},
    {"signature-file", 0, "FILE", "the signature from a file"},
    {"digest", 0, NULL, "the input is a digest, not the message"},
    {"algorithm", 'a', "ALG", "as for sign"},
    OPT_END,
};
static const struct cli_opt verify_mac_opts[] = {
    {"mac", 'm', "MAC", "the MAC (kh:v<N>:...)"},
    {"mac-file", 0, "FILE", "the MAC from a file"},
    OPT_END,
};
static const struct cli_opt out_opts[] = {OPT_OUTPUT, OPT_END};
static const struct cli_opt pub_opts[] = {
    OPT_OUTPUT,
    {"version", 0, "N", "that version's public key (default: the current one)"},
    OPT_END,
};
static const struct cli_opt random_opts[] = {
    {"bytes", 'n', "N", "how many bytes, 1..1024 (default 32)"},
    {"raw", 0, NULL, "write raw bytes instead of Base64"},
    OPT_OUTPUT,
    OPT_END,
};

const struct cli_cmd cli_crypto_cmds[] = {
    {NULL, "encrypt", "TAG [FILE|-]", "encrypt a file or standard input (at most 32 KiB)", enc_opts,
     1, 2, encrypt, 0},
    {NULL, "decrypt", "TAG [FILE|-]", "decrypt a ciphertext read from a file or standard input",
     enc_opts, 1, 2, decrypt, 0},
    {NULL, "data-key", "TAG", "a fresh data key, and the same sealed under the key", dk_opts, 1, 1,
     data_key, 0},
    {NULL, "reencrypt", "TAG [FILE|-]", "re-encrypt a ciphertext under the current version",
     enc_opts, 1, 2, reencrypt, 0},
    {NULL, "sign", "TAG [FILE|-]", "sign a message (at most 8 KiB) or a digest", sign_opts, 1, 2,
     sign, 0},
    {NULL, "verify", "TAG [FILE|-]", "verify a signature; exit 1 when it does not verify",
     verify_opts, 1, 2, verify, 0},
    {NULL, "mac", "TAG [FILE|-]", "HMAC of a message (at most 8 KiB)", out_opts, 1, 2, mac, 0},
    {NULL, "verify-mac", "TAG [FILE|-]", "verify a MAC; exit 1 when it does not verify",
     verify_mac_opts, 1, 2, verify_mac, 0},
    {NULL, "public-key", "TAG", "the public key of an asymmetric key (PEM)", pub_opts, 1, 1,
     public_key, 0},
    {NULL, "random", "", "random bytes from the server", random_opts, 0, 0, random_bytes, 0},
    {NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, 0},
};
