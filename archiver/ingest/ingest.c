/*
 * ingest.c - JSON-lines import with quarantine (ingest.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ingest/ingest.h"
#include "archiver/ingest/record.h"
#include "archiver/parties/parties.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define QUARANTINE_KEEP (16u << 20) /* bytes of a bad item kept */

struct pending_q {
	uint64_t line;
	char *reason;
	enum cl_append_outcome dup;
};

int cl_ingest_quarantine(struct cl_ledger *l, const char *format,
			 const char *input, uint64_t item,
			 const unsigned char *data, size_t len,
			 const char *reason, enum cl_append_outcome *dup, char **err)
{
	struct cl_entry_in in;
	json_t *pub = NULL, *sealed = NULL;
	char *body = NULL, *pt = NULL;
	unsigned char h[32];
	struct cl_buf key, b64;
	uint64_t idx;
	int rc = CL_OK;
	size_t keep = len > QUARANTINE_KEEP ? QUARANTINE_KEEP : len;

	cl_buf_init(&key, 256);
	cl_buf_init(&b64, (keep / 3 + 2) * 4 + 16);
	cl_sha256(data, len, h);
	if ((rc = cl_buf_addf(&key, "chatledger/quarantine/v1\n%s\n%s\n", format, reason)) ||
	    (rc = cl_buf_add(&key, h, 32)) ||
	    (rc = cl_b64_add(&b64, data, keep)))
		goto out;
	pub = json_pack("{s:s, s:I, s:s}", "format", format, "item", (json_int_t)item,
			"reason", reason);
	sealed = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b}", "format", format,
			   "input", input, "item", (json_int_t)item, "reason", reason,
			   "raw", (const char *)b64.data, "truncated", keep != len);
	if (pub == NULL || sealed == NULL) {
		rc = cl_error(err, CL_EINVAL, "cannot describe quarantined item %llu",
			      (unsigned long long)item);
		goto out;
	}
	body = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	pt = json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS);
	if (body == NULL || pt == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_QUARANTINE;
	in.kind = "quarantine";
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.key = key.data;
	in.key_len = key.len;
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = strlen(pt);
	in.body = body;
	in.body_len = strlen(body);
	rc = cl_ledger_append(l, &in, &idx, dup, err);
out:
	if (pt)
		sodium_memzero(pt, strlen(pt));
	free(pt);
	free(body);
	json_decref(pub);
	json_decref(sealed);
	if (b64.data)
		sodium_memzero(b64.data, b64.len);
	cl_buf_release(&b64);
	cl_buf_release(&key);
	return rc;
}

static int is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Jansson's messages may quote the offending token ("near 'foo'"):
 * keep only the part before it so no content reaches a reason. */
static void scrub_reason(char *s)
{
	char *p = strstr(s, " near ");

	if (p)
		*p = 0;
}

/* ---- an import session ---------------------------------------------- */

void cl_ingest_entry_from_record(struct cl_entry_in *in, const struct cl_record *rec)
{
	memset(in, 0, sizeof(*in));
	in->type = CL_ENTRY_RECORD;
	in->kind = rec->kind;
	in->sent_at = rec->sent_at;
	in->received_at = rec->received_at;
	in->key = rec->key;
	in->key_len = rec->key_len;
	in->conv = rec->conv;
	in->conv_len = rec->conv_len;
	in->plaintext = (const unsigned char *)rec->canonical;
	in->plaintext_len = rec->canonical_len;
	in->attrs = rec->attrs;
	in->attrs_len = rec->attrs_len;
	in->fp = rec->fp;
	in->fp_len = rec->fp_len;
}

static void count_kind(struct cl_ingest_stats *st, const char *kind)
{
	size_t i, cap = sizeof(st->kinds) / sizeof(st->kinds[0]);

	for (i = 0; i < st->n_kinds; i++)
		if (strcmp(st->kinds[i].kind, kind) == 0) {
			st->kinds[i].n++;
			return;
		}
	if (st->n_kinds == cap) {
		kind = "other";
		for (i = 0; i < st->n_kinds; i++)
			if (strcmp(st->kinds[i].kind, kind) == 0) {
				st->kinds[i].n++;
				return;
			}
		i = cap - 1;
	} else {
		i = st->n_kinds++;
	}
	(void)cl_fmt(st->kinds[i].kind, sizeof(st->kinds[i].kind), "%s", kind);
	st->kinds[i].n = 1;
}

