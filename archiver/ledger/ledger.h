/*
 * ledger.h - the append-only, hash-chained, signed store.
 *
 * An archive is a directory (docs/FORMAT.md §1) holding the key files of
 * vault.h, chatledger.conf and ledger.db, an SQLite database in WAL mode.
 * Any number of processes may hold a write handle on one archive.  Each
 * batch (begin .. commit) holds the exclusive lock on DIR/lock from
 * cl_ledger_begin() to the end of cl_ledger_commit() or
 * cl_ledger_rollback(), and nothing else does: begin first catches up
 * with what other writers appended since this handle's last batch.  Each
 * batch is one SQLite transaction that also stores a signed checkpoint of
 * the new tree, so a crash at any instant leaves either the whole batch,
 * signed, or none of it.  Read handles take no lock: each reads one
 * snapshot (one read transaction for the handle's life).
 */
#ifndef CL_LEDGER_H
#define CL_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ledger/leaf.h"
#include "common/buf.h"
#include "common/util.h"

#define CL_OPEN_READ 0
#define CL_OPEN_WRITE 1
/* Read-only, as a read-only copy even when the directory is writable: no
 * lock, the WAL read through a private copy (rocopy.h).  Only for a copy
 * that no writer is using. */
#define CL_OPEN_READ_COPY 2

#define CL_NODE_LEVEL 8 /* perfect subtrees of >= 256 leaves are stored */

struct cl_ledger;

/* The archive format this build writes (meta.format), the oldest it reads,
 * and what it says about a format-1 archive (docs/FORMAT.md §10).  Format
 * 3 adds payload version 2; a writer upgrades a format-2 archive to 3 in
 * the first batch it commits, since that batch may hold such payloads. */
#define CL_ARCHIVE_FORMAT 3
#define CL_ARCHIVE_FORMAT_MIN 2
#define CL_FORMAT1_REFUSAL "format 1 archive: this chatledger reads formats 2" \
	" and 3 (docs/FORMAT.md §10); use the release that created it"

/* What to append.  Key and conversation are opaque material that is
 * reduced to keyed hashes; the plaintext is sealed; the body is public. */
struct cl_entry_in {
	uint8_t type;                   /* CL_ENTRY_* */
	const char *kind;               /* [a-z][a-z0-9_-]{0,31} */
	int64_t sent_at;                /* ms, or CL_TIME_NONE */
	int64_t received_at;            /* ms, or CL_TIME_NONE */
	const void *key;                /* idempotency key material, or NULL */
	size_t key_len;
	const void *conv;               /* conversation material, or NULL for
	                                   the log-wide chain */
	size_t conv_len;
	const unsigned char *plaintext; /* sealed payload, or NULL */
	size_t plaintext_len;
	const char *body;               /* public JSON body, or NULL */
	size_t body_len;
	const char *attrs;              /* "type=value\0"..., or NULL: stored
	                                   as keyed hashes for selection */
	size_t attrs_len;
	const unsigned char *conv_tag;  /* if set: this conversation tag is
	                                   used as is (tombstones) */
	const void *fp;                 /* content fingerprint material, or
	                                   NULL: with a key, tells a duplicate
	                                   from a conflicting redelivery */
	size_t fp_len;
};

struct cl_archive_opts {
	const char *origin;             /* checkpoint origin and key name */
	const unsigned char *pass;      /* sealing-key passphrase */
	size_t passlen;
	int kdf;                        /* CL_KDF_* */
};

/* Create a new archive in `dir` (created 0700; must not exist or be an
 * empty directory).  Never overwrites: CL_EEXIST. */
int cl_archive_init(const char *dir, const struct cl_archive_opts *o,
		    char **err);

/*
 * Open an archive.  Neither mode takes a lock.  CL_OPEN_READ reads one
 * consistent committed state (a read transaction held until close);
 * CL_OPEN_WRITE loads the writer's indexes and keys, and takes the writer
 * lock only inside batches (cl_ledger_begin).  A directory the caller
 * cannot write is read as a read-only copy (rocopy.h), as with
 * CL_OPEN_READ_COPY.
 */
