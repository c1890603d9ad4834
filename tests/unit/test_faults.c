/*
 * test_faults.c - fault injection into the ledger's writes, the way
 * SQLite tests itself (test/malloc*.test, the "crash" and "devsym" VFS):
 * for N = 1, 2, ... the Nth write, fsync, truncate or SQLite allocation
 * of a batch fails, and the archive must still verify afterwards, hold
 * either the old or the new entries, hold the new ones whenever the
 * commit said CL_OK, and accept the same batch again on the same handle.
 *
 * How the faults get in without touching the library:
 *  - I/O: a VFS shim that wraps the default VFS and is registered as the
 *    new default (sqlite3_vfs_register(shim, 1)) before the ledger opens
 *    anything; the ledger opens ledger.db with the default VFS, so every
 *    main-database, WAL and journal file goes through it.  The Nth xWrite
 *    fails with SQLITE_IOERR_WRITE, or writes half and fails with
 *    SQLITE_FULL (a short write on a full disk); the Nth xSync with
 *    SQLITE_IOERR_FSYNC; the Nth xTruncate with SQLITE_IOERR_TRUNCATE.
 *  - Memory: SQLite's allocator is replaced (SQLITE_CONFIG_MALLOC, before
 *    sqlite3_initialize) by a wrapper whose Nth xMalloc/xRealloc returns
 *    NULL; and the library's own malloc, calloc and realloc calls (this
 *    binary is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 *    see the Makefile) go through wrappers whose Nth call returns NULL.
 *    Allocations inside shared libraries (jansson, libsodium, libc's
 *    strdup and asprintf) are not intercepted.
 * An I/O fault is first transient (the Nth call fails, later ones
 * succeed, as after a full disk that was cleaned up), then persistent
 * (every call from the Nth on fails until the run's faulted part ends, as
 * on a disk that stays full or a device that went away).  The loop stops
 * at the first N whose run saw no injected fault, or fails at the cap.
 *
 * Two scenarios: ingest (append records with payloads and keys, commit)
 * and erasure (erase an entry, commit, then truncate the WAL as retain
 * does).  The fault window covers cl_ledger_open .. cl_ledger_close.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/verify.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define ORIGIN "test.example/faults"
#define T0 INT64_C(1717200000000)
#define BASE_RECORDS 6   /* entries in the prepared archive */
#define BATCH 3          /* records per ingest batch */
#define ERASE_INDEX 2    /* the entry the erasure scenario erases */
#define FAULT_CAP 400    /* I/O kinds: give up (fail) past this N */
#define MALLOC_CAP 4000  /* SQLite allocations per run are many more */

/* ---- the fault switch ------------------------------------------------ */

enum fault_kind {
	F_NONE = 0,
	F_WRITE,   /* xWrite -> SQLITE_IOERR_WRITE */
	F_FULL,    /* xWrite writes half, -> SQLITE_FULL */
	F_SYNC,    /* xSync -> SQLITE_IOERR_FSYNC */
	F_TRUNC,   /* xTruncate -> SQLITE_IOERR_TRUNCATE */
	F_MALLOC,  /* sqlite3_malloc/realloc -> NULL */
	F_LIBMALLOC /* the library's malloc/calloc/realloc -> NULL */
};

static const char *const kind_names[] = {
	"none", "write", "short-write", "fsync", "truncate", "sqlite-malloc",
	"library-malloc"
};

static struct {
	enum fault_kind kind; /* armed kind, F_NONE when off */
	long target;          /* fail call number `target` (1-based) */
	long calls;           /* calls of the armed kind so far */
	long fired;           /* faults injected */
	int persist;          /* fail every call from `target` on */
} fault;

static int persist_mode; /* the sweep under way is persistent */

static void fault_arm(enum fault_kind k, long n)
{
	fault.persist = persist_mode;
	fault.kind = k;
	fault.target = n;
	fault.calls = 0;
	fault.fired = 0;
}

static void fault_off(void)
{
	fault.kind = F_NONE;
}

