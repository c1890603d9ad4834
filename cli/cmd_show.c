/*
 * cmd_show.c - chatledger show: decrypt entries by index or range (the
 * officer's path), with the key unlocked once and the access recorded in
 * the ledger before anything is printed.
 *
 * Output: each entry's plaintext followed by a newline on stdout (records
 * print their canonical JSON as before); with --out FILE the one entry's
 * bytes exactly, nothing added, so a saved attachment hashes to the
 * SHA-256 its record lists.  With several entries, attachments are
 * summarised (size and SHA-256) instead of dumped between the records.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/export/select.h"
#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* The ranges as text for the access entry ("3,10-20"). */
static json_t *ranges_json(const uint64_t *r, size_t n)
{
	struct cl_buf b;
	json_t *j;
	size_t i;

	cl_buf_init(&b, 1u << 20);
	for (i = 0; i < n; i++) {
		if (r[2 * i] == r[2 * i + 1])
			(void)cl_buf_addf(&b, "%s%" PRIu64, i ? "," : "", r[2 * i]);
		else
			(void)cl_buf_addf(&b, "%s%" PRIu64 "-%" PRIu64, i ? "," : "",
					  r[2 * i], r[2 * i + 1]);
	}
	j = json_pack("{s:s}", "entries", b.data ? (const char *)b.data : "");
	cl_buf_release(&b);
	return j;
}

/* Is entry `index` an attachment?  (kind from its leaf) */
static int is_attachment(struct cl_ledger *l, uint64_t index)
{
	struct cl_buf lb;
	struct cl_leaf lf;
	int yes = 0;

	cl_buf_init(&lb, 1u << 20);
	if (cl_ledger_leaf(l, index, &lb, NULL) == CL_OK &&
	    cl_leaf_decode(lb.data, lb.len, &lf, NULL) == CL_OK)
		yes = strcmp(lf.kind, "attachment") == 0;
	cl_buf_release(&lb);
	return yes;
}

static void wipe(struct cl_buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->alloc);
	cl_buf_reset(b);
}

int cmd_show(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "index", required_argument, NULL, 'i' },
		{ "range", required_argument, NULL, 'r' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long one = 0;
	uint64_t *r = NULL, size, total = 0, aidx = 0, i;
	size_t nr = 0, k;
	const char *out = NULL;
	unsigned char *sk = NULL;
	int c, rc, code = EXIT_OK, single;
	json_t *extra = NULL, *why = NULL;
	struct cl_buf b;
	char *err = NULL;

	cl_buf_init(&b, 64u << 20);
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 'o') {
			out = optarg;
			continue;
		}
		if (c == 'i' && cli_u64(optarg, &one) != 0) {
			code = cli_fail("show", "--index must be an entry index");
			goto out;
		}
		if ((rc = cl_select_parse_ranges(optarg, &r, &nr, &err))) {
			code = cli_fail_rc("show", rc, err);
			goto out;
		}
	}
	if (!cli_ready(ctx, c, nr > 0, 0)) {
		code = ctx->code;
		goto out;
	}
	single = nr == 1 && r[0] == r[1];
	if (out && !single) {
		code = cli_fail("show", "--out takes exactly one entry (--index N)");
		goto out;
	}
	/* The key first: a wrong passphrase is reported before the ledger is
	 * even opened. */
	if ((code = cli_unlock(ctx, &sk)) != EXIT_OK)
		goto out;
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	size = cl_ledger_size(ctx->ledger);
	for (k = 0; k < nr; k++) {
		if (r[2 * k] >= size) {
			code = cli_fail("show", "no entry %" PRIu64 ": the archive has %" PRIu64
					" entries", r[2 * k], size);
			goto out;
		}
		if (r[2 * k + 1] >= size)
			r[2 * k + 1] = size - 1;
		total += r[2 * k + 1] - r[2 * k] + 1;
	}
	/* Decrypt a single entry before recording, so that a refusal (erased,
	 * no payload) records nothing revealed; then record, then reveal. */
	if (single && (rc = cl_ledger_open_payload(ctx->ledger, r[0], sk, &b, &err))) {
		code = cli_fail_rc("show", rc, err);
		goto out;
	}
	extra = ranges_json(r, nr);
	why = extra ? json_deep_copy(extra) : NULL;
	if (why && ctx->reason)
		json_object_set_new(why, "reason", json_string(ctx->reason));
	rc = cl_access_record_extra(ctx->ledger, "show", cli_who(), NULL, total, extra,
				    why ? why : extra, &aidx, &err);
	json_decref(why);
	if (rc) {
		code = cli_fail_rc("show", rc, err);
		goto out;
	}
	if (single) {
		if (out) {
			if ((rc = cl_file_create(out, b.data, b.len, 0600, &err)))
				code = cli_fail_rc("show", rc, err);
		} else {
			fwrite(b.data, 1, b.len, stdout);
			putchar('\n');
		}
		goto out;
	}
	for (k = 0; k < nr; k++) {
		for (i = r[2 * k]; i <= r[2 * k + 1]; i++) {
			wipe(&b);
			rc = cl_ledger_open_payload(ctx->ledger, i, sk, &b, &err);
			if (rc == CL_ENOTFOUND) {
				fflush(stdout);
				fprintf(stderr, "chatledger show: entry %" PRIu64 ": %s\n", i,
					err ? err : "no payload");
				free(err);
				err = NULL;
				continue;
			}
			if (rc) {
				code = cli_fail_rc("show", rc, err);
				goto out;
			}
			if (is_attachment(ctx->ledger, i)) {
				unsigned char d[32];
				char hex[65];

				cl_sha256(b.data, b.len, d);
				sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
				printf("{\"attachment\":{\"bytes\":%zu,\"sha256\":\"%s\"},"
				       "\"index\":%" PRIu64 "}\n", b.len, hex, i);
			} else {
				fwrite(b.data, 1, b.len, stdout);
				putchar('\n');
			}
		}
	}
out:
	if (code == EXIT_OK)
		code = cli_finish_stdout(EXIT_OK);
	json_decref(extra);
	free(r);
	sodium_free(sk);
	wipe(&b);
	cl_buf_release(&b);
	return code;
}
