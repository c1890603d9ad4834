/*
 * main.c - chatledger's command table and dispatcher.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "common/status.h"
#include "common/banned.h"

const struct cli_cmd cli_commands[] = {
	{ "init", cmd_init,
	  "chatledger init -a DIR --origin NAME [--passphrase-file FILE] [--kdf interactive|moderate|sensitive]",
	  "create a new archive and its keys" },
	{ "ingest", cmd_ingest,
	  "chatledger ingest -a DIR --format jsonl [--batch N] [--json] FILE|-...\n"
	  "       chatledger ingest -a DIR --format whatsapp-export --account ID [--conversation ID] [--self NAME] [--tz ZONE] [--date-order dmy|mdy|ymd] [--json] FILE...\n"
	  "       chatledger ingest -a DIR --format cloudapi|wecom [--account ID] [--json] FILE...",
	  "import records; bad items are quarantined (exit 3)" },
	{ "verify", cmd_verify,
	  "chatledger verify -a DIR [--key VKEY] [--checkpoint FILE]... [--json]",
	  "verify the whole archive without any secret" },
	{ "checkpoint", cmd_checkpoint,
	  "chatledger checkpoint -a DIR [--size N]",
	  "print the latest (or a given) signed checkpoint" },
	{ "pubkey", cmd_pubkey,
	  "chatledger pubkey -a DIR",
	  "print the log's C2SP verifier key" },
	{ "leaves", cmd_leaves,
	  "chatledger leaves -a DIR [--from N] [--to M]",
	  "print leaf bytes as hex, one per line" },
	{ "prove", cmd_prove,
	  "chatledger prove -a DIR --index N [--size M]\n"
	  "       chatledger prove -a DIR --consistency OLD [--size M]",
	  "print an inclusion (tlog-proof) or consistency proof" },
	{ "show", cmd_show,
	  "chatledger show -a DIR --index N [--passphrase-file FILE]",
	  "decrypt one entry and print its canonical JSON" },
	{ "status", cmd_status,
	  "chatledger status -a DIR [--json]",
	  "summarise the archive: size, checkpoint, coverage, quarantine" },
	{ "hold", cmd_hold,
	  "chatledger hold add -a DIR --case ID --reason TEXT [--participant ID]... [--conversation ID]... [--from DATE] [--to DATE] [--until DATE]\n"
	  "       chatledger hold list -a DIR [--json]\n"
	  "       chatledger hold release -a DIR --case ID",
	  "place, list and release legal or regulator holds" },
	{ "policy", cmd_policy,
	  "chatledger policy event -a DIR --subject ID --event NAME --at DATE [--note TEXT]\n"
	  "       chatledger policy explain -a DIR --index N [--policy FILE] [--now TIME] [--json]\n"
	  "       chatledger policy check -a DIR [--policy FILE]",
	  "record lifecycle events; explain and check the retention policy" },
	{ "retain", cmd_retain,
	  "chatledger retain -a DIR [--policy FILE] [--dry-run] [--now TIME] [--json]",
	  "erase what the retention policy says is due (nightly)" },
	{ "webhook", cmd_webhook,
	  "chatledger webhook -a DIR --listen ADDR:PORT --app-secret-file FILE --verify-token-file FILE [--max-body BYTES] [--access-token-file FILE [--media-url URL] [--media-retry-base SECONDS]] [--json]",
	  "receive WhatsApp Business Platform webhooks (signed, durable)" },
	{ "pair", cmd_pair,
	  "chatledger pair -a DIR [--qr-png FILE] [--no-terminal-qr]\n"
	  "       chatledger pair -a DIR --pairing-code PHONE",
	  "link the collector to a WhatsApp account (QR or pairing code)" },
	{ "collect", cmd_collect,
	  "chatledger collect -a DIR",
	  "run the linked-device collector in the foreground" },
	{ NULL, NULL, NULL, NULL }
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

	for (c = cli_commands; c->name; c++)
		if (strcmp(c->name, cmd) == 0)
			fprintf(to, "usage: %s\n", c->usage);
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
			cli_fail(cmd, "cannot open passphrase file '%s': %s", file,
				 strerror(errno));
			goto out;
		}
		rc = read_line_fd(f, p, cap, &n);
		fclose(f);
		if (rc != 0) {
			cli_fail(cmd, "passphrase in '%s' is longer than %zu bytes", file, cap - 1);
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

int main(int argc, char **argv)
{
	const struct cli_cmd *c;

	if (sodium_init() < 0) {
		fprintf(stderr, "chatledger: libsodium failed to initialise\n");
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
		printf("chatledger 0.1.0 (archive format 1)\n");
		return cli_finish_stdout(EXIT_OK);
	}
	for (c = cli_commands; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return cli_finish_stdout(c->fn(argc - 1, argv + 1));
	fprintf(stderr, "chatledger: unknown command '%s'\n\n", argv[1]);
	main_usage(stderr);
	return EXIT_ERROR;
}
