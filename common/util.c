/*
 * util.c - durable files, encodings, hashing and time.
 *
 * SHA-256 uses OpenSSL's low-level interface: its context lives on the
 * stack, so hashing the many short leaves and nodes allocates nothing,
 * while still using the CPU's SHA extensions.  It is deprecated in
 * OpenSSL 3.0 but present; EVP would cost an allocation per hash.
 * (Defined before any header: util.h includes <openssl/sha.h>.)
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "status.h"
#include "util.h"
#include "common/banned.h"

/* ---- formatting ------------------------------------------------------ */

char *cl_vstrdupf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	return s;
}

char *cl_strdupf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = cl_vstrdupf(fmt, ap);
	va_end(ap);
	return s;
}

int cl_vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
{
	int n;

	if (dst == NULL || cap == 0)
		return CL_EINVAL;
	n = vsnprintf(dst, cap, fmt, ap);
	if (n < 0) {
		dst[0] = '\0';
		return CL_EINVAL;
	}
	return (size_t)n < cap ? CL_OK : CL_EINVAL;
}

int cl_fmt(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cl_vfmt(dst, cap, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- files ---------------------------------------------------------- */

int cl_fsync_dir(const char *path)
{
	struct stat st;
	char *copy = NULL;
	const char *dir = path;
	int fd, rc = CL_OK;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		copy = strdup(path);
		if (copy == NULL)
			return CL_ENOMEM;
		dir = dirname(copy);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = CL_EIO;
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int cl_file_create(const char *path, const void *data, size_t len,
		   unsigned mode, char **err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      (mode_t)mode);

	if (fd < 0) {
		if (errno == EEXIST)
			return cl_error(err, CL_EEXIST,
					"'%s' already exists", path);
		return cl_error(err, CL_EIO, "cannot create '%s': %s", path,
				strerror(errno));
	}
	if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		int e = errno;

		close(fd);
		unlink(path);
		return cl_error(err, CL_EIO, "cannot write '%s': %s", path,
				strerror(e));
	}
	if (close(fd) != 0)
		return cl_error(err, CL_EIO, "cannot close '%s'", path);
	if (cl_fsync_dir(path) != CL_OK)
		return cl_error(err, CL_EIO, "cannot sync directory of '%s'",
				path);
	return CL_OK;
}

int cl_file_replace(const char *path, const void *data, size_t len,
		    unsigned mode, char **err)
{
	char *tmp = NULL;
	int rc;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return CL_ENOMEM;
	unlink(tmp);
	rc = cl_file_create(tmp, data, len, mode, err);
	if (rc == CL_OK && rename(tmp, path) != 0) {
		rc = cl_error(err, CL_EIO, "cannot rename '%s': %s", tmp,
			      strerror(errno));
		unlink(tmp);
	}
	if (rc == CL_OK && cl_fsync_dir(path) != CL_OK)
		rc = cl_error(err, CL_EIO, "cannot sync directory of '%s'",
			      path);
	free(tmp);
	return rc;
}

int cl_file_read(const char *path, struct cl_buf *out, size_t max,
		 char **err)
{
	FILE *f = fopen(path, "rbe");
	unsigned char chunk[8192];
	size_t n, total = 0;
	int rc = CL_OK;

	if (f == NULL)
		return cl_error(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				"cannot open '%s': %s", path, strerror(errno));
	/* Key files are small: room up front means no realloc leaves a
	 * copy of a secret behind in freed memory. */
	{
		size_t left = out->max - out->len;
		size_t room = max < left ? max : left;

		if ((rc = cl_buf_reserve(out, room < 65536 ? room : 65536)))
			goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		total += n;
		if (total > max) {
			rc = cl_error(err, CL_ETOOBIG,
				      "'%s' is larger than %zu bytes", path,
				      max);
			goto out;
		}
		rc = cl_buf_add(out, chunk, n);
		if (rc)
			goto out;
	}
	if (ferror(f))
		rc = cl_error(err, CL_EIO, "cannot read '%s'", path);
out:
	sodium_memzero(chunk, sizeof(chunk));
	fclose(f);
	return rc;
}

/* ---- encodings ------------------------------------------------------ */

int cl_hex_add(struct cl_buf *out, const unsigned char *p, size_t n)
{
	size_t hlen = n * 2 + 1;
	char *h = malloc(hlen);
	int rc;

	if (h == NULL)
		return CL_ENOMEM;
	sodium_bin2hex(h, hlen, p, n);
	rc = cl_buf_add(out, h, n * 2);
	free(h);
	return rc;
}

int cl_hex_decode(const char *hex, unsigned char *out, size_t n)
{
	size_t got = 0;
	const char *end = NULL;

	if (strlen(hex) != n * 2)
		return CL_EINVAL;
	if (sodium_hex2bin(out, n, hex, n * 2, NULL, &got, &end) != 0 ||
	    got != n || *end != 0)
		return CL_EINVAL;
	return CL_OK;
}

int cl_b64_add(struct cl_buf *out, const unsigned char *p, size_t n)
{
	size_t blen = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(blen);
	int rc;

	if (s == NULL)
		return CL_ENOMEM;
	sodium_bin2base64(s, blen, p, n, sodium_base64_VARIANT_ORIGINAL);
	rc = cl_buf_addstr(out, s);
	free(s);
	return rc;
}

int cl_b64_decode(const char *s, size_t slen, struct cl_buf *out)
{
	size_t cap = slen / 4 * 3 + 3, got = 0, i;
	unsigned char *p;
	const char *end = NULL;
	int rc;

	/* libsodium 1.0.18 decodes bytes >= 0x80 as '/': check the alphabet
	 * ourselves first (found by fuzzing). */
	for (i = 0; i < slen; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			return CL_EINVAL;
	}
	p = malloc(cap);
	if (p == NULL)
		return CL_ENOMEM;
	if (sodium_base642bin(p, cap, s, slen, NULL, &got, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + slen) {
		free(p);
		return CL_EINVAL;
	}
	rc = cl_buf_add(out, p, got);
	free(p);
	return rc;
}

/* ---- hashing -------------------------------------------------------- */

void cl_sha256_init(struct cl_sha256_ctx *ctx)
{
	SHA256_Init(&ctx->c);
}

void cl_sha256_update(struct cl_sha256_ctx *ctx, const void *p, size_t n)
{
	if (n)
		SHA256_Update(&ctx->c, p, n);
}

void cl_sha256_final(struct cl_sha256_ctx *ctx, unsigned char out[CL_SHA256_BYTES])
{
	SHA256_Final(out, &ctx->c);
	sodium_memzero(ctx, sizeof(*ctx));
}

void cl_sha256(const void *p, size_t n, unsigned char out[CL_SHA256_BYTES])
{
	cl_sha256_2(p, n, NULL, 0, out);
}

void cl_sha256_2(const void *a, size_t an, const void *b, size_t bn,
		 unsigned char out[CL_SHA256_BYTES])
{
	struct cl_sha256_ctx ctx;

	cl_sha256_init(&ctx);
	cl_sha256_update(&ctx, a, an);
	cl_sha256_update(&ctx, b, bn);
	cl_sha256_final(&ctx, out);   /* wipes ctx */
}

/* ---- time ----------------------------------------------------------- */

int64_t cl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void cl_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y += *m <= 2;
}

static int digits(const char *s, size_t len, size_t *pos, unsigned n,
		  unsigned *out)
{
	unsigned v = 0, i;

	if (*pos + n > len)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[*pos + i];

		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (unsigned)(c - '0');
	}
	*pos += n;
	*out = v;
	return 0;
}

