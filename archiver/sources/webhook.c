/*
 * webhook.c - the Cloud API webhook receiver (webhook.h).
 *
 * Threads: libmicrohttpd's pool (event-driven, a few threads for any
 * number of connections) and our committer, the only thread that touches
 * the ledger.  A request whose body is ready is suspended
 * (MHD_suspend_connection) and its job queued; the committer resumes it
 * once the job is durable or failed, and the request is answered from the
 * pool.  Shared state is guarded by w->mu: the job queue, the in-flight
 * count, the statistics, each job's outcome, the media hand-over.
 *
 * Media (webhook.h): a third thread, the downloader, does the HTTP work
 * of one pending download at a time and never touches the ledger.  The
 * committer (which alone reads and writes media_pending) hands it a due
 * row (w->dl_task, w->dl_busy) and, once the result is back (w->dl_done),
 * commits it.  Requests always go first: a result waits while jobs are
 * queued.
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
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SIG_HEADER "X-Hub-Signature-256"
#define SIG_PREFIX "sha256="
#define LOG_PATH_MAX 192u  /* bytes of the escaped path in the log */
#define DISCARD_FACTOR 4u   /* an oversize chunked body is read (and thrown
			       away) up to this many times max_body, then
			       the connection is closed */

/* ---- jobs: one checked, parsed body on its way to the ledger -------- */

struct item {
	int bad;                 /* 0: a valid record; 1: a bad item */
	uint64_t pos;            /* its position, as ingest numbers it */
	struct cl_record rec;    /* if !bad */
	unsigned char *data;     /* if bad: its bytes (malloc'd) */
	size_t len;
	char *reason;            /* if bad (malloc'd) */
	char *media_id;          /* if !bad and the record has Cloud API
				    media to download (malloc'd) */
};

struct job {
	struct item *items;
	size_t n, cap;
	uint64_t nrec;           /* records emitted so far */
	int done;                /* set by the committer under w->mu */
	int rc;
	int refused;             /* not queued: the server is stopping */
	int media;               /* note media ids (download enabled) */
	uint64_t records, duplicates, quarantined;
	struct MHD_Connection *conn;  /* suspended until the job is done */
	struct job *next;
};

enum { M_GET, M_POST, M_OTHER };

/* One pending download: the task the committer hands over, and the
 * result the downloader hands back. */
struct dl {
	uint64_t idx;            /* the parent record's entry */
	char media_id[129];
	unsigned attempts;       /* failures so far */
	int ok;
	int too_big;             /* larger than CL_WEBHOOK_MEDIA_MAX: give up */
	long status;             /* HTTP status of the failing step, or 0 */
	unsigned char *data;     /* ok: the media bytes (malloc'd) */
	size_t len;
};

/* One HTTP request, from its first call to its completion callback. */
struct req {
	int method;
	char method_s[16];
	char path[LOG_PATH_MAX + 4];
	struct cl_buf body;
	size_t seen;             /* body bytes received (kept or not) */
	int too_big;
	int replied;
	unsigned status;
	const char *reason;
	uint64_t records, duplicates, quarantined;
	int64_t started;         /* monotonic ms */
	struct job *job;         /* queued, owned by the request */
};

struct cl_webhook {
	struct cl_ledger *l;
	struct MHD_Daemon *d;
	int lfd;                                 /* listening socket */
	crypto_auth_hmacsha256_state *mac;       /* keyed with the app secret */
	unsigned char *tok_key;                  /* random key for hashing tokens */
	unsigned char *tok_hash;                 /* keyed hash of the verify token */
	size_t max_body;
	char addr[INET6_ADDRSTRLEN + 16];
	void (*on_request)(void *ctx, const struct cl_webhook_request *r);
	void (*on_error)(void *ctx, const char *msg);
	void *ctx;

	pthread_mutex_t mu;
	pthread_cond_t work;     /* committer: the queue is not empty, or stop */
	pthread_cond_t idle;     /* stop: in-flight count changed */
	struct job *head, *tail;
	int stopping;            /* answer 503 to new requests */
	int quit;                /* committer: drain the queue and exit */
	unsigned inflight;
	pthread_t committer;
	int have_committer;
	struct cl_webhook_stats st;

	/* media download (enabled iff token != NULL) */
	unsigned char *token;    /* sodium_malloc'd, read-only */
	size_t token_len;
	char *media_url;         /* without a trailing '/' */
	unsigned retry_base;     /* seconds */
	void (*on_media)(void *ctx, const char *msg);
	pthread_cond_t dl_cond;  /* downloader: a task, or dl_quit */
	pthread_t downloader;
	int have_downloader;
	int dl_busy;             /* a task is out (until its result is committed) */
	int dl_has_task;         /* the downloader has not taken it yet */
	int dl_done;             /* its result is back */
	int dl_quit;             /* downloader: abort and exit */
	struct dl dl;            /* the task, then its result */
	int64_t next_check;      /* s: when media_pending is next worth a look */
	int curl_inited;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy at most `max` bytes of `s` into `out` for the log, escaping every
 * byte outside printable ASCII (and '%', '"', '\\') as %XX. */
static void sanitise(char *out, size_t cap, const char *s, size_t max)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i;

