/*
 * verify.c - full, keyless verification (verify.h).
 *
 * cl_verify() runs a fixed sequence of phases over one struct vstate:
 * open the archive, check its identity and log key, load the checkpoints
 * (stored and saved), check the sealing key pair, load the stored tree
 * nodes, scan every entry, then check what the scan leaves to compare:
 * stray rows, the unsigned tail, erasures, the node count, the chain heads
 * and the frontier.  Each phase returns CL_OK, CL_ECORRUPT with the first
 * problem recorded in the report (problem()), or another code with *err
 * set when verification cannot run; the first non-OK status ends the run.
 *
 * Entries are checked in windows of WINDOW indexes.  For each window a
 * second thread, on its own database connection, hashes the stored
 * ciphertexts while this thread decodes leaves, rebuilds the tree and
 * follows the chains; the two halves are then compared.  A shared lock on
 * the archive keeps writers out, so both connections see the same state.
 * A read-only copy is read without a lock, its WAL through a private copy
 * (rocopy.h).
 *
 * Deep verification (opts.seal_sk) also opens every payload with the
 * officer's key (docs/FORMAT.md §6.4) and compares its salted plaintext
 * hash with the leaf's pt_hash: two payload threads, each with its own
 * connection, share each window.
 *
 * A database SQLite finds corrupt or not a database at all is damage, not
 * an operational error: the run reports it as a problem (CL_ECORRUPT),
 * naming what is damaged as far as damage_where() can tell.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
#include "archiver/ledger/rocopy.h"
#include "archiver/ledger/vault.h"
#include "archiver/ledger/verify.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define WINDOW 65536u
#define PT_CHUNK (64u * 1024u)

/* What opening one payload gave (deep verification), by payload_win.opened. */
enum open_result {
	OPEN_NOT_TRIED = 0, OPEN_OK, OPEN_NO_KEY, OPEN_UNWRAP, OPEN_AUTH,
	OPEN_FRAME
};

static const char *const open_why[] = {
	"it was not opened",
	"",
	"its sealed key or key batch is missing",
	"its key does not unwrap with the officer's key (sealed to another key?)",
	"the ciphertext fails authentication",
	"the compressed plaintext is malformed",
};

struct cp_item {
	uint64_t size;
	cl_hash root;
	const char *name;   /* NULL for stored checkpoints */
};

struct u64vec {
	uint64_t *a;
	size_t n, cap;
};

/* One payload thread's connection and its part [start, end) of the
 * window that begins at `base`.  The arrays are indexed by idx - base and
 * shared by both threads of a deep run (each writes its own part). */
struct payload_win {
	sqlite3 *db;
	sqlite3_stmt *st_payload, *st_keys;
	uint64_t base, start, end;
	cl_hash *hash;          /* [WINDOW] */
	unsigned char *has;     /* [WINDOW]: 1 payload, 2 payload malformed */
	unsigned char *haskey;  /* [WINDOW] */
	uint64_t bytes;
	int rc;
	int sql_rc;             /* the SQLite code when rc is CL_EIO */
	/* deep verification only */
	const unsigned char *seal_sk;  /* the officer's key, or NULL */
	cl_hash *pt;            /* [WINDOW]: SHA-256(salt || plaintext) */
	unsigned char *opened;  /* [WINDOW]: enum open_result */
	unsigned char *bk;      /* sodium_malloc: the current batch's key */
	unsigned char *key;     /* sodium_malloc: a payload key */
	int64_t bk_batch;       /* key_batch.id bk belongs to, or -1 */
	struct cl_buf inner;    /* decrypted salt || zstd frame */
	unsigned char *chunk;   /* [PT_CHUNK] decompressed plaintext */
	ZSTD_DCtx *zd;
	ZSTD_DDict *ddict;      /* payload dictionary 1 (version-2 blobs) */
	int max_pv;             /* the newest payload version the format allows */
};

/* Everything one verification run holds; released by vstate_release(). */
struct vstate {
	/* the caller's arguments */
	const char *dir;
	const struct cl_verify_opts *o;
	struct cl_verify_report *r;
	char **err;
	/* the archive, opened read-only */
	int lock_fd;              /* shared lock, or -1 (read-only copy) */
	char *copy_dir;           /* private copy of a read-only archive, or NULL */
	char *dbpath;             /* what the connections opened (path or URI) */
	char *dbfile;             /* the database file behind it */
	sqlite3 *db;              /* this thread's connection */
	struct payload_win w;     /* the payload thread's connection and window */
	struct payload_win w2;    /* deep: the second payload thread's */
	/* identity: origin and log key */
	char *origin;
	int format;               /* meta.format: 2 or 3 */
	char *file_vkey;          /* log.pub */
	char *kname;              /* the log key's name */
	uint32_t kid;
	unsigned char pk[32];
	uint64_t n;               /* entries: max(idx) + 1 */
	/* checkpoints, stored and saved, sorted by size after loading */
	struct cp_item *cps;
	size_t ncp;
	size_t cpi;               /* the next one the scan must reach */
	/* stored nodes, per level: hashes and presence */
	cl_hash *nodes[64];
	unsigned char *node_seen[64];
	uint64_t node_count[64];
	uint64_t nodes_total;
	int node_problem;
	uint64_t node_bad_level, node_bad_pos;
	/* the scan */
	sqlite3_stmt *st_entries;
	cl_hash *leaf_ct;         /* [WINDOW]: ct_hash of each leaf */
	cl_hash *leaf_pt;         /* [WINDOW]: pt_hash of each leaf (deep) */
	unsigned char *leaf_has;  /* [WINDOW]: leaf commits to a payload */
	uint64_t expect;          /* the next index the scan must see */
	struct cl_merkle_range range;
	struct cl_map heads;      /* conversation tag -> last index, leaf hash */
	struct u64vec missing;    /* entries whose payload is absent */
	struct u64vec erased_by;  /* indexes named by tombstones */
};

static int problem(struct cl_verify_report *r, uint64_t idx, const char *fmt, ...)
	CL_PRINTF_LIKE(3, 4);

/*
 * Whether a 32-byte leaf field is all zero.  Leaf fields are public, so
 * no constant-time compare is needed, and libsodium's (a volatile byte
 * loop) cost about 5% of a full verify at four calls per entry.
 */
static int is_zero32(const unsigned char p[32])
{
	static const unsigned char zero[32];

	return memcmp(p, zero, 32) == 0;
}

