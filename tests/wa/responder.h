/*
 * responder.h - the server side of WhatsApp's Noise handshake, for tests:
 * fixed keys, certificate chains signed by a test root, and a Noise XX
 * responder written from the Noise rules (its HKDF is RFC 5869 over
 * OpenSSL's HMAC and its AES-GCM is OpenSSL's EVP, not noise.c's code),
 * so the initiator under test is checked against an independent peer.
 *
 * Shared by test_wa_noise.c (the handshake and certificate checks) and
 * test_wa_client.c (the protocol engine, which talks to this responder as
 * if it were WhatsApp's server).  Everything is static: include it from
 * one .c file per program and call keys_init() before anything else.
 *
 * Usage: keys_init(); chain_defaults(&c) (adjust c to break a rule);
 * chain_build(&c, &chain); resp_hello(&r, client_hello, chain, &out)
 * makes the server hello; resp_finish(&r, client_finish, &payload, &tr)
 * decrypts the client's payload and gives the server's transport (its
 * write key is the client's read key).
 */
#ifndef CL_TEST_WA_RESPONDER_H
#define CL_TEST_WA_RESPONDER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wa.pb-c.h"

#include "archiver/wa/frame.h"
#include "archiver/wa/noise.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#define NB 1600000000u   /* certificates valid from (unix seconds) */
#define NA 1800000000u   /* ... until */
#define RESP_BUF_MAX (16u << 20) /* cap of the builders' scratch buffers */

/* ---- fixed keys (fuzz_wa_cert.c uses the same seeds) -------------------- */

/* Deterministic private key number `seed` (clamped by its users). */
static void fixed_key(unsigned char k[32], unsigned seed)
{
	unsigned i;

	for (i = 0; i < 32; i++)
		k[i] = (unsigned char)(seed * 37u + i * 11u + 1u);
}

struct keys {
	unsigned char root_priv[32], root_pub[32];     /* seed 1 */
	unsigned char inter_priv[32], inter_pub[32];   /* seed 2 */
	unsigned char srv_s_priv[32], srv_s_pub[32];   /* seed 3 */
	unsigned char srv_e_priv[32], srv_e_pub[32];   /* seed 4 */
	unsigned char cli_s_priv[32], cli_s_pub[32];   /* seed 5 */
	unsigned char cli_e_priv[32], cli_e_pub[32];   /* seed 6 */
	unsigned char other_priv[32], other_pub[32];   /* seed 7 */
};

static struct keys K;

static void keys_init(void)
{
	fixed_key(K.root_priv, 1);
	fixed_key(K.inter_priv, 2);
	fixed_key(K.srv_s_priv, 3);
	fixed_key(K.srv_e_priv, 4);
	fixed_key(K.cli_s_priv, 5);
	fixed_key(K.cli_e_priv, 6);
	fixed_key(K.other_priv, 7);
	if (cl_wa_x25519_pub(K.root_pub, K.root_priv) ||
	    cl_wa_x25519_pub(K.inter_pub, K.inter_priv) ||
	    cl_wa_x25519_pub(K.srv_s_pub, K.srv_s_priv) ||
	    cl_wa_x25519_pub(K.srv_e_pub, K.srv_e_priv) ||
	    cl_wa_x25519_pub(K.cli_s_pub, K.cli_s_priv) ||
	    cl_wa_x25519_pub(K.cli_e_pub, K.cli_e_priv) ||
	    cl_wa_x25519_pub(K.other_pub, K.other_priv)) {
		printf("Bail out! cannot derive the fixed keys\n");
		exit(1);
	}
}

/* ---- certificate chains signed by the test root ------------------------- */

struct cert_spec {
	int present;                 /* the certificate is in the chain */
	int has_details, has_sig;
	int has_serial, has_issuer, has_key, has_nb, has_na;
	uint32_t serial, issuer;
	unsigned char key[40];
	size_t key_len;
	uint64_t nb, na;
	unsigned char signer[32];    /* private key that signs the details */
	size_t sig_len;              /* 64, or a wrong length */
	int flip_sig;                /* flip a bit of a good signature */
	int garbage_details;         /* signed bytes that are no protobuf */
};

