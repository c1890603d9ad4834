/*
 * select.c - selection by keyed hashes and leaf fields, decrypt-and-scan
 * text matching within the selection, and access entries (select.h).
 *
 * Cost model (docs/man/chatledger-search.1, DESIGN): the selection reads
 * each record's leaf and attrs (no key, no plaintext); only the records
 * that pass it are decrypted, each once, in memory, and the plaintext is
 * wiped after the callback returns.  Nothing derived from plaintext is
 * ever written.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/export/select.h"
#include "archiver/ledger/leaf.h"
#include "archiver/parties/parties.h"
#include "common/buf.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define PT_MAX (32u << 20)  /* above the ledger's largest payload */

void cl_select_query_init(struct cl_select_query *q)
{
	memset(q, 0, sizeof(*q));
	q->from = CL_TIME_NONE;
	q->to = CL_TIME_NONE;
}

/* ---- the compiled selection ------------------------------------------ */

struct hashset {
	uint64_t *v;
	size_t n;
};

struct erased {
	uint64_t idx;        /* the erased entry */
	int64_t at;          /* the tombstone's logged_at */
	char *rule;
};

struct sel {
	struct cl_ledger *l;
	const struct cl_select_query *q;
	const unsigned char *sk;
	struct hashset conv, label;
	struct cl_convset *parties; /* conversations of the parties, or NULL */
	int need_attrs;          /* conversation or label selectors given */
	/* include_erased: tombstones by erased index, sorted */
	struct erased *er;
	size_t n_er;
	/* include_erased with keyed selectors: conversation tags of the
	 * records that match them (sorted 32-byte tags) */
	unsigned char *tags;
	size_t n_tags, cap_tags;
	/* scan state */
	uint64_t last_record;    /* the last delivered record, for attachments */
	int last_erased;         /* ... which was an erased entry */
	int have_last;
	struct cl_buf pt;
	struct cl_opener *op;    /* opens the selected payloads (s->sk) */
	struct cl_ledger *op_l;  /* ... of this handle */
	const unsigned char *op_sk; /* ... with this key */
	struct cl_buf leaf;      /* the leaf of the entry opened last */
	unsigned char salt[32];
	char **err;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int hashset_add(struct sel *s, struct hashset *h, const char *type, const char *value)
{
	uint64_t v, *nv;
	int rc;

	if ((rc = cl_ledger_attr_hash(s->l, type, value, &v)))
		return cl_error(s->err, rc, "selecting by %s needs the archive's tag key"
				" (open it as the writer)", type);
	nv = realloc(h->v, (h->n + 1) * sizeof(*nv));
	if (nv == NULL)
		return CL_ENOMEM;
	h->v = nv;
	h->v[h->n++] = v;
	return CL_OK;
}

static void hashset_sort(struct hashset *h)
{
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), cmp_u64);
}

/* Does the sorted attrs blob (n big-endian u64s) hold any member of h? */
static int attrs_any(const struct hashset *h, const unsigned char *attrs, size_t alen)
{
	size_t i, n = alen / 8;

	for (i = 0; i < n; i++) {
		uint64_t v = cl_load_be64(attrs + 8 * i);

		if (bsearch(&v, h->v, h->n, sizeof(*h->v), cmp_u64))
			return 1;
	}
	return 0;
}

/* Conversation and label selectors, on the entry's attrs. */
static int keyed_match(const struct sel *s, const unsigned char *attrs, size_t alen)
{
	if (!s->need_attrs)
		return 1;
	if (attrs == NULL)
		return 0;
	return (s->conv.n == 0 || attrs_any(&s->conv, attrs, alen)) &&
	       (s->label.n == 0 || attrs_any(&s->label, attrs, alen));
}

/* Party selectors, on the leaf's conversation tag (parties.h: every
 * conversation in which the parties take part, through their links). */
static int party_match(const struct sel *s, const struct cl_leaf *lf)
{
	return s->parties == NULL || cl_convset_has(s->parties, lf->conv_tag);
}

