/*
 * test_wa_paircode.c - linking with a phone number (archiver/wa/paircode.c):
 * the code, the wrapped ephemeral key, the companion_hello iq, the hello
 * answer, the phone's primary_hello notification, the companion_finish iq
 * and the ADV secret.
 *
 * Known answers come from tests/wa/vectors/paircode.json, written by
 * tests/peer/gen-paircode-vectors.js with Node's crypto and Baileys'
 * primitives (the test fails when the file is missing).  A second round
 * trip plays the phone here, with OpenSSL calls made in this file, against
 * the random (non-fixed) code.  Run from the repository root (or set
 * CL_ROOT).  `test_wa_paircode --seeds DIR` writes the seed corpus of
 * fuzz_wa_paircode from the vectors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"
#include "archiver/wa/paircode.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "../unit/tap.h"
#include "common/banned.h"

#define VECTORS "tests/wa/vectors/paircode.json"

static json_t *vec;

/* ---- helpers ------------------------------------------------------------ */

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	if (s == NULL) {
		printf("# vector field %s missing\n", k);
		abort();
	}
	return s;
}

/* Hex field k of o into a fresh malloc'd buffer; *len gets its size. */
static unsigned char *hexdup(const json_t *o, const char *k, size_t *len)
{
	const char *h = str(o, k);
	unsigned char *p;

	*len = strlen(h) / 2;
	p = malloc(*len + 1);
	if (p == NULL || cl_hex_decode(h, p, *len) != CL_OK)
		abort();
	return p;
}

static void hexto(const json_t *o, const char *k, unsigned char *out,
		  size_t n)
{
	if (cl_hex_decode(str(o, k), out, n) != CL_OK)
		abort();
}

static struct cl_wa_node *decode_hex(const json_t *o, const char *k)
{
	size_t len;
	unsigned char *p = hexdup(o, k, &len);
	struct cl_wa_node *n = NULL;

	if (cl_wa_node_decode(p, len, &n, NULL) != CL_OK)
		abort();
	free(p);
	return n;
}

/* 1 when node n encodes to exactly the hex field k of o. */
static int encodes_to(const struct cl_wa_node *n, const json_t *o,
		      const char *k)
{
	size_t len;
	unsigned char *want = hexdup(o, k, &len);
	struct cl_buf b;
	int same;

	cl_buf_init(&b, 1 << 20);
	same = n != NULL && cl_wa_node_encode(n, &b, NULL) == CL_OK &&
	       b.len == len && memcmp(b.data, want, len) == 0;
	if (!same && n != NULL) {
		struct cl_buf f;

		cl_buf_init(&f, 1 << 16);
		if (cl_wa_node_format(n, &f, 200) == CL_OK)
			printf("# got %.*s\n", (int)f.len, (const char *)f.data);
		cl_buf_release(&f);
	}
	cl_buf_release(&b);
	free(want);
	return same;
}

/* Credentials with the vector's Noise and identity keys. */
static struct cl_wa_creds *vec_creds(void)
{
	const json_t *co = json_object_get(vec, "companion");
	struct cl_wa_creds *c = NULL;

	if (cl_wa_creds_generate(&c, NULL) != CL_OK)
		abort();
	hexto(co, "noise_pub", c->noise_pub, 32);
	hexto(co, "noise_priv", c->noise_priv, 32);
	hexto(co, "identity_pub", c->ident_pub, 32);
	hexto(co, "identity_priv", c->ident_priv, 32);
	return c;
}

static void vec_fixed(struct cl_wa_paircode_fixed *fx)
{
	const json_t *f = json_object_get(vec, "fixed");

	hexto(f, "code", fx->code, 5);
	hexto(f, "eph_priv", fx->eph_priv, 32);
	hexto(f, "salt", fx->salt, 32);
	hexto(f, "iv", fx->iv, 16);
	hexto(f, "adv_random", fx->adv_random, 32);
	hexto(f, "bundle_salt", fx->bundle_salt, 32);
	hexto(f, "bundle_nonce", fx->bundle_nonce, 12);
}

/* A pairing with the vector's inputs whose hello was answered. */
static struct cl_wa_paircode *vec_pairing(void)
{
	struct cl_wa_paircode_fixed fx;
	struct cl_wa_paircode *pc = NULL;
	struct cl_wa_node *res = decode_hex(vec, "hello_result");

