/*
 * read.c - reads: leaves, checkpoints, proofs, opening payloads, listing
 * entries by type.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/ledger_int.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

int cl_ledger_read_begin(struct cl_ledger *l, int *started, char **err)
{
	*started = 0;
	if (l->mode != CL_OPEN_WRITE || l->in_batch || !sqlite3_get_autocommit(l->db))
		return CL_OK;
	if (sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "starting a read transaction");
	*started = 1;
	return CL_OK;
}

void cl_ledger_read_end(struct cl_ledger *l, int started)
{
	if (started && !sqlite3_get_autocommit(l->db))
		sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
}

int cl_ledger_leaf(struct cl_ledger *l, uint64_t index, struct cl_buf *out,
		   char **err)
{
	sqlite3_stmt *st;
	int rc = CL_OK, s;

	/* The handle's prepared statement (ledger.c uses it too, never
	 * across a call): reads of many leaves prepare it once. */
	if ((rc = cl_ledger_prepare(l, &l->st_leaf, "SELECT leaf FROM entry WHERE idx = ?1",
				    err)))
		return rc;
	st = l->st_leaf;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		rc = cl_buf_add(out, sqlite3_column_blob(st, 0),
				(size_t)sqlite3_column_bytes(st, 0));
	else if (s == SQLITE_DONE)
		rc = cl_error(err, CL_ENOTFOUND, "no entry %llu",
			      (unsigned long long)index);
	else
		rc = cl_ledger_db_err(l, err, "reading a leaf");
	sqlite3_reset(st);
	return rc;
}

int cl_ledger_checkpoint(struct cl_ledger *l, uint64_t size,
			 struct cl_buf *out, char **err)
{
	sqlite3_stmt *st = NULL;
	const char *sql = size == 0 ?
		"SELECT note FROM checkpoint ORDER BY size DESC LIMIT 1" :
		"SELECT note FROM checkpoint WHERE size = ?1";
	int rc = CL_OK, s;

	if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading checkpoints");
	if (size)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		rc = cl_buf_add(out, sqlite3_column_text(st, 0),
				(size_t)sqlite3_column_bytes(st, 0));
	else if (s == SQLITE_DONE)
		rc = cl_error(err, CL_ENOTFOUND, "no checkpoint of size %llu",
			      (unsigned long long)size);
	else
		rc = cl_ledger_db_err(l, err, "reading checkpoints");
	sqlite3_finalize(st);
	return rc;
}

int cl_ledger_checkpoint_sizes(struct cl_ledger *l, uint64_t **sizes,
			       size_t *n, char **err)
{
	sqlite3_stmt *st = NULL;
	uint64_t *a = NULL;
	size_t cnt = 0, cap = 0;
	int rc = CL_OK, s;

	*sizes = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT size FROM checkpoint ORDER BY size",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading checkpoints");
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			uint64_t *na;

			cap = cap ? cap * 2 : 64;
			na = realloc(a, cap * sizeof(*a));
			if (na == NULL) {
				rc = CL_ENOMEM;
				goto out;
			}
			a = na;
		}
		a[cnt++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	if (s != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "reading checkpoints");
		goto out;
	}
	*sizes = a;
	*n = cnt;
	a = NULL;
out:
	free(a);
	sqlite3_finalize(st);
	return rc;
}

/* ---- proofs over the stored tree ------------------------------------ */

struct src_ctx {
	struct cl_ledger *l;
	sqlite3_stmt *leaves, *node;
};

static int src_leaves(void *ctx, uint64_t first, uint64_t count, cl_hash *out)
{
	struct src_ctx *c = ctx;
	uint64_t got = 0;
	int s;

	sqlite3_reset(c->leaves);
	sqlite3_bind_int64(c->leaves, 1, (sqlite3_int64)first);
	sqlite3_bind_int64(c->leaves, 2, (sqlite3_int64)first + (sqlite3_int64)count);
	while ((s = sqlite3_step(c->leaves)) == SQLITE_ROW) {
		if ((uint64_t)sqlite3_column_int64(c->leaves, 0) != first + got)
			return CL_ECORRUPT;
		cl_merkle_leaf_hash(sqlite3_column_blob(c->leaves, 1),
				    (size_t)sqlite3_column_bytes(c->leaves, 1),
				    out[got]);
		got++;
	}
	return s == SQLITE_DONE && got == count ? CL_OK : CL_ECORRUPT;
}

