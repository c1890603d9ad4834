/*
 * cmd_witness.c - chatledger witness: run a C2SP tlog-witness for peers'
 * logs (init, serve, add-log, disable-log, list, pubkey, cosign) and push
 * this archive's checkpoints to its own witnesses (push).
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/witness/push.h"
#include "archiver/witness/witness.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define W "witness"

/* --key: a verifier key string, or a file holding one. */
static char *key_arg(const char *arg)
{
	struct cl_buf b;

	if (strchr(arg, '+') != NULL && access(arg, R_OK) != 0)
		return strdup(arg);
	cl_buf_init(&b, 4096);
	if (cl_file_read(arg, &b, 4096, NULL) != CL_OK) {
		cl_buf_release(&b);
		return NULL;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = 0;
	return (char *)cl_buf_detach(&b, NULL);
}

static int open_state(const char *state, struct cl_wit **w)
{
	char *err = NULL;
	int rc = cl_wit_open(state, w, &err);

	return rc ? cli_fail_rc(W, rc, err) : EXIT_OK;
}

static int w_init(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL, *name = NULL;
	struct cl_wit *w = NULL;
	struct cl_buf b;
	char *err = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 's') state = optarg;
		else if (c == 'n') name = optarg;
	}
	if (!cli_ready(ctx, c, state && name, 0))
		return ctx->code;
	if ((rc = cl_wit_init(state, name, &err)))
		return cli_fail_rc(W, rc, err);
	if ((rc = open_state(state, &w)) != EXIT_OK)
		return rc;
	cl_buf_init(&b, 4096);
	if (cl_wit_vkey(w, &b) == CL_OK)
		printf("%s\n", (const char *)b.data);
	cl_buf_release(&b);
	cl_wit_close(w);
	return EXIT_OK;
}

static int w_pubkey(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL;
	struct cl_wit *w = NULL;
	struct cl_buf b;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) == 's')
		state = optarg;
	if (!cli_ready(ctx, c, state != NULL, 0))
		return ctx->code;
	if ((rc = open_state(state, &w)) != EXIT_OK)
		return rc;
	cl_buf_init(&b, 4096);
	rc = cl_wit_vkey(w, &b);
	if (rc == CL_OK)
		printf("%s\n", (const char *)b.data);
	cl_buf_release(&b);
	cl_wit_close(w);
	return rc ? cli_fail(W, "cannot format the key") : EXIT_OK;
}

static int w_add_log(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "origin", required_argument, NULL, 'o' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL, *origin = NULL, *keyarg = NULL;
	struct cl_wit *w = NULL;
	char *key = NULL, *err = NULL, *owned = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 's') state = optarg;
		else if (c == 'o') origin = optarg;
		else if (c == 'k') keyarg = optarg;
	}
	if (!cli_ready(ctx, c, state && keyarg, 0))
		return ctx->code;
	if ((key = key_arg(keyarg)) == NULL)
		return cli_fail(W, "--key: not a verifier key or a readable file");
	if (origin == NULL) {
		/* The C2SP convention: the log's key name is its origin. */
		char *plus = strchr(key, '+');

		if (plus == NULL) {
			free(key);
			return cli_fail(W, "--key: not a verifier key");
		}
		*plus = 0;
		origin = owned = strdup(key);
		*plus = '+';
	}
	if ((rc = open_state(state, &w)) != EXIT_OK)
		goto out;
	rc = cl_wit_add_log(w, origin, key, &err);
	rc = rc ? cli_fail_rc(W, rc, err) : EXIT_OK;
	if (rc == EXIT_OK)
		fprintf(stderr, "chatledger witness: witnessing %s\n", origin);
out:
	free(owned);
	cl_wit_close(w);
	free(key);
	return rc;
}

static int w_disable_log(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "origin", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL, *origin = NULL;
	struct cl_wit *w = NULL;
	char *err = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 's') state = optarg;
		else if (c == 'o') origin = optarg;
	}
	if (!cli_ready(ctx, c, state && origin, 0))
		return ctx->code;
	if ((rc = open_state(state, &w)) != EXIT_OK)
		return rc;
	rc = cl_wit_disable_log(w, origin, &err);
	cl_wit_close(w);
	return rc ? cli_fail_rc(W, rc, err) : EXIT_OK;
}

struct list_ctx {
	int json;
};

