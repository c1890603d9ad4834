/*
 * test_wa_media.c - WhatsApp media decryption (archiver/wa/media.c): a
 * vector made with Node's crypto (tests/peer/history.js encryptMedia, a
 * fixed key 00 01 .. 1f, "WhatsApp Image Keys"), then each check failing
 * on its own, in the documented order; the HKDF info strings and mms
 * types; a history blob end to end through inflate and the walk
 * (history.h) is covered by t105.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/wa/media.h"
#include "common/buf.h"
#include "common/status.h"
#include "../unit/tap.h"
#include "common/banned.h"

static const char BODY[] =
	"1fb5b483ac6b6cbf28723dd73810e16775ad4271cd2bf03201fb8a3a18f9d7e2"
	"f66c0cd58b8381919fd6b5a69b77e414e763abf1a0ad16fac24f";
static const char ENC_SHA[] =
	"e89ac9b83e634aafe2cd6dce0368e4ca0d3cd633ba36340427dad2cb9d73954c";
static const char SHA[] =
	"8389355ddd548cd605da0ed2725b5d3640117eb51255b6a428fd06561dd2b0de";
static const char PLAIN[] = "chatledger media vector: forty-seven bytes long";

static void unhex(const char *h, unsigned char *out, size_t cap, size_t *len)
{
	if (sodium_hex2bin(out, cap, h, strlen(h), NULL, len, NULL) != 0)
		abort();
}

int main(void)
{
	unsigned char key[32], body[128], enc[32], sha[32];
	size_t blen, n;
	struct cl_buf out;
	size_t i;

	if (sodium_init() < 0)
		return 99;
	for (i = 0; i < 32; i++)
		key[i] = (unsigned char)i;
	unhex(BODY, body, sizeof(body), &blen);
	unhex(ENC_SHA, enc, sizeof(enc), &n);
	unhex(SHA, sha, sizeof(sha), &n);
	cl_buf_init(&out, 1u << 20);

	TAP_EQ_INT(cl_wa_media_open(body, blen, "image", key, enc, sha, &out),
		   CL_WA_MEDIA_OK, "the vector opens");
	TAP_OK(out.len == strlen(PLAIN) && memcmp(out.data, PLAIN, out.len) == 0,
	       "to the plaintext Node encrypted");
	TAP_EQ_INT(cl_wa_media_open(body, blen, "sticker", key, enc, sha, &out),
		   CL_WA_MEDIA_OK, "stickers use the image keys");
	TAP_EQ_INT(cl_wa_media_open(body, blen, "video", key, enc, sha, &out),
		   CL_WA_MEDIA_MAC, "video keys: another MAC key, bad MAC");
	TAP_EQ_INT(cl_wa_media_open(body, blen, "gif", key, enc, sha, &out),
		   CL_WA_MEDIA_INTERNAL, "an unknown media type is refused");

	/* each check on its own */
	enc[0] ^= 1;
	TAP_EQ_INT(cl_wa_media_open(body, blen, "image", key, enc, sha, &out),
		   CL_WA_MEDIA_ENC_HASH, "1: encrypted-file hash first");
	enc[0] ^= 1;
	body[blen - 1] ^= 1;
	crypto_hash_sha256(enc, body, blen);
	TAP_EQ_INT(cl_wa_media_open(body, blen, "image", key, enc, sha, &out),
		   CL_WA_MEDIA_MAC, "2: a MAC byte flipped (hash recomputed)");
	TAP_EQ_INT((int)out.len, 0, "   nothing decrypted");
	body[blen - 1] ^= 1;
	key[5] ^= 1;
	crypto_hash_sha256(enc, body, blen);
	TAP_EQ_INT(cl_wa_media_open(body, blen, "image", key, enc, sha, &out),
		   CL_WA_MEDIA_MAC, "2: another media key fails the MAC");
	key[5] ^= 1;
	sha[31] ^= 1;
	TAP_EQ_INT(cl_wa_media_open(body, blen, "image", key, enc, sha, &out),
		   CL_WA_MEDIA_HASH, "4: plaintext hash");
	TAP_EQ_INT((int)out.len, 0, "   no plaintext handed out");
	TAP_EQ_INT(cl_wa_media_open(body, blen, "image", key, enc, NULL, &out),
		   CL_WA_MEDIA_OK, "4 skipped without a plaintext hash");
	crypto_hash_sha256(enc, body, 20);
	TAP_EQ_INT(cl_wa_media_open(body, 20, "image", key, enc, NULL, &out),
		   CL_WA_MEDIA_DECRYPT, "3: a body that is not whole blocks + MAC");

	TAP_EQ_STR(cl_wa_media_info("document"), "WhatsApp Document Keys",
		   "HKDF info: document");
	TAP_EQ_STR(cl_wa_media_info("history"), "WhatsApp History Keys",
		   "HKDF info: history");
	TAP_EQ_STR(cl_wa_media_info("ptv"), "WhatsApp Video Keys",
		   "HKDF info: ptv");
	TAP_EQ_STR(cl_wa_media_mms_type("history"), "md-msg-hist",
		   "mms-type: history");
	TAP_EQ_STR(cl_wa_media_mms_type("sticker"), "image",
		   "mms-type: sticker");
	TAP_EQ_STR(cl_wa_media_err_name(CL_WA_MEDIA_GONE), "gone",
		   "error names");
	cl_buf_release(&out);
	return tap_done();
}
