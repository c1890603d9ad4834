/*
 * cmd_checkpoint.c - chatledger checkpoint: print a signed checkpoint.
 */
#include <getopt.h>
#include <stdio.h>

#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_checkpoint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "size", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL;
	unsigned long long size = 0;
	struct cl_ledger *l = NULL;
	struct cl_buf b;
	char *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 's':
			if (cli_u64(optarg, &size) != 0 || size == 0)
				return cli_fail("checkpoint", "--size must be a positive integer");
			break;
		case 'h': cli_usage("checkpoint", stdout); return EXIT_OK;
		default: cli_usage("checkpoint", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage("checkpoint", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_ledger_open(archive, CL_OPEN_READ, &l, &err)))
		return cli_fail_rc("checkpoint", rc, err);
	cl_buf_init(&b, 1 << 20);
	rc = cl_ledger_checkpoint(l, size, &b, &err);
	cl_ledger_close(l);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	cl_buf_release(&b);
	return rc ? cli_fail_rc("checkpoint", rc, err) : EXIT_OK;
}
