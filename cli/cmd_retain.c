/*
 * cmd_retain.c - chatledger retain: the nightly retention run.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "archiver/config/config.h"
#include "archiver/ledger/ledger.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include "common/banned.h"

int cmd_retain(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "now", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pfile = NULL;
	struct cl_policy *p = NULL;
	struct cl_retention_stats st;
	int64_t now = cl_time_now_ms();
	char *err = NULL, nowtxt[32];
	int c, rc, dry = 0, json = 0, code;
	size_t i, nr;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'p': pfile = optarg; break;
		case 'n': dry = 1; break;
		case 't':
			if (cli_time(optarg, &now))
				return cli_fail("retain", "--now must be a date or RFC 3339 time");
			break;
		case 'j': json = 1; break;
		}
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	/* Never erase on a policy that does not parse. */
	if ((code = cli_load_policy("retain", ctx->archive, pfile, &p)) != EXIT_OK)
		return code;
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK) {
		cl_policy_free(p);
		return code;
	}
	rc = cl_retention_run(ctx->ledger, p, now, dry, 1000, &st, &err);
	cl_time_format(now, nowtxt);
	nr = cl_policy_rule_count(p);
	if (json) {
		json_t *j = json_pack("{s:b, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "ok", rc == CL_OK, "dry_run", dry, "now", nowtxt,
				      "examined", (json_int_t)st.examined,
				      "due", (json_int_t)st.due,
				      "erased", (json_int_t)st.erased,
				      "attachments_erased", (json_int_t)st.attachments,
				      "held", (json_int_t)st.held,
				      "awaiting_event", (json_int_t)st.awaiting,
				      "kept", (json_int_t)st.kept);
		json_t *per = json_object();

		for (i = 0; i < nr; i++)
			if (st.per_rule[i])
				json_object_set_new(per, cl_policy_rule_name(p, i),
						    json_integer((json_int_t)st.per_rule[i]));
		if (st.per_rule[CL_POLICY_MAX_RULES])
			json_object_set_new(per, "default",
					    json_integer((json_int_t)st.per_rule[CL_POLICY_MAX_RULES]));
		json_object_set_new(j, "per_rule", per);
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		printf("retain%s at %s: %" PRIu64 " examined, %" PRIu64 " due, %" PRIu64
		       " erased (+%" PRIu64 " attachments), %" PRIu64 " held, %" PRIu64
		       " awaiting an event, %" PRIu64 " kept\n",
		       dry ? " (dry run)" : "", nowtxt, st.examined, st.due, st.erased,
		       st.attachments, st.held, st.awaiting, st.kept);
		for (i = 0; i < nr; i++)
			if (st.per_rule[i])
				printf("  rule %s: %" PRIu64 " erased\n",
				       cl_policy_rule_name(p, i), st.per_rule[i]);
		if (st.per_rule[CL_POLICY_MAX_RULES])
			printf("  default policy: %" PRIu64 " erased\n",
			       st.per_rule[CL_POLICY_MAX_RULES]);
	}
	cl_policy_free(p);
	return rc ? cli_fail_rc("retain", rc, err) : EXIT_OK;
}
