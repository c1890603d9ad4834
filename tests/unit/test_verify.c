/*
 * test_verify.c - the keyless verifier (archiver/ledger/verify.c).
 *
 * A base archive is built through the library: 300 records in three
 * conversations in two batches (checkpoints 150 and 300; entries 0..255
 * make one stored tree node), then entry 10 is erased (tombstone 300,
 * checkpoint 301).  It must verify.  Then, for each tamper class, a fresh
 * copy has exactly one thing changed through SQLite or the file system,
 * and cl_verify() must return CL_ECORRUPT naming the problem and the
 * entry (report.bad_index; UINT64_MAX when the problem is not one entry).
 * tests/cli/t20-tamper.sh covers the same classes through the CLI.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "archiver/ledger/leaf.h"
#include "archiver/ledger/ledger.h"
#include "archiver/ledger/merkle.h"
#include "archiver/ledger/verify.h"
#include "common/buf.h"
#include "common/status.h"
#include "common/util.h"
#include "tests/unit/ledger_fixture.h"
#include "tests/unit/tap.h"

#define ORIGIN "test.example/verify"
#define T0 INT64_C(1717200000000)
#define NREC 300
#define ERASED 10      /* conversation 1; its tombstone is entry 300 */
#define NONE UINT64_MAX

static const char *const convs[] = {
	"whatsapp:85291234567:conversation-with-client-zero",
	"whatsapp:85291234567:conversation-with-client-one",
	"wechat:corp-1:conversation-with-client-two-group",
};

static char *scratch, *base, *pre_erase, *other, *work;
static char *cp150, *cp301, *other_cp, *fork301, *fork302, *other_vkey;

/* ---- building ------------------------------------------------------- */

/* Append records [from, to) in one batch. */
static int add_records(struct cl_ledger *l, unsigned from, unsigned to)
{
	char key[32], pt[96];
	uint64_t idx;
	unsigned i;
	char *err = NULL;
	enum cl_append_outcome dup;
	int rc = cl_ledger_begin(l, &err);

	for (i = from; rc == CL_OK && i < to; i++) {
		snprintf(key, sizeof(key), "msg-%u", i);
		snprintf(pt, sizeof(pt), "{\"text\":\"message %u of the test archive\"}", i);
		rc = fx_record(l, key, convs[i % 3], pt, pt, T0 + 1000 * (int64_t)i, &idx, &dup);
		if (rc == CL_OK && (idx != i || dup != CL_APPEND_NEW))
			rc = CL_EINVAL;
	}
	if (rc == CL_OK)
		rc = cl_ledger_commit(l, &err);
	free(err);
	return rc;
}

/* The signed checkpoint of `size` (0: latest), malloc'd text. */
static char *checkpoint_text(const char *dir, uint64_t size)
{
	struct cl_ledger *l = NULL;
	struct cl_buf b;
	char *err = NULL, *s = NULL;

	cl_buf_init(&b, 1 << 16);
	if (cl_ledger_open(dir, CL_OPEN_READ, &l, &err) == CL_OK &&
	    cl_ledger_checkpoint(l, size, &b, &err) == CL_OK)
		s = strndup((const char *)b.data, b.len);
	cl_ledger_close(l);
	cl_buf_release(&b);
	free(err);
	return s;
}

static char *read_text(const char *path)
{
	struct cl_buf b;
	char *s = NULL;

	cl_buf_init(&b, 1 << 16);
	if (cl_file_read(path, &b, 1 << 16, NULL) == CL_OK)
		s = strndup((const char *)b.data, b.len);
	cl_buf_release(&b);
	return s;
}

/* Append `n` more records to a copy of `from` (a fork with the same log
 * key) and return its latest checkpoint. */
static char *fork_checkpoint(const char *from, const char *dir, unsigned n)
{
	struct cl_ledger *l = NULL;
	char *err = NULL, *cp = NULL;
	uint64_t idx;
	unsigned i;
	enum cl_append_outcome dup;
	int rc;

	if (fx_copy_dir(from, dir) != 0 ||
	    cl_ledger_open(dir, CL_OPEN_WRITE, &l, &err) != CL_OK)
		goto out;
	rc = cl_ledger_begin(l, &err);
	for (i = 0; rc == CL_OK && i < n; i++) {
		char key[32];

		snprintf(key, sizeof(key), "fork-%u", i);
		rc = fx_record(l, key, convs[0], "{\"text\":\"another history\"}", NULL,
			       T0, &idx, &dup);
	}
	if (rc == CL_OK && cl_ledger_commit(l, &err) == CL_OK) {
		cl_ledger_close(l);
		l = NULL;
		cp = checkpoint_text(dir, 0);
	}
out:
	cl_ledger_close(l);
	free(err);
	return cp;
}

