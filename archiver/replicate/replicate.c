/*
 * replicate.c - ship an archive's append-only state to S3 Object Lock
 * storage (replicate.h), the state file and the coverage entries.
 *
 * The local log is read through a read-only SQLite connection of its
 * own, in one read transaction, from the tables of docs/FORMAT.md §4
 * (the format is normative; nothing is written to them).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "archiver/replicate/repl_int.h"
#include "archiver/replicate/segment.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- helpers ------------------------------------------------------------ */

char *repl_name(const struct cl_repl_where *w, const char *fmt, ...)
{
	va_list ap;
	char *rel, *full;

	va_start(ap, fmt);
	rel = cl_vstrdupf(fmt, ap);
	va_end(ap);
	if (!rel)
		return NULL;
	full = w->prefix[0] ? cl_strdupf("%s/%s", w->prefix, rel) : cl_strdupf("%s", rel);
	free(rel);
	return full;
}

const char *repl_rel(const struct cl_repl_where *w, const char *key)
{
	size_t n = strlen(w->prefix);

	if (n == 0)
		return key;
	if (strncmp(key, w->prefix, n) != 0 || key[n] != '/')
		return NULL;
	return key + n + 1;
}

void repl_md5_hex(const void *p, size_t n, char out[33])
{
	unsigned char md[16];
	unsigned int l = 0;
	size_t i;

	memset(md, 0, sizeof(md));
	(void)EVP_Digest(p, n, md, &l, EVP_md5(), NULL);
	for (i = 0; i < 16; i++)
		(void)cl_fmt(out + 2 * i, 3, "%02x", md[i]);
}

void repl_sha_hex(const void *p, size_t n, char out[65])
{
	unsigned char h[32];
	size_t i;

	cl_sha256(p, n, h);
	for (i = 0; i < 32; i++)
		(void)cl_fmt(out + 2 * i, 3, "%02x", h[i]);
}

int cl_repl_new(const struct cl_repl_opts *o, struct cl_repl **out, char **err)
{
	struct cl_repl *r;
	struct cl_s3_opts so;
	int rc;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return CL_ENOMEM;
	r->worm = o->worm;
	r->keys = o->keys;
	memset(&so, 0, sizeof(so));
	so.region = o->region ? o->region : "us-east-1";
	so.access_key = o->access_key;
	so.secret_key = o->secret_key;
	so.ca_file = o->ca_file;
	so.allow_http = o->allow_http;
	so.timeout_s = o->timeout_s;
	so.endpoint = o->worm.endpoint;
	if ((rc = cl_s3_new(&so, &r->worm_s3, err)))
		goto fail;
	so.endpoint = o->keys.endpoint[0] ? o->keys.endpoint : o->worm.endpoint;
	if ((rc = cl_s3_new(&so, &r->keys_s3, err)))
		goto fail;
	if (!r->keys.endpoint[0])
		memcpy(r->keys.endpoint, r->worm.endpoint, sizeof(r->keys.endpoint));
	*out = r;
	return CL_OK;
fail:
	cl_repl_free(r);
	return rc;
}

void cl_repl_free(struct cl_repl *r)
{
	if (!r)
		return;
	cl_s3_free(r->worm_s3);
	cl_s3_free(r->keys_s3);
	free(r);
}

void cl_repl_report_release(struct cl_repl_report *rep)
{
	free(rep->alert);
	rep->alert = NULL;
}

/* ---- the local log -------------------------------------------------------- */

int repl_db_open(const char *dir, sqlite3 **db, char **err)
{
	char *path = cl_strdupf("%s/ledger.db", dir);
	int rc = CL_OK;

	*db = NULL;
	if (!path)
		return CL_ENOMEM;
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(*db, 10000) != SQLITE_OK ||
	    sqlite3_exec(*db, "BEGIN; SELECT count(*) FROM checkpoint", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "cannot open");
		sqlite3_close(*db);
		*db = NULL;
	}
	free(path);
	return rc;
}

void repl_db_close(sqlite3 *db)
{
	if (db) {
		(void)sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
	}
}

