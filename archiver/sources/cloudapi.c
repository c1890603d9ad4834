/*
 * import_cloudapi.c - WhatsApp Business Platform (Cloud API) webhook bodies
 * to normalised records (import_cloudapi.h).
 *
 * Pure: parses with jansson, builds every record as a jansson object and
 * hands its compact, key-sorted serialisation to the sink.  Each item's
 * subtree is freed once its record is emitted (the walk is the tree's
 * last use), so the tree shrinks while the sink's records grow.  Nothing here
 * touches the ledger, the network or the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/sources/cloudapi.h"
#include "archiver/ingest/import_util.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SOURCE "cloudapi"
#define ACCOUNT_PREFIX "wa-business:"
#define MAX_UNIX_SECS 253402300799LL /* 9999-12-31T23:59:59Z */

/*
 * Valid kinds that a source type must not become, because this importer
 * produces them for something else (cl_import_kind prefixes them).
 */
static const char *const reserved_kinds[] = {
	"status", "consent", "attachment", "quarantine", "tombstone", NULL
};

/* Where one item of a large body is (see "large bodies" below). */
struct span {
	size_t off, len;
};

/* One body being imported. */
struct body_ctx {
	const struct cl_import_sink *sink;
	uint64_t item;          /* items numbered so far (across bodies) */
	const char *exact;      /* the exact body bytes, or NULL */
	size_t exact_len;
	int use_exact;          /* exact given and the body holds one item */
	/* A skeleton tree (large bodies): its item arrays hold integers,
	 * indexes into spans[], each item of exact[] parsed when its turn
	 * comes.  NULL for a whole tree. */
	const struct span *spans;
	size_t nspans;
};

/* What a change's value says about every item in it. */
struct change_ctx {
	char account[CL_RECORD_MAX_ID + 1]; /* "" if no phone_number_id */
	const char *phone_id;
	json_t *env;            /* the "cloudapi" envelope template (owned) */
	json_t *contacts;       /* value.contacts, borrowed */
	json_t *errors;         /* value.errors, borrowed */
};

/* ---- small helpers --------------------------------------------------- */

/* Unix seconds (a string of 1-12 digits or an integer) in ms, or -1. */
static int64_t unix_ms(json_t *v)
{
	long long s = 0;
	const char *p;
	size_t i, n;

	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		return x < 0 || x > MAX_UNIX_SECS ? -1 : (int64_t)x * 1000;
	}
	if (!json_is_string(v))
		return -1;
	p = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > 12)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		s = s * 10 + (p[i] - '0');
	}
	return s > MAX_UNIX_SECS ? -1 : (int64_t)s * 1000;
}

/*
 * Meta's media sha256 (base64 of 32 bytes; 64 hex digits accepted too) as
 * lowercase hex in `out`.  Returns 0, or -1 if it is neither.
 */
static int sha_hex(const char *s, char out[65])
{
	static const char hx[] = "0123456789abcdef";
	unsigned char h[CL_SHA256_BYTES];
	size_t i, n = strlen(s);
	struct cl_buf b;
	int ok = 0;

	if (n == 64 && cl_hex_decode(s, h, sizeof(h)) == CL_OK) {
		ok = 1;
	} else if (n == 44) {
		cl_buf_init(&b, 64);
		if (cl_b64_decode(s, n, &b) == CL_OK && b.len == sizeof(h)) {
			memcpy(h, b.data, sizeof(h));
			ok = 1;
		}
		cl_buf_release(&b);
	}
	if (!ok)
		return -1;
	for (i = 0; i < sizeof(h); i++) {
		out[2 * i] = hx[h[i] >> 4];
		out[2 * i + 1] = hx[h[i] & 15];
	}
	out[64] = '\0';
	return 0;
}

/* The value.contacts[] entry for `wa_id`, or NULL. */
static json_t *contact_for(json_t *contacts, const char *wa_id)
{
	size_t i;
	json_t *c;

	json_array_foreach(contacts, i, c) {
		const char *w = json_string_value(json_object_get(c, "wa_id"));

		if (w && strcmp(w, wa_id) == 0)
			return c;
	}
	return NULL;
}

static const char *contact_name(json_t *contacts, const char *wa_id)
{
	return cl_json_str(json_object_get(contact_for(contacts, wa_id), "profile"),
			   "name", CL_RECORD_MAX_ID);
}

/* ---- raw bytes and emission ------------------------------------------- */

/*
 * The bytes that represent `item`: the exact body when it is the body's
 * only item, else its jansson serialisation (*to_free set; free it).
 */
