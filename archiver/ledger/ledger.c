/*
 * ledger.c - the append-only store: open, close, batches, append, commit.
 *
 * Layout of ledger.db is in docs/FORMAT.md §4.  Each batch is one SQLite
 * transaction (synchronous=FULL in WAL mode, so COMMIT returns after
 * fsync) that ends with a signed checkpoint for the new size.  Sealing is
 * in seal.c, erasure in erase.c, creation in init.c, reads in read.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/ledger_int.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/rocopy.h"
#include "archiver/ledger/vault.h"
#include "archiver/ledger/walbuf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- small helpers -------------------------------------------------- */

char *cl_ledger_path(const char *dir, const char *name)
{
	char *p = NULL;

	if ((p = cl_strdupf("%s/%s", dir, name)) == NULL)
		return NULL;
	return p;
}

int cl_ledger_db_err(struct cl_ledger *l, char **err, const char *what)
{
	/* A full disk is the error an operator most often meets: say what
	 * it means for the batch and what to do. */
	if (sqlite3_errcode(l->db) == SQLITE_FULL)
		return cl_error(err, CL_EIO, "database error while %s: %s: no space left on"
				" the archive's file system (this batch is not stored; free"
				" space, then retry)", what, sqlite3_errmsg(l->db));
	return cl_error(err, CL_EIO, "database error while %s: %s", what,
			sqlite3_errmsg(l->db));
}

int cl_ledger_prepare(struct cl_ledger *l, sqlite3_stmt **st, const char *sql,
		      char **err)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
		return CL_OK;
	}
	if (sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
			       NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "preparing a statement");
	return CL_OK;
}

static int exec(struct cl_ledger *l, const char *sql, char **err)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, sql);
	return CL_OK;
}

static int64_t prefix64(const unsigned char h[32])
{
	return (int64_t)cl_load_be64(h);
}

void cl_ledger_log_chain_tag(const unsigned char *tag_key, unsigned char out[32])
{
	static const char m[] = "chatledger/conversation/v1/log";

	crypto_generichash(out, 32, (const unsigned char *)m, sizeof(m) - 1,
			   tag_key, 32);
}

/* ---- the writer lock ------------------------------------------------ */

/*
 * DIR/lock is flock()ed LOCK_EX by the writer of the batch in progress and
 * by nobody else.  The holder writes "PID NAME\n" into it after locking
 * and empties it before unlocking; a holder killed in a batch leaves its
 * line behind, but the kernel drops its lock, so no one waits on it.
 * The flock is always taken before SQLite's write lock (BEGIN IMMEDIATE)
 * and released after it (COMMIT, ROLLBACK), so the two cannot deadlock;
 * SQLite's own waits (a WAL checkpoint) are bounded by busy_timeout.
 */

static int lock_file_open(struct cl_ledger *l, char **err)
{
	char *path;

	if (l->lock_fd >= 0)
		return CL_OK;
	if ((path = cl_ledger_path(l->dir, "lock")) == NULL)
		return CL_ENOMEM;
	l->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (l->lock_fd < 0)
		return cl_error(err, CL_EIO, "cannot open the archive lock: %s",
				strerror(errno));
	return CL_OK;
}

/* The holder's "PID NAME" line, as far as it parses. */
static void lock_holder(const struct cl_ledger *l, long *pid, char name[32])
{
	char buf[64], *end = NULL;
	ssize_t n = pread(l->lock_fd, buf, sizeof(buf) - 1, 0);
	size_t k = 0;

	*pid = 0;
	name[0] = 0;
	if (n <= 0)
		return;
	buf[n] = 0;
	errno = 0;
	*pid = strtol(buf, &end, 10);
	if (errno || end == buf || *end != ' ' || *pid <= 0) {
		*pid = 0;
		return;
	}
	for (end++; k < 31 && end[k] && end[k] != '\n'; k++)
		name[k] = end[k];
	while (k > 0 && name[k - 1] == ' ')
		k--;    /* the line's padding */
	name[k] = 0;
}

/*
 * The holder's line, "PID NAME" padded with spaces to LOCK_LINE - 1
 * bytes and a newline: always the same length, so it overwrites the
 * last holder's line whole with one pwrite, and neither taking nor
 * releasing the lock truncates the file (two syscalls fewer per batch).
 * The line is read only while the lock is held by someone else, who
 * wrote it on taking the lock.  Informative only: a failure here does
 * not fail the batch.
 */
#define LOCK_LINE 64

static void lock_write_holder(struct cl_ledger *l)
{
	char id[LOCK_LINE], line[LOCK_LINE + 1];
	ssize_t n;

	if (cl_fmt(id, sizeof(id), "%ld %s", (long)getpid(), l->lock_name) != CL_OK ||
	    cl_fmt(line, sizeof(line), "%-*s\n", LOCK_LINE - 1, id) != CL_OK)
		return;
	n = pwrite(l->lock_fd, line, LOCK_LINE, 0);
	(void)n;
}

static void lock_release(struct cl_ledger *l)
{
	if (!l->locked)
		return;
	while (flock(l->lock_fd, LOCK_UN) != 0 && errno == EINTR)
		;
	l->locked = 0;
}

/*
 * Take the writer lock: a non-blocking attempt, then polling with a
 * growing pause (1..50 ms) until it is free or the bound has passed.  The
 * wait callback is told once, after CL_LEDGER_WAIT_NOTE_MS.
 */
