/*
 * cmd_policy.c - chatledger policy event|explain|check.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/parties/parties.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "archiver/officers/officers.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include "common/banned.h"

static int policy_event(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "event", required_argument, NULL, 'e' },
		{ "at", required_argument, NULL, 't' },
		{ "note", required_argument, NULL, 'n' },
		{ "allow-empty", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	const char *subject = NULL, *event = NULL, *note = NULL;
	int64_t at = CL_TIME_NONE;
	uint64_t idx = 0;
	struct cl_cover cov;
	char *err = NULL;
	int c, rc, allow_empty = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 's': subject = optarg; break;
		case 'e': event = optarg; break;
		case 't':
			if (cli_time(optarg, &at))
				return cli_fail("policy", "--at must be a date or RFC 3339 time");
			break;
		case 'n': note = optarg; break;
		case 'E': allow_empty = 1; break;
		}
	}
	if (!cli_ready(ctx, c, subject != NULL && event != NULL && at != CL_TIME_NONE, CLI_SETUP_ALL))
		return ctx->code;
	if ((rc = cli_officer_auth(ctx, CL_ACT_CHANGE)) != EXIT_OK)
		return rc;
	if ((rc = cl_retention_cover_subject(ctx->ledger, subject, &cov, &err)))
		return cli_fail_rc("policy", rc, err);
	if (cov.records == 0 && !allow_empty)
		return cli_fail("policy", "subject '%s' appears in no record; check the spelling "
				"(`chatledger party show ID`), or give --allow-empty to record the "
				"event for a party not seen yet", subject);
	rc = cl_retention_event_record(ctx->ledger, subject, event, at, note, &idx, &err);
	if (rc == CL_OK && (rc = cli_officer_note(ctx, "policy-event", idx)) != EXIT_OK)
		return rc;
	if (rc)
		return cli_fail_rc("policy", rc, err);
	printf("event '%s' recorded (entry %llu): applies to %" PRIu64 " record%s in %" PRIu64
	       " conversation%s now\n", event, (unsigned long long)idx, cov.records,
	       CL_S(cov.records), cov.conversations, CL_S(cov.conversations));
	return EXIT_OK;
}

/* policy explain --party: every record of the party's conversations. */
struct party_ex {
	struct cl_convset *set;
	uint64_t *idx;
	size_t n, cap;
	char **err;
};

