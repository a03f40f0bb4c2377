/* SPDX-License-Identifier: Apache-2.0 */
/*
 * XKS request paths (XKS.md "Routing"): pure functions, no state.
 */
#ifndef KH_XKS_ROUTE_H
#define KH_XKS_ROUTE_H

#include <stdbool.h>

#include "base/kh_buf.h"
#include "keys/kh_keys_xks.h"
#include "xks/kh_xks_body.h"

#define KH_XKS_URI_PATH_MAX 256u /* the whole path */

struct kh_xks_route {
	enum kh_xks_op op;
	char prefix[KH_XKS_PREFIX_MAX + 1];
	char key_id[KH_XKS_EXTERNAL_KEY_ID_MAX + 1]; /* "" for health */
};

/* Splits a raw request path (as sent, without the query) into a route; false when it is none
 * (InvalidUriPathException): its prefix and key id follow kh_xks_prefix_valid and
 * kh_xks_external_id_valid. Whether the prefix belongs to a store is the caller's question. */
bool kh_xks_route_parse(const char *raw_path, struct kh_xks_route *out);

/* Whether the path has the segments "kms/xks/v1" anywhere: the requests a listener shared with
 * the native API hands to the proxy (and answers InvalidUriPathException when they are no
 * route). */
bool kh_xks_route_mentioned(const char *path);

#endif
