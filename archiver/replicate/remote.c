/*
 * remote.c - audit a bucket against the local log, and restore an
 * archive from a bucket (replicate.h, docs/FORMAT.md §12.7, §12.8).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/vault.h"
#include "archiver/replicate/repl_int.h"
#include "archiver/replicate/segment.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

void cl_repl_vreport_release(struct cl_repl_vreport *v)
{
	free(v->problem);
	v->problem = NULL;
}

static int problem(struct cl_repl_vreport *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int problem(struct cl_repl_vreport *v, const char *fmt, ...)
{
	if (!v->problem) {
		va_list ap;

		va_start(ap, fmt);
		v->problem = cl_vstrdupf(fmt, ap);
		va_end(ap);
	}
	return CL_ECORRUPT;
}

/* The version to use for each key: the oldest (the first one written,
 * which retention protects); NULL if the key is absent or only a delete
 * marker.  Versions of one key are listed together, newest first. */
static const struct cl_s3_obj *oldest(const struct cl_s3_list *l, const char *key,
				      size_t *nver)
{
	const struct cl_s3_obj *o = NULL;
	size_t lo = 0, hi = l->n, i;

	*nver = 0;
	/* Listings are sorted by key: binary search for the first match. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(l->v[mid].key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (i = lo; i < l->n && strcmp(l->v[i].key, key) == 0; i++) {
		(*nver)++;
		if (!l->v[i].delete_marker)
			o = &l->v[i];
	}
	return o;
}

static char *hex16s(uint64_t v, char out[17])
{
	(void)cl_fmt(out, 17, "%016llx", (unsigned long long)v);
	return out;
}

static int get_json(struct cl_s3 *s3, const char *bucket, const char *key, const char *ver,
		    json_t **out, char **err)
{
	struct cl_s3_resp resp;
	int rc;

	*out = NULL;
	cl_s3_resp_init(&resp, 16u << 20);
	if ((rc = cl_s3_get(s3, bucket, key, ver, &resp, err)) == CL_OK &&
	    !(*out = json_loadb((const char *)resp.body.data, resp.body.len, 0, NULL)))
		rc = cl_error(err, CL_ECORRUPT, "%s: not JSON", key);
	cl_s3_resp_release(&resp);
	return rc;
}

static const char *jstr(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s ? s : "";
}

/* Read archive.json; fill the key store location when not given. */
static int identity(struct cl_repl *r, const struct cl_s3_list *vers, json_t **out, char **err)
{
	const struct cl_s3_obj *o;
	char *key = repl_name(&r->worm, "archive.json");
	size_t nv;
	int rc;

	*out = NULL;
	if (!key)
		return CL_ENOMEM;
	o = oldest(vers, key, &nv);
	if (!o) {
		rc = cl_error(err, CL_ENOTFOUND, "%s/%s: no archive.json: nothing replicated here",
			      r->worm.bucket, key);
		goto out;
	}
	if ((rc = get_json(r->worm_s3, r->worm.bucket, key, o->version_id, out, err)))
		goto out;
	if (strcmp(jstr(*out, "format"), "chatledger-replica-v1") != 0) {
		rc = cl_error(err, CL_ECORRUPT, "%s: unknown format", key);
		goto out;
	}
	if (!r->keys.bucket[0]) {
		(void)cl_fmt(r->keys.bucket, sizeof(r->keys.bucket), "%s", jstr(*out, "keys_bucket"));
		(void)cl_fmt(r->keys.prefix, sizeof(r->keys.prefix), "%s", jstr(*out, "keys_prefix"));
	}
out:
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	free(key);
	return rc;
}

/* ---- verify --remote ------------------------------------------------------- */

/* Whether a WORM key names a manifest: ".../man/END" or "man/END". */
static int is_manifest(const char *key)
{
	const char *slash = strrchr(key, '/');
	size_t at = slash ? (size_t)(slash - key) : 0;

	return slash && at >= 3 && memcmp(slash - 3, "man", 3) == 0 &&
	       (at == 3 || slash[-4] == '/');
}

/*
 * Whether version b of a key repeats version a (*same): the same bytes
 * (ETag and size), or, for a manifest, the same statement in other words:
 * every field equal but retain_until, which a retried write computes
 * afresh (its own Object Lock date is checked on the oldest version).
 */
static int repeats(struct cl_repl *r, const struct cl_s3_obj *a, const struct cl_s3_obj *b,
		   int *same, char **err)
{
	json_t *ja = NULL, *jb = NULL;
	int rc = CL_OK;

	*same = a->size == b->size && a->etag[0] && strcmp(a->etag, b->etag) == 0;
	if (*same || !is_manifest(a->key))
		return CL_OK;
	if ((rc = get_json(r->worm_s3, r->worm.bucket, a->key, a->version_id, &ja, err)) == CL_OK &&
	    (rc = get_json(r->worm_s3, r->worm.bucket, b->key, b->version_id, &jb, err)) == CL_OK &&
	    json_is_object(ja) && json_is_object(jb)) {
		json_object_del(ja, "retain_until");
		json_object_del(jb, "retain_until");
		*same = json_equal(ja, jb);
	} else if (rc == CL_ECORRUPT) {
		rc = CL_OK;   /* not JSON: not a repeat */
	}
	json_decref(ja);
	json_decref(jb);
	return rc;
}

static int check_retention(struct cl_repl *r, const struct cl_s3_list *vers, const char *key,
			   int64_t want, struct cl_repl_vreport *v, char **err)
{
	const struct cl_s3_obj *o;
	char mode[16];
	int64_t until;
	size_t nv;
	int rc;

	o = oldest(vers, key, &nv);
	if (!o)
		return problem(v, "%s: missing", key);
	rc = cl_s3_get_retention(r->worm_s3, r->worm.bucket, key, o->version_id, mode, &until, err);
	if (rc == CL_ENOTFOUND || rc == CL_EINVAL)
		return problem(v, "%s: no Object Lock retention", key);
	if (rc)
		return rc;
	if (strcmp(mode, "COMPLIANCE") != 0)
		return problem(v, "%s: retention mode %s, not COMPLIANCE", key, mode);
	if (until + 1000 < want || until < cl_time_now_ms())
		return problem(v, "%s: retained only until %lld ms", key, (long long)until);
	v->retention_checked++;
	return CL_OK;
}

static int has_tombstone(sqlite3 *db, uint64_t idx)
{
	sqlite3_stmt *st = NULL;
	int found = 0;

	/* Erased: a leaf with a payload, and neither payload nor key row. */
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM entry e WHERE e.idx = ?1 AND e.attrs IS NULL"
			       " AND NOT EXISTS (SELECT 1 FROM payload p WHERE p.idx = e.idx)"
			       " AND NOT EXISTS (SELECT 1 FROM sealed_key k WHERE k.idx = e.idx)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
		found = sqlite3_step(st) == SQLITE_ROW;
	}
	sqlite3_finalize(st);
	return found;
}

