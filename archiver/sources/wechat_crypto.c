/*
 * wechat_crypto.c - WXBizMsgCrypt safe mode with OpenSSL (wechat_crypto.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "archiver/sources/wechat_crypto.h"
#include "common/status.h"
#include "common/banned.h"

#define KEY_BYTES 32u
#define BLOCK 32u          /* Tencent's PKCS#7 block, not AES's 16 */
#define TOKEN_MAX 256u
#define RECEIVEID_MAX 128u

struct cl_wx_crypto {
	unsigned char *token;  /* sodium_malloc'd, read-only */
	size_t token_len;
	unsigned char *key;    /* sodium_malloc'd, read-only; NULL: no key */
	char receiveid[RECEIVEID_MAX + 1];
	size_t receiveid_len;
};

int cl_wx_crypto_new(const unsigned char *token, size_t token_len,
		     const char *aes_key, const char *receiveid,
		     struct cl_wx_crypto **out, char **err)
{
	struct cl_wx_crypto *c;
	unsigned char tmp[48];
	char b64[CL_WX_AESKEY_CHARS + 2];
	size_t i;
	int n, rc = CL_OK;

	*out = NULL;
	if (sodium_init() < 0)
		return cl_error(err, CL_ENOMEM, "cannot initialise libsodium");
	if (token == NULL || token_len == 0 || token_len > TOKEN_MAX)
		return cl_error(err, CL_EINVAL, "the token must be 1..%u bytes", TOKEN_MAX);
	if (aes_key != NULL) {
		if (strlen(aes_key) != CL_WX_AESKEY_CHARS)
			return cl_error(err, CL_EINVAL, "the EncodingAESKey must be %u characters",
					CL_WX_AESKEY_CHARS);
		for (i = 0; i < CL_WX_AESKEY_CHARS; i++) {
			char ch = aes_key[i];

			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			      (ch >= '0' && ch <= '9')))
				return cl_error(err, CL_EINVAL, "the EncodingAESKey must be "
						"letters and digits only");
		}
		if (receiveid == NULL || strlen(receiveid) > RECEIVEID_MAX)
			return cl_error(err, CL_EINVAL, "a receive id (AppID or corpid) of at "
					"most %u bytes is required with an EncodingAESKey",
					RECEIVEID_MAX);
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return CL_ENOMEM;
	c->token = sodium_malloc(token_len);
	if (c->token == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	memcpy(c->token, token, token_len);
	c->token_len = token_len;
	if (aes_key != NULL) {
		c->key = sodium_malloc(KEY_BYTES);
		if (c->key == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		memcpy(b64, aes_key, CL_WX_AESKEY_CHARS);
		b64[CL_WX_AESKEY_CHARS] = '=';
		b64[CL_WX_AESKEY_CHARS + 1] = 0;
		/* 44 characters give 33 bytes counting the pad position; the
		 * first 32 are the key (trailing bits of char 43 ignored). */
		n = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)(CL_WX_AESKEY_CHARS + 1));
		if (n < (int)KEY_BYTES) {
			rc = cl_error(err, CL_EINVAL, "the EncodingAESKey is not base64");
		} else {
			memcpy(c->key, tmp, KEY_BYTES);
			(void)sodium_mprotect_readonly(c->key);
		}
		sodium_memzero(tmp, sizeof(tmp));
		sodium_memzero(b64, sizeof(b64));
		memcpy(c->receiveid, receiveid, strlen(receiveid) + 1);
		c->receiveid_len = strlen(receiveid);
	}
	(void)sodium_mprotect_readonly(c->token);
out:
	if (rc) {
		cl_wx_crypto_free(c);
		return rc;
	}
	*out = c;
	return CL_OK;
}

void cl_wx_crypto_free(struct cl_wx_crypto *c)
{
	if (c == NULL)
		return;
	sodium_free(c->token);
	sodium_free(c->key);
	free(c);
}

int cl_wx_crypto_has_key(const struct cl_wx_crypto *c)
{
	return c->key != NULL;
}

