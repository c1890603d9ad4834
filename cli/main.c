/*
 * main.c - chatledger's command table and dispatcher, and the set-up every
 * command shares: the common options (cli_getopt), the archive, the
 * passphrase and the opened ledger (cli_setup), released in one place
 * (run_command) whatever the command returns.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/rocopy.h"
#include "archiver/officers/officers.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/banned.h"

const struct cli_cmd cli_commands[] = {
	{ "init", cmd_init, CLI_NEEDS_ARCHIVE | CLI_NEEDS_PASSPHRASE | CLI_CONFIRM_PASSPHRASE,
	  "chatledger init -a DIR --origin NAME [--passphrase-file FILE] [--kdf interactive|moderate|sensitive]",
	  "create a new archive and its keys" },
	{ "ingest", cmd_ingest, CLI_NEEDS_WRITER | CLI_TAKES_OPERANDS,
	  "chatledger ingest -a DIR --format jsonl [--label L]... [--batch N] [--threads N] [--json] FILE|-...\n"
	  "       chatledger ingest -a DIR --format whatsapp-export --account ID [--conversation ID] [--self NAME] [--tz ZONE] [--date-order dmy|mdy|ymd] [--json] FILE...\n"
	  "       chatledger ingest -a DIR --format cloudapi|wecom [--account ID] [--json] FILE...",
	  "import records; bad items are quarantined (exit 3)" },
	{ "verify", cmd_verify, CLI_NEEDS_ARCHIVE | CLI_NEEDS_PASSPHRASE | CLI_OFFICER,
	  "chatledger verify -a DIR [--key VKEY] [--checkpoint FILE]... [--witness-policy FILE] [--tsa-ca FILE] [--read-only] [--deep [--passphrase-file FILE]] [--remote S3-URL [--credentials-file FILE]] [--json]",
	  "verify the whole archive without any secret" },
	{ "checkpoint", cmd_checkpoint, CLI_NEEDS_READER,
	  "chatledger checkpoint -a DIR [--size N] [--tsr FILE]",
	  "print the latest (or a given) signed checkpoint" },
	{ "pubkey", cmd_pubkey, CLI_NEEDS_ARCHIVE,
	  "chatledger pubkey -a DIR",
	  "print the log's C2SP verifier key" },
	{ "leaves", cmd_leaves, CLI_NEEDS_READER,
	  "chatledger leaves -a DIR [--from N] [--to M]",
	  "print leaf bytes as hex, one per line" },
	{ "prove", cmd_prove, CLI_NEEDS_READER,
	  "chatledger prove -a DIR --index N [--size M]\n"
	  "       chatledger prove -a DIR --consistency OLD [--size M]",
	  "print an inclusion (tlog-proof) or consistency proof" },
	{ "show", cmd_show, CLI_NEEDS_PASSPHRASE | CLI_NEEDS_WRITER | CLI_OFFICER | CLI_MAP_READS,
	  "chatledger show -a DIR --index N [--out FILE] [--passphrase-file FILE]\n"
	  "       chatledger show -a DIR (--index N | --range A-B)... [--passphrase-file FILE]",
	  "decrypt entries (records as canonical JSON; --out: exact bytes)" },
	{ "status", cmd_status, CLI_NEEDS_READER,
	  "chatledger status -a DIR [--json]",
	  "summarise the archive: size, checkpoint, coverage, quarantine" },
	{ "hold", cmd_hold, CLI_NEEDS_ARCHIVE | CLI_OFFICER,
	  "chatledger hold add -a DIR --case ID --reason TEXT [--party ID]... [--conversation ID]... [--from DATE] [--to DATE] [--until DATE] [--allow-empty]\n"
	  "       chatledger hold list -a DIR [--json]\n"
	  "       chatledger hold release -a DIR --case ID",
	  "place, list and release legal or regulator holds" },
	{ "policy", cmd_policy, CLI_NEEDS_ARCHIVE | CLI_OFFICER,
	  "chatledger policy event -a DIR --subject ID --event NAME --at DATE [--note TEXT] [--allow-empty]\n"
	  "       chatledger policy explain -a DIR --index N|--party ID [--policy FILE] [--now TIME] [--json]\n"
	  "       chatledger policy check -a DIR [--policy FILE]",
	  "record lifecycle events; explain and check the retention policy" },
	{ "party", cmd_party, CLI_NEEDS_ARCHIVE | CLI_OFFICER,
	  "chatledger party link -a DIR ID ID [--note TEXT] [--by NAME] [--allow-empty]\n"
	  "       chatledger party unlink -a DIR ID ID [--note TEXT] [--by NAME]\n"
	  "       chatledger party show -a DIR ID [--passphrase-file FILE] [--json]\n"
	  "       chatledger party list -a DIR [--passphrase-file FILE] [--json]",
	  "link a customer's identifiers across sources; show what a party covers" },
	{ "label", cmd_label, CLI_NEEDS_ARCHIVE | CLI_OFFICER,
	  "chatledger label add -a DIR --label L (--party ID | --conversation ID)... [--note TEXT] [--allow-empty]\n"
	  "       chatledger label remove -a DIR --label L (--party ID | --conversation ID)...\n"
	  "       chatledger label list -a DIR [--json]",
	  "classify a party's or a conversation's records for retention" },
	{ "retain", cmd_retain, CLI_NEEDS_WRITER | CLI_NEEDS_PASSPHRASE,
	  "chatledger retain -a DIR [--policy FILE] [--dry-run] [--list] [--passphrase-file FILE] [--now TIME] [--json]\n"
	  "       chatledger retain -a DIR --report [--all] [--json]",
	  "erase what the retention policy says is due (nightly)" },
	{ "webhook", cmd_webhook, CLI_NEEDS_WRITER,
	  "chatledger webhook -a DIR --listen ADDR:PORT --app-secret-file FILE --verify-token-file FILE [--max-body BYTES] [--max-connections N] [--max-connections-per-address N] [--header-timeout SECONDS] [--access-token-file FILE [--media-url URL] [--media-retry-base SECONDS]] [--json]",
	  "receive WhatsApp Business Platform webhooks (signed, durable)" },
	{ "wechat", cmd_wechat, CLI_NEEDS_ARCHIVE,
	  "chatledger wechat serve -a DIR --listen ADDR:PORT [--oa-appid ID --oa-token-file FILE [--oa-aes-key-file FILE] [--oa-secret-file FILE] [--oa-require-aes]] [--wecom-corpid ID --wecom-token-file FILE --wecom-aes-key-file FILE [--wecom-secret-file FILE] [--lookup-unionid]] [--max-skew SECONDS] [--api-url URL] [--wecom-api-url URL] [--media-retry-base SECONDS] [--no-store] [--json]\n"
	  "       chatledger wechat pull -a DIR --route msglist --oa-appid ID --oa-secret-file FILE [--from TIME] [--to TIME] [--page-size N] [--api-url URL] [--json]\n"
	  "       chatledger wechat pull -a DIR --route kf --wecom-corpid ID --wecom-secret-file FILE [--open-kfid ID]... [--lookup-unionid] [--wecom-api-url URL] [--json]",
	  "receive WeChat/WeCom pushes; pull customer-service records and 微信客服" },
	{ "pair", cmd_pair, CLI_NEEDS_ARCHIVE,
	  "chatledger pair -a DIR [--qr-png FILE] [--no-terminal-qr]\n"
	  "       chatledger pair -a DIR --pairing-code PHONE",
	  "link the collector to a WhatsApp account (QR or pairing code)" },
	{ "collect", cmd_collect, CLI_NEEDS_ARCHIVE,
	  "chatledger collect -a DIR [--alert-command CMD]",
	  "run the linked-device collector in the foreground" },
	{ "witness", cmd_witness, 0,
	  "chatledger witness init --state DIR --name NAME\n"
	  "       chatledger witness serve --state DIR --listen ADDR:PORT\n"
	  "       chatledger witness add-log --state DIR --key VKEY [--origin ORIGIN]\n"
	  "       chatledger witness disable-log --state DIR --origin ORIGIN\n"
	  "       chatledger witness list --state DIR [--json]\n"
	  "       chatledger witness pubkey --state DIR\n"
	  "       chatledger witness cosign --state DIR REQUEST|-\n"
	  "       chatledger witness push -a DIR [--force] [--json]",
	  "cosign peers' checkpoints (C2SP tlog-witness); push ours to witnesses" },
	{ "export", cmd_export, CLI_NEEDS_WRITER | CLI_NEEDS_PASSPHRASE | CLI_OFFICER,
	  "chatledger export -a DIR --out FILE.zip|FILE.tar --case ID [--party P]... [--conversation C]... [--kind K]... [--label L]... [--from DATE] [--to DATE] [--text WORDS] [--slice 24h] [--tz ZONE] [--tsa-url URL [--tsa-ca PEM]] [--signer-cert PEM --signer-key-file PEM [--signer-chain PEM]] [--who NAME] [--bates-prefix P] [--passphrase-file FILE] [--json]",
	  "write a signed eDiscovery bundle (BagIt, RSMF, DAT, proofs)" },
	{ "export-cert", cmd_export_cert, CLI_NEEDS_READER,
	  "chatledger export-cert -a DIR",
	  "create (once) and show the archive's export signing certificate" },
	{ "verify-bundle", cmd_verify_bundle, CLI_TAKES_OPERANDS,
	  "chatledger verify-bundle FILE [--vkey VKEY] [--ca ROOT.pem] [--tsa-ca PEM] [--witness-policy FILE] [--json]",
	  "verify an export bundle offline" },
	{ "search", cmd_search, CLI_NEEDS_WRITER | CLI_NEEDS_PASSPHRASE | CLI_OFFICER | CLI_MAP_READS,
	  "chatledger search -a DIR [--party P]... [--conversation C]... [--from DATE] [--to DATE] [--kind K]... [--label L]... [--text WORDS] [--passphrase-file FILE] [--json]",
	  "find records by party, conversation, time, kind, label and text" },
	{ "dsar", cmd_dsar, CLI_NEEDS_ARCHIVE | CLI_OFFICER,
	  "chatledger dsar -a DIR --party P --received DATE --out FILE [--passphrase-file FILE] [--json]\n"
	  "       chatledger dsar list -a DIR [--all] [--now DATE] [--json]\n"
	  "       chatledger dsar close -a DIR --id ID --note TEXT",
	  "PDPO data access requests: record, produce, list, close" },
	{ "access", cmd_access, CLI_NEEDS_ARCHIVE,
	  "chatledger access list -a DIR [--officer NAME] [--party P] [--as NAME --reason TEXT] [--passphrase-file FILE] [--json]",
	  "list the access entries (who read what, when, how many)" },
	{ "replicate", cmd_replicate, CLI_NEEDS_ARCHIVE,
	  "chatledger replicate -a DIR [--url S3-URL] [--keys-url S3-URL] [--endpoint URL] [--credentials-file FILE] [--allow-http] [--service] [--max-segments N] [--json]",
	  "copy the archive to S3 Object Lock (WORM) storage; erasures follow" },
	{ "restore", cmd_restore, CLI_NEEDS_ARCHIVE | CLI_NEEDS_PASSPHRASE,
	  "chatledger restore --from S3-URL -a NEWDIR --credentials-file FILE [--keys-url S3-URL] [--endpoint URL] [--allow-http] [--passphrase-file FILE] [--json]",
	  "rebuild an archive from its S3 replica" },
	/* issue 15: named officers and the console */
	{ "officer", cmd_officer, CLI_NEEDS_ARCHIVE,
	  "chatledger officer migrate -a DIR --name NAME [--passphrase-file FILE] [--kdf interactive|moderate|sensitive]\n"
	  "       chatledger officer add -a DIR --officer ADMIN --name NAME --role auditor|officer|admin [--passphrase-file FILE] [--new-passphrase-file FILE] [--kdf interactive|moderate|sensitive]\n"
	  "       chatledger officer remove -a DIR --officer ADMIN --name NAME [--passphrase-file FILE]\n"
	  "       chatledger officer passwd -a DIR --officer NAME [--passphrase-file FILE] [--new-passphrase-file FILE] [--kdf interactive|moderate|sensitive]\n"
	  "       chatledger officer list -a DIR [--json]",
	  "named officers: their own passphrases and roles" },
	{ "console", cmd_console, CLI_NEEDS_ARCHIVE,
	  "chatledger console -a DIR --listen ADDR:PORT [--tls-cert FILE --tls-key-file FILE] [--lang en|zh-Hant] [--json]",
	  "the officers' web console (sign-in, search, conversations, holds, exports)" },
	{ NULL, NULL, 0, NULL, NULL }
};

