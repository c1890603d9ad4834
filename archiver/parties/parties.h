/*
 * parties.h - one customer, one identity: the identifiers a party is
 * known by across sources, the links between them, and the conversations
 * a party takes part in.
 *
 * Records carry every identifier of theirs as a keyed selector attribute
 * "party=<canonical identifier>" (ident.h; FORMAT.md §4 entry.attrs).
 * Identifiers that one source cannot know belong together (an export's
 * display name and the customer's phone number; an openid and an
 * external_userid) are joined by link entries: control entries of kind
 * "party-link" / "party-unlink", appended by an officer (`chatledger party
 * link|unlink`) or by a source that learnt the link from its platform
 * (origin "source:NAME").  A later unlink reverses a link; nothing is
 * ever rewritten.  Their public bodies hold only keyed hashes; the clear
 * identifiers are sealed.
 *
 * Resolution happens when a selector is used, not when a hold or event is
 * recorded: a hold placed before a link is made covers what the link
 * later reveals.  A selector names a party by any identifier in any form;
 * it stands for the closure of its candidate identifiers over the active
 * links, and covers every conversation in which any of those identifiers
 * appears, in both directions, from every source.
 *
 * A token is one 64-bit selector attribute hash (cl_ledger_attr_hash).
 * Functions that hash need a ledger opened for writing (tag.key).
 */
#ifndef CL_PARTIES_H
#define CL_PARTIES_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ledger/ledger.h"

/* ---- tokens in public bodies ------------------------------------------- */

/* A token as control entries write it: "#" and 16 lower-case hex digits. */
void cl_token_format(uint64_t t, char out[18]);
/* The 16 hex digits at s (at least 16 characters) as a token; 0 or -1. */
int cl_token_parse16(const char *s, uint64_t *t);

/* ---- links ------------------------------------------------------------ */

/*
 * Append a link (unlink = 0) or the reversal of an earlier link
 * (unlink = 1) between identifiers a and b, in any form, in its own
 * durable batch.  origin is "officer" or "source:NAME"; who and note are
 * sealed (may be NULL).  An unlink of a pair with no active link is
 * CL_ENOTFOUND; a link of a pair already linked is CL_EEXIST.
 */
int cl_party_link(struct cl_ledger *l, const char *a, const char *b, int unlink,
		  const char *origin, const char *who, const char *note,
		  uint64_t *index, char **err);

/*
 * The same, for a source inside the caller's open batch, with canonical
 * identifiers (ident.h); *added is 0 when the pair was already linked
 * (nothing appended).  The check covers links committed before the batch
 * and those appended earlier through this handle.
 */
int cl_party_link_in_batch(struct cl_ledger *l, const char *a_canon,
			   const char *b_canon, const char *origin, int *added,
			   char **err);

/* ---- resolution -------------------------------------------------------- */

struct cl_parties;   /* the active links, loaded from the ledger */

int cl_parties_load(struct cl_ledger *l, struct cl_parties **out, char **err);
void cl_parties_free(struct cl_parties *p);

/* The tokens of the candidate forms of one selector (no closure): what a
 * hold or event records.  *tok is malloc'd. */
int cl_parties_selector_tokens(struct cl_ledger *l, const char *sel,
			       uint64_t **tok, size_t *n);

/* Close tokens in[0..n) over the active links: *out (malloc'd, sorted,
 * unique) holds them and every token linked to them. */
int cl_parties_close(const struct cl_parties *p, const uint64_t *in, size_t n,
		     uint64_t **out, size_t *nout);

/* ---- coverage ----------------------------------------------------------- */

/* A set of conversations (leaf conv_tag values). */
struct cl_convset;

int cl_convset_has(const struct cl_convset *s, const unsigned char conv_tag[32]);
size_t cl_convset_count(const struct cl_convset *s);
void cl_convset_free(struct cl_convset *s);

/* What a token group covers, counted over entries with a payload. */
struct cl_cover {
	uint64_t records;        /* records (not attachments) in the conversations */
	uint64_t direct;         /* records that carry one of the tokens themselves */
	uint64_t conversations;  /* conversations */
	int64_t first, last;     /* sent_at range of the records, CL_TIME_NONE if none */
};

/*
 * One scan of the ledger for several token groups at once (retention
 * evaluates every hold, event and label together): out[i] gets the
 * conversations in which an entry carries a token of groups[i], and
 * cover[i] (if cover is non-NULL) what they hold.  Tokens need not be
 * sorted.
 */
struct cl_tokgroup {
	const uint64_t *tok;
	size_t n;
};
int cl_convset_build(struct cl_ledger *l, const struct cl_tokgroup *groups,
		     size_t n_groups, struct cl_convset **out, struct cl_cover *cover,
		     char **err);

/*
 * Convenience for readers (search, export, dsar): the conversations in
 * which the parties named by sel[0..n) take part, resolved through the
 * links.  An empty set when nothing matches.
 */
int cl_parties_select(struct cl_ledger *l, const char *const *sel, size_t n,
		      struct cl_convset **out, char **err);

/*
 * Whether raw identifier `raw` (as a record holds it: "85291234567",
 * "Chan Tai Man", "wecom-external:wm1") is one of the identifiers of the
 * parties named by sel[0..n).
 */
int cl_parties_is_member(struct cl_ledger *l, const char *const *sel, size_t n,
			 const char *raw, int *yes, char **err);

#endif
