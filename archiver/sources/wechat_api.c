/*
 * wechat_api.c - Tencent HTTPS API calls with access tokens
 * (wechat_api.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "archiver/sources/wechat_api.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define TOKEN_MAX 1024u
#define JSON_MAX (16u << 20)

struct cl_wx_api {
	int flavour;
	char *base;                /* without a trailing '/' */
	char *id;
	unsigned char *secret;     /* sodium_malloc'd */
	size_t secret_len;
	char *token;               /* sodium_malloc'd, TOKEN_MAX + 1; "" = none */
	int64_t token_until;       /* s */
	int64_t last_force;        /* s */
	unsigned retry_ms;
	unsigned tokens, forced, retries;
};

static int url_ok(const char *u)
{
	size_t i;

	if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
		return 0;
	for (i = 0; u[i]; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f ||
		    u[i] == '?' || u[i] == '#')
			return 0;
	return 1;
}

int cl_wx_api_new(int flavour, const char *base, const char *id,
		  const unsigned char *secret, size_t secret_len, unsigned retry_ms,
		  struct cl_wx_api **out, char **err)
{
	struct cl_wx_api *a;
	size_t n, i;

	*out = NULL;
	if (base == NULL)
		base = flavour == CL_WX_API_WECOM ? CL_WX_API_WECOM_DEFAULT : CL_WX_API_OA_DEFAULT;
	if (!url_ok(base))
		return cl_error(err, CL_EINVAL, "the API URL must be http(s):// without "
				"spaces, query or fragment");
	if (id == NULL || *id == 0 || strlen(id) > 128)
		return cl_error(err, CL_EINVAL, "an AppID or corpid of 1..128 bytes is required");
	for (i = 0; id[i]; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || id[i] == '_' || id[i] == '-'))
			return cl_error(err, CL_EINVAL, "the AppID or corpid must be letters, "
					"digits, '_' or '-'");
	if (secret == NULL || secret_len == 0 || secret_len > 512)
		return cl_error(err, CL_EINVAL, "the secret must be 1..512 bytes");
	for (i = 0; i < secret_len; i++)
		if (secret[i] <= 0x20 || secret[i] >= 0x7f || secret[i] == '&' ||
		    secret[i] == '"' || secret[i] == '\\')
			return cl_error(err, CL_EINVAL, "the secret must be printable ASCII "
					"without spaces, '&', '\"' or '\\'");
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return cl_error(err, CL_ENOMEM, "cannot initialise libsodium or libcurl");
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return CL_ENOMEM;
	n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	a->flavour = flavour;
	a->base = strndup(base, n);
	a->id = strdup(id);
	a->secret = sodium_malloc(secret_len + 1);
	a->token = sodium_malloc(TOKEN_MAX + 1);
	if (a->base == NULL || a->id == NULL || a->secret == NULL || a->token == NULL) {
		cl_wx_api_free(a);
		return CL_ENOMEM;
	}
	memcpy(a->secret, secret, secret_len);
	a->secret[secret_len] = 0;
	a->secret_len = secret_len;
	a->token[0] = 0;
	a->retry_ms = retry_ms ? retry_ms : 2000;
	*out = a;
	return CL_OK;
}

void cl_wx_api_free(struct cl_wx_api *a)
{
	if (a == NULL)
		return;
	free(a->base);
	free(a->id);
	sodium_free(a->secret);
	sodium_free(a->token);
	free(a);
	curl_global_cleanup();
}

void cl_wx_api_counts(const struct cl_wx_api *a, unsigned *tokens,
		      unsigned *forced, unsigned *retries)
{
	*tokens = a->tokens;
	*forced = a->forced;
	*retries = a->retries;
}

static void pause_ms(unsigned ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0)
		;
}

struct sink {
	struct cl_buf *b;
	int over;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *k = ctx;
	size_t len = size * n;

	if (cl_buf_add(k->b, p, len) != CL_OK) {
		k->over = 1;
		return 0;
	}
	return len;
}

/* One HTTP request into `out` (capped by out's max); the HTTP status in
 * *http (0: none).  CL_OK on a transfer that completed. */
static int http(const char *url, const char *post, size_t post_len,
		struct cl_buf *out, long *status, int *too_big, char *ctype, size_t ctcap)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct sink k = { out, 0 };
	char *ct = NULL;
	CURLcode cc;

	*status = 0;
	if (too_big)
		*too_big = 0;
	if (ctype)
		ctype[0] = 0;
	if (c == NULL)
		return CL_ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CL_WX_API_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chatledger-wechat");
	if (post) {
		hdr = curl_slist_append(NULL, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)post_len);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (ctype && curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		(void)cl_fmt(ctype, ctcap, "%s", ct);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	if (k.over && too_big)
		*too_big = 1;
	return cc == CURLE_OK ? CL_OK : CL_EIO;
}

