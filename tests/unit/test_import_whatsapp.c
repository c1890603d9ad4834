/*
 * test_import_whatsapp.c - the WhatsApp "Export chat" importer: every
 * sample export under ../shared/samples/whatsapp-export (run from the
 * repository root; a missing directory fails), date orders, AM/PM forms,
 * time zones, ids on re-import and on an overlapping export, zips built
 * here with libarchive, and bad input.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <sodium.h>

#include "archiver/sources/chatexport.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tap.h"
#include "import_sink.h"

#define SAMPLES "../shared/samples/whatsapp-export"
#define MAX_BAD 64
#define MAX_BLOB 16

/* ---- a capturing sink ------------------------------------------------ */

struct blob_seen {
	char hex[65];
	char name[256];
	char mime[128];
	size_t len;
	size_t records_before;
};

struct cap {
	json_t *recs;              /* parsed records, in order */
	json_t *texts;             /* the JSON texts as emitted */
	int invalid;               /* records cl_record_parse refused */
	size_t nbad;
	uint64_t bad_item[MAX_BAD];
	char bad_reason[MAX_BAD][160];
	size_t nblob;
	struct blob_seen blob[MAX_BLOB];
	struct cl_buf recon;       /* raw bytes of records and bad items */
};

static void cap_init(struct cap *c)
{
	memset(c, 0, sizeof(*c));
	c->recs = json_array();
	c->texts = json_array();
	cl_buf_init(&c->recon, 64u << 20);
}

static void cap_release(struct cap *c)
{
	json_decref(c->recs);
	json_decref(c->texts);
	cl_buf_release(&c->recon);
}

static int on_record(void *ctx, const char *js, size_t len)
{
	struct cap *c = ctx;
	char *err = NULL;
	const char *raw;
	json_t *v;

	if (!sink_record_valid(js, len, &err)) {
		c->invalid++;
		printf("# invalid record: %s\n", err ? err : "?");
	}
	free(err);
	if ((v = sink_record_load(js, len, &raw)) == NULL)
		return CL_EINVAL;
	if (raw)
		cl_b64_decode(raw, strlen(raw), &c->recon);
	json_array_append_new(c->recs, v);
	json_array_append_new(c->texts, json_stringn(js, len));
	return 0;
}

static int on_bad(void *ctx, uint64_t item, const unsigned char *data,
		  size_t len, const char *reason)
{
	struct cap *c = ctx;

	if (c->nbad < MAX_BAD) {
		c->bad_item[c->nbad] = item;
		snprintf(c->bad_reason[c->nbad], sizeof(c->bad_reason[0]), "%s", reason);
	}
	c->nbad++;
	cl_buf_add(&c->recon, data, len);
	return 0;
}

static int on_blob(void *ctx, const char *hex, const char *name,
		   const char *mime, const unsigned char *data, size_t len)
{
	struct cap *c = ctx;
	unsigned char h[32];
	char hx[65];

	cl_sha256(data, len, h);
	sodium_bin2hex(hx, sizeof(hx), h, 32);
	if (strcmp(hx, hex) != 0)
		c->invalid++;         /* the blob's hash must match its bytes */
	if (c->nblob < MAX_BLOB) {
		struct blob_seen *b = &c->blob[c->nblob];

		snprintf(b->hex, sizeof(b->hex), "%s", hex);
		snprintf(b->name, sizeof(b->name), "%s", name);
		snprintf(b->mime, sizeof(b->mime), "%s", mime);
		b->len = len;
		b->records_before = json_array_size(c->recs);
	}
	c->nblob++;
	return 0;
}

static struct cl_import_sink sink_for(struct cap *c)
{
	struct cl_import_sink s = { c, on_record, on_bad, on_blob, NULL };

	return s;
}

/* ---- record access --------------------------------------------------- */

static json_t *rec(const struct cap *c, size_t i)
{
	return json_array_get(c->recs, i);
}

static const char *str1(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static const char *str2(json_t *o, const char *k1, const char *k2)
{
	return json_string_value(json_object_get(json_object_get(o, k1), k2));
}

static int is_system(json_t *r)
{
	const char *k = str1(r, "kind");

	return k && strcmp(k, "system") == 0;
}

static size_t count_system(const struct cap *c, int sys)
{
	size_t i, n = 0;

	for (i = 0; i < json_array_size(c->recs); i++)
		if (is_system(rec(c, i)) == sys)
			n++;
	return n;
}

/* The first (dir > 0) or last (dir < 0) non-system record. */
static json_t *message(const struct cap *c, int dir)
{
	size_t n = json_array_size(c->recs), i;

	for (i = 0; i < n; i++) {
		json_t *r = rec(c, dir > 0 ? i : n - 1 - i);

		if (!is_system(r))
			return r;
	}
	return NULL;
}

static int same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Import a text with options. */
static int run_text(const char *text, size_t len, const char *order,
		    const char *self, const char *tz, const char *name,
		    const char *conv, struct cap *c, char **err)
{
	struct cl_import_opts o = { "85200000000@s.whatsapp.net", conv, self, tz,
				    order, name };
	struct cl_import_sink s = sink_for(c);

	return cl_chatexport_import_text(text, len, &o, &s, err);
}

static int run_file(const char *path, const char *order, struct cap *c,
		    char **err)
{
	struct cl_import_opts o = { "85200000000@s.whatsapp.net", NULL, NULL,
				    NULL, order, NULL };
	struct cl_import_sink s = sink_for(c);

	return cl_chatexport_import(path, &o, &s, err);
}

static int read_all(const char *path, struct cl_buf *b)
{
	cl_buf_init(b, 16u << 20);
	return cl_file_read(path, b, 16u << 20, NULL);
}

/* ---- every sample ---------------------------------------------------- */

struct expect {
	const char *file;
	const char *order;        /* --date-order needed, or NULL */
	const char *detected;     /* export.date_order of the records */
	size_t msgs, sys;
	const char *first_sender, *first_time, *first_text;
	const char *last_sender, *last_time, *last_text;  /* NULL text: none */
};

static const char lorem2[] =
	"Lorem ipsum dolor sit amet,\nconsectetur adipiscing elit. Duis libero.";

static const struct expect samples[] = {
	{ "chatminer_android_mmddyyyy_12h_es-a.m.-p.m..txt", NULL, "mdy", 7, 2,
	  "John Doe", "2019-01-01T03:25:00.000Z", "Lorem ipsum dolor sit amet.",
	  "John Doe", "2021-12-30T14:01:00.000Z", lorem2 },
	{ "chatminer_android_yyyymmdd-slash_24h.txt", NULL, "ymd", 7, 2,
	  "John Doe", "2019-01-01T03:25:00.000Z", "Lorem ipsum dolor sit amet.",
	  "John Doe", "2021-12-30T14:01:00.000Z", lorem2 },
	{ "chatminer_bracketed_mmddyy_24h_no-seconds.txt", NULL, "mdy", 7, 2,
	  "John Doe", "2019-01-01T03:25:00.000Z", "Lorem ipsum dolor sit amet.",
	  "John Doe", "2021-12-30T14:01:00.000Z", lorem2 },
	{ "pustur_short-chat_android_ddmmyyyy_24h_group.txt", "dmy", "dmy", 3, 2,
	  "Sample User", "2017-03-05T16:45:00.000Z", "This is a test message",
	  "+410123456789", "2017-04-08T17:50:00.000Z",
	  "How are you?\n\nIs everything alright?" },
	{ "whatsjson_android_en_ddmmyyyy_group-system-msgs.txt", "dmy", "dmy", 4, 16,
	  "Dmitry S", "2023-01-11T08:26:00.000Z", "Hello all",
	  "Dmitry S", "2023-01-11T08:57:00.000Z", "We" },
	{ "whatsjson_android_en_ddmmyyyy_with-media.txt", NULL, "dmy", 59, 1,
	  "Dmitry S", "2022-03-18T06:56:00.000Z", "Hello",
	  "Dmitry S", "2023-01-07T15:32:00.000Z", "Missed voice call" },
	{ "whatsjson_android_nl_dd-mm-yyyy_no-comma_with-media.txt", NULL, "dmy", 40, 1,
	  "Dmitry S", "2022-03-18T06:56:00.000Z", "Hello",
	  "Dmitry S", "2023-01-07T15:32:00.000Z", "Gemiste spraakoproep" },
	{ "whatsjson_ios_buddhist-calendar_BE.txt", NULL, "mdy", 25, 3,
	  "Dmitry S", "2022-03-27T13:41:35.000Z", "Hello World",
	  "Dmitry S", "2023-01-12T07:35:15.000Z", NULL },
	{ "whatsjson_ios_de_without-media.txt", NULL, "mdy", 22, 1,
	  "Dmitry S", "2022-03-27T13:41:35.000Z", "Hello World",
	  "Dmitry S", "2022-03-27T13:56:45.000Z", NULL },
	{ "whatsjson_ios_en_mdyy_24h_with-media_LRM_CRLF.txt", NULL, "mdy", 22, 3,
	  "Dmitry S", "2022-03-27T13:41:35.000Z", "Hello World",
	  "Dmitry S", "2022-03-27T13:56:45.000Z", NULL },
	{ "whatsjson_ios_pt-PT_no-comma_without-media.txt", NULL, "mdy", 22, 1,
	  "Dmitry S", "2022-03-27T13:41:35.000Z", "Hello World",
	  "Dmitry S", "2022-03-27T13:56:45.000Z", NULL },
	{ "whatstk_pokemon_android_dotted-ddmmyyyy_24h_group.txt", NULL, "dmy", 18, 2,
	  "Ash Ketchum", "2016-08-06T05:23:00.000Z", "Hey guys!",
	  "Wobbuffet", "2016-10-31T04:23:00.000Z", "Wo-bbu-ffet" },
};

#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static void test_one_sample(const struct expect *e)
{
	char path[512];
	struct cap c, c2;
	struct cl_buf file;
	char *err = NULL;
	json_t *first, *last;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", SAMPLES, e->file);
	if (e->order) {
		/* ambiguous on its own: refused, naming the option */
		cap_init(&c);
		rc = run_file(path, NULL, &c, &err);
		TAP_OK(rc == CL_EINVAL && err && strstr(err, "--date-order dmy|mdy|ymd"),
		       "%s: ambiguous date order refused (rc %d: %s)", e->file, rc,
		       err ? err : "");
		TAP_EQ_INT(json_array_size(c.recs) + c.nbad + c.nblob, 0,
			   "nothing emitted before the refusal");
		free(err);
		err = NULL;
		cap_release(&c);
	}
	cap_init(&c);
	rc = run_file(path, e->order, &c, &err);
	TAP_OK(rc == CL_OK, "%s imports (rc %d: %s)", e->file, rc, err ? err : "");
	free(err);
	err = NULL;
	TAP_EQ_INT(count_system(&c, 0), e->msgs, "messages");
	TAP_EQ_INT(count_system(&c, 1), e->sys, "system events");
	TAP_EQ_INT(c.nbad, 0, "no bad items");
	TAP_EQ_INT(c.invalid, 0, "every record is valid");
	first = message(&c, 1);
	last = message(&c, -1);
	TAP_EQ_STR(str2(first, "sender", "name"), e->first_sender, "first sender");
	TAP_EQ_STR(str1(first, "sent_at"), e->first_time, "first time (UTC)");
	TAP_OK(same_str(str1(first, "text"), e->first_text), "first text");
	TAP_EQ_STR(str2(last, "sender", "name"), e->last_sender, "last sender");
	TAP_EQ_STR(str1(last, "sent_at"), e->last_time, "last time (UTC)");
	TAP_OK(same_str(str1(last, "text"), e->last_text), "last text%s",
	       e->last_text ? "" : " absent");
	TAP_EQ_STR(str2(rec(&c, 0), "export", "date_order"), e->detected,
		   "date order");
	for (i = 0; i < json_array_size(c.recs); i++)
		if (!same_str(str1(rec(&c, i), "source"), "whatsapp-export"))
			break;
	TAP_EQ_INT(i, json_array_size(c.recs), "source is whatsapp-export");
	/* the raw bytes of the records, in order, are the file */
	TAP_OK(read_all(path, &file) == CL_OK && file.len == c.recon.len &&
	       memcmp(file.data, c.recon.data, file.len) == 0,
	       "raw fields reproduce the file byte for byte");
	cl_buf_release(&file);
	/* re-import: the very same records */
	cap_init(&c2);
	rc = run_file(path, e->order, &c2, NULL);
	TAP_OK(rc == CL_OK && json_equal(c.texts, c2.texts),
	       "re-import yields identical records and ids");
	cap_release(&c2);
	cap_release(&c);
}

static void test_samples(void)
{
	DIR *d = opendir(SAMPLES);
	struct dirent *de;
	size_t i, files = 0, known = 0;

	TAP_OK(d != NULL, "sample directory %s exists (run from the repository root)",
	       SAMPLES);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		files++;
		for (i = 0; i < NSAMPLES; i++)
			if (strcmp(samples[i].file, de->d_name) == 0)
				known++;
	}
	closedir(d);
	TAP_OK(files == NSAMPLES && known == NSAMPLES,
	       "every sample file has expectations (%zu files, %zu known)", files,
	       known);
	for (i = 0; i < NSAMPLES; i++)
		test_one_sample(&samples[i]);
}

