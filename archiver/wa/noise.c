/*
 * noise.c - WhatsApp's Noise XX handshake (initiator) and transport
 * ciphers; the protocol is described in noise.h.
 *
 * Primitives come from libraries: X25519 and XEdDSA (xed.c: libsodium,
 * libsignal-protocol-c), SHA-256 (common/util.c: OpenSSL), HKDF-SHA256
 * (OpenSSL EVP_KDF "HKDF"), AES-256-GCM (OpenSSL EVP).  Every secret
 * lives inside the sodium_malloc'd state objects, including the scratch
 * space for DH results and HKDF output, so nothing secret is left on the
 * stack or in the ordinary heap by this file.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sodium.h>

#include "wa.pb-c.h"

#include "noise.h"
#include "archiver/wa/pballoc.h"
#include "cert.h"
#include "frame.h"
#include "archiver/wa/xeddsa.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define KEY CL_WA_KEY_BYTES
#define TAG CL_WA_NOISE_TAG_BYTES
#define HS_MAX_CERT CL_WA_CERT_MAX_BYTES

enum hs_state { HS_NEW = 0, HS_HELLO_SENT, HS_DONE, HS_DEAD };

struct cl_wa_noise_hs {
	unsigned char h[32];          /* handshake hash */
	unsigned char ck[32];         /* chaining key */
	unsigned char k[32];          /* current AEAD key */
	uint64_t n;                   /* AEAD counter, shared by both ways */
	unsigned char s_priv[KEY];    /* our static key pair */
	unsigned char s_pub[KEY];
	unsigned char e_priv[KEY];    /* our ephemeral key pair */
	unsigned char e_pub[KEY];
	unsigned char rs[KEY];        /* the server's static key */
	unsigned char dh[KEY];        /* scratch: a DH result */
	unsigned char okm[2 * KEY];   /* scratch: HKDF output */
	enum hs_state state;
};

struct cl_wa_noise_transport {
	unsigned char wkey[KEY];      /* our sending key */
	unsigned char rkey[KEY];      /* our receiving key */
	uint64_t wn;                  /* next write counter */
	uint64_t rn;                  /* next read counter */
	int broken;                   /* a decrypt failed to authenticate */
};

/* ---- primitives: HKDF, AES-GCM, protobuf-c allocation ------------------- */

/* okm = HKDF-SHA256(salt, ikm, no info), 64 bytes.  CL_OK/CL_ENOMEM/CL_EINVAL. */
static int hkdf64(unsigned char okm[2 * KEY], unsigned char salt[32],
		  unsigned char *ikm, size_t ikm_len)
{
	char digest[] = "SHA256";
	unsigned char none[1] = { 0 };
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	int rc = CL_OK;

	if (kctx == NULL) {
		rc = kdf ? CL_ENOMEM : CL_EINVAL;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						      salt, 32);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      ikm ? ikm : none, ikm_len);
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, okm, 2 * KEY, params) != 1)
		rc = CL_EINVAL;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/*
 * AES-256-GCM with a 12-byte nonce (noise.h).
 */
int cl_wa_aes_gcm(int enc, const unsigned char key[32],
		  const unsigned char iv[12], const unsigned char *ad,
		  size_t ad_len, const unsigned char *in, size_t len,
		  unsigned char *out)
{
	EVP_CIPHER_CTX *ctx;
	unsigned char tag[TAG];
	size_t body;
	int outl = 0, finl = 0, rc = CL_EINVAL;

	if ((!enc && len < TAG) || len > (size_t)INT_MAX - TAG ||
	    ad_len > (size_t)INT_MAX)
		return CL_EINVAL;
	body = enc ? len : len - TAG;
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return CL_ENOMEM;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1)
		goto out;
	if (ad_len &&
	    EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)ad_len) != 1)
		goto out;
	if (body && EVP_CipherUpdate(ctx, out, &outl, in, (int)body) != 1)
		goto out;
	if (!enc) {
		memcpy(tag, in + body, TAG);
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) != 1)
			goto out;
	}
	if (EVP_CipherFinal_ex(ctx, out + body, &finl) != 1) {
		rc = enc ? CL_EINVAL : CL_EBADSIG;
		goto out;
	}
	if (enc &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, out + body) != 1)
		goto out;
	rc = CL_OK;
out:
	if (rc != CL_OK && body)
		sodium_memzero(out, body);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* The transport's AES-256-GCM: nonce 8 zero bytes || BE32(counter). */