static const unsigned char *item_bytes(const struct body_ctx *b, json_t *item,
				       size_t *len, char **to_free)
{
	*to_free = NULL;
	if (b->use_exact) {
		*len = b->exact_len;
		return (const unsigned char *)b->exact;
	}
	*to_free = json_dumps(item, CL_IMPORT_DUMP_FLAGS);
	*len = *to_free ? strlen(*to_free) : 0;
	return (const unsigned char *)*to_free;
}

static int bad_item(struct body_ctx *b, json_t *item, const char *why)
{
	char *tmp;
	size_t len;
	const unsigned char *p = item_bytes(b, item, &len, &tmp);
	int rc;

	if (p == NULL)
		return CL_ENOMEM;
	rc = b->sink->bad(b->sink->ctx, b->item, p, len, why);
	free(tmp);
	return rc;
}

/*
 * Hand `rec` to the sink with the bytes of `item` as its raw
 * (cl_import_emit): raw_form "body" for the exact body, "item" for a
 * re-serialised item.
 */
static int emit(struct body_ctx *b, json_t *rec, json_t *item)
{
	char *tmp;
	size_t len;
	const unsigned char *p = item_bytes(b, item, &len, &tmp);
	int rc;

	if (p == NULL)
		return CL_ENOMEM;
	rc = cl_import_emit(b->sink, b->item, rec, p, len,
			    b->use_exact ? "body" : "item");
	free(tmp);
	return rc;
}

/* ---- record skeleton -------------------------------------------------- */

/*
 * A new record with the members every item shares.  `conv_type` is
 * "direct" or "group"; `conv_name` may be NULL.
 */
static json_t *skeleton(const struct change_ctx *ch, const char *id,
			const char *conv_id, const char *conv_type,
			const char *conv_name, const char *sender_id,
			const char *dir, const char *kind, int64_t ms)
{
	struct cl_import_head h = {
		.source = SOURCE, .account = ch->account, .id = id,
		.conv_id = conv_id, .conv_type = conv_type, .conv_name = conv_name,
		.sender_id = sender_id, .direction = dir, .kind = kind, .sent_at = ms,
	};

	return cl_import_record_new(&h);
}

/* The "cloudapi" envelope for one item: the change's, plus `type`. */
static int add_env(json_t *r, const struct change_ctx *ch, const char *type,
		   int echo)
{
	json_t *e = json_copy(ch->env);
	int rc;

	if (e == NULL)
		return CL_ENOMEM;
	rc = type ? cl_json_set_str(e, "type", type) : CL_OK;
	if (!rc && echo)
		rc = cl_json_set_new(e, "echo", json_true());
	if (rc) {
		json_decref(e);
		return rc;
	}
	return cl_json_set_new(r, "cloudapi", e);
}

/* ---- messages ---------------------------------------------------------- */

static int is_media(const char *type)
{
	return strcmp(type, "image") == 0 || strcmp(type, "video") == 0 ||
	       strcmp(type, "audio") == 0 || strcmp(type, "document") == 0 ||
	       strcmp(type, "sticker") == 0;
}

