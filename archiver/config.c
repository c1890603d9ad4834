/*
 * config.c - read chatledger.conf with libinih (config.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "archiver/config.h"
#include "common/status.h"
#include "common/banned.h"

struct load_ctx {
	struct cl_config *c;
	char why[200];
};

static int parse_size(const char *v, size_t lo, size_t hi, size_t *out)
{
	char *end = NULL;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*out = (size_t)x;
	return 0;
}

/* inih handler: return 1 to continue, 0 to stop at this line. */
static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct load_ctx *x = user;
	size_t n;

	if (strcmp(section, "archive") == 0) {
		if (strcmp(name, "origin") == 0) {
			if (strlen(value) >= sizeof(x->c->origin)) {
				snprintf(x->why, sizeof(x->why), "origin is too long");
				return 0;
			}
			memcpy(x->c->origin, value, strlen(value) + 1);
			return 1;
		}
		if (strcmp(name, "format") == 0) {
			if (strcmp(value, "1") != 0) {
				snprintf(x->why, sizeof(x->why),
					 "unsupported archive format '%.20s' (this build reads format 1)",
					 value);
				return 0;
			}
			x->c->format = 1;
			return 1;
		}
		if (strcmp(name, "created") == 0)
			return 1;
	} else if (strcmp(section, "ingest") == 0) {
		if (strcmp(name, "batch_size") == 0) {
			if (parse_size(value, 1, 1000000, &n) != 0) {
				snprintf(x->why, sizeof(x->why),
					 "batch_size must be an integer from 1 to 1000000");
				return 0;
			}
			x->c->batch_size = n;
			return 1;
		}
	} else if (strcmp(section, "retention") == 0) {
		if (strcmp(name, "policy") == 0) {
			if (strlen(value) == 0 || strlen(value) >= sizeof(x->c->policy)) {
				snprintf(x->why, sizeof(x->why), "policy must be a file path");
				return 0;
			}
			memcpy(x->c->policy, value, strlen(value) + 1);
			return 1;
		}
	} else {
		snprintf(x->why, sizeof(x->why), "unknown section [%.40s]", section);
		return 0;
	}
	snprintf(x->why, sizeof(x->why), "unknown key '%.40s' in [%.40s]", name,
		 section);
	return 0;
}

int cl_config_load(const char *dir, struct cl_config *c, char **err)
{
	struct load_ctx x;
	char *path = NULL;
	FILE *f;
	int line;

	memset(c, 0, sizeof(*c));
	c->format = 1;
	c->batch_size = 1000;
	memset(&x, 0, sizeof(x));
	x.c = c;
	if (asprintf(&path, "%s/chatledger.conf", dir) < 0)
		return CL_ENOMEM;
	f = fopen(path, "re");
	if (f == NULL) {
		int rc = cl_error(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				  "cannot open '%s': %s", path, strerror(errno));

		free(path);
		return rc;
	}
	line = ini_parse_file(f, handler, &x);
	fclose(f);
	if (line != 0) {
		int rc = cl_error(err, CL_EINVAL, "%s:%d: %s", path, line,
				  x.why[0] ? x.why : "syntax error");

		free(path);
		return rc;
	}
	free(path);
	return CL_OK;
}
