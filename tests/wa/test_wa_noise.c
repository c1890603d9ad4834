/*
 * test_wa_noise.c - WhatsApp's Curve25519 operations (archiver/wa/xeddsa.c),
 * certificate chain (archiver/wa/cert.c) and Noise handshake and
 * transport (archiver/wa/noise.c).
 *
 *   1. X25519 and XEdDSA: agreement, low-order points, sign/verify round
 *      trips, every flipped signature bit, wrong keys and messages.
 *   2. Certificates: chains built with protobuf-c and signed with a test
 *      root (responder.h); every rule of cert.h broken once.
 *   3. Handshake: the responder of responder.h, written from the Noise XX
 *      rules (its HKDF is RFC 5869 over OpenSSL's HMAC, not noise.c's
 *      EVP_KDF), runs against the initiator; transport frames both ways,
 *      counters, tampering, misuse, tampered server hellos, refused
 *      chains.
 *   4. Known answers from npm baileys (tests/wa/vectors/noise.json and
 *      xeddsa.json, made by the test peer): byte-exact client hello and
 *      client finish, transport frames, certificate verdicts, signatures.
 *      A missing file is a failure, not a skip.
 *
 * Run from the repository root (or set CL_ROOT).  With the arguments
 * `--write-corpus DIR` it writes the fuzz seeds of fuzz_wa_cert (whose
 * fixed keys are those of responder.h) into DIR instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wa.pb-c.h"

#include "archiver/wa/cert.h"
#include "archiver/wa/frame.h"
#include "archiver/wa/noise.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "../unit/tap.h"
#include "responder.h"
#include "common/banned.h"

#define BIG (16u << 20)
#define NOW 1700000000u  /* the tests' clock */

/* ---- helpers ------------------------------------------------------------ */

/* Hex to a new buffer (never NULL for valid hex; "" gives a 1-byte
 * allocation and *len 0).  NULL on bad hex. */
static unsigned char *unhex(const char *h, size_t *len)
{
	size_t n;
	unsigned char *p;

	if (h == NULL || strlen(h) % 2)
		return NULL;
	n = strlen(h) / 2;
	p = malloc(n + 1);
	if (p == NULL || (n && cl_hex_decode(h, p, n) != CL_OK)) {
		free(p);
		return NULL;
	}
	*len = n;
	return p;
}

/* Exactly 32 bytes of hex into k: 1, else 0. */
static int unhex32(const char *h, unsigned char k[32])
{
	return h && strlen(h) == 64 && cl_hex_decode(h, k, 32) == CL_OK;
}

