/*
 * test_import_wecom.c - the WeCom session-archive importer over every
 * sample in ../shared/samples/wecom-archive (read in place, never copied:
 * see SOURCES.md) and over synthetic JSONL, chatdata and bad items.
 *
 * Run from the repository root: the samples are "../shared/samples/...".
 * A missing sample directory or file is a failure.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "archiver/sources/wecom.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tap.h"
#include "import_sink.h"

#define SAMPLES "../shared/samples/wecom-archive"
#define ACCOUNT "wecom:ww-test-corp"

static struct cl_import_opts opts(void)
{
	struct cl_import_opts o;

	memset(&o, 0, sizeof(o));
	o.account = ACCOUNT;
	return o;
}

static int text_import(const char *s, struct coll *c, char **err)
{
	struct cl_import_sink sk = coll_sink(c);
	struct cl_import_opts o = opts();

	return cl_wecom_import_text(s, strlen(s), &o, &sk, err);
}

/* Write `s` to a new temp file; the caller unlinks `path`. */
static int temp_file(char *path, const char *s)
{
	int fd = mkstemp(path);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* ---- the samples -------------------------------------------------------- */

struct expect {
	const char *file;
	const char *kinds;
	size_t nbad;
	const char *sender, *time, *text;  /* of the only record */
};

static const struct expect samples[] = {
	{ "doc_text_send.json", "text=1", 0,
	  "XuJinSheng", "2019-01-10T02:38:14.783Z", "test" },
	{ "doc_image_send.json", "image=1", 0,
	  "XuJinSheng", "1970-01-01T00:00:00.000Z", NULL },
	{ "doc_revoke_recall.json", "revoke=1", 0,
	  "kenshin", "2020-10-28T09:00:15.723Z", NULL },
	{ "doc_agree_external.json", "consent=1", 0,
	  "wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ", "2020-10-28T09:03:46.656Z", NULL },
	{ "doc_switch_corp.json", "system=1", 0,
	  "XuJinSheng", "2019-04-01T11:50:21.840Z",
	  "corp switch: the member switched to another enterprise in the WeCom client" },
	{ "sdk-header_getchatdata_response.json", "", 1, NULL, NULL, NULL },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static const char *sample_name(size_t n)
{
	return samples[n].file;
}

static void check_sample(size_t n)
{
	const struct expect *e = &samples[n];
	struct cl_import_opts o = opts();
	struct coll c, again;
	int rc;

	o.input_name = e->file;
	rc = coll_import(&c, cl_wecom_import_file, SAMPLES, e->file, &o);
	TAP_OK(rc == CL_OK, "%s imports", e->file);
	TAP_EQ_INT(c.nbad, e->nbad, "bad items");
	kinds_are(&c, e->kinds);
	if (e->sender) {
		all_valid(&c, e->file);
		rec_str(&c, 0, "sender.id", e->sender, e->file);
		rec_str(&c, 0, "sent_at", e->time, e->file);
		rec_str(&c, 0, "account", ACCOUNT, e->file);
		rec_str(&c, 0, "source", "wecom", e->file);
		rec_str(&c, 0, "raw_form", "exact", e->file);
		if (e->text)
			rec_str(&c, 0, "text", e->text, e->file);
	}
	/* raw is the file's bytes without the trailing newline. */
	if (c.nrec == 1) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", SAMPLES, e->file);
		TAP_OK(rec_raw_is_file(&c, 0, path, 1),
		       "%s: raw is the exact message bytes", e->file);
	}
	rc = coll_import(&again, cl_wecom_import_file, SAMPLES, e->file, &o);
	TAP_OK(rc == CL_OK && coll_same_records(&c, &again) && again.nbad == c.nbad,
	       "%s: re-import gives identical records", e->file);

	if (strcmp(e->file, "doc_text_send.json") == 0) {
		rec_str(&c, 0, "id", "CAQQluDa4QUY0On2rYSAgAMgzPrShAE=", e->file);
		rec_str(&c, 0, "conversation.id", "XuJinSheng|icefog", e->file);
		rec_str(&c, 0, "conversation.type", "direct", e->file);
		rec_str(&c, 0, "sender.type", "internal", e->file);
		rec_str(&c, 0, "direction", "out", e->file);
		rec_str(&c, 0, "wecom.msgtype", "text", e->file);
	} else if (strcmp(e->file, "doc_image_send.json") == 0) {
		rec_int(&c, 0, "attachments.0.size", 70961, e->file);
		rec_str(&c, 0, "attachments.0.md5sum", "50de8e5ae8ffe4f1df7a93841f71993a", e->file);
		rec_str(&c, 0, "text", NULL, e->file);
	} else if (strcmp(e->file, "doc_revoke_recall.json") == 0) {
		rec_str(&c, 0, "target", "14822339130656386894_1603875600", e->file);
		rec_str(&c, 0, "conversation.id",
			"kenshin|wmUu0zBgAALV7ZymkcMyxvbTe8YdWxxA", e->file);
		rec_str(&c, 0, "direction", "out", e->file);
		rec_str(&c, 0, "wecom.action", "recall", e->file);
	} else if (strcmp(e->file, "doc_agree_external.json") == 0) {
		rec_true(&c, 0, "consent.agreed", e->file);
		rec_str(&c, 0, "consent.time", "2020-10-28T09:03:46.656Z", e->file);
		rec_str(&c, 0, "consent.userid", "wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ", e->file);
		rec_str(&c, 0, "sender.type", "external", e->file);
		rec_str(&c, 0, "direction", "in", e->file);
		rec_str(&c, 0, "conversation.id",
			"kenshin|wmGAgeDQAAvQeaTqWwkMTxGMkvI7OOuQ", e->file);
	} else if (strcmp(e->file, "doc_switch_corp.json") == 0) {
		rec_str(&c, 0, "id", "125289002219525886280", e->file);
		rec_str(&c, 0, "conversation.id", "XuJinSheng", e->file);
		rec_str(&c, 0, "wecom.action", "switch", e->file);
	} else if (strcmp(e->file, "sdk-header_getchatdata_response.json") == 0) {
		TAP_OK(c.nbad == 1 && c.bad[0].item == 1 &&
		       strcmp(c.bad[0].reason,
			      "encrypted item: decrypt with the WeCom Finance SDK first") == 0,
		       "still-encrypted chatdata item is quarantined as item 1");
		TAP_OK(c.nbad == 1 && strstr(c.bad[0].data, "encrypt_chat_msg") != NULL,
		       "the encrypted item's bytes go to quarantine");
	}
	coll_free(&c);
	coll_free(&again);
}

/* ---- synthetic input ----------------------------------------------------- */

/* A JSONL file with CRLF line ends, blank lines and bad lines. */
static const char jsonl[] =
	/* 1 */ "{\"msgid\":\"m1\",\"action\":\"send\",\"from\":\"staff.wong\",\"tolist\":"
	"[\"wmAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"],\"roomid\":\"\",\"msgtime\":1735693200123,"
	"\"msgtype\":\"text\",\"text\":{\"content\":\"\xE4\xBD\xA0\xE5\xA5\xBD\"}}\r\n"
	/* 2 */ "this is not json\r\n"
	/* 3 */ "\r\n"
	/* 4 */ "{\"action\":\"send\",\"from\":\"a\",\"tolist\":[\"b\"],\"msgtime\":1,"
	"\"msgtype\":\"text\"}\r\n"
	/* 5 */ "{\"msgid\":\"m5\",\"action\":\"send\",\"from\":\"a\",\"tolist\":[\"b\"],"
	"\"msgtime\":\"1735693200000\",\"msgtype\":\"text\"}\r\n"
	/* 6 */ "{\"msgid\":\"m6\",\"action\":\"send\",\"from\":\"wbRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR\","
	"\"tolist\":[\"a\",\"b\",\"c\"],\"roomid\":\"wrROOM1\",\"msgtime\":1735693260000,"
	"\"msgtype\":\"meeting_voice_call\",\"voiceid\":\"v1\","
	"\"meeting_voice_call\":{\"endtime\":1735693300}}\r\n"
	/* 7 */ "[1,2]\r\n"
	/* 8 */ "{\"msgid\":\"m8\",\"action\":\"send\",\"from\":\"a\",\"tolist\":[\"b\",\"c\"],"
	"\"roomid\":\"\",\"msgtime\":1,\"msgtype\":\"text\"}\r\n"
	/* 9 */ "{\"msgid\":\"m9\",\"action\":\"forward\",\"from\":\"a\",\"tolist\":[\"b\"],"
	"\"msgtime\":1,\"msgtype\":\"text\"}\r\n"
	/* 10 */ "{\"msgid\":\"m10\",\"action\":\"send\",\"from\":\"wmiller\",\"tolist\":[\"b\"],"
	"\"msgtime\":1735693300000,\"msgtype\":\"Weird.Type\"}\r\n"
	/* 11 */ "{\"msgid\":\"m11\",\"action\":\"send\",\"from\":\"woCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC\","
	"\"tolist\":[\"staff.wong\"],\"roomid\":\"\",\"msgtime\":1735693400000,"
	"\"msgtype\":\"mixed\",\"mixed\":{\"item\":[{\"type\":\"text\",\"content\":"
	"\"{\\\"content\\\":\\\"line one\\\"}\"},{\"type\":\"image\",\"content\":\"{}\"},"
	"{\"type\":\"text\",\"content\":\"{\\\"content\\\":\\\"line two\\\"}\"}]}}\r\n"
	/* 12 */ "{\"msgid\":\"m12\",\"msgid\":\"dup\",\"action\":\"send\"}\r\n"
	/* 13 */ "{\"msgid\":\"m13\",\"action\":\"recall\",\"from\":\"a\",\"tolist\":[\"b\"],"
	"\"msgtime\":1,\"msgtype\":\"revoke\",\"revoke\":{}}\r\n"
	/* 14 */ "{\"msgid\":\"m14\",\"action\":\"send\",\"from\":\"b\",\"tolist\":[\"a\"],"
	"\"msgtime\":1735693500000,\"msgtype\":\"disagree\",\"disagree\":{\"userid\":\"b\","
	"\"disagree_time\":1735693500000}}\r\n"
	/* 15 */ "{\"msgid\":\"m15\",\"action\":\"send\",\"from\":\"a\",\"tolist\":[\"b\"],"
	"\"msgtime\":1735693600000,\"msgtype\":\"file\",\"file\":{\"filename\":\"q.pdf\","
	"\"fileext\":\"pdf\",\"filesize\":12,\"md5sum\":\"00\",\"sdkfileid\":\"S\"}}";

