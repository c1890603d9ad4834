/*
 * media.c - download and open WhatsApp's encrypted media (media.h).
 */
#include <string.h>

#include <curl/curl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include "archiver/wa/media.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAC_LEN 10

static char digest_name[] = "SHA256";   /* OSSL_PARAM wants it writable */
#define KEYS_LEN 112

static const struct {
	const char *type, *info, *mms;
} types[] = {
	{ "image", "WhatsApp Image Keys", "image" },
	{ "sticker", "WhatsApp Image Keys", "image" },
	{ "video", "WhatsApp Video Keys", "video" },
	{ "ptv", "WhatsApp Video Keys", "video" },
	{ "audio", "WhatsApp Audio Keys", "audio" },
	{ "document", "WhatsApp Document Keys", "document" },
	{ "history", "WhatsApp History Keys", "md-msg-hist" },
};

const char *cl_wa_media_err_name(enum cl_wa_media_err e)
{
	switch (e) {
	case CL_WA_MEDIA_OK: return "ok";
	case CL_WA_MEDIA_NO_HOST: return "no-media-host";
	case CL_WA_MEDIA_NETWORK: return "network";
	case CL_WA_MEDIA_GONE: return "gone";
	case CL_WA_MEDIA_TOO_BIG: return "too-big";
	case CL_WA_MEDIA_ENC_HASH: return "enc-hash-mismatch";
	case CL_WA_MEDIA_MAC: return "bad-mac";
	case CL_WA_MEDIA_DECRYPT: return "decrypt-failed";
	case CL_WA_MEDIA_HASH: return "hash-mismatch";
	case CL_WA_MEDIA_INTERNAL: return "internal";
	}
	return "internal";
}

static int type_index(const char *type)
{
	size_t i;

	for (i = 0; type && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, type) == 0)
			return (int)i;
	return -1;
}

const char *cl_wa_media_info(const char *type)
{
	int i = type_index(type);

	return i < 0 ? NULL : types[i].info;
}

const char *cl_wa_media_mms_type(const char *type)
{
	int i = type_index(type);

	return i < 0 ? NULL : types[i].mms;
}

/* ---- the checks -------------------------------------------------------- */

int cl_wa_media_hkdf(const unsigned char key[32], const char *info,
		     unsigned char *out, size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[4];
	int ok;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						digest_name, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)(uintptr_t)key, 32);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 (void *)(uintptr_t)info,
						 strlen(info));
	p[3] = OSSL_PARAM_construct_end();
	ok = kc && EVP_KDF_derive(kc, out, len, p) == 1;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return ok ? CL_OK : CL_EIO;
}

static int aes_cbc_decrypt(const unsigned char *key, const unsigned char *iv,
			   const unsigned char *ct, size_t len,
			   struct cl_buf *out)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ok;

	if (x == NULL || len > (size_t)0x7fffffff - 32 ||
	    cl_buf_reserve(out, len + 32) != CL_OK) {
		EVP_CIPHER_CTX_free(x);
		return CL_ENOMEM;
	}
	ok = EVP_DecryptInit_ex(x, EVP_aes_256_cbc(), NULL, key, iv) == 1 &&
		EVP_DecryptUpdate(x, out->data, &n1, ct, (int)len) == 1 &&
		EVP_DecryptFinal_ex(x, out->data + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(x);
	if (!ok) {
		sodium_memzero(out->data, len + 32);
		return CL_EBADSIG;
	}
	out->len = (size_t)n1 + (size_t)n2;
	return CL_OK;
}

enum cl_wa_media_err cl_wa_media_open(const unsigned char *body, size_t len,
				      const char *type,
				      const unsigned char media_key[32],
				      const unsigned char enc_sha256[32],
				      const unsigned char *sha256,
				      struct cl_buf *out)
{
	const char *info = cl_wa_media_info(type);
	unsigned char h[32], mac[EVP_MAX_MD_SIZE];
	unsigned char *keys = NULL;
	enum cl_wa_media_err e = CL_WA_MEDIA_OK;
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *mc = NULL;
	OSSL_PARAM p[2];
	size_t mlen = 0;

