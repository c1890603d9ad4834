/*
 * cmd_status.c - chatledger status: what the archive holds and how fresh,
 * what the WhatsApp collector last reported (archiver/wa/status.h), how
 * far the checkpoints are witnessed (archiver/witness/push.h), and how
 * long the archive's file system lasts at the current rate.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "archiver/export/select.h"
#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ingest/record.h"
#include "archiver/sources/webhook.h"
#include "archiver/sources/wechat_status.h"
#include "archiver/wa/phone.h"
#include "archiver/wa/status.h"
#include "archiver/witness/push.h"
#include "archiver/replicate/replicate.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static json_t *time_or_null(int64_t ms)
{
	char b[32];

	if (ms == CL_TIME_NONE)
		return json_null();
	cl_time_format(ms, b);
	return json_string(b);
}

/* A string or JSON null. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/*
 * The collector's section of status --json, from what it last reported
 * (archiver/wa/status.h).  Credentials are not read: status needs no
 * secret.
 */
static json_t *wa_json(const struct cl_wa_status *st)
{
	json_t *w;

	w = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:n, s:n}",
		      "state", str_or_null(st->state),
		      "jid", str_or_null(st->jid),
		      "lid", str_or_null(st->lid),
		      "paired_at", time_or_null(st->paired_at),
		      "connected_since", time_or_null(st->connected_since),
		      "last_stanza_at", time_or_null(st->last_stanza_at),
		      "gap_open_since", time_or_null(st->gap_open_since),
		      "last_end_reason", str_or_null(st->last_end_reason),
		      "server_offset_ms", st->has_server_offset ?
		      json_integer((json_int_t)st->server_offset_ms) : json_null(),
		      "logged_out_code", st->has_logged_out_code ?
		      json_integer((json_int_t)st->logged_out_code) : json_null(),
		      "updated_at", time_or_null(st->updated_at),
		      "phone_last_seen_at", "days_to_logout_cutoff");
	if (w && st->phone_last_seen != CL_TIME_NONE) {
		json_object_set_new(w, "phone_last_seen_at",
				    time_or_null(st->phone_last_seen));
		json_object_set_new(w, "days_to_logout_cutoff", json_integer(
			(json_int_t)((st->phone_last_seen +
				      CL_WA_PHONE_CUTOFF_MS - cl_time_now_ms()) /
				     (24LL * 3600 * 1000))));
		json_object_set_new(w, "phone_warning_at",
				    time_or_null(st->phone_warning_at));
	}
	if (w && st->has_device)
		json_object_set_new(w, "device", json_integer(st->device));
	if (w && st->devices)
		json_object_set_new(w, "devices", json_loads(st->devices, 0, NULL));
	if (w && st->has_messages)
		json_object_set_new(w, "messages_archived",
				    json_integer((json_int_t)st->messages_archived));
	return w;
}

/* The time as RFC 3339 into b, or `dflt`. */
static const char *time_or(int64_t ms, char b[32], const char *dflt)
{
	if (ms == CL_TIME_NONE)
		return dflt;
	cl_time_format(ms, b);
	return b;
}

static void wa_print(const struct cl_wa_status *st)
{
	const char *state = st->state ? st->state : "unknown";
	char b[32];

	printf("whatsapp     %s\n",
	       strcmp(state, "logged-out") == 0 ?
	       "logged out: WhatsApp unlinked this device; credentials deleted; run chatledger pair" :
	       state);
	printf("  linked as  %s\n", st->jid ? st->jid : "(not linked)");
	printf("  connected  %s\n", time_or(st->connected_since, b, "no"));
	printf("  last stanza %s\n", time_or(st->last_stanza_at, b, "never"));
	if (st->gap_open_since != CL_TIME_NONE)
		printf("  open gap   since %s (%s)\n",
		       time_or(st->gap_open_since, b, ""),
		       st->last_end_reason ? st->last_end_reason :
		       "not connected");
	else
		printf("  open gap   none\n");
	if (st->has_messages)
		printf("  messages   %lld archived by the last run\n",
		       (long long)st->messages_archived);
	if (st->devices) {
		json_t *a = json_loads(st->devices, 0, NULL);
		size_t i;

		printf("  devices    %zu linked to the number\n", json_array_size(a));
		for (i = 0; i < json_array_size(a); i++) {
			json_t *d = json_array_get(a, i);

			printf("    %-22s first seen %s, last seen %s\n",
			       json_string_value(json_object_get(d, "device")),
			       json_string_value(json_object_get(d, "first_seen")),
			       json_string_value(json_object_get(d, "last_seen")));
		}
		json_decref(a);
	}
	if (st->phone_last_seen == CL_TIME_NONE) {
		printf("  phone last seen unknown\n");
	} else {
		printf("  phone last seen %s\n",
		       time_or(st->phone_last_seen, b, ""));
		if (st->phone_warning_at != CL_TIME_NONE)
			printf("  WARNING    the phone has not been online for 12 days "
			       "(warned %s): open WhatsApp on it, or WhatsApp "
			       "logs this collector out 14 days after it was "
			       "last seen\n", time_or(st->phone_warning_at, b, ""));
	}
}

