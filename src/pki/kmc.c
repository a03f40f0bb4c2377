// SPDX-License-Identifier: Apache-2.0
/*
 * The key management centre (PKI.md "KMC"): encryption key pairs made ahead in a pool, sealed
 * by the barrier, archived for their whole life (spare -> in use -> history) and handed out
 * only as envelopes.
 */
#include "pki/kh_pki_int.h"

enum kh_pkey_type kh_pki_kmc_family(enum kh_pkey_type t)
{
	switch (t) {
	case KH_PKEY_SM2:
		return KH_PKEY_SM2;
	case KH_PKEY_EC_P256:
	case KH_PKEY_EC_P384:
		return KH_PKEY_EC_P256;
	case KH_PKEY_RSA_2048:
	case KH_PKEY_RSA_3072:
	case KH_PKEY_RSA_4096:
		return KH_PKEY_RSA_2048;
	case KH_PKEY_ED25519:
		break;
	}
	return 0;
}

const char *kh_pki_pkey_type_name(enum kh_pkey_type t)
{
	switch (t) {
	case KH_PKEY_RSA_2048:
		return "rsa-2048";
	case KH_PKEY_RSA_3072:
		return "rsa-3072";
	case KH_PKEY_RSA_4096:
		return "rsa-4096";
	case KH_PKEY_EC_P256:
		return "ecdsa-p256";
	case KH_PKEY_EC_P384:
		return "ecdsa-p384";
	case KH_PKEY_ED25519:
		return "ed25519";
	case KH_PKEY_SM2:
		return "sm2";
	}
	return "unknown";
}
