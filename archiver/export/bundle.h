/*
 * bundle.h - the signed eDiscovery bundle (docs/BUNDLE.md): a BagIt bag
 * with RSMF 2.0 per conversation and slice, HTML transcripts, natives, a
 * Concordance DAT load file, per-record inclusion proofs, per-conversation
 * chain proofs, a custody log and signatures over the tag manifest.
 */
#ifndef CL_BUNDLE_H
#define CL_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/export/bag.h"
#include "archiver/export/select.h"
#include "archiver/export/sign.h"
#include "archiver/ledger/ledger.h"

struct cl_wcfg;

/*
 * Redaction hook (dsar): called for every exported record with its parsed
 * record `rec` (the bundle's own copy; the hook may mask it in place).
 * Setting *reason (a static string) makes the record "redacted": the bag
 * renders the masked record marked with the reason, and its proof line
 * carries the leaf and the inclusion proof but no plaintext or salt
 * (docs/BUNDLE.md §4.2); its attachments are redacted too (left out).
 * Returns CL_OK or an error status (with *err).
 */
typedef int (*cl_bundle_redact_fn)(void *ctx, uint64_t index, json_t *rec,
				   const char **reason, char **err);

struct cl_bundle_opts {
	const char *case_id;        /* External-Identifier: 1-64 printable ASCII;
				     * the folder is EXPORT- and it with other
				     * than [A-Za-z0-9._-] as '_' */
	const char *out_path;       /* FILE.zip or FILE.tar, created exclusively */
	int format;                 /* CL_BAG_ZIP or CL_BAG_TAR (bag.h) */
	const struct cl_select_query *q;
	const char *query_text;     /* the query as the officer gave it (bag-info) */
	int64_t slice_ms;           /* RSMF slice length; divides 24 h */
	int32_t tz_offset_s;        /* slicing and transcript zone (fixed offset) */
	const char *tz_name;        /* its name, for bag-info and headers */
	const char *who;            /* the officer, for the custody log */
	const struct cl_signer *signer; /* NULL: the archive's export key */
	const char *tsa_url;        /* RFC 3161 TSA, or NULL */
	const char *tsa_ca_path;    /* the TSA's root (copied to certs/), or NULL */
	const char *bates_prefix;   /* [A-Z]{1,8}; default "CL" */
	/* Witnesses and TSA ([witness], [timestamp] of chatledger.conf): the
	 * export checkpoint is pushed to them (cl_witness_push, forced) before
	 * the bundle is written, and the cosignatures and RFC 3161 token then
	 * stored for it go into data/proofs/.  NULL or none configured: only
	 * what is already stored (normally nothing). */
	const struct cl_wcfg *witness;
	int64_t now_ms;             /* Bagging-Date and custody times */
	/* Told after each exported entry (done, total); may be NULL. */
	void (*progress)(void *ctx, uint64_t done, uint64_t total);
	void *progress_ctx;
	const char *reason;         /* issue 15: why (sealed in the access entry), or NULL */
	/* Other commands writing the same bag (dsar); all may be NULL. */
	const char *command;        /* access entry and custody; NULL: "export" */
	json_t *access_extra;       /* merged into the access entry's public body, and
	                               into the sealed one unless access_sealed */
	json_t *access_sealed;      /* merged into the sealed body (with reason) */
	json_t *custody_extra;      /* one more custody-log line (borrowed) */
	const char *description;    /* External-Description; NULL: the export's */
	cl_bundle_redact_fn redact; /* NULL: every record in full */
	void *redact_ctx;
};

struct cl_bundle_result {
	uint64_t records, attachments, conversations, slices, erased;
	uint64_t redacted;          /* records and attachments with content withheld */
	uint64_t access_index;      /* the ledger entry recording the export */
	uint64_t size;              /* the export checkpoint's tree size */
	uint64_t payload_bytes, payload_files;
	size_t cosignatures;        /* witness cosignature lines on the checkpoint */
	size_t witnesses;           /* witnesses configured (pushed to) */
	int timestamped;            /* data/proofs/checkpoint.tsr written */
	int witness_late;           /* the log grew before the push: the witnesses
	                               cosigned a later checkpoint, not this one */
};

/*
 * Write the bundle for the query.  `l` is a write handle (the export is
 * recorded with cl_access_record before anything is written); seal_sk the
 * unlocked sealing key.  The file is written as out_path.tmp, synced and
 * renamed, so a failed export leaves nothing at out_path.
 */
int cl_bundle_export(struct cl_ledger *l, const unsigned char *seal_sk,
		     const struct cl_bundle_opts *o, struct cl_bundle_result *r,
		     char **err);

/* A zone for --tz: "UTC", "Z", "+HH:MM"/"-HH:MM", or a named zone without
 * daylight saving time in the supported list (Asia/Hong_Kong, ...).
 * CL_EINVAL otherwise. */
int cl_bundle_tz(const char *name, int32_t *offset_s, char **err);

#endif
