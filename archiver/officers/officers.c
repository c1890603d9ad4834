/*
 * officers.c - named officers and their wrapped copies of the sealing
 * secret (officers.h).
 *
 * DIR/officers/NAME.officer, all integers big-endian (docs/FORMAT.md §6.6):
 *   "CLOFFC01" | alg u8 (1 = Argon2id v1.3 + XChaCha20-Poly1305-IETF) |
 *   role u8 | created_ms u64 | opslimit u64 | memlimit u64 | salt[16] |
 *   nonce[24] | aead(secret)[32 + 16] | seal public key[32]
 * The AEAD's associated data is the 74 header bytes (magic to nonce)
 * followed by the officer's name.  An auditor's secret is 32 zero bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/ledger/vault.h"
#include "archiver/officers/officers.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define OFF_MAGIC "CLOFFC01"
#define OFF_HDR 74
#define OFF_CT (32 + crypto_aead_xchacha20poly1305_ietf_ABYTES)
#define OFF_FILE_LEN (OFF_HDR + OFF_CT + 32)
#define OFF_SUFFIX ".officer"
#define OFF_MAX 1024

const char *cl_officer_role_name(int role)
{
	switch (role) {
	case CL_ROLE_AUDITOR: return "auditor";
	case CL_ROLE_OFFICER: return "officer";
	case CL_ROLE_ADMIN: return "admin";
	default: return NULL;
	}
}

int cl_officer_role_parse(const char *s)
{
	int r;

	for (r = CL_ROLE_AUDITOR; r <= CL_ROLE_ADMIN; r++)
		if (s && strcmp(s, cl_officer_role_name(r)) == 0)
			return r;
	return 0;
}

int cl_officer_allows(int role, int action)
{
	switch (action) {
	case CL_ACT_STATUS:
		return role >= CL_ROLE_AUDITOR && role <= CL_ROLE_ADMIN;
	case CL_ACT_CONTENT:
	case CL_ACT_CHANGE:
		return role == CL_ROLE_OFFICER || role == CL_ROLE_ADMIN;
	case CL_ACT_ADMIN:
		return role == CL_ROLE_ADMIN;
	default:
		return 0;
	}
}

int cl_officer_require(const struct cl_officer *o, int action, char **err)
{
	static const char *const what[] = { "", "see the archive's status",
					    "read message content", "change holds, labels or links",
					    "manage officers" };

	if (o == NULL || !cl_officer_allows(o->role, action) ||
	    (action == CL_ACT_CONTENT && o->seal_sk == NULL))
		return cl_error(err, CL_EKEY, "officer '%s' (%s) may not %s",
				o ? o->name : "?", o ? cl_officer_role_name(o->role) : "?",
				action >= 1 && action <= 4 ? what[action] : "do that");
	return CL_OK;
}

int cl_officer_name_check(const char *name, char **err)
{
	size_t i, n = name ? strlen(name) : 0;

	if (n == 0 || n > CL_OFFICER_NAME_MAX)
		goto bad;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i > 0 && (c == '.' || c == '_' || c == '-'))
			continue;
		goto bad;
	}
	return CL_OK;
bad:
	return cl_error(err, CL_EINVAL, "an officer name is 1-%d of a-z 0-9 . _ - and starts"
			" with a letter or digit", CL_OFFICER_NAME_MAX);
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

static char *officer_path(const char *dir, const char *name)
{
	return cl_strdupf("%s/officers/%s" OFF_SUFFIX, dir, name);
}

int cl_officers_configured(const char *dir)
{
	char *p = cl_strdupf("%s/officers", dir);
	DIR *d = p ? opendir(p) : NULL;
	const struct dirent *e;
	int found = 0;

	free(p);
	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		found = n > strlen(OFF_SUFFIX) &&
			strcmp(e->d_name + n - strlen(OFF_SUFFIX), OFF_SUFFIX) == 0;
	}
	closedir(d);
	return found;
}

/* Derive the wrapping key for `hdr` (its salt and limits) from `pass`. */
static int derive(const unsigned char *hdr, const unsigned char *pass, size_t passlen,
		  unsigned char *kek, char **err)
{
	uint64_t ops = cl_load_be64(hdr + 18), mem = cl_load_be64(hdr + 26);

	if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > crypto_pwhash_OPSLIMIT_MAX ||
	    mem < crypto_pwhash_MEMLIMIT_MIN || mem > ((uint64_t)4 << 30))
		return cl_error(err, CL_EKEY, "officer file has out-of-range KDF limits");
	if (crypto_pwhash(kek, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
			  (const char *)pass, passlen, hdr + 34, ops, (size_t)mem,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return cl_error(err, CL_ENOMEM, "Argon2id ran out of memory");
	return CL_OK;
}

/* Build the file bytes for (name, role, secret or NULL) under `pass`. */
static int seal_file(const char *name, int role, const unsigned char *secret,
		     const unsigned char pk[32], int64_t created,
		     const unsigned char *pass, size_t passlen, int kdf,
		     unsigned char file[OFF_FILE_LEN], char **err)
{
	unsigned char *kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	unsigned char *pt = sodium_malloc(32);
	struct cl_buf ad;
	unsigned long long ops, clen = 0;
	size_t mem;
	int rc;

	cl_buf_init(&ad, OFF_HDR + CL_OFFICER_NAME_MAX + 1);
	if (kek == NULL || pt == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	kdf_limits(kdf, &ops, &mem);
	memcpy(file, OFF_MAGIC, 8);
	file[8] = 1;
	file[9] = (unsigned char)role;
	cl_store_be64(file + 10, (uint64_t)created);
	cl_store_be64(file + 18, ops);
	cl_store_be64(file + 26, (uint64_t)mem);
	randombytes_buf(file + 34, 16);
	randombytes_buf(file + 50, 24);
	memcpy(file + OFF_HDR + OFF_CT, pk, 32);
	if (secret)
		memcpy(pt, secret, 32);
	else
		sodium_memzero(pt, 32);
	if ((rc = derive(file, pass, passlen, kek, err)))
		goto out;
	if ((rc = cl_buf_add(&ad, file, OFF_HDR)) || (rc = cl_buf_addstr(&ad, name)))
		goto out;
	crypto_aead_xchacha20poly1305_ietf_encrypt(file + OFF_HDR, &clen, pt, 32, ad.data,
						   ad.len, NULL, file + 50, kek);
out:
	sodium_free(kek);
	sodium_free(pt);
	cl_buf_release(&ad);
	return rc;
}

/* Read officer `name`'s file into `file`; CL_ENOTFOUND if there is none. */
static int read_file(const char *dir, const char *name, unsigned char file[OFF_FILE_LEN],
		     char **err)
{
	char *path = officer_path(dir, name);
	struct cl_buf b;
	int rc;

	cl_buf_init(&b, OFF_MAX);
	if (path == NULL)
		return CL_ENOMEM;
	if (access(path, F_OK) != 0) {
		rc = cl_error(err, CL_ENOTFOUND, "no officer '%s'", name);
		goto out;
	}
	if ((rc = cl_file_read(path, &b, OFF_MAX, err)))
		goto out;
	if (b.len != OFF_FILE_LEN || memcmp(b.data, OFF_MAGIC, 8) != 0 || b.data[8] != 1 ||
	    cl_officer_role_name(b.data[9]) == NULL) {
		rc = cl_error(err, CL_EKEY, "officer '%s': the file has an unknown format", name);
		goto out;
	}
	memcpy(file, b.data, OFF_FILE_LEN);
out:
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	free(path);
	return rc;
}

int cl_officer_unlock(const char *dir, const char *name, const unsigned char *pass,
		      size_t passlen, struct cl_officer **out, char **err)
{
	unsigned char file[OFF_FILE_LEN], spk[32], pk[32];
	unsigned char *kek = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	unsigned char *sk = sodium_malloc(32);
	struct cl_officer *o = NULL;
	struct cl_buf ad;
	unsigned long long plen = 0;
	int rc;

	*out = NULL;
	memset(file, 0, sizeof(file));
	cl_buf_init(&ad, OFF_HDR + CL_OFFICER_NAME_MAX + 1);
	if (kek == NULL || sk == NULL || (o = calloc(1, sizeof(*o))) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_officer_name_check(name, err)) || (rc = read_file(dir, name, file, err)))
		goto out;
	if ((rc = derive(file, pass, passlen, kek, err)))
		goto out;
	if ((rc = cl_buf_add(&ad, file, OFF_HDR)) || (rc = cl_buf_addstr(&ad, name)))
		goto out;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(sk, &plen, NULL, file + OFF_HDR, OFF_CT,
						       ad.data, ad.len, file + 50, kek) != 0 ||
	    plen != 32) {
		rc = cl_error(err, CL_EKEY, "wrong passphrase for officer '%s'", name);
		goto out;
	}
	o->role = file[9];
	memcpy(o->name, name, strlen(name) + 1);
	if (o->role != CL_ROLE_AUDITOR) {
		crypto_scalarmult_base(pk, sk);
		if ((rc = cl_vault_load_seal_pk(dir, spk, err)))
			goto out;
		if (sodium_memcmp(pk, spk, 32) != 0 ||
		    sodium_memcmp(pk, file + OFF_HDR + OFF_CT, 32) != 0) {
			rc = cl_error(err, CL_EKEY, "officer '%s' holds a key that is not the"
				      " archive's sealing key", name);
			goto out;
		}
		o->seal_sk = sk;
		sk = NULL;
	}
	*out = o;
	o = NULL;
out:
	sodium_memzero(file, sizeof(file));
	sodium_free(kek);
	sodium_free(sk);
	cl_officer_session_free(o);
	cl_buf_release(&ad);
	return rc;
}

