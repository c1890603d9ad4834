/*
 * cmd_status.c - chatledger status: what the archive holds and how fresh,
 * and what the WhatsApp collector last reported (archiver/wa/status.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/export/select.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ingest/record.h"
#include "archiver/wa/status.h"
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
	if (w && st->has_device)
		json_object_set_new(w, "device", json_integer(st->device));
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
	printf("  phone seen not tracked yet (needs message decryption)\n");
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
	char *err = NULL;
	int c, rc, json = 0, have_wa;
	json_t *j;

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
		       "entries      %" PRIu64 " (%" PRIu64 " records, %" PRIu64 " tombstones, %"
		       PRIu64 " coverage, %" PRIu64 " control, %" PRIu64 " quarantined)\n"
		       "payloads     %" PRIu64 " sealed\n"
		       "checkpoint   size %" PRIu64 ", signed %s (%" PRIu64 " kept)\n"
		       "last entry   %s\n",
		       json_string_value(json_object_get(j, "origin")), s.entries,
		       s.by_type[CL_ENTRY_RECORD], s.by_type[CL_ENTRY_TOMBSTONE],
		       s.by_type[CL_ENTRY_COVERAGE], s.by_type[CL_ENTRY_CONTROL],
		       s.by_type[CL_ENTRY_QUARANTINE], s.payloads,
		       s.last_checkpoint_size, b1, s.checkpoints, b2);
		printf("access       %" PRIu64 " recorded reads of content (chatledger access list)\n",
		       n_access);
		if (s.by_type[CL_ENTRY_QUARANTINE])
			printf("attention    %" PRIu64 " quarantined items: show them with chatledger show --index (see chatledger-ingest(1))\n",
			       s.by_type[CL_ENTRY_QUARANTINE]);
		if (have_wa)
			wa_print(&wst);
	}
	cl_wa_status_release(&wst);
	json_decref(j);
	return EXIT_OK;
}