struct chain_spec {
	struct cert_spec inter, leaf;
};

static void chain_defaults(struct chain_spec *c)
{
	memset(c, 0, sizeof(*c));
	c->inter.present = c->leaf.present = 1;
	c->inter.has_details = c->leaf.has_details = 1;
	c->inter.has_sig = c->leaf.has_sig = 1;
	c->inter.has_serial = c->leaf.has_serial = 1;
	c->inter.has_issuer = c->leaf.has_issuer = 1;
	c->inter.has_key = c->leaf.has_key = 1;
	c->inter.has_nb = c->leaf.has_nb = c->inter.has_na = c->leaf.has_na = 1;
	c->inter.serial = 7;
	c->inter.issuer = 0;
	memcpy(c->inter.key, K.inter_pub, 32);
	c->inter.key_len = 32;
	c->inter.nb = c->leaf.nb = NB;
	c->inter.na = c->leaf.na = NA;
	memcpy(c->inter.signer, K.root_priv, 32);
	c->inter.sig_len = c->leaf.sig_len = 64;
	c->leaf.serial = 99;
	c->leaf.issuer = 7;
	memcpy(c->leaf.key, K.srv_s_pub, 32);
	c->leaf.key_len = 32;
	memcpy(c->leaf.signer, K.inter_priv, 32);
}

/* Fill nc from s; the details go to *det, the signature to sig[]. */
static int cert_build(const struct cert_spec *s,
		      Wa__CertChain__NoiseCertificate *nc, struct cl_buf *det,
		      unsigned char sig[72])
{
	Wa__CertChain__NoiseCertificate__Details det_msg =
		WA__CERT_CHAIN__NOISE_CERTIFICATE__DETAILS__INIT;
	Wa__CertChain__NoiseCertificate__Details *d = &det_msg;
	unsigned char key[sizeof(s->key)];

	d->has_serial = s->has_serial;
	d->serial = s->serial;
	d->has_issuerserial = s->has_issuer;
	d->issuerserial = s->issuer;
	d->has_key = s->has_key;
	memcpy(key, s->key, sizeof(key));
	d->key.data = key;
	d->key.len = s->key_len;
	d->has_notbefore = s->has_nb;
	d->notbefore = s->nb;
	d->has_notafter = s->has_na;
	d->notafter = s->na;
	if (s->garbage_details) {
		if (cl_buf_add(det, "\xff\xff\xff\x01", 4))
			return -1;
	} else {
		size_t n = protobuf_c_message_get_packed_size(&d->base);

		if (cl_buf_reserve(det, n) ||
		    protobuf_c_message_pack(&d->base, det->data) != n)
			return -1;
		det->len = n;
	}
	memset(sig, 0, 72);
	if (cl_wa_xeddsa_sign(sig, s->signer, det->data, det->len) != CL_OK)
		return -1;
	if (s->flip_sig)
		sig[10] ^= 0x20;
	nc->has_details = s->has_details;
	nc->details.data = det->data;
	nc->details.len = det->len;
	nc->has_signature = s->has_sig;
	nc->signature.data = sig;
	nc->signature.len = s->sig_len;
	return 0;
}

/* Append the packed CertChain to *out: 0, or -1. */
static int chain_build(const struct chain_spec *c, struct cl_buf *out)
{
	Wa__CertChain cc = WA__CERT_CHAIN__INIT;
	Wa__CertChain__NoiseCertificate ni = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
	Wa__CertChain__NoiseCertificate nl = WA__CERT_CHAIN__NOISE_CERTIFICATE__INIT;
	struct cl_buf di, dl;
	unsigned char si[72], sl[72];
	size_t n;
	int rc = -1;

	cl_buf_init(&di, RESP_BUF_MAX);
	cl_buf_init(&dl, RESP_BUF_MAX);
	if (cert_build(&c->inter, &ni, &di, si) || cert_build(&c->leaf, &nl, &dl, sl))
		goto out;
	if (c->inter.present)
		cc.intermediate = &ni;
	if (c->leaf.present)
		cc.leaf = &nl;
	n = wa__cert_chain__get_packed_size(&cc);
	if (cl_buf_reserve(out, n) ||
	    wa__cert_chain__pack(&cc, out->data + out->len) != n)
		goto out;
	out->len += n;
	rc = 0;
out:
	cl_buf_release(&di);
	cl_buf_release(&dl);
	return rc;
}

