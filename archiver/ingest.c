/*
 * ingest.c - JSON-lines import with quarantine (ingest.h).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "archiver/ingest.h"
#include "archiver/record.h"
#include "common/status.h"
#include "common/util.h"
#include "common/banned.h"

struct pending_q {
	uint64_t line;
	char *reason;
	int dup;
};

int cl_ingest_quarantine(struct cl_ledger *l, const char *format,
			 const char *input, uint64_t item,
			 const unsigned char *data, size_t len,
			 const char *reason, int *dup, char **err)
{
	struct cl_entry_in in;
	json_t *pub = NULL, *sealed = NULL;
	char *body = NULL, *pt = NULL;
	unsigned char h[32];
	struct cl_buf key, b64;
	uint64_t idx;
	int rc = CL_OK;
	size_t keep = len > (16u << 20) ? (16u << 20) : len;

	cl_buf_init(&key, 256);
	cl_buf_init(&b64, (keep / 3 + 2) * 4 + 16);
	cl_sha256(data, len, h);
	if ((rc = cl_buf_addf(&key, "chatledger/quarantine/v1\n%s\n%s\n", format, reason)) ||
	    (rc = cl_buf_add(&key, h, 32)) ||
	    (rc = cl_b64_add(&b64, data, keep)))
		goto out;
	pub = json_pack("{s:s, s:I, s:s}", "format", format, "item", (json_int_t)item,
			"reason", reason);
	sealed = json_pack("{s:s, s:s, s:I, s:s, s:s, s:b}", "format", format,
			   "input", input, "item", (json_int_t)item, "reason", reason,
			   "raw", (const char *)b64.data, "truncated", keep != len);
	if (pub == NULL || sealed == NULL) {
		rc = cl_error(err, CL_EINVAL, "cannot describe quarantined item %llu",
			      (unsigned long long)item);
		goto out;
	}
	body = json_dumps(pub, JSON_COMPACT | JSON_SORT_KEYS);
	pt = json_dumps(sealed, JSON_COMPACT | JSON_SORT_KEYS);
	if (body == NULL || pt == NULL) {
		rc = CL_ENOMEM;
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_QUARANTINE;
	in.kind = "quarantine";
	in.sent_at = CL_TIME_NONE;
	in.received_at = cl_time_now_ms();
	in.key = key.data;
	in.key_len = key.len;
	in.plaintext = (const unsigned char *)pt;
	in.plaintext_len = strlen(pt);
	in.body = body;
	in.body_len = strlen(body);
	rc = cl_ledger_append(l, &in, &idx, dup, err);
out:
	if (pt)
		sodium_memzero(pt, strlen(pt));
	free(pt);
	free(body);
	json_decref(pub);
	json_decref(sealed);
	if (b64.data)
		sodium_memzero(b64.data, b64.len);
	cl_buf_release(&b64);
	cl_buf_release(&key);
	return rc;
}

static int is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* Jansson's messages may quote the offending token ("near 'foo'"):
 * keep only the part before it so no content reaches a reason. */
static void scrub_reason(char *s)
{
	char *p = strstr(s, " near ");

	if (p)
		*p = 0;
}

static int flush(struct cl_ledger *l, const struct cl_ingest_opts *o,
		 struct cl_ingest_stats *st, uint64_t *pending,
		 struct pending_q *q, size_t *nq, char **err)
{
	size_t i;
	int rc = cl_ledger_commit(l, err);

	if (rc == CL_OK) {
		st->batches++;
		st->ingested += *pending;
		for (i = 0; i < *nq; i++) {
			if (q[i].dup)
				st->requarantined++;
			else
				st->quarantined++;
			if (o->on_quarantine)
				o->on_quarantine(o->ctx, o->input_name, q[i].line,
						 q[i].reason, q[i].dup);
		}
		if (o->on_batch)
			o->on_batch(o->ctx, st);
	}
	for (i = 0; i < *nq; i++)
		free(q[i].reason);
	*nq = 0;
	*pending = 0;
	return rc;
}

int cl_ingest_jsonl(struct cl_ledger *l, FILE *f,
		    const struct cl_ingest_opts *o,
		    struct cl_ingest_stats *st, char **err)
{
	char *line = NULL;
	size_t cap = 0, nq = 0, inbatch = 0;
	ssize_t got;
	uint64_t lineno = 0, pending = 0;
	struct pending_q *q = NULL;
	size_t batch = o->batch_size ? o->batch_size : 1000;
	int rc = CL_OK, any_q = 0;

	memset(st, 0, sizeof(*st));
	q = calloc(batch, sizeof(*q));
	if (q == NULL)
		return CL_ENOMEM;
	while ((got = getline(&line, &cap, f)) >= 0) {
		struct cl_record rec;
		struct cl_entry_in in;
		char *why = NULL;
		uint64_t idx;
		int dup;
		size_t n = (size_t)got;

		lineno++;
		if (is_blank(line, n))
			continue;
		st->lines++;
		if (inbatch == 0 &&
		    (rc = cl_ledger_begin(l, err)))
			goto out;
		inbatch++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		rc = cl_record_parse(line, n, &rec, &why);
		if (rc == CL_EINVAL) {
			if (why)
				scrub_reason(why);
			rc = cl_ingest_quarantine(l, o->format, o->input_name, lineno,
						  (const unsigned char *)line, n,
						  why ? why : "invalid record", &dup, err);
			if (rc == CL_OK) {
				q[nq].dup = dup;
				q[nq].line = lineno;
				q[nq].reason = why;
				why = NULL;
				nq++;
				any_q = 1;
			}
		} else if (rc == CL_OK) {
			memset(&in, 0, sizeof(in));
			in.type = CL_ENTRY_RECORD;
			in.kind = rec.kind;
			in.sent_at = rec.sent_at;
			in.received_at = rec.received_at;
			in.key = rec.key;
			in.key_len = rec.key_len;
			in.conv = rec.conv;
			in.conv_len = rec.conv_len;
			in.plaintext = (const unsigned char *)rec.canonical;
			in.plaintext_len = rec.canonical_len;
			rc = cl_ledger_append(l, &in, &idx, &dup, err);
			if (rc == CL_OK) {
				if (dup)
					st->duplicates++;
				else
					pending++;
			}
		}
		if (rec.canonical)
			sodium_memzero(rec.canonical, rec.canonical_len);
		cl_record_release(&rec);
		free(why);
		sodium_memzero(line, n);
		if (rc)
			goto out;
		if (inbatch >= batch) {
			if ((rc = flush(l, o, st, &pending, q, &nq, err)))
				goto out;
			inbatch = 0;
		}
	}
	if (ferror(f)) {
		rc = cl_error(err, CL_EIO, "cannot read '%s'", o->input_name);
		goto out;
	}
	if (inbatch > 0 && (rc = flush(l, o, st, &pending, q, &nq, err)))
		goto out;
	inbatch = 0;
out:
	if (inbatch > 0 && rc)
		cl_ledger_rollback(l);
	for (size_t i = 0; i < nq; i++)
		free(q[i].reason);
	free(q);
	if (line) {
		sodium_memzero(line, cap);
		free(line);
	}
	if (rc == CL_OK && any_q)
		rc = CL_EPARTIAL;
	return rc;
}
