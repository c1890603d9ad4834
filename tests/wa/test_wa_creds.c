/*
 * test_wa_creds.c - the linked device's credentials (archiver/wa/creds.c):
 * generation, the signed pre-key, one-time pre-keys (ids, wrap, cap,
 * removal), and creds.enc: round trip of every field, file modes, the key
 * file, wrong keys, tampering, bad content and deletion.
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/wa/creds.h"
#include "archiver/wa/xeddsa.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "../unit/tap.h"
#include "scratch.h"
#include "common/banned.h"


/* ---- helpers ------------------------------------------------------------ */

static char *path_of(const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		abort();
	return p;
}

static unsigned mode_of(const char *name)
{
	char *p = path_of(name);
	struct stat st;
	unsigned m = 0xffff;

	if (stat(p, &st) == 0)
		m = (unsigned)(st.st_mode & 07777);
	free(p);
	return m;
}

static int exists(const char *name)
{
	char *p = path_of(name);
	struct stat st;
	int r = stat(p, &st) == 0;

	free(p);
	return r;
}

static int read_file(const char *name, struct cl_buf *b)
{
	char *p = path_of(name);
	int rc;

	cl_buf_reset(b);
	rc = cl_file_read(p, b, 64u << 20, NULL);
	free(p);
	return rc;
}

static void write_file(const char *name, const void *data, size_t len)
{
	char *p = path_of(name);
	FILE *f = fopen(p, "wb");

	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		abort();
	free(p);
}

static int pair_ok(const unsigned char *pub, const unsigned char *priv)
{
	unsigned char p[32];

	return cl_wa_x25519_pub(p, priv) == CL_OK && memcmp(p, pub, 32) == 0;
}

static int spk_ok(const struct cl_wa_creds *c)
{
	unsigned char msg[33];

	msg[0] = 5;
	memcpy(msg + 1, c->spk_pub, 32);
	return cl_wa_xeddsa_verify(c->ident_pub, msg, 33, c->spk_sig) == CL_OK;
}

static int all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Every field equal (the pre-key arrays compared by content). */
static int creds_equal(const struct cl_wa_creds *a, const struct cl_wa_creds *b)
{
	return !memcmp(a->noise_pub, b->noise_pub, 32) &&
	       !memcmp(a->noise_priv, b->noise_priv, 32) &&
	       !memcmp(a->ident_pub, b->ident_pub, 32) &&
	       !memcmp(a->ident_priv, b->ident_priv, 32) &&
	       a->reg_id == b->reg_id && a->spk_id == b->spk_id &&
	       !memcmp(a->spk_pub, b->spk_pub, 32) &&
	       !memcmp(a->spk_priv, b->spk_priv, 32) &&
	       !memcmp(a->spk_sig, b->spk_sig, 64) &&
	       !memcmp(a->adv_secret, b->adv_secret, 32) &&
	       a->paired == b->paired && !strcmp(a->jid, b->jid) &&
	       !strcmp(a->lid, b->lid) && !strcmp(a->platform, b->platform) &&
	       !strcmp(a->biz_name, b->biz_name) &&
	       a->key_index == b->key_index &&
	       !memcmp(a->account_sig_key, b->account_sig_key, 32) &&
	       a->signed_identity_len == b->signed_identity_len &&
	       !memcmp(a->signed_identity, b->signed_identity,
		       a->signed_identity_len) &&
	       a->next_prekey_id == b->next_prekey_id &&
	       a->prekeys_uploaded == b->prekeys_uploaded &&
	       a->nprekeys == b->nprekeys &&
	       (a->nprekeys == 0 ||
		!memcmp(a->prekeys, b->prekeys,
			a->nprekeys * sizeof(*a->prekeys)));
}

/* Seal `text` as creds.enc would be, with `key` (the test's own copy of
 * the documented format: magic, nonce, XChaCha20-Poly1305 with the AD). */
static void seal_file(const char *name, const unsigned char *key,
		      const char *text)
{
	static const char ad[] = "chatledger-wa-creds-v1";
	size_t tlen = strlen(text);
	size_t flen = 8 + 24 + tlen + 16;
	unsigned char *f = malloc(flen);
	unsigned long long clen = 0;

	if (f == NULL)
		abort();
	memcpy(f, "CLWACRD1", 8);
	randombytes_buf(f + 8, 24);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		f + 32, &clen, (const unsigned char *)text, tlen,
		(const unsigned char *)ad, sizeof(ad) - 1, NULL, f + 8, key);
	write_file(name, f, flen);
	free(f);
}

