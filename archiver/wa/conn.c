/*
 * conn.c - the collector's WebSocket-over-TLS transport, on libwebsockets
 * 4.1 (Debian 12).  See conn.h for the contract.
 *
 * Shape: cl_wa_conn_run() builds one lws context (no listener, one
 * protocol whose callback is conn_cb()), schedules lws_sul timers (the
 * tick, the connect deadline and, once closing, a grace limit), starts
 * one client connection and services the loop until that connection's
 * wsi is gone.  Outgoing messages wait in a FIFO of heap blocks that
 * already carry LWS_PRE bytes of headroom, and are written one per
 * WRITEABLE callback.  Every close we start goes through WRITEABLE
 * (lws_close_reason(), return -1) or, before the WebSocket is up, through
 * lws_set_timeout(LWS_TO_KILL_ASYNC).
 *
 * libwebsockets facts this file relies on (checked in the 4.1.6 source):
 *
 *  - lws_write() either sends everything or copies the unsent rest to the
 *    wsi's own buflist_out and returns the full length; it then flushes
 *    that before any further WRITEABLE callback reaches us.  So one
 *    lws_write() per WRITEABLE is enough and a partial write needs no
 *    bookkeeping here.  Each socket write is capped at tx_packet_size.
 *  - The client masks the payload in place and writes the frame header
 *    into the LWS_PRE bytes before it: the buffer must be ours and
 *    writable.
 *  - A connection failure is reported as a fixed string ("Unable to
 *    connect") without errno, and not at all (the call just returns NULL)
 *    when it happens inside lws_client_connect_via_info(), as a refused
 *    loopback connect does.  conn_probe() finds out the real reason.
 *  - Certificate problems arrive as an OpenSSL error string; the
 *    X509_V_ERR code comes from LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_
 *    VERIFICATION, which we watch without changing its verdict.
 *  - ccinfo.origin is sent as "Origin: http://<origin>" unless the
 *    context has LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN.
 *  - With no CA file given, lws adds the relative directory "../share"
 *    (LWS_OPENSSL_CLIENT_CERTS) to the trust store, i.e. relative to the
 *    current directory.  We always give it a file (the OpenSSL default
 *    bundle when the caller has none), which skips that.
 *  - The TLS hostname check uses the Host value cut at its first ':'; an
 *    IPv6 literal would leave "" or "[", and "" turns the check off.
 *    IPv6 literals are therefore refused.
 *  - lws_service() runs the ripe timers and then polls until the next
 *    timer; a wsi killed by a timer is gone before that poll, so
 *    conn_gone() wakes the loop with lws_cancel_service().
 *  - Returning -1 from CLIENT_RECEIVE can make lws_service() spin forever
 *    (see conn_kill()); we never do.
 *  - Each context creation registers new SSL ex_data indexes
 *    (LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT, required for client TLS) that
 *    are never released: a few bytes per connection, by design of lws.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "conn.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define CONN_PROTOCOL "cl-wa"
#define CONN_HOST_MAX 100       /* lws formats "Host: %s" into 128 bytes */
#define CONN_PATH_MAX 1024
#define CONN_ORIGIN_MAX 100     /* likewise "Origin: %s" */
#define CONN_CLOSE_REASON_MAX 123  /* a close frame's reason text */
#define CONN_PROBE_MS 2000      /* longest we spend finding out why */
#define CONN_IO_CHUNK 65536     /* rx buffer and tx packet size */
#define CONN_GRACE_MS 10000     /* a close may take this long (lws waits
				   5 s for the peer's close frame) */

/* ---- state ------------------------------------------------------------- */

/* One queued outbound message: LWS_PRE bytes of headroom, then len bytes. */
struct conn_msg {
	struct conn_msg *next;
	size_t len;
	unsigned char data[];
};

enum conn_phase {
	CONN_PH_TCP,      /* resolving, connecting */
	CONN_PH_TLS,      /* TCP up, TLS handshake */
	CONN_PH_UPGRADE,  /* HTTP upgrade request sent */
	CONN_PH_OPEN      /* WebSocket established */
};

struct conn_url {
	int secure;
	char host[CONN_HOST_MAX + 1];        /* what we connect to */
	char hosthdr[CONN_HOST_MAX + 8];     /* host or host:port */
	int port;
	char path[CONN_PATH_MAX + 1];
};