	vec_fixed(&fx);
	if (cl_wa_paircode_new_fixed(&pc, str(vec, "phone"), &fx, NULL) !=
		    CL_OK ||
	    cl_wa_paircode_on_hello_result(pc, res, NULL) != CL_OK)
		abort();
	cl_wa_node_free(res);
	return pc;
}

/* Independent phone-side primitives (OpenSSL, here in the test). */
static void pbkdf2(const char *code, const unsigned char *salt,
		   unsigned char key[32])
{
	if (PKCS5_PBKDF2_HMAC(code, 8, salt, 32, 131072, EVP_sha256(), 32,
			      key) != 1)
		abort();
}

static void ctr(const unsigned char key[32], const unsigned char iv[16],
		const unsigned char in[32], unsigned char out[32])
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l = 0, l2 = 0;

	if (x == NULL ||
	    EVP_EncryptInit_ex(x, EVP_aes_256_ctr(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(x, out, &l, in, 32) != 1 ||
	    EVP_EncryptFinal_ex(x, out + l, &l2) != 1)
		abort();
	EVP_CIPHER_CTX_free(x);
}

static void hkdf(const unsigned char *ikm, size_t n, const unsigned char *salt,
		 size_t slen, const char *info, unsigned char out[32])
{
	EVP_PKEY_CTX *x = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t olen = 32;

	if (x == NULL || EVP_PKEY_derive_init(x) != 1 ||
	    EVP_PKEY_CTX_set_hkdf_md(x, EVP_sha256()) != 1 ||
	    (slen && EVP_PKEY_CTX_set1_hkdf_salt(x, salt, (int)slen) != 1) ||
	    EVP_PKEY_CTX_set1_hkdf_key(x, ikm, (int)n) != 1 ||
	    EVP_PKEY_CTX_add1_hkdf_info(x, (const unsigned char *)info,
					(int)strlen(info)) != 1 ||
	    EVP_PKEY_derive(x, out, &olen) != 1 || olen != 32)
		abort();
	EVP_PKEY_CTX_free(x);
}

/* Open salt||nonce||ct||tag (156 bytes) with key; 1 on success. */
static int gcm_open(const unsigned char key[32], const unsigned char *bundle,
		    unsigned char plain[96])
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	unsigned char tag[16];
	int l = 0, l2 = 0, ok;

	memcpy(tag, bundle + 140, 16);
	ok = x != NULL &&
	     EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	     EVP_DecryptInit_ex(x, NULL, NULL, key, bundle + 32) == 1 &&
	     EVP_DecryptUpdate(x, plain, &l, bundle + 44, 96) == 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
	     EVP_DecryptFinal_ex(x, plain + l, &l2) == 1;
	EVP_CIPHER_CTX_free(x);
	return ok;
}

/* The content bytes of child `tag` of the first child of n. */
static const struct cl_wa_node *reg_child(const struct cl_wa_node *n,
					  const char *tag)
{
	const struct cl_wa_node *reg = n && n->kind == CL_WA_LIST &&
						       n->nchildren == 1 ?
					       n->children[0] :
					       NULL;
	return reg ? cl_wa_node_child(reg, tag) : NULL;
}

/* ---- the code and the phone number ------------------------------------- */

static int code_ok(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 9 || s[4] != '-')
		return 0;
	for (i = 0; i < 9; i++)
		if (i != 4 && strchr(CL_WA_PAIRCODE_ALPHABET, s[i]) == NULL)
			return 0;
	return 1;
}

