/*
 * rconf.c - [replicate] configuration, S3-URLs and the credentials file
 * (replicate.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>
#include <sodium.h>

#include "archiver/replicate/replicate.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct cx {
	struct cl_repl_conf *c;
	char why[256];
};

static int num(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int str(char *dst, size_t cap, const char *v)
{
	return cl_fmt(dst, cap, "%s", v);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct cx *x = user;
	struct cl_repl_conf *c = x->c;
	uint64_t n;

	if (strcmp(section, "replicate") != 0)
		return 1;
	if (strcmp(name, "url") == 0) {
		if (str(c->url, sizeof(c->url), value) == 0)
			return 1;
	} else if (strcmp(name, "keys_url") == 0) {
		if (str(c->keys_url, sizeof(c->keys_url), value) == 0)
			return 1;
	} else if (strcmp(name, "endpoint") == 0) {
		if (str(c->endpoint, sizeof(c->endpoint), value) == 0)
			return 1;
	} else if (strcmp(name, "region") == 0) {
		if (str(c->region, sizeof(c->region), value) == 0)
			return 1;
	} else if (strcmp(name, "credentials_file") == 0) {
		if (str(c->credentials_file, sizeof(c->credentials_file), value) == 0)
			return 1;
	} else if (strcmp(name, "ca_file") == 0) {
		if (str(c->ca_file, sizeof(c->ca_file), value) == 0)
			return 1;
	} else if (strcmp(name, "allow_http") == 0) {
		if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
			c->allow_http = strcmp(value, "true") == 0;
			return 1;
		}
	} else if (strcmp(name, "segment_entries") == 0) {
		if (num(value, 1, 10000000, &c->segment_entries) == 0)
			return 1;
	} else if (strcmp(name, "segment_bytes") == 0) {
		if (num(value, 4096, 4ull << 30, &c->segment_bytes) == 0)
			return 1;
	} else if (strcmp(name, "retention_days") == 0) {
		if (num(value, 0, 36500, &c->retention_days) == 0)
			return 1;
	} else if (strcmp(name, "interval") == 0) {
		if (num(value, 1, 86400, &n) == 0) {
			c->interval_s = (unsigned)n;
			return 1;
		}
	} else if (strcmp(name, "timeout") == 0) {
		if (num(value, 1, 3600, &n) == 0) {
			c->timeout_s = (unsigned)n;
			return 1;
		}
	} else {
		(void)cl_fmt(x->why, sizeof(x->why), "[replicate] unknown key '%.60s'", name);
		return 0;
	}
	(void)cl_fmt(x->why, sizeof(x->why), "[replicate] %.60s: bad value", name);
	return 0;
}

int cl_repl_conf_load(const char *dir, struct cl_repl_conf *c, char **err)
{
	struct cx x;
	char *path;
	FILE *f;
	int line, rc = CL_OK;

	memset(c, 0, sizeof(*c));
	(void)cl_fmt(c->region, sizeof(c->region), "us-east-1");
	c->segment_entries = 10000;
	c->segment_bytes = 64u << 20;
	c->interval_s = 60;
	c->timeout_s = 120;
	memset(&x, 0, sizeof(x));
	x.c = c;
	if (!(path = cl_strdupf("%s/chatledger.conf", dir)))
		return CL_ENOMEM;
	if (!(f = fopen(path, "re"))) {
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
	free(path);
	return rc;
}

static int prefix_ok(const char *p)
{
	const char *s;

	if (*p == 0)
		return 1;
	if (*p == '/' || p[strlen(p) - 1] == '/' || strstr(p, "//") || strlen(p) > 400)
		return 0;
	for (s = p; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-' || *s == '/'))
			return 0;
	return strstr(p, "/../") == NULL && strncmp(p, "../", 3) != 0 && strcmp(p, "..") != 0;
}

int cl_repl_where_parse(const char *url, const char *endpoint,
			struct cl_repl_where *w, char **err)
{
	const char *rest, *slash;
	size_t bl;

	memset(w, 0, sizeof(*w));
	if (strncmp(url, "s3://", 5) == 0) {
		if (!endpoint || !*endpoint)
			return cl_error(err, CL_EINVAL, "%.200s: an s3:// URL needs an endpoint"
					" ([replicate] endpoint or --endpoint)", url);
		if (cl_fmt(w->endpoint, sizeof(w->endpoint), "%s", endpoint))
			return cl_error(err, CL_EINVAL, "endpoint too long");
		rest = url + 5;
	} else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
		const char *h = url + (url[4] == 's' ? 8 : 7);

		slash = strchr(h, '/');
		if (!slash || slash == h || (size_t)(slash - url) >= sizeof(w->endpoint))
			return cl_error(err, CL_EINVAL, "%.200s: not scheme://HOST[:PORT]/BUCKET[/PREFIX]",
					url);
		memcpy(w->endpoint, url, (size_t)(slash - url));
		rest = slash + 1;
	} else {
		return cl_error(err, CL_EINVAL, "%.200s: not an S3-URL (s3://BUCKET/PREFIX or"
				" http(s)://HOST/BUCKET/PREFIX)", url);
	}
	slash = strchr(rest, '/');
	bl = slash ? (size_t)(slash - rest) : strlen(rest);
	if (bl < 3 || bl > 63 || strspn(rest, "abcdefghijklmnopqrstuvwxyz0123456789.-") < bl)
		return cl_error(err, CL_EINVAL, "%.200s: bad bucket name", url);
	memcpy(w->bucket, rest, bl);
	w->bucket[bl] = 0;
	if (slash && cl_fmt(w->prefix, sizeof(w->prefix), "%s", slash + 1))
		return cl_error(err, CL_EINVAL, "%.200s: prefix too long", url);
	/* A trailing '/' is allowed and dropped. */
	if (w->prefix[0] && w->prefix[strlen(w->prefix) - 1] == '/')
		w->prefix[strlen(w->prefix) - 1] = 0;
	if (!prefix_ok(w->prefix))
		return cl_error(err, CL_EINVAL, "%.200s: bad prefix (letters, digits, . _ - and /)",
				url);
	return CL_OK;
}

