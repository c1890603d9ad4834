/*
 * test_wa_msgsecret.c - messages encrypted under another message's
 * messageSecret (msgsecret.c): the three use cases against vectors made
 * with Node's crypto (HKDF-SHA256 and AES-256-GCM, an independent
 * implementation: secret 32 x 0x5e, IV 12 x 0x07, original 3EB0ORIG by
 * 85290000001@s.whatsapp.net, modified by 85290000002@s.whatsapp.net),
 * and the refusals: another use case, another sender, a changed byte, a
 * short payload, an unknown use case.
 */
#include <string.h>

#include <sodium.h>

#include "archiver/wa/msgsecret.h"
#include "common/buf.h"
#include "common/status.h"
#include "tests/unit/tap.h"

#define ORIG "85290000001@s.whatsapp.net"
#define MOD "85290000002@s.whatsapp.net"

static const char *const ee_hex =
	"3034c9f7b3d5b062d5419dbdd8b39dd61262fd984cb3960866e9";
static const char *const me_hex =
	"2d499c2b501af3bc5354c116f8173d64564f7f77de49ad448ac5";
static const char *const pv_hex =
	"8bfe8b31135d9eb2764696061694730324162ea5c2f8a68736c7";

static unsigned char secret[32], iv[12];

/* Open hex ciphertext `h` for `use` by `mod`: the status, the plaintext
 * into out (NUL-terminated). */
static int open_hex(const char *h, enum cl_wa_secret_use use, const char *mod,
		    int flip, char *out, size_t cap)
{
	unsigned char ct[64];
	size_t n = 0;
	struct cl_buf pt;
	int rc;

	out[0] = 0;
	if (sodium_hex2bin(ct, sizeof(ct), h, strlen(h), NULL, &n, NULL) != 0)
		return -1;
	if (flip)
		ct[0] ^= 1;
	cl_buf_init(&pt, 4096);
	rc = cl_wa_secret_open(secret, use, "3EB0ORIG", ORIG, mod, iv, ct, n,
			       &pt);
	if (rc == CL_OK && pt.len < cap) {
		memcpy(out, pt.data, pt.len);
		out[pt.len] = 0;
	}
	cl_buf_release(&pt);
	return rc;
}

int main(void)
{
	char out[64];
	unsigned char ct[20];
	struct cl_buf pt;

	if (sodium_init() < 0)
		return 99;
	memset(secret, 0x5e, sizeof(secret));
	memset(iv, 0x07, sizeof(iv));
	TAP_EQ_INT(open_hex(ee_hex, CL_WA_SECRET_EVENT_EDIT, MOD, 0, out,
			    sizeof(out)), CL_OK, "Event Edit opens");
	TAP_EQ_STR(out, "hello edit", "... to the edit");
	TAP_EQ_INT(open_hex(me_hex, CL_WA_SECRET_MESSAGE_EDIT, MOD, 0, out,
			    sizeof(out)), CL_OK, "Message Edit opens");
	TAP_EQ_STR(out, "hello edit", "... to the edit");
	TAP_EQ_INT(open_hex(pv_hex, CL_WA_SECRET_POLL_VOTE, MOD, 0, out,
			    sizeof(out)), CL_OK,
		   "Poll Vote opens (associated data: id NUL voter)");
	TAP_EQ_STR(out, "vote bytes", "... to the vote");
	TAP_EQ_INT(open_hex(me_hex, CL_WA_SECRET_EVENT_EDIT, MOD, 0, out,
			    sizeof(out)), CL_EBADSIG,
		   "a Message Edit does not open as an Event Edit");
	TAP_EQ_INT(open_hex(ee_hex, CL_WA_SECRET_MESSAGE_EDIT, MOD, 0, out,
			    sizeof(out)), CL_EBADSIG,
		   "an Event Edit does not open as a Message Edit");
	TAP_EQ_INT(open_hex(pv_hex, CL_WA_SECRET_POLL_VOTE,
			    "85290000003@s.whatsapp.net", 0, out, sizeof(out)),
		   CL_EBADSIG, "a vote does not open for another voter");
	TAP_EQ_INT(open_hex(me_hex, CL_WA_SECRET_MESSAGE_EDIT, MOD, 1, out,
			    sizeof(out)), CL_EBADSIG, "a changed byte: refused");
	TAP_OK(out[0] == 0, "... nothing handed out");
	memset(ct, 0, sizeof(ct));
	cl_buf_init(&pt, 4096);
	TAP_EQ_INT(cl_wa_secret_open(secret, CL_WA_SECRET_POLL_VOTE, "3EB0ORIG",
				     ORIG, MOD, iv, ct, 15, &pt), CL_EINVAL,
		   "shorter than a tag: malformed");
	TAP_EQ_INT(cl_wa_secret_open(secret, (enum cl_wa_secret_use)99,
				     "3EB0ORIG", ORIG, MOD, iv, ct, 20, &pt),
		   CL_EINVAL, "an unknown use case: refused");
	TAP_OK(cl_wa_secret_use_name(CL_WA_SECRET_POLL_VOTE) &&
	       strcmp(cl_wa_secret_use_name(CL_WA_SECRET_POLL_VOTE),
		      "Poll Vote") == 0, "use-case names");
	cl_buf_release(&pt);
	return tap_done();
}
