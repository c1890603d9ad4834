/*
 * dsar.c - data access requests: control entries and the bundle (dsar.h).
 *
 * The bundle is written with libarchive into a new file (O_EXCL, 0600,
 * fsynced).  Records are collected in memory (wiped afterwards) because
 * the JSON lines file comes after the attachments that stream past;
 * nothing decrypted is written anywhere but into the bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

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
	int rc;

	json_object_del(rec, "raw");
	if ((rc = mask_member(json_object_get(rec, "sender"), "id")) ||
	    (rc = mask_member(rec, "text")))
		return rc;
	return CL_OK;
}

/* ---- the bundle ------------------------------------------------------------ */

struct bundle {
	struct cl_ledger *l;
	const char *party;
	struct archive *a;
	char dir[40];
	struct cl_buf jsonl;     /* records.jsonl (plaintext: wiped at the end) */
	struct cl_buf manifest;
	int take_attachments;    /* the last record's attachments go in */
	uint64_t n;
	char **err;
};

static int add_file(struct bundle *b, const char *name, const unsigned char *p, size_t n)
{
	struct archive_entry *e = archive_entry_new();
	char path[160];
	int rc = CL_OK;

	if (e == NULL)
		return CL_ENOMEM;
	(void)cl_fmt(path, sizeof(path), "%s/%s", b->dir, name);
	archive_entry_set_pathname(e, path);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_mtime(e, (time_t)(cl_time_now_ms() / 1000), 0);
	if (archive_write_header(b->a, e) != ARCHIVE_OK ||
	    (n && archive_write_data(b->a, p, n) != (la_ssize_t)n))
		rc = cl_error(b->err, CL_EIO, "dsar bundle: writing %s: %s", name,
			      archive_error_string(b->a));
	archive_entry_free(e);
	if (rc == CL_OK && strcmp(name, "manifest-sha256.txt") != 0) {
		unsigned char d[32];
		char hex[65];

		cl_sha256(p, n, d);
		sodium_bin2hex(hex, sizeof(hex), d, sizeof(d));
		rc = cl_buf_addf(&b->manifest, "%s  %s\n", hex, name);
	}
	return rc;
}

static int on_hit(void *ctx, const struct cl_select_hit *h)
{
	struct bundle *b = ctx;
	const json_t *conv, *sid;
	json_t *rec, *line;
	char *s;
	int rc, other = 0;

	if (h->rec == NULL) {
		unsigned char d[32];
		char name[80];

		if (h->pt == NULL || !b->take_attachments)
			return CL_OK;
		cl_sha256(h->pt, h->ptlen, d);
		memcpy(name, "attachments/", 12);
		sodium_bin2hex(name + 12, 65, d, sizeof(d));
		return add_file(b, name, h->pt, h->ptlen);
	}
	rec = json_deep_copy(h->rec);
	if (rec == NULL)
		return CL_ENOMEM;
	conv = json_object_get(rec, "conversation");
	sid = json_object_get(json_object_get(rec, "sender"), "id");
	if (json_is_string(json_object_get(conv, "type")) &&
	    strcmp(json_string_value(json_object_get(conv, "type")), "group") == 0 &&
	    json_is_string(sid)) {
		int yes = 0;

		if ((rc = cl_parties_is_member(b->l, &b->party, 1, json_string_value(sid), &yes,
					       b->err))) {
			json_decref(rec);
			return rc;
		}
		other = !yes;
	}
	if (other && (rc = cl_dsar_mask(rec))) {
		json_decref(rec);
		return rc;
	}
	b->take_attachments = !other;
	line = json_pack("{s:I, s:o}", "index", (json_int_t)h->index, "record", rec);
	s = line ? json_dumps(line, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(line);
	if (s == NULL)
		return CL_ENOMEM;
	rc = cl_buf_addstr(&b->jsonl, s);
	if (rc == CL_OK)
		rc = cl_buf_add(&b->jsonl, "\n", 1);
	sodium_memzero(s, strlen(s));
	free(s);
	b->n++;
	return rc;
}

static int ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

int cl_dsar_write(struct cl_ledger *l, const unsigned char *seal_sk, uint64_t id,
		  const char *party, int64_t received, const char *out,
		  uint64_t *n_records, char **err)
{
	struct cl_select_query q;
	struct bundle b;
	json_t *req = NULL;
	char *rs = NULL;
	int fd = -1, rc = CL_OK, created = 0;
	uint64_t hits = 0;

	*n_records = 0;
	memset(&b, 0, sizeof(b));
	b.l = l;
	b.party = party;
	b.err = err;
	cl_buf_init(&b.jsonl, (size_t)1 << 31);
	cl_buf_init(&b.manifest, (size_t)1 << 28);
	(void)cl_fmt(b.dir, sizeof(b.dir), "dsar-%" PRIu64, id);
	cl_select_query_init(&q);
	q.parties = &party;
	q.n_parties = 1;
	q.to = received + DAY_MS - 1;  /* as at the day the request was received */

	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = cl_error(err, errno == EEXIST ? CL_EEXIST : CL_EIO, "%s: %s", out,
			      errno == EEXIST ? "exists; refusing to overwrite" : strerror(errno));
		goto out;
	}
	created = 1;
	if ((b.a = archive_write_new()) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((ends_with(out, ".zip") ? archive_write_set_format_zip(b.a) :
	     archive_write_set_format_pax_restricted(b.a)) != ARCHIVE_OK ||
	    archive_write_open_fd(b.a, fd) != ARCHIVE_OK) {
		rc = cl_error(err, CL_EIO, "%s: %s", out, archive_error_string(b.a));
		goto out;
	}
	if ((rc = cl_select_run(l, seal_sk, &q, on_hit, &b, &hits, err)))
		goto out;
	req = json_pack("{s:I, s:s, s:o, s:o, s:I, s:s}", "request", (json_int_t)id,
			"party", party, "received", date_json(received),
			"deadline", date_json(received + CL_DSAR_DAYS * DAY_MS),
			"records", (json_int_t)b.n,
			"masking", "group chats: other people's names kept; phone numbers"
			" masked (all but the last two digits) in their sender ids and"
			" message text; their source bytes (raw) and attachments left out");
	rs = req ? json_dumps(req, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	if (rs == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = add_file(&b, "request.json", (const unsigned char *)rs, strlen(rs))) ||
	    (rc = add_file(&b, "records.jsonl", b.jsonl.data ? b.jsonl.data :
			   (const unsigned char *)"", b.jsonl.len)) ||
	    (rc = add_file(&b, "manifest-sha256.txt", b.manifest.data, b.manifest.len)))
		goto out;
	if (archive_write_close(b.a) != ARCHIVE_OK) {
		rc = cl_error(err, CL_EIO, "%s: %s", out, archive_error_string(b.a));
		goto out;
	}
	if (fsync(fd) != 0) {
		rc = cl_error(err, CL_EIO, "%s: fsync: %s", out, strerror(errno));
		goto out;
	}
	*n_records = b.n;
out:
	if (b.a)
		archive_write_free(b.a);
	if (fd >= 0)
		close(fd);
	if (rc && created)
		unlink(out);
	if (rc == CL_OK)
		(void)cl_fsync_dir(out);
	json_decref(req);
	free(rs);
	if (b.jsonl.data)
		sodium_memzero(b.jsonl.data, b.jsonl.alloc);
	cl_buf_release(&b.jsonl);
	cl_buf_release(&b.manifest);
	return rc;
}
