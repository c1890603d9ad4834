/*
 * wstate.c - the witness's key, its per-log state and the add-checkpoint
 * decision (witness.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/note.h"
#include "archiver/witness/cosig.h"
#include "archiver/witness/request.h"
#include "archiver/witness/witness.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

struct cl_wit {
	sqlite3 *db;
	struct cl_cosig_key key;
	unsigned char *sk;      /* sodium_malloc'd, 64 bytes */
};

static const char SCHEMA[] =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=FULL;"
	"CREATE TABLE IF NOT EXISTS log(origin TEXT PRIMARY KEY,"
	" origin_hash TEXT NOT NULL UNIQUE, vkey TEXT NOT NULL,"
	" enabled INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0,"
	" root BLOB, note TEXT, updated_at INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS evidence(id INTEGER PRIMARY KEY,"
	" origin TEXT NOT NULL, at INTEGER NOT NULL, status INTEGER NOT NULL,"
	" reason TEXT NOT NULL, request TEXT NOT NULL);";

static char *path_in(const char *dir, const char *name)
{
	return cl_strdupf("%s/%s", dir, name);
}

static int db_open(const char *dir, sqlite3 **out, char **err)
{
	char *p = path_in(dir, "witness.db");
	sqlite3 *db = NULL;
	int rc = CL_OK;

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_busy_timeout(db, 10000) != SQLITE_OK ||
	    sqlite3_exec(db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "%s: %s", p, db ? sqlite3_errmsg(db) : "cannot open");
		sqlite3_close(db);
		db = NULL;
	}
	free(p);
	*out = db;
	return rc;
}

int cl_wit_init(const char *dir, const char *name, char **err)
{
	unsigned char seed[32], pk[32], sk[64];
	struct cl_buf b;
	struct cl_cosig_key k;
	char *p = NULL;
	sqlite3 *db = NULL;
	int rc;

	if (!cl_note_name_valid(name))
		return cl_error(err, CL_EINVAL, "invalid witness name '%s'", name);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cl_error(err, CL_EIO, "%s: %s", dir, strerror(errno));
	randombytes_buf(seed, sizeof(seed));
	cl_buf_init(&b, 4096);
	if ((rc = cl_cosig_skey_format(name, seed, &b)))
		goto out;
	if ((p = path_in(dir, "witness.key")) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_file_create(p, b.data, b.len, 0600, err)))
		goto out;
	crypto_sign_seed_keypair(pk, sk, seed);
	memset(&k, 0, sizeof(k));
	memcpy(k.name, name, strlen(name) + 1);
	memcpy(k.pk, pk, 32);
	k.id = cl_note_key_id(name, CL_COSIG_TYPE, pk, 32);
	sodium_memzero(b.data, b.alloc);
	cl_buf_reset(&b);
	free(p);
	if ((p = path_in(dir, "witness.pub")) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_cosig_vkey_format(&k, &b)) || (rc = cl_buf_add(&b, "\n", 1)) ||
	    (rc = cl_file_replace(p, b.data, b.len, 0644, err)))
		goto out;
	rc = db_open(dir, &db, err);
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	sqlite3_close(db);
	free(p);
	return rc;
}

int cl_wit_open(const char *dir, struct cl_wit **out, char **err)
{
	struct cl_wit *w = calloc(1, sizeof(*w));
	struct cl_buf b;
	char *p = path_in(dir, "witness.key");
	int rc;

	*out = NULL;
	cl_buf_init(&b, 4096);
	if (w == NULL || p == NULL || (w->sk = sodium_malloc(64)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_file_read(p, &b, 4096, err)))
		goto out;
	if ((rc = cl_cosig_skey_parse((const char *)b.data, b.len, &w->key, w->sk, err)))
		goto out;
	rc = db_open(dir, &w->db, err);
out:
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	free(p);
	if (rc) {
		cl_wit_close(w);
		return rc;
	}
	*out = w;
	return CL_OK;
}

void cl_wit_close(struct cl_wit *w)
{
	if (w == NULL)
		return;
	sqlite3_close(w->db);
	sodium_free(w->sk);
	free(w);
}

int cl_wit_vkey(const struct cl_wit *w, struct cl_buf *out)
{
	return cl_cosig_vkey_format(&w->key, out);
}

