/*
 * receive.h - one <message> stanza, from ciphertext to a committed ledger
 * entry, and the receipt that may go out only after that commit.
 *
 * Stanzas are grouped: cl_wa_recv_message() opens a ledger batch when
 * none is open and adds each stanza to it; cl_wa_recv_commit() makes the
 * batch durable (one signed, fsynced commit for all of its stanzas).
 * The caller holds every reply until that commit has returned CL_OK, and
 * commits after a few milliseconds or a few dozen stanzas (collector.c).
 * For each stanza, inside the batch (under its own SQLite savepoint):
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
 * *reply is the node to send after the batch holding the stanza was
 * committed (never before): a delivery
 * receipt (type "inactive", or "sender" / "peer_msg" for our own
 * devices' messages; never a read receipt), or a retry receipt.
 */
#ifndef CL_WA_RECEIVE_H
#define CL_WA_RECEIVE_H

#include <stdint.h>

#include "archiver/wa/binary.h"
#include "common/buf.h"

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
	int history_queued;       /* a history sync notification was queued
	                             (side table wa_hist) */
	int media_queued;         /* the record's media download was queued
	                             (side table wa_media) */
};

/* l: a write-mode ledger (borrowed); creds borrowed; creds_key: the
 * 32-byte credentials key (copied into the Signal store's own key). */
int cl_wa_recv_new(struct cl_wa_recv **out, struct cl_ledger *l,
		   const struct cl_wa_creds *creds,
		   const unsigned char creds_key[32], char **err);
void cl_wa_recv_free(struct cl_wa_recv *r);

/*
 * Add one stanza to the open batch (opening one if none is).  *reply
 * (the caller frees it with cl_wa_node_free) may be sent only after
 * cl_wa_recv_commit() returned CL_OK.  CL_EINVAL: the stanza is unusable
 * (or its record was refused) and left no trace; the batch and its other
 * stanzas are intact; leave it unacknowledged.  Any other error rolled
 * the whole batch back: none of its replies may be sent (WhatsApp
 * redelivers those stanzas after a reconnect).
 */
int cl_wa_recv_message(struct cl_wa_recv *r, const struct cl_wa_node *msg,
		       int64_t now_ms, struct cl_wa_node **reply,
		       struct cl_wa_recv_out *out, char **err);

/* Stanzas in the open batch (0: no batch open). */
size_t cl_wa_recv_pending(const struct cl_wa_recv *r);

/* Commit the open batch (CL_OK when none is open).  On failure it was
 * rolled back: none of its replies may be sent. */
int cl_wa_recv_commit(struct cl_wa_recv *r, char **err);

/* Roll the open batch back (nothing when none is open). */
void cl_wa_recv_rollback(struct cl_wa_recv *r);

/* ---- history sync (history.h) ----------------------------------------------
 * A HistorySyncNotification is archived as its message's record and, in
 * the same batch, queued in the side table wa_hist (sealed: it holds the
 * blob's media key) until its blob was archived.  The caller fetches the
 * blob (inline, or downloaded: media.h) outside any batch and hands it to
 * cl_wa_recv_history(), or reports the failure. */

#define CL_WA_HIST_TRIES 5

struct cl_wa_hist_job {
	unsigned char h[32];      /* the job's row */
	char stanza_id[80];
	int tries;                /* failed attempts so far */
	struct cl_buf note;       /* the HistorySyncNotification protobuf
	                             (secret: wiped by _release) */
};

void cl_wa_hist_job_init(struct cl_wa_hist_job *j);
void cl_wa_hist_job_release(struct cl_wa_hist_job *j);

/* The first queued job due at now_ms into *j: CL_OK, or CL_ENOTFOUND
 * (then *next_at, if not NULL, is when the next one is due, or 0 when
 * none is queued).  Outside a batch. */
int cl_wa_recv_hist_next(struct cl_wa_recv *r, int64_t now_ms,
			 struct cl_wa_hist_job *j, int64_t *next_at,
			 char **err);

/* In one batch: the records of the deflated blob `z` (history.h), a
 * `wa-history-chat` coverage entry per conversation, one
 * `wa-history-sync` summary; the job leaves the queue.  *n_new and *n_dup
 * count the records appended and those already archived (live or by an
 * earlier sync).  CL_EINVAL: the blob is unusable (*err says why); nothing
 * was written: report it with cl_wa_recv_hist_failed(). */
int cl_wa_recv_history(struct cl_wa_recv *r, const struct cl_wa_hist_job *j,
		       const unsigned char *z, size_t len, int64_t now_ms,
		       size_t *n_new, size_t *n_dup, char **err);

