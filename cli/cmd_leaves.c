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

int cmd_leaves(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL;
	unsigned long long from = 0, to = UINT64_MAX, i, size;
	struct cl_ledger *l = NULL;
	struct cl_buf b, h;
	char *err = NULL;
	int c, rc = CL_OK;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'f':
			if (cli_u64(optarg, &from) != 0)
				return cli_fail("leaves", "--from must be an entry index");
			break;
		case 't':
			if (cli_u64(optarg, &to) != 0)
				return cli_fail("leaves", "--to must be an entry index");
			break;
		case 'h': cli_usage("leaves", stdout); return EXIT_OK;
		default: cli_usage("leaves", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage("leaves", stderr);
		return EXIT_ERROR;
	}
	if (from > to)
		return cli_fail("leaves", "--from %llu is after --to %llu", from, to);
	if ((rc = cl_ledger_open(archive, CL_OPEN_READ, &l, &err)))
		return cli_fail_rc("leaves", rc, err);
	size = cl_ledger_size(l);
	if (size > 0 && from >= size) {
		cl_ledger_close(l);
		return cli_fail("leaves", "--from %llu is past the last entry (the log has %llu)",
				from, size);
	}
	if (to >= size)
		to = size ? size - 1 : 0;
	cl_buf_init(&b, 1 << 20);
	cl_buf_init(&h, 2 << 20);
	for (i = from; size > 0 && i <= to; i++) {
		cl_buf_reset(&b);
		cl_buf_reset(&h);
		if ((rc = cl_ledger_leaf(l, i, &b, &err)) ||
		    (rc = cl_hex_add(&h, b.data, b.len)))
			break;
		fwrite(h.data, 1, h.len, stdout);
		putchar('\n');
	}
	cl_buf_release(&b);
	cl_buf_release(&h);
	cl_ledger_close(l);
	return rc ? cli_fail_rc("leaves", rc, err) : EXIT_OK;
}
