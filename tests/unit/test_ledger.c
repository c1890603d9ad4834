/*
 * test_ledger.c - the ledger core through its library API
 * (archiver/ledger/ledger.c, read.c): creating an archive, batches,
 * de-duplication of redelivered keys, chains, checkpoints, inclusion and
 * consistency proofs, iteration, opening a payload with the unlocked
 * sealing key, erasure with its tombstone, and two writers on one
 * archive (catch-up, the writer lock's wait and its bound).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/checkpoint.h"
#include "archiver/ledger/note.h"
#include "archiver/ledger/proof.h"
#include "archiver/ledger/vault.h"
#include "archiver/ledger/verify.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define ORIGIN "test.example/ledger"
#define CONV_A "whatsapp:85291234567:conversation-with-client-a"
#define CONV_B "whatsapp:85291234567:conversation-with-client-b"
#define T0 INT64_C(1717200000000)

static const char *const pts[] = {
	"{\"text\":\"first message to A\"}",
	"{\"text\":\"first message to B\"}",
	"{\"text\":\"second message to A, a little longer than the others\"}",
};

/* The log key from log.pub, parsed. */
struct logkey {
	char *name;
	uint32_t id;
	unsigned char pk[32];
};

static int load_logkey(const char *dir, struct logkey *k)
{
	char *vkey = NULL, *err = NULL;
	int rc;

	memset(k, 0, sizeof(*k));
	rc = cl_vault_load_vkey(dir, &vkey, &err);
	if (rc == CL_OK)
		rc = cl_note_vkey_parse(vkey, &k->name, &k->id, k->pk, &err);
	free(vkey);
	free(err);
	return rc;
}

/* Verify a signed checkpoint note under k and parse it. */
static int read_note(const struct logkey *k, const struct cl_buf *note,
		     struct cl_checkpoint *cp)
{
	size_t tl = 0;
	char *err = NULL;
	int rc;

	memset(cp, 0, sizeof(*cp));
	rc = cl_note_verify((const char *)note->data, note->len, k->name, k->id,
			    k->pk, &tl, &err);
	if (rc == CL_OK)
		rc = cl_checkpoint_parse((const char *)note->data, tl, cp, &err);
	free(err);
	return rc;
}

static int latest_checkpoint(struct cl_ledger *l, const struct logkey *k,
			     uint64_t size, struct cl_checkpoint *cp)
{
	struct cl_buf note;
	char *err = NULL;
	int rc;

	cl_buf_init(&note, 1 << 16);
	rc = cl_ledger_checkpoint(l, size, &note, &err);
	if (rc == CL_OK)
		rc = read_note(k, &note, cp);
	cl_buf_release(&note);
	free(err);
	return rc;
}

/* Decode the leaf of entry idx into lf (body copied into *body, malloc'd). */
static int get_leaf(struct cl_ledger *l, uint64_t idx, struct cl_leaf *lf,
		    cl_hash lh, char **body)
{
	struct cl_buf b;
	char *err = NULL;
	int rc;

	cl_buf_init(&b, 1 << 20);
	*body = NULL;
	rc = cl_ledger_leaf(l, idx, &b, &err);
	if (rc == CL_OK)
		rc = cl_leaf_decode(b.data, b.len, lf, &err);
	if (rc == CL_OK) {
		cl_merkle_leaf_hash(b.data, b.len, lh);
		*body = strndup((const char *)lf->body, lf->body_len);
		lf->body = NULL;
	}
	cl_buf_release(&b);
	free(err);
	return rc;
}

/* ---- cl_ledger_each ------------------------------------------------- */

struct each_ctx {
	uint64_t n, with_payload, last;
	uint64_t stop_after;
	int ordered;
};

static int each_fn(void *ctx, uint64_t index, const unsigned char *leaf,
		   size_t leaf_len, const unsigned char *attrs, size_t attrs_len,
		   int has_payload)
{
	struct each_ctx *c = ctx;

	(void)leaf;
	(void)attrs;
	(void)attrs_len;
	if (c->n > 0 && index <= c->last)
		c->ordered = 0;
	if (leaf_len < 208)
		c->ordered = 0;
	c->last = index;
	c->n++;
	c->with_payload += has_payload != 0;
	return c->stop_after && c->n == c->stop_after ? 42 : 0;
}

static struct each_ctx each(struct cl_ledger *l, int type, uint64_t stop_after,
			    int *rc)
{
	struct each_ctx c;
	char *err = NULL;

	memset(&c, 0, sizeof(c));
	c.ordered = 1;
	c.stop_after = stop_after;
	*rc = cl_ledger_each(l, type, each_fn, &c, &err);
	free(err);
	return c;
}

/* ---- the tests ------------------------------------------------------ */

static void test_init(const char *dir, const char *scratch)
{
	char *other = fx_path(scratch, "notempty"), *f = fx_path(other, "x");
	char *bad = fx_path(scratch, "bad"), *err = NULL;
	struct cl_archive_opts ao;
	struct cl_ledger *l = NULL;
	FILE *fp;

	TAP_EQ_INT(fx_init(dir, ORIGIN), CL_OK, "cl_archive_init creates an archive");
	TAP_EQ_INT(fx_init(dir, ORIGIN), CL_EEXIST, "init refuses an existing archive");
	mkdir(other, 0700);
	fp = fopen(f, "w");
	if (fp)
		fclose(fp);
	TAP_EQ_INT(fx_init(other, ORIGIN), CL_EEXIST, "init refuses a non-empty directory");
	memset(&ao, 0, sizeof(ao));
	ao.origin = "bad origin+x";
	ao.pass = (const unsigned char *)FX_PASS;
	ao.passlen = strlen(FX_PASS);
	ao.kdf = CL_KDF_INTERACTIVE;
	TAP_EQ_INT(cl_archive_init(bad, &ao, &err), CL_EINVAL,
		   "init refuses an origin that is not a key name");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_open(other, CL_OPEN_READ, &l, &err), CL_ENOTFOUND,
		   "open refuses a directory that is not an archive");
	free(err);
	err = NULL;

	TAP_EQ_INT(cl_ledger_open(dir, CL_OPEN_READ, &l, &err), CL_OK, "open read-only");
	if (l) {
		uint64_t *sizes = NULL;
		size_t n = 0;

		TAP_EQ_STR(cl_ledger_origin(l), ORIGIN, "origin recorded");
		TAP_EQ_INT(cl_ledger_size(l), 0, "a new archive is empty");
		TAP_EQ_INT(cl_ledger_begin(l, &err), CL_EINVAL, "no batch on a read-only handle");
		TAP_OK(cl_ledger_checkpoint_sizes(l, &sizes, &n, &err) == CL_OK &&
		       n == 1 && sizes[0] == 0, "init signs a checkpoint of the empty tree");
		free(sizes);
		cl_ledger_close(l);
	}
	free(err);
	free(bad);
	free(f);
	free(other);
}

