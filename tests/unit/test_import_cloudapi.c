/*
 * test_import_cloudapi.c - the WhatsApp Cloud API webhook importer over
 * every sample in ../shared/samples/cloudapi-webhook (read in place, never
 * copied: see SOURCES.md) and over synthetic bad bodies.
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

#include "archiver/sources/cloudapi.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tap.h"
#include "import_sink.h"

#define SAMPLES "../shared/samples/cloudapi-webhook"

/* ---- the samples -------------------------------------------------------- */

struct expect {
	const char *file;
	const char *kinds;
	/* first and last record: sender.id, sent_at, then text or target */
	const char *first_sender, *first_time, *first_text;
	const char *last_sender, *last_time, *last_text;
};

static const struct expect samples[] = {
	{ "bindambc_textMessage.json", "text=1",
	  "1111111111111", "2023-01-05T19:39:38.000Z", "hi everyone!",
	  "1111111111111", "2023-01-05T19:39:38.000Z", "hi everyone!" },
	{ "pywa_message.json",
	  "audio=2,contacts=1,document=1,image=2,interactive=1,location=2,"
	  "order=1,reaction=3,sticker=2,text=5,unsupported=2,video=1",
	  "972987654321", "2023-10-11T16:53:43.000Z", "Body Text",
	  "972987654321", "2023-10-11T17:23:20.000Z", "BODY" },
	{ "pywa_message_status.json", "status=7",
	  "1122334455667", "2023-10-25T20:49:05.000Z", NULL,
	  "<BUSINESS_PHONE_NUMBER_ID>", "2023-10-25T20:49:05.000Z", NULL },
	{ "pywa_callback_button.json", "button=2,interactive=1",
	  "972987654321", "2023-10-25T20:45:30.000Z", "title",
	  "972987654321", "2023-10-25T21:23:47.000Z", "title" },
	{ "pywa_callback_selection.json", "interactive=2",
	  "972987654321", "2023-10-25T20:48:25.000Z", "title",
	  "972987654321", "2023-10-25T20:48:25.000Z", "title" },
	{ "pywa_system.json", "system=2",
	  "972987654321", "2025-07-30T04:55:15.000Z",
	  "User A changed from 972987654321 to 972912345678",
	  "972987654321", "2023-10-11T17:18:26.000Z", "User identity changed" },
	{ "pywa_edited_message.json", "edit=1",
	  "16505551234", "2025-06-13T22:42:55.000Z", "Updated image caption",
	  "16505551234", "2025-06-13T22:42:55.000Z", "Updated image caption" },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static const char *sample_name(size_t n)
{
	return samples[n].file;
}

static void check_sample(size_t n)
{
	const struct expect *e = &samples[n];
	struct cl_import_opts o;
	struct coll c, again;
	size_t i, last;
	int rc;

	memset(&o, 0, sizeof(o));
	rc = coll_import(&c, cl_cloudapi_import_file, SAMPLES, e->file, &o);
	TAP_OK(rc == CL_OK, "%s imports", e->file);
	TAP_EQ_INT(c.nbad, 0, "no bad items");
	kinds_are(&c, e->kinds);
	all_valid(&c, e->file);
	last = c.nrec ? c.nrec - 1 : 0;
	rec_str(&c, 0, "sender.id", e->first_sender, e->file);
	rec_str(&c, 0, "sent_at", e->first_time, e->file);
	rec_str(&c, last, "sender.id", e->last_sender, e->file);
	rec_str(&c, last, "sent_at", e->last_time, e->file);
	if (e->first_text)
		rec_str(&c, 0, "text", e->first_text, e->file);
	if (e->last_text)
		rec_str(&c, last, "text", e->last_text, e->file);
	for (i = 0; i < c.nrec; i++) {
		rec_str(&c, i, "source", "cloudapi", e->file);
		if (strcmp(e->file, "bindambc_textMessage.json") != 0)
			rec_str(&c, i, "raw_form", "item", e->file);
	}
	/* Determinism: a second import gives byte-identical records. */
	rc = coll_import(&again, cl_cloudapi_import_file, SAMPLES, e->file, &o);
	TAP_OK(rc == CL_OK && coll_same_records(&c, &again),
	       "%s: re-import gives identical records", e->file);

	/* Per-file details. */
	if (strcmp(e->file, "bindambc_textMessage.json") == 0) {
		TAP_OK(rec_raw_is_file(&c, 0, SAMPLES "/bindambc_textMessage.json", 0),
		       "single-message body: raw is the exact body bytes");
		rec_str(&c, 0, "raw_form", "body", e->file);
		rec_str(&c, 0, "account", "wa-business:409552778964973", e->file);
		rec_str(&c, 0, "id",
			"wamid.nBgN6TUyN2k5NzAzM5kzNhUCABI8FDNFQjAxQkE5REI4NEUzQ5Y5QTNgAA==",
			e->file);
		rec_str(&c, 0, "sender.name", "Mauricio Binda", e->file);
		rec_str(&c, 0, "conversation.id", "1111111111111", e->file);
		rec_str(&c, 0, "conversation.type", "direct", e->file);
		rec_str(&c, 0, "direction", "in", e->file);
		rec_str(&c, 0, "cloudapi.waba_id", "880480571844883", e->file);
		rec_str(&c, 0, "cloudapi.display_phone_number", "43330585569", e->file);
	} else if (strcmp(e->file, "pywa_message.json") == 0) {
		rec_str(&c, 0, "account", "wa-business:1122334455667", e->file);
		rec_str(&c, 0, "sender.name", "Test Name", e->file);
		rec_str(&c, 0, "sender.user_id", "US.13491208655302741918", e->file);
		rec_str(&c, 1, "kind", "image", e->file);
		rec_str(&c, 1, "media.sha256", "4654+8g=", e->file);
		rec_str(&c, 1, "attachments.0.media_id", "65463453", e->file);
		rec_str(&c, 1, "attachments.0.sha256", NULL, e->file);
		rec_str(&c, 2, "media.url",
			"https://lookaside.fbsbx.com/whatsapp_business/attachments/"
			"?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw",
			e->file);
		rec_str(&c, 3, "text", "caption", e->file);
		rec_true(&c, 3, "forwarded", e->file);
		rec_str(&c, 4, "attachments.0.name", "filename.pdf", e->file);
		rec_str(&c, 4, "attachments.0.mime", "application/pdf", e->file);
		rec_str(&c, 6, "kind", "audio", e->file);
		rec_true(&c, 6, "media.voice", e->file);
		rec_str(&c, 6, "attachments.0.sha256",
			"9b4e2915fd8445d6a8a53c859063c0d3e6d7de2f986367588151703a00cb4832",
			e->file);
		rec_str(&c, 7, "attachments.0.sha256",
			"3a64f89e18d48423083cd9a3ede78e65e0988d35e42f1a0ebfce4e3021704ae7",
			e->file);
		rec_true(&c, 8, "media.animated", e->file);
		rec_str(&c, 9, "text", "\xF0\x9F\x98\xAE", e->file);
		rec_str(&c, 9, "target", "wamid.yzxyzx=", e->file);
		rec_str(&c, 9, "removed", NULL, e->file);
		rec_str(&c, 10, "text", "", e->file);
		rec_true(&c, 10, "removed", e->file);
		rec_str(&c, 10, "target", "wamid.yzxyzx=", e->file);
		rec_str(&c, 11, "text", "", e->file);
		rec_true(&c, 11, "removed", e->file);
		rec_str(&c, 13, "content.name", "Facebook HQ", e->file);
		rec_str(&c, 14, "content.1.name.formatted_name", "Monica", e->file);
		rec_str(&c, 15, "kind", "order", e->file);
		rec_str(&c, 15, "text", NULL, e->file);
		rec_str(&c, 15, "content.catalog_id", "354160437058781", e->file);
		rec_int(&c, 16, "errors.0.code", 131051, e->file);
		rec_str(&c, 17, "content.type", "pool", e->file);
		rec_str(&c, 18, "reply_to", "wamid.xyzxyz==", e->file);
		rec_str(&c, 18, "text", "replied text", e->file);
		rec_true(&c, 19, "forwarded", e->file);
		rec_true(&c, 20, "frequently_forwarded", e->file);
		rec_str(&c, 21, "kind", "interactive", e->file);
		rec_str(&c, 21, "text", NULL, e->file);
		rec_str(&c, 21, "reply_to", "wamid.gvwegfretge==", e->file);
		rec_int(&c, 21, "change_errors.0.code", 131000, e->file);
		rec_str(&c, 22, "id", "wamid.ID", e->file);
		rec_str(&c, 22, "referral.ctwa_clid", "CTWA_CLID", e->file);
	} else if (strcmp(e->file, "pywa_message_status.json") == 0) {
		static const char *const states[] = {
			"sent", "delivered", "read", "played", "failed", "sent", "read"
		};
		for (i = 0; i < 7; i++)
			rec_str(&c, i, "status.state", states[i], e->file);
		rec_str(&c, 0, "id", "wamid.xyzxyz:sent", e->file);
		rec_str(&c, 0, "target", "wamid.xyzxyz", e->file);
		rec_str(&c, 0, "direction", "out", e->file);
		rec_str(&c, 0, "conversation.id", "972987654321", e->file);
		rec_str(&c, 0, "conversation.name", "Test Name", e->file);
		rec_str(&c, 0, "status.pricing.category", "service", e->file);
		rec_str(&c, 4, "id", "wamid.xyzxyz:failed", e->file);
		rec_str(&c, 4, "sent_at", "2023-07-15T00:20:58.000Z", e->file);
		rec_int(&c, 4, "errors.0.code", 130472, e->file);
		rec_str(&c, 5, "status.biz_opaque_callback_data", "some data", e->file);
		rec_str(&c, 6, "id", "<WHATSAPP_MESSAGE_ID>:read", e->file);
		rec_str(&c, 6, "target", "<WHATSAPP_MESSAGE_ID>", e->file);
		rec_str(&c, 6, "conversation.id", "fowefinoewcnw", e->file);
		rec_str(&c, 6, "conversation.type", "group", e->file);
		rec_str(&c, 6, "status.recipient_participant_id",
			"<GROUP_PARTICIPANT_USER_PHONE_NUMBER>", e->file);
		rec_str(&c, 6, "account", "wa-business:<BUSINESS_PHONE_NUMBER_ID>", e->file);
	} else if (strcmp(e->file, "pywa_callback_button.json") == 0) {
		rec_str(&c, 0, "kind", "interactive", e->file);
		rec_str(&c, 0, "reply_to", "wamid.xyzxyz", e->file);
		rec_str(&c, 0, "content.button_reply.id", "callback_data", e->file);
		rec_str(&c, 1, "kind", "button", e->file);
		rec_str(&c, 1, "reply_to", "wamid.xyzxyz==", e->file);
		rec_str(&c, 2, "id", "wamid.xsidjx", e->file);
		rec_str(&c, 2, "reply_to", NULL, e->file);
		rec_str(&c, 2, "content.payload", "callback_data", e->file);
	} else if (strcmp(e->file, "pywa_callback_selection.json") == 0) {
		rec_str(&c, 0, "content.type", "list_reply", e->file);
		rec_str(&c, 1, "content.list_reply.description", "description", e->file);
	} else if (strcmp(e->file, "pywa_system.json") == 0) {
		rec_str(&c, 0, "sender.name", NULL, e->file);
		rec_str(&c, 0, "content.type", "user_changed_number", e->file);
		rec_str(&c, 0, "content.wa_id", "972912345678", e->file);
		rec_str(&c, 1, "sender.name", "User A", e->file);
		rec_str(&c, 1, "identity.hash", "xyzxyz", e->file);
	} else if (strcmp(e->file, "pywa_edited_message.json") == 0) {
		rec_str(&c, 0, "target",
			"wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA=",
			e->file);
		rec_str(&c, 0, "account", "wa-business:106540352242922", e->file);
		rec_str(&c, 0, "content.message.image.id", "1234567890", e->file);
	}
	coll_free(&c);
	coll_free(&again);
}

/* ---- synthetic bodies ---------------------------------------------------- */

#define ENV_HEAD                                                               \
	"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"WABA1\","    \
	"\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":"   \
	"\"whatsapp\",\"metadata\":{\"display_phone_number\":\"85230000000\","   \
	"\"phone_number_id\":\"PNID1\"},\"contacts\":[{\"profile\":{\"name\":"    \
	"\"Chan Tai Man\"},\"wa_id\":\"85291234567\"}],"
#define ENV_TAIL "}}]}]}"

static int body(const char *json, struct coll *c, uint64_t *n, char **err)
{
	struct cl_import_sink s = coll_sink(c);

	return cl_cloudapi_import_body(json, strlen(json), &s, n, err);
}

static void test_bad_items(void)
{
	static const char mixed[] = ENV_HEAD
		"\"messages\":["
		"{\"from\":\"85291234567\",\"id\":\"wamid.A1\",\"timestamp\":\"1735693200\","
		"\"type\":\"text\",\"text\":{\"body\":\"hello\"}},"
		"{\"from\":\"85291234567\",\"timestamp\":\"1735693201\",\"type\":\"text\","
		"\"text\":{\"body\":\"no id\"}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.A3\",\"timestamp\":1.5,"
		"\"type\":\"text\",\"text\":{\"body\":\"real ts\"}},"
		"{\"id\":\"wamid.A4\",\"timestamp\":\"1735693203\",\"type\":\"text\","
		"\"text\":{\"body\":\"no from\"}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.A5\",\"timestamp\":\"17356932x\","
		"\"type\":\"text\"},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.A6\",\"timestamp\":\"1735693205\"},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.A7\",\"timestamp\":\"1735693206\","
		"\"type\":\"reaction\",\"reaction\":{\"emoji\":\"x\"}},"
		"\"not an object\"],"
		"\"statuses\":["
		"{\"id\":\"wamid.O1\",\"status\":\"delivered\",\"timestamp\":\"1735693300\","
		"\"recipient_id\":\"85291234567\"},"
		"{\"id\":\"wamid.O2\",\"status\":\"read\",\"timestamp\":\"1735693301\"}]"
		ENV_TAIL;
	struct coll c;
	uint64_t n = 0;
	char *err = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = body(mixed, &c, &n, &err);
	TAP_EQ_INT(rc, CL_OK, "body with bad items imports the rest");
	TAP_EQ_INT(n, 10, "n_items counts every message and status");
	TAP_EQ_INT(c.nrec, 2, "two good items emitted");
	TAP_EQ_INT(c.nbad, 8, "eight bad items");
	all_valid(&c, "mixed body");
	rec_str(&c, 0, "id", "wamid.A1", "mixed");
	rec_str(&c, 0, "sent_at", "2025-01-01T01:00:00.000Z", "mixed");
	rec_str(&c, 0, "raw_form", "item", "mixed");
	rec_str(&c, 1, "id", "wamid.O1:delivered", "mixed");
	rec_str(&c, 1, "sender.id", "PNID1", "mixed");
	if (c.nbad == 8) {
		static const uint64_t items[] = { 2, 3, 4, 5, 6, 7, 8, 10 };
		static const char *const why[] = {
			"'id'", "'timestamp'", "'from'", "'timestamp'", "'type'",
			"message_id", "not a JSON object", "'recipient_id'"
		};
		size_t i;

		for (i = 0; i < 8; i++) {
			TAP_EQ_INT(c.bad[i].item, items[i], "bad item number");
			TAP_OK(strstr(c.bad[i].reason, why[i]) != NULL,
			       "bad item %llu reason names %s ('%s')",
			       (unsigned long long)items[i], why[i], c.bad[i].reason);
		}
		TAP_OK(strstr(c.bad[0].data, "no id") != NULL,
		       "a bad item's data is the item itself");
		TAP_OK(strstr(c.bad[0].reason, "no id") == NULL,
		       "reasons do not quote content");
	}
	coll_free(&c);
	free(err);
}

static void test_invalid_bodies(void)
{
	static const char *const bad[] = {
		"", "not json", "[1,2]", "{\"object\":\"page\",\"entry\":[]}",
		"{\"object\":\"whatsapp_business_account\"}",
		"{\"object\":\"whatsapp_business_account\",\"entry\":{}}",
		"{\"object\":\"whatsapp_business_account\",\"entry\":[],\"entry\":[]}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct coll c;
		uint64_t n = 7;
		char *err = NULL;
		int rc;

		memset(&c, 0, sizeof(c));
		rc = body(bad[i], &c, &n, &err);
		TAP_OK(rc == CL_EINVAL && err && c.nrec == 0 && c.nbad == 0 && n == 0,
		       "invalid body %zu refused: %s", i, err ? err : "(no message)");
		free(err);
		coll_free(&c);
	}
}

static void test_structure(void)
{
	/* Two entries; a change without items; a change without metadata; a
	 * malformed entry; an echo; a group message; odd types. */
	static const char multi[] =
		"{\"object\":\"whatsapp_business_account\",\"entry\":["
		"{\"id\":\"W\",\"changes\":["
		"{\"field\":\"account_update\",\"value\":{\"event\":\"VERIFIED\"}},"
		"{\"field\":\"messages\",\"value\":{\"metadata\":{},\"messages\":["
		"{\"from\":\"1\",\"id\":\"wamid.N1\",\"timestamp\":\"1\",\"type\":\"text\"}]}},"
		"{\"field\":\"smb_message_echoes\",\"value\":{\"metadata\":"
		"{\"phone_number_id\":\"P\"},\"message_echoes\":["
		"{\"from\":\"85230000000\",\"to\":\"85291234567\",\"id\":\"wamid.E1\","
		"\"timestamp\":\"1735693200\",\"type\":\"text\",\"text\":{\"body\":\"echo\"}}]}}]},"
		"\"junk\","
		"{\"id\":\"W\",\"changes\":[{\"field\":\"messages\",\"value\":{"
		"\"metadata\":{\"phone_number_id\":\"P\"},\"messages\":["
		"{\"from\":\"85291234567\",\"group_id\":\"G1\",\"id\":\"wamid.G1\","
		"\"timestamp\":1735693200,\"type\":\"text\",\"text\":{\"body\":\"grp\"}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T1\",\"timestamp\":\"1735693200\","
		"\"type\":\"poll\",\"poll\":{\"q\":1}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T2\",\"timestamp\":\"1735693200\","
		"\"type\":\"Weird Type!\"},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T3\",\"timestamp\":\"1735693200\","
		"\"type\":\"status\"},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T4\",\"timestamp\":\"1735693200\","
		"\"type\":\"revoke\",\"revoke\":{\"original_message_id\":\"wamid.OLD\"}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T5\",\"timestamp\":\"1735693200\","
		"\"type\":\"edit\",\"edit\":{\"original_message_id\":\"wamid.OLD\","
		"\"message\":{\"type\":\"text\",\"text\":{\"body\":\"fixed\"}}}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T6\",\"timestamp\":\"1735693200\","
		"\"type\":\"edit\",\"edit\":{\"message\":{}}},"
		"{\"from\":\"85291234567\",\"id\":\"wamid.T7\",\"timestamp\":\"999999999999999\","
		"\"type\":\"text\"}"
		"]}}]}]}";
	struct coll c, c2;
	uint64_t n = 0;
	char *err = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	memset(&c2, 0, sizeof(c2));
	rc = body(multi, &c, &n, &err);
	TAP_EQ_INT(rc, CL_OK, "multi-entry body");
	TAP_EQ_INT(n, 12, "items: 1 empty change + 1 + 1 echo + 1 junk entry + 8");
	TAP_EQ_INT(c.nrec, 7, "seven records");
	TAP_EQ_INT(c.nbad, 5, "five bad items");
	all_valid(&c, "multi");
	if (c.nbad == 5) {
		TAP_EQ_INT(c.bad[0].item, 1, "empty change is item 1");
		TAP_OK(strstr(c.bad[0].reason, "no messages") != NULL, "empty change reason");
		TAP_EQ_INT(c.bad[1].item, 2, "no-metadata message is item 2");
		TAP_OK(strstr(c.bad[1].reason, "phone_number_id") != NULL, "metadata reason");
		TAP_EQ_INT(c.bad[2].item, 4, "junk entry is item 4");
		TAP_EQ_INT(c.bad[3].item, 11, "edit without original is item 11");
		TAP_EQ_INT(c.bad[4].item, 12, "out-of-range timestamp is item 12");
	}
	rec_str(&c, 0, "direction", "out", "echo");
	rec_str(&c, 0, "conversation.id", "85291234567", "echo");
	rec_str(&c, 0, "sender.id", "85230000000", "echo");
	rec_true(&c, 0, "cloudapi.echo", "echo");
	rec_str(&c, 1, "conversation.id", "G1", "group");
	rec_str(&c, 1, "conversation.type", "group", "group");
	rec_str(&c, 2, "kind", "poll", "unknown valid type");
	rec_int(&c, 2, "content.q", 1, "unknown type content");
	rec_str(&c, 3, "kind", "cloudapi-weird_type_", "invalid type sanitised");
	rec_str(&c, 3, "cloudapi.type", "Weird Type!", "original type kept");
	rec_str(&c, 4, "kind", "cloudapi-status", "reserved kind prefixed");
	rec_str(&c, 5, "kind", "revoke", "revoke");
	rec_str(&c, 5, "target", "wamid.OLD", "revoke target");
	rec_str(&c, 6, "kind", "edit", "edit");
	rec_str(&c, 6, "text", "fixed", "edit text");
	rec_str(&c, 6, "target", "wamid.OLD", "edit target");
	coll_free(&c);
	free(err);
	err = NULL;

	/* A sink error stops the import and is returned. */
	c2.stop_after = 1;
	rc = body(multi, &c2, &n, &err);
	TAP_OK(rc == 99 && c2.nrec == 1, "a sink error stops the import (rc %d)", rc);
	coll_free(&c2);
	free(err);
}

/* Items are numbered in document order, whatever the member names. */
static void test_order(void)
{
	static const char b[] =
		"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{"
		"\"value\":{\"statuses\":[{\"id\":\"s1\"}],\"zzz\":1,"
		"\"messages\":[{\"id\":\"m1\"}],\"aaa\":2,"
		"\"message_echoes\":[{\"id\":\"e1\"}]}}]}]}";
	struct coll c;
	char *err = NULL;

	memset(&c, 0, sizeof(c));
	TAP_EQ_INT(body(b, &c, NULL, &err), CL_OK, "order body");
	TAP_OK(c.nbad == 3 && strstr(c.bad[0].data, "s1") && strstr(c.bad[1].data, "m1") &&
	       strstr(c.bad[2].data, "e1") && c.bad[2].item == 3,
	       "statuses, messages, echoes numbered in document order");
	TAP_OK(c.nbad == 3 && strcmp(c.bad[0].data, "{\"id\":\"s1\"}") == 0,
	       "with several items, a bad item's data is the item re-serialised");
	coll_free(&c);
	free(err);
}

static void test_raw_forms(void)
{
	static const char one[] = ENV_HEAD "\"messages\":[{\"from\":\"85291234567\","
		"\"id\":\"wamid.R1\",\"timestamp\":\"1735693200\",\"type\":\"text\","
		"\"text\":{\"body\":\"caf\\u00e9\"}}]" ENV_TAIL;
	struct coll c;
	struct cl_buf dec;
	json_t *r;
	const char *raw;
	char *err = NULL;

	memset(&c, 0, sizeof(c));
	cl_buf_init(&dec, 1 << 20);
	TAP_EQ_INT(body(one, &c, NULL, &err), CL_OK, "one-message body");
	r = c.nrec ? rec_load(c.rec[0]) : NULL;
	raw = json_string_value(json_object_get(r, "raw"));
	TAP_OK(raw && cl_b64_decode(raw, strlen(raw), &dec) == CL_OK &&
	       dec.len == strlen(one) && memcmp(dec.data, one, dec.len) == 0,
	       "raw keeps the exact bytes, \\u escapes included");
	rec_str(&c, 0, "raw_form", "body", "one");
	rec_str(&c, 0, "text", "caf\xC3\xA9", "one");
	rec_str(&c, 0, "conversation.name", "Chan Tai Man", "one");
	json_decref(r);
	cl_buf_release(&dec);
	coll_free(&c);
	free(err);
}

static void test_collection_file(void)
{
	static const char coll_json[] =
		"{\"a\":{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":"
		"[{\"value\":{\"metadata\":{\"phone_number_id\":\"P\"},\"messages\":"
		"[{\"from\":\"1\",\"id\":\"m1\",\"timestamp\":\"1\",\"type\":\"text\"}]}}]}]},"
		"\"b\":{\"hello\":1},"
		"\"c\":{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":"
		"[{\"value\":{\"metadata\":{\"phone_number_id\":\"P\"},\"messages\":"
		"[{\"from\":\"1\",\"id\":\"m2\",\"timestamp\":\"2\"}]}}]}]}}";
	char path[] = "/tmp/test_import_cloudapi_XXXXXX";
	int fd = mkstemp(path);
	struct coll c;
	struct cl_import_sink s = coll_sink(&c);
	char *err = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	TAP_OK(fd >= 0 && write(fd, coll_json, strlen(coll_json)) == (ssize_t)strlen(coll_json),
	       "temp collection written");
	if (fd >= 0)
		close(fd);
	rc = cl_cloudapi_import_file(path, NULL, &s, &err);
	TAP_EQ_INT(rc, CL_OK, "collection with a non-body member");
	TAP_EQ_INT(c.nrec, 1, "one record");
	TAP_EQ_INT(c.nbad, 2, "two bad items");
	if (c.nbad == 2) {
		TAP_EQ_INT(c.bad[0].item, 2, "non-body member numbered after body a");
		TAP_EQ_INT(c.bad[1].item, 3, "numbers continue into body c");
		TAP_OK(strstr(c.bad[1].reason, "'type'") != NULL, "missing type reason");
	}
	coll_free(&c);
	free(err);
	err = NULL;

	/* Not a webhook file at all. */
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd >= 0) {
		TAP_OK(write(fd, "{\"x\":{}}", 8) == 8, "temp rewritten");
		close(fd);
	}
	rc = cl_cloudapi_import_file(path, NULL, &s, &err);
	TAP_OK(rc == CL_EINVAL && err && c.nrec == 0 && c.nbad == 0,
	       "a file with no body is refused: %s", err ? err : "(none)");
	free(err);
	err = NULL;
	unlink(path);
	rc = cl_cloudapi_import_file(path, NULL, &s, &err);
	TAP_EQ_INT(rc, CL_ENOTFOUND, "missing file");
	free(err);
	coll_free(&c);
}