static int src_node(void *ctx, unsigned level, uint64_t pos, cl_hash out)
{
	struct src_ctx *c = ctx;
	int rc = CL_ECORRUPT;

	sqlite3_reset(c->node);
	sqlite3_bind_int(c->node, 1, (int)level);
	sqlite3_bind_int64(c->node, 2, (sqlite3_int64)pos);
	if (sqlite3_step(c->node) == SQLITE_ROW &&
	    sqlite3_column_bytes(c->node, 0) == 32) {
		memcpy(out, sqlite3_column_blob(c->node, 0), 32);
		rc = CL_OK;
	}
	return rc;
}

static int src_open(struct cl_ledger *l, struct src_ctx *c,
		    struct cl_merkle_src *src, char **err)
{
	memset(c, 0, sizeof(*c));
	c->l = l;
	if (sqlite3_prepare_v2(l->db, "SELECT idx, leaf FROM entry WHERE idx >= ?1"
			       " AND idx < ?2 ORDER BY idx", -1, &c->leaves,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT hash FROM node WHERE level = ?1"
			       " AND pos = ?2", -1, &c->node, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "preparing proof queries");
	src->ctx = c;
	src->leaf_hashes = src_leaves;
	src->node = src_node;
	src->node_level = CL_NODE_LEVEL;
	return CL_OK;
}

static void src_close(struct src_ctx *c)
{
	sqlite3_finalize(c->leaves);
	sqlite3_finalize(c->node);
}

/* The stored checkpoint of `size` (0 = latest): note text and parsed. */
static int load_checkpoint(struct cl_ledger *l, uint64_t size,
			   struct cl_buf *note, struct cl_checkpoint *cp,
			   char **err)
{
	size_t text_len = 0;
	int rc;

	if ((rc = cl_ledger_checkpoint(l, size, note, err)))
		return rc;
	{
		char *name = NULL;
		uint32_t id;
		unsigned char pk[32];

		if ((rc = cl_note_vkey_parse(l->vkey, &name, &id, pk, err)))
			return rc;
		rc = cl_note_verify((const char *)note->data, note->len, name,
				    id, pk, &text_len, err);
		free(name);
		if (rc)
			return cl_error(err, CL_ECORRUPT,
					"stored checkpoint does not verify; run verify");
	}
	return cl_checkpoint_parse((const char *)note->data, text_len, cp, err);
}

/* ---- a prover for many entries ------------------------------------- */

/*
 * Proofs need, below the stored nodes (level CL_NODE_LEVEL, 256 leaves),
 * the hashes of perfect subtrees inside one 256-leaf block.  The prover
 * computes each block's small tree once (levels 0..7: 510 hashes) and
 * keeps up to PROVER_BLOCKS of them (direct-mapped, at most 16 MiB), so
 * that an export visiting conversation after conversation, each spread
 * over the same blocks, hashes each block once instead of once per proof.
 */
#define PROVER_BLOCK 256u          /* 2^CL_NODE_LEVEL leaves */
#define PROVER_INNER 510u          /* levels 0..7 of one block */
#define PROVER_BLOCKS 1024u        /* cached block trees (16 MiB at most) */
#define PROVER_NODES 4096u         /* stored-node cache slots (direct-mapped) */

struct prover_node {
	uint64_t key;              /* level << 56 | pos, plus 1; 0: empty */
	cl_hash h;
};

struct prover_block {
	uint64_t b;                /* block number */
	cl_hash h[PROVER_INNER];   /* level l at offset 512 - (512 >> l) */
};

struct cl_prover {
	struct cl_ledger *l;
	struct cl_buf note;
	struct cl_checkpoint cp;
	struct src_ctx c;
	struct cl_merkle_src src, raw;
	struct prover_block **blocks;
	struct prover_node *nodes;
};

static size_t level_off(unsigned level)
{
	return (size_t)(512u - (512u >> level));
}

/* The tree of block b (inside the checkpoint), computed on first use. */
static int prover_block(struct cl_prover *p, uint64_t b, struct prover_block **out)
{
	struct prover_block **slot = &p->blocks[b % PROVER_BLOCKS], *k = *slot;
	uint64_t first = b * PROVER_BLOCK, n = p->cp.size - first, i;
	unsigned level;
	int rc;

	if (k != NULL && k->b == b) {
		*out = k;
		return CL_OK;
	}
	if (k == NULL && (k = *slot = malloc(sizeof(*k))) == NULL)
		return CL_ENOMEM;
	k->b = UINT64_MAX;
	if (n > PROVER_BLOCK)
		n = PROVER_BLOCK;
	if ((rc = src_leaves(&p->c, first, n, k->h)))
		return rc;
	for (level = 1; level < CL_NODE_LEVEL; level++) {
		cl_hash *lo = k->h + level_off(level - 1), *hi = k->h + level_off(level);

		for (i = 0; (i + 1) << level <= n; i++)
			cl_merkle_node_hash(lo[2 * i], lo[2 * i + 1], hi[i]);
	}
	k->b = b;
	*out = k;
	return CL_OK;
}

static int prover_leaves(void *ctx, uint64_t first, uint64_t count, cl_hash *out)
{
	struct cl_prover *p = ctx;

	return src_leaves(&p->c, first, count, out);
}

/* A perfect subtree: from a block's tree below CL_NODE_LEVEL, else from
 * the stored nodes (cached). */
static int prover_node(void *ctx, unsigned level, uint64_t pos, cl_hash out)
{
	struct cl_prover *p = ctx;
	uint64_t key = ((uint64_t)level << 56 | pos) + 1;
	struct prover_node *slot;
	struct prover_block *k;
	int rc;

	if (level < CL_NODE_LEVEL) {
		uint64_t b = (pos << level) / PROVER_BLOCK;

		if (((pos + 1) << level) > p->cp.size)
			return CL_ECORRUPT;
		if ((rc = prover_block(p, b, &k)))
			return rc;
		memcpy(out, k->h[level_off(level) + (pos - ((b * PROVER_BLOCK) >> level))], 32);
		return CL_OK;
	}
	slot = &p->nodes[(key * 0x9e3779b97f4a7c15ull) >> 52];
	if (slot->key == key) {
		memcpy(out, slot->h, 32);
		return CL_OK;
	}
	if ((rc = src_node(&p->c, level, pos, out)))
		return rc;
	slot->key = key;
	memcpy(slot->h, out, 32);
	return CL_OK;
}

void cl_prover_free(struct cl_prover *p)
{
	if (p == NULL)
		return;
	src_close(&p->c);
	cl_checkpoint_release(&p->cp);
	cl_buf_release(&p->note);
	for (size_t i = 0; p->blocks && i < PROVER_BLOCKS; i++)
		free(p->blocks[i]);
	free(p->blocks);
	free(p->nodes);
	free(p);
}

int cl_prover_new(struct cl_ledger *l, uint64_t size, struct cl_prover **out,
		  char **err)
{
	struct cl_prover *p = calloc(1, sizeof(*p));
	cl_hash root;
	int rc;

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	p->l = l;
	cl_buf_init(&p->note, 1 << 16);
	if ((p->nodes = calloc(PROVER_NODES, sizeof(*p->nodes))) == NULL ||
	    (p->blocks = calloc(PROVER_BLOCKS, sizeof(struct prover_block *))) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = load_checkpoint(l, size, &p->note, &p->cp, err)) ||
	    (rc = src_open(l, &p->c, &p->raw, err)))
		goto out;
	p->src = p->raw;
	p->src.ctx = p;
	p->src.leaf_hashes = prover_leaves;
	p->src.node = prover_node;
	p->src.node_level = 0;    /* every perfect subtree through prover_node */
	/* The stored tree must give the signed root. */
	if (cl_merkle_subtree_hash(&p->src, 0, p->cp.size, root) != CL_OK ||
	    memcmp(root, p->cp.root, 32) != 0)
		rc = cl_error(err, CL_ECORRUPT,
			      "the stored tree does not match its checkpoint; run verify");
out:
	if (rc) {
		cl_prover_free(p);
		return rc;
	}
	*out = p;
	return CL_OK;
}

