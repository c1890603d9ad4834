/*
 * config.c - read chatledger.conf with libinih (config.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "archiver/config/config.h"
#include "archiver/ledger/ledger.h"
#include "archiver/wa/cert.h"
#include "common/status.h"
#include "common/util.h"
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

static int set_str(struct load_ctx *x, char *dst, size_t cap,
		   const char *name, const char *value)
{
	if (strlen(value) >= cap) {
		(void)cl_fmt(x->why, sizeof(x->why), "%.40s is too long", name);
		return 0;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 1;
}

static int set_ms(struct load_ctx *x, unsigned *dst, const char *name,
		  const char *value, size_t lo, size_t hi)
{
	size_t n;

	if (parse_size(value, lo, hi, &n) != 0) {
		(void)cl_fmt(x->why, sizeof(x->why),
			 "%.40s must be an integer from %zu to %zu", name, lo,
			 hi);
		return 0;
	}
	*dst = (unsigned)n;
	return 1;
}

/* "2.3000.1045649367": three unsigned 32-bit parts. */
static int parse_version(const char *v, unsigned out[3])
{
	char *end = NULL;
	int i;

	for (i = 0; i < 3; i++) {
		unsigned long long x;

		if (*v < '0' || *v > '9')
			return -1;
		errno = 0;
		x = strtoull(v, &end, 10);
		if (errno || x > 0xffffffffu)
			return -1;
		out[i] = (unsigned)x;
		if (i < 2 && *end != '.')
			return -1;
		v = end + 1;
	}
	return *end ? -1 : 0;
}

static int wa_key(struct load_ctx *x, const char *name, const char *value)
{
	struct cl_config_wa *w = &x->c->wa;

	if (strcmp(name, "url") == 0) {
		if (strncmp(value, "wss://", 6) != 0) {
			(void)cl_fmt(x->why, sizeof(x->why),
				 "url must start with wss://");
			return 0;
		}
		return set_str(x, w->url, sizeof(w->url), name, value);
	}
	if (strcmp(name, "ws_origin") == 0)
		return set_str(x, w->ws_origin, sizeof(w->ws_origin), name,
			       value);
	if (strcmp(name, "ca_file") == 0)
		return set_str(x, w->ca_file, sizeof(w->ca_file), name, value);
	if (strcmp(name, "credentials_key_file") == 0)
		return set_str(x, w->credentials_key_file,
			       sizeof(w->credentials_key_file), name, value);
	if (strcmp(name, "device_name") == 0) {
		if (*value == '\0') {
			(void)cl_fmt(x->why, sizeof(x->why), "device_name is empty");
			return 0;
		}
		return set_str(x, w->device_name, sizeof(w->device_name), name,
			       value);
	}
	if (strcmp(name, "root_key") == 0) {
		if (strlen(value) != 64 || cl_hex_decode(value, w->root_key, 32)) {
			(void)cl_fmt(x->why, sizeof(x->why),
				 "root_key must be 64 hex digits");
			return 0;
		}
		return 1;
	}
	if (strcmp(name, "version") == 0) {
		if (parse_version(value, w->version) != 0) {
			(void)cl_fmt(x->why, sizeof(x->why),
				 "version must look like 2.3000.1045649367");
			return 0;
		}
		return 1;
	}
	if (strcmp(name, "full_history") == 0) {
		if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
			w->full_history = strcmp(value, "yes") == 0;
			return 1;
		}
		(void)cl_fmt(x->why, sizeof(x->why), "full_history must be yes or no");
		return 0;
	}
	if (strcmp(name, "platform_type") == 0) {
		unsigned v;

		if (!set_ms(x, &v, name, value, 0, 7))
			return 0;
		w->platform_type = (int)v;
		return 1;
	}
	if (strcmp(name, "keepalive_min_ms") == 0)
		return set_ms(x, &w->keepalive_min_ms, name, value, 100, 600000);
	if (strcmp(name, "keepalive_max_ms") == 0)
		return set_ms(x, &w->keepalive_max_ms, name, value, 100, 600000);
	if (strcmp(name, "keepalive_timeout_ms") == 0)
		return set_ms(x, &w->keepalive_timeout_ms, name, value, 100,
			      600000);
	if (strcmp(name, "keepalive_giveup_ms") == 0)
		return set_ms(x, &w->keepalive_giveup_ms, name, value, 100,
			      3600000);
	if (strcmp(name, "reconnect_base_ms") == 0)
		return set_ms(x, &w->reconnect_base_ms, name, value, 10,
			      3600000);
	if (strcmp(name, "reconnect_max_ms") == 0)
		return set_ms(x, &w->reconnect_max_ms, name, value, 10,
			      86400000);
	if (strcmp(name, "qr_first_ms") == 0)
		return set_ms(x, &w->qr_first_ms, name, value, 100, 600000);
	if (strcmp(name, "qr_next_ms") == 0)
		return set_ms(x, &w->qr_next_ms, name, value, 100, 600000);
	if (strcmp(name, "pair_rounds") == 0)
		return set_ms(x, &w->pair_rounds, name, value, 1, 100);
	return -1;
}