static int lock_acquire(struct cl_ledger *l, char **err)
{
	int64_t start = 0, waited = 0;
	long pid = 0;
	char name[32];
	unsigned pause_ms = 1;
	int rc = CL_OK;

	if ((rc = lock_file_open(l, err)))
		goto out;
	for (;;) {
		struct timespec ts;

		if (flock(l->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			rc = cl_error(err, CL_EIO, "cannot lock the archive: %s",
				      strerror(errno));
			goto out;
		}
		if (start == 0)
			start = cl_mono_ms();
		waited = cl_mono_ms() - start;
		if (!l->told_wait && l->wait_fn &&
		    (waited >= CL_LEDGER_WAIT_NOTE_MS ||
		     (l->wait_limit_ms >= 0 && waited >= l->wait_limit_ms))) {
			lock_holder(l, &pid, name);
			l->told_wait = 1;
			l->wait_fn(l->wait_ctx, pid, name, l->wait_limit_ms);
		}
		if (l->wait_limit_ms >= 0 && waited >= l->wait_limit_ms) {
			lock_holder(l, &pid, name);
			if (pid > 0)
				rc = cl_error(err, CL_EBUSY, "archive busy: gave up after"
					      " waiting %lld ms for the writer lock, which"
					      " %s pid %ld holds", l->wait_limit_ms,
					      name[0] ? name : "process", pid);
			else
				rc = cl_error(err, CL_EBUSY, "archive busy: gave up after"
					      " waiting %lld ms for the writer lock",
					      l->wait_limit_ms);
			goto out;
		}
		ts.tv_sec = 0;
		ts.tv_nsec = (long)pause_ms * 1000000L;
		nanosleep(&ts, NULL);
		if (pause_ms < 50)
			pause_ms *= 2;
	}
	l->locked = 1;
	lock_write_holder(l);
out:
	return rc;
}

void cl_ledger_set_attr_defer(struct cl_ledger *l, size_t entries)
{
	l->attr_defer = entries;
}

int cl_ledger_map_reads(struct cl_ledger *l, char **err)
{
	return exec(l, "PRAGMA mmap_size=" CL_LEDGER_MMAP_BYTES ";", err);
}

int cl_ledger_set_cache(struct cl_ledger *l, unsigned kib, char **err)
{
	char sql[64];

	(void)cl_fmt(sql, sizeof(sql), "PRAGMA cache_size=-%u;", kib);
	return exec(l, sql, err);
}

void cl_ledger_bulk(struct cl_ledger *l, int on)
{
	if (l->mode == CL_OPEN_WRITE && l->walckpt == NULL)
		(void)sqlite3_wal_autocheckpoint(l->db, on ? CL_LEDGER_BULK_WAL_FRAMES : CL_LEDGER_WAL_FRAMES);
}

int cl_ledger_set_wait(struct cl_ledger *l, const char *name, long long limit_ms,
		       cl_ledger_wait_fn fn, void *ctx)
{
	size_t i;

	for (i = 0; name && name[i] && i < sizeof(l->lock_name) - 1; i++) {
		char c = name[i];

		l->lock_name[i] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '_' ? c : '_';
	}
	if (name && i > 0)
		l->lock_name[i] = 0;
	l->wait_limit_ms = limit_ms;
	l->wait_fn = fn;
	l->wait_ctx = ctx;
	return CL_OK;
}

int cl_ledger_snapshot_pair(sqlite3 *a, sqlite3 *b, char **err)
{
	static const char q[] = "SELECT coalesce(max(size), -1) FROM checkpoint";
	sqlite3_stmt *sa = NULL, *sb = NULL;
	int rc = CL_OK, tries;

	if (sqlite3_prepare_v2(a, q, -1, &sa, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(b, q, -1, &sb, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot start a read transaction: %s",
			      sqlite3_errmsg(sa ? b : a));
		goto out;
	}
	for (tries = 0; tries < 1000; tries++) {
		int same;

		if (sqlite3_exec(a, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(b, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_step(sa) != SQLITE_ROW || sqlite3_step(sb) != SQLITE_ROW) {
			rc = cl_error(err, CL_EIO, "cannot start a read transaction: %s",
				      sqlite3_errmsg(a));
			goto out;
		}
		same = sqlite3_column_int64(sa, 0) == sqlite3_column_int64(sb, 0);
		sqlite3_reset(sa);
		sqlite3_reset(sb);
		if (same)
			goto out;
		/* A writer committed between the two: try again. */
		sqlite3_exec(a, "COMMIT", NULL, NULL, NULL);
		sqlite3_exec(b, "COMMIT", NULL, NULL, NULL);
	}
	rc = cl_error(err, CL_EIO, "cannot read one consistent state of the archive");
out:
	sqlite3_finalize(sa);
	sqlite3_finalize(sb);
	return rc;
}

/* ---- open / close --------------------------------------------------- */

static int load_meta_text(struct cl_ledger *l, const char *k, char **out,
			  char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	*out = NULL;
	if (sqlite3_prepare_v2(l->db, "SELECT v FROM meta WHERE k = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading meta");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_type(st, 0) != SQLITE_TEXT)
		rc = cl_error(err, CL_ECORRUPT, "archive metadata '%s' missing", k);
	else if ((*out = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
		rc = CL_ENOMEM;
	sqlite3_finalize(st);
	return rc;
}

/* meta.format must be one this build reads (FORMAT.md §10), noted in
 * l->format; a format-1 archive is refused with CL_EINVAL, an unknown one
 * is CL_ECORRUPT. */
static int check_format(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(l->db, "SELECT v FROM meta WHERE k = 'format'", -1,
			       &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading meta");
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_type(st, 0) != SQLITE_INTEGER)
		rc = cl_error(err, CL_ECORRUPT, "archive metadata 'format' missing");
	else if (sqlite3_column_int64(st, 0) == 1)
		rc = cl_error(err, CL_EINVAL, "%s", CL_FORMAT1_REFUSAL);
	else if (sqlite3_column_int64(st, 0) < CL_ARCHIVE_FORMAT_MIN ||
		 sqlite3_column_int64(st, 0) > CL_ARCHIVE_FORMAT)
		rc = cl_error(err, CL_ECORRUPT, "unknown archive format %lld (this build"
			      " reads formats %d and %d)", (long long)sqlite3_column_int64(st, 0),
			      CL_ARCHIVE_FORMAT_MIN, CL_ARCHIVE_FORMAT);
	else
		l->format = (int)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

/*
 * The sealing key is part of the record (FORMAT.md §6.2): the latest
 * signed checkpoint names it, and a writer seals only to that key.  The
 * note's signature is checked here, so a changed row cannot name another.
 * An archive without a checkpoint yet (init) has nothing to compare.
 */
static int check_seal_named(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	char *name = NULL;
	uint32_t id;
	unsigned char lpk[32], named[32];
	size_t tlen = 0;
	int s, rc = CL_OK;

	if (sqlite3_prepare_v2(l->db, "SELECT size, note FROM checkpoint ORDER BY size DESC LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading checkpoints");
	s = sqlite3_step(st);
	memcpy(l->seal_named, l->seal_pk, 32);
	if (s == SQLITE_DONE)
		goto out;
	if (s != SQLITE_ROW) {
		rc = cl_ledger_db_err(l, err, "reading checkpoints");
		goto out;
	}
	if (cl_note_vkey_parse(l->vkey, &name, &id, lpk, NULL) != CL_OK ||
	    sqlite3_column_type(st, 1) != SQLITE_TEXT ||
	    cl_note_verify((const char *)sqlite3_column_text(st, 1),
			   (size_t)sqlite3_column_bytes(st, 1), name, id, lpk, &tlen,
			   NULL) != CL_OK) {
		rc = cl_error(err, CL_ECORRUPT, "the latest checkpoint does not verify; run verify");
		goto out;
	}
	s = cl_checkpoint_seal_key((const char *)sqlite3_column_text(st, 1), tlen, named);
	if (s != CL_OK)
		rc = cl_error(err, CL_EKEY, "the latest signed checkpoint names no sealing key;"
			      " refusing to seal records; run verify");
	else if (sodium_memcmp(named, l->seal_pk, 32) != 0)
		rc = cl_error(err, CL_EKEY, "seal.pub is not the sealing key the log names as"
			      " current (its latest signed checkpoint): refusing to seal"
			      " records to it; run verify");
out:
	sqlite3_finalize(st);
	free(name);
	return rc;
}

/* Restore the compact range saved at the last commit. */
static int load_frontier(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *p;
	int n, rc = CL_OK;
	unsigned i;

	cl_merkle_range_init(&l->range);
	if (sqlite3_prepare_v2(l->db, "SELECT v FROM meta WHERE k = 'frontier'",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "reading the frontier");
	if (sqlite3_step(st) == SQLITE_ROW) {
		p = sqlite3_column_blob(st, 0);
		n = sqlite3_column_bytes(st, 0);
		if (n < 8 || (n - 8) % 32 != 0 || (n - 8) / 32 > 64) {
			rc = cl_error(err, CL_ECORRUPT, "stored frontier is malformed");
			goto out;
		}
		l->range.size = cl_load_be64(p);
		l->range.count = (unsigned)((n - 8) / 32);
		for (i = 0; i < l->range.count; i++)
			memcpy(l->range.hashes[i], p + 8 + 32 * i, 32);
		if ((unsigned)__builtin_popcountll(l->range.size) != l->range.count) {
			rc = cl_error(err, CL_ECORRUPT, "stored frontier is inconsistent");
			goto out;
		}
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * The writer keeps two small indexes in memory: key-hash prefix -> index
 * (de-duplication) and conversation tag -> chain head.  Both tables are
 * append-mostly on disk, so ingest never does random B-tree inserts.
 */
static int load_keys(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	int s, rc = CL_OK;

	cl_map64_release(&l->keys);
	if (sqlite3_prepare_v2(l->db, "SELECT idx, kh FROM dedup", -1, &st, NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "loading the key index");
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t kh = (uint64_t)sqlite3_column_int64(st, 1), old;
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);

		if (cl_map64_get(&l->keys, kh, &old))
			idx = UINT64_MAX; /* two keys share a prefix: ask the db */
		if (cl_map64_put(&l->keys, kh, idx) != 0) {
			rc = CL_ENOMEM;
			goto out;
		}
	}
	if (s != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "loading the key index");
		goto out;
	}
	l->keys_loaded = 1;
out:
	sqlite3_finalize(st);
	return rc;
}

static int load_indexes(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	int s, rc = CL_OK;

	cl_map64_release(&l->keys);
	l->keys_loaded = 0;
	cl_map_release(&l->heads);
	cl_map_release(&l->dirty_heads);
	if (sqlite3_prepare_v2(l->db, "SELECT tag, idx, hash FROM chain_head", -1, &st,
			       NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "loading chain heads");
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct cl_map_slot *h;

		if (sqlite3_column_bytes(st, 0) != 32 || sqlite3_column_bytes(st, 2) != 32) {
			rc = cl_error(err, CL_ECORRUPT, "a chain head row is malformed; run verify");
			goto out;
		}
		h = cl_map_put(&l->heads, sqlite3_column_blob(st, 0));
		if (h == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		h->u = (uint64_t)sqlite3_column_int64(st, 1);
		memcpy(h->v, sqlite3_column_blob(st, 2), 32);
	}
	if (s != SQLITE_DONE)
		rc = cl_ledger_db_err(l, err, "loading chain heads");
out:
	sqlite3_finalize(st);
	return rc;
}

static int count_entries(struct cl_ledger *l, uint64_t *n, char **err)
{
	int rc;

	if ((rc = cl_ledger_prepare(l, &l->st_count,
				    "SELECT coalesce(max(idx) + 1, 0) FROM entry", err)))
		return rc;
	if (sqlite3_step(l->st_count) != SQLITE_ROW)
		rc = cl_ledger_db_err(l, err, "counting entries");
	else
		*n = (uint64_t)sqlite3_column_int64(l->st_count, 0);
	sqlite3_reset(l->st_count);
	return rc;
}

int cl_ledger_open(const char *dir, int mode, struct cl_ledger **out,
		   char **err)
{
	struct cl_ledger *l = calloc(1, sizeof(*l));
	char *dbpath = NULL;
	int rc = CL_OK, flags;
	struct stat st;

	*out = NULL;
	if (l == NULL)
		return CL_ENOMEM;
	l->lock_fd = -1;
	l->wait_limit_ms = -1;
	l->attr_defer = CL_ATTR_DEFER;
	memcpy(l->lock_name, "chatledger", sizeof("chatledger"));
	l->mode = mode;
	l->batch_id = -1;
	cl_map_init(&l->heads);
	cl_map_init(&l->dirty_heads);
	cl_map64_init(&l->keys);
	cl_buf_init(&l->leafbuf, CL_LEAF_FIXED + 64 + CL_LEAF_MAX_BODY);
	l->dir = strdup(dir);
	dbpath = cl_ledger_path(dir, "ledger.db");
	if (l->dir == NULL || dbpath == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (stat(dbpath, &st) != 0) {
		rc = cl_error(err, CL_ENOTFOUND, "'%s' is not a chatledger archive", dir);
		goto out;
	}
	flags = mode == CL_OPEN_WRITE ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (mode != CL_OPEN_WRITE &&
	    (mode == CL_OPEN_READ_COPY || access(dir, W_OK) != 0)) {
		/* A read-only copy: no locks; its WAL is read through a
		 * private copy when it holds data (rocopy.h). */
		char *p = NULL;

		if ((rc = cl_ledger_ro_path(dir, &l->copy_dir, &p, err)))
			goto out;
		free(dbpath);
		dbpath = p;
		flags |= SQLITE_OPEN_URI;
	}
	/* Writers gather each transaction's WAL frames into one write
	 * (walbuf.h); readers do not write. */
	if (sqlite3_open_v2(dbpath, &l->db, flags,
			    mode == CL_OPEN_WRITE && cl_walbuf_register() == SQLITE_OK ?
			    CL_WALBUF_VFS : NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot open '%s': %s", dbpath,
			      l->db ? sqlite3_errmsg(l->db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(l->db, CL_LEDGER_BUSY_MS);
	if (mode == CL_OPEN_WRITE &&
	    (rc = exec(l, "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
		       "PRAGMA cache_size=-65536;", err)))  /* CL_LEDGER_CACHE_KIB */
		goto out;
	/* One read transaction: what is loaded below is one committed
	 * state.  A reader keeps it until close; a writer ends it below. */
	if ((rc = exec(l, "BEGIN", err)) || (rc = check_format(l, err)) ||
	    (rc = load_meta_text(l, "origin", &l->origin, err)) ||
	    (rc = load_meta_text(l, "vkey", &l->vkey, err)))
		goto out;
	if (mode != CL_OPEN_WRITE) {
		rc = count_entries(l, &l->size, err);
		l->committed_size = l->size;
		goto out;
	}
	{
		char *vk = NULL;

		if ((rc = cl_vault_load_log(dir, &l->log_sk, &vk, &l->key_name, err)))
			goto out;
		if (strcmp(vk, l->vkey) != 0)
			rc = cl_error(err, CL_EKEY,
				      "log.key does not match the archive's log key");
		free(vk);
		if (rc)
			goto out;
	}
	if ((rc = cl_vault_load_tag(dir, &l->tag_key, err)) ||
	    (rc = cl_vault_load_seal_pk(dir, l->seal_pk, err)) ||
	    (rc = check_seal_named(l, err)) ||
	    (rc = load_frontier(l, err)) ||
	    (rc = load_indexes(l, err)) ||
	    (rc = count_entries(l, &l->size, err)))
		goto out;
	if (l->size != l->range.size) {
		rc = cl_error(err, CL_ECORRUPT,
			      "archive has %llu entries but its tree covers %llu; run verify",
			      (unsigned long long)l->size,
			      (unsigned long long)l->range.size);
		goto out;
	}
	l->committed_size = l->size;
	if ((rc = exec(l, "COMMIT", err)))
		goto out;
	if ((rc = cl_sealer_new(l, &l->sealer)) == CL_OK)
		rc = cl_prepared_new(&l->prep);
out:
	free(dbpath);
	if (rc) {
		cl_ledger_close(l);
		return rc;
	}
	*out = l;
	return CL_OK;
}

void cl_ledger_close(struct cl_ledger *l)
{
	if (l == NULL)
		return;
	if (l->in_batch)
		cl_ledger_rollback(l);
	cl_ledger_bg_checkpoint_stop(l);
	sqlite3_finalize(l->st_leaf);
	sqlite3_finalize(l->st_ins_dedup);
	sqlite3_finalize(l->st_get_ch);
	sqlite3_finalize(l->st_up_head);
	sqlite3_finalize(l->st_ins_entry);
	sqlite3_finalize(l->st_ins_payload);
	sqlite3_finalize(l->st_ins_key);
	sqlite3_finalize(l->st_ins_node);
	sqlite3_finalize(l->st_er_get);
	sqlite3_finalize(l->st_er_key);
	sqlite3_finalize(l->st_er_payload);
	sqlite3_finalize(l->st_er_attrs);
	sqlite3_finalize(l->st_er_mark);
	sqlite3_finalize(l->st_ins_attr);
	sqlite3_finalize(l->st_entry);
	sqlite3_finalize(l->st_count);
	sqlite3_finalize(l->st_cp_have);
	sqlite3_finalize(l->st_cp_ins);
	sqlite3_finalize(l->st_frontier);
	sqlite3_finalize(l->st_key_batch);
	sqlite3_finalize(l->st_ix_shape);
	sqlite3_finalize(l->st_ix_cover);
	sqlite3_finalize(l->st_ix_cover_set);
	sqlite3_finalize(l->st_ix_attrs);
	cl_attrix_free(l);
	if (l->db)
		sqlite3_close(l->db);   /* ends a reader's read transaction */
	lock_release(l);
	cl_ledger_ro_release(&l->copy_dir);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	sodium_free(l->log_sk);
	sodium_free(l->tag_key);
	sodium_free(l->batch_mem);
	cl_sealer_free(l->sealer);
	cl_prepared_free(l->prep);
	cl_map_release(&l->heads);
	cl_map_release(&l->dirty_heads);
	cl_map64_release(&l->keys);
	cl_buf_release(&l->leafbuf);
	free(l->dir);
	free(l->origin);
	free(l->vkey);
	free(l->key_name);
	free(l);
}

const char *cl_ledger_origin(const struct cl_ledger *l) { return l->origin; }
const char *cl_ledger_dir(const struct cl_ledger *l) { return l->dir; }
int cl_ledger_format(const struct cl_ledger *l) { return l->format; }
uint64_t cl_ledger_size(const struct cl_ledger *l) { return l->size; }
struct sqlite3 *cl_ledger_sqlite(struct cl_ledger *l) { return l->db; }

/* ---- batches -------------------------------------------------------- */

/*
 * Catch up with the entries other writers committed since this handle's
 * last batch (inside the write transaction, so nothing moves meanwhile):
 * only entries idx >= committed_size are read.  The frontier is the one
 * stored with the latest checkpoint (constant size); chain heads come
 * from the new leaves, keys from their dedup rows.
 */
static int catch_up(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	uint64_t n = 0, next = l->committed_size;
	int s, rc = CL_OK;

	if ((rc = count_entries(l, &n, err)))
		goto out;
	if (n == l->committed_size)
		goto out;
	if (n < l->committed_size) {
		rc = cl_error(err, CL_ECORRUPT, "the archive shrank from %llu to %llu"
			      " entries while open; run verify",
			      (unsigned long long)l->committed_size, (unsigned long long)n);
		goto out;
	}
	if ((rc = load_frontier(l, err)))
		goto out;
	if (l->range.size != n) {
		rc = cl_error(err, CL_ECORRUPT,
			      "archive has %llu entries but its tree covers %llu; run verify",
			      (unsigned long long)n, (unsigned long long)l->range.size);
		goto out;
	}
	if (sqlite3_prepare_v2(l->db, "SELECT idx, leaf FROM entry WHERE idx >= ?1"
			       " ORDER BY idx", -1, &st, NULL) != SQLITE_OK) {
		rc = cl_ledger_db_err(l, err, "catching up with other writers");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)l->committed_size);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 1);
		size_t len = (size_t)sqlite3_column_bytes(st, 1);
		struct cl_map_slot *h;
		struct cl_leaf leaf;

		if ((uint64_t)sqlite3_column_int64(st, 0) != next ||
		    cl_leaf_decode(p, len, &leaf, NULL) != CL_OK) {
			rc = cl_error(err, CL_ECORRUPT, "entry %llu is missing or"
				      " malformed; run verify", (unsigned long long)next);
			goto out;
		}
		if ((h = cl_map_put(&l->heads, leaf.conv_tag)) == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		h->u = next;
		cl_merkle_leaf_hash(p, len, h->v);
		next++;
	}
	if (s != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "catching up with other writers");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!l->keys_loaded)
		goto done;    /* loaded whole by the first keyed append */
	if (sqlite3_prepare_v2(l->db, "SELECT idx, kh FROM dedup WHERE idx >= ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		st = NULL;
		rc = cl_ledger_db_err(l, err, "catching up with other writers");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)l->committed_size);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t kh = (uint64_t)sqlite3_column_int64(st, 1), old;
		uint64_t idx = (uint64_t)sqlite3_column_int64(st, 0);

		if (cl_map64_put(&l->keys, kh, cl_map64_get(&l->keys, kh, &old) ?
				 UINT64_MAX : idx) != CL_OK) {
			rc = CL_ENOMEM;
			goto out;
		}
	}
	if (s != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "catching up with other writers");
		goto out;
	}
done:
	l->size = l->committed_size = n;
out:
	sqlite3_finalize(st);
	return rc;
}

int cl_ledger_begin(struct cl_ledger *l, char **err)
{
	int rc = CL_OK;

	if (l->mode != CL_OPEN_WRITE || l->in_batch)
		return cl_error(err, CL_EINVAL, "ledger not open for a new batch");
	if ((rc = lock_acquire(l, err)))
		goto out;
	if (!l->scrub_checked) {
		l->scrub_checked = 1;
		cl_ledger_scrub_pending(l);
	}
	if ((rc = exec(l, "BEGIN IMMEDIATE", err)))
		goto out;
	if ((rc = catch_up(l, err)) || (rc = cl_attrix_begin(l, err))) {
		sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	l->in_batch = 1;
	l->saved_range = l->range;
	cl_map_release(&l->dirty_heads);
out:
	if (rc)
		lock_release(l);
	return rc;
}

/* Forget the batch key (wiped; the guarded memory is kept for the next). */
static void end_key_batch(struct cl_ledger *l)
{
	if (l->batch_mem)
		sodium_memzero(l->batch_mem, crypto_box_BEFORENMBYTES + 32);
	l->batch_key = NULL;
	l->batch_id = -1;
	l->batch_fresh = 0;
}

void cl_ledger_key_batches(struct cl_ledger *l, int on)
{
	l->batch_span = on;
	if (!on)
		end_key_batch(l);
}

long long cl_ledger_key_batch_idle(struct cl_ledger *l)
{
	int64_t idle;

	if (l->batch_key == NULL || l->in_batch)
		return -1;
	idle = cl_mono_ms() - l->batch_used;
	if (idle >= CL_KEY_BATCH_MS) {
		end_key_batch(l);
		return -1;
	}
	return CL_KEY_BATCH_MS - idle;
}

void cl_ledger_rollback(struct cl_ledger *l)
{
	size_t i;

	if (!l->in_batch)
		return;
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	l->in_batch = 0;
	cl_attrix_reset(l);
	l->range = l->saved_range;
	l->size = l->committed_size;
	/* Put back the chain heads this batch moved.  Keys it added may
	 * stay: a key-map hit is always checked against the stored leaf. */
	for (i = 0; i < l->dirty_heads.cap; i++) {
		const struct cl_map_slot *d = &l->dirty_heads.slots[i];
		struct cl_map_slot *h;

		if (!d->used || (h = cl_map_get(&l->heads, d->key)) == NULL)
			continue;
		h->u = d->u;
		memcpy(h->v, d->v, 32);
	}
	cl_map_release(&l->dirty_heads);
	/* A key batch begun in this transaction lost its row with it. */
	if (l->batch_fresh)
		end_key_batch(l);
	lock_release(l);
}

/* A fresh ephemeral X25519 key per key batch; its shared key with the
 * archive's sealing key wraps every payload key of the key batch (one
 * transaction, or several: cl_ledger_key_batches()). */
static int start_key_batch(struct cl_ledger *l, char **err)
{
	unsigned char eph_pk[32];
	unsigned char *eph_sk;
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	/* Guarded memory is allocated once per handle, not per batch:
	 * sodium_malloc/sodium_free map, protect, lock and unmap pages, and
	 * the TLB shootdowns of each unmap cost more than the batch's X25519
	 * work (bench/wechat.sh).  It is wiped after every batch. */
	if (l->batch_mem == NULL &&
	    (l->batch_mem = sodium_malloc(crypto_box_BEFORENMBYTES + 32)) == NULL)
		return CL_ENOMEM;
	l->batch_key = l->batch_mem;
	eph_sk = l->batch_mem + crypto_box_BEFORENMBYTES;
	crypto_box_keypair(eph_pk, eph_sk);
	if (crypto_box_beforenm(l->batch_key, l->seal_pk, eph_sk) != 0) {
		rc = cl_error(err, CL_EKEY, "the sealing public key is unusable");
		goto out;
	}
	if ((rc = cl_ledger_prepare(l, &l->st_key_batch,
				    "INSERT INTO key_batch(eph) VALUES (?1)", err)))
		goto out;
	st = l->st_key_batch;
	memcpy(l->batch_eph, eph_pk, 32);
	sqlite3_bind_blob(st, 1, eph_pk, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "starting a key batch");
		goto out;
	}
	l->batch_id = sqlite3_last_insert_rowid(l->db);
	l->batch_started = cl_mono_ms();
	l->batch_keys = 0;
	l->batch_fresh = 1;
out:
	if (st)
		sqlite3_reset(st);
	sodium_memzero(eph_sk, 32);
	if (rc)
		end_key_batch(l);
	return rc;
}

void cl_ledger_wrap_nonce(uint64_t index, unsigned char n[24])
{
	memset(n, 0, 24);
	memcpy(n, "CLwrap01", 8);
	cl_store_be64(n + 16, index);
}

static int emit_node(void *ctx, unsigned level, uint64_t pos, const cl_hash h)
{
	struct cl_ledger *l = ctx;
	char *e = NULL;

	if (cl_ledger_prepare(l, &l->st_ins_node,
			      "INSERT INTO node(level, pos, hash) VALUES (?1, ?2, ?3)",
			      &e) != CL_OK) {
		free(e);
		return CL_EIO;
	}
	sqlite3_bind_int(l->st_ins_node, 1, (int)level);
	sqlite3_bind_int64(l->st_ins_node, 2, (sqlite3_int64)pos);
	sqlite3_bind_blob(l->st_ins_node, 3, h, 32, SQLITE_STATIC);
	return sqlite3_step(l->st_ins_node) == SQLITE_DONE ? CL_OK : CL_EIO;
}

/* Does entry `idx` carry the full key hash `kh`? */
static int leaf_has_key(struct cl_ledger *l, uint64_t idx,
			const unsigned char kh[32], int *yes, char **err)
{
	struct cl_leaf leaf;
	char *e = NULL;
	int rc, s;

	*yes = 0;
	if ((rc = cl_ledger_prepare(l, &l->st_leaf,
				    "SELECT leaf FROM entry WHERE idx = ?1", err)))
		return rc;
	sqlite3_bind_int64(l->st_leaf, 1, (sqlite3_int64)idx);
	s = sqlite3_step(l->st_leaf);
	if (s == SQLITE_ROW &&
	    cl_leaf_decode(sqlite3_column_blob(l->st_leaf, 0),
			   (size_t)sqlite3_column_bytes(l->st_leaf, 0), &leaf, &e) == CL_OK)
		*yes = memcmp(leaf.key_hash, kh, 32) == 0;
	free(e);
	sqlite3_reset(l->st_leaf);
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		return cl_ledger_db_err(l, err, "looking up a message key");
	return CL_OK;
}

/* Look for an existing entry with key hash `kh`. */
static int find_key(struct cl_ledger *l, const unsigned char kh[32],
		    uint64_t *index, int *found, char **err)
{
	uint64_t cand;
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, yes = 0, s = SQLITE_DONE;

	*found = 0;
	if (!l->keys_loaded && (rc = load_keys(l, err)))
		return rc;
	if (!cl_map64_get(&l->keys, (uint64_t)prefix64(kh), &cand))
		return CL_OK;
	if (cand != UINT64_MAX) {
		if ((rc = leaf_has_key(l, cand, kh, &yes, err)))
			return rc;
		if (yes) {
			*index = cand;
			*found = 1;
		}
		return CL_OK;
	}
	/* Several keys share this 64-bit prefix (rare): scan for them. */
	if (sqlite3_prepare_v2(l->db, "SELECT idx FROM dedup WHERE kh = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return cl_ledger_db_err(l, err, "looking up a message key");
	sqlite3_bind_int64(st, 1, prefix64(kh));
	while (!yes && (s = sqlite3_step(st)) == SQLITE_ROW) {
		cand = (uint64_t)sqlite3_column_int64(st, 0);
		if ((rc = leaf_has_key(l, cand, kh, &yes, err)))
			break;
		if (yes) {
			*index = cand;
			*found = 1;
		}
	}
	if (rc == CL_OK && !yes && s != SQLITE_DONE)
		rc = cl_ledger_db_err(l, err, "looking up a message key");
	sqlite3_finalize(st);
	return rc;
}

/* The chain head of conversation `tag` (all heads are in memory). */
static int chain_head(struct cl_ledger *l, const unsigned char tag[32],
		      uint64_t *prev, unsigned char prev_hash[32], char **err)
{
	struct cl_map_slot *s = cl_map_get(&l->heads, tag);

	(void)err;
	*prev = CL_LEAF_NOPREV;
	memset(prev_hash, 0, 32);
	if (s) {
		*prev = s->u;
		memcpy(prev_hash, s->v, 32);
	}
	return CL_OK;
}

/* Does entry `idx` hold the same content as `p` (by keyed fingerprint)?
 * Entries without a fingerprint count as the same. */
static int same_content(struct cl_ledger *l, uint64_t idx,
			const struct cl_prepared *p, int *same, char **err)
{
	int rc, s;

	*same = 1;
	if (!p->has_ch)
		return CL_OK;
	if ((rc = cl_ledger_prepare(l, &l->st_get_ch,
				    "SELECT ch FROM dedup WHERE idx = ?1", err)))
		return rc;
	sqlite3_bind_int64(l->st_get_ch, 1, (sqlite3_int64)idx);
	s = sqlite3_step(l->st_get_ch);
	if (s == SQLITE_ROW && sqlite3_column_type(l->st_get_ch, 0) != SQLITE_NULL)
		*same = sqlite3_column_int64(l->st_get_ch, 0) == p->ch;
	sqlite3_reset(l->st_get_ch);
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		return cl_ledger_db_err(l, err, "comparing a redelivered message");
	return CL_OK;
}

/* The key of a conflicting copy: H(tag key, kh || "conflict" || ch). */
static void conflict_key(const struct cl_ledger *l, struct cl_prepared *p)
{
	crypto_generichash_state st;
	unsigned char ch[8];

	cl_store_be64(ch, (uint64_t)p->ch);
	crypto_generichash_init(&st, l->tag_key, 32, 32);
	crypto_generichash_update(&st, p->kh, 32);
	crypto_generichash_update(&st, (const unsigned char *)"conflict", 8);
	crypto_generichash_update(&st, ch, 8);
	crypto_generichash_final(&st, p->kh, 32);
	sodium_memzero(&st, sizeof(st));
}

int cl_ledger_append_prepared(struct cl_ledger *l, struct cl_prepared *p,
			      uint64_t *index, enum cl_append_outcome *dup, char **err)
{
	struct cl_leaf leaf;
	unsigned char leaf_hash[32], wrapped[48], wn[24];
	struct cl_map_slot *slot;
	uint64_t existing;
	int found, rc = CL_OK, conflicted = 0;

	*dup = CL_APPEND_NEW;
	if (!l->in_batch) {
		rc = cl_error(err, CL_EINVAL, "append outside a batch");
		goto out;
	}
	if (sqlite3_get_autocommit(l->db)) {
		/* SQLite rolled the batch's transaction back after an error
		 * (out of memory, I/O): appending now would write outside it. */
		rc = cl_error(err, CL_EIO, "the batch's transaction was rolled back");
		goto out;
	}
	memset(&leaf, 0, sizeof(leaf));
	if (p->has_key) {
		if ((rc = find_key(l, p->kh, &existing, &found, err)))
			goto out;
		if (found) {
			int same;

			if ((rc = same_content(l, existing, p, &same, err)))
				goto out;
			if (same) {
				*dup = CL_APPEND_DUPLICATE;
				*index = existing;
				goto out;
			}
			/* Same message key, different content: keep it as a
			 * conflicting copy under a derived key, itself
			 * idempotent. */
			conflict_key(l, p);
			if ((rc = find_key(l, p->kh, &existing, &found, err)))
				goto out;
			if (found) {
				*dup = CL_APPEND_DUPLICATE;
				*index = existing;
				goto out;
			}
			conflicted = 1;
		}
		memcpy(leaf.key_hash, p->kh, 32);
	}
	memcpy(leaf.conv_tag, p->conv_tag, 32);
	if ((rc = chain_head(l, leaf.conv_tag, &leaf.prev_index, leaf.prev_hash, err)))
		goto out;
	leaf.version = CL_LEAF_VERSION;
	leaf.type = p->type;
	leaf.index = l->size;
	leaf.sent_at = p->sent_at;
	leaf.received_at = p->received_at;
	leaf.logged_at = cl_time_now_ms();
	memcpy(leaf.kind, p->kind, strlen(p->kind) + 1);
	leaf.body = (const unsigned char *)p->body;
	leaf.body_len = (uint32_t)p->body_len;
	memcpy(leaf.ct_hash, p->ct_hash, 32);
	memcpy(leaf.pt_hash, p->pt_hash, 32);
	if (p->has_payload) {
		if (l->batch_key != NULL && l->batch_keys >= CL_KEY_BATCH_KEYS)
			end_key_batch(l);
		if (l->batch_key == NULL && (rc = start_key_batch(l, err)))
			goto out;
		l->batch_keys++;
		cl_ledger_wrap_nonce(leaf.index, wn);
		crypto_box_easy_afternm(wrapped, p->key, 32, wn, l->batch_key);
	}
	/* The leaf commits to the key rows and attributes (FORMAT.md §3). */
	cl_leaf_aux_hash(l->batch_eph, p->has_payload ? 32 : 0,
			 wrapped, p->has_payload ? sizeof(wrapped) : 0,
			 p->attrs.len ? p->attrs.data : NULL, p->attrs.len,
			 leaf.aux_hash);
	cl_leaf_ch_hash(p->has_key && p->has_ch, p->ch, leaf.ch_hash);
	cl_buf_reset(&l->leafbuf);
	if ((rc = cl_leaf_encode(&leaf, &l->leafbuf)))
		goto out;
	cl_merkle_leaf_hash(l->leafbuf.data, l->leafbuf.len, leaf_hash);

	if ((rc = cl_ledger_prepare(l, &l->st_ins_entry,
				    "INSERT INTO entry(idx, leaf, type, kind, sent_at, attrs)"
				    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", err)))
		goto out;
	if (p->attrs.len)
		sqlite3_bind_blob(l->st_ins_entry, 6, p->attrs.data,
				  (int)p->attrs.len, SQLITE_STATIC);
	sqlite3_bind_int64(l->st_ins_entry, 1, (sqlite3_int64)leaf.index);
	sqlite3_bind_blob(l->st_ins_entry, 2, l->leafbuf.data, (int)l->leafbuf.len,
			  SQLITE_STATIC);
	sqlite3_bind_int(l->st_ins_entry, 3, leaf.type);
	sqlite3_bind_text(l->st_ins_entry, 4, leaf.kind, -1, SQLITE_STATIC);
	if (leaf.sent_at != CL_TIME_NONE)
		sqlite3_bind_int64(l->st_ins_entry, 5, leaf.sent_at);
	if (sqlite3_step(l->st_ins_entry) != SQLITE_DONE) {
		rc = cl_ledger_db_err(l, err, "appending an entry");
		goto out;
	}
	if (p->attrs.len &&
	    (rc = cl_attrix_add(l, leaf.index, p->attrs.data, p->attrs.len, err)))
		goto out;
	if (p->has_key) {
		uint64_t old, k64 = (uint64_t)prefix64(p->kh);

		if ((rc = cl_ledger_prepare(l, &l->st_ins_dedup,
					    "INSERT INTO dedup(idx, kh, ch) VALUES (?1, ?2, ?3)", err)))
			goto out;
		sqlite3_bind_int64(l->st_ins_dedup, 1, (sqlite3_int64)leaf.index);
		sqlite3_bind_int64(l->st_ins_dedup, 2, prefix64(p->kh));
		if (p->has_ch)
			sqlite3_bind_int64(l->st_ins_dedup, 3, p->ch);
		if (sqlite3_step(l->st_ins_dedup) != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "indexing a message key");
			goto out;
		}
		if (l->keys_loaded &&
		    cl_map64_put(&l->keys, k64,
				 cl_map64_get(&l->keys, k64, &old) ? UINT64_MAX : leaf.index)) {
			rc = CL_ENOMEM;
			goto out;
		}
	}
	if (p->has_payload) {
		if ((rc = cl_ledger_prepare(l, &l->st_ins_payload,
					    "INSERT INTO payload(idx, ct) VALUES (?1, ?2)", err)) ||
		    (rc = cl_ledger_prepare(l, &l->st_ins_key,
					    "INSERT INTO sealed_key(idx, batch, wrapped)"
					    " VALUES (?1, ?2, ?3)", err)))
			goto out;
		sqlite3_bind_int64(l->st_ins_payload, 1, (sqlite3_int64)leaf.index);
		sqlite3_bind_blob(l->st_ins_payload, 2, p->ct.data,
				  (int)p->ct.len, SQLITE_STATIC);
		sqlite3_bind_int64(l->st_ins_key, 1, (sqlite3_int64)leaf.index);
		sqlite3_bind_int64(l->st_ins_key, 2, l->batch_id);
		sqlite3_bind_blob(l->st_ins_key, 3, wrapped, sizeof(wrapped),
				  SQLITE_STATIC);
		if (sqlite3_step(l->st_ins_payload) != SQLITE_DONE ||
		    sqlite3_step(l->st_ins_key) != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "storing a payload");
			goto out;
		}
	}
	if ((rc = cl_merkle_range_append(&l->range, leaf_hash, emit_node, l,
					 CL_NODE_LEVEL))) {
		rc = cl_ledger_db_err(l, err, "storing tree nodes");
		goto out;
	}
	if (cl_map_get(&l->dirty_heads, leaf.conv_tag) == NULL) {
		/* First move of this head in the batch: keep its old value
		 * for a rollback (leaf.prev_* is the head before). */
		struct cl_map_slot *d = cl_map_put(&l->dirty_heads, leaf.conv_tag);

		if (d == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		d->u = leaf.prev_index;
		memcpy(d->v, leaf.prev_hash, 32);
	}
	if ((slot = cl_map_put(&l->heads, leaf.conv_tag)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	slot->u = leaf.index;
	memcpy(slot->v, leaf_hash, 32);
	*index = leaf.index;
	l->size++;
	if (conflicted)
		*dup = CL_APPEND_CONFLICT;
out:
	sodium_memzero(p->key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	sodium_memzero(wrapped, sizeof(wrapped));
	return rc;
}

int cl_ledger_append(struct cl_ledger *l, const struct cl_entry_in *in,
		     uint64_t *index, enum cl_append_outcome *dup, char **err)
{
	int rc;

	*dup = CL_APPEND_NEW;
	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "append outside a batch");
	if ((rc = cl_sealer_prepare(l->sealer, in, l->prep, err)))
		return rc;
	return cl_ledger_append_prepared(l, l->prep, index, dup, err);
}

/* The archive's first frontier row (a step result). */
static int insert_frontier(struct cl_ledger *l, const struct cl_buf *fr)
{
	sqlite3_stmt *st = NULL;
	int s;

	if (sqlite3_prepare_v2(l->db, "INSERT INTO meta(k, v) VALUES ('frontier', ?1)", -1,
			       &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	sqlite3_bind_blob(st, 1, fr->data, (int)fr->len, SQLITE_STATIC);
	s = sqlite3_step(st);
	sqlite3_finalize(st);
	return s;
}

void cl_ledger_on_low_space(struct cl_ledger *l, cl_ledger_space_fn fn, void *ctx)
{
	l->space_fn = fn;
	l->space_ctx = ctx;
	l->space_checked = l->space_warned = 0;
}

/* After a commit: a statvfs a minute at most, a warning an hour at most. */
static void space_check(struct cl_ledger *l)
{
	struct cl_disk_space d;
	int64_t now;

	if (l->space_fn == NULL)
		return;
	now = cl_mono_ms();
	if (l->space_checked && now - l->space_checked < CL_LEDGER_SPACE_CHECK_MS)
		return;
	l->space_checked = now;
	if (cl_disk_space(l->dir, &d) != CL_OK)
		return;
	if (!d.low) {
		l->space_warned = 0;
		return;
	}
	if (l->space_warned && now - l->space_warned < CL_LEDGER_SPACE_WARN_MS)
		return;
	l->space_warned = now;
	l->space_fn(l->space_ctx, d.free, d.total);
}

int cl_ledger_commit(struct cl_ledger *l, char **err)
{
	struct cl_buf body, note, fr;
	sqlite3_stmt *st;           /* a cached statement: reset, never finalized */
	cl_hash root;
	size_t i;
	int rc = CL_OK, have = 0, s;

	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "commit outside a batch");
	cl_buf_init(&body, 4096);
	cl_buf_init(&note, 8192);
	cl_buf_init(&fr, 8 + 64 * 32);
	/* Is there already a checkpoint for this size (nothing appended)? */
	if ((rc = cl_ledger_prepare(l, &l->st_cp_have,
				    "SELECT 1 FROM checkpoint WHERE size = ?1", err)))
		goto out;
	sqlite3_bind_int64(l->st_cp_have, 1, (sqlite3_int64)l->size);
	s = sqlite3_step(l->st_cp_have);
	have = s == SQLITE_ROW;
	sqlite3_reset(l->st_cp_have);
	/* An error here (out of memory, I/O) may have rolled the whole
	 * transaction back: nothing below may then run outside it. */
	if ((s != SQLITE_ROW && s != SQLITE_DONE) || sqlite3_get_autocommit(l->db)) {
		rc = cl_ledger_db_err(l, err, "reading checkpoints");
		goto out;
	}
	/* The chain heads this batch moved. */
	for (i = 0; i < l->dirty_heads.cap; i++) {
		const struct cl_map_slot *d = &l->dirty_heads.slots[i];
		const struct cl_map_slot *h;

		if (!d->used || (h = cl_map_get(&l->heads, d->key)) == NULL)
			continue;
		if ((rc = cl_ledger_prepare(l, &l->st_up_head,
					    "INSERT INTO chain_head(tag, idx, hash) VALUES (?1, ?2, ?3)"
					    " ON CONFLICT(tag) DO UPDATE SET idx = excluded.idx,"
					    " hash = excluded.hash", err)))
			goto out;
		sqlite3_bind_blob(l->st_up_head, 1, h->key, 32, SQLITE_STATIC);
		sqlite3_bind_int64(l->st_up_head, 2, (sqlite3_int64)h->u);
		sqlite3_bind_blob(l->st_up_head, 3, h->v, 32, SQLITE_STATIC);
		if (sqlite3_step(l->st_up_head) != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "storing chain heads");
			goto out;
		}
		sqlite3_reset(l->st_up_head);
	}
	if (!have) {
		cl_merkle_range_root(&l->range, root);
		if ((rc = cl_checkpoint_format(l->origin, l->size, root, &body)) ||
		    (rc = cl_buf_add(&body, CL_SEAL_EXT, strlen(CL_SEAL_EXT))) ||
		    (rc = cl_b64_add(&body, l->seal_named, 32)) ||
		    (rc = cl_buf_add(&body, "\n", 1)) ||
		    (rc = cl_note_sign((const char *)body.data, body.len, l->key_name,
				       l->log_sk, &note, err)))
			goto out;
		if ((rc = cl_ledger_prepare(l, &l->st_cp_ins, "INSERT INTO checkpoint(size, note,"
					    " created_at) VALUES (?1, ?2, ?3)", err)))
			goto out;
		st = l->st_cp_ins;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)l->size);
		sqlite3_bind_text(st, 2, (const char *)note.data, (int)note.len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, cl_time_now_ms());
		s = sqlite3_step(st);
		sqlite3_reset(st);
		if (s != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "storing a checkpoint");
			goto out;
		}
		if ((rc = cl_buf_add_be64(&fr, l->range.size)))
			goto out;
		for (i = 0; i < l->range.count; i++)
			if ((rc = cl_buf_add(&fr, l->range.hashes[i], 32)))
				goto out;
		/* An UPDATE rewrites the row in place; INSERT OR REPLACE
		 * would also rewrite its meta key index page in every
		 * commit.  The row is there after the first commit. */
		if ((rc = cl_ledger_prepare(l, &l->st_frontier, "UPDATE meta SET v = ?1"
					    " WHERE k = 'frontier'", err)))
			goto out;
		st = l->st_frontier;
		sqlite3_bind_blob(st, 1, fr.data, (int)fr.len, SQLITE_STATIC);
		s = sqlite3_step(st);
		sqlite3_reset(st);
		if (s == SQLITE_DONE && sqlite3_changes(l->db) == 0)
			s = insert_frontier(l, &fr);
		if (s != SQLITE_DONE) {
			rc = cl_ledger_db_err(l, err, "storing the frontier");
			goto out;
		}
	}
	if ((rc = cl_attrix_commit(l, err)))
		goto out;
	/* This batch may hold version-2 payloads: the archive is format 3
	 * from this commit on (FORMAT.md §10). */
	if (l->format < CL_ARCHIVE_FORMAT &&
	    (rc = exec(l, "UPDATE meta SET v = " CL_STR(CL_ARCHIVE_FORMAT)
		       " WHERE k = 'format' AND v < " CL_STR(CL_ARCHIVE_FORMAT), err)))
		goto out;
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_ledger_db_err(l, err, "committing");
		goto out;
	}
	l->in_batch = 0;
	l->committed_size = l->size;
	l->format = CL_ARCHIVE_FORMAT;
	cl_map_release(&l->dirty_heads);
	l->batch_fresh = 0;
	l->batch_used = cl_mono_ms();
	if (!l->batch_span || l->batch_used - l->batch_started >= CL_KEY_BATCH_MS)
		end_key_batch(l);
	lock_release(l);
out:
	cl_buf_release(&body);
	cl_buf_release(&note);
	cl_buf_release(&fr);
	if (rc && l->in_batch)
		cl_ledger_rollback(l);
	space_check(l);
	return rc;
}

