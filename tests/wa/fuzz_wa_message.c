/*
 * fuzz_wa_message.c - a decrypted WhatsApp Message protobuf (message.h) on
 * arbitrary bytes: the v2 padding check, the protobuf parse, the envelope
 * unwrapping and the normalised record, which must then pass the record
 * schema (record.h) whenever one is produced.
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
	size_t n, skdm_len;

	n = cl_wa_unpad(data, size);
	if (n != (size_t)-1 && n >= size)
		abort();
	if (cl_wa_msg_parse(data, size, &m, &err) != CL_OK) {
		free(err);
		return 0;
	}
	if (cl_wa_msg_skdm(m, &g, &skdm, &skdm_len) && (g == NULL || skdm == NULL))
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
