/*
 * officers.h - named officers: each has a name, a role and a passphrase of
 * their own; the archive's sealing secret is wrapped separately for each
 * officer who may read content (docs/FORMAT.md §6.6, SECURITY.md).
 *
 *   DIR/officers/NAME.officer   one file per officer, 0600, in a 0700
 *                               directory; created exclusively.
 *
 * Removing an officer overwrites and unlinks their file: their wrapped copy
 * of the secret is gone and nothing else is re-encrypted.  An auditor's file
 * wraps no key at all (32 zero bytes), so an auditor cannot open content
 * whatever the code above this library does.  The name, role and KDF
 * limits are the AEAD's associated data: editing the role in the file
 * makes it fail to open.
 *
 * Before any officer exists the archive has the single passphrase-protected
 * seal.key (vault.h); cl_officer_migrate() turns its holder into a named
 * admin and destroys seal.key.
 *
 * Sessions hold the unlocked secret in sodium_malloc() memory;
 * cl_officer_session_free() wipes it.
 */
#ifndef CL_OFFICERS_H
#define CL_OFFICERS_H

#include <stddef.h>
#include <stdint.h>

#define CL_OFFICER_NAME_MAX 32

enum cl_officer_role {
	CL_ROLE_AUDITOR = 1,  /* verification, coverage, counts; no content */
	CL_ROLE_OFFICER = 2,  /* content, holds, exports */
	CL_ROLE_ADMIN = 3     /* all of the above, and the officers */
};

/* What a role may do (cl_officer_allows). */
enum cl_officer_action {
	CL_ACT_STATUS = 1,    /* verification, coverage, counts, access log */
	CL_ACT_CONTENT = 2,   /* reveal message content (show, search, export, dsar) */
	CL_ACT_CHANGE = 3,    /* holds, labels, party links, events */
	CL_ACT_ADMIN = 4      /* add, remove officers */
};

/* An unlocked officer. */
struct cl_officer {
	char name[CL_OFFICER_NAME_MAX + 1];
	int role;                 /* enum cl_officer_role */
	unsigned char *seal_sk;   /* sodium_malloc'd 32 bytes; NULL for an auditor */
};

/* "auditor", "officer", "admin"; NULL for anything else. */
const char *cl_officer_role_name(int role);
/* The role named `s`, or 0. */
int cl_officer_role_parse(const char *s);
/* 1 if `role` may do `action`, else 0. */
int cl_officer_allows(int role, int action);
/* CL_OK, or CL_EINVAL naming the rule: 1-32 of [a-z0-9._-], starting with a
 * letter or digit. */
int cl_officer_name_check(const char *name, char **err);

/* 1 if DIR/officers holds at least one officer file, else 0. */
int cl_officers_configured(const char *dir);

/*
 * Unlock officer `name` with their passphrase: *out gets a new session
 * (free with cl_officer_session_free).  CL_ENOTFOUND for an unknown (or
 * removed) officer, CL_EKEY for a wrong passphrase or an edited file.
 * For a non-auditor the unwrapped secret is checked against seal.pub.
 */
int cl_officer_unlock(const char *dir, const char *name, const unsigned char *pass,
		      size_t passlen, struct cl_officer **out, char **err);
/* Wipe the secret and free the session (NULL is fine). */
void cl_officer_session_free(struct cl_officer *o);
/* CL_OK if `o` may do `action`, else CL_EKEY with a message naming the role. */
int cl_officer_require(const struct cl_officer *o, int action, char **err);

/*
 * Add officer `name` with `role` and passphrase `pass`; `by` must be an
 * unlocked admin (the secret it holds is what gets wrapped).  kdf:
 * CL_KDF_* (vault.h).  CL_EEXIST if the name is taken.
 */
int cl_officer_add(const char *dir, const struct cl_officer *by, const char *name,
		   int role, const unsigned char *pass, size_t passlen, int kdf,
		   char **err);

/*
 * Remove officer `name` (by an unlocked admin): the file is overwritten,
 * synced and unlinked.  Refused (CL_EINVAL) when it would leave no admin.
 */
int cl_officer_remove(const char *dir, const struct cl_officer *by, const char *name,
		      char **err);

/* Re-wrap `o`'s own file under a new passphrase (atomic replace). */
int cl_officer_passwd(const char *dir, const struct cl_officer *o,
		      const unsigned char *pass, size_t passlen, int kdf, char **err);

/*
 * First step on an archive without officers: unlock seal.key with `pass`,
 * write officer `name` as admin under the same passphrase, check that it
 * unlocks, then destroy seal.key.  CL_EEXIST if officers already exist.
 */
int cl_officer_migrate(const char *dir, const char *name, const unsigned char *pass,
		       size_t passlen, int kdf, char **err);

struct cl_officer_info {
	const char *name;
	int role;
	int64_t created;   /* ms UTC */
	int holds_key;     /* 1 if the file wraps the sealing secret */
};
typedef int (*cl_officer_fn)(void *ctx, const struct cl_officer_info *i);
/* Every officer, by name.  No passphrase needed. */
int cl_officer_each(const char *dir, cl_officer_fn fn, void *ctx, char **err);


/* ---- configuration: [officers] and [console] of DIR/chatledger.conf --- */

struct cl_officer_config {
	int require_reason;        /* [officers] require_reason = yes|no (yes) */
	unsigned idle_s;           /* [console] idle_timeout seconds (900) */
	unsigned absolute_s;       /* [console] absolute_timeout seconds (28800) */
	unsigned login_attempts;   /* [console] login_attempts per minute per name
	                              and per address (5) */
	unsigned max_sessions;     /* [console] max_sessions (64) */
};
/* Load the keys above (defaults when absent or without a config file);
 * CL_EINVAL "file:line: reason" for a bad value or unknown key in those
 * sections. */
int cl_officer_config_load(const char *dir, struct cl_officer_config *c, char **err);

#endif
