/*
 * wechat_store.c - batches of mapped WeChat items and the side tables
 * (wechat_store.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ingest/ingest.h"
#include "archiver/ingest/presealer.h"
#include "archiver/ingest/record.h"
#include "archiver/parties/parties.h"
#include "archiver/sources/wechat_store.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

void cl_wx_batch_init(struct cl_wx_batch *b, const char *format, const char *input)
{
	memset(b, 0, sizeof(*b));
	b->format = format;
	b->input = input;
}

void cl_wx_batch_release(struct cl_wx_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		struct cl_wx_item *it = &b->items[i];

		if (it->bad) {
			if (it->data)
				sodium_memzero(it->data, it->len);
			free(it->data);
			free(it->reason);
		} else {
			if (it->rec.canonical)
				sodium_memzero(it->rec.canonical, it->rec.canonical_len);
			cl_record_release(&it->rec);
		}
		if (it->seen)
			sodium_memzero(it->seen, strlen(it->seen));
		free(it->seen);
		if (b->ps)
			cl_presealer_put(b->ps, it->prep);
		else
			cl_prepared_free(it->prep);
	}
	free(b->items);
	b->items = NULL;
	b->n = b->cap = 0;
}

static struct cl_wx_item *push(struct cl_wx_batch *b)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct cl_wx_item *p = realloc(b->items, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		b->items = p;
		b->cap = cap;
	}
	memset(&b->items[b->n], 0, sizeof(b->items[0]));
	return &b->items[b->n++];
}

static int push_bad(struct cl_wx_batch *b, uint64_t pos, const unsigned char *data,
		    size_t len, const char *reason)
{
	struct cl_wx_item *it = push(b);

	if (it == NULL)
		return CL_ENOMEM;
	it->bad = 1;
	it->pos = pos;
	it->data = malloc(len ? len : 1);
	it->reason = strdup(reason ? reason : "invalid item");
	if (it->data == NULL || it->reason == NULL)
		return CL_ENOMEM;
	if (len)
		memcpy(it->data, data, len);
	it->len = len;
	return CL_OK;
}

/* Jansson's messages may quote the offending token: cut it. */
static void scrub(char *s)
{
	char *p = strstr(s, " near ");

	if (p)
		*p = 0;
}

/* Classification at receipt ([labels]); set once before any thread runs. */
static const struct cl_record_opts *wx_classify;

void cl_wx_set_classify(const struct cl_record_opts *o)
{
	wx_classify = o;
}

/* One record, as text (`obj` NULL) or as the importer's object. */
static int take_record(struct cl_wx_batch *b, const char *json, size_t len, json_t *obj)
{
	struct cl_wx_item *it = push(b);
	char *why = NULL, *text = NULL;
	int rc;

	if (it == NULL)
		return CL_ENOMEM;
	it->pos = b->n;
	rc = obj ? cl_record_from_json(obj, wx_classify, &it->rec, &why)
		 : cl_record_parse_opts(json, len, wx_classify, &it->rec, &why);
	if (rc == CL_EINVAL) {
		cl_record_release(&it->rec);
		b->n--;
		if (why)
			scrub(why);
		if (obj) { /* quarantine the record as it was refused */
			text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
			json = text;
			len = text ? strlen(text) : 0;
		}
		rc = json == NULL ? CL_ENOMEM :
			push_bad(b, b->n + 1, (const unsigned char *)json, len,
				 why ? why : "invalid record");
		free(text);
	} else if (rc) {
		cl_record_release(&it->rec);
		b->n--;
	} else {
		if (b->hint.media_id[0] && b->media_api[0]) {
			(void)cl_fmt(it->media_api, sizeof(it->media_api), "%s", b->media_api);
			(void)cl_fmt(it->media_id, sizeof(it->media_id), "%s", b->hint.media_id);
		}
		if (b->hint.openid[0] && strcmp(b->format, "wechat-oa") == 0)
			(void)cl_fmt(it->seen_openid, sizeof(it->seen_openid), "wechat-openid:%s",
				     b->hint.openid);
		if (b->seen_text && b->hint.openid[0]) {
			it->seen = cl_wx_seen_material(b->hint.openid, b->hint.create_time,
						       b->seen_text);
			if (it->seen == NULL)
				rc = CL_ENOMEM;
		}
	}
	free(why);
	return rc;
}

