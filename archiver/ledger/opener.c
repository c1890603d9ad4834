/*
 * opener.c - opening many payloads through one handle (ledger.h
 * cl_opener_*): the per-entry work of cl_ledger_open_payload_salt without
 * its per-entry setup.
 *
 * What a single open used to pay for each entry, and the opener pays once:
 * two sodium_malloc regions (each an mmap, mprotect of guard pages and a
 * munmap on free, with a TLB flush), the X25519 of the key batch's shared
 * key (the same for every entry of one batch), a zstd decompression
 * context, and preparing the SQL.  Secrets stay where they were: the
 * payload key, the batch's shared key and the decrypted frame live in
 * guarded memory (sodium_malloc) owned by the opener; the key is wiped
 * after every entry, the frame after every entry, and the shared key when
 * the next entry belongs to another batch and when the opener is freed.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zstd.h>

#include "archiver/ledger/ledger_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct cl_opener {
	struct cl_ledger *l;
	const unsigned char *sk;   /* borrowed: the sealing secret key */
	sqlite3_stmt *st;
	ZSTD_DCtx *dctx;
	ZSTD_DDict *ddict;         /* payload dictionary 1 (version-2 blobs) */
	unsigned char *keys;       /* sodium_malloc: shared key (32) || payload key (32) */
	int64_t batch;             /* the key batch whose shared key is in keys, or -1 */
	unsigned char *frame;      /* sodium_malloc: salt || zstd frame of one entry */
	size_t frame_cap;
};

int cl_opener_new(struct cl_ledger *l, const unsigned char *seal_sk,
		  struct cl_opener **out, char **err)
{
	struct cl_opener *o = calloc(1, sizeof(*o));
	int rc = CL_OK;

