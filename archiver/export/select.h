/*
 * select.h - the read path: select entries by keyed-hash selectors and leaf
 * fields, decrypt only within the selection, match text, and record every
 * access in the ledger (issue 12; docs/man/chatledger-search.1).
 *
 * Selection never needs plaintext at rest: conversations, parties and
 * labels are compared as the keyed attribute hashes that records carry
 * (entry.attrs, docs/FORMAT.md §4, cl_ledger_attr_hash), kind and time as
 * leaf fields.  Text is matched by decrypting each selected record in
 * memory and scanning it (no text index exists on disk).  Within one
 * category the selectors are alternatives (OR); the categories combine
 * with AND.  An empty category does not restrict.
 *
 * The handle must be a write handle (CL_OPEN_WRITE): the attribute hashes
 * need tag.key, and the access entry is appended through it.
 */
#ifndef CL_EXPORT_SELECT_H
#define CL_EXPORT_SELECT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/leaf.h"

struct cl_select_query {
	const char *const *parties;      size_t n_parties;       /* party selectors, any form */
	const char *const *conversations; size_t n_conversations; /* conversation.id values */
	const char *const *kinds;        size_t n_kinds;
	const char *const *labels;       size_t n_labels;
	int64_t from, to;                /* ms UTC on sent_at, CL_TIME_NONE = open */
	const char *text;                /* words; NULL = no text filter */
	int include_erased;              /* also report tombstoned/erased entries (pt = NULL) */
};

/* One matching entry.  For a record: lf is its leaf, pt/ptlen the decrypted canonical JSON
 * (sodium-wiped by the caller after fn returns: copy what you keep), rec the parsed
 * record (borrowed). For an attachment entry (kind "attachment"), pt is the attachment bytes
 * and rec is NULL; attachments are delivered right after their record when the record matches.
 * For an erased entry (include_erased): pt == NULL, rec == NULL, erased_rule/erased_at from
 * its tombstone. Return non-zero to stop (that value is returned by cl_select_run). */
struct cl_select_hit {
	uint64_t index;
	const struct cl_leaf *lf;
	const unsigned char *pt; size_t ptlen;
	const json_t *rec;
	const char *erased_rule; int64_t erased_at;
	/* With pt: the leaf bytes lf was decoded from and the 32-byte salt of
	 * pt_hash (FORMAT.md §6.3), so an export needs not open it again. */
	const unsigned char *leaf; size_t leaf_len;
	const unsigned char *salt;
	int what;                        /* CL_SELECT_* */
};
#define CL_SELECT_RECORD 0
#define CL_SELECT_ATTACHMENT 1
#define CL_SELECT_ERASED 2
typedef int (*cl_select_fn)(void *ctx, const struct cl_select_hit *hit);

/* seal_sk: the unlocked 32-byte sealing secret key (unlock ONCE per command).
 * Entries are delivered in log order. Counts: *n_hits records delivered. */
int cl_select_run(struct cl_ledger *l, const unsigned char *seal_sk,
		  const struct cl_select_query *q, cl_select_fn fn, void *ctx,
		  uint64_t *n_hits, char **err);

/* Append an access entry (control entry kind "access": who, what command, the selectors as
 * keyed hashes in the public body and clear in the sealed payload, how many records) in its own
 * durable batch BEFORE content is revealed; returns its index. */
int cl_access_record(struct cl_ledger *l, const char *command, const char *who,
		     const struct cl_select_query *q, uint64_t n_records,
		     uint64_t *index, char **err);

/* ---- helpers beyond the shared interface ------------------------------ */

/* A query with every category empty, times open, no text. */
void cl_select_query_init(struct cl_select_query *q);

/*
 * Count the records cl_select_run would deliver (attachments and erased
 * entries not counted), so that the access entry can say how many are
 * revealed before any is.  Decrypts only when q->text is set (seal_sk may
 * be NULL otherwise).
 */
int cl_select_count(struct cl_ledger *l, const unsigned char *seal_sk,
		    const struct cl_select_query *q, uint64_t *n, char **err);

