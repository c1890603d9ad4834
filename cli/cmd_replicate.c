/*
 * cmd_replicate.c - chatledger replicate: ship the archive to S3 Object
 * Lock storage, once (timer) or as a service; and the remote audit that
 * `verify --remote` runs (archiver/replicate/replicate.h).
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/config/config.h"
#include "archiver/replicate/replicate.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "policy/policy.h"
#include "common/banned.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int cli_repl_session(const char *cmd, const struct cli_repl_args *a, struct cl_repl **out,
		     char **url_used)
{
	struct cl_repl_conf conf;
	struct cl_repl_opts o;
	char *ak = NULL, *sk = NULL, *err = NULL, *cred = NULL;
	const char *url, *keys_url, *endpoint;
	int rc, code = EXIT_ERROR;

	*out = NULL;
	*url_used = NULL;
	memset(&conf, 0, sizeof(conf));
	if (a->archive && (rc = cl_repl_conf_load(a->archive, &conf, &err)))
		return cli_fail_rc(cmd, rc, err);
	if (!a->archive) {
		(void)cl_repl_conf_load("/nonexistent", &conf, NULL);
	}
	url = a->url ? a->url : conf.url;
	keys_url = a->keys_url ? a->keys_url : conf.keys_url;
	endpoint = a->endpoint ? a->endpoint : conf.endpoint;
	if (!*url)
		return cli_fail(cmd, "no bucket: give an S3-URL or set [replicate] url");
	memset(&o, 0, sizeof(o));
	if ((rc = cl_repl_where_parse(url, endpoint, &o.worm, &err)))
		return cli_fail_rc(cmd, rc, err);
	if (*keys_url && (rc = cl_repl_where_parse(keys_url, endpoint, &o.keys, &err)))
		return cli_fail_rc(cmd, rc, err);
	if (a->need_keys && !*keys_url)
		return cli_fail(cmd, "no key store: set [replicate] keys_url (a second bucket"
				" without versioning) or give --keys-url");
	if (*keys_url && strcmp(o.keys.bucket, o.worm.bucket) == 0)
		return cli_fail(cmd, "the key store must be another bucket than the WORM bucket"
				" (Object Lock keeps every version, so erased keys would survive)");
	if (a->cred_file)
		cred = strdup(a->cred_file);
	else if (conf.credentials_file[0] == '/')
		cred = strdup(conf.credentials_file);
	else if (conf.credentials_file[0] && a->archive)
		cred = cl_strdupf("%s/%s", a->archive, conf.credentials_file);
	if (!cred)
		return cli_fail(cmd, "no credentials: give --credentials-file FILE or set"
				" [replicate] credentials_file");
	if ((rc = cl_repl_credentials_load(cred, &ak, &sk, &err))) {
		code = cli_fail_rc(cmd, rc, err);
		goto out;
	}
	o.region = conf.region;
	o.access_key = ak;
	o.secret_key = sk;
	o.ca_file = conf.ca_file[0] ? conf.ca_file : NULL;
	o.allow_http = a->allow_http || conf.allow_http;
	o.timeout_s = conf.timeout_s;
	if ((rc = cl_repl_new(&o, out, &err))) {
		code = cli_fail_rc(cmd, rc, err);
		goto out;
	}
	if (!(*url_used = strdup(url))) {
		cl_repl_free(*out);
		*out = NULL;
		code = cli_fail(cmd, "out of memory");
		goto out;
	}
	code = EXIT_OK;
out:
	sodium_free(ak);
	sodium_free(sk);
	free(cred);
	return code;
}

/* The retain-until for new objects: now plus the longest minimum of the
 * active retention policy, and at least [replicate] retention_days. */
