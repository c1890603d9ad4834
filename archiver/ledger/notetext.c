/*
 * notetext.c - text helpers shared by the note, checkpoint and proof
 * formats (see notetext.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/notetext.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

/* Shorten `b` to `len` bytes (len <= b->len), keeping the NUL invariant. */
void cl_nt_buf_truncate(struct cl_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = 0;
}

/*
 * Make room for `n` more bytes in `b` without changing its content, so
 * that appending up to n bytes afterwards never reallocates (and never
 * leaves a copy of what is appended in freed memory).
 */
int cl_nt_buf_reserve(struct cl_buf *b, size_t n)
{
	static const unsigned char zero[64];
	size_t start = b->len;
	int rc = CL_OK;

	while (n > 0 && rc == CL_OK) {
		size_t k = n < sizeof(zero) ? n : sizeof(zero);

		rc = cl_buf_add(b, zero, k);
		n -= k;
	}
	cl_nt_buf_truncate(b, start);
	return rc;
}

/*
 * Decode the UTF-8 sequence at s[*pos] (s holds n bytes), store its code
 * point in *cp and advance *pos.  Returns -1, leaving *pos alone, on a
 * truncated, overlong, surrogate or out-of-range sequence.
 */
static int utf8_next(const unsigned char *s, size_t n, size_t *pos,
		     uint32_t *cp)
{
	size_t i = *pos, need, k;
	unsigned char c = s[i], lo = 0x80, hi = 0xbf;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		*pos = i + 1;
		return 0;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = (uint32_t)(c & 0x1f);
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = (uint32_t)(c & 0x0f);
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = (uint32_t)(c & 0x07);
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return -1;
	}
	if (n - i - 1 < need)
		return -1;
	for (k = 1; k <= need; k++) {
		unsigned char b = s[i + k];

		if (b < lo || b > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
		v = v << 6 | (uint32_t)(b & 0x3f);
	}
	*cp = v;
	*pos = i + 1 + need;
	return 0;
}

/*
 * 1 if s[0..n) is valid UTF-8 without ASCII control characters (below
 * U+0020) other than newline: the character set of a signed note.
 */
int cl_nt_text_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t pos = 0;
	uint32_t cp;

	while (pos < n) {
		if (u[pos] < 0x80) {
			if (u[pos] < 0x20 && u[pos] != '\n')
				return 0;
			pos++;
			continue;
		}
		if (utf8_next(u, n, &pos, &cp) != 0)
			return 0;
	}
	return 1;
}

/* 1 for the code points Go's unicode.IsSpace reports and all controls. */
static int name_char_banned(uint32_t cp)
{
	if (cp <= 0x20 || cp == '+' || (cp >= 0x7f && cp <= 0xa0))
		return 1; /* C0, space, plus, DEL, C1 (with U+0085), NBSP */
	if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return 1;
	return 0;
}

/* Key-name rule of cl_note_name_valid for s[0..n). */
int cl_nt_name_valid_n(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t pos = 0;
	uint32_t cp;

	if (n == 0)
		return 0;
	while (pos < n) {
		if (utf8_next(u, n, &pos, &cp) != 0 || name_char_banned(cp))
			return 0;
	}
	return 1;
}

/*
 * Parse s[0..n) as an ASCII decimal without leading zeros (except "0")
 * that fits in 64 bits.  -1 otherwise.
 */
int cl_nt_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		uint64_t d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Parse exactly 8 hex digits (either case) at s.  -1 otherwise. */
int cl_nt_parse_hex32(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		char c = s[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (uint32_t)(c - 'A' + 10);
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}


/*
 * Return in (*line, *n) the next line without its "\n" and step past it.
 * -1 at the end of the text or if the rest has no "\n".
 */
int cl_nt_next_line(struct cl_nt_lines *it, const char **line, size_t *n)
{
	const char *p = it->s + it->pos, *nl;

	if (it->pos >= it->len)
		return -1;
	nl = memchr(p, '\n', it->len - it->pos);
	if (nl == NULL)
		return -1;
	*line = p;
	*n = (size_t)(nl - p);
	it->pos += *n + 1;
	return 0;
}

/*
 * 1 if s[0..n) uses only the standard base64 alphabet and '='.  Checked
 * before every decode: libsodium 1.0.18's decoder reads bytes >= 0x80 as
 * '/' where char is signed, so it alone would accept non-canonical text.
 */
int cl_nt_b64_alphabet(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		      c == '='))
			return 0;
	}
	return 1;
}

/* cl_b64_decode of s[0..n), after the alphabet check; CL_EINVAL. */
int cl_nt_b64_decode(const char *s, size_t n, struct cl_buf *out)
{
	if (!cl_nt_b64_alphabet(s, n))
		return CL_EINVAL;
	return cl_b64_decode(s, n, out);
}

/* 1 if line[0..n) starts with the NUL-terminated `prefix`. */
int cl_nt_has_prefix(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(line, prefix, k) == 0;
}

/*
 * Decode s[0..n), padded base64 of exactly 32 bytes, into out.  CL_EINVAL
 * for anything else, CL_ENOMEM.
 */
int cl_nt_b64_hash(const char *s, size_t n, unsigned char out[32])
{
	struct cl_buf b;
	int rc;

	if (n != HASH_B64_LEN)
		return CL_EINVAL;
	cl_buf_init(&b, 32);
	rc = cl_nt_b64_decode(s, n, &b);
	if (rc == CL_OK && b.len != 32)
		rc = CL_EINVAL;
	if (rc == CL_OK)
		memcpy(out, b.data, 32);
	cl_buf_release(&b);
	return rc;
}

/* Append base64 of each of `count` hashes, one per line. */
int cl_nt_add_hash_lines(struct cl_buf *out, const unsigned char (*h)[32],
			  size_t count)
{
	size_t i;
	int rc = CL_OK;

	for (i = 0; i < count && rc == CL_OK; i++) {
		rc = cl_b64_add(out, h[i], 32);
		if (rc == CL_OK)
			rc = cl_buf_add(out, "\n", 1);
	}
	return rc;
}

/* A malloc'd NUL-terminated copy of s[0..n), or NULL. */
char *cl_nt_dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

