/*
 * import_util.h - helpers shared by the importers that read JSON sources
 * (import_cloudapi.c, import_wecom.c) and build records with jansson
 * (those two and import_whatsapp.c).
 *
 * Internal to archiver/: the importers' public contract is import.h.
 * Everything here is pure: no I/O besides the sink callbacks.
 */
#ifndef CL_IMPORT_UTIL_H
#define CL_IMPORT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/ingest/import.h"
#include "archiver/ingest/record.h"

/* How an item is re-serialised when its exact bytes are not at hand. */
#define CL_IMPORT_DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

/* ---- reading a source item ------------------------------------------- */

/*
 * Member `k` of `o` if it is a string of 1..max bytes, else NULL (also
 * when `o` is NULL or not an object).  The string is borrowed from `o`.
 */
const char *cl_json_str(json_t *o, const char *k, size_t max);

/* Member `k` of `o` if it is a string (possibly empty), else NULL; borrowed. */
json_t *cl_json_str_any(json_t *o, const char *k);

/* ---- building a record ----------------------------------------------- */

/*
 * Set member `k` of `o` to `v`, taking over the caller's reference to `v`
 * whether it succeeds or not (json_object_set_new); a NULL `v` fails.
 * Returns CL_OK or CL_ENOMEM.
 */
int cl_json_set_new(json_t *o, const char *k, json_t *v);

/* Set member `k` of `o` to a copy of string `s`.  CL_OK or CL_ENOMEM. */
int cl_json_set_str(json_t *o, const char *k, const char *s);

/*
 * Share `v` as member `k` of `o` (a new reference: `v` stays the
 * caller's); does nothing when `v` is NULL.  Returns CL_OK or CL_ENOMEM.
 */
int cl_json_set_ref(json_t *o, const char *k, json_t *v);

/* The members every record has (docs/FORMAT.md §2). */
struct cl_import_head {
	const char *source;       /* the importer: "cloudapi", "wecom" */
	const char *account;
	const char *id;
	const char *conv_id;
	const char *conv_type;    /* "direct", "group", or NULL: left out */
	const char *conv_name;    /* or NULL: left out */
	const char *sender_id;
	const char *sender_type;  /* or NULL: left out */
	const char *direction;    /* "in" or "out" */
	const char *kind;
	int64_t sent_at;          /* ms since the epoch, UTC */
};

/*
 * A new record object with the members of `h`: source, account, id,
 * direction, kind, sent_at (RFC 3339), conversation {id, type, name} and
 * sender {id, type}.  Every string is copied.  The caller json_decref()s
 * the result; NULL when out of memory.
 */
json_t *cl_import_record_new(const struct cl_import_head *h);

/*
 * a + sep + b, NUL-terminated, into out[cap].  Returns 0, or -1 (out
 * untouched) if it does not fit.
 */
int cl_import_join(char *out, size_t cap, const char *a, const char *sep,
		   const char *b);

/*
 * The record kind for source type `type`, into `out`: `type` itself when
 * it is a valid kind (cl_kind_valid) that is not in the NULL-terminated
 * list `reserved` (kinds chatledger gives another meaning), otherwise
 * `prefix` + `type` lower-cased, with characters outside [a-z0-9_-] as
 * '_', cut at CL_KIND_MAX bytes.  `prefix` (e.g. "wecom-") must start
 * with a letter and be shorter than CL_KIND_MAX bytes.
 */
void cl_import_kind(const char *type, const char *const *reserved,
		    const char *prefix, char out[CL_KIND_MAX + 1]);

/* ---- handing over ---------------------------------------------------- */

/*
 * CL_OK if `sink` has record and bad callbacks, else CL_EINVAL with a
 * message in *err.
 */
int cl_import_check_sink(const struct cl_import_sink *sink, char **err);

/*
 * Finish record `rec` and hand it to sink->record_json, or else to
 * sink->record: add "raw" (the base64 of raw[0..len)) and "raw_form"
 * (`raw_form`); for sink->record serialise it compactly with sorted keys.  A raw that would break the record's size limits is
 * left out (raw_form "omitted"); a record still longer than
 * CL_RECORD_MAX_LINE becomes bad item `item` (sink->bad, with the raw
 * bytes) instead.  `rec` stays the caller's and is modified.  Returns
 * CL_OK, CL_ENOMEM or the sink's non-zero return.
 */
int cl_import_emit(const struct cl_import_sink *sink, uint64_t item,
		   json_t *rec, const unsigned char *raw, size_t len,
		   const char *raw_form);

#endif
