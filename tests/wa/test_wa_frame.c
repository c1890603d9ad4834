/*
 * test_wa_frame.c - WhatsApp transport framing (archiver/wa/frame.c): the
 * prologue, 3-byte length prefixes, a reader fed at every split point,
 * the frame size limit and the reader's error state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/frame.h"
#include "common/buf.h"
#include "common/status.h"
#include "../unit/tap.h"
#include "common/banned.h"

#define BIG (32u << 20)

/* ---- a callback that records frames ------------------------------------ */

struct got {
	struct cl_buf all;     /* frames back to back */
	size_t lens[64];
	size_t n;
	const unsigned char *last;  /* where the last frame pointed */
	int stop_at;           /* return 77 on this frame (1-based; 0: never) */
};

static void got_init(struct got *g)
{
	memset(g, 0, sizeof(*g));
	cl_buf_init(&g->all, BIG);
}

static void got_reset(struct got *g)
{
	cl_buf_reset(&g->all);
	g->n = 0;
	g->last = NULL;
}

static int on_frame(void *ctx, const unsigned char *p, size_t len)
{
	struct got *g = ctx;

	if (g->n == 64 || cl_buf_add(&g->all, p, len) != CL_OK)
		return 99;
	g->lens[g->n++] = len;
	g->last = p;
	if (g->stop_at && (int)g->n == g->stop_at)
		return 77;
	return 0;
}

static int got_equal(const struct got *a, const struct got *b)
{
	return a->n == b->n && a->all.len == b->all.len &&
	       memcmp(a->lens, b->lens, a->n * sizeof(a->lens[0])) == 0 &&
	       (a->all.len == 0 || memcmp(a->all.data, b->all.data, a->all.len) == 0);
}

static void fill(unsigned char *p, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 31 + seed) & 255);
}

/* Write frames of the given sizes; `want` records the payloads. */
static void make_stream(struct cl_buf *out, struct got *want,
			const size_t *sizes, size_t n, int prologue)
{
	struct cl_wa_frame_writer w;
	size_t i;

	cl_wa_frame_writer_init(&w);
	w.prologue_sent = !prologue;
	for (i = 0; i < n; i++) {
		unsigned char *p = malloc(sizes[i] + 1);

		fill(p, sizes[i], (unsigned)i);
		if (cl_wa_frame_write(&w, out, p, sizes[i], NULL) != CL_OK)
			printf("# write failed\n");
		on_frame(want, p, sizes[i]);
		free(p);
	}
}

/* Feed `s` in chunks cut at the given points; CL_OK and frames in g. */
static int feed_cuts(const struct cl_buf *s, const size_t *cuts, size_t ncuts,
		     unsigned flags, size_t max, struct got *g)
{
	struct cl_wa_frame_reader r;
	size_t i, at = 0;
	int rc = CL_OK;

	got_reset(g);
	cl_wa_frame_reader_init(&r, max, flags);
	for (i = 0; i <= ncuts && rc == CL_OK; i++) {
		size_t end = i < ncuts ? cuts[i] : s->len;

		rc = cl_wa_frame_reader_feed(&r, s->data + at, end - at, on_frame,
					     g, NULL);
		at = end;
	}
	if (rc == CL_OK && !cl_wa_frame_reader_idle(&r))
		rc = -1;
	cl_wa_frame_reader_release(&r);
	return rc;
}

/* ---- tests -------------------------------------------------------------- */