static int load_rc(const char *key_file)
{
	struct cl_wa_creds *c = NULL;
	char *err = NULL;
	int rc = cl_wa_creds_load(tmpdir, key_file, &c, &err);

	if (rc == CL_OK && c == NULL)
		rc = -1;
	if (rc != CL_OK && (c != NULL || err == NULL))
		rc = -2;
	cl_wa_creds_free(c);
	free(err);
	return rc;
}

/* ---- generation and pre-keys ---------------------------------------------- */

static void test_generate(void)
{
	struct cl_wa_creds *a = NULL, *b = NULL;
	char *err = NULL;

	TAP_EQ_INT(cl_wa_creds_generate(&a, &err), CL_OK, "generate");
	TAP_EQ_INT(cl_wa_creds_generate(&b, &err), CL_OK, "generate again");
	if (a == NULL || b == NULL)
		goto out;
	TAP_OK(pair_ok(a->noise_pub, a->noise_priv), "noise key pair matches");
	TAP_OK(pair_ok(a->ident_pub, a->ident_priv), "identity key pair matches");
	TAP_OK(pair_ok(a->spk_pub, a->spk_priv), "signed pre-key pair matches");
	TAP_OK(spk_ok(a), "signed pre-key signature verifies (0x05 || pub)");
	TAP_OK(a->reg_id >= 1 && a->reg_id <= 16383, "registration id is 14-bit, non-zero");
	TAP_EQ_INT(a->spk_id, 1, "signed pre-key id");
	TAP_OK(!all_zero(a->adv_secret, 32), "ADV secret set");
	TAP_OK(memcmp(a->adv_secret, b->adv_secret, 32) != 0 &&
	       memcmp(a->ident_priv, b->ident_priv, 32) != 0 &&
	       memcmp(a->noise_priv, b->noise_priv, 32) != 0 &&
	       memcmp(a->noise_priv, a->ident_priv, 32) != 0,
	       "keys are fresh and distinct");
	TAP_OK(a->paired == 0 && a->jid[0] == 0 && a->nprekeys == 0 &&
	       a->prekeys == NULL && a->next_prekey_id == 1 &&
	       a->prekeys_uploaded == 0 && a->signed_identity_len == 0,
	       "no account, no one-time pre-keys");
	{
		unsigned char msg[33];

		msg[0] = 5;
		memcpy(msg + 1, a->spk_pub, 32);
		msg[5] ^= 1;
		TAP_OK(cl_wa_xeddsa_verify(a->ident_pub, msg, 33, a->spk_sig) ==
		       CL_EBADSIG, "signature does not cover another key");
	}
out:
	cl_wa_creds_free(a);
	cl_wa_creds_free(b);
	free(err);
}