int cl_ledger_open(const char *dir, int mode, struct cl_ledger **out,
		   char **err);
void cl_ledger_close(struct cl_ledger *l);

/*
 * Told once per handle, when cl_ledger_begin() finds the writer lock held
 * and has waited CL_LEDGER_WAIT_NOTE_MS without getting it: `pid` and
 * `name` are the holder's as it wrote them into DIR/lock (pid 0 and ""
 * if unknown), `limit_ms` the bound set with cl_ledger_set_wait (-1: none).
 */
#define CL_LEDGER_WAIT_NOTE_MS 200
typedef void (*cl_ledger_wait_fn)(void *ctx, long pid, const char *name,
				  long long limit_ms);
/*
 * How a write handle waits for the writer lock: at most `limit_ms`
 * milliseconds (then cl_ledger_begin() fails with CL_EBUSY), or without
 * bound if limit_ms < 0 (the default); `fn` (may be NULL) is told as
 * above.  `name` ([a-z0-9_-], at most 31 bytes; others are cut or
 * replaced) is written with this process's pid into DIR/lock while this
 * handle holds the lock, for the next waiter's message; default
 * "chatledger".  The strings are copied.
 */
int cl_ledger_set_wait(struct cl_ledger *l, const char *name, long long limit_ms,
		       cl_ledger_wait_fn fn, void *ctx);

/*
 * Told when the archive's file system is low on space (cl_disk_space):
 * after a commit (or a failed one), the writer looks at most once every
 * CL_LEDGER_SPACE_CHECK_MS and, while it is low, calls `fn` at most once
 * every CL_LEDGER_SPACE_WARN_MS (at once again after it was not low), on
 * the committing thread, outside the transaction.  NULL: never.
 */
#define CL_LEDGER_SPACE_CHECK_MS (60LL * 1000)
#define CL_LEDGER_SPACE_WARN_MS (3600LL * 1000)
typedef void (*cl_ledger_space_fn)(void *ctx, uint64_t free_bytes, uint64_t total_bytes);
void cl_ledger_on_low_space(struct cl_ledger *l, cl_ledger_space_fn fn, void *ctx);

const char *cl_ledger_origin(const struct cl_ledger *l);
const char *cl_ledger_dir(const struct cl_ledger *l);
/* meta.format as read at open (or written by this handle's last commit):
 * below CL_ARCHIVE_FORMAT until a writer's first commit upgrades it. */
int cl_ledger_format(const struct cl_ledger *l);
/*
 * The ledger's SQLite connection (a `sqlite3 *`), for side tables that a
 * caller owns in ledger.db (the webhook's media_pending, created with
 * CREATE TABLE IF NOT EXISTS).  Rules: use it only on the thread that
 * uses the ledger; never read or write the ledger's own tables
 * (docs/FORMAT.md §4) through it; statements run inside a batch are part
 * of that batch's transaction (committed or rolled back with it).
 */
struct sqlite3 *cl_ledger_sqlite(struct cl_ledger *l);
/* Number of committed entries (plus appended ones inside a batch). */
uint64_t cl_ledger_size(const struct cl_ledger *l);

/*
 * Start a batch (write mode only): take the writer lock (waiting as
 * cl_ledger_set_wait says; CL_EBUSY past the bound), open the SQLite
 * write transaction (BEGIN IMMEDIATE, always inside the lock), then catch
 * up with the entries other writers committed since this handle's last
 * batch (tree frontier, chain heads, key index, size).  On failure the
 * lock is released.
 */
int cl_ledger_begin(struct cl_ledger *l, char **err);

/* What an append did with an entry that carries a message key. */
enum cl_append_outcome {
	CL_APPEND_NEW = 0,       /* stored as a new entry */
	CL_APPEND_DUPLICATE,     /* key and content seen before: nothing
	                            written, *index is the existing entry */
	CL_APPEND_CONFLICT       /* key seen with other content: stored as a
	                            conflicting copy under a derived key */
};

