/*
 * wechat_map.h - WeChat and WeCom items to normalised records
 * (docs/FORMAT.md §2).  Pure functions: no I/O besides the sink.
 *
 * Sources and what they map (all records carry typed identifiers):
 *
 *   wechat-oa          route A, an Official/Service Account push (the
 *                      decrypted XML): account "wechat-oa:<AppID>";
 *                      conversation and sender "wechat-openid:<FromUserName>",
 *                      direction "in"
 *   wecom-callback     route C, a WeCom app callback (decrypted XML):
 *                      account "wecom:<corpid>"; change_external_contact
 *                      -> kind "contact-event", conversation
 *                      "wecom-external:<ExternalUserID>", sender
 *                      "wecom-user:<UserID>"; change_external_chat ->
 *                      kind "group-event", conversation "wecom-chat:<ChatId>"
 *                      (group), MemChangeList as an array in both shapes
 *                      (CDATA "a,b" and <Item>s); kf_msg_or_event -> kind
 *                      "kf-notify"; app messages from members ->
 *                      "wecom-user:<FromUserName>"
 *   wechat-kf-records  route B, one getmsglist recordlist item: opercode
 *                      2002 (agent sent) -> direction "out", sender
 *                      "wechat-kf:<worker>", "agent": worker; 2003 (agent
 *                      received) -> "in" from the openid, "agent": worker;
 *                      "[image]", "[voice]", "[video]" -> those kinds with
 *                      "placeholder"
 *   wecom-kf           route C, one kf/sync_msg msg_list item: origin 3 ->
 *                      "in" from "wecom-external:<external_userid>"; 5 ->
 *                      "out" from "wecom-user:<servicer_userid>", "agent";
 *                      4 -> kind "kf-event", sender "wechat-kf:<open_kfid>"
 *
 * Ids (the idempotency keys): MsgId / msgid when the item has one
 * ("msg:<MsgId>"); otherwise Tencent's own de-duplication fields plus a
 * hash of the item: "event:<CreateTime>:<Event>:<16 hex of SHA-256(xml)>"
 * for pushes, "rec:<time>:<opercode>:<16 hex of SHA-256(openid NUL worker
 * NUL text)>" for getmsglist.  A retry or a duplicate delivery therefore
 * maps to the same key and content and is stored once.
 *
 * Every record keeps the whole item: the parsed XML tree (every element,
 * known or not) under "wechat", the JSON item under "wechat_kf" or
 * "wecom_kf", and the exact bytes in "raw".  "identifiers" lists every
 * identifier of the customer the item names.
 */
#ifndef CL_WECHAT_MAP_H
#define CL_WECHAT_MAP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "archiver/ingest/import.h"

#define CL_WX_MEDIA_ID_MAX 256u
#define CL_WX_KF_TOKEN_MAX 256u

/* What the receiver does after the record is durable. */
struct cl_wx_hint {
	char media_id[CL_WX_MEDIA_ID_MAX + 1];   /* "" if none to download */
	char media_type[16];                     /* image, voice, video, ... */
	char kf_open_kfid[CL_WX_MEDIA_ID_MAX + 1]; /* a kf_msg_or_event: */
	char kf_token[CL_WX_KF_TOKEN_MAX + 1];   /* ... its Token (may be "") */
	char openid[CL_WX_MEDIA_ID_MAX + 1];     /* OA: the sender's openid */
	int64_t create_time;                     /* s, or -1 */
};

/* A media id safe in a query string: 1..256 of [A-Za-z0-9_@.=-]. */
int cl_wx_media_id_ok(const char *s);

/*
 * One decrypted push (`xml`, `len` bytes, parsed into `tree` by
 * cl_wx_xml_parse) as a record of `source` ("wechat-oa" or
 * "wecom-callback") for `account`, handed to sink->record; a push missing
 * FromUserName, CreateTime or MsgType goes to sink->bad (item 1) with the
 * reason.  `received_ms` is our clock.  *hint (may be NULL) is filled.
 * Returns CL_OK, CL_ENOMEM or the sink's return.
 */
int cl_wx_map_push(const char *source, const char *account, const char *xml,
		   size_t len, json_t *tree, int64_t received_ms,
		   const struct cl_import_sink *sink, struct cl_wx_hint *hint);

/* One getmsglist recordlist item (route B) as item `item`. */
int cl_wx_map_msgrecord(const char *account, json_t *it, uint64_t item,
			const struct cl_import_sink *sink);

/* One kf/sync_msg msg_list item (route C) as item `item`; *hint gets
 * its media id when it has one. */
int cl_wx_map_kfmsg(const char *account, json_t *it, uint64_t item,
		    const struct cl_import_sink *sink, struct cl_wx_hint *hint);

/*
 * An identity link learnt from a Tencent API: `ident` (a typed id, e.g.
 * "wechat-openid:o...") is the same customer as `unionid`, as `api`
 * answered at `at_ms` (`response`: the answer's relevant members, kept).
 * A record of kind "identity-link" in the customer's conversation whose
 * "identifiers" are both and whose "identity_link" says where it came
 * from.  `source` and `account` as for the route that asked.
 */
int cl_wx_map_identity(const char *source, const char *account,
		       const char *conv_id, const char *ident,
		       const char *unionid, const char *api, json_t *response,
		       int64_t at_ms, const struct cl_import_sink *sink);

#endif
