/*
 * console.c - the console's server: listener, requests and forms (through
 * libmicrohttpd's parsers), sessions, CSRF, the sign-in rate limit, and
 * the response headers every page carries (console.h).  The pages are in
 * pages.c.
 *
 * One internal polling thread serves every request, so the session table
 * and the ledger handle are used by one thread only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "archiver/console/console_int.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define MAX_BODY (64u * 1024u)
#define COOKIE "clsid"

/* ---- sessions ------------------------------------------------------------ */

static void session_wipe(struct cl_con_session *s)
{
	if (s == NULL)
		return;
	cl_officer_session_free(s->off);
	sodium_memzero(s, sizeof(*s));
}

/* Drop the sessions past their idle or absolute limit. */
static void sessions_expire(struct cl_console *c, int64_t now)
{
	size_t i;

	for (i = 0; i < c->o.cfg.max_sessions; i++) {
		struct cl_con_session *s = &c->sess[i];

		if (s->used && (now - s->seen > (int64_t)c->o.cfg.idle_s * 1000 ||
				now - s->created > (int64_t)c->o.cfg.absolute_s * 1000))
			session_wipe(s);
	}
}

/* The live session the request's cookie names, or NULL. */
static struct cl_con_session *session_find(struct cl_console *c, struct MHD_Connection *conn,
					   int64_t now)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);
	unsigned char id[32];
	size_t i;
	struct cl_con_session *hit = NULL;

	sessions_expire(c, now);
	if (cl_con_token_parse(v, id) != 0)
		return NULL;
	for (i = 0; i < c->o.cfg.max_sessions; i++)
		if (c->sess[i].used && sodium_memcmp(c->sess[i].id, id, 32) == 0)
			hit = &c->sess[i];
	sodium_memzero(id, sizeof(id));
	if (hit)
		hit->seen = now;
	return hit;
}

struct cl_con_session *cl_con_session_new(struct cl_console *c, struct cl_officer *off,
					  int lang, int64_t now)
{
	struct cl_con_session *s = NULL, *oldest = NULL;
	size_t i;

	sessions_expire(c, now);
	for (i = 0; i < c->o.cfg.max_sessions && s == NULL; i++) {
		if (!c->sess[i].used)
			s = &c->sess[i];
		else if (oldest == NULL || c->sess[i].seen < oldest->seen)
			oldest = &c->sess[i];
	}
	if (s == NULL) {
		if (oldest == NULL) {   /* max_sessions is never 0 */
			cl_officer_session_free(off);
			return NULL;
		}
		session_wipe(oldest);  /* full: the least recently used goes */
		s = oldest;
	}
	s->used = 1;
	randombytes_buf(s->id, sizeof(s->id));
	randombytes_buf(s->csrf, sizeof(s->csrf));
	sodium_bin2hex(s->id_hex, sizeof(s->id_hex), s->id, sizeof(s->id));
	sodium_bin2hex(s->csrf_hex, sizeof(s->csrf_hex), s->csrf, sizeof(s->csrf));
	s->off = off;
	s->created = s->seen = now;
	s->lang = lang;
	return s;
}

void cl_con_session_end(struct cl_con_session *s)
{
	session_wipe(s);
}

int cl_con_csrf_ok(const struct cl_con_session *s, const char *token)
{
	unsigned char t[32];
	int ok;

	if (s == NULL || cl_con_token_parse(token, t) != 0)
		return 0;
	ok = sodium_memcmp(t, s->csrf, 32) == 0;
	sodium_memzero(t, sizeof(t));
	return ok;
}

/* ---- sign-in rate limit ------------------------------------------------- */

/* Failures within the last minute for `key`. */
static unsigned fails_recent(const struct cl_console *c, const char *key, int64_t now)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < CL_CON_FAILS; i++)
		if (c->fails[i].at != 0 && now - c->fails[i].at < 60000 &&
		    strcmp(c->fails[i].key, key) == 0)
			n++;
	return n;
}

int cl_con_login_allowed(const struct cl_console *c, const char *name, const char *addr,
			 int64_t now)
{
	char k1[80], k2[80];

	(void)cl_fmt(k1, sizeof(k1), "n:%.70s", name);
	(void)cl_fmt(k2, sizeof(k2), "a:%.70s", addr);
	/* N = login_attempts: after N-1 failures for one name in a minute, the
	 * Nth try is refused before its passphrase is looked at; one address
	 * gets 4N (several officers behind one proxy). */
	return fails_recent(c, k1, now) + 1 < c->o.cfg.login_attempts &&
	       fails_recent(c, k2, now) + 1 < 4 * c->o.cfg.login_attempts;
}

void cl_con_login_failed(struct cl_console *c, const char *name, const char *addr, int64_t now)
{
	struct cl_con_fail *f;

	f = &c->fails[c->fail_next++ % CL_CON_FAILS];
	(void)cl_fmt(f->key, sizeof(f->key), "n:%.70s", name);
	f->at = now;
	f = &c->fails[c->fail_next++ % CL_CON_FAILS];
	(void)cl_fmt(f->key, sizeof(f->key), "a:%.70s", addr);
	f->at = now;
}