/*
 * Append one entry.  If its key was seen before (committed or earlier in
 * this batch) with the same content, nothing is written, *dup is set to
 * CL_APPEND_DUPLICATE and *index to the existing entry's index.  If the
 * key was seen with different content (a conflicting redelivery), the
 * entry is stored under a key derived from the original and its content,
 * and *dup is set to CL_APPEND_CONFLICT; a later copy of that same content
 * is then a duplicate.  Otherwise *dup is CL_APPEND_NEW.
 */
int cl_ledger_append(struct cl_ledger *l, const struct cl_entry_in *in,
		     uint64_t *index, enum cl_append_outcome *dup, char **err);
/*
 * Appending in two steps, so the expensive part can run on other threads:
 * a sealer (one per thread; needs a write-mode ledger to copy its tag key
 * from) prepares an entry (keyed hashes, compression, encryption) without
 * touching the ledger; cl_ledger_append_prepared() then de-duplicates,
 * chains, wraps the payload key and stores it, in a batch, on the ledger's
 * thread.  cl_ledger_append() is both steps in one.  The prepared entry
 * borrows in->body until it is appended.
 */
struct cl_sealer;
struct cl_prepared;
int cl_sealer_new(const struct cl_ledger *l, struct cl_sealer **out);
void cl_sealer_free(struct cl_sealer *s);
int cl_prepared_new(struct cl_prepared **out);
void cl_prepared_free(struct cl_prepared *p);
/* Wipe the payload key a prepared entry holds, to keep it for reuse. */
void cl_prepared_wipe(struct cl_prepared *p);
int cl_sealer_prepare(struct cl_sealer *s, const struct cl_entry_in *in,
		      struct cl_prepared *p, char **err);
const char *cl_prepared_kind(const struct cl_prepared *p);
int cl_ledger_append_prepared(struct cl_ledger *l, struct cl_prepared *p,
			      uint64_t *index, enum cl_append_outcome *dup, char **err);

/* Sign a checkpoint for the new size and commit durably (fsync), then
 * release the writer lock (also on failure, after rolling back). */
int cl_ledger_commit(struct cl_ledger *l, char **err);
/* Undo the open batch, in memory too, and release the writer lock. */
void cl_ledger_rollback(struct cl_ledger *l);

/* The stored form of one selector attribute: the first 8 bytes of a
 * keyed BLAKE2b hash of "type=value" (write mode only: needs tag.key). */
int cl_ledger_attr_hash(const struct cl_ledger *l, const char *type,
			const char *value, uint64_t *out);

/*
 * Erase entry `index` (in a batch): destroy its sealed key and its
 * ciphertext, drop its selector attributes, and append a tombstone in the
 * same conversation chain whose public body is
 * {"erased":N,"reason":REASON,"rule":RULE} (no personal data).
 * *already is set (and nothing written) if it was erased before.
 * CL_EINVAL if the entry has no payload to erase (e.g. a tombstone).
 */
int cl_ledger_erase(struct cl_ledger *l, uint64_t index, const char *rule,
		    const char *reason, int *already, char **err);

/*
 * After erasures: fold the WAL into the database and truncate it, so no
 * page that held an erased ciphertext or key survives in any file
 * (secure_delete already zeroes the freed space in the database); then
 * remove meta 'scrub-pending', which each erasure sets.  A writer that
 * finds the mark (the eraser died first) scrubs before its first batch.
 */
int cl_ledger_scrub(struct cl_ledger *l, char **err);

/* Iterate entries of one type in index order: fn(ctx, index, leaf bytes,
 * attrs blob or NULL, attrs length, has_payload).  A non-zero return from
 * fn stops and is returned. */
