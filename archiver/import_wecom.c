/*
 * import_wecom.c - decrypted WeCom session-archive messages to normalised
 * records (import_wecom.h).
 *
 * Pure: parses with jansson, builds every record as a jansson object and
 * hands its compact, key-sorted serialisation to the sink.  Decryption
 * (RSA + the Finance SDK) happens before this file is involved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/import_wecom.h"
#include "archiver/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SOURCE "wecom"
#define MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)
#define ENCRYPTED_REASON "encrypted item: decrypt with the WeCom Finance SDK first"

struct wc_ctx {
	const struct cl_import_opts *o;
	const struct cl_import_sink *sink;
};

/* One item's bytes and where they came from. */
struct wc_raw {
	const unsigned char *p;
	size_t len;
	int exact;              /* the bytes as read, not re-serialised */
};

/* ---- small helpers --------------------------------------------------- */

/* Member `k` of `o` if it is a string of 1..max bytes, else NULL. */
static const char *str_in(json_t *o, const char *k, size_t max)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

/* Member `k` of `o` if it is a string (possibly empty), else NULL. */
static json_t *str_any(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? v : NULL;
}

/* Milliseconds since the epoch as a JSON integer in range, or -1. */
static int64_t ms_of(json_t *v)
{
	json_int_t x;

	if (!json_is_integer(v))
		return -1;
	x = json_integer_value(v);
	return x < 0 || x > MAX_MS ? -1 : (int64_t)x;
}

static int set_new(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v) ? CL_ENOMEM : CL_OK;
}

static int set_str(json_t *o, const char *k, const char *s)
{
	return set_new(o, k, json_string(s));
}

static int set_ref(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return CL_OK;
	return json_object_set(o, k, v) ? CL_ENOMEM : CL_OK;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Trim JSON whitespace from both ends of [*p, *p + *n). */
static void trim(const char **p, size_t *n)
{
	while (*n > 0 && is_space(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*p)[*n - 1]))
		(*n)--;
}

/*
 * The record kind for a msgtype: itself when it is a valid kind that
 * chatledger does not use for something else, else "wecom-" + sanitised.
 */
static void kind_for(const char *type, char out[CL_KIND_MAX + 1])
{
	static const char *const reserved[] = {
		"revoke", "system", "consent", "status", "edit", "reaction",
		"attachment", "quarantine", "tombstone", NULL
	};
	size_t i, n;

	if (strlen(type) <= CL_KIND_MAX && cl_kind_valid(type)) {
		for (i = 0; reserved[i]; i++)
			if (strcmp(type, reserved[i]) == 0)
				break;
		if (reserved[i] == NULL) {
			memcpy(out, type, strlen(type) + 1);
			return;
		}
	}
	memcpy(out, "wecom-", 7);
	n = 6;
	for (i = 0; type[i] && n < CL_KIND_MAX; i++) {
		char c = type[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			c = '_';
		out[n++] = c;
	}
	out[n] = '\0';
}

/* "external", "robot" or "internal" for a WeCom user id. */
static const char *id_type(const char *id)
{
	size_t i, n = strlen(id);

	if (n < 16 || id[0] != 'w' || (id[1] != 'm' && id[1] != 'o' && id[1] != 'b'))
		return "internal";
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return "internal";
	}
	return id[1] == 'b' ? "robot" : "external";
}

/* a + sep + b into out[cap]; returns -1 (out untouched) if too long. */
static int join(char *out, size_t cap, const char *a, const char *sep,
		const char *b)
{
	size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);

	if (na + ns + nb >= cap)
		return -1;
	memcpy(out, a, na);
	memcpy(out + na, sep, ns);
	memcpy(out + na + ns, b, nb + 1);
	return 0;
}

/* The object holding a msgtype's content. */
static json_t *content_of(json_t *m, const char *msgtype)
{
	static const struct { const char *type, *key; } alias[] = {
		{ "markdown", "info" }, { "news", "info" },
		{ "docmsg", "doc" }, { "external_redpacket", "redpacket" },
	};
	json_t *c = json_object_get(m, msgtype);
	size_t i;

	if (c)
		return c;
	for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcmp(msgtype, alias[i].type) == 0)
			return json_object_get(m, alias[i].key);
	return NULL;
}