static int gcm(int enc, const unsigned char key[KEY], uint64_t counter,
	       const unsigned char *ad, size_t ad_len, const unsigned char *in,
	       size_t len, unsigned char *out)
{
	unsigned char iv[12] = { 0 };

	iv[8] = (unsigned char)(counter >> 24);
	iv[9] = (unsigned char)(counter >> 16);
	iv[10] = (unsigned char)(counter >> 8);
	iv[11] = (unsigned char)counter;
	return cl_wa_aes_gcm(enc, key, iv, ad, ad_len, in, len, out);
}

/* Append a packed HandshakeMessage to out; out unchanged on failure. */
static int pack_msg(const Wa__HandshakeMessage *m, struct cl_buf *out,
		    const char *what, char **err)
{
	size_t n = wa__handshake_message__get_packed_size(m);
	int rc = cl_buf_reserve(out, n);

	if (rc == CL_ETOOBIG)
		return cl_error(err, rc, "wa noise: %s of %zu bytes exceeds "
				"the output cap", what, n);
	if (rc)
		return rc;
	if (wa__handshake_message__pack(m, out->data + out->len) != n)
		return cl_error(err, CL_EINVAL, "wa noise: cannot pack %s", what);
	out->len += n;
	out->data[out->len] = 0;
	return CL_OK;
}

/* ---- the symmetric state ------------------------------------------------ */

static void mix_hash(struct cl_wa_noise_hs *hs, const unsigned char *p,
		     size_t len)
{
	cl_sha256_2(hs->h, sizeof(hs->h), p, len, hs->h);
}

/* MixKey(hs->dh): new ck and k, n = 0. */
static int mix_key(struct cl_wa_noise_hs *hs, char **err)
{
	int rc = hkdf64(hs->okm, hs->ck, hs->dh, KEY);

	sodium_memzero(hs->dh, sizeof(hs->dh));
	if (rc) {
		sodium_memzero(hs->okm, sizeof(hs->okm));
		return cl_error(err, rc, "wa noise: HKDF failed");
	}
	memcpy(hs->ck, hs->okm, KEY);
	memcpy(hs->k, hs->okm + KEY, KEY);
	sodium_memzero(hs->okm, sizeof(hs->okm));
	hs->n = 0;
	return CL_OK;
}

/* hs->dh = DH(priv, pub), then MixKey.  CL_EINVAL for a low-order key. */
static int mix_dh(struct cl_wa_noise_hs *hs, const unsigned char *priv,
		  const unsigned char *pub, const char *which, char **err)
{
	if (cl_wa_x25519(hs->dh, priv, pub) != CL_OK)
		return cl_error(err, CL_EINVAL,
				"wa noise: %s key is a low-order point", which);
	return mix_key(hs, err);
}

/* EncryptAndHash: out (len + 16 bytes) = AEAD(k, n, h, p); h, n advance. */
static int encrypt_and_hash(struct cl_wa_noise_hs *hs, const unsigned char *p,
			    size_t len, unsigned char *out, char **err)
{
	int rc = gcm(1, hs->k, hs->n, hs->h, sizeof(hs->h), p, len, out);

	if (rc)
		return cl_error(err, rc, "wa noise: handshake encryption failed");
	mix_hash(hs, out, len + TAG);
	hs->n++;
	return CL_OK;
}

/* DecryptAndHash: out (len - 16 bytes); h, n advance.  CL_EBADSIG. */
static int decrypt_and_hash(struct cl_wa_noise_hs *hs, const unsigned char *c,
			    size_t len, unsigned char *out, const char *what,
			    char **err)
{
	int rc = gcm(0, hs->k, hs->n, hs->h, sizeof(hs->h), c, len, out);

	if (rc == CL_EBADSIG)
		return cl_error(err, rc, "wa noise: cannot decrypt the server's "
				"%s (authentication failed)", what);
	if (rc)
		return cl_error(err, rc, "wa noise: decrypting the server's %s "
				"failed", what);
	mix_hash(hs, c, len);
	hs->n++;
	return CL_OK;
}

/* ---- handshake ---------------------------------------------------------- */

