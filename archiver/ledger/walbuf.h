/*
 * walbuf.h - a SQLite VFS for the ledger's writers that gathers the
 * frames a transaction appends to its WAL file and hands them to the
 * kernel in one write, at the transaction's sync.
 *
 * SQLite writes each WAL frame with two calls (a 24-byte header, then the
 * page), so a commit of N pages costs 2N system calls before its
 * fdatasync; on a virtual machine each call costs several microseconds.
 * This VFS wraps the default one: writes to a WAL file that continue the
 * previous one are copied into a buffer (CL_WALBUF_BYTES), and the buffer
 * goes to the file in one pwrite before anything could depend on it:
 *
 *   - before the WAL file is synced, read, truncated, sized or closed,
 *     before any file control, and when a write does not continue the
 *     buffer or would overflow it;
 *   - before the database's shared-memory index is changed or its locks
 *     move (xShmBarrier, xShmLock), which is how a commit is published to
 *     other connections: a reader can never find a frame in the index that
 *     is not in the file, whatever the synchronous setting.
 *
 * Nothing is acknowledged earlier than before: a commit returns after the
 * sync, and the sync comes after the write.  A failed write surfaces at
 * the sync (or whichever call flushed), which fails the transaction as a
 * failed write would have.  The buffer is wiped after each write.
 * Database-file writes (checkpoints) pass straight through.
 */
#ifndef CL_WALBUF_H
#define CL_WALBUF_H

#define CL_WALBUF_VFS "chatledger-walbuf"
/* SQLite's unix VFS writes at most 0x1ffff bytes in one call (it masks
 * larger sizes), so one gathered write stays below that. */
#define CL_WALBUF_BYTES (120u << 10)

/* Register the VFS (once per process; not as the default).  Returns a
 * SQLite result code. */
int cl_walbuf_register(void);

#endif
