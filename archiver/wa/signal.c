/*
 * signal.c - libsignal-protocol-c with sealed SQLite stores (signal.h).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <signal_protocol.h>
#include <curve.h>
#include <group_cipher.h>
#include <group_session_builder.h>
#include <key_helper.h>
#include <protocol.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/wa/creds.h"
#include "archiver/wa/signal.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define SEAL_AD "chatledger-wa-signal-v1"
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES

struct cl_wa_signal {
	sqlite3 *db;
	const struct cl_wa_creds *creds;
	unsigned char *key;            /* sodium_malloc'd, 32 bytes */
	signal_context *ctx;
	signal_protocol_store_context *store;
	sqlite3_stmt *st_get, *st_put, *st_del;  /* prepared on first use */
};

/* *slot's statement, prepared on its first use and kept until
 * cl_wa_signal_free (a message loads and stores its session or sender
 * key: its SQL is not parsed each time).  The caller resets it. */
static sqlite3_stmt *kept(struct cl_wa_signal *s, sqlite3_stmt **slot,
			  const char *sql)
{
	if (*slot == NULL &&
	    sqlite3_prepare_v2(s->db, sql, -1, slot, NULL) != SQLITE_OK) {
		sqlite3_finalize(*slot);
		*slot = NULL;
	}
	return *slot;
}

static void kept_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static const struct {
	enum cl_wa_sig_err e;
	const char *name;
} err_names[] = {
	{ CL_WA_SIG_OK, "ok" },
	{ CL_WA_SIG_BAD_MAC, "bad-mac" },
	{ CL_WA_SIG_NO_SESSION, "no-session" },
	{ CL_WA_SIG_DUPLICATE, "duplicate" },
	{ CL_WA_SIG_BAD_MESSAGE, "bad-message" },
	{ CL_WA_SIG_UNTRUSTED, "untrusted-identity" },
	{ CL_WA_SIG_INTERNAL, "internal" },
};

const char *cl_wa_sig_err_name(enum cl_wa_sig_err e)
{
	size_t i;

	for (i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (err_names[i].e == e)
			return err_names[i].name;
	return "unknown";
}

static enum cl_wa_sig_err map_err(int rc)
{
	switch (rc) {
	case SG_SUCCESS:
		return CL_WA_SIG_OK;
	case SG_ERR_INVALID_MAC:
		return CL_WA_SIG_BAD_MAC;
	case SG_ERR_NO_SESSION:
		return CL_WA_SIG_NO_SESSION;
	case SG_ERR_DUPLICATE_MESSAGE:
		return CL_WA_SIG_DUPLICATE;
	case SG_ERR_UNTRUSTED_IDENTITY:
		return CL_WA_SIG_UNTRUSTED;
	case SG_ERR_NOMEM:
	case SG_ERR_UNKNOWN:
		return CL_WA_SIG_INTERNAL;
	default:
		return CL_WA_SIG_BAD_MESSAGE;
	}
}

size_t cl_wa_unpad(const unsigned char *p, size_t len)
{
	size_t n, i;

	if (len == 0)
		return (size_t)-1;
	n = p[len - 1];
	if (n == 0 || n > len)
		return (size_t)-1;
	for (i = len - n; i < len; i++)
		if (p[i] != n)
			return (size_t)-1;
	return len - n;
}

/* ---- crypto provider ------------------------------------------------- */

static int cp_random(uint8_t *data, size_t len, void *u)
{
	(void)u;
	randombytes_buf(data, len);
	return 0;
}

static int cp_hmac_init(void **hctx, const uint8_t *key, size_t key_len,
			void *u)
{
	crypto_auth_hmacsha256_state *st = malloc(sizeof(*st));

	(void)u;
	if (st == NULL)
		return SG_ERR_NOMEM;
	crypto_auth_hmacsha256_init(st, key, key_len);
	*hctx = st;
	return 0;
}

static int cp_hmac_update(void *hctx, const uint8_t *data, size_t len,
			  void *u)
{
	(void)u;
	crypto_auth_hmacsha256_update(hctx, data, len);
	return 0;
}

static int cp_hmac_final(void *hctx, signal_buffer **out, void *u)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	(void)u;
	crypto_auth_hmacsha256_final(hctx, mac);
	*out = signal_buffer_create(mac, sizeof(mac));
	return *out ? 0 : SG_ERR_NOMEM;
}

