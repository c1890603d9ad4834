/*
 * pages.c - the console's pages (console.h): sign-in, overview, search,
 * conversation, holds, export and DSAR, downloads, the access log and the
 * linked device.  Every page is built from fixed markup and values escaped
 * by html.h; every reveal of content is an access entry written before the
 * content is rendered; every change checks the session's CSRF token (in
 * cl_con_route) and the officer's role (officers.h) first.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/console/console_int.h"
#include "archiver/console/html.h"
#include "archiver/export/bag.h"
#include "archiver/export/bundle.h"
#include "archiver/export/dsar.h"
#include "archiver/export/select.h"
#include "archiver/ledger/leaf.h"
#include "archiver/retention/retention.h"
#include "archiver/wa/status.h"
#include "archiver/witness/push.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define DAY_MS 86400000LL
#define SEARCH_SHOWN 500
#define CONV_SHOWN 20000

/* ---- strings: English and Traditional Chinese ------------------------------ */

enum sid {
	S_TITLE, S_SIGNIN, S_NAME, S_PASS, S_SIGNIN_BTN, S_BADLOGIN, S_TOOMANY, S_OVERVIEW,
	S_SEARCH, S_HOLDS, S_EXPORT, S_ACCESS, S_DEVICES, S_SIGNOUT, S_LANG, S_PARTY,
	S_CONV, S_LABEL, S_FROM, S_TO, S_TEXT, S_REASON, S_FIND, S_RESULTS, S_TIME,
	S_SOURCE, S_SENDER, S_KIND, S_MESSAGE, S_DEVICE, S_EDITED, S_DELETED, S_ATTACH,
	S_COLLECTOR, S_GAPS, S_WITNESS, S_CHECKPOINT, S_RETENTION, S_DSARS, S_DAYSLEFT,
	S_QUARANTINE, S_CASE, S_PLACE, S_RELEASE, S_STATE, S_COVERS, S_START_EXPORT,
	S_START_DSAR, S_RECEIVED, S_DOWNLOAD, S_CUSTODY, S_WHO, S_COMMAND, S_RECORDS,
	S_NOROLE, S_NEEDREASON, S_RECORDED, S_NONE, S_UNTIL, S_EXPIRED, S_FILES,
	S_ALLOWEMPTY, S_NOTKNOWN, S_SHOWN_OF, S_OPEN, S_AUDIT_NOTE, S_COUNT
};

static const char *const strings[S_COUNT][2] = {
	[S_TITLE] = { "chatledger console", "chatledger 主控台" },
	[S_SIGNIN] = { "Sign in", "登入" },
	[S_NAME] = { "Officer name", "人員名稱" },
	[S_PASS] = { "Passphrase", "密碼短語" },
	[S_SIGNIN_BTN] = { "Sign in", "登入" },
	[S_BADLOGIN] = { "Wrong name or passphrase. The attempt is recorded.",
			 "名稱或密碼短語錯誤。此嘗試已記錄。" },
	[S_TOOMANY] = { "Too many attempts in the last minute; try again later. The attempt is recorded.",
			"過去一分鐘嘗試次數過多，請稍後再試。此嘗試已記錄。" },
	[S_OVERVIEW] = { "Overview", "概覽" },
	[S_SEARCH] = { "Search", "搜尋" },
	[S_HOLDS] = { "Holds", "保留令" },
	[S_EXPORT] = { "Export and DSAR", "匯出及查閱資料要求" },
	[S_ACCESS] = { "Access log", "存取記錄" },
	[S_DEVICES] = { "Linked device", "已連結裝置" },
	[S_SIGNOUT] = { "Sign out", "登出" },
	[S_LANG] = { "中文", "English" },
	[S_PARTY] = { "Party (phone, WeChat id, name)", "當事人（電話、微信帳號、名稱）" },
	[S_CONV] = { "Conversation", "對話" },
	[S_LABEL] = { "Label", "標籤" },
	[S_FROM] = { "From (YYYY-MM-DD, UTC)", "由（YYYY-MM-DD，UTC）" },
	[S_TO] = { "To (YYYY-MM-DD, UTC)", "至（YYYY-MM-DD，UTC）" },
	[S_TEXT] = { "Words in the text", "內文字詞" },
	[S_REASON] = { "Reason or case id (recorded)", "原因或案件編號（會記錄）" },
	[S_FIND] = { "Search", "搜尋" },
	[S_RESULTS] = { "Results", "結果" },
	[S_TIME] = { "Time (UTC)", "時間（UTC）" },
	[S_SOURCE] = { "Source", "來源" },
	[S_SENDER] = { "Sender", "發送者" },
	[S_KIND] = { "Kind", "類型" },
	[S_MESSAGE] = { "Message", "訊息" },
	[S_DEVICE] = { "device", "裝置" },
	[S_EDITED] = { "edited", "已編輯" },
	[S_DELETED] = { "deleted", "已刪除" },
	[S_ATTACH] = { "Attachment", "附件" },
	[S_COLLECTOR] = { "WhatsApp collector", "WhatsApp 收集器" },
	[S_GAPS] = { "Coverage gaps and alerts", "覆蓋缺口及警示" },
	[S_WITNESS] = { "Witnesses", "見證者" },
	[S_CHECKPOINT] = { "Last signed checkpoint", "最近簽署的檢查點" },
	[S_RETENTION] = { "Retention: last run", "保存期限：上次執行" },
	[S_DSARS] = { "Open data access requests", "未完成的查閱資料要求" },
	[S_DAYSLEFT] = { "days left", "剩餘日數" },
	[S_QUARANTINE] = { "Quarantined items", "已隔離項目" },
	[S_CASE] = { "Case id", "案件編號" },
	[S_PLACE] = { "Place hold", "設立保留令" },
	[S_RELEASE] = { "Release", "解除" },
	[S_STATE] = { "State", "狀態" },
	[S_COVERS] = { "Covers", "涵蓋" },
	[S_START_EXPORT] = { "Start export", "開始匯出" },
	[S_START_DSAR] = { "Record and produce a data access request", "記錄並製作查閱資料要求" },
	[S_RECEIVED] = { "Received on (YYYY-MM-DD)", "收到日期（YYYY-MM-DD）" },
	[S_DOWNLOAD] = { "Download", "下載" },
	[S_CUSTODY] = { "Custody entry", "保管記錄" },
	[S_WHO] = { "Who", "人員" },
	[S_COMMAND] = { "Action", "動作" },
	[S_RECORDS] = { "Records", "記錄數" },
	[S_NOROLE] = { "Your role cannot do this.", "你的角色無權執行此操作。" },
	[S_NEEDREASON] = { "Give a reason or case id: it is recorded with the access.",
			   "請填寫原因或案件編號：會與存取一併記錄。" },
	[S_RECORDED] = { "Recorded in the ledger as entry", "已記入分類帳，項目" },
	[S_NONE] = { "none", "沒有" },
	[S_UNTIL] = { "Until (YYYY-MM-DD, optional)", "直至（YYYY-MM-DD，可選）" },
	[S_EXPIRED] = { "Your session has ended. Sign in again.", "工作階段已結束，請重新登入。" },
	[S_FILES] = { "Bundles written by the console", "主控台製作的檔案" },
	[S_ALLOWEMPTY] = { "Hold even if it covers nothing yet", "即使暫未涵蓋任何記錄亦設立" },
	[S_NOTKNOWN] = { "not known", "不明" },
	[S_SHOWN_OF] = { "shown of", "已顯示，共" },
	[S_OPEN] = { "Open", "開啟" },
	[S_AUDIT_NOTE] = { "Signed in as an auditor: counts, coverage and the access log only; no message content.",
			   "以核數師身分登入：只可查看數目、覆蓋情況及存取記錄，不可查看訊息內容。" },
};

