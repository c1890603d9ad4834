/*
 * collector.h - the linked-device collector: pairing and the long-running
 * connection, with reconnects, credentials, coverage entries and the
 * status file.
 *
 * Files in the archive directory (DIR/wa/, mode 0700):
 *   creds.enc    the device's keys and account identity, encrypted
 *                (creds.h); creds.key is the key unless the config names
 *                another file
 *   state.json   what `chatledger status` shows: link, connection, gap
 *   pair-qr.png  while pairing only: the current QR code (0600, removed
 *                after pairing; it holds the ADV secret)
 *
 * Every lifecycle event is a coverage entry in the ledger (docs/FORMAT.md
 * §7): wa-paired, wa-connected (closing a gap), wa-disconnected (opening
 * one), wa-logged-out, wa-conflict, wa-outdated, wa-banned,
 * wa-server-refused, wa-pair-refused, wa-stopped, wa-message-pending.
 */
#ifndef CL_WA_COLLECTOR_H
#define CL_WA_COLLECTOR_H

#include <stdio.h>

enum cl_wa_mode { CL_WA_PAIR = 1, CL_WA_COLLECT };

/* Why cl_wa_collector_run() returned (the CLI maps these to exit codes). */
enum cl_wa_outcome {
	CL_WA_OUT_OK = 0,        /* pair: linked and logged in; collect: stopped */
	CL_WA_OUT_ERROR,         /* setup or I/O error (message in *err) */
	CL_WA_OUT_LOGGED_OUT,    /* credentials deleted: pair again */
	CL_WA_OUT_CONFLICT,      /* credentials in use elsewhere */
	CL_WA_OUT_OUTDATED,      /* 405/409: update [whatsapp] version */
	CL_WA_OUT_REFUSED        /* pair: server or pairing refused, or no
	                            QR code scanned in time */
};

struct cl_wa_collector_opts {
	const char *dir;            /* archive directory */
	enum cl_wa_mode mode;
	const char *qr_png;         /* pair: PNG path (default DIR/wa/pair-qr.png) */
	FILE *qr_out;               /* pair: terminal for the QR, or NULL */
	const char *pairing_phone;  /* pair: by code for this number (digits)
	                               instead of QR, or NULL */
	FILE *log;                  /* one line per event (stderr) */
	volatile int *stop;         /* set by a signal handler */
};

int cl_wa_collector_run(const struct cl_wa_collector_opts *o,
			enum cl_wa_outcome *outcome, char **err);

#endif
