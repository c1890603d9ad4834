/*
 * repl_int.h - what replicate.c and remote.c share: the session, object
 * names, the local read connection and the segment builder.
 */
#ifndef CL_REPL_INT_H
#define CL_REPL_INT_H

#include <stdint.h>

#include <sqlite3.h>

#include "archiver/replicate/replicate.h"
#include "archiver/replicate/s3.h"
#include "common/buf.h"

struct cl_repl {
	struct cl_s3 *worm_s3;     /* the WORM bucket's endpoint */
	struct cl_s3 *keys_s3;     /* the key store's (may be another endpoint) */
	struct cl_repl_where worm, keys;
	struct cl_repl_opts o;     /* strings not kept: see cl_repl_new */
};

#define REPL_SEG_CAP ((size_t)5 << 30)

/* PREFIX/NAME (malloc'd). */
char *repl_name(const struct cl_repl_where *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The part after PREFIX/ of a listed key, or NULL if it is not below it. */
const char *repl_rel(const struct cl_repl_where *w, const char *key);

/* DIR/ledger.db read-only in one read transaction. */
int repl_db_open(const char *dir, sqlite3 **db, char **err);
void repl_db_close(sqlite3 *db);
/* The latest checkpoint size (the committed log size). */
int repl_db_size(sqlite3 *db, uint64_t *n, char **err);
/* The note of the checkpoint of `size` (malloc'd), CL_ENOTFOUND if none. */
int repl_db_note(sqlite3 *db, uint64_t size, char **note, char **err);

/*
 * Build segment and key object bytes for entries from `first`: with
 * *end != 0 exactly [first, *end) (which must end at a checkpoint); else
 * up to the first checkpoint size at which `max_entries` or `max_bytes`
 * is reached, or the log's end; *end is set.  seg or keys may be NULL.
 */
int repl_build(sqlite3 *db, uint64_t first, uint64_t *end, uint64_t max_entries,
	       uint64_t max_bytes, struct cl_buf *seg, struct cl_buf *keys, char **err);

/* The remote picture of one prefix. */
struct repl_seg {
	uint64_t first, end;
	char etag[80];
	uint64_t size;
	int has_manifest;
	int has_keys;
	char keys_etag[80];
};
struct repl_remote {
	struct repl_seg *s;        /* by first, ascending */
	size_t n;
	uint64_t *man;             /* manifest ends, ascending */
	size_t n_man;
	int has_identity;
	int has_secrets;
	char **cosig;              /* "cosig/..." names present */
	size_t n_cosig;
	uint64_t end;              /* the end of the chain of segments with manifests
	                              from 0 */
};
/* List the WORM prefix (and the key store's keys/ when with_keys).  With
 * `vers` (a version listing of the prefix), each key's oldest version is
 * used instead of the current one: delete markers and planted versions do
 * not hide the locked original. */
int repl_remote_load(struct cl_repl *r, int with_keys, const struct cl_s3_list *vers,
		     struct repl_remote *rm, char **err);
void repl_remote_release(struct repl_remote *rm);

void repl_md5_hex(const void *p, size_t n, char out[33]);
void repl_sha_hex(const void *p, size_t n, char out[65]);

#endif
