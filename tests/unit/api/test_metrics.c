/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics registry and its text: every line of the output is a HELP, a TYPE or a sample of
 * the Prometheus text format 0.0.4, each family typed once before its samples; requests count
 * by method, route and status class; the latency histogram is cumulative with +Inf equal to
 * _count and the sum in seconds; only routes that saw requests appear; gauges appear when known
 * and are left out when not; concurrent counting loses nothing.
 */
#include "kh_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/kh_api_int.h"

static kh_rc no_handler(struct kh_api_call *c)
{
	(void)c;
	return KH_OK;
}

static const struct kh_api_route table_a[] = {
    {KH_HTTP_GET, "/v1/sys/health", no_handler, KH_API_PUBLIC, NULL},
    {KH_HTTP_POST, "/v1/keys/{}/encrypt", no_handler, 0, NULL},
    {0, NULL, NULL, 0, NULL},
};
static const struct kh_api_route table_b[] = {
    {KH_HTTP_GET, "/v1/keys/{}", no_handler, 0, NULL},
    {KH_HTTP_DELETE, "/v1/keys/{}", no_handler, 0, NULL},
    {0, NULL, NULL, 0, NULL},
};
static const struct kh_api_route *const tables[] = {table_a, table_b};

enum {
	HEALTH,
	ENCRYPT,
	KEY_GET,
	KEY_DELETE
};

static struct kh_metrics *registry(void)
{
	struct kh_metrics *m = NULL;
	assert_int_equal(kh_metrics_new(tables, 2, &m), KH_OK);
	assert_int_equal(kh_metrics_unmatched(m), 4);
	return m;
}

/* The text as a C string (the caller frees). */
static char *render(struct kh_metrics *m, const struct kh_metrics_gauges *g)
{
	struct kh_buf out;
	kh_buf_init(&out, 1024 * 1024, KH_BUF_PLAIN);
	assert_int_equal(kh_metrics_write(m, g, &out), KH_OK);
	char *text = calloc(1, out.len + 1);
	assert_non_null(text);
	memcpy(text, out.ptr, out.len);
	kh_buf_cleanup(&out);
	return text;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	}
	return false;
}

/* ---- a validator of the text format (the parts we use) ---- */

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || !(s[0] == '_' || s[0] == ':' || (s[0] >= 'a' && s[0] <= 'z') ||
	                (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!(c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool value_ok(const char *s)
{
	if (strcmp(s, "+Inf") == 0)
		return true;
	char *end = NULL;
	(void)strtod(s, &end);
	return end != s && *end == '\0' && s[0] != '-';
}

/* {name="value",...}: label names, quoted values with \\ \" \n escapes only. */
static const char *labels_end(const char *p)
{
	if (*p != '{')
		return p;
	p++;
	while (*p != '}') {
		const char *start = p;
		while (*p != '=' && *p != '\0')
			p++;
		if (*p != '=' || !name_ok(start, (size_t)(p - start)) || p[1] != '"')
			return NULL;
		for (p += 2; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				return NULL;
			if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
				p++;
			else if (*p == '\\')
				return NULL;
		}
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return NULL;
	}
	return p + 1;
}

/* The family a sample belongs to: histogram samples carry _bucket/_sum/_count. */
static void family_of(const char *name, size_t n, char *out, size_t out_len)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	snprintf(out, out_len, "%.*s", (int)n, name);
	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suffixes[i]);
		if (n > sl && strcmp(out + n - sl, suffixes[i]) == 0 &&
		    strstr(out, "duration_seconds") != NULL)
			out[n - sl] = '\0';
	}
}

static void assert_exposition_format(char *text)
{
	char typed[64][96];
	size_t typed_count = 0;
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			const char *sp = strchr(line + 7, ' ');
			assert_non_null(sp);
			assert_true(name_ok(line + 7, (size_t)(sp - line - 7)));
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			char name[96], type[32];
			assert_int_equal(sscanf(line + 7, "%95s %31s", name, type), 2);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
			            strcmp(type, "histogram") == 0);
			for (size_t i = 0; i < typed_count; i++)
				assert_string_not_equal(typed[i], name); /* typed once */
			assert_true(typed_count < 64);
			snprintf(typed[typed_count++], sizeof(typed[0]), "%s", name);
			continue;
		}
		assert_true(line[0] != '#');
		size_t n = strcspn(line, "{ ");
		assert_true(name_ok(line, n));
		const char *after = labels_end(line + n);
		assert_non_null(after);
		assert_true(*after == ' ');
		assert_true(value_ok(after + 1));
		/* Its family was typed before it (the last TYPE seen). */
		char fam[96];
		family_of(line, n, fam, sizeof(fam));
		assert_true(typed_count > 0);
		assert_string_equal(typed[typed_count - 1], fam);
	}
}

/* ---- tests ---- */

