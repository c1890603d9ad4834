/*
 * config.h - DIR/chatledger.conf, the archive's configuration (INI, parsed
 * with libinih).  Every key is documented in config/README.  Unknown
 * sections or keys and bad values are errors reported as "file:line:
 * reason": a typo must never silently change behaviour.
 */
#ifndef CL_CONFIG_H
#define CL_CONFIG_H

#include <stddef.h>

struct cl_config {
	char origin[256];      /* [archive] origin (informational; the ledger's copy rules) */
	int format;            /* [archive] format */
	size_t batch_size;     /* [ingest] batch_size: records per durable commit */
	char policy[1024];     /* [retention] policy: policy file (relative to
	                          the archive directory), "" = none */
};

/* Load DIR/chatledger.conf; defaults for absent keys.  CL_EINVAL with
 * "path:line: reason" on a syntax error, unknown key or bad value. */
int cl_config_load(const char *dir, struct cl_config *c, char **err);

#endif
