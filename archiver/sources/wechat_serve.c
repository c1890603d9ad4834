/*
 * wechat_serve.c - the WeChat push receiver (wechat_serve.h).
 *
 * Threads: libmicrohttpd's pool checks, decrypts, parses and maps each
 * push, then suspends its connection and queues a job; the committer (the
 * only thread using the caller's ledger handle) appends every queued job
 * in one batch, commits once and resumes them ("group commit"; it first
 * waits up to GATHER_US for pushes still being parsed, so that one fsync
 * and one signed checkpoint serve as many answers as possible); the
 * worker, with a write handle of its own, downloads media and pulls
 * kf/sync_msg.  w->mu guards the queue, the counters and the jobs'
 * outcomes.
 */
#include <errno.h>
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

#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>

#include "archiver/ingest/presealer.h"
#include "archiver/sources/wechat_map.h"
#include "archiver/sources/wechat_pull.h"
#include "archiver/sources/wechat_serve.h"
#include "archiver/sources/wechat_store.h"
#include "archiver/sources/wechat_xml.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define ECHO_MAX 512u
#define GRACE_MS 15000
#define WORKER_TICK_S 2
#define KF_POLL_S 60     /* sync_msg without a new event: once a minute */
#define GATHER_US 2000   /* a commit waits at most this for pushes being parsed */

enum { R_OA, R_WECOM, R_NONE };

struct job {
	struct cl_wx_batch b;
	char kf_id[CL_WX_MEDIA_ID_MAX + 1];
	char kf_token[CL_WX_KF_TOKEN_MAX + 1];
	int done, rc, refused;
	struct MHD_Connection *conn;
	struct job *next;
};

struct req {
	int route, post;
	char method[12];
	char path[64];
	unsigned char *body;
	size_t len, cap;
	int too_big;
	unsigned status;
	const char *reason;
	struct job *job;
	uint64_t records, duplicates, quarantined;
	int64_t started;
	int parsing;          /* counted in w->parsing */
};

struct cl_wx_server {
	struct cl_ledger *l;
	struct MHD_Daemon *d;
	int lfd;
	char addr[INET6_ADDRSTRLEN + 16];
	struct cl_wx_serve_opts o;
	size_t max_body;

	pthread_mutex_t mu;
	pthread_cond_t work, idle, wake;
	struct job *head, *tail;
	int stopping, quit, wquit, kf_due;
	unsigned inflight;
	unsigned parsing;     /* POSTs received, not yet queued or answered */
	unsigned queued;      /* jobs in the queue */
	int cwait;            /* the committer waits: 0 no, CW_IDLE, CW_GATHER */
	unsigned gather;      /* CW_GATHER: for this many queued jobs */
	pthread_t committer, worker;
	int have_committer, have_worker;
	struct cl_presealer ps;    /* records sealed on the request threads */
	int have_ps;
	struct cl_wx_serve_stats st;
};

