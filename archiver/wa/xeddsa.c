/*
 * xed.c - X25519 through libsodium and XEdDSA through
 * libsignal-protocol-c.  Nothing here implements a primitive: this file
 * only adapts key formats, clamps, and wipes copies.
 *
 * libsignal-protocol-c needs a signal_context whose crypto provider
 * supplies randomness for signing.  The library insists on a complete
 * provider, but its curve functions use only the random callback (its
 * XEdDSA code hashes with its own SHA-512); the HMAC, SHA-512 and AES
 * callbacks here refuse, so any other use fails closed.  One context is
 * created on first use (pthread_once) and lives until the process exits;
 * the curve functions only read it, so it is shared between threads.
 */
#include <pthread.h>
#include <string.h>

#include <sodium.h>
#include <signal/curve.h>
#include <signal/signal_protocol.h>

#include "archiver/wa/xeddsa.h"
#include "common/status.h"
#include "common/banned.h"

#define DJB_TYPE 0x05 /* Signal's type byte in front of a Curve25519 key */

/* Stands in for a NULL message of length 0 (libsignal copies from it). */
static const unsigned char xed_empty[1];

/* ---- the shared libsodium / Signal setup -------------------------------- */

static pthread_once_t xed_once = PTHREAD_ONCE_INIT;
static signal_context *xed_ctx;
static int xed_sodium_ok;

static int xed_random(uint8_t *data, size_t len, void *user_data)
{
	(void)user_data;
	randombytes_buf(data, len);
	return 0;
}

/* ---- callbacks the curve functions never use: they refuse ---- */

static int no_hmac_init(void **hctx, const uint8_t *key, size_t key_len,
			void *user_data)
{
	(void)key;
	(void)key_len;
	(void)user_data;
	*hctx = NULL;
	return SG_ERR_INVAL;
}

static int no_update(void *hctx, const uint8_t *data, size_t len,
		     void *user_data)
{
	(void)hctx;
	(void)data;
	(void)len;
	(void)user_data;
	return SG_ERR_INVAL;
}

static int no_final(void *hctx, signal_buffer **output, void *user_data)
{
	(void)hctx;
	(void)user_data;
	*output = NULL;
	return SG_ERR_INVAL;
}

static void no_cleanup(void *hctx, void *user_data)
{
	(void)hctx;
	(void)user_data;
}

static int no_sha512_init(void **dctx, void *user_data)
{
	(void)user_data;
	*dctx = NULL;
	return SG_ERR_INVAL;
}

static int no_cipher(signal_buffer **output, int cipher, const uint8_t *key,
		     size_t key_len, const uint8_t *iv, size_t iv_len,
		     const uint8_t *in, size_t in_len, void *user_data)
{
	(void)cipher;
	(void)key;
	(void)key_len;
	(void)iv;
	(void)iv_len;
	(void)in;
	(void)in_len;
	(void)user_data;
	*output = NULL;
	return SG_ERR_INVAL;
}

static void xed_init(void)
{
	signal_crypto_provider prov;
	signal_context *ctx = NULL;

	xed_sodium_ok = sodium_init() >= 0;
	if (!xed_sodium_ok)
		return;
	memset(&prov, 0, sizeof(prov));
	prov.random_func = xed_random;
	prov.hmac_sha256_init_func = no_hmac_init;
	prov.hmac_sha256_update_func = no_update;
	prov.hmac_sha256_final_func = no_final;
	prov.hmac_sha256_cleanup_func = no_cleanup;
	prov.sha512_digest_init_func = no_sha512_init;
	prov.sha512_digest_update_func = no_update;
	prov.sha512_digest_final_func = no_final;
	prov.sha512_digest_cleanup_func = no_cleanup;
	prov.encrypt_func = no_cipher;
	prov.decrypt_func = no_cipher;
	if (signal_context_create(&ctx, NULL) != 0)
		return;
	if (signal_context_set_crypto_provider(ctx, &prov) != 0) {
		signal_context_destroy(ctx);
		return;
	}
	xed_ctx = ctx;
}

