/*
 * run.c - the nightly erasure run and explanations (retention.h): decide
 * every entry that still has a payload with the policy engine, erase the
 * due ones in durable batches.
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
#include "archiver/retention/retention_int.h"
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
	const struct cl_retention_lifecycle *lc;
	const unsigned char *conv_tag;
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

	if (value == NULL)
		return 0;
	/* "@N": the conversations hold or event N resolved to. */
	if (value[0] == '@') {
		char *end;
		unsigned long k = strtoul(value + 1, &end, 10);

		return c->lc && *end == 0 && k < c->lc->n_sets &&
		       cl_convset_has(c->lc->sets[k], c->conv_tag);
	}
	/* Labels an officer gave to the record's conversation. */
	if (strcmp(type, "label") == 0 && c->lc) {
		for (i = 0; i < c->lc->n_labels; i++) {
			const struct cl_retention_label *x = &c->lc->labels[i];

			if (x->active && strcmp(x->label, value) == 0 && x->set < c->lc->n_sets &&
			    cl_convset_has(c->lc->sets[x->set], c->conv_tag))
				return 1;
		}
	}
	if (c->n == 0)
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

/* ---- the erasure run ------------------------------------------------- */

struct due {
	uint64_t index;
	size_t rule;      /* SIZE_MAX = default */
	int attachment;
	uint64_t parent;  /* attachment: its record */
	int64_t sent_at;
	char kind[CL_KIND_MAX + 1];
	unsigned char conv_tag[32];
};

struct range {
	uint64_t start, end;
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

static int push_due(struct scan *s, uint64_t index, size_t rule, int att,
		    const struct cl_leaf *lf)
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
	s->due[s->ndue].parent = UINT64_MAX;
	s->due[s->ndue].sent_at = lf ? (lf->sent_at != CL_TIME_NONE ? lf->sent_at : lf->logged_at) :
		CL_TIME_NONE;
	if (lf) {
		memcpy(s->due[s->ndue].kind, lf->kind, sizeof(lf->kind));
		memcpy(s->due[s->ndue].conv_tag, lf->conv_tag, 32);
	} else {
		memcpy(s->due[s->ndue].kind, "attachment", sizeof("attachment"));
		memset(s->due[s->ndue].conv_tag, 0, 32);
	}
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
	rc_.lc = s->lc;
	rc_.conv_tag = lf->conv_tag;
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
		return push_due(s, index, d.erase_rule, 0, &lf);
	}
	if (strcmp(d.reason, "held") == 0)
		s->st->held++;
	else if (strcmp(d.reason, "awaiting-event") == 0)
		s->st->awaiting++;
	else
		s->st->kept++;
	if (strcmp(d.reason, "no-rule") == 0) {
		/* A quarantined item is bad input kept as evidence, not a
		 * message a rule could classify: counted on its own. */
		if (lf.type == CL_ENTRY_QUARANTINE)
			s->st->quarantine_norule++;
		else
			s->st->norule++;
	}
	return CL_OK;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	return x->parent < y->parent ? -1 : x->parent > y->parent;
}

/*
 * Other writers run between our batches.  A hold or lifecycle event one
 * of them appended after we loaded the lifecycle can change what is due:
 * *changed is set if entries [*seen, size) hold a control entry; *seen
 * moves to the size.  Called inside a batch (the size is caught up).
 */
static int lifecycle_moved(struct cl_ledger *l, uint64_t *seen, int *changed,
			   char **err)
{
	struct cl_buf b;
	struct cl_leaf lf;
	uint64_t i, n = cl_ledger_size(l);
	int rc = CL_OK;

	*changed = 0;
	cl_buf_init(&b, CL_LEAF_FIXED + 64 + CL_LEAF_MAX_BODY);
	for (i = *seen; i < n && !*changed; i++) {
		cl_buf_reset(&b);
		if ((rc = cl_ledger_leaf(l, i, &b, err)) ||
		    (rc = cl_leaf_decode(b.data, b.len, &lf, err)))
			goto out;
		*changed = lf.type == CL_ENTRY_CONTROL;
	}
	*seen = n;
out:
	cl_buf_release(&b);
	return rc;
}

/* One decision pass and its erasures; *again if it stopped early because
 * the lifecycle moved (the batches committed before that stay). */
struct listing {
	cl_retention_list_fn fn;
	void *ctx;
	struct range *ranges;
	size_t nranges, capranges;
};