struct pending_blob {
	char sha[65];
	char *name, *mime;
	unsigned char *data;
	size_t len;
};

struct session {
	struct cl_ledger *l;
	const struct cl_ingest_opts *o;
	struct cl_ingest_stats *st;
	char **err;
	size_t batch, inbatch;
	uint64_t pending;
	struct pending_q *q;
	size_t nq;
	int any_q;
	struct pending_blob blobs[64];
	size_t nblobs;
};

static void drop_blobs(struct session *s)
{
	size_t i;

	for (i = 0; i < s->nblobs; i++) {
		if (s->blobs[i].data)
			sodium_memzero(s->blobs[i].data, s->blobs[i].len);
		free(s->blobs[i].data);
		free(s->blobs[i].name);
		free(s->blobs[i].mime);
	}
	s->nblobs = 0;
}

static int flush(struct session *s)
{
	const struct cl_ingest_opts *o = s->o;
	struct cl_ingest_stats *st = s->st;
	size_t i;
	int rc = cl_ledger_commit(s->l, s->err);

	if (rc == CL_OK) {
		st->batches++;
		st->ingested += s->pending;
		for (i = 0; i < s->nq; i++) {
			if (s->q[i].dup)
				st->requarantined++;
			else
				st->quarantined++;
			if (o->on_quarantine)
				o->on_quarantine(o->ctx, o->input_name, s->q[i].line,
						 s->q[i].reason, s->q[i].dup != CL_APPEND_NEW);
		}
		if (o->on_batch)
			o->on_batch(o->ctx, st);
	}
	for (i = 0; i < s->nq; i++)
		free(s->q[i].reason);
	s->nq = 0;
	s->pending = 0;
	s->inbatch = 0;
	return rc;
}

/* Open a batch if none is open; count one item into it. */
static int step_in(struct session *s)
{
	int rc;

	if (s->inbatch == 0 && (rc = cl_ledger_begin(s->l, s->err)))
		return rc;
	s->inbatch++;
	return CL_OK;
}

static int step_out(struct session *s)
{
	return s->inbatch >= s->batch ? flush(s) : CL_OK;
}

/* Quarantine one bad item in the open batch and queue its report for
 * when the batch is durable. */
static int queue_bad(struct session *s, uint64_t item, const unsigned char *data,
		     size_t len, const char *reason)
{
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc;

	rc = cl_ingest_quarantine(s->l, s->o->format, s->o->input_name, item,
				  data, len, reason, &dup, s->err);
	if (rc)
		return rc;
	s->q[s->nq].dup = dup == CL_APPEND_DUPLICATE;
	s->q[s->nq].line = item;
	s->q[s->nq].reason = strdup(reason);
	if (s->q[s->nq].reason == NULL)
		return CL_ENOMEM;
	s->nq++;
	s->any_q = 1;
	return CL_OK;
}

static int sess_bad(void *ctx, uint64_t item, const unsigned char *data,
		    size_t len, const char *reason)
{
	struct session *s = ctx;
	int rc;

	if ((rc = step_in(s)) || (rc = queue_bad(s, item, data, len, reason)))
		return rc;
	return step_out(s);
}

static int sess_blob(void *ctx, const char *sha, const char *name,
		     const char *mime, const unsigned char *data, size_t len)
{
	struct session *s = ctx;
	struct pending_blob *b;

	if (s->nblobs == sizeof(s->blobs) / sizeof(s->blobs[0]) || strlen(sha) != 64)
		return cl_error(s->err, CL_EINVAL, "too many attachments before their message");
	b = &s->blobs[s->nblobs];
	memset(b, 0, sizeof(*b));
	memcpy(b->sha, sha, 65);
	b->name = strdup(name ? name : "");
	b->mime = strdup(mime ? mime : "application/octet-stream");
	b->data = malloc(len ? len : 1);
	if (b->name == NULL || b->mime == NULL || b->data == NULL) {
		free(b->name);
		free(b->mime);
		free(b->data);
		return CL_ENOMEM;
	}
	memcpy(b->data, data, len);
	b->len = len;
	s->nblobs++;
	return CL_OK;
}