/* Details of the samples' mapping, beyond counts. */
static void test_sample_details(void)
{
	struct cap c;
	json_t *r, *a;

	cap_init(&c);
	run_file(SAMPLES "/whatsjson_ios_en_mdyy_24h_with-media_LRM_CRLF.txt",
		 NULL, &c, NULL);
	r = rec(&c, 0);
	TAP_OK(is_system(r) && same_str(str1(r, "event"), "encryption") &&
	       same_str(str2(r, "export", "author"), "Elon Musk") &&
	       same_str(str2(r, "sender", "id"), "system"),
	       "iOS authored encryption notice is a system event");
	r = rec(&c, 2);
	a = json_array_get(json_object_get(r, "attachments"), 0);
	TAP_OK(same_str(str1(r, "kind"), "image") &&
	       same_str(str1(a, "name"), "00000035-PHOTO-2022-03-27-21-41-55.jpg") &&
	       same_str(str1(a, "mime"), "image/jpeg") &&
	       json_is_true(json_object_get(a, "missing")),
	       "<attached:> in a bare .txt: image, missing");
	r = rec(&c, 12);
	a = json_array_get(json_object_get(r, "attachments"), 0);
	TAP_OK(same_str(str1(r, "kind"), "document") &&
	       same_str(str1(a, "title"), "Resume-Dmitry-Starkov.pdf") &&
	       json_integer_value(json_object_get(a, "pages")) == 2,
	       "document title and page count");
	r = rec(&c, 14);
	TAP_OK(same_str(str1(r, "kind"), "deleted") &&
	       same_str(str1(r, "text"), "You deleted this message."),
	       "iOS deletion notice");
	r = rec(&c, 16);
	TAP_OK(same_str(str1(r, "kind"), "video") &&
	       json_is_true(json_object_get(r, "gif")), "GIF attachment");
	r = rec(&c, 22);
	TAP_OK(same_str(str1(r, "kind"), "location") &&
	       json_real_value(json_object_get(json_object_get(r, "location"),
					       "latitude")) == 51.5021456,
	       "location with coordinates");
	r = rec(&c, 6);
	TAP_OK(same_str(str1(r, "kind"), "location") &&
	       same_str(str2(r, "location", "name"), "Pimlico Gardens") &&
	       same_str(str2(r, "location", "address"), "London, United Kingdom"),
	       "iOS venue");
	r = rec(&c, 23);
	TAP_OK(same_str(str1(r, "event"), "security_code"),
	       "security code change (double LRM) is a system event");
	TAP_OK(json_integer_value(json_object_get(json_object_get(r, "export"),
						  "line")) == 24,
	       "export.line");
	cap_release(&c);

	cap_init(&c);
	run_file(SAMPLES "/whatsjson_android_en_ddmmyyyy_with-media.txt", NULL, &c,
		 NULL);
	r = rec(&c, 3);
	TAP_OK(same_str(str1(r, "kind"), "media") &&
	       json_is_true(json_object_get(r, "media_omitted")) &&
	       same_str(str1(r, "text"), "Caption"),
	       "<Media omitted> with the caption on the next line");
	r = rec(&c, 9);
	TAP_OK(same_str(str1(r, "kind"), "image") && same_str(str1(r, "text"), "Титл") &&
	       same_str(str1(json_array_get(json_object_get(r, "attachments"), 0),
			     "name"), "IMG-20220323-WA0002.jpg"),
	       "(file attached) with the caption on the next line");
	r = rec(&c, 12);
	TAP_OK(same_str(str1(r, "kind"), "contact"), "Alex.vcf is a contact");
	r = rec(&c, 18);
	TAP_OK(same_str(str1(r, "kind"), "view-once") && str1(r, "text") == NULL,
	       "view-once null");
	r = rec(&c, 38);
	TAP_OK(same_str(str1(r, "kind"), "location") &&
	       same_str(str2(r, "location", "url"),
			"https://foursquare.com/v/4e89af95e5fa82ad4c0aa03b"),
	       "Android venue over three lines");
	cap_release(&c);

	cap_init(&c);
	run_file(SAMPLES "/whatsjson_android_nl_dd-mm-yyyy_no-comma_with-media.txt",
		 NULL, &c, NULL);
	r = rec(&c, 5);
	TAP_OK(same_str(str1(r, "kind"), "audio") &&
	       same_str(str1(json_array_get(json_object_get(r, "attachments"), 0),
			     "name"), "PTT-20220323-WA0000.opus"),
	       "Dutch (bestand bijgevoegd) with LRM before the name");
	TAP_OK(same_str(str1(rec(&c, 12), "kind"), "deleted"), "Dutch deletion notice");
	TAP_OK(same_str(str1(rec(&c, 0), "event"), "encryption"),
	       "Dutch encryption notice");
	cap_release(&c);

	cap_init(&c);
	run_file(SAMPLES "/whatsjson_ios_pt-PT_no-comma_without-media.txt", NULL, &c,
		 NULL);
	TAP_OK(same_str(str1(rec(&c, 5), "kind"), "audio") &&
	       same_str(str1(rec(&c, 8), "kind"), "contact") &&
	       same_str(str1(rec(&c, 11), "kind"), "document") &&
	       same_str(str1(rec(&c, 16), "kind"), "video"),
	       "Portuguese placeholders");
	cap_release(&c);

	cap_init(&c);
	run_file(SAMPLES "/whatsjson_android_en_ddmmyyyy_group-system-msgs.txt", "dmy",
		 &c, NULL);
	TAP_OK(same_str(str2(rec(&c, 0), "conversation", "type"), "group") &&
	       same_str(str1(rec(&c, 1), "event"), "group_created") &&
	       same_str(str1(rec(&c, 2), "event"), "added") &&
	       same_str(str1(rec(&c, 6), "event"), "admin") &&
	       same_str(str1(rec(&c, 8), "event"), "subject") &&
	       same_str(str1(rec(&c, 9), "event"), "timer") &&
	       same_str(str1(rec(&c, 14), "event"), "joined") &&
	       same_str(str1(rec(&c, 15), "event"), "removed"),
	       "group events classified");
	TAP_OK(same_str(str1(rec(&c, 1), "sent_at"), "2023-01-11T08:11:00.000Z") &&
	       same_str(str1(rec(&c, 0), "sent_at"), "2023-01-11T08:13:00.000Z"),
	       "file order kept although timestamps go back");
	cap_release(&c);

	cap_init(&c);
	run_file(SAMPLES "/chatminer_android_mmddyyyy_12h_es-a.m.-p.m..txt", NULL, &c,
		 NULL);
	r = rec(&c, 1);
	TAP_OK(same_str(str2(r, "sender", "id"), "John Doe") &&
	       same_str(str1(r, "text"), "."), "'John Doe:.' is a message '.'");
	r = rec(&c, 4);
	TAP_OK(is_system(r) && same_str(str1(r, "sent_at"), "2020-06-19T16:08:00.000Z"),
	       "00:08 a. m. is just after midnight");
	cap_release(&c);
}