static void test_new(void)
{
	static const struct {
		const char *phone;
		int rc;
		const char *digits;
	} cases[] = {
		{ "85291234567", CL_OK, "85291234567" },
		{ "+85291234567", CL_OK, "85291234567" },
		{ "1234567", CL_OK, "1234567" },
		{ "123456789012345", CL_OK, "123456789012345" },
		{ "123456", CL_EINVAL, NULL },
		{ "1234567890123456", CL_EINVAL, NULL },
		{ "++85291234567", CL_EINVAL, NULL },
		{ "852 9123 4567", CL_EINVAL, NULL },
		{ "8529-1234567", CL_EINVAL, NULL },
		{ "85291234567+", CL_EINVAL, NULL },
		{ "", CL_EINVAL, NULL },
		{ "+", CL_EINVAL, NULL },
	};
	struct cl_wa_paircode *a = NULL, *b = NULL;
	char *err = NULL;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cl_wa_paircode_fixed fx;

		memset(&fx, 7, sizeof(fx));
		rc = cl_wa_paircode_new_fixed(&a, cases[i].phone, &fx, &err);
		TAP_OK(rc == cases[i].rc &&
			       (rc != CL_OK ||
				!strcmp(cl_wa_paircode_phone(a),
					cases[i].digits)) &&
			       (rc == CL_OK) == (a != NULL) &&
			       (rc == CL_OK) == (err == NULL),
		       "phone \"%s\": %s", cases[i].phone,
		       cases[i].rc ? "refused" : "accepted");
		cl_wa_paircode_free(a);
		a = NULL;
		free(err);
		err = NULL;
	}
	rc = cl_wa_paircode_new(&a, NULL, &err);
	TAP_OK(rc == CL_EINVAL && a == NULL && err != NULL,
	       "NULL phone refused");
	free(err);
	err = NULL;

	rc = cl_wa_paircode_new(&a, "+85291234567", NULL);
	TAP_OK(rc == CL_OK && cl_wa_paircode_new(&b, "85291234567", NULL) ==
					      CL_OK,
	       "two random pairings");
	if (a == NULL || b == NULL)
		goto out;
	TAP_OK(code_ok(cl_wa_paircode_code(a)) &&
		       code_ok(cl_wa_paircode_code(b)),
	       "codes are XXXX-XXXX in the linking alphabet (%s, %s)",
	       cl_wa_paircode_code(a), cl_wa_paircode_code(b));
	TAP_OK(strcmp(cl_wa_paircode_code(a), cl_wa_paircode_code(b)) != 0 &&
		       memcmp(cl_wa_paircode_wrapped(a),
			      cl_wa_paircode_wrapped(b), 48) != 0,
	       "codes, salts and IVs differ between pairings");
	{
		/* the wrapped key unwraps, with the code, to a key that is
		 * not the ciphertext itself */
		const unsigned char *w = cl_wa_paircode_wrapped(a);
		unsigned char key[32], pub[32];
		char code[9];

		memcpy(code, cl_wa_paircode_code(a), 4);
		memcpy(code + 4, cl_wa_paircode_code(a) + 5, 5);
		pbkdf2(code, w, key);
		ctr(key, w + 32, w + 48, pub);
		TAP_OK(memcmp(pub, w + 48, 32) != 0,
		       "wrapped = salt[32] || iv[16] || AES-CTR(PBKDF2(code))");
	}
out:
	cl_wa_paircode_free(a);
	cl_wa_paircode_free(b);
	cl_wa_paircode_free(NULL);
}

static void test_codes(void)
{
	const json_t *codes = json_object_get(vec, "codes");
	struct cl_wa_paircode_fixed fx;
	size_t i;

	memset(&fx, 1, sizeof(fx));
	for (i = 0; i < json_array_size(codes); i++) {
		const json_t *c = json_array_get(codes, i);
		struct cl_wa_paircode *pc = NULL;
		char want[10];

		hexto(c, "raw", fx.code, 5);
		snprintf(want, sizeof(want), "%.4s-%.4s", str(c, "code"),
			 str(c, "code") + 4);
		if (cl_wa_paircode_new_fixed(&pc, "85291234567", &fx, NULL))
			abort();
		TAP_EQ_STR(cl_wa_paircode_code(pc), want, "code of raw bytes");
		cl_wa_paircode_free(pc);
	}
}

/* ---- hello ------------------------------------------------------------ */

