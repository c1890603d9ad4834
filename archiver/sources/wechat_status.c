/*
 * wechat_status.c - the WeChat part of `status` (wechat_status.h).
 *
 * Sources, all public (no key needed):
 *   wechat_cursor  "push:oa" / "push:wecom" (records stored by route A /
 *                  route C pushes, updated_at = the last commit holding
 *                  one), "getmsglist" (end of the last route-B window),
 *                  "kf:<open_kfid>" (the sync_msg cursors, updated_at =
 *                  the last page stored);
 *   wechat_media   downloads still queued;
 *   entry          coverage entries by kind (wechat-window-failed,
 *                  wechat-kf-sync-failed, media-download-failed,
 *                  media-expired), the latest one's public body.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/sources/wechat_status.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static const char COVERS_A[] =
	"messages and events customers send to the Official/Service Account (text, media,"
	" location, link, subscribe/unsubscribe, menu, customer-service session events)";
static const char CANNOT_A[] =
	"messages the firm sends through the Official Account (API or mp.weixin.qq.com):"
	" Tencent never pushes them back; sessions transferred to customer service bypass"
	" this route (route B has them)";
static const char COVERS_B[] =
	"conversations handed to human agents: the customers' messages and the agents'"
	" replies with the worker who sent them, pulled in 24 h getmsglist windows";
static const char CANNOT_B[] =
	"media bytes (only placeholders such as [image]); a window not pulled is a hole"
	" named by a wechat-window-failed coverage entry";
static const char COVERS_C[] =
	"WeCom app callbacks: customer-contact events (who was added or removed as a"
	" customer contact, group membership) and 微信客服 (kf/sync_msg) in both directions"
	" with the servicer who replied";
static const char CANNOT_C[] =
	"chats between WeCom employees and customers: they need Tencent's session-archive"
	" SDK (import its decrypted export with chatledger ingest --format wecom)";
static const char NOT_BUILT[] =
	"personal (consumer) WeChat accounts: there is no official API; WeChat Web"
	" automation is unofficial, refused for many accounts, risks a ban and is weak as"
	" evidence, so chatledger does not capture them";

/* wechat_cursor row: value (as integer) and updated_at; 0 if none. */
static void cursor(sqlite3 *db, const char *name, int64_t *value, int64_t *at)
{
	sqlite3_stmt *st = NULL;

	*value = 0;
	*at = 0;
	if (sqlite3_prepare_v2(db, "SELECT CAST(value AS INTEGER), updated_at FROM wechat_cursor"
			       " WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*value = sqlite3_column_int64(st, 0);
		*at = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
}

static int64_t scalar(sqlite3 *db, const char *sql, const char *arg)
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * Coverage entries of `kind`: {"count", "last_at" (logged, ms), "last"
 * (the latest one's public body)}; NULL if none.
 */
static json_t *coverage(struct cl_ledger *l, const char *kind)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	int64_t n = scalar(db, "SELECT count(*) FROM entry WHERE type = 3 AND kind = ?1", kind);
	int64_t last = scalar(db, "SELECT max(idx) FROM entry WHERE type = 3 AND kind = ?1", kind);
	json_t *o;
	struct cl_buf b;
	struct cl_leaf lf;
	char *e = NULL;

	if (n == 0)
		return NULL;
	o = json_pack("{s:I}", "count", (json_int_t)n);
	cl_buf_init(&b, 1u << 20);
	if (o && cl_ledger_leaf(l, (uint64_t)last, &b, &e) == CL_OK &&
	    cl_leaf_decode(b.data, b.len, &lf, &e) == CL_OK) {
		json_object_set_new(o, "last_at", json_integer(lf.logged_at));
		json_object_set_new(o, "last", json_loadb((const char *)lf.body, lf.body_len, 0,
							  NULL));
	}
	free(e);
	cl_buf_release(&b);
	return o;
}

static void set_cov(json_t *o, const char *key, json_t *cov)
{
	json_object_set_new(o, key, cov ? cov : json_pack("{s:i}", "count", 0));
}

int cl_wx_status(struct cl_ledger *l, json_t **out, char **err)
{
	sqlite3 *db = cl_ledger_sqlite(l);
	int64_t a_n, a_at, c_n, c_at, b_to, b_at, kf_n, kf_at;
	int have_tables;
	json_t *ra, *rb, *rc, *media, *j;
	json_t *wf = coverage(l, "wechat-window-failed");
	json_t *kf = coverage(l, "wechat-kf-sync-failed");
	json_t *mf = coverage(l, "media-download-failed");
	json_t *mx = coverage(l, "media-expired");

	*out = NULL;
	have_tables = scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = 'wechat_cursor'",
			     NULL) > 0;
	if (!have_tables && wf == NULL && kf == NULL) {
		json_decref(mf);
		json_decref(mx);
		return CL_OK;
	}
	cursor(db, "push:oa", &a_n, &a_at);
	cursor(db, "push:wecom", &c_n, &c_at);
	cursor(db, "getmsglist", &b_to, &b_at);
	kf_n = scalar(db, "SELECT count(*) FROM wechat_cursor WHERE name LIKE 'kf:%'", NULL);
	kf_at = scalar(db, "SELECT max(updated_at) FROM wechat_cursor WHERE name LIKE 'kf:%'",
		       NULL);
	ra = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}",
		       "name", "Official/Service Account push (wechat serve /oa)",
		       "endpoint", "/oa",
		       "last_push", (json_int_t)a_at * 1000, "records", (json_int_t)a_n,
		       "covers", COVERS_A, "cannot", CANNOT_A);
	rb = json_pack("{s:s, s:I, s:I, s:s, s:s}",
		       "name", "customer-service records (wechat pull --route msglist)",
		       "pulled_to", (json_int_t)b_to * 1000, "last_pull", (json_int_t)b_at * 1000,
		       "covers", COVERS_B, "cannot", CANNOT_B);
	rc = json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:s}",
		       "name", "WeCom callbacks (wechat serve /wecom) and 微信客服 (kf/sync_msg)",
		       "last_push", (json_int_t)c_at * 1000, "records", (json_int_t)c_n,
		       "kf_accounts", (json_int_t)kf_n, "kf_last_pull", (json_int_t)kf_at * 1000,
		       "covers", COVERS_C, "cannot", CANNOT_C);
	media = json_pack("{s:I}", "pending",
			  (json_int_t)scalar(db, "SELECT count(*) FROM wechat_media", NULL));
	j = json_pack("{s:{s:o, s:o, s:o}, s:o, s:[s]}", "routes", "A", ra, "B", rb, "C", rc,
		      "media", media, "not_captured", NOT_BUILT);
	if (j == NULL) {
		json_decref(wf);
		json_decref(kf);
		json_decref(mf);
		json_decref(mx);
		return cl_error(err, CL_ENOMEM, "out of memory");
	}
	set_cov(rb, "failed_windows", wf);
	set_cov(rc, "kf_failures", kf);
	set_cov(media, "failed", mf);
	set_cov(media, "expired", mx);
	*out = j;
	return CL_OK;
}
