/*
 * cmd_wechat.c - chatledger wechat serve|pull: WeChat through Tencent's
 * open routes (archiver/sources/wechat_serve.h, wechat_pull.h).
 *
 *   serve  the push receiver for route A (/oa) and route C (/wecom), a
 *          daemon until SIGTERM/SIGINT; one log line per request on
 *          standard error
 *   pull   route B (--route msglist: getmsglist windows) or route C
 *          (--route kf: kf/sync_msg from the persisted cursors), once
 *
 * Every secret (tokens, EncodingAESKeys, AppSecret, corp secret) comes
 * from a file named by a --*-file option, never from argv.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/sources/wechat_api.h"
#include "archiver/sources/wechat_crypto.h"
#include "archiver/sources/wechat_pull.h"
#include "archiver/sources/wechat_serve.h"
#include "archiver/sources/wechat_store.h"
#include "archiver/config/config.h"
#include "archiver/ingest/record.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SECRET_MAX 1024u
#define MAX_KFIDS 32

/* Read a one-line secret file into sodium_malloc'd memory (NUL-ended);
 * messages name the option, never the path or the contents. */
static int read_secret(const char *opt, const char *path, unsigned char **out,
		       size_t *len)
{
	unsigned char *p = sodium_malloc(SECRET_MAX + 2);
	struct stat st;
	size_t n = 0;
	ssize_t got;
	int fd = -1, rc = -1;

	*out = NULL;
	if (p == NULL)
		return cli_fail("wechat", "out of memory"), -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_fail("wechat", "cannot open the file given to --%s: %s", opt, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cli_fail("wechat", "the file given to --%s is not a regular file", opt);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		fprintf(stderr, "chatledger wechat: warning: the file given to --%s is "
			"accessible by group or others (mode %03o); chmod 600 it\n", opt,
			(unsigned)(st.st_mode & 0777));
	while ((got = read(fd, p + n, SECRET_MAX + 1 - n)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			cli_fail("wechat", "cannot read the file given to --%s: %s", opt,
				 strerror(errno));
			goto out;
		}
		n += (size_t)got;
		if (n > SECRET_MAX) {
			cli_fail("wechat", "the file given to --%s is longer than %u bytes", opt,
				 SECRET_MAX);
			goto out;
		}
	}
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0 || memchr(p, '\n', n) || memchr(p, '\r', n) || memchr(p, 0, n)) {
		cli_fail("wechat", "the file given to --%s must hold one non-empty line", opt);
		goto out;
	}
	p[n] = 0;
	*out = p;
	*len = n;
	p = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_free(p);
	return rc;
}

struct route_cfg {
	const char *id;          /* AppID / corpid */
	const char *token_file, *key_file, *secret_file;
	char account[160];
	struct cl_wx_crypto *crypto;
	struct cl_wx_api *api;
};

/* Build the crypto context (and API client if a secret file is given). */
static int route_setup(struct route_cfg *r, const char *prefix, int flavour,
		       const char *api_url, int need_crypto)
{
	unsigned char *tok = NULL, *key = NULL, *sec = NULL;
	size_t tl = 0, kl = 0, sl = 0;
	char opt[64], *err = NULL;
	int rc = -1;

	(void)cl_fmt(r->account, sizeof(r->account), "%s:%s",
		     flavour == CL_WX_API_WECOM ? "wecom" : "wechat-oa", r->id);
	if (need_crypto) {
		(void)cl_fmt(opt, sizeof(opt), "%s-token-file", prefix);
		if (r->token_file == NULL) {
			cli_fail("wechat", "--%s-%s needs --%s", prefix,
				 flavour == CL_WX_API_WECOM ? "corpid" : "appid", opt);
			goto out;
		}
		if (read_secret(opt, r->token_file, &tok, &tl) != 0)
			goto out;
		if (r->key_file) {
			(void)cl_fmt(opt, sizeof(opt), "%s-aes-key-file", prefix);
			if (read_secret(opt, r->key_file, &key, &kl) != 0)
				goto out;
		} else if (flavour == CL_WX_API_WECOM) {
			cli_fail("wechat", "WeCom callbacks are always encrypted: "
				 "--wecom-aes-key-file is required");
			goto out;
		}
		if (cl_wx_crypto_new(tok, tl, key ? (const char *)key : NULL, r->id,
				     &r->crypto, &err) != CL_OK) {
			cli_fail_rc("wechat", CL_EINVAL, err);
			goto out;
		}
	}
	if (r->secret_file) {
		(void)cl_fmt(opt, sizeof(opt), "%s-secret-file", prefix);
		if (read_secret(opt, r->secret_file, &sec, &sl) != 0)
			goto out;
		err = NULL;
		if (cl_wx_api_new(flavour, api_url, r->id, sec, sl, 0, &r->api, &err) != CL_OK) {
			cli_fail_rc("wechat", CL_EINVAL, err);
			goto out;
		}
	}
	rc = 0;
out:
	sodium_free(tok);
	sodium_free(key);
	sodium_free(sec);
	return rc;
}