static const char *T(const struct cl_con_req *r, enum sid id)
{
	return strings[id][r->lang ? 1 : 0];
}

/* ---- small helpers ------------------------------------------------------------ */

#define RAW(p, s) (void)cl_html_raw(&(p)->b, (s))
#define ESC(p, s) (void)cl_html_str(&(p)->b, (s))

static void fmt(struct cl_con_page *p, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fmt(struct cl_con_page *p, const char *f, ...)
{
	char tmp[256];
	va_list ap;

	va_start(ap, f);
	(void)cl_vfmt(tmp, sizeof(tmp), f, ap);
	va_end(ap);
	RAW(p, tmp);
}

static void put_time(struct cl_con_page *p, int64_t ms)
{
	char t[32];

	if (ms == CL_TIME_NONE) {
		RAW(p, "-");
		return;
	}
	cl_time_format(ms, t);
	ESC(p, t);
}

static const char *jstr(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int cl_con_token_parse(const char *hex, unsigned char out[32])
{
	size_t bin = 0;
	const char *end = NULL;

	if (hex == NULL || strlen(hex) != 64)
		return -1;
	if (sodium_hex2bin(out, 32, hex, 64, NULL, &bin, &end) != 0 || bin != 32 ||
	    end != hex + 64)
		return -1;
	return 0;
}

static void redirect(struct cl_con_page *p, const char *to)
{
	p->status = 303;
	(void)cl_fmt(p->location_buf, sizeof(p->location_buf), "%s", to);
	p->location = p->location_buf;
}

static void csrf_field(struct cl_con_page *p, const struct cl_con_req *r)
{
	RAW(p, "<input type=\"hidden\" name=\"csrf\" value=\"");
	RAW(p, r->s->csrf_hex);
	RAW(p, "\">");
}

static void page_begin(struct cl_con_req *r, struct cl_con_page *p, enum sid title)
{
	int lang = r->lang;

	fmt(p, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width\">"
	    "<link rel=\"stylesheet\" href=\"/style.css\"><title>", lang ? "zh-Hant" : "en");
	ESC(p, T(r, title));
	RAW(p, " - ");
	ESC(p, T(r, S_TITLE));
	RAW(p, "</title></head><body>");
	if (r->s) {
		static const struct { const char *href; enum sid s; } nav[] = {
			{ "/", S_OVERVIEW }, { "/search", S_SEARCH }, { "/holds", S_HOLDS },
			{ "/export", S_EXPORT }, { "/access", S_ACCESS }, { "/devices", S_DEVICES },
		};
		size_t i;

		RAW(p, "<header><nav>");
		for (i = 0; i < sizeof(nav) / sizeof(nav[0]); i++) {
			fmt(p, "<a href=\"%s\">", nav[i].href);
			ESC(p, T(r, nav[i].s));
			RAW(p, "</a> ");
		}
		RAW(p, "</nav><div class=\"who\">");
		ESC(p, r->s->off->name);
		fmt(p, " (%s) ", cl_officer_role_name(r->s->off->role));
		RAW(p, "<form method=\"post\" action=\"/lang\">");
		csrf_field(p, r);
		fmt(p, "<input type=\"hidden\" name=\"to\" value=\"%s\"><button>", lang ? "en" : "zh");
		ESC(p, T(r, S_LANG));
		RAW(p, "</button></form><form method=\"post\" action=\"/logout\">");
		csrf_field(p, r);
		RAW(p, "<button>");
		ESC(p, T(r, S_SIGNOUT));
		RAW(p, "</button></form></div></header>");
	}
	RAW(p, "<main><h1>");
	ESC(p, T(r, title));
	RAW(p, "</h1>");
	if (r->s && r->s->off->role == CL_ROLE_AUDITOR) {
		RAW(p, "<p class=\"note\">");
		ESC(p, T(r, S_AUDIT_NOTE));
		RAW(p, "</p>");
	}
}

static void page_end(struct cl_con_page *p)
{
	RAW(p, "</main></body></html>\n");
}

/* A read that failed: said on the page (an empty table must never
 * stand for "nothing there"), then *err freed and cleared. */
static void read_failed(struct cl_con_page *p, const char *what, int rc,
			char **err)
{
	if (rc != CL_OK) {
		RAW(p, "<p class=\"error\" id=\"read-error\">cannot read ");
		ESC(p, what);
		RAW(p, ": ");
		ESC(p, *err ? *err : cl_strerror(rc));
		RAW(p, "</p>");
	}
	free(*err);
	*err = NULL;
}

void cl_con_error(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p,
		  int status, const char *msg)
{
	(void)c;
	cl_buf_reset(&p->b);
	p->status = status;
	page_begin(r, p, S_TITLE);
	RAW(p, "<p class=\"error\">");
	ESC(p, msg);
	RAW(p, "</p>");
	page_end(p);
}

/* The role check: 1 if the session may, else an error page and 0. */
static int allowed(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p,
		   int action)
{
	if (cl_officer_allows(r->s->off->role, action) &&
	    (action != CL_ACT_CONTENT || r->s->off->seal_sk != NULL))
		return 1;
	cl_con_error(c, r, p, 403, T(r, S_NOROLE));
	return 0;
}

/* A reason, when the configuration asks for one: 1 if fine. */
static int reason_ok(const struct cl_console *c, const struct cl_con_req *r)
{
	const char *why = cl_con_arg(r, "reason");

	return !c->o.cfg.require_reason || (why && *why);
}

/* An access entry naming the session's officer (and the reason, sealed). */
static int record_access(struct cl_console *c, struct cl_con_req *r, const char *command,
			 const struct cl_select_query *q, uint64_t n, json_t *pub_extra,
			 uint64_t *index, char **err)
{
	json_t *sealed = pub_extra ? json_deep_copy(pub_extra) : json_object();
	const char *why = cl_con_arg(r, "reason");
	int rc;

	if (sealed == NULL)
		return CL_ENOMEM;
	if (why && *why)
		json_object_set_new(sealed, "reason", json_string(why));
	json_object_set_new(sealed, "address", json_string(r->addr));
	rc = cl_access_record_extra(c->l, command, r->s ? r->s->off->name : "", q, n, pub_extra,
				    sealed, index, err);
	json_decref(sealed);
	return rc;
}

/* "YYYY-MM-DD" or RFC 3339 into ms; end-of-day for a bare date if `end`. */
static int parse_when(const char *s, int end, int64_t *ms)
{
	if (s == NULL || *s == 0) {
		*ms = CL_TIME_NONE;
		return 0;
	}
	if (strlen(s) == 10) {
		char b[40];

		(void)cl_fmt(b, sizeof(b), "%sT00:00:00Z", s);
		if (cl_time_parse(b, strlen(b), ms) != CL_OK)
			return -1;
		if (end)
			*ms += DAY_MS - 1;
		return 0;
	}
	return cl_time_parse(s, strlen(s), ms) == CL_OK ? 0 : -1;
}

/* ---- style sheet --------------------------------------------------------------- */

static const char style_css[] =
	"body{font-family:system-ui,'Noto Sans CJK TC','Noto Sans',sans-serif;margin:0;"
	"color:#1b1b1b;background:#f6f7f9}"
	"header{display:flex;justify-content:space-between;align-items:center;"
	"background:#1f3a5f;color:#fff;padding:.5em 1em}"
	"header a{color:#fff;margin-right:1em;text-decoration:none;font-weight:600}"
	"header form{display:inline;margin-left:.5em}"
	"main{padding:1em 2em;max-width:72em}"
	"table{border-collapse:collapse;width:100%;background:#fff}"
	"td,th{border:1px solid #d0d4da;padding:.3em .5em;text-align:left;vertical-align:top}"
	"th{background:#e8ecf1}"
	"form.box{background:#fff;border:1px solid #d0d4da;padding:1em;margin:1em 0}"
	"label{display:block;margin:.4em 0}input[type=text],input[type=password]{width:24em}"
	".error{color:#a40000;font-weight:600}.note{background:#fff7d6;padding:.5em}"
	".ok{color:#0a6b2a;font-weight:600}"
	".chat{max-width:48em}.msg{margin:.5em 0;padding:.5em .8em;border-radius:.6em;"
	"background:#fff;border:1px solid #d0d4da;max-width:80%;unicode-bidi:isolate}"
	".msg.out{margin-left:auto;background:#dcf4d4}"
	".meta{font-size:.8em;color:#555}.text{white-space:pre-wrap;overflow-wrap:anywhere;"
	"unicode-bidi:plaintext}"
	".badge{font-size:.75em;background:#ffe1a8;border-radius:.3em;padding:0 .3em;margin-left:.3em}"
	".ctl{font-size:.75em;background:#f3c1c1;border-radius:.2em;padding:0 .2em}"
	".card{display:inline-block;vertical-align:top;background:#fff;border:1px solid #d0d4da;"
	"padding:.8em;margin:.4em;min-width:16em}\n";

/* ---- sign-in ------------------------------------------------------------------- */

static void login_form(struct cl_con_req *r, struct cl_con_page *p, const char *msg, int lang)
{
	struct cl_con_session *keep = r->s;

	r->s = NULL;   /* no navigation on this page */
	r->lang = lang;
	page_begin(r, p, S_SIGNIN);
	if (msg) {
		RAW(p, "<p class=\"error\" id=\"message\">");
		ESC(p, msg);
		RAW(p, "</p>");
	}
	fmt(p, "<form class=\"box\" method=\"post\" action=\"/login\">"
	    "<input type=\"hidden\" name=\"lang\" value=\"%s\"><label>", lang ? "zh" : "en");
	ESC(p, T(r, S_NAME));
	RAW(p, " <input type=\"text\" name=\"name\" autocomplete=\"username\" required></label><label>");
	ESC(p, T(r, S_PASS));
	RAW(p, " <input type=\"password\" name=\"passphrase\" autocomplete=\"current-password\" required>"
	    "</label><button id=\"signin\">");
	ESC(p, T(r, S_SIGNIN_BTN));
	fmt(p, "</button></form><p><a href=\"/login?lang=%s\">", lang ? "en" : "zh");
	ESC(p, T(r, S_LANG));
	RAW(p, "</a></p>");
	page_end(p);
	r->s = keep;
}

static int login_lang(const struct cl_con_req *r, const struct cl_console *c)
{
	const char *l = cl_con_arg(r, "lang");

	if (l)
		return strcmp(l, "zh") == 0;
	return c->o.lang;
}

/* Record a sign-in attempt (result: ok, wrong, refused, unknown). */
static void record_login(struct cl_console *c, struct cl_con_req *r, const char *name,
			 const char *result)
{
	json_t *pub = json_pack("{s:s}", "result", result);
	json_t *sealed = json_pack("{s:s, s:s}", "result", result, "address", r->addr);
	char *err = NULL;

	if (pub && sealed)
		(void)cl_access_record_extra(c->l, "console-login", name, NULL, 0, pub, sealed,
					     NULL, &err);
	free(err);
	json_decref(pub);
	json_decref(sealed);
}

static void do_login(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *name = cl_con_arg(r, "name"), *pass = cl_con_arg(r, "passphrase");
	struct cl_officer *off = NULL;
	struct cl_con_session *s;
	int lang = login_lang(r, c), rc;
	char *err = NULL;

	r->lang = lang;
	if (name == NULL || pass == NULL || *pass == 0 || cl_officer_name_check(name, NULL))
		name = "(invalid)";
	if (!cl_con_login_allowed(c, name, r->addr, r->now)) {
		/* refused without looking at the passphrase */
		cl_con_login_failed(c, name, r->addr, r->now);
		record_login(c, r, name, "refused");
		p->status = 429;
		login_form(r, p, T(r, S_TOOMANY), lang);
		return;
	}
	rc = strcmp(name, "(invalid)") == 0 ? CL_ENOTFOUND :
		cl_officer_unlock(c->o.dir, name, (const unsigned char *)pass, strlen(pass), &off,
				  &err);
	free(err);
	if (rc) {
		cl_con_login_failed(c, name, r->addr, r->now);
		record_login(c, r, name, rc == CL_ENOTFOUND ? "unknown" : "wrong");
		p->status = 403;
		login_form(r, p, T(r, S_BADLOGIN), lang);
		return;
	}
	if ((s = cl_con_session_new(c, off, lang, r->now)) == NULL) {
		cl_con_error(c, r, p, 503, "no session slot");
		return;
	}
	record_login(c, r, name, "ok");
	p->cookie = 1;
	memcpy(p->cookie_val, s->id_hex, sizeof(p->cookie_val));
	redirect(p, "/");
}

/* ---- overview ------------------------------------------------------------------ */

struct ov_ctx {
	int64_t gaps_last[10];
	char gaps_kind[10][CL_KIND_MAX + 1];
	size_t ngaps, total;
	int64_t retention_at;
};

static int on_cov(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		  const unsigned char *attrs, size_t alen, int has_payload)
{
	struct ov_ctx *o = ctx;
	struct cl_leaf lf;
	char *e = NULL;
	size_t k;

	(void)index;
	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return CL_OK;
	}
	if (lf.type == CL_ENTRY_CONTROL) {
		if (strcmp(lf.kind, "retention-report") == 0)
			o->retention_at = lf.logged_at;
		return CL_OK;
	}
	k = o->total++ % 10;
	o->gaps_last[k] = lf.logged_at;
	(void)cl_fmt(o->gaps_kind[k], sizeof(o->gaps_kind[k]), "%s", lf.kind);
	if (o->ngaps < 10)
		o->ngaps++;
	return CL_OK;
}

struct dsar_ctx {
	struct cl_con_page *p;
	int64_t now;
	size_t open;
	const struct cl_con_req *r;
};

static int on_dsar(void *ctx, const struct cl_dsar_info *d)
{
	struct dsar_ctx *x = ctx;

	if (d->closed_at != CL_TIME_NONE)
		return CL_OK;
	x->open++;
	fmt(x->p, "<tr><td>%" PRIu64 "</td><td>", d->id);
	put_time(x->p, d->received);
	RAW(x->p, "</td><td>");
	put_time(x->p, d->deadline);
	fmt(x->p, "</td><td>%lld</td></tr>",
	    (long long)((d->deadline - x->now + DAY_MS - 1) / DAY_MS));
	return CL_OK;
}

static void page_overview(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	struct cl_ledger_stats st;
	struct cl_wa_status wa;
	struct cl_witness_summary ws;
	struct ov_ctx ov;
	struct dsar_ctx dx;
	char *err = NULL;
	size_t i;
	int rc;

	memset(&ov, 0, sizeof(ov));
	ov.retention_at = CL_TIME_NONE;
	page_begin(r, p, S_OVERVIEW);
	memset(&st, 0, sizeof(st));
	read_failed(p, "the ledger's counts", cl_ledger_stats(c->l, &st, &err),
		    &err);
	cl_wa_status_init(&wa);
	RAW(p, "<div class=\"card\"><h2>");
	ESC(p, T(r, S_COLLECTOR));
	RAW(p, "</h2>");
	if (cl_wa_status_read(c->o.dir, &wa, &err) == CL_OK && wa.state) {
		RAW(p, "<p>");
		ESC(p, wa.state);
		RAW(p, " &middot; ");
		ESC(p, wa.jid);
		RAW(p, "</p><p>last message ");
		put_time(p, wa.last_stanza_at);
		if (wa.gap_open_since != CL_TIME_NONE) {
			RAW(p, "</p><p class=\"error\">gap open since ");
			put_time(p, wa.gap_open_since);
		}
		RAW(p, "</p>");
	} else {
		RAW(p, "<p>");
		ESC(p, T(r, S_NOTKNOWN));
		RAW(p, "</p>");
	}
	free(err);
	err = NULL;
	cl_wa_status_release(&wa);
	RAW(p, "</div><div class=\"card\"><h2>");
	ESC(p, T(r, S_CHECKPOINT));
	fmt(p, "</h2><p>%" PRIu64 " entries, size %" PRIu64 ", ", st.entries,
	    st.last_checkpoint_size);
	put_time(p, st.last_checkpoint_at);
	RAW(p, "</p><h2>");
	ESC(p, T(r, S_WITNESS));
	RAW(p, "</h2>");
	memset(&ws, 0, sizeof(ws));
	if (cl_witness_summary(c->l, &ws, &err) == CL_OK && ws.size > 0)
		fmt(p, "<p>size %" PRIu64 " cosigned by %zu; %zu failing; %zu alerts</p>", ws.size,
		    ws.by, ws.failing, ws.alerts);
	else
		fmt(p, "<p>%s</p>", T(r, S_NONE));
	free(err);
	err = NULL;
	read_failed(p, "the coverage entries",
		    cl_ledger_each(c->l, CL_ENTRY_COVERAGE, on_cov, &ov, &err), &err);
	read_failed(p, "the control entries",
		    cl_ledger_each(c->l, CL_ENTRY_CONTROL, on_cov, &ov, &err), &err);
	RAW(p, "</div><div class=\"card\"><h2>");
	ESC(p, T(r, S_RETENTION));
	RAW(p, "</h2><p>");
	put_time(p, ov.retention_at);
	RAW(p, "</p><h2>");
	ESC(p, T(r, S_QUARANTINE));
	fmt(p, "</h2><p>%" PRIu64 "</p></div><h2>", st.by_type[CL_ENTRY_QUARANTINE]);
	ESC(p, T(r, S_GAPS));
	fmt(p, " (%zu)</h2><table><tr><th>", ov.total);
	ESC(p, T(r, S_TIME));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_KIND));
	RAW(p, "</th></tr>");
	for (i = 0; i < ov.ngaps; i++) {
		size_t k = (ov.total - 1 - i) % 10;

		RAW(p, "<tr><td>");
		put_time(p, ov.gaps_last[k]);
		RAW(p, "</td><td>");
		ESC(p, ov.gaps_kind[k]);
		RAW(p, "</td></tr>");
	}
	RAW(p, "</table><h2>");
	ESC(p, T(r, S_DSARS));
	RAW(p, "</h2><table><tr><th>id</th><th>");
	ESC(p, T(r, S_RECEIVED));
	RAW(p, "</th><th>deadline</th><th>");
	ESC(p, T(r, S_DAYSLEFT));
	RAW(p, "</th></tr>");
	dx.p = p;
	dx.now = r->now;
	dx.open = 0;
	dx.r = r;
	rc = cl_dsar_each(c->l, on_dsar, &dx, &err);
	RAW(p, "</table>");
	read_failed(p, "the data access requests", rc, &err);
	page_end(p);
}

