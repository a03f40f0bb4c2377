/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP(S) server (HTTP.md): GNU libmicrohttpd behind a small interface, so handlers never
 * see its types and the library can be replaced without touching them.
 *
 * Network threads (libmicrohttpd's epoll thread pool) only read requests and write responses.
 * Once a request is complete (headers checked, body read within its limit) the connection is
 * suspended and the handler runs on a bounded worker pool, where it may block (a durable commit,
 * an HSM call, an RSA signature); the connection resumes when the response is ready. When every
 * worker is busy and the queue is full, requests get 503 with Retry-After at once.
 *
 * Checks done here, before any handler runs (each answers with the status in brackets):
 * header block over KH_LIMIT_HEADER_BYTES [431], URI over KH_LIMIT_URI_BYTES [414], a declared
 * Content-Length over the body limit [413, before reading], a streamed body that grows past it
 * [413, once the body ends; a client that keeps sending more than another limit's worth is
 * disconnected instead], conflicting duplicate Content-Length, Transfer-Encoding with
 * Content-Length, or a Transfer-Encoding other than one "chunked" [400], a target that is not
 * "/..." in visible ASCII or has a bad or NUL (%00) escape [400], a header name that is not a
 * token or a value with a control character (bare CR, NUL, ...) [400], too many connections
 * from one address (refused), idle connections (closed after the timeout). The body limit is
 * KH_LIMIT_BODY_UNAUTH_BYTES for requests without an Authorization header, else the configured
 * maximum.
 *
 * Limits of libmicrohttpd 0.9.75 that this layer cannot fix: it cuts a header value (and the
 * request target) at a raw NUL byte before we see it, so such a request reaches the handler with
 * the part before the NUL (never with the NUL) instead of getting 400; a raw NUL in a header
 * name gets its own 400. It unfolds obsolete folded header lines without telling us. Its
 * timeout counts inactivity, so a client trickling bytes is not cut off by a deadline; the
 * per-address connection limit bounds what such clients hold. Requests it refuses itself before
 * our checks run (a malformed request line, a head far beyond our limits) get its plain HTML
 * answers without X-Request-Id.
 *
 * Mutual TLS (client_ca_pem, XKS.md): the client certificate is checked inside the handshake,
 * from the session's certificate verification callback, in TLS 1.2 (after the client's
 * Certificate) and in TLS 1.3 (after its CertificateVerify, before its Finished is accepted).
 * A missing, unverifiable (unknown CA, self-signed, expired or not yet valid, not for client
 * authentication) or unnamed certificate ends the handshake with a fatal handshake_failure
 * alert (40): no HTTP answer, and no request is ever read from that connection, even the one a
 * TLS 1.3 client sends right after its Finished. libmicrohttpd 0.9.75 neither sends an alert
 * for a failed handshake (nor does GnuTLS on its own) nor lingers: it shuts the write side and
 * closes, and a close with the client's bytes still unread is a TCP reset. So this layer writes
 * the alert itself, shuts the write side, and drains the socket on a thread of its own until
 * the client closes (at most 2 s, 64 KiB, 128 sockets at once; past those it is closed, and the
 * client may then see a reset). Limits that remain: the CertificateRequest names no acceptable
 * CAs (the certificate credentials belong to the library), so a client picks its certificate
 * without that hint; the library logs each refusal as "received handshake message out of
 * context" beside our own reason; an alert that the socket cannot take at once (a full send
 * buffer, which a handshake does not fill) is lost. Sessions are never resumed, so every
 * connection is checked.
 *
 * Every other response carries X-Request-Id: the client's own when it is a safe token
 * ([A-Za-z0-9._-], 1..64 chars), else a fresh random one (32 hex digits). Errors from this layer
 * use the API error document {"error":{"code","message","request_id"}}.
 *
 * Request bodies may carry plaintext: they are held in ordinary memory (the secure arena cannot
 * hold max_body for every concurrent request) and wiped before it is freed.
 */
