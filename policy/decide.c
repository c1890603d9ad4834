/*
 * decide.c - the policy engine's decisions (see policy.h): per-record
 * retention decisions with holds and lifecycle events, and the findings
 * of `policy check` (overlapping rules, shorter-than-minimum maxima).
 * Pure functions of the policy, the record and the clock: no I/O.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "policy/policy.h"
#include "policy/policy_int.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ==== decisions ====================================================== */

static int has(const struct cl_policy_record *r, const char *type,
	       const char *value)
{
	return r->has_attr != NULL && value != NULL &&
	       r->has_attr(r->ctx, type, value) != 0;
}

/* Match keys: values within a key are OR, keys are AND. */
static int rule_matches(const struct prule *rule,
			const struct cl_policy_record *r)
{
	size_t m, i;

	for (m = 0; m < M_COUNT; m++) {
		const struct pstrs *l = &rule->match[m];
		int hit = 0;

		for (i = 0; i < l->n && !hit; i++) {
			if (cl_policy_match_attr[m] == NULL)
				hit = r->kind != NULL &&
				      strcmp(r->kind, l->v[i]) == 0;
			else
				hit = has(r, cl_policy_match_attr[m], l->v[i]);
		}
		if (l->n > 0 && !hit)
			return 0;
	}
	return 1;
}

static int carries_subject(const struct cl_policy_record *r, const char *s)
{
	return has(r, "participant", s) || has(r, "conversation", s) ||
	       has(r, "account", s);
}

/* 1 if hold h covers record r at time now; -1 on a malformed hold. */
static int hold_covers(const struct cl_policy_hold *h,
		       const struct cl_policy_record *r, int64_t now)
{
	size_t i;
	int hit;

	if ((h->participants == NULL && h->n_participants) ||
	    (h->conversations == NULL && h->n_conversations))
		return -1;
	if (h->until != CL_TIME_NONE && now >= h->until)
		return 0;
	if (h->released_at != CL_TIME_NONE && now >= h->released_at)
		return 0;
	if (h->from != CL_TIME_NONE && r->sent_at < h->from)
		return 0;
	if (h->to != CL_TIME_NONE && r->sent_at > h->to)
		return 0;
	hit = h->n_participants == 0 && h->n_conversations == 0;
	for (i = 0; i < h->n_participants && !hit; i++)
		hit = has(r, "participant", h->participants[i]);
	for (i = 0; i < h->n_conversations && !hit; i++)
		hit = has(r, "conversation", h->conversations[i]);
	return hit;
}

static void decision_init(struct cl_policy_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->action = CL_POLICY_KEEP;
	d->reason = "no-rule";
	d->erase_rule = SIZE_MAX;
	d->retain_until = CL_TIME_NONE;
	d->erase_after = CL_TIME_NONE;
}

/* Fill each event clock's start with the latest matching event. */
static void event_clocks(const struct cl_policy *p,
			 const struct cl_policy_record *r,
			 const struct cl_policy_event *ev, size_t n_ev,
			 struct cl_policy_decision *d)
{
	size_t j, k;

	for (j = 0; j < n_ev; j++) {
		const struct cl_policy_event *e = &ev[j];
		int subj = -1;

		if (e->subject == NULL || e->event == NULL ||
		    e->at == CL_TIME_NONE || e->at < r->sent_at)
			continue;
		for (k = 0; k < d->n_clocks; k++) {
			struct cl_policy_clock *c = &d->clocks[k];
			const char *want = p->rules[c->rule].event;

			if (want == NULL || strcmp(want, e->event) != 0)
				continue;
			if (subj < 0)
				subj = carries_subject(r, e->subject);
			if (!subj)
				break;
			if (c->start == CL_TIME_NONE || e->at > c->start)
				c->start = e->at;
		}
	}
}

int cl_policy_decide(const struct cl_policy *p,
		     const struct cl_policy_record *r,
		     const struct cl_policy_event *ev, size_t n_ev,
		     const struct cl_policy_hold *holds, size_t n_holds,
		     int64_t now, struct cl_policy_decision *d)
{
	int rc = CL_OK, waiting = 0, by_default = 0, held = 0, cov;
	int64_t due = CL_TIME_NONE;
	size_t i;

	if (d == NULL)
		return CL_EINVAL;
	decision_init(d);
	if (p == NULL || r == NULL || (ev == NULL && n_ev) ||
	    (holds == NULL && n_holds) || r->sent_at == CL_TIME_NONE) {
		rc = CL_EINVAL;
		goto out;
	}
	/* The applicable rules and their clocks. */
	for (i = 0; i < p->n_rules; i++) {
		struct cl_policy_clock *c;

		if (!rule_matches(&p->rules[i], r))
			continue;
		c = &d->clocks[d->n_clocks++];
		c->rule = i;
		c->start = p->rules[i].event ? CL_TIME_NONE : r->sent_at;
		c->retain_until = CL_TIME_NONE;
		c->erase_after = CL_TIME_NONE;
	}
	event_clocks(p, r, ev, n_ev, d);
	for (i = 0; i < d->n_clocks; i++) {
		struct cl_policy_clock *c = &d->clocks[i];
		const struct prule *rule = &p->rules[c->rule];

		if (c->start == CL_TIME_NONE) {
			waiting = 1;
			continue;
		}
		c->retain_until = cl_policy_dur_add(c->start, &rule->min);
		if (rule->max_line)
			c->erase_after = cl_policy_dur_add(c->retain_until, &rule->max);
		if (d->retain_until == CL_TIME_NONE ||
		    c->retain_until > d->retain_until)
			d->retain_until = c->retain_until;
		if (c->erase_after != CL_TIME_NONE &&
		    (due == CL_TIME_NONE || c->erase_after < due)) {
			due = c->erase_after;
			d->erase_rule = c->rule;
		}
	}
	/* Holds covering the record now. */
	for (i = 0; i < n_holds; i++) {
		cov = hold_covers(&holds[i], r, now);
		if (cov < 0) {
			rc = CL_EINVAL;
			goto out;
		}
		if (!cov)
			continue;
		held = 1;
		if (d->n_holds < CL_POLICY_MAX_HOLDS)
			d->holds[d->n_holds++] = i;
	}
	if (waiting) {
		d->retain_until = CL_TIME_NONE;
		d->erase_rule = SIZE_MAX;
		d->reason = "awaiting-event";
		goto out;
	}
	if (due == CL_TIME_NONE && p->default_erase) {
		due = cl_policy_dur_add(r->sent_at, &p->default_dur);
		by_default = 1;
	}
	if (due != CL_TIME_NONE)
		d->erase_after = d->retain_until != CL_TIME_NONE &&
					 d->retain_until > due
				 ? d->retain_until
				 : due;
	if (d->retain_until != CL_TIME_NONE && now < d->retain_until)
		d->reason = "minimum-pending";
	else if (d->erase_after == CL_TIME_NONE)
		d->reason = d->n_clocks ? "no-maximum" : "no-rule";
	else if (now < d->erase_after)
		d->reason = "maximum-pending";
	else if (held)
		d->reason = "held";
	else {
		d->action = CL_POLICY_ERASE;
		d->reason = by_default ? "default-policy" : "maximum-reached";
	}
out:
	if (rc) {
		decision_init(d);
		d->reason = "invalid-input";
	}
	return rc;
}

