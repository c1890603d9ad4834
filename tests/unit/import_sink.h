/*
 * import_sink.h - test scaffolding shared by the importer unit tests
 * (tests/unit/test_import_*.c) and fuzz targets (tests/fuzz/fuzz_import_*.c).
 *
 * Header-only: every function is static inline, so an includer pays only
 * for what it uses, and nothing here defines main().  It holds
 *
 *   - checks on what an importer hands its cl_import_sink (import.h):
 *     sink_record_valid(), sink_record_load(), sink_bad_valid();
 *   - struct coll, a sink that keeps every record and bad item;
 *   - TAP checks on a coll's records (rec_str(), all_valid(), ...) and on
 *     a sample directory (samples_all_known()).  These use TAP_OK, so they
 *     exist only when tap.h is included before this file.
 */
#ifndef CL_IMPORT_SINK_H
#define CL_IMPORT_SINK_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "archiver/ingest/import.h"
#include "archiver/ingest/record.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"

/* ---- what a sink is handed -------------------------------------------- */

/*
 * 1 if cl_record_parse() accepts the record `json` (`len` bytes), else 0.
 * With `why` non-NULL, *why is set to cl_record_parse()'s reason (NULL
 * when valid); the caller frees it.
 */
static inline int sink_record_valid(const char *json, size_t len, char **why)
{
	struct cl_record r;
	char *err = NULL;
	int ok = cl_record_parse(json, len, &r, &err) == CL_OK;

	cl_record_release(&r);
	if (why)
		*why = err;
	else
		free(err);
	return ok;
}

/*
 * The record `json` (`len` bytes) parsed by jansson, or NULL if it is not
 * JSON; the caller json_decref()s it.  *raw is its base64 "raw" member
 * (borrowed from the result), or NULL.
 */
static inline json_t *sink_record_load(const char *json, size_t len,
				       const char **raw)
{
	json_t *v = json_loadb(json, len, 0, NULL);

	*raw = json_string_value(json_object_get(v, "raw"));
	return v;
}

/*
 * 1 if a bad item is well-formed: a 1-based item number, a non-empty
 * reason, and data unless it is empty.
 */
static inline int sink_bad_valid(uint64_t item, const unsigned char *data,
				 size_t len, const char *reason)
{
	return item != 0 && reason != NULL && reason[0] != '\0' &&
	       (data != NULL || len == 0);
}

/* ---- a sink that keeps everything ------------------------------------- */

#define COLL_MAX 256

struct coll_bad {
	uint64_t item;
	char *reason;
	char *data;
};

/* Records and bad items as handed over (malloc'd copies); zero it first. */
struct coll {
	char *rec[COLL_MAX];
	size_t nrec;
	struct coll_bad bad[COLL_MAX];
	size_t nbad;
	int stop_after;  /* return 99 from record() after this many (0: never) */
};

/* sink->record for a coll: keeps a copy; 98 when full. */
static inline int coll_on_record(void *ctx, const char *json, size_t len)
{
	struct coll *c = ctx;

	if (c->nrec == COLL_MAX)
		return 98;
	c->rec[c->nrec++] = strndup(json, len);
	if (c->stop_after && (int)c->nrec >= c->stop_after)
		return 99;
	return 0;
}

/* sink->bad for a coll: keeps a copy; 98 when full. */
static inline int coll_on_bad(void *ctx, uint64_t item,
			      const unsigned char *data, size_t len,
			      const char *reason)
{
	struct coll *c = ctx;

	if (c->nbad == COLL_MAX)
		return 98;
	c->bad[c->nbad].item = item;
	c->bad[c->nbad].reason = strdup(reason);
	c->bad[c->nbad].data = strndup((const char *)data, len);
	c->nbad++;
	return 0;
}

/* Free what `c` kept and zero it, ready for reuse. */
static inline void coll_free(struct coll *c)
{
	size_t i;

	for (i = 0; i < c->nrec; i++)
		free(c->rec[i]);
	for (i = 0; i < c->nbad; i++) {
		free(c->bad[i].reason);
		free(c->bad[i].data);
	}
	memset(c, 0, sizeof(*c));
}