static int bytes_eq(const unsigned char *a, size_t alen, const unsigned char *b,
		    size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Print the first difference of two byte strings as a TAP comment. */
static void show_diff(const char *what, const unsigned char *got, size_t glen,
		      const unsigned char *want, size_t wlen)
{
	size_t i = 0;

	while (i < glen && i < wlen && got[i] == want[i])
		i++;
	printf("# %s: got %zu bytes, want %zu; first difference at %zu\n",
	       what, glen, wlen, i);
}

/* ---- 1. X25519 and XEdDSA ------------------------------------------------ */

static void test_x25519(void)
{
	unsigned char apub[32], apriv[32], bpub[32], bpriv[32], s1[32], s2[32];
	unsigned char pub2[32], zero[32] = { 0 }, one[32] = { 1 };

	TAP_EQ_INT(cl_wa_x25519_keypair(apub, apriv), CL_OK, "x25519 keypair a");
	TAP_EQ_INT(cl_wa_x25519_keypair(bpub, bpriv), CL_OK, "x25519 keypair b");
	TAP_OK((apriv[0] & 7) == 0 && (apriv[31] & 0xc0) == 0x40,
	       "keypair private key is clamped");
	TAP_EQ_INT(cl_wa_x25519_pub(pub2, apriv), CL_OK, "x25519 pub");
	TAP_OK(memcmp(pub2, apub, 32) == 0, "pub matches the keypair's");
	TAP_EQ_INT(cl_wa_x25519(s1, apriv, bpub), CL_OK, "DH a,B");
	TAP_EQ_INT(cl_wa_x25519(s2, bpriv, apub), CL_OK, "DH b,A");
	TAP_OK(memcmp(s1, s2, 32) == 0, "both sides agree");
	TAP_EQ_INT(cl_wa_x25519(s1, apriv, zero), CL_EINVAL,
		   "DH with the zero point refused");
	TAP_OK(memcmp(s1, zero, 32) == 0, "refused DH output is zeroed");
	TAP_EQ_INT(cl_wa_x25519(s1, apriv, one), CL_EINVAL,
		   "DH with a low-order point (u=1) refused");
}

static void test_xeddsa(void)
{
	static const size_t lens[] = { 0, 1, 32, 100, 5000 };
	unsigned char pub[32], priv[32], sig[64], sig2[64], msg[5000];
	unsigned char unclamped[32], upub[32];
	size_t i, j;
	int bad;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	TAP_EQ_INT(cl_wa_x25519_keypair(pub, priv), CL_OK, "signing keypair");
	for (j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
		TAP_EQ_INT(cl_wa_xeddsa_sign(sig, priv, msg, lens[j]), CL_OK,
			   "sign");
		TAP_EQ_INT(cl_wa_xeddsa_verify(pub, msg, lens[j], sig), CL_OK,
			   "verify");
		if (lens[j]) {
			msg[lens[j] - 1] ^= 0x01;
			TAP_EQ_INT(cl_wa_xeddsa_verify(pub, msg, lens[j], sig),
				   CL_EBADSIG, "flipped message bit refused");
			msg[lens[j] - 1] ^= 0x01;
			TAP_EQ_INT(cl_wa_xeddsa_verify(pub, msg, lens[j] - 1, sig),
				   CL_EBADSIG, "shortened message refused");
		}
	}
	TAP_EQ_INT(cl_wa_xeddsa_sign(sig, priv, NULL, 0), CL_OK,
		   "sign an empty message given as NULL");
	TAP_EQ_INT(cl_wa_xeddsa_verify(pub, NULL, 0, sig), CL_OK,
		   "verify an empty message given as NULL");

	TAP_EQ_INT(cl_wa_xeddsa_sign(sig, priv, msg, 100), CL_OK, "sign 100");
	TAP_EQ_INT(cl_wa_xeddsa_sign(sig2, priv, msg, 100), CL_OK, "sign again");
	TAP_OK(memcmp(sig, sig2, 64) != 0, "signatures are randomised");
	TAP_EQ_INT(cl_wa_xeddsa_verify(pub, msg, 100, sig2), CL_OK,
		   "second signature verifies");
	bad = 0;
	for (i = 0; i < 512; i++) {
		sig[i / 8] ^= (unsigned char)(1u << (i % 8));
		if (cl_wa_xeddsa_verify(pub, msg, 100, sig) != CL_EBADSIG)
			bad++;
		sig[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	TAP_EQ_INT(bad, 0, "each of the 512 flipped signature bits is refused");
	bad = 0;
	for (i = 0; i < 255; i++) {
		pub[i / 8] ^= (unsigned char)(1u << (i % 8));
		if (cl_wa_xeddsa_verify(pub, msg, 100, sig) != CL_EBADSIG)
			bad++;
		pub[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	TAP_EQ_INT(bad, 0, "each of the low 255 flipped public key bits is "
		   "refused");
	/* Bit 255 is not part of a Curve25519 u-coordinate (RFC 7748 masks
	 * it), so the key with it set is the same key.  Keys that matter are
	 * pinned (the root) or signed (the intermediate's). */
	pub[31] ^= 0x80;
	TAP_EQ_INT(cl_wa_xeddsa_verify(pub, msg, 100, sig), CL_OK,
		   "public key bit 255 is ignored, as RFC 7748 says");
	pub[31] ^= 0x80;
	TAP_EQ_INT(cl_wa_xeddsa_verify(K.other_pub, msg, 100, sig), CL_EBADSIG,
		   "another key refused");
	memset(sig2, 0, sizeof(sig2));
	TAP_EQ_INT(cl_wa_xeddsa_verify(pub, msg, 100, sig2), CL_EBADSIG,
		   "all-zero signature refused");

	/* An unclamped private key signs as its clamped form. */
	fixed_key(unclamped, 9);
	unclamped[0] |= 7;
	unclamped[31] |= 0x80;
	TAP_EQ_INT(cl_wa_x25519_pub(upub, unclamped), CL_OK, "pub of unclamped");
	TAP_EQ_INT(cl_wa_xeddsa_sign(sig, unclamped, msg, 64), CL_OK,
		   "sign with unclamped key");
	TAP_EQ_INT(cl_wa_xeddsa_verify(upub, msg, 64, sig), CL_OK,
		   "verifies under the X25519 public key");
}

/* ---- 2. certificate chains (built by responder.h) ---------------------- */

enum { WANT_OK = CL_OK, WANT_SIG = CL_EBADSIG, WANT_INVAL = CL_EINVAL };

/*
 * Case i of the certificate table: adjust *c and *now, set *name and
 * *want.  Returns 0 past the end.
 */
static int cert_case(int i, struct chain_spec *c, uint64_t *now,
		     const char **name, int *want)
{
	chain_defaults(c);
	*now = NOW;
	*want = WANT_SIG;
	switch (i) {
	case 0: *name = "good chain"; *want = WANT_OK; break;
	case 1: *name = "intermediate without issuerSerial (counts as 0)";
		c->inter.has_issuer = 0; *want = WANT_OK; break;
	case 2: *name = "now == notBefore"; *now = NB; *want = WANT_OK; break;
	case 3: *name = "now == notAfter"; *now = NA; *want = WANT_OK; break;
	case 4: *name = "intermediate signed by another root";
		memcpy(c->inter.signer, K.other_priv, 32); break;
	case 5: *name = "leaf signed by the root, not the intermediate";
		memcpy(c->leaf.signer, K.root_priv, 32); break;
	case 6: *name = "leaf signed by another key";
		memcpy(c->leaf.signer, K.other_priv, 32); break;
	case 7: *name = "leaf key is not the server static key";
		memcpy(c->leaf.key, K.other_pub, 32); break;
	case 8: *name = "intermediate issuerSerial 1"; c->inter.issuer = 1; break;
	case 9: *name = "leaf issuerSerial != intermediate serial";
		c->leaf.issuer = 8; break;
	case 10: *name = "leaf without issuerSerial (0 != 7)";
		c->leaf.has_issuer = 0; break;
	case 11: *name = "intermediate without serial, leaf issuer 7";
		c->inter.has_serial = 0; break;
	case 12: *name = "intermediate key 31 bytes"; c->inter.key_len = 31; break;
	case 13: *name = "intermediate key 33 bytes"; c->inter.key_len = 33; break;
	case 14: *name = "intermediate without key"; c->inter.has_key = 0; break;
	case 15: *name = "leaf key 31 bytes"; c->leaf.key_len = 31; break;
	case 16: *name = "leaf key 33 bytes (static + 1)";
		c->leaf.key[32] = 0; c->leaf.key_len = 33; break;
	case 17: *name = "leaf without key"; c->leaf.has_key = 0; break;
	case 18: *name = "intermediate expired"; c->inter.na = NOW - 1; break;
	case 19: *name = "leaf expired"; c->leaf.na = NOW - 1; break;
	case 20: *name = "intermediate not yet valid"; c->inter.nb = NOW + 1; break;
	case 21: *name = "leaf not yet valid"; c->leaf.nb = NOW + 1; break;
	case 22: *name = "now past both"; *now = NA + 1; break;
	case 23: *name = "intermediate without notBefore"; c->inter.has_nb = 0; break;
	case 24: *name = "intermediate without notAfter"; c->inter.has_na = 0; break;
	case 25: *name = "leaf without notBefore"; c->leaf.has_nb = 0; break;
	case 26: *name = "leaf without notAfter"; c->leaf.has_na = 0; break;
	case 27: *name = "intermediate signature 63 bytes"; c->inter.sig_len = 63; break;
	case 28: *name = "intermediate signature 65 bytes"; c->inter.sig_len = 65; break;
	case 29: *name = "leaf signature 63 bytes"; c->leaf.sig_len = 63; break;
	case 30: *name = "leaf signature empty"; c->leaf.sig_len = 0; break;
	case 31: *name = "intermediate signature bit flipped";
		c->inter.flip_sig = 1; break;
	case 32: *name = "leaf signature bit flipped"; c->leaf.flip_sig = 1; break;
	case 33: *name = "no leaf"; c->leaf.present = 0; *want = WANT_INVAL; break;
	case 34: *name = "no intermediate"; c->inter.present = 0;
		*want = WANT_INVAL; break;
	case 35: *name = "intermediate without details";
		c->inter.has_details = 0; *want = WANT_INVAL; break;
	case 36: *name = "leaf without signature"; c->leaf.has_sig = 0;
		*want = WANT_INVAL; break;
	case 37: *name = "signed garbage intermediate details";
		c->inter.garbage_details = 1; *want = WANT_INVAL; break;
	case 38: *name = "signed garbage leaf details";
		c->leaf.garbage_details = 1; *want = WANT_INVAL; break;
	case 39: *name = "intermediate key is the server's, leaf self-signed";
		memcpy(c->inter.key, K.srv_s_pub, 32);
		memcpy(c->leaf.signer, K.srv_s_priv, 32);
		*want = WANT_OK; break;
	case 40: *name = "leaf and intermediate swapped";
		{
			struct cert_spec t = c->inter;

			c->inter = c->leaf;
			c->leaf = t;
		}
		break;
	default: return 0;
	}
	return 1;
}

static void test_cert_table(void)
{
	struct chain_spec c;
	struct cl_buf chain;
	const char *name = NULL;
	uint64_t now;
	int i, want;

	for (i = 0; cert_case(i, &c, &now, &name, &want); i++) {
		char *err = NULL;
		int rc;

		cl_buf_init(&chain, BIG);
		if (chain_build(&c, &chain)) {
			TAP_OK(0, "cert %s: build", name);
			cl_buf_release(&chain);
			continue;
		}
		rc = cl_wa_cert_verify(chain.data, chain.len, K.root_pub,
				       K.srv_s_pub, now, &err);
		TAP_OK(rc == want && (rc == CL_OK) == (err == NULL),
		       "cert %s: %s (rc %d, want %d%s%s)", name,
		       rc == CL_OK ? "accepted" : "refused", rc, want,
		       err ? "; " : "", err ? err : "");
		free(err);
		cl_buf_release(&chain);
	}
}

static void test_cert_misc(void)
{
	struct chain_spec c;
	struct cl_buf chain;
	unsigned char big[CL_WA_CERT_MAX_BYTES + 1];
	size_t i;
	char *err = NULL;
	int bad;

	chain_defaults(&c);
	cl_buf_init(&chain, BIG);
	TAP_OK(chain_build(&c, &chain) == 0, "build a good chain");
	TAP_EQ_INT(cl_wa_cert_verify(chain.data, chain.len, K.other_pub,
				     K.srv_s_pub, NOW, &err), CL_EBADSIG,
		   "wrong pinned root refused");
	TAP_OK(err && strstr(err, "root"), "message names the root check: %s",
	       err ? err : "(none)");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_cert_verify(chain.data, chain.len, K.root_pub,
				     K.other_pub, NOW, &err), CL_EBADSIG,
		   "other server static refused");
	free(err);
	err = NULL;

	/* Every truncation and every flipped byte is refused. */
	bad = 0;
	for (i = 0; i < chain.len; i++) {
		if (cl_wa_cert_verify(chain.data, i, K.root_pub, K.srv_s_pub,
				      NOW, &err) == CL_OK)
			bad++;
		free(err);
		err = NULL;
	}
	TAP_EQ_INT(bad, 0, "every truncation refused");
	bad = 0;
	for (i = 0; i < chain.len; i++) {
		chain.data[i] ^= 0x41;
		if (cl_wa_cert_verify(chain.data, chain.len, K.root_pub,
				      K.srv_s_pub, NOW, &err) == CL_OK)
			bad++;
		chain.data[i] ^= 0x41;
		free(err);
		err = NULL;
	}
	TAP_EQ_INT(bad, 0, "every flipped byte refused");

	TAP_EQ_INT(cl_wa_cert_verify((const unsigned char *)"\xff\xff\xff", 3,
				     K.root_pub, K.srv_s_pub, NOW, &err),
		   CL_EINVAL, "garbage refused as malformed");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_cert_verify(NULL, 0, K.root_pub, K.srv_s_pub, NOW, &err),
		   CL_EINVAL, "empty chain refused");
	free(err);
	err = NULL;
	memset(big, 0, sizeof(big));
	TAP_EQ_INT(cl_wa_cert_verify(big, sizeof(big), K.root_pub, K.srv_s_pub,
				     NOW, &err), CL_EINVAL, "oversized chain refused");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_cert_verify(chain.data, chain.len, K.root_pub,
				     K.srv_s_pub, NOW, NULL), CL_OK,
		   "err may be NULL");
	cl_buf_release(&chain);
}

/* ---- 3. handshake tests ------------------------------------------------- */

static const unsigned char PAYLOAD[] = "client payload: a ClientPayload protobuf";

/* A server hello for the fixed client ephemeral carrying chain c, or -1. */
static int make_server_hello(const struct chain_spec *c, struct cl_buf *sh,
			     struct resp *r)
{
	struct cl_wa_noise_hs *hs = NULL;
	struct cl_buf hello, chain;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	cl_buf_init(&hello, BIG);
	cl_buf_init(&chain, BIG);
	if (cl_wa_noise_hs_new(&hs, K.cli_s_priv, K.cli_s_pub, K.cli_e_priv,
			       NULL) != CL_OK ||
	    cl_wa_noise_hs_client_hello(hs, &hello, NULL) != CL_OK ||
	    chain_build(c, &chain) ||
	    resp_hello(r, hello.data, hello.len, chain.data, chain.len, sh))
		goto out;
	rc = 0;
out:
	cl_wa_noise_hs_free(hs);
	cl_buf_release(&hello);
	cl_buf_release(&chain);
	return rc;
}

/* Run the client against server hello `sh`: rc, and *tr on CL_OK. */
static int client_run(const struct cl_buf *sh, const unsigned char *root,
		      uint64_t now, struct cl_buf *fin,
		      struct cl_wa_noise_transport **tr, char **err)
{
	struct cl_wa_noise_hs *hs = NULL;
	struct cl_buf hello;
	int rc;

	cl_buf_init(&hello, BIG);
	rc = cl_wa_noise_hs_new(&hs, K.cli_s_priv, K.cli_s_pub, K.cli_e_priv, err);
	if (rc == CL_OK)
		rc = cl_wa_noise_hs_client_hello(hs, &hello, err);
	if (rc == CL_OK)
		rc = cl_wa_noise_hs_finish(hs, sh->data, sh->len, root, now,
					   PAYLOAD, sizeof(PAYLOAD), fin, tr,
					   NULL, err);
	cl_wa_noise_hs_free(hs);
	cl_buf_release(&hello);
	return rc;
}

static void test_transport_pair(struct cl_wa_noise_transport *cli,
				struct cl_wa_noise_transport *srv)
{
	struct cl_buf c, p;
	unsigned char msg[3000];
	uint64_t w, r;
	size_t i;
	int ok = 1;
	char *err = NULL;

	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)((i ^ (i >> 8)) + 1); /* msg[0] != 0 */
	cl_buf_init(&c, BIG);
	cl_buf_init(&p, BIG);
	/* Interleaved both ways, lengths 0 .. 3000. */
	for (i = 0; i < 40 && ok; i++) {
		size_t len = (i * 997) % sizeof(msg);
		struct cl_wa_noise_transport *a = i % 3 ? cli : srv;
		struct cl_wa_noise_transport *b = i % 3 ? srv : cli;

		cl_buf_reset(&c);
		cl_buf_reset(&p);
		ok = cl_wa_noise_encrypt(a, msg, len, &c, &err) == CL_OK &&
		     c.len == len + 16 &&
		     cl_wa_noise_decrypt(b, c.data, c.len, &p, &err) == CL_OK &&
		     bytes_eq(p.data, p.len, msg, len);
	}
	TAP_OK(ok, "40 transport frames both ways round-trip%s%s",
	       err ? ": " : "", err ? err : "");
	free(err);
	err = NULL;
	cl_wa_noise_transport_counters(cli, &w, &r);
	TAP_OK(w == 26 && r == 14, "client counters 26/14 (got %llu/%llu)",
	       (unsigned long long)w, (unsigned long long)r);

	/* Appending keeps earlier bytes. */
	cl_buf_reset(&c);
	cl_buf_add(&c, "xy", 2);
	TAP_EQ_INT(cl_wa_noise_encrypt(cli, msg, 5, &c, NULL), CL_OK,
		   "encrypt appends");
	TAP_OK(c.len == 23 && memcmp(c.data, "xy", 2) == 0, "prefix kept");
	cl_buf_reset(&p);
	TAP_EQ_INT(cl_wa_noise_decrypt(srv, c.data + 2, 21, &p, NULL), CL_OK,
		   "decrypt the appended frame");

	/* Replay refused (the counter moved on); the transport then breaks. */
	TAP_EQ_INT(cl_wa_noise_decrypt(srv, c.data + 2, 21, &p, &err), CL_EBADSIG,
		   "replayed frame refused");
	TAP_OK(p.len == 5, "nothing appended on failure");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_noise_encrypt(srv, msg, 5, &c, NULL), CL_EBADSIG,
		   "broken transport refuses to encrypt");
	TAP_EQ_INT(cl_wa_noise_decrypt(srv, c.data, 21, &p, NULL), CL_EBADSIG,
		   "broken transport refuses to decrypt");
	cl_buf_release(&c);
	cl_buf_release(&p);
}

