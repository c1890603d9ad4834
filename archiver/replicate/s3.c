/*
 * s3.c - path-style S3 requests over libcurl with SigV4 (s3.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "archiver/replicate/s3.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct cl_s3 {
	CURL *curl;
	char endpoint[512];
	char sigv4[128];
	char *userpwd;          /* "key:secret", sodium_malloc'd */
	size_t userpwd_len;
	char ca_file[1024];
	long timeout_s;
};

static int host_is_loopback(const char *host, size_t n)
{
	return (n == 9 && memcmp(host, "127.0.0.1", 9) == 0) ||
	       (n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	       (n == 5 && memcmp(host, "[::1]", 5) == 0);
}

int cl_s3_new(const struct cl_s3_opts *o, struct cl_s3 **out, char **err)
{
	struct cl_s3 *s = NULL;
	const char *h, *e;
	size_t ak, sk;
	int rc = CL_OK;

	*out = NULL;
	if (!o->endpoint || !o->access_key || !o->secret_key || !o->region)
		return cl_error(err, CL_EINVAL, "S3 endpoint, region and credentials are needed");
	if (strncmp(o->endpoint, "https://", 8) == 0) {
		h = o->endpoint + 8;
	} else if (strncmp(o->endpoint, "http://", 7) == 0) {
		h = o->endpoint + 7;
		e = h + strcspn(h, ":/");
		if (*h == '[')
			e = h + strcspn(h, "]") + (strchr(h, ']') ? 1 : 0);
		if (!o->allow_http && !host_is_loopback(h, (size_t)(e - h)))
			return cl_error(err, CL_EINVAL, "endpoint %.200s: plain http only to a loopback"
					" host (or with allow_http)", o->endpoint);
	} else {
		return cl_error(err, CL_EINVAL, "endpoint %.200s: not http(s)://HOST[:PORT]",
				o->endpoint);
	}
	if (*h == 0 || strchr(h, '/') || strlen(o->endpoint) >= 512 ||
	    strlen(o->region) > 64 || strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(o->region))
		return cl_error(err, CL_EINVAL, "endpoint %.200s or region: malformed", o->endpoint);
	ak = strlen(o->access_key);
	sk = strlen(o->secret_key);
	if (ak == 0 || sk == 0 || ak > 256 || sk > 256 || strchr(o->access_key, ':'))
		return cl_error(err, CL_EINVAL, "S3 credentials: malformed");
	if (!(s = calloc(1, sizeof(*s))))
		return CL_ENOMEM;
	s->userpwd_len = ak + 1 + sk + 1;
	if (!(s->userpwd = sodium_malloc(s->userpwd_len)) || !(s->curl = curl_easy_init())) {
		rc = CL_ENOMEM;
		goto out;
	}
	memcpy(s->userpwd, o->access_key, ak);
	s->userpwd[ak] = ':';
	memcpy(s->userpwd + ak + 1, o->secret_key, sk + 1);
	(void)cl_fmt(s->endpoint, sizeof(s->endpoint), "%s", o->endpoint);
	(void)cl_fmt(s->sigv4, sizeof(s->sigv4), "aws:amz:%s:s3", o->region);
	if (o->ca_file && cl_fmt(s->ca_file, sizeof(s->ca_file), "%s", o->ca_file) != 0) {
		rc = cl_error(err, CL_EINVAL, "CA file name too long");
		goto out;
	}
	s->timeout_s = o->timeout_s > 0 ? o->timeout_s : 120;
	*out = s;
	s = NULL;
out:
	cl_s3_free(s);
	return rc;
}

void cl_s3_free(struct cl_s3 *s)
{
	if (!s)
		return;
	if (s->curl)
		curl_easy_cleanup(s->curl);
	sodium_free(s->userpwd);
	free(s);
}

void cl_s3_resp_init(struct cl_s3_resp *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	cl_buf_init(&r->body, max);
}

void cl_s3_resp_release(struct cl_s3_resp *r)
{
	cl_buf_release(&r->body);
}

char *cl_s3_escape(struct cl_s3 *s, const char *v)
{
	char *e = curl_easy_escape(s->curl, v, 0), *c;

	if (!e)
		return NULL;
	c = strdup(e);
	curl_free(e);
	return c;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct cl_s3_resp *r = ctx;

	if (cl_buf_add(&r->body, p, size * n) != CL_OK)
		return 0;
	return size * n;
}

/* Header lines: keep the version id and the ETag. */
static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct cl_s3_resp *r = ctx;
	size_t len = size * n, vlen;
	const char *v;
	char *dst;
	size_t cap;

	if (len > 17 && strncasecmp(p, "x-amz-version-id:", 17) == 0) {
		v = p + 17;
		dst = r->version_id;
		cap = sizeof(r->version_id);
	} else if (len > 5 && strncasecmp(p, "etag:", 5) == 0) {
		v = p + 5;
		dst = r->etag;
		cap = sizeof(r->etag);
	} else {
		return len;
	}
	while (v < p + len && (*v == ' ' || *v == '"'))
		v++;
	vlen = (size_t)(p + len - v);
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == '"' ||
			v[vlen - 1] == ' '))
		vlen--;
	if (vlen < cap) {
		memcpy(dst, v, vlen);
		dst[vlen] = 0;
	}
	return len;
}

