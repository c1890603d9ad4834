/*
 * cmd_checkpoint.c - chatledger checkpoint: print a signed checkpoint.
 */
#include <getopt.h>
#include <stdio.h>

#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_checkpoint(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long size = 0;
	struct cl_buf b;
	char *err = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 's') {
		if (cli_u64(optarg, &size) != 0 || size == 0)
			return cli_fail("checkpoint", "--size must be a positive integer");
	}
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	cl_buf_init(&b, 1 << 20);
	rc = cl_ledger_checkpoint(ctx->ledger, size, &b, &err);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	cl_buf_release(&b);
	return rc ? cli_fail_rc("checkpoint", rc, err) : EXIT_OK;
}
