/*
 * note.c - C2SP signed notes, checkpoints and offline proofs (see note.h).
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

#include "archiver/ledger/note.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define EM_DASH_SP "\xe2\x80\x94 " /* U+2014 and a space */
#define EM_DASH_SP_LEN 4
#define SKEY_PREFIX "PRIVATE+KEY+"
#define SKEY_PREFIX_LEN 12
#define KEY_RAW_BYTES 33 /* type byte || 32-byte public key or seed */
#define KEY_B64_BYTES \
	sodium_base64_ENCODED_LEN(KEY_RAW_BYTES, sodium_base64_VARIANT_ORIGINAL)
#define SIG_BLOB_BYTES (4 + crypto_sign_BYTES)
#define HASH_B64_LEN 44 /* padded base64 of 32 bytes */

/* ---- small helpers -------------------------------------------------- */

/* Shorten `b` to `len` bytes (len <= b->len), keeping the NUL invariant. */
static void buf_truncate(struct cl_buf *b, size_t len)
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
static int buf_reserve(struct cl_buf *b, size_t n)
{
	static const unsigned char zero[64];
	size_t start = b->len;
	int rc = CL_OK;

	while (n > 0 && rc == CL_OK) {
		size_t k = n < sizeof(zero) ? n : sizeof(zero);

		rc = cl_buf_add(b, zero, k);
		n -= k;
	}
	buf_truncate(b, start);
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
static int text_valid(const char *s, size_t n)
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
static int name_valid_n(const char *s, size_t n)
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
static int parse_u64(const char *s, size_t n, uint64_t *out)
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
static int parse_hex32(const char *s, uint32_t *out)
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

/* A cursor over newline-terminated lines. */
struct lines {
	const char *s;
	size_t len;
	size_t pos;
};

/*
 * Return in (*line, *n) the next line without its "\n" and step past it.
 * -1 at the end of the text or if the rest has no "\n".
 */
static int next_line(struct lines *it, const char **line, size_t *n)
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
static int b64_alphabet(const char *s, size_t n)
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
static int b64_decode(const char *s, size_t n, struct cl_buf *out)
{
	if (!b64_alphabet(s, n))
		return CL_EINVAL;
	return cl_b64_decode(s, n, out);
}

/* 1 if line[0..n) starts with the NUL-terminated `prefix`. */
static int has_prefix(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(line, prefix, k) == 0;
}

/*
 * Decode s[0..n), padded base64 of exactly 32 bytes, into out.  CL_EINVAL
 * for anything else, CL_ENOMEM.
 */
static int b64_hash(const char *s, size_t n, unsigned char out[32])
{
	struct cl_buf b;
	int rc;

	if (n != HASH_B64_LEN)
		return CL_EINVAL;
	cl_buf_init(&b, 32);
	rc = b64_decode(s, n, &b);
	if (rc == CL_OK && b.len != 32)
		rc = CL_EINVAL;
	if (rc == CL_OK)
		memcpy(out, b.data, 32);
	cl_buf_release(&b);
	return rc;
}

/* Append base64 of each of `count` hashes, one per line. */
static int add_hash_lines(struct cl_buf *out, const unsigned char (*h)[32],
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
static char *dup_n(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

/* ---- keys ----------------------------------------------------------- */

uint32_t cl_note_key_id(const char *name, unsigned char type,
			const unsigned char *pk, size_t pklen)
{
	unsigned char small[2 + 64], *tail = small, h[CL_SHA256_BYTES];
	uint32_t id;

	if (pklen > sizeof(small) - 2) {
		tail = pklen < SIZE_MAX - 2 ? malloc(pklen + 2) : NULL;
		if (tail == NULL)
			abort(); /* as cl_sha256 does on exhaustion */
	}
	tail[0] = '\n';
	tail[1] = type;
	if (pklen > 0)
		memcpy(tail + 2, pk, pklen);
	cl_sha256_2(name, strlen(name), tail, pklen + 2, h);
	id = cl_load_be32(h);
	if (tail != small)
		free(tail);
	return id;
}

int cl_note_name_valid(const char *name)
{
	return name != NULL && name_valid_n(name, strlen(name));
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
	rc = buf_reserve(out, strlen(prefix) + strlen(name) + 10 +
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
		buf_truncate(out, start);
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
	if (!name_valid_n(s, nlen)) {
		rc = cl_error(err, CL_EINVAL, "%s has an invalid name", what);
		goto out;
	}
	if (len - nlen - 1 < 9 || s[nlen + 9] != '+' ||
	    parse_hex32(s + nlen + 1, &want) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "%s has no 8-digit hex key ID after the name",
			      what);
		goto out;
	}
	b64 = s + nlen + 10;
	blen = len - nlen - 10;
	if (!b64_alphabet(b64, blen) ||
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
	nm = dup_n(s, nlen);
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
	if (!has_prefix(skey, len, SKEY_PREFIX))
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
	if (len == 0 || text[len - 1] != '\n' || !text_valid(text, len)) {
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
		buf_truncate(out, start);
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
	struct lines it;
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
	if (!text_valid(note, len)) {
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
	while (next_line(&it, &line, &n) == 0) {
		const char *sp, *b64;
		size_t lnlen;

		if (++nsigs > CL_NOTE_MAX_SIGS) {
			rc = cl_error(err, CL_EINVAL,
				      "note has more than %d signatures",
				      CL_NOTE_MAX_SIGS);
			goto out;
		}
		if (!has_prefix(line, n, EM_DASH_SP)) {
			rc = cl_error(err, CL_EINVAL,
				      "signature line %zu does not start with "
				      "an em dash and a space", nsigs);
			goto out;
		}
		line += EM_DASH_SP_LEN;
		n -= EM_DASH_SP_LEN;
		sp = memchr(line, ' ', n);
		if (sp == NULL || !name_valid_n(line, (size_t)(sp - line))) {
			rc = cl_error(err, CL_EINVAL,
				      "signature line %zu has no valid key name",
				      nsigs);
			goto out;
		}
		lnlen = (size_t)(sp - line);
		b64 = sp + 1;
		cl_buf_reset(&blob);
		rc = b64_decode(b64, n - lnlen - 1, &blob);
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

/* ---- checkpoints ---------------------------------------------------- */

int cl_checkpoint_format(const char *origin, uint64_t size,
			 const unsigned char root[32], struct cl_buf *out)
{
	size_t start = out->len, olen = strlen(origin);
	int rc;

	if (olen == 0 || memchr(origin, '\n', olen) != NULL ||
	    !text_valid(origin, olen))
		return CL_EINVAL;
	rc = cl_buf_addf(out, "%s\n%" PRIu64 "\n", origin, size);
	if (rc == CL_OK)
		rc = cl_b64_add(out, root, 32);
	if (rc == CL_OK)
		rc = cl_buf_add(out, "\n", 1);
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int cl_checkpoint_parse(const char *text, size_t len,
			struct cl_checkpoint *cp, char **err)
{
	struct lines it = { text, len, 0 };
	const char *line, *origin = NULL;
	size_t n, olen = 0;
	uint64_t size = 0;
	unsigned char root[32];
	int rc = CL_OK;

	memset(cp, 0, sizeof(*cp));
	if (len == 0 || text[len - 1] != '\n' || !text_valid(text, len)) {
		rc = cl_error(err, CL_EINVAL,
			      "checkpoint is not note text ending in a "
			      "newline");
		goto out;
	}
	if (next_line(&it, &origin, &olen) != 0 || olen == 0) {
		rc = cl_error(err, CL_EINVAL, "checkpoint has no origin");
		goto out;
	}
	if (next_line(&it, &line, &n) != 0 || parse_u64(line, n, &size)) {
		rc = cl_error(err, CL_EINVAL,
			      "checkpoint has a missing or bad tree size");
		goto out;
	}
	if (next_line(&it, &line, &n) != 0) {
		rc = cl_error(err, CL_EINVAL, "checkpoint has no root hash");
		goto out;
	}
	rc = b64_hash(line, n, root);
	if (rc) {
		rc = cl_error(err, rc, "checkpoint has a bad root hash");
		goto out;
	}
	while (next_line(&it, &line, &n) == 0) {
		if (n == 0) {
			rc = cl_error(err, CL_EINVAL,
				      "checkpoint has an empty extension line");
			goto out;
		}
	}
	cp->origin = dup_n(origin, olen);
	if (cp->origin == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	cp->size = size;
	memcpy(cp->root, root, sizeof(root));
out:
	return rc;
}

void cl_checkpoint_release(struct cl_checkpoint *cp)
{
	free(cp->origin);
	memset(cp, 0, sizeof(*cp));
}

/* ---- offline proofs ------------------------------------------------- */

/* 1 if s[0..n) can be the signed checkpoint at the end of a tlog-proof. */
static int checkpoint_plausible(const char *s, size_t n)
{
	return n > 0 && s[0] != '\n' && s[n - 1] == '\n' && text_valid(s, n);
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
		rc = add_hash_lines(out, proof, count);
	if (rc == CL_OK)
		rc = cl_buf_add(out, "\n", 1);
	if (rc == CL_OK)
		rc = cl_buf_add(out, signed_checkpoint, cp_len);
out:
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int cl_tlog_proof_parse(const char *text, size_t len,
			struct cl_tlog_proof *p, char **err)
{
	struct lines it = { text, len, 0 };
	struct cl_buf hashes, extra;
	const char *line;
	size_t n, count = 0, cp_len;
	uint64_t index = 0;
	char *cp = NULL;
	int rc = CL_OK;

	memset(p, 0, sizeof(*p));
	cl_buf_init(&hashes, (size_t)CL_PROOF_MAX_HASHES * 32);
	cl_buf_init(&extra, len);
	if (!text_valid(text, len)) {
		rc = cl_error(err, CL_EINVAL,
			      "proof is not UTF-8 without control characters");
		goto out;
	}
	if (next_line(&it, &line, &n) != 0 ||
	    n != strlen(CL_TLOG_PROOF_HEADER) ||
	    memcmp(line, CL_TLOG_PROOF_HEADER, n) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "proof does not start with "
			      CL_TLOG_PROOF_HEADER);
		goto out;
	}
	if (next_line(&it, &line, &n) != 0) {
		rc = cl_error(err, CL_EINVAL, "proof has no index line");
		goto out;
	}
	if (has_prefix(line, n, "extra ")) {
		rc = n > 6 ? b64_decode(line + 6, n - 6, &extra) : CL_EINVAL;
		if (rc) {
			rc = cl_error(err, rc, "proof has a bad extra line");
			goto out;
		}
		if (next_line(&it, &line, &n) != 0) {
			rc = cl_error(err, CL_EINVAL, "proof has no index line");
			goto out;
		}
	}
	if (!has_prefix(line, n, "index ") ||
	    parse_u64(line + 6, n - 6, &index) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "proof has a missing or bad index line");
		goto out;
	}
	for (;;) {
		unsigned char h[32];

		if (next_line(&it, &line, &n) != 0) {
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
		rc = b64_hash(line, n, h);
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
	cp = dup_n(text + it.pos, cp_len);
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
		rc = add_hash_lines(out, proof, count);
	if (rc)
		buf_truncate(out, start);
	return rc;
}

int cl_consistency_proof_parse(const char *text, size_t len,
			       uint64_t *old_size, uint64_t *new_size,
			       unsigned char (**proof)[32], size_t *count,
			       char **err)
{
	struct lines it = { text, len, 0 };
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
	if (next_line(&it, &line, &n) != 0 ||
	    n != strlen(CL_CONSISTENCY_PROOF_HEADER) ||
	    memcmp(line, CL_CONSISTENCY_PROOF_HEADER, n) != 0) {
		rc = cl_error(err, CL_EINVAL,
			      "consistency proof does not start with "
			      CL_CONSISTENCY_PROOF_HEADER);
		goto out;
	}
	if (next_line(&it, &line, &n) != 0 || !has_prefix(line, n, "old ") ||
	    parse_u64(line + 4, n - 4, &o) != 0 ||
	    next_line(&it, &line, &n) != 0 || !has_prefix(line, n, "new ") ||
	    parse_u64(line + 4, n - 4, &m) != 0) {
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
	while (next_line(&it, &line, &n) == 0) {
		unsigned char h[32];

		if (k == CL_PROOF_MAX_HASHES) {
			rc = cl_error(err, CL_EINVAL,
				      "consistency proof has more than %d "
				      "hashes", CL_PROOF_MAX_HASHES);
			goto out;
		}
		rc = b64_hash(line, n, h);
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
