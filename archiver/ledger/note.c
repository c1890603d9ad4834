/*
 * note.c - C2SP signed notes and note keys (see note.h).
 *
 * Everything here is a strict parser or an exact formatter of a text
 * format; nothing is read from or written to files.  Base64 goes through
 * cl_b64_add/cl_b64_decode, except where the bytes are secret (signer
 * keys): there libsodium's codec writes into stack buffers that are wiped,
 * because the util.h helpers free their scratch memory without wiping it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/notetext.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

/* ---- keys ----------------------------------------------------------- */

uint32_t cl_note_key_id(const char *name, unsigned char type,
			const unsigned char *pk, size_t pklen)
{
	struct cl_sha256_ctx st;
	unsigned char sep[2], h[crypto_hash_sha256_BYTES];
	uint32_t id;

	sep[0] = '\n';
	sep[1] = type;
	cl_sha256_init(&st);
	cl_sha256_update(&st, (const unsigned char *)name, strlen(name));
	cl_sha256_update(&st, sep, sizeof(sep));
	if (pklen > 0)
		cl_sha256_update(&st, pk, pklen);
	cl_sha256_final(&st, h);
	id = cl_load_be32(h);
	return id;
}

int cl_note_name_valid(const char *name)
{
	return name != NULL && cl_nt_name_valid_n(name, strlen(name));
}

/*
 * Append "<prefix>name+hex8(id)+base64(0x01||material)" to out; `pk` is
 * the public key the ID is computed from.  The material may be secret:
 * it is encoded on the stack, `out` is grown first (with room for a few
 * more bytes, such as a final newline), and every copy but the one in
 * `out` is wiped; on failure the appended bytes are wiped too.
 */
static int key_format(const char *prefix, const char *name,
		      const unsigned char pk[32],
		      const unsigned char material[32], struct cl_buf *out)
{
	unsigned char raw[KEY_RAW_BYTES];
	char b64[KEY_B64_BYTES];
	size_t start = out->len;
	int rc = CL_OK;

	if (!cl_note_name_valid(name)) {
		rc = CL_EINVAL;
		goto out;
	}
	raw[0] = CL_NOTE_ED25519;
	memcpy(raw + 1, material, 32);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
			  sodium_base64_VARIANT_ORIGINAL);
	/* Slack so that a caller's trailing "\n" does not reallocate. */
	rc = cl_nt_buf_reserve(out, strlen(prefix) + strlen(name) + 10 +
				      strlen(b64) + 16);
	if (rc)
		goto out;
	rc = cl_buf_addf(out, "%s%s+%08" PRIx32 "+", prefix, name,
			 cl_note_key_id(name, CL_NOTE_ED25519, pk, 32));
	if (rc == CL_OK)
		rc = cl_buf_addstr(out, b64);
out:
	if (rc && out->data != NULL) {
		sodium_memzero(out->data + start, out->alloc - start);
		cl_nt_buf_truncate(out, start);
	}
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

int cl_note_vkey_format(const char *name, const unsigned char pk[32],
			struct cl_buf *out)
{
	return key_format("", name, pk, pk, out);
}

int cl_note_skey_format(const char *name, const unsigned char seed[32],
			struct cl_buf *out)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	int rc = CL_OK;

	if (crypto_sign_seed_keypair(pk, sk, seed) != 0) {
		rc = CL_EINVAL;
		goto out;
	}
	rc = key_format(SKEY_PREFIX, name, pk, seed, out);
out:
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

/*
 * Parse "name+hex8(id)+base64(0x01||32 bytes)" in s[0..len).  For a
 * signer key (`secret`), the 32 bytes are a seed and the ID is checked
 * against the public key derived from it.  Outputs as cl_note_vkey_parse.
 */