/* ---- options, time, AM/PM -------------------------------------------- */

/* One line's UTC time under the given options. */
static void time_is(const char *text, const char *order, const char *tz,
		    const char *want, const char *name)
{
	struct cap c;
	char *err = NULL;
	int rc;

	cap_init(&c);
	rc = run_text(text, strlen(text), order, NULL, tz, "t.txt", NULL, &c, &err);
	TAP_OK(rc == CL_OK && json_array_size(c.recs) == 1 && c.nbad == 0 &&
	       same_str(str1(rec(&c, 0), "sent_at"), want),
	       "%s: %s (rc %d %s, got %s)", name, want, rc, err ? err : "",
	       str1(rec(&c, 0), "sent_at") ? str1(rec(&c, 0), "sent_at") : "nothing");
	free(err);
	cap_release(&c);
}

static void test_times(void)
{
	time_is("2024/1/2 \xe4\xb8\x8a\xe5\x8d\x88" "9:05 - \xe9\x99\xb3: x\n", NULL,
		NULL, "2024-01-02T01:05:00.000Z", "上午 before the time");
	time_is("2024/1/2 \xe4\xb8\x8b\xe5\x8d\x88" "3:30 - \xe9\x99\xb3: x\n", NULL,
		NULL, "2024-01-02T07:30:00.000Z", "下午 before the time");
	time_is("[2024/1/2 \xe4\xb8\x8b\xe5\x8d\x88" "12:00:05] A: x\n", NULL, NULL,
		"2024-01-02T04:00:05.000Z", "下午12 is noon");
	time_is("[2024/1/2 \xe4\xb8\x8a\xe5\x8d\x88" "12:10:00] A: x\n", NULL, NULL,
		"2024-01-01T16:10:00.000Z", "上午12 is midnight");
	time_is("1/2/24, 9:05\xe2\x80\xafPM - Bob: hi\n", "mdy", NULL,
		"2024-01-02T13:05:00.000Z", "U+202F before PM");
	time_is("[1/2/24, 9:05:07\xe2\x80\xaf" "AM] Bob: hi\n", "mdy", NULL,
		"2024-01-02T01:05:07.000Z", "iOS U+202F before AM");
	time_is("2024. 1. 2. \xec\x98\xa4\xed\x9b\x84 3:30 - \xea\xb9\x80: x\n", NULL,
		NULL, "2024-01-02T07:30:00.000Z", "Korean 오후 with dotted date");
	time_is("2024/01/02 \xe5\x8d\x88\xe5\x89\x8d" "0:15 - \xe5\xb1\xb1: x\n", NULL,
		NULL, "2024-01-01T16:15:00.000Z", "Japanese 午前");
	time_is("2024/01/02 \xe5\x8d\x88\xe5\xbe\x8c" "1:15 - \xe5\xb1\xb1: x\n", NULL,
		NULL, "2024-01-02T05:15:00.000Z", "Japanese 午後");
	time_is("02/01/2024, 12:30 a. m. - X: y\n", "dmy", NULL,
		"2024-01-01T16:30:00.000Z", "12:30 a. m.");
	time_is("02/01/2024, 12:30 p.\xc2\xa0m. - X: y\n", "dmy", NULL,
		"2024-01-02T04:30:00.000Z", "p.<NBSP>m.");
	time_is("02/01/2024, 1:30 pm - X: y\n", "dmy", NULL,
		"2024-01-02T05:30:00.000Z", "lower-case pm");
	time_is("[1/2/2567 BE, 10:00:00] A: x\r\n", "mdy", NULL,
		"2024-01-02T02:00:00.000Z", "Buddhist year 2567 BE");
	time_is("[02.01.24, 10.00.00] A: x\n", "dmy", NULL,
		"2024-01-02T02:00:00.000Z", "iOS dotted time");
	time_is("04.02.17 um 22:45 - A: x\n", "dmy", NULL,
		"2017-02-04T14:45:00.000Z", "German 'um'");
	time_is("01/07/2024, 12:00 - A: x\n", "dmy", "Europe/London",
		"2024-07-01T11:00:00.000Z", "Europe/London in summer (BST)");
	time_is("01/01/2024, 12:00 - A: x\n", "dmy", "Europe/London",
		"2024-01-01T12:00:00.000Z", "Europe/London in winter");
	time_is("31/03/2024, 01:30 - A: x\n", "dmy", "Europe/London",
		"2024-03-31T01:30:00.000Z", "a skipped local time uses the earlier offset");
	time_is("27/10/2024, 01:30 - A: x\n", "dmy", "Europe/London",
		"2024-10-27T00:30:00.000Z", "a repeated local time is its first occurrence");
	time_is("01/01/2024, 12:00 - A: x\n", "dmy", "UTC", "2024-01-01T12:00:00.000Z",
		"UTC");
	time_is("01/01/2024, 12:00 - A: x\n", "dmy", "+05:30",
		"2024-01-01T06:30:00.000Z", "fixed offset");
	time_is("01/01/2024, 12:00 - A: x\n", "dmy", "America/New_York",
		"2024-01-01T17:00:00.000Z", "America/New_York");
}

static void test_options(void)
{
	struct cap c;
	struct cl_import_opts o = { NULL, NULL, NULL, NULL, NULL, "x.txt" };
	struct cl_import_sink s;
	const char *t = "13/01/2024, 10:00 - A: x\n";
	char *err = NULL;
	int rc;

	cap_init(&c);
	s = sink_for(&c);
	rc = cl_chatexport_import_text(t, strlen(t), &o, &s, &err);
	TAP_OK(rc == CL_EINVAL && err && strcmp(err, "--account is required") == 0,
	       "--account is required (%s)", err ? err : "");
	free(err);
	err = NULL;
	rc = run_text(t, strlen(t), NULL, NULL, "Mars/Olympus_Mons", "x.txt", NULL, &c,
		      &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "time zone"),
	       "unknown --tz refused (%s)", err ? err : "");
	free(err);
	err = NULL;
	rc = run_text(t, strlen(t), NULL, NULL, "../../etc/passwd", "x.txt", NULL, &c,
		      &err);
	TAP_OK(rc == CL_EINVAL, "a --tz path is refused");
	free(err);
	err = NULL;
	rc = run_text(t, strlen(t), "ydm", NULL, NULL, "x.txt", NULL, &c, &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "--date-order"),
	       "bad --date-order refused");
	free(err);
	err = NULL;
	/* the ambiguous case, and the inconsistent one */
	t = "01/02/2024, 10:00 - A: x\n03/04/2024, 10:00 - A: y\n";
	rc = run_text(t, strlen(t), NULL, NULL, NULL, "x.txt", NULL, &c, &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "--date-order dmy|mdy|ymd"),
	       "ambiguous dates refused with --date-order named");
	free(err);
	err = NULL;
	t = "13/02/2024, 10:00 - A: x\n02/13/2024, 10:00 - A: y\n";
	rc = run_text(t, strlen(t), NULL, NULL, NULL, "x.txt", NULL, &c, &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "--date-order"),
	       "mixed day-first and month-first refused");
	free(err);
	err = NULL;
	TAP_EQ_INT(json_array_size(c.recs), 0, "nothing emitted by refused imports");
	/* any day above 12 anywhere in the file settles it */
	t = "01/02/2024, 10:00 - A: x\n03/04/2024, 10:00 - A: y\n"
	    "25/04/2024, 10:00 - A: z\n";
	rc = run_text(t, strlen(t), NULL, NULL, NULL, "x.txt", NULL, &c, &err);
	TAP_OK(rc == CL_OK && same_str(str1(rec(&c, 0), "sent_at"),
				       "2024-02-01T02:00:00.000Z"),
	       "a later day above 12 decides day-first for earlier lines");
	cap_release(&c);

	/* a file without any WhatsApp header */
	cap_init(&c);
	t = "just some notes\nand more\n";
	rc = run_text(t, strlen(t), NULL, NULL, NULL, "x.txt", NULL, &c, &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "chat export"),
	       "a text without headers is refused");
	free(err);
	err = NULL;
	rc = run_text("", 0, NULL, NULL, NULL, "x.txt", NULL, &c, &err);
	TAP_OK(rc == CL_OK && json_array_size(c.recs) == 0 && c.nbad == 0,
	       "an empty export imports nothing");
	cap_release(&c);
}

