/*
 * conn.h - the collector's WebSocket-over-TLS transport (libwebsockets).
 *
 * It only moves bytes: it connects to wss://host[:port]/path, sends the
 * Origin header, hands every complete inbound binary message to
 * ops->on_data and writes the messages queued with cl_wa_conn_send(), in
 * order, one binary WebSocket message each.  The protocol engine above it
 * (client.h) does no I/O of its own.
 *
 * One cl_wa_conn_run() call is one connection, with its own lws context;
 * the caller loops for reconnects.  Everything runs on the calling thread:
 * the ops are called from inside cl_wa_conn_run(), and cl_wa_conn_send(),
 * cl_wa_conn_close() and cl_wa_conn_pending() may only be called from
 * those ops.
 *
 * TLS: the server certificate is always verified against the system store
 * plus cfg->ca_file, and must name the URL's host (DNS name or IPv4
 * address).  There is no switch to turn this off.
 *
 * Process-wide effects of libwebsockets (not of this file): creating a
 * context sets SIGPIPE to SIG_IGN, and lws reads the http_proxy
 * environment variable (proxying every connection through it; no_proxy is
 * not honoured).  This file itself reads no environment variable and
 * prints nothing: lws's own log lines go to cfg->lws_log, filtered by
 * cfg->lws_log_level (nothing by default).
 *
 * Blocking parts: the name lookup inside lws (this lws has no async DNS)
 * and, after a failed TCP connect, a diagnostic reconnect of at most 2 s
 * (lws does not report errno); neither looks at *stop or the deadline.
 */
#ifndef CL_WA_CONN_H
#define CL_WA_CONN_H

#include <stddef.h>
#include <stdint.h>

#define CL_WA_CONN_MAX_MESSAGE_DEFAULT (16u << 20) /* 16 MiB, as whatsmeow */
#define CL_WA_CONN_TIMEOUT_DEFAULT 20000u          /* ms */
#define CL_WA_CONN_TICK_DEFAULT 1000u              /* ms */
#define CL_WA_CONN_SEND_MAX (256u << 20)           /* one outbound message */

/* Bits of cl_wa_conn_cfg.lws_log_level: libwebsockets' LLL_ERR, LLL_WARN,
 * LLL_NOTICE (the same values; other lws bits pass through as they are). */
#define CL_WA_LWS_LOG_ERR 1u
#define CL_WA_LWS_LOG_WARN 2u
#define CL_WA_LWS_LOG_NOTICE 4u
#define CL_WA_LWS_LOG_MAX 0xffffu                  /* every lws bit */

struct cl_wa_conn_cfg {
	const char *url;          /* wss://host[:port]/path (ws:// refused
	                             unless allow_insecure); IPv6 literals and
	                             user@ are refused */
	const char *origin;       /* Origin header sent verbatim, e.g.
	                             "https://web.whatsapp.com"; NULL or "":
	                             none */
	const char *ca_file;      /* extra trusted CA bundle (PEM), trusted in
	                             addition to the system store; NULL: the
	                             system store only */
	int allow_insecure;       /* tests only: accept ws:// */
	unsigned connect_timeout_ms;  /* TCP + TLS + WebSocket upgrade deadline;
	                                 0: CL_WA_CONN_TIMEOUT_DEFAULT */
	size_t max_message;       /* largest inbound WebSocket message;
	                             0: CL_WA_CONN_MAX_MESSAGE_DEFAULT */
	/* libwebsockets' own log, for debugging the transport:
	 * lws_log_level is an lws log-level bitmask (CL_WA_LWS_LOG_*; 0, the
	 * default, logs nothing; bits above CL_WA_LWS_LOG_MAX are ignored).
	 * Each line lws emits at those levels is handed to
	 * lws_log(log_ctx, level, line) verbatim: lws's timestamp and level
	 * letter first, usually a newline last.  Called only on the thread
	 * running cl_wa_conn_run(), during the call; lws_log NULL: nothing. */
	unsigned lws_log_level;
	void (*lws_log)(void *log_ctx, int level, const char *line);
	void *log_ctx;
};

struct cl_wa_conn;            /* opaque; lives for one cl_wa_conn_run() */

