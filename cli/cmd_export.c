/*
 * cmd_export.c - chatledger export (a signed eDiscovery bundle,
 * docs/BUNDLE.md) and chatledger export-cert (create or show the
 * archive's export signing keys; the one-time upgrade step for archives
 * created before export existed).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/export/bundle.h"
#include "archiver/export/sign.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "archiver/witness/push.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define MAX_SEL 64

struct progress {
	int tty;
	int64_t last;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	int64_t now = cl_time_now_ms();
	unsigned pct, i;

	if (!p->tty || (now - p->last < 200 && done < total))
		return;
	p->last = now;
	pct = total ? (unsigned)(done * 100 / total) : 100;
	fputs("\rexport [", stderr);
	for (i = 0; i < 30; i++)
		fputc(i < pct * 30 / 100 ? '#' : '.', stderr);
	fprintf(stderr, "] %3u%% %llu/%llu", pct, (unsigned long long)done,
		(unsigned long long)total);
	fflush(stderr);
}

static int add_sel(const char **arr, size_t *n, const char *v)
{
	if (*n >= MAX_SEL)
		return -1;
	arr[(*n)++] = v;
	return 0;
}

static int parse_slice(const char *s, int64_t *ms)
{
	unsigned long long h;
	size_t n = strlen(s);
	char num[8];

	if (n < 2 || n > 4 || s[n - 1] != 'h')
		return -1;
	cl_fmt(num, sizeof(num), "%.*s", (int)(n - 1), s);
	if (cli_u64(num, &h) != 0 || h == 0 || 24 % h != 0)
		return -1;
	*ms = (int64_t)h * 3600000;
	return 0;
}

/* A case identifier as courts and regulators write them ("HCA 123/2026"):
 * 1-64 printable ASCII characters, not starting or ending with a space.
 * The bag's folder name is derived from it (cl_bundle_export). */
static int case_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64 || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}

enum { O_OUT = 1000, O_CASE, O_PARTY, O_CONV, O_KIND, O_LABEL, O_FROM, O_TO, O_TEXT,
       O_SLICE, O_TZ, O_TSA, O_TSACA, O_CERT, O_CHAIN, O_WHO, O_BATES, O_JSON };

