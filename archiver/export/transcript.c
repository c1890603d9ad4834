/*
 * transcript.c - the self-contained HTML transcript of a conversation
 * slice (bundle_int.h, docs/BUNDLE.md §3.2): inline CSS, no script, no
 * external asset; every value from a record is HTML-escaped.  Shows each
 * entry with its time in the slice zone, sender name and id, device,
 * direction, text, reply, edits (marked, with the earlier text kept),
 * deletions (struck through, text kept), reactions, attachments and
 * erased records.
 */
#include <string.h>

#include "archiver/export/bundle_int.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

int cl_html_escape(struct cl_spool *out, const char *s, char **err)
{
	const char *p = s, *run = s;
	int rc;

	for (; *p; p++) {
		const char *rep = NULL;

		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: break;
		}
		if (rep == NULL)
			continue;
		if ((rc = cl_spool_add(out, run, (size_t)(p - run), err)) ||
		    (rc = cl_spool_addstr(out, rep, err)))
			return rc;
		run = p + 1;
	}
	return cl_spool_add(out, run, (size_t)(p - run), err);
}

static const char *jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *jstr2(const json_t *o, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(o, a), b));
}

/* <tag class="cls">escaped text</tag>, when text is not NULL. */
static int el(struct cl_spool *o, const char *tag, const char *cls, const char *pre,
	      const char *text, char **err)
{
	int rc;

	if (text == NULL)
		return CL_OK;
	if ((rc = cl_spool_addf(o, err, "<%s class=\"%s\">", tag, cls)) ||
	    (pre && (rc = cl_html_escape(o, pre, err))) ||
	    (rc = cl_html_escape(o, text, err)) ||
	    (rc = cl_spool_addf(o, err, "</%s>", tag)))
		return rc;
	return CL_OK;
}

/* Whether a later entry of the slice deleted message `id` for everyone. */
static int deleted_later(const json_t *marks, const char *id)
{
	const json_t *mk = id ? json_object_get(marks, id) : NULL;
	size_t i;

	for (i = 0; i < json_array_size(mk); i++)
		if (strncmp(json_string_value(json_array_get(mk, i)), "DELETED", 7) == 0)
			return 1;
	return 0;
}

static const char css[] =
	"body{font-family:'Noto Sans CJK TC','Noto Sans CJK SC','Noto Sans',"
	"'WenQuanYi Micro Hei','Microsoft JhengHei',sans-serif;margin:1.5em;color:#111}"
	"h1{font-size:1.3em}table.meta td{padding:0 1em 0 0}"
	".e{border-bottom:1px solid #ddd;padding:.4em 0}"
	".t{color:#555;font-family:monospace}.who{font-weight:bold}.id,.dev,.k{color:#666;font-size:.9em}"
	".out{background:#eef7ee}.in{background:#fff}"
	".body{white-space:pre-wrap;margin:.2em 0 .2em 1em}"
	".deleted .body{text-decoration:line-through;color:#a00}"
	".mark{font-size:.85em;color:#a00;margin-left:1em}.edit{font-size:.9em;color:#555;margin-left:1em}"
	".erased{color:#a00;font-style:italic}.att,.re,.reply{font-size:.9em;margin-left:1em}";

