/*
 * cmd_hold.c - chatledger hold add|list|release: legal and regulator holds.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "archiver/officers/officers.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_SEL 256

static int hold_add(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "party", required_argument, NULL, 'p' },
		{ "participant", required_argument, NULL, 'p' },
		{ "allow-empty", no_argument, NULL, 'E' },
		{ "conversation", required_argument, NULL, 'C' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "until", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 }
	};
	const char *case_id = NULL, *reason = NULL, *parts[MAX_SEL], *convs[MAX_SEL];
	size_t np = 0, nc = 0;
	int64_t from = CL_TIME_NONE, to = CL_TIME_NONE, until = CL_TIME_NONE;
	uint64_t idx = 0;
	struct cl_cover cov;
	char *err = NULL, f[32] = "-", t[32] = "-";
	int c, rc, allow_empty = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'c': case_id = optarg; break;
		case 'E': allow_empty = 1; break;
		case 'r': reason = optarg; break;
		case 'p':
			if (np == MAX_SEL)
				return cli_fail("hold", "at most %d --party", MAX_SEL);
			parts[np++] = optarg;
			break;
		case 'C':
			if (nc == MAX_SEL)
				return cli_fail("hold", "at most %d --conversation", MAX_SEL);
			convs[nc++] = optarg;
			break;
		case 'f':
			if (cli_time(optarg, &from))
				return cli_fail("hold", "--from must be a date or RFC 3339 time");
			break;
		case 't':
			if (cli_time(optarg, &to))
				return cli_fail("hold", "--to must be a date or RFC 3339 time");
			break;
		case 'u':
			if (cli_time(optarg, &until))
				return cli_fail("hold", "--until must be a date or RFC 3339 time");
			break;
		}
	}
	if (!cli_ready(ctx, c, case_id != NULL && reason != NULL, 0))
		return ctx->code;
	if (*case_id == 0 || strlen(case_id) > 128)
		return cli_fail("hold", "--case must be 1-128 bytes");
	if ((rc = cl_retention_check_range(from, to, until, cl_time_now_ms(), &err)))
		return cli_fail_rc("hold", rc, err);
	if ((rc = cli_officer_auth(ctx, CL_ACT_CHANGE)) != EXIT_OK)
		return rc;
	if ((rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		return rc;
	if (np + nc > 0) {
		if ((rc = cl_retention_cover(ctx->ledger, parts, np, convs, nc, &cov, &err)))
			return cli_fail_rc("hold", rc, err);
		if (cov.records == 0 && !allow_empty)
			return cli_fail("hold", "the selectors cover no record now; check the "
					"spelling (`chatledger party show ID`), or give --allow-empty "
					"to hold a party not seen yet (the hold then covers what "
					"arrives and what a later `party link` reveals)");
	}
	rc = cl_retention_hold_add(ctx->ledger, case_id, reason, parts, np, convs, nc, from,
				   to, until, &idx, &err);
	if (rc)
		return cli_fail_rc("hold", rc, err);
	if ((rc = cli_officer_note(ctx, "hold-add", idx)) != EXIT_OK)
		return rc;
	if (np + nc == 0) {
		printf("hold '%s' placed (entry %llu): covers every record\n", case_id,
		       (unsigned long long)idx);
		return EXIT_OK;
	}
	if (cov.first != CL_TIME_NONE)
		cl_time_format(cov.first, f);
	if (cov.last != CL_TIME_NONE)
		cl_time_format(cov.last, t);
	printf("hold '%s' placed (entry %llu): covers %" PRIu64 " record%s in %" PRIu64
	       " conversation%s now (%s to %s), %zu %s, %zu conversation id%s\n",
	       case_id, (unsigned long long)idx, cov.records, CL_S(cov.records),
	       cov.conversations, CL_S(cov.conversations), f, t, np,
	       CL_PL(np, "party", "parties"), nc, CL_S(nc));
	return EXIT_OK;
}

static int hold_release(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "case", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char *case_id = NULL;
	uint64_t idx = 0;
	char *err = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'c')
		case_id = optarg;
	if (!cli_ready(ctx, c, case_id != NULL, 0))
		return ctx->code;
	if ((rc = cli_officer_auth(ctx, CL_ACT_CHANGE)) != EXIT_OK ||
	    (rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		return rc;
	rc = cl_retention_hold_release(ctx->ledger, case_id, &idx, &err);
	if (rc)
		return cli_fail_rc("hold", rc, err);
	if ((rc = cli_officer_note(ctx, "hold-release", idx)) != EXIT_OK)
		return rc;
	printf("hold '%s' released (entry %llu)\n", case_id, (unsigned long long)idx);
	return EXIT_OK;
}

static int hold_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_retention_lifecycle lc;
	char *err = NULL;
	int c, rc, json = 0;
	size_t i;
	int64_t now = cl_time_now_ms();
	json_t *arr;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'j')
		json = 1;
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	rc = cl_retention_lifecycle_load(ctx->ledger, &lc, &err);
	if (rc) {
		cl_retention_lifecycle_release(&lc);
		return cli_fail_rc("hold", rc, err);
	}
	arr = json_array();
	for (i = 0; i < lc.n_holds; i++) {
		const struct cl_policy_hold *h = &lc.holds[i];
		const char *state = h->released_at != CL_TIME_NONE ? "released" :
			(h->until != CL_TIME_NONE && now >= h->until) ? "expired" : "active";
		char u[32] = "-", f[32] = "-", t[32] = "-";

		if (h->until != CL_TIME_NONE)
			cl_time_format(h->until, u);
		if (h->from != CL_TIME_NONE)
			cl_time_format(h->from, f);
		if (h->to != CL_TIME_NONE)
			cl_time_format(h->to, t);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s}",
			"case", h->case_id ? h->case_id : "", "state", state,
			"participants", (json_int_t)h->n_participants,
			"conversations", (json_int_t)h->n_conversations,
			"from", f, "to", t, "until", u));
		if (!json)
			printf("%-20s %-9s participants=%zu conversations=%zu from=%s to=%s until=%s\n",
			       h->case_id ? h->case_id : "", state, h->n_participants,
			       h->n_conversations, f, t, u);
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_COMPACT);
		putchar('\n');
	} else if (lc.n_holds == 0) {
		printf("no holds\n");
	}
	json_decref(arr);
	cl_retention_lifecycle_release(&lc);
	return EXIT_OK;
}

int cmd_hold(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "add", hold_add, CLI_NEEDS_WRITER },
		{ "list", hold_list, CLI_NEEDS_READER },
		{ "release", hold_release, CLI_NEEDS_WRITER },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
