/*
 * seal.c - the per-entry work that needs no database: keyed hashes of the
 * message key, fingerprint and selector attributes, compression and
 * encryption of the payload (docs/FORMAT.md §5).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ledger/ledger_int.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/vault.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

static void attr_hash(const unsigned char *tag_key, const char *type,
		      const char *value, uint64_t *out)
{
	crypto_generichash_state st;
	unsigned char h[32];

	crypto_generichash_init(&st, tag_key, 32, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)"chatledger/attr/v1\n", 19);
	crypto_generichash_update(&st, (const unsigned char *)type, strlen(type));
	crypto_generichash_update(&st, (const unsigned char *)"=", 1);
	crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
	crypto_generichash_final(&st, h, sizeof(h));
	*out = cl_load_be64(h);
	sodium_memzero(&st, sizeof(st));
	sodium_memzero(h, sizeof(h));
}

int cl_ledger_attr_hash(const struct cl_ledger *l, const char *type,
			const char *value, uint64_t *out)
{
	if (l->tag_key == NULL)
		return CL_EKEY;
	attr_hash(l->tag_key, type, value, out);
	return CL_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* attrs "type=value\0"... -> sorted, de-duplicated big-endian u64s. */
static int encode_attrs(const unsigned char *tag_key, const char *attrs,
			size_t len, struct cl_buf *out)
{
	uint64_t v[512];
	size_t n = 0, i, off = 0;

	memset(v, 0, sizeof(v));
	while (off < len) {
		const char *a = attrs + off, *eq = strchr(a, '=');
		size_t alen = strnlen(a, len - off);
		char type[32];

		if (n == 512 || eq == NULL || (size_t)(eq - a) >= sizeof(type) ||
		    alen == len - off)
			return CL_EINVAL;
		memcpy(type, a, (size_t)(eq - a));
		type[eq - a] = 0;
		attr_hash(tag_key, type, eq + 1, &v[n]);
		n++;
		off += alen + 1;
	}
	qsort(v, n, sizeof(v[0]), cmp_u64);
	for (i = 0; i < n; i++) {
		int rc;

		if ((i == 0 || v[i] != v[i - 1]) && (rc = cl_buf_add_be64(out, v[i])))
			return rc;
	}
	return CL_OK;
}

/* ---- sealing (thread-confined) ---------------------------------------- */

int cl_sealer_new(const struct cl_ledger *l, struct cl_sealer **out)
{
	struct cl_sealer *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (s == NULL)
		return CL_ENOMEM;
	s->tag_key = sodium_malloc(32);
	s->rng = sodium_malloc(32 + 32 + 128);
	s->zc = ZSTD_createCCtx();
	s->cdict = ZSTD_createCDict(cl_payload_dict1, cl_payload_dict1_len, 3);
	cl_buf_init(&s->zbuf, CL_PAYLOAD_MAX);
	if (s->tag_key == NULL || s->rng == NULL || s->zc == NULL || s->cdict == NULL ||
	    l->tag_key == NULL) {
		cl_sealer_free(s);
		return l->tag_key == NULL ? CL_EKEY : CL_ENOMEM;
	}
	memcpy(s->tag_key, l->tag_key, 32);
	randombytes_buf(s->rng, 32);
	*out = s;
	return CL_OK;
}

void cl_sealer_free(struct cl_sealer *s)
{
	if (s == NULL)
		return;
	sodium_free(s->tag_key);
	sodium_free(s->rng);
	ZSTD_freeCCtx(s->zc);
	ZSTD_freeCDict(s->cdict);
	if (s->zbuf.data)
		sodium_memzero(s->zbuf.data, s->zbuf.alloc);
	cl_buf_release(&s->zbuf);
	free(s);
}

int cl_prepared_new(struct cl_prepared **out)
{
	struct cl_prepared *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (p == NULL)
		return CL_ENOMEM;
	cl_buf_init(&p->ct, CL_PAYLOAD_MAX);
	cl_buf_init(&p->attrs, 8 * 512);
	p->key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	if (p->key == NULL) {
		free(p);
		return CL_ENOMEM;
	}
	*out = p;
	return CL_OK;
}

void cl_prepared_free(struct cl_prepared *p)
{
	if (p == NULL)
		return;
	sodium_free(p->key);
	cl_buf_release(&p->ct);
	cl_buf_release(&p->attrs);
	free(p);
}

void cl_prepared_wipe(struct cl_prepared *p)
{
	if (p && p->key)
		sodium_memzero(p->key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
}

const char *cl_prepared_kind(const struct cl_prepared *p)
{
	return p->kind;
}

static void fresh_random(struct cl_sealer *s, unsigned char *out, size_t n)
{
	while (n > 0) {
		size_t k = n < 128 ? n : 128;

		randombytes_buf_deterministic(s->rng + 32, 32 + 128, s->rng);
		memcpy(s->rng, s->rng + 32, 32);
		memcpy(out, s->rng + 64, k);
		sodium_memzero(s->rng + 32, 32 + 128);
		out += k;
		n -= k;
	}
}

static const unsigned char payload_ad[2][22] = {
	"chatledger/payload/v1", "chatledger/payload/v2"
};
#define PAYLOAD_AD_LEN 21
static const unsigned char zero_nonce[24];

/* Where a blob's AEAD part starts: after the version byte, and for
 * version 1 after its 24-byte nonce. */
static size_t aead_off(int version)
{
	return version == CL_PAYLOAD_V1 ? 1 + 24 : 1;
}

int cl_payload_wellformed(const unsigned char *ct, size_t n, int max_version)
{
	return ct != NULL && n >= 1 && ct[0] >= CL_PAYLOAD_V1 && ct[0] <= max_version &&
	       ct[0] <= CL_PAYLOAD_VERSION &&
	       n >= aead_off(ct[0]) + crypto_aead_xchacha20poly1305_ietf_ABYTES + 32;
}

int cl_payload_max_version(int format)
{
	return format >= 3 ? CL_PAYLOAD_V2 : CL_PAYLOAD_V1;
}

int cl_payload_uses_dict(const unsigned char *ct)
{
	return ct[0] == CL_PAYLOAD_V2;
}

int cl_payload_decrypt(const unsigned char *ct, size_t n, const unsigned char key[32],
		       unsigned char *inner, size_t *ilen)
{
	size_t off = aead_off(ct[0]);
	unsigned long long len = 0;

	*ilen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(inner, &len, NULL, ct + off, n - off,
						       payload_ad[ct[0] - 1], PAYLOAD_AD_LEN,
						       ct[0] == CL_PAYLOAD_V1 ? ct + 1 : zero_nonce,
						       key) != 0)
		return CL_ECORRUPT;
	*ilen = (size_t)len;
	return len < 32 ? CL_ECORRUPT : CL_OK;
}