struct upload {
	const unsigned char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	struct upload *u = ctx;
	size_t k = size * n < u->left ? size * n : u->left;

	memcpy(buf, u->p, k);
	u->p += k;
	u->left -= k;
	return k;
}

/* The first <Code> of an S3 error document, by a libxml2 parse. */
static void error_code(struct cl_s3_resp *r)
{
	xmlDocPtr d;
	xmlNodePtr n;

	r->code[0] = 0;
	if (r->body.len == 0 || r->body.len > INT32_MAX)
		return;
	d = xmlReadMemory((const char *)r->body.data, (int)r->body.len, "s3.xml", NULL,
			  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!d)
		return;
	for (n = xmlDocGetRootElement(d) ? xmlDocGetRootElement(d)->children : NULL; n;
	     n = n->next) {
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, "Code") == 0) {
			xmlChar *c = xmlNodeGetContent(n);

			if (c)
				(void)cl_fmt(r->code, sizeof(r->code), "%s", (const char *)c);
			xmlFree(c);
			break;
		}
	}
	xmlFreeDoc(d);
}

int cl_s3_request(struct cl_s3 *s, const char *method, const char *bucket,
		  const char *key, const char *query, const char *const *headers,
		  const void *body, size_t len, struct cl_s3_resp *r, char **err)
{
	unsigned char sha[32];
	struct cl_buf url, hdr;
	struct curl_slist *hl = NULL, *t;
	struct upload up = { body, len };
	char errbuf[CURL_ERROR_SIZE];
	CURLcode cc;
	CURL *c = s->curl;
	int rc = CL_OK;

	cl_buf_init(&url, 4096);
	cl_buf_init(&hdr, 128);
	cl_buf_reset(&r->body);
	r->status = 0;
	r->version_id[0] = r->etag[0] = r->code[0] = 0;
	if (cl_buf_addf(&url, "%s/%s", s->endpoint, bucket) ||
	    (key && cl_buf_addf(&url, "/%s", key)) ||
	    (query && *query && cl_buf_addf(&url, "?%s", query)) || cl_buf_add_u8(&url, 0)) {
		rc = cl_error(err, CL_EINVAL, "S3 request URL too long");
		goto out;
	}
	/* Workaround 1: libcurl 7.88 signs but does not send the payload
	 * hash; S3 needs it. */
	cl_sha256(body ? body : "", body ? len : 0, sha);
	if (cl_buf_addstr(&hdr, "x-amz-content-sha256: ") || cl_hex_add(&hdr, sha, 32) ||
	    cl_buf_add_u8(&hdr, 0) || !(t = curl_slist_append(hl, (char *)hdr.data))) {
		rc = CL_ENOMEM;
		goto out;
	}
	hl = t;
	for (; headers && *headers; headers++) {
		if (!(t = curl_slist_append(hl, *headers))) {
			rc = CL_ENOMEM;
			goto out;
		}
		hl = t;
	}
	curl_easy_reset(c);
	errbuf[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, (char *)url.data);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, s->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (s->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, &up);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = cl_error(err, CL_EIO, "S3 %s %s/%s: %s", method, bucket, key ? key : "",
			      errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status < 200 || r->status > 299)
		error_code(r);
out:
	/* The credentials live only in s->userpwd; drop curl's copy too. */
	curl_easy_reset(c);
	curl_slist_free_all(hl);
	cl_buf_release(&url);
	cl_buf_release(&hdr);
	return rc;
}

/* CL_OK for 2xx; otherwise an error naming the status and S3 code. */
static int refused(const struct cl_s3_resp *r, const char *what, const char *key,
		   char **err)
{
	if (r->status >= 200 && r->status <= 299)
		return CL_OK;
	if (r->status == 404)
		return cl_error(err, CL_ENOTFOUND, "S3 %s %.300s: not found (%s)", what, key,
				r->code[0] ? r->code : "404");
	return cl_error(err, CL_EINVAL, "S3 %s %.300s refused: HTTP %ld %s", what, key,
			r->status, r->code);
}

