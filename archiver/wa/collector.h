/*
 * collector.h - the linked-device collector: pairing and the long-running
 * connection, with reconnects, credentials, coverage entries and the
 * status file.
 *
 * Files in the archive directory (DIR/wa/, mode 0700):
 *   creds.enc    the device's keys and account identity, encrypted
 *                (creds.h); creds.key is the key unless the config names
 *                another file
 *   state.json   what `chatledger status` shows: link, connection, gap,
 *                the phone's last-seen time and 12-day warning (read
 *                with cl_wa_status_read(), status.h)
 *   pair-qr.png  while pairing only: the current QR code (0600, removed
 *                after pairing; it holds the ADV secret)
 *
 * Every lifecycle event is a coverage entry in the ledger (docs/FORMAT.md
 * §7): wa-paired, wa-connected (closing a gap), wa-disconnected (opening
 * one), wa-logged-out, wa-conflict, wa-outdated, wa-banned,
 * wa-server-refused, wa-pair-refused, wa-stopped; messages (receive.h):
 * wa-decrypt-failed, wa-decrypt-recovered, wa-decrypt-abandoned,
 * wa-message-unavailable; history syncs (receive.h, history.h):
 * wa-history-sync, wa-history-chat, wa-history-failed,
 * wa-history-abandoned; message media (receive.h, media.h):
 * wa-media-failed, wa-media-abandoned; the number's devices (devices.h):
 * wa-device-added, wa-device-removed; the number's phone (phone.h):
 * wa-phone-inactive, wa-phone-seen.  Messages themselves, history
 * records and group changes (w:gp2) are records of source "whatsapp-md"
 * (message.h, history.h, receive.h).
 *
 * The library never prints, exits or reads the environment: it reports
 * each event as a log line, and hands the QR code and the pairing code
 * to the caller, through the callbacks in cl_wa_collector_opts.  The
 * caller (cli/cmd_pair.c, cli/cmd_collect.c) adds timestamps, chooses
 * the streams and words the instructions for the person at the phone.
 */
#ifndef CL_WA_COLLECTOR_H
#define CL_WA_COLLECTOR_H

#include <stdint.h>

#define CL_WA_CACHE_KIB 8192u  /* the collector's SQLite page cache */

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

/* What kind of line on_log receives. */
enum cl_wa_log_level {
	CL_WA_LOG_INFO = 0,      /* a routine event (connected, QR written, ...) */
	CL_WA_LOG_WARN,          /* a problem the collector rides out (the
	                            state file could not be written) */
	CL_WA_LOG_ERROR,         /* something was not recorded (a coverage
	                            entry could not be appended) */
	CL_WA_LOG_ALERT,         /* needs a person: logged out, conflict,
	                            outdated, banned, server refused */
	CL_WA_LOG_LWS            /* a line from libwebsockets, verbatim (its
	                            own timestamp first, a newline last); only
	                            with lws_log_level set */
};

/*
 * The options.  The callbacks may be NULL (that output is dropped), are
 * called on the thread running cl_wa_collector_run(), during the call,
 * with `cb_ctx`, and must not call back into the collector; their
 * strings are valid only during the call.
 */
struct cl_wa_collector_opts {
	const char *dir;            /* archive directory */
	enum cl_wa_mode mode;
	const char *qr_png;         /* pair: PNG path (default DIR/wa/pair-qr.png) */
	const char *pairing_phone;  /* pair: by code for this number (digits)
	                               instead of QR, or NULL; needs
	                               on_pair_code */
	volatile int *stop;         /* set by a signal handler */
	unsigned lws_log_level;     /* libwebsockets' log (conn.h,
	                               CL_WA_LWS_LOG_*); 0: none */
	void *cb_ctx;
	/* One line per event, without timestamp or trailing newline, for a
	 * log (journal).  Never carries a secret: no key, no QR string, no
	 * pairing code. */
	void (*on_log)(void *cb_ctx, enum cl_wa_log_level level,
		       const char *msg);
	/* pair: a new QR code, number 1, 2, ... in the order shown, already
	 * written as a PNG to `png`; show it until the next one (qr holds
	 * the ADV secret: display it, never log it).  Then on_log reports
	 * the PNG and how long the code is valid. */
	void (*on_qr)(void *cb_ctx, const char *qr, uint64_t number,
		      const char *png);
	/* pair by code: the code to type on the phone ("ABCD-EFGH") for
	 * pairing_phone, valid for about valid_ms milliseconds.  It links a
	 * device while it lives: show it to the person, never log it.  The
	 * library does not log it either. */
	void (*on_pair_code)(void *cb_ctx, const char *code,
			     const char *phone, int64_t valid_ms);
	/* collect: every alert (logged out, banned, conflict, outdated,
	 * server refused, an unknown device linked to the number, a message
	 * that could not be decrypted after every retry, the phone not online
	 * for 12 days) as one JSON object
	 * {"alert": KIND, "message": ..., ...}; also logged as an ALERT
	 * line.  May be NULL. */
	void (*on_alert)(void *cb_ctx, const char *json);
};

/*
 * Pair or collect until done, stopped (*o->stop) or a fatal condition.
 * Returns CL_OK or a status code; *outcome says why it returned and
 * *err (if err is non-NULL; the caller frees it with free()) carries a
 * one-line message for errors and refusals.  CL_EINVAL when pairing by
 * code without on_pair_code.
 */
int cl_wa_collector_run(const struct cl_wa_collector_opts *o,
			enum cl_wa_outcome *outcome, char **err);

#endif
