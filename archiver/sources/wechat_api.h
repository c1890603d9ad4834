/*
 * wechat_api.h - the Tencent HTTPS APIs the WeChat routes call (libcurl,
 * jansson), with their access tokens.
 *
 * Two flavours:
 *   OA     api.weixin.qq.com; token from POST /cgi-bin/stable_token
 *          {"grant_type":"client_credential","appid","secret",
 *          "force_refresh":false} (a fetch with force_refresh=true only
 *          when Tencent answers that the token it just gave is invalid,
 *          at most once per CL_WX_FORCE_GAP seconds)
 *   WeCom  qyapi.weixin.qq.com; token from GET /cgi-bin/gettoken?corpid=
 *          &corpsecret= (one per application secret)
 *
 * A call with errcode 40001, 40014, 42001 (token invalid or expired)
 * refetches the token and retries once; -1 (busy) and 45011 (per-minute
 * quota) are retried up to CL_WX_API_RETRIES times after a pause; any
 * other non-zero errcode (40164 IP not whitelisted, 45009 daily quota,
 * 65417 window too long, ...) is returned.  The secret and the token stay
 * in sodium_malloc'd memory and never appear in an error message, and
 * neither does any URL with a token.
 */
#ifndef CL_WECHAT_API_H
#define CL_WECHAT_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define CL_WX_API_OA_DEFAULT "https://api.weixin.qq.com"
#define CL_WX_API_WECOM_DEFAULT "https://qyapi.weixin.qq.com"
#define CL_WX_API_RETRIES 3
#define CL_WX_API_TIMEOUT 20       /* seconds per request */
#define CL_WX_FORCE_GAP 30         /* seconds between forced refreshes */
#define CL_WX_MEDIA_MAX ((20u << 20))

enum { CL_WX_API_OA = 0, CL_WX_API_WECOM = 1 };

struct cl_wx_api;

/*
 * A client for `base` (https:// or http://, no query) identified by `id`
 * (the AppID or corpid) with `secret` (AppSecret or corp secret, copied
 * into guarded memory).  `retry_ms` is the pause before a retry (0: 2000).
 */
int cl_wx_api_new(int flavour, const char *base, const char *id,
		  const unsigned char *secret, size_t secret_len, unsigned retry_ms,
		  struct cl_wx_api **out, char **err);
void cl_wx_api_free(struct cl_wx_api *a);

/*
 * Call `path` (e.g. "/cgi-bin/kf/sync_msg") with the access token, `body`
 * as a JSON POST (NULL: GET), `query` extra query parameters (already
 * encoded, "a=b&c=d", or NULL).  CL_OK with *resp (caller decrefs) when
 * errcode is 0 or absent; otherwise CL_EIO with *errcode the Tencent code
 * (or 0 for a transport failure, *http the HTTP status) and *err a message
 * naming the path and the code.
 */
int cl_wx_api_call(struct cl_wx_api *a, const char *path, const char *query,
		   json_t *body, json_t **resp, long *errcode, long *http, char **err);

/*
 * GET /cgi-bin/media/get for `media_id`: the bytes (*data malloc'd), or,
 * for video, the bytes behind the {"video_url"} it answers.  CL_EIO with
 * *errcode (40007 for an expired or unknown id) / *http on failure;
 * CL_ETOOBIG past CL_WX_MEDIA_MAX bytes.
 */
int cl_wx_api_media(struct cl_wx_api *a, const char *media_id,
		    unsigned char **data, size_t *len, long *errcode, long *http,
		    char **err);

/* Counters, for reports: tokens fetched, forced refreshes, retries. */
void cl_wx_api_counts(const struct cl_wx_api *a, unsigned *tokens,
		      unsigned *forced, unsigned *retries);

#endif
