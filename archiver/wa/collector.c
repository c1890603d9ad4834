/*
 * collector.c - pairing and collecting over a WebSocket (collector.h).
 *
 * Reports through the callbacks in cl_wa_collector_opts only; never
 * prints.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/config/config.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ingest/record.h"
#include "archiver/wa/client.h"
#include "archiver/wa/collector.h"
#include "archiver/wa/conn.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/devices.h"
#include "archiver/wa/qr.h"
#include "archiver/wa/receive.h"
#include "archiver/wa/status.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define TICK_MS 250
#define STATE_FLUSH_MS 5000

struct col {
	const struct cl_wa_collector_opts *o;
	struct cl_config cfg;
	struct cl_wa_client_cfg ccfg;
	const char *keyfile;          /* NULL: DIR/wa/creds.key */
	char *png;
	struct cl_wa_creds *creds;
	struct cl_wa_client *client;  /* the current connection's engine */
	json_t *state;                /* DIR/wa/state.json */
	int64_t state_flushed_at;
	int state_dirty;
	int pair_done;                /* pair mode: linked, logged in, keys up */
	int fatal;                    /* an event handler failed: stop */
	char *fatal_msg;
	unsigned qr_rounds;
	struct cl_ledger *ledger;     /* collect: the messages' write handle */
	struct cl_wa_recv *recv;      /* collect: decrypt and archive */
	uint64_t n_archived, n_dup, n_retry, n_failed;
};

/* Format one log line and hand it to o->on_log (dropped when out of
 * memory). */
static void col_log(struct col *c, enum cl_wa_log_level level,
		    const char *fmt, ...) CL_PRINTF_LIKE(3, 4);
static void col_log(struct col *c, enum cl_wa_log_level level,
		    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (c->o->on_log == NULL)
		return;
	va_start(ap, fmt);
	msg = cl_vstrdupf(fmt, ap);
	va_end(ap);
	if (msg)
		c->o->on_log(c->o->cb_ctx, level, msg);
	if (msg && level == CL_WA_LOG_ALERT && c->o->on_alert) {
		json_t *a = json_pack("{s:s, s:s}", "alert", "collector",
				      "message", msg);
		char *txt = a ? json_dumps(a, JSON_COMPACT) : NULL;

		if (txt)
			c->o->on_alert(c->o->cb_ctx, txt);
		free(txt);
		json_decref(a);
	}
	free(msg);
}

/* A specific alert (JSON object `a`, borrowed): an ALERT log line with
 * its message, and on_alert with the whole object. */
static void raise_alert(struct col *c, json_t *a)
{
	const char *msg = json_string_value(json_object_get(a, "message"));
	char *txt = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);

	if (c->o->on_log && txt) {
		char *line = cl_strdupf("%s: %s", msg ? msg : "alert", txt);

		if (line)
			c->o->on_log(c->o->cb_ctx, CL_WA_LOG_ALERT, line);
		free(line);
	}
	if (c->o->on_alert && txt)
		c->o->on_alert(c->o->cb_ctx, txt);
	free(txt);
}

#define log_info(c, ...) col_log(c, CL_WA_LOG_INFO, __VA_ARGS__)
#define log_alert(c, ...) col_log(c, CL_WA_LOG_ALERT, __VA_ARGS__)

/* libwebsockets' lines (conn.h), passed on verbatim. */
static void col_lws_log(void *ctx, int level, const char *line)
{
	struct col *c = ctx;

	(void)level;
	if (c->o->on_log)
		c->o->on_log(c->o->cb_ctx, CL_WA_LOG_LWS, line);
}

static int fail(struct col *c, int rc, char *msg)
{
	if (!c->fatal) {
		c->fatal = rc ? rc : CL_EIO;
		c->fatal_msg = msg;
	} else {
		free(msg);
	}
	return -1;
}

/* ---- state.json ---------------------------------------------------- */

static json_t *ms_json(int64_t ms)
{
	char b[32];

	if (ms == CL_TIME_NONE || ms == 0)
		return json_null();
	cl_time_format(ms, b);
	return json_string(b);
}

static void state_set(struct col *c, const char *key, json_t *v)
{
	json_object_set_new(c->state, key, v ? v : json_null());
	c->state_dirty = 1;
}