/*
 * Appends and de-duplication.  Entries: 0 A1, 1 B1, 2 A2, 3 conflicting
 * copy of key k-b1, then (second batch) 4 and 5 log-wide coverage
 * entries.
 */
static void test_append(const char *dir, const struct logkey *k)
{
	struct cl_ledger *l = NULL;
	struct cl_checkpoint c1, c2;
	struct cl_entry_in in;
	uint64_t idx = 99, *sizes = NULL;
	size_t n = 0;
	char *err = NULL;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	int rc;

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	if (cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK) {
		TAP_OK(0, "open for writing: %s", err ? err : "?");
		free(err);
		return;
	}
	TAP_EQ_INT(fx_record(l, "k-a1", CONV_A, pts[0], "fp-a1", T0, &idx, &dup),
		   CL_EINVAL, "append outside a batch is refused");
	TAP_EQ_INT(cl_ledger_begin(l, &err), CL_OK, "begin");
	TAP_OK(fx_record(l, "k-a1", CONV_A, pts[0], "fp-a1", T0, &idx, &dup) == CL_OK &&
	       idx == 0 && dup == CL_APPEND_NEW, "first record is entry 0, new");
	TAP_OK(fx_record(l, "k-b1", CONV_B, pts[1], "fp-b1", T0 + 1000, &idx, &dup) == CL_OK &&
	       idx == 1 && dup == CL_APPEND_NEW, "second record is entry 1, new");
	TAP_OK(fx_record(l, "k-a1", CONV_A, pts[0], "fp-a1", T0, &idx, &dup) == CL_OK &&
	       idx == 0 && dup == CL_APPEND_DUPLICATE, "same key and content in the same batch: duplicate of 0");
	TAP_EQ_INT(cl_ledger_size(l), 2, "a duplicate appends nothing");
	TAP_OK(fx_record(l, "k-a2", CONV_A, pts[2], "fp-a2", T0 + 2000, &idx, &dup) == CL_OK &&
	       idx == 2 && dup == CL_APPEND_NEW, "third record is entry 2");
	TAP_EQ_INT(cl_ledger_commit(l, &err), CL_OK, "commit");
	TAP_EQ_INT(cl_ledger_size(l), 3, "three entries committed");

	TAP_EQ_INT(cl_ledger_begin(l, &err), CL_OK, "begin a second batch");
	TAP_OK(fx_record(l, "k-a2", CONV_A, pts[2], "fp-a2", T0 + 2000, &idx, &dup) == CL_OK &&
	       idx == 2 && dup == CL_APPEND_DUPLICATE, "a committed key redelivered: duplicate of 2");
	TAP_OK(fx_record(l, "k-b1", CONV_B, "{\"text\":\"edited\"}", "fp-b1-other", T0 + 1000,
			 &idx, &dup) == CL_OK && idx == 3 && dup == CL_APPEND_CONFLICT,
	       "same key, other content: stored as a conflicting copy (dup 2)");
	TAP_OK(fx_record(l, "k-b1", CONV_B, "{\"text\":\"edited\"}", "fp-b1-other", T0 + 1000,
			 &idx, &dup) == CL_OK && idx == 3 && dup == CL_APPEND_DUPLICATE,
	       "that conflicting copy again: duplicate of 3");
	TAP_EQ_INT(cl_ledger_commit(l, &err), CL_OK, "commit");
	TAP_EQ_INT(cl_ledger_size(l), 4, "four entries");
	TAP_EQ_INT(latest_checkpoint(l, k, 0, &c1), CL_OK, "latest checkpoint verifies under log.pub");
	TAP_EQ_INT(c1.size, 4, "latest checkpoint has size 4");
	TAP_EQ_STR(c1.origin, ORIGIN, "checkpoint origin");

	/* A rolled-back batch leaves nothing behind. */
	TAP_EQ_INT(cl_ledger_begin(l, &err), CL_OK, "begin a batch to roll back");
	TAP_OK(fx_record(l, "k-gone", CONV_A, "gone", NULL, T0, &idx, &dup) == CL_OK &&
	       idx == 4, "appended entry 4 in the batch");
	cl_ledger_rollback(l);
	TAP_EQ_INT(cl_ledger_size(l), 4, "rollback restores the size");

	/* Log-wide coverage entries: no key, no payload, public body. */
	memset(&in, 0, sizeof(in));
	in.type = CL_ENTRY_COVERAGE;
	in.kind = "wa-stopped";
	in.sent_at = CL_TIME_NONE;
	in.received_at = T0 + 9000;
	in.body = "{\"reason\":\"test\"}";
	in.body_len = strlen(in.body);
	TAP_EQ_INT(cl_ledger_begin(l, &err), CL_OK, "begin a third batch");
	rc = cl_ledger_append(l, &in, &idx, &dup, &err);
	TAP_OK(rc == CL_OK && idx == 4 && dup == CL_APPEND_NEW, "coverage entry 4 (the rolled-back index reused)");
	rc = cl_ledger_append(l, &in, &idx, &dup, &err);
	TAP_OK(rc == CL_OK && idx == 5 && dup == CL_APPEND_NEW, "a keyless entry is never a duplicate");
	in.kind = "Not A Kind";
	TAP_EQ_INT(cl_ledger_append(l, &in, &idx, &dup, &err), CL_EINVAL, "an invalid kind is refused");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_commit(l, &err), CL_OK, "commit");
	TAP_EQ_INT(latest_checkpoint(l, k, 0, &c2), CL_OK, "new checkpoint verifies");
	TAP_EQ_INT(c2.size, 6, "new checkpoint has size 6");
	TAP_OK(memcmp(c1.root, c2.root, 32) != 0, "the root changed");
	TAP_OK(cl_ledger_checkpoint_sizes(l, &sizes, &n, &err) == CL_OK && n == 4 &&
	       sizes[0] == 0 && sizes[1] == 3 && sizes[2] == 4 && sizes[3] == 6,
	       "checkpoint sizes 0, 3, 4, 6 (the rolled-back batch signed nothing)");
	free(sizes);
	/* Committing an empty batch does not sign the same size twice. */
	TAP_OK(cl_ledger_begin(l, &err) == CL_OK && cl_ledger_commit(l, &err) == CL_OK,
	       "an empty batch commits");
	sizes = NULL;
	TAP_OK(cl_ledger_checkpoint_sizes(l, &sizes, &n, &err) == CL_OK && n == 4,
	       "an empty batch adds no checkpoint");
	free(sizes);
	cl_checkpoint_release(&c1);
	cl_checkpoint_release(&c2);
	cl_ledger_close(l);
	free(err);
}