/* ---- content mapping ------------------------------------------------- */

static void test_mapping(void)
{
	static const char t[] =
		"\xef\xbb\xbf" "13/01/2024, 09:00 - Messages and calls are end-to-end "
		"encrypted. No one outside of this chat, not even WhatsApp, can read "
		"or listen to them. Tap to learn more.\n"
		"13/01/2024, 09:01 - Chan Tai Man: Quote attached <This message was edited>\n"
		"13/01/2024, 09:02 - +852 0000 0001: Price OK?\n"
		"13/01/2024, 09:03 - You: Yes\n"
		"13/01/2024, 09:04 - Chan Tai Man: null\n"
		"13/01/2024, 09:05 - Chan Tai Man: location: https://maps.google.com/?q=22.2793,114.1628\n"
		"13/01/2024, 09:06 - +852 0000 0001: \xe2\x80\x8e" "Contact card omitted\n"
		"13/01/2024, 09:07 - ~\xe2\x80\xaf" "Ms Wong: hi\n"
		"13/01/2024, 09:08 - Chan Tai Man: You deleted this message\n"
		"13/01/2024, 09:09 - Chan Tai Man: <Medien ausgeschlossen>\n"
		"13/01/2024, 09:10 - Chan Tai Man: line one\n"
		"\n"
		"line three: 10:00 - not a header\n"
		"13/01/2024, 09:11 - Chan Tai Man changed the subject from \"A: b\" to \"C\"\n"
		"13/01/2024, 09:12 - Chan Tai Man: <Diese Nachricht wurde bearbeitet.>\n";
	struct cap c;
	json_t *r;
	char *err = NULL;
	int rc;

	cap_init(&c);
	rc = run_text(t, sizeof(t) - 1, NULL, "Chan Tai Man", NULL,
		      "WhatsApp Chat with Ms Wong.txt", NULL, &c, &err);
	TAP_OK(rc == CL_OK && c.invalid == 0 && c.nbad == 0 &&
	       json_array_size(c.recs) == 13, "mapping text imports (%d %s, %zu)", rc,
	       err ? err : "", json_array_size(c.recs));
	free(err);
	r = rec(&c, 0);
	TAP_OK(is_system(r) && same_str(str1(r, "event"), "encryption") &&
	       same_str(str2(r, "conversation", "id"), "whatsapp-export:group:A: b") &&
	       same_str(str2(r, "conversation", "name"), "Ms Wong") &&
	       same_str(str2(r, "conversation", "type"), "group") &&
	       str2(r, "conversation", "peer_name") == NULL &&
	       same_str(str2(r, "export", "conversation_from"), "group_subject"),
	       "BOM stripped; three speakers make a group; its id is the subject "
	       "before the change, its name the Android file name");
	r = rec(&c, 1);
	TAP_OK(json_is_true(json_object_get(r, "edited")) &&
	       same_str(str1(r, "text"), "Quote attached") &&
	       same_str(str1(r, "direction"), "out"),
	       "edited suffix stripped; --self is outgoing");
	r = rec(&c, 2);
	TAP_OK(same_str(str2(r, "sender", "id"), "+85200000001") &&
	       same_str(str2(r, "sender", "phone"), "+85200000001") &&
	       same_str(str2(r, "sender", "name"), "+852 0000 0001") &&
	       same_str(str1(r, "direction"), "in"),
	       "phone author normalised to E.164");
	r = rec(&c, 3);
	TAP_OK(same_str(str2(r, "sender", "id"), "Chan Tai Man") &&
	       same_str(str2(r, "sender", "name"), "You") &&
	       same_str(str1(r, "direction"), "out"), "'You' is --self");
	TAP_OK(same_str(str1(rec(&c, 4), "kind"), "view-once"), "null is view-once");
	r = rec(&c, 5);
	TAP_OK(same_str(str1(r, "kind"), "location") &&
	       json_real_value(json_object_get(json_object_get(r, "location"),
					       "longitude")) == 114.1628,
	       "location");
	r = rec(&c, 6);
	TAP_OK(same_str(str1(r, "kind"), "contact") &&
	       json_is_true(json_object_get(r, "media_omitted")),
	       "contact card omitted");
	TAP_EQ_STR(str2(rec(&c, 7), "sender", "id"), "~\xe2\x80\xaf" "Ms Wong",
		   "a non-contact author is kept as written");
	TAP_OK(same_str(str1(rec(&c, 8), "kind"), "deleted"), "deleted");
	TAP_OK(same_str(str1(rec(&c, 9), "kind"), "media") &&
	       json_is_true(json_object_get(rec(&c, 9), "media_omitted")),
	       "German <Medien ausgeschlossen>");
	r = rec(&c, 10);
	TAP_OK(same_str(str1(r, "text"), "line one\n\nline three: 10:00 - not a header") &&
	       json_integer_value(json_object_get(json_object_get(r, "export"),
						  "lines")) == 3,
	       "multi-line message with an empty line");
	r = rec(&c, 11);
	TAP_OK(is_system(r) && same_str(str1(r, "event"), "subject"),
	       "a ': ' inside a system event does not make an author");
	r = rec(&c, 12);
	TAP_OK(json_is_true(json_object_get(r, "edited")) && str1(r, "text") &&
	       strcmp(str1(r, "text"), "") == 0, "German edited suffix");
	cap_release(&c);

	/* iOS _chat.txt: the chat is named by the authored notice */
	{
		static const char ios[] =
			"[13/01/2024, 09:00:00] Wong Trading: \xe2\x80\x8eMessages and "
			"calls are end-to-end encrypted. No one outside of this chat, not "
			"even WhatsApp, can read or listen to them.\r\n"
			"[13/01/2024, 09:01:00] Chan Tai Man: hello\r\n";
		const char *second = strchr(ios, '\n') + 1;

		cap_init(&c);
		rc = run_text(ios, sizeof(ios) - 1, NULL, NULL, NULL, "_chat.txt", NULL,
			      &c, NULL);
		TAP_OK(rc == CL_OK &&
		       same_str(str2(rec(&c, 1), "conversation", "id"),
				"whatsapp-export:direct:Wong Trading") &&
		       same_str(str2(rec(&c, 1), "conversation", "peer_name"),
				"Wong Trading") &&
		       same_str(str1(rec(&c, 1), "text"), "hello"),
		       "_chat.txt takes the chat name from the encryption notice; CRLF");
		cap_release(&c);
		cap_init(&c);
		rc = run_text(second, strlen(second), NULL, NULL, NULL, "_chat.txt", NULL,
			      &c, NULL);
		TAP_OK(rc == CL_OK &&
		       same_str(str2(rec(&c, 0), "conversation", "id"),
				"whatsapp-export:direct:Chan Tai Man") &&
		       same_str(str2(rec(&c, 0), "export", "conversation_from"), "peer"),
		       "no chat name: the only author is the other party");
		cap_release(&c);
		cap_init(&c);
		err = NULL;
		rc = run_text("[13/01/2024, 09:01:00] You: hello\r\n", 35, NULL, NULL,
			      NULL, "_chat.txt", NULL, &c, &err);
		TAP_OK(rc == CL_EINVAL && err && strstr(err, "--conversation"),
		       "no name and no other party: --conversation asked for (%s)",
		       err ? err : "");
		free(err);
		cap_release(&c);
	}
}

static void test_edges(void)
{
	static const char t[] = "13/01/2024, 09:00 - Tom leftover: hi\r\n"
				"13/01/2024, 09:01 - Tom leftover: bye\r";
	struct cap c;
	int rc;

	cap_init(&c);
	rc = run_text(t, sizeof(t) - 1, NULL, NULL, NULL, "x.txt", NULL, &c, NULL);
	TAP_OK(rc == CL_OK && json_array_size(c.recs) == 2 &&
	       same_str(str2(rec(&c, 0), "sender", "id"), "Tom leftover") &&
	       same_str(str1(rec(&c, 1), "text"), "bye"),
	       "an author containing ' left'; a final CR without LF is a line end");
	cap_release(&c);
}

