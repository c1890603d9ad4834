/*
 * cosig.c - tlog-cosignature/v1 keys and signatures, and the cosigned-note
 * parser (cosig.h).  Strict parsers and exact formatters; no I/O.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/note.h"
#include "archiver/witness/cosig.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define EM_DASH "\xe2\x80\x94 "
#define SKEY_PREFIX "PRIVATE+KEY+"
#define RAW_KEY 33

/* 1 if s[0..n) is valid UTF-8 with no control character but "\n". */
static int text_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], need, j;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
		else return 0;
		if (n - i <= need)
			return 0;
		for (j = 1; j <= need; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += need + 1;
	}
	return 1;
}

/* Decode canonical padded base64 s[0..n) into out (cap bytes): it must
 * re-encode to exactly the same text.  Returns the length or -1. */
static long b64_canonical(const char *s, size_t n, unsigned char *out, size_t cap)
{
	struct cl_buf b, e;
	long r = -1;

	cl_buf_init(&b, cap);
	cl_buf_init(&e, n + 8);
	if (n == 0 || n % 4 != 0 || cl_b64_decode(s, n, &b) != CL_OK || b.len > cap)
		goto out;
	if (cl_b64_add(&e, b.data, b.len) != CL_OK || e.len != n ||
	    memcmp(e.data, s, n) != 0)
		goto out;
	memcpy(out, b.data, b.len);
	r = (long)b.len;
out:
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	cl_buf_release(&e);
	return r;
}

/* Split "name+hex8+b64" (after any prefix) into its parts. */
static int key_split(const char *s, char name[256], uint32_t *id,
		     unsigned char raw[RAW_KEY], char **err)
{
	const char *p1 = strchr(s, '+'), *p2;
	size_t nl;
	char hex[9];
	unsigned char idb[4];

	if (p1 == NULL || (p2 = strchr(p1 + 1, '+')) == NULL)
		return cl_error(err, CL_EINVAL, "a key is name+id+key");
	nl = (size_t)(p1 - s);
	if (nl == 0 || nl >= 256)
		return cl_error(err, CL_EINVAL, "bad key name length");
	memcpy(name, s, nl);
	name[nl] = 0;
	if (!cl_note_name_valid(name))
		return cl_error(err, CL_EINVAL, "invalid key name");
	if (p2 - p1 - 1 != 8)
		return cl_error(err, CL_EINVAL, "the key ID must be 8 hex digits");
	memcpy(hex, p1 + 1, 8);
	hex[8] = 0;
	if (cl_hex_decode(hex, idb, 4) != CL_OK)
		return cl_error(err, CL_EINVAL, "the key ID must be 8 hex digits");
	*id = cl_load_be32(idb);
	if (b64_canonical(p2 + 1, strlen(p2 + 1), raw, RAW_KEY) != RAW_KEY)
		return cl_error(err, CL_EINVAL, "the key must be base64 of 33 bytes");
	if (raw[0] != CL_COSIG_TYPE)
		return cl_error(err, CL_EINVAL,
				"not a cosignature/v1 key (type 0x%02x, want 0x04)", raw[0]);
	return CL_OK;
}

int cl_cosig_vkey_parse(const char *vkey, struct cl_cosig_key *k, char **err)
{
	unsigned char raw[RAW_KEY];
	struct cl_cosig_key t;
	int rc;

	memset(&t, 0, sizeof(t));
	if ((rc = key_split(vkey, t.name, &t.id, raw, err)))
		return rc;
	memcpy(t.pk, raw + 1, 32);
	if (cl_note_key_id(t.name, CL_COSIG_TYPE, t.pk, 32) != t.id)
		return cl_error(err, CL_EINVAL, "the key ID does not match the key");
	*k = t;
	return CL_OK;
}

int cl_cosig_vkey_format(const struct cl_cosig_key *k, struct cl_buf *out)
{
	unsigned char raw[RAW_KEY];
	int rc;

	if (!cl_note_name_valid(k->name))
		return CL_EINVAL;
	raw[0] = CL_COSIG_TYPE;
	memcpy(raw + 1, k->pk, 32);
	if ((rc = cl_buf_addf(out, "%s+%08" PRIx32 "+", k->name, k->id)))
		return rc;
	return cl_b64_add(out, raw, sizeof(raw));
}

