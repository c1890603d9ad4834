/*
 * proof.h - offline proofs: C2SP tlog-proof (c2sp.org/tlog-proof@v1)
 * inclusion proofs and our own consistency-proof text.  Return values as
 * in note.h.
 */
#ifndef CL_PROOF_H
#define CL_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* tlog-proof and consistency-proof texts carry at most this many hashes. */
#define CL_PROOF_MAX_HASHES 128
#define CL_TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1"
#define CL_CONSISTENCY_PROOF_HEADER "chatledger-consistency-proof@v1"

/*
 * Append a C2SP tlog-proof:
 *
 *     c2sp.org/tlog-proof@v1
 *     extra <base64(extra)>        only if extra != NULL and extra_len > 0
 *     index <index>
 *     <base64(proof[0])>           `count` lines, leaf's sibling first
 *     ...
 *     <empty line>
 *     <signed checkpoint, verbatim>
 *
 * `count` is at most CL_PROOF_MAX_HASHES.  The signed checkpoint must be a
 * plausible note (valid note characters, first line non-empty, ending in
 * "\n"); its signatures are not checked here.
 */
int cl_tlog_proof_format(uint64_t index, const unsigned char (*proof)[32],
			 size_t count, const char *extra, size_t extra_len,
			 const char *signed_checkpoint, size_t cp_len,
			 struct cl_buf *out);

struct cl_tlog_proof {
	uint64_t index;
	size_t count;
	unsigned char (*proof)[32]; /* malloc'd; NULL when count is 0 */
	unsigned char *extra;       /* malloc'd; NULL when absent */
	size_t extra_len;
	char *checkpoint;           /* malloc'd, NUL-terminated */
	size_t checkpoint_len;
};

/*
 * Parse a tlog-proof (`len` bytes).  Strict: the exact header line; an
 * optional "extra " line with non-empty padded base64; "index " with a
 * decimal without leading zeros; 0..CL_PROOF_MAX_HASHES lines of padded
 * base64 of exactly 32 bytes; an empty line; then a non-empty checkpoint
 * (first line non-empty, ending in "\n"), copied verbatim and not
 * verified.  The whole text must be valid UTF-8 without control characters
 * but "\n".  On CL_OK *p is filled (free with cl_tlog_proof_release); on
 * failure *p is all zero.
 */
int cl_tlog_proof_parse(const char *text, size_t len,
			struct cl_tlog_proof *p, char **err);

/* Free everything *p owns and zero it.  Safe on a zeroed struct. */
void cl_tlog_proof_release(struct cl_tlog_proof *p);

/*
 * Our consistency-proof text (version 1), specified in docs/FORMAT.md:
 *
 *     chatledger-consistency-proof@v1
 *     old <old_size>
 *     new <new_size>
 *     <base64(proof[0])>           `count` lines (RFC 6962 / RFC 9162
 *     ...                           consistency proof order)
 *
 * Every line ends in "\n", there is nothing after the last hash line, the
 * sizes are decimal without leading zeros (except "0"), old_size <=
 * new_size, each hash is padded base64 of exactly 32 bytes and there are
 * at most CL_PROOF_MAX_HASHES of them.  The proof itself is checked by the
 * Merkle code, not here.
 */
int cl_consistency_proof_format(uint64_t old_size, uint64_t new_size,
				const unsigned char (*proof)[32], size_t count,
				struct cl_buf *out);

/*
 * Parse the text above.  On CL_OK sets the sizes, *count and *proof (a
 * malloc'd array of *count hashes the caller frees with free(); NULL when
 * *count is 0).  On failure the out-parameters are zero / NULL.
 */
int cl_consistency_proof_parse(const char *text, size_t len,
			       uint64_t *old_size, uint64_t *new_size,
			       unsigned char (**proof)[32], size_t *count,
			       char **err);

#endif
