/*
 * cmd_search.c - chatledger search: the records that match the selectors,
 * decrypted, with the key unlocked once; the access is recorded in the
 * ledger before anything is printed (archiver/export/select.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/export/select.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct out_ctx {
	int json;
};

static const char *str_at(const json_t *rec, const char *a, const char *b)
{
	const json_t *v = json_object_get(rec, a);

	if (b)
		v = json_object_get(v, b);
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Print s on one line: newlines and tabs as \n and \t. */
static void put_line(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\n", stdout);
		else if (*s == '\r')
			fputs("\\r", stdout);
		else if (*s == '\t')
			fputs("\\t", stdout);
		else
			putchar(*s);
	}
}

static int print_hit(void *ctx, const struct cl_select_hit *h)
{
	const struct out_ctx *o = ctx;
	char when[32] = "";

	if (h->rec == NULL) {
		char sha[65];
		unsigned char d[32];

		if (h->pt == NULL)
			return 0;
		cl_sha256(h->pt, h->ptlen, d);
		sodium_bin2hex(sha, sizeof(sha), d, sizeof(d));
		if (o->json)
			printf("{\"attachment\":{\"bytes\":%zu,\"sha256\":\"%s\"},\"index\":%"
			       PRIu64 "}\n", h->ptlen, sha, h->index);
		else
			printf("%" PRIu64 "\t  attachment: %zu bytes, sha256 %s"
			       " (chatledger show --index %" PRIu64 " --out FILE)\n",
			       h->index, h->ptlen, sha, h->index);
		return 0;
	}
	if (o->json) {
		json_t *j = json_pack("{s:I, s:O}", "index", (json_int_t)h->index,
				      "record", h->rec);
		char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

		json_decref(j);
		if (s == NULL)
			return CL_ENOMEM;
		puts(s);
		sodium_memzero(s, strlen(s));
		free(s);
		return 0;
	}
	if (h->lf->sent_at != CL_TIME_NONE)
		cl_time_format(h->lf->sent_at, when);
	printf("%" PRIu64 "\t%s\t%s\t%s\t", h->index, when, str_at(h->rec, "source", NULL),
	       str_at(h->rec, "conversation", "id"));
	put_line(str_at(h->rec, "sender", "id"));
	if (*str_at(h->rec, "sender", "name")) {
		fputs(" (", stdout);
		put_line(str_at(h->rec, "sender", "name"));
		putchar(')');
	}
	printf("\t%s\t", h->lf->kind);
	put_line(str_at(h->rec, "text", NULL));
	putchar('\n');
	return 0;
}

int cmd_search(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		CLI_SEL_OPTIONS,
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_sel sel;
	struct out_ctx o = { 0 };
	unsigned char *sk = NULL;
	struct cl_select_plan *plan = NULL;
	json_t *why = NULL;
	uint64_t n = 0, hits = 0, aidx = 0;
	char *err = NULL;
	int c, rc, code;

	cli_sel_init(&sel);
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 'j')
			o.json = 1;
		else if ((code = cli_sel_option(&sel, "search", c, optarg)) != EXIT_OK)
			return code;
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	/* The key first: a wrong passphrase is reported before anything. */
	if ((code = cli_unlock(ctx, &sk)) != EXIT_OK)
		return code;
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	/* One scan selects (no key); the text query, if any, is applied;
	 * how many will be revealed is recorded before the first is. */
	if ((rc = cl_select_plan_new(ctx->ledger, &sel.q, &plan, &err)) ||
	    (rc = cl_select_plan_filter_text(ctx->ledger, sk, plan, &err))) {
		code = cli_fail_rc("search", rc, err);
		goto out;
	}
	n = cl_select_plan_records(plan);
	why = cli_reason_json(ctx);
	rc = cl_access_record_extra(ctx->ledger, "search", cli_who(), &sel.q, n, NULL, why, &aidx,
				    &err);
	json_decref(why);
	if (rc) {
		code = cli_fail_rc("search", rc, err);
		goto out;
	}
	rc = cl_select_plan_run(ctx->ledger, sk, plan, print_hit, &o, &hits, &err);
	if (rc) {
		code = cli_fail_rc("search", rc, err);
		goto out;
	}
	code = cli_finish_stdout(EXIT_OK);
	fprintf(stderr, "chatledger search: %" PRIu64 " record%s (access recorded as entry %"
		PRIu64 ")\n", hits, hits == 1 ? "" : "s", aidx);
out:
	cl_select_plan_free(plan);
	sodium_free(sk);
	return code;
}
