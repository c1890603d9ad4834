/*
 * http.c - libcurl POST/GET for the witness client and the TSA (http.h).
 */
#include <string.h>

#include <curl/curl.h>

#include "archiver/witness/http.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct cl_buf *b = ctx;

	if (cl_buf_add(b, p, size * n) != CL_OK)
		return 0;
	return size * n;
}

int cl_http_request(const char *url, const char *ctype, const void *body,
		    size_t len, unsigned timeout_s, struct cl_http_resp *r,
		    char **err)
{
	CURL *c;
	struct curl_slist *hdr = NULL;
	char h[160];
	char *ct = NULL;
	CURLcode cc;
	int rc = CL_OK;

	memset(r, 0, sizeof(*r));
	cl_buf_init(&r->body, 1 << 20);
	c = curl_easy_init();
	if (c == NULL)
		return cl_error(err, CL_ENOMEM, "cannot start libcurl");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)timeout_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chatledger-witness-client/1");
	if (ctype) {
		(void)cl_fmt(h, sizeof(h), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, h);
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = cl_error(err, CL_EIO, "%s: %s", url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		(void)cl_fmt(r->ctype, sizeof(r->ctype), "%s", ct);
out:
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return rc;
}

void cl_http_resp_release(struct cl_http_resp *r)
{
	cl_buf_release(&r->body);
}
