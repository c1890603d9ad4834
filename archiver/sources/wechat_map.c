/*
 * wechat_map.c - WeChat and WeCom items to normalised records
 * (wechat_map.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ingest/import_util.h"
#include "archiver/sources/wechat_map.h"
#include "archiver/sources/wechat_xml.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_S 253402300799LL     /* 9999-12-31T23:59:59Z */
#define ID_MAX 400u              /* bytes of a Tencent id we accept */

static const char *const reserved_kinds[] = {
	"revoke", "system", "consent", "status", "edit", "reaction",
	"attachment", "quarantine", "tombstone", "identity-link", "contact-event",
	"group-event", "kf-notify", "kf-event", NULL
};

int cl_wx_media_id_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];

		if (i >= CL_WX_MEDIA_ID_MAX ||
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '@' ||
		      c == '.' || c == '='))
			return 0;
	}
	return i > 0;
}

/* Decimal seconds in 0..MAX_S, else -1. */
static int64_t seconds_of(const char *s)
{
	char *end = NULL;
	long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > MAX_S)
		return -1;
	return (int64_t)v;
}

/* Seconds from a JSON integer (or decimal string), else -1. */
static int64_t seconds_json(json_t *v)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		return x < 0 || x > MAX_S ? -1 : (int64_t)x;
	}
	return seconds_of(json_string_value(v));
}

/* A non-empty id without control characters, at most ID_MAX bytes. */
static int id_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == 0)
		return 0;
	for (i = 0; s[i]; i++)
		if (i >= ID_MAX || (unsigned char)s[i] < 0x20)
			return 0;
	return 1;
}

static void copy(char *dst, size_t cap, const char *s)
{
	(void)cl_fmt(dst, cap, "%s", s ? s : "");
}

/* 16 hex digits of SHA-256 over `n` parts joined by NUL bytes. */
static void short_hash(const char *const *parts, size_t n, char out[17])
{
	struct cl_buf b;
	unsigned char h[CL_SHA256_BYTES];
	size_t i;

	cl_buf_init(&b, (size_t)64 << 20);
	for (i = 0; i < n; i++) {
		if (i)
			(void)cl_buf_add(&b, "", 1);
		(void)cl_buf_addstr(&b, parts[i] ? parts[i] : "");
	}
	cl_sha256(b.data ? b.data : (const unsigned char *)"", b.len, h);
	cl_buf_release(&b);
	sodium_bin2hex(out, 17, h, 8);
}

static int bad(const struct cl_import_sink *sink, uint64_t item, const void *p,
	       size_t n, const char *why)
{
	return sink->bad(sink->ctx, item, p, n, why);
}

/* identifiers: [ids...] (NULLs and duplicates skipped). */
static int set_identifiers(json_t *r, const char *a, const char *b)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return CL_ENOMEM;
	if (a && *a)
		json_array_append_new(arr, json_string(a));
	if (b && *b && (a == NULL || strcmp(a, b) != 0))
		json_array_append_new(arr, json_string(b));
	return cl_json_set_new(r, "identifiers", arr);
}

/*
 * WeCom's MemChangeList in either shape: the old CDATA "id1,id2" or the
 * nested <Item>s (one Item parses to a string, several to an array).
 * A new array of the member ids, or NULL if there is none.
 */
static json_t *members_of(json_t *tree)
{
	json_t *l = json_object_get(tree, "MemChangeList"), *a, *it;
	const char *s;
	size_t i;

	if (l == NULL || (a = json_array()) == NULL)
		return NULL;
	if ((s = json_string_value(l)) != NULL) {
		while (*s) {
			const char *p = strchr(s, ',');

			if (p == NULL)
				p = s + strlen(s);
			if (p > s)
				json_array_append_new(a, json_stringn(s, (size_t)(p - s)));
			s = *p ? p + 1 : p;
		}
	} else if ((it = json_object_get(l, "Item")) != NULL) {
		if (json_is_string(it))
			json_array_append(a, it);
		else
			for (i = 0; i < json_array_size(it); i++)
				if (json_is_string(json_array_get(it, i)))
					json_array_append(a, json_array_get(it, i));
	}
	return a;
}