/* Count a call of kind k; 1 if this one must fail. */
static int fault_hit(enum fault_kind k)
{
	if (fault.kind != k)
		return 0;
	++fault.calls;
	if (fault.persist ? fault.calls < fault.target : fault.calls != fault.target)
		return 0;
	fault.fired++;
	return 1;
}

/* The write kinds share one counter: F_WRITE and F_FULL both count
 * xWrite calls. */
static int fault_hit_write(int *shortw)
{
	*shortw = fault.kind == F_FULL;
	return fault_hit(fault.kind == F_FULL ? F_FULL : F_WRITE);
}

/* ---- the VFS shim ---------------------------------------------------- */

struct shim_file {
	sqlite3_file base;   /* pMethods = &shim_io, or NULL */
	sqlite3_file *real;  /* the wrapped file, just after this struct */
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;

#define REAL(f) (((struct shim_file *)(void *)(f))->real)

static int shim_close(sqlite3_file *f)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xClose(r);
}

static int shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xRead(r, buf, n, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	sqlite3_file *r = REAL(f);
	int shortw = 0;

	if (fault_hit_write(&shortw)) {
		if (!shortw)
			return SQLITE_IOERR_WRITE;
		/* Half of it reaches the file, as when the disk fills up. */
		if (n / 2 > 0)
			(void)r->pMethods->xWrite(r, buf, n / 2, off);
		return SQLITE_FULL;
	}
	return r->pMethods->xWrite(r, buf, n, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	sqlite3_file *r = REAL(f);

	if (fault_hit(F_TRUNC))
		return SQLITE_IOERR_TRUNCATE;
	return r->pMethods->xTruncate(r, size);
}

static int shim_sync(sqlite3_file *f, int flags)
{
	sqlite3_file *r = REAL(f);

	/* What is tested is the process's view (every error returned to
	 * SQLite), not power loss: the real fsync is skipped, which keeps
	 * the hundreds of runs fast. */
	(void)r;
	(void)flags;
	if (fault_hit(F_SYNC))
		return SQLITE_IOERR_FSYNC;
	return SQLITE_OK;
}

static int shim_size(sqlite3_file *f, sqlite3_int64 *size)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xFileSize(r, size);
}

static int shim_lock(sqlite3_file *f, int lk)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xLock(r, lk);
}

static int shim_unlock(sqlite3_file *f, int lk)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xUnlock(r, lk);
}

static int shim_reserved(sqlite3_file *f, int *out)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xCheckReservedLock(r, out);
}

static int shim_fcntl(sqlite3_file *f, int op, void *arg)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xFileControl(r, op, arg);
}

static int shim_sector(sqlite3_file *f)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xSectorSize(r);
}

static int shim_devchar(sqlite3_file *f)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xDeviceCharacteristics(r);
}

static int shim_shm_map(sqlite3_file *f, int pg, int pgsz, int extend,
			void volatile **pp)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xShmMap(r, pg, pgsz, extend, pp);
}

static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xShmLock(r, off, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f)
{
	sqlite3_file *r = REAL(f);

	r->pMethods->xShmBarrier(r);
}

static int shim_shm_unmap(sqlite3_file *f, int del)
{
	sqlite3_file *r = REAL(f);

	return r->pMethods->xShmUnmap(r, del);
}

/* Memory-mapped reads are off: every page goes through xRead, and
 * SQLite never writes through a mapping. */
static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	(void)f;
	(void)off;
	(void)n;
	*pp = NULL;
	return SQLITE_OK;
}

static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	(void)f;
	(void)off;
	(void)p;
	return SQLITE_OK;
}

