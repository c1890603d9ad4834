/*
 * cmd_show.c - chatledger show: decrypt one entry (the officer's path).
 */
#include <getopt.h>
#include <stdio.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_show(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "index", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long index = 0;
	unsigned char *sk = NULL;
	int have_index = 0, c, rc, code;
	struct cl_buf b;
	char *err = NULL;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'i') {
		if (cli_u64(optarg, &index) != 0)
			return cli_fail("show", "--index must be an entry index");
		have_index = 1;
	}
	if (!cli_ready(ctx, c, have_index, 0))
		return ctx->code;
	/* The key first: a wrong passphrase is reported before the ledger is
	 * even opened. */
	if ((rc = cli_setup(ctx, CLI_NEEDS_PASSPHRASE)) != EXIT_OK)
		return rc;
	rc = cl_vault_unlock_seal(ctx->archive, ctx->pass, ctx->pass_len, &sk, &err);
	cli_forget_passphrase(ctx);
	if (rc)
		return cli_fail_rc("show", rc, err);
	cl_buf_init(&b, 64u << 20);
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	rc = cl_ledger_open_payload(ctx->ledger, index, sk, &b, &err);
	if (rc == 0) {
		fwrite(b.data, 1, b.len, stdout);
		putchar('\n');
	}
	code = rc ? cli_fail_rc("show", rc, err) : EXIT_OK;
out:
	sodium_free(sk);
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	return code;
}