static int collect_party(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
			 const unsigned char *attrs, size_t alen, int has_payload)
{
	struct party_ex *x = ctx;
	struct cl_leaf lf;
	char *e = NULL;

	(void)attrs;
	(void)alen;
	if (!has_payload)
		return CL_OK;
	if (cl_leaf_decode(leaf, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(x->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	if (strcmp(lf.kind, "attachment") == 0 || !cl_convset_has(x->set, lf.conv_tag))
		return CL_OK;
	if (x->n == x->cap) {
		size_t nc = x->cap ? 2 * x->cap : 64;
		uint64_t *ni = realloc(x->idx, nc * sizeof(*ni));

		if (ni == NULL)
			return CL_ENOMEM;
		x->idx = ni;
		x->cap = nc;
	}
	x->idx[x->n++] = index;
	return CL_OK;
}

static int explain_party(struct cli_ctx *ctx, const struct cl_policy *p, const char *party,
			 int64_t now, int json)
{
	struct party_ex x;
	json_t *arr = json_array();
	char *err = NULL;
	size_t i;
	int rc;

	memset(&x, 0, sizeof(x));
	x.err = &err;
	if ((rc = cl_parties_select(ctx->ledger, &party, 1, &x.set, &err)) ||
	    (rc = cl_ledger_each(ctx->ledger, CL_ENTRY_RECORD, collect_party, &x, &err)))
		goto out;
	for (i = 0; i < x.n; i++) {
		json_t *j = NULL;

		if ((rc = cl_retention_explain(ctx->ledger, p, x.idx[i], now, &j, &err)))
			goto out;
		if (json) {
			json_array_append_new(arr, j);
			continue;
		}
		printf("entry %llu sent %s: %s (%s), erase after %s%s\n",
		       (unsigned long long)x.idx[i],
		       json_string_value(json_object_get(j, "sent_at")) ?
		       json_string_value(json_object_get(j, "sent_at")) : "-",
		       json_string_value(json_object_get(j, "decision")),
		       json_string_value(json_object_get(j, "reason")) ?
		       json_string_value(json_object_get(j, "reason")) : "-",
		       json_string_value(json_object_get(j, "erase_after")) ?
		       json_string_value(json_object_get(j, "erase_after")) : "never",
		       json_array_size(json_object_get(j, "holds")) ? ", held" : "");
		json_decref(j);
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else if (x.n == 0) {
		printf("party %s: no record with a payload\n", party);
	}
out:
	json_decref(arr);
	free(x.idx);
	cl_convset_free(x.set);
	return rc ? cli_fail_rc("policy", rc, err) : EXIT_OK;
}

static int policy_explain(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "index", required_argument, NULL, 'i' },
		{ "party", required_argument, NULL, 'P' },
		{ "policy", required_argument, NULL, 'p' },
		{ "now", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pfile = NULL, *party = NULL;
	unsigned long long index = 0;
	int64_t now = cl_time_now_ms();
	struct cl_policy *p = NULL;
	json_t *j = NULL;
	char *err = NULL;
	int c, rc, code, have = 0, json = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'i':
			if (cli_u64(optarg, &index))
				return cli_fail("policy", "--index must be an entry index");
			have = 1;
			break;
		case 'P': party = optarg; have = 1; break;
		case 'p': pfile = optarg; break;
		case 't':
			if (cli_time(optarg, &now))
				return cli_fail("policy", "--now must be a date or RFC 3339 time");
			break;
		case 'j': json = 1; break;
		}
	}
	if (!cli_ready(ctx, c, have, 0))
		return ctx->code;
	if ((code = cli_load_policy("policy", ctx->archive, pfile, &p)) != EXIT_OK)
		return code;
	/* Matching needs the tag key, which only writers load (the table
	 * gives explain CLI_NEEDS_WRITER). */
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK) {
		cl_policy_free(p);
		return code;
	}
	if (party) {
		code = explain_party(ctx, p, party, now, json);
		cl_policy_free(p);
		return code;
	}
	rc = cl_retention_explain(ctx->ledger, p, index, now, &j, &err);
	if (rc) {
		cl_policy_free(p);
		return cli_fail_rc("policy", rc, err);
	}
	if (json) {
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else {
		json_t *r, *h;
		size_t i;

		printf("entry %llu (%s, %s), sent %s\n", index,
		       json_string_value(json_object_get(j, "type")),
		       json_string_value(json_object_get(j, "kind")),
		       json_string_value(json_object_get(j, "sent_at")) ?
		       json_string_value(json_object_get(j, "sent_at")) : "-");
		printf("decision: %s", json_string_value(json_object_get(j, "decision")));
		if (json_object_get(j, "reason"))
			printf(" (%s)", json_string_value(json_object_get(j, "reason")));
		printf("\nretain until: %s\nerase after:  %s\n",
		       json_string_value(json_object_get(j, "retain_until")) ?
		       json_string_value(json_object_get(j, "retain_until")) : "-",
		       json_string_value(json_object_get(j, "erase_after")) ?
		       json_string_value(json_object_get(j, "erase_after")) : "-");
		json_array_foreach(json_object_get(j, "rules"), i, r) {
			printf("rule %s: clock %s from %s, minimum %s until %s, maximum %s -> %s [%s]\n  basis: %s\n",
			       json_string_value(json_object_get(r, "rule")),
			       json_string_value(json_object_get(r, "clock")),
			       json_string_value(json_object_get(r, "start")) ?
			       json_string_value(json_object_get(r, "start")) : "(event not recorded)",
			       json_string_value(json_object_get(r, "minimum")),
			       json_string_value(json_object_get(r, "retain_until")) ?
			       json_string_value(json_object_get(r, "retain_until")) : "-",
			       json_string_value(json_object_get(r, "maximum")) ?
			       json_string_value(json_object_get(r, "maximum")) : "none",
			       json_string_value(json_object_get(r, "erase_after")) ?
			       json_string_value(json_object_get(r, "erase_after")) : "-",
			       json_string_value(json_object_get(r, "confidence")),
			       json_string_value(json_object_get(r, "basis")));
		}
		json_array_foreach(json_object_get(j, "holds"), i, h)
			printf("held by case %s\n", json_string_value(json_object_get(h, "case")));
	}
	json_decref(j);
	cl_policy_free(p);
	return EXIT_OK;
}

static int policy_check(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pfile = NULL;
	struct cl_policy *p = NULL;
	struct cl_buf out;
	struct cl_retention_stats st;
	size_t conflicts = 0, i, assumed = 0;
	char *err = NULL;
	int c, rc, code;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'p')
		pfile = optarg;
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if ((code = cli_load_policy("policy", ctx->archive, pfile, &p)) != EXIT_OK)
		return code;
	cl_buf_init(&out, 1 << 20);
	rc = cl_policy_check(p, &out, &conflicts);
	if (rc == CL_OK && out.len)
		fwrite(out.data, 1, out.len, stdout);
	for (i = 0; i < cl_policy_rule_count(p); i++)
		assumed += cl_policy_rule_assumed(p, i) == 1;
	/* Records that no rule matches: a dry run at the current time. */
	if (rc == CL_OK && (code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	if (rc == CL_OK)
		rc = cl_retention_run(ctx->ledger, p, cl_time_now_ms(), 1, 1000, &st, &err);
	if (rc == CL_OK)
		printf("policy: %zu rule%s, %zu conflict%s, %zu assumed; %llu record%s examined,"
		       " %llu matched by no rule (they keep the default: %s); %llu quarantined"
		       " item%s keep%s the default\n",
		       cl_policy_rule_count(p), CL_S(cl_policy_rule_count(p)), conflicts,
		       CL_S(conflicts), assumed,
		       (unsigned long long)(st.examined - st.quarantine_norule),
		       CL_S(st.examined - st.quarantine_norule),
		       (unsigned long long)st.norule, cl_policy_default(p),
		       (unsigned long long)st.quarantine_norule, CL_S(st.quarantine_norule),
		       st.quarantine_norule == 1 ? "s" : "");
	if (rc)
		code = cli_fail_rc("policy", rc, err);
	else
		code = conflicts ? EXIT_TAMPERED : EXIT_OK;
out:
	cl_buf_release(&out);
	cl_policy_free(p);
	return code;
}

int cmd_policy(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "event", policy_event, CLI_NEEDS_WRITER },
		{ "explain", policy_explain, CLI_NEEDS_WRITER },
		{ "check", policy_check, CLI_NEEDS_WRITER },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
