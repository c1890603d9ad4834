/*
 * attrindex.c - the keyed-hash side index (docs/FORMAT.md §4 "Side
 * tables"): for each selector attribute hash h of entry.attrs, the
 * entries that carry it, so that the entries of a party, a conversation
 * or a label are found without reading every entry.
 *
 * Rows are posting lists: attr_index(h, first, idxs) lists entries that
 * carry h, ascending, from `first`.  A writer collects postings in memory
 * and writes one row per distinct hash when they cover CL_ATTR_DEFER
 * entries (or at the commit of a batch that large), so an append costs a
 * few map inserts and the index adds little to ingest or to a server's
 * small group commits.
 *
 * It is derived and uncommitted: nothing in a leaf or checkpoint covers
 * it, verify ignores it, and every reader checks a candidate against the
 * entry's own attrs (which the leaf commits to) before using it, so a
 * stale or forged row cannot add an entry to a selection.  A missing row
 * could hide one; attr_index_cover says up to which index the rows are
 * complete (a writer of an older release appends without rows), and
 * readers read entry.attrs beyond it.  A writer creates the index (from
 * entry.attrs) in its first batch on an archive without it, and removes
 * an erased entry from its postings in the batch that nulls its attrs
 * (from the stored rows at that batch's commit).  The same
 * batch also creates entry_type, a plain SQLite index on entry(type), so
 * that the few control and tombstone entries are listed without a full
 * scan.
 */
#include <stdlib.h>
#include <string.h>

#include "archiver/ledger/ledger_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static const char ix_schema[] =
	"CREATE TABLE IF NOT EXISTS attr_index(h INTEGER NOT NULL, first INTEGER NOT NULL,"
	" idxs BLOB NOT NULL, PRIMARY KEY(h, first)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS attr_index_cover(k INTEGER PRIMARY KEY,"
	" covered INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS entry_type ON entry(type);";

#define IX_FILL_CHUNK 16384u   /* entries per flush while building */

/* ---- postings in memory (one batch) ------------------------------------ */

struct posting {
	uint64_t h;
	uint64_t *idx;            /* ascending */
	size_t n, cap;
};

/* An erased entry to take out of the stored row of hash h. */
struct removal {
	uint64_t h, idx;
};

/*
 * Postings not yet written are kept across commits while they hold fewer
 * than `defer` entries (cl_ledger_set_attr_defer): a writer that commits
 * a few entries at a time (the webhook and WeChat servers' group
 * commits) then writes one row per hash every few thousand entries, not
 * one per hash per commit, each into a random page.  The stored rows are
 * complete up to `from`, and attr_index_cover says `from`; readers read
 * entry.attrs past it, as for entries an older writer appended.  Held
 * postings are valid for the next batch only if no other writer came
 * between (`from` is still the coverage, `upto` the committed size);
 * otherwise, or after a rollback, they are dropped and the next batch
 * completes the rows from entry.attrs.
 */
struct cl_attrix {
	struct cl_map64 slot;     /* h -> index into p[] */
	struct posting *p;
	size_t n, cap;
	size_t entries;           /* entries in the postings */
	uint64_t from, upto;      /* the postings hold entries [from, upto) */
	long long cover;          /* attr_index_cover as this handle wrote it
	                             (-1 unknown) */
	int held;                 /* postings of committed batches are held */
	struct removal *rm;       /* this batch's erasures, applied at its commit */
	size_t nrm, caprm;
};

static void pending_clear(struct cl_attrix *x)
{
	size_t i;

	if (x == NULL)
		return;
	for (i = 0; i < x->n; i++)
		free(x->p[i].idx);
	free(x->p);
	x->p = NULL;
	x->n = x->cap = 0;
	x->entries = 0;
	x->held = 0;
	cl_map64_release(&x->slot);
	cl_map64_init(&x->slot);
}

static struct cl_attrix *attrix_of(struct cl_ledger *l)
{
	if (l->attrix == NULL) {
		if ((l->attrix = calloc(1, sizeof(*l->attrix))) == NULL)
			return NULL;
		cl_map64_init(&l->attrix->slot);
		l->attrix->cover = -1;
	}
	return l->attrix;
}

static void removals_clear(struct cl_attrix *x)
{
	if (x == NULL)
		return;
	free(x->rm);
	x->rm = NULL;
	x->nrm = x->caprm = 0;
}

