/*
 * console_int.h - what console.c (server, sessions) and pages.c (pages)
 * share.  Not a public interface.
 */
#ifndef CL_CONSOLE_INT_H
#define CL_CONSOLE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/console/console.h"
#include "common/buf.h"

struct MHD_Daemon;
struct MHD_Connection;

#define CL_CON_MAX_FIELDS 16
#define CL_CON_MAX_VALUE 4097
#define CL_CON_FAILS 256

struct cl_con_session {
	int used;
	unsigned char id[32];      /* the cookie's value (hex) */
	unsigned char csrf[32];    /* the forms' token (hex) */
	char id_hex[65], csrf_hex[65];
	struct cl_officer *off;    /* the unlocked officer (key in sodium_malloc) */
	int64_t created, seen;     /* ms */
	int lang;                  /* 0 en, 1 zh-Hant */
};

struct cl_con_fail {
	char key[80];              /* "n:NAME" or "a:ADDRESS" */
	int64_t at;
};

struct cl_console {
	struct cl_console_opts o;
	struct cl_ledger *l;
	struct MHD_Daemon *d;
	int lfd;
	char addr[80];
	char *exports;                    /* DIR/console-exports */
	struct cl_con_session *sess;      /* cfg.max_sessions, sodium_allocarray */
	struct cl_con_fail fails[CL_CON_FAILS];
	size_t fail_next;
};

struct cl_con_req {
	struct MHD_Connection *conn;
	int is_post, is_get, bad;
	struct MHD_PostProcessor *pp;
	size_t body;
	char *keys[CL_CON_MAX_FIELDS];
	struct cl_buf vals[CL_CON_MAX_FIELDS];   /* NUL-terminated */
	size_t n;
	/* set before routing */
	const char *path;
	char addr[64];
	int64_t now;
	struct cl_con_session *s;   /* the live session, or NULL */
	int lang;                   /* the page's language: 0 en, 1 zh-Hant */
};

struct cl_con_page {
	struct cl_buf b;
	int status;
	const char *ctype;
	const char *location;       /* for 303 */
	char location_buf[512];
	int cookie;                 /* 1 set cookie_val, 2 clear */
	char cookie_val[65];
	char disposition[160];
	int fd;                     /* a file to send instead of b, or -1 */
	int64_t fd_size;
};

/* A form field (POST) or query argument (GET); NULL if absent. */
const char *cl_con_arg(const struct cl_con_req *r, const char *key);
/* Parse a 64-hex-digit token into 32 bytes; 0 on success (pages.c, fuzzed). */
int cl_con_token_parse(const char *hex, unsigned char out[32]);
/* Open, end a session. */
struct cl_con_session *cl_con_session_new(struct cl_console *c, struct cl_officer *off,
					  int lang, int64_t now);
void cl_con_session_end(struct cl_con_session *s);
/* 1 if `token` is s's CSRF token (constant time). */
int cl_con_csrf_ok(const struct cl_con_session *s, const char *token);
/* The sign-in rate limit. */
int cl_con_login_allowed(const struct cl_console *c, const char *name, const char *addr,
			 int64_t now);
void cl_con_login_failed(struct cl_console *c, const char *name, const char *addr,
			 int64_t now);
/* pages.c: answer the request into `p`. */
void cl_con_route(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p);
void cl_con_error(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p,
		  int status, const char *msg);

#endif