static void test_prekeys(void)
{
	struct cl_wa_creds *c = NULL;
	char *err = NULL;
	size_t i, dup = 0, bad = 0, mism = 0;

	if (cl_wa_creds_generate(&c, &err) != CL_OK) {
		TAP_OK(0, "generate for pre-keys");
		return;
	}
	TAP_EQ_INT(cl_wa_prekeys_generate(c, CL_WA_PREKEYS_INITIAL, &err), CL_OK,
		   "812 pre-keys");
	TAP_EQ_INT(c->nprekeys, 812, "count");
	TAP_EQ_INT(c->next_prekey_id, 813, "next id");
	for (i = 0; i < c->nprekeys; i++) {
		if (c->prekeys[i].id != i + 1)
			bad++;
		if (i && !memcmp(c->prekeys[i].priv, c->prekeys[i - 1].priv, 32))
			dup++;
		if (!pair_ok(c->prekeys[i].pub, c->prekeys[i].priv))
			mism++;
	}
	TAP_EQ_INT(bad, 0, "ids 1..812 in order");
	TAP_EQ_INT(dup, 0, "keys distinct");
	TAP_EQ_INT(mism, 0, "every public key matches its private key");
	TAP_EQ_INT(cl_wa_prekeys_generate(c, 50, &err), CL_OK, "50 more");
	TAP_OK(c->nprekeys == 862 && c->prekeys[861].id == 862 &&
	       c->next_prekey_id == 863, "appended with the next ids");
	TAP_EQ_INT(cl_wa_prekeys_generate(c, 0, &err), CL_OK, "zero is a no-op");
	TAP_EQ_INT(c->nprekeys, 862, "count unchanged");

	/* 24-bit wrap, skipping 0 */
	c->next_prekey_id = 0xfffffe;
	TAP_EQ_INT(cl_wa_prekeys_generate(c, 3, &err), CL_OK, "across the wrap");
	TAP_OK(c->prekeys[862].id == 0xfffffe && c->prekeys[863].id == 0xffffff &&
	       c->prekeys[864].id == 1 && c->next_prekey_id == 2,
	       "ids fffffe, ffffff, 1; next 2");
	for (i = 0, bad = 0; i < c->nprekeys; i++)
		if (c->prekeys[i].id == 0 || c->prekeys[i].id > 0xffffff)
			bad++;
	TAP_EQ_INT(bad, 0, "all ids 24-bit and non-zero");

	/* find, remove */
	c->prekeys_uploaded = 812;
	TAP_OK(cl_wa_prekey_find(c, 100) == &c->prekeys[99], "find");
	TAP_OK(cl_wa_prekey_find(c, 5000) == NULL, "find missing");
	TAP_EQ_INT(cl_wa_prekey_remove(c, 100), CL_OK, "remove an uploaded key");
	TAP_OK(c->nprekeys == 864 && c->prekeys_uploaded == 811 &&
	       cl_wa_prekey_find(c, 100) == NULL && c->prekeys[99].id == 101,
	       "gone; later keys and the uploaded count move down");
	TAP_EQ_INT(cl_wa_prekey_remove(c, 850), CL_OK, "remove a pending key");
	TAP_OK(c->nprekeys == 863 && c->prekeys_uploaded == 811,
	       "uploaded count unchanged");
	TAP_EQ_INT(cl_wa_prekey_remove(c, 850), CL_ENOTFOUND, "remove twice");
	cl_wa_creds_free(c);
	free(err);
}

/* The cap: the oldest uploaded keys make room; pending ones never do. */
static void test_prekey_cap(void)
{
	struct cl_wa_creds *c = NULL;
	char *err = NULL;
	uint32_t first;

	if (cl_wa_creds_generate(&c, &err) != CL_OK ||
	    cl_wa_prekeys_generate(c, CL_WA_PREKEYS_MAX - 10, &err) != CL_OK) {
		TAP_OK(0, "setup for the cap");
		goto out;
	}
	c->prekeys_uploaded = 15;
	TAP_EQ_INT(cl_wa_prekeys_generate(c, 30, &err), CL_EINVAL,
		   "over the cap with too few uploaded keys to drop");
	free(err);
	err = NULL;
	TAP_OK(c->nprekeys == CL_WA_PREKEYS_MAX - 10 && c->prekeys_uploaded == 15 &&
	       c->next_prekey_id == CL_WA_PREKEYS_MAX - 9,
	       "refused: unchanged");
	first = c->prekeys[0].id;
	TAP_EQ_INT(cl_wa_prekeys_generate(c, 20, &err), CL_OK, "up to the cap");
	TAP_OK(c->nprekeys == CL_WA_PREKEYS_MAX && c->prekeys_uploaded == 5 &&
	       c->prekeys[0].id == first + 10 &&
	       c->prekeys[c->nprekeys - 1].id == CL_WA_PREKEYS_MAX + 10,
	       "the 10 oldest uploaded keys were dropped");
out:
	cl_wa_creds_free(c);
	free(err);
}

/* ---- storage ------------------------------------------------------------ */

static struct cl_wa_creds *full_creds(void)
{
	struct cl_wa_creds *c = NULL;
	char *err = NULL;

	if (cl_wa_creds_generate(&c, &err) != CL_OK ||
	    cl_wa_prekeys_generate(c, 100, &err) != CL_OK)
		abort();
	c->paired = 1;
	snprintf(c->jid, sizeof(c->jid), "15551234567:12@s.whatsapp.net");
	snprintf(c->lid, sizeof(c->lid), "123456789012345:12@lid");
	snprintf(c->platform, sizeof(c->platform), "smbi");
	snprintf(c->biz_name, sizeof(c->biz_name), "Ärchive \"Co\" \\ ✓");
	c->key_index = 7;
	randombytes_buf(c->account_sig_key, 32);
	c->signed_identity_len = sizeof(c->signed_identity);
	randombytes_buf(c->signed_identity, c->signed_identity_len);
	c->prekeys_uploaded = 60;
	free(err);
	return c;
}