static int state_flush(struct col *c)
{
	char *path = NULL, *txt;
	char *err = NULL;
	int rc;

	if (!c->state_dirty)
		return CL_OK;
	state_set(c, "updated_at", ms_json(cl_time_now_ms()));
	state_set(c, "pid", json_integer((json_int_t)getpid()));
	txt = json_dumps(c->state, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (txt == NULL ||
	    (path = cl_strdupf("%s/wa/" CL_WA_STATE_FILE, c->o->dir)) == NULL) {
		free(txt);
		return CL_ENOMEM;
	}
	rc = cl_file_replace(path, txt, strlen(txt), 0600, &err);
	if (rc)
		col_log(c, CL_WA_LOG_WARN, "cannot write %s: %s", path,
			err ? err : cl_strerror(rc));
	free(err);
	free(path);
	free(txt);
	c->state_dirty = 0;
	c->state_flushed_at = cl_time_now_ms();
	return rc;
}

static void state_load(struct col *c)
{
	char *path = cl_strdupf("%s/wa/" CL_WA_STATE_FILE, c->o->dir);
	json_error_t je;

	if (path)
		c->state = json_load_file(path, 0, &je);
	free(path);
	if (c->state == NULL || !json_is_object(c->state)) {
		json_decref(c->state);
		c->state = json_object();
	}
}

/* ---- coverage entries ------------------------------------------------ */

/* Append one coverage entry (body: a JSON object, stolen) in its own
 * durable, signed batch. */
static int coverage(struct col *c, const char *kind, json_t *body)
{
	struct cl_ledger *l = NULL;
	struct cl_entry_in in;
	uint64_t idx;
	char *txt, *err = NULL;
	enum cl_append_outcome dup;
	int rc;

	json_object_set_new(body, "source", json_string("whatsapp-linked-device"));
	txt = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	if (txt == NULL)
		return CL_ENOMEM;
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.body = txt;
	in.body_len = strlen(txt);
	rc = cl_ledger_open(c->o->dir, CL_OPEN_WRITE, &l, &err);
	if (rc == CL_OK)  /* waits for other writers' batches, named so */
		rc = cl_ledger_set_wait(l, "collect", -1, NULL, NULL);
	if (rc == CL_OK && (rc = cl_ledger_begin(l, &err)) == CL_OK) {
		rc = cl_ledger_append(l, &in, &idx, &dup, &err);
		if (rc == CL_OK)
			rc = cl_ledger_commit(l, &err);
		else
			cl_ledger_rollback(l);
	}
	cl_ledger_close(l);
	if (rc == CL_OK)
		log_info(c, "coverage %s %s", kind, txt);
	else
		col_log(c, CL_WA_LOG_ERROR, "cannot record coverage %s: %s",
			kind, err ? err : cl_strerror(rc));
	free(err);
	free(txt);
	return rc;
}

/* ---- credentials ----------------------------------------------------- */

static int creds_save(struct col *c)
{
	char *err = NULL;
	int rc = cl_wa_creds_save(c->o->dir, c->keyfile, c->creds, &err);

	if (rc) {
		char *m = cl_strdupf("cannot save the credentials: %s",
				     err ? err : cl_strerror(rc));

		free(err);
		return fail(c, rc, m);
	}
	return 0;
}

static void remove_png(struct col *c)
{
	if (c->png && unlink(c->png) == 0)
		log_info(c, "removed %s", c->png);
}

/* ---- engine events ----------------------------------------------------- */

static int on_qr(struct col *c, const struct cl_wa_event *ev)
{
	char *err = NULL;
	int rc;

	rc = cl_wa_qr_write_png(ev->text, c->png, &err);
	if (rc) {
		char *m = cl_strdupf("cannot write the QR code: %s",
				     err ? err : cl_strerror(rc));

		free(err);
		return fail(c, rc, m);
	}
	if (c->o->on_qr)
		c->o->on_qr(c->o->cb_ctx, ev->text, ev->count, c->png);
	log_info(c, "QR code %llu written to %s, valid %.1f s",
	      (unsigned long long)ev->count, c->png, (double)ev->ms / 1000.0);
	state_set(c, "state", json_string("pairing"));
	state_set(c, "qr_png", json_string(c->png));
	return 0;
}

/* Decrypt, commit, and only then send the receipt (receive.h). */
static int on_message(struct col *c, const struct cl_wa_node *n, int64_t now)
{
	struct cl_wa_node *reply = NULL;
	struct cl_wa_recv_out out;
	char *err = NULL;
	int rc;

	if (c->recv == NULL) /* pairing: never acknowledged here */
		return 0;
	rc = cl_wa_recv_message(c->recv, n, now, &reply, &out, &err);
	if (rc == CL_EINVAL) {
		/* an unusable stanza: say so, leave it unacknowledged */
		col_log(c, CL_WA_LOG_WARN, "message stanza skipped: %s",
			err ? err : cl_strerror(rc));
		free(err);
		return 0;
	}
	if (rc) {
		/* not committed: no receipt, WhatsApp redelivers it after
		 * the reconnect this failure causes */
		col_log(c, CL_WA_LOG_ERROR, "cannot archive a message: %s",
			err ? err : cl_strerror(rc));
		free(err);
		return -1;
	}
	switch (out.outcome) {
	case CL_WA_RECV_ARCHIVED:
		c->n_archived++;
		break;
	case CL_WA_RECV_DUPLICATE:
		c->n_dup++;
		break;
	case CL_WA_RECV_RETRY:
		c->n_retry++;
		log_info(c, "message %s not decrypted (%s): retry %d asked",
			 cl_wa_node_attr_str(n, "id"), out.kind, out.retry);
		break;
	case CL_WA_RECV_ABANDONED: {
		json_t *a = json_pack("{s:s, s:s?, s:s, s:s}", "alert",
				      "wa-decrypt-abandoned", "stanza_id",
				      cl_wa_node_attr_str(n, "id"), "error",
				      out.kind, "message",
				      "a message could not be decrypted after every retry");

		c->n_failed++;
		if (a)
			raise_alert(c, a);
		json_decref(a);
		break;
	}
	case CL_WA_RECV_UNAVAILABLE:
	case CL_WA_RECV_NOTHING:
		break;
	}
	state_set(c, "messages_archived", json_integer((json_int_t)c->n_archived));
	state_set(c, "last_message_at", ms_json(now));
	rc = reply ? cl_wa_client_send_node(c->client, reply) : CL_OK;
	cl_wa_node_free(reply);
	return rc ? -1 : 0;
}

static int on_event(void *ctx, const struct cl_wa_event *ev)
{
	struct col *c = ctx;
	int64_t now = cl_time_now_ms();

	switch (ev->type) {
	case CL_WA_EV_HANDSHAKE:
		log_info(c, "handshake done (%s), server certificate verified",
			 ev->text);
		return 0;
	case CL_WA_EV_QR:
		return on_qr(c, ev);
	case CL_WA_EV_PAIR_CODE:
		/* the code links a device while it lives: to the caller
		 * only, never the log (journal) */
		c->o->on_pair_code(c->o->cb_ctx, ev->text,
				   c->o->pairing_phone, ev->ms);
		state_set(c, "state", json_string("pairing"));
		return 0;
	case CL_WA_EV_PAIRED:
		if (creds_save(c))
			return -1;
		remove_png(c);
		state_set(c, "qr_png", NULL);
		state_set(c, "state", json_string("paired"));
		state_set(c, "jid", json_string(c->creds->jid));
		state_set(c, "lid", json_string(c->creds->lid));
		state_set(c, "platform", json_string(c->creds->platform));
		state_set(c, "paired_at", ms_json(now));
		state_set(c, "server_offset_ms", json_integer(ev->ms));
		(void)state_flush(c);
		log_info(c, "linked as %s", c->creds->jid);
		return coverage(c, "wa-paired",
				json_pack("{s:s, s:s, s:s, s:I}", "jid",
					  c->creds->jid, "lid", c->creds->lid,
					  "platform", c->creds->platform,
					  "key_index",
					  (json_int_t)c->creds->key_index)) ?
			-1 : 0;
	case CL_WA_EV_PAIR_REFUSED:
		log_info(c, "pairing refused: %s", ev->text);
		(void)coverage(c, "wa-pair-refused",
			       json_pack("{s:s}", "reason", ev->text));
		return 0;
	case CL_WA_EV_LOGGED_IN: {
		json_t *gap = json_object_get(c->state, "gap_open_since");
		json_t *body = json_pack("{s:s, s:I}", "jid", c->creds->jid,
					 "server_offset_ms", (json_int_t)ev->ms);

		if (json_is_string(gap)) {
			json_object_set(body, "gap_from", gap);
			json_object_set_new(body, "gap_to", ms_json(now));
			json_object_set(body, "gap_reason",
					json_object_get(c->state, "last_end_reason"));
		}
		state_set(c, "state", json_string("connected"));
		state_set(c, "connected_since", ms_json(now));
		state_set(c, "gap_open_since", NULL);
		state_set(c, "server_offset_ms", json_integer(ev->ms));
		(void)state_flush(c);
		log_info(c, "logged in as %s (server clock offset %lld ms)",
			 c->creds->jid, (long long)ev->ms);
		return coverage(c, "wa-connected", body) ? -1 : 0;
	}
	case CL_WA_EV_CREDS_CHANGED:
		return creds_save(c);
	case CL_WA_EV_PREKEYS:
		log_info(c, "uploaded %llu pre-keys",
			 (unsigned long long)ev->count);
		state_set(c, "prekeys_uploaded",
			  json_integer(c->creds->prekeys_uploaded));
		return creds_save(c);
	case CL_WA_EV_PING:
		state_set(c, "last_ping_ms", json_integer(ev->ms));
		return 0;
	case CL_WA_EV_STANZA:
		state_set(c, "last_stanza_at", ms_json(now));
		return 0;
	case CL_WA_EV_MESSAGE:
		return on_message(c, ev->node, now);
	case CL_WA_EV_DEVICES: {
		json_t *alerts = NULL, *list = NULL;
		char *err = NULL;
		size_t i;
		int rc;

		if (c->ledger == NULL)
			return 0;
		rc = cl_wa_devices_update(c->ledger, c->creds->jid, ev->node,
					  strcmp(ev->text, "usync") == 0, now,
					  &alerts, &list, &err);
		if (rc) {
			col_log(c, CL_WA_LOG_ERROR, "cannot record the device list: %s",
				err ? err : cl_strerror(rc));
			free(err);
			return 0;
		}
		for (i = 0; i < json_array_size(alerts); i++)
			raise_alert(c, json_array_get(alerts, i));
		state_set(c, "devices", list);
		(void)state_flush(c);
		json_decref(alerts);
		return 0;
	}
	case CL_WA_EV_OFFLINE:
		log_info(c, "offline queue replayed (%llu stanzas)",
			 (unsigned long long)ev->count);
		return 0;
	}
	return 0;
}

/* ---- one connection -------------------------------------------------- */

static int client_send(void *ctx, const unsigned char *p, size_t len);

struct conn_ctx {
	struct col *c;
	struct cl_wa_conn *conn;
};

static int client_send(void *ctx, const unsigned char *p, size_t len)
{
	struct conn_ctx *x = ctx;

	return cl_wa_conn_send(x->conn, p, len);
}

static int client_event(void *ctx, const struct cl_wa_event *ev)
{
	struct conn_ctx *x = ctx;

	return on_event(x->c, ev);
}

static const struct cl_wa_client_ops client_ops = { client_send,
						    client_event };

static int conn_open(void *ctx, struct cl_wa_conn *conn)
{
	struct conn_ctx *x = ctx;

	x->conn = conn;
	if (cl_wa_client_new(&x->c->client, &x->c->ccfg, x->c->creds,
			     &client_ops, x) != CL_OK)
		return -1;
	return cl_wa_client_start(x->c->client, cl_time_now_ms()) ? -1 : 0;
}

static int conn_data(void *ctx, struct cl_wa_conn *conn,
		     const unsigned char *p, size_t len)
{
	struct conn_ctx *x = ctx;

	x->conn = conn;
	if (x->c->client == NULL)
		return -1;
	return cl_wa_client_feed(x->c->client, p, len, cl_time_now_ms()) ?
		-1 : 0;
}

static int conn_tick(void *ctx, struct cl_wa_conn *conn, int64_t now)
{
	struct conn_ctx *x = ctx;
	struct col *c = x->c;

	x->conn = conn;
	if (c->state_dirty && now - c->state_flushed_at > STATE_FLUSH_MS)
		(void)state_flush(c);
	if (c->client == NULL)
		return 0;
	if (cl_wa_client_tick(c->client, now))
		return -1;
	if (c->o->mode == CL_WA_PAIR && cl_wa_client_logged_in(c->client) &&
	    c->creds->prekeys_uploaded > 0) {
		c->pair_done = 1;
		cl_wa_conn_close(conn, "paired");
	}
	return 0;
}

static const struct cl_wa_conn_ops conn_ops = { conn_open, conn_data,
						conn_tick };

/* Run one connection; fill *end with how it ended. */
static void run_once(struct col *c, struct cl_wa_end *end)
{
	struct cl_wa_conn_cfg cc;
	struct conn_ctx x;
	char *err = NULL;
	int rc;

	memset(&cc, 0, sizeof(cc));
	cc.url = c->cfg.wa.url;
	cc.origin = c->cfg.wa.ws_origin;
	cc.ca_file = c->cfg.wa.ca_file[0] ? c->cfg.wa.ca_file : NULL;
	cc.connect_timeout_ms = CL_WA_CONN_TIMEOUT_DEFAULT;
	cc.max_message = CL_WA_CONN_MAX_MESSAGE_DEFAULT;
	cc.lws_log_level = c->o->lws_log_level;
	cc.lws_log = col_lws_log;
	cc.log_ctx = c;
	x.c = c;
	x.conn = NULL;
	c->client = NULL;
	rc = cl_wa_conn_run(&cc, &conn_ops, &x, TICK_MS, c->o->stop, &err);
	memset(end, 0, sizeof(*end));
	if (c->client) {
		cl_wa_client_closed(c->client, err ? err : "connection closed");
		*end = *cl_wa_client_end(c->client);
		cl_wa_client_free(c->client);
		c->client = NULL;
	} else {
		end->kind = CL_WA_END_RECONNECT;
		(void)cl_fmt(end->reason, sizeof(end->reason), "%s",
			     err ? err : cl_strerror(rc));
	}
	free(err);
}

/* Sleep `ms`, waking early when asked to stop; 1 if stopped. */
static int nap(struct col *c, int64_t ms)
{
	struct timespec ts = { 0, 100 * 1000000L };

	while (ms > 0) {
		if (*c->o->stop)
			return 1;
		nanosleep(&ts, NULL);
		ms -= 100;
	}
	return *c->o->stop != 0;
}

static int64_t backoff_ms(const struct col *c, unsigned attempt)
{
	int64_t d = c->cfg.wa.reconnect_base_ms;
	unsigned i;

	for (i = 0; i < attempt && d < c->cfg.wa.reconnect_max_ms; i++)
		d *= 2;
	if (d > c->cfg.wa.reconnect_max_ms)
		d = c->cfg.wa.reconnect_max_ms;
	/* jitter: 50-100% of the delay, so collectors never synchronise */
	return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d / 2 + 1));
}

