/*
 * bundle.c - write a signed eDiscovery bundle (bundle.h, docs/BUNDLE.md).
 *
 * Pass 1 plans the query (cl_select_plan_walk, nothing decrypted but the
 * first record of each conversation) and keeps, per exported entry,
 * its index, conversation, time and slice (about 48 bytes each; no
 * content).  The export is then recorded in the ledger (cl_access_record)
 * and the tree size after that entry is the export checkpoint every proof
 * is made against.  Pass 2 walks each conversation's chain for the
 * completeness proof, then each conversation slice: it opens each entry
 * once (one opener, with its salt), writes natives, the RSMF, the transcript and
 * the per-record proofs, and the DAT rows.  Content is held for one slice
 * at a time; large generated files go through spools (bag.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "archiver/export/bag.h"
#include "archiver/export/bundle.h"
#include "archiver/export/bundle_int.h"
#include "archiver/ledger/vault.h"
#include "archiver/witness/push.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define MAX_LABEL 64
#define LEAF_MAX (CL_LEAF_FIXED + CL_KIND_MAX + CL_LEAF_MAX_BODY)

struct conv {
	unsigned char tag[32];
	char *id, *name, *type, *account, *platform;
	char label[MAX_LABEL + 16];
	char collection[40];
	uint64_t head;
	int has_head;
};

struct hit {
	uint64_t index;
	uint64_t att_of;
	int64_t sent_at;
	int64_t slice;        /* slice start, local ms */
	uint32_t conv;
	uint8_t is_att;
	uint8_t erased;
	char *note;           /* erased: malloc'd */
};

struct ex {
	struct cl_ledger *l;
	const unsigned char *sk;
	const struct cl_bundle_opts *o;
	struct cl_bundle_result *res;
	struct conv *conv;
	size_t nconv, capconv;
	struct cl_map convmap;
	struct hit *h;
	size_t nh, caph;
	uint64_t size;
	struct cl_buf cp;          /* the export checkpoint note, cosigned */
	struct cl_buf cosig;       /* the witnesses' lines on it (also in cp) */
	struct cl_bag *bag;
	struct cl_spool dat;
	uint64_t bates;
	char tmpdir[4096];
	struct cl_opener *op;      /* opens every exported entry once (pass 2) */
	struct cl_prover *pv;      /* proves them against the export checkpoint */
	struct cl_buf pt;          /* the plaintext opened last (pass 1) */
	char **err;
	int rc_cb;
	struct cl_map64 redacted;  /* redacted record index -> 1 (their attachments follow) */
	int dat_nf;                /* DAT fields: REDACTION with a redaction hook */
};

/* ---- time zones ------------------------------------------------------- */

static const struct { const char *name; int32_t off; } zones[] = {
	{ "UTC", 0 }, { "Etc/UTC", 0 }, { "Z", 0 },
	{ "Asia/Hong_Kong", 8 * 3600 }, { "Asia/Macau", 8 * 3600 },
	{ "Asia/Shanghai", 8 * 3600 }, { "Asia/Taipei", 8 * 3600 },
	{ "Asia/Singapore", 8 * 3600 }, { "Asia/Tokyo", 9 * 3600 },
	{ "Asia/Seoul", 9 * 3600 }, { "Asia/Kolkata", 5 * 3600 + 1800 },
	{ "Asia/Dubai", 4 * 3600 },
};

