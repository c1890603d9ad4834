/*
 * cmd_officer.c - chatledger officer migrate|add|remove|passwd|list: named
 * officers with their own passphrases and roles (archiver/officers/
 * officers.h, docs/man/chatledger-officer.1).
 *
 * Passphrases come from files (--passphrase-file for the acting officer,
 * --new-passphrase-file for the new one) or the terminal, never argv.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/vault.h"
#include "archiver/officers/officers.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define O_NAME 'n'
#define O_ROLE 'r'
#define O_KDF 'k'
#define O_NEWPASS CLI_SECRET('N')
#define O_JSON 'j'

struct oargs {
	const char *name, *role, *newpass_file;
	int kdf;
	int json;
};

static int parse_kdf(const char *s, int *kdf)
{
	if (strcmp(s, "interactive") == 0)
		*kdf = CL_KDF_INTERACTIVE;
	else if (strcmp(s, "moderate") == 0)
		*kdf = CL_KDF_MODERATE;
	else if (strcmp(s, "sensitive") == 0)
		*kdf = CL_KDF_SENSITIVE;
	else
		return -1;
	return 0;
}

/* The option loop shared by the subcommands; returns what cli_getopt
 * returned last, or CLI_OPTS_EXIT after an error (ctx->code set). */
static int read_opts(struct cli_ctx *ctx, int argc, char **argv, struct oargs *a)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, O_NAME },
		{ "role", required_argument, NULL, O_ROLE },
		{ "kdf", required_argument, NULL, O_KDF },
		{ "new-passphrase-file", required_argument, NULL, O_NEWPASS },
		{ "json", no_argument, NULL, O_JSON },
		{ NULL, 0, NULL, 0 }
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->kdf = CL_KDF_MODERATE;
	while ((c = cli_getopt(ctx, argc, argv, opts)) >= 0) {
		switch (c) {
		case O_NAME: a->name = optarg; break;
		case O_ROLE: a->role = optarg; break;
		case O_NEWPASS: a->newpass_file = optarg; break;
		case O_JSON: a->json = 1; break;
		case O_KDF:
			if (parse_kdf(optarg, &a->kdf) == 0)
				break;
			ctx->code = cli_fail(ctx->name, "--kdf is interactive, moderate or sensitive");
			return CLI_OPTS_EXIT;
		default:
			ctx->code = cli_usage_error(ctx);
			return CLI_OPTS_EXIT;
		}
	}
	return c;
}

/* Read the new officer's passphrase (confirmed on a terminal). */
static int new_pass(struct cli_ctx *ctx, const struct oargs *a, unsigned char **p, size_t *n)
{
	if (a->newpass_file == NULL && ctx->pass_file != NULL)
		return cli_fail(ctx->name, "give the new passphrase with --new-passphrase-file"
				" (--passphrase-file is the acting officer's)");
	return cli_passphrase(ctx->name, a->newpass_file, 1, p, n) ? EXIT_ERROR : EXIT_OK;
}

static int officer_migrate(int argc, char **argv, struct cli_ctx *ctx)
{
	struct oargs a;
	char *err = NULL;
	int c = read_opts(ctx, argc, argv, &a), rc;

	if (!cli_ready(ctx, c, a.name != NULL, 0))
		return ctx->code;
	if (cli_passphrase(ctx->name, ctx->pass_file, 0, &ctx->pass, &ctx->pass_len) != 0)
		return EXIT_ERROR;
	rc = cl_officer_migrate(ctx->archive, a.name, ctx->pass, ctx->pass_len, a.kdf, &err);
	cli_forget_passphrase(ctx);
	if (rc)
		return cli_fail_rc(ctx->name, rc, err);
	printf("officer '%s' (admin) now holds the archive's key under the old passphrase;"
	       " seal.key is destroyed\n", a.name);
	return EXIT_OK;
}

