/*
 * fuzz_wechat_xml.c - the WeChat XML parser (wechat_xml.h) and the push
 * mapping (wechat_map.h) on arbitrary bytes.  A parse either fails with a
 * reason or gives an object; every record mapped from it must pass
 * cl_record_parse(), every bad item must carry a reason.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ingest/record.h"
#include "archiver/sources/wechat_map.h"
#include "archiver/sources/wechat_xml.h"
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
	struct cl_wx_hint hint;
	json_t *tree = NULL;
	const char *why = NULL;
	int rc;

	memset(&sink, 0, sizeof(sink));
	sink.record = on_record;
	sink.bad = on_bad;
	rc = cl_wx_xml_parse((const char *)data, size, &tree, &why);
	if (rc == CL_OK) {
		if (!json_is_object(tree) || why != NULL)
			abort();
		(void)cl_wx_map_push("wechat-oa", "wechat-oa:wxfuzz", (const char *)data,
				     size, tree, 1700000000000LL, &sink, &hint);
		(void)cl_wx_map_push("wecom-callback", "wecom:wwfuzz", (const char *)data,
				     size, tree, 1700000000000LL, &sink, &hint);
		json_decref(tree);
	} else if (why == NULL || tree != NULL) {
		abort();
	}
	return 0;
}