/* ---- search and conversation ------------------------------------------------- */

/* The text of a record, cut at `max` bytes on a character boundary. */
static void put_text(struct cl_con_page *p, const char *t, size_t max)
{
	size_t n;

	if (t == NULL)
		return;
	n = strlen(t);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80)
			n--;
	}
	(void)cl_html_text(&p->b, t, n);
	if (n < strlen(t))
		RAW(p, "&hellip;");
}

struct hit_ctx {
	struct cl_con_page *p;
	const struct cl_con_req *r;
	uint64_t shown, limit;
	int chat;
};

static void put_badges(struct cl_con_page *p, const struct cl_con_req *r, const json_t *rec)
{
	const char *kind = jstr(rec, "kind");
	const json_t *rev = json_object_get(rec, "revision");

	if ((json_is_integer(rev) && json_integer_value(rev) > 0) ||
	    json_is_true(json_object_get(rec, "edited")) || (kind && strcmp(kind, "edit") == 0)) {
		RAW(p, "<span class=\"badge\">");
		ESC(p, T(r, S_EDITED));
		RAW(p, "</span>");
	}
	if (kind && (strcmp(kind, "deleted") == 0 || strcmp(kind, "revoke") == 0 ||
		     strcmp(kind, "delete") == 0)) {
		RAW(p, "<span class=\"badge\">");
		ESC(p, T(r, S_DELETED));
		RAW(p, "</span>");
	}
	if (jstr(rec, "target")) {
		RAW(p, "<span class=\"badge\">&rarr; ");
		ESC(p, jstr(rec, "target"));
		RAW(p, "</span>");
	}
}

