/*
 * fuzz_tlog_proof.c - fuzz target for the offline proof parsers
 * (archiver/ledger/note.c): C2SP tlog-proof and our consistency-proof text.
 *
 * Both formats are canonical, so whatever parses must format back to the
 * exact input; a mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "common/buf.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_tlog_proof(const char *s, size_t size)
{
	struct cl_tlog_proof p;
	struct cl_buf b;
	char *err = NULL;

	if (cl_tlog_proof_parse(s, size, &p, &err) == CL_OK) {
		cl_buf_init(&b, size + 1);
		if (err != NULL || p.count > CL_PROOF_MAX_HASHES ||
		    cl_tlog_proof_format(p.index,
					 (const unsigned char (*)[32])p.proof,
					 p.count, (const char *)p.extra,
					 p.extra_len, p.checkpoint,
					 p.checkpoint_len, &b) != CL_OK ||
		    b.len != size || memcmp(b.data, s, size) != 0)
			abort();
		cl_buf_release(&b);
		cl_tlog_proof_release(&p);
	} else if (err == NULL || p.proof != NULL || p.checkpoint != NULL ||
		   p.extra != NULL) {
		abort();
	}
	free(err);
}

static void try_consistency(const char *s, size_t size)
{
	unsigned char (*proof)[32] = NULL;
	uint64_t o = 0, m = 0;
	size_t count = 0;
	struct cl_buf b;
	char *err = NULL;

	if (cl_consistency_proof_parse(s, size, &o, &m, &proof, &count,
				       &err) == CL_OK) {
		cl_buf_init(&b, size + 1);
		if (o > m || count > CL_PROOF_MAX_HASHES ||
		    cl_consistency_proof_format(o, m,
						(const unsigned char (*)[32])proof,
						count, &b) != CL_OK ||
		    b.len != size || memcmp(b.data, s, size) != 0)
			abort();
		cl_buf_release(&b);
	} else if (err == NULL || proof != NULL || count != 0) {
		abort();
	}
	free(proof);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;

	try_tlog_proof(s, size);
	try_consistency(s, size);
	return 0;
}
