/*
 * frame.h - WhatsApp's transport framing over a WebSocket.
 *
 * The client sends the 4-byte prologue "WA" 0x06 0x03 (magic 6, then the
 * token dictionary version) once, in front of its first frame.  Every
 * frame, both ways, is a 3-byte big-endian length and that many bytes (the
 * Noise handshake messages, then AES-GCM ciphertexts).  WebSocket message
 * boundaries mean nothing: a message may hold several frames, or part of
 * one, so the reader takes arbitrary chunks and hands out whole frames.
 */
#ifndef CL_WA_FRAME_H
#define CL_WA_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CL_WA_FRAME_MAX 0xffffffu  /* largest length 3 bytes can carry */
#define CL_WA_PROLOGUE_LEN 4
#define CL_WA_PROLOGUE_MAGIC 6

/* The prologue: 'W' 'A' 6 CL_WA_DICT_VERSION. */
extern const unsigned char cl_wa_prologue[CL_WA_PROLOGUE_LEN];

/* ---- writer ---------------------------------------------------------- */

struct cl_wa_frame_writer {
	int prologue_sent;
};

void cl_wa_frame_writer_init(struct cl_wa_frame_writer *w);

/*
 * Append one frame carrying `len` bytes of `payload` to `out`, preceded by
 * the prologue on the writer's first frame.  CL_EINVAL (message in *err)
 * when len exceeds CL_WA_FRAME_MAX, CL_ETOOBIG when `out` reaches its cap;
 * nothing is appended then.  CL_ENOMEM.
 */
int cl_wa_frame_write(struct cl_wa_frame_writer *w, struct cl_buf *out,
		      const void *payload, size_t len, char **err);

/* ---- reader ---------------------------------------------------------- */

/*
 * Called once per complete frame, in order.  `frame` is valid only during
 * the call.  A non-zero return stops cl_wa_frame_reader_feed(), which
 * returns that value.
 */
typedef int (*cl_wa_frame_fn)(void *ctx, const unsigned char *frame,
			      size_t len);

/* Reader flag: the stream starts with the client's prologue (a server's
 * view); it is checked and skipped. */
#define CL_WA_FRAME_EXPECT_PROLOGUE 1u

struct cl_wa_frame_reader {
	size_t max_frame;       /* larger frames are refused */
	unsigned flags;
	size_t prologue_have;   /* prologue bytes seen so far */
	unsigned char lenb[3];  /* length header being assembled */
	size_t len_have;
	size_t need;            /* payload length, once len_have == 3 */
	struct cl_buf partial;  /* payload of a frame split across chunks */
	uint64_t frames;        /* frames delivered */
	int broken;             /* an error happened: refuse further input */
};

/*
 * Set up a reader that accepts frames of at most max_frame bytes (at most
 * CL_WA_FRAME_MAX; 0 means CL_WA_FRAME_MAX).  It buffers at most one
 * partial frame.  Release with cl_wa_frame_reader_release().
 */
void cl_wa_frame_reader_init(struct cl_wa_frame_reader *r, size_t max_frame,
			     unsigned flags);
void cl_wa_frame_reader_release(struct cl_wa_frame_reader *r);

/*
 * Consume `len` bytes received from the peer, calling fn for each frame
 * completed.  A frame wholly inside `data` is passed without copying.
 * Returns CL_OK when all bytes were consumed; CL_EINVAL (message in *err)
 * on a wrong prologue or a frame over max_frame, as soon as its length
 * header is seen; fn's non-zero return value; CL_ENOMEM.  After any
 * failure the reader is broken and every later call returns CL_EINVAL:
 * the connection must be dropped.
 */
int cl_wa_frame_reader_feed(struct cl_wa_frame_reader *r, const void *data,
			    size_t len, cl_wa_frame_fn fn, void *ctx,
			    char **err);

/*
 * 1 when the reader sits between frames (nothing partial buffered), so a
 * connection closing now lost no data; 0 otherwise.
 */
int cl_wa_frame_reader_idle(const struct cl_wa_frame_reader *r);

#endif
