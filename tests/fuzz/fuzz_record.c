/*
 * fuzz_record.c - the record normaliser, the RFC 3339 parser and the leaf
 * decoder on arbitrary bytes.  A record that parses must re-parse from
 * its canonical bytes to the same canonical bytes and key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ingest/record.h"
#include "common/status.h"
#include "common/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_record r, r2;
	struct cl_leaf lf;
	char *err = NULL;
	int64_t ms;

	if (cl_record_parse((const char *)data, size, &r, &err) == CL_OK) {
		char *e2 = NULL;

		if (cl_record_parse(r.canonical, r.canonical_len, &r2, &e2) != CL_OK ||
		    r2.canonical_len != r.canonical_len ||
		    memcmp(r2.canonical, r.canonical, r.canonical_len) != 0 ||
		    r2.key_len != r.key_len || memcmp(r2.key, r.key, r.key_len) != 0)
			abort();
		cl_record_release(&r2);
		free(e2);
	}
	cl_record_release(&r);
	free(err);
	err = NULL;
	(void)cl_time_parse((const char *)data, size, &ms);
	(void)cl_leaf_decode(data, size, &lf, &err);
	free(err);
	return 0;
}
