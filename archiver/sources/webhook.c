/*
 * webhook.c - the Cloud API webhook receiver (webhook.h): the HTTP side.
 * The committer is in webhook_commit.c, the downloader in webhook_media.c.
 *
 * Threads: libmicrohttpd's pool (event-driven, a few threads for any
 * number of connections) and our committer, the only thread that touches
 * the ledger.  A request whose body is ready is suspended
 * (MHD_suspend_connection) and its job queued; the committer resumes it
 * once the job is durable or failed, and the request is answered from the
 * pool.  Shared state is guarded by w->mu: the job queue, the in-flight
 * count, the statistics, each job's outcome, the media hand-over.
 *
 * Deadlines (webhook.h, "Hostile clients"): every connection has a
 * struct conn (its MHD socket context) in w->conns with the time by which
 * it must have sent its headers, or its whole request; a fourth thread,
 * the reaper, shuts down the sockets past their deadline, which makes MHD
 * close them.  MHD reports a connection closed before it closes the
 * socket, and the list is guarded by w->cmu, so the reaper never touches
 * a descriptor that was closed (and maybe reused).
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
#include <malloc.h>
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
int cl_webhook_media_id_ok(const char *s)
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
	char *out = id && cl_webhook_media_id_ok(id) ? strdup(id) : NULL;

	json_decref(r);
	return out;
}

/* Give the pages of freed memory back to the system after a large body:
 * the allocator keeps them otherwise, and each thread's arena would hold
 * its own peak. */
void cl_webhook_release_memory(void)
{
#ifdef __GLIBC__
	(void)malloc_trim(0);
#endif
}

/* Wipe and free a heap string of `*len` bytes; clears both. */
static void wipe_free(char **p, size_t *len)
{
	if (*p)
		sodium_memzero(*p, *len);
	free(*p);
	*p = NULL;
	*len = 0;
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
			if (j->ps)
				cl_presealer_put(j->ps, it->prep);
			else
				cl_prepared_free(it->prep);
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
	j->held += sizeof(*it) + len;
	return CL_OK;
}

/* The importer's sinks, run in the request thread: validate now, append
 * later (in the committer). */
static int take_record(struct job *j, const char *json, size_t len, json_t *obj)
{
	struct item *it;
	char *why = NULL, *text = NULL;
	int rc;

	j->nrec++;
	it = job_push(j);
	if (it == NULL)
		return CL_ENOMEM;
	it->pos = j->nrec;
	rc = obj ? cl_record_from_json(obj, j->classify, &it->rec, &why)
		 : cl_record_parse_opts(json, len, j->classify, &it->rec, &why);
	if (rc == CL_EINVAL) {
		/* Not a valid record after all: quarantine it like ingest. */
		if (it->rec.canonical)
			sodium_memzero(it->rec.canonical, it->rec.canonical_len);
		cl_record_release(&it->rec);
		j->n--;
		if (why)
			scrub_reason(why);
		if (obj) { /* the record as it was refused */
			text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
			json = text;
			len = text ? strlen(text) : 0;
		}
		rc = json == NULL ? CL_ENOMEM :
			push_bad(j, j->nrec, (const unsigned char *)json, len,
				 why ? why : "invalid record");
		free(text);
	} else if (rc) {
		/* CL_ETOOBIG (cl_import_emit tries again without raw) counts
		 * the record once */
		if (rc == CL_ETOOBIG)
			j->nrec--;
		cl_record_release(&it->rec);
		j->n--;
	} else {
		/* NULL (no media, or out of memory) just means no download. */
		if (j->media)
			it->media_id = record_media_id(&it->rec);
		/* A large body: keep only the canonical bytes of the records
		 * past the first JOB_COMPACT_BYTES (the committer derives the
		 * rest again), so a body's records are held once, not twice. */
		if (j->held > JOB_COMPACT_BYTES) {
			wipe_free(&it->rec.key, &it->rec.key_len);
			wipe_free(&it->rec.conv, &it->rec.conv_len);
			wipe_free(&it->rec.fp, &it->rec.fp_len);
			wipe_free(&it->rec.attrs, &it->rec.attrs_len);
			it->compact = 1;
		} else if (j->ps) {
			/* seal it here, in parallel; the committer only stores it */
			rc = cl_presealer_seal(j->ps, &it->rec, &it->prep);
		}
		j->held += sizeof(*it) + it->rec.canonical_len + it->rec.key_len +
			it->rec.conv_len + it->rec.fp_len + it->rec.attrs_len;
	}
	free(why);
	return rc;
}

