/*
 * test_presealer.c - records sealed on request threads (presealer.h), as
 * the webhook and WeChat receivers do: what the committer stores opens to
 * the record's canonical bytes; a prepared entry is spent by its append,
 * so a batch that fails and is retried appends the record again from its
 * canonical form (still readable); reused entries carry no old key.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ingest/ingest.h"
#include "archiver/ingest/presealer.h"
#include "archiver/ingest/record.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/vault.h"
#include "common/buf.h"
#include "common/status.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define ORIGIN "test.example/presealer"
#define N 40

struct job {
	struct cl_presealer *ps;
	struct cl_record rec[N];
	struct cl_prepared *prep[N];
	int rc;
};

static void *seal_thread(void *arg)
{
	struct job *j = arg;
	int i;

	for (i = 0; i < N && j->rc == CL_OK; i++)
		j->rc = cl_presealer_seal(j->ps, &j->rec[i], &j->prep[i]);
	return NULL;
}

static int make_records(struct job *j, int base)
{
	char line[512], *why = NULL;
	int i, rc = CL_OK;

	for (i = 0; i < N && rc == CL_OK; i++) {
		snprintf(line, sizeof(line),
			 "{\"account\":\"acct\",\"id\":\"m%d\",\"direction\":\"in\","
			 "\"conversation\":{\"id\":\"c%d\",\"type\":\"direct\"},"
			 "\"sender\":{\"id\":\"8529123%04d\"},\"kind\":\"text\","
			 "\"sent_at\":\"2025-03-01T09:15:00+08:00\",\"text\":\"message %d\"}",
			 base + i, i % 4, i, base + i);
		rc = cl_record_parse(line, strlen(line), &j->rec[i], &why);
	}
	free(why);
	return rc;
}

/* Every entry from `first` on opens to the records' canonical bytes. */
static int all_open(struct cl_ledger *l, const unsigned char *sk, uint64_t first,
		    const struct job *j)
{
	struct cl_buf pt;
	char *err = NULL;
	int i, ok = 1;

	cl_buf_init(&pt, 1 << 20);
	for (i = 0; i < N && ok; i++) {
		cl_buf_reset(&pt);
		ok = cl_ledger_open_payload(l, first + (uint64_t)i, sk, &pt, &err) == CL_OK &&
			pt.len == j->rec[i].canonical_len &&
			memcmp(pt.data, j->rec[i].canonical, pt.len) == 0;
	}
	if (!ok)
		fprintf(stderr, "# entry %llu: %s\n", (unsigned long long)first + (unsigned)i - 1,
			err ? err : "content differs");
	free(err);
	cl_buf_release(&pt);
	return ok;
}

int main(void)
{
	char *dir = fx_scratch("cl-presealer"), *err = NULL;
	struct cl_ledger *l = NULL;
	struct cl_presealer ps;
	unsigned char *sk = NULL;
	static struct job a, b;
	pthread_t t;
	uint64_t idx, first;
	enum cl_append_outcome dup;
	int i, rc, sealed, spent;

	if (sodium_init() < 0 || dir == NULL || fx_init(dir, ORIGIN) != CL_OK)
		return 99;
	TAP_EQ_INT(cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err), CL_OK, "open for writing");
	TAP_EQ_INT(cl_vault_unlock_seal(dir, (const unsigned char *)FX_PASS, strlen(FX_PASS),
					&sk, &err), CL_OK, "unlock the sealing key");
	TAP_EQ_INT(cl_presealer_init(&ps, l), CL_OK, "presealer");
	TAP_EQ_INT(make_records(&a, 0), CL_OK, "40 records");
	a.ps = &ps;
	TAP_OK(pthread_create(&t, NULL, seal_thread, &a) == 0 && pthread_join(t, NULL) == 0 &&
	       a.rc == CL_OK, "sealed on another thread");
	for (i = 0, sealed = 0; i < N; i++)
		sealed += a.prep[i] != NULL;
	TAP_EQ_INT(sealed, N, "every record prepared");

	/* Committed from the prepared entries: each opens to its record. */
	first = cl_ledger_size(l);
	rc = cl_ledger_begin(l, &err);
	for (i = 0; i < N && rc == CL_OK; i++) {
		rc = cl_ledger_append_prepared(l, a.prep[i], &idx, &dup, &err);
		cl_presealer_put(&ps, a.prep[i]);
		a.prep[i] = NULL;
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
	TAP_EQ_INT(rc, CL_OK, "appended from prepared entries and committed");
	TAP_OK(all_open(l, sk, first, &a), "each entry opens to its record's canonical bytes");

	/* A batch that fails after its prepared appends, then the retry the
	 * servers make: the spent entries are gone, the records are
	 * appended from their canonical bytes, and they open. */
	TAP_EQ_INT(make_records(&b, 1000), CL_OK, "40 more records");
	b.ps = &ps;
	TAP_OK(pthread_create(&t, NULL, seal_thread, &b) == 0 && pthread_join(t, NULL) == 0 &&
	       b.rc == CL_OK, "sealed with reused entries");
	first = cl_ledger_size(l);
	rc = cl_ledger_begin(l, &err);
	for (i = 0, spent = 0; i < N && rc == CL_OK; i++) {
		rc = cl_ledger_append_prepared(l, b.prep[i], &idx, &dup, &err);
		cl_presealer_put(&ps, b.prep[i]);
		b.prep[i] = NULL;
		spent++;
	}
	cl_ledger_rollback(l);
	TAP_OK(rc == CL_OK && spent == N && cl_ledger_size(l) == first,
	       "the failed batch is rolled back");
	rc = cl_ledger_begin(l, &err);
	for (i = 0; i < N && rc == CL_OK; i++) {
		struct cl_entry_in in;

		cl_ingest_entry_from_record(&in, &b.rec[i]);
		rc = cl_ledger_append(l, &in, &idx, &dup, &err);
		if (rc == CL_OK && dup != CL_APPEND_NEW)
			rc = CL_EINVAL;
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
	TAP_EQ_INT(rc, CL_OK, "the retry appends every record anew");
	TAP_OK(all_open(l, sk, first, &b), "and each opens to its record");

	/* A record sealed again after its entry was appended: a duplicate. */
	b.rc = cl_presealer_seal(&ps, &b.rec[0], &b.prep[0]);
	rc = cl_ledger_begin(l, &err);
	if (rc == CL_OK && b.rc == CL_OK && b.prep[0])
		rc = cl_ledger_append_prepared(l, b.prep[0], &idx, &dup, &err);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
	cl_presealer_put(&ps, b.prep[0]);
	TAP_OK(rc == CL_OK && dup == CL_APPEND_DUPLICATE && idx == first,
	       "a prepared copy of a stored record is a duplicate");

	for (i = 0; i < N; i++) {
		cl_record_release(&a.rec[i]);
		cl_record_release(&b.rec[i]);
	}
	cl_presealer_release(&ps);
	cl_ledger_close(l);
	sodium_free(sk);
	free(err);
	TAP_EQ_INT(fx_rm_tree(dir), 0, "scratch directory removed");
	free(dir);
	return tap_done();
}
