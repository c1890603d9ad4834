/*
 * record.c - validate and normalise one message record (record.h).
 *
 * Error messages name the field and the rule, never the value: the value
 * may be message content, and errors end up in logs.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ingest/record.h"
#include "archiver/parties/ident.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

void cl_record_release(struct cl_record *r)
{
	free(r->canonical);
	free(r->key);
	free(r->conv);
	free(r->attrs);
	free(r->idents);
	free(r->fp);
	memset(r, 0, sizeof(*r));
}

/* A required or optional string member of `obj`, length-checked. */
static int get_str(json_t *obj, const char *field, const char *name,
		   int required, size_t max, const char **out, char **err)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return cl_error(err, CL_EINVAL,
					"missing required field '%s'", name);
		return CL_OK;
	}
	if (!json_is_string(v))
		return cl_error(err, CL_EINVAL, "field '%s' must be a string",
				name);
	if (json_string_length(v) > max)
		return cl_error(err, CL_EINVAL,
				"field '%s' is too long (%zu bytes, limit %zu)",
				name, json_string_length(v), max);
	if (required && json_string_length(v) == 0)
		return cl_error(err, CL_EINVAL, "field '%s' is empty", name);
	*out = json_string_value(v);
	return CL_OK;
}

/* Parse an RFC 3339 member and rewrite it in place as UTC. */
static int norm_time(json_t *obj, const char *field, int required,
		     int64_t *ms, char **err)
{
	const char *s;
	char buf[32];
	int rc = get_str(obj, field, field, required, 64, &s, err);

	*ms = CL_TIME_NONE;
	if (rc || s == NULL)
		return rc;
	if (cl_time_parse(s, strlen(s), ms) != CL_OK)
		return cl_error(err, CL_EINVAL,
				"field '%s' is not an RFC 3339 date-time",
				field);
	if (*ms < 0 || *ms > 253402300799999LL)
		return cl_error(err, CL_EINVAL,
				"field '%s' is outside years 1970-9999", field);
	cl_time_format(*ms, buf);
	if (json_object_set_new(obj, field, json_string(buf)) != 0)
		return CL_ENOMEM;
	return CL_OK;
}

static int check_attachments(json_t *arr, char **err)
{
	size_t i;
	json_t *a;

	if (!json_is_array(arr))
		return cl_error(err, CL_EINVAL, "field 'attachments' must be an array");
	if (json_array_size(arr) > CL_RECORD_MAX_ATTACH)
		return cl_error(err, CL_EINVAL, "too many attachments (limit %u)",
				CL_RECORD_MAX_ATTACH);
	json_array_foreach(arr, i, a) {
		const char *s;
		json_t *size;
		unsigned char h[32];

		if (!json_is_object(a))
			return cl_error(err, CL_EINVAL,
					"attachments[%zu] must be an object", i);
		if (get_str(a, "name", "attachments[].name", 0, CL_RECORD_MAX_ID, &s, err) ||
		    get_str(a, "mime", "attachments[].mime", 0, 255, &s, err))
			return CL_EINVAL;
		size = json_object_get(a, "size");
		if (size && !(json_is_integer(size) && json_integer_value(size) >= 0))
			return cl_error(err, CL_EINVAL,
					"attachments[%zu].size must be a non-negative integer", i);
		if (get_str(a, "sha256", "attachments[].sha256", 0, 64, &s, err))
			return CL_EINVAL;
		if (s && cl_hex_decode(s, h, sizeof(h)) != CL_OK)
			return cl_error(err, CL_EINVAL,
					"attachments[%zu].sha256 must be 64 hex digits", i);
	}
	return CL_OK;
}

static int check_labels(json_t *arr, char **err)
{
	size_t i;
	json_t *l;

	if (!json_is_array(arr))
		return cl_error(err, CL_EINVAL, "field 'labels' must be an array");
	if (json_array_size(arr) > CL_RECORD_MAX_LABELS)
		return cl_error(err, CL_EINVAL, "too many labels (limit %u)",
				CL_RECORD_MAX_LABELS);
	json_array_foreach(arr, i, l) {
		if (!json_is_string(l) || json_string_length(l) == 0 ||
		    json_string_length(l) > 128)
			return cl_error(err, CL_EINVAL,
					"labels[%zu] must be a string of 1-128 bytes", i);
	}
	return CL_OK;
}

