/*
 * msgsecret.h - messages encrypted under another message's messageSecret
 * (messageContextInfo field 3, 32 random bytes the original's sender
 * chose): edits sent as a secretEncryptedMessage (EVENT_EDIT,
 * MESSAGE_EDIT) and poll votes (pollUpdateMessage.vote).
 *
 * The key is HKDF-SHA256 (no salt) of the original's secret with
 * info = original id || original sender || modifying sender || use case
 * (the senders as bare JIDs, no device), 32 bytes; the payload is
 * AES-256-GCM (12-byte IV, 16-byte tag at its end).  Poll votes carry
 * associated data "<original id>\0<modifying sender>"; edits none.
 * These are upstream's conventions (whatsmeow msgsecret.go, Baileys
 * decryptPollVote); nothing here touches storage.
 */
#ifndef CL_WA_MSGSECRET_H
#define CL_WA_MSGSECRET_H

#include <stddef.h>

#include "common/buf.h"

enum cl_wa_secret_use {
	CL_WA_SECRET_EVENT_EDIT = 1,   /* "Event Edit" */
	CL_WA_SECRET_MESSAGE_EDIT,     /* "Message Edit" */
	CL_WA_SECRET_POLL_VOTE         /* "Poll Vote", with associated data */
};

/* The use-case string of `use`, or NULL when unknown. */
const char *cl_wa_secret_use_name(enum cl_wa_secret_use use);

/*
 * Open `len` bytes of ciphertext||tag under the key derived from the
 * 32-byte `secret` for `use`, into *out (plaintext; the caller wipes and
 * releases it).  CL_OK; CL_EBADSIG when it does not authenticate (wrong
 * secret, sender or use case); CL_EINVAL for a malformed input;
 * CL_ENOMEM.  The derived key lives in guarded memory and is wiped.
 */
int cl_wa_secret_open(const unsigned char secret[32],
		      enum cl_wa_secret_use use, const char *orig_id,
		      const char *orig_sender, const char *mod_sender,
		      const unsigned char iv[12], const unsigned char *ct,
		      size_t len, struct cl_buf *out);

#endif