/* A connection that was logged in ended: open a coverage gap. */
static int open_gap(struct col *c, const struct cl_wa_end *e, int64_t now)
{
	json_t *body = json_pack("{s:s, s:s, s:i}", "end",
				 cl_wa_end_name(e->kind), "reason", e->reason,
				 "code", e->code);

	state_set(c, "gap_open_since", ms_json(now));
	state_set(c, "connected_since", NULL);
	state_set(c, "last_end_reason", json_string(e->reason));
	state_set(c, "last_end", json_string(cl_wa_end_name(e->kind)));
	return coverage(c, "wa-disconnected", body);
}

static int load_creds(struct col *c, char **err)
{
	int rc = cl_wa_creds_load(c->o->dir, c->keyfile, &c->creds, err);

	if (rc == CL_ENOTFOUND && c->o->mode == CL_WA_PAIR) {
		free(*err);
		*err = NULL;
		if ((rc = cl_wa_creds_generate(&c->creds, err)))
			return rc;
		rc = cl_wa_creds_save(c->o->dir, c->keyfile, c->creds, err);
		if (rc == CL_OK)
			log_info(c, "new device keys created in %s/wa",
				 c->o->dir);
		return rc;
	}
	if (rc == CL_ENOTFOUND) {
		free(*err);
		*err = NULL;
		return cl_error(err, CL_ENOTFOUND,
				"not linked to a WhatsApp account: run chatledger pair -a %s first",
				c->o->dir);
	}
	if (rc)
		return rc;
	if (c->o->mode == CL_WA_PAIR && c->creds->paired)
		return cl_error(err, CL_EEXIST,
				"already linked as %s; to link again, unlink this device on the phone (Linked devices) and run chatledger collect once so it records the logout",
				c->creds->jid);
	if (c->o->mode == CL_WA_COLLECT && !c->creds->paired)
		return cl_error(err, CL_ENOTFOUND,
				"pairing was never completed: run chatledger pair -a %s",
				c->o->dir);
	return CL_OK;
}

