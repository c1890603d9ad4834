/*
 * cmd_pubkey.c - chatledger pubkey: print the C2SP verifier key string.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_pubkey(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ NULL, 0, NULL, 0 }
	};
	char *vkey = NULL, *err = NULL;
	int rc;

	if (!cli_ready(ctx, cli_getopt(ctx, argc, argv, opts), 1, 0))
		return ctx->code;
	if ((rc = cl_vault_load_vkey(ctx->archive, &vkey, &err)))
		return cli_fail_rc("pubkey", rc, err);
	printf("%s\n", vkey);
	free(vkey);
	return EXIT_OK;
}
