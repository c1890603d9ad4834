/*
 * wechat_pull.c - route B (getmsglist), route C (kf/sync_msg), media
 * downloads and identity lookups (wechat_pull.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ingest/import_util.h"
#include "archiver/ledger/leaf.h"
#include "archiver/sources/wechat_map.h"
#include "archiver/sources/wechat_pull.h"
#include "archiver/sources/wechat_store.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* Commit batch `b` (plus a cursor update if name != NULL) durably. */
static int commit_batch(struct cl_ledger *l, struct cl_wx_batch *b, const char *name,
			const char *value, struct cl_wx_pull_stats *st, char **err)
{
	int rc = cl_ledger_begin(l, err);

	if (rc == CL_OK)
		rc = cl_wx_batch_append(l, b, err);
	if (rc == CL_OK && name)
		rc = cl_wx_cursor_set(l, name, value, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, err);
	else
		cl_ledger_rollback(l);
	if (rc == CL_OK && st) {
		st->records += b->records;
		st->duplicates += b->duplicates;
		st->quarantined += b->quarantined;
		st->pages++;
	}
	return rc;
}

static int commit_coverage(struct cl_ledger *l, const char *kind, const char *body,
			   char **err)
{
	int rc = cl_ledger_begin(l, err);

	if (rc == CL_OK)
		rc = cl_wx_coverage(l, kind, body, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, err);
	else
		cl_ledger_rollback(l);
	return rc;
}

/* ---- route B ---------------------------------------------------------- */

/* One window [s, e): every page; CL_OK, or the failing errcode in *code. */
static int pull_window(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
		       int64_t s, int64_t e, unsigned page, struct cl_wx_pull_stats *st,
		       long *code, char **err)
{
	json_int_t msgid = 1;
	uint64_t item = 0;

	*code = 0;
	for (;;) {
		int rc;
		json_t *req = json_pack("{s:I, s:I, s:I, s:i}", "starttime", (json_int_t)s,
					"endtime", (json_int_t)e, "msgid", msgid,
					"number", (int)page);
		json_t *resp = NULL, *list, *next;
		struct cl_wx_batch b;
		struct cl_import_sink sink;
		long http = 0;
		size_t i, n;

		if (req == NULL)
			return CL_ENOMEM;
		rc = cl_wx_api_call(a, "/customservice/msgrecord/getmsglist", NULL, req, &resp,
				    code, &http, err);
		json_decref(req);
		if (rc)
			return rc;
		list = json_object_get(resp, "recordlist");
		n = json_array_size(list);
		cl_wx_batch_init(&b, "wechat-kf-records", "getmsglist");
		cl_wx_batch_sink(&b, &sink);
		for (i = 0; i < n && rc == CL_OK; i++) {
			json_t *it = json_array_get(list, i);
			json_int_t op = json_integer_value(json_object_get(it, "opercode"));

			item++;
			if (op == 2003) {
				json_t *t = json_object_get(it, "time");
				const char *oid = json_string_value(json_object_get(it, "openid"));
				const char *text = json_string_value(json_object_get(it, "text"));
				char *m = oid && json_is_integer(t)
					? cl_wx_seen_material(oid, (int64_t)json_integer_value(t), text)
					: NULL;
				int seen = m && cl_wx_seen(l, m);

				free(m);
				if (seen) {
					st->skipped_route_a++;
					continue;
				}
			}
			rc = cl_wx_map_msgrecord(account, it, item, &sink);
		}
		if (rc == CL_OK)
			rc = commit_batch(l, &b, NULL, NULL, st, err);
		cl_wx_batch_release(&b);
		next = json_object_get(resp, "msgid");
		if (rc == CL_OK && n >= page && json_is_integer(next) &&
		    json_integer_value(next) > msgid) {
			msgid = json_integer_value(next);
			json_decref(resp);
			continue;
		}
		json_decref(resp);
		return rc;
	}
}

int cl_wx_pull_msglist(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
		       int64_t from_s, int64_t to_s, unsigned page,
		       struct cl_wx_pull_stats *st, char **err)
{
	int64_t s;
	int rc = CL_OK, failed = 0;

