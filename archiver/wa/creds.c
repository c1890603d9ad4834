/*
 * creds.c - the linked device's keys: generation, pre-keys, and the
 * encrypted creds.enc file (creds.h).
 *
 * Secrets never leave sodium_malloc() memory on purpose: the JSON text is
 * built and parsed in guarded buffers, base64 goes through stack buffers
 * that are wiped, and the strings jansson holds are wiped before its tree
 * is freed.  (jansson's parser may still leave short-lived copies of
 * tokens in freed heap memory; that is the limit of using it.)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/wa/creds.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define FILE_MAGIC "CLWACRD1"
#define FILE_MAGIC_LEN 8
#define FILE_AD "chatledger-wa-creds-v1"
#define JSON_FORMAT "chatledger-wa-creds"
#define JSON_VERSION 1
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define FILE_MAX (32u << 20)
/* base64 of the largest field (signed_identity) plus NUL */
#define B64_MAX 1400

/* ---- memory ---------------------------------------------------------- */

void cl_wa_creds_free(struct cl_wa_creds *c)
{
	if (c == NULL)
		return;
	sodium_free(c->prekeys);
	sodium_free(c);
}

static struct cl_wa_creds *creds_new(void)
{
	struct cl_wa_creds *c = sodium_malloc(sizeof(*c));

	if (c != NULL)
		memset(c, 0, sizeof(*c));
	return c;
}

/* Make room for `n` pre-keys in total (guarded memory; the old array is
 * copied, then wiped and freed by sodium_free). */
static int prekeys_reserve(struct cl_wa_creds *c, size_t n)
{
	struct cl_wa_prekey *p;
	size_t alloc;

	if (n <= c->prekeys_alloc)
		return CL_OK;
	alloc = c->prekeys_alloc ? c->prekeys_alloc : 64;
	while (alloc < n)
		alloc *= 2;
	if (alloc > CL_WA_PREKEYS_MAX)
		alloc = n;
	p = sodium_malloc(alloc * sizeof(*p));
	if (p == NULL)
		return CL_ENOMEM;
	memset(p, 0, alloc * sizeof(*p));
	if (c->nprekeys)
		memcpy(p, c->prekeys, c->nprekeys * sizeof(*p));
	sodium_free(c->prekeys);
	c->prekeys = p;
	c->prekeys_alloc = alloc;
	return CL_OK;
}

/* ---- generation ------------------------------------------------------ */

/* XEdDSA by the identity key over 0x05 || spk_pub, verified. */
static int sign_spk(struct cl_wa_creds *c, char **err)
{
	unsigned char msg[33];
	int rc;

	msg[0] = 0x05;
	memcpy(msg + 1, c->spk_pub, 32);
	rc = cl_wa_xeddsa_sign(c->spk_sig, c->ident_priv, msg, sizeof(msg));
	if (rc == CL_OK &&
	    cl_wa_xeddsa_verify(c->ident_pub, msg, sizeof(msg), c->spk_sig) !=
		    CL_OK)
		rc = CL_EBADSIG;
	if (rc)
		return cl_error(err, rc, "cannot sign the signed pre-key");
	return CL_OK;
}