/* Parse an API answer: CL_OK with *resp, *code its errcode (0 if none). */
static int parse_answer(const struct cl_buf *b, json_t **resp, long *code)
{
	json_t *j = b->len ? json_loadb((const char *)b->data, b->len, 0, NULL) : NULL;
	json_t *ec;

	*resp = NULL;
	*code = 0;
	if (!json_is_object(j)) {
		json_decref(j);
		return CL_EINVAL;
	}
	ec = json_object_get(j, "errcode");
	if (json_is_integer(ec))
		*code = (long)json_integer_value(ec);
	*resp = j;
	return CL_OK;
}

static void wipe_buf(struct cl_buf *b)
{
	if (b->data)
		sodium_memzero(b->data, b->alloc);
	cl_buf_release(b);
}

/* Fetch a token (force: stable_token with force_refresh). */
static int fetch_token(struct cl_wx_api *a, int force, long *code, long *status, char **err)
{
	struct cl_buf out, url, body;
	json_t *j = NULL;
	const char *t;
	json_t *ex;
	int rc;

	cl_buf_init(&out, 64u << 10);
	cl_buf_init(&url, 4096);
	cl_buf_init(&body, 4096);
	*code = 0;
	if (a->flavour == CL_WX_API_WECOM) {
		rc = cl_buf_addf(&url, "%s/cgi-bin/gettoken?corpid=%s&corpsecret=", a->base, a->id);
		if (rc == CL_OK)
			rc = cl_buf_add(&url, a->secret, a->secret_len);
		if (rc == CL_OK)
			rc = cl_buf_add(&url, "", 1);
		if (rc == CL_OK)
			rc = http((const char *)url.data, NULL, 0, &out, status, NULL, NULL, 0);
	} else {
		rc = cl_buf_addf(&url, "%s/cgi-bin/stable_token", a->base);
		if (rc == CL_OK)
			rc = cl_buf_addf(&body, "{\"grant_type\":\"client_credential\","
					 "\"appid\":\"%s\",\"secret\":\"", a->id);
		if (rc == CL_OK)
			rc = cl_buf_add(&body, a->secret, a->secret_len);
		if (rc == CL_OK)
			rc = cl_buf_addf(&body, "\",\"force_refresh\":%s}", force ? "true" : "false");
		if (rc == CL_OK)
			rc = http((const char *)url.data, (const char *)body.data, body.len, &out,
				  status, NULL, NULL, 0);
	}
	if (rc != CL_OK) {
		rc = cl_error(err, CL_EIO, "cannot reach the token endpoint (HTTP %ld)", *status);
		goto out;
	}
	if (parse_answer(&out, &j, code) != CL_OK) {
		rc = cl_error(err, CL_EIO, "the token endpoint did not answer JSON (HTTP %ld)",
			      *status);
		goto out;
	}
	t = json_string_value(json_object_get(j, "access_token"));
	if (*code != 0 || t == NULL || *t == 0 || strlen(t) > TOKEN_MAX) {
		rc = cl_error(err, CL_EIO, "no access token: errcode %ld", *code);
		goto out;
	}
	ex = json_object_get(j, "expires_in");
	memcpy(a->token, t, strlen(t) + 1);
	a->token_until = (int64_t)time(NULL) +
		(json_is_integer(ex) && json_integer_value(ex) > 120
		 ? (int64_t)json_integer_value(ex) - 60 : 60);
	a->tokens++;
	if (force) {
		a->forced++;
		a->last_force = (int64_t)time(NULL);
	}
out:
	if (j) {
		json_t *at = json_object_get(j, "access_token");

		if (json_is_string(at))
			(void)json_string_set(at, "");
	}
	json_decref(j);
	wipe_buf(&out);
	wipe_buf(&url);
	wipe_buf(&body);
	return rc;
}

static int token_error(long code)
{
	return code == 40001 || code == 40014 || code == 42001;
}

