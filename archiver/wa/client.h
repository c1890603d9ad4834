/*
 * client.h - the linked-device protocol engine, without I/O.
 *
 * One cl_wa_client lives for one WebSocket connection.  The transport
 * calls cl_wa_client_start() when the socket opens, cl_wa_client_feed()
 * with every binary message received and cl_wa_client_tick() about once a
 * second; the engine answers through ops->send (one WebSocket message per
 * call) and reports what happened through ops->event.  It runs:
 *
 *   prologue + Noise XX handshake (noise.h), certificate chain (cert.h)
 *   -> registration payload, <pair-device> refs -> a QR per ref, rotated
 *      (first 60 s, then 20 s each), or with a phone number a pairing
 *      code (paircode.h) valid while the refs last; pair-success
 *      (pair.h) -> 515 restart
 *   -> or login payload -> <success> -> pre-key count, upload (812 the
 *      first time, 50 more when the server holds fewer than 5), passive
 *      <active/>, keepalive pings every 20-30 s (10 s to answer; 3 minutes
 *      of failures end the connection)
 *
 * and classifies every way a connection ends (cl_wa_client_end()), so the
 * collector knows whether to reconnect, wait, or stop and alert.
 *
 * Received <message> stanzas are reported (CL_WA_EV_MESSAGE) and not
 * acknowledged by the engine: the collector decrypts and commits them
 * (receive.h), then sends the receipt with cl_wa_client_send_node(); an
 * unacknowledged message stays queued on WhatsApp's side.
 */
#ifndef CL_WA_CLIENT_H
#define CL_WA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/payload.h"

struct cl_wa_client_cfg {
	struct cl_wa_client_info info;  /* user agent, version, device props */
	unsigned char root_pub[32];     /* certificate root (XEdDSA key) */
	char platform_id;               /* QR platform id: '1' Chrome, ... */
	unsigned ping_min_ms;           /* keepalive interval, random in */
	unsigned ping_max_ms;           /*   [min, max] (20000, 30000) */
	unsigned ping_timeout_ms;       /* answer deadline (10000) */
	unsigned ping_giveup_ms;        /* failing this long ends (180000) */
	unsigned handshake_timeout_ms;  /* 20000 */
	unsigned qr_first_ms;           /* first ref's lifetime (60000) */
	unsigned qr_next_ms;            /* each later ref's (20000) */
	const char *pairing_phone;      /* pair by code for this number
	                                   (digits) instead of QR; or NULL */
	const char *platform_display;   /* "Chrome (Linux)": code pairing */
};

/* Defaults as above; info and root_pub are left for the caller. */
void cl_wa_client_cfg_defaults(struct cl_wa_client_cfg *cfg);

enum cl_wa_event_type {
	CL_WA_EV_HANDSHAKE = 1, /* Noise done, certificate chain verified */
	CL_WA_EV_QR,            /* text: the QR string; ms: its lifetime */
	CL_WA_EV_PAIR_CODE,     /* text: the pairing code "ABCD-EFGH" to
	                           enter on the phone; ms: time left */
	CL_WA_EV_PAIRED,        /* creds now hold the account: persist them */
	CL_WA_EV_PAIR_REFUSED,  /* text: why; the error reply was sent */
	CL_WA_EV_LOGGED_IN,     /* <success>; ms: server clock offset */
	CL_WA_EV_CREDS_CHANGED, /* new pre-keys generated: persist before
	                           the upload goes out (it goes out after the
	                           event returns 0) */
	CL_WA_EV_PREKEYS,       /* count: pre-keys the server confirmed */
	CL_WA_EV_PING,          /* a keepalive was answered; ms: round trip */
	CL_WA_EV_STANZA,        /* any stanza (node) arrived */
	CL_WA_EV_MESSAGE,       /* a <message> (node), not yet acknowledged */
	CL_WA_EV_OFFLINE,       /* <ib><offline count>: count; replay done */
	CL_WA_EV_DEVICES,       /* our number's device list: node is the
	                           usync reply (text "usync", sent after
	                           login) or a <notification type=devices>
	                           (text "notification", acked) */
	CL_WA_EV_MEDIA_CONN,    /* the media hosts: node is the reply to
	                           <iq xmlns=w:m><media_conn/> (sent after
	                           login), holding <media_conn><host
	                           hostname=...>... */
	CL_WA_EV_GROUP,         /* a <notification type=w:gp2> (node), not
	                           acknowledged: the handler sends the ack
	                           of cl_wa_client_ack_node() once the
	                           change is archived */
	CL_WA_EV_OFFLINE_PREVIEW, /* <ib><offline_preview message=N ...>:
	                           count: the messages the server is about
	                           to replay (node: the whole preview) */
	CL_WA_EV_MEDIA_RETRY    /* a <notification type=mediaretry> (node):
	                           the phone's answer to a media retry
	                           request; acknowledged by the handler, as
	                           CL_WA_EV_GROUP */
};