static int setup(struct col *c, char **err)
{
	char *wadir;
	int rc;

	if (c->o->mode == CL_WA_PAIR && c->o->pairing_phone &&
	    c->o->on_pair_code == NULL) {
		(void)cl_error(err, CL_EINVAL, "pairing by code needs a "
			       "callback that shows the code");
		return CL_EINVAL;
	}
	if ((rc = cl_config_load(c->o->dir, &c->cfg, err)))
		return rc;
	if ((wadir = cl_strdupf("%s/wa", c->o->dir)) == NULL)
		return CL_ENOMEM;
	if (mkdir(wadir, 0700) != 0 && errno != EEXIST) {
		rc = cl_error(err, CL_EIO, "cannot create %s: %s", wadir,
			      strerror(errno));
		free(wadir);
		return rc;
	}
	free(wadir);
	c->keyfile = c->cfg.wa.credentials_key_file[0] ?
		c->cfg.wa.credentials_key_file : NULL;
	if (c->o->qr_png)
		c->png = strdup(c->o->qr_png);
	else
		c->png = cl_strdupf("%s/wa/pair-qr.png", c->o->dir);
	if (c->png == NULL)
		return CL_ENOMEM;
	cl_wa_client_cfg_defaults(&c->ccfg);
	memcpy(c->ccfg.root_pub, c->cfg.wa.root_key, 32);
	c->ccfg.info.version.primary = c->cfg.wa.version[0];
	c->ccfg.info.version.secondary = c->cfg.wa.version[1];
	c->ccfg.info.version.tertiary = c->cfg.wa.version[2];
	c->ccfg.info.os_name = c->cfg.wa.device_name;
	c->ccfg.info.platform_type = c->cfg.wa.platform_type;
	c->ccfg.info.push_name = NULL;
	c->ccfg.ping_min_ms = c->cfg.wa.keepalive_min_ms;
	c->ccfg.ping_max_ms = c->cfg.wa.keepalive_max_ms;
	c->ccfg.ping_timeout_ms = c->cfg.wa.keepalive_timeout_ms;
	c->ccfg.ping_giveup_ms = c->cfg.wa.keepalive_giveup_ms;
	c->ccfg.qr_first_ms = c->cfg.wa.qr_first_ms;
	c->ccfg.qr_next_ms = c->cfg.wa.qr_next_ms;
	c->ccfg.pairing_phone = c->o->pairing_phone;
	state_load(c);
	if ((rc = load_creds(c, err)))
		return rc;
	if (c->o->mode == CL_WA_COLLECT) {
		unsigned char *key = sodium_malloc(32);

		if (key == NULL)
			return CL_ENOMEM;
		rc = cl_wa_creds_key(c->o->dir, c->keyfile, key, err);
		if (rc == CL_OK)
			rc = cl_ledger_open(c->o->dir, CL_OPEN_WRITE, &c->ledger,
					    err);
		if (rc == CL_OK)
			rc = cl_ledger_set_wait(c->ledger, "collect", -1, NULL,
						NULL);
		if (rc == CL_OK)
			rc = cl_wa_recv_new(&c->recv, c->ledger, c->creds, key,
					    err);
		sodium_free(key);
	}
	return rc;
}

