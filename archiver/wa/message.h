/*
 * message.h - a decrypted WhatsApp Message protobuf (wa.proto, waE2E)
 * turned into a normalised record (docs/FORMAT.md §2, source
 * "whatsapp-md").
 *
 * Envelopes are unwrapped first: deviceSentMessage (our own messages
 * sent from the phone: the chat is its destinationJid), ephemeral,
 * view-once (v1, v2), documentWithCaption and editedMessage.  Then one
 * kind is chosen: text (conversation, extendedText), image, video, ptv,
 * audio, document, sticker (media metadata as `attachments` and
 * `media`), location, contact, contacts, poll, poll-vote, reaction
 * (`removed` when the emoji is empty), edit (`target` = the original,
 * `text` = the new text), revoke (`target`), protocol (other protocol
 * messages, `protocol_type`), or other (decrypted, not understood).
 * Every record keeps `raw` (the unpadded protobuf bytes, base64) and
 * `wa` (the stanza's attributes and the enc type), so nothing received
 * is lost by normalising.
 */
#ifndef CL_WA_MESSAGE_H
#define CL_WA_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct cl_wa_msg_meta {
	const char *account;        /* our bare phone JID */
	const char *chat;           /* bare chat JID (groups: the group) */
	int is_group;
	const char *id;             /* stanza id */
	const char *sender_pn;      /* bare phone JID of the sender, or NULL */
	const char *sender_lid;     /* bare LID of the sender, or NULL */
	const char *sender_device;  /* "user:device" */
	const char *sender_name;    /* push name (notify), or NULL */
	int from_me;                /* sent by one of our own devices */
	int64_t sent_ms, received_ms;
	const json_t *wa;           /* stanza attributes etc. (copied) */
	int history;                /* from a history sync, not live */
};

/*
 * The record for `len` bytes of a decrypted, unpadded Message.
 * *out is NULL (and CL_OK returned) when the message carries nothing to
 * archive on its own (only a sender-key distribution).  CL_EINVAL when
 * the bytes are not a Message (*err says so, without content).
 * If skdm_group/skdm are not NULL they receive the sender-key
 * distribution message it carries (pointers into *parsed, valid until
 * cl_wa_msg_free(*parsed)), or NULL.
 */
struct cl_wa_msg_parsed;
int cl_wa_msg_parse(const unsigned char *p, size_t len,
		    struct cl_wa_msg_parsed **parsed, char **err);
/* The sender-key distribution it carries: 1 and the fields, or 0. */
int cl_wa_msg_skdm(const struct cl_wa_msg_parsed *m, const char **group,
		   const unsigned char **skdm, size_t *skdm_len);
int cl_wa_msg_record(const struct cl_wa_msg_parsed *m,
		     const struct cl_wa_msg_meta *meta, json_t **out,
		     char **err);
void cl_wa_msg_free(struct cl_wa_msg_parsed *m);

#endif
