/*
 * rsmf.c - RSMF 2.0 for one conversation slice (bundle_int.h,
 * docs/BUNDLE.md §3): the manifest (jansson), the plain-text rendering and
 * the EML container with rsmf.zip.  Mapping:
 *   record kind "reaction" (target T)  -> reactions[] of T's event
 *   kind "edit" (target T), or a later revision of T's id -> edits[] of T
 *                                         {participant, timestamp, previous, new}
 *   kind "revoke"/"deleted" (target T) -> deleted: true on T
 *   kind "join"/"leave"                -> event type join/leave
 *   reply_to T                         -> parent (T in the slice)
 *   direction in/out                   -> incoming/outgoing
 *   the same message id and revision stored twice (a conflicting
 *   redelivery)                        -> a second event, importance high,
 *                                         custom conflicting_redelivery
 *   an erased record                   -> a "disclaimer" event naming the rule
 * Event ids are derived from the source message key, so they are the
 * same in every export.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "archiver/export/bundle_int.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

void cl_x_utc(int64_t ms, char out[32])
{
	cl_time_format(ms, out);
}

void cl_x_local(int64_t ms, int32_t off, char out[48])
{
	int64_t t = ms + (int64_t)off * 1000, days, sod;
	int64_t y;
	unsigned mo, d;
	int32_t a = off < 0 ? -off : off;

	days = t >= 0 ? t / 86400000 : -((-t + 86399999) / 86400000);
	sod = (t - days * 86400000) / 1000;
	cl_civil_from_days(days, &y, &mo, &d);
	cl_fmt(out, 48, "%04lld-%02u-%02u %02lld:%02lld:%02lld %c%02d:%02d",
	       (long long)y, mo, d, (long long)(sod / 3600), (long long)(sod / 60 % 60),
	       (long long)(sod % 60), off < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *jstr2(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

static void add_custom(json_t *ev, const char *name, const char *value)
{
	json_t *c = json_object_get(ev, "custom");

	if (value == NULL)
		return;
	if (c == NULL) {
		c = json_array();
		json_object_set_new(ev, "custom", c);
	}
	json_array_append_new(c, json_pack("{s:s,s:s}", "name", name, "value", value));
}

static void event_id(const struct cl_xslice *s, const json_t *rec, char out[40])
{
	struct cl_sha256_ctx st;
	unsigned char h[32];
	char rev[24];
	const char *parts[3];
	int i;

	parts[0] = s->account;
	parts[1] = s->conv_id;
	parts[2] = jstr(rec, "id");
	cl_fmt(rev, sizeof(rev), "%lld", (long long)json_integer_value(json_object_get(rec, "revision")));
	cl_sha256_init(&st);
	cl_sha256_update(&st, (const unsigned char *)"chatledger/rsmf/event/v1", 24);
	for (i = 0; i < 3; i++) {
		const char *p = parts[i] ? parts[i] : "";

		cl_sha256_update(&st, (const unsigned char *)"\n", 1);
		cl_sha256_update(&st, (const unsigned char *)p, strlen(p));
	}
	cl_sha256_update(&st, (const unsigned char *)"\n", 1);
	cl_sha256_update(&st, (const unsigned char *)rev, strlen(rev));
	cl_sha256_final(&st, h);
	out[0] = 'e';
	for (i = 0; i < 12; i++)
		cl_fmt(out + 1 + 2 * i, 3, "%02x", h[i]);
}

static void participant(json_t *parts, const char *id, const char *name)
{
	json_t *p;

	if (id == NULL || json_object_get(parts, id))
		return;
	p = json_pack("{s:s,s:s,s:s}", "id", id, "display", name ? name : id, "account_id", id);
	json_object_set_new(parts, id, p);
}

static int is_kind(const json_t *rec, const char *k)
{
	const char *v = jstr(rec, "kind");

	return v && strcmp(v, k) == 0;
}

json_t *cl_rsmf_manifest(struct cl_xslice *s, size_t *events, size_t *atts)
{
	json_t *m = json_object(), *parts = json_object(), *evs = json_array();
	json_t *byid = json_object(); /* source id -> event (borrowed) */
	json_t *conv, *plist, *ev, *pv;
	const char *k;
	char ts[32];
	size_t i, j;

	*events = 0;
	*atts = 0;
	participant(parts, s->account, NULL);
	for (i = 0; i < s->n; i++) {
		struct cl_xrec *x = &s->r[i];
		const json_t *rec = x->rec;
		const char *sid, *target, *text, *who;
		json_t *t;

		if (x->is_att)
			continue;
		cl_x_utc(x->sent_at, ts);
		if (x->erased) {
			cl_fmt(x->event_id, sizeof(x->event_id), "x%llu", (unsigned long long)x->index);
			ev = json_pack("{s:s,s:s,s:s,s:s}", "id", x->event_id, "type", "disclaimer",
				       "conversation", s->conv_id, "timestamp", ts);
			json_object_set_new(ev, "body", json_string(x->erased_note));
			json_array_append_new(evs, ev);
			continue;
		}
		sid = jstr(rec, "id");
		who = jstr2(rec, "sender", "id");
		participant(parts, who, jstr2(rec, "sender", "name"));
		target = jstr(rec, "target");
		text = jstr(rec, "text");
		event_id(s, rec, x->event_id);
		t = target ? json_object_get(byid, target) : NULL;
		if (t && is_kind(rec, "reaction")) {
			json_t *rs = json_object_get(t, "reactions"), *r = NULL;

			if (text == NULL || *text == 0)
				continue; /* a reaction removed: the record stays in the proofs */
			if (rs == NULL) {
				rs = json_array();
				json_object_set_new(t, "reactions", rs);
			}
			for (j = 0; j < json_array_size(rs); j++)
				if (strcmp(jstr(json_array_get(rs, j), "value"), text) == 0)
					r = json_array_get(rs, j);
			if (r == NULL) {
				r = json_pack("{s:s,s:I,s:[]}", "value", text, "count", (json_int_t)0,
					      "participants");
				json_array_append_new(rs, r);
			}
			json_object_set_new(r, "count", json_integer(json_integer_value(json_object_get(r, "count")) + 1));
			if (who)
				json_array_append_new(json_object_get(r, "participants"), json_string(who));
			continue;
		}
		/* An edit: kind edit with a target, or a later revision of an id. */
		if (t == NULL && sid && !is_kind(rec, "edit") && !is_kind(rec, "revoke") &&
		    !is_kind(rec, "deleted") && !is_kind(rec, "reaction")) {
			json_t *prev = json_object_get(byid, sid);
			json_int_t rv = json_integer_value(json_object_get(rec, "revision"));

			if (prev && rv > json_integer_value(json_object_get(prev, "x-revision")))
				t = prev;
			else if (prev)
				t = NULL; /* same revision again: a conflicting redelivery */
		}
		if (t && (is_kind(rec, "edit") || (!target && !is_kind(rec, "revoke")))) {
			json_t *es = json_object_get(t, "edits");
			const char *old = jstr(t, "body");

			if (es == NULL) {
				es = json_array();
				json_object_set_new(t, "edits", es);
			}
			ev = json_pack("{s:s,s:s}", "participant", who ? who : s->account, "timestamp", ts);
			if (old)
				json_object_set_new(ev, "previous", json_string(old));
			if (text) {
				json_object_set_new(ev, "new", json_string(text));
				json_object_set_new(t, "body", json_string(text));
			}
			json_array_append_new(es, ev);
			json_object_set_new(t, "x-revision", json_object_get(rec, "revision") ?
					    json_copy(json_object_get(rec, "revision")) : json_integer(0));
			continue;
		}
		if (t && (is_kind(rec, "revoke") || is_kind(rec, "deleted"))) {
			json_object_set_new(t, "deleted", json_true());
			add_custom(t, "deleted_at", ts);
			add_custom(t, "deleted_by", who);
			continue;
		}
		k = is_kind(rec, "join") ? "join" : is_kind(rec, "leave") ? "leave" : "message";
		ev = json_pack("{s:s,s:s,s:s,s:s}", "id", x->event_id, "type", k,
			       "conversation", s->conv_id, "timestamp", ts);
		if (who)
			json_object_set_new(ev, "participant", json_string(who));
		if (text)
			json_object_set_new(ev, "body", json_string(text));
		if (jstr(rec, "direction"))
			json_object_set_new(ev, "direction", json_string(
				strcmp(jstr(rec, "direction"), "out") == 0 ? "outgoing" : "incoming"));
		if (jstr(rec, "reply_to") && (pv = json_object_get(byid, jstr(rec, "reply_to"))))
			json_object_set(ev, "parent", json_object_get(pv, "id"));
		else if (jstr(rec, "reply_to"))
			add_custom(ev, "reply_to_outside_slice", jstr(rec, "reply_to"));
		if (is_kind(rec, "revoke") || is_kind(rec, "deleted"))
			json_object_set_new(ev, "deleted", json_true());
		if (sid && json_object_get(byid, sid) && !target) {
			/* The same message id and revision with other content. */
			char alt[40];

			cl_fmt(alt, sizeof(alt), "%.25s-%llu", x->event_id, (unsigned long long)x->index);
			cl_fmt(x->event_id, sizeof(x->event_id), "%s", alt);
			json_object_set_new(ev, "id", json_string(x->event_id));
			json_object_set_new(ev, "importance", json_string("high"));
			add_custom(ev, "conflicting_redelivery", "true");
		}
		{
			char idx[24];

			cl_fmt(idx, sizeof(idx), "%llu", (unsigned long long)x->index);
			add_custom(ev, "ledger_index", idx);
		}
		if (x->redacted) {
			/* A masked rendering: its content is not proven. */
			add_custom(ev, "redacted", x->redacted);
		}
		add_custom(ev, "kind", jstr(rec, "kind"));
		add_custom(ev, "source", jstr(rec, "source"));
		if (json_is_string(json_object_get(json_object_get(rec, "sender"), "device")))
			add_custom(ev, "device", jstr2(rec, "sender", "device"));
		else if (json_is_integer(json_object_get(json_object_get(rec, "sender"), "device"))) {
			char dv[24];

			cl_fmt(dv, sizeof(dv), "%lld", (long long)json_integer_value(
				json_object_get(json_object_get(rec, "sender"), "device")));
			add_custom(ev, "device", dv);
		}
		if (target && !t)
			add_custom(ev, "target_outside_slice", target);
		json_object_set_new(ev, "x-revision", json_object_get(rec, "revision") ?
				    json_copy(json_object_get(rec, "revision")) : json_integer(0));
		/* Attachments delivered with this record. */
		for (j = i + 1; j < s->n && s->r[j].is_att && s->r[j].att_of == x->index; j++) {
			json_t *as = json_object_get(ev, "attachments");

			if (as == NULL) {
				as = json_array();
				json_object_set_new(ev, "attachments", as);
			}
			json_array_append_new(as, json_pack("{s:s,s:s,s:I}", "id", s->r[j].zip_id,
				"display", s->r[j].zip_id + 17, "size", (json_int_t)s->r[j].size));
			(*atts)++;
		}
		json_array_append_new(evs, ev);
		if (sid && !json_object_get(byid, sid))
			json_object_set(byid, sid, ev);
	}
	/* Drop the working member and fill the participant list. */
	for (i = 0; i < json_array_size(evs); i++)
		json_object_del(json_array_get(evs, i), "x-revision");
	plist = json_array();
	json_object_foreach(parts, k, pv)
		json_array_append_new(plist, json_string(k));
	conv = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s}", "id", s->conv_id,
			 "display", s->conv_name ? s->conv_name : s->conv_id,
			 "platform", s->platform,
			 "type", s->conv_type && strcmp(s->conv_type, "group") == 0 ? "channel" : "direct",
			 "participants", plist, "custodian", s->account);
	{
		json_t *pa = json_array();

		json_object_foreach(parts, k, pv)
			json_array_append(pa, pv);
		json_object_set_new(m, "participants", pa);
	}
	json_object_set_new(m, "version", json_string("2.0.0"));
	json_object_set_new(m, "eventcollectionid", json_string(s->collection));
	json_object_set_new(m, "conversations", json_pack("[o]", conv));
	*events = json_array_size(evs);
	json_object_set_new(m, "events", evs);
	json_decref(parts);
	json_decref(byid);
	return m;
}

