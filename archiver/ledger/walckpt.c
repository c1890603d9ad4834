/*
 * walckpt.c - WAL checkpoints off the committing thread (ledger.h,
 * cl_ledger_bg_checkpoint()).
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that pushes the
 * WAL past 1,000 frames: that one commit copies the frames into the
 * database and fsyncs it, so whoever waits for it (a receipt, a webhook
 * answer) waits tens of milliseconds.  Here the writer's connection gets
 * a WAL hook instead that only signals a thread; the thread, on its own
 * connection, runs a PASSIVE checkpoint (it never waits for the writer
 * nor blocks it: SQLite lets a checkpoint and a write transaction run at
 * once in WAL mode).
 *
 * The WAL starts over from its beginning only when a transaction of the
 * writer begins while every frame is copied back; under a steady stream
 * of commits the thread never quite catches up.  So past WAL_RESTART
 * frames the writer checkpoints once itself, right after a commit, as soon
 * as the thread's last run left fewer than WAL_LAG frames to copy (or
 * past WAL_HARD frames regardless): that copies little, and the next
 * transaction starts the WAL over (bounded at about WAL_RESTART frames).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/ledger_int.h"
#include "common/status.h"
#include "common/banned.h"

#define WAL_FRAMES CL_LEDGER_WAL_FRAMES
#define WAL_RESTART 4000       /* the writer finishes the job itself */
#define WAL_LAG 512            /* ... once the thread is this close */
#define WAL_HARD 16000         /* ... or regardless, past this */
#define IDLE_MS 1000           /* and once a second regardless */

struct cl_walckpt {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int kick, stop;
	int kicked_at;          /* WAL frames at the last kick (writer only) */
	unsigned gen;           /* WAL restarts seen by the writer */
	unsigned done_gen;      /* ... when the thread's last run began */
	int done;               /* the frames that run left copied back */
	sqlite3 *db;
	unsigned long long runs;
};

static void kick(struct cl_walckpt *w)
{
	pthread_mutex_lock(&w->mu);
	w->kick = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
	struct cl_walckpt *w = ctx;

	(void)name;
	if (frames < w->kicked_at) {   /* the WAL started over */
		w->kicked_at = 0;
		pthread_mutex_lock(&w->mu);
		w->gen++;
		pthread_mutex_unlock(&w->mu);
	}
	if (frames >= WAL_RESTART) {
		int done = 0, pending;

		pthread_mutex_lock(&w->mu);
		if (w->done_gen == w->gen)
			done = w->done;
		pending = w->kick;
		pthread_mutex_unlock(&w->mu);
		if ((done > 0 && frames - done <= WAL_LAG) || frames >= WAL_HARD)
			(void)sqlite3_wal_checkpoint_v2(db, NULL,
							SQLITE_CHECKPOINT_PASSIVE,
							NULL, NULL);
		else if (!pending)
			kick(w);
		return SQLITE_OK;
	}
	if (frames >= w->kicked_at + WAL_FRAMES) {
		w->kicked_at = frames;
		kick(w);
	}
	return SQLITE_OK;
}

static void *run(void *arg)
{
	struct cl_walckpt *w = arg;

	for (;;) {
		struct timespec ts;
		unsigned gen;
		int stop, rc, ckpt = 0;

		pthread_mutex_lock(&w->mu);
		if (!w->kick && !w->stop) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += IDLE_MS / 1000;
			(void)pthread_cond_timedwait(&w->cv, &w->mu, &ts);
		}
		w->kick = 0;
		stop = w->stop;
		gen = w->gen;
		pthread_mutex_unlock(&w->mu);
		if (stop)
			break;
		/* SQLITE_BUSY (another checkpoint running) is fine: it
		 * is tried again on the next signal or second */
		rc = sqlite3_wal_checkpoint_v2(w->db, NULL,
					       SQLITE_CHECKPOINT_PASSIVE,
					       NULL, &ckpt);
		pthread_mutex_lock(&w->mu);
		w->runs++;
		if (rc == SQLITE_OK) {
			w->done_gen = gen;
			w->done = ckpt;
		}
		pthread_mutex_unlock(&w->mu);
	}
	return NULL;
}

int cl_ledger_bg_checkpoint(struct cl_ledger *l, char **err)
{
	struct cl_walckpt *w;
	const char *path;

	if (l->mode != CL_OPEN_WRITE || l->walckpt != NULL)
		return CL_OK;
	path = sqlite3_db_filename(l->db, "main");
	if (path == NULL || *path == 0)
		return cl_error(err, CL_EINVAL, "the ledger has no database file");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CL_ENOMEM;
	if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK ||
	    sqlite3_exec(w->db, "PRAGMA synchronous=FULL;", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(w->db);
		free(w);
		return cl_error(err, CL_EIO,
				"cannot open the ledger for checkpoints");
	}
	sqlite3_busy_timeout(w->db, 100);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->th, NULL, run, w) != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		sqlite3_close(w->db);
		free(w);
		return cl_error(err, CL_ENOMEM,
				"cannot start the checkpoint thread");
	}
	l->walckpt = w;
	sqlite3_wal_hook(l->db, wal_hook, w);
	return CL_OK;
}

void cl_ledger_bg_checkpoint_stop(struct cl_ledger *l)
{
	struct cl_walckpt *w = l->walckpt;

	if (w == NULL)
		return;
	/* back to SQLite's own checkpoints before the thread goes */
	sqlite3_wal_autocheckpoint(l->db, WAL_FRAMES);
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	sqlite3_close(w->db);
	free(w);
	l->walckpt = NULL;
}

unsigned long long cl_ledger_bg_checkpoints(const struct cl_ledger *l)
{
	struct cl_walckpt *w = l->walckpt;
	unsigned long long n;

	if (w == NULL)
		return 0;
	pthread_mutex_lock(&w->mu);
	n = w->runs;
	pthread_mutex_unlock(&w->mu);
	return n;
}
