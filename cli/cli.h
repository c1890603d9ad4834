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

#include <getopt.h>

struct cl_ledger;
struct cl_officer;

/*
 * What a command needs before it can run (struct cli_cmd.flags,
 * struct cli_sub.flags).  The options they imply are parsed by
 * cli_getopt(); cli_setup() then provides the rest in the context.
 */
#define CLI_NEEDS_ARCHIVE    0x01u /* -a DIR or $CHATLEDGER_ARCHIVE */
#define CLI_NEEDS_READER     0x02u /* ledger opened read-only (implies ARCHIVE) */
#define CLI_NEEDS_WRITER     0x04u /* ledger opened as the writer (implies ARCHIVE) */
#define CLI_NEEDS_PASSPHRASE 0x08u /* --passphrase-file FILE, else the terminal */
#define CLI_CONFIRM_PASSPHRASE 0x10u /* with PASSPHRASE: ask twice on a terminal */
#define CLI_TAKES_OPERANDS   0x20u /* at least one operand after the options */
/* issue 15: --officer NAME and --reason TEXT (cli/officer.c); with
 * named officers configured, the officer's passphrase is asked for. */
#define CLI_OFFICER          0x40u
/* The ledger is read through a memory map (cl_ledger_map_reads): for the
 * query commands whose reads are random and few (search, show).  Not for
 * export or DSAR, whose peak resident size must not grow with the bundle
 * (mapped pages count towards it). */
#define CLI_MAP_READS        0x80u

/* An option's val with this bit names a file holding a secret: it must be
 * spelled in full (no getopt_long abbreviation), and neither its value
 * nor the file's contents ever appear in a message. */
#define CLI_SECRET(c) (0x10000 | (c))
/* The val of the common --wait option (writer commands). */
#define CLI_OPT_WAIT 0x20000

#define CLI_MAX_OPTS 32

/*
 * The context run_command() in main.c builds for one command: filled by
 * cli_getopt() (archive, passphrase file) and cli_setup() (passphrase,
 * ledger), released by run_command() after the command returns (the
 * ledger closed, the passphrase wiped and freed).
 */
struct cli_ctx {
	const char *name;          /* the command, for messages and usage */
	unsigned flags;            /* CLI_NEEDS_* of the command (or subcommand) */
	const char *archive;       /* the archive directory, once parsed */
	const char *pass_file;     /* --passphrase-file, or NULL for the terminal */
	unsigned char *pass;       /* sodium_malloc'd; freed by run_command() */
	size_t pass_len;
	struct cl_ledger *ledger;  /* opened by cli_setup(); closed by run_command() */
	unsigned done;             /* the CLI_NEEDS_* cli_setup() has provided */
	long long wait_ms;         /* --wait SECONDS in ms (writers), if wait_set */
	int wait_set;
	int code;                  /* exit status when cli_getopt() says CLI_OPTS_EXIT */
	struct option longopts[CLI_MAX_OPTS]; /* the command's plus the common ones */
	/* issue 15 (cli/officer.c): --officer, --reason, the unlocked officer */
	const char *officer;
	const char *reason;
	struct cl_officer *off;    /* freed (wiped) by run_command() */
};

struct cli_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
	unsigned flags;        /* CLI_NEEDS_* */
	const char *usage;     /* the SYNOPSIS line(s), also in the man page */
	const char *summary;   /* one line for `chatledger --help` */
};

/* A subcommand (hold add, policy check): its flags are added to the
 * command's before it runs. */
struct cli_sub {
	const char *name;
	int (*fn)(int argc, char **argv, struct cli_ctx *ctx);
	unsigned flags;
};

extern const struct cli_cmd cli_commands[];

/* Print the usage of `cmd` (to stdout for --help, else stderr). */
void cli_usage(const char *cmd, FILE *to);

#define CLI_OPTS_DONE (-1)
#define CLI_OPTS_EXIT (-2)
/*
 * getopt_long over `opts` (the command's own options, without -a, -h and
 * --passphrase-file, ended by a zeroed entry) plus the common options the
 * command's flags call for.  Returns the val of the command's next option
 * (optarg as getopt_long sets it); CLI_OPTS_DONE when the options are
 * over and the archive (if needed) and the operands are as the flags say,
 * with optind at the first operand; or CLI_OPTS_EXIT after printing the
 * usage (to stdout for --help) or an error, with the exit status in
 * ctx->code.  A CLI_SECRET option abbreviated is an error that names the
 * option, never its value.
 */
int cli_getopt(struct cli_ctx *ctx, int argc, char **argv, const struct option *opts);
/* Print the usage to stderr; returns EXIT_ERROR. */
int cli_usage_error(const struct cli_ctx *ctx);
/*
 * Provide what ctx->flags ask for, limited to `what` (CLI_SETUP_ALL, or
 * some CLI_NEEDS_* to do one step now and the rest later): read the
 * passphrase, then open the ledger (read-only or as the writer).  Steps
 * already done are not repeated.  Call after the options are checked.
 * EXIT_OK, or an exit status after printing the error.
 */
