/*
 * bag.c - BagIt 1.0 bags written as zip or tar streams with libarchive
 * (bag.h, docs/BUNDLE.md §2).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "archiver/export/bag.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

#define CHUNK (64u << 10)

/* ---- spool ------------------------------------------------------------ */

void cl_spool_init(struct cl_spool *s, const char *tmpdir)
{
	cl_buf_init(&s->mem, CL_SPOOL_MEM);
	s->fd = -1;
	s->size = 0;
	s->tmpdir = tmpdir;
}

void cl_spool_release(struct cl_spool *s)
{
	if (s->mem.data)
		sodium_memzero(s->mem.data, s->mem.alloc);
	cl_buf_release(&s->mem);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->size = 0;
}

void cl_spool_reset(struct cl_spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->mem.data)
		sodium_memzero(s->mem.data, s->mem.len);
	cl_buf_reset(&s->mem);
	s->size = 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Move the spool from memory to an unlinked file in tmpdir. */
static int spool_to_file(struct cl_spool *s, char **err)
{
	s->fd = open(s->tmpdir ? s->tmpdir : ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0)
		return cl_error(err, CL_EIO, "cannot create a temporary file in %s: %s",
				s->tmpdir ? s->tmpdir : ".", strerror(errno));
	if (write_all(s->fd, s->mem.data, s->mem.len) != 0)
		return cl_error(err, CL_EIO, "writing a temporary file: %s", strerror(errno));
	sodium_memzero(s->mem.data, s->mem.len);
	cl_buf_reset(&s->mem);
	return CL_OK;
}

int cl_spool_add(struct cl_spool *s, const void *p, size_t n, char **err)
{
	int rc;

	if (n == 0)
		return CL_OK;
	if (s->fd < 0 && s->mem.len + n > CL_SPOOL_MEM / 2 * 2 - 1 &&
	    (rc = spool_to_file(s, err)))
		return rc;
	if (s->fd >= 0) {
		if (write_all(s->fd, p, n) != 0)
			return cl_error(err, CL_EIO, "writing a temporary file: %s",
					strerror(errno));
	} else if ((rc = cl_buf_add(&s->mem, p, n))) {
		return cl_error(err, rc, "out of memory");
	}
	s->size += n;
	return CL_OK;
}

int cl_spool_addstr(struct cl_spool *s, const char *str, char **err)
{
	return cl_spool_add(s, str, strlen(str), err);
}