static void note(struct cl_wx_server *w, const char *fmt, ...) CL_PRINTF_LIKE(2, 3);
static void note(struct cl_wx_server *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (w->o.on_note == NULL)
		return;
	va_start(ap, fmt);
	(void)cl_vfmt(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->o.on_note(w->o.ctx, msg);
}

static void job_free(struct job *j)
{
	if (j == NULL)
		return;
	cl_wx_batch_release(&j->b);
	sodium_memzero(j->kf_token, sizeof(j->kf_token));
	free(j);
}

/* ---- the committer --------------------------------------------------- */

enum { CW_IDLE = 1, CW_GATHER };

/*
 * With w->mu held, after a push was queued or a POST stopped being
 * parsed: wake the committer only if what it waits for has come (any job
 * when idle; while gathering, nothing left in parsing and as many jobs as
 * the last commit had).  Waking it for every push that joins a gathering
 * commit cost a futex call on each side and a context switch per push.
 */
static void kick(struct cl_wx_server *w)
{
	if (w->cwait == CW_IDLE ||
	    (w->cwait == CW_GATHER && w->parsing == 0 && w->queued >= w->gather))
		pthread_cond_signal(&w->work);
}

static int append_job(struct cl_wx_server *w, struct cl_wx_appender *ap, struct job *j,
		      char **err)
{
	int rc = cl_wx_appender_append(ap, &j->b, err);

	if (rc == CL_OK && j->kf_id[0]) {
		char name[300];

		(void)cl_fmt(name, sizeof(name), "kf-token:%s", j->kf_id);
		rc = cl_wx_cursor_set(w->l, name, j->kf_token, err);
	}
	return rc;
}

/* `ap`: the committer's appender, whose statements outlive each batch. */
static int commit_list(struct cl_wx_server *w, struct cl_wx_appender *ap, struct job *list,
		       int one, char **err)
{
	struct job *j;
	int rc = cl_ledger_begin(w->l, err);

	uint64_t oa = 0, wecom = 0;

	for (j = list; rc == CL_OK && j; j = one ? NULL : j->next) {
		rc = append_job(w, ap, j, err);
		if (strcmp(j->b.format, "wechat-oa") == 0)
			oa += j->b.records;
		else
			wecom += j->b.records;
	}
	/* Each route's last delivery, for status. */
	if (rc == CL_OK && oa)
		rc = cl_wx_route_count(ap, "push:oa", oa, err);
	if (rc == CL_OK && wecom)
		rc = cl_wx_route_count(ap, "push:wecom", wecom, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(w->l, err);
	else
		cl_ledger_rollback(w->l);
	return rc;
}

static void *committer_main(void *arg)
{
	struct cl_wx_server *w = arg;
	struct cl_wx_appender ap;
	struct job *batch, *j, *next;
	unsigned last = 0;    /* jobs in the previous commit */

	cl_wx_appender_init(&ap, w->l);
	/* One key batch serves the commits of a busy spell (ledger.h); it
	 * ends once the committer has been idle for CL_KEY_BATCH_MS. */
	cl_ledger_key_batches(w->l, 1);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		char *err = NULL;
		uint64_t commits = 0;
		int rc, kf = 0;

		w->cwait = CW_IDLE;
		while (w->head == NULL && !w->quit) {
			long long kb = cl_ledger_key_batch_idle(w->l);
			struct timespec until;

			if (kb < 0) {
				pthread_cond_wait(&w->work, &w->mu);
			} else {
				cl_deadline(CLOCK_REALTIME, kb * 1000000L, &until);
				(void)pthread_cond_timedwait(&w->work, &w->mu, &until);
			}
		}
		w->cwait = 0;
		if (w->head == NULL)
			break;
		/* Group commit sizing: pushes still being parsed join this
		 * commit if they arrive within GATHER_US. */
		if ((w->parsing > 0 || last > 1) && !w->quit) {
			struct timespec until;

			cl_deadline(CLOCK_REALTIME, GATHER_US * 1000L, &until);
			w->cwait = CW_GATHER;
			w->gather = last;
			while ((w->parsing > 0 || w->queued < last) && !w->quit &&
			       pthread_cond_timedwait(&w->work, &w->mu, &until) == 0)
				;
			w->cwait = 0;
		}
		batch = w->head;
		w->head = w->tail = NULL;
		last = w->queued;
		w->queued = 0;
		pthread_mutex_unlock(&w->mu);
		rc = commit_list(w, &ap, batch, 0, &err);
		if (rc == CL_OK) {
			commits = 1;
			for (j = batch; j; j = j->next)
				j->rc = CL_OK;
		} else {
			note(w, "archive error, retrying each push alone: %s",
			     err ? err : cl_strerror(rc));
			for (j = batch; j; j = j->next) {
				char *e2 = NULL;

				j->rc = commit_list(w, &ap, j, 1, &e2);
				if (j->rc == CL_OK)
					commits++;
				else
					note(w, "archive error, answering 500: %s",
					     e2 ? e2 : cl_strerror(j->rc));
				free(e2);
			}
		}
		free(err);
		pthread_mutex_lock(&w->mu);
		w->st.commits += commits;
		for (j = batch; j; j = j->next) {
			j->done = 1;
			if (j->rc == CL_OK && j->kf_id[0])
				kf = 1;
		}
		if (kf)
			w->kf_due = 1;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->mu);
		for (j = batch; j; j = next) {
			next = j->next;
			MHD_resume_connection(j->conn);
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	cl_ledger_key_batches(w->l, 0);
	cl_wx_appender_release(&ap);
	return NULL;
}

/* ---- the worker: media and kf/sync_msg --------------------------------- */

/* Download every due media row of `api` (until the server stops). */
static void media_round(struct cl_wx_server *w, struct cl_ledger *l, struct cl_wx_api *a,
			const char *api, char **err)
{
	char msg[256];
	int64_t next;
	int quit = 0;

	while (a && !quit &&
	       cl_wx_media_step(l, a, api, w->o.media_retry_base, &next, msg, sizeof(msg),
				err) == 1) {
		note(w, "%s", msg);
		pthread_mutex_lock(&w->mu);
		w->st.media_done++;
		quit = w->wquit;
		pthread_mutex_unlock(&w->mu);
	}
}

static void worker_round(struct cl_wx_server *w, struct cl_ledger *l, int kf)
{
	char *err = NULL;

	if (kf && w->o.wecom_api) {
		char *ids[16];
		size_t k, cnt = 0;

		(void)cl_wx_kf_pending(l, ids, 16, &cnt);
		for (k = 0; k < cnt; k++) {
			struct cl_wx_pull_stats ps;
			int rc;

			memset(&ps, 0, sizeof(ps));
			rc = cl_wx_pull_kf(l, w->o.wecom_api, w->o.wecom_kf_account, ids[k],
					   w->o.lookup, &ps, &err);
			if (rc == CL_OK && ps.records == 0 && ps.quarantined == 0)
				goto next_id;
			note(w, "kf/sync_msg %s: %llu records, %llu duplicates, %llu quarantined, "
			     "%llu links%s%s", rc ? "failed" : "done",
			     (unsigned long long)ps.records, (unsigned long long)ps.duplicates,
			     (unsigned long long)ps.quarantined, (unsigned long long)ps.links,
			     err ? ": " : "", err ? err : "");
next_id:
			free(err);
			err = NULL;
			free(ids[k]);
			pthread_mutex_lock(&w->mu);
			w->st.kf_pulls++;
			pthread_mutex_unlock(&w->mu);
		}
	}
	if (w->o.oa_api && w->o.lookup) {
		struct cl_wx_pull_stats ps;

		memset(&ps, 0, sizeof(ps));
		if (cl_wx_lookup_openids(l, w->o.oa_api, w->o.oa_account, 64, &ps, &err) != CL_OK)
			note(w, "cgi-bin/user/info: %s", err ? err : "failed");
		else if (ps.links)
			note(w, "cgi-bin/user/info: %llu identity links",
			     (unsigned long long)ps.links);
		free(err);
		err = NULL;
	}
	media_round(w, l, w->o.oa_api, "oa", &err);
	media_round(w, l, w->o.wecom_api, "wecom", &err);
	if (err)
		note(w, "media: %s", err);
	free(err);
}

static void *worker_main(void *arg)
{
	struct cl_wx_server *w = arg;
	struct cl_ledger *l = NULL;
	char *err = NULL;
	int64_t last_kf = 0;

	if (cl_ledger_open(w->o.archive, CL_OPEN_WRITE, &l, &err) != CL_OK) {
		note(w, "worker: cannot open the archive: %s", err ? err : "?");
		free(err);
		return NULL;
	}
	(void)cl_ledger_set_wait(l, "wechat-worker", -1, NULL, NULL);
	pthread_mutex_lock(&w->mu);
	while (!w->wquit) {
		struct timespec until;
		int kf = w->kf_due || cl_mono_ms() - last_kf >= (int64_t)KF_POLL_S * 1000;

		w->kf_due = 0;
		pthread_mutex_unlock(&w->mu);
		if (kf)
			last_kf = cl_mono_ms();
		worker_round(w, l, kf);
		pthread_mutex_lock(&w->mu);
		if (w->wquit || w->kf_due)
			continue;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += WORKER_TICK_S;
		(void)pthread_cond_timedwait(&w->wake, &w->mu, &until);
	}
	pthread_mutex_unlock(&w->mu);
	cl_ledger_close(l);
	return NULL;
}

/* ---- HTTP ---------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, struct req *r, unsigned status,
			     const char *reason, const char *text)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	r->reason = reason;
	resp = MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text,
					       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
		r->status = status;
	return ret;
}

static const char *arg(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

/* The timestamp is within max_skew_s of our clock (or the check is off). */
static int fresh(const struct cl_wx_server *w, const char *ts)
{
	char *end = NULL;
	long long t;

	if (ts == NULL || *ts < '0' || *ts > '9')
		return 0;
	errno = 0;
	t = strtoll(ts, &end, 10);
	if (errno || *end)
		return 0;
	if (w->o.max_skew_s == 0)
		return 1;
	return llabs((long long)time(NULL) - t) <= (long long)w->o.max_skew_s;
}

static enum MHD_Result verify_get(struct cl_wx_server *w, struct MHD_Connection *c,
				  struct req *r)
{
	const char *ts = arg(c, "timestamp"), *nonce = arg(c, "nonce");
	const char *echo = arg(c, "echostr");
	size_t i, n = echo ? strlen(echo) : 0;

	if (echo == NULL || n == 0 || n > ECHO_MAX)
		return reply(c, r, MHD_HTTP_BAD_REQUEST, "bad echostr", "bad request\n");
	if (r->route == R_OA) {
		if (!cl_wx_verify(w->o.oa, arg(c, "signature"), ts, nonce, NULL))
			return reply(c, r, MHD_HTTP_FORBIDDEN, "bad signature", "forbidden\n");
		for (i = 0; i < n; i++)
			if ((unsigned char)echo[i] <= 0x20 || (unsigned char)echo[i] >= 0x7f)
				return reply(c, r, MHD_HTTP_BAD_REQUEST, "bad echostr",
					     "bad request\n");
		return reply(c, r, MHD_HTTP_OK, "verified", echo);
	} else {
		char fixed[ECHO_MAX + 1];
		unsigned char *m = NULL;
		size_t mlen = 0;
		const char *why = NULL;
		enum MHD_Result ret;

		/* MHD turns a literal '+' into a space: base64 has none. */
		for (i = 0; i < n; i++)
			fixed[i] = echo[i] == ' ' ? '+' : echo[i];
		fixed[n] = 0;
		if (!cl_wx_verify(w->o.wecom, arg(c, "msg_signature"), ts, nonce, fixed))
			return reply(c, r, MHD_HTTP_FORBIDDEN, "bad signature", "forbidden\n");
		if (cl_wx_decrypt(w->o.wecom, fixed, n, &m, &mlen, &why) != CL_OK)
			return reply(c, r, MHD_HTTP_FORBIDDEN,
				     why && strcmp(why, "receive id mismatch") == 0
				     ? "receive id mismatch" : "echostr does not decrypt",
				     "forbidden\n");
		for (i = 0; i < mlen; i++)
			if (m[i] < 0x20 || m[i] >= 0x7f)
				break;
		ret = i == mlen ? reply(c, r, MHD_HTTP_OK, "verified", (char *)m)
			: reply(c, r, MHD_HTTP_BAD_REQUEST, "echostr is not text", "bad request\n");
		sodium_memzero(m, mlen);
		free(m);
		return ret;
	}
}

static int submit(struct cl_wx_server *w, struct req *r, struct job *j,
		  struct MHD_Connection *c)
{
	int quit;

	j->conn = c;
	MHD_suspend_connection(c);
	pthread_mutex_lock(&w->mu);
	quit = w->quit;
	if (r->parsing) {
		r->parsing = 0;
		w->parsing--;
	}
	if (!quit) {
		w->queued++;
		if (w->tail)
			w->tail->next = j;
		else
			w->head = j;
		w->tail = j;
		kick(w);
	} else {
		j->done = 1;
		j->refused = 1;
	}
	pthread_mutex_unlock(&w->mu);
	if (quit)
		MHD_resume_connection(c);
	return CL_OK;
}

/*
 * Check and decrypt the body of a POST: *inner (malloc'd) and *inner_len
 * the push's XML.  On refusal returns the HTTP status with *reason.
 */
static unsigned open_post(struct cl_wx_server *w, struct MHD_Connection *c,
			  struct req *r, char **inner, size_t *inner_len,
			  const char **reason)
{
	const struct cl_wx_crypto *cr = r->route == R_OA ? w->o.oa : w->o.wecom;
	const char *ts = arg(c, "timestamp"), *nonce = arg(c, "nonce");
	const char *et = arg(c, "encrypt_type");
	int aes = r->route == R_WECOM || (et && strcmp(et, "aes") == 0);
	json_t *outer = NULL;
	const char *enc, *why = NULL;
	unsigned char *m = NULL;
	size_t mlen = 0;
	int rc;

	*inner = NULL;
	*inner_len = 0;
	if (!fresh(w, ts)) {
		*reason = "timestamp missing or outside the allowed window (replay?)";
		return MHD_HTTP_FORBIDDEN;
	}
	if (!aes) {
		if (w->o.oa_require_aes) {
			*reason = "plaintext push refused (--oa-require-aes)";
			return MHD_HTTP_FORBIDDEN;
		}
		if (!cl_wx_verify(cr, arg(c, "signature"), ts, nonce, NULL)) {
			*reason = "bad signature";
			return MHD_HTTP_FORBIDDEN;
		}
		*inner = malloc(r->len + 1);
		if (*inner == NULL) {
			*reason = "out of memory";
			return MHD_HTTP_INTERNAL_SERVER_ERROR;
		}
		memcpy(*inner, r->body, r->len);
		(*inner)[r->len] = 0;
		*inner_len = r->len;
		return 0;
	}
	if (!cl_wx_crypto_has_key(cr)) {
		*reason = "encrypted push but no EncodingAESKey configured";
		return MHD_HTTP_FORBIDDEN;
	}
	rc = cl_wx_xml_parse((const char *)r->body, r->len, &outer, &why);
	if (rc != CL_OK) {
		*reason = why ? why : "bad XML";
		return MHD_HTTP_BAD_REQUEST;
	}
	enc = cl_wx_xml_str(outer, "Encrypt");
	if (enc == NULL) {
		json_decref(outer);
		*reason = "no <Encrypt> element";
		return MHD_HTTP_BAD_REQUEST;
	}
	if (!cl_wx_verify(cr, arg(c, "msg_signature"), ts, nonce, enc)) {
		json_decref(outer);
		*reason = "bad msg_signature";
		return MHD_HTTP_FORBIDDEN;
	}
	rc = cl_wx_decrypt(cr, enc, strlen(enc), &m, &mlen, &why);
	json_decref(outer);
	if (rc != CL_OK) {
		*reason = why && strcmp(why, "receive id mismatch") == 0 ? "receive id mismatch"
			: "Encrypt does not decrypt";
		return rc == CL_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_FORBIDDEN;
	}
	*inner = (char *)m;
	*inner_len = mlen;
	return 0;
}

static enum MHD_Result finish_post(struct cl_wx_server *w, struct MHD_Connection *c,
				   struct req *r)
{
	struct cl_import_sink sink;
	struct job *j = NULL;
	json_t *tree = NULL;
	const char *reason = NULL, *why = NULL, *src, *acct;
	char *inner = NULL;
	size_t ilen = 0;
	unsigned status;
	enum MHD_Result ret;
	int rc;

	if (r->too_big)
		return reply(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "body too large", "too large\n");
	status = open_post(w, c, r, &inner, &ilen, &reason);
	if (status)
		return reply(c, r, status, reason, status == 403 ? "forbidden\n" : "bad request\n");
	rc = cl_wx_xml_parse(inner, ilen, &tree, &why);
	if (rc != CL_OK) {
		sodium_memzero(inner, ilen);
		free(inner);
		return reply(c, r, MHD_HTTP_BAD_REQUEST, why ? why : "bad XML", "bad request\n");
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL) {
		ret = reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", "error\n");
		goto out;
	}
	src = r->route == R_OA ? "wechat-oa" : "wecom-callback";
	acct = r->route == R_OA ? w->o.oa_account : w->o.wecom_account;
	cl_wx_batch_init(&j->b, src, r->route == R_OA ? "oa-push" : "wecom-callback");
	cl_wx_batch_sink(&j->b, &sink);
	(void)cl_fmt(j->b.media_api, sizeof(j->b.media_api), "%s",
		     r->route == R_OA ? "oa" : "wecom");
	if (r->route == R_OA && cl_wx_xml_str(tree, "MsgType") &&
	    strcmp(cl_wx_xml_str(tree, "MsgType"), "text") == 0)
		j->b.seen_text = cl_wx_xml_str(tree, "Content");
	rc = cl_wx_map_push(src, acct, inner, ilen, tree, cl_time_now_ms(), &sink, &j->b.hint);
	j->b.seen_text = NULL;
	if (rc != CL_OK) {
		ret = reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot map the push", "error\n");
		goto out;
	}
	if (j->b.hint.kf_open_kfid[0]) {
		(void)cl_fmt(j->kf_id, sizeof(j->kf_id), "%s", j->b.hint.kf_open_kfid);
		(void)cl_fmt(j->kf_token, sizeof(j->kf_token), "%s", j->b.hint.kf_token);
	}
	if (w->o.no_store) {
		ret = reply(c, r, MHD_HTTP_OK, "parsed (not stored)", "success");
		goto out;
	}
	/* Seal here, in parallel, so the committer only chains and stores. */
	if (w->have_ps && cl_wx_batch_seal(&j->b, &w->ps) != CL_OK) {
		ret = reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", "error\n");
		goto out;
	}
	submit(w, r, j, c);
	r->job = j;
	j = NULL;
	ret = MHD_YES;
out:
	job_free(j);
	json_decref(tree);
	if (inner) {
		sodium_memzero(inner, ilen);
		free(inner);
	}
	return ret;
}

static enum MHD_Result finish_job(struct cl_wx_server *w, struct MHD_Connection *c,
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
		ret = reply(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping", "stopping\n");
	} else if (rc != CL_OK) {
		ret = reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "commit failed", "not stored\n");
	} else {
		r->records = j->b.records;
		r->duplicates = j->b.duplicates;
		r->quarantined = j->b.quarantined;
		ret = reply(c, r, MHD_HTTP_OK, r->quarantined ? "quarantined" : "stored", "success");
	}
	r->job = NULL;
	job_free(j);
	return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_data_size,
				 void **con_cls)
{
	struct cl_wx_server *w = cls;
	struct req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		int stopping;

		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		r->started = cl_mono_ms();
		(void)cl_fmt(r->method, sizeof(r->method), "%s",
			     strcmp(method, "GET") == 0 ? "GET" : strcmp(method, "POST") == 0
			     ? "POST" : "OTHER");
		r->route = strcmp(url, "/oa") == 0 && w->o.oa ? R_OA
			: strcmp(url, "/wecom") == 0 && w->o.wecom ? R_WECOM : R_NONE;
		(void)cl_fmt(r->path, sizeof(r->path), "%s", r->route == R_OA ? "/oa"
			     : r->route == R_WECOM ? "/wecom" : "(other)");
		r->post = strcmp(method, "POST") == 0;
		pthread_mutex_lock(&w->mu);
		w->inflight++;
		stopping = w->stopping;
		pthread_mutex_unlock(&w->mu);
		if (stopping)
			return reply(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "stopping", "stopping\n");
		if (r->route == R_NONE)
			return reply(c, r, MHD_HTTP_NOT_FOUND, "no such route", "not found\n");
		if (strcmp(method, "GET") == 0)
			return verify_get(w, c, r);
		if (!r->post)
			return reply(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
				     "method not allowed\n");
		if (!w->o.no_store) {
			pthread_mutex_lock(&w->mu);
			w->parsing++;
			r->parsing = 1;
			pthread_mutex_unlock(&w->mu);
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->status || r->too_big)
			return MHD_YES;
		if (r->len + n > w->max_body) {
			r->too_big = 1;
			return MHD_YES;
		}
		if (r->len + n > r->cap) {
			size_t cap = r->cap ? r->cap : 4096;
			unsigned char *nb;

			while (cap < r->len + n)
				cap *= 2;
			nb = malloc(cap + 1);
			if (nb == NULL)
				return MHD_NO;
			if (r->len)
				memcpy(nb, r->body, r->len);
			if (r->body)
				sodium_memzero(r->body, r->cap);
			free(r->body);
			r->body = nb;
			r->cap = cap;
		}
		memcpy(r->body + r->len, upload_data, n);
		r->len += n;
		return MHD_YES;
	}
	if (r->status)
		return MHD_YES;
	if (r->job)
		return finish_job(w, c, r);
	return finish_post(w, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct cl_wx_server *w = cls;
	struct req *r = *con_cls;
	struct cl_wx_request ev;

	(void)c;
	if (r == NULL)
		return;
	*con_cls = NULL;
	memset(&ev, 0, sizeof(ev));
	ev.method = r->method;
	ev.path = r->path;
	ev.status = r->status;
	ev.reason = r->reason ? r->reason
		: toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : "connection closed";
	ev.records = r->records;
	ev.duplicates = r->duplicates;
	ev.quarantined = r->quarantined;
	ev.ms = (unsigned)(cl_mono_ms() - r->started);
	pthread_mutex_lock(&w->mu);
	w->st.requests++;
	if (r->status == 200 && r->post)
		w->st.accepted++;
	else if (r->status >= 400 && r->status < 500)
		w->st.refused++;
	else if (r->status >= 500)
		w->st.failed++;
	w->st.records += r->records;
	w->st.duplicates += r->duplicates;
	w->st.quarantined += r->quarantined;
	w->inflight--;
	if (r->parsing) {
		w->parsing--;
		kick(w);
	}
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->mu);
	if (w->o.on_request)
		w->o.on_request(w->o.ctx, &ev);
	job_free(r->job);
	if (r->body)
		sodium_memzero(r->body, r->cap);
	free(r->body);
	free(r);
}

