/*
 * wverify.c - tlog-policy parsing and the witnessing checks of `verify`
 * (wverify.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/note.h"
#include "archiver/witness/cosig.h"
#include "archiver/witness/http.h"
#include "archiver/witness/tsa.h"
#include "archiver/witness/wverify.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define MAXW 64
#define MAXG 64
#define MAXM 64
#define MAXL 16
#define NAMELEN 128

struct pw {
	char name[NAMELEN];
	struct cl_cosig_key key;
	char url[512];
};

struct pg {
	char name[NAMELEN];
	unsigned k, n;
	int member[MAXM];       /* >= 0 witness index; < 0: -(group index + 1) */
};

struct cl_wpolicy {
	size_t nl, nw, ng;
	char *log[MAXL];        /* vkeys */
	struct pw w[MAXW];
	struct pg g[MAXG];
	int quorum;             /* as member[]; INT32_MIN+1 = none */
	int has_quorum;
};

#define Q_NONE (-100000)

void cl_wpolicy_free(struct cl_wpolicy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nl; i++)
		free(p->log[i]);
	free(p);
}

/* Resolve a name: witness index, -(group+1), or 0x7fffffff if unknown. */
static int lookup(const struct cl_wpolicy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nw; i++)
		if (strcmp(p->w[i].name, name) == 0)
			return (int)i;
	for (i = 0; i < p->ng; i++)
		if (strcmp(p->g[i].name, name) == 0)
			return -(int)i - 1;
	return 0x7fffffff;
}

