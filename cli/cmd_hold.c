/*
 * cmd_hold.c - chatledger hold add|list|release: legal and regulator holds.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_SEL 256

static int hold_add(const char *archive, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "case", required_argument, NULL, 'c' },
		{ "reason", required_argument, NULL, 'r' },
		{ "participant", required_argument, NULL, 'p' },
		{ "conversation", required_argument, NULL, 'C' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "until", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *case_id = NULL, *reason = NULL, *parts[MAX_SEL], *convs[MAX_SEL];
	size_t np = 0, nc = 0;
	int64_t from = CL_TIME_NONE, to = CL_TIME_NONE, until = CL_TIME_NONE;
	struct cl_ledger *l = NULL;
	uint64_t idx = 0;
	char *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'c': case_id = optarg; break;
		case 'r': reason = optarg; break;
		case 'p':
			if (np == MAX_SEL)
				return cli_fail("hold", "at most %d --participant", MAX_SEL);
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
		case 'h': cli_usage("hold", stdout); return EXIT_OK;
		default: cli_usage("hold", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || case_id == NULL || reason == NULL || optind != argc) {
		cli_usage("hold", stderr);
		return EXIT_ERROR;
	}
	if (*case_id == 0 || strlen(case_id) > 128)
		return cli_fail("hold", "--case must be 1-128 bytes");
	if ((rc = cl_ledger_open(archive, CL_OPEN_WRITE, &l, &err)))
		return cli_fail_rc("hold", rc, err);
	rc = cl_retention_hold_add(l, case_id, reason, parts, np, convs, nc, from, to, until,
			 &idx, &err);
	cl_ledger_close(l);
	if (rc)
		return cli_fail_rc("hold", rc, err);
	printf("hold '%s' placed (entry %llu): %zu participants, %zu conversations%s\n",
	       case_id, (unsigned long long)idx, np, nc,
	       np + nc == 0 ? " (covers every record)" : "");
	return EXIT_OK;
}

static int hold_release(const char *archive, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "case", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *case_id = NULL;
	struct cl_ledger *l = NULL;
	uint64_t idx = 0;
	char *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'c': case_id = optarg; break;
		case 'h': cli_usage("hold", stdout); return EXIT_OK;
		default: cli_usage("hold", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || case_id == NULL || optind != argc) {
		cli_usage("hold", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_ledger_open(archive, CL_OPEN_WRITE, &l, &err)))
		return cli_fail_rc("hold", rc, err);
	rc = cl_retention_hold_release(l, case_id, &idx, &err);
	cl_ledger_close(l);
	if (rc)
		return cli_fail_rc("hold", rc, err);
	printf("hold '%s' released (entry %llu)\n", case_id, (unsigned long long)idx);
	return EXIT_OK;
}

static int hold_list(const char *archive, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_ledger *l = NULL;
	struct cl_retention_lifecycle lc;
	char *err = NULL;
	int c, rc, json = 0;
	size_t i;
	int64_t now = cl_time_now_ms();
	json_t *arr;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'j': json = 1; break;
		case 'h': cli_usage("hold", stdout); return EXIT_OK;
		default: cli_usage("hold", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage("hold", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_ledger_open(archive, CL_OPEN_READ, &l, &err)))
		return cli_fail_rc("hold", rc, err);
	rc = cl_retention_lifecycle_load(l, &lc, &err);
	cl_ledger_close(l);
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

int cmd_hold(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "add") == 0)
		return hold_add(NULL, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return hold_list(NULL, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "release") == 0)
		return hold_release(NULL, argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cli_usage("hold", stdout);
		return EXIT_OK;
	}
	cli_usage("hold", stderr);
	return EXIT_ERROR;
}
