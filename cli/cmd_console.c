/*
 * cmd_console.c - chatledger console: the officers' web console
 * (archiver/console/console.h, docs/man/chatledger-console.1).
 *
 * Runs until SIGTERM or SIGINT; then every session's key is wiped.  The
 * TLS key is read from a file into guarded memory, never from argv.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/console/console.h"
#include "archiver/officers/officers.h"
#include "cli/cli.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define O_LISTEN 'l'
#define O_CERT 'c'
#define O_KEY CLI_SECRET('k')
#define O_LANG 'L'
#define O_JSON 'j'

/* Read a PEM file into a NUL-terminated sodium_malloc'd string. */
static int read_pem(const char *path, const char *what, char **out)
{
	struct cl_buf b;
	char *err = NULL, *p;
	int rc;

	*out = NULL;
	cl_buf_init(&b, 1u << 20);
	rc = cl_file_read(path, &b, 1u << 20, &err);
	if (rc) {
		free(err);
		cl_buf_release(&b);
		return cli_fail("console", "cannot read the file given to %s", what);
	}
	if ((p = sodium_malloc(b.len + 1)) == NULL) {
		sodium_memzero(b.data, b.alloc);
		cl_buf_release(&b);
		return cli_fail("console", "out of memory");
	}
	memcpy(p, b.data, b.len);
	p[b.len] = 0;
	sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	*out = p;
	return EXIT_OK;
}

int cmd_console(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "tls-cert", required_argument, NULL, O_CERT },
		{ "tls-key-file", required_argument, NULL, O_KEY },
		{ "lang", required_argument, NULL, O_LANG },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 }
	};
	const char *listen = NULL, *cert_file = NULL, *key_file = NULL;
	struct cl_console_opts o;
	struct cl_console *con = NULL;
	char *cert = NULL, *key = NULL, *err = NULL;
	sigset_t sigs;
	int c, rc, code = EXIT_OK, json = 0, sig = 0;

	memset(&o, 0, sizeof(o));
	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0) {
		switch (c) {
		case O_LISTEN: listen = optarg; break;
		case O_CERT: cert_file = optarg; break;
		case O_KEY: key_file = optarg; break;
		case O_JSON: json = 1; break;
		case O_LANG:
			if (strcmp(optarg, "en") == 0)
				o.lang = 0;
			else if (strcmp(optarg, "zh-Hant") == 0 || strcmp(optarg, "zh") == 0)
				o.lang = 1;
			else
				return cli_fail("console", "--lang is en or zh-Hant");
			break;
		default:
			return cli_usage_error(ctx);
		}
	}
	if (!cli_ready(ctx, c, listen != NULL && (cert_file == NULL) == (key_file == NULL), 0))
		return ctx->code;
	if (!cl_officers_configured(ctx->archive))
		return cli_fail("console", "the console signs in named officers, and this archive"
				" has none: run `chatledger officer migrate` first");
	if ((rc = cl_officer_config_load(ctx->archive, &o.cfg, &err)))
		return cli_fail_rc("console", rc, err);
	if (cert_file && ((code = read_pem(cert_file, "--tls-cert", &cert)) != EXIT_OK ||
			  (code = read_pem(key_file, "--tls-key-file", &key)) != EXIT_OK))
		goto out;
	ctx->flags |= CLI_NEEDS_WRITER;
	if ((code = cli_setup(ctx, CLI_SETUP_ALL)) != EXIT_OK)
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	o.dir = ctx->archive;
	o.listen = listen;
	o.tls_cert = cert;
	o.tls_key = key;
	if ((rc = cl_console_start(ctx->ledger, &o, &con, &err))) {
		code = cli_fail_rc("console", rc, err);
		goto out;
	}
	fprintf(stderr, "chatledger console: listening on %s%s, archive %s\n",
		cert ? "https://" : "http://", cl_console_address(con), ctx->archive);
	if (json) {
		printf("{\"event\":\"listening\",\"address\":\"%s\"}\n", cl_console_address(con));
		fflush(stdout);
	}
	while (sigwait(&sigs, &sig) != 0)
		;
	fprintf(stderr, "chatledger console: %s: stopping; sessions wiped\n",
		sig == SIGTERM ? "SIGTERM" : "SIGINT");
	cl_console_stop(con);
out:
	sodium_free(cert);
	sodium_free(key);
	return code;
}