	for (i = 0; s && s[i] && i < max && o + 4 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch > 0x20 && ch < 0x7f && ch != '%' && ch != '"' && ch != '\\') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (s && s[i] && o + 4 <= cap) {
		out[o++] = '.';
		out[o++] = '.';
		out[o++] = '.';
	}
	out[o] = 0;
}

/* Jansson's messages may quote the offending token ("near 'foo'"): keep
 * only the part before it so no content reaches a reason. */
static void scrub_reason(char *s)
{
	char *p = strstr(s, " near ");

	if (p)
		*p = 0;
}

/* A media id as sent by the Cloud API: digits in practice; we accept
 * 1..128 of [A-Za-z0-9_-] so that it is safe as one URL path segment. */
static int media_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= 128 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return i > 0;
}

/* The media id of a normalised Cloud API record (import_cloudapi.c puts
 * the message's media object, id included, under "media"), or NULL. */
static char *record_media_id(const struct cl_record *rec)
{
	json_t *r = json_loadb(rec->canonical, rec->canonical_len, 0, NULL);
	json_t *m = r ? json_object_get(r, "media") : NULL;
	const char *id = m ? json_string_value(json_object_get(m, "id")) : NULL;
	char *out = id && media_id_ok(id) ? strdup(id) : NULL;

	json_decref(r);
	return out;
}

static void job_free(struct job *j)
{
	size_t i;

	if (j == NULL)
		return;
	for (i = 0; i < j->n; i++) {
		struct item *it = &j->items[i];

		if (it->bad) {
			if (it->data)
				sodium_memzero(it->data, it->len);
			free(it->data);
			free(it->reason);
		} else {
			if (it->rec.canonical)
				sodium_memzero(it->rec.canonical, it->rec.canonical_len);
			cl_record_release(&it->rec);
			free(it->media_id);
		}
	}
	free(j->items);
	free(j);
}

static struct item *job_push(struct job *j)
{
	if (j->n == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 8;
		struct item *p = realloc(j->items, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		j->items = p;
		j->cap = cap;
	}
	memset(&j->items[j->n], 0, sizeof(j->items[0]));
	return &j->items[j->n++];
}

static int push_bad(struct job *j, uint64_t pos, const unsigned char *data,
		    size_t len, const char *reason)
{
	struct item *it = job_push(j);

	if (it == NULL)
		return CL_ENOMEM;
	it->bad = 1;
	it->pos = pos;
	it->data = malloc(len ? len : 1);
	it->reason = strdup(reason ? reason : "invalid item");
	if (it->data == NULL || it->reason == NULL)
		return CL_ENOMEM;   /* job_free() releases the half-made item */
	memcpy(it->data, data, len);
	it->len = len;
	return CL_OK;
}

/* The importer's sinks, run in the request thread: validate now, append
 * later (in the committer). */
static int sink_record(void *ctx, const char *json, size_t len)
{
	struct job *j = ctx;
	struct item *it;
	char *why = NULL;
	int rc;

	j->nrec++;
	it = job_push(j);
	if (it == NULL)
		return CL_ENOMEM;
	it->pos = j->nrec;
	rc = cl_record_parse(json, len, &it->rec, &why);
	if (rc == CL_EINVAL) {
		/* Not a valid record after all: quarantine it like ingest. */
		if (it->rec.canonical)
			sodium_memzero(it->rec.canonical, it->rec.canonical_len);
		cl_record_release(&it->rec);
		j->n--;
		if (why)
			scrub_reason(why);
		rc = push_bad(j, j->nrec, (const unsigned char *)json, len,
			      why ? why : "invalid record");
	} else if (rc) {
		cl_record_release(&it->rec);
		j->n--;
	} else if (j->media) {
		/* NULL (no media, or out of memory) just means no download. */
		it->media_id = record_media_id(&it->rec);
	}
	free(why);
	return rc;
}

static int sink_bad(void *ctx, uint64_t item, const unsigned char *data,
		    size_t len, const char *reason)
{
	return push_bad(ctx, item, data, len, reason);
}

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
		uint64_t idx;
		int dup = 0;

		if (it->bad) {
			rc = cl_ingest_quarantine(w->l, "cloudapi", "webhook", it->pos,
						  it->data, it->len, it->reason, &dup, err);
			if (rc == CL_OK && dup != 1)
				j->quarantined++;
			continue;
		}
		cl_ingest_entry_from_record(&in, &it->rec);
		rc = cl_ledger_append(w->l, &in, &idx, &dup, err);
		if (rc == CL_OK) {
			if (dup == 1)
				j->duplicates++;
			else
				j->records++;
		}
		/* A new record with media: download it (same transaction). */
		if (rc == CL_OK && dup != 1 && it->media_id && w->token)
			rc = pending_exec(w, "INSERT OR IGNORE INTO media_pending"
					  "(idx, media_id, attempts, next_at) "
					  "VALUES(?1, ?4, 0, ?2)", (int64_t)idx,
					  (int64_t)time(NULL), 0, it->media_id, err);
	}
	return rc;
}