int cl_s3_put(struct cl_s3 *s, const char *bucket, const char *key,
	      const void *body, size_t len, int64_t lock_until_ms,
	      struct cl_s3_resp *r, char **err)
{
	unsigned char md5[16];
	unsigned int mdlen = 0;
	struct cl_buf h1;
	char h2[64], h3[96];
	const char *hs[4] = { NULL, NULL, NULL, NULL };
	int rc;

	cl_buf_init(&h1, 128);
	if (!EVP_Digest(body, len, md5, &mdlen, EVP_md5(), NULL) || mdlen != 16) {
		cl_buf_release(&h1);
		return cl_error(err, CL_EIO, "MD5 failed");
	}
	if (cl_buf_addstr(&h1, "Content-MD5: ") || cl_b64_add(&h1, md5, 16) ||
	    cl_buf_add_u8(&h1, 0)) {
		cl_buf_release(&h1);
		return CL_ENOMEM;
	}
	hs[0] = (const char *)h1.data;
	if (lock_until_ms > 0) {
		char when[32];

		cl_time_format(lock_until_ms - lock_until_ms % 1000, when);
		/* cl_time_format gives milliseconds; S3 takes ISO 8601 seconds. */
		(void)cl_fmt(h2, sizeof(h2), "x-amz-object-lock-mode: COMPLIANCE");
		(void)cl_fmt(h3, sizeof(h3), "x-amz-object-lock-retain-until-date: %.19sZ", when);
		hs[1] = h2;
		hs[2] = h3;
	}
	rc = cl_s3_request(s, "PUT", bucket, key, NULL, hs, body, len, r, err);
	cl_buf_release(&h1);
	if (rc)
		return rc;
	return refused(r, "PUT", key, err);
}

int cl_s3_get(struct cl_s3 *s, const char *bucket, const char *key,
	      const char *version_id, struct cl_s3_resp *r, char **err)
{
	char *q = NULL, *ev = NULL;
	int rc;

	if (version_id && *version_id) {
		if (!(ev = cl_s3_escape(s, version_id)) || !(q = cl_strdupf("versionId=%s", ev))) {
			free(ev);
			return CL_ENOMEM;
		}
	}
	rc = cl_s3_request(s, "GET", bucket, key, q, NULL, NULL, 0, r, err);
	free(ev);
	free(q);
	if (rc)
		return rc;
	return refused(r, "GET", key, err);
}

int cl_s3_delete(struct cl_s3 *s, const char *bucket, const char *key,
		 const char *version_id, struct cl_s3_resp *r, char **err)
{
	char *q = NULL, *ev = NULL;
	int rc;

	if (version_id && *version_id) {
		if (!(ev = cl_s3_escape(s, version_id)) || !(q = cl_strdupf("versionId=%s", ev))) {
			free(ev);
			return CL_ENOMEM;
		}
	}
	rc = cl_s3_request(s, "DELETE", bucket, key, q, NULL, NULL, 0, r, err);
	free(ev);
	free(q);
	if (rc)
		return rc;
	return refused(r, "DELETE", key, err);
}

/* ---- listings -------------------------------------------------------- */

void cl_s3_list_release(struct cl_s3_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].version_id);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static char *child_text(xmlNodePtr n, const char *name)
{
	xmlNodePtr c;

	for (c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0) {
			xmlChar *t = xmlNodeGetContent(c);
			char *r = t ? strdup((const char *)t) : NULL;

			xmlFree(t);
			return r;
		}
	return NULL;
}

static int add_obj(struct cl_s3_list *out, xmlNodePtr n, int marker)
{
	struct cl_s3_obj *o;
	char *etag, *size, *latest;

	if (out->n == out->alloc) {
		size_t na = out->alloc ? out->alloc * 2 : 64;
		struct cl_s3_obj *nv = realloc(out->v, na * sizeof(*nv));

		if (!nv)
			return CL_ENOMEM;
		out->v = nv;
		out->alloc = na;
	}
	o = &out->v[out->n];
	memset(o, 0, sizeof(*o));
	o->key = child_text(n, "Key");
	o->version_id = child_text(n, "VersionId");
	if (!o->version_id)
		o->version_id = strdup("");
	if (!o->key || !o->version_id) {
		free(o->key);
		free(o->version_id);
		return CL_ECORRUPT;
	}
	o->delete_marker = marker;
	etag = child_text(n, "ETag");
	size = child_text(n, "Size");
	latest = child_text(n, "IsLatest");
	if (etag) {
		const char *e = etag;
		size_t el;

		while (*e == '"')
			e++;
		el = strcspn(e, "\"");
		if (el < sizeof(o->etag)) {
			memcpy(o->etag, e, el);
			o->etag[el] = 0;
		}
	}
	if (size)
		o->size = strtoull(size, NULL, 10);
	o->is_latest = latest && strcmp(latest, "true") == 0;
	free(etag);
	free(size);
	free(latest);
	out->n++;
	return CL_OK;
}

