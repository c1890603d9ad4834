/*
 * test_note.c - signed notes, note keys, checkpoints and offline proofs
 * (archiver/ledger/note.c).
 *
 * Known-answer tests: KAT A is the example of c2sp.org/signed-note
 * (key example.com/foo), KAT B the PeterNeumann key and note of
 * golang.org/x/mod/sumdb/note; Ed25519 is deterministic, so signing the
 * KAT B text from its seed must give the published signature exactly.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/tap.h"

#define DASH "\xe2\x80\x94"

#define A_NAME "example.com/foo"
#define A_ID 0x530d903aU
#define A_VKEY "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
#define A_TEXT "This is an example message.\n"
#define A_B64 "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
#define A_SIG DASH " " A_NAME " " A_B64 "\n"
#define A_NOTE A_TEXT "\n" A_SIG

#define B_NAME "PeterNeumann"
#define B_ID 0xc74f20a3U
#define B_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define B_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define B_TEXT "If you think cryptography is the answer to your problem,\n" \
	       "then you don't know what your problem is.\n"
#define B_B64 "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
#define B_NOTE B_TEXT "\n" DASH " " B_NAME " " B_B64 "\n"

#define ZERO_B64 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

/* Like TAP_EQ_STR, for multi-line texts: prints only the check's name. */
#define TEXT_EQ(a, b, name)                                                  \
	do {                                                                 \
		const char *t_a_ = (a), *t_b_ = (b);                         \
		TAP_OK(t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0, "%s", name); \
	} while (0)

static unsigned char pk_a[32], pk_b[32], sk_b[64];

/* cl_note_verify over a C string, discarding the message. */
static int verify_s(const char *note, const char *name, uint32_t id,
		    const unsigned char *pk, size_t *text_len)
{
	char *err = NULL;
	size_t tl = 0;
	int rc = cl_note_verify(note, strlen(note), name, id, pk, &tl, &err);

	if (text_len)
		*text_len = tl;
	if ((rc == CL_OK) != (err == NULL))
		rc = -1; /* a message must come with, and only with, a failure */
	free(err);
	return rc;
}

static int verify_a(const char *note)
{
	return verify_s(note, A_NAME, A_ID, pk_a, NULL);
}

static int verify_b(const char *note)
{
	return verify_s(note, B_NAME, B_ID, pk_b, NULL);
}

/* A signature line "— name base64(blob)\n" appended to b. */
static void add_sig_line(struct cl_buf *b, const char *name,
			 const unsigned char *blob, size_t n)
{
	cl_buf_addf(b, DASH " %s ", name);
	cl_b64_add(b, blob, n);
	cl_buf_addstr(b, "\n");
}

/* Decode a base64 string into blob; returns the length. */
static size_t decode(const char *b64, unsigned char *blob, size_t max)
{
	struct cl_buf b;
	size_t n = 0;

	cl_buf_init(&b, max);
	if (cl_b64_decode(b64, strlen(b64), &b) == CL_OK) {
		memcpy(blob, b.data, b.len);
		n = b.len;
	}
	cl_buf_release(&b);
	return n;
}

/* ---- keys ----------------------------------------------------------- */

static void test_kat_a(void)
{
	struct cl_buf b;
	char *name = NULL, *err = NULL;
	uint32_t id = 0;
	size_t tl = 0;

	TAP_EQ_INT(cl_note_vkey_parse(A_VKEY, &name, &id, pk_a, &err), CL_OK,
		   "KAT A: vkey parses");
	TAP_EQ_STR(name, A_NAME, "KAT A: vkey name");
	TAP_EQ_INT(id, A_ID, "KAT A: vkey id");
	TAP_EQ_INT(cl_note_key_id(A_NAME, CL_NOTE_ED25519, pk_a, 32), A_ID,
		   "KAT A: key ID recomputes to 530d903a");
	cl_buf_init(&b, 4096);
	TAP_EQ_INT(cl_note_vkey_format(A_NAME, pk_a, &b), CL_OK,
		   "KAT A: vkey formats");
	TAP_EQ_STR((char *)b.data, A_VKEY, "KAT A: vkey round-trips");
	TAP_EQ_INT(verify_s(A_NOTE, A_NAME, A_ID, pk_a, &tl), CL_OK,
		   "KAT A: spec example note verifies");
	TAP_EQ_INT(tl, strlen(A_TEXT), "KAT A: text length");
	cl_buf_release(&b);
	free(name);
	free(err);
}

