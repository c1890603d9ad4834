/*
 * vault.c - create and load the archive's keys (vault.h).
 *
 * seal.key layout (docs/FORMAT.md §6), all integers big-endian:
 *   "CLSEALK1" | alg u8 (1 = Argon2id v1.3) | opslimit u64 | memlimit u64 |
 *   salt[16] | nonce[24] | secretbox(secret key)[48] | public key[32]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/vault.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SEAL_MAGIC "CLSEALK1"
#define SEAL_FILE_LEN (8 + 1 + 8 + 8 + 16 + 24 + 48 + 32)

static char *join(const char *dir, const char *name)
{
	char *p = NULL;

	if ((p = cl_strdupf("%s/%s", dir, name)) == NULL)
		return NULL;
	return p;
}

static void kdf_limits(int kdf, unsigned long long *ops, size_t *mem)
{
	switch (kdf) {
	case CL_KDF_INTERACTIVE:
		*ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		*mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
		break;
	case CL_KDF_SENSITIVE:
		*ops = crypto_pwhash_OPSLIMIT_SENSITIVE;
		*mem = crypto_pwhash_MEMLIMIT_SENSITIVE;
		break;
	default:
		*ops = crypto_pwhash_OPSLIMIT_MODERATE;
		*mem = crypto_pwhash_MEMLIMIT_MODERATE;
		break;
	}
}

static int write_key(const char *dir, const char *name, const void *p,
		     size_t n, unsigned mode, char **err)
{
	char *path = join(dir, name);
	int rc;

	if (path == NULL)
		return CL_ENOMEM;
	rc = cl_file_create(path, p, n, mode, err);
	free(path);
	return rc;
}

static int create_seal(const char *dir, const unsigned char *pass,
		       size_t passlen, int kdf, char **err)
{
	unsigned char *sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
	unsigned char *kek = sodium_malloc(crypto_secretbox_KEYBYTES);
	unsigned char pk[crypto_box_PUBLICKEYBYTES];
	unsigned char file[SEAL_FILE_LEN], *p = file;
	unsigned long long ops;
	size_t mem;
	struct cl_buf pub;
	int rc = CL_OK;

	cl_buf_init(&pub, 256);
	if (sk == NULL || kek == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	kdf_limits(kdf, &ops, &mem);
	crypto_box_keypair(pk, sk);
	memcpy(p, SEAL_MAGIC, 8);
	p += 8;
	*p++ = 1;
	cl_store_be64(p, ops);
	p += 8;
	cl_store_be64(p, (uint64_t)mem);
	p += 8;
	randombytes_buf(p, 16); /* salt */
	randombytes_buf(p + 16, 24); /* nonce */
	if (crypto_pwhash(kek, crypto_secretbox_KEYBYTES, (const char *)pass,
			  passlen, p, ops, mem,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		rc = cl_error(err, CL_ENOMEM,
			      "Argon2id needs %zu MiB of memory", mem >> 20);
		goto out;
	}
	crypto_secretbox_easy(p + 40, sk, crypto_box_SECRETKEYBYTES, p + 16,
			      kek);
	memcpy(p + 40 + 48, pk, 32);
	if ((rc = write_key(dir, "seal.key", file, sizeof(file), 0600, err)))
		goto out;
	if ((rc = cl_buf_addstr(&pub, "chatledger-seal-public-key-v1 ")) ||
	    (rc = cl_b64_add(&pub, pk, sizeof(pk))) ||
	    (rc = cl_buf_addstr(&pub, "\n")))
		goto out;
	rc = write_key(dir, "seal.pub", pub.data, pub.len, 0644, err);
out:
	sodium_free(sk);
	sodium_free(kek);
	sodium_memzero(file, sizeof(file));
	cl_buf_release(&pub);
	return rc;
}

int cl_vault_create(const char *dir, const char *origin,
		    const unsigned char *pass, size_t passlen, int kdf,
		    char **err)
{
	unsigned char *seed = sodium_malloc(32), *tag = sodium_malloc(32);
	unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	struct cl_buf skey, vkey;
	int rc = CL_OK;

	cl_buf_init(&skey, 4096);
	cl_buf_init(&vkey, 4096);
	if (seed == NULL || tag == NULL || sk == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	randombytes_buf(seed, 32);
	randombytes_buf(tag, 32);
	crypto_sign_seed_keypair(pk, sk, seed);
	if ((rc = cl_note_skey_format(origin, seed, &skey)) ||
	    (rc = cl_buf_addstr(&skey, "\n")) ||
	    (rc = cl_note_vkey_format(origin, pk, &vkey)) ||
	    (rc = cl_buf_addstr(&vkey, "\n")))
		goto out;
	if ((rc = write_key(dir, "log.key", skey.data, skey.len, 0600, err)) ||
	    (rc = write_key(dir, "log.pub", vkey.data, vkey.len, 0644, err)) ||
	    (rc = write_key(dir, "tag.key", tag, 32, 0600, err)))
		goto out;
	rc = create_seal(dir, pass, passlen, kdf, err);
out:
	sodium_free(seed);
	sodium_free(tag);
	sodium_free(sk);
	if (skey.data)
		sodium_memzero(skey.data, skey.alloc);
	cl_buf_release(&skey);
	cl_buf_release(&vkey);
	return rc;
}

/* Read a small text key file and strip one trailing newline. */
static int read_text(const char *dir, const char *name, struct cl_buf *b,
		     char **err)
{
	char *path = join(dir, name);
	int rc;

	if (path == NULL)
		return CL_ENOMEM;
	rc = cl_file_read(path, b, 4096, err);
	free(path);
	if (rc)
		return rc == CL_ENOTFOUND ? CL_EIO : rc;
	while (b->len > 0 && (b->data[b->len - 1] == '\n' ||
			      b->data[b->len - 1] == '\r'))
		b->data[--b->len] = 0;
	return CL_OK;
}

int cl_vault_load_log(const char *dir, unsigned char **sk, char **vkey,
		      char **name, char **err)
{
	struct cl_buf b, vk;
	unsigned char *seed = sodium_malloc(32);
	unsigned char *key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	unsigned char pk[32];
	char *nm = NULL;
	uint32_t id;
	int rc;

	*sk = NULL;
	*vkey = NULL;
	*name = NULL;
	cl_buf_init(&b, 4096);
	cl_buf_init(&vk, 4096);
	if (seed == NULL || key == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = read_text(dir, "log.key", &b, err)))
		goto out;
	rc = cl_note_skey_parse((const char *)b.data, b.len, &nm, &id, seed, err);
	if (rc) {
		rc = cl_error(err, CL_EKEY, "log.key is not a valid signing key");
		goto out;
	}
	crypto_sign_seed_keypair(pk, key, seed);
	if ((rc = cl_note_vkey_format(nm, pk, &vk)))
		goto out;
	*sk = key;
	key = NULL;
	*vkey = (char *)cl_buf_detach(&vk, NULL);
	*name = nm;
	nm = NULL;
out:
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	cl_buf_release(&vk);
	sodium_free(seed);
	sodium_free(key);
	free(nm);
	return rc;
}