static int sink_record(void *ctx, const char *json, size_t len)
{
	return take_record(ctx, json, len, NULL);
}

static int sink_record_json(void *ctx, json_t *rec)
{
	return take_record(ctx, NULL, 0, rec);
}

static int sink_bad(void *ctx, uint64_t item, const unsigned char *data,
		    size_t len, const char *reason)
{
	return push_bad(ctx, item, data, len, reason);
}

/* ---- connections and deadlines -------------------------------------- */

/* Set the deadline of `k` (may be NULL): `ms` from now, or none if 0. */
static void conn_deadline(struct cl_webhook *w, struct conn *k, int64_t ms)
{
	if (k == NULL)
		return;
	pthread_mutex_lock(&w->cmu);
	k->deadline = ms ? cl_mono_ms() + ms : 0;
	pthread_mutex_unlock(&w->cmu);
}

/* MHD_OPTION_NOTIFY_CONNECTION: link a new connection with its header
 * deadline, unlink a closed one.  Without memory a connection just has no
 * deadline of ours (MHD's idle timeout still applies). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct cl_webhook *w = cls;
	struct conn *k = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

		if (ci == NULL || (k = calloc(1, sizeof(*k))) == NULL)
			return;
		k->fd = ci->connect_fd;
		pthread_mutex_lock(&w->cmu);
		k->deadline = cl_mono_ms() + w->header_ms;
		k->next = w->conns;
		if (w->conns)
			w->conns->prev = k;
		w->conns = k;
		pthread_mutex_unlock(&w->cmu);
		*socket_context = k;
		return;
	}
	if (k == NULL)
		return;
	pthread_mutex_lock(&w->cmu);
	if (k->prev)
		k->prev->next = k->next;
	else
		w->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&w->cmu);
	*socket_context = NULL;
	free(k);
}

/* The reaper: every REAPER_TICK_MS, shut down (both ways) the sockets of
 * connections past their deadline; MHD then sees the end of the stream
 * and closes them.  Runs until w->reaper_quit. */
static void *reaper_main(void *arg)
{
	struct cl_webhook *w = arg;
	struct timespec until;
	struct conn *k;

	pthread_mutex_lock(&w->cmu);
	while (!w->reaper_quit) {
		int64_t now = cl_mono_ms();

		for (k = w->conns; k; k = k->next) {
			if (k->deadline == 0 || k->cut || now < k->deadline)
				continue;
			(void)shutdown(k->fd, SHUT_RDWR);
			k->cut = 1;
			w->cut_off++;
		}
		cl_deadline(CLOCK_MONOTONIC, (long)REAPER_TICK_MS * 1000000L, &until);
		(void)pthread_cond_timedwait(&w->reap, &w->cmu, &until);
	}
	pthread_mutex_unlock(&w->cmu);
	return NULL;
}

static void stop_reaper(struct cl_webhook *w)
{
	if (!w->have_reaper)
		return;
	pthread_mutex_lock(&w->cmu);
	w->reaper_quit = 1;
	pthread_cond_signal(&w->reap);
	pthread_mutex_unlock(&w->cmu);
	pthread_join(w->reaper, NULL);
	w->have_reaper = 0;
}

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

/* Read the signature header when the headers are in: 0 and r->sig set
 * (and r->mac started) if it is "sha256=<64 hex>"; 1 if it is missing, 2
 * if it is malformed (then the body is not kept). */
