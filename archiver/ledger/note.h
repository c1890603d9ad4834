/*
 * note.h - C2SP signed notes and their keys.  Checkpoint bodies are in
 * checkpoint.h, offline proofs in proof.h; the three share the rules
 * below.
 *
 * Implements, from the C2SP specifications:
 *   - signed-note (c2sp.org/signed-note): text, a blank line, then
 *     signature lines "\u2014 <name> base64(key ID || signature)\n", with
 *     Ed25519 keys (type byte 0x01) only;
 *   - verifier keys "name+hex8(id)+base64(0x01||pk)" and the Go sumdb
 *     signer keys "PRIVATE+KEY+name+hex8(id)+base64(0x01||seed)";
 *   - tlog-checkpoint (c2sp.org/tlog-checkpoint) note bodies;
 *   - tlog-proof (c2sp.org/tlog-proof@v1) offline inclusion proofs;
 *   - our own consistency-proof text (see cl_consistency_proof_format).
 *
 * All functions return an enum cl_status: CL_OK, CL_EINVAL for malformed
 * input or bad arguments, CL_EBADSIG when a signature is bad or missing,
 * CL_ENOMEM.  Detail text, where a function takes `char **err`, goes to
 * *err through cl_error() (first error wins; the caller frees it).
 * Functions that append to a struct cl_buf leave it unchanged on failure.
 * The caller must have called sodium_init().
 */
#ifndef CL_NOTE_H
#define CL_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Signature type byte of Ed25519 note signatures. */
#define CL_NOTE_ED25519 0x01
/* Verifiers accept at most this many signature lines per note. */
#define CL_NOTE_MAX_SIGS 100

/* ---- keys ----------------------------------------------------------- */

/*
 * The key ID of a note key: the first 4 bytes, read big-endian, of
 * SHA-256(name || 0x0A || type || pk), hashed incrementally.  Cannot
 * fail.
 */
uint32_t cl_note_key_id(const char *name, unsigned char type,
			const unsigned char *pk, size_t pklen);

/*
 * 1 if `name` may be a key name: non-empty, valid UTF-8, no Unicode space
 * (the set Go's unicode.IsSpace knows), no '+', no control character
 * (C0, DEL, C1).  0 otherwise.
 */
int cl_note_name_valid(const char *name);

/*
 * Append the verifier key "name+hex8(id)+base64(0x01||pk)" to `out`.
 * CL_EINVAL if the name is not valid.
 */
int cl_note_vkey_format(const char *name, const unsigned char pk[32],
			struct cl_buf *out);

/*
 * Parse a verifier key (a C string, nothing around it).  Rejects invalid
 * names, an ID that is not 8 hex digits or does not match the key, a key
 * type other than 0x01 and a key that is not 32 bytes.  On CL_OK *name is
 * a malloc'd copy the caller frees, *id and pk are set; on failure *name
 * is NULL and *id and pk are untouched.
 */
int cl_note_vkey_parse(const char *vkey, char **name, uint32_t *id,
		       unsigned char pk[32], char **err);

/*
 * Append the signer key "PRIVATE+KEY+name+hex8(id)+base64(0x01||seed)"
 * (the golang.org/x/mod/sumdb/note format) to `out`; id is computed from
 * the public key derived from `seed`.  To avoid stray copies of the secret
 * in freed heap memory, `out` is grown before the secret is written (with
 * room for 16 more bytes, e.g. a final newline), and every stack copy is
 * wiped; the caller wipes and releases `out`.
 */
int cl_note_skey_format(const char *name, const unsigned char seed[32],
			struct cl_buf *out);

/*
 * Parse a signer key of `len` bytes (a single trailing "\n", as in a key
 * file, is accepted).  Checks the name, the 0x01 type byte, the 32-byte
 * seed and that the ID matches the derived public key.  On CL_OK *name is
 * malloc'd (caller frees), *id and seed are set; on failure *name is NULL
 * and seed is untouched.  Stack copies of the secret are wiped.
 */
int cl_note_skey_parse(const char *skey, size_t len, char **name,
		       uint32_t *id, unsigned char seed[32], char **err);

/* ---- signed notes --------------------------------------------------- */

/*
 * Sign `text` (`len` bytes: non-empty, valid UTF-8, no control character
 * but "\n", ending in "\n") as key `name` with the 64-byte libsodium
 * secret key `sk` (seed || public key).  Appends the signed note to `out`:
 * the text, "\n", then "\u2014 name base64(id || signature)\n".  The
 * signature is verified against the public half of `sk` before anything
 * is written; a mismatch (a corrupt key) is CL_EBADSIG.
 */
int cl_note_sign(const char *text, size_t len, const char *name,
		 const unsigned char sk[64], struct cl_buf *out, char **err);

/*
 * Verify the signed note `note` (`len` bytes) against the one known
 * Ed25519 key (name, id, pk).  The text is separated from the signatures
 * at the last blank line.  The whole note must be valid UTF-8 without
 * control characters but "\n"; every signature line is parsed strictly
 * (em dash, space, valid name, space, padded base64 of at least 5 bytes,
 * newline), and at most CL_NOTE_MAX_SIGS lines are accepted.  Lines whose
 * name or ID differ from the known key's are ignored.  Every line with
 * the known name and ID must verify.
 *
 * Returns CL_OK and sets *text_len (if non-NULL) to the length of the
 * text, final "\n" included; CL_EINVAL if the note is malformed;
 * CL_EBADSIG if a matching line fails to verify or no line matches.
 */
int cl_note_verify(const char *note, size_t len, const char *name,
		   uint32_t id, const unsigned char pk[32], size_t *text_len,
		   char **err) __attribute__((warn_unused_result));

#endif