/* A sink (record and bad, no blob) that fills `c`. */
static inline struct cl_import_sink coll_sink(struct coll *c)
{
	struct cl_import_sink s;

	memset(&s, 0, sizeof(s));
	s.ctx = c;
	s.record = coll_on_record;
	s.bad = coll_on_bad;
	return s;
}

/* An importer's file entry point (cl_cloudapi_import_file, ...). */
typedef int (*coll_importer)(const char *path, const struct cl_import_opts *o,
			     const struct cl_import_sink *sink, char **err);

/*
 * Import file `name` of directory `dir` into `c` with `import` and
 * options `o`, printing a failure as a "#" line.  `c` is overwritten:
 * coll_free() it before reuse.  Returns the importer's status.
 */
static inline int coll_import(struct coll *c, coll_importer import,
			      const char *dir, const char *name,
			      const struct cl_import_opts *o)
{
	struct cl_import_sink s;
	char path[512];
	char *err = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	s = coll_sink(c);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = import(path, o, &s, &err);
	if (rc)
		printf("# %s: %s\n", name, err ? err : "?");
	free(err);
	return rc;
}

/* 1 if `a` and `b` hold the same records, byte for byte, in order. */
static inline int coll_same_records(const struct coll *a, const struct coll *b)
{
	size_t i, same = 0;

	for (i = 0; i < a->nrec && i < b->nrec; i++)
		same += strcmp(a->rec[i], b->rec[i]) == 0;
	return a->nrec == b->nrec && same == a->nrec;
}

/* ---- record inspection ------------------------------------------------- */

/* Record text `s` parsed by jansson, or NULL; the caller json_decref()s it. */
static inline json_t *rec_load(const char *s)
{
	return json_loads(s, 0, NULL);
}

/* Member at dotted `path` ("sender.id", "attachments.0.sha256"); borrowed. */
static inline json_t *rec_at(json_t *r, const char *path)
{
	char buf[256], *save = NULL, *tok;
	json_t *v = r;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, strtoul(tok, NULL, 10));
		else
			v = json_object_get(v, tok);
	}
	return v;
}

/*
 * 1 if record `i` of `c` has a "raw" whose base64 decodes to exactly the
 * bytes of file `path` (less any trailing CR and LF when `strip_eol`),
 * else 0.
 */
static inline int rec_raw_is_file(const struct coll *c, size_t i,
				  const char *path, int strip_eol)
{
	struct cl_buf file, dec;
	json_t *r = i < c->nrec ? rec_load(c->rec[i]) : NULL;
	const char *raw = json_string_value(json_object_get(r, "raw"));
	char *err = NULL;
	int same;

	cl_buf_init(&file, 1 << 20);
	cl_buf_init(&dec, 1 << 20);
	cl_file_read(path, &file, 1 << 20, &err);
	while (strip_eol && file.len && (file.data[file.len - 1] == '\n' ||
					 file.data[file.len - 1] == '\r'))
		file.len--;
	same = raw && cl_b64_decode(raw, strlen(raw), &dec) == CL_OK &&
	       dec.len == file.len && memcmp(dec.data, file.data, file.len) == 0;
	json_decref(r);
	free(err);
	cl_buf_release(&file);
	cl_buf_release(&dec);
	return same;
}

static inline int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "kind=N,kind=N" over all records of `c`, kinds sorted, into out[cap]. */
static inline void rec_kinds(const struct coll *c, char *out, size_t cap)
{
	const char *k[COLL_MAX] = { NULL };
	size_t i, n = 0, len = 0;

	for (i = 0; i < c->nrec; i++) {
		json_t *r = rec_load(c->rec[i]);
		const char *s = json_string_value(json_object_get(r, "kind"));

		k[n++] = s ? strdup(s) : strdup("?");
		json_decref(r);
	}
	qsort(k, n, sizeof(k[0]), cmp_str);
	out[0] = '\0';
	for (i = 0; i < n;) {
		size_t j = i;

		while (j < n && strcmp(k[j], k[i]) == 0)
			j++;
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%zu",
					len ? "," : "", k[i], j - i);
		i = j;
	}
	for (i = 0; i < n; i++)
		free((void *)(uintptr_t)k[i]);
}

