/*
 * test_verify_deep.c - deep verification (cl_verify with opts.seal_sk):
 * every payload opens with the officer's key and matches its leaf's
 * pt_hash; and the read-only copy path of cl_verify and cl_ledger_open.
 *
 * A base archive gets 40 good records in one batch and then one erasure.
 * Two copies of it get one more batch each, through the library, that the
 * keyless verifier cannot fault:
 *   foreign: 5 records sealed to another archive's key (seal.pub swapped
 *            for the batch, then put back), entries 41..45;
 *   pt:      3 records, the middle one (entry 42) prepared by the sealer
 *            and appended with a wrong pt_hash, so its leaf, chain and
 *            signed tree are all consistent.
 * Plain verification passes all three; deep verification passes the base
 * and reports the first bad entry of each copy, by index.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/ledger.h"
#include "archiver/ledger/ledger_int.h"
#include "archiver/ledger/rocopy.h"
#include "archiver/ledger/vault.h"
#include "archiver/ledger/verify.h"
#include "common/status.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define ORIGIN "test.example/verify-deep"
#define T0 INT64_C(1717200000000)
#define NBASE 40
#define ERASED 7

static char *scratch, *base, *other, *foreign, *ptbad;

static int add(struct cl_ledger *l, unsigned i)
{
	char key[32], pt[96];
	uint64_t idx;
	enum cl_append_outcome dup;

	snprintf(key, sizeof(key), "msg-%u", i);
	snprintf(pt, sizeof(pt), "{\"text\":\"deep message %u\"}", i);
	return fx_record(l, key, i % 2 ? "conv-a" : "conv-b", pt, NULL,
			 T0 + (int64_t)i, &idx, &dup);
}

/* Records [from, to) in one batch of the archive `dir`. */
static int batch(const char *dir, unsigned from, unsigned to)
{
	struct cl_ledger *l = NULL;
	char *err = NULL;
	unsigned i;
	int rc;

	if ((rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = cl_ledger_begin(l, &err)))
		goto out;
	for (i = from; rc == CL_OK && i < to; i++)
		rc = add(l, i);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
out:
	if (rc)
		fprintf(stderr, "# batch: %s\n", err ? err : cl_strerror(rc));
	cl_ledger_close(l);
	free(err);
	return rc;
}

/* A batch sealed to `other`'s key by a writer whose sealing key was
 * swapped after it opened (format 2 writers refuse a seal.pub the log does
 * not name, so this is what a subverted writer would do); its checkpoint
 * still names the archive's own key. */
static int foreign_batch(const char *dir, unsigned from, unsigned to)
{
	struct cl_ledger *l = NULL;
	char *err = NULL;
	unsigned i;
	int rc;

	if ((rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = cl_vault_load_seal_pk(other, l->seal_pk, &err)) ||
	    (rc = cl_ledger_begin(l, &err)))
		goto out;
	for (i = from; rc == CL_OK && i < to; i++)
		rc = add(l, i);
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
out:
	if (rc)
		fprintf(stderr, "# foreign batch: %s\n", err ? err : cl_strerror(rc));
	cl_ledger_close(l);
	free(err);
	return rc;
}

/* Records [from, to) in one batch, record `bad` prepared by the sealer
 * and appended with its pt_hash changed. */
