/*
 * attrindex.c - the keyed-hash side index (docs/FORMAT.md §4 "Side
 * tables"): attr_index(h, idx) has one row per selector attribute hash h
 * that entry idx carries in entry.attrs, so that the entries of a party, a
 * conversation or a label are found without reading every entry.
 *
 * It is derived and uncommitted: nothing in a leaf or checkpoint covers
 * it, verify ignores it, and every reader checks a candidate against the
 * entry's own attrs (which the leaf commits to) before using it, so a
 * stale or forged row cannot add an entry to a selection.  A missing row
 * could hide one; attr_index_cover says up to which index the rows are
 * complete (a writer of an older release appends without rows), and
 * readers scan entry.attrs beyond it.  A writer creates the index (from
 * entry.attrs) in its first batch on an archive without it, keeps it in
 * the batch's transaction with every entry it appends, and deletes an
 * erased entry's rows as its attrs are nulled.  The same batch also
 * creates entry_type, a plain SQLite index on entry(type), so that the
 * few control and tombstone entries are listed without a full scan.
 */
#include <stdlib.h>
#include <string.h>

#include "archiver/ledger/ledger_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static const char ix_schema[] =
	"CREATE TABLE IF NOT EXISTS attr_index(h INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" PRIMARY KEY(h, idx)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS attr_index_cover(k INTEGER PRIMARY KEY,"
	" covered INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS entry_type ON entry(type);";

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
	while (rc == CL_OK && (s = sqlite3_step(st)) == SQLITE_ROW)
		rc = cl_attrix_add(l, (uint64_t)sqlite3_column_int64(st, 0),
				   sqlite3_column_blob(st, 1),
				   (size_t)sqlite3_column_bytes(st, 1), err);
	if (rc == CL_OK && s != SQLITE_DONE)
		rc = cl_ledger_db_err(l, err, "building the attribute index");
	sqlite3_finalize(st);
	return rc;
}

/* attr_index_cover.covered, or -1 when the index does not exist. */
static int ix_covered(sqlite3 *db, sqlite3_int64 *covered)
{
	sqlite3_stmt *st = NULL;
	int s;

	*covered = -1;
	if (sqlite3_prepare_v2(db, "SELECT covered FROM attr_index_cover WHERE k = 0", -1,
			       &st, NULL) != SQLITE_OK)
		return CL_OK;    /* no such table */
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*covered = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return s == SQLITE_ROW || s == SQLITE_DONE ? CL_OK : CL_EIO;
}

int cl_attrix_begin(struct cl_ledger *l, char **err)
{
	sqlite3_int64 covered;
	int rc;

	if (ix_covered(l->db, &covered) != CL_OK)
		return cl_ledger_db_err(l, err, "reading the attribute index");
	if (covered < 0) {
		if (sqlite3_exec(l->db, ix_schema, NULL, NULL, NULL) != SQLITE_OK)
			return cl_ledger_db_err(l, err, "creating the attribute index");
		covered = 0;
	}
	if ((uint64_t)covered > l->committed_size)
		covered = 0;    /* not this archive's: rebuild (rows are checked) */
	if ((uint64_t)covered < l->committed_size &&
	    (rc = ix_fill(l, (uint64_t)covered, l->committed_size, err)))
		return rc;
	return CL_OK;
}

int cl_attrix_add(struct cl_ledger *l, uint64_t idx, const unsigned char *attrs,
		  size_t len, char **err)
{
	size_t i;
	int rc;

	if ((rc = cl_ledger_prepare(l, &l->st_ins_attr, "INSERT OR IGNORE INTO"
				    " attr_index(h, idx) VALUES (?1, ?2)", err)))
		return rc;
	for (i = 0; i + 8 <= len; i += 8) {
		sqlite3_reset(l->st_ins_attr);
		sqlite3_bind_int64(l->st_ins_attr, 1, (sqlite3_int64)cl_load_be64(attrs + i));
		sqlite3_bind_int64(l->st_ins_attr, 2, (sqlite3_int64)idx);
		if (sqlite3_step(l->st_ins_attr) != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "indexing selector attributes");
			sqlite3_reset(l->st_ins_attr);
			return rc;
		}
	}
	sqlite3_reset(l->st_ins_attr);
	return CL_OK;
}

int cl_attrix_erase(struct cl_ledger *l, uint64_t idx, char **err)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *a;
	size_t n, i;
	int rc = CL_OK, s;

	if (sqlite3_prepare_v2(l->db, "SELECT attrs FROM entry WHERE idx = ?1", -1, &st,
			       NULL) != SQLITE_OK ||
	    cl_ledger_prepare(l, &l->st_del_attr, "DELETE FROM attr_index WHERE h = ?1"
			      " AND idx = ?2", err) != CL_OK) {
		rc = cl_ledger_db_err(l, err, "erasing selector attributes");
		goto out;
	}
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
	for (i = 0; i + 8 <= n; i += 8) {
		sqlite3_reset(l->st_del_attr);
		sqlite3_bind_int64(l->st_del_attr, 1, (sqlite3_int64)cl_load_be64(a + i));
		sqlite3_bind_int64(l->st_del_attr, 2, (sqlite3_int64)idx);
		if (sqlite3_step(l->st_del_attr) != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "erasing selector attributes");
			break;
		}
	}
	sqlite3_reset(l->st_del_attr);
out:
	sqlite3_finalize(st);
	return rc;
}

int cl_attrix_commit(struct cl_ledger *l, char **err)
{
	char sql[96];

	if (cl_fmt(sql, sizeof(sql), "INSERT OR REPLACE INTO attr_index_cover(k, covered)"
		   " VALUES (0, %llu)", (unsigned long long)l->size) != CL_OK ||
	    sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "recording the attribute index");
	return CL_OK;
}

int cl_attrix_rebuild(struct cl_ledger *l, char **err)
{
	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "rebuilding the attribute index outside a batch");
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
	if (ix_covered(l->db, &covered) != CL_OK)
		return cl_ledger_db_err(l, err, "reading the attribute index");
	if (covered < 0)
		return CL_OK;
	if ((h = malloc((n_h ? n_h : 1) * sizeof(*h))) == NULL)
		return CL_ENOMEM;
	if (n_h)
		memcpy(h, h_in, n_h * sizeof(*h));
	if (n_h > 1)
		qsort(h, n_h, sizeof(*h), cmp_u64);
	if (sqlite3_prepare_v2(l->db, "SELECT idx FROM attr_index WHERE h = ?1 AND idx < ?2",
			       -1, &q, NULL) != SQLITE_OK ||
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
			rc = idxv_push(&x, (uint64_t)sqlite3_column_int64(q, 0));
		if (rc == CL_OK && s != SQLITE_DONE)
			rc = cl_ledger_db_err(l, err, "reading the attribute index");
	}
	if (rc)
		goto out;
	if (x.n > 1)
		qsort(x.v, x.n, sizeof(*x.v), cmp_u64);
	/* Keep the candidates whose committed attrs carry a hash. */
	for (i = 0, k = 0; i < x.n; i++) {
		if (i && x.v[i] == x.v[i - 1])
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