/*
 * The callbacks.  Any of them may be NULL.  `c` is valid only during the
 * call.  A non-zero return asks for the same clean close as
 * cl_wa_conn_close(): queued messages are flushed, then a close frame
 * (1000) is sent, and cl_wa_conn_run() returns CL_OK.  Once a close was
 * asked for (or an inbound message was refused), no op is called again.
 */
struct cl_wa_conn_ops {
	/* WebSocket established. */
	int (*on_open)(void *ctx, struct cl_wa_conn *c);
	/* One complete inbound binary message (reassembled from its
	 * fragments; p is valid only during the call; len may be 0).
	 * Messages arriving after a close was asked for are dropped; a text
	 * message or one over max_message ends the connection (CL_EIO). */
	int (*on_data)(void *ctx, struct cl_wa_conn *c, const unsigned char *p,
		       size_t len);
	/* About every tick_ms while connecting or connected; now_ms is the
	 * wall clock (CLOCK_REALTIME) in milliseconds, as client.h expects. */
	int (*on_tick)(void *ctx, struct cl_wa_conn *c, int64_t now_ms);
};

/*
 * Connect to cfg->url and run the event loop until the connection ends:
 * the peer closes or drops it, an error, the connect deadline, an op
 * returning non-zero, cl_wa_conn_close(), or *stop becoming non-zero
 * (stop may be NULL; it is checked after every event-loop wake-up, so a
 * signal handler setting it is seen at once, and at least every tick).
 * tick_ms 0 means CL_WA_CONN_TICK_DEFAULT.
 *
 * Returns CL_OK after a close we asked for (op, cl_wa_conn_close(),
 * *stop; also when that happens before the connection is up), once the
 * queue was written; CL_EIO when the connection failed or ended
 * otherwise, with a one-line reason in *err, e.g.
 *   "dns: example.invalid: Name or service not known"
 *   "connect: connection refused"
 *   "connect: timed out after 20000 ms" (also "tls: ...", "websocket
 *     upgrade: ..." for the later stages of connecting)
 *   "tls: certificate verify failed: unable to get local issuer
 *     certificate" (or "... hostname mismatch", "... certificate has
 *     expired", ...)
 *   "websocket upgrade: server answered HTTP 403"
 *   "closed by peer (code 4001: reason)", "closed by peer (no status)"
 *   "connection lost (no close frame)", "connection lost (write:
 *     connection reset by peer)", "connection lost with N bytes unsent"
 *   "websocket: inbound message exceeds 16777216 bytes"
 *   "websocket: text message received (binary expected)";
 * CL_EINVAL for a bad cfg (bad URL, unreadable ca_file, ...) with *err
 * saying which; CL_ENOMEM.  *err (if err is non-NULL) is set on every
 * failure and freed by the caller with free().  A close we ask for waits
 * at most about 5 s for the peer's close frame (10 s in all).  Never
 * leaves anything allocated or running behind.
 */
int cl_wa_conn_run(const struct cl_wa_conn_cfg *cfg,
		   const struct cl_wa_conn_ops *ops, void *ctx,
		   unsigned tick_ms, volatile int *stop, char **err);

/*
 * Queue `len` bytes (copied; len may be 0) as ONE binary WebSocket
 * message, written when the socket is writable, in queue order.  Sending
 * before on_open is allowed: the message waits for the connection.
 * CL_EINVAL once a close was asked for or the connection is over, or
 * when len exceeds CL_WA_CONN_SEND_MAX; CL_ENOMEM.
 */
int cl_wa_conn_send(struct cl_wa_conn *c, const void *p, size_t len);

/*
 * Ask for a clean close: flush the queue, then send a close frame (1000,
 * with `why`, truncated to 123 bytes, as its reason; NULL: none) and wait
 * briefly for the peer's answer.  Later calls change nothing.
 */
void cl_wa_conn_close(struct cl_wa_conn *c, const char *why);

/* Bring the next on_tick forward to about `ms` from now (then every
 * tick_ms again): a caller holding work that must not wait a whole tick
 * (the collector's open ledger batch) asks for an early one.  Only from
 * the ops. */
void cl_wa_conn_tick_in(struct cl_wa_conn *c, unsigned ms);

/* Bytes of queued messages not yet handed to lws (what lws holds after a
 * partial socket write is not counted). */
size_t cl_wa_conn_pending(const struct cl_wa_conn *c);

/* 1 once the WebSocket is established (on_open has been called). */
int cl_wa_conn_is_open(const struct cl_wa_conn *c);

#endif
