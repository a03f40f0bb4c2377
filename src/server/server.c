// SPDX-License-Identifier: Apache-2.0
/*
 * keyholdd's life: open the store and the layers above it, unseal (development mode and the
 * PKCS#11 seal do it themselves; otherwise operators send shares), serve HTTPS (and optionally
 * plain HTTP on loopback), run the scheduler, and wait for signals: SIGINT/SIGTERM stop
 * gracefully (listeners drain, the scheduler finishes its item, everything is closed and
 * wiped), SIGHUP reloads the TLS certificate and key from their files.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kh_log.h"
#include "base/kh_mem.h"
#include "crypto/kh_crypto.h"
#include "server/kh_server_int.h"

#define PEM_MAX (256u * 1024u)

kh_rc kh_file_read(const char *path, struct kh_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t chunk[4096];
	KH_ENSURE(fd >= 0, errno == ENOENT ? KH_ERR_NOT_FOUND : KH_ERR_STORAGE);
	kh_rc rc = KH_OK;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = KH_ERR_STORAGE;
		if (n <= 0)
			break;
		rc = kh_buf_append(out, KH_SLICE(chunk, (size_t)n));
		if (rc != KH_OK)
			break;
	}
	kh_wipe(chunk, sizeof(chunk));
	close(fd);
	return rc;
}

kh_rc kh_file_write_private(const char *path, struct kh_slice data)
{
	char tmp[KH_SERVER_PATH_MAX + 8];
	KH_ENSURE(snprintf(tmp, sizeof(tmp), "%s.tmp", path) < (int)sizeof(tmp), KH_ERR_TOO_LARGE);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	KH_ENSURE(fd >= 0, KH_ERR_STORAGE);
	size_t off = 0;
	kh_rc rc = KH_OK;
	while (off < data.len) {
		ssize_t n = write(fd, data.ptr + off, data.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = KH_ERR_STORAGE;
			break;
		}
		off += (size_t)n;
	}
	if (rc == KH_OK && fsync(fd) != 0)
		rc = KH_ERR_STORAGE;
	close(fd);
	if (rc == KH_OK && rename(tmp, path) != 0)
		rc = KH_ERR_STORAGE;
	if (rc != KH_OK)
		unlink(tmp);
	return rc;
}

/* ---- opening and closing the layers ---- */

static kh_rc open_pkcs11(struct kh_node *n)
{
	const struct kh_server_config *c = n->cfg;
	if (c->pkcs11_module[0] == '\0')
		return KH_OK;
	kh_buf_init(&n->pkcs11_pin, 256, KH_BUF_SECURE);
	KH_GUARD(kh_file_read(c->pkcs11_pin_file, &n->pkcs11_pin));
	while (n->pkcs11_pin.len > 0 && (n->pkcs11_pin.ptr[n->pkcs11_pin.len - 1] == '\n' ||
	                                 n->pkcs11_pin.ptr[n->pkcs11_pin.len - 1] == '\r'))
		kh_buf_truncate(&n->pkcs11_pin, n->pkcs11_pin.len - 1);
	n->pkcs11 = (struct kh_pkcs11_config){.module_path = c->pkcs11_module,
	                                      .token_label = c->pkcs11_token,
	                                      .pin = kh_buf_slice(&n->pkcs11_pin),
	                                      .key_label = c->pkcs11_key};
	return KH_OK;
}

/* The listeners' counters for /metrics, summed. Under listen_mu, so a listener is never read
 * while it is being started or stopped. */
static void http_stats(void *arg, struct kh_http_stats *out)
{
	struct kh_node *n = arg;
	*out = (struct kh_http_stats){0};
	pthread_mutex_lock(&n->listen_mu);
	struct kh_http_server *servers[] = {n->https, n->http, n->xks_https};
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		struct kh_http_stats one;
		if (servers[i] == NULL)
			continue;
		kh_http_server_stats(servers[i], &one);
		out->requests += one.requests;
		out->rejected_busy += one.rejected_busy;
		out->rejected_limits += one.rejected_limits;
	}
	pthread_mutex_unlock(&n->listen_mu);
}

/* The XKS proxy's counters for /metrics. */
static void xks_stats(void *arg, struct kh_api_xks_counts *out)
{
	struct kh_node *n = arg;
	struct kh_xks_proxy_stats st = {0};
	if (n->xks != NULL)
		kh_xks_proxy_stats(n->xks, &st);
	*out = (struct kh_api_xks_counts){st.requests, st.ok, st.throttled, st.unauthenticated,
	                                  st.health_checks};
}

