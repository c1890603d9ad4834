/*
 * fuzz_verifybundle.c - verify-bundle on arbitrary bytes (a zip or tar
 * that may be anything).  It must return a report or an error, never
 * crash; a report's "ok" must agree with the return value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "archiver/export/verifybundle.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_verifybundle.XXXXXX";
	struct cl_vb_opts o = { NULL, NULL, NULL, NULL };
	json_t *rep = NULL;
	char *err = NULL;
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	rc = cl_verifybundle(path, &o, &rep, &err);
	unlink(path);
	if (rep != NULL && json_is_true(json_object_get(rep, "ok")) != (rc == CL_OK))
		abort();
	json_decref(rep);
	free(err);
	return 0;
}