static int key_parse(const char *s, size_t len, int secret, char **name,
		     uint32_t *id, unsigned char key[32], char **err)
{
	unsigned char raw[128]; /* room to tell "too long" from bad base64 */
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	const char *plus, *b64, *end = NULL;
	const char *what = secret ? "signer key" : "verifier key";
	char *nm = NULL;
	size_t nlen, blen, got = 0;
	uint32_t want;
	int rc = CL_OK;

	*name = NULL;
	plus = memchr(s, '+', len);
	if (plus == NULL) {
		rc = cl_error(err, CL_EINVAL, "%s has no '+'", what);
		goto out;
	}
	nlen = (size_t)(plus - s);
	if (!cl_nt_name_valid_n(s, nlen)) {
		rc = cl_error(err, CL_EINVAL, "%s has an invalid name", what);
		goto out;
	}
	if (len - nlen - 1 < 9 || s[nlen + 9] != '+' ||
	    cl_nt_parse_hex32(s + nlen + 1, &want) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "%s has no 8-digit hex key ID after the name",
			      what);
		goto out;
	}
	b64 = s + nlen + 10;
	blen = len - nlen - 10;
	if (!cl_nt_b64_alphabet(b64, blen) ||
	    sodium_base642bin(raw, sizeof(raw), b64, blen, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + blen) {
		rc = cl_error(err, CL_EINVAL, "%s has bad or overlong base64",
			      what);
		goto out;
	}
	if (got < 1 || raw[0] != CL_NOTE_ED25519) {
		rc = cl_error(err, CL_EINVAL, "%s has an unknown key type",
			      what);
		goto out;
	}
	if (got != KEY_RAW_BYTES) {
		rc = cl_error(err, CL_EINVAL, "%s is not 32 bytes long", what);
		goto out;
	}
	if (secret) {
		if (crypto_sign_seed_keypair(pk, sk, raw + 1) != 0) {
			rc = cl_error(err, CL_EINVAL, "unusable signer key");
			goto out;
		}
	} else {
		memcpy(pk, raw + 1, sizeof(pk));
	}
	nm = cl_nt_dup_n(s, nlen);
	if (nm == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (cl_note_key_id(nm, CL_NOTE_ED25519, pk, sizeof(pk)) != want) {
		rc = cl_error(err, CL_EINVAL,
			      "%s ID %08" PRIx32 " does not match the key",
			      what, want);
		goto out;
	}
	memcpy(key, raw + 1, 32);
	*id = want;
	*name = nm;
	nm = NULL;
out:
	free(nm);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int cl_note_vkey_parse(const char *vkey, char **name, uint32_t *id,
		       unsigned char pk[32], char **err)
{
	return key_parse(vkey, strlen(vkey), 0, name, id, pk, err);
}

int cl_note_skey_parse(const char *skey, size_t len, char **name,
		       uint32_t *id, unsigned char seed[32], char **err)
{
	*name = NULL;
	if (len > 0 && skey[len - 1] == '\n')
		len--;
	if (!cl_nt_has_prefix(skey, len, SKEY_PREFIX))
		return cl_error(err, CL_EINVAL,
				"signer key does not start with "
				"PRIVATE+KEY+");
	return key_parse(skey + SKEY_PREFIX_LEN, len - SKEY_PREFIX_LEN, 1,
			 name, id, seed, err);
}

/* ---- signed notes --------------------------------------------------- */

int cl_note_sign(const char *text, size_t len, const char *name,
		 const unsigned char sk[64], struct cl_buf *out, char **err)
{
	const unsigned char *msg = (const unsigned char *)text;
	const unsigned char *pk = sk + crypto_sign_SEEDBYTES;
	unsigned char blob[SIG_BLOB_BYTES];
	size_t start = out->len;
	uint32_t id;
	int rc = CL_OK;

	if (!cl_note_name_valid(name)) {
		rc = cl_error(err, CL_EINVAL, "invalid key name");
		goto out;
	}
	if (len == 0 || text[len - 1] != '\n' || !cl_nt_text_valid(text, len)) {
		rc = cl_error(err, CL_EINVAL,
			      "note text must be non-empty UTF-8 without "
			      "control characters and end in a newline");
		goto out;
	}
	id = cl_note_key_id(name, CL_NOTE_ED25519, pk, crypto_sign_PUBLICKEYBYTES);
	blob[0] = (unsigned char)(id >> 24);
	blob[1] = (unsigned char)(id >> 16);
	blob[2] = (unsigned char)(id >> 8);
	blob[3] = (unsigned char)id;
	if (crypto_sign_detached(blob + 4, NULL, msg, len, sk) != 0 ||
	    crypto_sign_verify_detached(blob + 4, msg, len, pk) != 0) {
		rc = cl_error(err, CL_EBADSIG,
			      "the new signature does not verify: corrupt key");
		goto out;
	}
	rc = cl_buf_add(out, text, len);
	if (rc == CL_OK)
		rc = cl_buf_add(out, "\n" EM_DASH_SP, 1 + EM_DASH_SP_LEN);
	if (rc == CL_OK)
		rc = cl_buf_addstr(out, name);
	if (rc == CL_OK)
		rc = cl_buf_add(out, " ", 1);
	if (rc == CL_OK)
		rc = cl_b64_add(out, blob, sizeof(blob));
	if (rc == CL_OK)
		rc = cl_buf_add(out, "\n", 1);
	if (rc)
		rc = cl_error(err, rc, "cannot append the signed note");
out:
	if (rc)
		cl_nt_buf_truncate(out, start);
	return rc;
}

/*
 * Length of the text part of note[0..len) (which ends in "\n"): the text
 * ends just before the last blank line.  0 if there is no blank line.
 */
static size_t note_text_len(const char *note, size_t len)
{
	size_t i;

	for (i = len - 1; i > 0; i--) {
		if (note[i] == '\n' && note[i - 1] == '\n')
			return i;
	}
	return 0;
}

int cl_note_verify(const char *note, size_t len, const char *name,
		   uint32_t id, const unsigned char pk[32], size_t *text_len,
		   char **err)
{
	struct cl_nt_lines it;
	struct cl_buf blob;
	const char *line;
	size_t n, nlen, tlen, nsigs = 0, bad_line = 0;
	int rc = CL_OK, matched = 0;

	cl_buf_init(&blob, len);
	if (!cl_note_name_valid(name)) {
		rc = cl_error(err, CL_EINVAL, "invalid key name");
		goto out;
	}
	nlen = strlen(name);
	if (len == 0 || note[len - 1] != '\n') {
		rc = cl_error(err, CL_EINVAL, "note does not end in a newline");
		goto out;
	}
	if (!cl_nt_text_valid(note, len)) {
		rc = cl_error(err, CL_EINVAL,
			      "note is not UTF-8 without control characters");
		goto out;
	}
	tlen = note_text_len(note, len);
	if (tlen == 0) {
		rc = cl_error(err, CL_EINVAL,
			      "note has no blank line before its signatures");
		goto out;
	}
	if (tlen + 1 == len) {
		rc = cl_error(err, CL_EINVAL, "note has no signature lines");
		goto out;
	}
	it.s = note;
	it.len = len;
	it.pos = tlen + 1;
	/* The note ends in "\n", so this visits every signature line. */
	while (cl_nt_next_line(&it, &line, &n) == 0) {
		const char *sp, *b64;
		size_t lnlen;

		if (++nsigs > CL_NOTE_MAX_SIGS) {
			rc = cl_error(err, CL_EINVAL,
				      "note has more than %d signatures",
				      CL_NOTE_MAX_SIGS);
			goto out;
		}
		if (!cl_nt_has_prefix(line, n, EM_DASH_SP)) {
			rc = cl_error(err, CL_EINVAL,
				      "signature line %zu does not start with "
				      "an em dash and a space", nsigs);
			goto out;
		}
		line += EM_DASH_SP_LEN;
		n -= EM_DASH_SP_LEN;
		sp = memchr(line, ' ', n);
		if (sp == NULL || !cl_nt_name_valid_n(line, (size_t)(sp - line))) {
			rc = cl_error(err, CL_EINVAL,
				      "signature line %zu has no valid key name",
				      nsigs);
			goto out;
		}
		lnlen = (size_t)(sp - line);
		b64 = sp + 1;
		cl_buf_reset(&blob);
		rc = cl_nt_b64_decode(b64, n - lnlen - 1, &blob);
		if (rc == CL_ENOMEM)
			goto out;
		if (rc || blob.len < 5) {
			rc = cl_error(err, CL_EINVAL,
				      "signature line %zu has bad base64 or is "
				      "shorter than 5 bytes", nsigs);
			goto out;
		}
		if (lnlen != nlen || memcmp(line, name, nlen) != 0 ||
		    cl_load_be32(blob.data) != id)
			continue; /* an unknown key: ignored */
		matched = 1;
		if (bad_line == 0 &&
		    (blob.len != SIG_BLOB_BYTES ||
		     crypto_sign_verify_detached(blob.data + 4,
						 (const unsigned char *)note,
						 tlen, pk) != 0))
			bad_line = nsigs;
	}
	if (bad_line) {
		rc = cl_error(err, CL_EBADSIG,
			      "signature line %zu by %s does not verify",
			      bad_line, name);
		goto out;
	}
	if (!matched) {
		rc = cl_error(err, CL_EBADSIG,
			      "note has no signature by %s+%08" PRIx32, name,
			      id);
		goto out;
	}
	if (text_len)
		*text_len = tlen;
out:
	cl_buf_release(&blob);
	return rc;
}