static void test_kat_b(void)
{
	struct cl_buf b;
	unsigned char seed[32], pk[32];
	char *name = NULL, *err = NULL;
	uint32_t id = 0;
	size_t tl = 0;

	TAP_EQ_INT(cl_note_skey_parse(B_SKEY, strlen(B_SKEY), &name, &id, seed,
				      &err),
		   CL_OK, "KAT B: skey parses");
	TAP_EQ_STR(name, B_NAME, "KAT B: skey name");
	TAP_EQ_INT(id, B_ID, "KAT B: skey id");
	crypto_sign_seed_keypair(pk_b, sk_b, seed);
	cl_buf_init(&b, 4096);
	TAP_EQ_INT(cl_note_vkey_format(B_NAME, pk_b, &b), CL_OK,
		   "KAT B: vkey formats");
	TAP_EQ_STR((char *)b.data, B_VKEY,
		   "KAT B: vkey from the seed matches the published one");
	free(name);
	name = NULL;
	TAP_EQ_INT(cl_note_vkey_parse(B_VKEY, &name, &id, pk, NULL), CL_OK,
		   "KAT B: vkey parses");
	TAP_OK(memcmp(pk, pk_b, 32) == 0, "KAT B: vkey public key matches");

	cl_buf_reset(&b);
	TAP_EQ_INT(cl_note_sign(B_TEXT, strlen(B_TEXT), B_NAME, sk_b, &b,
				&err),
		   CL_OK, "KAT B: signs");
	TEXT_EQ((char *)b.data, B_NOTE,
		   "KAT B: signature blob reproduced exactly");
	TAP_EQ_INT(verify_s(B_NOTE, B_NAME, B_ID, pk_b, &tl), CL_OK,
		   "KAT B: note verifies");
	TAP_EQ_INT(tl, strlen(B_TEXT), "KAT B: text length");

	cl_buf_reset(&b);
	TAP_EQ_INT(cl_note_skey_format(B_NAME, seed, &b), CL_OK,
		   "KAT B: skey formats");
	TAP_EQ_STR((char *)b.data, B_SKEY, "KAT B: skey round-trips");
	free(name);
	name = NULL;
	TAP_EQ_INT(cl_note_skey_parse(B_SKEY "\n", strlen(B_SKEY) + 1, &name,
				      &id, seed, NULL),
		   CL_OK, "skey with one trailing newline parses");
	free(name);
	name = NULL;
	TAP_EQ_INT(cl_note_skey_parse(B_SKEY "\n\n", strlen(B_SKEY) + 2, &name,
				      &id, seed, NULL),
		   CL_EINVAL, "skey with two trailing newlines rejected");
	TAP_OK(name == NULL, "failed parse leaves name NULL");
	sodium_memzero(seed, sizeof(seed));
	cl_buf_release(&b);
	free(err);
}

static void test_names(void)
{
	TAP_OK(cl_note_name_valid("example.com/foo"), "name: plain");
	TAP_OK(cl_note_name_valid("\xc3\xbcn\xc3\xaf" "code"), "name: UTF-8");
	TAP_OK(!cl_note_name_valid(""), "name: empty rejected");
	TAP_OK(!cl_note_name_valid(NULL), "name: NULL rejected");
	TAP_OK(!cl_note_name_valid("a+b"), "name: '+' rejected");
	TAP_OK(!cl_note_name_valid("a b"), "name: space rejected");
	TAP_OK(!cl_note_name_valid("a\tb"), "name: tab rejected");
	TAP_OK(!cl_note_name_valid("a\nb"), "name: newline rejected");
	TAP_OK(!cl_note_name_valid("a\x01" "b"), "name: control rejected");
	TAP_OK(!cl_note_name_valid("a\xc2\xa0" "b"), "name: NBSP rejected");
	TAP_OK(!cl_note_name_valid("a\xe3\x80\x80" "b"),
	       "name: ideographic space rejected");
	TAP_OK(!cl_note_name_valid("a\xe2\x80\xa8" "b"),
	       "name: line separator rejected");
	TAP_OK(!cl_note_name_valid("\xc0\xaf"), "name: overlong rejected");
	TAP_OK(!cl_note_name_valid("\xed\xa0\x80"), "name: surrogate rejected");
	TAP_OK(!cl_note_name_valid("a\xe2\x80"), "name: truncated rejected");
}

