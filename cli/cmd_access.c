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
#include "archiver/parties/parties.h"
#include "common/buf.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct list_ctx {
	int json;
	uint64_t n;
	const char *officer;      /* --officer: only this officer's entries */
	char (*tokens)[18];       /* --party: its keyed tokens ("#hex") */
	size_t n_tokens;
};

/* 1 if the public body's party selectors share a token with c->tokens. */
static int party_matches(const struct list_ctx *c, const json_t *body)
{
	const json_t *ps = json_object_get(body, "parties"), *p, *t;
	size_t i, j, k;

	json_array_foreach(ps, i, p) {
		json_array_foreach(p, j, t) {
			for (k = 0; k < c->n_tokens; k++)
				if (json_is_string(t) &&
				    strcmp(json_string_value(t), c->tokens[k]) == 0)
					return 1;
		}
	}
	return 0;
}

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

	if (c->officer && (!json_is_string(json_object_get(body, "who")) ||
			   strcmp(json_string_value(json_object_get(body, "who")), c->officer) != 0))
		return CL_OK;
	if (c->tokens && !party_matches(c, body))
		return CL_OK;
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
	printf("%" PRIu64 "\t%s\t%s\t%s\t%" JSON_INTEGER_FORMAT " record%s\t", index, when,
	       json_string_value(json_object_get(body, "who")),
	       json_string_value(json_object_get(body, "command")),
	       json_integer_value(json_object_get(body, "records")),
	       CL_S(json_integer_value(json_object_get(body, "records"))));
	put_selectors(sealed ? sealed : body);
	putchar('\n');
	return CL_OK;
}

static int access_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "officer", required_argument, NULL, 'o' },
		{ "party", required_argument, NULL, 'P' },
		{ "as", required_argument, NULL, 'A' },
		{ "reason", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 }
	};
	struct list_ctx lc;
	unsigned char *sk = NULL;
	const char *party = NULL;
	uint64_t *tk = NULL;
	char *err = NULL;
	size_t i;
	int c, rc, code;

	memset(&lc, 0, sizeof(lc));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'j': lc.json = 1; break;
		case 'o': lc.officer = optarg; break;
		case 'P': party = optarg; break;
		case 'A': ctx->officer = optarg; break;
		case 'R': ctx->reason = optarg; break;
		default: break;
		}
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if ((ctx->pass_file || ctx->officer) && (code = cli_unlock(ctx, &sk)) != EXIT_OK)
		return code;
	if (party)
		ctx->flags |= CLI_NEEDS_WRITER;  /* the tag key, for the party's tokens */
	if ((code = cli_setup(ctx, CLI_NEEDS_READER)) != EXIT_OK)
		goto out;
	if (party) {
		if ((rc = cl_parties_selector_tokens(ctx->ledger, party, &tk, &lc.n_tokens))) {
			code = cli_fail_rc("access", rc, NULL);
			goto out;
		}
		lc.tokens = calloc(lc.n_tokens ? lc.n_tokens : 1, sizeof(*lc.tokens));
		if (lc.tokens == NULL) {
			code = cli_fail("access", "out of memory");
			goto out;
		}
		for (i = 0; i < lc.n_tokens; i++) {
			unsigned char b[8];

			cl_store_be64(b, tk[i]);
			lc.tokens[i][0] = '#';
			sodium_bin2hex(lc.tokens[i] + 1, 17, b, 8);
		}
	}
	rc = cl_access_each(ctx->ledger, sk, on_access, &lc, &err);
	if (rc)
		code = cli_fail_rc("access", rc, err);
	else if (!lc.json && lc.n == 0)
		printf("no access entries\n");
out:
	sodium_free(sk);
	free(tk);
	free(lc.tokens);
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