static const sqlite3_io_methods shim_io = {
	3,
	shim_close, shim_read, shim_write, shim_truncate, shim_sync,
	shim_size, shim_lock, shim_unlock, shim_reserved, shim_fcntl,
	shim_sector, shim_devchar,
	shim_shm_map, shim_shm_lock, shim_shm_barrier, shim_shm_unmap,
	shim_fetch, shim_unfetch
};

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		     int flags, int *out_flags)
{
	struct shim_file *s = (struct shim_file *)(void *)f;
	int rc;

	(void)vfs;
	s->real = (sqlite3_file *)(void *)(s + 1);
	s->base.pMethods = NULL;
	rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out_flags);
	/* SQLite calls xClose when pMethods is set, even after a failed
	 * open: mirror the real file's state. */
	if (s->real->pMethods != NULL)
		s->base.pMethods = &shim_io;
	return rc;
}

/* Wrap the default VFS and make the wrapper the default. */
static int shim_install(void)
{
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL)
		return -1;
	shim_vfs = *real_vfs;
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.zName = "chatledger-faults";
	shim_vfs.pNext = NULL;
	shim_vfs.xOpen = shim_open;
	return sqlite3_vfs_register(&shim_vfs, 1) == SQLITE_OK ? 0 : -1;
}

/* ---- SQLite's allocator, wrapped ------------------------------------- */

static sqlite3_mem_methods real_mem;

static void *mem_malloc(int n)
{
	if (fault_hit(F_MALLOC))
		return NULL;
	return real_mem.xMalloc(n);
}

static void *mem_realloc(void *p, int n)
{
	if (fault_hit(F_MALLOC))
		return NULL;
	return real_mem.xRealloc(p, n);
}

static void mem_free(void *p)
{
	real_mem.xFree(p);
}

static int mem_size(void *p)
{
	return real_mem.xSize(p);
}

static int mem_roundup(int n)
{
	return real_mem.xRoundup(n);
}

static int mem_init(void *app)
{
	(void)app;
	return real_mem.xInit(real_mem.pAppData);
}

static void mem_shutdown(void *app)
{
	(void)app;
	real_mem.xShutdown(real_mem.pAppData);
}

/* ---- the library's allocator, wrapped (-Wl,--wrap=...) ---------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
	return fault_hit(F_LIBMALLOC) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return fault_hit(F_LIBMALLOC) ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fault_hit(F_LIBMALLOC) ? NULL : __real_realloc(p, n);
}

/* Must run before anything initializes SQLite. */
static int mem_install(void)
{
	static sqlite3_mem_methods m;

	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) != SQLITE_OK)
		return -1;
	m.xMalloc = mem_malloc;
	m.xFree = mem_free;
	m.xRealloc = mem_realloc;
	m.xSize = mem_size;
	m.xRoundup = mem_roundup;
	m.xInit = mem_init;
	m.xShutdown = mem_shutdown;
	m.pAppData = NULL;
	return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -1;
}

/* SQLite's error log, shown when debugging one run (it names the
 * statement a fault aborted). */
static void sqlite_log(void *ctx, int code, const char *msg)
{
	(void)ctx;
	printf("# sqlite %d: %s\n", code, msg);
}

/* ---- scenarios ------------------------------------------------------- */

enum scenario { S_INGEST = 0, S_ERASE = 1 };

static const char *const scenario_names[] = { "ingest", "erase" };

static char *base_dir, *work_dir;
static long known_total; /* runs that hit the half-commit bug (fixed) */
static int verbose; /* TEST_FAULTS_ONE: print each error */

/* Append record i of the ingest batch (keys unique across runs of the
 * same archive copy, equal between a batch and its retry). */
static int put_record(struct cl_ledger *l, int i)
{
	char key[64], pt[160];
	uint64_t idx = 0;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc;

	snprintf(key, sizeof(key), "faults-key-%d", i);
	snprintf(pt, sizeof(pt),
		 "{\"text\":\"fault injection record %d, long enough to take a"
		 " page or two once sealed and compressed\"}", i);
	rc = fx_record(l, key, i % 2 ? "conv-odd" : "conv-even", pt, pt,
		       T0 + i, &idx, &dup);
	if (rc == CL_OK && dup != CL_APPEND_NEW)
		return -1; /* a retried batch whose first try failed is new */
	return rc;
}

