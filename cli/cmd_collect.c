/*
 * cmd_collect.c - chatledger pair and chatledger collect: the WhatsApp
 * linked-device collector (archiver/wa/collector.h) in the foreground.
 *
 * Both run until they are done or receive SIGTERM/SIGINT, which closes
 * the connection cleanly and records the stop in the ledger (a signed,
 * fsynced batch) before exiting 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/collector.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/banned.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int outcome_exit(enum cl_wa_outcome out)
{
	switch (out) {
	case CL_WA_OUT_OK: return EXIT_OK;
	case CL_WA_OUT_LOGGED_OUT: return EXIT_LOGGED_OUT;
	case CL_WA_OUT_CONFLICT: return EXIT_CONFLICT;
	case CL_WA_OUT_OUTDATED: return EXIT_OUTDATED;
	case CL_WA_OUT_REFUSED:
	case CL_WA_OUT_ERROR: return EXIT_ERROR;
	}
	return EXIT_ERROR;
}

static int run(const char *cmd, int argc, char **argv, enum cl_wa_mode mode)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "qr-png", required_argument, NULL, 'p' },
		{ "no-terminal-qr", no_argument, NULL, 'n' },
		{ "pairing-code", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_wa_collector_opts o;
	struct sigaction sa;
	enum cl_wa_outcome out = CL_WA_OUT_ERROR;
	const char *archive = NULL;
	char *err = NULL;
	int c, rc, terminal = 1;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'p':
			if (mode != CL_WA_PAIR) {
				cli_usage(cmd, stderr);
				return EXIT_ERROR;
			}
			o.qr_png = optarg;
			break;
		case 'n': terminal = 0; break;
		case 'c':
			if (mode != CL_WA_PAIR) {
				cli_usage(cmd, stderr);
				return EXIT_ERROR;
			}
			o.pairing_phone = optarg[0] == '+' ? optarg + 1 : optarg;
			break;
		case 'h': cli_usage(cmd, stdout); return EXIT_OK;
		default: cli_usage(cmd, stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || optind != argc) {
		cli_usage(cmd, stderr);
		return EXIT_ERROR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	o.dir = archive;
	o.mode = mode;
	o.qr_out = mode == CL_WA_PAIR && (terminal || o.pairing_phone) ?
		stdout : NULL;
	o.log = stderr;
	o.stop = &stop_flag;
	rc = cl_wa_collector_run(&o, &out, &err);
	if (rc && out == CL_WA_OUT_ERROR)
		return cli_fail_rc(cmd, rc, err);
	if (err)
		fprintf(stderr, "chatledger %s: %s\n", cmd, err);
	free(err);
	return cli_finish_stdout(outcome_exit(out));
}

int cmd_pair(int argc, char **argv)
{
	return run("pair", argc, argv, CL_WA_PAIR);
}

int cmd_collect(int argc, char **argv)
{
	return run("collect", argc, argv, CL_WA_COLLECT);
}
