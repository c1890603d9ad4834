/*
 * fuzz_console_html.c - the console's escapers and token parser on
 * arbitrary bytes (archiver/console/html.h, console_int.h).
 *
 * Whatever the input (message text is attacker input), cl_html_text's
 * output must be valid UTF-8 and hold no '<', '>', '"', '\'', '`' or '&'
 * except inside the markup it adds itself (entities and the
 * <span class="ctl">[U+XXXX]</span> marker), and no direction control;
 * cl_html_url's output only unreserved characters and %XX;
 * cl_con_token_parse accepts exactly 64 hex digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/console/console_int.h"
#include "archiver/console/html.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Remove the markup cl_html_text may add; what is left must be inert. */
static void check_text(const char *s, size_t n)
{
	static const char *const ok[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#96;",
					  "<span class=\"ctl\">[U+", "]</span>" };
	size_t i = 0, k;

	while (i < n) {
		for (k = 0; k < sizeof(ok) / sizeof(ok[0]); k++)
			if (n - i >= strlen(ok[k]) && memcmp(s + i, ok[k], strlen(ok[k])) == 0)
				break;
		if (k < sizeof(ok) / sizeof(ok[0])) {
			i += strlen(ok[k]);
			continue;
		}
		if (strchr("<>\"'`&", s[i]) != NULL && s[i] != 0)
			abort();
		/* U+202A..U+202E and U+2066..U+2069 are E2 80 AA..AE, E2 81 A6..A9 */
		if (n - i >= 3 && (unsigned char)s[i] == 0xE2 &&
		    (((unsigned char)s[i + 1] == 0x80 && (unsigned char)s[i + 2] >= 0xAA &&
		      (unsigned char)s[i + 2] <= 0xAE) ||
		     ((unsigned char)s[i + 1] == 0x81 && (unsigned char)s[i + 2] >= 0xA6 &&
		      (unsigned char)s[i + 2] <= 0xA9)))
			abort();
		i++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_buf b;
	unsigned char tok[32];
	char *z = malloc(size + 1);
	size_t i;
	int parsed;

	if (z == NULL)
		return 0;
	memcpy(z, data, size);
	z[size] = 0;
	cl_buf_init(&b, 64u << 20);
	if (cl_html_text(&b, (const char *)data, size) == 0)
		check_text((const char *)b.data, b.len);
	cl_buf_release(&b);
	cl_buf_init(&b, 64u << 20);
	if (cl_html_url(&b, z) == 0)
		for (i = 0; i < b.len; i++)
			if (!(strchr("-._~%", b.data[i]) || (b.data[i] >= '0' && b.data[i] <= '9') ||
			      (b.data[i] >= 'A' && b.data[i] <= 'Z') ||
			      (b.data[i] >= 'a' && b.data[i] <= 'z')) || b.data[i] == 0)
				abort();
	cl_buf_release(&b);
	parsed = cl_con_token_parse(z, tok) == 0;
	if (parsed && strlen(z) != 64)
		abort();
	if (parsed)
		for (i = 0; i < 64; i++)
			if (!strchr("0123456789abcdefABCDEF", z[i]) || z[i] == 0)
				abort();
	free(z);
	return 0;
}
