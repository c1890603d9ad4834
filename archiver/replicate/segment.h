/*
 * segment.h - the objects replication writes (docs/FORMAT.md §12): a
 * segment (a range of entries with their ciphertexts and checkpoints,
 * WORM) and its key object (the erasable key rows and attrs, in the key
 * store).  Encoding appends to a cl_buf; decoding is strict and never
 * reads past the given bytes (fuzzed: tests/fuzz/fuzz_segment.c).
 */
#ifndef CL_SEGMENT_H
#define CL_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CL_SEG_MAGIC "CLSEGv1\n"
#define CL_KEYS_MAGIC "CLKEYv1\n"

/* Segment entry flags. */
#define CL_SEG_DEDUP 0x01u   /* dedup row present: kh follows */
#define CL_SEG_CH 0x02u      /* with DEDUP: ch non-NULL, follows */
#define CL_SEG_CT 0x04u      /* ciphertext present */
/* Key object row flags. */
#define CL_KEYS_KEY 0x01u    /* eph (32) and wrapped (48) follow */
#define CL_KEYS_ATTRS 0x02u  /* attrs follow */

/* Start a segment of entries [first, first+count). */
int cl_seg_begin(struct cl_buf *b, uint64_t first, uint64_t count);
int cl_seg_add_entry(struct cl_buf *b, const unsigned char *leaf, size_t leaf_len,
		     int has_dedup, int64_t kh, int has_ch, int64_t ch,
		     const unsigned char *ct, size_t ct_len);
/* After the entries: the checkpoints carried (count, then each). */
int cl_seg_add_checkpoints_count(struct cl_buf *b, uint32_t n);
int cl_seg_add_checkpoint(struct cl_buf *b, uint64_t size, int64_t created_at,
			  const char *note, size_t note_len);

int cl_keys_begin(struct cl_buf *b, uint64_t first, uint64_t count);
int cl_keys_add(struct cl_buf *b, uint64_t idx, const unsigned char *eph,
		const unsigned char *wrapped, const unsigned char *attrs, size_t attrs_len);

/* A decoded segment entry: pointers into the decoded bytes. */
struct cl_seg_entry {
	uint64_t idx;
	const unsigned char *leaf;
	size_t leaf_len;
	int has_dedup, has_ch;
	int64_t kh, ch;
	const unsigned char *ct;   /* NULL if none */
	size_t ct_len;
};
struct cl_seg_cp {
	uint64_t size;
	int64_t created_at;
	const char *note;          /* not NUL-terminated */
	size_t note_len;
};
struct cl_seg {
	uint64_t first, count;
	struct cl_seg_entry *e;    /* count of them */
	struct cl_seg_cp *cp;
	size_t n_cp;
};
/* Parse a segment strictly (entry indexes first.., checkpoint sizes
 * ascending within (first, first+count], or 0 in the first segment).
 * *s owns arrays only; release with cl_seg_release. */
int cl_seg_decode(const unsigned char *p, size_t len, struct cl_seg *s, char **err);
void cl_seg_release(struct cl_seg *s);

struct cl_keys_row {
	uint64_t idx;
	const unsigned char *eph, *wrapped; /* NULL without a key */
	const unsigned char *attrs;         /* NULL without attrs */
	size_t attrs_len;
};
struct cl_keys {
	uint64_t first, count;
	struct cl_keys_row *r;
	size_t n;
};
/* Parse a key object strictly (idx ascending inside the range). */
int cl_keys_decode(const unsigned char *p, size_t len, struct cl_keys *k, char **err);
void cl_keys_release(struct cl_keys *k);

#endif