static void requests_count_by_method_route_and_status_class(void **state)
{
	(void)state;
	struct kh_metrics *m = registry();
	struct kh_metrics_gauges g = {0};
	kh_metrics_observe(m, ENCRYPT, 200, 1000);
	kh_metrics_observe(m, ENCRYPT, 201, 1000);
	kh_metrics_observe(m, ENCRYPT, 409, 1000);
	kh_metrics_observe(m, KEY_DELETE, 503, 1000);
	kh_metrics_observe(m, kh_metrics_unmatched(m), 404, 1000);
	/* A status outside 100..599 (never sent) counts as a server error, not out of bounds. */
	kh_metrics_observe(m, KEY_GET, 0, 1000);
	kh_metrics_observe(m, KEY_GET, 999, 1000);
	/* An index past the table is ignored. */
	kh_metrics_observe(m, 99, 200, 1000);
	char *text = render(m, &g);
	assert_true(has_line(text, "keyhold_http_requests_total{method=\"POST\","
	                           "route=\"/v1/keys/{}/encrypt\",code=\"2xx\"} 2"));
	assert_true(has_line(text, "keyhold_http_requests_total{method=\"POST\","
	                           "route=\"/v1/keys/{}/encrypt\",code=\"4xx\"} 1"));
	assert_true(has_line(text, "keyhold_http_requests_total{method=\"DELETE\","
	                           "route=\"/v1/keys/{}\",code=\"5xx\"} 1"));
	assert_true(has_line(text, "keyhold_http_requests_total{method=\"GET\","
	                           "route=\"/v1/keys/{}\",code=\"5xx\"} 2"));
	assert_true(has_line(text, "keyhold_http_requests_total{method=\"OTHER\","
	                           "route=\"unmatched\",code=\"4xx\"} 1"));
	/* Classes and routes without requests are not listed. */
	assert_null(strstr(text, "code=\"3xx\""));
	assert_null(strstr(text, "/v1/sys/health"));
	assert_exposition_format(text);
	free(text);
	kh_metrics_free(&m);
	assert_null(m);
}

static void latency_is_a_cumulative_histogram_in_seconds(void **state)
{
	(void)state;
	struct kh_metrics *m = registry();
	struct kh_metrics_gauges g = {0};
	kh_metrics_observe(m, HEALTH, 200, 500 * 1000);        /* 0.5 ms */
	kh_metrics_observe(m, HEALTH, 200, 1000 * 1000);       /* 1 ms: le="0.001" */
	kh_metrics_observe(m, HEALTH, 200, 3 * 1000 * 1000);   /* 3 ms */
	kh_metrics_observe(m, HEALTH, 200, 3 * KH_NS_PER_SEC); /* past 2.5 s */
	kh_metrics_observe(m, HEALTH, 200, -5);                /* clock oddity: 0 */
	char *text = render(m, &g);
	const char *p = "keyhold_http_request_duration_seconds";
	const char *lbl = "{method=\"GET\",route=\"/v1/sys/health\"";
	char line[256];
	static const struct {
		const char *le;
		unsigned count;
	} want[] = {{"0.001", 3}, {"0.0025", 3}, {"0.005", 4}, {"0.01", 4},
	            {"0.025", 4}, {"0.05", 4},   {"0.1", 4},   {"0.25", 4},
	            {"0.5", 4},   {"1", 4},      {"2.5", 4},   {"+Inf", 5}};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line), "%s_bucket%s,le=\"%s\"} %u", p, lbl, want[i].le,
		         want[i].count);
		assert_true(has_line(text, line));
	}
	snprintf(line, sizeof(line), "%s_sum%s} 3.004500000", p, lbl);
	assert_true(has_line(text, line));
	snprintf(line, sizeof(line), "%s_count%s} 5", p, lbl);
	assert_true(has_line(text, line));
	assert_true(has_line(text, "# TYPE keyhold_http_request_duration_seconds histogram"));
	assert_exposition_format(text);
	free(text);
	kh_metrics_free(&m);
}

static void gauges_appear_when_known(void **state)
{
	(void)state;
	struct kh_metrics *m = registry();
	struct kh_metrics_gauges g = {
	    .barrier_known = true,
	    .initialized = true,
	    .sealed = true,
	    .http_known = true,
	    .http = {.requests = 10, .rejected_busy = 2, .rejected_limits = 3},
	    .keys_known = true,
	    .key_cache_entries = 7,
	    .store_known = true,
	    .store = {.write_groups = 4, .write_calls = 9},
	    .notifications_known = true,
	    .notifications_pending = 6,
	    .xks_known = true,
	    .xks = {.requests = 20,
	            .ok = 12,
	            .throttled = 3,
	            .unauthenticated = 1,
	            .health_checks = 2},
	};
	g.keys[KH_KEY_ENABLED] = 5;
	g.keys[KH_KEY_PENDING_DELETION] = 1;
	kh_metrics_rate_limited(m);
	kh_metrics_rate_limited(m);
	char *text = render(m, &g);
	static const char *const lines[] = {
	    "keyhold_sealed 1",
	    "keyhold_initialized 1",
	    "keyhold_http_rejected_total{reason=\"busy\"} 2",
	    "keyhold_http_rejected_total{reason=\"limits\"} 3",
	    "keyhold_keys{state=\"enabled\"} 5",
	    "keyhold_keys{state=\"disabled\"} 0",
	    "keyhold_keys{state=\"pending-deletion\"} 1",
	    "keyhold_keys{state=\"deleted\"} 0",
	    "keyhold_key_cache_entries 7",
	    "keyhold_store_writes_total 9",
	    "keyhold_store_commits_total 4",
	    "keyhold_notifications_pending 6",
	    "keyhold_xks_requests_total{result=\"ok\"} 12",
	    "keyhold_xks_requests_total{result=\"throttled\"} 3",
	    "keyhold_xks_requests_total{result=\"unauthenticated\"} 1",
	    "keyhold_xks_requests_total{result=\"refused\"} 4",
	    "keyhold_xks_health_checks_total 2",
	    "keyhold_rate_limited_total 2",
	    "# TYPE keyhold_sealed gauge",
	    "# TYPE keyhold_rate_limited_total counter",
	    "# TYPE keyhold_http_requests_total counter",
	};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!has_line(text, lines[i]))
			fail_msg("missing: %s\n%s", lines[i], text);
	}
	assert_exposition_format(text);
	free(text);
	kh_metrics_free(&m);
}

