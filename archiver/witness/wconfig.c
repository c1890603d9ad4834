/*
 * wconfig.c - the [witness] and [timestamp] sections of chatledger.conf
 * (push.h), read with libinih; every other section is config.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "archiver/witness/push.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

struct wload {
	struct cl_wcfg *c;
	const char *dir;
	int quorum_set;
	char why[300];
};

static int num(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end = NULL;
	unsigned long x;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*out = (unsigned)x;
	return 0;
}

static int set_num(struct wload *x, const char *name, const char *v, unsigned lo,
		   unsigned hi, unsigned *out)
{
	if (num(v, lo, hi, out) == 0)
		return 1;
	(void)cl_fmt(x->why, sizeof(x->why), "%s must be an integer from %u to %u",
		     name, lo, hi);
	return 0;
}

/* "URL VKEY" */
static int add_witness(struct wload *x, const char *v)
{
	struct cl_wcfg_witness *w;
	const char *sp = strpbrk(v, " \t");
	char *e = NULL;
	size_t ul;

	if (x->c->n == CL_WCFG_MAX) {
		(void)cl_fmt(x->why, sizeof(x->why), "at most %d witnesses", CL_WCFG_MAX);
		return 0;
	}
	w = &x->c->w[x->c->n];
	if (sp == NULL || (ul = (size_t)(sp - v)) >= sizeof(w->url) ||
	    (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)) {
		(void)cl_fmt(x->why, sizeof(x->why),
			     "witness must be 'URL VKEY' with an http:// or https:// URL");
		return 0;
	}
	memcpy(w->url, v, ul);
	while (ul > 0 && w->url[ul - 1] == '/')
		ul--;
	w->url[ul] = 0;
	sp += strspn(sp, " \t");
	if (strlen(sp) >= sizeof(w->vkey) || cl_cosig_vkey_parse(sp, &w->key, &e) != CL_OK) {
		(void)cl_fmt(x->why, sizeof(x->why), "witness key: %s",
			     e ? e : "too long");
		free(e);
		return 0;
	}
	memcpy(w->vkey, sp, strlen(sp) + 1);
	x->c->n++;
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *v)
{
	struct wload *x = user;
	struct cl_wcfg *c = x->c;

	if (strcmp(section, "witness") == 0) {
		if (strcmp(name, "witness") == 0)
			return add_witness(x, v);
		if (strcmp(name, "quorum") == 0) {
			x->quorum_set = 1;
			return set_num(x, name, v, 1, CL_WCFG_MAX, &c->quorum);
		}
		if (strcmp(name, "interval") == 0)
			return set_num(x, name, v, 0, 86400, &c->interval_s);
		if (strcmp(name, "timeout") == 0)
			return set_num(x, name, v, 1, 600, &c->timeout_s);
		if (strcmp(name, "retries") == 0)
			return set_num(x, name, v, 0, 10, &c->retries);
		if (strcmp(name, "retry_backoff_ms") == 0)
			return set_num(x, name, v, 10, 60000, &c->backoff_ms);
	} else if (strcmp(section, "timestamp") == 0) {
		if (strcmp(name, "url") == 0) {
			if ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
			    strlen(v) >= sizeof(c->tsa_url)) {
				(void)cl_fmt(x->why, sizeof(x->why),
					     "url must be an http:// or https:// URL");
				return 0;
			}
			memcpy(c->tsa_url, v, strlen(v) + 1);
			return 1;
		}
		if (strcmp(name, "ca_file") == 0) {
			int r = v[0] == '/' ?
				cl_fmt(c->tsa_ca_file, sizeof(c->tsa_ca_file), "%s", v) :
				cl_fmt(c->tsa_ca_file, sizeof(c->tsa_ca_file), "%s/%s", x->dir, v);

			if (v[0] == 0 || r != CL_OK) {
				(void)cl_fmt(x->why, sizeof(x->why), "ca_file must be a file path");
				return 0;
			}
			return 1;
		}
		if (strcmp(name, "timeout") == 0)
			return set_num(x, name, v, 1, 600, &c->tsa_timeout_s);
	} else {
		return 1;
	}
	(void)cl_fmt(x->why, sizeof(x->why), "unknown key '%.40s' in [%.40s]", name, section);
	return 0;
}

int cl_wcfg_load(const char *dir, struct cl_wcfg *c, char **err)
{
	struct wload x;
	char *path;
	FILE *f;
	int line, rc = CL_OK;

	memset(c, 0, sizeof(*c));
	c->interval_s = 60;
	c->timeout_s = 10;
	c->retries = 2;
	c->backoff_ms = 500;
	c->tsa_timeout_s = 10;
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.dir = dir;
	path = cl_strdupf("%s/chatledger.conf", dir);
	if (path == NULL)
		return CL_ENOMEM;
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno != ENOENT)
			rc = cl_error(err, CL_EIO, "%s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	line = ini_parse_file(f, handler, &x);
	fclose(f);
	if (line != 0)
		rc = cl_error(err, CL_EINVAL, "%s:%d: %s", path, line,
			      x.why[0] ? x.why : "syntax error");
	else if (x.quorum_set && c->quorum > c->n)
		rc = cl_error(err, CL_EINVAL, "%s: [witness] quorum %u is more than the %zu"
			      " witnesses configured", path, c->quorum, c->n);
	if (!x.quorum_set)
		c->quorum = (unsigned)c->n;
	free(path);
	return rc;
}