/* The account is gone (logged out, locked, banned): delete the
 * credentials so nothing can use them, and raise the alarm. */
static int logged_out(struct col *c, const struct cl_wa_end *e, char **err)
{
	int rc = cl_wa_creds_delete(c->o->dir, c->keyfile, err);

	log_alert(c, "WhatsApp logged this device out: %s; credentials %s. "
		  "Link again with chatledger pair.", e->reason,
		  rc == CL_OK ? "deleted" : "NOT deleted");
	state_set(c, "state", json_string("logged-out"));
	state_set(c, "logged_out_code", json_integer(e->code));
	state_set(c, "connected_since", NULL);
	if (!json_is_string(json_object_get(c->state, "gap_open_since")))
		state_set(c, "gap_open_since", ms_json(cl_time_now_ms()));
	(void)coverage(c, "wa-logged-out",
		       json_pack("{s:i, s:s, s:b, s:s}", "code", e->code,
				 "reason", e->reason, "alert", 1,
				 "credentials", rc == CL_OK ? "deleted" :
				 "delete-failed"));
	return rc;
}

int cl_wa_collector_run(const struct cl_wa_collector_opts *o,
			enum cl_wa_outcome *outcome, char **err)
{
	struct col c;
	struct cl_wa_end e;
	unsigned attempt = 0;
	int rc = CL_OK, was_logged_in;