static int pt_batch(const char *dir, unsigned from, unsigned to, unsigned bad)
{
	struct cl_ledger *l = NULL;
	struct cl_sealer *s = NULL;
	struct cl_prepared *p = NULL;
	char *err = NULL;
	unsigned i;
	int rc;

	if ((rc = cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = cl_sealer_new(l, &s)) || (rc = cl_prepared_new(&p)) ||
	    (rc = cl_ledger_begin(l, &err)))
		goto out;
	for (i = from; rc == CL_OK && i < to; i++) {
		struct cl_entry_in in;
		char key[32], pt[96];
		uint64_t idx;
		enum cl_append_outcome dup;

		if (i != bad) {
			rc = add(l, i);
			continue;
		}
		snprintf(key, sizeof(key), "msg-%u", i);
		snprintf(pt, sizeof(pt), "{\"text\":\"deep message %u\"}", i);
		memset(&in, 0, sizeof(in));
		in.type = CL_ENTRY_RECORD;
		in.kind = "text";
		in.sent_at = T0;
		in.received_at = CL_TIME_NONE;
		in.key = key;
		in.key_len = strlen(key);
		in.conv = "conv-a";
		in.conv_len = 6;
		in.plaintext = (const unsigned char *)pt;
		in.plaintext_len = strlen(pt);
		if ((rc = cl_sealer_prepare(s, &in, p, &err)))
			break;
		p->pt_hash[5] ^= 0x20;
		rc = cl_ledger_append_prepared(l, p, &idx, &dup, &err);
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
out:
	if (rc)
		fprintf(stderr, "# pt_batch: %s\n", err ? err : cl_strerror(rc));
	cl_prepared_free(p);
	cl_sealer_free(s);
	cl_ledger_close(l);
	free(err);
	return rc;
}

static int build(void)
{
	struct cl_ledger *l = NULL;
	char *err = NULL;
	int already = 0, rc;

	base = fx_path(scratch, "base");
	other = fx_path(scratch, "other");
	foreign = fx_path(scratch, "foreign");
	ptbad = fx_path(scratch, "ptbad");
	if ((rc = fx_init(base, ORIGIN)) || (rc = fx_init(other, ORIGIN)) ||
	    (rc = batch(base, 0, NBASE)))
		goto out;
	if ((rc = cl_ledger_open(base, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = cl_ledger_begin(l, &err)) ||
	    (rc = cl_ledger_erase(l, ERASED, "test-rule", "test", &already, &err)) ||
	    (rc = cl_ledger_commit(l, &err)))
		goto out;
	cl_ledger_close(l);
	l = NULL;
	/* The tombstone is entry 40; the extra batches start at 41. */
	if (fx_copy_dir(base, foreign) != 0 || fx_copy_dir(base, ptbad) != 0) {
		rc = CL_EIO;
		goto out;
	}
	if ((rc = foreign_batch(foreign, 100, 105)) || (rc = pt_batch(ptbad, 200, 203, 201)))
		goto out;
out:
	if (rc)
		fprintf(stderr, "# build: %s\n", err ? err : cl_strerror(rc));
	cl_ledger_close(l);
	free(err);
	return rc;
}

/* cl_verify(dir) with or without the key: CL_OK, or CL_ECORRUPT with
 * `phrase` in the problem and bad_index == bad. */
static void expect(const char *name, const char *dir, const unsigned char *sk,
		   const char *phrase, uint64_t bad, uint64_t opened)
{
	struct cl_verify_opts o;
	struct cl_verify_report r;
	char *err = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.seal_sk = sk;
	rc = cl_verify(dir, &o, &r, &err);
	if (phrase == NULL)
		TAP_OK(rc == CL_OK && r.problem == NULL && r.opened == opened,
		       "%s: verifies, %" PRIu64 " payloads opened (got %d, %s, %" PRIu64 ")",
		       name, opened, rc, r.problem ? r.problem : (err ? err : "ok"), r.opened);
	else
		TAP_OK(rc == CL_ECORRUPT && r.problem && strstr(r.problem, phrase) &&
		       r.bad_index == bad,
		       "%s: CL_ECORRUPT, '%s', entry %" PRIu64 " (got %d, '%s', %" PRIu64 ")",
		       name, phrase, bad, rc, r.problem ? r.problem : (err ? err : ""),
		       r.bad_index);
	cl_verify_report_release(&r);
	free(err);
}

static void test_deep(void)
{
	unsigned char *sk = NULL, *sk_other = NULL;
	char *err = NULL;

	TAP_EQ_INT(cl_vault_unlock_seal(base, (const unsigned char *)FX_PASS,
					strlen(FX_PASS), &sk, &err), CL_OK,
		   "the officer's key unlocks");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_vault_unlock_seal(other, (const unsigned char *)FX_PASS,
					strlen(FX_PASS), &sk_other, &err), CL_OK,
		   "the other archive's key unlocks");
	free(err);
	if (sk == NULL || sk_other == NULL)
		goto out;

	expect("base, keyless", base, NULL, NULL, 0, 0);
	expect("base, deep", base, sk, NULL, 0, NBASE - 1);
	expect("base, deep with another officer's key", base, sk_other,
	       "entry 0: payload does not open with the officer's key: its key does not unwrap", 0, 0);

	expect("batch sealed to another key, keyless", foreign, NULL, NULL, 0, 0);
	expect("batch sealed to another key, deep", foreign, sk,
	       "entry 41: payload does not open with the officer's key: its key does not unwrap", 41, 0);

	expect("wrong pt_hash, keyless", ptbad, NULL, NULL, 0, 0);
	expect("wrong pt_hash, deep", ptbad, sk,
	       "entry 42: plaintext does not match the salted hash in its leaf (pt_hash)", 42, 0);
out:
	sodium_free(sk);
	sodium_free(sk_other);
}

/* The read-only path: a copy whose WAL holds a batch is read with it. */
static void test_read_only(void)
{
	char *wal = fx_path(scratch, "wal"), *tmp = fx_path(scratch, "tmp");
	struct cl_verify_opts o;
	struct cl_verify_report r;
	struct cl_ledger *l = NULL;
	sqlite3 *reader = NULL;
	char *err = NULL, *db = NULL;
	int setup;

	setup = fx_copy_dir(base, wal) == 0 && mkdir(tmp, 0700) == 0;
	/* A reader holding a snapshot keeps the next batch in the WAL. */
	db = fx_path(wal, "ledger.db");
	setup = setup && sqlite3_open(db, &reader) == SQLITE_OK &&
		sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM entry;", NULL, NULL, NULL) == SQLITE_OK &&
		batch(wal, 300, 310) == CL_OK;
	TAP_OK(setup, "a copy with a batch in its WAL");
	cl_ledger_set_tmpdir(tmp);
	memset(&o, 0, sizeof(o));
	o.read_only = 1;
	TAP_EQ_INT(cl_verify(wal, &o, &r, &err), CL_OK, "read-only verify of the copy");
	TAP_OK(r.entries == NBASE + 1 + 10, "... counts the batch in the WAL (%" PRIu64 " entries)",
	       r.entries);
	cl_verify_report_release(&r);
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_open(wal, CL_OPEN_READ_COPY, &l, &err), CL_OK,
		   "cl_ledger_open as a read-only copy");
	TAP_OK(l && cl_ledger_size(l) == NBASE + 1 + 10, "... sees the batch in the WAL");
	cl_ledger_close(l);
	TAP_EQ_INT(rmdir(tmp), 0, "the private copies are gone");
	sqlite3_close(reader);
	cl_ledger_set_tmpdir(NULL);
	free(err);
	free(db);
	free(wal);
	free(tmp);
}

int main(void)
{
	if (sodium_init() < 0 || (scratch = fx_scratch("test_verify_deep")) == NULL) {
		TAP_OK(0, "setup");
		return tap_done();
	}
	if (build() != CL_OK) {
		TAP_OK(0, "building the archives");
	} else {
		test_deep();
		test_read_only();
	}
	TAP_EQ_INT(fx_rm_tree(scratch), 0, "scratch directory removed");
	free(scratch);
	free(base);
	free(other);
	free(foreign);
	free(ptbad);
	return tap_done();
}
