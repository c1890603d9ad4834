/*
 * paircode.h - linking with a phone number instead of a QR code ("pairing
 * code"), the companion's side, without I/O.
 *
 * Facts from whatsmeow pair-code.go and Baileys (requestPairingCode,
 * the link_code_companion_reg notification in messages-recv), plus a
 * captured exchange (yowsup-style LinkCodeCompanionRegNotification):
 *
 *   1. On the registration connection (after <pair-device> arrived), the
 *      companion picks an 8-character code: 5 random bytes in base32 with
 *      the alphabet "123456789ABCDEFGHJKLMNPQRSTVWXYZ" (shown "ABCD-EFGH";
 *      the 8 characters without the dash are the secret), and a fresh
 *      X25519 ephemeral key pair.  It wraps the ephemeral public key:
 *      key = PBKDF2-HMAC-SHA256(code, salt[32], 2<<16 = 131072 rounds,
 *      32 bytes), wrapped = salt || iv[16] || AES-256-CTR(key, iv, pub),
 *      80 bytes, and sends (cl_wa_paircode_hello_node())
 *        <iq xmlns="md" type="set" to="s.whatsapp.net" id=..>
 *          <link_code_companion_reg jid="PHONE@s.whatsapp.net"
 *              stage="companion_hello" should_show_push_notification="true">
 *            <link_code_pairing_wrapped_companion_ephemeral_pub>80 bytes
 *            <companion_server_auth_key_pub>our Noise static public key
 *            <companion_platform_id>"1" (text; see below)
 *            <companion_platform_display>"Chrome (Linux)" (text)
 *            <link_code_pairing_nonce>one byte 0x00
 *   2. The server answers <iq type="result"><link_code_companion_reg>
 *      <link_code_pairing_ref>REF</...></...></iq>
 *      (cl_wa_paircode_on_hello_result() records REF).  The code is then
 *      shown to the user, who types it on the phone.
 *   3. The phone sends, through the server, <notification
 *      type="link_code_companion_reg" id from="s.whatsapp.net" t>
 *      <link_code_companion_reg stage="primary_hello">
 *      <link_code_pairing_wrapped_primary_ephemeral_pub>80 bytes (its own
 *      ephemeral wrapped the same way, with the code it was given)
 *      <primary_identity_pub>32 bytes <link_code_pairing_ref>REF.
 *      The companion unwraps the phone's ephemeral with its code,
 *      s1 = X25519(our ephemeral, theirs), and answers
 *      (cl_wa_paircode_on_notification())
 *        <iq xmlns="md" type="set" to="s.whatsapp.net" id=..>
 *          <link_code_companion_reg jid="PHONE@s.whatsapp.net"
 *              stage="companion_finish">
 *            <link_code_pairing_wrapped_key_bundle>bundle_salt[32] ||
 *                nonce[12] || AES-256-GCM(HKDF-SHA256(s1, bundle_salt,
 *                "link_code_pairing_key_bundle_encryption_key", 32), nonce,
 *                our identity pub || primary identity pub || r[32]) ||
 *                tag[16]   (156 bytes)
 *            <companion_identity_public>our identity public key
 *            <link_code_pairing_ref>REF
 *      and the ADV secret becomes HKDF-SHA256(s1 || X25519(our identity,
 *      primary identity) || r, no salt, "adv_secret", 32 bytes).
 *   4. <pair-success> follows as after a QR scan (pair.h), its HMAC keyed
 *      with that ADV secret.
 *
 * A wrong code cannot be noticed here: AES-CTR has no integrity, so the
 * phone's ephemeral unwraps to some other point and the two sides derive
 * different keys.  The phone notices when the key bundle fails its GCM
 * check, and no pair-success comes.  CL_EBADSIG below only reports an
 * unwrapped key that yields an all-zero X25519 result (a small-order point,
 * which a phone never sends).
 *
 * The platform id is derived from the display's browser name ("B (OS)"),
 * as Baileys' getCompanionWebClientType does: Chrome 1, Edge 2, Firefox 3,
 * IE 4, Opera 5, Safari 6, "Desktop" 8 on Windows else 7, anything else 9
 * (OTHER_WEB_CLIENT).  whatsmeow notes that the server accepts only
 * common "Browser (OS)" displays and answers 400 otherwise.
 *
 * Memory: struct cl_wa_paircode lives in sodium_malloc() memory (code,
 * ephemeral private key, pairing ref) and is wiped by
 * cl_wa_paircode_free(); derived keys are wiped on every path.
 */
#ifndef CL_WA_PAIRCODE_H
#define CL_WA_PAIRCODE_H

#include <stddef.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/creds.h"

#define CL_WA_PAIRCODE_LEN 8          /* code characters, without '-' */
#define CL_WA_PAIRCODE_WRAPPED_BYTES 80 /* salt 32 || iv 16 || ct 32 */
#define CL_WA_PAIRCODE_BUNDLE_BYTES 156 /* salt 32 || nonce 12 || ct 96
					   || tag 16 */
