/*
 * erase.c - erasure of one entry's payload (its ciphertext, wrapped key
 * and selector attributes) under a tombstone, and truncation of the
 * write-ahead log so erased bytes leave the disk (docs/FORMAT.md §3.4).
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

/* ---- erasure -------------------------------------------------------- */

/* Run a prepared single-index statement to completion. */
static int step_index(struct cl_ledger *l, sqlite3_stmt **st, const char *sql,
		      uint64_t index, char **err)
{
	int rc = cl_ledger_prepare(l, st, sql, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(*st, 1, (sqlite3_int64)index);
	rc = sqlite3_step(*st) == SQLITE_DONE ? CL_OK : cl_ledger_db_err(l, err, "erasing");
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
	char keymat[64];
	uint64_t tidx;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc, present, s;
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
			cl_ledger_db_err(l, err, "erasing");
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
	if ((rc = cl_attrix_erase(l, index, err)) ||
	    (rc = step_index(l, &l->st_er_key, "DELETE FROM sealed_key WHERE idx = ?1",
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
	/* The deletions above and this tombstone commit together, so an
	 * entry whose payload is gone has its tombstone; its key (§3.4)
	 * records each erasure once. */
	memset(&in, 0, sizeof(in));
	snprintf(keymat, sizeof(keymat), "chatledger/tombstone/v1/%llu",
		 (unsigned long long)index);
	in.key = keymat;
	in.key_len = strlen(keymat);
	in.type = CL_ENTRY_TOMBSTONE;
	in.kind = "tombstone";
	in.sent_at = CL_TIME_NONE;
	in.received_at = CL_TIME_NONE;
	in.conv_tag = lf.conv_tag;
	in.body = bodytxt;
	in.body_len = strlen(bodytxt);
	rc = cl_ledger_append(l, &in, &tidx, &dup, err);
	free(bodytxt);
	/* The scrub mark commits with the erasure: if this process dies
	 * before cl_ledger_scrub(), the next writer finishes it. */
	if (rc == CL_OK)
		rc = step_index(l, &l->st_er_mark, "INSERT OR REPLACE INTO meta(k, v)"
				" VALUES ('scrub-pending', ?1)", tidx, err);
	return rc;
}

/* The scrub mark's value (the latest erasure's tombstone index), or -1. */
static sqlite3_int64 scrub_mark(struct cl_ledger *l)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 v = -1;

	if (sqlite3_prepare_v2(l->db, "SELECT v FROM meta WHERE k = 'scrub-pending'",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Each attempt runs without SQLite's busy handler: a TRUNCATE checkpoint
 * holds SQLite's write lock while it waits for readers, and other
 * writers (which take no flock for this) must not stall behind it while a
 * long verify reads; between attempts the lock is free.
 */
static int scrub_tries(struct cl_ledger *l, int max_tries, char **err)
{
	int busy = 0, logn = 0, done = 0, tries, rc = CL_OK;
	sqlite3_int64 mark = scrub_mark(l);

	sqlite3_busy_timeout(l->db, 0);
	for (tries = 0; tries < max_tries; tries++) {
		if (sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
					      &logn, &done) == SQLITE_OK)
			goto clear;
		busy = (sqlite3_errcode(l->db) & 0xff) == SQLITE_BUSY ||
			(sqlite3_errcode(l->db) & 0xff) == SQLITE_LOCKED;
		if (!busy)
			break;
		usleep(100000);
	}
	rc = cl_error(err, CL_EIO, "cannot truncate the write-ahead log%s: %s",
		      busy ? " (a reader or writer holds it; run again)" : "",
		      sqlite3_errmsg(l->db));
	goto out;
clear:
	/* Every erasure committed before the mark was read is now out of
	 * the files.  A later one changed the mark and keeps it.  Clearing
	 * it writes only the meta page; a second truncation empties the log
	 * again when it can (best effort). */
	if (mark >= 0) {
		sqlite3_stmt *st = NULL;

		sqlite3_busy_timeout(l->db, CL_LEDGER_BUSY_MS);
		if (sqlite3_prepare_v2(l->db, "DELETE FROM meta WHERE k = 'scrub-pending'"
				       " AND v = ?1", -1, &st, NULL) != SQLITE_OK) {
			rc = cl_ledger_db_err(l, err, "clearing the scrub mark");
			goto out;
		}
		sqlite3_bind_int64(st, 1, mark);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = cl_ledger_db_err(l, err, "clearing the scrub mark");
		sqlite3_finalize(st);
		sqlite3_busy_timeout(l->db, 0);
		if (rc == CL_OK)
			(void)sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
							&logn, &done);
	}
out:
	sqlite3_busy_timeout(l->db, CL_LEDGER_BUSY_MS);
	return rc;
}

int cl_ledger_scrub(struct cl_ledger *l, char **err)
{
	return scrub_tries(l, 100, err);
}

void cl_ledger_scrub_pending(struct cl_ledger *l)
{
	char *e = NULL;

	if (scrub_mark(l) >= 0)
		(void)scrub_tries(l, 20, &e);
	free(e);
}