/* Append `list` (only its first job if `one`) in one batch and commit;
 * on failure *err may hold a message (caller frees). */
static int commit_jobs(struct cl_webhook *w, struct job *list, int one,
		       char **err)
{
	struct job *j;
	int rc = cl_ledger_begin(w->l, err);

	for (j = list; rc == CL_OK && j; j = one ? NULL : j->next)
		rc = append_job(w, j, err);
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
		snprintf(msg, sizeof(msg), "%zu of %zu bodies not stored: %s", failed, n,
			 err ? err : cl_strerror(rc));
	else
		snprintf(msg, sizeof(msg), "%s", err ? err : cl_strerror(rc));
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
	__attribute__((format(printf, 2, 3)));
static void media_note(struct cl_webhook *w, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (w->on_media == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->on_media(w->ctx, msg);
}

static int append_coverage(struct cl_webhook *w, const char *kind,
			   const char *body, char **err)
{
	struct cl_entry_in in;
	uint64_t idx;
	int dup;

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
			     int *dup, char **err)
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
	snprintf(body, sizeof(body), "{\"attachment_of\":%llu}",
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
	int dup = 0, abandon = 0, rc = cl_ledger_begin(w->l, &err);

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
		snprintf(body, sizeof(body), "{\"entry\":%llu,\"attempt\":%u,\"status\":%ld}",
			 (unsigned long long)d->idx, n, d->status);
		rc = append_coverage(w, "media-download-failed", body, &err);
		if (rc == CL_OK && abandon) {
			snprintf(body, sizeof(body), "{\"entry\":%llu,\"attempts\":%u}",
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
	if (d->ok && dup != 1)
		w->st.media_stored++;
	if (!d->ok)
		w->st.media_failed++;
	if (abandon)
		w->st.media_abandoned++;
	pthread_mutex_unlock(&w->mu);
	if (d->ok)
		media_note(w, "media of entry %llu stored (%zu bytes%s)",
			   (unsigned long long)d->idx, d->len,
			   dup == 1 ? ", already archived" : "");
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
		} else if (id == NULL || !media_id_ok((const char *)id) ||
			   sqlite3_column_int64(st, 0) < 0) {
			sqlite3_finalize(st);
			media_note(w, "media_pending holds a bad row; it is ignored");
			*next = now + 60;
			return 0;
		} else {
			memset(d, 0, sizeof(*d));
			d->idx = (uint64_t)sqlite3_column_int64(st, 0);
			snprintf(d->media_id, sizeof(d->media_id), "%s", (const char *)id);
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

static void *committer_main(void *arg)
{
	struct cl_webhook *w = arg;
	struct job *batch, *j, *next;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		uint64_t commits;

		if (w->head == NULL && !w->quit) {
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
			if (w->token && !w->dl_busy && w->next_check != INT64_MAX) {
				struct timespec until;

				until.tv_sec = (time_t)w->next_check;
				until.tv_nsec = 0;
				pthread_cond_timedwait(&w->work, &w->mu, &until);
			} else {
				pthread_cond_wait(&w->work, &w->mu);
			}
			continue;
		}
		if (w->head == NULL)
			break;
		batch = w->head;
		w->head = w->tail = NULL;
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
	return NULL;
}

/* ---- media: the downloader ----------------------------------------- */

struct sink {
	struct cl_webhook *w;
	struct cl_buf *b;
	size_t max;
	int over;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *k = ctx;
	size_t len = size * n;

	if (k->b->len + len > k->max) {
		k->over = 1;
		return 0;   /* aborts the transfer */
	}
	if (cl_buf_add(k->b, p, len) != CL_OK)
		return 0;
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct sink *k = ctx;
	int quit;

	(void)dt; (void)dn; (void)ut; (void)un;
	pthread_mutex_lock(&k->w->mu);
	quit = k->w->dl_quit;
	pthread_mutex_unlock(&k->w->mu);
	return quit;   /* non-zero aborts */
}

/* GET `url` with the bearer header into `out` (at most `max` bytes).
 * 1 on HTTP 200, else 0 with *status the HTTP status (0 if none). */
static int http_get(struct cl_webhook *w, const char *url,
		    struct curl_slist *hdr, size_t max, struct cl_buf *out,
		    long *status, int *too_big)
{
	CURL *c = curl_easy_init();
	struct sink k = { w, out, max, 0 };
	CURLcode cc;

	*status = 0;
	if (c == NULL)
		return 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  /* never re-send the token */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CL_WEBHOOK_MEDIA_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &k);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chatledger-webhook");
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	if (cc == CURLE_OK && *status == 200)
		return 1;
	if (k.over || cc == CURLE_FILESIZE_EXCEEDED)
		*too_big = 1;
	if (*status == 200)
		*status = 0;   /* a transfer error after the headers */
	return 0;
}

/* The whole download of d->media_id; fills d->ok, status, data, len. */
static void download(struct cl_webhook *w, struct dl *d)
{
	struct curl_slist *hdr = NULL;
	struct cl_buf meta, file;
	char *h = sodium_malloc(w->token_len + 32), *url = NULL;
	json_t *j = NULL;
	const char *u;
	size_t i;

	cl_buf_init(&meta, 64u << 10);
	cl_buf_init(&file, CL_WEBHOOK_MEDIA_MAX);
	d->ok = 0;
	d->status = 0;
	if (h == NULL)
		return;
	memcpy(h, "Authorization: Bearer ", 22);
	memcpy(h + 22, w->token, w->token_len);
	h[22 + w->token_len] = 0;
	hdr = curl_slist_append(NULL, h);
	sodium_memzero(h, w->token_len + 32);
	sodium_free(h);
	if (hdr == NULL || asprintf(&url, "%s/%s", w->media_url, d->media_id) < 0) {
		url = NULL;
		goto out;
	}
	if (!http_get(w, url, hdr, 64u << 10, &meta, &d->status, &d->too_big) ||
	    meta.len == 0) {
		d->too_big = 0;   /* an oversize answer here is just unusable */
		if (d->status == 200)
			d->status = 0;
		goto out;
	}
	j = json_loadb((const char *)meta.data, meta.len, 0, NULL);
	u = j ? json_string_value(json_object_get(j, "url")) : NULL;
	d->status = 0;   /* from here on, 0 if the answer is unusable */
	if (u == NULL || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
		goto out;
	for (i = 0; u[i]; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			goto out;
	if (!http_get(w, u, hdr, CL_WEBHOOK_MEDIA_MAX, &file, &d->status, &d->too_big)) {
		if (d->too_big)
			d->status = 413;
		goto out;
	}
	d->ok = 1;
	d->status = 200;
	d->data = file.data;
	d->len = file.len;
	file.data = NULL;
out:
	if (hdr) {
		sodium_memzero(hdr->data, strlen(hdr->data));
		curl_slist_free_all(hdr);
	}
	json_decref(j);
	free(url);
	if (meta.data)
		sodium_memzero(meta.data, meta.alloc);
	if (file.data)
		sodium_memzero(file.data, file.alloc);
	cl_buf_release(&meta);
	cl_buf_release(&file);
}

static void *downloader_main(void *arg)
{
	struct cl_webhook *w = arg;
	struct dl d;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->dl_has_task && !w->dl_quit)
			pthread_cond_wait(&w->dl_cond, &w->mu);
		if (w->dl_quit)
			break;
		d = w->dl;
		w->dl_has_task = 0;
		pthread_mutex_unlock(&w->mu);
		download(w, &d);
		pthread_mutex_lock(&w->mu);
		if (w->dl_quit) {   /* aborted or late: the row stays due */
			if (d.data)
				sodium_memzero(d.data, d.len);
			free(d.data);
			break;
		}
		w->dl = d;
		w->dl_done = 1;
		pthread_cond_signal(&w->work);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Suspend the request on `c` and queue its job for the committer, which
 * resumes it when the job is done.  CL_EINVAL (nothing queued, not
 * suspended) once the committer has been told to quit.  MHD's own locks
 * are never taken while holding w->mu.
 */
static int submit(struct cl_webhook *w, struct job *j, struct MHD_Connection *c)
{
	int quit;

	pthread_mutex_lock(&w->mu);
	quit = w->quit;
	pthread_mutex_unlock(&w->mu);
	if (quit)
		return CL_EINVAL;
	j->conn = c;
	j->next = NULL;
	MHD_suspend_connection(c);
	pthread_mutex_lock(&w->mu);
	quit = w->quit;
	if (!quit) {
		/* The committer exits only once it has seen quit with an empty
		 * queue, so this job will be done. */
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		pthread_cond_signal(&w->work);
	} else {
		j->done = 1;
		j->refused = 1;
	}
	pthread_mutex_unlock(&w->mu);
	if (quit)
		MHD_resume_connection(c);   /* answered 503 by finish_job() */
	return CL_OK;
}

/* ---- HTTP ----------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, struct req *r,
			     unsigned status, const char *reason,
			     const char *text, int close)
{
	struct MHD_Response *resp;
	char buf[CL_WEBHOOK_MAX_CHALLENGE + 64];
	size_t n = strlen(text);
	enum MHD_Result ret;

	r->replied = 1;
	r->reason = reason;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, text, n);
	resp = MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, POST");
	if (close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		r->status = status;
	return ret;
}

static void token_hash(const struct cl_webhook *w, const void *p, size_t n,
		       unsigned char out[32])
{
	crypto_generichash(out, 32, p, n, w->tok_key, crypto_generichash_KEYBYTES);
}

static enum MHD_Result handshake(struct cl_webhook *w, struct MHD_Connection *c,
				 struct req *r)
{
	const char *mode = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "hub.mode");
	const char *tok = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						      "hub.verify_token");
	const char *ch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
						     "hub.challenge");
	unsigned char h[32];
	size_t i, n;
	int match;

	if (mode == NULL && tok == NULL)
		return reply(c, r, MHD_HTTP_BAD_REQUEST, "not a verification request",
			     "not a verification request\n", 0);
	if (mode == NULL || strcmp(mode, "subscribe") != 0)
		return reply(c, r, MHD_HTTP_FORBIDDEN, "bad hub.mode", "forbidden\n", 0);
	/* Keyed hashes of both sides, compared in constant time: neither
	 * the content nor the length of the token leaks through timing. */
	token_hash(w, tok ? tok : "", tok ? strlen(tok) : 0, h);
	match = tok != NULL && sodium_memcmp(h, w->tok_hash, 32) == 0;
	sodium_memzero(h, sizeof(h));
	if (!match)
		return reply(c, r, MHD_HTTP_FORBIDDEN, "wrong verify token", "forbidden\n", 0);
	n = ch ? strlen(ch) : 0;
	if (n == 0 || n > CL_WEBHOOK_MAX_CHALLENGE)
		return reply(c, r, MHD_HTTP_BAD_REQUEST, "bad hub.challenge",
			     "bad hub.challenge\n", 0);
	for (i = 0; i < n; i++)
		if ((unsigned char)ch[i] <= 0x20 || (unsigned char)ch[i] >= 0x7f)
			return reply(c, r, MHD_HTTP_BAD_REQUEST, "bad hub.challenge",
				     "bad hub.challenge\n", 0);
	return reply(c, r, MHD_HTTP_OK, "verified", ch, 0);
}

/* 1 if `hdr` is "sha256=<64 hex>" and equals the HMAC of the body. */
static int signature_ok(const struct cl_webhook *w, const char *hdr,
			const struct req *r)
{
	crypto_auth_hmacsha256_state st;
	unsigned char want[32], got[32];
	size_t glen = 0;
	const char *end = NULL;
	int ok;

	if (hdr == NULL || strncmp(hdr, SIG_PREFIX, strlen(SIG_PREFIX)) != 0)
		return 0;
	hdr += strlen(SIG_PREFIX);
	if (strlen(hdr) != 64 ||
	    sodium_hex2bin(got, sizeof(got), hdr, 64, NULL, &glen, &end) != 0 ||
	    glen != 32 || *end != 0)
		return 0;
	memcpy(&st, w->mac, sizeof(st));
	crypto_auth_hmacsha256_update(&st, r->body.data ? r->body.data
				      : (const unsigned char *)"", r->body.len);
	crypto_auth_hmacsha256_final(&st, want);
	ok = sodium_memcmp(want, got, 32) == 0;
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(want, sizeof(want));
	return ok;
}

static enum MHD_Result finish_post(struct cl_webhook *w,
				   struct MHD_Connection *c, struct req *r)
{
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, SIG_HEADER);
	struct cl_import_sink sink;
	struct job *j;
	uint64_t nitems = 0;
	char *err = NULL;
	enum MHD_Result ret;
	int rc;

	if (r->too_big)
		return reply(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "body too large",
			     "body too large\n", 1);
	if (sig == NULL)
		return reply(c, r, MHD_HTTP_UNAUTHORIZED, "no signature",
			     "missing X-Hub-Signature-256\n", 0);
	if (!signature_ok(w, sig, r))
		return reply(c, r, MHD_HTTP_UNAUTHORIZED, "bad signature",
			     "bad signature\n", 0);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory",
			     "internal error\n", 0);
	j->media = w->token != NULL;
	memset(&sink, 0, sizeof(sink));
	sink.ctx = j;
	sink.record = sink_record;
	sink.bad = sink_bad;
	rc = cl_cloudapi_import_body(r->body.data ? (const char *)r->body.data : "",
				     r->body.len, &sink, &nitems, &err);
	free(err);
	if (rc == CL_EINVAL) {
		ret = reply(c, r, MHD_HTTP_BAD_REQUEST, "not a WhatsApp webhook body",
			    "not a WhatsApp Business Account webhook body\n", 0);
	} else if (rc && rc != CL_EPARTIAL) {
		ret = reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "import failed",
			    "internal error\n", 0);
	} else if (j->n == 0) {
		ret = reply(c, r, MHD_HTTP_OK, "nothing to store", "ok\n", 0);
	} else if (submit(w, j, c) != CL_OK) {
		ret = reply(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping",
			    "stopping\n", 1);
	} else {
		r->job = j;   /* answered by finish_job() once resumed */
		return MHD_YES;
	}
	job_free(j);
	return ret;
}

/* The request's job is done (the committer resumed it): answer. */
static enum MHD_Result finish_job(struct cl_webhook *w, struct MHD_Connection *c,
				  struct req *r)
{
	struct job *j = r->job;
	enum MHD_Result ret;
	int rc, refused;

	pthread_mutex_lock(&w->mu);
	rc = j->done ? j->rc : CL_EINVAL;
	refused = j->refused;
	pthread_mutex_unlock(&w->mu);
	if (refused) {
		ret = reply(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping",
			    "stopping\n", 1);
	} else if (rc != CL_OK) {
		ret = reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "commit failed",
			    "not stored\n", 0);
	} else {
		r->records = j->records;
		r->duplicates = j->duplicates;
		r->quarantined = j->quarantined;
		ret = reply(c, r, MHD_HTTP_OK, "stored", "ok\n", 0);
	}
	r->job = NULL;
	job_free(j);
	return ret;
}

static struct req *req_new(const char *method, const char *url, size_t max_body)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
		r->method = M_GET;
	else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		r->method = M_POST;
	else
		r->method = M_OTHER;
	sanitise(r->method_s, sizeof(r->method_s), method, 10);
	sanitise(r->path, sizeof(r->path), url, LOG_PATH_MAX / 3);   /* %XX */
	cl_buf_init(&r->body, max_body);
	r->started = mono_ms();
	return r;
}

