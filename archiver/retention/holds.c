/*
 * holds.c - legal holds and lifecycle events as control entries: appending
 * them, and loading them back for the erasure run (retention.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ingest/record.h"
#include "archiver/parties/parties.h"
#include "archiver/retention/retention.h"
#include "archiver/retention/retention_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static int attr_token(struct cl_ledger *l, const char *type, const char *value,
		      char out[18])
{
	uint64_t h;
	int rc = cl_ledger_attr_hash(l, type, value, &h);

	if (rc == CL_OK)
		cl_token_format(h, out);
	return rc;
}

static int64_t time_of(json_t *v)
{
	int64_t ms;
	const char *s = json_string_value(v);

	if (s == NULL || cl_time_parse(s, strlen(s), &ms) != CL_OK)
		return CL_TIME_NONE;
	return ms;
}

json_t *cl_retention_time_json(int64_t ms)
{
	char b[32];

	if (ms == CL_TIME_NONE)
		return json_null();
	cl_time_format(ms, b);
	return json_string(b);
}


/* ---- appending control entries -------------------------------------- */

int cl_retention_append_control(struct cl_ledger *l, const char *kind, json_t *pub,
				json_t *sealed, uint64_t *index, char **err)
{
	struct cl_entry_in in;
	char *body = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	char *pt = sealed ? json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc;

	if (body == NULL || (sealed && pt == NULL)) {
		rc = CL_ENOMEM;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_CONTROL;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = pt ? strlen(pt) : 0;
	in.body = body;
	in.body_len = strlen(body);
	if ((rc = cl_ledger_begin(l, err)))
		goto out;
	rc = cl_ledger_append(l, &in, index, &dup, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, err);
	else
		cl_ledger_rollback(l);
out:
	if (pt)
		sodium_memzero(pt, strlen(pt));
	free(pt);
	free(body);
	return rc;
}

/* The tokens of party selectors, as "#hex" strings appended to arr. */
int cl_retention_party_tokens(struct cl_ledger *l, const char *const *sel, size_t n,
			     json_t *arr)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		uint64_t *t = NULL;
		size_t nt = 0;
		int rc = cl_parties_selector_tokens(l, sel[i], &t, &nt);

		if (rc == CL_EINVAL)
			return CL_EINVAL;
		if (rc)
			return rc;
		for (k = 0; k < nt; k++) {
			char h[18];

			cl_token_format(t[k], h);
			json_array_append_new(arr, json_string(h));
		}
		free(t);
	}
	return CL_OK;
}

int cl_retention_check_range(int64_t from, int64_t to, int64_t until, int64_t now,
			     char **err)
{
	char a[32];

	if (from != CL_TIME_NONE && to != CL_TIME_NONE && from > to) {
		char b[32];

		cl_time_format(from, a);
		cl_time_format(to, b);
		return cl_error(err, CL_EINVAL,
				"--from %s is after --to %s: the range covers nothing", a, b);
	}
	if (until != CL_TIME_NONE && until <= now) {
		cl_time_format(until, a);
		return cl_error(err, CL_EINVAL,
				"--until %s is already past: the hold would never be active", a);
	}
	return CL_OK;
}

int cl_retention_hold_add(struct cl_ledger *l, const char *case_id, const char *reason,
		const char *const *participants, size_t n_participants,
		const char *const *conversations, size_t n_conversations,
		int64_t from, int64_t to, int64_t until, uint64_t *index,
		char **err)
{
	json_t *pub = json_object(), *sealed = json_object();
	json_t *pp = json_array(), *pc = json_array();
	json_t *sp = json_array(), *sc = json_array();
	size_t i;
	int rc = CL_OK;

	if (!pub || !sealed || !pp || !pc || !sp || !sc) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_retention_check_range(from, to, until, cl_time_now_ms(), err)))
		goto out;
	if ((rc = cl_retention_party_tokens(l, participants, n_participants, pp))) {
		if (rc == CL_EINVAL)
			rc = cl_error(err, rc, "a --party is empty or too long");
		goto out;
	}
	for (i = 0; i < n_participants; i++)
		json_array_append_new(sp, json_string(participants[i]));
	for (i = 0; i < n_conversations; i++) {
		char tok[18];

		if ((rc = attr_token(l, "conversation", conversations[i], tok)))
			goto out;
		json_array_append_new(pc, json_string(tok));
		json_array_append_new(sc, json_string(conversations[i]));
	}
	json_object_set_new(pub, "case", json_string(case_id));
	json_object_set(pub, "participants", pp);
	json_object_set(pub, "conversations", pc);
	json_object_set_new(pub, "from", cl_retention_time_json(from));
	json_object_set_new(pub, "to", cl_retention_time_json(to));
	json_object_set_new(pub, "until", cl_retention_time_json(until));
	json_object_set_new(sealed, "case", json_string(case_id));
	json_object_set_new(sealed, "reason", json_string(reason));
	json_object_set(sealed, "participants", sp);
	json_object_set(sealed, "conversations", sc);
	if (json_object_get(pub, "case") == NULL || json_object_get(sealed, "reason") == NULL) {
		rc = cl_error(err, CL_EINVAL, "case and reason must be valid UTF-8");
		goto out;
	}
	rc = cl_retention_append_control(l, "hold", pub, sealed, index, err);