/* The text a reader sees for a push, or NULL. */
static const char *push_text(json_t *t, const char *type, char *buf, size_t cap)
{
	if (strcmp(type, "text") == 0)
		return cl_wx_xml_str(t, "Content");
	if (strcmp(type, "voice") == 0)
		return cl_wx_xml_str(t, "Recognition");
	if (strcmp(type, "location") == 0)
		return cl_wx_xml_str(t, "Label");
	if (strcmp(type, "link") == 0) {
		(void)cl_fmt(buf, cap, "%s\n%s\n%s",
			     cl_wx_xml_str(t, "Title") ? cl_wx_xml_str(t, "Title") : "",
			     cl_wx_xml_str(t, "Description") ? cl_wx_xml_str(t, "Description") : "",
			     cl_wx_xml_str(t, "Url") ? cl_wx_xml_str(t, "Url") : "");
		return buf;
	}
	if (strcmp(type, "miniprogrampage") == 0)
		return cl_wx_xml_str(t, "Title");
	return NULL;
}

/* ---- pushes (routes A and C) ----------------------------------------- */

int cl_wx_map_push(const char *source, const char *account, const char *xml,
		   size_t len, json_t *tree, int64_t received_ms,
		   const struct cl_import_sink *sink, struct cl_wx_hint *hint)
{
	const char *from = cl_wx_xml_str(tree, "FromUserName");
	const char *type = cl_wx_xml_str(tree, "MsgType");
	const char *msgid = cl_wx_xml_str(tree, "MsgId");
	const char *event = cl_wx_xml_str(tree, "Event");
	const char *media = cl_wx_xml_str(tree, "MediaId");
	int64_t ct = seconds_of(cl_wx_xml_str(tree, "CreateTime"));
	int wecom = strcmp(source, "wecom-callback") == 0;
	char id[ID_MAX + 64], conv[ID_MAX + 32], sender[ID_MAX + 32], cust[ID_MAX + 32];
	char kind[CL_KIND_MAX + 1], when[32], h[17], buf[4096];
	const char *conv_type = "direct", *text;
	struct cl_import_head hd;
	json_t *r = NULL;
	int rc;

	if (hint) {
		memset(hint, 0, sizeof(*hint));
		hint->create_time = ct;
	}
	if (!id_ok(from))
		return bad(sink, 1, xml, len, "FromUserName missing or invalid");
	if (!id_ok(type))
		return bad(sink, 1, xml, len, "MsgType missing or invalid");
	if (ct < 0)
		return bad(sink, 1, xml, len, "CreateTime missing or not a number");
	if (msgid && !id_ok(msgid))
		return bad(sink, 1, xml, len, "MsgId invalid");
	{
		unsigned char d[CL_SHA256_BYTES];

		cl_sha256(xml, len, d);   /* `xml` need not be NUL-terminated */
		sodium_bin2hex(h, sizeof(h), d, 8);
	}
	if (msgid)
		(void)cl_fmt(id, sizeof(id), "msg:%s", msgid);
	else
		(void)cl_fmt(id, sizeof(id), "event:%lld:%.64s:%s", (long long)ct,
			     event ? event : "", h);
	cust[0] = 0;
	if (!wecom) {
		(void)cl_fmt(cust, sizeof(cust), "wechat-openid:%s", from);
		copy(conv, sizeof(conv), cust);
		copy(sender, sizeof(sender), cust);
		if (hint)
			copy(hint->openid, sizeof(hint->openid), from);
	} else {
		const char *euid = cl_wx_xml_str(tree, "ExternalUserID");
		const char *uid = cl_wx_xml_str(tree, "UserID");
		const char *chat = cl_wx_xml_str(tree, "ChatId");

		if (euid && id_ok(euid))
			(void)cl_fmt(cust, sizeof(cust), "wecom-external:%s", euid);
		if (chat && id_ok(chat)) {
			(void)cl_fmt(conv, sizeof(conv), "wecom-chat:%s", chat);
			conv_type = "group";
		} else if (cust[0]) {
			copy(conv, sizeof(conv), cust);
		} else if (event && strcmp(event, "kf_msg_or_event") == 0 &&
			   id_ok(cl_wx_xml_str(tree, "OpenKfId"))) {
			(void)cl_fmt(conv, sizeof(conv), "wechat-kf:%s",
				     cl_wx_xml_str(tree, "OpenKfId"));
		} else {
			(void)cl_fmt(conv, sizeof(conv), "wecom-user:%s", from);
		}
		if (uid && id_ok(uid))
			(void)cl_fmt(sender, sizeof(sender), "wecom-user:%s", uid);
		else if (strcmp(from, "sys") == 0)
			copy(sender, sizeof(sender), "wecom:sys");
		else
			(void)cl_fmt(sender, sizeof(sender), "wecom-user:%s", from);
	}
	if (strcmp(type, "event") == 0 && event) {
		if (wecom && strcmp(event, "change_external_contact") == 0)
			copy(kind, sizeof(kind), "contact-event");
		else if (wecom && strcmp(event, "change_external_chat") == 0)
			copy(kind, sizeof(kind), "group-event");
		else if (strcmp(event, "kf_msg_or_event") == 0)
			copy(kind, sizeof(kind), "kf-notify");
		else
			copy(kind, sizeof(kind), "event");
	} else {
		cl_import_kind(type, reserved_kinds, "wechat-", kind);
	}
	memset(&hd, 0, sizeof(hd));
	hd.source = source;
	hd.account = account;
	hd.id = id;
	hd.conv_id = conv;
	hd.conv_type = conv_type;
	hd.sender_id = sender;
	hd.direction = "in";
	hd.kind = kind;
	hd.sent_at = ct * 1000;
	r = cl_import_record_new(&hd);
	if (r == NULL)
		return CL_ENOMEM;
	cl_time_format(received_ms, when);
	rc = cl_json_set_str(r, "received_at", when);
	text = push_text(tree, type, buf, sizeof(buf));
	if (!rc && text && *text)
		rc = cl_json_set_str(r, "text", text);
	if (!rc)
		rc = cl_json_set_ref(r, "wechat", tree);
	if (!rc && cust[0])
		rc = set_identifiers(r, cust, NULL);
	if (!rc && wecom && json_object_get(tree, "MemChangeList"))
		rc = cl_json_set_new(r, "members", members_of(tree));
	if (!rc && media && cl_wx_media_id_ok(media)) {
		json_t *m = json_pack("{s:s, s:s}", "id", media, "type", type);

		rc = m ? cl_json_set_new(r, "media", m) : CL_ENOMEM;
		if (hint) {
			copy(hint->media_id, sizeof(hint->media_id), media);
			copy(hint->media_type, sizeof(hint->media_type), type);
		}
	}
	if (!rc && hint && event && strcmp(event, "kf_msg_or_event") == 0) {
		const char *kf = cl_wx_xml_str(tree, "OpenKfId");
		const char *tok = cl_wx_xml_str(tree, "Token");

		if (kf && cl_wx_media_id_ok(kf))
			copy(hint->kf_open_kfid, sizeof(hint->kf_open_kfid), kf);
		if (tok && cl_wx_media_id_ok(tok))
			copy(hint->kf_token, sizeof(hint->kf_token), tok);
	}
	if (!rc)
		rc = cl_import_emit(sink, 1, r, (const unsigned char *)xml, len, "exact");
	json_decref(r);
	return rc;
}