/* ---- text and EML ------------------------------------------------------ */

int cl_rsmf_text(const struct cl_xslice *s, struct cl_spool *out, char **err)
{
	char lt[48];
	size_t i;
	int rc = CL_OK;

	for (i = 0; i < s->n && rc == CL_OK; i++) {
		const struct cl_xrec *x = &s->r[i];

		cl_x_local(x->sent_at, s->tz_off, lt);
		if (x->is_att)
			rc = cl_spool_addf(out, err, "%s  [attachment %s, %llu bytes, sha256 %s]\n",
					   lt, x->zip_id + 17, (unsigned long long)x->size, x->sha256);
		else if (x->erased)
			rc = cl_spool_addf(out, err, "%s  [%s]\n", lt, x->erased_note);
		else
			rc = cl_spool_addf(out, err, "%s  %s%s%s%s (%s) [%s]: %s\n", lt,
					   x->redacted ? "[REDACTED: " : "",
					   x->redacted ? x->redacted : "", x->redacted ? "] " : "",
					   jstr2(x->rec, "sender", "name") ? jstr2(x->rec, "sender", "name") : "",
					   jstr2(x->rec, "sender", "id") ? jstr2(x->rec, "sender", "id") : "",
					   jstr(x->rec, "kind") ? jstr(x->rec, "kind") : "",
					   jstr(x->rec, "text") ? jstr(x->rec, "text") : "");
	}
	return rc;
}

