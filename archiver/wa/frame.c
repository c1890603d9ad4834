/*
 * frame.c - WhatsApp transport framing: the prologue and 3-byte
 * big-endian length-prefixed frames, read incrementally from chunks of
 * any size.
 */
#include <string.h>

#include "frame.h"
#include "tokens.h"
#include "common/status.h"
#include "common/banned.h"

const unsigned char cl_wa_prologue[CL_WA_PROLOGUE_LEN] = {
	'W', 'A', CL_WA_PROLOGUE_MAGIC, CL_WA_DICT_VERSION
};

/* ---- writer ------------------------------------------------------------ */

void cl_wa_frame_writer_init(struct cl_wa_frame_writer *w)
{
	w->prologue_sent = 0;
}

int cl_wa_frame_write(struct cl_wa_frame_writer *w, struct cl_buf *out,
		      const void *payload, size_t len, char **err)
{
	unsigned char hdr[CL_WA_PROLOGUE_LEN + 3];
	size_t h = 0, before = out->len;
	int rc;

	if (len > CL_WA_FRAME_MAX)
		return cl_error(err, CL_EINVAL,
				"wa frame: payload of %zu bytes exceeds %u", len,
				CL_WA_FRAME_MAX);
	if (!w->prologue_sent) {
		memcpy(hdr, cl_wa_prologue, CL_WA_PROLOGUE_LEN);
		h = CL_WA_PROLOGUE_LEN;
	}
	hdr[h++] = (unsigned char)(len >> 16);
	hdr[h++] = (unsigned char)(len >> 8);
	hdr[h++] = (unsigned char)len;
	rc = cl_buf_reserve(out, h + len);
	if (rc == CL_OK)
		rc = cl_buf_add(out, hdr, h);
	if (rc == CL_OK)
		rc = cl_buf_add(out, payload, len);
	if (rc) {
		out->len = before;
		if (out->data)
			out->data[before] = 0;
		if (rc == CL_ETOOBIG)
			return cl_error(err, rc, "wa frame: output exceeds %zu bytes",
					out->max);
		return rc;
	}
	w->prologue_sent = 1;
	return CL_OK;
}

/* ---- reader ------------------------------------------------------------ */

void cl_wa_frame_reader_init(struct cl_wa_frame_reader *r, size_t max_frame,
			     unsigned flags)
{
	memset(r, 0, sizeof(*r));
	if (max_frame == 0 || max_frame > CL_WA_FRAME_MAX)
		max_frame = CL_WA_FRAME_MAX;
	r->max_frame = max_frame;
	r->flags = flags;
	cl_buf_init(&r->partial, max_frame);
}

void cl_wa_frame_reader_release(struct cl_wa_frame_reader *r)
{
	cl_buf_release(&r->partial);
	r->len_have = 0;
	r->need = 0;
}

int cl_wa_frame_reader_idle(const struct cl_wa_frame_reader *r)
{
	return !r->broken && r->len_have == 0 &&
	       (!(r->flags & CL_WA_FRAME_EXPECT_PROLOGUE) ||
		r->prologue_have == 0 || r->prologue_have == CL_WA_PROLOGUE_LEN);
}

static int fail(struct cl_wa_frame_reader *r, int rc)
{
	r->broken = 1;
	cl_buf_reset(&r->partial);
	return rc;
}

/* Hand a complete frame to fn and get ready for the next header. */
static int deliver(struct cl_wa_frame_reader *r, const unsigned char *p,
		   size_t n, cl_wa_frame_fn fn, void *ctx)
{
	int rc;

	r->len_have = 0;
	r->need = 0;
	r->frames++;
	rc = fn(ctx, p, n);
	cl_buf_reset(&r->partial);
	return rc;
}

int cl_wa_frame_reader_feed(struct cl_wa_frame_reader *r, const void *data,
			    size_t len, cl_wa_frame_fn fn, void *ctx,
			    char **err)
{
	const unsigned char *p = data;
	size_t take;
	int rc;

	if (r->broken)
		return cl_error(err, CL_EINVAL,
				"wa frame: reader stopped after an earlier error");
	while (len) {
		/* The client's prologue, byte by byte. */
		if ((r->flags & CL_WA_FRAME_EXPECT_PROLOGUE) &&
		    r->prologue_have < CL_WA_PROLOGUE_LEN) {
			if (*p != cl_wa_prologue[r->prologue_have])
				return fail(r, cl_error(err, CL_EINVAL,
					"wa frame: bad prologue byte %zu (0x%02x)",
					r->prologue_have, *p));
			r->prologue_have++;
			p++;
			len--;
			continue;
		}
		/* The 3-byte length. */
		if (r->len_have < 3) {
			r->lenb[r->len_have++] = *p++;
			len--;
			if (r->len_have < 3)
				continue;
			r->need = (size_t)r->lenb[0] << 16 |
				  (size_t)r->lenb[1] << 8 | r->lenb[2];
			if (r->need > r->max_frame)
				return fail(r, cl_error(err, CL_EINVAL,
					"wa frame: frame of %zu bytes exceeds %zu",
					r->need, r->max_frame));
			if (r->need == 0 || (r->partial.len == 0 && len >= r->need)) {
				/* Whole frame in this chunk: no copy. */
				take = r->need;
				rc = deliver(r, p, take, fn, ctx);
				p += take;
				len -= take;
				if (rc)
					return fail(r, rc);
			}
			continue;
		}
		/* Payload split across chunks. */
		take = r->need - r->partial.len;
		if (take > len)
			take = len;
		rc = cl_buf_add(&r->partial, p, take);
		if (rc)
			return fail(r, rc);
		p += take;
		len -= take;
		if (r->partial.len == r->need) {
			rc = deliver(r, r->partial.data, r->need, fn, ctx);
			if (rc)
				return fail(r, rc);
		}
	}
	return CL_OK;
}
