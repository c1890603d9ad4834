/*
 * history.c - history sync blob -> records and coverage facts
 * (history.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <zlib.h>

#include "archiver/wa/history.h"
#include "archiver/wa/message.h"
#include "archiver/wa/pballoc.h"
#include "common/status.h"
#include "common/util.h"
#include "wa.pb-c.h"
#include "common/banned.h"

#define JID_MAX 200

const char *cl_wa_hist_sync_type_name(int type)
{
	static const char *const n[] = { "initial-bootstrap",
					 "initial-status-v3", "full", "recent",
					 "push-name", "non-blocking-data",
					 "on-demand" };

	if (type < 0 || (size_t)type >= sizeof(n) / sizeof(n[0]))
		return "unknown";
	return n[type];
}

int cl_wa_hist_inflate(const unsigned char *z, size_t len, struct cl_buf *out,
		       char **err)
{
	z_stream s;
	unsigned char chunk[16384];
	int zr = Z_OK, rc = CL_OK;

	out->len = 0;
	memset(&s, 0, sizeof(s));
	if (inflateInit(&s) != Z_OK)
		return CL_ENOMEM;
	s.next_in = (Bytef *)(uintptr_t)z;
	while (len > 0 || zr != Z_STREAM_END) {
		uInt take = len > 0x40000000u ? 0x40000000u : (uInt)len;

		if (s.avail_in == 0 && take > 0) {
			s.avail_in = take;
			len -= take;
		}
		s.next_out = chunk;
		s.avail_out = sizeof(chunk);
		zr = inflate(&s, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END) {
			rc = cl_error(err, CL_EINVAL,
				      "history sync blob: not zlib data (%s)",
				      s.msg ? s.msg : "corrupt or truncated");
			break;
		}
		if (sizeof(chunk) - s.avail_out > 0 &&
		    (rc = cl_buf_add(out, chunk, sizeof(chunk) - s.avail_out))) {
			if (rc == CL_ETOOBIG)
				(void)cl_error(err, rc, "history sync blob inflates beyond %u bytes",
					       CL_WA_HIST_MAX);
			break;
		}
		if (zr == Z_STREAM_END)
			break;
		if (s.avail_in == 0 && len == 0 && s.avail_out != 0) {
			rc = cl_error(err, CL_EINVAL,
				      "history sync blob: truncated zlib data");
			break;
		}
	}
	inflateEnd(&s);
	return rc;
}

/* "user[.agent][:device]@server" -> "user@server"; 0 if not a JID. */
static int bare(const char *s, char *out, size_t cap)
{
	const char *at, *colon, *dot;
	size_t ulen;

	if (s == NULL || (at = strchr(s, '@')) == NULL || at == s)
		return 0;
	colon = memchr(s, ':', (size_t)(at - s));
	ulen = (size_t)((colon ? colon : at) - s);
	dot = memchr(s, '.', ulen);
	if (dot)
		ulen = (size_t)(dot - s);
	if (ulen == 0 || ulen + strlen(at) + 1 > cap)
		return 0;
	memcpy(out, s, ulen);
	memcpy(out + ulen, at, strlen(at) + 1);
	return 1;
}

static int is_server(const char *jid, const char *server)
{
	const char *at = jid ? strchr(jid, '@') : NULL;

	return at && strcmp(at + 1, server) == 0;
}

struct walk {
	const struct cl_wa_hist_meta *meta;
	const struct cl_wa_hist_ops *ops;
	void *ctx;
	int sync_type;
	unsigned chunk_order;
};