/* ---- large bodies: the skeleton parse ----------------------------------- */

/* A sink that logs every call into a cl_buf, to compare two imports. */
static int log_record(void *ctx, const char *json, size_t len)
{
	return cl_buf_addf(ctx, "R %zu %.*s\n", len, (int)len, json);
}

static int log_bad(void *ctx, uint64_t item, const unsigned char *data,
		   size_t len, const char *reason)
{
	return cl_buf_addf(ctx, "B %llu %s %.*s\n", (unsigned long long)item, reason,
			   (int)len, (const char *)data);
}

/* A body of `n` items, larger than the skeleton threshold (256 KiB): text
 * messages, statuses, a bad message, an echo, members in unusual order,
 * white space everywhere.  `tail` goes inside the last message (e.g. a
 * duplicate key).  Caller frees. */
static char *large_body(size_t n, const char *tail)
{
	struct cl_buf b;
	size_t i;

	cl_buf_init(&b, 64u << 20);
	(void)cl_buf_addstr(&b, " {\"entry\" : [ {\"changes\":[{\"value\":{\"messages\":[\n");
	for (i = 0; i < n; i++)
		(void)cl_buf_addf(&b, "%s{\"from\":\"8529%07zu\",\"id\":\"wamid.L%zu\","
				  "\"timestamp\":%s,\"type\":\"text\",\"text\":{\"body\":"
				  "\"large \\u00e9 %zu\", \"x\": [1.5, -2e3, null, true]}%s}\n",
				  i ? " , " : "", i % 7, i, i % 3 ? "\"1700000000\"" : "1700000001",
				  i, i + 1 == n ? tail : "");
	(void)cl_buf_addstr(&b, "], \"contacts\":[{\"wa_id\":\"85290000001\",\"profile\":"
			    "{\"name\":\"C\"}}],\"metadata\":{\"phone_number_id\":\"409\"},"
			    "\"statuses\":[{\"id\":\"s1\",\"status\":\"read\",\"timestamp\":\"5\","
			    "\"recipient_id\":\"1\"}, {\"id\":\"s2\"}, 7],"
			    "\"message_echoes\":[{\"from\":\"409\",\"to\":\"1\",\"id\":\"e1\","
			    "\"timestamp\":\"6\",\"type\":\"text\",\"text\":{\"body\":\"e\"}}]},"
			    "\"field\":\"messages\"}, {\"value\": 3}, {\"value\":{\"messages\":[]}}],"
			    "\"id\":\"W\"}, 5, {\"id\":\"X\"} ],\r\n\t\"object\":"
			    "\"whatsapp_business_account\"} \n");
	return (char *)cl_buf_detach(&b, NULL);
}