static void route_release(struct route_cfg *r)
{
	cl_wx_crypto_free(r->crypto);
	cl_wx_api_free(r->api);
	r->crypto = NULL;
	r->api = NULL;
}

static void on_request(void *ctx, const struct cl_wx_request *r)
{
	char when[32];

	(void)ctx;
	cl_time_format(cl_time_now_ms(), when);
	fprintf(stderr, "chatledger wechat: %s %s %s %u records=%llu duplicates=%llu "
		"quarantined=%llu ms=%u%s%s\n", when, r->method, r->path, r->status,
		(unsigned long long)r->records, (unsigned long long)r->duplicates,
		(unsigned long long)r->quarantined, r->ms, *r->reason ? " " : "", r->reason);
}

static void on_note(void *ctx, const char *msg)
{
	char when[32];

	(void)ctx;
	cl_time_format(cl_time_now_ms(), when);
	fprintf(stderr, "chatledger wechat: %s %s\n", when, msg);
}

/* [labels] of chatledger.conf classify what the routes store, as ingest
 * and webhook do; the configuration lives until the process ends. */
static int wx_classify_setup(struct cli_ctx *ctx)
{
	static struct cl_config conf;
	static struct cl_record_opts classify;
	char *err = NULL;
	int rc = cl_config_load(ctx->archive, &conf, &err);

	if (rc)
		return cli_fail_rc("wechat", rc, err);
	memset(&classify, 0, sizeof(classify));
	classify.account_labels = cl_config_account_labels;
	classify.ctx = &conf;
	cl_wx_set_classify(&classify);
	return EXIT_OK;
}