out:
	json_decref(pub);
	json_decref(sealed);
	json_decref(pp);
	json_decref(pc);
	json_decref(sp);
	json_decref(sc);
	return rc;
}

int cl_retention_event_record(struct cl_ledger *l, const char *subject, const char *event,
		    int64_t at, const char *note, uint64_t *index, char **err)
{
	char p[18], c[18], a[18], subj[64];
	json_t *pub = NULL, *sealed = NULL, *toks = json_array();
	int rc;

	if (toks == NULL)
		return CL_ENOMEM;
	if (!cl_kind_valid(event)) {
		json_decref(toks);
		return cl_error(err, CL_EINVAL,
				"event name must be 1-32 of [a-z0-9_-] (e.g. relationship-ended)");
	}
	if (at != CL_TIME_NONE && at > cl_time_now_ms() + CL_RETENTION_FUTURE_SLACK_MS) {
		char b[32];

		json_decref(toks);
		cl_time_format(at, b);
		return cl_error(err, CL_EINVAL,
				"--at %s is more than a day ahead of this clock: an event is "
				"recorded when it has happened (the latest date counts, so a "
				"future date could never be corrected)", b);
	}
	if ((rc = cl_retention_party_tokens(l, &subject, 1, toks))) {
		json_decref(toks);
		return rc == CL_EINVAL ? cl_error(err, rc, "--subject is empty or too long") : rc;
	}
	if ((rc = attr_token(l, "participant", subject, p)) ||
	    (rc = attr_token(l, "conversation", subject, c)) ||
	    (rc = attr_token(l, "account", subject, a))) {
		json_decref(toks);
		return rc;
	}
	(void)cl_fmt(subj, sizeof(subj), "#p:%s;c:%s;a:%s", p + 1, c + 1, a + 1);
	pub = json_pack("{s:s, s:s, s:o, s:o}", "event", event, "subject", subj,
			"at", cl_retention_time_json(at), "parties", toks);
	sealed = json_pack("{s:s, s:s, s:o, s:s}", "event", event, "subject", subject,
			   "at", cl_retention_time_json(at), "note", note ? note : "");
	if (pub == NULL || sealed == NULL)
		rc = cl_error(err, CL_EINVAL, "subject and note must be valid UTF-8");
	else
		rc = cl_retention_append_control(l, "lifecycle-event", pub, sealed, index, err);
	json_decref(pub);
	json_decref(sealed);
	return rc;
}

/* ---- loading control entries ---------------------------------------- */

struct load_ctx {
	json_t *bodies;   /* array of [kind, body, logged_at] */
	char **err;
};

