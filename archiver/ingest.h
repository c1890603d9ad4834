/*
 * ingest.h - import normalised records (JSON lines) into the ledger.
 *
 * Each line is validated and normalised (record.h) and appended; a bad
 * line is quarantined: sealed into the ledger as a quarantine entry with
 * its line number and reason, so nothing is lost and nothing is silent.
 * Records are committed in batches; a batch is durable (fsynced and
 * signed) before its records are counted as ingested.
 */
#ifndef CL_INGEST_H
#define CL_INGEST_H

#include <stdint.h>
#include <stdio.h>

#include "archiver/ledger.h"

struct cl_ingest_stats {
	uint64_t lines;        /* non-blank lines read */
	uint64_t ingested;     /* new records appended and committed */
	uint64_t duplicates;   /* already in the archive: skipped */
	uint64_t quarantined;  /* bad lines sealed as quarantine entries */
	uint64_t requarantined; /* bad lines already in quarantine: skipped */
	uint64_t batches;      /* durable commits */
};

struct cl_ingest_opts {
	const char *format;        /* "jsonl" */
	const char *input_name;    /* for messages, e.g. the file name */
	size_t batch_size;         /* records per commit (>= 1) */
	/* Called for each quarantined line after its batch is durable. */
	void (*on_quarantine)(void *ctx, const char *input, uint64_t line,
			      const char *reason, int already);
	/* Called after each durable batch. */
	void (*on_batch)(void *ctx, const struct cl_ingest_stats *st);
	void *ctx;
};

/*
 * Ingest every line of `f`.  Returns CL_OK (all good), CL_EPARTIAL (done,
 * some lines quarantined) or an error (then the batches already reported
 * through on_batch are durable; the current one is rolled back).
 */
int cl_ingest_jsonl(struct cl_ledger *l, FILE *f,
		    const struct cl_ingest_opts *o,
		    struct cl_ingest_stats *st, char **err);

/*
 * Quarantine one bad item: seal `len` bytes of it with its location and
 * reason (the reason must not quote content).  Idempotent per content and
 * reason: *dup is set when the same item was quarantined before.  Must be
 * called inside a batch.
 */
int cl_ingest_quarantine(struct cl_ledger *l, const char *format,
			 const char *input, uint64_t item,
			 const unsigned char *data, size_t len,
			 const char *reason, int *dup, char **err);

#endif
