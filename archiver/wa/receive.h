/*
 * receive.h - one <message> stanza, from ciphertext to a committed ledger
 * entry, and the receipt that may go out only after that commit.
 *
 * For each stanza, in one ledger batch (one durable, signed commit):
 *   1. if (chat, sender, id) was archived before (side table wa_msg): no
 *      decryption; the receipt is sent again (an offline replay or a
 *      redelivery after a crash between commit and receipt);
 *   2. every <enc> in order: pkmsg/msg (libsignal sessions), skmsg
 *      (sender keys; a distribution message in an earlier <enc> of the
 *      same stanza is processed first), v2 padding removed;
 *   3. the decrypted Message normalised (message.h) and appended as a
 *      record of source "whatsapp-md"; its identifiers (phone JID and
 *      LID) linked as one party; (chat, sender, id) added to wa_msg;
 *   4. a decryption failure appends a `wa-decrypt-failed` coverage entry
 *      and asks for a retry (up to CL_WA_RETRY_MAX), then
 *      `wa-decrypt-abandoned`; a later success appends
 *      `wa-decrypt-recovered`, closing it; <unavailable> content (view
 *      once, phone only) is `wa-message-unavailable`.
 * The Signal state changes of step 2 are in the same transaction, so a
 * crash before the commit leaves the message decryptable on redelivery.
 *
 * *reply is the node to send after the call returned CL_OK: a delivery
 * receipt (type "inactive", or "sender" / "peer_msg" for our own
 * devices' messages; never a read receipt), or a retry receipt.
 */
#ifndef CL_WA_RECEIVE_H
#define CL_WA_RECEIVE_H

#include <stdint.h>

#include "archiver/wa/binary.h"

#define CL_WA_RETRY_MAX 5

struct cl_ledger;
struct cl_wa_creds;
struct cl_wa_recv;

enum cl_wa_recv_outcome {
	CL_WA_RECV_ARCHIVED = 1,  /* new record committed */
	CL_WA_RECV_DUPLICATE,     /* archived before: receipt again */
	CL_WA_RECV_RETRY,         /* decrypt failed: retry receipt */
	CL_WA_RECV_ABANDONED,     /* failed CL_WA_RETRY_MAX times: acked */
	CL_WA_RECV_UNAVAILABLE,   /* no content for linked devices */
	CL_WA_RECV_NOTHING        /* nothing to archive (e.g. only a key) */
};

struct cl_wa_recv_out {
	enum cl_wa_recv_outcome outcome;
	char kind[33];            /* the record's kind, or the error name */
	int retry;                /* retry count asked for */
};

/* l: a write-mode ledger (borrowed); creds borrowed; creds_key: the
 * 32-byte credentials key (copied into the Signal store's own key). */
int cl_wa_recv_new(struct cl_wa_recv **out, struct cl_ledger *l,
		   const struct cl_wa_creds *creds,
		   const unsigned char creds_key[32], char **err);
void cl_wa_recv_free(struct cl_wa_recv *r);

int cl_wa_recv_message(struct cl_wa_recv *r, const struct cl_wa_node *msg,
		       int64_t now_ms, struct cl_wa_node **reply,
		       struct cl_wa_recv_out *out, char **err);

#endif