int cl_s3_parse_listing(const unsigned char *xml, size_t len, struct cl_s3_list *out,
			int *truncated, char **next1, char **next2, char **err)
{
	xmlDocPtr d;
	xmlNodePtr root, n;
	char *t;
	int rc = CL_OK;

	*truncated = 0;
	*next1 = *next2 = NULL;
	if (len > INT32_MAX)
		return cl_error(err, CL_ECORRUPT, "S3 listing too large");
	d = xmlReadMemory((const char *)xml, (int)len, "list.xml", NULL,
			  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!d)
		return cl_error(err, CL_ECORRUPT, "S3 listing: not XML");
	root = xmlDocGetRootElement(d);
	if (!root || (strcmp((const char *)root->name, "ListBucketResult") != 0 &&
		      strcmp((const char *)root->name, "ListVersionsResult") != 0)) {
		rc = cl_error(err, CL_ECORRUPT, "S3 listing: unexpected document");
		goto out;
	}
	for (n = root->children; n && rc == CL_OK; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)n->name, "Contents") == 0 ||
		    strcmp((const char *)n->name, "Version") == 0)
			rc = add_obj(out, n, 0);
		else if (strcmp((const char *)n->name, "DeleteMarker") == 0)
			rc = add_obj(out, n, 1);
	}
	if (rc) {
		rc = cl_error(err, rc, "S3 listing: malformed entry");
		goto out;
	}
	t = child_text(root, "IsTruncated");
	*truncated = t && strcmp(t, "true") == 0;
	free(t);
	if (*truncated) {
		if (strcmp((const char *)root->name, "ListBucketResult") == 0) {
			*next1 = child_text(root, "NextContinuationToken");
		} else {
			*next1 = child_text(root, "NextKeyMarker");
			*next2 = child_text(root, "NextVersionIdMarker");
		}
		if (!*next1) {
			rc = cl_error(err, CL_ECORRUPT, "S3 listing: truncated without a marker");
			free(*next2);
			*next2 = NULL;
		}
	}
out:
	xmlFreeDoc(d);
	return rc;
}

static int list_all(struct cl_s3 *s, const char *bucket, const char *prefix,
		    int versions, struct cl_s3_list *out, char **err)
{
	struct cl_s3_resp r;
	char *ep = NULL, *m1 = NULL, *m2 = NULL, *q = NULL, *e1 = NULL, *e2 = NULL;
	int rc = CL_OK, trunc = 1, pages = 0;

	memset(out, 0, sizeof(*out));
	cl_s3_resp_init(&r, 64u << 20);
	if (!(ep = cl_s3_escape(s, prefix))) {
		rc = CL_ENOMEM;
		goto out;
	}
	while (trunc) {
		free(q);
		q = NULL;
		/* Workarounds 2 and 3: parameters sorted, each with "=". */
		if (!versions)
			q = m1 ? cl_strdupf("continuation-token=%s&list-type=2&prefix=%s", e1, ep)
			       : cl_strdupf("list-type=2&prefix=%s", ep);
		else
			q = m1 ? cl_strdupf("key-marker=%s&prefix=%s&version-id-marker=%s&versions=",
					    e1, ep, e2 ? e2 : "")
			       : cl_strdupf("prefix=%s&versions=", ep);
		if (!q) {
			rc = CL_ENOMEM;
			goto out;
		}
		if ((rc = cl_s3_request(s, "GET", bucket, NULL, q, NULL, NULL, 0, &r, err)))
			goto out;
		if ((rc = refused(&r, "LIST", bucket, err)))
			goto out;
		free(m1);
		free(m2);
		free(e1);
		free(e2);
		m1 = m2 = e1 = e2 = NULL;
		if ((rc = cl_s3_parse_listing(r.body.data, r.body.len, out, &trunc, &m1, &m2, err)))
			goto out;
		if (trunc && (!(e1 = cl_s3_escape(s, m1)) || (m2 && !(e2 = cl_s3_escape(s, m2))))) {
			rc = CL_ENOMEM;
			goto out;
		}
		if (++pages > 1000000) {
			rc = cl_error(err, CL_ECORRUPT, "S3 listing does not end");
			goto out;
		}
	}
out:
	if (rc)
		cl_s3_list_release(out);
	free(ep);
	free(m1);
	free(m2);
	free(e1);
	free(e2);
	free(q);
	cl_s3_resp_release(&r);
	return rc;
}