struct cl_wa_conn {
	const struct cl_wa_conn_ops *ops;
	void *ctx;
	volatile int *stop;
	const struct conn_url *url;
	struct lws_context *lws;
	struct lws *wsi;               /* NULL once lws is done with it */
	lws_sorted_usec_list_t sul_tick;
	lws_sorted_usec_list_t sul_deadline;
	lws_sorted_usec_list_t sul_grace;
	unsigned tick_ms;
	unsigned timeout_ms;
	struct timespec started;       /* CLOCK_MONOTONIC */
	enum conn_phase phase;
	int done;                      /* the connection is over */
	int destroying;                /* inside lws_context_destroy() */
	int close_asked;               /* by us: op, close(), *stop, kill */
	enum lws_close_status kill_code;  /* non-zero: close at once with it */
	char close_why[CONN_CLOSE_REASON_MAX + 1];
	size_t close_why_len;
	int rc;                        /* failure code once reason[] is set */
	char reason[256];              /* the first failure, one line */
	/* inbound */
	size_t max_message;
	struct cl_buf rx;              /* fragments of the current message */
	int rx_in_msg;
	int rx_binary;
	/* outbound */
	struct conn_msg *q_head, *q_tail;
	size_t pending;
	/* diagnostics */
	int verify_err;                /* first X509_V_ERR seen, 0: none */
	int peer_closed;
	int peer_code;                 /* -1: close frame without status */
	char peer_reason[CONN_CLOSE_REASON_MAX + 1];
};

static const char *conn_phase_name(enum conn_phase ph)
{
	switch (ph) {
	case CONN_PH_TCP:
		return "connect";
	case CONN_PH_TLS:
		return "tls";
	case CONN_PH_UPGRADE:
		return "websocket upgrade";
	case CONN_PH_OPEN:
		break;
	}
	return "websocket";
}

/* Copy at most dstlen - 1 bytes of src, printable ASCII only. */
static size_t conn_copy_printable(char *dst, size_t dstlen, const void *src,
				  size_t srclen)
{
	const unsigned char *s = src;
	size_t i, n = 0;

	for (i = 0; i < srclen && n + 1 < dstlen; i++)
		dst[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : ' ';
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	if (dstlen)
		dst[n] = '\0';
	return n;
}

/* strerror(e), thread-safe, with a lower-case first letter. */
static const char *conn_strerror(int e, char *buf, size_t len)
{
	/* GNU strerror_r may return a static string instead of buf */
	const char *msg = strerror_r(e, buf, len);
	size_t n = conn_copy_printable(buf, len, msg, strlen(msg));

	if (n && buf[0] >= 'A' && buf[0] <= 'Z')
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* Record the first failure: code and a one-line reason. */
static void conn_fail(struct cl_wa_conn *c, int rc, const char *fmt, ...)
	CL_PRINTF_LIKE(3, 4);

static void conn_fail(struct cl_wa_conn *c, int rc, const char *fmt, ...)
{
	char tmp[sizeof(c->reason)];
	va_list ap;

	if (c->reason[0])
		return;
	va_start(ap, fmt);
	(void)cl_vfmt(tmp, sizeof(tmp), fmt, ap);  /* cut if too long */
	va_end(ap);
	conn_copy_printable(c->reason, sizeof(c->reason), tmp, strlen(tmp));
	if (!c->reason[0])
		conn_copy_printable(c->reason, sizeof(c->reason), "failed", 6);
	c->rc = rc;
}

static int64_t conn_elapsed_ms(const struct cl_wa_conn *c)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - c->started.tv_sec) * 1000 +
	       (now.tv_nsec - c->started.tv_nsec) / 1000000;
}

static int64_t conn_wall_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* ---- asking for a close ------------------------------------------------ */

/*
 * The last resort: a connection we are closing that lws has not finished
 * with after CONN_GRACE_MS is abandoned (lws_context_destroy() then frees
 * it).  Never needed in the tests; it bounds cl_wa_conn_run() should lws
 * lose track of a closing wsi.
 */
static void conn_grace_cb(lws_sorted_usec_list_t *sul)
{
	struct cl_wa_conn *c = lws_container_of(sul, struct cl_wa_conn,
						sul_grace);

	if (c->done || c->destroying)
		return;
	c->done = 1;
	lws_cancel_service(c->lws);
}

