/*
 * access.c - access entries: every read of content (search, show, export,
 * dsar) is itself recorded in the ledger before the content is revealed
 * (select.h, docs/FORMAT.md §3.6).
 *
 * An access entry is a control entry of kind "access" on the log-wide
 * chain.  Its public body says who ran which command, when (the leaf's
 * logged_at), how many records it revealed, and the selectors in the form
 * records carry them: parties, conversations and labels as keyed hashes
 * ("#" + 16 hex digits), kinds and times in clear, and only whether there
 * was a text query.  The clear selectors, the text included, are sealed.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/export/select.h"
#include "archiver/ledger/leaf.h"
#include "archiver/parties/parties.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

int cl_access_token(struct cl_ledger *l, const char *type, const char *value,
		    char out[18])
{
	uint64_t h;
	unsigned char b[8];
	int rc = cl_ledger_attr_hash(l, type, value, &h);

	if (rc)
		return rc;
	cl_store_be64(b, h);
	out[0] = '#';
	sodium_bin2hex(out + 1, 17, b, 8);
	return CL_OK;
}

static json_t *time_json(int64_t ms)
{
	char b[32];

	if (ms == CL_TIME_NONE)
		return json_null();
	cl_time_format(ms, b);
	return json_string(b);
}

int cl_control_append(struct cl_ledger *l, const char *kind, const json_t *pub,
		      const json_t *sealed, uint64_t *index, char **err)
{
	struct cl_entry_in in;
	char *body = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	char *pt = sealed ? json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	uint64_t idx = 0;
	int rc;

	if (body == NULL || (sealed && pt == NULL)) {
		rc = cl_error(err, CL_EINVAL, "%s entry: not valid UTF-8 text", kind);
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_CONTROL;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = pt ? strlen(pt) : 0;
	in.body = body;
	in.body_len = strlen(body);
	if ((rc = cl_ledger_begin(l, err)))
		goto out;
	rc = cl_ledger_append(l, &in, &idx, &dup, err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, err);
	else
		cl_ledger_rollback(l);
	if (rc == CL_OK && index)
		*index = idx;
out:
	if (pt)
		sodium_memzero(pt, strlen(pt));
	free(pt);
	free(body);
	return rc;
}

/* Add the selectors of one category: hashed to pub, clear to sealed. */
static int add_list(struct cl_ledger *l, json_t *pub, json_t *sealed, const char *name,
		    const char *type, const char *const *v, size_t n, char **err)
{
	json_t *pa = json_array(), *sa = json_array();
	size_t i;
	int rc = CL_OK;

	if (pa == NULL || sa == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char tok[18];
		json_t *s = json_string(v[i]);

		if (s == NULL) {
			rc = cl_error(err, CL_EINVAL, "a %s selector is not valid UTF-8", name);
			goto out;
		}
		json_array_append_new(sa, s);
		if (type == NULL) {
			json_array_append_new(pa, json_string(v[i]));
			continue;
		}
		if (strcmp(type, "party") == 0) {
			/* a party selector: the tokens of its candidate forms,
			 * as holds record them (parties.h) */
			json_t *ta = json_array();
			uint64_t *tk = NULL;
			size_t nt = 0, j;

			if (ta == NULL ||
			    (rc = cl_parties_selector_tokens(l, v[i], &tk, &nt))) {
				json_decref(ta);
				rc = cl_error(err, rc ? rc : CL_ENOMEM,
					      "recording access needs the archive's tag key");
				goto out;
			}
			for (j = 0; j < nt; j++) {
				unsigned char b[8];

				cl_store_be64(b, tk[j]);
				tok[0] = '#';
				sodium_bin2hex(tok + 1, 17, b, 8);
				json_array_append_new(ta, json_string(tok));
			}
			free(tk);
			json_array_append_new(pa, ta);
			continue;
		}
		if ((rc = cl_access_token(l, type, v[i], tok))) {
			rc = cl_error(err, rc, "recording access needs the archive's tag key");
			goto out;
		}
		json_array_append_new(pa, json_string(tok));
	}
	json_object_set(pub, name, pa);
	json_object_set(sealed, name, sa);
out:
	json_decref(pa);
	json_decref(sa);
	return rc;
}

