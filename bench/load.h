/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The core shared by the benchmarks' HTTP load generators (xks_load, pki_load): a closed loop of
 * N connections, keep-alive or one request each, over TLS or plain TCP, spread over T threads
 * that each run an epoll loop, with one request in flight per connection. The generator that
 * uses it parses its own options (the common ones through load_option), lays out each request
 * in a callback, and may check each answer's body; the core measures, counts the errors and
 * prints the common part of the result line.
 */
#ifndef KH_BENCH_LOAD_H
#define KH_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"

enum {
	LOAD_MAX_CONNECTIONS = 4096,
	LOAD_MAX_THREADS = 64,
};

/* Writes the next request for a connection of thread `worker` into req (at most
 * load.request_max bytes) and returns its length; seq counts the thread's requests. */
typedef size_t (*load_build_fn)(unsigned worker, uint64_t seq, char *req);
/* Whether a 2xx answer's body is what was asked for; *out_why says why not. */
typedef bool (*load_check_fn)(const uint8_t *body, size_t len, const char **out_why);

struct load_options {
	const char *name; /* the generator's name, first word of its messages and line */
	bool tls;
	char host[256];
	char port[8];
	char host_header[300]; /* host, and :port unless it is the scheme's default */
	char path[2048];
	const char *cacert;
	bool insecure;
	bool close_each; /* a new connection for every request */
	unsigned connections;
	unsigned threads;
	int64_t duration_ns;
	int64_t warmup_ns;
	int ok_status;      /* the one status that counts as success; 0: any 2xx */
	size_t request_max; /* bytes of the largest request build() lays out */
	load_build_fn build;
	load_check_fn check; /* optional */
};

extern struct load_options load;

_Noreturn void load_die(const char *what);
int64_t load_parse_duration(const char *text);
unsigned load_parse_count(const char *text, unsigned max);
/* Appends a whole file to out (up to out's maximum). */
void load_read_file(const char *name, struct kh_buf *out);
/* http(s)://HOST[:PORT]/PATH into load's host, port, host_header, path and tls. */
void load_parse_url(const char *url, bool https_only);
/* Takes one of the common options (--connections, --threads, --duration, --warmup, --cacert;
 * --insecure has no value): whether `arg` was one. */
bool load_option(const char *arg, const char *value);

/* Runs the warm-up and the measured window, then prints the common fields of the result line
 * (no newline): NAME rps=... requests=... seconds=... p50_ms=... p90_ms=... p99_ms=...
 * p999_ms=... max_ms=... errors=... conn_errors=... connections=... threads=... client_cpu=...
 * Returns the exit status: 0 when every answer was a success, 2 otherwise. */
int load_run(void);

#endif