static int count_access(void *ctx, uint64_t index, const struct cl_leaf *lf,
			const json_t *body, const json_t *sealed)
{
	(void)index;
	(void)lf;
	(void)body;
	(void)sealed;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* The public body of the latest retention-report entry (retain). */
static int last_report(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		       const unsigned char *attrs, size_t alen, int has_payload)
{
	json_t **out = ctx;
	struct cl_leaf lf;
	char *e = NULL;

	(void)index;
	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, n, &lf, &e) != CL_OK) {
		free(e);
		return CL_OK;   /* verify reports it */
	}
	if (strcmp(lf.kind, "retention-report") == 0) {
		json_t *b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);

		if (b) {
			const char *now;
			char ran[32];
			int64_t now_ms;

			/* when it ran (the entry's logged time), beside the
			 * time it decided at ("now", which --now can move);
			 * "moved" when they are more than an hour apart */
			cl_time_format(lf.logged_at, ran);
			json_object_set_new(b, "ran_at", json_string(ran));
			now = json_string_value(json_object_get(b, "now"));
			json_object_set_new(b, "moved", json_boolean(
				now && cl_time_parse(now, strlen(now), &now_ms) == CL_OK &&
				(now_ms - lf.logged_at > 3600000 || lf.logged_at - now_ms > 3600000)));
			json_decref(*out);
			*out = b;
		}
	}
	return CL_OK;
}

/* "witnessed up to size N at T by k of n", alerts and failing witnesses. */
static void witness_print(const json_t *w, uint64_t latest)
{
	json_int_t size = json_integer_value(json_object_get(w, "size"));
	json_int_t alerts = json_integer_value(json_object_get(w, "alerts"));
	json_int_t failing = json_integer_value(json_object_get(w, "failing"));
	json_int_t tsize = json_integer_value(json_object_get(w, "timestamped_size"));

	if (size > 0)
		printf("witness      witnessed up to size %" JSON_INTEGER_FORMAT " at %s by %"
		       JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " (quorum %"
		       JSON_INTEGER_FORMAT ")%s\n", size,
		       json_string_value(json_object_get(w, "at")),
		       json_integer_value(json_object_get(w, "by")),
		       json_integer_value(json_object_get(w, "of")),
		       json_integer_value(json_object_get(w, "quorum")),
		       (uint64_t)size < latest ? "; the latest checkpoint is not witnessed yet" : "");
	else
		printf("witness      never witnessed (%" JSON_INTEGER_FORMAT " witnesses configured;"
		       " run chatledger witness push)\n",
		       json_integer_value(json_object_get(w, "of")));
	if (tsize > 0)
		printf("timestamped  up to size %" JSON_INTEGER_FORMAT " at %s (RFC 3161)\n",
		       tsize, json_string_value(json_object_get(w, "timestamped_at")));
	if (failing > 0)
		printf("attention    %" JSON_INTEGER_FORMAT " witnesses failing (unreachable or"
		       " refusing); see the witness-* coverage entries\n", failing);
	if (alerts > 0)
		printf("ALERT        %" JSON_INTEGER_FORMAT " witness consistency refusals: a fork"
		       " or rollback of this archive was presented to a witness (evidence kept;"
		       " see SECURITY.md)\n", alerts);
}

/* "2026-01-02T03:04:05.000Z" or "never" */
static const char *when_ms(json_int_t ms, char buf[32])
{
	if (ms <= 0)
		return "never";
	cl_time_format((int64_t)ms, buf);
	return buf;
}

static const char *when(const json_t *o, const char *key, char buf[32])
{
	return when_ms(json_integer_value(json_object_get(o, key)), buf);
}