static void test_bad_lines(void)
{
	static const char t[] =
		"Chat history exported\n"
		"\n"
		"13/01/2024, 09:00 - A: ok\n"
		"31/02/2024, 09:01 - A: no such day\n"
		"  still the bad message\n"
		"13/01/2024, 25:00 - A: no such hour\n"
		"13/01/2024, 09:02 - A: ok again\n"
		"invalid \xff\xfe utf-8 and a NUL \0 byte\n";
	struct cap c;
	json_t *r;
	int rc;

	cap_init(&c);
	rc = run_text(t, sizeof(t) - 1, NULL, NULL, NULL, "x.txt", NULL, &c, NULL);
	TAP_OK(rc == CL_OK && json_array_size(c.recs) == 2 && c.nbad == 3,
	       "bad items reported, the rest imported (%zu records, %zu bad)",
	       json_array_size(c.recs), c.nbad);
	TAP_OK(c.bad_item[0] == 1 && strstr(c.bad_reason[0], "before the first"),
	       "preamble: line 1 (%s)", c.bad_reason[0]);
	TAP_OK(c.bad_item[1] == 4 && strstr(c.bad_reason[1], "timestamp"),
	       "Feb 31: line 4");
	TAP_OK(c.bad_item[2] == 6, "hour 25: line 6");
	TAP_EQ_INT(c.invalid, 0, "records valid despite bad UTF-8 and NUL");
	r = rec(&c, 1);
	TAP_OK(str1(r, "text") &&
	       strstr(str1(r, "text"), "invalid \xef\xbf\xbd\xef\xbf\xbd utf-8") != NULL,
	       "invalid UTF-8 becomes U+FFFD in text");
	TAP_OK(c.recon.len == sizeof(t) - 1 && memcmp(c.recon.data, t, sizeof(t) - 1) == 0,
	       "raw bytes of records and bad items reproduce the input");
	cap_release(&c);

	/* a message longer than 1 MiB */
	{
		size_t n = (1u << 20) + 100, i;
		char *big = malloc(n + 64);
		int k = snprintf(big, 64, "13/01/2024, 09:00 - A: ");

		for (i = (size_t)k; i < n; i++)
			big[i] = (char)(i % 64 == 63 ? '\n' : 'x');
		cap_init(&c);
		rc = run_text(big, n, NULL, NULL, NULL, "x.txt", NULL, &c, NULL);
		TAP_OK(rc == CL_OK && json_array_size(c.recs) == 0 && c.nbad == 1 &&
		       strstr(c.bad_reason[0], "1 MiB"),
		       "an oversize message is a bad item");
		cap_release(&c);
		free(big);
	}
}

/* ---- ids: re-import and overlapping exports --------------------------- */

static void test_overlap(void)
{
	struct cl_buf file, later;
	struct cap a, b;
	const char *p;
	size_t i, line = 0, start = 0;
	int rc, same = 1;
	static const char extra[] =
		"01.11.2016, 09:00 - Ash Ketchum: Anyone up for a battle?\n"
		"01.11.2016, 09:05 - Misty: Definitely\n";

	TAP_OK(read_all(SAMPLES "/whatstk_pokemon_android_dotted-ddmmyyyy_24h_group.txt",
			&file) == CL_OK, "read the pokemon sample");
	/* the later export: from line 10 on, plus two new lines */
	for (p = (const char *)file.data; p && line < 9; line++) {
		p = memchr(p, '\n', file.len - (size_t)(p - (const char *)file.data));
		if (p)
			p++;
	}
	start = p ? (size_t)(p - (const char *)file.data) : 0;
	cl_buf_init(&later, 1u << 20);
	cl_buf_add(&later, file.data + start, file.len - start);
	/* drop the sample's final empty line, then append */
	while (later.len && later.data[later.len - 1] == '\n')
		later.len--;
	cl_buf_add(&later, "\n", 1);
	cl_buf_add(&later, extra, sizeof(extra) - 1);
	cap_init(&a);
	cap_init(&b);
	rc = run_text((const char *)file.data, file.len, NULL, NULL, NULL,
		      "WhatsApp Chat with Pokemon Chat.txt", NULL, &a, NULL);
	rc |= run_text((const char *)later.data, later.len, NULL, NULL, NULL,
		       "WhatsApp Chat with Pokemon Chat (2).txt", NULL, &b, NULL);
	TAP_OK(rc == CL_OK && json_array_size(a.recs) == 20 &&
	       json_array_size(b.recs) == 13, "both exports import (%zu, %zu)",
	       json_array_size(a.recs), json_array_size(b.recs));
	for (i = 0; i < 11; i++)
		if (!same_str(str1(rec(&a, 9 + i), "id"), str1(rec(&b, i), "id")))
			same = 0;
	TAP_OK(same, "the 11 shared messages have the same ids");
	for (i = 0; i < json_array_size(a.recs); i++) {
		if (same_str(str1(rec(&a, i), "id"), str1(rec(&b, 11), "id")) ||
		    same_str(str1(rec(&a, i), "id"), str1(rec(&b, 12), "id")))
			same = 0;
	}
	TAP_OK(same, "the 2 new messages have new ids");
	TAP_OK(!same_str(str1(rec(&a, 6), "id"), str1(rec(&b, 12), "id")),
	       "same author and text at another time: another id");
	cap_release(&a);
	cap_release(&b);
	cl_buf_release(&later);
	cl_buf_release(&file);

	/* identical lines get distinct, stable ids (occurrence number) */
	{
		static const char t[] = "13/01/2024, 09:00 - A: ok\n13/01/2024, 09:00 - A: ok\n"
					"13/01/2024, 09:00 - A: ok\n13/01/2024, 09:01 - Me: hi\n";

		cap_init(&a);
		run_text(t, sizeof(t) - 1, NULL, NULL, NULL, "WhatsApp Chat with A.txt", NULL,
			 &a, NULL);
		TAP_OK(json_array_size(a.recs) == 4 &&
		       !same_str(str1(rec(&a, 0), "id"), str1(rec(&a, 1), "id")) &&
		       !same_str(str1(rec(&a, 1), "id"), str1(rec(&a, 2), "id")) &&
		       !same_str(str1(rec(&a, 0), "id"), str1(rec(&a, 2), "id")),
		       "repeated identical messages get distinct ids");
		TAP_OK(strncmp(str1(rec(&a, 0), "id"), "wa-export:", 10) == 0 &&
		       strlen(str1(rec(&a, 0), "id")) == 42, "id form wa-export:<32 hex>");
		cap_init(&b);
		run_text(t, sizeof(t) - 1, NULL, "Me", "UTC", "WhatsApp Chat with A.txt", NULL,
			 &b, NULL);
		TAP_OK(same_str(str1(rec(&a, 2), "id"), str1(rec(&b, 2), "id")),
		       "ids depend on neither --tz nor --self");
		cap_release(&a);
		cap_release(&b);
	}
}

/* ---- conversation identity ------------------------------------------- */

/* Import `text` under `name` (and --self), into *c; CL_OK expected. */
static int imp(const char *text, const char *name, const char *self, struct cap *c)
{
	char *err = NULL;
	int rc;

	cap_init(c);
	rc = run_text(text, strlen(text), NULL, self, NULL, name, NULL, c, &err);
	if (rc != CL_OK || c->invalid || c->nbad)
		printf("# %s: rc %d (%s), %d invalid, %zu bad\n", name, rc,
		       err ? err : "", c->invalid, c->nbad);
	free(err);
	return rc;
}

/* Every record of c has conversation.id `id`. */
static int all_conv(const struct cap *c, const char *id)
{
	size_t i;

	for (i = 0; i < json_array_size(c->recs); i++)
		if (!same_str(str2(rec(c, i), "conversation", "id"), id)) {
			printf("# record %zu: conversation %s, want %s\n", i,
			       str2(rec(c, i), "conversation", "id"), id);
			return 0;
		}
	return json_array_size(c->recs) > 0;
}

/* How many ids of b are not among the ids of a. */
static size_t new_ids(const struct cap *a, const struct cap *b)
{
	size_t i, j, n = 0;

	for (j = 0; j < json_array_size(b->recs); j++) {
		for (i = 0; i < json_array_size(a->recs); i++)
			if (same_str(str1(rec(a, i), "id"), str1(rec(b, j), "id")))
				break;
		if (i == json_array_size(a->recs))
			n++;
	}
	return n;
}

