/*
 * verify.c - full, keyless verification (verify.h).
 *
 * Entries are checked in windows of WINDOW indexes.  For each window a
 * second thread, on its own database connection, hashes the stored
 * ciphertexts while this thread decodes leaves, rebuilds the tree and
 * follows the chains; the two halves are then compared.  A shared lock on
 * the archive keeps writers out, so both connections see the same state.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger_int.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/vault.h"
#include "archiver/ledger/verify.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define WINDOW 65536u

struct cp_item {
	uint64_t size;
	cl_hash root;
	const char *name;   /* NULL for stored checkpoints */
};

struct u64vec {
	uint64_t *a;
	size_t n, cap;
};

struct payload_win {
	sqlite3 *db;
	sqlite3_stmt *st_payload, *st_keys;
	uint64_t start, end;
	cl_hash *hash;          /* [WINDOW] */
	unsigned char *has;     /* [WINDOW]: 1 payload, 2 payload malformed */
	unsigned char *haskey;  /* [WINDOW] */
	uint64_t bytes;
	int rc;
};

struct vstate {
	struct cl_verify_report *r;
	sqlite3 *db;
	uint64_t n;
	/* stored nodes, per level: hashes and presence */
	cl_hash *nodes[64];
	unsigned char *node_seen[64];
	uint64_t node_count[64];
	uint64_t nodes_total;
	int node_problem;
	uint64_t node_bad_level, node_bad_pos;
	struct u64vec missing;    /* entries whose payload is absent */
	struct u64vec erased_by;  /* indexes named by tombstones */
};

static int problem(struct cl_verify_report *r, uint64_t idx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int problem(struct cl_verify_report *r, uint64_t idx, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	if (r->problem)
		return CL_ECORRUPT;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	r->problem = m ? m : strdup("verification failed");
	r->bad_index = idx;
	return CL_ECORRUPT;
}

static int vec_push(struct u64vec *v, uint64_t x)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 256;
		uint64_t *na = realloc(v->a, nc * sizeof(*na));

		if (na == NULL)
			return CL_ENOMEM;
		v->a = na;
		v->cap = nc;
	}
	v->a[v->n++] = x;
	return CL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_cp(const void *a, const void *b)
{
	const struct cp_item *x = a, *y = b;

	return x->size < y->size ? -1 : x->size > y->size;
}

void cl_verify_report_release(struct cl_verify_report *r)
{
	free(r->problem);
	r->problem = NULL;
}

/* ---- checkpoints ---------------------------------------------------- */

static int check_note(const char *note, size_t len, const char *name,
		      uint32_t id, const unsigned char pk[32],
		      const char *origin, struct cp_item *out, char **why)
{
	struct cl_checkpoint cp;
	size_t text_len = 0;
	char *e = NULL;
	int rc;

	memset(&cp, 0, sizeof(cp));
	rc = cl_note_verify(note, len, name, id, pk, &text_len, &e);
	if (rc) {
		cl_error(why, rc, "signature does not verify under the log key (%s)",
			 e ? e : cl_strerror(rc));
		free(e);
		return CL_ECORRUPT;
	}
	rc = cl_checkpoint_parse(note, text_len, &cp, &e);
	if (rc) {
		cl_error(why, rc, "malformed checkpoint (%s)", e ? e : cl_strerror(rc));
		free(e);
		return CL_ECORRUPT;
	}
	if (strcmp(cp.origin, origin) != 0) {
		cl_error(why, CL_ECORRUPT, "origin '%s' is not this log's '%s'",
			 cp.origin, origin);
		cl_checkpoint_release(&cp);
		return CL_ECORRUPT;
	}
	out->size = cp.size;
	memcpy(out->root, cp.root, 32);
	cl_checkpoint_release(&cp);
	return CL_OK;
}

/* ---- payload thread ------------------------------------------------- */