#define CL_WA_PAIRCODE_ITER (2 << 16) /* PBKDF2 rounds: 131072 */
#define CL_WA_PAIRCODE_REF_MAX 512    /* longest pairing ref kept */
#define CL_WA_PAIRCODE_ALPHABET "123456789ABCDEFGHJKLMNPQRSTVWXYZ"

struct cl_wa_paircode;

/*
 * Start a pairing for the phone number `phone_digits`: 7 to 15 ASCII
 * digits, after an optional leading '+' (anything else: CL_EINVAL).
 * Draws the code, the ephemeral key pair, the salt and the IV from
 * libsodium and wraps the ephemeral public key (one PBKDF2 run, about
 * 0.1 s).  *out is NULL on failure (CL_EINVAL, CL_ENOMEM).  Free with
 * cl_wa_paircode_free().
 */
int cl_wa_paircode_new(struct cl_wa_paircode **out, const char *phone_digits,
		       char **err);

/* Every random input, for known-answer tests only. */
struct cl_wa_paircode_fixed {
	unsigned char code[5];          /* encoded to the 8 characters */
	unsigned char eph_priv[32];     /* clamped on a copy */
	unsigned char salt[32], iv[16]; /* for the companion's wrapping */
	unsigned char adv_random[32];   /* r of the key bundle */
	unsigned char bundle_salt[32], bundle_nonce[12];
};

/*
 * As cl_wa_paircode_new(), with the random inputs taken from *fx, and
 * cl_wa_paircode_on_notification() using fx's adv_random, bundle_salt and
 * bundle_nonce instead of fresh ones.  Never use it outside tests.
 */
int cl_wa_paircode_new_fixed(struct cl_wa_paircode **out,
			     const char *phone_digits,
			     const struct cl_wa_paircode_fixed *fx,
			     char **err);

/* The code as shown to the user, "ABCD-EFGH" (lives as long as pc). */
const char *cl_wa_paircode_code(const struct cl_wa_paircode *pc);

/* The phone number's digits, without '+' (lives as long as pc). */
const char *cl_wa_paircode_phone(const struct cl_wa_paircode *pc);

/* The 80 wrapped bytes sent in the hello (lives as long as pc). */
const unsigned char *cl_wa_paircode_wrapped(const struct cl_wa_paircode *pc);

/*
 * The companion_hello iq (see the top of this file), with id iq_id and
 * our Noise static public key from c.  platform_display is "Browser (OS)"
 * text, 1..64 printable ASCII characters; the platform id is derived from
 * it.  CL_EINVAL for an empty iq_id or a bad display; CL_ENOMEM.  *out is
 * NULL on failure; free it with cl_wa_node_free().
 */
int cl_wa_paircode_hello_node(const struct cl_wa_paircode *pc,
			      const struct cl_wa_creds *c, const char *iq_id,
			      const char *platform_display,
			      struct cl_wa_node **out, char **err);

/*
 * Record the pairing ref from the server's answer to the hello:
 * <iq type="result"><link_code_companion_reg><link_code_pairing_ref>
 * (1..CL_WA_PAIRCODE_REF_MAX bytes, raw or text).  CL_EINVAL when the iq
 * is an error (whatsmeow: 400 for a display the server does not accept),
 * or has no usable ref; pc is then unchanged.  A later call replaces the
 * ref.
 */
int cl_wa_paircode_on_hello_result(struct cl_wa_paircode *pc,
				   const struct cl_wa_node *iq, char **err);

/*
 * Handle <notification type="link_code_companion_reg"> holding
 * <link_code_companion_reg stage="primary_hello"> (see the top of this
 * file): check its ref against the recorded one (constant time), unwrap
 * the phone's ephemeral with the code, and build the companion_finish iq
 * with id iq_id into *finish_out (free with cl_wa_node_free()).  On CL_OK
 * c->adv_secret holds the derived ADV secret (persist nothing yet: the
 * pair-success check uses it).  Failures leave c unchanged and *finish_out
 * NULL:
 *   CL_EINVAL   not that notification, another stage, a missing or
 *               wrongly sized part, no ref recorded yet
 *               (cl_wa_paircode_on_hello_result()), a ref that differs,
 *               an empty iq_id, a primary identity key that is a
 *               small-order point;
 *   CL_EBADSIG  the unwrapped ephemeral is unusable (all-zero X25519);
 *   CL_ENOMEM.
 * Messages in *err carry no key material.  It may be called again for a
 * repeated notification.
 */
int cl_wa_paircode_on_notification(struct cl_wa_paircode *pc,
				   struct cl_wa_creds *c,
				   const struct cl_wa_node *notification,
				   const char *iq_id,
				   struct cl_wa_node **finish_out, char **err);

/* Wipe and free; NULL is fine. */
void cl_wa_paircode_free(struct cl_wa_paircode *pc);

#endif
