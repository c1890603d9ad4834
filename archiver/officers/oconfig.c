/*
 * oconfig.c - the [officers] and [console] sections of DIR/chatledger.conf
 * (officers.h; every key in config/README).  archiver/config/config.c
 * leaves these sections to this file.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "archiver/officers/officers.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct oload {
	struct cl_officer_config *c;
	char why[160];
};

static int parse_uint(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end = NULL;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct oload *x = user;
	static const struct {
		const char *name;
		unsigned lo, hi;
		size_t off;
	} keys[] = {
		{ "idle_timeout", 2, 86400, offsetof(struct cl_officer_config, idle_s) },
		{ "absolute_timeout", 5, 7 * 86400,
		  offsetof(struct cl_officer_config, absolute_s) },
		{ "login_attempts", 1, 100, offsetof(struct cl_officer_config, login_attempts) },
		{ "max_sessions", 1, 4096, offsetof(struct cl_officer_config, max_sessions) },
	};
	size_t i;

	if (strcmp(section, "officers") == 0) {
		if (strcmp(name, "require_reason") == 0) {
			if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
				x->c->require_reason = strcmp(value, "yes") == 0;
				return 1;
			}
			(void)cl_fmt(x->why, sizeof(x->why), "require_reason must be yes or no");
			return 0;
		}
	} else if (strcmp(section, "console") == 0) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(name, keys[i].name) != 0)
				continue;
			if (parse_uint(value, keys[i].lo, keys[i].hi,
				       (unsigned *)(void *)((char *)x->c + keys[i].off)) != 0) {
				(void)cl_fmt(x->why, sizeof(x->why), "%s must be from %u to %u",
					     keys[i].name, keys[i].lo, keys[i].hi);
				return 0;
			}
			return 1;
		}
	} else {
		return 1;
	}
	(void)cl_fmt(x->why, sizeof(x->why), "unknown key '%.40s' in [%.40s]", name, section);
	return 0;
}

int cl_officer_config_load(const char *dir, struct cl_officer_config *c, char **err)
{
	struct oload x;
	char *path;
	FILE *f;
	int line, rc = CL_OK;

	c->require_reason = 1;
	c->idle_s = 900;
	c->absolute_s = 8 * 3600;
	c->login_attempts = 5;
	c->max_sessions = 64;
	memset(&x, 0, sizeof(x));
	x.c = c;
	if ((path = cl_strdupf("%s/chatledger.conf", dir)) == NULL)
		return CL_ENOMEM;
	if ((f = fopen(path, "re")) == NULL) {
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
