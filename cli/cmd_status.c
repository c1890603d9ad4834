/*
 * cmd_status.c - chatledger status: what the archive holds and how fresh.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ingest/record.h"
#include "archiver/wa/binary.h"
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

/*
 * The collector's view from DIR/wa/state.json (written by pair/collect),
 * or NULL when the archive never ran a collector.  Credentials are not
 * read: status needs no secret.
 */
static json_t *wa_status(const char *dir)
{
	char *path = NULL;
	json_error_t je;
	json_t *st, *w;
	const char *jid;
	struct cl_wa_jid pj;

	if (asprintf(&path, "%s/wa/state.json", dir) < 0)
		return NULL;
	st = json_load_file(path, 0, &je);
	free(path);
	if (st == NULL || !json_is_object(st)) {
		json_decref(st);
		return NULL;
	}
	w = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:n, s:n}",
		      "state", json_object_get(st, "state"),
		      "jid", json_object_get(st, "jid"),
		      "lid", json_object_get(st, "lid"),
		      "paired_at", json_object_get(st, "paired_at"),
		      "connected_since", json_object_get(st, "connected_since"),
		      "last_stanza_at", json_object_get(st, "last_stanza_at"),
		      "gap_open_since", json_object_get(st, "gap_open_since"),
		      "last_end_reason", json_object_get(st, "last_end_reason"),
		      "server_offset_ms", json_object_get(st, "server_offset_ms"),
		      "logged_out_code", json_object_get(st, "logged_out_code"),
		      "updated_at", json_object_get(st, "updated_at"),
		      "phone_last_seen_at", "days_to_logout_cutoff");
	jid = json_string_value(json_object_get(st, "jid"));
	if (w && jid && cl_wa_jid_parse(jid, strlen(jid), &pj) == CL_OK &&
	    pj.form == CL_WA_JID_AD)
		json_object_set_new(w, "device", json_integer(pj.device));
	json_decref(st);
	return w;
}

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

static void wa_print(const json_t *w)
{
	const char *state = jstr(w, "state", "unknown");

	printf("whatsapp     %s\n",
	       strcmp(state, "logged-out") == 0 ?
	       "logged out: WhatsApp unlinked this device; credentials deleted; run chatledger pair" :
	       state);
	printf("  linked as  %s\n", jstr(w, "jid", "(not linked)"));
	printf("  connected  %s\n", jstr(w, "connected_since", "no"));
	printf("  last stanza %s\n", jstr(w, "last_stanza_at", "never"));
	if (json_is_string(json_object_get(w, "gap_open_since")))
		printf("  open gap   since %s (%s)\n",
		       jstr(w, "gap_open_since", ""),
		       jstr(w, "last_end_reason", "not connected"));
	else
		printf("  open gap   none\n");
	printf("  phone seen not tracked yet (needs message decryption)\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL;
	struct cl_ledger *l = NULL;
	struct cl_ledger_stats s;
	char *err = NULL;
	int c, rc, json = 0;
	json_t *j, *wa;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'j': json = 1; break;
		case 'h': cli_usage("status", stdout); return EXIT_OK;
		default: cli_usage("status", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage("status", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_ledger_open(archive, CL_OPEN_READ, &l, &err)))
		return cli_fail_rc("status", rc, err);
	rc = cl_ledger_stats(l, &s, &err);
	if (rc) {
		cl_ledger_close(l);
		return cli_fail_rc("status", rc, err);
	}
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
	cl_ledger_close(l);
	if (j == NULL)
		return cli_fail("status", "out of memory");
	wa = wa_status(archive);
	if (wa)
		json_object_set_new(j, "whatsapp", wa);
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
		if (s.by_type[CL_ENTRY_QUARANTINE])
			printf("attention    %" PRIu64 " quarantined items: show them with chatledger show --index (see chatledger-ingest(1))\n",
			       s.by_type[CL_ENTRY_QUARANTINE]);
		if (wa)
			wa_print(wa);
	}
	json_decref(j);
	return EXIT_OK;
}