static void test_round_trip(void)
{
	struct cl_wa_creds *c = full_creds(), *back = NULL, *empty = NULL;
	struct cl_buf b;
	char *err = NULL;

	cl_buf_init(&b, 64u << 20);
	TAP_EQ_INT(load_rc(NULL), CL_ENOTFOUND, "nothing stored yet");
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, NULL, c, &err), CL_OK, "save");
	TAP_EQ_INT(mode_of("wa"), 0700, "wa/ is 0700");
	TAP_EQ_INT(mode_of("wa/creds.enc"), 0600, "creds.enc is 0600");
	TAP_EQ_INT(mode_of("wa/creds.key"), 0600, "creds.key is 0600");
	TAP_OK(read_file("wa/creds.key", &b) == CL_OK && b.len == 32,
	       "creds.key holds 32 bytes");
	TAP_OK(!exists("wa/creds.enc.tmp"), "no temp file left");
	TAP_OK(read_file("wa/creds.enc", &b) == CL_OK && b.len > 40 &&
	       !memcmp(b.data, "CLWACRD1", 8) &&
	       memmem(b.data, b.len, "jid", 3) == NULL,
	       "creds.enc: header, no plaintext");
	TAP_EQ_INT(cl_wa_creds_load(tmpdir, NULL, &back, &err), CL_OK, "load");
	TAP_OK(back && creds_equal(c, back), "every field comes back");
	TAP_OK(back && back->prekeys_alloc >= back->nprekeys, "array sized");
	cl_wa_creds_free(back);
	back = NULL;

	/* saving again keeps the key and replaces the file */
	{
		struct cl_buf k1, k2;

		cl_buf_init(&k1, 64);
		cl_buf_init(&k2, 64);
		read_file("wa/creds.key", &k1);
		c->key_index = 8;
		TAP_EQ_INT(cl_wa_creds_save(tmpdir, NULL, c, &err), CL_OK, "save again");
		read_file("wa/creds.key", &k2);
		TAP_OK(k1.len == 32 && k2.len == 32 && !memcmp(k1.data, k2.data, 32),
		       "the key file is reused, not replaced");
		TAP_OK(cl_wa_creds_load(tmpdir, NULL, &back, &err) == CL_OK &&
		       back->key_index == 8, "new content loaded");
		cl_wa_creds_free(back);
		back = NULL;
		cl_buf_release(&k1);
		cl_buf_release(&k2);
	}

	/* unpaired creds without pre-keys */
	TAP_EQ_INT(cl_wa_creds_generate(&empty, &err), CL_OK, "fresh creds");
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, NULL, empty, &err), CL_OK, "save fresh");
	TAP_OK(cl_wa_creds_load(tmpdir, NULL, &back, &err) == CL_OK &&
	       creds_equal(empty, back), "fresh creds round trip");
	cl_wa_creds_free(back);
	cl_wa_creds_free(empty);
	cl_wa_creds_free(c);
	cl_buf_release(&b);
	free(err);
}

static void test_keys(void)
{
	struct cl_wa_creds *c = full_creds();
	unsigned char key[32], other[32];
	char *kf = path_of("my.key"), *err = NULL;
	struct cl_buf b;

	cl_buf_init(&b, 64u << 20);
	{
		char *def = path_of("wa/creds.key");

		unlink(def); /* left by the round trip */
		free(def);
	}
	/* a caller-supplied key file that does not exist yet */
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, kf, c, &err), CL_OK,
		   "save with a new key file");
	TAP_EQ_INT(mode_of("my.key"), 0600, "key file created 0600");
	TAP_OK(!exists("wa/creds.key"), "no default key file made");
	TAP_EQ_INT(load_rc(kf), CL_OK, "load with it");
	TAP_EQ_INT(load_rc(NULL), CL_EKEY, "default key missing: CL_EKEY");

	/* an existing key file is used as it is */
	randombytes_buf(key, 32);
	unlink(kf);
	write_file("my.key", key, 32);
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, kf, c, &err), CL_OK,
		   "save with an existing key file");
	TAP_OK(read_file("my.key", &b) == CL_OK && b.len == 32 &&
	       !memcmp(b.data, key, 32), "key file left as it was");
	seal_file("wa/creds.enc", key, "{}");
	TAP_EQ_INT(load_rc(kf), CL_ECORRUPT,
		   "the documented format with that key decrypts (bad JSON: CL_ECORRUPT)");
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, kf, c, &err), CL_OK, "save back");

	/* wrong key */
	randombytes_buf(other, 32);
	write_file("my.key", other, 32);
	TAP_EQ_INT(load_rc(kf), CL_EKEY, "wrong key: CL_EKEY");
	write_file("my.key", key, 31);
	TAP_EQ_INT(load_rc(kf), CL_EKEY, "short key file: CL_EKEY");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, kf, c, &err), CL_EKEY,
		   "save refuses a short key file");
	free(err);
	err = NULL;
	TAP_OK(read_file("my.key", &b) == CL_OK && b.len == 31,
	       "and does not overwrite it");
	write_file("my.key", key, 32);
	TAP_EQ_INT(load_rc(kf), CL_OK, "right key again");
	unlink(kf);
	TAP_EQ_INT(load_rc(kf), CL_EKEY, "key file gone: CL_EKEY");
	write_file("my.key", key, 32);

	cl_wa_creds_free(c);
	cl_buf_release(&b);
	free(kf);
	free(err);
}