int cl_wa_creds_generate(struct cl_wa_creds **out, char **err)
{
	struct cl_wa_creds *c = creds_new();
	int rc;

	*out = NULL;
	if (c == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	if ((rc = cl_wa_x25519_keypair(c->noise_pub, c->noise_priv)) ||
	    (rc = cl_wa_x25519_keypair(c->ident_pub, c->ident_priv)) ||
	    (rc = cl_wa_x25519_keypair(c->spk_pub, c->spk_priv))) {
		rc = cl_error(err, rc, "cannot generate a key pair");
		goto out;
	}
	c->reg_id = randombytes_uniform(CL_WA_REG_ID_MAX) + 1;
	c->spk_id = 1;
	if ((rc = sign_spk(c, err)))
		goto out;
	randombytes_buf(c->adv_secret, sizeof(c->adv_secret));
	c->next_prekey_id = 1;
	*out = c;
	c = NULL;
out:
	cl_wa_creds_free(c);
	return rc;
}

static uint32_t next_id(uint32_t id)
{
	return id >= CL_WA_PREKEY_ID_MAX ? 1 : id + 1;
}

/* Drop the `k` oldest pre-keys (all uploaded), wiping them. */
static void prekeys_drop_front(struct cl_wa_creds *c, size_t k)
{
	size_t rest = c->nprekeys - k;

	memmove(c->prekeys, c->prekeys + k, rest * sizeof(*c->prekeys));
	sodium_memzero(c->prekeys + rest, k * sizeof(*c->prekeys));
	c->nprekeys = rest;
	c->prekeys_uploaded -= (uint32_t)k;
}

int cl_wa_prekeys_generate(struct cl_wa_creds *c, size_t n, char **err)
{
	struct cl_wa_prekey *fresh = NULL;
	uint32_t id;
	size_t i, drop = 0;
	int rc = CL_OK;

	if (n == 0)
		return CL_OK;
	if (n > CL_WA_PREKEYS_MAX || c->nprekeys > CL_WA_PREKEYS_MAX ||
	    c->prekeys_uploaded > c->nprekeys)
		return cl_error(err, CL_EINVAL, "bad pre-key count");
	if (c->nprekeys + n > CL_WA_PREKEYS_MAX) {
		drop = c->nprekeys + n - CL_WA_PREKEYS_MAX;
		if (drop > c->prekeys_uploaded)
			return cl_error(err, CL_EINVAL,
					"more than %u pre-keys not yet uploaded",
					(unsigned)CL_WA_PREKEYS_MAX);
	}
	/* New keys are made aside, so a failure leaves c as it was. */
	fresh = sodium_malloc(n * sizeof(*fresh));
	if (fresh == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	id = c->next_prekey_id ? c->next_prekey_id : 1;
	if (id > CL_WA_PREKEY_ID_MAX)
		id = 1;
	for (i = 0; i < n; i++) {
		fresh[i].id = id;
		if ((rc = cl_wa_x25519_keypair(fresh[i].pub, fresh[i].priv))) {
			rc = cl_error(err, rc, "cannot generate a pre-key");
			goto out;
		}
		id = next_id(id);
	}
	if ((rc = prekeys_reserve(c, c->nprekeys - drop + n))) {
		rc = cl_error(err, rc, "out of memory");
		goto out;
	}
	if (drop)
		prekeys_drop_front(c, drop);
	memcpy(c->prekeys + c->nprekeys, fresh, n * sizeof(*fresh));
	c->nprekeys += n;
	c->next_prekey_id = id;
out:
	sodium_free(fresh);
	return rc;
}

const struct cl_wa_prekey *cl_wa_prekey_find(const struct cl_wa_creds *c,
					     uint32_t id)
{
	size_t i;

	for (i = 0; i < c->nprekeys; i++)
		if (c->prekeys[i].id == id)
			return &c->prekeys[i];
	return NULL;
}

int cl_wa_prekey_remove(struct cl_wa_creds *c, uint32_t id)
{
	size_t i;

	for (i = 0; i < c->nprekeys; i++) {
		if (c->prekeys[i].id != id)
			continue;
		memmove(c->prekeys + i, c->prekeys + i + 1,
			(c->nprekeys - i - 1) * sizeof(*c->prekeys));
		c->nprekeys--;
		sodium_memzero(c->prekeys + c->nprekeys, sizeof(*c->prekeys));
		if (i < c->prekeys_uploaded)
			c->prekeys_uploaded--;
		return CL_OK;
	}
	return CL_ENOTFOUND;
}

/* ---- paths and the key ------------------------------------------------- */

static char *join(const char *dir, const char *name)
{
	return cl_strdupf("%s/wa/%s", dir, name);
}

static char *key_path(const char *dir, const char *key_file)
{
	return key_file ? strdup(key_file) : join(dir, "creds.key");
}

/*
 * Read the 32-byte key at `path` into `key`.  CL_ENOTFOUND when the file
 * does not exist, CL_EKEY when it is not exactly 32 bytes.
 */
static int read_key(const char *path, unsigned char *key, char **err)
{
	struct cl_buf b;
	int rc;

	cl_buf_init(&b, 64);
	rc = cl_file_read(path, &b, 64, err);
	if (rc == CL_OK && b.len != KEY_LEN)
		rc = cl_error(err, CL_EKEY,
			      "key file '%s' does not hold a %u-byte key", path,
			      (unsigned)KEY_LEN);
	else if (rc == CL_ETOOBIG)
		rc = CL_EKEY;
	if (rc == CL_OK)
		memcpy(key, b.data, KEY_LEN);
	if (b.data)
		sodium_memzero(b.data, b.alloc);
	cl_buf_release(&b);
	return rc;
}

int cl_wa_creds_key(const char *dir, const char *key_file,
		    unsigned char key[32], char **err)
{
	char *path = key_path(dir, key_file);
	int rc;

	if (path == NULL)
		return CL_ENOMEM;
	rc = read_key(path, key, err);
	free(path);
	return rc;
}

/* The key, creating the file (exclusively, 0600) when it is missing. */
static int get_or_create_key(const char *path, unsigned char *key,
			     char **err)
{
	char *e = NULL;
	int rc = read_key(path, key, &e);

	if (rc != CL_ENOTFOUND) {
		if (rc)
			cl_error(err, rc, "%s", e ? e : cl_strerror(rc));
		free(e);
		return rc;
	}
	free(e);
	crypto_aead_xchacha20poly1305_ietf_keygen(key);
	rc = cl_file_create(path, key, KEY_LEN, 0600, err);
	if (rc == CL_EEXIST) /* created meanwhile by someone else */
		rc = read_key(path, key, err);
	return rc;
}

static int make_wa_dir(const char *dir, char **err)
{
	char *p = cl_strdupf("%s/wa", dir);
	struct stat st;
	int rc = CL_OK;

	if (p == NULL)
		return CL_ENOMEM;
	if (mkdir(p, 0700) == 0) {
		if (cl_fsync_dir(dir) != CL_OK)
			rc = cl_error(err, CL_EIO, "cannot sync '%s'", dir);
	} else if (errno != EEXIST) {
		rc = cl_error(err, CL_EIO, "cannot create '%s': %s", p,
			      strerror(errno));
	} else if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = cl_error(err, CL_EIO, "'%s' is not a directory", p);
	}
	free(p);
	return rc;
}

/* ---- JSON ------------------------------------------------------------ */

/* Overwrite every string in the tree (values only; keys are public). */
static void json_wipe(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	if (json_is_string(j)) {
		/* jansson's string storage is plain heap memory it owns. */
		char *s = (char *)(uintptr_t)json_string_value(j);

		sodium_memzero(s, json_string_length(j));
	} else if (json_is_object(j)) {
		json_object_foreach(j, k, v)
			json_wipe(v);
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			json_wipe(v);
	}
}

static void json_free_wiped(json_t *j)
{
	if (j) {
		json_wipe(j);
		json_decref(j);
	}
}

/* base64 of p as a new JSON string, or NULL. */
static json_t *b64_json(const unsigned char *p, size_t n)
{
	char s[B64_MAX];
	json_t *j;

	if (sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL) >
	    sizeof(s))
		return NULL;
	sodium_bin2base64(s, sizeof(s), p, n, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(s);
	sodium_memzero(s, sizeof(s));
	return j;
}

static int put(json_t *o, const char *key, json_t *v)
{
	return v != NULL && json_object_set_new(o, key, v) == 0 ? CL_OK :
								 CL_ENOMEM;
}

static int put_b64(json_t *o, const char *key, const unsigned char *p,
		   size_t n)
{
	return put(o, key, b64_json(p, n));
}

static int put_u32(json_t *o, const char *key, uint32_t v)
{
	return put(o, key, json_integer((json_int_t)v));
}

static json_t *prekey_json(const struct cl_wa_prekey *k)
{
	json_t *a = json_array();

	if (a == NULL ||
	    json_array_append_new(a, json_integer((json_int_t)k->id)) != 0 ||
	    json_array_append_new(a, b64_json(k->pub, 32)) != 0 ||
	    json_array_append_new(a, b64_json(k->priv, 32)) != 0) {
		json_free_wiped(a);
		return NULL;
	}
	return a;
}

static int creds_to_json(const struct cl_wa_creds *c, json_t **out)
{
	json_t *o = json_object(), *list = json_array();
	size_t i;
	int rc;

	*out = NULL;
	if (o == NULL || list == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = put(o, "format", json_string(JSON_FORMAT))) ||
	    (rc = put(o, "version", json_integer(JSON_VERSION))) ||
	    (rc = put_b64(o, "noise_pub", c->noise_pub, 32)) ||
	    (rc = put_b64(o, "noise_priv", c->noise_priv, 32)) ||
	    (rc = put_b64(o, "ident_pub", c->ident_pub, 32)) ||
	    (rc = put_b64(o, "ident_priv", c->ident_priv, 32)) ||
	    (rc = put_u32(o, "reg_id", c->reg_id)) ||
	    (rc = put_u32(o, "spk_id", c->spk_id)) ||
	    (rc = put_b64(o, "spk_pub", c->spk_pub, 32)) ||
	    (rc = put_b64(o, "spk_priv", c->spk_priv, 32)) ||
	    (rc = put_b64(o, "spk_sig", c->spk_sig, 64)) ||
	    (rc = put_b64(o, "adv_secret", c->adv_secret, 32)) ||
	    (rc = put(o, "paired", json_boolean(c->paired))) ||
	    (rc = put(o, "jid", json_string(c->jid))) ||
	    (rc = put(o, "lid", json_string(c->lid))) ||
	    (rc = put(o, "platform", json_string(c->platform))) ||
	    (rc = put(o, "biz_name", json_string(c->biz_name))) ||
	    (rc = put_u32(o, "key_index", c->key_index)) ||
	    (rc = put_b64(o, "account_sig_key", c->account_sig_key, 32)) ||
	    (rc = put_b64(o, "signed_identity", c->signed_identity,
			  c->signed_identity_len)) ||
	    (rc = put_u32(o, "next_prekey_id", c->next_prekey_id)) ||
	    (rc = put_u32(o, "prekeys_uploaded", c->prekeys_uploaded)))
		goto out;
	for (i = 0; i < c->nprekeys; i++) {
		if (json_array_append_new(list, prekey_json(&c->prekeys[i]))) {
			rc = CL_ENOMEM;
			goto out;
		}
	}
	rc = put(o, "prekeys", list);
	list = NULL;
	if (rc == CL_OK) {
		*out = o;
		o = NULL;
	}
out:
	json_free_wiped(o);
	json_free_wiped(list);
	return rc;
}

