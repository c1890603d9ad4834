/*
 * segment.c - encoding and strict decoding of segment and key objects
 * (segment.h, docs/FORMAT.md §12.3).
 */
#include <stdlib.h>
#include <string.h>

#include "archiver/ledger/leaf.h"
#include "archiver/replicate/segment.h"
#include "common/status.h"
#include "common/banned.h"

#define MAX_LEAF (CL_LEAF_FIXED + CL_KIND_MAX + CL_LEAF_MAX_BODY)
#define MAX_CT (32u << 20)
#define MAX_NOTE (1u << 20)
#define MAX_ATTRS (512u * 8u)

int cl_seg_begin(struct cl_buf *b, uint64_t first, uint64_t count)
{
	if (cl_buf_add(b, CL_SEG_MAGIC, 8) || cl_buf_add_be64(b, first) ||
	    cl_buf_add_be64(b, count))
		return CL_ETOOBIG;
	return CL_OK;
}

int cl_seg_add_entry(struct cl_buf *b, const unsigned char *leaf, size_t leaf_len,
		     int has_dedup, int64_t kh, int has_ch, int64_t ch,
		     const unsigned char *ct, size_t ct_len)
{
	unsigned f = (has_dedup ? CL_SEG_DEDUP : 0u) | (has_dedup && has_ch ? CL_SEG_CH : 0u) |
		     (ct ? CL_SEG_CT : 0u);

	if (leaf_len > MAX_LEAF || ct_len > MAX_CT)
		return CL_ETOOBIG;
	if (cl_buf_add_u8(b, (uint8_t)f) || cl_buf_add_be32(b, (uint32_t)leaf_len) ||
	    cl_buf_add(b, leaf, leaf_len))
		return CL_ETOOBIG;
	if (has_dedup && cl_buf_add_be64(b, (uint64_t)kh))
		return CL_ETOOBIG;
	if (has_dedup && has_ch && cl_buf_add_be64(b, (uint64_t)ch))
		return CL_ETOOBIG;
	if (ct && (cl_buf_add_be32(b, (uint32_t)ct_len) || cl_buf_add(b, ct, ct_len)))
		return CL_ETOOBIG;
	return CL_OK;
}

int cl_seg_add_checkpoints_count(struct cl_buf *b, uint32_t n)
{
	return cl_buf_add_be32(b, n) ? CL_ETOOBIG : CL_OK;
}

int cl_seg_add_checkpoint(struct cl_buf *b, uint64_t size, int64_t created_at,
			  const char *note, size_t note_len)
{
	if (note_len > MAX_NOTE)
		return CL_ETOOBIG;
	if (cl_buf_add_be64(b, size) || cl_buf_add_be64(b, (uint64_t)created_at) ||
	    cl_buf_add_be32(b, (uint32_t)note_len) || cl_buf_add(b, note, note_len))
		return CL_ETOOBIG;
	return CL_OK;
}

int cl_keys_begin(struct cl_buf *b, uint64_t first, uint64_t count)
{
	if (cl_buf_add(b, CL_KEYS_MAGIC, 8) || cl_buf_add_be64(b, first) ||
	    cl_buf_add_be64(b, count))
		return CL_ETOOBIG;
	return CL_OK;
}

int cl_keys_add(struct cl_buf *b, uint64_t idx, const unsigned char *eph,
		const unsigned char *wrapped, const unsigned char *attrs, size_t attrs_len)
{
	unsigned f = (eph && wrapped ? CL_KEYS_KEY : 0u) | (attrs ? CL_KEYS_ATTRS : 0u);

	if (attrs_len > MAX_ATTRS)
		return CL_ETOOBIG;
	if (cl_buf_add_be64(b, idx) || cl_buf_add_u8(b, (uint8_t)f))
		return CL_ETOOBIG;
	if ((f & CL_KEYS_KEY) && (cl_buf_add(b, eph, 32) || cl_buf_add(b, wrapped, 48)))
		return CL_ETOOBIG;
	if (attrs && (cl_buf_add_be32(b, (uint32_t)attrs_len) || cl_buf_add(b, attrs, attrs_len)))
		return CL_ETOOBIG;
	return CL_OK;
}

