/*
 * import_wecom.h - WeCom (企业微信) session-archive messages (会话内容存档)
 * to normalised records (import.h, docs/FORMAT.md §2).
 *
 * The boundary: WeCom delivers the archive encrypted.  GetChatData returns
 * {"errcode":0,"chatdata":[{"seq","msgid","publickey_ver",
 * "encrypt_random_key","encrypt_chat_msg"}]}; the random key is RSA-
 * encrypted to the corp's archive key and the message is decrypted by
 * Tencent's proprietary Finance SDK (DecryptData).  chatledger does
 * neither: this importer reads messages that were decrypted outside it.
 * Accepted input:
 *
 *   - one decrypted message JSON object per line (JSONL); blank lines are
 *     skipped; a line that is not a JSON object is a bad item (its line
 *     number) and the other lines are still imported;
 *   - a single message object (pretty-printed over lines is fine) or a
 *     JSON array of message objects;
 *   - a GetChatData response whose chatdata[] items carry the decrypted
 *     message in a "plaintext" member (a JSON string as DecryptData
 *     returns it, or the parsed object).  An item without plaintext is
 *     still encrypted: it is a bad item with the reason "encrypted item:
 *     decrypt with the WeCom Finance SDK first".  A response with a
 *     non-zero errcode is CL_EINVAL.  In a JSONL file a line may also be
 *     such a response.
 *
 * Mapping (source "wecom"; account = o->account, which is required):
 *
 *   id               msgid (a chatdata item's msgid if the plaintext has
 *                    none)
 *   sent_at          msgtime (ms; `time` for switch records), UTC
 *   sender           {id: from (`user` for switch), type: external |
 *                    robot | internal}.  External contacts' ids start
 *                    "wm" or "wo", robots' "wb" (Tencent doc 91774); to
 *                    keep internal userids such as "wmiller" internal, a
 *                    prefixed id also has to be >= 16 characters of
 *                    [A-Za-z0-9_-] (real external_userids have 32)
 *   direction        "in" from an external contact or robot, else "out"
 *   conversation     roomid when non-empty: {id: roomid, type: group};
 *                    else the byte-wise sorted pair from|tolist[0]
 *                    (tolist must then hold exactly one id), type direct;
 *                    a switch record's conversation is its user
 *   kind             msgtype when it is a valid kind not reserved by
 *                    chatledger, else "wecom-" + msgtype sanitised
 *                    ([a-z0-9_-], '_' for anything else, 32 chars max);
 *                    action "recall" -> "revoke" with target =
 *                    revoke.pre_msgid; action "switch" -> "system" with a
 *                    text describing the corp switch; msgtype agree /
 *                    disagree -> "consent" with consent {agreed,
 *                    userid, time}
 *   text             text.content; markdown content; the text parts of a
 *                    mixed message joined by "\n"
 *   content          the msgtype-keyed object verbatim ("info" for
 *                    markdown/news, "doc" for docmsg, "redpacket" for
 *                    external_redpacket when the msgtype key is absent)
 *   attachments      for image/voice/video/file/emotion: {name, size,
 *                    md5sum, sdkfileid} (no sha256: WeCom gives md5 only,
 *                    and the media is fetched with the SDK, not here)
 *   wecom            {action, msgtype, roomid, tolist, seq,
 *                    publickey_ver}
 *   raw, raw_form    raw is base64 of the item's exact bytes (the line,
 *                    the file or the plaintext string, with surrounding
 *                    whitespace trimmed) and raw_form "exact"; items
 *                    taken out of an array or a chatdata object are
 *                    re-serialised by jansson (compact, sorted keys),
 *                    raw_form "jansson"
 *
 * Bad items (quarantined through sink->bad, reasons quote no content): a
 * missing or mistyped msgid, action, from, tolist, msgtime, msgtype,
 * revoke.pre_msgid, switch time/user; an unknown action; a direct message
 * without exactly one recipient; duplicate JSON keys.
 */
#ifndef CL_IMPORT_WECOM_H
#define CL_IMPORT_WECOM_H

#include <stddef.h>

#include "archiver/ingest/import.h"

/* Largest non-JSONL file read whole; longest JSONL line. */
#define CL_WECOM_MAX_FILE (256u << 20)
#define CL_WECOM_MAX_LINE (16u << 20)

/*
 * Import a file in any of the forms above.  A JSONL file is streamed line
 * by line; other forms are read whole (at most CL_WECOM_MAX_FILE).
 * Returns CL_OK, CL_EINVAL with *err ("--account is required" when
 * o->account is NULL or empty; a file that is a single JSON value of
 * another shape; a GetChatData error response), CL_ENOTFOUND/CL_EIO for
 * the file, CL_ENOMEM, or the first non-zero sink return.
 */
int cl_wecom_import_file(const char *path, const struct cl_import_opts *o,
			 const struct cl_import_sink *sink, char **err);

/* The same for `len` bytes of text in memory; gives the same records. */
int cl_wecom_import_text(const char *text, size_t len,
			 const struct cl_import_opts *o,
			 const struct cl_import_sink *sink, char **err);

#endif
