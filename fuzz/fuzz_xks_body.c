/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the XKS request decoders: the input is read as the body of each of the four operations.
 * Properties checked, not only "no crash":
 * - a refusal is one of the decoders' codes, its error is kh_xks_error_of(code), its message is
 *   short printable ASCII, and the error document for it parses back with that errorName;
 * - an accepted request has every member its operation requires: non-empty printable
 *   requestMetadata strings within the limit, the buffers within their limits, an IV of 12 or
 *   16 bytes and a tag of 16, the plaintext in secure memory;
 * - what was decoded, written back as a body, decodes to the same request;
 * - a decrypt answer made of the decoded ciphertext reads back as that plaintext.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kh_limits.h"
#include "xks/kh_xks_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static const char *const md_names[] = {"kmsRequestId", "kmsOperation",  "awsPrincipalArn",
                                       "kmsKeyArn",    "kmsViaService", "awsSourceVpc",
                                       "awsSourceVpce"};
/* How many of md_names each operation requires. */
static const size_t md_required[KH_XKS_OP_COUNT] = {2, 3, 4, 4};

static void md_fields(const struct kh_xks_request_metadata *md, struct kh_slice out[7])
{
	out[0] = md->kms_request_id;
	out[1] = md->kms_operation;
	out[2] = md->aws_principal_arn;
	out[3] = md->kms_key_arn;
	out[4] = md->kms_via_service;
	out[5] = md->aws_source_vpc;
	out[6] = md->aws_source_vpce;
}

static bool printable(struct kh_slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (s.ptr[i] < 0x20 || s.ptr[i] > 0x7e)
			return false;
	}
	return true;
}

