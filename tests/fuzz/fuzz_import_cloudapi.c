/*
 * fuzz_import_cloudapi.c - the Cloud API webhook importer on arbitrary
 * bytes.  Every record it emits must pass cl_record_parse(); every bad
 * item must carry a reason and an item number within the body's count.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/sources/cloudapi.h"
#include "archiver/ingest/record.h"
#include "common/status.h"
#include "tests/unit/import_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t max_item;
	uint64_t records;
};

static int on_record(void *ctx, const char *json, size_t len)
{
	struct seen *s = ctx;

	if (!sink_record_valid(json, len, NULL))
		abort();
	s->records++;
	return 0;
}

static int on_bad(void *ctx, uint64_t item, const unsigned char *data,
		  size_t len, const char *reason)
{
	struct seen *s = ctx;

	if (!sink_bad_valid(item, data, len, reason))
		abort();
	if (item > s->max_item)
		s->max_item = item;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s;
	struct cl_import_sink sink;
	uint64_t n = 0;
	char *err = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&sink, 0, sizeof(sink));
	sink.ctx = &s;
	sink.record = on_record;
	sink.bad = on_bad;
	rc = cl_cloudapi_import_body((const char *)data, size, &sink, &n, &err);
	if (rc == CL_OK && (s.max_item > n || s.records > n))
		abort();
	if (rc == CL_EINVAL && (err == NULL || s.records || s.max_item))
		abort();
	free(err);
	return 0;
}
