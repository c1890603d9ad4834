/*
 * test_select.c - the read path's pure parts (archiver/export/select.c,
 * dsar.c): the --text matcher (Chinese substrings of any length, ASCII
 * case-insensitive, words ANDed), show's range parser, DSAR masking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/export/dsar.h"
#include "archiver/export/select.h"
#include "common/status.h"
#include "tests/unit/tap.h"

static int match(const char *q, const char *t)
{
	return cl_select_text_match(q, t, strlen(t));
}

static void test_text(void)
{
	const char *zh = "請於明天匯豐銀行戶口轉賬";

	TAP_OK(match("匯豐", zh), "a two-character Chinese query matches inside a run of Han");
	TAP_OK(match("匯", zh), "a one-character query matches");
	TAP_OK(!match("滙豐", zh), "a different character does not (no folding of variants)");
	TAP_OK(match("HSBC", "my hsbc account"), "ASCII matches case-insensitively");
	TAP_OK(match("hsbc ACCOUNT", "My HSBC Account"), "every word must occur (1)");
	TAP_OK(!match("hsbc loan", "My HSBC Account"), "every word must occur (2)");
	TAP_OK(match("匯豐　戶口", zh), "the ideographic space separates words");
	TAP_OK(match("", "x") && match("   ", "x"), "an empty query matches");
	TAP_OK(!match("É", "é"), "non-ASCII letters are compared exactly");
	TAP_OK(!match("abc", "ab"), "a query longer than the text");
}

static void test_ranges(void)
{
	uint64_t *r = NULL;
	size_t n = 0;
	char *err = NULL;

	TAP_EQ_INT(cl_select_parse_ranges("5-7,1,3-4", &r, &n, &err), CL_OK, "a list parses");
	TAP_EQ_INT(n, 2, "adjacent and overlapping ranges merge");
	TAP_OK(n == 2 && r[0] == 1 && r[1] == 1 && r[2] == 3 && r[3] == 7, "sorted: 1, 3-7");
	TAP_EQ_INT(cl_select_parse_ranges("2-6", &r, &n, &err), CL_OK, "a second call adds");
	TAP_OK(n == 1 && r[0] == 1 && r[1] == 7, "merged with the first: 1-7");
	free(r);
	r = NULL;
	n = 0;
	TAP_EQ_INT(cl_select_parse_ranges("7-3", &r, &n, &err), CL_EINVAL, "backwards is refused");
	TAP_OK(err && strstr(err, "ends before it starts"), "... with a reason");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_select_parse_ranges("1,,2", &r, &n, &err), CL_EINVAL, "an empty item is refused");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_select_parse_ranges("99999999999999999999", &r, &n, &err), CL_EINVAL,
		   "an index past 2^64 is refused");
	free(err);
	free(r);
}

static void test_mask(void)
{
	char *m = cl_dsar_mask_digits("Call me on +852 6000 1234, ref 12345");
	json_t *rec = json_pack("{s:{s:s, s:s}, s:s, s:s}", "sender", "id", "85260001234",
				"name", "Wong Siu Ling", "text", "tel 6000 1234", "raw", "AAAA");

	TAP_EQ_STR(m, "Call me on +*** **** **34, ref 12345",
		   "phone numbers keep the last two digits; short numbers stay");
	free(m);
	TAP_EQ_INT(cl_dsar_mask(rec), CL_OK, "mask a record");
	TAP_EQ_STR(json_string_value(json_object_get(json_object_get(rec, "sender"), "id")),
		   "*********34", "the sender id is masked");
	TAP_EQ_STR(json_string_value(json_object_get(json_object_get(rec, "sender"), "name")),
		   "Wong Siu Ling", "the name is kept");
	TAP_EQ_STR(json_string_value(json_object_get(rec, "text")), "tel **** **34",
		   "numbers in the text are masked");
	TAP_OK(json_object_get(rec, "raw") == NULL, "the raw source bytes are removed");
	json_decref(rec);
	rec = json_pack("{s:{s:s, s:s}}", "sender", "id", "85260001234", "name", "+852 6000 1234");
	TAP_EQ_INT(cl_dsar_mask(rec), CL_OK, "mask a sender named by its number");
	TAP_EQ_STR(json_string_value(json_object_get(json_object_get(rec, "sender"), "name")),
		   "+*** **** **34", "a name that is a phone number is masked");
	json_decref(rec);
}

int main(void)
{
	test_text();
	test_ranges();
	test_mask();
	return tap_done();
}
