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
#include "policy/policy.h"

struct cl_retention_lifecycle {
	struct cl_policy_event *ev;
	size_t n_ev;
	struct cl_policy_hold *holds;
	size_t n_holds;
	json_t *store;       /* owns the strings the arrays point into */
	const char ***lists; /* owns the holds' participant/conversation arrays */
	size_t n_lists;
};

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
	uint64_t norule;         /* of those: no rule applies (policy check) */
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

/* A JSON explanation of entry `index` at `now` (caller json_decref()s). */
int cl_retention_explain(struct cl_ledger *l, const struct cl_policy *p, uint64_t index,
			 int64_t now, json_t **out, char **err);

#endif