static kh_rc open_layers(struct kh_node *n)
{
	char path[KH_SERVER_PATH_MAX + 16];
	const struct kh_clock *clock = kh_clock_real();
	snprintf(path, sizeof(path), "%s/keyhold.db", n->cfg->data_dir);
	struct kh_store_options so = {.path = path};
	KH_GUARD(kh_store_open(&so, &n->store));
	KH_GUARD(open_pkcs11(n));
	struct kh_barrier_options bo = {n->store, clock,
	                                n->cfg->pkcs11_module[0] != '\0' ? &n->pkcs11 : NULL};
	KH_GUARD(kh_barrier_new(&bo, &n->barrier));
	struct kh_audit_options ao = {n->store, n->barrier, clock};
	KH_GUARD(kh_audit_new(&ao, &n->audit));
	struct kh_keys_options ko = {n->store, n->barrier, n->audit, clock, 0};
	KH_GUARD(kh_keys_new(&ko, &n->keys));
	struct kh_authz_options zo = {n->store, n->barrier, n->audit, n->keys, clock};
	KH_GUARD(kh_authz_new(&zo, &n->authz));
	struct kh_pki_options ko2 = {
	    .keys = n->keys,
	    .store = n->store,
	    .audit = n->audit,
	    .clock = clock,
	    .barrier = n->barrier,
	    .kmc_pool_size = n->cfg->kmc_pool_size,
	    .kmc_retention_days = n->cfg->kmc_retention_days,
	    .kmc_recovery_quorum = n->cfg->kmc_recovery_quorum,
	    .kmc_recovery_ttl_hours = n->cfg->kmc_recovery_ttl_hours,
	};
	KH_GUARD(kh_pki_new(&ko2, &n->pki));
	struct kh_api_options po = {
	    .store = n->store,
	    .barrier = n->barrier,
	    .audit = n->audit,
	    .keys = n->keys,
	    .authz = n->authz,
	    .pki = n->pki,
	    .est_default_label = n->cfg->est_default_label,
	    .clock = clock,
	    .node_id = n->cfg->node_id,
	    .http_stats = http_stats,
	    .http_stats_arg = n,
	    .xks_stats = xks_stats,
	    .xks_stats_arg = n,
	    .rate_limit_rps = n->cfg->rate_limit_rps,
	    .rate_limit_burst = n->cfg->rate_limit_burst,
	    .data_dir = n->cfg->data_dir,
	};
	KH_GUARD(kh_api_new(&po, &n->api));
	struct kh_xks_proxy_options xo = {
	    .keys = n->keys, .barrier = n->barrier, .clock = clock, .node_id = n->cfg->node_id};
	return kh_xks_proxy_new(&xo, &n->xks);
}

static void close_layers(struct kh_node *n)
{
	kh_xks_proxy_free(&n->xks);
	kh_api_free(&n->api);
	kh_pki_free(&n->pki);
	kh_authz_free(&n->authz);
	kh_keys_free(&n->keys);
	kh_audit_free(&n->audit);
	kh_barrier_free(&n->barrier);
	kh_store_close(&n->store);
	kh_buf_cleanup(&n->pkcs11_pin);
}

/* ---- listeners ---- */

static kh_rc load_tls(struct kh_node *n)
{
	kh_buf_cleanup(&n->tls_cert);
	kh_buf_cleanup(&n->tls_key);
	kh_buf_init(&n->tls_cert, PEM_MAX, KH_BUF_PLAIN);
	kh_buf_init(&n->tls_key, PEM_MAX, KH_BUF_SECURE);
	KH_GUARD(kh_file_read(n->cfg->tls_cert, &n->tls_cert));
	return kh_file_read(n->cfg->tls_key, &n->tls_key);
}

/* The main listeners serve the native API and the XKS proxy's paths. */
static void serve_shared(void *ctx, const struct kh_http_request *req,
                         struct kh_http_response *resp)
{
	struct kh_node *n = ctx;
	if (kh_xks_proxy_owns(req))
		kh_xks_proxy_handle(n->xks, req, resp);
	else
		kh_api_handle(n->api, req, resp);
}