/* Leaves and chains, as written by test_append(). */
static void test_leaves(const char *dir)
{
	struct cl_ledger *l = NULL;
	struct cl_leaf lf[6];
	cl_hash lh[6];
	char *body[6] = { NULL };
	char *err = NULL;
	int i, ok = 1;

	if (cl_ledger_open(dir, CL_OPEN_READ, &l, &err) != CL_OK) {
		TAP_OK(0, "open: %s", err ? err : "?");
		free(err);
		return;
	}
	TAP_EQ_INT(cl_ledger_size(l), 6, "reopened: six entries persisted");
	for (i = 0; i < 6; i++)
		ok &= get_leaf(l, (uint64_t)i, &lf[i], lh[i], &body[i]) == CL_OK &&
		      lf[i].index == (uint64_t)i;
	TAP_OK(ok, "every leaf decodes and names its own index");
	if (!ok)
		goto out;
	TAP_OK(lf[0].type == CL_ENTRY_RECORD && strcmp(lf[0].kind, "text") == 0 &&
	       lf[0].sent_at == T0 && lf[0].received_at == T0 + 5,
	       "entry 0: type, kind and times as appended");
	TAP_OK(!sodium_is_zero(lf[0].key_hash, 32) && !sodium_is_zero(lf[0].ct_hash, 32) &&
	       !sodium_is_zero(lf[0].pt_hash, 32) && lf[0].body_len == 0,
	       "entry 0: key hash, ciphertext hash and plaintext hash set; no body");
	TAP_OK(memcmp(lf[0].conv_tag, lf[2].conv_tag, 32) == 0 &&
	       memcmp(lf[0].conv_tag, lf[1].conv_tag, 32) != 0,
	       "entries 0 and 2 share conversation A's tag, 1 has B's");
	TAP_OK(lf[0].prev_index == CL_LEAF_NOPREV && sodium_is_zero(lf[0].prev_hash, 32),
	       "entry 0 starts its chain");
	TAP_OK(lf[2].prev_index == 0 && memcmp(lf[2].prev_hash, lh[0], 32) == 0,
	       "entry 2 links to entry 0 by leaf hash");
	TAP_OK(lf[3].prev_index == 1 && memcmp(lf[3].prev_hash, lh[1], 32) == 0,
	       "the conflicting copy (3) extends conversation B after 1");
	TAP_OK(memcmp(lf[3].key_hash, lf[1].key_hash, 32) != 0,
	       "the conflicting copy is stored under a derived key");
	TAP_OK(lf[4].type == CL_ENTRY_COVERAGE && lf[4].sent_at == CL_TIME_NONE &&
	       sodium_is_zero(lf[4].key_hash, 32) && sodium_is_zero(lf[4].ct_hash, 32),
	       "entry 4: coverage, no time, no key, no payload");
	TAP_EQ_STR(body[4], "{\"reason\":\"test\"}", "entry 4: public body");
	TAP_OK(lf[4].prev_index == CL_LEAF_NOPREV && lf[5].prev_index == 4 &&
	       memcmp(lf[5].prev_hash, lh[4], 32) == 0,
	       "coverage entries form the log-wide chain");
out:
	for (i = 0; i < 6; i++)
		free(body[i]);
	cl_ledger_close(l);
	free(err);
}

