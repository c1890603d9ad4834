/*
 * s3.h - a minimal S3 client for replication: path-style requests signed
 * with AWS Signature Version 4 by libcurl (CURLOPT_AWS_SIGV4), with the
 * three workarounds libcurl 7.88 needs (docs/FORMAT.md §12.1): the
 * x-amz-content-sha256 header is always sent (the hex SHA-256 of the
 * body), query strings are built sorted, and valueless parameters are
 * written "name=".  XML answers are parsed with libxml2.
 *
 * Credentials are copied into guarded memory (sodium_malloc) and never
 * appear in an error message.  TLS peer and host verification are always
 * on; plain http is refused unless the endpoint host is a loopback name
 * (127.0.0.1, ::1, localhost) or allow_http is set.
 */
#ifndef CL_S3_H
#define CL_S3_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

struct cl_s3;

struct cl_s3_opts {
	const char *endpoint;    /* scheme://host[:port], no path */
	const char *region;      /* e.g. "us-east-1" */
	const char *access_key;
	const char *secret_key;
	const char *ca_file;     /* extra CA bundle, or NULL */
	int allow_http;          /* plain http to a non-loopback host */
	long timeout_s;          /* per request, 0 = 120 s */
};

/* A new client (copies everything it needs).  CL_EINVAL names a bad
 * endpoint; *out is set only on success; cl_s3_free() releases it. */
int cl_s3_new(const struct cl_s3_opts *o, struct cl_s3 **out, char **err);
void cl_s3_free(struct cl_s3 *s);

/* One answer.  body is capped by the caller's cl_buf max. */
struct cl_s3_resp {
	long status;             /* HTTP status, 0 if the request failed */
	char version_id[256];    /* x-amz-version-id, "" if none */
	char etag[80];           /* ETag without quotes, "" if none */
	char code[64];           /* the S3 error Code of a non-2xx answer */
	struct cl_buf body;
};
void cl_s3_resp_init(struct cl_s3_resp *r, size_t max);
void cl_s3_resp_release(struct cl_s3_resp *r);

/*
 * One request: METHOD /bucket[/key][?query] where query is already
 * sorted "k=v&k=v" with escaped values (cl_s3_escape), headers extra
 * "Name: value" lines (NULL-ended, may be NULL).  CL_OK when an answer
 * arrived (any status: the caller decides), CL_EIO when none did.
 */
int cl_s3_request(struct cl_s3 *s, const char *method, const char *bucket,
		  const char *key, const char *query, const char *const *headers,
		  const void *body, size_t len, struct cl_s3_resp *r, char **err);

/* URL-escape `v` for a query value or key (malloc'd, NULL on ENOMEM). */
char *cl_s3_escape(struct cl_s3 *s, const char *v);

/*
 * PUT an object with Content-MD5; with `lock_until_ms` > 0 also Object
 * Lock COMPLIANCE retention until that time.  CL_OK on 200 (version id
 * and ETag in r); CL_EBADSIG... no: CL_EINVAL on a refusal (4xx/5xx: the
 * status and S3 code are in r and *err), CL_EIO if no answer.
 */
int cl_s3_put(struct cl_s3 *s, const char *bucket, const char *key,
	      const void *body, size_t len, int64_t lock_until_ms,
	      struct cl_s3_resp *r, char **err);
/* GET an object (optionally one version).  CL_ENOTFOUND on 404. */
int cl_s3_get(struct cl_s3 *s, const char *bucket, const char *key,
	      const char *version_id, struct cl_s3_resp *r, char **err);

/* One object version from a listing. */
struct cl_s3_obj {
	char *key;
	char *version_id;        /* "" for unversioned listings */
	char etag[80];
	uint64_t size;
	int is_latest;
	int delete_marker;
};
struct cl_s3_list {
	struct cl_s3_obj *v;
	size_t n, alloc;
};
void cl_s3_list_release(struct cl_s3_list *l);
/* Every key under `prefix` (ListObjectsV2, all pages), in key order. */
int cl_s3_list_objects(struct cl_s3 *s, const char *bucket, const char *prefix,
		       struct cl_s3_list *out, char **err);
/* Every version and delete marker under `prefix` (ListObjectVersions). */
int cl_s3_list_versions(struct cl_s3 *s, const char *bucket, const char *prefix,
			struct cl_s3_list *out, char **err);
/* Parse a listing document (either kind) and append it to out; sets
 * *truncated and the next markers (malloc'd, may be NULL).  For the fuzz
 * target and the listing functions. */
int cl_s3_parse_listing(const unsigned char *xml, size_t len, struct cl_s3_list *out,
			int *truncated, char **next1, char **next2, char **err);

/* The Object Lock retention of one version: mode ("COMPLIANCE"...) and
 * retain-until in ms.  CL_ENOTFOUND if it has none. */
int cl_s3_get_retention(struct cl_s3 *s, const char *bucket, const char *key,
			const char *version_id, char mode[16], int64_t *until_ms,
			char **err);
/* Bucket facts: *lock = Object Lock enabled; *versioning = 0 never set,
 * 1 Enabled, 2 Suspended. */
int cl_s3_bucket_lock(struct cl_s3 *s, const char *bucket, int *lock, char **err);
int cl_s3_bucket_versioning(struct cl_s3 *s, const char *bucket, int *versioning,
			    char **err);
/* DELETE an object (optionally one version); CL_OK on 204/200. */
int cl_s3_delete(struct cl_s3 *s, const char *bucket, const char *key,
		 const char *version_id, struct cl_s3_resp *r, char **err);

#endif