void cl_officer_session_free(struct cl_officer *o)
{
	if (o == NULL)
		return;
	sodium_free(o->seal_sk);
	sodium_memzero(o, sizeof(*o));
	free(o);
}

static int ensure_dir(const char *dir, char **err)
{
	char *p = cl_strdupf("%s/officers", dir);
	int rc = CL_OK;

	if (p == NULL)
		return CL_ENOMEM;
	if (mkdir(p, 0700) != 0 && errno != EEXIST)
		rc = cl_error(err, CL_EIO, "cannot create %s: %s", p, strerror(errno));
	else if (cl_fsync_dir(dir) != 0)
		rc = cl_error(err, CL_EIO, "cannot sync %s", dir);
	free(p);
	return rc;
}

static int write_officer(const char *dir, const char *name, int role,
			 const unsigned char *secret, const unsigned char *pass, size_t passlen,
			 int kdf, int replace, int64_t created, char **err)
{
	unsigned char file[OFF_FILE_LEN], pk[32];
	char *path = NULL;
	int rc;

	if ((rc = cl_officer_name_check(name, err)) || (rc = cl_vault_load_seal_pk(dir, pk, err)))
		return rc;
	if (passlen == 0)
		return cl_error(err, CL_EINVAL, "empty passphrase");
	if ((rc = ensure_dir(dir, err)))
		return rc;
	if ((path = officer_path(dir, name)) == NULL)
		return CL_ENOMEM;
	if ((rc = seal_file(name, role, role == CL_ROLE_AUDITOR ? NULL : secret, pk, created,
			    pass, passlen, kdf, file, err)))
		goto out;
	rc = replace ? cl_file_replace(path, file, sizeof(file), 0600, err) :
		cl_file_create(path, file, sizeof(file), 0600, err);
	if (rc == CL_EEXIST)
		rc = cl_error(err, CL_EEXIST, "officer '%s' exists", name);
out:
	sodium_memzero(file, sizeof(file));
	free(path);
	return rc;
}