static void test_tamper_and_wrap(void)
{
	unsigned char wk[32], rk[32], msg[40] = "transport";
	struct cl_wa_noise_transport *a = NULL, *b = NULL;
	struct cl_buf c, p;
	size_t i;
	uint64_t w, r;
	int bad = 0;
	char *err = NULL;

	fixed_key(wk, 20);
	fixed_key(rk, 21);
	cl_buf_init(&c, BIG);
	cl_buf_init(&p, BIG);
	TAP_EQ_INT(cl_wa_noise_transport_new(&a, wk, rk), CL_OK, "transport a");
	TAP_EQ_INT(cl_wa_noise_transport_new(&b, rk, wk), CL_OK, "transport b");
	if (a == NULL || b == NULL)
		goto out;
	TAP_EQ_INT(cl_wa_noise_encrypt(a, msg, sizeof(msg), &c, NULL), CL_OK,
		   "encrypt");
	for (i = 0; i < c.len; i++) {
		struct cl_wa_noise_transport *t = NULL;

		c.data[i] ^= 0x80;
		if (cl_wa_noise_transport_new(&t, rk, wk) != CL_OK ||
		    cl_wa_noise_decrypt(t, c.data, c.len, &p, NULL) != CL_EBADSIG ||
		    p.len != 0)
			bad++;
		cl_wa_noise_transport_free(t);
		c.data[i] ^= 0x80;
	}
	TAP_EQ_INT(bad, 0, "every flipped ciphertext or tag bit refused");
	TAP_EQ_INT(cl_wa_noise_decrypt(b, c.data, 15, &p, &err), CL_EINVAL,
		   "frame shorter than the tag refused");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_noise_decrypt(b, c.data, c.len, &p, NULL), CL_OK,
		   "untampered frame still decrypts");
	TAP_OK(bytes_eq(p.data, p.len, msg, sizeof(msg)) && p.data[p.len] == 0,
	       "plaintext intact (first byte included), NUL after it");

	/* Output cap. */
	{
		struct cl_buf small;

		cl_buf_init(&small, 20);
		TAP_EQ_INT(cl_wa_noise_encrypt(a, msg, 10, &small, &err), CL_ETOOBIG,
			   "encrypt over the output cap refused");
		TAP_OK(small.len == 0, "nothing appended");
		cl_wa_noise_transport_counters(a, &w, NULL);
		TAP_OK(w == 1, "write counter unchanged by the failure");
		free(err);
		err = NULL;
		cl_buf_release(&small);
	}

	/* Counters stop at 2^32 - 1 and never wrap. */
	TAP_EQ_INT(cl_wa_noise_transport_set_counters(a, 0xffffffffu, 0), CL_OK,
		   "set write counter to 2^32-1");
	TAP_EQ_INT(cl_wa_noise_transport_set_counters(b, 0, 0xffffffffu), CL_OK,
		   "set read counter to 2^32-1");
	cl_buf_reset(&c);
	cl_buf_reset(&p);
	TAP_EQ_INT(cl_wa_noise_encrypt(a, msg, 4, &c, NULL), CL_OK,
		   "last counter value encrypts");
	TAP_EQ_INT(cl_wa_noise_decrypt(b, c.data, c.len, &p, NULL), CL_OK,
		   "and decrypts");
	cl_wa_noise_transport_counters(a, &w, NULL);
	cl_wa_noise_transport_counters(b, NULL, &r);
	TAP_OK(w == 0x100000000ull && r == 0x100000000ull, "counters exhausted");
	TAP_EQ_INT(cl_wa_noise_encrypt(a, msg, 4, &c, &err), CL_EINVAL,
		   "encrypt refused when the counter would wrap");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_noise_decrypt(b, c.data, c.len, &p, &err), CL_EINVAL,
		   "decrypt refused when the counter would wrap");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_noise_transport_set_counters(a, 0x100000001ull, 0),
		   CL_EINVAL, "counter past 2^32 refused");