/* Store the pending blobs that record `rec` (entry `parent`) lists. */
static int store_attachments(struct session *s, const struct cl_record *rec,
			     uint64_t parent)
{
	size_t i;
	int rc = CL_OK;

	for (i = 0; i < s->nblobs; i++) {
		struct pending_blob *b = &s->blobs[i];
		struct cl_entry_in in;
		struct cl_buf key;
		char body[64];
		uint64_t idx;
		enum cl_append_outcome dup;

		if (strstr(rec->canonical, b->sha) == NULL)
			continue;
		cl_buf_init(&key, rec->key_len + 128);
		if ((rc = cl_buf_add(&key, rec->key, rec->key_len)) ||
		    (rc = cl_buf_addf(&key, "/attachment/%s", b->sha))) {
			cl_buf_release(&key);
			return rc;
		}
		(void)cl_fmt(body, sizeof(body), "{\"attachment_of\":%llu}",
			 (unsigned long long)parent);
		memset(&in, 0, sizeof(in));
		in.type = CL_ENTRY_RECORD;
		in.kind = "attachment";
		in.sent_at = rec->sent_at;
		in.received_at = rec->received_at;
		in.key = key.data;
		in.key_len = key.len;
		in.conv = rec->conv;
		in.conv_len = rec->conv_len;
		in.plaintext = b->data;
		in.plaintext_len = b->len;
		in.body = body;
		in.body_len = strlen(body);
		in.attrs = rec->attrs;
		in.attrs_len = rec->attrs_len;
		rc = cl_ledger_append(s->l, &in, &idx, &dup, s->err);
		cl_buf_release(&key);
		if (rc)
			return rc;
		if (dup != CL_APPEND_DUPLICATE)
			s->st->attachments++;
	}
	return CL_OK;
}

/* A record whose source says its identifiers are one party: link the
 * first to each other one, in the open batch (a repeated statement is a
 * duplicate and appends nothing). */
static int link_idents(struct session *s, const char *idents, size_t n_idents,
		       const char *source)
{
	char origin[48];
	const char *first = idents, *p;
	size_t i;
	int added;

	if (idents == NULL || n_idents < 2)
		return CL_OK;
	(void)cl_fmt(origin, sizeof(origin), "source:%s", source);
	p = first + strlen(first) + 1;
	for (i = 1; i < n_idents; i++, p += strlen(p) + 1) {
		int rc = cl_party_link_in_batch(s->l, first, p, origin, &added, s->err);

		if (rc)
			return rc;
	}
	return CL_OK;
}

/* Validate and append one record; quarantine it as item `item` if the
 * schema rejects it. */
static int record_at(struct session *s, const char *json, size_t len,
		     uint64_t item)
{
	struct cl_record rec;
	struct cl_entry_in in;
	char *why = NULL;
	uint64_t idx;
	enum cl_append_outcome dup;
	int rc;

	if ((rc = step_in(s)))
		return rc;
	rc = cl_record_parse_opts(json, len, s->o->classify, &rec, &why);
	if (rc == CL_EINVAL) {
		if (why)
			scrub_reason(why);
		rc = queue_bad(s, item, (const unsigned char *)json, len,
			       why ? why : "invalid record");
	} else if (rc == CL_OK) {
		cl_ingest_entry_from_record(&in, &rec);
		rc = cl_ledger_append(s->l, &in, &idx, &dup, s->err);
		if (rc == CL_OK) {
			if (dup == CL_APPEND_DUPLICATE) {
				s->st->duplicates++;
			} else {
				s->pending++;
				s->st->conflicts += dup == CL_APPEND_CONFLICT;
				count_kind(s->st, rec.kind);
			}
			rc = link_idents(s, rec.idents, rec.n_idents, rec.source);
			if (s->nblobs && rc == CL_OK)
				rc = store_attachments(s, &rec, idx);
		}
	}
	drop_blobs(s);
	if (rec.canonical)
		sodium_memzero(rec.canonical, rec.canonical_len);
	cl_record_release(&rec);
	free(why);
	return rc ? rc : step_out(s);
}