static void test_identity(void)
{
	static const char head[] =
		"13/01/2024, 09:00 - Chan Tai Man: Is the loan approved?\n"
		"13/01/2024, 09:01 - Amy (Agent): Not yet\n";
	static const char body[] =
		"13/01/2024, 09:02 - Chan Tai Man: ok\n"
		"13/01/2024, 09:02 - Chan Tai Man: ok\n"
		"13/01/2024, 09:05 - Amy (Agent): Approved: HK$50,000 at 28% APR\n";
	static const char more[] =
		"14/01/2024, 10:00 - Chan Tai Man: Thanks\n"
		"14/01/2024, 10:01 - Chan Tai Man: ok\n"
		"14/01/2024, 10:02 - Amy (Agent): You are welcome\n";
	const char *want = "whatsapp-export:direct:Chan Tai Man";
	char full[1024], later[1024], capped[1024];
	struct cap a, b, c, d, e, f;

	snprintf(full, sizeof(full), "%s%s", head, body);
	snprintf(later, sizeof(later), "%s%s%s", head, body, more);
	snprintf(capped, sizeof(capped), "%s%s", body, more);
	imp(full, "WhatsApp Chat with Chan Tai Man.txt", NULL, &a);
	imp(full, "WhatsApp Chat with Chan Tai Man (1).txt", NULL, &b);
	imp(later, "WhatsApp Chat with Chan Tai Man (2).txt", NULL, &c);
	imp(capped, "WhatsApp Chat with Chan Tai Man.txt", NULL, &d);
	imp(later, "chan-backup.txt", "Amy (Agent)", &e);
	imp(full, "与Chan Tai Man的 WhatsApp 聊天 (1).txt", NULL, &f);
	TAP_OK(all_conv(&a, want) && all_conv(&b, want) && all_conv(&c, want) &&
	       all_conv(&d, want) && all_conv(&e, want) && all_conv(&f, want),
	       "one conversation id under every file name, with --self, zh-CN name");
	TAP_OK(same_str(str2(rec(&a, 0), "conversation", "peer_name"), "Chan Tai Man") &&
	       same_str(str2(rec(&a, 0), "conversation", "type"), "direct") &&
	       same_str(str2(rec(&a, 0), "conversation", "name"), "Chan Tai Man") &&
	       same_str(str2(rec(&b, 0), "conversation", "name"), "Chan Tai Man") &&
	       same_str(str2(rec(&a, 1), "sender", "name"), "Amy (Agent)") &&
	       same_str(str2(rec(&a, 0), "export", "conversation_from"), "peer"),
	       "peer_name, type direct, the \" (1)\" suffix dropped from the name");
	TAP_OK(json_equal(a.texts, b.texts), "(1) copy: the very same records");
	TAP_EQ_INT(new_ids(&a, &c), 3, "later export: only its 3 new messages have new ids");
	TAP_EQ_INT(new_ids(&a, &d), 3,
		   "capped export (oldest 2 gone) plus 3 new: 3 new ids, repeats keep theirs");
	TAP_EQ_INT(new_ids(&c, &e), 0, "renamed file with --self: the same ids");
	TAP_OK(!same_str(str1(rec(&a, 2), "id"), str1(rec(&a, 3), "id")) &&
	       same_str(str1(rec(&a, 3), "id"), str1(rec(&d, 1), "id")),
	       "a repeated message keeps its occurrence number after the cut");
	cap_release(&d);
	/* the documented limit: a cut inside a run of identical messages */
	imp("13/01/2024, 09:02 - Chan Tai Man: ok\n"
	    "13/01/2024, 09:05 - Amy (Agent): Approved: HK$50,000 at 28% APR\n",
	    "WhatsApp Chat with Chan Tai Man.txt", NULL, &d);
	TAP_OK(new_ids(&a, &d) == 0 &&
	       same_str(str1(rec(&d, 0), "id"), str1(rec(&a, 2), "id")) &&
	       same_str(str1(rec(&d, 1), "id"), str1(rec(&a, 4), "id")),
	       "cut inside a run of two 'ok': the survivor takes the run's first "
	       "number (stored already, nothing lost)");
	cap_release(&a);
	cap_release(&b);
	cap_release(&c);
	cap_release(&d);
	cap_release(&e);
	cap_release(&f);

	/* a phone-number peer: E.164 in the id, the name as written */
	{
		static const char t[] =
			"13/01/2024, 09:00 - +852 9123 4567: Hello\n"
			"13/01/2024, 09:01 - Amy (Agent): Hi\n";

		imp(t, "WhatsApp Chat with +852 9123 4567.txt", NULL, &a);
		imp(t, "WhatsApp Chat with +85291234567.txt", NULL, &b);
		TAP_OK(all_conv(&a, "whatsapp-export:direct:+85291234567") &&
		       all_conv(&b, "whatsapp-export:direct:+85291234567") &&
		       same_str(str2(rec(&b, 0), "conversation", "peer_name"),
				"+852 9123 4567") &&
		       same_str(str2(rec(&b, 0), "conversation", "peer_phone"),
				"+85291234567") &&
		       same_str(str2(rec(&a, 0), "sender", "id"), "+85291234567") &&
		       json_equal(a.texts, b.texts) == 0 && new_ids(&a, &b) == 0,
		       "phone peer: id in E.164, peer_name as written, same ids");
		cap_release(&a);
		cap_release(&b);
	}

	/* a group renamed between exports keeps its first subject */
	{
		static const char g1[] =
			"13/01/2024, 09:00 - Amy: Morning all\n"
			"13/01/2024, 09:01 - Ben: Morning\n"
			"13/01/2024, 09:02 - Cat: Hi\n";
		static const char g2[] =
			"13/01/2024, 09:00 - Amy: Morning all\n"
			"13/01/2024, 09:01 - Ben: Morning\n"
			"13/01/2024, 09:02 - Cat: Hi\n"
			"15/01/2024, 09:00 - Amy changed the subject from \"Deal Desk\" to "
			"\"Deal Desk 2025\"\n"
			"15/01/2024, 09:03 - Ben: Nice name\n";

		imp(g1, "WhatsApp Chat with Deal Desk.txt", NULL, &a);
		imp(g2, "WhatsApp Chat with Deal Desk 2025.txt", NULL, &b);
		TAP_OK(all_conv(&a, "whatsapp-export:group:Deal Desk") &&
		       all_conv(&b, "whatsapp-export:group:Deal Desk") &&
		       new_ids(&a, &b) == 2 &&
		       same_str(str2(rec(&b, 0), "conversation", "name"), "Deal Desk 2025") &&
		       same_str(str2(rec(&b, 0), "export", "conversation_from"),
				"group_subject") &&
		       same_str(str2(rec(&a, 0), "export", "conversation_from"), "chat_name"),
		       "renamed group: the subject before the change names it");
		cap_release(&a);
		cap_release(&b);
	}

	/* iOS: _chat.txt in zips of any name: the notice names the chat */
	{
		static const char t[] =
			"[13/01/2024, 09:00:00] Chan Tai Man: \xe2\x80\x8e" "Messages and calls "
			"are end-to-end encrypted. No one outside of this chat, not even "
			"WhatsApp, can read or listen to them.\r\n"
			"[13/01/2024, 09:01:00] Amy Lee: Hello\r\n";

		imp(t, "_chat.txt", NULL, &a);
		TAP_OK(all_conv(&a, "whatsapp-export:direct:Chan Tai Man") &&
		       same_str(str2(rec(&a, 1), "conversation", "peer_name"),
				"Chan Tai Man"),
		       "iOS: only the exporter wrote; the notice names the other party");
		cap_release(&a);
	}

	/* iOS group: system events written as the group's own messages */
	{
		static const char t[] =
			"[1/13/24, 09:00:00] Deal Desk: \xe2\x80\x8e" "Messages and calls are "
			"end-to-end encrypted. No one outside of this chat, not even "
			"WhatsApp, can read or listen to them.\r\n"
			"[1/13/24, 09:00:01] Deal Desk: \xe2\x80\x8e" "Amy Lee created group "
			"\xe2\x80\x9c" "Deal Desk" "\xe2\x80\x9d\r\n"
			"[1/13/24, 09:00:02] Deal Desk: \xe2\x80\x8e" "Amy Lee added Ben Ho\r\n"
			"[1/13/24, 09:01:00] Ben Ho: Hello\r\n"
			"[1/13/24, 09:02:00] Deal Desk: I added the file\r\n";

		imp(t, "_chat.txt", NULL, &a);
		TAP_OK(all_conv(&a, "whatsapp-export:group:Deal Desk") &&
		       same_str(str1(rec(&a, 1), "event"), "group_created") &&
		       same_str(str2(rec(&a, 1), "export", "author"), "Deal Desk") &&
		       same_str(str1(rec(&a, 2), "event"), "added") &&
		       same_str(str1(rec(&a, 3), "kind"), "text") &&
		       same_str(str1(rec(&a, 4), "kind"), "text"),
		       "iOS group events by the group are system events (not without U+200E)");
		cap_release(&a);
	}

	/* two authors, no name, no --self: the file name is all there is */
	{
		static const char t[] = "13/01/2024, 09:00 - Amy: a\n13/01/2024, 09:01 - Ben: b\n";

		imp(t, "notes (3).txt", NULL, &a);
		TAP_OK(all_conv(&a, "whatsapp-export:chat:notes") &&
		       str2(rec(&a, 0), "conversation", "type") == NULL &&
		       same_str(str2(rec(&a, 0), "export", "conversation_from"), "file_name"),
		       "undecidable: whatsapp-export:chat:<file name>");
		cap_release(&a);
		imp(t, "notes.txt", "Amy", &a);
		TAP_OK(all_conv(&a, "whatsapp-export:direct:Ben"), "--self decides it");
		cap_release(&a);
	}

	/* --conversation still wins */
	{
		static const char t[] = "13/01/2024, 09:00 - Amy: a\n";

		cap_init(&a);
		run_text(t, strlen(t), NULL, NULL, NULL, "WhatsApp Chat with Amy.txt",
			 "loan-42", &a, NULL);
		TAP_OK(all_conv(&a, "loan-42") &&
		       same_str(str2(rec(&a, 0), "conversation", "peer_name"), "Amy") &&
		       same_str(str2(rec(&a, 0), "export", "conversation_from"), "option"),
		       "--conversation overrides the id, not the peer");
		cap_release(&a);
	}
}

