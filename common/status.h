/*
 * status.h - the project-wide result codes.
 *
 * Every library function that can fail returns an enum cl_status: CL_OK (0)
 * on success, a small positive code otherwise.  Human-readable detail, when
 * there is any, travels through an optional `char **err` out-parameter that
 * the caller frees with free().  Only cli/ turns codes into exit statuses.
 */
#ifndef CL_STATUS_H
#define CL_STATUS_H

enum cl_status {
	CL_OK = 0,
	CL_ENOMEM = 1,    /* allocation failed */
	CL_EIO = 2,       /* file or database I/O failed */
	CL_ECORRUPT = 3,  /* stored data does not verify: tampering or damage */
	CL_EBADSIG = 4,   /* a signature did not verify */
	CL_EINVAL = 5,    /* bad input or bad argument */
	CL_EEXIST = 6,    /* refusing to overwrite */
	CL_ENOTFOUND = 7, /* no such item */
	/* 8 was CL_EPOLICY: no operation is refused by a policy (retention
	 * decides, it does not refuse), so nothing returned it. */
	CL_EKEY = 9,      /* wrong passphrase or unusable key */
	CL_EPARTIAL = 10, /* done, but some input was quarantined */
	/* 11 was CL_ELOCKED (never returned); not reused. */
	CL_ETOOBIG = 12,  /* a size cap was reached (e.g. a cl_buf's max) */
	CL_EBUSY = 13     /* archive busy: another writer kept the writer lock
	                     past the caller's bound (cl_ledger_set_wait) */
};

/* A static English description of `rc`; never NULL. */
const char *cl_strerror(int rc);

/*
 * Format a message into a newly allocated string and store it in *err
 * (if err is non-NULL and *err is still NULL: the first error wins).
 * Returns `rc` so that `return cl_error(err, CL_EINVAL, "...")` reads well.
 */
int cl_error(char **err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
