/*
 * fuzz_merkle_proof.c - feeds arbitrary (index, size, hashes, proof) to
 * cl_merkle_verify_inclusion() and cl_merkle_verify_consistency().
 *
 * Input layout:
 *   byte 0        flags: bit 0 set = sizes are 1 byte each (small trees,
 *                 where valid proofs are reachable), else 8 bytes each,
 *                 big-endian
 *   a, b          index/size1 and size/size2
 *   32 bytes      leaf hash
 *   32 bytes      root (inclusion) / root1 (consistency)
 *   32 bytes      root2 (consistency)
 *   rest          proof elements, 32 bytes each (a trailing partial
 *                 element is ignored; any count is passed through)
 *
 * Besides "never crash", a few contract checks abort on violation: the
 * result is always CL_OK, CL_EINVAL or CL_ECORRUPT, and CL_OK only for a
 * possible statement.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "archiver/ledger/merkle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t load_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static int known_result(int rc)
{
	return rc == CL_OK || rc == CL_EINVAL || rc == CL_ECORRUPT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *leaf, *root1, *root2;
	cl_hash *proof = NULL;
	size_t w, off, count;
	uint64_t a, b;
	int rc;

	if (size < 1)
		return 0;
	w = (data[0] & 1u) ? 1 : 8;
	off = 1 + 2 * w;
	if (size < off + 3 * CL_MERKLE_HASHBYTES)
		return 0;
	a = load_be(data + 1, w);
	b = load_be(data + 1 + w, w);
	leaf = data + off;
	root1 = leaf + CL_MERKLE_HASHBYTES;
	root2 = root1 + CL_MERKLE_HASHBYTES;
	off += 3 * CL_MERKLE_HASHBYTES;
	count = (size - off) / CL_MERKLE_HASHBYTES;
	/* an exact-size heap copy, so ASan sees any read past the end */
	if (count) {
		proof = malloc(count * sizeof(cl_hash));
		if (proof == NULL)
			return 0;
		memcpy(proof, data + off, count * sizeof(cl_hash));
	}

	rc = cl_merkle_verify_inclusion(a, b, leaf, (const cl_hash *)proof,
					count, root1);
	if (!known_result(rc) ||
	    (rc == CL_OK && (a >= b || count > CL_MERKLE_MAXPROOF)))
		abort();

	rc = cl_merkle_verify_consistency(a, b, root1, root2,
					  (const cl_hash *)proof, count);
	if (!known_result(rc) ||
	    (rc == CL_OK && (a == 0 || a > b || count > CL_MERKLE_MAXPROOF ||
			     (a == b && (count != 0 ||
					 memcmp(root1, root2,
						CL_MERKLE_HASHBYTES) != 0)))))
		abort();
	free(proof);
	return 0;
}
