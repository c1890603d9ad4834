/*
 * message.c - decrypted Message protobuf -> normalised record (message.h).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/wa/message.h"
#include "archiver/wa/pballoc.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "wa.pb-c.h"
#include "common/banned.h"

#define MAX_WRAP 8  /* envelopes unwrapped at most */

struct cl_wa_msg_parsed {
	struct cl_wa_pb pb;
	Wa__Message *m;
	const unsigned char *raw;  /* borrowed for the record's raw */
	size_t raw_len;
};

int cl_wa_msg_parse(const unsigned char *p, size_t len,
		    struct cl_wa_msg_parsed **parsed, char **err)
{
	struct cl_wa_msg_parsed *x = calloc(1, sizeof(*x));

	*parsed = NULL;
	if (x == NULL)
		return CL_ENOMEM;
	cl_wa_pb_init(&x->pb);
	x->m = wa__message__unpack(&x->pb.a, len, p);
	if (x->m == NULL) {
		int oom = x->pb.oom;

		free(x);
		if (oom)
			return CL_ENOMEM;
		return cl_error(err, CL_EINVAL,
				"decrypted content is not a WhatsApp Message protobuf");
	}
	x->raw = p;
	x->raw_len = len;
	*parsed = x;
	return CL_OK;
}

void cl_wa_msg_free(struct cl_wa_msg_parsed *m)
{
	if (m == NULL)
		return;
	if (m->m)
		wa__message__free_unpacked(m->m, &m->pb.a);
	free(m);
}

int cl_wa_msg_skdm(const struct cl_wa_msg_parsed *m, const char **group,
		   const unsigned char **skdm, size_t *skdm_len)
{
	const Wa__Message__SenderKeyDistributionMessage *d =
		m->m->senderkeydistributionmessage;

	if (d == NULL || d->groupid == NULL ||
	    !d->has_axolotlsenderkeydistributionmessage)
		return 0;
	*group = d->groupid;
	*skdm = d->axolotlsenderkeydistributionmessage.data;
	*skdm_len = d->axolotlsenderkeydistributionmessage.len;
	return 1;
}

/* ---- helpers ----------------------------------------------------------- */

static int set_str(json_t *o, const char *k, const char *v)
{
	if (v == NULL)
		return 0;
	return json_object_set_new(o, k, json_string(v));
}

static int set_b64(json_t *o, const char *k, const ProtobufCBinaryData *b,
		   int has)
{
	struct cl_buf out;
	int rc;

	if (!has || b->len == 0)
		return 0;
	cl_buf_init(&out, 1u << 20);
	rc = cl_b64_add(&out, b->data, b->len);
	if (rc == CL_OK)
		rc = cl_buf_add_u8(&out, 0);
	if (rc == CL_OK)
		rc = json_object_set_new(o, k, json_string((char *)out.data));
	cl_buf_release(&out);
	return rc;
}

static int set_hex(json_t *o, const char *k, const ProtobufCBinaryData *b,
		   int has)
{
	char h[65];

	if (!has || b->len != 32)
		return 0;
	sodium_bin2hex(h, sizeof(h), b->data, b->len);
	return json_object_set_new(o, k, json_string(h));
}

/* Does this message carry something an archive shows (not only a
 * sender-key distribution or the context info)? */
static int has_content(const Wa__Message *m)
{
	return m->conversation || m->imagemessage || m->contactmessage ||
		m->locationmessage || m->extendedtextmessage ||
		m->documentmessage || m->audiomessage || m->videomessage ||
		m->protocolmessage || m->contactsarraymessage ||
		m->stickermessage || m->devicesentmessage ||
		m->viewoncemessage || m->ephemeralmessage ||
		m->reactionmessage || m->pollcreationmessage ||
		m->pollupdatemessage || m->documentwithcaptionmessage ||
		m->viewoncemessagev2 || m->editedmessage ||
		m->pollcreationmessagev2 || m->pollcreationmessagev3 ||
		m->ptvmessage || m->secretencryptedmessage ||
		m->base.n_unknown_fields > 0;
}

static void context(json_t *r, const Wa__ContextInfo *ci)
{
	if (ci == NULL)
		return;
	if (ci->stanzaid) {
		(void)set_str(r, "reply_to", ci->stanzaid);
		if (ci->participant) {
			json_t *q = json_object();

			(void)set_str(q, "participant", ci->participant);
			(void)json_object_set_new(r, "quoted", q);
		}
	}
	if (ci->has_isforwarded && ci->isforwarded)
		(void)json_object_set_new(r, "forwarded", json_true());
}