/* media {..} and attachments[1] for a media message's object `m`. */
static int add_media(json_t *r, json_t *m)
{
	static const struct { const char *from, *to; } map[] = {
		{ "id", "id" }, { "mime_type", "mime" }, { "sha256", "sha256" },
		{ "caption", "caption" }, { "filename", "filename" },
		{ "url", "url" }, { "voice", "voice" }, { "animated", "animated" },
	};
	json_t *media = json_object(), *att = json_object(), *arr = json_array();
	const char *s;
	char hex[65];
	size_t i;
	int rc = CL_OK;

	if (media == NULL || att == NULL || arr == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	for (i = 0; i < sizeof(map) / sizeof(map[0]) && !rc; i++)
		rc = cl_json_set_ref(media, map[i].to, json_object_get(m, map[i].from));
	if (!rc && (s = cl_json_str(m, "mime_type", 255)))
		rc = cl_json_set_str(att, "mime", s);
	if (!rc && (s = cl_json_str(m, "filename", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(att, "name", s);
	if (!rc && (s = cl_json_str(m, "id", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(att, "media_id", s);
	if (!rc && (s = cl_json_str(m, "sha256", 64)) && sha_hex(s, hex) == 0)
		rc = cl_json_set_str(att, "sha256", hex);
	if (!rc)
		rc = json_array_append(arr, att) ? CL_ENOMEM : CL_OK;
	if (!rc)
		rc = cl_json_set_ref(r, "media", media);
	if (!rc)
		rc = cl_json_set_ref(r, "attachments", arr);
out:
	json_decref(media);
	json_decref(att);
	json_decref(arr);
	return rc;
}

/*
 * The text, target and "removed" flag of message `m` of type `type`
 * (whose type-keyed object is `c`).  Sets *why for a bad item.
 */
static void message_text(const char *type, json_t *c, json_t **text,
			 const char **target, int *removed, const char **why)
{
	json_t *v;

	*text = NULL;
	*target = NULL;
	*removed = 0;
	if (strcmp(type, "text") == 0) {
		*text = cl_json_str_any(c, "body");
	} else if (is_media(type)) {
		*text = cl_json_str_any(c, "caption");
	} else if (strcmp(type, "reaction") == 0) {
		*target = cl_json_str(c, "message_id", CL_RECORD_MAX_ID);
		if (*target == NULL) {
			*why = "reaction has no valid 'message_id'";
			return;
		}
		v = json_object_get(c, "emoji");
		if (v && !json_is_string(v) && !json_is_null(v)) {
			*why = "reaction 'emoji' is not a string";
			return;
		}
		if (v && json_is_string(v) && json_string_length(v) > 0)
			*text = v;
		else
			*removed = 1;
	} else if (strcmp(type, "interactive") == 0) {
		const char *sub = cl_json_str(c, "type", 64);
		json_t *o = sub ? json_object_get(c, sub) : NULL;

		*text = cl_json_str_any(o, "title");
		if (*text == NULL)
			*text = cl_json_str_any(o, "body");
	} else if (strcmp(type, "button") == 0) {
		*text = cl_json_str_any(c, "text");
	} else if (strcmp(type, "order") == 0) {
		*text = cl_json_str(c, "text", CL_RECORD_MAX_TEXT) ?
			cl_json_str_any(c, "text") : NULL;
	} else if (strcmp(type, "system") == 0) {
		*text = cl_json_str_any(c, "body");
	} else if (strcmp(type, "edit") == 0) {
		json_t *em = json_object_get(c, "message");
		const char *et = cl_json_str(em, "type", 64);

		*target = cl_json_str(c, "original_message_id", CL_RECORD_MAX_ID);
		if (*target == NULL) {
			*why = "edit has no valid 'original_message_id'";
			return;
		}
		if (et && strcmp(et, "text") == 0)
			*text = cl_json_str_any(json_object_get(em, "text"), "body");
		else if (et)
			*text = cl_json_str_any(json_object_get(em, et), "caption");
	} else if (strcmp(type, "revoke") == 0) {
		*target = cl_json_str(c, "original_message_id", CL_RECORD_MAX_ID);
		if (*target == NULL)
			*why = "revoke has no valid 'original_message_id'";
	}
	if (*text && json_string_length(*text) > CL_RECORD_MAX_TEXT)
		*why = "text is longer than 1 MiB";
}

/*
 * Build the record for message `m` (from message_echoes[] if `echo`).
 * On success *out is the new record; for a bad item *out is NULL and *why
 * says why.  Returns CL_OK or CL_ENOMEM.
 */
static int map_message(const struct change_ctx *ch, json_t *m, int echo,
		       json_t **out, const char **why)
{
	json_t *r = NULL, *c, *ctx, *text, *contact = NULL;
	const char *id, *from, *peer, *type, *group, *target, *name = NULL, *s;
	char kind[CL_KIND_MAX + 1];
	int64_t ms;
	int removed, rc = CL_OK;

	*out = NULL;
	*why = NULL;
	if (!json_is_object(m)) {
		*why = "message is not a JSON object";
		return CL_OK;
	}
	if (ch->account[0] == '\0') {
		*why = "change has no valid 'metadata.phone_number_id'";
		return CL_OK;
	}
	id = cl_json_str(m, "id", CL_RECORD_MAX_ID);
	from = cl_json_str(m, "from", CL_RECORD_MAX_ID);
	if (from == NULL && !echo)
		from = cl_json_str(m, "from_user_id", CL_RECORD_MAX_ID);
	peer = echo ? cl_json_str(m, "to", CL_RECORD_MAX_ID) : from;
	ms = unix_ms(json_object_get(m, "timestamp"));
	type = cl_json_str(m, "type", 256);
	group = cl_json_str(m, "group_id", CL_RECORD_MAX_ID);
	if (id == NULL)
		*why = "message has no valid 'id'";
	else if (from == NULL)
		*why = "message has no valid 'from'";
	else if (peer == NULL)
		*why = "message echo has no valid 'to'";
	else if (ms < 0)
		*why = "message has no valid 'timestamp' (Unix seconds)";
	else if (type == NULL)
		*why = "message has no valid 'type'";
	if (*why)
		return CL_OK;
	c = json_object_get(m, type);
	message_text(type, c, &text, &target, &removed, why);
	if (*why)
		return CL_OK;
	cl_import_kind(type, reserved_kinds, "cloudapi-", kind);
	if (!echo) {
		contact = contact_for(ch->contacts, from);
		name = contact_name(ch->contacts, from);
	}
	r = skeleton(ch, id, group ? group : peer, group ? "group" : "direct",
		     group ? NULL : contact_name(ch->contacts, peer), from,
		     echo ? "out" : "in", kind, ms);
	if (r == NULL)
		return CL_ENOMEM;
	if (name)
		rc = cl_json_set_str(json_object_get(r, "sender"), "name", name);
	s = cl_json_str(m, "from_user_id", CL_RECORD_MAX_ID);
	if (s == NULL)
		s = cl_json_str(contact, "user_id", CL_RECORD_MAX_ID);
	if (!rc && s && !echo)
		rc = cl_json_set_str(json_object_get(r, "sender"), "user_id", s);
	if (!rc && text)
		rc = cl_json_set_ref(r, "text", text);
	if (!rc && removed)
		rc = cl_json_set_str(r, "text", "");
	if (!rc && removed)
		rc = cl_json_set_new(r, "removed", json_true());
	if (!rc && target)
		rc = cl_json_set_str(r, "target", target);
	ctx = json_object_get(m, "context");
	if (!rc && (s = cl_json_str(ctx, "id", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(r, "reply_to", s);
	if (!rc && json_is_true(json_object_get(ctx, "forwarded")))
		rc = cl_json_set_new(r, "forwarded", json_true());
	if (!rc && json_is_true(json_object_get(ctx, "frequently_forwarded")))
		rc = cl_json_set_new(r, "frequently_forwarded", json_true());
	if (!rc)
		rc = cl_json_set_ref(r, "context", ctx);
	if (!rc && (json_is_object(c) || json_is_array(c)))
		rc = cl_json_set_ref(r, "content", c);
	if (!rc && is_media(type) && json_is_object(c))
		rc = add_media(r, c);
	if (!rc)
		rc = cl_json_set_ref(r, "errors", json_object_get(m, "errors"));
	if (!rc)
		rc = cl_json_set_ref(r, "change_errors", ch->errors);
	if (!rc)
		rc = cl_json_set_ref(r, "referral", json_object_get(m, "referral"));
	if (!rc)
		rc = cl_json_set_ref(r, "identity", json_object_get(m, "identity"));
	if (!rc)
		rc = add_env(r, ch, type, echo);
	if (rc) {
		json_decref(r);
		return CL_ENOMEM;
	}
	*out = r;
	return CL_OK;
}

/* ---- statuses ---------------------------------------------------------- */

/* As map_message(), for one element of statuses[]. */
static int map_status(const struct change_ctx *ch, json_t *st, json_t **out,
		      const char **why)
{
	json_t *r = NULL, *copy = NULL;
	const char *id, *state, *rcpt, *rtype;
	char rid[CL_RECORD_MAX_ID + 1];
	int64_t ms;
	int group, rc = CL_OK;

	*out = NULL;
	*why = NULL;
	if (!json_is_object(st)) {
		*why = "status is not a JSON object";
		return CL_OK;
	}
	if (ch->account[0] == '\0') {
		*why = "change has no valid 'metadata.phone_number_id'";
		return CL_OK;
	}
	id = cl_json_str(st, "id", CL_RECORD_MAX_ID);
	state = cl_json_str(st, "status", CL_KIND_MAX);
	rcpt = cl_json_str(st, "recipient_id", CL_RECORD_MAX_ID);
	if (rcpt == NULL)
		rcpt = cl_json_str(st, "recipient_user_id", CL_RECORD_MAX_ID);
	ms = unix_ms(json_object_get(st, "timestamp"));
	if (id == NULL)
		*why = "status has no valid 'id'";
	else if (state == NULL || !cl_kind_valid(state))
		*why = "status has no valid 'status' word";
	else if (rcpt == NULL)
		*why = "status has no valid 'recipient_id'";
	else if (ms < 0)
		*why = "status has no valid 'timestamp' (Unix seconds)";
	else if (cl_import_join(rid, sizeof(rid), id, ":", state) != 0)
		*why = "status 'id' is too long";
	if (*why)
		return CL_OK;
	rtype = cl_json_str(st, "recipient_type", 64);
	group = rtype && strcmp(rtype, "group") == 0;
	r = skeleton(ch, rid, rcpt, group ? "group" : "direct",
		     group ? NULL : contact_name(ch->contacts, rcpt),
		     ch->phone_id, "out", "status", ms);
	copy = json_copy(st);
	if (r == NULL || copy == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	json_object_del(copy, "id");
	json_object_del(copy, "status");
	json_object_del(copy, "timestamp");
	json_object_del(copy, "errors");
	if ((rc = cl_json_set_str(copy, "state", state)) ||
	    (rc = cl_json_set_ref(r, "status", copy)) ||
	    (rc = cl_json_set_str(r, "target", id)) ||
	    (rc = cl_json_set_ref(r, "errors", json_object_get(st, "errors"))) ||
	    (rc = cl_json_set_ref(r, "change_errors", ch->errors)) ||
	    (rc = add_env(r, ch, NULL, 0)))
		goto out;
	*out = r;
	r = NULL;
out:
	json_decref(copy);
	json_decref(r);
	return rc;
}

/* ---- walking a body ---------------------------------------------------- */

static int is_item_array(const char *key)
{
	return strcmp(key, "messages") == 0 || strcmp(key, "statuses") == 0 ||
	       strcmp(key, "message_echoes") == 0;
}

/* How many items a change contributes (see the header). */
static size_t change_items(json_t *change)
{
	json_t *value = json_object_get(change, "value"), *v;
	const char *key;
	size_t n = 0;

	if (!json_is_object(change) || !json_is_object(value))
		return 1;
	json_object_foreach(value, key, v) {
		if (is_item_array(key))
			n += json_is_array(v) ? json_array_size(v) : 1;
	}
	return n ? n : 1;
}

static size_t body_items(json_t *root)
{
	json_t *entry, *change;
	size_t i, j, n = 0;

	json_array_foreach(json_object_get(root, "entry"), i, entry) {
		json_t *changes = json_object_get(entry, "changes");

		if (!json_is_object(entry) || !json_is_array(changes)) {
			n++;
			continue;
		}
		json_array_foreach(changes, j, change)
			n += change_items(change);
	}
	return n;
}

/* Fill `ch` for one change value; ch->env is owned by the caller. */
static int change_init(struct change_ctx *ch, json_t *entry, json_t *change,
		       json_t *value)
{
	json_t *md = json_object_get(value, "metadata");
	const char *s;
	int rc = CL_OK;

	memset(ch, 0, sizeof(*ch));
	ch->contacts = json_object_get(value, "contacts");
	ch->errors = json_object_get(value, "errors");
	ch->phone_id = cl_json_str(md, "phone_number_id",
				   CL_RECORD_MAX_ID - strlen(ACCOUNT_PREFIX));
	if (ch->phone_id && cl_import_join(ch->account, sizeof(ch->account),
					   ACCOUNT_PREFIX, "", ch->phone_id) != 0)
		ch->phone_id = NULL;
	if ((ch->env = json_object()) == NULL)
		return CL_ENOMEM;
	if ((s = cl_json_str(entry, "id", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(ch->env, "waba_id", s);
	if (!rc && ch->phone_id)
		rc = cl_json_set_str(ch->env, "phone_number_id", ch->phone_id);
	if (!rc && (s = cl_json_str(md, "display_phone_number", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(ch->env, "display_phone_number", s);
	if (!rc && (s = cl_json_str(change, "field", CL_RECORD_MAX_ID)))
		rc = cl_json_set_str(ch->env, "field", s);
	return rc;
}

/* One element of messages[], statuses[] or message_echoes[]. */
static int one_item(struct body_ctx *b, const struct change_ctx *ch,
		    const char *key, json_t *item)
{
	json_t *rec = NULL;
	const char *why = NULL;
	int rc;

	b->item++;
	if (strcmp(key, "statuses") == 0)
		rc = map_status(ch, item, &rec, &why);
	else
		rc = map_message(ch, item, strcmp(key, "message_echoes") == 0,
				 &rec, &why);
	if (rc == CL_OK && rec)
		rc = emit(b, rec, item);
	else if (rc == CL_OK)
		rc = bad_item(b, item, why);
	json_decref(rec);
	return rc;
}

/* The item a skeleton's placeholder `ph` stands for (new reference), or
 * NULL without memory (it was valid JSON when the skeleton was made). */
static json_t *span_item(const struct body_ctx *b, json_t *ph)
{
	json_int_t k = json_integer_value(ph);

	if (k < 0 || (size_t)k >= b->nspans)
		return NULL;
	return json_loadb(b->exact + b->spans[k].off, b->spans[k].len,
			  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

static int walk_change(struct body_ctx *b, json_t *entry, json_t *change)
{
	json_t *value = json_object_get(change, "value"), *v, *item;
	struct change_ctx ch;
	const char *key;
	size_t i, seen = 0;
	int rc = CL_OK;

	if (!json_is_object(change) || !json_is_object(value)) {
		b->item++;
		return bad_item(b, change, "webhook change has no 'value' object");
	}
	if ((rc = change_init(&ch, entry, change, value)))
		goto out;
	json_object_foreach(value, key, v) {
		if (!is_item_array(key))
			continue;
		if (!json_is_array(v)) {
			seen++;
			b->item++;
			if ((rc = bad_item(b, v, "webhook 'messages', 'statuses' or "
					   "'message_echoes' member is not an array")))
				goto out;
			continue;
		}
		json_array_foreach(v, i, item) {
			json_t *real = NULL;

			seen++;
			if (b->spans && (real = span_item(b, item)) == NULL) {
				rc = CL_ENOMEM;
				goto out;
			}
			rc = one_item(b, &ch, key, real ? real : item);
			json_decref(real);
			if (rc)
				goto out;
			/* Done with it: free its tree now, so that the records
			 * reuse the memory of the items already emitted instead
			 * of adding to the whole tree. */
			if (!b->spans && json_array_set_new(v, i, json_null()) != 0) {
				rc = CL_ENOMEM;
				goto out;
			}
		}
	}
	if (seen == 0) {
		b->item++;
		rc = bad_item(b, change, "webhook change carries no messages, "
			      "statuses or message echoes (other webhook fields "
			      "are not message records)");
	}
out:
	json_decref(ch.env);
	return rc;
}

/* `root` is a checked body; emit its items. */
static int walk_body(struct body_ctx *b, json_t *root)
{
	json_t *entry, *change;
	size_t i, j;
	int rc = CL_OK;

	b->use_exact = b->exact != NULL && body_items(root) == 1;
	json_array_foreach(json_object_get(root, "entry"), i, entry) {
		json_t *changes = json_object_get(entry, "changes");

		if (!json_is_object(entry) || !json_is_array(changes)) {
			b->item++;
			if ((rc = bad_item(b, entry, "webhook entry has no 'changes' array")))
				return rc;
			continue;
		}
		json_array_foreach(changes, j, change) {
			if ((rc = walk_change(b, entry, change)))
				return rc;
		}
	}
	return CL_OK;
}

/* 1 if `v` is a webhook body we can walk. */
static int is_body(json_t *v)
{
	const char *obj = json_string_value(json_object_get(v, "object"));

	return obj && strcmp(obj, "whatsapp_business_account") == 0 &&
	       json_is_array(json_object_get(v, "entry"));
}

/* ---- large bodies: a skeleton tree ------------------------------------- */

/*
 * jansson's tree of a body is about ten times its size.  For a large
 * body, only the path to the items is built as a tree (the root, entry[],
 * each entry, changes[], each change, its value): every other member is
 * parsed by jansson as one value, and each element of an item array
 * (messages, statuses, message_echoes of a value) is parsed once to check
 * it, freed, and replaced by an integer: the index of its span of bytes,
 * which walk_change() parses again when its turn comes.  So all of the
 * body is checked as before (JSON, duplicate keys) before anything is
 * emitted, and the items are held one at a time.  Anything unexpected
 * (not an object at the root, trailing bytes, an error) makes
 * skeleton() fail, and the caller parses the whole body as a tree, which
 * gives the same answer and the same error message as for a small body.
 */
#ifndef SKELETON_MIN_BYTES   /* tests may build with 0 */
#define SKELETON_MIN_BYTES (256u << 10)
#endif
#define SKELETON_FLAGS (JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY | \
			JSON_REJECT_DUPLICATES)

enum sk_level { SK_ROOT, SK_ENTRIES, SK_ENTRY, SK_CHANGES, SK_CHANGE, SK_VALUE,
		SK_ITEMS, SK_ANY };

struct skel {
	const char *p;
	size_t len, pos;
	struct span *spans;     /* malloc'd */
	size_t n, cap;
};

static void sk_ws(struct skel *z)
{
	while (z->pos < z->len && (z->p[z->pos] == ' ' || z->p[z->pos] == '\t' ||
				   z->p[z->pos] == '\n' || z->p[z->pos] == '\r'))
		z->pos++;
}

/* The next byte after white space, or 0 at the end. */
static char sk_peek(struct skel *z)
{
	sk_ws(z);
	return z->pos < z->len ? z->p[z->pos] : 0;
}

/* One whole value parsed by jansson at z->pos (new reference), or NULL. */
static json_t *sk_jansson(struct skel *z)
{
	json_error_t e;
	json_t *v = json_loadb(z->p + z->pos, z->len - z->pos, SKELETON_FLAGS, &e);

	if (v)
		z->pos += (size_t)e.position;
	return v;
}

static json_t *sk_value(struct skel *z, enum sk_level level);

/* One element of an item array: checked, then an index into spans[]. */
static json_t *sk_item(struct skel *z)
{
	size_t start = z->pos;
	json_t *v = sk_jansson(z);

	if (v == NULL)
		return NULL;
	json_decref(v);
	if (z->n == z->cap) {
		size_t cap = z->cap ? z->cap * 2 : 64;
		struct span *p = realloc(z->spans, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		z->spans = p;
		z->cap = cap;
	}
	z->spans[z->n].off = start;
	z->spans[z->n].len = z->pos - start;
	return json_integer((json_int_t)z->n++);
}

static json_t *sk_array(struct skel *z, enum sk_level level)
{
	json_t *a = json_array(), *v;

	z->pos++;   /* '[' */
	if (a == NULL)
		return NULL;
	if (sk_peek(z) == ']') {
		z->pos++;
		return a;
	}
	for (;;) {
		sk_ws(z);
		if (level == SK_ITEMS)
			v = sk_item(z);
		else
			v = sk_value(z, level == SK_ENTRIES ? SK_ENTRY
				     : level == SK_CHANGES ? SK_CHANGE : SK_ANY);
		if (v == NULL || json_array_append_new(a, v) != 0)
			break;
		if (sk_peek(z) == ',') {
			z->pos++;
			continue;
		}
		if (sk_peek(z) == ']') {
			z->pos++;
			return a;
		}
		break;
	}
	json_decref(a);
	return NULL;
}

/* Which level the member `key` of an object at `level` is. */
static enum sk_level sk_child(enum sk_level level, const char *key)
{
	if (level == SK_ROOT && strcmp(key, "entry") == 0)
		return SK_ENTRIES;
	if (level == SK_ENTRY && strcmp(key, "changes") == 0)
		return SK_CHANGES;
	if (level == SK_CHANGE && strcmp(key, "value") == 0)
		return SK_VALUE;
	if (level == SK_VALUE && is_item_array(key))
		return SK_ITEMS;
	return SK_ANY;
}

static json_t *sk_object(struct skel *z, enum sk_level level)
{
	json_t *o = json_object(), *k = NULL;

	z->pos++;   /* '{' */
	if (o == NULL)
		return NULL;
	if (sk_peek(z) == '}') {
		z->pos++;
		return o;
	}
	for (;;) {
		enum sk_level child;
		const char *key;
		json_t *v;

		if (sk_peek(z) != '"' || (k = sk_jansson(z)) == NULL)
			break;
		key = json_string_value(k);
		if (key == NULL || json_object_get(o, key) != NULL || sk_peek(z) != ':')
			break;
		z->pos++;
		child = sk_child(level, key);
		v = sk_value(z, child);
		if (v == NULL || json_object_set_new(o, key, v) != 0)
			break;
		json_decref(k);
		k = NULL;
		if (sk_peek(z) == ',') {
			z->pos++;
			continue;
		}
		if (sk_peek(z) == '}') {
			z->pos++;
			return o;
		}
		break;
	}
	json_decref(k);
	json_decref(o);
	return NULL;
}

static json_t *sk_value(struct skel *z, enum sk_level level)
{
	char c = sk_peek(z);

	if (c == '{' && (level == SK_ROOT || level == SK_ENTRY ||
			 level == SK_CHANGE || level == SK_VALUE))
		return sk_object(z, level);
	if (c == '[' && (level == SK_ENTRIES || level == SK_CHANGES ||
			 level == SK_ITEMS))
		return sk_array(z, level);
	return sk_jansson(z);
}

/*
 * The skeleton of the body `json` (see above) and its spans (*spans
 * malloc'd, caller frees), or NULL: then parse it whole.
 */
static json_t *skeleton_tree(const char *json, size_t len, struct span **spans,
			     size_t *n)
{
	struct skel z;
	json_t *root = NULL;

	memset(&z, 0, sizeof(z));
	z.p = json;
	z.len = len;
	*spans = NULL;
	*n = 0;
	if (sk_peek(&z) == '{')
		root = sk_value(&z, SK_ROOT);
	if (root != NULL && sk_peek(&z) == 0 && z.pos == len) {
		*spans = z.spans;
		*n = z.n;
		return root;
	}
	json_decref(root);
	free(z.spans);
	return NULL;
}

/* ---- public -------------------------------------------------------------- */

int cl_cloudapi_import_body(const char *json, size_t len,
			    const struct cl_import_sink *sink,
			    uint64_t *n_items, char **err)
{
	struct body_ctx b;
	json_error_t jerr;
	json_t *root = NULL;
	struct span *spans = NULL;
	int rc;

	if (n_items)
		*n_items = 0;
	if ((rc = cl_import_check_sink(sink, err)))
		return rc;
	memset(&b, 0, sizeof(b));
	if (len >= SKELETON_MIN_BYTES)
		root = skeleton_tree(json, len, &spans, &b.nspans);
	b.spans = spans;
	if (root == NULL)
		root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return cl_error(err, CL_EINVAL,
				"webhook body is not valid JSON (line %d, column %d)",
				jerr.line, jerr.column);
	if (!is_body(root)) {
		rc = cl_error(err, CL_EINVAL,
			      "webhook body is not a whatsapp_business_account "
			      "object with an 'entry' array");
		goto out;
	}
	b.sink = sink;
	b.exact = json;
	b.exact_len = len;
	rc = walk_body(&b, root);
	if (n_items)
		*n_items = b.item;
out:
	json_decref(root);
	free(spans);
	return rc;
}

int cl_cloudapi_import_file(const char *path, const struct cl_import_opts *o,
			    const struct cl_import_sink *sink, char **err)
{
	const char *name = o && o->input_name ? o->input_name : path;
	struct body_ctx b;
	struct cl_buf file;
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	size_t i, bodies = 0;
	int rc;

	cl_buf_init(&file, CL_CLOUDAPI_MAX_FILE);
	memset(&b, 0, sizeof(b));
	b.sink = sink;
	if ((rc = cl_import_check_sink(sink, err)) ||
	    (rc = cl_file_read(path, &file, CL_CLOUDAPI_MAX_FILE, err)))
		goto out;
	root = json_loadb(file.data ? (const char *)file.data : "", file.len,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rc = cl_error(err, CL_EINVAL, "'%s' is not valid JSON (line %d, column %d)",
			      name, jerr.line, jerr.column);
		goto out;
	}
	if (json_object_get(root, "object")) {
		if (!is_body(root)) {
			rc = cl_error(err, CL_EINVAL,
				      "'%s' is not a whatsapp_business_account webhook body",
				      name);
			goto out;
		}
		b.exact = (const char *)file.data;
		b.exact_len = file.len;
		rc = walk_body(&b, root);
		goto out;
	}
	/* A collection: an object or array of bodies. */
	if (json_is_object(root)) {
		json_object_foreach(root, key, v)
			bodies += (size_t)is_body(v);
	} else {
		json_array_foreach(root, i, v)
			bodies += (size_t)is_body(v);
	}
	if (bodies == 0) {
		rc = cl_error(err, CL_EINVAL,
			      "'%s' is neither a webhook body nor a collection of bodies",
			      name);
		goto out;
	}
	if (json_is_object(root)) {
		json_object_foreach(root, key, v) {
			if (is_body(v)) {
				rc = walk_body(&b, v);
			} else {
				b.item++;
				rc = bad_item(&b, v, "collection member is not a "
					      "whatsapp_business_account webhook body");
			}
			if (rc)
				goto out;
		}
	} else {
		json_array_foreach(root, i, v) {
			if (is_body(v)) {
				rc = walk_body(&b, v);
			} else {
				b.item++;
				rc = bad_item(&b, v, "collection member is not a "
					      "whatsapp_business_account webhook body");
			}
			if (rc)
				goto out;
		}
	}
out:
	json_decref(root);
	cl_buf_release(&file);
	return rc;
}
