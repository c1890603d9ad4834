/*
 * merkle.h - the RFC 9162 (RFC 6962) Merkle tree over the archive's leaves.
 *
 * Hashing is SHA-256 with domain separation: a leaf is SHA-256(0x00||data),
 * an interior node SHA-256(0x01||left||right), the empty tree SHA-256("").
 * A tree of n > 1 leaves splits at k, the largest power of two below n;
 * odd nodes are promoted, never duplicated.
 *
 * Three parts:
 *   - a compact range (struct cl_merkle_range) that grows the tree one leaf
 *     at a time in O(log n) memory and reports every completed perfect
 *     subtree so that the store can keep those hashes;
 *   - proof generation from a struct cl_merkle_src (stored leaf hashes and
 *     stored perfect-subtree hashes), O(log n) lookups per proof;
 *   - proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2), which needs no
 *     store at all and checks the exact proof length first.
 *
 * Node coordinates: (level L, index i) is the perfect subtree covering
 * leaves [i*2^L, (i+1)*2^L); level 0 is a single leaf.
 */
#ifndef CL_MERKLE_H
#define CL_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define CL_MERKLE_HASHBYTES 32
#define CL_MERKLE_MAXPROOF 128 /* max proof elements we produce/accept */

typedef unsigned char cl_hash[CL_MERKLE_HASHBYTES];

/* ---- hashing -------------------------------------------------------- */

/* out = SHA-256(0x00 || data[0..len)).  data may be NULL when len is 0. */
void cl_merkle_leaf_hash(const unsigned char *data, size_t len, cl_hash out);

/* out = SHA-256(0x01 || left || right).  out may alias left or right. */
void cl_merkle_node_hash(const cl_hash left, const cl_hash right,
			 cl_hash out);

/* out = SHA-256("") = e3b0c442...b855, the root of the empty tree. */
void cl_merkle_empty_root(cl_hash out);

/* ---- compact range -------------------------------------------------- */

/*
 * Compact range: incremental tree over leaves [0, size).  hashes[] holds
 * the perfect subtree roots for each set bit of size, largest (leftmost)
 * first; count is the number of set bits of size.  Plain data: it may be
 * copied, saved and restored by the caller.
 */
struct cl_merkle_range {
	uint64_t size;
	unsigned count;
	cl_hash hashes[64];
};

/*
 * Called for each perfect subtree completed by an append: (level, index)
 * as above, hash its root.  A non-zero return stops the append and is
 * passed back to the caller of cl_merkle_range_append().
 */
typedef int (*cl_merkle_emit_fn)(void *ctx, unsigned level, uint64_t index,
				 const cl_hash hash);

/* Make r the empty range (size 0). */
void cl_merkle_range_init(struct cl_merkle_range *r);

/*
 * Append one leaf hash (leaf index r->size).  For every perfect subtree
 * completed by this append whose level >= min_level, lowest level first,
 * call emit(ctx, level, index, hash) if emit is not NULL.  The leaf itself
 * is the level-0 subtree.
 *
 * Returns CL_OK; the first non-zero return of emit, with r left unchanged
 * (the calls before it have happened, so emit should be idempotent if the
 * caller retries); CL_EINVAL if r is NULL, already holds 2^64-1 leaves,
 * or is inconsistent (count != popcount(size)).
 */
int cl_merkle_range_append(struct cl_merkle_range *r, const cl_hash leaf_hash,
			   cl_merkle_emit_fn emit, void *ctx,
			   unsigned min_level);

/*
 * out = RFC 9162 MTH of the leaves appended so far; the empty root for
 * size 0.  r is not modified.
 */
void cl_merkle_range_root(const struct cl_merkle_range *r, cl_hash out);

/* ---- proof generation from stored hashes ---------------------------- */

/*
 * A source of stored hashes, used to build proofs in O(log n) without all
 * leaves in memory.  Callbacks return CL_OK or a cl_status code, which is
 * passed back unchanged.
 */
