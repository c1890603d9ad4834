/*
 * cmd_restore.c - chatledger restore: rebuild an archive from its S3
 * replica (archiver/replicate/replicate.h, cl_repl_restore).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/replicate/replicate.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/banned.h"

int cmd_restore(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "keys-url", required_argument, NULL, 'k' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "credentials-file", required_argument, NULL, CLI_SECRET('c') },
		{ "allow-http", no_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_repl_args a;
	struct cl_repl_rreport rep;
	struct cl_repl *r = NULL;
	char *used = NULL, *err = NULL;
	int c, rc, json = 0, code;

	memset(&a, 0, sizeof(a));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'f': a.url = optarg; break;
		case 'k': a.keys_url = optarg; break;
		case 'e': a.endpoint = optarg; break;
		case CLI_SECRET('c'): a.cred_file = optarg; break;
		case 'H': a.allow_http = 1; break;
		case 'j': json = 1; break;
		}
	}
	if (!cli_ready(ctx, c, a.url != NULL && a.cred_file != NULL, 0))
		return ctx->code;
	/* The archive does not exist yet: no configuration to read. */
	if ((code = cli_repl_session("restore", &a, &r, &used)) != EXIT_OK)
		return code;
	if ((code = cli_setup(ctx, CLI_NEEDS_PASSPHRASE)) != EXIT_OK)
		goto out;
	rc = cl_repl_restore(r, ctx->archive, ctx->pass, ctx->pass_len, &rep, &err);
	cli_forget_passphrase(ctx);
	if (rc) {
		code = cli_fail_rc("restore", rc, err);
		err = NULL;
		if (rc == CL_ECORRUPT)
			code = EXIT_TAMPERED;
		goto out;
	}
	if (json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "ok", 1,
				      "entries", (json_int_t)rep.entries,
				      "segments", (json_int_t)rep.segments,
				      "payloads", (json_int_t)rep.payloads,
				      "erased", (json_int_t)rep.erased,
				      "checkpoints", (json_int_t)rep.checkpoints,
				      "cosignatures", (json_int_t)rep.cosigs,
				      "skipped_versions", (json_int_t)rep.skipped_versions);
		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		printf("restored %" PRIu64 " entries (%" PRIu64 " segments, %" PRIu64
		       " checkpoints, %" PRIu64 " erased) from %s into %s; run chatledger verify\n",
		       rep.entries, rep.segments, rep.checkpoints, rep.erased, used, ctx->archive);
		if (rep.skipped_versions)
			printf("warning: %" PRIu64 " objects had later versions; the locked"
			       " originals were used (run verify --remote)\n", rep.skipped_versions);
	}
	code = EXIT_OK;
out:
	cl_repl_free(r);
	free(used);
	free(err);
	return cli_finish_stdout(code);
}
