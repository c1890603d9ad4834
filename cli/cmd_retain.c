/*
 * cmd_retain.c - chatledger retain: the nightly retention run.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/config/config.h"
#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "archiver/retention/retention.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include "common/banned.h"

struct list_out {
	int json;
	json_t *arr;
	struct cl_ledger *l;
	const unsigned char *sk;   /* dry run with --passphrase-file: names */
	struct cl_buf pt;
};

/* The conversation and sender of record `index`, decrypted (dry runs
 * only: a real run lists entries it has just erased). */
static void names_of(struct list_out *o, uint64_t index, const char **conv,
		     const char **sender, json_t **hold)
{
	char *err = NULL;

	*conv = *sender = NULL;
	*hold = NULL;
	if (o->sk == NULL)
		return;
	cl_buf_reset(&o->pt);
	if (cl_ledger_open_payload(o->l, index, o->sk, &o->pt, &err) != CL_OK) {
		free(err);
		return;
	}
	*hold = json_loadb((const char *)o->pt.data, o->pt.len, 0, NULL);
	sodium_memzero(o->pt.data, o->pt.len);
	*conv = json_string_value(json_object_get(json_object_get(*hold, "conversation"), "id"));
	*sender = json_string_value(json_object_get(json_object_get(*hold, "sender"), "id"));
}

static void list_item(void *ctx, const struct cl_retention_item *it)
{
	struct list_out *o = ctx;
	char when[32] = "-", conv[18];
	const char *cid = NULL, *sid = NULL;
	json_t *rec = NULL;

	if (it->sent_at != CL_TIME_NONE)
		cl_time_format(it->sent_at, when);
	conv[0] = '#';
	sodium_bin2hex(conv + 1, 17, it->conv_tag, 8);
	names_of(o, it->attachment_of != UINT64_MAX ? it->attachment_of : it->index, &cid,
		 &sid, &rec);
	if (o->json) {
		json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s}", "index", (json_int_t)it->index,
				      "kind", it->kind, "sent_at", when, "rule", it->rule,
				      "conversation", conv);

		if (j && it->attachment_of != UINT64_MAX)
			json_object_set_new(j, "attachment_of",
					    json_integer((json_int_t)it->attachment_of));
		if (j && cid)
			json_object_set_new(j, "conversation_id", json_string(cid));
		if (j && sid)
			json_object_set_new(j, "party", json_string(sid));
		json_array_append_new(o->arr, j);
	} else if (it->attachment_of != UINT64_MAX) {
		printf("erase %" PRIu64 "\t%s\t%s\t%s\tconversation %s\t(attachment of %" PRIu64 ")\n",
		       it->index, it->kind, when, it->rule, cid ? cid : conv, it->attachment_of);
	} else {
		printf("erase %" PRIu64 "\t%s\t%s\t%s\tconversation %s%s%s\n", it->index, it->kind,
		       when, it->rule, cid ? cid : conv, sid ? "\tparty " : "", sid ? sid : "");
	}
	json_decref(rec);
}

/* --report: the reports of earlier runs (the latest, or --all). */
struct report_ctx {
	json_t *rows;
	char **err;
};

