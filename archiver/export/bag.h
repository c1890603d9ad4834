/*
 * bag.h - a BagIt 1.0 bag (RFC 8493) written as one zip or tar stream with
 * libarchive, in one top folder (docs/BUNDLE.md §2).
 *
 * Files go into the stream as they are produced: a payload file's SHA-256
 * (and MD5, for the load file) is computed while it is written, and one
 * line per file is kept for the manifests, in a spool (below), so memory
 * does not grow with the size of the files.  A file whose size is not
 * known in advance is first written to a spool: memory up to
 * CL_SPOOL_MEM bytes, then an unlinked temporary file (O_TMPFILE, 0600)
 * beside the output.
 */
#ifndef CL_BAG_H
#define CL_BAG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CL_SPOOL_MEM (4u << 20)

/* ---- spool ---------------------------------------------------------- */

struct cl_spool {
	struct cl_buf mem;
	int fd;            /* -1 while in memory */
	uint64_t size;
	const char *tmpdir;
};

/* Start an empty spool whose overflow file goes into `tmpdir` (borrowed). */
void cl_spool_init(struct cl_spool *s, const char *tmpdir);
/* Free the memory (wiped) and close the file.  Safe on a released spool. */
void cl_spool_release(struct cl_spool *s);
/* Empty the spool for reuse. */
void cl_spool_reset(struct cl_spool *s);
int cl_spool_add(struct cl_spool *s, const void *p, size_t n, char **err);
int cl_spool_addstr(struct cl_spool *s, const char *str, char **err);
int cl_spool_addf(struct cl_spool *s, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Read the spool's bytes in order: fn(ctx, chunk, len) (non-zero stops). */
typedef int (*cl_spool_fn)(void *ctx, const unsigned char *p, size_t n);
int cl_spool_each(struct cl_spool *s, cl_spool_fn fn, void *ctx, char **err);

/* ---- bag ------------------------------------------------------------ */

struct cl_bag;

#define CL_BAG_ZIP 1
#define CL_BAG_TAR 2

/* The digests of one file written to the bag. */
struct cl_bag_digest {
	unsigned char sha256[32];
	unsigned char md5[16];
	uint64_t size;
};

/*
 * Open a bag writing to the already open descriptor `fd` (not closed by
 * the bag) in `format`, with top folder `top` (copied; [A-Za-z0-9._-]).
 * `mtime` (s) is the time given to every member; `tmpdir` holds spools.
 */
int cl_bag_open(int fd, int format, const char *top, int64_t mtime,
		const char *tmpdir, struct cl_bag **out, char **err);

/*
 * Write a file at bag path `path` ("data/..." for payload, else a tag
 * file).  Payload files are listed in manifest-sha256.txt and counted in
 * Payload-Oxum; tag files written with cl_bag_add_tag are listed in
 * tagmanifest-sha256.txt; cl_bag_add_unlisted writes a file listed in
 * neither (the signatures over the tag manifest).  `d` (may be NULL)
 * receives the digests.
 */
int cl_bag_add(struct cl_bag *b, const char *path, const void *p, size_t n,
	       struct cl_bag_digest *d, char **err);
int cl_bag_add_spool(struct cl_bag *b, const char *path, struct cl_spool *s,
		     struct cl_bag_digest *d, char **err);
int cl_bag_add_tag(struct cl_bag *b, const char *path, const void *p, size_t n,
		   char **err);
int cl_bag_add_unlisted(struct cl_bag *b, const char *path, const void *p,
			size_t n, char **err);
/*
 * A payload file of `size` bytes produced by `fill` in chunks: fill(ctx,
 * write, wctx) calls write(wctx, p, n) until `size` bytes are given
 * (streamed: for natives).
 */
typedef int (*cl_bag_write_fn)(void *wctx, const void *p, size_t n);
typedef int (*cl_bag_fill_fn)(void *ctx, cl_bag_write_fn write, void *wctx);
int cl_bag_add_stream(struct cl_bag *b, const char *path, uint64_t size,
		      cl_bag_fill_fn fill, void *ctx, struct cl_bag_digest *d,
		      char **err);

/* Payload-Oxum so far: total bytes and file count of payload files. */
void cl_bag_oxum(const struct cl_bag *b, uint64_t *bytes, uint64_t *files);

/*
 * Write manifest-sha256.txt (payload lines, in the order written) as a
 * tag file.  Call after the last payload file and before the tag manifest.
 */
int cl_bag_write_manifest(struct cl_bag *b, char **err);
/* Write tagmanifest-sha256.txt over every tag file written so far; its
 * bytes are appended to `out` (for signing). */
int cl_bag_write_tagmanifest(struct cl_bag *b, struct cl_buf *out, char **err);

/* Finish the archive stream (central directory / end blocks) and free. */
int cl_bag_close(struct cl_bag *b, char **err);
/* Free without finishing (on error). */
void cl_bag_abort(struct cl_bag *b);

/* The percent-encoding of a path in a manifest line (RFC 8493 §2.1.3):
 * CR, LF and '%' as %0D, %0A, %25. */
int cl_bag_path_encode(struct cl_buf *out, const char *path);

#endif