static void check_refusal(kh_rc rc, const struct kh_xks_fault *fault)
{
	struct kh_buf out;
	struct kh_json *doc = NULL;
	struct kh_slice name;
	char err[128];
	size_t n = strlen(fault->message);

	CHECK(rc == KH_ERR_BAD_INPUT || rc == KH_ERR_BAD_ENCODING || rc == KH_ERR_TOO_LARGE ||
	      rc == KH_ERR_DECRYPT || rc == KH_ERR_NOMEM);
	CHECK(fault->error == kh_xks_error_of(rc));
	CHECK(n > 0 && n < KH_XKS_MESSAGE_MAX);
	CHECK(printable(KH_SLICE(fault->message, n)));
	kh_buf_init(&out, 1024, KH_BUF_PLAIN);
	CHECK(kh_xks_error_encode(fault->error, fault->message, &out) == KH_OK);
	CHECK(kh_json_parse_object(kh_buf_slice(&out), &doc, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_get_string(doc, "errorName", &name) == KH_OK);
	CHECK(kh_slice_eq(name, kh_slice_from_cstr(kh_xks_error_name(fault->error))));
	kh_json_free(&doc);
	kh_buf_cleanup(&out);
}

static void check_accepted(const struct kh_xks_request *req)
{
	struct kh_slice md[7];

	md_fields(&req->md, md);
	for (size_t i = 0; i < 7; i++) {
		CHECK(md[i].len <= KH_LIMIT_XKS_METADATA_STRING_BYTES && printable(md[i]));
		if (i < md_required[req->op])
			CHECK(md[i].len > 0);
	}
	CHECK((req->plaintext.flags & KH_BUF_SECURE) != 0);
	CHECK(req->plaintext.len <= KH_LIMIT_XKS_PLAINTEXT_BYTES);
	CHECK(req->ciphertext.len <= KH_LIMIT_XKS_PLAINTEXT_BYTES);
	CHECK(req->aad.len <= KH_XKS_AAD_MAX);
	CHECK(req->metadata.len <= KH_XKS_METADATA_MAX);
	if (req->op == KH_XKS_OP_DECRYPT) {
		CHECK(req->iv.len == KH_XKS_IV_LEN || req->iv.len == KH_XKS_IV_LEN_LONG);
		CHECK(req->tag.len == KH_XKS_TAG_LEN);
	} else {
		CHECK(req->iv.len == 0 && req->tag.len == 0 && req->ciphertext.len == 0 &&
		      req->metadata.len == 0);
	}
	if (req->op != KH_XKS_OP_ENCRYPT)
		CHECK(req->plaintext.len == 0 && !req->want_integrity);
	if (req->op == KH_XKS_OP_HEALTH || req->op == KH_XKS_OP_METADATA)
		CHECK(req->aad.len == 0);
}

static void b64_member(struct kh_json_writer *w, const char *name, const struct kh_buf *b)
{
	kh_json_key(w, name);
	kh_json_base64(w, kh_buf_slice(b));
}

/* The request as a body again (absent optional members and empty ones read alike). */
static void write_body(const struct kh_xks_request *req, struct kh_buf *out)
{
	struct kh_json_writer w;
	struct kh_slice md[7];

	md_fields(&req->md, md);
	kh_json_writer_init(&w, out);
	kh_json_object_begin(&w);
	kh_json_key(&w, "requestMetadata");
	kh_json_object_begin(&w);
	for (size_t i = 0; i < 7; i++) {
		if (md[i].len == 0)
			continue;
		kh_json_key(&w, md_names[i]);
		kh_json_string(&w, md[i]);
	}
	kh_json_object_end(&w);
	if (req->op == KH_XKS_OP_ENCRYPT || req->op == KH_XKS_OP_DECRYPT) {
		kh_json_key(&w, "encryptionAlgorithm");
		kh_json_cstr(&w, "AES_GCM");
		b64_member(&w, "additionalAuthenticatedData", &req->aad);
	}
	if (req->op == KH_XKS_OP_ENCRYPT) {
		b64_member(&w, "plaintext", &req->plaintext);
		if (req->want_integrity) {
			kh_json_key(&w, "ciphertextDataIntegrityValueAlgorithm");
			kh_json_cstr(&w, "SHA_256");
		}
	}
	if (req->op == KH_XKS_OP_DECRYPT) {
		b64_member(&w, "ciphertext", &req->ciphertext);
		b64_member(&w, "initializationVector", &req->iv);
		b64_member(&w, "authenticationTag", &req->tag);
		b64_member(&w, "ciphertextMetadata", &req->metadata);
	}
	kh_json_object_end(&w);
	CHECK(kh_json_writer_end(&w) == KH_OK);
}

static bool same_buf(const struct kh_buf *a, const struct kh_buf *b)
{
	return kh_slice_eq(kh_buf_slice(a), kh_buf_slice(b));
}

static void check_rewrite(const struct kh_xks_request *req)
{
	struct kh_buf body;
	struct kh_xks_request back;
	struct kh_xks_fault fault;
	struct kh_slice a[7], b[7];

	kh_buf_init(&body, 2 * KH_LIMIT_BODY_BYTES, KH_BUF_SECURE);
	write_body(req, &body);
	CHECK(kh_xks_request_decode(req->op, kh_buf_slice(&body), &back, &fault) == KH_OK);
	md_fields(&req->md, a);
	md_fields(&back.md, b);
	for (size_t i = 0; i < 7; i++)
		CHECK(kh_slice_eq(a[i], b[i]));
	CHECK(same_buf(&req->plaintext, &back.plaintext) && same_buf(&req->aad, &back.aad) &&
	      same_buf(&req->ciphertext, &back.ciphertext) && same_buf(&req->iv, &back.iv) &&
	      same_buf(&req->tag, &back.tag) && same_buf(&req->metadata, &back.metadata) &&
	      req->want_integrity == back.want_integrity);
	kh_xks_request_cleanup(&back);
	kh_buf_cleanup(&body);
}

static void check_decrypt_answer(const struct kh_xks_request *req)
{
	struct kh_buf out;
	struct kh_buf pt;
	struct kh_json *doc = NULL;
	char err[128];

	kh_buf_init(&out, 2 * KH_LIMIT_XKS_PLAINTEXT_BYTES, KH_BUF_SECURE);
	kh_buf_init(&pt, KH_LIMIT_XKS_PLAINTEXT_BYTES, KH_BUF_SECURE);
	CHECK(kh_xks_decrypt_encode(kh_buf_slice(&req->ciphertext), &out) == KH_OK);
	CHECK(kh_json_parse_object(kh_buf_slice(&out), &doc, err, sizeof(err)) == KH_OK);
	CHECK(kh_json_get_base64(doc, "plaintext", &pt) == KH_OK);
	CHECK(same_buf(&pt, &req->ciphertext));
	kh_json_free(&doc);
	kh_buf_cleanup(&pt);
	kh_buf_cleanup(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (enum kh_xks_op op = KH_XKS_OP_HEALTH; op < KH_XKS_OP_COUNT; op++) {
		struct kh_xks_request req;
		struct kh_xks_fault fault;
		kh_rc rc;

		memset(&fault, 0, sizeof(fault));
		rc = kh_xks_request_decode(op, KH_SLICE(data, size), &req, &fault);
		if (rc != KH_OK) {
			check_refusal(rc, &fault);
			continue;
		}
		CHECK(req.op == op);
		if (req.late != KH_OK) {
			/* Late refusals come only after every validation check passed. */
			CHECK(req.late == KH_ERR_TOO_LARGE || req.late == KH_ERR_DECRYPT);
			CHECK(req.md.kms_request_id.len > 0 && req.md.kms_operation.len > 0);
			check_refusal(req.late, &req.late_fault);
			kh_xks_request_cleanup(&req);
			continue;
		}
		check_accepted(&req);
		check_rewrite(&req);
		if (op == KH_XKS_OP_DECRYPT)
			check_decrypt_answer(&req);
		kh_xks_request_cleanup(&req);
	}
	return 0;
}
