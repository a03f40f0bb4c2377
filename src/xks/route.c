// SPDX-License-Identifier: Apache-2.0
/*
 * XKS routes (kh_xks_proxy.h): the request path split into prefix, operation and external key
 * id, read from the end so a prefix may have any number of segments:
 *
 *   /<prefix>/kms/xks/v1/health
 *   /<prefix>/kms/xks/v1/keys/<externalKeyId>/(metadata|encrypt|decrypt)
 *
 * The path is taken as sent: every character XKS allows in a prefix or a key id is unreserved,
 * so a percent sign (or anything else outside those sets) is simply no route.
 */
#include <string.h>

#include "xks/kh_xks_route.h"

/* Whether s ends with suffix; if so, cuts it off. */
static bool cut_suffix(struct kh_slice *s, const char *suffix)
{
	size_t n = strlen(suffix);
	if (s->len < n || memcmp(s->ptr + s->len - n, suffix, n) != 0)
		return false;
	s->len -= n;
	return true;
}

static const char base_path[] = "/kms/xks/v1";

bool kh_xks_route_parse(const char *raw_path, struct kh_xks_route *out)
{
	static const struct {
		const char *suffix;
		enum kh_xks_op op;
	} key_ops[] = {
	    {"/metadata", KH_XKS_OP_METADATA},
	    {"/encrypt", KH_XKS_OP_ENCRYPT},
	    {"/decrypt", KH_XKS_OP_DECRYPT},
	};
	size_t len = strnlen(raw_path, KH_XKS_URI_PATH_MAX + 1);
	if (len == 0 || len > KH_XKS_URI_PATH_MAX || raw_path[0] != '/')
		return false;
	struct kh_slice s = KH_SLICE(raw_path, len);
	memset(out, 0, sizeof(*out));
	if (cut_suffix(&s, "/health")) {
		out->op = KH_XKS_OP_HEALTH;
	} else {
		size_t i = 0;
		while (i < sizeof(key_ops) / sizeof(key_ops[0]) &&
		       !cut_suffix(&s, key_ops[i].suffix))
			i++;
		if (i == sizeof(key_ops) / sizeof(key_ops[0]))
			return false;
		out->op = key_ops[i].op;
		size_t start = s.len;
		while (start > 0 && s.ptr[start - 1] != '/')
			start--;
		struct kh_slice id = KH_SLICE(s.ptr + start, s.len - start);
		if (id.len > KH_XKS_EXTERNAL_KEY_ID_MAX)
			return false;
		memcpy(out->key_id, id.ptr, id.len);
		out->key_id[id.len] = '\0';
		if (!kh_xks_external_id_valid(out->key_id))
			return false;
		s.len = start;
		if (!cut_suffix(&s, "/keys/"))
			return false;
	}
	if (!cut_suffix(&s, base_path))
		return false;
	/* What is left is "/<prefix>". */
	if (s.len < 2)
		return false;
	struct kh_slice prefix = KH_SLICE(s.ptr + 1, s.len - 1);
	if (prefix.len > KH_XKS_PREFIX_MAX)
		return false;
	memcpy(out->prefix, prefix.ptr, prefix.len);
	out->prefix[prefix.len] = '\0';
	return kh_xks_prefix_valid(out->prefix);
}

bool kh_xks_route_mentioned(const char *path)
{
	/* The segments kms/xks/v1, anywhere: a path no native API route has. */
	for (const char *p = strstr(path, base_path); p != NULL; p = strstr(p + 1, base_path)) {
		char after = p[sizeof(base_path) - 1];
		if (after == '/' || after == '\0')
			return true;
	}
	return false;
}