/* The sink's record callback: items are numbered in emission order. */
static int sess_record(void *ctx, const char *json, size_t len)
{
	struct session *s = ctx;

	s->st->lines++;
	return record_at(s, json, len, s->st->lines);
}

static int sess_init(struct session *s, struct cl_ledger *l,
		     const struct cl_ingest_opts *o, struct cl_ingest_stats *st,
		     char **err)
{
	memset(s, 0, sizeof(*s));
	memset(st, 0, sizeof(*st));
	s->l = l;
	s->o = o;
	s->st = st;
	s->err = err;
	s->batch = o->batch_size ? o->batch_size : 1000;
	s->q = calloc(s->batch, sizeof(*s->q));
	if (s->q == NULL)
		return CL_ENOMEM;
	cl_ledger_bulk(l, 1);
	return CL_OK;
}

/* Commit what is open (rc == CL_OK) or roll it back; free the session. */
static int sess_end(struct session *s, int rc)
{
	size_t i;

	if (rc == CL_OK && s->inbatch > 0)
		rc = flush(s);
	if (s->inbatch > 0 && rc)
		cl_ledger_rollback(s->l);
	cl_ledger_bulk(s->l, 0);
	for (i = 0; i < s->nq; i++)
		free(s->q[i].reason);
	free(s->q);
	drop_blobs(s);
	if (rc == CL_OK && s->any_q)
		rc = CL_EPARTIAL;
	return rc;
}

/* ---- JSON lines, on several threads ---------------------------------- */

/*
 * Worker threads (o->threads; by default one per CPU, at most
 * DEFAULT_WORKERS) take the input's lines
 * in turn and parse, validate, normalise and seal each (the CPU-heavy
 * part) into a ring of slots; this thread appends the slots in input
 * order and commits.  A worker reads its line and claims the next slot
 * under one lock (in_mu), so slot order is input order whichever worker
 * finishes first; nothing reaches the ledger out of order, and a slot is
 * only reused after it was appended.
 */
#define RING 256
/*
 * Slots are handed to the appender in runs, not one by one: a worker
 * wakes it only when it is waiting and RUN slots are ready in order (or
 * the input ended), because on a virtual machine every futex wake and
 * context switch costs as much as parsing a record.  An appender waiting
 * for a run takes what there is after WAIT_MS, so a slow pipe's records
 * are appended within that time.
 */
#define RUN 32
#define WAIT_MS 10
#define DEFAULT_WORKERS 4

enum { SLOT_RECORD, SLOT_BAD, SLOT_EOF, SLOT_ERROR };

struct pslot {
	int what;
	int ready;                 /* filled: the appender may take it */
	uint64_t line;
	char *reason;              /* SLOT_BAD */
	struct cl_buf raw;         /* SLOT_BAD: the line as read */
	struct cl_prepared *prep;  /* SLOT_RECORD */
	int rc;                    /* SLOT_ERROR */
	int eno;                   /* SLOT_ERROR reading the input: its errno */
	char *err;
	struct cl_buf idents;      /* SLOT_RECORD: cl_record.idents */
	size_t n_idents;
	char source[CL_KIND_MAX + 1];
};

