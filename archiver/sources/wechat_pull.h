/*
 * wechat_pull.h - the pulling side of the WeChat routes, each step one
 * or more durable ledger batches on a write handle:
 *
 *   route B   cl_wx_pull_msglist: POST /customservice/msgrecord/getmsglist
 *             over [from, to) in windows of at most 24 h, each paged by
 *             msgid (number = CL_WX_MSGLIST_PAGE; the next page starts at
 *             the returned msgid while a page comes back full).  Each page
 *             is one batch; an agent-received (2003) message that route A
 *             already stored is skipped (wechat_seen).  A window that
 *             cannot be pulled is a coverage entry "wechat-window-failed"
 *             {"route":"getmsglist","start":S,"end":E,"errcode":N}, never
 *             a silent hole; the cursor "getmsglist" records the end of
 *             the last window done.
 *   route C   cl_wx_pull_kf: POST /cgi-bin/kf/sync_msg for one open_kfid
 *             from its persisted cursor (wechat_cursor "kf:<id>"), with
 *             the Token of the latest kf_msg_or_event when it is younger
 *             than 10 minutes; each page and its next_cursor are one
 *             batch, so a crash repeats at most a page (stored once).  A
 *             failed pull is a coverage entry "wechat-kf-sync-failed".
 *   media     cl_wx_media_step: download one due row of wechat_media and
 *             store it as an attachment of its record, or a coverage
 *             entry "media-download-failed" (retried with back-off) /
 *             "media-expired" (40007: Tencent deleted it, 3 days).
 *   identity  with `lookup` set, sync_msg pulls call kf/customer/batchget
 *             for new external_userids, and an identity-link record is
 *             stored when the answer carries a unionid.
 */
#ifndef CL_WECHAT_PULL_H
#define CL_WECHAT_PULL_H

#include <stdint.h>

#include "archiver/ledger/ledger.h"
#include "archiver/sources/wechat_api.h"

#define CL_WX_WINDOW_S 86400
#define CL_WX_MSGLIST_PAGE 10000
#define CL_WX_KF_LIMIT 1000
#define CL_WX_KF_TOKEN_TTL 600
#define CL_WX_MEDIA_ATTEMPTS 6
#define CL_WX_MEDIA_RETRY_MAX (6 * 3600)

struct cl_wx_pull_stats {
	uint64_t records, duplicates, quarantined, skipped_route_a;
	uint64_t pages, windows, failed_windows, links;
};

/* `page`: records asked per call (0: CL_WX_MSGLIST_PAGE). */
int cl_wx_pull_msglist(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
		       int64_t from_s, int64_t to_s, unsigned page,
		       struct cl_wx_pull_stats *st, char **err);

int cl_wx_pull_kf(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
		  const char *open_kfid, int lookup, struct cl_wx_pull_stats *st,
		  char **err);

/*
 * Route A identities: GET /cgi-bin/user/info for up to `max` openids
 * queued by the receiver (wechat_ident at = 0); an identity-link record
 * (source wechat-oa) for each answer with a unionid, which links the
 * openid and the unionid as one party.  Best effort: a failed lookup is
 * tried again next time.
 */
int cl_wx_lookup_openids(struct cl_ledger *l, struct cl_wx_api *a, const char *account,
			 size_t max, struct cl_wx_pull_stats *st, char **err);

/* The open_kfids with a kf_msg_or_event token row, newest first, into
 * ids[0..max) (malloc'd strings); *n how many. */
int cl_wx_kf_pending(struct cl_ledger *l, char **ids, size_t max, size_t *n);

/*
 * Media: one due row for `api` ("oa" or "wecom") downloaded with `a` and
 * its outcome committed.  1 if a row was handled, 0 if none is due
 * (*next_at: when the next one is, or INT64_MAX), -1 on error (*err).
 * `retry_base` seconds, doubled per failure.  *note gets a line for the
 * log (no media id, no URL, no token).
 */
int cl_wx_media_step(struct cl_ledger *l, struct cl_wx_api *a, const char *api,
		     unsigned retry_base, int64_t *next_at, char *note, size_t cap,
		     char **err);

#endif
