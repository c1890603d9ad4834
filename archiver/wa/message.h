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

#include "common/buf.h"

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

/* The download reference of the message's media (image, video, ptv,
 * audio, document, sticker), pointers into the parsed message: 1 when
 * complete (media key, both hashes, a direct path), else 0. */
struct cl_wa_media_ref {
	const char *type;               /* as cl_wa_media_info() */
	const char *direct_path;
	const unsigned char *media_key, *enc_sha256, *sha256;  /* 32 bytes */
	uint64_t length;                /* fileLength, 0 if absent */
};
int cl_wa_msg_media(const struct cl_wa_msg_parsed *m,
		    struct cl_wa_media_ref *ref);

/* The message's messageSecret (messageContextInfo, 32 bytes, pointing
 * into m): 1, or 0 when it has none. */
int cl_wa_msg_secret(const struct cl_wa_msg_parsed *m,
		     const unsigned char **secret);

/* A secretEncryptedMessage (an edit encrypted under the original's
 * messageSecret): 1 and its parts (pointers into m), or 0. */
struct cl_wa_secret_enc {
	int type;                       /* 1 EVENT_EDIT, 2 MESSAGE_EDIT */
	const char *target_id, *target_chat, *target_participant;
	int target_from_me;
	const unsigned char *payload;   /* AES-256-GCM ciphertext || tag */
	size_t payload_len;
	const unsigned char *iv;        /* 12 bytes */
};
int cl_wa_msg_secret_enc(const struct cl_wa_msg_parsed *m,
			 struct cl_wa_secret_enc *se);

/* A pollUpdateMessage's vote (encrypted under the poll's messageSecret,
 * "Poll Vote"): 1 and its parts (the poll's key, the payload and IV;
 * se->type 0), or 0. */
int cl_wa_msg_poll_vote(const struct cl_wa_msg_parsed *m,
			struct cl_wa_secret_enc *se);

/* A poll creation's option names (v1, v2 or v3; an option without a
 * name is ""): the first `cap` into names (pointers into m), the number
 * of options returned (0: not a poll). */
size_t cl_wa_msg_poll_options(const struct cl_wa_msg_parsed *m,
			      const char **names, size_t cap);

/* The selected options of `len` bytes of a decrypted PollVoteMessage:
 * the 32-byte SHA-256 hashes of the chosen option names, up to `cap`
 * copied into hashes and counted in *n; selections of another length or
 * beyond cap counted in *n_bad.  An empty vote (a retraction) gives 0.
 * CL_OK, CL_EINVAL when it is not a PollVoteMessage, CL_ENOMEM. */
int cl_wa_poll_vote_hashes(const unsigned char *p, size_t len,
			   unsigned char (*hashes)[32], size_t cap, size_t *n,
			   size_t *n_bad);

/* The text of `len` bytes of a Message (conversation, extended text, a
 * caption) into *out (malloc'd, the caller frees it), also returned;
 * NULL when it is not a Message or has no text. */
const char *cl_wa_msg_text(const unsigned char *p, size_t len, char **out);

/* The HistorySyncNotification a message carries (protocolMessage of type
 * HISTORY_SYNC_NOTIFICATION, directly or in a deviceSentMessage), packed
 * again into *out (it holds the blob's media key: a secret); 1 if
 * present, 0 if not, -1 when out of memory. */
int cl_wa_msg_history_notification(const struct cl_wa_msg_parsed *m,
				   struct cl_buf *out);

#endif