static void test_prologue_and_writer(void)
{
	struct cl_wa_frame_writer w;
	struct cl_buf b, small;
	char *err = NULL;

	TAP_OK(memcmp(cl_wa_prologue, "WA\x06\x03", 4) == 0,
	       "prologue is 'W' 'A' 6 3");
	cl_buf_init(&b, BIG);
	cl_wa_frame_writer_init(&w);
	TAP_EQ_INT(cl_wa_frame_write(&w, &b, "abc", 3, &err), CL_OK, "first frame");
	TAP_OK(b.len == 10 && memcmp(b.data, "WA\x06\x03\x00\x00\x03" "abc", 10) == 0,
	       "first frame carries the prologue");
	TAP_EQ_INT(cl_wa_frame_write(&w, &b, "", 0, &err), CL_OK, "empty frame");
	TAP_OK(b.len == 13 && memcmp(b.data + 10, "\0\0\0", 3) == 0,
	       "later frames do not");
	{
		unsigned char *p = malloc(CL_WA_FRAME_MAX + 1u);

		memset(p, 0xab, CL_WA_FRAME_MAX + 1u);
		cl_buf_reset(&b);
		TAP_EQ_INT(cl_wa_frame_write(&w, &b, p, CL_WA_FRAME_MAX, &err), CL_OK,
			   "frame of 2^24-1 bytes");
		TAP_OK(b.len == CL_WA_FRAME_MAX + 3u &&
		       memcmp(b.data, "\xff\xff\xff\xab", 4) == 0,
		       "its length is ff ff ff");
		cl_buf_reset(&b);
		TAP_EQ_INT(cl_wa_frame_write(&w, &b, p, CL_WA_FRAME_MAX + 1u, &err),
			   CL_EINVAL, "frame of 2^24 bytes refused");
		TAP_OK(err != NULL && b.len == 0, "...with a message, nothing written");
		free(err);
		err = NULL;
		free(p);
	}
	cl_buf_init(&small, 8);
	cl_wa_frame_writer_init(&w);
	TAP_EQ_INT(cl_wa_frame_write(&w, &small, "abcde", 5, &err), CL_ETOOBIG,
		   "output cap refused");
	TAP_OK(small.len == 0 && !w.prologue_sent,
	       "...nothing written, prologue still due");
	free(err);
	err = NULL;
	cl_buf_release(&small);
	cl_buf_release(&b);
}

static void test_every_split(void)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 255, 256, 300, 5, 0 };
	static const size_t tiny[] = { 0, 4, 1, 0, 7 };
	struct cl_buf s;
	struct got want, g;
	size_t k, j, bad = 0, tried = 0;
	int pro;

	got_init(&want);
	got_init(&g);
	for (pro = 1; pro >= 0; pro--) {
		unsigned flags = pro ? CL_WA_FRAME_EXPECT_PROLOGUE : 0;

		cl_buf_init(&s, BIG);
		got_reset(&want);
		make_stream(&s, &want, sizes, sizeof(sizes) / sizeof(sizes[0]), pro);
		TAP_OK(feed_cuts(&s, NULL, 0, flags, 0, &g) == CL_OK &&
		       got_equal(&g, &want), "%s: one chunk",
		       pro ? "client stream" : "server stream");
		for (k = 0; k <= s.len; k++) {
			if (feed_cuts(&s, &k, 1, flags, 0, &g) != CL_OK ||
			    !got_equal(&g, &want))
				bad++;
		}
		TAP_EQ_INT(bad, 0, pro ? "client stream: every 2-way split"
				       : "server stream: every 2-way split");
		{
			size_t *cuts = malloc(s.len * sizeof(*cuts));

			for (k = 0; k < s.len; k++)
				cuts[k] = k;
			TAP_OK(feed_cuts(&s, cuts, s.len, flags, 0, &g) == CL_OK &&
			       got_equal(&g, &want), "byte by byte, with empty chunks");
			free(cuts);
		}
		cl_buf_release(&s);
	}

	/* Every 3-way split of a small stream. */
	cl_buf_init(&s, BIG);
	got_reset(&want);
	make_stream(&s, &want, tiny, sizeof(tiny) / sizeof(tiny[0]), 1);
	bad = 0;
	for (k = 0; k <= s.len; k++)
		for (j = k; j <= s.len; j++) {
			size_t cuts[2] = { k, j };

			tried++;
			if (feed_cuts(&s, cuts, 2, CL_WA_FRAME_EXPECT_PROLOGUE, 0, &g) !=
			    CL_OK || !got_equal(&g, &want))
				bad++;
		}
	TAP_OK(bad == 0, "every 3-way split of a %zu-byte stream (%zu tried)",
	       s.len, tried);
	cl_buf_release(&s);

	/* Big frames, chunks of varying size. */
	{
		static const size_t bigs[] = { 70000, 3, 200000, 1 };
		size_t cuts[4096], n = 0, at = 0, step = 1;

		cl_buf_init(&s, BIG);
		got_reset(&want);
		make_stream(&s, &want, bigs, 4, 1);
		while (n < 4096) {
			at += step;
			if (at >= s.len)
				break;
			cuts[n++] = at;
			step = step * 7 % 1021 + 1;
		}
		TAP_OK(feed_cuts(&s, cuts, n, CL_WA_FRAME_EXPECT_PROLOGUE, 0, &g) ==
		       CL_OK && got_equal(&g, &want),
		       "270 KB stream in %zu chunks of varying size", n + 1);
		cl_buf_release(&s);
	}
	cl_buf_release(&want.all);
	cl_buf_release(&g.all);
}