struct credx {
	char *ak, *sk;
	int bad;
};

static char *sdup(const char *v)
{
	size_t n = strlen(v);
	char *p = sodium_malloc(n + 1);

	if (p)
		memcpy(p, v, n + 1);
	return p;
}

static int cred_handler(void *user, const char *section, const char *name, const char *value)
{
	struct credx *x = user;
	char **dst;

	if (*section && strcmp(section, "default") != 0)
		return 1;
	if (strcmp(name, "aws_access_key_id") == 0)
		dst = &x->ak;
	else if (strcmp(name, "aws_secret_access_key") == 0)
		dst = &x->sk;
	else
		return 1;
	sodium_free(*dst);
	if (!(*dst = sdup(value)))
		x->bad = 1;
	return 1;
}

int cl_repl_credentials_load(const char *path, char **access_key, char **secret_key,
			     char **err)
{
	struct credx x = { NULL, NULL, 0 };
	struct stat st;
	FILE *f;
	int fd, line;

	*access_key = *secret_key = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return cl_error(err, CL_EINVAL, "credentials file %.300s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		return cl_error(err, CL_EINVAL, "credentials file %.300s: must be a regular file"
				" readable by its owner only (chmod 600)", path);
	}
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return CL_ENOMEM;
	}
	line = ini_parse_file(f, cred_handler, &x);
	fclose(f);
	if (line != 0 || x.bad || !x.ak || !x.sk || !*x.ak || !*x.sk) {
		/* Never quote the file's contents. */
		int rc = x.bad ? CL_ENOMEM : cl_error(err, CL_EINVAL, "credentials file %.300s: needs"
						  " aws_access_key_id and aws_secret_access_key"
						  " (syntax error at line %d)", path, line);
		sodium_free(x.ak);
		sodium_free(x.sk);
		return rc;
	}
	*access_key = x.ak;
	*secret_key = x.sk;
	return CL_OK;
}
