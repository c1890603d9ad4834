/*
 * ledger_int.h - internals shared by the files of archiver/ledger/ (ledger.c,
 * init.c, seal.c, erase.c, read.c, verify.c).  Not an API.
 */
#ifndef CL_LEDGER_INT_H
#define CL_LEDGER_INT_H

#include <sqlite3.h>
#include <zstd.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/leaf.h"
#include "common/buf.h"
#include "common/map.h"

/* Payload blobs (FORMAT.md §6.3): version 1 is 0x01 || nonce || AEAD and
 * compresses without a dictionary; version 2, which writers write, is
 * 0x02 || AEAD under the all-zero nonce (its key seals nothing else) and
 * compresses with payload dictionary 1 (archiver/ledger/dict/, embedded at
 * build time).  Readers take both. */
#define CL_PAYLOAD_V1 1
#define CL_PAYLOAD_V2 2
#define CL_PAYLOAD_VERSION CL_PAYLOAD_V2
extern const unsigned char cl_payload_dict1[];
extern const size_t cl_payload_dict1_len;
#define CL_PAYLOAD_MAX (24u << 20)
/* SQLite busy_timeout of ledger connections (a writer's BEGIN IMMEDIATE
 * waits this long at most for SQLite's lock, always taken inside the
 * flock; only a WAL checkpoint holds it outside one). */
#define CL_LEDGER_BUSY_MS 30000

struct cl_ledger {
	char *dir;
	int mode;
	int lock_fd;               /* DIR/lock, open from the first batch on */
	int locked;                /* lock_fd holds LOCK_EX (inside a batch) */
	int told_wait;             /* the wait callback was called */
	char lock_name[32];        /* written into DIR/lock with our pid */
	long long wait_limit_ms;   /* < 0: wait without bound */
	cl_ledger_wait_fn wait_fn;
	void *wait_ctx;
	cl_ledger_space_fn space_fn; /* cl_ledger_on_low_space */
	void *space_ctx;
	int64_t space_checked;     /* monotonic ms of the last look, or 0 */
	int64_t space_warned;      /* ... of the last warning, 0: none since not low */
	char *copy_dir;            /* private copy of a read-only archive, or NULL */
	sqlite3 *db;
	char *origin;
	char *vkey;
	char *key_name;
	unsigned char *log_sk;     /* sodium_malloc, write mode only */
	unsigned char *tag_key;    /* sodium_malloc, write mode only */
	unsigned char seal_pk[32];
	unsigned char seal_named[32]; /* the sealing key the log names (write
	                                 mode): its checkpoints name it again */
	unsigned char *batch_key;  /* the key batch's key (in batch_mem), or NULL */
	unsigned char *batch_mem;  /* sodium_malloc'd once, wiped when a key batch
	                              ends: batch key (32) || ephemeral secret (32) */
	unsigned char batch_eph[32]; /* its ephemeral public key */
	int64_t batch_started;     /* monotonic ms when the key batch began */
	int64_t batch_used;        /* ... and when a commit last kept it */
	uint32_t batch_keys;       /* payload keys it has wrapped */
	int batch_fresh;           /* its key_batch row is in the open transaction */
	int batch_span;            /* cl_ledger_key_batches(): across transactions */
	struct cl_sealer *sealer;  /* for cl_ledger_append() */
	struct cl_prepared *prep;
	int64_t batch_id;
	int in_batch;
	int scrub_checked;         /* the first batch looked for 'scrub-pending' */
	uint64_t size;             /* next index */
	uint64_t committed_size;
	int format;                /* meta.format as opened, or as last committed */
	struct cl_merkle_range range, saved_range;
	struct cl_map heads;       /* conversation tag -> last index, leaf hash */
	struct cl_map dirty_heads; /* heads changed in this batch, each with
	                              its value before the batch (u is
	                              CL_LEAF_NOPREV if it had none) */
	struct cl_map64 keys;      /* key-hash prefix -> index (UINT64_MAX: several) */
	struct cl_attrix *attrix;  /* this batch's attr_index postings (attrindex.c) */
	size_t attr_defer;         /* postings held until this many entries */
	int keys_loaded;           /* keys holds the dedup table (loaded by the
	                              first keyed append, not at open: readers
	                              that append only keyless entries never
	                              pay for it) */
	struct cl_walckpt *walckpt; /* the checkpoint thread, or NULL */
	struct cl_buf leafbuf;
	sqlite3_stmt *st_leaf, *st_ins_dedup, *st_get_ch, *st_up_head, *st_ins_entry, *st_ins_payload,
		*st_ins_key, *st_ins_node, *st_er_get, *st_er_key, *st_er_payload,
		*st_er_attrs, *st_er_mark, *st_ins_attr, *st_entry;
	/* Each batch's own statements, prepared once per handle: parsing
	 * them afresh cost a group commit more than its Ed25519 signature. */
	sqlite3_stmt *st_count, *st_cp_have, *st_cp_ins, *st_frontier, *st_key_batch,
		*st_ix_shape, *st_ix_cover, *st_ix_cover_set, *st_ix_attrs;
};

