/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the integer parser: whatever it accepts must print back to exactly the input and lie
 * within the bounds it was given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kh_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char back[32];
	uint64_t u;
	int64_t i;

	if (kh_parse_u64(KH_SLICE(data, size), 10, 1000000, &u) == KH_OK) {
		int n = snprintf(back, sizeof(back), "%llu", (unsigned long long)u);
		if (u < 10 || u > 1000000 || (size_t)n != size || memcmp(back, data, size) != 0)
			abort();
	}
	if (kh_parse_i64(KH_SLICE(data, size), INT64_MIN, INT64_MAX, &i) == KH_OK) {
		int n = snprintf(back, sizeof(back), "%lld", (long long)i);
		if ((size_t)n != size || memcmp(back, data, size) != 0)
			abort();
	}
	return 0;
}
