/*
 * rocopy.c - read-only archives: immutable when the WAL is empty, else a
 * private copy whose WAL SQLite applies (rocopy.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archiver/ledger/rocopy.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

#define COPY_CHUNK (1u << 20)

static const char *tmp_base;

/* The files of a copy, removed by cl_ledger_ro_release(). */
static const char *const copy_files[] = {
	"ledger.db", "ledger.db-wal", "ledger.db-shm", "ledger.db-journal"
};

void cl_ledger_set_tmpdir(const char *base)
{
	tmp_base = base;
}

/* Copy the regular file `src` to the new file `dst` (created exclusively,
 * mode 0600).  CL_OK, or CL_EIO with *err naming the file and why. */
static int copy_file(const char *src, const char *dst, char **err)
{
	unsigned char *buf = malloc(COPY_CHUNK);
	int in = -1, out = -1, rc = CL_OK;
	ssize_t n = 0;

	if (buf == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = cl_error(err, CL_EIO, "cannot read '%s': %s", src, strerror(errno));
		goto out;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		rc = cl_error(err, CL_EIO, "cannot create '%s': %s", dst, strerror(errno));
		goto out;
	}
	while ((n = read(in, buf, COPY_CHUNK)) > 0) {
		ssize_t done = 0;

		while (done < n) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = cl_error(err, CL_EIO, "cannot copy '%s' to '%s': %s", src,
					      dst, w < 0 ? strerror(errno) : "short write");
				goto out;
			}
			done += w;
		}
	}
	if (n < 0)
		rc = cl_error(err, CL_EIO, "cannot read '%s': %s", src, strerror(errno));
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && rc == CL_OK)
		rc = cl_error(err, CL_EIO, "cannot write '%s': %s", dst, strerror(errno));
	free(buf);
	return rc;
}

void cl_ledger_ro_release(char **copy_dir)
{
	size_t i;

	if (*copy_dir == NULL)
		return;
	for (i = 0; i < sizeof(copy_files) / sizeof(copy_files[0]); i++) {
		char *p = cl_strdupf("%s/%s", *copy_dir, copy_files[i]);

		if (p)
			(void)unlink(p);
		free(p);
	}
	(void)rmdir(*copy_dir);
	free(*copy_dir);
	*copy_dir = NULL;
}

/* Copy ledger.db and ledger.db-wal of `dir` into a new private directory
 * (*copy_dir); *path is the copy's ledger.db. */
static int make_copy(const char *dir, char **copy_dir, char **path, char **err)
{
	const char *base = tmp_base && *tmp_base ? tmp_base : "/tmp";
	char *src = NULL, *dst = NULL;
	size_t i;
	int rc = CL_OK;

	if ((*copy_dir = cl_strdupf("%s/chatledger-ro.XXXXXX", base)) == NULL)
		return CL_ENOMEM;
	if (mkdtemp(*copy_dir) == NULL) {
		rc = cl_error(err, CL_EIO, "the archive is read-only and its WAL holds data,"
			      " but no private copy can be made in '%s': %s", base,
			      strerror(errno));
		free(*copy_dir);
		*copy_dir = NULL;
		return rc;
	}
	for (i = 0; i < 2; i++) {
		free(src);
		free(dst);
		src = cl_strdupf("%s/%s", dir, copy_files[i]);
		dst = cl_strdupf("%s/%s", *copy_dir, copy_files[i]);
		if (src == NULL || dst == NULL) {
			rc = CL_ENOMEM;
			goto out;
		}
		if ((rc = copy_file(src, dst, err)))
			goto out;
	}
	*path = cl_strdupf("%s/ledger.db", *copy_dir);
	if (*path == NULL)
		rc = CL_ENOMEM;
out:
	free(src);
	free(dst);
	if (rc)
		cl_ledger_ro_release(copy_dir);
	return rc;
}

int cl_ledger_ro_path(const char *dir, char **copy_dir, char **path, char **err)
{
	char *db = cl_strdupf("%s/ledger.db", dir);
	char *wal = cl_strdupf("%s/ledger.db-wal", dir);
	struct stat st;
	int rc = CL_OK;

	*copy_dir = NULL;
	*path = NULL;
	if (db == NULL || wal == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (stat(db, &st) != 0) {
		rc = cl_error(err, CL_ENOTFOUND, "cannot read '%s': %s", db, strerror(errno));
		goto out;
	}
	if (stat(wal, &st) == 0 ? st.st_size > 0 : errno != ENOENT) {
		/* Committed data can live in the WAL (or it cannot be
		 * looked at): read it through a private copy. */
		rc = make_copy(dir, copy_dir, path, err);
	} else {
		/* Nothing in the WAL: the database file is the whole state. */
		if ((*path = cl_strdupf("file:%s?immutable=1", db)) == NULL)
			rc = CL_ENOMEM;
	}
out:
	free(db);
	free(wal);
	return rc;
}