static void test_vkey_rejects(void)
{
	struct cl_buf b;
	unsigned char raw[40], pk[32];
	char *name = NULL, *err = NULL;
	uint32_t id = 7;

	cl_buf_init(&b, 4096);
	/* A well-formed key of type 0x02, with the ID computed for it. */
	raw[0] = 0x02;
	memcpy(raw + 1, pk_a, 32);
	cl_buf_addf(&b, "%s+%08" PRIx32 "+", A_NAME,
		    cl_note_key_id(A_NAME, 0x02, pk_a, 32));
	cl_b64_add(&b, raw, 33);
	TAP_EQ_INT(cl_note_vkey_parse((char *)b.data, &name, &id, pk, &err),
		   CL_EINVAL, "vkey: unknown type byte rejected");
	TAP_OK(err != NULL, "vkey: rejection has a message");
	TAP_OK(name == NULL && id == 7, "vkey: outputs untouched on failure");
	free(err);
	err = NULL;

	TAP_EQ_INT(cl_note_vkey_parse("example.com/foo+530d903b+AekyeRrm56hApG"
				      "FkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
				      &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: wrong id rejected");
	TAP_EQ_INT(cl_note_vkey_parse("example.com/bar+530d903a+AekyeRrm56hApG"
				      "FkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
				      &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: wrong name for the id rejected");

	cl_buf_reset(&b);
	raw[0] = 0x01;
	cl_buf_addf(&b, "%s+%08" PRIx32 "+", A_NAME,
		    cl_note_key_id(A_NAME, 0x01, pk_a, 31));
	cl_b64_add(&b, raw, 32);
	TAP_EQ_INT(cl_note_vkey_parse((char *)b.data, &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: 31-byte key rejected");
	cl_buf_reset(&b);
	memcpy(raw + 1, pk_a, 32);
	raw[33] = 0;
	cl_buf_addf(&b, "%s+%08" PRIx32 "+", A_NAME,
		    cl_note_key_id(A_NAME, 0x01, raw + 1, 33));
	cl_b64_add(&b, raw, 34);
	TAP_EQ_INT(cl_note_vkey_parse((char *)b.data, &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: 33-byte key rejected");

	TAP_EQ_INT(cl_note_vkey_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxb"
				      "zhKqiBfsVkmqq\xaf" "LDE4izWy10TW",
				      &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: non-ASCII byte in base64 rejected");
	TAP_EQ_INT(cl_note_vkey_parse(A_VKEY "\n", &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: trailing newline rejected");
	TAP_EQ_INT(cl_note_vkey_parse("example.com/foo+530d903a+AekyeRrm56hApG"
				      "FkyQR4ZCbV54Id2LKaANYcrnKv3U2", &name,
				      &id, pk, NULL),
		   CL_EINVAL, "vkey: truncated base64 rejected");
	TAP_EQ_INT(cl_note_vkey_parse("example.com/foo+530d903+AekyeRrm56hApG"
				      "FkyQR4ZCbV54Id2LKaANYcrnKv3U2k", &name,
				      &id, pk, NULL),
		   CL_EINVAL, "vkey: 7-digit id rejected");
	TAP_EQ_INT(cl_note_vkey_parse("+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2"
				      "LKaANYcrnKv3U2k", &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: empty name rejected");
	TAP_EQ_INT(cl_note_vkey_parse("example.com/foo", &name, &id, pk, NULL),
		   CL_EINVAL, "vkey: name only rejected");
	TAP_EQ_INT(cl_note_vkey_parse("", &name, &id, pk, NULL), CL_EINVAL,
		   "vkey: empty string rejected");
	TAP_EQ_INT(cl_note_vkey_parse(B_SKEY, &name, &id, pk, NULL), CL_EINVAL,
		   "vkey: a signer key is not a verifier key");
	TAP_EQ_INT(cl_note_skey_parse(B_VKEY, strlen(B_VKEY), &name, &id, pk,
				      NULL),
		   CL_EINVAL, "skey: a verifier key is not a signer key");
	TAP_EQ_INT(cl_note_skey_parse("PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKF"
				      "ALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
				      strlen(B_SKEY), &name, &id, pk, NULL),
		   CL_EINVAL, "skey: wrong id rejected");
	TAP_EQ_INT(cl_note_skey_parse(B_SKEY, 11, &name, &id, pk, NULL),
		   CL_EINVAL, "skey: truncated prefix rejected");
	TAP_OK(name == NULL, "no name leaked by failures");
	TAP_EQ_INT(cl_note_vkey_format("a+b", pk_a, &b), CL_EINVAL,
		   "vkey format: invalid name rejected");
	cl_buf_release(&b);
}

/* ---- signed notes --------------------------------------------------- */

static void test_note_rejects(void)
{
	struct cl_buf b, n;
	unsigned char blob[80], other_sk[64], other_pk[32], seed[32];
	size_t bn, i, tl = 0;
	char *err = NULL;

	cl_buf_init(&b, 1 << 20);
	cl_buf_init(&n, 1 << 20);

	/* Flipped bit in the signature: same name and id, bad signature. */
	bn = decode(B_B64, blob, sizeof(blob));
	TAP_EQ_INT(bn, 68, "KAT B blob is 4+64 bytes");
	blob[4 + 10] ^= 0x01;
	cl_buf_addstr(&n, B_TEXT "\n");
	add_sig_line(&n, B_NAME, blob, bn);
	TAP_EQ_INT(verify_b((char *)n.data), CL_EBADSIG,
		   "flipped signature bit rejected");
	blob[4 + 10] ^= 0x01;
	blob[0] ^= 0x80;
	cl_buf_reset(&n);
	cl_buf_addstr(&n, B_TEXT "\n");
	add_sig_line(&n, B_NAME, blob, bn);
	TAP_EQ_INT(verify_b((char *)n.data), CL_EBADSIG,
		   "flipped key-ID bit: no matching signature");
	blob[0] ^= 0x80;

	/* Wrong-length signature under the known key. */
	cl_buf_reset(&n);
	cl_buf_addstr(&n, B_TEXT "\n");
	add_sig_line(&n, B_NAME, blob, 67);
	TAP_EQ_INT(verify_b((char *)n.data), CL_EBADSIG,
		   "short signature by the known key rejected");

	TAP_EQ_INT(verify_s(A_NOTE, B_NAME, B_ID, pk_b, NULL), CL_EBADSIG,
		   "wrong key: no signature by it");
	TAP_EQ_INT(verify_s(A_NOTE, A_NAME, A_ID, pk_b, NULL), CL_EBADSIG,
		   "same name and id, wrong public key rejected");
	TAP_EQ_INT(verify_b(A_NOTE), CL_EBADSIG, "unknown key only rejected");
	TAP_EQ_INT(verify_a("This is an example message!\n\n" A_SIG),
		   CL_EBADSIG, "modified text rejected");
	TAP_EQ_INT(verify_a("This is an example message.\n\n\n" A_SIG),
		   CL_EBADSIG, "text with an added blank line rejected");

	/* Unknown keys are ignored; order does not matter. */
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " B_NAME " " B_B64 "\n" A_SIG),
		   CL_OK, "unknown signature before the known one ignored");
	TAP_EQ_INT(verify_a(A_NOTE DASH " " A_NAME " AAAAAAAAAAAA\n"),
		   CL_OK, "same name, other id ignored");
	TAP_EQ_INT(verify_a(A_NOTE DASH " other.example " A_B64 "\n"),
		   CL_OK, "same id, other name ignored");
	TAP_EQ_INT(verify_a(A_NOTE A_SIG), CL_OK,
		   "repeated valid signature accepted");
	cl_buf_reset(&n);
	cl_buf_addstr(&n, A_NOTE);
	bn = decode(A_B64, blob, sizeof(blob));
	blob[20] ^= 0x04;
	add_sig_line(&n, A_NAME, blob, bn);
	TAP_EQ_INT(verify_a((char *)n.data), CL_EBADSIG,
		   "valid plus bad signature by the known key rejected");

	/* Structure. */
	TAP_EQ_INT(verify_a(A_TEXT A_SIG), CL_EINVAL,
		   "missing blank line rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n"), CL_EINVAL,
		   "no signature lines rejected");
	TAP_EQ_INT(verify_a(A_NOTE "\n"), CL_EINVAL,
		   "trailing blank line rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n- " A_NAME " " A_B64 "\n"), CL_EINVAL,
		   "signature line without em dash rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH A_NAME " " A_B64 "\n"), CL_EINVAL,
		   "em dash without space rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME "  " A_B64 "\n"),
		   CL_EINVAL, "two spaces after the name rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME " " A_B64 " \n"),
		   CL_EINVAL, "trailing space rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME "\n"), CL_EINVAL,
		   "signature line without signature rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME " \n"), CL_EINVAL,
		   "empty signature rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME " Uw2QOkn8!rV1yJGh2VYRl"
				  "L1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsY"
				  "jOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"),
		   CL_EINVAL, "bad base64 rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME " Uw2QOkn8srV1yJGh2VYRl"
				  "L1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsY"
				  "jOBH3mFXmRKuwHjG1Yu72IneyaQM\n"),
		   CL_EINVAL, "unpadded base64 rejected");
	/* libsodium 1.0.18 alone would read each byte >= 0x80 as '/'. */
	TAP_EQ_INT(verify_b(B_TEXT "\n" DASH " " B_NAME " x08g\xc2\xaf"
			    "ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC"
			    "2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
		   CL_EINVAL, "non-ASCII bytes in signature rejected");
	TAP_EQ_INT(verify_a(A_TEXT "\n" DASH " " A_NAME " AAAAAA==\n"),
		   CL_EINVAL, "4-byte signature rejected");
	TAP_EQ_INT(verify_a(A_NOTE DASH " a+b " A_B64 "\n"), CL_EINVAL,
		   "signature name with '+' rejected");
	TAP_EQ_INT(verify_a(A_NOTE DASH "  " A_B64 "\n"), CL_EINVAL,
		   "empty signature name rejected");
	TAP_EQ_INT(verify_a("This is an example message.\n\n" DASH " "
			    A_NAME " " A_B64),
		   CL_EINVAL, "note not ending in newline rejected");
	TAP_EQ_INT(verify_a("This is an\texample message.\n\n" A_SIG),
		   CL_EINVAL, "tab in text rejected");
	TAP_EQ_INT(verify_a("This is an example message.\r\n\n" A_SIG),
		   CL_EINVAL, "carriage return rejected");
	TAP_EQ_INT(cl_note_verify(A_TEXT "\0\n" A_SIG,
				  sizeof(A_TEXT "\0\n" A_SIG) - 1, A_NAME,
				  A_ID, pk_a, &tl, NULL),
		   CL_EINVAL, "NUL byte rejected");
	TAP_EQ_INT(verify_a("This is an \xff message.\n\n" A_SIG), CL_EINVAL,
		   "invalid UTF-8 rejected");
	TAP_EQ_INT(verify_a(""), CL_EINVAL, "empty note rejected");
	TAP_EQ_INT(verify_s(A_NOTE, "a b", A_ID, pk_a, NULL), CL_EINVAL,
		   "invalid known name rejected");
	TAP_EQ_INT(cl_note_verify(A_NOTE, strlen(A_NOTE) - 1, A_NAME, A_ID,
				  pk_a, &tl, &err),
		   CL_EINVAL, "truncated note rejected");
	TAP_OK(err != NULL, "rejection sets a message");
	free(err);
	err = NULL;

	/* Signature count limit: 99 unknown + 1 valid, then 100 + 1. */
	cl_buf_reset(&n);
	cl_buf_addstr(&n, A_NOTE);
	for (i = 0; i < 99; i++)
		cl_buf_addf(&n, DASH " w%zu.example AAAAAAA=\n", i);
	TAP_EQ_INT(verify_a((char *)n.data), CL_OK, "100 signatures accepted");
	cl_buf_addstr(&n, DASH " last.example AAAAAAA=\n");
	TAP_EQ_INT(verify_a((char *)n.data), CL_EINVAL,
		   "101 signatures rejected");

	/* Signing rejects bad text and names and corrupt keys. */
	cl_buf_reset(&b);
	cl_buf_addstr(&b, "prefix");
	TAP_EQ_INT(cl_note_sign("no newline", 10, B_NAME, sk_b, &b, NULL),
		   CL_EINVAL, "sign: text without final newline rejected");
	TAP_EQ_INT(cl_note_sign("", 0, B_NAME, sk_b, &b, NULL), CL_EINVAL,
		   "sign: empty text rejected");
	TAP_EQ_INT(cl_note_sign("a\rb\n", 4, B_NAME, sk_b, &b, NULL),
		   CL_EINVAL, "sign: control character rejected");
	TAP_EQ_INT(cl_note_sign("a\xc0\xafz\n", 5, B_NAME, sk_b, &b, NULL),
		   CL_EINVAL, "sign: invalid UTF-8 rejected");
	TAP_EQ_INT(cl_note_sign("ok\n", 3, "a+b", sk_b, &b, NULL), CL_EINVAL,
		   "sign: name with '+' rejected");
	memcpy(other_sk, sk_b, 64);
	other_sk[40] ^= 1; /* public half no longer matches the seed */
	TAP_EQ_INT(cl_note_sign("ok\n", 3, B_NAME, other_sk, &b, NULL),
		   CL_EBADSIG, "sign: corrupt secret key caught by verify");
	TAP_EQ_STR((char *)b.data, "prefix", "sign: failures append nothing");

	/* Signing appends; texts with blank lines round-trip. */
	cl_buf_reset(&b);
	memset(seed, 0x42, sizeof(seed));
	crypto_sign_seed_keypair(other_pk, other_sk, seed);
	TAP_EQ_INT(cl_note_sign("a\n\nb\n", 5, "w.example", other_sk, &b,
				NULL),
		   CL_OK, "sign: text with a blank line");
	TAP_EQ_INT(verify_s((char *)b.data, "w.example",
			    cl_note_key_id("w.example", 1, other_pk, 32),
			    other_pk, &tl),
		   CL_OK, "verify: text with a blank line");
	TAP_EQ_INT(tl, 5, "verify: text with a blank line has length 5");
	TAP_EQ_INT(verify_b((char *)b.data), CL_EBADSIG,
		   "verify: other key's note has no signature by B");
	cl_buf_reset(&b);
	TAP_EQ_INT(cl_note_sign("\n", 1, "w.example", other_sk, &b, NULL),
		   CL_OK, "sign: a single empty line");
	TAP_EQ_INT(verify_s((char *)b.data, "w.example",
			    cl_note_key_id("w.example", 1, other_pk, 32),
			    other_pk, &tl),
		   CL_OK, "verify: a single empty line");
	TAP_EQ_INT(tl, 1, "verify: single empty line has length 1");

	/* Cosigning: append a second signature to a signed note. */
	cl_buf_reset(&b);
	cl_buf_reset(&n);
	cl_note_sign(B_TEXT, strlen(B_TEXT), "w.example", other_sk, &b, NULL);
	cl_buf_addstr(&n, B_NOTE);
	cl_buf_add(&n, b.data + strlen(B_TEXT) + 1,
		   b.len - strlen(B_TEXT) - 1);
	TAP_EQ_INT(verify_b((char *)n.data), CL_OK,
		   "two-signature note verifies for the first key");
	TAP_EQ_INT(verify_s((char *)n.data, "w.example",
			    cl_note_key_id("w.example", 1, other_pk, 32),
			    other_pk, NULL),
		   CL_OK, "two-signature note verifies for the second key");

	sodium_memzero(other_sk, sizeof(other_sk));
	cl_buf_release(&b);
	cl_buf_release(&n);
}

/* ---- checkpoints ---------------------------------------------------- */

static int cp_parse_s(const char *text)
{
	struct cl_checkpoint cp;
	char *err = NULL;
	int rc = cl_checkpoint_parse(text, strlen(text), &cp, &err);

	if (rc != CL_OK && (cp.origin != NULL || cp.size != 0 || err == NULL))
		rc = -1; /* failure must leave *cp zero and give a message */
	cl_checkpoint_release(&cp);
	free(err);
	return rc;
}

static void test_checkpoint(void)
{
	struct cl_buf b, n;
	struct cl_checkpoint cp;
	unsigned char root[32];
	size_t i, tl = 0;
	char *err = NULL;

	for (i = 0; i < 32; i++)
		root[i] = (unsigned char)(i * 7 + 1);
	cl_buf_init(&b, 1 << 16);
	cl_buf_init(&n, 1 << 16);
	TAP_EQ_INT(cl_checkpoint_format("example.com/log", 20852163, root, &b),
		   CL_OK, "checkpoint formats");
	cl_buf_addstr(&n, "example.com/log\n20852163\n");
	cl_b64_add(&n, root, 32);
	cl_buf_addstr(&n, "\n");
	TEXT_EQ((char *)b.data, (char *)n.data, "checkpoint text exact");
	TAP_EQ_INT(cl_checkpoint_parse((char *)b.data, b.len, &cp, &err),
		   CL_OK, "checkpoint parses");
	TAP_EQ_STR(cp.origin, "example.com/log", "checkpoint origin");
	TAP_EQ_INT(cp.size, 20852163, "checkpoint size");
	TAP_OK(memcmp(cp.root, root, 32) == 0, "checkpoint root");
	cl_checkpoint_release(&cp);
	TAP_OK(cp.origin == NULL, "release clears");

	TAP_EQ_INT(cl_checkpoint_format("", 1, root, &b), CL_EINVAL,
		   "checkpoint format: empty origin rejected");
	TAP_EQ_INT(cl_checkpoint_format("a\nb", 1, root, &b), CL_EINVAL,
		   "checkpoint format: newline in origin rejected");

	/* Signed checkpoint, end to end. */
	cl_buf_reset(&n);
	TAP_EQ_INT(cl_note_sign((char *)b.data, b.len, B_NAME, sk_b, &n, NULL),
		   CL_OK, "checkpoint signs");
	TAP_EQ_INT(verify_s((char *)n.data, B_NAME, B_ID, pk_b, &tl), CL_OK,
		   "signed checkpoint verifies");
	TAP_EQ_INT(cl_checkpoint_parse((char *)n.data, tl, &cp, NULL), CL_OK,
		   "verified text part parses as checkpoint");
	TAP_EQ_INT(cp.size, 20852163, "signed checkpoint size");
	cl_checkpoint_release(&cp);

	TAP_EQ_INT(cp_parse_s("o\n0\n" ZERO_B64 "\n"), CL_OK,
		   "size 0 accepted");
	TAP_EQ_INT(cp_parse_s("o\n18446744073709551615\n" ZERO_B64 "\n"), CL_OK,
		   "size 2^64-1 accepted");
	TAP_EQ_INT(cp_parse_s("o\n5\n" ZERO_B64 "\next one\next two\n"), CL_OK,
		   "extension lines accepted");
	TAP_EQ_INT(cp_parse_s("o\n05\n" ZERO_B64 "\n"), CL_EINVAL,
		   "leading zero rejected");
	TAP_EQ_INT(cp_parse_s("o\n00\n" ZERO_B64 "\n"), CL_EINVAL,
		   "size 00 rejected");
	TAP_EQ_INT(cp_parse_s("o\n18446744073709551616\n" ZERO_B64 "\n"),
		   CL_EINVAL, "size overflow rejected");
	TAP_EQ_INT(cp_parse_s("o\n99999999999999999999\n" ZERO_B64 "\n"),
		   CL_EINVAL, "20-digit overflow rejected");
	TAP_EQ_INT(cp_parse_s("o\n-1\n" ZERO_B64 "\n"), CL_EINVAL,
		   "negative size rejected");
	TAP_EQ_INT(cp_parse_s("o\n+1\n" ZERO_B64 "\n"), CL_EINVAL,
		   "plus sign rejected");
	TAP_EQ_INT(cp_parse_s("o\n 1\n" ZERO_B64 "\n"), CL_EINVAL,
		   "space before size rejected");
	TAP_EQ_INT(cp_parse_s("o\n\n" ZERO_B64 "\n"), CL_EINVAL,
		   "empty size rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"),
		   CL_EINVAL, "31-byte root rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n"),
		   CL_EINVAL, "33-byte root rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
		   CL_EINVAL, "unpadded root rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n"),
		   CL_EINVAL, "non-canonical root base64 rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\xc8\xbe"
			      "AAAAAAAAA=\n"),
		   CL_EINVAL, "non-ASCII bytes in root rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\n"), CL_EINVAL, "missing root rejected");
	TAP_EQ_INT(cp_parse_s("o\n"), CL_EINVAL, "missing size rejected");
	TAP_EQ_INT(cp_parse_s(""), CL_EINVAL, "empty checkpoint rejected");
	TAP_EQ_INT(cp_parse_s("\n1\n" ZERO_B64 "\n"), CL_EINVAL,
		   "empty origin rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\n" ZERO_B64), CL_EINVAL,
		   "missing final newline rejected");
	TAP_EQ_INT(cp_parse_s("o\n1\n" ZERO_B64 "\n\n"), CL_EINVAL,
		   "empty extension line rejected");
	TAP_EQ_INT(cp_parse_s("o\r\n1\n" ZERO_B64 "\n"), CL_EINVAL,
		   "control character rejected");
	cl_buf_release(&b);
	cl_buf_release(&n);
	free(err);
}

/* ---- offline proofs ------------------------------------------------- */

#define SPEC_PROOF                                                    \
	"c2sp.org/tlog-proof@v1\n"                                    \
	"extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n" \
	"index 73894\n"                                               \
	"gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"              \
	"B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"              \
	"EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"              \
	"RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"              \
	"AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"              \
	"\n"                                                          \
	SPEC_CP
#define SPEC_CP                                                       \
	"example.com/fancylog\n"                                      \
	"109482\n"                                                    \
	"sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"              \
	"\n"                                                          \
	DASH " example.com/fancylog hI2DJw[...]1roloI=\n"

static int proof_parse_s(const char *text)
{
	struct cl_tlog_proof p;
	char *err = NULL;
	int rc = cl_tlog_proof_parse(text, strlen(text), &p, &err);

	if (rc != CL_OK && (p.proof != NULL || p.checkpoint != NULL ||
			    p.extra != NULL || err == NULL))
		rc = -1;
	cl_tlog_proof_release(&p);
	free(err);
	return rc;
}

static void test_tlog_proof(void)
{
	struct cl_buf b, n;
	struct cl_tlog_proof p;
	unsigned char hashes[129][32];
	size_t i;
	char *err = NULL;

	for (i = 0; i < 129; i++)
		memset(hashes[i], (int)(i + 1), 32);
	cl_buf_init(&b, 1 << 20);
	cl_buf_init(&n, 1 << 20);

	TAP_EQ_INT(cl_tlog_proof_parse(SPEC_PROOF, strlen(SPEC_PROOF), &p, &err),
		   CL_OK, "tlog-proof: spec example parses");
	TAP_EQ_INT(p.index, 73894, "tlog-proof: spec index");
	TAP_EQ_INT(p.count, 5, "tlog-proof: spec hash count");
	TAP_OK(p.extra_len == 39 && memcmp(p.extra, "age-v1.2.1", 10) == 0,
	       "tlog-proof: spec extra");
	TEXT_EQ(p.checkpoint, SPEC_CP, "tlog-proof: spec checkpoint");
	TAP_EQ_INT(p.checkpoint_len, strlen(SPEC_CP),
		   "tlog-proof: checkpoint length");
	TAP_EQ_INT(cl_tlog_proof_format(p.index,
					(const unsigned char (*)[32])p.proof, p.count,
					(const char *)p.extra, p.extra_len,
					p.checkpoint, p.checkpoint_len, &b),
		   CL_OK, "tlog-proof: formats");
	TEXT_EQ((char *)b.data, SPEC_PROOF,
		   "tlog-proof: spec example round-trips");
	cl_tlog_proof_release(&p);

	/* Our own signed checkpoint, no extra, three hashes. */
	cl_buf_reset(&b);
	cl_buf_addstr(&n, "example.com/log\n8\n" ZERO_B64 "\n");
	cl_buf_reset(&b);
	{
		struct cl_buf s;

		cl_buf_init(&s, 1 << 16);
		cl_note_sign((char *)n.data, n.len, B_NAME, sk_b, &s, NULL);
		TAP_EQ_INT(cl_tlog_proof_format(5, (const unsigned char (*)[32])hashes,
						3, NULL, 0, (char *)s.data,
						s.len, &b),
			   CL_OK, "tlog-proof: format without extra");
		TAP_EQ_INT(cl_tlog_proof_parse((char *)b.data, b.len, &p, NULL),
			   CL_OK, "tlog-proof: parses without extra");
		TAP_OK(p.index == 5 && p.count == 3 && p.extra == NULL &&
			       memcmp(p.proof, hashes, 3 * 32) == 0,
		       "tlog-proof: fields round-trip");
		TAP_OK(p.checkpoint_len == s.len &&
			       memcmp(p.checkpoint, s.data, s.len) == 0,
		       "tlog-proof: checkpoint verbatim");
		TAP_EQ_INT(verify_s(p.checkpoint, B_NAME, B_ID, pk_b, NULL),
			   CL_OK, "tlog-proof: embedded checkpoint verifies");
		cl_tlog_proof_release(&p);
		cl_buf_reset(&b);
		TAP_EQ_INT(cl_tlog_proof_format(0, NULL, 0, "", 0,
						(char *)s.data, s.len, &b),
			   CL_OK, "tlog-proof: format with no hashes");
		TAP_EQ_INT(cl_tlog_proof_parse((char *)b.data, b.len, &p, NULL),
			   CL_OK, "tlog-proof: parses with no hashes");
		TAP_OK(p.index == 0 && p.count == 0 && p.proof == NULL,
		       "tlog-proof: empty proof");
		cl_tlog_proof_release(&p);
		cl_buf_reset(&b);
		TAP_EQ_INT(cl_tlog_proof_format(1, (const unsigned char (*)[32])hashes,
						129, NULL, 0, (char *)s.data,
						s.len, &b),
			   CL_EINVAL, "tlog-proof: format of 129 hashes rejected");
		TAP_EQ_INT(cl_tlog_proof_format(1, NULL, 0, NULL, 0, "x", 1,
						&b),
			   CL_EINVAL, "tlog-proof: format of a bad checkpoint rejected");
		TAP_EQ_INT(cl_tlog_proof_format(1, (const unsigned char (*)[32])hashes,
						128, NULL, 0, (char *)s.data,
						s.len, &b),
			   CL_OK, "tlog-proof: format of 128 hashes");
		TAP_EQ_INT(proof_parse_s((char *)b.data), CL_OK,
			   "tlog-proof: 128 hashes parse");
		cl_buf_reset(&n);
		cl_buf_add(&n, b.data, b.len);
		/* Insert one more hash line after the index line. */
		cl_buf_reset(&b);
		cl_buf_addstr(&b, "c2sp.org/tlog-proof@v1\nindex 1\n" ZERO_B64
			      "\n");
		cl_buf_addstr(&b, (char *)n.data + strlen("c2sp.org/tlog-proof@v1\n"
							  "index 1\n"));
		TAP_EQ_INT(proof_parse_s((char *)b.data), CL_EINVAL,
			   "tlog-proof: 129 hashes rejected");
		cl_buf_release(&s);
	}

#define CP "o\n1\n" ZERO_B64 "\n\n" DASH " o AAAAAAA=\n"
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n\n" CP),
		   CL_OK, "tlog-proof: minimal proof parses");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v2\nindex 0\n\n" CP),
		   CL_EINVAL, "tlog-proof: bad header rejected");
	TAP_EQ_INT(proof_parse_s("index 0\n\n" CP), CL_EINVAL,
		   "tlog-proof: missing header rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1 \nindex 0\n\n" CP),
		   CL_EINVAL, "tlog-proof: header with trailing space rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 01\n\n" CP),
		   CL_EINVAL, "tlog-proof: index with leading zero rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex -1\n\n" CP),
		   CL_EINVAL, "tlog-proof: negative index rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex \n\n" CP),
		   CL_EINVAL, "tlog-proof: empty index rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex  3\n\n" CP),
		   CL_EINVAL, "tlog-proof: double space rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n" CP),
		   CL_EINVAL, "tlog-proof: index overflow rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\n\n" CP), CL_EINVAL,
		   "tlog-proof: missing index rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nextra \nindex 0\n\n" CP),
		   CL_EINVAL, "tlog-proof: empty extra rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nextra AB==\nindex 0\n\n" CP),
		   CL_EINVAL, "tlog-proof: bad extra base64 rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\nextra AA==\n\n" CP),
		   CL_EINVAL, "tlog-proof: extra after index rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n" CP),
		   CL_EINVAL, "tlog-proof: short hash line rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n"
				 "B95lDa8R83lS8n0eG+o0buTxRKQTYFi\xc2\xaf"
				 "1U8anccXmA=\n\n" CP),
		   CL_EINVAL, "tlog-proof: non-ASCII bytes in hash rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n" ZERO_B64
				 " \n\n" CP),
		   CL_EINVAL, "tlog-proof: hash line with space rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n" ZERO_B64
				 "\n" ZERO_B64 "\n"),
		   CL_EINVAL, "tlog-proof: missing blank line rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n" ZERO_B64
				 "\n" CP),
		   CL_EINVAL, "tlog-proof: checkpoint without blank line rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n\n"),
		   CL_EINVAL, "tlog-proof: missing checkpoint rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n\n\n" CP),
		   CL_EINVAL, "tlog-proof: two blank lines rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\nindex 0\n\no\n1"),
		   CL_EINVAL, "tlog-proof: unterminated checkpoint rejected");
	TAP_EQ_INT(proof_parse_s("c2sp.org/tlog-proof@v1\r\nindex 0\n\n" CP),
		   CL_EINVAL, "tlog-proof: CRLF rejected");
	TAP_EQ_INT(proof_parse_s(""), CL_EINVAL, "tlog-proof: empty rejected");