int cl_officer_add(const char *dir, const struct cl_officer *by, const char *name,
		   int role, const unsigned char *pass, size_t passlen, int kdf,
		   char **err)
{
	int rc;

	if ((rc = cl_officer_require(by, CL_ACT_ADMIN, err)))
		return rc;
	if (cl_officer_role_name(role) == NULL)
		return cl_error(err, CL_EINVAL, "unknown role");
	if (role != CL_ROLE_AUDITOR && by->seal_sk == NULL)
		return cl_error(err, CL_EKEY, "officer '%s' holds no key to share", by->name);
	return write_officer(dir, name, role, by->seal_sk, pass, passlen, kdf, 0,
			     cl_time_now_ms(), err);
}

/* Overwrite `path` with random bytes, sync, unlink, sync the directory. */
static int destroy_file(const char *path, const char *dir, char **err)
{
	unsigned char junk[OFF_MAX];
	struct stat st;
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc = CL_OK;

	if (fd < 0)
		return cl_error(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				"cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_size < 0 || (size_t)st.st_size > sizeof(junk)) {
		rc = cl_error(err, CL_EIO, "%s: unexpected size", path);
		goto out;
	}
	randombytes_buf(junk, sizeof(junk));
	if (write(fd, junk, (size_t)st.st_size) != (ssize_t)st.st_size || fsync(fd) != 0) {
		rc = cl_error(err, CL_EIO, "cannot overwrite %s: %s", path, strerror(errno));
		goto out;
	}
	if (unlink(path) != 0 || cl_fsync_dir(dir) != 0)
		rc = cl_error(err, CL_EIO, "cannot remove %s: %s", path, strerror(errno));
out:
	close(fd);
	return rc;
}

