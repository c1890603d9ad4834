/*
 * walbuf.c - the writers' SQLite VFS: a transaction's WAL frames go to the
 * kernel in one write (walbuf.h).
 *
 * A wrapper file (struct wb_file) sits in front of the default VFS's
 * file, which lives in the same allocation right after it.  Every method
 * forwards to the real file; a WAL file's writes are gathered first.
 */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ledger/walbuf.h"
#include "common/banned.h"

struct wb_file {
	sqlite3_file base;         /* must be first: SQLite's view */
	sqlite3_file *real;        /* the default VFS's file, after this struct */
	struct wb_file *wal;       /* database file: its open WAL, or NULL */
	struct wb_file *db;        /* WAL file: its database file, or NULL */
	unsigned char *buf;        /* WAL file: gathered writes (lazy) */
	size_t len;
	sqlite3_int64 off;         /* file offset of buf[0] */
	int is_wal;
};

/* The real file starts at the next multiple of the largest alignment. */
#define WB_HEAD ((sizeof(struct wb_file) + alignof(max_align_t) - 1) / \
		 alignof(max_align_t) * alignof(max_align_t))

_Static_assert(CL_WALBUF_BYTES < 0x1ffff, "one write of the unix VFS");

static sqlite3_vfs *real_vfs;
static sqlite3_vfs wb_vfs;
static const sqlite3_io_methods wb_methods;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered = SQLITE_ERROR;

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((struct wb_file *)f)->real;
}

/* Write what is gathered, in one call, then wipe and empty the buffer
 * whatever the outcome: a failed write fails the call that flushed, and
 * SQLite abandons the transaction, so the frames must not come back. */
static int flush(struct wb_file *w)
{
	int rc;

	if (w == NULL || w->len == 0)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->buf, (int)w->len, w->off);
	sodium_memzero(w->buf, w->len);
	w->len = 0;
	return rc;
}

static int wb_close(sqlite3_file *f)
{
	struct wb_file *w = (struct wb_file *)f;
	int rc = flush(w), rc2;

	if (w->is_wal && w->db)
		w->db->wal = NULL;
	if (!w->is_wal && w->wal)
		w->wal->db = NULL;
	free(w->buf);
	w->buf = NULL;
	rc2 = w->real->pMethods ? w->real->pMethods->xClose(w->real) : SQLITE_OK;
	return rc != SQLITE_OK ? rc : rc2;
}

static int wb_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 ofst)
{
	int rc = flush((struct wb_file *)f);

	return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xRead(real_of(f), p, amt, ofst);
}