out:
	cl_wa_noise_transport_free(a);
	cl_wa_noise_transport_free(b);
	cl_buf_release(&c);
	cl_buf_release(&p);
}

static void test_handshake(void)
{
	struct chain_spec c;
	struct resp r;
	struct cl_buf sh, fin, got;
	struct cl_wa_noise_hs *hs = NULL;
	struct cl_wa_noise_transport *tr = NULL, *srv = NULL;
	unsigned char rs[32];
	char *err = NULL;
	int rc;

	chain_defaults(&c);
	cl_buf_init(&sh, BIG);
	cl_buf_init(&fin, BIG);
	cl_buf_init(&got, BIG);
	TAP_OK(make_server_hello(&c, &sh, &r) == 0, "responder made a server hello");

	/* The good handshake, step by step. */
	TAP_EQ_INT(cl_wa_noise_hs_new(&hs, K.cli_s_priv, K.cli_s_pub, K.cli_e_priv,
				      &err), CL_OK, "hs_new");
	if (hs == NULL)
		goto out;
	TAP_EQ_INT(cl_wa_noise_hs_finish(hs, sh.data, sh.len, K.root_pub, NOW,
					 PAYLOAD, sizeof(PAYLOAD), &fin, &tr, rs,
					 &err), CL_EINVAL,
		   "finish before the client hello refused");
	free(err);
	err = NULL;
	cl_wa_noise_hs_free(hs);
	hs = NULL;
	TAP_EQ_INT(cl_wa_noise_hs_new(&hs, K.cli_s_priv, K.cli_s_pub, K.cli_e_priv,
				      &err), CL_OK, "hs_new again");
	if (hs == NULL)
		goto out;
	cl_buf_reset(&got);
	TAP_EQ_INT(cl_wa_noise_hs_client_hello(hs, &got, &err), CL_OK,
		   "client hello");
	TAP_OK(got.len == 36 && memcmp(got.data, "\x12\x22\x0a\x20", 4) == 0 &&
	       memcmp(got.data + 4, K.cli_e_pub, 32) == 0,
	       "client hello is HandshakeMessage{clientHello{ephemeral}}");
	TAP_EQ_INT(cl_wa_noise_hs_client_hello(hs, &got, &err), CL_EINVAL,
		   "second client hello refused");
	TAP_OK(got.len == 36, "nothing appended by the refused hello");
	free(err);
	err = NULL;
	rc = cl_wa_noise_hs_finish(hs, sh.data, sh.len, K.root_pub, NOW, PAYLOAD,
				   sizeof(PAYLOAD), &fin, &tr, rs, &err);
	TAP_OK(rc == CL_OK && tr != NULL, "handshake finished (rc %d%s%s)", rc,
	       err ? ": " : "", err ? err : "");
	free(err);
	err = NULL;
	TAP_OK(memcmp(rs, K.srv_s_pub, 32) == 0, "server static key returned");
	TAP_EQ_INT(cl_wa_noise_hs_finish(hs, sh.data, sh.len, K.root_pub, NOW,
					 PAYLOAD, sizeof(PAYLOAD), &fin, &srv,
					 NULL, &err), CL_EINVAL,
		   "second finish refused");
	free(err);
	err = NULL;
	cl_buf_reset(&got);
	TAP_OK(resp_finish(&r, fin.data, fin.len, &got, &srv) == 0,
	       "responder accepted the client finish");
	TAP_OK(bytes_eq(got.data, got.len, PAYLOAD, sizeof(PAYLOAD)),
	       "responder decrypted our payload");
	TAP_OK(memcmp(r.rs, K.cli_s_pub, 32) == 0,
	       "responder learned our static key");
	if (tr && srv)
		test_transport_pair(tr, srv);
out:
	cl_wa_noise_hs_free(hs);
	cl_wa_noise_transport_free(tr);
	cl_wa_noise_transport_free(srv);
	cl_buf_release(&sh);
	cl_buf_release(&fin);
	cl_buf_release(&got);
}