/*
 * The text of a mixed message: its "text" parts joined by "\n" (each
 * part's content is a JSON string or object holding "content").  Returns
 * CL_OK with *out (NULL if none), CL_ENOMEM, or CL_EINVAL if over 1 MiB.
 */
static int mixed_text(json_t *c, json_t **out)
{
	json_t *items = json_object_get(c, "item");
	struct cl_buf b;
	size_t i, parts = 0, n = json_array_size(items);
	int rc = CL_OK;

	*out = NULL;
	cl_buf_init(&b, CL_RECORD_MAX_TEXT);
	for (i = 0; i < n && rc == CL_OK; i++) {
		json_t *part = json_array_get(items, i);
		const char *type = str_in(part, "type", 64);
		json_t *pc = json_object_get(part, "content"), *inner, *t;

		if (type == NULL || strcmp(type, "text") != 0)
			continue;
		inner = json_is_string(pc) ?
			json_loadb(json_string_value(pc), json_string_length(pc), 0, NULL) :
			json_incref(pc);
		t = str_any(inner, "content");
		if (t) {
			rc = parts++ ? cl_buf_add(&b, "\n", 1) : CL_OK;
			if (rc == CL_OK)
				rc = cl_buf_add(&b, json_string_value(t),
						json_string_length(t));
		}
		json_decref(inner);
	}
	if (rc == CL_OK && parts &&
	    (*out = json_stringn(b.data ? (const char *)b.data : "", b.len)) == NULL)
		rc = CL_ENOMEM;
	cl_buf_release(&b);
	return rc;
}

/* attachments[1] for a media msgtype's content `c`. */
static int add_attachment(json_t *r, const char *msgtype, json_t *c)
{
	static const char *const size_keys[] = { "filesize", "voice_size", "imagesize", NULL };
	json_t *att, *arr, *v;
	const char *s;
	size_t i;
	int rc = CL_OK;

	if (!json_is_object(c) ||
	    (strcmp(msgtype, "image") && strcmp(msgtype, "voice") &&
	     strcmp(msgtype, "video") && strcmp(msgtype, "file") &&
	     strcmp(msgtype, "emotion")))
		return CL_OK;
	att = json_object();
	arr = json_array();
	if (att == NULL || arr == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((s = str_in(c, "filename", CL_RECORD_MAX_ID)))
		rc = set_str(att, "name", s);
	for (i = 0; size_keys[i] && !rc; i++) {
		v = json_object_get(c, size_keys[i]);
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			rc = set_ref(att, "size", v);
			break;
		}
	}
	if (!rc)
		rc = set_ref(att, "md5sum", str_any(c, "md5sum"));
	if (!rc)
		rc = set_ref(att, "sdkfileid", str_any(c, "sdkfileid"));
	if (!rc)
		rc = json_array_append(arr, att) ? CL_ENOMEM : CL_OK;
	if (!rc)
		rc = set_ref(r, "attachments", arr);
out:
	json_decref(att);
	json_decref(arr);
	return rc;
}

/* ---- mapping ------------------------------------------------------------ */

/* A new record with the shared members; conv_type may be NULL. */
static json_t *skeleton(const struct wc_ctx *w, const char *id,
			const char *conv_id, const char *conv_type,
			const char *sender_id, const char *kind, int64_t ms)
{
	json_t *r = json_object(), *conv = json_object(), *snd = json_object();
	const char *st = id_type(sender_id);
	char when[32];
	int rc;

	cl_time_format(ms, when);
	if (r == NULL || conv == NULL || snd == NULL)
		goto fail;
	rc = set_str(conv, "id", conv_id);
	if (!rc && conv_type)
		rc = set_str(conv, "type", conv_type);
	if (!rc)
		rc = set_str(snd, "id", sender_id);
	if (!rc)
		rc = set_str(snd, "type", st);
	if (!rc)
		rc = set_new(r, "conversation", conv);
	conv = NULL;
	if (!rc)
		rc = set_new(r, "sender", snd);
	snd = NULL;
	if (rc || set_str(r, "account", w->o->account) || set_str(r, "id", id) ||
	    set_str(r, "direction", strcmp(st, "internal") ? "in" : "out") ||
	    set_str(r, "kind", kind) || set_str(r, "sent_at", when) ||
	    set_str(r, "source", SOURCE))
		goto fail;
	return r;
fail:
	json_decref(conv);
	json_decref(snd);
	json_decref(r);
	return NULL;
}