typedef int (*cl_ledger_entry_fn)(void *ctx, uint64_t index,
				  const unsigned char *leaf, size_t leaf_len,
				  const unsigned char *attrs, size_t attrs_len,
				  int has_payload);
int cl_ledger_each(struct cl_ledger *l, int type, cl_ledger_entry_fn fn,
		   void *ctx, char **err);

/*
 * Hold one read transaction on a write handle between batches, so that
 * many reads see one committed state and take SQLite's read lock once
 * instead of once per statement.  *started says whether this call began
 * one (not inside a batch, nor on a read handle, which holds one for its
 * life); pass it to cl_ledger_read_end(), which ends only what was begun.
 * No batch may begin in between.
 */
int cl_ledger_read_begin(struct cl_ledger *l, int *started, char **err);
void cl_ledger_read_end(struct cl_ledger *l, int started);

/*
 * Read the database through a memory map (SQLite's mmap_size) on this
 * handle: for the officers' query commands (search, show), which read
 * pages once, at random.  A map saves copying each page into SQLite's
 * cache and the cache's allocations.  ledger.db is never truncated while
 * open (no VACUUM; erasure overwrites in place), so a mapped page cannot
 * disappear under a reader.  Not for the long-running writers, nor for
 * export: mapped pages count towards the resident size.
 */
#define CL_LEDGER_MMAP_BYTES "1099511627776"
int cl_ledger_map_reads(struct cl_ledger *l, char **err);

/*
 * The entries whose selector attributes (entry.attrs) carry any of the
 * hashes h[0..n), ascending, through the attr_index side table
 * (FORMAT.md §4): *out is malloc'd (free it).  Every candidate is checked
 * against the entry's committed attrs; entries past the index's recorded
 * coverage are found by reading their attrs.  *usable is 0 (and *out
 * NULL) when the archive has no index yet: scan instead.
 */
int cl_ledger_attr_lookup(struct cl_ledger *l, const uint64_t *h, size_t n,
			  uint64_t **out, size_t *n_out, int *usable, char **err);
/*
 * Postings of the attribute index are held in memory across commits
 * until they cover `entries` entries (default CL_ATTR_DEFER; 0: written
 * at every commit), so small, frequent commits do not each rewrite a
 * random page per hash.  Readers find the held entries by reading their
 * attrs past the recorded coverage.
 */
#define CL_ATTR_DEFER 4096u
/* The connection's SQLite page cache, in KiB (a writer opens with 64 MiB,
 * for bulk imports; a long-running collector keeps it small so its
 * memory stays flat once warm). */
#define CL_LEDGER_CACHE_KIB 65536u
int cl_ledger_set_cache(struct cl_ledger *l, unsigned kib, char **err);
/*
 * A bulk import (ingest) on this handle: SQLite's automatic checkpoint
 * waits for CL_LEDGER_BULK_WAL_FRAMES frames in the WAL instead of 1,000,
 * so the index pages that every batch touches again are copied back into
 * ledger.db once per many batches rather than once per few.  The WAL then
 * holds up to about that many pages (40 MiB at 4 KiB) while the import
 * runs; it is checkpointed and removed when the last connection closes, as
 * always.  Off (on = 0) restores the default.  A handle with the
 * checkpoint thread (cl_ledger_bg_checkpoint) keeps its own policy.
 */
#define CL_LEDGER_BULK_WAL_FRAMES 10000
#define CL_LEDGER_WAL_FRAMES 1000      /* SQLite's default automatic checkpoint */