/*
 * The two steps of cl_select_run, for callers that must say how many
 * records they reveal before revealing any (the access entry):
 * cl_select_plan_new() scans the ledger once without the key (leaves and
 * attrs) and keeps the selected entry indexes (a few bytes each; `q` is
 * borrowed until the plan is freed); cl_select_plan_filter_text()
 * decrypts the selected records once and drops those the text query does
 * not match (nothing to do without q->text); cl_select_plan_records()
 * is then the exact number cl_select_plan_run() will deliver.
 */
struct cl_select_plan;
int cl_select_plan_new(struct cl_ledger *l, const struct cl_select_query *q,
		       struct cl_select_plan **out, char **err);
int cl_select_plan_filter_text(struct cl_ledger *l, const unsigned char *seal_sk,
			       struct cl_select_plan *p, char **err);
uint64_t cl_select_plan_records(const struct cl_select_plan *p);
int cl_select_plan_run(struct cl_ledger *l, const unsigned char *seal_sk,
		       struct cl_select_plan *p, cl_select_fn fn, void *ctx,
		       uint64_t *n_hits, char **err);
void cl_select_plan_free(struct cl_select_plan *p);
/*
 * What cl_select_plan_run() would deliver, without decrypting anything:
 * fn gets each entry's index, leaf (lf, leaf, leaf_len) and `what`; pt,
 * rec and salt are NULL and erased_* are not set.  With q->text, run
 * cl_select_plan_filter_text() first (CL_EINVAL otherwise).  An export
 * plans with this and opens each entry once, later.
 */
int cl_select_plan_walk(struct cl_ledger *l, struct cl_select_plan *p,
			cl_select_fn fn, void *ctx, char **err);

/*
 * The text filter on its own: 1 if every whitespace-separated word of
 * `words` occurs in `text` (len bytes of UTF-8), else 0.  ASCII letters
 * match case-insensitively; everything else, Chinese included, byte for
 * byte, so a query of any length (one or two Han characters too) matches
 * a substring.  An empty query matches everything.
 */
int cl_select_text_match(const char *words, const char *text, size_t len);

/*
 * Parse entry ranges "N", "A-B" (inclusive) and lists of them separated by
 * commas into ascending, merged [lo, hi] pairs appended to *pairs (2 u64
 * per range; *n counts ranges; realloc'd, caller frees).  At most
 * CL_SELECT_MAX_RANGES ranges per call; CL_EINVAL naming the problem.
 */
#define CL_SELECT_MAX_RANGES 4096
int cl_select_parse_ranges(const char *s, uint64_t **pairs, size_t *n, char **err);

/*
 * cl_access_record with extra public and sealed members (objects merged
 * into the bodies, may be NULL), e.g. show's entry ranges or a DSAR id.
 * Keys of the extras must not collide with the standard ones.
 */
int cl_access_record_extra(struct cl_ledger *l, const char *command, const char *who,
			   const struct cl_select_query *q, uint64_t n_records,
			   json_t *pub_extra, json_t *sealed_extra,
			   uint64_t *index, char **err);

/*
 * Append a control entry of `kind` with public body `pub` (no personal
 * data: hash selectors with cl_access_token) and sealed `sealed`, in its
 * own durable batch.
 */
int cl_control_append(struct cl_ledger *l, const char *kind, const json_t *pub,
		      const json_t *sealed, uint64_t *index, char **err);
/* "#" + 16 hex digits: the keyed attribute hash of type=value, as holds
 * and access entries show selectors publicly (write handle). */
int cl_access_token(struct cl_ledger *l, const char *type, const char *value,
		    char out[18]);

/*
 * Access entries, for `access list` and `status` (no key needed for the
 * public part).  fn gets each access entry's index, leaf and parsed public
 * body (borrowed); with seal_sk also the decrypted clear selectors
 * (`sealed`, else NULL).  Non-zero from fn stops and is returned.
 */
typedef int (*cl_access_fn)(void *ctx, uint64_t index, const struct cl_leaf *lf,
			    const json_t *body, const json_t *sealed);
int cl_access_each(struct cl_ledger *l, const unsigned char *seal_sk,
		   cl_access_fn fn, void *ctx, char **err);

#endif
