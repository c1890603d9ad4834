/*
 * test_walbuf.c - the writers' VFS (archiver/ledger/walbuf.h): a
 * transaction's WAL frames reach the file in a few large writes, and
 * nothing another connection or a restarted process reads is ever missing
 * or changed: commits are visible at once to a reader on the default VFS,
 * a transaction larger than the buffer, pages spilled and re-read within a
 * transaction, a restarted WAL, and a process that dies without closing.
 *
 * The write calls are counted through the unix VFS's system-call hook
 * (xSetSystemCall), under both this VFS and the default one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "archiver/ledger/walbuf.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

static sqlite3_syscall_ptr real_pwrite, real_pwrite64;
static long writes;

static ssize_t count_pwrite(int fd, const void *p, size_t n, off_t off)
{
	writes++;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite)(fd, p, n, off);
}

static ssize_t count_pwrite64(int fd, const void *p, size_t n, off_t off)
{
	writes++;
	return ((ssize_t(*)(int, const void *, size_t, off_t))real_pwrite64)(fd, p, n, off);
}

static char *dir;   /* scratch directory (fx_scratch) */

static char *db_path(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static sqlite3 *open_db(const char *name, const char *vfs)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(db_path(name), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) !=
	    SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, b BLOB);",
			 NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr, "open %s: %s\n", name, db ? sqlite3_errmsg(db) : "?");
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_exec(db, "PRAGMA wal_autocheckpoint=0;", NULL, NULL, NULL);
	return db;
}

/* Insert rows [from, from+n) of `size` bytes each (byte i of row r is
 * (r * 31 + i) & 0xff) in one transaction. */