/* ---- requests ------------------------------------------------------------ */

const char *cl_con_arg(const struct cl_con_req *r, const char *key)
{
	size_t i;

	if (r->conn == NULL)
		return NULL;
	if (!r->is_post)
		return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
	for (i = 0; i < r->n; i++)
		if (strcmp(r->keys[i], key) == 0)
			return (const char *)r->vals[i].data;
	return NULL;
}

static enum MHD_Result post_iter(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *filename, const char *content_type,
				 const char *transfer_encoding, const char *data, uint64_t off,
				 size_t size)
{
	struct cl_con_req *r = cls;
	size_t i;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->keys[i], key) == 0)
			break;
	if (i == r->n) {
		if (r->n == CL_CON_MAX_FIELDS || off != 0)
			return MHD_NO;
		if ((r->keys[i] = cl_strdupf("%s", key)) == NULL)
			return MHD_NO;
		cl_buf_init(&r->vals[i], CL_CON_MAX_VALUE);
		r->n++;
	}
	/* A value arrives in pieces; keep it NUL-terminated. */
	if (r->vals[i].len > 0)
		r->vals[i].len--;
	if (cl_buf_add(&r->vals[i], data, size) != CL_OK || cl_buf_add(&r->vals[i], "", 1) != CL_OK)
		return MHD_NO;
	return MHD_YES;
}

static void req_free(struct cl_con_req *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->pp)
		MHD_destroy_post_processor(r->pp);
	for (i = 0; i < r->n; i++) {
		free(r->keys[i]);
		if (r->vals[i].data)
			sodium_memzero(r->vals[i].data, r->vals[i].alloc);
		cl_buf_release(&r->vals[i]);
	}
	free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)conn;
	(void)toe;
	req_free(*con_cls);
	*con_cls = NULL;
}

/* The headers every response carries. */
static void secure_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; style-src 'self'; img-src 'self'; "
				"form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
}