static int leaf_match(const struct sel *s, const struct cl_leaf *lf)
{
	const struct cl_select_query *q = s->q;
	size_t i;

	if (q->from != CL_TIME_NONE && (lf->sent_at == CL_TIME_NONE || lf->sent_at < q->from))
		return 0;
	if (q->to != CL_TIME_NONE && (lf->sent_at == CL_TIME_NONE || lf->sent_at > q->to))
		return 0;
	if (q->n_kinds == 0)
		return 1;
	for (i = 0; i < q->n_kinds; i++)
		if (q->kinds[i] && strcmp(q->kinds[i], lf->kind) == 0)
			return 1;
	return 0;
}

static int cmp_tag(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int tag_known(const struct sel *s, const unsigned char tag[32])
{
	return s->n_tags && bsearch(tag, s->tags, s->n_tags, 32, cmp_tag) != NULL;
}

static int cmp_erased(const void *a, const void *b)
{
	const struct erased *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static const struct erased *erased_of(const struct sel *s, uint64_t idx)
{
	struct erased key;

	memset(&key, 0, sizeof(key));
	key.idx = idx;
	return s->n_er ? bsearch(&key, s->er, s->n_er, sizeof(*s->er), cmp_erased) : NULL;
}

static void sel_release(struct sel *s)
{
	size_t i;

	cl_convset_free(s->parties);
	free(s->conv.v);
	free(s->label.v);
	for (i = 0; i < s->n_er; i++)
		free(s->er[i].rule);
	free(s->er);
	free(s->tags);
	if (s->pt.data)
		sodium_memzero(s->pt.data, s->pt.alloc);
	cl_buf_release(&s->pt);
	cl_buf_release(&s->leaf);
	cl_opener_free(s->op);
	s->op = NULL;
	sodium_memzero(s->salt, sizeof(s->salt));
}

/* ---- text matching ---------------------------------------------------- */

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII) search of w[0..wn) in t[0..tn). */
static int find_folded(const unsigned char *t, size_t tn, const unsigned char *w, size_t wn)
{
	size_t i, j;

	if (wn == 0)
		return 1;
	for (i = 0; i + wn <= tn; i++) {
		for (j = 0; j < wn && fold(t[i + j]) == fold(w[j]); j++)
			;
		if (j == wn)
			return 1;
	}
	return 0;
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int cl_select_text_match(const char *words, const char *text, size_t len)
{
	const unsigned char *w = (const unsigned char *)words;

	if (words == NULL)
		return 1;
	for (;;) {
		size_t n = 0;

		while (*w && is_space(*w))
			w++;
		if (*w == 0)
			return 1;
		/* U+3000 IDEOGRAPHIC SPACE also separates words. */
		while (w[n] && !is_space(w[n]) &&
		       !(w[n] == 0xe3 && w[n + 1] == 0x80 && w[n + 2] == 0x80))
			n++;
		if (n && !find_folded((const unsigned char *)text, len, w, n))
			return 0;
		w += n;
		if (w[0] == 0xe3 && w[1] == 0x80 && w[2] == 0x80)
			w += 3;
	}
}

/* The text a query is matched against: the record's text, its
 * attachments' names and captions, joined by newlines. */
static int record_text(const json_t *rec, struct cl_buf *out)
{
	const json_t *a, *v;
	size_t i;
	int rc = CL_OK;

	cl_buf_reset(out);
	if ((v = json_object_get(rec, "text")) && json_is_string(v))
		rc = cl_buf_add(out, json_string_value(v), json_string_length(v));
	a = json_object_get(rec, "attachments");
	json_array_foreach(a, i, v) {
		const json_t *s;

		if (rc == CL_OK && (s = json_object_get(v, "name")) && json_is_string(s) &&
		    (rc = cl_buf_add(out, "\n", 1)) == CL_OK)
			rc = cl_buf_add(out, json_string_value(s), json_string_length(s));
		if (rc == CL_OK && (s = json_object_get(v, "caption")) && json_is_string(s) &&
		    (rc = cl_buf_add(out, "\n", 1)) == CL_OK)
			rc = cl_buf_add(out, json_string_value(s), json_string_length(s));
	}
	if (rc == CL_OK && (v = json_object_get(rec, "caption")) && json_is_string(v) &&
	    (rc = cl_buf_add(out, "\n", 1)) == CL_OK)
		rc = cl_buf_add(out, json_string_value(v), json_string_length(v));
	return rc;
}

static int text_match(const struct sel *s, const json_t *rec)
{
	struct cl_buf t;
	int yes = 0;

	cl_buf_init(&t, PT_MAX);
	if (record_text(rec, &t) == CL_OK)
		yes = cl_select_text_match(s->q->text, t.data ? (const char *)t.data : "", t.len);
	if (t.data)
		sodium_memzero(t.data, t.alloc);
	cl_buf_release(&t);
	return yes;
}

/* ---- the plan: one scan without the key ------------------------------ */

enum { P_REC = 0, P_ATT = 1, P_ERASED = 2 };

struct pent {
	uint64_t idx;
	uint64_t parent;       /* the record an attachment belongs to */
	uint8_t what;          /* P_* */
	uint8_t drop;          /* removed by the text filter */
};

struct cl_select_plan {
	struct sel s;
	struct pent *v;
	size_t n, cap;
	uint64_t records;      /* P_REC entries not dropped */
	int text_done;         /* the text filter has run */
	/* the indexed path: the last record entry visited */
	uint64_t prev;
	int have_prev;
};

static uint64_t attachment_of(const struct cl_leaf *lf)
{
	json_t *b = json_loadb((const char *)lf->body, lf->body_len, 0, NULL);
	json_t *v = json_object_get(b, "attachment_of");
	uint64_t r = UINT64_MAX;

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		r = (uint64_t)json_integer_value(v);
	json_decref(b);
	return r;
}

static int plan_push(struct cl_select_plan *p, uint64_t idx, uint64_t parent, uint8_t what)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? 2 * p->cap : 256;
		struct pent *nv = realloc(p->v, nc * sizeof(*nv));

		if (nv == NULL)
			return CL_ENOMEM;
		p->v = nv;
		p->cap = nc;
	}
	p->v[p->n].idx = idx;
	p->v[p->n].parent = parent;
	p->v[p->n].what = what;
	p->v[p->n].drop = 0;
	p->n++;
	if (what == P_REC)
		p->records++;
	return CL_OK;
}

