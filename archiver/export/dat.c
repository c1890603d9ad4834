/*
 * dat.c - the Concordance DAT load file (bundle_int.h, docs/BUNDLE.md
 * §3.4): UTF-8 with a byte order mark; fields quoted with þ (U+00FE) and
 * separated by DC4 (0x14); a newline inside a field becomes ® (U+00AE);
 * records end in CRLF; the first line names the fields.
 */
#include <string.h>

#include "archiver/export/bundle_int.h"
#include "common/status.h"

#include "common/banned.h"

#define QUOTE "\xc3\xbe"   /* þ */
#define SEP "\x14"
#define NL "\xc2\xae"      /* ® */

static const char *const names[CL_DAT_FIELDS_REDACT] = {
	"BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "CUSTODIAN", "DATESENT",
	"MD5HASH", "SHA256HASH", "NATIVEPATH", "TEXTPATH", "REDACTION"
};

static int field(struct cl_spool *o, const char *v, int first, char **err)
{
	const char *p, *run;
	int rc;

	if ((!first && (rc = cl_spool_addstr(o, SEP, err))) || (rc = cl_spool_addstr(o, QUOTE, err)))
		return rc;
	for (p = run = v ? v : ""; *p; p++) {
		if (*p != '\n' && *p != '\r' && !(p[0] == '\xc3' && p[1] == '\xbe') && *p != '\x14')
			continue;
		if ((rc = cl_spool_add(o, run, (size_t)(p - run), err)))
			return rc;
		if (*p == '\n')
			rc = cl_spool_addstr(o, NL, err);
		else if (*p == '\xc3')
			p++; /* a þ in the data is dropped: it would end the field */
		if (rc)
			return rc;
		run = p + 1;
	}
	if ((rc = cl_spool_add(o, run, (size_t)(p - run), err)))
		return rc;
	return cl_spool_addstr(o, QUOTE, err);
}

int cl_dat_header(struct cl_spool *out, int nf, char **err)
{
	int i, rc = cl_spool_addstr(out, "\xef\xbb\xbf", err);

	if (rc)
		return rc;
	if (nf > CL_DAT_FIELDS_REDACT)
		nf = CL_DAT_FIELDS_REDACT;
	for (i = 0; i < nf; i++)
		if ((rc = field(out, names[i], i == 0, err)))
			return rc;
	return cl_spool_addstr(out, "\r\n", err);
}

int cl_dat_row(struct cl_spool *out, const char *const *f, int nf, char **err)
{
	int i;

	for (i = 0; i < nf; i++) {
		int rc = field(out, f[i], i == 0, err);

		if (rc)
			return rc;
	}
	return cl_spool_addstr(out, "\r\n", err);
}