static int expect(const char *s, size_t len, size_t *pos, char c)
{
	if (*pos >= len || s[*pos] != c)
		return -1;
	(*pos)++;
	return 0;
}

int cl_time_parse(const char *s, size_t len, int64_t *ms)
{
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30,
					    31, 31, 30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se, frac = 0, oh = 0, om = 0;
	size_t pos = 0;
	int sign = 0;
	int64_t days, total;

	if (digits(s, len, &pos, 4, &y) || expect(s, len, &pos, '-') ||
	    digits(s, len, &pos, 2, &mo) || expect(s, len, &pos, '-') ||
	    digits(s, len, &pos, 2, &d))
		return CL_EINVAL;
	if (pos >= len || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
		return CL_EINVAL;
	pos++;
	if (digits(s, len, &pos, 2, &h) || expect(s, len, &pos, ':') ||
	    digits(s, len, &pos, 2, &mi) || expect(s, len, &pos, ':') ||
	    digits(s, len, &pos, 2, &se))
		return CL_EINVAL;
	if (pos < len && s[pos] == '.') {
		unsigned nd = 0;

		pos++;
		while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
			if (nd < 3)
				frac = frac * 10 + (unsigned)(s[pos] - '0');
			nd++;
			pos++;
		}
		if (nd == 0 || nd > 9)
			return CL_EINVAL;
		while (nd < 3) {
			frac *= 10;
			nd++;
		}
	}
	if (pos >= len)
		return CL_EINVAL;
	if (s[pos] == 'Z' || s[pos] == 'z') {
		pos++;
	} else if (s[pos] == '+' || s[pos] == '-') {
		sign = s[pos] == '-' ? -1 : 1;
		pos++;
		if (digits(s, len, &pos, 2, &oh) || expect(s, len, &pos, ':') ||
		    digits(s, len, &pos, 2, &om) || oh > 23 || om > 59)
			return CL_EINVAL;
	} else {
		return CL_EINVAL;
	}
	if (pos != len)
		return CL_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || se > 60)
		return CL_EINVAL;
	if (mo == 2 && d == 29 &&
	    !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return CL_EINVAL;
	if (se == 60)
		se = 59; /* a leap second is kept as the last ms of :59 */
	days = cl_days_from_civil(y, mo, d);
	total = ((days * 24 + h) * 60 + mi) * 60 + se;
	total -= sign * (int64_t)(oh * 3600 + om * 60);
	*ms = total * 1000 + frac;
	return CL_OK;
}