	if (from_s < 0 || to_s <= from_s)
		return cl_error(err, CL_EINVAL, "the window must end after it starts");
	if ((rc = cl_wx_store_init(l, err)))
		return rc;
	for (s = from_s; s < to_s; s += CL_WX_WINDOW_S) {
		int64_t e = s + CL_WX_WINDOW_S < to_s ? s + CL_WX_WINDOW_S : to_s;
		char *werr = NULL, body[192];
		long code = 0;

		st->windows++;
		rc = pull_window(l, a, account, s, e,
				 page && page <= CL_WX_MSGLIST_PAGE ? page : CL_WX_MSGLIST_PAGE,
				 st, &code, &werr);
		if (rc == CL_OK) {
			char val[32];

			(void)cl_fmt(val, sizeof(val), "%lld", (long long)e);
			rc = cl_ledger_begin(l, err);
			if (rc == CL_OK)
				rc = cl_wx_cursor_set(l, "getmsglist", val, err);
			if (rc == CL_OK)
				rc = cl_ledger_commit(l, err);
			else
				cl_ledger_rollback(l);
			free(werr);
			if (rc)
				return rc;
			continue;
		}
		/* Not pulled: say so in the log, then go on with the next. */
		st->failed_windows++;
		failed = 1;
		(void)cl_fmt(body, sizeof(body), "{\"end\":%lld,\"errcode\":%ld,\"route\":"
			     "\"getmsglist\",\"start\":%lld}", (long long)e, code, (long long)s);
		if (*err == NULL)
			*err = werr;
		else
			free(werr);
		rc = commit_coverage(l, "wechat-window-failed", body, NULL);
		if (rc)
			return cl_error(err, rc, "cannot record a failed window");
	}
	return failed ? CL_EPARTIAL : CL_OK;
}

/* ---- route C: 微信客服 ----------------------------------------------------- */

static int ident_known(struct cl_ledger *l, const char *ident)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), "SELECT 1 FROM wechat_ident WHERE "
			       "ident = ?1", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, ident, -1, SQLITE_TRANSIENT);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

static int ident_note(struct cl_ledger *l, const char *ident, const char *unionid)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), "INSERT OR REPLACE INTO wechat_ident"
			       "(ident, unionid, at) VALUES(?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_text(st, 1, ident, -1, SQLITE_TRANSIENT);
	if (unionid)
		sqlite3_bind_text(st, 2, unionid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CL_OK : CL_EIO;
}

/* kf/customer/batchget for the external_userids of `list` not looked up
 * yet: identity-link records into `b` (the same batch as the page). */
static int lookup_customers(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
			    json_t *list, struct cl_wx_batch *b, struct cl_import_sink *sink,
			    struct cl_wx_pull_stats *st)
{
	json_t *ids = json_array(), *req = NULL, *resp = NULL, *cl;
	size_t i;
	long code = 0, http = 0;
	char *err = NULL;
	int rc = CL_OK;