static void conn_arm_grace(struct cl_wa_conn *c)
{
	if (c->lws && !c->destroying)
		lws_sul_schedule(c->lws, 0, &c->sul_grace, conn_grace_cb,
				 (lws_usec_t)CONN_GRACE_MS * LWS_US_PER_MS);
}

/*
 * Remember that we want to close and get lws moving: an open WebSocket
 * gets a WRITEABLE callback (which flushes the queue, then closes); a
 * connection still being set up is killed at the next service.
 */
static void conn_request_close(struct cl_wa_conn *c, const char *why)
{
	if (c->close_asked || c->done)
		return;
	c->close_asked = 1;
	c->close_why_len = why ? conn_copy_printable(c->close_why,
						     sizeof(c->close_why), why,
						     strlen(why)) : 0;
	if (!c->wsi || c->destroying)
		return;
	conn_arm_grace(c);
	if (c->phase == CONN_PH_OPEN)
		lws_callback_on_writable(c->wsi);
	else
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_ASYNC);
}

static void conn_check_stop(struct cl_wa_conn *c)
{
	if (c->stop && *c->stop)
		conn_request_close(c, "stopping");
}

/* ---- timers ------------------------------------------------------------ */

static void conn_tick_cb(lws_sorted_usec_list_t *sul)
{
	struct cl_wa_conn *c = lws_container_of(sul, struct cl_wa_conn,
						sul_tick);

	if (c->done || c->destroying)
		return;
	conn_check_stop(c);
	if (!c->close_asked && c->ops->on_tick &&
	    c->ops->on_tick(c->ctx, c, conn_wall_ms()))
		conn_request_close(c, NULL);
	lws_sul_schedule(c->lws, 0, &c->sul_tick, conn_tick_cb,
			 (lws_usec_t)c->tick_ms * LWS_US_PER_MS);
}

static void conn_deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct cl_wa_conn *c = lws_container_of(sul, struct cl_wa_conn,
						sul_deadline);

	if (c->done || c->destroying || c->close_asked ||
	    c->phase == CONN_PH_OPEN)
		return;
	conn_fail(c, CL_EIO, "%s: timed out after %u ms",
		  conn_phase_name(c->phase), c->timeout_ms);
	if (c->wsi) {
		conn_arm_grace(c);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_ASYNC);
	}
}

/* ---- why did the connection fail? -------------------------------------- */

/*
 * Connect to one address, waiting at most ms milliseconds.  Returns 0 when
 * the connection was made (and closed again), else the errno.
 */
static int conn_probe_one(const struct addrinfo *ai, int ms)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, e = 0, n;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return errno ? errno : EIO;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		goto out;
	e = errno;
	if (e != EINPROGRESS)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	pfd.revents = 0;
	do
		n = poll(&pfd, 1, ms);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		e = ETIMEDOUT;
		goto out;
	}
	e = 0;
	if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
		e = errno ? errno : EIO;
out:
	close(fd);
	return e;
}

/*
 * lws reported that the TCP connection failed, without errno.  Resolve and
 * connect once more, ourselves, to put a reason like "connection refused"
 * into the message.
 */
static void conn_probe(struct cl_wa_conn *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8], ebuf[128];
	int64_t left;
	int rc, e = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	(void)cl_fmt(port, sizeof(port), "%d", c->url->port);
	rc = getaddrinfo(c->url->host, port, &hints, &res);
	if (rc != 0) {
		const char *why = rc == EAI_SYSTEM
			? conn_strerror(errno, ebuf, sizeof(ebuf))
			: gai_strerror(rc);

		conn_fail(c, CL_EIO, "dns: %s: %s", c->url->host, why);
		return;
	}
	left = (int64_t)c->timeout_ms - conn_elapsed_ms(c);
	if (left > CONN_PROBE_MS)
		left = CONN_PROBE_MS;
	for (ai = res; ai && left > 0; ai = ai->ai_next) {
		int64_t t0 = conn_elapsed_ms(c);
		int one = conn_probe_one(ai, (int)left);

		if (one == 0) {
			e = 0;
			break;
		}
		if (e == 0)
			e = one;        /* the first address's error */
		left -= conn_elapsed_ms(c) - t0;
	}
	freeaddrinfo(res);
	if (e == 0) {
		conn_fail(c, CL_EIO, "connect: %s:%d: connection failed",
			  c->url->host, c->url->port);
		return;
	}
	conn_fail(c, CL_EIO, "connect: %s",
		  conn_strerror(e, ebuf, sizeof(ebuf)));
}