#ifndef KH_HTTP_H
#define KH_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/kh_buf.h"
#include "base/kh_rc.h"

enum kh_http_method {
	KH_HTTP_GET = 1,
	KH_HTTP_HEAD,
	KH_HTTP_POST,
	KH_HTTP_PUT,
	KH_HTTP_PATCH,
	KH_HTTP_DELETE,
	KH_HTTP_OTHER,
};

#define KH_HTTP_REQUEST_ID_MAX 64u
/* Longest accepted client name (mutual TLS), without its NUL; a DNS name is at most 253. */
#define KH_HTTP_CLIENT_NAME_MAX 255u
/* Certificates of a client's chain handed to handlers (its own and intermediates). */
#define KH_HTTP_CLIENT_CHAIN_MAX 8u

/* A request header as the HTTP library parsed it (both NUL-terminated). */
struct kh_http_kv {
	const char *name;
	const char *value;
};

struct kh_http_request {
	enum kh_http_method method;
	const char *method_name; /* as sent */
	const char *path;        /* percent-decoded path, without the query */
	const char *raw_path;    /* the path as sent (for signatures such as SigV4) */
	const char *query;       /* raw query string without '?', "" when absent */
	struct kh_slice body;    /* the whole body (already within the limit) */
	char request_id[KH_HTTP_REQUEST_ID_MAX + 1];
	char remote_addr[64]; /* "127.0.0.1", "::1" */
	bool tls;
	/* With mutual TLS: the accepted name the client certificate matched (as configured; with
	 * no names configured, the certificate's first subject CN or SAN dNSName that is visible
	 * ASCII). "" on a listener without mutual TLS. A request on a mutual TLS listener always
	 * comes from a verified client: a refused one never completes its handshake. */
	char client_name[KH_HTTP_CLIENT_NAME_MAX + 1];
	/* On a listener that asks for client certificates (request_client_cert or mutual TLS):
	 * the DER of the certificate the client sent in the handshake, and its whole chain as sent
	 * (client_chain[0] is client_cert; at most KH_HTTP_CLIENT_CHAIN_MAX, the rest dropped).
	 * Without mutual TLS NOTHING about it is verified but the client's proof that it holds the
	 * certificate's private key (TLS CertificateVerify): the handler decides whom it trusts.
	 * Empty when the client sent none. The bytes live as long as the request. */
	struct kh_slice client_cert;
	struct kh_slice client_chain[KH_HTTP_CLIENT_CHAIN_MAX];
	size_t client_chain_count;
	/* What kh_http_request_header and _query read: the headers in the order sent, and the
	 * query decoded into "name\0value\0" pairs. Handlers use the two functions. */
	const struct kh_http_kv *headers;
	size_t header_count;
	struct kh_slice query_pairs;
};

/* A request header by case-insensitive name; NULL when absent. With several, the first. */
const char *kh_http_request_header(const struct kh_http_request *r, const char *name);
/* A query parameter (percent-decoded, '+' as a space as in HTML forms); "" for a name without
 * '='; NULL when absent. With several, the first. */
const char *kh_http_request_query(const struct kh_http_request *r, const char *name);

/*
 * A request made without a server or a connection, for unit tests and fuzz targets: the same
 * struct kh_http_request a handler would get from the server for this method, request target
 * ("/path?query"), headers and body. The server's own checks run first (the target, header
 * names and values, the header block size, the body limit: KH_LIMIT_BODY_BYTES with an
 * Authorization header, KH_LIMIT_BODY_UNAUTH_BYTES without); a request it would refuse before
 * any handler runs is KH_ERR_BAD_INPUT (its 400s) or KH_ERR_TOO_LARGE (413, 414, 431). The
 * target is then split and percent-decoded as the server does it. The request id is "local"
 * and the address "127.0.0.1"; both may be changed afterwards. method, headers and body are
 * borrowed and must outlive the request; the decoded parts are owned by l.
 */