int cl_spool_addf(struct cl_spool *s, char **err, const char *fmt, ...)
{
	char small[512];
	char *big = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return cl_error(err, CL_EINVAL, "formatting failed");
	if ((size_t)n < sizeof(small))
		return cl_spool_add(s, small, (size_t)n, err);
	va_start(ap, fmt);
	big = cl_vstrdupf(fmt, ap);
	va_end(ap);
	if (big == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	rc = cl_spool_add(s, big, strlen(big), err);
	free(big);
	return rc;
}

int cl_spool_each(struct cl_spool *s, cl_spool_fn fn, void *ctx, char **err)
{
	unsigned char *buf;
	uint64_t done = 0;
	int rc = CL_OK;

	if (s->fd < 0)
		return s->mem.len ? fn(ctx, s->mem.data, s->mem.len) : CL_OK;
	if ((buf = malloc(CHUNK)) == NULL)
		return cl_error(err, CL_ENOMEM, "out of memory");
	while (done < s->size) {
		size_t want = s->size - done > CHUNK ? CHUNK : (size_t)(s->size - done);
		ssize_t r = pread(s->fd, buf, want, (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = cl_error(err, CL_EIO, "reading a temporary file: %s",
				      r < 0 ? strerror(errno) : "short file");
			break;
		}
		if ((rc = fn(ctx, buf, (size_t)r)))
			break;
		done += (uint64_t)r;
	}
	sodium_memzero(buf, CHUNK);
	free(buf);
	return rc;
}

/* ---- bag -------------------------------------------------------------- */

struct cl_bag {
	struct archive *a;
	char *top;
	int64_t mtime;
	struct cl_spool manifest;  /* payload lines */
	struct cl_buf tags;        /* tag-file lines (few) */
	uint64_t oxum_bytes, oxum_files;
};

int cl_bag_path_encode(struct cl_buf *out, const char *path)
{
	int rc = CL_OK;

	for (; *path && rc == CL_OK; path++) {
		if (*path == '\r')
			rc = cl_buf_addstr(out, "%0D");
		else if (*path == '\n')
			rc = cl_buf_addstr(out, "%0A");
		else if (*path == '%')
			rc = cl_buf_addstr(out, "%25");
		else
			rc = cl_buf_add(out, path, 1);
	}
	return rc;
}

static int top_ok(const char *s)
{
	if (*s == 0 || strlen(s) > 200 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

int cl_bag_open(int fd, int format, const char *top, int64_t mtime,
		const char *tmpdir, struct cl_bag **out, char **err)
{
	struct cl_bag *b;
	int r;

	*out = NULL;
	if (!top_ok(top))
		return cl_error(err, CL_EINVAL, "bag folder name '%s' is not [A-Za-z0-9._-]", top);
	if ((b = calloc(1, sizeof(*b))) == NULL || (b->top = strdup(top)) == NULL) {
		free(b);
		return cl_error(err, CL_ENOMEM, "out of memory");
	}
	b->mtime = mtime;
	cl_spool_init(&b->manifest, tmpdir);
	cl_buf_init(&b->tags, 1u << 20);
	b->a = archive_write_new();
	if (b->a == NULL) {
		cl_bag_abort(b);
		return cl_error(err, CL_ENOMEM, "out of memory");
	}
	r = format == CL_BAG_ZIP ? archive_write_set_format_zip(b->a) :
		archive_write_set_format_pax_restricted(b->a);
	if (r == ARCHIVE_OK && format == CL_BAG_ZIP)
		r = archive_write_set_options(b->a, "zip:zip64");
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_in_last_block(b->a, 1);
	if (r == ARCHIVE_OK)
		r = archive_write_open_fd(b->a, fd);
	if (r != ARCHIVE_OK) {
		r = cl_error(err, CL_EIO, "cannot start the bundle: %s",
			     archive_error_string(b->a));
		cl_bag_abort(b);
		return r;
	}
	*out = b;
	return CL_OK;
}

void cl_bag_abort(struct cl_bag *b)
{
	if (b == NULL)
		return;
	if (b->a)
		archive_write_free(b->a);
	cl_spool_release(&b->manifest);
	cl_buf_release(&b->tags);
	free(b->top);
	free(b);
}

void cl_bag_oxum(const struct cl_bag *b, uint64_t *bytes, uint64_t *files)
{
	*bytes = b->oxum_bytes;
	*files = b->oxum_files;
}

/* One member being written: header, data, digests. */
struct member {
	struct cl_bag *b;
	struct cl_sha256_ctx sha;
	EVP_MD_CTX *md5;
	uint64_t written, size;
	char **err;
};

/* The MD5 (for the DAT load file) only when the caller wants a digest. */
static int member_begin(struct cl_bag *b, struct member *m, const char *path,
			uint64_t size, int want_md5, char **err)
{
	struct archive_entry *e = archive_entry_new();
	char *full;
	int rc = CL_OK;

	memset(m, 0, sizeof(*m));
	m->b = b;
	m->size = size;
	m->err = err;
	cl_sha256_init(&m->sha);
	m->md5 = want_md5 ? EVP_MD_CTX_new() : NULL;
	full = cl_strdupf("%s/%s", b->top, path);
	if (e == NULL || full == NULL || (want_md5 && m->md5 == NULL) ||
	    (m->md5 && EVP_DigestInit_ex(m->md5, EVP_md5(), NULL) != 1)) {
		rc = cl_error(err, CL_ENOMEM, "out of memory");
		goto out;
	}
	archive_entry_set_pathname_utf8(e, full);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, (time_t)b->mtime, 0);
	if (archive_write_header(b->a, e) != ARCHIVE_OK)
		rc = cl_error(err, CL_EIO, "writing %s: %s", path, archive_error_string(b->a));
out:
	archive_entry_free(e);
	free(full);
	return rc;
}

static int member_write(void *ctx, const void *p, size_t n)
{
	struct member *m = ctx;
	const unsigned char *q = p;

	if (n > m->size - m->written)
		return cl_error(m->err, CL_EINVAL, "member grew past its announced size");
	cl_sha256_update(&m->sha, q, n);
	if (m->md5 && EVP_DigestUpdate(m->md5, q, n) != 1)
		return cl_error(m->err, CL_EIO, "md5 failed");
	while (n > 0) {
		la_ssize_t w = archive_write_data(m->b->a, q, n > CHUNK ? CHUNK : n);

		if (w <= 0)
			return cl_error(m->err, CL_EIO, "writing the bundle: %s",
					archive_error_string(m->b->a));
		q += w;
		n -= (size_t)w;
		m->written += (uint64_t)w;
	}
	return CL_OK;
}

static int member_write_spool(void *ctx, const unsigned char *p, size_t n)
{
	return member_write(ctx, p, n);
}

/* kind: 0 payload, 1 tag, 2 unlisted */
static int member_end(struct member *m, const char *path, int kind,
		      struct cl_bag_digest *d)
{
	struct cl_bag *b = m->b;
	struct cl_buf line;
	unsigned char sha[32], md5[16] = { 0 };
	unsigned int mdlen = 0;
	int rc = CL_OK;

	cl_sha256_final(&m->sha, sha);
	if (m->md5 && (EVP_DigestFinal_ex(m->md5, md5, &mdlen) != 1 || mdlen != 16))
		rc = cl_error(m->err, CL_EIO, "md5 failed");
	EVP_MD_CTX_free(m->md5);
	m->md5 = NULL;
	if (rc)
		return rc;
	if (m->written != m->size)
		return cl_error(m->err, CL_EINVAL, "%s: %llu bytes written, %llu announced",
				path, (unsigned long long)m->written,
				(unsigned long long)m->size);
	if (d) {
		memcpy(d->sha256, sha, 32);
		memcpy(d->md5, md5, 16);
		d->size = m->size;
	}
	if (kind == 2)
		return CL_OK;
	cl_buf_init(&line, 1u << 16);
	if ((rc = cl_hex_add(&line, sha, 32)) || (rc = cl_buf_addstr(&line, "  ")) ||
	    (rc = cl_bag_path_encode(&line, path)) || (rc = cl_buf_addstr(&line, "\n"))) {
		cl_buf_release(&line);
		return cl_error(m->err, rc, "out of memory");
	}
	if (kind == 0) {
		rc = cl_spool_add(&b->manifest, line.data, line.len, m->err);
		b->oxum_bytes += m->size;
		b->oxum_files++;
	} else if ((rc = cl_buf_add(&b->tags, line.data, line.len))) {
		rc = cl_error(m->err, rc, "too many tag files");
	}
	cl_buf_release(&line);
	return rc;
}

static int add_mem(struct cl_bag *b, const char *path, const void *p, size_t n,
		   int kind, struct cl_bag_digest *d, char **err)
{
	struct member m;
	int rc;

	if ((rc = member_begin(b, &m, path, n, d != NULL, err)) == CL_OK &&
	    (rc = member_write(&m, p, n)) == CL_OK)
		return member_end(&m, path, kind, d);
	EVP_MD_CTX_free(m.md5);
	return rc;
}

int cl_bag_add(struct cl_bag *b, const char *path, const void *p, size_t n,
	       struct cl_bag_digest *d, char **err)
{
	if (strncmp(path, "data/", 5) != 0)
		return cl_error(err, CL_EINVAL, "payload path %s is not under data/", path);
	return add_mem(b, path, p, n, 0, d, err);
}

int cl_bag_add_tag(struct cl_bag *b, const char *path, const void *p, size_t n,
		   char **err)
{
	return add_mem(b, path, p, n, 1, NULL, err);
}

int cl_bag_add_unlisted(struct cl_bag *b, const char *path, const void *p,
			size_t n, char **err)
{
	return add_mem(b, path, p, n, 2, NULL, err);
}

int cl_bag_add_spool(struct cl_bag *b, const char *path, struct cl_spool *s,
		     struct cl_bag_digest *d, char **err)
{
	struct member m;
	int rc;

	if (strncmp(path, "data/", 5) != 0)
		return cl_error(err, CL_EINVAL, "payload path %s is not under data/", path);
	if ((rc = member_begin(b, &m, path, s->size, d != NULL, err)) == CL_OK &&
	    (rc = cl_spool_each(s, member_write_spool, &m, err)) == CL_OK)
		return member_end(&m, path, 0, d);
	EVP_MD_CTX_free(m.md5);
	return rc;
}

int cl_bag_add_stream(struct cl_bag *b, const char *path, uint64_t size,
		      cl_bag_fill_fn fill, void *ctx, struct cl_bag_digest *d,
		      char **err)
{
	struct member m;
	int rc;

	if (strncmp(path, "data/", 5) != 0)
		return cl_error(err, CL_EINVAL, "payload path %s is not under data/", path);
	if ((rc = member_begin(b, &m, path, size, d != NULL, err)) == CL_OK &&
	    (rc = fill(ctx, member_write, &m)) == CL_OK)
		return member_end(&m, path, 0, d);
	EVP_MD_CTX_free(m.md5);
	return rc;
}

int cl_bag_write_manifest(struct cl_bag *b, char **err)
{
	struct member m;
	int rc;

	if ((rc = member_begin(b, &m, "manifest-sha256.txt", b->manifest.size, 0, err)) == CL_OK &&
	    (rc = cl_spool_each(&b->manifest, member_write_spool, &m, err)) == CL_OK)
		return member_end(&m, "manifest-sha256.txt", 1, NULL);
	EVP_MD_CTX_free(m.md5);
	return rc;
}

int cl_bag_write_tagmanifest(struct cl_bag *b, struct cl_buf *out, char **err)
{
	int rc;

	if ((rc = add_mem(b, "tagmanifest-sha256.txt", b->tags.data, b->tags.len, 2,
			  NULL, err)))
		return rc;
	if ((rc = cl_buf_add(out, b->tags.data, b->tags.len)))
		return cl_error(err, rc, "out of memory");
	return CL_OK;
}

int cl_bag_close(struct cl_bag *b, char **err)
{
	int rc = CL_OK;

	if (archive_write_close(b->a) != ARCHIVE_OK)
		rc = cl_error(err, CL_EIO, "finishing the bundle: %s",
			      archive_error_string(b->a));
	cl_bag_abort(b);
	return rc;
}
