/*
 * ledger.c - the append-only store: init, open, append, commit, reads.
 *
 * Layout of ledger.db is in docs/FORMAT.md §4.  Each batch is one SQLite
 * transaction (synchronous=FULL in WAL mode, so COMMIT returns after
 * fsync) that ends with a signed checkpoint for the new size.
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
#include "archiver/ledger/note.h"
#include "archiver/ingest/record.h"
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

/* ---- small helpers -------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static int db_err(struct cl_ledger *l, char **err, const char *what)
{
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
		return db_err(l, err, "preparing a statement");
	return CL_OK;
}

static int exec(struct cl_ledger *l, const char *sql, char **err)
{
	if (sqlite3_exec(l->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(l, err, sql);
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

int cl_archive_lock(const char *dir, int exclusive, int *fd, char **err)
{
	char *path = path_join(dir, "lock");
	int f;

	*fd = -1;
	if (path == NULL)
		return CL_ENOMEM;
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (f < 0)
		return cl_error(err, CL_EIO, "cannot open the archive lock: %s",
				strerror(errno));
	while (flock(f, exclusive ? LOCK_EX : LOCK_SH) != 0) {
		if (errno != EINTR) {
			close(f);
			return cl_error(err, CL_EIO, "cannot lock the archive: %s",
					strerror(errno));
		}
	}
	*fd = f;
	return CL_OK;
}

/* ---- config --------------------------------------------------------- */

static int write_config(const char *dir, const char *origin, char **err)
{
	struct cl_buf b;
	char *path = path_join(dir, "chatledger.conf");
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
		"# on-disk format version\n"
		"format = 1\n"
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
		char *p = path_join(dir, names[i]);

		if (p)
			unlink(p);
		free(p);
	}
	rmdir(dir);
}

static int create_db(const char *dir, const char *origin, char **err)
{
	char *dbpath = path_join(dir, "ledger.db"), *vkey = NULL;
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
			       " ('format', 1), ('origin', ?1), ('vkey', ?2)",
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
	if (asprintf(&tmp, "%s.init-XXXXXX", dir) < 0)
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
		char *parent = path_join(dir, "..");

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

/* ---- open / close --------------------------------------------------- */

static int load_meta_text(struct cl_ledger *l, const char *k, char **out,
			  char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	*out = NULL;
	if (sqlite3_prepare_v2(l->db, "SELECT v FROM meta WHERE k = ?1", -1,
			       &st, NULL) != SQLITE_OK)
		return db_err(l, err, "reading meta");
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW ||
	    sqlite3_column_type(st, 0) != SQLITE_TEXT)
		rc = cl_error(err, CL_ECORRUPT, "archive metadata '%s' missing", k);
	else if ((*out = strdup((const char *)sqlite3_column_text(st, 0))) == NULL)
		rc = CL_ENOMEM;
	sqlite3_finalize(st);
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
		return db_err(l, err, "reading the frontier");
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
static int load_indexes(struct cl_ledger *l, char **err)
{
	sqlite3_stmt *st = NULL;
	int s, rc = CL_OK;

	cl_map64_release(&l->keys);
	cl_map_release(&l->heads);
	cl_map_release(&l->dirty_heads);
	if (sqlite3_prepare_v2(l->db, "SELECT idx, kh FROM dedup", -1, &st, NULL) != SQLITE_OK)
		return db_err(l, err, "loading the key index");
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
		rc = db_err(l, err, "loading the key index");
		goto out;
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(l->db, "SELECT tag, idx, hash FROM chain_head", -1, &st,
			       NULL) != SQLITE_OK)
		return db_err(l, err, "loading chain heads");
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
		rc = db_err(l, err, "loading chain heads");
out:
	sqlite3_finalize(st);
	return rc;
}