const struct cl_cosig_key *cl_wit_key(const struct cl_wit *w)
{
	return &w->key;
}

static int db_fail(sqlite3 *db, char **err, const char *what)
{
	return cl_error(err, CL_EIO, "witness state: %s: %s", what, sqlite3_errmsg(db));
}

int cl_wit_add_log(struct cl_wit *w, const char *origin, const char *vkey, char **err)
{
	char *name = NULL;
	uint32_t id;
	unsigned char pk[32], h[32];
	struct cl_buf hex;
	sqlite3_stmt *st = NULL;
	int rc;

	if (origin[0] == 0 || strchr(origin, '\n') != NULL)
		return cl_error(err, CL_EINVAL, "invalid origin");
	if ((rc = cl_note_vkey_parse(vkey, &name, &id, pk, err)))
		return rc;
	free(name);
	cl_sha256(origin, strlen(origin), h);
	cl_buf_init(&hex, 128);
	if ((rc = cl_hex_add(&hex, h, 32)))
		goto out;
	if (sqlite3_prepare_v2(w->db,
			       "INSERT INTO log(origin, origin_hash, vkey, enabled) VALUES(?,?,?,1)"
			       " ON CONFLICT(origin) DO UPDATE SET vkey = excluded.vkey, enabled = 1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_fail(w->db, err, "add-log");
		goto out;
	}
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, (const char *)hex.data, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, vkey, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(w->db, err, "add-log");
out:
	sqlite3_finalize(st);
	cl_buf_release(&hex);
	return rc;
}

int cl_wit_disable_log(struct cl_wit *w, const char *origin, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(w->db, "UPDATE log SET enabled = 0 WHERE origin = ?", -1,
			       &st, NULL) != SQLITE_OK)
		return db_fail(w->db, err, "disable-log");
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_fail(w->db, err, "disable-log");
	else if (sqlite3_changes(w->db) == 0)
		rc = cl_error(err, CL_ENOTFOUND, "no log with origin '%s'", origin);
	sqlite3_finalize(st);
	return rc;
}

int cl_wit_list(struct cl_wit *w, cl_wit_log_fn fn, void *ctx, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, s;

	if (sqlite3_prepare_v2(w->db, "SELECT origin, vkey, enabled, size, updated_at"
			       " FROM log ORDER BY origin", -1, &st, NULL) != SQLITE_OK)
		return db_fail(w->db, err, "list");
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct cl_wit_log lg;

		lg.origin = (const char *)sqlite3_column_text(st, 0);
		lg.vkey = (const char *)sqlite3_column_text(st, 1);
		lg.enabled = sqlite3_column_int(st, 2);
		lg.size = (uint64_t)sqlite3_column_int64(st, 3);
		lg.updated_at = sqlite3_column_int64(st, 4);
		if ((rc = fn(ctx, &lg)))
			break;
	}
	if (rc == CL_OK && s != SQLITE_DONE)
		rc = db_fail(w->db, err, "list");
	sqlite3_finalize(st);
	return rc;
}

void cl_wit_answer_release(struct cl_wit_answer *a)
{
	cl_buf_release(&a->body);
}

static void answer(struct cl_wit_answer *a, int status, const char *reason)
{
	a->status = status;
	a->reason = reason;
	a->ctype = "text/plain; charset=utf-8";
	cl_buf_reset(&a->body);
	(void)cl_buf_addf(&a->body, "%s\n", reason);
}

/* Keep a validly signed but refused request as evidence (in the open
 * transaction). */
static int keep_evidence(struct cl_wit *w, const char *origin, uint64_t now,
			 int status, const char *reason, const char *body, size_t len)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(w->db, "INSERT INTO evidence(origin, at, status, reason,"
			       " request) VALUES(?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_int(st, 3, status);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, body, (int)len, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = CL_EIO;
	sqlite3_finalize(st);
	return rc;
}

/* The stored row of `origin` (enabled only).  CL_ENOTFOUND if none. */
struct row {
	char *vkey;
	uint64_t size;
	int has_root;
	unsigned char root[32];
};