static void unknown_parts_are_left_out(void **state)
{
	(void)state;
	struct kh_metrics *m = registry();
	struct kh_metrics_gauges g = {0};
	char *text = render(m, &g);
	assert_null(strstr(text, "keyhold_sealed"));
	assert_null(strstr(text, "keyhold_keys{"));
	assert_null(strstr(text, "keyhold_http_rejected_total"));
	assert_null(strstr(text, "keyhold_notifications_pending"));
	assert_null(strstr(text, "keyhold_store_writes_total"));
	assert_null(strstr(text, "keyhold_xks_"));
	/* What is always known is still there. */
	assert_true(has_line(text, "keyhold_rate_limited_total 0"));
	assert_true(has_line(text, "keyhold_key_cache_entries 0"));
	assert_exposition_format(text);
	free(text);
	kh_metrics_free(&m);
}

static void a_full_buffer_is_an_error_not_a_cut_text(void **state)
{
	(void)state;
	struct kh_metrics *m = registry();
	struct kh_metrics_gauges g = {0};
	struct kh_buf out;
	kh_buf_init(&out, 100, KH_BUF_PLAIN);
	assert_int_equal(kh_metrics_write(m, &g, &out), KH_ERR_TOO_LARGE);
	kh_buf_cleanup(&out);
	kh_metrics_free(&m);
}

struct counter_arg {
	struct kh_metrics *m;
};

static void *observer(void *arg)
{
	struct counter_arg *a = arg;
	for (unsigned i = 0; i < 10000; i++)
		kh_metrics_observe(a->m, ENCRYPT, 200, (int64_t)(i % 7) * 1000 * 1000);
	return NULL;
}

static void concurrent_counting_loses_nothing(void **state)
{
	(void)state;
	struct kh_metrics *m = registry();
	struct kh_metrics_gauges g = {0};
	struct counter_arg a = {m};
	pthread_t t[4];
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, observer, &a), 0);
	for (size_t i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	char *text = render(m, &g);
	assert_true(has_line(text, "keyhold_http_requests_total{method=\"POST\","
	                           "route=\"/v1/keys/{}/encrypt\",code=\"2xx\"} 40000"));
	assert_true(has_line(text, "keyhold_http_request_duration_seconds_count{method=\"POST\","
	                           "route=\"/v1/keys/{}/encrypt\"} 40000"));
	free(text);
	kh_metrics_free(&m);
}

static void an_empty_registry_and_null_are_harmless(void **state)
{
	(void)state;
	static const struct kh_api_route empty[] = {{0, NULL, NULL, 0, NULL}};
	static const struct kh_api_route *const only[] = {empty};
	struct kh_metrics *m = NULL;
	assert_int_equal(kh_metrics_new(only, 1, &m), KH_OK);
	assert_int_equal(kh_metrics_unmatched(m), 0);
	kh_metrics_observe(m, 0, 404, 10);
	kh_metrics_observe(NULL, 0, 200, 10);
	kh_metrics_rate_limited(NULL);
	kh_metrics_free(&m);
	kh_metrics_free(&m);
}

static kh_rc registry_alloc(void *arg)
{
	(void)arg;
	struct kh_metrics *m = NULL;
	KH_GUARD(kh_metrics_new(tables, 2, &m));
	kh_metrics_free(&m);
	return KH_OK;
}

static void allocation_failures_leak_nothing(void **state)
{
	(void)state;
	kh_test_alloc_failures(registry_alloc, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(requests_count_by_method_route_and_status_class),
	    cmocka_unit_test(latency_is_a_cumulative_histogram_in_seconds),
	    cmocka_unit_test(gauges_appear_when_known),
	    cmocka_unit_test(unknown_parts_are_left_out),
	    cmocka_unit_test(a_full_buffer_is_an_error_not_a_cut_text),
	    cmocka_unit_test(concurrent_counting_loses_nothing),
	    cmocka_unit_test(an_empty_registry_and_null_are_harmless),
	    cmocka_unit_test(allocation_failures_leak_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
