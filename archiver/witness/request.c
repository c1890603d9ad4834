/*
 * request.c - the add-checkpoint request body (request.h).
 */
#include <inttypes.h>
#include <string.h>

#include "archiver/witness/request.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

/* s[0..n) as a decimal without leading zeros; -1 otherwise. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* One proof line: canonical base64 of 32 bytes. */
static int parse_hash(const char *s, size_t n, unsigned char out[32])
{
	struct cl_buf b, e;
	int ok = 0;

	if (n != 44)
		return -1;
	cl_buf_init(&b, 64);
	cl_buf_init(&e, 64);
	if (cl_b64_decode(s, n, &b) == CL_OK && b.len == 32 &&
	    cl_b64_add(&e, b.data, 32) == CL_OK && e.len == n &&
	    memcmp(e.data, s, n) == 0) {
		memcpy(out, b.data, 32);
		ok = 1;
	}
	cl_buf_release(&b);
	cl_buf_release(&e);
	return ok ? 0 : -1;
}

int cl_wreq_parse(const char *body, size_t len, struct cl_wreq *r, char **err)
{
	const char *nl;
	size_t pos;

	memset(r, 0, sizeof(*r));
	if (len > CL_WREQ_MAX_BYTES)
		return cl_error(err, CL_EINVAL, "request larger than %u bytes",
				CL_WREQ_MAX_BYTES);
	nl = memchr(body, '\n', len);
	if (nl == NULL || nl - body < 5 || memcmp(body, "old ", 4) != 0 ||
	    parse_u64(body + 4, (size_t)(nl - body) - 4, &r->old_size) != 0)
		return cl_error(err, CL_EINVAL, "the first line must be 'old <size>'");
	pos = (size_t)(nl - body) + 1;
	for (;;) {
		if (pos >= len)
			return cl_error(err, CL_EINVAL, "no empty line before the checkpoint");
		nl = memchr(body + pos, '\n', len - pos);
		if (nl == NULL)
			return cl_error(err, CL_EINVAL, "a proof line does not end in a newline");
		size_t ll = (size_t)(nl - (body + pos));

		if (ll == 0)
			break;
		if (r->count == CL_WREQ_MAX_PROOF)
			return cl_error(err, CL_EINVAL, "more than %d proof lines",
					CL_WREQ_MAX_PROOF);
		if (parse_hash(body + pos, ll, r->proof[r->count]) != 0)
			return cl_error(err, CL_EINVAL, "proof line %zu is not base64 of"
					" 32 bytes", r->count + 1);
		r->count++;
		pos += ll + 1;
	}
	pos++;
	if (pos >= len)
		return cl_error(err, CL_EINVAL, "no checkpoint after the empty line");
	r->note = body + pos;
	r->note_len = len - pos;
	return CL_OK;
}

int cl_wreq_format(uint64_t old_size, const unsigned char (*proof)[32],
		   size_t count, const char *note, size_t note_len,
		   struct cl_buf *out)
{
	size_t i;
	int rc;

	if (count > CL_WREQ_MAX_PROOF)
		return CL_EINVAL;
	if ((rc = cl_buf_addf(out, "old %" PRIu64 "\n", old_size)))
		return rc;
	for (i = 0; i < count; i++)
		if ((rc = cl_b64_add(out, proof[i], 32)) || (rc = cl_buf_add(out, "\n", 1)))
			return rc;
	if ((rc = cl_buf_add(out, "\n", 1)))
		return rc;
	return cl_buf_add(out, note, note_len);
}

int cl_wreq_parse_size(const char *body, size_t len, uint64_t *size)
{
	if (len < 2 || body[len - 1] != '\n' ||
	    parse_u64(body, len - 1, size) != 0)
		return CL_EINVAL;
	return CL_OK;
}