/* A header value: ASCII as is, else an RFC 2047 encoded word (base64). */
static int header(struct cl_spool *out, const char *name, const char *v, char **err)
{
	const unsigned char *p;
	int ascii = 1;

	for (p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			ascii = 0;
	if (ascii)
		return cl_spool_addf(out, err, "%s: %s\r\n", name, v);
	{
		struct cl_buf b;
		int rc;

		cl_buf_init(&b, 1u << 16);
		if ((rc = cl_b64_add(&b, (const unsigned char *)v, strlen(v))) == CL_OK) {
			cl_buf_add(&b, "", 1);
			rc = cl_spool_addf(out, err, "%s: =?UTF-8?B?%s?=\r\n", name, (const char *)b.data);
		}
		cl_buf_release(&b);
		return rc;
	}
}

struct b64ctx {
	EVP_ENCODE_CTX *e;
	struct cl_spool *out;
	char **err;
	unsigned char buf[8192];
};

/* EVP's base64 lines (64 chars + "\n") written with CRLF. */
static int b64_emit(struct b64ctx *c, const unsigned char *p, int n)
{
	int i, start = 0, rc;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if ((rc = cl_spool_add(c->out, p + start, (size_t)(i - start), c->err)) ||
			    (rc = cl_spool_add(c->out, "\r\n", 2, c->err)))
				return rc;
			start = i + 1;
		}
	}
	return cl_spool_add(c->out, p + start, (size_t)(n - start), c->err);
}