int repl_db_size(sqlite3 *db, uint64_t *n, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	*n = 0;
	if (sqlite3_prepare_v2(db, "SELECT max(size) FROM checkpoint", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		rc = cl_error(err, CL_EIO, "reading the log size: %s", sqlite3_errmsg(db));
	else
		*n = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc;
}

int repl_db_note(sqlite3 *db, uint64_t size, char **note, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK, s;

	*note = NULL;
	if (sqlite3_prepare_v2(db, "SELECT note FROM checkpoint WHERE size = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "reading a checkpoint: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	s = sqlite3_step(st);
	if (s == SQLITE_ROW)
		*note = strdup((const char *)sqlite3_column_text(st, 0));
	if (s == SQLITE_ROW && !*note)
		rc = CL_ENOMEM;
	else if (s == SQLITE_DONE)
		rc = CL_ENOTFOUND;
	else if (s != SQLITE_ROW)
		rc = cl_error(err, CL_EIO, "reading a checkpoint: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc;
}

int repl_build(sqlite3 *db, uint64_t first, uint64_t *end, uint64_t max_entries,
	       uint64_t max_bytes, struct cl_buf *seg, struct cl_buf *keys, char **err)
{
	sqlite3_stmt *cs = NULL, *es = NULL, *ns = NULL;
	uint64_t next_cp = 0, idx = first, count = 0, bytes = 0, ncp = 0;
	size_t seg_hdr = seg ? seg->len : 0, keys_hdr = keys ? keys->len : 0;
	int rc = CL_OK, s, have_cp = 0;

	if ((seg && cl_seg_begin(seg, first, 0)) || (keys && cl_keys_begin(keys, first, 0)))
		return cl_error(err, CL_ETOOBIG, "segment too large");
	if (sqlite3_prepare_v2(db, "SELECT size FROM checkpoint WHERE size > ?1 ORDER BY size",
			       -1, &cs, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
		"SELECT e.idx, e.leaf, e.attrs, d.idx IS NOT NULL, d.kh, d.ch, p.ct,"
		" k.wrapped, b.eph FROM entry e LEFT JOIN dedup d ON d.idx = e.idx"
		" LEFT JOIN payload p ON p.idx = e.idx LEFT JOIN sealed_key k ON k.idx = e.idx"
		" LEFT JOIN key_batch b ON b.id = k.batch WHERE e.idx >= ?1 ORDER BY e.idx",
		-1, &es, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "reading the log: %s", sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int64(cs, 1, (sqlite3_int64)first);
	sqlite3_bind_int64(es, 1, (sqlite3_int64)first);
	if (sqlite3_step(cs) == SQLITE_ROW) {
		next_cp = (uint64_t)sqlite3_column_int64(cs, 0);
		have_cp = 1;
	}
	if (!have_cp || (*end && *end < next_cp)) {
		rc = cl_error(err, CL_EINVAL, "no signed checkpoint after entry %llu",
			      (unsigned long long)first);
		goto out;
	}
	while ((s = sqlite3_step(es)) == SQLITE_ROW) {
		const unsigned char *leaf = sqlite3_column_blob(es, 1);
		size_t leaf_len = (size_t)sqlite3_column_bytes(es, 1);
		const unsigned char *ct = sqlite3_column_blob(es, 6);
		size_t ct_len = (size_t)sqlite3_column_bytes(es, 6);
		const unsigned char *wrapped = sqlite3_column_blob(es, 7);
		const unsigned char *eph = sqlite3_column_blob(es, 8);
		const unsigned char *attrs = sqlite3_column_blob(es, 2);
		size_t attrs_len = (size_t)sqlite3_column_bytes(es, 2);

		if ((uint64_t)sqlite3_column_int64(es, 0) != idx) {
			rc = cl_error(err, CL_ECORRUPT, "entry %llu missing in the local log",
				      (unsigned long long)idx);
			goto out;
		}
		if (sqlite3_column_type(es, 6) == SQLITE_NULL)
			ct = NULL;
		if (seg && cl_seg_add_entry(seg, leaf, leaf_len, sqlite3_column_int(es, 3),
					    sqlite3_column_int64(es, 4),
					    sqlite3_column_type(es, 5) != SQLITE_NULL,
					    sqlite3_column_int64(es, 5), ct, ct_len)) {
			rc = cl_error(err, CL_ETOOBIG, "segment too large");
			goto out;
		}
		if (sqlite3_column_type(es, 2) == SQLITE_NULL)
			attrs = NULL;
		if (wrapped && (sqlite3_column_bytes(es, 7) != 48 || !eph ||
				sqlite3_column_bytes(es, 8) != 32)) {
			rc = cl_error(err, CL_ECORRUPT, "entry %llu: malformed key row",
				      (unsigned long long)idx);
			goto out;
		}
		if (keys && (wrapped || attrs) &&
		    cl_keys_add(keys, idx, wrapped ? eph : NULL, wrapped, attrs, attrs_len)) {
			rc = cl_error(err, CL_ETOOBIG, "key object too large");
			goto out;
		}
		bytes += leaf_len + ct_len;
		idx++;
		count++;
		if (idx == next_cp) {
			if (*end ? idx == *end : (count >= max_entries || bytes >= max_bytes))
				break;
			if (sqlite3_step(cs) == SQLITE_ROW)
				next_cp = (uint64_t)sqlite3_column_int64(cs, 0);
			else
				break;   /* the log's end */
		}
		if (*end && idx >= *end)
			break;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE) {
		rc = cl_error(err, CL_EIO, "reading the log: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (count == 0 || idx != next_cp || (*end && idx != *end)) {
		rc = cl_error(err, CL_EINVAL, "entries from %llu do not end at a signed checkpoint",
			      (unsigned long long)first);
		goto out;
	}
	*end = idx;
	if (seg) {
		if (sqlite3_prepare_v2(db, "SELECT size, created_at, note FROM checkpoint"
				       " WHERE size >= ?1 AND size <= ?2 ORDER BY size", -1, &ns,
				       NULL) != SQLITE_OK) {
			rc = cl_error(err, CL_EIO, "reading checkpoints: %s", sqlite3_errmsg(db));
			goto out;
		}
		sqlite3_bind_int64(ns, 1, (sqlite3_int64)(first == 0 ? 0 : first + 1));
		sqlite3_bind_int64(ns, 2, (sqlite3_int64)idx);
		while (sqlite3_step(ns) == SQLITE_ROW)
			ncp++;
		sqlite3_reset(ns);
		if (cl_seg_add_checkpoints_count(seg, (uint32_t)ncp)) {
			rc = cl_error(err, CL_ETOOBIG, "segment too large");
			goto out;
		}
		while (sqlite3_step(ns) == SQLITE_ROW)
			if (cl_seg_add_checkpoint(seg, (uint64_t)sqlite3_column_int64(ns, 0),
						  sqlite3_column_int64(ns, 1),
						  (const char *)sqlite3_column_text(ns, 2),
						  (size_t)sqlite3_column_bytes(ns, 2))) {
				rc = cl_error(err, CL_ETOOBIG, "segment too large");
				goto out;
			}
		cl_store_be64(seg->data + seg_hdr + 16, count);
	}
	if (keys)
		cl_store_be64(keys->data + keys_hdr + 16, count);
out:
	sqlite3_finalize(cs);
	sqlite3_finalize(es);
	sqlite3_finalize(ns);
	return rc;
}

/* ---- the remote picture ------------------------------------------------------ */

void repl_remote_release(struct repl_remote *rm)
{
	size_t i;

	free(rm->s);
	free(rm->man);
	for (i = 0; i < rm->n_cosig; i++)
		free(rm->cosig[i]);
	free(rm->cosig);
	memset(rm, 0, sizeof(*rm));
}

static int parse_range(const char *s, uint64_t *a, uint64_t *b)
{
	unsigned char x[8], y[8];
	char h1[17], h2[17];

	if (strlen(s) != 33 || s[16] != '-')
		return -1;
	memcpy(h1, s, 16);
	h1[16] = 0;
	memcpy(h2, s + 17, 16);
	h2[16] = 0;
	if (cl_hex_decode(h1, x, 8) || cl_hex_decode(h2, y, 8))
		return -1;
	*a = cl_load_be64(x);
	*b = cl_load_be64(y);
	return *a < *b ? 0 : -1;
}

static int parse_one(const char *s, uint64_t *a)
{
	unsigned char x[8];

	if (strlen(s) != 16 || cl_hex_decode(s, x, 8))
		return -1;
	*a = cl_load_be64(x);
	return 0;
}

static struct repl_seg *find_seg(struct repl_remote *rm, uint64_t first)
{
	size_t lo = 0, hi = rm->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (rm->s[mid].first < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rm->n && rm->s[lo].first == first ? &rm->s[lo] : NULL;
}

static int has_man(const struct repl_remote *rm, uint64_t end)
{
	size_t lo = 0, hi = rm->n_man;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (rm->man[mid] < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rm->n_man && rm->man[lo] == end;
}

int repl_remote_load(struct cl_repl *r, int with_keys, const struct cl_s3_list *vers,
		     struct repl_remote *rm, char **err)
{
	struct cl_s3_list l;
	const struct cl_s3_list *src = vers;
	char *pfx = NULL;
	size_t i;
	int rc = CL_OK;

	memset(rm, 0, sizeof(*rm));
	memset(&l, 0, sizeof(l));
	if (!(pfx = repl_name(&r->worm, "%s", "")))
		return CL_ENOMEM;
	if (!src) {
		if ((rc = cl_s3_list_objects(r->worm_s3, r->worm.bucket, pfx, &l, err)))
			goto out;
		src = &l;
	}
	for (i = 0; i < src->n; i++) {
		const char *rel = repl_rel(&r->worm, src->v[i].key);
		uint64_t a, b;
		size_t j;

		if (!rel || src->v[i].delete_marker)
			continue;
		/* Versions of a key are listed together, newest first: take the
		 * oldest one that is not a delete marker, once per key. */
		if (vers) {
			int later = 0;

			for (j = i + 1; j < src->n && strcmp(src->v[j].key, src->v[i].key) == 0; j++)
				if (!src->v[j].delete_marker)
					later = 1;
			if (later)
				continue;
		}
		if (strncmp(rel, "seg/", 4) == 0 && parse_range(rel + 4, &a, &b) == 0) {
			struct repl_seg *ns = realloc(rm->s, (rm->n + 1) * sizeof(*ns));

			if (!ns) {
				rc = CL_ENOMEM;
				goto out;
			}
			rm->s = ns;
			memset(&ns[rm->n], 0, sizeof(*ns));
			ns[rm->n].first = a;
			ns[rm->n].end = b;
			ns[rm->n].size = src->v[i].size;
			memcpy(ns[rm->n].etag, src->v[i].etag, sizeof(ns[rm->n].etag));
			rm->n++;
		} else if (strncmp(rel, "man/", 4) == 0 && parse_one(rel + 4, &a) == 0) {
			uint64_t *nm = realloc(rm->man, (rm->n_man + 1) * sizeof(*nm));

			if (!nm) {
				rc = CL_ENOMEM;
				goto out;
			}
			rm->man = nm;
			nm[rm->n_man++] = a;
		} else if (strcmp(rel, "archive.json") == 0) {
			rm->has_identity = 1;
		} else if (strncmp(rel, "cosig/", 6) == 0) {
			char **nc = realloc(rm->cosig, (rm->n_cosig + 1) * sizeof(*nc));

			if (!nc) {
				rc = CL_ENOMEM;
				goto out;
			}
			rm->cosig = nc;
			if (!(nc[rm->n_cosig] = strdup(rel))) {
				rc = CL_ENOMEM;
				goto out;
			}
			rm->n_cosig++;
		}
	}
	/* Listings are in key order, and the hex names sort numerically. */
	for (i = 0; i < rm->n; i++)
		rm->s[i].has_manifest = has_man(rm, rm->s[i].end);
	rm->end = 0;
	for (;;) {
		struct repl_seg *s = find_seg(rm, rm->end);

		if (!s || !s->has_manifest)
			break;
		rm->end = s->end;
	}
	if (with_keys) {
		cl_s3_list_release(&l);
		free(pfx);
		if (!(pfx = repl_name(&r->keys, "%s", ""))) {
			rc = CL_ENOMEM;
			goto out;
		}
		if ((rc = cl_s3_list_objects(r->keys_s3, r->keys.bucket, pfx, &l, err)))
			goto out;
		for (i = 0; i < l.n; i++) {
			const char *rel = repl_rel(&r->keys, l.v[i].key);
			uint64_t a, b;
			struct repl_seg *s;

			if (!rel)
				continue;
			if (strcmp(rel, "secrets") == 0)
				rm->has_secrets = 1;
			else if (strncmp(rel, "keys/", 5) == 0 && parse_range(rel + 5, &a, &b) == 0 &&
				 (s = find_seg(rm, a)) != NULL && s->end == b) {
				s->has_keys = 1;
				memcpy(s->keys_etag, l.v[i].etag, sizeof(s->keys_etag));
			}
		}
	}
out:
	cl_s3_list_release(&l);
	free(pfx);
	if (rc)
		repl_remote_release(rm);
	return rc;
}

/* ---- the run ------------------------------------------------------------------- */

static int alert(struct cl_repl_report *rep, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int alert(struct cl_repl_report *rep, char **err, const char *fmt, ...)
{
	va_list ap;

	free(rep->alert);
	va_start(ap, fmt);
	rep->alert = cl_vstrdupf(fmt, ap);
	va_end(ap);
	return cl_error(err, CL_ECORRUPT, "%s", rep->alert ? rep->alert : "alert");
}

/* PUT, turning a refusal into an alert (the store refused an object). */
static int put(struct cl_s3 *s3, const char *bucket, const char *key, const void *p, size_t n,
	       int64_t until, struct cl_repl_report *rep, char **err)
{
	struct cl_s3_resp resp;
	char *e = NULL;
	int rc;

	cl_s3_resp_init(&resp, 1 << 16);
	rc = cl_s3_put(s3, bucket, key, p, n, until, &resp, &e);
	if (rc == CL_EINVAL || rc == CL_ENOTFOUND) {
		rc = alert(rep, err, "the store refused %s: %s", key, e ? e : "?");
	} else if (rc) {
		(void)cl_error(err, rc, "%s", e ? e : cl_strerror(rc));
	} else if (resp.etag[0]) {
		char md5[33];

		repl_md5_hex(p, n, md5);
		if (strcmp(md5, resp.etag) != 0)
			rc = alert(rep, err, "the store answered %s with ETag %s, not the MD5 %s"
				   " of what was sent", key, resp.etag, md5);
	}
	free(e);
	cl_s3_resp_release(&resp);
	return rc;
}

static int put_identity(struct cl_repl *r, const char *dir, struct cl_repl_report *rep,
			int64_t until, char **err)
{
	struct cl_buf sk, pub, b64;
	char *vkey = NULL, *s = NULL, *key = NULL, *ppath = NULL, *spath = NULL;
	json_t *j = NULL;
	int rc;

	cl_buf_init(&sk, 4096);
	cl_buf_init(&pub, 4096);
	cl_buf_init(&b64, 8192);
	if (!(ppath = cl_strdupf("%s/seal.pub", dir)) || !(spath = cl_strdupf("%s/seal.key", dir))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_vault_load_vkey(dir, &vkey, err)) ||
	    (rc = cl_file_read(ppath, &pub, 4096, err)) ||
	    (rc = cl_file_read(spath, &sk, 4096, err)))
		goto out;
	while (pub.len && (pub.data[pub.len - 1] == '\n' || pub.data[pub.len - 1] == '\r'))
		pub.len--;
	if ((rc = cl_b64_add(&b64, sk.data, sk.len)) || (rc = cl_buf_add_u8(&b64, 0)) ||
	    (rc = cl_buf_add_u8(&pub, 0)))
		goto out;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "format", "chatledger-replica-v1",
		      "vkey", vkey, "seal_pub", (const char *)pub.data,
		      "seal_key", (const char *)b64.data,
		      "keys_endpoint", r->keys.endpoint,
		      "keys_bucket", r->keys.bucket, "keys_prefix", r->keys.prefix);
	if (!j || !(s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) ||
	    !(key = repl_name(&r->worm, "archive.json"))) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = put(r->worm_s3, r->worm.bucket, key, s, strlen(s), until, rep, err);
out:
	json_decref(j);
	free(s);
	free(key);
	free(vkey);
	free(ppath);
	free(spath);
	cl_buf_release(&sk);
	cl_buf_release(&pub);
	cl_buf_release(&b64);
	return rc;
}

/* log.key and tag.key sealed to the archive's sealing key: only the
 * officer's passphrase opens them (restore makes a writable archive). */
static int put_secrets(struct cl_repl *r, const char *dir, struct cl_repl_report *rep,
		       char **err)
{
	unsigned char pk[32];
	unsigned char *tag = NULL, *plain = NULL, *boxed = NULL;
	struct cl_buf lk;
	char *lpath = NULL, *key = NULL;
	size_t plen = 0;
	int rc;

	cl_buf_init(&lk, 4096);
	if (!(lpath = cl_strdupf("%s/log.key", dir))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_vault_load_seal_pk(dir, pk, err)) ||
	    (rc = cl_vault_load_tag(dir, &tag, err)) ||
	    (rc = cl_file_read(lpath, &lk, 4096, err)))
		goto out;
	plen = 8 + 4 + lk.len + 32;
	if (!(plain = sodium_malloc(plen)) ||
	    !(boxed = malloc(plen + crypto_box_SEALBYTES)) ||
	    !(key = repl_name(&r->keys, "secrets"))) {
		rc = CL_ENOMEM;
		goto out;
	}
	memcpy(plain, "CLSECv1\n", 8);
	plain[8] = (unsigned char)(lk.len >> 24);
	plain[9] = (unsigned char)(lk.len >> 16);
	plain[10] = (unsigned char)(lk.len >> 8);
	plain[11] = (unsigned char)lk.len;
	memcpy(plain + 12, lk.data, lk.len);
	memcpy(plain + 12 + lk.len, tag, 32);
	if (crypto_box_seal(boxed, plain, plen, pk) != 0) {
		rc = cl_error(err, CL_EKEY, "cannot seal the archive secrets");
		goto out;
	}
	rc = put(r->keys_s3, r->keys.bucket, key, boxed, plen + crypto_box_SEALBYTES, 0, rep, err);
out:
	if (lk.data)
		sodium_memzero(lk.data, lk.alloc);
	cl_buf_release(&lk);
	sodium_free(plain);
	sodium_free(tag);
	free(boxed);
	free(lpath);
	free(key);
	return rc;
}

static char *hex16(uint64_t v, char out[17])
{
	(void)cl_fmt(out, 17, "%016llx", (unsigned long long)v);
	return out;
}

/* Write segment [first, end) (already built) with its key object and
 * manifest.  `seg_present`: the segment object is already there. */
static int ship(struct cl_repl *r, sqlite3 *db, uint64_t first, uint64_t end,
		const struct cl_buf *seg, const struct cl_buf *keys, int seg_present,
		int64_t until, struct cl_repl_report *rep, char **err)
{
	char a[17], b[17], md5[33], sha[65], when[32];
	char *sk = NULL, *kk = NULL, *mk = NULL, *note = NULL, *m = NULL, *kname = NULL,
	     *sname = NULL;
	json_t *j = NULL;
	int rc;

	hex16(first, a);
	hex16(end, b);
	if (!(sk = repl_name(&r->worm, "seg/%s-%s", a, b)) ||
	    !(kk = repl_name(&r->keys, "keys/%s-%s", a, b)) ||
	    !(mk = repl_name(&r->worm, "man/%s", b)) ||
	    !(sname = cl_strdupf("seg/%s-%s", a, b)) || !(kname = cl_strdupf("keys/%s-%s", a, b))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = repl_db_note(db, end, &note, err)))
		goto out;
	if (!seg_present &&
	    (rc = put(r->worm_s3, r->worm.bucket, sk, seg->data, seg->len, until, rep, err)))
		goto out;
	rep->bytes += seg_present ? 0 : seg->len;
	if ((rc = put(r->keys_s3, r->keys.bucket, kk, keys->data, keys->len, 0, rep, err)))
		goto out;
	repl_md5_hex(seg->data, seg->len, md5);
	repl_sha_hex(seg->data, seg->len, sha);
	cl_time_format(until, when);
	j = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:I, s:s}",
		      "format", "chatledger-manifest-v1", "checkpoint", note,
		      "first", (json_int_t)first, "end", (json_int_t)end,
		      "segment", sname, "keys", kname, "md5", md5, "sha256", sha,
		      "bytes", (json_int_t)seg->len, "retain_until", when);
	if (!j || !(m = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = CL_ENOMEM;
		goto out;
	}
	/* The manifest is the last word: a segment without one is not yet
	 * part of the copy. */
	if ((rc = put(r->worm_s3, r->worm.bucket, mk, m, strlen(m), until, rep, err)))
		goto out;
	rep->segments++;
	rep->entries += end - first;
out:
	json_decref(j);
	free(m);
	free(note);
	free(sk);
	free(kk);
	free(mk);
	free(sname);
	free(kname);
	return rc;
}

/* A segment found without its manifest (the last run was killed between
 * the two): adopt it if it holds exactly the log's entries. */
static int adopt(struct cl_repl *r, sqlite3 *db, const struct repl_seg *s, int64_t until,
		 struct cl_repl_report *rep, char **err)
{
	struct cl_buf seg, keys;
	struct cl_s3_resp resp;
	struct cl_seg got;
	uint64_t end = s->end;
	char md5[33], a[17], b[17], *key = NULL;
	size_t i;
	int rc;

	cl_buf_init(&seg, REPL_SEG_CAP);
	cl_buf_init(&keys, REPL_SEG_CAP);
	cl_s3_resp_init(&resp, REPL_SEG_CAP);
	memset(&got, 0, sizeof(got));
	if (repl_build(db, s->first, &end, 0, 0, &seg, &keys, NULL) != CL_OK) {
		rc = alert(rep, err, "segment %llu-%llu in the bucket does not end at a checkpoint"
			   " of the log", (unsigned long long)s->first, (unsigned long long)s->end);
		goto out;
	}
	repl_md5_hex(seg.data, seg.len, md5);
	if (strcmp(md5, s->etag) != 0) {
		/* Entries erased since it was written: compare what can be. */
		if (!(key = repl_name(&r->worm, "seg/%s-%s", hex16(s->first, a), hex16(s->end, b)))) {
			rc = CL_ENOMEM;
			goto out;
		}
		if ((rc = cl_s3_get(r->worm_s3, r->worm.bucket, key, NULL, &resp, err)))
			goto out;
		if (cl_seg_decode(resp.body.data, resp.body.len, &got, NULL) != CL_OK ||
		    got.first != s->first || got.first + got.count != s->end) {
			rc = alert(rep, err, "%s does not parse as the segment it names", key);
			goto out;
		}
		/* The leaves decide: rebuild entry by entry is in verify; here the
		 * leaf bytes of the downloaded segment must appear in the local
		 * rebuild in order (a cheap check: same count, same leaves). */
		{
			struct cl_seg mine;

			if (cl_seg_decode(seg.data, seg.len, &mine, NULL) != CL_OK) {
				rc = cl_error(err, CL_EIO, "local segment does not parse");
				goto out;
			}
			for (i = 0; i < got.count && rc == CL_OK; i++)
				if (got.e[i].leaf_len != mine.e[i].leaf_len ||
				    memcmp(got.e[i].leaf, mine.e[i].leaf, mine.e[i].leaf_len) != 0)
					rc = alert(rep, err, "%s diverges from the log at entry %llu",
						   key, (unsigned long long)got.e[i].idx);
			cl_seg_release(&mine);
			if (rc)
				goto out;
		}
		cl_buf_reset(&seg);
		if (cl_buf_add(&seg, resp.body.data, resp.body.len)) {
			rc = CL_ENOMEM;
			goto out;
		}
	}
	{
		char mode[16], *sk2 = repl_name(&r->worm, "seg/%s-%s", hex16(s->first, a),
						  hex16(s->end, b));
		int64_t got_until = 0;

		if (!sk2) {
			rc = CL_ENOMEM;
			goto out;
		}
		rc = cl_s3_get_retention(r->worm_s3, r->worm.bucket, sk2, NULL, mode, &got_until, err);
		if (rc == CL_OK && strcmp(mode, "COMPLIANCE") != 0)
			rc = alert(rep, err, "%s: retention mode %s, not COMPLIANCE", sk2, mode);
		else if (rc == CL_ENOTFOUND || rc == CL_EINVAL)
			rc = alert(rep, err, "%s: no Object Lock retention", sk2);
		free(sk2);
		if (rc)
			goto out;
		/* Its manifest is locked as long as the segment itself. */
		if (got_until < until)
			until = got_until;
	}
	rc = ship(r, db, s->first, s->end, &seg, &keys, 1, until, rep, err);
	if (rc == CL_OK)
		rep->adopted++;
out:
	cl_seg_release(&got);
	cl_s3_resp_release(&resp);
	cl_buf_release(&seg);
	cl_buf_release(&keys);
	free(key);
	return rc;
}

/* Key objects of segments holding entries erased (tombstones in
 * [from, to)) are rewritten from the local rows: the key store then no
 * longer holds the erased keys. */
static int reshred(struct cl_repl *r, sqlite3 *db, struct repl_remote *rm, uint64_t from,
		   uint64_t to, struct cl_repl_report *rep, char **err)
{
	sqlite3_stmt *st = NULL;
	uint64_t last_first = UINT64_MAX;
	int rc = CL_OK;

	if (from >= to)
		return CL_OK;
	if (sqlite3_prepare_v2(db, "SELECT idx, leaf FROM entry WHERE type = 2 AND idx >= ?1"
			       " AND idx < ?2 ORDER BY idx", -1, &st, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "reading tombstones: %s", sqlite3_errmsg(db));
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)to);
	while (rc == CL_OK && sqlite3_step(st) == SQLITE_ROW) {
		struct cl_leaf leaf;
		json_t *j;
		json_int_t erased = -1;
		size_t i;

		if (cl_leaf_decode(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
				   &leaf, NULL) != CL_OK)
			continue;
		j = json_loadb((const char *)leaf.body, leaf.body_len, 0, NULL);
		if (j && json_is_integer(json_object_get(j, "erased")))
			erased = json_integer_value(json_object_get(j, "erased"));
		json_decref(j);
		if (erased < 0)
			continue;
		for (i = 0; i < rm->n; i++) {
			struct repl_seg *s = &rm->s[i];
			struct cl_buf keys;
			uint64_t end = s->end;
			char a[17], b[17], *kk;

			if ((uint64_t)erased < s->first || (uint64_t)erased >= s->end ||
			    !s->has_manifest || s->first == last_first)
				continue;
			cl_buf_init(&keys, REPL_SEG_CAP);
			kk = repl_name(&r->keys, "keys/%s-%s", hex16(s->first, a), hex16(s->end, b));
			rc = kk ? repl_build(db, s->first, &end, 0, 0, NULL, &keys, err) : CL_ENOMEM;
			if (rc == CL_OK)
				rc = put(r->keys_s3, r->keys.bucket, kk, keys.data, keys.len, 0, rep, err);
			if (rc == CL_OK)
				rep->keys_rewritten++;
			last_first = s->first;
			free(kk);
			cl_buf_release(&keys);
			break;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int ship_cosigs(struct cl_repl *r, sqlite3 *db, struct repl_remote *rm, uint64_t upto,
		       int64_t until, struct cl_repl_report *rep, char **err)
{
	sqlite3_stmt *st = NULL;
	int rc = CL_OK;

	if (sqlite3_prepare_v2(db, "SELECT size, vkey, time, line FROM witness_cosig"
			       " WHERE size <= ?1 ORDER BY size, vkey", -1, &st, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return CL_OK;   /* no witness tables: nothing to ship */
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)upto);
	while (rc == CL_OK && sqlite3_step(st) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(st, 3);
		const char *vkey = (const char *)sqlite3_column_text(st, 1);
		char sha[65], a[17], *rel = NULL, *key = NULL, *body = NULL;
		size_t i;
		int found = 0;

		if (!line || !vkey)
			continue;
		repl_sha_hex(line, strlen(line), sha);
		sha[16] = 0;
		if (!(rel = cl_strdupf("cosig/%s-%s", hex16((uint64_t)sqlite3_column_int64(st, 0), a),
				       sha))) {
			rc = CL_ENOMEM;
			break;
		}
		for (i = 0; i < rm->n_cosig && !found; i++)
			found = strcmp(rm->cosig[i], rel) == 0;
		if (!found) {
			json_t *j = json_pack("{s:I, s:s, s:I, s:s}", "size",
				      (json_int_t)sqlite3_column_int64(st, 0), "vkey", vkey,
				      "time", (json_int_t)sqlite3_column_int64(st, 2), "line", line);
			if (!j || !(body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS)) ||
			    !(key = repl_name(&r->worm, "%s", rel)))
				rc = CL_ENOMEM;
			else if ((rc = put(r->worm_s3, r->worm.bucket, key, body, strlen(body), until,
					   rep, err)) == CL_OK)
				rep->cosigs++;
			json_decref(j);
		}
		free(rel);
		free(key);
		free(body);
	}
	sqlite3_finalize(st);
	return rc;
}

int cl_repl_run(struct cl_repl *r, const char *dir, const struct cl_repl_run_opts *o,
		struct cl_repl_report *rep, char **err)
{
	struct repl_remote rm;
	struct cl_repl_state st;
	struct cl_buf seg, keys;
	sqlite3 *db = NULL;
	uint64_t n, h, done_tomb = 0;
	int rc, lock = 0, ver = 0;

	memset(rep, 0, sizeof(*rep));
	memset(&rm, 0, sizeof(rm));
	cl_buf_init(&seg, REPL_SEG_CAP);
	cl_buf_init(&keys, REPL_SEG_CAP);
	if (o->retain_until_ms <= cl_time_now_ms()) {
		rc = cl_error(err, CL_EINVAL, "no retention period: set [replicate] retention_days"
			      " or a retention policy");
		goto out;
	}
	if (cl_repl_state_load(dir, &st, NULL) == CL_OK)
		done_tomb = st.tombstones_done;
	if ((rc = repl_db_open(dir, &db, err)) || (rc = repl_db_size(db, &n, err)))
		goto out;
	rep->local_size = n;
	/* The WORM bucket must lock; the key store must never keep versions. */
	if ((rc = cl_s3_bucket_lock(r->worm_s3, r->worm.bucket, &lock, err)))
		goto out;
	if (!lock) {
		rc = alert(rep, err, "bucket %s has no Object Lock: refusing to replicate into"
			   " storage that is not WORM", r->worm.bucket);
		goto out;
	}
	if ((rc = cl_s3_bucket_versioning(r->keys_s3, r->keys.bucket, &ver, err)))
		goto out;
	if (ver != 0) {
		rc = alert(rep, err, "key store bucket %s has versioning %s: erased keys would"
			   " survive as old versions", r->keys.bucket, ver == 1 ? "enabled" : "suspended");
		goto out;
	}
	if ((rc = repl_remote_load(r, 1, NULL, &rm, err)))
		goto out;
	rep->remote_before = rep->remote_after = h = rm.end;
	if (h > n) {
		rc = alert(rep, err, "the bucket holds %llu entries, the log only %llu: the log was"
			   " rolled back or the prefix belongs to another archive",
			   (unsigned long long)h, (unsigned long long)n);
		goto out;
	}
	if (!rm.has_identity && (rc = put_identity(r, dir, rep, o->retain_until_ms, err)))
		goto out;
	if (!rm.has_secrets && (rc = put_secrets(r, dir, rep, err)))
		goto out;
	while (h < n && !(o->stop && *o->stop) &&
	       !(o->max_segments && rep->segments >= o->max_segments)) {
		struct repl_seg *orphan = NULL;
		uint64_t end = 0;
		size_t i;

		for (i = 0; i < rm.n; i++)
			if (rm.s[i].first == h && !rm.s[i].has_manifest)
				orphan = &rm.s[i];
		if (orphan) {
			if ((rc = adopt(r, db, orphan, o->retain_until_ms, rep, err)))
				goto out;
			orphan->has_manifest = 1;
			h = orphan->end;
		} else {
			cl_buf_reset(&seg);
			cl_buf_reset(&keys);
			if ((rc = repl_build(db, h, &end, o->segment_entries, o->segment_bytes, &seg,
					     &keys, err)) ||
			    (rc = ship(r, db, h, end, &seg, &keys, 0, o->retain_until_ms, rep, err)))
				goto out;
			h = end;
		}
		rep->remote_after = h;
	}
	if (o->stop && *o->stop)
		goto out;
	/* Refresh the segment list (new ones hold no erased keys: they were
	 * built from the current rows), then shred what was erased since. */
	repl_remote_release(&rm);
	if ((rc = repl_remote_load(r, 0, NULL, &rm, err)) ||
	    (rc = reshred(r, db, &rm, done_tomb, rm.end, rep, err)))
		goto out;
	done_tomb = rm.end;
	rc = ship_cosigs(r, db, &rm, rm.end, o->retain_until_ms, rep, err);
out:
	if (rc == CL_OK && cl_repl_state_load(dir, &st, NULL) == CL_OK) {
		st.tombstones_done = done_tomb;
		(void)cl_repl_state_save(dir, &st, NULL);
	} else if (rc == CL_OK) {
		memset(&st, 0, sizeof(st));
		st.tombstones_done = done_tomb;
		(void)cl_repl_state_save(dir, &st, NULL);
	}
	repl_db_close(db);
	repl_remote_release(&rm);
	cl_buf_release(&seg);
	cl_buf_release(&keys);
	return rc;
}

/* ---- state and coverage -------------------------------------------------------- */

int cl_repl_state_load(const char *dir, struct cl_repl_state *s, char **err)
{
	struct cl_buf b;
	char *path = cl_strdupf("%s/%s", dir, CL_REPL_STATE_FILE);
	json_t *j = NULL;
	const char *e, *u;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!path)
		return CL_ENOMEM;
	cl_buf_init(&b, 1 << 16);
	if (access(path, F_OK) != 0) {
		rc = CL_ENOTFOUND;
		goto out;
	}
	if ((rc = cl_file_read(path, &b, 1 << 16, err)))
		goto out;
	if (!(j = json_loadb((const char *)b.data, b.len, 0, NULL)) || !json_is_object(j)) {
		rc = cl_error(err, CL_ECORRUPT, "%s: not JSON", path);
		goto out;
	}
	s->replicated = (uint64_t)json_integer_value(json_object_get(j, "replicated"));
	s->local_size = (uint64_t)json_integer_value(json_object_get(j, "local_size"));
	s->tombstones_done = (uint64_t)json_integer_value(json_object_get(j, "tombstones_done"));
	s->ok_at = json_integer_value(json_object_get(j, "ok_at"));
	s->try_at = json_integer_value(json_object_get(j, "try_at"));
	s->failing_since = json_integer_value(json_object_get(j, "failing_since"));
	s->alert = json_is_true(json_object_get(j, "alert"));
	e = json_string_value(json_object_get(j, "error"));
	u = json_string_value(json_object_get(j, "url"));
	(void)cl_fmt(s->error, sizeof(s->error), "%s", e ? e : "");
	(void)cl_fmt(s->url, sizeof(s->url), "%s", u ? u : "");
out:
	json_decref(j);
	cl_buf_release(&b);
	free(path);
	return rc;
}

int cl_repl_state_save(const char *dir, const struct cl_repl_state *s, char **err)
{
	char *path = cl_strdupf("%s/%s", dir, CL_REPL_STATE_FILE), *txt = NULL;
	json_t *j;
	int rc;

	if (!path)
		return CL_ENOMEM;
	j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:s}",
		      "replicated", (json_int_t)s->replicated,
		      "local_size", (json_int_t)s->local_size,
		      "tombstones_done", (json_int_t)s->tombstones_done,
		      "ok_at", (json_int_t)s->ok_at, "try_at", (json_int_t)s->try_at,
		      "failing_since", (json_int_t)s->failing_since, "alert", s->alert,
		      "error", s->error, "url", s->url);
	if (!j || !(txt = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS))) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = cl_file_replace(path, txt, strlen(txt), 0600, err);
out:
	json_decref(j);
	free(txt);
	free(path);
	return rc;
}

static int coverage(const char *dir, const char *kind, json_t *body, char **err)
{
	struct cl_ledger *l = NULL;
	struct cl_entry_in in;
	enum cl_append_outcome dup;
	uint64_t idx;
	char *s = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	json_decref(body);
	if (!s)
		return CL_ENOMEM;
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = kind;
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.body = s;
	in.body_len = strlen(s);
	if ((rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, err)) == CL_OK &&
	    (rc = cl_ledger_set_wait(l, "replicate", 30000, NULL, NULL)) == CL_OK &&
	    (rc = cl_ledger_begin(l, err)) == CL_OK) {
		if ((rc = cl_ledger_append(l, &in, &idx, &dup, err)) == CL_OK)
			rc = cl_ledger_commit(l, err);
		else
			cl_ledger_rollback(l);
	}
	cl_ledger_close(l);
	free(s);
	return rc;
}

int cl_repl_record(const char *dir, const char *url, int rc, const char *why,
		   const struct cl_repl_report *rep, int *wrote, char **err)
{
	struct cl_repl_state st;
	int64_t now = cl_time_now_ms();
	int e = CL_OK, was_alert;

	*wrote = 0;
	if (cl_repl_state_load(dir, &st, NULL) != CL_OK)
		memset(&st, 0, sizeof(st));
	was_alert = st.alert;
	st.try_at = now;
	if (rep->local_size)
		st.local_size = rep->local_size;
	(void)cl_fmt(st.url, sizeof(st.url), "%s", url);
	if (rc == CL_OK) {
		st.replicated = rep->remote_after;
		st.ok_at = now;
		if (st.failing_since) {
			char since[32];

			cl_time_format(st.failing_since, since);
			e = coverage(dir, "replica-recovered",
				     json_pack("{s:s, s:I, s:s}", "after", since, "replicated",
					       (json_int_t)st.replicated, "url", url), err);
			*wrote = e == CL_OK;
		}
		st.failing_since = 0;
		st.alert = 0;
		st.error[0] = 0;
	} else {
		int changed = strncmp(st.error, why ? why : "", sizeof(st.error) - 1) != 0;

		if (rep->remote_after > st.replicated)
			st.replicated = rep->remote_after;
		(void)cl_fmt(st.error, sizeof(st.error), "%s", why ? why : cl_strerror(rc));
		st.alert = rep->alert != NULL;
		if (rep->alert && (!was_alert || changed)) {
			e = coverage(dir, "replica-alert",
				     json_pack("{s:b, s:s, s:I, s:s}", "alert", 1, "reason", rep->alert,
					       "replicated", (json_int_t)st.replicated, "url", url),
				     err);
			*wrote = e == CL_OK;
		} else if (!rep->alert && st.failing_since == 0) {
			e = coverage(dir, "replica-failed",
				     json_pack("{s:s, s:I, s:I, s:s}", "reason", st.error,
					       "replicated", (json_int_t)st.replicated, "size",
					       (json_int_t)st.local_size, "url", url), err);
			*wrote = e == CL_OK;
		}
		if (st.failing_since == 0)
			st.failing_since = now;
	}
	if (e == CL_OK)
		e = cl_repl_state_save(dir, &st, err);
	return e;
}
