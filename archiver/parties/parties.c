/*
 * parties.c - party links and resolution (parties.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/parties/ident.h"
#include "archiver/parties/parties.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_SIDE (2 * CL_IDENT_CANDIDATES + 8)  /* tokens per side of a link */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static size_t sort_unique(uint64_t *v, size_t n)
{
	size_t i, k = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 1; i < n; i++)
		if (v[i] != v[k])
			v[++k] = v[i];
	return k + 1;
}

static int bsearch_u64(const uint64_t *v, size_t n, uint64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid] == x)
			return 1;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void cl_token_format(uint64_t t, char out[18])
{
	unsigned char b[8];

	cl_store_be64(b, t);
	out[0] = '#';
	sodium_bin2hex(out + 1, 17, b, 8);
}

int cl_token_parse16(const char *s, uint64_t *t)
{
	unsigned char b[8];
	char tmp[17];

	if (s == NULL || strnlen(s, 16) < 16)
		return -1;
	memcpy(tmp, s, 16);
	tmp[16] = 0;
	if (cl_hex_decode(tmp, b, 8) != CL_OK)
		return -1;
	*t = cl_load_be64(b);
	return 0;
}

/* A whole "#hex" token. */
static int hex_tok(const char *s, uint64_t *t)
{
	if (s == NULL || s[0] != '#' || strlen(s) != 17)
		return -1;
	return cl_token_parse16(s + 1, t);
}

/* ---- selector tokens ----------------------------------------------------- */

static int add_tok(struct cl_ledger *l, const char *type, const char *value,
		   uint64_t *v, size_t *n, size_t cap)
{
	uint64_t h;
	int rc;

	if (*n == cap)
		return CL_OK;
	if ((rc = cl_ledger_attr_hash(l, type, value, &h)))
		return rc;
	v[(*n)++] = h;
	return CL_OK;
}

/* The tokens of one canonical identifier: "party=ID", and the forms
 * records written before parties existed carried ("participant=RAW"). */
static int canon_tokens(struct cl_ledger *l, const char *id, uint64_t *v, size_t *n,
			size_t cap)
{
	int rc;

	if ((rc = add_tok(l, "party", id, v, n, cap)))
		return rc;
	if (strncmp(id, "tel:+", 5) == 0) {
		char legacy[CL_IDENT_MAX + 32];

		if ((rc = add_tok(l, "participant", id + 5, v, n, cap)) ||
		    (rc = add_tok(l, "participant", id + 4, v, n, cap)))
			return rc;
		(void)cl_fmt(legacy, sizeof(legacy), "%s@s.whatsapp.net", id + 5);
		return add_tok(l, "participant", legacy, v, n, cap);
	}
	if (strncmp(id, "any:", 4) == 0)
		return add_tok(l, "participant", id + 4, v, n, cap);
	return CL_OK;
}

static int sel_tokens(struct cl_ledger *l, const char *sel, uint64_t *v, size_t *n,
		      size_t cap)
{
	char cand[CL_IDENT_CANDIDATES][CL_IDENT_MAX];
	size_t nc, i;
	int rc;

	if ((rc = cl_ident_candidates(sel, cand, &nc)))
		return rc;
	for (i = 0; i < nc; i++)
		if ((rc = canon_tokens(l, cand[i], v, n, cap)))
			return rc;
	/* The selector exactly as typed, as a legacy participant. */
	return add_tok(l, "participant", sel, v, n, cap);
}

int cl_parties_selector_tokens(struct cl_ledger *l, const char *sel,
			       uint64_t **tok, size_t *n)
{
	uint64_t *v = calloc(MAX_SIDE, sizeof(*v));
	int rc;

	*tok = NULL;
	*n = 0;
	if (v == NULL)
		return CL_ENOMEM;
	if ((rc = sel_tokens(l, sel, v, n, MAX_SIDE))) {
		free(v);
		*n = 0;
		return rc;
	}
	*n = sort_unique(v, *n);
	*tok = v;
	return CL_OK;
}

/* ---- the link graph ------------------------------------------------------ */

