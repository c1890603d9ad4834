/*
 * retention.h - applying the retention policy (policy/policy.h) to the
 * ledger: lifecycle events and legal holds as ledger entries, the nightly
 * erasure run, and explanations.
 *
 * Holds and events are CL_ENTRY_CONTROL entries.  Their public bodies
 * carry no personal data: participants, conversations and subjects appear
 * only as keyed attribute hashes ("#" + 16 hex digits), which is also how
 * records carry them (ledger.h cl_ledger_attr_hash), so `retain` can match
 * them unattended, without the officer's passphrase.  The clear values
 * and free-text reasons are sealed in the entry's payload.
 */
#ifndef CL_RETENTION_H
#define CL_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/ledger/ledger.h"
#include "archiver/parties/parties.h"
#include "policy/policy.h"

/* Events more than this far ahead of the clock are refused. */
#define CL_RETENTION_FUTURE_SLACK_MS (24LL * 3600 * 1000)

/* A label given to the conversations of parties or conversations by an
 * officer (`chatledger label`), or its removal. */
struct cl_retention_label {
	const char *label;
	const char *assignment;   /* "#hex": the (label, selectors) identity */
	json_t *parties, *conversations;  /* "#hex" token arrays (borrowed) */
	int active;
	size_t set;               /* index into sets (after resolve) */
};

struct cl_retention_lifecycle {
	struct cl_policy_event *ev;
	size_t n_ev;
	struct cl_policy_hold *holds;
	size_t n_holds;
	struct cl_retention_label *labels;
	size_t n_labels;
	json_t *store;       /* owns the strings the arrays point into */
	const char ***lists; /* owns the holds' participant/conversation arrays */
	size_t n_lists;
	/* After cl_retention_lifecycle_resolve(): the conversations each hold,
	 * event and label covers, through the party links.  Holds and events
	 * then name their set as "@N" (see run.c has_attr). */
	struct cl_convset **sets;
	size_t n_sets;
	struct cl_cover *cover;  /* per set */
	char (*names)[24];       /* "@N" strings */
	json_t **ev_tokens;      /* per event: its "parties" tokens, or NULL */
	json_t **hold_tokens;    /* per hold: participants, conversations */
};

/*
 * Resolve every hold, event and label through the party links into the
 * conversations it covers (one ledger scan); rewrites the holds' and
 * events' selectors to name those sets.  Needs a write-mode ledger.
 */
int cl_retention_lifecycle_resolve(struct cl_ledger *l,
				   struct cl_retention_lifecycle *lc, char **err);

/* A hold's range and end are refused when reversed or already past. */
int cl_retention_check_range(int64_t from, int64_t to, int64_t until, int64_t now,
			     char **err);

/*
 * What a selector would cover now (records, conversations), resolved
 * through the party links: parties[0..np) and conversations[0..nc); both
 * empty = every record.
 */
int cl_retention_cover(struct cl_ledger *l, const char *const *parties, size_t np,
		       const char *const *conversations, size_t nc,
		       struct cl_cover *cover, char **err);

/* What a lifecycle event's subject covers now: its party, conversation
 * and account readings, as retention applies them. */
int cl_retention_cover_subject(struct cl_ledger *l, const char *subject,
			       struct cl_cover *cover, char **err);

/*
 * Give `label` to (remove = 0), or take it from (remove = 1), the
 * conversations of parties[0..np) and conversations[0..nc), in its own
 * durable batch.  Removing an assignment that is not active is
 * CL_ENOTFOUND; giving one that is, CL_EEXIST.
 */
int cl_retention_label(struct cl_ledger *l, const char *label, int remove,
		       const char *const *parties, size_t np,
		       const char *const *conversations, size_t nc,
		       const char *note, uint64_t *index, char **err);

/* Load every event and hold (with its release, if any) from the ledger. */
int cl_retention_lifecycle_load(struct cl_ledger *l,
				struct cl_retention_lifecycle *lc, char **err);
void cl_retention_lifecycle_release(struct cl_retention_lifecycle *lc);

/* Append a hold (in its own durable batch).  Times in ms or CL_TIME_NONE. */
int cl_retention_hold_add(struct cl_ledger *l, const char *case_id, const char *reason,
			  const char *const *participants, size_t n_participants,
			  const char *const *conversations, size_t n_conversations,
			  int64_t from, int64_t to, int64_t until, uint64_t *index,
			  char **err);
/* Release every active hold of `case_id`; CL_ENOTFOUND if none. */
int cl_retention_hold_release(struct cl_ledger *l, const char *case_id, uint64_t *index,
			      char **err);
/* Record a lifecycle event for a subject (participant, conversation or
 * account id). */
int cl_retention_event_record(struct cl_ledger *l, const char *subject, const char *event,
			      int64_t at, const char *note, uint64_t *index, char **err);

struct cl_retention_stats {
	uint64_t examined;       /* entries with a payload that were decided */
	uint64_t due;            /* decided ERASE */
	uint64_t erased;         /* erased by this run */
	uint64_t attachments;    /* attachment entries erased with their message */
	uint64_t held;           /* due but held */
	uint64_t awaiting;       /* waiting for a lifecycle event */
	uint64_t kept;           /* all other KEEPs */
	uint64_t norule;         /* of those: records no rule applies to (policy check) */
	uint64_t quarantine_norule; /* quarantined items no rule applies to */
	uint64_t per_rule[CL_POLICY_MAX_RULES + 1]; /* erased per rule; last = default */
	uint64_t batches;
};

/*
 * Decide every entry that still has a payload at time `now` and, unless
 * dry_run, erase the due ones in durable batches, then scrub the WAL.
 * Crash-safe and idempotent: each batch is atomic, and a re-run decides
 * again from the ledger and erases only what is left.
 */
int cl_retention_run(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
		     int dry_run, size_t batch, struct cl_retention_stats *st,
		     char **err);

/* One entry that a run erases (or, dry, would erase), in erasure order.
 * rule is the rule's name or "default"; attachment_of is the record an
 * attachment goes with (UINT64_MAX for a record). */
struct cl_retention_item {
	uint64_t index;
	uint64_t attachment_of;
	const char *rule;
	const char *kind;
	int64_t sent_at;
	unsigned char conv_tag[32];
};
typedef void (*cl_retention_list_fn)(void *ctx, const struct cl_retention_item *it);

/*
 * cl_retention_run with a list of what is erased (list may be NULL), and,
 * for a real run, a report appended at the end as a control entry of kind
 * "retention-report": the time decided at, the policy's name, counts per
 * rule and the index ranges of the batches that hold the tombstones
 * (`retain --report`).  *report_index gets its index (UINT64_MAX when
 * dry).
 */
int cl_retention_run_list(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
			  int dry_run, size_t batch, cl_retention_list_fn list,
			  void *list_ctx, struct cl_retention_stats *st,
			  uint64_t *report_index, char **err);

/* A JSON explanation of entry `index` at `now` (caller json_decref()s). */
int cl_retention_explain(struct cl_ledger *l, const struct cl_policy *p, uint64_t index,
			 int64_t now, json_t **out, char **err);

#endif
