/*
 * cmd_prove.c - chatledger prove: inclusion and consistency proofs.
 */
#include <getopt.h>
#include <stdio.h>

#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_prove(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "index", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "consistency", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long index = 0, size = 0, old = 0;
	int have_index = 0, have_old = 0, c, rc;
	struct cl_buf b;
	char *err = NULL;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'i':
			if (cli_u64(optarg, &index) != 0)
				return cli_fail("prove", "--index must be an entry index");
			have_index = 1;
			break;
		case 's':
			if (cli_u64(optarg, &size) != 0 || size == 0)
				return cli_fail("prove", "--size must be a positive tree size");
			break;
		case 'c':
			if (cli_u64(optarg, &old) != 0 || old == 0)
				return cli_fail("prove", "--consistency must be a positive tree size");
			have_old = 1;
			break;
		}
	}
	if (!cli_ready(ctx, c, have_index != have_old, CLI_SETUP_ALL))
		return ctx->code;
	cl_buf_init(&b, 1 << 20);
	if (have_index)
		rc = cl_ledger_prove(ctx->ledger, index, size, &b, &err);
	else
		rc = cl_ledger_prove_consistency(ctx->ledger, old, size, &b, &err);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	cl_buf_release(&b);
	return rc ? cli_fail_rc("prove", rc, err) : EXIT_OK;
}