#ifdef CL_TAP_H

/* TAP: the records of `c` counted by kind are `want` (as rec_kinds()). */
static inline void kinds_are(const struct coll *c, const char *want)
{
	char got[1024];

	rec_kinds(c, got, sizeof(got));
	TAP_EQ_STR(got, want, "records by kind");
}

/* TAP: string at `path` of record `i` of `c` equals `want` (NULL: absent). */
static inline void rec_str(const struct coll *c, size_t i, const char *path,
			   const char *want, const char *what)
{
	json_t *r = i < c->nrec ? rec_load(c->rec[i]) : NULL;
	json_t *v = rec_at(r, path);

	if (want == NULL)
		TAP_OK(r && v == NULL, "%s: record %zu has no %s", what, i, path);
	else
		TAP_OK(r && json_is_string(v) && strcmp(json_string_value(v), want) == 0,
		       "%s: record %zu %s = '%s' (got '%s')", what, i, path, want,
		       json_is_string(v) ? json_string_value(v) : "(not a string)");
	json_decref(r);
}

/* TAP: integer at `path` of record `i` of `c` equals `want`. */
static inline void rec_int(const struct coll *c, size_t i, const char *path,
			   long long want, const char *what)
{
	json_t *r = i < c->nrec ? rec_load(c->rec[i]) : NULL;
	json_t *v = rec_at(r, path);

	TAP_OK(json_is_integer(v) && json_integer_value(v) == want,
	       "%s: record %zu %s = %lld", what, i, path, want);
	json_decref(r);
}

/* TAP: `path` of record `i` of `c` is true. */
static inline void rec_true(const struct coll *c, size_t i, const char *path,
			    const char *what)
{
	json_t *r = i < c->nrec ? rec_load(c->rec[i]) : NULL;

	TAP_OK(json_is_true(rec_at(r, path)), "%s: record %zu %s is true", what, i, path);
	json_decref(r);
}

/* TAP: there are records, and every one passes cl_record_parse. */
static inline void all_valid(const struct coll *c, const char *what)
{
	size_t i, ok = 0;

	for (i = 0; i < c->nrec; i++) {
		char *err = NULL;

		if (sink_record_valid(c->rec[i], strlen(c->rec[i]), &err))
			ok++;
		else
			printf("# %s record %zu: %s\n", what, i, err ? err : "?");
		free(err);
	}
	TAP_OK(ok == c->nrec && c->nrec > 0, "%s: all %zu records pass cl_record_parse",
	       what, c->nrec);
}

/*
 * TAP over a sample directory: `dir` exists and its files (dot files
 * aside) are exactly the `n` named name(0) .. name(n - 1), a "#" line
 * naming each file without expectations; then check(i) for each i < n.
 */
static inline void samples_check(const char *dir, size_t n,
				 const char *(*name)(size_t),
				 void (*check)(size_t))
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t i, files = 0, known = 0;

	TAP_OK(d != NULL, "sample directory %s exists (run from the repo root)", dir);
	while (d && (de = readdir(d)) != NULL) {
		int found = 0;

		if (de->d_name[0] == '.')
			continue;
		files++;
		for (i = 0; i < n; i++)
			found |= strcmp(name(i), de->d_name) == 0;
		known += (size_t)found;
		if (!found)
			printf("# sample without expectations: %s\n", de->d_name);
	}
	if (d)
		closedir(d);
	TAP_OK(files == n && known == n,
	       "every sample file has expectations (%zu files, %zu known)", files, known);
	for (i = 0; i < n; i++)
		check(i);
}

#endif /* CL_TAP_H */

#endif
