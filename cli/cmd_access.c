/*
 * cmd_access.c - chatledger access list: who read what, from the access
 * entries that search, show, export and dsar append before revealing
 * anything (archiver/export/select.h).  The public part needs no secret;
 * with --passphrase-file the clear selectors are shown too.
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

struct list_ctx {
	int json;
	uint64_t n;
};

/* The selectors of body `b` on one line: "key=v1|v2 ..." for the
 * non-empty ones. */
static void put_selectors(const json_t *b)
{
	static const char *const keys[] = { "parties", "conversations", "kinds", "labels",
					    "entries", "party", "request" };
	size_t i, j;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const json_t *v = json_object_get(b, keys[i]), *e;

		if (json_is_string(v)) {
			printf(" %s=%s", keys[i], json_string_value(v));
			continue;
		}
		if (json_is_integer(v)) {
			printf(" %s=%" JSON_INTEGER_FORMAT, keys[i], json_integer_value(v));
			continue;
		}
		if (json_array_size(v) == 0)
			continue;
		printf(" %s=", keys[i]);
		json_array_foreach(v, j, e) {
			char *s = json_is_string(e) ? NULL : json_dumps(e, JSON_COMPACT);

			printf("%s%s", j ? "|" : "", s ? s : json_string_value(e));
			free(s);
		}
	}
	if (json_is_string(json_object_get(b, "from")))
		printf(" from=%s", json_string_value(json_object_get(b, "from")));
	if (json_is_string(json_object_get(b, "to")))
		printf(" to=%s", json_string_value(json_object_get(b, "to")));
	if (json_is_string(json_object_get(b, "text")))
		printf(" text=\"%s\"", json_string_value(json_object_get(b, "text")));
	else if (json_is_true(json_object_get(b, "text")))
		printf(" text=(sealed)");
}

static int on_access(void *ctx, uint64_t index, const struct cl_leaf *lf,
		     const json_t *body, const json_t *sealed)
{
	struct list_ctx *c = ctx;
	char when[32];

	c->n++;
	cl_time_format(lf->received_at != CL_TIME_NONE ? lf->received_at : lf->logged_at,
		       when);
	if (c->json) {
		json_t *j = json_pack("{s:I, s:s, s:O}", "index", (json_int_t)index,
				      "at", when, "public", body);

		if (j && sealed)
			json_object_set_new(j, "clear", json_deep_copy(sealed));
		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
		return CL_OK;
	}
	printf("%" PRIu64 "\t%s\t%s\t%s\t%" JSON_INTEGER_FORMAT " records\t", index, when,
	       json_string_value(json_object_get(body, "who")),
	       json_string_value(json_object_get(body, "command")),
	       json_integer_value(json_object_get(body, "records")));
	put_selectors(sealed ? sealed : body);
	putchar('\n');
	return CL_OK;
}

static int access_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_ctx lc = { 0, 0 };
	unsigned char *sk = NULL;
	char *err = NULL;
	int c, rc, code;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'j')
		lc.json = 1;
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if (ctx->pass_file && (code = cli_unlock(ctx, &sk)) != EXIT_OK)
		return code;
	if ((code = cli_setup(ctx, CLI_NEEDS_READER)) != EXIT_OK)
		goto out;
	rc = cl_access_each(ctx->ledger, sk, on_access, &lc, &err);
	if (rc)
		code = cli_fail_rc("access", rc, err);
	else if (!lc.json && lc.n == 0)
		printf("no access entries\n");
out:
	sodium_free(sk);
	return code == EXIT_OK ? cli_finish_stdout(code) : code;
}

int cmd_access(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "list", access_list, CLI_NEEDS_READER | CLI_NEEDS_PASSPHRASE },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
