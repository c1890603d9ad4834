/*
 * import_whatsapp_tz.c - local time to UTC for the WhatsApp export
 * importer (import_whatsapp.h).
 *
 * Export timestamps are wall-clock times of the exporting phone.  We do
 * not use setenv("TZ") + mktime(): that is process-global and not
 * thread-safe.  Hong Kong (the default) is a fixed +08:00: it has had no
 * daylight saving time since 1979, before WhatsApp existed.  Other zones
 * are read from their TZif file (RFC 8536): the transition table of the
 * 64-bit (v2+) data block when present, else of the v1 block.  The POSIX
 * TZ footer that extends a zone's rules beyond its last transition is
 * not evaluated: Debian's "fat" files list transitions up to 2037, after
 * which the last offset is used.
 */
#include <stdlib.h>
#include <string.h>

#include "archiver/sources/chatexport.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define TZ_DIR "/usr/share/zoneinfo/"
#define TZ_MAX_FILE (1u << 20)
#define TZ_MAX_OFFSET (26 * 3600)

struct cl_chatexport_tz {
	int32_t first;   /* offset before the first transition (or fixed) */
	size_t n;        /* transitions */
	int64_t *at;     /* UTC second of each transition, ascending */
	int32_t *off;    /* offset in force from at[i] on */
};

void cl_chatexport_tz_free(struct cl_chatexport_tz *tz)
{
	if (tz == NULL)
		return;
	free(tz->at);
	free(tz->off);
	free(tz);
}

static int32_t be32s(const unsigned char *p)
{
	return (int32_t)cl_load_be32(p);
}

/* "+hh:mm" / "-hh:mm" (also "+hhmm", "+hh"); -1 if not that form. */
static int parse_fixed(const char *s, int32_t *off)
{
	size_t n = strlen(s);
	int sign, h, m = 0;

	if (n < 3 || (s[0] != '+' && s[0] != '-'))
		return -1;
	sign = s[0] == '-' ? -1 : 1;
	if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
		return -1;
	h = (s[1] - '0') * 10 + (s[2] - '0');
	s += 3;
	if (*s == ':')
		s++;
	if (*s) {
		if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2])
			return -1;
		m = (s[0] - '0') * 10 + (s[1] - '0');
	}
	if (h > 23 || m > 59)
		return -1;
	*off = sign * (h * 3600 + m * 60);
	return 0;
}

/* An IANA name: letters, digits, "_+-/", no "..", no leading "/". */
static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64 || s[0] == '/' || s[0] == '.' ||
	    strstr(s, "..") != NULL)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '+' ||
		      c == '-' || c == '/'))
			return 0;
	}
	return 1;
}

/*
 * Parse one TZif data block starting at p[0] (its header), `tsize` bytes
 * per time (4 for v1, 8 for v2+).  On success fills tz and sets *used to
 * the block's length including the header.  Returns -1 if malformed.
 */
static int parse_block(const unsigned char *p, size_t n, size_t tsize,
		       struct cl_chatexport_tz *tz, size_t *used)
{
	uint32_t isut, isstd, leap, timecnt, typecnt, charcnt;
	const unsigned char *times, *idx, *types;
	size_t need, i;

	if (n < 44 || memcmp(p, "TZif", 4) != 0)
		return -1;
	isut = cl_load_be32(p + 20);
	isstd = cl_load_be32(p + 24);
	leap = cl_load_be32(p + 28);
	timecnt = cl_load_be32(p + 32);
	typecnt = cl_load_be32(p + 36);
	charcnt = cl_load_be32(p + 40);
	if (typecnt == 0 || typecnt > 256 || timecnt > 100000 ||
	    leap > 100000 || charcnt > 100000 || isut > typecnt ||
	    isstd > typecnt)
		return -1;
	need = 44 + (size_t)timecnt * (tsize + 1) + (size_t)typecnt * 6 +
	       charcnt + (size_t)leap * (tsize + 4) + isstd + isut;
	if (need > n)
		return -1;
	times = p + 44;
	idx = times + (size_t)timecnt * tsize;
	types = idx + timecnt;
	for (i = 0; i < typecnt; i++) {
		int32_t off = be32s(types + i * 6);

		if (off <= -TZ_MAX_OFFSET || off >= TZ_MAX_OFFSET)
			return -1;
	}
	free(tz->at);
	free(tz->off);
	tz->at = calloc(timecnt ? timecnt : 1, sizeof(*tz->at));
	tz->off = calloc(timecnt ? timecnt : 1, sizeof(*tz->off));
	if (tz->at == NULL || tz->off == NULL)
		return -2;
	tz->first = be32s(types);
	tz->n = timecnt;
	for (i = 0; i < timecnt; i++) {
		int64_t t = tsize == 8 ? (int64_t)cl_load_be64(times + i * 8)
				       : (int64_t)be32s(times + i * 4);

		if (idx[i] >= typecnt || (i > 0 && t <= tz->at[i - 1]))
			return -1;
		tz->at[i] = t;
		tz->off[i] = be32s(types + (size_t)idx[i] * 6);
	}
	*used = need;
	return 0;
}

