/*
 * resolve.c - holds, lifecycle events and labels resolved through the
 * party links into the conversations they cover (retention.h), and the
 * officer's labels.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/parties/ident.h"
#include "archiver/parties/parties.h"
#include "archiver/retention/retention.h"
#include "archiver/retention/retention_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static int hex_tok(const char *s, size_t len, uint64_t *t)
{
	unsigned char b[8];
	char tmp[17];

	if (s == NULL || len < 16)
		return -1;
	memcpy(tmp, s, 16);
	tmp[16] = 0;
	if (cl_hex_decode(tmp, b, 8) != CL_OK)
		return -1;
	*t = cl_load_be64(b);
	return 0;
}

/* Append the "#hex" token of attribute type=value to arr. */
static int add_token(struct cl_ledger *l, const char *type, const char *value, json_t *arr)
{
	uint64_t h;
	char s[18];
	unsigned char b[8];
	int rc = cl_ledger_attr_hash(l, type, value, &h);

	if (rc)
		return rc;
	cl_store_be64(b, h);
	s[0] = '#';
	sodium_bin2hex(s + 1, 17, b, 8);
	return json_array_append_new(arr, json_string(s)) ? CL_ENOMEM : CL_OK;
}

/* "#hex" strings of arr appended to v. */
static void json_toks(json_t *arr, uint64_t *v, size_t *n)
{
	size_t i;
	json_t *x;

	json_array_foreach(arr, i, x) {
		const char *s = json_string_value(x);

		if (s && s[0] == '#' && strlen(s) == 17 && hex_tok(s + 1, 16, &v[*n]) == 0)
			(*n)++;
	}
}

/* A group: closure(party tokens) + conversation tokens. */
static int make_group(const struct cl_parties *p, json_t *parties, json_t *convs,
		      const char *subject, uint64_t **out, size_t *nout)
{
	size_t np = json_array_size(parties), nc = json_array_size(convs);
	uint64_t *pt = calloc(np + 4, sizeof(*pt)), *closed = NULL, *all;
	size_t k = 0, nclosed = 0;
	int rc;

	*out = NULL;
	*nout = 0;
	if (pt == NULL)
		return CL_ENOMEM;
	json_toks(parties, pt, &k);
	/* An event recorded before parties existed names its subject as
	 * "#p:HEX;c:HEX;a:HEX": its participant, conversation and account
	 * readings. */
	if (subject && subject[0] == '#' && subject[1] && subject[2] == ':') {
		const char *s = subject + 1;

		while (s && *s) {
			if (s[1] == ':' && hex_tok(s + 2, strlen(s + 2), &pt[k]) == 0 && k < np + 4)
				k++;
			s = strchr(s, ';');
			if (s)
				s++;
		}
	}
	if ((rc = cl_parties_close(p, pt, k, &closed, &nclosed))) {
		free(pt);
		return rc;
	}
	free(pt);
	all = realloc(closed, (nclosed + nc + 1) * sizeof(*all));
	if (all == NULL) {
		free(closed);
		return CL_ENOMEM;
	}
	json_toks(convs, all, &nclosed);
	*out = all;
	*nout = nclosed;
	return CL_OK;
}