/* One batch of the scenario on an open ledger; CL_OK or the first error.
 * *dup_seen is set when an ingest append was wrongly a duplicate,
 * *lost_txn when the batch's transaction had vanished by COMMIT (see
 * the regression check at the end). */
static int run_batch(struct cl_ledger *l, enum scenario sc, int *dup_seen,
		     int *lost_txn)
{
	char *err = NULL;
	int rc, i, already = 0;

	if ((rc = cl_ledger_begin(l, &err)))
		goto out;
	if (sc == S_INGEST) {
		for (i = 0; i < BATCH; i++) {
			int r = put_record(l, BASE_RECORDS + i);

			if (r < 0) {
				*dup_seen = 1;
				r = CL_ECORRUPT;
			}
			if ((rc = r))
				goto out;
		}
	} else if ((rc = cl_ledger_erase(l, ERASE_INDEX, "test-rule",
					 "retention", &already, &err))) {
		goto out;
	}
	rc = cl_ledger_commit(l, &err);
	if (rc == CL_OK && sc == S_ERASE)
		rc = cl_ledger_scrub(l, &err);
out:
	if (rc)
		cl_ledger_rollback(l);
	if (rc && err != NULL && strstr(err, "no transaction is active") != NULL)
		*lost_txn = 1;
	if (verbose && rc)
		printf("# batch: %s (%d)\n", err ? err : "?", rc);
	free(err);
	return rc;
}

/* Entries after the scenario's batch commits. */
static uint64_t new_size(enum scenario sc)
{
	return sc == S_INGEST ? BASE_RECORDS + BATCH : BASE_RECORDS + 1;
}

struct run_result {
	int fired;        /* a fault was injected */
	int problem;      /* an invariant failed (message printed) */
	int lost_txn;     /* the half-commit bug's signature was seen */
};

#define PROBLEM(res, ...)                                                     \
	do {                                                                  \
		printf("# %s/%s N=%ld: ", kind_names[k], scenario_names[sc], n); \
		printf(__VA_ARGS__);                                          \
		printf("\n");                                                 \
		(res)->problem = 1;                                           \
	} while (0)

/* Verify the copy with injection off; *entries gets its size. */
static int verify_copy(uint64_t *entries, uint64_t *erased, char **problem)
{
	struct cl_verify_opts vo;
	struct cl_verify_report r;
	char *err = NULL;
	int rc;

	memset(&vo, 0, sizeof(vo));
	memset(&r, 0, sizeof(r));
	rc = cl_verify(work_dir, &vo, &r, &err);
	*entries = r.entries;
	*erased = r.erased;
	*problem = NULL;
	if (rc != CL_OK) {
		const char *why = r.problem ? r.problem : err ? err : cl_strerror(rc);

		*problem = strdup(why);
	}
	cl_verify_report_release(&r);
	free(err);
	return rc;
}

/*
 * One run: a fresh copy of the base archive; with fault (k, n) armed,
 * open, run the scenario's batch, and if the handle survived, retry the
 * batch on it with injection off; close.  Then verify.
 */
static void run_once(enum fault_kind k, enum scenario sc, long n,
		     struct run_result *res)
{
	struct cl_ledger *l = NULL;
	char *err = NULL, *why = NULL;
	uint64_t entries = 0, erased = 0, want_new = new_size(sc);
	int rc_open, rc1 = -1, rc2 = -1, dup_seen = 0, lost = 0;

