/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XKS bodies: each operation's decoder refuses every required member missing in turn, wrong
 * types, bad Base64, wrong algorithm names, bad IV and tag lengths, with the error and status of
 * XKS.md; ignores unknown members at every level; takes the sizes AWS sends and refuses ours
 * plus one as UnsupportedOperationException; keeps the plaintext in secure memory. The encoders
 * give exact compact bytes.
 */
#include "kh_test_crypto.h"

#include <stdio.h>
#include <string.h>

#include "base/kh_codec.h"
#include "base/kh_limits.h"
#include "xks/kh_xks_body.h"

/* ---- building bodies ---- */

struct member {
	const char *name;
	const char *value; /* JSON text */
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define NONE ((size_t)-1)

static const struct member md_all[] = {
    {"kmsRequestId", "\"4112f4d6-db54-4af4-ae30-c55a22a8dfae\""},
    {"kmsOperation", "\"Encrypt\""},
    {"awsPrincipalArn", "\"arn:aws:iam::123456789012:user/Alice\""},
    {"kmsKeyArn", "\"arn:aws:kms:us-east-2:123456789012:key/1234abcd\""},
    {"kmsViaService", "\"ebs\""},
    {"awsSourceVpc", "\"vpc-0123456789abcdef0\""},
    {"awsSourceVpce", "\"vpce-0123456789abcdef0\""},
};
/* Required per operation: health 2, metadata 3, encrypt and decrypt 4 (the first n above). */
static const size_t md_required[KH_XKS_OP_COUNT] = {2, 3, 4, 4};

static const struct member encrypt_members[] = {
    {"plaintext", "\"SGVsbG8gV29ybGQh\""},
    {"encryptionAlgorithm", "\"AES_GCM\""},
    {"additionalAuthenticatedData", "\"cHJvamVjdD1uaWxl\""},
    {"ciphertextDataIntegrityValueAlgorithm", "\"SHA_256\""},
};
static const struct member decrypt_members[] = {
    {"ciphertext", "\"D2e6d6rFlXT/LfOq\""},
    {"initializationVector", "\"AAECAwQFBgcICQoL\""},
    {"authenticationTag", "\"+DX8ZJOvQVMTeK7gwOAsdg==\""},
    {"encryptionAlgorithm", "\"AES_GCM\""},
    {"ciphertextMetadata", "\"a2V5X3ZlcnNpb249MQ==\""},
    {"additionalAuthenticatedData", "\"cHJvamVjdD1uaWxl\""},
};
static const size_t body_required[KH_XKS_OP_COUNT] = {0, 0, 2, 4};

static void ops_members(enum kh_xks_op op, const struct member **out, size_t *out_count)
{
	*out = op == KH_XKS_OP_ENCRYPT ? encrypt_members : decrypt_members;
	*out_count = op == KH_XKS_OP_ENCRYPT   ? COUNT(encrypt_members)
	             : op == KH_XKS_OP_DECRYPT ? COUNT(decrypt_members)
	                                       : 0;
}

static void put(struct kh_buf *b, const char *s)
{
	assert_int_equal(kh_buf_append_cstr(b, s), KH_OK);
}

static void put_members(struct kh_buf *b, const struct member *m, size_t n, size_t skip,
                        const struct member *extra, bool *first)
{
	for (size_t i = 0; i < n; i++) {
		const struct member *x = i == skip && extra != NULL ? extra : &m[i];
		if (i == skip && extra == NULL)
			continue;
		put(b, *first ? "\"" : ",\"");
		*first = false;
		put(b, x->name);
		put(b, "\":");
		put(b, x->value);
	}
}

/* The full body of op with md member md_skip and body member skip left out (NONE: none), or
 * replaced by the given member when it is not NULL. */
static struct kh_buf body_with(enum kh_xks_op op, size_t md_skip, const struct member *md_extra,
                               size_t skip, const struct member *extra)
{
	struct kh_buf b;
	const struct member *m;
	size_t n;
	bool first = true;
	kh_buf_init(&b, KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
	ops_members(op, &m, &n);
	put(&b, "{\"requestMetadata\":{");
	put_members(&b, md_all, COUNT(md_all), md_skip, md_extra, &first);
	put(&b, "}");
	first = false;
	put_members(&b, m, n, skip, extra, &first);
	put(&b, "}");
	return b;
}

static struct kh_buf body(enum kh_xks_op op)
{
	return body_with(op, NONE, NULL, NONE, NULL);
}

/* ---- checking results ---- */

static void expect(enum kh_xks_op op, struct kh_slice text, kh_rc want, enum kh_xks_error err)
{
	struct kh_xks_request req;
	struct kh_xks_fault fault;
	memset(&fault, 0, sizeof(fault));
	kh_rc rc = kh_xks_request_decode(op, text, &req, &fault);
	if (rc == KH_OK && req.late != KH_OK) {
		/* A late refusal: decoded, with the refusal kept for after the key checks. */
		assert_true(req.md.kms_request_id.len > 0);
		rc = req.late;
		fault = req.late_fault;
		kh_xks_request_cleanup(&req);
		assert_int_equal(req.late, KH_OK);
		if (rc != want)
			fail_msg("op %d: late %s, want %s", (int)op, kh_rc_name(rc),
			         kh_rc_name(want));
		assert_true(rc == KH_ERR_TOO_LARGE || rc == KH_ERR_DECRYPT);
	} else if (rc != want)
		fail_msg("op %d: got %s, want %s (%s)", (int)op, kh_rc_name(rc), kh_rc_name(want),
		         fault.message);
	if (rc == KH_OK) {
		assert_int_equal(req.late, KH_OK);
		kh_xks_request_cleanup(&req);
		return;
	}
	assert_int_equal(fault.error, err);
	assert_int_equal(fault.error, kh_xks_error_of(rc));
	size_t n = strlen(fault.message);
	assert_true(n > 0 && n < KH_XKS_MESSAGE_MAX);
	for (size_t i = 0; i < n; i++)
		assert_true(fault.message[i] >= 0x20 && fault.message[i] < 0x7f);
}

static void expect_str(enum kh_xks_op op, const char *text, kh_rc want, enum kh_xks_error err)
{
	expect(op, kh_slice_from_cstr(text), want, err);
}

static void expect_buf(enum kh_xks_op op, struct kh_buf *b, kh_rc want, enum kh_xks_error err)
{
	expect(op, kh_buf_slice(b), want, err);
	kh_buf_cleanup(b);
}

static void expect_member(enum kh_xks_op op, const char *name, const char *value, kh_rc want,
                          enum kh_xks_error err)
{
	const struct member *m;
	size_t n;
	const struct member x = {name, value};
	ops_members(op, &m, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(m[i].name, name) == 0) {
			struct kh_buf b = body_with(op, NONE, NULL, i, &x);
			expect_buf(op, &b, want, err);
			return;
		}
	}
	fail_msg("no member %s", name);
}

/* ---- decoders ---- */

static void full_bodies_decode_with_every_member(void **state)
{
	(void)state;
	struct kh_xks_request req;
	struct kh_xks_fault fault;
	struct kh_buf b = body(KH_XKS_OP_DECRYPT);
	assert_int_equal(kh_xks_request_decode(KH_XKS_OP_DECRYPT, kh_buf_slice(&b), &req, &fault),
	                 KH_OK);
	assert_true(kh_slice_eq(req.md.kms_request_id,
	                        KH_SLICE_LIT("4112f4d6-db54-4af4-ae30-c55a22a8dfae")));
	assert_true(kh_slice_eq(req.md.kms_operation, KH_SLICE_LIT("Encrypt")));
	assert_true(kh_slice_eq(req.md.aws_principal_arn,
	                        KH_SLICE_LIT("arn:aws:iam::123456789012:user/Alice")));
	assert_true(kh_slice_eq(req.md.kms_key_arn,
	                        KH_SLICE_LIT("arn:aws:kms:us-east-2:123456789012:key/1234abcd")));
	assert_true(kh_slice_eq(req.md.kms_via_service, KH_SLICE_LIT("ebs")));
	assert_true(kh_slice_eq(req.md.aws_source_vpc, KH_SLICE_LIT("vpc-0123456789abcdef0")));
	assert_true(kh_slice_eq(req.md.aws_source_vpce, KH_SLICE_LIT("vpce-0123456789abcdef0")));
	kh_test_assert_hex(kh_buf_slice(&req.ciphertext), "0f67ba77aac59574ff2df3aa");
	kh_test_assert_hex(kh_buf_slice(&req.iv), "000102030405060708090a0b");
	kh_test_assert_hex(kh_buf_slice(&req.tag), "f835fc6493af41531378aee0c0e02c76");
	assert_true(kh_slice_eq(kh_buf_slice(&req.metadata), KH_SLICE_LIT("key_version=1")));
	assert_true(kh_slice_eq(kh_buf_slice(&req.aad), KH_SLICE_LIT("project=nile")));
	assert_int_equal(req.plaintext.len, 0);
	kh_xks_request_cleanup(&req);
	kh_xks_request_cleanup(&req); /* idempotent */
	kh_buf_cleanup(&b);

	b = body(KH_XKS_OP_ENCRYPT);
	assert_int_equal(kh_xks_request_decode(KH_XKS_OP_ENCRYPT, kh_buf_slice(&b), &req, &fault),
	                 KH_OK);
	assert_true(kh_slice_eq(kh_buf_slice(&req.plaintext), KH_SLICE_LIT("Hello World!")));
	assert_true(req.want_integrity);
	kh_xks_request_cleanup(&req);
	kh_buf_cleanup(&b);

	for (enum kh_xks_op op = 0; op < KH_XKS_OP_COUNT; op++) {
		b = body(op);
		expect_buf(op, &b, KH_OK, 0);
	}
}

static void each_required_request_metadata_member_missing_is_refused(void **state)
{
	(void)state;
	for (enum kh_xks_op op = 0; op < KH_XKS_OP_COUNT; op++) {
		for (size_t i = 0; i < COUNT(md_all); i++) {
			struct kh_buf b = body_with(op, i, NULL, NONE, NULL);
			if (i < md_required[op])
				expect_buf(op, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
			else
				expect_buf(op, &b, KH_OK, 0);
		}
	}
	/* Health needs only the request id and operation. */
	expect_str(KH_XKS_OP_HEALTH,
	           "{\"requestMetadata\":{\"kmsRequestId\":\"r\",\"kmsOperation\":\"x\"}}", KH_OK,
	           0);
}

static void each_required_body_member_missing_is_refused(void **state)
{
	(void)state;
	for (enum kh_xks_op op = KH_XKS_OP_ENCRYPT; op <= KH_XKS_OP_DECRYPT; op++) {
		const struct member *m;
		size_t n;
		ops_members(op, &m, &n);
		for (size_t i = 0; i < n; i++) {
			struct kh_buf b = body_with(op, NONE, NULL, i, NULL);
			if (i < body_required[op])
				expect_buf(op, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
			else
				expect_buf(op, &b, KH_OK, 0);
		}
	}
}

static void empty_bodies_and_empty_request_metadata_are_refused_on_every_operation(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{}",
	    "{\"requestMetadata\":{}}",
	    "{\"requestMetadata\":null}",
	    "",
	    "[]",
	    "{\"requestMetadata\":{\"kmsRequestId\":\"r\",\"kmsOperation\":\"x\"}} x",
	    "{\"requestMetadata\":{\"kmsRequestId\":\"r\",\"kmsRequestId\":\"r\","
	    "\"kmsOperation\":\"x\"}}",
	};
	for (enum kh_xks_op op = 0; op < KH_XKS_OP_COUNT; op++) {
		for (size_t i = 0; i < COUNT(bad); i++)
			expect_str(op, bad[i], KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	}
}

static void wrong_types_are_refused(void **state)
{
	(void)state;
	static const char *const not_strings[] = {"1", "true", "null", "[]", "{}", "\"\""};
	for (size_t i = 0; i < COUNT(not_strings); i++) {
		for (size_t k = 0; k < 4; k++) {
			const struct member x = {md_all[k].name, not_strings[i]};
			struct kh_buf b = body_with(KH_XKS_OP_ENCRYPT, k, &x, NONE, NULL);
			expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
		}
		expect_member(KH_XKS_OP_ENCRYPT, "encryptionAlgorithm", not_strings[i],
		              KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
		if (strcmp(not_strings[i], "\"\"") == 0)
			continue; /* empty Base64 is empty bytes */
		expect_member(KH_XKS_OP_ENCRYPT, "plaintext", not_strings[i], KH_ERR_BAD_INPUT,
		              KH_XKS_ERR_VALIDATION);
		expect_member(KH_XKS_OP_DECRYPT, "ciphertext", not_strings[i], KH_ERR_BAD_INPUT,
		              KH_XKS_ERR_VALIDATION);
	}
	expect_str(KH_XKS_OP_HEALTH, "{\"requestMetadata\":\"x\"}", KH_ERR_BAD_INPUT,
	           KH_XKS_ERR_VALIDATION);
	expect_str(KH_XKS_OP_HEALTH, "{\"requestMetadata\":[]}", KH_ERR_BAD_INPUT,
	           KH_XKS_ERR_VALIDATION);
	/* Opaque strings: printable ASCII only; an optional one may be empty. */
	const struct member ctl = {"kmsOperation", "\"a\\u0001b\""};
	struct kh_buf b = body_with(KH_XKS_OP_HEALTH, 1, &ctl, NONE, NULL);
	expect_buf(KH_XKS_OP_HEALTH, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	const struct member uni = {"kmsOperation", "\"caf\xc3\xa9\""};
	b = body_with(KH_XKS_OP_HEALTH, 1, &uni, NONE, NULL);
	expect_buf(KH_XKS_OP_HEALTH, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	const struct member empty_vpc = {"awsSourceVpc", "\"\""};
	b = body_with(KH_XKS_OP_HEALTH, 5, &empty_vpc, NONE, NULL);
	expect_buf(KH_XKS_OP_HEALTH, &b, KH_OK, 0);
	/* An unknown operation name is not ours to refuse. */
	const struct member op = {"kmsOperation", "\"SomeFutureOperation\""};
	b = body_with(KH_XKS_OP_ENCRYPT, 1, &op, NONE, NULL);
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_OK, 0);
}

static void arns_of_2048_characters_are_accepted_and_longer_refused(void **state)
{
	(void)state;
	char value[2 + KH_LIMIT_XKS_METADATA_STRING_BYTES + 2];
	value[0] = '"';
	memset(value + 1, 'a', KH_LIMIT_XKS_METADATA_STRING_BYTES + 1);
	for (size_t len = KH_LIMIT_XKS_METADATA_STRING_BYTES;
	     len <= KH_LIMIT_XKS_METADATA_STRING_BYTES + 1; len++) {
		value[1 + len] = '"';
		value[2 + len] = '\0';
		for (size_t k = 2; k < 4; k++) {
			const struct member x = {md_all[k].name, value};
			struct kh_buf b = body_with(KH_XKS_OP_DECRYPT, k, &x, NONE, NULL);
			if (len == KH_LIMIT_XKS_METADATA_STRING_BYTES)
				expect_buf(KH_XKS_OP_DECRYPT, &b, KH_OK, 0);
			else
				expect_buf(KH_XKS_OP_DECRYPT, &b, KH_ERR_BAD_INPUT,
				           KH_XKS_ERR_VALIDATION);
		}
		value[1 + len] = 'a';
	}
}

static void unknown_members_are_ignored_at_every_level(void **state)
{
	(void)state;
	const struct member extra_md = {"kmsRequestId",
	                                "\"r\",\"futureMember\":{\"deep\":[1,{\"x\":null}]}"};
	for (enum kh_xks_op op = 0; op < KH_XKS_OP_COUNT; op++) {
		struct kh_buf b = body_with(op, 0, &extra_md, NONE, NULL);
		/* And at the top, after the last member. */
		kh_buf_truncate(&b, b.len - 1);
		put(&b, ",\"somethingNew\":{\"requestMetadata\":{}},\"plaintext2\":7}");
		expect_buf(op, &b, KH_OK, 0);
	}
}

static void bad_base64_is_a_validation_error(void **state)
{
	(void)state;
	static const char *const bad[] = {"\"abc\"",  "\"ab=c\"",     "\"a===\"",  "\"YQ\"",
	                                  "\"YR==\"", "\"YQ==YQ==\"", "\" YQ==\"", "\"Y-_=\""};
	for (size_t i = 0; i < COUNT(bad); i++) {
		expect_member(KH_XKS_OP_ENCRYPT, "plaintext", bad[i], KH_ERR_BAD_ENCODING,
		              KH_XKS_ERR_VALIDATION);
		expect_member(KH_XKS_OP_ENCRYPT, "additionalAuthenticatedData", bad[i],
		              KH_ERR_BAD_ENCODING, KH_XKS_ERR_VALIDATION);
		expect_member(KH_XKS_OP_DECRYPT, "initializationVector", bad[i],
		              KH_ERR_BAD_ENCODING, KH_XKS_ERR_VALIDATION);
		expect_member(KH_XKS_OP_DECRYPT, "authenticationTag", bad[i], KH_ERR_BAD_ENCODING,
		              KH_XKS_ERR_VALIDATION);
		expect_member(KH_XKS_OP_DECRYPT, "ciphertextMetadata", bad[i], KH_ERR_BAD_ENCODING,
		              KH_XKS_ERR_VALIDATION);
	}
}

/* A JSON string of the Base64 of n bytes (value i & 0xff). */
static char *b64_value(size_t n)
{
	struct kh_buf raw, enc;
	kh_buf_init(&raw, n + 1, KH_BUF_PLAIN);
	kh_buf_init(&enc, 2 * n + 16, KH_BUF_PLAIN);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kh_buf_append_byte(&raw, (uint8_t)i), KH_OK);
	put(&enc, "\"");
	assert_int_equal(kh_base64_encode(kh_buf_slice(&raw), &enc), KH_OK);
	put(&enc, "\"");
	char *s = test_malloc(enc.len + 1);
	memcpy(s, enc.ptr, enc.len);
	s[enc.len] = '\0';
	kh_buf_cleanup(&raw);
	kh_buf_cleanup(&enc);
	return s;
}

static void expect_sized(enum kh_xks_op op, const char *name, size_t n, kh_rc want,
                         enum kh_xks_error err)
{
	char *v = b64_value(n);
	expect_member(op, name, v, want, err);
	test_free(v);
}

static void iv_of_12_or_16_bytes_and_tag_of_16_only(void **state)
{
	(void)state;
	for (size_t n = 0; n <= 40; n++) {
		bool ok = n == 12 || n == 16;
		expect_sized(KH_XKS_OP_DECRYPT, "initializationVector", n,
		             ok ? KH_OK : KH_ERR_DECRYPT, KH_XKS_ERR_INVALID_CIPHERTEXT);
		expect_sized(KH_XKS_OP_DECRYPT, "authenticationTag", n,
		             n == 16 ? KH_OK : KH_ERR_DECRYPT, KH_XKS_ERR_INVALID_CIPHERTEXT);
	}
	assert_int_equal(kh_xks_error_status(KH_XKS_ERR_INVALID_CIPHERTEXT), 400);
}

static void algorithm_names_must_be_exact(void **state)
{
	(void)state;
	static const char *const bad_alg[] = {"\"aes_gcm\"", "\"AES_GCM \"", "\"AES_CBC\"",
	                                      "\"SYMMETRIC_DEFAULT\"", "\"\""};
	for (size_t i = 0; i < COUNT(bad_alg); i++) {
		expect_member(KH_XKS_OP_ENCRYPT, "encryptionAlgorithm", bad_alg[i],
		              KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
		expect_member(KH_XKS_OP_DECRYPT, "encryptionAlgorithm", bad_alg[i],
		              KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	}
	expect_member(KH_XKS_OP_ENCRYPT, "ciphertextDataIntegrityValueAlgorithm", "\"SHA_512\"",
	              KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	expect_member(KH_XKS_OP_ENCRYPT, "ciphertextDataIntegrityValueAlgorithm", "\"sha_256\"",
	              KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	expect_member(KH_XKS_OP_ENCRYPT, "ciphertextDataIntegrityValueAlgorithm", "null",
	              KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);

	/* Without the integrity algorithm no integrity value is wanted. */
	struct kh_xks_request req;
	struct kh_xks_fault fault;
	struct kh_buf b = body_with(KH_XKS_OP_ENCRYPT, NONE, NULL, 3, NULL);
	assert_int_equal(kh_xks_request_decode(KH_XKS_OP_ENCRYPT, kh_buf_slice(&b), &req, &fault),
	                 KH_OK);
	assert_false(req.want_integrity);
	kh_xks_request_cleanup(&req);
	kh_buf_cleanup(&b);
}

static void sizes_up_to_our_maximum_are_accepted_and_one_more_is_unsupported(void **state)
{
	(void)state;
	static const struct {
		enum kh_xks_op op;
		const char *name;
		size_t max;
	} sized[] = {
	    {KH_XKS_OP_ENCRYPT, "plaintext", KH_LIMIT_XKS_PLAINTEXT_BYTES},
	    {KH_XKS_OP_ENCRYPT, "additionalAuthenticatedData", KH_XKS_AAD_MAX},
	    {KH_XKS_OP_DECRYPT, "ciphertext", KH_LIMIT_XKS_PLAINTEXT_BYTES},
	    {KH_XKS_OP_DECRYPT, "additionalAuthenticatedData", KH_XKS_AAD_MAX},
	    {KH_XKS_OP_DECRYPT, "ciphertextMetadata", KH_XKS_METADATA_MAX},
	};
	for (size_t i = 0; i < COUNT(sized); i++) {
		expect_sized(sized[i].op, sized[i].name, sized[i].max, KH_OK, 0);
		expect_sized(sized[i].op, sized[i].name, sized[i].max + 1, KH_ERR_TOO_LARGE,
		             KH_XKS_ERR_UNSUPPORTED_OPERATION);
	}
	assert_int_equal(kh_xks_error_status(KH_XKS_ERR_UNSUPPORTED_OPERATION), 501);
}

static void a_malformed_body_is_a_validation_error_even_when_too_large(void **state)
{
	(void)state;
	char *big = b64_value(KH_LIMIT_XKS_PLAINTEXT_BYTES + 1);
	const struct member x = {"plaintext", big};
	/* Another member missing. */
	struct kh_buf b = body_with(KH_XKS_OP_ENCRYPT, 3, NULL, 0, &x);
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	b = body_with(KH_XKS_OP_ENCRYPT, NONE, NULL, 0, &x);
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_TOO_LARGE, KH_XKS_ERR_UNSUPPORTED_OPERATION);
	/* The oversized value itself bad, at its end and in its middle. */
	size_t n = strlen(big);
	big[n - 2] = '!';
	b = body_with(KH_XKS_OP_ENCRYPT, NONE, NULL, 0, &x);
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_BAD_ENCODING, KH_XKS_ERR_VALIDATION);
	big[n - 2] = 'A';
	big[n / 2] = '=';
	b = body_with(KH_XKS_OP_ENCRYPT, NONE, NULL, 0, &x);
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_BAD_ENCODING, KH_XKS_ERR_VALIDATION);
	/* Padding that would end a 4096-character piece, not the value. */
	big[n / 2] = 'A';
	big[4096] = '=';
	b = body_with(KH_XKS_OP_ENCRYPT, NONE, NULL, 0, &x);
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_BAD_ENCODING, KH_XKS_ERR_VALIDATION);
	test_free(big);
	/* Too large and a bad IV length: the size wins (it is checked first). */
	char *ct = b64_value(KH_LIMIT_XKS_PLAINTEXT_BYTES + 1);
	const struct member y = {"ciphertext", ct};
	const struct member short_iv = {"initializationVector", "\"AAAA\""};
	b = body_with(KH_XKS_OP_DECRYPT, NONE, NULL, 0, &y);
	expect_buf(KH_XKS_OP_DECRYPT, &b, KH_ERR_TOO_LARGE, KH_XKS_ERR_UNSUPPORTED_OPERATION);
	b = body_with(KH_XKS_OP_DECRYPT, NONE, NULL, 1, &short_iv);
	expect_buf(KH_XKS_OP_DECRYPT, &b, KH_ERR_DECRYPT, KH_XKS_ERR_INVALID_CIPHERTEXT);
	test_free(ct);
}

static void what_aws_sends_is_accepted_and_plaintext_is_secure(void **state)
{
	(void)state;
	char *pt = b64_value(4300);
	char *aad = b64_value(8192);
	struct kh_buf b =
	    body_with(KH_XKS_OP_ENCRYPT, NONE, NULL, 0, &(const struct member){"plaintext", pt});
	kh_buf_truncate(&b, b.len - 1);
	put(&b, ",\"additionalAuthenticatedData\":");
	put(&b, aad);
	put(&b, "}");
	/* The replaced member came first; drop the original AAD by giving a body without it. */
	struct kh_buf c;
	kh_buf_init(&c, KH_LIMIT_BODY_BYTES, KH_BUF_PLAIN);
	put(&c, "{\"requestMetadata\":{\"kmsRequestId\":\"r\",\"kmsOperation\":\"Encrypt\","
	        "\"awsPrincipalArn\":\"p\",\"kmsKeyArn\":\"k\"},\"plaintext\":");
	put(&c, pt);
	put(&c, ",\"encryptionAlgorithm\":\"AES_GCM\",\"additionalAuthenticatedData\":");
	put(&c, aad);
	put(&c, "}");
	struct kh_xks_request req;
	struct kh_xks_fault fault;
	assert_int_equal(kh_xks_request_decode(KH_XKS_OP_ENCRYPT, kh_buf_slice(&c), &req, &fault),
	                 KH_OK);
	assert_int_equal(req.plaintext.len, 4300);
	assert_int_equal(req.aad.len, 8192);
	assert_true((req.plaintext.flags & KH_BUF_SECURE) != 0);
	for (size_t i = 0; i < 4300; i++)
		assert_int_equal(req.plaintext.ptr[i], (uint8_t)i);
	kh_xks_request_cleanup(&req);
	assert_null(req.plaintext.ptr);
	assert_null(req.doc);
	/* A duplicated member is refused (the first body has AAD twice). */
	expect_buf(KH_XKS_OP_ENCRYPT, &b, KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION);
	kh_buf_cleanup(&c);
	test_free(pt);
	test_free(aad);
}

static kh_rc decode_once(void *arg)
{
	struct kh_buf *b = arg;
	struct kh_xks_request req;
	struct kh_xks_fault fault;
	KH_GUARD(kh_xks_request_decode(KH_XKS_OP_DECRYPT, kh_buf_slice(b), &req, &fault));
	kh_xks_request_cleanup(&req);
	return KH_OK;
}

static void allocation_failures_leak_nothing(void **state)
{
	(void)state;
	struct kh_buf b = body(KH_XKS_OP_DECRYPT);
	kh_test_alloc_failures(decode_once, &b);
	kh_buf_cleanup(&b);
}

/* ---- errors ---- */

static void error_names_and_statuses_follow_the_table(void **state)
{
	(void)state;
	static const struct {
		enum kh_xks_error e;
		const char *name;
		unsigned status;
	} table[] = {
	    {KH_XKS_ERR_VALIDATION, "ValidationException", 400},
	    {KH_XKS_ERR_INVALID_STATE, "InvalidStateException", 400},
	    {KH_XKS_ERR_INVALID_CIPHERTEXT, "InvalidCiphertextException", 400},
	    {KH_XKS_ERR_INVALID_KEY_USAGE, "InvalidKeyUsageException", 400},
	    {KH_XKS_ERR_AUTHENTICATION_FAILED, "AuthenticationFailedException", 401},
	    {KH_XKS_ERR_ACCESS_DENIED, "AccessDeniedException", 403},
	    {KH_XKS_ERR_KEY_NOT_FOUND, "KeyNotFoundException", 404},
	    {KH_XKS_ERR_INVALID_URI_PATH, "InvalidUriPathException", 404},
	    {KH_XKS_ERR_THROTTLING, "ThrottlingException", 429},
	    {KH_XKS_ERR_UNSUPPORTED_OPERATION, "UnsupportedOperationException", 501},
	    {KH_XKS_ERR_DEPENDENCY_TIMEOUT, "DependencyTimeoutException", 503},
	    {KH_XKS_ERR_INTERNAL, "InternalException", 500},
	};
	assert_int_equal(COUNT(table), KH_XKS_ERR_COUNT);
	for (size_t i = 0; i < COUNT(table); i++) {
		assert_string_equal(kh_xks_error_name(table[i].e), table[i].name);
		assert_int_equal(kh_xks_error_status(table[i].e), table[i].status);
	}
	assert_string_equal(kh_xks_error_name(KH_XKS_ERR_COUNT), "InternalException");
	assert_int_equal(kh_xks_error_status(KH_XKS_ERR_COUNT), 500);

	static const struct {
		kh_rc rc;
		enum kh_xks_error e;
	} of[] = {
	    {KH_ERR_BAD_INPUT, KH_XKS_ERR_VALIDATION},
	    {KH_ERR_BAD_ENCODING, KH_XKS_ERR_VALIDATION},
	    {KH_ERR_WRONG_KEY_TYPE, KH_XKS_ERR_INVALID_KEY_USAGE},
	    {KH_ERR_TOO_LARGE, KH_XKS_ERR_UNSUPPORTED_OPERATION},
	    {KH_ERR_UNAUTHENTICATED, KH_XKS_ERR_AUTHENTICATION_FAILED},
	    {KH_ERR_FORBIDDEN, KH_XKS_ERR_ACCESS_DENIED},
	    {KH_ERR_NOT_FOUND, KH_XKS_ERR_KEY_NOT_FOUND},
	    {KH_ERR_KEY_DISABLED, KH_XKS_ERR_INVALID_STATE},
	    {KH_ERR_VERSION_DISABLED, KH_XKS_ERR_INVALID_STATE},
	    {KH_ERR_SEALED, KH_XKS_ERR_DEPENDENCY_TIMEOUT},
	    {KH_ERR_RATE_LIMITED, KH_XKS_ERR_THROTTLING},
	    {KH_ERR_DECRYPT, KH_XKS_ERR_INVALID_CIPHERTEXT},
	    {KH_ERR_STORAGE, KH_XKS_ERR_INTERNAL},
	    {KH_ERR_NOMEM, KH_XKS_ERR_INTERNAL},
	    {KH_ERR_INTERNAL, KH_XKS_ERR_INTERNAL},
	};
	for (size_t i = 0; i < COUNT(of); i++)
		assert_int_equal(kh_xks_error_of(of[i].rc), of[i].e);
}

/* ---- encoders ---- */

static void assert_out(struct kh_buf *out, const char *want)
{
	assert_int_equal(out->len, strlen(want));
	assert_memory_equal(out->ptr, want, out->len);
	kh_buf_clear(out);
}

static void encoders_give_exact_compact_bytes(void **state)
{
	(void)state;
	struct kh_buf out;
	kh_buf_init(&out, 4096, KH_BUF_PLAIN);

	static const char *const both[] = {"ENCRYPT", "DECRYPT"};
	assert_int_equal(kh_xks_metadata_encode(both, 2, true, &out), KH_OK);
	assert_out(&out, "{\"keySpec\":\"AES_256\",\"keyUsage\":[\"ENCRYPT\",\"DECRYPT\"],"
	                 "\"keyStatus\":\"ENABLED\"}");
	assert_int_equal(kh_xks_metadata_encode(NULL, 0, false, &out), KH_OK);
	assert_out(&out, "{\"keySpec\":\"AES_256\",\"keyUsage\":[],\"keyStatus\":\"DISABLED\"}");
	static const char *const bad_usage[] = {"encrypt"};
	assert_int_equal(kh_xks_metadata_encode(bad_usage, 1, true, &out), KH_ERR_INTERNAL);
	assert_int_equal(kh_xks_metadata_encode(both, 11, true, &out), KH_ERR_INTERNAL);
	assert_int_equal(out.len, 0);

	uint8_t iv[12], tag[16], integrity[KH_XKS_INTEGRITY_LEN];
	for (size_t i = 0; i < sizeof(iv); i++)
		iv[i] = (uint8_t)i;
	memset(tag, 0xff, sizeof(tag));
	memset(integrity, 0, sizeof(integrity));
	struct kh_slice ct = KH_SLICE_LIT("Hello World!");
	struct kh_slice md = KH_SLICE_LIT("key_version=1");
	assert_int_equal(kh_xks_encrypt_encode(ct, KH_SLICE(iv, sizeof(iv)),
	                                       KH_SLICE(tag, sizeof(tag)), md, NULL, &out),
	                 KH_OK);
	assert_out(&out, "{\"ciphertext\":\"SGVsbG8gV29ybGQh\",\"initializationVector\":"
	                 "\"AAECAwQFBgcICQoL\",\"authenticationTag\":\"/////////////////////w==\","
	                 "\"ciphertextMetadata\":\"a2V5X3ZlcnNpb249MQ==\"}");
	assert_int_equal(kh_xks_encrypt_encode(ct, KH_SLICE(iv, sizeof(iv)),
	                                       KH_SLICE(tag, sizeof(tag)), KH_SLICE_EMPTY,
	                                       integrity, &out),
	                 KH_OK);
	assert_out(&out, "{\"ciphertext\":\"SGVsbG8gV29ybGQh\",\"initializationVector\":"
	                 "\"AAECAwQFBgcICQoL\",\"authenticationTag\":\"/////////////////////w==\","
	                 "\"ciphertextMetadata\":\"\",\"ciphertextDataIntegrityValue\":"
	                 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"}");
	assert_int_equal(
	    kh_xks_encrypt_encode(ct, KH_SLICE(iv, 11), KH_SLICE(tag, sizeof(tag)), md, NULL, &out),
	    KH_ERR_INTERNAL);

	/* The plaintext answer only into secure memory. */
	assert_int_equal(kh_xks_decrypt_encode(ct, &out), KH_ERR_INTERNAL);
	struct kh_buf secure;
	kh_buf_init(&secure, 256, KH_BUF_SECURE);
	assert_int_equal(kh_xks_decrypt_encode(ct, &secure), KH_OK);
	assert_out(&secure, "{\"plaintext\":\"SGVsbG8gV29ybGQh\"}");
	kh_buf_cleanup(&secure);

	const struct kh_xks_ekm_node nodes[] = {
	    {"node-1", "keyhold 1.0", KH_XKS_HEALTH_ACTIVE},
	    {"node-2", "keyhold 1.0", KH_XKS_HEALTH_DEGRADED},
	    {"hsm", "SoftHSM \"2\"", KH_XKS_HEALTH_UNAVAILABLE},
	};
	struct kh_xks_health h = {.fleet_size = 2,
	                          .proxy_model = "keyhold 1.0",
	                          .ekm_vendor = "keyhold",
	                          .nodes = nodes,
	                          .node_count = 3};
	assert_int_equal(kh_xks_health_encode(&h, &out), KH_OK);
	assert_out(&out,
	           "{\"xksProxyFleetSize\":2,\"xksProxyVendor\":\"keyhold\",\"xksProxyModel\":"
	           "\"keyhold 1.0\",\"ekmVendor\":\"keyhold\",\"ekmFleetDetails\":["
	           "{\"id\":\"node-1\",\"model\":\"keyhold 1.0\",\"healthStatus\":\"ACTIVE\"},"
	           "{\"id\":\"node-2\",\"model\":\"keyhold 1.0\",\"healthStatus\":"
	           "\"DEGRADED\"},{\"id\":\"hsm\",\"model\":\"SoftHSM \\\"2\\\"\","
	           "\"healthStatus\":\"UNAVAILABLE\"}]}");
	h.node_count = 0;
	assert_int_equal(kh_xks_health_encode(&h, &out), KH_ERR_INTERNAL);
	h.node_count = 11;
	assert_int_equal(kh_xks_health_encode(&h, &out), KH_ERR_INTERNAL);
	h.node_count = 1;
	h.ekm_vendor = NULL;
	assert_int_equal(kh_xks_health_encode(&h, &out), KH_ERR_INTERNAL);
	assert_int_equal(out.len, 0);

	assert_int_equal(
	    kh_xks_error_encode(KH_XKS_ERR_VALIDATION, "\"plaintext\" is required", &out), KH_OK);
	assert_out(&out, "{\"errorName\":\"ValidationException\",\"errorMessage\":"
	                 "\"\\\"plaintext\\\" is required\"}");
	assert_int_equal(kh_xks_error_encode(KH_XKS_ERR_AUTHENTICATION_FAILED, NULL, &out), KH_OK);
	assert_out(&out, "{\"errorName\":\"AuthenticationFailedException\"}");
	assert_int_equal(kh_xks_error_encode(KH_XKS_ERR_INTERNAL, "a\nb\xc3\xa9", &out), KH_OK);
	assert_out(&out, "{\"errorName\":\"InternalException\",\"errorMessage\":\"a?b??\"}");
	char long_message[700];
	memset(long_message, 'x', sizeof(long_message) - 1);
	long_message[sizeof(long_message) - 1] = '\0';
	assert_int_equal(kh_xks_error_encode(KH_XKS_ERR_INTERNAL, long_message, &out), KH_OK);
	assert_int_equal(
	    out.len, strlen("{\"errorName\":\"InternalException\",\"errorMessage\":\"\"}") + 511);
	kh_buf_clear(&out);

	/* No room: nothing half-written is left. */
	struct kh_buf small;
	kh_buf_init(&small, 10, KH_BUF_PLAIN);
	assert_int_equal(kh_xks_error_encode(KH_XKS_ERR_INTERNAL, NULL, &small), KH_ERR_TOO_LARGE);
	assert_int_equal(small.len, 0);
	kh_buf_cleanup(&small);
	kh_buf_cleanup(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_bodies_decode_with_every_member),
	    cmocka_unit_test(each_required_request_metadata_member_missing_is_refused),
	    cmocka_unit_test(each_required_body_member_missing_is_refused),
	    cmocka_unit_test(
	        empty_bodies_and_empty_request_metadata_are_refused_on_every_operation),
	    cmocka_unit_test(wrong_types_are_refused),
	    cmocka_unit_test(arns_of_2048_characters_are_accepted_and_longer_refused),
	    cmocka_unit_test(unknown_members_are_ignored_at_every_level),
	    cmocka_unit_test(bad_base64_is_a_validation_error),
	    cmocka_unit_test(iv_of_12_or_16_bytes_and_tag_of_16_only),
	    cmocka_unit_test(algorithm_names_must_be_exact),
	    cmocka_unit_test(sizes_up_to_our_maximum_are_accepted_and_one_more_is_unsupported),
	    cmocka_unit_test(a_malformed_body_is_a_validation_error_even_when_too_large),
	    cmocka_unit_test(what_aws_sends_is_accepted_and_plaintext_is_secure),
	    cmocka_unit_test(allocation_failures_leak_nothing),
	    cmocka_unit_test(error_names_and_statuses_follow_the_table),
	    cmocka_unit_test(encoders_give_exact_compact_bytes),
	};
	return cmocka_run_group_tests(tests, kh_test_crypto_setup, NULL);
}