struct link {
	char id[18];       /* "#" + hex of the pair's link id */
	uint64_t *tok;     /* both sides' tokens */
	size_t n;
	int active;
};

struct cl_parties {
	struct link *links;
	size_t n, cap;
	uint64_t *nodes;   /* sorted unique tokens of active links */
	size_t n_nodes;
	size_t *parent;    /* union-find over nodes */
};

void cl_parties_free(struct cl_parties *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->n; i++)
		free(p->links[i].tok);
	free(p->links);
	free(p->nodes);
	free(p->parent);
	free(p);
}

static struct link *find_link(struct cl_parties *p, const char *id)
{
	size_t i;

	for (i = p->n; i-- > 0;)
		if (strcmp(p->links[i].id, id) == 0)
			return &p->links[i];
	return NULL;
}

static int tok_array(json_t *arr, uint64_t *v, size_t *n, size_t cap)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x) {
		uint64_t t;

		if (*n < cap && hex_tok(json_string_value(x), &t) == 0)
			v[(*n)++] = t;
	}
	return CL_OK;
}

struct load_ctx {
	struct cl_parties *p;
	char **err;
};

static int load_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		    const unsigned char *attrs, size_t alen, int has_payload)
{
	struct load_ctx *c = ctx;
	struct cl_parties *p = c->p;
	struct cl_leaf lf;
	struct link *k;
	json_t *b;
	const char *id;
	char *e = NULL;
	int unlink;

	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, n, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(c->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	unlink = strcmp(lf.kind, "party-unlink") == 0;
	if (!unlink && strcmp(lf.kind, "party-link") != 0)
		return CL_OK;
	b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	id = b ? json_string_value(json_object_get(b, "link")) : NULL;
	if (id == NULL || strlen(id) != 17) {
		json_decref(b);
		return CL_OK;   /* not ours to judge: verify checks bodies */
	}
	k = find_link(p, id);
	if (unlink) {
		if (k)
			k->active = 0;
		json_decref(b);
		return CL_OK;
	}
	if (k == NULL) {
		if (p->n == p->cap) {
			size_t nc = p->cap ? 2 * p->cap : 64;
			struct link *nl = realloc(p->links, nc * sizeof(*nl));

			if (nl == NULL) {
				json_decref(b);
				return CL_ENOMEM;
			}
			p->links = nl;
			p->cap = nc;
		}
		k = &p->links[p->n++];
		memset(k, 0, sizeof(*k));
		memcpy(k->id, id, 18);
		k->tok = calloc(2 * MAX_SIDE, sizeof(*k->tok));
		if (k->tok == NULL) {
			json_decref(b);
			return CL_ENOMEM;
		}
		tok_array(json_object_get(b, "a"), k->tok, &k->n, MAX_SIDE);
		tok_array(json_object_get(b, "b"), k->tok, &k->n, 2 * MAX_SIDE);
	}
	k->active = 1;
	json_decref(b);
	return CL_OK;
}

static size_t uf_find(size_t *parent, size_t i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static size_t node_of(const struct cl_parties *p, uint64_t t)
{
	size_t lo = 0, hi = p->n_nodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->nodes[mid] == t)
			return mid;
		if (p->nodes[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

int cl_parties_load(struct cl_ledger *l, struct cl_parties **out, char **err)
{
	struct cl_parties *p = calloc(1, sizeof(*p));
	struct load_ctx c;
	size_t i, j, total = 0;
	int rc;

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	c.p = p;
	c.err = err;
	if ((rc = cl_ledger_each(l, CL_ENTRY_CONTROL, load_one, &c, err)))
		goto fail;
	for (i = 0; i < p->n; i++)
		if (p->links[i].active)
			total += p->links[i].n;
	p->nodes = calloc(total ? total : 1, sizeof(*p->nodes));
	if (p->nodes == NULL) {
		rc = CL_ENOMEM;
		goto fail;
	}
	for (i = 0; i < p->n; i++)
		if (p->links[i].active) {
			memcpy(p->nodes + p->n_nodes, p->links[i].tok,
			       p->links[i].n * sizeof(uint64_t));
			p->n_nodes += p->links[i].n;
		}
	p->n_nodes = sort_unique(p->nodes, p->n_nodes);
	p->parent = calloc(p->n_nodes ? p->n_nodes : 1, sizeof(*p->parent));
	if (p->parent == NULL) {
		rc = CL_ENOMEM;
		goto fail;
	}
	for (i = 0; i < p->n_nodes; i++)
		p->parent[i] = i;
	for (i = 0; i < p->n; i++) {
		struct link *k = &p->links[i];
		size_t r0;

		if (!k->active || k->n == 0)
			continue;
		r0 = uf_find(p->parent, node_of(p, k->tok[0]));
		for (j = 1; j < k->n; j++) {
			size_t r = uf_find(p->parent, node_of(p, k->tok[j]));

			if (r != r0)
				p->parent[r] = r0;
		}
	}
	*out = p;
	return CL_OK;
fail:
	cl_parties_free(p);
	return rc;
}

int cl_parties_close(const struct cl_parties *p, const uint64_t *in, size_t n,
		     uint64_t **out, size_t *nout)
{
	size_t i, j, k = 0, nroots = 0, cap = n + (p ? p->n_nodes : 0);
	size_t *roots = calloc(n ? n : 1, sizeof(*roots));
	uint64_t *v = calloc(cap ? cap : 1, sizeof(*v));

	*out = NULL;
	*nout = 0;
	if (roots == NULL || v == NULL) {
		free(roots);
		free(v);
		return CL_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t at = p ? node_of(p, in[i]) : SIZE_MAX;

		v[k++] = in[i];
		if (at != SIZE_MAX)
			roots[nroots++] = uf_find(p->parent, at);
	}
	for (j = 0; p && nroots && j < p->n_nodes; j++) {
		size_t r = uf_find(p->parent, j);

		for (i = 0; i < nroots; i++)
			if (roots[i] == r) {
				v[k++] = p->nodes[j];
				break;
			}
	}
	free(roots);
	*nout = sort_unique(v, k);
	*out = v;
	return CL_OK;
}

/* ---- appending links ----------------------------------------------------- */

/* The link id of a pair: a keyed hash of the two canonical primary forms
 * in byte order, so "a b" and "b a", in any spelling, name one link. */
static int link_id(struct cl_ledger *l, const char *a, const char *b, char out[18])
{
	char v[2 * CL_IDENT_MAX + 2];
	uint64_t h;
	int rc;

	if (strcmp(a, b) > 0) {
		const char *t = a;

		a = b;
		b = t;
	}
	(void)cl_fmt(v, sizeof(v), "%s\n%s", a, b);
	if ((rc = cl_ledger_attr_hash(l, "link", v, &h)))
		return rc;
	cl_token_format(h, out);
	return CL_OK;
}

static json_t *tok_json(const uint64_t *t, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < n; i++) {
		char h[18];

		cl_token_format(t[i], h);
		json_array_append_new(a, json_string(h));
	}
	return a;
}

/* Build the entry for a link or unlink of canonical primaries a and b;
 * side tokens from the selectors as typed (sa, sb). */
static int link_entry(struct cl_ledger *l, const char *sa, const char *sb,
		      const char *a, const char *b, int unlink, const char *origin,
		      const char *who, const char *note, int keyed, uint64_t *index,
		      enum cl_append_outcome *dup, char **err)
{
	uint64_t ta[MAX_SIDE], tb[MAX_SIDE];
	size_t na = 0, nb = 0;
	char id[18];
	json_t *pub = NULL, *sealed = NULL;
	char *body = NULL, *pt = NULL;
	struct cl_buf key;
	struct cl_entry_in in;
	int rc;

	cl_buf_init(&key, 2 * CL_IDENT_MAX + 64);
	if ((rc = link_id(l, a, b, id)) ||
	    (rc = sel_tokens(l, sa, ta, &na, MAX_SIDE)) ||
	    (rc = sel_tokens(l, sb, tb, &nb, MAX_SIDE)))
		goto out;
	na = sort_unique(ta, na);
	nb = sort_unique(tb, nb);
	pub = json_pack("{s:s, s:o, s:o, s:s}", "link", id, "a", tok_json(ta, na),
			"b", tok_json(tb, nb), "origin", origin);
	sealed = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "link", id, "a", sa,
			   "b", sb, "a_canonical", a, "b_canonical", b, "origin", origin,
			   "by", who ? who : "");
	if (pub == NULL || sealed == NULL) {
		rc = cl_error(err, CL_EINVAL, "identifiers, origin and note must be valid UTF-8");
		goto out;
	}
	if (note && json_object_set_new(sealed, "note", json_string(note))) {
		rc = cl_error(err, CL_EINVAL, "note must be valid UTF-8");
		goto out;
	}
	body = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	pt = json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS);
	if (body == NULL || pt == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_CONTROL;
	in.kind = unlink ? "party-unlink" : "party-link";
	in.sent_at = CL_TIME_NONE;
	in.received_at = keyed ? CL_TIME_NONE : cl_time_now_ms();
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = strlen(pt);
	in.body = body;
	in.body_len = strlen(body);
	if (keyed) {
		/* A source states a link once: its repetitions are duplicates. */
		if ((rc = cl_buf_addf(&key, "chatledger/party-link/v1\n%s\n%s", origin, id)))
			goto out;
		in.key = key.data;
		in.key_len = key.len;
	}
	rc = cl_ledger_append(l, &in, index, dup, err);
out:
	if (pt)
		sodium_memzero(pt, strlen(pt));
	free(pt);
	free(body);
	json_decref(pub);
	json_decref(sealed);
	cl_buf_release(&key);
	return rc;
}

int cl_party_link(struct cl_ledger *l, const char *a, const char *b, int unlink,
		  const char *origin, const char *who, const char *note,
		  uint64_t *index, char **err)
{
	char ca[CL_IDENT_CANDIDATES][CL_IDENT_MAX], cb[CL_IDENT_CANDIDATES][CL_IDENT_MAX];
	char id[18];
	size_t na, nb;
	struct cl_parties *p = NULL;
	struct link *k;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc;

	if (cl_ident_candidates(a, ca, &na) || cl_ident_candidates(b, cb, &nb))
		return cl_error(err, CL_EINVAL, "an identifier is empty or longer than %u bytes",
				CL_IDENT_MAX - 32);
	if (strcmp(ca[0], cb[0]) == 0)
		return cl_error(err, CL_EINVAL, "both sides are the same identifier (%s)", ca[0]);
	if ((rc = cl_ledger_begin(l, err)))
		return rc;
	/* Decide inside the batch, so a concurrent writer's link counts. */
	if ((rc = link_id(l, ca[0], cb[0], id)) || (rc = cl_parties_load(l, &p, err)))
		goto fail;
	k = find_link(p, id);
	if (unlink && (k == NULL || !k->active)) {
		rc = cl_error(err, CL_ENOTFOUND, "%s and %s are not linked", ca[0], cb[0]);
		goto fail;
	}
	if (!unlink && k && k->active) {
		rc = cl_error(err, CL_EEXIST, "%s and %s are already linked", ca[0], cb[0]);
		goto fail;
	}
	if ((rc = link_entry(l, a, b, ca[0], cb[0], unlink, origin, who, note, 0, index,
			     &dup, err)))
		goto fail;
	cl_parties_free(p);
	return cl_ledger_commit(l, err);
fail:
	cl_parties_free(p);
	cl_ledger_rollback(l);
	return rc;
}

int cl_party_link_in_batch(struct cl_ledger *l, const char *a_canon,
			   const char *b_canon, const char *origin, int *added,
			   char **err)
{
	enum cl_append_outcome dup = CL_APPEND_NEW;
	uint64_t idx;
	int rc;

	*added = 0;
	if (strcmp(a_canon, b_canon) == 0)
		return CL_OK;
	rc = link_entry(l, a_canon, b_canon, a_canon, b_canon, 0, origin, NULL, NULL, 1,
			&idx, &dup, err);
	if (rc == CL_OK)
		*added = dup == CL_APPEND_NEW;
	return rc;
}

/* ---- coverage ------------------------------------------------------------ */

struct cl_convset {
	struct cl_map m;   /* conv tag -> records */
};

int cl_convset_has(const struct cl_convset *s, const unsigned char conv_tag[32])
{
	return s && cl_map_get(&s->m, conv_tag) != NULL;
}

size_t cl_convset_count(const struct cl_convset *s)
{
	return s ? s->m.count : 0;
}

void cl_convset_free(struct cl_convset *s)
{
	if (s == NULL)
		return;
	cl_map_release(&s->m);
	free(s);
}

struct scan_ctx {
	const struct cl_tokgroup *g;   /* sorted copies */
	size_t ng;
	struct cl_convset **out;
	uint64_t *direct;
	struct cl_map all;             /* every conv: u = records, v = first|last */
	char **err;
};

static int attrs_has_any(const unsigned char *attrs, size_t n, const uint64_t *tok,
			 size_t nt)
{
	size_t i, j = 0;

	/* Both sorted: a merge. */
	for (i = 0; i < n && j < nt;) {
		uint64_t a = cl_load_be64(attrs + 8 * i);

		if (a == tok[j])
			return 1;
		if (a < tok[j])
			i++;
		else
			j++;
	}
	return 0;
}

/* What an entry adds to its conversation's cover (records with a payload,
 * first and last time). */
static int scan_cover(struct scan_ctx *c, const struct cl_leaf *lf, int has_payload)
{
	struct cl_map_slot *s = cl_map_put(&c->all, lf->conv_tag);
	int64_t t;

	if (s == NULL)
		return CL_ENOMEM;
	t = lf->sent_at != CL_TIME_NONE ? lf->sent_at : lf->logged_at;
	if (has_payload) {
		int64_t f, la;

		if (s->u == 0) {
			f = t;
			la = t;
		} else {
			f = (int64_t)cl_load_be64(s->v);
			la = (int64_t)cl_load_be64(s->v + 8);
			if (t < f)
				f = t;
			if (t > la)
				la = t;
		}
		cl_store_be64(s->v, (uint64_t)f);
		cl_store_be64(s->v + 8, (uint64_t)la);
		s->u++;
	}
	return CL_OK;
}

/* The groups whose tokens an entry carries take its conversation. */
static int scan_tokens(struct scan_ctx *c, const struct cl_leaf *lf,
		       const unsigned char *attrs, size_t alen, int has_payload)
{
	size_t i;

	if (attrs == NULL || alen < 8)
		return CL_OK;
	for (i = 0; i < c->ng; i++)
		if (attrs_has_any(attrs, alen / 8, c->g[i].tok, c->g[i].n)) {
			if (cl_map_put(&c->out[i]->m, lf->conv_tag) == NULL)
				return CL_ENOMEM;
			if (has_payload)
				c->direct[i]++;
		}
	return CL_OK;
}

/* A record that is not an attachment (the entries coverage counts). */
static int scan_leaf(struct scan_ctx *c, uint64_t index, const unsigned char *leaf,
		     size_t n, struct cl_leaf *lf, int *counts)
{
	char *e = NULL;

	*counts = 0;
	if (cl_leaf_decode(leaf, n, lf, &e) != CL_OK) {
		free(e);
		return cl_error(c->err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	*counts = lf->type == CL_ENTRY_RECORD && strcmp(lf->kind, "attachment") != 0;
	return CL_OK;
}

static int scan_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		    const unsigned char *attrs, size_t alen, int has_payload)
{
	struct scan_ctx *c = ctx;
	struct cl_leaf lf;
	int rc, counts;

	if ((rc = scan_leaf(c, index, leaf, n, &lf, &counts)) || !counts)
		return rc;
	if ((rc = scan_cover(c, &lf, has_payload)))
		return rc;
	return scan_tokens(c, &lf, attrs, alen, has_payload);
}

/* The indexed path, one candidate from the attribute index. */
static int index_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		     const unsigned char *attrs, size_t alen, int has_payload)
{
	struct scan_ctx *c = ctx;
	struct cl_leaf lf;
	int rc, counts;

	if ((rc = scan_leaf(c, index, leaf, n, &lf, &counts)) || !counts)
		return rc;
	return scan_tokens(c, &lf, attrs, alen, has_payload);
}

/* The indexed path, one entry of a covered conversation's chain. */
static int chain_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t n,
		     const unsigned char *attrs, size_t alen, int has_payload)
{
	struct scan_ctx *c = ctx;
	struct cl_leaf lf;
	int rc, counts;

	(void)attrs;
	(void)alen;
	if ((rc = scan_leaf(c, index, leaf, n, &lf, &counts)) || !counts)
		return rc;
	return scan_cover(c, &lf, has_payload);
}

/*
 * Through the attribute index (FORMAT.md §4) instead of reading every
 * record: the entries that carry a token, then, for the cover, the
 * chains of their conversations (every record of a conversation is on
 * its chain).  *used is 0 when the archive has no index.
 */
static int build_indexed(struct cl_ledger *l, struct scan_ctx *c, int want_cover,
			 int *used, char **err)
{
	uint64_t *tok = NULL, *idx = NULL;
	size_t nt = 0, n = 0, i, j;
	struct cl_map done;
	int rc = CL_OK;

	*used = 0;
	cl_map_init(&done);
	for (i = 0; i < c->ng; i++)
		nt += c->g[i].n;
	if ((tok = calloc(nt ? nt : 1, sizeof(*tok))) == NULL)
		return CL_ENOMEM;
	for (i = 0, nt = 0; i < c->ng; i++)
		for (j = 0; j < c->g[i].n; j++)
			tok[nt++] = c->g[i].tok[j];
	if ((rc = cl_ledger_attr_lookup(l, tok, nt, &idx, &n, used, err)) || !*used)
		goto out;
	for (i = 0; i < n && rc == CL_OK; i++)
		rc = cl_ledger_entry(l, idx[i], index_one, c, err);
	for (i = 0; want_cover && rc == CL_OK && i < c->ng; i++)
		for (j = 0; rc == CL_OK && j < c->out[i]->m.cap; j++) {
			const struct cl_map_slot *s = &c->out[i]->m.slots[j];

			if (!s->used || cl_map_get(&done, s->key) != NULL)
				continue;
			if (cl_map_put(&done, s->key) == NULL)
				rc = CL_ENOMEM;
			else
				rc = cl_ledger_conv_each(l, s->key, chain_one, c, err);
		}
out:
	cl_map_release(&done);
	free(tok);
	free(idx);
	return rc;
}

int cl_convset_build(struct cl_ledger *l, const struct cl_tokgroup *groups,
		     size_t n_groups, struct cl_convset **out, struct cl_cover *cover,
		     char **err)
{
	struct scan_ctx c;
	struct cl_tokgroup *g = calloc(n_groups ? n_groups : 1, sizeof(*g));
	uint64_t *direct = calloc(n_groups ? n_groups : 1, sizeof(*direct));
	size_t i, j;
	int rc = CL_OK, used = 0, reading = 0;

	memset(&c, 0, sizeof(c));
	cl_map_init(&c.all);
	for (i = 0; i < n_groups; i++)
		out[i] = NULL;
	if (g == NULL || direct == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	for (i = 0; i < n_groups; i++) {
		uint64_t *t = calloc(groups[i].n ? groups[i].n : 1, sizeof(*t));

		out[i] = calloc(1, sizeof(**out));
		if (t == NULL || out[i] == NULL) {
			free(t);
			rc = CL_ENOMEM;
			goto out;
		}
		cl_map_init(&out[i]->m);
		if (groups[i].n)
			memcpy(t, groups[i].tok, groups[i].n * sizeof(*t));
		g[i].tok = t;
		g[i].n = sort_unique(t, groups[i].n);
	}
	c.g = g;
	c.ng = n_groups;
	c.out = out;
	c.direct = direct;
	c.err = err;
	if ((rc = cl_ledger_read_begin(l, &reading, err)))
		goto out;
	rc = build_indexed(l, &c, cover != NULL, &used, err);
	if (rc == CL_OK && !used)
		rc = cl_ledger_each(l, CL_ENTRY_RECORD, scan_one, &c, err);
	cl_ledger_read_end(l, reading);
	if (rc)
		goto out;
	for (i = 0; cover && i < n_groups; i++) {
		struct cl_cover *cv = &cover[i];

		memset(cv, 0, sizeof(*cv));
		cv->first = cv->last = CL_TIME_NONE;
		cv->direct = direct[i];
		for (j = 0; j < out[i]->m.cap; j++) {
			const struct cl_map_slot *s = &out[i]->m.slots[j];
			const struct cl_map_slot *a;
			int64_t f, la;

			if (!s->used)
				continue;
			cv->conversations++;
			a = cl_map_get(&c.all, s->key);
			if (a == NULL || a->u == 0)
				continue;
			cv->records += a->u;
			f = (int64_t)cl_load_be64(a->v);
			la = (int64_t)cl_load_be64(a->v + 8);
			if (cv->first == CL_TIME_NONE || f < cv->first)
				cv->first = f;
			if (cv->last == CL_TIME_NONE || la > cv->last)
				cv->last = la;
		}
	}
out:
	for (i = 0; g && i < n_groups; i++)
		free((void *)(uintptr_t)g[i].tok);
	free(g);
	free(direct);
	cl_map_release(&c.all);
	if (rc)
		for (i = 0; i < n_groups; i++) {
			cl_convset_free(out[i]);
			out[i] = NULL;
		}
	return rc;
}

/* Tokens of sel[0..n) closed over the links. */
static int resolve(struct cl_ledger *l, const char *const *sel, size_t n,
		   uint64_t **tok, size_t *ntok, char **err)
{
	struct cl_parties *p = NULL;
	uint64_t *all = calloc(n * MAX_SIDE + 1, sizeof(*all));
	size_t k = 0, i;
	int rc;

	*tok = NULL;
	*ntok = 0;
	if (all == NULL)
		return CL_ENOMEM;
	for (i = 0; i < n; i++)
		if ((rc = sel_tokens(l, sel[i], all, &k, (i + 1) * MAX_SIDE))) {
			rc = rc == CL_EINVAL ?
				cl_error(err, rc, "party selector %zu is empty or too long", i + 1) : rc;
			goto out;
		}
	if ((rc = cl_parties_load(l, &p, err)))
		goto out;
	rc = cl_parties_close(p, all, k, tok, ntok);
out:
	free(all);
	cl_parties_free(p);
	return rc;
}

int cl_parties_select(struct cl_ledger *l, const char *const *sel, size_t n,
		      struct cl_convset **out, char **err)
{
	struct cl_tokgroup g;
	uint64_t *tok = NULL;
	size_t nt = 0;
	int rc;

	*out = NULL;
	if ((rc = resolve(l, sel, n, &tok, &nt, err)))
		return rc;
	g.tok = tok;
	g.n = nt;
	rc = cl_convset_build(l, &g, 1, out, NULL, err);
	free(tok);
	return rc;
}

int cl_parties_is_member(struct cl_ledger *l, const char *const *sel, size_t n,
			 const char *raw, int *yes, char **err)
{
	uint64_t *tok = NULL, mine[MAX_SIDE];
	size_t nt = 0, nm = 0;
	char c[CL_IDENT_MAX];
	int rc;

	*yes = 0;
	if ((rc = resolve(l, sel, n, &tok, &nt, err)))
		return rc;
	if (cl_ident_canon(raw, NULL, c) == CL_OK &&
	    (rc = canon_tokens(l, c, mine, &nm, MAX_SIDE)) == CL_OK) {
		size_t i;

		for (i = 0; i < nm && !*yes; i++)
			*yes = bsearch_u64(tok, nt, mine[i]);
	}
	free(tok);
	return rc;
}