	memset(res, 0, sizeof(*res));
	if (fx_copy_dir(base_dir, work_dir) != 0) {
		PROBLEM(res, "cannot copy the base archive");
		return;
	}
	/* SQLite allocates thousands of times while opening (schema,
	 * statements): allocation faults start at the batch, to keep the
	 * run short; I/O faults start at open. */
	if (k != F_MALLOC)
		fault_arm(k, n);
	rc_open = cl_ledger_open(work_dir, CL_OPEN_WRITE, &l, &err);
	free(err);
	err = NULL;
	if (k == F_MALLOC)
		fault_arm(k, n);
	if (rc_open == CL_OK)
		rc1 = run_batch(l, sc, &dup_seen, &lost);
	if (rc1 != CL_OK) {
		/* The retry runs without faults. */
		fault_off();
		if (fault.fired == 0)
			PROBLEM(res, "no fault injected, yet the batch failed (%d)", rc1);
	}
	if (dup_seen)
		PROBLEM(res, "an append in the faulted batch was called a duplicate");
	/* The same batch again on the same handle (state after a failure
	 * must be clean): it must commit, and its records must be new. */
	if (rc_open == CL_OK && rc1 != CL_OK && getenv("TEST_FAULTS_NO_RETRY") == NULL) {
		rc2 = run_batch(l, sc, &dup_seen, &lost);
		if (rc2 != CL_OK)
			PROBLEM(res, "retrying the batch on the same handle failed (%d)%s",
				rc2, dup_seen ? ": its records were called duplicates" : "");
	}
	/* After a good batch the fault window includes close (the last
	 * connection checkpoints the WAL into ledger.db there). */
	cl_ledger_close(l);
	l = NULL;
	fault_off();
	res->fired = fault.fired > 0;
	res->lost_txn = lost;

	if (verify_copy(&entries, &erased, &why) != CL_OK) {
		PROBLEM(res, "the archive does not verify: %s", why ? why : "?");
		free(why);
		return;
	}
	if (rc1 == CL_OK || rc2 == CL_OK) {
		/* An acknowledged commit is durable. */
		if (entries != want_new)
			PROBLEM(res, "commit said OK but the archive has %" PRIu64
				" entries, want %" PRIu64, entries, want_new);
	} else if (entries != BASE_RECORDS && entries != want_new) {
		PROBLEM(res, "the archive has %" PRIu64 " entries, want %d or %" PRIu64,
			entries, BASE_RECORDS, want_new);
	}
	if (sc == S_ERASE && entries == want_new && erased != 1)
		PROBLEM(res, "tombstone without erasure (%" PRIu64 " erased)", erased);
	if (sc == S_ERASE && entries == BASE_RECORDS && erased != 0)
		PROBLEM(res, "erased without a tombstone");
	/* Not acknowledged, not retried (open failed): the archive must
	 * still take the batch. */
	if (rc_open != CL_OK && rc1 != CL_OK && !res->problem) {
		if (cl_ledger_open(work_dir, CL_OPEN_WRITE, &l, &err) != CL_OK ||
		    run_batch(l, sc, &dup_seen, &lost) != CL_OK)
			PROBLEM(res, "the batch fails after a failed open: %s",
				err ? err : "?");
		cl_ledger_close(l);
		free(err);
	}
}

/* N = 1, 2, ... until a run sees no fault (or the cap).  Reports one
 * check per kind and scenario. */
static void sweep(enum fault_kind k, enum scenario sc, long cap)
{
	struct run_result res;
	long n, problems = 0, faulted = 0, known = 0;
	int done = 0;

	for (n = 1; n <= cap && !done; n++) {
		run_once(k, sc, n, &res);
		if (res.problem && res.lost_txn)
			known++;
		else if (res.problem)
			problems++;
		if (res.fired)
			faulted++;
		else
			done = 1;
		if (problems >= 5)
			break; /* enough detail */
	}
	printf("# %s%s/%s: %ld runs, %ld with an injected fault, %ld with problems"
	       " (+%ld half-committed)\n", kind_names[k], persist_mode ? " (persistent)" : "",
	       scenario_names[sc], n - 1,
	       faulted, problems, known);
	TAP_OK(done && problems == 0,
	       "%s%s faults during %s: every failure is clean and the archive verifies"
	       " (%ld faulted runs)", kind_names[k], persist_mode ? " (persistent)" : "",
	       scenario_names[sc], faulted);
	known_total += known;
}