static void test_hello(void)
{
	static const struct {
		const char *display;
		char id;
	} ids[] = {
		{ "Chrome (Linux)", '1' },   { "Edge (Windows)", '2' },
		{ "Firefox (Mac OS)", '3' }, { "IE (Windows)", '4' },
		{ "Opera (Linux)", '5' },    { "Safari (Mac OS)", '6' },
		{ "Desktop (Mac OS)", '7' }, { "Desktop (Windows)", '8' },
		{ "Brave (Linux)", '9' },    { "Chromium (Ubuntu)", '9' },
	};
	static const char *const bad[] = {
		"", "Chrome", "Chrome ()", "(Linux)", " (Linux)",
		"Chrome (Linux", "Chrome\n(Linux)", "Chr\tome (Linux)",
		"Chrome (Linuxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx)",
	};
	struct cl_wa_paircode_fixed fx;
	struct cl_wa_paircode *pc = NULL;
	struct cl_wa_creds *c = vec_creds();
	struct cl_wa_node *hello = NULL;
	const struct cl_wa_node *n;
	char *err = NULL;
	size_t i, len;
	unsigned char *w;
	int rc;

	vec_fixed(&fx);
	rc = cl_wa_paircode_new_fixed(&pc, "+" "85291234567", &fx, NULL);
	TAP_OK(rc == CL_OK, "fixed pairing");
	if (rc)
		goto out;
	TAP_EQ_STR(cl_wa_paircode_code(pc), str(vec, "code_shown"),
		   "known-answer code");
	w = hexdup(vec, "wrapped", &len);
	TAP_OK(len == 80 && !memcmp(w, cl_wa_paircode_wrapped(pc), 80),
	       "known-answer wrapped ephemeral (80 bytes)");
	free(w);
	rc = cl_wa_paircode_hello_node(pc, c, str(vec, "hello_id"),
				       str(vec, "platform_display"), &hello,
				       &err);
	TAP_OK(rc == CL_OK && encodes_to(hello, vec, "hello"),
	       "companion_hello iq encodes byte for byte as Baileys would "
	       "send it (with whatsmeow's 0x00 nonce)");
	cl_wa_node_free(hello);
	hello = NULL;
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		rc = cl_wa_paircode_hello_node(pc, c, "x", ids[i].display,
					       &hello, NULL);
		n = rc == CL_OK ? reg_child(hello, "companion_platform_id") :
				  NULL;
		TAP_OK(n && n->kind == CL_WA_TEXT && n->len == 1 &&
			       n->data[0] == (unsigned char)ids[i].id,
		       "platform id of \"%s\" is %c", ids[i].display,
		       ids[i].id);
		cl_wa_node_free(hello);
		hello = NULL;
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = cl_wa_paircode_hello_node(pc, c, "x", bad[i], &hello,
					       &err);
		TAP_OK(rc == CL_EINVAL && hello == NULL && err != NULL,
		       "display #%zu refused", i);
		free(err);
		err = NULL;
	}
	rc = cl_wa_paircode_hello_node(pc, c, "", "Chrome (Linux)", &hello,
				       &err);
	TAP_OK(rc == CL_EINVAL && hello == NULL, "empty iq id refused");
	free(err);
	err = NULL;
	rc = cl_wa_paircode_hello_node(pc, c, "x", NULL, &hello, &err);
	TAP_OK(rc == CL_EINVAL && hello == NULL, "NULL display refused");
out:
	free(err);
	cl_wa_paircode_free(pc);
	cl_wa_creds_free(c);
}

static void test_hello_result(void)
{
	struct cl_wa_paircode_fixed fx;
	struct cl_wa_paircode *pc = NULL;
	struct cl_wa_creds *c = vec_creds();
	struct cl_wa_node *res = decode_hex(vec, "hello_result");
	struct cl_wa_node *er = decode_hex(vec, "hello_error");
	struct cl_wa_node *no = decode_hex(json_array_get(
						   json_object_get(vec, "exchanges"), 0),
					   "notification");
	struct cl_wa_node *fin = NULL;
	char *err = NULL;
	int rc;

	vec_fixed(&fx);
	if (cl_wa_paircode_new_fixed(&pc, str(vec, "phone"), &fx, NULL))
		abort();
	rc = cl_wa_paircode_on_notification(pc, c, no, "f", &fin, &err);
	TAP_OK(rc == CL_EINVAL && fin == NULL && err != NULL,
	       "a notification before the hello answer is refused");
	free(err);
	err = NULL;
	rc = cl_wa_paircode_on_hello_result(pc, er, &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "400"),
	       "an error answer to the hello is reported (%s)",
	       err ? err : "-");
	free(err);
	err = NULL;
	rc = cl_wa_paircode_on_hello_result(pc, no, &err);
	TAP_OK(rc == CL_EINVAL, "a notification is no hello answer");
	free(err);
	err = NULL;
	rc = cl_wa_paircode_on_hello_result(pc, res, &err);
	TAP_OK(rc == CL_OK && err == NULL, "the hello answer's ref recorded");
	rc = cl_wa_paircode_on_notification(pc, c, no, "f", &fin, &err);
	TAP_OK(rc == CL_OK && fin != NULL,
	       "after it, the notification is accepted");
	cl_wa_node_free(fin);
	free(err);
	cl_wa_node_free(res);
	cl_wa_node_free(er);
	cl_wa_node_free(no);
	cl_wa_paircode_free(pc);
	cl_wa_creds_free(c);
}

