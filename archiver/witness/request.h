/*
 * request.h - the C2SP tlog-witness add-checkpoint request body:
 *
 *     old <size>\n
 *     <base64 hash>\n            0..63 consistency proof lines
 *     \n
 *     <signed checkpoint note>
 *
 * Return values as in note.h.
 */
#ifndef CL_WREQUEST_H
#define CL_WREQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CL_WREQ_MAX_PROOF 63
#define CL_WREQ_MAX_BYTES (1u << 20) /* a request is at most 1 MiB */

struct cl_wreq {
	uint64_t old_size;
	size_t count;                           /* proof hashes */
	unsigned char proof[CL_WREQ_MAX_PROOF][32];
	const char *note;                       /* into the parsed text */
	size_t note_len;
};

/*
 * Parse a request body (`len` bytes).  Strict: "old " and a decimal
 * without leading zeros (except "0") that fits in 64 bits; each proof line
 * canonical padded base64 of exactly 32 bytes; at most 63 of them; an
 * empty line; then a non-empty note (checked by its own parser later).
 * CL_EINVAL with *err on anything else.
 */
int cl_wreq_parse(const char *body, size_t len, struct cl_wreq *r, char **err);

/* Append a request body to out. */
int cl_wreq_format(uint64_t old_size, const unsigned char (*proof)[32],
		   size_t count, const char *note, size_t note_len,
		   struct cl_buf *out);

/* Parse a 409 body: a decimal size and "\n".  CL_EINVAL otherwise. */
int cl_wreq_parse_size(const char *body, size_t len, uint64_t *size);

#endif