	if (ids == NULL)
		return CL_ENOMEM;
	for (i = 0; i < json_array_size(list) && json_array_size(ids) < 100; i++) {
		const char *e = json_string_value(json_object_get(json_array_get(list, i),
								  "external_userid"));
		char ident[600];
		size_t k;
		int dup = 0;

		if (e == NULL || !cl_wx_media_id_ok(e))
			continue;
		(void)cl_fmt(ident, sizeof(ident), "wecom-external:%s", e);
		for (k = 0; k < json_array_size(ids); k++)
			dup |= strcmp(json_string_value(json_array_get(ids, k)), e) == 0;
		if (!dup && !ident_known(l, ident))
			json_array_append_new(ids, json_string(e));
	}
	if (json_array_size(ids) == 0)
		goto out;
	req = json_pack("{s:O}", "external_userid_list", ids);
	if (req == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (cl_wx_api_call(a, "/cgi-bin/kf/customer/batchget", NULL, req, &resp, &code,
			   &http, &err) != CL_OK)
		goto out;   /* a lookup is best effort: the messages still go in */
	cl = json_object_get(resp, "customer_list");
	for (i = 0; i < json_array_size(cl) && rc == CL_OK; i++) {
		json_t *c = json_array_get(cl, i);
		const char *e = json_string_value(json_object_get(c, "external_userid"));
		const char *u = json_string_value(json_object_get(c, "unionid"));
		char ident[600];

		if (e == NULL || !cl_wx_media_id_ok(e))
			continue;
		(void)cl_fmt(ident, sizeof(ident), "wecom-external:%s", e);
		if (u && *u && cl_wx_media_id_ok(u)) {
			json_t *keep = json_pack("{s:s, s:s}", "external_userid", e, "unionid", u);
			rc = cl_wx_map_identity("wecom-kf", account, ident, ident, u,
						"kf/customer/batchget", keep, cl_time_now_ms(), sink);
			json_decref(keep);
			if (rc == CL_OK)
				st->links++;
		}
		if (rc == CL_OK)
			rc = ident_note(l, ident, u);
	}
	(void)b;
out:
	free(err);
	json_decref(ids);
	json_decref(req);
	json_decref(resp);
	return rc;
}

int cl_wx_pull_kf(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
		  const char *open_kfid, int lookup, struct cl_wx_pull_stats *st,
		  char **err)
{
	char name[300], tname[300], *cursor = NULL, *token = NULL;
	int64_t tok_at = 0;
	int rc;

	if (!cl_wx_media_id_ok(open_kfid))
		return cl_error(err, CL_EINVAL, "bad open_kfid");
	if ((rc = cl_wx_store_init(l, err)))
		return rc;
	(void)cl_fmt(name, sizeof(name), "kf:%s", open_kfid);
	(void)cl_fmt(tname, sizeof(tname), "kf-token:%s", open_kfid);
	(void)cl_wx_cursor_get(l, name, &cursor, NULL);
	(void)cl_wx_cursor_get(l, tname, &token, &tok_at);
	if (token && (int64_t)time(NULL) - tok_at > CL_WX_KF_TOKEN_TTL) {
		free(token);
		token = NULL;
	}
	for (;;) {
		json_t *req = json_pack("{s:i, s:i, s:s}", "limit", CL_WX_KF_LIMIT,
					"voice_format", 0, "open_kfid", open_kfid);
		json_t *resp = NULL, *list, *more;
		struct cl_wx_batch b;
		struct cl_import_sink sink;
		struct cl_wx_hint hint;
		const char *next;
		long code = 0, http = 0;
		size_t i;

		if (req == NULL) {
			rc = CL_ENOMEM;
			break;
		}
		if (cursor)
			json_object_set_new(req, "cursor", json_string(cursor));
		if (token)
			json_object_set_new(req, "token", json_string(token));
		rc = cl_wx_api_call(a, "/cgi-bin/kf/sync_msg", NULL, req, &resp, &code, &http, err);
		json_decref(req);
		if (rc) {
			char body[160];

			(void)cl_fmt(body, sizeof(body), "{\"errcode\":%ld,\"route\":\"kf/sync_msg\"}",
				     code);
			(void)commit_coverage(l, "wechat-kf-sync-failed", body, NULL);
			break;
		}
		list = json_object_get(resp, "msg_list");
		cl_wx_batch_init(&b, "wecom-kf", "sync_msg");
		cl_wx_batch_sink(&b, &sink);
		(void)cl_fmt(b.media_api, sizeof(b.media_api), "wecom");
		for (i = 0; i < json_array_size(list) && rc == CL_OK; i++) {
			rc = cl_wx_map_kfmsg(account, json_array_get(list, i), st->pages * 100000 + i + 1,
					     &sink, &hint);
			b.hint = hint;
			/* the media of this record: the sink copied it from
			 * b.hint, which is set after the call; patch it */
			if (rc == CL_OK && b.n && !b.items[b.n - 1].bad && hint.media_id[0]) {
				(void)cl_fmt(b.items[b.n - 1].media_api, 8, "wecom");
				(void)cl_fmt(b.items[b.n - 1].media_id, CL_WX_MEDIA_ID_MAX + 1, "%s",
					     hint.media_id);
			}
			memset(&b.hint, 0, sizeof(b.hint));
		}
		if (rc == CL_OK && lookup)
			rc = lookup_customers(l, a, account, list, &b, &sink, st);
		next = json_string_value(json_object_get(resp, "next_cursor"));
		if (rc == CL_OK)
			rc = commit_batch(l, &b, next && *next ? name : NULL, next, st, err);
		cl_wx_batch_release(&b);
		more = json_object_get(resp, "has_more");
		if (rc == CL_OK && next && *next) {
			free(cursor);
			cursor = strdup(next);
		}
		if (rc || !(json_is_true(more) || (json_is_integer(more) &&
						    json_integer_value(more) != 0)) ||
		    cursor == NULL) {
			json_decref(resp);
			break;
		}
		json_decref(resp);
	}
	free(cursor);
	if (token)
		sodium_memzero(token, strlen(token));
	free(token);
	return rc;
}

int cl_wx_lookup_openids(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
			 size_t max, struct cl_wx_pull_stats *st, char **err)
{
	sqlite3_stmt *q = NULL;
	char *ids[64];
	size_t n = 0, i;
	int rc = CL_OK;

	if (max > 64)
		max = 64;
	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), "SELECT ident FROM wechat_ident WHERE at = 0 "
			       "AND ident LIKE 'wechat-openid:%' LIMIT ?1", -1, &q, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "cannot read wechat_ident");
	sqlite3_bind_int64(q, 1, (int64_t)max);
	while (n < max && sqlite3_step(q) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);

		if (t && (ids[n] = strdup((const char *)t)) != NULL)
			n++;
	}
	sqlite3_finalize(q);
	for (i = 0; i < n && rc == CL_OK; i++) {
		const char *openid = ids[i] + strlen("wechat-openid:");
		char query[400], *e2 = NULL;
		json_t *resp = NULL;
		long code = 0, http = 0;
		const char *u;

		char *esc = curl_easy_escape(NULL, openid, 0);   /* '+', '/', '=' */

		if (esc == NULL || cl_fmt(query, sizeof(query), "openid=%s&lang=zh_CN", esc) != CL_OK) {
			curl_free(esc);
			(void)ident_note(l, ids[i], NULL);   /* unusable: do not retry */
			continue;
		}
		curl_free(esc);
		if (cl_wx_api_call(a, "/cgi-bin/user/info", query, NULL, &resp, &code, &http,
				   &e2) != CL_OK) {
			free(e2);
			continue;   /* tried again next round */
		}
		u = json_string_value(json_object_get(resp, "unionid"));
		{
			struct cl_wx_batch b;
			struct cl_import_sink sink;

			cl_wx_batch_init(&b, "wechat-oa", "user-info");
			cl_wx_batch_sink(&b, &sink);
			if (u && *u && cl_wx_media_id_ok(u)) {
				json_t *keep = json_pack("{s:s, s:s}", "openid", openid, "unionid", u);

				rc = cl_wx_map_identity("wechat-oa", account, ids[i], ids[i], u,
							"cgi-bin/user/info", keep, cl_time_now_ms(), &sink);
				json_decref(keep);
			}
			if (rc == CL_OK)
				rc = cl_ledger_begin(l, err);
			if (rc == CL_OK) {
				rc = cl_wx_batch_append(l, &b, err);
				if (rc == CL_OK)
					rc = ident_note(l, ids[i], u);
				if (rc == CL_OK)
					rc = cl_ledger_commit(l, err);
				else
					cl_ledger_rollback(l);
			}
			if (rc == CL_OK && b.records)
				st->links++;
			cl_wx_batch_release(&b);
		}
		json_decref(resp);
	}
	for (i = 0; i < n; i++)
		free(ids[i]);
	return rc;
}