static void cp_hmac_cleanup(void *hctx, void *u)
{
	(void)u;
	if (hctx) {
		sodium_memzero(hctx, sizeof(crypto_auth_hmacsha256_state));
		free(hctx);
	}
}

static int cp_sha512_init(void **dctx, void *u)
{
	crypto_hash_sha512_state *st = malloc(sizeof(*st));

	(void)u;
	if (st == NULL)
		return SG_ERR_NOMEM;
	crypto_hash_sha512_init(st);
	*dctx = st;
	return 0;
}

static int cp_sha512_update(void *dctx, const uint8_t *data, size_t len,
			    void *u)
{
	(void)u;
	crypto_hash_sha512_update(dctx, data, len);
	return 0;
}

static int cp_sha512_final(void *dctx, signal_buffer **out, void *u)
{
	unsigned char h[crypto_hash_sha512_BYTES];

	(void)u;
	crypto_hash_sha512_final(dctx, h);
	crypto_hash_sha512_init(dctx);
	*out = signal_buffer_create(h, sizeof(h));
	return *out ? 0 : SG_ERR_NOMEM;
}

static void cp_sha512_cleanup(void *dctx, void *u)
{
	(void)u;
	free(dctx);
}

static const EVP_CIPHER *aes(int cipher, size_t key_len)
{
	if (cipher == SG_CIPHER_AES_CBC_PKCS5)
		return key_len == 16 ? EVP_aes_128_cbc() :
			key_len == 24 ? EVP_aes_192_cbc() :
			key_len == 32 ? EVP_aes_256_cbc() : NULL;
	if (cipher == SG_CIPHER_AES_CTR_NOPADDING)
		return key_len == 16 ? EVP_aes_128_ctr() :
			key_len == 24 ? EVP_aes_192_ctr() :
			key_len == 32 ? EVP_aes_256_ctr() : NULL;
	return NULL;
}

