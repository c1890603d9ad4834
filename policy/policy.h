/*
 * policy.h - the retention policy engine: parse a policy file, then decide,
 * record by record, whether the law and the firm's policy let it be erased.
 *
 * The engine is pure: apart from reading the policy file in
 * cl_policy_load() it does no I/O, keeps no state between calls and never
 * touches the ledger.  The caller (cli/cmd_retain.c, cmd_policy.c) feeds it
 * one record at a time, with the lifecycle events and holds recorded in the
 * ledger and the time to decide at, and applies the decision itself.
 *
 * The policy file format is documented key by key in
 * config/policies/README; the built-in profiles live next to it.
 *
 * Evaluation in one paragraph: each rule whose match keys the record
 * satisfies "applies" and runs a clock (from the message's time, or from
 * the latest recorded lifecycle event for one of the record's subjects).
 * The record is kept until every applicable minimum has run (a minimum is a
 * law prohibiting erasure: it always beats a maximum).  It is due for
 * erasure once the earliest applicable maximum (or, when no applicable rule
 * has a maximum, the policy's `default = erase-after D`, counted from the
 * message's time) is reached, no minimum is pending, no applicable clock
 * is waiting for an event, and no hold covers it.
 *
 * All functions return an enum cl_status (common/status.h).  Times are
 * milliseconds since the epoch, UTC; CL_TIME_NONE (common/util.h) means
 * "none".
 */
#ifndef CL_POLICY_H
#define CL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* A policy holds at most this many rules, so every applicable rule fits
 * in a decision's clocks[]. */
#define CL_POLICY_MAX_RULES 32
/* A decision lists at most this many covering holds (the rest still count). */
#define CL_POLICY_MAX_HOLDS 32
/* Policy files larger than this are refused. */
#define CL_POLICY_MAX_FILE (1024 * 1024)

struct cl_policy; /* opaque, parsed, immutable */

/* ---- parsing -------------------------------------------------------- */

/*
 * Read and parse the policy file at `path`.  On CL_OK *out is a new policy
 * the caller frees with cl_policy_free().  On failure *out is NULL and
 * *err (if err is non-NULL) gets a malloc'd message the caller frees:
 * "PATH:LINE: reason" for a bad file (CL_EINVAL; for a missing required
 * key LINE is the line of the rule's section header), "cannot open ..."
 * (CL_ENOTFOUND, CL_EIO), or nothing for CL_ENOMEM.  A file with any error
 * is rejected as a whole.
 */
int cl_policy_load(const char *path, struct cl_policy **out, char **err);

/*
 * Parse the NUL-terminated policy text `text`; messages name the input
 * `name_for_errors` (or "<string>" if NULL).  Otherwise as cl_policy_load.
 */
int cl_policy_parse_string(const char *text, const char *name_for_errors,
			   struct cl_policy **out, char **err);

/* Free a policy; NULL is fine. */
void cl_policy_free(struct cl_policy *p);

/* ---- accessors (for `policy check` / `policy explain`) --------------- */

/*
 * The [policy] section: its name (NULL if not given) and its default as
 * text, "keep" or "erase-after D" (D as written, e.g. "7y").
 */
const char *cl_policy_name(const struct cl_policy *p);
const char *cl_policy_default(const struct cl_policy *p);

size_t cl_policy_rule_count(const struct cl_policy *p);

/*
 * Per-rule accessors, i < cl_policy_rule_count(p).  The strings belong to
 * the policy and live as long as it.  An index out of range gives NULL
 * (or -1 for the int accessors).
 *   name        the NAME of [rule NAME]
 *   basis       the citation text (several `basis` lines joined by " ")
 *   confidence  "verified" or "assumed"
 *   clock       "message" or "event:NAME"
 *   event       NAME of an event clock, NULL for a message clock
 *   minimum     the minimum as written canonically: "2y", "24m", "90d", "0"
 *   maximum     the maximum likewise, NULL if the rule has none
 *   assumed     1 if confidence = assumed, 0 if verified
 *   line        the line of the rule's section header
 */
const char *cl_policy_rule_name(const struct cl_policy *p, size_t i);
const char *cl_policy_rule_basis(const struct cl_policy *p, size_t i);
const char *cl_policy_rule_confidence(const struct cl_policy *p, size_t i);
const char *cl_policy_rule_clock(const struct cl_policy *p, size_t i);
const char *cl_policy_rule_event(const struct cl_policy *p, size_t i);
const char *cl_policy_rule_minimum(const struct cl_policy *p, size_t i);
const char *cl_policy_rule_maximum(const struct cl_policy *p, size_t i);
int cl_policy_rule_assumed(const struct cl_policy *p, size_t i);
int cl_policy_rule_line(const struct cl_policy *p, size_t i);

/*
 * Add a policy duration ("2y", "24m", "90d", "0") to `ms`: years and
 * months are calendar steps on the UTC date, keeping the time of day and
 * clamping the day to the month's end (2024-02-29 + 1y = 2025-02-28,
 * 2024-01-31 + 1m = 2024-02-29); days are 86,400 s.  Results past the
 * int64 range saturate at INT64_MAX.  CL_EINVAL on a bad duration or if
 * ms is CL_TIME_NONE (then *out is untouched).
 */
int cl_policy_duration_add(int64_t ms, const char *duration, int64_t *out);

/* ---- decisions ------------------------------------------------------ */

/*
 * A record as the policy sees it.  has_attr(ctx, type, value) answers
 * "does this record carry attribute type=value?" (1 yes, 0 no) for type
 * in "account", "conversation", "participant", "label", "source"; the
 * caller hashes and looks it up.  has_attr may be NULL (no attributes);
 * kind may be NULL (matches no match.kind).  sent_at must be a time.
 */