static int signature_start(const struct cl_webhook *w, struct MHD_Connection *c,
			   struct req *r)
{
	const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, SIG_HEADER);
	size_t glen = 0;
	const char *end = NULL;

	if (hdr == NULL)
		return 1;
	if (strncmp(hdr, SIG_PREFIX, strlen(SIG_PREFIX)) != 0)
		return 2;
	hdr += strlen(SIG_PREFIX);
	if (strlen(hdr) != 64 ||
	    sodium_hex2bin(r->sig, sizeof(r->sig), hdr, 64, NULL, &glen, &end) != 0 ||
	    glen != 32 || *end != 0)
		return 2;
	memcpy(&r->mac, w->mac, sizeof(r->mac));
	return 0;
}

/* 1 if the HMAC of the body (updated as it arrived) equals r->sig. */
static int signature_ok(struct req *r)
{
	unsigned char want[32];
	int ok;

	crypto_auth_hmacsha256_final(&r->mac, want);
	ok = sodium_memcmp(want, r->sig, 32) == 0;
	sodium_memzero(&r->mac, sizeof(r->mac));
	sodium_memzero(want, sizeof(want));
	return ok;
}

/* Wipe and free the body kept so far. */
static void body_free(struct req *r)
{
	if (r->body)
		sodium_memzero(r->body, r->body_cap);
	free(r->body);
	r->body = NULL;
	r->body_len = r->body_cap = 0;
}

/* Keep `n` more body bytes (the caller checked max_body).  The buffer
 * starts at BODY_CHUNK (or the announced length, if smaller) and doubles,
 * never past max_body: memory follows the bytes that arrived, not the
 * announced length.  The old buffer is wiped before it is freed (no
 * realloc). */
static int body_add(struct req *r, size_t max, const char *p, size_t n)
{
	if (r->body_len + n > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap
			: r->announced && r->announced < BODY_CHUNK ? r->announced
			: BODY_CHUNK;
		unsigned char *nb;

		while (cap < r->body_len + n)
			cap = cap > max / 2 ? max : cap * 2;
		nb = malloc(cap);
		if (nb == NULL)
			return CL_ENOMEM;
		if (r->body_len)
			memcpy(nb, r->body, r->body_len);
		if (r->body)
			sodium_memzero(r->body, r->body_cap);
		free(r->body);
		r->body = nb;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	return CL_OK;
}

static enum MHD_Result finish_post(struct cl_webhook *w,
				   struct MHD_Connection *c, struct req *r)
{
	struct cl_import_sink sink;
	struct job *j;
	uint64_t nitems = 0;
	char *err = NULL;
	size_t blen;
	enum MHD_Result ret;
	int rc;

	if (r->too_big)
		return reply(c, r, MHD_HTTP_CONTENT_TOO_LARGE, "body too large",
			     "body too large\n", 1);
	if (r->unsigned_body == 1)
		return reply(c, r, MHD_HTTP_UNAUTHORIZED, "no signature",
			     "missing X-Hub-Signature-256\n", 0);
	if (r->unsigned_body || !signature_ok(r))
		return reply(c, r, MHD_HTTP_UNAUTHORIZED, "bad signature",
			     "bad signature\n", 0);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return reply(c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory",
			     "internal error\n", 0);
	j->media = w->token != NULL;
	j->classify = w->classify;
	j->ps = w->have_ps ? &w->ps : NULL;
	blen = r->body_len;
	memset(&sink, 0, sizeof(sink));
	sink.ctx = j;
	sink.record = sink_record;
	sink.record_json = sink_record_json;
	sink.bad = sink_bad;
	rc = cl_cloudapi_import_body(r->body ? (const char *)r->body : "",
				     r->body_len, &sink, &nitems, &err);
	free(err);
	body_free(r);   /* the records carry what is needed from it */
	j->big = j->held > JOB_COMPACT_BYTES;
	if (blen >= TRIM_AFTER_BYTES)
		cl_webhook_release_memory();   /* the parse tree's pages */
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
		conn_deadline(w, r->conn, 0);   /* our own work: no deadline */
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
	int rc, refused, big;

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
	big = j->big;
	job_free(j);
	if (big)
		cl_webhook_release_memory();
	return ret;
}

static struct req *req_new(const char *method, const char *url)
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
	r->started = cl_mono_ms();
	return r;
}