static void req_free(struct req *r)
{
	job_free(r->job);   /* only if the connection died before its answer */
	if (r->body.data)
		sodium_memzero(r->body.data, r->body.alloc);
	cl_buf_release(&r->body);
	free(r);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
				 const char *url, const char *method,
				 const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct cl_webhook *w = cls;
	struct req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		const char *h;
		int stopping;

		r = req_new(method, url, w->max_body);
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		pthread_mutex_lock(&w->mu);
		w->inflight++;
		stopping = w->stopping;
		pthread_mutex_unlock(&w->mu);
		if (stopping)
			return reply(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping",
				     "stopping\n", 1);
		if (r->method == M_GET)
			return handshake(w, c, r);
		if (r->method != M_POST)
			return reply(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
				     "method not allowed\n", 0);
		h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (h != NULL) {
			char *end = NULL;
			unsigned long long clen;

			errno = 0;
			clen = strtoull(h, &end, 10);
			if (errno || end == h || *end || clen > w->max_body)
				return reply(c, r, MHD_HTTP_CONTENT_TOO_LARGE,
					     "body too large", "body too large\n", 1);
			if (cl_buf_reserve(&r->body, (size_t)clen) != CL_OK)
				return MHD_NO;
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->replied)
			return MHD_YES;
		if (mono_ms() - r->started > (int64_t)CL_WEBHOOK_UPLOAD_DEADLINE * 1000) {
			r->reason = "upload too slow";
			return MHD_NO;
		}
		r->seen += n;
		if (r->seen > w->max_body) {
			r->too_big = 1;
			if (r->seen / DISCARD_FACTOR > w->max_body) {
				r->reason = "body far too large";
				return MHD_NO;
			}
			return MHD_YES;
		}
		if (cl_buf_add(&r->body, upload_data, n) != CL_OK) {
			r->reason = "out of memory";
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (r->replied)
		return MHD_YES;
	if (r->method != M_POST)   /* cannot happen: answered at the start */
		return MHD_NO;
	if (r->job)
		return finish_job(w, c, r);
	return finish_post(w, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct cl_webhook *w = cls;
	struct req *r = *con_cls;
	struct cl_webhook_request ev;

	(void)c;
	if (r == NULL)
		return;
	*con_cls = NULL;
	memset(&ev, 0, sizeof(ev));
	ev.method = r->method_s;
	ev.path = r->path;
	ev.status = r->status;
	ev.reason = r->reason;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status == 0 &&
	    r->reason == NULL) {
		switch (toe) {
		case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: ev.reason = "timeout"; break;
		case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: ev.reason = "server stopped"; break;
		case MHD_REQUEST_TERMINATED_CLIENT_ABORT: ev.reason = "client closed"; break;
		default: ev.reason = "connection error"; break;
		}
	} else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && r->status != 0) {
		ev.reason = r->status == MHD_HTTP_OK ? "stored; answer not delivered"
			: "answer not delivered";
	}
	if (ev.reason == NULL)
		ev.reason = "";
	ev.body_len = r->seen;
	ev.records = r->records;
	ev.duplicates = r->duplicates;
	ev.quarantined = r->quarantined;
	ev.ms = (unsigned)(mono_ms() - r->started);

	pthread_mutex_lock(&w->mu);
	w->st.requests++;
	if (r->status == MHD_HTTP_OK && r->method == M_POST)
		w->st.accepted++;
	else if (r->status >= 400 && r->status < 500)
		w->st.rejected++;
	else if (r->status >= 500)
		w->st.failed++;
	else if (r->status == 0)
		w->st.dropped++;
	w->st.records += r->records;
	w->st.duplicates += r->duplicates;
	w->st.quarantined += r->quarantined;
	w->inflight--;
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	if (w->on_request)
		w->on_request(w->ctx, &ev);
	req_free(r);
}