/* ==== policy check =================================================== */

/* Could some record match both rules? (See cl_policy_check.) */
static int overlap(const struct prule *a, const struct prule *b)
{
	size_t m, i, j;

	for (m = 0; m < M_COUNT; m++) {
		int common = 0;

		if (!cl_policy_match_single[m] || a->match[m].n == 0 ||
		    b->match[m].n == 0)
			continue;
		for (i = 0; i < a->match[m].n && !common; i++)
			for (j = 0; j < b->match[m].n && !common; j++)
				common = strcmp(a->match[m].v[i],
						b->match[m].v[j]) == 0;
		if (!common)
			return 0;
	}
	return 1;
}

/*
 * 1 if start + first + then can come before start + min for some start:
 * tried from reference dates that exercise month ends and Feb 29.
 */
static int shorter(const struct pdur *first, const struct pdur *then,
		   const struct pdur *min)
{
	static const unsigned ref[][3] = {
		{ 2023, 1, 31 }, { 2023, 3, 31 }, { 2023, 8, 31 },
		{ 2024, 2, 29 }, { 2024, 1, 31 }, { 2024, 12, 31 },
		{ 2025, 6, 15 },
	};
	size_t i;

	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		int64_t t = cl_days_from_civil(ref[i][0], ref[i][1],
					       ref[i][2]) *
			    MS_PER_DAY;
		int64_t e = cl_policy_dur_add(t, first);

		if (then != NULL)
			e = cl_policy_dur_add(e, then);
		if (e < cl_policy_dur_add(t, min))
			return 1;
	}
	return 0;
}

int cl_policy_check(const struct cl_policy *p, struct cl_buf *out,
		    size_t *n_conflicts)
{
	int rc = CL_OK;
	size_t i, j, n = 0;

	if (p == NULL || out == NULL || n_conflicts == NULL)
		return CL_EINVAL;
	*n_conflicts = 0;
	for (i = 0; i < p->n_rules; i++) {
		const struct prule *a = &p->rules[i];

		if (!a->max_line)
			continue;
		for (j = 0; j < p->n_rules; j++) {
			const struct prule *b = &p->rules[j];
			int early;

			if (j == i || !overlap(a, b))
				continue;
			/* An event comes at or after the message (earlier
			 * events do not count), arbitrarily later: a
			 * maximum from the message can always come before a
			 * minimum from an event.  Two clocks on events are
			 * compared as if the events were simultaneous. */
			if (b->event != NULL && a->event == NULL)
				early = 1;
			else
				early = shorter(&a->min, &a->max, &b->min);
			if (!early)
				continue;
			rc = cl_buf_addf(
				out,
				"conflict: rule '%s' (line %d) can erase at "
				"%s + %s + %s, before rule '%s' (line %d) "
				"minimum %s from %s has run, for records both "
				"match; the minimum wins\n",
				a->name, a->line, a->clock, a->min.text,
				a->max.text, b->name, b->line, b->min.text,
				b->clock);
			if (rc)
				goto out;
			n++;
		}
	}
	if (p->default_erase) {
		for (j = 0; j < p->n_rules; j++) {
			const struct prule *b = &p->rules[j];

			if (b->max_line ||
			    (b->event == NULL &&
			     !shorter(&p->default_dur, NULL, &b->min)))
				continue;
			rc = cl_buf_addf(
				out,
				"conflict: the default (%s from the message) "
				"can come before rule '%s' (line %d) minimum "
				"%s from %s has run; the minimum wins\n",
				p->default_text, b->name, b->line, b->min.text,
				b->clock);
			if (rc)
				goto out;
			n++;
		}
	}
	for (i = 0; i < p->n_rules; i++) {
		const struct prule *a = &p->rules[i];

		if (!a->assumed)
			continue;
		rc = cl_buf_addf(out,
				 "assumed: rule '%s' (line %d) rests on an "
				 "unverified basis: %s\n",
				 a->name, a->line, a->basis);
		if (rc)
			goto out;
	}
	*n_conflicts = n;
out:
	return rc;
}