struct count_ctx {
	const char *skip;
	size_t admins;
};

static int count_admins(void *ctx, const struct cl_officer_info *i)
{
	struct count_ctx *c = ctx;

	if (i->role == CL_ROLE_ADMIN && strcmp(i->name, c->skip) != 0)
		c->admins++;
	return CL_OK;
}

int cl_officer_remove(const char *dir, const struct cl_officer *by, const char *name,
		      char **err)
{
	struct count_ctx cc = { name, 0 };
	char *path = NULL, *odir = NULL;
	int rc;

	if ((rc = cl_officer_require(by, CL_ACT_ADMIN, err)) ||
	    (rc = cl_officer_name_check(name, err)))
		return rc;
	if ((rc = cl_officer_each(dir, count_admins, &cc, err)))
		return rc;
	if (cc.admins == 0)
		return cl_error(err, CL_EINVAL, "removing '%s' would leave no admin", name);
	path = officer_path(dir, name);
	odir = cl_strdupf("%s/officers", dir);
	if (path == NULL || odir == NULL)
		rc = CL_ENOMEM;
	else if (access(path, F_OK) != 0)
		rc = cl_error(err, CL_ENOTFOUND, "no officer '%s'", name);
	else
		rc = destroy_file(path, odir, err);
	free(path);
	free(odir);
	return rc;
}

int cl_officer_passwd(const char *dir, const struct cl_officer *o,
		      const unsigned char *pass, size_t passlen, int kdf, char **err)
{
	unsigned char file[OFF_FILE_LEN];
	int rc;

	if (o == NULL)
		return CL_EINVAL;
	memset(file, 0, sizeof(file));
	if ((rc = read_file(dir, o->name, file, err)))
		return rc;
	rc = write_officer(dir, o->name, o->role, o->seal_sk, pass, passlen, kdf, 1,
			   (int64_t)cl_load_be64(file + 10), err);
	sodium_memzero(file, sizeof(file));
	return rc;
}

int cl_officer_migrate(const char *dir, const char *name, const unsigned char *pass,
		       size_t passlen, int kdf, char **err)
{
	unsigned char *sk = NULL;
	struct cl_officer *o = NULL;
	char *seal = NULL;
	int rc;

	if (cl_officers_configured(dir))
		return cl_error(err, CL_EEXIST, "this archive has officers already");
	if ((rc = cl_officer_name_check(name, err)) ||
	    (rc = cl_vault_unlock_seal(dir, pass, passlen, &sk, err)))
		goto out;
	if ((rc = write_officer(dir, name, CL_ROLE_ADMIN, sk, pass, passlen, kdf, 0,
				cl_time_now_ms(), err)))
		goto out;
	/* Only once the new file is known to open does seal.key go. */
	if ((rc = cl_officer_unlock(dir, name, pass, passlen, &o, err)))
		goto out;
	if ((seal = cl_strdupf("%s/seal.key", dir)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	rc = destroy_file(seal, dir, err);
out:
	sodium_free(sk);
	cl_officer_session_free(o);
	free(seal);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cl_officer_each(const char *dir, cl_officer_fn fn, void *ctx, char **err)
{
	char *p = cl_strdupf("%s/officers", dir);
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	DIR *d = NULL;
	const struct dirent *e;
	int rc = CL_OK;

	if (p == NULL)
		return CL_ENOMEM;
	if ((d = opendir(p)) == NULL)
		goto out;  /* no officers */
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name), sl = strlen(OFF_SUFFIX);

		if (len <= sl || strcmp(e->d_name + len - sl, OFF_SUFFIX) != 0)
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*nn));

			if (nn == NULL) {
				rc = CL_ENOMEM;
				goto out;
			}
			names = nn;
		}
		if ((names[n] = cl_strdupf("%.*s", (int)(len - sl), e->d_name)) == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		n++;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n && rc == CL_OK; i++) {
		unsigned char file[OFF_FILE_LEN];
		struct cl_officer_info info;

		if (cl_officer_name_check(names[i], NULL) != CL_OK)
			continue;
		memset(file, 0, sizeof(file));
		if ((rc = read_file(dir, names[i], file, err)))
			break;
		info.name = names[i];
		info.role = file[9];
		info.created = (int64_t)cl_load_be64(file + 10);
		info.holds_key = info.role != CL_ROLE_AUDITOR;
		rc = fn(ctx, &info);
	}
out:
	if (d)
		closedir(d);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(p);
	return rc;
}