static int list_one(void *arg, const struct cl_wit_log *lg)
{
	const struct list_ctx *x = arg;
	char t[32] = "never";

	if (lg->updated_at > 0)
		cl_time_format(lg->updated_at * 1000, t);
	if (x->json) {
		json_t *j = json_pack("{s:s, s:s, s:b, s:I, s:s}", "origin", lg->origin,
				      "vkey", lg->vkey, "enabled", lg->enabled,
				      "size", (json_int_t)lg->size, "updated_at", t);

		if (j) {
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
			putchar('\n');
		}
		json_decref(j);
	} else {
		printf("%s\t%s\tsize %" PRIu64 "\tcosigned %s\t%s\n", lg->origin,
		       lg->enabled ? "enabled" : "disabled", lg->size, t, lg->vkey);
	}
	return 0;
}

static int w_list(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL;
	struct list_ctx x = { 0 };
	struct cl_wit *w = NULL;
	char *err = NULL;
	int c, rc;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 's') state = optarg;
		else if (c == 'j') x.json = 1;
	}
	if (!cli_ready(ctx, c, state != NULL, 0))
		return ctx->code;
	if ((rc = open_state(state, &w)) != EXIT_OK)
		return rc;
	rc = cl_wit_list(w, list_one, &x, &err);
	cl_wit_close(w);
	return rc ? cli_fail_rc(W, rc, err) : EXIT_OK;
}

/*
 * Test hook (documented in chatledger-witness(1)): with
 * CHATLEDGER_TEST_WITNESS_KILL=verified or =committed the process kills
 * itself with SIGKILL at that stage of an add-checkpoint, to show what a
 * crash leaves behind.
 */
static void kill_hook(void *ctx, int stage)
{
	const char *at = ctx;

	if ((stage == CL_WIT_STAGE_VERIFIED && strcmp(at, "verified") == 0) ||
	    (stage == CL_WIT_STAGE_COMMITTED && strcmp(at, "committed") == 0))
		raise(SIGKILL);
}

static void serve_log(void *ctx, const char *line)
{
	char t[32];

	(void)ctx;
	cl_time_format(cl_time_now_ms(), t);
	fprintf(stderr, "%s chatledger witness: %s\n", t, line);
}

static int w_serve(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "listen", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL, *listen = NULL, *kill_at = getenv("CHATLEDGER_TEST_WITNESS_KILL");
	struct cl_wit *w = NULL;
	struct cl_wit_server *s = NULL;
	sigset_t sigs;
	unsigned port = 0;
	char *err = NULL;
	int c, rc, sig = 0;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 's') state = optarg;
		else if (c == 'l') listen = optarg;
	}
	if (!cli_ready(ctx, c, state && listen, 0))
		return ctx->code;
	if ((rc = open_state(state, &w)) != EXIT_OK)
		return rc;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = cl_wit_serve_start(w, listen, kill_at && *kill_at ? kill_hook : NULL,
				(void *)(uintptr_t)kill_at, serve_log, NULL, &s, &port, &err);
	if (rc) {
		cl_wit_close(w);
		return cli_fail_rc(W, rc, err);
	}
	fprintf(stderr, "chatledger witness: listening on %s (port %u), state %s\n",
		listen, port, state);
	printf("listening port %u\n", port);
	fflush(stdout);
	while (sigwait(&sigs, &sig) != 0)
		;
	fprintf(stderr, "chatledger witness: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	cl_wit_serve_stop(s);
	cl_wit_close(w);
	return EXIT_OK;
}

static int w_cosign(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state = NULL;
	struct cl_wit *w = NULL;
	struct cl_wit_answer a;
	struct cl_buf req;
	char *err = NULL;
	int c, rc, code;

	ctx->flags |= CLI_TAKES_OPERANDS;
	while ((c = cli_getopt(ctx, argc, argv, opts)) == 's')
		state = optarg;
	if (!cli_ready(ctx, c, state != NULL && optind == argc - 1, 0))
		return ctx->code;
	cl_buf_init(&req, 1 << 20);
	if (strcmp(argv[optind], "-") == 0) {
		char chunk[4096];
		size_t n;

		while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
			if (cl_buf_add(&req, chunk, n) != CL_OK) {
				cl_buf_release(&req);
				return cli_fail(W, "the request is larger than 1 MiB");
			}
	} else if ((rc = cl_file_read(argv[optind], &req, 1 << 20, &err))) {
		cl_buf_release(&req);
		return cli_fail_rc(W, rc, err);
	}
	if ((code = open_state(state, &w)) != EXIT_OK) {
		cl_buf_release(&req);
		return code;
	}
	rc = cl_wit_add_checkpoint(w, (const char *)req.data, req.len,
				   (uint64_t)time(NULL), NULL, NULL, &a, &err);
	cl_buf_release(&req);
	cl_wit_close(w);
	if (a.status == 200) {
		fwrite(a.body.data, 1, a.body.len, stdout);
		code = EXIT_OK;
	} else if (rc) {
		code = cli_fail_rc(W, rc, err);
		err = NULL;
	} else {
		fflush(stdout);
		fprintf(stderr, "chatledger witness cosign: refused (%d): %s\n", a.status,
			a.reason ? a.reason : "");
		if (a.status == 409)
			fwrite(a.body.data, 1, a.body.len, stdout);
		code = EXIT_TAMPERED;
	}
	free(err);
	cl_wit_answer_release(&a);
	return code;
}