/*
 * Key batches (FORMAT.md §6.2): one ephemeral X25519 key whose shared key
 * with the archive's sealing key wraps payload keys.  By default a key
 * batch ends with its transaction (or after CL_KEY_BATCH_KEYS payload
 * keys, whichever comes first).  A service that commits many small
 * transactions may let one go on across them (on = 1; the receivers,
 * webhook and wechat serve, do): the two X25519 operations that begin a
 * key batch, about 140 us here, were a tenth of `wechat serve`'s CPU per
 * answer.  A key batch then still ends (its key wiped) at the first
 * commit CL_KEY_BATCH_MS or more after its start, after CL_KEY_BATCH_KEYS
 * payload keys, at a rollback that took its row, at
 * cl_ledger_key_batches(l, 0) (the service stops) and when the handle
 * closes.  Outside a transaction the service must call
 * cl_ledger_key_batch_idle() when it goes idle and again when the
 * milliseconds it returns have passed: it
 * ends the key batch once no commit has kept it for CL_KEY_BATCH_MS, so
 * that no key that can unwrap stored payload keys stays in memory longer
 * than that.  It returns -1 when no key batch is open (nothing to wait
 * for).
 */
#define CL_KEY_BATCH_MS 1000
#define CL_KEY_BATCH_KEYS 10000u
void cl_ledger_key_batches(struct cl_ledger *l, int on);
long long cl_ledger_key_batch_idle(struct cl_ledger *l);
void cl_ledger_bulk(struct cl_ledger *l, int on);
/*
 * Checkpoint the WAL on a thread of its own (walckpt.c) instead of inside
 * the commit that fills it, so no commit waits for a checkpoint: for the
 * long-running receivers (collector, webhook, WeChat).  Write handles
 * only (a no-op otherwise); stopped by cl_ledger_close().  The runs so
 * far, for tests.
 */
int cl_ledger_bg_checkpoint(struct cl_ledger *l, char **err);
unsigned long long cl_ledger_bg_checkpoints(const struct cl_ledger *l);
void cl_ledger_set_attr_defer(struct cl_ledger *l, size_t entries);
/* Rebuild the attribute index from entry.attrs (in a batch). */
int cl_attrix_rebuild(struct cl_ledger *l, char **err);
/*
 * One entry, as cl_ledger_each() gives it: fn(ctx, index, leaf, attrs,
 * has_payload).  CL_ENOTFOUND if there is no such entry.  fn must not
 * call cl_ledger_entry() itself (the handle's statement is in use).
 */
int cl_ledger_entry(struct cl_ledger *l, uint64_t index, cl_ledger_entry_fn fn,
		    void *ctx, char **err);
/*
 * Every entry of conversation conv_tag's chain (any type), newest first,
 * from its chain head through the committed prev_index links, as
 * cl_ledger_each() gives entries.  Nothing if the conversation has none.
 */
int cl_ledger_conv_each(struct cl_ledger *l, const unsigned char conv_tag[32],
			cl_ledger_entry_fn fn, void *ctx, char **err);

/* *yes = 1 if a record entry (type CL_ENTRY_RECORD) other than an
 * attachment lies strictly between indexes a and b. */
int cl_ledger_record_between(struct cl_ledger *l, uint64_t a, uint64_t b, int *yes,
			     char **err);

/* Reads. */
int cl_ledger_leaf(struct cl_ledger *l, uint64_t index, struct cl_buf *out,
		   char **err);
/* The latest signed checkpoint note (text + signatures) appended to out. */
int cl_ledger_checkpoint(struct cl_ledger *l, uint64_t size,
			 struct cl_buf *out, char **err);
/* Sizes of all stored checkpoints, ascending (malloc'd array). */
int cl_ledger_checkpoint_sizes(struct cl_ledger *l, uint64_t **sizes,
			       size_t *n, char **err);
/* A C2SP tlog-proof for `index` against the checkpoint of `size`
 * (0 = the latest). */
int cl_ledger_prove(struct cl_ledger *l, uint64_t index, uint64_t size,
		    struct cl_buf *out, char **err);
/* A consistency proof between the checkpoints of old_size and new_size
 * (0 = latest). */
int cl_ledger_prove_consistency(struct cl_ledger *l, uint64_t old_size,
				uint64_t new_size, struct cl_buf *out,
				char **err);
/* Decrypt one entry's payload with the secret sealing key; checks the
 * ciphertext and plaintext hashes against the leaf.  CL_ENOTFOUND if the
 * entry has no payload or it was erased. */
