/*
 * wechat_store.h - what the WeChat routes share on the ledger side: a
 * batch of mapped items (records and bad items) with the work each
 * record brings (a media download, a route-A fingerprint), appended in
 * one ledger batch; and the side tables of ledger.db they keep
 * (docs/FORMAT.md §4, "Side tables"):
 *
 *   wechat_media(idx INTEGER PRIMARY KEY, api TEXT, media_id TEXT,
 *                attempts INTEGER, next_at INTEGER)
 *       a media item to download for record entry idx ("oa" or "wecom"
 *       credentials); inserted in the batch that stores the record
 *   wechat_seen_t(t INTEGER, h INTEGER, PRIMARY KEY(t, h))
 *       CreateTime and the keyed hash (cl_ledger_attr_hash, type
 *       "wechat-seen") of openid, CreateTime and text of the route-A text
 *       messages, so that route B skips a message route A already stored
 *       (an older archive's wechat_seen(h) rows are still consulted)
 *   wechat_cursor(name TEXT PRIMARY KEY, value TEXT, updated_at INTEGER)
 *       "kf:<open_kfid>" -> the sync_msg cursor; "getmsglist" -> the end
 *       of the last window pulled; "kf-token:<open_kfid>" -> the Token
 *       of the latest kf_msg_or_event (valid 10 minutes)
 *   wechat_ident(ident TEXT PRIMARY KEY, unionid TEXT, at INTEGER)
 *       identifiers looked up (so a link is recorded once); at = 0: a
 *       route-A openid still to look up (cgi-bin/user/info)
 *
 * Everything here runs on the thread that owns the ledger handle.
 */
#ifndef CL_WECHAT_STORE_H
#define CL_WECHAT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ingest/import.h"
#include "archiver/ingest/record.h"
#include "archiver/ledger/ledger.h"
#include "archiver/sources/wechat_map.h"

struct cl_wx_item {
	int bad;
	uint64_t pos;
	struct cl_record rec;      /* if !bad */
	unsigned char *data;       /* if bad (malloc'd) */
	size_t len;
	char *reason;              /* if bad (malloc'd) */
	char media_api[8];         /* "oa" / "wecom" / "" */
	char media_id[CL_WX_MEDIA_ID_MAX + 1];
	char *seen;                /* route A fingerprint material (malloc'd) */
	struct cl_prepared *prep;  /* sealed ahead (cl_wx_batch_seal), or NULL */
	char seen_openid[CL_WX_MEDIA_ID_MAX + 16]; /* route A: "wechat-openid:..." */
};

struct cl_wx_batch {
	struct cl_wx_item *items;
	size_t n, cap;
	const char *format;        /* for quarantine entries: the source */
	const char *input;         /* e.g. "oa-push" */
	/* set by the caller before a map call, copied into the next record */
	char media_api[8];
	struct cl_wx_hint hint;
	const char *seen_text;     /* the route-A text, or NULL */
	uint64_t records, duplicates, quarantined;
	struct cl_presealer *ps;   /* where prepared entries go back, or NULL */
};

void cl_wx_batch_init(struct cl_wx_batch *b, const char *format, const char *input);

/* Labels every record gets at receipt (chatledger.conf [labels]); call
 * once, before any receiver or puller thread starts; `o` must outlive
 * them.  NULL = none. */
struct cl_record_opts;
void cl_wx_set_classify(const struct cl_record_opts *o);
void cl_wx_batch_release(struct cl_wx_batch *b);

/* A sink that validates records (cl_record_parse) and collects them and
 * bad items into `b` (bad records are quarantined like bad items). */
void cl_wx_batch_sink(struct cl_wx_batch *b, struct cl_import_sink *sink);

/* Seal the batch's records ahead on the calling thread (presealer.h);
 * the batch gives the prepared entries back to `ps` when released, so
 * `ps` must outlive it.  CL_ENOMEM only. */
struct cl_presealer;
int cl_wx_batch_seal(struct cl_wx_batch *b, struct cl_presealer *ps);

/* Create the side tables (idempotent; outside a batch). */
int cl_wx_store_init(struct cl_ledger *l, char **err);

/*
 * Append every item of `b` inside the open ledger batch: records (new
 * ones queue their media download and route-A fingerprint), bad items as
 * quarantine entries.  Counts into b->records/duplicates/quarantined.
 */
int cl_wx_batch_append(struct cl_ledger *l, struct cl_wx_batch *b, char **err);

/*
 * The same for many batches in one ledger batch, with the side-table
 * statements prepared once (the push receiver's group commit): init
 * after cl_ledger_begin, append each batch, release before the commit or
 * rollback (finalizes the statements).
 */
struct sqlite3_stmt;
struct cl_wx_appender {
	struct cl_ledger *l;
	struct sqlite3_stmt *ident, *media, *seen, *count;
};
void cl_wx_appender_init(struct cl_wx_appender *a, struct cl_ledger *l);
int cl_wx_appender_append(struct cl_wx_appender *a, struct cl_wx_batch *b, char **err);
void cl_wx_appender_release(struct cl_wx_appender *a);

/* 1 if a route-A text with this fingerprint material is stored. */
int cl_wx_seen(struct cl_ledger *l, const char *material);

/* The fingerprint material of a route-A text (malloc'd): openid, time
 * and text joined by '\n'; NULL when out of memory. */
char *cl_wx_seen_material(const char *openid, int64_t t, const char *text);

/* Side-table cursor: get (*out malloc'd, NULL if none) and set (inside
 * or outside a batch). */
int cl_wx_cursor_get(struct cl_ledger *l, const char *name, char **out,
		     int64_t *updated_at);
int cl_wx_cursor_set(struct cl_ledger *l, const char *name, const char *value,
		     char **err);

/*
 * Add n to the count of records route `name` ("push:oa", "push:wecom")
 * stored, in the open batch; its updated_at becomes now (status shows
 * it as the route's last delivery).
 */
int cl_wx_route_count(struct cl_wx_appender *a, const char *name, uint64_t n, char **err);

/* A coverage entry of `kind` with public body `body` (no personal data). */
int cl_wx_coverage(struct cl_ledger *l, const char *kind, const char *body,
		   char **err);

#endif