struct media {
	const char *type, *mime, *caption, *name, *direct_path;
	const ProtobufCBinaryData *sha, *enc_sha;
	int has_sha, has_enc_sha, has_len;
	uint64_t len;
	const Wa__ContextInfo *ci;
};

static void media(json_t *r, const struct media *md)
{
	json_t *att = json_object(), *mm = json_object();

	(void)json_object_set_new(r, "kind", json_string(md->type));
	(void)set_str(r, "text", md->caption);
	(void)set_str(att, "mime", md->mime);
	(void)set_str(att, "name", md->name);
	if (md->has_len)
		(void)json_object_set_new(att, "size",
					  json_integer((json_int_t)md->len));
	(void)set_hex(att, "sha256", md->sha, md->has_sha);
	(void)json_object_set_new(r, "attachments", json_pack("[o]", att));
	(void)json_object_set_new(mm, "type", json_string(md->type));
	(void)set_str(mm, "direct_path", md->direct_path);
	(void)set_b64(mm, "file_enc_sha256", md->enc_sha, md->has_enc_sha);
	(void)json_object_set_new(mm, "downloaded", json_false());
	(void)json_object_set_new(r, "media", mm);
	context(r, md->ci);
}

static const char *proto_text(const Wa__Message *m)
{
	if (m == NULL)
		return NULL;
	if (m->conversation)
		return m->conversation;
	if (m->extendedtextmessage)
		return m->extendedtextmessage->text;
	if (m->imagemessage)
		return m->imagemessage->caption;
	if (m->videomessage)
		return m->videomessage->caption;
	if (m->documentmessage)
		return m->documentmessage->caption;
	return NULL;
}

static void poll(json_t *r, const Wa__Message__PollCreationMessage *p)
{
	json_t *opts = json_array(), *o = json_object();
	size_t i;

	(void)json_object_set_new(r, "kind", json_string("poll"));
	(void)set_str(r, "text", p->name);
	for (i = 0; i < p->n_options; i++)
		if (p->options[i]->optionname)
			(void)json_array_append_new(
				opts, json_string(p->options[i]->optionname));
	(void)json_object_set_new(o, "options", opts);
	if (p->has_selectableoptionscount)
		(void)json_object_set_new(o, "selectable", json_integer(
			p->selectableoptionscount));
	(void)json_object_set_new(r, "poll", o);
	context(r, p->contextinfo);
}

static void contact(json_t *arr, const Wa__Message__ContactMessage *c)
{
	json_t *o = json_object();

	(void)set_str(o, "name", c->displayname);
	(void)set_str(o, "vcard", c->vcard);
	(void)json_array_append_new(arr, o);
}

