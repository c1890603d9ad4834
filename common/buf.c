/*
 * buf.c - capped growable buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "status.h"
#include "common/banned.h"

void cl_buf_init(struct cl_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void cl_buf_release(struct cl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void cl_buf_reset(struct cl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

static int grow(struct cl_buf *b, size_t extra)
{
	size_t need, n;
	unsigned char *p;

	if (extra > b->max || b->len > b->max - extra)
		return CL_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return CL_OK;
	n = b->alloc ? b->alloc : 64;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	p = realloc(b->data, n);
	if (p == NULL)
		return CL_ENOMEM;
	b->data = p;
	b->alloc = n;
	return CL_OK;
}

int cl_buf_reserve(struct cl_buf *b, size_t extra)
{
	return grow(b, extra);
}

int cl_buf_add(struct cl_buf *b, const void *p, size_t n)
{
	int rc = grow(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return CL_OK;
}

int cl_buf_addstr(struct cl_buf *b, const char *s)
{
	return cl_buf_add(b, s, strlen(s));
}

int cl_buf_addf(struct cl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return CL_EINVAL;
	rc = grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return CL_OK;
}

int cl_buf_add_u8(struct cl_buf *b, uint8_t v)
{
	return cl_buf_add(b, &v, 1);
}

int cl_buf_add_be32(struct cl_buf *b, uint32_t v)
{
	unsigned char p[4];

	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return cl_buf_add(b, p, 4);
}

int cl_buf_add_be64(struct cl_buf *b, uint64_t v)
{
	unsigned char p[8];

	cl_store_be64(p, v);
	return cl_buf_add(b, p, 8);
}

unsigned char *cl_buf_detach(struct cl_buf *b, size_t *len)
{
	unsigned char *p = b->data;

	if (len)
		*len = b->len;
	if (p == NULL)
		p = calloc(1, 1);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

uint32_t cl_load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

uint64_t cl_load_be64(const unsigned char *p)
{
	return (uint64_t)cl_load_be32(p) << 32 | cl_load_be32(p + 4);
}

void cl_store_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}
