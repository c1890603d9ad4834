/*
 * cmd_pubkey.c - chatledger pubkey: print the C2SP verifier key string.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_pubkey(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL;
	char *vkey = NULL, *err = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'h': cli_usage("pubkey", stdout); return EXIT_OK;
		default: cli_usage("pubkey", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage("pubkey", stderr);
		return EXIT_ERROR;
	}
	if ((rc = cl_vault_load_vkey(archive, &vkey, &err)))
		return cli_fail_rc("pubkey", rc, err);
	printf("%s\n", vkey);
	free(vkey);
	return EXIT_OK;
}
