/*
 * creds.h - the linked device's keys and identity, stored encrypted in the
 * archive directory.
 *
 * A WhatsApp linked device owns, from before its first connection: a
 * Curve25519 Noise static key, a Signal identity key, a registration id,
 * a signed pre-key (XEdDSA signature by the identity key over 0x05 ||
 * public key) and a random 32-byte ADV secret that authenticates the
 * phone's pair-success message (pair.h).  Pairing adds the account: our
 * JID and LID, the account's signature key and the signed device identity
 * (kept for retry receipts).  One-time pre-keys are generated in batches
 * and uploaded at login (CL_WA_PREKEYS_INITIAL the first time, then
 * CL_WA_PREKEYS_TOPUP whenever the server holds fewer than
 * CL_WA_PREKEYS_MIN).
 *
 * Memory: the whole struct and the pre-key array live in sodium_malloc()
 * memory (guard pages, wiped by cl_wa_creds_free()).  Never copy the
 * struct by value.
 *
 * Storage: <dir>/wa/ (created 0700) holds creds.enc, replaced atomically
 * and durably (temp file, fsync, rename, fsync of the directory), mode
 * 0600:
 *
 *   "CLWACRD1" | nonce[24] | XChaCha20-Poly1305(key, nonce,
 *                              AD = "chatledger-wa-creds-v1", JSON)
 *
 * The JSON object (format 1) holds the fields of struct cl_wa_creds under
 * the same names, keys and signatures as standard base64, strings as
 * strings, and "prekeys" as an array of [id, pub, priv].  The 32-byte key
 * is the raw content of key_file, or of <dir>/wa/creds.key when key_file
 * is NULL; cl_wa_creds_save() creates that file (exclusively, 0600) when
 * it does not exist yet.  Loading checks that every public key matches its
 * private key and that the signed pre-key's signature verifies.
 */
#ifndef CL_WA_CREDS_H
#define CL_WA_CREDS_H

#include <stddef.h>
#include <stdint.h>

#define CL_WA_PREKEYS_INITIAL 812 /* first upload (Baileys, whatsmeow) */
#define CL_WA_PREKEYS_TOPUP 50    /* later uploads */
#define CL_WA_PREKEYS_MIN 5       /* upload when the server has fewer */
#define CL_WA_PREKEYS_MAX 65536   /* most pre-keys kept (see generate) */
#define CL_WA_PREKEY_ID_MAX 0xffffffu /* ids are 24-bit, never 0 */
#define CL_WA_REG_ID_MAX 16383    /* registration ids are 14-bit, 1.. */

struct cl_wa_prekey {
	uint32_t id;              /* 1..CL_WA_PREKEY_ID_MAX */
	unsigned char pub[32];
	unsigned char priv[32];
};

struct cl_wa_creds {
	unsigned char noise_pub[32], noise_priv[32];
	unsigned char ident_pub[32], ident_priv[32];
	uint32_t reg_id;                 /* 1..CL_WA_REG_ID_MAX, random */
	uint32_t spk_id;                 /* signed pre-key id (24-bit) */
	unsigned char spk_pub[32], spk_priv[32];
	unsigned char spk_sig[64];       /* XEdDSA(ident_priv, 0x05||spk_pub) */
	unsigned char adv_secret[32];
	int paired;                      /* 1 after pair-success */
	char jid[96];                    /* "num:dev@s.whatsapp.net" */
	char lid[96];                    /* "n:dev@lid", or "" */
	char platform[32];               /* the phone's platform, or "" */
	char biz_name[128];              /* business name, or "" */
	uint32_t key_index;              /* ADVDeviceIdentity.keyIndex */
	unsigned char account_sig_key[32];
	unsigned char signed_identity[1024]; /* full ADVSignedDeviceIdentity as
					 received, with our deviceSignature */
	size_t signed_identity_len;
	uint32_t next_prekey_id;         /* next id to generate (from 1) */
	uint32_t prekeys_uploaded;       /* prekeys[0..prekeys_uploaded) are
					    confirmed by the server */
	struct cl_wa_prekey *prekeys;    /* sodium_malloc'd, in id order */
	size_t nprekeys;
	size_t prekeys_alloc;
};

/*
 * Fresh credentials in *out (sodium_malloc'd; free with
 * cl_wa_creds_free()): Noise and identity key pairs, registration id,
 * signed pre-key (id 1, as WhatsApp Web and whatsmeow use; its signature
 * is verified before returning), ADV secret, next_prekey_id 1 and no
 * one-time pre-keys.  *out is NULL on failure (CL_ENOMEM, or a key
 * function's error).
 */
int cl_wa_creds_generate(struct cl_wa_creds **out, char **err);

/*
 * Append `n` new one-time pre-keys with ids next_prekey_id, +1, ...
 * (24-bit ids: after CL_WA_PREKEY_ID_MAX comes 1, never 0) and advance
 * next_prekey_id.  When more than CL_WA_PREKEYS_MAX keys would be held,
 * the oldest uploaded ones are dropped first (the server hands each
 * uploaded key out once, and top-ups only happen when fewer than
 * CL_WA_PREKEYS_MIN are left there), lowering prekeys_uploaded by as many;
 * CL_EINVAL if that is not enough.  On failure c is unchanged.
 */
int cl_wa_prekeys_generate(struct cl_wa_creds *c, size_t n, char **err);

/* The pre-key with id `id`, or NULL. */
const struct cl_wa_prekey *cl_wa_prekey_find(const struct cl_wa_creds *c,
					     uint32_t id);

/*
 * Forget (and wipe) the pre-key with id `id` once a session consumed it.
 * Indices of later keys move down by one, and prekeys_uploaded too when
 * the key was an uploaded one.  CL_ENOTFOUND if there is no such key.
 */
int cl_wa_prekey_remove(struct cl_wa_creds *c, uint32_t id);

/*
 * Encrypt and store c as <dir>/wa/creds.enc (see the top of this file),
 * creating <dir>/wa (0700) and the key file when missing.  CL_EKEY if the
 * key file exists but does not hold exactly 32 bytes; CL_EIO.
 */
int cl_wa_creds_save(const char *dir, const char *key_file,
		     const struct cl_wa_creds *c, char **err);

/*
 * Load <dir>/wa/creds.enc into a new *out (free with cl_wa_creds_free()).
 * CL_ENOTFOUND when there is no creds.enc; CL_EKEY when the key file is
 * missing or unusable, the key is wrong or the file was altered;
 * CL_ECORRUPT when it decrypts to something that is not valid
 * credentials (or has an unknown header).  *out is NULL on failure.
 */
int cl_wa_creds_load(const char *dir, const char *key_file,
		     struct cl_wa_creds **out, char **err);

/*
 * Destroy the stored credentials: overwrite creds.enc with zeros, fsync,
 * unlink it (and a leftover creds.enc.tmp), and unlink <dir>/wa/creds.key
 * when key_file is NULL (a caller-supplied key file is left alone).
 * CL_OK when nothing was there.
 */
int cl_wa_creds_delete(const char *dir, const char *key_file, char **err);

/*
 * The 32-byte credentials key (key_file, or <dir>/wa/creds.key) into
 * `key`, for the stores sealed under keys derived from it (signal.h).
 * CL_ENOTFOUND when missing, CL_EKEY when unusable.
 */
int cl_wa_creds_key(const char *dir, const char *key_file,
		    unsigned char key[32], char **err);

/* Wipe and free; NULL is fine. */
void cl_wa_creds_free(struct cl_wa_creds *c);

#endif
