/*
 * html.c - context escapers for the console (html.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "archiver/console/html.h"
#include "common/status.h"
#include "common/banned.h"

/* Decode one UTF-8 sequence at s[0..n): the code point, or -1 when the
 * bytes are not well-formed UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated); *len gets the bytes consumed (1 for an invalid byte). */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	uint32_t c = s[0], min;
	size_t k, i;

	*len = 1;
	if (c < 0x80)
		return (int32_t)c;
	if (c >= 0xC2 && c <= 0xDF) {
		k = 1; c &= 0x1F; min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		k = 2; c &= 0x0F; min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		k = 3; c &= 0x07; min = 0x10000;
	} else {
		return -1;
	}
	if (n < k + 1)
		return -1;
	for (i = 1; i <= k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return -1;
	*len = k + 1;
	return (int32_t)c;
}

/* 1 for the code points shown as a visible marker instead. */
static int shown_as_marker(int32_t c)
{
	return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7F ||
		(c >= 0x80 && c <= 0x9F) || c == 0x061C || c == 0x200E || c == 0x200F ||
		(c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) ||
		c == 0xFEFF;
}

int cl_html_text(struct cl_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;
	int rc = CL_OK;

	while (i < n && rc == CL_OK) {
		int32_t c = utf8_next(p + i, n - i, &len);

		switch (c) {
		case '&': rc = cl_buf_addstr(b, "&amp;"); break;
		case '<': rc = cl_buf_addstr(b, "&lt;"); break;
		case '>': rc = cl_buf_addstr(b, "&gt;"); break;
		case '"': rc = cl_buf_addstr(b, "&quot;"); break;
		case '\'': rc = cl_buf_addstr(b, "&#39;"); break;
		case '`': rc = cl_buf_addstr(b, "&#96;"); break;
		case -1: rc = cl_buf_addstr(b, "\xEF\xBF\xBD"); break;
		default:
			if (shown_as_marker(c)) {
				char mark[64];

				(void)snprintf(mark, sizeof(mark), "<span class=\"ctl\">[U+%04X]</span>",
					       (unsigned)c);
				rc = cl_buf_addstr(b, mark);
			} else {
				rc = cl_buf_add(b, p + i, len);
			}
		}
		i += len;
	}
	return rc;
}

int cl_html_str(struct cl_buf *b, const char *s)
{
	return s ? cl_html_text(b, s, strlen(s)) : CL_OK;
}

int cl_html_url(struct cl_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = CL_OK;

	for (; s && *s && rc == CL_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = cl_buf_add(b, &c, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = cl_buf_add(b, e, 3);
		}
	}
	return rc;
}

int cl_html_raw(struct cl_buf *b, const char *s)
{
	return cl_buf_addstr(b, s);
}
