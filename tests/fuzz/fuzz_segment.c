/*
 * fuzz_segment.c - fuzz target for the replica parsers
 * (archiver/replicate/segment.c, s3.c): segment objects, key objects and
 * S3 listing documents.  Every decoded pointer must lie inside the input;
 * a decoded segment re-encodes to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/replicate/s3.h"
#include "archiver/replicate/segment.h"
#include "common/buf.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const uint8_t *data, size_t size, const void *p, size_t n)
{
	const uint8_t *q = p;

	if (q && (q < data || q + n > data + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_seg s;
	struct cl_keys k;
	struct cl_s3_list l;
	char *n1 = NULL, *n2 = NULL;
	int trunc;
	size_t j;

	if (cl_seg_decode(data, size, &s, NULL) == CL_OK) {
		struct cl_buf b;
		uint64_t i;

		cl_buf_init(&b, size + 64);
		if (cl_seg_begin(&b, s.first, s.count))
			abort();
		for (i = 0; i < s.count; i++) {
			inside(data, size, s.e[i].leaf, s.e[i].leaf_len);
			inside(data, size, s.e[i].ct, s.e[i].ct_len);
			if (cl_seg_add_entry(&b, s.e[i].leaf, s.e[i].leaf_len, s.e[i].has_dedup,
					     s.e[i].kh, s.e[i].has_ch, s.e[i].ch, s.e[i].ct,
					     s.e[i].ct_len))
				abort();
		}
		if (cl_seg_add_checkpoints_count(&b, (uint32_t)s.n_cp))
			abort();
		for (j = 0; j < s.n_cp; j++) {
			inside(data, size, s.cp[j].note, s.cp[j].note_len);
			if (cl_seg_add_checkpoint(&b, s.cp[j].size, s.cp[j].created_at, s.cp[j].note,
						  s.cp[j].note_len))
				abort();
		}
		if (b.len != size || memcmp(b.data, data, size) != 0)
			abort();
		cl_buf_release(&b);
		cl_seg_release(&s);
	}
	if (cl_keys_decode(data, size, &k, NULL) == CL_OK) {
		for (j = 0; j < k.n; j++) {
			inside(data, size, k.r[j].eph, k.r[j].eph ? 32 : 0);
			inside(data, size, k.r[j].wrapped, k.r[j].wrapped ? 48 : 0);
			inside(data, size, k.r[j].attrs, k.r[j].attrs_len);
		}
		cl_keys_release(&k);
	}
	memset(&l, 0, sizeof(l));
	if (cl_s3_parse_listing(data, size, &l, &trunc, &n1, &n2, NULL) == CL_OK) {
		for (j = 0; j < l.n; j++)
			if (!l.v[j].key || !l.v[j].version_id)
				abort();
	}
	cl_s3_list_release(&l);
	free(n1);
	free(n2);
	return 0;
}