/* ---- Chinese exports --------------------------------------------------- */

/* The event (system) or kind of each record, joined by ",". */
static void shape(const struct cap *c, char *out, size_t n)
{
	size_t i, k = 0;

	out[0] = 0;
	for (i = 0; i < json_array_size(c->recs) && k < n; i++) {
		json_t *r = rec(c, i);
		const char *v = is_system(r) ? str1(r, "event") : str1(r, "kind");
		int w = snprintf(out + k, n - k, "%s%s%s", i ? "," : "", v ? v : "?",
				 json_is_true(json_object_get(r, "edited")) ? "+edited" : "");

		if (w < 0)
			break;
		k += (size_t)w;
	}
}

static void test_chinese(void)
{
	static const char tw[] =
		"2024/3/5 上午9:00 - 訊息和通話都已經過端對端加密。對話以外的任何人，甚至是 "
		"WhatsApp 都無法讀取或收聽。輕觸以瞭解更多資訊。\n"
		"2024/3/5 上午9:00 - 黃小姐建立了群組「貸款報價」\n"
		"2024/3/5 上午9:01 - 黃小姐新增了陳大文\n"
		"2024/3/5 上午9:02 - 李先生已透過此群組的邀請連結加入\n"
		"2024/3/5 上午9:03 - 黃小姐已將群組名稱從「貸款報價」更改為「貸款報價 2024」\n"
		"2024/3/5 上午9:04 - 黃小姐已變更此群組的圖示\n"
		"2024/3/5 上午9:05 - 陳大文: <省略影音內容>\n"
		"2024/3/5 上午9:06 - 陳大文: 此訊息已刪除\n"
		"2024/3/5 下午2:07 - 黃小姐: 你已刪除此訊息\n"
		"2024/3/5 下午2:08 - 李先生: 年利率百分之五 <已編輯>\n"
		"2024/3/5 下午2:09 - 黃小姐已移除李先生\n"
		"2024/3/5 下午2:10 - 陳大文已離開\n"
		"2024/3/5 下午2:11 - 黃小姐: 訊息有加密嗎？我們明天再談。\n";
	static const char cn[] =
		"2024/3/5 09:00 - 消息和通话都进行端到端加密。对话之外的任何人，甚至包括 "
		"WhatsApp，都无法读取或收听。点按了解更多。\n"
		"2024/3/5 09:00 - 王经理创建了群组“贷款报价”\n"
		"2024/3/5 09:01 - 王经理添加了张三\n"
		"2024/3/5 09:02 - 李四通过此群组的邀请链接加入\n"
		"2024/3/5 09:03 - 王经理将群组名称从“贷款报价”更改为“贷款报价 2024”\n"
		"2024/3/5 09:04 - 王经理更改了此群组的图标\n"
		"2024/3/5 09:05 - 张三: <媒体已省略>\n"
		"2024/3/5 09:06 - 张三: 此消息已删除\n"
		"2024/3/5 09:07 - 王经理: 你删除了此消息\n"
		"2024/3/5 09:08 - 李四: 年利率百分之五 <已编辑>\n"
		"2024/3/5 09:09 - 王经理移除了李四\n"
		"2024/3/5 09:10 - 张三退出了\n"
		"2024/3/5 09:11 - 王经理: 消息都是端到端加密\n";
	static const char ios[] =
		"[2024/3/5 09:00:00] 陳大文: \xe2\x80\x8e訊息和通話都已經過端對端加密。"
		"對話以外的任何人，甚至是 WhatsApp 都無法讀取或收聽。\r\n"
		"[2024/3/5 09:01:00] 陳大文: 你好，想問貸款的事\r\n"
		"\xe2\x80\x8e[2024/3/5 09:02:00] 陳大文: \xe2\x80\x8e圖片已略去\r\n"
		"[2024/3/5 09:03:00] 黃小姐: 請提供身分證明文件\r\n"
		"\xe2\x80\x8e[2024/3/5 09:04:00] 陳大文: \xe2\x80\x8e此訊息已刪除。\r\n"
		"[2024/3/5 09:05:00] 黃小姐: 好的 \xe2\x80\x8e<已編輯>\r\n"
		"\xe2\x80\x8e[2024/3/5 下午9:06:00] 陳大文: \xe2\x80\x8e<已附加: "
		"00000007-PHOTO-2024-03-05-21-06-00.jpg>\r\n";
	static const char want_group[] =
		"encryption,group_created,added,joined,subject,icon,media,deleted,deleted,"
		"text+edited,removed,left,text";
	struct cap c;
	char got[512];

	imp(tw, "WhatsApp Chat with 貸款報價 2024.txt", NULL, &c);
	shape(&c, got, sizeof(got));
	TAP_EQ_STR(got, want_group, "zh-TW Android 12h: system lines classified");
	TAP_OK(all_conv(&c, "whatsapp-export:group:貸款報價") &&
	       same_str(str2(rec(&c, 0), "conversation", "name"), "貸款報價 2024") &&
	       same_str(str1(rec(&c, 9), "text"), "年利率百分之五") &&
	       same_str(str1(rec(&c, 12), "sent_at"), "2024-03-05T06:11:00.000Z") &&
	       json_is_true(json_object_get(rec(&c, 6), "media_omitted")),
	       "zh-TW: group named by the created subject; 下午 times; edited text");
	cap_release(&c);

	imp(cn, "与贷款报价 2024的 WhatsApp 聊天.txt", NULL, &c);
	shape(&c, got, sizeof(got));
	TAP_EQ_STR(got, want_group, "zh-CN Android 24h: system lines classified");
	TAP_OK(all_conv(&c, "whatsapp-export:group:贷款报价") &&
	       same_str(str2(rec(&c, 0), "conversation", "name"), "贷款报价 2024") &&
	       same_str(str2(rec(&c, 12), "sender", "name"), "王经理"),
	       "zh-CN: group named by the created subject; a message about "
	       "encryption stays a message");
	cap_release(&c);

	imp(ios, "_chat.txt", NULL, &c);
	shape(&c, got, sizeof(got));
	TAP_EQ_STR(got, "encryption,text,image,text,deleted,text+edited,image",
		   "zh-TW iOS: authored notice, 圖片已略去, deletion with 。, <已附加:>");
	TAP_OK(all_conv(&c, "whatsapp-export:direct:陳大文") &&
	       same_str(str2(rec(&c, 0), "export", "author"), "陳大文") &&
	       same_str(str1(json_array_get(json_object_get(rec(&c, 6), "attachments"), 0),
			     "name"), "00000007-PHOTO-2024-03-05-21-06-00.jpg") &&
	       same_str(str1(rec(&c, 6), "sent_at"), "2024-03-05T13:06:00.000Z"),
	       "zh-TW iOS: direct chat named by the notice; attachment; 下午 in brackets");
	cap_release(&c);
}

/* ---- zips ------------------------------------------------------------ */

struct zfile {
	const char *name;
	const char *data;
	size_t len;
};

static int write_zip(const char *path, const struct zfile *f, size_t n)
{
	struct archive *a = archive_write_new();
	size_t i;
	int ok = 1;

	if (a == NULL || archive_write_set_format_zip(a) != ARCHIVE_OK ||
	    archive_write_open_filename(a, path) != ARCHIVE_OK)
		ok = 0;
	for (i = 0; ok && i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname_utf8(e, f[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)f[i].len);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    archive_write_data(a, f[i].data, f[i].len) != (la_ssize_t)f[i].len)
			ok = 0;
		archive_entry_free(e);
	}
	if (a) {
		if (archive_write_close(a) != ARCHIVE_OK)
			ok = 0;
		archive_write_free(a);
	}
	return ok ? 0 : -1;
}

static void hex_of(const char *data, size_t len, char out[65])
{
	unsigned char h[32];

	cl_sha256(data, len, h);
	sodium_bin2hex(out, 65, h, 32);
}

/* The attachment of record i. */
static json_t *att(const struct cap *c, size_t i)
{
	return json_array_get(json_object_get(rec(c, i), "attachments"), 0);
}

/*
 * Every blob was handed over just before a record that lists it: the
 * record that followed it carries its hash.
 */