/* Fill kind, text and the kind's members from the innermost message. */
static void content(json_t *r, const Wa__Message *m)
{
	struct media md;

	memset(&md, 0, sizeof(md));
	if (m->conversation) {
		(void)json_object_set_new(r, "kind", json_string("text"));
		(void)set_str(r, "text", m->conversation);
	} else if (m->extendedtextmessage) {
		const Wa__Message__ExtendedTextMessage *e =
			m->extendedtextmessage;

		(void)json_object_set_new(r, "kind", json_string("text"));
		(void)set_str(r, "text", e->text);
		(void)set_str(r, "link", e->matchedtext);
		context(r, e->contextinfo);
	} else if (m->imagemessage) {
		const Wa__Message__ImageMessage *x = m->imagemessage;

		md = (struct media){ "image", x->mimetype, x->caption, NULL,
				     x->directpath, &x->filesha256,
				     &x->fileencsha256, x->has_filesha256,
				     x->has_fileencsha256, x->has_filelength,
				     x->filelength, x->contextinfo };
		media(r, &md);
	} else if (m->videomessage || m->ptvmessage) {
		const Wa__Message__VideoMessage *x = m->videomessage ?
			m->videomessage : m->ptvmessage;

		md = (struct media){ m->videomessage ? "video" : "ptv",
				     x->mimetype, x->caption, NULL,
				     x->directpath, &x->filesha256,
				     &x->fileencsha256, x->has_filesha256,
				     x->has_fileencsha256, x->has_filelength,
				     x->filelength, x->contextinfo };
		media(r, &md);
	} else if (m->audiomessage) {
		const Wa__Message__AudioMessage *x = m->audiomessage;

		md = (struct media){ "audio", x->mimetype, NULL, NULL,
				     x->directpath, &x->filesha256,
				     &x->fileencsha256, x->has_filesha256,
				     x->has_fileencsha256, x->has_filelength,
				     x->filelength, x->contextinfo };
		media(r, &md);
		if (x->has_ptt && x->ptt)
			(void)json_object_set_new(r, "voice_note", json_true());
	} else if (m->documentmessage) {
		const Wa__Message__DocumentMessage *x = m->documentmessage;

		md = (struct media){ "document", x->mimetype, x->caption,
				     x->filename ? x->filename : x->title,
				     x->directpath, &x->filesha256,
				     &x->fileencsha256, x->has_filesha256,
				     x->has_fileencsha256, x->has_filelength,
				     x->filelength, x->contextinfo };
		media(r, &md);
	} else if (m->stickermessage) {
		const Wa__Message__StickerMessage *x = m->stickermessage;

		md = (struct media){ "sticker", x->mimetype, NULL, NULL,
				     x->directpath, &x->filesha256,
				     &x->fileencsha256, x->has_filesha256,
				     x->has_fileencsha256, x->has_filelength,
				     x->filelength, x->contextinfo };
		media(r, &md);
	} else if (m->locationmessage) {
		const Wa__Message__LocationMessage *x = m->locationmessage;
		json_t *o = json_object();

		(void)json_object_set_new(r, "kind", json_string("location"));
		if (x->has_degreeslatitude)
			(void)json_object_set_new(o, "lat",
						  json_real(x->degreeslatitude));
		if (x->has_degreeslongitude)
			(void)json_object_set_new(o, "long",
						  json_real(x->degreeslongitude));
		(void)set_str(o, "name", x->name);
		(void)set_str(o, "address", x->address);
		(void)set_str(o, "url", x->url);
		(void)json_object_set_new(r, "location", o);
		(void)set_str(r, "text", x->name ? x->name : x->address);
		context(r, x->contextinfo);
	} else if (m->contactmessage) {
		json_t *arr = json_array();

		(void)json_object_set_new(r, "kind", json_string("contact"));
		(void)set_str(r, "text", m->contactmessage->displayname);
		contact(arr, m->contactmessage);
		(void)json_object_set_new(r, "contacts", arr);
		context(r, m->contactmessage->contextinfo);
	} else if (m->contactsarraymessage) {
		const Wa__Message__ContactsArrayMessage *x =
			m->contactsarraymessage;
		json_t *arr = json_array();
		size_t i;

		(void)json_object_set_new(r, "kind", json_string("contacts"));
		(void)set_str(r, "text", x->displayname);
		for (i = 0; i < x->n_contacts; i++)
			contact(arr, x->contacts[i]);
		(void)json_object_set_new(r, "contacts", arr);
		context(r, x->contextinfo);
	} else if (m->reactionmessage) {
		const Wa__Message__ReactionMessage *x = m->reactionmessage;

		(void)json_object_set_new(r, "kind", json_string("reaction"));
		if (x->text && *x->text)
			(void)set_str(r, "text", x->text);
		else
			(void)json_object_set_new(r, "removed", json_true());
		if (x->key && x->key->id)
			(void)set_str(r, "target", x->key->id);
	} else if (m->pollcreationmessage || m->pollcreationmessagev2 ||
		   m->pollcreationmessagev3) {
		poll(r, m->pollcreationmessage ? m->pollcreationmessage :
		     m->pollcreationmessagev2 ? m->pollcreationmessagev2 :
		     m->pollcreationmessagev3);
	} else if (m->pollupdatemessage) {
		const Wa__Message__PollUpdateMessage *x = m->pollupdatemessage;

		/* the vote is encrypted under the poll's secret: kept in raw,
		 * opened by receive.c when the poll's secret is known */
		(void)json_object_set_new(r, "kind", json_string("poll-vote"));
		(void)json_object_set_new(r, "encrypted", json_true());
		if (x->pollcreationmessagekey &&
		    x->pollcreationmessagekey->id)
			(void)set_str(r, "target",
				      x->pollcreationmessagekey->id);
	} else if (m->protocolmessage) {
		const Wa__Message__ProtocolMessage *x = m->protocolmessage;
		int type = x->has_type ? (int)x->type : 0;

		if (x->key && x->key->id)
			(void)set_str(r, "target", x->key->id);
		if (type == WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__REVOKE) {
			(void)json_object_set_new(r, "kind", json_string("revoke"));
		} else if (type ==
			   WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__MESSAGE_EDIT) {
			(void)json_object_set_new(r, "kind", json_string("edit"));
			(void)set_str(r, "text", proto_text(x->editedmessage));
		} else {
			(void)json_object_set_new(r, "kind",
						  json_string("protocol"));
			(void)json_object_set_new(r, "protocol_type",
						  json_integer(type));
		}
	} else if (m->secretencryptedmessage) {
		const Wa__Message__SecretEncryptedMessage *x =
			m->secretencryptedmessage;

		/* opened by receive.c when the original's secret is known */
		(void)json_object_set_new(r, "kind", json_string(
			x->has_secretenctype && x->secretenctype ==
			WA__MESSAGE__SECRET_ENCRYPTED_MESSAGE__SECRET_ENC_TYPE__EVENT_EDIT ?
			"event-edit" : "edit"));
		if (x->targetmessagekey && x->targetmessagekey->id)
			(void)set_str(r, "target", x->targetmessagekey->id);
		(void)json_object_set_new(r, "encrypted", json_true());
	} else {
		(void)json_object_set_new(r, "kind", json_string("other"));
	}
}