	*out = NULL;
	if (o == NULL)
		return CL_ENOMEM;
	o->l = l;
	o->sk = seal_sk;
	o->batch = -1;
	o->keys = sodium_malloc(crypto_box_BEFORENMBYTES + 32);
	o->dctx = ZSTD_createDCtx();
	o->ddict = ZSTD_createDDict(cl_payload_dict1, cl_payload_dict1_len);
	if (o->keys == NULL || o->dctx == NULL || o->ddict == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (sqlite3_prepare_v3(l->db,
			       "SELECT e.leaf, k.batch, b.eph, k.wrapped, p.ct FROM entry e"
			       " LEFT JOIN sealed_key k ON k.idx = e.idx"
			       " LEFT JOIN key_batch b ON b.id = k.batch"
			       " LEFT JOIN payload p ON p.idx = e.idx WHERE e.idx = ?1",
			       -1, SQLITE_PREPARE_PERSISTENT, &o->st, NULL) != SQLITE_OK)
		rc = cl_ledger_db_err(l, err, "reading a payload");
out:
	if (rc) {
		cl_opener_free(o);
		return rc;
	}
	*out = o;
	return CL_OK;
}

void cl_opener_free(struct cl_opener *o)
{
	if (o == NULL)
		return;
	sqlite3_finalize(o->st);
	ZSTD_freeDCtx(o->dctx);
	ZSTD_freeDDict(o->ddict);
	sodium_free(o->keys);      /* sodium_free wipes */
	sodium_free(o->frame);
	free(o);
}

/* Room for n bytes of frame (guarded memory, grown by doubling). */
static int frame_reserve(struct cl_opener *o, size_t n)
{
	size_t cap = o->frame_cap ? o->frame_cap : 4096;
	unsigned char *p;

	if (n <= o->frame_cap)
		return CL_OK;
	while (cap < n)
		cap *= 2;
	if ((p = sodium_malloc(cap)) == NULL)
		return CL_ENOMEM;
	sodium_free(o->frame);
	o->frame = p;
	o->frame_cap = cap;
	return CL_OK;
}

/* The batch's shared key for the current row into o->keys[0..32). */
static int batch_key(struct cl_opener *o)
{
	int64_t batch = sqlite3_column_int64(o->st, 1);

	if (batch == o->batch)
		return CL_OK;
	o->batch = -1;
	if (crypto_box_beforenm(o->keys, sqlite3_column_blob(o->st, 2), o->sk) != 0) {
		sodium_memzero(o->keys, crypto_box_BEFORENMBYTES);
		return CL_EKEY;
	}
	o->batch = batch;
	return CL_OK;
}

int cl_opener_open(struct cl_opener *o, uint64_t index, struct cl_buf *out,
		   unsigned char *salt, struct cl_buf *leaf_out, char **err)
{
	struct cl_leaf leaf;
	unsigned char wn[24], h[32];
	unsigned char *key = o->keys + crypto_box_BEFORENMBYTES;
	const unsigned char *ct, *lp;
	size_t ctlen, llen, ilen = 0, wipe = 0;
	unsigned long long fsz;
	size_t got, base = out->len;
	int rc = CL_OK, s;

	sqlite3_reset(o->st);
	sqlite3_bind_int64(o->st, 1, (sqlite3_int64)index);
	s = sqlite3_step(o->st);
	if (s != SQLITE_ROW) {
		rc = s == SQLITE_DONE ?
			cl_error(err, CL_ENOTFOUND, "no entry %llu", (unsigned long long)index) :
			cl_ledger_db_err(o->l, err, "reading a payload");
		goto out;
	}
	lp = sqlite3_column_blob(o->st, 0);
	llen = (size_t)sqlite3_column_bytes(o->st, 0);
	if ((rc = cl_leaf_decode(lp, llen, &leaf, err)))
		goto out;
	if (sodium_is_zero(leaf.ct_hash, 32)) {
		rc = cl_error(err, CL_ENOTFOUND, "entry %llu has no sealed payload",
			      (unsigned long long)index);
		goto out;
	}
	if (sqlite3_column_type(o->st, 1) == SQLITE_NULL ||
	    sqlite3_column_type(o->st, 4) == SQLITE_NULL) {
		rc = cl_error(err, CL_ENOTFOUND,
			      "entry %llu was erased: its key and ciphertext are gone",
			      (unsigned long long)index);
		goto out;
	}
	ct = sqlite3_column_blob(o->st, 4);
	ctlen = (size_t)sqlite3_column_bytes(o->st, 4);
	if (sqlite3_column_bytes(o->st, 2) != 32 || sqlite3_column_bytes(o->st, 3) != 48 ||
	    !cl_payload_wellformed(ct, ctlen, CL_PAYLOAD_VERSION)) {
		rc = cl_error(err, CL_ECORRUPT, "entry %llu: stored key or ciphertext malformed",
			      (unsigned long long)index);
		goto out;
	}
	cl_sha256(ct, ctlen, h);
	if (memcmp(h, leaf.ct_hash, 32) != 0) {
		rc = cl_error(err, CL_ECORRUPT,
			      "entry %llu: ciphertext does not match its leaf",
			      (unsigned long long)index);
		goto out;
	}
	cl_ledger_wrap_nonce(index, wn);
	if (batch_key(o) != CL_OK ||
	    crypto_box_open_easy_afternm(key, sqlite3_column_blob(o->st, 3), 48, wn,
					 o->keys) != 0) {
		rc = cl_error(err, CL_EKEY, "entry %llu: cannot unwrap its key",
			      (unsigned long long)index);
		goto out;
	}
	if ((rc = frame_reserve(o, ctlen)))
		goto out;
	wipe = ctlen;
	if (cl_payload_decrypt(ct, ctlen, key, o->frame, &ilen) != CL_OK) {
		rc = cl_error(err, CL_ECORRUPT, "entry %llu: ciphertext fails authentication",
			      (unsigned long long)index);
		goto out;
	}
	fsz = ZSTD_getFrameContentSize(o->frame + 32, ilen - 32);
	if (fsz == ZSTD_CONTENTSIZE_ERROR || fsz == ZSTD_CONTENTSIZE_UNKNOWN ||
	    fsz > CL_PAYLOAD_MAX) {
		rc = cl_error(err, CL_ECORRUPT, "entry %llu: payload frame malformed",
			      (unsigned long long)index);
		goto out;
	}
	if ((rc = cl_buf_reserve(out, (size_t)fsz)))
		goto out;
	got = ZSTD_decompress_usingDDict(o->dctx, out->data + base, (size_t)fsz,
					 o->frame + 32, ilen - 32,
					 cl_payload_uses_dict(ct) ? o->ddict : NULL);
	if (ZSTD_isError(got) || got != fsz) {
		rc = cl_error(err, CL_ECORRUPT, "entry %llu: payload does not decompress",
			      (unsigned long long)index);
		goto out;
	}
	cl_sha256_2(o->frame, 32, out->data + base, got, h);
	if (memcmp(h, leaf.pt_hash, 32) != 0) {
		sodium_memzero(out->data + base, got);
		rc = cl_error(err, CL_ECORRUPT,
			      "entry %llu: plaintext does not match its salted hash",
			      (unsigned long long)index);
		goto out;
	}
	if (leaf_out != NULL && (rc = cl_buf_add(leaf_out, lp, llen))) {
		sodium_memzero(out->data + base, got);
		goto out;
	}
	out->len = base + got;
	out->data[out->len] = 0;
	if (salt != NULL)
		memcpy(salt, o->frame, 32);
out:
	sodium_memzero(key, 32);
	if (wipe)
		sodium_memzero(o->frame, wipe);
	sqlite3_reset(o->st);
	return rc;
}