/* Turn lws's CONNECTION_ERROR (or a NULL connect) into our reason. */
static void conn_classify_failure(struct cl_wa_conn *c, struct lws *wsi,
				  const char *lws_why, size_t len)
{
	char why[160];
	int status;

	if (c->close_asked || c->reason[0])
		return;
	conn_copy_printable(why, sizeof(why), lws_why ? lws_why : "",
			    lws_why ? len : 0);
	switch (c->phase) {
	case CONN_PH_TCP:
		conn_probe(c);
		break;
	case CONN_PH_TLS:
		if (c->verify_err)
			conn_fail(c, CL_EIO, "tls: certificate verify failed: %s",
				  X509_verify_cert_error_string(c->verify_err));
		else
			conn_fail(c, CL_EIO, "tls: handshake failed (%s)",
				  why[0] ? why : "no detail");
		break;
	case CONN_PH_UPGRADE:
		status = wsi ? (int)lws_http_client_http_response(wsi) : 0;
		if (status && status != 101)
			conn_fail(c, CL_EIO,
				  "websocket upgrade: server answered HTTP %d",
				  status);
		else
			conn_fail(c, CL_EIO, "websocket upgrade: %s",
				  why[0] ? why : "failed");
		break;
	case CONN_PH_OPEN:
		conn_fail(c, CL_EIO, "websocket: %s", why[0] ? why : "failed");
		break;
	}
}

/* ---- inbound ----------------------------------------------------------- */

/*
 * Give up on the connection from inside RECEIVE: the reason is already
 * recorded; stop calling the ops and have the next WRITEABLE send a close
 * frame with `code`.  (Returning -1 from RECEIVE instead makes lws 4.1.6
 * spin forever inside lws_service() when the offending data arrived in
 * the same read as the 101 response and more TLS data is pending.)
 */
static void conn_kill(struct cl_wa_conn *c, struct lws *wsi,
		      enum lws_close_status code, const char *frame_why)
{
	c->kill_code = code;
	c->close_why_len = conn_copy_printable(c->close_why,
					       sizeof(c->close_why), frame_why,
					       strlen(frame_why));
	c->close_asked = 1;
	conn_arm_grace(c);
	lws_callback_on_writable(wsi);
}

static void conn_deliver(struct cl_wa_conn *c, const unsigned char *p,
			 size_t len)
{
	static const unsigned char empty[1];

	if (c->close_asked || !c->ops->on_data)
		return;
	if (c->ops->on_data(c->ctx, c, p ? p : empty, len))
		conn_request_close(c, NULL);
}

static void conn_rx_reset(struct cl_wa_conn *c)
{
	c->rx_in_msg = 0;
	/* keep a modest buffer for the next message, not a huge one */
	if (c->rx.alloc > CONN_IO_CHUNK * 4)
		cl_buf_release(&c->rx);
	else
		cl_buf_reset(&c->rx);
}

/*
 * One chunk of an inbound message: lws hands messages over in pieces of
 * at most rx_buffer_size, and each WebSocket fragment separately; the
 * message is complete when lws_is_final_fragment() says so.
 */
static int conn_on_receive(struct cl_wa_conn *c, struct lws *wsi,
			   const unsigned char *in, size_t len)
{
	int final = lws_is_final_fragment(wsi);

	if (c->close_asked)
		return 0;     /* we are closing: drop */
	if (!c->rx_in_msg) {
		c->rx_in_msg = 1;
		c->rx_binary = lws_frame_is_binary(wsi);
	}
	if (!c->rx_binary) {
		conn_fail(c, CL_EIO, "websocket: text message received "
			  "(binary expected)");
		conn_kill(c, wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
			  "binary messages only");
		return 0;
	}
	if (len > c->max_message - c->rx.len) {
		conn_fail(c, CL_EIO, "websocket: inbound message exceeds %zu "
			  "bytes", c->max_message);
		conn_kill(c, wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
			  "message too big");
		return 0;
	}
	if (final && c->rx.len == 0) {
		/* the whole message in one piece: no copy */
		c->rx_in_msg = 0;
		conn_deliver(c, in, len);
		return 0;
	}
	if (cl_buf_add(&c->rx, in, len) != CL_OK) {
		conn_fail(c, CL_ENOMEM, "websocket: out of memory reassembling "
			  "a message");
		conn_kill(c, wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
			  "out of memory");
		return 0;
	}
	if (final) {
		conn_deliver(c, c->rx.data, c->rx.len);
		conn_rx_reset(c);
	}
	return 0;
}