int cmd_export(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, O_OUT },
		{ "case", required_argument, NULL, O_CASE },
		{ "party", required_argument, NULL, O_PARTY },
		{ "conversation", required_argument, NULL, O_CONV },
		{ "kind", required_argument, NULL, O_KIND },
		{ "label", required_argument, NULL, O_LABEL },
		{ "from", required_argument, NULL, O_FROM },
		{ "to", required_argument, NULL, O_TO },
		{ "text", required_argument, NULL, O_TEXT },
		{ "slice", required_argument, NULL, O_SLICE },
		{ "tz", required_argument, NULL, O_TZ },
		{ "tsa-url", required_argument, NULL, O_TSA },
		{ "tsa-ca", required_argument, NULL, O_TSACA },
		{ "signer-cert", required_argument, NULL, O_CERT },
		{ "signer-key-file", required_argument, NULL, CLI_SECRET('k') },
		{ "signer-chain", required_argument, NULL, O_CHAIN },
		{ "who", required_argument, NULL, O_WHO },
		{ "bates-prefix", required_argument, NULL, O_BATES },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 }
	};
	const char *parties[MAX_SEL], *convs[MAX_SEL], *kinds[MAX_SEL], *labels[MAX_SEL];
	struct cl_select_query q;
	struct cl_bundle_opts o;
	struct cl_bundle_result res;
	struct cl_signer signer = { NULL, NULL, NULL };
	struct progress pg = { 0, 0 };
	struct cl_buf qt;
	struct cl_wcfg *wcfg = NULL;
	unsigned char *sk = NULL;
	char *err = NULL;
	int c, rc, code, json = 0;
	size_t i;

	memset(&q, 0, sizeof(q));
	memset(&o, 0, sizeof(o));
	q.parties = parties;
	q.conversations = convs;
	q.kinds = kinds;
	q.labels = labels;
	q.from = q.to = CL_TIME_NONE;
	o.slice_ms = 86400000;
	o.tz_name = "Asia/Hong_Kong";
	o.tz_offset_s = 8 * 3600;
	o.bates_prefix = "CL";
	o.who = getenv("USER") ? getenv("USER") : "officer";
	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0) {
		int bad = 0;

		switch (c) {
		case O_OUT: o.out_path = optarg; break;
		case O_CASE: o.case_id = optarg; break;
		case O_PARTY: bad = add_sel(parties, &q.n_parties, optarg); break;
		case O_CONV: bad = add_sel(convs, &q.n_conversations, optarg); break;
		case O_KIND: bad = add_sel(kinds, &q.n_kinds, optarg); break;
		case O_LABEL: bad = add_sel(labels, &q.n_labels, optarg); break;
		case O_FROM:
			if (cli_time(optarg, &q.from) != 0)
				return cli_fail("export", "--from: not a date or RFC 3339 time: %s", optarg);
			break;
		case O_TO:
			if (cli_time(optarg, &q.to) != 0)
				return cli_fail("export", "--to: not a date or RFC 3339 time: %s", optarg);
			break;
		case O_TEXT: q.text = optarg; break;
		case O_SLICE:
			if (parse_slice(optarg, &o.slice_ms) != 0)
				return cli_fail("export", "--slice must be Nh with N dividing 24 (24h, 12h, 8h, ...)");
			break;
		case O_TZ:
			if ((rc = cl_bundle_tz(optarg, &o.tz_offset_s, &err)))
				return cli_fail_rc("export", rc, err);
			o.tz_name = optarg;
			break;
		case O_TSA: o.tsa_url = optarg; break;
		case O_TSACA: o.tsa_ca_path = optarg; break;
		case O_CERT: signer.cert_path = optarg; break;
		case CLI_SECRET('k'): signer.key_path = optarg; break;
		case O_CHAIN: signer.chain_path = optarg; break;
		case O_WHO: o.who = optarg; break;
		case O_BATES: o.bates_prefix = optarg; break;
		case O_JSON: json = 1; break;
		default: return cli_usage_error(ctx);
		}
		if (bad)
			return cli_fail("export", "at most %d values per selector", MAX_SEL);
	}
	if (!cli_ready(ctx, c, o.out_path != NULL && o.case_id != NULL, 0))
		return ctx->code;
	if (!case_ok(o.case_id))
		return cli_fail("export", "--case must be 1-64 printable ASCII characters"
				" (such as HCA 123/2026), not starting or ending with a space");
	if ((signer.cert_path == NULL) != (signer.key_path == NULL))
		return cli_fail("export", "--signer-cert and --signer-key-file go together");
	{
		size_t n = strlen(o.out_path);

		if (n > 4 && strcmp(o.out_path + n - 4, ".zip") == 0)
			o.format = CL_BAG_ZIP;
		else if (n > 4 && strcmp(o.out_path + n - 4, ".tar") == 0)
			o.format = CL_BAG_TAR;
		else
			return cli_fail("export", "--out must end in .zip or .tar");
		if (access(o.out_path, F_OK) == 0)
			return cli_fail("export", "%s exists; refusing to overwrite", o.out_path);
	}
	if (signer.cert_path)
		o.signer = &signer;
	/* The query, as given, for bag-info and the custody log. */
	cl_buf_init(&qt, 1u << 16);
	for (i = 0; i < q.n_parties; i++)
		cl_buf_addf(&qt, "%s--party %s", qt.len ? " " : "", parties[i]);
	for (i = 0; i < q.n_conversations; i++)
		cl_buf_addf(&qt, "%s--conversation %s", qt.len ? " " : "", convs[i]);
	for (i = 0; i < q.n_kinds; i++)
		cl_buf_addf(&qt, "%s--kind %s", qt.len ? " " : "", kinds[i]);
	for (i = 0; i < q.n_labels; i++)
		cl_buf_addf(&qt, "%s--label %s", qt.len ? " " : "", labels[i]);
	if (q.from != CL_TIME_NONE) {
		char t[32];

		cl_time_format(q.from, t);
		cl_buf_addf(&qt, "%s--from %s", qt.len ? " " : "", t);
	}
	if (q.to != CL_TIME_NONE) {
		char t[32];

		cl_time_format(q.to, t);
		cl_buf_addf(&qt, "%s--to %s", qt.len ? " " : "", t);
	}
	if (q.text)
		cl_buf_addf(&qt, "%s--text %s", qt.len ? " " : "", q.text);
	for (i = 0; i < qt.len; i++)
		if (qt.data[i] == '\n' || qt.data[i] == '\r')
			qt.data[i] = ' ';
	cl_buf_add(&qt, "", 1);
	o.query_text = (const char *)qt.data;
	o.q = &q;
	o.now_ms = cl_time_now_ms();
	o.progress = on_progress;
	o.progress_ctx = &pg;
	pg.tty = isatty(STDERR_FILENO);
	if ((code = cli_unlock(ctx, &sk)) != EXIT_OK)
		goto out;
	if (ctx->off) {
		o.who = cli_who();
		o.reason = ctx->reason;
	}
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	/* The export checkpoint is pushed to the archive's witnesses and TSA. */
	if ((wcfg = calloc(1, sizeof(*wcfg))) == NULL) {
		code = cli_fail("export", "out of memory");
		goto out;
	}
	if ((rc = cl_wcfg_load(ctx->archive, wcfg, &err))) {
		code = cli_fail_rc("export", rc, err);
		goto out;
	}
	o.witness = wcfg;
	rc = cl_bundle_export(ctx->ledger, sk, &o, &res, &err);
	if (pg.tty)
		fputc('\n', stderr);
	if (rc) {
		code = cli_fail_rc("export", rc, err);
		goto out;
	}
	if (json)
		printf("{\"out\":\"%s\",\"records\":%llu,\"attachments\":%llu,\"conversations\":%llu,"
		       "\"slices\":%llu,\"erased\":%llu,\"access_index\":%llu,\"checkpoint_size\":%llu,"
		       "\"payload_bytes\":%llu,\"payload_files\":%llu,\"cosignatures\":%zu,"
		       "\"witnesses\":%zu,\"timestamped\":%s}\n", o.out_path,
		       (unsigned long long)res.records, (unsigned long long)res.attachments,
		       (unsigned long long)res.conversations, (unsigned long long)res.slices,
		       (unsigned long long)res.erased, (unsigned long long)res.access_index,
		       (unsigned long long)res.size, (unsigned long long)res.payload_bytes,
		       (unsigned long long)res.payload_files, res.cosignatures, res.witnesses,
		       res.timestamped ? "true" : "false");
	else
		printf("%s: %llu record%s, %llu attachment%s, %llu conversation%s in %llu"
		       " slice%s, %llu erased shown as tombstone%s; export recorded as entry"
		       " %llu; proofs against checkpoint %llu\n", o.out_path,
		       (unsigned long long)res.records, CL_S(res.records),
		       (unsigned long long)res.attachments, CL_S(res.attachments),
		       (unsigned long long)res.conversations, CL_S(res.conversations),
		       (unsigned long long)res.slices, CL_S(res.slices),
		       (unsigned long long)res.erased, CL_S(res.erased),
		       (unsigned long long)res.access_index, (unsigned long long)res.size);
	if (!json && (res.witnesses > 0 || res.cosignatures > 0 || res.timestamped))
		printf("checkpoint %llu: cosigned by %zu of %zu witnesses%s%s\n",
		       (unsigned long long)res.size, res.cosignatures, res.witnesses,
		       res.timestamped ? ", timestamped" : "",
		       res.witness_late ? " (the log grew before the push: export again for"
		       " a cosigned bundle)" : "");
	code = EXIT_OK;
out:
	sodium_free(sk);
	free(wcfg);
	cl_buf_release(&qt);
	return code;
}

int cmd_export_cert(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };
	char fp[96], *err = NULL, *path;
	char *vk = NULL;
	int c, rc, created = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0)
		return cli_usage_error(ctx);
	if (!cli_ready(ctx, c, 1, CLI_SETUP_ALL))
		return ctx->code;
	if ((rc = cl_sign_keys_ensure(ctx->archive, cl_ledger_origin(ctx->ledger), &created, &err)))
		return cli_fail_rc("export-cert", rc, err);
	path = cl_strdupf("%s/export.crt", ctx->archive);
	if (path == NULL)
		return cli_fail("export-cert", "out of memory");
	rc = cl_sign_cert_fingerprint(path, fp, &err);
	if (rc) {
		free(path);
		return cli_fail_rc("export-cert", rc, err);
	}
	printf("%s %s\nSHA256 fingerprint: %s\nminisign key: %s/export-minisign.pub\n",
	       created ? "created" : "exists:", path, fp, ctx->archive);
	free(path);
	free(vk);
	return cli_finish_stdout(EXIT_OK);
}
