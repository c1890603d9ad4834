/*
 * cmd_label.c - chatledger label add|remove|list: an officer classifies
 * the conversations of a party, or a conversation, after the fact, so
 * retention rules that match on labels apply to them.
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

static int label_cmd(int argc, char **argv, struct cli_ctx *ctx, int remove)
{
	static const struct option opts[] = {
		{ "label", required_argument, NULL, 'l' },
		{ "party", required_argument, NULL, 'p' },
		{ "conversation", required_argument, NULL, 'C' },
		{ "note", required_argument, NULL, 'n' },
		{ "allow-empty", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	const char *label = NULL, *note = NULL, *parts[MAX_SEL], *convs[MAX_SEL];
	size_t np = 0, nc = 0;
	struct cl_cover cov;
	uint64_t idx = 0;
	char *err = NULL;
	int c, rc, allow_empty = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'l': label = optarg; break;
		case 'n': note = optarg; break;
		case 'E': allow_empty = 1; break;
		case 'p':
			if (np == MAX_SEL)
				return cli_fail("label", "at most %d --party", MAX_SEL);
			parts[np++] = optarg;
			break;
		case 'C':
			if (nc == MAX_SEL)
				return cli_fail("label", "at most %d --conversation", MAX_SEL);
			convs[nc++] = optarg;
			break;
		}
	}
	if (!cli_ready(ctx, c, label != NULL && np + nc > 0, CLI_SETUP_ALL))
		return ctx->code;
	if ((rc = cli_officer_auth(ctx, CL_ACT_CHANGE)) != EXIT_OK)
		return rc;
	if ((rc = cl_retention_cover(ctx->ledger, parts, np, convs, nc, &cov, &err)))
		return cli_fail_rc("label", rc, err);
	if (!remove && cov.records == 0 && !allow_empty)
		return cli_fail("label", "the selectors cover no record; check the spelling, "
				"or give --allow-empty to label conversations not seen yet");
	rc = cl_retention_label(ctx->ledger, label, remove, parts, np, convs, nc, note, &idx,
				&err);
	if (rc)
		return cli_fail_rc("label", rc, err);
	if ((rc = cli_officer_note(ctx, remove ? "label-remove" : "label-add", idx)) != EXIT_OK)
		return rc;
	printf("label '%s' %s (entry %llu): %" PRIu64 " record%s in %" PRIu64
	       " conversation%s\n", label, remove ? "removed" : "given",
	       (unsigned long long)idx, cov.records, CL_S(cov.records), cov.conversations,
	       CL_S(cov.conversations));
	return EXIT_OK;
}

static int label_add(int argc, char **argv, struct cli_ctx *ctx)
{
	return label_cmd(argc, argv, ctx, 0);
}

static int label_remove(int argc, char **argv, struct cli_ctx *ctx)
{
	return label_cmd(argc, argv, ctx, 1);
}

static int label_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_retention_lifecycle lc;
	char *err = NULL;
	int c, rc, json = 0;
	size_t i;
	json_t *arr;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'j')
		json = 1;
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	if ((rc = cl_retention_lifecycle_load(ctx->ledger, &lc, &err)) ||
	    (rc = cl_retention_lifecycle_resolve(ctx->ledger, &lc, &err))) {
		cl_retention_lifecycle_release(&lc);
		return cli_fail_rc("label", rc, err);
	}
	arr = json_array();
	for (i = 0; i < lc.n_labels; i++) {
		const struct cl_retention_label *x = &lc.labels[i];
		const struct cl_cover *cv = &lc.cover[x->set];

		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:I, s:I}",
			"label", x->label, "assignment", x->assignment, "active", x->active,
			"records", (json_int_t)cv->records,
			"conversations", (json_int_t)cv->conversations));
		if (!json)
			printf("%-24s %s %-8s %" PRIu64 " record%s in %" PRIu64
			       " conversation%s\n", x->label, x->assignment,
			       x->active ? "active" : "removed", cv->records,
			       CL_S(cv->records), cv->conversations, CL_S(cv->conversations));
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else if (lc.n_labels == 0) {
		printf("no labels given by officers\n");
	}
	json_decref(arr);
	cl_retention_lifecycle_release(&lc);
	return EXIT_OK;
}

int cmd_label(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "add", label_add, CLI_NEEDS_WRITER },
		{ "remove", label_remove, CLI_NEEDS_WRITER },
		{ "list", label_list, CLI_NEEDS_WRITER },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
