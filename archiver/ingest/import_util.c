/*
 * import_util.c - helpers shared by the importers (import_util.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ingest/import_util.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- reading a source item ------------------------------------------- */

const char *cl_json_str(json_t *o, const char *k, size_t max)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) > max)
		return NULL;
	return json_string_value(v);
}

json_t *cl_json_str_any(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? v : NULL;
}

/* ---- building a record ----------------------------------------------- */

int cl_json_set_new(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v) ? CL_ENOMEM : CL_OK;
}

int cl_json_set_str(json_t *o, const char *k, const char *s)
{
	return cl_json_set_new(o, k, json_string(s));
}

int cl_json_set_ref(json_t *o, const char *k, json_t *v)
{
	if (v == NULL)
		return CL_OK;
	return json_object_set(o, k, v) ? CL_ENOMEM : CL_OK;
}

json_t *cl_import_record_new(const struct cl_import_head *h)
{
	json_t *r = json_object(), *conv = json_object(), *snd = json_object();
	char when[32];
	int rc;

	cl_time_format(h->sent_at, when);
	if (r == NULL || conv == NULL || snd == NULL)
		goto fail;
	rc = cl_json_set_str(conv, "id", h->conv_id);
	if (!rc && h->conv_type)
		rc = cl_json_set_str(conv, "type", h->conv_type);
	if (!rc && h->conv_name)
		rc = cl_json_set_str(conv, "name", h->conv_name);
	if (!rc)
		rc = cl_json_set_str(snd, "id", h->sender_id);
	if (!rc && h->sender_type)
		rc = cl_json_set_str(snd, "type", h->sender_type);
	if (!rc)
		rc = cl_json_set_new(r, "conversation", conv);
	conv = NULL;
	if (!rc)
		rc = cl_json_set_new(r, "sender", snd);
	snd = NULL;
	if (rc || cl_json_set_str(r, "account", h->account) ||
	    cl_json_set_str(r, "id", h->id) ||
	    cl_json_set_str(r, "direction", h->direction) ||
	    cl_json_set_str(r, "kind", h->kind) ||
	    cl_json_set_str(r, "sent_at", when) ||
	    cl_json_set_str(r, "source", h->source))
		goto fail;
	return r;
fail:
	json_decref(conv);
	json_decref(snd);
	json_decref(r);
	return NULL;
}

int cl_import_join(char *out, size_t cap, const char *a, const char *sep,
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

void cl_import_kind(const char *type, const char *const *reserved,
		    const char *prefix, char out[CL_KIND_MAX + 1])
{
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
	n = strlen(prefix);
	memcpy(out, prefix, n + 1);
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

/* ---- handing over ---------------------------------------------------- */

int cl_import_check_sink(const struct cl_import_sink *sink, char **err)
{
	if (sink == NULL || sink->record == NULL || sink->bad == NULL)
		return cl_error(err, CL_EINVAL,
				"import sink needs record and bad callbacks");
	return CL_OK;
}

int cl_import_emit(const struct cl_import_sink *sink, uint64_t item,
		   json_t *rec, const unsigned char *raw, size_t len,
		   const char *raw_form)
{
	struct cl_buf enc;
	char *s = NULL;
	int rc = CL_OK;

	cl_buf_init(&enc, CL_RECORD_MAX_RAW + 4);
	if (len / 3 * 4 + 4 <= CL_RECORD_MAX_RAW) {
		if ((rc = cl_b64_add(&enc, raw, len)) ||
		    (rc = cl_json_set_str(rec, "raw",
					  enc.data ? (const char *)enc.data : "")) ||
		    (rc = cl_json_set_str(rec, "raw_form", raw_form)))
			goto out;
	} else if ((rc = cl_json_set_str(rec, "raw_form", "omitted"))) {
		goto out;
	}
	if (sink->record_json) {
		rc = sink->record_json(sink->ctx, rec);
		if (rc == CL_ETOOBIG && json_object_get(rec, "raw")) {
			json_object_del(rec, "raw");
			if ((rc = cl_json_set_str(rec, "raw_form", "omitted")))
				goto out;
			rc = sink->record_json(sink->ctx, rec);
		}
		if (rc == CL_ETOOBIG)
			rc = sink->bad(sink->ctx, item, raw, len,
				       "record would exceed the 8 MiB record limit");
		goto out;
	}
	s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	if (s && strlen(s) > CL_RECORD_MAX_LINE) {
		free(s);
		s = NULL;
		json_object_del(rec, "raw");
		if ((rc = cl_json_set_str(rec, "raw_form", "omitted")))
			goto out;
		s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		if (s && strlen(s) > CL_RECORD_MAX_LINE) {
			rc = sink->bad(sink->ctx, item, raw, len,
				       "record would exceed the 8 MiB record limit");
			goto out;
		}
	}
	if (s == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = sink->record(sink->ctx, s, strlen(s));
out:
	free(s);
	cl_buf_release(&enc);
	return rc;
}
