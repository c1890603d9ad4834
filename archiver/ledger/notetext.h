/*
 * notetext.h - text helpers shared by note.c, checkpoint.c and proof.c:
 * the character rules of C2SP notes, strict decimal and hex, a line cursor,
 * canonical base64.  Internal to archiver/ledger/; not an API.
 */
#ifndef CL_NOTETEXT_H
#define CL_NOTETEXT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "common/buf.h"

#define EM_DASH_SP "\xe2\x80\x94 " /* U+2014 and a space */
#define EM_DASH_SP_LEN 4
#define SKEY_PREFIX "PRIVATE+KEY+"
#define SKEY_PREFIX_LEN 12
#define KEY_RAW_BYTES 33 /* type byte || 32-byte public key or seed */
#define KEY_B64_BYTES \
	sodium_base64_ENCODED_LEN(KEY_RAW_BYTES, sodium_base64_VARIANT_ORIGINAL)
#define SIG_BLOB_BYTES (4 + crypto_sign_BYTES)
#define HASH_B64_LEN 44 /* padded base64 of 32 bytes */

/* A cursor over newline-terminated lines. */
struct cl_nt_lines {
	const char *s;
	size_t len;
	size_t pos;
};

/* Shorten `b` to `len` bytes (len <= b->len), keeping the NUL invariant. */
void cl_nt_buf_truncate(struct cl_buf *b, size_t len);

/*
 * Make room for `n` more bytes in `b` without changing its content, so
 * that appending up to n bytes afterwards never reallocates (and never
 * leaves a copy of what is appended in freed memory).
 */
int cl_nt_buf_reserve(struct cl_buf *b, size_t n);

/*
 * 1 if s[0..n) is valid UTF-8 without ASCII control characters (below
 * U+0020) other than newline: the character set of a signed note.
 */
int cl_nt_text_valid(const char *s, size_t n);

/* Key-name rule of cl_note_name_valid for s[0..n). */
int cl_nt_name_valid_n(const char *s, size_t n);

/*
 * Parse s[0..n) as an ASCII decimal without leading zeros (except "0")
 * that fits in 64 bits.  -1 otherwise.
 */
int cl_nt_parse_u64(const char *s, size_t n, uint64_t *out);

/* Parse exactly 8 hex digits (either case) at s.  -1 otherwise. */
int cl_nt_parse_hex32(const char *s, uint32_t *out);

/*
 * Return in (*line, *n) the next line without its "\n" and step past it.
 * -1 at the end of the text or if the rest has no "\n".
 */
int cl_nt_next_line(struct cl_nt_lines *it, const char **line, size_t *n);

/*
 * 1 if s[0..n) uses only the standard base64 alphabet and '='.  Checked
 * before every decode: libsodium 1.0.18's decoder reads bytes >= 0x80 as
 * '/' where char is signed, so it alone would accept non-canonical text.
 */
int cl_nt_b64_alphabet(const char *s, size_t n);

/* cl_b64_decode of s[0..n), after the alphabet check; CL_EINVAL. */
int cl_nt_b64_decode(const char *s, size_t n, struct cl_buf *out);

/* 1 if line[0..n) starts with the NUL-terminated `prefix`. */
int cl_nt_has_prefix(const char *line, size_t n, const char *prefix);

/*
 * Decode s[0..n), padded base64 of exactly 32 bytes, into out.  CL_EINVAL
 * for anything else, CL_ENOMEM.
 */
int cl_nt_b64_hash(const char *s, size_t n, unsigned char out[32]);

/* Append base64 of each of `count` hashes, one per line. */
int cl_nt_add_hash_lines(struct cl_buf *out, const unsigned char (*h)[32],
			  size_t count);

/* A malloc'd NUL-terminated copy of s[0..n), or NULL. */
char *cl_nt_dup_n(const char *s, size_t n);

#endif