static void test_limits_and_errors(void)
{
	struct cl_wa_frame_reader r;
	struct got g;
	char *err = NULL;
	unsigned char buf[400];
	int rc;

	got_init(&g);
	memset(buf, 0x5a, sizeof(buf));

	/* A frame of exactly max bytes is fine, one more is not. */
	cl_wa_frame_reader_init(&r, 300, 0);
	buf[0] = 0x00, buf[1] = 0x01, buf[2] = 0x2c; /* 300 */
	TAP_OK(cl_wa_frame_reader_feed(&r, buf, 303, on_frame, &g, &err) == CL_OK &&
	       g.n == 1 && g.lens[0] == 300, "frame of max_frame bytes accepted");
	TAP_OK(g.last == buf + 3, "...passed in place, without a copy");
	buf[2] = 0x2d; /* 301 */
	rc = cl_wa_frame_reader_feed(&r, buf, 3, on_frame, &g, &err);
	TAP_EQ_INT(rc, CL_EINVAL, "frame of max_frame+1 refused at its header");
	TAP_OK(err && strstr(err, "exceeds"), "...saying so (%s)", err ? err : "-");
	free(err);
	err = NULL;
	buf[2] = 0x01;
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, buf, 4, on_frame, &g, &err),
		   CL_EINVAL, "broken reader refuses further input");
	TAP_OK(!cl_wa_frame_reader_idle(&r), "broken reader is not idle");
	free(err);
	err = NULL;
	cl_wa_frame_reader_release(&r);

	/* Default limit is 2^24-1; a partial frame is not idle. */
	got_reset(&g);
	cl_wa_frame_reader_init(&r, 0, 0);
	TAP_EQ_INT(r.max_frame, CL_WA_FRAME_MAX, "0 means the 3-byte maximum");
	TAP_OK(cl_wa_frame_reader_idle(&r), "fresh reader is idle");
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "\xff\xff", 2, on_frame, &g, &err),
		   CL_OK, "two header bytes");
	TAP_OK(!cl_wa_frame_reader_idle(&r), "half a header is not idle");
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "\xff" "abc", 4, on_frame, &g, &err),
		   CL_OK, "a 16 MiB frame starts");
	TAP_OK(!cl_wa_frame_reader_idle(&r) && g.n == 0 && r.partial.len == 3,
	       "partial payload is buffered, nothing delivered");
	cl_wa_frame_reader_release(&r);

	/* Prologue checks. */
	cl_wa_frame_reader_init(&r, 0, CL_WA_FRAME_EXPECT_PROLOGUE);
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "WA\x05\x03", 4, on_frame, &g, &err),
		   CL_EINVAL, "prologue with magic 5 refused");
	free(err);
	err = NULL;
	cl_wa_frame_reader_release(&r);
	cl_wa_frame_reader_init(&r, 0, CL_WA_FRAME_EXPECT_PROLOGUE);
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "WA\x06\x02", 4, on_frame, &g, &err),
		   CL_EINVAL, "prologue of dictionary version 2 refused");
	free(err);
	err = NULL;
	cl_wa_frame_reader_release(&r);
	cl_wa_frame_reader_init(&r, 0, CL_WA_FRAME_EXPECT_PROLOGUE);
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "ED\x00\x01", 4, on_frame, &g, &err),
		   CL_EINVAL, "edge-routing prefix refused");
	free(err);
	err = NULL;
	cl_wa_frame_reader_release(&r);
	cl_wa_frame_reader_init(&r, 0, CL_WA_FRAME_EXPECT_PROLOGUE);
	got_reset(&g);
	TAP_OK(cl_wa_frame_reader_feed(&r, "WA", 2, on_frame, &g, &err) == CL_OK &&
	       !cl_wa_frame_reader_idle(&r), "half a prologue is not idle");
	TAP_OK(cl_wa_frame_reader_feed(&r, "\x06\x03\0\0\x01z", 6, on_frame, &g,
				       &err) == CL_OK && g.n == 1 &&
	       cl_wa_frame_reader_idle(&r), "rest of the prologue and a frame");
	cl_wa_frame_reader_release(&r);

	/* The callback can stop the reader. */
	cl_wa_frame_reader_init(&r, 0, 0);
	got_reset(&g);
	g.stop_at = 2;
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "\0\0\x01" "a\0\0\x01" "b\0\0\x01" "c",
					   12, on_frame, &g, &err),
		   77, "callback's return value is passed back");
	TAP_OK(g.n == 2, "...after the frame that returned it");
	TAP_EQ_INT(cl_wa_frame_reader_feed(&r, "\0\0\0", 3, on_frame, &g, &err),
		   CL_EINVAL, "...and the reader is broken");
	free(err);
	cl_wa_frame_reader_release(&r);
	cl_buf_release(&g.all);
}