int cl_retention_lifecycle_resolve(struct cl_ledger *l, struct cl_retention_lifecycle *lc,
				   char **err)
{
	struct cl_parties *p = NULL;
	struct cl_tokgroup *g = NULL;
	uint64_t **toks = NULL;
	size_t n = lc->n_holds + lc->n_ev + lc->n_labels, i, k = 0;
	const char **ptrs;
	int rc;

	if (lc->sets)
		return CL_OK;
	lc->sets = calloc(n + 1, sizeof(struct cl_convset *));
	lc->cover = calloc(n + 1, sizeof(*lc->cover));
	lc->names = calloc(n + 1, sizeof(*lc->names));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	g = calloc(n + 1, sizeof(*g));
	toks = calloc(n + 1, sizeof(*toks));
	if (!lc->sets || !lc->cover || !lc->names || !ptrs || !g || !toks) {
		free(ptrs);
		rc = CL_ENOMEM;
		goto out;
	}
	/* ptrs is owned through lc->lists, released with the lifecycle. */
	lc->lists[lc->n_lists++] = ptrs;
	if ((rc = cl_parties_load(l, &p, err)))
		goto out;
	for (i = 0; i < lc->n_holds; i++) {
		struct cl_policy_hold *h = &lc->holds[i];

		if (h->n_participants + h->n_conversations == 0)
			continue;   /* covers every record: nothing to resolve */
		if ((rc = make_group(p, lc->hold_tokens[2 * i], lc->hold_tokens[2 * i + 1],
				     NULL, &toks[k], &g[k].n)))
			goto out;
		g[k].tok = toks[k];
		(void)cl_fmt(lc->names[k], sizeof(lc->names[k]), "@%zu", k);
		ptrs[k] = lc->names[k];
		h->participants = NULL;
		h->n_participants = 0;
		h->conversations = &ptrs[k];
		h->n_conversations = 1;
		k++;
	}
	for (i = 0; i < lc->n_ev; i++) {
		struct cl_policy_event *e = &lc->ev[i];

		if ((rc = make_group(p, lc->ev_tokens[i], NULL, e->subject, &toks[k], &g[k].n)))
			goto out;
		g[k].tok = toks[k];
		(void)cl_fmt(lc->names[k], sizeof(lc->names[k]), "@%zu", k);
		e->subject = lc->names[k];
		k++;
	}
	for (i = 0; i < lc->n_labels; i++) {
		struct cl_retention_label *x = &lc->labels[i];

		if ((rc = make_group(p, x->parties, x->conversations, NULL, &toks[k], &g[k].n)))
			goto out;
		g[k].tok = toks[k];
		x->set = k;
		k++;
	}
	lc->n_sets = k;
	rc = cl_convset_build(l, g, k, lc->sets, lc->cover, err);
out:
	for (i = 0; toks && i < n; i++)
		free(toks[i]);
	free(toks);
	free(g);
	cl_parties_free(p);
	if (rc) {
		free(lc->sets);
		lc->sets = NULL;
		lc->n_sets = 0;
	}
	return rc;
}

static int cover_tokens(struct cl_ledger *l, const char *const *parties, size_t np,
			const char *const *conversations, size_t nc,
			const char *account, struct cl_cover *cover, char **err);

int cl_retention_cover(struct cl_ledger *l, const char *const *parties, size_t np,
		       const char *const *conversations, size_t nc,
		       struct cl_cover *cover, char **err)
{
	return cover_tokens(l, parties, np, conversations, nc, NULL, cover, err);
}

int cl_retention_cover_subject(struct cl_ledger *l, const char *subject,
			       struct cl_cover *cover, char **err)
{
	return cover_tokens(l, &subject, 1, &subject, 1, subject, cover, err);
}

static int cover_tokens(struct cl_ledger *l, const char *const *parties, size_t np,
			const char *const *conversations, size_t nc,
			const char *account, struct cl_cover *cover, char **err)
{
	json_t *pt = json_array(), *ct = json_array();
	struct cl_parties *p = NULL;
	struct cl_tokgroup g;
	struct cl_convset *set = NULL;
	uint64_t *tok = NULL;
	size_t i;
	int rc;

	memset(cover, 0, sizeof(*cover));
	if (pt == NULL || ct == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_retention_party_tokens(l, parties, np, pt))) {
		if (rc == CL_EINVAL)
			rc = cl_error(err, rc, "a party selector is empty or too long");
		goto out;
	}
	for (i = 0; i < nc; i++)
		if ((rc = add_token(l, "conversation", conversations[i], ct)))
			goto out;
	if (account && (rc = add_token(l, "account", account, ct)))
		goto out;
	if ((rc = cl_parties_load(l, &p, err)) ||
	    (rc = make_group(p, pt, ct, NULL, &tok, &g.n)))
		goto out;
	g.tok = tok;
	rc = cl_convset_build(l, &g, 1, &set, cover, err);
out:
	cl_convset_free(set);
	free(tok);
	cl_parties_free(p);
	json_decref(pt);
	json_decref(ct);
	return rc;
}

/* The identity of an assignment: the label and its selectors in their
 * canonical primary forms, in the order given. */