int cl_chatexport_tz_load(const char *name, struct cl_chatexport_tz **out, char **err)
{
	struct cl_chatexport_tz *tz = calloc(1, sizeof(*tz));
	struct cl_buf file, path;
	size_t used = 0;
	int rc = CL_OK, r;

	*out = NULL;
	cl_buf_init(&file, TZ_MAX_FILE);
	cl_buf_init(&path, 256);
	if (tz == NULL)
		return CL_ENOMEM;
	if (name == NULL)
		name = CL_CHATEXPORT_DEFAULT_TZ;
	if (strcmp(name, "Asia/Hong_Kong") == 0 || strcmp(name, "Hongkong") == 0) {
		tz->first = 8 * 3600;
		goto out;
	}
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 ||
	    strcmp(name, "Z") == 0 || strcmp(name, "GMT") == 0) {
		tz->first = 0;
		goto out;
	}
	if (parse_fixed(name, &tz->first) == 0)
		goto out;
	if (!name_ok(name)) {
		rc = cl_error(err, CL_EINVAL,
			      "--tz must be an IANA zone name such as Asia/Hong_Kong");
		goto out;
	}
	if ((rc = cl_buf_addstr(&path, TZ_DIR)) || (rc = cl_buf_addstr(&path, name)))
		goto out;
	if (cl_file_read((const char *)path.data, &file, TZ_MAX_FILE, NULL) != CL_OK) {
		rc = cl_error(err, CL_EINVAL, "unknown time zone '%s' (no %s%s)",
			      name, TZ_DIR, name);
		goto out;
	}
	r = parse_block(file.data, file.len, 4, tz, &used);
	if (r == 0 && file.len > 4 && file.data[4] >= '2') {
		struct cl_chatexport_tz v2 = { 0, 0, NULL, NULL };
		size_t used2;

		/* The v2+ block follows the v1 block; prefer it. */
		r = parse_block(file.data + used, file.len - used, 8, &v2, &used2);
		if (r == 0) {
			free(tz->at);
			free(tz->off);
			*tz = v2;
		} else {
			free(v2.at);
			free(v2.off);
		}
	}
	if (r == -2) {
		rc = CL_ENOMEM;
		goto out;
	}
	if (r != 0) {
		rc = cl_error(err, CL_EINVAL, "time zone file for '%s' is malformed",
			      name);
		goto out;
	}
out:
	cl_buf_release(&file);
	cl_buf_release(&path);
	if (rc) {
		cl_chatexport_tz_free(tz);
		return rc;
	}
	*out = tz;
	return CL_OK;
}

/* The UTC offset in force at UTC second t. */
static int32_t offset_at(const struct cl_chatexport_tz *tz, int64_t t)
{
	size_t lo = 0, hi = tz->n;

	if (tz->n == 0 || t < tz->at[0])
		return tz->first;
	while (hi - lo > 1) {        /* invariant: at[lo] <= t < at[hi] */
		size_t mid = lo + (hi - lo) / 2;

		if (tz->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->off[lo];
}

int64_t cl_chatexport_tz_to_utc(const struct cl_chatexport_tz *tz, int64_t local)
{
	/* Offsets a day either side: transitions are months apart. */
	int32_t oa = offset_at(tz, local - 86400), ob = offset_at(tz, local + 86400);
	int64_t ta = local - oa, tb = local - ob;
	int va = offset_at(tz, ta) == oa, vb = offset_at(tz, tb) == ob;

	if (va && vb)
		return ta < tb ? ta : tb;
	if (vb)
		return tb;
	return ta;
}