int cl_wx_kf_pending(struct cl_ledger *l, char **ids, size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;

	*n = 0;
	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), "SELECT substr(name, 10) FROM wechat_cursor "
			       "WHERE name LIKE 'kf-token:%' ORDER BY updated_at DESC", -1, &st,
			       NULL) != SQLITE_OK)
		return CL_EIO;
	while (*n < max && sqlite3_step(st) == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		if (t && (ids[*n] = strdup((const char *)t)) != NULL)
			(*n)++;
	}
	sqlite3_finalize(st);
	return CL_OK;
}

/* ---- media ---------------------------------------------------------------- */

static int append_attachment(struct cl_ledger *l, uint64_t parent, const char *api,
			     const char *media_id, const unsigned char *data, size_t len,
			     char **err)
{
	struct cl_buf leafb, key;
	struct cl_leaf lf;
	struct cl_entry_in in;
	enum cl_append_outcome dup;
	char body[64];
	uint64_t idx;
	int rc;

	cl_buf_init(&leafb, 1u << 20);
	cl_buf_init(&key, 1024);
	if ((rc = cl_ledger_leaf(l, parent, &leafb, err)) ||
	    (rc = cl_leaf_decode(leafb.data, leafb.len, &lf, err)) ||
	    (rc = cl_buf_addf(&key, "chatledger/wechat-media/v1/%s/%s", api, media_id)))
		goto out;
	(void)cl_fmt(body, sizeof(body), "{\"attachment_of\":%llu}", (unsigned long long)parent);
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_RECORD;
	in.kind = "attachment";
	in.sent_at = lf.sent_at;
	in.received_at = cl_time_now_ms();
	in.key = key.data;
	in.key_len = key.len;
	in.conv_tag = lf.conv_tag;
	in.plaintext = data;
	in.plaintext_len = len;
	in.body = body;
	in.body_len = strlen(body);
	rc = cl_ledger_append(l, &in, &idx, &dup, err);
out:
	cl_buf_release(&leafb);
	cl_buf_release(&key);
	return rc;
}

