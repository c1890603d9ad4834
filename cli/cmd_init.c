/*
 * cmd_init.c - chatledger init: create an archive.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/export/sign.h"
#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_init(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "kdf", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	const char *origin = NULL;
	struct cl_archive_opts ao;
	char *err = NULL;
	int c, rc, kdf = CL_KDF_MODERATE;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'o': origin = optarg; break;
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
		}
	}
	if (!cli_ready(ctx, c, origin != NULL, CLI_SETUP_ALL))
		return ctx->code;
	ao.origin = origin;
	ao.pass = ctx->pass;
	ao.passlen = ctx->pass_len;
	ao.kdf = kdf;
	rc = cl_archive_init(ctx->archive, &ao, &err);
	cli_forget_passphrase(ctx);
	if (rc)
		return cli_fail_rc("init", rc, err);
	{
		/* The export signing keys (docs/BUNDLE.md §5), created with the archive. */
		int created = 0;

		if ((rc = cl_sign_keys_ensure(ctx->archive, origin, &created, &err)))
			return cli_fail_rc("init", rc, err);
	}
	printf("created archive %s (origin %s)\n", ctx->archive, origin);
	return EXIT_OK;
}