/* ---- decoding ---------------------------------------------------------- */

struct rd {
	const unsigned char *p;
	size_t left;
};

static int take(struct rd *r, size_t n, const unsigned char **out)
{
	if (n > r->left)
		return -1;
	*out = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static int take32(struct rd *r, uint32_t *v)
{
	const unsigned char *p;

	if (take(r, 4, &p))
		return -1;
	*v = cl_load_be32(p);
	return 0;
}

static int take64(struct rd *r, uint64_t *v)
{
	const unsigned char *p;

	if (take(r, 8, &p))
		return -1;
	*v = cl_load_be64(p);
	return 0;
}

int cl_seg_decode(const unsigned char *p, size_t len, struct cl_seg *s, char **err)
{
	struct rd r = { p, len };
	const unsigned char *m, *f;
	uint64_t i, prev = 0;
	uint32_t n_cp, j;
	int rc = CL_OK;

	memset(s, 0, sizeof(*s));
	if (take(&r, 8, &m) || memcmp(m, CL_SEG_MAGIC, 8) != 0 || take64(&r, &s->first) ||
	    take64(&r, &s->count))
		return cl_error(err, CL_ECORRUPT, "segment: bad header");
	/* Every entry takes at least 5 + 272 bytes: bound count by the input. */
	if (s->count == 0 || s->count > r.left / 277 || s->first > UINT64_MAX - s->count)
		return cl_error(err, CL_ECORRUPT, "segment: bad entry count");
	if (!(s->e = calloc((size_t)s->count, sizeof(*s->e))))
		return CL_ENOMEM;
	for (i = 0; i < s->count; i++) {
		struct cl_seg_entry *e = &s->e[i];
		uint32_t l;
		uint64_t v;
		struct cl_leaf leaf;

		e->idx = s->first + i;
		if (take(&r, 1, &f) || (*f & ~7u) || ((*f & CL_SEG_CH) && !(*f & CL_SEG_DEDUP)) ||
		    take32(&r, &l) || l > MAX_LEAF || take(&r, l, &e->leaf)) {
			rc = cl_error(err, CL_ECORRUPT, "segment: entry %llu malformed",
				      (unsigned long long)e->idx);
			goto out;
		}
		e->leaf_len = l;
		if (cl_leaf_decode(e->leaf, e->leaf_len, &leaf, NULL) != CL_OK ||
		    leaf.index != e->idx) {
			rc = cl_error(err, CL_ECORRUPT, "segment: entry %llu: leaf does not parse"
				      " or names another index", (unsigned long long)e->idx);
			goto out;
		}
		e->has_dedup = (*f & CL_SEG_DEDUP) != 0;
		e->has_ch = (*f & CL_SEG_CH) != 0;
		if (e->has_dedup) {
			if (take64(&r, &v)) {
				rc = cl_error(err, CL_ECORRUPT, "segment: truncated");
				goto out;
			}
			e->kh = (int64_t)v;
		}
		if (e->has_ch) {
			if (take64(&r, &v)) {
				rc = cl_error(err, CL_ECORRUPT, "segment: truncated");
				goto out;
			}
			e->ch = (int64_t)v;
		}
		if (*f & CL_SEG_CT) {
			if (take32(&r, &l) || l > MAX_CT || take(&r, l, &e->ct)) {
				rc = cl_error(err, CL_ECORRUPT, "segment: entry %llu: bad ciphertext",
					      (unsigned long long)e->idx);
				goto out;
			}
			e->ct_len = l;
		}
	}
	if (take32(&r, &n_cp) || n_cp > r.left / 20) {
		rc = cl_error(err, CL_ECORRUPT, "segment: bad checkpoint count");
		goto out;
	}
	if (n_cp && !(s->cp = calloc(n_cp, sizeof(*s->cp)))) {
		rc = CL_ENOMEM;
		goto out;
	}
	for (j = 0; j < n_cp; j++) {
		struct cl_seg_cp *c = &s->cp[j];
		uint64_t v;
		uint32_t l;
		const unsigned char *np;

		if (take64(&r, &c->size) || take64(&r, &v) || take32(&r, &l) || l > MAX_NOTE ||
		    take(&r, l, &np)) {
			rc = cl_error(err, CL_ECORRUPT, "segment: checkpoint %u truncated", j);
			goto out;
		}
		c->created_at = (int64_t)v;
		c->note = (const char *)np;
		c->note_len = l;
		if ((c->size <= s->first && !(s->first == 0 && c->size == 0 && j == 0)) ||
		    c->size > s->first + s->count || (j > 0 && c->size <= prev)) {
			rc = cl_error(err, CL_ECORRUPT, "segment: checkpoint size %llu out of order"
				      " or outside the segment", (unsigned long long)c->size);
			goto out;
		}
		prev = c->size;
		s->n_cp++;
	}
	if (r.left != 0 || s->n_cp == 0 || s->cp[s->n_cp - 1].size != s->first + s->count)
		rc = cl_error(err, CL_ECORRUPT, "segment: trailing bytes, or it does not end"
			      " at a checkpoint");
out:
	if (rc)
		cl_seg_release(s);
	return rc;
}

void cl_seg_release(struct cl_seg *s)
{
	free(s->e);
	free(s->cp);
	memset(s, 0, sizeof(*s));
}

int cl_keys_decode(const unsigned char *p, size_t len, struct cl_keys *k, char **err)
{
	struct rd r = { p, len };
	const unsigned char *m, *f;
	size_t alloc = 0;
	int rc = CL_OK;

	memset(k, 0, sizeof(*k));
	if (take(&r, 8, &m) || memcmp(m, CL_KEYS_MAGIC, 8) != 0 || take64(&r, &k->first) ||
	    take64(&r, &k->count) || k->first > UINT64_MAX - k->count)
		return cl_error(err, CL_ECORRUPT, "key object: bad header");
	while (r.left) {
		struct cl_keys_row *row;
		uint32_t l;

		if (k->n == alloc) {
			size_t na = alloc ? alloc * 2 : 256;
			struct cl_keys_row *nr = realloc(k->r, na * sizeof(*nr));

			if (!nr) {
				rc = CL_ENOMEM;
				goto out;
			}
			k->r = nr;
			alloc = na;
		}
		row = &k->r[k->n];
		memset(row, 0, sizeof(*row));
		if (take64(&r, &row->idx) || take(&r, 1, &f) || (*f & ~3u) || *f == 0 ||
		    row->idx < k->first || row->idx - k->first >= k->count ||
		    (k->n && row->idx <= k->r[k->n - 1].idx)) {
			rc = cl_error(err, CL_ECORRUPT, "key object: row %zu malformed", k->n);
			goto out;
		}
		if ((*f & CL_KEYS_KEY) && (take(&r, 32, &row->eph) || take(&r, 48, &row->wrapped))) {
			rc = cl_error(err, CL_ECORRUPT, "key object: row %zu truncated", k->n);
			goto out;
		}
		if (*f & CL_KEYS_ATTRS) {
			if (take32(&r, &l) || l == 0 || l > MAX_ATTRS || take(&r, l, &row->attrs)) {
				rc = cl_error(err, CL_ECORRUPT, "key object: row %zu: bad attrs", k->n);
				goto out;
			}
			row->attrs_len = l;
		}
		k->n++;
	}
out:
	if (rc)
		cl_keys_release(k);
	return rc;
}

void cl_keys_release(struct cl_keys *k)
{
	free(k->r);
	memset(k, 0, sizeof(*k));
}
