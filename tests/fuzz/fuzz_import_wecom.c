/*
 * fuzz_import_wecom.c - the WeCom session-archive importer on arbitrary
 * bytes.  Every record it emits must pass cl_record_parse(); every bad
 * item must carry a reason and a non-zero item number.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/sources/wecom.h"
#include "archiver/ingest/record.h"
#include "common/status.h"
#include "tests/unit/import_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_record(void *ctx, const char *json, size_t len)
{
	(void)ctx;
	if (!sink_record_valid(json, len, NULL))
		abort();
	return 0;
}

static int on_bad(void *ctx, uint64_t item, const unsigned char *data,
		  size_t len, const char *reason)
{
	(void)ctx;
	if (!sink_bad_valid(item, data, len, reason))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_import_sink sink;
	struct cl_import_opts o;
	char *err = NULL;

	memset(&sink, 0, sizeof(sink));
	memset(&o, 0, sizeof(o));
	sink.record = on_record;
	sink.bad = on_bad;
	o.account = "wecom:fuzz-corp";
	(void)cl_wecom_import_text((const char *)data, size, &o, &sink, &err);
	free(err);
	return 0;
}