/* Inclusion and consistency proofs, checked independently. */
static void test_proofs(const char *dir, const struct logkey *k)
{
	struct cl_ledger *l = NULL;
	struct cl_buf out, cpn;
	struct cl_tlog_proof tp;
	struct cl_checkpoint cp, c4, c6;
	struct cl_leaf lf;
	cl_hash lh;
	unsigned char (*cproof)[32] = NULL;
	uint64_t s1 = 0, s2 = 0, i;
	size_t count = 0;
	char *err = NULL, *body = NULL;
	int ok;

	memset(&tp, 0, sizeof(tp));
	memset(&cp, 0, sizeof(cp));
	memset(&c4, 0, sizeof(c4));
	memset(&c6, 0, sizeof(c6));
	cl_buf_init(&out, 1 << 20);
	cl_buf_init(&cpn, 1 << 16);
	if (cl_ledger_open(dir, CL_OPEN_READ, &l, &err) != CL_OK) {
		TAP_OK(0, "open: %s", err ? err : "?");
		goto out;
	}
	ok = 1;
	for (i = 0; i < 6; i++) {
		cl_buf_reset(&out);
		memset(&tp, 0, sizeof(tp));
		ok &= cl_ledger_prove(l, i, 0, &out, &err) == CL_OK &&
		      cl_tlog_proof_parse((const char *)out.data, out.len, &tp, &err) == CL_OK &&
		      tp.index == i;
		if (ok) {
			cl_buf_reset(&cpn);
			ok &= cl_buf_add(&cpn, tp.checkpoint, tp.checkpoint_len) == CL_OK &&
			      read_note(k, &cpn, &cp) == CL_OK && cp.size == 6 &&
			      get_leaf(l, i, &lf, lh, &body) == CL_OK &&
			      cl_merkle_verify_inclusion(i, cp.size, lh,
							 (const cl_hash *)tp.proof, tp.count,
							 cp.root) == CL_OK;
			free(body);
			body = NULL;
			/* The same proof must fail for another leaf. */
			if (ok && tp.count > 0) {
				tp.proof[0][0] ^= 1;
				ok &= cl_merkle_verify_inclusion(i, cp.size, lh,
								 (const cl_hash *)tp.proof,
								 tp.count, cp.root) == CL_ECORRUPT;
			}
			cl_checkpoint_release(&cp);
		}
		cl_tlog_proof_release(&tp);
	}
	TAP_OK(ok, "an inclusion proof for every entry verifies against the signed checkpoint (and fails when altered)");
	cl_buf_reset(&out);
	TAP_OK(cl_ledger_prove(l, 1, 3, &out, &err) == CL_OK &&
	       cl_tlog_proof_parse((const char *)out.data, out.len, &tp, &err) == CL_OK &&
	       strstr(tp.checkpoint, "\n3\n") != NULL,
	       "a proof against an older checkpoint (size 3) embeds that checkpoint");
	cl_tlog_proof_release(&tp);
	free(err);
	err = NULL;
	cl_buf_reset(&out);
	TAP_EQ_INT(cl_ledger_prove(l, 4, 4, &out, &err), CL_EINVAL,
		   "no proof for an entry outside the checkpoint");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_prove(l, 0, 5, &out, &err), CL_ENOTFOUND,
		   "no proof against a checkpoint that does not exist");
	free(err);
	err = NULL;

	cl_buf_reset(&out);
	TAP_OK(latest_checkpoint(l, k, 4, &c4) == CL_OK && latest_checkpoint(l, k, 6, &c6) == CL_OK,
	       "checkpoints 4 and 6 verify");
	TAP_OK(cl_ledger_prove_consistency(l, 4, 0, &out, &err) == CL_OK &&
	       cl_consistency_proof_parse((const char *)out.data, out.len, &s1, &s2,
					  &cproof, &count, &err) == CL_OK &&
	       s1 == 4 && s2 == 6, "consistency proof 4 -> latest (6)");
	TAP_EQ_INT(cl_merkle_verify_consistency(4, 6, c4.root, c6.root,
						(const cl_hash *)cproof, count),
		   CL_OK, "consistency proof verifies: 4 is a prefix of 6");
	TAP_EQ_INT(cl_merkle_verify_consistency(4, 6, c6.root, c4.root,
						(const cl_hash *)cproof, count),
		   CL_ECORRUPT, "the same proof fails with the roots swapped");
	free(cproof);
	cproof = NULL;
	TAP_EQ_INT(cl_ledger_prove_consistency(l, 6, 4, &out, &err), CL_EINVAL,
		   "no consistency proof from a newer to an older size");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_prove_consistency(l, 0, 4, &out, &err), CL_EINVAL,
		   "no consistency proof from size 0");
out:
	cl_checkpoint_release(&c4);
	cl_checkpoint_release(&c6);
	cl_buf_release(&out);
	cl_buf_release(&cpn);
	cl_ledger_close(l);
	free(err);
}

/* Iteration by type. */
static void test_each(const char *dir)
{
	struct cl_ledger *l = NULL;
	struct each_ctx c;
	char *err = NULL;
	int rc;

	if (cl_ledger_open(dir, CL_OPEN_READ, &l, &err) != CL_OK) {
		TAP_OK(0, "open: %s", err ? err : "?");
		free(err);
		return;
	}
	c = each(l, CL_ENTRY_RECORD, 0, &rc);
	TAP_OK(rc == CL_OK && c.n == 4 && c.with_payload == 4 && c.ordered && c.last == 3,
	       "each(record): entries 0..3 in order, all with payloads");
	c = each(l, CL_ENTRY_COVERAGE, 0, &rc);
	TAP_OK(rc == CL_OK && c.n == 2 && c.with_payload == 0 && c.last == 5,
	       "each(coverage): entries 4 and 5, no payloads");
	c = each(l, CL_ENTRY_TOMBSTONE, 0, &rc);
	TAP_OK(rc == CL_OK && c.n == 0, "each(tombstone): none yet");
	c = each(l, CL_ENTRY_RECORD, 2, &rc);
	TAP_OK(rc == 42 && c.n == 2, "a non-zero return stops the walk and is returned");
	cl_ledger_close(l);
	free(err);
}

/* Opening payloads with the unlocked sealing key. */
static void test_payload(const char *dir)
{
	struct cl_ledger *l = NULL;
	struct cl_buf out;
	unsigned char *sk = NULL;
	char *err = NULL;
	int i, ok = 1;

	cl_buf_init(&out, 1 << 20);
	TAP_EQ_INT(cl_vault_unlock_seal(dir, (const unsigned char *)"wrong", 5, &sk, &err),
		   CL_EKEY, "a wrong passphrase does not unlock seal.key");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_vault_unlock_seal(dir, (const unsigned char *)FX_PASS, strlen(FX_PASS),
					&sk, &err), CL_OK, "the passphrase unlocks seal.key");
	if (sk == NULL || cl_ledger_open(dir, CL_OPEN_READ, &l, &err) != CL_OK) {
		TAP_OK(0, "unlock and open: %s", err ? err : "?");
		goto out;
	}
	for (i = 0; i < 3; i++) {
		cl_buf_reset(&out);
		ok &= cl_ledger_open_payload(l, (uint64_t)i, sk, &out, &err) == CL_OK &&
		      out.len == strlen(pts[i]) && memcmp(out.data, pts[i], out.len) == 0;
	}
	TAP_OK(ok, "entries 0..2 decrypt to exactly the bytes appended");
	cl_buf_reset(&out);
	TAP_OK(cl_ledger_open_payload(l, 3, sk, &out, &err) == CL_OK &&
	       strcmp((const char *)out.data, "{\"text\":\"edited\"}") == 0,
	       "the conflicting copy keeps its own content");
	cl_buf_reset(&out);
	TAP_EQ_INT(cl_ledger_open_payload(l, 4, sk, &out, &err), CL_ENOTFOUND,
		   "an entry without a payload has nothing to open");
	free(err);
	err = NULL;
	sk[1] ^= 1; /* (bits 0-2 of byte 0 are cleared by X25519 clamping) */
	TAP_EQ_INT(cl_ledger_open_payload(l, 0, sk, &out, &err), CL_EKEY,
		   "another sealing key cannot unwrap the payload key");
out:
	free(err);
	cl_ledger_close(l);
	sodium_free(sk);
	cl_buf_release(&out);
}