int cl_wa_noise_hs_new(struct cl_wa_noise_hs **out,
		       const unsigned char static_priv[32],
		       const unsigned char static_pub[32],
		       const unsigned char *eph_priv, char **err)
{
	struct cl_wa_noise_hs *hs;
	int rc;

	*out = NULL;
	if (sodium_init() < 0)
		return cl_error(err, CL_EINVAL, "wa noise: libsodium unusable");
	hs = sodium_malloc(sizeof(*hs));
	if (hs == NULL)
		return CL_ENOMEM;
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->s_priv, static_priv, KEY);
	if (cl_wa_x25519_pub(hs->s_pub, hs->s_priv) != CL_OK ||
	    sodium_memcmp(hs->s_pub, static_pub, KEY) != 0) {
		rc = cl_error(err, CL_EINVAL, "wa noise: the static public key "
			      "does not belong to the static private key");
		goto fail;
	}
	if (eph_priv) {
		memcpy(hs->e_priv, eph_priv, KEY);
		rc = cl_wa_x25519_pub(hs->e_pub, hs->e_priv);
	} else {
		rc = cl_wa_x25519_keypair(hs->e_pub, hs->e_priv);
	}
	if (rc) {
		rc = cl_error(err, rc, "wa noise: cannot make the ephemeral key");
		goto fail;
	}
	memcpy(hs->h, CL_WA_NOISE_NAME, sizeof(hs->h));
	memcpy(hs->ck, hs->h, sizeof(hs->ck));
	memcpy(hs->k, hs->h, sizeof(hs->k));
	hs->n = 0;
	mix_hash(hs, cl_wa_prologue, CL_WA_PROLOGUE_LEN);
	hs->state = HS_NEW;
	*out = hs;
	return CL_OK;
fail:
	sodium_free(hs);
	return rc;
}

int cl_wa_noise_hs_client_hello(struct cl_wa_noise_hs *hs, struct cl_buf *out,
				char **err)
{
	Wa__HandshakeMessage msg = WA__HANDSHAKE_MESSAGE__INIT;
	Wa__HandshakeMessage__ClientHello hello =
		WA__HANDSHAKE_MESSAGE__CLIENT_HELLO__INIT;
	int rc;

	if (hs->state != HS_NEW)
		return cl_error(err, CL_EINVAL,
				"wa noise: client hello already sent");
	hello.has_ephemeral = 1;
	hello.ephemeral.data = hs->e_pub;
	hello.ephemeral.len = KEY;
	msg.clienthello = &hello;
	rc = pack_msg(&msg, out, "client hello", err);
	if (rc)
		return rc;
	mix_hash(hs, hs->e_pub, KEY);
	hs->state = HS_HELLO_SENT;
	return CL_OK;
}

/* Check the ServerHello's shape; CL_EINVAL with a message. */
static int check_server_hello(const Wa__HandshakeMessage *m, char **err)
{
	const Wa__HandshakeMessage__ServerHello *sh = m->serverhello;

	if (sh == NULL)
		return cl_error(err, CL_EINVAL,
				"wa noise: server message is not a ServerHello");
	if (!sh->has_ephemeral || sh->ephemeral.len != KEY)
		return cl_error(err, CL_EINVAL, "wa noise: server ephemeral key "
				"is %zu bytes, want 32",
				sh->has_ephemeral ? sh->ephemeral.len : 0);
	if (!sh->has_static_ || sh->static_.len != KEY + TAG)
		return cl_error(err, CL_EINVAL, "wa noise: encrypted server static "
				"key is %zu bytes, want 48",
				sh->has_static_ ? sh->static_.len : 0);
	if (!sh->has_payload || sh->payload.len < TAG ||
	    sh->payload.len - TAG > HS_MAX_CERT)
		return cl_error(err, CL_EINVAL, "wa noise: encrypted certificate "
				"is %zu bytes, want 16 to %d",
				sh->has_payload ? sh->payload.len : 0,
				HS_MAX_CERT + TAG);
	return CL_OK;
}

