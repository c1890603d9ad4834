/*
 * presealer.h - sealing records ahead, on a server's request threads.
 *
 * The webhook and WeChat receivers answer only after a group commit; the
 * committer is one thread.  What can run before it (keyed hashes,
 * compression, encryption: cl_sealer_prepare) runs on the request threads
 * instead, each with its own sealer, so that the committer only chains,
 * wraps the payload keys and stores (cl_ledger_append_prepared).
 *
 * Prepared entries are kept for reuse: each holds its payload key in
 * guarded memory (sodium_malloc: mmap and mprotect), which is too costly
 * to make and unmap per record in a multi-threaded server (every unmap is
 * a TLB shootdown on every core).  A returned entry's key is wiped.
 */
#ifndef CL_PRESEALER_H
#define CL_PRESEALER_H

#include <pthread.h>

#include "archiver/ingest/record.h"
#include "archiver/ledger/ledger.h"

struct cl_presealer {
	const struct cl_ledger *l;
	pthread_key_t key;        /* each thread's cl_sealer */
	int have_key;
	pthread_mutex_t mu;       /* guards pool */
	struct cl_prepared **pool;
	size_t n;
};

/* Set up for ledger `l` (write mode).  Without thread-specific storage
 * it still works: cl_presealer_seal then leaves records to the committer. */
int cl_presealer_init(struct cl_presealer *ps, const struct cl_ledger *l);
/* After every request thread has ended (their sealers are freed as they
 * end) and every prepared entry is returned. */
void cl_presealer_release(struct cl_presealer *ps);

/* *out: record `rec` sealed on the calling thread, or NULL when it could
 * not be (the committer then appends it with cl_ledger_append).
 * CL_ENOMEM only. */
int cl_presealer_seal(struct cl_presealer *ps, const struct cl_record *rec,
		      struct cl_prepared **out);
/* Give back a prepared entry (NULL: nothing). */
void cl_presealer_put(struct cl_presealer *ps, struct cl_prepared *p);

#endif