/* Erasure: key and ciphertext destroyed, a tombstone appended. */
static void test_erase(const char *dir, const struct logkey *k)
{
	struct cl_ledger *l = NULL;
	struct cl_verify_opts vo;
	struct cl_verify_report vr;
	struct cl_checkpoint cp;
	struct cl_buf out;
	struct cl_leaf lf1, lft;
	struct each_ctx c;
	cl_hash lh1, lht;
	unsigned char *sk = NULL;
	char *err = NULL, *b1 = NULL, *bt = NULL;
	int already = -1, rc;

	memset(&cp, 0, sizeof(cp));
	cl_buf_init(&out, 1 << 20);
	if (cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK ||
	    cl_vault_unlock_seal(dir, (const unsigned char *)FX_PASS, strlen(FX_PASS),
				 &sk, &err) != CL_OK) {
		TAP_OK(0, "open and unlock: %s", err ? err : "?");
		goto out;
	}
	TAP_EQ_INT(cl_ledger_erase(l, 1, "rule-x", "dsar", &already, &err), CL_EINVAL,
		   "erase outside a batch is refused");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_begin(l, &err), CL_OK, "begin");
	TAP_OK(cl_ledger_erase(l, 1, "rule-x", "dsar", &already, &err) == CL_OK && already == 0,
	       "erase entry 1");
	TAP_EQ_INT(cl_ledger_size(l), 7, "the tombstone is entry 6");
	TAP_EQ_INT(cl_ledger_erase(l, 4, "rule-x", "dsar", &already, &err), CL_EINVAL,
		   "an entry without a payload cannot be erased");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_erase(l, 99, "rule-x", "dsar", &already, &err), CL_ENOTFOUND,
		   "no such entry");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_commit(l, &err), CL_OK, "commit the erasure");
	TAP_OK(latest_checkpoint(l, k, 0, &cp) == CL_OK && cp.size == 7,
	       "the erasure is signed (checkpoint of size 7)");

	TAP_OK(get_leaf(l, 1, &lf1, lh1, &b1) == CL_OK && get_leaf(l, 6, &lft, lht, &bt) == CL_OK,
	       "leaves 1 and 6 read");
	if (b1 && bt) {
		unsigned char tk[32], kh[32];
		FILE *tf;
		char tp[4096];

		/* FORMAT.md §3.4: the key hash is BLAKE2b-256(tag.key,
		 * "chatledger/tombstone/v1/" || decimal(E)). */
		snprintf(tp, sizeof(tp), "%s/tag.key", dir);
		tf = fopen(tp, "rb");
		TAP_OK(tf && fread(tk, 1, 32, tf) == 32, "tag.key read");
		if (tf)
			fclose(tf);
		crypto_generichash(kh, 32, (const unsigned char *)"chatledger/tombstone/v1/1",
				   25, tk, 32);
		TAP_OK(memcmp(lft.key_hash, kh, 32) == 0,
		       "the tombstone's key hash is derived from its erased index");
		TAP_OK(lft.type == CL_ENTRY_TOMBSTONE && strcmp(lft.kind, "tombstone") == 0 &&
		       sodium_is_zero(lft.ct_hash, 32) && lft.sent_at == CL_TIME_NONE &&
		       lft.received_at == CL_TIME_NONE,
		       "entry 6 is a tombstone without payload or times");
		TAP_EQ_STR(bt, "{\"erased\":1,\"reason\":\"dsar\",\"rule\":\"rule-x\"}",
			   "tombstone body names entry 1, reason and rule");
		TAP_OK(memcmp(lft.conv_tag, lf1.conv_tag, 32) == 0 && lft.prev_index == 3,
		       "the tombstone extends entry 1's conversation (after 3)");
		TAP_OK(!sodium_is_zero(lf1.ct_hash, 32), "entry 1's leaf still commits to its ciphertext");
	}
	TAP_EQ_INT(cl_ledger_open_payload(l, 1, sk, &out, &err), CL_ENOTFOUND,
		   "the erased payload cannot be opened");
	free(err);
	err = NULL;
	cl_buf_reset(&out);
	TAP_OK(cl_ledger_open_payload(l, 0, sk, &out, &err) == CL_OK &&
	       strcmp((const char *)out.data, pts[0]) == 0, "other payloads still open");

	TAP_EQ_INT(cl_ledger_begin(l, &err), CL_OK, "begin");
	TAP_OK(cl_ledger_erase(l, 1, "rule-x", "dsar", &already, &err) == CL_OK && already == 1,
	       "erasing again: already erased");
	TAP_EQ_INT(cl_ledger_size(l), 7, "erasing again appends nothing");
	TAP_EQ_INT(cl_ledger_erase(l, 6, "rule-x", "dsar", &already, &err), CL_EINVAL,
		   "a tombstone cannot be erased");
	free(err);
	err = NULL;
	TAP_EQ_INT(cl_ledger_commit(l, &err), CL_OK, "commit");
	TAP_EQ_INT(cl_ledger_scrub(l, &err), CL_OK, "scrub the write-ahead log");

	c = each(l, CL_ENTRY_TOMBSTONE, 0, &rc);
	TAP_OK(rc == CL_OK && c.n == 1 && c.last == 6, "each(tombstone): entry 6");
	c = each(l, CL_ENTRY_RECORD, 0, &rc);
	TAP_OK(rc == CL_OK && c.n == 4 && c.with_payload == 3,
	       "each(record): four records, three still with payloads");
	cl_ledger_close(l);
	l = NULL;

	/* The whole archive verifies, keylessly. */
	memset(&vo, 0, sizeof(vo));
	rc = cl_verify(dir, &vo, &vr, &err);
	TAP_OK(rc == CL_OK && vr.entries == 7 && vr.records == 4 && vr.tombstones == 1 &&
	       vr.coverage == 2 && vr.payloads == 3 && vr.erased == 1 &&
	       vr.conversations == 3 && vr.checkpoints == 5,
	       "cl_verify: OK, 7 entries, 4 records, 1 tombstone, 3 payloads, 1 erased (%s)",
	       vr.problem ? vr.problem : "");
	cl_verify_report_release(&vr);
out:
	free(b1);
	free(bt);
	free(err);
	cl_checkpoint_release(&cp);
	cl_buf_release(&out);
	cl_ledger_close(l);
	sodium_free(sk);
}

