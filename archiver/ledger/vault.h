/*
 * vault.h - the archive's keys.
 *
 *   log.key   Ed25519 log signing key, signed-note "PRIVATE+KEY+..." text, 0600.
 *             Needed by every writer (ingest, collector) to sign checkpoints.
 *   log.pub   the C2SP verifier key string (public).
 *   seal.pub  X25519 public sealing key (public): payload keys are wrapped to it.
 *   seal.key  X25519 secret sealing key encrypted under an Argon2id-derived key
 *             (the compliance officer's passphrase), 0600.  Never needed to write.
 *   tag.key   32-byte key for the keyed hashes that link a message to its
 *             source key and conversation without revealing either, 0600.
 *
 * Secrets returned by these functions live in sodium_malloc() memory; the
 * caller releases them with sodium_free(), which wipes them.
 */
#ifndef CL_VAULT_H
#define CL_VAULT_H

#include <stddef.h>
#include <stdint.h>

#define CL_KDF_INTERACTIVE 0
#define CL_KDF_MODERATE 1
#define CL_KDF_SENSITIVE 2

/* Create all key files in `dir` (which must exist).  Fails with CL_EEXIST
 * if any of them exists. */
int cl_vault_create(const char *dir, const char *origin,
		    const unsigned char *pass, size_t passlen, int kdf,
		    char **err);

/* The log signing key: *sk gets a sodium_malloc'd 64-byte secret key,
 * *vkey a malloc'd verifier key string, *name the key name (malloc'd). */
int cl_vault_load_log(const char *dir, unsigned char **sk, char **vkey,
		      char **name, char **err);

/* The log verifier key string from log.pub (malloc'd). */
int cl_vault_load_vkey(const char *dir, char **vkey, char **err);

/* The public sealing key (32 bytes). */
int cl_vault_load_seal_pk(const char *dir, unsigned char pk[32], char **err);

/* Unlock the secret sealing key with the passphrase: *sk gets a
 * sodium_malloc'd 32-byte key.  CL_EKEY on a wrong passphrase. */
int cl_vault_unlock_seal(const char *dir, const unsigned char *pass,
			 size_t passlen, unsigned char **sk, char **err);

/* The tag key (sodium_malloc'd, 32 bytes). */
int cl_vault_load_tag(const char *dir, unsigned char **key, char **err);

#endif
