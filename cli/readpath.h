/*
 * readpath.h - helpers shared by the reading commands (cli/readpath.c).
 */
#ifndef CL_CLI_READPATH_H
#define CL_CLI_READPATH_H

#include <stdint.h>

#include <jansson.h>

#include "archiver/export/select.h"
#include "cli/cli.h"

/* The user an access entry names: the effective user's login name. */
const char *cli_who(void);

/* Read the passphrase, unlock the sealing key once (*sk: sodium_malloc'd,
 * sodium_free it) and wipe the passphrase.  EXIT_OK or an exit status
 * after printing the error. */
int cli_unlock(struct cli_ctx *ctx, unsigned char **sk);

/*
 * issue 15.  With named officers configured (officers.h): unlock
 * ctx->officer (--officer NAME) with their passphrase once and check that
 * the role may do `action` (CL_ACT_*); cli_who() then names the officer.
 * Without officers: EXIT_OK (the single-passphrase archive), unless
 * --officer was given.  cli_unlock() does this for content, and also
 * requires --reason unless [officers] require_reason = no.
 */
int cli_officer_auth(struct cli_ctx *ctx, int action);
/* {"reason": --reason} for an access entry's sealed part, or NULL. */
json_t *cli_reason_json(const struct cli_ctx *ctx);
/* After an officer's change (hold, label, link, event) at ledger index
 * `entry`: an access entry naming the officer (nothing without officers). */
int cli_officer_note(struct cli_ctx *ctx, const char *command, uint64_t entry);

/* cli_time, but a bare YYYY-MM-DD means the end of that day (UTC). */
int cli_time_end(const char *s, int64_t *ms);

/* The selector options of search, dsar (and export): their option vals. */
#define CLI_SEL_PARTY 0x1001
#define CLI_SEL_CONV  0x1002
#define CLI_SEL_KIND  0x1003
#define CLI_SEL_LABEL 0x1004
#define CLI_SEL_FROM  0x1005
#define CLI_SEL_TO    0x1006
#define CLI_SEL_TEXT  0x1007
#define CLI_SEL_OPTIONS \
	{ "party", required_argument, NULL, CLI_SEL_PARTY }, \
	{ "conversation", required_argument, NULL, CLI_SEL_CONV }, \
	{ "kind", required_argument, NULL, CLI_SEL_KIND }, \
	{ "label", required_argument, NULL, CLI_SEL_LABEL }, \
	{ "from", required_argument, NULL, CLI_SEL_FROM }, \
	{ "to", required_argument, NULL, CLI_SEL_TO }, \
	{ "text", required_argument, NULL, CLI_SEL_TEXT }

#define CLI_SEL_MAX 256
struct cli_sel {
	struct cl_select_query q;
	const char *parties[CLI_SEL_MAX], *convs[CLI_SEL_MAX];
	const char *kinds[CLI_SEL_MAX], *labels[CLI_SEL_MAX];
};
void cli_sel_init(struct cli_sel *s);
/* Take one selector option (c: its val); EXIT_OK or EXIT_ERROR after a
 * message. */
int cli_sel_option(struct cli_sel *s, const char *cmd, int c, const char *arg);

#endif