static int wb_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 ofst)
{
	struct wb_file *w = (struct wb_file *)f;
	int rc;

	if (!w->is_wal || amt <= 0 || (size_t)amt > CL_WALBUF_BYTES)
		goto through;
	if (w->len > 0 && ofst == w->off + (sqlite3_int64)w->len &&
	    w->len + (size_t)amt <= CL_WALBUF_BYTES) {
		memcpy(w->buf + w->len, p, (size_t)amt);
		w->len += (size_t)amt;
		return SQLITE_OK;
	}
	if ((rc = flush(w)) != SQLITE_OK)
		return rc;
	if (w->buf == NULL && (w->buf = malloc(CL_WALBUF_BYTES)) == NULL)
		goto through;
	memcpy(w->buf, p, (size_t)amt);
	w->len = (size_t)amt;
	w->off = ofst;
	return SQLITE_OK;
through:
	if ((rc = flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xWrite(w->real, p, amt, ofst);
}

static int wb_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = flush((struct wb_file *)f);

	return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int wb_sync(sqlite3_file *f, int flags)
{
	int rc = flush((struct wb_file *)f);

	return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int wb_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = flush((struct wb_file *)f);

	return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int wb_lock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xLock(real_of(f), level);
}

static int wb_unlock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

static int wb_check_reserved(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int wb_file_control(sqlite3_file *f, int op, void *arg)
{
	struct wb_file *w = (struct wb_file *)f;
	int rc = flush(w->is_wal ? w : w->wal);

	if (rc != SQLITE_OK)
		return rc;
	rc = w->real->pMethods->xFileControl(w->real, op, arg);
	if (rc == SQLITE_OK && op == SQLITE_FCNTL_VFSNAME && arg != NULL) {
		char **name = arg;
		char *n = sqlite3_mprintf("%s/%z", wb_vfs.zName, *name);

		if (n == NULL)
			return SQLITE_NOMEM;
		*name = n;
	}
	return rc;
}

static int wb_sector_size(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int wb_device_characteristics(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int wb_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}

/* A lock on the index moves, or the index is about to change: every
 * frame the index will name must be in the WAL file first. */
static int wb_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	int rc = flush(((struct wb_file *)f)->wal);

	return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

static void wb_shm_barrier(sqlite3_file *f)
{
	/* xShmBarrier cannot fail; a failed write here is seen again by the
	 * sync that follows every commit of the ledger (synchronous=FULL),
	 * because the frames never reached the file. */
	(void)flush(((struct wb_file *)f)->wal);
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int wb_shm_unmap(sqlite3_file *f, int del)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), del);
}

static int wb_fetch(sqlite3_file *f, sqlite3_int64 ofst, int amt, void **pp)
{
	int rc = flush((struct wb_file *)f);

	return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xFetch(real_of(f), ofst, amt, pp);
}

static int wb_unfetch(sqlite3_file *f, sqlite3_int64 ofst, void *p)
{
	return real_of(f)->pMethods->xUnfetch(real_of(f), ofst, p);
}

static const sqlite3_io_methods wb_methods = {
	3,
	wb_close,
	wb_read,
	wb_write,
	wb_truncate,
	wb_sync,
	wb_file_size,
	wb_lock,
	wb_unlock,
	wb_check_reserved,
	wb_file_control,
	wb_sector_size,
	wb_device_characteristics,
	wb_shm_map,
	wb_shm_lock,
	wb_shm_barrier,
	wb_shm_unmap,
	wb_fetch,
	wb_unfetch,
};

static int wb_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags,
		   int *out_flags)
{
	struct wb_file *w = (struct wb_file *)f;
	int rc;

	(void)vfs;
	memset(w, 0, sizeof(*w));
	w->real = (sqlite3_file *)((unsigned char *)f + WB_HEAD);
	rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out_flags);
	/* Close through us whenever the real file wants closing. */
	w->base.pMethods = w->real->pMethods ? &wb_methods : NULL;
	if (rc != SQLITE_OK || w->real->pMethods == NULL)
		return rc;
	if ((flags & SQLITE_OPEN_WAL) && name != NULL) {
		sqlite3_file *dbf = sqlite3_database_file_object(name);

		w->is_wal = 1;
		if (dbf != NULL && dbf->pMethods == &wb_methods) {
			w->db = (struct wb_file *)dbf;
			w->db->wal = w;
		}
	}
	return SQLITE_OK;
}

static int wb_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int wb_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int wb_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *wb_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return real_vfs->xDlOpen(real_vfs, name);
}

static void wb_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	real_vfs->xDlError(real_vfs, n, msg);
}

static void (*wb_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return real_vfs->xDlSym(real_vfs, h, sym);
}

static void wb_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	real_vfs->xDlClose(real_vfs, h);
}

static int wb_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int wb_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}

static int wb_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, t);
}

static int wb_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, msg);
}

static int wb_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

static void do_register(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL || real_vfs->iVersion < 2 || real_vfs->xCurrentTimeInt64 == NULL)
		return;
	memset(&wb_vfs, 0, sizeof(wb_vfs));
	wb_vfs.iVersion = 2;
	wb_vfs.szOsFile = (int)WB_HEAD + real_vfs->szOsFile;
	wb_vfs.mxPathname = real_vfs->mxPathname;
	wb_vfs.zName = CL_WALBUF_VFS;
	wb_vfs.xOpen = wb_open;
	wb_vfs.xDelete = wb_delete;
	wb_vfs.xAccess = wb_access;
	wb_vfs.xFullPathname = wb_full_pathname;
	wb_vfs.xDlOpen = wb_dlopen;
	wb_vfs.xDlError = wb_dlerror;
	wb_vfs.xDlSym = wb_dlsym;
	wb_vfs.xDlClose = wb_dlclose;
	wb_vfs.xRandomness = wb_randomness;
	wb_vfs.xSleep = wb_sleep;
	wb_vfs.xCurrentTime = wb_current_time;
	wb_vfs.xGetLastError = wb_last_error;
	wb_vfs.xCurrentTimeInt64 = wb_current_time64;
	registered = sqlite3_vfs_register(&wb_vfs, 0);
}

int cl_walbuf_register(void)
{
	pthread_once(&once, do_register);
	return registered;
}