int cl_s3_list_objects(struct cl_s3 *s, const char *bucket, const char *prefix,
		       struct cl_s3_list *out, char **err)
{
	return list_all(s, bucket, prefix, 0, out, err);
}

int cl_s3_list_versions(struct cl_s3 *s, const char *bucket, const char *prefix,
			struct cl_s3_list *out, char **err)
{
	return list_all(s, bucket, prefix, 1, out, err);
}

/* ---- bucket and retention facts ---------------------------------------- */

/* GET ?NAME= on the bucket (or an object) and return the text of the first
 * element called `want` anywhere in the answer (malloc'd, NULL if none). */
static int get_sub(struct cl_s3 *s, const char *bucket, const char *key, const char *q,
		   const char *want, char **val, char **err)
{
	struct cl_s3_resp r;
	xmlDocPtr d = NULL;
	xmlNodePtr n;
	int rc;

	*val = NULL;
	cl_s3_resp_init(&r, 1 << 20);
	if ((rc = cl_s3_request(s, "GET", bucket, key, q, NULL, NULL, 0, &r, err)))
		goto out;
	if ((rc = refused(&r, q, key ? key : bucket, err)))
		goto out;
	if (r.body.len == 0)
		goto out;
	if (r.body.len > INT32_MAX || !(d = xmlReadMemory((const char *)r.body.data,
					(int)r.body.len, "s3.xml", NULL,
					XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING))) {
		rc = cl_error(err, CL_ECORRUPT, "S3 %s: not XML", q);
		goto out;
	}
	/* Depth-first over the (small) document. */
	n = xmlDocGetRootElement(d);
	while (n) {
		if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, want) == 0) {
			xmlChar *t = xmlNodeGetContent(n);

			*val = t ? strdup((const char *)t) : NULL;
			xmlFree(t);
			if (!*val)
				rc = CL_ENOMEM;
			break;
		}
		if (n->children) {
			n = n->children;
			continue;
		}
		while (n && !n->next)
			n = n->parent && n->parent->type == XML_ELEMENT_NODE ? n->parent : NULL;
		if (n)
			n = n->next;
	}
out:
	xmlFreeDoc(d);
	cl_s3_resp_release(&r);
	return rc;
}

int cl_s3_get_retention(struct cl_s3 *s, const char *bucket, const char *key,
			const char *version_id, char mode[16], int64_t *until_ms,
			char **err)
{
	char *q = NULL, *ev = NULL, *m = NULL, *u = NULL;
	int rc;

	mode[0] = 0;
	*until_ms = 0;
	if (!(ev = cl_s3_escape(s, version_id ? version_id : "")) ||
	    !(q = cl_strdupf("retention=&versionId=%s", ev))) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((rc = get_sub(s, bucket, key, q, "Mode", &m, err)))
		goto out;
	if ((rc = get_sub(s, bucket, key, q, "RetainUntilDate", &u, err)))
		goto out;
	if (!m || !u) {
		rc = cl_error(err, CL_ENOTFOUND, "%.300s: no retention", key);
		goto out;
	}
	(void)cl_fmt(mode, 16, "%s", m);
	if (cl_time_parse(u, strlen(u), until_ms) != CL_OK)
		rc = cl_error(err, CL_ECORRUPT, "%.300s: retain-until %.40s unreadable", key, u);
out:
	free(ev);
	free(q);
	free(m);
	free(u);
	return rc;
}

int cl_s3_bucket_lock(struct cl_s3 *s, const char *bucket, int *lock, char **err)
{
	char *v = NULL;
	int rc = get_sub(s, bucket, NULL, "object-lock=", "ObjectLockEnabled", &v, err);

	*lock = rc == CL_OK && v && strcmp(v, "Enabled") == 0;
	if (rc == CL_ENOTFOUND || (rc == CL_EINVAL && !v)) {
		/* No configuration: not a lock bucket (S3 answers 404). */
		if (err) {
			free(*err);
			*err = NULL;
		}
		rc = CL_OK;
	}
	free(v);
	return rc;
}

int cl_s3_bucket_versioning(struct cl_s3 *s, const char *bucket, int *versioning,
			    char **err)
{
	char *v = NULL;
	int rc = get_sub(s, bucket, NULL, "versioning=", "Status", &v, err);

	*versioning = !v ? 0 : strcmp(v, "Enabled") == 0 ? 1 : 2;
	free(v);
	return rc;
}