/* Byte-wise comparison of two (pointer, length) strings, like strcmp. */
static int cmp_parts(const unsigned char *a, size_t an, const unsigned char *b,
		     size_t bn)
{
	size_t n = an < bn ? an : bn;
	int r = n ? memcmp(a, b, n) : 0;

	if (r)
		return r;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

void cl_wx_signature(const struct cl_wx_crypto *c, const char *const *parts,
		     size_t n, char out[CL_WX_SIG_HEX + 1])
{
	const unsigned char *p[4];
	size_t len[4], i, j, k = 0;
	unsigned char md[20];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	p[k] = c->token;
	len[k++] = c->token_len;
	for (i = 0; i < n && i < 3; i++) {
		p[k] = (const unsigned char *)(parts[i] ? parts[i] : "");
		len[k] = strlen((const char *)p[k]);
		k++;
	}
	/* Insertion sort of at most four strings. */
	for (i = 1; i < k; i++)
		for (j = i; j > 0 && cmp_parts(p[j - 1], len[j - 1], p[j], len[j]) > 0; j--) {
			const unsigned char *tp = p[j];
			size_t tl = len[j];

			p[j] = p[j - 1];
			len[j] = len[j - 1];
			p[j - 1] = tp;
			len[j - 1] = tl;
		}
	memset(md, 0, sizeof(md));
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1) {
		for (i = 0; i < k; i++)
			(void)EVP_DigestUpdate(ctx, p[i], len[i]);
		(void)EVP_DigestFinal_ex(ctx, md, &mdlen);
	}
	EVP_MD_CTX_free(ctx);
	sodium_bin2hex(out, CL_WX_SIG_HEX + 1, md, sizeof(md));
}

int cl_wx_verify(const struct cl_wx_crypto *c, const char *sig,
		 const char *timestamp, const char *nonce, const char *encrypt)
{
	const char *parts[3] = { timestamp, nonce, encrypt };
	char want[CL_WX_SIG_HEX + 1], got[CL_WX_SIG_HEX + 1];
	size_t i;

	if (sig == NULL || timestamp == NULL || nonce == NULL ||
	    strlen(sig) != CL_WX_SIG_HEX)
		return 0;
	for (i = 0; i < CL_WX_SIG_HEX; i++) {
		char ch = sig[i];

		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch - 'A' + 'a');
		got[i] = ch;
	}
	got[CL_WX_SIG_HEX] = 0;
	cl_wx_signature(c, parts, encrypt ? 3 : 2, want);
	return CRYPTO_memcmp(want, got, CL_WX_SIG_HEX) == 0;
}

/* AES-256-CBC without padding over `n` bytes (a multiple of 16). */
static int aes_cbc(const struct cl_wx_crypto *c, int enc, const unsigned char *in,
		   size_t n, unsigned char *out)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, ok;

	if (x == NULL)
		return 0;
	ok = EVP_CipherInit_ex(x, EVP_aes_256_cbc(), NULL, c->key, c->key, enc) == 1 &&
		EVP_CIPHER_CTX_set_padding(x, 0) == 1 &&
		EVP_CipherUpdate(x, out, &l1, in, (int)n) == 1 &&
		EVP_CipherFinal_ex(x, out + l1, &l2) == 1 &&
		(size_t)l1 + (size_t)l2 == n;
	EVP_CIPHER_CTX_free(x);
	return ok;
}

