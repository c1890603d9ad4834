/*
 * cmd_webhook.c - chatledger webhook: the WhatsApp Business Platform
 * (Cloud API) webhook receiver (archiver/sources/webhook.h) as a daemon.
 *
 * Runs until SIGTERM or SIGINT, then stops accepting, lets requests in
 * progress finish, commits what was accepted, closes the archive and
 * exits 0.  One line per request goes to standard error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/config/config.h"
#include "archiver/ingest/record.h"
#include "archiver/ledger/ledger.h"
#include "archiver/sources/webhook.h"
#include "cli/cli.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SECRET_MAX 4096u
#define MAX_BODY_LIMIT (16u << 20)
#define MAX_BODY_MIN 1024u

/*
 * Read a secret from `path` (given to --`opt`) into sodium_malloc'd memory:
 * the file's bytes without trailing CR/LF; a second line or an empty
 * secret is an error.  Warns when group or others may read or write the
 * file.  Messages name the option, never the path: a secret typed where
 * the path belongs must not reach a log.  0 on success.
 */
static int read_secret(const char *what, const char *opt, const char *path,
		       unsigned char **out, size_t *len)
{
	unsigned char *p = sodium_malloc(SECRET_MAX + 1);
	struct stat st;
	size_t n = 0;
	ssize_t got;
	int fd = -1, rc = -1;

	*out = NULL;
	if (p == NULL)
		return cli_fail("webhook", "out of memory"), -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_fail("webhook", "cannot open the %s file given to --%s: %s", what, opt,
			 strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		cli_fail("webhook", "the %s file given to --%s is not a regular file", what, opt);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		fprintf(stderr, "chatledger webhook: warning: the %s file given to --%s is "
			"accessible by group or others (mode %03o); chmod 600 it\n", what, opt,
			(unsigned)(st.st_mode & 0777));
	while ((got = read(fd, p + n, SECRET_MAX + 1 - n)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			cli_fail("webhook", "cannot read the %s file given to --%s: %s", what, opt,
				 strerror(errno));
			goto out;
		}
		n += (size_t)got;
		if (n > SECRET_MAX) {
			cli_fail("webhook", "the %s file given to --%s is longer than %u bytes",
				 what, opt, SECRET_MAX);
			goto out;
		}
	}
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0) {
		cli_fail("webhook", "the %s file given to --%s is empty", what, opt);
		goto out;
	}
	if (memchr(p, '\n', n) != NULL || memchr(p, '\r', n) != NULL) {
		cli_fail("webhook", "the %s file given to --%s holds more than one line", what,
			 opt);
		goto out;
	}
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

/* One JSON event line on stdout, in the keys' given order; takes `j`. */
static void print_json(json_t *j)
{
	if (j != NULL)
		json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

/*
 * Make room for `conns` connections: raise the soft limit on open files
 * towards the hard limit (the server needs one descriptor per connection,
 * plus the archive's and a margin).  Warns when it cannot.
 */
static void raise_nofile(unsigned long long conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conns + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want
		: rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		fprintf(stderr, "chatledger webhook: warning: at most %llu open files "
			"(ulimit -n); fewer than --max-connections %llu can be served\n",
			(unsigned long long)rl.rlim_cur, conns);
}

static void on_request(void *ctx, const struct cl_webhook_request *r)
{
	char when[32];

	(void)ctx;
	cl_time_format(cl_time_now_ms(), when);
	/* One fprintf: stdio locks stderr, so lines never interleave. */
	fprintf(stderr, "chatledger webhook: %s %s %s %u records=%llu duplicates=%llu "
		"quarantined=%llu bytes=%zu ms=%u%s%s\n", when, r->method, r->path,
		r->status, (unsigned long long)r->records,
		(unsigned long long)r->duplicates, (unsigned long long)r->quarantined,
		r->body_len, r->ms, *r->reason ? " " : "", r->reason);
}

static void on_media(void *ctx, const char *msg)
{
	char when[32];

	(void)ctx;
	cl_time_format(cl_time_now_ms(), when);
	fprintf(stderr, "chatledger webhook: %s %s\n", when, msg);
}

static void on_error(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "chatledger webhook: archive error, answering 500: %s\n", msg);
}

int cmd_webhook(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "app-secret-file", required_argument, NULL, CLI_SECRET('s') },
		{ "verify-token-file", required_argument, NULL, CLI_SECRET('t') },
		{ "max-body", required_argument, NULL, 'm' },
		{ "media-url", required_argument, NULL, 'M' },
		{ "access-token-file", required_argument, NULL, CLI_SECRET('T') },
		{ "media-retry-base", required_argument, NULL, 'R' },
		{ "max-connections", required_argument, NULL, 'C' },
		{ "max-connections-per-address", required_argument, NULL, 'P' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen = NULL, *secret_file = NULL,
		*token_file = NULL, *media_url = NULL, *access_file = NULL;
	unsigned long long max_body = CL_WEBHOOK_MAX_BODY_DEFAULT,
		retry_base = CL_WEBHOOK_MEDIA_RETRY_DEFAULT,
		conns = CL_WEBHOOK_CONNECTIONS_DEFAULT,
		per_address = CL_WEBHOOK_PER_ADDRESS_DEFAULT,
		header_timeout = CL_WEBHOOK_HEADER_TIMEOUT_DEFAULT;
	int per_given = 0;
	unsigned char *secret = NULL, *token = NULL, *access = NULL;
	size_t secret_len = 0, token_len = 0, access_len = 0;
	struct cl_webhook_opts o;
	struct cl_record_opts classify;
	struct cl_config *conf = NULL;
	struct cl_webhook_stats st;
	struct cl_webhook *w = NULL;
	sigset_t sigs;
	char *err = NULL;
	int c, rc, sig = 0, json = 0, code = EXIT_ERROR;

	while ((c = cli_getopt(ctx, argc, argv, opts)) > 0) {
		switch (c) {
		case 'l': listen = optarg; break;
		case CLI_SECRET('s'): secret_file = optarg; break;
		case CLI_SECRET('t'): token_file = optarg; break;
		case 'm':
			if (cli_u64(optarg, &max_body) != 0 || max_body < MAX_BODY_MIN ||
			    max_body > MAX_BODY_LIMIT)
				return cli_fail("webhook", "--max-body must be %u..%u bytes",
						MAX_BODY_MIN, MAX_BODY_LIMIT);
			break;
		case 'M': media_url = optarg; break;
		case CLI_SECRET('T'): access_file = optarg; break;
		case 'R':
			if (cli_u64(optarg, &retry_base) != 0 || retry_base < 1 ||
			    retry_base > 3600)
				return cli_fail("webhook", "--media-retry-base must be 1..3600 seconds");
			break;
		case 'C':
			if (cli_u64(optarg, &conns) != 0 || conns < 1 ||
			    conns > CL_WEBHOOK_CONNECTIONS_MAX)
				return cli_fail("webhook", "--max-connections must be 1..%u",
						CL_WEBHOOK_CONNECTIONS_MAX);
			break;
		case 'P':
			if (cli_u64(optarg, &per_address) != 0 || per_address < 1 ||
			    per_address > CL_WEBHOOK_CONNECTIONS_MAX)
				return cli_fail("webhook", "--max-connections-per-address "
						"must be 1..%u", CL_WEBHOOK_CONNECTIONS_MAX);
			per_given = 1;
			break;
		case 'H':
			if (cli_u64(optarg, &header_timeout) != 0 || header_timeout < 1 ||
			    header_timeout > CL_WEBHOOK_HEADER_TIMEOUT_MAX)
				return cli_fail("webhook", "--header-timeout must be 1..%u seconds",
						CL_WEBHOOK_HEADER_TIMEOUT_MAX);
			break;
		case 'j': json = 1; break;
		}
	}
	if (!cli_ready(ctx, c, listen != NULL && secret_file != NULL && token_file != NULL, 0))
		return ctx->code;
	if (media_url != NULL && access_file == NULL)
		return cli_fail("webhook", "--media-url needs --access-token-file");
	if (per_given && per_address > conns)
		return cli_fail("webhook", "--max-connections-per-address must not exceed "
				"--max-connections (%llu)", conns);
	if (per_address > conns)
		per_address = conns;
	if (read_secret("app secret", "app-secret-file", secret_file, &secret,
			&secret_len) != 0 ||
	    read_secret("verify token", "verify-token-file", token_file, &token,
			&token_len) != 0 ||
	    (access_file != NULL &&
	     read_secret("access token", "access-token-file", access_file, &access,
			 &access_len) != 0))
		goto out;
	if ((rc = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK) {
		code = rc;
		goto out;
	}
	/* Every thread started from here on inherits this mask, so only
	 * sigwait() below sees SIGTERM and SIGINT. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&o, 0, sizeof(o));
	o.listen = listen;
	o.app_secret = secret;
	o.app_secret_len = secret_len;
	o.verify_token = token;
	o.verify_token_len = token_len;
	o.max_body = (size_t)max_body;
	o.max_connections = (unsigned)conns;
	o.max_per_address = (unsigned)per_address;
	o.header_timeout_s = (unsigned)header_timeout;
	raise_nofile(conns);
	o.on_request = on_request;
	o.on_error = on_error;
	o.access_token = access;
	o.access_token_len = access_len;
	o.media_url = media_url;
	o.media_retry_base = (unsigned)retry_base;
	o.on_media = on_media;
	/* [labels] of chatledger.conf classify what arrives, as in ingest. */
	conf = calloc(1, sizeof(*conf));
	if (conf == NULL || (rc = cl_config_load(ctx->archive, conf, &err)) != CL_OK) {
		code = conf ? cli_fail_rc("webhook", rc, err) : cli_fail("webhook", "out of memory");
		goto out;
	}
	memset(&classify, 0, sizeof(classify));
	classify.account_labels = cl_config_account_labels;
	classify.ctx = conf;
	o.classify = &classify;
	rc = cl_webhook_start(ctx->ledger, &o, &w, &err);
	/* The server keeps only keyed states derived from the secrets, and
	 * its own guarded copy of the access token. */
	sodium_free(secret);
	sodium_free(token);
	sodium_free(access);
	secret = token = access = NULL;
	if (rc) {
		code = cli_fail_rc("webhook", rc, err);
		goto out;
	}
	fprintf(stderr, "chatledger webhook: listening on %s, archive %s\n",
		cl_webhook_address(w), ctx->archive);
	if (access_file)
		fprintf(stderr, "chatledger webhook: media download from %s, retry base %llu s\n",
			media_url ? media_url : CL_WEBHOOK_MEDIA_URL_DEFAULT, retry_base);
	if (json) {
		print_json(json_pack("{s:s, s:s}", "event", "listening",
				     "address", cl_webhook_address(w)));
		fflush(stdout);
	}
	while (sigwait(&sigs, &sig) != 0)
		;
	fprintf(stderr, "chatledger webhook: %s: stopping\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT");
	cl_webhook_stop(w, &st);
	w = NULL;
	cli_close(ctx);
	if (json)
		/* "refused" as in `wechat serve`; "rejected" (the same
		 * count) stays for monitors written against older releases. */
		print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				     "event", "stopped",
				     "requests", (json_int_t)st.requests,
				     "accepted", (json_int_t)st.accepted,
				     "refused", (json_int_t)st.rejected,
				     "rejected", (json_int_t)st.rejected,
				     "failed", (json_int_t)st.failed,
				     "dropped", (json_int_t)st.dropped,
				     "records", (json_int_t)st.records,
				     "duplicates", (json_int_t)st.duplicates,
				     "quarantined", (json_int_t)st.quarantined,
				     "commits", (json_int_t)st.commits,
				     "media_stored", (json_int_t)st.media_stored,
				     "media_failed", (json_int_t)st.media_failed,
				     "media_abandoned", (json_int_t)st.media_abandoned,
				     "cut_off", (json_int_t)st.cut_off));
	else
		printf("%llu request%s (%llu stored, %llu refused, %llu failed, %llu dropped): "
		       "%llu record%s, %llu duplicate%s skipped, %llu quarantined, "
		       "%llu commit%s; media: %llu stored, %llu failed attempt%s, "
		       "%llu abandoned\n",
		       (unsigned long long)st.requests, CL_S(st.requests),
		       (unsigned long long)st.accepted,
		       (unsigned long long)st.rejected, (unsigned long long)st.failed,
		       (unsigned long long)st.dropped,
		       (unsigned long long)st.records, CL_S(st.records),
		       (unsigned long long)st.duplicates, CL_S(st.duplicates),
		       (unsigned long long)st.quarantined,
		       (unsigned long long)st.commits, CL_S(st.commits),
		       (unsigned long long)st.media_stored, (unsigned long long)st.media_failed,
		       CL_S(st.media_failed), (unsigned long long)st.media_abandoned);
	code = EXIT_OK;
out:
	cl_webhook_stop(w, NULL);
	free(conf);
	sodium_free(secret);
	sodium_free(token);
	sodium_free(access);
	return code;
}
