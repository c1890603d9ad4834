/*
 * import_whatsapp_zip.c - the file entry point of the WhatsApp export
 * importer (import_whatsapp.h): a bare .txt, or a .zip read with
 * libarchive.
 *
 * A zip is read in passes, because its entries come in any order while
 * records must follow the chat text, and each blob must reach the sink
 * immediately before each record that lists it (the ingest session keeps
 * only the blobs handed over since the last record):
 *
 *   1. find and read the chat text (`_chat.txt`, else "WhatsApp Chat
 *      ....txt", else the only top-level .txt), then parse it once without
 *      emitting anything to learn which file names the messages attach;
 *   2. stream every other entry once: a referenced one is hashed (SHA-256
 *      and size, kept in an index with its position), an unreferenced one
 *      goes to sink->bad so that nothing in the zip is silently dropped;
 *   3. parse the text again, emitting records; before each record that
 *      lists a file, the reader moves forward to that entry (reopening
 *      the zip when it has to go back), reads it (at most CL_CHATEXPORT_MAX_BLOB
 *      bytes in memory), checks its hash and hands it to sink->blob.
 *
 * Entries are matched by base name.  Directories, links and macOS
 * "__MACOSX/" metadata are skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>

#include "archiver/sources/chatexport.h"
#include "common/buf.h"
#include "common/map.h"
#include "common/status.h"
#include "common/util.h"

#include "common/banned.h"

/* One file name the messages attach. */
struct zref {
	int found;                /* the zip holds it */
	int whole;                /* small enough to hand over */
	uint64_t ordinal;         /* its 1-based position in the zip */
	uint64_t size;
	unsigned char sha[32];
};

/* The zip being imported: its index and the reader used for delivery. */
struct zctx {
	const char *path;
	const struct cl_import_sink *sink;
	char **err;
	struct cl_map map;        /* key(name) -> u = index into refs */
	struct zref *refs;
	size_t n, cap;
	struct archive *a;        /* delivery reader, or NULL */
	uint64_t pos;             /* ordinal of the entry a is at */
	struct cl_buf data;       /* one blob */
};

static void ref_key(const char *name, size_t len, unsigned char key[32])
{
	cl_sha256_2("attachment", sizeof("attachment"), name, len, key);
}

static struct zref *ref_get(struct zctx *z, const char *name, size_t len)
{
	unsigned char key[32];
	struct cl_map_slot *s;

	ref_key(name, len, key);
	s = cl_map_get(&z->map, key);
	return s ? &z->refs[s->u] : NULL;
}

static int ref_want(void *ctx, const char *name, size_t len)
{
	struct zctx *z = ctx;
	unsigned char key[32];
	struct cl_map_slot *s;

	ref_key(name, len, key);
	if (cl_map_get(&z->map, key))
		return CL_OK;
	if (z->n == z->cap) {
		size_t nc = z->cap ? 2 * z->cap : 64;
		struct zref *r = realloc(z->refs, nc * sizeof(*r));

		if (r == NULL)
			return CL_ENOMEM;
		z->refs = r;
		z->cap = nc;
	}
	if ((s = cl_map_put(&z->map, key)) == NULL)
		return CL_ENOMEM;
	memset(&z->refs[z->n], 0, sizeof(z->refs[0]));
	s->u = z->n++;
	return CL_OK;
}

static void ref_find(void *ctx, const char *name, size_t len,
		     struct cl_chatexport_media_info *info)
{
	struct zref *r = ref_get(ctx, name, len);

	memset(info, 0, sizeof(*info));
	if (r == NULL || !r->found)
		return;
	info->found = 1;
	info->stored = r->whole;
	info->size = r->size;
	memcpy(info->sha256, r->sha, 32);
}

