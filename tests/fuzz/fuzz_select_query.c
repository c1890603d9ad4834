/*
 * fuzz_select_query.c - fuzz target for the read path's parsers
 * (archiver/export/select.c, dsar.c): show's range parser, the --text
 * matcher and the DSAR phone-number masking.
 *
 * The input is split at its first NUL: the first part is tried as a range
 * list and as a text query, the rest as the text searched.  Checks: parsed
 * ranges are ascending, merged and non-empty; a query always matches a
 * text that is the query itself; masking keeps the length and changes only
 * digits into '*'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "archiver/export/dsar.h"
#include "archiver/export/select.h"
#include "common/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = malloc(size + 1), *b;
	const char *nul = memchr(data, 0, size);
	size_t alen = nul ? (size_t)(nul - (const char *)data) : size, i, n = 0;
	uint64_t *r = NULL;
	char *err = NULL, *m;

	if (a == NULL)
		return 0;
	memcpy(a, data, size);
	a[size] = 0;
	b = nul ? a + alen + 1 : a + size;
	if (cl_select_parse_ranges(a, &r, &n, &err) == CL_OK) {
		if (n == 0)
			abort();
		for (i = 0; i < n; i++) {
			if (r[2 * i] > r[2 * i + 1])
				abort();
			if (i && r[2 * i] <= r[2 * i - 1] + 1)
				abort();
		}
	}
	free(err);
	free(r);
	(void)cl_select_text_match(a, b, strlen(b));
	if (!cl_select_text_match(a, a, strlen(a)))
		abort();
	m = cl_dsar_mask_digits(a);
	if (m) {
		if (strlen(m) != strlen(a))
			abort();
		for (i = 0; a[i]; i++)
			if (m[i] != a[i] && !(m[i] == '*' && a[i] >= '0' && a[i] <= '9'))
				abort();
		free(m);
	}
	free(a);
	return 0;
}