static int cp_aes(signal_buffer **out, int cipher, const uint8_t *key,
		  size_t key_len, const uint8_t *iv, size_t iv_len,
		  const uint8_t *in, size_t in_len, int enc)
{
	const EVP_CIPHER *ev = aes(cipher, key_len);
	EVP_CIPHER_CTX *cx;
	unsigned char *buf;
	int n1 = 0, n2 = 0, ok;

	if (ev == NULL || iv_len != 16 || in_len > (size_t)INT32_MAX - 64)
		return SG_ERR_UNKNOWN;
	buf = malloc(in_len + 32);
	cx = EVP_CIPHER_CTX_new();
	if (buf == NULL || cx == NULL) {
		free(buf);
		EVP_CIPHER_CTX_free(cx);
		return SG_ERR_NOMEM;
	}
	ok = EVP_CipherInit_ex(cx, ev, NULL, key, iv, enc) == 1 &&
		EVP_CipherUpdate(cx, buf, &n1, in, (int)in_len) == 1 &&
		EVP_CipherFinal_ex(cx, buf + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(cx);
	if (ok)
		*out = signal_buffer_create(buf, (size_t)n1 + (size_t)n2);
	sodium_memzero(buf, in_len + 32);
	free(buf);
	if (!ok)
		return SG_ERR_UNKNOWN;
	return *out ? 0 : SG_ERR_NOMEM;
}

static int cp_encrypt(signal_buffer **out, int cipher, const uint8_t *key,
		      size_t key_len, const uint8_t *iv, size_t iv_len,
		      const uint8_t *pt, size_t pt_len, void *u)
{
	(void)u;
	return cp_aes(out, cipher, key, key_len, iv, iv_len, pt, pt_len, 1);
}

static int cp_decrypt(signal_buffer **out, int cipher, const uint8_t *key,
		      size_t key_len, const uint8_t *iv, size_t iv_len,
		      const uint8_t *ct, size_t ct_len, void *u)
{
	(void)u;
	return cp_aes(out, cipher, key, key_len, iv, iv_len, ct, ct_len, 0);
}

/* ---- sealed rows ------------------------------------------------------- */

static int ad_build(struct cl_buf *ad, const char *kind, const char *name)
{
	cl_buf_reset(ad);
	if (cl_buf_add(ad, SEAL_AD, sizeof(SEAL_AD)) ||
	    cl_buf_add(ad, kind, strlen(kind) + 1) ||
	    cl_buf_addstr(ad, name))
		return CL_ENOMEM;
	return CL_OK;
}

/* 1 and *out (plaintext) when found, 0 when not, negative on error. */
static int row_get(struct cl_wa_signal *s, const char *kind,
		   const char *name, signal_buffer **out)
{
	sqlite3_stmt *st;
	struct cl_buf ad;
	int rc;

	*out = NULL;
	st = kept(s, &s->st_get, "SELECT value FROM wa_signal WHERE kind = ?1 AND name = ?2");
	if (st == NULL)
		return SG_ERR_UNKNOWN;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		kept_done(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		kept_done(st);
		return SG_ERR_UNKNOWN;
	}
	{
		const unsigned char *v = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);
		unsigned char *pt;
		unsigned long long ptlen = 0;

		cl_buf_init(&ad, 4096);
		if (v == NULL || n < NONCE_LEN + TAG_LEN ||
		    ad_build(&ad, kind, name) ||
		    (pt = malloc(n)) == NULL) {
			cl_buf_release(&ad);
			kept_done(st);
			return SG_ERR_UNKNOWN;
		}
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
			pt, &ptlen, NULL, v + NONCE_LEN, n - NONCE_LEN, ad.data,
			ad.len, v, s->key);
		cl_buf_release(&ad);
		kept_done(st);
		if (rc != 0) {
			free(pt);
			return SG_ERR_UNKNOWN; /* altered or wrong key */
		}
		*out = signal_buffer_create(pt, (size_t)ptlen);
		sodium_memzero(pt, n);
		free(pt);
		return *out ? 1 : SG_ERR_NOMEM;
	}
}

static int row_put(struct cl_wa_signal *s, const char *kind,
		   const char *name, const unsigned char *p, size_t len)
{
	sqlite3_stmt *st;
	struct cl_buf ad;
	unsigned char *v;
	unsigned long long clen = 0;
	int rc = SQLITE_ERROR;

	v = malloc(NONCE_LEN + len + TAG_LEN);
	if (v == NULL)
		return SG_ERR_NOMEM;
	cl_buf_init(&ad, 4096);
	if (ad_build(&ad, kind, name)) {
		cl_buf_release(&ad);
		free(v);
		return SG_ERR_NOMEM;
	}
	randombytes_buf(v, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(v + NONCE_LEN, &clen, p, len,
						   ad.data, ad.len, NULL, v,
						   s->key);
	cl_buf_release(&ad);
	st = kept(s, &s->st_put, "INSERT OR REPLACE INTO wa_signal(kind, name, value) VALUES (?1, ?2, ?3)");
	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, v, (int)(NONCE_LEN + clen),
				  SQLITE_STATIC);
		rc = sqlite3_step(st);
		kept_done(st);
	}
	free(v);
	return rc == SQLITE_DONE ? 0 : SG_ERR_UNKNOWN;
}

static int row_del(struct cl_wa_signal *s, const char *kind,
		   const char *name)
{
	sqlite3_stmt *st = kept(s, &s->st_del, "DELETE FROM wa_signal WHERE kind = ?1 AND name = ?2");
	int rc = SQLITE_ERROR;

	if (st) {
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		kept_done(st);
	}
	return rc == SQLITE_DONE ? 0 : SG_ERR_UNKNOWN;
}

/* "name.device" (a session or identity row's name). */
static int addr_name(char *dst, size_t cap, const signal_protocol_address *a)
{
	return cl_fmt(dst, cap, "%.*s.%d", (int)a->name_len, a->name,
		      (int)a->device_id);
}