static void list_due(const struct listing *li, const struct cl_policy *p,
		     const struct due *d)
{
	struct cl_retention_item it;

	if (li == NULL || li->fn == NULL)
		return;
	memset(&it, 0, sizeof(it));
	it.index = d->index;
	it.attachment_of = d->attachment ? d->parent : UINT64_MAX;
	it.rule = d->rule == SIZE_MAX ? "default" : cl_policy_rule_name(p, d->rule);
	it.kind = d->kind;
	it.sent_at = d->sent_at;
	memcpy(it.conv_tag, d->conv_tag, 32);
	li->fn(li->ctx, &it);
}

static int add_range(struct listing *li, uint64_t start, uint64_t end)
{
	if (li->nranges == li->capranges) {
		size_t nc = li->capranges ? 2 * li->capranges : 16;
		struct range *nr = realloc(li->ranges, nc * sizeof(*nr));

		if (nr == NULL)
			return CL_ENOMEM;
		li->ranges = nr;
		li->capranges = nc;
	}
	li->ranges[li->nranges].start = start;
	li->ranges[li->nranges].end = end;
	li->nranges++;
	return CL_OK;
}

static int run_pass(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
		    int dry_run, size_t batch, struct listing *li,
		    struct cl_retention_stats *st, int *again, char **err)
{
	struct cl_retention_lifecycle lc;
	struct scan s;
	size_t i, k, inbatch = 0, nparents;
	uint64_t seen = 0, start = 0;
	int rc, changed = 0;

	memset(st, 0, sizeof(*st));
	memset(&s, 0, sizeof(s));
	memset(&lc, 0, sizeof(lc));
	*again = 0;
	/* An empty batch catches the handle up: holds and events committed
	 * from here on have an index >= seen. */
	if (!dry_run) {
		if ((rc = cl_ledger_begin(l, err)))
			goto out;
		seen = cl_ledger_size(l);
		cl_ledger_rollback(l);
	}
	if ((rc = cl_retention_lifecycle_load(l, &lc, err)) ||
	    (rc = cl_retention_lifecycle_resolve(l, &lc, err)))
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
		for (; hit < s.att + s.natt && hit->parent == key.parent; hit++) {
			if ((rc = push_due(&s, hit->child, s.due[i].rule, 1, NULL)))
				goto out;
			s.due[s.ndue - 1].parent = key.parent;
			s.due[s.ndue - 1].sent_at = s.due[i].sent_at;
			memcpy(s.due[s.ndue - 1].conv_tag, s.due[i].conv_tag, 32);
		}
	}
	if (dry_run) {
		for (i = 0; i < s.ndue; i++)
			list_due(li, p, &s.due[i]);
		goto out;
	}
	for (i = 0; i < s.ndue; i++) {
		const char *rule = s.due[i].rule == SIZE_MAX ? "default" :
			cl_policy_rule_name(p, s.due[i].rule);
		int already = 0;

		if (inbatch == 0) {
			if ((rc = cl_ledger_begin(l, err)))
				goto out;
			if ((rc = lifecycle_moved(l, &seen, &changed, err)) || changed) {
				cl_ledger_rollback(l);
				*again = changed;
				goto out;
			}
			start = cl_ledger_size(l);
		}
		inbatch++;
		rc = cl_ledger_erase(l, s.due[i].index, rule,
				     s.due[i].attachment ? "retention-attachment" : "retention",
				     &already, err);
		if (rc) {
			cl_ledger_rollback(l);
			goto out;
		}
		if (!already) {
			list_due(li, p, &s.due[i]);
			if (s.due[i].attachment)
				st->attachments++;
			else
				st->erased++;
			k = s.due[i].rule == SIZE_MAX ? CL_POLICY_MAX_RULES : s.due[i].rule;
			if (k <= CL_POLICY_MAX_RULES)
				st->per_rule[k]++;
		}
		if (inbatch >= batch) {
			uint64_t end = cl_ledger_size(l);

			if ((rc = cl_ledger_commit(l, err)))
				goto out;
			st->batches++;
			inbatch = 0;
			if (end > start && (rc = add_range(li, start, end)))
				goto out;
		}
	}
	if (inbatch > 0) {
		uint64_t end = cl_ledger_size(l);

		if ((rc = cl_ledger_commit(l, err)))
			goto out;
		st->batches++;
		if (end > start && (rc = add_range(li, start, end)))
			goto out;
	}
out:
	free(s.due);
	free(s.att);
	cl_retention_lifecycle_release(&lc);
	return rc;
}

