/*
 * fuzz_witness_request.c - fuzz target for the tlog-witness add-checkpoint
 * request parser (archiver/witness/request.c) and the 409 size parser.
 * Whatever parses must re-format to the same bytes; a mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/witness/request.h"
#include "common/buf.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_wreq *r = malloc(sizeof(*r));
	struct cl_buf b;
	char *err = NULL;
	uint64_t n;

	if (r == NULL)
		return 0;
	if (cl_wreq_parse((const char *)data, size, r, &err) == CL_OK) {
		cl_buf_init(&b, 2u << 20);
		if (err != NULL || r->count > CL_WREQ_MAX_PROOF ||
		    cl_wreq_format(r->old_size, (const unsigned char (*)[32])r->proof,
				   r->count, r->note, r->note_len, &b) != CL_OK ||
		    b.len != size || memcmp(b.data, data, size) != 0)
			abort();
		cl_buf_release(&b);
	} else if (err == NULL) {
		abort(); /* every failure explains itself */
	}
	free(err);
	free(r);
	(void)cl_wreq_parse_size((const char *)data, size, &n);
	return 0;
}
