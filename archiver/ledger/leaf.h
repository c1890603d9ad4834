/*
 * leaf.h - the byte format of a log entry (a "leaf"), docs/FORMAT.md §3.
 *
 * The leaf is what the Merkle tree commits to: leaf hash =
 * SHA-256(0x00 || leaf bytes).  All integers are big-endian.
 *
 *   off  size  field
 *   0    1     version (1)
 *   1    1     entry type (CL_ENTRY_*)
 *   2    8     index (u64): position in the log
 *   10   8     sent_at (i64 ms since epoch UTC; INT64_MIN = none)
 *   18   8     received_at (i64 ms; INT64_MIN = none)
 *   26   8     logged_at (i64 ms): when the archive appended it
 *   34   1     K = kind length (1..32)
 *   35   K     kind (ASCII [a-z0-9_-])
 *   +0   32    key hash: keyed BLAKE2b-256 of the source message key (0 = none)
 *   +32  32    conversation tag: keyed BLAKE2b-256 of the conversation
 *   +64  8     chain previous index (u64; 0xffffffffffffffff = first)
 *   +72  32    chain previous leaf hash (zero when first)
 *   +104 32    SHA-256 of the stored ciphertext (zero = no payload)
 *   +136 32    SHA-256(salt || canonical plaintext) (zero = no payload)
 *   +168 32    aux hash: commits to the payload's batch key, wrapped key
 *              and selector attributes (cl_leaf_aux_hash; zero = none)
 *   +200 32    content-fingerprint hash: commits to dedup.ch
 *              (cl_leaf_ch_hash; zero = none)
 *   +232 4     B = public body length (u32, <= 65536)
 *   +236 B     public body: canonical JSON without personal data, or empty
 */
#ifndef CL_LEAF_H
#define CL_LEAF_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CL_LEAF_VERSION 2
#define CL_LEAF_NOPREV UINT64_MAX
#define CL_LEAF_MAX_BODY 65536u
#define CL_KIND_MAX 32u          /* an entry kind: 1-32 of [a-z0-9_-] */
#define CL_LEAF_FIXED 271u /* 35 + 236: bytes besides kind and body */

enum cl_entry_type {
	CL_ENTRY_RECORD = 1,     /* a message or event from a source */
	CL_ENTRY_TOMBSTONE = 2,  /* a record's payload was erased */
	CL_ENTRY_COVERAGE = 3,   /* a gap, disconnect, failure: nothing silent */
	CL_ENTRY_CONTROL = 4,    /* holds, lifecycle events, policy changes */
	CL_ENTRY_QUARANTINE = 5  /* a bad input item, sealed, with its reason */
};

struct cl_leaf {
	uint8_t version;
	uint8_t type;
	uint64_t index;
	int64_t sent_at, received_at, logged_at;
	char kind[CL_KIND_MAX + 1];
	unsigned char key_hash[32];
	unsigned char conv_tag[32];
	uint64_t prev_index;
	unsigned char prev_hash[32];
	unsigned char ct_hash[32];
	unsigned char pt_hash[32];
	unsigned char aux_hash[32];
	unsigned char ch_hash[32];
	const unsigned char *body; /* points into the parsed bytes */
	uint32_t body_len;
};

/* Append the encoding of `l` to `out`. */
int cl_leaf_encode(const struct cl_leaf *l, struct cl_buf *out);

/* Parse `len` bytes strictly (exact length, known version and type, valid
 * kind); body points into `p`.  CL_ECORRUPT with *err on failure. */
int cl_leaf_decode(const unsigned char *p, size_t len, struct cl_leaf *l,
		   char **err);

/*
 * The aux hash (FORMAT.md §3): 32 zero bytes when the entry has neither a
 * payload nor selector attributes, else SHA-256("chatledger/aux/v2" ||
 * lp(eph) || lp(wrapped) || u8(attrs present) || lp(attrs)), lp(x) =
 * be32(len) || x; eph and wrapped are empty without a payload, attrs
 * empty when absent (attrs == NULL).
 */
void cl_leaf_aux_hash(const unsigned char *eph, size_t eph_len,
		      const unsigned char *wrapped, size_t wrapped_len,
		      const unsigned char *attrs, size_t attrs_len,
		      unsigned char out[32]);
/* The ch hash: 32 zero bytes without a fingerprint (has_ch 0), else
 * SHA-256("chatledger/ch/v2" || be64(ch)). */
void cl_leaf_ch_hash(int has_ch, int64_t ch, unsigned char out[32]);

const char *cl_entry_type_name(int type);

/* A kind is 1-32 chars of [a-z0-9_-], starting with a letter. */
int cl_kind_valid(const char *kind);

#endif