static int b64_chunk(void *ctx, const unsigned char *p, size_t n)
{
	struct b64ctx *c = ctx;
	int rc;

	while (n > 0) {
		int take = n > 4096 ? 4096 : (int)n, outl = 0;

		if (EVP_EncodeUpdate(c->e, c->buf, &outl, p, take) != 1)
			return cl_error(c->err, CL_EIO, "base64 failed");
		if ((rc = b64_emit(c, c->buf, outl)))
			return rc;
		p += take;
		n -= (size_t)take;
	}
	return CL_OK;
}

static int b64_spool(struct cl_spool *in, struct cl_spool *out, char **err)
{
	struct b64ctx *c = calloc(1, sizeof(*c));
	int rc, outl = 0;

	if (c == NULL || (c->e = EVP_ENCODE_CTX_new()) == NULL) {
		free(c);
		return cl_error(err, CL_ENOMEM, "out of memory");
	}
	c->out = out;
	c->err = err;
	EVP_EncodeInit(c->e);
	rc = cl_spool_each(in, b64_chunk, c, err);
	if (rc == CL_OK) {
		EVP_EncodeFinal(c->e, c->buf, &outl);
		rc = b64_emit(c, c->buf, outl);
	}
	EVP_ENCODE_CTX_free(c->e);
	free(c);
	return rc;
}