static int blobs_precede(const struct cap *c)
{
	size_t i;

	for (i = 0; i < c->nblob && i < MAX_BLOB; i++) {
		size_t r = c->blob[i].records_before;

		if (!same_str(str1(att(c, r), "sha256"), c->blob[i].hex)) {
			printf("# blob %zu (%s) precedes record %zu\n", i,
			       c->blob[i].name, r);
			return 0;
		}
	}
	return 1;
}

static void test_zip(const char *dir)
{
	static const char chat[] =
		"[13/01/2024, 09:00:00] Wong Trading: \xe2\x80\x8eMessages and calls are "
		"end-to-end encrypted. No one outside of this chat, not even WhatsApp, "
		"can read or listen to them.\r\n"
		"\xe2\x80\x8e[13/01/2024, 09:01:00] Chan Tai Man: \xe2\x80\x8e<attached: "
		"00000001-PHOTO-2024-01-13-09-01-00.jpg>\r\n"
		"\xe2\x80\x8e[13/01/2024, 09:02:00] Chan Tai Man: Quote.pdf \xe2\x80\xa2 "
		"\xe2\x80\x8e" "3 pages \xe2\x80\x8e<attached: 00000002-Quote.pdf>\r\n"
		"\xe2\x80\x8e[13/01/2024, 09:03:00] Ms Wong: \xe2\x80\x8e<attached: "
		"00000003-AUDIO-2024-01-13-09-03-00.opus>\r\n"
		"\xe2\x80\x8e[13/01/2024, 09:04:00] Ms Wong: \xe2\x80\x8e<attached: "
		"00000004-Peter.vcf>\r\n"
		"\xe2\x80\x8e[13/01/2024, 09:05:00] Ms Wong: \xe2\x80\x8e<attached: "
		"00000001-PHOTO-2024-01-13-09-01-00.jpg>\r\n";
	static const char jpg[] = "\xff\xd8\xff\xe0 not really a jpeg";
	static const char pdf[] = "%PDF-1.4 quote";
	static const char vcf[] = "BEGIN:VCARD\r\nFN:Peter\r\nEND:VCARD\r\n";
	static const char junk[] = "left over";
	const struct zfile ios[] = {
		{ "_chat.txt", chat, sizeof(chat) - 1 },
		{ "00000001-PHOTO-2024-01-13-09-01-00.jpg", jpg, sizeof(jpg) - 1 },
		{ "00000002-Quote.pdf", pdf, sizeof(pdf) - 1 },
		{ "00000004-Peter.vcf", vcf, sizeof(vcf) - 1 },
		{ "notes.bin", junk, sizeof(junk) - 1 },
		{ "__MACOSX/._notes.bin", junk, sizeof(junk) - 1 },
	};
	static const char achat[] =
		"13/01/2024, 09:00 - Chan Tai Man: IMG-20240113-WA0001.jpg (file attached)\n"
		"Front door\n"
		"13/01/2024, 09:01 - Chan Tai Man: \xe7\x85\xa7\xe7\x89\x87.jpg (file attached)\n"
		"13/01/2024, 09:02 - Chan Tai Man: Price list.txt (file attached)\n";
	const struct zfile android[] = {
		{ "Price list.txt", "apples 3\n", 9 },
		{ "WhatsApp Chat with Chan Tai Man.txt", achat, sizeof(achat) - 1 },
		{ "IMG-20240113-WA0001.jpg", jpg, sizeof(jpg) - 1 },
		{ "\xe7\x85\xa7\xe7\x89\x87.jpg", pdf, sizeof(pdf) - 1 },
	};
	char zpath[512], hx[65];
	struct cap c;
	char *err = NULL;
	int rc;

	snprintf(zpath, sizeof(zpath), "%s/WhatsApp Chat - Wong Trading.zip", dir);
	TAP_OK(write_zip(zpath, ios, sizeof(ios) / sizeof(ios[0])) == 0,
	       "built an iOS-style zip");
	cap_init(&c);
	rc = run_file(zpath, NULL, &c, &err);
	TAP_OK(rc == CL_OK && c.invalid == 0, "zip imports (rc %d %s)", rc,
	       err ? err : "");
	free(err);
	err = NULL;
	TAP_EQ_INT(json_array_size(c.recs), 6, "zip: records");
	TAP_EQ_INT(c.nblob, 4, "zip: a blob for each record listing a file present");
	TAP_OK(c.nbad == 1 && strstr(c.bad_reason[0], "not referenced") &&
	       c.bad_item[0] == 5,
	       "an unreferenced entry is a bad item, __MACOSX skipped");
	TAP_OK(blobs_precede(&c), "each blob comes just before the record listing it");
	TAP_EQ_STR(str2(rec(&c, 0), "conversation", "id"),
		   "whatsapp-export:group:Wong Trading",
		   "two speakers, neither the chat's name: a group named by the notice");
	hex_of(jpg, sizeof(jpg) - 1, hx);
	TAP_OK(same_str(str1(att(&c, 1), "sha256"), hx) &&
	       json_integer_value(json_object_get(att(&c, 1), "size")) ==
		       (json_int_t)(sizeof(jpg) - 1) &&
	       same_str(str1(rec(&c, 1), "kind"), "image"),
	       "photo linked by SHA-256 and size");
	TAP_OK(c.nblob >= 1 && strcmp(c.blob[0].hex, hx) == 0 &&
	       strcmp(c.blob[0].name, "00000001-PHOTO-2024-01-13-09-01-00.jpg") == 0 &&
	       strcmp(c.blob[0].mime, "image/jpeg") == 0 && c.blob[0].len == sizeof(jpg) - 1,
	       "blob carries name, mime and bytes");
	TAP_OK(same_str(str1(att(&c, 5), "sha256"), hx), "a file referenced twice: same hash");
	hex_of(pdf, sizeof(pdf) - 1, hx);
	TAP_OK(same_str(str1(att(&c, 2), "sha256"), hx) &&
	       same_str(str1(att(&c, 2), "title"), "Quote.pdf") &&
	       json_integer_value(json_object_get(att(&c, 2), "pages")) == 3 &&
	       same_str(str1(att(&c, 2), "mime"), "application/pdf"),
	       "document linked, with title and pages");
	TAP_OK(json_is_true(json_object_get(att(&c, 3), "missing")) &&
	       str1(att(&c, 3), "sha256") == NULL &&
	       same_str(str1(rec(&c, 3), "kind"), "audio"),
	       "a file missing from the zip: still a record, missing: true");
	hex_of(vcf, sizeof(vcf) - 1, hx);
	TAP_OK(same_str(str1(att(&c, 4), "sha256"), hx) &&
	       same_str(str1(rec(&c, 4), "kind"), "contact"), "vcf is a contact");
	cap_release(&c);

	snprintf(zpath, sizeof(zpath), "%s/WhatsApp Chat with Chan Tai Man.zip", dir);
	TAP_OK(write_zip(zpath, android, sizeof(android) / sizeof(android[0])) == 0,
	       "built an Android-style zip");
	cap_init(&c);
	rc = run_file(zpath, NULL, &c, &err);
	TAP_OK(rc == CL_OK && json_array_size(c.recs) == 3 && c.nblob == 3 &&
	       c.nbad == 0 && blobs_precede(&c), "Android zip: the WhatsApp text is chosen over Price list.txt "
	       "(rc %d %s, %zu records, %zu blobs, %zu bad)", rc, err ? err : "",
	       json_array_size(c.recs), c.nblob, c.nbad);
	free(err);
	err = NULL;
	hex_of(jpg, sizeof(jpg) - 1, hx);
	TAP_OK(same_str(str1(att(&c, 0), "sha256"), hx) &&
	       same_str(str1(rec(&c, 0), "text"), "Front door"),
	       "(file attached) linked, caption kept");
	hex_of(pdf, sizeof(pdf) - 1, hx);
	TAP_OK(same_str(str1(att(&c, 1), "sha256"), hx),
	       "a non-ASCII file name is matched");
	TAP_OK(same_str(str1(rec(&c, 2), "kind"), "document") &&
	       str1(att(&c, 2), "sha256") != NULL, "a .txt document is an attachment");
	TAP_EQ_STR(str2(rec(&c, 0), "conversation", "id"),
		   "whatsapp-export:direct:Chan Tai Man", "conversation from the text's name");
	cap_release(&c);

	/* a zip without a chat text */
	snprintf(zpath, sizeof(zpath), "%s/nochat.zip", dir);
	write_zip(zpath, ios + 1, 2);
	cap_init(&c);
	rc = run_file(zpath, NULL, &c, &err);
	TAP_OK(rc == CL_EINVAL && err && strstr(err, "no chat text"),
	       "a zip without a chat text is refused");
	free(err);
	cap_release(&c);
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[1024];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	char dir[] = "/tmp/test_import_whatsapp-XXXXXX";

	test_samples();
	test_sample_details();
	test_times();
	test_options();
	test_mapping();
	test_edges();
	test_bad_lines();
	test_overlap();
	test_identity();
	test_chinese();
	if (mkdtemp(dir) == NULL) {
		TAP_OK(0, "temporary directory");
		return tap_done();
	}
	test_zip(dir);
	rm_dir(dir);
	return tap_done();
}