struct kh_http_local {
	struct kh_http_request req;
	struct kh_buf parts; /* raw path, raw query, decoded path, decoded query pairs */
};
KH_MUST_CHECK kh_rc kh_http_local_init(struct kh_http_local *l, const char *method,
                                       struct kh_slice target, const struct kh_http_kv *headers,
                                       size_t header_count, struct kh_slice body);
/* Wipes (a query may carry a secret) and frees the parts; accepts a failed init. */
void kh_http_local_cleanup(struct kh_http_local *l);

#define KH_HTTP_MAX_HEADERS 8u

struct kh_http_response {
	unsigned status;
	const char *content_type; /* static string; NULL: application/json */
	struct kh_buf body;       /* initialised by the server (plain, 16 MiB max); a handler
	                             that writes secrets into it may re-init it KH_BUF_SECURE */
	size_t header_count;
	struct {
		char name[64];
		char value[256];
	} headers[KH_HTTP_MAX_HEADERS];
	bool deferred; /* set by kh_http_response_defer */
	void *impl;    /* the server's; NULL outside it */
};
/* Adds a response header (KH_ERR_TOO_LARGE beyond KH_HTTP_MAX_HEADERS or the sizes above;
 * KH_ERR_BAD_INPUT for a name that is not a token, a control character such as CR/LF in the
 * value, or a header the server writes itself: Connection, Content-Length, Content-Type (use
 * content_type), Transfer-Encoding, X-Request-Id). */
KH_MUST_CHECK kh_rc kh_http_response_header(struct kh_http_response *resp, const char *name,
                                            const char *value);

/*
 * An answer that waits for something else than the handler's thread, such as the durable commit
 * of its audit record: the handler calls kh_http_response_defer(resp) before it returns, then
 * leaves resp and the request alone until it calls kh_http_response_ready(resp), from any
 * thread, with resp final. The worker serves other requests meanwhile; the connection stays
 * suspended. Server stop waits for every deferred answer. defer is false (and changes nothing)
 * for a response the server did not make, such as a test's: answer before returning then.
 */
KH_MUST_CHECK bool kh_http_response_defer(struct kh_http_response *resp);
void kh_http_response_ready(struct kh_http_response *resp);

/* Runs on a worker thread; fills resp (status defaults to 500 if left 0), or defers it. */
typedef void (*kh_http_handler)(void *ctx, const struct kh_http_request *req,
                                struct kh_http_response *resp);

struct kh_http_options {
	const char *address; /* numeric IPv4 or IPv6 address to bind; NULL: 127.0.0.1 */
	uint16_t port;       /* 0: an ephemeral port (see kh_http_server_port) */
	/* TLS when cert_pem is set: PEM certificate chain and PEM private key (secret). TLS 1.2
	 * and 1.3 only. */
	struct kh_slice cert_pem;
	struct kh_slice key_pem;
	/*
	 * Mutual TLS (XKS.md) when client_ca_pem is set (needs cert_pem): the PEM bundle of the
	 * CAs whose client certificates are accepted; every client must then present a certificate
	 * that chains to one of them (GnuTLS's verification status, validity dates included; a
	 * certificate with an extended key usage must allow TLS client authentication) and whose
	 * subject CN or a SAN dNSName equals one of client_names, ASCII case-insensitively (AWS KMS
	 * presents cks.kms.<region>.amazonaws.com). client_name_count 0: any name. The names are
	 * copied; each is 1..KH_HTTP_CLIENT_NAME_MAX visible ASCII characters. A client may send
	 * at most 8 certificates (its own and intermediates). Fixed for the server's lifetime:
	 * kh_http_server_reload_tls replaces only the server's own certificate.
	 */
	struct kh_slice client_ca_pem;
	const char *const *client_names;
	size_t client_name_count;
	/*
	 * Without client_ca_pem: ask every TLS client for a certificate (GNUTLS_CERT_REQUEST)
	 * without requiring one or checking who issued it, and hand what it sent to handlers
	 * (kh_http_request.client_cert) unverified, for handlers that verify it themselves (EST,
	 * RFC 7030 3.3.2). A client without a certificate, or with one from any CA, is served as
	 * usual. Needs cert_pem (KH_ERR_BAD_INPUT otherwise).
	 */
	bool request_client_cert;
	size_t max_body;          /* 0: KH_LIMIT_BODY_BYTES */
	unsigned network_threads; /* 0: number of CPUs */
	unsigned workers;         /* 0: 2 x CPUs */
	unsigned queue;           /* requests waiting for a worker; 0: 256 */
	unsigned per_ip_conns;    /* 0: 64 */
	unsigned max_conns;       /* 0: 4096 */
	unsigned timeout_seconds; /* idle/slow connection timeout; 0: 30 */
};