void cl_time_format(int64_t ms, char out[32])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t msec = ms - secs * 1000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400, y;
	unsigned m, d;

	cl_civil_from_days(days, &y, &m, &d);
	snprintf(out, 32, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y,
		 m, d, (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60),
		 (unsigned)(rem % 60), (unsigned)msec);
}

int64_t cl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

unsigned cl_http_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 2 ? 2u : n > 16 ? 16u : (unsigned)n;
}

void cl_deadline(clockid_t clock, long ns, struct timespec *ts)
{
	clock_gettime(clock, ts);
	ts->tv_sec += (time_t)(ns / 1000000000L);
	ts->tv_nsec += ns % 1000000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int64_t cl_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The low-space rule: below low_bytes, or below low_percent of the total
 * (either may be 0: not that rule). */
static uint64_t low_bytes = CL_DISK_LOW_BYTES;
static unsigned low_percent = CL_DISK_LOW_PERCENT;

int cl_disk_set_low(const char *spec)
{
	static const struct { const char *suffix; unsigned shift; } units[] = {
		{ "", 0 }, { "KiB", 10 }, { "MiB", 20 }, { "GiB", 30 }, { "TiB", 40 },
	};
	unsigned long long n;
	char *end;
	size_t i;

	if (spec == NULL || *spec == 0)
		return CL_OK;
	if (*spec < '0' || *spec > '9')
		return CL_EINVAL;
	errno = 0;
	n = strtoull(spec, &end, 10);
	if (errno)
		return CL_EINVAL;
	if (strcmp(end, "%") == 0) {
		if (n > 100)
			return CL_EINVAL;
		low_bytes = 0;
		low_percent = (unsigned)n;
		return CL_OK;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (n > (UINT64_MAX >> units[i].shift))
			return CL_EINVAL;
		low_bytes = (uint64_t)n << units[i].shift;
		low_percent = 0;
		return CL_OK;
	}
	return CL_EINVAL;
}

int cl_disk_space(const char *dir, struct cl_disk_space *d)
{
	struct statvfs v;

	memset(d, 0, sizeof(*d));
	if (statvfs(dir, &v) != 0)
		return CL_EIO;
	d->read_only = (v.f_flag & ST_RDONLY) != 0;
	d->free = (uint64_t)v.f_bavail * v.f_frsize;
	d->total = (uint64_t)v.f_blocks * v.f_frsize;
	d->low = !d->read_only &&
		(d->free < low_bytes ||
		 (low_percent && (long double)d->free * 100 < (long double)d->total * low_percent));
	return CL_OK;
}

const char *cl_fmt_bytes(uint64_t n, char b[16])
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(unit) / sizeof(unit[0])) {
		v /= 1024.0;
		u++;
	}
	(void)cl_fmt(b, 16, u == 0 ? "%.0f %s" : v < 10.0 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return b;
}
