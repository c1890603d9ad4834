/*
 * history.h - a history sync blob (zlib-deflated HistorySync protobuf,
 * wa.proto) turned into records of source "whatsapp-md" marked
 * `"history": true` (docs/FORMAT.md §2.9), and per-conversation coverage
 * facts (oldest message, end of history).
 *
 * The records have the same members and the same key material as live
 * ones (account, chat, message id), so a message archived live and again
 * from history is stored once: whichever came first stays, the other is
 * a duplicate.  Messages without content (stubs: group created, member
 * added, ...) and messages that do not parse are counted, not archived.
 *
 * Pure: no ledger, no I/O; the caller appends (collector.c).
 */
#ifndef CL_WA_HISTORY_H
#define CL_WA_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"

#define CL_WA_HIST_MAX (256u << 20)   /* largest inflated blob */

struct cl_wa_hist_meta {
	const char *account;        /* our bare phone JID */
	const char *own_lid;        /* our bare LID, or NULL */
	const char *notification;   /* the notification's stanza id */
	int64_t received_ms;
};

/* One conversation of the blob, after its messages were handed over. */
struct cl_wa_hist_chat {
	const char *id;             /* the chat's bare JID */
	size_t n_messages;          /* records handed to on_record */
	size_t n_skipped;           /* stubs and unreadable messages */
	int64_t oldest_ms, newest_ms;  /* of its records; 0 when none */
	int has_first;
	uint64_t first_index;       /* on_record's index of the oldest */
	int end_of_history;         /* endOfHistoryTransfer */
	int end_type;               /* endOfHistoryTransferType, -1: absent */
};

struct cl_wa_hist_info {
	int sync_type;              /* HistorySyncType, -1: absent */
	unsigned chunk_order, progress;
	size_t n_conversations, n_messages, n_skipped;
};

struct cl_wa_hist_ops {
	/* rec: a record (borrowed); set *index to its ledger index.  A
	 * non-zero return stops the walk and is returned. */
	int (*on_record)(void *ctx, json_t *rec, uint64_t *index);
	int (*on_chat)(void *ctx, const struct cl_wa_hist_chat *chat);
};

/* zlib-inflate `len` bytes into *out (at most CL_WA_HIST_MAX bytes).
 * CL_EINVAL: not zlib data, or truncated; CL_ETOOBIG. */
int cl_wa_hist_inflate(const unsigned char *z, size_t len, struct cl_buf *out,
		       char **err);

/* Walk the inflated HistorySync.  CL_EINVAL when it is not one (*err
 * says so, without content); otherwise what an op returned, or CL_OK. */
int cl_wa_hist_walk(const unsigned char *p, size_t len,
		    const struct cl_wa_hist_meta *meta,
		    const struct cl_wa_hist_ops *ops, void *ctx,
		    struct cl_wa_hist_info *info, char **err);

/* The parts of a HistorySyncNotification protobuf the download needs. */
struct cl_wa_hist_note {
	unsigned char *media_key;   /* 32 bytes, sodium_malloc'd; NULL: none */
	unsigned char enc_sha256[32], sha256[32];
	int has_hashes;
	char *direct_path;          /* malloc'd, or NULL */
	struct cl_buf inline_payload;  /* initialHistBootstrapInlinePayload */
	int has_inline;
};

void cl_wa_hist_note_init(struct cl_wa_hist_note *n);
/* Read `len` bytes of a HistorySyncNotification.  CL_EINVAL: not one, or
 * neither an inline payload nor a complete download reference. */
int cl_wa_hist_note_read(const unsigned char *p, size_t len,
			 struct cl_wa_hist_note *n, char **err);
void cl_wa_hist_note_release(struct cl_wa_hist_note *n);

/* The name of a HistorySyncType ("initial-bootstrap", "full", ...). */
const char *cl_wa_hist_sync_type_name(int type);

#endif