/* ---- getmsglist (route B) ---------------------------------------------- */

int cl_wx_map_msgrecord(const char *account, json_t *it, uint64_t item,
			const struct cl_import_sink *sink)
{
	const char *openid = cl_json_str(it, "openid", ID_MAX);
	const char *worker = cl_json_str(it, "worker", ID_MAX);
	const char *text = json_string_value(json_object_get(it, "text"));
	json_t *op = json_object_get(it, "opercode");
	int64_t t = seconds_json(json_object_get(it, "time"));
	long long code = json_is_integer(op) ? (long long)json_integer_value(op) : -1;
	char id[128], conv[ID_MAX + 32], sender[ID_MAX + 32], kind[CL_KIND_MAX + 1] = "text";
	char h[17], *dump = NULL;
	const char *parts[3], *placeholder = NULL;
	struct cl_import_head hd;
	json_t *r = NULL;
	int rc, out = code == 2002;

	dump = json_dumps(it, CL_IMPORT_DUMP_FLAGS);
	if (dump == NULL)
		return CL_ENOMEM;
	if (!json_is_object(it) || openid == NULL || !id_ok(openid)) {
		rc = bad(sink, item, dump, strlen(dump), "openid missing or invalid");
		goto done;
	}
	if (t < 0) {
		rc = bad(sink, item, dump, strlen(dump), "time missing or not a number");
		goto done;
	}
	if (code < 0) {
		rc = bad(sink, item, dump, strlen(dump), "opercode missing or not an integer");
		goto done;
	}
	if (worker && !id_ok(worker))
		worker = NULL;
	parts[0] = openid;
	parts[1] = worker ? worker : "";
	parts[2] = text ? text : "";
	short_hash(parts, 3, h);
	(void)cl_fmt(id, sizeof(id), "rec:%lld:%lld:%s", (long long)t, code, h);
	(void)cl_fmt(conv, sizeof(conv), "wechat-openid:%s", openid);
	if (out && worker)
		(void)cl_fmt(sender, sizeof(sender), "wechat-kf:%s", worker);
	else
		copy(sender, sizeof(sender), conv);
	if (text && (strcmp(text, "[image]") == 0 || strcmp(text, "[voice]") == 0 ||
		     strcmp(text, "[video]") == 0)) {
		(void)cl_fmt(kind, sizeof(kind), "%.*s", (int)(strlen(text) - 2), text + 1);
		placeholder = text;
	}
	memset(&hd, 0, sizeof(hd));
	hd.source = "wechat-kf-records";
	hd.account = account;
	hd.id = id;
	hd.conv_id = conv;
	hd.conv_type = "direct";
	hd.sender_id = sender;
	hd.direction = out ? "out" : "in";
	hd.kind = kind;
	hd.sent_at = t * 1000;
	r = cl_import_record_new(&hd);
	if (r == NULL) {
		rc = CL_ENOMEM;
		goto done;
	}
	rc = CL_OK;
	if (placeholder)
		rc = cl_json_set_str(r, "placeholder", placeholder);
	else if (text && *text)
		rc = cl_json_set_str(r, "text", text);
	if (!rc && worker)
		rc = cl_json_set_str(r, "agent", worker);
	if (!rc)
		rc = set_identifiers(r, conv, NULL);
	if (!rc)
		rc = cl_json_set_ref(r, "wechat_kf", it);
	if (!rc)
		rc = cl_import_emit(sink, item, r, (const unsigned char *)dump, strlen(dump),
				    "jansson");
done:
	json_decref(r);
	free(dump);
	return rc;
}