struct cl_merkle_src {
	void *ctx;
	/*
	 * Fill out[count] with the leaf hashes [first, first+count).  count
	 * is never more than 2^node_level (and never more than 256).
	 */
	int (*leaf_hashes)(void *ctx, uint64_t first, uint64_t count,
			   cl_hash *out);
	/*
	 * Fill out with the stored perfect-subtree hash (level, index),
	 * level >= node_level.  May be NULL: then everything is computed
	 * from leaves.
	 */
	int (*node)(void *ctx, unsigned level, uint64_t index, cl_hash out);
	unsigned node_level; /* e.g. 8: perfect subtrees of 256+ leaves come
				from node() */
};

/*
 * out = MTH of leaves [begin, end), RFC 9162 shape (split at the largest
 * power of two < n); the empty root if begin == end.  Perfect aligned
 * subtrees with level >= node_level come from src->node; everything else
 * is computed from leaf hashes fetched in chunks of at most
 * min(2^node_level, 256).  For a range starting at 0, or aligned as in a
 * proof, that is O(log n) node() calls plus fewer than 2^node_level
 * leaves per ragged edge.
 *
 * Returns CL_OK; CL_EINVAL if src/leaf_hashes is NULL or begin > end; or
 * a callback's error.  out is written only on success.
 */
int cl_merkle_subtree_hash(const struct cl_merkle_src *src, uint64_t begin,
			   uint64_t end, cl_hash out);

/*
 * RFC 9162 §2.1.3.1 PATH(index, D[0:size]): the audit path, lowest
 * sibling first.  proof must have room for CL_MERKLE_MAXPROOF hashes (at
 * most 64 are written).  *count is set to 0 first and to the number of
 * elements on success; on failure the contents of proof are unspecified.
 *
 * Returns CL_OK; CL_EINVAL if index >= size or an argument is NULL; or a
 * callback's error.  Only leaves and nodes inside [0, size) are read.
 */
int cl_merkle_prove_inclusion(const struct cl_merkle_src *src, uint64_t index,
			      uint64_t size, cl_hash *proof, size_t *count);

/*
 * RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]): the consistency proof.
 * proof must have room for CL_MERKLE_MAXPROOF hashes (at most 65 are
 * written).  An empty proof when size1 == size2.  *count as above.
 *
 * Returns CL_OK; CL_EINVAL if size1 > size2, size1 == 0 or an argument is
 * NULL; or a callback's error.  Only leaves and nodes inside [0, size2)
 * are read.
 */
int cl_merkle_prove_consistency(const struct cl_merkle_src *src,
				uint64_t size1, uint64_t size2, cl_hash *proof,
				size_t *count);

/* ---- verification --------------------------------------------------- */

/*
 * RFC 9162 §2.1.3.2: does `proof` show that leaf_hash is leaf `index` of
 * the tree of `size` leaves with root `root`?  The proof must have exactly
 * inner + border elements (inner = bit length of index XOR (size-1),
 * border = popcount(index >> inner)).  proof may be NULL if count is 0.
 *
 * Returns CL_OK if valid; CL_ECORRUPT if the proof does not verify;
 * CL_EINVAL for impossible arguments (index >= size, wrong proof length,
 * NULL pointers).
 */
int cl_merkle_verify_inclusion(uint64_t index, uint64_t size,
			       const cl_hash leaf_hash, const cl_hash *proof,
			       size_t count, const cl_hash root)
	__attribute__((warn_unused_result));

/*
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of size1 leaves with
 * root1 is a prefix of the tree of size2 leaves with root2?  Edge cases as
 * in transparency-dev/merkle proof/verify.go: size1 == size2 needs an
 * empty proof and equal roots; size1 > size2 and size1 == 0 are rejected.
 * Otherwise the proof must have exactly the expected length.
 *
 * Returns CL_OK if valid; CL_ECORRUPT if the proof does not verify
 * (including equal sizes with different roots); CL_EINVAL for impossible
 * arguments (size1 == 0, size1 > size2, wrong proof length, NULL
 * pointers).
 */
int cl_merkle_verify_consistency(uint64_t size1, uint64_t size2,
				 const cl_hash root1, const cl_hash root2,
				 const cl_hash *proof, size_t count)
	__attribute__((warn_unused_result));

#endif