static int count_entries(struct cl_ledger *l, uint64_t *n, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(l->db, "SELECT coalesce(max(idx) + 1, 0) FROM entry",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(l, err, "counting entries");
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = db_err(l, err, "counting entries");
	else
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
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
	l->mode = mode;
	l->batch_id = -1;
	cl_map_init(&l->heads);
	cl_map_init(&l->dirty_heads);
	cl_map64_init(&l->keys);
	cl_buf_init(&l->leafbuf, CL_LEAF_FIXED + 64 + CL_LEAF_MAX_BODY);
	l->dir = strdup(dir);
	dbpath = path_join(dir, "ledger.db");
	if (l->dir == NULL || dbpath == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (stat(dbpath, &st) != 0) {
		rc = cl_error(err, CL_ENOTFOUND, "'%s' is not a chatledger archive", dir);
		goto out;
	}
	if (mode == CL_OPEN_WRITE &&
	    (rc = cl_archive_lock(dir, 1, &l->lock_fd, err)))
		goto out;
	flags = mode == CL_OPEN_WRITE ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
	if (mode != CL_OPEN_WRITE && access(dir, W_OK) != 0) {
		/* A read-only copy: read it as immutable (no locks, no WAL
		 * index to create). */
		char *uri = sqlite3_mprintf("file:%s?immutable=1", dbpath);

		free(dbpath);
		dbpath = uri ? strdup(uri) : NULL;
		sqlite3_free(uri);
		if (dbpath == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		flags |= SQLITE_OPEN_URI;
	}
	if (sqlite3_open_v2(dbpath, &l->db, flags, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot open '%s'", dbpath);
		goto out;
	}
	sqlite3_busy_timeout(l->db, 30000);
	if (mode == CL_OPEN_WRITE &&
	    (rc = exec(l, "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"
		       "PRAGMA cache_size=-65536;", err)))
		goto out;
	if ((rc = load_meta_text(l, "origin", &l->origin, err)) ||
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
	if (l->db)
		sqlite3_close(l->db);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	sodium_free(l->log_sk);
	sodium_free(l->tag_key);
	sodium_free(l->batch_key);
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
uint64_t cl_ledger_size(const struct cl_ledger *l) { return l->size; }
struct sqlite3 *cl_ledger_sqlite(struct cl_ledger *l) { return l->db; }

/* ---- batches -------------------------------------------------------- */

int cl_ledger_begin(struct cl_ledger *l, char **err)
{
	int rc;

	if (l->mode != CL_OPEN_WRITE || l->in_batch)
		return cl_error(err, CL_EINVAL, "ledger not open for a new batch");
	if ((rc = exec(l, "BEGIN IMMEDIATE", err)))
		return rc;
	l->in_batch = 1;
	l->saved_range = l->range;
	l->batch_id = -1;
	return CL_OK;
}

void cl_ledger_rollback(struct cl_ledger *l)
{
	if (!l->in_batch)
		return;
	sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
	l->in_batch = 0;
	l->range = l->saved_range;
	l->size = l->committed_size;
	/* The in-memory indexes may name rolled-back entries: reload. */
	if (load_indexes(l, NULL) != CL_OK) {
		/* Leave them empty rather than wrong; the next open reloads. */
		cl_map64_release(&l->keys);
		cl_map_release(&l->heads);
	}
	sodium_free(l->batch_key);
	l->batch_key = NULL;
	l->batch_id = -1;
}

/* A fresh ephemeral X25519 key per batch; its shared key with the
 * archive's sealing key wraps every payload key of the batch. */
static int start_key_batch(struct cl_ledger *l, char **err)
{
	unsigned char eph_pk[32];
	unsigned char *eph_sk = sodium_malloc(32);
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	l->batch_key = sodium_malloc(crypto_box_BEFORENMBYTES);
	if (eph_sk == NULL || l->batch_key == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	crypto_box_keypair(eph_pk, eph_sk);
	if (crypto_box_beforenm(l->batch_key, l->seal_pk, eph_sk) != 0) {
		rc = cl_error(err, CL_EKEY, "the sealing public key is unusable");
		goto out;
	}
	if (sqlite3_prepare_v2(l->db, "INSERT INTO key_batch(eph) VALUES (?1)",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(l, err, "starting a key batch");
		goto out;
	}
	sqlite3_bind_blob(st, 1, eph_pk, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_err(l, err, "starting a key batch");
		goto out;
	}
	l->batch_id = sqlite3_last_insert_rowid(l->db);
out:
	sqlite3_finalize(st);
	sodium_free(eph_sk);
	if (rc) {
		sodium_free(l->batch_key);
		l->batch_key = NULL;
	}
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

static void attr_hash(const unsigned char *tag_key, const char *type,
		      const char *value, uint64_t *out)
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, tag_key, 32, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)"chatledger/attr/v1\n", 19);
	crypto_generichash_update(&st, (const unsigned char *)type, strlen(type));
	crypto_generichash_update(&st, (const unsigned char *)"=", 1);
	crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
	crypto_generichash_final(&st, h, sizeof(h));
	*out = cl_load_be64(h);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(h, sizeof(h));
}

int cl_ledger_attr_hash(const struct cl_ledger *l, const char *type,
			const char *value, uint64_t *out)
{
	if (l->tag_key == NULL)
		return CL_EKEY;
	attr_hash(l->tag_key, type, value, out);
	return CL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* attrs "type=value\0"... -> sorted, de-duplicated big-endian u64s. */
static int encode_attrs(const unsigned char *tag_key, const char *attrs,
			size_t len, struct cl_buf *out)
{
	uint64_t v[512];
	size_t n = 0, i, off = 0;

	memset(v, 0, sizeof(v));
	while (off < len) {
		const char *a = attrs + off, *eq = strchr(a, '=');
		size_t alen = strnlen(a, len - off);
		char type[32];

		if (n == 512 || eq == NULL || (size_t)(eq - a) >= sizeof(type) ||
		    alen == len - off)
			return CL_EINVAL;
		memcpy(type, a, (size_t)(eq - a));
		type[eq - a] = 0;
		attr_hash(tag_key, type, eq + 1, &v[n]);
		n++;
		off += alen + 1;
	}
	qsort(v, n, sizeof(v[0]), cmp_u64);
	for (i = 0; i < n; i++) {
		int rc;

		if ((i == 0 || v[i] != v[i - 1]) && (rc = cl_buf_add_be64(out, v[i])))
			return rc;
	}
	return CL_OK;
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
		return db_err(l, err, "looking up a message key");
	return CL_OK;
}

/* Look for an existing entry with key hash `kh`. */
static int find_key(struct cl_ledger *l, const unsigned char kh[32],
		    uint64_t *index, int *found, char **err)
{
	uint64_t cand;
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, yes = 0;

	*found = 0;
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
		return db_err(l, err, "looking up a message key");
	sqlite3_bind_int64(st, 1, prefix64(kh));
	while (!yes && sqlite3_step(st) == SQLITE_ROW) {
		cand = (uint64_t)sqlite3_column_int64(st, 0);
		if ((rc = leaf_has_key(l, cand, kh, &yes, err)))
			break;
		if (yes) {
			*index = cand;
			*found = 1;
		}
	}
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

/* ---- sealing (thread-confined) ---------------------------------------- */

/*
 * A sealer does the per-entry work that needs no database: keyed hashes,
 * compression, encryption.  Each thread uses its own; the ledger has one
 * for cl_ledger_append().  It holds a copy of the tag key and a
 * fast-key-erasure random generator: libsodium expands a 32-byte seed with
 * ChaCha20, the first 32 output bytes replace the seed (so earlier
 * outputs cannot be recomputed from a later memory image) and the rest is
 * handed out; the seed comes from the kernel when the sealer is made.
 */
struct cl_sealer {
	unsigned char *tag_key;  /* sodium_malloc, 32 */
	unsigned char *rng;      /* sodium_malloc: seed, next seed, output */
	ZSTD_CCtx *zc;
	struct cl_buf zbuf;
};

struct cl_prepared {
	uint8_t type;
	char kind[CL_KIND_MAX + 1];
	int64_t sent_at, received_at;
	const char *body;        /* borrowed from the cl_entry_in */
	size_t body_len;
	int has_key, has_payload, has_ch;
	int64_t ch;              /* keyed content fingerprint (de-duplication) */
	unsigned char kh[32], conv_tag[32], ct_hash[32], pt_hash[32];
	struct cl_buf ct;        /* the sealed payload */
	unsigned char *key;      /* sodium_malloc: payload key until wrapped */
	struct cl_buf attrs;     /* encoded selector attributes */
};

int cl_sealer_new(const struct cl_ledger *l, struct cl_sealer **out)
{
	struct cl_sealer *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return CL_ENOMEM;
	s->tag_key = sodium_malloc(32);
	s->rng = sodium_malloc(32 + 32 + 128);
	s->zc = ZSTD_createCCtx();
	cl_buf_init(&s->zbuf, CL_PAYLOAD_MAX);
	if (s->tag_key == NULL || s->rng == NULL || s->zc == NULL || l->tag_key == NULL) {
		cl_sealer_free(s);
		return l->tag_key == NULL ? CL_EKEY : CL_ENOMEM;
	}
	memcpy(s->tag_key, l->tag_key, 32);
	randombytes_buf(s->rng, 32);
	*out = s;
	return CL_OK;
}

void cl_sealer_free(struct cl_sealer *s)
{
	if (s == NULL)
		return;
	sodium_free(s->tag_key);
	sodium_free(s->rng);
	ZSTD_freeCCtx(s->zc);
	if (s->zbuf.data)
		sodium_memzero(s->zbuf.data, s->zbuf.alloc);
	cl_buf_release(&s->zbuf);
	free(s);
}

int cl_prepared_new(struct cl_prepared **out)
{
	struct cl_prepared *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	cl_buf_init(&p->ct, CL_PAYLOAD_MAX);
	cl_buf_init(&p->attrs, 8 * 512);
	p->key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (p->key == NULL) {
		free(p);
		return CL_ENOMEM;
	}
	*out = p;
	return CL_OK;
}

void cl_prepared_free(struct cl_prepared *p)
{
	if (p == NULL)
		return;
	sodium_free(p->key);
	cl_buf_release(&p->ct);
	cl_buf_release(&p->attrs);
	free(p);
}

const char *cl_prepared_kind(const struct cl_prepared *p)
{
	return p->kind;
}

static void fresh_random(struct cl_sealer *s, unsigned char *out, size_t n)
{
	while (n > 0) {
		size_t k = n < 128 ? n : 128;

		randombytes_buf_deterministic(s->rng + 32, 32 + 128, s->rng);
		memcpy(s->rng, s->rng + 32, 32);
		memcpy(out, s->rng + 64, k);
		sodium_memzero(s->rng + 32, 32 + 128);
		out += k;
		n -= k;
	}
}

/* Seal a payload: ct = version || nonce || AEAD(salt || zstd(pt)). */
static int seal_payload(struct cl_sealer *s, const unsigned char *pt,
			size_t ptlen, const unsigned char *key,
			const unsigned char salt[32], const unsigned char nonce[24],
			unsigned char pt_hash[32], struct cl_buf *ct, char **err)
{
	static const unsigned char ad[] = "chatledger/payload/v1";
	size_t bound = ZSTD_compressBound(ptlen), z;
	unsigned long long clen = 0;
	int rc;

	if (ptlen > CL_PAYLOAD_MAX - 4096)
		return cl_error(err, CL_EINVAL, "payload too large (%zu bytes)", ptlen);
	cl_sha256_2(salt, 32, pt, ptlen, pt_hash);
	cl_buf_reset(&s->zbuf);
	if ((rc = cl_buf_add(&s->zbuf, salt, 32)) ||
	    (rc = cl_buf_reserve(&s->zbuf, bound)))
		goto out;
	z = ZSTD_compressCCtx(s->zc, s->zbuf.data + 32, bound, pt, ptlen, 3);
	if (ZSTD_isError(z)) {
		rc = cl_error(err, CL_EIO, "zstd: %s", ZSTD_getErrorName(z));
		goto out;
	}
	s->zbuf.len = 32 + z;
	cl_buf_reset(ct);
	if ((rc = cl_buf_reserve(ct, 1 + 24 + s->zbuf.len +
				 crypto_aead_xchacha20poly1305_ietf_ABYTES)))
		goto out;
	ct->data[0] = CL_PAYLOAD_VERSION;
	memcpy(ct->data + 1, nonce, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct->data + 25, &clen,
						   s->zbuf.data, s->zbuf.len,
						   ad, sizeof(ad) - 1, NULL,
						   nonce, key);
	ct->len = 25 + (size_t)clen;
out:
	if (s->zbuf.data)
		sodium_memzero(s->zbuf.data, s->zbuf.len);
	return rc;
}

int cl_sealer_prepare(struct cl_sealer *s, const struct cl_entry_in *in,
		      struct cl_prepared *p, char **err)
{
	int rc;

	if (!cl_kind_valid(in->kind))
		return cl_error(err, CL_EINVAL, "invalid entry kind");
	if (in->body_len > CL_LEAF_MAX_BODY)
		return cl_error(err, CL_EINVAL, "public body too large");
	p->type = in->type;
	memcpy(p->kind, in->kind, strlen(in->kind) + 1);
	p->sent_at = in->sent_at;
	p->received_at = in->received_at;
	p->body = in->body;
	p->body_len = in->body_len;
	p->has_key = in->key != NULL;
	memset(p->kh, 0, 32);
	p->has_ch = 0;
	if (p->has_key) {
		crypto_generichash(p->kh, 32, in->key, in->key_len, s->tag_key, 32);
		if (in->fp) {
			unsigned char h[32];

			crypto_generichash(h, 32, in->fp, in->fp_len, s->tag_key, 32);
			p->ch = (int64_t)cl_load_be64(h);
			p->has_ch = 1;
		}
	}
	if (in->conv_tag)
		memcpy(p->conv_tag, in->conv_tag, 32);
	else if (in->conv)
		crypto_generichash(p->conv_tag, 32, in->conv, in->conv_len, s->tag_key, 32);
	else
		cl_ledger_log_chain_tag(s->tag_key, p->conv_tag);
	p->has_payload = in->plaintext != NULL;
	memset(p->ct_hash, 0, 32);
	memset(p->pt_hash, 0, 32);
	cl_buf_reset(&p->ct);
	if (p->has_payload) {
		/* One draw for the key (32), the salt (32) and the nonce (24). */
		unsigned char r[88];

		fresh_random(s, r, sizeof(r));
		memcpy(p->key, r, 32);
		rc = seal_payload(s, in->plaintext, in->plaintext_len, p->key, r + 32,
				  r + 64, p->pt_hash, &p->ct, err);
		sodium_memzero(r, sizeof(r));
		if (rc)
			return rc;
		cl_sha256(p->ct.data, p->ct.len, p->ct_hash);
	}
	cl_buf_reset(&p->attrs);
	if (in->attrs && (rc = encode_attrs(s->tag_key, in->attrs, in->attrs_len, &p->attrs)))
		return cl_error(err, rc, "bad selector attributes");
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
		return db_err(l, err, "comparing a redelivered message");
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
			      uint64_t *index, int *dup, char **err)
{
	struct cl_leaf leaf;
	unsigned char leaf_hash[32], wrapped[48], wn[24];
	struct cl_map_slot *slot;
	uint64_t existing;
	int found, rc = CL_OK, conflicted = 0;

	*dup = 0;
	if (!l->in_batch) {
		rc = cl_error(err, CL_EINVAL, "append outside a batch");
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
				*dup = 1;
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
				*dup = 1;
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
		if (l->batch_key == NULL && (rc = start_key_batch(l, err)))
			goto out;
		cl_ledger_wrap_nonce(leaf.index, wn);
		crypto_box_easy_afternm(wrapped, p->key, 32, wn, l->batch_key);
	}
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
		rc = db_err(l, err, "appending an entry");
		goto out;
	}
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
			rc = db_err(l, err, "indexing a message key");
			goto out;
		}
		if (cl_map64_put(&l->keys, k64,
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
			rc = db_err(l, err, "storing a payload");
			goto out;
		}
	}
	if ((rc = cl_merkle_range_append(&l->range, leaf_hash, emit_node, l,
					 CL_NODE_LEVEL))) {
		rc = db_err(l, err, "storing tree nodes");
		goto out;
	}
	slot = cl_map_put(&l->heads, leaf.conv_tag);
	if (slot == NULL || cl_map_put(&l->dirty_heads, leaf.conv_tag) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	slot->u = leaf.index;
	memcpy(slot->v, leaf_hash, 32);
	*index = leaf.index;
	l->size++;
	if (conflicted)
		*dup = 2;
out:
	sodium_memzero(p->key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	sodium_memzero(wrapped, sizeof(wrapped));
	return rc;
}

int cl_ledger_append(struct cl_ledger *l, const struct cl_entry_in *in,
		     uint64_t *index, int *dup, char **err)
{
	int rc;

	*dup = 0;
	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "append outside a batch");
	if ((rc = cl_sealer_prepare(l->sealer, in, l->prep, err)))
		return rc;
	return cl_ledger_append_prepared(l, l->prep, index, dup, err);
}

int cl_ledger_commit(struct cl_ledger *l, char **err)
{
	struct cl_buf body, note, fr;
	sqlite3_stmt *st = NULL;
	cl_hash root;
	size_t i;
	int rc = CL_OK, have = 0;

	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "commit outside a batch");
	cl_buf_init(&body, 4096);
	cl_buf_init(&note, 8192);
	cl_buf_init(&fr, 8 + 64 * 32);
	/* Is there already a checkpoint for this size (nothing appended)? */
	if (sqlite3_prepare_v2(l->db, "SELECT 1 FROM checkpoint WHERE size = ?1",
			       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(l, err, "reading checkpoints");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)l->size);
	have = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	st = NULL;
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
			rc = db_err(l, err, "storing chain heads");
			goto out;
		}
		sqlite3_reset(l->st_up_head);
	}
	if (!have) {
		cl_merkle_range_root(&l->range, root);
		if ((rc = cl_checkpoint_format(l->origin, l->size, root, &body)) ||
		    (rc = cl_note_sign((const char *)body.data, body.len, l->key_name,
				       l->log_sk, &note, err)))
			goto out;
		if (sqlite3_prepare_v2(l->db, "INSERT INTO checkpoint(size, note, created_at)"
				       " VALUES (?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK) {
			rc = db_err(l, err, "storing a checkpoint");
			goto out;
		}
		sqlite3_bind_int64(st, 1, (sqlite3_int64)l->size);
		sqlite3_bind_text(st, 2, (const char *)note.data, (int)note.len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, cl_time_now_ms());
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = db_err(l, err, "storing a checkpoint");
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
		if ((rc = cl_buf_add_be64(&fr, l->range.size)))
			goto out;
		for (i = 0; i < l->range.count; i++)
			if ((rc = cl_buf_add(&fr, l->range.hashes[i], 32)))
				goto out;
		if (sqlite3_prepare_v2(l->db, "INSERT OR REPLACE INTO meta(k, v)"
				       " VALUES ('frontier', ?1)", -1, &st, NULL) != SQLITE_OK) {
			rc = db_err(l, err, "storing the frontier");
			goto out;
		}
		sqlite3_bind_blob(st, 1, fr.data, (int)fr.len, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = db_err(l, err, "storing the frontier");
			goto out;
		}
	}
	if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(l, err, "committing");
		goto out;
	}
	l->in_batch = 0;
	l->committed_size = l->size;
	cl_map_release(&l->dirty_heads);
	sodium_free(l->batch_key);
	l->batch_key = NULL;
	l->batch_id = -1;
out:
	sqlite3_finalize(st);
	cl_buf_release(&body);
	cl_buf_release(&note);
	cl_buf_release(&fr);
	if (rc && l->in_batch)
		cl_ledger_rollback(l);
	return rc;
}

/* ---- erasure -------------------------------------------------------- */

/* Run a prepared single-index statement to completion. */
static int step_index(struct cl_ledger *l, sqlite3_stmt **st, const char *sql,
		      uint64_t index, char **err)
{
	int rc = cl_ledger_prepare(l, st, sql, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(*st, 1, (sqlite3_int64)index);
	rc = sqlite3_step(*st) == SQLITE_DONE ? CL_OK : db_err(l, err, "erasing");
	sqlite3_reset(*st);
	return rc;
}

int cl_ledger_erase(struct cl_ledger *l, uint64_t index, const char *rule,
		    const char *reason, int *already, char **err)
{
	struct cl_leaf lf;
	struct cl_entry_in in;
	json_t *body = NULL;
	char *bodytxt = NULL;
	uint64_t tidx;
	int rc, dup = 0, present, s;
	size_t n;

	*already = 0;
	if (!l->in_batch)
		return cl_error(err, CL_EINVAL, "erase outside a batch");
	if ((rc = cl_ledger_prepare(l, &l->st_er_get,
				    "SELECT leaf, EXISTS(SELECT 1 FROM payload WHERE idx = ?1)"
				    " OR EXISTS(SELECT 1 FROM sealed_key WHERE idx = ?1)"
				    " FROM entry WHERE idx = ?1", err)))
		return rc;
	sqlite3_bind_int64(l->st_er_get, 1, (sqlite3_int64)index);
	s = sqlite3_step(l->st_er_get);
	if (s != SQLITE_ROW) {
		sqlite3_reset(l->st_er_get);
		return s == SQLITE_DONE ?
			cl_error(err, CL_ENOTFOUND, "no entry %llu", (unsigned long long)index) :
			db_err(l, err, "erasing");
	}
	/* Only the fixed part is needed (conv tag, type, ct hash): copy the
	 * leaf without its public body. */
	n = (size_t)sqlite3_column_bytes(l->st_er_get, 0);
	present = sqlite3_column_int(l->st_er_get, 1);
	if (n < CL_LEAF_FIXED + 1 || n > CL_LEAF_FIXED + 32 + CL_LEAF_MAX_BODY) {
		sqlite3_reset(l->st_er_get);
		return cl_error(err, CL_ECORRUPT, "entry %llu is corrupt; run verify",
				(unsigned long long)index);
	}
	{
		const unsigned char *p = sqlite3_column_blob(l->st_er_get, 0);
		struct cl_buf tmp;

		cl_buf_init(&tmp, n + 1);
		rc = cl_buf_add(&tmp, p, n);
		sqlite3_reset(l->st_er_get);
		if (rc == CL_OK)
			rc = cl_leaf_decode(tmp.data, tmp.len, &lf, err);
		/* body points into tmp: not used below */
		lf.body = NULL;
		lf.body_len = 0;
		cl_buf_release(&tmp);
		if (rc)
			return rc;
	}
	if (sodium_is_zero(lf.ct_hash, 32) || lf.type == CL_ENTRY_TOMBSTONE)
		return cl_error(err, CL_EINVAL, "entry %llu has no payload to erase",
				(unsigned long long)index);
	if (!present) {
		*already = 1;
		return CL_OK;
	}
	if ((rc = step_index(l, &l->st_er_key, "DELETE FROM sealed_key WHERE idx = ?1",
			     index, err)) ||
	    (rc = step_index(l, &l->st_er_payload, "DELETE FROM payload WHERE idx = ?1",
			     index, err)) ||
	    (rc = step_index(l, &l->st_er_attrs,
			     "UPDATE entry SET attrs = NULL WHERE idx = ?1", index, err)))
		return rc;
	body = json_pack("{s:I, s:s, s:s}", "erased", (json_int_t)index,
			 "reason", reason ? reason : "retention",
			 "rule", rule ? rule : "");
	bodytxt = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(body);
	if (bodytxt == NULL)
		return CL_ENOMEM;
	/* No idempotency key: the deletions above and this tombstone commit
	 * together, so an entry whose payload is gone has its tombstone. */
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_TOMBSTONE;
	in.kind = "tombstone";
	in.sent_at = CL_TIME_NONE;
	in.received_at = CL_TIME_NONE;
	in.conv_tag = lf.conv_tag;
	in.body = bodytxt;
	in.body_len = strlen(bodytxt);
	rc = cl_ledger_append(l, &in, &tidx, &dup, err);
	free(bodytxt);
	return rc;
}

int cl_ledger_scrub(struct cl_ledger *l, char **err)
{
	int busy = 0, logn = 0, done = 0, tries;

	for (tries = 0; tries < 50; tries++) {
		if (sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
					      &logn, &done) == SQLITE_OK)
			return CL_OK;
		busy = sqlite3_errcode(l->db) == SQLITE_BUSY;
		if (!busy)
			break;
		usleep(100000);
	}
	return cl_error(err, CL_EIO, "cannot truncate the write-ahead log%s: %s",
			busy ? " (a reader holds it; run again)" : "",
			sqlite3_errmsg(l->db));
}

int cl_ledger_each(struct cl_ledger *l, int type, cl_ledger_entry_fn fn,
		   void *ctx, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, s;

	if (sqlite3_prepare_v2(l->db, "SELECT e.idx, e.leaf, e.attrs,"
			       " EXISTS(SELECT 1 FROM payload p WHERE p.idx = e.idx)"
			       " FROM entry e WHERE e.type = ?1 ORDER BY e.idx",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(l, err, "listing entries");
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
		rc = db_err(l, err, "listing entries");
	sqlite3_finalize(st);
	return rc;
}