/* ---- kf/sync_msg (route C) ----------------------------------------------- */

/* The object of the item's msgtype (text, image, ...), or NULL. */
static json_t *typed(json_t *it, const char *type)
{
	json_t *o = json_object_get(it, type);

	return json_is_object(o) ? o : NULL;
}

int cl_wx_map_kfmsg(const char *account, json_t *it, uint64_t item,
		    const struct cl_import_sink *sink, struct cl_wx_hint *hint)
{
	const char *msgid = cl_json_str(it, "msgid", ID_MAX);
	const char *kfid = cl_json_str(it, "open_kfid", ID_MAX);
	const char *euid = cl_json_str(it, "external_userid", ID_MAX);
	const char *servicer = cl_json_str(it, "servicer_userid", ID_MAX);
	const char *type = cl_json_str(it, "msgtype", 64);
	json_t *o = json_object_get(it, "origin"), *body;
	int64_t t = seconds_json(json_object_get(it, "send_time"));
	long long origin = json_is_integer(o) ? (long long)json_integer_value(o) : 0;
	char id[ID_MAX + 8], conv[ID_MAX + 32], sender[ID_MAX + 32], cust[ID_MAX + 32];
	char kind[CL_KIND_MAX + 1], *dump = NULL;
	const char *text = NULL, *media = NULL;
	struct cl_import_head hd;
	json_t *r = NULL;
	int rc;

	if (hint)
		memset(hint, 0, sizeof(*hint));
	dump = json_dumps(it, CL_IMPORT_DUMP_FLAGS);
	if (dump == NULL)
		return CL_ENOMEM;
	if (!json_is_object(it) || msgid == NULL || !id_ok(msgid)) {
		rc = bad(sink, item, dump, strlen(dump), "msgid missing or invalid");
		goto done;
	}
	if (type == NULL || !id_ok(type)) {
		rc = bad(sink, item, dump, strlen(dump), "msgtype missing or invalid");
		goto done;
	}
	if (t < 0) {
		rc = bad(sink, item, dump, strlen(dump), "send_time missing or not a number");
		goto done;
	}
	body = typed(it, type);
	if (euid == NULL && body)   /* events carry it inside */
		euid = cl_json_str(body, "external_userid", ID_MAX);
	if (euid && !id_ok(euid))
		euid = NULL;
	if (kfid && !id_ok(kfid))
		kfid = NULL;
	if (servicer && !id_ok(servicer))
		servicer = NULL;
	cust[0] = 0;
	if (euid)
		(void)cl_fmt(cust, sizeof(cust), "wecom-external:%s", euid);
	if (cust[0])
		copy(conv, sizeof(conv), cust);
	else if (kfid)
		(void)cl_fmt(conv, sizeof(conv), "wechat-kf:%s", kfid);
	else {
		rc = bad(sink, item, dump, strlen(dump),
			 "neither external_userid nor open_kfid");
		goto done;
	}
	if (origin == 5 && servicer)
		(void)cl_fmt(sender, sizeof(sender), "wecom-user:%s", servicer);
	else if (origin == 4 || !cust[0])
		(void)cl_fmt(sender, sizeof(sender), "wechat-kf:%s", kfid ? kfid : "unknown");
	else
		copy(sender, sizeof(sender), cust);
	if (origin == 4 || strcmp(type, "event") == 0)
		copy(kind, sizeof(kind), "kf-event");
	else
		cl_import_kind(type, reserved_kinds, "wecom-", kind);
	if (body) {
		if (strcmp(type, "text") == 0)
			text = json_string_value(json_object_get(body, "content"));
		else if (strcmp(type, "link") == 0)
			text = json_string_value(json_object_get(body, "title"));
		else if (strcmp(type, "location") == 0)
			text = json_string_value(json_object_get(body, "name"));
		media = json_string_value(json_object_get(body, "media_id"));
	}
	(void)cl_fmt(id, sizeof(id), "%s", msgid);
	memset(&hd, 0, sizeof(hd));
	hd.source = "wecom-kf";
	hd.account = account;
	hd.id = id;
	hd.conv_id = conv;
	hd.conv_type = "direct";
	hd.sender_id = sender;
	hd.direction = origin == 5 ? "out" : "in";
	hd.kind = kind;
	hd.sent_at = t * 1000;
	r = cl_import_record_new(&hd);
	if (r == NULL) {
		rc = CL_ENOMEM;
		goto done;
	}
	rc = CL_OK;
	if (text && *text)
		rc = cl_json_set_str(r, "text", text);
	if (!rc && origin == 5 && servicer)
		rc = cl_json_set_str(r, "agent", servicer);
	if (!rc && kfid)
		rc = cl_json_set_str(r, "open_kfid", kfid);
	if (!rc && cust[0])
		rc = set_identifiers(r, cust, NULL);
	if (!rc && media && cl_wx_media_id_ok(media)) {
		json_t *m = json_pack("{s:s, s:s}", "id", media, "type", type);

		rc = m ? cl_json_set_new(r, "media", m) : CL_ENOMEM;
		if (hint) {
			copy(hint->media_id, sizeof(hint->media_id), media);
			copy(hint->media_type, sizeof(hint->media_type), type);
		}
	}
	if (!rc)
		rc = cl_json_set_ref(r, "wecom_kf", it);
	if (!rc)
		rc = cl_import_emit(sink, item, r, (const unsigned char *)dump, strlen(dump),
				    "jansson");
done:
	json_decref(r);
	free(dump);
	return rc;
}

