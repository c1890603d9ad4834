/*
 * floor_rows.c - a floor for durable ingest: the rows an archive holds
 * for its records, inserted plainly into an empty database with the same
 * tables and indexes, in WAL mode with synchronous=FULL, BATCH records
 * per transaction.  No parsing, no crypto, no Merkle tree: only SQLite
 * storing the bytes chatledger must store.  Compared with the plain
 * baseline (one row per input line), it shows how much of the ingest
 * ratio the archive's rows alone use up.
 *
 *   floor_rows SRC_DB DST_DB BATCH TABLE...
 *
 * The rows are read from SRC_DB (read-only) into memory first; only the
 * inserts are timed.  A table with an `idx` column is inserted in index
 * order, each row in its record's transaction; a table without one
 * (attr_index) has its rows spread evenly over the transactions.
 * Prints "RECORDS records ROWS rows WALL s wall CPU s cpu" (CPU: user
 * plus system time of the inserts alone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <sqlite3.h>

#define MAX_TABLES 16

struct table {
	const char *name;
	int has_idx;         /* rows ordered by idx, column 0 */
	int ncol;
	sqlite3_value **vals;   /* nrow * ncol */
	size_t nrow;
	sqlite3_stmt *ins;
};

static int fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "floor_rows: %s: %s\n", what,
		db ? sqlite3_errmsg(db) : "cannot open");
	return 2;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Copies the CREATE statements of NAME and of its indexes into DST. */
static int copy_schema(sqlite3 *src, sqlite3 *dst, const char *name)
{
	sqlite3_stmt *st;
	int rc, n = 0;

	if (sqlite3_prepare_v2(src, "SELECT sql FROM sqlite_master WHERE tbl_name = ?1"
			       " AND sql IS NOT NULL ORDER BY type = 'index'", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(src, "schema");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_exec(dst, (const char *)sqlite3_column_text(st, 0), NULL,
				 NULL, NULL) != SQLITE_OK)
			return fail(dst, "create");
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || n == 0) {
		fprintf(stderr, "floor_rows: no table '%s'\n", name);
		return 2;
	}
	return 0;
}

static int load(sqlite3 *src, struct table *t)
{
	char sql[256];
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, i;

	snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", t->name);
	if (sqlite3_prepare_v2(src, sql, -1, &st, NULL) != SQLITE_OK)
		return fail(src, "select");
	t->ncol = sqlite3_column_count(st);
	t->has_idx = strcmp(sqlite3_column_name(st, 0), "idx") == 0;
	if (t->has_idx) {
		sqlite3_finalize(st);
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY idx", t->name);
		if (sqlite3_prepare_v2(src, sql, -1, &st, NULL) != SQLITE_OK)
			return fail(src, "select");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (t->nrow == cap) {
			cap = cap ? cap * 2 : 4096;
			t->vals = realloc(t->vals, cap * (size_t)t->ncol * sizeof(*t->vals));
			if (t->vals == NULL) {
				fprintf(stderr, "floor_rows: out of memory\n");
				return 2;
			}
		}
		for (i = 0; i < t->ncol; i++) {
			sqlite3_value *v = sqlite3_value_dup(sqlite3_column_value(st, i));

			if (v == NULL) {
				fprintf(stderr, "floor_rows: out of memory\n");
				return 2;
			}
			t->vals[t->nrow * (size_t)t->ncol + (size_t)i] = v;
		}
		t->nrow++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : fail(src, "read");
}

static int insert(sqlite3 *dst, struct table *t, size_t row)
{
	int i;

	for (i = 0; i < t->ncol; i++)
		sqlite3_bind_value(t->ins, i + 1, t->vals[row * (size_t)t->ncol + (size_t)i]);
	if (sqlite3_step(t->ins) != SQLITE_DONE)
		return fail(dst, "insert");
	sqlite3_reset(t->ins);
	return 0;
}

int main(int argc, char **argv)
{
	struct table tab[MAX_TABLES];
	sqlite3 *src = NULL, *dst = NULL;
	size_t ntab, i, next[MAX_TABLES], rows = 0, records = 0, nbatch;
	long batch;
	double t0, t1, c0, c1;
	int rc;

	if (argc < 5 || argc - 4 > MAX_TABLES || (batch = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: floor_rows SRC_DB DST_DB BATCH TABLE...\n");
		return 2;
	}
	memset(tab, 0, sizeof(tab));
	memset(next, 0, sizeof(next));
	ntab = (size_t)argc - 4;
	if (sqlite3_open_v2(argv[1], &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		return fail(src, argv[1]);
	if (sqlite3_open(argv[2], &dst) != SQLITE_OK)
		return fail(dst, argv[2]);
	if (sqlite3_exec(dst, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL,
			 NULL, NULL) != SQLITE_OK)
		return fail(dst, "setup");
	for (i = 0; i < ntab; i++) {
		char sql[512];
		int c, n;

		tab[i].name = argv[4 + i];
		if ((rc = copy_schema(src, dst, tab[i].name)) || (rc = load(src, &tab[i])))
			return rc;
		n = snprintf(sql, sizeof(sql), "INSERT INTO \"%s\" VALUES (", tab[i].name);
		for (c = 0; c < tab[i].ncol; c++)
			n += snprintf(sql + n, sizeof(sql) - (size_t)n, "%s?", c ? "," : "");
		snprintf(sql + n, sizeof(sql) - (size_t)n, ")");
		if (sqlite3_prepare_v2(dst, sql, -1, &tab[i].ins, NULL) != SQLITE_OK)
			return fail(dst, "prepare");
		if (tab[i].has_idx && tab[i].nrow > 0) {
			sqlite3_int64 last = sqlite3_value_int64(
				tab[i].vals[(tab[i].nrow - 1) * (size_t)tab[i].ncol]);

			if ((size_t)last + 1 > records)
				records = (size_t)last + 1;
		}
	}
	sqlite3_close(src);
	if (records == 0) {
		fprintf(stderr, "floor_rows: no table with an idx column has rows\n");
		return 2;
	}
	nbatch = (records + (size_t)batch - 1) / (size_t)batch;

	t0 = now();
	c0 = cpu_seconds();
	for (size_t b = 0; b < nbatch; b++) {
		sqlite3_int64 end = (sqlite3_int64)((b + 1) * (size_t)batch);

		if (sqlite3_exec(dst, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			return fail(dst, "begin");
		for (i = 0; i < ntab; i++) {
			struct table *t = &tab[i];
			size_t until = t->has_idx ? t->nrow : t->nrow * (b + 1) / nbatch;

			while (next[i] < until) {
				if (t->has_idx &&
				    sqlite3_value_int64(t->vals[next[i] * (size_t)t->ncol]) >= end)
					break;
				if ((rc = insert(dst, t, next[i])))
					return rc;
				next[i]++;
				rows++;
			}
		}
		if (sqlite3_exec(dst, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			return fail(dst, "commit");
	}
	t1 = now();
	c1 = cpu_seconds();
	for (i = 0; i < ntab; i++) {
		for (size_t r = 0; r < tab[i].nrow * (size_t)tab[i].ncol; r++)
			sqlite3_value_free(tab[i].vals[r]);
		free(tab[i].vals);
		sqlite3_finalize(tab[i].ins);
	}
	if (sqlite3_close(dst) != SQLITE_OK)
		return fail(dst, "close");
	printf("%zu records %zu rows %.6f s wall %.6f s cpu\n", records, rows, t1 - t0,
	       c1 - c0);
	return 0;
}
