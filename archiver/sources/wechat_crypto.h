/*
 * wechat_crypto.h - Tencent's message-push crypto ("WXBizMsgCrypt", 安全模式),
 * shared by the Official/Service Account push (route A), WeCom app
 * callbacks and 微信客服 (route C).
 *
 *   signature      hex(SHA-1(concat(sort_bytewise([token, s1, s2, ...]))))
 *                  lower-case; OA URL checks sign (token, timestamp,
 *                  nonce), msg_signature adds the Encrypt text (or the
 *                  WeCom echostr)
 *   key            AESKey = Base64_Decode(EncodingAESKey + "="), 32 bytes
 *                  (the 43rd character may carry non-zero trailing bits:
 *                  they are ignored, as Tencent's samples do)
 *   cipher         AES-256-CBC, IV = AESKey[0..16), no library padding:
 *                  PKCS#7 with a 32-byte block (pad values 1..32)
 *   plaintext      random(16) || be32(len(msg)) || msg || receiveid
 *   Encrypt        standard base64 with '=' padding
 *
 * All of it with OpenSSL 3 (EVP, SHA1, EVP_DecodeBlock); the key and the
 * token live in sodium_malloc'd read-only memory; signatures are compared
 * in constant time.  No function here prints or keeps message content.
 */
#ifndef CL_WECHAT_CRYPTO_H
#define CL_WECHAT_CRYPTO_H

#include <stddef.h>

#define CL_WX_AESKEY_CHARS 43u      /* EncodingAESKey */
#define CL_WX_SIG_HEX 40u           /* SHA-1, hex */
#define CL_WX_MAX_ENCRYPT (4u << 20) /* base64 characters of one Encrypt */

struct cl_wx_crypto;

/*
 * A crypto context for one configured endpoint.  `token` (1..256 bytes)
 * is required; `aes_key` (exactly 43 characters of [A-Za-z0-9], or NULL
 * for plaintext-only endpoints) and `receiveid` (the AppID, corpid or
 * suiteid the decrypted messages must end with; "" is allowed for the
 * scenarios where Tencent sends an empty one; NULL when aes_key is NULL)
 * are copied.  CL_EINVAL with *err naming the bad argument (never its
 * value); CL_ENOMEM.  Free with cl_wx_crypto_free().
 */
int cl_wx_crypto_new(const unsigned char *token, size_t token_len,
		     const char *aes_key, const char *receiveid,
		     struct cl_wx_crypto **out, char **err);
void cl_wx_crypto_free(struct cl_wx_crypto *c);

/* 1 if the context can decrypt (an EncodingAESKey was given). */
int cl_wx_crypto_has_key(const struct cl_wx_crypto *c);

/*
 * The signature over the token and the `n` strings `parts` (n <= 3),
 * sorted byte-wise, into out (40 hex digits and a NUL).
 */
void cl_wx_signature(const struct cl_wx_crypto *c, const char *const *parts,
		     size_t n, char out[CL_WX_SIG_HEX + 1]);

/*
 * Check `sig` (as received; case-insensitive hex) against the signature
 * of (token, timestamp, nonce[, encrypt]): encrypt NULL for the plain
 * OA `signature`.  Constant-time comparison.  1 if it matches, else 0
 * (also for a NULL or malformed sig).
 */
int cl_wx_verify(const struct cl_wx_crypto *c, const char *sig,
		 const char *timestamp, const char *nonce, const char *encrypt)
	__attribute__((warn_unused_result));

/*
 * Decrypt one Encrypt text of `len` characters: base64, AES-256-CBC,
 * 32-byte PKCS#7, the length field and the receive id (compared in
 * constant time with the configured one).  On success *msg is the
 * message (malloc'd, NUL-terminated; the caller wipes and frees it) and
 * *msg_len its length.  On failure CL_EINVAL (or CL_EBADSIG for a receive
 * id that is not ours, CL_ENOMEM) with *why a static reason such as
 * "bad base64", "bad padding", "receive id mismatch".
 */
int cl_wx_decrypt(const struct cl_wx_crypto *c, const char *b64, size_t len,
		  unsigned char **msg, size_t *msg_len, const char **why);

/*
 * Encrypt `msg` with `random16` as the 16 leading bytes (NULL: fresh
 * random bytes) for our receive id; *out is the base64 text (malloc'd,
 * NUL-terminated).  For passive replies and for the tests' fixed vectors.
 */
int cl_wx_encrypt(const struct cl_wx_crypto *c, const unsigned char *random16,
		  const unsigned char *msg, size_t len, char **out);

#endif