/* ---- primary_hello -> companion_finish ---------------------------------- */

static void test_exchanges(void)
{
	const json_t *ex = json_object_get(vec, "exchanges");
	size_t i;

	TAP_OK(json_array_size(ex) == 2, "two exchanges in the vectors");
	for (i = 0; i < json_array_size(ex); i++) {
		const json_t *e = json_array_get(ex, i);
		const char *name = str(e, "name");
		int opens = json_is_true(json_object_get(e, "phone_opens_bundle"));
		struct cl_wa_paircode *pc = vec_pairing();
		struct cl_wa_creds *c = vec_creds();
		struct cl_wa_node *no = decode_hex(e, "notification"), *fin = NULL;
		const struct cl_wa_node *b;
		unsigned char adv[32], key[32], plain[96];
		char *err = NULL;
		int rc;

		hexto(e, "adv_secret", adv, 32);
		hexto(e, "phone_bundle_key", key, 32);
		rc = cl_wa_paircode_on_notification(pc, c, no,
						    str(vec, "finish_id"), &fin,
						    &err);
		TAP_OK(rc == CL_OK && err == NULL, "%s: notification handled",
		       name);
		TAP_OK(encodes_to(fin, e, "finish"),
		       "%s: companion_finish iq matches the vector", name);
		TAP_OK(!memcmp(c->adv_secret, adv, 32),
		       "%s: ADV secret matches the vector", name);
		b = reg_child(fin, "link_code_pairing_wrapped_key_bundle");
		TAP_OK(b && b->kind == CL_WA_BYTES && b->len == 156 &&
			       gcm_open(key, b->data, plain) == opens,
		       "%s: the phone %s the key bundle", name,
		       opens ? "opens" : "cannot open");
		if (opens) {
			unsigned char padv[32];

			hexto(e, "phone_adv_secret", padv, 32);
			TAP_OK(!memcmp(padv, c->adv_secret, 32) &&
				       !memcmp(plain, c->ident_pub, 32),
			       "%s: the phone derives the same ADV secret",
			       name);
		}
		cl_wa_node_free(fin);
		cl_wa_node_free(no);
		free(err);
		cl_wa_paircode_free(pc);
		cl_wa_creds_free(c);
	}
}

/* CL_EBADSIG / CL_EINVAL cases: creds unchanged, no finish, a message. */
static void refused(const json_t *o, const char *name, int want)
{
	struct cl_wa_paircode *pc = vec_pairing();
	struct cl_wa_creds *c = vec_creds();
	struct cl_wa_creds *before = malloc(sizeof(*before));
	struct cl_wa_node *no = decode_hex(o, "notification"), *fin = NULL;
	char *err = NULL;
	int rc;

	if (before == NULL)
		abort();
	memcpy(before, c, sizeof(*c));
	rc = cl_wa_paircode_on_notification(pc, c, no, "f", &fin, &err);
	TAP_OK(rc == want && fin == NULL && err != NULL &&
		       !memcmp(before, c, sizeof(*c)),
	       "%s: %s, credentials unchanged (%s)", name, cl_strerror(want),
	       err ? err : "no message");
	sodium_memzero(before, sizeof(*before));
	free(before);
	free(err);
	cl_wa_node_free(fin);
	cl_wa_node_free(no);
	cl_wa_paircode_free(pc);
	cl_wa_creds_free(c);
}

static void test_refusals(void)
{
	const json_t *mal = json_object_get(vec, "malformed");
	struct cl_wa_paircode *pc = vec_pairing();
	struct cl_wa_creds *c = vec_creds();
	struct cl_wa_node *no = decode_hex(json_array_get(
						   json_object_get(vec, "exchanges"), 0),
					   "notification");
	struct cl_wa_node *fin = NULL;
	char *err = NULL;
	size_t i;
	int rc;

	refused(json_object_get(vec, "low_order"),
		"phone ephemeral is a small-order point", CL_EBADSIG);
	TAP_OK(json_array_size(mal) >= 10, "malformed cases in the vectors");
	for (i = 0; i < json_array_size(mal); i++)
		refused(json_array_get(mal, i),
			str(json_array_get(mal, i), "name"), CL_EINVAL);
	rc = cl_wa_paircode_on_notification(pc, c, no, "", &fin, &err);
	TAP_OK(rc == CL_EINVAL && fin == NULL, "empty finish iq id refused");
	free(err);
	err = NULL;
	rc = cl_wa_paircode_on_notification(pc, c, NULL, "f", &fin, &err);
	TAP_OK(rc == CL_EINVAL && fin == NULL, "NULL notification refused");
	free(err);
	cl_wa_node_free(no);
	cl_wa_paircode_free(pc);
	cl_wa_creds_free(c);
}

