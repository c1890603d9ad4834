/*
 * test_readpath.c - the read path's batch helpers and the attribute side
 * index (archiver/ledger/opener.c, read.c, attrindex.c): an opener gives
 * the same bytes and salts as single opens across key batches; a prover's
 * proofs equal proofs computed from the leaves alone; conversation chains
 * and heads; attr_index lookups equal a scan of entry.attrs, an erased
 * entry is left in no attr_index posting, a rebuilt index (its postings)
 * equals the incremental
 * one, and an index created for an archive that had none (or that an
 * older writer extended without rows) finds the same entries.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/vault.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define ORIGIN "test.example/readpath"
#define N_REC 700           /* > 2 blocks of 256 leaves, a ragged third */
#define T0 INT64_C(1717200000000)

/* Entry i: conversation i % 3, party "p<i % 5>", label on every 7th. */
static int add_records(struct cl_ledger *l, int from, int to)
{
	char *err = NULL;
	int i, rc = CL_OK;

	if ((rc = cl_ledger_begin(l, &err)))
		goto out;
	for (i = from; i < to && rc == CL_OK; i++) {
		struct cl_entry_in in;
		char key[32], conv[32], pt[96], attrs[96];
		size_t alen;
		uint64_t idx;
		enum cl_append_outcome dup;

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(conv, sizeof(conv), "conv-%d", i % 3);
		snprintf(pt, sizeof(pt), "{\"text\":\"message %d\"}", i);
		alen = (size_t)snprintf(attrs, sizeof(attrs), "conversation=conv-%d", i % 3) + 1;
		alen += (size_t)snprintf(attrs + alen, sizeof(attrs) - alen, "party=p%d", i % 5) + 1;
		if (i % 7 == 0)
			alen += (size_t)snprintf(attrs + alen, sizeof(attrs) - alen, "label=seven") + 1;
		memset(&in, 0, sizeof(in));
		in.type = CL_ENTRY_RECORD;
		in.kind = "text";
		in.sent_at = T0 + i;
		in.received_at = T0 + i;
		in.key = key;
		in.key_len = strlen(key);
		in.conv = conv;
		in.conv_len = strlen(conv);
		in.plaintext = (const unsigned char *)pt;
		in.plaintext_len = strlen(pt);
		in.attrs = attrs;
		in.attrs_len = alen;
		rc = cl_ledger_append(l, &in, &idx, &dup, &err);
		/* a batch every 100 entries: several key batches */
		if (rc == CL_OK && i % 100 == 99 && i + 1 < to) {
			if ((rc = cl_ledger_commit(l, &err)) == CL_OK)
				rc = cl_ledger_begin(l, &err);
		}
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
	else
		cl_ledger_rollback(l);
out:
	if (rc)
		fprintf(stderr, "# add_records: %s\n", err ? err : "?");
	free(err);
	return rc;
}

/* ---- attr_index rows, read directly ------------------------------------- */

/* The (h, idx) pairs the posting rows hold, ordered, into *out ("h idx\n"
 * lines); *n_at counts those of entry `at`, *n_from those of entries >= from. */
struct pair {
	long long h, idx;
};

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int index_rows(const char *dir, struct cl_buf *out, long long at, long long from,
		      long long *n_at, long long *n_from)
{
	char *path = fx_path(dir, "ledger.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct pair *v = NULL;
	size_t n = 0, cap = 0, i;
	int rc = -1;

	cl_buf_reset(out);
	*n_at = *n_from = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT h, first, idxs FROM attr_index", -1, &st,
			       NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *p = sqlite3_column_blob(st, 2);
			size_t len = (size_t)sqlite3_column_bytes(st, 2), k = 0;
			long long cur = sqlite3_column_int64(st, 1);

			for (;;) {
				if (n == cap) {
					cap = cap ? 2 * cap : 1024;
					v = realloc(v, cap * sizeof(*v));
					if (v == NULL)
						abort();
				}
				v[n].h = sqlite3_column_int64(st, 0);
				v[n++].idx = cur;
				if (k >= len)
					break;
				{
					unsigned long long d = 0;
					unsigned sh = 0;

					while (k < len) {
						d |= (unsigned long long)(p[k] & 0x7f) << sh;
						sh += 7;
						if (!(p[k++] & 0x80))
							break;
					}
					cur += (long long)d;
				}
			}
		}
		rc = 0;
	}
	qsort(v, n, sizeof(*v), cmp_pair);
	for (i = 0; i < n; i++) {
		cl_buf_addf(out, "%lld %lld\n", v[i].h, v[i].idx);
		*n_at += v[i].idx == at;
		*n_from += v[i].idx >= from;
	}
	free(v);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return rc;
}