/* One WebMessageInfo; 1 when handed over as a record, 0 when skipped. */
static int one(struct walk *w, const Wa__WebMessageInfo *mi, uint64_t order,
	       int has_order, const char *chat, uint64_t *index, int *handed)
{
	struct cl_wa_msg_parsed *mp = NULL;
	struct cl_wa_msg_meta meta;
	const Wa__MessageKey *k = mi->key;
	char pn[JID_MAX], lid[JID_MAX];
	json_t *rec = NULL, *wa = NULL, *h;
	char *perr = NULL;
	int rc;

	*handed = 0;
	if (k == NULL || k->id == NULL || *k->id == 0 || !mi->has_message ||
	    mi->message.len == 0)
		return CL_OK;
	rc = cl_wa_msg_parse(mi->message.data, mi->message.len, &mp, &perr);
	free(perr);
	if (rc == CL_EINVAL)
		return CL_OK;
	if (rc)
		return rc;
	memset(&meta, 0, sizeof(meta));
	pn[0] = lid[0] = 0;
	meta.account = w->meta->account;
	meta.chat = chat;
	meta.is_group = is_server(chat, "g.us");
	meta.id = k->id;
	meta.from_me = k->has_fromme && k->fromme;
	if (meta.from_me) {
		(void)cl_fmt(pn, sizeof(pn), "%s", w->meta->account);
		if (w->meta->own_lid)
			(void)cl_fmt(lid, sizeof(lid), "%s", w->meta->own_lid);
	} else {
		char sender[JID_MAX];
		const char *sfull = meta.is_group ?
			(k->participant ? k->participant : mi->participant) :
			chat;

		if (sfull && bare(sfull, sender, sizeof(sender))) {
			if (is_server(sender, "lid"))
				memcpy(lid, sender, strlen(sender) + 1);
			else
				memcpy(pn, sender, strlen(sender) + 1);
		}
	}
	meta.sender_pn = pn[0] ? pn : NULL;
	meta.sender_lid = lid[0] ? lid : NULL;
	meta.sender_name = mi->pushname;
	meta.sent_ms = mi->has_messagetimestamp ?
		(int64_t)(mi->messagetimestamp % 100000000000ull) * 1000 :
		w->meta->received_ms;
	meta.received_ms = w->meta->received_ms;
	meta.history = 1;
	wa = json_object();
	h = json_object();
	if (wa == NULL || h == NULL) {
		json_decref(wa);
		json_decref(h);
		cl_wa_msg_free(mp);
		return CL_ENOMEM;
	}
	if (w->meta->notification)
		(void)json_object_set_new(h, "notification",
					  json_string(w->meta->notification));
	(void)json_object_set_new(h, "sync_type", json_string(
		cl_wa_hist_sync_type_name(w->sync_type)));
	(void)json_object_set_new(h, "chunk_order",
				  json_integer((json_int_t)w->chunk_order));
	if (has_order)
		(void)json_object_set_new(h, "msg_order_id",
					  json_integer((json_int_t)(order & 0x7fffffffffffffffull)));
	if (mi->has_status)
		(void)json_object_set_new(h, "status", json_integer(mi->status));
	(void)json_object_set_new(wa, "history_sync", h);
	meta.wa = wa;
	rc = cl_wa_msg_record(mp, &meta, &rec, NULL);
	json_decref(wa);
	if (rc == CL_OK && rec) {
		rc = w->ops->on_record(w->ctx, rec, index);
		*handed = rc == CL_OK;
	}
	json_decref(rec);
	cl_wa_msg_free(mp);
	return rc;
}

int cl_wa_hist_walk(const unsigned char *p, size_t len,
		    const struct cl_wa_hist_meta *meta,
		    const struct cl_wa_hist_ops *ops, void *ctx,
		    struct cl_wa_hist_info *info, char **err)
{
	struct cl_wa_pb pb;
	Wa__HistorySync *hs;
	struct walk w;
	size_t i, j;
	int rc = CL_OK;