void cl_attrix_reset(struct cl_ledger *l)
{
	pending_clear(l->attrix);
	removals_clear(l->attrix);
	if (l->attrix)
		l->attrix->cover = -1;
}

void cl_attrix_free(struct cl_ledger *l)
{
	pending_clear(l->attrix);
	removals_clear(l->attrix);
	if (l->attrix)
		cl_map64_release(&l->attrix->slot);
	free(l->attrix);
	l->attrix = NULL;
}

static int pending_add(struct cl_attrix *x, uint64_t h, uint64_t idx)
{
	struct posting *q;
	uint64_t k;

	if (!cl_map64_get(&x->slot, h, &k)) {
		if (x->n == x->cap) {
			size_t nc = x->cap ? 2 * x->cap : 64;
			struct posting *np = realloc(x->p, nc * sizeof(*np));

			if (np == NULL)
				return CL_ENOMEM;
			x->p = np;
			x->cap = nc;
		}
		if (cl_map64_put(&x->slot, h, x->n) != CL_OK)
			return CL_ENOMEM;
		k = x->n++;
		memset(&x->p[k], 0, sizeof(x->p[k]));
		x->p[k].h = h;
	}
	q = &x->p[k];
	if (q->n && q->idx[q->n - 1] >= idx)
		return CL_OK;             /* the same entry again */
	if (q->n == q->cap) {
		size_t nc = q->cap ? 2 * q->cap : 4;
		uint64_t *ni = realloc(q->idx, nc * sizeof(*ni));

		if (ni == NULL)
			return CL_ENOMEM;
		q->idx = ni;
		q->cap = nc;
	}
	q->idx[q->n++] = idx;
	return CL_OK;
}

/* ---- the stored form: LEB128 deltas after `first` ---------------------- */