int cl_prover_prove(struct cl_prover *p, uint64_t index, struct cl_buf *out,
		    char **err)
{
	cl_hash proof[CL_MERKLE_MAXPROOF], leaf_hash;
	size_t count = 0;

	if (index >= p->cp.size)
		return cl_error(err, CL_EINVAL,
				"entry %llu is not in the checkpoint of size %llu",
				(unsigned long long)index, (unsigned long long)p->cp.size);
	if (cl_merkle_prove_inclusion(&p->src, index, p->cp.size, proof, &count) != CL_OK ||
	    prover_node(p, 0, index, leaf_hash) != CL_OK)
		return cl_error(err, CL_ECORRUPT, "cannot build the proof: the stored tree"
				" is damaged; run verify");
	/* Never hand out a proof that does not verify. */
	if (cl_merkle_verify_inclusion(index, p->cp.size, leaf_hash,
				       (const cl_hash *)proof, count, p->cp.root) != CL_OK)
		return cl_error(err, CL_ECORRUPT,
				"the stored tree does not match its checkpoint; run verify");
	return cl_tlog_proof_format(index, (const unsigned char (*)[32])proof,
				    count, NULL, 0, (const char *)p->note.data,
				    p->note.len, out);
}

int cl_ledger_prove(struct cl_ledger *l, uint64_t index, uint64_t size,
		    struct cl_buf *out, char **err)
{
	struct cl_prover *p = NULL;
	int rc;