static int compare_keys(sqlite3 *db, const struct cl_buf *mine, const unsigned char *theirs,
			size_t tlen, const char *name, struct cl_repl_vreport *v)
{
	struct cl_keys a, b;
	size_t i = 0, j = 0;
	int rc = CL_OK;

	if (cl_keys_decode(mine->data, mine->len, &a, NULL) != CL_OK)
		return problem(v, "local key rows do not encode");
	if (cl_keys_decode(theirs, tlen, &b, NULL) != CL_OK || b.first != a.first ||
	    b.count != a.count) {
		cl_keys_release(&a);
		return problem(v, "%s: not the key object of its segment (key store altered)", name);
	}
	while (rc == CL_OK && (i < a.n || j < b.n)) {
		if (j >= b.n || (i < a.n && a.r[i].idx < b.r[j].idx)) {
			rc = problem(v, "%s: the key store lost the key rows of entry %llu", name,
				     (unsigned long long)a.r[i].idx);
		} else if (i >= a.n || b.r[j].idx < a.r[i].idx) {
			if (has_tombstone(db, b.r[j].idx))
				v->erasures_pending++;
			else
				rc = problem(v, "%s: the key store holds rows for entry %llu that the"
					     " log does not", name, (unsigned long long)b.r[j].idx);
			j++;
		} else {
			const struct cl_keys_row *x = &a.r[i], *y = &b.r[j];

			if (!x->wrapped != !y->wrapped || !x->attrs != !y->attrs ||
			    (x->wrapped && (memcmp(x->eph, y->eph, 32) || memcmp(x->wrapped, y->wrapped, 48))) ||
			    (x->attrs && (x->attrs_len != y->attrs_len ||
					  memcmp(x->attrs, y->attrs, x->attrs_len))))
				rc = problem(v, "%s: the key rows of entry %llu differ from the log's"
					     " (key store altered)", name, (unsigned long long)x->idx);
			i++;
			j++;
		}
	}
	cl_keys_release(&a);
	cl_keys_release(&b);
	return rc;
}

/* Compare a downloaded segment with the local rebuild, entry by entry. */
static int compare_seg(const struct cl_buf *mine, const unsigned char *theirs, size_t tlen,
		       const char *name, struct cl_repl_vreport *v)
{
	struct cl_seg a, b;
	uint64_t i;
	size_t k;
	int rc = CL_OK;

	if (cl_seg_decode(mine->data, mine->len, &a, NULL) != CL_OK)
		return problem(v, "local segment does not encode");
	if (cl_seg_decode(theirs, tlen, &b, NULL) != CL_OK || a.first != b.first ||
	    a.count != b.count || a.n_cp != b.n_cp) {
		cl_seg_release(&a);
		return problem(v, "%s: does not parse as the segment it names", name);
	}
	for (i = 0; i < a.count && rc == CL_OK; i++) {
		const struct cl_seg_entry *x = &a.e[i], *y = &b.e[i];
		struct cl_leaf leaf;
		unsigned char h[32];

		if (x->leaf_len != y->leaf_len || memcmp(x->leaf, y->leaf, x->leaf_len) ||
		    x->has_dedup != y->has_dedup || x->kh != y->kh || x->has_ch != y->has_ch ||
		    x->ch != y->ch) {
			rc = problem(v, "%s: entry %llu differs from the log", name,
				     (unsigned long long)x->idx);
		} else if (x->ct) {
			if (!y->ct || x->ct_len != y->ct_len || memcmp(x->ct, y->ct, x->ct_len))
				rc = problem(v, "%s: ciphertext of entry %llu differs", name,
					     (unsigned long long)x->idx);
		} else if (y->ct) {
			/* Erased locally since: the copy must still be the committed one. */
			(void)cl_leaf_decode(y->leaf, y->leaf_len, &leaf, NULL);
			cl_sha256(y->ct, y->ct_len, h);
			if (memcmp(h, leaf.ct_hash, 32) != 0)
				rc = problem(v, "%s: ciphertext of entry %llu does not match its"
					     " leaf", name, (unsigned long long)x->idx);
		}
	}
	for (k = 0; k < a.n_cp && rc == CL_OK; k++)
		if (a.cp[k].size != b.cp[k].size || a.cp[k].note_len != b.cp[k].note_len ||
		    memcmp(a.cp[k].note, b.cp[k].note, a.cp[k].note_len))
			rc = problem(v, "%s: checkpoint %llu differs from the log", name,
				     (unsigned long long)a.cp[k].size);
	cl_seg_release(&a);
	cl_seg_release(&b);
	return rc;
}

int cl_repl_verify(struct cl_repl *r, const char *dir, int deep,
		   struct cl_repl_vreport *v, char **err)
{
	struct cl_s3_list vers;
	struct repl_remote rm;
	struct cl_buf seg, keys;
	struct cl_s3_resp resp;
	sqlite3 *db = NULL;
	json_t *id = NULL, *man = NULL;
	char *vkey = NULL, *pfx = NULL, *sk = NULL, *mk = NULL, *kk = NULL;
	uint64_t expect = 0;
	size_t i;
	int rc, ver = 0;