static void check_jsonl(const struct coll *c, const char *what)
{
	static const uint64_t bad_lines[] = { 2, 4, 5, 7, 8, 9, 12, 13 };
	static const char *const why[] = {
		"not valid JSON", "'msgid'", "'msgtime'", "not a JSON object",
		"exactly one", "unknown 'action'", "not valid JSON", "pre_msgid"
	};
	size_t i;

	TAP_EQ_INT(c->nrec, 6, "JSONL: six records");
	TAP_EQ_INT(c->nbad, 8, "JSONL: eight bad lines");
	all_valid(c, what);
	for (i = 0; i < 8 && i < c->nbad; i++) {
		TAP_EQ_INT(c->bad[i].item, bad_lines[i], "bad line number");
		TAP_OK(strstr(c->bad[i].reason, why[i]) != NULL,
		       "%s: line %llu reason names %s ('%s')", what,
		       (unsigned long long)bad_lines[i], why[i], c->bad[i].reason);
	}
	if (c->nbad > 0)
		TAP_EQ_STR(c->bad[0].data, "this is not json", "bad line data, CR stripped");
	rec_str(c, 0, "id", "m1", what);
	rec_str(c, 0, "text", "\xE4\xBD\xA0\xE5\xA5\xBD", what);
	rec_str(c, 0, "sent_at", "2025-01-01T01:00:00.123Z", what);
	rec_str(c, 0, "direction", "out", what);
	rec_str(c, 0, "conversation.id", "staff.wong|wmAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", what);
	rec_str(c, 1, "kind", "meeting_voice_call", what);
	rec_str(c, 1, "conversation.id", "wrROOM1", what);
	rec_str(c, 1, "conversation.type", "group", what);
	rec_str(c, 1, "sender.type", "robot", what);
	rec_str(c, 1, "direction", "in", what);
	rec_int(c, 1, "content.endtime", 1735693300, what);
	rec_str(c, 2, "kind", "wecom-weird_type", what);
	rec_str(c, 2, "sender.type", "internal", what);
	rec_str(c, 2, "direction", "out", what);
	rec_str(c, 3, "sender.type", "external", what);
	rec_str(c, 3, "direction", "in", what);
	rec_str(c, 3, "kind", "mixed", what);
	rec_str(c, 3, "text", "line one\nline two", what);
	rec_str(c, 4, "kind", "consent", what);
	rec_str(c, 4, "conversation.id", "a|b", what);
	rec_str(c, 4, "consent.time", "2025-01-01T01:05:00.000Z", what);
	{
		json_t *r = c->nrec > 4 ? rec_load(c->rec[4]) : NULL;

		TAP_OK(json_is_false(rec_at(r, "consent.agreed")),
		       "disagree: consent.agreed false");
		json_decref(r);
	}
	rec_str(c, 5, "kind", "file", what);
	rec_str(c, 5, "attachments.0.name", "q.pdf", what);
	rec_int(c, 5, "attachments.0.size", 12, what);
	rec_str(c, 5, "sent_at", "2025-01-01T01:06:40.000Z", what);
	for (i = 0; i < c->nrec; i++)
		rec_str(c, i, "raw_form", "exact", what);
}