static void put_attachments(struct cl_con_page *p, const struct cl_con_req *r, const json_t *rec)
{
	const json_t *a = json_object_get(rec, "attachments"), *e;
	size_t i;

	json_array_foreach(a, i, e) {
		const json_t *sz = json_object_get(e, "size");

		RAW(p, "<div class=\"meta\">");
		ESC(p, T(r, S_ATTACH));
		RAW(p, ": ");
		ESC(p, jstr(e, "name"));
		RAW(p, " ");
		ESC(p, jstr(e, "mime"));
		if (json_is_integer(sz))
			fmt(p, " %" JSON_INTEGER_FORMAT " B", json_integer_value(sz));
		if (json_is_true(json_object_get(e, "missing")))
			RAW(p, " (missing)");
		RAW(p, "</div>");
	}
}

static int on_hit(void *ctx, const struct cl_select_hit *h)
{
	struct hit_ctx *x = ctx;
	struct cl_con_page *p = x->p;
	const json_t *rec = h->rec, *conv, *snd, *dev;
	char t[32];

	if (rec == NULL)
		return 0;  /* attachments: listed with their record */
	if (x->shown >= x->limit)
		return 1;
	x->shown++;
	conv = json_object_get(rec, "conversation");
	snd = json_object_get(rec, "sender");
	dev = json_object_get(snd, "device");
	cl_time_format(h->lf->sent_at, t);
	if (x->chat) {
		const char *dir = jstr(rec, "direction");

		fmt(p, "<div class=\"msg %s\"><div class=\"meta\">",
		    dir && strcmp(dir, "out") == 0 ? "out" : "in");
		ESC(p, jstr(snd, "name"));
		RAW(p, " &lt;");
		ESC(p, jstr(snd, "id"));
		RAW(p, "&gt;");
		if (json_is_integer(dev))
			fmt(p, " &middot; %s %" JSON_INTEGER_FORMAT, T(x->r, S_DEVICE),
			    json_integer_value(dev));
		else if (json_is_string(dev)) {
			fmt(p, " &middot; %s ", T(x->r, S_DEVICE));
			ESC(p, json_string_value(dev));
		}
		RAW(p, " &middot; ");
		ESC(p, t);
		RAW(p, " &middot; ");
		ESC(p, jstr(rec, "source"));
		RAW(p, " &middot; ");
		ESC(p, jstr(rec, "kind"));
		put_badges(p, x->r, rec);
		fmt(p, " &middot; #%" PRIu64 "</div><div class=\"text\">", h->index);
		ESC(p, jstr(rec, "text"));
		RAW(p, "</div>");
		put_attachments(p, x->r, rec);
		RAW(p, "</div>\n");
		return 0;
	}
	RAW(p, "<tr><td>");
	ESC(p, t);
	RAW(p, "</td><td>");
	ESC(p, jstr(rec, "source"));
	RAW(p, "</td><td><a href=\"/conversation?id=");
	(void)cl_html_url(&p->b, jstr(conv, "id"));
	RAW(p, "&amp;reason=");
	(void)cl_html_url(&p->b, cl_con_arg(x->r, "reason"));
	RAW(p, "\">");
	ESC(p, jstr(conv, "name") ? jstr(conv, "name") : jstr(conv, "id"));
	RAW(p, "</a></td><td>");
	ESC(p, jstr(snd, "name"));
	RAW(p, " &lt;");
	ESC(p, jstr(snd, "id"));
	RAW(p, "&gt;</td><td>");
	ESC(p, jstr(rec, "kind"));
	put_badges(p, x->r, rec);
	RAW(p, "</td><td class=\"text\">");
	put_text(p, jstr(rec, "text"), 300);
	RAW(p, "</td></tr>\n");
	return 0;
}

