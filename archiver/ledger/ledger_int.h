/*
 * ledger_int.h - internals shared by ledger.c and verify.c.  Not an API.
 */
#ifndef CL_LEDGER_INT_H
#define CL_LEDGER_INT_H

#include <sqlite3.h>
#include <zstd.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/merkle.h"
#include "common/map.h"

#define CL_PAYLOAD_VERSION 1
#define CL_PAYLOAD_MAX (24u << 20)

struct cl_ledger {
	char *dir;
	int mode;
	int lock_fd;
	sqlite3 *db;
	char *origin;
	char *vkey;
	char *key_name;
	unsigned char *log_sk;     /* sodium_malloc, write mode only */
	unsigned char *tag_key;    /* sodium_malloc, write mode only */
	unsigned char seal_pk[32];
	unsigned char *batch_key;  /* sodium_malloc, per batch */
	struct cl_sealer *sealer;  /* for cl_ledger_append() */
	struct cl_prepared *prep;
	int64_t batch_id;
	int in_batch;
	uint64_t size;             /* next index */
	uint64_t committed_size;
	struct cl_merkle_range range, saved_range;
	struct cl_map heads;       /* conversation tag -> last index, leaf hash */
	struct cl_map dirty_heads; /* heads changed in this batch */
	struct cl_map64 keys;      /* key-hash prefix -> index (UINT64_MAX: several) */
	struct cl_buf leafbuf;
	sqlite3_stmt *st_leaf, *st_ins_dedup, *st_get_ch, *st_up_head, *st_ins_entry, *st_ins_payload,
		*st_ins_key, *st_ins_node, *st_er_get, *st_er_key, *st_er_payload,
		*st_er_attrs;
};

/* Prepare `sql` on l->db, once. */
int cl_ledger_prepare(struct cl_ledger *l, sqlite3_stmt **st, const char *sql,
		      char **err);
/* Nonce for wrapping the payload key of entry `index` (unique per batch
 * key, since indexes are unique). */
void cl_ledger_wrap_nonce(uint64_t index, unsigned char n[24]);
/* The conversation tag of the log-wide chain (entries without one). */
void cl_ledger_log_chain_tag(const unsigned char *tag_key, unsigned char out[32]);
/* Lock the archive: LOCK_EX for writers, LOCK_SH for a full verify. */
int cl_archive_lock(const char *dir, int exclusive, int *fd, char **err);

#endif
