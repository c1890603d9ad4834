/*
 * ledger_fixture.h - scratch archives for the ledger and verify unit
 * tests: a scratch directory, archive creation with a fast KDF, appending
 * records, copying and removing archive directories, and tampering with
 * ledger.db through SQLite directly (as an attacker with file access
 * would).  Functions are static inline so each test uses what it needs.
 */
#ifndef CL_LEDGER_FIXTURE_H
#define CL_LEDGER_FIXTURE_H

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "common/status.h"

#define FX_PASS "correct horse battery staple"

/* A new scratch directory under $TMPDIR (or /tmp), malloc'd path; NULL on
 * failure. */
static inline char *fx_scratch(const char *name)
{
	const char *t = getenv("TMPDIR");
	char *p = NULL;

	if (t == NULL || *t == '\0')
		t = "/tmp";
	if (asprintf(&p, "%s/%s-XXXXXX", t, name) < 0)
		return NULL;
	if (mkdtemp(p) == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

/* "a/b", malloc'd (aborts on ENOMEM: tests only). */
static inline char *fx_path(const char *a, const char *b)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		abort();
	return p;
}

static inline int fx_rm_one(const char *p, const struct stat *sb, int type,
			    struct FTW *f)
{
	(void)sb;
	(void)f;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

/* rm -rf path (0 on success, or when it does not exist). */
static inline int fx_rm_tree(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return 0;
	return nftw(path, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copy one regular file, keeping its mode. */
static inline int fx_copy_file(const char *src, const char *dst, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in = open(src, O_RDONLY), out, rc = 0;

	if (in < 0)
		return -1;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) != 0)
		rc = -1;
	return rc;
}

/* Replace dst by a copy of the flat directory src (archives have no
 * subdirectories unless a collector ran; those are not copied). */
static inline int fx_copy_dir(const char *src, const char *dst)
{
	DIR *d;
	const struct dirent *e;
	int rc = 0;

	if (fx_rm_tree(dst) != 0 || mkdir(dst, 0700) != 0)
		return -1;
	d = opendir(src);
	if (d == NULL)
		return -1;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char *s, *t;
		struct stat sb;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		s = fx_path(src, e->d_name);
		t = fx_path(dst, e->d_name);
		if (lstat(s, &sb) == 0 && S_ISREG(sb.st_mode))
			rc = fx_copy_file(s, t, sb.st_mode);
		free(s);
		free(t);
	}
	closedir(d);
	return rc;
}

/* Create an archive in `dir` with the interactive (fastest) KDF. */
static inline int fx_init(const char *dir, const char *origin)
{
	struct cl_archive_opts ao;
	char *err = NULL;
	int rc;

	memset(&ao, 0, sizeof(ao));
	ao.origin = origin;
	ao.pass = (const unsigned char *)FX_PASS;
	ao.passlen = strlen(FX_PASS);
	ao.kdf = CL_KDF_INTERACTIVE;
	rc = cl_archive_init(dir, &ao, &err);
	if (rc)
		fprintf(stderr, "# cl_archive_init: %s\n", err ? err : "?");
	free(err);
	return rc;
}

/* Append a record with key `key`, conversation `conv`, payload `pt` and
 * content fingerprint `fp` (NULL: none), inside a batch. */
static inline int fx_record(struct cl_ledger *l, const char *key,
			    const char *conv, const char *pt, const char *fp,
			    int64_t sent_at, uint64_t *idx, enum cl_append_outcome *dup)
{
	struct cl_entry_in in;
	char *err = NULL;
	int rc;

	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_RECORD;
	in.kind = "text";
	in.sent_at = sent_at;
	in.received_at = sent_at == CL_TIME_NONE ? CL_TIME_NONE : sent_at + 5;
	in.key = key;
	in.key_len = key ? strlen(key) : 0;
	in.conv = conv;
	in.conv_len = conv ? strlen(conv) : 0;
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = pt ? strlen(pt) : 0;
	in.fp = fp;
	in.fp_len = fp ? strlen(fp) : 0;
	rc = cl_ledger_append(l, &in, idx, dup, &err);
	if (rc)
		fprintf(stderr, "# cl_ledger_append: %s\n", err ? err : "?");
	free(err);
	return rc;
}

/* Run `sql` on DIR/ledger.db directly; 0 on success. */
static inline int fx_sql(const char *dir, const char *sql)
{
	char *path = fx_path(dir, "ledger.db"), *msg = NULL;
	sqlite3 *db = NULL;
	int rc = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		rc = 0;
	if (msg) {
		fprintf(stderr, "# sql: %s\n", msg);
		sqlite3_free(msg);
	}
	sqlite3_close(db);
	free(path);
	return rc;
}

/*
 * Read the blob `col` of the one row of `table` WHERE `where`, let fn
 * change it (fn(ctx, bytes, len) returns 0 to write it back), and store
 * it again as a blob (or as text when `as_text`).  0 on success.
 */
typedef int (*fx_edit_fn)(void *ctx, unsigned char *p, size_t len);

static inline int fx_edit(const char *dir, const char *table, const char *col,
			  const char *where, int as_text, fx_edit_fn fn,
			  void *ctx)
{
	char *path = fx_path(dir, "ledger.db"), *q1 = NULL, *q2 = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned char *copy = NULL;
	size_t n = 0;
	int rc = -1;

	if (asprintf(&q1, "SELECT %s FROM %s WHERE %s", col, table, where) < 0 ||
	    asprintf(&q2, "UPDATE %s SET %s = ?1 WHERE %s", table, col, where) < 0)
		goto out;
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, q1, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	n = (size_t)sqlite3_column_bytes(st, 0);
	copy = malloc(n + 1);
	if (copy == NULL)
		goto out;
	if (n)
		memcpy(copy, sqlite3_column_blob(st, 0), n);
	copy[n] = 0;
	sqlite3_finalize(st);
	st = NULL;
	if (fn(ctx, copy, n) != 0 ||
	    sqlite3_prepare_v2(db, q2, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (as_text)
		sqlite3_bind_text(st, 1, (const char *)copy, (int)n, SQLITE_STATIC);
	else
		sqlite3_bind_blob(st, 1, copy, (int)n, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1)
		rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(copy);
	free(q1);
	free(q2);
	free(path);
	return rc;
}

static inline int fx_flip_fn(void *ctx, unsigned char *p, size_t len)
{
	size_t off = *(const size_t *)ctx;

	if (off >= len)
		return -1;
	p[off] ^= 0x01;
	return 0;
}

/* Flip the low bit of byte `off` of blob `col` in the row WHERE `where`. */
static inline int fx_flip(const char *dir, const char *table, const char *col,
			  const char *where, size_t off)
{
	return fx_edit(dir, table, col, where, 0, fx_flip_fn, &off);
}

#endif