static void conn_on_peer_close(struct cl_wa_conn *c, const unsigned char *in,
			       size_t len)
{
	c->peer_closed = 1;
	c->peer_code = -1;
	if (in && len >= 2) {
		c->peer_code = (in[0] << 8) | in[1];
		conn_copy_printable(c->peer_reason, sizeof(c->peer_reason),
				    in + 2, len - 2);
	}
}

/* ---- outbound ---------------------------------------------------------- */

static int conn_on_writeable(struct cl_wa_conn *c, struct lws *wsi)
{
	struct conn_msg *m = c->q_head;

	if (c->kill_code) {
		lws_close_reason(wsi, c->kill_code,
				 (unsigned char *)c->close_why,
				 c->close_why_len);
		return -1;
	}
	if (m) {
		int n, e;

		c->q_head = m->next;
		if (!c->q_head)
			c->q_tail = NULL;
		c->pending -= m->len;
		errno = 0;
		n = lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_BINARY);
		e = errno;
		free(m);
		if (n < 0) {
			char ebuf[96];

			conn_fail(c, CL_EIO, "connection lost (write: %s)",
				  e ? conn_strerror(e, ebuf, sizeof(ebuf))
				    : "failed");
			return -1;
		}
		if (c->q_head || c->close_asked)
			lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_asked) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL,
				 (unsigned char *)c->close_why,
				 c->close_why_len);
		return -1;
	}
	return 0;
}

static void conn_queue_free(struct cl_wa_conn *c)
{
	while (c->q_head) {
		struct conn_msg *m = c->q_head;

		c->q_head = m->next;
		free(m);
	}
	c->q_tail = NULL;
	c->pending = 0;
}

/* ---- the lws callback -------------------------------------------------- */

/*
 * Our wsi is finished.  lws may still be about to poll until the next
 * timer (a kill done by a timer is serviced just before the poll), so
 * wake the loop to let cl_wa_conn_run() see `done` at once.
 */
static void conn_gone(struct cl_wa_conn *c, const struct lws *wsi)
{
	if (c->wsi != wsi && c->wsi)
		return;
	c->wsi = NULL;
	if (!c->done && !c->destroying && c->lws)
		lws_cancel_service(c->lws);
	c->done = 1;
}

