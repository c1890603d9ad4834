/*
 * test_record.c - RFC 3339 parsing, leaf encoding and record
 * normalisation.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ingest/import.h"
#include "archiver/ingest/import_util.h"
#include "archiver/ingest/record.h"
#include "common/status.h"
#include "common/util.h"
#include "tap.h"

static void time_ok(const char *s, long long want)
{
	int64_t ms = 0;
	int rc = cl_time_parse(s, strlen(s), &ms);

	TAP_OK(rc == CL_OK && ms == want, "time '%s' = %lld (got %lld, rc %d)", s,
	       want, (long long)ms, rc);
}

static void time_bad(const char *s)
{
	int64_t ms = 0;

	TAP_OK(cl_time_parse(s, strlen(s), &ms) == CL_EINVAL, "time '%s' rejected", s);
}

static void test_time(void)
{
	char buf[32];

	time_ok("1970-01-01T00:00:00Z", 0);
	time_ok("2025-03-01T09:15:00+08:00", 1740791700000LL);
	time_ok("2025-03-01t01:15:00.5z", 1740791700500LL);
	time_ok("2025-03-01 01:15:00.123456789Z", 1740791700123LL);
	time_ok("2024-02-29T23:59:60Z", 1709251199000LL);
	time_ok("2025-03-01T00:00:00-05:30", 1740807000000LL);
	time_bad("2025-02-29T00:00:00Z");
	time_bad("2025-13-01T00:00:00Z");
	time_bad("2025-01-01T24:00:00Z");
	time_bad("2025-01-01T00:00:00");
	time_bad("2025-01-01T00:00:00+8:00");
	time_bad("2025-01-01T00:00:00.Z");
	time_bad("2025-01-01T00:00:00.1234567890Z");
	time_bad("2025-01-01T00:00:00Zjunk");
	time_bad("20250101T000000Z");
	time_bad("");
	cl_time_format(1740791700123LL, buf);
	TAP_EQ_STR(buf, "2025-03-01T01:15:00.123Z", "time format");
	cl_time_format(0, buf);
	TAP_EQ_STR(buf, "1970-01-01T00:00:00.000Z", "time format epoch");
}

static const char good[] =
	"{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"c1\"},"
	"\"id\":\"m1\",\"sender\":{\"id\":\"s1\"},\"direction\":\"in\","
	"\"sent_at\":\"2025-03-01T09:15:00+08:00\",\"kind\":\"text\",\"text\":\"hi\","
	"\"zz_unknown\":[1,{\"b\":2,\"a\":1}]}";

static void record_bad(const char *json, const char *why_part, const char *name)
{
	struct cl_record r;
	char *err = NULL;
	int rc = cl_record_parse(json, strlen(json), &r, &err);

	TAP_OK(rc == CL_EINVAL && err && strstr(err, why_part),
	       "%s rejected: '%s'", name, err ? err : "(no message)");
	free(err);
	cl_record_release(&r);
}

static char *with(const char *from, const char *to)
{
	const char *p = strstr(good, from);
	size_t n = strlen(good) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);

	if (p == NULL || s == NULL)
		abort();
	memcpy(s, good, (size_t)(p - good));
	memcpy(s + (p - good), to, strlen(to));
	memcpy(s + (p - good) + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	return s;
}

static void test_record(void)
{
	struct cl_record r, r2;
	char *err = NULL, *s;
	int rc;

	rc = cl_record_parse(good, strlen(good), &r, &err);
	TAP_OK(rc == CL_OK, "good record parses (%s)", err ? err : "");
	TAP_EQ_STR(r.canonical,
		   "{\"account\":\"85290000001@s.whatsapp.net\",\"conversation\":{\"id\":\"c1\"},"
		   "\"direction\":\"in\",\"id\":\"m1\",\"kind\":\"text\",\"revision\":0,"
		   "\"sender\":{\"id\":\"s1\"},\"sent_at\":\"2025-03-01T01:15:00.000Z\","
		   "\"source\":\"jsonl\",\"text\":\"hi\",\"zz_unknown\":[1,{\"a\":1,\"b\":2}]}",
		   "canonical form: sorted, compact, UTC, defaults, unknown fields kept");
	TAP_EQ_STR(r.kind, "text", "kind");
	TAP_EQ_INT(r.sent_at, 1740791700000LL, "sent_at ms");
	TAP_EQ_INT(r.received_at, CL_TIME_NONE, "received_at absent");
	/* The same message re-serialised differently has the same key. */
	s = with("\"kind\":\"text\",\"text\":\"hi\"", "\"text\":\"hi\",  \"kind\":\"text\"");
	rc = cl_record_parse(s, strlen(s), &r2, &err);
	TAP_OK(rc == CL_OK && r2.key_len == r.key_len &&
	       memcmp(r2.key, r.key, r.key_len) == 0 &&
	       strcmp(r2.canonical, r.canonical) == 0,
	       "reordered fields give the same key and canonical bytes");
	cl_record_release(&r2);
	free(s);
	s = with("\"id\":\"m1\"", "\"id\":\"m1\",\"revision\":1");
	rc = cl_record_parse(s, strlen(s), &r2, &err);
	TAP_OK(rc == CL_OK && (r2.key_len != r.key_len ||
			       memcmp(r2.key, r.key, r.key_len) != 0),
	       "a new revision has a different key");
	cl_record_release(&r2);
	free(s);
	cl_record_release(&r);

	record_bad("not json", "malformed JSON", "not JSON");
	record_bad("[1,2]", "must be a JSON object", "array");
	s = with("\"account\":\"85290000001@s.whatsapp.net\",", "");
	record_bad(s, "missing required field 'account'", "no account");
	free(s);
	s = with("\"conversation\":{\"id\":\"c1\"}", "\"conversation\":{}");
	record_bad(s, "'conversation.id'", "no conversation.id");
	free(s);
	s = with("\"sender\":{\"id\":\"s1\"}", "\"sender\":{\"name\":\"x\"}");
	record_bad(s, "'sender.id'", "no sender.id");
	free(s);
	s = with("\"direction\":\"in\"", "\"direction\":\"up\"");
	record_bad(s, "'direction'", "bad direction");
	free(s);
	s = with("2025-03-01T09:15:00+08:00", "2025-02-30T09:15:00+08:00");
	record_bad(s, "'sent_at' is not an RFC 3339", "invalid date");
	free(s);
	s = with("\"kind\":\"text\"", "\"kind\":\"Text!\"");
	record_bad(s, "'kind'", "bad kind");
	free(s);
	s = with("\"id\":\"m1\"", "\"id\":\"m1\",\"id\":\"m2\"");
	record_bad(s, "duplicate", "duplicate key");
	free(s);
	s = with("\"text\":\"hi\"", "\"text\":5");
	record_bad(s, "'text' must be a string", "text not a string");
	free(s);
	s = with("\"text\":\"hi\"", "\"raw\":\"@@@@\"");
	record_bad(s, "'raw' is not valid base64", "bad raw");
	free(s);
	s = with("\"text\":\"hi\"", "\"attachments\":[{\"sha256\":\"abc\"}]");
	record_bad(s, "sha256 must be 64 hex", "bad attachment hash");
	free(s);
	s = with("\"text\":\"hi\"", "\"revision\":-1");
	record_bad(s, "'revision'", "negative revision");
	free(s);
	{
		size_t n = CL_RECORD_MAX_ID + 10, i;
		char *big = malloc(n + 32);

		memcpy(big, "\"id\":\"", 6);
		for (i = 0; i < n; i++)
			big[6 + i] = 'x';
		memcpy(big + 6 + n, "\"", 2);
		s = with("\"id\":\"m1\"", big);
		record_bad(s, "'id' is too long", "oversize id");
		free(s);
		free(big);
	}
}

