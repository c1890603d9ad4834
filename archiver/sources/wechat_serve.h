/*
 * wechat_serve.h - the WeChat push receiver: route A (Official/Service
 * Account message push) at /oa and route C (WeCom app callbacks, the
 * customer-contact events and 微信客服's kf_msg_or_event) at /wecom, one
 * libmicrohttpd server, durable like the WhatsApp webhook (webhook.h).
 *
 *   GET  /oa     ?signature&timestamp&nonce&echostr: the signature over
 *                (token, timestamp, nonce) -> 200 with the echostr as is
 *   GET  /wecom  ?msg_signature&timestamp&nonce&echostr: the signature
 *                over (token, timestamp, nonce, echostr) -> 200 with the
 *                decrypted echostr (no newline); a space in echostr is
 *                read as '+' (a literal '+' in a query string)
 *   POST /oa     encrypt_type=aes (safe or compatible mode): msg_signature
 *                over the <Encrypt> of the body, decrypted, receive id =
 *                the AppID; otherwise plaintext mode: `signature` (which
 *                does not cover the body; refused with --oa-require-aes)
 *   POST /wecom  always encrypted: msg_signature, receive id = corpid
 *
 * A bad or missing signature, a receive id that is not ours, a timestamp
 * further than max_skew_s from our clock, a body that is not well-formed
 * XML, or has a DOCTYPE (entity bombs, external entities), is refused
 * (403 or 400) and nothing is stored; the request log line says why.
 * A good push is mapped (wechat_map.h), suspended, appended by the single
 * committer thread with every other push pending at that moment in one
 * durable batch, and only then answered 200 "success"; 500 if the batch
 * failed (Tencent retries).  A push that maps to a bad item is
 * quarantined and still answered "success" (a retry cannot fix it).
 *
 * A worker thread with its own write handle on the archive downloads the
 * media of stored records (wechat_pull.h, cl_wx_media_step) and, after a
 * kf_msg_or_event, pulls kf/sync_msg for that open_kfid; both only when
 * the matching API client is given.
 */
#ifndef CL_WECHAT_SERVE_H
#define CL_WECHAT_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "archiver/ledger/ledger.h"
#include "archiver/sources/wechat_api.h"
#include "archiver/sources/wechat_crypto.h"

#define CL_WX_MAX_BODY_DEFAULT (1u << 20)
#define CL_WX_SKEW_DEFAULT 300u
#define CL_WX_TIMEOUT_DEFAULT 10u

struct cl_wx_request {
	const char *method;
	const char *path;
	unsigned status;
	const char *reason;      /* short fixed text; never content */
	uint64_t records, duplicates, quarantined;
	unsigned ms;
};

struct cl_wx_serve_opts {
	const char *listen;      /* "ADDR:PORT" */
	const char *archive;     /* for the worker's own write handle */
	/* Either or both; borrowed, must outlive the server. */
	const struct cl_wx_crypto *oa;
	const char *oa_account;      /* "wechat-oa:<AppID>" */
	int oa_require_aes;
	const struct cl_wx_crypto *wecom;
	const char *wecom_account;   /* "wecom:<corpid>" */
	unsigned max_skew_s;     /* 0: no freshness check */
	size_t max_body;         /* 0: default */
	unsigned timeout_s;
	int no_store;            /* benchmark baseline: check, parse and map,
				    answer at once, append nothing */
	/* Worker (media and kf sync); borrowed; NULL disables each. */
	struct cl_wx_api *oa_api;
	struct cl_wx_api *wecom_api;
	const char *wecom_kf_account; /* account of kf records (= wecom_account) */
	int lookup;              /* kf/customer/batchget identity links */
	unsigned media_retry_base;
	void (*on_request)(void *ctx, const struct cl_wx_request *r);
	void (*on_note)(void *ctx, const char *msg);
	void *ctx;
};

struct cl_wx_serve_stats {
	uint64_t requests, accepted, refused, failed, records, duplicates,
		quarantined, commits, media_done, kf_pulls;
};

struct cl_wx_server;

int cl_wx_serve_start(struct cl_ledger *l, const struct cl_wx_serve_opts *o,
		      struct cl_wx_server **out, char **err);
const char *cl_wx_serve_address(const struct cl_wx_server *s);
void cl_wx_serve_stop(struct cl_wx_server *s, struct cl_wx_serve_stats *st);

#endif