static int build(void)
{
	struct cl_ledger *l = NULL;
	char *err = NULL, *p, *f;
	int already = 0, rc;

	base = fx_path(scratch, "base");
	pre_erase = fx_path(scratch, "pre-erase");
	other = fx_path(scratch, "other");
	work = fx_path(scratch, "work");
	if ((rc = fx_init(base, ORIGIN)) || (rc = fx_init(other, ORIGIN)))
		goto out;
	if ((rc = cl_ledger_open(base, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = add_records(l, 0, 150)) || (rc = add_records(l, 150, NREC)))
		goto out;
	cl_ledger_close(l);
	l = NULL;
	if (fx_copy_dir(base, pre_erase) != 0) {
		rc = CL_EIO;
		goto out;
	}
	if ((rc = cl_ledger_open(base, CL_OPEN_WRITE, &l, &err)) ||
	    (rc = cl_ledger_begin(l, &err)) ||
	    (rc = cl_ledger_erase(l, ERASED, "test-rule", "test", &already, &err)) ||
	    (rc = cl_ledger_commit(l, &err)) || (rc = cl_ledger_scrub(l, &err)))
		goto out;
	cl_ledger_close(l);
	l = NULL;
	cp150 = checkpoint_text(base, 150);
	cp301 = checkpoint_text(base, 0);
	other_cp = checkpoint_text(other, 0);
	p = fx_path(scratch, "fork");
	fork301 = fork_checkpoint(pre_erase, p, 1);
	fork302 = fork_checkpoint(pre_erase, p, 2);
	free(p);
	f = fx_path(other, "log.pub");
	other_vkey = read_text(f);
	free(f);
	if (other_vkey && strchr(other_vkey, '\n'))
		*strchr(other_vkey, '\n') = '\0';
	if (!cp150 || !cp301 || !other_cp || !fork301 || !fork302 || !other_vkey)
		rc = CL_EIO;
out:
	if (rc)
		fprintf(stderr, "# build: %s\n", err ? err : cl_strerror(rc));
	cl_ledger_close(l);
	free(err);
	return rc;
}

/* ---- checking ------------------------------------------------------- */

static struct cl_verify_opts opts;

static void reset_opts(void)
{
	memset(&opts, 0, sizeof(opts));
}

/* A fresh copy of the base archive at `work`. */
static int fresh(void)
{
	reset_opts();
	return fx_copy_dir(base, work);
}

/*
 * cl_verify(dir) must find a problem: CL_ECORRUPT, report.problem
 * containing `phrase`, report.bad_index == bad.  `setup` is 0 when the
 * tampering itself succeeded.
 */
static void expect_corrupt(const char *dir, const char *name, int setup,
			   const char *phrase, uint64_t bad)
{
	struct cl_verify_report r;
	char *err = NULL;
	int rc;

	if (setup != 0) {
		TAP_OK(0, "%s: tampering failed", name);
		return;
	}
	rc = cl_verify(dir, &opts, &r, &err);
	TAP_OK(rc == CL_ECORRUPT && r.problem && strstr(r.problem, phrase) &&
	       r.bad_index == bad,
	       "%s: CL_ECORRUPT, '%s', bad index %s%" PRIu64 " (got %d, '%s', %s%" PRIu64 ")",
	       name, phrase, bad == NONE ? "none " : "", bad == NONE ? 0 : bad,
	       rc, r.problem ? r.problem : (err ? err : ""),
	       r.bad_index == NONE ? "none " : "", r.bad_index == NONE ? 0 : r.bad_index);
	cl_verify_report_release(&r);
	free(err);
}

static void tampered(const char *name, int setup, const char *phrase, uint64_t bad)
{
	expect_corrupt(work, name, setup, phrase, bad);
}

/* Offsets in a leaf (docs/FORMAT.md §3), given its kind length K. */
#define OFF_K 34
#define K_OFF(k) (35 + (size_t)(k))

/* Byte `rel` past the kind of entry idx's leaf, with the kind length
 * read from the copy. */
static int flip_leaf_field(uint64_t idx, size_t rel)
{
	char where[32];

	snprintf(where, sizeof(where), "idx = %" PRIu64, idx);
	/* All records here have kind "text" (K = 4). */
	return fx_flip(work, "entry", "leaf", where, K_OFF(4) + rel);
}

static void test_base(void)
{
	struct cl_verify_report r;
	const char *cps[2], *names[2] = { "cp-150", "cp-301" };
	char *err = NULL, *latest;
	int rc;

	reset_opts();
	rc = cl_verify(base, &opts, &r, &err);
	TAP_OK(rc == CL_OK && r.problem == NULL && r.bad_index == NONE,
	       "the untouched archive verifies (%s)", r.problem ? r.problem : (err ? err : "ok"));
	TAP_OK(r.entries == NREC + 1 && r.records == NREC && r.tombstones == 1 &&
	       r.coverage == 0 && r.control == 0 && r.quarantined == 0,
	       "report: %" PRIu64 " entries, %" PRIu64 " records, %" PRIu64 " tombstones",
	       r.entries, r.records, r.tombstones);
	TAP_OK(r.payloads == NREC - 1 && r.erased == 1 && r.conversations == 3 &&
	       r.nodes == 1 && r.checkpoints == 4 && r.external_checkpoints == 0,
	       "report: %" PRIu64 " payloads, %" PRIu64 " erased, %" PRIu64 " conversations,"
	       " %" PRIu64 " nodes, %" PRIu64 " checkpoints",
	       r.payloads, r.erased, r.conversations, r.nodes, r.checkpoints);
	TAP_OK(r.bytes_hashed > (uint64_t)NREC * 208, "report: bytes hashed (%" PRIu64 ")",
	       r.bytes_hashed);
	latest = checkpoint_text(base, 0);
	{
		/* The root in the report is the one the latest checkpoint signs. */
		struct cl_buf b64;
		cl_hash root;
		int ok = latest != NULL && cl_hex_decode(r.root_hex, root, 32) == CL_OK;

		cl_buf_init(&b64, 128);
		ok = ok && cl_b64_add(&b64, root, 32) == CL_OK &&
		     strstr(latest, (const char *)b64.data) != NULL;
		TAP_OK(ok, "report: root_hex is the root of the latest signed checkpoint");
		cl_buf_release(&b64);
	}
	free(latest);
	cl_verify_report_release(&r);
	free(err);
	err = NULL;

	rc = cl_verify(pre_erase, &opts, &r, &err);
	TAP_OK(rc == CL_OK && r.entries == NREC && r.erased == 0 && r.payloads == NREC,
	       "the archive before the erasure verifies too");
	cl_verify_report_release(&r);
	free(err);
	err = NULL;

	/* Saved checkpoints that are prefixes, and the trusted key. */
	{
		char *vk = NULL;

		cps[0] = cp150;
		cps[1] = cp301;
		opts.checkpoints = cps;
		opts.checkpoint_names = names;
		opts.n_checkpoints = 2;
		rc = cl_verify(base, &opts, &r, &err);
		TAP_OK(rc == CL_OK && r.external_checkpoints == 2,
		       "saved checkpoints 150 and 301 are prefixes of the log");
		cl_verify_report_release(&r);
		reset_opts();
		if (cl_vault_load_vkey(base, &vk, &err) != CL_OK)
			vk = NULL;
		if (vk && strchr(vk, '\n'))
			*strchr(vk, '\n') = '\0';
		opts.trusted_vkey = vk;
		rc = cl_verify(base, &opts, &r, &err);
		TAP_OK(vk && rc == CL_OK, "the archive's own key as the trusted key verifies");
		cl_verify_report_release(&r);
		free(vk);
		reset_opts();
	}
	/* The attrs column is committed to by the leaf's aux_hash (format 2). */
	TAP_OK(fresh() == 0 && fx_sql(work, "UPDATE entry SET attrs = x'00' WHERE idx = 5") == 0 &&
	       cl_verify(work, &opts, &r, &err) == CL_ECORRUPT && r.bad_index == 5,
	       "a changed attrs column is found");
	cl_verify_report_release(&r);
	free(err);
	err = NULL;

	/* Operational errors are not tampering. */
	{
		char *none = fx_path(scratch, "no-such-archive");

		TAP_EQ_INT(cl_verify(none, &opts, &r, &err), CL_ENOTFOUND,
			   "not an archive: CL_ENOTFOUND");
		TAP_OK(r.problem == NULL, "... and no problem reported");
		cl_verify_report_release(&r);
		free(err);
		err = NULL;
		free(none);
	}
	opts.trusted_vkey = "not a key";
	TAP_EQ_INT(cl_verify(base, &opts, &r, &err), CL_EINVAL,
		   "a malformed trusted key: CL_EINVAL");
	cl_verify_report_release(&r);
	free(err);
	err = NULL;
	reset_opts();
	{
		cps[0] = "this is not a checkpoint";
		opts.checkpoints = cps;
		opts.n_checkpoints = 1;
		TAP_EQ_INT(cl_verify(base, &opts, &r, &err), CL_EINVAL,
			   "a saved checkpoint that is no signed note: CL_EINVAL");
		TAP_OK(err && strstr(err, "'saved checkpoint' is not a signed checkpoint"),
		       "... named in the error (%s)", err ? err : "");
		cl_verify_report_release(&r);
		free(err);
		err = NULL;
		reset_opts();
	}
}

/* ---- tamper classes ------------------------------------------------- */

static int edit_sig(void *ctx, unsigned char *p, size_t len)
{
	/* Change one character of the last signature's base64. */
	size_t i = len;

	(void)ctx;
	while (i > 0 && p[i - 1] == '\n')
		i--;
	if (i < 20)
		return -1;
	i -= 20;
	p[i] = p[i] == 'A' ? 'B' : 'A';
	return 0;
}

static void test_leaf_and_payload(void)
{
	/* Leaf bytes. */
	tampered("leaf version byte", fresh() || fx_flip(work, "entry", "leaf", "idx = 30", 0),
		 "entry 30: leaf is malformed", 30);
	tampered("leaf index byte", fresh() || fx_flip(work, "entry", "leaf", "idx = 31", 9),
		 "entry 31: leaf says it is entry 30", 31);
	tampered("leaf sent_at byte", fresh() || fx_flip(work, "entry", "leaf", "idx = 50", 12),
		 "entry 50: index columns", 50);
	tampered("leaf kind length", fresh() || fx_flip(work, "entry", "leaf", "idx = 51", OFF_K),
		 "entry 51: leaf is malformed", 51);
	/* pt_hash of 52: the leaf still parses; the next entry of its
	 * conversation (55) no longer links to it. */
	tampered("leaf plaintext hash (mid-conversation)", fresh() || flip_leaf_field(52, 136),
		 "entry 55: conversation chain broken", 55);
	/* pt_hash of 299, the last entry of conversation 2: only the tree
	 * gives it away, at the signed checkpoint of size 300. */
	tampered("leaf plaintext hash (end of a conversation)", fresh() || flip_leaf_field(299, 136),
		 "tree over entries 0..299 does not match the signed checkpoint of size 300", NONE);
	/* The chain link itself. */
	tampered("chain link: prev hash", fresh() || flip_leaf_field(40, 72 + 5),
		 "entry 40: conversation chain broken (links to entry 37, the previous entry of its conversation is 37)", 40);
	tampered("chain link: prev index", fresh() || flip_leaf_field(41, 64 + 7),
		 "entry 41: conversation chain broken (links to entry 39, the previous entry of its conversation is 38)", 41);
	tampered("chain link: first entry claims a predecessor", fresh() || flip_leaf_field(2, 64),
		 "entry 2: conversation chain broken", 2);

	/* Ciphertexts. */
	tampered("ciphertext byte", fresh() || fx_flip(work, "payload", "ct", "idx = 42", 30),
		 "entry 42: ciphertext does not match the SHA-256 in its leaf", 42);
	tampered("ciphertext version byte", fresh() || fx_flip(work, "payload", "ct", "idx = 43", 0),
		 "entry 43: ciphertext is malformed", 43);
	tampered("ciphertext truncated", fresh() ||
		 fx_sql(work, "UPDATE payload SET ct = substr(ct, 1, 20) WHERE idx = 44"),
		 "entry 44: ciphertext is malformed", 44);
	tampered("ciphertext of another entry", fresh() ||
		 fx_sql(work, "UPDATE payload SET ct = (SELECT ct FROM payload WHERE idx = 46) WHERE idx = 45"),
		 "entry 45: ciphertext does not match", 45);
	tampered("payload on an entry without one", fresh() ||
		 fx_sql(work, "INSERT INTO payload(idx, ct) SELECT 300, ct FROM payload WHERE idx = 1"),
		 "entry 300: has a stored payload or key its leaf does not commit to", 300);
}

static void test_index_columns(void)
{
	tampered("index column type", fresh() ||
		 fx_sql(work, "UPDATE entry SET type = 5 WHERE idx = 60"),
		 "entry 60: index columns (type, kind, sent_at, key index) disagree with the leaf", 60);
	tampered("index column kind", fresh() ||
		 fx_sql(work, "UPDATE entry SET kind = 'image' WHERE idx = 61"),
		 "entry 61: index columns", 61);
	tampered("index column sent_at", fresh() ||
		 fx_sql(work, "UPDATE entry SET sent_at = sent_at + 1000 WHERE idx = 62"),
		 "entry 62: index columns", 62);
	tampered("index column sent_at NULL", fresh() ||
		 fx_sql(work, "UPDATE entry SET sent_at = NULL WHERE idx = 63"),
		 "entry 63: index columns", 63);
	tampered("index column sent_at on a tombstone", fresh() ||
		 fx_sql(work, "UPDATE entry SET sent_at = 1 WHERE idx = 300"),
		 "entry 300: index columns", 300);
	tampered("key index row changed", fresh() ||
		 fx_sql(work, "UPDATE dedup SET kh = kh + 1 WHERE idx = 64"),
		 "entry 64: index columns", 64);
	tampered("key index row deleted", fresh() ||
		 fx_sql(work, "DELETE FROM dedup WHERE idx = 65"),
		 "entry 65: index columns", 65);
	tampered("chain head row (index)", fresh() ||
		 fx_sql(work, "UPDATE chain_head SET idx = idx - 3 WHERE idx = 299"),
		 "a stored chain head (at entry 296) is not the last entry of its conversation", NONE);
	tampered("chain head row (tag)", fresh() ||
		 fx_flip(work, "chain_head", "tag", "idx = 299", 0),
		 "a stored chain head (at entry 299) is not the last entry", NONE);
	tampered("chain head row deleted", fresh() ||
		 fx_sql(work, "DELETE FROM chain_head WHERE idx = 299"),
		 "2 chain heads stored, 3 conversations in the log", NONE);
}

static void test_rows(void)
{
	tampered("deleted entry", fresh() || fx_sql(work, "DELETE FROM entry WHERE idx = 70"),
		 "entry 70 is missing (deleted from the log)", 70);
	tampered("deleted last entry", fresh() || fx_sql(work, "DELETE FROM entry WHERE idx = 300"),
		 "stored checkpoint of size 301 is larger than the log (300 entries)", NONE);
	tampered("swapped entries", fresh() || fx_sql(work,
		 "UPDATE entry SET idx = -1 WHERE idx = 80;"
		 "UPDATE entry SET idx = 80 WHERE idx = 81;"
		 "UPDATE entry SET idx = 81 WHERE idx = -1;"),
		 "entry 80: leaf says it is entry 81", 80);
	tampered("negative entry row", fresh() || fx_sql(work,
		 "INSERT INTO entry(idx, leaf, type, kind) SELECT -5, leaf, type, kind FROM entry WHERE idx = 0"),
		 "an entry row has a negative index (row -5)", NONE);
	tampered("stray ciphertext row", fresh() ||
		 fx_sql(work, "INSERT INTO payload(idx, ct) VALUES (5000, x'0102')"),
		 "a ciphertext row belongs to no entry (row 5000)", NONE);
	tampered("stray sealed key row", fresh() || fx_sql(work,
		 "INSERT INTO sealed_key(idx, batch, wrapped) SELECT 6000, batch, wrapped FROM sealed_key WHERE idx = 0"),
		 "a sealed key row belongs to no entry (row 6000)", NONE);
	tampered("stray key index row", fresh() ||
		 fx_sql(work, "INSERT INTO dedup(idx, kh) VALUES (7000, 1)"),
		 "a key index row belongs to no entry (row 7000)", NONE);
	/* Below the first entry too (the check looks outside [0, n)). */
	tampered("stray ciphertext row below 0", fresh() ||
		 fx_sql(work, "INSERT INTO payload(idx, ct) VALUES (-3, x'0102')"),
		 "a ciphertext row belongs to no entry (row -3)", NONE);
	tampered("stray sealed key row below 0", fresh() || fx_sql(work,
		 "INSERT INTO sealed_key(idx, batch, wrapped) SELECT -4, batch, wrapped FROM sealed_key WHERE idx = 0"),
		 "a sealed key row belongs to no entry (row -4)", NONE);
	tampered("stray key index row below 0", fresh() ||
		 fx_sql(work, "INSERT INTO dedup(idx, kh) VALUES (-2, 1)"),
		 "a key index row belongs to no entry (row -2)", NONE);
	tampered("key batch deleted", fresh() || fx_sql(work, "DELETE FROM key_batch"),
		 "entry 0: its sealed key, key batch or attrs do not match its leaf (aux_hash)", 0);
	tampered("key batch's ephemeral key changed", fresh() ||
		 fx_sql(work, "UPDATE key_batch SET eph = zeroblob(32)"),
		 "entry 0: its sealed key, key batch or attrs do not match its leaf (aux_hash)", 0);
	tampered("format changed", fresh() ||
		 fx_sql(work, "UPDATE meta SET v = 4 WHERE k = 'format'"),
		 "the archive format is not 2 or 3 (meta.format)", NONE);
	/* Format 2 predates payload version 2: an archive set back to 2
	 * holds blobs its format does not allow. */
	tampered("format set back to 2 under version-2 payloads", fresh() ||
		 fx_sql(work, "UPDATE meta SET v = 2 WHERE k = 'format'"),
		 "entry 0: ciphertext is malformed", 0);
	tampered("content fingerprint changed", fresh() ||
		 fx_sql(work, "UPDATE dedup SET ch = coalesce(ch, 0) + 1 WHERE idx = 5"),
		 "entry 5: its content fingerprint (dedup.ch) does not match its leaf", 5);
	tampered("format 1 archive", fresh() ||
		 fx_sql(work, "UPDATE meta SET v = 1 WHERE k = 'format'"),
		 "format 1 archive: this chatledger reads formats 2 and 3", NONE);
	tampered("origin deleted", fresh() || fx_sql(work, "DELETE FROM meta WHERE k = 'origin'"),
		 "archive metadata (origin, log key) is missing", NONE);
}

static int edit_erased(void *ctx, unsigned char *p, size_t len)
{
	static const char from[] = "\"erased\":10,";
	unsigned char *at = memmem(p, len, from, sizeof(from) - 1);

	(void)ctx;
	if (at == NULL)
		return -1;
	at[sizeof(from) - 3] = '1';
	return 0;
}

static void test_erasures(void)
{
	char sql[512];

	tampered("erased without tombstone", fresh() ||
		 fx_sql(work, "DELETE FROM payload WHERE idx = 90; DELETE FROM sealed_key WHERE idx = 90"),
		 "entry 90: ciphertext and key are missing and no tombstone records an erasure", 90);
	tampered("sealed key removed", fresh() || fx_sql(work, "DELETE FROM sealed_key WHERE idx = 91"),
		 "entry 91: sealed key is missing or malformed (ciphertext remains)", 91);
	tampered("sealed key malformed", fresh() ||
		 fx_sql(work, "UPDATE sealed_key SET wrapped = x'00' WHERE idx = 92"),
		 "entry 92: its sealed key, key batch or attrs do not match its leaf (aux_hash)", 92);
	tampered("wrapped key byte flipped", fresh() ||
		 fx_sql(work, "UPDATE sealed_key SET wrapped = zeroblob(48) WHERE idx = 92"),
		 "entry 92: its sealed key, key batch or attrs do not match its leaf (aux_hash)", 92);
	tampered("ciphertext removed, key kept", fresh() ||
		 fx_sql(work, "DELETE FROM payload WHERE idx = 93"),
		 "entry 93: ciphertext is missing but its key remains", 93);
	/* The erased entry's rows restored from the copy taken before. */
	snprintf(sql, sizeof(sql),
		 "ATTACH '%s/ledger.db' AS old;"
		 "INSERT INTO payload SELECT * FROM old.payload WHERE idx = %d;"
		 "INSERT INTO sealed_key SELECT * FROM old.sealed_key WHERE idx = %d;",
		 pre_erase, ERASED, ERASED);
	tampered("tombstone, but the payload remains", fresh() || fx_sql(work, sql),
		 "entry 10: a tombstone records its erasure but its ciphertext or key remains", ERASED);
	/* The tombstone now names entry 11: it still parses and chains,
	 * and is the last entry before checkpoint 301. */
	tampered("tombstone body rewritten", fresh() ||
		 fx_edit(work, "entry", "leaf", "idx = 300", 0, edit_erased, NULL),
		 "tree over entries 0..300 does not match the signed checkpoint of size 301", NONE);
}

/* An entry appended behind the ledger's back: a well-formed leaf 301
 * (right index, right chain link) that no checkpoint signs. */
static int forge_leaf(void *ctx, unsigned char *p, size_t len)
{
	const unsigned char *prev = ctx;
	size_t k = K_OFF(p[OFF_K]);
	cl_hash h;

	if (len < k + 104)
		return -1;
	cl_merkle_leaf_hash(prev, len, h);
	cl_store_be64(p + 2, 301);
	memset(p + k, 0, 32); /* no key hash: no dedup row is needed */
	cl_store_be64(p + k + 64, 300);
	memcpy(p + k + 72, h, 32);
	return 0;
}

static int copy_fn(void *ctx, unsigned char *p, size_t len)
{
	unsigned char **out = ctx;

	*out = malloc(len);
	if (*out == NULL)
		return -1;
	memcpy(*out, p, len);
	return 1; /* read only: do not write back */
}

static void test_unsigned_tail(void)
{
	unsigned char *prev = NULL;
	struct cl_ledger *l = NULL;
	char *err = NULL;
	uint64_t idx;
	enum cl_append_outcome dup;
	int setup;

	/* The tombstone's leaf (entry 300) is copied to 301, then forged. */
	setup = fresh() ||
		fx_sql(work, "INSERT INTO entry(idx, leaf, type, kind, sent_at)"
		       " SELECT 301, leaf, type, kind, sent_at FROM entry WHERE idx = 300") ||
		fx_edit(work, "entry", "leaf", "idx = 300", 0, copy_fn, &prev) != -1 ||
		prev == NULL ||
		fx_edit(work, "entry", "leaf", "idx = 301", 0, forge_leaf, prev);
	tampered("well-formed unsigned entry beyond the last checkpoint", setup,
		 "entries 301..301 are not covered by any signed checkpoint", 301);
	free(prev);

	/* The same through the library, then its checkpoint deleted. */
	setup = fresh() || cl_ledger_open(work, CL_OPEN_WRITE, &l, &err) != CL_OK ||
		cl_ledger_begin(l, &err) != CL_OK ||
		fx_record(l, "late", convs[0], "late", NULL, T0, &idx, &dup) != CL_OK ||
		fx_record(l, "later", convs[1], "later", NULL, T0, &idx, &dup) != CL_OK ||
		cl_ledger_commit(l, &err) != CL_OK;
	cl_ledger_close(l);
	free(err);
	setup = setup || fx_sql(work, "DELETE FROM checkpoint WHERE size = 303");
	tampered("entries whose checkpoint was deleted", setup,
		 "entries 301..302 are not covered by any signed checkpoint", 301);
	tampered("all checkpoints deleted", fresh() || fx_sql(work, "DELETE FROM checkpoint"),
		 "the archive has no signed checkpoint", NONE);
}

static void test_checkpoints_and_tree(void)
{
	char sql[4096];

	tampered("stored checkpoint signature byte", fresh() ||
		 fx_edit(work, "checkpoint", "note", "size = 150", 1, edit_sig, NULL),
		 "stored checkpoint of size 150: signature does not verify", NONE);
	snprintf(sql, sizeof(sql), "UPDATE checkpoint SET note = '%s' WHERE size = 300", other_cp);
	tampered("stored checkpoint signed with another key", fresh() || fx_sql(work, sql),
		 "stored checkpoint of size 300: signature does not verify", NONE);
	snprintf(sql, sizeof(sql), "UPDATE checkpoint SET size = 299 WHERE size = 300");
	tampered("stored checkpoint filed under another size", fresh() || fx_sql(work, sql),
		 "stored checkpoint filed under size 299 says size 300", NONE);
	tampered("stored tree node", fresh() ||
		 fx_flip(work, "node", "hash", "level = 8 AND pos = 0", 3),
		 "stored tree node (level 8, position 0) is missing or wrong", NONE);
	tampered("stored tree node deleted", fresh() ||
		 fx_sql(work, "DELETE FROM node WHERE level = 8 AND pos = 0"),
		 "stored tree node (level 8, position 0) is missing or wrong", NONE);
	tampered("stray tree node", fresh() ||
		 fx_sql(work, "INSERT INTO node(level, pos, hash) SELECT 8, 1, hash FROM node WHERE level = 8"),
		 "stored tree node (level 8, position 1) does not belong to a log of 301 entries", NONE);
	tampered("stored frontier", fresh() ||
		 fx_flip(work, "meta", "v", "k = 'frontier'", 20),
		 "the stored frontier (the tree's right edge the next commit builds on) does not match the log", NONE);
	tampered("stored frontier deleted", fresh() ||
		 fx_sql(work, "DELETE FROM meta WHERE k = 'frontier'"),
		 "the stored frontier is missing", NONE);
}

static void test_external(void)
{
	const char *cps[2];
	const char *names[2] = { "fork", "cp-150" };
	char *a, *b;

	opts.checkpoints = cps;
	opts.checkpoint_names = names;
	/* Same size, same key, other history (a split view). */
	cps[0] = fork301;
	cps[1] = cp150;
	opts.n_checkpoints = 2;
	expect_corrupt(base, "saved checkpoint of a forked history", 0,
		       "saved checkpoint 'fork' (size 301) does not match this log: its history was rewritten", NONE);
	/* Larger than the log: truncated or rolled back. */
	cps[0] = fork302;
	opts.n_checkpoints = 1;
	expect_corrupt(base, "saved checkpoint beyond the log", 0,
		       "saved checkpoint 'fork' has 302 entries but the log has only 301: the log was truncated or rolled back", NONE);
	cps[0] = cp301;
	expect_corrupt(pre_erase, "older copy against a newer saved checkpoint", 0,
		       "has 301 entries but the log has only 300", NONE);
	/* Signed by another key. */
	cps[0] = other_cp;
	expect_corrupt(base, "saved checkpoint signed with another key", 0,
		       "saved checkpoint 'fork': signature does not verify", NONE);
	opts.checkpoint_names = NULL;
	expect_corrupt(base, "saved checkpoint without a name", 0,
		       "saved checkpoint 'saved checkpoint': signature does not verify", NONE);
	reset_opts();

	/* The trusted key is not the archive's. */
	opts.trusted_vkey = other_vkey;
	expect_corrupt(base, "wrong trusted key", 0, "is not the trusted key", NONE);
	reset_opts();

	/* Key files. */
	a = fx_path(other, "log.pub");
	b = fx_path(work, "log.pub");
	tampered("log.pub substituted", fresh() || unlink(b) || fx_copy_file(a, b, 0644),
		 "log key substituted: log.pub", NONE);
	free(a);
	free(b);
	a = fx_path(other, "seal.pub");
	b = fx_path(work, "seal.pub");
	tampered("seal.pub substituted", fresh() || unlink(b) || fx_copy_file(a, b, 0644),
		 "seal.pub is not the public half of seal.key", NONE);
	free(a);
	free(b);
}

int main(void)
{
	if (sodium_init() < 0 || (scratch = fx_scratch("test_verify")) == NULL) {
		TAP_OK(0, "setup");
		return tap_done();
	}
	if (build() != CL_OK) {
		TAP_OK(0, "building the base archive");
	} else {
		test_base();
		test_leaf_and_payload();
		test_index_columns();
		test_rows();
		test_erasures();
		test_unsigned_tail();
		test_checkpoints_and_tree();
		test_external();
	}
	TAP_EQ_INT(fx_rm_tree(scratch), 0, "scratch directory removed");
	free(scratch);
	free(base);
	free(pre_erase);
	free(other);
	free(work);
	free(cp150);
	free(cp301);
	free(other_cp);
	free(fork301);
	free(fork302);
	free(other_vkey);
	return tap_done();
}
