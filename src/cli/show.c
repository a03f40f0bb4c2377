// SPDX-License-Identifier: Apache-2.0
/*
 * Human-readable answers: aligned "name: value" lines for one object, tables for lists. Values
 * are shown as the server sent them (times stay RFC 3339 UTC); control bytes are replaced so a
 * hostile name cannot drive the terminal.
 */
#include <stdio.h>
#include <string.h>

#include "base/kh_mem.h"
#include "cli/kh_cli.h"

#define CELL_MAX 256u
#define COLUMNS_MAX 8u

const struct kh_json *cli_member(const struct kh_json *obj, const char *name)
{
	void *cursor = NULL;
	struct kh_slice n;
	const struct kh_json *v = NULL;
	if (obj == NULL || !kh_json_is_object(obj))
		return NULL;
	while (kh_json_object_next(obj, &cursor, &n, &v)) {
		if (kh_slice_eq(n, kh_slice_from_cstr(name)))
			return v;
	}
	return NULL;
}

static void copy_safe(char *buf, size_t len, struct kh_slice s)
{
	size_t n = s.len < len - 1 ? s.len : len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = s.ptr[i] < 0x20 || s.ptr[i] == 0x7f ? '?' : (char)s.ptr[i];
	buf[n] = '\0';
}

/* An array of scalars joined with ","; "[n items]" for anything else. */
static void array_text(const struct kh_json *v, char *buf, size_t len)
{
	size_t count = 0, used = 0;
	struct kh_slice s;
	buf[0] = '\0';
	if (kh_json_as_array(v, &count) != KH_OK)
		return;
	for (size_t i = 0; i < count; i++) {
		if (kh_json_as_string(kh_json_array_at(v, i), &s) != KH_OK) {
			snprintf(buf, len, "[%zu items]", count);
			return;
		}
		char part[CELL_MAX];
		copy_safe(part, sizeof(part), s);
		int w = snprintf(buf + used, len - used, "%s%s", i > 0 ? "," : "", part);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

static const char *value_text(const struct kh_json *v, char *buf, size_t len)
{
	struct kh_slice s;
	int64_t i = 0;
	bool b = false;
	switch (v != NULL ? kh_json_kind_of(v) : KH_JSON_NULL) {
	case KH_JSON_STRING:
		if (kh_json_as_string(v, &s) == KH_OK)
			copy_safe(buf, len, s);
		return buf;
	case KH_JSON_INT:
		if (kh_json_as_int(v, INT64_MIN, INT64_MAX, &i) == KH_OK)
			snprintf(buf, len, "%lld", (long long)i);
		return buf;
	case KH_JSON_BOOL:
		if (kh_json_as_bool(v, &b) == KH_OK)
			snprintf(buf, len, "%s", b ? "true" : "false");
		return buf;
	case KH_JSON_ARRAY:
		array_text(v, buf, len);
		return buf;
	case KH_JSON_OBJECT:
		snprintf(buf, len, "{...}");
		return buf;
	default:
		snprintf(buf, len, "-");
		return buf;
	}
}

/* name, or "outer.inner" for a member of a member object (the CA's "ocsp_responder.key"). */
static const struct kh_json *field(const struct kh_json *obj, const char *name)
{
	char outer[64];
	const char *dot = strchr(name, '.');
	if (dot == NULL || (size_t)(dot - name) >= sizeof(outer))
		return cli_member(obj, name);
	snprintf(outer, sizeof(outer), "%.*s", (int)(dot - name), name);
	return cli_member(cli_member(obj, outer), dot + 1);
}

const char *cli_text(const struct kh_json *obj, const char *name, char *buf, size_t len)
{
	buf[0] = '\0';
	return value_text(field(obj, name), buf, len);
}

void cli_show_fields(const struct kh_json *obj, const char *const *names)
{
	size_t width = 0;
	char buf[1024];
	for (size_t i = 0; names[i] != NULL; i++) {
		if (field(obj, names[i]) != NULL && strlen(names[i]) > width)
			width = strlen(names[i]);
	}
	for (size_t i = 0; names[i] != NULL; i++) {
		if (field(obj, names[i]) == NULL)
			continue;
		printf("%-*s  %s\n", (int)width + 1, names[i],
		       cli_text(obj, names[i], buf, sizeof(buf)));
	}
}

struct table {
	size_t rows, cols;
	size_t width[COLUMNS_MAX];
	char *cells; /* rows x cols x CELL_MAX */
};

static char *cell(struct table *t, size_t r, size_t c)
{
	return t->cells + (r * t->cols + c) * CELL_MAX;
}

void cli_show_table(const struct kh_json *doc, const char *array, const char *const *columns,
                    const char *const *headers)
{
	const struct kh_json *arr = cli_member(doc, array);
	struct table t = {0, 0, {0}, NULL};
	size_t count = 0;
	if (arr == NULL || kh_json_as_array(arr, &count) != KH_OK)
		return;
	while (t.cols < COLUMNS_MAX && columns[t.cols] != NULL)
		t.cols++;
	t.rows = count + 1;
	t.cells = kh_calloc(t.rows * t.cols, CELL_MAX);
	if (t.cells == NULL)
		return;
	for (size_t c = 0; c < t.cols; c++)
		snprintf(cell(&t, 0, c), CELL_MAX, "%s", headers[c]);
	for (size_t r = 1; r < t.rows; r++) {
		for (size_t c = 0; c < t.cols; c++)
			cli_text(kh_json_array_at(arr, r - 1), columns[c], cell(&t, r, c),
			         CELL_MAX);
	}
	for (size_t r = 0; r < t.rows; r++) {
		for (size_t c = 0; c < t.cols; c++) {
			size_t w = strlen(cell(&t, r, c));
			t.width[c] = w > t.width[c] ? w : t.width[c];
		}
	}
	for (size_t r = 0; r < t.rows; r++) {
		for (size_t c = 0; c < t.cols; c++) {
			if (c + 1 < t.cols)
				printf("%-*s  ", (int)t.width[c], cell(&t, r, c));
			else
				printf("%s\n", cell(&t, r, c));
		}
	}
	if (count == 0)
		printf("(none)\n");
	kh_free(&t.cells);
}

void cli_show_next(const struct kh_json *doc)
{
	char buf[256];
	if (cli_member(doc, "next") != NULL)
		fprintf(stderr, "(more: repeat with --next %s)\n",
		        cli_text(doc, "next", buf, sizeof(buf)));
}
