/*
 * dsar.c - data access requests: control entries, the masking of other
 * people's data, and the bundle (dsar.h): the export bag (bundle.h) with a
 * redaction hook, so that the reply carries the same proofs as an export.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/export/bundle.h"
#include "archiver/export/dsar.h"
#include "archiver/export/select.h"
#include "archiver/ledger/leaf.h"
#include "archiver/parties/parties.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define DAY_MS 86400000LL

static json_t *date_json(int64_t ms)
{
	char b[32];

	cl_time_format(ms, b);
	b[10] = 0;
	return json_string(b);
}

static json_t *party_tokens(struct cl_ledger *l, const char *party, int *rc)
{
	json_t *a = json_array();
	uint64_t *tk = NULL;
	size_t n = 0, i;

	*rc = a ? cl_parties_selector_tokens(l, party, &tk, &n) : CL_ENOMEM;
	for (i = 0; *rc == CL_OK && i < n; i++) {
		char tok[18];
		unsigned char b[8];

		cl_store_be64(b, tk[i]);
		tok[0] = '#';
		sodium_bin2hex(tok + 1, 17, b, 8);
		json_array_append_new(a, json_string(tok));
	}
	free(tk);
	if (*rc) {
		json_decref(a);
		return NULL;
	}
	return a;
}

int cl_dsar_request(struct cl_ledger *l, const char *party, int64_t received,
		    const char *who, uint64_t *id, int64_t *deadline, char **err)
{
	json_t *pub = NULL, *sealed = NULL, *tok;
	int64_t dl = received + CL_DSAR_DAYS * DAY_MS;
	int rc;

	if ((tok = party_tokens(l, party, &rc)) == NULL)
		return cl_error(err, rc, "dsar: cannot hash the party selector"
				" (needs the archive's tag key)");
	pub = json_pack("{s:o, s:o, s:o}", "party", tok, "received", date_json(received),
			"deadline", date_json(dl));
	sealed = json_pack("{s:s, s:o, s:o, s:s}", "party", party,
			   "received", date_json(received), "deadline", date_json(dl),
			   "who", who ? who : "");
	if (pub == NULL || sealed == NULL)
		rc = cl_error(err, CL_EINVAL, "dsar: the party must be valid UTF-8");
	else
		rc = cl_control_append(l, "dsar-request", pub, sealed, id, err);
	if (rc == CL_OK && deadline)
		*deadline = dl;
	json_decref(pub);
	json_decref(sealed);
	return rc;
}

/* ---- listing ------------------------------------------------------------ */

struct list_ctx {
	json_t *reqs;     /* array of [index, body] */
	json_t *closes;   /* object request-id -> [close index, logged_at] */
	char **err;
};

static int64_t date_of(const json_t *v)
{
	char b[40];
	int64_t ms;
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) != 10)
		return CL_TIME_NONE;
	(void)cl_fmt(b, sizeof(b), "%sT00:00:00Z", s);
	return cl_time_parse(b, strlen(b), &ms) == CL_OK ? ms : CL_TIME_NONE;
}