int cl_cosig_skey_format(const char *name, const unsigned char seed[32],
			 struct cl_buf *out)
{
	unsigned char raw[RAW_KEY], pk[32], sk[64];
	char b64[sodium_base64_ENCODED_LEN(RAW_KEY, sodium_base64_VARIANT_ORIGINAL)];
	int rc;

	if (!cl_note_name_valid(name))
		return CL_EINVAL;
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0)
		return CL_EINVAL;
	raw[0] = CL_COSIG_TYPE;
	memcpy(raw + 1, seed, 32);
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
			  sodium_base64_VARIANT_ORIGINAL);
	rc = cl_buf_reserve(out, strlen(name) + sizeof(b64) + 40);
	if (rc == CL_OK)
		rc = cl_buf_addf(out, SKEY_PREFIX "%s+%08" PRIx32 "+%s\n", name,
				 cl_note_key_id(name, CL_COSIG_TYPE, pk, 32), b64);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(b64, sizeof(b64));
	return rc;
}

int cl_cosig_skey_parse(const char *skey, size_t len, struct cl_cosig_key *k,
			unsigned char sk[64], char **err)
{
	char buf[512];
	unsigned char raw[RAW_KEY];
	struct cl_cosig_key t;
	int rc;

	memset(&t, 0, sizeof(t));
	if (len > 0 && skey[len - 1] == '\n')
		len--;
	if (len >= sizeof(buf) || len < strlen(SKEY_PREFIX) ||
	    memcmp(skey, SKEY_PREFIX, strlen(SKEY_PREFIX)) != 0 ||
	    memchr(skey, 0, len) != NULL)
		return cl_error(err, CL_EINVAL, "not a witness signer key");
	memcpy(buf, skey, len);
	buf[len] = 0;
	rc = key_split(buf + strlen(SKEY_PREFIX), t.name, &t.id, raw, err);
	if (rc == CL_OK) {
		crypto_sign_seed_keypair(t.pk, sk, raw + 1);
		if (cl_note_key_id(t.name, CL_COSIG_TYPE, t.pk, 32) != t.id)
			rc = cl_error(err, CL_EINVAL, "the key ID does not match the key");
	}
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(raw, sizeof(raw));
	if (rc == CL_OK)
		*k = t;
	else
		sodium_memzero(sk, 64);
	return rc;
}

/* Parse one signature line l[0..n) (without "\n") into s. */
static int parse_sig(const char *l, size_t n, struct cl_cnote_sig *s, char **err)
{
	const char *sp;
	size_t nl;
	long bl;

	if (n < 4 || memcmp(l, EM_DASH, 4) != 0)
		return cl_error(err, CL_EINVAL, "a signature line must start with an em dash and a space");
	l += 4;
	n -= 4;
	sp = memchr(l, ' ', n);
	if (sp == NULL)
		return cl_error(err, CL_EINVAL, "a signature line has no signature");
	nl = (size_t)(sp - l);
	if (nl == 0 || nl >= sizeof(s->name))
		return cl_error(err, CL_EINVAL, "bad key name in a signature line");
	memcpy(s->name, l, nl);
	s->name[nl] = 0;
	if (!cl_note_name_valid(s->name))
		return cl_error(err, CL_EINVAL, "invalid key name in a signature line");
	bl = b64_canonical(sp + 1, n - nl - 1, s->blob, sizeof(s->blob));
	if (bl < 5)
		return cl_error(err, CL_EINVAL,
				"a signature must be canonical base64 of 5 to %d bytes",
				CL_CNOTE_MAX_BLOB);
	s->blob_len = (size_t)bl;
	s->id = cl_load_be32(s->blob);
	return CL_OK;
}

