/*
 * fuzz_wa_frame.c - the WhatsApp frame reader on arbitrary streams.  Byte
 * 0 picks the mode: bit 0 expects the client prologue, bits 1-3 the frame
 * size limit (0: 2^24-1, k: 16 << 2k), bits 4-7 how the rest is cut into
 * chunks.  Fed whole or in chunks, the reader must deliver the same frames
 * and end in the same state; each frame is also unpacked and decoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/frame.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	struct cl_buf all;  /* each frame as a 4-byte length, then its bytes */
	size_t n;
};

static int on_frame(void *ctx, const unsigned char *p, size_t len)
{
	struct seen *s = ctx;
	struct cl_buf body;
	struct cl_wa_node *node = NULL;
	char *err = NULL;

	if (cl_buf_add_be32(&s->all, (uint32_t)len) != CL_OK ||
	    cl_buf_add(&s->all, p, len) != CL_OK)
		abort();
	s->n++;
	cl_buf_init(&body, 1u << 20);
	if (cl_wa_frame_unpack(p, len, &body, &err) == CL_OK &&
	    cl_wa_node_decode(body.data, body.len, &node, &err) == CL_OK)
		cl_wa_node_free(node);
	cl_buf_release(&body);
	free(err);
	return 0;
}

static int run(const uint8_t *p, size_t len, unsigned mode, int chunked,
	       struct seen *s, int *idle)
{
	struct cl_wa_frame_reader r;
	unsigned code = (mode >> 1) & 7, step = (mode >> 4) + 1;
	size_t max = code ? (size_t)16 << (2 * code) : 0, at = 0;
	char *err = NULL;
	int rc = CL_OK;

	cl_buf_init(&s->all, 64u << 20);
	s->n = 0;
	cl_wa_frame_reader_init(&r, max,
				mode & 1 ? CL_WA_FRAME_EXPECT_PROLOGUE : 0);
	while (rc == CL_OK && at < len) {
		size_t take = chunked ? step : len - at;

		if (take > len - at)
			take = len - at;
		rc = cl_wa_frame_reader_feed(&r, p + at, take, on_frame, s, &err);
		at += take;
		step = step * 5 % 23 + 1 + (unsigned)(at % 3);
	}
	*idle = cl_wa_frame_reader_idle(&r);
	cl_wa_frame_reader_release(&r);
	free(err);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen a, b;
	int rca, rcb, ia, ib;

	if (size == 0)
		return 0;
	rca = run(data + 1, size - 1, data[0], 0, &a, &ia);
	rcb = run(data + 1, size - 1, data[0], 1, &b, &ib);
	if (rca != rcb || ia != ib || a.n != b.n || a.all.len != b.all.len ||
	    (a.all.len && memcmp(a.all.data, b.all.data, a.all.len) != 0))
		abort();
	cl_buf_release(&a.all);
	cl_buf_release(&b.all);
	return 0;
}
