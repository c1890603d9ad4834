/*
 * record.h - the normalised message record (docs/FORMAT.md §2).
 *
 * cl_record_parse() validates one JSON object against the schema, fills
 * defaults, converts timestamps to UTC and produces the canonical bytes:
 * the object serialised by jansson with sorted keys and no whitespace.
 * Unknown fields are kept.
 */
#ifndef CL_RECORD_H
#define CL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ledger/leaf.h"  /* CL_KIND_MAX, cl_kind_valid() */

#define CL_RECORD_MAX_LINE (8u << 20)  /* one JSON line */
#define CL_RECORD_MAX_ID 512u          /* ids, accounts, names */
#define CL_RECORD_MAX_TEXT (1u << 20)  /* the text field */
#define CL_RECORD_MAX_RAW (6u << 20)   /* the raw field, base64 */
#define CL_RECORD_MAX_LABELS 64u
#define CL_RECORD_MAX_ATTACH 256u
#define CL_RECORD_MAX_IDENTS 32u       /* the identifiers field */

struct cl_record {
	char *canonical;          /* canonical JSON (malloc'd) */
	size_t canonical_len;
	char *key;                /* source message key material (malloc'd) */
	size_t key_len;
	char *conv;               /* conversation identity material (malloc'd) */
	size_t conv_len;
	char kind[CL_KIND_MAX + 1];
	int64_t sent_at;          /* ms since epoch, UTC */
	int64_t received_at;      /* ms, or CL_TIME_NONE */
	char *fp;                 /* content fingerprint material: the fields
	                             that make two deliveries "the same
	                             message" (malloc'd canonical JSON) */
	size_t fp_len;
	char *attrs;              /* selector attributes for retention and
	                             search: "type=value\0" repeated (malloc'd) */
	size_t attrs_len;
	char source[CL_KIND_MAX + 1];
	char *idents;             /* canonical forms of `identifiers`, each
	                             NUL-terminated, when it lists two or more
	                             (a source stating they are one party);
	                             else NULL (malloc'd) */
	size_t idents_len, n_idents;
};

/*
 * Parse and normalise one record from `len` bytes of JSON.  On failure
 * returns CL_EINVAL and sets *err to a reason that names the field but
 * never quotes message content.  `r` is cleared first; release it with
 * cl_record_release() in every case.
 */
int cl_record_parse(const char *json, size_t len, struct cl_record *r,
		    char **err);
void cl_record_release(struct cl_record *r);

/*
 * Classification at ingest: labels added to every record (ingest
 * --label), and the labels configured for the record's account
 * (chatledger.conf [labels]; account_labels may be NULL).  Added labels
 * become part of the sealed record, the attributes and the evidence; a
 * record keeps the labels it came with.  Labels are checked by
 * check_labels' rules after they are added (the 64-label limit holds).
 */
struct cl_record_opts {
	const char *const *labels;
	size_t n_labels;
	/* Fill out[0..cap) with the account's labels (borrowed, living as
	 * long as ctx), return how many; may be called from several threads
	 * at once. */
	size_t (*account_labels)(void *ctx, const char *account, const char **out,
				 size_t cap);
	void *ctx;
};
int cl_record_parse_opts(const char *json, size_t len, const struct cl_record_opts *o,
			 struct cl_record *r, char **err);

#endif
