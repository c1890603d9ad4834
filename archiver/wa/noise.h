/*
 * noise.h - the initiator side of Noise_XX_25519_AESGCM_SHA256 as
 * WhatsApp uses it, then the transport ciphers.
 *
 * Handshake (the Noise XX pattern: -> e; <- e, ee, s, es; -> s, se):
 *   h = "Noise_XX_25519_AESGCM_SHA256\0\0\0\0" (exactly 32 bytes, so not
 *   hashed); ck = h; h = SHA256(h || prologue "WA" 6 3); h = SHA256(h || e).
 *   MixKey(ikm): HKDF-SHA256(salt ck, ikm, no info) -> 64 bytes: ck, then
 *   the AES-256-GCM key k; the handshake counter n restarts at 0.
 *   Handshake AEAD: nonce = 8 zero bytes || BE32(n), AAD = h; after each
 *   encryption or decryption h = SHA256(h || ciphertext) and n += 1 (one
 *   counter for both directions).
 *   1. client_hello sends HandshakeMessage{clientHello{ephemeral}}.
 *   2. finish: h <- server ephemeral re; MixKey(DH(e, re)); decrypt the
 *      server static rs; MixKey(DH(e, rs)); decrypt the CertChain and
 *      verify it (cert.h) with the leaf pinned to rs; encrypt our static
 *      public key; MixKey(DH(s, re)); encrypt the ClientPayload; send
 *      HandshakeMessage{clientFinish{static, payload}}.
 *   3. Split: HKDF-SHA256(salt ck, empty ikm) -> write key (first 32
 *      bytes), read key (last 32).
 * Transport: AES-256-GCM, nonce = 8 zero bytes || BE32(counter), empty
 * AAD, a 16-byte tag after the ciphertext; separate write and read
 * counters from 0.
 *
 * Memory: both objects live in sodium_malloc'd memory (guard pages,
 * wiped on free) and hold every secret of the session: static and
 * ephemeral private keys, DH results, ck, k, transport keys.  Error
 * messages never contain key material.  Neither object is thread-safe.
 */
#ifndef CL_WA_NOISE_H
#define CL_WA_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* "Noise_XX_25519_AESGCM_SHA256" padded with NULs to 32 bytes. */
#define CL_WA_NOISE_NAME "Noise_XX_25519_AESGCM_SHA256\0\0\0\0"
#define CL_WA_NOISE_TAG_BYTES 16
/* Counters run from 0 to CL_WA_NOISE_MAX_COUNTER; then the cipher refuses. */
#define CL_WA_NOISE_MAX_COUNTER 0xffffffffu

struct cl_wa_noise_hs;         /* opaque, sodium_malloc'd */
struct cl_wa_noise_transport;  /* opaque: write key + counter, read key + counter */

/* ---- handshake (initiator) ---------------------------------------------- */

/*
 * Start a handshake with our static key pair (static_pub must be the
 * public key of static_priv: CL_EINVAL otherwise) and an ephemeral key:
 * eph_priv NULL = fresh random (tests pass a fixed one).  Copies the keys.
 * Mixes the prologue into h.  On CL_OK *out is for the caller to free
 * with cl_wa_noise_hs_free(); on failure it is NULL.  CL_EINVAL, CL_ENOMEM.
 */
int cl_wa_noise_hs_new(struct cl_wa_noise_hs **out,
		       const unsigned char static_priv[32],
		       const unsigned char static_pub[32],
		       const unsigned char *eph_priv, char **err);

/*
 * Append the HandshakeMessage{clientHello{ephemeral}} protobuf bytes to
 * *out (the caller frames them: the prologue "WA\x06\x03" goes in front
 * of the first frame, and is already mixed into h).  Only once per
 * handshake: CL_EINVAL otherwise; CL_ETOOBIG when *out reaches its cap
 * (nothing is appended then).  CL_ENOMEM.
 */
int cl_wa_noise_hs_client_hello(struct cl_wa_noise_hs *hs, struct cl_buf *out,
				char **err);