/* libsodium ready: 1, else 0. */
static int xed_sodium(void)
{
	if (pthread_once(&xed_once, xed_init) != 0)
		return 0;
	return xed_sodium_ok;
}

/* The shared Signal context, or NULL when it could not be made. */
static signal_context *xed_signal(void)
{
	if (pthread_once(&xed_once, xed_init) != 0)
		return NULL;
	return xed_ctx;
}

static void clamp(unsigned char k[32])
{
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
}

/* ---- X25519 ------------------------------------------------------------- */

int cl_wa_x25519_keypair(unsigned char pub[32], unsigned char priv[32])
{
	if (!xed_sodium())
		return CL_EINVAL;
	randombytes_buf(priv, 32);
	clamp(priv);
	if (crypto_scalarmult_base(pub, priv) != 0) {
		sodium_memzero(priv, 32);
		return CL_EINVAL;
	}
	return CL_OK;
}

int cl_wa_x25519_pub(unsigned char pub[32], const unsigned char priv[32])
{
	if (!xed_sodium() || crypto_scalarmult_base(pub, priv) != 0)
		return CL_EINVAL;
	return CL_OK;
}

int cl_wa_x25519(unsigned char shared[32], const unsigned char priv[32],
		 const unsigned char pub[32])
{
	if (!xed_sodium() || crypto_scalarmult(shared, priv, pub) != 0 ||
	    sodium_is_zero(shared, 32)) {
		sodium_memzero(shared, 32);
		return CL_EINVAL;
	}
	return CL_OK;
}

/* ---- XEdDSA ------------------------------------------------------------- */

int cl_wa_xeddsa_sign(unsigned char sig[64], const unsigned char priv[32],
		      const unsigned char *msg, size_t len)
{
	signal_context *ctx = xed_signal();
	ec_private_key *key = NULL;
	signal_buffer *out = NULL;
	unsigned char k[32];
	int rc = CL_OK, src;

	memset(sig, 0, CL_WA_SIG_BYTES);
	if (ctx == NULL)
		return CL_ENOMEM;
	memcpy(k, priv, sizeof(k));
	clamp(k);
	src = curve_decode_private_point(&key, k, sizeof(k), ctx);
	sodium_memzero(k, sizeof(k));
	if (src != 0) {
		rc = src == SG_ERR_NOMEM ? CL_ENOMEM : CL_EINVAL;
		goto out;
	}
	src = curve_calculate_signature(ctx, &out, key, msg ? msg : xed_empty,
					len);
	if (src != 0 || out == NULL) {
		rc = src == SG_ERR_NOMEM ? CL_ENOMEM : CL_EINVAL;
		goto out;
	}
	if (signal_buffer_len(out) != CL_WA_SIG_BYTES) {
		rc = CL_EINVAL;
		goto out;
	}
	memcpy(sig, signal_buffer_data(out), CL_WA_SIG_BYTES);
out:
	signal_buffer_free(out);
	SIGNAL_UNREF(key);
	return rc;
}

int cl_wa_xeddsa_verify(const unsigned char pub[32], const unsigned char *msg,
			size_t len, const unsigned char sig[64])
{
	signal_context *ctx = xed_signal();
	ec_public_key *key = NULL;
	unsigned char enc[1 + CL_WA_KEY_BYTES];
	int ok = 0;

	if (ctx == NULL)
		return CL_EBADSIG;
	enc[0] = DJB_TYPE;
	memcpy(enc + 1, pub, CL_WA_KEY_BYTES);
	if (curve_decode_point(&key, enc, sizeof(enc), ctx) == 0 && key != NULL)
		ok = curve_verify_signature(key, msg ? msg : xed_empty, len,
					    sig, CL_WA_SIG_BYTES) == 1;
	SIGNAL_UNREF(key);
	return ok ? CL_OK : CL_EBADSIG;
}
