/*
 * xed.h - the Curve25519 operations WhatsApp uses: X25519 key agreement
 * (libsodium) and XEdDSA, Signal's signatures made and checked with
 * Curve25519 (Montgomery) keys (libsignal-protocol-c).
 *
 * Keys are the raw 32-byte forms, without Signal's 0x05 type prefix.  A
 * signature is 64 bytes: R, then S whose top bit carries the sign of the
 * Edwards form of the public key, as Signal's curve25519_sign writes it
 * (and WhatsApp's clients read it).
 *
 * Secrets: private keys are read, never stored.  libsignal-protocol-c
 * copies the signing key into an object on the ordinary heap for the
 * duration of cl_wa_xeddsa_sign() and frees it without wiping; callers
 * that cannot accept this should not sign in-process.
 */
#ifndef CL_WA_XED_H
#define CL_WA_XED_H

#include <stddef.h>

#define CL_WA_KEY_BYTES 32
#define CL_WA_SIG_BYTES 64

/*
 * A fresh X25519 key pair: priv random (libsodium randombytes_buf) and
 * clamped, pub = priv * base point.  CL_OK, or CL_EINVAL if libsodium
 * cannot be initialised.
 */
int cl_wa_x25519_keypair(unsigned char pub[32], unsigned char priv[32]);

/* pub = priv * base point (priv is clamped on the fly).  CL_OK/CL_EINVAL. */
int cl_wa_x25519_pub(unsigned char pub[32], const unsigned char priv[32]);

/*
 * shared = X25519(priv, pub).  CL_EINVAL when the result is all zero (pub
 * is a small-order point) or libsodium refuses the point; *shared is then
 * zeroed.
 */
int cl_wa_x25519(unsigned char shared[32], const unsigned char priv[32],
		 const unsigned char pub[32]);

/*
 * sig = XEdDSA signature of msg (len bytes) under the Curve25519 private
 * key priv (clamped on a copy first, as WhatsApp's clients do), using 64
 * random bytes from libsodium.  CL_OK; CL_ENOMEM when the Signal context
 * or a buffer cannot be allocated; CL_EINVAL when libsignal refuses.  On
 * failure sig is zeroed.  Thread-safe.
 */
int cl_wa_xeddsa_sign(unsigned char sig[64], const unsigned char priv[32],
		      const unsigned char *msg, size_t len);

/*
 * CL_OK when sig is a valid XEdDSA signature of msg (len bytes) under the
 * Curve25519 public key pub; CL_EBADSIG otherwise, including when the
 * check cannot run (out of memory): it fails closed.  Thread-safe.
 */
int cl_wa_xeddsa_verify(const unsigned char pub[32], const unsigned char *msg,
			size_t len, const unsigned char sig[64])
	__attribute__((warn_unused_result));

#endif