int cl_wx_batch_seal(struct cl_wx_batch *b, struct cl_presealer *ps)
{
	size_t i;
	int rc = CL_OK;

	b->ps = ps;
	for (i = 0; i < b->n && rc == CL_OK; i++)
		if (!b->items[i].bad && b->items[i].prep == NULL)
			rc = cl_presealer_seal(ps, &b->items[i].rec, &b->items[i].prep);
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

void cl_wx_batch_sink(struct cl_wx_batch *b, struct cl_import_sink *sink)
{
	memset(sink, 0, sizeof(*sink));
	sink->ctx = b;
	sink->record = sink_record;
	sink->record_json = sink_record_json;
	sink->bad = sink_bad;
}

static int db_fail(struct cl_ledger *l, char **err, const char *what)
{
	return cl_error(err, CL_EIO, "database error while %s: %s", what,
			sqlite3_errmsg(cl_ledger_sqlite(l)));
}

int cl_wx_store_init(struct cl_ledger *l, char **err)
{
	char *e = NULL;
	int rc;

	if (sqlite3_exec(cl_ledger_sqlite(l),
			 "CREATE TABLE IF NOT EXISTS wechat_media(idx INTEGER PRIMARY KEY,"
			 " api TEXT NOT NULL, media_id TEXT NOT NULL,"
			 " attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL);"
			 "CREATE TABLE IF NOT EXISTS wechat_seen_t(t INTEGER NOT NULL,"
			 " h INTEGER NOT NULL, PRIMARY KEY(t, h)) WITHOUT ROWID;"
			 "CREATE TABLE IF NOT EXISTS wechat_cursor(name TEXT PRIMARY KEY,"
			 " value TEXT NOT NULL, updated_at INTEGER NOT NULL);"
			 "CREATE TABLE IF NOT EXISTS wechat_ident(ident TEXT PRIMARY KEY,"
			 " unionid TEXT, at INTEGER NOT NULL)",
			 NULL, NULL, &e) == SQLITE_OK)
		return CL_OK;
	rc = cl_error(err, CL_EIO, "cannot create the wechat side tables: %s", e ? e : "?");
	sqlite3_free(e);
	return rc;
}

char *cl_wx_seen_material(const char *openid, int64_t t, const char *text)
{
	return cl_strdupf("%s\n%lld\n%s", openid, (long long)t, text ? text : "");
}

/* The keyed hash of `material` and its CreateTime (the second line):
 * rows are keyed (t, h) so that each batch's rows go near the end of the
 * table, not into one random page each. */
static int seen_hash(struct cl_ledger *l, const char *material, int64_t *t, int64_t *h)
{
	const char *nl = strchr(material, '\n');
	uint64_t v = 0;

	if (nl == NULL || cl_ledger_attr_hash(l, "wechat-seen", material, &v) != CL_OK)
		return -1;
	*t = strtoll(nl + 1, NULL, 10);
	*h = (int64_t)(v >> 1);
	return 0;
}

/* 1 if `sql` (binding ?1 t, ?2 h) finds a row; 0 also without the table. */
static int seen_in(struct cl_ledger *l, const char *sql, int64_t t, int64_t h)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), sql, -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, t);
		sqlite3_bind_int64(st, 2, h);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

int cl_wx_seen(struct cl_ledger *l, const char *material)
{
	int64_t t, h;

	if (seen_hash(l, material, &t, &h) != 0)
		return 0;
	/* wechat_seen(h): the rows of an archive written before (t, h) */
	return seen_in(l, "SELECT 1 FROM wechat_seen_t WHERE t = ?1 AND h = ?2", t, h) ||
		seen_in(l, "SELECT 1 FROM wechat_seen WHERE ?1 = ?1 AND h = ?2", t, h);
}

/*
 * Run `sql` binding ?1 int, ?2 text, ?3 text, ?4 int.  With `cache`, the
 * statement is prepared on first use, kept in *cache and reset after;
 * without, prepared and finalized here.
 */
static int exec4c(struct cl_ledger *l, sqlite3_stmt **cache, const char *sql, int64_t a,
		  const char *b, const char *c, int64_t d, char **err)
{
	sqlite3_stmt *st = cache ? *cache : NULL;
	int rc;

	if (st == NULL) {
		if (sqlite3_prepare_v2(cl_ledger_sqlite(l), sql, -1, &st, NULL) != SQLITE_OK)
			return db_fail(l, err, "preparing a wechat side-table statement");
		if (cache)
			*cache = st;
	}
	sqlite3_bind_int64(st, 1, a);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	if (c)
		sqlite3_bind_text(st, 3, c, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, d);
	rc = sqlite3_step(st);
	if (cache) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	} else {
		sqlite3_finalize(st);
	}
	return rc == SQLITE_DONE ? CL_OK : db_fail(l, err, "writing a wechat side table");
}

static int exec4(struct cl_ledger *l, const char *sql, int64_t a, const char *b,
		 const char *c, int64_t d, char **err)
{
	return exec4c(l, NULL, sql, a, b, c, d, err);
}

void cl_wx_appender_init(struct cl_wx_appender *a, struct cl_ledger *l)
{
	memset(a, 0, sizeof(*a));
	a->l = l;
}

void cl_wx_appender_release(struct cl_wx_appender *a)
{
	sqlite3_finalize(a->ident);
	sqlite3_finalize(a->media);
	sqlite3_finalize(a->seen);
	sqlite3_finalize(a->count);
	memset(a, 0, sizeof(*a));
}