/* ---- session store ----------------------------------------------------- */

static int ss_load(signal_buffer **record, signal_buffer **user_record,
		   const signal_protocol_address *a, void *u)
{
	char name[600];

	(void)user_record;
	if (addr_name(name, sizeof(name), a))
		return SG_ERR_INVAL;
	return row_get(u, "session", name, record);
}

static int ss_subdevices(signal_int_list **sessions, const char *n,
			 size_t n_len, void *u)
{
	(void)n;
	(void)n_len;
	(void)u;
	*sessions = signal_int_list_alloc();
	return *sessions ? 0 : SG_ERR_NOMEM;
}

static int ss_store(const signal_protocol_address *a, uint8_t *rec,
		    size_t len, uint8_t *urec, size_t ulen, void *u)
{
	char name[600];

	(void)urec;
	(void)ulen;
	if (addr_name(name, sizeof(name), a))
		return SG_ERR_INVAL;
	return row_put(u, "session", name, rec, len);
}

static int ss_contains(const signal_protocol_address *a, void *u)
{
	signal_buffer *b = NULL;
	char name[600];
	int rc;

	if (addr_name(name, sizeof(name), a))
		return SG_ERR_INVAL;
	rc = row_get(u, "session", name, &b);
	signal_buffer_bzero_free(b);
	return rc;
}

static int ss_delete(const signal_protocol_address *a, void *u)
{
	char name[600];

	if (addr_name(name, sizeof(name), a))
		return SG_ERR_INVAL;
	return row_del(u, "session", name) == 0 ? 1 : SG_ERR_UNKNOWN;
}

static int ss_delete_all(const char *n, size_t n_len, void *u)
{
	(void)n;
	(void)n_len;
	(void)u;
	return 0;
}

/* ---- pre-keys (from the credentials) ----------------------------------- */

static int key_pair(struct cl_wa_signal *s, const unsigned char pub[32],
		    const unsigned char priv[32], ec_key_pair **out)
{
	unsigned char p33[33];
	ec_public_key *pk = NULL;
	ec_private_key *sk = NULL;
	int rc;

	p33[0] = 0x05;
	memcpy(p33 + 1, pub, 32);
	rc = curve_decode_point(&pk, p33, sizeof(p33), s->ctx);
	if (rc == 0)
		rc = curve_decode_private_point(&sk, priv, 32, s->ctx);
	if (rc == 0)
		rc = ec_key_pair_create(out, pk, sk);
	SIGNAL_UNREF(pk);
	SIGNAL_UNREF(sk);
	return rc;
}

static int pk_used(struct cl_wa_signal *s, uint32_t id)
{
	signal_buffer *b = NULL;
	char name[16];
	int rc;

	(void)cl_fmt(name, sizeof(name), "%u", (unsigned)id);
	rc = row_get(s, "prekey-used", name, &b);
	signal_buffer_free(b);
	return rc;
}

static int pk_load(signal_buffer **record, uint32_t id, void *u)
{
	struct cl_wa_signal *s = u;
	const struct cl_wa_prekey *k = cl_wa_prekey_find(s->creds, id);
	ec_key_pair *kp = NULL;
	session_pre_key *pk = NULL;
	int rc;

	if (k == NULL || pk_used(s, id) != 0)
		return SG_ERR_INVALID_KEY_ID;
	rc = key_pair(s, k->pub, k->priv, &kp);
	if (rc == 0)
		rc = session_pre_key_create(&pk, id, kp);
	if (rc == 0)
		rc = session_pre_key_serialize(record, pk);
	SIGNAL_UNREF(pk);
	SIGNAL_UNREF(kp);
	return rc == 0 ? SG_SUCCESS : rc;
}

static int pk_store(uint32_t id, uint8_t *rec, size_t len, void *u)
{
	(void)id;
	(void)rec;
	(void)len;
	(void)u;
	return 0; /* ours come from the credentials */
}

static int pk_contains(uint32_t id, void *u)
{
	struct cl_wa_signal *s = u;

	return cl_wa_prekey_find(s->creds, id) != NULL && pk_used(s, id) == 0;
}