/* ---- start and stop ------------------------------------------------- */

/* Parse "ADDR:PORT" / "[ADDR6]:PORT" and open a listening socket. */
static int open_listener(const char *spec, int *fd, char *addr, size_t cap,
			 char **err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t slen;
	char host[INET6_ADDRSTRLEN + 1], *end = NULL;
	const char *colon, *h0 = spec, *h1;
	unsigned long port;
	int v6 = 0, s, one = 1;

	*fd = -1;
	if (spec == NULL)
		return cl_error(err, CL_EINVAL, "no listen address");
	if (spec[0] == '[') {
		h0 = spec + 1;
		h1 = strchr(h0, ']');
		if (h1 == NULL || h1[1] != ':')
			return cl_error(err, CL_EINVAL, "bad listen address '%s' (want [ADDR]:PORT)", spec);
		colon = h1 + 1;
		v6 = 1;
	} else {
		colon = strrchr(spec, ':');
		h1 = colon;
		if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)) != NULL)
			return cl_error(err, CL_EINVAL, "bad listen address '%s' (want ADDR:PORT)", spec);
	}
	if ((size_t)(h1 - h0) == 0 || (size_t)(h1 - h0) >= sizeof(host))
		return cl_error(err, CL_EINVAL, "bad listen address '%s'", spec);
	memcpy(host, h0, (size_t)(h1 - h0));
	host[h1 - h0] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || errno || *end || port > 65535)
		return cl_error(err, CL_EINVAL, "bad port in listen address '%s'", spec);
	memset(&ss, 0, sizeof(ss));
	if (!v6 && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		slen = sizeof(*s4);
	} else if (v6 && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		slen = sizeof(*s6);
	} else {
		return cl_error(err, CL_EINVAL, "listen address '%s' is not a numeric IP address", spec);
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return cl_error(err, CL_EIO, "cannot create a socket: %s", strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, slen) != 0 || listen(s, SOMAXCONN) != 0) {
		int e = errno;

		close(s);
		return cl_error(err, CL_EIO, "cannot listen on %s: %s", spec, strerror(e));
	}
	slen = sizeof(ss);
	if (getsockname(s, (struct sockaddr *)&ss, &slen) != 0) {
		int e = errno;

		close(s);
		return cl_error(err, CL_EIO, "cannot read the bound address: %s", strerror(e));
	}
	port = ntohs(v6 ? s6->sin6_port : s4->sin_port);
	snprintf(addr, cap, v6 ? "[%s]:%lu" : "%s:%lu", host, port);
	*fd = s;
	return CL_OK;
}