static enum MHD_Result send_page(struct cl_console *c, struct MHD_Connection *conn,
				 struct cl_con_page *p)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char cookie[200];

	if (p->fd >= 0) {
		resp = MHD_create_response_from_fd((uint64_t)p->fd_size, p->fd);
		p->fd = -1;
	} else {
		resp = MHD_create_response_from_buffer(p->b.len, p->b.data, MHD_RESPMEM_MUST_COPY);
	}
	if (resp == NULL)
		return MHD_NO;
	secure_headers(resp);
	MHD_add_response_header(resp, "Content-Type",
				p->ctype ? p->ctype : "text/html; charset=utf-8");
	if (p->disposition[0])
		MHD_add_response_header(resp, "Content-Disposition", p->disposition);
	if (p->location)
		MHD_add_response_header(resp, "Location", p->location);
	if (p->cookie == 1) {
		(void)cl_fmt(cookie, sizeof(cookie), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s",
			     p->cookie_val, c->o.tls_cert ? "; Secure" : "");
		MHD_add_response_header(resp, "Set-Cookie", cookie);
	} else if (p->cookie == 2) {
		(void)cl_fmt(cookie, sizeof(cookie), COOKIE "=; Path=/; HttpOnly; SameSite=Strict;"
			     " Max-Age=0%s", c->o.tls_cert ? "; Secure" : "");
		MHD_add_response_header(resp, "Set-Cookie", cookie);
	}
	ret = MHD_queue_response(conn, (unsigned)p->status, resp);
	MHD_destroy_response(resp);
	sodium_memzero(cookie, sizeof(cookie));
	return ret;
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	(void)cl_fmt(out, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
				out, (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		(void)inet_ntop(AF_INET6,
				&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
				out, (socklen_t)cap);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version,
				 const char *upload_data, size_t *upload_data_size,
				 void **con_cls)
{
	struct cl_console *c = cls;
	struct cl_con_req *r = *con_cls;
	struct cl_con_page p;
	enum MHD_Result ret;

	(void)version;
	if (r == NULL) {
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return MHD_NO;
		r->conn = conn;
		r->is_post = strcmp(method, "POST") == 0;
		r->is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
		if (r->is_post) {
			r->pp = MHD_create_post_processor(conn, 4096, post_iter, r);
			if (r->pp == NULL)
				r->bad = 1;  /* not a urlencoded form */
		}
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		r->body += *upload_data_size;
		if (r->body > MAX_BODY)
			r->bad = 2;
		else if (!r->bad && r->pp &&
			 MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
			r->bad = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	memset(&p, 0, sizeof(p));
	p.fd = -1;
	p.status = 200;
	cl_buf_init(&p.b, 64u << 20);
	client_addr(conn, r->addr, sizeof(r->addr));
	r->now = cl_time_now_ms();
	r->path = url;
	if (!r->is_post && !r->is_get) {
		cl_con_error(c, r, &p, 405, "method not allowed");
	} else if (r->bad) {
		cl_con_error(c, r, &p, r->bad == 2 ? 413 : 400,
			     r->bad == 2 ? "request too large" : "bad form");
	} else {
		r->s = session_find(c, conn, r->now);
		cl_con_route(c, r, &p);
	}
	ret = send_page(c, conn, &p);
	if (p.fd >= 0)
		close(p.fd);
	if (p.b.data)
		sodium_memzero(p.b.data, p.b.alloc);  /* it may hold message text */
	cl_buf_release(&p.b);
	return ret;
}

/* ---- start and stop ------------------------------------------------------ */

/* Parse "ADDR:PORT" / "[ADDR6]:PORT", refuse plain HTTP off loopback,
 * listen. */
static int open_listener(struct cl_console *c, char **err)
{
	const char *spec = c->o.listen, *colon, *h0 = spec, *h1;
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t slen;
	char host[INET6_ADDRSTRLEN + 1], *end = NULL;
	unsigned long port;
	int v6 = 0, s, one = 1, loop;

	if (spec == NULL)
		return cl_error(err, CL_EINVAL, "no listen address");
	if (spec[0] == '[') {
		h0 = spec + 1;
		h1 = strchr(h0, ']');
		if (h1 == NULL || h1[1] != ':')
			return cl_error(err, CL_EINVAL, "bad listen address (want [ADDR]:PORT)");
		colon = h1 + 1;
		v6 = 1;
	} else {
		colon = strrchr(spec, ':');
		h1 = colon;
		if (colon == NULL)
			return cl_error(err, CL_EINVAL, "bad listen address (want ADDR:PORT)");
	}
	if (h1 == h0 || (size_t)(h1 - h0) >= sizeof(host))
		return cl_error(err, CL_EINVAL, "bad listen address");
	memcpy(host, h0, (size_t)(h1 - h0));
	host[h1 - h0] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || errno || *end || port > 65535)
		return cl_error(err, CL_EINVAL, "bad port in the listen address");
	memset(&ss, 0, sizeof(ss));
	if (!v6 && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		loop = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	} else if (v6 && inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		loop = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		return cl_error(err, CL_EINVAL, "the listen address is not a numeric IP address");
	}
	if (!loop && c->o.tls_cert == NULL)
		return cl_error(err, CL_EINVAL, "plain HTTP is only served on loopback (127.0.0.1,"
				" ::1) behind a reverse proxy; give --tls-cert and --tls-key-file"
				" to listen on %s", host);
	s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return cl_error(err, CL_EIO, "cannot create a socket: %s", strerror(errno));
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	slen = ss.ss_family == AF_INET ? sizeof(*s4) : sizeof(*s6);
	if (bind(s, (struct sockaddr *)&ss, slen) != 0 || listen(s, SOMAXCONN) != 0 ||
	    getsockname(s, (struct sockaddr *)&ss, &slen) != 0) {
		int e = errno;

		close(s);
		return cl_error(err, CL_EIO, "cannot listen on %s: %s", spec, strerror(e));
	}
	port = ntohs(v6 ? s6->sin6_port : s4->sin_port);
	(void)cl_fmt(c->addr, sizeof(c->addr), v6 ? "[%s]:%lu" : "%s:%lu", host, port);
	c->lfd = s;
	return CL_OK;
}

int cl_console_start(struct cl_ledger *l, const struct cl_console_opts *o,
		     struct cl_console **out, char **err)
{
	struct cl_console *c = calloc(1, sizeof(*c));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
	int rc;

	*out = NULL;
	if (c == NULL)
		return CL_ENOMEM;
	c->o = *o;
	c->l = l;
	c->lfd = -1;
	if (c->o.cfg.max_sessions == 0)
		c->o.cfg.max_sessions = 64;
	if ((c->sess = sodium_allocarray(c->o.cfg.max_sessions, sizeof(*c->sess))) == NULL) {
		free(c);
		return CL_ENOMEM;
	}
	sodium_memzero(c->sess, c->o.cfg.max_sessions * sizeof(*c->sess));
	if ((c->exports = cl_strdupf("%s/console-exports", o->dir)) == NULL) {
		rc = CL_ENOMEM;
		goto fail;
	}
	if ((rc = open_listener(c, err)))
		goto fail;
	if (o->tls_cert)
		flags |= MHD_USE_TLS;
	c->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, c,
				MHD_OPTION_LISTEN_SOCKET, (MHD_socket)c->lfd,
				MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_CONNECTION_LIMIT, 64u,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128u << 10),
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, c,
				o->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				o->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, o->tls_key,
				MHD_OPTION_END);
	if (c->d == NULL) {
		rc = cl_error(err, CL_EIO, "cannot start the HTTP%s server on %s",
			      o->tls_cert ? "S" : "", c->addr);
		goto fail;
	}
	c->lfd = -1;
	*out = c;
	return CL_OK;
fail:
	cl_console_stop(c);
	return rc;
}

const char *cl_console_address(const struct cl_console *c)
{
	return c->addr;
}

void cl_console_stop(struct cl_console *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->d)
		MHD_stop_daemon(c->d);
	if (c->lfd >= 0)
		close(c->lfd);
	for (i = 0; c->sess && i < c->o.cfg.max_sessions; i++)
		session_wipe(&c->sess[i]);
	sodium_free(c->sess);
	free(c->exports);
	free(c);
}