static int assignment_id(struct cl_ledger *l, const char *label,
			 const char *const *parties, size_t np,
			 const char *const *conversations, size_t nc, char out[18])
{
	struct cl_buf b;
	size_t i;
	uint64_t h;
	char c[CL_IDENT_MAX];
	int rc;

	cl_buf_init(&b, 1u << 20);
	rc = cl_buf_addf(&b, "%s\n", label);
	for (i = 0; rc == CL_OK && i < np; i++) {
		if (cl_ident_canon(parties[i], NULL, c) != CL_OK) {
			rc = CL_EINVAL;
			break;
		}
		rc = cl_buf_addf(&b, "p:%s\n", c);
	}
	for (i = 0; rc == CL_OK && i < nc; i++)
		rc = cl_buf_addf(&b, "c:%s\n", conversations[i]);
	if (rc == CL_OK)
		rc = cl_buf_add(&b, "", 1);
	if (rc == CL_OK && (rc = cl_ledger_attr_hash(l, "label-assignment",
						     (const char *)b.data, &h)) == CL_OK) {
		unsigned char hb[8];

		cl_store_be64(hb, h);
		out[0] = '#';
		sodium_bin2hex(out + 1, 17, hb, 8);
	}
	cl_buf_release(&b);
	return rc;
}

int cl_retention_label(struct cl_ledger *l, const char *label, int remove,
		       const char *const *parties, size_t np,
		       const char *const *conversations, size_t nc,
		       const char *note, uint64_t *index, char **err)
{
	struct cl_retention_lifecycle lc;
	json_t *pub = NULL, *sealed = NULL, *pt = NULL, *ct = NULL, *sp = NULL, *sc = NULL;
	char id[18];
	size_t i;
	int rc, active = 0;

	memset(&lc, 0, sizeof(lc));
	if (label == NULL || strlen(label) == 0 || strlen(label) > 128)
		return cl_error(err, CL_EINVAL, "--label must be 1-128 bytes");
	if (np + nc == 0)
		return cl_error(err, CL_EINVAL, "name at least one --party or --conversation");
	if ((rc = assignment_id(l, label, parties, np, conversations, nc, id)))
		return rc == CL_EINVAL ? cl_error(err, rc, "a --party is empty or too long") : rc;
	if ((rc = cl_retention_lifecycle_load(l, &lc, err)))
		goto out;
	for (i = 0; i < lc.n_labels; i++)
		if (strcmp(lc.labels[i].assignment, id) == 0)
			active = lc.labels[i].active;
	if (remove && !active) {
		rc = cl_error(err, CL_ENOTFOUND,
			      "label '%s' is not given to these selectors (remove names "
			      "them exactly as `label add` did)", label);
		goto out;
	}
	if (!remove && active) {
		rc = cl_error(err, CL_EEXIST, "label '%s' is already given to these selectors",
			      label);
		goto out;
	}
	pt = json_array();
	ct = json_array();
	sp = json_array();
	sc = json_array();
	if (!pt || !ct || !sp || !sc) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_retention_party_tokens(l, parties, np, pt)))
		goto out;
	for (i = 0; i < nc; i++) {
		if ((rc = add_token(l, "conversation", conversations[i], ct)))
			goto out;
		json_array_append_new(sc, json_string(conversations[i]));
	}
	for (i = 0; i < np; i++)
		json_array_append_new(sp, json_string(parties[i]));
	pub = json_pack("{s:s, s:s, s:O, s:O}", "label", label, "assignment", id,
			"parties", pt, "conversations", ct);
	sealed = json_pack("{s:s, s:s, s:O, s:O, s:s}", "label", label, "assignment", id,
			   "parties", sp, "conversations", sc, "note", note ? note : "");
	if (pub == NULL || sealed == NULL) {
		rc = cl_error(err, CL_EINVAL, "label, selectors and note must be valid UTF-8");
		goto out;
	}
	rc = cl_retention_append_control(l, remove ? "label-remove" : "label", pub, sealed,
					 index, err);
out:
	cl_retention_lifecycle_release(&lc);
	json_decref(pub);
	json_decref(sealed);
	json_decref(pt);
	json_decref(ct);
	json_decref(sp);
	json_decref(sc);
	return rc;
}
