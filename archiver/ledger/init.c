/*
 * init.c - creating an archive: the directory, its keys (vault.c), the
 * configuration file and ledger.db with the schema of docs/FORMAT.md §4.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/ledger_int.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/vault.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static const char schema[] =
	"CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
	"CREATE TABLE entry(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL,"
	" type INTEGER NOT NULL, kind TEXT NOT NULL, sent_at INTEGER,"
	" attrs BLOB);"
	"CREATE TABLE dedup(idx INTEGER PRIMARY KEY, kh INTEGER NOT NULL, ch INTEGER);"
	"CREATE TABLE chain_head(tag BLOB PRIMARY KEY, idx INTEGER NOT NULL,"
	" hash BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE payload(idx INTEGER PRIMARY KEY, ct BLOB NOT NULL);"
	"CREATE TABLE key_batch(id INTEGER PRIMARY KEY, eph BLOB NOT NULL);"
	"CREATE TABLE sealed_key(idx INTEGER PRIMARY KEY,"
	" batch INTEGER NOT NULL, wrapped BLOB NOT NULL);"
	"CREATE TABLE node(level INTEGER, pos INTEGER, hash BLOB NOT NULL,"
	" PRIMARY KEY(level, pos)) WITHOUT ROWID;"
	"CREATE TABLE checkpoint(size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);";


/* ---- config --------------------------------------------------------- */

static int write_config(const char *dir, const char *origin, char **err)
{
	struct cl_buf b;
	char *path = cl_ledger_path(dir, "chatledger.conf");
	char now[32];
	int rc;

	cl_buf_init(&b, 1 << 16);
	if (path == NULL)
		return CL_ENOMEM;
	cl_time_format(cl_time_now_ms(), now);
	rc = cl_buf_addf(&b,
		"# chatledger archive configuration (see config/README)\n"
		"[archive]\n"
		"# checkpoint origin and log key name; fixed at init\n"
		"origin = %s\n"
		"# on-disk format version (the one the archive was created with)\n"
		"format = " CL_STR(CL_ARCHIVE_FORMAT) "\n"
		"created = %s\n"
		"\n[ingest]\n"
		"# records per durable commit (each commit is fsynced and signed)\n"
		"batch_size = 1000\n", origin, now);
	if (rc == CL_OK)
		rc = cl_file_create(path, b.data, b.len, 0600, err);
	free(path);
	cl_buf_release(&b);
	return rc;
}

/* ---- init ----------------------------------------------------------- */

/* Is `dir` absent (1), an empty directory (2), or something else (0)? */
static int dir_state(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 2;

	if (d == NULL)
		return errno == ENOENT ? 1 : 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			empty = 0;
	closedir(d);
	return empty;
}

/* Remove what a failed init left in its temporary directory. */
static void remove_tree(const char *dir)
{
	static const char *const names[] = {
		"ledger.db", "ledger.db-wal", "ledger.db-shm", "ledger.db-journal",
		"log.key", "log.pub", "seal.key", "seal.pub", "tag.key",
		"chatledger.conf", "lock", NULL
	};
	size_t i;

	for (i = 0; names[i]; i++) {
		char *p = cl_ledger_path(dir, names[i]);

		if (p)
			unlink(p);
		free(p);
	}
	rmdir(dir);
}

static int create_db(const char *dir, const char *origin, char **err)
{
	char *dbpath = cl_ledger_path(dir, "ledger.db"), *vkey = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (dbpath == NULL)
		return CL_ENOMEM;
	if ((rc = cl_vault_load_vkey(dir, &vkey, err)))
		goto out;
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_EXCLUSIVE, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA secure_delete=ON;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "INSERT INTO meta(k, v) VALUES"
			       " ('format', " CL_STR(CL_ARCHIVE_FORMAT) "), ('origin', ?1),"
			       " ('vkey', ?2)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot create the database: %s",
			      db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_bind_text(st, 1, origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, vkey, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = cl_error(err, CL_EIO, "cannot initialise the database: %s",
			      sqlite3_errmsg(db));
out:
	sqlite3_finalize(st);
	if (db)
		sqlite3_close(db);
	free(vkey);
	free(dbpath);
	return rc;
}

/*
 * The archive is built in a temporary sibling directory and renamed into
 * place, so a failed or interrupted init leaves nothing half-made, and an
 * existing archive (or any non-empty directory) is never touched.
 */
int cl_archive_init(const char *dir, const struct cl_archive_opts *o,
		    char **err)
{
	struct cl_ledger *l = NULL;
	char *tmp = NULL;
	int rc = CL_OK, state;

	if (!cl_note_name_valid(o->origin))
		return cl_error(err, CL_EINVAL,
				"origin '%s' is not a valid key name (no spaces or '+')",
				o->origin);
	state = dir_state(dir);
	if (state == 0)
		return cl_error(err, CL_EEXIST,
				"'%s' exists and is not an empty directory; refusing to overwrite",
				dir);
	if ((tmp = cl_strdupf("%s.init-XXXXXX", dir)) == NULL)
		return CL_ENOMEM;
	if (mkdtemp(tmp) == NULL) {
		rc = cl_error(err, CL_EIO, "cannot create a directory beside '%s': %s",
			      dir, strerror(errno));
		free(tmp);
		return rc;
	}
	if (chmod(tmp, 0700) != 0) {
		rc = cl_error(err, CL_EIO, "cannot chmod '%s'", tmp);
		goto out;
	}
	if ((rc = cl_vault_create(tmp, o->origin, o->pass, o->passlen, o->kdf,
				  err)) ||
	    (rc = write_config(tmp, o->origin, err)) ||
	    (rc = create_db(tmp, o->origin, err)))
		goto out;
	/* The empty tree gets its signed checkpoint too. */
	if ((rc = cl_ledger_open(tmp, CL_OPEN_WRITE, &l, err)) ||
	    (rc = cl_ledger_begin(l, err)) || (rc = cl_ledger_commit(l, err)))
		goto out;
	cl_ledger_close(l);
	l = NULL;
	if ((rc = cl_fsync_dir(tmp)))
		goto out;
	if (state == 2 && rmdir(dir) != 0) {
		rc = cl_error(err, CL_EEXIST, "cannot replace the empty directory '%s': %s",
			      dir, strerror(errno));
		goto out;
	}
	if (rename(tmp, dir) != 0) {
		rc = cl_error(err, CL_EEXIST, "cannot move the new archive to '%s': %s",
			      dir, strerror(errno));
		goto out;
	}
	rc = cl_fsync_dir(dir);
	if (rc == CL_OK) {
		char *parent = cl_ledger_path(dir, "..");

		if (parent)
			cl_fsync_dir(parent);
		free(parent);
	}
out:
	cl_ledger_close(l);
	if (rc)
		remove_tree(tmp);
	free(tmp);
	return rc;
}