/* The innermost message under the envelopes; *chat becomes a
 * deviceSentMessage's destination. */
static const Wa__Message *unwrap(const Wa__Message *m, const char **chat)
{
	int depth;

	for (depth = 0; depth < MAX_WRAP; depth++) {
		const Wa__Message__FutureProofMessage *fp =
			m->ephemeralmessage ? m->ephemeralmessage :
			m->viewoncemessage ? m->viewoncemessage :
			m->viewoncemessagev2 ? m->viewoncemessagev2 :
			m->documentwithcaptionmessage ?
			m->documentwithcaptionmessage : m->editedmessage;

		if (m->devicesentmessage && m->devicesentmessage->message) {
			if (m->devicesentmessage->destinationjid)
				*chat = m->devicesentmessage->destinationjid;
			m = m->devicesentmessage->message;
		} else if (fp && fp->message) {
			m = fp->message;
		} else {
			break;
		}
	}
	return m;
}

int cl_wa_msg_record(const struct cl_wa_msg_parsed *p,
		     const struct cl_wa_msg_meta *meta, json_t **out,
		     char **err)
{
	const Wa__Message *m = p->m;
	const char *chat = meta->chat;
	json_t *r, *conv, *snd, *ids, *wa;
	struct cl_buf raw;
	char ts[32];

	*out = NULL;
	if (!has_content(m))
		return CL_OK;
	m = unwrap(m, &chat);
	r = json_object();
	conv = json_object();
	snd = json_object();
	ids = json_array();
	wa = meta->wa ? json_deep_copy(meta->wa) : json_object();
	if (r == NULL || conv == NULL || snd == NULL || ids == NULL ||
	    wa == NULL) {
		json_decref(r);
		json_decref(conv);
		json_decref(snd);
		json_decref(ids);
		json_decref(wa);
		return CL_ENOMEM;
	}
	(void)set_str(r, "account", meta->account);
	(void)set_str(conv, "id", chat);
	(void)set_str(conv, "type", meta->is_group ? "group" : "direct");
	(void)json_object_set_new(r, "conversation", conv);
	(void)set_str(r, "id", meta->id);
	(void)set_str(snd, "id", meta->sender_pn ? meta->sender_pn :
		      meta->sender_lid);
	(void)set_str(snd, "lid", meta->sender_lid);
	(void)set_str(snd, "device", meta->sender_device);
	(void)set_str(snd, "name", meta->sender_name);
	(void)json_object_set_new(r, "sender", snd);
	if (meta->sender_pn)
		(void)json_array_append_new(ids, json_string(meta->sender_pn));
	if (meta->sender_lid)
		(void)json_array_append_new(ids, json_string(meta->sender_lid));
	if (json_array_size(ids) > 0)
		(void)json_object_set_new(r, "identifiers", ids);
	else
		json_decref(ids);
	(void)set_str(r, "direction", meta->from_me ? "out" : "in");
	(void)set_str(r, "source", "whatsapp-md");
	cl_time_format(meta->sent_ms, ts);
	(void)set_str(r, "sent_at", ts);
	if (meta->received_ms > 0) {
		cl_time_format(meta->received_ms, ts);
		(void)set_str(r, "received_at", ts);
	}
	if (meta->history)
		(void)json_object_set_new(r, "history", json_true());
	content(r, m);
	(void)json_object_set_new(r, "wa", wa);
	cl_buf_init(&raw, 8u << 20);
	if (cl_b64_add(&raw, p->raw, p->raw_len) || cl_buf_add_u8(&raw, 0)) {
		cl_buf_release(&raw);
		json_decref(r);
		return cl_error(err, CL_ETOOBIG, "message too large to archive");
	}
	(void)json_object_set_new(r, "raw", json_string((char *)raw.data));
	cl_buf_release(&raw);
	*out = r;
	return CL_OK;
}