/* ---- a random pairing, with the phone played here ------------------------ */

static void add_bytes(struct cl_wa_node *parent, const char *tag,
		      const void *p, size_t len)
{
	struct cl_wa_node *n = NULL;

	if (cl_wa_node_new_s(&n, tag) || cl_wa_node_set_bytes(n, p, len) ||
	    cl_wa_node_add_child(parent, n))
		abort();
}

static void test_roundtrip(void)
{
	struct cl_wa_paircode *pc = NULL;
	struct cl_wa_creds *c = NULL;
	struct cl_wa_node *hello = NULL, *res = NULL, *reg, *no = NULL,
			  *fin = NULL;
	const struct cl_wa_node *w, *b, *r;
	unsigned char key[32], comp_eph[32], pe_pub[32], pe_priv[32],
		pi_pub[32], pi_priv[32], pw[80], ikm[96], plain[96], adv[32];
	char code[9];
	int rc;

	if (cl_wa_creds_generate(&c, NULL) != CL_OK ||
	    cl_wa_x25519_keypair(pe_pub, pe_priv) != CL_OK ||
	    cl_wa_x25519_keypair(pi_pub, pi_priv) != CL_OK)
		abort();
	rc = cl_wa_paircode_new(&pc, "+4915123456789", NULL);
	if (rc == CL_OK)
		rc = cl_wa_paircode_hello_node(pc, c, "h1", "Firefox (Ubuntu)",
					       &hello, NULL);
	TAP_OK(rc == CL_OK, "random pairing: hello built");
	if (rc)
		goto out;
	reg = hello->children[0];
	TAP_EQ_STR(cl_wa_node_attr_str(reg, "jid"),
		   "4915123456789@s.whatsapp.net", "hello jid");
	r = cl_wa_node_child(reg, "companion_server_auth_key_pub");
	TAP_OK(r && r->len == 32 && !memcmp(r->data, c->noise_pub, 32),
	       "companion_server_auth_key_pub is the Noise static key");

	/* the phone: unwrap the companion's ephemeral with the code */
	memcpy(code, cl_wa_paircode_code(pc), 4);
	memcpy(code + 4, cl_wa_paircode_code(pc) + 5, 5);
	w = cl_wa_node_child(reg,
			     "link_code_pairing_wrapped_companion_ephemeral_pub");
	if (w == NULL || w->len != 80)
		abort();
	pbkdf2(code, w->data, key);
	ctr(key, w->data + 32, w->data + 48, comp_eph);
	/* ... wrap its own with fresh salt and iv */
	randombytes_buf(pw, 48);
	pbkdf2(code, pw, key);
	ctr(key, pw + 32, pe_pub, pw + 48);
	/* server answer and notification */
	if (cl_wa_node_new_s(&res, "iq") ||
	    cl_wa_node_add_attr_s(res, "type", "result") ||
	    cl_wa_node_new_s(&reg, "link_code_companion_reg") ||
	    cl_wa_node_add_child(res, reg))
		abort();
	add_bytes(reg, "link_code_pairing_ref", "3@2:roundtrip", 13);
	if (cl_wa_node_new_s(&no, "notification") ||
	    cl_wa_node_add_attr_s(no, "type", "link_code_companion_reg") ||
	    cl_wa_node_new_s(&reg, "link_code_companion_reg") ||
	    cl_wa_node_add_attr_s(reg, "stage", "primary_hello") ||
	    cl_wa_node_add_child(no, reg))
		abort();
	add_bytes(reg, "link_code_pairing_wrapped_primary_ephemeral_pub", pw, 80);
	add_bytes(reg, "primary_identity_pub", pi_pub, 32);
	add_bytes(reg, "link_code_pairing_ref", "3@2:roundtrip", 13);
	rc = cl_wa_paircode_on_hello_result(pc, res, NULL);
	if (rc == CL_OK)
		rc = cl_wa_paircode_on_notification(pc, c, no, "f1", &fin,
						    NULL);
	TAP_OK(rc == CL_OK && fin != NULL, "random pairing: finish built");
	if (rc)
		goto out;
	/* the phone opens the bundle and derives the ADV secret */
	b = reg_child(fin, "link_code_pairing_wrapped_key_bundle");
	if (b == NULL || b->len != 156 ||
	    cl_wa_x25519(ikm, pe_priv, comp_eph) != CL_OK)
		abort();
	hkdf(ikm, 32, b->data, 32,
	     "link_code_pairing_key_bundle_encryption_key", key);
	rc = gcm_open(key, b->data, plain);
	TAP_OK(rc && !memcmp(plain, c->ident_pub, 32) &&
		       !memcmp(plain + 32, pi_pub, 32),
	       "random pairing: the phone opens the key bundle");
	if (!rc)
		goto out;
	if (cl_wa_x25519(ikm + 32, pi_priv, plain) != CL_OK)
		abort();
	memcpy(ikm + 64, plain + 64, 32);
	hkdf(ikm, 96, NULL, 0, "adv_secret", adv);
	TAP_OK(!memcmp(adv, c->adv_secret, 32),
	       "random pairing: both sides derive the same ADV secret");
	r = reg_child(fin, "companion_identity_public");
	TAP_OK(r && r->len == 32 && !memcmp(r->data, c->ident_pub, 32) &&
		       !strcmp(cl_wa_node_attr_str(fin->children[0], "stage"),
			       "companion_finish"),
	       "finish carries our identity and stage companion_finish");
out:
	cl_wa_node_free(hello);
	cl_wa_node_free(res);
	cl_wa_node_free(no);
	cl_wa_node_free(fin);
	cl_wa_paircode_free(pc);
	cl_wa_creds_free(c);
}