/* A session consumed the one-time pre-key: never accept it again (the
 * mark commits with the batch that archived the message). */
static int pk_remove(uint32_t id, void *u)
{
	char name[16];
	unsigned char one = 1;

	(void)cl_fmt(name, sizeof(name), "%u", (unsigned)id);
	return row_put(u, "prekey-used", name, &one, 1);
}

static int spk_load(signal_buffer **record, uint32_t id, void *u)
{
	struct cl_wa_signal *s = u;
	ec_key_pair *kp = NULL;
	session_signed_pre_key *spk = NULL;
	int rc;

	if (id != s->creds->spk_id)
		return SG_ERR_INVALID_KEY_ID;
	rc = key_pair(s, s->creds->spk_pub, s->creds->spk_priv, &kp);
	if (rc == 0)
		rc = session_signed_pre_key_create(&spk, id, 0, kp,
						   s->creds->spk_sig, 64);
	if (rc == 0)
		rc = session_signed_pre_key_serialize(record, spk);
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(kp);
	return rc == 0 ? SG_SUCCESS : rc;
}

static int spk_store(uint32_t id, uint8_t *rec, size_t len, void *u)
{
	(void)id;
	(void)rec;
	(void)len;
	(void)u;
	return 0;
}

static int spk_contains(uint32_t id, void *u)
{
	const struct cl_wa_signal *s = u;

	return id == s->creds->spk_id;
}

static int spk_remove(uint32_t id, void *u)
{
	(void)id;
	(void)u;
	return 0;
}

/* ---- identity store ---------------------------------------------------- */

static int ik_pair(signal_buffer **pub, signal_buffer **priv, void *u)
{
	const struct cl_wa_signal *s = u;
	unsigned char p33[33];

	p33[0] = 0x05;
	memcpy(p33 + 1, s->creds->ident_pub, 32);
	*pub = signal_buffer_create(p33, sizeof(p33));
	*priv = signal_buffer_create(s->creds->ident_priv, 32);
	if (*pub == NULL || *priv == NULL) {
		signal_buffer_free(*pub);
		signal_buffer_bzero_free(*priv);
		return SG_ERR_NOMEM;
	}
	return 0;
}

static int ik_regid(void *u, uint32_t *id)
{
	const struct cl_wa_signal *s = u;

	*id = s->creds->reg_id;
	return 0;
}

static int ik_save(const signal_protocol_address *a, uint8_t *key,
		   size_t len, void *u)
{
	char name[600];

	if (addr_name(name, sizeof(name), a))
		return SG_ERR_INVAL;
	if (key == NULL)
		return row_del(u, "identity", name);
	return row_put(u, "identity", name, key, len);
}

/* Trust on first use, and on change too: a collector must not refuse a
 * message because the sender reinstalled (the change is kept). */
static int ik_trusted(const signal_protocol_address *a, uint8_t *key,
		      size_t len, void *u)
{
	(void)a;
	(void)key;
	(void)len;
	(void)u;
	return 1;
}

/* ---- sender keys --------------------------------------------------------- */

static int skn_name(char *dst, size_t cap,
		    const signal_protocol_sender_key_name *k)
{
	return cl_fmt(dst, cap, "%.*s::%.*s.%d", (int)k->group_id_len,
		      k->group_id, (int)k->sender.name_len, k->sender.name,
		      (int)k->sender.device_id);
}

static int sk_store(const signal_protocol_sender_key_name *k, uint8_t *rec,
		    size_t len, uint8_t *urec, size_t ulen, void *u)
{
	char name[1200];

	(void)urec;
	(void)ulen;
	if (skn_name(name, sizeof(name), k))
		return SG_ERR_INVAL;
	return row_put(u, "sender-key", name, rec, len);
}

static int sk_load(signal_buffer **record, signal_buffer **urec,
		   const signal_protocol_sender_key_name *k, void *u)
{
	char name[1200];

	(void)urec;
	if (skn_name(name, sizeof(name), k))
		return SG_ERR_INVAL;
	return row_get(u, "sender-key", name, record);
}