static void input(struct cl_con_page *p, const struct cl_con_req *r, enum sid label,
		  const char *name, int required)
{
	RAW(p, "<label>");
	ESC(p, T(r, label));
	fmt(p, " <input type=\"text\" name=\"%s\" value=\"", name);
	ESC(p, cl_con_arg(r, name));
	fmt(p, "\"%s></label>", required ? " required" : "");
}

/* Run query `q` for the session: count, record, render (chat or table). */
static void run_query(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p,
		      const struct cl_select_query *q, const char *command, int chat,
		      uint64_t limit)
{
	struct cl_select_plan *plan = NULL;
	struct hit_ctx hx;
	uint64_t n = 0, aidx = 0, hits = 0;
	char *err = NULL;
	int rc;

	if ((rc = cl_select_plan_new(c->l, q, &plan, &err)) ||
	    (rc = cl_select_plan_filter_text(c->l, r->s->off->seal_sk, plan, &err)))
		goto out;
	n = cl_select_plan_records(plan);
	if ((rc = record_access(c, r, command, q, n < limit ? n : limit, NULL, &aidx, &err)))
		goto out;
	fmt(p, "<p class=\"meta\">%" PRIu64 " %s %" PRIu64 ". %s %" PRIu64 ".</p>",
	    n < limit ? n : limit, T(r, S_SHOWN_OF), n, T(r, S_RECORDED), aidx);
	hx.p = p;
	hx.r = r;
	hx.shown = 0;
	hx.limit = limit;
	hx.chat = chat;
	if (chat) {
		RAW(p, "<div class=\"chat\">");
	} else {
		RAW(p, "<table id=\"results\"><tr><th>");
		ESC(p, T(r, S_TIME));
		RAW(p, "</th><th>");
		ESC(p, T(r, S_SOURCE));
		RAW(p, "</th><th>");
		ESC(p, T(r, S_CONV));
		RAW(p, "</th><th>");
		ESC(p, T(r, S_SENDER));
		RAW(p, "</th><th>");
		ESC(p, T(r, S_KIND));
		RAW(p, "</th><th>");
		ESC(p, T(r, S_MESSAGE));
		RAW(p, "</th></tr>");
	}
	rc = cl_select_plan_run(c->l, r->s->off->seal_sk, plan, on_hit, &hx, &hits, &err);
	if (rc == 1)
		rc = CL_OK;
	RAW(p, chat ? "</div>" : "</table>");
out:
	if (rc) {
		RAW(p, "<p class=\"error\">");
		ESC(p, err ? err : cl_strerror(rc));
		RAW(p, "</p>");
	}
	free(err);
	cl_select_plan_free(plan);
}

static void page_search(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	static const char *const keys[] = { "party", "conversation", "label", "text", "from", "to" };
	const char *party = cl_con_arg(r, "party"), *conv = cl_con_arg(r, "conversation");
	const char *label = cl_con_arg(r, "label"), *text = cl_con_arg(r, "text");
	struct cl_select_query q;
	int any = 0;
	size_t i;

	if (!allowed(c, r, p, CL_ACT_CONTENT))
		return;
	page_begin(r, p, S_SEARCH);
	RAW(p, "<form class=\"box\" method=\"get\" action=\"/search\">");
	input(p, r, S_PARTY, "party", 0);
	input(p, r, S_CONV, "conversation", 0);
	input(p, r, S_LABEL, "label", 0);
	input(p, r, S_FROM, "from", 0);
	input(p, r, S_TO, "to", 0);
	input(p, r, S_TEXT, "text", 0);
	input(p, r, S_REASON, "reason", c->o.cfg.require_reason);
	RAW(p, "<button id=\"find\">");
	ESC(p, T(r, S_FIND));
	RAW(p, "</button></form>");
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = cl_con_arg(r, keys[i]);

		any |= v && *v;
	}
	if (any) {
		cl_select_query_init(&q);
		if (party && *party) {
			q.parties = &party;
			q.n_parties = 1;
		}
		if (conv && *conv) {
			q.conversations = &conv;
			q.n_conversations = 1;
		}
		if (label && *label) {
			q.labels = &label;
			q.n_labels = 1;
		}
		if (text && *text)
			q.text = text;
		if (parse_when(cl_con_arg(r, "from"), 0, &q.from) ||
		    parse_when(cl_con_arg(r, "to"), 1, &q.to)) {
			RAW(p, "<p class=\"error\">dates: YYYY-MM-DD</p>");
		} else if (!reason_ok(c, r)) {
			RAW(p, "<p class=\"error\">");
			ESC(p, T(r, S_NEEDREASON));
			RAW(p, "</p>");
		} else {
			RAW(p, "<h2>");
			ESC(p, T(r, S_RESULTS));
			RAW(p, "</h2>");
			run_query(c, r, p, &q, "console-search", 0, SEARCH_SHOWN);
		}
	}
	page_end(p);
}

static void page_conversation(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *id = cl_con_arg(r, "id");
	struct cl_select_query q;

	if (!allowed(c, r, p, CL_ACT_CONTENT))
		return;
	if (id == NULL || *id == 0) {
		cl_con_error(c, r, p, 400, "no conversation id");
		return;
	}
	page_begin(r, p, S_CONV);
	RAW(p, "<p><b>");
	ESC(p, id);
	RAW(p, "</b></p>");
	if (!reason_ok(c, r)) {
		RAW(p, "<form class=\"box\" method=\"get\" action=\"/conversation\">"
		    "<input type=\"hidden\" name=\"id\" value=\"");
		ESC(p, id);
		RAW(p, "\">");
		input(p, r, S_REASON, "reason", 1);
		RAW(p, "<button>");
		ESC(p, T(r, S_OPEN));
		RAW(p, "</button></form>");
		page_end(p);
		return;
	}
	cl_select_query_init(&q);
	q.conversations = &id;
	q.n_conversations = 1;
	if (parse_when(cl_con_arg(r, "from"), 0, &q.from) ||
	    parse_when(cl_con_arg(r, "to"), 1, &q.to))
		q.from = q.to = CL_TIME_NONE;
	run_query(c, r, p, &q, "console-view", 1, CONV_SHOWN);
	page_end(p);
}