/* ---- vectors and seeds --------------------------------------------------- */

static int load_vectors(void)
{
	const char *rootdir = getenv("CL_ROOT");
	char path[4096];
	json_error_t je;

	snprintf(path, sizeof(path), "%s/%s", rootdir ? rootdir : ".", VECTORS);
	vec = json_load_file(path, 0, &je);
	TAP_OK(vec != NULL, "pairing-code vectors load from %s", path);
	if (vec == NULL)
		printf("# %s\n", je.text);
	return vec != NULL;
}

static void write_seed(const char *dir, const char *name, const json_t *o,
		       const char *k)
{
	size_t len;
	unsigned char *p = hexdup(o, k, &len);
	char *path = NULL;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0 ||
	    (f = fopen(path, "wb")) == NULL)
		abort();
	if (fwrite(p, 1, len, f) != len || fclose(f) != 0)
		abort();
	free(path);
	free(p);
}

/*
 * `test_wa_paircode --seeds DIR`: the vectors' notifications and hello
 * answers, for fuzz_wa_paircode (which uses the same fixed inputs).
 */
static int write_seeds(const char *dir)
{
	const json_t *mal = json_object_get(vec, "malformed");
	const json_t *ex = json_object_get(vec, "exchanges");
	size_t i, n = 0;
	char name[64];

	write_seed(dir, "hello-result", vec, "hello_result");
	write_seed(dir, "hello-error", vec, "hello_error");
	write_seed(dir, "low-order", json_object_get(vec, "low_order"),
		   "notification");
	n += 3;
	for (i = 0; i < json_array_size(ex); i++, n++) {
		snprintf(name, sizeof(name), "exchange-%s",
			 str(json_array_get(ex, i), "name"));
		write_seed(dir, name, json_array_get(ex, i), "notification");
	}
	for (i = 0; i < json_array_size(mal); i++, n++) {
		snprintf(name, sizeof(name), "malformed-%02zu", i);
		write_seed(dir, name, json_array_get(mal, i), "notification");
	}
	printf("wrote %zu seeds to %s\n", n, dir);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sodium_init() < 0) {
		printf("not ok 1 - sodium_init\n");
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--seeds"))
		return load_vectors() ? write_seeds(argv[2]) : 1;
	test_new();
	if (load_vectors()) {
		test_codes();
		test_hello();
		test_hello_result();
		test_exchanges();
		test_refusals();
	}
	test_roundtrip();
	json_decref(vec);
	return tap_done();
}