static long long sql_count(const char *dir, const char *sql)
{
	char *path = fx_path(dir, "ledger.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long long n = -1;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return n;
}

/* ---- the scan a lookup must equal ---------------------------------------- */

struct scan {
	uint64_t h;
	uint64_t idx[N_REC + 64];
	size_t n;
};

static int scan_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		    const unsigned char *attrs, size_t alen, int has_payload)
{
	struct scan *s = ctx;
	size_t i;

	(void)leaf;
	(void)leaf_len;
	(void)has_payload;
	for (i = 0; attrs && i + 8 <= alen; i += 8)
		if (cl_load_be64(attrs + i) == s->h) {
			s->idx[s->n++] = index;
			break;
		}
	return 0;
}

/* One batch that rebuilds the attribute index from entry.attrs. */
static int rebuild_index(struct cl_ledger *l, char **err)
{
	int rc = cl_ledger_begin(l, err);

	if (rc != CL_OK)
		return rc;
	rc = cl_attrix_rebuild(l, err);
	if (rc == CL_OK)
		return cl_ledger_commit(l, err);
	cl_ledger_rollback(l);
	return rc;
}

/* Does a lookup of type=value equal the scan?  *n gets the count. */
static int lookup_matches(struct cl_ledger *l, const char *type, const char *value,
			  size_t *n)
{
	struct scan s;
	uint64_t *idx = NULL;
	size_t k = 0, i;
	int usable = 0, same;
	char *err = NULL;

	memset(&s, 0, sizeof(s));
	if (cl_ledger_attr_hash(l, type, value, &s.h) != CL_OK ||
	    cl_ledger_each(l, CL_ENTRY_RECORD, scan_one, &s, &err) != CL_OK ||
	    cl_ledger_attr_lookup(l, &s.h, 1, &idx, &k, &usable, &err) != CL_OK || !usable) {
		free(err);
		free(idx);
		return 0;
	}
	same = k == s.n;
	for (i = 0; same && i < k; i++)
		same = idx[i] == s.idx[i];
	*n = k;
	free(idx);
	return same;
}

/* ---- proofs from the leaves alone ----------------------------------------- */

struct mem_src {
	cl_hash *h;
	uint64_t n;
};

static int mem_leaves(void *ctx, uint64_t first, uint64_t count, cl_hash *out)
{
	struct mem_src *m = ctx;

	if (first + count > m->n)
		return CL_EINVAL;
	memcpy(out, m->h + first, (size_t)count * sizeof(cl_hash));
	return CL_OK;
}

/* ---- conversation chains ----------------------------------------------------- */

struct chain {
	uint64_t idx[N_REC + 64];
	size_t n;
};

static int chain_one(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		     const unsigned char *attrs, size_t alen, int has_payload)
{
	struct chain *c = ctx;

	(void)leaf;
	(void)leaf_len;
	(void)attrs;
	(void)alen;
	(void)has_payload;
	c->idx[c->n++] = index;
	return 0;
}