static void test_jsonl(void)
{
	struct coll a, b;
	char path[] = "/tmp/test_import_wecom_XXXXXX";
	struct cl_import_sink sk;
	struct cl_import_opts o = opts();
	char *err = NULL;
	size_t i;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	rc = text_import(jsonl, &a, &err);
	TAP_EQ_INT(rc, CL_OK, "JSONL text imports, bad lines quarantined");
	check_jsonl(&a, "jsonl text");
	free(err);
	err = NULL;

	/* The streaming file reader gives the same records and bad items. */
	TAP_OK(temp_file(path, jsonl) == 0, "temp JSONL written");
	sk = coll_sink(&b);
	rc = cl_wecom_import_file(path, &o, &sk, &err);
	unlink(path);
	TAP_EQ_INT(rc, CL_OK, "JSONL file imports");
	TAP_OK(coll_same_records(&a, &b) && a.nbad == b.nbad,
	       "file and text imports agree");
	for (i = 0; i < a.nbad && i < b.nbad; i++)
		TAP_OK(a.bad[i].item == b.bad[i].item &&
		       strcmp(a.bad[i].reason, b.bad[i].reason) == 0,
		       "bad item %zu agrees", i);
	coll_free(&a);
	coll_free(&b);
	free(err);
}

static void test_whole_forms(void)
{
	static const char pretty[] =
		"\xEF\xBB\xBF\n\n{\n  \"msgid\": \"p1\",\n  \"action\": \"send\",\n"
		"  \"from\": \"alice\",\n  \"tolist\": [\"bob\"],\n  \"roomid\": \"\",\n"
		"  \"msgtime\": 1735693200000,\n  \"msgtype\": \"markdown\",\n"
		"  \"info\": {\"content\": \"**hi**\"}\n}\n";
	static const char array[] =
		"[{\"msgid\":\"a1\",\"action\":\"send\",\"from\":\"alice\",\"tolist\":[\"bob\"],"
		"\"msgtime\":1735693200000,\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}},"
		"{\"msgid\":\"a2\",\"action\":\"send\"}]";
	static const char chatdata[] =
		"{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":["
		"{\"seq\":7,\"msgid\":\"c1\",\"publickey_ver\":2,\"plaintext\":"
		"\"{\\\"action\\\":\\\"send\\\",\\\"from\\\":\\\"alice\\\",\\\"tolist\\\":[\\\"bob\\\"],"
		"\\\"roomid\\\":\\\"\\\",\\\"msgtime\\\":1735693200000,\\\"msgtype\\\":\\\"text\\\","
		"\\\"text\\\":{\\\"content\\\":\\\"from plaintext\\\"}}\"},"
		"{\"seq\":8,\"msgid\":\"c2\",\"encrypt_random_key\":\"AA==\",\"encrypt_chat_msg\":\"BB==\"},"
		"{\"seq\":9,\"msgid\":\"c3\",\"plaintext\":{\"msgid\":\"c3\",\"action\":\"send\","
		"\"from\":\"bob\",\"tolist\":[\"alice\"],\"msgtime\":1735693201000,"
		"\"msgtype\":\"link\",\"link\":{\"title\":\"t\"}}},"
		"{\"seq\":10,\"msgid\":\"c4\",\"plaintext\":\"not json\"},"
		"5]}";
	struct coll c;
	char *err = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = text_import(pretty, &c, &err);
	TAP_OK(rc == CL_OK && c.nrec == 1 && c.nbad == 0,
	       "pretty-printed single object with a BOM");
	all_valid(&c, "pretty");
	rec_str(&c, 0, "kind", "markdown", "pretty");
	rec_str(&c, 0, "text", "**hi**", "pretty");
	rec_str(&c, 0, "content.content", "**hi**", "pretty");
	rec_str(&c, 0, "raw_form", "exact", "pretty");
	coll_free(&c);

	rc = text_import(array, &c, &err);
	TAP_OK(rc == CL_OK && c.nrec == 1 && c.nbad == 1 && c.bad[0].item == 2,
	       "array: one record, element 2 bad");
	rec_str(&c, 0, "raw_form", "jansson", "array");
	coll_free(&c);

	rc = text_import(chatdata, &c, &err);
	TAP_EQ_INT(rc, CL_OK, "chatdata response with decrypted plaintext");
	TAP_EQ_INT(c.nrec, 2, "chatdata: two records");
	TAP_EQ_INT(c.nbad, 3, "chatdata: three bad items");
	all_valid(&c, "chatdata");
	rec_str(&c, 0, "id", "c1", "chatdata msgid used when plaintext has none");
	rec_str(&c, 0, "text", "from plaintext", "chatdata");
	rec_int(&c, 0, "wecom.seq", 7, "chatdata");
	rec_int(&c, 0, "wecom.publickey_ver", 2, "chatdata");
	rec_str(&c, 0, "raw_form", "exact", "plaintext string is exact");
	rec_str(&c, 1, "id", "c3", "chatdata");
	rec_str(&c, 1, "kind", "link", "chatdata");
	rec_str(&c, 1, "raw_form", "jansson", "plaintext object is re-serialised");
	if (c.nbad == 3) {
		TAP_OK(c.bad[0].item == 2 && strstr(c.bad[0].reason, "encrypted item") != NULL,
		       "encrypted chatdata item 2 quarantined");
		TAP_OK(c.bad[1].item == 4 && strstr(c.bad[1].reason, "not valid JSON") != NULL,
		       "bad plaintext item 4");
		TAP_OK(c.bad[2].item == 5, "non-object chatdata item 5");
	}
	coll_free(&c);
}

static void test_refusals(void)
{
	static const char *const bad[] = {
		"{\"errcode\":10002,\"errmsg\":\"data parse fail\"}",
		"{\"errcode\":0,\"chatdata\":{}}",
		"\"just a string\"",
		"42",
	};
	struct cl_import_sink sk;
	struct cl_import_opts o;
	struct coll c;
	char *err = NULL;
	size_t i;
	int rc;

	memset(&c, 0, sizeof(c));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = text_import(bad[i], &c, &err);
		TAP_OK(rc == CL_EINVAL && err && c.nrec == 0 && c.nbad == 0,
		       "refused input %zu: %s", i, err ? err : "(none)");
		coll_free(&c);
		free(err);
		err = NULL;
	}
	memset(&o, 0, sizeof(o));
	sk = coll_sink(&c);
	rc = cl_wecom_import_text("{}", 2, &o, &sk, &err);
	TAP_OK(rc == CL_EINVAL && err && strcmp(err, "--account is required") == 0,
	       "no account: '%s'", err ? err : "(none)");
	free(err);
	err = NULL;
	rc = cl_wecom_import_file("/nonexistent/x.jsonl", &o, &sk, &err);
	TAP_OK(rc == CL_EINVAL && err && strcmp(err, "--account is required") == 0,
	       "no account (file)");
	free(err);
	err = NULL;
	o = opts();
	rc = cl_wecom_import_file("/nonexistent/x.jsonl", &o, &sk, &err);
	TAP_EQ_INT(rc, CL_ENOTFOUND, "missing file");
	free(err);
	err = NULL;
	rc = text_import("  \n\n", &c, &err);
	TAP_OK(rc == CL_OK && c.nrec == 0 && c.nbad == 0, "blank input: nothing");
	coll_free(&c);
	free(err);
}

int main(void)
{
	samples_check(SAMPLES, NSAMPLES, sample_name, check_sample);
	test_jsonl();
	test_whole_forms();
	test_refusals();
	return tap_done();
}