#define CLI_SETUP_ALL (~0u)
int cli_setup(struct cli_ctx *ctx, unsigned what);
/*
 * After a command's option loop (`last`: what cli_getopt returned last):
 * nonzero when the command goes on, that is the options were fine,
 * `complete` says its own required options are there (else the usage is
 * printed) and cli_setup(ctx, setup) succeeded (setup 0: nothing yet).
 * 0 when the command must return ctx->code (EXIT_OK after --help).
 * Inline, so that analyzers see a command go on only when `complete`.
 */
static inline int cli_ready(struct cli_ctx *ctx, int last, int complete, unsigned setup)
{
	if (last != CLI_OPTS_DONE)
		return 0;
	if (!complete) {
		ctx->code = cli_usage_error(ctx);
		return 0;
	}
	ctx->code = setup ? cli_setup(ctx, setup) : EXIT_OK;
	return ctx->code == EXIT_OK;
}
/* Close the ledger before the command ends (e.g. before its summary). */
void cli_close(struct cli_ctx *ctx);
/* Wipe and free the passphrase once it has served. */
void cli_forget_passphrase(struct cli_ctx *ctx);
/* Run the subcommand argv[1] from `subs` (ended by a NULL name), or
 * print the usage: --help/-h to stdout (EXIT_OK), else to stderr. */
int cli_subcommand(struct cli_ctx *ctx, int argc, char **argv, const struct cli_sub *subs);
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
	const char *alert_cmd; /* collect --alert-command, or NULL */
};
/* Log a line on standard error as the collector does:
 * "TIME chatledger CMD: message". */
void cli_wa_log(const struct cli_wa *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Run the collector with `o` (dir, mode and pair's fields set by the
 * caller; the log, signals, stop flag and lws log level are set here)
 * and return the exit status, after printing any error. */
int cli_wa_run(struct cli_wa *w, struct cl_wa_collector_opts *o);

int cmd_init(int argc, char **argv, struct cli_ctx *ctx);
int cmd_ingest(int argc, char **argv, struct cli_ctx *ctx);
int cmd_verify(int argc, char **argv, struct cli_ctx *ctx);
int cmd_checkpoint(int argc, char **argv, struct cli_ctx *ctx);
int cmd_pubkey(int argc, char **argv, struct cli_ctx *ctx);
int cmd_leaves(int argc, char **argv, struct cli_ctx *ctx);
int cmd_prove(int argc, char **argv, struct cli_ctx *ctx);
int cmd_show(int argc, char **argv, struct cli_ctx *ctx);
int cmd_status(int argc, char **argv, struct cli_ctx *ctx);
int cmd_hold(int argc, char **argv, struct cli_ctx *ctx);
int cmd_policy(int argc, char **argv, struct cli_ctx *ctx);
int cmd_party(int argc, char **argv, struct cli_ctx *ctx);
int cmd_label(int argc, char **argv, struct cli_ctx *ctx);
int cmd_retain(int argc, char **argv, struct cli_ctx *ctx);
int cmd_webhook(int argc, char **argv, struct cli_ctx *ctx);
int cmd_wechat(int argc, char **argv, struct cli_ctx *ctx);
int cmd_pair(int argc, char **argv, struct cli_ctx *ctx);
int cmd_collect(int argc, char **argv, struct cli_ctx *ctx);
int cmd_witness(int argc, char **argv, struct cli_ctx *ctx);
/* issue 12, bundle side (cli/cmd_export.c, cli/cmd_verify_bundle.c) */
int cmd_export(int argc, char **argv, struct cli_ctx *ctx);
int cmd_export_cert(int argc, char **argv, struct cli_ctx *ctx);
int cmd_verify_bundle(int argc, char **argv, struct cli_ctx *ctx);
int cmd_search(int argc, char **argv, struct cli_ctx *ctx);
int cmd_dsar(int argc, char **argv, struct cli_ctx *ctx);
int cmd_access(int argc, char **argv, struct cli_ctx *ctx);
int cmd_replicate(int argc, char **argv, struct cli_ctx *ctx);
int cmd_restore(int argc, char **argv, struct cli_ctx *ctx);

/* replicate, restore, verify --remote (cli/cmd_replicate.c): what names
 * the store; NULLs fall back to the archive's [replicate] section. */
struct cl_repl;
struct cli_repl_args {
	const char *archive;   /* for [replicate]; NULL on restore */
	const char *url, *keys_url, *endpoint, *cred_file;
	int allow_http;
	int need_keys;         /* the key store URL is required (replicate) */
};
/* Open a session to the store; EXIT_OK or an exit status after the error
 * was printed.  *url_used (malloc'd) names the WORM location. */
int cli_repl_session(const char *cmd, const struct cli_repl_args *a, struct cl_repl **out,
		     char **url_used);
/* verify --remote: audit the bucket against the archive; prints, returns
 * the exit status (1 on a finding). */
int cli_verify_remote(const char *archive, const char *url, const char *cred_file,
		      int deep, int json);
/* issue 15: named officers and the console (cli/cmd_officer.c, cli/cmd_console.c) */
int cmd_officer(int argc, char **argv, struct cli_ctx *ctx);
int cmd_console(int argc, char **argv, struct cli_ctx *ctx);

#endif
