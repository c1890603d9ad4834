/*
 * import.h - the contract between source importers and the ledger.
 *
 * An importer reads one source file (a WhatsApp chat export, saved
 * WhatsApp Business Platform webhook bodies, a WeCom session archive) and
 * turns it into normalised records: JSON objects in the schema of
 * docs/FORMAT.md §2 (the same as `ingest --format jsonl`).  It never
 * touches the ledger; the caller validates each record (cl_record_parse),
 * appends it, quarantines bad items and commits in batches.
 *
 * Importers must be deterministic: the same input yields the same records
 * with the same `id`s, so re-importing stores nothing new.
 */
#ifndef CL_IMPORT_H
#define CL_IMPORT_H

#include <stddef.h>
#include <stdint.h>

struct json_t;

struct cl_import_sink {
	void *ctx;
	/*
	 * One normalised record, `len` bytes of JSON object text.  A
	 * non-zero return stops the import and is returned by it.
	 */
	int (*record)(void *ctx, const char *json, size_t len);
	/*
	 * One bad item: its raw bytes, its location (`item`: the 1-based line
	 * of a text file, or the 1-based position of the item in a JSON
	 * file) and a reason that names the problem without quoting content.
	 * The caller seals and quarantines it.
	 */
	int (*bad)(void *ctx, uint64_t item, const unsigned char *data,
		   size_t len, const char *reason);
	/*
	 * The bytes of an attachment (e.g. a photo in a chat-export zip),
	 * given before the record whose attachments[] lists it by the same
	 * lowercase hex SHA-256.  May be NULL: then attachments are only
	 * described, not stored.
	 */
	int (*blob)(void *ctx, const char *sha256_hex, const char *name,
		    const char *mime, const unsigned char *data, size_t len);
	/*
	 * Optional: the same record as the object the importer built, used
	 * instead of `record` by cl_import_emit (no serialise-and-parse round
	 * trip).  `rec` stays the importer's and may be modified.  Returns
	 * CL_ETOOBIG, having kept nothing, when the record's canonical bytes
	 * exceed CL_RECORD_MAX_LINE (the importer then leaves `raw` out and
	 * tries again); otherwise as `record`.
	 */
	int (*record_json)(void *ctx, struct json_t *rec);
};

struct cl_import_opts {
	const char *account;       /* --account: the business identity */
	const char *conversation;  /* --conversation: chat id (exports) */
	const char *self;          /* --self: who "You" is (exports) */
	const char *tz;            /* --tz: IANA zone for local times */
	const char *date_order;    /* --date-order dmy|mdy|ymd, or NULL */
	const char *input_name;    /* file name, for messages */
};

#endif
