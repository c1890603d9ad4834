/*
 * cmd_init.c - chatledger init: create an archive.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "origin", required_argument, NULL, 'o' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "kdf", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL, *origin = NULL, *pfile = NULL;
	struct cl_archive_opts ao;
	unsigned char *pass = NULL;
	size_t plen = 0;
	char *err = NULL;
	int c, rc, kdf = CL_KDF_MODERATE;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'o': origin = optarg; break;
		case 'p': pfile = optarg; break;
		case 'k':
			if (strcmp(optarg, "interactive") == 0)
				kdf = CL_KDF_INTERACTIVE;
			else if (strcmp(optarg, "moderate") == 0)
				kdf = CL_KDF_MODERATE;
			else if (strcmp(optarg, "sensitive") == 0)
				kdf = CL_KDF_SENSITIVE;
			else
				return cli_fail("init", "--kdf must be interactive, moderate or sensitive");
			break;
		case 'h': cli_usage("init", stdout); return EXIT_OK;
		default: cli_usage("init", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || origin == NULL || optind != argc) {
		cli_usage("init", stderr);
		return EXIT_ERROR;
	}
	if (cli_passphrase("init", pfile, 1, &pass, &plen) != 0)
		return EXIT_ERROR;
	ao.origin = origin;
	ao.pass = pass;
	ao.passlen = plen;
	ao.kdf = kdf;
	rc = cl_archive_init(archive, &ao, &err);
	sodium_free(pass);
	if (rc)
		return cli_fail_rc("init", rc, err);
	printf("created archive %s (origin %s)\n", archive, origin);
	return EXIT_OK;
}
