/*
 * cmd_checkpoint.c - chatledger checkpoint: print a signed checkpoint,
 * followed by the witnesses' cosignature lines stored for it
 * (docs/FORMAT.md §11); --tsr FILE also writes its RFC 3161 token.
 */
#include <getopt.h>
#include <stdio.h>

#include "archiver/ledger/ledger.h"
#include "archiver/witness/push.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

int cmd_checkpoint(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "tsr", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long size = 0;
	const char *tsr = NULL;
	struct cl_ledger_stats st;
	struct cl_buf b, tok;
	char *err = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 't') {
			tsr = optarg;
			continue;
		}
		if (cli_u64(optarg, &size) != 0 || size == 0)
			return cli_fail("checkpoint", "--size must be a positive integer");
	}
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	cl_buf_init(&b, 1 << 20);
	cl_buf_init(&tok, 1 << 20);
	rc = cl_ledger_checkpoint(ctx->ledger, size, &b, &err);
	if (rc == 0 && size == 0 && (rc = cl_ledger_stats(ctx->ledger, &st, &err)) == 0)
		size = st.last_checkpoint_size;
	/* The witnesses' cosignatures are more signature lines of the same
	 * note (c2sp.org/signed-note): verifiers ignore keys they do not know. */
	if (rc == 0)
		rc = cl_witness_cosig_lines(ctx->ledger, size, &b, &err);
	if (rc == 0 && tsr) {
		rc = cl_witness_token(ctx->ledger, size, &tok, NULL, &err);
		if (rc == CL_ENOTFOUND)
			err = cl_strdupf("checkpoint %llu has no timestamp token", size);
		else if (rc == 0)
			rc = cl_file_replace(tsr, tok.data, tok.len, 0644, &err);
	}
	if (rc == 0)
		fwrite(b.data, 1, b.len, stdout);
	cl_buf_release(&b);
	cl_buf_release(&tok);
	return rc ? cli_fail_rc("checkpoint", rc, err) : EXIT_OK;
}
