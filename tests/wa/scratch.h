/*
 * scratch.h - a scratch directory for a WhatsApp test program: created
 * under /tmp by scratch_make(), removed with everything in it by
 * scratch_remove().  Each returns 0 on success.
 */
#ifndef CL_TEST_WA_SCRATCH_H
#define CL_TEST_WA_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tmpdir[64];

static int scratch_rm_entry(const char *path, const struct stat *st,
			    int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* name: the program's name, used in the directory's name. */
static int scratch_make(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.XXXXXX", name);
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int scratch_remove(void)
{
	if (nftw(tmpdir, scratch_rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		printf("# cannot remove %s\n", tmpdir);
		return -1;
	}
	return 0;
}

#endif