static int collect_control(void *ctx, uint64_t index, const unsigned char *p,
			   size_t n, const unsigned char *attrs, size_t alen,
			   int has_payload)
{
	struct load_ctx *c = ctx;
	struct cl_leaf lf;
	json_t *b;
	char *e = NULL;

	(void)index;
	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(p, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(c->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	if (b == NULL)
		return cl_error(c->err, CL_ECORRUPT, "entry %llu: control body is not JSON",
				(unsigned long long)index);
	json_object_set_new(b, "_kind", json_string(lf.kind));
	json_object_set_new(b, "_logged_at", json_integer(lf.logged_at));
	json_object_set_new(b, "_index", json_integer((json_int_t)index));
	json_array_append_new(c->bodies, b);
	return CL_OK;
}

static const char **str_array(json_t *arr, size_t *n)
{
	size_t i, k = json_array_size(arr);
	const char **a = calloc(k ? k : 1, sizeof(*a));

	*n = 0;
	if (a == NULL)
		return NULL;
	for (i = 0; i < k; i++)
		if (json_is_string(json_array_get(arr, i)))
			a[(*n)++] = json_string_value(json_array_get(arr, i));
	return a;
}

int cl_retention_lifecycle_load(struct cl_ledger *l, struct cl_retention_lifecycle *lc, char **err)
{
	struct load_ctx c;
	size_t i, nb;
	json_t *b;
	int rc;

	memset(lc, 0, sizeof(*lc));
	lc->store = json_array();
	if (lc->store == NULL)
		return CL_ENOMEM;
	c.bodies = lc->store;
	c.err = err;
	if ((rc = cl_ledger_each(l, CL_ENTRY_CONTROL, collect_control, &c, err)))
		return rc;
	nb = json_array_size(lc->store);
	lc->ev = calloc(nb ? nb : 1, sizeof(*lc->ev));
	lc->holds = calloc(nb ? nb : 1, sizeof(*lc->holds));
	lc->lists = calloc(2 * nb + 1, sizeof(*lc->lists));
	lc->labels = calloc(nb ? nb : 1, sizeof(*lc->labels));
	lc->ev_tokens = calloc(nb ? nb : 1, sizeof(json_t *));
	lc->hold_tokens = calloc(2 * nb + 1, sizeof(json_t *));
	if (lc->ev == NULL || lc->holds == NULL || lc->lists == NULL ||
	    lc->labels == NULL || lc->ev_tokens == NULL || lc->hold_tokens == NULL)
		return CL_ENOMEM;
	json_array_foreach(lc->store, i, b) {
		const char *kind = json_string_value(json_object_get(b, "_kind"));

		if (strcmp(kind, "lifecycle-event") == 0) {
			struct cl_policy_event *e = &lc->ev[lc->n_ev++];

			e->subject = json_string_value(json_object_get(b, "subject"));
			e->event = json_string_value(json_object_get(b, "event"));
			e->at = time_of(json_object_get(b, "at"));
			lc->ev_tokens[lc->n_ev - 1] = json_object_get(b, "parties");
		} else if (strcmp(kind, "hold") == 0) {
			struct cl_policy_hold *h = &lc->holds[lc->n_holds++];
			const char **pa, **ca;

			h->case_id = json_string_value(json_object_get(b, "case"));
			pa = str_array(json_object_get(b, "participants"), &h->n_participants);
			ca = str_array(json_object_get(b, "conversations"), &h->n_conversations);
			if (pa)
				lc->lists[lc->n_lists++] = pa;
			if (ca)
				lc->lists[lc->n_lists++] = ca;
			if (pa == NULL || ca == NULL)
				return CL_ENOMEM;
			h->participants = pa;
			h->conversations = ca;
			lc->hold_tokens[2 * (lc->n_holds - 1)] = json_object_get(b, "participants");
			lc->hold_tokens[2 * (lc->n_holds - 1) + 1] =
				json_object_get(b, "conversations");
			h->from = time_of(json_object_get(b, "from"));
			h->to = time_of(json_object_get(b, "to"));
			h->until = time_of(json_object_get(b, "until"));
			h->released_at = CL_TIME_NONE;
		} else if (strcmp(kind, "label") == 0 || strcmp(kind, "label-remove") == 0) {
			const char *as = json_string_value(json_object_get(b, "assignment"));
			size_t k;

			if (as == NULL || json_string_value(json_object_get(b, "label")) == NULL)
				continue;
			for (k = lc->n_labels; k-- > 0;)
				if (strcmp(lc->labels[k].assignment, as) == 0)
					break;
			if (k == SIZE_MAX) {
				struct cl_retention_label *x = &lc->labels[lc->n_labels++];

				x->label = json_string_value(json_object_get(b, "label"));
				x->assignment = as;
				x->parties = json_object_get(b, "parties");
				x->conversations = json_object_get(b, "conversations");
				k = lc->n_labels - 1;
			}
			lc->labels[k].active = strcmp(kind, "label") == 0;
		} else if (strcmp(kind, "hold-release") == 0) {
			const char *cs = json_string_value(json_object_get(b, "case"));
			int64_t at = json_integer_value(json_object_get(b, "_logged_at"));
			size_t k;

			/* A release ends every hold of the case placed before it. */
			for (k = 0; cs && k < lc->n_holds; k++)
				if (lc->holds[k].case_id && strcmp(lc->holds[k].case_id, cs) == 0 &&
				    lc->holds[k].released_at == CL_TIME_NONE)
					lc->holds[k].released_at = at;
		}
	}
	return CL_OK;
}

void cl_retention_lifecycle_release(struct cl_retention_lifecycle *lc)
{
	size_t i;

	for (i = 0; i < lc->n_lists; i++)
		free(lc->lists[i]);
	free(lc->lists);
	for (i = 0; lc->sets && i < lc->n_sets; i++)
		cl_convset_free(lc->sets[i]);
	free(lc->sets);
	free(lc->cover);
	free(lc->names);
	free(lc->labels);
	free(lc->ev_tokens);
	free(lc->hold_tokens);
	free(lc->holds);
	free(lc->ev);
	json_decref(lc->store);
	memset(lc, 0, sizeof(*lc));
}

int cl_retention_hold_release(struct cl_ledger *l, const char *case_id, uint64_t *index,
		    char **err)
{
	struct cl_retention_lifecycle lc;
	json_t *pub = NULL, *sealed = NULL;
	size_t i;
	int rc, active = 0;
	int64_t now = cl_time_now_ms();

	if ((rc = cl_retention_lifecycle_load(l, &lc, err)))
		goto out;
	for (i = 0; i < lc.n_holds; i++)
		if (lc.holds[i].case_id && strcmp(lc.holds[i].case_id, case_id) == 0 &&
		    lc.holds[i].released_at == CL_TIME_NONE &&
		    (lc.holds[i].until == CL_TIME_NONE || now < lc.holds[i].until))
			active++;
	if (!active) {
		rc = cl_error(err, CL_ENOTFOUND, "no active hold for case '%s'", case_id);
		goto out;
	}
	pub = json_pack("{s:s}", "case", case_id);
	sealed = json_pack("{s:s}", "case", case_id);
	if (pub == NULL || sealed == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = cl_retention_append_control(l, "hold-release", pub, sealed, index, err);
out:
	json_decref(pub);
	json_decref(sealed);
	cl_retention_lifecycle_release(&lc);
	return rc;
}

