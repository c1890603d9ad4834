/*
 * util.h - small shared helpers: files written durably, encodings done by
 * libsodium, SHA-256 done by OpenSSL, RFC 3339 time.
 */
#ifndef CL_UTIL_H
#define CL_UTIL_H

#include <openssl/sha.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

/* Marks a function taking a printf-style format as argument `fmt_idx`
 * and its values from argument `arg_idx` on, so the compiler checks the
 * calls (-Wformat=2). */
#define CL_PRINTF_LIKE(fmt_idx, arg_idx) \
	__attribute__((format(printf, fmt_idx, arg_idx)))

#define CL_SHA256_BYTES 32

/* ---- files ---------------------------------------------------------- */

/*
 * Create `path` exclusively (O_CREAT|O_EXCL, mode `mode`), write `len`
 * bytes, fsync it and its directory.  CL_EEXIST if the file exists.
 */
int cl_file_create(const char *path, const void *data, size_t len,
		   unsigned mode, char **err);

/*
 * Replace `path` atomically: write `path`.tmp exclusively, fsync, rename,
 * fsync the directory.
 */
int cl_file_replace(const char *path, const void *data, size_t len,
		    unsigned mode, char **err);

/* Read a whole file of at most `max` bytes into `out` (appended);
 * CL_ETOOBIG if the file is larger or `out` reaches its cap. */
int cl_file_read(const char *path, struct cl_buf *out, size_t max,
		 char **err);

/* fsync the directory holding `path` (or `path` itself if a directory). */
int cl_fsync_dir(const char *dir);

/* ---- formatting ----------------------------------------------------- */

/*
 * Format into a new heap string; the caller frees it with free().  NULL
 * when out of memory or when the format fails.
 */
char *cl_strdupf(const char *fmt, ...) CL_PRINTF_LIKE(1, 2);
/* cl_strdupf() with a va_list (consumed). */
char *cl_vstrdupf(const char *fmt, va_list ap) CL_PRINTF_LIKE(1, 0);

/*
 * Format into dst (cap bytes, cap > 0), always NUL-terminated; output
 * that does not fit is cut at cap - 1 bytes.  Returns CL_OK when it fit,
 * CL_EINVAL when it was cut or the format failed (dst is then "" or the
 * cut text).
 */
int cl_fmt(char *dst, size_t cap, const char *fmt, ...) CL_PRINTF_LIKE(3, 4);
/* cl_fmt() with a va_list (consumed). */
int cl_vfmt(char *dst, size_t cap, const char *fmt, va_list ap)
	CL_PRINTF_LIKE(3, 0);

/* ---- encodings (libsodium) ------------------------------------------ */

/* Lower-case hex of `n` bytes, appended to `out`. */
int cl_hex_add(struct cl_buf *out, const unsigned char *p, size_t n);
/* Decode exactly `n` bytes of hex; CL_EINVAL on any other length. */
int cl_hex_decode(const char *hex, unsigned char *out, size_t n);
/* Standard base64 with padding, appended to `out`. */
int cl_b64_add(struct cl_buf *out, const unsigned char *p, size_t n);
/* Decode standard base64 (padding required) into `out` (appended). */
int cl_b64_decode(const char *s, size_t slen, struct cl_buf *out);

/* ---- hashing (OpenSSL) --------------------------------------------- */

/*
 * SHA-256 by OpenSSL, which uses the CPU's SHA extensions; libsodium
 * 1.0.18's SHA-256 is portable C, about five times slower here, so every
 * hash over bulk data (leaves, payloads, bundle files) goes through these.
 */
struct cl_sha256_ctx {
	SHA256_CTX c;
};

void cl_sha256_init(struct cl_sha256_ctx *ctx);
void cl_sha256_update(struct cl_sha256_ctx *ctx, const void *p, size_t n);
/* Writes the digest and wipes the context. */
void cl_sha256_final(struct cl_sha256_ctx *ctx, unsigned char out[CL_SHA256_BYTES]);
void cl_sha256(const void *p, size_t n, unsigned char out[CL_SHA256_BYTES]);
/* SHA-256 over two concatenated parts. */
void cl_sha256_2(const void *a, size_t an, const void *b, size_t bn,
		 unsigned char out[CL_SHA256_BYTES]);

/* ---- time ----------------------------------------------------------- */

/* "No timestamp" in ms fields. */
#define CL_TIME_NONE INT64_MIN

/*
 * Parse an RFC 3339 date-time ("2024-03-01T09:15:00+08:00", fraction up to
 * 9 digits, `Z` or numeric offset, `T`/`t`/space separator) into
 * milliseconds since the Unix epoch, UTC.  Fractions beyond milliseconds
 * are truncated.  Returns CL_EINVAL on anything else, including
 * out-of-range fields (month 13, Feb 30, hour 24, second 61).
 */
int cl_time_parse(const char *s, size_t len, int64_t *ms);

/* Format ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least 25 bytes). */
void cl_time_format(int64_t ms, char out[32]);

/* CL_S(N): "s" unless N is 1, for "%llu record%s"; CL_PL(N, ONE, MANY)
 * picks between irregular forms ("entry", "entries"). */
#define CL_S(n) ((n) == 1 ? "" : "s")
#define CL_PL(n, one, many) ((n) == 1 ? (one) : (many))

/* CL_STR(X): the macro X's value as a string literal. */
#define CL_STR_(x) #x
#define CL_STR(x) CL_STR_(x)

/* Wall clock in milliseconds since the epoch. */
int64_t cl_time_now_ms(void);

/* Milliseconds on the monotonic clock (for intervals, not dates). */
int64_t cl_mono_ms(void);

/* Request-handling threads for an HTTP server: one per online CPU,
 * 2..16.  More threads than CPUs only contend for the CPUs and for the
 * server's locks. */
unsigned cl_http_threads(void);

/* *ts = the time on `clock` `ns` nanoseconds from now (ns >= 0), as
 * pthread_cond_timedwait wants it. */
void cl_deadline(clockid_t clock, long ns, struct timespec *ts);

/*
 * The file system holding `dir`: bytes available to unprivileged writers
 * and in all, whether it is mounted read-only, and whether it is low:
 * writable and, by default, below CL_DISK_LOW_BYTES or CL_DISK_LOW_PERCENT
 * of the total free (cl_disk_set_low changes the rule).  CL_EIO if statvfs
 * fails.
 */
#define CL_DISK_LOW_BYTES (1ULL << 30)
#define CL_DISK_LOW_PERCENT 5u
struct cl_disk_space {
	uint64_t free, total;
	int read_only, low;
};
int cl_disk_space(const char *dir, struct cl_disk_space *d);
/*
 * Set the process's rule from `spec` (CHATLEDGER_LOW_SPACE): "N%" (low
 * below N percent free, 0-100), a size "N", "NKiB", "NMiB", "NGiB" or
 * "NTiB" (low below that many bytes free), or "0" (never low).  NULL or ""
 * keeps the default.  CL_EINVAL for anything else (the rule is unchanged).
 * Call before any thread starts.
 */
int cl_disk_set_low(const char *spec);

/* "12.3 GiB", "800 MiB", "17 B" into b (16 bytes); returns b. */
const char *cl_fmt_bytes(uint64_t n, char b[16]);

/* Days from civil date (proleptic Gregorian), and back; for policy/. */
int64_t cl_days_from_civil(int64_t y, unsigned m, unsigned d);
void cl_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