/* ---- holds --------------------------------------------------------------------- */

static void hold_form(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	(void)c;
	RAW(p, "<form class=\"box\" method=\"post\" action=\"/holds/add\">");
	csrf_field(p, r);
	input(p, r, S_CASE, "case", 1);
	input(p, r, S_REASON, "reason", 1);
	input(p, r, S_PARTY, "party", 0);
	input(p, r, S_CONV, "conversation", 0);
	input(p, r, S_UNTIL, "until", 0);
	RAW(p, "<label><input type=\"checkbox\" name=\"allow_empty\" value=\"1\"> ");
	ESC(p, T(r, S_ALLOWEMPTY));
	RAW(p, "</label><button id=\"place\">");
	ESC(p, T(r, S_PLACE));
	RAW(p, "</button></form>");
}

static void page_holds(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p,
		       const char *msg, int ok)
{
	struct cl_retention_lifecycle lc;
	char *err = NULL;
	size_t i;
	int can = cl_officer_allows(r->s->off->role, CL_ACT_CHANGE);

	page_begin(r, p, S_HOLDS);
	if (msg) {
		fmt(p, "<p class=\"%s\">", ok ? "ok" : "error");
		ESC(p, msg);
		RAW(p, "</p>");
	}
	if (cl_retention_lifecycle_load(c->l, &lc, &err) != CL_OK) {
		RAW(p, "<p class=\"error\">");
		ESC(p, err);
		RAW(p, "</p>");
		free(err);
		page_end(p);
		return;
	}
	RAW(p, "<table id=\"holds\"><tr><th>");
	ESC(p, T(r, S_CASE));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_STATE));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_COVERS));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_UNTIL));
	RAW(p, "</th><th></th></tr>");
	for (i = 0; i < lc.n_holds; i++) {
		const struct cl_policy_hold *h = &lc.holds[i];
		int active = h->released_at == CL_TIME_NONE &&
			(h->until == CL_TIME_NONE || r->now < h->until);

		RAW(p, "<tr><td>");
		ESC(p, h->case_id);
		fmt(p, "</td><td>%s</td><td>%zu parties, %zu conversations",
		    h->released_at != CL_TIME_NONE ? "released" : active ? "active" : "expired",
		    h->n_participants, h->n_conversations);
		if (h->n_participants + h->n_conversations == 0)
			RAW(p, " (every record)");
		RAW(p, "</td><td>");
		put_time(p, h->until);
		RAW(p, "</td><td>");
		if (active && can) {
			RAW(p, "<form method=\"post\" action=\"/holds/release\">");
			csrf_field(p, r);
			RAW(p, "<input type=\"hidden\" name=\"case\" value=\"");
			ESC(p, h->case_id);
			RAW(p, "\"><button>");
			ESC(p, T(r, S_RELEASE));
			RAW(p, "</button></form>");
		}
		RAW(p, "</td></tr>");
	}
	RAW(p, "</table>");
	cl_retention_lifecycle_release(&lc);
	if (can)
		hold_form(c, r, p);
	page_end(p);
}

static void do_hold_add(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *case_id = cl_con_arg(r, "case"), *reason = cl_con_arg(r, "reason");
	const char *party = cl_con_arg(r, "party"), *conv = cl_con_arg(r, "conversation");
	const char *parts[1], *convs[1];
	size_t np = 0, nc = 0;
	int64_t until = CL_TIME_NONE;
	struct cl_cover cov;
	uint64_t idx = 0;
	char *err = NULL, msg[300];
	json_t *extra;
	int rc;

	if (!allowed(c, r, p, CL_ACT_CHANGE))
		return;
	if (case_id == NULL || *case_id == 0 || strlen(case_id) > 128 || reason == NULL ||
	    *reason == 0) {
		page_holds(c, r, p, "case id and reason are required", 0);
		return;
	}
	if (party && *party)
		parts[np++] = party;
	if (conv && *conv)
		convs[nc++] = conv;
	if (parse_when(cl_con_arg(r, "until"), 1, &until) != 0) {
		page_holds(c, r, p, "until: YYYY-MM-DD", 0);
		return;
	}
	memset(&cov, 0, sizeof(cov));
	if ((rc = cl_retention_check_range(CL_TIME_NONE, CL_TIME_NONE, until, r->now, &err)))
		goto fail;
	if (np + nc > 0) {
		if ((rc = cl_retention_cover(c->l, parts, np, convs, nc, &cov, &err)))
			goto fail;
		if (cov.records == 0 && cl_con_arg(r, "allow_empty") == NULL) {
			page_holds(c, r, p, "the selectors cover no record now; check the spelling,"
				   " or tick the box to hold a party not seen yet", 0);
			return;
		}
	}
	if ((rc = cl_retention_hold_add(c->l, case_id, reason, parts, np, convs, nc,
					CL_TIME_NONE, CL_TIME_NONE, until, &idx, &err)))
		goto fail;
	extra = json_pack("{s:I}", "entry", (json_int_t)idx);
	rc = record_access(c, r, "hold-add", NULL, 0, extra, NULL, &err);
	json_decref(extra);
	if (rc)
		goto fail;
	(void)cl_fmt(msg, sizeof(msg), "hold placed (entry %" PRIu64 "): covers %" PRIu64
		     " records in %" PRIu64 " conversations now%s", idx, cov.records,
		     cov.conversations, (np + nc) ? "" : " (every record)");
	page_holds(c, r, p, msg, 1);
	return;
fail:
	page_holds(c, r, p, err ? err : cl_strerror(rc), 0);
	free(err);
}

static void do_hold_release(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *case_id = cl_con_arg(r, "case");
	uint64_t idx = 0;
	char *err = NULL, msg[200];
	json_t *extra;

	if (!allowed(c, r, p, CL_ACT_CHANGE))
		return;
	if (case_id == NULL || cl_retention_hold_release(c->l, case_id, &idx, &err) != CL_OK) {
		page_holds(c, r, p, err ? err : "no such hold", 0);
		free(err);
		return;
	}
	extra = json_pack("{s:I}", "entry", (json_int_t)idx);
	(void)record_access(c, r, "hold-release", NULL, 0, extra, NULL, &err);
	json_decref(extra);
	free(err);
	(void)cl_fmt(msg, sizeof(msg), "hold released (entry %" PRIu64 ")", idx);
	page_holds(c, r, p, msg, 1);
}

/* ---- export, DSAR, downloads ----------------------------------------------------- */