static int check_identifiers(json_t *arr, char **err)
{
	size_t i;
	json_t *x;
	char c[CL_IDENT_MAX];

	if (!json_is_array(arr))
		return cl_error(err, CL_EINVAL, "field 'identifiers' must be an array");
	if (json_array_size(arr) > CL_RECORD_MAX_IDENTS)
		return cl_error(err, CL_EINVAL, "too many identifiers (limit %u)",
				CL_RECORD_MAX_IDENTS);
	json_array_foreach(arr, i, x) {
		if (!json_is_string(x) || json_string_length(x) == 0 ||
		    json_string_length(x) > CL_RECORD_MAX_ID ||
		    cl_ident_canon(json_string_value(x), NULL, c) != CL_OK)
			return cl_error(err, CL_EINVAL,
					"identifiers[%zu] must be a string of 1-%u bytes",
					i, CL_RECORD_MAX_ID);
	}
	return CL_OK;
}

/* The canonical identifiers a source says belong to one party. */
static int idents_of(json_t *arr, struct cl_record *r)
{
	struct cl_buf b;
	json_t *x;
	size_t i;
	char c[CL_IDENT_MAX];
	int rc = CL_OK;

	if (json_array_size(arr) < 2)
		return CL_OK;
	cl_buf_init(&b, CL_RECORD_MAX_IDENTS * CL_IDENT_MAX);
	json_array_foreach(arr, i, x) {
		if (cl_ident_canon(json_string_value(x), NULL, c) == CL_OK &&
		    (rc = cl_buf_add(&b, c, strlen(c) + 1)))
			break;
		r->n_idents++;
	}
	if (rc == CL_OK)
		r->idents = (char *)cl_buf_detach(&b, &r->idents_len);
	cl_buf_release(&b);
	return rc;
}

/* Add o's labels for this account to the record's labels (once each). */
static int add_label(json_t *root, const char *label)
{
	json_t *arr = json_object_get(root, "labels"), *x;
	size_t i;

	if (arr == NULL) {
		arr = json_array();
		if (arr == NULL || json_object_set_new(root, "labels", arr))
			return CL_ENOMEM;
	}
	json_array_foreach(arr, i, x) {
		if (strcmp(json_string_value(x), label) == 0)
			return CL_OK;
	}
	return json_array_append_new(arr, json_string(label)) ? CL_ENOMEM : CL_OK;
}

static int classify(json_t *root, const char *account, const struct cl_record_opts *o)
{
	const char *ls[CL_RECORD_MAX_LABELS];
	size_t i, n;
	int rc;

	for (i = 0; i < o->n_labels; i++)
		if ((rc = add_label(root, o->labels[i])))
			return rc;
	if (o->account_labels == NULL)
		return CL_OK;
	n = o->account_labels(o->ctx, account, ls, CL_RECORD_MAX_LABELS);
	for (i = 0; i < n; i++)
		if ((rc = add_label(root, ls[i])))
			return rc;
	return CL_OK;
}

static int check_raw(json_t *obj, char **err)
{
	const char *s;
	struct cl_buf b;
	int rc = get_str(obj, "raw", "raw", 0, CL_RECORD_MAX_RAW, &s, err);

	if (rc || s == NULL)
		return rc;
	cl_buf_init(&b, CL_RECORD_MAX_RAW);
	rc = cl_b64_decode(s, strlen(s), &b);
	cl_buf_release(&b);
	if (rc == CL_ENOMEM)
		return rc;
	if (rc)
		return cl_error(err, CL_EINVAL, "field 'raw' is not valid base64");
	return CL_OK;
}

/* Append one "type=value\0" attribute. */
static int attr(struct cl_buf *b, const char *type, const char *value)
{
	int rc = cl_buf_addf(b, "%s=", type);

	if (rc == CL_OK)
		rc = cl_buf_add(b, value, strlen(value) + 1);
	return rc;
}