/* Request-handling threads: one per CPU, 2..16. */
static unsigned pool_size(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2u : n > 16 ? 16u : (unsigned)n;
}

static void webhook_free(struct cl_webhook *w)
{
	if (w->lfd >= 0)
		close(w->lfd);
	if (w->dl.data) {   /* a result the committer did not take */
		sodium_memzero(w->dl.data, w->dl.len);
		free(w->dl.data);
	}
	sodium_free(w->token);
	free(w->media_url);
	if (w->curl_inited)
		curl_global_cleanup();
	pthread_cond_destroy(&w->dl_cond);
	sodium_free(w->mac);
	sodium_free(w->tok_key);
	sodium_free(w->tok_hash);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	free(w);
}

static void stop_committer(struct cl_webhook *w)
{
	if (!w->have_committer)
		return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->committer, NULL);
	w->have_committer = 0;
}

/* Abort a download in progress (its row stays due) and end the thread. */
static void stop_downloader(struct cl_webhook *w)
{
	if (!w->have_downloader)
		return;
	pthread_mutex_lock(&w->mu);
	w->dl_quit = 1;
	pthread_cond_signal(&w->dl_cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->downloader, NULL);
	w->have_downloader = 0;
}

/* Copy the token and the URL, create media_pending, start curl. */
static int media_init(struct cl_webhook *w, const struct cl_webhook_opts *o,
		      char **err)
{
	const char *u = o->media_url ? o->media_url : CL_WEBHOOK_MEDIA_URL_DEFAULT;
	size_t n = strlen(u), i;
	char *e = NULL;

	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return cl_error(err, CL_EINVAL, "the media URL must start with https:// or http://");
	for (i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f ||
		    u[i] == '?' || u[i] == '#')
			return cl_error(err, CL_EINVAL, "the media URL must be printable "
					"ASCII without spaces, query or fragment");
	while (n > 0 && u[n - 1] == '/')
		n--;
	w->media_url = strndup(u, n);
	w->token = sodium_malloc(o->access_token_len);
	if (w->media_url == NULL || w->token == NULL)
		return CL_ENOMEM;
	for (i = 0; i < o->access_token_len; i++)
		if (o->access_token[i] <= 0x20 || o->access_token[i] >= 0x7f)
			return cl_error(err, CL_EINVAL, "the access token must be printable "
					"ASCII without spaces");
	memcpy(w->token, o->access_token, o->access_token_len);
	w->token_len = o->access_token_len;
	if (sodium_mprotect_readonly(w->token) != 0)
		return cl_error(err, CL_ENOMEM, "cannot protect the access token's memory");
	w->retry_base = o->media_retry_base ? o->media_retry_base
		: CL_WEBHOOK_MEDIA_RETRY_DEFAULT;
	w->on_media = o->on_media;
	if (sqlite3_exec(cl_ledger_sqlite(w->l),
			 "CREATE TABLE IF NOT EXISTS media_pending("
			 "idx INTEGER PRIMARY KEY, media_id TEXT NOT NULL,"
			 " attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL)",
			 NULL, NULL, &e) != SQLITE_OK) {
		int rc = cl_error(err, CL_EIO, "cannot create media_pending: %s",
				  e ? e : "?");

		sqlite3_free(e);
		return rc;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cl_error(err, CL_EIO, "cannot initialise libcurl");
	w->curl_inited = 1;
	return CL_OK;
}

int cl_webhook_start(struct cl_ledger *l, const struct cl_webhook_opts *o,
		     struct cl_webhook **out, char **err)
{
	struct cl_webhook *w;
	unsigned timeout = o->timeout_s ? o->timeout_s : CL_WEBHOOK_TIMEOUT_DEFAULT;
	unsigned conns = o->max_connections ? o->max_connections
		: CL_WEBHOOK_CONNECTIONS_DEFAULT;
	int rc = CL_OK;

	*out = NULL;
	if (o->app_secret == NULL || o->app_secret_len == 0 ||
	    o->verify_token == NULL || o->verify_token_len == 0)
		return cl_error(err, CL_EINVAL, "the app secret and the verify token must not be empty");
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return CL_ENOMEM;
	w->lfd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	pthread_cond_init(&w->dl_cond, NULL);
	w->l = l;
	w->max_body = o->max_body ? o->max_body : CL_WEBHOOK_MAX_BODY_DEFAULT;
	w->on_request = o->on_request;
	w->on_error = o->on_error;
	w->ctx = o->ctx;
	w->mac = sodium_malloc(sizeof(*w->mac));
	w->tok_key = sodium_malloc(crypto_generichash_KEYBYTES);
	w->tok_hash = sodium_malloc(32);
	if (w->mac == NULL || w->tok_key == NULL || w->tok_hash == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	crypto_auth_hmacsha256_init(w->mac, o->app_secret, o->app_secret_len);
	randombytes_buf(w->tok_key, crypto_generichash_KEYBYTES);
	token_hash(w, o->verify_token, o->verify_token_len, w->tok_hash);
	if (sodium_mprotect_readonly(w->mac) != 0 ||
	    sodium_mprotect_readonly(w->tok_key) != 0 ||
	    sodium_mprotect_readonly(w->tok_hash) != 0) {
		rc = cl_error(err, CL_ENOMEM, "cannot protect the secrets' memory");
		goto out;
	}
	if (o->access_token && o->access_token_len &&
	    (rc = media_init(w, o, err)))
		goto out;
	if ((rc = open_listener(o->listen, &w->lfd, w->addr, sizeof(w->addr), err)))
		goto out;
	if (w->token) {
		if (pthread_create(&w->downloader, NULL, downloader_main, w) != 0) {
			rc = cl_error(err, CL_ENOMEM, "cannot start the downloader thread");
			goto out;
		}
		w->have_downloader = 1;
	}
	if (pthread_create(&w->committer, NULL, committer_main, w) != 0) {
		rc = cl_error(err, CL_ENOMEM, "cannot start the committer thread");
		goto out;
	}
	w->have_committer = 1;
	w->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME,
				0, NULL, NULL, on_access, w,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)w->lfd,
				MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
				MHD_OPTION_CONNECTION_TIMEOUT, timeout,
				MHD_OPTION_CONNECTION_LIMIT, conns,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
				MHD_OPTION_END);
	if (w->d == NULL) {
		rc = cl_error(err, CL_EIO, "cannot start the HTTP server on %s", w->addr);
		goto out;
	}
	w->lfd = -1;   /* the daemon owns it now */
out:
	if (rc) {
		stop_committer(w);
		stop_downloader(w);
		webhook_free(w);
		return rc;
	}
	*out = w;
	return CL_OK;
}

const char *cl_webhook_address(const struct cl_webhook *w)
{
	return w->addr;
}

void cl_webhook_stop(struct cl_webhook *w, struct cl_webhook_stats *st)
{
	struct timespec until;
	MHD_socket s;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	w->dl_quit = 1;   /* abort a download in progress: retried next start */
	pthread_cond_signal(&w->dl_cond);
	pthread_mutex_unlock(&w->mu);
	/* No new connections; the listening socket is ours to close. */
	s = MHD_quiesce_daemon(w->d);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	/* Let requests in progress finish: their commits and answers. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CL_WEBHOOK_GRACE_MS / 1000;
	pthread_mutex_lock(&w->mu);
	while (w->inflight > 0)
		if (pthread_cond_timedwait(&w->idle, &w->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->mu);
	/* Commit every queued job and resume its request (later bodies are
	 * refused with 503), so no connection is left suspended; then close
	 * the remaining connections and stop the pool. */
	stop_committer(w);
	stop_downloader(w);
	MHD_stop_daemon(w->d);
	w->d = NULL;
	if (st) {
		pthread_mutex_lock(&w->mu);
		*st = w->st;
		pthread_mutex_unlock(&w->mu);
	}
	webhook_free(w);
}