/*
 * Process the server's HandshakeMessage bytes (server_hello, len bytes):
 * decrypt the server static key and the certificate chain, verify the
 * chain with cl_wa_cert_verify(root_pub, now: unix seconds), then append
 * the HandshakeMessage{clientFinish{static, payload}} bytes carrying
 * `payload` (our ClientPayload, payload_len bytes) to *client_finish and,
 * on CL_OK, return the transport ciphers in *tr (the caller frees them
 * with cl_wa_noise_transport_free()).  If server_static_out is non-NULL
 * it receives the server's static key (32 bytes) on CL_OK.
 *
 * Returns CL_EINVAL when the message is malformed (not a ServerHello,
 * wrong key or ciphertext lengths, a low-order server key), when called
 * out of order, or when *client_finish reaches its cap; CL_EBADSIG when a
 * decryption fails or the certificate chain is refused (the message says
 * which); the chain's CL_EINVAL when it is malformed; CL_ENOMEM.  On any
 * failure *tr is NULL, nothing is appended, and the handshake is dead:
 * every later call fails.  Called once, after cl_wa_noise_hs_client_hello.
 */
int cl_wa_noise_hs_finish(struct cl_wa_noise_hs *hs,
			  const unsigned char *server_hello, size_t len,
			  const unsigned char root_pub[32], uint64_t now,
			  const unsigned char *payload, size_t payload_len,
			  struct cl_buf *client_finish,
			  struct cl_wa_noise_transport **tr,
			  unsigned char *server_static_out, char **err);

/* Wipe and free; NULL is fine. */
void cl_wa_noise_hs_free(struct cl_wa_noise_hs *hs);

/* ---- transport ---------------------------------------------------------- */

/*
 * A transport from explicit keys, both counters at 0 (cl_wa_noise_hs_finish
 * makes the client's; a responder passes the split keys swapped).  Copies
 * the keys.  *out is NULL on failure.  CL_ENOMEM.
 */
int cl_wa_noise_transport_new(struct cl_wa_noise_transport **out,
			      const unsigned char write_key[32],
			      const unsigned char read_key[32]);

/*
 * Encrypt `len` bytes and append ciphertext || 16-byte tag to *out, using
 * and then advancing the write counter.  CL_EINVAL when the counter is
 * exhausted (it never wraps), len is too large for OpenSSL, or *out
 * reaches its cap; CL_ENOMEM.  On failure nothing is appended and the
 * counter does not move.
 */
int cl_wa_noise_encrypt(struct cl_wa_noise_transport *t, const unsigned char *p,
			size_t len, struct cl_buf *out, char **err);

/*
 * Decrypt `len` bytes (ciphertext || tag) with the read counter and append
 * the plaintext to *out, then advance the counter.  CL_EBADSIG when
 * authentication fails: the transport is then broken and every later
 * decrypt or encrypt fails with CL_EBADSIG (drop the connection).
 * CL_EINVAL for input shorter than the tag, an exhausted counter, or
 * *out reaching its cap; CL_ENOMEM.  On failure nothing is appended.
 */
int cl_wa_noise_decrypt(struct cl_wa_noise_transport *t, const unsigned char *c,
			size_t len, struct cl_buf *out, char **err)
	__attribute__((warn_unused_result));

/* The next write and read counters (for diagnostics and tests). */
void cl_wa_noise_transport_counters(const struct cl_wa_noise_transport *t,
				    uint64_t *write, uint64_t *read);

/*
 * Test hook: set the next counters (each at most CL_WA_NOISE_MAX_COUNTER
 * + 1, meaning exhausted).  CL_EINVAL otherwise.  Not for protocol use.
 */
int cl_wa_noise_transport_set_counters(struct cl_wa_noise_transport *t,
				       uint64_t write, uint64_t read);

/* Wipe and free; NULL is fine. */
void cl_wa_noise_transport_free(struct cl_wa_noise_transport *t);

/*
 * AES-256-GCM with the 12-byte nonce `iv`.  Encrypting, `out` receives
 * len + 16 bytes (ciphertext, tag); decrypting, `in` is ciphertext || tag
 * (len >= 16) and `out` receives len - 16 bytes.  CL_OK, CL_EBADSIG
 * (authentication failed), CL_ENOMEM, CL_EINVAL.
 */
int cl_wa_aes_gcm(int enc, const unsigned char key[32],
		  const unsigned char iv[12], const unsigned char *ad,
		  size_t ad_len, const unsigned char *in, size_t len,
		  unsigned char *out);

#endif