int cl_bundle_tz(const char *name, int32_t *off, char **err)
{
	size_t i;

	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		if (strcmp(name, zones[i].name) == 0) {
			*off = zones[i].off;
			return CL_OK;
		}
	if ((name[0] == '+' || name[0] == '-') && strlen(name) == 6 && name[3] == ':' &&
	    name[1] >= '0' && name[1] <= '2' && name[2] >= '0' && name[2] <= '9' &&
	    name[4] >= '0' && name[4] <= '5' && name[5] >= '0' && name[5] <= '9') {
		int h = (name[1] - '0') * 10 + (name[2] - '0');
		int m = (name[4] - '0') * 10 + (name[5] - '0');

		if (h <= 14) {
			*off = (h * 3600 + m * 60) * (name[0] == '-' ? -1 : 1);
			return CL_OK;
		}
	}
	return cl_error(err, CL_EINVAL,
			"unknown time zone '%s' (use +HH:MM, UTC, or a zone without daylight"
			" saving time such as Asia/Hong_Kong)", name);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static void slice_date(int64_t slice_local, int64_t slice_ms, char out[24])
{
	int64_t days = floor_div(slice_local, 86400000), y;
	unsigned m, d;

	cl_civil_from_days(days, &y, &m, &d);
	if (slice_ms >= 86400000)
		cl_fmt(out, 24, "%04lld-%02u-%02u", (long long)y, m, d);
	else
		cl_fmt(out, 24, "%04lld-%02u-%02uT%02lld", (long long)y, m, d,
		       (long long)((slice_local - days * 86400000) / 3600000));
}

/* ---- pass 1 ------------------------------------------------------------- */

static void sanitize(const char *in, char *out, size_t cap)
{
	size_t i = 0;

	for (; *in && i + 1 < cap; in++)
		out[i++] = ((*in >= 'a' && *in <= 'z') || (*in >= 'A' && *in <= 'Z') ||
			    (*in >= '0' && *in <= '9') || *in == '.' || *in == '-') ? *in : '_';
	if (i == 0)
		out[i++] = '_';
	out[i] = 0;
}

static char *dupn(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int new_conv(struct ex *x, const struct cl_leaf *lf, const json_t *rec, uint32_t *num)
{
	struct conv *c;
	struct cl_map_slot *slot;
	const json_t *cv = json_object_get(rec, "conversation");
	const char *src = json_string_value(json_object_get(rec, "source"));
	size_t i;
	unsigned char h[32];
	struct cl_sha256_ctx st;

	if (x->nconv == x->capconv) {
		size_t cap = x->capconv ? x->capconv * 2 : 16;
		struct conv *nc = realloc(x->conv, cap * sizeof(*nc));

		if (nc == NULL)
			return cl_error(x->err, CL_ENOMEM, "out of memory");
		x->conv = nc;
		x->capconv = cap;
	}
	c = &x->conv[x->nconv];
	memset(c, 0, sizeof(*c));
	memcpy(c->tag, lf->conv_tag, 32);
	c->id = dupn(json_string_value(json_object_get(cv, "id")));
	c->name = dupn(json_string_value(json_object_get(cv, "name")));
	c->type = dupn(json_string_value(json_object_get(cv, "type")));
	c->account = dupn(json_string_value(json_object_get(rec, "account")));
	c->platform = strdup(src && strcmp(src, "wecom") == 0 ? "wechat" : "whatsapp");
	if (c->id == NULL || c->account == NULL || c->platform == NULL)
		return cl_error(x->err, CL_ENOMEM, "out of memory");
	sanitize(c->id, c->label, MAX_LABEL);
	for (i = 0; i < x->nconv; i++)
		if (strcmp(x->conv[i].label, c->label) == 0) {
			size_t n = strlen(c->label);

			cl_fmt(c->label + n, sizeof(c->label) - n, "~%02x%02x%02x%02x",
			       lf->conv_tag[0], lf->conv_tag[1], lf->conv_tag[2], lf->conv_tag[3]);
			break;
		}
	cl_sha256_init(&st);
	cl_sha256_update(&st, (const unsigned char *)"chatledger/rsmf/collection/v1\n", 30);
	cl_sha256_update(&st, (const unsigned char *)c->account, strlen(c->account) + 1);
	cl_sha256_update(&st, (const unsigned char *)c->id, strlen(c->id));
	cl_sha256_final(&st, h);
	for (i = 0; i < 16; i++)
		cl_fmt(c->collection + 2 * i, 3, "%02x", h[i]);
	if ((slot = cl_map_put(&x->convmap, lf->conv_tag)) == NULL)
		return cl_error(x->err, CL_ENOMEM, "out of memory");
	slot->u = x->nconv;
	*num = (uint32_t)x->nconv;
	x->nconv++;
	return CL_OK;
}

static struct hit *push_hit(struct ex *x)
{
	if (x->nh == x->caph) {
		size_t cap = x->caph ? x->caph * 2 : 1024;
		struct hit *nh = realloc(x->h, cap * sizeof(*nh));

		if (nh == NULL)
			return NULL;
		x->h = nh;
		x->caph = cap;
	}
	memset(&x->h[x->nh], 0, sizeof(x->h[0]));
	return &x->h[x->nh++];
}

/* Pass 1, one planned entry (nothing decrypted but the first record of
 * each conversation, for its names). */
static int on_hit(void *ctx, const struct cl_select_hit *hit)
{
	struct ex *x = ctx;
	struct cl_map_slot *slot;
	struct hit *h;
	uint32_t num = 0;
	int rc;

	if (hit->what == CL_SELECT_ERASED)
		return 0; /* erased: shown from its conversation's chain */
	slot = cl_map_get(&x->convmap, hit->lf->conv_tag);
	if (slot)
		num = (uint32_t)slot->u;
	else if (hit->what != CL_SELECT_RECORD)
		return 0; /* an attachment whose record is not exported */
	else {
		json_t *rec = NULL;

		if (x->pt.data)
			sodium_memzero(x->pt.data, x->pt.len);
		cl_buf_reset(&x->pt);
		if ((rc = cl_opener_open(x->op, hit->index, &x->pt, NULL, NULL, x->err)) == CL_OK &&
		    (rec = json_loadb((const char *)x->pt.data, x->pt.len, 0, NULL)) == NULL)
			rc = cl_error(x->err, CL_ECORRUPT, "entry %llu: payload is not JSON",
				      (unsigned long long)hit->index);
		if (rc == CL_OK)
			rc = new_conv(x, hit->lf, rec, &num);
		json_decref(rec);
		sodium_memzero(x->pt.data, x->pt.len);
		if (rc)
			return x->rc_cb = rc;
	}
	if ((h = push_hit(x)) == NULL)
		return x->rc_cb = cl_error(x->err, CL_ENOMEM, "out of memory");
	h->index = hit->index;
	h->conv = num;
	h->sent_at = hit->lf->sent_at;
	h->slice = floor_div(h->sent_at + (int64_t)x->o->tz_offset_s * 1000, x->o->slice_ms) *
		x->o->slice_ms;
	if (hit->what == CL_SELECT_ATTACHMENT) {
		json_t *b = json_loadb((const char *)hit->lf->body, hit->lf->body_len, 0, NULL);

		h->is_att = 1;
		h->att_of = (uint64_t)json_integer_value(json_object_get(b, "attachment_of"));
		json_decref(b);
		x->res->attachments++;
	} else {
		x->res->records++;
	}
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *p = a, *q = b;

	if (p->conv != q->conv)
		return p->conv < q->conv ? -1 : 1;
	if (p->slice != q->slice)
		return p->slice < q->slice ? -1 : 1;
	if (p->index != q->index)
		return p->index < q->index ? -1 : 1;
	return 0;
}

/* ---- chains (completeness) ------------------------------------------------- */

static int hexline(struct cl_buf *b, const unsigned char *p, size_t n)
{
	return cl_hex_add(b, p, n);
}

/* A JSON line (sorted keys, compact) appended to a spool; steals j. */
static int jline(struct cl_spool *s, json_t *j, char **err)
{
	char *t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	int rc;

	json_decref(j);
	if (t == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	rc = cl_spool_addstr(s, t, err);
	if (rc == CL_OK)
		rc = cl_spool_add(s, "\n", 1, err);
	sodium_memzero(t, strlen(t));
	free(t);
	return rc;
}

static int in_range(const struct cl_select_query *q, int64_t t)
{
	if (q->from != CL_TIME_NONE && t < q->from)
		return 0;
	if (q->to != CL_TIME_NONE && t > q->to)
		return 0;
	return 1;
}

/*
 * The tlog-proof of entry `index` against the export checkpoint, with the
 * witnesses' cosignature lines appended to its checkpoint note, so that
 * every proof carries the same cosigned note as data/proofs/checkpoint.
 */
static int prove(struct ex *x, uint64_t index, struct cl_buf *out)
{
	int rc = cl_prover_prove(x->pv, index, out, x->err);

	if (rc == CL_OK && x->cosig.len > 0 && cl_buf_add(out, x->cosig.data, x->cosig.len) != 0)
		rc = cl_error(x->err, CL_ENOMEM, "out of memory");
	return rc;
}

static int write_chain(struct ex *x, uint32_t ci)
{
	struct conv *c = &x->conv[ci];
	struct cl_spool sp;
	struct cl_buf leaf, hex, proof;
	struct cl_map64 erased; /* erased index -> tombstone index */
	json_t *tombs = json_object();
	uint64_t idx = c->head;
	char path[256];
	int rc = CL_OK;

	cl_spool_init(&sp, x->tmpdir);
	cl_buf_init(&leaf, LEAF_MAX + 1);
	cl_buf_init(&hex, 2 * LEAF_MAX + 16);
	cl_buf_init(&proof, 1u << 20);
	cl_map64_init(&erased);
	if ((rc = prove(x, c->head, &proof)))
		goto out;
	cl_buf_add(&proof, "", 1);
	{
		json_t *hd = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "format", "chatledger-chain@v1",
				       "conversation", c->id, "account", c->account,
				       "size", (json_int_t)x->size, "head", (json_int_t)c->head,
				       "head_proof", (const char *)proof.data);

		if (x->o->q->from != CL_TIME_NONE)
			json_object_set_new(hd, "from", json_integer(x->o->q->from));
		if (x->o->q->to != CL_TIME_NONE)
			json_object_set_new(hd, "to", json_integer(x->o->q->to));
		if ((rc = jline(&sp, hd, x->err)))
			goto out;
	}
	for (;;) {
		struct cl_leaf lf;
		json_t *line;
		uint64_t tomb;

		cl_buf_reset(&leaf);
		cl_buf_reset(&hex);
		if ((rc = cl_ledger_leaf(x->l, idx, &leaf, x->err)) ||
		    (rc = cl_leaf_decode(leaf.data, leaf.len, &lf, x->err)))
			goto out;
		if ((rc = hexline(&hex, leaf.data, leaf.len)) || (rc = cl_buf_add(&hex, "", 1))) {
			rc = cl_error(x->err, rc, "out of memory");
			goto out;
		}
		line = json_pack("{s:I,s:s}", "index", (json_int_t)idx, "leaf", (const char *)hex.data);
		if (lf.type == CL_ENTRY_TOMBSTONE) {
			json_t *b = json_loadb((const char *)lf.body, lf.body_len, 0, NULL);
			json_int_t e = json_integer_value(json_object_get(b, "erased"));
			char day[32], note[160];

			cl_time_format(lf.logged_at, day);
			day[10] = 0;
			cl_fmt(note, sizeof(note), "erased under rule %.60s on date %s (%.40s)",
			       json_string_value(json_object_get(b, "rule")) ? json_string_value(json_object_get(b, "rule")) : "?",
			       day, json_string_value(json_object_get(b, "reason")) ? json_string_value(json_object_get(b, "reason")) : "");
			json_object_set_new(line, "tombstone", json_string(note));
			json_decref(b);
			if (e >= 0) {
				char k[24];

				cl_fmt(k, sizeof(k), "%lld", (long long)e);
				json_object_set_new(tombs, k, json_string(note));
				if (cl_map64_put(&erased, (uint64_t)e, idx) != 0) {
					json_decref(line);
					rc = cl_error(x->err, CL_ENOMEM, "out of memory");
					goto out;
				}
			}
		} else if (lf.type == CL_ENTRY_RECORD && cl_map64_get(&erased, idx, &tomb) &&
			   in_range(x->o->q, lf.sent_at)) {
			/* An erased record in the range: shown as a tombstone in its slice. */
			struct hit *h = push_hit(x);
			char k[24];

			cl_fmt(k, sizeof(k), "%llu", (unsigned long long)idx);
			if (h == NULL || (h->note = strdup(json_string_value(json_object_get(tombs, k)))) == NULL) {
				json_decref(line);
				rc = cl_error(x->err, CL_ENOMEM, "out of memory");
				goto out;
			}
			h->index = idx;
			h->conv = ci;
			h->sent_at = lf.sent_at;
			h->slice = floor_div(lf.sent_at + (int64_t)x->o->tz_offset_s * 1000,
					     x->o->slice_ms) * x->o->slice_ms;
			h->erased = 1;
			x->res->erased++;
		}
		if ((rc = jline(&sp, line, x->err)))
			goto out;
		if (lf.prev_index == CL_LEAF_NOPREV)
			break;
		idx = lf.prev_index;
	}
	cl_fmt(path, sizeof(path), "data/proofs/chains/%s.jsonl", c->label);
	rc = cl_bag_add_spool(x->bag, path, &sp, NULL, x->err);
out:
	json_decref(tombs);
	cl_map64_release(&erased);
	cl_spool_release(&sp);
	cl_buf_release(&leaf);
	cl_buf_release(&hex);
	cl_buf_release(&proof);
	return rc;
}

/* ---- pass 2: one slice -------------------------------------------------------- */

struct zipw {
	struct cl_spool *sp;
	char **err;
	int rc;
};

static la_ssize_t zip_write_cb(struct archive *a, void *ctx, const void *p, size_t n)
{
	struct zipw *z = ctx;

	(void)a;
	if ((z->rc = cl_spool_add(z->sp, p, n, z->err)) != CL_OK)
		return -1;
	return (la_ssize_t)n;
}

static int zip_add(struct archive *a, const char *name, const void *p, size_t n,
		   int64_t mtime, char **err)
{
	struct archive_entry *e = archive_entry_new();
	const unsigned char *q = p;
	int rc = CL_OK;

	if (e == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	archive_entry_set_pathname_utf8(e, name);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, (time_t)(mtime / 1000), 0);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		rc = cl_error(err, CL_EIO, "rsmf.zip: %s", archive_error_string(a));
	while (rc == CL_OK && n > 0) {
		la_ssize_t w = archive_write_data(a, q, n > 65536 ? 65536 : n);

		if (w <= 0)
			rc = cl_error(err, CL_EIO, "rsmf.zip: %s", archive_error_string(a));
		else {
			q += w;
			n -= (size_t)w;
		}
	}
	archive_entry_free(e);
	return rc;
}

static void bates_str(const struct ex *x, uint64_t n, char out[24])
{
	cl_fmt(out, 24, "%.8s%08llu", x->o->bates_prefix ? x->o->bates_prefix : "CL",
	       (unsigned long long)n);
}

/* The name a record gives to the attachment with this sha256, or NULL. */
static const char *att_name(const struct cl_xslice *s, size_t upto, uint64_t of, const char *sha)
{
	size_t i, j;

	for (i = 0; i < upto; i++) {
		const json_t *as;

		if (s->r[i].index != of || s->r[i].rec == NULL)
			continue;
		as = json_object_get(s->r[i].rec, "attachments");
		for (j = 0; j < json_array_size(as); j++) {
			const json_t *a = json_array_get(as, j);
			const char *h = json_string_value(json_object_get(a, "sha256"));

			if (h && strcasecmp(h, sha) == 0)
				return json_string_value(json_object_get(a, "name"));
		}
	}
	return NULL;
}

static int do_slice(struct ex *x, size_t first, size_t end, uint64_t *done)
{
	const struct conv *c = &x->conv[x->h[first].conv];
	struct cl_xslice s;
	struct cl_spool proofs, zip, text, eml, html;
	struct cl_buf pt, leaf, hex, proof;
	struct archive *za = NULL;
	struct zipw zw;
	json_t *man = NULL;
	char date[24], path[512], parent_bates[24], last_bates[24], day[32];
	size_t i, nev = 0, natt = 0;
	int rc = CL_OK;
	struct cl_bag_digest dg;

	memset(&s, 0, sizeof(s));
	cl_spool_init(&proofs, x->tmpdir);
	cl_spool_init(&zip, x->tmpdir);
	cl_spool_init(&text, x->tmpdir);
	cl_spool_init(&eml, x->tmpdir);
	cl_spool_init(&html, x->tmpdir);
	cl_buf_init(&pt, 64u << 20);
	cl_buf_init(&leaf, LEAF_MAX + 1);
	cl_buf_init(&hex, 2 * LEAF_MAX + 16);
	cl_buf_init(&proof, 1u << 20);
	slice_date(x->h[first].slice, x->o->slice_ms, date);
	s.label = c->label;
	s.date = date;
	s.conv_id = c->id;
	s.conv_name = c->name;
	s.conv_type = c->type;
	s.account = c->account;
	s.platform = c->platform;
	s.collection = c->collection;
	s.case_id = x->o->case_id;
	s.tz_name = x->o->tz_name;
	s.tz_off = x->o->tz_offset_s;
	s.begin_ms = x->h[first].slice - (int64_t)x->o->tz_offset_s * 1000;
	s.end_ms = s.begin_ms + x->o->slice_ms;
	if ((s.r = calloc(end - first, sizeof(*s.r))) == NULL) {
		rc = cl_error(x->err, CL_ENOMEM, "out of memory");
		goto out;
	}
	zw.sp = &zip;
	zw.err = x->err;
	zw.rc = CL_OK;
	za = archive_write_new();
	if (za == NULL || archive_write_set_format_zip(za) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(za, 1) != ARCHIVE_OK ||
	    archive_write_open2(za, &zw, NULL, zip_write_cb, NULL, NULL) != ARCHIVE_OK) {
		rc = cl_error(x->err, CL_EIO, "rsmf.zip: %s", za ? archive_error_string(za) : "out of memory");
		goto out;
	}
	bates_str(x, ++x->bates, parent_bates);
	cl_fmt(last_bates, sizeof(last_bates), "%s", parent_bates);
	for (i = first; i < end; i++) {
		const struct hit *h = &x->h[i];
		struct cl_xrec *r = &s.r[s.n++];
		unsigned char salt[32], sha[32];
		struct cl_leaf lf;
		json_t *line;
		uint64_t red;

		r->index = h->index;
		r->sent_at = h->sent_at;
		if (h->erased) {
			r->erased = 1;
			cl_fmt(r->erased_note, sizeof(r->erased_note), "%s", h->note);
			continue;
		}
		cl_buf_reset(&pt);
		cl_buf_reset(&leaf);
		cl_buf_reset(&hex);
		cl_buf_reset(&proof);
		if ((rc = cl_opener_open(x->op, h->index, &pt, salt, &leaf, x->err)) ||
		    (rc = cl_leaf_decode(leaf.data, leaf.len, &lf, x->err)) ||
		    (rc = prove(x, h->index, &proof)))
			goto out;
		cl_buf_add(&proof, "", 1);
		cl_hex_add(&hex, leaf.data, leaf.len);
		cl_buf_add(&hex, "", 1);
		line = json_pack("{s:I,s:s,s:s}", "index", (json_int_t)h->index,
				 "leaf", (const char *)hex.data, "proof", (const char *)proof.data);
		cl_buf_reset(&hex);
		cl_hex_add(&hex, salt, 32);
		cl_buf_add(&hex, "", 1);
		sodium_memzero(salt, sizeof(salt));
		if (h->is_att && cl_map64_get(&x->redacted, h->att_of, &red)) {
			/* An attachment of a redacted record: proved, left out. */
			json_object_set_new(line, "redacted", json_string("attachment of a redacted record"));
			sodium_memzero(pt.data, pt.len);
			memset(r, 0, sizeof(*r));
			s.n--;
			s.n_withheld++;
			x->res->redacted++;
			x->res->attachments--;
			if ((rc = jline(&proofs, line, x->err)))
				goto out;
			if (x->o->progress)
				x->o->progress(x->o->progress_ctx, ++*done, x->nh);
			continue;
		}
		if (!h->is_att) {
			json_error_t je;

			r->rec = json_loadb((const char *)pt.data, pt.len, JSON_REJECT_DUPLICATES, &je);
			if (r->rec == NULL) {
				json_decref(line);
				rc = cl_error(x->err, CL_ECORRUPT, "entry %llu: its record does not parse",
					      (unsigned long long)h->index);
				goto out;
			}
			if (x->o->redact &&
			    (rc = x->o->redact(x->o->redact_ctx, h->index, r->rec, &r->redacted, x->err))) {
				json_decref(line);
				goto out;
			}
		}
		if (r->redacted) {
			/* The leaf and its inclusion proof only: the masked record
			 * no longer hashes to pt_hash (docs/BUNDLE.md §4.2). */
			json_object_set_new(line, "redacted", json_string(r->redacted));
			if (cl_map64_put(&x->redacted, h->index, 1) != 0) {
				json_decref(line);
				rc = cl_error(x->err, CL_ENOMEM, "out of memory");
				goto out;
			}
			s.n_redacted++;
			x->res->redacted++;
		} else if (h->is_att) {
			const char *nm;
			char clean[96];

			r->is_att = 1;
			r->att_of = h->att_of;
			r->size = pt.len;
			cl_sha256(pt.data, pt.len, sha);
			for (int k = 0; k < 32; k++)
				cl_fmt(r->sha256 + 2 * k, 3, "%02x", sha[k]);
			nm = att_name(&s, s.n - 1, h->att_of, r->sha256);
			sanitize(nm ? nm : "attachment.bin", clean, 64);
			bates_str(x, ++x->bates, r->bates);
			cl_fmt(last_bates, sizeof(last_bates), "%s", r->bates);
			cl_fmt(r->zip_id, sizeof(r->zip_id), "%.16s_%s", r->sha256, clean);
			cl_fmt(r->native, sizeof(r->native), "data/natives/%s_%s", r->bates, clean);
			if ((rc = cl_bag_add(x->bag, r->native, pt.data, pt.len, &dg, x->err)) ||
			    (rc = zip_add(za, r->zip_id, pt.data, pt.len, h->sent_at, x->err)))
				goto out;
			json_object_set_new(line, "native", json_string(r->native));
			json_object_set_new(line, "salt", json_string((const char *)hex.data));
		} else {
			json_object_set_new(line, "plaintext", json_stringn((const char *)pt.data, pt.len));
			json_object_set_new(line, "salt", json_string((const char *)hex.data));
		}
		sodium_memzero(pt.data, pt.len);
		if ((rc = jline(&proofs, line, x->err)))
			goto out;
		if (x->o->progress)
			x->o->progress(x->o->progress_ctx, ++*done, x->nh);
	}
	/* The manifest, then the container. */
	if ((man = cl_rsmf_manifest(&s, &nev, &natt)) == NULL) {
		rc = cl_error(x->err, CL_ENOMEM, "out of memory");
		goto out;
	}
	{
		char *mt = json_dumps(man, JSON_INDENT(1) | JSON_SORT_KEYS);

		if (mt == NULL) {
			rc = cl_error(x->err, CL_ENOMEM, "out of memory");
			goto out;
		}
		rc = zip_add(za, "rsmf_manifest.json", mt, strlen(mt), s.begin_ms, x->err);
		free(mt);
		if (rc)
			goto out;
	}
	if (archive_write_close(za) != ARCHIVE_OK) {
		rc = zw.rc ? zw.rc : cl_error(x->err, CL_EIO, "rsmf.zip: %s", archive_error_string(za));
		goto out;
	}
	if ((rc = cl_rsmf_text(&s, &text, x->err)) ||
	    (rc = cl_rsmf_eml(&s, man, nev, natt, &text, &zip, &eml, x->err)) ||
	    (rc = cl_transcript_html(&s, &html, x->err)))
		goto out;
	cl_fmt(path, sizeof(path), "data/rsmf/%s_%s.rsmf", s.label, s.date);
	if ((rc = cl_bag_add_spool(x->bag, path, &eml, &dg, x->err)))
		goto out;
	{
		char md5[33], sha[65], tp[512], np[512], rd[160] = "";
		const char *f[CL_DAT_FIELDS_REDACT];
		int k;

		for (k = 0; k < 16; k++)
			cl_fmt(md5 + 2 * k, 3, "%02X", dg.md5[k]);
		for (k = 0; k < 32; k++)
			cl_fmt(sha + 2 * k, 3, "%02X", dg.sha256[k]);
		cl_x_utc(s.begin_ms, day);
		cl_fmt(np, sizeof(np), ".\\%s", path);
		for (k = 0; np[k]; k++)
			if (np[k] == '/')
				np[k] = '\\';
		cl_fmt(tp, sizeof(tp), ".\\data\\text\\%s_%s.txt", s.label, s.date);
		f[0] = parent_bates; f[1] = parent_bates; f[2] = parent_bates; f[3] = last_bates;
		f[4] = s.account; f[5] = day; f[6] = md5; f[7] = sha; f[8] = np; f[9] = tp;
		if (s.n_redacted)
			cl_fmt(rd, sizeof(rd), "redacted (content withheld): %zu records, %zu"
			       " attachments left out; see the transcript", s.n_redacted, s.n_withheld);
		f[10] = rd;
		if ((rc = cl_dat_row(&x->dat, f, x->dat_nf, x->err)))
			goto out;
		for (i = 0; i < s.n; i++) {
			struct cl_xrec *r = &s.r[i];

			if (!r->is_att)
				continue;
			cl_fmt(np, sizeof(np), ".\\%s", r->native);
			for (k = 0; np[k]; k++)
				if (np[k] == '/')
					np[k] = '\\';
			for (k = 0; k < 64; k++)
				sha[k] = (char)(r->sha256[k] >= 'a' ? r->sha256[k] - 32 : r->sha256[k]);
			sha[64] = 0;
			cl_x_utc(r->sent_at, day);
			f[0] = r->bates; f[1] = r->bates; f[2] = parent_bates; f[3] = last_bates;
			f[4] = s.account; f[5] = day; f[6] = ""; f[7] = sha; f[8] = np; f[9] = "";
			f[10] = "";
			if ((rc = cl_dat_row(&x->dat, f, x->dat_nf, x->err)))
				goto out;
		}
	}
	cl_fmt(path, sizeof(path), "data/text/%s_%s.txt", s.label, s.date);
	if ((rc = cl_bag_add_spool(x->bag, path, &text, NULL, x->err)))
		goto out;
	cl_fmt(path, sizeof(path), "data/transcripts/%s_%s.html", s.label, s.date);
	if ((rc = cl_bag_add_spool(x->bag, path, &html, NULL, x->err)))
		goto out;
	cl_fmt(path, sizeof(path), "data/proofs/records/%s_%s.jsonl", s.label, s.date);
	if ((rc = cl_bag_add_spool(x->bag, path, &proofs, NULL, x->err)))
		goto out;
	x->res->slices++;
out:
	if (za)
		archive_write_free(za);
	json_decref(man);
	for (i = 0; s.r && i < s.n; i++)
		json_decref(s.r[i].rec);
	free(s.r);
	cl_spool_release(&proofs);
	cl_spool_release(&zip);
	cl_spool_release(&text);
	cl_spool_release(&eml);
	cl_spool_release(&html);
	if (pt.data)
		sodium_memzero(pt.data, pt.alloc);
	cl_buf_release(&pt);
	cl_buf_release(&leaf);
	cl_buf_release(&hex);
	cl_buf_release(&proof);
	return rc;
}

/* ---- witnesses ------------------------------------------------------------------ */

/*
 * Push the export checkpoint to the configured witnesses and TSA (forced:
 * the export is worth a cosignature whatever the interval), then take
 * what is stored for it: the cosignature lines into x->cosig, the RFC
 * 3161 response into tsr.  A witness that does not answer or refuses is
 * recorded by the push (coverage entries) and leaves the bundle with
 * fewer cosignatures; only an archive that cannot be read or written
 * fails the export.
 */
static int witness_export(struct ex *x, struct cl_buf *tsr)
{
	const struct cl_wcfg *c = x->o->witness;
	struct cl_push_report rep;
	size_t i;
	int rc;

	if (c && (c->n > 0 || c->tsa_url[0])) {
		x->res->witnesses = c->n;
		if ((rc = cl_witness_push(x->l, c, 1, NULL, NULL, &rep, x->err)))
			return rc;
		/* Another writer committed between the export's entry and the
		 * push: the witnesses saw a later checkpoint. */
		x->res->witness_late = rep.size != x->size;
	}
	if ((rc = cl_witness_cosig_lines(x->l, x->size, &x->cosig, x->err)))
		return rc;
	for (i = 0; i < x->cosig.len; i++)
		x->res->cosignatures += x->cosig.data[i] == '\n';
	rc = cl_witness_token(x->l, x->size, tsr, NULL, x->err);
	if (rc == CL_ENOTFOUND)
		return CL_OK;
	x->res->timestamped = rc == CL_OK;
	return rc;
}

/* ---- tag files and signatures ------------------------------------------------ */

static int add_file_tag(struct ex *x, const char *bagpath, const char *src)
{
	struct cl_buf b;
	int rc;

	cl_buf_init(&b, 1u << 20);
	if ((rc = cl_file_read(src, &b, 1u << 20, x->err)) == CL_OK)
		rc = cl_bag_add_tag(x->bag, bagpath, b.data, b.len, x->err);
	cl_buf_release(&b);
	return rc;
}

static const char verify_txt[] =
	"How to verify this bundle with standard tools (docs/BUNDLE.md in chatledger)\n"
	"=========================================================================\n\n"
	"Work in the bundle's top folder (the folder holding this file).\n\n"
	"1. Tag files: run `sha256sum -c tagmanifest-sha256.txt`. Every line must say OK.\n"
	"2. Payload: run `sha256sum -c manifest-sha256.txt`. Every line must say OK. Check\n"
	"   that the Payload-Oxum in bag-info.txt (bytes.files) matches the files under data/,\n"
	"   and that no file under data/ is missing from manifest-sha256.txt.\n"
	"3. Signature: obtain the archive's export certificate (or your organisation's root)\n"
	"   from the producing party out of band and compare its SHA-256 fingerprint with\n"
	"   `openssl x509 -in certs/signer.pem -noout -fingerprint -sha256`. Then run\n"
	"   `openssl cms -verify -binary -inform DER -in tagmanifest-sha256.txt.p7s\n"
	"    -content tagmanifest-sha256.txt -CAfile ROOT.pem -out /dev/null`;\n"
	"   it must print \"Verification successful\".\n"
	"4. Timestamp (only if tagmanifest-sha256.txt.p7s.tsr exists): run\n"
	"   `openssl ts -verify -data tagmanifest-sha256.txt.p7s -in tagmanifest-sha256.txt.p7s.tsr\n"
	"    -CAfile certs/tsa-ca.pem` (or the TSA's root you trust); it must print\n"
	"   \"Verification: OK\". The time in `openssl ts -reply -in ... -text` is when the\n"
	"   signature existed.\n"
	"5. Optional: `minisign -V -p certs/minisign.pub -m tagmanifest-sha256.txt`\n"
	"   (the signature is tagmanifest-sha256.txt.minisig).\n"
	"6. Every record: data/proofs/records/*.jsonl hold, per exported entry, its leaf, the\n"
	"   salt, its exact plaintext (or the native file it is) and a C2SP tlog-proof against\n"
	"   data/proofs/checkpoint, signed by the log key in data/proofs/verifier-key. Check\n"
	"   SHA-256(salt || plaintext) equals the leaf's pt_hash, the leaf's inclusion proof,\n"
	"   and the checkpoint's Ed25519 signature (docs/FORMAT.md §7, §8). A line with\n"
	"   \"redacted\" (a masked record, e.g. another person's message in a data access\n"
	"   request) has no salt or plaintext: check its leaf and inclusion proof only; its\n"
	"   content is withheld and its masked text is not proven (docs/BUNDLE.md §4.2).\n"
	"7. Completeness: data/proofs/chains/*.jsonl hold each conversation's chain from its\n"
	"   head (proved in the checkpoint) back to its first entry. Every record of the chain\n"
	"   in the exported time range must have a proof in data/proofs/records/, or be named\n"
	"   by a tombstone of the chain (\"erased under rule R on date D\").\n"
	"8. Witnesses (only if data/proofs/checkpoint has lines after the log's signature):\n"
	"   each further \"\u2014 name ...\" line is a C2SP tlog-cosignature/v1 by an independent\n"
	"   witness over the checkpoint text (docs/FORMAT.md \u00a711). If\n"
	"   data/proofs/checkpoint.tsr exists, run `sed '/^$/,$d' data/proofs/checkpoint >cp.txt`\n"
	"   and `openssl ts -verify -data cp.txt -in data/proofs/checkpoint.tsr -CAfile TSA-ROOT`:\n"
	"   the checkpoint existed at the token's time.\n\n"
	"`chatledger verify-bundle FILE --vkey VKEY --ca ROOT.pem [--witness-policy POLICY\n"
	" --tsa-ca TSA-ROOT]` does all of the above offline.\n";

int cl_bundle_export(struct cl_ledger *l, const unsigned char *sk,
		     const struct cl_bundle_opts *o, struct cl_bundle_result *r,
		     char **err)
{
	struct ex x;
	struct cl_signer own;
	const struct cl_signer *signer = o->signer;
	char *tmp = NULL, *top = NULL, *vkey = NULL, *certp = NULL, *fdir = NULL;
	struct cl_buf tm, sig, buf, tsr;
	struct cl_select_plan *plan = NULL;
	uint64_t done = 0, ob, of;
	int reading = 0;
	size_t i, j;
	int fd = -1, rc, created = 0;
	const char *slash;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.l = l;
	x.sk = sk;
	x.o = o;
	x.res = r;
	x.err = err;
	cl_map_init(&x.convmap);
	cl_map64_init(&x.redacted);
	x.dat_nf = o->redact ? CL_DAT_FIELDS_REDACT : CL_DAT_FIELDS;
	cl_buf_init(&x.cp, 1u << 16);
	cl_buf_init(&x.pt, 64u << 20);
	cl_buf_init(&x.cosig, 1u << 16);
	cl_buf_init(&tsr, 1u << 20);
	cl_buf_init(&tm, 1u << 24);
	cl_buf_init(&sig, 1u << 20);
	cl_buf_init(&buf, 1u << 20);
	slash = strrchr(o->out_path, '/');
	cl_fmt(x.tmpdir, sizeof(x.tmpdir), "%.*s", slash ? (int)(slash - o->out_path) : 1,
	       slash ? o->out_path : ".");
	if (x.tmpdir[0] == 0)
		cl_fmt(x.tmpdir, sizeof(x.tmpdir), "/");
	cl_spool_init(&x.dat, x.tmpdir);
	if (o->slice_ms <= 0 || 86400000 % o->slice_ms != 0 || o->slice_ms % 3600000 != 0) {
		rc = cl_error(err, CL_EINVAL, "the slice must be a whole number of hours dividing 24h");
		goto out;
	}
	if (!signer) {
		if ((rc = cl_sign_keys_ensure(cl_ledger_dir(l), cl_ledger_origin(l), &created, err)))
			goto out;
		own.cert_path = certp = cl_strdupf("%s/export.crt", cl_ledger_dir(l));
		own.key_path = fdir = cl_strdupf("%s/export.key", cl_ledger_dir(l));
		own.chain_path = NULL;
		signer = &own;
	}
	/* Pass 1: what is exported (planned; only the first record of each
	 * conversation is opened, for its names). */
	if ((rc = cl_ledger_read_begin(l, &reading, err)) ||
	    (rc = cl_opener_new(l, sk, &x.op, err)) ||
	    (rc = cl_select_plan_new(l, o->q, &plan, err)) ||
	    (rc = cl_select_plan_filter_text(l, sk, plan, err)))
		goto out;
	rc = cl_select_plan_walk(l, plan, on_hit, &x, err);
	if (x.rc_cb)
		rc = x.rc_cb;
	cl_ledger_read_end(l, reading);
	reading = 0;
	if (rc)
		goto out;
	r->conversations = x.nconv;
	/* The export is evidence before anything is written. */
	{
		json_t *sealed = o->access_sealed ? json_deep_copy(o->access_sealed) :
				 o->access_extra ? json_deep_copy(o->access_extra) : json_object();

		if (sealed && o->reason)
			json_object_set_new(sealed, "reason", json_string(o->reason));
		rc = sealed ? cl_access_record_extra(l, o->command ? o->command : "export", o->who,
						     o->q, r->records, o->access_extra, sealed,
						     &r->access_index, err) : CL_ENOMEM;
		json_decref(sealed);
	}
	if (rc)
		goto out;
	x.size = r->size = cl_ledger_size(l);
	/* Pass 2 reads one state: the one with the export checkpoint. */
	if ((rc = witness_export(&x, &tsr)) ||
	    (rc = cl_ledger_read_begin(l, &reading, err)) ||
	    (rc = cl_ledger_checkpoint(l, x.size, &x.cp, err)) ||
	    (rc = cl_prover_new(l, x.size, &x.pv, err)) ||
	    (rc = cl_vault_load_vkey(cl_ledger_dir(l), &vkey, err)))
		goto out;
	/* The cosigned note: more signature lines (c2sp.org/signed-note). */
	if (x.cosig.len > 0 && cl_buf_add(&x.cp, x.cosig.data, x.cosig.len) != 0) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	/* The output. */
	if ((tmp = cl_strdupf("%s.tmp", o->out_path)) == NULL ||
	    (top = cl_strdupf("EXPORT-%s", o->case_id)) == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	/* The folder name: the case id with anything but [A-Za-z0-9._-] as
	 * '_' (bag-info's External-Identifier keeps it as given). */
	for (char *c = top; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-'))
			*c = '_';
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		rc = cl_error(err, errno == EEXIST ? CL_EEXIST : CL_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if ((rc = cl_bag_open(fd, o->format == CL_BAG_TAR ? CL_BAG_TAR : CL_BAG_ZIP, top,
			      o->now_ms / 1000, x.tmpdir, &x.bag, err)))
		goto out;
	/* Completeness first (it adds the erased records to their slices). */
	for (i = 0; i < x.nconv; i++)
		if ((rc = cl_ledger_conv_head(l, x.conv[i].tag, x.size, CL_ENTRY_RECORD,
					      CL_ENTRY_TOMBSTONE, &x.conv[i].head,
					      &x.conv[i].has_head, err)))
			goto out;
	for (i = 0; i < x.nconv; i++)
		if (x.conv[i].has_head && (rc = write_chain(&x, (uint32_t)i)))
			goto out;
	qsort(x.h, x.nh, sizeof(x.h[0]), hit_cmp);
	if ((rc = cl_dat_header(&x.dat, x.dat_nf, err)))
		goto out;
	for (i = 0; i < x.nh; i = j) {
		for (j = i + 1; j < x.nh && x.h[j].conv == x.h[i].conv && x.h[j].slice == x.h[i].slice; j++)
			;
		if ((rc = do_slice(&x, i, j, &done)))
			goto out;
	}
	cl_ledger_read_end(l, reading);
	reading = 0;
	if ((rc = cl_bag_add_spool(x.bag, "data/loadfiles/export.dat", &x.dat, NULL, err)) ||
	    (rc = cl_bag_add(x.bag, "data/proofs/checkpoint", x.cp.data, x.cp.len, NULL, err)) ||
	    (tsr.len > 0 &&
	     (rc = cl_bag_add(x.bag, "data/proofs/checkpoint.tsr", tsr.data, tsr.len, NULL, err))))
		goto out;
	cl_buf_reset(&buf);
	cl_buf_addf(&buf, "%s\n", vkey);
	if ((rc = cl_bag_add(x.bag, "data/proofs/verifier-key", buf.data, buf.len, NULL, err)))
		goto out;
	/* Custody. */
	{
		struct cl_spool cu;
		char now[32];

		cl_spool_init(&cu, x.tmpdir);
		cl_time_format(o->now_ms, now);
		rc = jline(&cu, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "event", "request", "at", now,
					  "who", o->who, "case", o->case_id, "query",
					  o->query_text ? o->query_text : "", "command",
					  o->command && strcmp(o->command, "dsar") == 0 ?
					  "chatledger dsar" : "chatledger export"), err);
		if (!rc && o->custody_extra)
			rc = jline(&cu, json_deep_copy(o->custody_extra), err);
		if (!rc)
			rc = jline(&cu, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "event", "selected", "at", now,
						  "redacted", (json_int_t)r->redacted,
						  "records", (json_int_t)r->records,
						  "attachments", (json_int_t)r->attachments,
						  "conversations", (json_int_t)r->conversations,
						  "slices", (json_int_t)r->slices,
						  "erased", (json_int_t)r->erased), err);
		if (!rc)
			rc = jline(&cu, json_pack("{s:s,s:s,s:I,s:I,s:s}", "event", "recorded", "at", now,
						  "ledger_index", (json_int_t)r->access_index,
						  "checkpoint_size", (json_int_t)x.size,
						  "origin", cl_ledger_origin(l)), err);
		if (!rc)
			rc = cl_bag_add_spool(x.bag, "data/custody/custody-log.jsonl", &cu, NULL, err);
		cl_spool_release(&cu);
		if (rc)
			goto out;
	}
	/* Tag files. */
	cl_bag_oxum(x.bag, &ob, &of);
	r->payload_bytes = ob;
	r->payload_files = of;
	{
		char day[32], now[32], *cpl = NULL;
		size_t k;

		cl_time_format(o->now_ms, now);
		cl_fmt(day, sizeof(day), "%.10s", now);
		for (k = 0; k < x.cp.len && x.cp.data[k] != '\n'; k++)
			;
		cl_buf_reset(&buf);
		rc = cl_bag_add_tag(x.bag, "bagit.txt",
				    "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", 55, err);
		if (rc)
			goto out;
		cl_buf_addf(&buf, "Source-Organization: %s\nExternal-Identifier: %s\nBagging-Date: %s\n"
			    "Payload-Oxum: %llu.%llu\nBag-Software-Agent: chatledger\n"
			    "External-Description: %s%s\n"
			    "Log-Origin: %s\nLog-Checkpoint-Size: %llu\nLog-Verifier-Key: %s\n"
			    "Export-Ledger-Index: %llu\nExport-Query: %s\nSlice-Time-Zone: %s\n"
			    "Slice-Length-Hours: %lld\nExport-Time: %s\nExported-By: %s\n",
			    cl_ledger_origin(l), o->case_id, day, (unsigned long long)ob,
			    (unsigned long long)of,
			    o->description ? o->description : "chatledger eDiscovery export, case ",
			    o->description ? "" : o->case_id, cl_ledger_origin(l),
			    (unsigned long long)x.size, vkey, (unsigned long long)r->access_index,
			    o->query_text ? o->query_text : "(all)", o->tz_name,
			    (long long)(o->slice_ms / 3600000), now, o->who);
		/* The checkpoint root, for a reader of bag-info alone. */
		cpl = memchr(x.cp.data, '\n', x.cp.len) ? (char *)x.cp.data : NULL;
		(void)cpl;
		if ((rc = cl_bag_add_tag(x.bag, "bag-info.txt", buf.data, buf.len, err)) ||
		    (rc = cl_bag_write_manifest(x.bag, err)) ||
		    (rc = add_file_tag(&x, "certs/signer.pem", signer->cert_path)) ||
		    (signer->chain_path && (rc = add_file_tag(&x, "certs/chain.pem", signer->chain_path))) ||
		    (o->tsa_ca_path && (rc = add_file_tag(&x, "certs/tsa-ca.pem", o->tsa_ca_path))))
			goto out;
		if (!o->signer) {
			char *mp = cl_strdupf("%s/export-minisign.pub", cl_ledger_dir(l));

			rc = mp ? add_file_tag(&x, "certs/minisign.pub", mp) : CL_ENOMEM;
			free(mp);
			if (rc)
				goto out;
		}
		if ((rc = cl_bag_add_tag(x.bag, "VERIFY.txt", verify_txt, sizeof(verify_txt) - 1, err)) ||
		    (rc = cl_bag_write_tagmanifest(x.bag, &tm, err)))
			goto out;
	}
	/* Signatures over the tag manifest. */
	if ((rc = cl_sign_cms(signer, tm.data, tm.len, &sig, err)) ||
	    (rc = cl_bag_add_unlisted(x.bag, "tagmanifest-sha256.txt.p7s", sig.data, sig.len, err)))
		goto out;
	if (o->tsa_url) {
		cl_buf_reset(&buf);
		if ((rc = cl_sign_timestamp(o->tsa_url, sig.data, sig.len, &buf, err)) ||
		    (rc = cl_bag_add_unlisted(x.bag, "tagmanifest-sha256.txt.p7s.tsr", buf.data, buf.len, err)))
			goto out;
	}
	if (!o->signer) {
		char cm[256];

		cl_buf_reset(&buf);
		cl_fmt(cm, sizeof(cm), "chatledger export case %.64s origin %.64s size %llu",
		       o->case_id, cl_ledger_origin(l), (unsigned long long)x.size);
		if ((rc = cl_sign_minisign(cl_ledger_dir(l), tm.data, tm.len, cm, &buf, err)) ||
		    (rc = cl_bag_add_unlisted(x.bag, "tagmanifest-sha256.txt.minisig", buf.data, buf.len, err)))
			goto out;
	}
	rc = cl_bag_close(x.bag, err);
	x.bag = NULL;
	if (rc)
		goto out;
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		rc = cl_error(err, CL_EIO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (link(tmp, o->out_path) != 0) {
		rc = cl_error(err, errno == EEXIST ? CL_EEXIST : CL_EIO, "%s: %s", o->out_path, strerror(errno));
		goto out;
	}
	unlink(tmp);
	cl_fsync_dir(x.tmpdir);
out:
	if (x.bag)
		cl_bag_abort(x.bag);
	if (fd >= 0)
		close(fd);
	if (rc && tmp)
		unlink(tmp);
	for (i = 0; i < x.nconv; i++) {
		free(x.conv[i].id);
		free(x.conv[i].name);
		free(x.conv[i].type);
		free(x.conv[i].account);
		free(x.conv[i].platform);
	}
	for (i = 0; i < x.nh; i++)
		free(x.h[i].note);
	free(x.conv);
	free(x.h);
	cl_select_plan_free(plan);
	cl_opener_free(x.op);
	cl_prover_free(x.pv);
	cl_ledger_read_end(l, reading);
	if (x.pt.data)
		sodium_memzero(x.pt.data, x.pt.alloc);
	cl_buf_release(&x.pt);
	cl_map_release(&x.convmap);
	cl_map64_release(&x.redacted);
	cl_spool_release(&x.dat);
	cl_buf_release(&x.cp);
	cl_buf_release(&x.cosig);
	cl_buf_release(&tsr);
	cl_buf_release(&tm);
	cl_buf_release(&sig);
	cl_buf_release(&buf);
	free(tmp);
	free(top);
	free(vkey);
	free(certp);
	free(fdir);
	return rc;
}
