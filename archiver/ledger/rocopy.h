/*
 * rocopy.h - reading an archive directory that cannot be written: an
 * auditor's read-only copy (docs/FORMAT.md §1).
 *
 * SQLite reads a WAL-mode database only if it can create the -shm index
 * next to it, which a read-only directory does not allow; `immutable=1`
 * avoids that but ignores ledger.db-wal, where committed data can live.
 * So, for a read-only archive: when ledger.db-wal holds data, ledger.db
 * and ledger.db-wal are copied into a private temporary directory and the
 * copy is opened, read-only, so that SQLite applies the WAL; otherwise
 * ledger.db itself is opened as immutable (nothing is in the WAL).
 * Nothing ever reads such an archive while ignoring its WAL.
 */
#ifndef CL_ROCOPY_H
#define CL_ROCOPY_H

/*
 * The directory under which private copies are made (the CLI passes
 * $TMPDIR; NULL or "" means /tmp).  Process-wide: call it before opening
 * archives; `base` must stay valid while archives are open.
 */
void cl_ledger_set_tmpdir(const char *base);

/*
 * What to open for reading the read-only archive `dir`, with
 * sqlite3_open_v2(*path, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI): a
 * "file:...?immutable=1" URI of DIR/ledger.db when its WAL is absent or
 * empty, or the path of a private copy whose WAL SQLite will apply.  In
 * that case *copy_dir is the copy's directory (remove it with
 * cl_ledger_ro_release() once every connection to it is closed), else
 * NULL.  *path is malloc'd (free it).  CL_EIO when the copy cannot be
 * made (*err says why: no space, no temporary directory), CL_ENOTFOUND
 * when there is no ledger.db.
 */
int cl_ledger_ro_path(const char *dir, char **copy_dir, char **path, char **err)
	__attribute__((warn_unused_result));

/* Remove a copy made by cl_ledger_ro_path() (its files and directory)
 * and free and clear *copy_dir; nothing when it is NULL. */
void cl_ledger_ro_release(char **copy_dir);

#endif