/* Decode base64 `j` into exactly n bytes (or at most n with *len). */
static int get_b64_j(const json_t *j, unsigned char *out, size_t n,
		     size_t *len)
{
	const char *s = json_string_value(j), *end = NULL;
	size_t got = 0;

	if (s == NULL ||
	    sodium_base642bin(out, n, s, json_string_length(j), NULL, &got,
			      &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + json_string_length(j))
		return CL_ECORRUPT;
	if (len)
		*len = got;
	else if (got != n)
		return CL_ECORRUPT;
	return CL_OK;
}

static int get_b64(const json_t *o, const char *key, unsigned char *out,
		   size_t n)
{
	return get_b64_j(json_object_get(o, key), out, n, NULL);
}

static int get_u32(const json_t *o, const char *key, uint32_t max,
		   uint32_t *v)
{
	const json_t *j = json_object_get(o, key);
	json_int_t x;

	if (!json_is_integer(j))
		return CL_ECORRUPT;
	x = json_integer_value(j);
	if (x < 0 || x > (json_int_t)max)
		return CL_ECORRUPT;
	*v = (uint32_t)x;
	return CL_OK;
}

static int get_str(const json_t *o, const char *key, char *out, size_t n)
{
	const json_t *j = json_object_get(o, key);
	size_t len = json_string_length(j);

	if (!json_is_string(j) || len >= n ||
	    memchr(json_string_value(j), 0, len) != NULL)
		return CL_ECORRUPT;
	memcpy(out, json_string_value(j), len);
	out[len] = 0;
	return CL_OK;
}

/* Check that pub is priv's public key. */
static int check_pair(const unsigned char *pub, const unsigned char *priv)
{
	unsigned char p[32];
	int rc = cl_wa_x25519_pub(p, priv);

	if (rc == CL_OK && sodium_memcmp(p, pub, 32) != 0)
		rc = CL_ECORRUPT;
	return rc ? CL_ECORRUPT : CL_OK;
}

static int prekeys_from_json(struct cl_wa_creds *c, const json_t *list)
{
	size_t i, n = json_array_size(list);
	int rc;

	if (!json_is_array(list) || n > CL_WA_PREKEYS_MAX)
		return CL_ECORRUPT;
	if ((rc = prekeys_reserve(c, n)))
		return rc;
	for (i = 0; i < n; i++) {
		const json_t *a = json_array_get(list, i);
		const json_t *id = json_array_get(a, 0);
		struct cl_wa_prekey *k = &c->prekeys[i];
		json_int_t v = json_integer_value(id);

		if (json_array_size(a) != 3 || !json_is_integer(id) || v < 1 ||
		    v > (json_int_t)CL_WA_PREKEY_ID_MAX ||
		    get_b64_j(json_array_get(a, 1), k->pub, 32, NULL) ||
		    get_b64_j(json_array_get(a, 2), k->priv, 32, NULL) ||
		    check_pair(k->pub, k->priv))
			return CL_ECORRUPT;
		k->id = (uint32_t)v;
		c->nprekeys = i + 1;
		if (cl_wa_prekey_find(c, k->id) != k)
			return CL_ECORRUPT; /* duplicate id */
	}
	return CL_OK;
}

static int creds_from_json(const json_t *o, struct cl_wa_creds *c)
{
	unsigned char msg[33];
	const json_t *paired = json_object_get(o, "paired");
	const char *fmt = json_string_value(json_object_get(o, "format"));
	uint32_t version = 0;
	int rc;

	if (!json_is_object(o) || fmt == NULL || strcmp(fmt, JSON_FORMAT) ||
	    get_u32(o, "version", UINT32_MAX, &version) ||
	    version != JSON_VERSION || !json_is_boolean(paired))
		return CL_ECORRUPT;
	if ((rc = get_b64(o, "noise_pub", c->noise_pub, 32)) ||
	    (rc = get_b64(o, "noise_priv", c->noise_priv, 32)) ||
	    (rc = get_b64(o, "ident_pub", c->ident_pub, 32)) ||
	    (rc = get_b64(o, "ident_priv", c->ident_priv, 32)) ||
	    (rc = get_u32(o, "reg_id", UINT32_MAX, &c->reg_id)) ||
	    (rc = get_u32(o, "spk_id", CL_WA_PREKEY_ID_MAX, &c->spk_id)) ||
	    (rc = get_b64(o, "spk_pub", c->spk_pub, 32)) ||
	    (rc = get_b64(o, "spk_priv", c->spk_priv, 32)) ||
	    (rc = get_b64(o, "spk_sig", c->spk_sig, 64)) ||
	    (rc = get_b64(o, "adv_secret", c->adv_secret, 32)) ||
	    (rc = get_str(o, "jid", c->jid, sizeof(c->jid))) ||
	    (rc = get_str(o, "lid", c->lid, sizeof(c->lid))) ||
	    (rc = get_str(o, "platform", c->platform, sizeof(c->platform))) ||
	    (rc = get_str(o, "biz_name", c->biz_name, sizeof(c->biz_name))) ||
	    (rc = get_u32(o, "key_index", UINT32_MAX, &c->key_index)) ||
	    (rc = get_b64(o, "account_sig_key", c->account_sig_key, 32)) ||
	    (rc = get_b64_j(json_object_get(o, "signed_identity"),
			    c->signed_identity, sizeof(c->signed_identity),
			    &c->signed_identity_len)) ||
	    (rc = get_u32(o, "next_prekey_id", CL_WA_PREKEY_ID_MAX,
			  &c->next_prekey_id)) ||
	    (rc = get_u32(o, "prekeys_uploaded", CL_WA_PREKEYS_MAX,
			  &c->prekeys_uploaded)) ||
	    (rc = prekeys_from_json(c, json_object_get(o, "prekeys"))))
		return rc;
	c->paired = json_is_true(paired);
	if (c->prekeys_uploaded > c->nprekeys || c->next_prekey_id == 0 ||
	    (c->paired && c->jid[0] == 0) ||
	    check_pair(c->noise_pub, c->noise_priv) ||
	    check_pair(c->ident_pub, c->ident_priv) ||
	    check_pair(c->spk_pub, c->spk_priv))
		return CL_ECORRUPT;
	msg[0] = 0x05;
	memcpy(msg + 1, c->spk_pub, 32);
	if (cl_wa_xeddsa_verify(c->ident_pub, msg, sizeof(msg), c->spk_sig) !=
	    CL_OK)
		return CL_ECORRUPT;
	return CL_OK;
}

/* ---- save, load, delete -------------------------------------------------- */

int cl_wa_creds_save(const char *dir, const char *key_file,
		     const struct cl_wa_creds *c, char **err)
{
	unsigned char *key = sodium_malloc(KEY_LEN);
	unsigned char *file = NULL;
	char *text = NULL, *kpath = key_path(dir, key_file);
	char *path = join(dir, "creds.enc");
	json_t *j = NULL;
	size_t tlen = 0, flen = 0;
	unsigned long long clen = 0;
	int rc;

	if (key == NULL || kpath == NULL || path == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = make_wa_dir(dir, err)) ||
	    (rc = get_or_create_key(kpath, key, err)))
		goto out;
	if ((rc = creds_to_json(c, &j))) {
		rc = cl_error(err, rc, "cannot build the credentials");
		goto out;
	}
	tlen = json_dumpb(j, NULL, 0, JSON_COMPACT);
	if (tlen == 0 || (text = sodium_malloc(tlen)) == NULL ||
	    json_dumpb(j, text, tlen, JSON_COMPACT) != tlen) {
		rc = cl_error(err, CL_ENOMEM, "cannot serialise the credentials");
		goto out;
	}
	flen = FILE_MAGIC_LEN + NONCE_LEN + tlen + TAG_LEN;
	file = malloc(flen);
	if (file == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	memcpy(file, FILE_MAGIC, FILE_MAGIC_LEN);
	randombytes_buf(file + FILE_MAGIC_LEN, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		file + FILE_MAGIC_LEN + NONCE_LEN, &clen, (unsigned char *)text,
		tlen, (const unsigned char *)FILE_AD, sizeof(FILE_AD) - 1, NULL,
		file + FILE_MAGIC_LEN, key);
	rc = cl_file_replace(path, file, flen, 0600, err);
out:
	json_free_wiped(j);
	sodium_free(text);
	sodium_free(key);
	free(file);
	free(kpath);
	free(path);
	return rc;
}

int cl_wa_creds_load(const char *dir, const char *key_file,
		     struct cl_wa_creds **out, char **err)
{
	unsigned char *key = sodium_malloc(KEY_LEN);
	unsigned char *text = NULL;
	char *kpath = key_path(dir, key_file), *path = join(dir, "creds.enc");
	struct cl_wa_creds *c = creds_new();
	struct cl_buf f;
	json_t *j = NULL;
	unsigned long long tlen = 0;
	size_t clen;
	int rc;

	*out = NULL;
	cl_buf_init(&f, FILE_MAX);
	if (key == NULL || kpath == NULL || path == NULL || c == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = cl_file_read(path, &f, FILE_MAX, err)))
		goto out;
	if (f.len < FILE_MAGIC_LEN + NONCE_LEN + TAG_LEN ||
	    memcmp(f.data, FILE_MAGIC, FILE_MAGIC_LEN) != 0) {
		rc = cl_error(err, CL_ECORRUPT,
			      "'%s' is not a credentials file", path);
		goto out;
	}
	rc = read_key(kpath, key, err);
	if (rc == CL_ENOTFOUND)
		rc = cl_error(err, CL_EKEY, "credentials key file is missing");
	if (rc)
		goto out;
	clen = f.len - FILE_MAGIC_LEN - NONCE_LEN;
	text = sodium_malloc(clen);
	if (text == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    text, &tlen, NULL, f.data + FILE_MAGIC_LEN + NONCE_LEN, clen,
		    (const unsigned char *)FILE_AD, sizeof(FILE_AD) - 1,
		    f.data + FILE_MAGIC_LEN, key) != 0) {
		rc = cl_error(err, CL_EKEY,
			      "cannot decrypt '%s': wrong key or altered file",
			      path);
		goto out;
	}
	j = json_loadb((const char *)text, (size_t)tlen, JSON_REJECT_DUPLICATES,
		       NULL);
	if (j == NULL || (rc = creds_from_json(j, c)) != CL_OK) {
		rc = cl_error(err, rc == CL_ENOMEM ? CL_ENOMEM : CL_ECORRUPT,
			      "'%s' does not hold valid credentials", path);
		goto out;
	}
	*out = c;
	c = NULL;