static kh_rc listen_with(struct kh_node *n, const char *addr, struct kh_http_options *o,
                         kh_http_handler handler, void *ctx, struct kh_http_server **out)
{
	char host[KH_SERVER_ADDR_MAX];
	uint16_t port = 0;
	if (kh_server_addr_parse(addr, host, sizeof(host), &port) != KH_OK) {
		KH_LOG_ERROR("bad listen address", KH_LF_STR("address", addr));
		return KH_ERR_BAD_INPUT;
	}
	o->address = host;
	o->port = port;
	o->network_threads = n->cfg->network_threads;
	o->workers = n->cfg->workers;
	struct kh_http_server *s = NULL;
	kh_rc rc = kh_http_server_start(o, handler, ctx, &s);
	if (rc != KH_OK) {
		KH_LOG_ERROR("cannot listen", KH_LF_STR("address", addr), KH_LF_RC(rc));
		return rc;
	}
	pthread_mutex_lock(&n->listen_mu);
	*out = s;
	pthread_mutex_unlock(&n->listen_mu);
	return KH_OK;
}

static kh_rc listen_on(struct kh_node *n, const char *addr, bool tls, struct kh_http_server **out)
{
	struct kh_http_options o = {0};
	if (tls) {
		o.cert_pem = kh_buf_slice(&n->tls_cert);
		o.key_pem = kh_buf_slice(&n->tls_key);
		/* EST clients may authenticate by certificate (RFC 7030 3.3.2); api/est.c checks
		 * it. */
		o.request_client_cert = true;
	}
	return listen_with(n, addr, &o, serve_shared, n, out);
}

/* The XKS listener: its own certificate when configured, and mutual TLS when a CA bundle is. */
static kh_rc load_xks_tls(struct kh_node *n)
{
	const struct kh_server_config *c = n->cfg;
	kh_buf_cleanup(&n->xks_cert);
	kh_buf_cleanup(&n->xks_key);
	kh_buf_init(&n->xks_cert, PEM_MAX, KH_BUF_PLAIN);
	kh_buf_init(&n->xks_key, PEM_MAX, KH_BUF_SECURE);
	KH_GUARD(
	    kh_file_read(c->xks_tls_cert[0] != '\0' ? c->xks_tls_cert : c->tls_cert, &n->xks_cert));
	return kh_file_read(c->xks_tls_key[0] != '\0' ? c->xks_tls_key : c->tls_key, &n->xks_key);
}

static kh_rc listen_xks(struct kh_node *n)
{
	const struct kh_server_config *c = n->cfg;
	const char *names[KH_SERVER_XKS_NAMES_MAX];
	KH_GUARD(load_xks_tls(n));
	struct kh_http_options o = {
	    .cert_pem = kh_buf_slice(&n->xks_cert),
	    .key_pem = kh_buf_slice(&n->xks_key),
	};
	if (c->xks_client_ca[0] != '\0') {
		kh_buf_cleanup(&n->xks_ca);
		kh_buf_init(&n->xks_ca, PEM_MAX, KH_BUF_PLAIN);
		kh_rc rc = kh_file_read(c->xks_client_ca, &n->xks_ca);
		if (rc != KH_OK) {
			KH_LOG_ERROR("cannot read the XKS client CA bundle",
			             KH_LF_STR("path", c->xks_client_ca), KH_LF_RC(rc));
			return rc;
		}
		for (unsigned i = 0; i < c->xks_client_name_count; i++)
			names[i] = c->xks_client_names[i];
		o.client_ca_pem = kh_buf_slice(&n->xks_ca);
		o.client_names = names;
		o.client_name_count = c->xks_client_name_count;
	}
	return listen_with(n, c->xks_listen, &o, kh_xks_proxy_handle, n->xks, &n->xks_https);
}

/* Detaches a listener (under listen_mu) before stopping it. */
static void listener_stop(struct kh_node *n, struct kh_http_server **sp)
{
	pthread_mutex_lock(&n->listen_mu);
	struct kh_http_server *s = *sp;
	*sp = NULL;
	pthread_mutex_unlock(&n->listen_mu);
	kh_http_server_stop(&s);
}

/* Plain HTTP is for loopback clients only (a sidecar, a health check). */
static bool loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "[::1]:", 6) == 0 ||
	       strncmp(addr, "localhost:", 10) == 0;
}

static kh_rc start_listeners(struct kh_node *n)
{
	KH_GUARD(load_tls(n));
	KH_GUARD(listen_on(n, n->cfg->listen, true, &n->https));
	if (n->cfg->http_listen[0] != '\0') {
		KH_ENSURE(loopback(n->cfg->http_listen), KH_ERR_BAD_INPUT);
		KH_GUARD(listen_on(n, n->cfg->http_listen, false, &n->http));
	}
	if (n->cfg->xks_listen[0] != '\0')
		KH_GUARD(listen_xks(n));
	return KH_OK;
}

