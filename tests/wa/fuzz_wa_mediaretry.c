/*
 * fuzz_wa_mediaretry.c - arbitrary bytes decoded as a binary node and
 * read as the phone's answer to a media retry request (mediaretry.h):
 * cl_wa_rmr_parse(), then cl_wa_rmr_open() under the vectors' media key
 * (0x5a..), so seeds written by `test_wa_mediaretry --seeds DIR` reach
 * the decrypted protobuf.  Checked: a parsed answer has an id and a chat;
 * an opened success has a path beginning with '/', nothing else has one;
 * every refusal comes with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/wa/binary.h"
#include "archiver/wa/mediaretry.h"
#include "common/status.h"
#include "common/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[32];
	struct cl_wa_node *n = NULL;
	struct cl_wa_rmr_answer a;
	char *err = NULL, *path = NULL;
	int rc, result = -1;

	if (sodium_init() < 0)
		abort();
	memset(key, 0x5a, sizeof(key));
	if (cl_wa_node_decode(data, size, &n, &err) != CL_OK) {
		free(err);
		return 0;
	}
	rc = cl_wa_rmr_parse(n, &a, &err);
	if (rc != CL_OK) {
		if (rc != CL_EINVAL || err == NULL)
			abort();
		goto out;
	}
	if (a.id == NULL || !*a.id || a.chat == NULL || !*a.chat)
		abort();
	rc = cl_wa_rmr_open(&a, key, &result, &path, &err);
	if (rc == CL_OK) {
		if ((result == CL_WA_RMR_SUCCESS) != (path != NULL) ||
		    (path && path[0] != '/'))
			abort();
	} else if (rc != CL_ENOMEM && (err == NULL || path != NULL)) {
		abort();
	}
out:
	free(path);
	free(err);
	cl_wa_node_free(n);
	return 0;
}