/* The entry's path (UTF-8 if libarchive has it), or NULL. */
static const char *entry_path(struct archive_entry *e)
{
	const char *p = archive_entry_pathname_utf8(e);

	return p ? p : archive_entry_pathname(e);
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* How likely an entry is the chat text: 3 _chat.txt, 2 named, 1 .txt. */
static int chat_priority(const char *path)
{
	const char *b = base_name(path);
	size_t n = strlen(b);

	if (strcmp(b, "_chat.txt") == 0)
		return 3;
	if (n < 4 || strcasecmp(b + n - 4, ".txt") != 0)
		return 0;
	if (strstr(b, "WhatsApp") != NULL)
		return 2;
	return b == path ? 1 : 0;   /* a .txt at the top level */
}

static int skipped(struct archive_entry *e, const char *path)
{
	return path == NULL || archive_entry_filetype(e) != AE_IFREG ||
	       strncmp(path, "__MACOSX/", 9) == 0 || strstr(path, "/__MACOSX/");
}

/*
 * Read the current entry's data: hash all of it and keep it in `b` (if
 * not NULL) while it fits in `cap` bytes; *whole is set when it did.
 */
static int read_entry(struct archive *a, struct cl_buf *b, size_t cap,
		      unsigned char sha[32], uint64_t *size, int *whole)
{
	crypto_hash_sha256_state st;
	unsigned char chunk[65536];
	la_ssize_t r;

	crypto_hash_sha256_init(&st);
	*size = 0;
	*whole = 1;
	while ((r = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
		size_t n = (size_t)r;
		int rc;

		crypto_hash_sha256_update(&st, chunk, n);
		*size += n;
		if (*size > cap)
			*whole = 0;
		else if (b && (rc = cl_buf_add(b, chunk, n)))
			return rc;
	}
	crypto_hash_sha256_final(&st, sha);
	return r < 0 ? CL_EIO : CL_OK;
}

static int zip_open(const char *path, struct archive **out, char **err)
{
	struct archive *a = archive_read_new();

	*out = NULL;
	if (a == NULL)
		return CL_ENOMEM;
	if (archive_read_support_format_zip(a) != ARCHIVE_OK ||
	    archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		int rc = cl_error(err, CL_EINVAL, "cannot open zip '%s': %s", path,
				  archive_error_string(a) ? archive_error_string(a)
							  : "unknown error");

		archive_read_free(a);
		return rc;
	}
	*out = a;
	return CL_OK;
}

/* The next entry header; 1 at the end, <0 (error set) on failure. */
static int zip_next(struct archive *a, struct archive_entry **e,
		    const char *path, char **err)
{
	int r = archive_read_next_header(a, e);

	if (r == ARCHIVE_EOF)
		return 1;
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 0;
	cl_error(err, CL_EINVAL, "cannot read zip '%s': %s", path,
		 archive_error_string(a) ? archive_error_string(a) : "unknown error");
	return -1;
}

/* Pass 1: the chat text into `text`, its base name into *chat. */
static int find_chat(const char *path, struct cl_buf *text, char **chat,
		     uint64_t *chat_index, char **err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	uint64_t idx = 0;
	int best = 0, nbest = 0, rc, r;

	*chat = NULL;
	if ((rc = zip_open(path, &a, err)))
		return rc;
	while ((r = zip_next(a, &e, path, err)) == 0) {
		const char *p = entry_path(e);
		int prio;

		idx++;
		if (skipped(e, p))
			continue;
		prio = chat_priority(p);
		if (prio == 0 || prio < best)
			continue;
		if (prio == best) {
			nbest++;
			continue;
		}
		{
			unsigned char sha[32];
			uint64_t size;
			int whole;

			best = prio;
			nbest = 1;
			*chat_index = idx;
			free(*chat);
			if ((*chat = strdup(base_name(p))) == NULL) {
				rc = CL_ENOMEM;
				goto out;
			}
			cl_buf_reset(text);
			rc = read_entry(a, text, CL_CHATEXPORT_MAX_TEXT, sha, &size, &whole);
			if (rc == CL_EIO)
				rc = cl_error(err, CL_EINVAL,
					      "cannot read the chat text in '%s': %s", path,
					      archive_error_string(a) ? archive_error_string(a) : "?");
			else if (rc == CL_OK && !whole)
				rc = cl_error(err, CL_EINVAL,
					      "the chat text in '%s' is larger than %u bytes",
					      path, CL_CHATEXPORT_MAX_TEXT);
			if (rc)
				goto out;
		}
	}
	if (r < 0) {
		rc = CL_EINVAL;
		goto out;
	}
	if (best == 0)
		rc = cl_error(err, CL_EINVAL,
			      "'%s' holds no chat text (_chat.txt or \"WhatsApp Chat ....txt\")",
			      path);
	else if (nbest > 1)
		rc = cl_error(err, CL_EINVAL,
			      "'%s' holds several chat texts; unpack it and import each",
			      path);
out:
	archive_read_free(a);
	if (rc) {
		free(*chat);
		*chat = NULL;
	}
	return rc;
}

/* Pass 2: hash and place the referenced entries; the rest are bad. */
static int index_entries(struct zctx *z, uint64_t chat_index)
{
	const struct cl_import_sink *sink = z->sink;
	struct archive *a = NULL;
	struct archive_entry *e;
	uint64_t idx = 0;
	int rc, r = 0;

	if ((rc = zip_open(z->path, &a, z->err)))
		return rc;
	while (rc == CL_OK && (r = zip_next(a, &e, z->path, z->err)) == 0) {
		const char *p = entry_path(e), *b;
		unsigned char sha[32];
		struct zref *ref;
		uint64_t size;
		int whole;

		idx++;
		if (idx == chat_index || skipped(e, p))
			continue;
		b = base_name(p);
		ref = ref_get(z, b, strlen(b));
		cl_buf_reset(&z->data);
		rc = read_entry(a, ref && !ref->found ? NULL : &z->data,
				CL_CHATEXPORT_MAX_BLOB, sha, &size, &whole);
		if (rc == CL_EIO) {
			/* a damaged entry: quarantine what could be read */
			rc = sink->bad ? sink->bad(sink->ctx, idx, z->data.data, z->data.len,
						   "zip entry cannot be read")
				       : CL_OK;
			continue;
		}
		if (rc)
			break;
		if (ref == NULL || ref->found) {
			if (sink->bad)
				rc = sink->bad(sink->ctx, idx, z->data.data, z->data.len,
					       ref ? "zip entry repeats the name of an earlier entry"
						   : "zip entry is not referenced by any message");
			continue;
		}
		ref->found = 1;
		ref->whole = whole;
		ref->ordinal = idx;
		ref->size = size;
		memcpy(ref->sha, sha, 32);
	}
	if (rc == CL_OK && r < 0)
		rc = CL_EINVAL;
	archive_read_free(a);
	return rc;
}

/*
 * Pass 3, media->deliver: move the delivery reader to the entry named
 * `name` (reopening the zip to go back), read it and hand it to
 * sink->blob.  The bytes must still hash as indexed.
 */
static int ref_deliver(void *ctx, const char *name, size_t len)
{
	struct zctx *z = ctx;
	struct zref *ref = ref_get(z, name, len);
	struct archive_entry *e = NULL;
	unsigned char sha[32];
	char hex[65];
	const char *b;
	uint64_t size;
	int whole, rc;

	if (ref == NULL || !ref->found || !ref->whole || z->sink->blob == NULL)
		return CL_OK;
	if (z->a == NULL || z->pos >= ref->ordinal) {
		archive_read_free(z->a);   /* NULL is fine */
		z->a = NULL;
		z->pos = 0;
		if ((rc = zip_open(z->path, &z->a, z->err)))
			return rc;
	}
	while (z->pos < ref->ordinal) {
		int k = zip_next(z->a, &e, z->path, z->err);

		if (k != 0)
			return k < 0 ? CL_EINVAL
				     : cl_error(z->err, CL_EIO, "zip '%s' changed while "
						"being read", z->path);
		z->pos++;
	}
	cl_buf_reset(&z->data);
	rc = read_entry(z->a, &z->data, CL_CHATEXPORT_MAX_BLOB, sha, &size, &whole);
	if (rc == CL_EIO || (rc == CL_OK && (e == NULL || !whole ||
					     memcmp(sha, ref->sha, 32) != 0)))
		return cl_error(z->err, CL_EIO, "zip '%s' changed while being read",
				z->path);
	if (rc)
		return rc;
	sodium_bin2hex(hex, sizeof(hex), sha, 32);
	b = base_name(entry_path(e));
	return z->sink->blob(z->sink->ctx, hex, b, cl_chatexport_mime(b, strlen(b)),
			     z->data.data, z->data.len);
}

static int import_zip(const char *path, const struct cl_import_opts *o,
		      const struct cl_import_sink *sink, char **err)
{
	struct cl_buf text;
	struct zctx z;
	struct cl_chatexport_media media;
	struct cl_import_opts oo = *o;
	char *chat = NULL;
	const char *file_name;
	uint64_t chat_index = 0;
	int rc;

	memset(&z, 0, sizeof(z));
	z.path = path;
	z.sink = sink;
	z.err = err;
	cl_map_init(&z.map);
	cl_buf_init(&z.data, CL_CHATEXPORT_MAX_BLOB);
	cl_buf_init(&text, CL_CHATEXPORT_MAX_TEXT);
	media.ctx = &z;
	media.want = ref_want;
	media.find = ref_find;
	media.deliver = ref_deliver;
	if (oo.input_name == NULL)
		oo.input_name = path;
	if (sink == NULL || sink->record == NULL) {
		rc = cl_error(err, CL_EINVAL, "no record sink");
		goto out;
	}
	if ((rc = find_chat(path, &text, &chat, &chat_index, err)))
		goto out;
	/* iOS names the text "_chat.txt": the zip's name names the chat */
	file_name = chat && strcmp(chat, "_chat.txt") == 0 ? path : chat;
	if ((rc = cl_chatexport_parse((const char *)text.data, text.len, &oo, file_name,
			      sink, &media, 1, err)) ||
	    (rc = index_entries(&z, chat_index)))
		goto out;
	rc = cl_chatexport_parse((const char *)text.data, text.len, &oo, file_name, sink,
			 &media, 0, err);
out:
	archive_read_free(z.a);
	free(chat);
	free(z.refs);
	cl_map_release(&z.map);
	cl_buf_release(&z.data);
	cl_buf_release(&text);
	return rc;
}

int cl_chatexport_import(const char *path, const struct cl_import_opts *o,
		       const struct cl_import_sink *sink, char **err)
{
	struct cl_import_opts oo;
	struct cl_buf text;
	unsigned char magic[4] = { 0, 0, 0, 0 };
	FILE *f;
	size_t got;
	int rc;

	if (o == NULL || path == NULL)
		return cl_error(err, CL_EINVAL, "--account is required");
	oo = *o;
	if (oo.input_name == NULL)
		oo.input_name = path;
	f = fopen(path, "rbe");
	if (f == NULL)
		return cl_error(err, errno == ENOENT ? CL_ENOTFOUND : CL_EIO,
				"cannot open '%s': %s", path, strerror(errno));
	got = fread(magic, 1, sizeof(magic), f);
	fclose(f);
	if (got == 4 && magic[0] == 'P' && magic[1] == 'K' &&
	    ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6)))
		return import_zip(path, &oo, sink, err);
	cl_buf_init(&text, CL_CHATEXPORT_MAX_TEXT);
	rc = cl_file_read(path, &text, CL_CHATEXPORT_MAX_TEXT, err);
	if (rc == CL_OK)
		rc = cl_chatexport_parse((const char *)text.data, text.len, &oo, path, sink,
				 NULL, 0, err);
	cl_buf_release(&text);
	return rc;
}