/* "party=<canonical identifier>" for `raw` (NULL or empty: nothing). */
static int party_attr(struct cl_buf *b, const char *raw, const char *type_hint)
{
	char c[CL_IDENT_MAX];

	if (raw == NULL || raw[0] == 0 || cl_ident_canon(raw, type_hint, c) != CL_OK)
		return CL_OK;
	return attr(b, "party", c);
}

/*
 * The attributes retention rules, holds and searches select on: the
 * account, the conversation, every participant (the sender, and in a
 * direct conversation its counterpart), each label and the source; and
 * the canonical party identifiers (archiver/parties/ident.h) of the
 * sender's id and name, the counterpart of a direct conversation (its id,
 * conversation.peer_phone and conversation.peer_name) and every member of
 * `identifiers`.
 */
static int build_attrs(json_t *root, const char *account, const char *conv_id,
		       const char *sender_id, const char *source,
		       struct cl_buf *b)
{
	json_t *conv = json_object_get(root, "conversation");
	json_t *labels = json_object_get(root, "labels"), *l;
	json_t *ids = json_object_get(root, "identifiers");
	const char *type = json_string_value(json_object_get(conv, "type"));
	const char *sname = json_string_value(
		json_object_get(json_object_get(root, "sender"), "name"));
	int direct = type == NULL || strcmp(type, "group") != 0;
	size_t i;
	int rc;

	if ((rc = attr(b, "account", account)) ||
	    (rc = attr(b, "conversation", conv_id)) ||
	    (rc = attr(b, "participant", sender_id)) ||
	    (rc = attr(b, "source", source)))
		return rc;
	if (direct && strcmp(conv_id, sender_id) != 0 &&
	    (rc = attr(b, "participant", conv_id)))
		return rc;
	json_array_foreach(labels, i, l) {
		if ((rc = attr(b, "label", json_string_value(l))))
			return rc;
	}
	if (strcmp(sender_id, "system") != 0 && (rc = party_attr(b, sender_id, NULL)))
		return rc;
	if ((rc = party_attr(b, sname, "name")))
		return rc;
	if (direct &&
	    ((rc = party_attr(b, conv_id, NULL)) ||
	     (rc = party_attr(b, json_string_value(json_object_get(conv, "peer_phone")),
			      NULL)) ||
	     (rc = party_attr(b, json_string_value(json_object_get(conv, "peer_name")),
			      "name"))))
		return rc;
	json_array_foreach(ids, i, l) {
		if ((rc = party_attr(b, json_string_value(l), NULL)))
			return rc;
	}
	return CL_OK;
}

/*
 * What a redelivery must agree on to be "the same message": the content
 * fields, not delivery metadata (received_at, raw bytes, export line
 * numbers, names, labels), which legitimately differ between a webhook
 * retry, a collector replay and a later export.
 */
static char *fingerprint(json_t *root)
{
	static const char *const fields[] = {
		"kind", "direction", "sent_at", "text", "target", "reply_to", NULL
	};
	json_t *o = json_object(), *v, *att;
	char *out;
	size_t i;

	if (o == NULL)
		return NULL;
	for (i = 0; fields[i]; i++)
		if ((v = json_object_get(root, fields[i])) != NULL)
			json_object_set(o, fields[i], v);
	v = json_object_get(json_object_get(root, "sender"), "id");
	if (v)
		json_object_set(o, "sender", v);
	att = json_object_get(root, "attachments");
	if (json_is_array(att)) {
		json_t *list = json_array(), *a;

		json_array_foreach(att, i, a) {
			json_t *h = json_object_get(a, "sha256");

			json_array_append(list, h ? h : json_null());
		}
		json_object_set_new(o, "attachments", list);
	}
	out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return out;
}

/* Append a length-prefixed field to key material (unambiguous joining). */
static int key_part(struct cl_buf *b, const char *s)
{
	size_t n = strlen(s);
	int rc = cl_buf_add_be32(b, (uint32_t)n);

	return rc ? rc : cl_buf_add(b, s, n);
}

int cl_record_parse(const char *json, size_t len, struct cl_record *r,
		    char **err)
{
	return cl_record_parse_opts(json, len, NULL, r, err);
}

/*
 * The common part of both entry points: validate and normalise `root`
 * (borrowed; defaults and labels are written into it).  `cap` > 0 also
 * refuses canonical bytes longer than `cap` with CL_ETOOBIG.
 */