int cl_vault_load_vkey(const char *dir, char **vkey, char **err)
{
	struct cl_buf b;
	int rc;

	*vkey = NULL;
	cl_buf_init(&b, 4096);
	rc = read_text(dir, "log.pub", &b, err);
	if (rc == CL_OK)
		*vkey = (char *)cl_buf_detach(&b, NULL);
	cl_buf_release(&b);
	return rc;
}

int cl_vault_load_seal_pk(const char *dir, unsigned char pk[32], char **err)
{
	static const char prefix[] = "chatledger-seal-public-key-v1 ";
	struct cl_buf b, raw;
	int rc;

	cl_buf_init(&b, 4096);
	cl_buf_init(&raw, 64);
	if ((rc = read_text(dir, "seal.pub", &b, err)))
		goto out;
	if (b.len < sizeof(prefix) - 1 ||
	    memcmp(b.data, prefix, sizeof(prefix) - 1) != 0 ||
	    cl_b64_decode((const char *)b.data + sizeof(prefix) - 1,
			  b.len - (sizeof(prefix) - 1), &raw) != CL_OK ||
	    raw.len != 32) {
		rc = cl_error(err, CL_EKEY, "seal.pub is not a sealing public key");
		goto out;
	}
	memcpy(pk, raw.data, 32);
out:
	cl_buf_release(&b);
	cl_buf_release(&raw);
	return rc;
}

int cl_vault_unlock_seal(const char *dir, const unsigned char *pass,
			 size_t passlen, unsigned char **sk, char **err)
{
	char *path = join(dir, "seal.key");
	unsigned char *kek = sodium_malloc(crypto_secretbox_KEYBYTES);
	unsigned char *key = sodium_malloc(crypto_box_SECRETKEYBYTES);
	unsigned char pk[32], file_pk[32];
	struct cl_buf b;
	const unsigned char *p;
	uint64_t ops, mem;
	int rc;

	*sk = NULL;
	cl_buf_init(&b, 4096);
	if (path == NULL || kek == NULL || key == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_file_read(path, &b, 4096, err)))
		goto out;
	p = b.data;
	if (b.len != SEAL_FILE_LEN || memcmp(p, SEAL_MAGIC, 8) != 0 || p[8] != 1) {
		rc = cl_error(err, CL_EKEY, "seal.key has an unknown format");
		goto out;
	}
	ops = cl_load_be64(p + 9);
	mem = cl_load_be64(p + 17);
	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_MAX ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > ((uint64_t)4 << 30)) {
		rc = cl_error(err, CL_EKEY, "seal.key has out-of-range KDF limits");
		goto out;
	}
	p += 25;
	if (crypto_pwhash(kek, crypto_secretbox_KEYBYTES, (const char *)pass,
			  passlen, p, ops, (size_t)mem,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		rc = cl_error(err, CL_ENOMEM, "Argon2id ran out of memory");
		goto out;
	}
	if (crypto_secretbox_open_easy(key, p + 40, 48, p + 16, kek) != 0) {
		rc = cl_error(err, CL_EKEY, "wrong passphrase for seal.key");
		goto out;
	}
	memcpy(file_pk, p + 88, 32);
	crypto_scalarmult_base(pk, key);
	if (sodium_memcmp(pk, file_pk, 32) != 0) {
		rc = cl_error(err, CL_EKEY, "seal.key is inconsistent");
		goto out;
	}
	*sk = key;
	key = NULL;
out:
	free(path);
	sodium_free(kek);
	sodium_free(key);
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	return rc;
}

int cl_vault_load_tag(const char *dir, unsigned char **key, char **err)
{
	char *path = join(dir, "tag.key");
	struct cl_buf b;
	unsigned char *k = sodium_malloc(32);
	int rc;

	*key = NULL;
	cl_buf_init(&b, 64);
	if (path == NULL || k == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_file_read(path, &b, 64, err)))
		goto out;
	if (b.len != 32) {
		rc = cl_error(err, CL_EKEY, "tag.key must be 32 bytes");
		goto out;
	}
	memcpy(k, b.data, 32);
	*key = k;
	k = NULL;
out:
	free(path);
	sodium_free(k);
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	return rc;
}
