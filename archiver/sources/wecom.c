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

#include "archiver/ingest/import_util.h"
#include "archiver/sources/wecom.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SOURCE "wecom"
#define MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define ENCRYPTED_REASON "encrypted item: decrypt with the WeCom Finance SDK first"

/*
 * Valid kinds that a msgtype must not become, because chatledger uses
 * them for something else (cl_import_kind prefixes them).
 */
static const char *const reserved_kinds[] = {
	"revoke", "system", "consent", "status", "edit", "reaction",
	"attachment", "quarantine", "tombstone", NULL
};

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

/* Milliseconds since the epoch as a JSON integer in range, or -1. */
static int64_t ms_of(json_t *v)
{
	json_int_t x;

	if (!json_is_integer(v))
		return -1;
	x = json_integer_value(v);
	return x < 0 || x > MAX_MS ? -1 : (int64_t)x;
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
		const char *type = cl_json_str(part, "type", 64);
		json_t *pc = json_object_get(part, "content"), *inner, *t;

		if (type == NULL || strcmp(type, "text") != 0)
			continue;
		inner = json_is_string(pc) ?
			json_loadb(json_string_value(pc), json_string_length(pc), 0, NULL) :
			json_incref(pc);
		t = cl_json_str_any(inner, "content");
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
	if ((s = cl_json_str(c, "filename", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(att, "name", s);
	for (i = 0; size_keys[i] && !rc; i++) {
		v = json_object_get(c, size_keys[i]);
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			rc = cl_json_set_ref(att, "size", v);
			break;
		}
	}
	if (!rc)
		rc = cl_json_set_ref(att, "md5sum", cl_json_str_any(c, "md5sum"));
	if (!rc)
		rc = cl_json_set_ref(att, "sdkfileid", cl_json_str_any(c, "sdkfileid"));
	if (!rc)
		rc = json_array_append(arr, att) ? CL_ENOMEM : CL_OK;
	if (!rc)
		rc = cl_json_set_ref(r, "attachments", arr);
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
	const char *st = id_type(sender_id);
	struct cl_import_head h = {
		.source = SOURCE, .account = w->o->account, .id = id,
		.conv_id = conv_id, .conv_type = conv_type,
		.sender_id = sender_id, .sender_type = st,
		.direction = strcmp(st, "internal") ? "in" : "out",
		.kind = kind, .sent_at = ms,
	};

	return cl_import_record_new(&h);
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
		rc = cl_json_set_ref(e, from_msg[i], json_object_get(m, from_msg[i]));
	for (i = 0; from_chat[i] && !rc; i++)
		rc = cl_json_set_ref(e, from_chat[i], json_object_get(chat, from_chat[i]));
	if (rc) {
		json_decref(e);
		return rc;
	}
	return cl_json_set_new(r, "wecom", e);
}

static int map_switch(const struct wc_ctx *w, json_t *m, const char *msgid,
		      json_t *chat, json_t **out, const char **why)
{
	const char *user = cl_json_str(m, "user", CL_RECORD_MAX_ID);
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
	if (r == NULL ||
	    cl_json_set_str(r, "text", "corp switch: the member switched "
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
	int rc = cs ? cl_json_set_new(cs, "agreed", json_boolean(agreed)) : CL_ENOMEM;

	if (!rc && (s = cl_json_str(c, "userid", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(cs, "userid", s);
	if (!rc && ms >= 0) {
		char when[32];

		cl_time_format(ms, when);
		rc = cl_json_set_str(cs, "time", when);
	}
	if (rc) {
		json_decref(cs);
		return rc;
	}
	return cl_json_set_new(r, "consent", cs);
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
	msgid = cl_json_str(m, "msgid", CL_RECORD_MAX_ID);
	if (msgid == NULL && json_object_get(m, "msgid") == NULL)
		msgid = cl_json_str(chat, "msgid", CL_RECORD_MAX_ID);
	action = cl_json_str(m, "action", 64);
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
	from = cl_json_str(m, "from", CL_RECORD_MAX_ID);
	tolist = json_object_get(m, "tolist");
	room = json_object_get(m, "roomid");
	ms = ms_of(json_object_get(m, "msgtime"));
	msgtype = cl_json_str(m, "msgtype", 256);
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
		if ((strcmp(from, to) <= 0 ?
		     cl_import_join(conv, sizeof(conv), from, "|", to) :
		     cl_import_join(conv, sizeof(conv), to, "|", from)) != 0) {
			*why = "conversation id (from|to) would exceed 512 bytes";
			return CL_OK;
		}
	} else {
		/* fits: roomid is at most 512 bytes */
		(void)cl_import_join(conv, sizeof(conv), json_string_value(room), "", "");
	}
	if (recall) {
		target = cl_json_str(json_object_get(m, "revoke"), "pre_msgid",
				     CL_RECORD_MAX_ID);
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
		cl_import_kind(msgtype, reserved_kinds, "wecom-", kind);
		c = content_of(m, msgtype);
		if (strcmp(msgtype, "text") == 0 || strcmp(msgtype, "markdown") == 0)
			text = json_incref(cl_json_str_any(c, "content"));
		else if (strcmp(msgtype, "mixed") == 0 && (rc = mixed_text(c, &text)))
			goto bad_text;
	}
	if (text && json_string_length(text) > CL_RECORD_MAX_TEXT) {
		rc = CL_ETOOBIG;
		goto bad_text;
	}
	r = skeleton(w, msgid, conv, group ? "group" : "direct", from, kind, ms);
	if (r == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (text && (rc = cl_json_set_ref(r, "text", text)))
		goto out;
	if (target && (rc = cl_json_set_str(r, "target", target)))
		goto out;
	if (strcmp(kind, "consent") == 0 &&
	    (rc = add_consent(r, c, msgtype && strcmp(msgtype, "agree") == 0)))
		goto out;
	if ((json_is_object(c) || json_is_array(c)) &&
	    (rc = cl_json_set_ref(r, "content", c)))
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
	if (rc == CL_ETOOBIG) {
		*why = "text is longer than 1 MiB";
		return CL_OK;
	}
	return rc;
}

/* ---- emission ------------------------------------------------------------ */

/* One decrypted message object at location `item`. */
static int do_message(const struct wc_ctx *w, uint64_t item, json_t *m,
		      const struct wc_raw *raw, json_t *chat)
{
	json_t *rec = NULL;
	const char *why = NULL;
	int rc = map_message(w, m, chat, &rec, &why);

	if (rc == CL_OK && rec)
		rc = cl_import_emit(w->sink, item, rec, raw->p, raw->len,
				    raw->exact ? "exact" : "jansson");
	else if (rc == CL_OK)
		rc = w->sink->bad(w->sink->ctx, item, raw->p, raw->len, why);
	json_decref(rec);
	return rc;
}

/* Hand `v` re-serialised to do_message() or, with `why`, to sink->bad. */
static int do_serialised(const struct wc_ctx *w, uint64_t item, json_t *v,
			 json_t *chat, const char *why)
{
	char *s = json_dumps(v, CL_IMPORT_DUMP_FLAGS);
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
	return cl_import_check_sink(sink, err);
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

int cl_wecom_import_text(const char *text, size_t len,
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

int cl_wecom_import_file(const char *path, const struct cl_import_opts *o,
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
			rc = cl_error(err, CL_EIO, "cannot read '%s': %s", name, strerror(errno));
		goto out;
	}
	if (ferror(f)) {
		rc = cl_error(err, CL_EIO, "cannot read '%s': %s", name, strerror(errno));
		goto out;
	}
	if ((rc = cl_file_read(path, &all, CL_WECOM_MAX_FILE, err)))
		goto out;
	rc = cl_wecom_import_text(all.data ? (const char *)all.data : "", all.len,
				  o, sink, err);
out:
	if (f)
		fclose(f);
	free(line);
	cl_buf_release(&all);
	return rc;
}
