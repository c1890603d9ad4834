/*
 * fuzz_import_whatsapp.c - the WhatsApp export parser on arbitrary bytes.
 *
 * The first byte picks options (date order, --self, time zone); the rest
 * is the chat text.  An importer must never emit an invalid record: each
 * one is checked with cl_record_parse().  Importing twice must emit the
 * same records and bad items (determinism), and the raw bytes of records
 * and bad items must together never exceed the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/sources/chatexport.h"
#include "archiver/ingest/record.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/import_sink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	unsigned char digest[32];  /* running hash of everything emitted */
	uint64_t records, bad;
	size_t raw_bytes;
};

static void mix(struct fz *f, const void *p, size_t n)
{
	cl_sha256_2(f->digest, sizeof(f->digest), p, n, f->digest);
}

static int on_record(void *ctx, const char *js, size_t len)
{
	struct fz *f = ctx;
	const char *raw;
	json_t *v;

	/* cl_record_parse() accepts only records with a valid, non-empty kind */
	if (!sink_record_valid(js, len, NULL))
		abort();
	if ((v = sink_record_load(js, len, &raw)) == NULL || raw == NULL)
		abort();
	f->raw_bytes += strlen(raw) / 4 * 3;
	json_decref(v);
	mix(f, js, len);
	f->records++;
	return 0;
}

static int on_bad(void *ctx, uint64_t item, const unsigned char *data,
		  size_t len, const char *reason)
{
	struct fz *f = ctx;

	if (!sink_bad_valid(item, data, len, reason))
		abort();
	mix(f, &item, sizeof(item));
	mix(f, data, len);
	mix(f, reason, strlen(reason));
	f->raw_bytes += len;
	f->bad++;
	return 0;
}

static void run(const uint8_t *data, size_t size, struct fz *f, int *rc)
{
	static const char *const orders[] = { NULL, "dmy", "mdy", "ymd" };
	unsigned char opt = size ? data[0] : 0;
	struct cl_import_opts o = {
		"85200000000@s.whatsapp.net",
		(opt & 16) ? NULL : "fuzz-chat",
		(opt & 4) ? "You Self" : NULL,
		(opt & 8) ? "UTC" : NULL,
		orders[opt & 3],
		(opt & 32) ? "_chat.txt" : "WhatsApp Chat with Fuzz.txt",
	};
	struct cl_import_sink s = { f, on_record, on_bad, NULL, NULL };
	char *err = NULL;

	memset(f, 0, sizeof(*f));
	*rc = cl_chatexport_import_text(size ? (const char *)data + 1 : "",
				      size ? size - 1 : 0, &o, &s, &err);
	if (*rc != CL_OK && *rc != CL_EINVAL)
		abort();
	if (*rc == CL_EINVAL && err == NULL)
		abort();
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz a, b;
	int ra, rb;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run(data, size, &a, &ra);
	run(data, size, &b, &rb);
	if (ra != rb || a.records != b.records || a.bad != b.bad ||
	    memcmp(a.digest, b.digest, sizeof(a.digest)) != 0)
		abort();
	/* raw spans are disjoint pieces of the text (base64 rounds up) */
	if (a.raw_bytes > size + 2 * a.records)
		abort();
	return 0;
}