/* Which WeChat route covers what, its last delivery, its holes. */
static void wechat_print(const json_t *w)
{
	const json_t *r = json_object_get(w, "routes");
	const json_t *a = json_object_get(r, "A"), *b = json_object_get(r, "B");
	const json_t *c = json_object_get(r, "C"), *m = json_object_get(w, "media");
	const json_t *wf = json_object_get(b, "failed_windows");
	const json_t *kf = json_object_get(c, "kf_failures");
	char t1[32], t2[32];
	json_int_t n;

	printf("wechat A     %s: last push %s, %" JSON_INTEGER_FORMAT " records\n",
	       json_string_value(json_object_get(a, "name")), when(a, "last_push", t1),
	       json_integer_value(json_object_get(a, "records")));
	printf("               covers: %s\n               cannot: %s\n",
	       json_string_value(json_object_get(a, "covers")),
	       json_string_value(json_object_get(a, "cannot")));
	printf("wechat B     %s: pulled up to %s (last pull %s)\n",
	       json_string_value(json_object_get(b, "name")), when(b, "pulled_to", t1),
	       when(b, "last_pull", t2));
	if ((n = json_integer_value(json_object_get(wf, "count"))) > 0) {
		const json_t *l = json_object_get(wf, "last");

		printf("attention    route B: %" JSON_INTEGER_FORMAT " windows could not be pulled"
		       " (wechat-window-failed coverage entries); the latest %s .. %s, errcode %"
		       JSON_INTEGER_FORMAT "\n", n,
		       when_ms(json_integer_value(json_object_get(l, "start")) * 1000, t1),
		       when_ms(json_integer_value(json_object_get(l, "end")) * 1000, t2),
		       json_integer_value(json_object_get(l, "errcode")));
	}
	printf("               covers: %s\n               cannot: %s\n",
	       json_string_value(json_object_get(b, "covers")),
	       json_string_value(json_object_get(b, "cannot")));
	printf("wechat C     %s: last callback %s, %" JSON_INTEGER_FORMAT " records; %"
	       JSON_INTEGER_FORMAT " 微信客服 accounts, last sync_msg %s\n",
	       json_string_value(json_object_get(c, "name")), when(c, "last_push", t1),
	       json_integer_value(json_object_get(c, "records")),
	       json_integer_value(json_object_get(c, "kf_accounts")), when(c, "kf_last_pull", t2));
	if ((n = json_integer_value(json_object_get(kf, "count"))) > 0)
		printf("attention    route C: %" JSON_INTEGER_FORMAT " kf/sync_msg pulls failed"
		       " (wechat-kf-sync-failed coverage entries), the latest at %s\n", n,
		       when(kf, "last_at", t1));
	printf("               covers: %s\n               cannot: %s\n",
	       json_string_value(json_object_get(c, "covers")),
	       json_string_value(json_object_get(c, "cannot")));
	printf("wechat media %" JSON_INTEGER_FORMAT " downloads queued, %" JSON_INTEGER_FORMAT
	       " failed attempts, %" JSON_INTEGER_FORMAT " expired (coverage entries)\n",
	       json_integer_value(json_object_get(m, "pending")),
	       json_integer_value(json_object_get(json_object_get(m, "failed"), "count")),
	       json_integer_value(json_object_get(json_object_get(m, "expired"), "count")));
	printf("wechat       not captured: %s\n",
	       json_string_value(json_array_get(json_object_get(w, "not_captured"), 0)));
}

static void repl_print(const struct cl_repl_state *r, uint64_t entries)
{
	char b[32] = "never";

	if (r->ok_at)
		cl_time_format(r->ok_at, b);
	printf("replication: %" PRIu64 "/%" PRIu64 " entries off-site, %" PRIu64
	       " behind; last success %s; %s\n", r->replicated, entries,
	       entries > r->replicated ? entries - r->replicated : 0, b,
	       r->failing_since ? "FAILING" : "ok");
	if (r->failing_since) {
		cl_time_format(r->failing_since, b);
		printf("%s  replication failing since %s: %s\n", r->alert ? "ALERT" : "attention",
		       b, r->error);
	}
}

/* ---- the archive's file system ---------------------------------------- */

struct disk {
	int ok;                 /* statvfs answered */
	struct cl_disk_space sp; /* free, total, read-only (an auditor's copy), low */
	uint64_t archive;       /* ledger.db and its WAL */
	double per_day;         /* entries a day over the growth window, or 0 */
	double days_left;       /* at that rate, or < 0 when unknown */
};