int cl_transcript_html(const struct cl_xslice *s, struct cl_spool *o, char **err)
{
	char lt[48], num[24];
	size_t i, j;
	int rc;
	json_t *marks = NULL, *seen = NULL;

	if ((rc = cl_spool_addstr(o, "<!DOCTYPE html>\n<html lang=\"zh-Hant-HK\"><head><meta charset=\"utf-8\">"
				  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
				  "<title>", err)) ||
	    (rc = cl_html_escape(o, s->conv_name ? s->conv_name : s->conv_id, err)) ||
	    (rc = cl_spool_addf(o, err, " %s</title><style>%s</style></head><body><h1>", s->date, css)) ||
	    (rc = cl_html_escape(o, s->conv_name ? s->conv_name : s->conv_id, err)) ||
	    (rc = cl_spool_addf(o, err, " &mdash; %s</h1><div class=\"meta\">", s->date)) ||
	    (rc = el(o, "div", "m", "Conversation: ", s->conv_id, err)) ||
	    (rc = el(o, "div", "m", "Custodian account: ", s->account, err)) ||
	    (rc = el(o, "div", "m", "Case: ", s->case_id, err)) ||
	    (rc = el(o, "div", "m", "Times shown in: ", s->tz_name, err)) ||
	    (rc = cl_spool_addstr(o, "</div>\n", err)))
		return rc;
	/* What later entries of the slice did to a message: id -> marks. */
	marks = json_object();
	seen = json_object();
	for (i = 0; i < s->n; i++) {
		const json_t *r = s->r[i].rec;
		const char *k = r ? jstr(r, "kind") : NULL, *t = r ? jstr(r, "target") : NULL;
		char note[96];

		if (k == NULL || t == NULL)
			continue;
		if (strcmp(k, "edit") == 0)
			cl_fmt(note, sizeof(note), "edited later (entry %llu)", (unsigned long long)s->r[i].index);
		else if (strcmp(k, "revoke") == 0 || strcmp(k, "deleted") == 0)
			cl_fmt(note, sizeof(note), "DELETED FOR EVERYONE later (entry %llu)", (unsigned long long)s->r[i].index);
		else
			continue;
		if (json_object_get(marks, t) == NULL)
			json_object_set_new(marks, t, json_array());
		json_array_append_new(json_object_get(marks, t), json_string(note));
	}
	for (i = 0; i < s->n; i++) {
		const struct cl_xrec *x = &s->r[i];
		const json_t *r = x->rec;
		const char *kind, *dir, *text;

		cl_x_local(x->sent_at, s->tz_off, lt);
		cl_fmt(num, sizeof(num), "%llu", (unsigned long long)x->index);
		if (x->is_att) {
			if ((rc = cl_spool_addf(o, err, "<div class=\"att\" id=\"i%s\">&#128206; attachment ", num)) ||
			    (rc = cl_html_escape(o, x->zip_id + 17, err)) ||
			    (rc = cl_spool_addf(o, err, " (%llu bytes, sha256 %s, native <a href=\"../../",
						(unsigned long long)x->size, x->sha256)) ||
			    (rc = cl_html_escape(o, x->native, err)) || (rc = cl_spool_addstr(o, "\">", err)) ||
			    (rc = cl_html_escape(o, x->native, err)) ||
			    (rc = cl_spool_addf(o, err, "</a>, %s)</div>\n", x->bates)))
				goto out;
			continue;
		}
		if (x->erased) {
			if ((rc = cl_spool_addf(o, err, "<div class=\"e erased\" id=\"i%s\"><span class=\"t\">%s</span> entry %s: ", num, lt, num)) ||
			    (rc = cl_html_escape(o, x->erased_note, err)) ||
			    (rc = cl_spool_addstr(o, "</div>\n", err)))
				goto out;
			continue;
		}
		kind = jstr(r, "kind") ? jstr(r, "kind") : "";
		dir = jstr(r, "direction") ? jstr(r, "direction") : "in";
		text = jstr(r, "text");
		if ((rc = cl_spool_addf(o, err, "<div class=\"e %s%s\" id=\"i%s\"><span class=\"t\">%s</span> ",
					strcmp(dir, "out") == 0 ? "out" : "in",
					strcmp(kind, "revoke") == 0 || strcmp(kind, "deleted") == 0 ||
					deleted_later(marks, jstr(r, "id")) ? " deleted" : "",
					num, lt)) ||
		    (rc = el(o, "span", "who", NULL, jstr2(r, "sender", "name") ? jstr2(r, "sender", "name") : jstr2(r, "sender", "id"), err)) ||
		    (rc = el(o, "span", "id", " ", jstr2(r, "sender", "id"), err)) ||
		    (rc = el(o, "span", "dev", " device ", jstr2(r, "sender", "device"), err)) ||
		    (rc = cl_spool_addf(o, err, " <span class=\"k\">%s &middot; ",
					strcmp(dir, "out") == 0 ? "outgoing" : "incoming")) ||
		    (rc = cl_html_escape(o, kind, err)) ||
		    (rc = cl_spool_addf(o, err, " &middot; entry %s</span>", num)))
			goto out;
		if (json_is_integer(json_object_get(json_object_get(r, "sender"), "device"))) {
			char dv[24];

			cl_fmt(dv, sizeof(dv), "%lld", (long long)json_integer_value(
				json_object_get(json_object_get(r, "sender"), "device")));
			if ((rc = el(o, "span", "dev", " device ", dv, err)))
				goto out;
		}
		if (jstr(r, "id")) {
			const json_t *mk = json_object_get(marks, jstr(r, "id"));
			char key[600];

			for (j = 0; j < json_array_size(mk); j++)
				if ((rc = el(o, "div", "mark", NULL, json_string_value(json_array_get(mk, j)), err)))
					goto out;
			cl_fmt(key, sizeof(key), "%.512s/%lld", jstr(r, "id"),
			       (long long)json_integer_value(json_object_get(r, "revision")));
			if (json_object_get(seen, key) &&
			    (rc = el(o, "div", "mark", "CONFLICTING REDELIVERY: the same message id and revision as entry ",
				     json_string_value(json_object_get(seen, key)), err)))
				goto out;
			if (!json_object_get(seen, key))
				json_object_set_new(seen, key, json_string(num));
		}
		if (x->redacted && (rc = el(o, "div", "mark redacted",
					    "REDACTED (masked; content withheld from the proofs): ",
					    x->redacted, err)))
			goto out;
		if (strcmp(kind, "edit") == 0 && (rc = el(o, "div", "mark", "EDITED message ", jstr(r, "target"), err)))
			goto out;
		if ((strcmp(kind, "revoke") == 0 || strcmp(kind, "deleted") == 0) &&
		    (rc = el(o, "div", "mark", "DELETED FOR EVERYONE: message ", jstr(r, "target") ? jstr(r, "target") : "(this one)", err)))
			goto out;
		if (strcmp(kind, "reaction") == 0 && (rc = el(o, "div", "re", "reaction to message ", jstr(r, "target"), err)))
			goto out;
		if (json_integer_value(json_object_get(r, "revision")) > 0) {
			char rv[32];

			cl_fmt(rv, sizeof(rv), "revision %lld of message ",
			       (long long)json_integer_value(json_object_get(r, "revision")));
			if ((rc = el(o, "div", "edit", rv, jstr(r, "id"), err)))
				goto out;
		}
		if ((rc = el(o, "div", "reply", "reply to message ", jstr(r, "reply_to"), err)) ||
		    (rc = el(o, "div", "body", NULL, text, err)) ||
		    (rc = el(o, "div", "k", "message id ", jstr(r, "id"), err)))
			goto out;
		for (j = 0; j < json_array_size(json_object_get(r, "attachments")); j++) {
			const json_t *a = json_array_get(json_object_get(r, "attachments"), j);

			if ((rc = el(o, "div", "att", "lists attachment ", jstr(a, "name") ? jstr(a, "name") : jstr(a, "sha256"), err)))
				goto out;
		}
		if ((rc = cl_spool_addstr(o, "</div>\n", err)))
			goto out;
	}
	rc = cl_spool_addstr(o, "</body></html>\n", err);
out:
	json_decref(marks);
	json_decref(seen);
	return rc;
}