static int from_json(json_t *root, const struct cl_record_opts *o, size_t cap,
		     struct cl_record *r, char **err)
{
	json_t *conv, *sender, *v;
	const char *account, *conv_id, *id, *sender_id, *dir, *kind, *source;
	const char *s;
	json_int_t revision = 0;
	struct cl_buf key, cv, at;
	char revbuf[32];
	int rc = CL_OK;

	memset(r, 0, sizeof(*r));
	cl_buf_init(&key, 4 * CL_RECORD_MAX_ID + 64);
	cl_buf_init(&cv, 3 * CL_RECORD_MAX_ID + 64);
	cl_buf_init(&at, 8 * CL_RECORD_MAX_ID + 160 * CL_RECORD_MAX_LABELS);
	if (!json_is_object(root)) {
		rc = cl_error(err, CL_EINVAL, "record must be a JSON object");
		goto out;
	}
	conv = json_object_get(root, "conversation");
	sender = json_object_get(root, "sender");
	if (conv == NULL || !json_is_object(conv)) {
		rc = cl_error(err, CL_EINVAL,
			      "missing required field 'conversation.id'");
		goto out;
	}
	if (sender == NULL || !json_is_object(sender)) {
		rc = cl_error(err, CL_EINVAL, "missing required field 'sender.id'");
		goto out;
	}
	if ((rc = get_str(root, "account", "account", 1, CL_RECORD_MAX_ID, &account, err)) ||
	    (rc = get_str(conv, "id", "conversation.id", 1, CL_RECORD_MAX_ID, &conv_id, err)) ||
	    (rc = get_str(root, "id", "id", 1, CL_RECORD_MAX_ID, &id, err)) ||
	    (rc = get_str(sender, "id", "sender.id", 1, CL_RECORD_MAX_ID, &sender_id, err)) ||
	    (rc = get_str(root, "direction", "direction", 1, 16, &dir, err)) ||
	    (rc = get_str(root, "kind", "kind", 1, CL_KIND_MAX, &kind, err)) ||
	    (rc = get_str(root, "source", "source", 0, 32, &source, err)) ||
	    (rc = get_str(conv, "type", "conversation.type", 0, 16, &s, err)))
		goto out;
	if (!account || !conv_id || !id || !sender_id || !dir || !kind) {
		rc = CL_EINVAL; /* get_str() reports required fields; belt and braces */
		goto out;
	}
	if (strcmp(dir, "in") != 0 && strcmp(dir, "out") != 0) {
		rc = cl_error(err, CL_EINVAL, "field 'direction' must be \"in\" or \"out\"");
		goto out;
	}
	if (s && strcmp(s, "direct") != 0 && strcmp(s, "group") != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "field 'conversation.type' must be \"direct\" or \"group\"");
		goto out;
	}
	if (!cl_kind_valid(kind)) {
		rc = cl_error(err, CL_EINVAL,
			      "field 'kind' must be 1-32 of [a-z0-9_-] starting with a letter");
		goto out;
	}
	if (source && !cl_kind_valid(source)) {
		rc = cl_error(err, CL_EINVAL,
			      "field 'source' must be 1-32 of [a-z0-9_-] starting with a letter");
		goto out;
	}
	if ((rc = get_str(conv, "name", "conversation.name", 0, CL_RECORD_MAX_ID, &s, err)) ||
	    (rc = get_str(sender, "name", "sender.name", 0, CL_RECORD_MAX_ID, &s, err)) ||
	    (rc = get_str(root, "text", "text", 0, CL_RECORD_MAX_TEXT, &s, err)) ||
	    (rc = get_str(root, "reply_to", "reply_to", 0, CL_RECORD_MAX_ID, &s, err)) ||
	    (rc = get_str(root, "target", "target", 0, CL_RECORD_MAX_ID, &s, err)))
		goto out;
	v = json_object_get(sender, "device");
	if (v && !json_is_string(v) && !json_is_integer(v)) {
		rc = cl_error(err, CL_EINVAL, "field 'sender.device' must be a string or integer");
		goto out;
	}
	v = json_object_get(root, "revision");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 0) {
			rc = cl_error(err, CL_EINVAL,
				      "field 'revision' must be a non-negative integer");
			goto out;
		}
		revision = json_integer_value(v);
	}
	if ((v = json_object_get(root, "attachments")) && (rc = check_attachments(v, err)))
		goto out;
	if ((v = json_object_get(root, "labels")) && (rc = check_labels(v, err)))
		goto out;
	if (o && (rc = classify(root, account, o)))
		goto out;
	if (o && (v = json_object_get(root, "labels")) && (rc = check_labels(v, err)))
		goto out;
	if ((v = json_object_get(root, "identifiers")) && (rc = check_identifiers(v, err)))
		goto out;
	if ((rc = get_str(conv, "peer_name", "conversation.peer_name", 0, CL_RECORD_MAX_ID,
			  &s, err)))
		goto out;
	if ((rc = check_raw(root, err)))
		goto out;
	if ((rc = norm_time(root, "sent_at", 1, &r->sent_at, err)) ||
	    (rc = norm_time(root, "received_at", 0, &r->received_at, err)))
		goto out;

	/* Defaults are written into the record so the canonical bytes say
	 * exactly what was assumed. */
	if (source == NULL) {
		if (json_object_set_new(root, "source", json_string("jsonl"))) {
			rc = CL_ENOMEM;
			goto out;
		}
		source = "jsonl";
	}
	if (json_object_get(root, "revision") == NULL &&
	    json_object_set_new(root, "revision", json_integer(0))) {
		rc = CL_ENOMEM;
		goto out;
	}
	(void)cl_fmt(revbuf, sizeof(revbuf), "%lld", (long long)revision);
	if ((rc = cl_buf_addstr(&key, "chatledger/key/v1")) ||
	    (rc = key_part(&key, source)) || (rc = key_part(&key, account)) ||
	    (rc = key_part(&key, conv_id)) || (rc = key_part(&key, id)) ||
	    (rc = key_part(&key, revbuf)))
		goto out;
	if ((rc = cl_buf_addstr(&cv, "chatledger/conversation/v1")) ||
	    (rc = key_part(&cv, account)) || (rc = key_part(&cv, conv_id)))
		goto out;
	if ((rc = build_attrs(root, account, conv_id, sender_id, source, &at)))
		goto out;
	memcpy(r->kind, kind, strlen(kind) + 1);
	memcpy(r->source, source, strlen(source) + 1);
	if ((rc = idents_of(json_object_get(root, "identifiers"), r)))
		goto out;
	r->canonical = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	if (r->canonical == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	r->canonical_len = strlen(r->canonical);
	if (cap && r->canonical_len > cap) {
		rc = cl_error(err, CL_ETOOBIG, "record too large (%zu bytes, limit %zu)",
			      r->canonical_len, cap);
		sodium_memzero(r->canonical, r->canonical_len);  /* message content */
		goto out;
	}
	r->fp = fingerprint(root);
	if (r->fp == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	r->fp_len = strlen(r->fp);
	r->key = (char *)cl_buf_detach(&key, &r->key_len);
	r->conv = (char *)cl_buf_detach(&cv, &r->conv_len);
	r->attrs = (char *)cl_buf_detach(&at, &r->attrs_len);
out:
	cl_buf_release(&key);
	cl_buf_release(&cv);
	cl_buf_release(&at);
	if (rc)
		cl_record_release(r);
	return rc;
}

int cl_record_parse_opts(const char *json, size_t len, const struct cl_record_opts *o,
			 struct cl_record *r, char **err)
{
	json_t *root;
	json_error_t jerr;
	int rc;

	memset(r, 0, sizeof(*r));
	if (len > CL_RECORD_MAX_LINE)
		return cl_error(err, CL_EINVAL, "record too large (%zu bytes, limit %u)",
				len, CL_RECORD_MAX_LINE);
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return cl_error(err, CL_EINVAL, "malformed JSON at column %d: %s",
				jerr.column, jerr.text);
	rc = from_json(root, o, 0, r, err);
	json_decref(root);
	return rc;
}

int cl_record_from_json(json_t *root, const struct cl_record_opts *o,
			struct cl_record *r, char **err)
{
	return from_json(root, o, CL_RECORD_MAX_LINE, r, err);
}