#define DISK_MIN_WINDOW_MS (3600LL * 1000)

static void disk_read(const char *dir, const struct cl_ledger_stats *s, struct disk *d)
{
	static const char *const files[] = { "ledger.db", "ledger.db-wal" };
	struct stat st;
	size_t i;
	int64_t now = cl_time_now_ms();

	memset(d, 0, sizeof(*d));
	d->days_left = -1;
	if (cl_disk_space(dir, &d->sp) != CL_OK)
		return;
	d->ok = 1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[4096];

		if (cl_fmt(path, sizeof(path), "%s/%s", dir, files[i]) == 0 &&
		    stat(path, &st) == 0)
			d->archive += (uint64_t)st.st_size;
	}
	/* Bytes an entry takes on average, times entries a day over the
	 * window (a week, or the archive's life when younger). */
	if (!d->sp.read_only && s->window_at != CL_TIME_NONE &&
	    now - s->window_at >= DISK_MIN_WINDOW_MS &&
	    s->entries > s->window_size && s->entries > 0) {
		double days = (double)(now - s->window_at) / 86400000.0;
		double per_entry = (double)d->archive / (double)s->entries;

		d->per_day = (double)(s->entries - s->window_size) / days;
		if (d->per_day * per_entry > 0)
			d->days_left = (double)d->sp.free / (d->per_day * per_entry);
	}
}

static json_t *disk_json(const struct disk *d)
{
	return json_pack("{s:I, s:I, s:I, s:b, s:b, s:o, s:o}",
			 "free_bytes", (json_int_t)d->sp.free,
			 "total_bytes", (json_int_t)d->sp.total,
			 "archive_bytes", (json_int_t)d->archive,
			 "low", d->sp.low,
			 "read_only", d->sp.read_only,
			 "entries_per_day", d->per_day > 0 ? json_real(d->per_day) : json_null(),
			 "days_left", d->days_left >= 0 ? json_integer((json_int_t)d->days_left)
			 : json_null());
}

static void disk_print(const struct disk *d)
{
	char f[16], t[16], a[16];

	if (d->sp.read_only) {
		printf("disk         read-only file system; archive %s\n",
		       cl_fmt_bytes(d->archive, a));
		return;
	}
	printf("disk         %s free of %s (%.0f%%) on the archive's file system; archive %s",
	       cl_fmt_bytes(d->sp.free, f), cl_fmt_bytes(d->sp.total, t),
	       d->sp.total ? 100.0 * (double)d->sp.free / (double)d->sp.total : 0.0,
	       cl_fmt_bytes(d->archive, a));
	if (d->days_left >= 0) {
		long long days = (long long)d->days_left, per = llround(d->per_day);

		if (days > 36500)
			printf("; more than 100 years left at ");
		else
			printf("; about %lld day%s left at ", days, CL_S(days));
		if (d->per_day < 9.95)   /* a quiet archive: "0.4 entries a day" */
			printf("%.1f entries a day", d->per_day);
		else
			printf("%lld entries a day", per);
	}
	putchar('\n');
	if (d->sp.low)
		printf("attention    the archive's file system is low on space (%s free): when it is"
		       " full, writers store nothing (webhook and wechat serve answer 500 so the"
		       " sender retries; ingest stops and a re-run skips what was stored);"
		       " add space or move the archive\n", cl_fmt_bytes(d->sp.free, f));
}

