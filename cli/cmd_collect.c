/*
 * cmd_collect.c - chatledger collect: the WhatsApp linked-device
 * collector (archiver/wa/collector.h) in the foreground, with its log on
 * standard error (cli/wa_run.c).
 *
 * It runs until a fatal condition or SIGTERM/SIGINT, which closes the
 * connection cleanly and records the stop in the ledger (a signed,
 * fsynced batch) before exiting 0.
 */
#include <getopt.h>
#include <string.h>

#include "archiver/wa/collector.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_collect(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "alert-command", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_wa w = { "collect", NULL };
	struct cl_wa_collector_opts o;
	int c;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 'A')
		w.alert_cmd = optarg;
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	memset(&o, 0, sizeof(o));
	o.dir = ctx->archive;
	o.mode = CL_WA_COLLECT;
	return cli_wa_run(&w, &o);
}