int cl_wa_msg_history_notification(const struct cl_wa_msg_parsed *p,
				   struct cl_buf *out)
{
	const Wa__Message *m = p->m;
	const Wa__Message__ProtocolMessage *pm;
	size_t n;

	if (m->devicesentmessage && m->devicesentmessage->message)
		m = m->devicesentmessage->message;
	pm = m->protocolmessage;
	if (pm == NULL || !pm->has_type || pm->type !=
	    WA__MESSAGE__PROTOCOL_MESSAGE__TYPE__HISTORY_SYNC_NOTIFICATION ||
	    pm->historysyncnotification == NULL)
		return 0;
	n = protobuf_c_message_get_packed_size(
		&pm->historysyncnotification->base);
	out->len = 0;
	if (cl_buf_reserve(out, n) != CL_OK)
		return -1;
	out->len = protobuf_c_message_pack(&pm->historysyncnotification->base,
					   out->data);
	return 1;
}

#define MEDIA_REF(T, x) do { \
		ref->type = (T); \
		ref->direct_path = (x)->directpath; \
		ok = (x)->has_mediakey && (x)->mediakey.len == 32 && \
			(x)->has_fileencsha256 && (x)->fileencsha256.len == 32 && \
			(x)->has_filesha256 && (x)->filesha256.len == 32; \
		if (ok) { \
			ref->media_key = (x)->mediakey.data; \
			ref->enc_sha256 = (x)->fileencsha256.data; \
			ref->sha256 = (x)->filesha256.data; \
			ref->length = (x)->has_filelength ? (x)->filelength : 0; \
		} \
	} while (0)

int cl_wa_msg_media(const struct cl_wa_msg_parsed *p,
		    struct cl_wa_media_ref *ref)
{
	const char *chat = NULL;
	const Wa__Message *m = unwrap(p->m, &chat);
	int ok = 0;

	memset(ref, 0, sizeof(*ref));
	if (m->imagemessage)
		MEDIA_REF("image", m->imagemessage);
	else if (m->videomessage)
		MEDIA_REF("video", m->videomessage);
	else if (m->ptvmessage)
		MEDIA_REF("ptv", m->ptvmessage);
	else if (m->audiomessage)
		MEDIA_REF("audio", m->audiomessage);
	else if (m->documentmessage)
		MEDIA_REF("document", m->documentmessage);
	else if (m->stickermessage)
		MEDIA_REF("sticker", m->stickermessage);
	return ok && ref->direct_path && ref->direct_path[0] == '/';
}

int cl_wa_msg_secret(const struct cl_wa_msg_parsed *p,
		     const unsigned char **secret)
{
	const Wa__Message *m = p->m;
	const char *chat = NULL;
	const Wa__MessageContextInfo *ci = m->messagecontextinfo;

	if (ci == NULL)
		ci = unwrap(m, &chat)->messagecontextinfo;
	if (ci == NULL || !ci->has_messagesecret || ci->messagesecret.len != 32)
		return 0;
	*secret = ci->messagesecret.data;
	return 1;
}

int cl_wa_msg_secret_enc(const struct cl_wa_msg_parsed *p,
			 struct cl_wa_secret_enc *se)
{
	const char *chat = NULL;
	const Wa__Message *m = unwrap(p->m, &chat);
	const Wa__Message__SecretEncryptedMessage *x = m->secretencryptedmessage;