int cl_rsmf_eml(const struct cl_xslice *s, const json_t *manifest, size_t events,
		size_t atts, struct cl_spool *text, struct cl_spool *zip,
		struct cl_spool *out, char **err)
{
	char b[32], e[32], bound[64], subj[600];
	const json_t *ps = json_object_get(json_array_get(json_object_get(manifest, "conversations"), 0),
					   "participants");
	struct cl_buf plist;
	size_t i;
	int rc;

	cl_buf_init(&plist, 1u << 20);
	for (i = 0; i < json_array_size(ps); i++) {
		if (i)
			cl_buf_addstr(&plist, ", ");
		cl_buf_addstr(&plist, json_string_value(json_array_get(ps, i)));
	}
	cl_buf_add(&plist, "", 1);
	cl_x_utc(s->begin_ms, b);
	cl_x_utc(s->end_ms - 1, e);
	cl_fmt(bound, sizeof(bound), "=_chatledger_%s_%s", s->collection, s->date);
	cl_fmt(subj, sizeof(subj), "%.200s %s", s->conv_name ? s->conv_name : s->conv_id, s->date);
	if ((rc = cl_spool_addstr(out, "MIME-Version: 1.0\r\n", err)) ||
	    (rc = cl_spool_addf(out, err, "From: custodian <%s>\r\n",
				strchr(s->account, '@') && !strchr(s->account, ' ') &&
				!strchr(s->account, '<') ? s->account : "custodian@chatledger.invalid")) ||
	    (rc = header(out, "Subject", subj, err)) ||
	    (rc = cl_spool_addf(out, err, "Message-ID: <%s.%s@chatledger.invalid>\r\n", s->collection, s->date)) ||
	    (rc = cl_spool_addstr(out, "X-RSMF-Version: 2.0.0\r\nX-RSMF-Generator: chatledger\r\n", err)) ||
	    (rc = header(out, "X-RSMF-Application", strcmp(s->platform, "wechat") == 0 ? "WeChat" : "WhatsApp", err)) ||
	    (rc = header(out, "X-RSMF-Custodian", s->account, err)) ||
	    (rc = header(out, "X-RSMF-Participants", (const char *)plist.data, err)) ||
	    (rc = cl_spool_addf(out, err, "X-RSMF-BeginDate: %s\r\nX-RSMF-EndDate: %s\r\n", b, e)) ||
	    (rc = cl_spool_addf(out, err, "X-RSMF-EventCount: %zu\r\nX-RSMF-AttachmentCount: %zu\r\n", events, atts)) ||
	    (rc = cl_spool_addf(out, err, "X-RSMF-EventCollectionID: %s\r\n", s->collection)) ||
	    (rc = header(out, "X-RSMF-BundleId", s->case_id, err)) ||
	    (rc = header(out, "X-RSMF-SliceTZ", s->tz_name, err)) ||
	    (rc = cl_spool_addf(out, err, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", bound)) ||
	    (rc = cl_spool_addf(out, err, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
				"Content-Transfer-Encoding: base64\r\n\r\n", bound)) ||
	    (rc = b64_spool(text, out, err)) ||
	    (rc = cl_spool_addf(out, err, "--%s\r\nContent-Type: application/octet-stream; name=\"rsmf.zip\"\r\n"
				"Content-Disposition: attachment; filename=\"rsmf.zip\"\r\n"
				"Content-Transfer-Encoding: base64\r\n\r\n", bound)) ||
	    (rc = b64_spool(zip, out, err)) ||
	    (rc = cl_spool_addf(out, err, "--%s--\r\n", bound)))
		goto out;
out:
	cl_buf_release(&plist);
	return rc;
}