/* [labels] ACCOUNT = a, b, c */
static int labels_key(struct load_ctx *x, const char *name, const char *value)
{
	struct cl_config_labels *e;
	const char *p = value;
	size_t i;

	if (strlen(name) == 0 || strlen(name) >= sizeof(e->account)) {
		(void)cl_fmt(x->why, sizeof(x->why), "[labels] account must be 1-255 bytes");
		return 0;
	}
	for (i = 0; i < x->c->n_labels; i++)
		if (strcmp(x->c->labels[i].account, name) == 0) {
			(void)cl_fmt(x->why, sizeof(x->why),
				     "[labels] account '%.40s' is given twice", name);
			return 0;
		}
	if (x->c->n_labels == CL_CONFIG_MAX_LABEL_ACCOUNTS) {
		(void)cl_fmt(x->why, sizeof(x->why), "[labels] has more than %d accounts",
			     CL_CONFIG_MAX_LABEL_ACCOUNTS);
		return 0;
	}
	e = &x->c->labels[x->c->n_labels];
	memset(e, 0, sizeof(*e));
	memcpy(e->account, name, strlen(name) + 1);
	while (*p) {
		const char *q = strchr(p, ',');
		size_t n = q ? (size_t)(q - p) : strlen(p);

		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == 0 || n > 128 || e->n == CL_CONFIG_MAX_ACCOUNT_LABELS) {
			(void)cl_fmt(x->why, sizeof(x->why),
				     "[labels] %.40s: at most %d labels of 1-128 bytes, comma-separated",
				     name, CL_CONFIG_MAX_ACCOUNT_LABELS);
			return 0;
		}
		memcpy(e->label[e->n], p, n);
		e->label[e->n][n] = 0;
		e->n++;
		if (q == NULL)
			break;
		p = q + 1;
	}
	if (e->n == 0) {
		(void)cl_fmt(x->why, sizeof(x->why), "[labels] %.40s: no label given", name);
		return 0;
	}
	x->c->n_labels++;
	return 1;
}

/* The account itself, or its id after the last ':' (INI keys cannot
 * hold ':', and the Cloud API names accounts "wa-business:ID"). */
static int account_is(const char *account, const char *key)
{
	const char *c = strrchr(account, ':');

	return strcmp(account, key) == 0 || (c && strcmp(c + 1, key) == 0);
}