static int put_varint(struct cl_buf *b, uint64_t v)
{
	unsigned char t[10];
	size_t n = 0;

	do {
		t[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	return cl_buf_add(b, t, n);
}

/* Encode ascending idx[0..n) (n >= 1): the deltas after idx[0]. */
static int encode(const uint64_t *idx, size_t n, struct cl_buf *b)
{
	size_t i;
	int rc = CL_OK;

	cl_buf_reset(b);
	for (i = 1; i < n && rc == CL_OK; i++)
		rc = put_varint(b, idx[i] - idx[i - 1]);
	return rc;
}

/*
 * Decode a row: fn(ctx, idx) for `first` and each entry after it.  A
 * malformed blob ends the list where it stops parsing (rows are only
 * candidates).
 */
static int decode(uint64_t first, const unsigned char *p, size_t len,
		  int (*fn)(void *, uint64_t), void *ctx)
{
	uint64_t cur = first;
	size_t at = 0;
	int rc = fn(ctx, cur);

	while (rc == CL_OK && at < len) {
		uint64_t d = 0;
		unsigned shift = 0;

		for (;;) {
			if (at >= len || shift > 63)
				return CL_OK;
			d |= (uint64_t)(p[at] & 0x7f) << shift;
			shift += 7;
			if (!(p[at++] & 0x80))
				break;
		}
		if (d == 0 || cur > UINT64_MAX - d)
			return CL_OK;
		cur += d;
		rc = fn(ctx, cur);
	}
	return rc;
}

/* Write the batch's postings so far, one row per hash. */
static int ix_flush(struct cl_ledger *l, char **err)
{
	struct cl_attrix *x = l->attrix;
	struct cl_buf b;
	size_t i;
	int rc = CL_OK;

	if (x == NULL || x->n == 0)
		return CL_OK;
	cl_buf_init(&b, (size_t)1 << 30);
	if ((rc = cl_ledger_prepare(l, &l->st_ins_attr, "INSERT OR REPLACE INTO"
				    " attr_index(h, first, idxs) VALUES (?1, ?2, ?3)", err)))
		goto out;
	for (i = 0; i < x->n && rc == CL_OK; i++) {
		const struct posting *q = &x->p[i];

		if (q->n == 0)
			continue;
		if ((rc = encode(q->idx, q->n, &b)))
			break;
		sqlite3_reset(l->st_ins_attr);
		sqlite3_bind_int64(l->st_ins_attr, 1, (sqlite3_int64)q->h);
		sqlite3_bind_int64(l->st_ins_attr, 2, (sqlite3_int64)q->idx[0]);
		sqlite3_bind_blob(l->st_ins_attr, 3, b.len ? (const void *)b.data : "", (int)b.len,
				  SQLITE_STATIC);
		if (sqlite3_step(l->st_ins_attr) != SQLITE_DONE)
			rc = cl_ledger_db_err(l, err, "indexing selector attributes");
	}
	sqlite3_reset(l->st_ins_attr);
	if (rc == CL_OK) {
		pending_clear(x);
		x->from = l->size;
	}
out:
	cl_buf_release(&b);
	return rc;
}

/* Rows for entries [from, to) from entry.attrs. */
static int ix_fill(struct cl_ledger *l, uint64_t from, uint64_t to, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, s;

	if (sqlite3_prepare_v2(l->db, "SELECT idx, attrs FROM entry WHERE idx >= ?1 AND"
			       " idx < ?2 AND attrs IS NOT NULL", -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "building the attribute index");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	while (rc == CL_OK && (s = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);

		rc = cl_attrix_add(l, idx, sqlite3_column_blob(st, 1),
				   (size_t)sqlite3_column_bytes(st, 1), err);
		if (rc == CL_OK && idx % IX_FILL_CHUNK == IX_FILL_CHUNK - 1)
			rc = ix_flush(l, err);
	}
	if (rc == CL_OK && s != SQLITE_DONE)
		rc = cl_ledger_db_err(l, err, "building the attribute index");
	sqlite3_finalize(st);
	if (rc == CL_OK)
		rc = ix_flush(l, err);
	return rc;
}

/*
 * Step the handle's cached statement `*st` (prepared from `sql` on first
 * use) and reset it; *col0 gets column 0 of a row.  Returns the
 * sqlite3_step() result, SQLITE_NOTFOUND when the statement cannot be
 * prepared or no longer compiles against the schema (its table is gone
 * or has another shape: SQLITE_ERROR), or the error; a statement that
 * fails leaves the cache.  Never retried here: inside a batch an error
 * (out of memory, I/O) may have rolled the transaction back, and a retry
 * would run outside it.
 */
static int ix_step(struct cl_ledger *l, sqlite3_stmt **st, const char *sql,
		   sqlite3_int64 *col0)
{
	int s;

	if (*st == NULL && sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
					      NULL) != SQLITE_OK) {
		*st = NULL;
		return SQLITE_NOTFOUND;
	}
	s = sqlite3_step(*st);
	if (s == SQLITE_ROW && col0)
		*col0 = sqlite3_column_int64(*st, 0);
	sqlite3_reset(*st);
	if (s != SQLITE_ROW && s != SQLITE_DONE) {
		sqlite3_finalize(*st);
		*st = NULL;
		if (s == SQLITE_ERROR)
			s = SQLITE_NOTFOUND;
	}
	return s;
}

/* attr_index_cover.covered, or -1 when the index does not exist. */
static int ix_covered(struct cl_ledger *l, sqlite3_int64 *covered)
{
	int s;

	*covered = -1;
	/* No such table, or not this shape: as if there were no index. */
	s = ix_step(l, &l->st_ix_shape, "SELECT h, first, idxs FROM attr_index LIMIT 0", NULL);
	if (s == SQLITE_NOTFOUND)
		return CL_OK;
	if (s != SQLITE_DONE)
		return CL_EIO;
	s = ix_step(l, &l->st_ix_cover, "SELECT covered FROM attr_index_cover WHERE k = 0",
		    covered);
	if (s == SQLITE_NOTFOUND)
		return CL_OK;
	return s == SQLITE_ROW || s == SQLITE_DONE ? CL_OK : CL_EIO;
}

int cl_attrix_begin(struct cl_ledger *l, char **err)
{
	sqlite3_int64 covered, stored;
	int rc;

	/* A batch's transaction must still be open (cl_ledger_begin): an
	 * error may have rolled it back, and nothing here may then run, and
	 * commit, outside it. */
	if (ix_covered(l, &covered) != CL_OK || sqlite3_get_autocommit(l->db))
		return cl_ledger_db_err(l, err, "reading the attribute index");
	stored = covered;
	if (covered < 0) {
		/* Absent, or left in another shape: made anew. */
		if (sqlite3_exec(l->db, "DROP TABLE IF EXISTS attr_index;"
				 " DROP TABLE IF EXISTS attr_index_cover;", NULL, NULL,
				 NULL) != SQLITE_OK ||
		    sqlite3_exec(l->db, ix_schema, NULL, NULL, NULL) != SQLITE_OK)
			return cl_ledger_db_err(l, err, "creating the attribute index");
		covered = 0;
	}
	if ((uint64_t)covered > l->committed_size)
		covered = 0;    /* not this archive's: rebuild (rows are checked) */
	if (l->attrix && l->attrix->held && l->attrix->cover == covered &&
	    l->attrix->from == (uint64_t)covered && l->attrix->upto == l->committed_size)
		return CL_OK;   /* this handle's held postings are the rest */
	cl_attrix_reset(l);
	if (attrix_of(l) == NULL)
		return CL_ENOMEM;
	l->attrix->cover = stored;    /* what attr_index_cover says (-1: no row) */
	l->attrix->from = (uint64_t)covered;
	if ((uint64_t)covered < l->committed_size &&
	    (rc = ix_fill(l, (uint64_t)covered, l->committed_size, err)))
		return rc;
	l->attrix->from = l->committed_size;
	return CL_OK;
}

int cl_attrix_add(struct cl_ledger *l, uint64_t idx, const unsigned char *attrs,
		  size_t len, char **err)
{
	size_t i;

	(void)err;
	if (attrix_of(l) == NULL)
		return CL_ENOMEM;
	l->attrix->entries++;
	for (i = 0; i + 8 <= len; i += 8)
		if (pending_add(l->attrix, cl_load_be64(attrs + i), idx) != CL_OK)
			return CL_ENOMEM;
	return CL_OK;
}

/* ---- erasure ------------------------------------------------------------ */

/*
 * An erased entry leaves the posting rows of its hashes.  The removals
 * of a batch are gathered and applied at its commit, each row decoded and
 * written once for all the batch's entries in it: a row holds up to a few
 * thousand entries (a label, an account), and rewriting it once per
 * erased entry made a retention run quadratic (bench/retain.sh: 186 us
 * per erasure).  Until the commit the rows still list the erased entries,
 * which readers drop anyway (their attrs are NULL).
 */

static int cmp_removal(const void *a, const void *b)
{
	const struct removal *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Decoded row: its entries, ascending. */
struct row_ctx {
	uint64_t *v;
	size_t n, cap;
};

static int row_add(void *ctx, uint64_t idx)
{
	struct row_ctx *r = ctx;

	if (r->n == r->cap) {
		size_t nc = r->cap ? 2 * r->cap : 64;
		uint64_t *nv = realloc(r->v, nc * sizeof(*nv));

		if (nv == NULL)
			return CL_ENOMEM;
		r->v = nv;
		r->cap = nc;
	}
	r->v[r->n++] = idx;
	return CL_OK;
}

/*
 * Take rm[*at..] of hash h out of the row that holds rm[*at].idx (the
 * last row of h starting at or before it); *at moves past every removal
 * that row covered.
 */
static int remove_from_row(struct cl_ledger *l, sqlite3_stmt *find, sqlite3_stmt *del,
			   sqlite3_stmt *ins, const struct removal *rm, size_t nrm,
			   size_t *at, struct row_ctx *r, struct cl_buf *b, char **err)
{
	uint64_t h = rm[*at].h, last;
	sqlite3_int64 first;
	size_t i, k, kept = 0, removed = 0;
	int rc, s;

	r->n = 0;
	sqlite3_reset(find);
	sqlite3_bind_int64(find, 1, (sqlite3_int64)h);
	sqlite3_bind_int64(find, 2, (sqlite3_int64)rm[*at].idx);
	s = sqlite3_step(find);
	if (s == SQLITE_DONE) {     /* in no stored row */
		(*at)++;
		sqlite3_reset(find);
		return CL_OK;
	}
	if (s != SQLITE_ROW)
		return cl_ledger_db_err(l, err, "erasing selector attributes");
	first = sqlite3_column_int64(find, 0);
	rc = decode((uint64_t)first, sqlite3_column_blob(find, 1),
		    (size_t)sqlite3_column_bytes(find, 1), row_add, r);
	sqlite3_reset(find);
	if (rc)
		return rc;
	last = r->v[r->n - 1];
	/* Both ascending: keep the row's entries that are not removed.  The
	 * removals up to the row's last entry are done with; one past it is
	 * in no row (always step past the removal that led here). */
	k = *at;
	for (i = 0; i < r->n; i++) {
		while (k < nrm && rm[k].h == h && rm[k].idx < r->v[i])
			k++;
		if (k < nrm && rm[k].h == h && rm[k].idx == r->v[i])
			removed++;
		else
			r->v[kept++] = r->v[i];
	}
	k = *at;
	while (*at < nrm && rm[*at].h == h && rm[*at].idx <= last)
		(*at)++;
	if (*at == k)
		(*at)++;
	if (removed == 0)
		return CL_OK;
	sqlite3_reset(del);
	sqlite3_bind_int64(del, 1, (sqlite3_int64)h);
	sqlite3_bind_int64(del, 2, first);
	s = sqlite3_step(del);
	sqlite3_reset(del);
	if (s != SQLITE_DONE)
		return cl_ledger_db_err(l, err, "erasing selector attributes");
	if (kept == 0)
		return CL_OK;
	if ((rc = encode(r->v, kept, b)))
		return rc;
	sqlite3_reset(ins);
	sqlite3_bind_int64(ins, 1, (sqlite3_int64)h);
	sqlite3_bind_int64(ins, 2, (sqlite3_int64)r->v[0]);
	sqlite3_bind_blob(ins, 3, b->len ? (const void *)b->data : "", (int)b->len,
			  SQLITE_STATIC);
	s = sqlite3_step(ins);
	sqlite3_reset(ins);
	return s == SQLITE_DONE ? CL_OK : cl_ledger_db_err(l, err, "erasing selector attributes");
}

/* Apply the batch's gathered removals (before its commit). */
static int ix_apply_removals(struct cl_ledger *l, char **err)
{
	struct cl_attrix *x = l->attrix;
	sqlite3_stmt *find = NULL, *del = NULL, *ins = NULL;
	struct row_ctx r;
	struct cl_buf b;
	size_t at = 0;
	int rc = CL_OK;

	if (x == NULL || x->nrm == 0)
		return CL_OK;
	memset(&r, 0, sizeof(r));
	cl_buf_init(&b, (size_t)1 << 30);
	qsort(x->rm, x->nrm, sizeof(*x->rm), cmp_removal);
	if (sqlite3_prepare_v2(l->db, "SELECT first, idxs FROM attr_index WHERE h = ?1"
			       " AND first <= ?2 ORDER BY first DESC LIMIT 1", -1, &find,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "DELETE FROM attr_index WHERE h = ?1 AND first = ?2",
			       -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO attr_index(h, first, idxs)"
			       " VALUES (?1, ?2, ?3)", -1, &ins, NULL) != SQLITE_OK) {
		rc = cl_ledger_db_err(l, err, "erasing selector attributes");
		goto out;
	}
	while (rc == CL_OK && at < x->nrm)
		rc = remove_from_row(l, find, del, ins, x->rm, x->nrm, &at, &r, &b, err);
	if (rc == CL_OK)
		removals_clear(x);
out:
	sqlite3_finalize(find);
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	free(r.v);
	cl_buf_release(&b);
	return rc;
}

/* Take idx out of the unwritten posting of hash h, if it is there. */
static void pending_remove(struct cl_attrix *x, uint64_t h, uint64_t idx)
{
	struct posting *q;
	size_t lo = 0, hi;
	uint64_t k;

	if (!cl_map64_get(&x->slot, h, &k))
		return;
	q = &x->p[k];
	hi = q->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (q->idx[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < q->n && q->idx[lo] == idx) {
		memmove(q->idx + lo, q->idx + lo + 1, (q->n - lo - 1) * sizeof(*q->idx));
		q->n--;
	}
}

int cl_attrix_erase(struct cl_ledger *l, uint64_t idx, char **err)
{
	struct cl_attrix *x;
	sqlite3_stmt *st;
	const unsigned char *a;
	size_t n, i;
	int rc = CL_OK, s;

	if ((x = attrix_of(l)) == NULL)
		return CL_ENOMEM;
	if ((rc = cl_ledger_prepare(l, &l->st_ix_attrs, "SELECT attrs FROM entry WHERE idx = ?1",
				    err)))
		return rc;
	st = l->st_ix_attrs;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE || (s == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL))
		goto out;
	if (s != SQLITE_ROW) {
		rc = cl_ledger_db_err(l, err, "erasing selector attributes");
		goto out;
	}
	a = sqlite3_column_blob(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 0);
	for (i = 0; i + 8 <= n && i < 8 * 512 && rc == CL_OK; i += 8) {
		uint64_t h = cl_load_be64(a + i);

		/* Rows are complete below x->from; the postings hold the rest. */
		if (idx >= x->from) {
			pending_remove(x, h, idx);
			continue;
		}
		if (x->nrm == x->caprm) {
			size_t nc = x->caprm ? 2 * x->caprm : 256;
			struct removal *nr = realloc(x->rm, nc * sizeof(*nr));

			if (nr == NULL) {
				rc = CL_ENOMEM;
				break;
			}
			x->rm = nr;
			x->caprm = nc;
		}
		x->rm[x->nrm].h = h;
		x->rm[x->nrm].idx = idx;
		x->nrm++;
	}
out:
	sqlite3_reset(st);   /* a cached statement */
	return rc;
}

int cl_attrix_commit(struct cl_ledger *l, char **err)
{
	struct cl_attrix *x = attrix_of(l);
	int rc;

	if (x == NULL)
		return CL_ENOMEM;
	if ((rc = ix_apply_removals(l, err)))
		return rc;
	if (x->entries >= l->attr_defer && (rc = ix_flush(l, err)))
		return rc;
	/* The rows are complete up to x->from (l->size after a flush). */
	if (x->cover != (long long)x->from) {
		int s;

		if ((rc = cl_ledger_prepare(l, &l->st_ix_cover_set, "INSERT OR REPLACE INTO"
					    " attr_index_cover(k, covered) VALUES (0, ?1)", err)))
			return rc;
		sqlite3_bind_int64(l->st_ix_cover_set, 1, (sqlite3_int64)x->from);
		s = sqlite3_step(l->st_ix_cover_set);
		sqlite3_reset(l->st_ix_cover_set);
		if (s != SQLITE_DONE)
			return cl_ledger_db_err(l, err, "recording the attribute index");
		x->cover = (long long)x->from;
	}
	x->upto = l->size;
	x->held = 1;
	return CL_OK;
}

int cl_attrix_rebuild(struct cl_ledger *l, char **err)
{
	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "rebuilding the attribute index outside a batch");
	cl_attrix_reset(l);
	if (sqlite3_exec(l->db, "DELETE FROM attr_index", NULL, NULL, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "rebuilding the attribute index");
	return ix_fill(l, 0, l->size, err);
}

/* ---- reading ----------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Does the sorted attrs blob hold any of the sorted h[0..n)? */
static int attrs_any(const unsigned char *a, size_t alen, const uint64_t *h, size_t n)
{
	size_t i = 0, j = 0;

	while (i + 8 <= alen && j < n) {
		uint64_t v = cl_load_be64(a + i);

		if (v == h[j])
			return 1;
		if (v < h[j])
			i += 8;
		else
			j++;
	}
	return 0;
}

struct idxv {
	uint64_t *v;
	size_t n, cap;
};

static int idxv_push(struct idxv *x, uint64_t i)
{
	if (x->n == x->cap) {
		size_t nc = x->cap ? 2 * x->cap : 256;
		uint64_t *nv = realloc(x->v, nc * sizeof(*nv));

		if (nv == NULL)
			return CL_ENOMEM;
		x->v = nv;
		x->cap = nc;
	}
	x->v[x->n++] = i;
	return CL_OK;
}

static int idxv_push_cb(void *ctx, uint64_t i)
{
	return idxv_push(ctx, i);
}

int cl_ledger_attr_lookup(struct cl_ledger *l, const uint64_t *h_in, size_t n_h,
			  uint64_t **out, size_t *n_out, int *usable, char **err)
{
	sqlite3_stmt *q = NULL, *get = NULL, *tail = NULL;
	sqlite3_int64 covered;
	uint64_t *h = NULL, size = 0;
	struct idxv x;
	size_t i, k;
	int rc = CL_OK, s;

	*out = NULL;
	*n_out = 0;
	*usable = 0;
	memset(&x, 0, sizeof(x));
	if (ix_covered(l, &covered) != CL_OK)
		return cl_ledger_db_err(l, err, "reading the attribute index");
	if (covered < 0)
		return CL_OK;
	if ((h = malloc((n_h ? n_h : 1) * sizeof(*h))) == NULL)
		return CL_ENOMEM;
	if (n_h)
		memcpy(h, h_in, n_h * sizeof(*h));
	if (n_h > 1)
		qsort(h, n_h, sizeof(*h), cmp_u64);
	if (sqlite3_prepare_v2(l->db, "SELECT first, idxs FROM attr_index WHERE h = ?1"
			       " AND first < ?2", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT attrs FROM entry WHERE idx = ?1", -1, &get,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT coalesce(max(idx) + 1, 0) FROM entry", -1,
			       &tail, NULL) != SQLITE_OK ||
	    sqlite3_step(tail) != SQLITE_ROW) {
		rc = cl_ledger_db_err(l, err, "reading the attribute index");
		goto out;
	}
	size = (uint64_t)sqlite3_column_int64(tail, 0);
	sqlite3_finalize(tail);
	tail = NULL;
	if ((uint64_t)covered > size)
		covered = 0;
	for (i = 0; i < n_h && rc == CL_OK; i++) {
		if (i && h[i] == h[i - 1])
			continue;
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, (sqlite3_int64)h[i]);
		sqlite3_bind_int64(q, 2, covered);
		while (rc == CL_OK && (s = sqlite3_step(q)) == SQLITE_ROW)
			rc = decode((uint64_t)sqlite3_column_int64(q, 0), sqlite3_column_blob(q, 1),
				    (size_t)sqlite3_column_bytes(q, 1), idxv_push_cb, &x);
		if (rc == CL_OK && s != SQLITE_DONE)
			rc = cl_ledger_db_err(l, err, "reading the attribute index");
	}
	if (rc)
		goto out;
	if (x.n > 1)
		qsort(x.v, x.n, sizeof(*x.v), cmp_u64);
	/* Keep the candidates whose committed attrs carry a hash. */
	for (i = 0, k = 0; i < x.n; i++) {
		if ((i && x.v[i] == x.v[i - 1]) || x.v[i] >= (uint64_t)covered)
			continue;
		sqlite3_reset(get);
		sqlite3_bind_int64(get, 1, (sqlite3_int64)x.v[i]);
		s = sqlite3_step(get);
		if (s == SQLITE_ROW && sqlite3_column_type(get, 0) == SQLITE_BLOB &&
		    attrs_any(sqlite3_column_blob(get, 0), (size_t)sqlite3_column_bytes(get, 0),
			      h, n_h))
			x.v[k++] = x.v[i];
		else if (s != SQLITE_ROW && s != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "reading selector attributes");
			goto out;
		}
	}
	x.n = k;
	/* Entries past the index's coverage: their attrs, read in full. */
	if ((uint64_t)covered < size) {
		if (sqlite3_prepare_v2(l->db, "SELECT idx, attrs FROM entry WHERE idx >= ?1"
				       " AND attrs IS NOT NULL ORDER BY idx", -1, &tail,
				       NULL) != SQLITE_OK) {
			rc = cl_ledger_db_err(l, err, "reading selector attributes");
			goto out;
		}
		sqlite3_bind_int64(tail, 1, covered);
		while (rc == CL_OK && (s = sqlite3_step(tail)) == SQLITE_ROW)
			if (attrs_any(sqlite3_column_blob(tail, 1),
				      (size_t)sqlite3_column_bytes(tail, 1), h, n_h))
				rc = idxv_push(&x, (uint64_t)sqlite3_column_int64(tail, 0));
		if (rc == CL_OK && s != SQLITE_DONE)
			rc = cl_ledger_db_err(l, err, "reading selector attributes");
		if (rc)
			goto out;
	}
	*out = x.v;
	*n_out = x.n;
	x.v = NULL;
	*usable = 1;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(get);
	sqlite3_finalize(tail);
	free(h);
	free(x.v);
	return rc;
}
