/*
 * import_whatsapp.h - the WhatsApp "Export chat" importer (.txt and .zip).
 *
 * A pure parser: it reads an export and hands normalised records (the
 * schema of docs/FORMAT.md §2, source "whatsapp-export"), attachment bytes
 * and bad items to a cl_import_sink (import.h).  It never touches the
 * ledger.  The mapping from export lines to records is described in
 * docs/FORMAT.md (§2.8, "WhatsApp chat exports").
 *
 * Determinism: the same export, with the same options, yields the same
 * records in the same order with the same ids.  The conversation id comes
 * from the chat's participants or group subject, not from the file's name
 * ("whatsapp-export:direct:<other party>", "whatsapp-export:group:<earliest
 * subject>", or "whatsapp-export:chat:<name>" when neither can be told).
 * Message ids are "wa-export:" followed by 32 hex digits (the first 16
 * bytes of a SHA-256 over the conversation id, the local timestamp, the
 * author as written, the message text and how often that exact
 * (timestamp, author, text) triple occurred earlier in the file), so a
 * copy under another name, or an overlapping later export of the same
 * chat, yields the same ids for the messages they share.
 */
#ifndef CL_SOURCES_CHATEXPORT_H
#define CL_SOURCES_CHATEXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ingest/import.h"

#define CL_CHATEXPORT_SOURCE "whatsapp-export"
#define CL_CHATEXPORT_DEFAULT_TZ "Asia/Hong_Kong"
#define CL_CHATEXPORT_MAX_TEXT (256u << 20)   /* the chat text of an export */
#define CL_CHATEXPORT_MAX_BLOB (256u << 20)   /* one attachment handed to sink->blob */

/*
 * Parse a WhatsApp chat export: `path` is a .txt or a .zip (recognised by
 * its content, not its name) holding `_chat.txt` (iOS) or "WhatsApp Chat
 * with X.txt" (Android) plus media.  Emits one record per message and per
 * system event via sink->record, in file order; each attachment found in
 * a zip via sink->blob (if not NULL) immediately before each record that
 * lists it (again for every such record; one file in memory at a time);
 * bad lines (text before the first message, unusable timestamps,
 * oversized messages) and zip entries no message refers to via
 * sink->bad.
 *
 * Returns CL_OK (also when bad items were reported: the caller counts
 * them), CL_EINVAL with *err for unusable options or an unusable file
 * (missing --account, unknown --tz, a date order that cannot be decided:
 * the message names --date-order dmy|mdy|ymd), CL_ENOTFOUND or CL_EIO
 * when the file cannot be read, CL_ENOMEM, or the first non-zero value a
 * sink callback returned.  *err (may be NULL) is freed by the caller.
 */
int cl_chatexport_import(const char *path, const struct cl_import_opts *o,
		       const struct cl_import_sink *sink, char **err);

/*
 * The same on an in-memory chat text (`len` bytes, any content).
 * o->input_name stands for the file name the chat's name may be derived
 * from.  Attachments are described, never found.
 */
int cl_chatexport_import_text(const char *text, size_t len,
			    const struct cl_import_opts *o,
			    const struct cl_import_sink *sink, char **err);

/* ---- internal to archiver/import_whatsapp*.c (and its unit test) --- */

/* A time zone: local wall-clock seconds to UTC seconds. */
struct cl_chatexport_tz;

/*
 * Load zone `name` (NULL means CL_CHATEXPORT_DEFAULT_TZ): "Asia/Hong_Kong" is a
 * fixed +08:00 (no DST since 1979), "UTC" and "+hh:mm"/"-hh:mm" are
 * fixed, any other IANA name is read from the TZif file under
 * /usr/share/zoneinfo.  CL_EINVAL with *err for an unknown or unreadable
 * zone.  Free *out with cl_chatexport_tz_free().
 */
int cl_chatexport_tz_load(const char *name, struct cl_chatexport_tz **out, char **err);
void cl_chatexport_tz_free(struct cl_chatexport_tz *tz);
/*
 * UTC seconds for local seconds `local` (both counted from 1970-01-01T00:00
 * of their own clock).  A local time repeated by a backward shift maps to
 * its first occurrence; one skipped by a forward shift uses the offset in
 * force before the shift.
 */
int64_t cl_chatexport_tz_to_utc(const struct cl_chatexport_tz *tz, int64_t local);

/* What the zip reader knows about one attachment named in the text. */
struct cl_chatexport_media_info {
	int found;                      /* the zip holds a file of that name */
	int stored;                     /* its bytes went to sink->blob */
	uint64_t size;
	unsigned char sha256[32];
};

/* How the text parser reaches the attachments of a zip. */
struct cl_chatexport_media {
	void *ctx;
	/* Collecting pass: `name` (len bytes) is referenced by a message. */
	int (*want)(void *ctx, const char *name, size_t len);
	/* Emitting pass: fill *info for `name` (zeroed when unknown). */
	void (*find)(void *ctx, const char *name, size_t len,
		     struct cl_chatexport_media_info *info);
	/*
	 * Emitting pass, just before the record listing `name` goes to
	 * sink->record: hand the file's bytes to sink->blob (if it is found
	 * and stored).  Returns CL_OK or an error to stop the import.
	 */
	int (*deliver)(void *ctx, const char *name, size_t len);
};

/*
 * The text parser behind both entry points.  `file_name` (may be NULL)
 * is the base name the chat's name may be derived from; `media` is NULL for a
 * bare text.  With `collect` set nothing is emitted: only media->want is
 * called for each attachment reference.
 */
int cl_chatexport_parse(const char *text, size_t len, const struct cl_import_opts *o,
		const char *file_name, const struct cl_import_sink *sink,
		const struct cl_chatexport_media *media, int collect, char **err);

/* A MIME type guessed from the extension of `name` (never NULL). */
const char *cl_chatexport_mime(const char *name, size_t len);

#endif