struct jpipe {
	pthread_mutex_t mu;        /* the ring and the flags below */
	pthread_mutex_t in_mu;     /* the input, and the order of claims */
	pthread_cond_t has_room;   /* a worker waits on it */
	pthread_cond_t has_slots;  /* the appender waits on it */
	struct pslot slot[RING];
	size_t head, tail, n;      /* n: slots claimed and not yet appended */
	int stop;                  /* the appender stopped: claim nothing more */
	int eof;                   /* the last slot (EOF or ERROR) is claimed */
	int ended;                 /* ... and filled */
	int reader_waits, appender_waits;
	int take_any;              /* the appender waited WAIT_MS: wake it for one */
	FILE *f;                   /* under in_mu */
	uint64_t lineno;           /* under in_mu */
	const struct cl_record_opts *classify;
};

struct worker {
	struct jpipe *p;
	struct cl_sealer *sealer;  /* this thread's own */
	pthread_t th;
	int started;
};

/* Slots filled in order from the tail, at most RUN (p->mu held). */
static size_t ready_run(const struct jpipe *p)
{
	size_t k = 0;

	while (k < p->n && k < RUN && p->slot[(p->tail + k) % RING].ready)
		k++;
	return k;
}

/* Fill claimed slot `sl` from line[0..n) (got < 0: the input ended or
 * failed: its errno, or EIO); 1 if it is the last slot (EOF or ERROR). */