static int wechat_serve(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "oa-appid", required_argument, NULL, 'O' },
		{ "oa-token-file", required_argument, NULL, CLI_SECRET('t') },
		{ "oa-aes-key-file", required_argument, NULL, CLI_SECRET('k') },
		{ "oa-secret-file", required_argument, NULL, CLI_SECRET('s') },
		{ "oa-require-aes", no_argument, NULL, 'r' },
		{ "wecom-corpid", required_argument, NULL, 'c' },
		{ "wecom-token-file", required_argument, NULL, CLI_SECRET('T') },
		{ "wecom-aes-key-file", required_argument, NULL, CLI_SECRET('K') },
		{ "wecom-secret-file", required_argument, NULL, CLI_SECRET('S') },
		{ "lookup-unionid", no_argument, NULL, 'u' },
		{ "max-skew", required_argument, NULL, 'w' },
		{ "api-url", required_argument, NULL, 'U' },
		{ "wecom-api-url", required_argument, NULL, 'W' },
		{ "media-retry-base", required_argument, NULL, 'R' },
		{ "no-store", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct route_cfg oa, wc;
	const char *listen = NULL, *api_url = NULL, *wecom_url = NULL;
	unsigned long long skew = CL_WX_SKEW_DEFAULT, retry = 60;
	int c, rc, sig = 0, json = 0, require_aes = 0, lookup = 0, no_store = 0;
	int code = EXIT_ERROR;
	struct cl_wx_serve_opts o;
	struct cl_wx_serve_stats st;
	struct cl_wx_server *s = NULL;
	sigset_t sigs;
	char *err = NULL;

	memset(&oa, 0, sizeof(oa));
	memset(&wc, 0, sizeof(wc));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'l': listen = optarg; break;
		case 'O': oa.id = optarg; break;
		case CLI_SECRET('t'): oa.token_file = optarg; break;
		case CLI_SECRET('k'): oa.key_file = optarg; break;
		case CLI_SECRET('s'): oa.secret_file = optarg; break;
		case 'r': require_aes = 1; break;
		case 'c': wc.id = optarg; break;
		case CLI_SECRET('T'): wc.token_file = optarg; break;
		case CLI_SECRET('K'): wc.key_file = optarg; break;
		case CLI_SECRET('S'): wc.secret_file = optarg; break;
		case 'u': lookup = 1; break;
		case 'w':
			if (cli_u64(optarg, &skew) != 0 || skew > 86400)
				return cli_fail("wechat", "--max-skew must be 0..86400 seconds");
			break;
		case 'U': api_url = optarg; break;
		case 'W': wecom_url = optarg; break;
		case 'R':
			if (cli_u64(optarg, &retry) != 0 || retry < 1 || retry > 3600)
				return cli_fail("wechat", "--media-retry-base must be 1..3600 seconds");
			break;
		case 'n': no_store = 1; break;
		case 'j': json = 1; break;
		}
	}
	if (!cli_ready(ctx, c, listen != NULL && (oa.id != NULL || wc.id != NULL), 0))
		return ctx->code;
	if ((oa.id == NULL && (oa.token_file || oa.key_file || oa.secret_file)) ||
	    (wc.id == NULL && (wc.token_file || wc.key_file || wc.secret_file)))
		return cli_fail("wechat", "--oa-* options need --oa-appid, --wecom-* options "
				"need --wecom-corpid");
	if ((oa.id && route_setup(&oa, "oa", CL_WX_API_OA, api_url, 1) != 0) ||
	    (wc.id && route_setup(&wc, "wecom", CL_WX_API_WECOM, wecom_url, 1) != 0))
		goto out;
	if ((rc = wx_classify_setup(ctx)) != EXIT_OK)
		return rc;
	if ((rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK) {
		code = rc;
		goto out;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	memset(&o, 0, sizeof(o));
	o.listen = listen;
	o.archive = ctx->archive;
	o.oa = oa.crypto;
	o.oa_account = oa.id ? oa.account : NULL;
	o.oa_require_aes = require_aes;
	o.wecom = wc.crypto;
	o.wecom_account = wc.id ? wc.account : NULL;
	o.wecom_kf_account = wc.id ? wc.account : NULL;
	o.max_skew_s = (unsigned)skew;
	o.no_store = no_store;
	o.oa_api = oa.api;
	o.wecom_api = wc.api;
	o.lookup = lookup;
	o.media_retry_base = (unsigned)retry;
	o.on_request = on_request;
	o.on_note = on_note;
	rc = cl_wx_serve_start(ctx->ledger, &o, &s, &err);
	if (rc) {
		code = cli_fail_rc("wechat", rc, err);
		goto out;
	}
	fprintf(stderr, "chatledger wechat: listening on %s (%s%s%s), archive %s%s\n",
		cl_wx_serve_address(s), oa.id ? "route A /oa" : "", oa.id && wc.id ? ", " : "",
		wc.id ? "route C /wecom" : "", ctx->archive,
		no_store ? " (--no-store: nothing is stored)" : "");
	if (json) {
		json_t *j = json_pack("{s:s, s:s}", "event", "listening", "address",
				      cl_wx_serve_address(s));

		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
		fflush(stdout);
	}
	while (sigwait(&sigs, &sig) != 0)
		;
	fprintf(stderr, "chatledger wechat: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	cl_wx_serve_stop(s, &st);
	s = NULL;
	if (json) {
		/* The run's counts, in this order, after "event". */
		const struct { const char *name; uint64_t n; } counts[] = {
			{ "requests", st.requests }, { "accepted", st.accepted },
			{ "refused", st.refused }, { "failed", st.failed },
			{ "records", st.records }, { "duplicates", st.duplicates },
			{ "quarantined", st.quarantined }, { "commits", st.commits },
			{ "media_stored", st.media_done }, { "kf_pulls", st.kf_pulls },
		};
		json_t *j = json_pack("{s:s}", "event", "stopped");
		size_t k;

		for (k = 0; j && k < sizeof(counts) / sizeof(counts[0]); k++)
			json_object_set_new(j, counts[k].name, json_integer((json_int_t)counts[k].n));
		if (j != NULL)
			json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
		code = EXIT_OK;
		goto out;
	}
	printf("%llu request%s (%llu stored, %llu refused, %llu failed): %llu record%s, "
	       "%llu duplicate%s, %llu quarantined, %llu commit%s, %llu media, %llu kf"
	       " pull%s\n",
	       (unsigned long long)st.requests, CL_S(st.requests),
	       (unsigned long long)st.accepted,
	       (unsigned long long)st.refused, (unsigned long long)st.failed,
	       (unsigned long long)st.records, CL_S(st.records),
	       (unsigned long long)st.duplicates, CL_S(st.duplicates),
	       (unsigned long long)st.quarantined,
	       (unsigned long long)st.commits, CL_S(st.commits),
	       (unsigned long long)st.media_done, (unsigned long long)st.kf_pulls,
	       CL_S(st.kf_pulls));
	code = EXIT_OK;
out:
	cl_wx_serve_stop(s, NULL);
	route_release(&oa);
	route_release(&wc);
	return code;
}

static int wechat_pull(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "route", required_argument, NULL, 'r' },
		{ "oa-appid", required_argument, NULL, 'O' },
		{ "oa-secret-file", required_argument, NULL, CLI_SECRET('s') },
		{ "wecom-corpid", required_argument, NULL, 'c' },
		{ "wecom-secret-file", required_argument, NULL, CLI_SECRET('S') },
		{ "open-kfid", required_argument, NULL, 'k' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "lookup-unionid", no_argument, NULL, 'u' },
		{ "api-url", required_argument, NULL, 'U' },
		{ "wecom-api-url", required_argument, NULL, 'W' },
		{ "page-size", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long page = CL_WX_MSGLIST_PAGE;
	struct route_cfg oa, wc;
	const char *route = NULL, *api_url = NULL, *wecom_url = NULL, *from = NULL, *to = NULL;
	char *kfids[MAX_KFIDS], *err = NULL;
	size_t nk = 0, i, given = 0;
	int c, rc = CL_OK, json = 0, lookup = 0, code = EXIT_ERROR, kf;
	struct cl_wx_pull_stats st;

	memset(&oa, 0, sizeof(oa));
	memset(&wc, 0, sizeof(wc));
	memset(&st, 0, sizeof(st));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'r': route = optarg; break;
		case 'O': oa.id = optarg; break;
		case CLI_SECRET('s'): oa.secret_file = optarg; break;
		case 'c': wc.id = optarg; break;
		case CLI_SECRET('S'): wc.secret_file = optarg; break;
		case 'k':
			if (nk >= MAX_KFIDS)
				return cli_fail("wechat", "at most %d --open-kfid", MAX_KFIDS);
			kfids[nk++] = optarg;
			break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'u': lookup = 1; break;
		case 'U': api_url = optarg; break;
		case 'W': wecom_url = optarg; break;
		case 'p':
			if (cli_u64(optarg, &page) != 0 || page < 1 || page > CL_WX_MSGLIST_PAGE)
				return cli_fail("wechat", "--page-size must be 1..%d", CL_WX_MSGLIST_PAGE);
			break;
		case 'j': json = 1; break;
		}
	}
	given = nk;
	if (!cli_ready(ctx, c, route != NULL, 0))
		return ctx->code;
	kf = strcmp(route, "kf") == 0;
	if (!kf && strcmp(route, "msglist") != 0)
		return cli_fail("wechat", "--route must be msglist (route B) or kf (route C)");
	if (!kf && (oa.id == NULL || oa.secret_file == NULL))
		return cli_fail("wechat", "--route msglist needs --oa-appid and --oa-secret-file");
	if (kf && (wc.id == NULL || wc.secret_file == NULL))
		return cli_fail("wechat", "--route kf needs --wecom-corpid and --wecom-secret-file");
	if ((!kf && route_setup(&oa, "oa", CL_WX_API_OA, api_url, 0) != 0) ||
	    (kf && route_setup(&wc, "wecom", CL_WX_API_WECOM, wecom_url, 0) != 0))
		goto out;
	if ((rc = wx_classify_setup(ctx)) != EXIT_OK)
		return rc;
	if ((rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK) {
		code = rc;
		goto out;
	}
	if (!kf) {
		int64_t f_ms = 0, t_ms = cl_time_now_ms();
		char *cur = NULL;

		if (to && cli_time(to, &t_ms) != 0) {
			code = cli_fail("wechat", "--to: not a date or time");
			goto out;
		}
		if (from && cli_time(from, &f_ms) != 0) {
			code = cli_fail("wechat", "--from: not a date or time");
			goto out;
		}
		if (from == NULL) {
			(void)cl_wx_store_init(ctx->ledger, NULL);
			if (cl_wx_cursor_get(ctx->ledger, "getmsglist", &cur, NULL) == CL_OK && cur)
				f_ms = strtoll(cur, NULL, 10) * 1000;
			else
				f_ms = t_ms - (int64_t)CL_WX_WINDOW_S * 1000;
			free(cur);
		}
		rc = cl_wx_pull_msglist(ctx->ledger, oa.api, oa.account, f_ms / 1000, t_ms / 1000,
					(unsigned)page, &st, &err);
	} else {
		if (nk == 0) {
			(void)cl_wx_store_init(ctx->ledger, NULL);
			(void)cl_wx_kf_pending(ctx->ledger, kfids, MAX_KFIDS, &nk);
		}
		for (i = 0; i < nk && (rc == CL_OK || rc == CL_EPARTIAL); i++) {
			int r1 = cl_wx_pull_kf(ctx->ledger, wc.api, wc.account, kfids[i], lookup,
					       &st, &err);

			if (r1)
				rc = r1;
		}
	}
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "route", route, "records", (json_int_t)st.records,
				      "duplicates", (json_int_t)st.duplicates,
				      "quarantined", (json_int_t)st.quarantined,
				      "skipped_route_a", (json_int_t)st.skipped_route_a,
				      "pages", (json_int_t)st.pages, "windows", (json_int_t)st.windows,
				      "failed_windows", (json_int_t)st.failed_windows,
				      "links", (json_int_t)st.links);

		json_dumpf(j, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(j);
	} else {
		printf("%llu record%s, %llu duplicate%s, %llu quarantined, %llu already from"
		       " route A, %llu page%s, %llu window%s (%llu failed), %llu identity link%s\n",
		       (unsigned long long)st.records, CL_S(st.records),
		       (unsigned long long)st.duplicates, CL_S(st.duplicates),
		       (unsigned long long)st.quarantined, (unsigned long long)st.skipped_route_a,
		       (unsigned long long)st.pages, CL_S(st.pages),
		       (unsigned long long)st.windows, CL_S(st.windows),
		       (unsigned long long)st.failed_windows,
		       (unsigned long long)st.links, CL_S(st.links));
	}
	if (err)
		fprintf(stderr, "chatledger wechat: %s\n", err);
	free(err);
	code = rc == CL_OK ? (st.quarantined ? EXIT_PARTIAL : EXIT_OK)
		: rc == CL_EPARTIAL ? EXIT_PARTIAL : EXIT_ERROR;
out:
	if (given == 0)
		for (i = 0; i < nk; i++)
			free(kfids[i]);
	route_release(&oa);
	route_release(&wc);
	return cli_finish_stdout(code);
}

int cmd_wechat(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "serve", wechat_serve, CLI_NEEDS_WRITER },
		{ "pull", wechat_pull, CLI_NEEDS_WRITER },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