static int exec3(struct cl_ledger *l, const char *sql, int64_t a, int64_t b, int64_t c)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), sql, -1, &st, NULL) != SQLITE_OK)
		return CL_EIO;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, c);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? CL_OK : CL_EIO;
}

int cl_wx_media_step(struct cl_ledger *l, struct cl_wx_api *a, const char *api,
		     unsigned retry_base, int64_t *next_at, char *note, size_t cap,
		     char **err)
{
	sqlite3_stmt *st = NULL;
	int64_t now = (int64_t)time(NULL), idx, attempts, at;
	char media_id[CL_WX_MEDIA_ID_MAX + 1], body[160];
	unsigned char *data = NULL;
	size_t len = 0;
	long code = 0, http = 0;
	char *derr = NULL;
	int rc, ok, expired, abandon;

	*next_at = INT64_MAX;
	note[0] = 0;
	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), "SELECT idx, media_id, attempts, next_at "
			       "FROM wechat_media WHERE api = ?1 ORDER BY next_at, idx LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "cannot read wechat_media");
	sqlite3_bind_text(st, 1, api, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return 0;
	}
	idx = sqlite3_column_int64(st, 0);
	(void)cl_fmt(media_id, sizeof(media_id), "%s",
		     sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
	attempts = sqlite3_column_int64(st, 2);
	at = sqlite3_column_int64(st, 3);
	sqlite3_finalize(st);
	if (at > now) {
		*next_at = at;
		return 0;
	}
	if (!cl_wx_media_id_ok(media_id)) {
		(void)exec3(l, "DELETE FROM wechat_media WHERE idx = ?1", idx, 0, 0);
		return 1;
	}
	ok = cl_wx_api_media(a, media_id, &data, &len, &code, &http, &derr) == CL_OK;
	free(derr);
	expired = !ok && code == 40007;
	abandon = !ok && (expired || attempts + 1 >= CL_WX_MEDIA_ATTEMPTS);
	rc = cl_ledger_begin(l, err);
	if (rc == CL_OK && ok) {
		rc = append_attachment(l, (uint64_t)idx, api, media_id, data, len, err);
		if (rc == CL_OK)
			rc = exec3(l, "DELETE FROM wechat_media WHERE idx = ?1", idx, 0, 0);
	} else if (rc == CL_OK) {
		(void)cl_fmt(body, sizeof(body), "{\"attempt\":%lld,\"entry\":%lld,"
			     "\"errcode\":%ld,\"status\":%ld}", (long long)attempts + 1,
			     (long long)idx, code, http);
		rc = cl_wx_coverage(l, expired ? "media-expired" : "media-download-failed", body,
				    err);
		if (rc == CL_OK && abandon)
			rc = exec3(l, "DELETE FROM wechat_media WHERE idx = ?1", idx, 0, 0);
		else if (rc == CL_OK) {
			int64_t delay = retry_base ? retry_base : 60;
			int64_t k;

			for (k = 0; k < attempts && delay < CL_WX_MEDIA_RETRY_MAX; k++)
				delay *= 2;
			if (delay > CL_WX_MEDIA_RETRY_MAX)
				delay = CL_WX_MEDIA_RETRY_MAX;
			rc = exec3(l, "UPDATE wechat_media SET attempts = ?2, next_at = ?3 "
				   "WHERE idx = ?1", idx, attempts + 1, now + delay);
		}
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, err);
	else
		cl_ledger_rollback(l);
	if (data) {
		sodium_memzero(data, len);
		free(data);
	}
	if (rc)
		return -1;
	if (ok)
		(void)cl_fmt(note, cap, "media of entry %lld stored (%zu bytes)", (long long)idx, len);
	else
		(void)cl_fmt(note, cap, "media of entry %lld: attempt %lld failed (errcode %ld, "
			     "HTTP %ld)%s", (long long)idx, (long long)attempts + 1, code, http,
			     expired ? "; expired at Tencent" : abandon ? "; abandoned" : "; will retry");
	return 1;
}
