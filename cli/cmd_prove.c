/*
 * cmd_prove.c - chatledger prove: inclusion and consistency proofs.
 */
#include <getopt.h>
#include <stdio.h>

#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_prove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "index", required_argument, NULL, 'i' },
		{ "size", required_argument, NULL, 's' },
		{ "consistency", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL;
	unsigned long long index = 0, size = 0, old = 0;
	int have_index = 0, have_old = 0, c, rc;
	struct cl_ledger *l = NULL;
	struct cl_buf b;
	char *err = NULL;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
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
		case 'h': cli_usage("prove", stdout); return EXIT_OK;
		default: cli_usage("prove", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc || have_index == have_old) {
		cli_usage("prove", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_ledger_open(archive, CL_OPEN_READ, &l, &err)))
		return cli_fail_rc("prove", rc, err);
	cl_buf_init(&b, 1 << 20);
	if (have_index)
		rc = cl_ledger_prove(l, index, size, &b, &err);
	else
		rc = cl_ledger_prove_consistency(l, old, size, &b, &err);
	cl_ledger_close(l);
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	cl_buf_release(&b);
	return rc ? cli_fail_rc("prove", rc, err) : EXIT_OK;
}