/* Offset of `needle` (n bytes) in hay, or (size_t)-1. */
static size_t find(const struct cl_buf *hay, const unsigned char *needle,
		   size_t n)
{
	size_t i;

	for (i = 0; i + n <= hay->len; i++)
		if (memcmp(hay->data + i, needle, n) == 0)
			return i;
	return (size_t)-1;
}

static void test_handshake_refusals(void)
{
	struct chain_spec c;
	struct resp r;
	struct cl_buf sh, fin;
	struct cl_wa_noise_transport *tr = NULL;
	struct cl_wa_noise_hs *hs = NULL;
	unsigned char junk[32];
	size_t i, at;
	int bad, rc;
	char *err = NULL;

	chain_defaults(&c);
	cl_buf_init(&sh, BIG);
	cl_buf_init(&fin, BIG);
	if (make_server_hello(&c, &sh, &r)) {
		TAP_OK(0, "server hello for refusals");
		goto out;
	}

	/* The static ciphertext is the 48 bytes after "\x12\x30". */
	at = find(&sh, (const unsigned char *)"\x12\x30", 2);
	TAP_OK(at != (size_t)-1, "found the encrypted static key");
	if (at != (size_t)-1) {
		sh.data[at + 10] ^= 1;
		rc = client_run(&sh, K.root_pub, NOW, &fin, &tr, &err);
		TAP_OK(rc == CL_EBADSIG && tr == NULL && fin.len == 0 && err &&
		       strstr(err, "static"),
		       "tampered static ciphertext refused: %s", err ? err : "");
		free(err);
		err = NULL;
		sh.data[at + 10] ^= 1;
	}
	sh.data[sh.len - 3] ^= 1; /* the payload tag */
	rc = client_run(&sh, K.root_pub, NOW, &fin, &tr, &err);
	TAP_OK(rc == CL_EBADSIG && tr == NULL && fin.len == 0 && err &&
	       strstr(err, "certificate"),
	       "tampered certificate ciphertext refused: %s", err ? err : "");
	free(err);
	err = NULL;
	sh.data[sh.len - 3] ^= 1;

	/* Every flipped byte and every truncation: refused, nothing out. */
	bad = 0;
	for (i = 0; i < sh.len; i++) {
		sh.data[i] ^= 0x10;
		rc = client_run(&sh, K.root_pub, NOW, &fin, &tr, &err);
		if (rc == CL_OK || tr != NULL || fin.len != 0 || err == NULL)
			bad++;
		sh.data[i] ^= 0x10;
		free(err);
		err = NULL;
		cl_wa_noise_transport_free(tr);
		tr = NULL;
	}
	TAP_EQ_INT(bad, 0, "every flipped server hello byte refused");
	bad = 0;
	for (i = 0; i < sh.len; i++) {
		size_t keep = sh.len;

		sh.len = i;
		rc = client_run(&sh, K.root_pub, NOW, &fin, &tr, &err);
		sh.len = keep;
		if (rc == CL_OK || tr != NULL || fin.len != 0)
			bad++;
		free(err);
		err = NULL;
		cl_wa_noise_transport_free(tr);
		tr = NULL;
	}
	TAP_EQ_INT(bad, 0, "every truncated server hello refused");

	/* The certificate checks run inside the handshake. */
	rc = client_run(&sh, K.other_pub, NOW, &fin, &tr, &err);
	TAP_OK(rc == CL_EBADSIG && tr == NULL && err && strstr(err, "wa cert"),
	       "handshake with another pinned root refused: %s", err ? err : "");
	free(err);
	err = NULL;
	rc = client_run(&sh, K.root_pub, NA + 1, &fin, &tr, &err);
	TAP_OK(rc == CL_EBADSIG && tr == NULL, "handshake after expiry refused");
	free(err);
	err = NULL;
	cl_buf_reset(&sh);
	memcpy(c.leaf.key, K.other_pub, 32);
	if (make_server_hello(&c, &sh, &r) == 0) {
		rc = client_run(&sh, K.root_pub, NOW, &fin, &tr, &err);
		TAP_OK(rc == CL_EBADSIG && tr == NULL && err &&
		       strstr(err, "leaf key"),
		       "leaf for another key refused: %s", err ? err : "");
		free(err);
		err = NULL;
	}

	/* Malformed messages. */
	cl_buf_reset(&sh);
	cl_buf_add(&sh, "\x12\x22\x0a\x20", 4);
	cl_buf_add(&sh, K.srv_e_pub, 32);
	TAP_EQ_INT(client_run(&sh, K.root_pub, NOW, &fin, &tr, &err), CL_EINVAL,
		   "a client hello as server hello refused");
	free(err);
	err = NULL;
	cl_buf_reset(&sh);
	cl_buf_add(&sh, "\x1a\x22\x0a\x20", 4);
	memset(junk, 0, sizeof(junk));
	cl_buf_add(&sh, junk, 32);
	TAP_EQ_INT(client_run(&sh, K.root_pub, NOW, &fin, &tr, &err), CL_EINVAL,
		   "server hello without static and payload refused");
	free(err);
	err = NULL;
	cl_buf_reset(&sh);
	TAP_EQ_INT(client_run(&sh, K.root_pub, NOW, &fin, &tr, &err), CL_EINVAL,
		   "empty server message refused");
	free(err);
	err = NULL;

	/* A small-order server ephemeral. */
	{
		Wa__HandshakeMessage m = WA__HANDSHAKE_MESSAGE__INIT;
		Wa__HandshakeMessage__ServerHello h =
			WA__HANDSHAKE_MESSAGE__SERVER_HELLO__INIT;
		unsigned char st[48] = { 0 }, pl[40] = { 0 };

		h.has_ephemeral = h.has_static_ = h.has_payload = 1;
		h.ephemeral.data = junk; /* zeros */
		h.ephemeral.len = 32;
		h.static_.data = st;
		h.static_.len = 48;
		h.payload.data = pl;
		h.payload.len = 40;
		m.serverhello = &h;
		cl_buf_reset(&sh);
		cl_buf_reserve(&sh, wa__handshake_message__get_packed_size(&m));
		sh.len = wa__handshake_message__pack(&m, sh.data);
		rc = client_run(&sh, K.root_pub, NOW, &fin, &tr, &err);
		TAP_OK(rc == CL_EINVAL && err && strstr(err, "low-order"),
		       "all-zero server ephemeral refused: %s", err ? err : "");
		free(err);
		err = NULL;
	}

	/* The client finish over the output cap: nothing appended. */
	cl_buf_reset(&sh);
	chain_defaults(&c);
	if (make_server_hello(&c, &sh, &r) == 0) {
		struct cl_buf small;

		cl_buf_init(&small, 50);
		cl_buf_add(&small, "ab", 2);
		rc = client_run(&sh, K.root_pub, NOW, &small, &tr, &err);
		TAP_OK(rc == CL_ETOOBIG && tr == NULL && small.len == 2,
		       "client finish over the cap refused, buffer unchanged");
		free(err);
		err = NULL;
		cl_buf_release(&small);
	}

	/* A static key pair that does not match. */
	TAP_EQ_INT(cl_wa_noise_hs_new(&hs, K.cli_s_priv, K.other_pub, NULL, &err),
		   CL_EINVAL, "mismatched static key pair refused");
	TAP_OK(hs == NULL, "no handshake object on failure");
	free(err);
	err = NULL;
	/* A random ephemeral works too (and differs from the fixed one). */
	TAP_EQ_INT(cl_wa_noise_hs_new(&hs, K.cli_s_priv, K.cli_s_pub, NULL, &err),
		   CL_OK, "hs_new with a random ephemeral");
	if (hs) {
		cl_buf_reset(&sh);
		TAP_EQ_INT(cl_wa_noise_hs_client_hello(hs, &sh, NULL), CL_OK,
			   "client hello");
		TAP_OK(sh.len == 36 && memcmp(sh.data + 4, K.cli_e_pub, 32) != 0,
		       "random ephemeral used");
	}
out:
	cl_wa_noise_hs_free(hs);
	cl_wa_noise_transport_free(tr);
	cl_buf_release(&sh);
	cl_buf_release(&fin);
}

