/*
 * mediaretry.h - asking the phone to upload expired media again.
 *
 * Media older than a few weeks is gone from the media hosts (404/410).
 * A linked device then sends its own phone a media retry request:
 *
 *   <receipt id=MSG_ID to=OWN_JID type="server-error">
 *     <encrypt><enc_p>CT</enc_p><enc_iv>IV</enc_iv></encrypt>
 *     <rmr jid=CHAT from_me="true|false" [participant=SENDER]/>
 *   </receipt>
 *
 * where CT is AES-256-GCM (12-byte IV, the message id as additional
 * data, tag appended) of a ServerErrorReceipt{stanzaId = MSG_ID} under
 * HKDF-SHA256(mediaKey, no salt, "WhatsApp Media Retry Notification",
 * 32 bytes).  When the phone is online it answers with
 *
 *   <notification type="mediaretry" id=MSG_ID ...>
 *     <rmr jid=CHAT from_me=... [participant=...]/>
 *     <encrypt><enc_p/><enc_iv/></encrypt>   or   <error code=N/>
 *   </notification>
 *
 * whose enc_p opens (same key, same additional data) to a
 * MediaRetryNotification {stanzaId, directPath, result}: on SUCCESS the
 * new direct path to download from.  Error code 2 means the phone no
 * longer has the media.
 *
 * Nothing here touches the ledger (receive.c keeps the queue).
 */
#ifndef CL_WA_MEDIARETRY_H
#define CL_WA_MEDIARETRY_H

#include <stddef.h>

#include "archiver/wa/binary.h"

#define CL_WA_RMR_INFO "WhatsApp Media Retry Notification"
#define CL_WA_RMR_PATH_MAX 2048   /* longest direct path accepted */

/* MediaRetryNotification.ResultType, and the phone's <error> answer. */
enum cl_wa_rmr_result {
	CL_WA_RMR_GENERAL_ERROR = 0,
	CL_WA_RMR_SUCCESS = 1,
	CL_WA_RMR_NOT_FOUND = 2,
	CL_WA_RMR_DECRYPTION_ERROR = 3,
	CL_WA_RMR_PHONE_ERROR = 100   /* <error code=N>: nothing encrypted */
};

/* Which message the request is for. */
struct cl_wa_rmr_target {
	const char *id;          /* the message id */
	const char *own_jid;     /* our own number, without a device */
	const char *chat;        /* the chat's JID */
	const char *participant; /* a group message's sender, else NULL */
	int from_me;
};

/* The request receipt for `t` (caller frees with cl_wa_node_free()).
 * CL_OK, CL_EINVAL (a missing id, own JID or chat), CL_ENOMEM, CL_EIO. */
int cl_wa_rmr_request(const struct cl_wa_rmr_target *t,
		      const unsigned char media_key[32],
		      struct cl_wa_node **out);

/* A parsed answer; the pointers are into the notification node. */
struct cl_wa_rmr_answer {
	const char *id;            /* the message id */
	const char *chat, *participant;
	int from_me;
	int error_code;            /* <error code=N>, else -1 */
	const unsigned char *ct, *iv;
	size_t ct_len;             /* ciphertext and tag */
};

/* Read a <notification type="mediaretry">.  CL_EINVAL, with *err (caller
 * frees) naming what is missing, for a malformed one. */
int cl_wa_rmr_parse(const struct cl_wa_node *n, struct cl_wa_rmr_answer *a,
		    char **err);

/*
 * Open an answer with the media key: *result is the phone's result
 * (CL_WA_RMR_PHONE_ERROR for an <error> answer) and, on
 * CL_WA_RMR_SUCCESS, *direct_path (malloc'd, caller frees) the path to
 * download from.  CL_EBADSIG when the answer does not open with this key,
 * CL_EINVAL when what it holds is unusable (another message's id, no or a
 * malformed path on success); *err says which.
 */
int cl_wa_rmr_open(const struct cl_wa_rmr_answer *a,
		   const unsigned char media_key[32], int *result,
		   char **direct_path, char **err);

/* "success", "not-found", "decryption-error", "general-error",
 * "phone-error", or "unknown". */
const char *cl_wa_rmr_result_name(int result);

#endif