int cmd_status(int argc, char **argv, struct cli_ctx *ctx)
{
	uint64_t n_access = 0;
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_ledger *l;
	struct cl_ledger_stats s;
	struct cl_wa_status wst;
	struct cl_webhook_status wh;
	char *err = NULL;
	int c, rc, json = 0, have_wa, have_repl;
	struct cl_repl_state rst;
	struct disk dk;
	json_t *j, *rep;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'j')
		json = 1;
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	l = ctx->ledger;
	if ((rc = cl_ledger_stats(l, &s, &err)))
		return cli_fail_rc("status", rc, err);
	j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:b}",
		      "origin", cl_ledger_origin(l),
		      "entries", (json_int_t)s.entries,
		      "records", (json_int_t)s.by_type[CL_ENTRY_RECORD],
		      "tombstones", (json_int_t)s.by_type[CL_ENTRY_TOMBSTONE],
		      "coverage", (json_int_t)s.by_type[CL_ENTRY_COVERAGE],
		      "control", (json_int_t)s.by_type[CL_ENTRY_CONTROL],
		      "quarantined", (json_int_t)s.by_type[CL_ENTRY_QUARANTINE],
		      "payloads", (json_int_t)s.payloads,
		      "checkpoints", (json_int_t)s.checkpoints,
		      "checkpoint_size", (json_int_t)s.last_checkpoint_size,
		      "checkpoint_at", time_or_null(s.last_checkpoint_at),
		      "last_entry_at", time_or_null(s.last_logged_at),
		      "unsigned_tail", s.last_checkpoint_size != s.entries);
	if (j == NULL)
		return cli_fail("status", "out of memory");
	json_object_set_new(j, "format", json_integer(cl_ledger_format(l)));
	disk_read(ctx->archive, &s, &dk);
	if (dk.ok)
		json_object_set_new(j, "disk", disk_json(&dk));
	{
		/* Witnessing: what is stored, against what is configured. */
		struct cl_wcfg *wc = calloc(1, sizeof(*wc));
		struct cl_witness_summary ws;
		char *werr = NULL;

		if (wc && cl_wcfg_load(ctx->archive, wc, &werr) == CL_OK &&
		    cl_witness_summary(l, &ws, NULL) == CL_OK &&
		    (wc->n > 0 || ws.size > 0 || wc->tsa_url[0] || ws.tsa_size > 0)) {
			json_t *w = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o}",
					      "size", (json_int_t)ws.size,
					      "by", (json_int_t)ws.by,
					      "of", (json_int_t)wc->n,
					      "quorum", (json_int_t)wc->quorum,
					      "alerts", (json_int_t)ws.alerts,
					      "at", ws.size ? time_or_null(ws.at * 1000) : json_null(),
					      "failing", (json_int_t)ws.failing,
					      "timestamped_size", (json_int_t)ws.tsa_size,
					      "timestamped_at", ws.tsa_size ?
					      time_or_null(ws.tsa_time * 1000) : json_null());

			if (w)
				json_object_set_new(j, "witness", w);
		}
		free(werr);
		free(wc);
	}
	/* the WhatsApp Business Platform webhook: its last delivery */
	cl_webhook_status(l, &wh);
	if (wh.have)
		json_object_set_new(j, "webhook", json_pack("{s:I, s:o, s:I}",
			"records", (json_int_t)wh.records,
			"last_delivery", wh.last_ms ? time_or_null(wh.last_ms) : json_null(),
			"media_queued", (json_int_t)wh.media_queued));
	{
		json_t *wx = NULL;
		char *xerr = NULL;

		if (cl_wx_status(l, &wx, &xerr) == CL_OK && wx)
			json_object_set_new(j, "wechat", wx);
		free(xerr);
	}
	/* access entries (archiver/export/select.h): who read content */
	if ((rc = cl_access_each(l, NULL, count_access, &n_access, &err))) {
		json_decref(j);
		return cli_fail_rc("status", rc, err);
	}
	json_object_set_new(j, "access", json_integer((json_int_t)n_access));
	/* no collector state (never ran, unreadable): no whatsapp section */
	have_wa = cl_wa_status_read(ctx->archive, &wst, NULL) == CL_OK;
	if (have_wa)
		json_object_set_new(j, "whatsapp", wa_json(&wst));
	rep = NULL;
	if (cl_ledger_each(l, CL_ENTRY_CONTROL, last_report, &rep, &err) != CL_OK) {
		free(err);
		err = NULL;
	}
	json_object_set_new(j, "retention", rep ? json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}",
		"last_run", json_object_get(rep, "now"), "ran_at", json_object_get(rep, "ran_at"),
		"policy", json_object_get(rep, "policy"),
		"erased", json_object_get(rep, "erased"), "held", json_object_get(rep, "held"),
		"no_rule", json_object_get(rep, "no_rule")) : json_null());
	/* off-site replication (archiver/replicate): lag and health */
	have_repl = cl_repl_state_load(ctx->archive, &rst, NULL) == CL_OK;
	if (have_repl)
		json_object_set_new(j, "replication", json_pack("{s:I, s:I, s:b, s:s, s:I}",
			"replicated", (json_int_t)rst.replicated,
			"behind", (json_int_t)(s.entries > rst.replicated ? s.entries - rst.replicated : 0),
			"failing", rst.failing_since != 0, "error", rst.error,
			"failing_since_ms", (json_int_t)rst.failing_since));
	if (json) {
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		char b1[32] = "never", b2[32] = "never";

		if (s.last_checkpoint_at != CL_TIME_NONE)
			cl_time_format(s.last_checkpoint_at, b1);
		if (s.last_logged_at != CL_TIME_NONE)
			cl_time_format(s.last_logged_at, b2);
		printf("archive      %s\n"
		       "entries      %" PRIu64 " (%" PRIu64 " record%s, %" PRIu64 " tombstone%s, %"
		       PRIu64 " coverage, %" PRIu64 " control, %" PRIu64 " quarantined)\n"
		       "payloads     %" PRIu64 " sealed\n"
		       "checkpoint   size %" PRIu64 ", signed %s (%" PRIu64 " kept)\n"
		       "last entry   %s\n",
		       json_string_value(json_object_get(j, "origin")), s.entries,
		       s.by_type[CL_ENTRY_RECORD], CL_S(s.by_type[CL_ENTRY_RECORD]),
		       s.by_type[CL_ENTRY_TOMBSTONE], CL_S(s.by_type[CL_ENTRY_TOMBSTONE]),
		       s.by_type[CL_ENTRY_COVERAGE], s.by_type[CL_ENTRY_CONTROL],
		       s.by_type[CL_ENTRY_QUARANTINE], s.payloads,
		       s.last_checkpoint_size, b1, s.checkpoints, b2);
		/* An archive of an older format is upgraded by the next
		 * write; releases before this one then refuse it. */
		if (cl_ledger_format(l) < CL_ARCHIVE_FORMAT)
			printf("format       %d (the next write upgrades it to %d; a chatledger"
			       " that reads only format %d then refuses it: FORMAT.md section 10)\n",
			       cl_ledger_format(l), CL_ARCHIVE_FORMAT, cl_ledger_format(l));
		else
			printf("format       %d\n", cl_ledger_format(l));
		printf("access       %" PRIu64 " recorded reads of content (chatledger access list)\n",
		       n_access);
		if (dk.ok)
			disk_print(&dk);
		if (s.by_type[CL_ENTRY_QUARANTINE])
			printf("attention    %" PRIu64 " quarantined items: show them with chatledger show --index (see chatledger-ingest(1))\n",
			       s.by_type[CL_ENTRY_QUARANTINE]);
		if (rep && json_object_get(rep, "no_rule")) {
			const char *at = json_string_value(json_object_get(rep, "now"));
			const char *ran = json_string_value(json_object_get(rep, "ran_at"));
			char as_of[64] = "";

			/* a run with --now decided at another time than it ran */
			if (at && ran && json_is_true(json_object_get(rep, "moved"))) {
				(void)cl_fmt(as_of, sizeof(as_of), ", deciding as of %s", at);
				at = ran;
			}
			printf("retention    last run %s (policy %s%s): %lld erased, %lld held, "
			       "%lld records matched by no rule (kept by the default)\n",
			       at, json_string_value(json_object_get(rep, "policy")), as_of,
			       (long long)json_integer_value(json_object_get(rep, "erased")),
			       (long long)json_integer_value(json_object_get(rep, "held")),
			       (long long)json_integer_value(json_object_get(rep, "no_rule")));
		} else {
			printf("retention    no run recorded yet (chatledger retain)\n");
		}
		if (json_object_get(j, "witness"))
			witness_print(json_object_get(j, "witness"), s.last_checkpoint_size);
		if (have_wa)
			wa_print(&wst);
		if (wh.have) {
			printf("webhook      WhatsApp Business Platform (webhook): ");
			if (wh.last_ms) {
				char at[32];

				cl_time_format(wh.last_ms, at);
				printf("last delivery stored %s, %" PRIu64 " %s from deliveries in all",
				       at, wh.records, CL_PL(wh.records, "record", "records"));
			} else {
				printf("no delivery stored yet");
			}
			printf("; %" PRIu64 " media %s queued\n", wh.media_queued,
			       CL_PL(wh.media_queued, "download", "downloads"));
		}
		if (json_object_get(j, "wechat"))
			wechat_print(json_object_get(j, "wechat"));
		if (have_repl)
			repl_print(&rst, s.entries);
	}
	json_decref(rep);
	cl_wa_status_release(&wst);
	json_decref(j);
	return EXIT_OK;
}
