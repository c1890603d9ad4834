/*
 * console.h - the officers' web console (issue 15; docs/man/
 * chatledger-console.1, SECURITY.md "The console").
 *
 * A libmicrohttpd server with server-rendered HTML, no JavaScript and no
 * external assets, in English and Traditional Chinese.  Every page but
 * the sign-in page and the style sheet needs a session; a session is
 * opened by unlocking a named officer (archiver/officers/officers.h) and
 * holds that officer's unlocked key in sodium_malloc() memory until
 * sign-out or expiry (idle and absolute), when it is wiped.  Every change
 * is a POST carrying the session's CSRF token; every reveal of content and
 * every sign-in attempt is an access entry in the ledger, naming the
 * officer.  Plain HTTP is refused unless the address is loopback.
 */
#ifndef CL_CONSOLE_H
#define CL_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ledger/ledger.h"
#include "archiver/officers/officers.h"

struct cl_console_opts {
	const char *dir;               /* the archive */
	const char *listen;            /* "ADDR:PORT" or "[ADDR6]:PORT"; port 0 = any */
	const char *tls_cert;          /* PEM text, or NULL for plain HTTP (loopback only) */
	const char *tls_key;           /* PEM text (the caller keeps it in guarded memory) */
	int lang;                      /* default language: 0 English, 1 Traditional Chinese */
	struct cl_officer_config cfg;  /* timeouts, attempts, reason rule */
};

struct cl_console;

/*
 * Start serving (one internal thread) on a ledger opened for writing
 * (`l`, borrowed until cl_console_stop).  CL_EINVAL for a bad address or
 * plain HTTP on a non-loopback address; CL_EIO when it cannot listen.
 */
int cl_console_start(struct cl_ledger *l, const struct cl_console_opts *o,
		     struct cl_console **out, char **err);
/* The bound address, "ADDR:PORT". */
const char *cl_console_address(const struct cl_console *c);
/* Stop, wipe every session's key, free. */
void cl_console_stop(struct cl_console *c);

#endif