/* ---- start and stop ------------------------------------------------------ */

static int open_listener(const char *spec, int *fd, char *addr, size_t cap, char **err)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t slen;
	char host[INET6_ADDRSTRLEN + 1], *end = NULL;
	const char *colon, *h0, *h1;
	unsigned long port;
	int v6, s, one = 1;

	*fd = -1;
	if (spec == NULL)
		return cl_error(err, CL_EINVAL, "no listen address");
	v6 = spec[0] == '[';
	h0 = spec + v6;
	h1 = v6 ? strchr(h0, ']') : strrchr(spec, ':');
	if (h1 == NULL || (v6 && h1[1] != ':'))
		return cl_error(err, CL_EINVAL, "bad listen address '%s' (want ADDR:PORT)", spec);
	colon = v6 ? h1 + 1 : h1;
	if (h1 == h0 || (size_t)(h1 - h0) >= sizeof(host))
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
		return cl_error(err, CL_EINVAL, "listen address '%s' is not a numeric IP address",
				spec);
	}
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return cl_error(err, CL_EIO, "cannot create a socket: %s", strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&ss, slen) != 0 || listen(s, SOMAXCONN) != 0 ||
	    getsockname(s, (struct sockaddr *)&ss, &slen) != 0) {
		int e = errno;

		close(s);
		return cl_error(err, CL_EIO, "cannot listen on %s: %s", spec, strerror(e));
	}
	port = ntohs(v6 ? s6->sin6_port : s4->sin_port);
	(void)cl_fmt(addr, cap, v6 ? "[%s]:%lu" : "%s:%lu", host, port);
	*fd = s;
	return CL_OK;
}