static int on_control(void *ctx, uint64_t index, const unsigned char *leaf, size_t len,
		      const unsigned char *attrs, size_t alen, int has_payload)
{
	struct list_ctx *c = ctx;
	struct cl_leaf lf;
	json_t *b;
	char *e = NULL;

	(void)attrs;
	(void)alen;
	(void)has_payload;
	if (cl_leaf_decode(leaf, len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(c->err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	if (strcmp(lf.kind, "dsar-request") != 0 && strcmp(lf.kind, "dsar-close") != 0)
		return CL_OK;
	b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	if (b == NULL)
		return cl_error(c->err, CL_ECORRUPT, "entry %" PRIu64 ": body is not JSON", index);
	if (lf.kind[5] == 'r') {
		json_array_append_new(c->reqs, json_pack("[I, o]", (json_int_t)index, b));
	} else {
		const json_t *r = json_object_get(b, "request");

		if (json_is_integer(r)) {
			char key[24];

			(void)cl_fmt(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(r));
			if (json_object_get(c->closes, key) == NULL)
				json_object_set_new(c->closes, key,
						    json_pack("[I, I]", (json_int_t)index,
							      (json_int_t)lf.logged_at));
		}
		json_decref(b);
	}
	return CL_OK;
}

int cl_dsar_each(struct cl_ledger *l, cl_dsar_fn fn, void *ctx, char **err)
{
	struct list_ctx c;
	size_t i;
	json_t *r;
	int rc;

	c.reqs = json_array();
	c.closes = json_object();
	c.err = err;
	if (c.reqs == NULL || c.closes == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_ledger_each(l, CL_ENTRY_CONTROL, on_control, &c, err)))
		goto out;
	json_array_foreach(c.reqs, i, r) {
		struct cl_dsar_info d;
		const json_t *b = json_array_get(r, 1), *cl;
		char key[24] = "";

		memset(&d, 0, sizeof(d));
		d.id = (uint64_t)json_integer_value(json_array_get(r, 0));
		d.received = date_of(json_object_get(b, "received"));
		d.deadline = date_of(json_object_get(b, "deadline"));
		d.party_tokens = json_object_get(b, "party");
		d.closed_at = CL_TIME_NONE;
		(void)cl_fmt(key, sizeof(key), "%" PRIu64, d.id);
		if ((cl = json_object_get(c.closes, key)) != NULL) {
			d.close_index = (uint64_t)json_integer_value(json_array_get(cl, 0));
			d.closed_at = json_integer_value(json_array_get(cl, 1));
		}
		if ((rc = fn(ctx, &d)))
			break;
	}
out:
	json_decref(c.reqs);
	json_decref(c.closes);
	return rc;
}

struct find_ctx {
	uint64_t id;
	int found, open;
};

static int find_req(void *ctx, const struct cl_dsar_info *d)
{
	struct find_ctx *f = ctx;

	if (d->id == f->id) {
		f->found = 1;
		f->open = d->closed_at == CL_TIME_NONE;
	}
	return 0;
}

int cl_dsar_close(struct cl_ledger *l, uint64_t id, const char *note, const char *who,
		  uint64_t *index, char **err)
{
	struct find_ctx f = { id, 0, 0 };
	json_t *pub = NULL, *sealed = NULL;
	char now[32];
	int rc;

	if ((rc = cl_dsar_each(l, find_req, &f, err)))
		return rc;
	if (!f.found)
		return cl_error(err, CL_ENOTFOUND, "no data access request with id %" PRIu64, id);
	if (!f.open)
		return cl_error(err, CL_ENOTFOUND, "data access request %" PRIu64
				" is already closed", id);
	cl_time_format(cl_time_now_ms(), now);
	pub = json_pack("{s:I, s:s}", "request", (json_int_t)id, "closed", now);
	sealed = json_pack("{s:I, s:s, s:s}", "request", (json_int_t)id,
			   "note", note ? note : "", "who", who ? who : "");
	if (pub == NULL || sealed == NULL)
		rc = cl_error(err, CL_EINVAL, "dsar close: the note must be valid UTF-8");
	else
		rc = cl_control_append(l, "dsar-close", pub, sealed, index, err);
	json_decref(pub);
	json_decref(sealed);
	return rc;
}

/* ---- masking ------------------------------------------------------------ */

static int is_sep(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+';
}

char *cl_dsar_mask_digits(const char *s)
{
	char *o = strdup(s);
	size_t i = 0, n;

	if (o == NULL)
		return NULL;
	n = strlen(o);
	while (i < n) {
		size_t j = i, digits = 0, last = i;

		if (o[i] < '0' || o[i] > '9') {
			i++;
			continue;
		}
		/* a run of digits with separators between them */
		while (j < n && ((o[j] >= '0' && o[j] <= '9') || (is_sep(o[j]) && j + 1 < n &&
		       ((o[j + 1] >= '0' && o[j + 1] <= '9') || is_sep(o[j + 1]))))) {
			if (o[j] >= '0' && o[j] <= '9') {
				digits++;
				last = j;
			}
			j++;
		}
		if (digits >= 7) {
			size_t k, seen = 0;

			for (k = i; k <= last; k++) {
				if (o[k] < '0' || o[k] > '9')
					continue;
				if (++seen <= digits - 2)
					o[k] = '*';
			}
		}
		i = last + 1;
	}
	return o;
}

static int mask_member(json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	char *m;
	int rc;

	if (!json_is_string(v))
		return CL_OK;
	if ((m = cl_dsar_mask_digits(json_string_value(v))) == NULL)
		return CL_ENOMEM;
	rc = json_object_set_new(obj, key, json_string(m)) ? CL_ENOMEM : CL_OK;
	sodium_memzero(m, strlen(m));
	free(m);
	return rc;
}

int cl_dsar_mask(json_t *rec)
{
	const json_t *as = json_object_get(rec, "attachments");
	size_t i;
	int rc;

	json_object_del(rec, "raw");
	/* A sender without a saved name is named by its number. */
	if ((rc = mask_member(json_object_get(rec, "sender"), "id")) ||
	    (rc = mask_member(json_object_get(rec, "sender"), "name")) ||
	    (rc = mask_member(rec, "text")))
		return rc;
	for (i = 0; i < json_array_size(as); i++)
		if ((rc = mask_member(json_array_get(as, i), "name")))
			return rc;
	return CL_OK;
}

/* ---- the bundle ------------------------------------------------------------ */

const char cl_dsar_reason[] =
	"group chat: another person's message (PDPO s.20(1)(b)): names kept, phone numbers"
	" masked, source bytes and attachments left out";

static const char masking_text[] =
	"the data subject's own messages and every message of a conversation with the"
	" subject alone are given in full; in group chats other people's messages are"
	" redacted: names kept, phone numbers masked (all but the last two digits) in"
	" their sender ids, message text and attachment names, their source bytes (raw)"
	" and attachments left out; a redacted record's proof carries its leaf and"
	" inclusion proof but not its content";

struct redact_ctx {
	struct cl_ledger *l;
	const char *party;
};

/* The bundle's redaction hook (bundle.h): other people's group messages. */
static int dsar_redact(void *ctx, uint64_t index, json_t *rec, const char **reason,
		       char **err)
{
	struct redact_ctx *c = ctx;
	const json_t *conv = json_object_get(rec, "conversation");
	const char *type = json_string_value(json_object_get(conv, "type"));
	const char *sid = json_string_value(json_object_get(json_object_get(rec, "sender"), "id"));
	int yes = 0, rc;

	(void)index;
	*reason = NULL;
	if (type == NULL || strcmp(type, "group") != 0)
		return CL_OK;
	if (sid && (rc = cl_parties_is_member(c->l, &c->party, 1, sid, &yes, err)))
		return rc;
	if (yes)
		return CL_OK;
	if ((rc = cl_dsar_mask(rec)))
		return cl_error(err, rc, "out of memory");
	*reason = cl_dsar_reason;
	return CL_OK;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

int cl_dsar_write(struct cl_ledger *l, const unsigned char *seal_sk,
		  const struct cl_dsar_write_opts *w, struct cl_bundle_result *res,
		  char **err)
{
	struct cl_select_query q;
	struct cl_bundle_opts o;
	struct redact_ctx rc_ctx = { l, w->party };
	json_t *extra = NULL, *custody = NULL, *sealed = NULL;
	char case_id[40], desc[160], rcv[32], dl[32], *qtext = NULL;
	int rc;

	cl_select_query_init(&q);
	q.parties = &w->party;
	q.n_parties = 1;
	q.to = w->received + DAY_MS - 1;  /* as at the day the request was received */
	cl_time_format(w->received, rcv);
	cl_time_format(w->received + CL_DSAR_DAYS * DAY_MS, dl);
	rcv[10] = dl[10] = 0;
	(void)cl_fmt(case_id, sizeof(case_id), "dsar-%" PRIu64, w->id);
	(void)cl_fmt(desc, sizeof(desc), "chatledger PDPO s.18 data access request %" PRIu64
		     ", received %s, reply due by %s (s.19)", w->id, rcv, dl);
	extra = json_pack("{s:I}", "request", (json_int_t)w->id);
	custody = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "event", "dsar-request",
			    "request", (json_int_t)w->id, "party", w->party, "received", rcv,
			    "deadline", dl, "masking", masking_text);
	qtext = cl_strdupf("--party %s --received %s", w->party, rcv);
	if (extra == NULL || custody == NULL || qtext == NULL) {
		rc = cl_error(err, CL_EINVAL, "dsar: out of memory, or the party is not UTF-8");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.case_id = case_id;
	o.out_path = w->out;
	o.format = ends_with(w->out, ".zip") ? CL_BAG_ZIP : CL_BAG_TAR;
	o.q = &q;
	o.query_text = qtext;
	o.slice_ms = DAY_MS;
	o.tz_name = w->tz_name ? w->tz_name : "Asia/Hong_Kong";
	o.tz_offset_s = w->tz_name ? w->tz_offset_s : 8 * 3600;
	o.who = w->who ? w->who : "";
	o.witness = w->witness;
	o.now_ms = w->now_ms;
	o.progress = w->progress;
	o.progress_ctx = w->progress_ctx;
	o.command = "dsar";
	o.access_extra = extra;
	o.reason = w->reason;
	if (w->access_sealed) {
		sealed = json_deep_copy(w->access_sealed);
		if (sealed == NULL || json_object_update(sealed, extra) != 0) {
			rc = cl_error(err, CL_ENOMEM, "out of memory");
			goto out;
		}
		o.access_sealed = sealed;
	}
	o.custody_extra = custody;
	o.description = desc;
	o.redact = dsar_redact;
	o.redact_ctx = &rc_ctx;
	rc = cl_bundle_export(l, seal_sk, &o, res, err);
out:
	json_decref(extra);
	json_decref(custody);
	json_decref(sealed);
	free(qtext);
	return rc;
}
