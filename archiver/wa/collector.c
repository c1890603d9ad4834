/*
 * collector.c - pairing and collecting over a WebSocket (collector.h).
 *
 * Reports through the callbacks in cl_wa_collector_opts only; never
 * prints.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
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
#include "archiver/wa/history.h"
#include "archiver/wa/media.h"
#include "archiver/wa/mediaretry.h"
#include "archiver/wa/phone.h"
#include "archiver/wa/qr.h"
#include "archiver/wa/receive.h"
#include "archiver/wa/status.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define TICK_MS 250
#define STATE_FLUSH_MS 5000
#define BATCH_MS 5      /* a received stanza waits at most this long (plus
                           the commit) for its receipt */
#define BATCH_MAX 64    /* ... or until this many share its batch */

/* A stanza in the open batch: what to do once the batch is committed. */
struct held {
	struct cl_wa_node *reply;     /* receipt or retry receipt, or NULL */
	enum cl_wa_recv_outcome outcome;
	char kind[33];
	char id[80];
	int retry;
};

struct col {
	const struct cl_wa_collector_opts *o;
	/* offline catch-up: the messages <offline_preview> announced (-1:
	 * none yet this connection) and the offline messages that came */
	long long preview_msgs;
	unsigned long long offline_msgs;
	struct cl_config cfg;
	struct cl_wa_client_cfg ccfg;
	const char *keyfile;          /* NULL: DIR/wa/creds.key */
	char *png;
	struct cl_wa_creds *creds;
	struct cl_wa_client *client;  /* the current connection's engine */
	json_t *state;                /* DIR/wa/state.json */
	int64_t state_flushed_at;
	char *fatal_msg;
	struct cl_ledger *ledger;     /* collect: the messages' write handle */
	struct cl_wa_recv *recv;      /* collect: decrypt and archive */
	uint64_t n_archived, n_dup, n_retry, n_failed;
	struct cl_wa_conn *conn;      /* the current connection, or NULL */
	struct held held[BATCH_MAX];  /* the open batch's stanzas */
	size_t n_held;
	int64_t last_message_at;
	char *hosts[CL_WA_MEDIA_MAX_HOSTS]; /* media hosts (media_conn) */
	size_t n_hosts;
	/* history sync: one queued job at a time (receive.h); its download
	 * runs on a worker thread, everything else on this one */
	int64_t hist_due;             /* look at the queue from then on;
	                                 INT64_MAX: nothing queued */
	struct cl_wa_hist_job job;
	struct cl_wa_hist_note note;
	/* message media: one queued download at a time, after history */
	int64_t media_due;
	struct cl_wa_media_job mjob;
	pthread_t th;
	pthread_mutex_t mu;
	struct cl_wa_media_req rq;
	struct cl_buf blob;           /* the downloaded, opened blob */
	char *dl_detail;
	enum cl_wa_media_err dl_err;
	int th_done;                  /* under mu */
	int th_running;
	int dl_kind;                  /* the worker's job: 1 history, 2 media */
	int job_loaded;
	int curl_inited;
	int state_dirty;
	int pair_done;                /* pair mode: linked, logged in, keys up */
	int fatal;                    /* an event handler failed: stop */
	unsigned qr_rounds;
	/* the number's phone (device 0): last seen, the 12-day warning */
	struct cl_wa_phone phone;
	char own_user[128], own_lid_user[128];
	int64_t phone_back_from;      /* seen again after a warning: the
	                                 last_seen before, for the entry */
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

/* The ledger's low-space warning (cl_ledger_on_low_space), as a log line. */
static void col_space(void *ctx, uint64_t free_bytes, uint64_t total_bytes)
{
	char f[16], t[16];

	col_log(ctx, CL_WA_LOG_WARN, "the archive's file system is low on space (%s free of"
		" %s): when it is full nothing more is stored; add space or move the archive",
		cl_fmt_bytes(free_bytes, f), cl_fmt_bytes(total_bytes, t));
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

/* ---- the phone (device 0) ---------------------------------------------- */

static int64_t state_time(const struct col *c, const char *key)
{
	const json_t *v = json_object_get(c->state, key);
	int64_t ms;

	if (!json_is_string(v) ||
	    cl_time_parse(json_string_value(v), json_string_length(v),
			  &ms) != CL_OK)
		return 0;
	return ms;
}

static void user_of(const char *jid, char *out, size_t cap)
{
	struct cl_wa_jid j;

	out[0] = 0;
	if (jid && cl_wa_jid_parse(jid, strlen(jid), &j) == CL_OK &&
	    j.user_len < cap) {
		memcpy(out, j.user, j.user_len);
		out[j.user_len] = 0;
	}
}

/* From state.json: the phone's last-seen time (at first the pairing:
 * the phone was there to link us) and an outstanding warning. */
static void phone_load(struct col *c)
{
	c->phone.last_seen = state_time(c, "phone_last_seen");
	if (c->phone.last_seen == 0) {
		c->phone.last_seen = state_time(c, "paired_at");
		if (c->phone.last_seen)
			state_set(c, "phone_last_seen",
				  ms_json(c->phone.last_seen));
	}
	c->phone.warned_for = state_time(c, "phone_warned_for");
	user_of(c->creds->jid, c->own_user, sizeof(c->own_user));
	user_of(c->creds->lid, c->own_lid_user, sizeof(c->own_lid_user));
}

/* A stanza arrived: is it the phone? */
static void phone_stanza(struct col *c, const struct cl_wa_node *n,
			 int64_t now)
{
	int64_t at, before = c->phone.last_seen;

	if (n == NULL || !c->own_user[0] ||
	    !cl_wa_phone_evidence(n, c->own_user, c->own_lid_user, now, &at))
		return;
	switch (cl_wa_phone_seen(&c->phone, at)) {
	case CL_WA_PHONE_BACK:
		c->phone_back_from = before ? before : -1;
		state_set(c, "phone_warned_for", NULL);
		state_set(c, "phone_warning_at", NULL);
		/* fall through */
	case CL_WA_PHONE_SEEN:
		state_set(c, "phone_last_seen", ms_json(c->phone.last_seen));
		break;
	case CL_WA_PHONE_SAME:
		break;
	}
}

/* On the tick, outside any batch: the warning once 12 days pass without
 * the phone (a coverage entry, the state, one alert), and the entry that
 * it is back. */
static void phone_step(struct col *c, int64_t now)
{
	if (c->phone_back_from) {
		(void)coverage(c, "wa-phone-seen", json_pack(
			"{s:o, s:o}", "last_seen", ms_json(c->phone.last_seen),
			"previously_seen", ms_json(c->phone_back_from > 0 ?
						   c->phone_back_from : 0)));
		c->phone_back_from = 0;
		(void)state_flush(c);
	}
	if (cl_wa_phone_due(&c->phone, now)) {
		int64_t cutoff = c->phone.last_seen + CL_WA_PHONE_CUTOFF_MS;
		json_t *a;

		(void)coverage(c, "wa-phone-inactive", json_pack(
			"{s:o, s:I, s:o, s:b}", "last_seen",
			ms_json(c->phone.last_seen), "days",
			(json_int_t)((now - c->phone.last_seen) /
				     (24LL * 3600 * 1000)),
			"logout_expected", ms_json(cutoff), "alert", 1));
		state_set(c, "phone_warned_for", ms_json(c->phone.warned_for));
		state_set(c, "phone_warning_at", ms_json(now));
		(void)state_flush(c);
		a = json_pack("{s:s, s:s, s:o, s:o}", "alert",
			      "wa-phone-inactive", "message",
			      "the business number's phone has not been online "
			      "for 12 days: open WhatsApp on it, or WhatsApp "
			      "logs this collector out in about 2 days",
			      "last_seen", ms_json(c->phone.last_seen),
			      "logout_expected", ms_json(cutoff));
		if (a)
			raise_alert(c, a);
		json_decref(a);
	}
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

/* ---- history sync ------------------------------------------------------ */

static void *hist_download(void *arg)
{
	struct col *c = arg;
	enum cl_wa_media_err e;
	char *detail = NULL;

	e = cl_wa_media_fetch(&c->rq, &c->blob, &detail);
	pthread_mutex_lock(&c->mu);
	c->dl_err = e;
	c->dl_detail = detail;
	c->th_done = 1;
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void hist_unload(struct col *c)
{
	cl_wa_hist_job_release(&c->job);
	cl_wa_hist_note_release(&c->note);
	if (c->blob.data)
		sodium_memzero(c->blob.data, c->blob.alloc);
	cl_buf_release(&c->blob);
	free(c->dl_detail);
	c->dl_detail = NULL;
	c->job_loaded = 0;
}

/* The job's outcome: archived (blob, len) or failed (why), each in its
 * own batch; the next job is looked at on the next tick. */
static void hist_finish(struct col *c, const unsigned char *blob, size_t len,
			const char *why, int64_t now)
{
	char *err = NULL;
	size_t n_new = 0, n_dup = 0;
	int rc = CL_EINVAL, abandoned = 0;

	if (why == NULL) {
		rc = cl_wa_recv_history(c->recv, &c->job, blob, len, now,
					&n_new, &n_dup, &err);
		if (rc == CL_OK)
			log_info(c, "history sync %s archived: %zu new records, %zu already archived",
				 c->job.stanza_id, n_new, n_dup);
		else if (rc == CL_EINVAL)
			why = err ? err : "unusable blob";
	}
	if (rc == CL_EINVAL) {
		char *err2 = NULL;

		rc = cl_wa_recv_hist_failed(c->recv, &c->job, why, now,
					    &abandoned, &err2);
		log_info(c, "history sync %s failed: %s%s", c->job.stanza_id,
			 why, abandoned ? " (abandoned)" : ", retried later");
		if (abandoned) {
			json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "alert",
					      "wa-history-abandoned",
					      "notification", c->job.stanza_id,
					      "error", why, "message",
					      "a history sync could not be archived after every attempt");

			if (a)
				raise_alert(c, a);
			json_decref(a);
		}
		free(err);
		err = err2;
	}
	if (rc)
		col_log(c, CL_WA_LOG_ERROR, "cannot record a history sync: %s",
			err ? err : cl_strerror(rc));
	free(err);
	hist_unload(c);
	c->hist_due = now;
}

static int batch_flush(struct col *c, int send);

/* Media gone from the hosts: record a media retry request and send it
 * to our phone.  CL_ENOTFOUND when it was asked for already; another
 * failure with *err (media_finish() reports it). */
static int media_ask_phone(struct col *c, int64_t now, char **err)
{
	struct cl_wa_node *req = NULL;
	int rc;

	rc = cl_wa_recv_media_gone(c->recv, &c->mjob, now, &req, err);
	if (rc == CL_OK &&
	    (c->client == NULL || cl_wa_client_send_node(c->client, req) != CL_OK)) {
		char *e2 = NULL;

		if (cl_wa_recv_media_unask(c->recv, &c->mjob, &e2) == CL_OK)
			col_log(c, CL_WA_LOG_WARN,
				"media retry request for entry %llu not sent: asked again on the next attempt",
				(unsigned long long)c->mjob.idx);
		else
			col_log(c, CL_WA_LOG_ERROR,
				"media retry request for entry %llu not sent, and not forgotten (%s): the job falls back to plain retries",
				(unsigned long long)c->mjob.idx,
				e2 ? e2 : "database error");
		free(e2);
	} else if (rc == CL_OK) {
		log_info(c, "media of entry %llu gone from the media hosts: asked the phone to upload it again",
			 (unsigned long long)c->mjob.idx);
	}
	cl_wa_node_free(req);
	return rc;
}

/* Acknowledge the stanza `n` now: 0, or -1 when it could not be sent. */
static int ack_now(struct col *c, const struct cl_wa_node *n)
{
	struct cl_wa_node *ack = NULL;
	int rc = CL_OK;

	if (cl_wa_client_ack_node(n, &ack) == CL_OK && ack)
		rc = cl_wa_client_send_node(c->client, ack);
	cl_wa_node_free(ack);
	return rc ? -1 : 0;
}

/* The phone's answer to a media retry request: recorded in its own
 * batch, then acknowledged. */
static int on_media_retry(struct col *c, const struct cl_wa_node *n,
			  int64_t now)
{
	char *err = NULL;
	uint64_t idx = 0;
	int rc, result = 0, abandoned = 0;

	if (c->recv == NULL)
		return 0;
	if (batch_flush(c, 1))
		return -1;
	rc = cl_wa_recv_media_answer(c->recv, n, now, &result, &abandoned,
				     &idx, &err);
	if (rc == CL_OK) {
		log_info(c, "media retry for entry %llu: the phone answered %s",
			 (unsigned long long)idx, cl_wa_rmr_result_name(result));
		if (result == CL_WA_RMR_SUCCESS)
			c->media_due = now;
		if (abandoned) {
			json_t *a = json_pack("{s:s, s:I, s:s, s:s}", "alert",
					      "wa-media-abandoned", "record",
					      (json_int_t)idx, "error",
					      cl_wa_rmr_result_name(result),
					      "message",
					      "the phone could not upload a message's expired media again");

			if (a)
				raise_alert(c, a);
			json_decref(a);
		}
	} else if (rc == CL_ENOTFOUND || rc == CL_EINVAL) {
		col_log(c, CL_WA_LOG_WARN, "media retry notification skipped: %s",
			err ? err : "it answers no outstanding request");
	} else {
		/* not recorded: left unacknowledged, so it comes again */
		col_log(c, CL_WA_LOG_ERROR, "cannot record a media retry answer: %s",
			err ? err : cl_strerror(rc));
		free(err);
		return 0;
	}
	free(err);
	return ack_now(c, n);
}

/* A finished media download: the attachment, or the failure. */
static void media_finish(struct col *c, int64_t now)
{
	char *err = NULL, *why = NULL;
	int rc, abandoned = 0;

	if (c->dl_err == CL_WA_MEDIA_OK) {
		rc = cl_wa_recv_media_done(c->recv, &c->mjob, c->blob.data,
					   c->blob.len, now, &err);
		if (rc == CL_OK)
			log_info(c, "media of entry %llu stored (%zu bytes)",
				 (unsigned long long)c->mjob.idx, c->blob.len);
	} else if (c->dl_err == CL_WA_MEDIA_GONE &&
		   (rc = media_ask_phone(c, now, &err)) != CL_ENOTFOUND) {
		/* asked the phone to upload it again (a failure to record
		 * that is reported below) */
	} else {
		why = cl_strdupf("%s%s%s", cl_wa_media_err_name(c->dl_err),
				 c->dl_detail ? ": " : "",
				 c->dl_detail ? c->dl_detail : "");
		rc = cl_wa_recv_media_failed(c->recv, &c->mjob,
					     why ? why : "download failed",
					     c->dl_err == CL_WA_MEDIA_TOO_BIG,
					     now, &abandoned, &err);
		log_info(c, "media of entry %llu not stored: %s%s",
			 (unsigned long long)c->mjob.idx, why ? why : "",
			 abandoned ? " (abandoned)" : ", retried later");
		if (abandoned) {
			json_t *a = json_pack("{s:s, s:I, s:s, s:s}", "alert",
					      "wa-media-abandoned", "record",
					      (json_int_t)c->mjob.idx, "error",
					      why ? why : "", "message",
					      "a message's media could not be downloaded after every attempt");

			if (a)
				raise_alert(c, a);
			json_decref(a);
		}
	}
	if (rc)
		col_log(c, CL_WA_LOG_ERROR, "cannot record a media download: %s",
			err ? err : cl_strerror(rc));
	free(err);
	free(why);
	cl_wa_media_job_release(&c->mjob);
	if (c->blob.data)
		sodium_memzero(c->blob.data, c->blob.alloc);
	cl_buf_release(&c->blob);
	free(c->dl_detail);
	c->dl_detail = NULL;
	c->media_due = now;
}

static int dl_start(struct col *c, int kind)
{
	c->dl_kind = kind;
	c->th_done = 0;
	c->dl_err = CL_WA_MEDIA_INTERNAL;
	if (pthread_create(&c->th, NULL, hist_download, c) != 0)
		return -1;
	c->th_running = 1;
	return 0;
}

static void req_base(struct col *c, struct cl_wa_media_req *rq, size_t max)
{
	memset(rq, 0, sizeof(*rq));
	memcpy(rq->hosts, c->hosts, sizeof(rq->hosts));
	rq->n_hosts = c->n_hosts;
	rq->ca_file = c->cfg.wa.ca_file[0] ? c->cfg.wa.ca_file : NULL;
	rq->max = max;
	cl_buf_release(&c->blob);
	cl_buf_init(&c->blob, max);
}

/* The next due media download, started on the worker; 1 if one was. */
static int media_step(struct col *c, int64_t now)
{
	char *err = NULL;
	int rc;

	if (now < c->media_due)
		return 0;
	if (c->n_hosts == 0) {
		c->media_due = now + 1000;
		return 0;
	}
	rc = cl_wa_recv_media_next(c->recv, now, &c->mjob, &c->media_due,
				   &err);
	if (rc == CL_ENOTFOUND) {
		if (c->media_due == 0)
			c->media_due = INT64_MAX;
		return 0;
	}
	if (rc) {
		col_log(c, CL_WA_LOG_ERROR, "media queue: %s",
			err ? err : cl_strerror(rc));
		free(err);
		c->media_due = now + 60000;
		return 0;
	}
	req_base(c, &c->rq, CL_WA_MEDIA_MAX);
	c->rq.direct_path = c->mjob.direct_path;
	c->rq.type = c->mjob.type;
	c->rq.media_key = c->mjob.media_key;
	c->rq.enc_sha256 = c->mjob.enc_sha256;
	c->rq.sha256 = c->mjob.sha256;
	if (dl_start(c, 2)) {
		cl_wa_media_job_release(&c->mjob);
		c->media_due = now + 1000;
		return 0;
	}
	return 1;
}

/* On a tick, outside any message batch: finish a download, or load the
 * next due history job (then media job) and start its download. */
static void hist_step(struct col *c, int64_t now)
{
	char *err = NULL;
	int rc;

	if (c->recv == NULL)
		return;
	if (c->th_running) {
		int done;

		pthread_mutex_lock(&c->mu);
		done = c->th_done;
		pthread_mutex_unlock(&c->mu);
		if (!done)
			return;
		pthread_join(c->th, NULL);
		c->th_running = 0;
		if (c->dl_kind == 2) {
			media_finish(c, now);
		} else if (c->dl_err == CL_WA_MEDIA_OK) {
			hist_finish(c, c->blob.data, c->blob.len, NULL, now);
		} else {
			char *why = cl_strdupf("download: %s%s%s",
					       cl_wa_media_err_name(c->dl_err),
					       c->dl_detail ? ": " : "",
					       c->dl_detail ? c->dl_detail : "");

			hist_finish(c, NULL, 0, why ? why : "download failed",
				    now);
			free(why);
		}
		return;
	}
	if (c->job_loaded)
		return;
	if (now < c->hist_due) {
		(void)media_step(c, now);
		return;
	}
	rc = cl_wa_recv_hist_next(c->recv, now, &c->job, &c->hist_due, &err);
	if (rc == CL_ENOTFOUND) {
		if (c->hist_due == 0)
			c->hist_due = INT64_MAX;
		(void)media_step(c, now);
		return;
	}
	if (rc) {
		col_log(c, CL_WA_LOG_ERROR, "history sync queue: %s",
			err ? err : cl_strerror(rc));
		free(err);
		c->hist_due = now + 60000;
		return;
	}
	c->job_loaded = 1;
	rc = cl_wa_hist_note_read(c->job.note.data, c->job.note.len, &c->note,
				  &err);
	if (rc) {
		hist_finish(c, NULL, 0, err ? err : cl_strerror(rc), now);
		free(err);
		return;
	}
	if (c->note.has_inline) {
		hist_finish(c, c->note.inline_payload.data,
			    c->note.inline_payload.len, NULL, now);
		return;
	}
	if (c->n_hosts == 0) {   /* media_conn not answered yet */
		hist_unload(c);
		c->hist_due = now + 1000;
		return;
	}
	req_base(c, &c->rq, 64u << 20);
	c->rq.direct_path = c->note.direct_path;
	c->rq.type = "history";
	c->rq.media_key = c->note.media_key;
	c->rq.enc_sha256 = c->note.enc_sha256;
	c->rq.sha256 = c->note.sha256;
	if (dl_start(c, 1)) {
		hist_unload(c);
		c->hist_due = now + 1000;
	}
}

/* Wait for a running download (stopping). */
static void hist_stop(struct col *c)
{
	if (c->th_running) {
		pthread_join(c->th, NULL);
		c->th_running = 0;
	}
	if (c->job_loaded)
		hist_unload(c);
	cl_wa_media_job_release(&c->mjob);
	if (c->blob.data)
		sodium_memzero(c->blob.data, c->blob.alloc);
	cl_buf_release(&c->blob);
	free(c->dl_detail);
	c->dl_detail = NULL;
}

/* The media hosts from a media_conn reply. */
static void media_hosts(struct col *c, const struct cl_wa_node *n)
{
	const struct cl_wa_node *mc = cl_wa_node_child(n, "media_conn");
	size_t i;

	if (mc == NULL || mc->kind != CL_WA_LIST)
		return;
	for (i = 0; i < c->n_hosts; i++)
		free(c->hosts[i]);
	c->n_hosts = 0;
	for (i = 0; i < mc->nchildren && c->n_hosts < CL_WA_MEDIA_MAX_HOSTS;
	     i++) {
		const char *h = strcmp(mc->children[i]->tag, "host") == 0 ?
			cl_wa_node_attr_str(mc->children[i], "hostname") : NULL;

		if (h && *h && strlen(h) < 256 && !strpbrk(h, "/?#@ ") &&
		    (c->hosts[c->n_hosts] = strdup(h)) != NULL)
			c->n_hosts++;
	}
	log_info(c, "media hosts: %zu", c->n_hosts);
}

/* ---- message batches ----------------------------------------------------- */

static void held_drop(struct col *c)
{
	size_t i;

	for (i = 0; i < c->n_held; i++)
		cl_wa_node_free(c->held[i].reply);
	c->n_held = 0;
}

/* After the commit: count, log and alert each stanza's outcome. */
static void held_report(struct col *c, const struct held *h)
{
	switch (h->outcome) {
	case CL_WA_RECV_ARCHIVED:
		c->n_archived++;
		break;
	case CL_WA_RECV_DUPLICATE:
		c->n_dup++;
		break;
	case CL_WA_RECV_RETRY:
		c->n_retry++;
		log_info(c, "message %s not decrypted (%s): retry %d asked",
			 h->id, h->kind, h->retry);
		break;
	case CL_WA_RECV_ABANDONED: {
		json_t *a = json_pack("{s:s, s:s, s:s, s:s}", "alert",
				      "wa-decrypt-abandoned", "stanza_id",
				      h->id, "error", h->kind, "message",
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
}

/*
 * Commit the open batch of stanzas (one signed, fsynced commit), then,
 * and only then, send their receipts in arrival order (send = 0: the
 * connection is gone; WhatsApp redelivers them and they are receipted as
 * duplicates).  -1 when the commit or a send failed: nothing of a failed
 * commit is acknowledged.
 */
static int batch_flush(struct col *c, int send)
{
	char *err = NULL;
	size_t i, n = c->n_held;
	int rc, src = CL_OK;

	if (c->recv == NULL || cl_wa_recv_pending(c->recv) == 0) {
		held_drop(c);
		return 0;
	}
	rc = cl_wa_recv_commit(c->recv, &err);
	if (rc) {
		col_log(c, CL_WA_LOG_ERROR, "cannot commit %zu messages: %s",
			n, err ? err : cl_strerror(rc));
		free(err);
		held_drop(c);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct held *h = &c->held[i];

		held_report(c, h);
		if (send && src == CL_OK && h->reply && c->client)
			src = cl_wa_client_send_node(c->client, h->reply);
	}
	held_drop(c);
	state_set(c, "messages_archived", json_integer((json_int_t)c->n_archived));
	state_set(c, "last_message_at", ms_json(c->last_message_at));
	return src ? -1 : 0;
}

/* Decrypt and add to the open batch; the receipt goes out after the
 * batch's commit (batch_flush: BATCH_MS after its first stanza, at
 * BATCH_MAX stanzas, or before anything else writes to the ledger). */
static int on_message(struct col *c, const struct cl_wa_node *n, int64_t now)
{
	struct cl_wa_node *reply = NULL;
	struct cl_wa_recv_out out;
	struct held *h;
	const char *id;
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
		/* the batch was rolled back: no receipt for any of it,
		 * WhatsApp redelivers them after the reconnect this
		 * failure causes */
		col_log(c, CL_WA_LOG_ERROR, "cannot archive a message: %s",
			err ? err : cl_strerror(rc));
		free(err);
		held_drop(c);
		return -1;
	}
	if (c->n_held == 0) /* the batch's first: commit within BATCH_MS */
		cl_wa_conn_tick_in(c->conn, BATCH_MS);
	if (out.history_queued)
		c->hist_due = now;
	if (out.media_queued && c->media_due > now)
		c->media_due = now;
	h = &c->held[c->n_held++];
	h->reply = reply;
	h->outcome = out.outcome;
	h->retry = out.retry;
	memcpy(h->kind, out.kind, sizeof(h->kind));
	id = cl_wa_node_attr_str(n, "id");
	(void)cl_fmt(h->id, sizeof(h->id), "%s", id ? id : "");
	c->last_message_at = now;
	return c->n_held >= BATCH_MAX ? batch_flush(c, 1) : 0;
}

/* A group change: a record in the open batch, acknowledged after its
 * commit like a message's receipt. */
static int on_group(struct col *c, const struct cl_wa_node *n, int64_t now)
{
	struct cl_wa_node *ack = NULL;
	struct cl_wa_recv_out out;
	struct held *h;
	const char *id;
	char *err = NULL;
	int rc;

	if (c->recv == NULL)
		return 0;
	rc = cl_wa_recv_group(c->recv, n, now, &out, &err);
	if (rc == CL_EINVAL) {
		col_log(c, CL_WA_LOG_WARN, "group notification skipped: %s",
			err ? err : cl_strerror(rc));
		free(err);
		/* nothing to archive: acknowledged so it is not resent */
		return ack_now(c, n);
	}
	if (rc || (rc = cl_wa_client_ack_node(n, &ack))) {
		col_log(c, CL_WA_LOG_ERROR, "cannot archive a group change: %s",
			err ? err : cl_strerror(rc));
		free(err);
		if (rc == CL_ENOMEM)
			cl_wa_recv_rollback(c->recv);
		held_drop(c);
		return -1;
	}
	if (c->n_held == 0)
		cl_wa_conn_tick_in(c->conn, BATCH_MS);
	h = &c->held[c->n_held++];
	h->reply = ack;
	h->outcome = out.outcome;
	h->retry = 0;
	memcpy(h->kind, out.kind, sizeof(h->kind));
	id = cl_wa_node_attr_str(n, "id");
	(void)cl_fmt(h->id, sizeof(h->id), "%s", id ? id : "");
	return c->n_held >= BATCH_MAX ? batch_flush(c, 1) : 0;
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

		c->preview_msgs = -1;   /* a new connection's catch-up */
		c->offline_msgs = 0;
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
		if (c->recv)
			phone_stanza(c, ev->node, now);
		return 0;
	case CL_WA_EV_MESSAGE:
		if (cl_wa_node_attr_str(ev->node, "offline"))
			c->offline_msgs++;
		return on_message(c, ev->node, now);
	case CL_WA_EV_OFFLINE_PREVIEW:
		c->preview_msgs = (long long)ev->count;
		c->offline_msgs = 0;
		return 0;
	case CL_WA_EV_DEVICES: {
		json_t *alerts = NULL, *list = NULL;
		char *err = NULL;
		size_t i;
		int rc;

		if (c->ledger == NULL)
			return 0;
		if (batch_flush(c, 1)) /* its own batch follows */
			return -1;
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
		/* Fewer messages than the preview announced: a gap the
		 * archive must show (research §9: offline catch-up). */
		if (c->preview_msgs >= 0 &&
		    c->offline_msgs < (unsigned long long)c->preview_msgs) {
			if (batch_flush(c, 1))
				return -1;
			(void)coverage(c, "wa-offline-shortfall", json_pack(
				"{s:I, s:I, s:I}", "announced", (json_int_t)c->preview_msgs,
				"received", (json_int_t)c->offline_msgs,
				"missing", (json_int_t)((unsigned long long)c->preview_msgs -
							c->offline_msgs)));
		}
		c->preview_msgs = -1;
		return 0;
	case CL_WA_EV_MEDIA_CONN:
		media_hosts(c, ev->node);
		return 0;
	case CL_WA_EV_GROUP:
		return on_group(c, ev->node, now);
	case CL_WA_EV_MEDIA_RETRY:
		return on_media_retry(c, ev->node, now);
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
	x->c->conn = conn;
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
	x->c->conn = conn;
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
	c->conn = conn;
	if (c->n_held && batch_flush(c, 1))
		return -1;
	if (c->recv)
		phone_step(c, now);
	hist_step(c, now);
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
	c->conn = NULL;
	/* what is still batched is committed; its receipts cannot go out */
	(void)batch_flush(c, 0);
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
	c->ccfg.info.full_history = c->cfg.wa.full_history;
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
		/* a small page cache: a collector runs for months, and what
		 * it writes is appended (the OS caches the rest) */
		if (rc == CL_OK) {
			rc = cl_ledger_set_cache(c->ledger, CL_WA_CACHE_KIB, err);
			cl_ledger_on_low_space(c->ledger, col_space, c);
		}
		/* no receipt waits for a WAL checkpoint */
		if (rc == CL_OK)
			rc = cl_ledger_bg_checkpoint(c->ledger, err);
		if (rc == CL_OK)
			rc = cl_wa_recv_new(&c->recv, c->ledger, c->creds, key,
					    err);
		sodium_free(key);
		if (rc == CL_OK && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			rc = cl_error(err, CL_EIO, "cannot initialise libcurl");
		c->curl_inited = rc == CL_OK;
		if (rc == CL_OK)
			phone_load(c);
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
	c.preview_msgs = -1;
	c.o = o;
	pthread_mutex_init(&c.mu, NULL);
	cl_wa_hist_job_init(&c.job);
	cl_wa_hist_note_init(&c.note);
	cl_wa_media_job_init(&c.mjob);
	cl_buf_init(&c.blob, 64u << 20);
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
	held_drop(&c);
	hist_stop(&c);
	for (size_t i = 0; i < c.n_hosts; i++)
		free(c.hosts[i]);
	if (c.curl_inited)
		curl_global_cleanup();
	pthread_mutex_destroy(&c.mu);
	cl_wa_recv_free(c.recv);
	cl_ledger_close(c.ledger);
	json_decref(c.state);
	cl_wa_creds_free(c.creds);
	free(c.png);
	free(c.fatal_msg);
	return rc;
}