static void test_large_body(void)
{
	char path[] = "/tmp/test_import_cloudapi_XXXXXX";
	char *lb = large_body(3000, ""), *err = NULL;
	struct cl_buf whole, skel;
	struct cl_import_sink s;
	size_t len = strlen(lb);
	uint64_t n = 0;
	int fd = mkstemp(path), rc;

	cl_buf_init(&whole, 256u << 20);
	cl_buf_init(&skel, 256u << 20);
	TAP_OK(len > (256u << 10), "the large body is over 256 KiB (%zu bytes)", len);
	/* A file is always parsed whole: the reference. */
	TAP_OK(fd >= 0 && write(fd, lb, len) == (ssize_t)len, "large body written");
	if (fd >= 0)
		close(fd);
	memset(&s, 0, sizeof(s));
	s.record = log_record;
	s.bad = log_bad;
	s.ctx = &whole;
	rc = cl_cloudapi_import_file(path, NULL, &s, &err);
	TAP_EQ_INT(rc, CL_OK, "the large body as a file");
	free(err);
	err = NULL;
	s.ctx = &skel;
	rc = cl_cloudapi_import_body(lb, len, &s, &n, &err);
	TAP_EQ_INT(rc, CL_OK, "the large body as a body");
	TAP_OK(n == 3000 + 3 + 1 + 1 + 1 + 1 + 1, "its items counted: %llu",
	       (unsigned long long)n);
	TAP_OK(whole.len > 0 && whole.len == skel.len &&
	       memcmp(whole.data, skel.data, whole.len) == 0,
	       "item by item, it emits exactly what the whole tree does (%zu bytes)",
	       skel.len);
	free(err);
	err = NULL;
	free(lb);
	unlink(path);

	/* Invalid anywhere: nothing emitted, as for a small body. */
	{
		static const char *const tails[] = {
			",\"text\":1", ",\"y\":tru", ",\"y\":\"\\u0000\"", ",\"y\":\"\xff\"",
		};
		size_t i;

		for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
			lb = large_body(3000, tails[i]);
			cl_buf_reset(&skel);
			rc = cl_cloudapi_import_body(lb, strlen(lb), &s, &n, &err);
			TAP_OK(rc == CL_EINVAL && skel.len == 0 && err &&
			       strstr(err, "not valid JSON"),
			       "a flaw in the last of 3000 items (%zu): refused, nothing emitted: %s",
			       i, err ? err : "(none)");
			free(err);
			err = NULL;
			free(lb);
		}
	}
	lb = large_body(3000, "");
	len = strlen(lb);
	lb[len - 2] = 'x';   /* trailing garbage */
	cl_buf_reset(&skel);
	rc = cl_cloudapi_import_body(lb, len, &s, &n, &err);
	TAP_OK(rc == CL_EINVAL && skel.len == 0, "trailing bytes: refused, nothing emitted");
	free(err);
	free(lb);
	cl_buf_release(&whole);
	cl_buf_release(&skel);
}

int main(void)
{
	samples_check(SAMPLES, NSAMPLES, sample_name, check_sample);
	test_bad_items();
	test_invalid_bodies();
	test_structure();
	test_order();
	test_raw_forms();
	test_collection_file();
	test_large_body();
	return tap_done();
}