static void stop_threads(struct cl_wx_server *w)
{
	if (w->have_committer) {
		pthread_mutex_lock(&w->mu);
		w->quit = 1;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->committer, NULL);
		w->have_committer = 0;
	}
	if (w->have_worker) {
		pthread_mutex_lock(&w->mu);
		w->wquit = 1;
		pthread_cond_signal(&w->wake);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->worker, NULL);
		w->have_worker = 0;
	}
}

static void server_free(struct cl_wx_server *w)
{
	if (w->have_ps)
		cl_presealer_release(&w->ps);
	if (w->lfd >= 0)
		close(w->lfd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	pthread_cond_destroy(&w->wake);
	free(w);
}

int cl_wx_serve_start(struct cl_ledger *l, const struct cl_wx_serve_opts *o,
		      struct cl_wx_server **out, char **err)
{
	struct cl_wx_server *w;
	int rc;

	*out = NULL;
	if (o->oa == NULL && o->wecom == NULL)
		return cl_error(err, CL_EINVAL, "configure route A (--oa-*) or route C (--wecom-*)");
	if ((o->oa && o->oa_account == NULL) || (o->wecom && o->wecom_account == NULL))
		return cl_error(err, CL_EINVAL, "an account is required for each route");
	cl_wx_xml_init();
	if (!o->no_store && (rc = cl_wx_store_init(l, err)))
		return rc;
	/* no answer waits for a WAL checkpoint */
	if (!o->no_store && (rc = cl_ledger_bg_checkpoint(l, err)))
		return rc;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return CL_ENOMEM;
	w->l = l;
	w->o = *o;
	w->lfd = -1;
	w->max_body = o->max_body ? o->max_body : CL_WX_MAX_BODY_DEFAULT;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (!o->no_store) {
		if ((rc = cl_presealer_init(&w->ps, l)))
			goto fail;
		w->have_ps = 1;
	}
	if ((rc = open_listener(o->listen, &w->lfd, w->addr, sizeof(w->addr), err)))
		goto fail;
	if (pthread_create(&w->committer, NULL, committer_main, w) != 0) {
		rc = cl_error(err, CL_ENOMEM, "cannot start the committer thread");
		goto fail;
	}
	w->have_committer = 1;
	if (!o->no_store && (o->oa_api || o->wecom_api) && o->archive) {
		if (pthread_create(&w->worker, NULL, worker_main, w) != 0) {
			rc = cl_error(err, CL_ENOMEM, "cannot start the worker thread");
			goto fail;
		}
		w->have_worker = 1;
	}
	w->d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME,
				0, NULL, NULL, on_access, w,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)w->lfd,
				MHD_OPTION_THREAD_POOL_SIZE, cl_http_threads(),
				MHD_OPTION_CONNECTION_TIMEOUT,
				o->timeout_s ? o->timeout_s : CL_WX_TIMEOUT_DEFAULT,
				MHD_OPTION_CONNECTION_LIMIT, 1024u,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, 256u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
				MHD_OPTION_END);
	if (w->d == NULL) {
		rc = cl_error(err, CL_EIO, "cannot start the HTTP server on %s", w->addr);
		goto fail;
	}
	w->lfd = -1;
	*out = w;
	return CL_OK;
fail:
	stop_threads(w);
	server_free(w);
	return rc;
}

const char *cl_wx_serve_address(const struct cl_wx_server *w)
{
	return w->addr;
}

void cl_wx_serve_stop(struct cl_wx_server *w, struct cl_wx_serve_stats *st)
{
	struct timespec until;
	MHD_socket s;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_mutex_unlock(&w->mu);
	s = MHD_quiesce_daemon(w->d);
	if (s != MHD_INVALID_SOCKET)
		close(s);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += GRACE_MS / 1000;
	pthread_mutex_lock(&w->mu);
	while (w->inflight > 0)
		if (pthread_cond_timedwait(&w->idle, &w->mu, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->mu);
	stop_threads(w);
	MHD_stop_daemon(w->d);
	if (st)
		*st = w->st;
	server_free(w);
}