/* ---- 4. known answers from Baileys -------------------------------------- */

static json_t *load_vectors(const char *name)
{
	const char *rootdir = getenv("CL_ROOT");
	char path[4096];
	json_error_t je;
	json_t *root;

	snprintf(path, sizeof(path), "%s/tests/wa/vectors/%s",
		 rootdir ? rootdir : ".", name);
	root = json_load_file(path, 0, &je);
	TAP_OK(root != NULL, "vectors load from %s", path);
	if (root == NULL)
		printf("# %s: %s\n", path, je.text);
	return root;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static void test_kat_xeddsa(void)
{
	json_t *root = load_vectors("xeddsa.json"), *cases;
	size_t i, n_ok = 0, n_bad = 0;

	if (root == NULL)
		return;
	cases = json_object_get(root, "cases");
	TAP_OK(json_array_size(cases) > 0, "xeddsa.json has cases");
	for (i = 0; i < json_array_size(cases); i++) {
		const json_t *c = json_array_get(cases, i);
		unsigned char pub[32], *msg, *sig;
		size_t mlen = 0, slen = 0;
		int want = json_is_true(json_object_get(c, "ok")), rc = -1;

		msg = unhex(jstr(c, "msg"), &mlen);
		sig = unhex(jstr(c, "sig"), &slen);
		if (unhex32(jstr(c, "pub"), pub) && msg && sig && slen == 64 &&
		    json_is_boolean(json_object_get(c, "ok")))
			rc = cl_wa_xeddsa_verify(pub, msg, mlen, sig);
		if (want)
			n_ok++;
		else
			n_bad++;
		TAP_OK(rc == (want ? CL_OK : CL_EBADSIG),
		       "xeddsa case %zu (%zu-byte message) %s as recorded", i,
		       mlen, want ? "verifies" : "is refused");
		free(msg);
		free(sig);
	}
	TAP_OK(n_ok > 0 && n_bad > 0, "xeddsa.json has good and bad cases");
	json_decref(root);
}

static void test_kat_certs(const json_t *root, const unsigned char root_pub[32])
{
	const json_t *cases = json_object_get(root, "cert_cases");
	size_t i;

	TAP_OK(json_array_size(cases) > 0, "noise.json has cert_cases");
	for (i = 0; i < json_array_size(cases); i++) {
		const json_t *c = json_array_get(cases, i);
		const char *name = jstr(c, "name"), *why = jstr(c, "why");
		unsigned char st[32], *chain;
		size_t len = 0;
		int want = json_is_true(json_object_get(c, "ok")), rc = -1;
		char *err = NULL;

		chain = unhex(jstr(c, "chain"), &len);
		if (chain && unhex32(jstr(c, "server_static"), st) &&
		    json_is_integer(json_object_get(c, "now")))
			rc = cl_wa_cert_verify(
				chain, len, root_pub, st,
				(uint64_t)json_integer_value(json_object_get(c, "now")),
				&err);
		TAP_OK((rc == CL_OK) == want && rc != -1,
		       "cert case '%s': %s as recorded%s%s%s",
		       name ? name : "?", want ? "accepted" : "refused",
		       why ? " (" : "", why ? why : "", why ? ")" : "");
		if ((rc == CL_OK) != want && err)
			printf("# %s\n", err);
		free(err);
		free(chain);
	}
}

/* Replay the transport cases on t; 1 when all match. */
static int kat_transport(const json_t *cases, struct cl_wa_noise_transport *t,
			 const char *label)
{
	struct cl_buf out;
	size_t i;
	int all = 1;

	cl_buf_init(&out, BIG);
	for (i = 0; i < json_array_size(cases); i++) {
		const json_t *c = json_array_get(cases, i);
		const char *dir = jstr(c, "dir");
		unsigned char *plain, *cipher;
		size_t plen = 0, clen = 0;
		uint64_t w, r, want = (uint64_t)json_integer_value(
					      json_object_get(c, "counter"));
		int ok = 0;

		plain = unhex(jstr(c, "plain"), &plen);
		cipher = unhex(jstr(c, "cipher"), &clen);
		cl_wa_noise_transport_counters(t, &w, &r);
		cl_buf_reset(&out);
		if (plain && cipher && dir && strcmp(dir, "c2s") == 0)
			ok = w == want &&
			     cl_wa_noise_encrypt(t, plain, plen, &out, NULL) == CL_OK &&
			     bytes_eq(out.data, out.len, cipher, clen);
		else if (plain && cipher && dir && strcmp(dir, "s2c") == 0)
			ok = r == want &&
			     cl_wa_noise_decrypt(t, cipher, clen, &out, NULL) == CL_OK &&
			     bytes_eq(out.data, out.len, plain, plen);
		TAP_OK(ok, "%s: transport case %zu (%s, counter %llu, %zu bytes)",
		       label, i, dir ? dir : "?", (unsigned long long)want, plen);
		if (!ok)
			printf("# counters %llu/%llu; vector %s; output %zu bytes\n",
			       (unsigned long long)w, (unsigned long long)r,
			       plain && cipher ? "decodes" : "does not decode",
			       out.len);
		if (!ok && plain)
			show_diff("plain", out.data, out.len, plain, plen);
		all &= ok;
		free(plain);
		free(cipher);
	}
	cl_buf_release(&out);
	return all;
}

static void test_kat_noise(void)
{
	json_t *root = load_vectors("noise.json");
	unsigned char root_pub[32], s_priv[32], s_pub[32], e_priv[32], e_pub[32];
	unsigned char srv_static[32], srv_eph[32], wk[32], rk[32], got_rs[32];
	unsigned char pro[4], derived[32];
	unsigned char *payload = NULL, *hello = NULL, *sh = NULL, *chain = NULL;
	unsigned char *fin = NULL;
	size_t payload_len = 0, hello_len = 0, sh_len = 0, chain_len = 0;
	size_t fin_len = 0;
	struct cl_wa_noise_hs *hs = NULL;
	struct cl_wa_noise_transport *tr = NULL, *kt = NULL;
	struct cl_buf out, fout;
	uint64_t now;
	char *err = NULL;
	int rc, fields;

	cl_buf_init(&out, BIG);
	cl_buf_init(&fout, BIG);
	if (root == NULL)
		return;
	fields = cl_hex_decode(jstr(root, "prologue") ? jstr(root, "prologue") : "",
			       pro, 4) == CL_OK &&
		 unhex32(jstr(root, "root_pub"), root_pub) &&
		 unhex32(jstr(root, "client_static_priv"), s_priv) &&
		 unhex32(jstr(root, "client_static_pub"), s_pub) &&
		 unhex32(jstr(root, "client_ephemeral_priv"), e_priv) &&
		 unhex32(jstr(root, "client_ephemeral_pub"), e_pub) &&
		 unhex32(jstr(root, "server_static_pub"), srv_static) &&
		 unhex32(jstr(root, "server_ephemeral_pub"), srv_eph) &&
		 unhex32(jstr(root, "write_key"), wk) &&
		 unhex32(jstr(root, "read_key"), rk) &&
		 json_is_integer(json_object_get(root, "now")) &&
		 (payload = unhex(jstr(root, "client_payload"), &payload_len)) &&
		 (hello = unhex(jstr(root, "client_hello"), &hello_len)) &&
		 (sh = unhex(jstr(root, "server_hello"), &sh_len)) &&
		 (chain = unhex(jstr(root, "cert_chain"), &chain_len)) &&
		 (fin = unhex(jstr(root, "client_finish"), &fin_len));
	TAP_OK(fields, "noise.json has every field");
	if (!fields)
		goto out;
	now = (uint64_t)json_integer_value(json_object_get(root, "now"));
	TAP_OK(memcmp(pro, cl_wa_prologue, 4) == 0, "prologue is ours");
	TAP_OK(cl_wa_x25519_pub(derived, s_priv) == CL_OK &&
	       memcmp(derived, s_pub, 32) == 0, "client static pub derives");
	TAP_OK(cl_wa_x25519_pub(derived, e_priv) == CL_OK &&
	       memcmp(derived, e_pub, 32) == 0, "client ephemeral pub derives");
	TAP_EQ_INT(cl_wa_cert_verify(chain, chain_len, root_pub, srv_static, now,
				     &err), CL_OK, "recorded cert_chain verifies");
	if (err)
		printf("# %s\n", err);
	free(err);
	err = NULL;

	TAP_EQ_INT(cl_wa_noise_hs_new(&hs, s_priv, s_pub, e_priv, &err), CL_OK,
		   "kat: hs_new");
	if (hs == NULL)
		goto out;
	TAP_EQ_INT(cl_wa_noise_hs_client_hello(hs, &out, &err), CL_OK,
		   "kat: client hello");
	TAP_OK(bytes_eq(out.data, out.len, hello, hello_len),
	       "kat: client hello byte-exact");
	if (!bytes_eq(out.data, out.len, hello, hello_len))
		show_diff("client hello", out.data, out.len, hello, hello_len);
	rc = cl_wa_noise_hs_finish(hs, sh, sh_len, root_pub, now, payload,
				   payload_len, &fout, &tr, got_rs, &err);
	TAP_OK(rc == CL_OK && tr, "kat: server hello accepted (rc %d%s%s)", rc,
	       err ? ": " : "", err ? err : "");
	free(err);
	err = NULL;
	if (rc != CL_OK)
		goto out;
	TAP_OK(memcmp(got_rs, srv_static, 32) == 0, "kat: server static key");
	TAP_OK(find(&(struct cl_buf){ sh, sh_len, sh_len, sh_len }, srv_eph, 32) !=
	       (size_t)-1, "kat: server ephemeral is in the server hello");
	TAP_OK(bytes_eq(fout.data, fout.len, fin, fin_len),
	       "kat: client finish byte-exact");
	if (!bytes_eq(fout.data, fout.len, fin, fin_len))
		show_diff("client finish", fout.data, fout.len, fin, fin_len);

	/* The transport keys, shown by behaviour: both transports replay
	 * the recorded frames. */
	TAP_OK(json_array_size(json_object_get(root, "transport")) > 0,
	       "noise.json has transport cases");
	TAP_OK(kat_transport(json_object_get(root, "transport"), tr,
			     "handshake keys"),
	       "transport from the handshake reproduces every frame");
	if (cl_wa_noise_transport_new(&kt, wk, rk) == CL_OK)
		TAP_OK(kat_transport(json_object_get(root, "transport"), kt,
				     "recorded keys"),
		       "write_key/read_key reproduce every frame");
out:
	if (root)
		test_kat_certs(root, fields ? root_pub : K.root_pub);
	cl_wa_noise_hs_free(hs);
	cl_wa_noise_transport_free(tr);
	cl_wa_noise_transport_free(kt);
	free(payload);
	free(hello);
	free(sh);
	free(chain);
	free(fin);
	cl_buf_release(&out);
	cl_buf_release(&fout);
	json_decref(root);
}

/* ---- fuzz seeds --------------------------------------------------------- */

static int write_file(const char *dir, const char *name,
		      const unsigned char *p, size_t len)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, len, f) == len;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/*
 * Seeds for fuzz_wa_cert: certificate chains (good and one per failure
 * family) and server hellos for the fixed client keys (one good, so the
 * fuzzer reaches the transport; one with a refused chain), plus garbage.
 */
