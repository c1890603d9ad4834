/*
 * checkpoint.c - C2SP tlog-checkpoint bodies (see checkpoint.h): an exact
 * formatter and a strict parser.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/notetext.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

/* ---- checkpoints ---------------------------------------------------- */

int cl_checkpoint_format(const char *origin, uint64_t size,
			 const unsigned char root[32], struct cl_buf *out)
{
	size_t start = out->len, olen = strlen(origin);
	int rc;

	if (olen == 0 || memchr(origin, '\n', olen) != NULL ||
	    !cl_nt_text_valid(origin, olen))
		return CL_EINVAL;
	rc = cl_buf_addf(out, "%s\n%" PRIu64 "\n", origin, size);
	if (rc == CL_OK)
		rc = cl_b64_add(out, root, 32);
	if (rc == CL_OK)
		rc = cl_buf_add(out, "\n", 1);
	if (rc)
		cl_nt_buf_truncate(out, start);
	return rc;
}

int cl_checkpoint_parse(const char *text, size_t len,
			struct cl_checkpoint *cp, char **err)
{
	struct cl_nt_lines it = { text, len, 0 };
	const char *line, *origin = NULL;
	size_t n, olen = 0;
	uint64_t size = 0;
	unsigned char root[32];
	int rc = CL_OK;

	memset(cp, 0, sizeof(*cp));
	if (len == 0 || text[len - 1] != '\n' || !cl_nt_text_valid(text, len)) {
		rc = cl_error(err, CL_EINVAL,
			      "checkpoint is not note text ending in a "
			      "newline");
		goto out;
	}
	if (cl_nt_next_line(&it, &origin, &olen) != 0 || olen == 0) {
		rc = cl_error(err, CL_EINVAL, "checkpoint has no origin");
		goto out;
	}
	if (cl_nt_next_line(&it, &line, &n) != 0 || cl_nt_parse_u64(line, n, &size)) {
		rc = cl_error(err, CL_EINVAL,
			      "checkpoint has a missing or bad tree size");
		goto out;
	}
	if (cl_nt_next_line(&it, &line, &n) != 0) {
		rc = cl_error(err, CL_EINVAL, "checkpoint has no root hash");
		goto out;
	}
	rc = cl_nt_b64_hash(line, n, root);
	if (rc) {
		rc = cl_error(err, rc, "checkpoint has a bad root hash");
		goto out;
	}
	while (cl_nt_next_line(&it, &line, &n) == 0) {
		if (n == 0) {
			rc = cl_error(err, CL_EINVAL,
				      "checkpoint has an empty extension line");
			goto out;
		}
	}
	cp->origin = cl_nt_dup_n(origin, olen);
	if (cp->origin == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	cp->size = size;
	memcpy(cp->root, root, sizeof(root));
out:
	return rc;
}

int cl_checkpoint_seal_key(const char *text, size_t len, unsigned char pk[32])
{
	struct cl_nt_lines it = { text, len, 0 };
	const char *line;
	size_t n, k = strlen(CL_SEAL_EXT), no = 0;
	int found = 0;

	while (cl_nt_next_line(&it, &line, &n) == 0) {
		if (n == 0)
			break; /* the blank line before the signatures */
		if (++no <= 3 || n < k || memcmp(line, CL_SEAL_EXT, k) != 0)
			continue;
		if (found || cl_nt_b64_hash(line + k, n - k, pk) != CL_OK)
			return CL_EINVAL;
		found = 1;
	}
	return found ? CL_OK : CL_ENOTFOUND;
}

void cl_checkpoint_release(struct cl_checkpoint *cp)
{
	free(cp->origin);
	memset(cp, 0, sizeof(*cp));
}