	memset(se, 0, sizeof(*se));
	if (x == NULL || x->targetmessagekey == NULL ||
	    x->targetmessagekey->id == NULL || !x->has_encpayload ||
	    !x->has_enciv || x->enciv.len != 12 || x->encpayload.len < 16)
		return 0;
	se->type = x->has_secretenctype ? (int)x->secretenctype : 0;
	se->target_id = x->targetmessagekey->id;
	se->target_chat = x->targetmessagekey->remotejid;
	se->target_participant = x->targetmessagekey->participant;
	se->target_from_me = x->targetmessagekey->has_fromme &&
		x->targetmessagekey->fromme;
	se->payload = x->encpayload.data;
	se->payload_len = x->encpayload.len;
	se->iv = x->enciv.data;
	return 1;
}

const char *cl_wa_msg_text(const unsigned char *p, size_t len, char **out)
{
	struct cl_wa_msg_parsed *x = NULL;
	const Wa__Message *m;
	const char *chat = NULL, *t;

	*out = NULL;
	if (cl_wa_msg_parse(p, len, &x, NULL) != CL_OK || x == NULL)
		return NULL;
	m = unwrap(x->m, &chat);
	t = proto_text(m);
	/* an edit's payload may be the protocol message itself */
	if (t == NULL && m->protocolmessage &&
	    m->protocolmessage->editedmessage)
		t = proto_text(unwrap(m->protocolmessage->editedmessage, &chat));
	if (t)
		*out = strdup(t);
	cl_wa_msg_free(x);
	return *out;
}

int cl_wa_msg_poll_vote(const struct cl_wa_msg_parsed *p,
			struct cl_wa_secret_enc *se)
{
	const char *chat = NULL;
	const Wa__Message *m = unwrap(p->m, &chat);
	const Wa__Message__PollUpdateMessage *x = m->pollupdatemessage;
	const Wa__MessageKey *k;

	memset(se, 0, sizeof(*se));
	if (x == NULL || (k = x->pollcreationmessagekey) == NULL ||
	    k->id == NULL || x->vote == NULL || !x->vote->has_encpayload ||
	    !x->vote->has_enciv || x->vote->enciv.len != 12 ||
	    x->vote->encpayload.len < 16)
		return 0;
	se->target_id = k->id;
	se->target_chat = k->remotejid;
	se->target_participant = k->participant;
	se->target_from_me = k->has_fromme && k->fromme;
	se->payload = x->vote->encpayload.data;
	se->payload_len = x->vote->encpayload.len;
	se->iv = x->vote->enciv.data;
	return 1;
}

size_t cl_wa_msg_poll_options(const struct cl_wa_msg_parsed *p,
			      const char **names, size_t cap)
{
	const char *chat = NULL;
	const Wa__Message *m = unwrap(p->m, &chat);
	const Wa__Message__PollCreationMessage *x =
		m->pollcreationmessage ? m->pollcreationmessage :
		m->pollcreationmessagev2 ? m->pollcreationmessagev2 :
		m->pollcreationmessagev3;
	size_t i;

	if (x == NULL)
		return 0;
	for (i = 0; i < x->n_options && i < cap; i++)
		names[i] = x->options[i]->optionname ?
			x->options[i]->optionname : "";
	return x->n_options;
}

int cl_wa_poll_vote_hashes(const unsigned char *p, size_t len,
			   unsigned char (*hashes)[32], size_t cap, size_t *n,
			   size_t *n_bad)
{
	Wa__Message__PollVoteMessage *v;
	struct cl_wa_pb pb;
	size_t i;

	*n = *n_bad = 0;
	cl_wa_pb_init(&pb);
	v = (Wa__Message__PollVoteMessage *)protobuf_c_message_unpack(
		&wa__message__poll_vote_message__descriptor, &pb.a, len, p);
	if (v == NULL)
		return pb.oom ? CL_ENOMEM : CL_EINVAL;
	for (i = 0; i < v->n_selectedoptions; i++) {
		if (v->selectedoptions[i].len == 32 && *n < cap)
			memcpy(hashes[(*n)++], v->selectedoptions[i].data, 32);
		else
			(*n_bad)++;
	}
	protobuf_c_message_free_unpacked(&v->base, &pb.a);
	return CL_OK;
}