int cl_cnote_parse(const char *note, size_t len, struct cl_cnote *n, char **err)
{
	size_t i, pos;

	n->nsigs = 0;
	n->text_len = 0;
	if (len < 3 || note[len - 1] != '\n')
		return cl_error(err, CL_EINVAL, "a note must end in a newline");
	if (!text_valid(note, len))
		return cl_error(err, CL_EINVAL,
				"a note must be UTF-8 without control characters");
	/* The last blank line: the last "\n\n". */
	for (i = len - 1; i > 0; i--)
		if (note[i] == '\n' && note[i - 1] == '\n')
			break;
	if (i == 0)
		return cl_error(err, CL_EINVAL, "a note has no blank line before its signatures");
	n->text_len = i; /* up to and including the text's final "\n" */
	if (n->text_len < 2)
		return cl_error(err, CL_EINVAL, "a note has an empty text");
	pos = i + 1;
	if (pos >= len)
		return cl_error(err, CL_EINVAL, "a note has no signature");
	while (pos < len) {
		const char *nl = memchr(note + pos, '\n', len - pos);
		size_t ll = (size_t)(nl - (note + pos));
		struct cl_cnote_sig *s;
		int rc;

		if (n->nsigs == CL_CNOTE_MAX_SIGS)
			return cl_error(err, CL_EINVAL, "a note has more than %d signatures",
					CL_CNOTE_MAX_SIGS);
		s = &n->sigs[n->nsigs];
		if ((rc = parse_sig(note + pos, ll, s, err)))
			return rc;
		s->line = note + pos;
		s->line_len = ll + 1;
		n->nsigs++;
		pos += ll + 1;
	}
	return CL_OK;
}

int cl_cosig_message(uint64_t time, const char *body, size_t len,
		     struct cl_buf *out)
{
	int rc = cl_buf_addf(out, "cosignature/v1\ntime %" PRIu64 "\n", time);

	return rc ? rc : cl_buf_add(out, body, len);
}

int cl_cosig_sign(const struct cl_cosig_key *k, const unsigned char sk[64],
		  uint64_t time, const char *body, size_t len,
		  struct cl_buf *out, char **err)
{
	unsigned char blob[CL_COSIG_BLOB_BYTES];
	struct cl_buf msg;
	int rc;

	if (time == 0)
		return cl_error(err, CL_EINVAL, "a cosignature needs a non-zero time");
	cl_buf_init(&msg, len + 64);
	if ((rc = cl_cosig_message(time, body, len, &msg)))
		goto out;
	blob[0] = (unsigned char)(k->id >> 24);
	blob[1] = (unsigned char)(k->id >> 16);
	blob[2] = (unsigned char)(k->id >> 8);
	blob[3] = (unsigned char)k->id;
	cl_store_be64(blob + 4, time);
	crypto_sign_detached(blob + 12, NULL, msg.data, msg.len, sk);
	if (crypto_sign_verify_detached(blob + 12, msg.data, msg.len, k->pk) != 0) {
		rc = cl_error(err, CL_EBADSIG, "the witness key does not match its public key");
		goto out;
	}
	if ((rc = cl_buf_addf(out, EM_DASH "%s ", k->name)) ||
	    (rc = cl_b64_add(out, blob, sizeof(blob))) ||
	    (rc = cl_buf_add(out, "\n", 1)))
		goto out;
out:
	cl_buf_release(&msg);
	return rc;
}

int cl_cosig_verify(const struct cl_cosig_key *k, const struct cl_cnote_sig *s,
		    const char *body, size_t len, uint64_t *time)
{
	struct cl_buf msg;
	uint64_t t;

	if (strcmp(s->name, k->name) != 0 || s->id != k->id)
		return CL_ENOTFOUND;
	if (s->blob_len != CL_COSIG_BLOB_BYTES)
		return CL_EBADSIG;
	t = cl_load_be64(s->blob + 4);
	if (t == 0)
		return CL_EBADSIG;
	cl_buf_init(&msg, len + 64);
	int rc = cl_cosig_message(t, body, len, &msg);

	if (rc == CL_OK && crypto_sign_verify_detached(s->blob + 12, msg.data, msg.len,
						       k->pk) != 0)
		rc = CL_EBADSIG;
	cl_buf_release(&msg);
	if (rc == CL_OK && time)
		*time = t;
	return rc;
}