	memset(v, 0, sizeof(*v));
	memset(&vers, 0, sizeof(vers));
	memset(&rm, 0, sizeof(rm));
	cl_buf_init(&seg, REPL_SEG_CAP);
	cl_buf_init(&keys, REPL_SEG_CAP);
	cl_s3_resp_init(&resp, REPL_SEG_CAP);
	if ((rc = repl_db_open(dir, &db, err)) || (rc = repl_db_size(db, &v->local_size, err)) ||
	    (rc = cl_vault_load_vkey(dir, &vkey, err)))
		goto out;
	if (!(pfx = repl_name(&r->worm, "%s", ""))) {
		rc = CL_ENOMEM;
		goto out;
	}
	/* 1. One version per key, no delete markers: WORM keeps versions, and
	 * a second one is what an intruder with the credentials can add.  A
	 * replicator stopped in the middle of a write can leave a repeat: its
	 * request still completes at the store after the next run has listed
	 * the bucket and written the object again.  A repeat says nothing
	 * new, so it is accepted (and counted); anything else is planted. */
	if ((rc = cl_s3_list_versions(r->worm_s3, r->worm.bucket, pfx, &vers, err)))
		goto out;
	for (i = 0; i < vers.n; i++) {
		int same = 0;

		if (vers.v[i].delete_marker) {
			rc = problem(v, "%s: a delete marker hides the locked object", vers.v[i].key);
			goto out;
		}
		if (i == 0 || strcmp(vers.v[i].key, vers.v[i - 1].key) != 0)
			continue;
		if ((rc = repeats(r, &vers.v[i - 1], &vers.v[i], &same, err)))
			goto out;
		if (!same) {
			rc = problem(v, "%s: more than one version (a new version was planted)",
				     vers.v[i].key);
			goto out;
		}
		v->repeated++;
	}
	/* 2. The identity is this log's. */
	if ((rc = identity(r, &vers, &id, err)))
		goto out;
	if (strcmp(jstr(id, "vkey"), vkey) != 0) {
		rc = problem(v, "archive.json names log key %s, not this archive's", jstr(id, "vkey"));
		goto out;
	}
	if ((rc = cl_s3_bucket_versioning(r->keys_s3, r->keys.bucket, &ver, err)))
		goto out;
	if (ver != 0) {
		rc = problem(v, "key store bucket %s has versioning on: erased keys survive",
			     r->keys.bucket);
		goto out;
	}
	if ((rc = repl_remote_load(r, 1, &vers, &rm, err)))
		goto out;
	if (!rm.has_secrets) {
		rc = problem(v, "key store: the secrets object is missing");
		goto out;
	}
	/* 3. Segments: contiguous from 0, each with its manifest. */
	for (i = 0; i < rm.n; i++) {
		struct repl_seg *s = &rm.s[i];
		char a[17], b[17], md5[33];
		uint64_t end = s->end;
		char *note = NULL;
		int64_t until = 0;

		if (s->first != expect) {
			rc = problem(v, "segments are not contiguous: %llu expected, %llu found",
				     (unsigned long long)expect, (unsigned long long)s->first);
			goto out;
		}
		if (!s->has_manifest) {
			if (i + 1 == rm.n)
				break;   /* a pending upload: the next run adopts it */
			rc = problem(v, "segment %llu-%llu has no manifest",
				     (unsigned long long)s->first, (unsigned long long)s->end);
			goto out;
		}
		if (s->end > v->local_size) {
			rc = problem(v, "the bucket holds entries up to %llu, the log only %llu",
				     (unsigned long long)s->end, (unsigned long long)v->local_size);
			goto out;
		}
		free(sk);
		free(mk);
		free(kk);
		sk = repl_name(&r->worm, "seg/%s-%s", hex16s(s->first, a), hex16s(s->end, b));
		mk = repl_name(&r->worm, "man/%s", b);
		kk = repl_name(&r->keys, "keys/%s-%s", a, b);
		if (!sk || !mk || !kk) {
			rc = CL_ENOMEM;
			goto out;
		}
		json_decref(man);
		man = NULL;
		{
			/* The oldest version: the one its Object Lock date was set
			 * for (a repeat may name a later retain_until). */
			size_t nv;
			const struct cl_s3_obj *mo = oldest(&vers, mk, &nv);

			if (mo == NULL) {
				rc = problem(v, "%s: missing", mk);
				goto out;
			}
			if ((rc = get_json(r->worm_s3, r->worm.bucket, mk, mo->version_id, &man,
					   err)))
				goto out;
		}
		if ((rc = repl_db_note(db, s->end, &note, err))) {
			if (rc == CL_ENOTFOUND)
				rc = problem(v, "%s: the log has no checkpoint of size %llu", mk,
					     (unsigned long long)s->end);
			goto out;
		}
		if (json_integer_value(json_object_get(man, "first")) != (json_int_t)s->first ||
		    json_integer_value(json_object_get(man, "end")) != (json_int_t)s->end ||
		    strcmp(jstr(man, "md5"), s->etag) != 0 ||
		    json_integer_value(json_object_get(man, "bytes")) != (json_int_t)s->size) {
			free(note);
			rc = problem(v, "%s does not describe %s (hash or size differs)", mk, sk);
			goto out;
		}
		if (strcmp(jstr(man, "checkpoint"), note) != 0) {
			free(note);
			rc = problem(v, "%s: checkpoint %llu differs from the log's (a fork)", mk,
				     (unsigned long long)s->end);
			goto out;
		}
		free(note);
		(void)cl_time_parse(jstr(man, "retain_until"), strlen(jstr(man, "retain_until")),
				    &until);
		/* 4. The bytes: by ETag when the rebuild matches, else downloaded. */
		cl_buf_reset(&seg);
		cl_buf_reset(&keys);
		if (repl_build(db, s->first, &end, 0, 0, &seg, &keys, NULL) != CL_OK) {
			rc = problem(v, "%s: does not end at a checkpoint of the log", sk);
			goto out;
		}
		repl_md5_hex(seg.data, seg.len, md5);
		if (!deep && strcmp(md5, s->etag) == 0) {
			v->matched_by_etag++;
		} else {
			char sha[65];

			if ((rc = cl_s3_get(r->worm_s3, r->worm.bucket, sk, NULL, &resp, err)))
				goto out;
			v->downloaded += resp.body.len;
			repl_sha_hex(resp.body.data, resp.body.len, sha);
			if (strcmp(sha, jstr(man, "sha256")) != 0) {
				rc = problem(v, "%s: SHA-256 differs from its manifest", sk);
				goto out;
			}
			if ((rc = compare_seg(&seg, resp.body.data, resp.body.len, sk, v)))
				goto out;
		}
		/* 5. Retention on the segment and its manifest. */
		if ((rc = check_retention(r, &vers, sk, until, v, err)) ||
		    (rc = check_retention(r, &vers, mk, until, v, err)))
			goto out;
		/* 6. The key store. */
		if (!s->has_keys) {
			rc = problem(v, "%s/%s: missing (key store lost)", r->keys.bucket, kk);
			goto out;
		}
		repl_md5_hex(keys.data, keys.len, md5);
		if (strcmp(md5, s->keys_etag) != 0) {
			if ((rc = cl_s3_get(r->keys_s3, r->keys.bucket, kk, NULL, &resp, err)))
				goto out;
			if ((rc = compare_keys(db, &keys, resp.body.data, resp.body.len, kk, v)))
				goto out;
		}
		v->keys_checked++;
		v->segments++;
		v->entries += s->end - s->first;
		expect = s->end;
	}
	for (i = 0; i < rm.n_man; i++)
		if (rm.man[i] > expect) {
			rc = problem(v, "manifest %llu has no segment", (unsigned long long)rm.man[i]);
			goto out;
		}
	v->remote_end = expect;
	v->cosigs = rm.n_cosig;
out:
	json_decref(id);
	json_decref(man);
	cl_s3_list_release(&vers);
	repl_remote_release(&rm);
	cl_buf_release(&seg);
	cl_buf_release(&keys);
	cl_s3_resp_release(&resp);
	repl_db_close(db);
	free(vkey);
	free(pfx);
	free(sk);
	free(mk);
	free(kk);
	return rc;
}

