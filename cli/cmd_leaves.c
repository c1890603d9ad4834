/*
 * cmd_leaves.c - chatledger leaves: the exact leaf bytes, hex, in order.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

int cmd_leaves(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long from = 0, to = UINT64_MAX, i, size;
	struct cl_buf b, h;
	char *err = NULL;
	int c, rc = CL_OK;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (cli_u64(optarg, c == 'f' ? &from : &to) != 0)
			return cli_fail("leaves", "--%s must be an entry index",
					c == 'f' ? "from" : "to");
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if (from > to)
		return cli_fail("leaves", "--from %llu is after --to %llu", from, to);
	if ((rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		return rc;
	size = cl_ledger_size(ctx->ledger);
	if (size > 0 && from >= size)
		return cli_fail("leaves", "--from %llu is past the last entry (the log has %llu)",
				from, size);
	if (to >= size)
		to = size ? size - 1 : 0;
	cl_buf_init(&b, 1 << 20);
	cl_buf_init(&h, 2 << 20);
	for (i = from; size > 0 && i <= to; i++) {
		cl_buf_reset(&b);
		cl_buf_reset(&h);
		if ((rc = cl_ledger_leaf(ctx->ledger, i, &b, &err)) ||
		    (rc = cl_hex_add(&h, b.data, b.len)))
			break;
		fwrite(h.data, 1, h.len, stdout);
		putchar('\n');
	}
	cl_buf_release(&b);
	cl_buf_release(&h);
	return rc ? cli_fail_rc("leaves", rc, err) : EXIT_OK;
}
