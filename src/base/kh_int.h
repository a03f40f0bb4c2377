/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The one integer parser. Decimal digits only: no sign, no spaces, no leading zeros (except
 * "0" itself), no trailing bytes, and the value must lie in [min, max]. Anything else is
 * KH_ERR_BAD_ENCODING (not a number) or KH_ERR_BAD_INPUT (out of range). Replaces atoi,
 * strtol and sscanf, whose silent acceptance of "12abc" and overflow we do not want.
 */
#ifndef KH_INT_H
#define KH_INT_H

#include <stdint.h>

#include "base/kh_buf.h"

KH_MUST_CHECK kh_rc kh_parse_u64(struct kh_slice text, uint64_t min, uint64_t max,
                                 uint64_t *out_value);
/* As kh_parse_u64, plus an optional leading '-' ("-0" is rejected). */
KH_MUST_CHECK kh_rc kh_parse_i64(struct kh_slice text, int64_t min, int64_t max,
                                 int64_t *out_value);

#endif