struct cl_policy_record {
	uint64_t index;
	const char *kind;
	int64_t sent_at; /* ms UTC */
	int (*has_attr)(void *ctx, const char *type, const char *value);
	void *ctx;
};

/*
 * A lifecycle event recorded in the ledger.  It applies to records
 * carrying attribute participant=subject, conversation=subject or
 * account=subject.  Events with a NULL field or at == CL_TIME_NONE are
 * ignored.
 */
struct cl_policy_event {
	const char *subject;
	const char *event;
	int64_t at;
};

/*
 * A hold.  It covers records that carry ANY of its participants or
 * conversations (none listed = all records) AND whose sent_at is within
 * [from, to] (CL_TIME_NONE = open end), while now < until (CL_TIME_NONE =
 * no end: a litigation hold lasts until released; an AMLO Sch. 2 s.20(4)
 * regulator notice has an end date) and the hold is not released
 * (released_at == CL_TIME_NONE or now < released_at).
 */
struct cl_policy_hold {
	const char *case_id;
	const char *const *participants;
	size_t n_participants;
	const char *const *conversations;
	size_t n_conversations;
	int64_t from, to, until, released_at;
};

enum cl_policy_action { CL_POLICY_KEEP = 0, CL_POLICY_ERASE = 1 };

/* One applicable rule's clock. */
struct cl_policy_clock {
	size_t rule;          /* index into the policy */
	int64_t start;        /* clock start, CL_TIME_NONE if waiting for an event */
	int64_t retain_until; /* start + minimum, CL_TIME_NONE if waiting */
	int64_t erase_after;  /* retain_until + maximum, CL_TIME_NONE if no
	                         maximum or waiting */
};

/*
 * Reason codes (static strings; compare with strcmp):
 *   ERASE  "maximum-reached"  a rule's maximum is reached (erase_rule)
 *          "default-policy"   the [policy] default erase-after is reached
 *   KEEP   "awaiting-event"   an applicable clock waits for its event
 *          "minimum-pending"  now < retain_until
 *          "maximum-pending"  minimums have run, the due time is ahead
 *          "held"             erasure is due but a hold covers the record
 *          "no-maximum"       rules apply, none has a maximum, default keep
 *          "no-rule"          no rule applies and the default is keep
 *          "invalid-input"    cl_policy_decide failed (CL_EINVAL)
 */
struct cl_policy_decision {
	enum cl_policy_action action;
	const char *reason;
	/* The rule whose maximum gives erase_after (the earliest maximum
	 * among the applicable rules); SIZE_MAX if the default policy gives
	 * it or there is none. */
	size_t erase_rule;
	struct cl_policy_clock clocks[CL_POLICY_MAX_RULES];
	size_t n_clocks; /* every applicable rule, in policy order */
	size_t holds[CL_POLICY_MAX_HOLDS];
	size_t n_holds;  /* indexes of the holds covering the record now
	                    (the first CL_POLICY_MAX_HOLDS of them) */
	/* Max over the applicable minimums; CL_TIME_NONE if a clock is
	 * waiting or no rule applies. */
	int64_t retain_until;
	/* Earliest time erasure is due, holds aside: max(retain_until,
	 * earliest applicable maximum or the default); CL_TIME_NONE if a
	 * clock is waiting or nothing ever makes the record due. */
	int64_t erase_after;
};

/*
 * Decide what to do with record `r` at time `now`, given the lifecycle
 * events ev[0..n_ev) and the holds holds[0..n_holds) (either may be NULL
 * when its count is 0).  For an event clock the LATEST matching event
 * counts; an event earlier than the record's sent_at does not start its
 * clock (the relationship or loan it ended cannot be the one the record
 * belongs to), so the clock keeps waiting.  Passing every event of the
 * archive is correct; passing only those whose subject the record carries
 * is faster and gives the same result.  The action is CL_POLICY_ERASE
 * exactly when now >= erase_after and no hold covers the record.
 * Fills *d completely.  CL_EINVAL on NULL arguments, sent_at ==
 * CL_TIME_NONE or a hold with a NULL list and a non-zero count; then *d
 * (if non-NULL) is a KEEP with reason "invalid-input" and no clocks, and
 * the caller must keep the record.
 */
int cl_policy_decide(const struct cl_policy *p,
		     const struct cl_policy_record *r,
		     const struct cl_policy_event *ev, size_t n_ev,
		     const struct cl_policy_hold *holds, size_t n_holds,
		     int64_t now, struct cl_policy_decision *d);

/*
 * `policy check`: append human-readable lines to `out`, one per finding:
 *   "conflict: ..."  rule A's erase point (clock + minimum + maximum, or
 *                    the default erase-after) can come before rule B's
 *                    minimum has run, for records both can match (the
 *                    minimum wins; the maximum is then not honoured);
 *   "assumed: ..."   a rule whose legal basis is not verified.
 * Match sets overlap unless both rules list match.kind, match.account or
 * match.conversation with no value in common (a record has one kind, one
 * account and one conversation; it may carry many labels and
 * participants).  A maximum counted from the message always conflicts
 * with a minimum counted from an event (which can come arbitrarily
 * later); two event clocks are compared as if their events were
 * simultaneous.  *n_conflicts gets the number of conflict lines (assumed
 * rules are warnings and are not counted).  CL_EINVAL if `out` is full.
 */
int cl_policy_check(const struct cl_policy *p, struct cl_buf *out,
		    size_t *n_conflicts);

#endif
