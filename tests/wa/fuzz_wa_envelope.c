/*
 * fuzz_wa_envelope.c - the Signal envelope path (signal.h) on arbitrary
 * bytes: the first byte chooses pkmsg, msg, skmsg, or a sender-key
 * distribution followed by an skmsg; the rest goes to libsignal through
 * our crypto provider and sealed stores (an in-memory SQLite database,
 * fresh device keys).  Whatever decrypts is unpadded and parsed as a
 * Message (message.h).  Nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <sqlite3.h>

#include "archiver/wa/creds.h"
#include "archiver/wa/message.h"
#include "archiver/wa/signal.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cl_wa_creds *creds;
static sqlite3 *db;
static struct cl_wa_signal *sig;

static void setup(void)
{
	unsigned char key[32];
	char *err = NULL;

	if (sodium_init() < 0 || cl_wa_creds_generate(&creds, &err) ||
	    cl_wa_prekeys_generate(creds, 4, &err) ||
	    sqlite3_open(":memory:", &db) != SQLITE_OK)
		abort();
	memset(key, 7, sizeof(key));
	if (cl_wa_signal_new(&sig, db, creds, key, &err) != CL_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_buf pt;
	enum cl_wa_sig_err e;
	size_t half;

	if (sig == NULL)
		setup();
	if (size < 1)
		return 0;
	cl_buf_init(&pt, 1u << 24);
	switch (data[0] & 3) {
	case 0:
	case 1:
		e = cl_wa_signal_decrypt(sig, "85290000001@s.whatsapp.net", 0,
					 (data[0] & 3) == 0, data + 1, size - 1,
					 &pt);
		break;
	case 2:
		e = cl_wa_signal_group_decrypt(sig, "120363000000000001@g.us",
					       "85290000001@s.whatsapp.net", 0,
					       data + 1, size - 1, &pt);
		break;
	default:
		half = (size - 1) / 2;
		(void)cl_wa_signal_process_skdm(sig, "120363000000000001@g.us",
						"85290000002@s.whatsapp.net", 0,
						data + 1, half);
		e = cl_wa_signal_group_decrypt(sig, "120363000000000001@g.us",
					       "85290000002@s.whatsapp.net", 0,
					       data + 1 + half, size - 1 - half,
					       &pt);
		break;
	}
	if (e == CL_WA_SIG_OK) {
		size_t n = cl_wa_unpad(pt.data, pt.len);
		struct cl_wa_msg_parsed *m = NULL;
		char *err = NULL;

		if (n != (size_t)-1 && cl_wa_msg_parse(pt.data, n, &m, &err) == CL_OK)
			cl_wa_msg_free(m);
		free(err);
	}
	if (strcmp(cl_wa_sig_err_name(e), "unknown") == 0)
		abort();
	cl_buf_release(&pt);
	return 0;
}