int cl_wa_noise_hs_finish(struct cl_wa_noise_hs *hs,
			  const unsigned char *server_hello, size_t len,
			  const unsigned char root_pub[32], uint64_t now,
			  const unsigned char *payload, size_t payload_len,
			  struct cl_buf *client_finish,
			  struct cl_wa_noise_transport **tr,
			  unsigned char *server_static_out, char **err)
{
	Wa__HandshakeMessage *in = NULL;
	Wa__HandshakeMessage msg = WA__HANDSHAKE_MESSAGE__INIT;
	Wa__HandshakeMessage__ClientFinish fin =
		WA__HANDSHAKE_MESSAGE__CLIENT_FINISH__INIT;
	const Wa__HandshakeMessage__ServerHello *sh;
	unsigned char enc_static[KEY + TAG];
	unsigned char *cert = NULL, *enc_payload = NULL;
	size_t cert_len = 0, before = client_finish->len;
	struct cl_wa_noise_transport *t = NULL;
	struct cl_wa_pb pb;
	int rc;

	cl_wa_pb_init(&pb);
	*tr = NULL;
	if (hs->state != HS_HELLO_SENT)
		return cl_error(err, CL_EINVAL, "wa noise: %s",
				hs->state == HS_NEW ? "server hello before client hello"
						    : "handshake already finished or failed");
	hs->state = HS_DEAD; /* until it succeeds */
	if (payload_len > (size_t)INT_MAX - TAG)
		return cl_error(err, CL_EINVAL, "wa noise: client payload of %zu "
				"bytes is too large", payload_len);

	in = wa__handshake_message__unpack(&pb.a, len, server_hello);
	if (in == NULL) {
		rc = pb.oom ? CL_ENOMEM
			 : cl_error(err, CL_EINVAL, "wa noise: server message "
				    "is not a HandshakeMessage");
		goto out;
	}
	rc = check_server_hello(in, err);
	if (rc)
		goto out;
	sh = in->serverhello;

	/* <- e, ee */
	mix_hash(hs, sh->ephemeral.data, KEY);
	rc = mix_dh(hs, hs->e_priv, sh->ephemeral.data, "server ephemeral", err);
	if (rc)
		goto out;
	/* <- s, es */
	rc = decrypt_and_hash(hs, sh->static_.data, sh->static_.len, hs->rs,
			      "static key", err);
	if (rc)
		goto out;
	rc = mix_dh(hs, hs->e_priv, hs->rs, "server static", err);
	if (rc)
		goto out;
	/* <- payload: the certificate chain */
	cert_len = sh->payload.len - TAG;
	cert = malloc(cert_len ? cert_len : 1);
	if (cert == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = decrypt_and_hash(hs, sh->payload.data, sh->payload.len, cert,
			      "certificate chain", err);
	if (rc)
		goto out;
	rc = cl_wa_cert_verify(cert, cert_len, root_pub, hs->rs, now, err);
	if (rc)
		goto out;

	/* -> s, se */
	rc = encrypt_and_hash(hs, hs->s_pub, KEY, enc_static, err);
	if (rc)
		goto out;
	rc = mix_dh(hs, hs->s_priv, sh->ephemeral.data, "server ephemeral", err);
	if (rc)
		goto out;
	/* -> payload */
	enc_payload = malloc(payload_len + TAG);
	if (enc_payload == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = encrypt_and_hash(hs, payload, payload_len, enc_payload, err);
	if (rc)
		goto out;

	fin.has_static_ = 1;
	fin.static_.data = enc_static;
	fin.static_.len = sizeof(enc_static);
	fin.has_payload = 1;
	fin.payload.data = enc_payload;
	fin.payload.len = payload_len + TAG;
	msg.clientfinish = &fin;
	rc = pack_msg(&msg, client_finish, "client finish", err);
	if (rc)
		goto out;

	/* Split. */
	rc = hkdf64(hs->okm, hs->ck, NULL, 0);
	if (rc) {
		rc = cl_error(err, rc, "wa noise: HKDF failed");
		goto out;
	}
	rc = cl_wa_noise_transport_new(&t, hs->okm, hs->okm + KEY);
	if (rc)
		goto out;
	if (server_static_out)
		memcpy(server_static_out, hs->rs, KEY);
	hs->state = HS_DONE;
	*tr = t;
out:
	sodium_memzero(hs->okm, sizeof(hs->okm));
	sodium_memzero(hs->dh, sizeof(hs->dh));
	if (rc) {
		client_finish->len = before;
		if (client_finish->data)
			client_finish->data[before] = 0;
		/* The handshake is dead: drop the keys now. */
		sodium_memzero(hs->ck, sizeof(hs->ck));
		sodium_memzero(hs->k, sizeof(hs->k));
		sodium_memzero(hs->e_priv, sizeof(hs->e_priv));
	}
	free(cert);
	free(enc_payload);
	if (in)
		wa__handshake_message__free_unpacked(in, &pb.a);
	return rc;
}

void cl_wa_noise_hs_free(struct cl_wa_noise_hs *hs)
{
	if (hs)
		sodium_free(hs);
}

/* ---- transport ---------------------------------------------------------- */

int cl_wa_noise_transport_new(struct cl_wa_noise_transport **out,
			      const unsigned char write_key[32],
			      const unsigned char read_key[32])
{
	struct cl_wa_noise_transport *t;

	*out = NULL;
	if (sodium_init() < 0)
		return CL_EINVAL;
	t = sodium_malloc(sizeof(*t));
	if (t == NULL)
		return CL_ENOMEM;
	memset(t, 0, sizeof(*t));
	memcpy(t->wkey, write_key, KEY);
	memcpy(t->rkey, read_key, KEY);
	*out = t;
	return CL_OK;
}

/* Append room for n bytes to out (len unchanged); messages for the cap. */
static int reserve(struct cl_buf *out, size_t n, char **err)
{
	int rc = cl_buf_reserve(out, n);

	if (rc == CL_ETOOBIG)
		return cl_error(err, rc, "wa noise: output exceeds %zu bytes",
				out->max);
	return rc;
}

int cl_wa_noise_encrypt(struct cl_wa_noise_transport *t, const unsigned char *p,
			size_t len, struct cl_buf *out, char **err)
{
	int rc;

	if (t->broken)
		return cl_error(err, CL_EBADSIG, "wa noise: transport broken by "
				"an earlier authentication failure");
	if (t->wn > CL_WA_NOISE_MAX_COUNTER)
		return cl_error(err, CL_EINVAL, "wa noise: write counter exhausted");
	if (len > (size_t)INT_MAX - TAG)
		return cl_error(err, CL_EINVAL, "wa noise: frame of %zu bytes is "
				"too large", len);
	rc = reserve(out, len + TAG, err);
	if (rc)
		return rc;
	rc = gcm(1, t->wkey, t->wn, NULL, 0, p, len, out->data + out->len);
	if (rc) {
		out->data[out->len] = 0;
		return cl_error(err, rc, "wa noise: encryption failed");
	}
	out->len += len + TAG;
	out->data[out->len] = 0;
	t->wn++;
	return CL_OK;
}

int cl_wa_noise_decrypt(struct cl_wa_noise_transport *t, const unsigned char *c,
			size_t len, struct cl_buf *out, char **err)
{
	int rc;

	if (t->broken)
		return cl_error(err, CL_EBADSIG, "wa noise: transport broken by "
				"an earlier authentication failure");
	if (t->rn > CL_WA_NOISE_MAX_COUNTER)
		return cl_error(err, CL_EINVAL, "wa noise: read counter exhausted");
	if (len < TAG)
		return cl_error(err, CL_EINVAL, "wa noise: frame of %zu bytes is "
				"shorter than the tag", len);
	if (len > (size_t)INT_MAX)
		return cl_error(err, CL_EINVAL, "wa noise: frame of %zu bytes is "
				"too large", len);
	rc = reserve(out, len - TAG, err);
	if (rc)
		return rc;
	rc = gcm(0, t->rkey, t->rn, NULL, 0, c, len, out->data + out->len);
	if (rc)
		out->data[out->len] = 0; /* gcm() wiped what it wrote */
	if (rc == CL_EBADSIG) {
		t->broken = 1;
		return cl_error(err, rc, "wa noise: frame %llu failed to "
				"authenticate", (unsigned long long)t->rn);
	}
	if (rc)
		return cl_error(err, rc, "wa noise: decryption failed");
	out->len += len - TAG;
	out->data[out->len] = 0;
	t->rn++;
	return CL_OK;
}

void cl_wa_noise_transport_counters(const struct cl_wa_noise_transport *t,
				    uint64_t *write, uint64_t *read)
{
	if (write)
		*write = t->wn;
	if (read)
		*read = t->rn;
}

int cl_wa_noise_transport_set_counters(struct cl_wa_noise_transport *t,
				       uint64_t write, uint64_t read)
{
	if (write > (uint64_t)CL_WA_NOISE_MAX_COUNTER + 1 ||
	    read > (uint64_t)CL_WA_NOISE_MAX_COUNTER + 1)
		return CL_EINVAL;
	t->wn = write;
	t->rn = read;
	return CL_OK;
}

void cl_wa_noise_transport_free(struct cl_wa_noise_transport *t)
{
	if (t)
		sodium_free(t);
}