/* The base archive: BASE_RECORDS records in two conversations. */
static int make_base(void)
{
	struct cl_ledger *l = NULL;
	char *err = NULL;
	int rc, i;

	if ((rc = fx_init(base_dir, ORIGIN)))
		return rc;
	if ((rc = cl_ledger_open(base_dir, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = cl_ledger_begin(l, &err)))
		goto out;
	for (i = 0; i < BASE_RECORDS; i++)
		if ((rc = put_record(l, i)))
			goto out;
	rc = cl_ledger_commit(l, &err);
out:
	if (err)
		fprintf(stderr, "# base archive: %s\n", err);
	free(err);
	cl_ledger_close(l);
	return rc;
}

int main(void)
{
	static const enum fault_kind io_kinds[] = { F_WRITE, F_FULL, F_SYNC, F_TRUNC };
	char *scratch;
	size_t i;
	int sc;

	/* Before anything initializes SQLite. */
	verbose = getenv("TEST_FAULTS_ONE") != NULL;
	if (verbose)
		sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL);
	TAP_OK(mem_install() == 0, "SQLite's allocator is wrapped");
	TAP_OK(shim_install() == 0, "the fault VFS is the default VFS");
	if (sodium_init() < 0)
		return 1;
	scratch = fx_scratch("chatledger-faults");
	if (scratch == NULL)
		return 1;
	base_dir = fx_path(scratch, "base");
	work_dir = fx_path(scratch, "work");
	TAP_OK(make_base() == CL_OK, "base archive with %d records", BASE_RECORDS);

	/* TEST_FAULTS_ONE=KIND/SCENARIO/N (e.g. fsync/erase/3): that run
	 * only, to debug it (TEST_FAULTS_PERSIST=1: a persistent fault;
	 * TEST_FAULTS_NO_RETRY=1: close after the faulted batch). */
	if (verbose) {
		char kn[32], sn[32];
		long n;
		struct run_result res;

		persist_mode = getenv("TEST_FAULTS_PERSIST") != NULL;

		if (sscanf(getenv("TEST_FAULTS_ONE"), "%31[^/]/%31[^/]/%ld", kn, sn, &n) != 3)
			return 2;
		for (i = 1; i < sizeof(kind_names) / sizeof(kind_names[0]); i++)
			for (sc = S_INGEST; sc <= S_ERASE; sc++)
				if (strcmp(kn, kind_names[i]) == 0 &&
				    strcmp(sn, scenario_names[sc]) == 0) {
					run_once((enum fault_kind)i, (enum scenario)sc, n, &res);
					TAP_OK(!res.problem, "%s/%s/%ld (fault %s)", kn, sn, n,
					       res.fired ? "injected" : "not reached");
				}
		goto out;
	}
	for (sc = S_INGEST; sc <= S_ERASE; sc++) {
		for (persist_mode = 0; persist_mode <= 1; persist_mode++)
			for (i = 0; i < sizeof(io_kinds) / sizeof(io_kinds[0]); i++)
				sweep(io_kinds[i], (enum scenario)sc, FAULT_CAP);
		persist_mode = 0;
		sweep(F_MALLOC, (enum scenario)sc, MALLOC_CAP);
		sweep(F_LIBMALLOC, (enum scenario)sc, MALLOC_CAP);
	}

	/*
	 * Regression check for a bug this test found in cl_ledger_commit:
	 * the "SELECT 1 FROM checkpoint WHERE size = ?1" step's result was
	 * taken as "no row" on any error.  When that step failed with
	 * SQLITE_NOMEM (or an I/O error), SQLite could roll the whole
	 * transaction back; the chain-head upserts, the checkpoint and the
	 * frontier that followed then ran in autocommit mode and were
	 * committed on their own, leaving a signed checkpoint for entries
	 * that do not exist.  Fixed by checking the step and refusing to go
	 * on once sqlite3_get_autocommit() says the transaction is gone.
	 */
	TAP_OK(known_total == 0,
	       "a batch whose transaction SQLite rolled back is not"
	       " half-committed by cl_ledger_commit (%ld runs hit it)", known_total);
out:
	fx_rm_tree(scratch);
	free(base_dir);
	free(work_dir);
	free(scratch);
	return tap_done();
}