/* ---- the responder ------------------------------------------------------ */

struct resp {
	unsigned char h[32], ck[32], k[32];
	uint64_t n;
	unsigned char s_priv[32], s_pub[32], e_priv[32], e_pub[32];
	unsigned char re[32], rs[32];
};

/* RFC 5869 HKDF-SHA256 with 64 bytes of output, over OpenSSL's HMAC. */
static int t_hkdf(unsigned char out[64], const unsigned char salt[32],
		  const unsigned char *ikm, size_t ikm_len)
{
	unsigned char prk[32], blk[33], none[1] = { 0 };
	unsigned len = 0;

	if (HMAC(EVP_sha256(), salt, 32, ikm_len ? ikm : none, ikm_len, prk,
		 &len) == NULL)
		return -1;
	blk[0] = 1;
	if (HMAC(EVP_sha256(), prk, 32, blk, 1, out, &len) == NULL)
		return -1;
	memcpy(blk, out, 32);
	blk[32] = 2;
	if (HMAC(EVP_sha256(), prk, 32, blk, 33, out + 32, &len) == NULL)
		return -1;
	return 0;
}

/* AES-256-GCM, nonce 8 zero bytes || BE32(n).  0 or -1. */
static int t_gcm(int enc, const unsigned char key[32], uint64_t n,
		 const unsigned char *ad, size_t ad_len, const unsigned char *in,
		 size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char iv[12] = { 0 };
	size_t body = enc ? len : len - 16;
	int l = 0, ok;

	if (ctx == NULL || (!enc && len < 16)) {
		EVP_CIPHER_CTX_free(ctx);
		return -1;
	}
	iv[8] = (unsigned char)(n >> 24);
	iv[9] = (unsigned char)(n >> 16);
	iv[10] = (unsigned char)(n >> 8);
	iv[11] = (unsigned char)n;
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) == 1;
	if (ok && ad_len)
		ok = EVP_CipherUpdate(ctx, NULL, &l, ad, (int)ad_len) == 1;
	if (ok && body)
		ok = EVP_CipherUpdate(ctx, out, &l, in, (int)body) == 1;
	if (ok && !enc) {
		unsigned char tag[16];

		memcpy(tag, in + body, 16);
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
	}
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + body, &l) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16,
					 out + body) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

static void r_hash(struct resp *r, const unsigned char *p, size_t len)
{
	cl_sha256_2(r->h, 32, p, len, r->h);
}

static int r_mix(struct resp *r, const unsigned char *priv,
		 const unsigned char *pub)
{
	unsigned char dh[32], okm[64];

	if (cl_wa_x25519(dh, priv, pub) != CL_OK || t_hkdf(okm, r->ck, dh, 32))
		return -1;
	memcpy(r->ck, okm, 32);
	memcpy(r->k, okm + 32, 32);
	r->n = 0;
	return 0;
}

static int r_enc(struct resp *r, const unsigned char *p, size_t len,
		 unsigned char *out)
{
	if (t_gcm(1, r->k, r->n, r->h, 32, p, len, out))
		return -1;
	r_hash(r, out, len + 16);
	r->n++;
	return 0;
}

static int r_dec(struct resp *r, const unsigned char *c, size_t len,
		 unsigned char *out)
{
	if (t_gcm(0, r->k, r->n, r->h, 32, c, len, out))
		return -1;
	r_hash(r, c, len);
	r->n++;
	return 0;
}