	if ((rc = cl_prover_new(l, size, &p, err)) == CL_OK)
		rc = cl_prover_prove(p, index, out, err);
	cl_prover_free(p);
	return rc;
}

int cl_ledger_prove_consistency(struct cl_ledger *l, uint64_t old_size,
				uint64_t new_size, struct cl_buf *out,
				char **err)
{
	struct cl_buf n1, n2;
	struct cl_checkpoint c1, c2;
	struct src_ctx c;
	struct cl_merkle_src src;
	cl_hash proof[CL_MERKLE_MAXPROOF];
	size_t count = 0;
	int rc;

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&c, 0, sizeof(c));
	cl_buf_init(&n1, 1 << 16);
	cl_buf_init(&n2, 1 << 16);
	if (old_size == 0) {
		rc = cl_error(err, CL_EINVAL, "a consistency proof needs an old size of at least 1");
		goto out;
	}
	if ((rc = load_checkpoint(l, old_size, &n1, &c1, err)) ||
	    (rc = load_checkpoint(l, new_size, &n2, &c2, err)))
		goto out;
	if (c1.size > c2.size) {
		rc = cl_error(err, CL_EINVAL, "old size is larger than new size");
		goto out;
	}
	if ((rc = src_open(l, &c, &src, err)))
		goto out;
	if (cl_merkle_prove_consistency(&src, c1.size, c2.size, proof, &count) != CL_OK ||
	    cl_merkle_verify_consistency(c1.size, c2.size, c1.root, c2.root,
					 (const cl_hash *)proof, count) != CL_OK) {
		rc = cl_error(err, CL_ECORRUPT,
			      "the stored tree does not match its checkpoints; run verify");
		goto out;
	}
	rc = cl_consistency_proof_format(c1.size, c2.size,
					 (const unsigned char (*)[32])proof,
					 count, out);