static void test_tamper(void)
{
	struct cl_wa_creds *c = full_creds();
	unsigned char key[32];
	char *err = NULL, *kf = path_of("my.key");
	struct cl_buf orig, b;
	size_t i;
	int all = 1;

	cl_buf_init(&orig, 64u << 20);
	cl_buf_init(&b, 64u << 20);
	if (cl_wa_creds_save(tmpdir, kf, c, &err) != CL_OK ||
	    read_file("wa/creds.enc", &orig) != CL_OK ||
	    read_file("my.key", &b) != CL_OK || b.len != 32) {
		TAP_OK(0, "setup for tampering");
		goto out;
	}
	memcpy(key, b.data, 32);
	/* every byte after the magic, one at a time (sampled) */
	for (i = 8; i < orig.len; i += orig.len / 97 + 1) {
		orig.data[i] ^= 0x40;
		write_file("wa/creds.enc", orig.data, orig.len);
		if (load_rc(kf) != CL_EKEY)
			all = 0;
		orig.data[i] ^= 0x40;
	}
	orig.data[orig.len - 1] ^= 1;
	write_file("wa/creds.enc", orig.data, orig.len);
	if (load_rc(kf) != CL_EKEY)
		all = 0;
	orig.data[orig.len - 1] ^= 1;
	TAP_OK(all, "a flipped bit in nonce, ciphertext or tag: CL_EKEY");
	write_file("wa/creds.enc", orig.data, orig.len - 1);
	TAP_EQ_INT(load_rc(kf), CL_EKEY, "truncated by a byte: CL_EKEY");
	write_file("wa/creds.enc", orig.data, 40);
	TAP_EQ_INT(load_rc(kf), CL_ECORRUPT, "shorter than a header: CL_ECORRUPT");
	orig.data[0] = 'X';
	write_file("wa/creds.enc", orig.data, orig.len);
	TAP_EQ_INT(load_rc(kf), CL_ECORRUPT, "unknown magic: CL_ECORRUPT");

	/* authentic but wrong content */
	seal_file("wa/creds.enc", key, "not json");
	TAP_EQ_INT(load_rc(kf), CL_ECORRUPT, "not JSON: CL_ECORRUPT");
	seal_file("wa/creds.enc", key, "[1,2]");
	TAP_EQ_INT(load_rc(kf), CL_ECORRUPT, "not an object: CL_ECORRUPT");
	{
		/* a valid file's JSON with one field changed at a time */
		static const struct {
			const char *from, *to, *name;
		} edits[] = {
			{ "\"version\":1", "\"version\":2", "unknown version" },
			{ "\"reg_id\":", "\"reg_id\":-", "negative number" },
			{ "\"paired\":true", "\"paired\":1", "wrong type" },
			{ "\"key_index\":7,", "", "missing field" },
			{ "\"noise_pub\":\"", "\"noise_pub\":\"AAAA", "bad key length" },
			{ "\"spk_sig\":\"", "\"spk_sig\":\"A", "bad base64" },
			{ "\"prekeys\":[[1,", "\"prekeys\":[[0,", "pre-key id 0" },
			{ "\"prekeys\":[[1,", "\"prekeys\":[[2,", "duplicate pre-key id" },
			{ "\"prekeys_uploaded\":60", "\"prekeys_uploaded\":101",
			  "more uploaded than held" },
		};
		struct cl_buf js;
		unsigned char *pt;
		unsigned long long ptlen = 0;
		size_t e;

		cl_buf_init(&js, 64u << 20);
		/* decrypt the genuine file to get its JSON */
		orig.data[0] = 'C';
		pt = malloc(orig.len);
		if (pt == NULL ||
		    crypto_aead_xchacha20poly1305_ietf_decrypt(
			    pt, &ptlen, NULL, orig.data + 32, orig.len - 32,
			    (const unsigned char *)"chatledger-wa-creds-v1", 22,
			    orig.data + 8, key) != 0) {
			TAP_OK(0, "decrypt the genuine file");
			free(pt);
			goto out;
		}
		cl_buf_add(&js, pt, (size_t)ptlen);
		free(pt);
		seal_file("wa/creds.enc", key, (const char *)js.data);
		TAP_EQ_INT(load_rc(kf), CL_OK, "re-sealed genuine JSON loads");
		for (e = 0; e < sizeof(edits) / sizeof(edits[0]); e++) {
			const char *at = strstr((const char *)js.data, edits[e].from);
			struct cl_buf m;

			cl_buf_init(&m, 64u << 20);
			if (at == NULL) {
				TAP_OK(0, "edit '%s' applies", edits[e].name);
				continue;
			}
			cl_buf_add(&m, js.data, (size_t)(at - (const char *)js.data));
			cl_buf_addstr(&m, edits[e].to);
			cl_buf_addstr(&m, at + strlen(edits[e].from));
			seal_file("wa/creds.enc", key, (const char *)m.data);
			TAP_EQ_INT(load_rc(kf), CL_ECORRUPT, edits[e].name);
			cl_buf_release(&m);
		}
		/* a public key that does not match its private key */
		{
			const char *at = strstr((const char *)js.data, "\"ident_pub\":\"");
			struct cl_buf m;

			cl_buf_init(&m, 64u << 20);
			cl_buf_add(&m, js.data, js.len);
			if (at) {
				char *p = (char *)m.data + (at - (const char *)js.data) + 13;

				*p = *p == 'A' ? 'B' : 'A';
			}
			seal_file("wa/creds.enc", key, (const char *)m.data);
			TAP_EQ_INT(load_rc(kf), CL_ECORRUPT,
				   "identity public key not matching: CL_ECORRUPT");
			cl_buf_release(&m);
		}
		cl_buf_release(&js);
	}
out:
	cl_wa_creds_free(c);
	cl_buf_release(&orig);
	cl_buf_release(&b);
	free(kf);
	free(err);
}

