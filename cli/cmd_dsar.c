/*
 * cmd_dsar.c - chatledger dsar: PDPO data access requests (dsar.h): record
 * the request and write the party's records; list open requests with the
 * days left; record the reply.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/export/bundle.h"
#include "archiver/export/dsar.h"
#include "archiver/export/select.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define DAY_MS 86400000LL

static int dsar_request(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "party", required_argument, NULL, 'p' },
		{ "received", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *party = NULL, *out = NULL;
	int64_t received = CL_TIME_NONE, deadline = 0;
	uint64_t id = 0;
	struct cl_dsar_write_opts w;
	struct cl_bundle_result res;
	unsigned char *sk = NULL;
	char *err = NULL, dl[32];
	int c, rc, code, json = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'p': party = optarg; break;
		case 'o': out = optarg; break;
		case 'j': json = 1; break;
		case 'r':
			if (strlen(optarg) != 10 || cli_time(optarg, &received))
				return cli_fail("dsar", "--received must be a date (YYYY-MM-DD)");
			break;
		}
	}
	if (!cli_ready(ctx, c, party && out && received != CL_TIME_NONE, 0))
		return ctx->code;
	if (*party == 0)
		return cli_fail("dsar", "--party must not be empty");
	/* Refused before the request is recorded: nothing is overwritten. */
	if (access(out, F_OK) == 0)
		return cli_fail("dsar", "--out: %s exists; refusing to overwrite", out);
	if ((code = cli_unlock(ctx, &sk)) != EXIT_OK)
		return code;
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	/* The request first (its deadline runs from receipt, whatever
	 * happens next); the bundle writer records the access (command
	 * "dsar", the request id) before it reveals anything. */
	if ((rc = cl_dsar_request(ctx->ledger, party, received, cli_who(), &id, &deadline,
				  &err))) {
		code = cli_fail_rc("dsar", rc, err);
		goto out;
	}
	memset(&w, 0, sizeof(w));
	w.id = id;
	w.party = party;
	w.received = received;
	w.out = out;
	w.who = cli_who();
	w.now_ms = cl_time_now_ms();
	w.reason = ctx->reason;
	if ((rc = cl_dsar_write(ctx->ledger, sk, &w, &res, &err))) {
		code = cli_fail_rc("dsar", rc, err);
		goto out;
	}
	cl_time_format(deadline, dl);
	dl[10] = 0;
	if (json) {
		json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I}",
				      "access", (json_int_t)res.access_index,
				      "deadline", dl, "id", (json_int_t)id, "out", out,
				      "records", (json_int_t)res.records,
				      "attachments", (json_int_t)res.attachments,
				      "redacted", (json_int_t)res.redacted,
				      "checkpoint_size", (json_int_t)res.size);

		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else
		printf("data access request %" PRIu64 " recorded; reply due by %s (PDPO s.19,"
		       " %d days)\n%" PRIu64 " record%s and %" PRIu64 " attachment%s written to %s"
		       " (access entry %" PRIu64 "); %" PRIu64 " redacted (other people's"
		       " group-chat messages, content withheld)\n",
		       id, dl, CL_DSAR_DAYS, res.records, CL_S(res.records), res.attachments,
		       CL_S(res.attachments), out, res.access_index, res.redacted);
	code = cli_finish_stdout(EXIT_OK);
out:
	sodium_free(sk);
	return code;
}

struct list_ctx {
	int json, all;
	int64_t today;
	size_t shown;
};

static int on_req(void *ctx, const struct cl_dsar_info *d)
{
	struct list_ctx *c = ctx;
	char rcv[32], dl[32];
	long long left = (long long)((d->deadline - c->today) / DAY_MS);
	int open = d->closed_at == CL_TIME_NONE;

	if (!open && !c->all)
		return 0;
	c->shown++;
	cl_time_format(d->received, rcv);
	cl_time_format(d->deadline, dl);
	rcv[10] = dl[10] = 0;
	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:b, s:O}", "id", (json_int_t)d->id,
				      "received", rcv, "deadline", dl, "days_left",
				      (json_int_t)left, "open", open, "party", d->party_tokens);

		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (open) {
		printf("%" PRIu64 "\treceived %s\tdue %s\t%lld days left%s\n", d->id, rcv, dl,
		       left, left < 0 ? " (OVERDUE)" : "");
	} else {
		printf("%" PRIu64 "\treceived %s\tdue %s\tclosed (entry %" PRIu64 ")\n", d->id,
		       rcv, dl, d->close_index);
	}
	return 0;
}

static int dsar_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'A' },
		{ "now", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_ctx lc;
	char *err = NULL;
	int c, rc;

	memset(&lc, 0, sizeof(lc));
	lc.today = cl_time_now_ms();
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 'j')
			lc.json = 1;
		else if (c == 'A')
			lc.all = 1;
		else if (c == 'n' && cli_time(optarg, &lc.today))
			return cli_fail("dsar", "--now must be a date or RFC 3339 time");
	}
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	/* days left count from the start of today (UTC) */
	lc.today -= lc.today % DAY_MS;
	if ((rc = cl_dsar_each(ctx->ledger, on_req, &lc, &err)))
		return cli_fail_rc("dsar", rc, err);
	if (!lc.json && lc.shown == 0)
		printf("no open data access requests\n");
	return cli_finish_stdout(EXIT_OK);
}

static int dsar_close(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "id", required_argument, NULL, 'i' },
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long id = 0;
	const char *note = NULL;
	uint64_t idx = 0;
	int have_id = 0, c, rc;
	char *err = NULL;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 'i') {
			if (cli_u64(optarg, &id))
				return cli_fail("dsar", "--id must be a request id (an entry index)");
			have_id = 1;
		} else if (c == 'n') {
			note = optarg;
		}
	}
	if (!cli_ready(ctx, c, have_id && note, CLI_SETUP_ALL))
		return ctx->code;
	if ((rc = cl_dsar_close(ctx->ledger, id, note, cli_who(), &idx, &err)))
		return cli_fail_rc("dsar", rc, err);
	printf("data access request %llu closed (entry %" PRIu64 ")\n", id, idx);
	return cli_finish_stdout(EXIT_OK);
}

int cmd_dsar(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "list", dsar_list, CLI_NEEDS_READER },
		{ "close", dsar_close, CLI_NEEDS_WRITER },
		{ NULL, NULL, 0 }
	};

	if (argc >= 2 && (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "close") == 0))
		return cli_subcommand(ctx, argc, argv, subs);
	ctx->flags |= CLI_NEEDS_WRITER | CLI_NEEDS_PASSPHRASE;
	return dsar_request(argc, argv, ctx);
}