/* ---- identity links -------------------------------------------------- */

int cl_wx_map_identity(const char *source, const char *account,
		       const char *conv_id, const char *ident,
		       const char *unionid, const char *api, json_t *response,
		       int64_t at_ms, const struct cl_import_sink *sink)
{
	char id[ID_MAX + 64], u[ID_MAX + 32], when[32];
	struct cl_import_head hd;
	json_t *r, *link;
	int rc;

	if (!id_ok(ident) || !id_ok(unionid) || !id_ok(conv_id))
		return CL_EINVAL;
	(void)cl_fmt(u, sizeof(u), "wechat-unionid:%s", unionid);
	(void)cl_fmt(id, sizeof(id), "identity:%s:%s", ident, u);
	memset(&hd, 0, sizeof(hd));
	hd.source = source;
	hd.account = account;
	hd.id = id;
	hd.conv_id = conv_id;
	hd.conv_type = "direct";
	hd.sender_id = ident;
	hd.direction = "in";
	hd.kind = "identity-link";
	hd.sent_at = at_ms;
	r = cl_import_record_new(&hd);
	if (r == NULL)
		return CL_ENOMEM;
	cl_time_format(at_ms, when);
	link = json_pack("{s:s, s:s, s:O}", "api", api, "at", when, "response",
			 response ? response : json_null());
	rc = link ? cl_json_set_new(r, "identity_link", link) : CL_ENOMEM;
	if (!rc)
		rc = set_identifiers(r, ident, u);
	if (!rc)
		rc = cl_import_emit(sink, 1, r, NULL, 0, "omitted");
	json_decref(r);
	return rc;
}