/*
 * Seal a payload: ct = 0x02 || AEAD(salt || zstd(pt, dictionary 1)) under
 * the all-zero nonce.  `key` is drawn for this one call (cl_sealer_prepare
 * draws a fresh one every time), so a fixed nonce never repeats under one
 * key; a random one would come from the same generator as the key and add
 * nothing.
 */
static int seal_payload(struct cl_sealer *s, const unsigned char *pt,
			size_t ptlen, const unsigned char *key,
			const unsigned char salt[32],
			unsigned char pt_hash[32], struct cl_buf *ct, char **err)
{
	size_t bound = ZSTD_compressBound(ptlen), z;
	unsigned long long clen = 0;
	int rc;

	if (ptlen > CL_PAYLOAD_MAX - 4096)
		return cl_error(err, CL_EINVAL, "payload too large (%zu bytes)", ptlen);
	cl_sha256_2(salt, 32, pt, ptlen, pt_hash);
	cl_buf_reset(&s->zbuf);
	if ((rc = cl_buf_add(&s->zbuf, salt, 32)) ||
	    (rc = cl_buf_reserve(&s->zbuf, bound)))
		goto out;
	z = ZSTD_compress_usingCDict(s->zc, s->zbuf.data + 32, bound, pt, ptlen,
				     s->cdict);
	if (ZSTD_isError(z)) {
		rc = cl_error(err, CL_EIO, "zstd: %s", ZSTD_getErrorName(z));
		goto out;
	}
	s->zbuf.len = 32 + z;
	cl_buf_reset(ct);
	if ((rc = cl_buf_reserve(ct, 1 + s->zbuf.len +
				 crypto_aead_xchacha20poly1305_ietf_ABYTES)))
		goto out;
	ct->data[0] = CL_PAYLOAD_VERSION;
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct->data + 1, &clen,
						   s->zbuf.data, s->zbuf.len,
						   payload_ad[CL_PAYLOAD_VERSION - 1], PAYLOAD_AD_LEN,
						   NULL, zero_nonce, key);
	ct->len = 1 + (size_t)clen;
out:
	if (s->zbuf.data)
		sodium_memzero(s->zbuf.data, s->zbuf.len);
	return rc;
}

int cl_sealer_prepare(struct cl_sealer *s, const struct cl_entry_in *in,
		      struct cl_prepared *p, char **err)
{
	int rc;

	if (!cl_kind_valid(in->kind))
		return cl_error(err, CL_EINVAL, "invalid entry kind");
	if (in->body_len > CL_LEAF_MAX_BODY)
		return cl_error(err, CL_EINVAL, "public body too large");
	p->type = in->type;
	memcpy(p->kind, in->kind, strlen(in->kind) + 1);
	p->sent_at = in->sent_at;
	p->received_at = in->received_at;
	p->body = in->body;
	p->body_len = in->body_len;
	p->has_key = in->key != NULL;
	memset(p->kh, 0, 32);
	p->has_ch = 0;
	if (p->has_key) {
		crypto_generichash(p->kh, 32, in->key, in->key_len, s->tag_key, 32);
		if (in->fp) {
			unsigned char h[32];

			crypto_generichash(h, 32, in->fp, in->fp_len, s->tag_key, 32);
			p->ch = (int64_t)cl_load_be64(h);
			p->has_ch = 1;
		}
	}
	if (in->conv_tag)
		memcpy(p->conv_tag, in->conv_tag, 32);
	else if (in->conv)
		crypto_generichash(p->conv_tag, 32, in->conv, in->conv_len, s->tag_key, 32);
	else
		cl_ledger_log_chain_tag(s->tag_key, p->conv_tag);
	p->has_payload = in->plaintext != NULL;
	memset(p->ct_hash, 0, 32);
	memset(p->pt_hash, 0, 32);
	cl_buf_reset(&p->ct);
	if (p->has_payload) {
		/* One draw for the key (32) and the salt (32). */
		unsigned char r[64];

		fresh_random(s, r, sizeof(r));
		memcpy(p->key, r, 32);
		rc = seal_payload(s, in->plaintext, in->plaintext_len, p->key, r + 32,
				  p->pt_hash, &p->ct, err);
		sodium_memzero(r, sizeof(r));
		if (rc)
			return rc;
		cl_sha256(p->ct.data, p->ct.len, p->ct_hash);
	}
	cl_buf_reset(&p->attrs);
	if (in->attrs && (rc = encode_attrs(s->tag_key, in->attrs, in->attrs_len, &p->attrs)))
		return cl_error(err, rc, "bad selector attributes");
	return CL_OK;
}