static int load_row(struct cl_wit *w, const char *origin, struct row *r)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_ENOTFOUND, s;

	memset(r, 0, sizeof(*r));
	if (sqlite3_prepare_v2(w->db, "SELECT vkey, size, root FROM log WHERE origin = ?"
			       " AND enabled = 1", -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		const void *root = sqlite3_column_blob(st, 2);

		r->vkey = strdup((const char *)sqlite3_column_text(st, 0));
		r->size = (uint64_t)sqlite3_column_int64(st, 1);
		if (root && sqlite3_column_bytes(st, 2) == 32) {
			memcpy(r->root, root, 32);
			r->has_root = 1;
		}
		rc = r->vkey ? CL_OK : CL_ENOMEM;
	} else if (s != SQLITE_DONE) {
		rc = CL_EIO;
	}
	sqlite3_finalize(st);
	return rc;
}

static int store_row(struct cl_wit *w, const struct cl_checkpoint *cp,
		     const char *note, size_t len, uint64_t now)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(w->db, "UPDATE log SET size = ?, root = ?, note = ?,"
			       " updated_at = ? WHERE origin = ?", -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cp->size);
	sqlite3_bind_blob(st, 2, cp->root, 32, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, note, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	sqlite3_bind_text(st, 5, cp->origin, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(w->db) != 1)
		rc = CL_EIO;
	sqlite3_finalize(st);
	return rc;
}

/* The note without any signature by the witness's own key, plus `line`. */
static int build_note(const struct cl_wit *w, const char *note, size_t len,
		      const struct cl_cnote *cn, const struct cl_buf *line,
		      struct cl_buf *out)
{
	size_t i;
	int rc;

	if ((rc = cl_buf_add(out, note, cn->text_len + 1)))
		return rc;
	for (i = 0; i < cn->nsigs; i++) {
		const struct cl_cnote_sig *s = &cn->sigs[i];

		if (strcmp(s->name, w->key.name) == 0 && s->id == w->key.id)
			continue;
		if ((rc = cl_buf_add(out, s->line, s->line_len)))
			return rc;
	}
	(void)len;
	return cl_buf_add(out, line->data, line->len);
}

int cl_wit_add_checkpoint(struct cl_wit *w, const char *body, size_t len,
			  uint64_t now, cl_wit_hook hook, void *hctx,
			  struct cl_wit_answer *a, char **err)
{
	struct cl_wreq *req = malloc(sizeof(*req));
	struct cl_cnote *cn = malloc(sizeof(*cn));
	struct cl_checkpoint cp;
	struct row row;
	struct cl_buf line, stored;
	char *name = NULL, *e = NULL;
	uint32_t id;
	unsigned char pk[32];
	cl_hash empty;
	size_t tl = 0;
	int rc = CL_OK, in_tx = 0, keep = 0;

