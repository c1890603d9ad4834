/*
 * wa_run.c - what chatledger pair and chatledger collect share: running
 * the collector (archiver/wa/collector.h) in the foreground, its log on
 * standard error, signals, and the exit status.
 *
 * Log lines look like "2026-01-02T03:04:05.678Z chatledger collect: MSG";
 * ALERT and ERROR lines start MSG with "ALERT: " and "ERROR: ".  With
 * CL_WA_LWS_LOG set to an lws log-level bitmask (e.g. 7 for errors,
 * warnings and notices; anything unparsable means errors and warnings),
 * libwebsockets' own lines follow as "lws: LINE".
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/collector.h"
#include "archiver/wa/conn.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
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

/* One log line: timestamp, command, prefix, message. */
static void wa_line(const struct cli_wa *w, const char *prefix,
		    const char *msg)
{
	char ts[32];

	cl_time_format(cl_time_now_ms(), ts);
	fprintf(stderr, "%s chatledger %s: %s%s\n", ts, w->cmd, prefix, msg);
	fflush(stderr);
}

void cli_wa_log(const struct cli_wa *w, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = cl_vstrdupf(fmt, ap);
	va_end(ap);
	if (msg)
		wa_line(w, "", msg);
	free(msg);
}

/* The collector's on_log. */
static void wa_on_log(void *ctx, enum cl_wa_log_level level, const char *msg)
{
	const struct cli_wa *w = ctx;

	switch (level) {
	case CL_WA_LOG_LWS:
		fprintf(stderr, "lws: %s", msg);
		return;
	case CL_WA_LOG_ALERT:
		wa_line(w, "ALERT: ", msg);
		return;
	case CL_WA_LOG_ERROR:
		wa_line(w, "ERROR: ", msg);
		return;
	case CL_WA_LOG_INFO:
	case CL_WA_LOG_WARN:
		break;
	}
	wa_line(w, "", msg);
}

/* collect --alert-command: run it with the alert JSON (and a newline) on
 * its standard input, through /bin/sh, and wait for it. */
static void wa_on_alert(void *ctx, const char *json)
{
	const struct cli_wa *w = ctx;
	FILE *p;
	int st;

	if (w->alert_cmd == NULL)
		return;
	fflush(stderr);
	p = popen(w->alert_cmd, "w");
	if (p == NULL) {
		wa_line(w, "ERROR: ", "cannot run the alert command");
		return;
	}
	fprintf(p, "%s\n", json);
	st = pclose(p);
	if (st != 0)
		cli_wa_log(w, "ERROR: the alert command exited with status %d", st);
}

/* libwebsockets' log level from CL_WA_LWS_LOG: unset or empty, none;
 * a number 0..CL_WA_LWS_LOG_MAX (C syntax: 7, 0x7), that; anything
 * else, errors and warnings. */
static unsigned lws_level_from_env(void)
{
	const char *s = getenv("CL_WA_LWS_LOG");
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return 0;
	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == NULL || *end || v < 0 || v > (long)CL_WA_LWS_LOG_MAX)
		return CL_WA_LWS_LOG_ERR | CL_WA_LWS_LOG_WARN;
	return (unsigned)v;
}

int cli_wa_run(struct cli_wa *w, struct cl_wa_collector_opts *o)
{
	struct sigaction sa;
	enum cl_wa_outcome out = CL_WA_OUT_ERROR;
	char *err = NULL;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	o->stop = &stop_flag;
	o->lws_log_level = lws_level_from_env();
	o->cb_ctx = w;
	o->on_log = wa_on_log;
	if (w->alert_cmd)
		o->on_alert = wa_on_alert;
	rc = cl_wa_collector_run(o, &out, &err);
	if (rc && out == CL_WA_OUT_ERROR)
		return cli_fail_rc(w->cmd, rc, err);
	if (err)
		fprintf(stderr, "chatledger %s: %s\n", w->cmd, err);
	free(err);
	return cli_finish_stdout(outcome_exit(out));
}
