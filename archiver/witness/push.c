/*
 * push.c - post the latest checkpoint to the configured witnesses, keep
 * what they answer (push.h).
 *
 * Side tables in ledger.db (docs/FORMAT.md §11.4), created by the first
 * push:
 *   witness_cosig(size, vkey, time, line)   one verified cosignature line
 *   witness_state(vkey, url, size, state, since, last_try)
 *   witness_evidence(id, at, vkey, url, status, request, response, monitor)
 *   checkpoint_tst(size, url, gen_time, tsr)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/proof.h"
#include "archiver/witness/cosig.h"
#include "archiver/witness/http.h"
#include "archiver/witness/push.h"
#include "archiver/witness/request.h"
#include "archiver/witness/tsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

static const char TABLES[] =
	"CREATE TABLE IF NOT EXISTS witness_cosig(size INTEGER NOT NULL,"
	" vkey TEXT NOT NULL, time INTEGER NOT NULL, line TEXT NOT NULL,"
	" PRIMARY KEY(size, vkey));"
	"CREATE TABLE IF NOT EXISTS witness_state(vkey TEXT PRIMARY KEY,"
	" url TEXT NOT NULL, size INTEGER NOT NULL, state TEXT NOT NULL,"
	" since INTEGER NOT NULL, last_try INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS witness_evidence(id INTEGER PRIMARY KEY,"
	" at INTEGER NOT NULL, vkey TEXT NOT NULL, url TEXT NOT NULL,"
	" status INTEGER NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL,"
	" monitor TEXT);"
	"CREATE TABLE IF NOT EXISTS checkpoint_tst(size INTEGER PRIMARY KEY,"
	" url TEXT NOT NULL, gen_time INTEGER NOT NULL, tsr BLOB NOT NULL);";

#define ST_OK "ok"

/* What happened with one witness (or the TSA), to be written at the end. */
struct wres {
	const char *vkey, *url;
	char prev[16];              /* previous state, "" if none */
	uint64_t prev_size;
	enum cl_push_outcome out;
	uint64_t size;              /* new stored size */
	char line[600];             /* cosignature line, "" if none */
	uint64_t time;
	long status;
	uint64_t old;
	char why[256];
	struct cl_buf req, resp, mon; /* evidence, for alerts */
};