int cl_wx_decrypt(const struct cl_wx_crypto *c, const char *b64, size_t len,
		  unsigned char **msg, size_t *msg_len, const char **why)
{
	unsigned char *ct = NULL, *pt = NULL, *m = NULL;
	size_t n, pad, body, mlen, ridlen, i;
	int dn, rc = CL_EINVAL;

	*msg = NULL;
	*msg_len = 0;
	*why = "bad base64";
	if (c->key == NULL) {
		*why = "no EncodingAESKey configured";
		return CL_EINVAL;
	}
	if (len == 0 || len % 4 != 0 || len > CL_WX_MAX_ENCRYPT)
		return CL_EINVAL;
	for (i = 0; i < len; i++) {
		char ch = b64[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
		      (ch == '=' && i + 2 >= len)))
			return CL_EINVAL;
	}
	if (b64[len - 2] == '=' && b64[len - 1] != '=')
		return CL_EINVAL;
	ct = malloc(len / 4 * 3 + 1);
	if (ct == NULL)
		return *why = "out of memory", CL_ENOMEM;
	dn = EVP_DecodeBlock(ct, (const unsigned char *)b64, (int)len);
	if (dn < 0)
		goto out;
	/* EVP_DecodeBlock counts the '=' positions: take them off. */
	n = (size_t)dn - (b64[len - 1] == '=') - (b64[len - 2] == '=');
	*why = "bad ciphertext length";
	if (n < BLOCK || n % 16 != 0)
		goto out;
	pt = malloc(n + 1);
	if (pt == NULL) {
		*why = "out of memory";
		rc = CL_ENOMEM;
		goto out;
	}
	*why = "decryption failed";
	if (!aes_cbc(c, 0, ct, n, pt))
		goto out;
	pad = pt[n - 1];
	*why = "bad padding";
	if (pad < 1 || pad > BLOCK || pad > n)
		goto out;
	body = n - pad;
	*why = "bad length field";
	if (body < 20)
		goto out;
	mlen = (size_t)pt[16] << 24 | (size_t)pt[17] << 16 | (size_t)pt[18] << 8 | pt[19];
	if (mlen > body - 20)
		goto out;
	ridlen = body - 20 - mlen;
	*why = "receive id mismatch";
	if (ridlen != c->receiveid_len ||
	    (ridlen && CRYPTO_memcmp(pt + 20 + mlen, c->receiveid, ridlen) != 0)) {
		rc = CL_EBADSIG;
		goto out;
	}
	m = malloc(mlen + 1);
	if (m == NULL) {
		*why = "out of memory";
		rc = CL_ENOMEM;
		goto out;
	}
	memcpy(m, pt + 20, mlen);
	m[mlen] = 0;
	*msg = m;
	*msg_len = mlen;
	*why = NULL;
	rc = CL_OK;
out:
	if (pt) {
		sodium_memzero(pt, n + 1);
		free(pt);
	}
	if (ct) {
		sodium_memzero(ct, len / 4 * 3 + 1);
		free(ct);
	}
	return rc;
}

int cl_wx_encrypt(const struct cl_wx_crypto *c, const unsigned char *random16,
		  const unsigned char *msg, size_t len, char **out)
{
	size_t n, pad, cap;
	unsigned char *pt = NULL, *ct = NULL;
	char *b = NULL;
	int rc = CL_ENOMEM;

	*out = NULL;
	if (c->key == NULL || len > CL_WX_MAX_ENCRYPT / 2)
		return CL_EINVAL;
	n = 20 + len + c->receiveid_len;
	pad = BLOCK - n % BLOCK;
	cap = n + pad;
	pt = malloc(cap);
	ct = malloc(cap);
	b = malloc(cap / 3 * 4 + 8);
	if (pt == NULL || ct == NULL || b == NULL)
		goto out;
	if (random16)
		memcpy(pt, random16, 16);
	else if (RAND_bytes(pt, 16) != 1)
		goto out;
	pt[16] = (unsigned char)(len >> 24);
	pt[17] = (unsigned char)(len >> 16);
	pt[18] = (unsigned char)(len >> 8);
	pt[19] = (unsigned char)len;
	if (len)
		memcpy(pt + 20, msg, len);
	if (c->receiveid_len)
		memcpy(pt + 20 + len, c->receiveid, c->receiveid_len);
	memset(pt + n, (int)pad, pad);
	rc = CL_EINVAL;
	if (!aes_cbc(c, 1, pt, cap, ct))
		goto out;
	(void)EVP_EncodeBlock((unsigned char *)b, ct, (int)cap);
	*out = b;
	b = NULL;
	rc = CL_OK;
out:
	if (pt) {
		sodium_memzero(pt, cap);
		free(pt);
	}
	free(ct);
	free(b);
	return rc;
}