out:
	json_free_wiped(j);
	sodium_free(text);
	sodium_free(key);
	cl_wa_creds_free(c);
	cl_buf_release(&f);
	free(kpath);
	free(path);
	return rc;
}

/* Overwrite `path` with zeros, fsync and unlink.  CL_OK if missing. */
static int shred(const char *path, char **err)
{
	static const unsigned char zero[4096];
	struct stat st;
	FILE *f;
	off_t left;
	int rc = CL_OK;

	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return CL_OK;
		return cl_error(err, CL_EIO, "cannot stat '%s': %s", path,
				strerror(errno));
	}
	if (S_ISREG(st.st_mode)) {
		f = fopen(path, "r+be");
		if (f == NULL)
			return cl_error(err, CL_EIO, "cannot open '%s': %s",
					path, strerror(errno));
		for (left = st.st_size; left > 0 && rc == CL_OK;) {
			size_t n = left > (off_t)sizeof(zero) ?
				sizeof(zero) : (size_t)left;

			if (fwrite(zero, 1, n, f) != n)
				rc = CL_EIO;
			left -= (off_t)n;
		}
		if (fflush(f) != 0 || fsync(fileno(f)) != 0)
			rc = CL_EIO;
		if (fclose(f) != 0)
			rc = CL_EIO;
		if (rc)
			return cl_error(err, rc, "cannot overwrite '%s'", path);
	}
	if (unlink(path) != 0)
		return cl_error(err, CL_EIO, "cannot remove '%s': %s", path,
				strerror(errno));
	if (cl_fsync_dir(path) != CL_OK)
		return cl_error(err, CL_EIO, "cannot sync the directory of '%s'",
				path);
	return CL_OK;
}

int cl_wa_creds_delete(const char *dir, const char *key_file, char **err)
{
	char *path = join(dir, "creds.enc"), *tmp = join(dir, "creds.enc.tmp");
	char *kpath = join(dir, "creds.key");
	int rc;

	if (path == NULL || tmp == NULL || kpath == NULL) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = shred(path, err)) || (rc = shred(tmp, err)))
		goto out;
	if (key_file == NULL)
		rc = shred(kpath, err);
out:
	free(path);
	free(tmp);
	free(kpath);
	return rc;
}