/* In one batch: a `wa-history-failed` coverage entry and the job's next
 * attempt later, or after CL_WA_HIST_TRIES attempts
 * `wa-history-abandoned` (alert) and the job leaves the queue
 * (*abandoned = 1). */
int cl_wa_recv_hist_failed(struct cl_wa_recv *r, const struct cl_wa_hist_job *j,
			   const char *error, int64_t now_ms, int *abandoned,
			   char **err);

/* ---- media downloads --------------------------------------------------------
 * A record with media (image, video, ptv, audio, document, sticker)
 * queues its download in the side table wa_media (sealed: it holds the
 * media key), in the record's batch.  The caller downloads (media.h) on
 * a worker thread and stores the result with cl_wa_recv_media_done(): an
 * attachment entry (docs/FORMAT.md §2.7) after the record, on its chain;
 * or reports a failure, retried later. */

#define CL_WA_MEDIA_TRIES 5

struct cl_wa_media_job {
	unsigned char h[32];
	int tries;
	struct cl_buf pt;                 /* the opened job (secret) */
	const char *type, *direct_path;   /* into pt */
	const unsigned char *keymat, *convmat;  /* the record's materials */
	size_t keymat_len, convmat_len;
	const unsigned char *media_key, *enc_sha256, *sha256;
	int64_t sent_ms;
	uint64_t idx;                     /* the record's entry */
	/* for a media retry request (NULL: queued by an older collector) */
	const char *msg_id, *chat;
	const char *participant;          /* a group message's sender, or "" */
	int from_me;
};

void cl_wa_media_job_init(struct cl_wa_media_job *j);
void cl_wa_media_job_release(struct cl_wa_media_job *j);

/* As cl_wa_recv_hist_next(), for the media queue. */
int cl_wa_recv_media_next(struct cl_wa_recv *r, int64_t now_ms,
			  struct cl_wa_media_job *j, int64_t *next_at,
			  char **err);

/* In one batch: the `len` checked plaintext bytes as the attachment of
 * the job's record; the job leaves the queue. */
int cl_wa_recv_media_done(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			  const unsigned char *p, size_t len, int64_t now_ms,
			  char **err);

/* In one batch: `wa-media-failed` and a later attempt, or (after
 * CL_WA_MEDIA_TRIES attempts, or at once when `final`)
 * `wa-media-abandoned` (alert) and the job leaves the queue. */
int cl_wa_recv_media_failed(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			    const char *error, int final, int64_t now_ms,
			    int *abandoned, char **err);

/*
 * Media gone from the media hosts (404/410): ask the phone to upload it
 * again, once per job (mediaretry.h).  In one batch: a
 * `wa-media-retry-requested` coverage entry, the request remembered,
 * and the job's next attempt put off as a failed one's; on CL_OK *req
 * is the receipt to send after the commit (caller frees).  CL_ENOTFOUND
 * when the job was asked for already or cannot be (queued by an older
 * collector): the caller reports the failure (cl_wa_recv_media_failed).
 */
int cl_wa_recv_media_gone(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			  int64_t now_ms, struct cl_wa_node **req, char **err);
/* The request could not be sent after all (no connection): forget it, in
 * a batch of its own, so the job's next attempt asks again. */
int cl_wa_recv_media_unask(struct cl_wa_recv *r, const struct cl_wa_media_job *j,
			   char **err);

/*
 * The phone's answer, a <notification type="mediaretry"> `n`.  In one
 * batch: a `wa-media-retry` coverage entry (record, result) and, on
 * success, the job due now with the new direct path; otherwise
 * `wa-media-abandoned` (alert) and the job leaves the queue (*abandoned
 * set, *idx the record).  CL_ENOTFOUND for an answer to no outstanding
 * request (done already, or never asked), CL_EINVAL (with *err) for a
 * malformed notification: the caller acknowledges both.
 */
int cl_wa_recv_media_answer(struct cl_wa_recv *r, const struct cl_wa_node *n,
			    int64_t now_ms, int *result, int *abandoned,
			    uint64_t *idx, char **err);

/* ---- group changes ------------------------------------------------------------
 * A <notification type=w:gp2> (members added, removed, promoted, demoted;
 * subject, description, settings) as a record of kind "group-" + the
 * change's tag (docs/FORMAT.md §2.9), into the open batch like a message:
 * its ack goes out after the commit.  CL_EINVAL: no group, id or change
 * (nothing written). */
int cl_wa_recv_group(struct cl_wa_recv *r, const struct cl_wa_node *n,
		     int64_t now_ms, struct cl_wa_recv_out *out, char **err);

#endif