static void say(cl_push_log log, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(cl_push_log log, void *ctx, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (log == NULL)
		return;
	va_start(ap, fmt);
	(void)cl_vfmt(line, sizeof(line), fmt, ap);
	va_end(ap);
	log(ctx, line);
}

/* The stored state of `vkey`; *found 0 if none (or no table yet). */
static void load_state(sqlite3 *db, const char *vkey, char state[16], uint64_t *size,
		       int64_t *last_try)
{
	sqlite3_stmt *st = NULL;

	state[0] = 0;
	*size = 0;
	if (sqlite3_prepare_v2(db, "SELECT state, size, last_try FROM witness_state"
			       " WHERE vkey = ?", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, vkey, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		(void)cl_fmt(state, 16, "%s", (const char *)sqlite3_column_text(st, 0));
		*size = (uint64_t)sqlite3_column_int64(st, 1);
		if (last_try && sqlite3_column_int64(st, 2) > *last_try)
			*last_try = sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
}

static int has_cosig(sqlite3 *db, uint64_t size, const char *vkey)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM witness_cosig WHERE size = ? AND vkey = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_text(st, 2, vkey, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return r;
}

/* The add-checkpoint body from `old` to the latest checkpoint `note`. */
static int build_request(struct cl_ledger *l, uint64_t old, uint64_t size,
			 const char *note, size_t note_len, struct cl_buf *out,
			 char **err)
{
	struct cl_buf p;
	unsigned char (*proof)[32] = NULL;
	uint64_t o = 0, n = 0;
	size_t count = 0;
	int rc = CL_OK;

	cl_buf_init(&p, 1 << 16);
	if (old > 0 && old < size) {
		if ((rc = cl_ledger_prove_consistency(l, old, size, &p, err)) ||
		    (rc = cl_consistency_proof_parse((const char *)p.data, p.len, &o, &n,
						     &proof, &count, err)))
			goto out;
	}
	rc = cl_wreq_format(old, (const unsigned char (*)[32])proof, count, note,
			    note_len, out);
out:
	free(proof);
	cl_buf_release(&p);
	return rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* POST with retries on transport errors only. */
static int post(const struct cl_wcfg *c, const char *url, const struct cl_buf *body,
		struct cl_http_resp *r, char **err)
{
	unsigned i, delay = c->backoff_ms;
	int rc = CL_EIO;

	for (i = 0; i <= c->retries; i++) {
		char *e = NULL;

		if (i > 0) {
			cl_http_resp_release(r);
			sleep_ms(delay);
			delay *= 2;
		}
		rc = cl_http_request(url, "text/plain; charset=utf-8", body->data, body->len,
				     c->timeout_s, r, &e);
		if (rc == CL_OK) {
			free(e);
			return CL_OK;
		}
		if (i == c->retries) {
			free(*err);
			*err = e;
		} else {
			free(e);
		}
	}
	return rc;
}

/* Take the witness's cosignature out of a 200 body. */
static int take_cosig(const struct cl_wcfg_witness *w, const char *note, size_t text_len,
		      const struct cl_buf *resp, struct wres *r)
{
	struct cl_buf full;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	size_t i;
	int rc = CL_EBADSIG;

	cl_buf_init(&full, 2 << 20);
	if (cn == NULL || cl_buf_add(&full, note, text_len) != CL_OK ||
	    cl_buf_add(&full, "\n", 1) != CL_OK ||
	    cl_buf_add(&full, resp->data, resp->len) != CL_OK ||
	    cl_cnote_parse((const char *)full.data, full.len, cn, NULL) != CL_OK)
		goto out;
	for (i = 0; i < cn->nsigs; i++) {
		uint64_t t = 0;
		int v = cl_cosig_verify(&w->key, &cn->sigs[i], (const char *)full.data,
					cn->text_len, &t);

		if (v == CL_OK && cn->sigs[i].line_len < sizeof(r->line)) {
			memcpy(r->line, cn->sigs[i].line, cn->sigs[i].line_len);
			r->line[cn->sigs[i].line_len] = 0;
			r->time = t;
			rc = CL_OK;
			break;
		}
	}
out:
	free(cn);
	cl_buf_release(&full);
	return rc;
}

/* GET the witness's monitor checkpoint of our origin, as evidence. */
static void fetch_monitor(const struct cl_wcfg *c, const struct cl_wcfg_witness *w,
			  const char *origin, struct cl_buf *out)
{
	unsigned char h[32];
	struct cl_buf hex;
	struct cl_http_resp r;
	char *url;

	cl_sha256(origin, strlen(origin), h);
	cl_buf_init(&hex, 128);
	if (cl_hex_add(&hex, h, 32) != CL_OK) {
		cl_buf_release(&hex);
		return;
	}
	url = cl_strdupf("%s/%s/checkpoint", w->url, (const char *)hex.data);
	if (url) {
		if (cl_http_request(url, NULL, NULL, 0, c->timeout_s, &r, NULL) == CL_OK &&
		    r.status == 200)
			(void)cl_buf_add(out, r.body.data, r.body.len);
		cl_http_resp_release(&r);
	}
	free(url);
	cl_buf_release(&hex);
}

/* One witness: post, follow one 409, classify. */
static void push_one(struct cl_ledger *l, const struct cl_wcfg *c,
		     const struct cl_wcfg_witness *w, const struct cl_checkpoint *cp,
		     const char *note, size_t note_len, size_t text_len, struct wres *r)
{
	struct cl_http_resp resp;
	char *url = cl_strdupf("%s/add-checkpoint", w->url), *e = NULL;
	uint64_t old = r->prev_size <= cp->size ? r->prev_size : 0;
	int attempt;

	memset(&resp, 0, sizeof(resp));
	cl_buf_init(&resp.body, 16);
	if (url == NULL) {
		r->out = CL_PUSH_REFUSED;
		(void)cl_fmt(r->why, sizeof(r->why), "out of memory");
		goto out;
	}
	for (attempt = 0; attempt < 3; attempt++) {
		cl_buf_reset(&r->req);
		r->old = old;
		if (build_request(l, old, cp->size, note, note_len, &r->req, &e) != CL_OK) {
			r->out = CL_PUSH_ALERT;
			(void)cl_fmt(r->why, sizeof(r->why), "the witness knows size %" PRIu64
				     ", which this log cannot prove consistent: %s", old,
				     e ? e : "no such checkpoint");
			goto out;
		}
		cl_http_resp_release(&resp);
		free(e);
		e = NULL;
		if (post(c, url, &r->req, &resp, &e) != CL_OK) {
			r->out = CL_PUSH_UNREACHABLE;
			(void)cl_fmt(r->why, sizeof(r->why), "%s", e ? e : "unreachable");
			goto out;
		}
		r->status = resp.status;
		cl_buf_reset(&r->resp);
		(void)cl_buf_add(&r->resp, resp.body.data, resp.body.len);
		if (resp.status == 200) {
			if (take_cosig(w, note, text_len, &resp.body, r) != CL_OK) {
				r->out = CL_PUSH_REFUSED;
				(void)cl_fmt(r->why, sizeof(r->why),
					     "answered 200 without a valid cosignature by its key");
				goto out;
			}
			r->out = CL_PUSH_COSIGNED;
			r->size = cp->size;
			goto out;
		}
		if (resp.status == 409) {
			uint64_t s = 0;
			struct cl_buf tmp;
			int stored;

			if (cl_wreq_parse_size((const char *)resp.body.data, resp.body.len,
					       &s) != CL_OK) {
				r->out = CL_PUSH_REFUSED;
				(void)cl_fmt(r->why, sizeof(r->why), "409 without a size");
				goto out;
			}
			r->size = s;
			if (s > cp->size) {
				r->out = CL_PUSH_ALERT;
				(void)cl_fmt(r->why, sizeof(r->why), "the witness has cosigned size %"
					     PRIu64 " of this log, larger than its %" PRIu64
					     ": rollback", s, cp->size);
				goto out;
			}
			cl_buf_init(&tmp, 1 << 20);
			stored = s == 0 || cl_ledger_checkpoint(l, s, &tmp, NULL) == CL_OK;
			cl_buf_release(&tmp);
			if (!stored) {
				r->out = CL_PUSH_ALERT;
				(void)cl_fmt(r->why, sizeof(r->why), "the witness has cosigned size %"
					     PRIu64 ", a size this log never signed: fork", s);
				goto out;
			}
			if (s == old) {
				r->out = CL_PUSH_REFUSED;
				(void)cl_fmt(r->why, sizeof(r->why), "409 with the size sent");
				goto out;
			}
			old = s;
			continue;
		}
		if (resp.status == 422) {
			r->out = CL_PUSH_ALERT;
			(void)cl_fmt(r->why, sizeof(r->why), "the witness refused checkpoint %" PRIu64
				     " as inconsistent with its view (HTTP 422): fork or rollback",
				     cp->size);
			goto out;
		}
		r->out = CL_PUSH_REFUSED;
		(void)cl_fmt(r->why, sizeof(r->why), "HTTP %ld: %.120s", resp.status,
			     resp.body.len ? (const char *)resp.body.data : "");
		goto out;
	}
	r->out = CL_PUSH_REFUSED;
	(void)cl_fmt(r->why, sizeof(r->why), "too many 409 answers");
out:
	if (r->out == CL_PUSH_ALERT)
		fetch_monitor(c, w, cp->origin, &r->mon);
	cl_http_resp_release(&resp);
	free(e);
	free(url);
}

static const char *state_name(enum cl_push_outcome o)
{
	switch (o) {
	case CL_PUSH_UNREACHABLE: return "unreachable";
	case CL_PUSH_REFUSED: return "refused";
	case CL_PUSH_ALERT: return "alert";
	default: return ST_OK;
	}
}

static int append_coverage(struct cl_ledger *l, const char *kind, json_t *body,
			   char **err)
{
	struct cl_entry_in in;
	uint64_t idx;
	enum cl_append_outcome dup;
	char *s;
	int rc;

	if (body == NULL)
		return CL_ENOMEM;
	s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(body);
	if (s == NULL)
		return CL_ENOMEM;
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.body = s;
	in.body_len = strlen(s);
	rc = cl_ledger_append(l, &in, &idx, &dup, err);
	free(s);
	return rc;
}

static int exec_bind(sqlite3 *db, const char *sql, char **err, const char *fmt, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int i, rc = CL_OK;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "witness tables: %s", sqlite3_errmsg(db));
	va_start(ap, fmt);
	for (i = 0; fmt[i]; i++) {
		if (fmt[i] == 't') {
			const char *s = va_arg(ap, const char *);

			sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT);
		} else if (fmt[i] == 'i') {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, sqlite3_int64));
		} else if (fmt[i] == 'b') {
			const struct cl_buf *b = va_arg(ap, const struct cl_buf *);

			sqlite3_bind_blob(st, i + 1, b->len ? (const void *)b->data : "",
					  (int)b->len, SQLITE_TRANSIENT);
		} else if (fmt[i] == 's') {
			const struct cl_buf *b = va_arg(ap, const struct cl_buf *);

			sqlite3_bind_text(st, i + 1, b->len ? (const char *)b->data : "",
					  (int)b->len, SQLITE_TRANSIENT);
		}
	}
	va_end(ap);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = cl_error(err, CL_EIO, "witness tables: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

/* Write one witness's result in the open batch. */
static int record(struct cl_ledger *l, const struct cl_wcfg_witness *w, const struct wres *r,
		  uint64_t size, int64_t now, size_t *coverage, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	const char *st = state_name(r->out);
	int changed = strcmp(r->prev, st) != 0, rc;
	uint64_t stored = r->out == CL_PUSH_COSIGNED || r->out == CL_PUSH_UPTODATE ?
			  size : r->prev_size;

	if (r->out == CL_PUSH_UPTODATE)
		return exec_bind(db, "UPDATE witness_state SET last_try = ? WHERE vkey = ?",
				 err, "it", (sqlite3_int64)now, w->vkey);
	if (r->out == CL_PUSH_COSIGNED &&
	    (rc = exec_bind(db, "INSERT OR REPLACE INTO witness_cosig(size, vkey, time, line)"
			    " VALUES(?,?,?,?)", err, "itit", (sqlite3_int64)size, w->vkey,
			    (sqlite3_int64)r->time, r->line)))
		return rc;
	if ((rc = exec_bind(db, "INSERT INTO witness_state(vkey, url, size, state, since,"
			    " last_try) VALUES(?1,?2,?3,?4,?5,?5) ON CONFLICT(vkey) DO UPDATE"
			    " SET url = ?2, size = ?3, state = ?4, last_try = ?5,"
			    " since = CASE WHEN state = ?4 THEN since ELSE ?5 END",
			    err, "ttiti", w->vkey, w->url, (sqlite3_int64)stored, st,
			    (sqlite3_int64)now)))
		return rc;
	if (r->out == CL_PUSH_ALERT) {
		sqlite3_int64 id;

		if ((rc = exec_bind(db, "INSERT INTO witness_evidence(at, vkey, url, status,"
				    " request, response, monitor) VALUES(?,?,?,?,?,?,?)", err,
				    "ittisss", (sqlite3_int64)now, w->vkey, w->url,
				    (sqlite3_int64)r->status, &r->req, &r->resp, &r->mon)))
			return rc;
		id = sqlite3_last_insert_rowid(db);
		(*coverage)++;
		return append_coverage(l, "witness-alert",
				       json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:s}",
						 "alert", 1, "witness", w->key.name, "vkey", w->vkey,
						 "url", w->url, "status", (json_int_t)r->status,
						 "size", (json_int_t)size, "old", (json_int_t)r->old,
						 "evidence", (json_int_t)id, "reason", r->why), err);
	}
	if (!changed)
		return CL_OK;
	if (r->out == CL_PUSH_COSIGNED) {
		if (r->prev[0] == 0)
			return CL_OK;
		(*coverage)++;
		return append_coverage(l, "witness-recovered",
				       json_pack("{s:s, s:s, s:I, s:s}", "witness", w->key.name,
						 "url", w->url, "size", (json_int_t)size,
						 "after", r->prev), err);
	}
	(*coverage)++;
	return append_coverage(l, r->out == CL_PUSH_UNREACHABLE ? "witness-unreachable" :
			       "witness-refused",
			       json_pack("{s:s, s:s, s:I, s:I, s:s}", "witness", w->key.name,
					 "url", w->url, "status", (json_int_t)r->status,
					 "size", (json_int_t)size, "reason", r->why), err);
}