static int fill_slot(struct jpipe *p, struct cl_sealer *sealer, struct pslot *sl,
		     char *line, size_t n, ssize_t got, int input_failed)
{
	struct cl_record rec;
	char *why = NULL;
	int rc;

	free(sl->reason);
	sl->reason = NULL;
	free(sl->err);
	sl->err = NULL;
	if (got < 0) {
		sl->what = input_failed ? SLOT_ERROR : SLOT_EOF;
		sl->rc = CL_EIO;
		sl->eno = input_failed;
		return 1;
	}
	rc = cl_record_parse_opts(line, n, p->classify, &rec, &why);
	if (rc == CL_EINVAL) {
		if (why)
			scrub_reason(why);
		sl->what = SLOT_BAD;
		sl->reason = why ? why : strdup("invalid record");
		why = NULL;
		cl_buf_reset(&sl->raw);
		/* The quarantine keeps at most QUARANTINE_KEEP bytes and
		 * notes the truncation; one more byte tells it. */
		rc = sl->reason ? cl_buf_add(&sl->raw, line,
					      n > QUARANTINE_KEEP ? QUARANTINE_KEEP + 1 : n) :
			CL_ENOMEM;
	} else if (rc == CL_OK) {
		struct cl_entry_in in;

		cl_ingest_entry_from_record(&in, &rec);
		sl->what = SLOT_RECORD;
		rc = cl_sealer_prepare(sealer, &in, sl->prep, &sl->err);
		cl_buf_reset(&sl->idents);
		sl->n_idents = rec.n_idents;
		memcpy(sl->source, rec.source, sizeof(sl->source));
		if (rc == CL_OK && rec.idents)
			rc = cl_buf_add(&sl->idents, rec.idents, rec.idents_len);
	}
	if (rec.canonical)
		sodium_memzero(rec.canonical, rec.canonical_len);
	cl_record_release(&rec);
	free(why);
	sodium_memzero(line, n);
	if (rc) {
		sl->what = SLOT_ERROR;
		sl->rc = rc;
		return 1;
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct jpipe *p = w->p;
	char *line = NULL;
	size_t cap = 0;
	int last = 0;

	while (!last) {
		struct pslot *sl;
		ssize_t got;
		size_t n = 0;
		uint64_t lineno;
		int failed = 0;

		pthread_mutex_lock(&p->in_mu);
		pthread_mutex_lock(&p->mu);
		while (p->n == RING && !p->stop) {
			p->reader_waits++;
			pthread_cond_wait(&p->has_room, &p->mu);
			p->reader_waits--;
		}
		if (p->stop || p->eof) {
			pthread_mutex_unlock(&p->mu);
			pthread_mutex_unlock(&p->in_mu);
			break;
		}
		pthread_mutex_unlock(&p->mu);
		/* Only a claim, under in_mu, takes room: it is still there. */
		errno = 0;
		while ((got = getline(&line, &cap, p->f)) >= 0) {
			n = (size_t)got;
			p->lineno++;
			if (!is_blank(line, n))
				break;
		}
		if (got >= 0) {
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				n--;
		} else {
			failed = ferror(p->f) ? (errno ? errno : EIO) : 0;
		}
		lineno = p->lineno;
		pthread_mutex_lock(&p->mu);
		sl = &p->slot[p->head];
		p->head = (p->head + 1) % RING;
		p->n++;
		if (got < 0)
			p->eof = 1;
		pthread_mutex_unlock(&p->mu);
		pthread_mutex_unlock(&p->in_mu);

		sl->line = lineno;
		last = fill_slot(p, w->sealer, sl, line, n, got, failed);

		pthread_mutex_lock(&p->mu);
		sl->ready = 1;
		if (last)
			p->eof = p->ended = 1;   /* a failed slot also ends the claims */
		if (p->appender_waits) {
			size_t k = ready_run(p);

			if (k >= RUN || (k > 0 && (p->ended || p->take_any)))
				pthread_cond_signal(&p->has_slots);
		}
		pthread_mutex_unlock(&p->mu);
	}
	if (line) {
		sodium_memzero(line, cap);
		free(line);
	}
	return NULL;
}

/* With p->mu held and the tail slot not ready: wait until a run of RUN
 * slots is ready, or at least one when the input ended or WAIT_MS
 * passed. */
static void wait_for_run(struct jpipe *p)
{
	struct timespec until;
	size_t k;

	cl_deadline(CLOCK_MONOTONIC, WAIT_MS * 1000000L, &until);
	p->appender_waits = 1;
	while ((k = ready_run(p)) < RUN && !(k > 0 && p->ended)) {
		if (p->take_any) {
			if (k > 0)
				break;
			pthread_cond_wait(&p->has_slots, &p->mu);
		} else if (pthread_cond_timedwait(&p->has_slots, &p->mu,
						  &until) == ETIMEDOUT) {
			/* A slow input: from now on any one slot will do. */
			p->take_any = 1;
		}
	}
	p->appender_waits = 0;
	p->take_any = 0;
}

/* Workers: as asked (at most CL_INGEST_MAX_THREADS), else one per
 * online CPU, 1..DEFAULT_WORKERS. */
static size_t worker_count(size_t asked)
{
	long c = sysconf(_SC_NPROCESSORS_ONLN);

	if (asked > 0)
		return asked > CL_INGEST_MAX_THREADS ? CL_INGEST_MAX_THREADS : asked;
	return c < 1 ? 1 : c > DEFAULT_WORKERS ? DEFAULT_WORKERS : (size_t)c;
}

int cl_ingest_jsonl(struct cl_ledger *l, FILE *f,
		    const struct cl_ingest_opts *o,
		    struct cl_ingest_stats *st, char **err)
{
	struct session s;
	struct jpipe *p = NULL;
	struct worker wk[CL_INGEST_MAX_THREADS];
	pthread_condattr_t ca;
	size_t i, nw = worker_count(o->threads);
	int rc, started = 0;

	memset(wk, 0, sizeof(wk));
	if ((rc = sess_init(&s, l, o, st, err)))
		return rc;
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->in_mu, NULL);
	pthread_cond_init(&p->has_room, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->has_slots, &ca);
	pthread_condattr_destroy(&ca);
	p->f = f;
	p->classify = o->classify;
	for (i = 0; i < RING; i++) {
		cl_buf_init(&p->slot[i].raw, QUARANTINE_KEEP + 2);
		cl_buf_init(&p->slot[i].idents, CL_RECORD_MAX_IDENTS * 600);
		if ((rc = cl_prepared_new(&p->slot[i].prep)))
			goto out;
	}
	for (i = 0; i < nw; i++) {
		wk[i].p = p;
		if ((rc = cl_sealer_new(l, &wk[i].sealer)))
			goto out;
	}
	for (i = 0; i < nw; i++) {
		if (pthread_create(&wk[i].th, NULL, worker_main, &wk[i]) != 0) {
			if (i > 0)
				break;    /* fewer workers will do */
			rc = cl_error(err, CL_ENOMEM, "cannot start a reader thread");
			goto out;
		}
		wk[i].started = 1;
		started = 1;
	}
	for (;;) {
		struct pslot *sl;
		int what;

		pthread_mutex_lock(&p->mu);
		if (!p->slot[p->tail].ready)
			wait_for_run(p);
		sl = &p->slot[p->tail];
		pthread_mutex_unlock(&p->mu);

		what = sl->what;
		if (what == SLOT_RECORD) {
			uint64_t idx;
			enum cl_append_outcome dup;

			s.st->lines++;
			if ((rc = step_in(&s)) == CL_OK &&
			    (rc = cl_ledger_append_prepared(l, sl->prep, &idx, &dup, err)) == CL_OK) {
				if (dup == CL_APPEND_DUPLICATE) {
					s.st->duplicates++;
				} else {
					s.pending++;
					s.st->conflicts += dup == CL_APPEND_CONFLICT;
					count_kind(s.st, cl_prepared_kind(sl->prep));
				}
				if (sl->n_idents >= 2)
					rc = link_idents(&s, (const char *)sl->idents.data,
							 sl->n_idents, sl->source);
				if (rc == CL_OK)
					rc = step_out(&s);
			}
		} else if (what == SLOT_BAD) {
			s.st->lines++;
			rc = sess_bad(&s, sl->line, sl->raw.data, sl->raw.len, sl->reason);
			if (sl->raw.data)
				sodium_memzero(sl->raw.data, sl->raw.len);
		} else if (what == SLOT_ERROR) {
			rc = sl->rc == CL_EIO && sl->err == NULL ?
				cl_error(err, CL_EIO, "cannot read '%s': %s", o->input_name,
					 strerror(sl->eno ? sl->eno : EIO)) :
				cl_error(err, sl->rc, "%s:%llu: %s", o->input_name,
					 (unsigned long long)sl->line,
					 sl->err ? sl->err : cl_strerror(sl->rc));
		}
		pthread_mutex_lock(&p->mu);
		sl->ready = 0;
		p->tail = (p->tail + 1) % RING;
		p->n--;
		if (rc || what == SLOT_EOF || what == SLOT_ERROR)
			p->stop = 1;
		if (p->reader_waits && (p->n <= RING - RUN || p->stop))
			pthread_cond_broadcast(&p->has_room);
		pthread_mutex_unlock(&p->mu);
		if (rc || what == SLOT_EOF || what == SLOT_ERROR)
			break;
	}
out:
	if (started)
		for (i = 0; i < nw; i++)
			if (wk[i].started)
				pthread_join(wk[i].th, NULL);
	for (i = 0; i < nw; i++)
		cl_sealer_free(wk[i].sealer);
	if (p) {
		for (i = 0; i < RING; i++) {
			free(p->slot[i].reason);
			free(p->slot[i].err);
			if (p->slot[i].raw.data)
				sodium_memzero(p->slot[i].raw.data, p->slot[i].raw.alloc);
			cl_buf_release(&p->slot[i].raw);
			cl_buf_release(&p->slot[i].idents);
			cl_prepared_free(p->slot[i].prep);
		}
		pthread_mutex_destroy(&p->mu);
		pthread_mutex_destroy(&p->in_mu);
		pthread_cond_destroy(&p->has_room);
		pthread_cond_destroy(&p->has_slots);
		free(p);
	}
	return sess_end(&s, rc);
}

int cl_ingest_import(struct cl_ledger *l, cl_importer_fn importer,
		     const char *path, const struct cl_import_opts *io,
		     const struct cl_ingest_opts *o,
		     struct cl_ingest_stats *st, char **err)
{
	struct session s;
	struct cl_import_sink sink;
	int rc;

	if ((rc = sess_init(&s, l, o, st, err)))
		return rc;
	sink.ctx = &s;
	sink.record = sess_record;
	sink.bad = sess_bad;
	sink.blob = sess_blob;
	rc = importer(path, io, &sink, err);
	return sess_end(&s, rc);
}
