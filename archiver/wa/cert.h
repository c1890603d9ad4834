/*
 * cert.h - the certificate chain a WhatsApp server sends, encrypted, in
 * its Noise ServerHello, proving that its static key belongs to WhatsApp.
 *
 * A CertChain (wa.proto) holds two NoiseCertificates, leaf=1 and
 * intermediate=2, each the serialised Details bytes (details=1) and an
 * XEdDSA signature over exactly those bytes (signature=2, 64 bytes).
 * Details: serial=1, issuerSerial=2, key=3 (Curve25519, 32 bytes),
 * notBefore=4 and notAfter=5 (unix seconds).  The root key is not in the
 * chain: it is pinned (CL_WA_ROOT_PUB_HEX in production, a test root for
 * the local peer).
 *
 * The checks, in this order (the first failure is reported):
 *   1. the chain parses, and both certificates carry details and a
 *      signature (else CL_EINVAL);
 *   2. both signatures are 64 bytes;
 *   3. the intermediate's details verify under root_pub, then parse
 *      (CL_EINVAL if they do not);
 *   4. the intermediate's issuerSerial is 0 (absent counts as 0, as in
 *      whatsmeow) and its key is 32 bytes;
 *   5. the leaf's details verify under the intermediate key, then parse;
 *   6. the leaf's issuerSerial equals the intermediate's serial (absent
 *      counts as 0);
 *   7. the leaf key is 32 bytes and equals server_static (constant time);
 *   8. both certificates have notBefore and notAfter, and
 *      notBefore <= now <= notAfter.
 * Failures of 2-8 other than a parse error are CL_EBADSIG.  Baileys
 * checks only the intermediate's issuerSerial; whatsmeow checks 1-7 but
 * not the validity times.
 */
#ifndef CL_WA_CERT_H
#define CL_WA_CERT_H

#include <stddef.h>
#include <stdint.h>

/* WhatsApp's certificate root, "WhatsAppLongTerm1" (an XEdDSA key). */
#define CL_WA_ROOT_PUB_HEX \
	"142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"

/* The issuerSerial an intermediate certificate must carry. */
#define CL_WA_CERT_ROOT_SERIAL 0

/* Larger chains are refused unparsed (real ones are a few hundred bytes). */
#define CL_WA_CERT_MAX_BYTES 65536

/*
 * Verify the CertChain protobuf bytes `chain` (len bytes) against the
 * pinned root_pub, the server's static key server_static (as decrypted
 * from the ServerHello) and the time `now` (unix seconds), as described
 * above.  CL_OK; CL_EBADSIG when a signature, key, serial or time check
 * failed; CL_EINVAL when the bytes are malformed or a certificate,
 * details or signature is missing; CL_ENOMEM.  On failure a message
 * naming the check goes to *err (caller frees); it never holds key bytes.
 */
int cl_wa_cert_verify(const unsigned char *chain, size_t len,
		      const unsigned char root_pub[32],
		      const unsigned char server_static[32], uint64_t now,
		      char **err)
	__attribute__((warn_unused_result));

#endif