int cl_witness_push(struct cl_ledger *l, const struct cl_wcfg *c, int force,
		    cl_push_log log, void *lctx, struct cl_push_report *rep,
		    char **err)
{
	struct cl_buf note, tsr;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	struct cl_checkpoint cp;
	struct wres *res = calloc(CL_WCFG_MAX, sizeof(*res));
	sqlite3 *db = cl_ledger_sqlite(l);
	int64_t now = cl_time_now_ms() / 1000, last = 0, gen = 0;
	char tsa_prev[16];
	uint64_t tsa_size = 0;
	unsigned char digest[32];
	size_t i;
	int rc = CL_OK, in_batch = 0, tsa_have = 0;

	memset(rep, 0, sizeof(*rep));
	memset(&cp, 0, sizeof(cp));
	cl_buf_init(&note, 1 << 20);
	cl_buf_init(&tsr, 1 << 20);
	if (cn == NULL || res == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_ledger_checkpoint(l, 0, &note, err)))
		goto out;
	if ((rc = cl_cnote_parse((const char *)note.data, note.len, cn, err)) ||
	    (rc = cl_checkpoint_parse((const char *)note.data, cn->text_len, &cp, err)))
		goto out;
	rep->size = cp.size;
	rep->n = c->n;
	for (i = 0; i < c->n; i++) {
		res[i].vkey = c->w[i].vkey;
		res[i].url = c->w[i].url;
		cl_buf_init(&res[i].req, 2 << 20);
		cl_buf_init(&res[i].resp, 1 << 20);
		cl_buf_init(&res[i].mon, 1 << 20);
		load_state(db, c->w[i].vkey, res[i].prev, &res[i].prev_size, &last);
	}
	if (c->tsa_url[0]) {
		char *k = cl_strdupf("tsa %s", c->tsa_url);

		if (k == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		load_state(db, k, tsa_prev, &tsa_size, &last);
		free(k);
	}
	if (!force && last > 0 && now - last < (int64_t)c->interval_s) {
		rep->rate_limited = 1;
		goto out;
	}
	for (i = 0; i < c->n; i++) {
		struct wres *r = &res[i];

		if (r->prev_size == cp.size && has_cosig(db, cp.size, r->vkey)) {
			r->out = CL_PUSH_UPTODATE;
			rep->cosigned++;
			continue;
		}
		push_one(l, c, &c->w[i], &cp, (const char *)note.data, note.len,
			 cn->text_len, r);
		rep->out[i] = r->out;
		(void)cl_fmt(rep->why[i], sizeof(rep->why[i]), "%s", r->why);
		if (r->out == CL_PUSH_COSIGNED)
			rep->cosigned++;
		say(log, lctx, "witness %s: %s%s%s", c->w[i].key.name, state_name(r->out),
		    r->why[0] ? ": " : "", r->why);
	}
	if (c->tsa_url[0]) {
		struct cl_buf tmp;

		cl_buf_init(&tmp, 1 << 20);
		tsa_have = cl_witness_token(l, cp.size, &tmp, &gen, NULL) == CL_OK;
		cl_buf_release(&tmp);
		if (tsa_have) {
			rep->tsa = 2;
		} else {
			char *e = NULL;

			cl_sha256(note.data, cn->text_len, digest);
			if (cl_tsa_fetch(c->tsa_url, c->tsa_timeout_s, digest,
					 c->tsa_ca_file[0] ? c->tsa_ca_file : NULL, &tsr, &gen,
					 &e) == CL_OK) {
				rep->tsa = 1;
			} else {
				rep->tsa = -1;
				(void)cl_fmt(rep->tsa_why, sizeof(rep->tsa_why), "%s",
					     e ? e : "failed");
			}
			free(e);
			say(log, lctx, "timestamp: %s%s", rep->tsa == 1 ? "stored" : "failed: ",
			    rep->tsa == 1 ? "" : rep->tsa_why);
		}
	}
	/* Write everything in one batch. */
	if ((rc = cl_ledger_begin(l, err)))
		goto out;
	in_batch = 1;
	if (sqlite3_exec(db, TABLES, NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "witness tables: %s", sqlite3_errmsg(db));
		goto out;
	}
	for (i = 0; i < c->n; i++)
		if ((rc = record(l, &c->w[i], &res[i], cp.size, now, &rep->coverage, err)))
			goto out;
	if (c->tsa_url[0]) {
		const char *st = rep->tsa == -1 ? "refused" : ST_OK;
		char *k = cl_strdupf("tsa %s", c->tsa_url);

		if (k == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		rc = exec_bind(db, "INSERT INTO witness_state(vkey, url, size, state, since,"
			       " last_try) VALUES(?1,?2,?3,?4,?5,?5) ON CONFLICT(vkey) DO UPDATE"
			       " SET size = ?3, state = ?4, last_try = ?5,"
			       " since = CASE WHEN state = ?4 THEN since ELSE ?5 END",
			       err, "ttiti", k, c->tsa_url, (sqlite3_int64)cp.size, st,
			       (sqlite3_int64)now);
		free(k);
		if (rc == CL_OK && rep->tsa == 1)
			rc = exec_bind(db, "INSERT OR REPLACE INTO checkpoint_tst(size, url,"
				       " gen_time, tsr) VALUES(?,?,?,?)", err, "itib",
				       (sqlite3_int64)cp.size, c->tsa_url, (sqlite3_int64)gen, &tsr);
		if (rc == CL_OK && rep->tsa == -1 && strcmp(tsa_prev, "refused") != 0) {
			rep->coverage++;
			rc = append_coverage(l, "timestamp-failed",
					     json_pack("{s:s, s:I, s:s}", "url", c->tsa_url,
						       "size", (json_int_t)cp.size,
						       "reason", rep->tsa_why), err);
		}
		if (rc)
			goto out;
	}
	in_batch = 0;
	rc = cl_ledger_commit(l, err);
out:
	if (in_batch)
		cl_ledger_rollback(l);
	if (res) {
		for (i = 0; i < c->n; i++) {
			cl_buf_release(&res[i].req);
			cl_buf_release(&res[i].resp);
			cl_buf_release(&res[i].mon);
		}
	}
	free(res);
	free(cn);
	cl_checkpoint_release(&cp);
	cl_buf_release(&note);
	cl_buf_release(&tsr);
	return rc;
}

/* ---- reads ------------------------------------------------------------ */

int cl_witness_cosig_lines(struct cl_ledger *l, uint64_t size, struct cl_buf *out,
			   char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	(void)err;
	if (sqlite3_prepare_v2(db, "SELECT line FROM witness_cosig WHERE size = ?"
			       " ORDER BY vkey", -1, &st, NULL) != SQLITE_OK)
		return CL_OK; /* no table: no cosignatures */
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	while (rc == CL_OK && sqlite3_step(st) == SQLITE_ROW)
		rc = cl_buf_add(out, sqlite3_column_text(st, 0),
				(size_t)sqlite3_column_bytes(st, 0));
	sqlite3_finalize(st);
	return rc;
}

int cl_witness_token(struct cl_ledger *l, uint64_t size, struct cl_buf *out,
		     int64_t *gen_time, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *st = NULL;
	int rc = CL_ENOTFOUND;

	(void)err;
	if (sqlite3_prepare_v2(db, "SELECT tsr, gen_time FROM checkpoint_tst WHERE size = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return CL_ENOTFOUND;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	if (sqlite3_step(st) == SQLITE_ROW) {
		rc = cl_buf_add(out, sqlite3_column_blob(st, 0),
				(size_t)sqlite3_column_bytes(st, 0));
		if (gen_time)
			*gen_time = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return rc;
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

int cl_witness_summary(struct cl_ledger *l, struct cl_witness_summary *s, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *st = NULL;

	(void)err;
	memset(s, 0, sizeof(*s));
	s->size = (uint64_t)scalar(db, "SELECT max(size) FROM witness_cosig");
	if (sqlite3_prepare_v2(db, "SELECT count(DISTINCT vkey), max(time) FROM witness_cosig"
			       " WHERE size = (SELECT max(size) FROM witness_cosig)", -1, &st,
			       NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
		s->by = (size_t)sqlite3_column_int64(st, 0);
		s->at = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	s->alerts = (size_t)scalar(db, "SELECT count(*) FROM witness_evidence");
	s->failing = (size_t)scalar(db, "SELECT count(*) FROM witness_state WHERE state != 'ok'"
				    " AND vkey NOT LIKE 'tsa %'");
	s->tsa_size = (uint64_t)scalar(db, "SELECT max(size) FROM checkpoint_tst");
	s->tsa_time = scalar(db, "SELECT gen_time FROM checkpoint_tst ORDER BY size DESC LIMIT 1");
	return CL_OK;
}