int cl_access_record_extra(struct cl_ledger *l, const char *command, const char *who,
			   const struct cl_select_query *q, uint64_t n_records,
			   json_t *pub_extra, json_t *sealed_extra,
			   uint64_t *index, char **err)
{
	json_t *pub = json_object(), *sealed = json_object();
	int rc = CL_OK;

	if (pub == NULL || sealed == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (!cl_kind_valid(command)) {
		rc = cl_error(err, CL_EINVAL, "access: command '%s' is not a kind string", command);
		goto out;
	}
	json_object_set_new(pub, "command", json_string(command));
	json_object_set_new(sealed, "command", json_string(command));
	json_object_set_new(pub, "who", json_string(who ? who : ""));
	json_object_set_new(sealed, "who", json_string(who ? who : ""));
	if (json_object_get(pub, "who") == NULL) {
		rc = cl_error(err, CL_EINVAL, "access: the user name is not valid UTF-8");
		goto out;
	}
	json_object_set_new(pub, "records", json_integer((json_int_t)n_records));
	json_object_set_new(sealed, "records", json_integer((json_int_t)n_records));
	if (q) {
		if ((rc = add_list(l, pub, sealed, "parties", "party", q->parties,
				   q->n_parties, err)) ||
		    (rc = add_list(l, pub, sealed, "conversations", "conversation",
				   q->conversations, q->n_conversations, err)) ||
		    (rc = add_list(l, pub, sealed, "labels", "label", q->labels, q->n_labels,
				   err)) ||
		    (rc = add_list(l, pub, sealed, "kinds", NULL, q->kinds, q->n_kinds, err)))
			goto out;
		json_object_set_new(pub, "from", time_json(q->from));
		json_object_set_new(pub, "to", time_json(q->to));
		json_object_set_new(sealed, "from", time_json(q->from));
		json_object_set_new(sealed, "to", time_json(q->to));
		json_object_set_new(pub, "text", json_boolean(q->text != NULL));
		if (q->text) {
			json_t *t = json_string(q->text);

			if (t == NULL) {
				rc = cl_error(err, CL_EINVAL, "the text query is not valid UTF-8");
				goto out;
			}
			json_object_set_new(sealed, "text", t);
		} else {
			json_object_set_new(sealed, "text", json_null());
		}
		if (q->include_erased)
			json_object_set_new(pub, "include_erased", json_true());
	}
	if (pub_extra)
		json_object_update(pub, pub_extra);
	if (sealed_extra)
		json_object_update(sealed, sealed_extra);
	rc = cl_control_append(l, "access", pub, sealed, index, err);
out:
	json_decref(pub);
	json_decref(sealed);
	return rc;
}

int cl_access_record(struct cl_ledger *l, const char *command, const char *who,
		     const struct cl_select_query *q, uint64_t n_records,
		     uint64_t *index, char **err)
{
	return cl_access_record_extra(l, command, who, q, n_records, NULL, NULL, index, err);
}

/* ---- reading them back ------------------------------------------------ */

struct each_ctx {
	struct cl_ledger *l;
	const unsigned char *sk;
	cl_access_fn fn;
	void *ctx;
	char **err;
};

static int on_control(void *ctx, uint64_t index, const unsigned char *leaf, size_t leaf_len,
		      const unsigned char *attrs, size_t alen, int has_payload)
{
	struct each_ctx *c = ctx;
	struct cl_leaf lf;
	struct cl_buf pt;
	json_t *body = NULL, *sealed = NULL;
	char *e = NULL;
	int rc;

	(void)attrs;
	(void)alen;
	if (cl_leaf_decode(leaf, leaf_len, &lf, &e) != CL_OK) {
		free(e);
		return cl_error(c->err, CL_ECORRUPT, "entry %" PRIu64 " is corrupt; run verify",
				index);
	}
	if (strcmp(lf.kind, "access") != 0)
		return CL_OK;
	body = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
	if (body == NULL)
		return cl_error(c->err, CL_ECORRUPT, "entry %" PRIu64 ": access body is not JSON",
				index);
	cl_buf_init(&pt, 1u << 24);
	if (c->sk && has_payload) {
		if ((rc = cl_ledger_open_payload(c->l, index, c->sk, &pt, c->err)))
			goto out;
		sealed = json_loadb((const char *)pt.data, pt.len, 0, NULL);
	}
	rc = c->fn(c->ctx, index, &lf, body, sealed);
out:
	json_decref(body);
	json_decref(sealed);
	if (pt.data)
		sodium_memzero(pt.data, pt.alloc);
	cl_buf_release(&pt);
	return rc;
}

int cl_access_each(struct cl_ledger *l, const unsigned char *seal_sk,
		   cl_access_fn fn, void *ctx, char **err)
{
	struct each_ctx c;

	c.l = l;
	c.sk = seal_sk;
	c.fn = fn;
	c.ctx = ctx;
	c.err = err;
	return cl_ledger_each(l, CL_ENTRY_CONTROL, on_control, &c, err);
}