int main(void)
{
	char *dir = fx_scratch("cl-readpath"), *err = NULL;
	struct cl_ledger *l = NULL;
	unsigned char *sk = NULL;
	struct cl_buf a, b, rows1, rows2, note;
	uint64_t size;
	size_t n;
	long long n_at = 0, n_from = 0;
	int rc, i, already = 0, same, found = 0;

	cl_buf_init(&a, 1 << 20);
	cl_buf_init(&b, 1 << 20);
	cl_buf_init(&rows1, 1 << 26);
	cl_buf_init(&rows2, 1 << 26);
	cl_buf_init(&note, 1 << 16);
	if (sodium_init() < 0 || dir == NULL || fx_init(dir, ORIGIN) != CL_OK)
		return 99;
	rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err);
	TAP_EQ_INT(rc, CL_OK, "open for writing");
	cl_ledger_set_attr_defer(l, 0);  /* rows at every commit (held: below) */
	TAP_EQ_INT(add_records(l, 0, N_REC), CL_OK, "append records in several batches");
	TAP_EQ_INT(cl_vault_unlock_seal(dir, (const unsigned char *)FX_PASS, strlen(FX_PASS),
					&sk, &err), CL_OK, "unlock the sealing key");
	size = cl_ledger_size(l);

	/* The opener against single opens. */
	{
		struct cl_opener *o = NULL;
		unsigned char s1[32], s2[32];
		int bad = 0;

		TAP_EQ_INT(cl_opener_new(l, sk, &o, &err), CL_OK, "an opener");
		for (i = 0; i < N_REC; i += 13) {
			uint64_t idx = (uint64_t)((i * 7919) % N_REC);   /* across key batches */

			cl_buf_reset(&a);
			cl_buf_reset(&b);
			if (cl_opener_open(o, idx, &a, s1, NULL, &err) != CL_OK ||
			    cl_ledger_open_payload_salt(l, idx, sk, &b, s2, &err) != CL_OK ||
			    a.len != b.len || memcmp(a.data, b.data, a.len) != 0 ||
			    memcmp(s1, s2, 32) != 0)
				bad++;
		}
		TAP_EQ_INT(bad, 0, "the opener gives the single opens' plaintext and salts");
		cl_buf_reset(&a);
		cl_buf_reset(&b);
		TAP_EQ_INT(cl_opener_open(o, 5, &a, NULL, &b, &err), CL_OK, "open with the leaf");
		{
			struct cl_buf leaf;

			cl_buf_init(&leaf, 1 << 20);
			same = cl_ledger_leaf(l, 5, &leaf, &err) == CL_OK && leaf.len == b.len &&
				memcmp(leaf.data, b.data, b.len) == 0;
			cl_buf_release(&leaf);
		}
		TAP_OK(same, "the opener's leaf bytes are the entry's leaf");
		free(err);
		err = NULL;
		cl_buf_reset(&a);
		TAP_EQ_INT(cl_opener_open(o, size + 5, &a, NULL, NULL, &err), CL_ENOTFOUND,
			   "no such entry");
		cl_opener_free(o);
	}

	/* The prover against proofs from the leaves alone. */
	{
		struct mem_src m;
		struct cl_merkle_src src;
		struct cl_prover *p = NULL;
		int bad = 0;
		uint64_t k;

		m.n = size;
		m.h = calloc((size_t)size, sizeof(cl_hash));
		for (k = 0; k < size; k++) {
			cl_buf_reset(&a);
			if (cl_ledger_leaf(l, k, &a, &err) != CL_OK)
				bad++;
			else
				cl_merkle_leaf_hash(a.data, a.len, m.h[k]);
		}
		memset(&src, 0, sizeof(src));
		src.ctx = &m;
		src.leaf_hashes = mem_leaves;
		src.node_level = 64;
		TAP_EQ_INT(cl_ledger_checkpoint(l, 0, &note, &err), CL_OK, "the latest checkpoint");
		TAP_EQ_INT(cl_prover_new(l, 0, &p, &err), CL_OK, "a prover");
		/* In an order that leaves and revisits blocks. */
		for (i = 0; p && i < (int)size; i++) {
			uint64_t idx = (uint64_t)((i * 257) % (int)size);
			cl_hash proof[CL_MERKLE_MAXPROOF];
			size_t cnt = 0;

			cl_buf_reset(&a);
			cl_buf_reset(&b);
			if (cl_prover_prove(p, idx, &a, &err) != CL_OK ||
			    cl_merkle_prove_inclusion(&src, idx, size, proof, &cnt) != CL_OK ||
			    cl_tlog_proof_format(idx, (const unsigned char (*)[32])proof, cnt, NULL, 0,
						 (const char *)note.data, note.len, &b) != CL_OK ||
			    a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
				bad++;
		}
		TAP_EQ_INT(bad, 0, "every proof equals the proof from the leaves alone");
		cl_buf_reset(&a);
		TAP_EQ_INT(cl_prover_prove(p, size, &a, &err), CL_EINVAL,
			   "an entry past the checkpoint is refused");
		free(err);
		err = NULL;
		cl_prover_free(p);
		free(m.h);
	}

	/* Chains and heads. */
	{
		static struct chain c;
		unsigned char tag[32];
		struct cl_buf leaf;
		struct cl_leaf lf;
		uint64_t head = 0;
		int ok = 1;
		size_t k;

		cl_buf_init(&leaf, 1 << 20);
		ok = cl_ledger_leaf(l, 4, &leaf, &err) == CL_OK &&
			cl_leaf_decode(leaf.data, leaf.len, &lf, &err) == CL_OK;
		memcpy(tag, lf.conv_tag, 32);
		c.n = 0;
		ok = ok && cl_ledger_conv_each(l, tag, chain_one, &c, &err) == CL_OK;
		/* conv-1: entries 1, 4, 7, ... newest first */
		for (k = 0; ok && k < c.n; k++)
			ok = c.idx[k] == (uint64_t)(N_REC - 1 - ((N_REC - 1 - 1) % 3)) - 3 * k;
		TAP_OK(ok && c.n == (N_REC + 1) / 3, "a conversation's chain, newest first (%zu)", c.n);
		TAP_EQ_INT(cl_ledger_conv_head(l, tag, 100, 0, 0, &head, &found, &err), CL_OK,
			   "the head below an index");
		TAP_OK(found && head == 97, "... is the conversation's newest entry below it (%" PRIu64 ")",
		       head);
		cl_buf_release(&leaf);
	}

	/* Lookups equal scans. */
	TAP_OK(lookup_matches(l, "party", "p3", &n) && n == N_REC / 5, "party lookup = scan (%zu)", n);
	TAP_OK(lookup_matches(l, "label", "seven", &n) && n == (N_REC + 6) / 7,
	       "label lookup = scan (%zu)", n);
	TAP_OK(lookup_matches(l, "party", "nobody", &n) && n == 0, "an unknown party: nothing");

	/* Erasure leaves no row. */
	index_rows(dir, &rows1, 8, 14, &n_at, &n_from);
	TAP_EQ_INT(n_at, 2, "entry 8 is in two postings");
	if ((rc = cl_ledger_begin(l, &err)) == CL_OK) {
		rc = cl_ledger_erase(l, 8, "test", "test", &already, &err);
		rc = rc ? rc : cl_ledger_erase(l, 14, "test", "test", &already, &err);
		if (rc == CL_OK)
			rc = cl_ledger_commit(l, &err);
		else
			cl_ledger_rollback(l);
	}
	TAP_EQ_INT(rc, CL_OK, "erase entries 8 and 14");
	{
		long long n14 = 0, dummy = 0;

		index_rows(dir, &rows2, 8, 0, &n_at, &dummy);
		index_rows(dir, &rows2, 14, 0, &n14, &dummy);
		TAP_OK(n_at == 0 && n14 == 0, "an erased entry is in no attr_index posting");
	}
	TAP_OK(lookup_matches(l, "party", "p3", &n) && n == N_REC / 5 - 1,
	       "the lookup no longer finds an erased entry (%zu)", n);
	TAP_OK(lookup_matches(l, "label", "seven", &n), "label lookup = scan after erasure");

	/* A rebuilt index equals the incremental one. */
	index_rows(dir, &rows1, 0, 0, &n_at, &n_from);
	rc = rebuild_index(l, &err);
	TAP_EQ_INT(rc, CL_OK, "rebuild the index");
	index_rows(dir, &rows2, 0, 0, &n_at, &n_from);
	TAP_OK(rows1.len > 0 && rows1.len == rows2.len && memcmp(rows1.data, rows2.data, rows1.len) == 0,
	       "the rebuilt index equals the incremental one (%zu bytes of rows)", rows1.len);
	cl_ledger_close(l);
	l = NULL;

	/* An archive without the index (as an older release left it): the
	 * first batch creates it, equal to the incremental one. */
	TAP_EQ_INT(fx_sql(dir, "DROP TABLE attr_index; DROP TABLE attr_index_cover;"), 0,
		   "drop the index");
	rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err);
	if (rc == CL_OK)
		cl_ledger_set_attr_defer(l, 0);
	{
		uint64_t *idx = NULL, h = 0;
		size_t k = 0;
		int usable = 1;

		(void)cl_ledger_attr_hash(l, "party", "p3", &h);
		TAP_OK(cl_ledger_attr_lookup(l, &h, 1, &idx, &k, &usable, &err) == CL_OK && !usable,
		       "without the index, a lookup says so");
		free(idx);
	}
	if (rc == CL_OK && (rc = cl_ledger_begin(l, &err)) == CL_OK)
		rc = cl_ledger_commit(l, &err);
	TAP_EQ_INT(rc, CL_OK, "a batch on the archive without the index");
	index_rows(dir, &rows2, 0, 0, &n_at, &n_from);
	TAP_OK(rows1.len == rows2.len && memcmp(rows1.data, rows2.data, rows1.len) == 0,
	       "the index created for it equals the incremental one");

	/* Dropped and made again in another shape by another process while
	 * this handle keeps its index statements prepared: the next batch
	 * sees a table that is not the index and makes it anew. */
	TAP_EQ_INT(fx_sql(dir, "DROP TABLE attr_index; CREATE TABLE attr_index(x INTEGER);"), 0,
		   "another process reshapes the index table");
	rc = rc == CL_OK ? cl_ledger_begin(l, &err) : rc;
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
	TAP_EQ_INT(rc, CL_OK, "a batch after the index table changed under the open handle");
	index_rows(dir, &rows2, 0, 0, &n_at, &n_from);
	TAP_OK(rows1.len == rows2.len && memcmp(rows1.data, rows2.data, rows1.len) == 0,
	       "... makes the index anew, equal to the incremental one");

	/* Entries an older writer appended without rows (50 records, 2 rows
	 * each, a label on 8 of them): found past the
	 * recorded coverage, and added by the next batch. */
	TAP_EQ_INT(add_records(l, N_REC, N_REC + 50), CL_OK, "append 50 more");
	TAP_EQ_INT(fx_sql(dir, "DELETE FROM attr_index WHERE first >= 700;"
			  " UPDATE attr_index_cover SET covered = 700;"), 0,
		   "forget their rows (an older writer)");
	TAP_OK(lookup_matches(l, "party", "p3", &n) && n == (N_REC + 50) / 5 - 1,
	       "entries past the coverage are found (%zu)", n);
	if ((rc = cl_ledger_begin(l, &err)) == CL_OK)
		rc = cl_ledger_commit(l, &err);
	index_rows(dir, &rows2, 0, 700, &n_at, &n_from);
	TAP_EQ_INT(n_from, 108, "the next batch adds their postings");
	TAP_EQ_INT(sql_count(dir, "SELECT covered FROM attr_index_cover"), (long long)cl_ledger_size(l),
		   "and records the coverage");
	/* A forged row adds nothing: candidates are checked against attrs. */
	{
		char sql[160];
		uint64_t h = 0;

		(void)cl_ledger_attr_hash(l, "party", "p3", &h);
		snprintf(sql, sizeof(sql), "INSERT INTO attr_index(h, first, idxs) VALUES (%lld, 1, x'0102')",
			 (long long)h);
		TAP_EQ_INT(fx_sql(dir, sql), 0, "forge a row");
		TAP_OK(lookup_matches(l, "party", "p3", &n), "a forged row adds no entry");
	}

	/* Held postings (the default): small commits write no row until
	 * CL_ATTR_DEFER entries; readers find those entries past the
	 * coverage; a rollback, an erasure and the threshold each write them. */
	cl_ledger_close(l);
	l = NULL;
	rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err);
	TAP_EQ_INT(rc, CL_OK, "reopen with the default (held postings)");
	if (rc == CL_OK) {
		const char *q_rows = "SELECT count(*) FROM attr_index";
		const char *q_cover = "SELECT covered FROM attr_index_cover";
		long long rows0 = sql_count(dir, q_rows), dummy = 0;
		long long base = (long long)cl_ledger_size(l);  /* 750 records + 2 tombstones */
		struct cl_ledger *r = NULL;
		int ok3 = 1;

		TAP_EQ_INT(sql_count(dir, q_cover), base, "coverage before: every entry");
		for (i = 0; i < 3; i++)
			ok3 &= add_records(l, N_REC + 50 + 10 * i, N_REC + 60 + 10 * i) == CL_OK;
		TAP_OK(ok3 && sql_count(dir, q_rows) == rows0 && sql_count(dir, q_cover) == base,
		       "three small batches: no row written, coverage unchanged");
		/* (a second handle, as another process: it hashes with the
		 * archive's attribute key, which a writer handle loads) */
		TAP_OK(cl_ledger_open(dir, CL_OPEN_WRITE, &r, &err) == CL_OK &&
		       lookup_matches(r, "party", "p3", &n) && n == (N_REC + 80) / 5 - 1,
		       "another handle finds the held entries past the coverage (%zu)", n);
		cl_ledger_close(r);
		TAP_OK(lookup_matches(l, "label", "seven", &n), "label lookup = scan with postings held");
		if (cl_ledger_begin(l, &err) == CL_OK)
			cl_ledger_rollback(l);
		TAP_EQ_INT(add_records(l, N_REC + 80, N_REC + 90), CL_OK, "a rollback, then a batch");
		TAP_OK(sql_count(dir, q_rows) > rows0 && sql_count(dir, q_cover) == base + 30,
		       "after a rollback the next batch writes the held entries' rows from their attrs");
		TAP_OK(lookup_matches(l, "party", "p3", &n) && n == (N_REC + 90) / 5 - 1,
		       "party lookup = scan (%zu)", n);
		if ((rc = cl_ledger_begin(l, &err)) == CL_OK) {
			rc = cl_ledger_erase(l, (uint64_t)base + 35, "test", "test", &already, &err);
			if (rc == CL_OK)
				rc = cl_ledger_commit(l, &err);
			else
				cl_ledger_rollback(l);
		}
		TAP_EQ_INT(rc, CL_OK, "erase a held entry");
		index_rows(dir, &rows2, base + 35, 0, &n_at, &dummy);
		TAP_OK(n_at == 0 && sql_count(dir, q_cover) >= base + 30,
		       "an erased held entry leaves the postings, stored and held (covered %lld)",
		       sql_count(dir, q_cover));
		TAP_OK(lookup_matches(l, "party", "p0", &n), "party lookup = scan after erasing a held entry");
		cl_ledger_set_attr_defer(l, 20);
		TAP_EQ_INT(add_records(l, N_REC + 90, N_REC + 120), CL_OK, "30 entries: 10, then 20");
		/* 30 records from index base + 41 (after the erasure's
		 * tombstone): 2 pairs each, 3 with the label of every 7th i */
		index_rows(dir, &rows2, 0, base + 41, &n_at, &n_from);
		TAP_OK(n_from == 65 && sql_count(dir, q_cover) == (long long)cl_ledger_size(l),
		       "at the threshold the rows are written (%lld pairs)", n_from);
		index_rows(dir, &rows2, base + 35, 0, &n_at, &dummy);
		TAP_OK(n_at == 0, "... without the erased held entry");
		TAP_OK(lookup_matches(l, "party", "p3", &n), "party lookup = scan at the end");
	}
	/* Many erasures in one batch, several in one row and across rows of
	 * a hash (the removals are applied at the commit, a row at a time):
	 * the rows then equal a rebuild from entry.attrs. */
	{
		uint64_t e;

		cl_ledger_set_attr_defer(l, 0);   /* every commit writes every row */
		rc = rebuild_index(l, &err);       /* from a clean index */
		if (rc == CL_OK && (rc = cl_ledger_begin(l, &err)) == CL_OK) {
			for (e = 100; rc == CL_OK && e < 600; e += 4)
				rc = cl_ledger_erase(l, e, "test", "test", &already, &err);
			if (rc == CL_OK)
				rc = cl_ledger_commit(l, &err);
			else
				cl_ledger_rollback(l);
		}
		TAP_EQ_INT(rc, CL_OK, "erase every 4th entry of 100..599 in one batch");
		index_rows(dir, &rows2, 100, 0, &n_at, &n_from);
		TAP_OK(n_at == 0, "... the first erased entry is in no posting");
		index_rows(dir, &rows2, 596, 0, &n_at, &n_from);
		TAP_OK(n_at == 0, "... nor the last");
		TAP_OK(lookup_matches(l, "party", "p3", &n) && lookup_matches(l, "label", "seven", &n),
		       "lookups = scans after the batch of erasures");
		index_rows(dir, &rows1, 0, 0, &n_at, &n_from);
		rc = rebuild_index(l, &err);
		index_rows(dir, &rows2, 0, 0, &n_at, &n_from);
		TAP_OK(rc == CL_OK && rows1.len > 0 && rows1.len == rows2.len &&
		       memcmp(rows1.data, rows2.data, rows1.len) == 0,
		       "... and the rows equal a rebuild (%zu bytes of rows)", rows1.len);
	}
	cl_ledger_close(l);
	free(err);
	sodium_free(sk);
	cl_buf_release(&a);
	cl_buf_release(&b);
	cl_buf_release(&rows1);
	cl_buf_release(&rows2);
	cl_buf_release(&note);
	TAP_EQ_INT(fx_rm_tree(dir), 0, "scratch directory removed");
	free(dir);
	return tap_done();
}