static int write_corpus(const char *dir)
{
	static const int cases[] = { 0, 4, 6, 7, 8, 9, 12, 18, 23, 27, 33, 37 };
	struct chain_spec c;
	struct resp r;
	struct cl_buf b;
	char name[64];
	const char *cname;
	uint64_t now;
	size_t i;
	int want, rc = 0;

	cl_buf_init(&b, BIG);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && rc == 0; i++) {
		cl_buf_reset(&b);
		cert_case(cases[i], &c, &now, &cname, &want);
		snprintf(name, sizeof(name), "chain-%02d", cases[i]);
		rc = chain_build(&c, &b) ? -1 : write_file(dir, name, b.data, b.len);
	}
	chain_defaults(&c);
	cl_buf_reset(&b);
	if (rc == 0)
		rc = make_server_hello(&c, &b, &r) ? -1
			: write_file(dir, "server-hello-good", b.data, b.len);
	memcpy(c.leaf.key, K.other_pub, 32);
	cl_buf_reset(&b);
	if (rc == 0)
		rc = make_server_hello(&c, &b, &r) ? -1
			: write_file(dir, "server-hello-bad-leaf", b.data, b.len);
	if (rc == 0)
		rc = write_file(dir, "garbage", (const unsigned char *)"\x0a\xff\xff\xff\x0f\x12\x00", 7);
	cl_buf_release(&b);
	printf("%s writing seeds to %s\n", rc ? "failed" : "done", dir);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	keys_init();
	if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
		return write_corpus(argv[2]);
	test_x25519();
	test_xeddsa();
	test_cert_table();
	test_cert_misc();
	test_handshake();
	test_tamper_and_wrap();
	test_handshake_refusals();
	test_kat_xeddsa();
	test_kat_noise();
	return tap_done();
}
