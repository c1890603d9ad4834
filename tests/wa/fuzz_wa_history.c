/*
 * fuzz_wa_history.c - history sync parsing (history.h) and the media
 * checks (media.h) on arbitrary bytes.  The first byte chooses:
 *   0  a zlib-deflated HistorySync blob: inflate, then walk it;
 *   1  a HistorySync protobuf (already inflated): walk it;
 *   2  a HistorySyncNotification protobuf: read it;
 *   3  an encrypted media body: the four checks with a fixed media key
 *      and the body's own SHA-256 as fileEncSha256 (so check 2 is reached).
 * Every record the walk produces must pass the record schema.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ingest/record.h"
#include "archiver/wa/history.h"
#include "archiver/wa/media.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(void *ctx, json_t *rec, uint64_t *index)
{
	struct cl_record r;
	char *txt = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS), *err = NULL;
	size_t *n = ctx;

	if (txt == NULL)
		return CL_ENOMEM;
	/* a record history.c builds is a valid record unless the chat or
	 * the id is not usable as one (then the collector skips it) */
	if (cl_record_parse(txt, strlen(txt), &r, &err) == CL_OK &&
	    (strcmp(r.source, "whatsapp-md") != 0 ||
	     json_object_get(rec, "history") != json_true()))
		abort();
	cl_record_release(&r);
	free(err);
	free(txt);
	*index = (*n)++;
	return CL_OK;
}

static int on_chat(void *ctx, const struct cl_wa_hist_chat *ch)
{
	(void)ctx;
	if (ch->id == NULL || (ch->n_messages > 0 && !ch->has_first))
		abort();
	return CL_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cl_wa_hist_ops ops = { on_record, on_chat };
	struct cl_wa_hist_meta meta;
	struct cl_wa_hist_info info;
	struct cl_wa_hist_note note;
	struct cl_buf b;
	unsigned char key[32], h[32];
	char *err = NULL;
	size_t n = 0;

	if (size < 1 || sodium_init() < 0)
		return 0;
	memset(&meta, 0, sizeof(meta));
	meta.account = "85291234567@s.whatsapp.net";
	meta.own_lid = "123456789012345@lid";
	meta.notification = "3EB0FUZZ";
	meta.received_ms = 1700000000500;
	cl_buf_init(&b, CL_WA_HIST_MAX);
	switch (data[0] & 3) {
	case 0:
		if (cl_wa_hist_inflate(data + 1, size - 1, &b, &err) == CL_OK)
			(void)cl_wa_hist_walk(b.data, b.len, &meta, &ops, &n,
					      &info, &err);
		break;
	case 1:
		(void)cl_wa_hist_walk(data + 1, size - 1, &meta, &ops, &n,
				      &info, &err);
		break;
	case 2:
		cl_wa_hist_note_init(&note);
		if (cl_wa_hist_note_read(data + 1, size - 1, &note, &err) ==
		    CL_OK && !note.has_inline &&
		    (note.media_key == NULL || note.direct_path == NULL))
			abort();
		cl_wa_hist_note_release(&note);
		break;
	default:
		memset(key, 0x5a, sizeof(key));
		crypto_hash_sha256(h, data + 1, size - 1);
		(void)cl_wa_media_open(data + 1, size - 1, "history", key, h,
				       NULL, &b);
		break;
	}
	free(err);
	cl_buf_release(&b);
	return 0;
}