struct kh_http_server;

/* Binds and starts serving. KH_ERR_CONFLICT if the address is in use, KH_ERR_BAD_INPUT for an
 * address that is not numeric, KH_ERR_FORBIDDEN for a port we may not bind, KH_ERR_BAD_KEY for
 * a certificate or key that TLS cannot use (or only one of the two) and for a client_ca_pem in
 * which no certificate parses. KH_ERR_BAD_INPUT for client names without client_ca_pem,
 * client_ca_pem without cert_pem, or a client name that is empty, too long or not visible
 * ASCII. */
KH_MUST_CHECK kh_rc kh_http_server_start(const struct kh_http_options *opts,
                                         kh_http_handler handler, void *ctx,
                                         struct kh_http_server **out);
/* The bound port (useful with port 0). */
uint16_t kh_http_server_port(const struct kh_http_server *s);
/* Replaces the TLS certificate and key for new connections (SIGHUP); open connections keep
 * theirs. KH_ERR_BAD_KEY if the pair is unusable (the old one stays); KH_ERR_CONFLICT for a
 * server started without TLS. */
KH_MUST_CHECK kh_rc kh_http_server_reload_tls(struct kh_http_server *s, struct kh_slice cert_pem,
                                              struct kh_slice key_pem);
/* Stops accepting, lets every request already handed to a worker run to the end (new requests
 * on open connections get 503 meanwhile), then closes all connections (answers not yet written
 * are lost) and frees. NULL accepted. */
void kh_http_server_stop(struct kh_http_server **s);

struct kh_http_stats {
	uint64_t requests;        /* handed to the handler */
	uint64_t rejected_busy;   /* 503 because the worker queue was full (or we were stopping) */
	uint64_t rejected_limits; /* 4xx from our checks above (not the library's own) */
};
void kh_http_server_stats(struct kh_http_server *s, struct kh_http_stats *out);

/* ---- outgoing requests (client.c, on libcurl): webhook deliveries ---- */

/* Process-wide set-up; call once before any thread sends a request. */
KH_MUST_CHECK kh_rc kh_http_client_init(void);
/*
 * A URL keyhold may send to (webhook deliveries, libkeyhold's server address): https:// to any
 * host, or http:// to a loopback address (127.0.0.0/8, [::1], localhost); visible ASCII, at most
 * KH_LIMIT_WEBHOOK_URL_BYTES (KH_ERR_TOO_LARGE), no user name, password or fragment.
 * KH_ERR_BAD_INPUT otherwise.
 */
KH_MUST_CHECK kh_rc kh_http_url_check(const char *url);

struct kh_http_post {
	const char *url;            /* checked again with kh_http_url_check */
	struct kh_slice body;       /* sent as application/json */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; NULL: none */
	unsigned timeout_seconds;   /* the whole exchange; 0: 5 */
};
/* POSTs without following redirects. *out_status gets the response status, or 0 when there was
 * no answer (connection refused, timeout, TLS failure). KH_ERR_BAD_INPUT for a URL that
 * kh_http_url_check refuses; other errors are ours (KH_ERR_NOMEM, KH_ERR_INTERNAL). */
KH_MUST_CHECK kh_rc kh_http_post(const struct kh_http_post *req, unsigned *out_status);

#endif