out:
	src_close(&c);
	cl_checkpoint_release(&c1);
	cl_checkpoint_release(&c2);
	cl_buf_release(&n1);
	cl_buf_release(&n2);
	return rc;
}

/* ---- opening a payload ---------------------------------------------- */

int cl_ledger_open_payload(struct cl_ledger *l, uint64_t index,
			   const unsigned char *seal_sk, struct cl_buf *out,
			   char **err)
{
	return cl_ledger_open_payload_salt(l, index, seal_sk, out, NULL, err);
}

int cl_ledger_open_payload_salt(struct cl_ledger *l, uint64_t index,
				const unsigned char *seal_sk, struct cl_buf *out,
				unsigned char *salt, char **err)
{
	struct cl_opener *o = NULL;
	int rc;

	if ((rc = cl_opener_new(l, seal_sk, &o, err)) == CL_OK)
		rc = cl_opener_open(o, index, out, salt, NULL, err);
	cl_opener_free(o);
	return rc;
}

/* ---- conversation heads --------------------------------------------- */

int cl_ledger_conv_head(struct cl_ledger *l, const unsigned char conv_tag[32],
			uint64_t below, int type_a, int type_b, uint64_t *index,
			int *found, char **err)
{
	sqlite3_stmt *st = NULL, *lst = NULL;
	struct cl_leaf lf;
	uint64_t idx;
	int rc = CL_OK, s;

	*found = 0;
	if (sqlite3_prepare_v2(l->db, "SELECT idx FROM chain_head WHERE tag = ?1", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT leaf FROM entry WHERE idx = ?1", -1, &lst,
			       NULL) != SQLITE_OK) {
		rc = cl_ledger_db_err(l, err, "reading a chain head");
		goto out;
	}
	sqlite3_bind_blob(st, 1, conv_tag, 32, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		goto out;
	if (s != SQLITE_ROW) {
		rc = cl_ledger_db_err(l, err, "reading a chain head");
		goto out;
	}
	idx = (uint64_t)sqlite3_column_int64(st, 0);
	for (;;) {
		sqlite3_reset(lst);
		sqlite3_bind_int64(lst, 1, (sqlite3_int64)idx);
		if ((s = sqlite3_step(lst)) != SQLITE_ROW) {
			rc = s == SQLITE_DONE ?
				cl_error(err, CL_ECORRUPT, "entry %llu of a chain is missing;"
					 " run verify", (unsigned long long)idx) :
				cl_ledger_db_err(l, err, "reading a chain");
			goto out;
		}
		if (cl_leaf_decode(sqlite3_column_blob(lst, 0),
				   (size_t)sqlite3_column_bytes(lst, 0), &lf, NULL) != CL_OK ||
		    memcmp(lf.conv_tag, conv_tag, 32) != 0 ||
		    (lf.prev_index != CL_LEAF_NOPREV && lf.prev_index >= idx)) {
			rc = cl_error(err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				      (unsigned long long)idx);
			goto out;
		}
		if (idx < below && (type_a == 0 || lf.type == type_a || lf.type == type_b)) {
			*index = idx;
			*found = 1;
			goto out;
		}
		if (lf.prev_index == CL_LEAF_NOPREV)
			goto out;
		idx = lf.prev_index;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(lst);
	return rc;
}

/* ---- stats ---------------------------------------------------------- */

int cl_ledger_stats(struct cl_ledger *l, struct cl_ledger_stats *s, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, r;

	memset(s, 0, sizeof(*s));
	s->last_checkpoint_at = CL_TIME_NONE;
	s->last_logged_at = CL_TIME_NONE;
	if (sqlite3_prepare_v2(l->db, "SELECT type, count(*) FROM entry GROUP BY type",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "counting entries");
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		int t = sqlite3_column_int(st, 0);
		uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);

		if (t > 0 && t < 6)
			s->by_type[t] = n;
		s->entries += n;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (r != SQLITE_DONE)
		return cl_ledger_db_err(l, err, "counting entries");
	if (sqlite3_prepare_v2(l->db, "SELECT (SELECT count(*) FROM payload),"
			       " (SELECT count(*) FROM checkpoint),"
			       " (SELECT max(size) FROM checkpoint),"
			       " (SELECT created_at FROM checkpoint ORDER BY size DESC LIMIT 1),"
			       " (SELECT leaf FROM entry ORDER BY idx DESC LIMIT 1)",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = cl_ledger_db_err(l, err, "reading status");
		goto out;
	}
	s->payloads = (uint64_t)sqlite3_column_int64(st, 0);
	s->checkpoints = (uint64_t)sqlite3_column_int64(st, 1);
	s->last_checkpoint_size = (uint64_t)sqlite3_column_int64(st, 2);
	if (sqlite3_column_type(st, 3) != SQLITE_NULL)
		s->last_checkpoint_at = sqlite3_column_int64(st, 3);
	if (sqlite3_column_type(st, 4) == SQLITE_BLOB) {
		struct cl_leaf lf;
		char *e = NULL;

		if (cl_leaf_decode(sqlite3_column_blob(st, 4),
				   (size_t)sqlite3_column_bytes(st, 4), &lf, &e) == CL_OK)
			s->last_logged_at = lf.logged_at;
		free(e);
	}
	sqlite3_finalize(st);
	st = NULL;
	/* created_at grows with size: from the newest checkpoint down to the
	 * first one old enough, else the oldest. */
	s->window_at = CL_TIME_NONE;
	if (sqlite3_prepare_v2(l->db, "SELECT size, created_at FROM checkpoint"
			       " WHERE created_at <= ?1 ORDER BY size DESC LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = cl_ledger_db_err(l, err, "reading status");
		goto out;
	}
	sqlite3_bind_int64(st, 1, cl_time_now_ms() - CL_STATS_WINDOW_MS);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		sqlite3_finalize(st);
		st = NULL;
		if (sqlite3_prepare_v2(l->db, "SELECT size, created_at FROM checkpoint"
				       " ORDER BY size LIMIT 1", -1, &st, NULL) != SQLITE_OK) {
			rc = cl_ledger_db_err(l, err, "reading status");
			goto out;
		}
		r = sqlite3_step(st);
	}
	if (r == SQLITE_ROW) {
		s->window_size = (uint64_t)sqlite3_column_int64(st, 0);
		s->window_at = sqlite3_column_int64(st, 1);
	} else if (r != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "reading status");
	}
out:
	sqlite3_finalize(st);
	return rc;
}

int cl_ledger_each(struct cl_ledger *l, int type, cl_ledger_entry_fn fn,
		   void *ctx, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, s;

	/* Records are most entries: read the table in order.  The other
	 * types are few: through the entry_type index when it exists
	 * (attrindex.c). */
	if (sqlite3_prepare_v2(l->db, type == CL_ENTRY_RECORD ?
			       "SELECT e.idx, e.leaf, e.attrs,"
			       " EXISTS(SELECT 1 FROM payload p WHERE p.idx = e.idx)"
			       " FROM entry e WHERE +e.type = ?1 ORDER BY e.idx" :
			       "SELECT e.idx, e.leaf, e.attrs,"
			       " EXISTS(SELECT 1 FROM payload p WHERE p.idx = e.idx)"
			       " FROM entry e WHERE e.type = ?1 ORDER BY e.idx",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "listing entries");
	sqlite3_bind_int(st, 1, type);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		rc = fn(ctx, (uint64_t)sqlite3_column_int64(st, 0),
			sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
			sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
			sqlite3_column_int(st, 3));
		if (rc)
			break;
	}
	if (rc == CL_OK && s != SQLITE_DONE)
		rc = cl_ledger_db_err(l, err, "listing entries");
	sqlite3_finalize(st);
	return rc;
}


int cl_ledger_entry(struct cl_ledger *l, uint64_t index, cl_ledger_entry_fn fn,
		    void *ctx, char **err)
{
	sqlite3_stmt *st;
	int rc = CL_OK, s;

	if ((rc = cl_ledger_prepare(l, &l->st_entry, "SELECT e.leaf, e.attrs,"
				    " EXISTS(SELECT 1 FROM payload p WHERE p.idx = e.idx)"
				    " FROM entry e WHERE e.idx = ?1", err)))
		return rc;
	st = l->st_entry;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		rc = fn(ctx, index, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0),
			sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
			sqlite3_column_int(st, 2));
	else if (s == SQLITE_DONE)
		rc = cl_error(err, CL_ENOTFOUND, "no entry %llu", (unsigned long long)index);
	else
		rc = cl_ledger_db_err(l, err, "reading an entry");
	sqlite3_reset(st);
	return rc;
}

int cl_ledger_conv_each(struct cl_ledger *l, const unsigned char conv_tag[32],
			cl_ledger_entry_fn fn, void *ctx, char **err)
{
	sqlite3_stmt *st = NULL, *get = NULL;
	struct cl_leaf lf;
	uint64_t idx;
	int rc = CL_OK, s;

	if (sqlite3_prepare_v2(l->db, "SELECT idx FROM chain_head WHERE tag = ?1", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(l->db, "SELECT e.leaf, e.attrs,"
			       " EXISTS(SELECT 1 FROM payload p WHERE p.idx = e.idx)"
			       " FROM entry e WHERE e.idx = ?1", -1, &get, NULL) != SQLITE_OK) {
		rc = cl_ledger_db_err(l, err, "reading a chain");
		goto out;
	}
	sqlite3_bind_blob(st, 1, conv_tag, 32, SQLITE_STATIC);
	s = sqlite3_step(st);
	if (s == SQLITE_DONE)
		goto out;
	if (s != SQLITE_ROW) {
		rc = cl_ledger_db_err(l, err, "reading a chain head");
		goto out;
	}
	idx = (uint64_t)sqlite3_column_int64(st, 0);
	for (;;) {
		const unsigned char *lp;
		size_t ln;

		sqlite3_reset(get);
		sqlite3_bind_int64(get, 1, (sqlite3_int64)idx);
		if ((s = sqlite3_step(get)) != SQLITE_ROW) {
			rc = s == SQLITE_DONE ?
				cl_error(err, CL_ECORRUPT, "entry %llu of a chain is missing;"
					 " run verify", (unsigned long long)idx) :
				cl_ledger_db_err(l, err, "reading a chain");
			goto out;
		}
		lp = sqlite3_column_blob(get, 0);
		ln = (size_t)sqlite3_column_bytes(get, 0);
		if (cl_leaf_decode(lp, ln, &lf, NULL) != CL_OK ||
		    memcmp(lf.conv_tag, conv_tag, 32) != 0 ||
		    (lf.prev_index != CL_LEAF_NOPREV && lf.prev_index >= idx)) {
			rc = cl_error(err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				      (unsigned long long)idx);
			goto out;
		}
		if ((rc = fn(ctx, idx, lp, ln, sqlite3_column_blob(get, 1),
			     (size_t)sqlite3_column_bytes(get, 1), sqlite3_column_int(get, 2))))
			goto out;
		if (lf.prev_index == CL_LEAF_NOPREV)
			break;
		idx = lf.prev_index;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(get);
	return rc;
}

int cl_ledger_record_between(struct cl_ledger *l, uint64_t a, uint64_t b, int *yes,
			     char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, s;

	*yes = 0;
	if (b <= a + 1)
		return CL_OK;
	if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM entry WHERE idx > ?1 AND idx < ?2"
			       " AND +type = 1 AND kind <> 'attachment' LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading entries");
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)b);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*yes = 1;
	else if (s != SQLITE_DONE)
		rc = cl_ledger_db_err(l, err, "reading entries");
	sqlite3_finalize(st);
	return rc;
}