/* ---- setup ----------------------------------------------------------- */

int cl_wa_signal_new(struct cl_wa_signal **out, sqlite3 *db,
		     const struct cl_wa_creds *creds,
		     const unsigned char creds_key[32], char **err)
{
	static const char ctxt[] = "chatledger-wa-signal-store";
	struct cl_wa_signal *s;
	signal_crypto_provider cp;
	signal_protocol_session_store ss;
	signal_protocol_pre_key_store pks;
	signal_protocol_signed_pre_key_store spks;
	signal_protocol_identity_key_store iks;
	signal_protocol_sender_key_store sks;

	*out = NULL;
	if (sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS wa_signal(kind TEXT NOT NULL, "
			 "name TEXT NOT NULL, value BLOB NOT NULL, "
			 "PRIMARY KEY(kind, name)) WITHOUT ROWID",
			 NULL, NULL, NULL) != SQLITE_OK)
		return cl_error(err, CL_EIO, "cannot create the Signal store: %s",
				sqlite3_errmsg(db));
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->key = sodium_malloc(32)) == NULL) {
		free(s);
		return CL_ENOMEM;
	}
	s->db = db;
	s->creds = creds;
	/* a key of its own, so the store and creds.enc never share one */
	crypto_generichash(s->key, 32, (const unsigned char *)ctxt,
			   sizeof(ctxt) - 1, creds_key, 32);
	memset(&cp, 0, sizeof(cp));
	cp.random_func = cp_random;
	cp.hmac_sha256_init_func = cp_hmac_init;
	cp.hmac_sha256_update_func = cp_hmac_update;
	cp.hmac_sha256_final_func = cp_hmac_final;
	cp.hmac_sha256_cleanup_func = cp_hmac_cleanup;
	cp.sha512_digest_init_func = cp_sha512_init;
	cp.sha512_digest_update_func = cp_sha512_update;
	cp.sha512_digest_final_func = cp_sha512_final;
	cp.sha512_digest_cleanup_func = cp_sha512_cleanup;
	cp.encrypt_func = cp_encrypt;
	cp.decrypt_func = cp_decrypt;
	cp.user_data = s;
	memset(&ss, 0, sizeof(ss));
	ss.load_session_func = ss_load;
	ss.get_sub_device_sessions_func = ss_subdevices;
	ss.store_session_func = ss_store;
	ss.contains_session_func = ss_contains;
	ss.delete_session_func = ss_delete;
	ss.delete_all_sessions_func = ss_delete_all;
	ss.user_data = s;
	memset(&pks, 0, sizeof(pks));
	pks.load_pre_key = pk_load;
	pks.store_pre_key = pk_store;
	pks.contains_pre_key = pk_contains;
	pks.remove_pre_key = pk_remove;
	pks.user_data = s;
	memset(&spks, 0, sizeof(spks));
	spks.load_signed_pre_key = spk_load;
	spks.store_signed_pre_key = spk_store;
	spks.contains_signed_pre_key = spk_contains;
	spks.remove_signed_pre_key = spk_remove;
	spks.user_data = s;
	memset(&iks, 0, sizeof(iks));
	iks.get_identity_key_pair = ik_pair;
	iks.get_local_registration_id = ik_regid;
	iks.save_identity = ik_save;
	iks.is_trusted_identity = ik_trusted;
	iks.user_data = s;
	memset(&sks, 0, sizeof(sks));
	sks.store_sender_key = sk_store;
	sks.load_sender_key = sk_load;
	sks.user_data = s;
	if (signal_context_create(&s->ctx, s) != 0 ||
	    signal_context_set_crypto_provider(s->ctx, &cp) != 0 ||
	    signal_protocol_store_context_create(&s->store, s->ctx) != 0 ||
	    signal_protocol_store_context_set_session_store(s->store, &ss) ||
	    signal_protocol_store_context_set_pre_key_store(s->store, &pks) ||
	    signal_protocol_store_context_set_signed_pre_key_store(s->store,
								   &spks) ||
	    signal_protocol_store_context_set_identity_key_store(s->store,
								 &iks) ||
	    signal_protocol_store_context_set_sender_key_store(s->store,
							       &sks)) {
		cl_wa_signal_free(s);
		return cl_error(err, CL_ENOMEM, "cannot set up libsignal");
	}
	*out = s;
	return CL_OK;
}