/*
 * Read the client hello and write the server hello carrying `chain`
 * (appended to *out), as the server with static srv_s and ephemeral
 * srv_e.  0 or -1.
 */
static int resp_hello(struct resp *r, const unsigned char *hello, size_t hlen,
		      const unsigned char *chain, size_t clen, struct cl_buf *out)
{
	Wa__HandshakeMessage *in;
	Wa__HandshakeMessage m = WA__HANDSHAKE_MESSAGE__INIT;
	Wa__HandshakeMessage__ServerHello sh =
		WA__HANDSHAKE_MESSAGE__SERVER_HELLO__INIT;
	unsigned char st[48], *pl = malloc(clen + 16);
	size_t n;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	memcpy(r->s_priv, K.srv_s_priv, 32);
	memcpy(r->s_pub, K.srv_s_pub, 32);
	memcpy(r->e_priv, K.srv_e_priv, 32);
	memcpy(r->e_pub, K.srv_e_pub, 32);
	memcpy(r->h, CL_WA_NOISE_NAME, 32);
	memcpy(r->ck, r->h, 32);
	r_hash(r, cl_wa_prologue, CL_WA_PROLOGUE_LEN);
	in = wa__handshake_message__unpack(NULL, hlen, hello);
	if (pl == NULL || in == NULL || in->clienthello == NULL ||
	    !in->clienthello->has_ephemeral ||
	    in->clienthello->ephemeral.len != 32)
		goto out;
	memcpy(r->re, in->clienthello->ephemeral.data, 32);
	r_hash(r, r->re, 32);
	r_hash(r, r->e_pub, 32);
	if (r_mix(r, r->e_priv, r->re) || r_enc(r, r->s_pub, 32, st) ||
	    r_mix(r, r->s_priv, r->re) || r_enc(r, chain, clen, pl))
		goto out;
	sh.has_ephemeral = sh.has_static_ = sh.has_payload = 1;
	sh.ephemeral.data = r->e_pub;
	sh.ephemeral.len = 32;
	sh.static_.data = st;
	sh.static_.len = 48;
	sh.payload.data = pl;
	sh.payload.len = clen + 16;
	m.serverhello = &sh;
	n = wa__handshake_message__get_packed_size(&m);
	if (cl_buf_reserve(out, n) ||
	    wa__handshake_message__pack(&m, out->data + out->len) != n)
		goto out;
	out->len += n;
	rc = 0;
out:
	if (in)
		wa__handshake_message__free_unpacked(in, NULL);
	free(pl);
	return rc;
}

/* Read the client finish: the client's payload to *payload, the
 * server-side transport to *tr.  0 or -1. */
static int resp_finish(struct resp *r, const unsigned char *fin, size_t flen,
		       struct cl_buf *payload, struct cl_wa_noise_transport **tr)
{
	Wa__HandshakeMessage *in = wa__handshake_message__unpack(NULL, flen, fin);
	const Wa__HandshakeMessage__ClientFinish *cf;
	unsigned char okm[64];
	int rc = -1;

	*tr = NULL;
	if (in == NULL || (cf = in->clientfinish) == NULL || !cf->has_static_ ||
	    cf->static_.len != 48 || !cf->has_payload || cf->payload.len < 16)
		goto out;
	if (r_dec(r, cf->static_.data, 48, r->rs) || r_mix(r, r->e_priv, r->rs))
		goto out;
	if (cl_buf_reserve(payload, cf->payload.len) ||
	    r_dec(r, cf->payload.data, cf->payload.len, payload->data))
		goto out;
	payload->len = cf->payload.len - 16;
	if (t_hkdf(okm, r->ck, NULL, 0) ||
	    cl_wa_noise_transport_new(tr, okm + 32, okm) != CL_OK)
		goto out;
	rc = 0;
out:
	if (in)
		wa__handshake_message__free_unpacked(in, NULL);
	return rc;
}

#endif