static int retain_until(const char *archive, uint64_t days, int64_t *until)
{
	struct cl_config conf;
	struct cl_policy *p = NULL;
	int64_t now = cl_time_now_ms(), best = now + (int64_t)days * 86400000;
	char *err = NULL;

	if (cl_config_load(archive, &conf, &err) == CL_OK && conf.policy[0]) {
		size_t i;
		int code;

		if ((code = cli_load_policy("replicate", archive, NULL, &p)) != EXIT_OK)
			return code;
		for (i = 0; i < cl_policy_rule_count(p); i++) {
			int64_t t;
			const char *m = cl_policy_rule_minimum(p, i);

			if (m && cl_policy_duration_add(now, m, &t) == CL_OK && t > best)
				best = t;
		}
		cl_policy_free(p);
	}
	free(err);
	*until = best;
	return EXIT_OK;
}

static int run_once(const char *archive, struct cl_repl *r, const char *url,
		    const struct cl_repl_conf *conf, int64_t until, uint64_t max_segments,
		    int json, int quiet)
{
	struct cl_repl_run_opts o;
	struct cl_repl_report rep;
	char *err = NULL, *err2 = NULL;
	int rc, wrote = 0, code;

	memset(&o, 0, sizeof(o));
	o.segment_entries = conf->segment_entries;
	o.segment_bytes = conf->segment_bytes;
	o.retain_until_ms = until;
	o.max_segments = max_segments;
	o.stop = &stop_flag;
	rc = cl_repl_run(r, archive, &o, &rep, &err);
	if (cl_repl_record(archive, url, rc, err, &rep, &wrote, &err2) != CL_OK) {
		fprintf(stderr, "chatledger replicate: cannot record the outcome: %s\n",
			err2 ? err2 : "?");
	}
	code = rc == CL_OK ? EXIT_OK : rc == CL_ECORRUPT ? EXIT_TAMPERED : EXIT_ERROR;
	if (json) {
		json_t *j = json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "ok", rc == CL_OK, "local_size", (json_int_t)rep.local_size,
				      "replicated", (json_int_t)rep.remote_after,
				      "segments", (json_int_t)rep.segments,
				      "adopted", (json_int_t)rep.adopted,
				      "entries", (json_int_t)rep.entries,
				      "bytes", (json_int_t)rep.bytes,
				      "keys_rewritten", (json_int_t)rep.keys_rewritten,
				      "cosignatures", (json_int_t)rep.cosigs);
		if (j && rc)
			json_object_set_new(j, rep.alert ? "alert" : "error",
					    json_string(err ? err : cl_strerror(rc)));
		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
	} else if (rc == CL_OK) {
		if (!quiet || rep.segments || rep.keys_rewritten)
			printf("replicated %" PRIu64 "/%" PRIu64 " entries: %" PRIu64 " new segments (%"
			       PRIu64 " entries, %" PRIu64 " bytes, %" PRIu64 " adopted), %" PRIu64
			       " key objects rewritten after erasures, %" PRIu64 " cosignatures\n",
			       rep.remote_after, rep.local_size, rep.segments, rep.entries, rep.bytes,
			       rep.adopted, rep.keys_rewritten, rep.cosigs);
	}
	if (rc)
		fprintf(stderr, "chatledger replicate: %s%s\n", rep.alert ? "ALERT: " : "",
			err ? err : cl_strerror(rc));
	if (wrote && !json)
		fprintf(stderr, "chatledger replicate: coverage entry appended\n");
	fflush(stdout);
	cl_repl_report_release(&rep);
	free(err);
	free(err2);
	return code;
}