/* ---- two writers on one archive ---------------------------------------- */

struct waits {
	int calls;
	long pid;
	char name[32];
};

static void on_wait(void *ctx, long pid, const char *name, long long limit_ms)
{
	struct waits *w = ctx;

	(void)limit_ms;
	w->calls++;
	w->pid = pid;
	(void)cl_fmt(w->name, sizeof(w->name), "%s", name);
}

/* The previous index in the chain of entry `idx`, or CL_LEAF_NOPREV - 1. */
static uint64_t prev_of(struct cl_ledger *l, uint64_t idx)
{
	struct cl_buf b;
	struct cl_leaf lf;
	uint64_t prev = CL_LEAF_NOPREV - 1;

	cl_buf_init(&b, 1u << 20);
	if (cl_ledger_leaf(l, idx, &b, NULL) == CL_OK &&
	    cl_leaf_decode(b.data, b.len, &lf, NULL) == CL_OK)
		prev = lf.prev_index;
	cl_buf_release(&b);
	return prev;
}

static void test_two_writers(const char *dir)
{
	struct cl_ledger *a = NULL, *b = NULL;
	struct cl_verify_opts vo;
	struct cl_verify_report vr;
	struct waits w;
	enum cl_append_outcome dup = CL_APPEND_NEW;
	uint64_t s0, i1 = 0, i2 = 0, i3 = 0, idx = 0;
	char *err = NULL;
	int rc;

	memset(&w, 0, sizeof(w));
	if (cl_ledger_open(dir, CL_OPEN_WRITE, &a, &err) != CL_OK ||
	    cl_ledger_open(dir, CL_OPEN_WRITE, &b, &err) != CL_OK) {
		TAP_OK(0, "two write handles open: %s", err ? err : "?");
		goto out;
	}
	TAP_OK(1, "two write handles open at once (no lock outside a batch)");
	(void)cl_ledger_set_wait(b, "unit-b", -1, NULL, NULL);
	s0 = cl_ledger_size(a);
	TAP_OK(cl_ledger_begin(a, &err) == CL_OK &&
	       fx_record(a, "k-w1", CONV_A, pts[0], "fp-w1", T0, &i1, &dup) == CL_OK &&
	       cl_ledger_commit(a, &err) == CL_OK && i1 == s0, "writer A appends entry %" PRIu64, s0);
	TAP_EQ_INT(cl_ledger_size(b), s0, "writer B has not caught up before its batch");
	TAP_EQ_INT(cl_ledger_begin(b, &err), CL_OK, "writer B begins");
	TAP_EQ_INT(cl_ledger_size(b), s0 + 1, "... and has caught up with A's entry");
	TAP_OK(fx_record(b, "k-w1", CONV_A, pts[0], "fp-w1", T0, &idx, &dup) == CL_OK &&
	       dup == CL_APPEND_DUPLICATE && idx == i1, "A's key is a duplicate for B");
	TAP_OK(fx_record(b, "k-w2", CONV_A, pts[2], "fp-w2", T0, &i2, &dup) == CL_OK &&
	       i2 == s0 + 1 && prev_of(b, i2) == i1, "B chains onto A's entry");
	/* While B holds the lock, A gives up at once with CL_EBUSY. */
	(void)cl_ledger_set_wait(a, "unit-a", 0, on_wait, &w);
	rc = cl_ledger_begin(a, &err);
	TAP_EQ_INT(rc, CL_EBUSY, "A cannot begin while B is in a batch (--wait 0)");
	free(err);
	err = NULL;
	TAP_OK(w.calls == 1 && w.pid == (long)getpid() && strcmp(w.name, "unit-b") == 0,
	       "A was told once, with the holder's pid and name");
	TAP_EQ_INT(cl_ledger_commit(b, &err), CL_OK, "B commits");
	/* A rolled-back batch puts A's chain heads back. */
	TAP_EQ_INT(cl_ledger_begin(a, &err), CL_OK, "A begins once B is done");
	TAP_OK(fx_record(a, "k-w3", CONV_A, pts[1], "fp-w3", T0, &i3, &dup) == CL_OK &&
	       i3 == s0 + 2 && prev_of(a, i3) == i2, "A chains onto B's entry");
	cl_ledger_rollback(a);
	TAP_OK(cl_ledger_begin(a, &err) == CL_OK &&
	       fx_record(a, "k-w4", CONV_A, pts[1], "fp-w4", T0, &idx, &dup) == CL_OK &&
	       idx == s0 + 2 && prev_of(a, idx) == i2 && cl_ledger_commit(a, &err) == CL_OK,
	       "after a rollback A chains onto B's entry again");
	TAP_OK(cl_ledger_begin(b, &err) == CL_OK &&
	       fx_record(b, "k-w3", CONV_A, pts[1], "fp-w3", T0, &idx, &dup) == CL_OK &&
	       dup == CL_APPEND_NEW && idx == s0 + 3 && cl_ledger_commit(b, &err) == CL_OK,
	       "a key only in A's rolled-back batch is new for B");
	cl_ledger_close(a);
	cl_ledger_close(b);
	a = b = NULL;
	memset(&vo, 0, sizeof(vo));
	rc = cl_verify(dir, &vo, &vr, &err);
	TAP_OK(rc == CL_OK && vr.entries == s0 + 4, "the archive of two writers verifies (%s)",
	       vr.problem ? vr.problem : "");
	cl_verify_report_release(&vr);
out:
	free(err);
	cl_ledger_close(a);
	cl_ledger_close(b);
}

/* The WAL checkpointed on a thread of its own (walckpt.c): many small
 * commits, with no checkpoint inside any of them, leave a WAL that was
 * checkpointed and started over (bounded), and an archive that verifies. */
/* Records PREFIXi for i in [from, to) of conversation CONV, one commit
 * each; the largest size of the WAL file seen after a commit goes to
 * *wal_max.  Returns 1 when all committed. */