static int file_name_ok(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > 120 || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

static void list_files(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	DIR *d = opendir(c->exports);
	const struct dirent *e;

	RAW(p, "<h2>");
	ESC(p, T(r, S_FILES));
	RAW(p, "</h2><ul id=\"files\">");
	while (d && (e = readdir(d)) != NULL) {
		if (!file_name_ok(e->d_name) || strstr(e->d_name, ".tmp"))
			continue;
		RAW(p, "<li><a href=\"/download?f=");
		(void)cl_html_url(&p->b, e->d_name);
		RAW(p, "\">");
		ESC(p, e->d_name);
		RAW(p, "</a></li>");
	}
	if (d)
		closedir(d);
	RAW(p, "</ul>");
}

static void page_export(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p,
			const char *msg, int ok, const char *file)
{
	if (!allowed(c, r, p, CL_ACT_CONTENT))
		return;
	page_begin(r, p, S_EXPORT);
	if (msg) {
		fmt(p, "<p class=\"%s\" id=\"result\">", ok ? "ok" : "error");
		ESC(p, msg);
		if (file) {
			RAW(p, " <a id=\"download\" href=\"/download?f=");
			(void)cl_html_url(&p->b, file);
			RAW(p, "\">");
			ESC(p, T(r, S_DOWNLOAD));
			RAW(p, "</a>");
		}
		RAW(p, "</p>");
	}
	RAW(p, "<form class=\"box\" method=\"post\" action=\"/export\"><h2>");
	ESC(p, T(r, S_START_EXPORT));
	RAW(p, "</h2>");
	csrf_field(p, r);
	input(p, r, S_CASE, "case", 1);
	input(p, r, S_PARTY, "party", 0);
	input(p, r, S_CONV, "conversation", 0);
	input(p, r, S_FROM, "from", 0);
	input(p, r, S_TO, "to", 0);
	input(p, r, S_REASON, "reason", c->o.cfg.require_reason);
	RAW(p, "<button id=\"export\">");
	ESC(p, T(r, S_START_EXPORT));
	RAW(p, "</button></form><form class=\"box\" method=\"post\" action=\"/dsar\"><h2>");
	ESC(p, T(r, S_START_DSAR));
	RAW(p, "</h2>");
	csrf_field(p, r);
	input(p, r, S_PARTY, "party", 1);
	input(p, r, S_RECEIVED, "received", 1);
	input(p, r, S_REASON, "reason", c->o.cfg.require_reason);
	RAW(p, "<button id=\"dsar\">");
	ESC(p, T(r, S_START_DSAR));
	RAW(p, "</button></form>");
	list_files(c, r, p);
	page_end(p);
}

static int ensure_exports(struct cl_console *c)
{
	return mkdir(c->exports, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

static void do_export(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *case_id = cl_con_arg(r, "case"), *party = cl_con_arg(r, "party");
	const char *conv = cl_con_arg(r, "conversation");
	struct cl_bundle_opts o;
	struct cl_bundle_result res;
	struct cl_select_query q;
	char *err = NULL, *out = NULL, name[160], msg[300], qt[600];
	int rc;

	if (!allowed(c, r, p, CL_ACT_CONTENT))
		return;
	if (!reason_ok(c, r)) {
		page_export(c, r, p, T(r, S_NEEDREASON), 0, NULL);
		return;
	}
	if (case_id == NULL || !file_name_ok(case_id) || strlen(case_id) > 64) {
		page_export(c, r, p, "case id: 1-64 of A-Z a-z 0-9 . _ -", 0, NULL);
		return;
	}
	cl_select_query_init(&q);
	if (party && *party) {
		q.parties = &party;
		q.n_parties = 1;
	}
	if (conv && *conv) {
		q.conversations = &conv;
		q.n_conversations = 1;
	}
	if (parse_when(cl_con_arg(r, "from"), 0, &q.from) ||
	    parse_when(cl_con_arg(r, "to"), 1, &q.to)) {
		page_export(c, r, p, "dates: YYYY-MM-DD", 0, NULL);
		return;
	}
	(void)cl_fmt(name, sizeof(name), "%s-%lld.zip", case_id, (long long)r->now);
	(void)cl_fmt(qt, sizeof(qt), "console: party=%.200s conversation=%.200s",
		     party ? party : "", conv ? conv : "");
	if (ensure_exports(c) != 0 || (out = cl_strdupf("%s/%s", c->exports, name)) == NULL) {
		page_export(c, r, p, "cannot create the exports directory", 0, NULL);
		free(out);
		return;
	}
	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	o.case_id = case_id;
	o.out_path = out;
	o.format = CL_BAG_ZIP;
	o.q = &q;
	o.query_text = qt;
	o.slice_ms = DAY_MS;
	o.tz_offset_s = 8 * 3600;
	o.tz_name = "Asia/Hong_Kong";
	o.who = r->s->off->name;
	o.reason = cl_con_arg(r, "reason");
	o.bates_prefix = "CL";
	o.now_ms = r->now;
	rc = cl_bundle_export(c->l, r->s->off->seal_sk, &o, &res, &err);
	free(out);
	if (rc) {
		page_export(c, r, p, err ? err : cl_strerror(rc), 0, NULL);
		free(err);
		return;
	}
	(void)cl_fmt(msg, sizeof(msg), "%" PRIu64 " records, %" PRIu64 " attachments, %" PRIu64
		     " conversations. %s %" PRIu64 ".", res.records, res.attachments,
		     res.conversations, T(r, S_CUSTODY), res.access_index);
	page_export(c, r, p, msg, 1, name);
}

static void do_dsar(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *party = cl_con_arg(r, "party");
	const char *why = cl_con_arg(r, "reason");
	struct cl_dsar_write_opts w;
	struct cl_bundle_result res;
	int64_t received = 0, deadline = 0;
	uint64_t id = 0;
	char *err = NULL, *out = NULL, name[64], msg[300];
	json_t *addr = NULL;
	int rc;

	if (!allowed(c, r, p, CL_ACT_CONTENT))
		return;
	if (!reason_ok(c, r)) {
		page_export(c, r, p, T(r, S_NEEDREASON), 0, NULL);
		return;
	}
	if (party == NULL || *party == 0 || parse_when(cl_con_arg(r, "received"), 0, &received) ||
	    received == CL_TIME_NONE) {
		page_export(c, r, p, "party and received date (YYYY-MM-DD) are required", 0, NULL);
		return;
	}
	if (ensure_exports(c) != 0) {
		page_export(c, r, p, "cannot create the exports directory", 0, NULL);
		return;
	}
	if ((rc = cl_dsar_request(c->l, party, received, r->s->off->name, &id, &deadline, &err)))
		goto fail;
	(void)cl_fmt(name, sizeof(name), "dsar-%" PRIu64 ".zip", id);
	if ((out = cl_strdupf("%s/%s", c->exports, name)) == NULL ||
	    (addr = json_pack("{s:s}", "address", r->addr)) == NULL) {
		rc = CL_ENOMEM;
		goto fail;
	}
	/* The export bag (docs/BUNDLE.md); the bundle writer records the
	 * access entry (command "dsar", the request, the reason and the
	 * address sealed) before it reveals anything. */
	memset(&w, 0, sizeof(w));
	w.id = id;
	w.party = party;
	w.received = received;
	w.out = out;
	w.who = r->s->off->name;
	w.reason = why && *why ? why : NULL;
	w.access_sealed = addr;
	w.now_ms = cl_time_now_ms();
	if ((rc = cl_dsar_write(c->l, r->s->off->seal_sk, &w, &res, &err)))
		goto fail;
	(void)cl_fmt(msg, sizeof(msg), "request %" PRIu64 ": %" PRIu64 " records; reply due by ",
		     id, res.records);
	{
		char t[32];

		cl_time_format(deadline, t);
		(void)cl_fmt(msg + strlen(msg), sizeof(msg) - strlen(msg), "%s. %s %" PRIu64
			     ". %" PRIu64 " redacted (content withheld).", t, T(r, S_CUSTODY),
			     res.access_index, res.redacted);
	}
	page_export(c, r, p, msg, 1, name);
	goto out;
fail:
	page_export(c, r, p, err ? err : cl_strerror(rc), 0, NULL);
out:
	json_decref(addr);
	free(out);
	free(err);
}

static void do_download(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *f = cl_con_arg(r, "f");
	char *path = NULL, *err = NULL;
	struct stat st;
	json_t *extra;
	int fd = -1;

	if (!allowed(c, r, p, CL_ACT_CONTENT))
		return;
	if (!file_name_ok(f) || (path = cl_strdupf("%s/%s", c->exports, f)) == NULL ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		free(path);
		cl_con_error(c, r, p, 404, "no such file");
		return;
	}
	free(path);
	extra = json_pack("{s:s}", "file", f);
	if (record_access(c, r, "console-download", NULL, 0, extra, NULL, &err) != CL_OK) {
		json_decref(extra);
		close(fd);
		cl_con_error(c, r, p, 500, err ? err : "cannot record the download");
		free(err);
		return;
	}
	json_decref(extra);
	p->fd = fd;
	p->fd_size = st.st_size;
	p->ctype = strstr(f, ".zip") ? "application/zip" : "application/octet-stream";
	(void)cl_fmt(p->disposition, sizeof(p->disposition), "attachment; filename=\"%s\"", f);
}

/* ---- access log and devices ---------------------------------------------------------- */

struct acc_ctx {
	json_t *rows;
	const char *officer;
};

static int on_access_entry(void *ctx, uint64_t index, const struct cl_leaf *lf,
			   const json_t *body, const json_t *sealed)
{
	struct acc_ctx *a = ctx;
	json_t *row;

	(void)sealed;
	if (a->officer && *a->officer &&
	    (jstr(body, "who") == NULL || strcmp(jstr(body, "who"), a->officer) != 0))
		return CL_OK;
	row = json_pack("{s:I, s:I, s:O}", "index", (json_int_t)index, "at",
			(json_int_t)lf->logged_at, "body", body);
	if (row)
		json_array_append_new(a->rows, row);
	return CL_OK;
}

static void page_access(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	struct acc_ctx a;
	char *err = NULL;
	size_t i, n;

	page_begin(r, p, S_ACCESS);
	RAW(p, "<form class=\"box\" method=\"get\" action=\"/access\">");
	input(p, r, S_WHO, "officer", 0);
	RAW(p, "<button>");
	ESC(p, T(r, S_FIND));
	RAW(p, "</button></form>");
	a.rows = json_array();
	a.officer = cl_con_arg(r, "officer");
	read_failed(p, "the access log",
		    cl_access_each(c->l, NULL, on_access_entry, &a, &err), &err);
	RAW(p, "<table id=\"access\"><tr><th>#</th><th>");
	ESC(p, T(r, S_TIME));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_WHO));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_COMMAND));
	RAW(p, "</th><th>");
	ESC(p, T(r, S_RECORDS));
	RAW(p, "</th><th></th></tr>");
	n = json_array_size(a.rows);
	for (i = n; i > 0 && n - i < 1000; i--) {
		const json_t *row = json_array_get(a.rows, i - 1), *b = json_object_get(row, "body");

		fmt(p, "<tr><td>%" JSON_INTEGER_FORMAT "</td><td>",
		    json_integer_value(json_object_get(row, "index")));
		put_time(p, json_integer_value(json_object_get(row, "at")));
		RAW(p, "</td><td>");
		ESC(p, jstr(b, "who"));
		RAW(p, "</td><td>");
		ESC(p, jstr(b, "command"));
		fmt(p, "</td><td>%" JSON_INTEGER_FORMAT "</td><td>",
		    json_integer_value(json_object_get(b, "records")));
		ESC(p, jstr(b, "result"));
		if (json_is_integer(json_object_get(b, "entry")))
			fmt(p, "entry %" JSON_INTEGER_FORMAT,
			    json_integer_value(json_object_get(b, "entry")));
		ESC(p, jstr(b, "file"));
		RAW(p, "</td></tr>");
	}
	RAW(p, "</table>");
	json_decref(a.rows);
	page_end(p);
}

