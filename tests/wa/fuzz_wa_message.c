/*
 * fuzz_wa_message.c - a decrypted WhatsApp Message protobuf (message.h) on
 * arbitrary bytes: the v2 padding check, the protobuf parse, the envelope
 * unwrapping and the normalised record, which must then pass the record
 * schema (record.h) whenever one is produced; the poll accessors, and
 * the same bytes as a decrypted PollVoteMessage.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ingest/record.h"
#include "archiver/wa/message.h"
#include "archiver/wa/signal.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_wa_msg_parsed *m = NULL;
	struct cl_wa_msg_meta meta;
	struct cl_record rec;
	json_t *r = NULL;
	char *err = NULL, *txt;
	const char *g;
	const unsigned char *skdm;
	const char *opts[4];
	struct cl_wa_secret_enc se;
	unsigned char hashes[4][32];
	size_t n, skdm_len, nv = 0, nbad = 0, i, no;

	n = cl_wa_unpad(data, size);
	if (n != (size_t)-1 && n >= size)
		abort();
	/* the same bytes as an opened poll vote */
	if (cl_wa_poll_vote_hashes(data, size, hashes, 4, &nv, &nbad) == CL_OK &&
	    nv > 4)
		abort();
	if (cl_wa_msg_parse(data, size, &m, &err) != CL_OK) {
		free(err);
		return 0;
	}
	if (cl_wa_msg_skdm(m, &g, &skdm, &skdm_len) && (g == NULL || skdm == NULL))
		abort();
	no = cl_wa_msg_poll_options(m, opts, 4);
	for (i = 0; i < no && i < 4; i++)
		if (opts[i] == NULL)
			abort();
	if (cl_wa_msg_poll_vote(m, &se) &&
	    (se.target_id == NULL || se.payload_len < 16 || se.iv == NULL))
		abort();
	memset(&meta, 0, sizeof(meta));
	meta.account = "85291234567@s.whatsapp.net";
	meta.chat = "85290000001@s.whatsapp.net";
	meta.id = "3EB0FUZZ";
	meta.sender_pn = "85290000001@s.whatsapp.net";
	meta.sender_lid = "77000000001@lid";
	meta.sender_device = "85290000001:0";
	meta.sent_ms = 1700000000000;
	meta.received_ms = 1700000000500;
	if (cl_wa_msg_record(m, &meta, &r, &err) == CL_OK && r) {
		txt = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
		/* a record the collector builds is a valid record, unless a
		 * device-sent destination is not a usable conversation id */
		if (txt && cl_record_parse(txt, strlen(txt), &rec, &err) == CL_OK &&
		    strcmp(rec.source, "whatsapp-md") != 0)
			abort();
		cl_record_release(&rec);
		free(txt);
	}
	free(err);
	json_decref(r);
	cl_wa_msg_free(m);
	return 0;
}