static void reload_tls(struct kh_node *n)
{
	kh_rc rc = load_tls(n);
	if (rc == KH_OK)
		rc = kh_http_server_reload_tls(n->https, kh_buf_slice(&n->tls_cert),
		                               kh_buf_slice(&n->tls_key));
	if (rc == KH_OK)
		KH_LOG_INFO("TLS certificate reloaded", KH_LF_STR("cert", n->cfg->tls_cert));
	else
		KH_LOG_ERROR("TLS reload failed; the previous certificate stays", KH_LF_RC(rc));
	if (n->xks_https == NULL)
		return;
	rc = load_xks_tls(n);
	if (rc == KH_OK)
		rc = kh_http_server_reload_tls(n->xks_https, kh_buf_slice(&n->xks_cert),
		                               kh_buf_slice(&n->xks_key));
	if (rc != KH_OK)
		KH_LOG_ERROR("XKS TLS reload failed; the previous certificate stays", KH_LF_RC(rc));
}

/* ---- run ---- */

static kh_rc start(struct kh_node *n)
{
	KH_GUARD(kh_crypto_init());
	/* Before any thread starts: libcurl's process-wide set-up (webhook deliveries). */
	KH_GUARD(kh_http_client_init());
	if (n->cfg->dev)
		KH_GUARD(kh_dev_prepare_tls(n));
	KH_GUARD(open_layers(n));
	if (n->cfg->dev) {
		KH_GUARD(kh_dev_bootstrap(n));
	} else if (n->cfg->pkcs11_module[0] != '\0') {
		kh_rc rc = kh_barrier_unseal_auto(n->barrier);
		if (rc != KH_OK)
			KH_LOG_WARN("automatic unseal with the token failed; send shares",
			            KH_LF_RC(rc));
	}
	KH_GUARD(start_listeners(n));
	KH_GUARD(kh_sched_start(n));
	return kh_webhook_start(n);
}

static void stop(struct kh_node *n)
{
	listener_stop(n, &n->https);
	listener_stop(n, &n->http);
	listener_stop(n, &n->xks_https);
	kh_sched_stop(n);
	kh_webhook_stop(n);
	close_layers(n);
	kh_buf_cleanup(&n->tls_cert);
	kh_buf_cleanup(&n->tls_key);
	kh_buf_cleanup(&n->xks_cert);
	kh_buf_cleanup(&n->xks_key);
	kh_buf_cleanup(&n->xks_ca);
}

/* Waits for signals in this thread (blocked everywhere else). */
static void wait_signals(struct kh_node *n, const sigset_t *set)
{
	for (;;) {
		int sig = 0;
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload_tls(n);
			continue;
		}
		KH_LOG_INFO("stopping", KH_LF_INT("signal", sig));
		return;
	}
}

static void level_from(const char *name)
{
	static const struct {
		const char *name;
		enum kh_log_level level;
	} levels[] = {{"debug", KH_LOG_DEBUG},
	              {"info", KH_LOG_INFO},
	              {"warn", KH_LOG_WARN},
	              {"error", KH_LOG_ERROR}};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(levels[i].name, name) == 0)
			kh_log_set_level(levels[i].level);
	}
}

int kh_server_run(const struct kh_server_config *c)
{
	struct kh_node n = {.cfg = c};
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* Blocked before any thread starts, so only sigwait sees them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	level_from(c->log_level);
	if (kh_mem_harden_process() != KH_OK)
		KH_LOG_WARN("could not disable core dumps", KH_LF_NONE);
	pthread_mutex_init(&n.sched_mu, NULL);
	pthread_cond_init(&n.sched_cv, NULL);
	pthread_mutex_init(&n.listen_mu, NULL);
	kh_rc rc = start(&n);
	if (rc == KH_OK) {
		if (c->dev)
			kh_dev_banner(&n);
		KH_LOG_INFO("keyholdd serving", KH_LF_STR("listen", c->listen),
		            KH_LF_UINT("port", kh_http_server_port(n.https)),
		            KH_LF_STR("data_dir", c->data_dir));
		if (n.xks_https != NULL)
			KH_LOG_INFO(
			    "XKS listener serving", KH_LF_STR("listen", c->xks_listen),
			    KH_LF_UINT("port", kh_http_server_port(n.xks_https)),
			    KH_LF_STR("mutual_tls", c->xks_client_ca[0] != '\0' ? "on" : "off"));
		wait_signals(&n, &set);
	} else {
		KH_LOG_ERROR("keyholdd could not start", KH_LF_RC(rc));
	}
	stop(&n);
	pthread_mutex_destroy(&n.sched_mu);
	pthread_cond_destroy(&n.sched_cv);
	pthread_mutex_destroy(&n.listen_mu);
	return rc == KH_OK ? 0 : 1;
}