static int officer_add(int argc, char **argv, struct cli_ctx *ctx)
{
	struct oargs a;
	unsigned char *np = NULL;
	size_t nn = 0;
	char *err = NULL;
	int c = read_opts(ctx, argc, argv, &a), rc, role;

	if (!cli_ready(ctx, c, a.name != NULL && a.role != NULL, 0))
		return ctx->code;
	if ((role = cl_officer_role_parse(a.role)) == 0)
		return cli_fail(ctx->name, "--role is auditor, officer or admin");
	if (!cl_officers_configured(ctx->archive))
		return cli_fail(ctx->name, "this archive has no named officers yet: first"
				" `chatledger officer migrate --name NAME` (the holder of the"
				" archive passphrase becomes the first admin)");
	if ((rc = cli_officer_auth(ctx, CL_ACT_ADMIN)) != EXIT_OK)
		return rc;
	if ((rc = new_pass(ctx, &a, &np, &nn)) != EXIT_OK)
		return rc;
	rc = cl_officer_add(ctx->archive, ctx->off, a.name, role, np, nn, a.kdf, &err);
	sodium_free(np);
	if (rc)
		return cli_fail_rc(ctx->name, rc, err);
	printf("officer '%s' added as %s by '%s'\n", a.name, a.role, ctx->off->name);
	return EXIT_OK;
}

static int officer_remove(int argc, char **argv, struct cli_ctx *ctx)
{
	struct oargs a;
	char *err = NULL;
	int c = read_opts(ctx, argc, argv, &a), rc;

	if (!cli_ready(ctx, c, a.name != NULL, 0))
		return ctx->code;
	if ((rc = cli_officer_auth(ctx, CL_ACT_ADMIN)) != EXIT_OK)
		return rc;
	if (!cl_officers_configured(ctx->archive))
		return cli_fail(ctx->name, "this archive has no named officers");
	if ((rc = cl_officer_remove(ctx->archive, ctx->off, a.name, &err)))
		return cli_fail_rc(ctx->name, rc, err);
	printf("officer '%s' removed by '%s': their copy of the key is destroyed; their"
	       " past accesses stay in the ledger\n", a.name, ctx->off->name);
	return EXIT_OK;
}

static int officer_passwd(int argc, char **argv, struct cli_ctx *ctx)
{
	struct oargs a;
	unsigned char *np = NULL;
	size_t nn = 0;
	char *err = NULL;
	int c = read_opts(ctx, argc, argv, &a), rc;

	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if (!cl_officers_configured(ctx->archive))
		return cli_fail(ctx->name, "this archive has no named officers");
	if ((rc = cli_officer_auth(ctx, CL_ACT_STATUS)) != EXIT_OK)
		return rc;
	if ((rc = new_pass(ctx, &a, &np, &nn)) != EXIT_OK)
		return rc;
	rc = cl_officer_passwd(ctx->archive, ctx->off, np, nn, a.kdf, &err);
	sodium_free(np);
	if (rc)
		return cli_fail_rc(ctx->name, rc, err);
	printf("officer '%s': passphrase changed\n", ctx->off->name);
	return EXIT_OK;
}

static int print_one(void *ctx, const struct cl_officer_info *i)
{
	const int *json = ctx;
	char when[32];

	cl_time_format(i->created, when);
	if (*json)
		printf("{\"name\":\"%s\",\"role\":\"%s\",\"created\":\"%s\",\"holds_key\":%s}\n",
		       i->name, cl_officer_role_name(i->role), when,
		       i->holds_key ? "true" : "false");
	else
		printf("%-32s %-8s %s%s\n", i->name, cl_officer_role_name(i->role), when,
		       i->holds_key ? "" : "  (no key: cannot read content)");
	return CL_OK;
}

static int officer_list(int argc, char **argv, struct cli_ctx *ctx)
{
	struct oargs a;
	char *err = NULL;
	int c = read_opts(ctx, argc, argv, &a), rc;

	if (!cli_ready(ctx, c, 1, 0))
		return ctx->code;
	if (!cl_officers_configured(ctx->archive)) {
		if (!a.json)
			printf("no named officers: the archive passphrase (seal.key) unlocks"
			       " content; see `chatledger officer migrate`\n");
		return EXIT_OK;
	}
	if ((rc = cl_officer_each(ctx->archive, print_one, &a.json, &err)))
		return cli_fail_rc(ctx->name, rc, err);
	return EXIT_OK;
}

int cmd_officer(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct cli_sub subs[] = {
		{ "migrate", officer_migrate, CLI_NEEDS_PASSPHRASE },
		{ "add", officer_add, CLI_OFFICER },
		{ "remove", officer_remove, CLI_OFFICER },
		{ "passwd", officer_passwd, CLI_OFFICER },
		{ "list", officer_list, 0 },
		{ NULL, NULL, 0 }
	};

	return cli_subcommand(ctx, argc, argv, subs);
}