	out->len = 0;
	if (info == NULL)
		return CL_WA_MEDIA_INTERNAL;
	crypto_hash_sha256(h, body, len);
	if (sodium_memcmp(h, enc_sha256, 32) != 0)
		return CL_WA_MEDIA_ENC_HASH;
	if (len < MAC_LEN + 16 || (len - MAC_LEN) % 16 != 0)
		return CL_WA_MEDIA_DECRYPT;
	if ((keys = sodium_malloc(KEYS_LEN)) == NULL)
		return CL_WA_MEDIA_INTERNAL;
	if (cl_wa_media_hkdf(media_key, info, keys, KEYS_LEN)) {
		e = CL_WA_MEDIA_INTERNAL;
		goto out;
	}
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						digest_name, 0);
	p[1] = OSSL_PARAM_construct_end();
	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (mc = EVP_MAC_CTX_new(m)) == NULL ||
	    EVP_MAC_init(mc, keys + 48, 32, p) != 1 ||
	    EVP_MAC_update(mc, keys, 16) != 1 ||
	    EVP_MAC_update(mc, body, len - MAC_LEN) != 1 ||
	    EVP_MAC_final(mc, mac, &mlen, sizeof(mac)) != 1 || mlen < MAC_LEN) {
		e = CL_WA_MEDIA_INTERNAL;
		goto out;
	}
	if (sodium_memcmp(mac, body + len - MAC_LEN, MAC_LEN) != 0) {
		e = CL_WA_MEDIA_MAC;
		goto out;
	}
	switch (aes_cbc_decrypt(keys + 16, keys, body, len - MAC_LEN, out)) {
	case CL_OK:
		break;
	case CL_EBADSIG:
		e = CL_WA_MEDIA_DECRYPT;
		goto out;
	default:
		e = CL_WA_MEDIA_INTERNAL;
		goto out;
	}
	if (sha256) {
		crypto_hash_sha256(h, out->data, out->len);
		if (sodium_memcmp(h, sha256, 32) != 0) {
			sodium_memzero(out->data, out->len);
			out->len = 0;
			e = CL_WA_MEDIA_HASH;
		}
	}
out:
	EVP_MAC_CTX_free(mc);
	EVP_MAC_free(m);
	sodium_memzero(mac, sizeof(mac));
	sodium_free(keys);
	return e;
}

/* ---- the download ------------------------------------------------------ */

struct sink {
	struct cl_buf *b;
	size_t max;
	int over;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *k = ctx;
	size_t len = size * n;

	if (k->b->len + len > k->max) {
		k->over = 1;
		return 0;   /* cancels the transfer */
	}
	return cl_buf_add(k->b, p, len) == CL_OK ? len : 0;
}

/* One GET; 200: CL_WA_MEDIA_OK. */
static enum cl_wa_media_err get(const struct cl_wa_media_req *rq,
				const char *url, struct cl_buf *body,
				char **detail, const char *host)
{
	CURL *c = curl_easy_init();
	struct sink k = { body, rq->max, 0 };
	long status = 0;
	CURLcode cc;

	body->len = 0;
	if (c == NULL)
		return CL_WA_MEDIA_INTERNAL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, CL_WA_MEDIA_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rq->max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	if (rq->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, rq->ca_file);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chatledger-collector");
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc == CURLE_OK && status == 200)
		return CL_WA_MEDIA_OK;
	free(*detail);
	*detail = NULL;
	if (k.over || cc == CURLE_FILESIZE_EXCEEDED) {
		*detail = cl_strdupf("%s: larger than %zu bytes", host, rq->max);
		return CL_WA_MEDIA_TOO_BIG;
	}
	if (cc == CURLE_OK) {
		*detail = cl_strdupf("%s: HTTP %ld", host, status);
		return (status == 403 || status == 404 || status == 410) ?
			CL_WA_MEDIA_GONE : CL_WA_MEDIA_NETWORK;
	}
	*detail = cl_strdupf("%s: %s", host, curl_easy_strerror(cc));
	return CL_WA_MEDIA_NETWORK;
}

enum cl_wa_media_err cl_wa_media_fetch(const struct cl_wa_media_req *rq,
				       struct cl_buf *out, char **detail)
{
	const char *mms = cl_wa_media_mms_type(rq->type);
	char hash[64], *url = NULL, *d = NULL;
	enum cl_wa_media_err e = CL_WA_MEDIA_NO_HOST;
	struct cl_buf body;
	size_t i;

	out->len = 0;
	if (detail)
		*detail = NULL;
	if (mms == NULL || rq->direct_path == NULL || rq->direct_path[0] != '/')
		return CL_WA_MEDIA_INTERNAL;
	sodium_bin2base64(hash, sizeof(hash), rq->enc_sha256, 32,
			  sodium_base64_VARIANT_URLSAFE);
	cl_buf_init(&body, rq->max + 1);
	for (i = 0; i < rq->n_hosts; i++) {
		free(url);
		url = cl_strdupf("https://%s%s%shash=%s&mms-type=%s&__wa-mms=",
				 rq->hosts[i], rq->direct_path,
				 strchr(rq->direct_path, '?') ? "&" : "?",
				 hash, mms);
		if (url == NULL) {
			e = CL_WA_MEDIA_INTERNAL;
			break;
		}
		e = get(rq, url, &body, &d, rq->hosts[i]);
		if (e != CL_WA_MEDIA_NETWORK)
			break;   /* on a network error only, the next host */
	}
	if (e == CL_WA_MEDIA_OK) {
		e = cl_wa_media_open(body.data, body.len, rq->type,
				     rq->media_key, rq->enc_sha256, rq->sha256,
				     out);
		if (e) {
			free(d);
			d = cl_strdupf("%s", cl_wa_media_err_name(e));
		}
	}
	free(url);
	cl_buf_release(&body);
	if (detail)
		*detail = d;
	else
		free(d);
	return e;
}
