/*
 * proof.c - offline proofs (see proof.h): C2SP tlog-proof inclusion proofs
 * and our consistency-proof text; exact formatters and strict parsers.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/proof.h"
#include "archiver/ledger/notetext.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

/* ---- offline proofs ------------------------------------------------- */

/* 1 if s[0..n) can be the signed checkpoint at the end of a tlog-proof. */
static int checkpoint_plausible(const char *s, size_t n)
{
	return n > 0 && s[0] != '\n' && s[n - 1] == '\n' && cl_nt_text_valid(s, n);
}

int cl_tlog_proof_format(uint64_t index, const unsigned char (*proof)[32],
			 size_t count, const char *extra, size_t extra_len,
			 const char *signed_checkpoint, size_t cp_len,
			 struct cl_buf *out)
{
	size_t start = out->len;
	int rc = CL_OK;

	if (count > CL_PROOF_MAX_HASHES || (count > 0 && proof == NULL) ||
	    signed_checkpoint == NULL ||
	    !checkpoint_plausible(signed_checkpoint, cp_len)) {
		rc = CL_EINVAL;
		goto out;
	}
	rc = cl_buf_addstr(out, CL_TLOG_PROOF_HEADER "\n");
	if (rc == CL_OK && extra != NULL && extra_len > 0) {
		rc = cl_buf_addstr(out, "extra ");
		if (rc == CL_OK)
			rc = cl_b64_add(out, (const unsigned char *)extra,
					extra_len);
		if (rc == CL_OK)
			rc = cl_buf_add(out, "\n", 1);
	}
	if (rc == CL_OK)
		rc = cl_buf_addf(out, "index %" PRIu64 "\n", index);
	if (rc == CL_OK)
		rc = cl_nt_add_hash_lines(out, proof, count);
	if (rc == CL_OK)
		rc = cl_buf_add(out, "\n", 1);
	if (rc == CL_OK)
		rc = cl_buf_add(out, signed_checkpoint, cp_len);
out:
	if (rc)
		cl_nt_buf_truncate(out, start);
	return rc;
}

int cl_tlog_proof_parse(const char *text, size_t len,
			struct cl_tlog_proof *p, char **err)
{
	struct cl_nt_lines it = { text, len, 0 };
	struct cl_buf hashes, extra;
	const char *line;
	size_t n, count = 0, cp_len;
	uint64_t index = 0;
	char *cp = NULL;
	int rc = CL_OK;

	memset(p, 0, sizeof(*p));
	cl_buf_init(&hashes, (size_t)CL_PROOF_MAX_HASHES * 32);
	cl_buf_init(&extra, len);
	if (!cl_nt_text_valid(text, len)) {
		rc = cl_error(err, CL_EINVAL,
			      "proof is not UTF-8 without control characters");
		goto out;
	}
	if (cl_nt_next_line(&it, &line, &n) != 0 ||
	    n != strlen(CL_TLOG_PROOF_HEADER) ||
	    memcmp(line, CL_TLOG_PROOF_HEADER, n) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "proof does not start with "
			      CL_TLOG_PROOF_HEADER);
		goto out;
	}
	if (cl_nt_next_line(&it, &line, &n) != 0) {
		rc = cl_error(err, CL_EINVAL, "proof has no index line");
		goto out;
	}
	if (cl_nt_has_prefix(line, n, "extra ")) {
		rc = n > 6 ? cl_nt_b64_decode(line + 6, n - 6, &extra) : CL_EINVAL;
		if (rc) {
			rc = cl_error(err, rc, "proof has a bad extra line");
			goto out;
		}
		if (cl_nt_next_line(&it, &line, &n) != 0) {
			rc = cl_error(err, CL_EINVAL, "proof has no index line");
			goto out;
		}
	}
	if (!cl_nt_has_prefix(line, n, "index ") ||
	    cl_nt_parse_u64(line + 6, n - 6, &index) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "proof has a missing or bad index line");
		goto out;
	}
	for (;;) {
		unsigned char h[32];

		if (cl_nt_next_line(&it, &line, &n) != 0) {
			rc = cl_error(err, CL_EINVAL,
				      "proof has no blank line before the "
				      "checkpoint");
			goto out;
		}
		if (n == 0)
			break;
		if (count == CL_PROOF_MAX_HASHES) {
			rc = cl_error(err, CL_EINVAL,
				      "proof has more than %d hashes",
				      CL_PROOF_MAX_HASHES);
			goto out;
		}
		rc = cl_nt_b64_hash(line, n, h);
		if (rc == CL_OK)
			rc = cl_buf_add(&hashes, h, sizeof(h));
		if (rc) {
			rc = cl_error(err, rc, "proof hash %zu is bad",
				      count + 1);
			goto out;
		}
		count++;
	}
	cp_len = len - it.pos;
	if (!checkpoint_plausible(text + it.pos, cp_len)) {
		rc = cl_error(err, CL_EINVAL,
			      "proof has a missing or malformed checkpoint");
		goto out;
	}
	cp = cl_nt_dup_n(text + it.pos, cp_len);
	if (cp == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	p->index = index;
	p->count = count;
	if (count > 0)
		p->proof = (unsigned char (*)[32])cl_buf_detach(&hashes, NULL);
	if (extra.len > 0)
		p->extra = cl_buf_detach(&extra, &p->extra_len);
	p->checkpoint = cp;
	p->checkpoint_len = cp_len;
	cp = NULL;
out:
	free(cp);
	cl_buf_release(&hashes);
	cl_buf_release(&extra);
	return rc;
}