static int report_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		      const unsigned char *attrs, size_t alen, int has_payload)
{
	struct report_ctx *r = ctx;
	struct cl_leaf lf;
	json_t *b;
	char *e = NULL;

	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(r->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	if (strcmp(lf.kind, "retention-report") != 0)
		return CL_OK;
	b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	if (b) {
		json_object_set_new(b, "index", json_integer((json_int_t)index));
		json_array_append_new(r->rows, b);
	}
	return CL_OK;
}

static int print_reports(struct cli_ctx *ctx, int all, int json)
{
	struct report_ctx r;
	char *err = NULL;
	size_t i, from;
	json_t *b, *x, *out;
	const char *k;
	int rc;

	r.rows = json_array();
	r.err = &err;
	if ((rc = cl_ledger_each(ctx->ledger, CL_ENTRY_CONTROL, report_one, &r, &err))) {
		json_decref(r.rows);
		return cli_fail_rc("retain", rc, err);
	}
	from = all || json_array_size(r.rows) == 0 ? 0 : json_array_size(r.rows) - 1;
	out = json_array();
	for (i = from; i < json_array_size(r.rows); i++)
		json_array_append(out, json_array_get(r.rows, i));
	if (json) {
		json_dumpf(out, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
	} else if (json_array_size(out) == 0) {
		printf("no retention run has been recorded\n");
	}
	json_array_foreach(out, i, b) {
		size_t j;

		if (json)
			break;
		printf("retention run (entry %lld) at %s, policy %s: %lld erased (+%lld attachments), "
		       "%lld held, %lld awaiting an event, %lld kept\n",
		       (long long)json_integer_value(json_object_get(b, "index")),
		       json_string_value(json_object_get(b, "now")),
		       json_string_value(json_object_get(b, "policy")),
		       (long long)json_integer_value(json_object_get(b, "erased")),
		       (long long)json_integer_value(json_object_get(b, "attachments")),
		       (long long)json_integer_value(json_object_get(b, "held")),
		       (long long)json_integer_value(json_object_get(b, "awaiting_event")),
		       (long long)json_integer_value(json_object_get(b, "kept")));
		json_object_foreach(json_object_get(b, "per_rule"), k, x)
			printf("  rule %s: %lld erased\n", k, (long long)json_integer_value(x));
		json_array_foreach(json_object_get(b, "tombstone_ranges"), j, x)
			printf("  tombstones in entries %lld..%lld\n",
			       (long long)json_integer_value(json_array_get(x, 0)),
			       (long long)json_integer_value(json_array_get(x, 1)) - 1);
	}
	json_decref(out);
	json_decref(r.rows);
	return EXIT_OK;
}

int cmd_retain(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "now", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "list", no_argument, NULL, 'l' },
		{ "report", no_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_out lo;
	unsigned char *sk = NULL;
	uint64_t report_idx = UINT64_MAX;
	int list = 0, report = 0, all = 0;
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
		case 'l': list = 1; break;
		case 'r': report = 1; break;
		case 'A': all = 1; break;
		}
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if (report) {
		if ((code = cli_setup(ctx, CLI_NEEDS_READER | CLI_NEEDS_WRITER)) != EXIT_OK)
			return code;
		return print_reports(ctx, all, json);
	}
	memset(&lo, 0, sizeof(lo));
	lo.json = json;
	lo.arr = json_array();
	cl_buf_init(&lo.pt, 64u << 20);
	if (ctx->pass_file) {
		if (!dry || !list) {
			json_decref(lo.arr);
			return cli_fail("retain", "--passphrase-file is only used with --dry-run --list "
					"(to name each entry's conversation and party)");
		}
		if ((code = cli_setup(ctx, CLI_NEEDS_PASSPHRASE)) != EXIT_OK) {
			json_decref(lo.arr);
			return code;
		}
		rc = cl_vault_unlock_seal(ctx->archive, ctx->pass, ctx->pass_len, &sk, &err);
		cli_forget_passphrase(ctx);
		if (rc) {
			json_decref(lo.arr);
			return cli_fail_rc("retain", rc, err);
		}
		lo.sk = sk;
	}
	/* Never erase on a policy that does not parse. */
	if ((code = cli_load_policy("retain", ctx->archive, pfile, &p)) != EXIT_OK ||
	    (code = cli_setup(ctx, CLI_NEEDS_READER | CLI_NEEDS_WRITER)) != EXIT_OK) {
		cl_policy_free(p);
		json_decref(lo.arr);
		sodium_free(sk);
		cl_buf_release(&lo.pt);
		return code;
	}
	lo.l = ctx->ledger;
	rc = cl_retention_run_list(ctx->ledger, p, now, dry, 1000, list ? list_item : NULL, &lo,
				   &st, &report_idx, &err);
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
		if (list)
			json_object_set(j, "list", lo.arr);
		if (report_idx != UINT64_MAX)
			json_object_set_new(j, "report_entry", json_integer((json_int_t)report_idx));
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		printf("retain%s at %s: %" PRIu64 " examined, %" PRIu64 " due, %" PRIu64
		       " erased (+%" PRIu64 " attachment%s), %" PRIu64 " held, %" PRIu64
		       " awaiting an event, %" PRIu64 " kept\n",
		       dry ? " (dry run)" : "", nowtxt, st.examined, st.due, st.erased,
		       st.attachments, CL_S(st.attachments), st.held, st.awaiting, st.kept);
		for (i = 0; i < nr; i++)
			if (st.per_rule[i])
				printf("  rule %s: %" PRIu64 " erased\n",
				       cl_policy_rule_name(p, i), st.per_rule[i]);
		if (st.per_rule[CL_POLICY_MAX_RULES])
			printf("  default policy: %" PRIu64 " erased\n",
			       st.per_rule[CL_POLICY_MAX_RULES]);
	}
	json_decref(lo.arr);
	if (lo.pt.data)
		sodium_memzero(lo.pt.data, lo.pt.alloc);
	cl_buf_release(&lo.pt);
	sodium_free(sk);
	cl_policy_free(p);
	return rc ? cli_fail_rc("retain", rc, err) : EXIT_OK;
}
