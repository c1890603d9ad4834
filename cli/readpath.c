/*
 * readpath.c - what the reading commands (search, show, dsar, access)
 * share: the user an access entry names, unlocking the sealing key once,
 * and the selector options.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/export/select.h"
#include "archiver/ledger/vault.h"
#include "archiver/officers/officers.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/util.h"
#include "common/banned.h"

/* The signed-in officer's name once cli_officer_auth() succeeded. */
static char who_officer[CL_OFFICER_NAME_MAX + 1];

const char *cli_who(void)
{
	const struct passwd *pw;

	if (who_officer[0])
		return who_officer;
	pw = getpwuid(geteuid());

	return pw && pw->pw_name ? pw->pw_name : "unknown";
}

int cli_officer_auth(struct cli_ctx *ctx, int action)
{
	char *err = NULL;
	int rc;

	if (!cl_officers_configured(ctx->archive)) {
		if (ctx->officer)
			return cli_fail(ctx->name, "this archive has no named officers (see"
					" `chatledger officer migrate`); drop --officer");
		return EXIT_OK;
	}
	if (ctx->off == NULL) {
		if (ctx->officer == NULL)
			return cli_fail(ctx->name, "this archive has named officers: give"
					" --officer NAME (and that officer's passphrase)");
		if (ctx->pass == NULL) {
			if (cli_passphrase(ctx->name, ctx->pass_file, 0, &ctx->pass,
					   &ctx->pass_len) != 0)
				return EXIT_ERROR;
			ctx->done |= CLI_NEEDS_PASSPHRASE;
		}
		rc = cl_officer_unlock(ctx->archive, ctx->officer, ctx->pass, ctx->pass_len,
				       &ctx->off, &err);
		cli_forget_passphrase(ctx);
		if (rc)
			return cli_fail_rc(ctx->name, rc, err);
		(void)cl_fmt(who_officer, sizeof(who_officer), "%s", ctx->off->name);
	}
	if ((rc = cl_officer_require(ctx->off, action, &err)))
		return cli_fail_rc(ctx->name, rc, err);
	return EXIT_OK;
}

json_t *cli_reason_json(const struct cli_ctx *ctx)
{
	return ctx->reason ? json_pack("{s:s}", "reason", ctx->reason) : NULL;
}

int cli_officer_note(struct cli_ctx *ctx, const char *command, uint64_t entry)
{
	json_t *pub, *sealed;
	char *err = NULL;
	int rc;

	if (ctx->off == NULL || ctx->ledger == NULL)
		return EXIT_OK;
	pub = json_pack("{s:I}", "entry", (json_int_t)entry);
	sealed = json_pack("{s:I}", "entry", (json_int_t)entry);
	if (sealed && ctx->reason)
		json_object_set_new(sealed, "reason", json_string(ctx->reason));
	rc = cl_access_record_extra(ctx->ledger, command, ctx->off->name, NULL, 0, pub, sealed,
				    NULL, &err);
	json_decref(pub);
	json_decref(sealed);
	return rc ? cli_fail_rc(ctx->name, rc, err) : EXIT_OK;
}

int cli_unlock(struct cli_ctx *ctx, unsigned char **sk)
{
	struct cl_officer_config oc;
	char *err = NULL;
	int rc;

	*sk = NULL;
	if (cl_officers_configured(ctx->archive)) {
		if ((rc = cl_officer_config_load(ctx->archive, &oc, &err)))
			return cli_fail_rc(ctx->name, rc, err);
		if (oc.require_reason && (ctx->reason == NULL || ctx->reason[0] == 0))
			return cli_fail(ctx->name, "reading content needs --reason TEXT (a case id"
					" or why; it goes in the access entry)");
		if ((rc = cli_officer_auth(ctx, CL_ACT_CONTENT)) != EXIT_OK)
			return rc;
		if ((*sk = sodium_malloc(32)) == NULL)
			return cli_fail(ctx->name, "out of memory");
		memcpy(*sk, ctx->off->seal_sk, 32);
		return EXIT_OK;
	}
	if (ctx->officer)
		return cli_officer_auth(ctx, CL_ACT_CONTENT);
	if ((rc = cli_setup(ctx, CLI_NEEDS_PASSPHRASE)) != EXIT_OK)
		return rc;
	rc = cl_vault_unlock_seal(ctx->archive, ctx->pass, ctx->pass_len, sk, &err);
	cli_forget_passphrase(ctx);
	if (rc)
		return cli_fail_rc(ctx->name, rc, err);
	return EXIT_OK;
}

int cli_time_end(const char *s, int64_t *ms)
{
	if (cli_time(s, ms))
		return -1;
	/* a bare date ends at the end of that day (UTC) */
	if (strlen(s) == 10)
		*ms += 86400000 - 1;
	return 0;
}

void cli_sel_init(struct cli_sel *s)
{
	memset(s, 0, sizeof(*s));
	cl_select_query_init(&s->q);
}

int cli_sel_option(struct cli_sel *s, const char *cmd, int c, const char *arg)
{
	const char **list;
	size_t *n;

	switch (c) {
	case CLI_SEL_PARTY: list = s->parties; n = &s->q.n_parties; break;
	case CLI_SEL_CONV: list = s->convs; n = &s->q.n_conversations; break;
	case CLI_SEL_KIND: list = s->kinds; n = &s->q.n_kinds; break;
	case CLI_SEL_LABEL: list = s->labels; n = &s->q.n_labels; break;
	case CLI_SEL_FROM:
		if (cli_time(arg, &s->q.from))
			return cli_fail(cmd, "--from must be a date or RFC 3339 time");
		return EXIT_OK;
	case CLI_SEL_TO:
		if (cli_time_end(arg, &s->q.to))
			return cli_fail(cmd, "--to must be a date or RFC 3339 time");
		return EXIT_OK;
	case CLI_SEL_TEXT:
		if (s->q.text)
			return cli_fail(cmd, "--text given twice (put all words in one)");
		s->q.text = arg;
		return EXIT_OK;
	default:
		return cli_fail(cmd, "unknown selector");
	}
	if (*n == CLI_SEL_MAX)
		return cli_fail(cmd, "at most %d of each selector", CLI_SEL_MAX);
	if (*arg == 0)
		return cli_fail(cmd, "an empty selector");
	list[(*n)++] = arg;
	s->q.parties = s->parties;
	s->q.conversations = s->convs;
	s->q.kinds = s->kinds;
	s->q.labels = s->labels;
	return EXIT_OK;
}