static void *payload_thread(void *arg)
{
	struct payload_win *w = arg;
	int s;

	w->rc = CL_OK;
	sqlite3_reset(w->st_payload);
	sqlite3_bind_int64(w->st_payload, 1, (sqlite3_int64)w->start);
	sqlite3_bind_int64(w->st_payload, 2, (sqlite3_int64)w->end);
	while ((s = sqlite3_step(w->st_payload)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(w->st_payload, 0);
		const unsigned char *ct = sqlite3_column_blob(w->st_payload, 1);
		size_t n = (size_t)sqlite3_column_bytes(w->st_payload, 1);
		size_t k = (size_t)(idx - w->start);

		cl_sha256(ct ? ct : (const unsigned char *)"", n, w->hash[k]);
		w->has[k] = (ct != NULL && n >= 1 + 24 + 16 + 32 &&
			     ct[0] == CL_PAYLOAD_VERSION) ? 1 : 2;
		w->bytes += n;
	}
	if (s != SQLITE_DONE)
		w->rc = CL_EIO;
	sqlite3_reset(w->st_keys);
	sqlite3_bind_int64(w->st_keys, 1, (sqlite3_int64)w->start);
	sqlite3_bind_int64(w->st_keys, 2, (sqlite3_int64)w->end);
	while ((s = sqlite3_step(w->st_keys)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(w->st_keys, 0);

		w->haskey[idx - w->start] =
			sqlite3_column_bytes(w->st_keys, 1) == 48 ? 1 : 2;
	}
	if (s != SQLITE_DONE)
		w->rc = CL_EIO;
	return NULL;
}

/* ---- nodes ---------------------------------------------------------- */

static int load_nodes(struct vstate *v, char **err)
{
	sqlite3_stmt *st = NULL;
	unsigned lv;
	int s, rc = CL_OK;

	for (lv = CL_NODE_LEVEL; lv < 64; lv++) {
		uint64_t cnt = v->n >> lv;

		if (cnt == 0)
			break;
		v->nodes[lv] = calloc((size_t)cnt, sizeof(cl_hash));
		v->node_seen[lv] = calloc((size_t)cnt, 1);
		if (v->nodes[lv] == NULL || v->node_seen[lv] == NULL)
			return CL_ENOMEM;
		v->node_count[lv] = cnt;
	}
	if (sqlite3_prepare_v2(v->db, "SELECT level, pos, hash FROM node", -1,
			       &st, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "cannot read tree nodes: %s",
				sqlite3_errmsg(v->db));
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_int64 level = sqlite3_column_int64(st, 0);
		sqlite3_int64 pos = sqlite3_column_int64(st, 1);

		v->nodes_total++;
		if (level < CL_NODE_LEVEL || level >= 64 || pos < 0 ||
		    (uint64_t)pos >= v->node_count[level] ||
		    sqlite3_column_bytes(st, 2) != 32) {
			rc = problem(v->r, UINT64_MAX,
				     "stored tree node (level %lld, position %lld) does not belong to a log of %" PRIu64 " entries",
				     (long long)level, (long long)pos, v->n);
			goto out;
		}
		memcpy(v->nodes[level][pos], sqlite3_column_blob(st, 2), 32);
		v->node_seen[level][pos] = 1;
	}
	if (s != SQLITE_DONE)
		rc = cl_error(err, CL_EIO, "cannot read tree nodes");
out:
	sqlite3_finalize(st);
	return rc;
}

static int node_emit(void *ctx, unsigned level, uint64_t pos, const cl_hash h)
{
	struct vstate *v = ctx;

	if (v->node_problem)
		return CL_OK;
	if (level >= 64 || pos >= v->node_count[level] ||
	    !v->node_seen[level][pos] ||
	    memcmp(v->nodes[level][pos], h, 32) != 0) {
		v->node_problem = 1;
		v->node_bad_level = level;
		v->node_bad_pos = pos;
	}
	return CL_OK;
}

/* ---- main loop ------------------------------------------------------ */

static int check_tombstone(struct vstate *v, const struct cl_leaf *lf)
{
	json_t *b = json_loadb((const char *)lf->body, lf->body_len, 0, NULL);
	json_t *e = b ? json_object_get(b, "erased") : NULL;
	json_int_t x;
	int rc = CL_OK;

	if (e == NULL || !json_is_integer(e) || (x = json_integer_value(e)) < 0 ||
	    (uint64_t)x >= lf->index)
		rc = problem(v->r, lf->index,
			     "entry %" PRIu64 ": tombstone does not name an earlier entry",
			     lf->index);
	else
		rc = vec_push(&v->erased_by, (uint64_t)x);
	json_decref(b);
	return rc;
}

int cl_verify(const char *dir, const struct cl_verify_opts *o,
	      struct cl_verify_report *r, char **err)
{
	struct vstate v;
	struct payload_win w;
	struct cl_merkle_range range;
	struct cl_map heads;
	struct cp_item *cps = NULL;
	size_t ncp = 0, cpi = 0, i;
	sqlite3_stmt *st = NULL, *st_entries = NULL;
	char *dbpath = NULL, *origin = NULL, *db_vkey = NULL, *file_vkey = NULL;
	char *kname = NULL, *why = NULL;
	const char *vkey;
	unsigned char pk[32];
	uint32_t kid = 0;
	cl_hash *leaf_ct = NULL;
	unsigned char *leaf_has = NULL;
	uint64_t start, expect = 0;
	int lock_fd = -1, rc = CL_OK, s;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	memset(&w, 0, sizeof(w));
	r->bad_index = UINT64_MAX;
	v.r = r;
	cl_map_init(&heads);
	cl_merkle_range_init(&range);

	if (asprintf(&dbpath, "%s/ledger.db", dir) < 0) {
		dbpath = NULL;
		rc = CL_ENOMEM;
		goto out;
	}
	if (access(dbpath, R_OK) != 0) {
		rc = cl_error(err, CL_ENOTFOUND, "'%s' is not a chatledger archive", dir);
		goto out;
	}
	if (access(dir, W_OK) == 0) {
		if ((rc = cl_archive_lock(dir, 0, &lock_fd, err)))
			goto out;
	} else {
		/* A read-only copy (an auditor's evidence directory): nobody
		 * can write it, so read it as immutable, without locks or the
		 * WAL index that SQLite would otherwise have to create. */
		char *uri = sqlite3_mprintf("file:%s?immutable=1", dbpath);

		if (uri == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		free(dbpath);
		dbpath = strdup(uri);
		sqlite3_free(uri);
		if (dbpath == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
	}
	if (sqlite3_open_v2(dbpath, &v.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(dbpath, &w.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot open '%s'", dbpath);
		goto out;
	}
	sqlite3_busy_timeout(v.db, 30000);
	sqlite3_busy_timeout(w.db, 30000);
	if (sqlite3_exec(v.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(w.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot start a read transaction");
		goto out;
	}

	/* Identity: origin and log key, as recorded and as on disk. */
	if (sqlite3_prepare_v2(v.db, "SELECT (SELECT v FROM meta WHERE k='origin'),"
			       " (SELECT v FROM meta WHERE k='vkey'),"
			       " (SELECT coalesce(max(idx) + 1, 0) FROM entry),"
			       " (SELECT count(*) FROM entry)", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = cl_error(err, CL_EIO, "cannot read the archive: %s",
			      sqlite3_errmsg(v.db));
		goto out;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
	    sqlite3_column_type(st, 1) != SQLITE_TEXT) {
		rc = problem(r, UINT64_MAX, "archive metadata (origin, log key) is missing");
		goto out;
	}
	origin = strdup((const char *)sqlite3_column_text(st, 0));
	db_vkey = strdup((const char *)sqlite3_column_text(st, 1));
	v.n = (uint64_t)sqlite3_column_int64(st, 2);
	/* (A count below max + 1 means a deleted entry; the scan names it.) */
	sqlite3_finalize(st);
	st = NULL;
	if (origin == NULL || db_vkey == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_vault_load_vkey(dir, &file_vkey, err)))
		goto out;
	if (strcmp(file_vkey, db_vkey) != 0) {
		rc = problem(r, UINT64_MAX,
			     "log key substituted: log.pub (%s) differs from the key recorded in the ledger (%s)",
			     file_vkey, db_vkey);
		goto out;
	}
	vkey = o->trusted_vkey ? o->trusted_vkey : file_vkey;
	if (o->trusted_vkey) {
		char *n2 = NULL, *e2 = NULL;
		uint32_t id2;
		unsigned char pk2[32];

		if (cl_note_vkey_parse(o->trusted_vkey, &n2, &id2, pk2, &e2) != CL_OK) {
			rc = cl_error(err, CL_EINVAL, "--key is not a verifier key: %s",
				      e2 ? e2 : "malformed");
			free(e2);
			goto out;
		}
		free(n2);
	}
	if (o->trusted_vkey && strcmp(o->trusted_vkey, file_vkey) != 0) {
		rc = problem(r, UINT64_MAX,
			     "the archive's log key %s is not the trusted key %s",
			     file_vkey, o->trusted_vkey);
		goto out;
	}
	if (cl_note_vkey_parse(vkey, &kname, &kid, pk, &why) != CL_OK) {
		rc = problem(r, UINT64_MAX, "log key is malformed: %s",
			     why ? why : "bad verifier key");
		goto out;
	}
	if (strcmp(kname, origin) != 0) {
		rc = problem(r, UINT64_MAX, "log key name '%s' is not the origin '%s'",
			     kname, origin);
		goto out;
	}

	/* Checkpoints: stored ones, then the saved ones given to us. */
	if (sqlite3_prepare_v2(v.db, "SELECT size, note FROM checkpoint ORDER BY size",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot read checkpoints");
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct cp_item *na = realloc(cps, (ncp + 1 + o->n_checkpoints) * sizeof(*cps));
		uint64_t col = (uint64_t)sqlite3_column_int64(st, 0);

		if (na == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		cps = na;
		memset(&cps[ncp], 0, sizeof(*cps));
		free(why);
		why = NULL;
		if (check_note((const char *)sqlite3_column_text(st, 1),
			       (size_t)sqlite3_column_bytes(st, 1), kname, kid, pk,
			       origin, &cps[ncp], &why) != CL_OK) {
			rc = problem(r, UINT64_MAX, "stored checkpoint of size %" PRIu64 ": %s",
				     col, why ? why : "invalid");
			goto out;
		}
		if (cps[ncp].size != col) {
			rc = problem(r, UINT64_MAX,
				     "stored checkpoint filed under size %" PRIu64 " says size %" PRIu64,
				     col, cps[ncp].size);
			goto out;
		}
		ncp++;
	}
	sqlite3_finalize(st);
	st = NULL;
	r->checkpoints = ncp;
	if (ncp == 0) {
		rc = problem(r, UINT64_MAX, "the archive has no signed checkpoint");
		goto out;
	}
	for (i = 0; i < o->n_checkpoints; i++) {
		struct cp_item *na = realloc(cps, (ncp + 1) * sizeof(*cps));
		const char *nm = o->checkpoint_names ? o->checkpoint_names[i] : "saved checkpoint";

		if (na == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		cps = na;
		memset(&cps[ncp], 0, sizeof(*cps));
		free(why);
		why = NULL;
		{
			size_t tl = 0;
			char *e2 = NULL;
			int vr = cl_note_verify(o->checkpoints[i], strlen(o->checkpoints[i]),
						kname, kid, pk, &tl, &e2);

			if (vr == CL_EINVAL) {
				rc = cl_error(err, CL_EINVAL,
					      "'%s' is not a signed checkpoint: %s", nm,
					      e2 ? e2 : "malformed");
				free(e2);
				goto out;
			}
			free(e2);
		}
		if (check_note(o->checkpoints[i], strlen(o->checkpoints[i]), kname,
			       kid, pk, origin, &cps[ncp], &why) != CL_OK) {
			rc = problem(r, UINT64_MAX, "saved checkpoint '%s': %s", nm,
				     why ? why : "invalid");
			goto out;
		}
		cps[ncp].name = nm;
		if (cps[ncp].size > v.n) {
			rc = problem(r, UINT64_MAX,
				     "saved checkpoint '%s' has %" PRIu64 " entries but the log has only %" PRIu64 ": the log was truncated or rolled back",
				     nm, cps[ncp].size, v.n);
			goto out;
		}
		ncp++;
		r->external_checkpoints++;
	}
	qsort(cps, ncp, sizeof(*cps), cmp_cp);
	if (cps[ncp - 1].size > v.n) {
		rc = problem(r, UINT64_MAX,
			     "stored checkpoint of size %" PRIu64 " is larger than the log (%" PRIu64 " entries): entries were deleted",
			     cps[ncp - 1].size, v.n);
		goto out;
	}

	{
		struct cl_buf sk;
		char *e2 = NULL, *p1 = NULL;
		unsigned char spk[32];
		int bad = 0;

		cl_buf_init(&sk, 4096);
		if (asprintf(&p1, "%s/seal.key", dir) > 0 &&
		    cl_file_read(p1, &sk, 4096, &e2) == CL_OK &&
		    cl_vault_load_seal_pk(dir, spk, &e2) == CL_OK)
			bad = sk.len < 32 || memcmp(sk.data + sk.len - 32, spk, 32) != 0;
		free(e2);
		free(p1);
		if (sk.data)
			sodium_memzero(sk.data, sk.alloc);
		cl_buf_release(&sk);
		if (bad) {
			rc = problem(r, UINT64_MAX, "seal.pub is not the public half of seal.key:"
				     " new payload keys would be sealed to someone else");
			goto out;
		}
	}

	if ((rc = load_nodes(&v, err)) || r->problem)
		goto out;

	/* Window buffers and statements. */
	leaf_ct = calloc(WINDOW, sizeof(cl_hash));
	leaf_has = calloc(WINDOW, 1);
	w.hash = calloc(WINDOW, sizeof(cl_hash));
	w.has = calloc(WINDOW, 1);
	w.haskey = calloc(WINDOW, 1);
	if (!leaf_ct || !leaf_has || !w.hash || !w.has || !w.haskey) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(v.db, "SELECT e.idx, e.leaf, e.type, e.kind, e.sent_at, d.kh"
			       " FROM entry e LEFT JOIN dedup d ON d.idx = e.idx"
			       " WHERE e.idx >= ?1 AND e.idx < ?2 ORDER BY e.idx",
			       -1, &st_entries, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w.db, "SELECT idx, ct FROM payload WHERE idx >= ?1"
			       " AND idx < ?2 ORDER BY idx", -1, &w.st_payload, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(w.db, "SELECT idx, wrapped FROM sealed_key WHERE idx >= ?1"
			       " AND idx < ?2", -1, &w.st_keys, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot prepare verification queries: %s",
			      sqlite3_errmsg(v.db));
		goto out;
	}

	/* A checkpoint of size 0 commits to the empty tree. */
	while (cpi < ncp && cps[cpi].size == 0) {
		cl_hash empty;

		cl_merkle_empty_root(empty);
		if (memcmp(empty, cps[cpi].root, 32) != 0) {
			rc = problem(r, UINT64_MAX, "checkpoint of size 0 does not commit to the empty tree");
			goto out;
		}
		cpi++;
	}

	for (start = 0; start < v.n; start += WINDOW) {
		uint64_t end = start + WINDOW < v.n ? start + WINDOW : v.n, k;
		pthread_t th;
		int started;

		memset(w.has, 0, WINDOW);
		memset(w.haskey, 0, WINDOW);
		memset(leaf_has, 0, WINDOW);
		w.start = start;
		w.end = end;
		started = pthread_create(&th, NULL, payload_thread, &w) == 0;
		if (!started)
			payload_thread(&w);

		sqlite3_reset(st_entries);
		sqlite3_bind_int64(st_entries, 1, (sqlite3_int64)start);
		sqlite3_bind_int64(st_entries, 2, (sqlite3_int64)end);
		while (rc == CL_OK && (s = sqlite3_step(st_entries)) == SQLITE_ROW) {
			uint64_t idx = (uint64_t)sqlite3_column_int64(st_entries, 0);
			const unsigned char *p = sqlite3_column_blob(st_entries, 1);
			size_t n = (size_t)sqlite3_column_bytes(st_entries, 1);
			struct cl_leaf lf;
			struct cl_map_slot *head;
			cl_hash lh;
			const char *kind = (const char *)sqlite3_column_text(st_entries, 3);

			if (idx != expect) {
				rc = problem(r, expect, "entry %" PRIu64 " is missing (deleted from the log)",
					     expect);
				break;
			}
			expect++;
			free(why);
			why = NULL;
			if (p == NULL || cl_leaf_decode(p, n, &lf, &why) != CL_OK) {
				rc = problem(r, idx, "entry %" PRIu64 ": leaf is malformed (%s)", idx,
					     why ? why : "empty");
				break;
			}
			if (lf.index != idx) {
				rc = problem(r, idx, "entry %" PRIu64 ": leaf says it is entry %" PRIu64
					     " (entries moved or swapped)", idx, lf.index);
				break;
			}
			/* The index row must agree with its leaf. */
			if (sqlite3_column_int(st_entries, 2) != lf.type ||
			    kind == NULL || strcmp(kind, lf.kind) != 0 ||
			    (lf.sent_at == CL_TIME_NONE ?
			     sqlite3_column_type(st_entries, 4) != SQLITE_NULL :
			     sqlite3_column_int64(st_entries, 4) != lf.sent_at) ||
			    (sodium_is_zero(lf.key_hash, 32) ?
			     sqlite3_column_type(st_entries, 5) != SQLITE_NULL :
			     sqlite3_column_int64(st_entries, 5) != (sqlite3_int64)cl_load_be64(lf.key_hash))) {
				rc = problem(r, idx, "entry %" PRIu64 ": index columns (type, kind, sent_at,"
					     " key index) disagree with the leaf", idx);
				break;
			}
			cl_merkle_leaf_hash(p, n, lh);
			r->bytes_hashed += n;
			/* The per-conversation chain. */
			head = cl_map_get(&heads, lf.conv_tag);
			if (head == NULL ? lf.prev_index != CL_LEAF_NOPREV ||
					   !sodium_is_zero(lf.prev_hash, 32) :
			    lf.prev_index != head->u || memcmp(lf.prev_hash, head->v, 32) != 0) {
				rc = problem(r, idx, "entry %" PRIu64 ": conversation chain broken (links to entry %s%" PRIu64
					     ", the previous entry of its conversation is %s%" PRIu64 ")",
					     idx, lf.prev_index == CL_LEAF_NOPREV ? "none " : "",
					     lf.prev_index == CL_LEAF_NOPREV ? 0 : lf.prev_index,
					     head ? "" : "none ", head ? head->u : 0);
				break;
			}
			if (head == NULL) {
				head = cl_map_put(&heads, lf.conv_tag);
				if (head == NULL) {
					rc = CL_ENOMEM;
					break;
				}
			}
			head->u = idx;
			memcpy(head->v, lh, 32);
			switch (lf.type) {
			case CL_ENTRY_RECORD: r->records++; break;
			case CL_ENTRY_TOMBSTONE: r->tombstones++; break;
			case CL_ENTRY_COVERAGE: r->coverage++; break;
			case CL_ENTRY_CONTROL: r->control++; break;
			default: r->quarantined++; break;
			}
			if (lf.type == CL_ENTRY_TOMBSTONE && (rc = check_tombstone(&v, &lf)))
				break;
			k = idx - start;
			leaf_has[k] = !sodium_is_zero(lf.ct_hash, 32);
			memcpy(leaf_ct[k], lf.ct_hash, 32);
			/* The tree, and every checkpoint reached. */
			cl_merkle_range_append(&range, lh, node_emit, &v, CL_NODE_LEVEL);
			if (v.node_problem) {
				rc = problem(r, UINT64_MAX, "stored tree node (level %" PRIu64 ", position %" PRIu64
					     ") is missing or wrong", v.node_bad_level, v.node_bad_pos);
				break;
			}
			while (cpi < ncp && cps[cpi].size == range.size) {
				cl_hash root;

				cl_merkle_range_root(&range, root);
				if (memcmp(root, cps[cpi].root, 32) != 0) {
					if (cps[cpi].name)
						rc = problem(r, UINT64_MAX,
							     "saved checkpoint '%s' (size %" PRIu64 ") does not match this log: its history was rewritten",
							     cps[cpi].name, cps[cpi].size);
					else
						rc = problem(r, UINT64_MAX,
							     "tree over entries 0..%" PRIu64 " does not match the signed checkpoint of size %" PRIu64
							     ": an entry before it was altered", cps[cpi].size - 1, cps[cpi].size);
					break;
				}
				cpi++;
			}
		}
		if (rc == CL_OK && s != SQLITE_DONE && !r->problem)
			rc = cl_error(err, CL_EIO, "cannot read entries: %s", sqlite3_errmsg(v.db));
		if (started)
			pthread_join(th, NULL);
		if (rc)
			goto out;
		if (w.rc) {
			rc = cl_error(err, CL_EIO, "cannot read payloads");
			goto out;
		}
		if (expect != end) {
			rc = problem(r, expect, "entry %" PRIu64 " is missing (deleted from the log)", expect);
			goto out;
		}
		r->bytes_hashed += w.bytes;
		for (k = 0; k < end - start; k++) {
			uint64_t idx = start + k;

			if (!leaf_has[k]) {
				if (w.has[k] || w.haskey[k]) {
					rc = problem(r, idx, "entry %" PRIu64 ": has a stored payload or key its leaf does not commit to", idx);
					goto out;
				}
				continue;
			}
			if (!w.has[k] && !w.haskey[k]) {
				if ((rc = vec_push(&v.missing, idx)))
					goto out;
				continue;
			}
			if (w.has[k] == 2) {
				rc = problem(r, idx, "entry %" PRIu64 ": ciphertext is malformed", idx);
				goto out;
			}
			if (w.has[k] != 1) {
				rc = problem(r, idx, "entry %" PRIu64 ": ciphertext is missing but its key remains",
					     idx);
				goto out;
			}
			if (memcmp(w.hash[k], leaf_ct[k], 32) != 0) {
				rc = problem(r, idx, "entry %" PRIu64 ": ciphertext does not match the SHA-256 in its leaf", idx);
				goto out;
			}
			if (w.haskey[k] != 1) {
				rc = problem(r, idx, "entry %" PRIu64 ": sealed key is missing or malformed (ciphertext remains)", idx);
				goto out;
			}
			r->payloads++;
		}
		if (o->progress)
			o->progress(o->progress_ctx, end, v.n);
	}
	r->entries = v.n;

	/* Rows that belong to no entry, batches that do not exist, a format
	 * this build does not know, a public sealing key that is not the one
	 * in seal.key. */
	{
		static const struct { const char *sql, *what; } checks[] = {
			{ "SELECT min(idx) FROM entry WHERE idx < 0",
			  "an entry row has a negative index" },
			{ "SELECT min(idx) FROM payload WHERE idx NOT IN (SELECT idx FROM entry)",
			  "a ciphertext row belongs to no entry" },
			{ "SELECT min(idx) FROM sealed_key WHERE idx NOT IN (SELECT idx FROM entry)",
			  "a sealed key row belongs to no entry" },
			{ "SELECT min(k.idx) FROM sealed_key k LEFT JOIN key_batch b ON b.id = k.batch"
			  " WHERE b.id IS NULL OR length(b.eph) != 32",
			  "a sealed key refers to a missing or malformed key batch" },
			{ "SELECT min(idx) FROM dedup WHERE idx NOT IN (SELECT idx FROM entry)",
			  "a key index row belongs to no entry" },
			{ "SELECT 1 FROM meta WHERE k = 'format' AND v != 1",
			  "the archive format is not 1" },
		};
		size_t c;

		for (c = 0; c < sizeof(checks) / sizeof(checks[0]); c++) {
			if (sqlite3_prepare_v2(v.db, checks[c].sql, -1, &st, NULL) != SQLITE_OK) {
				rc = cl_error(err, CL_EIO, "cannot check the archive: %s",
					      sqlite3_errmsg(v.db));
				goto out;
			}
			if (sqlite3_step(st) == SQLITE_ROW &&
			    sqlite3_column_type(st, 0) != SQLITE_NULL) {
				long long at = sqlite3_column_int64(st, 0);

				rc = problem(r, UINT64_MAX, "%s (row %lld)", checks[c].what, at);
				goto out;
			}
			sqlite3_finalize(st);
			st = NULL;
		}
	}
	/* Entries beyond the last signed checkpoint are unsigned. */
	if (cps[ncp - 1].size < v.n) {
		rc = problem(r, cps[ncp - 1].size,
			     "entries %" PRIu64 "..%" PRIu64 " are not covered by any signed checkpoint",
			     cps[ncp - 1].size, v.n - 1);
		goto out;
	}
	if (cpi != ncp) {
		rc = problem(r, UINT64_MAX, "checkpoint of size %" PRIu64 " was never reached", cps[cpi].size);
		goto out;
	}
	/* Every missing payload must be explained by a tombstone, and every
	 * tombstone must have taken its payload with it. */
	if (v.erased_by.n > 1)
		qsort(v.erased_by.a, v.erased_by.n, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < v.erased_by.n; i++) {
		if (v.erased_by.a[i] == v.erased_by.a[i - 1]) {
			rc = problem(r, v.erased_by.a[i], "entry %" PRIu64 ": erased by two tombstones",
				     v.erased_by.a[i]);
			goto out;
		}
	}
	for (i = 0; i < v.missing.n; i++) {
		if (v.erased_by.n == 0 ||
		    !bsearch(&v.missing.a[i], v.erased_by.a, v.erased_by.n, sizeof(uint64_t), cmp_u64)) {
			rc = problem(r, v.missing.a[i], "entry %" PRIu64 ": ciphertext and key are missing and no tombstone records an erasure",
				     v.missing.a[i]);
			goto out;
		}
	}
	for (i = 0; i < v.erased_by.n; i++) {
		if (v.missing.n == 0 ||
		    !bsearch(&v.erased_by.a[i], v.missing.a, v.missing.n, sizeof(uint64_t), cmp_u64)) {
			rc = problem(r, v.erased_by.a[i], "entry %" PRIu64 ": a tombstone records its erasure but its ciphertext or key remains",
				     v.erased_by.a[i]);
			goto out;
		}
	}
	r->erased = v.missing.n;
	{
		uint64_t expected_nodes = 0;
		unsigned lv;

		for (lv = CL_NODE_LEVEL; lv < 64; lv++)
			expected_nodes += v.node_count[lv];
		if (v.nodes_total != expected_nodes) {
			rc = problem(r, UINT64_MAX, "the node table holds %" PRIu64 " nodes, expected %" PRIu64,
				     v.nodes_total, expected_nodes);
			goto out;
		}
		r->nodes = v.nodes_total;
	}
	/* The stored chain heads are where the next entries link: each must
	 * be the recomputed last entry of its conversation. */
	if (sqlite3_prepare_v2(v.db, "SELECT tag, idx, hash FROM chain_head", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot read chain heads");
		goto out;
	}
	{
		uint64_t nh = 0;

		while (sqlite3_step(st) == SQLITE_ROW) {
			const unsigned char *tag = sqlite3_column_blob(st, 0);
			struct cl_map_slot *h = (tag && sqlite3_column_bytes(st, 0) == 32) ?
				cl_map_get(&heads, tag) : NULL;

			nh++;
			if (h == NULL || h->u != (uint64_t)sqlite3_column_int64(st, 1) ||
			    sqlite3_column_bytes(st, 2) != 32 ||
			    memcmp(h->v, sqlite3_column_blob(st, 2), 32) != 0) {
				rc = problem(r, UINT64_MAX, "a stored chain head (at entry %lld) is not"
					     " the last entry of its conversation",
					     sqlite3_column_int64(st, 1));
				goto out;
			}
		}
		if (nh != heads.count) {
			rc = problem(r, UINT64_MAX, "%" PRIu64 " chain heads stored, %zu conversations in the log",
				     nh, heads.count);
			goto out;
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	/* The stored frontier is what the next commit will build on: it must
	 * be exactly the recomputed tree's right edge. */
	if (sqlite3_prepare_v2(v.db, "SELECT v FROM meta WHERE k = 'frontier'", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *fp = sqlite3_column_blob(st, 0);
		size_t fl = (size_t)sqlite3_column_bytes(st, 0), k;
		int same = fp && fl == 8 + 32 * (size_t)range.count &&
			   cl_load_be64(fp) == range.size;

		for (k = 0; same && k < range.count; k++)
			same = memcmp(fp + 8 + 32 * k, range.hashes[k], 32) == 0;
		if (!same) {
			rc = problem(r, UINT64_MAX, "the stored frontier (the tree's right edge"
				     " the next commit builds on) does not match the log");
			goto out;
		}
	} else if (v.n > 0) {
		rc = problem(r, UINT64_MAX, "the stored frontier is missing");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	r->conversations = heads.count;
	{
		cl_hash root;

		cl_merkle_range_root(&range, root);
		sodium_bin2hex(r->root_hex, sizeof(r->root_hex), root, 32);
	}
out:
	if (rc == CL_OK && r->problem)
		rc = CL_ECORRUPT;
	sqlite3_finalize(st);
	sqlite3_finalize(st_entries);
	sqlite3_finalize(w.st_payload);
	sqlite3_finalize(w.st_keys);
	if (v.db)
		sqlite3_close(v.db);
	if (w.db)
		sqlite3_close(w.db);
	if (lock_fd >= 0)
		close(lock_fd);
	for (i = 0; i < 64; i++) {
		free(v.nodes[i]);
		free(v.node_seen[i]);
	}
	free(v.missing.a);
	free(v.erased_by.a);
	free(leaf_ct);
	free(leaf_has);
	free(w.hash);
	free(w.has);
	free(w.haskey);
	free(cps);
	free(dbpath);
	free(origin);
	free(db_vkey);
	free(file_vkey);
	free(kname);
	free(why);
	cl_map_release(&heads);
	return rc;
}