/* Split a line into at most `max` whitespace-separated words (in place). */
static size_t words(char *s, char **w, size_t max)
{
	size_t n = 0;

	while (*s) {
		while (*s == ' ' || *s == '\t')
			*s++ = 0;
		if (*s == 0)
			break;
		if (n == max)
			return max + 1;
		w[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

static int policy_line(struct cl_wpolicy *p, char *line, size_t lno, char **err)
{
	char *w[MAXM + 4];
	size_t n = words(line, w, MAXM + 3), i;
	char *e = NULL;

	if (n == 0 || w[0][0] == '#')
		return CL_OK;
	if (n > MAXM + 3)
		return cl_error(err, CL_EINVAL, "line %zu: too many words", lno);
	if (strcmp(w[0], "log") == 0) {
		char *name = NULL;
		uint32_t id;
		unsigned char pk[32];

		if (n < 2 || n > 3 || p->nl == MAXL)
			return cl_error(err, CL_EINVAL, "line %zu: log <vkey> [url]", lno);
		if (cl_note_vkey_parse(w[1], &name, &id, pk, &e) != CL_OK) {
			int rc = cl_error(err, CL_EINVAL, "line %zu: log key: %s", lno,
					  e ? e : "invalid");
			free(e);
			return rc;
		}
		free(name);
		if ((p->log[p->nl] = strdup(w[1])) == NULL)
			return CL_ENOMEM;
		p->nl++;
		return CL_OK;
	}
	if (strcmp(w[0], "witness") == 0) {
		struct pw *x;

		if (n < 3 || n > 4 || p->nw == MAXW || strlen(w[1]) >= NAMELEN ||
		    strcmp(w[1], "none") == 0 || lookup(p, w[1]) != 0x7fffffff)
			return cl_error(err, CL_EINVAL, "line %zu: witness <new name> <vkey> [url]",
					lno);
		x = &p->w[p->nw];
		memcpy(x->name, w[1], strlen(w[1]) + 1);
		if (cl_cosig_vkey_parse(w[2], &x->key, &e) != CL_OK) {
			int rc = cl_error(err, CL_EINVAL, "line %zu: witness key: %s", lno,
					  e ? e : "invalid");
			free(e);
			return rc;
		}
		for (i = 0; i < p->nw; i++)
			if (memcmp(p->w[i].key.pk, x->key.pk, 32) == 0)
				return cl_error(err, CL_EINVAL, "line %zu: duplicate witness key", lno);
		if (n == 4) {
			size_t ul = strlen(w[3]);

			if (ul >= sizeof(x->url))
				return cl_error(err, CL_EINVAL, "line %zu: URL too long", lno);
			memcpy(x->url, w[3], ul + 1);
			while (ul > 0 && x->url[ul - 1] == '/')
				x->url[--ul] = 0;
		}
		p->nw++;
		return CL_OK;
	}
	if (strcmp(w[0], "group") == 0) {
		struct pg *g;
		char *end = NULL;

		if (n < 4 || p->ng == MAXG || strlen(w[1]) >= NAMELEN ||
		    strcmp(w[1], "none") == 0 || lookup(p, w[1]) != 0x7fffffff)
			return cl_error(err, CL_EINVAL, "line %zu: group <new name> all|any|K <name>...",
					lno);
		g = &p->g[p->ng];
		memcpy(g->name, w[1], strlen(w[1]) + 1);
		g->n = (unsigned)(n - 3);
		if (strcmp(w[2], "all") == 0)
			g->k = g->n;
		else if (strcmp(w[2], "any") == 0)
			g->k = 1;
		else {
			unsigned long k = strtoul(w[2], &end, 10);

			if (w[2][0] < '1' || w[2][0] > '9' || *end || k < 1 || k > g->n)
				return cl_error(err, CL_EINVAL, "line %zu: threshold must be 1..%u",
						lno, g->n);
			g->k = (unsigned)k;
		}
		for (i = 3; i < n; i++) {
			int m = lookup(p, w[i]);

			if (m == 0x7fffffff)
				return cl_error(err, CL_EINVAL, "line %zu: '%s' is not defined above",
						lno, w[i]);
			g->member[i - 3] = m;
		}
		p->ng++;
		return CL_OK;
	}
	if (strcmp(w[0], "quorum") == 0) {
		if (n != 2 || p->has_quorum)
			return cl_error(err, CL_EINVAL, "line %zu: exactly one 'quorum <name>'", lno);
		if (strcmp(w[1], "none") == 0)
			p->quorum = Q_NONE;
		else if ((p->quorum = lookup(p, w[1])) == 0x7fffffff)
			return cl_error(err, CL_EINVAL, "line %zu: '%s' is not defined above", lno,
					w[1]);
		p->has_quorum = 1;
		return CL_OK;
	}
	return cl_error(err, CL_EINVAL, "line %zu: unknown keyword '%.40s'", lno, w[0]);
}

int cl_wpolicy_parse(const char *text, size_t len, struct cl_wpolicy **out, char **err)
{
	struct cl_wpolicy *p = calloc(1, sizeof(*p));
	size_t pos = 0, lno = 0;
	char line[4096];
	int rc = CL_OK;

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	while (pos < len && rc == CL_OK) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lno++;
		if (ll >= sizeof(line) || memchr(text + pos, 0, ll) != NULL) {
			rc = cl_error(err, CL_EINVAL, "line %zu: too long or not text", lno);
			break;
		}
		memcpy(line, text + pos, ll);
		line[ll] = 0;
		if (line[0] != 0 && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = 0;
		rc = policy_line(p, line, lno, err);
		pos += ll + 1;
	}
	if (rc == CL_OK && !p->has_quorum)
		rc = cl_error(err, CL_EINVAL, "the policy has no 'quorum' line");
	if (rc) {
		cl_wpolicy_free(p);
		return rc;
	}
	*out = p;
	return CL_OK;
}

/* Does member m witness, given which witnesses cosigned (ok[])? */
static int satisfied(const struct cl_wpolicy *p, int m, const int *ok)
{
	const struct pg *g;
	unsigned i, got = 0;

	if (m == Q_NONE)
		return 1;
	if (m >= 0)
		return ok[m];
	g = &p->g[-m - 1];
	for (i = 0; i < g->n; i++)
		got += (unsigned)satisfied(p, g->member[i], ok);
	return got >= g->k;
}

void cl_wverify_report_release(struct cl_wverify_report *r)
{
	free(r->problem);
	r->problem = NULL;
}

static int problem(struct cl_wverify_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int problem(struct cl_wverify_report *r, const char *fmt, ...)
{
	if (r->problem == NULL) {
		va_list ap;

		va_start(ap, fmt);
		r->problem = cl_vstrdupf(fmt, ap);
		va_end(ap);
	}
	return CL_ECORRUPT;
}

/* The stored checkpoint of `size`: note and text length. */
static int load_cp(struct cl_ledger *l, uint64_t size, struct cl_buf *note,
		   struct cl_cnote *cn, struct cl_checkpoint *cp)
{
	cl_buf_reset(note);
	if (cl_ledger_checkpoint(l, size, note, NULL) != CL_OK ||
	    cl_cnote_parse((const char *)note->data, note->len, cn, NULL) != CL_OK ||
	    cl_checkpoint_parse((const char *)note->data, cn->text_len, cp, NULL) != CL_OK)
		return CL_ENOTFOUND;
	return CL_OK;
}

/* Verify `line` as k's cosignature on the text of note. */
static int check_line(const struct cl_cosig_key *k, const struct cl_buf *note, size_t text_len,
		      const char *line, size_t line_len, uint64_t *time)
{
	struct cl_buf full;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	int rc = CL_EBADSIG;

	cl_buf_init(&full, 2 << 20);
	if (cn && cl_buf_add(&full, note->data, text_len) == CL_OK &&
	    cl_buf_add(&full, "\n", 1) == CL_OK && cl_buf_add(&full, line, line_len) == CL_OK &&
	    cl_cnote_parse((const char *)full.data, full.len, cn, NULL) == CL_OK &&
	    cn->nsigs == 1 && cn->text_len == text_len)
		rc = cl_cosig_verify(k, &cn->sigs[0], (const char *)full.data, text_len, time);
	free(cn);
	cl_buf_release(&full);
	return rc;
}

/* Every stored cosignature; ok[] for the policy witnesses on `latest`. */
static int check_cosigs(struct cl_ledger *l, const struct cl_wpolicy *p, uint64_t latest,
			int *ok, struct cl_wverify_report *r)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *st = NULL;
	struct cl_buf note;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	int rc = CL_OK;

	cl_buf_init(&note, 1 << 20);
	if (cn == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT size, vkey, time, line FROM witness_cosig"
			       " ORDER BY size, vkey", -1, &st, NULL) != SQLITE_OK)
		goto out; /* no table: nothing stored */
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 0), t = 0;
		const char *vkey = (const char *)sqlite3_column_text(st, 1);
		const char *line = (const char *)sqlite3_column_text(st, 3);
		size_t ll = (size_t)sqlite3_column_bytes(st, 3);
		struct cl_cosig_key k;
		struct cl_checkpoint cp;

		memset(&cp, 0, sizeof(cp));
		if (load_cp(l, size, &note, cn, &cp) != CL_OK) {
			rc = problem(r, "a cosignature is stored for size %" PRIu64
				     ", which has no signed checkpoint", size);
			break;
		}
		cl_checkpoint_release(&cp);
		if (vkey == NULL || line == NULL || cl_cosig_vkey_parse(vkey, &k, NULL) != CL_OK ||
		    check_line(&k, &note, cn->text_len, line, ll, &t) != CL_OK ||
		    (int64_t)t != sqlite3_column_int64(st, 2)) {
			rc = problem(r, "the stored cosignature of checkpoint %" PRIu64
				     " by %s does not verify", size, vkey ? vkey : "?");
			break;
		}
		r->cosigs++;
		if (p && size == latest)
			for (size_t i = 0; i < p->nw; i++)
				if (!ok[i] && check_line(&p->w[i].key, &note, cn->text_len, line,
							 ll, NULL) == CL_OK)
					ok[i] = 1;
	}
out:
	sqlite3_finalize(st);
	free(cn);
	cl_buf_release(&note);
	return rc;
}