static int insert(sqlite3 *db, int from, int n, int size, int commit)
{
	sqlite3_stmt *st = NULL;
	unsigned char *b = malloc((size_t)size);
	int r, i, ok = b != NULL;

	ok = ok && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
	     sqlite3_prepare_v2(db, "INSERT INTO t(id, b) VALUES (?1, ?2)", -1, &st, NULL) ==
	     SQLITE_OK;
	for (r = from; ok && r < from + n; r++) {
		for (i = 0; i < size; i++)
			b[i] = (unsigned char)((r * 31 + i) & 0xff);
		sqlite3_bind_int(st, 1, r);
		sqlite3_bind_blob(st, 2, b, size, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_DONE;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	free(b);
	if (ok && commit)
		ok = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	return ok;
}

/* Rows in t, and whether each row's bytes are what insert() wrote. */
static int check(sqlite3 *db, int *rows)
{
	sqlite3_stmt *st = NULL;
	int good = 1, rc;

	*rows = 0;
	if (sqlite3_prepare_v2(db, "SELECT id, b FROM t ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = sqlite3_column_int(st, 0), n = sqlite3_column_bytes(st, 1), i;
		const unsigned char *b = sqlite3_column_blob(st, 1);

		for (i = 0; i < n && good; i++)
			good = b[i] == (unsigned char)((r * 31 + i) & 0xff);
		(*rows)++;
	}
	sqlite3_finalize(st);
	return good && rc == SQLITE_DONE;
}

static int integrity_ok(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int ok;

	ok = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	     sqlite3_step(st) == SQLITE_ROW &&
	     strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0;
	sqlite3_finalize(st);
	return ok;
}

static int rows_of(const char *name)
{
	sqlite3 *db = NULL;
	int rows = -1;

	if (sqlite3_open_v2(db_path(name), &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    integrity_ok(db) && !check(db, &rows))
		rows = -2;
	sqlite3_close(db);
	return rows;
}

int main(void)
{
	sqlite3_vfs *unix_vfs;
	sqlite3 *w, *r;
	long plain, gathered;
	int rows, i, ok, status = 0;
	pid_t pid;

	if ((dir = fx_scratch("test_walbuf")) == NULL) {
		perror("scratch directory");
		return 2;
	}
	unix_vfs = sqlite3_vfs_find(NULL);
	real_pwrite = unix_vfs->xGetSystemCall(unix_vfs, "pwrite");
	real_pwrite64 = unix_vfs->xGetSystemCall(unix_vfs, "pwrite64");
	if (real_pwrite)
		unix_vfs->xSetSystemCall(unix_vfs, "pwrite", (sqlite3_syscall_ptr)count_pwrite);
	if (real_pwrite64)
		unix_vfs->xSetSystemCall(unix_vfs, "pwrite64", (sqlite3_syscall_ptr)count_pwrite64);
	TAP_OK(real_pwrite || real_pwrite64, "the unix VFS's pwrite can be counted");
	TAP_EQ_INT(cl_walbuf_register(), SQLITE_OK, "the VFS registers");
	TAP_EQ_INT(cl_walbuf_register(), SQLITE_OK, "a second registration is harmless");
	TAP_OK(sqlite3_vfs_find(NULL) == unix_vfs, "it does not become the default VFS");

	/* The same transaction (400 rows of 900 bytes, ~100 pages) under
	 * each VFS: SQLite writes a header and a page per frame; gathered,
	 * the frames take a few writes. */
	w = open_db("plain.db", NULL);
	writes = 0;
	ok = w && insert(w, 0, 400, 900, 1);
	plain = writes;
	sqlite3_close(w);
	w = open_db("gathered.db", CL_WALBUF_VFS);
	writes = 0;
	ok = ok && w && insert(w, 0, 400, 900, 1);
	gathered = writes;
	TAP_OK(ok, "a transaction commits under both VFSes");
	TAP_OK(plain >= 150, "the default VFS writes each frame: %ld writes", plain);
	TAP_OK(gathered * 10 <= plain, "gathered: %ld writes against %ld", gathered, plain);

	/* A reader on the default VFS sees every commit at once. */
	r = NULL;
	ok = sqlite3_open_v2(db_path("gathered.db"), &r, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK;
	for (i = 0; ok && i < 50; i++) {
		ok = insert(w, 400 + i, 1, 3000, 1) && check(r, &rows) && rows == 401 + i;
		if (!ok)
			fprintf(stderr, "commit %d: the reader sees %d rows\n", i, rows);
	}
	TAP_OK(ok, "a reader on the default VFS sees each of 50 commits as it returns");
	sqlite3_close(r);

	/* Larger than the buffer: 2,000 rows of 1,500 bytes (~3 MB). */
	ok = insert(w, 1000, 2000, 1500, 1) && check(w, &rows) && rows == 450 + 2000;
	TAP_OK(ok, "a transaction many times the buffer commits and reads back (%d rows)", rows);

	/* Pages spilled from a tiny cache and read again in the same
	 * transaction come from the WAL, through the buffer. */
	sqlite3_exec(w, "PRAGMA cache_size=8;", NULL, NULL, NULL);
	ok = insert(w, 5000, 600, 700, 0) && check(w, &rows) && rows == 2450 + 600 &&
	     sqlite3_exec(w, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
	TAP_OK(ok, "pages spilled in a transaction are read back exactly before the commit");

	/* The WAL starts over after a full checkpoint. */
	ok = sqlite3_exec(w, "PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL) == SQLITE_OK &&
	     insert(w, 9000, 300, 1200, 1) && insert(w, 9300, 300, 1200, 1);
	sqlite3_close(w);
	TAP_OK(ok, "a full checkpoint, then two more transactions");
	TAP_EQ_INT(rows_of("gathered.db"), 3650, "after a restarted WAL, every row is intact");

	/* A process that commits, starts another transaction and dies
	 * without closing anything: the commits are there, nothing else. */
	pid = fork();
	if (pid == 0) {
		sqlite3 *c = open_db("crash.db", CL_WALBUF_VFS);

		if (c == NULL || !insert(c, 0, 700, 800, 1) || !insert(c, 700, 5, 800, 1) ||
		    !insert(c, 705, 900, 800, 0))
			_exit(3);
		_exit(0);
	}
	ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     WEXITSTATUS(status) == 0;
	TAP_OK(ok, "the writer process committed twice and died mid-transaction");
	TAP_EQ_INT(rows_of("crash.db"), 705, "the committed rows are all there, intact, and no more");

	TAP_EQ_INT(fx_rm_tree(dir), 0, "scratch directory removed");
	free(dir);
	return tap_done();
}
