/*
 * cmd_ingest.c - chatledger ingest: import records from files or stdin.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "archiver/config.h"
#include "archiver/ingest.h"
#include "archiver/ledger.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/banned.h"

struct ctx {
	int tty;
	int json;
};

static void on_quarantine(void *p, const char *input, uint64_t line,
			  const char *reason, int already)
{
	(void)p;
	fprintf(stderr, "chatledger ingest: %s:%llu: %squarantined: %s\n", input,
		(unsigned long long)line, already ? "already " : "", reason);
}

static void on_batch(void *p, const struct cl_ingest_stats *st)
{
	struct ctx *c = p;

	if (c->tty)
		fprintf(stderr, "\r%llu ingested, %llu duplicate, %llu quarantined",
			(unsigned long long)st->ingested,
			(unsigned long long)st->duplicates,
			(unsigned long long)st->quarantined);
}

int cmd_ingest(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "archive", required_argument, NULL, 'a' },
		{ "format", required_argument, NULL, 'f' },
		{ "batch", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *archive = NULL, *format = NULL;
	unsigned long long batch = 0;
	struct cl_config conf;
	struct cl_ledger *l = NULL;
	struct cl_ingest_stats total, st;
	struct ctx cx;
	char *err = NULL;
	int c, i, rc = CL_OK, partial = 0;

	memset(&total, 0, sizeof(total));
	memset(&cx, 0, sizeof(cx));
	while ((c = getopt_long(argc, argv, "a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': archive = optarg; break;
		case 'f': format = optarg; break;
		case 'b':
			if (cli_u64(optarg, &batch) != 0 || batch == 0 || batch > 1000000)
				return cli_fail("ingest", "--batch must be 1..1000000");
			break;
		case 'j': cx.json = 1; break;
		case 'h': cli_usage("ingest", stdout); return EXIT_OK;
		default: cli_usage("ingest", stderr); return EXIT_ERROR;
		}
	}
	archive = cli_archive(archive);
	if (archive == NULL || format == NULL || optind >= argc) {
		cli_usage("ingest", stderr);
		return EXIT_ERROR;
	}
	if (strcmp(format, "jsonl") != 0)
		return cli_fail("ingest", "unknown format '%s' (supported: jsonl)", format);
	cx.tty = isatty(STDERR_FILENO);
	if ((rc = cl_config_load(archive, &conf, &err)))
		return cli_fail_rc("ingest", rc, err);
	if (batch == 0)
		batch = conf.batch_size;
	if ((rc = cl_ledger_open(archive, CL_OPEN_WRITE, &l, &err)))
		return cli_fail_rc("ingest", rc, err);
	for (i = optind; i < argc; i++) {
		struct cl_ingest_opts o;
		int is_stdin = strcmp(argv[i], "-") == 0;
		FILE *f = is_stdin ? stdin : fopen(argv[i], "re");

		if (f == NULL) {
			cli_fail("ingest", "cannot open '%s': %s", argv[i], strerror(errno));
			rc = CL_EIO;
			break;
		}
		memset(&o, 0, sizeof(o));
		o.format = format;
		o.input_name = is_stdin ? "-" : argv[i];
		o.batch_size = (size_t)batch;
		o.on_quarantine = on_quarantine;
		o.on_batch = on_batch;
		o.ctx = &cx;
		rc = cl_ingest_jsonl(l, f, &o, &st, &err);
		if (!is_stdin)
			fclose(f);
		total.lines += st.lines;
		total.ingested += st.ingested;
		total.duplicates += st.duplicates;
		total.quarantined += st.quarantined;
		total.requarantined += st.requarantined;
		total.batches += st.batches;
		if (rc == CL_EPARTIAL) {
			partial = 1;
			rc = CL_OK;
		}
		if (rc)
			break;
	}
	if (cx.tty)
		fputc('\n', stderr);
	cl_ledger_close(l);
	if (cx.json)
		printf("{\"lines\":%llu,\"ingested\":%llu,\"duplicates\":%llu,"
		       "\"quarantined\":%llu,\"already_quarantined\":%llu,"
		       "\"commits\":%llu,\"ok\":%s}\n",
		       (unsigned long long)total.lines, (unsigned long long)total.ingested,
		       (unsigned long long)total.duplicates,
		       (unsigned long long)total.quarantined,
		       (unsigned long long)total.requarantined,
		       (unsigned long long)total.batches, rc ? "false" : "true");
	else {
		printf("%llu ingested, %llu duplicates skipped, %llu quarantined",
		       (unsigned long long)total.ingested,
		       (unsigned long long)total.duplicates,
		       (unsigned long long)total.quarantined);
		if (total.requarantined)
			printf(", %llu already quarantined",
			       (unsigned long long)total.requarantined);
		putchar('\n');
	}
	if (rc)
		return err ? cli_fail_rc("ingest", rc, err) : EXIT_ERROR;
	return partial ? EXIT_PARTIAL : EXIT_OK;
}