static int check_tokens(struct cl_ledger *l, const char *tsa_ca, struct cl_wverify_report *r)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	sqlite3_stmt *st = NULL;
	struct cl_buf note;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	int rc = CL_OK;

	cl_buf_init(&note, 1 << 20);
	if (cn == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT size, gen_time, tsr FROM checkpoint_tst ORDER BY size",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 0);
		unsigned char d[32];
		struct cl_checkpoint cp;
		int64_t gen = 0;
		char *e = NULL;

		memset(&cp, 0, sizeof(cp));
		if (load_cp(l, size, &note, cn, &cp) != CL_OK) {
			rc = problem(r, "a timestamp token is stored for size %" PRIu64
				     ", which has no signed checkpoint", size);
			break;
		}
		cl_checkpoint_release(&cp);
		cl_sha256(note.data, cn->text_len, d);
		if (cl_tsa_check(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2),
				 d, 0, tsa_ca, &gen, &e) != CL_OK ||
		    gen != sqlite3_column_int64(st, 1)) {
			rc = problem(r, "the timestamp token of checkpoint %" PRIu64 " is rejected: %s",
				     size, e ? e : "its time differs from the stored one");
			free(e);
			break;
		}
		r->tokens++;
	}
out:
	sqlite3_finalize(st);
	free(cn);
	cl_buf_release(&note);
	return rc;
}

