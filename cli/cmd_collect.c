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
#include <stdio.h>
#include <string.h>

#include "archiver/wa/collector.h"
#include "cli/cli.h"
#include "common/banned.h"

int cmd_collect(int argc, char **argv)
{
	/* pair's options are known here too, as they always were: a stray
	 * --no-terminal-qr is ignored, --qr-png and --pairing-code get the
	 * usage */
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "qr-png", required_argument, NULL, 'p' },
		{ "no-terminal-qr", no_argument, NULL, 'n' },
		{ "pairing-code", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_wa w = { "collect" };
	struct cl_wa_collector_opts o;
	const char *archive = NULL;
	int c;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'n': break;
		case 'h': cli_usage(w.cmd, stdout); return EXIT_OK;
		default: cli_usage(w.cmd, stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage(w.cmd, stderr);
		return EXIT_ERROR;
	}
	o.dir = archive;
	o.mode = CL_WA_COLLECT;
	return cli_wa_run(&w, &o);
}
