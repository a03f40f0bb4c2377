/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every limit on untrusted input, in one place, with the reason beside it. Code that reads
 * input from a peer checks against these names; nothing else invents its own numbers.
 */
#ifndef KH_LIMITS_H
#define KH_LIMITS_H

/* HTTP request body after authentication (API.md: 1 MiB): room for a full batch of 100 items
 * of 8 KiB Base64 each, with margin. */
#define KH_LIMIT_BODY_BYTES (1024u * 1024u)
/* Body before authentication: only init, unseal and health are unauthenticated, and their
 * bodies are small; a stranger may not make us buffer a megabyte. */
#define KH_LIMIT_BODY_UNAUTH_BYTES (16u * 1024u)
/* Request header block: generous for bearer tokens and SigV4 headers, small enough to refuse
 * header floods early. */
#define KH_LIMIT_HEADER_BYTES (16u * 1024u)
/* Request URI (XKS.md: whole URI <= 256 for XKS; native API paths stay far below this). */
#define KH_LIMIT_URI_BYTES 2048u

/* AWS SigV4 (authz/kh_sigv4.h). Headers of one request the verifier reads: more is refused, not
 * truncated, so no header escapes the signature check. */
#define KH_LIMIT_SIGV4_HEADERS 64u
/* Names in SignedHeaders: AWS KMS signs 2, curl 3, SDKs up to about 10. */
#define KH_LIMIT_SIGV4_SIGNED_HEADERS 32u
/* Query parameters sorted for the canonical query (XKS sends none). */
#define KH_LIMIT_SIGV4_QUERY_PARAMS 64u
/* The canonical request: path and query at most tripled by percent-encoding, header names and
 * values, the SignedHeaders list (itself a header value) and the fixed parts. */
#define KH_LIMIT_SIGV4_CANONICAL_BYTES                                                             \
	(3u * KH_LIMIT_URI_BYTES + 2u * KH_LIMIT_HEADER_BYTES + 1024u)

/* JSON nesting: our documents are at most 4 deep; 32 leaves room without stack risk. */
#define KH_LIMIT_JSON_DEPTH 32u
/* One JSON string value after decoding (a PEM chain is the largest legitimate value). */
#define KH_LIMIT_JSON_STRING_BYTES (256u * 1024u)

/* Encrypt plaintext, decoded (API.md: 32 KiB). Envelope encryption is for larger data. */
#define KH_LIMIT_PLAINTEXT_BYTES (32u * 1024u)
/* Ciphertext string: plaintext + version prefix + nonce + tag, Base64-expanded. */
#define KH_LIMIT_CIPHERTEXT_BYTES (48u * 1024u)
/* Message to sign (API.md: 8 KiB); larger messages are hashed by the client. */
#define KH_LIMIT_SIGN_MESSAGE_BYTES (8u * 1024u)
/* Encryption context / AAD (API.md: 1 KiB). XKS AAD has its own bound, KH_XKS_AAD_MAX (65535,
 * what its length field can say; the specification asks for at least 8192). */
#define KH_LIMIT_CONTEXT_BYTES 1024u
/* XKS encrypt plaintext and decrypt ciphertext, decoded (XKS.md: at least 4300 bytes; AWS KMS
 * itself sends at most 4096). 64 KiB is generous and, with the AAD, far below the body limit;
 * more is UnsupportedOperationException. */
#define KH_LIMIT_XKS_PLAINTEXT_BYTES (64u * 1024u)
/* XKS requestMetadata strings: AWS ARNs are at most 2048 characters, the other members (request
 * ids, operation and service names, VPC ids) far less; longer is a malformed request. */
#define KH_LIMIT_XKS_METADATA_STRING_BYTES 2048u
/* Batch items per request (API.md: 100). */
#define KH_LIMIT_BATCH_ITEMS 100u
/* Names of keys, key stores, accounts (API.md: 1-64 chars of [A-Za-z0-9_.-]). */
#define KH_LIMIT_NAME_MIN 1u
#define KH_LIMIT_NAME_MAX 64u
/* A path segment that is not a name, tag or id: XKS external key ids in the management API
 * (XKS.md: 1-128 of [A-Za-z0-9._-]). Only routes that say so take segments this long. */
#define KH_LIMIT_PATH_PARAM_LONG_BYTES 128u
/* Free-text descriptions (API.md: 256). */
#define KH_LIMIT_DESCRIPTION_BYTES 256u
/* Page size for lists (API.md: default 50, max 1000). */
#define KH_LIMIT_PAGE_DEFAULT 50u
#define KH_LIMIT_PAGE_MAX 1000u

/* Data keys: 128 to 512 bits, whole bytes. */
#define KH_LIMIT_DATA_KEY_BITS_MIN 128u
#define KH_LIMIT_DATA_KEY_BITS_MAX 512u
/* Random bytes per request. */
#define KH_LIMIT_RANDOM_BYTES 1024u

/* Shamir: GF(2^8) has 255 non-zero evaluation points. */
#define KH_LIMIT_SHARES_MAX 255u
/* Secret shared with Shamir: the barrier splits a 32-byte key; 64 leaves room. */
#define KH_LIMIT_SHAMIR_SECRET_BYTES 64u

/* A DER or PEM key or certificate we accept for parsing: RSA-4096 private keys are about
 * 2.4 KiB DER; chains of a few certificates fit in 64 KiB. */
#define KH_LIMIT_KEY_ENCODED_BYTES (64u * 1024u)
/* RFC 5649 key wrap input: keys, not bulk data. */
#define KH_LIMIT_KEYWRAP_BYTES (16u * 1024u)
/* PKCS#11 seal, plaintext and AAD of one token AES-GCM call: it wraps a 32-byte unseal key
 * under a short context string, and tokens may have small buffers. */
#define KH_LIMIT_HSM_WRAP_BYTES 4096u

/* One chunk of an encrypted backup (barrier/kh_backup.h): large enough that the per-chunk
 * overhead (21 bytes) is nothing, small enough to sit in the secure arena beside the work of a
 * running server. A length read from a backup file above it is refused before any allocation. */
#define KH_LIMIT_BACKUP_CHUNK_BYTES (1024u * 1024u)

/* Webhook URL (https://host[:port]/path): room for a long path, far below a header line. */
#define KH_LIMIT_WEBHOOK_URL_BYTES 512u
/* Webhook signing secret: at least 128 bits of text, at most what a header-sized value holds. */
#define KH_LIMIT_WEBHOOK_SECRET_MIN 16u
#define KH_LIMIT_WEBHOOK_SECRET_MAX 256u

/* One log field value; longer values are cut and marked. */
#define KH_LIMIT_LOG_VALUE_BYTES 1024u

/* PKI status (RFC 5280 CRLs, RFC 6960 OCSP). An OCSP request names a few certificates: 16 KiB
 * holds far more CertIDs than the 16 we answer at once (each is about 70 bytes). */
#define KH_LIMIT_OCSP_REQUEST_BYTES (16u * 1024u)
#define KH_LIMIT_OCSP_CERTIDS 16u
/* Entries in one CRL: a CA of 10 million certificates revokes far fewer at a time; CRLs
 * beyond this belong in partitions (distribution points), not one file. */
#define KH_LIMIT_CRL_ENTRIES 2000000u

#endif