int cl_wx_api_call(struct cl_wx_api *a, const char *path, const char *query,
		   json_t *body, json_t **resp, long *errcode, long *status, char **err)
{
	char *post = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct cl_buf url, out;
	int attempt, refreshed = 0, rc = CL_EIO;
	long code = 0;

	*resp = NULL;
	*errcode = 0;
	*status = 0;
	if (body && post == NULL)
		return CL_ENOMEM;
	cl_buf_init(&url, 8192);
	cl_buf_init(&out, JSON_MAX);
	for (attempt = 0; attempt <= CL_WX_API_RETRIES; attempt++) {
		json_t *j = NULL;

		if (a->token[0] == 0 || (int64_t)time(NULL) >= a->token_until) {
			rc = fetch_token(a, 0, &code, status, err);
			if (rc != CL_OK) {
				*errcode = code;
				if ((code == -1 || code == 45011) && attempt < CL_WX_API_RETRIES) {
					free(*err);
					*err = NULL;
					a->retries++;
					pause_ms(a->retry_ms);
					continue;
				}
				goto out;
			}
		}
		cl_buf_reset(&url);
		cl_buf_reset(&out);
		if ((rc = cl_buf_addf(&url, "%s%s?access_token=%s%s%s", a->base, path, a->token,
				      query ? "&" : "", query ? query : "")))
			goto out;
		rc = http((const char *)url.data, post, post ? strlen(post) : 0, &out, status,
			  NULL, NULL, 0);
		if (rc != CL_OK || parse_answer(&out, &j, &code) != CL_OK) {
			rc = cl_error(err, CL_EIO, "%s: no JSON answer (HTTP %ld)", path, *status);
			*errcode = 0;
			goto out;
		}
		if (code == 0) {
			*resp = j;
			rc = CL_OK;
			goto out;
		}
		json_decref(j);
		*errcode = code;
		if (token_error(code) && refreshed < 2) {
			/* Expired or superseded: fetch again; if Tencent keeps
			 * giving the same invalid token, force one refresh. */
			char old[TOKEN_MAX + 1];
			int force;

			memcpy(old, a->token, strlen(a->token) + 1);
			a->token[0] = 0;
			rc = fetch_token(a, 0, &code, status, err);
			force = rc == CL_OK && strcmp(old, a->token) == 0 && a->flavour == CL_WX_API_OA &&
				(int64_t)time(NULL) - a->last_force >= CL_WX_FORCE_GAP;
			sodium_memzero(old, sizeof(old));
			if (force)
				rc = fetch_token(a, 1, &code, status, err);
			if (rc != CL_OK)
				goto out;
			refreshed++;
			attempt--;   /* a token refresh is not a retry */
			continue;
		}
		if ((code == -1 || code == 45011) && attempt < CL_WX_API_RETRIES) {
			a->retries++;
			pause_ms(a->retry_ms);
			continue;
		}
		rc = cl_error(err, CL_EIO, "%s: errcode %ld", path, code);
		goto out;
	}
	rc = cl_error(err, CL_EIO, "%s: errcode %ld after %d retries", path, *errcode,
		      CL_WX_API_RETRIES);
out:
	free(post);
	wipe_buf(&url);
	wipe_buf(&out);
	return rc;
}

int cl_wx_api_media(struct cl_wx_api *a, const char *media_id,
		    unsigned char **data, size_t *len, long *errcode, long *status,
		    char **err)
{
	struct cl_buf url, out;
	char ctype[128];
	int rc, big = 0, refreshed = 0;
	long code = 0;

	*data = NULL;
	*len = 0;
	*errcode = 0;
	cl_buf_init(&url, 8192);
	cl_buf_init(&out, CL_WX_MEDIA_MAX);
again:
	if (a->token[0] == 0 || (int64_t)time(NULL) >= a->token_until) {
		rc = fetch_token(a, 0, &code, status, err);
		if (rc != CL_OK) {
			*errcode = code;
			goto out;
		}
	}
	cl_buf_reset(&url);
	cl_buf_reset(&out);
	if ((rc = cl_buf_addf(&url, "%s/cgi-bin/media/get?access_token=%s&media_id=%s",
			      a->base, a->token, media_id)))
		goto out;
	rc = http((const char *)url.data, NULL, 0, &out, status, &big, ctype, sizeof(ctype));
	if (big) {
		rc = cl_error(err, CL_ETOOBIG, "media larger than %u bytes", CL_WX_MEDIA_MAX);
		goto out;
	}
	if (rc != CL_OK || *status != 200) {
		rc = cl_error(err, CL_EIO, "media/get failed (HTTP %ld)", *status);
		goto out;
	}
	if (strncmp(ctype, "application/json", 16) == 0 || strncmp(ctype, "text/plain", 10) == 0) {
		json_t *j = NULL;
		const char *vu;

		if (parse_answer(&out, &j, &code) != CL_OK) {
			rc = cl_error(err, CL_EIO, "media/get: unreadable JSON answer");
			goto out;
		}
		vu = json_string_value(json_object_get(j, "video_url"));
		if (code == 0 && vu && url_ok(vu)) {
			cl_buf_reset(&out);
			rc = http(vu, NULL, 0, &out, status, &big, NULL, 0);
			json_decref(j);
			if (big)
				rc = cl_error(err, CL_ETOOBIG, "video larger than %u bytes",
					      CL_WX_MEDIA_MAX);
			else if (rc != CL_OK || *status != 200)
				rc = cl_error(err, CL_EIO, "video download failed (HTTP %ld)", *status);
			if (rc)
				goto out;
		} else {
			json_decref(j);
			*errcode = code;
			if (token_error(code) && refreshed++ == 0) {
				a->token[0] = 0;
				goto again;
			}
			rc = cl_error(err, CL_EIO, "media/get: errcode %ld", code);
			goto out;
		}
	}
	*data = cl_buf_detach(&out, len);
	rc = CL_OK;
out:
	wipe_buf(&url);
	cl_buf_release(&out);
	return rc;
}
