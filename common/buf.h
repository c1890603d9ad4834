/*
 * buf.h - a growable byte buffer with a mandatory size cap.
 *
 * Invariants: b->data is NULL or points to b->alloc bytes of which the
 * first b->len are in use, followed by a NUL (so text can be used as a C
 * string).  Appending past b->max fails with CL_ETOOBIG and leaves the
 * buffer unchanged.  cl_buf_release() frees the memory; cl_buf_detach()
 * hands it to the caller, who frees it with free().
 */
#ifndef CL_BUF_H
#define CL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct cl_buf {
	unsigned char *data;
	size_t len;
	size_t alloc;
	size_t max;
};

void cl_buf_init(struct cl_buf *b, size_t max);
void cl_buf_release(struct cl_buf *b);
void cl_buf_reset(struct cl_buf *b);
/* Make room for `extra` more bytes (len unchanged). */
int cl_buf_reserve(struct cl_buf *b, size_t extra);
int cl_buf_add(struct cl_buf *b, const void *p, size_t n);
int cl_buf_addstr(struct cl_buf *b, const char *s);
int cl_buf_addf(struct cl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cl_buf_add_u8(struct cl_buf *b, uint8_t v);
int cl_buf_add_be32(struct cl_buf *b, uint32_t v);
int cl_buf_add_be64(struct cl_buf *b, uint64_t v);
unsigned char *cl_buf_detach(struct cl_buf *b, size_t *len);

uint32_t cl_load_be32(const unsigned char *p);
uint64_t cl_load_be64(const unsigned char *p);
void cl_store_be64(unsigned char *p, uint64_t v);

#endif
