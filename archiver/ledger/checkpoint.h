/*
 * checkpoint.h - C2SP tlog-checkpoint note bodies (c2sp.org/tlog-checkpoint):
 * "origin\nsize\nbase64(root)\n".  Signing and verifying the note around
 * them is note.h's job.  Return values as in note.h.
 */
#ifndef CL_CHECKPOINT_H
#define CL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct cl_checkpoint {
	char *origin; /* malloc'd, NUL-terminated */
	uint64_t size;
	unsigned char root[32];
};

/*
 * Append the checkpoint body "origin\nsize\nbase64(root)\n" to `out` (no
 * extension lines).  CL_EINVAL if the origin is empty or is not a valid
 * note line (UTF-8, no control character, no newline).
 */
int cl_checkpoint_format(const char *origin, uint64_t size,
			 const unsigned char root[32], struct cl_buf *out);

/*
 * Parse a checkpoint body, that is the text part of a signed note
 * (`len` bytes, ending in "\n").  Strict: a non-empty origin, a decimal
 * size without leading zeros (except "0") that fits in 64 bits, a root of
 * exactly 32 bytes in padded base64; extension lines are allowed, must be
 * non-empty and are ignored.  On CL_OK *cp is filled (cp->origin malloc'd,
 * free with cl_checkpoint_release); on failure *cp is all zero.
 */
int cl_checkpoint_parse(const char *text, size_t len,
			struct cl_checkpoint *cp, char **err);

/* Free cp->origin and zero *cp.  Safe on a zeroed struct. */
/*
 * The sealing public key a checkpoint body names (FORMAT.md §7.1, format
 * 2): its extension line "chatledger-seal " base64(32 bytes).  CL_OK with
 * pk set; CL_ENOTFOUND if the body has no such line; CL_EINVAL if it is
 * malformed or there are two.
 */
#define CL_SEAL_EXT "chatledger-seal "
int cl_checkpoint_seal_key(const char *text, size_t len, unsigned char pk[32]);

void cl_checkpoint_release(struct cl_checkpoint *cp);

#endif