/* A witness's own latest view of this log (monitor endpoint). */
static int check_monitor(struct cl_ledger *l, const struct cl_wpolicy *p, const struct pw *w,
			 const char *origin, uint64_t latest, struct cl_wverify_report *r)
{
	unsigned char h[32];
	struct cl_buf hex, mine;
	struct cl_http_resp resp;
	struct cl_cnote *cn = malloc(sizeof(*cn)), *mcn = malloc(sizeof(*mcn));
	struct cl_checkpoint cp, mcp;
	char *url = NULL;
	size_t i, tl = 0;
	int rc = CL_OK, logok = p->nl == 0, wok = 0;

	memset(&cp, 0, sizeof(cp));
	memset(&mcp, 0, sizeof(mcp));
	cl_buf_init(&hex, 128);
	cl_buf_init(&mine, 1 << 20);
	memset(&resp, 0, sizeof(resp));
	cl_buf_init(&resp.body, 16);
	cl_sha256(origin, strlen(origin), h);
	if (cn == NULL || mcn == NULL || cl_hex_add(&hex, h, 32) != CL_OK ||
	    (url = cl_strdupf("%s/%s/checkpoint", w->url, (const char *)hex.data)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	cl_http_resp_release(&resp);
	if (cl_http_request(url, NULL, NULL, 0, 10, &resp, NULL) != CL_OK ||
	    (resp.status != 200 && resp.status != 404)) {
		r->unreachable++;
		goto out;
	}
	r->monitored++;
	if (resp.status == 404)
		goto out; /* never cosigned this log */
	if (cl_cnote_parse((const char *)resp.body.data, resp.body.len, cn, NULL) != CL_OK ||
	    cl_checkpoint_parse((const char *)resp.body.data, cn->text_len, &cp, NULL) != CL_OK ||
	    strcmp(cp.origin, origin) != 0)
		goto out; /* not a checkpoint of this log: ignore */
	for (i = 0; i < p->nl && !logok; i++) {
		char *name = NULL;
		uint32_t id;
		unsigned char pk[32];

		if (cl_note_vkey_parse(p->log[i], &name, &id, pk, NULL) == CL_OK &&
		    cl_note_verify((const char *)resp.body.data, resp.body.len, name, id, pk,
				   &tl, NULL) == CL_OK)
			logok = 1;
		free(name);
	}
	for (i = 0; i < cn->nsigs; i++)
		if (cl_cosig_verify(&w->key, &cn->sigs[i], (const char *)resp.body.data,
				    cn->text_len, NULL) == CL_OK)
			wok = 1;
	if (!logok || !wok)
		goto out; /* unauthenticated: proves nothing */
	if (cp.size > latest) {
		rc = problem(r, "rollback: witness %s has cosigned size %" PRIu64 " of this log,"
			     " but the archive's latest checkpoint is %" PRIu64, w->name, cp.size,
			     latest);
		goto out;
	}
	if (load_cp(l, cp.size, &mine, mcn, &mcp) != CL_OK ||
	    memcmp(mcp.root, cp.root, 32) != 0)
		rc = problem(r, "fork: witness %s has cosigned checkpoint %" PRIu64 " with another"
			     " root than this archive's", w->name, cp.size);
out:
	cl_checkpoint_release(&cp);
	cl_checkpoint_release(&mcp);
	cl_http_resp_release(&resp);
	cl_buf_release(&hex);
	cl_buf_release(&mine);
	free(url);
	free(cn);
	free(mcn);
	return rc;
}

/* 1 if the note is signed by one of the policy's log keys (or it names none). */
static int log_signed(const struct cl_wpolicy *p, const char *note, size_t len)
{
	size_t i;
	int logok = p->nl == 0;

	for (i = 0; i < p->nl && !logok; i++) {
		char *name = NULL;
		uint32_t id;
		unsigned char pk[32];

		if (cl_note_vkey_parse(p->log[i], &name, &id, pk, NULL) == CL_OK &&
		    cl_note_verify(note, len, name, id, pk, NULL, NULL) == CL_OK)
			logok = 1;
		free(name);
	}
	return logok;
}

int cl_wpolicy_check_note(const struct cl_wpolicy *p, const char *note, size_t len,
			  struct cl_wverify_report *r)
{
	struct cl_cnote *cn = malloc(sizeof(*cn));
	struct cl_checkpoint cp;
	int ok[MAXW];
	size_t i, j;
	int rc = CL_OK;

	memset(r, 0, sizeof(*r));
	memset(ok, 0, sizeof(ok));
	memset(&cp, 0, sizeof(cp));
	r->policy = 1;
	if (cn == NULL)
		return CL_ENOMEM;
	if (cl_cnote_parse(note, len, cn, NULL) != CL_OK ||
	    cl_checkpoint_parse(note, cn->text_len, &cp, NULL) != CL_OK) {
		rc = problem(r, "the checkpoint is not a well-formed signed note");
		goto out;
	}
	r->latest = cp.size;
	if (!log_signed(p, note, len)) {
		rc = problem(r, "the checkpoint is not signed by a log key of the policy");
		goto out;
	}
	for (j = 0; j < cn->nsigs; j++)
		for (i = 0; i < p->nw; i++) {
			int v = cl_cosig_verify(&p->w[i].key, &cn->sigs[j], note, cn->text_len,
						NULL);

			if (v == CL_ENOTFOUND)
				continue;
			if (v != CL_OK) {
				rc = problem(r, "the cosignature line of witness %s does not verify"
					     " on checkpoint %" PRIu64, p->w[i].name, cp.size);
				goto out;
			}
			r->cosigs++;
			ok[i] = 1;
		}
	for (i = 0; i < p->nw; i++)
		r->latest_by += (size_t)ok[i];
	if (!satisfied(p, p->quorum, ok))
		rc = problem(r, "witness policy not satisfied: checkpoint %" PRIu64
			     " is cosigned by %zu of the policy's %zu witnesses", cp.size,
			     r->latest_by, p->nw);
out:
	cl_checkpoint_release(&cp);
	free(cn);
	return rc;
}

int cl_witness_verify(struct cl_ledger *l, const struct cl_wpolicy *p,
		      const char *tsa_ca, struct cl_wverify_report *r, char **err)
{
	struct cl_buf note;
	struct cl_cnote *cn = malloc(sizeof(*cn));
	struct cl_checkpoint cp;
	int ok[MAXW];
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(ok, 0, sizeof(ok));
	memset(&cp, 0, sizeof(cp));
	cl_buf_init(&note, 1 << 20);
	if (cn == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_ledger_checkpoint(l, 0, &note, err)) ||
	    (rc = cl_cnote_parse((const char *)note.data, note.len, cn, err)) ||
	    (rc = cl_checkpoint_parse((const char *)note.data, cn->text_len, &cp, err)))
		goto out;
	r->latest = cp.size;
	r->policy = p != NULL;
	if ((rc = check_cosigs(l, p, cp.size, ok, r)) ||
	    (rc = check_tokens(l, tsa_ca, r)))
		goto out;
	if (p == NULL)
		goto out;
	if (!log_signed(p, (const char *)note.data, note.len)) {
		rc = problem(r, "the latest checkpoint is not signed by a log key of the policy");
		goto out;
	}
	for (i = 0; i < p->nw; i++)
		r->latest_by += (size_t)ok[i];
	if (!satisfied(p, p->quorum, ok)) {
		rc = problem(r, "witness policy not satisfied: checkpoint %" PRIu64
			     " is cosigned by %zu of the policy's %zu witnesses", cp.size,
			     r->latest_by, p->nw);
		goto out;
	}
	for (i = 0; i < p->nw; i++)
		if (p->w[i].url[0] &&
		    (rc = check_monitor(l, p, &p->w[i], cp.origin, cp.size, r)))
			goto out;
out:
	cl_checkpoint_release(&cp);
	cl_buf_release(&note);
	free(cn);
	return rc;
}
