/*
 * status.c - result codes and error-message helpers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "status.h"
#include "common/banned.h"

const char *cl_strerror(int rc)
{
	switch (rc) {
	case CL_OK: return "ok";
	case CL_ENOMEM: return "out of memory";
	case CL_EIO: return "input/output error";
	case CL_ECORRUPT: return "data does not verify";
	case CL_EBADSIG: return "bad signature";
	case CL_EINVAL: return "invalid input";
	case CL_EEXIST: return "already exists";
	case CL_ENOTFOUND: return "not found";
	case CL_EKEY: return "wrong passphrase or unusable key";
	case CL_EPARTIAL: return "partial: some input quarantined";
	case CL_ETOOBIG: return "too large";
	case CL_EBUSY: return "archive busy";
	default: return "unknown error";
	}
}

int cl_error(char **err, int rc, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (err == NULL || *err != NULL)
		return rc;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	*err = msg;
	return rc;
}