int cl_ledger_open_payload(struct cl_ledger *l, uint64_t index,
			   const unsigned char *seal_sk, struct cl_buf *out,
			   char **err);
/* The same, and (salt not NULL) the 32-byte salt of pt_hash (FORMAT.md
 * §6.3) copied to salt[0..31] on success: an export proves the record
 * against its leaf with it (docs/BUNDLE.md). */
int cl_ledger_open_payload_salt(struct cl_ledger *l, uint64_t index,
				const unsigned char *seal_sk, struct cl_buf *out,
				unsigned char *salt, char **err);

/*
 * A payload opener: cl_ledger_open_payload_salt() for many entries of one
 * handle without the per-entry setup (opener.c).  It keeps one guarded
 * (sodium_malloc) scratch region for the payload key and the decrypted
 * frame, the shared key of the key batch of the entry opened last (the
 * entries of one batch unwrap their keys with one X25519), a zstd context
 * and the prepared query.  seal_sk is borrowed and must outlive the
 * opener; free the opener before closing the ledger.  The payload key and
 * frame are wiped after every entry, the batch's shared key when another
 * batch's entry is opened and by cl_opener_free().  One thread.
 */
struct cl_opener;
int cl_opener_new(struct cl_ledger *l, const unsigned char *seal_sk,
		  struct cl_opener **out, char **err);
/* Open entry `index` as cl_ledger_open_payload_salt() does (the plaintext
 * appended to out; salt may be NULL); if leaf is not NULL, the entry's
 * leaf bytes are appended to it as well. */
int cl_opener_open(struct cl_opener *o, uint64_t index, struct cl_buf *out,
		   unsigned char *salt, struct cl_buf *leaf, char **err);
void cl_opener_free(struct cl_opener *o);

/*
 * A prover: cl_ledger_prove() for many entries against one checkpoint
 * (read.c).  The checkpoint is loaded and its signature and root checked
 * once; the leaf hashes of the last 256-leaf block read and the stored
 * nodes looked up are cached, so proofs for nearby entries read little.
 * Every proof is still verified against the checkpoint's root before it
 * is handed out.  Free it before closing the ledger.
 */
struct cl_prover;
int cl_prover_new(struct cl_ledger *l, uint64_t size, struct cl_prover **out,
		  char **err);
/* The tlog-proof for `index` appended to out, as cl_ledger_prove(). */
int cl_prover_prove(struct cl_prover *p, uint64_t index, struct cl_buf *out,
		    char **err);
void cl_prover_free(struct cl_prover *p);

/*
 * The newest entry of conversation `conv_tag` below index `below` whose
 * type is `type_a` or `type_b` (0: any type), found from the chain head
 * through the committed prev_index links: *found is 0 when there is none.
 */
int cl_ledger_conv_head(struct cl_ledger *l, const unsigned char conv_tag[32],
			uint64_t below, int type_a, int type_b, uint64_t *index,
			int *found, char **err);

struct cl_ledger_stats {
	uint64_t entries;
	uint64_t by_type[6];          /* indexed by CL_ENTRY_* */
	uint64_t payloads;            /* entries whose ciphertext is stored */
	uint64_t checkpoints;
	uint64_t last_checkpoint_size;
	int64_t last_checkpoint_at;   /* ms, or CL_TIME_NONE */
	int64_t last_logged_at;       /* ms of the newest entry, or CL_TIME_NONE */
	/* The growth window for status's projection: the newest checkpoint
	 * signed at least CL_STATS_WINDOW_MS before now, or else the oldest
	 * checkpoint (size and ms; window_at CL_TIME_NONE without one). */
	uint64_t window_size;
	int64_t window_at;
};

#define CL_STATS_WINDOW_MS (7LL * 24 * 3600 * 1000)

/* Counts for `status`. */
int cl_ledger_stats(struct cl_ledger *l, struct cl_ledger_stats *s, char **err);

#endif
