/*
 * cmd_ingest.c - chatledger ingest: import records from files or stdin.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "archiver/config/config.h"
#include "archiver/sources/cloudapi.h"
#include "archiver/sources/wecom.h"
#include "archiver/sources/chatexport.h"
#include "archiver/ingest/ingest.h"
#include "archiver/ingest/record.h"
#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/banned.h"

struct ingest_ui {
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
	struct ingest_ui *c = p;

	if (c->tty)
		fprintf(stderr, "\r%llu ingested, %llu duplicate, %llu quarantined",
			(unsigned long long)st->ingested,
			(unsigned long long)st->duplicates,
			(unsigned long long)st->quarantined);
}

int cmd_ingest(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "batch", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "account", required_argument, NULL, 'A' },
		{ "conversation", required_argument, NULL, 'C' },
		{ "self", required_argument, NULL, 'S' },
		{ "tz", required_argument, NULL, 'T' },
		{ "date-order", required_argument, NULL, 'D' },
		{ "label", required_argument, NULL, 'L' },
		{ NULL, 0, NULL, 0 }
	};
	const char *labels[64];
	struct cl_record_opts classify;
	const char *format = NULL;
	unsigned long long batch = 0, threads = 0;
	struct cl_config conf;
	struct cl_ingest_stats total, st;
	struct cl_import_opts io;
	cl_importer_fn importer = NULL;
	struct ingest_ui cx;
	char *err = NULL;
	int c, i, rc = CL_OK, partial = 0;

	memset(&total, 0, sizeof(total));
	memset(&io, 0, sizeof(io));
	io.tz = "Asia/Hong_Kong";
	memset(&cx, 0, sizeof(cx));
	memset(&classify, 0, sizeof(classify));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'f': format = optarg; break;
		case 'b':
			if (cli_u64(optarg, &batch) != 0 || batch == 0 || batch > 1000000)
				return cli_fail("ingest", "--batch must be 1..1000000");
			break;
		case 't':
			if (cli_u64(optarg, &threads) != 0 || threads == 0 ||
			    threads > CL_INGEST_MAX_THREADS)
				return cli_fail("ingest", "--threads must be 1..%d",
						CL_INGEST_MAX_THREADS);
			break;
		case 'j': cx.json = 1; break;
		case 'A': io.account = optarg; break;
		case 'C': io.conversation = optarg; break;
		case 'S': io.self = optarg; break;
		case 'T': io.tz = optarg; break;
		case 'D':
			if (strcmp(optarg, "dmy") && strcmp(optarg, "mdy") && strcmp(optarg, "ymd"))
				return cli_fail("ingest", "--date-order must be dmy, mdy or ymd");
			io.date_order = optarg;
			break;
		case 'L':
			if (strlen(optarg) == 0 || strlen(optarg) > 128)
				return cli_fail("ingest", "--label must be 1-128 bytes");
			if (classify.n_labels == sizeof(labels) / sizeof(labels[0]))
				return cli_fail("ingest", "at most 64 --label options");
			labels[classify.n_labels++] = optarg;
			break;
		}
	}
	if (!cli_ready(ctx, c, format != NULL, 0))
		return ctx->code;
	if (strcmp(format, "whatsapp-export") == 0)
		importer = cl_chatexport_import;
	else if (strcmp(format, "cloudapi") == 0)
		importer = cl_cloudapi_import_file;
	else if (strcmp(format, "wecom") == 0)
		importer = cl_wecom_import_file;
	else if (strcmp(format, "jsonl") != 0)
		return cli_fail("ingest", "unknown format '%s' (supported: jsonl, whatsapp-export,"
				" cloudapi, wecom)", format);
	if (importer && importer != cl_cloudapi_import_file && io.account == NULL)
		return cli_fail("ingest", "--format %s needs --account (the business identity"
				" archived, e.g. 85290000001@s.whatsapp.net)", format);
	cx.tty = isatty(STDERR_FILENO);
	if ((rc = cl_config_load(ctx->archive, &conf, &err)))
		return cli_fail_rc("ingest", rc, err);
	if (batch == 0)
		batch = conf.batch_size;
	classify.labels = labels;
	classify.account_labels = cl_config_account_labels;
	classify.ctx = &conf;
	if ((rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		return rc;
	for (i = optind; i < argc; i++) {
		struct cl_ingest_opts o;
		int is_stdin = strcmp(argv[i], "-") == 0;
		FILE *f = NULL;
		size_t k;

		memset(&o, 0, sizeof(o));
		o.format = format;
		o.input_name = is_stdin ? "-" : argv[i];
		o.batch_size = (size_t)batch;
		o.threads = (size_t)threads;
		o.classify = &classify;
		o.on_quarantine = on_quarantine;
		o.on_batch = on_batch;
		o.ctx = &cx;
		if (importer) {
			if (is_stdin) {
				cli_fail("ingest", "--format %s reads files, not standard input", format);
				rc = CL_EINVAL;
				break;
			}
			io.input_name = argv[i];
			rc = cl_ingest_import(ctx->ledger, importer, argv[i], &io, &o, &st, &err);
		} else {
			f = is_stdin ? stdin : fopen(argv[i], "re");
			if (f == NULL) {
				cli_fail("ingest", "cannot open '%s': %s", argv[i], strerror(errno));
				rc = CL_EIO;
				break;
			}
			rc = cl_ingest_jsonl(ctx->ledger, f, &o, &st, &err);
			if (!is_stdin)
				fclose(f);
		}
		total.lines += st.lines;
		total.ingested += st.ingested;
		total.duplicates += st.duplicates;
		total.conflicts += st.conflicts;
		total.quarantined += st.quarantined;
		total.requarantined += st.requarantined;
		total.batches += st.batches;
		total.attachments += st.attachments;
		for (k = 0; k < st.n_kinds; k++) {
			size_t m;

			for (m = 0; m < total.n_kinds; m++)
				if (strcmp(total.kinds[m].kind, st.kinds[k].kind) == 0)
					break;
			if (m == total.n_kinds) {
				if (m == sizeof(total.kinds) / sizeof(total.kinds[0]))
					continue;
				total.n_kinds++;
				memcpy(total.kinds[m].kind, st.kinds[k].kind, sizeof(st.kinds[k].kind));
				total.kinds[m].n = 0;
			}
			total.kinds[m].n += st.kinds[k].n;
		}
		if (rc == CL_EPARTIAL) {
			partial = 1;
			rc = CL_OK;
		}
		if (rc)
			break;
	}
	if (cx.tty)
		fputc('\n', stderr);
	cli_close(ctx);
	if (cx.json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
				      "format", format,
				      "conflicts", (json_int_t)total.conflicts,
				      "lines", (json_int_t)total.lines,
				      "ingested", (json_int_t)total.ingested,
				      "duplicates", (json_int_t)total.duplicates,
				      "quarantined", (json_int_t)total.quarantined,
				      "already_quarantined", (json_int_t)total.requarantined,
				      "attachments", (json_int_t)total.attachments,
				      "commits", (json_int_t)total.batches,
				      "ok", rc == CL_OK);
		json_t *kinds = json_object();
		size_t k;

		for (k = 0; k < total.n_kinds; k++)
			json_object_set_new(kinds, total.kinds[k].kind,
					    json_integer((json_int_t)total.kinds[k].n));
		json_object_set_new(j, "kinds", kinds);
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else {
		printf("%llu ingested, %llu duplicate%s skipped, %llu quarantined",
		       (unsigned long long)total.ingested,
		       (unsigned long long)total.duplicates, CL_S(total.duplicates),
		       (unsigned long long)total.quarantined);
		if (total.requarantined)
			printf(", %llu already quarantined",
			       (unsigned long long)total.requarantined);
		if (total.attachments)
			printf(", %llu attachment%s stored",
			       (unsigned long long)total.attachments, CL_S(total.attachments));
		if (total.conflicts)
			printf(", %llu conflicting %s kept",
			       (unsigned long long)total.conflicts,
			       CL_PL(total.conflicts, "redelivery", "redeliveries"));
		putchar('\n');
	}
	if (rc)
		return err ? cli_fail_rc("ingest", rc, err) : EXIT_ERROR;
	return partial ? EXIT_PARTIAL : EXIT_OK;
}