static void test_leaf(void)
{
	struct cl_leaf l, d;
	struct cl_buf b;
	char *err = NULL;
	int rc;

	memset(&l, 0, sizeof(l));
	l.version = CL_LEAF_VERSION;
	l.type = CL_ENTRY_RECORD;
	l.index = 7;
	l.sent_at = 1;
	l.received_at = CL_TIME_NONE;
	l.logged_at = 3;
	memcpy(l.kind, "text", 5);
	memset(l.key_hash, 0xaa, 32);
	l.prev_index = CL_LEAF_NOPREV;
	l.body = (const unsigned char *)"{}";
	l.body_len = 2;
	cl_buf_init(&b, 1 << 16);
	rc = cl_leaf_encode(&l, &b);
	TAP_OK(rc == CL_OK && b.len == CL_LEAF_FIXED + 4 + 2, "leaf encodes to %zu bytes", b.len);
	rc = cl_leaf_decode(b.data, b.len, &d, &err);
	TAP_OK(rc == CL_OK && d.index == 7 && d.received_at == CL_TIME_NONE &&
	       d.prev_index == CL_LEAF_NOPREV && strcmp(d.kind, "text") == 0 &&
	       d.body_len == 2 && memcmp(d.body, "{}", 2) == 0,
	       "leaf round-trips");
	rc = cl_leaf_decode(b.data, b.len - 1, &d, &err);
	TAP_OK(rc == CL_ECORRUPT, "short leaf rejected");
	free(err);
	err = NULL;
	b.data[0] = 3;
	rc = cl_leaf_decode(b.data, b.len, &d, &err);
	TAP_OK(rc == CL_ECORRUPT, "unknown leaf version rejected");
	free(err);
	err = NULL;
	b.data[0] = 1;
	rc = cl_leaf_decode(b.data, b.len, &d, &err);
	TAP_OK(rc == CL_ECORRUPT, "a format-1 leaf (version 1) is rejected");
	free(err);
	cl_buf_release(&b);
}