struct cl_wa_event {
	enum cl_wa_event_type type;
	const char *text;
	int64_t ms;
	uint64_t count;
	const struct cl_wa_node *node;
};

/* How (and why) a connection ended or must end. */
enum cl_wa_end_kind {
	CL_WA_END_NONE = 0,
	CL_WA_END_RECONNECT,     /* drop, 503, stream end, keepalive: back off */
	CL_WA_END_RESTART,       /* 515 (after pairing): reconnect at once */
	CL_WA_END_LOGGED_OUT,    /* 401/403/406 or device_removed: delete the
	                            credentials, alert, stop */
	CL_WA_END_TEMP_BAN,      /* 402: wait until `expire` */
	CL_WA_END_OUTDATED,      /* 405: the version triple is too old */
	CL_WA_END_BAD_CLIENT,    /* 409: user agent refused */
	CL_WA_END_CONFLICT,      /* replaced: credentials in use elsewhere;
	                            never reconnect automatically */
	CL_WA_END_SERVER_REFUSED,/* handshake or certificate check failed */
	CL_WA_END_PAIR_REFUSED,  /* pair-success failed verification */
	CL_WA_END_QR_EXHAUSTED,  /* every ref expired: reconnect for more */
	CL_WA_END_PROTOCOL       /* the server sent something unusable */
};

struct cl_wa_end {
	enum cl_wa_end_kind kind;
	int code;               /* stream error or failure code, or 0 */
	int64_t expire;         /* 402: ban end (unix seconds), or 0 */
	char reason[160];       /* one line for logs and coverage entries */
};

/* A short stable name for an end kind ("logged-out", "conflict", ...). */
const char *cl_wa_end_name(enum cl_wa_end_kind kind);

struct cl_wa_client_ops {
	/* Send one WebSocket binary message.  Non-zero: close. */
	int (*send)(void *ctx, const unsigned char *p, size_t len);
	/* Non-zero: close (the end is CL_WA_END_PROTOCOL unless set). */
	int (*event)(void *ctx, const struct cl_wa_event *ev);
};

struct cl_wa_client;

/* creds is borrowed (and updated on pairing and pre-key generation). */
int cl_wa_client_new(struct cl_wa_client **out,
		     const struct cl_wa_client_cfg *cfg,
		     struct cl_wa_creds *creds,
		     const struct cl_wa_client_ops *ops, void *ctx);
void cl_wa_client_free(struct cl_wa_client *c);

/*
 * The three entry points return CL_OK to go on, or non-zero when the
 * connection must be closed; cl_wa_client_end() then says why.  The time
 * is the wall clock in milliseconds (certificate validity and the server
 * clock offset use it).
 */
int cl_wa_client_start(struct cl_wa_client *c, int64_t now_ms);
int cl_wa_client_feed(struct cl_wa_client *c, const unsigned char *p,
		      size_t len, int64_t now_ms);
int cl_wa_client_tick(struct cl_wa_client *c, int64_t now_ms);

/* Send one node on the open connection (receipts for the messages the
 * collector archived).  CL_OK, or non-zero when the connection must be
 * closed. */
int cl_wa_client_send_node(struct cl_wa_client *c, const struct cl_wa_node *n);

/* Record that the transport closed (why: a one-line reason). */
void cl_wa_client_closed(struct cl_wa_client *c, const char *why);

const struct cl_wa_end *cl_wa_client_end(const struct cl_wa_client *c);
/* 1 once logged in (<success> seen) on this connection. */
int cl_wa_client_logged_in(const struct cl_wa_client *c);

/* The <ack> for a received stanza n (class = its tag, id, to = its from,
 * participant, recipient and type copied) into *out (NULL when n has no
 * id or from); the caller frees it.  CL_ENOMEM. */
int cl_wa_client_ack_node(const struct cl_wa_node *n, struct cl_wa_node **out);

#endif