int cl_wx_batch_append(struct cl_ledger *l, struct cl_wx_batch *b, char **err)
{
	struct cl_wx_appender a;
	int rc;

	cl_wx_appender_init(&a, l);
	rc = cl_wx_appender_append(&a, b, err);
	cl_wx_appender_release(&a);
	return rc;
}

int cl_wx_appender_append(struct cl_wx_appender *ap, struct cl_wx_batch *b, char **err)
{
	struct cl_ledger *l = ap->l;
	size_t i;
	int rc = CL_OK;

	b->records = b->duplicates = b->quarantined = 0;
	for (i = 0; i < b->n && rc == CL_OK; i++) {
		struct cl_wx_item *it = &b->items[i];
		struct cl_entry_in in;
		uint64_t idx = 0;
		enum cl_append_outcome dup = CL_APPEND_NEW;

		if (it->bad) {
			rc = cl_ingest_quarantine(l, b->format, b->input, it->pos, it->data,
						  it->len, it->reason, &dup, err);
			if (rc == CL_OK && dup != CL_APPEND_DUPLICATE)
				b->quarantined++;
			continue;
		}
		if (it->prep) {
			/* A prepared entry is spent by its append (its key is
			 * wiped, even on failure): a retry of this batch seals
			 * the record again from it->rec. */
			rc = cl_ledger_append_prepared(l, it->prep, &idx, &dup, err);
			if (b->ps)
				cl_presealer_put(b->ps, it->prep);
			else
				cl_prepared_free(it->prep);
			it->prep = NULL;
		} else {
			cl_ingest_entry_from_record(&in, &it->rec);
			rc = cl_ledger_append(l, &in, &idx, &dup, err);
		}
		if (rc)
			break;
		if (dup == CL_APPEND_DUPLICATE) {
			b->duplicates++;
			continue;
		}
		b->records++;
		/* A record naming several identifiers of one customer (an
		 * identity-link answer from Tencent): link them as parties. */
		if (it->rec.n_idents >= 2 && it->rec.idents) {
			const char *first = it->rec.idents, *q = first + strlen(first) + 1;
			char origin[48];
			size_t k;
			int added;

			(void)cl_fmt(origin, sizeof(origin), "source:%s", b->format);
			for (k = 1; k < it->rec.n_idents && rc == CL_OK; k++, q += strlen(q) + 1)
				rc = cl_party_link_in_batch(l, first, q, origin, &added, err);
		}
		/* A route-A customer: queue a unionid lookup (at = 0). */
		if (rc == CL_OK && it->seen_openid[0])
			rc = exec4c(l, &ap->ident, "INSERT OR IGNORE INTO wechat_ident(ident, unionid, at) "
				   "VALUES(?2, NULL, ?1)", 0, it->seen_openid, NULL, 0, err);
		if (rc == CL_OK && it->media_id[0])
			rc = exec4c(l, &ap->media, "INSERT OR IGNORE INTO wechat_media(idx, api, media_id,"
				   " attempts, next_at) VALUES(?1, ?2, ?3, 0, ?4)",
				   (int64_t)idx, it->media_api, it->media_id, (int64_t)time(NULL),
				   err);
		if (rc == CL_OK && it->seen) {
			int64_t t, h;

			if (seen_hash(l, it->seen, &t, &h) == 0)
				rc = exec4c(l, &ap->seen, "INSERT OR IGNORE INTO wechat_seen_t(t, h)"
					   " VALUES(?1, ?4)", t, NULL, NULL, h, err);
		}
	}
	return rc;
}

int cl_wx_cursor_get(struct cl_ledger *l, const char *name, char **out,
		     int64_t *updated_at)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_ENOTFOUND;

	*out = NULL;
	if (updated_at)
		*updated_at = 0;
	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), "SELECT value, updated_at FROM "
			       "wechat_cursor WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
		*out = strdup((const char *)sqlite3_column_text(st, 0));
		if (updated_at)
			*updated_at = sqlite3_column_int64(st, 1);
		rc = *out ? CL_OK : CL_ENOMEM;
	}
	sqlite3_finalize(st);
	return rc;
}

int cl_wx_cursor_set(struct cl_ledger *l, const char *name, const char *value,
		     char **err)
{
	return exec4(l, "INSERT OR REPLACE INTO wechat_cursor(name, value, updated_at) "
		     "VALUES(?2, ?3, ?1)", (int64_t)time(NULL), name, value, 0, err);
}

int cl_wx_route_count(struct cl_wx_appender *a, const char *name, uint64_t n, char **err)
{
	return exec4c(a->l, &a->count, "INSERT INTO wechat_cursor(name, value, updated_at) VALUES(?2, ?4, ?1)"
		     " ON CONFLICT(name) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ?4"
		     " AS TEXT), updated_at = ?1", (int64_t)time(NULL), name, NULL, (int64_t)n,
		     err);
}

int cl_wx_coverage(struct cl_ledger *l, const char *kind, const char *body,
		   char **err)
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
	return cl_ledger_append(l, &in, &idx, &dup, err);
}
