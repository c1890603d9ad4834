/*
 * webhook_commit.c - the webhook's committer: the only thread that
 * touches the ledger.  It appends queued jobs in durable batches, resumes
 * their suspended requests, and commits the downloader's media results
 * (attachments or coverage entries) from media_pending (webhook_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ingest/import.h"
#include "archiver/sources/cloudapi.h"
#include "archiver/ingest/ingest.h"
#include "archiver/ledger/leaf.h"
#include "archiver/ingest/record.h"
#include "archiver/sources/webhook.h"
#include "archiver/sources/webhook_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- the committer -------------------------------------------------- */

static int db_fail(struct cl_webhook *w, char **err, const char *what)
{
	return cl_error(err, CL_EIO, "database error while %s: %s", what,
			sqlite3_errmsg(cl_ledger_sqlite(w->l)));
}

/* Run `sql` with up to three integer parameters and one text parameter
 * (bound as ?1..?3 and ?4; unused ones stay NULL).  For media_pending
 * only; on the committer's thread. */
static int pending_exec(struct cl_webhook *w, const char *sql, int64_t a,
			int64_t b, int64_t c, const char *t, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(w->l);
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_fail(w, err, "preparing a media_pending statement");
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	if (t)
		sqlite3_bind_text(st, 4, t, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(w, err, "updating media_pending");
	return CL_OK;
}

static int append_job(struct cl_webhook *w, struct job *j, char **err)
{
	size_t i;
	int rc = CL_OK;

	j->records = j->duplicates = j->quarantined = 0;
	for (i = 0; i < j->n && rc == CL_OK; i++) {
		struct item *it = &j->items[i];
		struct cl_entry_in in;
		uint64_t idx = 0;
		enum cl_append_outcome dup = CL_APPEND_NEW;

		if (it->bad) {
			rc = cl_ingest_quarantine(w->l, "cloudapi", "webhook", it->pos,
						  it->data, it->len, it->reason, &dup, err);
			if (rc == CL_OK && dup != CL_APPEND_DUPLICATE)
				j->quarantined++;
			continue;
		}
		if (it->compact) {
			/* Only the canonical bytes were kept (webhook.c,
			 * sink_record): derive the rest again.  Canonical
			 * bytes re-parse to the same record. */
			struct cl_record full;
			char *why = NULL;

			rc = cl_record_parse(it->rec.canonical, it->rec.canonical_len,
					     &full, &why);
			free(why);
			if (rc == CL_OK) {
				cl_ingest_entry_from_record(&in, &full);
				rc = cl_ledger_append(w->l, &in, &idx, &dup, err);
			} else {
				rc = cl_error(err, CL_EINVAL, "a held record no longer parses");
			}
			if (full.canonical)
				sodium_memzero(full.canonical, full.canonical_len);
			if (full.fp)
				sodium_memzero(full.fp, full.fp_len);
			cl_record_release(&full);
		} else if (it->prep) {
			/* Spent by its append (its key is wiped, even on
			 * failure): a retry seals the record again. */
			rc = cl_ledger_append_prepared(w->l, it->prep, &idx, &dup, err);
			if (j->ps)
				cl_presealer_put(j->ps, it->prep);
			else
				cl_prepared_free(it->prep);
			it->prep = NULL;
		} else {
			cl_ingest_entry_from_record(&in, &it->rec);
			rc = cl_ledger_append(w->l, &in, &idx, &dup, err);
		}
		/* A big job is alone in its batch and never retried: its
		 * records can go as soon as they are in the transaction. */
		if (j->big && it->compact) {
			sodium_memzero(it->rec.canonical, it->rec.canonical_len);
			cl_record_release(&it->rec);
			if ((i + 1) % TRIM_EVERY_ITEMS == 0)
				cl_webhook_release_memory();
		}
		if (rc == CL_OK) {
			if (dup == CL_APPEND_DUPLICATE)
				j->duplicates++;
			else
				j->records++;
		}
		/* A new record with media: download it (same transaction). */
		if (rc == CL_OK && dup != CL_APPEND_DUPLICATE && it->media_id && w->token)
			rc = pending_exec(w, "INSERT OR IGNORE INTO media_pending"
					  "(idx, media_id, attempts, next_at) "
					  "VALUES(?1, ?4, 0, ?2)", (int64_t)idx,
					  (int64_t)time(NULL), 0, it->media_id, err);
	}
	return rc;
}

/* webhook_state "delivered" += n, in the open transaction (a cached
 * statement, finalized when the committer ends). */
static int count_delivered(struct cl_webhook *w, uint64_t n, char **err)
{
	int s;

	if (n == 0)
		return CL_OK;
	if (w->st_delivered == NULL &&
	    sqlite3_prepare_v2(cl_ledger_sqlite(w->l), "INSERT INTO webhook_state(name, value,"
			       " updated_at) VALUES ('delivered', ?1, ?2) ON CONFLICT(name) DO"
			       " UPDATE SET value = value + ?1, updated_at = ?2", -1,
			       &w->st_delivered, NULL) != SQLITE_OK)
		return db_fail(w, err, "preparing the webhook_state update");
	sqlite3_bind_int64(w->st_delivered, 1, (sqlite3_int64)n);
	sqlite3_bind_int64(w->st_delivered, 2, cl_time_now_ms());
	s = sqlite3_step(w->st_delivered);
	sqlite3_reset(w->st_delivered);
	return s == SQLITE_DONE ? CL_OK : db_fail(w, err, "updating webhook_state");
}

/* Append `list` (only its first job if `one`) in one batch and commit;
 * on failure *err may hold a message (caller frees). */
static int commit_jobs(struct cl_webhook *w, struct job *list, int one,
		       char **err)
{
	struct job *j;
	uint64_t n = 0;
	int rc = cl_ledger_begin(w->l, err);

	for (j = list; rc == CL_OK && j; j = one ? NULL : j->next) {
		rc = append_job(w, j, err);
		n += j->records;
	}
	if (rc == CL_OK)
		rc = count_delivered(w, n, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(w->l, err);   /* rolls back on failure */
	else
		cl_ledger_rollback(w->l);
	return rc;
}

static void report(struct cl_webhook *w, int rc, const char *err,
		   size_t failed, size_t n)
{
	char msg[512];

	if (w->on_error == NULL)
		return;
	if (n > 1)
		(void)cl_fmt(msg, sizeof(msg), "%zu of %zu bodies not stored: %s", failed, n,
			 err ? err : cl_strerror(rc));
	else
		(void)cl_fmt(msg, sizeof(msg), "%s", err ? err : cl_strerror(rc));
	w->on_error(w->ctx, msg);
}

/* Commit `batch`; if that fails, each job alone, so that one body cannot
 * fail the others.  Sets every job's rc; returns the durable commits. */
static uint64_t commit_batch(struct cl_webhook *w, struct job *batch)
{
	struct job *j;
	char *err = NULL, *first = NULL;
	size_t n = 0, failed = 0;
	uint64_t commits = 0;
	int rc = commit_jobs(w, batch, 0, &err), first_rc = CL_OK;

	if (rc == CL_OK) {
		for (j = batch; j; j = j->next)
			j->rc = CL_OK;
		return 1;
	}
	if (batch->next == NULL) {
		batch->rc = rc;
		report(w, rc, err, 1, 1);
		free(err);
		return 0;
	}
	free(err);
	for (j = batch; j; j = j->next) {
		err = NULL;
		n++;
		j->rc = commit_jobs(w, j, 1, &err);
		if (j->rc == CL_OK) {
			commits++;
		} else if (failed++ == 0) {
			first = err;
			first_rc = j->rc;
			err = NULL;
		}
		free(err);
	}
	if (failed)
		report(w, first_rc, first, failed, n);
	free(first);
	return commits;
}

/* ---- media: the committer's side ---------------------------------- */

static void media_note(struct cl_webhook *w, const char *fmt, ...)
	CL_PRINTF_LIKE(2, 3);
static void media_note(struct cl_webhook *w, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (w->on_media == NULL)
		return;
	va_start(ap, fmt);
	(void)cl_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->on_media(w->ctx, msg);
}

static int append_coverage(struct cl_webhook *w, const char *kind,
			   const char *body, char **err)
{
	struct cl_entry_in in;
	uint64_t idx;
	enum cl_append_outcome dup;

	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.body = body;
	in.body_len = strlen(body);
	return cl_ledger_append(w->l, &in, &idx, &dup, err);
}

/* The downloaded bytes of `d` as an attachment of entry d->idx, in the
 * parent's conversation chain (its tag, read from its leaf: the
 * conversation itself is sealed). */
static int append_attachment(struct cl_webhook *w, const struct dl *d,
			     enum cl_append_outcome *dup, char **err)
{
	struct cl_buf leafb, key;
	struct cl_leaf lf;
	struct cl_entry_in in;
	char body[64];
	uint64_t idx;
	int rc;

	cl_buf_init(&leafb, 1u << 20);
	cl_buf_init(&key, 256);
	if ((rc = cl_ledger_leaf(w->l, d->idx, &leafb, err)) ||
	    (rc = cl_leaf_decode(leafb.data, leafb.len, &lf, err)) ||
	    (rc = cl_buf_addf(&key, "chatledger/media/v1/%s", d->media_id)))
		goto out;
	(void)cl_fmt(body, sizeof(body), "{\"attachment_of\":%llu}",
		 (unsigned long long)d->idx);
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_RECORD;
	in.kind = "attachment";
	in.sent_at = lf.sent_at;
	in.received_at = cl_time_now_ms();
	in.key = key.data;
	in.key_len = key.len;
	in.conv_tag = lf.conv_tag;
	in.plaintext = d->data;
	in.plaintext_len = d->len;
	in.body = body;
	in.body_len = strlen(body);
	rc = cl_ledger_append(w->l, &in, &idx, dup, err);
out:
	cl_buf_release(&leafb);
	cl_buf_release(&key);
	return rc;
}

/* Commit the outcome of download `d` (one batch); CL_OK if done. */
static int commit_media(struct cl_webhook *w, const struct dl *d)
{
	char body[128], *err = NULL;
	unsigned n = d->attempts + 1;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int abandon = 0, rc = cl_ledger_begin(w->l, &err);

	if (rc == CL_OK && d->ok) {
		rc = append_attachment(w, d, &dup, &err);
		if (rc == CL_OK)
			rc = pending_exec(w, "DELETE FROM media_pending WHERE idx = ?1",
					  (int64_t)d->idx, 0, 0, NULL, &err);
	} else if (rc == CL_OK) {
		int64_t delay = w->retry_base;
		unsigned k;

		for (k = 0; k < n && delay < CL_WEBHOOK_MEDIA_RETRY_MAX; k++)
			delay *= 2;
		if (delay > CL_WEBHOOK_MEDIA_RETRY_MAX)
			delay = CL_WEBHOOK_MEDIA_RETRY_MAX;
		abandon = n >= CL_WEBHOOK_MEDIA_ATTEMPTS || d->too_big;
		(void)cl_fmt(body, sizeof(body), "{\"entry\":%llu,\"attempt\":%u,\"status\":%ld}",
			 (unsigned long long)d->idx, n, d->status);
		rc = append_coverage(w, "media-download-failed", body, &err);
		if (rc == CL_OK && abandon) {
			(void)cl_fmt(body, sizeof(body), "{\"entry\":%llu,\"attempts\":%u}",
				 (unsigned long long)d->idx, n);
			rc = append_coverage(w, "media-download-abandoned", body, &err);
			if (rc == CL_OK)
				rc = pending_exec(w, "DELETE FROM media_pending WHERE idx = ?1",
						  (int64_t)d->idx, 0, 0, NULL, &err);
		} else if (rc == CL_OK) {
			rc = pending_exec(w, "UPDATE media_pending SET attempts = ?2, "
					  "next_at = ?3 WHERE idx = ?1", (int64_t)d->idx,
					  (int64_t)n, (int64_t)time(NULL) + delay, NULL, &err);
		}
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(w->l, &err);
	else
		cl_ledger_rollback(w->l);
	if (rc != CL_OK) {
		/* The row is unchanged: the download is tried again. */
		media_note(w, "media of entry %llu: cannot store the outcome: %s",
			   (unsigned long long)d->idx, err ? err : cl_strerror(rc));
		free(err);
		return rc;
	}
	pthread_mutex_lock(&w->mu);
	w->st.commits++;
	if (d->ok && dup != CL_APPEND_DUPLICATE)
		w->st.media_stored++;
	if (!d->ok)
		w->st.media_failed++;
	if (abandon)
		w->st.media_abandoned++;
	pthread_mutex_unlock(&w->mu);
	if (d->ok)
		media_note(w, "media of entry %llu stored (%zu bytes%s)",
			   (unsigned long long)d->idx, d->len,
			   dup == CL_APPEND_DUPLICATE ? ", already archived" : "");
	else if (abandon)
		media_note(w, "media of entry %llu: attempt %u failed (HTTP %ld); "
			   "abandoned", (unsigned long long)d->idx, n, d->status);
	else
		media_note(w, "media of entry %llu: attempt %u failed (HTTP %ld); "
			   "will retry", (unsigned long long)d->idx, n, d->status);
	return CL_OK;
}

/*
 * The earliest due row of media_pending into *d (1), or 0 and *next set
 * to when the next row is due (INT64_MAX if none).  -1 on a database
 * error (reported; looked at again a minute later).
 */
static int pick_due(struct cl_webhook *w, struct dl *d, int64_t *next)
{
	sqlite3 *db = cl_ledger_sqlite(w->l);
	sqlite3_stmt *st = NULL;
	int64_t now = (int64_t)time(NULL);
	int found = 0, rc;

	*next = INT64_MAX;
	if (sqlite3_prepare_v2(db, "SELECT idx, media_id, attempts, next_at FROM "
			       "media_pending ORDER BY next_at, idx LIMIT 1", -1, &st,
			       NULL) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *id = sqlite3_column_text(st, 1);
		int64_t at = sqlite3_column_int64(st, 3);

		if (at > now) {
			*next = at;
		} else if (id == NULL || !cl_webhook_media_id_ok((const char *)id) ||
			   sqlite3_column_int64(st, 0) < 0) {
			sqlite3_finalize(st);
			media_note(w, "media_pending holds a bad row; it is ignored");
			*next = now + 60;
			return 0;
		} else {
			memset(d, 0, sizeof(*d));
			d->idx = (uint64_t)sqlite3_column_int64(st, 0);
			(void)cl_fmt(d->media_id, sizeof(d->media_id), "%s", (const char *)id);
			d->attempts = (unsigned)sqlite3_column_int64(st, 2);
			found = 1;
		}
	} else if (rc != SQLITE_DONE) {
		goto fail;
	}
	sqlite3_finalize(st);
	return found;
fail:
	sqlite3_finalize(st);
	media_note(w, "cannot read media_pending: %s", sqlite3_errmsg(db));
	*next = now + 60;
	return -1;
}

void *cl_webhook_committer_main(void *arg)
{
	struct cl_webhook *w = arg;
	struct job *batch, *j, *next;

	/* One key batch serves the commits of a busy spell (ledger.h); it
	 * ends once the committer has been idle for CL_KEY_BATCH_MS. */
	cl_ledger_key_batches(w->l, 1);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t commits;

		if (w->head == NULL && !w->quit) {
			struct timespec until;
			long long kb;
			int timed;

			if (w->dl_done) {
				struct dl d = w->dl;
				int mrc;

				w->dl_done = 0;
				memset(&w->dl, 0, sizeof(w->dl));
				pthread_mutex_unlock(&w->mu);
				mrc = commit_media(w, &d);
				if (d.data)
					sodium_memzero(d.data, d.len);
				free(d.data);
				pthread_mutex_lock(&w->mu);
				w->dl_busy = 0;
				/* After a failed commit, do not spin on the row. */
				w->next_check = mrc == CL_OK ? 0
					: (int64_t)time(NULL) + w->retry_base;
				continue;
			}
			if (w->token && !w->dl_busy && w->next_check <= (int64_t)time(NULL)) {
				struct dl d;
				int64_t when;
				int got;

				pthread_mutex_unlock(&w->mu);
				got = pick_due(w, &d, &when);
				pthread_mutex_lock(&w->mu);
				if (got == 1) {
					w->dl = d;
					w->dl_busy = w->dl_has_task = 1;
					pthread_cond_signal(&w->dl_cond);
				} else {
					w->next_check = when;
				}
				continue;
			}
			/* Sleep until work comes, or until the earlier of: the
			 * open key batch's end, the next media check. */
			kb = cl_ledger_key_batch_idle(w->l);
			timed = kb >= 0;
			if (timed)
				cl_deadline(CLOCK_REALTIME, kb * 1000000L, &until);
			if (w->token && !w->dl_busy && w->next_check != INT64_MAX &&
			    (!timed || (time_t)w->next_check < until.tv_sec)) {
				until.tv_sec = (time_t)w->next_check;
				until.tv_nsec = 0;
				timed = 1;
			}
			if (timed)
				(void)pthread_cond_timedwait(&w->work, &w->mu, &until);
			else
				pthread_cond_wait(&w->work, &w->mu);
			continue;
		}
		if (w->head == NULL)
			break;
		/* The jobs queued now, in one batch; but a big job goes
		 * alone (append_job frees its records as it goes, so it
		 * cannot be retried as part of another batch). */
		batch = w->head;
		if (batch->big) {
			j = batch;
		} else {
			for (j = batch; j->next && !j->next->big; j = j->next)
				;
		}
		w->head = j->next;
		if (w->head == NULL)
			w->tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&w->mu);

		commits = commit_batch(w, batch);

		pthread_mutex_lock(&w->mu);
		w->st.commits += commits;
		w->next_check = 0;   /* new rows may be due */
		for (j = batch; j; j = j->next)
			j->done = 1;
		pthread_mutex_unlock(&w->mu);
		/* Wake the requests.  A resumed request may free its job at
		 * once: read `next` first. */
		for (j = batch; j; j = next) {
			next = j->next;
			MHD_resume_connection(j->conn);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	cl_ledger_key_batches(w->l, 0);
	sqlite3_finalize(w->st_delivered);
	w->st_delivered = NULL;
	return NULL;
}

