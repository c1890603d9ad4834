/*
 * cosig.h - C2SP tlog-cosignature/v1 (Ed25519, key type 0x04) and the
 * parser of cosigned notes: a checkpoint followed by any number of
 * signature lines, the log's and the witnesses'.
 *
 * Formats (docs/FORMAT.md §11):
 *   - witness verifier key "name+hex8(id)+base64(0x04||pk)", id = the first
 *     4 bytes of SHA-256(name || 0x0A || 0x04 || pk);
 *   - witness signer key "PRIVATE+KEY+name+hex8(id)+base64(0x04||seed)";
 *   - cosignature line "\u2014 name base64(be32(id) || be64(time) ||
 *     Ed25519(msg))\n", msg = "cosignature/v1\ntime <time>\n" || body.
 *
 * Return values as in archiver/ledger/note.h: CL_OK, CL_EINVAL (malformed),
 * CL_EBADSIG (a signature does not verify), CL_ENOMEM.  The caller must
 * have called sodium_init().
 */
#ifndef CL_COSIG_H
#define CL_COSIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CL_COSIG_TYPE 0x04
#define CL_COSIG_BLOB_BYTES (4 + 8 + 64)
#define CL_CNOTE_MAX_SIGS 100   /* signature lines accepted per note */
#define CL_CNOTE_MAX_BLOB 256   /* decoded bytes per signature line */

/* A witness public key: name (NUL-terminated), key ID and key. */
struct cl_cosig_key {
	char name[256];
	uint32_t id;
	unsigned char pk[32];
};

/* Parse a 0x04 verifier key (nothing around it).  CL_EINVAL with *err. */
int cl_cosig_vkey_parse(const char *vkey, struct cl_cosig_key *k, char **err);
/* Append the verifier key of `k` to out. */
int cl_cosig_vkey_format(const struct cl_cosig_key *k, struct cl_buf *out);

/*
 * Append the signer key of name/seed to `out` (grown first so that the
 * secret is never left in freed memory; the caller wipes `out`).
 */
int cl_cosig_skey_format(const char *name, const unsigned char seed[32],
			 struct cl_buf *out);
/*
 * Parse a signer key of `len` bytes (one trailing "\n" accepted).  On
 * CL_OK k is the public key and sk (64 bytes: seed || pk, normally
 * sodium_malloc'd by the caller) the secret key.  Stack copies are wiped.
 */
int cl_cosig_skey_parse(const char *skey, size_t len, struct cl_cosig_key *k,
			unsigned char sk[64], char **err);

/* One signature line of a note: pointers into the parsed note. */
struct cl_cnote_sig {
	const char *line;     /* the whole line, "\n" included */
	size_t line_len;
	char name[256];       /* the key name */
	uint32_t id;          /* first 4 bytes of the blob */
	unsigned char blob[CL_CNOTE_MAX_BLOB];
	size_t blob_len;      /* >= 5 */
};

struct cl_cnote {
	size_t text_len;      /* the text (the signed body), final "\n" included */
	size_t nsigs;
	struct cl_cnote_sig sigs[CL_CNOTE_MAX_SIGS];
};

/*
 * Parse a signed note with any number of signatures (`len` bytes): valid
 * UTF-8 without control characters but "\n", ending in "\n"; the text is
 * everything before the last blank line; each line after it is
 * "\u2014 <valid key name> <canonical padded base64 of 5..256 bytes>";
 * 1..CL_CNOTE_MAX_SIGS lines.  Nothing is verified.  *n is large: callers
 * allocate it (malloc) rather than put it on a small stack.
 */
int cl_cnote_parse(const char *note, size_t len, struct cl_cnote *n,
		   char **err);

/*
 * The signed message of a cosignature at `time` over body[0..len), into
 * out (appended).
 */
int cl_cosig_message(uint64_t time, const char *body, size_t len,
		     struct cl_buf *out);

/*
 * Cosign the checkpoint body[0..len) at `time` (> 0) with the secret key
 * sk of key k: append the signature line to out.  The signature is
 * checked against k.pk before it is written.
 */
int cl_cosig_sign(const struct cl_cosig_key *k, const unsigned char sk[64],
		  uint64_t time, const char *body, size_t len,
		  struct cl_buf *out, char **err);

/*
 * Verify a parsed signature line `s` as a cosignature of k over
 * body[0..len).  CL_ENOTFOUND if the line is not k's (name or ID differ);
 * CL_EBADSIG if it is k's and does not verify (or is not 76 bytes, or its
 * time is 0); CL_OK with *time set.
 */
int cl_cosig_verify(const struct cl_cosig_key *k, const struct cl_cnote_sig *s,
		    const char *body, size_t len, uint64_t *time)
	__attribute__((warn_unused_result));

#endif