static int one_record_commits(struct cl_ledger *l, const char *prefix, const char *conv,
			      int from, int to, const char *wal, off_t *wal_max, char **err)
{
	enum cl_append_outcome dup = CL_APPEND_NEW;
	char key[32], fp[32];
	uint64_t idx = 0;
	struct stat st;
	int i, ok = 1;

	for (i = from; i < to && ok; i++) {
		snprintf(key, sizeof(key), "k-%s%d", prefix, i);
		snprintf(fp, sizeof(fp), "fp-%s%d", prefix, i);
		ok = cl_ledger_begin(l, err) == CL_OK &&
			fx_record(l, key, conv, pts[i % 3], fp, T0 + i, &idx, &dup) == CL_OK &&
			cl_ledger_commit(l, err) == CL_OK;
		if (ok && stat(wal, &st) == 0 && st.st_size > *wal_max)
			*wal_max = st.st_size;
	}
	return ok;
}

static void test_bg_checkpoint(const char *dir)
{
	struct cl_ledger *l = NULL;
	struct cl_verify_opts vo;
	struct cl_verify_report vr;
	char *err = NULL, *wal = fx_path(dir, "ledger.db-wal");
	uint64_t s0;
	unsigned long long runs = 0;
	off_t wal_max = 0;
	int ok, rc, tries;

	if (cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK ||
	    cl_ledger_bg_checkpoint(l, &err) != CL_OK) {
		TAP_OK(0, "checkpoint thread starts: %s", err ? err : "?");
		goto out;
	}
	TAP_OK(cl_ledger_bg_checkpoint(l, &err) == CL_OK,
	       "starting it twice is harmless");
	s0 = cl_ledger_size(l);
	ok = one_record_commits(l, "ck", CONV_A, 0, 1500, wal, &wal_max, &err);
	TAP_OK(ok, "1,500 one-record commits (%s)", err ? err : "");
	/* wait for the thread's runs (an event, not a time limit) */
	for (tries = 0; tries < 600 && (runs = cl_ledger_bg_checkpoints(l)) == 0; tries++)
		usleep(10000);
	TAP_OK(runs > 0, "the thread checkpointed (%llu runs)", runs);
	TAP_OK(wal_max > 0 && wal_max < 24L << 20,
	       "the WAL stayed bounded (at most %lld bytes over 1,500 commits)",
	       (long long)wal_max);
	TAP_EQ_INT(cl_ledger_size(l), s0 + 1500, "every record appended");
	cl_ledger_close(l);
	l = NULL;
	memset(&vo, 0, sizeof(vo));
	rc = cl_verify(dir, &vo, &vr, &err);
	TAP_OK(rc == CL_OK && vr.entries == s0 + 1500,
	       "the archive verifies after checkpoints off the writer's thread (%s)",
	       vr.problem ? vr.problem : "");
	cl_verify_report_release(&vr);
out:
	free(err);
	free(wal);
	cl_ledger_close(l);
}

/* cl_ledger_bulk: the WAL may grow past SQLite's 1,000 frames while a bulk
 * import runs, and is checkpointed at 1,000 again once it ends. */
static void test_bulk(const char *dir)
{
	struct cl_ledger *l = NULL;
	char *err = NULL, *wal = fx_path(dir, "ledger.db-wal");
	uint64_t s0;
	off_t wal_max = 0, after = 0, frame = 4096 + 24;
	int ok, log = -1, ckpt = -1;

	if (cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK) {
		TAP_OK(0, "open for the bulk test: %s", err ? err : "?");
		goto out;
	}
	s0 = cl_ledger_size(l);
	cl_ledger_bulk(l, 1);
	ok = one_record_commits(l, "bulk", CONV_B, 0, 800, wal, &wal_max, &err);
	TAP_OK(ok, "800 one-record commits in bulk mode (%s)", err ? err : "");
	TAP_OK(wal_max > 1500 * frame,
	       "bulk: the WAL grew past SQLite's 1,000 frames (%lld frames)",
	       (long long)(wal_max / frame));
	TAP_OK(wal_max <= (CL_LEDGER_BULK_WAL_FRAMES + 100) * frame,
	       "bulk: ... and stayed within CL_LEDGER_BULK_WAL_FRAMES");
	cl_ledger_bulk(l, 0);
	ok = ok && one_record_commits(l, "bulk", CONV_B, 800, 1100, wal, &after, &err);
	ok = ok && sqlite3_wal_checkpoint_v2(cl_ledger_sqlite(l), NULL,
					     SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt) == SQLITE_OK;
	TAP_OK(ok && log >= 0 && log <= 1100,
	       "bulk off: SQLite checkpoints at 1,000 frames again (%d frames since the restart)",
	       log);
	TAP_EQ_INT(cl_ledger_size(l), s0 + 1100, "every bulk record appended");
out:
	free(err);
	free(wal);
	cl_ledger_close(l);
}

/* ---- key batches span transactions (CL_KEY_BATCH_MS, _KEYS) ------------- */