/* Finish the scrub an interrupted erasure left (meta 'scrub-pending'):
 * called once per handle, holding DIR/lock, before its first batch.
 * Best effort: when readers keep the log busy the mark stays for the
 * next writer. */
void cl_ledger_scrub_pending(struct cl_ledger *l);

/* Stop the checkpoint thread, if any (walckpt.c; called by close). */
void cl_ledger_bg_checkpoint_stop(struct cl_ledger *l);

/*
 * A sealer does the per-entry work that needs no database: keyed hashes,
 * compression, encryption.  Each thread uses its own; the ledger has one
 * for cl_ledger_append().  It holds a copy of the tag key and a
 * fast-key-erasure random generator: libsodium expands a 32-byte seed with
 * ChaCha20, the first 32 output bytes replace the seed (so earlier
 * outputs cannot be recomputed from a later memory image) and the rest is
 * handed out; the seed comes from the kernel when the sealer is made.
 */
struct cl_sealer {
	unsigned char *tag_key;  /* sodium_malloc, 32 */
	unsigned char *rng;      /* sodium_malloc: seed, next seed, output */
	ZSTD_CCtx *zc;
	ZSTD_CDict *cdict;        /* payload dictionary 1, level 3 */
	struct cl_buf zbuf;
};

/* Both ends of a payload blob's layout (seal.c, FORMAT.md §6.3), for the
 * opener and verify:
 *   cl_payload_wellformed: ct[0..n) is a blob of a known version no newer
 *     than max_version (the archive format's), long enough for it;
 *   cl_payload_decrypt: authenticate and decrypt a well-formed blob into
 *     inner (room for n bytes): salt || zstd frame, *ilen >= 32 bytes;
 *     CL_ECORRUPT when it fails authentication or is shorter. */
int cl_payload_wellformed(const unsigned char *ct, size_t n, int max_version);
/* The newest payload version archive format `format` may hold. */
int cl_payload_max_version(int format);
/* 1 if a well-formed blob's zstd frame needs payload dictionary 1. */
int cl_payload_uses_dict(const unsigned char *ct);
int cl_payload_decrypt(const unsigned char *ct, size_t n, const unsigned char key[32],
		       unsigned char *inner, size_t *ilen);

struct cl_prepared {
	uint8_t type;
	char kind[CL_KIND_MAX + 1];
	int64_t sent_at, received_at;
	const char *body;        /* borrowed from the cl_entry_in */
	size_t body_len;
	int has_key, has_payload, has_ch;
	int64_t ch;              /* keyed content fingerprint (de-duplication) */
	unsigned char kh[32], conv_tag[32], ct_hash[32], pt_hash[32];
	struct cl_buf ct;        /* the sealed payload */
	unsigned char *key;      /* sodium_malloc: payload key until wrapped */
	struct cl_buf attrs;     /* encoded selector attributes */
};

/* "DIR/NAME", malloc'd (free it), or NULL when out of memory. */
char *cl_ledger_path(const char *dir, const char *name);
/* CL_EIO with "database error while WHAT: <sqlite message>" in *err. */
int cl_ledger_db_err(struct cl_ledger *l, char **err, const char *what);
/* Prepare `sql` on l->db, once. */
int cl_ledger_prepare(struct cl_ledger *l, sqlite3_stmt **st, const char *sql,
		      char **err);
/* Nonce for wrapping the payload key of entry `index` (unique per batch
 * key, since indexes are unique). */
void cl_ledger_wrap_nonce(uint64_t index, unsigned char n[24]);
/* The conversation tag of the log-wide chain (entries without one). */
void cl_ledger_log_chain_tag(const unsigned char *tag_key, unsigned char out[32]);
/*
 * Start read transactions on two connections to one ledger.db that see
 * the same committed state (verify reads payloads on a second thread):
 * retried until the latest checkpoint size read on both agrees, which
 * changes with every commit that changes the ledger's tables.  No lock.
 */
int cl_ledger_snapshot_pair(sqlite3 *a, sqlite3 *b, char **err);

/*
 * The attribute side index (attrindex.c, FORMAT.md §4): created or
 * completed at the start of each batch, the postings of each appended
 * entry collected and written (with the coverage) once they cover
 * l->attr_defer entries, an erased entry removed from its postings before
 * its attrs are nulled.  All inside a batch.
 */
int cl_attrix_begin(struct cl_ledger *l, char **err);
int cl_attrix_add(struct cl_ledger *l, uint64_t idx, const unsigned char *attrs,
		  size_t len, char **err);
int cl_attrix_erase(struct cl_ledger *l, uint64_t idx, char **err);
int cl_attrix_commit(struct cl_ledger *l, char **err);
/* Drop the batch's postings (rollback), and free them (close). */
void cl_attrix_reset(struct cl_ledger *l);
void cl_attrix_free(struct cl_ledger *l);

#endif
