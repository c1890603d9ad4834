/*
 * http.h - the small HTTP client the log side needs (libcurl): POST a body
 * or GET a URL, with a timeout, keeping the response body and its
 * Content-Type.  Internal to archiver/witness/.
 */
#ifndef CL_WHTTP_H
#define CL_WHTTP_H

#include <stddef.h>

#include "common/buf.h"

struct cl_http_resp {
	long status;             /* HTTP status, 0 if none was received */
	char ctype[128];         /* Content-Type, "" if none */
	struct cl_buf body;      /* capped at 1 MiB; release it */
};

/*
 * POST body (ctype, NULL for GET) to url.  CL_OK when an HTTP answer came
 * back (any status); CL_EIO with *err when the transfer failed (refused,
 * timed out, TLS).  r->body is initialised in every case.
 */
int cl_http_request(const char *url, const char *ctype, const void *body,
		    size_t len, unsigned timeout_s, struct cl_http_resp *r,
		    char **err);
void cl_http_resp_release(struct cl_http_resp *r);

#endif