#undef CP
	cl_buf_release(&b);
	cl_buf_release(&n);
	free(err);
}

static int cons_parse_s(const char *text)
{
	unsigned char (*proof)[32] = NULL;
	uint64_t o = 1, m = 1;
	size_t count = 1;
	char *err = NULL;
	int rc = cl_consistency_proof_parse(text, strlen(text), &o, &m, &proof,
					    &count, &err);

	if (rc != CL_OK && (proof != NULL || count != 0 || o != 0 ||
			    err == NULL))
		rc = -1;
	free(proof);
	free(err);
	return rc;
}

static void test_consistency(void)
{
	struct cl_buf b;
	unsigned char hashes[2][32], (*proof)[32] = NULL;
	uint64_t o = 0, m = 0;
	size_t count = 0;

	memset(hashes[0], 0xaa, 32);
	memset(hashes[1], 0x55, 32);
	cl_buf_init(&b, 1 << 16);
	TAP_EQ_INT(cl_consistency_proof_format(3, 7,
					       (const unsigned char (*)[32])hashes,
					       2, &b),
		   CL_OK, "consistency: formats");
	TEXT_EQ((char *)b.data,
		   "chatledger-consistency-proof@v1\nold 3\nnew 7\n"
		   "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=\n"
		   "VVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVVU=\n",
		   "consistency: exact text");
	TAP_EQ_INT(cl_consistency_proof_parse((char *)b.data, b.len, &o, &m,
					      &proof, &count, NULL),
		   CL_OK, "consistency: parses");
	TAP_OK(o == 3 && m == 7 && count == 2 && proof != NULL &&
		       memcmp(proof, hashes, 64) == 0,
	       "consistency: fields round-trip");
	free(proof);
	proof = NULL;
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 5\nnew 5\n"),
		   CL_OK, "consistency: no hashes");
	TAP_EQ_INT(cl_consistency_proof_format(8, 7, NULL, 0, &b), CL_EINVAL,
		   "consistency: format old > new rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 8\nnew 7\n"),
		   CL_EINVAL, "consistency: old > new rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v2\nold 1\nnew 7\n"),
		   CL_EINVAL, "consistency: bad header rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 01\nnew 7\n"),
		   CL_EINVAL, "consistency: leading zero rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nnew 7\nold 1\n"),
		   CL_EINVAL, "consistency: swapped lines rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 1\n"),
		   CL_EINVAL, "consistency: missing new rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 1\nnew 7\nAAAA\n"),
		   CL_EINVAL, "consistency: bad hash rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 1\nnew 7\n"
				ZERO_B64 "\n\n"),
		   CL_EINVAL, "consistency: trailing blank line rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 1\nnew 7\n"
				ZERO_B64),
		   CL_EINVAL, "consistency: missing final newline rejected");
	TAP_EQ_INT(cons_parse_s("chatledger-consistency-proof@v1\nold 1\nnew 7\n"
				"B95lDa8R83lS8n0eG+o0buTxRKQTYFi\xc2\xaf"
				"1U8anccXmA=\n"),
		   CL_EINVAL, "consistency: non-ASCII bytes in hash rejected");
	TAP_EQ_INT(cons_parse_s(""), CL_EINVAL, "consistency: empty rejected");
	cl_buf_release(&b);
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("not ok 1 - sodium_init\n");
		return 1;
	}
	test_kat_a();
	test_kat_b();
	test_names();
	test_vkey_rejects();
	test_note_rejects();
	test_checkpoint();
	test_tlog_proof();
	test_consistency();
	return tap_done();
}