/* Nodes packed into frame bodies, framed, split, read back and decoded. */
static void test_nodes_through_frames(void)
{
	struct cl_wa_node *iq = NULL, *ping = NULL, *back = NULL;
	struct cl_wa_frame_writer w;
	struct cl_buf s, body, inner;
	struct got g;
	char *err = NULL;
	size_t k, bad = 0;

	cl_wa_node_new_s(&iq, "iq");
	cl_wa_node_add_attr_s(iq, "id", "1700000000-1");
	cl_wa_node_add_attr_s(iq, "to", "s.whatsapp.net");
	cl_wa_node_add_attr_s(iq, "type", "get");
	cl_wa_node_add_attr_s(iq, "xmlns", "w:p");
	cl_wa_node_new_s(&ping, "ping");
	cl_wa_node_add_child(iq, ping);
	cl_buf_init(&s, BIG);
	cl_buf_init(&body, BIG);
	cl_buf_init(&inner, BIG);
	got_init(&g);
	cl_wa_frame_writer_init(&w);
	cl_wa_frame_pack(iq, &body, &err);
	cl_wa_frame_write(&w, &s, body.data, body.len, &err);
	cl_wa_frame_write(&w, &s, body.data, body.len, &err);
	for (k = 0; k <= s.len; k++) {
		size_t i;

		if (feed_cuts(&s, &k, 1, CL_WA_FRAME_EXPECT_PROLOGUE, 0, &g) != CL_OK ||
		    g.n != 2) {
			bad++;
			continue;
		}
		for (i = 0; i < 2; i++) {
			cl_buf_reset(&inner);
			back = NULL;
			if (cl_wa_frame_unpack(g.all.data + i * body.len, body.len,
					       &inner, &err) != CL_OK ||
			    cl_wa_node_decode(inner.data, inner.len, &back, &err) !=
			    CL_OK || !cl_wa_node_equal(iq, back))
				bad++;
			cl_wa_node_free(back);
		}
	}
	TAP_EQ_INT(bad, 0, "a ping iq survives pack, frame, every split, unpack");
	free(err);
	cl_wa_node_free(iq);
	cl_buf_release(&s);
	cl_buf_release(&body);
	cl_buf_release(&inner);
	cl_buf_release(&g.all);
}

int main(void)
{
	test_prologue_and_writer();
	test_every_split();
	test_limits_and_errors();
	test_nodes_through_frames();
	return tap_done();
}