void cl_wa_signal_free(struct cl_wa_signal *s)
{
	if (s == NULL)
		return;
	if (s->store)
		signal_protocol_store_context_destroy(s->store);
	if (s->ctx)
		signal_context_destroy(s->ctx);
	sqlite3_finalize(s->st_get);
	sqlite3_finalize(s->st_put);
	sqlite3_finalize(s->st_del);
	sodium_free(s->key);
	free(s);
}

/* ---- decryption -------------------------------------------------------- */

static enum cl_wa_sig_err take(signal_buffer *pt, struct cl_buf *out)
{
	int rc;

	cl_buf_reset(out);
	rc = cl_buf_add(out, signal_buffer_data(pt), signal_buffer_len(pt));
	signal_buffer_bzero_free(pt);
	return rc ? CL_WA_SIG_INTERNAL : CL_WA_SIG_OK;
}

enum cl_wa_sig_err cl_wa_signal_decrypt(struct cl_wa_signal *s,
					const char *name, int device,
					int prekey, const unsigned char *ct,
					size_t len, struct cl_buf *out)
{
	signal_protocol_address a = { name, strlen(name), device };
	session_cipher *sc = NULL;
	signal_buffer *pt = NULL;
	int rc;

	rc = session_cipher_create(&sc, s->store, &a, s->ctx);
	if (rc == 0 && prekey) {
		pre_key_signal_message *m = NULL;

		rc = pre_key_signal_message_deserialize(&m, ct, len, s->ctx);
		if (rc == 0)
			rc = session_cipher_decrypt_pre_key_signal_message(
				sc, m, NULL, &pt);
		SIGNAL_UNREF(m);
	} else if (rc == 0) {
		signal_message *m = NULL;

		rc = signal_message_deserialize(&m, ct, len, s->ctx);
		if (rc == 0)
			rc = session_cipher_decrypt_signal_message(sc, m, NULL,
								   &pt);
		SIGNAL_UNREF(m);
	}
	session_cipher_free(sc);
	if (rc != 0)
		return map_err(rc);
	return take(pt, out);
}

enum cl_wa_sig_err cl_wa_signal_process_skdm(struct cl_wa_signal *s,
					     const char *group,
					     const char *name, int device,
					     const unsigned char *skdm,
					     size_t len)
{
	signal_protocol_sender_key_name k = {
		group, strlen(group), { name, strlen(name), device } };
	group_session_builder *b = NULL;
	sender_key_distribution_message *m = NULL;
	int rc;

	rc = sender_key_distribution_message_deserialize(&m, skdm, len,
							 s->ctx);
	if (rc == 0)
		rc = group_session_builder_create(&b, s->store, s->ctx);
	if (rc == 0)
		rc = group_session_builder_process_session(b, &k, m);
	group_session_builder_free(b);
	SIGNAL_UNREF(m);
	return map_err(rc);
}

enum cl_wa_sig_err cl_wa_signal_group_decrypt(struct cl_wa_signal *s,
					      const char *group,
					      const char *name, int device,
					      const unsigned char *ct,
					      size_t len, struct cl_buf *out)
{
	signal_protocol_sender_key_name k = {
		group, strlen(group), { name, strlen(name), device } };
	group_cipher *gc = NULL;
	sender_key_message *m = NULL;
	signal_buffer *pt = NULL;
	int rc;

	rc = sender_key_message_deserialize(&m, ct, len, s->ctx);
	if (rc == 0)
		rc = group_cipher_create(&gc, s->store, &k, s->ctx);
	if (rc == 0)
		rc = group_cipher_decrypt(gc, m, NULL, &pt);
	group_cipher_free(gc);
	SIGNAL_UNREF(m);
	if (rc != 0)
		return map_err(rc);
	return take(pt, out);
}