static void test_delete(void)
{
	struct cl_wa_creds *c = full_creds();
	char *enc = path_of("wa/creds.enc"), *keep = path_of("kept.enc");
	char *kf = path_of("my.key");
	char *err = NULL;
	struct cl_buf b;

	cl_buf_init(&b, 64u << 20);
	unlink(keep);
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, NULL, c, &err), CL_OK,
		   "save with the default key");
	/* a second name for the same inode shows what delete wrote */
	TAP_OK(link(enc, keep) == 0, "hard link to creds.enc");
	TAP_EQ_INT(cl_wa_creds_delete(tmpdir, NULL, &err), CL_OK, "delete");
	TAP_OK(!exists("wa/creds.enc") && !exists("wa/creds.key"),
	       "creds.enc and the default creds.key are gone");
	TAP_OK(read_file("kept.enc", &b) == CL_OK && b.len > 100 &&
	       all_zero(b.data, b.len), "the file was overwritten with zeros");
	TAP_EQ_INT(load_rc(NULL), CL_ENOTFOUND, "nothing to load");
	TAP_EQ_INT(cl_wa_creds_delete(tmpdir, NULL, &err), CL_OK,
		   "delete again: nothing there is fine");

	/* a caller-supplied key file is not touched */
	TAP_EQ_INT(cl_wa_creds_save(tmpdir, kf, c, &err), CL_OK, "save with my.key");
	TAP_EQ_INT(cl_wa_creds_delete(tmpdir, kf, &err), CL_OK, "delete");
	TAP_OK(!exists("wa/creds.enc") && exists("my.key"),
	       "creds.enc gone, the caller's key file kept");
	unlink(keep);
	cl_wa_creds_free(c);
	cl_buf_release(&b);
	free(enc);
	free(keep);
	free(kf);
	free(err);
}

int main(void)
{
	if (sodium_init() < 0) {
		printf("not ok 1 - sodium_init\n");
		return 1;
	}
	if (scratch_make("test_wa_creds") != 0) {
		printf("not ok 1 - mkdtemp\n");
		return 1;
	}
	umask(022);
	test_generate();
	test_prekeys();
	test_prekey_cap();
	test_round_trip();
	test_keys();
	test_tamper();
	test_delete();
	(void)scratch_remove();
	return tap_done();
}