	memset(&cp, 0, sizeof(cp));
	memset(&row, 0, sizeof(row));
	memset(a, 0, sizeof(*a));
	cl_buf_init(&a->body, 1 << 16);
	cl_buf_init(&line, 1024);
	cl_buf_init(&stored, 1 << 20);
	if (req == NULL || cn == NULL) {
		rc = CL_ENOMEM;
		answer(a, 500, "out of memory");
		goto out;
	}
	if (cl_wreq_parse(body, len, req, &e) != CL_OK ||
	    cl_cnote_parse(req->note, req->note_len, cn, &e) != CL_OK ||
	    cl_checkpoint_parse(req->note, cn->text_len, &cp, &e) != CL_OK) {
		answer(a, 400, "malformed request");
		a->reason = "malformed request";
		cl_buf_reset(&a->body);
		(void)cl_buf_addf(&a->body, "malformed request: %s\n", e ? e : "");
		goto out;
	}
	(void)cl_fmt(a->origin, sizeof(a->origin), "%s", cp.origin);
	a->size = cp.size;
	if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(w->db, err, "begin");
		answer(a, 500, "state unavailable");
		goto out;
	}
	in_tx = 1;
	rc = load_row(w, cp.origin, &row);
	if (rc == CL_ENOTFOUND) {
		rc = CL_OK;
		answer(a, 404, "unknown log");
		goto out;
	}
	if (rc) {
		rc = db_fail(w->db, err, "read");
		answer(a, 500, "state unavailable");
		goto out;
	}
	if (cl_note_vkey_parse(row.vkey, &name, &id, pk, NULL) != CL_OK) {
		answer(a, 500, "stored log key unusable");
		rc = cl_error(err, CL_EIO, "the stored key of '%s' does not parse", cp.origin);
		goto out;
	}
	free(e);
	e = NULL;
	if (cl_note_verify(req->note, req->note_len, name, id, pk, &tl, &e) != CL_OK) {
		answer(a, 403, "invalid signature");
		goto out;
	}
	if (req->old_size > cp.size) {
		answer(a, 400, "old size is larger than the checkpoint size");
		goto out;
	}
	if (req->old_size != row.size) {
		a->status = 409;
		a->reason = "old size does not match the stored size";
		a->ctype = "text/x.tlog.size";
		(void)cl_buf_addf(&a->body, "%" PRIu64 "\n", row.size);
		/* A log that claims to know a size above ours, an old
		 * size we never stored: kept, it may be evidence of a split
		 * view.  A stale client (old size below ours) is routine. */
		keep = req->old_size > row.size;
		goto out;
	}
	cl_merkle_empty_root(empty);
	if (cp.size == 0 && memcmp(cp.root, empty, 32) != 0) {
		answer(a, 422, "size 0 with a root that is not the empty tree's");
		keep = 1;
		goto out;
	}
	if (req->old_size == 0 && req->count != 0) {
		answer(a, 422, "a proof from old size 0 must be empty");
		keep = 1;
		goto out;
	}
	if (req->old_size == cp.size && cp.size > 0 &&
	    (!row.has_root || memcmp(row.root, cp.root, 32) != 0)) {
		answer(a, 422, "same size with a different root");
		keep = 1;
		goto out;
	}
	if (req->old_size > 0 && req->old_size < cp.size &&
	    (!row.has_root ||
	     cl_merkle_verify_consistency(req->old_size, cp.size,
					  (const unsigned char *)row.root, cp.root,
					  (const cl_hash *)req->proof, req->count) != CL_OK)) {
		answer(a, 422, "consistency proof does not verify");
		keep = 1;
		goto out;
	}
	if (hook)
		hook(hctx, CL_WIT_STAGE_VERIFIED);
	if ((rc = cl_cosig_sign(&w->key, w->sk, now, req->note, cn->text_len, &line, err)) ||
	    (rc = build_note(w, req->note, req->note_len, cn, &line, &stored))) {
		answer(a, 500, "cannot cosign");
		goto out;
	}
	if (store_row(w, &cp, (const char *)stored.data, stored.len, now) != CL_OK ||
	    sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(w->db, err, "commit");
		answer(a, 500, "state unavailable");
		goto out;
	}
	in_tx = 0;
	if (hook)
		hook(hctx, CL_WIT_STAGE_COMMITTED);
	a->status = 200;
	a->reason = "cosigned";
	a->ctype = "text/plain; charset=utf-8";
	cl_buf_reset(&a->body);
	rc = cl_buf_add(&a->body, line.data, line.len);
out:
	if (in_tx) {
		if (keep && keep_evidence(w, cp.origin, now, a->status, a->reason,
					  body, len) == CL_OK)
			(void)sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
		else
			(void)sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	}
	cl_checkpoint_release(&cp);
	free(row.vkey);
	free(name);
	free(e);
	free(req);
	free(cn);
	cl_buf_release(&line);
	cl_buf_release(&stored);
	return a->status == 500 ? (rc ? rc : CL_EIO) : CL_OK;
}

int cl_wit_monitor(struct cl_wit *w, const char *hex, struct cl_wit_answer *a,
		   char **err)
{
	sqlite3_stmt *st = NULL;
	int s;

	memset(a, 0, sizeof(*a));
	cl_buf_init(&a->body, 1 << 20);
	if (sqlite3_prepare_v2(w->db, "SELECT note FROM log WHERE origin_hash = ?"
			       " AND note IS NOT NULL", -1, &st, NULL) != SQLITE_OK) {
		answer(a, 500, "state unavailable");
		return db_fail(w->db, err, "monitor");
	}
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_TRANSIENT);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		a->status = 200;
		a->reason = "checkpoint";
		a->ctype = "text/plain; charset=utf-8";
		(void)cl_buf_add(&a->body, sqlite3_column_text(st, 0),
				 (size_t)sqlite3_column_bytes(st, 0));
	} else {
		answer(a, 404, "never cosigned");
	}
	sqlite3_finalize(st);
	return CL_OK;
}