/* One integer from `sql` on the ledger's connection, or -1. */
static long long one_int(struct cl_ledger *l, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;

	if (sqlite3_prepare_v2(cl_ledger_sqlite(l), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

#define KB_ROWS "SELECT count(*) FROM key_batch"
#define KB_LAST "SELECT batch FROM sealed_key ORDER BY idx DESC LIMIT 1"

static void test_key_batches(const char *dir)
{
	enum cl_append_outcome dup = CL_APPEND_NEW;
	struct cl_verify_opts vo;
	struct cl_verify_report vr;
	struct cl_ledger *l = NULL;
	struct cl_buf out;
	unsigned char *sk = NULL;
	char *err = NULL, *wal = fx_path(dir, "ledger.db-wal");
	char key[32];
	long long rows, batch;
	uint64_t idx = 0, first;
	off_t wal_max = 0;
	unsigned i;
	int ok;

	cl_buf_init(&out, 1 << 16);
	if (cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK) {
		TAP_OK(0, "open for the key batch test: %s", err ? err : "?");
		goto out;
	}
	rows = one_int(l, KB_ROWS);
	first = cl_ledger_size(l);
	ok = one_record_commits(l, "kb", CONV_A, 0, 2, wal, &wal_max, &err);
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 2,
	       "by default each commit has a key batch of its own (%s)", err ? err : "");
	rows += 2;
	cl_ledger_key_batches(l, 1);
	ok = one_record_commits(l, "kb", CONV_A, 2, 5, wal, &wal_max, &err);
	batch = one_int(l, KB_LAST);
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 1,
	       "with cl_ledger_key_batches, three one-record commits share one (%s)",
	       err ? err : "");
	/* A rollback keeps a key batch whose row an earlier commit stored. */
	ok = cl_ledger_begin(l, &err) == CL_OK &&
		fx_record(l, "k-kb-rb", CONV_A, pts[0], "fp-kb-rb", T0, &idx, &dup) == CL_OK;
	cl_ledger_rollback(l);
	ok = ok && one_record_commits(l, "kb", CONV_A, 5, 6, wal, &wal_max, &err);
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 1 && one_int(l, KB_LAST) == batch,
	       "after a rollback the next commit goes on with the same key batch");
	/* A service that stops ends it; so does the first commit past
	 * CL_KEY_BATCH_MS. */
	cl_ledger_key_batches(l, 0);
	cl_ledger_key_batches(l, 1);
	ok = one_record_commits(l, "kb", CONV_A, 6, 7, wal, &wal_max, &err);
	batch = one_int(l, KB_LAST);
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 2,
	       "after cl_ledger_key_batches(l, 0) the next commit begins another");
	usleep((CL_KEY_BATCH_MS + 100) * 1000);
	ok = one_record_commits(l, "kb", CONV_A, 7, 8, wal, &wal_max, &err) &&
		one_record_commits(l, "kb", CONV_A, 8, 9, wal, &wal_max, &err);
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 3 && one_int(l, KB_LAST) > batch,
	       "a commit past CL_KEY_BATCH_MS ends its key batch; the next begins another");
	rows += 3;
	/* What a service calls when idle: time left while a commit kept the
	 * key batch within CL_KEY_BATCH_MS, then the end of it. */
	TAP_OK(cl_ledger_key_batch_idle(l) >= 0 &&
	       cl_ledger_key_batch_idle(l) <= CL_KEY_BATCH_MS,
	       "cl_ledger_key_batch_idle: the open key batch's milliseconds left");
	usleep((CL_KEY_BATCH_MS + 100) * 1000);
	TAP_OK(cl_ledger_key_batch_idle(l) == -1 && cl_ledger_key_batch_idle(l) == -1,
	       "... and after CL_KEY_BATCH_MS idle it ends it (-1: none open)");
	cl_ledger_close(l);
	l = NULL;

	/* A new handle's key batch, begun in a transaction that rolls back,
	 * is gone with its row: the next commit starts another. */
	if (cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK) {
		TAP_OK(0, "reopen: %s", err ? err : "?");
		goto out;
	}
	cl_ledger_key_batches(l, 1);
	batch = one_int(l, KB_LAST);
	ok = cl_ledger_begin(l, &err) == CL_OK &&
		fx_record(l, "k-kb-rb2", CONV_A, pts[1], "fp-kb-rb2", T0, &idx, &dup) == CL_OK;
	cl_ledger_rollback(l);
	ok = ok && one_record_commits(l, "kb", CONV_A, 9, 10, wal, &wal_max, &err);
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 1 && one_int(l, KB_LAST) > batch &&
	       one_int(l, "SELECT count(*) FROM sealed_key k LEFT JOIN key_batch b"
			  " ON b.id = k.batch WHERE b.id IS NULL") == 0,
	       "a new handle's key batch rolled back with its transaction; the next"
	       " commit began another, and every sealed key names a stored batch");
	/* At CL_KEY_BATCH_KEYS payload keys a key batch ends, mid-transaction. */
	ok = cl_ledger_begin(l, &err) == CL_OK;
	for (i = 0; ok && i < CL_KEY_BATCH_KEYS; i++) {
		snprintf(key, sizeof(key), "k-kbn%u", i);
		ok = fx_record(l, key, CONV_B, pts[i % 3], key, T0 + i, &idx, &dup) == CL_OK;
	}
	ok = ok && cl_ledger_commit(l, &err) == CL_OK;
	TAP_OK(ok && one_int(l, KB_ROWS) == rows + 2 &&
	       one_int(l, "SELECT max(c) FROM (SELECT count(*) c FROM sealed_key"
			  " GROUP BY batch)") == CL_KEY_BATCH_KEYS,
	       "no key batch wraps more than CL_KEY_BATCH_KEYS payload keys (%s)",
	       err ? err : "");
	cl_ledger_close(l);
	l = NULL;

	memset(&vo, 0, sizeof(vo));
	TAP_OK(cl_verify(dir, &vo, &vr, &err) == CL_OK && vr.problem == NULL,
	       "the archive verifies with key batches across commits (%s)",
	       vr.problem ? vr.problem : err ? err : "");
	cl_verify_report_release(&vr);
	if (cl_vault_unlock_seal(dir, (const unsigned char *)FX_PASS, strlen(FX_PASS),
				 &sk, &err) != CL_OK ||
	    cl_ledger_open(dir, CL_OPEN_READ, &l, &err) != CL_OK) {
		TAP_OK(0, "unlock and open: %s", err ? err : "?");
		goto out;
	}
	ok = 1;
	for (i = 0; i < 10; i++) {
		cl_buf_reset(&out);
		ok &= cl_ledger_open_payload(l, first + i, sk, &out, &err) == CL_OK &&
		      out.len == strlen(pts[i % 3]) && memcmp(out.data, pts[i % 3], out.len) == 0;
	}
	TAP_OK(ok, "payloads sealed in a key batch's later commits open with the sealing key");
out:
	free(err);
	free(wal);
	cl_ledger_close(l);
	sodium_free(sk);
	cl_buf_release(&out);
}

int main(void)
{
	char *scratch, *dir;
	struct logkey k;

	if (sodium_init() < 0) {
		TAP_OK(0, "sodium_init");
		return tap_done();
	}
	scratch = fx_scratch("test_ledger");
	if (scratch == NULL) {
		TAP_OK(0, "scratch directory");
		return tap_done();
	}
	dir = fx_path(scratch, "archive");
	test_init(dir, scratch);
	TAP_EQ_INT(load_logkey(dir, &k), CL_OK, "log.pub parses");
	test_append(dir, &k);
	test_leaves(dir);
	test_proofs(dir, &k);
	test_each(dir);
	test_payload(dir);
	test_erase(dir, &k);
	test_two_writers(dir);
	test_bg_checkpoint(dir);
	test_bulk(dir);
	test_key_batches(dir);
	free(k.name);
	TAP_EQ_INT(fx_rm_tree(scratch), 0, "scratch directory removed");
	free(dir);
	free(scratch);
	return tap_done();
}
