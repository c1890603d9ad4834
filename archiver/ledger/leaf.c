/*
 * leaf.c - encode and decode log entries (see leaf.h for the layout).
 */
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

int cl_leaf_encode(const struct cl_leaf *l, struct cl_buf *out)
{
	size_t klen = strlen(l->kind);
	int rc;

	if (klen == 0 || klen > 32 || l->body_len > CL_LEAF_MAX_BODY)
		return CL_EINVAL;
	if ((rc = cl_buf_add_u8(out, l->version)) ||
	    (rc = cl_buf_add_u8(out, l->type)) ||
	    (rc = cl_buf_add_be64(out, l->index)) ||
	    (rc = cl_buf_add_be64(out, (uint64_t)l->sent_at)) ||
	    (rc = cl_buf_add_be64(out, (uint64_t)l->received_at)) ||
	    (rc = cl_buf_add_be64(out, (uint64_t)l->logged_at)) ||
	    (rc = cl_buf_add_u8(out, (uint8_t)klen)) ||
	    (rc = cl_buf_add(out, l->kind, klen)) ||
	    (rc = cl_buf_add(out, l->key_hash, 32)) ||
	    (rc = cl_buf_add(out, l->conv_tag, 32)) ||
	    (rc = cl_buf_add_be64(out, l->prev_index)) ||
	    (rc = cl_buf_add(out, l->prev_hash, 32)) ||
	    (rc = cl_buf_add(out, l->ct_hash, 32)) ||
	    (rc = cl_buf_add(out, l->pt_hash, 32)) ||
	    (rc = cl_buf_add(out, l->aux_hash, 32)) ||
	    (rc = cl_buf_add(out, l->ch_hash, 32)) ||
	    (rc = cl_buf_add_be32(out, l->body_len)) ||
	    (rc = cl_buf_add(out, l->body, l->body_len)))
		return rc;
	return CL_OK;
}

int cl_leaf_decode(const unsigned char *p, size_t len, struct cl_leaf *l,
		   char **err)
{
	size_t klen, off;

	memset(l, 0, sizeof(*l));
	if (len < CL_LEAF_FIXED + 1)
		return cl_error(err, CL_ECORRUPT, "leaf too short (%zu bytes)",
				len);
	l->version = p[0];
	l->type = p[1];
	if (l->version != CL_LEAF_VERSION)
		return cl_error(err, CL_ECORRUPT, "unknown leaf version %u",
				l->version);
	if (l->type < CL_ENTRY_RECORD || l->type > CL_ENTRY_QUARANTINE)
		return cl_error(err, CL_ECORRUPT, "unknown entry type %u",
				l->type);
	l->index = cl_load_be64(p + 2);
	l->sent_at = (int64_t)cl_load_be64(p + 10);
	l->received_at = (int64_t)cl_load_be64(p + 18);
	l->logged_at = (int64_t)cl_load_be64(p + 26);
	klen = p[34];
	if (klen == 0 || klen > 32 || len < CL_LEAF_FIXED + klen)
		return cl_error(err, CL_ECORRUPT, "bad kind length %zu", klen);
	memcpy(l->kind, p + 35, klen);
	l->kind[klen] = 0;
	if (!cl_kind_valid(l->kind))
		return cl_error(err, CL_ECORRUPT, "invalid kind");
	off = 35 + klen;
	memcpy(l->key_hash, p + off, 32);
	memcpy(l->conv_tag, p + off + 32, 32);
	l->prev_index = cl_load_be64(p + off + 64);
	memcpy(l->prev_hash, p + off + 72, 32);
	memcpy(l->ct_hash, p + off + 104, 32);
	memcpy(l->pt_hash, p + off + 136, 32);
	memcpy(l->aux_hash, p + off + 168, 32);
	memcpy(l->ch_hash, p + off + 200, 32);
	l->body_len = cl_load_be32(p + off + 232);
	if (l->body_len > CL_LEAF_MAX_BODY ||
	    len != CL_LEAF_FIXED + klen + l->body_len)
		return cl_error(err, CL_ECORRUPT,
				"leaf length %zu does not match its fields", len);
	l->body = p + off + 236;
	return CL_OK;
}

static void lp_update(struct cl_sha256_ctx *st, const unsigned char *p,
		      size_t n)
{
	unsigned char be[4];

	be[0] = (unsigned char)(n >> 24);
	be[1] = (unsigned char)(n >> 16);
	be[2] = (unsigned char)(n >> 8);
	be[3] = (unsigned char)n;
	cl_sha256_update(st, be, 4);
	if (n)
		cl_sha256_update(st, p, n);
}

void cl_leaf_aux_hash(const unsigned char *eph, size_t eph_len,
		      const unsigned char *wrapped, size_t wrapped_len,
		      const unsigned char *attrs, size_t attrs_len,
		      unsigned char out[32])
{
	struct cl_sha256_ctx st;
	unsigned char present = attrs != NULL;

	if (eph_len == 0 && wrapped_len == 0 && attrs == NULL) {
		memset(out, 0, 32);
		return;
	}
	cl_sha256_init(&st);
	cl_sha256_update(&st, (const unsigned char *)"chatledger/aux/v2", 17);
	lp_update(&st, eph, eph_len);
	lp_update(&st, wrapped, wrapped_len);
	cl_sha256_update(&st, &present, 1);
	lp_update(&st, attrs, attrs ? attrs_len : 0);
	cl_sha256_final(&st, out);
}

void cl_leaf_ch_hash(int has_ch, int64_t ch, unsigned char out[32])
{
	struct cl_sha256_ctx st;
	unsigned char be[8];

	if (!has_ch) {
		memset(out, 0, 32);
		return;
	}
	cl_store_be64(be, (uint64_t)ch);
	cl_sha256_init(&st);
	cl_sha256_update(&st, (const unsigned char *)"chatledger/ch/v2", 16);
	cl_sha256_update(&st, be, 8);
	cl_sha256_final(&st, out);
}

const char *cl_entry_type_name(int type)
{
	switch (type) {
	case CL_ENTRY_RECORD: return "record";
	case CL_ENTRY_TOMBSTONE: return "tombstone";
	case CL_ENTRY_COVERAGE: return "coverage";
	case CL_ENTRY_CONTROL: return "control";
	case CL_ENTRY_QUARANTINE: return "quarantine";
	default: return "unknown";
	}
}

int cl_kind_valid(const char *kind)
{
	size_t i, n = strlen(kind);

	if (n == 0 || n > CL_KIND_MAX || kind[0] < 'a' || kind[0] > 'z')
		return 0;
	for (i = 0; i < n; i++) {
		char c = kind[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
