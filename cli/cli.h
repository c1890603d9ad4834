/*
 * cli.h - the command-line front end.  Only cli/ parses arguments, prints
 * and chooses exit statuses (docs/man/chatledger.1, EXIT STATUS).
 */
#ifndef CL_CLI_H
#define CL_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXIT_OK 0
#define EXIT_TAMPERED 1
#define EXIT_ERROR 2
#define EXIT_PARTIAL 3
#define EXIT_LOGGED_OUT 4  /* collector: WhatsApp logged the device out */
#define EXIT_CONFLICT 5    /* collector: credentials in use elsewhere */
#define EXIT_OUTDATED 6    /* collector: client version refused */

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;     /* the SYNOPSIS line(s), also in the man page */
	const char *summary;   /* one line for `chatledger --help` */
};

extern const struct cli_cmd cli_commands[];

/* Print the usage of `cmd` (to stdout for --help, else stderr). */
void cli_usage(const char *cmd, FILE *to);
/* Print "chatledger CMD: message" to stderr; returns EXIT_ERROR. */
int cli_fail(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, with a library status and message (the message is freed). */
int cli_fail_rc(const char *cmd, int rc, char *err);
/* The archive from -a/--archive or $CHATLEDGER_ARCHIVE, or NULL. */
const char *cli_archive(const char *opt);
/* Parse an unsigned decimal; 0 on success. */
int cli_u64(const char *s, unsigned long long *out);
/* Read a passphrase from `file` (first line) or, with file NULL, from the
 * terminal; *pass is sodium_malloc'd (sodium_free it).  0 on success. */
int cli_passphrase(const char *cmd, const char *file, int confirm,
		   unsigned char **pass, size_t *len);
/* Flush stdout and check for write errors (ENOSPC, closed pipe). */
int cli_finish_stdout(int code);

struct cl_policy;
/* Load the policy (--policy FILE or the configured one); EXIT_OK or an
 * exit status after printing the error ("file:line: reason"). */
int cli_load_policy(const char *cmd, const char *archive, const char *opt,
		    struct cl_policy **out);
/* Parse an RFC 3339 time or a YYYY-MM-DD date (midnight UTC); 0 on success. */
int cli_time(const char *s, int64_t *ms);

struct cl_wa_collector_opts;
/* pair and collect (cli/wa_run.c): the collector's callback context. */
struct cli_wa {
	const char *cmd;       /* "pair" or "collect", for the log */
};
/* Log a line on standard error as the collector does:
 * "TIME chatledger CMD: message". */
void cli_wa_log(const struct cli_wa *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run the collector with `o` (dir, mode and pair's fields set by the
 * caller; the log, signals, stop flag and lws log level are set here)
 * and return the exit status, after printing any error. */
int cli_wa_run(struct cli_wa *w, struct cl_wa_collector_opts *o);

int cmd_init(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_leaves(int argc, char **argv);
int cmd_prove(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_hold(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_retain(int argc, char **argv);
int cmd_webhook(int argc, char **argv);
int cmd_pair(int argc, char **argv);
int cmd_collect(int argc, char **argv);

#endif