void cl_tlog_proof_release(struct cl_tlog_proof *p)
{
	free(p->proof);
	free(p->extra);
	free(p->checkpoint);
	memset(p, 0, sizeof(*p));
}

int cl_consistency_proof_format(uint64_t old_size, uint64_t new_size,
				const unsigned char (*proof)[32], size_t count,
				struct cl_buf *out)
{
	size_t start = out->len;
	int rc;

	if (old_size > new_size || count > CL_PROOF_MAX_HASHES ||
	    (count > 0 && proof == NULL))
		return CL_EINVAL;
	rc = cl_buf_addf(out, CL_CONSISTENCY_PROOF_HEADER "\nold %" PRIu64
			 "\nnew %" PRIu64 "\n", old_size, new_size);
	if (rc == CL_OK)
		rc = cl_nt_add_hash_lines(out, proof, count);
	if (rc)
		cl_nt_buf_truncate(out, start);
	return rc;
}

int cl_consistency_proof_parse(const char *text, size_t len,
			       uint64_t *old_size, uint64_t *new_size,
			       unsigned char (**proof)[32], size_t *count,
			       char **err)
{
	struct cl_nt_lines it = { text, len, 0 };
	struct cl_buf hashes;
	const char *line;
	size_t n, k = 0;
	uint64_t o = 0, m = 0;
	int rc = CL_OK;

	*old_size = 0;
	*new_size = 0;
	*proof = NULL;
	*count = 0;
	cl_buf_init(&hashes, (size_t)CL_PROOF_MAX_HASHES * 32);
	if (len == 0 || text[len - 1] != '\n') {
		rc = cl_error(err, CL_EINVAL,
			      "consistency proof does not end in a newline");
		goto out;
	}
	if (cl_nt_next_line(&it, &line, &n) != 0 ||
	    n != strlen(CL_CONSISTENCY_PROOF_HEADER) ||
	    memcmp(line, CL_CONSISTENCY_PROOF_HEADER, n) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "consistency proof does not start with "
			      CL_CONSISTENCY_PROOF_HEADER);
		goto out;
	}
	if (cl_nt_next_line(&it, &line, &n) != 0 || !cl_nt_has_prefix(line, n, "old ") ||
	    cl_nt_parse_u64(line + 4, n - 4, &o) != 0 ||
	    cl_nt_next_line(&it, &line, &n) != 0 || !cl_nt_has_prefix(line, n, "new ") ||
	    cl_nt_parse_u64(line + 4, n - 4, &m) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "consistency proof has missing or bad sizes");
		goto out;
	}
	if (o > m) {
		rc = cl_error(err, CL_EINVAL,
			      "consistency proof old size %" PRIu64
			      " is larger than new size %" PRIu64, o, m);
		goto out;
	}
	while (cl_nt_next_line(&it, &line, &n) == 0) {
		unsigned char h[32];

		if (k == CL_PROOF_MAX_HASHES) {
			rc = cl_error(err, CL_EINVAL,
				      "consistency proof has more than %d "
				      "hashes", CL_PROOF_MAX_HASHES);
			goto out;
		}
		rc = cl_nt_b64_hash(line, n, h);
		if (rc == CL_OK)
			rc = cl_buf_add(&hashes, h, sizeof(h));
		if (rc) {
			rc = cl_error(err, rc,
				      "consistency proof hash %zu is bad",
				      k + 1);
			goto out;
		}
		k++;
	}
	*old_size = o;
	*new_size = m;
	*count = k;
	if (k > 0)
		*proof = (unsigned char (*)[32])cl_buf_detach(&hashes, NULL);
out:
	cl_buf_release(&hashes);
	return rc;
}

