/*
 * msgsecret.c - keys and AES-256-GCM for messages encrypted under another
 * message's messageSecret (msgsecret.h).
 */
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <sodium.h>

#include "archiver/wa/msgsecret.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

const char *cl_wa_secret_use_name(enum cl_wa_secret_use use)
{
	switch (use) {
	case CL_WA_SECRET_EVENT_EDIT:
		return "Event Edit";
	case CL_WA_SECRET_MESSAGE_EDIT:
		return "Message Edit";
	case CL_WA_SECRET_POLL_VOTE:
		return "Poll Vote";
	}
	return NULL;
}

/* HKDF-SHA256 (no salt) of the 32-byte secret with `info`: 32 bytes. */
static int secret_hkdf(const unsigned char *ikm, const struct cl_buf *info,
		       unsigned char out[32])
{
	static char digest[] = "SHA256";
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[4];
	int ok;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)(uintptr_t)ikm, 32);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 info->data, info->len);
	p[3] = OSSL_PARAM_construct_end();
	ok = kc && EVP_KDF_derive(kc, out, 32, p) == 1;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return ok ? CL_OK : CL_EIO;
}

/* AES-256-GCM open of ct||tag with optional associated data. */
static int gcm_open(const unsigned char key[32], const unsigned char iv[12],
		    const unsigned char *ct, size_t len,
		    const struct cl_buf *aad, struct cl_buf *out)
{
	EVP_CIPHER_CTX *x;
	int n1 = 0, n2 = 0, na = 0, ok;
	size_t clen;

	if (len < 16 || len - 16 > 0x7fffffff ||
	    (aad && aad->len > 0x7fffffff))
		return CL_EINVAL;
	clen = len - 16;
	out->len = 0;
	if (cl_buf_reserve(out, clen + 16) != CL_OK ||
	    (x = EVP_CIPHER_CTX_new()) == NULL)
		return CL_ENOMEM;
	ok = EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
		EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
		EVP_DecryptInit_ex(x, NULL, NULL, key, iv) == 1 &&
		(aad == NULL || aad->len == 0 ||
		 EVP_DecryptUpdate(x, NULL, &na, aad->data,
				   (int)aad->len) == 1) &&
		EVP_DecryptUpdate(x, out->data, &n1, ct, (int)clen) == 1 &&
		EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16,
				    (void *)(uintptr_t)(ct + clen)) == 1 &&
		EVP_DecryptFinal_ex(x, out->data + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(x);
	if (!ok) {
		sodium_memzero(out->data, clen);
		return CL_EBADSIG;
	}
	out->len = (size_t)n1 + (size_t)n2;
	return CL_OK;
}

int cl_wa_secret_open(const unsigned char secret[32],
		      enum cl_wa_secret_use use, const char *orig_id,
		      const char *orig_sender, const char *mod_sender,
		      const unsigned char iv[12], const unsigned char *ct,
		      size_t len, struct cl_buf *out)
{
	const char *uc = cl_wa_secret_use_name(use);
	unsigned char *key = NULL;
	struct cl_buf info, aad;
	int rc;

	if (uc == NULL || orig_id == NULL || orig_sender == NULL ||
	    mod_sender == NULL)
		return CL_EINVAL;
	cl_buf_init(&info, 4096);
	cl_buf_init(&aad, 4096);
	if ((key = sodium_malloc(32)) == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = cl_buf_addstr(&info, orig_id)) ||
	    (rc = cl_buf_addstr(&info, orig_sender)) ||
	    (rc = cl_buf_addstr(&info, mod_sender)) ||
	    (rc = cl_buf_addstr(&info, uc)))
		goto out;
	if (use == CL_WA_SECRET_POLL_VOTE &&
	    ((rc = cl_buf_addstr(&aad, orig_id)) ||
	     (rc = cl_buf_add_u8(&aad, 0)) ||
	     (rc = cl_buf_addstr(&aad, mod_sender))))
		goto out;
	if ((rc = secret_hkdf(secret, &info, key)))
		goto out;
	rc = gcm_open(key, iv, ct, len, &aad, out);
out:
	sodium_free(key);
	cl_buf_release(&info);
	cl_buf_release(&aad);
	return rc;
}