static void main_usage(FILE *to)
{
	const struct cli_cmd *c;

	fprintf(to, "usage: chatledger COMMAND [OPTIONS]\n\n"
		"chatledger keeps business chat messages in an append-only,\n"
		"hash-chained, signed archive that auditors verify without keys.\n\n"
		"commands:\n");
	for (c = cli_commands; c->name; c++)
		fprintf(to, "  %-11s %s\n", c->name, c->summary);
	fprintf(to, "\nEvery command takes -a DIR (default $CHATLEDGER_ARCHIVE) and --help.\n"
		"Exit status: 0 ok, 1 verification failed, 2 error, 3 partial;\n"
		"collector: 4 logged out, 5 conflict, 6 client outdated.\n"
		"See chatledger(1) and chatledger-COMMAND(1).\n");
}

void cli_usage(const char *cmd, FILE *to)
{
	const struct cli_cmd *c;

	for (c = cli_commands; c->name; c++) {
		if (strcmp(c->name, cmd) != 0)
			continue;
		fprintf(to, "usage: %s\n", c->usage);
		if (c->flags & CLI_OFFICER)
			fprintf(to, "as a named officer: --officer NAME [--reason TEXT] "
				"(recorded in the access log; see chatledger-officer(1))\n");
	}
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "chatledger %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

int cli_fail_rc(const char *cmd, int rc, char *err)
{
	int code = cli_fail(cmd, "%s", err ? err : cl_strerror(rc));

	free(err);
	return code;
}

const char *cli_archive(const char *opt)
{
	const char *a = opt ? opt : getenv("CHATLEDGER_ARCHIVE");

	return a && *a ? a : NULL;
}

int cli_u64(const char *s, unsigned long long *out)
{
	char *end = NULL;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int cli_finish_stdout(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "chatledger: cannot write output: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	return code;
}

static int read_line_fd(FILE *f, unsigned char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = fgetc(f)) != EOF && c != '\n') {
		if (n + 1 >= cap)
			return -1;
		buf[n++] = (unsigned char)c;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = 0;
	*len = n;
	return 0;
}

static int prompt(const char *text, unsigned char *buf, size_t cap, size_t *len)
{
	FILE *tty = fopen("/dev/tty", "r+e");
	struct termios old, noecho;
	int rc;

	if (tty == NULL)
		return -1;
	fputs(text, tty);
	fflush(tty);
	if (tcgetattr(fileno(tty), &old) != 0) {
		fclose(tty);
		return -1;
	}
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	rc = read_line_fd(tty, buf, cap, len);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	return rc;
}

int cli_passphrase(const char *cmd, const char *file, int confirm,
		   unsigned char **pass, size_t *len)
{
	const size_t cap = 1024;
	unsigned char *p = sodium_malloc(cap), *again = NULL;
	size_t n = 0, n2 = 0;
	int rc = -1;

	*pass = NULL;
	if (p == NULL)
		return cli_fail(cmd, "out of memory"), -1;
	if (file) {
		FILE *f = fopen(file, "re");

		if (f == NULL) {
			/* Never the name: it may be the passphrase itself,
			 * mistyped as an option's value. */
			cli_fail(cmd, "cannot open the file given to --passphrase-file: %s",
				 strerror(errno));
			goto out;
		}
		rc = read_line_fd(f, p, cap, &n);
		fclose(f);
		if (rc != 0) {
			cli_fail(cmd, "the passphrase in the file given to --passphrase-file"
				 " is longer than %zu bytes", cap - 1);
			goto out;
		}
	} else {
		if (!isatty(STDIN_FILENO) && access("/dev/tty", R_OK) != 0) {
			cli_fail(cmd, "no terminal for a passphrase prompt; use --passphrase-file");
			goto out;
		}
		if (prompt("passphrase: ", p, cap, &n) != 0) {
			cli_fail(cmd, "cannot read a passphrase from the terminal; use --passphrase-file");
			goto out;
		}
		if (confirm) {
			again = sodium_malloc(cap);
			if (again == NULL || prompt("again: ", again, cap, &n2) != 0 ||
			    n2 != n || sodium_memcmp(again, p, n) != 0) {
				cli_fail(cmd, "passphrases do not match");
				goto out;
			}
		}
	}
	if (n == 0) {
		cli_fail(cmd, "empty passphrase");
		rc = -1;
		goto out;
	}
	*pass = p;
	*len = n;
	p = NULL;
	rc = 0;
out:
	sodium_free(p);
	sodium_free(again);
	return rc == 0 ? 0 : -1;
}

/* ---- the shared set-up --------------------------------------------------- */

#define CLI_ARCHIVE_FLAGS (CLI_NEEDS_ARCHIVE | CLI_NEEDS_READER | CLI_NEEDS_WRITER)

static const struct option opt_archive = { "archive", required_argument, NULL, 'a' };
static const struct option opt_pass = { "passphrase-file", required_argument, NULL,
					CLI_SECRET('p') };
static const struct option opt_help = { "help", no_argument, NULL, 'h' };
static const struct option opt_wait = { "wait", required_argument, NULL, CLI_OPT_WAIT };
#define CLI_OPT_OFFICER 0x20001
#define CLI_OPT_REASON 0x20002
static const struct option opt_officer = { "officer", required_argument, NULL, CLI_OPT_OFFICER };
static const struct option opt_reason = { "reason", required_argument, NULL, CLI_OPT_REASON };

/* 1 if `opts` has an option called `name`. */
static int has_option(const struct option *opts, const char *name)
{
	for (; opts->name; opts++)
		if (strcmp(opts->name, name) == 0)
			return 1;
	return 0;
}

/* ctx->longopts: `opts`, then the common options the flags call for. */
static int build_longopts(struct cli_ctx *ctx, const struct option *opts)
{
	size_t n = 0;

	memset(ctx->longopts, 0, sizeof(ctx->longopts));
	for (; opts[n].name; n++) {
		if (n + 7 >= CLI_MAX_OPTS)
			return -1;
		ctx->longopts[n] = opts[n];
	}
	ctx->longopts[n++] = opt_archive;
	if (ctx->flags & (CLI_NEEDS_PASSPHRASE | CLI_OFFICER))
		ctx->longopts[n++] = opt_pass;
	if (ctx->flags & CLI_OFFICER) {
		ctx->longopts[n++] = opt_officer;
		/* hold add has its own --reason (the hold's) */
		if (!has_option(opts, "reason"))
			ctx->longopts[n++] = opt_reason;
	}
	if (ctx->flags & CLI_NEEDS_WRITER)
		ctx->longopts[n++] = opt_wait;
	ctx->longopts[n] = opt_help;
	return 0;
}

/* Copy the option word `arg` as typed, without any "=value", into `buf`
 * (cut to `cap` bytes with its NUL); returns buf. */
static const char *option_word(const char *arg, char *buf, size_t cap)
{
	size_t n = strcspn(arg, "=");

	if (n >= cap)
		n = cap - 1;
	memcpy(buf, arg, n);
	buf[n] = 0;
	return buf;
}

/* How many of ctx->longopts `word` ("--name", no "=value") abbreviates or
 * names exactly (an exact name counts alone). */
static int option_matches(const struct cli_ctx *ctx, const char *word)
{
	size_t n = strlen(word + 2), i;
	int hits = 0;

	for (i = 0; ctx->longopts[i].name; i++) {
		if (strcmp(ctx->longopts[i].name, word + 2) == 0)
			return 1;
		if (strncmp(ctx->longopts[i].name, word + 2, n) == 0)
			hits++;
	}
	return hits;
}

/* getopt_long's complaint in its own words (opterr is 0), but without the
 * "=value" of a long option: it may be a secret. */
static int bad_option(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	char word[64];

	fflush(stdout);
	if (strncmp(arg, "--", 2) != 0) {
		if (optopt == 'a')
			fprintf(stderr, "%s: option requires an argument -- 'a'\n", argv[0]);
		else
			fprintf(stderr, "%s: invalid option -- '%c'\n", argv[0],
				optopt > ' ' && optopt < 127 ? optopt : '?');
	} else if (optopt == 0) {
		option_word(arg, word, sizeof(word));
		fprintf(stderr, option_matches(ctx, word) > 1 ?
			"%s: option '%s' is ambiguous\n" : "%s: unrecognized option '%s'\n",
			argv[0], word);
	} else {
		/* optopt is the option's val: name it in full, as getopt does. */
		const char *name = "";
		size_t i;

		for (i = 0; ctx->longopts[i].name; i++)
			if (ctx->longopts[i].val == optopt)
				name = ctx->longopts[i].name;
		fprintf(stderr, strchr(arg, '=') != NULL ?
			"%s: option '--%s' doesn't allow an argument\n" :
			"%s: option '--%s' requires an argument\n", argv[0], name);
	}
	cli_usage(ctx->name, stderr);
	ctx->code = EXIT_ERROR;
	return CLI_OPTS_EXIT;
}

/*
 * 0 if the secret option that getopt_long just matched (longopts[li]) was
 * typed in full.  getopt_long takes any unambiguous prefix, so
 * "--passphrase 'correct horse'" would read as --passphrase-file and send
 * the secret into an error message.
 */
static int secret_spelled_in_full(struct cli_ctx *ctx, int li, char **argv)
{
	const char *name = ctx->longopts[li].name;
	/* The value is the next word, or follows '=' in the same one. */
	const char *word = optarg == argv[optind - 1] ? argv[optind - 2] : argv[optind - 1];
	size_t n = strcspn(word, "=");
	char typed[64];

	if (n == strlen(name) + 2 && strncmp(word + 2, name, n - 2) == 0)
		return 0;
	cli_fail(ctx->name, "unrecognized option '%s' (secret options are never"
		 " abbreviated: did you mean --%s FILE?)",
		 option_word(word, typed, sizeof(typed)), name);
	cli_usage(ctx->name, stderr);
	ctx->code = EXIT_ERROR;
	return -1;
}

/* After the options: the archive and the operands the flags ask for. */
static int options_done(struct cli_ctx *ctx, int argc)
{
	if (ctx->flags & CLI_ARCHIVE_FLAGS) {
		ctx->archive = cli_archive(ctx->archive);
		if (ctx->archive == NULL)
			goto usage;
	}
	if ((ctx->flags & CLI_TAKES_OPERANDS) ? optind >= argc : optind != argc)
		goto usage;
	return CLI_OPTS_DONE;
usage:
	ctx->code = cli_usage_error(ctx);
	return CLI_OPTS_EXIT;
}

int cli_getopt(struct cli_ctx *ctx, int argc, char **argv, const struct option *opts)
{
	if (ctx->longopts[0].name == NULL && build_longopts(ctx, opts) != 0) {
		ctx->code = cli_fail(ctx->name, "too many options");
		return CLI_OPTS_EXIT;
	}
	opterr = 0;
	for (;;) {
		int c, li = -1;

		c = getopt_long(argc, argv, "a:h", ctx->longopts, &li);
		if (c == -1)
			return options_done(ctx, argc);
		if (c == '?' || c == ':')
			return bad_option(ctx, argc, argv);
		if ((c & CLI_SECRET(0)) && li >= 0 &&
		    secret_spelled_in_full(ctx, li, argv) != 0)
			return CLI_OPTS_EXIT;
		switch (c) {
		case 'a':
			ctx->archive = optarg;
			break;
		case 'h':
			cli_usage(ctx->name, stdout);
			ctx->code = EXIT_OK;
			return CLI_OPTS_EXIT;
		case CLI_OPT_OFFICER:
			ctx->officer = optarg;
			break;
		case CLI_OPT_REASON:
			ctx->reason = optarg;
			break;
		case CLI_SECRET('p'):
			if (ctx->flags & (CLI_NEEDS_PASSPHRASE | CLI_OFFICER)) {
				ctx->pass_file = optarg;
				break;
			}
			return c;
		case CLI_OPT_WAIT: {
			unsigned long long sec = 0;

			if (!(ctx->flags & CLI_NEEDS_WRITER))
				return c;
			if (cli_u64(optarg, &sec) != 0 || sec > 86400ULL * 366) {
				ctx->code = cli_fail(ctx->name, "--wait must be a number of"
						     " seconds (0 to 31622400)");
				return CLI_OPTS_EXIT;
			}
			ctx->wait_ms = (long long)sec * 1000;
			ctx->wait_set = 1;
			break;
		}
		default:
			return c;
		}
	}
}

int cli_usage_error(const struct cli_ctx *ctx)
{
	cli_usage(ctx->name, stderr);
	return EXIT_ERROR;
}

/* A writer's warning that the archive's file system is low (at most
 * hourly, from whichever thread commits: one fprintf). */
static void note_space(void *arg, uint64_t free_bytes, uint64_t total_bytes)
{
	const struct cli_ctx *ctx = arg;
	char f[16], t[16];

	fprintf(stderr, "chatledger %s: warning: the archive's file system is low on space"
		" (%s free of %s): when it is full nothing more is stored; add space or"
		" move the archive (chatledger status shows the days left)\n", ctx->name,
		cl_fmt_bytes(free_bytes, f), cl_fmt_bytes(total_bytes, t));
}

/* The ledger's wait callback: say once that the command waits, and for
 * whom. */
static void note_wait(void *arg, long pid, const char *name, long long limit_ms)
{
	const struct cli_ctx *ctx = arg;
	char who[64], bound[64];

	if (pid > 0)
		(void)snprintf(who, sizeof(who), "%s pid %ld holds it",
			       name[0] ? name : "process", pid);
	else
		(void)snprintf(who, sizeof(who), "another writer holds it");
	if (limit_ms >= 0)
		(void)snprintf(bound, sizeof(bound), "for at most %lld s (--wait)",
			       limit_ms / 1000);
	else
		(void)snprintf(bound, sizeof(bound), "without a time limit (see --wait)");
	fflush(stdout);
	fprintf(stderr, "chatledger %s: waiting for the archive: %s; waiting %s\n",
		ctx->name, who, bound);
}

int cli_setup(struct cli_ctx *ctx, unsigned what)
{
	unsigned todo = ctx->flags & what & ~ctx->done;
	char *err = NULL;

	if (todo & CLI_NEEDS_PASSPHRASE) {
		if (cli_passphrase(ctx->name, ctx->pass_file,
				   (ctx->flags & CLI_CONFIRM_PASSPHRASE) != 0,
				   &ctx->pass, &ctx->pass_len) != 0)
			return EXIT_ERROR;
		ctx->done |= CLI_NEEDS_PASSPHRASE;
	}
	if (todo & (CLI_NEEDS_READER | CLI_NEEDS_WRITER)) {
		int rc = cl_ledger_open(ctx->archive, (ctx->flags & CLI_NEEDS_WRITER) ?
				    CL_OPEN_WRITE : CL_OPEN_READ, &ctx->ledger, &err);
		if (rc)
			return cli_fail_rc(ctx->name, rc, err);
		if ((ctx->flags & CLI_MAP_READS) && (rc = cl_ledger_map_reads(ctx->ledger, &err)))
			return cli_fail_rc(ctx->name, rc, err);
		if (ctx->flags & CLI_NEEDS_WRITER) {
			(void)cl_ledger_set_wait(ctx->ledger, ctx->name,
						 ctx->wait_set ? ctx->wait_ms : -1,
						 note_wait, ctx);
			cl_ledger_on_low_space(ctx->ledger, note_space, ctx);
		}
		ctx->done |= CLI_NEEDS_READER | CLI_NEEDS_WRITER;
	}
	return EXIT_OK;
}

void cli_close(struct cli_ctx *ctx)
{
	cl_ledger_close(ctx->ledger);
	ctx->ledger = NULL;
}

void cli_forget_passphrase(struct cli_ctx *ctx)
{
	sodium_free(ctx->pass); /* wipes before freeing */
	ctx->pass = NULL;
	ctx->pass_len = 0;
}

int cli_subcommand(struct cli_ctx *ctx, int argc, char **argv, const struct cli_sub *subs)
{
	const struct cli_sub *s;

	if (argc < 2)
		return cli_usage_error(ctx);
	for (s = subs; s->name; s++) {
		if (strcmp(argv[1], s->name) == 0) {
			ctx->flags |= s->flags;
			return s->fn(argc - 1, argv + 1, ctx);
		}
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_usage(ctx->name, stdout);
		return EXIT_OK;
	}
	return cli_usage_error(ctx);
}

/*
 * Run one command (argv[0] is its name): a context with its flags, the
 * command (which parses its options, then calls cli_setup), then the
 * release of whatever the set-up provided, on every path.
 */
static int run_command(const struct cli_cmd *c, int argc, char **argv)
{
	struct cli_ctx ctx;
	int code;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = c->name;
	ctx.flags = c->flags;
	code = c->fn(argc, argv, &ctx);
	cli_close(&ctx);
	cli_forget_passphrase(&ctx);
	cl_officer_session_free(ctx.off);
	return code;
}

int main(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (sodium_init() < 0) {
		fprintf(stderr, "chatledger: libsodium failed to initialise\n");
		return EXIT_ERROR;
	}
	/* Private copies of read-only archives go under $TMPDIR (rocopy.h). */
	cl_ledger_set_tmpdir(getenv("TMPDIR"));
	/* When the archive's file system counts as low (status, warnings). */
	if (cl_disk_set_low(getenv("CHATLEDGER_LOW_SPACE")) != CL_OK) {
		fprintf(stderr, "chatledger: CHATLEDGER_LOW_SPACE must be a percentage (5%%),"
			" a size (2GiB, 500MiB) or 0 (never warn)\n");
		return EXIT_ERROR;
	}
	if (argc < 2) {
		main_usage(stderr);
		return EXIT_ERROR;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_usage(stdout);
		return cli_finish_stdout(EXIT_OK);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("chatledger 0.1.0 (archive format %d; reads formats %d and %d)\n",
		       CL_ARCHIVE_FORMAT, CL_ARCHIVE_FORMAT_MIN, CL_ARCHIVE_FORMAT);
		return cli_finish_stdout(EXIT_OK);
	}
	for (c = cli_commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return cli_finish_stdout(run_command(c, argc - 1, argv + 1));
	fprintf(stderr, "chatledger: unknown command '%s'\n\n", argv[1]);
	main_usage(stderr);
	return EXIT_ERROR;
}
