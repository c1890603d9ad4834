/*
 * wechat_status.h - what `chatledger status` says about WeChat: which
 * route covers what, when each last delivered, the holes recorded as
 * coverage entries, and what no route can capture (issue 17).  Read
 * from the wechat side tables (wechat_store.h) and the coverage entries
 * (docs/FORMAT.md §4 "The WeChat side tables"); works on a read-only
 * handle.
 */
#ifndef CL_WECHAT_STATUS_H
#define CL_WECHAT_STATUS_H

#include <jansson.h>

struct cl_ledger;

/*
 * *out (caller json_decref's) gets {"routes":{"A":{...},"B":{...},
 * "C":{...}}, "media":{...}, "not_captured":[...]}, or NULL when the
 * archive has never used a WeChat route (no side tables, no WeChat
 * coverage entries).  Times are milliseconds since the epoch (0: never).
 * CL_OK, or CL_EIO / CL_ENOMEM with *err.
 */
int cl_wx_status(struct cl_ledger *l, json_t **out, char **err);

#endif