static void page_devices(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	struct cl_wa_status wa;
	char *err = NULL;

	page_begin(r, p, S_DEVICES);
	cl_wa_status_init(&wa);
	if (cl_wa_status_read(c->o.dir, &wa, &err) == CL_OK && wa.jid) {
		RAW(p, "<table><tr><th>JID</th><th>");
		ESC(p, T(r, S_STATE));
		RAW(p, "</th><th>paired</th><th>last message</th></tr><tr><td>");
		ESC(p, wa.jid);
		RAW(p, "</td><td>");
		ESC(p, wa.state);
		RAW(p, "</td><td>");
		put_time(p, wa.paired_at);
		RAW(p, "</td><td>");
		put_time(p, wa.last_stanza_at);
		RAW(p, "</td></tr></table><p class=\"meta\">The business number's other linked"
		    " devices are not reported to a linked device; each agent device appears"
		    " as sender.device on its messages.</p>");
	} else {
		RAW(p, "<p>");
		ESC(p, T(r, S_NOTKNOWN));
		RAW(p, ": no WhatsApp linked device is paired with this archive.</p>");
	}
	free(err);
	cl_wa_status_release(&wa);
	page_end(p);
}

/* ---- routing ------------------------------------------------------------------------- */

void cl_con_route(struct cl_console *c, struct cl_con_req *r, struct cl_con_page *p)
{
	const char *path = r->path;

	if (strcmp(path, "/style.css") == 0 && r->is_get) {
		(void)cl_buf_add(&p->b, style_css, sizeof(style_css) - 1);
		p->ctype = "text/css; charset=utf-8";
		return;
	}
	if (strcmp(path, "/login") == 0) {
		if (r->is_post)
			do_login(c, r, p);
		else if (r->s)
			redirect(p, "/");
		else
			login_form(r, p, NULL, login_lang(r, c));
		return;
	}
	r->lang = r->s ? r->s->lang : c->o.lang;
	if (r->s == NULL) {
		/* no session, or it expired: nothing but the sign-in page */
		if (r->is_post) {
			p->status = 403;
			login_form(r, p, T(r, S_EXPIRED), c->o.lang);
		} else {
			redirect(p, "/login");
		}
		return;
	}
	if (r->is_post && !cl_con_csrf_ok(r->s, cl_con_arg(r, "csrf"))) {
		cl_con_error(c, r, p, 403, "the form's token does not match this session;"
			     " reload the page");
		return;
	}
	if (r->is_post) {
		if (strcmp(path, "/logout") == 0) {
			cl_con_session_end(r->s);
			r->s = NULL;
			p->cookie = 2;
			redirect(p, "/login");
		} else if (strcmp(path, "/lang") == 0) {
			const char *to = cl_con_arg(r, "to");

			r->s->lang = to && strcmp(to, "zh") == 0;
			r->lang = r->s->lang;
			redirect(p, "/");
		} else if (strcmp(path, "/holds/add") == 0) {
			do_hold_add(c, r, p);
		} else if (strcmp(path, "/holds/release") == 0) {
			do_hold_release(c, r, p);
		} else if (strcmp(path, "/export") == 0) {
			do_export(c, r, p);
		} else if (strcmp(path, "/dsar") == 0) {
			do_dsar(c, r, p);
		} else {
			cl_con_error(c, r, p, 404, "no such page");
		}
		return;
	}
	if (strcmp(path, "/") == 0)
		page_overview(c, r, p);
	else if (strcmp(path, "/search") == 0)
		page_search(c, r, p);
	else if (strcmp(path, "/conversation") == 0)
		page_conversation(c, r, p);
	else if (strcmp(path, "/holds") == 0)
		page_holds(c, r, p, NULL, 0);
	else if (strcmp(path, "/export") == 0)
		page_export(c, r, p, NULL, 0, NULL);
	else if (strcmp(path, "/download") == 0)
		do_download(c, r, p);
	else if (strcmp(path, "/access") == 0)
		page_access(c, r, p);
	else if (strcmp(path, "/devices") == 0)
		page_devices(c, r, p);
	else
		cl_con_error(c, r, p, 404, "no such page");
}