static int problem(struct cl_verify_report *r, uint64_t idx, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	if (r->problem)
		return CL_ECORRUPT;
	va_start(ap, fmt);
	if ((m = cl_vstrdupf(fmt, ap)) == NULL)
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

/*
 * Deep verification of one payload (docs/FORMAT.md §6.4 steps 4-7): unwrap
 * its key with the batch key (eph, the officer's secret key), decrypt,
 * decompress and hash salt || plaintext into w->pt[k].  The plaintext is
 * hashed in chunks as it is decompressed and each chunk is wiped.
 * Returns an enum open_result.
 */
static int open_payload(struct payload_win *w, sqlite3_stmt *st, uint64_t idx,
			const unsigned char *ct, size_t n, size_t k)
{
	const unsigned char *wrapped = sqlite3_column_blob(st, 2);
	const unsigned char *eph = sqlite3_column_blob(st, 3);
	struct cl_sha256_ctx sh;
	unsigned long long fsz, got = 0;
	size_t ilen = 0;
	unsigned char wn[24];
	ZSTD_inBuffer in;
	size_t zr = 1;
	int res = OPEN_OK;

	if (wrapped == NULL || sqlite3_column_bytes(st, 2) != 48 || eph == NULL ||
	    sqlite3_column_bytes(st, 3) != 32)
		return OPEN_NO_KEY;
	if (sqlite3_column_int64(st, 4) != w->bk_batch) {
		w->bk_batch = -1;
		if (crypto_box_beforenm(w->bk, eph, w->seal_sk) != 0)
			return OPEN_UNWRAP;
		w->bk_batch = sqlite3_column_int64(st, 4);
	}
	cl_ledger_wrap_nonce(idx, wn);
	if (crypto_box_open_easy_afternm(w->key, wrapped, 48, wn, w->bk) != 0)
		return OPEN_UNWRAP;
	cl_buf_reset(&w->inner);
	if (cl_buf_reserve(&w->inner, n) != CL_OK ||
	    cl_payload_decrypt(ct, n, w->key, w->inner.data, &ilen) != CL_OK) {
		res = OPEN_AUTH;
		goto out;
	}
	fsz = ZSTD_getFrameContentSize(w->inner.data + 32, ilen - 32);
	ZSTD_DCtx_reset(w->zd, ZSTD_reset_session_only);
	if (fsz == ZSTD_CONTENTSIZE_ERROR || fsz == ZSTD_CONTENTSIZE_UNKNOWN ||
	    fsz > CL_PAYLOAD_MAX ||
	    ZSTD_isError(ZSTD_DCtx_refDDict(w->zd, cl_payload_uses_dict(ct) ? w->ddict : NULL))) {
		res = OPEN_FRAME;
		goto out;
	}
	cl_sha256_init(&sh);
	cl_sha256_update(&sh, w->inner.data, 32);
	in.src = w->inner.data + 32;
	in.size = ilen - 32;
	in.pos = 0;
	while (in.pos < in.size || zr != 0) {
		ZSTD_outBuffer o = { w->chunk, PT_CHUNK, 0 };
		size_t before = in.pos;

		zr = ZSTD_decompressStream(w->zd, &o, &in);
		if (ZSTD_isError(zr) || (o.pos == 0 && in.pos == before) ||
		    got + o.pos > fsz) {
			res = OPEN_FRAME;
			break;
		}
		got += o.pos;
		cl_sha256_update(&sh, w->chunk, o.pos);
		sodium_memzero(w->chunk, o.pos);
	}
	if (res == OPEN_OK && got != fsz)
		res = OPEN_FRAME;
	cl_sha256_final(&sh, w->pt[k]);   /* wipes sh */
out:
	if (ilen)
		sodium_memzero(w->inner.data, (size_t)ilen);
	sodium_memzero(w->key, 32);
	return res;
}

/* Hash (and in a deep run, open) the ciphertexts of [start, end) and
 * note which entries have a well-formed sealed key. */
static void *payload_thread(void *arg)
{
	struct payload_win *w = arg;
	int s;

	w->rc = CL_OK;
	w->bytes = 0;
	sqlite3_reset(w->st_payload);
	sqlite3_bind_int64(w->st_payload, 1, (sqlite3_int64)w->start);
	sqlite3_bind_int64(w->st_payload, 2, (sqlite3_int64)w->end);
	while ((s = sqlite3_step(w->st_payload)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(w->st_payload, 0);
		const unsigned char *ct = sqlite3_column_blob(w->st_payload, 1);
		size_t n = (size_t)sqlite3_column_bytes(w->st_payload, 1);
		size_t k = (size_t)(idx - w->base);

		cl_sha256(ct ? ct : (const unsigned char *)"", n, w->hash[k]);
		w->has[k] = cl_payload_wellformed(ct, n, w->max_pv) ? 1 : 2;
		w->bytes += n;
		if (w->seal_sk && w->has[k] == 1 && ct != NULL)
			w->opened[k] = (unsigned char)open_payload(w, w->st_payload, idx,
								    ct, n, k);
	}
	if (s != SQLITE_DONE) {
		w->rc = CL_EIO;
		w->sql_rc = s;
		return NULL;
	}
	sqlite3_reset(w->st_keys);
	sqlite3_bind_int64(w->st_keys, 1, (sqlite3_int64)w->start);
	sqlite3_bind_int64(w->st_keys, 2, (sqlite3_int64)w->end);
	while ((s = sqlite3_step(w->st_keys)) == SQLITE_ROW) {
		uint64_t idx = (uint64_t)sqlite3_column_int64(w->st_keys, 0);

		w->haskey[idx - w->base] =
			sqlite3_column_bytes(w->st_keys, 1) == 48 ? 1 : 2;
	}
	if (s != SQLITE_DONE) {
		w->rc = CL_EIO;
		w->sql_rc = s;
	}
	return NULL;
}


/* ---- state ---------------------------------------------------------- */

static void vstate_init(struct vstate *v, const char *dir,
			const struct cl_verify_opts *o,
			struct cl_verify_report *r, char **err)
{
	memset(v, 0, sizeof(*v));
	v->dir = dir;
	v->o = o;
	v->r = r;
	v->err = err;
	v->lock_fd = -1;
	v->w.bk_batch = -1;
	v->w2.bk_batch = -1;
	cl_buf_init(&v->w.inner, CL_PAYLOAD_MAX);
	cl_buf_init(&v->w2.inner, CL_PAYLOAD_MAX);
	cl_map_init(&v->heads);
	cl_merkle_range_init(&v->range);
}

/* A payload thread's own resources (not the shared window arrays). */
static void payload_win_release(struct payload_win *w)
{
	sqlite3_finalize(w->st_payload);
	sqlite3_finalize(w->st_keys);
	if (w->db)
		sqlite3_close(w->db);
	sodium_free(w->bk);
	sodium_free(w->key);
	if (w->inner.data)
		sodium_memzero(w->inner.data, w->inner.alloc);
	cl_buf_release(&w->inner);
	free(w->chunk);
	ZSTD_freeDCtx(w->zd);
	ZSTD_freeDDict(w->ddict);
}

/* Close the connections, drop the lock or the private copy and free
 * everything v owns. */
static void vstate_release(struct vstate *v)
{
	size_t i;

	sqlite3_finalize(v->st_entries);
	if (v->db)
		sqlite3_close(v->db);
	payload_win_release(&v->w);
	payload_win_release(&v->w2);
	cl_ledger_ro_release(&v->copy_dir);
	free(v->dbpath);
	free(v->dbfile);
	if (v->lock_fd >= 0)
		close(v->lock_fd);
	for (i = 0; i < 64; i++) {
		free(v->nodes[i]);
		free(v->node_seen[i]);
	}
	free(v->missing.a);
	free(v->erased_by.a);
	free(v->leaf_ct);
	free(v->leaf_pt);
	free(v->leaf_has);
	free(v->w.hash);
	free(v->w.has);
	free(v->w.haskey);
	free(v->w.pt);
	free(v->w.opened);
	free(v->cps);
	free(v->origin);
	free(v->file_vkey);
	free(v->kname);
	cl_map_release(&v->heads);
}

/* ---- damage --------------------------------------------------------- */

/* The ledger's tables (docs/FORMAT.md §4), in the order damage_where()
 * reads them. */
static const char *const ledger_tables[] = {
	"meta", "checkpoint", "entry", "dedup", "chain_head", "payload",
	"key_batch", "sealed_key", "node"
};

/* Does SQLite's result code say the file is damaged (rather than, say,
 * unreadable)? */
static int is_damage(int code)
{
	return (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB;
}

/*
 * What the file's SQLite header and size say is wrong with v->dbfile: a
 * file cut short or a damaged header (malloc'd text), or NULL when both
 * look sound.  Header fields: docs of the SQLite file format, §1.3.
 */
static char *damage_in_header(const struct vstate *v)
{
	static const unsigned char magic[16] = "SQLite format 3";
	unsigned char h[100];
	struct stat st;
	uint64_t ps, pages;
	ssize_t got = -1;
	int fd = open(v->dbfile, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		got = read(fd, h, sizeof(h));
		if (fstat(fd, &st) != 0)
			got = -1;
		close(fd);
	}
	if (got < 0)
		return NULL;
	if (st.st_size == 0)
		return cl_strdupf("the file is empty");
	if ((size_t)got < sizeof(h))
		return cl_strdupf("the file is cut short: %lld bytes, less than the 100-byte SQLite header",
				  (long long)st.st_size);
	if (memcmp(h, magic, sizeof(magic)) != 0)
		return cl_strdupf("its SQLite header is damaged (bytes 0-15 are not \"SQLite format 3\")");
	ps = (uint64_t)h[16] << 8 | h[17];
	if (ps == 1)
		ps = 65536;
	if (ps < 512 || (ps & (ps - 1)) != 0)
		return cl_strdupf("its SQLite header is damaged (page size field, bytes 16-17, reads %" PRIu64 ")",
				  ps);
	if (h[18] < 1 || h[18] > 2 || h[19] < 1 || h[19] > 2 || h[21] != 64 ||
	    h[22] != 32 || h[23] != 32)
		return cl_strdupf("its SQLite header is damaged (format fields, bytes 18-23)");
	pages = (uint64_t)h[28] << 24 | (uint64_t)h[29] << 16 | (uint64_t)h[30] << 8 | h[31];
	if (pages > 0 && memcmp(h + 24, h + 92, 4) == 0 &&
	    (uint64_t)st.st_size < pages * ps)
		return cl_strdupf("the file is cut short: %lld bytes, but its header says %" PRIu64
				  " pages of %" PRIu64 " bytes (%" PRIu64 " bytes)",
				  (long long)st.st_size, pages, ps, pages * ps);
	if ((uint64_t)st.st_size % ps != 0)
		return cl_strdupf("the file is cut short: %lld bytes is not a whole number of %" PRIu64 "-byte pages",
				  (long long)st.st_size, ps);
	return NULL;
}

/* Read every row and column of each ledger table on a new connection;
 * the first table SQLite cannot read, and how far it got (malloc'd text),
 * or NULL when all read. */
static char *damage_in_tables(const struct vstate *v)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *where = NULL, *sql = NULL;
	size_t t;

	if (sqlite3_open_v2(v->dbpath, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI,
			    NULL) != SQLITE_OK)
		goto out;
	for (t = 0; where == NULL && t < sizeof(ledger_tables) / sizeof(ledger_tables[0]); t++) {
		uint64_t rows = 0;
		char last[64] = "";
		int s;

		free(sql);
		if ((sql = cl_strdupf("SELECT * FROM %s", ledger_tables[t])) == NULL)
			goto out;
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
			if (is_damage(sqlite3_errcode(db)))
				where = cl_strdupf("its schema cannot be read");
			goto out;
		}
		while ((s = sqlite3_step(st)) == SQLITE_ROW) {
			int c;

			for (c = 0; c < sqlite3_column_count(st); c++)
				(void)sqlite3_column_blob(st, c);
			if (cl_fmt(last, sizeof(last), "%s", (const char *)sqlite3_column_text(st, 0) ?
				   (const char *)sqlite3_column_text(st, 0) : "") != CL_OK)
				last[0] = 0;
			rows++;
		}
		if (s != SQLITE_DONE && is_damage(s))
			where = rows ? cl_strdupf("table %s is unreadable after %" PRIu64 " rows (the last one read has key %s)",
						  ledger_tables[t], rows, last) :
				cl_strdupf("table %s is unreadable from its first row", ledger_tables[t]);
		sqlite3_finalize(st);
		st = NULL;
	}
	if (where == NULL &&
	    sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0)
		where = cl_strdupf("%s", (const char *)sqlite3_column_text(st, 0));
out:
	sqlite3_finalize(st);
	if (db)
		sqlite3_close(db);
	free(sql);
	return where;
}

/*
 * SQLite said the database is damaged (code) while the run was doing
 * `what`: record that as the problem, naming the damaged place when the
 * header, the file size or a read of each table shows it.  CL_ECORRUPT.
 */
static int damaged(struct vstate *v, int code, const char *what)
{
	char *where = v->dbfile ? damage_in_header(v) : NULL;
	int rc;

	if (where == NULL && v->dbpath)
		where = damage_in_tables(v);
	rc = problem(v->r, UINT64_MAX, "ledger.db is damaged (%s, while %s)%s%s",
		     sqlite3_errstr(code), what, where ? ": " : "", where ? where : "");
	free(where);
	return rc;
}

/* A failed SQLite call (code, on db) while doing `what`: damage when
 * SQLite says so (see damaged()), else CL_EIO with *err set. */
static int db_fail(struct vstate *v, sqlite3 *db, int code, const char *what)
{
	if (code == SQLITE_OK || code == SQLITE_ROW || code == SQLITE_DONE)
		code = sqlite3_extended_errcode(db);
	if (is_damage(code))
		return damaged(v, code, what);
	return cl_error(v->err, CL_EIO, "cannot read the archive while %s: %s", what,
			sqlite3_errmsg(db));
}

/* ---- phase: open ---------------------------------------------------- */

/*
 * DIR must be a directory with a readable ledger.db: else not an archive
 * (CL_ENOTFOUND) or unreadable (CL_EIO) -- or, when the directory holds
 * the rest of an archive (log.pub, chatledger.conf), a missing ledger.db,
 * which is damage.
 */
static int check_present(struct vstate *v, const char *dbpath)
{
	static const char *const others[] = { "log.pub", "chatledger.conf" };
	struct stat st;
	size_t i;
	int found = 0, rc = CL_OK;

	if (stat(v->dir, &st) != 0)
		return cl_error(v->err, CL_ENOTFOUND, "'%s' is not a chatledger archive (%s)",
				v->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cl_error(v->err, CL_ENOTFOUND, "'%s' is not a chatledger archive"
				" (not a directory)", v->dir);
	if (access(dbpath, R_OK) == 0)
		return CL_OK;
	if (errno != ENOENT)
		return cl_error(v->err, CL_EIO, "cannot read '%s': %s", dbpath, strerror(errno));
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		char *p = cl_strdupf("%s/%s", v->dir, others[i]);

		if (p == NULL)
			return CL_ENOMEM;
		found |= lstat(p, &st) == 0;
		free(p);
	}
	if (found)
		rc = problem(v->r, UINT64_MAX, "ledger.db is missing (the archive directory"
			     " holds log.pub or chatledger.conf but no database)");
	else
		rc = cl_error(v->err, CL_ENOTFOUND, "'%s' is not a chatledger archive", v->dir);
	return rc;
}

/*
 * Every connection is used by one thread only (no SQLite mutexes), and
 * reads the database through a memory map: a full verify reads every
 * page once, and a map saves the copy into SQLite's page cache and the
 * cache's allocations (about a third of the run's CPU).  ledger.db is
 * never truncated while open (no VACUUM; erasure overwrites in place), so
 * the map cannot lose its pages under a reader.
 */
#define VERIFY_OPEN_FLAGS (SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX)
#define VERIFY_PRAGMAS "PRAGMA mmap_size=1099511627776;"

/* The second payload thread's connection (deep verification), in a read
 * transaction like the others. */
static int open_second(struct vstate *v, const char *dbpath)
{
	if (sqlite3_open_v2(dbpath, &v->w2.db, VERIFY_OPEN_FLAGS, NULL) != SQLITE_OK)
		return cl_error(v->err, CL_EIO, "cannot open '%s': %s", dbpath,
				v->w2.db ? sqlite3_errmsg(v->w2.db) : "out of memory");
	sqlite3_busy_timeout(v->w2.db, 30000);
	if (sqlite3_exec(v->w2.db, VERIFY_PRAGMAS "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return cl_error(v->err, CL_EIO, "cannot start a read transaction");
	return CL_OK;
}

/*
 * Open ledger.db twice (this thread's and the payload thread's
 * connection; three times for a deep run), read-only, each in a read
 * transaction on one snapshot (no lock: WAL snapshots;
 * cl_ledger_snapshot_pair).  A read-only copy (or any archive with
 * opts.read_only) is read through cl_ledger_ro_path().
 */
static int open_archive(struct vstate *v)
{
	char *dbpath = NULL;      /* kept as v->dbpath once opened */
	int rc = CL_OK;

	if ((v->dbfile = cl_strdupf("%s/ledger.db", v->dir)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = check_present(v, v->dbfile)))
		goto out;
	if (!v->o->read_only && access(v->dir, W_OK) == 0) {
		dbpath = strdup(v->dbfile);
	} else {
		/* A read-only copy (an auditor's evidence directory): nobody
		 * can write it, so no lock; read as immutable, or through a
		 * private copy when its WAL holds data (rocopy.h). */
		if ((rc = cl_ledger_ro_path(v->dir, &v->copy_dir, &dbpath, v->err)))
			goto out;
		if (v->copy_dir) {
			free(v->dbfile);
			v->dbfile = cl_strdupf("%s/ledger.db", v->copy_dir);
		}
	}
	if (dbpath == NULL || v->dbfile == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &v->db, VERIFY_OPEN_FLAGS, NULL) != SQLITE_OK ||
	    sqlite3_open_v2(dbpath, &v->w.db, VERIFY_OPEN_FLAGS, NULL) != SQLITE_OK ||
	    sqlite3_exec(v->db, VERIFY_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(v->w.db, VERIFY_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3 *bad = v->w.db && sqlite3_errcode(v->w.db) != SQLITE_OK ? v->w.db : v->db;

		rc = cl_error(v->err, CL_EIO, "cannot open '%s': %s", dbpath,
			      bad ? sqlite3_errmsg(bad) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(v->db, 30000);
	sqlite3_busy_timeout(v->w.db, 30000);
out:
	v->dbpath = dbpath;
	return rc;
}

/*
 * Start the read transactions on one snapshot (after check_schema, so a
 * database SQLite cannot read is reported as damage, not as an error).
 */
static int start_snapshot(struct vstate *v)
{
	int rc = cl_ledger_snapshot_pair(v->db, v->w.db, NULL);

	if (rc != CL_OK) {
		int code = sqlite3_extended_errcode(v->db);

		if (!is_damage(code))
			code = sqlite3_extended_errcode(v->w.db);
		if (is_damage(code))
			return damaged(v, code, "starting a read transaction");
		return cl_error(v->err, rc, "cannot start a read transaction: %s",
				sqlite3_errmsg(v->db));
	}
	if (v->o->seal_sk)
		rc = open_second(v, v->dbpath);
	return rc;
}

/* ---- phase: schema -------------------------------------------------- */

/* The first read: every ledger table must exist.  An unreadable schema,
 * or a database without them (an empty file is an empty database), is
 * damage. */
static int check_schema(struct vstate *v)
{
	sqlite3_stmt *st = NULL;
	size_t t;
	int s, rc = CL_OK;

	if ((s = sqlite3_prepare_v2(v->db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
				    " AND name = ?1", -1, &st, NULL)) != SQLITE_OK) {
		rc = db_fail(v, v->db, s, "reading the schema");
		goto out;
	}
	for (t = 0; t < sizeof(ledger_tables) / sizeof(ledger_tables[0]); t++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, ledger_tables[t], -1, SQLITE_STATIC);
		s = sqlite3_step(st);
		if (s == SQLITE_DONE) {
			rc = problem(v->r, UINT64_MAX, "ledger.db is damaged or not a chatledger"
				     " ledger: table %s is missing", ledger_tables[t]);
			goto out;
		}
		if (s != SQLITE_ROW) {
			rc = db_fail(v, v->db, s, "reading the schema");
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- phase: identity ------------------------------------------------ */

/* Does DIR hold a log.pub (a file of any content)? */
static int has_log_pub(const char *dir)
{
	char *p = cl_ledger_path(dir, "log.pub");
	struct stat st;
	int yes = p != NULL && lstat(p, &st) == 0;

	free(p);
	return yes;
}

/* Origin and log key, as recorded in meta and as on disk (log.pub); the
 * number of entries. */
static int read_identity(struct vstate *v)
{
	sqlite3_stmt *st = NULL;
	char *db_vkey = NULL;
	int s, rc = CL_OK, have_pub;

	if ((s = sqlite3_prepare_v2(v->db, "SELECT (SELECT v FROM meta WHERE k='origin'),"
				    " (SELECT v FROM meta WHERE k='vkey'),"
				    " (SELECT coalesce(max(idx) + 1, 0) FROM entry),"
				    " (SELECT count(*) FROM entry),"
				    " (SELECT v FROM meta WHERE k='format')", -1, &st, NULL)) != SQLITE_OK ||
	    (s = sqlite3_step(st)) != SQLITE_ROW) {
		rc = db_fail(v, v->db, s, "reading the archive's identity");
		goto out;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_TEXT ||
	    sqlite3_column_type(st, 1) != SQLITE_TEXT) {
		rc = problem(v->r, UINT64_MAX, "archive metadata (origin, log key) is missing");
		goto out;
	}
	if (sqlite3_column_type(st, 4) == SQLITE_INTEGER && sqlite3_column_int64(st, 4) == 1) {
		rc = problem(v->r, UINT64_MAX, "%s", CL_FORMAT1_REFUSAL);
		goto out;
	}
	if (sqlite3_column_type(st, 4) != SQLITE_INTEGER ||
	    sqlite3_column_int64(st, 4) < CL_ARCHIVE_FORMAT_MIN ||
	    sqlite3_column_int64(st, 4) > CL_ARCHIVE_FORMAT) {
		rc = problem(v->r, UINT64_MAX, "the archive format is not %d or %d (meta.format)",
			     CL_ARCHIVE_FORMAT_MIN, CL_ARCHIVE_FORMAT);
		goto out;
	}
	v->format = (int)sqlite3_column_int64(st, 4);
	v->origin = strdup((const char *)sqlite3_column_text(st, 0));
	db_vkey = strdup((const char *)sqlite3_column_text(st, 1));
	v->n = (uint64_t)sqlite3_column_int64(st, 2);
	/* (A count below max + 1 means a deleted entry; the scan names it.) */
	if (v->origin == NULL || db_vkey == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	/* An auditor given the verifier key (--key) needs no log.pub: a
	 * copy of ledger.db alone will do, checked against that key. */
	have_pub = has_log_pub(v->dir);
	if (v->o->trusted_vkey && !have_pub) {
		if (strcmp(v->o->trusted_vkey, db_vkey) != 0)
			rc = problem(v->r, UINT64_MAX, "the log key recorded in the ledger"
				     " (%s) is not the trusted key %s", db_vkey,
				     v->o->trusted_vkey);
		else if ((v->file_vkey = strdup(db_vkey)) == NULL)
			rc = CL_ENOMEM;
		goto out;
	}
	if (!have_pub) {
		rc = cl_error(v->err, CL_EIO, "no log.pub in %s: copy it with ledger.db, or give"
			      " the verifier key with --key", v->dir);
		goto out;
	}
	if ((rc = cl_vault_load_vkey(v->dir, &v->file_vkey, v->err)))
		goto out;
	if (strcmp(v->file_vkey, db_vkey) != 0)
		rc = problem(v->r, UINT64_MAX,
			     "log key substituted: log.pub (%s) differs from the key recorded in the ledger (%s)",
			     v->file_vkey, db_vkey);
out:
	sqlite3_finalize(st);
	free(db_vkey);
	return rc;
}

/* The log key checkpoints must be signed with: the caller's trusted key
 * when given (it must be the archive's), else log.pub; its name must be
 * the origin. */
static int check_log_key(struct vstate *v)
{
	const char *vkey = v->o->trusted_vkey ? v->o->trusted_vkey : v->file_vkey;
	char *why = NULL;
	int rc = CL_OK;

	if (v->o->trusted_vkey) {
		char *n2 = NULL, *e2 = NULL;
		uint32_t id2;
		unsigned char pk2[32];

		if (cl_note_vkey_parse(v->o->trusted_vkey, &n2, &id2, pk2, &e2) != CL_OK) {
			rc = cl_error(v->err, CL_EINVAL, "--key is not a verifier key: %s",
				      e2 ? e2 : "malformed");
			free(e2);
			goto out;
		}
		free(n2);
	}
	if (v->o->trusted_vkey && strcmp(v->o->trusted_vkey, v->file_vkey) != 0) {
		rc = problem(v->r, UINT64_MAX,
			     "the archive's log key %s is not the trusted key %s",
			     v->file_vkey, v->o->trusted_vkey);
		goto out;
	}
	if (cl_note_vkey_parse(vkey, &v->kname, &v->kid, v->pk, &why) != CL_OK) {
		rc = problem(v->r, UINT64_MAX, "log key is malformed: %s",
			     why ? why : "bad verifier key");
		goto out;
	}
	if (strcmp(v->kname, v->origin) != 0)
		rc = problem(v->r, UINT64_MAX, "log key name '%s' is not the origin '%s'",
			     v->kname, v->origin);
out:
	free(why);
	return rc;
}

/* ---- phase: checkpoints --------------------------------------------- */

/* Every stored checkpoint: signed by the log key, for this origin, filed
 * under its own size.  There must be at least one. */
static int load_stored_checkpoints(struct vstate *v)
{
	sqlite3_stmt *st = NULL;
	char *why = NULL;
	int s, rc = CL_OK;

	if ((s = sqlite3_prepare_v2(v->db, "SELECT size, note FROM checkpoint ORDER BY size",
				    -1, &st, NULL)) != SQLITE_OK) {
		rc = db_fail(v, v->db, s, "reading checkpoints");
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct cp_item *na = realloc(v->cps, (v->ncp + 1 + v->o->n_checkpoints) *
					     sizeof(*v->cps));
		uint64_t col = (uint64_t)sqlite3_column_int64(st, 0);
		struct cp_item *cp;

		if (na == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		v->cps = na;
		cp = &v->cps[v->ncp];
		memset(cp, 0, sizeof(*cp));
		free(why);
		why = NULL;
		if (check_note((const char *)sqlite3_column_text(st, 1),
			       (size_t)sqlite3_column_bytes(st, 1), v->kname, v->kid,
			       v->pk, v->origin, cp, &why) != CL_OK) {
			rc = problem(v->r, UINT64_MAX, "stored checkpoint of size %" PRIu64 ": %s",
				     col, why ? why : "invalid");
			goto out;
		}
		if (cp->size != col) {
			rc = problem(v->r, UINT64_MAX,
				     "stored checkpoint filed under size %" PRIu64 " says size %" PRIu64,
				     col, cp->size);
			goto out;
		}
		v->ncp++;
	}
	if (s != SQLITE_DONE) {
		rc = db_fail(v, v->db, s, "reading checkpoints");
		goto out;
	}
	v->r->checkpoints = v->ncp;
	if (v->ncp == 0)
		rc = problem(v->r, UINT64_MAX, "the archive has no signed checkpoint");
out:
	sqlite3_finalize(st);
	free(why);
	return rc;
}

/* One saved checkpoint given by the caller: a signed note (else CL_EINVAL:
 * the caller passed something else), signed by the log key, no larger than
 * the log.  Appended to v->cps (which has room for it). */
static int add_saved_checkpoint(struct vstate *v, size_t i)
{
	const char *note = v->o->checkpoints[i];
	const char *nm = v->o->checkpoint_names ? v->o->checkpoint_names[i] :
		"saved checkpoint";
	struct cp_item *cp = &v->cps[v->ncp];
	char *why = NULL, *e2 = NULL;
	size_t tl = 0;
	int rc = CL_OK;

	memset(cp, 0, sizeof(*cp));
	if (cl_note_verify(note, strlen(note), v->kname, v->kid, v->pk, &tl,
			   &e2) == CL_EINVAL) {
		rc = cl_error(v->err, CL_EINVAL, "'%s' is not a signed checkpoint: %s",
			      nm, e2 ? e2 : "malformed");
		goto out;
	}
	if (check_note(note, strlen(note), v->kname, v->kid, v->pk, v->origin,
		       cp, &why) != CL_OK) {
		rc = problem(v->r, UINT64_MAX, "saved checkpoint '%s': %s", nm,
			     why ? why : "invalid");
		goto out;
	}
	cp->name = nm;
	if (cp->size > v->n) {
		rc = problem(v->r, UINT64_MAX,
			     "saved checkpoint '%s' has %" PRIu64 " entries but the log has only %" PRIu64 ": the log was truncated or rolled back",
			     nm, cp->size, v->n);
		goto out;
	}
	v->ncp++;
	v->r->external_checkpoints++;
out:
	free(e2);
	free(why);
	return rc;
}

/* The saved checkpoints, then all checkpoints sorted by size: none may be
 * larger than the log. */
static int load_saved_checkpoints(struct vstate *v)
{
	size_t i;
	int rc = CL_OK;

	for (i = 0; i < v->o->n_checkpoints; i++) {
		struct cp_item *na = realloc(v->cps, (v->ncp + 1) * sizeof(*v->cps));

		if (na == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		v->cps = na;
		if ((rc = add_saved_checkpoint(v, i)))
			goto out;
	}
	qsort(v->cps, v->ncp, sizeof(*v->cps), cmp_cp);
	if (v->cps[v->ncp - 1].size > v->n)
		rc = problem(v->r, UINT64_MAX,
			     "stored checkpoint of size %" PRIu64 " is larger than the log (%" PRIu64 " entries): entries were deleted",
			     v->cps[v->ncp - 1].size, v->n);
out:
	return rc;
}

/* ---- phase: sealing key --------------------------------------------- */

/* seal.pub must be the public half of seal.key (whose last 32 bytes are
 * the public key).  Skipped when either file cannot be read. */
static int check_seal_key(struct vstate *v)
{
	struct cl_buf sk;
	char *e2 = NULL, *p1 = NULL;
	unsigned char spk[32];
	int bad = 0, rc = CL_OK;

	cl_buf_init(&sk, 4096);
	if ((p1 = cl_strdupf("%s/seal.key", v->dir)) == NULL)
		p1 = NULL;
	else if (cl_file_read(p1, &sk, 4096, &e2) == CL_OK &&
		 cl_vault_load_seal_pk(v->dir, spk, &e2) == CL_OK)
		bad = sk.len < 32 || memcmp(sk.data + sk.len - 32, spk, 32) != 0;
	free(e2);
	free(p1);
	if (sk.data)
		sodium_memzero(sk.data, sk.alloc);
	cl_buf_release(&sk);
	if (bad)
		rc = problem(v->r, UINT64_MAX, "seal.pub is not the public half of seal.key:"
			     " new payload keys would be sealed to someone else");
	return rc;
}

/* The latest signed checkpoint names the sealing key (FORMAT.md §7.1):
 * seal.pub, and seal.key's public half, must be that key when readable.
 * (Its signature was checked by load_stored_checkpoints.) */
static int check_seal_named(struct vstate *v)
{
	sqlite3_stmt *st = NULL;
	struct cl_buf sk;
	char *e2 = NULL, *p1 = NULL;
	unsigned char named[32], spk[32];
	int s, rc = CL_OK;

	cl_buf_init(&sk, 4096);
	if ((s = sqlite3_prepare_v2(v->db, "SELECT note FROM checkpoint ORDER BY size DESC LIMIT 1",
				    -1, &st, NULL)) != SQLITE_OK ||
	    (s = sqlite3_step(st)) != SQLITE_ROW) {
		rc = db_fail(v, v->db, s, "reading checkpoints");
		goto out;
	}
	if (cl_checkpoint_seal_key((const char *)sqlite3_column_text(st, 0),
				   (size_t)sqlite3_column_bytes(st, 0), named) != CL_OK) {
		rc = problem(v->r, UINT64_MAX, "the latest signed checkpoint names no sealing key");
		goto out;
	}
	if (cl_vault_load_seal_pk(v->dir, spk, &e2) == CL_OK &&
	    sodium_memcmp(spk, named, 32) != 0) {
		rc = problem(v->r, UINT64_MAX, "seal.pub is not the sealing key the log names"
			     " (its latest signed checkpoint): new records would be sealed"
			     " to someone else");
		goto out;
	}
	if ((p1 = cl_strdupf("%s/seal.key", v->dir)) != NULL &&
	    cl_file_read(p1, &sk, 4096, &e2) == CL_OK &&
	    (sk.len < 32 || sodium_memcmp(sk.data + sk.len - 32, named, 32) != 0))
		rc = problem(v->r, UINT64_MAX, "seal.key is not the sealing key the log names"
			     " (its latest signed checkpoint)");
out:
	sqlite3_finalize(st);
	free(e2);
	free(p1);
	if (sk.data)
		sodium_memzero(sk.data, sk.alloc);
	cl_buf_release(&sk);
	return rc;
}

/* ---- phase: stored tree nodes --------------------------------------- */

/* Load every stored node; each must be a perfect subtree of >= 2^8 leaves
 * inside the log. */
static int load_nodes(struct vstate *v)
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
		if (v->nodes[lv] == NULL || v->node_seen[lv] == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		v->node_count[lv] = cnt;
	}
	if ((s = sqlite3_prepare_v2(v->db, "SELECT level, pos, hash FROM node", -1,
				    &st, NULL)) != SQLITE_OK) {
		rc = db_fail(v, v->db, s, "reading tree nodes");
		goto out;
	}
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
		rc = db_fail(v, v->db, s, "reading tree nodes");
out:
	sqlite3_finalize(st);
	return rc;
}

/* cl_merkle_range_append() callback: each node the rebuilt tree completes
 * must be stored, with the same hash.  Records the first mismatch. */
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

/* ---- phase: scan ---------------------------------------------------- */

/* A payload thread's statements (and, deep, its decryption state). */
static int prepare_payload_win(struct vstate *v, struct payload_win *w)
{
	/* Deep: each ciphertext with its wrapped key and batch key. */
	static const char deep_sql[] =
		"SELECT p.idx, p.ct, k.wrapped, b.eph, k.batch FROM payload p"
		" LEFT JOIN sealed_key k ON k.idx = p.idx"
		" LEFT JOIN key_batch b ON b.id = k.batch"
		" WHERE p.idx >= ?1 AND p.idx < ?2 ORDER BY p.idx";
	int s;

	w->seal_sk = v->o->seal_sk;
	/* Format 2 predates payload version 2 (FORMAT.md §10). */
	w->max_pv = cl_payload_max_version(v->format);
	if ((s = sqlite3_prepare_v2(w->db, w->seal_sk ? deep_sql :
				    "SELECT idx, ct FROM payload WHERE idx >= ?1"
				    " AND idx < ?2 ORDER BY idx", -1, &w->st_payload,
				    NULL)) != SQLITE_OK ||
	    (s = sqlite3_prepare_v2(w->db, "SELECT idx, wrapped FROM sealed_key WHERE idx >= ?1"
				    " AND idx < ?2", -1, &w->st_keys, NULL)) != SQLITE_OK)
		return db_fail(v, w->db, s, "preparing verification queries");
	if (w->seal_sk == NULL)
		return CL_OK;
	w->bk = sodium_malloc(crypto_box_BEFORENMBYTES);
	w->key = sodium_malloc(32);
	w->chunk = malloc(PT_CHUNK);
	w->zd = ZSTD_createDCtx();
	w->ddict = ZSTD_createDDict(cl_payload_dict1, cl_payload_dict1_len);
	if (w->bk == NULL || w->key == NULL || w->chunk == NULL || w->zd == NULL ||
	    w->ddict == NULL)
		return CL_ENOMEM;
	return CL_OK;
}

/* Window buffers and the scan's statements. */
static int prepare_scan(struct vstate *v)
{
	int s, rc = CL_OK;

	v->leaf_ct = calloc(WINDOW, sizeof(cl_hash));
	v->leaf_has = calloc(WINDOW, 1);
	v->w.hash = calloc(WINDOW, sizeof(cl_hash));
	v->w.has = calloc(WINDOW, 1);
	v->w.haskey = calloc(WINDOW, 1);
	if (!v->leaf_ct || !v->leaf_has || !v->w.hash || !v->w.has || !v->w.haskey) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (v->o->seal_sk) {
		v->leaf_pt = calloc(WINDOW, sizeof(cl_hash));
		v->w.pt = calloc(WINDOW, sizeof(cl_hash));
		v->w.opened = calloc(WINDOW, 1);
		if (!v->leaf_pt || !v->w.pt || !v->w.opened) {
			rc = CL_ENOMEM;
			goto out;
		}
		/* The second payload thread fills its part of the same arrays. */
		v->w2.hash = v->w.hash;
		v->w2.has = v->w.has;
		v->w2.haskey = v->w.haskey;
		v->w2.pt = v->w.pt;
		v->w2.opened = v->w.opened;
		if ((rc = prepare_payload_win(v, &v->w2)))
			goto out;
	}
	if ((s = sqlite3_prepare_v2(v->db, "SELECT e.idx, e.leaf, e.type, e.kind, e.sent_at, d.kh,"
				    " e.attrs, d.ch, k.wrapped, b.eph"
				    " FROM entry e LEFT JOIN dedup d ON d.idx = e.idx"
				    " LEFT JOIN sealed_key k ON k.idx = e.idx"
				    " LEFT JOIN key_batch b ON b.id = k.batch"
				    " WHERE e.idx >= ?1 AND e.idx < ?2 ORDER BY e.idx",
				    -1, &v->st_entries, NULL)) != SQLITE_OK) {
		rc = db_fail(v, v->db, s, "preparing verification queries");
		goto out;
	}
	rc = prepare_payload_win(v, &v->w);
out:
	return rc;
}

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

/* Does the index row under st (columns type, kind, sent_at, dedup kh)
 * agree with its leaf? */
static int index_row_matches(sqlite3_stmt *st, const struct cl_leaf *lf)
{
	const char *kind = (const char *)sqlite3_column_text(st, 3);

	return sqlite3_column_int(st, 2) == lf->type &&
	       kind != NULL && strcmp(kind, lf->kind) == 0 &&
	       (lf->sent_at == CL_TIME_NONE ?
		sqlite3_column_type(st, 4) == SQLITE_NULL :
		sqlite3_column_int64(st, 4) == lf->sent_at) &&
	       (is_zero32(lf->key_hash) ?
		sqlite3_column_type(st, 5) == SQLITE_NULL :
		sqlite3_column_int64(st, 5) == (sqlite3_int64)cl_load_be64(lf->key_hash));
}

/*
 * The columns the leaf commits to by hash besides the ciphertext (FORMAT.md
 * §3, §4): the batch key, wrapped key and attrs (aux_hash), and dedup.ch
 * (ch_hash).  An erased entry (non-zero ct_hash, no key row, attrs NULL)
 * keeps its aux_hash; whether a tombstone names it is checked with the
 * payloads (check_erasures).
 */
static int check_commitments(struct vstate *v, sqlite3_stmt *st, const struct cl_leaf *lf)
{
	int ta = sqlite3_column_type(st, 6), tc = sqlite3_column_type(st, 7);
	int tw = sqlite3_column_type(st, 8), te = sqlite3_column_type(st, 9);
	unsigned char h[32];
	int erased;

	if ((ta != SQLITE_NULL && (ta != SQLITE_BLOB || sqlite3_column_bytes(st, 6) == 0)) ||
	    (tc != SQLITE_NULL && tc != SQLITE_INTEGER) ||
	    (tw != SQLITE_NULL && tw != SQLITE_BLOB) || (te != SQLITE_NULL && te != SQLITE_BLOB))
		return problem(v->r, lf->index, "entry %" PRIu64 ": a key, attrs or"
			       " fingerprint column has the wrong type", lf->index);
	cl_leaf_ch_hash(tc == SQLITE_INTEGER, sqlite3_column_int64(st, 7), h);
	if (memcmp(h, lf->ch_hash, 32) != 0)
		return problem(v->r, lf->index, "entry %" PRIu64 ": its content fingerprint"
			       " (dedup.ch) does not match its leaf", lf->index);
	erased = !is_zero32(lf->ct_hash) && !is_zero32(lf->aux_hash) &&
		 ta == SQLITE_NULL && tw == SQLITE_NULL;
	if (erased)
		return CL_OK;
	cl_leaf_aux_hash(sqlite3_column_blob(st, 9), (size_t)sqlite3_column_bytes(st, 9),
			 sqlite3_column_blob(st, 8), (size_t)sqlite3_column_bytes(st, 8),
			 ta == SQLITE_NULL ? NULL : sqlite3_column_blob(st, 6),
			 (size_t)sqlite3_column_bytes(st, 6), h);
	if (memcmp(h, lf->aux_hash, 32) != 0)
		return problem(v->r, lf->index, "entry %" PRIu64 ": its sealed key, key batch"
			       " or attrs do not match its leaf (aux_hash)", lf->index);
	return CL_OK;
}

/* The leaf must link to the previous entry of its conversation; it then
 * becomes that conversation's head (lh: its leaf hash). */
static int follow_chain(struct vstate *v, const struct cl_leaf *lf,
			const cl_hash lh)
{
	struct cl_map_slot *head = cl_map_get(&v->heads, lf->conv_tag);
	int rc = CL_OK;

	if (head == NULL ? lf->prev_index != CL_LEAF_NOPREV ||
			   !is_zero32(lf->prev_hash) :
	    lf->prev_index != head->u || memcmp(lf->prev_hash, head->v, 32) != 0) {
		rc = problem(v->r, lf->index, "entry %" PRIu64 ": conversation chain broken (links to entry %s%" PRIu64
			     ", the previous entry of its conversation is %s%" PRIu64 ")",
			     lf->index, lf->prev_index == CL_LEAF_NOPREV ? "none " : "",
			     lf->prev_index == CL_LEAF_NOPREV ? 0 : lf->prev_index,
			     head ? "" : "none ", head ? head->u : 0);
		goto out;
	}
	if (head == NULL && (head = cl_map_put(&v->heads, lf->conv_tag)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	head->u = lf->index;
	memcpy(head->v, lh, 32);
out:
	return rc;
}

/* Add leaf hash lh to the rebuilt tree: every node it completes must be
 * stored, and every checkpoint of the new size must commit to its root. */
static int extend_tree(struct vstate *v, const cl_hash lh)
{
	struct cl_verify_report *r = v->r;
	int rc = CL_OK;

	cl_merkle_range_append(&v->range, lh, node_emit, v, CL_NODE_LEVEL);
	if (v->node_problem) {
		rc = problem(r, UINT64_MAX, "stored tree node (level %" PRIu64 ", position %" PRIu64
			     ") is missing or wrong", v->node_bad_level, v->node_bad_pos);
		goto out;
	}
	while (v->cpi < v->ncp && v->cps[v->cpi].size == v->range.size) {
		const struct cp_item *cp = &v->cps[v->cpi];
		cl_hash root;

		cl_merkle_range_root(&v->range, root);
		if (memcmp(root, cp->root, 32) != 0) {
			if (cp->name)
				rc = problem(r, UINT64_MAX,
					     "saved checkpoint '%s' (size %" PRIu64 ") does not match this log: its history was rewritten",
					     cp->name, cp->size);
			else
				rc = problem(r, UINT64_MAX,
					     "tree over entries 0..%" PRIu64 " does not match the signed checkpoint of size %" PRIu64
					     ": an entry before it was altered", cp->size - 1, cp->size);
			goto out;
		}
		v->cpi++;
	}
out:
	return rc;
}

/* The entry row under v->st_entries, in the window that begins at
 * `start`: the next index, a well-formed leaf of that index agreeing with
 * its index row, linked into its chain, added to the tree. */
static int check_entry(struct vstate *v, uint64_t start)
{
	sqlite3_stmt *st = v->st_entries;
	struct cl_verify_report *r = v->r;
	uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);
	const unsigned char *p = sqlite3_column_blob(st, 1);
	size_t n = (size_t)sqlite3_column_bytes(st, 1);
	struct cl_leaf lf;
	cl_hash lh;
	char *why = NULL;
	int rc = CL_OK;

	if (idx != v->expect) {
		rc = problem(r, v->expect, "entry %" PRIu64 " is missing (deleted from the log)",
			     v->expect);
		goto out;
	}
	v->expect++;
	if (p == NULL || cl_leaf_decode(p, n, &lf, &why) != CL_OK) {
		rc = problem(r, idx, "entry %" PRIu64 ": leaf is malformed (%s)", idx,
			     why ? why : "empty");
		goto out;
	}
	if (lf.index != idx) {
		rc = problem(r, idx, "entry %" PRIu64 ": leaf says it is entry %" PRIu64
			     " (entries moved or swapped)", idx, lf.index);
		goto out;
	}
	if (!index_row_matches(st, &lf)) {
		rc = problem(r, idx, "entry %" PRIu64 ": index columns (type, kind, sent_at,"
			     " key index) disagree with the leaf", idx);
		goto out;
	}
	if ((rc = check_commitments(v, st, &lf)))
		goto out;
	cl_merkle_leaf_hash(p, n, lh);
	r->bytes_hashed += n;
	if ((rc = follow_chain(v, &lf, lh)))
		goto out;
	switch (lf.type) {
	case CL_ENTRY_RECORD: r->records++; break;
	case CL_ENTRY_TOMBSTONE: r->tombstones++; break;
	case CL_ENTRY_COVERAGE: r->coverage++; break;
	case CL_ENTRY_CONTROL: r->control++; break;
	default: r->quarantined++; break;
	}
	if (lf.type == CL_ENTRY_TOMBSTONE && (rc = check_tombstone(v, &lf)))
		goto out;
	v->leaf_has[idx - start] = !is_zero32(lf.ct_hash);
	memcpy(v->leaf_ct[idx - start], lf.ct_hash, 32);
	if (v->leaf_pt)
		memcpy(v->leaf_pt[idx - start], lf.pt_hash, 32);
	rc = extend_tree(v, lh);
out:
	free(why);
	return rc;
}

/* Compare the window [start, end)'s leaves with what the payload thread
 * found: a payload and key exactly where a leaf commits to one, the
 * ciphertext hashing to the leaf's ct_hash; or neither (an erasure, to be
 * matched with a tombstone later). */
static int check_window_payloads(struct vstate *v, uint64_t start, uint64_t end)
{
	const struct payload_win *w = &v->w;
	struct cl_verify_report *r = v->r;
	uint64_t k;
	int rc = CL_OK;

	for (k = 0; rc == CL_OK && k < end - start; k++) {
		uint64_t idx = start + k;

		if (!v->leaf_has[k]) {
			if (w->has[k] || w->haskey[k])
				rc = problem(r, idx, "entry %" PRIu64 ": has a stored payload or key its leaf does not commit to", idx);
		} else if (!w->has[k] && !w->haskey[k]) {
			rc = vec_push(&v->missing, idx);
		} else if (w->has[k] == 2) {
			rc = problem(r, idx, "entry %" PRIu64 ": ciphertext is malformed", idx);
		} else if (w->has[k] != 1) {
			rc = problem(r, idx, "entry %" PRIu64 ": ciphertext is missing but its key remains",
				     idx);
		} else if (memcmp(w->hash[k], v->leaf_ct[k], 32) != 0) {
			rc = problem(r, idx, "entry %" PRIu64 ": ciphertext does not match the SHA-256 in its leaf", idx);
		} else if (w->haskey[k] != 1) {
			rc = problem(r, idx, "entry %" PRIu64 ": sealed key is missing or malformed (ciphertext remains)", idx);
		} else if (v->o->seal_sk && w->opened[k] != OPEN_OK) {
			rc = problem(r, idx, "entry %" PRIu64 ": payload does not open with the officer's key: %s",
				     idx, open_why[w->opened[k] < sizeof(open_why) / sizeof(open_why[0]) ?
						   w->opened[k] : 0]);
		} else if (v->o->seal_sk && memcmp(w->pt[k], v->leaf_pt[k], 32) != 0) {
			rc = problem(r, idx, "entry %" PRIu64 ": plaintext does not match the salted hash in its leaf (pt_hash)",
				     idx);
		} else {
			r->payloads++;
			if (v->o->seal_sk)
				r->opened++;
		}
	}
	return rc;
}

/* One window [start, end): the payload thread hashes ciphertexts (deep:
 * two threads open the payloads, half the window each) while this thread
 * checks the entries; then the halves are compared. */
static int scan_window(struct vstate *v, uint64_t start, uint64_t end)
{
	struct payload_win *ws[2] = { &v->w, &v->w2 };
	pthread_t th[2];
	int started[2] = { 0, 0 }, nw = v->o->seal_sk ? 2 : 1;
	int i, s = SQLITE_DONE, rc = CL_OK;
	char what[96];

	memset(v->w.has, 0, WINDOW);
	memset(v->w.haskey, 0, WINDOW);
	memset(v->leaf_has, 0, WINDOW);
	if (v->w.opened)
		memset(v->w.opened, 0, WINDOW);
	for (i = 0; i < nw; i++) {
		ws[i]->base = start;
		ws[i]->start = nw == 1 || i == 0 ? start : start + (end - start) / 2;
		ws[i]->end = nw == 1 || i == 1 ? end : start + (end - start) / 2;
		started[i] = pthread_create(&th[i], NULL, payload_thread, ws[i]) == 0;
		if (!started[i])
			payload_thread(ws[i]);
	}

	if (cl_fmt(what, sizeof(what), "reading entries %" PRIu64 "..%" PRIu64,
		   start, end - 1) != CL_OK)
		what[0] = 0;
	sqlite3_reset(v->st_entries);
	sqlite3_bind_int64(v->st_entries, 1, (sqlite3_int64)start);
	sqlite3_bind_int64(v->st_entries, 2, (sqlite3_int64)end);
	while (rc == CL_OK && (s = sqlite3_step(v->st_entries)) == SQLITE_ROW)
		rc = check_entry(v, start);
	if (rc == CL_OK && s != SQLITE_DONE && !v->r->problem)
		rc = db_fail(v, v->db, s, what);
	for (i = 0; i < nw; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	if (rc)
		goto out;
	for (i = 0; i < nw; i++) {
		if (ws[i]->rc == CL_OK)
			continue;
		if (cl_fmt(what, sizeof(what), "reading the payloads of entries %" PRIu64 "..%" PRIu64,
			   ws[i]->start, ws[i]->end - 1) != CL_OK)
			what[0] = 0;
		rc = ws[i]->rc == CL_EIO ? db_fail(v, ws[i]->db, ws[i]->sql_rc, what) : ws[i]->rc;
		goto out;
	}
	if (v->expect != end) {
		rc = problem(v->r, v->expect, "entry %" PRIu64 " is missing (deleted from the log)",
			     v->expect);
		goto out;
	}
	v->r->bytes_hashed += v->w.bytes + (nw == 2 ? v->w2.bytes : 0);
	rc = check_window_payloads(v, start, end);
out:
	return rc;
}

/* Every entry, window by window, after the checkpoints of size 0 (which
 * commit to the empty tree). */
static int scan_entries(struct vstate *v)
{
	uint64_t start;
	int rc = CL_OK;

	while (v->cpi < v->ncp && v->cps[v->cpi].size == 0) {
		cl_hash empty;

		cl_merkle_empty_root(empty);
		if (memcmp(empty, v->cps[v->cpi].root, 32) != 0) {
			rc = problem(v->r, UINT64_MAX, "checkpoint of size 0 does not commit to the empty tree");
			goto out;
		}
		v->cpi++;
	}
	for (start = 0; start < v->n; start += WINDOW) {
		uint64_t end = start + WINDOW < v->n ? start + WINDOW : v->n;

		if ((rc = scan_window(v, start, end)))
			goto out;
		if (v->o->progress)
			v->o->progress(v->o->progress_ctx, end, v->n);
	}
	v->r->entries = v->n;
out:
	return rc;
}

/* ---- phase: after the scan ------------------------------------------ */

/*
 * Rows that belong to no entry, batches that do not exist, a format this
 * build does not know.  The scan has seen every entry 0..n-1 and no
 * other (a gap or a negative index stops it), so a row of another table
 * belongs to no entry exactly when its index is outside [0, n): two range
 * lookups on the table's key instead of a probe per row.
 */
#define STRAY(t) "SELECT coalesce((SELECT min(idx) FROM " t " WHERE idx < 0)," \
	" (SELECT min(idx) FROM " t " WHERE idx >= ?1))"
static int check_stray_rows(struct vstate *v)
{
	static const struct { const char *sql, *what; } checks[] = {
		{ "SELECT min(idx) FROM entry WHERE idx < 0",
		  "an entry row has a negative index" },
		{ STRAY("payload"), "a ciphertext row belongs to no entry" },
		{ STRAY("sealed_key"), "a sealed key row belongs to no entry" },
		{ "SELECT min(k.idx) FROM sealed_key k LEFT JOIN key_batch b ON b.id = k.batch"
		  " WHERE b.id IS NULL OR length(b.eph) != 32",
		  "a sealed key refers to a missing or malformed key batch" },
		{ STRAY("dedup"), "a key index row belongs to no entry" },
	};
	sqlite3_stmt *st = NULL;
	size_t c;
	int s, rc = CL_OK;

	for (c = 0; c < sizeof(checks) / sizeof(checks[0]); c++) {
		if ((s = sqlite3_prepare_v2(v->db, checks[c].sql, -1, &st, NULL)) != SQLITE_OK ||
		    (sqlite3_bind_parameter_count(st) == 1 &&
		     (s = sqlite3_bind_int64(st, 1, (sqlite3_int64)v->n)) != SQLITE_OK) ||
		    ((s = sqlite3_step(st)) != SQLITE_ROW && s != SQLITE_DONE)) {
			rc = db_fail(v, v->db, s, "checking for stray rows");
			goto out;
		}
		if (s == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL) {
			long long at = sqlite3_column_int64(st, 0);

			rc = problem(v->r, UINT64_MAX, "%s (row %lld)", checks[c].what, at);
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
out:
	sqlite3_finalize(st);
	return rc;
}
#undef STRAY

/* Entries beyond the last signed checkpoint are unsigned; every
 * checkpoint must have been reached by the scan. */
static int check_signed_tail(struct vstate *v)
{
	uint64_t last = v->cps[v->ncp - 1].size;
	int rc = CL_OK;

	if (last < v->n)
		rc = problem(v->r, last,
			     "entries %" PRIu64 "..%" PRIu64 " are not covered by any signed checkpoint",
			     last, v->n - 1);
	else if (v->cpi != v->ncp)
		rc = problem(v->r, UINT64_MAX, "checkpoint of size %" PRIu64 " was never reached",
			     v->cps[v->cpi].size);
	return rc;
}

/* Every missing payload must be explained by a tombstone, and every
 * tombstone must have taken its payload with it. */
static int check_erasures(struct vstate *v)
{
	const struct u64vec *by = &v->erased_by, *miss = &v->missing;
	size_t i;
	int rc = CL_OK;

	if (by->n > 1)
		qsort(by->a, by->n, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < by->n; i++) {
		if (by->a[i] == by->a[i - 1]) {
			rc = problem(v->r, by->a[i], "entry %" PRIu64 ": erased by two tombstones",
				     by->a[i]);
			goto out;
		}
	}
	for (i = 0; i < miss->n; i++) {
		if (by->n == 0 ||
		    !bsearch(&miss->a[i], by->a, by->n, sizeof(uint64_t), cmp_u64)) {
			rc = problem(v->r, miss->a[i], "entry %" PRIu64 ": ciphertext and key are missing and no tombstone records an erasure",
				     miss->a[i]);
			goto out;
		}
	}
	for (i = 0; i < by->n; i++) {
		if (miss->n == 0 ||
		    !bsearch(&by->a[i], miss->a, miss->n, sizeof(uint64_t), cmp_u64)) {
			rc = problem(v->r, by->a[i], "entry %" PRIu64 ": a tombstone records its erasure but its ciphertext or key remains",
				     by->a[i]);
			goto out;
		}
	}
	v->r->erased = miss->n;
out:
	return rc;
}

/* The node table holds exactly the nodes of the recomputed tree (each one
 * was matched during the scan). */
static int check_node_count(struct vstate *v)
{
	uint64_t expected_nodes = 0;
	unsigned lv;
	int rc = CL_OK;

	for (lv = CL_NODE_LEVEL; lv < 64; lv++)
		expected_nodes += v->node_count[lv];
	if (v->nodes_total != expected_nodes)
		rc = problem(v->r, UINT64_MAX, "the node table holds %" PRIu64 " nodes, expected %" PRIu64,
			     v->nodes_total, expected_nodes);
	else
		v->r->nodes = v->nodes_total;
	return rc;
}

/* The stored chain heads are where the next entries link: each must be
 * the recomputed last entry of its conversation. */
static int check_chain_heads(struct vstate *v)
{
	sqlite3_stmt *st = NULL;
	uint64_t nh = 0;
	int s, rc = CL_OK;

	if ((s = sqlite3_prepare_v2(v->db, "SELECT tag, idx, hash FROM chain_head", -1, &st,
				    NULL)) != SQLITE_OK) {
		rc = db_fail(v, v->db, s, "reading chain heads");
		goto out;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *tag = sqlite3_column_blob(st, 0);
		const struct cl_map_slot *h = (tag && sqlite3_column_bytes(st, 0) == 32) ?
			cl_map_get(&v->heads, tag) : NULL;

		nh++;
		if (h == NULL || h->u != (uint64_t)sqlite3_column_int64(st, 1) ||
		    sqlite3_column_bytes(st, 2) != 32 ||
		    memcmp(h->v, sqlite3_column_blob(st, 2), 32) != 0) {
			rc = problem(v->r, UINT64_MAX, "a stored chain head (at entry %lld) is not"
				     " the last entry of its conversation",
				     sqlite3_column_int64(st, 1));
			goto out;
		}
	}
	if (s != SQLITE_DONE)
		rc = db_fail(v, v->db, s, "reading chain heads");
	else if (nh != v->heads.count)
		rc = problem(v->r, UINT64_MAX, "%" PRIu64 " chain heads stored, %zu conversations in the log",
			     nh, v->heads.count);
out:
	sqlite3_finalize(st);
	return rc;
}

/* The stored frontier is what the next commit will build on: it must be
 * exactly the recomputed tree's right edge. */
static int check_frontier(struct vstate *v)
{
	const struct cl_merkle_range *range = &v->range;
	sqlite3_stmt *st = NULL;
	int s, rc = CL_OK;

	if ((s = sqlite3_prepare_v2(v->db, "SELECT v FROM meta WHERE k = 'frontier'", -1, &st,
				    NULL)) != SQLITE_OK ||
	    ((s = sqlite3_step(st)) != SQLITE_ROW && s != SQLITE_DONE)) {
		rc = db_fail(v, v->db, s, "reading the frontier");
	} else if (s == SQLITE_ROW) {
		const unsigned char *fp = sqlite3_column_blob(st, 0);
		size_t fl = (size_t)sqlite3_column_bytes(st, 0), k;
		int same = fp && fl == 8 + 32 * (size_t)range->count &&
			   cl_load_be64(fp) == range->size;

		for (k = 0; same && k < range->count; k++)
			same = memcmp(fp + 8 + 32 * k, range->hashes[k], 32) == 0;
		if (!same)
			rc = problem(v->r, UINT64_MAX, "the stored frontier (the tree's right edge"
				     " the next commit builds on) does not match the log");
	} else if (v->n > 0) {
		rc = problem(v->r, UINT64_MAX, "the stored frontier is missing");
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- verify --------------------------------------------------------- */

int cl_verify(const char *dir, const struct cl_verify_opts *o,
	      struct cl_verify_report *r, char **err)
{
	struct vstate v;
	cl_hash root;
	int rc;

	memset(r, 0, sizeof(*r));
	r->bad_index = UINT64_MAX;
	vstate_init(&v, dir, o, r, err);

	if ((rc = open_archive(&v)) || (rc = check_schema(&v)) ||
	    (rc = start_snapshot(&v)))
		goto out;
	/* Who signs, and what was signed. */
	if ((rc = read_identity(&v)) || (rc = check_log_key(&v)) ||
	    (rc = load_stored_checkpoints(&v)) || (rc = load_saved_checkpoints(&v)) ||
	    (rc = check_seal_key(&v)) || (rc = check_seal_named(&v)))
		goto out;
	/* Every entry, its payload, its chain and the tree over it. */
	if ((rc = load_nodes(&v)) || (rc = prepare_scan(&v)) ||
	    (rc = scan_entries(&v)))
		goto out;
	/* What the scan leaves to compare. */
	if ((rc = check_stray_rows(&v)) || (rc = check_signed_tail(&v)) ||
	    (rc = check_erasures(&v)) || (rc = check_node_count(&v)) ||
	    (rc = check_chain_heads(&v)) || (rc = check_frontier(&v)))
		goto out;
	r->conversations = v.heads.count;
	cl_merkle_range_root(&v.range, root);
	sodium_bin2hex(r->root_hex, sizeof(r->root_hex), root, 32);
out:
	if (rc == CL_OK && r->problem)
		rc = CL_ECORRUPT;
	vstate_release(&v);
	return rc;
}