static void req_free(struct req *r)
{
	job_free(r->job);   /* only if the connection died before its answer */
	body_free(r);
	sodium_memzero(&r->mac, sizeof(r->mac));
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

		const union MHD_ConnectionInfo *ci;

		r = req_new(method, url);
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		/* The headers are in: from now on the whole request has
		 * CL_WEBHOOK_UPLOAD_DEADLINE. */
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		r->conn = ci ? ci->socket_context : NULL;
		conn_deadline(w, r->conn, (int64_t)CL_WEBHOOK_UPLOAD_DEADLINE * 1000);
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
			/* Nothing is reserved: the body is kept as it arrives. */
			r->announced = (size_t)clen;
		}
		r->unsigned_body = signature_start(w, c, r);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (r->replied)
			return MHD_YES;
		if (cl_mono_ms() - r->started > (int64_t)CL_WEBHOOK_UPLOAD_DEADLINE * 1000) {
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
		if (r->unsigned_body)
			return MHD_YES;   /* counted, not kept: 401 at the end */
		crypto_auth_hmacsha256_update(&r->mac, (const unsigned char *)upload_data, n);
		if (body_add(r, w->max_body, upload_data, n) != CL_OK) {
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
	/* The request is in; parsing it is our time, not the client's. */
	conn_deadline(w, r->conn, 0);
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
	/* A kept-alive connection must send its next headers in time. */
	conn_deadline(w, r->conn, w->header_ms);
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
	ev.ms = (unsigned)(cl_mono_ms() - r->started);

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
	(void)cl_fmt(addr, cap, v6 ? "[%s]:%lu" : "%s:%lu", host, port);
	*fd = s;
	return CL_OK;
}

static void webhook_free(struct cl_webhook *w)
{
	if (w->have_ps)
		cl_presealer_release(&w->ps);
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
	pthread_mutex_destroy(&w->cmu);
	pthread_cond_destroy(&w->reap);
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

/* webhook_state (FORMAT.md, side tables): what `status` shows of the
 * receiver.  Row "delivered": records stored from deliveries in all, and
 * updated_at (ms) = the last commit that stored one. */
static int state_init(struct cl_webhook *w, char **err)
{
	char *e = NULL;
	int rc;

	if (sqlite3_exec(cl_ledger_sqlite(w->l),
			 "CREATE TABLE IF NOT EXISTS webhook_state(name TEXT PRIMARY KEY,"
			 " value INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
			 NULL, NULL, &e) == SQLITE_OK)
		return CL_OK;
	rc = cl_error(err, CL_EIO, "cannot create webhook_state: %s", e ? e : "?");
	sqlite3_free(e);
	return rc;
}

void cl_webhook_status(struct cl_ledger *l, struct cl_webhook_status *st)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *q = NULL;

	memset(st, 0, sizeof(*st));
	/* A missing table (the receiver never ran here) fails to prepare. */
	if (sqlite3_prepare_v2(db, "SELECT value, updated_at FROM webhook_state"
			       " WHERE name = 'delivered'", -1, &q, NULL) != SQLITE_OK) {
		sqlite3_finalize(q);
		return;
	}
	st->have = 1;
	if (sqlite3_step(q) == SQLITE_ROW) {
		st->records = (uint64_t)sqlite3_column_int64(q, 0);
		st->last_ms = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	q = NULL;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM media_pending", -1, &q,
			       NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
		st->media_queued = (uint64_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
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
	unsigned per = o->max_per_address ? o->max_per_address
		: CL_WEBHOOK_PER_ADDRESS_DEFAULT;
	unsigned header = o->header_timeout_s ? o->header_timeout_s
		: CL_WEBHOOK_HEADER_TIMEOUT_DEFAULT;
	pthread_condattr_t ca;
	unsigned flags;
	int rc = CL_OK;

	*out = NULL;
	if (o->app_secret == NULL || o->app_secret_len == 0 ||
	    o->verify_token == NULL || o->verify_token_len == 0)
		return cl_error(err, CL_EINVAL, "the app secret and the verify token must not be empty");
	if (conns > CL_WEBHOOK_CONNECTIONS_MAX)
		return cl_error(err, CL_EINVAL, "at most %u connections",
				CL_WEBHOOK_CONNECTIONS_MAX);
	if (per > conns)
		per = conns;   /* a default above a small total means "all" */
	if (header > CL_WEBHOOK_HEADER_TIMEOUT_MAX)
		return cl_error(err, CL_EINVAL, "the header timeout is at most %u seconds",
				CL_WEBHOOK_HEADER_TIMEOUT_MAX);
	/* no answer waits for a WAL checkpoint */
	if ((rc = cl_ledger_bg_checkpoint(l, err)))
		return rc;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return CL_ENOMEM;
	w->lfd = -1;
	w->header_ms = (int64_t)header * 1000;
	pthread_mutex_init(&w->cmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->reap, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->mu, NULL);
	if (cl_presealer_init(&w->ps, l) == CL_OK)
		w->have_ps = 1;
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	pthread_cond_init(&w->dl_cond, NULL);
	w->l = l;
	w->max_body = o->max_body ? o->max_body : CL_WEBHOOK_MAX_BODY_DEFAULT;
	w->on_request = o->on_request;
	w->classify = o->classify;
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
	if ((rc = state_init(w, err)))
		goto out;
	if (o->access_token && o->access_token_len &&
	    (rc = media_init(w, o, err)))
		goto out;
	if ((rc = open_listener(o->listen, &w->lfd, w->addr, sizeof(w->addr), err)))
		goto out;
	if (w->token) {
		if (pthread_create(&w->downloader, NULL, cl_webhook_downloader_main, w) != 0) {
			rc = cl_error(err, CL_ENOMEM, "cannot start the downloader thread");
			goto out;
		}
		w->have_downloader = 1;
	}
	if (pthread_create(&w->committer, NULL, cl_webhook_committer_main, w) != 0) {
		rc = cl_error(err, CL_ENOMEM, "cannot start the committer thread");
		goto out;
	}
	w->have_committer = 1;
	if (pthread_create(&w->reaper, NULL, reaper_main, w) != 0) {
		rc = cl_error(err, CL_ENOMEM, "cannot start the reaper thread");
		goto out;
	}
	w->have_reaper = 1;
	/* epoll where there is epoll (Linux), else poll; never select(),
	 * which cannot watch descriptors past FD_SETSIZE.  Each pool thread
	 * has its own event loop, so idle or slow connections cost a
	 * descriptor and MHD's per-connection memory, never a thread. */
	flags = MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES
		? MHD_USE_EPOLL_INTERNAL_THREAD : MHD_USE_POLL_INTERNAL_THREAD;
	w->d = MHD_start_daemon(flags | MHD_ALLOW_SUSPEND_RESUME,
				0, NULL, NULL, on_access, w,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)w->lfd,
				MHD_OPTION_THREAD_POOL_SIZE, cl_http_threads(),
				MHD_OPTION_CONNECTION_TIMEOUT, timeout,
				MHD_OPTION_CONNECTION_LIMIT, conns,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, per,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, w,
				MHD_OPTION_NOTIFY_CONNECTION, on_connection, w,
				MHD_OPTION_END);
	if (w->d == NULL) {
		rc = cl_error(err, CL_EIO, "cannot start the HTTP server on %s", w->addr);
		goto out;
	}
	w->lfd = -1;   /* the daemon owns it now */
out:
	if (rc) {
		stop_reaper(w);
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
	w->dl_quit = 1;   /* cancel a download in progress: retried next start */
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
	MHD_stop_daemon(w->d);   /* every connection is unlinked now */
	w->d = NULL;
	stop_reaper(w);
	if (st) {
		pthread_mutex_lock(&w->mu);
		*st = w->st;
		pthread_mutex_unlock(&w->mu);
		st->cut_off = w->cut_off;
	}
	webhook_free(w);
}

