// SPDX-License-Identifier: Apache-2.0
/* The names of the envelope forms (kh_envelope.h), as the API and the store write them. */
#include <string.h>

#include "crypto/kh_envelope.h"

const char *kh_envelope_form_name(enum kh_envelope_form f)
{
	switch (f) {
	case KH_ENVELOPE_SKF:
		return "skf";
	case KH_ENVELOPE_GMT0009:
		return "gmt0009";
	case KH_ENVELOPE_CMS:
		return "cms";
	}
	return "";
}

kh_rc kh_envelope_form_parse(struct kh_slice s, enum kh_envelope_form *out)
{
	static const enum kh_envelope_form all[] = {KH_ENVELOPE_SKF, KH_ENVELOPE_GMT0009,
	                                            KH_ENVELOPE_CMS};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		const char *name = kh_envelope_form_name(all[i]);
		if (s.len == strlen(name) && memcmp(s.ptr, name, s.len) == 0) {
			*out = all[i];
			return KH_OK;
		}
	}
	return KH_ERR_BAD_INPUT;
}

enum kh_envelope_form kh_envelope_form_default(enum kh_pkey_type recipient)
{
	switch (recipient) {
	case KH_PKEY_SM2:
		return KH_ENVELOPE_SKF;
	case KH_PKEY_RSA_2048:
	case KH_PKEY_RSA_3072:
	case KH_PKEY_RSA_4096:
	case KH_PKEY_EC_P256:
	case KH_PKEY_EC_P384:
		return KH_ENVELOPE_CMS;
	case KH_PKEY_ED25519:
		break;
	}
	return 0;
}
