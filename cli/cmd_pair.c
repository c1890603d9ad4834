/*
 * cmd_pair.c - chatledger pair: link the collector to a WhatsApp account
 * by QR code or pairing code (archiver/wa/collector.h, pair mode), in the
 * foreground (cli/wa_run.c).
 *
 * The QR code is drawn on standard output (unless --no-terminal-qr) and
 * written as a PNG by the library; a pairing code goes to standard output
 * only, never to the log on standard error: it links a device while it
 * lives.  SIGTERM/SIGINT stop it cleanly, exit 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "archiver/wa/collector.h"
#include "archiver/wa/qr.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

#define QR_TERM_MAX (1u << 20)  /* bytes of one rendered QR code */

/* A new QR code: draw it and say what to do with it. */
static void pair_on_qr(void *ctx, const char *qr, uint64_t number,
		       const char *png)
{
	struct cl_buf term;

	(void)ctx;
	(void)number;
	(void)png;
	cl_buf_init(&term, QR_TERM_MAX);
	if (cl_wa_qr_render_utf8(qr, &term) == CL_OK) {
		fwrite(term.data, 1, term.len, stdout);
		fputs("Scan with WhatsApp on the business phone: Settings > Linked devices > Link a device.\n",
		      stdout);
		fflush(stdout);
	}
	cl_buf_release(&term);
}

/* A pairing code: standard output only; the log just says it was shown. */
static void pair_on_code(void *ctx, const char *code, const char *phone,
			 int64_t valid_ms)
{
	const struct cli_wa *w = ctx;

	printf("Pairing code: %s\n"
	       "On the business phone: WhatsApp > Settings > Linked devices > Link a device > Link with phone number instead, and enter the code.\n",
	       code);
	fflush(stdout);
	cli_wa_log(w, "pairing code for +%s printed on standard output, valid %.0f s",
		   phone, (double)valid_ms / 1000.0);
}

int cmd_pair(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "qr-png", required_argument, NULL, 'p' },
		{ "no-terminal-qr", no_argument, NULL, 'n' },
		{ "pairing-code", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_wa w = { "pair", NULL };
	struct cl_wa_collector_opts o;
	int c, terminal = 1;

	memset(&o, 0, sizeof(o));
	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0) {
		switch (c) {
		case 'p': o.qr_png = optarg; break;
		case 'n': terminal = 0; break;
		case 'c':
			o.pairing_phone = optarg[0] == '+' ? optarg + 1 : optarg;
			break;
		}
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	o.dir = ctx->archive;
	o.mode = CL_WA_PAIR;
	/* as before: a QR code shown while pairing by code is drawn too */
	if (terminal || o.pairing_phone)
		o.on_qr = pair_on_qr;
	o.on_pair_code = pair_on_code;
	return cli_wa_run(&w, &o);
}