	memset(&c, 0, sizeof(c));
	c.o = o;
	*outcome = CL_WA_OUT_ERROR;
	if ((rc = setup(&c, err)))
		goto out;
	if (o->mode == CL_WA_COLLECT &&
	    json_is_string(json_object_get(c.state, "connected_since"))) {
		/* The last run ended while connected without recording it
		 * (killed, crashed, power loss): the gap began when it was
		 * last seen alive, as far as the state file knows. */
		json_t *alive = json_object_get(c.state, "updated_at");

		state_set(&c, "gap_open_since", json_is_string(alive) ?
			  json_incref(alive) : ms_json(cl_time_now_ms()));
		state_set(&c, "connected_since", NULL);
		state_set(&c, "last_end_reason",
			  json_string("collector ended without a clean stop"));
		log_info(&c, "the last run ended without a clean stop (last seen alive %s)",
			 json_string_value(json_object_get(c.state,
							   "gap_open_since")));
		(void)coverage(&c, "wa-disconnected",
			       json_pack("{s:s, s:s, s:O}", "end", "unclean-stop",
					 "reason",
					 "collector ended without a clean stop (killed or crashed)",
					 "last_alive",
					 json_object_get(c.state, "gap_open_since")));
	}
	state_set(&c, "jid", c.creds->paired ? json_string(c.creds->jid) :
		  json_null());
	state_set(&c, "state", json_string(c.creds->paired ? "connecting" :
					   "pairing"));
	(void)state_flush(&c);
	for (;;) {
		int64_t now, wait = 0;

		log_info(&c, "connecting to %s", c.cfg.wa.url);
		run_once(&c, &e);
		now = cl_time_now_ms();
		was_logged_in = json_is_string(json_object_get(c.state,
							       "connected_since"));
		if (c.fatal) {
			rc = c.fatal;
			if (err && *err == NULL)
				*err = c.fatal_msg;
			else
				free(c.fatal_msg);
			c.fatal_msg = NULL;
			break;
		}
		if (c.pair_done) {
			log_info(&c, "linked as %s and logged in; start the collector with chatledger collect",
				 c.creds->jid);
			*outcome = CL_WA_OUT_OK;
			break;
		}
		if (*o->stop) {
			json_t *gap;

			log_info(&c, "stopping: %s", e.reason);
			gap = json_pack("{s:s}", "reason", "collector stopped");
			state_set(&c, "state", json_string("stopped"));
			if (was_logged_in)
				state_set(&c, "gap_open_since", ms_json(now));
			state_set(&c, "connected_since", NULL);
			state_set(&c, "last_end_reason",
				  json_string("collector stopped"));
			(void)state_flush(&c);
			(void)coverage(&c, "wa-stopped", gap);
			*outcome = CL_WA_OUT_OK;
			break;
		}
		log_info(&c, "connection ended: %s (%s)", e.reason,
			 cl_wa_end_name(e.kind));
		if (was_logged_in && e.kind != CL_WA_END_RESTART)
			(void)open_gap(&c, &e, now);
		switch (e.kind) {
		case CL_WA_END_RESTART:
			attempt = 0;
			continue;
		case CL_WA_END_LOGGED_OUT:
			rc = logged_out(&c, &e, err);
			*outcome = CL_WA_OUT_LOGGED_OUT;
			goto done;
		case CL_WA_END_CONFLICT:
			log_alert(&c, "%s; not reconnecting (two collectors would fight). "
				  "Stop the other one, then restart this one.",
				  e.reason);
			state_set(&c, "state", json_string("conflict"));
			(void)coverage(&c, "wa-conflict",
				       json_pack("{s:s, s:b}", "reason", e.reason,
						 "alert", 1));
			*outcome = CL_WA_OUT_CONFLICT;
			goto done;
		case CL_WA_END_OUTDATED:
		case CL_WA_END_BAD_CLIENT:
			log_alert(&c, "%s; set [whatsapp] version in chatledger.conf to the current WhatsApp Web version",
				  e.reason);
			state_set(&c, "state", json_string("outdated"));
			(void)coverage(&c, "wa-outdated",
				       json_pack("{s:i, s:s, s:b}", "code", e.code,
						 "reason", e.reason, "alert", 1));
			*outcome = CL_WA_OUT_OUTDATED;
			goto done;
		case CL_WA_END_TEMP_BAN:
			state_set(&c, "state", json_string("banned"));
			state_set(&c, "ban_expire", e.expire ?
				  json_integer(e.expire) : json_null());
			(void)coverage(&c, "wa-banned",
				       json_pack("{s:i, s:s, s:I, s:b}", "code",
						 e.code, "reason", e.reason,
						 "expire", (json_int_t)e.expire,
						 "alert", 1));
			wait = e.expire ? e.expire * 1000 - now : 3600000;
			if (wait < (int64_t)c.cfg.wa.reconnect_base_ms)
				wait = c.cfg.wa.reconnect_base_ms;
			log_alert(&c, "%s; waiting %lld s", e.reason,
				  (long long)(wait / 1000));
			break;
		case CL_WA_END_SERVER_REFUSED:
			log_alert(&c, "%s", e.reason);
			(void)coverage(&c, "wa-server-refused",
				       json_pack("{s:s, s:b}", "reason", e.reason,
						 "alert", 1));
			if (o->mode == CL_WA_PAIR) {
				rc = cl_error(err, CL_EBADSIG, "%s", e.reason);
				*outcome = CL_WA_OUT_REFUSED;
				goto done;
			}
			wait = backoff_ms(&c, attempt++);
			break;
		case CL_WA_END_PAIR_REFUSED:
			rc = cl_error(err, CL_EBADSIG, "%s", e.reason);
			*outcome = CL_WA_OUT_REFUSED;
			goto done;
		case CL_WA_END_QR_EXHAUSTED:
			if (++c.qr_rounds >= c.cfg.wa.pair_rounds) {
				remove_png(&c);
				rc = cl_error(err, CL_ENOTFOUND,
					      "no QR code was scanned (%u rounds)",
					      c.qr_rounds);
				*outcome = CL_WA_OUT_REFUSED;
				goto done;
			}
			continue;
		case CL_WA_END_NONE:
		case CL_WA_END_RECONNECT:
		case CL_WA_END_PROTOCOL:
			if (was_logged_in)
				attempt = 0;
			wait = backoff_ms(&c, attempt++);
			state_set(&c, "state", json_string("disconnected"));
			break;
		}
		(void)state_flush(&c);
		log_info(&c, "reconnecting in %lld ms", (long long)wait);
		if (nap(&c, wait)) {
			state_set(&c, "state", json_string("stopped"));
			(void)coverage(&c, "wa-stopped",
				       json_pack("{s:s}", "reason",
						 "collector stopped while disconnected"));
			*outcome = CL_WA_OUT_OK;
			break;
		}
	}
done:
	if (o->mode == CL_WA_PAIR)
		remove_png(&c); /* it holds the ADV secret */
	(void)state_flush(&c);
out:
	cl_wa_recv_free(c.recv);
	cl_ledger_close(c.ledger);
	json_decref(c.state);
	cl_wa_creds_free(c.creds);
	free(c.png);
	free(c.fatal_msg);
	return rc;
}