/* ---- restore ------------------------------------------------------------------ */

static const char schema[] =
	"CREATE TABLE meta(k TEXT PRIMARY KEY, v BLOB NOT NULL);"
	"CREATE TABLE entry(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL,"
	" type INTEGER NOT NULL, kind TEXT NOT NULL, sent_at INTEGER,"
	" attrs BLOB);"
	"CREATE TABLE dedup(idx INTEGER PRIMARY KEY, kh INTEGER NOT NULL, ch INTEGER);"
	"CREATE TABLE chain_head(tag BLOB PRIMARY KEY, idx INTEGER NOT NULL,"
	" hash BLOB NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE payload(idx INTEGER PRIMARY KEY, ct BLOB NOT NULL);"
	"CREATE TABLE key_batch(id INTEGER PRIMARY KEY, eph BLOB NOT NULL);"
	"CREATE TABLE sealed_key(idx INTEGER PRIMARY KEY,"
	" batch INTEGER NOT NULL, wrapped BLOB NOT NULL);"
	"CREATE TABLE node(level INTEGER, pos INTEGER, hash BLOB NOT NULL,"
	" PRIMARY KEY(level, pos)) WITHOUT ROWID;"
	"CREATE TABLE checkpoint(size INTEGER PRIMARY KEY, note TEXT NOT NULL,"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS witness_cosig(size INTEGER NOT NULL,"
	" vkey TEXT NOT NULL, time INTEGER NOT NULL, line TEXT NOT NULL,"
	" PRIMARY KEY(size, vkey));";

enum { S_ENTRY, S_DEDUP, S_PAYLOAD, S_BATCH, S_KEY, S_NODE, S_CP, S_HEAD, S_N };
static const char *const sqls[S_N] = {
	"INSERT INTO entry(idx, leaf, type, kind, sent_at, attrs) VALUES (?1,?2,?3,?4,?5,?6)",
	"INSERT INTO dedup(idx, kh, ch) VALUES (?1, ?2, ?3)",
	"INSERT INTO payload(idx, ct) VALUES (?1, ?2)",
	"INSERT INTO key_batch(eph) VALUES (?1)",
	"INSERT INTO sealed_key(idx, batch, wrapped) VALUES (?1, ?2, ?3)",
	"INSERT INTO node(level, pos, hash) VALUES (?1, ?2, ?3)",
	"INSERT INTO checkpoint(size, note, created_at) VALUES (?1, ?2, ?3)",
	"INSERT OR REPLACE INTO chain_head(tag, idx, hash) VALUES (?1, ?2, ?3)",
};

struct rb {
	sqlite3 *db;
	sqlite3_stmt *st[S_N];
	struct cl_merkle_range tree;
	unsigned char last_eph[32];
	int64_t batch;
	uint64_t *erased;            /* ciphertext without a key: need a tombstone */
	size_t n_erased, a_erased;
	uint64_t *tomb;              /* entries tombstones name */
	size_t n_tomb, a_tomb;
};

static int step(sqlite3_stmt *st)
{
	int s = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return s == SQLITE_DONE ? CL_OK : CL_EIO;
}

static int emit_node(void *ctx, unsigned level, uint64_t index, const cl_hash hash)
{
	struct rb *b = ctx;

	sqlite3_bind_int(b->st[S_NODE], 1, (int)level);
	sqlite3_bind_int64(b->st[S_NODE], 2, (sqlite3_int64)index);
	sqlite3_bind_blob(b->st[S_NODE], 3, hash, 32, SQLITE_TRANSIENT);
	return step(b->st[S_NODE]);
}

static int push(uint64_t **v, size_t *n, size_t *a, uint64_t x)
{
	if (*n == *a) {
		size_t na = *a ? *a * 2 : 256;
		uint64_t *nv = realloc(*v, na * sizeof(*nv));

		if (!nv)
			return CL_ENOMEM;
		*v = nv;
		*a = na;
	}
	(*v)[(*n)++] = x;
	return CL_OK;
}

static int is_zero(const unsigned char *p, size_t n)
{
	size_t i;
	unsigned char x = 0;

	for (i = 0; i < n; i++)
		x |= p[i];
	return x == 0;
}

static int cmp64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int restore_seg(struct rb *b, const struct cl_seg *s, const struct cl_keys *k,
		       struct cl_repl_rreport *rep, char **err)
{
	size_t ki = 0, c;
	uint64_t i;
	int rc = CL_OK;

	for (i = 0; i < s->count && rc == CL_OK; i++) {
		const struct cl_seg_entry *e = &s->e[i];
		const struct cl_keys_row *kr = NULL;
		struct cl_leaf leaf;
		cl_hash lh;

		while (ki < k->n && k->r[ki].idx < e->idx)
			ki++;
		if (ki < k->n && k->r[ki].idx == e->idx)
			kr = &k->r[ki];
		if (cl_leaf_decode(e->leaf, e->leaf_len, &leaf, err) != CL_OK)
			return CL_ECORRUPT;
		/* The leaf commits to the key rows: the key store is checked. */
		if (kr) {
			unsigned char aux[32];

			cl_leaf_aux_hash(kr->eph, kr->eph ? 32 : 0, kr->wrapped, kr->wrapped ? 48 : 0,
					 kr->attrs, kr->attrs_len, aux);
			if (memcmp(aux, leaf.aux_hash, 32) != 0)
				return cl_error(err, CL_ECORRUPT, "entry %llu: the key store's rows do"
						" not match the log's commitment (key store altered)",
						(unsigned long long)e->idx);
			if (kr->wrapped && !e->ct)
				return cl_error(err, CL_ECORRUPT, "entry %llu: a key without ciphertext",
						(unsigned long long)e->idx);
		}
		sqlite3_bind_int64(b->st[S_ENTRY], 1, (sqlite3_int64)e->idx);
		sqlite3_bind_blob(b->st[S_ENTRY], 2, e->leaf, (int)e->leaf_len, SQLITE_STATIC);
		sqlite3_bind_int(b->st[S_ENTRY], 3, leaf.type);
		sqlite3_bind_text(b->st[S_ENTRY], 4, leaf.kind, -1, SQLITE_TRANSIENT);
		if (leaf.sent_at != CL_TIME_NONE)
			sqlite3_bind_int64(b->st[S_ENTRY], 5, leaf.sent_at);
		if (kr && kr->attrs)
			sqlite3_bind_blob(b->st[S_ENTRY], 6, kr->attrs, (int)kr->attrs_len,
					  SQLITE_STATIC);
		if ((rc = step(b->st[S_ENTRY])))
			break;
		if (e->has_dedup) {
			sqlite3_bind_int64(b->st[S_DEDUP], 1, (sqlite3_int64)e->idx);
			sqlite3_bind_int64(b->st[S_DEDUP], 2, e->kh);
			if (e->has_ch)
				sqlite3_bind_int64(b->st[S_DEDUP], 3, e->ch);
			if ((rc = step(b->st[S_DEDUP])))
				break;
		}
		if (e->ct && kr && kr->wrapped && kr->eph) {
			if (b->batch == 0 || memcmp(b->last_eph, kr->eph, 32) != 0) {
				sqlite3_bind_blob(b->st[S_BATCH], 1, kr->eph, 32, SQLITE_STATIC);
				if ((rc = step(b->st[S_BATCH])))
					break;
				b->batch = sqlite3_last_insert_rowid(b->db);
				memcpy(b->last_eph, kr->eph, 32);
			}
			sqlite3_bind_int64(b->st[S_PAYLOAD], 1, (sqlite3_int64)e->idx);
			sqlite3_bind_blob(b->st[S_PAYLOAD], 2, e->ct, (int)e->ct_len, SQLITE_STATIC);
			sqlite3_bind_int64(b->st[S_KEY], 1, (sqlite3_int64)e->idx);
			sqlite3_bind_int64(b->st[S_KEY], 2, b->batch);
			sqlite3_bind_blob(b->st[S_KEY], 3, kr->wrapped, 48, SQLITE_STATIC);
			if ((rc = step(b->st[S_PAYLOAD])) || (rc = step(b->st[S_KEY])))
				break;
			rep->payloads++;
		} else if (e->ct || !is_zero(leaf.ct_hash, 32)) {
			/* Erased (before or after replication): its key is gone. */
			if ((rc = push(&b->erased, &b->n_erased, &b->a_erased, e->idx)))
				break;
			rep->erased++;
		}
		if (leaf.type == CL_ENTRY_TOMBSTONE) {
			json_t *j = json_loadb((const char *)leaf.body, leaf.body_len, 0, NULL);
			json_int_t x = j ? json_integer_value(json_object_get(j, "erased")) : -1;

			json_decref(j);
			if (x >= 0 && (rc = push(&b->tomb, &b->n_tomb, &b->a_tomb, (uint64_t)x)))
				break;
		}
		cl_merkle_leaf_hash(e->leaf, e->leaf_len, lh);
		sqlite3_bind_blob(b->st[S_HEAD], 1, leaf.conv_tag, 32, SQLITE_TRANSIENT);
		sqlite3_bind_int64(b->st[S_HEAD], 2, (sqlite3_int64)e->idx);
		sqlite3_bind_blob(b->st[S_HEAD], 3, lh, 32, SQLITE_TRANSIENT);
		if ((rc = step(b->st[S_HEAD])) ||
		    (rc = cl_merkle_range_append(&b->tree, lh, emit_node, b, CL_NODE_LEVEL)))
			break;
		rep->entries++;
	}
	for (c = 0; c < s->n_cp && rc == CL_OK; c++) {
		sqlite3_bind_int64(b->st[S_CP], 1, (sqlite3_int64)s->cp[c].size);
		sqlite3_bind_text(b->st[S_CP], 2, s->cp[c].note, (int)s->cp[c].note_len,
				  SQLITE_STATIC);
		sqlite3_bind_int64(b->st[S_CP], 3, s->cp[c].created_at);
		if ((rc = step(b->st[S_CP])) == CL_OK)
			rep->checkpoints++;
	}
	if (rc == CL_EIO)
		rc = cl_error(err, CL_EIO, "writing the restored database: %s", sqlite3_errmsg(b->db));
	return rc;
}

static int write_file(const char *dir, const char *name, const void *p, size_t n,
		      unsigned mode, char **err)
{
	char *path = cl_strdupf("%s/%s", dir, name);
	int rc;

	if (!path)
		return CL_ENOMEM;
	rc = cl_file_create(path, p, n, mode, err);
	free(path);
	return rc;
}

static int restore_files(struct cl_repl *r, const char *tmp, json_t *id,
			 const unsigned char *pass, size_t passlen, char **origin, char **err)
{
	struct cl_buf b, sk;
	struct cl_s3_resp resp;
	unsigned char *seal_sk = NULL, *plain = NULL, pk[32];
	char *secrets = NULL, now[32];
	const char *vkey = jstr(id, "vkey"), *plus;
	size_t plen, llen;
	int rc;

	cl_buf_init(&b, 1 << 16);
	cl_buf_init(&sk, 4096);
	cl_s3_resp_init(&resp, 1 << 16);
	*origin = NULL;
	plus = strchr(vkey, '+');
	if (!plus || plus == vkey || !(*origin = strndup(vkey, (size_t)(plus - vkey)))) {
		rc = cl_error(err, CL_ECORRUPT, "archive.json: bad verifier key");
		goto out;
	}
	cl_time_format(cl_time_now_ms(), now);
	if ((rc = cl_buf_addf(&b, "%s\n", vkey)) ||
	    (rc = write_file(tmp, "log.pub", b.data, b.len, 0644, err)))
		goto out;
	cl_buf_reset(&b);
	if ((rc = cl_buf_addf(&b, "%s\n", jstr(id, "seal_pub"))) ||
	    (rc = write_file(tmp, "seal.pub", b.data, b.len, 0644, err)))
		goto out;
	cl_buf_reset(&b);
	if ((rc = cl_buf_addf(&b, "# chatledger archive configuration (see config/README)\n"
			      "# restored from a replica on %s\n[archive]\norigin = %s\n"
			      "format = " CL_STR(CL_ARCHIVE_FORMAT) "\ncreated = %s\n\n"
			      "[ingest]\nbatch_size = 1000\n",
			      now, *origin, now)) ||
	    (rc = write_file(tmp, "chatledger.conf", b.data, b.len, 0600, err)))
		goto out;
	if (cl_b64_decode(jstr(id, "seal_key"), strlen(jstr(id, "seal_key")), &sk) != CL_OK) {
		rc = cl_error(err, CL_ECORRUPT, "archive.json: seal_key is not base64");
		goto out;
	}
	if ((rc = write_file(tmp, "seal.key", sk.data, sk.len, 0600, err)))
		goto out;
	/* The officer's passphrase opens the sealing key, which opens the
	 * archive's other secrets. */
	if ((rc = cl_vault_unlock_seal(tmp, pass, passlen, &seal_sk, err)) ||
	    (rc = cl_vault_load_seal_pk(tmp, pk, err)))
		goto out;
	if (!(secrets = repl_name(&r->keys, "secrets"))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_s3_get(r->keys_s3, r->keys.bucket, secrets, NULL, &resp, err))) {
		if (rc == CL_ENOTFOUND)
			rc = cl_error(err, CL_ECORRUPT, "key store %s: no secrets object (key store"
				      " lost)", r->keys.bucket);
		goto out;
	}
	if (resp.body.len < crypto_box_SEALBYTES + 12 + 32) {
		rc = cl_error(err, CL_ECORRUPT, "key store: secrets object malformed");
		goto out;
	}
	plen = resp.body.len - crypto_box_SEALBYTES;
	if (!(plain = sodium_malloc(plen))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (crypto_box_seal_open(plain, resp.body.data, resp.body.len, pk, seal_sk) != 0 ||
	    memcmp(plain, "CLSECv1\n", 8) != 0 ||
	    (llen = cl_load_be32(plain + 8)) != plen - 12 - 32) {
		rc = cl_error(err, CL_ECORRUPT, "key store: secrets object does not open with the"
			      " sealing key");
		goto out;
	}
	if ((rc = write_file(tmp, "log.key", plain + 12, llen, 0600, err)) ||
	    (rc = write_file(tmp, "tag.key", plain + 12 + llen, 32, 0600, err)))
		goto out;
out:
	if (rc) {
		free(*origin);
		*origin = NULL;
	}
	sodium_free(seal_sk);
	sodium_free(plain);
	free(secrets);
	cl_buf_release(&b);
	cl_buf_release(&sk);
	cl_s3_resp_release(&resp);
	return rc;
}

static void rm_tree(const char *dir)
{
	static const char *const names[] = {
		"ledger.db", "ledger.db-wal", "ledger.db-shm", "log.pub", "log.key", "seal.pub",
		"seal.key", "tag.key", "chatledger.conf", NULL
	};
	size_t i;

	for (i = 0; names[i]; i++) {
		char *p = cl_strdupf("%s/%s", dir, names[i]);

		if (p)
			unlink(p);
		free(p);
	}
	rmdir(dir);
}

int cl_repl_restore(struct cl_repl *r, const char *newdir, const unsigned char *pass,
		    size_t passlen, struct cl_repl_rreport *rep, char **err)
{
	struct cl_s3_list vers;
	struct repl_remote rm;
	struct cl_s3_resp sresp, kresp;
	struct rb b;
	struct stat st;
	json_t *id = NULL, *man = NULL;
	char *tmp = NULL, *pfx = NULL, *origin = NULL, *dbpath = NULL;
	uint64_t at = 0;
	size_t i;
	int rc, made = 0;

	memset(rep, 0, sizeof(*rep));
	memset(&vers, 0, sizeof(vers));
	memset(&rm, 0, sizeof(rm));
	memset(&b, 0, sizeof(b));
	cl_merkle_range_init(&b.tree);
	cl_s3_resp_init(&sresp, REPL_SEG_CAP);
	cl_s3_resp_init(&kresp, REPL_SEG_CAP);
	if (stat(newdir, &st) == 0 && (!S_ISDIR(st.st_mode) || rmdir(newdir) != 0))
		return cl_error(err, CL_EEXIST, "'%s' exists and is not an empty directory;"
				" refusing to overwrite", newdir);
	if (!(tmp = cl_strdupf("%s.restore-XXXXXX", newdir)) || !(pfx = repl_name(&r->worm, "%s", ""))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (!mkdtemp(tmp)) {
		rc = cl_error(err, CL_EIO, "cannot create a directory beside '%s': %s", newdir,
			      strerror(errno));
		goto out;
	}
	made = 1;
	if ((rc = cl_s3_list_versions(r->worm_s3, r->worm.bucket, pfx, &vers, err)))
		goto out;
	for (i = 1; i < vers.n; i++)
		if (strcmp(vers.v[i].key, vers.v[i - 1].key) == 0)
			rep->skipped_versions++;
	if ((rc = identity(r, &vers, &id, err)) ||
	    (rc = restore_files(r, tmp, id, pass, passlen, &origin, err)) ||
	    (rc = repl_remote_load(r, 1, &vers, &rm, err)))
		goto out;
	if (!(dbpath = cl_strdupf("%s/ledger.db", tmp))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (sqlite3_open_v2(dbpath, &b.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_EXCLUSIVE, NULL) != SQLITE_OK ||
	    sqlite3_exec(b.db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "PRAGMA secure_delete=ON; BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(b.db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "cannot create the database: %s",
			      b.db ? sqlite3_errmsg(b.db) : "out of memory");
		goto out;
	}
	for (i = 0; i < S_N; i++)
		if (sqlite3_prepare_v2(b.db, sqls[i], -1, &b.st[i], NULL) != SQLITE_OK) {
			rc = cl_error(err, CL_EIO, "restore: %s", sqlite3_errmsg(b.db));
			goto out;
		}
	/* Every segment with a manifest, in order, from 0. */
	for (;;) {
		struct repl_seg *s = NULL;
		const struct cl_s3_obj *so, *mo;
		char a[17], e[17], sha[65], *sk, *mk, *kk;
		struct cl_seg seg;
		struct cl_keys keys;
		size_t nv;

		for (i = 0; i < rm.n; i++)
			if (rm.s[i].first == at && rm.s[i].has_manifest)
				s = &rm.s[i];
		if (!s)
			break;
		sk = repl_name(&r->worm, "seg/%s-%s", hex16s(s->first, a), hex16s(s->end, e));
		mk = repl_name(&r->worm, "man/%s", e);
		kk = repl_name(&r->keys, "keys/%s-%s", a, e);
		so = sk ? oldest(&vers, sk, &nv) : NULL;
		mo = mk ? oldest(&vers, mk, &nv) : NULL;
		json_decref(man);
		man = NULL;
		memset(&seg, 0, sizeof(seg));
		memset(&keys, 0, sizeof(keys));
		if (!sk || !mk || !kk)
			rc = CL_ENOMEM;
		else if (!so || !mo)
			rc = cl_error(err, CL_ECORRUPT, "%s: only a delete marker", sk);
		else if ((rc = get_json(r->worm_s3, r->worm.bucket, mk, mo->version_id, &man, err)) ||
			 (rc = cl_s3_get(r->worm_s3, r->worm.bucket, sk, so->version_id, &sresp, err)))
			;
		else if (repl_sha_hex(sresp.body.data, sresp.body.len, sha),
			 strcmp(sha, jstr(man, "sha256")) != 0)
			rc = cl_error(err, CL_ECORRUPT, "%s: SHA-256 differs from its manifest", sk);
		else if ((rc = cl_seg_decode(sresp.body.data, sresp.body.len, &seg, err)))
			;
		else if (seg.first != s->first || seg.first + seg.count != s->end)
			rc = cl_error(err, CL_ECORRUPT, "%s: holds other entries than its name", sk);
		else if ((rc = cl_s3_get(r->keys_s3, r->keys.bucket, kk, NULL, &kresp, err))) {
			if (rc == CL_ENOTFOUND)
				rc = cl_error(err, CL_ECORRUPT, "%s/%s: missing (key store lost)",
					      r->keys.bucket, kk);
		} else if ((rc = cl_keys_decode(kresp.body.data, kresp.body.len, &keys, err)) ||
			   keys.first != seg.first || keys.count != seg.count) {
			rc = rc ? rc : cl_error(err, CL_ECORRUPT, "%s: other range", kk);
		} else {
			rc = restore_seg(&b, &seg, &keys, rep, err);
		}
		cl_seg_release(&seg);
		cl_keys_release(&keys);
		free(sk);
		free(mk);
		free(kk);
		if (rc)
			goto out;
		rep->segments++;
		at = s->end;
	}
	if (at == 0) {
		rc = cl_error(err, CL_ENOTFOUND, "no replicated segment under %s/%s", r->worm.bucket,
			      r->worm.prefix);
		goto out;
	}
	/* Every ciphertext without its key must be explained by a tombstone:
	 * otherwise the key store lost keys. */
	if (b.n_tomb)
		qsort(b.tomb, b.n_tomb, sizeof(uint64_t), cmp64);
	for (i = 0; i < b.n_erased; i++)
		if (!b.n_tomb || !bsearch(&b.erased[i], b.tomb, b.n_tomb, sizeof(uint64_t), cmp64)) {
			rc = cl_error(err, CL_ECORRUPT, "entry %llu: ciphertext without a key and no"
				      " tombstone (key store lost or altered)",
				      (unsigned long long)b.erased[i]);
			goto out;
		}
	/* An erasure the key store has not caught up with yet (the entry was
	 * erased after its segment was replicated, before the next run): the
	 * log's tombstone decides, so the restored copy erases it too. */
	for (i = 0; i < b.n_tomb; i++) {
		sqlite3_stmt *ds = NULL;

		if (sqlite3_prepare_v2(b.db, "DELETE FROM payload WHERE idx = ?1;", -1, &ds, NULL) ||
		    sqlite3_bind_int64(ds, 1, (sqlite3_int64)b.tomb[i]) ||
		    sqlite3_step(ds) != SQLITE_DONE) {
			sqlite3_finalize(ds);
			rc = cl_error(err, CL_EIO, "restore: %s", sqlite3_errmsg(b.db));
			goto out;
		}
		sqlite3_finalize(ds);
		ds = NULL;
		if (sqlite3_prepare_v2(b.db, "DELETE FROM sealed_key WHERE idx = ?1;", -1, &ds, NULL) ||
		    sqlite3_bind_int64(ds, 1, (sqlite3_int64)b.tomb[i]) ||
		    sqlite3_step(ds) != SQLITE_DONE) {
			sqlite3_finalize(ds);
			rc = cl_error(err, CL_EIO, "restore: %s", sqlite3_errmsg(b.db));
			goto out;
		}
		sqlite3_finalize(ds);
		ds = NULL;
		if (sqlite3_prepare_v2(b.db, "UPDATE entry SET attrs = NULL WHERE idx = ?1;", -1, &ds,
				       NULL) ||
		    sqlite3_bind_int64(ds, 1, (sqlite3_int64)b.tomb[i]) ||
		    sqlite3_step(ds) != SQLITE_DONE) {
			sqlite3_finalize(ds);
			rc = cl_error(err, CL_EIO, "restore: %s", sqlite3_errmsg(b.db));
			goto out;
		}
		sqlite3_finalize(ds);
	}
	/* Cosignatures of the restored checkpoints. */
	for (i = 0; i < rm.n_cosig; i++) {
		char *key = repl_name(&r->worm, "%s", rm.cosig[i]);
		const struct cl_s3_obj *o;
		sqlite3_stmt *cs = NULL;
		json_t *j = NULL;
		size_t nv;

		if (!key) {
			rc = CL_ENOMEM;
			goto out;
		}
		o = oldest(&vers, key, &nv);
		if (o && (rc = get_json(r->worm_s3, r->worm.bucket, key, o->version_id, &j, err)) ==
		    CL_OK && (uint64_t)json_integer_value(json_object_get(j, "size")) <= at) {
			if (sqlite3_prepare_v2(b.db, "INSERT OR IGNORE INTO witness_cosig(size, vkey,"
					       " time, line) VALUES (?1, ?2, ?3, ?4)", -1, &cs,
					       NULL) == SQLITE_OK) {
				sqlite3_bind_int64(cs, 1, json_integer_value(json_object_get(j, "size")));
				sqlite3_bind_text(cs, 2, jstr(j, "vkey"), -1, SQLITE_TRANSIENT);
				sqlite3_bind_int64(cs, 3, json_integer_value(json_object_get(j, "time")));
				sqlite3_bind_text(cs, 4, jstr(j, "line"), -1, SQLITE_TRANSIENT);
				if (sqlite3_step(cs) == SQLITE_DONE)
					rep->cosigs++;
			}
			sqlite3_finalize(cs);
		}
		json_decref(j);
		free(key);
		if (rc)
			goto out;
	}
	{
		struct cl_buf fr;
		sqlite3_stmt *ms = NULL;
		unsigned k;

		cl_buf_init(&fr, 8 + 64 * 32);
		rc = cl_buf_add_be64(&fr, b.tree.size);
		for (k = 0; k < b.tree.count && rc == CL_OK; k++)
			rc = cl_buf_add(&fr, b.tree.hashes[k], 32);
		if (rc == CL_OK &&
		    (sqlite3_prepare_v2(b.db, "INSERT INTO meta(k, v) VALUES ('format', "
					CL_STR(CL_ARCHIVE_FORMAT) "),"
					" ('origin', ?1), ('vkey', ?2), ('frontier', ?3)", -1, &ms,
					NULL) != SQLITE_OK ||
		     sqlite3_bind_text(ms, 1, origin, -1, SQLITE_STATIC) ||
		     sqlite3_bind_text(ms, 2, jstr(id, "vkey"), -1, SQLITE_STATIC) ||
		     sqlite3_bind_blob(ms, 3, fr.data, (int)fr.len, SQLITE_STATIC) ||
		     sqlite3_step(ms) != SQLITE_DONE ||
		     sqlite3_exec(b.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK))
			rc = cl_error(err, CL_EIO, "restore: %s", sqlite3_errmsg(b.db));
		sqlite3_finalize(ms);
		cl_buf_release(&fr);
		if (rc)
			goto out;
	}
	for (i = 0; i < S_N; i++) {
		sqlite3_finalize(b.st[i]);
		b.st[i] = NULL;
	}
	if (sqlite3_close(b.db) != SQLITE_OK) {
		rc = cl_error(err, CL_EIO, "restore: closing the database failed");
		b.db = NULL;
		goto out;
	}
	b.db = NULL;
	if ((rc = cl_fsync_dir(tmp)))
		goto out;
	if (rename(tmp, newdir) != 0) {
		rc = cl_error(err, CL_EIO, "cannot rename '%s' to '%s': %s", tmp, newdir,
			      strerror(errno));
		goto out;
	}
	made = 0;
out:
	for (i = 0; i < S_N; i++)
		sqlite3_finalize(b.st[i]);
	if (b.db)
		sqlite3_close(b.db);
	if (made && tmp)
		rm_tree(tmp);
	free(b.erased);
	free(b.tomb);
	json_decref(id);
	json_decref(man);
	cl_s3_list_release(&vers);
	repl_remote_release(&rm);
	cl_s3_resp_release(&sresp);
	cl_s3_resp_release(&kresp);
	free(tmp);
	free(pfx);
	free(origin);
	free(dbpath);
	return rc;
}
