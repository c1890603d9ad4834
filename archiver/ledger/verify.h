/*
 * verify.h - full verification of an archive without any secret.
 *
 * Recomputes every leaf hash and the RFC 9162 tree, checks every stored
 * checkpoint's signature and root, every per-conversation chain link,
 * every ciphertext's SHA-256 against its leaf, every index column against
 * its leaf, every stored tree node, that erased payloads are matched by a
 * tombstone, that no entry lies beyond the last signed checkpoint, and
 * that each externally saved checkpoint is a prefix of this log.
 *
 * A database SQLite finds damaged (cut short, overwritten, not a database)
 * or missing from an archive directory is a problem like tampering.  With
 * the officer's sealing key (deep verification) every stored payload is
 * also opened and its salted plaintext hash compared with its leaf.
 */
#ifndef CL_VERIFY_H
#define CL_VERIFY_H

#include <stddef.h>
#include <stdint.h>

struct cl_verify_opts {
	const char *trusted_vkey;        /* NULL: the archive's own log.pub */
	const char *const *checkpoints;  /* saved checkpoint notes (contents) */
	const char *const *checkpoint_names; /* for messages (file names) */
	size_t n_checkpoints;
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
	int read_only;        /* read as a read-only copy (no lock), even when
	                         the directory is writable (rocopy.h) */
	const unsigned char *seal_sk; /* deep: the secret sealing key (32
	                         bytes, cl_vault_unlock_seal), else NULL */
};

struct cl_verify_report {
	uint64_t entries, records, tombstones, coverage, control, quarantined;
	uint64_t payloads, erased, conversations, nodes;
	uint64_t opened;      /* deep: payloads opened and matching pt_hash */
	uint64_t checkpoints, external_checkpoints;
	uint64_t bytes_hashed;
	uint64_t bad_index;   /* UINT64_MAX when the problem is not one entry */
	char *problem;        /* the first problem found (malloc'd), or NULL */
	char root_hex[65];    /* root of the whole log */
};

/*
 * Returns CL_OK when everything verifies, CL_ECORRUPT when a problem was
 * found (r->problem says what, naming the first bad entry), or another
 * code when verification could not run (*err says why).
 * Release the report with cl_verify_report_release().
 */
int cl_verify(const char *dir, const struct cl_verify_opts *o,
	      struct cl_verify_report *r, char **err)
	__attribute__((warn_unused_result));
void cl_verify_report_release(struct cl_verify_report *r);

#endif
