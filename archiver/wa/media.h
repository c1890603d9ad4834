/*
 * media.h - WhatsApp's encrypted media: download from the media hosts
 * (libcurl, HTTPS only) and the four checks, in this order:
 *   1. SHA-256 of the downloaded body = fileEncSha256;
 *   2. HMAC-SHA256(macKey, iv || ciphertext), first 10 bytes = the
 *      body's last 10 bytes (constant-time compare);
 *   3. AES-256-CBC (PKCS#7) decrypts the ciphertext;
 *   4. SHA-256 of the plaintext = fileSha256.
 * The keys come from HKDF-SHA256 (no salt) of the 32-byte mediaKey with
 * the media type's info string ("WhatsApp Image Keys", ...), 112 bytes:
 * iv = 0..15, AES key = 16..47, MAC key = 48..79.
 *
 * Nothing here touches the ledger; cl_wa_media_fetch() blocks (run it on
 * a worker thread: collector.c) and is safe to call from any thread once
 * curl_global_init() has run.
 */
#ifndef CL_WA_MEDIA_H
#define CL_WA_MEDIA_H

#include <stddef.h>

#include "common/buf.h"

#define CL_WA_MEDIA_MAX_HOSTS 8
#define CL_WA_MEDIA_TIMEOUT_S 60L
#define CL_WA_MEDIA_MAX ((24u << 20) - 4096u) /* largest media stored (as the webhook) */

/* Why a fetch failed. */
enum cl_wa_media_err {
	CL_WA_MEDIA_OK = 0,
	CL_WA_MEDIA_NO_HOST,      /* no media host known yet: retry later */
	CL_WA_MEDIA_NETWORK,      /* every host failed (connect, TLS, 5xx) */
	CL_WA_MEDIA_GONE,         /* 403/404/410: expired on the server */
	CL_WA_MEDIA_TOO_BIG,      /* larger than the caller's maximum */
	CL_WA_MEDIA_ENC_HASH,     /* check 1 failed */
	CL_WA_MEDIA_MAC,          /* check 2 failed */
	CL_WA_MEDIA_DECRYPT,      /* check 3 failed (padding) */
	CL_WA_MEDIA_HASH,         /* check 4 failed */
	CL_WA_MEDIA_INTERNAL      /* out of memory, bad request */
};

/* A short stable name ("enc-hash-mismatch", ...). */
const char *cl_wa_media_err_name(enum cl_wa_media_err e);

/* The HKDF info string for a media type ("image", "video", "ptv",
 * "audio", "document", "sticker", "history"), or NULL. */
const char *cl_wa_media_info(const char *type);
/* HKDF-SHA256 (no salt) of a 32-byte media key with `info`: `len` bytes
 * into `out`.  CL_OK or CL_EIO. */
int cl_wa_media_hkdf(const unsigned char key[32], const char *info,
		     unsigned char *out, size_t len);

/* The mms-type URL parameter for a media type, or NULL. */
const char *cl_wa_media_mms_type(const char *type);

struct cl_wa_media_req {
	const char *hosts[CL_WA_MEDIA_MAX_HOSTS]; /* "host[:port]", tried in order */
	size_t n_hosts;
	const char *direct_path;        /* "/v/t62...?ccb=..." */
	const char *type;               /* as cl_wa_media_info() */
	const unsigned char *media_key; /* 32 bytes */
	const unsigned char *enc_sha256;/* 32 bytes */
	const unsigned char *sha256;    /* 32 bytes, or NULL: check 4 skipped
	                                   (never for messages' media) */
	const char *ca_file;            /* extra trusted CA bundle, or NULL */
	size_t max;                     /* largest body accepted */
};

/*
 * Download and check; the plaintext into *out (cleared first).  On
 * failure *detail (if not NULL; caller frees with free()) says which
 * host and why, without any key or content.
 */
enum cl_wa_media_err cl_wa_media_fetch(const struct cl_wa_media_req *rq,
				       struct cl_buf *out, char **detail);

/*
 * The four checks on a body already in memory (what cl_wa_media_fetch
 * does after the download; for tests and fuzzing).
 */
enum cl_wa_media_err cl_wa_media_open(const unsigned char *body, size_t len,
				      const char *type,
				      const unsigned char media_key[32],
				      const unsigned char enc_sha256[32],
				      const unsigned char *sha256,
				      struct cl_buf *out);

#endif