static int on_scan(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		   const unsigned char *attrs, size_t alen, int has_payload)
{
	struct cl_select_plan *p = ctx;
	struct sel *s = &p->s;
	struct cl_leaf lf;
	char *e = NULL;

	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(s->err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	if (strcmp(lf.kind, "attachment") == 0) {
		if (!s->have_last || attachment_of(&lf) != s->last_record)
			return CL_OK;
		if (has_payload && !s->last_erased)
			return plan_push(p, index, s->last_record, P_ATT);
		if (!has_payload && s->q->include_erased)
			return plan_push(p, index, s->last_record, P_ERASED);
		return CL_OK;
	}
	s->have_last = 0;
	if (!leaf_match(s, &lf) || !party_match(s, &lf))
		return CL_OK;
	if (!has_payload) {
		/* Erased (or never sealed): its attrs are gone, so conversation
		 * and label selectors match it through its conversation tag. */
		if (!s->q->include_erased || s->q->text || sodium_is_zero(lf.ct_hash, 32))
			return CL_OK;
		if (s->need_attrs && !tag_known(s, lf.conv_tag))
			return CL_OK;
		s->have_last = 1;
		s->last_erased = 1;
		s->last_record = index;
		return plan_push(p, index, index, P_ERASED);
	}
	if (!keyed_match(s, attrs, alen))
		return CL_OK;
	s->have_last = 1;
	s->last_erased = 0;
	s->last_record = index;
	return plan_push(p, index, index, P_REC);
}

/* ---- the indexed path: a party's conversations, not every record ----- */

/*
 * With party selectors, the plan need not read every record: the
 * records that carry the parties' tokens are found through the attribute
 * index (cl_ledger_attr_lookup), their conversations are the candidates,
 * and each conversation's chain lists its entries.  on_scan then sees
 * those entries in log order, exactly as in a full scan but for the
 * records of other conversations in between, which only matter to an
 * attachment's "right after its record" test: that gap is checked.
 * The party convset (cl_parties_select) still decides membership, so the
 * result is the full scan's.
 */
#define IX_MAX_CONVS 4096u

struct ix_ent {
	uint64_t idx;
	size_t leaf, leaf_len;   /* offsets into ix_ctx.data */
	size_t attrs, attrs_len;
	int has_attrs, has_payload;
};

struct ix_ctx {
	struct sel *s;
	struct cl_map tags;      /* candidate conversations */
	struct ix_ent *e;        /* their entries, as their chains give them */
	size_t n, cap;
	struct cl_buf data;      /* the entries' leaves and attrs */
};

static int cmp_ix(const void *a, const void *b)
{
	const struct ix_ent *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int ix_tag(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		  const unsigned char *attrs, size_t alen, int has_payload)
{
	struct ix_ctx *c = ctx;
	struct cl_leaf lf;
	char *e = NULL;

	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(c->s->err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	if (lf.type != CL_ENTRY_RECORD || strcmp(lf.kind, "attachment") == 0 ||
	    !cl_convset_has(c->s->parties, lf.conv_tag) || cl_map_get(&c->tags, lf.conv_tag))
		return CL_OK;
	return cl_map_put(&c->tags, lf.conv_tag) ? CL_OK : CL_ENOMEM;
}

static int ix_collect(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		      const unsigned char *attrs, size_t alen, int has_payload)
{
	struct ix_ctx *c = ctx;
	struct ix_ent *e;
	int rc;

	if (c->n == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 1024;
		struct ix_ent *nv = realloc(c->e, nc * sizeof(*nv));

		if (nv == NULL)
			return CL_ENOMEM;
		c->e = nv;
		c->cap = nc;
	}
	e = &c->e[c->n];
	e->idx = index;
	e->leaf = c->data.len;
	e->leaf_len = leaf_len;
	if ((rc = cl_buf_add(&c->data, leaf, leaf_len)))
		return rc;
	e->attrs = c->data.len;
	e->attrs_len = attrs ? alen : 0;
	e->has_attrs = attrs != NULL;
	if (attrs && (rc = cl_buf_add(&c->data, attrs, alen)))
		return rc;
	e->has_payload = has_payload;
	c->n++;
	return CL_OK;
}

static int on_scan(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		   const unsigned char *attrs, size_t alen, int has_payload);

/* on_scan for one candidate entry of the indexed path. */
static int ix_scan(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		   const unsigned char *attrs, size_t alen, int has_payload)
{
	struct cl_select_plan *p = ctx;
	struct cl_leaf lf;
	char *e = NULL;
	int rc, between = 0;

	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(p->s.err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	if (lf.type != CL_ENTRY_RECORD)
		return CL_OK;
	if (p->s.have_last && p->have_prev && strcmp(lf.kind, "attachment") == 0 &&
	    (rc = cl_ledger_record_between(p->s.l, p->prev, index, &between, p->s.err)))
		return rc;
	if (between)
		p->s.have_last = 0;   /* a full scan would have passed a record */
	p->prev = index;
	p->have_prev = 1;
	return on_scan(p, index, leaf, leaf_len, attrs, alen, has_payload);
}

/* The plan through the index; *used = 0 when it does not apply. */
static int plan_indexed(struct cl_select_plan *p, const struct cl_select_query *q,
			int *used, char **err)
{
	struct sel *s = &p->s;
	struct cl_ledger *l = s->l;
	struct cl_parties *pp = NULL;
	struct ix_ctx c;
	uint64_t *all = NULL, *closed = NULL, *cand = NULL;
	size_t na = 0, nc = 0, ncand = 0, i;
	int rc = CL_OK, usable = 0;

	*used = 0;
	memset(&c, 0, sizeof(c));
	c.s = s;
	cl_map_init(&c.tags);
	cl_buf_init(&c.data, (size_t)1 << 34);
	if (s->parties == NULL)
		return CL_OK;
	for (i = 0; i < q->n_parties; i++) {
		uint64_t *t = NULL, *na_v;
		size_t nt = 0;

		if ((rc = cl_parties_selector_tokens(l, q->parties[i], &t, &nt)))
			goto out;
		na_v = realloc(all, (na + nt + 1) * sizeof(*all));
		if (na_v == NULL) {
			free(t);
			rc = CL_ENOMEM;
			goto out;
		}
		all = na_v;
		if (nt)
			memcpy(all + na, t, nt * sizeof(*t));
		na += nt;
		free(t);
	}
	if ((rc = cl_parties_load(l, &pp, err)) ||
	    (rc = cl_parties_close(pp, all, na, &closed, &nc)) ||
	    (rc = cl_ledger_attr_lookup(l, closed, nc, &cand, &ncand, &usable, err)) ||
	    !usable)
		goto out;
	for (i = 0; i < ncand && rc == CL_OK; i++)
		rc = cl_ledger_entry(l, cand[i], ix_tag, &c, err);
	if (rc || c.tags.count > IX_MAX_CONVS)
		goto out;
	for (i = 0; i < c.tags.cap && rc == CL_OK; i++)
		if (c.tags.slots[i].used)
			rc = cl_ledger_conv_each(l, c.tags.slots[i].key, ix_collect, &c, err);
	if (rc)
		goto out;
	qsort(c.e, c.n, sizeof(*c.e), cmp_ix);
	for (i = 0; i < c.n && rc == CL_OK; i++) {
		const struct ix_ent *e = &c.e[i];

		if (i == 0 || e->idx != c.e[i - 1].idx)
			rc = ix_scan(p, e->idx, c.data.data + e->leaf, e->leaf_len,
				     e->has_attrs ? c.data.data + e->attrs : NULL,
				     e->attrs_len, e->has_payload);
	}
	if (rc == CL_OK)
		*used = 1;
out:
	cl_parties_free(pp);
	cl_map_release(&c.tags);
	free(c.e);
	cl_buf_release(&c.data);
	free(all);
	free(closed);
	free(cand);
	return rc;
}

/* Pre-pass for include_erased with keyed selectors: the conversation tags
 * of the records the keyed selectors match. */
static int on_tag(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		  const unsigned char *attrs, size_t alen, int has_payload)
{
	struct sel *s = ctx;
	struct cl_leaf lf;
	char *e = NULL;

	(void)has_payload;
	if (attrs == NULL || !keyed_match(s, attrs, alen))
		return CL_OK;
	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(s->err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	if (s->n_tags == s->cap_tags) {
		size_t nc = s->cap_tags ? 2 * s->cap_tags : 64;
		unsigned char *nt = realloc(s->tags, nc * 32);

		if (nt == NULL)
			return CL_ENOMEM;
		s->tags = nt;
		s->cap_tags = nc;
	}
	memcpy(s->tags + 32 * s->n_tags++, lf.conv_tag, 32);
	return CL_OK;
}

static int on_tombstone(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
			const unsigned char *attrs, size_t alen, int has_payload)
{
	struct sel *s = ctx;
	struct cl_leaf lf;
	struct erased *ne;
	json_t *b, *v;
	const char *rule;
	char *e = NULL;

	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(s->err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	v = json_object_get(b, "erased");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		json_decref(b);
		return CL_OK;
	}
	ne = realloc(s->er, (s->n_er + 1) * sizeof(*ne));
	if (ne == NULL) {
		json_decref(b);
		return CL_ENOMEM;
	}
	s->er = ne;
	rule = json_string_value(json_object_get(b, "rule"));
	ne[s->n_er].idx = (uint64_t)json_integer_value(v);
	ne[s->n_er].at = lf.logged_at;
	ne[s->n_er].rule = strdup(rule ? rule : "");
	json_decref(b);
	if (ne[s->n_er].rule == NULL)
		return CL_ENOMEM;
	s->n_er++;
	return CL_OK;
}

static int sel_compile(struct sel *s, struct cl_ledger *l, const unsigned char *sk,
		       const struct cl_select_query *q, char **err)
{
	size_t i;
	int rc = CL_OK;

	memset(s, 0, sizeof(*s));
	s->l = l;
	s->q = q;
	s->sk = sk;
	s->err = err;
	cl_buf_init(&s->pt, PT_MAX);
	cl_buf_init(&s->leaf, CL_LEAF_FIXED + CL_KIND_MAX + CL_LEAF_MAX_BODY + 1);
	if (q->n_parties &&
	    (rc = cl_parties_select(l, q->parties, q->n_parties, &s->parties, err)))
		return rc;
	for (i = 0; rc == CL_OK && i < q->n_conversations; i++)
		rc = hashset_add(s, &s->conv, "conversation", q->conversations[i]);
	for (i = 0; rc == CL_OK && i < q->n_labels; i++)
		rc = hashset_add(s, &s->label, "label", q->labels[i]);
	if (rc)
		return rc;
	hashset_sort(&s->conv);
	hashset_sort(&s->label);
	s->need_attrs = q->n_conversations || q->n_labels;
	if (q->include_erased && q->text == NULL) {
		if ((rc = cl_ledger_each(l, CL_ENTRY_TOMBSTONE, on_tombstone, s, err)))
			return rc;
		if (s->n_er > 1)
			qsort(s->er, s->n_er, sizeof(*s->er), cmp_erased);
		if (s->need_attrs) {
			if ((rc = cl_ledger_each(l, CL_ENTRY_RECORD, on_tag, s, err)))
				return rc;
			if (s->n_tags > 1)
				qsort(s->tags, s->n_tags, 32, cmp_tag);
		}
	}
	return CL_OK;
}

void cl_select_plan_free(struct cl_select_plan *p)
{
	if (p == NULL)
		return;
	sel_release(&p->s);
	free(p->v);
	free(p);
}

int cl_select_plan_new(struct cl_ledger *l, const struct cl_select_query *q,
		       struct cl_select_plan **out, char **err)
{
	struct cl_select_plan *p = calloc(1, sizeof(*p));
	int rc, reading = 0, used = 0;

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	if ((rc = cl_ledger_read_begin(l, &reading, err)) == CL_OK &&
	    (rc = sel_compile(&p->s, l, NULL, q, err)) == CL_OK &&
	    (rc = plan_indexed(p, q, &used, err)) == CL_OK && !used) {
		/* From scratch: the indexed attempt may have planned some. */
		p->n = 0;
		p->records = 0;
		p->s.have_last = 0;
		rc = cl_ledger_each(l, CL_ENTRY_RECORD, on_scan, p, err);
	}
	cl_ledger_read_end(l, reading);
	if (rc) {
		cl_select_plan_free(p);
		return rc;
	}
	*out = p;
	return CL_OK;
}

uint64_t cl_select_plan_records(const struct cl_select_plan *p)
{
	return p->records;
}

/* Decrypt entry idx into s->pt, its leaf into s->leaf and its salt into
 * s->salt, through the selection's opener (made on first use with s->sk;
 * the plan may be run with another handle than it was made with). */
static int open_entry(struct sel *s, uint64_t idx)
{
	int rc;

	if (s->pt.data)
		sodium_memzero(s->pt.data, s->pt.len);
	cl_buf_reset(&s->pt);
	cl_buf_reset(&s->leaf);
	if (s->op != NULL && (s->op_l != s->l || s->op_sk != s->sk)) {
		cl_opener_free(s->op);
		s->op = NULL;
	}
	if (s->op == NULL && (rc = cl_opener_new(s->l, s->sk, &s->op, s->err)))
		return rc;
	s->op_l = s->l;
	s->op_sk = s->sk;
	return cl_opener_open(s->op, idx, &s->pt, s->salt, &s->leaf, s->err);
}

/* Decrypt record entry e into s->pt and parse it (*rec: caller decrefs). */
static int open_record(struct sel *s, uint64_t idx, json_t **rec)
{
	int rc;

	*rec = NULL;
	if ((rc = open_entry(s, idx)))
		return rc;
	*rec = json_loadb((const char *)s->pt.data, s->pt.len, 0, NULL);
	if (*rec == NULL)
		return cl_error(s->err, CL_ECORRUPT, "entry %" PRIu64 ": payload is not JSON", idx);
	return CL_OK;
}

int cl_select_plan_filter_text(struct cl_ledger *l, const unsigned char *seal_sk,
			       struct cl_select_plan *p, char **err)
{
	struct sel *s = &p->s;
	size_t i;
	int rc = CL_OK, keep = 1, reading = 0;

	if (s->q->text == NULL || p->text_done)
		return CL_OK;
	if (seal_sk == NULL)
		return cl_error(err, CL_EINVAL, "a text query needs the unlocked key");
	s->l = l;
	s->sk = seal_sk;
	s->err = err;
	if ((rc = cl_ledger_read_begin(l, &reading, err)))
		return rc;
	for (i = 0; i < p->n && rc == CL_OK; i++) {
		struct pent *e = &p->v[i];
		json_t *rec = NULL;

		if (e->what != P_REC) {
			e->drop = (uint8_t)!keep;
			continue;
		}
		if ((rc = open_record(s, e->idx, &rec)) == CL_OK) {
			keep = text_match(s, rec);
			if (!keep) {
				e->drop = 1;
				p->records--;
			}
		}
		json_decref(rec);
		sodium_memzero(s->pt.data, s->pt.len);
	}
	cl_ledger_read_end(l, reading);
	if (rc == CL_OK)
		p->text_done = 1;
	return rc;
}

static int deliver(struct sel *s, const struct pent *e, cl_select_fn fn, void *ctx,
		   uint64_t *hits, int text_done)
{
	struct cl_select_hit h;
	struct cl_leaf lf;
	json_t *rec = NULL;
	int rc = CL_OK;

	memset(&h, 0, sizeof(h));
	h.index = e->idx;
	h.lf = &lf;
	h.erased_at = CL_TIME_NONE;
	if (e->what == P_ERASED) {
		const struct erased *er = erased_of(s, e->idx);

		cl_buf_reset(&s->leaf);
		if ((rc = cl_ledger_leaf(s->l, e->idx, &s->leaf, s->err)) ||
		    (rc = cl_leaf_decode(s->leaf.data, s->leaf.len, &lf, s->err)))
			goto out;
		h.erased_rule = er ? er->rule : "";
		h.erased_at = er ? er->at : CL_TIME_NONE;
		h.what = CL_SELECT_ERASED;
		rc = fn(ctx, &h);
		goto out;
	}
	if (e->what == P_REC) {
		if ((rc = open_record(s, e->idx, &rec)))
			goto out;
		if (s->q->text && !text_done && !text_match(s, rec)) {
			s->last_erased = 1;   /* its attachments stay out */
			goto out;
		}
		s->last_erased = 0;
		(*hits)++;
		h.rec = rec;
	} else {
		h.what = CL_SELECT_ATTACHMENT;
		if (s->last_erased)
			goto out;
		if ((rc = open_entry(s, e->idx)))
			goto out;
	}
	if ((rc = cl_leaf_decode(s->leaf.data, s->leaf.len, &lf, s->err)))
		goto out;
	h.pt = s->pt.data;
	h.ptlen = s->pt.len;
	h.leaf = s->leaf.data;
	h.leaf_len = s->leaf.len;
	h.salt = s->salt;
	rc = fn(ctx, &h);
out:
	/* jansson's copies of the strings are freed, not wiped: wipe what we
	 * can reach (the decrypted bytes). */
	json_decref(rec);
	if (s->pt.data)
		sodium_memzero(s->pt.data, s->pt.len);
	sodium_memzero(s->salt, sizeof(s->salt));
	return rc;
}

int cl_select_plan_run(struct cl_ledger *l, const unsigned char *seal_sk,
		       struct cl_select_plan *p, cl_select_fn fn, void *ctx,
		       uint64_t *n_hits, char **err)
{
	struct sel *s = &p->s;
	uint64_t hits = 0;
	size_t i;
	int rc = CL_OK, reading = 0;

	if (n_hits)
		*n_hits = 0;
	if (seal_sk == NULL || fn == NULL)
		return cl_error(err, CL_EINVAL, "selection needs the unlocked key and a callback");
	s->l = l;
	s->sk = seal_sk;
	s->err = err;
	s->last_erased = 0;
	if ((rc = cl_ledger_read_begin(l, &reading, err)))
		return rc;
	for (i = 0; i < p->n && rc == CL_OK; i++)
		if (!p->v[i].drop)
			rc = deliver(s, &p->v[i], fn, ctx, &hits, p->text_done);
	cl_ledger_read_end(l, reading);
	if (n_hits)
		*n_hits = hits;
	return rc;
}

int cl_select_plan_walk(struct cl_ledger *l, struct cl_select_plan *p,
			cl_select_fn fn, void *ctx, char **err)
{
	struct cl_select_hit h;
	struct cl_leaf lf;
	size_t i;
	int rc = CL_OK, reading = 0;

	if (p->s.q->text && !p->text_done)
		return cl_error(err, CL_EINVAL, "a text query is applied before the plan is walked");
	if ((rc = cl_ledger_read_begin(l, &reading, err)))
		return rc;
	for (i = 0; i < p->n && rc == CL_OK; i++) {
		const struct pent *e = &p->v[i];

		if (e->drop)
			continue;
		cl_buf_reset(&p->s.leaf);
		if ((rc = cl_ledger_leaf(l, e->idx, &p->s.leaf, err)) ||
		    (rc = cl_leaf_decode(p->s.leaf.data, p->s.leaf.len, &lf, err)))
			break;
		memset(&h, 0, sizeof(h));
		h.index = e->idx;
		h.lf = &lf;
		h.leaf = p->s.leaf.data;
		h.leaf_len = p->s.leaf.len;
		h.erased_at = CL_TIME_NONE;
		h.what = e->what == P_REC ? CL_SELECT_RECORD :
			e->what == P_ATT ? CL_SELECT_ATTACHMENT : CL_SELECT_ERASED;
		rc = fn(ctx, &h);
	}
	cl_ledger_read_end(l, reading);
	return rc;
}

int cl_select_run(struct cl_ledger *l, const unsigned char *seal_sk,
		  const struct cl_select_query *q, cl_select_fn fn, void *ctx,
		  uint64_t *n_hits, char **err)
{
	struct cl_select_plan *p = NULL;
	int rc;

	if (n_hits)
		*n_hits = 0;
	if (seal_sk == NULL || fn == NULL)
		return cl_error(err, CL_EINVAL, "selection needs the unlocked key and a callback");
	if ((rc = cl_select_plan_new(l, q, &p, err)) == CL_OK)
		rc = cl_select_plan_run(l, seal_sk, p, fn, ctx, n_hits, err);
	cl_select_plan_free(p);
	return rc;
}

int cl_select_count(struct cl_ledger *l, const unsigned char *seal_sk,
		    const struct cl_select_query *q, uint64_t *n, char **err)
{
	struct cl_select_plan *p = NULL;
	int rc;

	*n = 0;
	if ((rc = cl_select_plan_new(l, q, &p, err)) == CL_OK &&
	    (rc = cl_select_plan_filter_text(l, seal_sk, p, err)) == CL_OK)
		*n = cl_select_plan_records(p);
	cl_select_plan_free(p);
	return rc;
}

/* ---- ranges ------------------------------------------------------------ */

static int parse_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*v = x;
	return 0;
}

static int cmp_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

int cl_select_parse_ranges(const char *s, uint64_t **pairs, size_t *n, char **err)
{
	uint64_t *v = *pairs;
	size_t start = *n, k = start, i, m;
	const char *p = s;
	int rc = CL_OK;

	if (s == NULL || *s == 0)
		return cl_error(err, CL_EINVAL, "empty range");
	for (;;) {
		uint64_t lo, hi;
		uint64_t *nv;

		if (parse_u64(&p, &lo)) {
			rc = cl_error(err, CL_EINVAL, "range '%s': expected an entry index at"
				      " offset %zu", s, (size_t)(p - s));
			break;
		}
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_u64(&p, &hi)) {
				rc = cl_error(err, CL_EINVAL, "range '%s': expected an entry"
					      " index after '-'", s);
				break;
			}
			if (hi < lo) {
				rc = cl_error(err, CL_EINVAL, "range '%s': %" PRIu64 "-%" PRIu64
					      " ends before it starts", s, lo, hi);
				break;
			}
		}
		if (k - start >= CL_SELECT_MAX_RANGES) {
			rc = cl_error(err, CL_EINVAL, "range '%s': more than %d ranges", s,
				      CL_SELECT_MAX_RANGES);
			break;
		}
		nv = realloc(v, (k + 1) * 2 * sizeof(*v));
		if (nv == NULL) {
			rc = CL_ENOMEM;
			break;
		}
		v = nv;
		v[2 * k] = lo;
		v[2 * k + 1] = hi;
		k++;
		if (*p == 0)
			break;
		if (*p != ',') {
			rc = cl_error(err, CL_EINVAL, "range '%s': unexpected character at"
				      " offset %zu (use N, A-B or a comma-separated list)",
				      s, (size_t)(p - s));
			break;
		}
		p++;
	}
	if (rc) {
		*pairs = v;
		return rc;
	}
	/* Sort and merge all ranges (earlier calls' too). */
	qsort(v, k, 2 * sizeof(*v), cmp_pair);
	for (i = 1, m = 0; i < k; i++) {
		if (v[2 * i] <= v[2 * m + 1] || v[2 * m + 1] + 1 == v[2 * i]) {
			if (v[2 * i + 1] > v[2 * m + 1])
				v[2 * m + 1] = v[2 * i + 1];
		} else {
			m++;
			v[2 * m] = v[2 * i];
			v[2 * m + 1] = v[2 * i + 1];
		}
	}
	*pairs = v;
	*n = k ? m + 1 : 0;
	return CL_OK;
}
