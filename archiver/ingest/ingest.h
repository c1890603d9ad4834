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

#include "archiver/ingest/import.h"
#include "archiver/ledger/ledger.h"

struct cl_record_opts;

struct cl_ingest_stats {
	uint64_t lines;        /* non-blank lines read */
	uint64_t ingested;     /* new records appended and committed */
	uint64_t duplicates;   /* already in the archive: skipped */
	uint64_t conflicts;    /* same message key, different content: kept
	                          as conflicting copies (counted in ingested) */
	uint64_t quarantined;  /* bad lines sealed as quarantine entries */
	uint64_t requarantined; /* bad lines already in quarantine: skipped */
	uint64_t batches;      /* durable commits */
	uint64_t attachments;  /* attachment entries stored */
	struct {
		char kind[33];
		uint64_t n;
	} kinds[48];           /* new records per kind (the rest: "other") */
	size_t n_kinds;
};

#define CL_INGEST_MAX_THREADS 16

struct cl_ingest_opts {
	const char *format;        /* "jsonl" */
	const char *input_name;    /* for messages, e.g. the file name */
	size_t batch_size;         /* records per commit (>= 1) */
	size_t threads;            /* JSON lines: threads that parse and seal,
	                              at most CL_INGEST_MAX_THREADS (0: one
	                              per online CPU, at most 4) */
	const struct cl_record_opts *classify; /* labels added at ingest, or NULL */
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

/* The ledger entry of a validated, normalised record (borrows rec's
 * buffers, which must outlive the append). */
struct cl_record;
void cl_ingest_entry_from_record(struct cl_entry_in *in, const struct cl_record *rec);

/* An importer (import.h): cl_chatexport_import, cl_cloudapi_import_file... */
typedef int (*cl_importer_fn)(const char *path, const struct cl_import_opts *o,
			      const struct cl_import_sink *sink, char **err);

/*
 * Run `importer` over `path` and append what it emits: records are
 * validated and appended, bad items quarantined, attachments stored as
 * their own entries after the record that lists them.  Same return values
 * and batching as cl_ingest_jsonl().
 */
int cl_ingest_import(struct cl_ledger *l, cl_importer_fn importer,
		     const char *path, const struct cl_import_opts *io,
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
			 const char *reason, enum cl_append_outcome *dup, char **err);

#endif