/* The "wecom" member: action, msgtype, roomid, tolist and chatdata facts. */
static int add_env(json_t *r, json_t *m, json_t *chat)
{
	static const char *const from_msg[] = { "action", "msgtype", "roomid", "tolist", NULL };
	static const char *const from_chat[] = { "seq", "publickey_ver", NULL };
	json_t *e = json_object();
	size_t i;
	int rc = e ? CL_OK : CL_ENOMEM;

	for (i = 0; from_msg[i] && !rc; i++)
		rc = set_ref(e, from_msg[i], json_object_get(m, from_msg[i]));
	for (i = 0; from_chat[i] && !rc; i++)
		rc = set_ref(e, from_chat[i], json_object_get(chat, from_chat[i]));
	if (rc) {
		json_decref(e);
		return rc;
	}
	return set_new(r, "wecom", e);
}

static int map_switch(const struct wc_ctx *w, json_t *m, const char *msgid,
		      json_t *chat, json_t **out, const char **why)
{
	const char *user = str_in(m, "user", CL_RECORD_MAX_ID);
	int64_t ms = ms_of(json_object_get(m, "time"));
	json_t *r;

	if (user == NULL) {
		*why = "switch record has no valid 'user'";
		return CL_OK;
	}
	if (ms < 0) {
		*why = "switch record has no valid 'time' (ms)";
		return CL_OK;
	}
	r = skeleton(w, msgid, user, NULL, user, "system", ms);
	if (r == NULL || set_str(r, "text", "corp switch: the member switched "
				 "to another enterprise in the WeCom client") ||
	    add_env(r, m, chat)) {
		json_decref(r);
		return CL_ENOMEM;
	}
	*out = r;
	return CL_OK;
}

/* consent {agreed, userid, time} for an agree/disagree message. */
static int add_consent(json_t *r, json_t *c, int agreed)
{
	json_t *cs = json_object();
	const char *s;
	int64_t ms = ms_of(json_object_get(c, agreed ? "agree_time" : "disagree_time"));
	int rc = cs ? set_new(cs, "agreed", json_boolean(agreed)) : CL_ENOMEM;

	if (!rc && (s = str_in(c, "userid", CL_RECORD_MAX_ID)))
		rc = set_str(cs, "userid", s);
	if (!rc && ms >= 0) {
		char when[32];

		cl_time_format(ms, when);
		rc = set_str(cs, "time", when);
	}
	if (rc) {
		json_decref(cs);
		return rc;
	}
	return set_new(r, "consent", cs);
}

/*
 * Build the record for decrypted message `m` (`chat`: its chatdata item,
 * or NULL).  On success *out is the record; for a bad item *out is NULL
 * and *why is set.  Returns CL_OK or CL_ENOMEM.
 */