int cmd_replicate(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "keys-url", required_argument, NULL, 'k' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "credentials-file", required_argument, NULL, CLI_SECRET('c') },
		{ "allow-http", no_argument, NULL, 'H' },
		{ "service", no_argument, NULL, 's' },
		{ "max-segments", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_repl_args a;
	struct cl_repl_conf conf;
	struct cl_repl *r = NULL;
	unsigned long long maxseg = 0;
	char *url = NULL, *err = NULL;
	int c, service = 0, json = 0, code = EXIT_ERROR;
	int64_t until;

	memset(&a, 0, sizeof(a));
	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'u': a.url = optarg; break;
		case 'k': a.keys_url = optarg; break;
		case 'e': a.endpoint = optarg; break;
		case CLI_SECRET('c'): a.cred_file = optarg; break;
		case 'H': a.allow_http = 1; break;
		case 's': service = 1; break;
		case 'j': json = 1; break;
		case 'm':
			if (cli_u64(optarg, &maxseg) != 0)
				return cli_fail("replicate", "--max-segments: not a number");
			break;
		}
	}
	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	a.archive = ctx->archive;
	a.need_keys = 1;
	if (cl_repl_conf_load(ctx->archive, &conf, &err) != CL_OK)
		return cli_fail_rc("replicate", CL_EINVAL, err);
	if ((code = cli_repl_session("replicate", &a, &r, &url)) != EXIT_OK)
		return code;
	signal(SIGPIPE, SIG_IGN);
	if (service) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	do {
		if ((code = retain_until(ctx->archive, conf.retention_days, &until)) != EXIT_OK)
			break;
		code = run_once(ctx->archive, r, url, &conf, until, (uint64_t)maxseg, json, service);
		if (service) {
			unsigned i;

			for (i = 0; i < conf.interval_s * 10 && !stop_flag; i++) {
				struct timespec ts = { 0, 100000000 };

				nanosleep(&ts, NULL);
			}
		}
	} while (service && !stop_flag);
	if (service && stop_flag)
		code = EXIT_OK;
	cl_repl_free(r);
	free(url);
	return cli_finish_stdout(code);
}

int cli_verify_remote(const char *archive, const char *url, const char *cred_file,
		      int deep, int json)
{
	struct cli_repl_args a;
	struct cl_repl_vreport v;
	struct cl_repl *r = NULL;
	char *used = NULL, *err = NULL;
	int rc, code;

	memset(&a, 0, sizeof(a));
	a.archive = archive;
	a.url = url;
	a.cred_file = cred_file;
	if ((code = cli_repl_session("verify", &a, &r, &used)) != EXIT_OK)
		return code;
	rc = cl_repl_verify(r, archive, deep, &v, &err);
	if (rc != CL_OK && rc != CL_ECORRUPT) {
		code = cli_fail_rc("verify", rc, err);
		err = NULL;
	} else if (json) {
		json_t *j = json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				      "remote_ok", rc == CL_OK, "remote", used,
				      "segments", (json_int_t)v.segments,
				      "entries", (json_int_t)v.entries,
				      "local_size", (json_int_t)v.local_size,
				      "downloaded_bytes", (json_int_t)v.downloaded,
				      "matched_by_etag", (json_int_t)v.matched_by_etag,
				      "retention_checked", (json_int_t)v.retention_checked,
				      "keys_checked", (json_int_t)v.keys_checked,
				      "erasures_pending", (json_int_t)v.erasures_pending,
				      "cosignatures", (json_int_t)v.cosigs);
		if (j)
			json_object_set_new(j, "repeated_versions", json_integer((json_int_t)v.repeated));
		if (j && v.problem)
			json_object_set_new(j, "remote_problem", json_string(v.problem));
		if (j)
			json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		putchar('\n');
		json_decref(j);
		code = rc == CL_OK ? EXIT_OK : EXIT_TAMPERED;
	} else if (rc == CL_OK) {
		printf("remote OK: %s holds entries 0-%" PRIu64 " of %" PRIu64 " in %" PRIu64
		       " segments (%" PRIu64 " matched by ETag, %" PRIu64 " bytes downloaded);"
		       " COMPLIANCE retention on %" PRIu64 " objects; %" PRIu64 " key objects"
		       " consistent", used, v.entries, v.local_size, v.segments,
		       v.matched_by_etag, v.downloaded, v.retention_checked, v.keys_checked);
		if (v.erasures_pending)
			printf("; %" PRIu64 " erasures not yet shredded in the key store (run"
			       " replicate)", v.erasures_pending);
		if (v.repeated)
			printf("; %" PRIu64 " objects written twice with the same content (a"
			       " replicator stopped mid-write and retried)", v.repeated);
		putchar('\n');
		code = EXIT_OK;
	} else {
		printf("REMOTE TAMPERED: %s\n", v.problem ? v.problem : "?");
		code = EXIT_TAMPERED;
	}
	cl_repl_vreport_release(&v);
	cl_repl_free(r);
	free(used);
	free(err);
	return code;
}