	memset(info, 0, sizeof(*info));
	info->sync_type = -1;
	cl_wa_pb_init(&pb);
	hs = wa__history_sync__unpack(&pb.a, len, p);
	if (hs == NULL)
		return pb.oom ? CL_ENOMEM :
			cl_error(err, CL_EINVAL,
				 "history sync blob is not a HistorySync protobuf");
	w.meta = meta;
	w.ops = ops;
	w.ctx = ctx;
	w.sync_type = hs->has_synctype ? (int)hs->synctype : -1;
	w.chunk_order = hs->has_chunkorder ? hs->chunkorder : 0;
	info->sync_type = w.sync_type;
	info->chunk_order = w.chunk_order;
	info->progress = hs->has_progress ? hs->progress : 0;
	for (i = 0; i < hs->n_conversations && rc == CL_OK; i++) {
		const Wa__Conversation *cv = hs->conversations[i];
		struct cl_wa_hist_chat ch;
		char chat[JID_MAX];

		if (cv == NULL || !bare(cv->id, chat, sizeof(chat))) {
			info->n_skipped += cv ? cv->n_messages : 0;
			continue;
		}
		memset(&ch, 0, sizeof(ch));
		ch.id = chat;
		ch.end_of_history = cv->has_endofhistorytransfer &&
			cv->endofhistorytransfer;
		ch.end_type = cv->has_endofhistorytransfertype ?
			(int)cv->endofhistorytransfertype : -1;
		for (j = 0; j < cv->n_messages && rc == CL_OK; j++) {
			const Wa__HistorySyncMsg *hm = cv->messages[j];
			uint64_t idx = 0;
			int handed = 0;
			int64_t t;

			if (hm == NULL || hm->message == NULL) {
				ch.n_skipped++;
				continue;
			}
			rc = one(&w, hm->message, hm->msgorderid,
				 hm->has_msgorderid, chat, &idx, &handed);
			if (rc || !handed) {
				ch.n_skipped += rc == CL_OK;
				continue;
			}
			ch.n_messages++;
			t = hm->message->has_messagetimestamp ?
				(int64_t)(hm->message->messagetimestamp %
					  100000000000ull) * 1000 : 0;
			if (!ch.has_first || (t && t < ch.oldest_ms)) {
				ch.has_first = 1;
				ch.first_index = idx;
				ch.oldest_ms = t;
			}
			if (t > ch.newest_ms)
				ch.newest_ms = t;
		}
		info->n_conversations++;
		info->n_messages += ch.n_messages;
		info->n_skipped += ch.n_skipped;
		if (rc == CL_OK && ops->on_chat)
			rc = ops->on_chat(ctx, &ch);
	}
	wa__history_sync__free_unpacked(hs, &pb.a);
	return rc;
}

void cl_wa_hist_note_init(struct cl_wa_hist_note *n)
{
	memset(n, 0, sizeof(*n));
	cl_buf_init(&n->inline_payload, 64u << 20);
}

void cl_wa_hist_note_release(struct cl_wa_hist_note *n)
{
	sodium_free(n->media_key);
	free(n->direct_path);
	cl_buf_release(&n->inline_payload);
	cl_wa_hist_note_init(n);
}

int cl_wa_hist_note_read(const unsigned char *p, size_t len,
			 struct cl_wa_hist_note *n, char **err)
{
	struct cl_wa_pb pb;
	Wa__Message__HistorySyncNotification *h;
	int rc = CL_OK;

	cl_wa_pb_init(&pb);
	h = (Wa__Message__HistorySyncNotification *)protobuf_c_message_unpack(
		&wa__message__history_sync_notification__descriptor, &pb.a,
		len, p);
	if (h == NULL)
		return pb.oom ? CL_ENOMEM :
			cl_error(err, CL_EINVAL,
				 "not a HistorySyncNotification protobuf");
	if (h->has_initialhistbootstrapinlinepayload &&
	    h->initialhistbootstrapinlinepayload.len > 0) {
		rc = cl_buf_add(&n->inline_payload,
				h->initialhistbootstrapinlinepayload.data,
				h->initialhistbootstrapinlinepayload.len);
		n->has_inline = rc == CL_OK;
	} else if (h->has_mediakey && h->mediakey.len == 32 &&
		   h->has_fileencsha256 && h->fileencsha256.len == 32 &&
		   h->has_filesha256 && h->filesha256.len == 32 &&
		   h->directpath && h->directpath[0] == '/') {
		n->media_key = sodium_malloc(32);
		n->direct_path = strdup(h->directpath);
		if (n->media_key == NULL || n->direct_path == NULL) {
			rc = CL_ENOMEM;
		} else {
			memcpy(n->media_key, h->mediakey.data, 32);
			memcpy(n->enc_sha256, h->fileencsha256.data, 32);
			memcpy(n->sha256, h->filesha256.data, 32);
			n->has_hashes = 1;
		}
	} else {
		rc = cl_error(err, CL_EINVAL,
			      "history sync notification without an inline payload or a complete download reference");
	}
	protobuf_c_message_free_unpacked(&h->base, &pb.a);
	return rc;
}