static int map_message(const struct wc_ctx *w, json_t *m, json_t *chat,
		       json_t **out, const char **why)
{
	json_t *r = NULL, *tolist, *room, *c = NULL, *text = NULL, *v;
	const char *msgid, *action, *from, *msgtype, *target = NULL, *to;
	char kind[CL_KIND_MAX + 1], conv[CL_RECORD_MAX_ID + 1];
	int64_t ms;
	size_t i;
	int group, recall, rc = CL_OK;

	*out = NULL;
	*why = NULL;
	if (!json_is_object(m)) {
		*why = "message is not a JSON object";
		return CL_OK;
	}
	msgid = str_in(m, "msgid", CL_RECORD_MAX_ID);
	if (msgid == NULL && json_object_get(m, "msgid") == NULL)
		msgid = str_in(chat, "msgid", CL_RECORD_MAX_ID);
	action = str_in(m, "action", 64);
	if (msgid == NULL) {
		*why = "message has no valid 'msgid'";
		return CL_OK;
	}
	if (action == NULL) {
		*why = "message has no valid 'action'";
		return CL_OK;
	}
	if (strcmp(action, "switch") == 0)
		return map_switch(w, m, msgid, chat, out, why);
	recall = strcmp(action, "recall") == 0;
	if (!recall && strcmp(action, "send") != 0) {
		*why = "message has an unknown 'action'";
		return CL_OK;
	}
	from = str_in(m, "from", CL_RECORD_MAX_ID);
	tolist = json_object_get(m, "tolist");
	room = json_object_get(m, "roomid");
	ms = ms_of(json_object_get(m, "msgtime"));
	msgtype = str_in(m, "msgtype", 256);
	if (from == NULL)
		*why = "message has no valid 'from'";
	else if (tolist && !json_is_array(tolist))
		*why = "message 'tolist' is not an array";
	else if (room && !json_is_null(room) &&
		 !(json_is_string(room) && json_string_length(room) <= CL_RECORD_MAX_ID))
		*why = "message 'roomid' is not a valid string";
	else if (ms < 0)
		*why = "message has no valid 'msgtime' (ms)";
	else if (msgtype == NULL && !recall)
		*why = "message has no valid 'msgtype'";
	json_array_foreach(tolist, i, v) {
		if (*why == NULL && !(json_is_string(v) && json_string_length(v) > 0 &&
				      json_string_length(v) <= CL_RECORD_MAX_ID))
			*why = "message 'tolist' holds an invalid id";
	}
	if (*why)
		return CL_OK;
	group = json_is_string(room) && json_string_length(room) > 0;
	if (!group) {
		if (json_array_size(tolist) != 1) {
			*why = "one-to-one message needs exactly one 'tolist' id";
			return CL_OK;
		}
		to = json_string_value(json_array_get(tolist, 0));
		if ((strcmp(from, to) <= 0 ? join(conv, sizeof(conv), from, "|", to) :
					     join(conv, sizeof(conv), to, "|", from)) != 0) {
			*why = "conversation id (from|to) would exceed 512 bytes";
			return CL_OK;
		}
	} else {
		(void)join(conv, sizeof(conv), json_string_value(room), "", ""); /* <= 512 */
	}
	if (recall) {
		target = str_in(json_object_get(m, "revoke"), "pre_msgid", CL_RECORD_MAX_ID);
		if (target == NULL) {
			*why = "recall has no valid 'revoke.pre_msgid'";
			return CL_OK;
		}
		memcpy(kind, "revoke", 7);
		c = json_object_get(m, "revoke");
	} else if (strcmp(msgtype, "agree") == 0 || strcmp(msgtype, "disagree") == 0) {
		memcpy(kind, "consent", 8);
		c = content_of(m, msgtype);
	} else {
		kind_for(msgtype, kind);
		c = content_of(m, msgtype);
		if (strcmp(msgtype, "text") == 0 || strcmp(msgtype, "markdown") == 0)
			text = json_incref(str_any(c, "content"));
		else if (strcmp(msgtype, "mixed") == 0 && (rc = mixed_text(c, &text)))
			goto bad_text;
	}
	if (text && json_string_length(text) > CL_RECORD_MAX_TEXT) {
		rc = CL_EINVAL;
		goto bad_text;
	}
	r = skeleton(w, msgid, conv, group ? "group" : "direct", from, kind, ms);
	if (r == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (text && (rc = set_ref(r, "text", text)))
		goto out;
	if (target && (rc = set_str(r, "target", target)))
		goto out;
	if (strcmp(kind, "consent") == 0 &&
	    (rc = add_consent(r, c, strcmp(msgtype, "agree") == 0)))
		goto out;
	if ((json_is_object(c) || json_is_array(c)) && (rc = set_ref(r, "content", c)))
		goto out;
	if (msgtype && !recall && (rc = add_attachment(r, msgtype, c)))
		goto out;
	if ((rc = add_env(r, m, chat)))
		goto out;
	*out = r;
	r = NULL;
out:
	json_decref(r);
	json_decref(text);
	return rc;
bad_text:
	json_decref(text);
	if (rc == CL_EINVAL) {
		*why = "text is longer than 1 MiB";
		return CL_OK;
	}
	return rc;
}

/* ---- emission ------------------------------------------------------------ */

/*
 * Add raw/raw_form to `rec`, serialise it and hand it to the sink; a raw
 * too large for the record limits is left out (raw_form "omitted").
 */
static int emit(const struct wc_ctx *w, uint64_t item, json_t *rec,
		const struct wc_raw *raw)
{
	struct cl_buf enc;
	char *s = NULL;
	int rc = CL_OK;

	cl_buf_init(&enc, CL_RECORD_MAX_RAW + 4);
	if (raw->len / 3 * 4 + 4 <= CL_RECORD_MAX_RAW) {
		if ((rc = cl_b64_add(&enc, raw->p, raw->len)) ||
		    (rc = set_str(rec, "raw", enc.data ? (const char *)enc.data : "")) ||
		    (rc = set_str(rec, "raw_form", raw->exact ? "exact" : "jansson")))
			goto out;
	} else if ((rc = set_str(rec, "raw_form", "omitted"))) {
		goto out;
	}
	s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (s && strlen(s) > CL_RECORD_MAX_LINE) {
		free(s);
		s = NULL;
		json_object_del(rec, "raw");
		if ((rc = set_str(rec, "raw_form", "omitted")))
			goto out;
		s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		if (s && strlen(s) > CL_RECORD_MAX_LINE) {
			rc = w->sink->bad(w->sink->ctx, item, raw->p, raw->len,
					  "record would exceed the 8 MiB record limit");
			goto out;
		}
	}
	if (s == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = w->sink->record(w->sink->ctx, s, strlen(s));
out:
	free(s);
	cl_buf_release(&enc);
	return rc;
}

/* One decrypted message object at location `item`. */
static int do_message(const struct wc_ctx *w, uint64_t item, json_t *m,
		      const struct wc_raw *raw, json_t *chat)
{
	json_t *rec = NULL;
	const char *why = NULL;
	int rc = map_message(w, m, chat, &rec, &why);

	if (rc == CL_OK && rec)
		rc = emit(w, item, rec, raw);
	else if (rc == CL_OK)
		rc = w->sink->bad(w->sink->ctx, item, raw->p, raw->len, why);
	json_decref(rec);
	return rc;
}

/* Hand `v` re-serialised to do_message() or, with `why`, to sink->bad. */
static int do_serialised(const struct wc_ctx *w, uint64_t item, json_t *v,
			 json_t *chat, const char *why)
{
	char *s = json_dumps(v, DUMP_FLAGS);
	struct wc_raw raw;
	int rc;

	if (s == NULL)
		return CL_ENOMEM;
	raw.p = (const unsigned char *)s;
	raw.len = strlen(s);
	raw.exact = 0;
	rc = why ? w->sink->bad(w->sink->ctx, item, raw.p, raw.len, why) :
		   do_message(w, item, v, &raw, chat);
	free(s);
	return rc;
}

static int is_response(json_t *v)
{
	return json_object_get(v, "chatdata") != NULL ||
	       json_object_get(v, "errcode") != NULL;
}

/*
 * The items of GetChatData response `root`.  `line` is the JSONL line it
 * is on (all its items are reported there), or 0 in a JSON file (items
 * are numbered by chatdata position).  Returns CL_EINVAL for an error
 * response or a missing chatdata array, unless on a line (then one bad
 * item).
 */
static int do_response(const struct wc_ctx *w, json_t *root, uint64_t line,
		       const unsigned char *bytes, size_t len, char **err)
{
	json_t *errcode = json_object_get(root, "errcode");
	json_t *chat = json_object_get(root, "chatdata"), *item;
	size_t i;
	int rc = CL_OK;

	if ((errcode && !(json_is_integer(errcode) && json_integer_value(errcode) == 0)) ||
	    !json_is_array(chat)) {
		if (line)
			return w->sink->bad(w->sink->ctx, line, bytes, len,
					    "GetChatData error response or no 'chatdata' array");
		return cl_error(err, CL_EINVAL,
				"GetChatData response has a non-zero errcode or no "
				"'chatdata' array");
	}
	json_array_foreach(chat, i, item) {
		uint64_t at = line ? line : (uint64_t)i + 1;
		json_t *pt = json_object_get(item, "plaintext");

		if (!json_is_object(item)) {
			rc = do_serialised(w, at, item, NULL, "chatdata item is not an object");
		} else if (pt == NULL || json_is_null(pt)) {
			rc = do_serialised(w, at, item, NULL, ENCRYPTED_REASON);
		} else if (json_is_object(pt)) {
			rc = do_serialised(w, at, pt, item, NULL);
		} else if (json_is_string(pt)) {
			struct wc_raw raw;
			json_t *m;

			raw.p = (const unsigned char *)json_string_value(pt);
			raw.len = json_string_length(pt);
			raw.exact = 1;
			m = json_loadb((const char *)raw.p, raw.len,
				       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
			if (m == NULL)
				rc = w->sink->bad(w->sink->ctx, at, raw.p, raw.len,
						  "plaintext is not valid JSON");
			else
				rc = do_message(w, at, m, &raw, item);
			json_decref(m);
		} else {
			rc = do_serialised(w, at, item, NULL,
					   "chatdata 'plaintext' is neither a string nor an object");
		}
		if (rc)
			break;
	}
	return rc;
}

/* One JSONL line (already trimmed, non-empty). */
static int do_line(const struct wc_ctx *w, uint64_t line, const char *p,
		   size_t n, char **err)
{
	struct wc_raw raw;
	json_t *root;
	int rc;

	if (n > CL_WECOM_MAX_LINE)
		return w->sink->bad(w->sink->ctx, line, (const unsigned char *)p,
				    CL_WECOM_MAX_LINE, "line is longer than 16 MiB");
	root = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	raw.p = (const unsigned char *)p;
	raw.len = n;
	raw.exact = 1;
	if (root == NULL)
		rc = w->sink->bad(w->sink->ctx, line, raw.p, n, "line is not valid JSON");
	else if (!json_is_object(root))
		rc = w->sink->bad(w->sink->ctx, line, raw.p, n, "line is not a JSON object");
	else if (is_response(root))
		rc = do_response(w, root, line, raw.p, n, err);
	else
		rc = do_message(w, line, root, &raw, NULL);
	json_decref(root);
	return rc;
}

static int check_args(const struct cl_import_opts *o,
		      const struct cl_import_sink *sink, char **err)
{
	if (o == NULL || o->account == NULL || o->account[0] == '\0')
		return cl_error(err, CL_EINVAL, "--account is required");
	if (strlen(o->account) > CL_RECORD_MAX_ID)
		return cl_error(err, CL_EINVAL, "--account is longer than %u bytes",
				CL_RECORD_MAX_ID);
	if (sink == NULL || sink->record == NULL || sink->bad == NULL)
		return cl_error(err, CL_EINVAL,
				"import sink needs record and bad callbacks");
	return CL_OK;
}

/* Skip a UTF-8 byte-order mark. */
static void skip_bom(const char **p, size_t *n)
{
	if (*n >= 3 && memcmp(*p, "\xEF\xBB\xBF", 3) == 0) {
		*p += 3;
		*n -= 3;
	}
}

/* Every line of [p, p + n), numbered from `first`. */
static int do_lines(const struct wc_ctx *w, const char *p, size_t n,
		    uint64_t first, char **err)
{
	uint64_t line = first;
	int rc = CL_OK;

	while (n > 0 && rc == CL_OK) {
		const char *nl = memchr(p, '\n', n);
		size_t ln = nl ? (size_t)(nl - p) : n;
		const char *q = p;
		size_t qn = ln;

		trim(&q, &qn);
		if (qn)
			rc = do_line(w, line, q, qn, err);
		line++;
		p += nl ? ln + 1 : ln;
		n -= nl ? ln + 1 : ln;
	}
	return rc;
}

/* ---- public -------------------------------------------------------------- */

int cl_import_wecom_text(const char *text, size_t len,
			 const struct cl_import_opts *o,
			 const struct cl_import_sink *sink, char **err)
{
	struct wc_ctx w;
	struct wc_raw raw;
	json_t *root, *v;
	const char *p = text, *q;
	size_t n = len, qn, i;
	uint64_t line = 1;
	int rc;

	if ((rc = check_args(o, sink, err)))
		return rc;
	w.o = o;
	w.sink = sink;
	skip_bom(&p, &n);
	q = p;
	qn = n;
	trim(&q, &qn);
	if (qn == 0)
		return CL_OK;
	for (i = 0; i < (size_t)(q - p); i++)
		line += p[i] == '\n';
	root = json_loadb(q, qn, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	if (root == NULL)
		return do_lines(&w, p, n, 1, err);
	raw.p = (const unsigned char *)q;
	raw.len = qn;
	raw.exact = 1;
	if (json_is_object(root) && is_response(root)) {
		rc = do_response(&w, root, 0, raw.p, raw.len, err);
	} else if (json_is_object(root)) {
		rc = do_message(&w, line, root, &raw, NULL);
	} else if (json_is_array(root)) {
		json_array_foreach(root, i, v) {
			if ((rc = do_serialised(&w, (uint64_t)i + 1, v, NULL, NULL)))
				break;
		}
	} else {
		rc = cl_error(err, CL_EINVAL,
			      "not a WeCom message, list of messages or GetChatData response");
	}
	json_decref(root);
	return rc;
}

int cl_import_wecom_file(const char *path, const struct cl_import_opts *o,
			 const struct cl_import_sink *sink, char **err)
{
	const char *name = o && o->input_name ? o->input_name : path;
	struct wc_ctx w;
	struct cl_buf all;
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	uint64_t ln = 0;
	int rc, streaming = 0;

	cl_buf_init(&all, CL_WECOM_MAX_FILE);
	if ((rc = check_args(o, sink, err)))
		return rc;
	w.o = o;
	w.sink = sink;
	if ((f = fopen(path, "rbe")) == NULL) {
		rc = cl_error(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
			      "cannot open '%s': %s", name, strerror(errno));
		goto out;
	}
	/* JSONL when the first non-blank line is a message object by itself. */
	while ((got = getline(&line, &cap, f)) >= 0) {
		const char *p = line;
		size_t n = (size_t)got;

		if (++ln == 1)
			skip_bom(&p, &n);
		trim(&p, &n);
		if (n == 0)
			continue;
		if (n <= CL_WECOM_MAX_LINE) {
			json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);

			streaming = json_is_object(v) && !is_response(v);
			json_decref(v);
		}
		if (streaming)
			rc = do_line(&w, ln, p, n, err);
		break;
	}
	if (streaming) {
		while (rc == CL_OK && (got = getline(&line, &cap, f)) >= 0) {
			const char *p = line;
			size_t n = (size_t)got;

			ln++;
			trim(&p, &n);
			if (n)
				rc = do_line(&w, ln, p, n, err);
		}
		if (rc == CL_OK && ferror(f))
			rc = cl_error(err, CL_EIO, "cannot read '%s'", name);
		goto out;
	}
	if (ferror(f)) {
		rc = cl_error(err, CL_EIO, "cannot read '%s'", name);
		goto out;
	}
	if ((rc = cl_file_read(path, &all, CL_WECOM_MAX_FILE, err)))
		goto out;
	rc = cl_import_wecom_text(all.data ? (const char *)all.data : "", all.len,
				  o, sink, err);
out:
	if (f)
		fclose(f);
	free(line);
	cl_buf_release(&all);
	return rc;
}
