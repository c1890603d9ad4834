/*
 * retention.c - holds, lifecycle events, the erasure run and explanations
 * (retention.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ingest/record.h"
#include "archiver/retention/retention.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- attribute matching --------------------------------------------- */

struct hcache {
	const char *type, *value;
	uint64_t h;
};

struct rec_ctx {
	struct cl_ledger *l;
	const unsigned char *attrs;
	size_t n;                 /* number of 8-byte hashes */
	struct hcache cache[64];
	size_t ncache;
};

static int has_hash(const struct rec_ctx *c, uint64_t h)
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v = cl_load_be64(c->attrs + 8 * mid);

		if (v == h)
			return 1;
		if (v < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int parse_hex16(const char *s, uint64_t *h)
{
	unsigned char b[8];

	if (strlen(s) < 16)
		return -1;
	{
		char tmp[17];

		memcpy(tmp, s, 16);
		tmp[16] = 0;
		if (cl_hex_decode(tmp, b, 8) != CL_OK)
			return -1;
	}
	*h = cl_load_be64(b);
	return 0;
}

/* Values from holds and events are "#HEX" (one typed hash) or
 * "#p:HEX;c:HEX;a:HEX" (a subject: one hash per type); values from the
 * policy file are clear text and hashed here (cached by pointer). */
static int has_attr(void *ctx, const char *type, const char *value)
{
	struct rec_ctx *c = ctx;
	uint64_t h;
	size_t i;

	if (c->n == 0 || value == NULL)
		return 0;
	if (value[0] == '#') {
		if (value[1] != '\0' && value[2] == ':') {
			char want = type[0];
			const char *p = value + 1;

			if (strcmp(type, "participant") != 0 &&
			    strcmp(type, "conversation") != 0 &&
			    strcmp(type, "account") != 0)
				return 0;
			while (*p) {
				if (p[0] == want && p[1] == ':')
					return parse_hex16(p + 2, &h) == 0 && has_hash(c, h);
				p = strchr(p, ';');
				if (p == NULL)
					break;
				p++;
			}
			return 0;
		}
		return parse_hex16(value + 1, &h) == 0 && has_hash(c, h);
	}
	for (i = 0; i < c->ncache; i++)
		if (c->cache[i].type == type && c->cache[i].value == value)
			return has_hash(c, c->cache[i].h);
	if (cl_ledger_attr_hash(c->l, type, value, &h) != CL_OK)
		return 0;
	if (c->ncache < sizeof(c->cache) / sizeof(c->cache[0])) {
		c->cache[c->ncache].type = type;
		c->cache[c->ncache].value = value;
		c->cache[c->ncache].h = h;
		c->ncache++;
	}
	return has_hash(c, h);
}

static int attr_token(struct cl_ledger *l, const char *type, const char *value,
		      char out[18])
{
	uint64_t h;
	unsigned char b[8];
	int rc = cl_ledger_attr_hash(l, type, value, &h);

	if (rc)
		return rc;
	cl_store_be64(b, h);
	out[0] = '#';
	sodium_bin2hex(out + 1, 17, b, 8);
	return CL_OK;
}

static json_t *time_json(int64_t ms)
{
	char b[32];

	if (ms == CL_TIME_NONE)
		return json_null();
	cl_time_format(ms, b);
	return json_string(b);
}

static int64_t time_of(json_t *v)
{
	int64_t ms;
	const char *s = json_string_value(v);

	if (s == NULL || cl_time_parse(s, strlen(s), &ms) != CL_OK)
		return CL_TIME_NONE;
	return ms;
}

/* ---- appending control entries -------------------------------------- */

static int append_control(struct cl_ledger *l, const char *kind, json_t *pub,
			  json_t *sealed, uint64_t *index, char **err)
{
	struct cl_entry_in in;
	char *body = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	char *pt = json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS);
	int dup = 0, rc;

	if (body == NULL || pt == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_CONTROL;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = strlen(pt);
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
	for (i = 0; i < n_participants; i++) {
		char tok[18];

		if ((rc = attr_token(l, "participant", participants[i], tok)))
			goto out;
		json_array_append_new(pp, json_string(tok));
		json_array_append_new(sp, json_string(participants[i]));
	}
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
	json_object_set_new(pub, "from", time_json(from));
	json_object_set_new(pub, "to", time_json(to));
	json_object_set_new(pub, "until", time_json(until));
	json_object_set_new(sealed, "case", json_string(case_id));
	json_object_set_new(sealed, "reason", json_string(reason));
	json_object_set(sealed, "participants", sp);
	json_object_set(sealed, "conversations", sc);
	if (json_object_get(pub, "case") == NULL || json_object_get(sealed, "reason") == NULL) {
		rc = cl_error(err, CL_EINVAL, "case and reason must be valid UTF-8");
		goto out;
	}
	rc = append_control(l, "hold", pub, sealed, index, err);
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
	json_t *pub = NULL, *sealed = NULL;
	int rc;

	if (!cl_kind_valid(event))
		return cl_error(err, CL_EINVAL,
				"event name must be 1-32 of [a-z0-9_-] (e.g. relationship-ended)");
	if ((rc = attr_token(l, "participant", subject, p)) ||
	    (rc = attr_token(l, "conversation", subject, c)) ||
	    (rc = attr_token(l, "account", subject, a)))
		return rc;
	snprintf(subj, sizeof(subj), "#p:%s;c:%s;a:%s", p + 1, c + 1, a + 1);
	pub = json_pack("{s:s, s:s, s:o}", "event", event, "subject", subj,
			"at", time_json(at));
	sealed = json_pack("{s:s, s:s, s:o, s:s}", "event", event, "subject", subject,
			   "at", time_json(at), "note", note ? note : "");
	if (pub == NULL || sealed == NULL)
		rc = cl_error(err, CL_EINVAL, "subject and note must be valid UTF-8");
	else
		rc = append_control(l, "lifecycle-event", pub, sealed, index, err);
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
	if (lc->ev == NULL || lc->holds == NULL || lc->lists == NULL)
		return CL_ENOMEM;
	json_array_foreach(lc->store, i, b) {
		const char *kind = json_string_value(json_object_get(b, "_kind"));

		if (strcmp(kind, "lifecycle-event") == 0) {
			struct cl_policy_event *e = &lc->ev[lc->n_ev++];

			e->subject = json_string_value(json_object_get(b, "subject"));
			e->event = json_string_value(json_object_get(b, "event"));
			e->at = time_of(json_object_get(b, "at"));
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
			h->from = time_of(json_object_get(b, "from"));
			h->to = time_of(json_object_get(b, "to"));
			h->until = time_of(json_object_get(b, "until"));
			h->released_at = CL_TIME_NONE;
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
	rc = append_control(l, "hold-release", pub, sealed, index, err);
out:
	json_decref(pub);
	json_decref(sealed);
	cl_retention_lifecycle_release(&lc);
	return rc;
}

/* ---- the erasure run ------------------------------------------------- */

struct due {
	uint64_t index;
	size_t rule;      /* SIZE_MAX = default */
	int attachment;
};

struct pair {
	uint64_t parent, child;
};

struct scan {
	struct cl_ledger *l;
	const struct cl_policy *p;
	const struct cl_retention_lifecycle *lc;
	int64_t now;
	struct cl_retention_stats *st;
	struct due *due;
	size_t ndue, capdue;
	struct pair *att;
	size_t natt, capatt;
	char **err;
};

static int push_due(struct scan *s, uint64_t index, size_t rule, int att)
{
	if (s->ndue == s->capdue) {
		size_t nc = s->capdue ? s->capdue * 2 : 1024;
		struct due *nd = realloc(s->due, nc * sizeof(*nd));

		if (nd == NULL)
			return CL_ENOMEM;
		s->due = nd;
		s->capdue = nc;
	}
	s->due[s->ndue].index = index;
	s->due[s->ndue].rule = rule;
	s->due[s->ndue].attachment = att;
	s->ndue++;
	return CL_OK;
}

/* Decide one entry; fills *d.  Returns CL_OK or an error. */
static int decide_entry(struct scan *s, uint64_t index, const struct cl_leaf *lf,
			const unsigned char *attrs, size_t alen,
			struct cl_policy_decision *d)
{
	struct rec_ctx rc_;
	struct cl_policy_record r;

	memset(&rc_, 0, sizeof(rc_));
	rc_.l = s->l;
	rc_.attrs = attrs;
	rc_.n = attrs ? alen / 8 : 0;
	r.index = index;
	r.kind = lf->kind;
	r.sent_at = lf->sent_at != CL_TIME_NONE ? lf->sent_at : lf->logged_at;
	r.has_attr = has_attr;
	r.ctx = &rc_;
	return cl_policy_decide(s->p, &r, s->lc->ev, s->lc->n_ev, s->lc->holds,
				s->lc->n_holds, s->now, d);
}

static int scan_entry(void *ctx, uint64_t index, const unsigned char *p,
		      size_t n, const unsigned char *attrs, size_t alen,
		      int has_payload)
{
	struct scan *s = ctx;
	struct cl_leaf lf;
	struct cl_policy_decision d;
	char *e = NULL;
	int rc;

	if (!has_payload)
		return CL_OK;
	if (cl_leaf_decode(p, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(s->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	if (strcmp(lf.kind, "attachment") == 0) {
		json_t *b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
		json_t *par = b ? json_object_get(b, "attachment_of") : NULL;

		if (par && json_is_integer(par)) {
			if (s->natt == s->capatt) {
				size_t nc = s->capatt ? s->capatt * 2 : 256;
				struct pair *na = realloc(s->att, nc * sizeof(*na));

				if (na == NULL) {
					json_decref(b);
					return CL_ENOMEM;
				}
				s->att = na;
				s->capatt = nc;
			}
			s->att[s->natt].parent = (uint64_t)json_integer_value(par);
			s->att[s->natt].child = index;
			s->natt++;
			json_decref(b);
			return CL_OK;   /* follows its message */
		}
		json_decref(b);
	}
	s->st->examined++;
	if ((rc = decide_entry(s, index, &lf, attrs, alen, &d)))
		return cl_error(s->err, rc, "cannot decide entry %llu",
				(unsigned long long)index);
	if (d.action == CL_POLICY_ERASE) {
		s->st->due++;
		return push_due(s, index, d.erase_rule, 0);
	}
	if (strcmp(d.reason, "held") == 0)
		s->st->held++;
	else if (strcmp(d.reason, "awaiting-event") == 0)
		s->st->awaiting++;
	else
		s->st->kept++;
	if (strcmp(d.reason, "no-rule") == 0)
		s->st->norule++;
	return CL_OK;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	return x->parent < y->parent ? -1 : x->parent > y->parent;
}

int cl_retention_run(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
	      int dry_run, size_t batch, struct cl_retention_stats *st,
	      char **err)
{
	struct cl_retention_lifecycle lc;
	struct scan s;
	size_t i, k, inbatch = 0, nparents;
	int rc;

	memset(st, 0, sizeof(*st));
	memset(&s, 0, sizeof(s));
	if (batch == 0)
		batch = 1000;
	if ((rc = cl_retention_lifecycle_load(l, &lc, err)))
		goto out;
	s.l = l;
	s.p = p;
	s.lc = &lc;
	s.now = now;
	s.st = st;
	s.err = err;
	if ((rc = cl_ledger_each(l, CL_ENTRY_RECORD, scan_entry, &s, err)) ||
	    (rc = cl_ledger_each(l, CL_ENTRY_QUARANTINE, scan_entry, &s, err)))
		goto out;
	/* Attachments go with their message. */
	if (s.natt > 1)
		qsort(s.att, s.natt, sizeof(*s.att), cmp_pair);
	nparents = s.ndue;
	for (i = 0; i < nparents && s.natt; i++) {
		struct pair key = { s.due[i].index, 0 };
		struct pair *hit = bsearch(&key, s.att, s.natt, sizeof(*s.att), cmp_pair);

		if (hit == NULL)
			continue;
		while (hit > s.att && hit[-1].parent == key.parent)
			hit--;
		for (; hit < s.att + s.natt && hit->parent == key.parent; hit++)
			if ((rc = push_due(&s, hit->child, s.due[i].rule, 1)))
				goto out;
	}
	if (dry_run)
		goto out;
	for (i = 0; i < s.ndue; i++) {
		const char *rule = s.due[i].rule == SIZE_MAX ? "default" :
			cl_policy_rule_name(p, s.due[i].rule);
		int already = 0;

		if (inbatch == 0 && (rc = cl_ledger_begin(l, err)))
			goto out;
		inbatch++;
		rc = cl_ledger_erase(l, s.due[i].index, rule,
				     s.due[i].attachment ? "retention-attachment" : "retention",
				     &already, err);
		if (rc) {
			cl_ledger_rollback(l);
			goto out;
		}
		if (!already) {
			if (s.due[i].attachment)
				st->attachments++;
			else
				st->erased++;
			k = s.due[i].rule == SIZE_MAX ? CL_POLICY_MAX_RULES : s.due[i].rule;
			if (k <= CL_POLICY_MAX_RULES)
				st->per_rule[k]++;
		}
		if (inbatch >= batch) {
			if ((rc = cl_ledger_commit(l, err)))
				goto out;
			st->batches++;
			inbatch = 0;
		}
	}
	if (inbatch > 0) {
		if ((rc = cl_ledger_commit(l, err)))
			goto out;
		st->batches++;
	}
	rc = cl_ledger_scrub(l, err);
out:
	free(s.due);
	free(s.att);
	cl_retention_lifecycle_release(&lc);
	return rc;
}

/* ---- explain ---------------------------------------------------------- */

struct one {
	uint64_t want;
	int found, has_payload;
	struct cl_buf leaf, attrs;
};

static int find_one(void *ctx, uint64_t index, const unsigned char *p, size_t n,
		    const unsigned char *attrs, size_t alen, int has_payload)
{
	struct one *o = ctx;
	int rc;

	if (index != o->want)
		return CL_OK;
	o->found = 1;
	o->has_payload = has_payload;
	if ((rc = cl_buf_add(&o->leaf, p, n)))
		return rc;
	if (attrs && (rc = cl_buf_add(&o->attrs, attrs, alen)))
		return rc;
	return 1; /* stop */
}

int cl_retention_explain(struct cl_ledger *l, const struct cl_policy *p, uint64_t index,
	       int64_t now, json_t **out, char **err)
{
	struct cl_retention_lifecycle lc;
	struct cl_retention_stats st;
	struct scan s;
	struct one o;
	struct cl_leaf lf;
	struct cl_policy_decision d;
	json_t *j = NULL, *rules, *holds;
	size_t i;
	int rc, t;

	*out = NULL;
	memset(&o, 0, sizeof(o));
	memset(&s, 0, sizeof(s));
	memset(&st, 0, sizeof(st));
	o.want = index;
	cl_buf_init(&o.leaf, 1 << 20);
	cl_buf_init(&o.attrs, 1 << 16);
	if ((rc = cl_retention_lifecycle_load(l, &lc, err)))
		goto out;
	for (t = CL_ENTRY_RECORD; t <= CL_ENTRY_QUARANTINE && !o.found; t++) {
		int r2 = cl_ledger_each(l, t, find_one, &o, err);

		if (r2 != CL_OK && r2 != 1) {
			rc = r2;
			goto out;
		}
	}
	if (!o.found) {
		rc = cl_error(err, CL_ENOTFOUND, "no entry %llu", (unsigned long long)index);
		goto out;
	}
	if ((rc = cl_leaf_decode(o.leaf.data, o.leaf.len, &lf, err)))
		goto out;
	j = json_object();
	json_object_set_new(j, "index", json_integer((json_int_t)index));
	json_object_set_new(j, "type", json_string(cl_entry_type_name(lf.type)));
	json_object_set_new(j, "kind", json_string(lf.kind));
	json_object_set_new(j, "sent_at", time_json(lf.sent_at));
	json_object_set_new(j, "now", time_json(now));
	if (lf.type == CL_ENTRY_TOMBSTONE || lf.type == CL_ENTRY_CONTROL ||
	    lf.type == CL_ENTRY_COVERAGE) {
		json_object_set_new(j, "decision", json_string("not-subject-to-retention"));
		goto done;
	}
	if (!o.has_payload) {
		json_object_set_new(j, "decision", json_string("erased"));
		goto done;
	}
	s.l = l;
	s.p = p;
	s.lc = &lc;
	s.now = now;
	s.st = &st;
	s.err = err;
	if ((rc = decide_entry(&s, index, &lf, o.attrs.len ? o.attrs.data : NULL,
			       o.attrs.len, &d)))
		goto out;
	json_object_set_new(j, "decision", json_string(d.action == CL_POLICY_ERASE ?
						       "erase" : "keep"));
	json_object_set_new(j, "reason", json_string(d.reason));
	json_object_set_new(j, "retain_until", time_json(d.retain_until));
	json_object_set_new(j, "erase_after", time_json(d.erase_after));
	rules = json_array();
	for (i = 0; i < d.n_clocks; i++) {
		size_t r = d.clocks[i].rule;

		json_array_append_new(rules, json_pack(
			"{s:s, s:s, s:s, s:s, s:s?, s:o, s:o, s:o, s:s}",
			"rule", cl_policy_rule_name(p, r),
			"clock", cl_policy_rule_clock(p, r),
			"confidence", cl_policy_rule_confidence(p, r),
			"minimum", cl_policy_rule_minimum(p, r),
			"maximum", cl_policy_rule_maximum(p, r),
			"start", time_json(d.clocks[i].start),
			"retain_until", time_json(d.clocks[i].retain_until),
			"erase_after", time_json(d.clocks[i].erase_after),
			"basis", cl_policy_rule_basis(p, r)));
	}
	json_object_set_new(j, "rules", rules);
	holds = json_array();
	for (i = 0; i < d.n_holds; i++) {
		const struct cl_policy_hold *h = &lc.holds[d.holds[i]];

		json_array_append_new(holds, json_pack("{s:s, s:o}", "case",
						       h->case_id ? h->case_id : "",
						       "until", time_json(h->until)));
	}
	json_object_set_new(j, "holds", holds);
	json_object_set_new(j, "policy_default", json_string(cl_policy_default(p)));
done:
	*out = j;
	j = NULL;
out:
	json_decref(j);
	cl_retention_lifecycle_release(&lc);
	cl_buf_release(&o.leaf);
	cl_buf_release(&o.attrs);
	return rc;
}
