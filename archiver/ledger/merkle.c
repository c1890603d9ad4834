/*
 * merkle.c - RFC 9162 Merkle tree hashing, compact ranges, proof
 * generation from stored hashes, and proof verification.
 *
 * Written from RFC 9162 §2.1 (and the equivalent length decomposition
 * described in docs/research: inner + border elements).  No allocation:
 * the largest buffer is one chunk of CHUNK leaf hashes on the stack.
 */
#include <string.h>

#include "common/status.h"
#include "common/util.h"
#include "archiver/ledger/merkle.h"
#include "common/banned.h"

/* Most leaf hashes fetched per leaf_hashes() call (8 KiB on the stack). */
#define CHUNK 256u

/* ---- small bit helpers ---------------------------------------------- */

/* Number of bits needed to write x (0 for 0). */
static unsigned bit_len(uint64_t x)
{
	return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

static unsigned pop_count(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

/* Largest power of two strictly below n; n must be >= 2. */
static uint64_t split_point(uint64_t n)
{
	if (n < 2)
		return 1; /* not reached: callers split only ranges of >= 2 */
	return (uint64_t)1 << (bit_len(n - 1) - 1);
}

/* ---- hashing -------------------------------------------------------- */

void cl_merkle_leaf_hash(const unsigned char *data, size_t len, cl_hash out)
{
	static const unsigned char prefix = 0x00;

	cl_sha256_2(&prefix, 1, data, len, out);
}

void cl_merkle_node_hash(const cl_hash left, const cl_hash right,
			 cl_hash out)
{
	unsigned char head[1 + CL_MERKLE_HASHBYTES];
	cl_hash tmp;

	head[0] = 0x01;
	memcpy(head + 1, left, CL_MERKLE_HASHBYTES);
	cl_sha256_2(head, sizeof(head), right, CL_MERKLE_HASHBYTES, tmp);
	memcpy(out, tmp, CL_MERKLE_HASHBYTES);
}

void cl_merkle_empty_root(cl_hash out)
{
	cl_sha256_2(NULL, 0, NULL, 0, out);
}

/* ---- compact range -------------------------------------------------- */

void cl_merkle_range_init(struct cl_merkle_range *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Appending leaf p = r->size merges the new leaf with the trailing
 * perfect subtrees of r, one per trailing 1 bit of p.  The merged hashes
 * are built in `h` and r is only updated after every emit succeeded.
 */
int cl_merkle_range_append(struct cl_merkle_range *r, const cl_hash leaf_hash,
			   cl_merkle_emit_fn emit, void *ctx,
			   unsigned min_level)
{
	int rc = CL_OK;
	uint64_t pos;
	unsigned level = 0, used;
	cl_hash h;

	if (r == NULL || leaf_hash == NULL || r->size == UINT64_MAX ||
	    r->count != pop_count(r->size)) {
		rc = CL_EINVAL;
		goto out;
	}
	pos = r->size;
	used = r->count;
	memcpy(h, leaf_hash, CL_MERKLE_HASHBYTES);
	for (;;) {
		if (emit != NULL && level >= min_level) {
			rc = emit(ctx, level, pos >> level, h);
			if (rc != CL_OK)
				goto out;
		}
		if (((pos >> level) & 1u) == 0)
			break;
		/* Left sibling at this level is the last stored subtree. */
		used--;
		cl_merkle_node_hash(r->hashes[used], h, h);
		level++;
	}
	memcpy(r->hashes[used], h, CL_MERKLE_HASHBYTES);
	r->count = used + 1;
	r->size = pos + 1;
out:
	return rc;
}

void cl_merkle_range_root(const struct cl_merkle_range *r, cl_hash out)
{
	cl_hash acc;
	unsigned i;

	if (r->count == 0) {
		cl_merkle_empty_root(out);
		return;
	}
	memcpy(acc, r->hashes[r->count - 1], CL_MERKLE_HASHBYTES);
	for (i = r->count - 1; i-- > 0;)
		cl_merkle_node_hash(r->hashes[i], acc, acc);
	memcpy(out, acc, CL_MERKLE_HASHBYTES);
}

/* ---- subtree hashes from a source ----------------------------------- */

/* Leaves that may be fetched at once: min(2^node_level, CHUNK). */
static uint64_t chunk_limit(const struct cl_merkle_src *src)
{
	if (src->node_level >= 8)
		return CHUNK;
	return (uint64_t)1 << src->node_level;
}

/*
 * MTH of [begin, end) from leaves alone: stream the leaf hashes, in
 * chunks, through a compact range whose root is the MTH of the sequence.
 */
static int hash_from_leaves(const struct cl_merkle_src *src, uint64_t begin,
			    uint64_t end, cl_hash out)
{
	int rc = CL_OK;
	struct cl_merkle_range range;
	cl_hash buf[CHUNK];
	uint64_t limit = chunk_limit(src), at = begin;

	cl_merkle_range_init(&range);
	while (at < end) {
		uint64_t n = end - at < limit ? end - at : limit;
		uint64_t i;

		rc = src->leaf_hashes(src->ctx, at, n, buf);
		if (rc != CL_OK)
			goto out;
		for (i = 0; i < n; i++) {
			rc = cl_merkle_range_append(&range, buf[i], NULL, NULL,
						    0);
			if (rc != CL_OK)
				goto out;
		}
		at += n;
	}
	cl_merkle_range_root(&range, out);
out:
	return rc;
}

/*
 * The recursion behind cl_merkle_subtree_hash().  Depth is at most 64:
 * each step at least halves the range.
 */
static int subtree(const struct cl_merkle_src *src, uint64_t begin,
		   uint64_t end, cl_hash out)
{
	int rc = CL_OK;
	uint64_t n = end - begin, k;
	cl_hash left, right;

	if (src->node != NULL && n != 0 && (n & (n - 1)) == 0 && (begin & (n - 1)) == 0) {
		unsigned level = bit_len(n) - 1;

		if (level >= src->node_level) {
			rc = src->node(src->ctx, level, begin >> level, out);
			goto out;
		}
	}
	if (src->node == NULL || src->node_level >= 64 ||
	    n <= (uint64_t)1 << src->node_level) {
		rc = hash_from_leaves(src, begin, end, out);
		goto out;
	}
	k = split_point(n);
	rc = subtree(src, begin, begin + k, left);
	if (rc != CL_OK)
		goto out;
	rc = subtree(src, begin + k, end, right);
	if (rc != CL_OK)
		goto out;
	cl_merkle_node_hash(left, right, out);
out:
	return rc;
}

int cl_merkle_subtree_hash(const struct cl_merkle_src *src, uint64_t begin,
			   uint64_t end, cl_hash out)
{
	int rc = CL_OK;
	cl_hash h;

	if (src == NULL || src->leaf_hashes == NULL || out == NULL ||
	    begin > end) {
		rc = CL_EINVAL;
		goto out;
	}
	if (begin == end) {
		cl_merkle_empty_root(out);
		goto out;
	}
	rc = subtree(src, begin, end, h);
	if (rc != CL_OK)
		goto out;
	memcpy(out, h, CL_MERKLE_HASHBYTES);
out:
	return rc;
}

/* ---- proof generation ----------------------------------------------- */

/*
 * Both proofs are built by walking from the root down the RFC 9162 split
 * and noting the sibling range at each step; the proof lists them bottom
 * up, so they are hashed in reverse order of discovery.
 */
struct sibling {
	uint64_t begin, end;
};

static int emit_siblings(const struct cl_merkle_src *src,
			 const struct sibling *sib, size_t nsib,
			 cl_hash *proof, size_t at)
{
	int rc = CL_OK;
	size_t i;

	for (i = nsib; i-- > 0;) {
		rc = subtree(src, sib[i].begin, sib[i].end, proof[at++]);
		if (rc != CL_OK)
			goto out;
	}
out:
	return rc;
}

int cl_merkle_prove_inclusion(const struct cl_merkle_src *src, uint64_t index,
			      uint64_t size, cl_hash *proof, size_t *count)
{
	int rc = CL_OK;
	struct sibling sib[64];
	size_t nsib = 0;
	uint64_t begin = 0, end = size;

	if (count != NULL)
		*count = 0;
	if (src == NULL || src->leaf_hashes == NULL || proof == NULL ||
	    count == NULL || index >= size) {
		rc = CL_EINVAL;
		goto out;
	}
	while (end - begin > 1) {
		uint64_t k = split_point(end - begin);

		if (index < begin + k) {
			sib[nsib].begin = begin + k;
			sib[nsib].end = end;
			end = begin + k;
		} else {
			sib[nsib].begin = begin;
			sib[nsib].end = begin + k;
			begin += k;
		}
		nsib++;
	}
	rc = emit_siblings(src, sib, nsib, proof, 0);
	if (rc != CL_OK)
		goto out;
	*count = nsib;
out:
	return rc;
}

/*
 * SUBPROOF(m, D[begin:end], b) unrolled: while m is not the whole range,
 * go left (m <= k) or right (m > k, and b becomes false).  When the walk
 * stops, MTH(D[begin:end]) leads the proof unless b is still true, i.e.
 * unless the old tree is itself a node on the left edge that the
 * verifier already holds as root1.
 */
int cl_merkle_prove_consistency(const struct cl_merkle_src *src,
				uint64_t size1, uint64_t size2, cl_hash *proof,
				size_t *count)
{
	int rc = CL_OK;
	struct sibling sib[64];
	size_t nsib = 0, at = 0;
	uint64_t begin = 0, end = size2, m = size1;
	int whole = 1;

	if (count != NULL)
		*count = 0;
	if (src == NULL || src->leaf_hashes == NULL || proof == NULL ||
	    count == NULL || size1 == 0 || size1 > size2) {
		rc = CL_EINVAL;
		goto out;
	}
	if (size1 == size2)
		goto out;
	while (m != end - begin) {
		uint64_t k = split_point(end - begin);

		if (m <= k) {
			sib[nsib].begin = begin + k;
			sib[nsib].end = end;
			end = begin + k;
		} else {
			sib[nsib].begin = begin;
			sib[nsib].end = begin + k;
			begin += k;
			m -= k;
			whole = 0;
		}
		nsib++;
	}
	if (!whole) {
		rc = subtree(src, begin, end, proof[at]);
		if (rc != CL_OK)
			goto out;
		at++;
	}
	rc = emit_siblings(src, sib, nsib, proof, at);
	if (rc != CL_OK)
		goto out;
	*count = at + nsib;
out:
	return rc;
}

/* ---- verification --------------------------------------------------- */

static int hash_eq(const cl_hash a, const cl_hash b)
{
	return memcmp(a, b, CL_MERKLE_HASHBYTES) == 0;
}

/* Shift fn and sn right together until fn is odd or zero. */
static void shift_to_odd(uint64_t *fn, uint64_t *sn)
{
	while (*fn != 0 && (*fn & 1u) == 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int cl_merkle_verify_inclusion(uint64_t index, uint64_t size,
			       const cl_hash leaf_hash, const cl_hash *proof,
			       size_t count, const cl_hash root)
{
	int rc = CL_OK;
	uint64_t fn, sn;
	unsigned inner, border;
	cl_hash r;
	size_t i;

	if (leaf_hash == NULL || root == NULL || (proof == NULL && count) ||
	    index >= size) {
		rc = CL_EINVAL;
		goto out;
	}
	inner = bit_len(index ^ (size - 1));
	border = pop_count(inner < 64 ? index >> inner : 0);
	if (count != (size_t)inner + border) {
		rc = CL_EINVAL;
		goto out;
	}
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, CL_MERKLE_HASHBYTES);
	for (i = 0; i < count; i++) {
		if (sn == 0) {
			rc = CL_ECORRUPT;
			goto out;
		}
		if ((fn & 1u) || fn == sn) {
			cl_merkle_node_hash(proof[i], r, r);
			shift_to_odd(&fn, &sn);
		} else {
			cl_merkle_node_hash(r, proof[i], r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_eq(r, root))
		rc = CL_ECORRUPT;
out:
	return rc;
}

int cl_merkle_verify_consistency(uint64_t size1, uint64_t size2,
				 const cl_hash root1, const cl_hash root2,
				 const cl_hash *proof, size_t count)
{
	int rc = CL_OK;
	uint64_t fn, sn;
	unsigned shift, inner, border;
	size_t start, i;
	cl_hash fr, sr;

	if (root1 == NULL || root2 == NULL || (proof == NULL && count) ||
	    size1 == 0 || size1 > size2) {
		rc = CL_EINVAL;
		goto out;
	}
	if (size1 == size2) {
		if (count != 0)
			rc = CL_EINVAL;
		else if (!hash_eq(root1, root2))
			rc = CL_ECORRUPT;
		goto out;
	}
	/*
	 * Expected length: the inclusion-style path of leaf size1-1 in the
	 * tree of size2, minus the levels where size1-1 ends in 1 bits (those
	 * nodes are inside the old tree), plus a leading MTH(old subtree)
	 * unless size1 is a power of two (then that subtree is root1).
	 */
	shift = (unsigned)__builtin_ctzll(size1);
	inner = bit_len((size1 - 1) ^ (size2 - 1));
	border = pop_count(inner < 64 ? (size1 - 1) >> inner : 0);
	inner -= shift;
	start = (size1 == (uint64_t)1 << shift) ? 0 : 1;
	if (count != start + inner + border || (count > 0 && proof == NULL)) {
		rc = CL_EINVAL;
		goto out;
	}
	fn = (size1 - 1) >> shift;
	sn = (size2 - 1) >> shift;
	if (start == 0) {
		memcpy(fr, root1, CL_MERKLE_HASHBYTES);
	} else if (count > 0 && proof != NULL) {
		memcpy(fr, proof[0], CL_MERKLE_HASHBYTES);
	} else {
		rc = CL_EINVAL;
		goto out;
	}
	memcpy(sr, fr, CL_MERKLE_HASHBYTES);
	for (i = start; i < count; i++) {
		if (sn == 0) {
			rc = CL_ECORRUPT;
			goto out;
		}
		if ((fn & 1u) || fn == sn) {
			cl_merkle_node_hash(proof[i], fr, fr);
			cl_merkle_node_hash(proof[i], sr, sr);
			shift_to_odd(&fn, &sn);
		} else {
			cl_merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_eq(fr, root1) || !hash_eq(sr, root2))
		rc = CL_ECORRUPT;
out:
	return rc;
}
