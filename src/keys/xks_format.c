// SPDX-License-Identifier: Apache-2.0
/*
 * XKS byte formats (kh_xks_format.h): the associated data AES-GCM authenticates and the integrity
 * value of an encryption, as the XKS API specifies them.
 */
#include "keys/kh_xks_format.h"

#include "crypto/kh_crypto.h"

kh_rc kh_xks_aad(struct kh_slice aad, struct kh_slice metadata, struct kh_buf *out)
{
	uint8_t be16[2];
	uint8_t u8[1];
	KH_ENSURE(aad.len <= KH_XKS_AAD_MAX && metadata.len <= KH_XKS_METADATA_MAX,
	          KH_ERR_TOO_LARGE);
	be16[0] = (uint8_t)(aad.len >> 8);
	be16[1] = (uint8_t)aad.len;
	u8[0] = (uint8_t)metadata.len;
	size_t mark = out->len;
	kh_rc rc = kh_buf_append(out, KH_SLICE(be16, sizeof(be16)));
	if (rc == KH_OK)
		rc = kh_buf_append(out, aad);
	if (rc == KH_OK)
		rc = kh_buf_append(out, KH_SLICE(u8, sizeof(u8)));
	if (rc == KH_OK)
		rc = kh_buf_append(out, metadata);
	if (rc != KH_OK)
		kh_buf_truncate(out, mark);
	return rc;
}

kh_rc kh_xks_integrity(struct kh_slice aad, struct kh_slice metadata, struct kh_slice iv,
                       struct kh_slice ciphertext, struct kh_slice tag,
                       uint8_t out[KH_XKS_INTEGRITY_LEN])
{
	const struct kh_slice parts[] = {aad, metadata, iv, ciphertext, tag};
	struct kh_hash_ctx *ctx = NULL;
	KH_GUARD(kh_hash_ctx_new(KH_HASH_SHA256, &ctx));
	kh_rc rc = KH_OK;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && rc == KH_OK; i++)
		rc = kh_hash_ctx_update(ctx, parts[i]);
	if (rc == KH_OK)
		rc = kh_hash_ctx_final(ctx, out, KH_XKS_INTEGRITY_LEN);
	kh_hash_ctx_free(&ctx);
	return rc;
}