static int append_report(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
			 const struct cl_retention_stats *st, const struct listing *li,
			 uint64_t *index, char **err)
{
	json_t *pub = json_object(), *per = json_object(), *ranges = json_array();
	size_t i, nr = cl_policy_rule_count(p);
	int rc;

	if (pub == NULL || per == NULL || ranges == NULL) {
		json_decref(pub);
		json_decref(per);
		json_decref(ranges);
		return CL_ENOMEM;
	}
	for (i = 0; i < nr; i++)
		if (st->per_rule[i])
			json_object_set_new(per, cl_policy_rule_name(p, i),
					    json_integer((json_int_t)st->per_rule[i]));
	if (st->per_rule[CL_POLICY_MAX_RULES])
		json_object_set_new(per, "default",
				    json_integer((json_int_t)st->per_rule[CL_POLICY_MAX_RULES]));
	for (i = 0; i < li->nranges; i++)
		json_array_append_new(ranges, json_pack("[I,I]", (json_int_t)li->ranges[i].start,
							(json_int_t)li->ranges[i].end));
	json_object_set_new(pub, "now", cl_retention_time_json(now));
	json_object_set_new(pub, "policy", json_string(cl_policy_name(p) ? cl_policy_name(p) : ""));
	json_object_set_new(pub, "examined", json_integer((json_int_t)st->examined));
	json_object_set_new(pub, "erased", json_integer((json_int_t)st->erased));
	json_object_set_new(pub, "attachments", json_integer((json_int_t)st->attachments));
	json_object_set_new(pub, "held", json_integer((json_int_t)st->held));
	json_object_set_new(pub, "awaiting_event", json_integer((json_int_t)st->awaiting));
	json_object_set_new(pub, "kept", json_integer((json_int_t)st->kept));
	json_object_set_new(pub, "no_rule", json_integer((json_int_t)st->norule));
	json_object_set_new(pub, "per_rule", per);
	json_object_set_new(pub, "tombstone_ranges", ranges);
	/* Counts and ranges only: nothing personal, nothing to seal. */
	rc = cl_retention_append_control(l, "retention-report", pub, NULL, index, err);
	json_decref(pub);
	return rc;
}

int cl_retention_run_list(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
			  int dry_run, size_t batch, cl_retention_list_fn list,
			  void *list_ctx, struct cl_retention_stats *st,
			  uint64_t *report_index, char **err)
{
	struct cl_retention_stats pass;
	struct listing li;
	size_t k;
	int rc, again = 0;

	memset(st, 0, sizeof(*st));
	memset(&li, 0, sizeof(li));
	li.fn = list;
	li.ctx = list_ctx;
	if (report_index)
		*report_index = UINT64_MAX;
	if (batch == 0)
		batch = 1000;
	do {
		rc = run_pass(l, p, now, dry_run, batch, &li, &pass, &again, err);
		/* Erasures add up over passes; decisions are the last pass's. */
		pass.erased += st->erased;
		pass.attachments += st->attachments;
		pass.batches += st->batches;
		for (k = 0; k <= CL_POLICY_MAX_RULES; k++)
			pass.per_rule[k] += st->per_rule[k];
		*st = pass;
	} while (rc == CL_OK && again);
	if (rc == CL_OK && !dry_run)
		rc = cl_ledger_scrub(l, err);
	if (rc == CL_OK && !dry_run) {
		uint64_t idx = 0;

		rc = append_report(l, p, now, st, &li, &idx, err);
		if (rc == CL_OK && report_index)
			*report_index = idx;
	}
	free(li.ranges);
	return rc;
}

int cl_retention_run(struct cl_ledger *l, const struct cl_policy *p, int64_t now,
		     int dry_run, size_t batch, struct cl_retention_stats *st,
		     char **err)
{
	return cl_retention_run_list(l, p, now, dry_run, batch, NULL, NULL, st, NULL, err);
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
	if ((rc = cl_retention_lifecycle_load(l, &lc, err)) ||
	    (rc = cl_retention_lifecycle_resolve(l, &lc, err)))
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
	json_object_set_new(j, "sent_at", cl_retention_time_json(lf.sent_at));
	json_object_set_new(j, "now", cl_retention_time_json(now));
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
	json_object_set_new(j, "retain_until", cl_retention_time_json(d.retain_until));
	json_object_set_new(j, "erase_after", cl_retention_time_json(d.erase_after));
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
			"start", cl_retention_time_json(d.clocks[i].start),
			"retain_until", cl_retention_time_json(d.clocks[i].retain_until),
			"erase_after", cl_retention_time_json(d.clocks[i].erase_after),
			"basis", cl_policy_rule_basis(p, r)));
	}
	json_object_set_new(j, "rules", rules);
	holds = json_array();
	for (i = 0; i < d.n_holds; i++) {
		const struct cl_policy_hold *h = &lc.holds[d.holds[i]];

		json_array_append_new(holds, json_pack("{s:s, s:o}", "case",
						       h->case_id ? h->case_id : "",
						       "until", cl_retention_time_json(h->until)));
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

