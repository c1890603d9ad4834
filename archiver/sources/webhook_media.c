/*
 * webhook_media.c - the webhook's downloader: fetches one pending media
 * item at a time with the access token (libcurl) and hands the result to
 * the committer; it never touches the ledger (webhook_int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sqlite3.h>

#include "archiver/ingest/import.h"
#include "archiver/sources/cloudapi.h"
#include "archiver/ingest/ingest.h"
#include "archiver/ledger/leaf.h"
#include "archiver/ingest/record.h"
#include "archiver/sources/webhook.h"
#include "archiver/sources/webhook_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

/* ---- media: the downloader ----------------------------------------- */

struct sink {
	struct cl_webhook *w;
	struct cl_buf *b;
	size_t max;
	int over;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *k = ctx;
	size_t len = size * n;

	if (k->b->len + len > k->max) {
		k->over = 1;
		return 0;   /* cancels the transfer */
	}
	if (cl_buf_add(k->b, p, len) != CL_OK)
		return 0;
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct sink *k = ctx;
	int quit;

	(void)dt; (void)dn; (void)ut; (void)un;
	pthread_mutex_lock(&k->w->mu);
	quit = k->w->dl_quit;
	pthread_mutex_unlock(&k->w->mu);
	return quit;   /* non-zero cancels */
}

/* GET `url` with the bearer header into `out` (at most `max` bytes).
 * 1 on HTTP 200, else 0 with *status the HTTP status (0 if none). */
static int http_get(struct cl_webhook *w, const char *url,
		    struct curl_slist *hdr, size_t max, struct cl_buf *out,
		    long *status, int *too_big)
{
	CURL *c = curl_easy_init();
	struct sink k = { w, out, max, 0 };
	CURLcode cc;

	*status = 0;
	if (c == NULL)
		return 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  /* never re-send the token */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CL_WEBHOOK_MEDIA_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &k);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "chatledger-webhook");
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	if (cc == CURLE_OK && *status == 200)
		return 1;
	if (k.over || cc == CURLE_FILESIZE_EXCEEDED)
		*too_big = 1;
	if (*status == 200)
		*status = 0;   /* a transfer error after the headers */
	return 0;
}

/* The whole download of d->media_id; fills d->ok, status, data, len. */
static void download(struct cl_webhook *w, struct dl *d)
{
	struct curl_slist *hdr = NULL;
	struct cl_buf meta, file;
	char *h = sodium_malloc(w->token_len + 32), *url = NULL;
	json_t *j = NULL;
	const char *u;
	size_t i;

	cl_buf_init(&meta, 64u << 10);
	cl_buf_init(&file, CL_WEBHOOK_MEDIA_MAX);
	d->ok = 0;
	d->status = 0;
	if (h == NULL)
		return;
	memcpy(h, "Authorization: Bearer ", 22);
	memcpy(h + 22, w->token, w->token_len);
	h[22 + w->token_len] = 0;
	hdr = curl_slist_append(NULL, h);
	sodium_memzero(h, w->token_len + 32);
	sodium_free(h);
	if (hdr == NULL || (url = cl_strdupf("%s/%s", w->media_url, d->media_id)) == NULL) {
		url = NULL;
		goto out;
	}
	if (!http_get(w, url, hdr, 64u << 10, &meta, &d->status, &d->too_big) ||
	    meta.len == 0) {
		d->too_big = 0;   /* an oversize answer here is just unusable */
		if (d->status == 200)
			d->status = 0;
		goto out;
	}
	j = json_loadb((const char *)meta.data, meta.len, 0, NULL);
	u = j ? json_string_value(json_object_get(j, "url")) : NULL;
	d->status = 0;   /* from here on, 0 if the answer is unusable */
	if (u == NULL || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0))
		goto out;
	for (i = 0; u[i]; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
			goto out;
	if (!http_get(w, u, hdr, CL_WEBHOOK_MEDIA_MAX, &file, &d->status, &d->too_big)) {
		if (d->too_big)
			d->status = 413;
		goto out;
	}
	d->ok = 1;
	d->status = 200;
	d->data = file.data;
	d->len = file.len;
	file.data = NULL;
out:
	if (hdr) {
		sodium_memzero(hdr->data, strlen(hdr->data));
		curl_slist_free_all(hdr);
	}
	json_decref(j);
	free(url);
	if (meta.data)
		sodium_memzero(meta.data, meta.alloc);
	if (file.data)
		sodium_memzero(file.data, file.alloc);
	cl_buf_release(&meta);
	cl_buf_release(&file);
}

void *cl_webhook_downloader_main(void *arg)
{
	struct cl_webhook *w = arg;
	struct dl d;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->dl_has_task && !w->dl_quit)
			pthread_cond_wait(&w->dl_cond, &w->mu);
		if (w->dl_quit)
			break;
		d = w->dl;
		w->dl_has_task = 0;
		pthread_mutex_unlock(&w->mu);
		download(w, &d);
		pthread_mutex_lock(&w->mu);
		if (w->dl_quit) {   /* cancelled or late: the row stays due */
			if (d.data)
				sodium_memzero(d.data, d.len);
			free(d.data);
			break;
		}
		w->dl = d;
		w->dl_done = 1;
		pthread_cond_signal(&w->work);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/*
 * Suspend the request on `c` and queue its job for the committer, which
 * resumes it when the job is done.  CL_EINVAL (nothing queued, not
 * suspended) once the committer has been told to quit.  MHD's own locks
 * are never taken while holding w->mu.
 */
