/*
 * baseline_sqlite.c - the ingest baseline: the same JSON lines inserted
 * into a plain SQLite table (id INTEGER PRIMARY KEY, line TEXT) in WAL
 * mode with synchronous=FULL, BATCH rows per transaction.  Lines are read
 * with getline() and stripped exactly as chatledger's ingest does.
 *
 *   baseline_sqlite DB FILE [BATCH]     prints "ROWS rows"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static int fail(sqlite3 *db, const char *what)
{
	fprintf(stderr, "baseline_sqlite: %s: %s\n", what,
		db ? sqlite3_errmsg(db) : "cannot open");
	return 2;
}

static int blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	FILE *f;
	char *line = NULL;
	size_t cap = 0, inbatch = 0;
	ssize_t got;
	unsigned long long rows = 0;
	long batch = argc > 3 ? atol(argv[3]) : 1000;

	if (argc < 3 || batch <= 0) {
		fprintf(stderr, "usage: baseline_sqlite DB FILE [BATCH]\n");
		return 2;
	}
	f = fopen(argv[2], "r");
	if (f == NULL) {
		perror(argv[2]);
		return 2;
	}
	if (sqlite3_open(argv[1], &db) != SQLITE_OK)
		return fail(db, "open");
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, line TEXT);",
			 NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, "setup");
	if (sqlite3_prepare_v2(db, "INSERT INTO t(line) VALUES (?1)", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(db, "prepare");
	while ((got = getline(&line, &cap, f)) >= 0) {
		size_t n = (size_t)got;

		if (blank(line, n))
			continue;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (inbatch == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			return fail(db, "begin");
		sqlite3_bind_text(st, 1, line, (int)n, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			return fail(db, "insert");
		sqlite3_reset(st);
		rows++;
		if (++inbatch >= (size_t)batch) {
			if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
				return fail(db, "commit");
			inbatch = 0;
		}
	}
	if (ferror(f)) {
		perror(argv[2]);
		return 2;
	}
	if (inbatch && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		return fail(db, "commit");
	sqlite3_finalize(st);
	if (sqlite3_close(db) != SQLITE_OK)
		return fail(db, "close");
	fclose(f);
	free(line);
	printf("%llu rows\n", rows);
	return 0;
}
