/*
 * cmd_verify.c - chatledger verify: full keyless verification; with
 * --deep, also every payload opened with the officer's key; every stored
 * witness cosignature and timestamp token, and with --witness-policy the
 * quorum on the latest checkpoint (archiver/witness/wverify.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "archiver/ledger/verify.h"
#include "archiver/witness/wverify.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "archiver/officers/officers.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_SAVED 64

/* cppcheck-suppress constParameter ; the callback type says void * */
static void progress(void *ctx, uint64_t done, uint64_t total)
{
	fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " entries",
		ctx ? "verifying and opening payloads" : "verifying", done, total);
	if (done == total)
		fputc('\n', stderr);
}

/* Read --key: a verifier key string, or a file holding one. */
static int read_key(const char *arg, char **out)
{
	struct cl_buf b;
	char *e = NULL;

	*out = NULL;
	if (strchr(arg, '+') != NULL && access(arg, R_OK) != 0) {
		*out = strdup(arg);
		return *out ? 0 : -1;
	}
	cl_buf_init(&b, 4096);
	if (cl_file_read(arg, &b, 4096, &e) != CL_OK) {
		cli_fail("verify", "%s", e ? e : "cannot read --key");
		free(e);
		cl_buf_release(&b);
		return -1;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = 0;
	*out = (char *)cl_buf_detach(&b, NULL);
	return 0;
}

int cmd_verify(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "vkey", required_argument, NULL, 'k' },   /* as verify-bundle spells it */
		{ "json", no_argument, NULL, 'j' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "deep", no_argument, NULL, 'd' },
		{ "witness-policy", required_argument, NULL, 'w' },
		{ "tsa-ca", required_argument, NULL, 't' },
		{ "remote", required_argument, NULL, 'R' },
		{ "credentials-file", required_argument, NULL, CLI_SECRET('C') },
		{ NULL, 0, NULL, 0 }
	};
	const char *names[MAX_SAVED];
	char *notes[MAX_SAVED], *key = NULL, *err = NULL;
	const char *tsa_ca = NULL, *remote = NULL, *cred_file = NULL;
	struct cl_wpolicy *policy = NULL;
	struct cl_wverify_report wr;
	unsigned char *sk = NULL;
	struct cl_verify_opts o;
	struct cl_verify_report r;
	size_t n = 0, i;
	int c, rc, json = 0, deep = 0, code = EXIT_ERROR;

	memset(&o, 0, sizeof(o));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'c': {
			struct cl_buf b;

			if (n == MAX_SAVED) {
				cli_fail("verify", "at most %d --checkpoint files", MAX_SAVED);
				goto out;
			}
			cl_buf_init(&b, 1 << 20);
			if ((rc = cl_file_read(optarg, &b, 1 << 20, &err))) {
				cl_buf_release(&b);
				cli_fail_rc("verify", rc, err);
				err = NULL;
				goto out;
			}
			names[n] = optarg;
			notes[n++] = (char *)cl_buf_detach(&b, NULL);
			break;
		}
		case 'k':
			free(key);
			if (read_key(optarg, &key) != 0)
				goto out;
			break;
		case 'j': json = 1; break;
		case 'r': o.read_only = 1; break;
		case 'd': deep = 1; break;
		case 't': tsa_ca = optarg; break;
		case 'R': remote = optarg; break;
		case CLI_SECRET('C'): cred_file = optarg; break;
		case 'w': {
			struct cl_buf b;

			cl_wpolicy_free(policy);
			policy = NULL;
			cl_buf_init(&b, 1 << 20);
			rc = cl_file_read(optarg, &b, 1 << 20, &err);
			if (rc == CL_OK)
				rc = cl_wpolicy_parse((const char *)b.data, b.len, &policy, &err);
			cl_buf_release(&b);
			if (rc) {
				cli_fail("verify", "--witness-policy %s: %s", optarg,
					 err ? err : cl_strerror(rc));
				goto out;
			}
			break;
		}
		}
	}
	if (!cli_ready(ctx, c, 1, 0)) {
		code = ctx->code;
		goto out;
	}
	if (!deep && ctx->pass_file) {
		code = cli_fail("verify", "--passphrase-file is only used with --deep");
		goto out;
	}
	if (deep) {
		/* The officer's key first: a wrong passphrase is an error (2),
		 * reported before anything is verified. */
		if (cl_officers_configured(ctx->archive)) {
			/* named officers (issue 15): a content officer's key */
			if ((code = cli_officer_auth(ctx, CL_ACT_CONTENT)) != EXIT_OK)
				goto out;
			if ((sk = sodium_malloc(32)) == NULL) {
				code = cli_fail("verify", "out of memory");
				goto out;
			}
			memcpy(sk, ctx->off->seal_sk, 32);
			rc = CL_OK;
		} else if ((code = cli_setup(ctx, CLI_NEEDS_PASSPHRASE)) != EXIT_OK) {
			goto out;
		} else {
			rc = cl_vault_unlock_seal(ctx->archive, ctx->pass, ctx->pass_len, &sk,
						  &err);
		}
		cli_forget_passphrase(ctx);
		if (rc) {
			code = cli_fail_rc("verify", rc, err);
			err = NULL;
			goto out;
		}
		o.seal_sk = sk;
	}
	o.trusted_vkey = key;
	o.checkpoints = (const char *const *)notes;
	o.checkpoint_names = names;
	o.n_checkpoints = n;
	if (!json && isatty(STDERR_FILENO)) {
		o.progress = progress;
		o.progress_ctx = deep ? &deep : NULL;
	}
	rc = cl_verify(ctx->archive, &o, &r, &err);
	if (rc != CL_OK && rc != CL_ECORRUPT) {
		cl_verify_report_release(&r);
		code = cli_fail_rc("verify", rc, err);
		err = NULL;
		goto out;
	}
	memset(&wr, 0, sizeof(wr));
	if (rc == CL_OK) {
		/* Witnessing: checked on the archive that verified. */
		struct cl_ledger *l = NULL;
		int wrc = cl_ledger_open(ctx->archive, o.read_only ? CL_OPEN_READ_COPY :
					 CL_OPEN_READ, &l, &err);

		if (wrc == CL_OK)
			wrc = cl_witness_verify(l, policy, tsa_ca, &wr, &err);
		cl_ledger_close(l);
		if (wrc != CL_OK && wrc != CL_ECORRUPT) {
			cl_verify_report_release(&r);
			code = cli_fail_rc("verify", wrc, err);
			err = NULL;
			goto out;
		}
		if (wrc == CL_ECORRUPT) {
			rc = CL_ECORRUPT;
			free(r.problem);
			r.problem = wr.problem;
			wr.problem = NULL;
			r.bad_index = UINT64_MAX;
		}
	}
	if (json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
				      "ok", rc == CL_OK,
				      "entries", (json_int_t)r.entries,
				      "records", (json_int_t)r.records,
				      "tombstones", (json_int_t)r.tombstones,
				      "coverage", (json_int_t)r.coverage,
				      "control", (json_int_t)r.control,
				      "quarantined", (json_int_t)r.quarantined,
				      "payloads", (json_int_t)r.payloads,
				      "erased", (json_int_t)r.erased,
				      "conversations", (json_int_t)r.conversations,
				      "checkpoints", (json_int_t)r.checkpoints,
				      "saved_checkpoints", (json_int_t)r.external_checkpoints,
				      "root", r.root_hex);
		if (j && deep)
			json_object_set_new(j, "opened", json_integer((json_int_t)r.opened));
		if (j) {
			json_object_set_new(j, "cosignatures", json_integer((json_int_t)wr.cosigs));
			json_object_set_new(j, "timestamps", json_integer((json_int_t)wr.tokens));
		}
		if (j && policy)
			json_object_set_new(j, "witnessed_by", json_integer((json_int_t)wr.latest_by));
		if (j && r.problem) {
			json_object_set_new(j, "problem", json_string(r.problem));
			if (r.bad_index != UINT64_MAX)
				json_object_set_new(j, "first_bad_entry",
						    json_integer((json_int_t)r.bad_index));
		}
		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (rc == CL_OK) {
		printf("OK: %" PRIu64 " %s (%" PRIu64 " record%s, %" PRIu64 " tombstone%s, %"
		       PRIu64 " coverage, %" PRIu64 " control, %" PRIu64 " quarantined) in %"
		       PRIu64 " conversation chain%s; %" PRIu64 " signed checkpoint%s",
		       r.entries, CL_PL(r.entries, "entry", "entries"), r.records,
		       CL_S(r.records), r.tombstones, CL_S(r.tombstones), r.coverage, r.control,
		       r.quarantined, r.conversations, CL_S(r.conversations), r.checkpoints,
		       CL_S(r.checkpoints));
		if (r.external_checkpoints)
			printf("; %" PRIu64 " saved checkpoints consistent", r.external_checkpoints);
		if (deep)
			printf("; %" PRIu64 " payloads opened with the officer's key", r.opened);
		if (wr.cosigs || wr.tokens)
			printf("; %" PRIu64 " witness cosignatures and %" PRIu64
			       " timestamp tokens valid", wr.cosigs, wr.tokens);
		if (policy)
			printf("; witness policy met (checkpoint %" PRIu64 " cosigned by %zu"
			       " policy witnesses%s)", wr.latest, wr.latest_by,
			       wr.unreachable ? "; some witnesses' own views not reachable" : "");
		printf("\nroot %s\n", r.root_hex);
	} else {
		printf("TAMPERED: %s\n", r.problem);
	}
	code = rc == CL_OK ? EXIT_OK : EXIT_TAMPERED;
	/* The off-site copy is audited against a log that verified. */
	if (rc == CL_OK && remote)
		code = cli_verify_remote(ctx->archive, remote, cred_file, deep, json);
	cl_verify_report_release(&r);
	cl_wverify_report_release(&wr);
out:
	cl_wpolicy_free(policy);
	for (i = 0; i < n; i++)
		free(notes[i]);
	sodium_free(sk);
	free(key);
	free(err);
	return code;
}