static int conn_cb(struct lws *wsi, enum lws_callback_reasons reason,
		   void *user, void *in, size_t len)
{
	struct cl_wa_conn *c = user;

	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
		/* user is the X509_STORE_CTX here; len is preverify_ok */
		c = wsi ? lws_wsi_user(wsi) : NULL;
		if (c && !len && !c->verify_err)
			c->verify_err = X509_STORE_CTX_get_error(user);
		return 0;   /* keep OpenSSL's verdict */
	}
	if (!c)
		return 0;   /* context- and vhost-level callbacks */

	switch (reason) {
	case LWS_CALLBACK_WSI_CREATE:
		/* for a client wsi: the TCP connection is up */
		if (c->phase == CONN_PH_TCP)
			c->phase = c->url->secure ? CONN_PH_TLS
						  : CONN_PH_UPGRADE;
		break;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		c->phase = CONN_PH_UPGRADE;   /* TLS is done */
		break;
	case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
		if (!c->close_asked) {
			char loc[128];

			conn_copy_printable(loc, sizeof(loc), in ? in : "",
					    in ? strlen(in) : 0);
			conn_fail(c, CL_EIO, "websocket upgrade: server "
				  "redirects (HTTP %zu) to %s", len, loc);
		}
		return 1;   /* never follow */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		conn_classify_failure(c, wsi, in, in ? strlen(in) : 0);
		conn_gone(c, wsi);
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->phase = CONN_PH_OPEN;
		lws_sul_cancel(&c->sul_deadline);
		if (!c->close_asked && c->ops->on_open &&
		    c->ops->on_open(c->ctx, c))
			conn_request_close(c, NULL);
		if (c->q_head || c->close_asked)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (c->destroying)
			return 0;
		return conn_on_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (c->destroying)
			return -1;
		return conn_on_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		conn_on_peer_close(c, in, len);
		break;          /* 0: lws echoes the close frame */
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		conn_gone(c, wsi);
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols conn_protocols[] = {
	{ CONN_PROTOCOL, conn_cb, 0, CONN_IO_CHUNK, 0, NULL, CONN_IO_CHUNK },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- setup ------------------------------------------------------------- */

_Static_assert(CL_WA_LWS_LOG_ERR == LLL_ERR &&
	       CL_WA_LWS_LOG_WARN == LLL_WARN &&
	       CL_WA_LWS_LOG_NOTICE == LLL_NOTICE,
	       "conn.h's log bits are lws's");

/*
 * Where lws's log lines go.  lws has a single, process-wide emit
 * function without a context pointer, and calls it on the thread that
 * services the context, i.e. the one inside cl_wa_conn_run(): so each
 * such thread keeps its own sink, set for the duration of the call.
 */
static _Thread_local void (*conn_log_fn)(void *ctx, int level,
					 const char *line);
static _Thread_local void *conn_log_ctx;

static void conn_lws_log(int level, const char *line)
{
	if (conn_log_fn)
		conn_log_fn(conn_log_ctx, level, line);
}

/* Route lws's log to cfg->lws_log at cfg->lws_log_level (or nowhere). */
static void conn_setup_logging(const struct cl_wa_conn_cfg *cfg)
{
	unsigned level = cfg->lws_log ? cfg->lws_log_level & CL_WA_LWS_LOG_MAX
				      : 0;

	conn_log_fn = cfg->lws_log;
	conn_log_ctx = cfg->log_ctx;
	lws_set_log_level((int)level, conn_lws_log);
}

static int conn_host_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
}

/* Split cfg->url into u.  CL_EINVAL with a message for anything odd. */
static int conn_parse_url(const struct cl_wa_conn_cfg *cfg,
			  struct conn_url *u, char **err)
{
	const char *s = cfg->url, *h, *e;
	size_t i, n;

	memset(u, 0, sizeof(*u));
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return cl_error(err, CL_EINVAL, "url: contains spaces or "
					"non-ASCII characters");
	if (strncasecmp(s, "wss://", 6) == 0) {
		u->secure = 1;
		u->port = 443;
		h = s + 6;
	} else if (strncasecmp(s, "ws://", 5) == 0) {
		if (!cfg->allow_insecure)
			return cl_error(err, CL_EINVAL, "url: %s: ws:// refused "
					"(wss:// required)", s);
		u->port = 80;
		h = s + 5;
	} else {
		return cl_error(err, CL_EINVAL, "url: %s: not a wss:// URL", s);
	}
	if (*h == '[')
		return cl_error(err, CL_EINVAL, "url: %s: IPv6 literal hosts are "
				"not supported", s);
	e = h + strcspn(h, ":/?#@");
	if (*e == '@' || memchr(h, '@', strcspn(h, "/?#")))
		return cl_error(err, CL_EINVAL, "url: %s: user info is not "
				"supported", s);
	n = (size_t)(e - h);
	if (n == 0 || n > CONN_HOST_MAX)
		return cl_error(err, CL_EINVAL, "url: %s: bad host", s);
	for (i = 0; i < n; i++)
		if (!conn_host_char(h[i]))
			return cl_error(err, CL_EINVAL, "url: %s: bad host", s);
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (*e == ':') {
		long port = 0;

		e++;
		for (i = 0; e[i] >= '0' && e[i] <= '9' && i < 6; i++)
			port = port * 10 + (e[i] - '0');
		if (i == 0 || port < 1 || port > 65535 ||
		    (e[i] && e[i] != '/' && e[i] != '?'))
			return cl_error(err, CL_EINVAL, "url: %s: bad port", s);
		u->port = (int)port;
		e += i;
	}
	if (*e == '#')
		return cl_error(err, CL_EINVAL, "url: %s: fragments are not "
				"allowed", s);
	if (strchr(e, '#'))
		return cl_error(err, CL_EINVAL, "url: %s: fragments are not "
				"allowed", s);
	n = strlen(e);
	if (n + 1 > CONN_PATH_MAX)
		return cl_error(err, CL_EINVAL, "url: path too long");
	if (*e == '/') {
		memcpy(u->path, e, n + 1);
	} else {   /* "" or "?query" */
		u->path[0] = '/';
		memcpy(u->path + 1, e, n + 1);
	}
	if (u->port == (u->secure ? 443 : 80))
		(void)cl_fmt(u->hosthdr, sizeof(u->hosthdr), "%s", u->host);
	else
		(void)cl_fmt(u->hosthdr, sizeof(u->hosthdr), "%s:%d", u->host,
			     u->port);
	return CL_OK;
}

static int conn_check_cfg(const struct cl_wa_conn_cfg *cfg, char **err)
{
	FILE *f;
	X509 *x;

	if (cfg->origin) {
		size_t i;

		if (strlen(cfg->origin) > CONN_ORIGIN_MAX)
			return cl_error(err, CL_EINVAL, "origin: longer than %d "
					"bytes", CONN_ORIGIN_MAX);
		for (i = 0; cfg->origin[i]; i++)
			if ((unsigned char)cfg->origin[i] < 0x20 ||
			    (unsigned char)cfg->origin[i] >= 0x7f)
				return cl_error(err, CL_EINVAL, "origin: control "
						"or non-ASCII characters");
	}
	if (!cfg->ca_file)
		return CL_OK;
	/* lws would only log a bad CA file and go on without it */
	f = fopen(cfg->ca_file, "r");
	if (!f) {
		char ebuf[96];

		return cl_error(err, CL_EINVAL, "ca file %s: %s", cfg->ca_file,
				conn_strerror(errno, ebuf, sizeof(ebuf)));
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	if (!x)
		return cl_error(err, CL_EINVAL, "ca file %s: no PEM certificate",
				cfg->ca_file);
	X509_free(x);
	return CL_OK;
}

/* The final verdict, once the connection is over. */
static int conn_result(const struct cl_wa_conn *c, char **err)
{
	if (c->reason[0])
		return cl_error(err, c->rc, "%s", c->reason);
	if (c->close_asked && c->pending)
		return cl_error(err, CL_EIO, "connection lost with %zu bytes "
				"unsent", c->pending);
	if (c->close_asked)
		return CL_OK;
	if (c->peer_closed && c->peer_code < 0)
		return cl_error(err, CL_EIO, "closed by peer (no status)");
	if (c->peer_closed)
		return cl_error(err, CL_EIO, "closed by peer (code %d%s%s)",
				c->peer_code, c->peer_reason[0] ? ": " : "",
				c->peer_reason);
	if (c->phase == CONN_PH_OPEN)
		return cl_error(err, CL_EIO, "connection lost (no close frame)");
	return cl_error(err, CL_EIO, "%s: connection failed",
			conn_phase_name(c->phase));
}

/* ---- public API -------------------------------------------------------- */

int cl_wa_conn_run(const struct cl_wa_conn_cfg *cfg,
		   const struct cl_wa_conn_ops *ops, void *ctx,
		   unsigned tick_ms, volatile int *stop, char **err)
{
	static const struct cl_wa_conn_ops no_ops;
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct conn_url *u = NULL;
	struct cl_wa_conn *c = NULL;
	unsigned secs;
	int rc;

	if (!cfg || !cfg->url)
		return cl_error(err, CL_EINVAL, "url: missing");
	u = malloc(sizeof(*u));
	c = calloc(1, sizeof(*c));
	if (!u || !c) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	rc = conn_parse_url(cfg, u, err);
	if (rc == CL_OK)
		rc = conn_check_cfg(cfg, err);
	if (rc)
		goto out;
	if (stop && *stop)
		goto out;    /* CL_OK: stopped before we began */

	c->ops = ops ? ops : &no_ops;
	c->ctx = ctx;
	c->stop = stop;
	c->url = u;
	c->tick_ms = tick_ms ? tick_ms : CL_WA_CONN_TICK_DEFAULT;
	c->timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms
						: CL_WA_CONN_TIMEOUT_DEFAULT;
	c->max_message = cfg->max_message ? cfg->max_message
					  : CL_WA_CONN_MAX_MESSAGE_DEFAULT;
	c->phase = CONN_PH_TCP;
	cl_buf_init(&c->rx, c->max_message);
	clock_gettime(CLOCK_MONOTONIC, &c->started);

	conn_setup_logging(cfg);
	/* lws's own connect timeouts: later than ours, as a backstop */
	secs = c->timeout_ms / 1000 + 2;
	if (secs < 20)
		secs = 20;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = conn_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	info.client_ssl_ca_filepath = cfg->ca_file
		? cfg->ca_file : X509_get_default_cert_file();
	info.timeout_secs = secs;
	info.connect_timeout_secs = secs;
	info.fd_limit_per_thread = 64;
	info.user = c;
	c->lws = lws_create_context(&info);
	if (!c->lws) {
		rc = cl_error(err, CL_EIO, "lws: cannot create a context");
		goto out;
	}
	lws_sul_schedule(c->lws, 0, &c->sul_tick, conn_tick_cb,
			 (lws_usec_t)c->tick_ms * LWS_US_PER_MS);
	lws_sul_schedule(c->lws, 0, &c->sul_deadline, conn_deadline_cb,
			 (lws_usec_t)c->timeout_ms * LWS_US_PER_MS);

	memset(&ci, 0, sizeof(ci));
	ci.context = c->lws;
	ci.address = u->host;
	ci.port = u->port;
	ci.ssl_connection = u->secure ? LCCSCF_USE_SSL : 0;
	ci.path = u->path;
	ci.host = u->hosthdr;
	ci.origin = cfg->origin && *cfg->origin ? cfg->origin : NULL;
	ci.ietf_version_or_minus_one = -1;
	ci.userdata = c;
	ci.pwsi = &c->wsi;
	ci.local_protocol_name = CONN_PROTOCOL;
	ci.alpn = "http/1.1";
	if (!lws_client_connect_via_info(&ci)) {
		/* failed inside the call; lws reported nothing */
		conn_classify_failure(c, NULL, NULL, 0);
		c->wsi = NULL;
		c->done = 1;
	}
	while (!c->done) {
		conn_check_stop(c);
		if (lws_service(c->lws, 0) < 0) {
			conn_fail(c, CL_EIO, "lws: event loop failed");
			break;
		}
	}
	rc = conn_result(c, err);
out:
	if (c) {
		if (c->lws) {
			c->destroying = 1;
			lws_sul_cancel(&c->sul_tick);
			lws_sul_cancel(&c->sul_deadline);
			lws_sul_cancel(&c->sul_grace);
			lws_context_destroy(c->lws);
		}
		conn_log_fn = NULL;   /* the call is over */
		conn_log_ctx = NULL;
		conn_queue_free(c);
		cl_buf_release(&c->rx);
		free(c);
	}
	free(u);
	return rc;
}

int cl_wa_conn_send(struct cl_wa_conn *c, const void *p, size_t len)
{
	struct conn_msg *m;

	if (!c || c->close_asked || c->done || c->destroying ||
	    len > CL_WA_CONN_SEND_MAX || (len && !p))
		return CL_EINVAL;
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return CL_ENOMEM;
	m->next = NULL;
	m->len = len;
	if (len)
		memcpy(m->data + LWS_PRE, p, len);
	if (c->q_tail)
		c->q_tail->next = m;
	else
		c->q_head = m;
	c->q_tail = m;
	c->pending += len;
	if (c->phase == CONN_PH_OPEN && c->wsi)
		lws_callback_on_writable(c->wsi);
	return CL_OK;
}

void cl_wa_conn_close(struct cl_wa_conn *c, const char *why)
{
	if (c)
		conn_request_close(c, why);
}

void cl_wa_conn_tick_in(struct cl_wa_conn *c, unsigned ms)
{
	if (c == NULL || c->done || c->destroying || ms >= c->tick_ms)
		return;
	lws_sul_schedule(c->lws, 0, &c->sul_tick, conn_tick_cb,
			 (lws_usec_t)ms * LWS_US_PER_MS);
}

size_t cl_wa_conn_pending(const struct cl_wa_conn *c)
{
	return c ? c->pending : 0;
}

int cl_wa_conn_is_open(const struct cl_wa_conn *c)
{
	return c && c->phase == CONN_PH_OPEN && !c->done;
}