static void push_log(void *ctx, const char *line)
{
	const int *json = ctx;

	if (!*json)
		fprintf(stderr, "chatledger witness push: %s\n", line);
}

static const char *outcome(enum cl_push_outcome o)
{
	switch (o) {
	case CL_PUSH_UPTODATE: return "up-to-date";
	case CL_PUSH_COSIGNED: return "cosigned";
	case CL_PUSH_UNREACHABLE: return "unreachable";
	case CL_PUSH_REFUSED: return "refused";
	case CL_PUSH_ALERT: return "alert";
	}
	return "?";
}

static int w_push(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cl_wcfg *cfg = calloc(1, sizeof(*cfg));
	struct cl_push_report *rep = calloc(1, sizeof(*rep));
	char *err = NULL;
	int c, rc, force = 0, json = 0, code = EXIT_OK, alert = 0, failed = 0;
	size_t i;

	if (cfg == NULL || rep == NULL) {
		free(cfg);
		free(rep);
		return cli_fail(W, "out of memory");
	}
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		if (c == 'f') force = 1;
		else if (c == 'j') json = 1;
	}
	if (!cli_ready(ctx, c, 1, 0)) {
		code = ctx->code;
		goto out;
	}
	if ((rc = cl_wcfg_load(ctx->archive, cfg, &err))) {
		code = cli_fail_rc(W, rc, err);
		goto out;
	}
	if (cfg->n == 0 && cfg->tsa_url[0] == 0) {
		code = cli_fail(W, "no witness or TSA configured: add a [witness] or [timestamp]"
				" section to %s/chatledger.conf", ctx->archive);
		goto out;
	}
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	if ((rc = cl_witness_push(ctx->ledger, cfg, force, push_log, &json, rep, &err))) {
		code = cli_fail_rc(W, rc, err);
		goto out;
	}
	for (i = 0; i < rep->n; i++) {
		alert |= rep->out[i] == CL_PUSH_ALERT;
		failed |= rep->out[i] == CL_PUSH_UNREACHABLE || rep->out[i] == CL_PUSH_REFUSED;
	}
	failed |= rep->tsa == -1;
	if (json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:o}", "rate_limited",
				      rep->rate_limited, "size", (json_int_t)rep->size,
				      "cosigned", (json_int_t)rep->cosigned,
				      "witnesses", (json_int_t)rep->n,
				      "quorum", (json_int_t)cfg->quorum,
				      "coverage", (json_int_t)rep->coverage,
				      "results", json_array());

		for (i = 0; j && i < rep->n && !rep->rate_limited; i++)
			json_array_append_new(json_object_get(j, "results"),
					      json_pack("{s:s, s:s, s:s}", "witness",
							cfg->w[i].key.name, "outcome",
							outcome(rep->out[i]), "reason", rep->why[i]));
		if (j && cfg->tsa_url[0])
			json_object_set_new(j, "timestamp", json_string(
				rep->tsa == 1 ? "stored" : rep->tsa == 2 ? "already" :
				rep->tsa == -1 ? "failed" : "none"));
		if (j) {
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
			putchar('\n');
		}
		json_decref(j);
	} else if (rep->rate_limited) {
		printf("rate-limited: the last push is younger than %u s (use --force)\n",
		       cfg->interval_s);
	} else {
		printf("checkpoint %" PRIu64 " cosigned by %zu of %zu witnesses (quorum %u)%s\n",
		       rep->size, rep->cosigned, rep->n, cfg->quorum,
		       alert ? "; ALERT: a witness refused it as inconsistent" : "");
	}
	if (alert)
		code = EXIT_TAMPERED;
	else if (!rep->rate_limited && (failed || rep->cosigned < cfg->quorum))
		code = EXIT_PARTIAL;
out:
	free(cfg);
	free(rep);
	return code;
}

int cmd_witness(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "init", w_init, 0 },
		{ "serve", w_serve, 0 },
		{ "add-log", w_add_log, 0 },
		{ "disable-log", w_disable_log, 0 },
		{ "list", w_list, 0 },
		{ "pubkey", w_pubkey, 0 },
		{ "cosign", w_cosign, 0 },
		{ "push", w_push, CLI_NEEDS_WRITER },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