size_t cl_config_account_labels(void *ctx, const char *account, const char **out,
				size_t cap)
{
	const struct cl_config *c = ctx;
	size_t i, j, k, n = 0;

	for (i = 0; i < c->n_labels; i++) {
		const struct cl_config_labels *e = &c->labels[i];

		if (strcmp(e->account, "*") != 0 && !account_is(account, e->account))
			continue;
		for (j = 0; j < e->n && n < cap; j++) {
			for (k = 0; k < n; k++)
				if (strcmp(out[k], e->label[j]) == 0)
					break;
			if (k == n)
				out[n++] = e->label[j];
		}
	}
	return n;
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
				(void)cl_fmt(x->why, sizeof(x->why), "origin is too long");
				return 0;
			}
			memcpy(x->c->origin, value, strlen(value) + 1);
			return 1;
		}
		if (strcmp(name, "format") == 0) {
			if (strcmp(value, "1") == 0) {
				(void)cl_fmt(x->why, sizeof(x->why), CL_FORMAT1_REFUSAL);
				return 0;
			}
			/* The format the archive was created with; meta.format
			 * says what it is now (FORMAT.md §10). */
			if (strcmp(value, "2") != 0 && strcmp(value, "3") != 0) {
				(void)cl_fmt(x->why, sizeof(x->why),
					 "unsupported archive format '%.20s' (this build reads"
					 " formats 2 and 3)", value);
				return 0;
			}
			x->c->format = value[0] - '0';
			return 1;
		}
		if (strcmp(name, "created") == 0)
			return 1;
	} else if (strcmp(section, "ingest") == 0) {
		if (strcmp(name, "batch_size") == 0) {
			if (parse_size(value, 1, 1000000, &n) != 0) {
				(void)cl_fmt(x->why, sizeof(x->why),
					 "batch_size must be an integer from 1 to 1000000");
				return 0;
			}
			x->c->batch_size = n;
			return 1;
		}
	} else if (strcmp(section, "retention") == 0) {
		if (strcmp(name, "policy") == 0) {
			if (strlen(value) == 0 || strlen(value) >= sizeof(x->c->policy)) {
				(void)cl_fmt(x->why, sizeof(x->why), "policy must be a file path");
				return 0;
			}
			memcpy(x->c->policy, value, strlen(value) + 1);
			return 1;
		}
	} else if (strcmp(section, "labels") == 0) {
		return labels_key(x, name, value);
	} else if (strcmp(section, "whatsapp") == 0) {
		int r = wa_key(x, name, value);

		if (r >= 0)
			return r;
	} else if (strcmp(section, "witness") == 0 || strcmp(section, "timestamp") == 0 ||
		   strcmp(section, "replicate") == 0) {
		return 1; /* checked by archiver/witness/wconfig.c, replicate/rconf.c */
	} else if (strcmp(section, "officers") == 0 || strcmp(section, "console") == 0) {
		return 1; /* read and checked by archiver/officers/oconfig.c */
	} else {
		(void)cl_fmt(x->why, sizeof(x->why), "unknown section [%.40s]", section);
		return 0;
	}
	(void)cl_fmt(x->why, sizeof(x->why), "unknown key '%.40s' in [%.40s]", name,
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
	(void)cl_fmt(c->wa.url, sizeof(c->wa.url), "%s", CL_WA_DEFAULT_URL);
	(void)cl_fmt(c->wa.ws_origin, sizeof(c->wa.ws_origin), "%s",
		 CL_WA_DEFAULT_ORIGIN);
	(void)cl_hex_decode(CL_WA_ROOT_PUB_HEX, c->wa.root_key, 32);
	c->wa.version[0] = CL_WA_DEFAULT_VERSION_0;
	c->wa.version[1] = CL_WA_DEFAULT_VERSION_1;
	c->wa.version[2] = CL_WA_DEFAULT_VERSION_2;
	(void)cl_fmt(c->wa.device_name, sizeof(c->wa.device_name), "chatledger");
	c->wa.platform_type = 1;
	c->wa.full_history = 1;
	c->wa.keepalive_min_ms = 20000;
	c->wa.keepalive_max_ms = 30000;
	c->wa.keepalive_timeout_ms = 10000;
	c->wa.keepalive_giveup_ms = 180000;
	c->wa.reconnect_base_ms = 1000;
	c->wa.reconnect_max_ms = 300000;
	c->wa.qr_first_ms = 60000;
	c->wa.qr_next_ms = 20000;
	c->wa.pair_rounds = 5;
	memset(&x, 0, sizeof(x));
	x.c = c;
	if ((path = cl_strdupf("%s/chatledger.conf", dir)) == NULL)
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
	if (line == 0 && c->wa.keepalive_max_ms < c->wa.keepalive_min_ms) {
		(void)cl_fmt(x.why, sizeof(x.why),
			 "keepalive_max_ms is below keepalive_min_ms");
		line = -2;
	}
	if (line == -2) {
		int rc = cl_error(err, CL_EINVAL, "%s: %s", path, x.why);

		free(path);
		return rc;
	}
	if (line != 0) {
		int rc = cl_error(err, CL_EINVAL, "%s:%d: %s", path, line,
				  x.why[0] ? x.why : "syntax error");

		free(path);
		return rc;
	}
	free(path);
	return CL_OK;
}
