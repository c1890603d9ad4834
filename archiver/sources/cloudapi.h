/*
 * import_cloudapi.h - WhatsApp Business Platform (Cloud API) webhook bodies
 * to normalised records (import.h, docs/FORMAT.md §2).
 *
 * A webhook POST body is {"object":"whatsapp_business_account","entry":[
 * {"id":WABA,"changes":[{"field":F,"value":{"metadata":{...},"contacts":[],
 * "messages":[]|"statuses":[]|"message_echoes":[]|"errors":[]}}]}]}.
 * Every message, status and echo becomes one record (source "cloudapi"):
 *
 *   account          "wa-business:" + value.metadata.phone_number_id
 *   conversation.id  the customer's wa_id (message `from`, echo `to`, status
 *                    `recipient_id`), or the `group_id` of a group message;
 *                    type "direct" or "group"; name = the contact's profile
 *                    name when value.contacts[] lists that wa_id
 *   id               the message's wamid; for a status wamid + ":" + state,
 *                    so each state transition is kept exactly once
 *   sender           {id: from (inbound) or phone_number_id (statuses),
 *                    name: contact profile name, user_id: business-scoped id}
 *   direction        "in" for messages, "out" for statuses and echoes
 *   sent_at          the Unix-seconds `timestamp` (string or integer), UTC
 *   kind             the message `type` (text, image, video, audio, document,
 *                    sticker, location, contacts, reaction, interactive,
 *                    button, order, system, unsupported, edit, revoke, ...);
 *                    a type that is not a valid kind (or is a reserved
 *                    kind) becomes "cloudapi-" + the sanitised type;
 *                    statuses are kind "status"
 *   text             text.body, a media caption, the reaction emoji ("" and
 *                    removed:true for an unreaction), the button/list
 *                    title, button.text, system.body, a non-empty
 *                    order.text, the replacement text of an edit
 *   reply_to         context.id; forwarded / frequently_forwarded copied as
 *                    top-level booleans, the whole `context` kept
 *   target           reaction.message_id, edit.original_message_id,
 *                    revoke.original_message_id, or the status's wamid
 *   content          the message's type-keyed object, verbatim
 *   media            {id, mime, sha256 (as Meta gives it: base64), caption,
 *                    filename, url, voice, animated} for media types;
 *                    attachments[] describes the file, with the lowercase hex
 *                    of Meta's sha256 only when it decodes to 32 bytes (the
 *                    hash is Meta's claim until the media is downloaded)
 *   status           the status object without id/status/timestamp/errors,
 *                    plus state (sent|delivered|read|played|failed|...)
 *   errors           the item's errors[]; change_errors: value.errors[]
 *   cloudapi         {waba_id, phone_number_id, display_phone_number,
 *                    field, type, echo}
 *   referral, identity  verbatim when present
 *   raw, raw_form    see below
 *
 * `raw` is base64 of the exact body bytes, raw_form "body", when the body
 * was given as exact bytes and holds exactly one item: that is what
 * X-Hub-Signature-256 signed.  Otherwise raw is the item's own JSON
 * re-serialised by jansson (compact, sorted keys; reals as %.17g),
 * raw_form "item": faithful in content, not the received bytes.
 *
 * Items are numbered 1, 2, ... in document order over entries, changes
 * and, within a change's value, its messages/statuses/message_echoes
 * arrays in the order they appear.  A malformed entry or change, or a
 * change with no messages, statuses or echoes (other webhook fields such
 * as template or account updates), counts as one item.  A bad item (a
 * missing or mistyped id, from, timestamp, type, recipient or metadata
 * phone_number_id, a reaction/edit/revoke without its target, an
 * unhandled change) goes to sink->bad with a reason that quotes no
 * content; the rest of the body is still imported.
 *
 * Duplicate object keys make a body invalid (JSON_REJECT_DUPLICATES): a
 * re-serialised item must not silently lose a value.
 */
#ifndef CL_IMPORT_CLOUDAPI_H
#define CL_IMPORT_CLOUDAPI_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ingest/import.h"

/* Largest file cl_cloudapi_import_file() reads. */
#define CL_CLOUDAPI_MAX_FILE (64u << 20)

/*
 * Import one webhook POST body: `len` bytes at `json`, exactly as
 * received.  Emits one record per message/status/echo and one bad item
 * per unusable item, numbered from 1 within the body.  *n_items (may be
 * NULL) is set to the number of items found, emitted or bad.
 *
 * Returns CL_OK, CL_EINVAL with *err (caller frees) if the body is not
 * JSON, not a "whatsapp_business_account" object or has no entry[] array
 * (then nothing was emitted), CL_ENOMEM, or the first non-zero value a
 * sink callback returned.
 *
 * Memory: a body of 256 KiB or more is not held as one jansson tree
 * (about ten times its size): the whole body is checked first, then its
 * items are parsed one at a time; the emitted records are the same.
 */
int cl_cloudapi_import_body(const char *json, size_t len,
			    const struct cl_import_sink *sink,
			    uint64_t *n_items, char **err);

/*
 * Import a file holding either one webhook body or a collection of bodies:
 * a JSON object whose member values are bodies (as in the pywa test
 * fixtures) or a JSON array of bodies.  A collection member that is not a
 * body is one bad item.  Item numbers continue across the bodies.  A file
 * that is neither (not JSON, or a collection without any body) is
 * CL_EINVAL.  Bodies inside a collection are re-serialised, so their raw
 * is always raw_form "item".  `o` may be NULL (only o->input_name is used,
 * in messages).
 */
int cl_cloudapi_import_file(const char *path, const struct cl_import_opts *o,
			    const struct cl_import_sink *sink, char **err);

#endif
