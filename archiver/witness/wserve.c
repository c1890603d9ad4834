/*
 * wserve.c - the witness's HTTP server (witness.h): libmicrohttpd with one
 * internal polling thread, so add-checkpoint requests are decided one at a
 * time (the state transaction is atomic anyway).
 */
#include <inttypes.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "archiver/witness/request.h"
#include "archiver/witness/witness.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

struct cl_wit_server {
	struct MHD_Daemon *d;
	struct cl_wit *w;
	cl_wit_hook hook;
	void *hctx;
	cl_wit_log_line log;
	void *lctx;
};

struct req {
	struct cl_buf body;
	int too_big;
};

static void logf_(struct cl_wit_server *s, const char *method, const char *url,
		  const struct cl_wit_answer *a)
{
	char line[512];

	if (s->log == NULL)
		return;
	(void)cl_fmt(line, sizeof(line), "%s %.100s -> %d %s%s%.200s size %" PRIu64,
		     method, url, a->status, a->reason ? a->reason : "",
		     a->origin[0] ? " origin " : "", a->origin, a->size);
	s->log(s->lctx, line);
}

static enum MHD_Result send_answer(struct MHD_Connection *c, const struct cl_wit_answer *a)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(a->body.len, a->body.data, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				a->ctype ? a->ctype : "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, (unsigned)a->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result simple(struct MHD_Connection *c, int status, const char *text)
{
	struct cl_wit_answer a;
	enum MHD_Result ret;

	memset(&a, 0, sizeof(a));
	cl_buf_init(&a.body, 256);
	a.status = status;
	(void)cl_buf_addf(&a.body, "%s\n", text);
	ret = send_answer(c, &a);
	cl_wit_answer_release(&a);
	return ret;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* GET .../<64 hex>/checkpoint: the hex, or NULL. */
static const char *monitor_hex(const char *url, char hex[65])
{
	size_t n = strlen(url), i;
	const char *p;

	if (!ends_with(url, "/checkpoint") || n < 11 + 65)
		return NULL;
	p = url + n - 11 - 64;
	if (p[-1] != '/')
		return NULL;
	for (i = 0; i < 64; i++) {
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
			return NULL;
		hex[i] = p[i];
	}
	hex[64] = 0;
	return hex;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
				 const char *method, const char *version,
				 const char *upload, size_t *upload_size, void **con_cls)
{
	struct cl_wit_server *s = cls;
	struct req *r = *con_cls;
	struct cl_wit_answer a;
	enum MHD_Result ret;

	(void)version;
	if (strcmp(method, "GET") == 0) {
		char hex[65];

		if (monitor_hex(url, hex) == NULL)
			return simple(c, 404, "not found");
		(void)cl_wit_monitor(s->w, hex, &a, NULL);
		logf_(s, method, url, &a);
		ret = send_answer(c, &a);
		cl_wit_answer_release(&a);
		return ret;
	}
	if (strcmp(method, "POST") != 0)
		return simple(c, 405, "method not allowed");
	if (!ends_with(url, "/add-checkpoint"))
		return simple(c, 404, "not found");
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		cl_buf_init(&r->body, CL_WREQ_MAX_BYTES);
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!r->too_big && cl_buf_add(&r->body, upload, *upload_size) != CL_OK)
			r->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return simple(c, 413, "request too large");
	(void)cl_wit_add_checkpoint(s->w, (const char *)r->body.data, r->body.len,
				    (uint64_t)time(NULL), s->hook, s->hctx, &a, NULL);
	logf_(s, method, url, &a);
	ret = send_answer(c, &a);
	cl_wit_answer_release(&a);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r) {
		cl_buf_release(&r->body);
		free(r);
		*con_cls = NULL;
	}
}

int cl_wit_serve_start(struct cl_wit *w, const char *listen, cl_wit_hook hook,
		       void *hctx, cl_wit_log_line log, void *lctx,
		       struct cl_wit_server **out, unsigned *port, char **err)
{
	struct cl_wit_server *s;
	struct addrinfo hints, *ai = NULL;
	char host[256];
	const char *colon, *h = host;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	size_t hl;

	*out = NULL;
	colon = strrchr(listen, ':');
	if (colon == NULL || colon == listen || (hl = (size_t)(colon - listen)) >= sizeof(host))
		return cl_error(err, CL_EINVAL, "--listen must be ADDR:PORT");
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = 0;
		h = host + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(h, colon + 1, &hints, &ai) != 0 || ai == NULL)
		return cl_error(err, CL_EINVAL, "--listen: '%s' is not a numeric ADDR:PORT",
				listen);
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		freeaddrinfo(ai);
		return CL_ENOMEM;
	}
	s->w = w;
	s->hook = hook;
	s->hctx = hctx;
	s->log = log;
	s->lctx = lctx;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64u << 10),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
	freeaddrinfo(ai);
	if (s->d == NULL) {
		free(s);
		return cl_error(err, CL_EIO, "cannot listen on %s", listen);
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = info ? info->port : 0;
	*out = s;
	return CL_OK;
}

void cl_wit_serve_stop(struct cl_wit_server *s)
{
	if (s == NULL)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
