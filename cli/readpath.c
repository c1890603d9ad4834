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

#include "archiver/ledger/vault.h"
#include "cli/cli.h"
#include "cli/readpath.h"
#include "common/util.h"
#include "common/banned.h"

const char *cli_who(void)
{
	const struct passwd *pw = getpwuid(geteuid());

	return pw && pw->pw_name ? pw->pw_name : "unknown";
}

int cli_unlock(struct cli_ctx *ctx, unsigned char **sk)
{
	char *err = NULL;
	int rc;

	*sk = NULL;
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