/* ---- the object path (cl_record_from_json, sink->record_json) -------- */

struct osink {
	int records, bad;
	char *canonical;       /* the last record kept */
	char bad_reason[128];
	size_t bad_len;
};

static int os_record_json(void *ctx, json_t *rec)
{
	struct osink *o = ctx;
	struct cl_record r;
	char *why = NULL;
	int rc = cl_record_from_json(rec, NULL, &r, &why);

	free(why);
	if (rc == CL_OK) {
		o->records++;
		free(o->canonical);
		o->canonical = strdup(r.canonical);
	}
	cl_record_release(&r);
	return rc;
}

static int os_bad(void *ctx, uint64_t item, const unsigned char *data, size_t len,
		  const char *reason)
{
	struct osink *o = ctx;

	(void)item;
	(void)data;
	o->bad++;
	o->bad_len = len;
	(void)cl_fmt(o->bad_reason, sizeof(o->bad_reason), "%s", reason);
	return CL_OK;
}

static json_t *base_record(void)
{
	return json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:s, s:s, s:s}",
			 "account", "acct", "id", "m1", "direction", "in",
			 "conversation", "id", "c1", "type", "direct",
			 "sender", "id", "85291234567", "kind", "text",
			 "sent_at", "2025-03-01T09:15:00+08:00", "text", "hello");
}

static void test_object_path(void)
{
	struct cl_import_sink sink = { 0 };
	struct osink o = { 0 };
	struct cl_record tr;
	json_t *rec = base_record();
	char *text, *why = NULL, *big;
	unsigned char raw[] = "the source body";
	size_t n = 3u << 20;

	sink.ctx = &o;
	sink.record_json = os_record_json;
	sink.bad = os_bad;
	TAP_OK(cl_import_emit(&sink, 1, rec, raw, sizeof(raw) - 1, "exact") == CL_OK &&
	       o.records == 1 && o.bad == 0, "object path: one record kept");
	/* The same record through the text path: the same canonical bytes. */
	text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	TAP_OK(text && cl_record_parse(text, strlen(text), &tr, &why) == CL_OK &&
	       o.canonical && strcmp(tr.canonical, o.canonical) == 0,
	       "object path and text path give the same canonical bytes");
	cl_record_release(&tr);
	free(text);
	free(why);
	why = NULL;
	json_decref(rec);

	/* Canonical bytes over 8 MiB because of the raw: kept without raw. */
	big = malloc(n + 1);
	memset(big, 'x', n);
	big[n] = '\0';
	rec = base_record();
	json_object_set_new(rec, "extra", json_string(big));
	{
		size_t rl = 4u << 20;
		unsigned char *r2 = malloc(rl);

		memset(r2, 'r', rl);
		TAP_OK(cl_import_emit(&sink, 2, rec, r2, rl, "exact") == CL_OK &&
		       o.records == 2 && o.bad == 0 && strstr(o.canonical, "\"raw_form\":\"omitted\"") &&
		       strstr(o.canonical, "\"raw\":") == NULL,
		       "object path: a record over 8 MiB with its raw is kept without the raw");
		free(r2);
	}
	json_decref(rec);

	/* Over 8 MiB without any raw: a bad item, nothing kept. */
	rec = base_record();
	json_object_set_new(rec, "extra", json_string(big));
	json_object_set_new(rec, "extra2", json_string(big));
	json_object_set_new(rec, "extra3", json_string(big));
	TAP_OK(cl_import_emit(&sink, 3, rec, raw, sizeof(raw) - 1, "exact") == CL_OK &&
	       o.records == 2 && o.bad == 1 && strstr(o.bad_reason, "8 MiB") &&
	       o.bad_len == sizeof(raw) - 1,
	       "object path: a record over 8 MiB even without raw is a bad item (%s)", o.bad_reason);
	json_decref(rec);
	free(big);

	/* Invalid content through the object path: CL_EINVAL, reason named. */
	rec = base_record();
	json_object_set_new(rec, "direction", json_string("sideways"));
	{
		struct cl_record r;
		int rc = cl_record_from_json(rec, NULL, &r, &why);

		TAP_OK(rc == CL_EINVAL && why && strstr(why, "direction"),
		       "object path: invalid direction refused, field named");
		cl_record_release(&r);
	}
	free(why);
	json_decref(rec);
	free(o.canonical);
}

int main(void)
{
	test_time();
	test_record();
	test_leaf();
	test_object_path();
	return tap_done();
}
