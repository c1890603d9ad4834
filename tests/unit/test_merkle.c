/*
 * test_merkle.c - archiver/merkle: RFC 9162 known answers, the
 * transparency-dev/merkle proof vectors and their mutated negatives, an
 * exhaustive property test against a naive RFC transcription, and the
 * O(log n) cost of proof generation at a million leaves.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "archiver/ledger/merkle.h"
#include "tap.h"

/* Verification takes const cl_hash *; C17 needs the explicit cast. */
#define CP(p) ((const cl_hash *)(p))
#define HB CL_MERKLE_HASHBYTES

/* ---- helpers -------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode 64 lower-case hex digits; aborts the test on a typo. */
static void unhex(const char *s, cl_hash out)
{
	size_t i;

	if (strlen(s) != 2 * HB) {
		fprintf(stderr, "bad hex constant %s\n", s);
		exit(2);
	}
	for (i = 0; i < HB; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fprintf(stderr, "bad hex constant %s\n", s);
			exit(2);
		}
		out[i] = (unsigned char)(hi * 16 + lo);
	}
}

static int heq(const cl_hash a, const cl_hash b)
{
	return memcmp(a, b, HB) == 0;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
}

/* Leaf hash of the synthetic leaf i: the 8-byte big-endian index. */
static void synth_leaf(uint64_t i, cl_hash out)
{
	unsigned char d[8];

	put_be64(d, i);
	cl_merkle_leaf_hash(d, sizeof(d), out);
}

/* ---- naive RFC 9162 transcription (the reference) ------------------- */

static uint64_t ref_split(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void ref_mth(const cl_hash *l, uint64_t n, cl_hash out)
{
	cl_hash a, b;
	uint64_t k;

	if (n == 0) {
		cl_merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, l[0], HB);
		return;
	}
	k = ref_split(n);
	ref_mth(l, k, a);
	ref_mth(l + k, n - k, b);
	cl_merkle_node_hash(a, b, out);
}

/* PATH(m, D[n]) */
static void ref_path(uint64_t m, const cl_hash *l, uint64_t n, cl_hash *out,
		     size_t *cnt)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = ref_split(n);
	if (m < k) {
		ref_path(m, l, k, out, cnt);
		ref_mth(l + k, n - k, out[(*cnt)++]);
	} else {
		ref_path(m - k, l + k, n - k, out, cnt);
		ref_mth(l, k, out[(*cnt)++]);
	}
}

/* SUBPROOF(m, D[n], b) */
static void ref_subproof(uint64_t m, const cl_hash *l, uint64_t n, int b,
			 cl_hash *out, size_t *cnt)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			ref_mth(l, m, out[(*cnt)++]);
		return;
	}
	k = ref_split(n);
	if (m <= k) {
		ref_subproof(m, l, k, b, out, cnt);
		ref_mth(l + k, n - k, out[(*cnt)++]);
	} else {
		ref_subproof(m - k, l + k, n - k, 0, out, cnt);
		ref_mth(l, k, out[(*cnt)++]);
	}
}

/* ---- an in-memory cl_merkle_src ------------------------------------- */

struct memsrc {
	struct cl_merkle_src src;
	const cl_hash *leaves; /* NULL: synthetic leaves (synth_leaf) */
	uint64_t limit;        /* reads at or past this are a violation */
	cl_hash *nodes[64];    /* nodes[level][index], filled by ms_emit */
	unsigned char *have[64];
	uint64_t cap[64];
	unsigned long leaf_calls, leaves_read, node_calls;
	int bad;         /* the library broke the src contract */
	int fail_leaves; /* make leaf_hashes fail with CL_EIO */
};

static int ms_leaves(void *ctx, uint64_t first, uint64_t count, cl_hash *out)
{
	struct memsrc *ms = ctx;
	unsigned nl = ms->src.node_level;
	uint64_t i;

	if (ms->fail_leaves)
		return CL_EIO;
	if (count == 0 || (nl < 64 && count > ((uint64_t)1 << nl)) ||
	    first > ms->limit || count > ms->limit - first) {
		ms->bad = 1;
		return CL_EINVAL;
	}
	ms->leaf_calls++;
	ms->leaves_read += count;
	for (i = 0; i < count; i++) {
		if (ms->leaves != NULL)
			memcpy(out[i], ms->leaves[first + i], HB);
		else
			synth_leaf(first + i, out[i]);
	}
	return CL_OK;
}

static int ms_node(void *ctx, unsigned level, uint64_t index, cl_hash out)
{
	struct memsrc *ms = ctx;

	ms->node_calls++;
	if (level < ms->src.node_level || level >= 64 ||
	    ms->nodes[level] == NULL || index >= ms->cap[level] ||
	    ((index + 1) << level) > ms->limit) {
		ms->bad = 1;
		return CL_EINVAL;
	}
	if (!ms->have[level][index]) {
		ms->bad = 1;
		return CL_ENOTFOUND;
	}
	memcpy(out, ms->nodes[level][index], HB);
	return CL_OK;
}

static int ms_emit(void *ctx, unsigned level, uint64_t index,
		   const cl_hash hash)
{
	struct memsrc *ms = ctx;

	if (level >= 64 || ms->nodes[level] == NULL ||
	    index >= ms->cap[level]) {
		ms->bad = 1;
		return CL_OK;
	}
	memcpy(ms->nodes[level][index], hash, HB);
	ms->have[level][index] = 1;
	return CL_OK;
}

/*
 * A source over `leaves` (or synthetic ones) with room for nodes of every
 * level >= node_level of a tree of up to `max` leaves; use_node selects
 * whether proofs may use node().
 */
static void ms_init(struct memsrc *ms, const cl_hash *leaves, uint64_t max,
		    int use_node, unsigned node_level)
{
	unsigned l;

	memset(ms, 0, sizeof(*ms));
	ms->leaves = leaves;
	ms->limit = max;
	ms->src.ctx = ms;
	ms->src.leaf_hashes = ms_leaves;
	ms->src.node = use_node ? ms_node : NULL;
	ms->src.node_level = node_level;
	for (l = node_level; use_node && l < 64 && (max >> l) > 0; l++) {
		ms->cap[l] = max >> l;
		ms->nodes[l] = calloc((size_t)ms->cap[l], sizeof(cl_hash));
		ms->have[l] = calloc((size_t)ms->cap[l], 1);
		if (ms->nodes[l] == NULL || ms->have[l] == NULL) {
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
	}
}

static void ms_free(struct memsrc *ms)
{
	unsigned l;

	for (l = 0; l < 64; l++) {
		free(ms->nodes[l]);
		free(ms->have[l]);
	}
}

static void ms_reset_counters(struct memsrc *ms)
{
	ms->leaf_calls = ms->leaves_read = ms->node_calls = 0;
}

/* ---- 1. known answers ----------------------------------------------- */

/* transparency-dev/merkle testonly/constants.go */
static const char *const leaf_inputs[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};

static const char *const root_hex[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* node_hex[level][index] */
static const char *const node_hex[4][8] = {
	{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
		"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
		"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
		"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
		"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
	},
	{
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
	},
	{
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	},
	{
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	},
};

static cl_hash kat_leaf[8];   /* leaf hashes of D0..D7 */
static cl_hash kat_root[9];   /* published roots */
static cl_hash kat_node[4][8]; /* published node hashes */

static void kat_setup(void)
{
	unsigned i, l;

	for (i = 0; i < 8; i++) {
		unsigned char d[16];
		size_t n = strlen(leaf_inputs[i]) / 2, j;

		for (j = 0; j < n; j++)
			d[j] = (unsigned char)(hexval(leaf_inputs[i][2 * j]) * 16 +
					       hexval(leaf_inputs[i][2 * j + 1]));
		cl_merkle_leaf_hash(n ? d : NULL, n, kat_leaf[i]);
	}
	for (i = 0; i < 9; i++)
		unhex(root_hex[i], kat_root[i]);
	for (l = 0; l < 4; l++)
		for (i = 0; i < (8u >> l); i++)
			unhex(node_hex[l][i], kat_node[l][i]);
}

struct emitted {
	unsigned n;
	unsigned level[32];
	uint64_t index[32];
	cl_hash hash[32];
	int fail_at; /* return 42 on this call number (1-based); 0 = never */
};

static int record_emit(void *ctx, unsigned level, uint64_t index,
		       const cl_hash hash)
{
	struct emitted *e = ctx;

	if (e->fail_at && e->n + 1 == (unsigned)e->fail_at) {
		e->fail_at = 0;
		return 42;
	}
	if (e->n < 32) {
		e->level[e->n] = level;
		e->index[e->n] = index;
		memcpy(e->hash[e->n], hash, HB);
	}
	e->n++;
	return CL_OK;
}

static void test_known_answers(void)
{
	struct cl_merkle_range r;
	struct emitted e;
	struct memsrc ms;
	cl_hash h, empty;
	unsigned i, ok;
	/* transparency-dev CompactTrees(): (level, index) per size */
	static const unsigned compact[9][3][2] = {
		{ { 0, 0 } }, /* unused */
		{ { 0, 0 } },
		{ { 1, 0 } },
		{ { 1, 0 }, { 0, 2 } },
		{ { 2, 0 } },
		{ { 2, 0 }, { 0, 4 } },
		{ { 2, 0 }, { 1, 2 } },
		{ { 2, 0 }, { 1, 2 }, { 0, 6 } },
		{ { 3, 0 } },
	};
	static const unsigned compact_n[9] = { 0, 1, 1, 2, 1, 2, 2, 3, 1 };

	cl_merkle_empty_root(empty);
	TAP_OK(heq(empty, kat_root[0]), "empty root is SHA-256(\"\")");
	for (i = 0, ok = 1; i < 8; i++)
		ok &= (unsigned)heq(kat_leaf[i], kat_node[0][i]);
	TAP_OK(ok, "leaf hashes of D0..D7 match NodeHashes level 0");
	cl_merkle_node_hash(kat_leaf[0], kat_leaf[1], h);
	TAP_OK(heq(h, kat_node[1][0]), "node hash of L0,L1 is fac54203");
	memcpy(h, kat_leaf[0], HB);
	cl_merkle_node_hash(h, kat_leaf[1], h);
	TAP_OK(heq(h, kat_node[1][0]), "node hash with out aliasing left");
	memcpy(h, kat_leaf[1], HB);
	cl_merkle_node_hash(kat_leaf[0], h, h);
	TAP_OK(heq(h, kat_node[1][0]), "node hash with out aliasing right");

	/* roots and compact-range contents for sizes 0..8 */
	cl_merkle_range_init(&r);
	memset(&e, 0, sizeof(e));
	ms_init(&ms, CP(kat_leaf), 8, 0, 0);
	for (i = 0; i <= 8; i++) {
		unsigned j;

		if (i > 0)
			TAP_EQ_INT(cl_merkle_range_append(&r, kat_leaf[i - 1],
							  record_emit, &e, 0),
				   CL_OK, "append");
		cl_merkle_range_root(&r, h);
		TAP_OK(heq(h, kat_root[i]), "range root of size %u", i);
		ok = r.size == i && r.count == compact_n[i];
		for (j = 0; ok && j < compact_n[i]; j++)
			ok = (unsigned)heq(r.hashes[j],
					   kat_node[compact[i][j][0]][compact[i][j][1]]);
		TAP_OK(ok, "compact range of size %u matches CompactTrees", i);
		ms.limit = i;
		TAP_OK(cl_merkle_subtree_hash(&ms.src, 0, i, h) == CL_OK &&
			       heq(h, kat_root[i]),
		       "subtree_hash(0, %u) from leaves", i);
	}
	ms_free(&ms);

	/* every emitted node: 15 for 8 leaves, lowest level first */
	TAP_EQ_INT(e.n, 15, "8 appends emit 15 nodes at min_level 0");
	{
		static const unsigned lv[15] = { 0, 0, 1, 0, 0, 1, 2, 0,
						 0, 1, 0, 0, 1, 2, 3 };
		static const unsigned ix[15] = { 0, 1, 0, 2, 3, 1, 0, 4,
						 5, 2, 6, 7, 3, 1, 0 };

		for (i = 0, ok = 1; i < 15; i++)
			ok &= e.level[i] == lv[i] && e.index[i] == ix[i] &&
			      heq(e.hash[i], kat_node[lv[i]][ix[i]]);
		TAP_OK(ok, "emitted (level, index, hash) sequence and values");
	}

	/* min_level 1: only the level-1..3 nodes */
	cl_merkle_range_init(&r);
	memset(&e, 0, sizeof(e));
	for (i = 0; i < 8; i++)
		(void)cl_merkle_range_append(&r, kat_leaf[i], record_emit, &e, 1);
	ok = e.n == 7;
	for (i = 0; ok && i < e.n; i++)
		ok = e.level[i] >= 1 &&
		     heq(e.hash[i], kat_node[e.level[i]][e.index[i]]);
	TAP_OK(ok, "min_level 1 emits the 4 level-1, 2 level-2, 1 level-3 nodes");
	for (i = 0, ok = 0; i < e.n; i++)
		ok += e.level[i] == 1 ? 1u : e.level[i] == 2 ? 10u : 100u;
	TAP_EQ_INT(ok, 4 + 20 + 100, "level histogram 4/2/1");

	/* emit failure leaves the range unchanged and propagates */
	{
		struct cl_merkle_range before;

		cl_merkle_range_init(&r);
		memset(&e, 0, sizeof(e));
		for (i = 0; i < 7; i++)
			(void)cl_merkle_range_append(&r, kat_leaf[i], NULL,
						     NULL, 0);
		before = r;
		e.fail_at = 3; /* level 0, 1 fine; level 2 fails */
		TAP_EQ_INT(cl_merkle_range_append(&r, kat_leaf[7], record_emit,
						  &e, 0),
			   42, "emit error is returned");
		TAP_OK(memcmp(&before, &r, sizeof(r)) == 0,
		       "range unchanged after emit error");
		TAP_EQ_INT(cl_merkle_range_append(&r, kat_leaf[7], record_emit,
						  &e, 0),
			   CL_OK, "retry succeeds");
		cl_merkle_range_root(&r, h);
		TAP_OK(heq(h, kat_root[8]), "root after retry");
	}

	/* a full range cannot grow */
	memset(&r, 0, sizeof(r));
	r.size = UINT64_MAX;
	r.count = 64;
	TAP_EQ_INT(cl_merkle_range_append(&r, kat_leaf[0], NULL, NULL, 0),
		   CL_EINVAL, "append to a range of 2^64-1 leaves");
}

/* ---- 2. published proof vectors ------------------------------------- */

struct nodeid {
	unsigned level, index;
};

struct incl_vec {
	uint64_t index, size;
	size_t n;
	struct nodeid p[3];
};

struct cons_vec {
	uint64_t size1, size2;
	size_t n;
	struct nodeid p[3];
};

/* testdata/{inclusion,consistency}/N/happy-path.json, as node coordinates */
static const struct incl_vec incl_vecs[] = {
	{ 0, 8, 3, { { 0, 1 }, { 1, 1 }, { 2, 1 } } },
	{ 5, 8, 3, { { 0, 4 }, { 1, 3 }, { 2, 0 } } },
	{ 2, 3, 1, { { 1, 0 } } },
	{ 0, 1, 0, { { 0, 0 } } },
};

static const struct cons_vec cons_vecs[] = {
	{ 1, 8, 3, { { 0, 1 }, { 1, 1 }, { 2, 1 } } },
	{ 6, 8, 3, { { 1, 2 }, { 1, 3 }, { 2, 0 } } },
	{ 2, 5, 2, { { 1, 1 }, { 0, 4 } } },
	{ 6, 7, 3, { { 1, 2 }, { 0, 6 }, { 2, 0 } } },
};

#define NVEC 4
#define NCFG 4

/* Proof-source configurations over the 8 KAT leaves. */
static const struct {
	int use_node;
	unsigned node_level;
	const char *name;
} kat_cfg[NCFG] = {
	{ 0, 0, "leaves only" },
	{ 1, 1, "node_level 1" },
	{ 1, 2, "node_level 2" },
	{ 0, 2, "leaves only, chunks of 4" },
};

static void test_vectors(void)
{
	unsigned c, v, i;

	for (c = 0; c < NCFG; c++) {
		struct memsrc ms;
		struct cl_merkle_range r;

		ms_init(&ms, CP(kat_leaf), 8, kat_cfg[c].use_node,
			kat_cfg[c].node_level);
		cl_merkle_range_init(&r);
		for (i = 0; i < 8; i++)
			(void)cl_merkle_range_append(
				&r, kat_leaf[i], kat_cfg[c].use_node ? ms_emit : NULL,
				&ms, kat_cfg[c].node_level);
		for (v = 0; v < NVEC; v++) {
			const struct incl_vec *iv = &incl_vecs[v];
			cl_hash proof[CL_MERKLE_MAXPROOF];
			size_t n = 99;
			int rc, ok;

			ms.limit = iv->size;
			rc = cl_merkle_prove_inclusion(&ms.src, iv->index,
						       iv->size, proof, &n);
			ok = rc == CL_OK && n == iv->n;
			for (i = 0; ok && i < n; i++)
				ok = heq(proof[i],
					 kat_node[iv->p[i].level][iv->p[i].index]);
			TAP_OK(ok, "%s: inclusion %llu of %llu matches vector",
			       kat_cfg[c].name, (unsigned long long)iv->index,
			       (unsigned long long)iv->size);
			TAP_EQ_INT(cl_merkle_verify_inclusion(
					   iv->index, iv->size,
					   kat_leaf[iv->index], CP(proof), n,
					   kat_root[iv->size]),
				   CL_OK, "  and verifies");
		}
		for (v = 0; v < NVEC; v++) {
			const struct cons_vec *cv = &cons_vecs[v];
			cl_hash proof[CL_MERKLE_MAXPROOF];
			size_t n = 99;
			int rc, ok;

			ms.limit = cv->size2;
			rc = cl_merkle_prove_consistency(&ms.src, cv->size1,
							 cv->size2, proof, &n);
			ok = rc == CL_OK && n == cv->n;
			for (i = 0; ok && i < n; i++)
				ok = heq(proof[i],
					 kat_node[cv->p[i].level][cv->p[i].index]);
			TAP_OK(ok, "%s: consistency %llu -> %llu matches vector",
			       kat_cfg[c].name, (unsigned long long)cv->size1,
			       (unsigned long long)cv->size2);
			TAP_EQ_INT(cl_merkle_verify_consistency(
					   cv->size1, cv->size2,
					   kat_root[cv->size1],
					   kat_root[cv->size2], CP(proof), n),
				   CL_OK, "  and verifies");
		}
		TAP_OK(!ms.bad, "%s: source contract respected", kat_cfg[c].name);
		ms_free(&ms);
	}
}

/* ---- 3. negative corpus --------------------------------------------- */

static cl_hash garbage;

static void reject_incl(const char *vec, const char *what, uint64_t index,
			uint64_t size, const cl_hash leaf, const cl_hash *proof,
			size_t n, const cl_hash root)
{
	int rc = cl_merkle_verify_inclusion(index, size, leaf, proof, n, root);

	TAP_OK(rc == CL_EINVAL || rc == CL_ECORRUPT, "%s: %s rejected (rc %d)",
	       vec, what, rc);
}

static void reject_cons(const char *vec, const char *what, uint64_t size1,
			uint64_t size2, const cl_hash root1,
			const cl_hash root2, const cl_hash *proof, size_t n)
{
	int rc = cl_merkle_verify_consistency(size1, size2, root1, root2, proof,
					      n);

	TAP_OK(rc == CL_EINVAL || rc == CL_ECORRUPT, "%s: %s rejected (rc %d)",
	       vec, what, rc);
}

/*
 * The shape of PATH(m, D[n]) / SUBPROOF(m, D[n], b) from the RFC 9162
 * recursion, bottom-up: 'R' sibling on the right, 'L' on the left, 'M'
 * the leading MTH of an old subtree.  Two statements with the same shape
 * make the verifier compute exactly the same hashes.
 */
static void path_shape(uint64_t m, uint64_t n, char *s, size_t *len)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = ref_split(n);
	if (m < k)
		path_shape(m, k, s, len);
	else
		path_shape(m - k, n - k, s, len);
	s[(*len)++] = m < k ? 'R' : 'L';
}

static void cons_shape(uint64_t m, uint64_t n, int b, char *s, size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!b)
			s[(*len)++] = 'M';
		return;
	}
	k = ref_split(n);
	if (m <= k)
		cons_shape(m, k, b, s, len);
	else
		cons_shape(m - k, n - k, 0, s, len);
	s[(*len)++] = m <= k ? 'R' : 'L';
}

/* Same shape as (oindex, osize)?  Sizes are small here (< 2^10). */
static int same_path_shape(uint64_t index, uint64_t size, uint64_t oindex,
			   uint64_t osize)
{
	char a[130], b[130];
	size_t na = 0, nb = 0;

	if (index >= size || size > 1024)
		return 0;
	path_shape(index, size, a, &na);
	path_shape(oindex, osize, b, &nb);
	return na == nb && memcmp(a, b, na) == 0;
}

static int same_cons_shape(uint64_t size1, uint64_t size2, uint64_t osize1,
			   uint64_t osize2)
{
	char a[130], b[130];
	size_t na = 0, nb = 0;

	if (size1 == 0 || size1 > size2 || size2 > 1024)
		return 0;
	cons_shape(size1, size2, 1, a, &na);
	cons_shape(osize1, osize2, 1, b, &nb);
	return na == nb && memcmp(a, b, na) == 0;
}

static void resize_incl(const char *vec, const char *what, uint64_t index,
			uint64_t size, uint64_t oindex, uint64_t osize,
			const cl_hash leaf, const cl_hash *proof, size_t n,
			const cl_hash root)
{
	int rc = cl_merkle_verify_inclusion(index, size, leaf, proof, n, root);

	if (same_path_shape(index, size, oindex, osize))
		TAP_OK(rc == CL_OK, "%s: %s has the same path shape: accepted",
		       vec, what);
	else
		TAP_OK(rc == CL_EINVAL || rc == CL_ECORRUPT,
		       "%s: %s rejected (rc %d)", vec, what, rc);
}

static void resize_cons(const char *vec, const char *what, uint64_t size1,
			uint64_t size2, uint64_t osize1, uint64_t osize2,
			const cl_hash root1, const cl_hash root2,
			const cl_hash *proof, size_t n)
{
	int rc = cl_merkle_verify_consistency(size1, size2, root1, root2, proof,
					      n);

	if (same_cons_shape(size1, size2, osize1, osize2))
		TAP_OK(rc == CL_OK, "%s: %s has the same proof shape: accepted",
		       vec, what);
	else
		TAP_OK(rc == CL_EINVAL || rc == CL_ECORRUPT,
		       "%s: %s rejected (rc %d)", vec, what, rc);
}

/* 1 if verifying the (oindex, osize) proof as (index, size) passes exactly
   when the two paths have the same shape. */
static int incl_shape_rule(uint64_t index, uint64_t size, uint64_t oindex,
			   uint64_t osize, const cl_hash leaf,
			   const cl_hash *proof, size_t n, const cl_hash root)
{
	int rc = cl_merkle_verify_inclusion(index, size, leaf, proof, n, root);

	if (same_path_shape(index, size, oindex, osize))
		return rc == CL_OK;
	return rc == CL_EINVAL || rc == CL_ECORRUPT;
}

static int cons_shape_rule(uint64_t size1, uint64_t size2, uint64_t osize1,
			   uint64_t osize2, const cl_hash root1,
			   const cl_hash root2, const cl_hash *proof, size_t n)
{
	int rc = cl_merkle_verify_consistency(size1, size2, root1, root2, proof,
					      n);

	if (size1 == size2 && size1 != 0)
		return rc == (n == 0 && heq(root1, root2) ? CL_OK :
			      n == 0 ? CL_ECORRUPT : CL_EINVAL);
	if (same_cons_shape(size1, size2, osize1, osize2))
		return rc == CL_OK;
	return rc == CL_EINVAL || rc == CL_ECORRUPT;
}

/* p = proof with element `at` removed (at < n) */
static size_t removed(cl_hash *p, const cl_hash *proof, size_t n, size_t at)
{
	size_t i, j = 0;

	for (i = 0; i < n; i++)
		if (i != at)
			memcpy(p[j++], proof[i], HB);
	return j;
}

/* p = proof with `h` inserted before element `at` (at <= n) */
static size_t inserted(cl_hash *p, const cl_hash *proof, size_t n, size_t at,
		       const cl_hash h)
{
	size_t i, j = 0;

	for (i = 0; i <= n; i++) {
		if (i == at)
			memcpy(p[j++], h, HB);
		if (i < n)
			memcpy(p[j++], proof[i], HB);
	}
	return j;
}

static void mutate_inclusion(uint64_t index, uint64_t size,
			     const cl_hash leaf, const cl_hash *proof,
			     size_t n, const cl_hash root)
{
	cl_hash p[CL_MERKLE_MAXPROOF + 2], bad, empty;
	char vec[48], what[64];
	size_t k, m;

	snprintf(vec, sizeof(vec), "inclusion %llu of %llu",
		 (unsigned long long)index, (unsigned long long)size);
	cl_merkle_empty_root(empty);
	TAP_EQ_INT(cl_merkle_verify_inclusion(index, size, leaf, proof, n, root),
		   CL_OK, "happy path verifies");
	for (k = 0; k < n; k++) {
		memcpy(p, proof, n * HB);
		p[k][0] ^= 8;
		snprintf(what, sizeof(what), "modified-proof[%zu]-bit-3", k);
		reject_incl(vec, what, index, size, leaf, CP(p), n, root);
		memcpy(p, proof, n * HB);
		p[k][HB - 1] ^= 0x80;
		snprintf(what, sizeof(what), "modified-proof[%zu]-bit-255", k);
		reject_incl(vec, what, index, size, leaf, CP(p), n, root);
		m = removed(p, proof, n, k);
		snprintf(what, sizeof(what), "removed-component[%zu]", k);
		reject_incl(vec, what, index, size, leaf, CP(p), m, root);
	}
	for (k = 0; k <= n; k++) {
		m = inserted(p, proof, n, k, garbage);
		snprintf(what, sizeof(what), "inserted-component@%zu", k);
		reject_incl(vec, what, index, size, leaf, CP(p), m, root);
	}
	if (n > 0) {
		reject_incl(vec, "empty-proof", index, size, leaf, NULL, 0, root);
		reject_incl(vec, "truncated-proof", index, size, leaf, proof,
			    n - 1, root);
		m = inserted(p, proof, n, 0, proof[0]);
		reject_incl(vec, "preceding-proof[0]", index, size, leaf, CP(p),
			    m, root);
	}
	m = inserted(p, proof, n, 0, garbage);
	reject_incl(vec, "preceding-garbage", index, size, leaf, CP(p), m, root);
	m = inserted(p, proof, n, n, garbage);
	reject_incl(vec, "trailing-garbage", index, size, leaf, CP(p), m, root);
	m = inserted(p, proof, n, 0, root);
	reject_incl(vec, "preceding-root", index, size, leaf, CP(p), m, root);
	m = inserted(p, proof, n, n, root);
	reject_incl(vec, "trailing-root", index, size, leaf, CP(p), m, root);
	memcpy(bad, leaf, HB);
	bad[0] ^= 1;
	reject_incl(vec, "wrong-leaf", index, size, bad, proof, n, root);
	memcpy(bad, root, HB);
	bad[7] ^= 0x40;
	reject_incl(vec, "random-root", index, size, leaf, proof, n, bad);
	reject_incl(vec, "empty-root", index, size, leaf, proof, n, empty);
	if (!heq(leaf, root)) /* for a 1-leaf tree they are equal */
		reject_incl(vec, "leaf-and-root-swapped", index, size, root,
			    proof, n, leaf);
	/*
	 * Index and size changes.  RFC 9162 verification depends only on the
	 * shape of the path, so a change that keeps the shape (0 of 8 vs 0 of
	 * 7) verifies by design; every other one must be rejected.
	 */
	resize_incl(vec, "leafIdx-+-1", index + 1, size, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "leafIdx---1", index - 1, size, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "leafIdx-^-2", index ^ 2, size, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "treeSize-*-2", index, size * 2, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "treeSize-div-2", index, size / 2, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "treeSize-+-1", index, size + 1, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "treeSize---1", index, size - 1, index, size, leaf,
		    proof, n, root);
	resize_incl(vec, "treeSize-0", index, 0, index, size, leaf, proof, n,
		    root);
	resize_incl(vec, "treeSize-max", index, UINT64_MAX, index, size, leaf,
		    proof, n, root);
}

static void mutate_consistency(uint64_t size1, uint64_t size2,
			       const cl_hash root1, const cl_hash root2,
			       const cl_hash *proof, size_t n)
{
	cl_hash p[CL_MERKLE_MAXPROOF + 2], bad;
	char vec[48], what[64];
	size_t k, m;

	snprintf(vec, sizeof(vec), "consistency %llu -> %llu",
		 (unsigned long long)size1, (unsigned long long)size2);
	TAP_EQ_INT(cl_merkle_verify_consistency(size1, size2, root1, root2,
						proof, n),
		   CL_OK, "happy path verifies");
	for (k = 0; k < n; k++) {
		memcpy(p, proof, n * HB);
		p[k][0] ^= 16;
		snprintf(what, sizeof(what), "modified-proof[%zu]-bit-4", k);
		reject_cons(vec, what, size1, size2, root1, root2, CP(p), n);
		memcpy(p, proof, n * HB);
		p[k][HB - 1] ^= 0x80;
		snprintf(what, sizeof(what), "modified-proof[%zu]-bit-255", k);
		reject_cons(vec, what, size1, size2, root1, root2, CP(p), n);
		m = removed(p, proof, n, k);
		snprintf(what, sizeof(what), "removed-component[%zu]", k);
		reject_cons(vec, what, size1, size2, root1, root2, CP(p), m);
	}
	for (k = 0; k <= n; k++) {
		m = inserted(p, proof, n, k, garbage);
		snprintf(what, sizeof(what), "inserted-component@%zu", k);
		reject_cons(vec, what, size1, size2, root1, root2, CP(p), m);
	}
	reject_cons(vec, "empty-proof", size1, size2, root1, root2, NULL, 0);
	reject_cons(vec, "truncated-proof", size1, size2, root1, root2, proof,
		    n - 1);
	m = inserted(p, proof, n, 0, proof[0]);
	reject_cons(vec, "preceding-proof[0]", size1, size2, root1, root2,
		    CP(p), m);
	m = inserted(p, proof, n, 0, garbage);
	reject_cons(vec, "preceding-garbage", size1, size2, root1, root2, CP(p),
		    m);
	m = inserted(p, proof, n, n, garbage);
	reject_cons(vec, "trailing-garbage", size1, size2, root1, root2, CP(p),
		    m);
	m = inserted(p, proof, n, 0, root1);
	reject_cons(vec, "preceding-root1", size1, size2, root1, root2, CP(p),
		    m);
	m = inserted(p, proof, n, 0, root2);
	reject_cons(vec, "preceding-root2", size1, size2, root1, root2, CP(p),
		    m);
	m = inserted(p, proof, n, n, root1);
	reject_cons(vec, "trailing-root1", size1, size2, root1, root2, CP(p),
		    m);
	m = inserted(p, proof, n, n, root2);
	reject_cons(vec, "trailing-root2", size1, size2, root1, root2, CP(p),
		    m);
	memcpy(bad, root1, HB);
	bad[0] ^= 1;
	reject_cons(vec, "wrong-root1", size1, size2, bad, root2, proof, n);
	memcpy(bad, root2, HB);
	bad[0] ^= 1;
	reject_cons(vec, "wrong-root2", size1, size2, root1, bad, proof, n);
	reject_cons(vec, "swapped-roots", size1, size2, root2, root1, proof, n);
	/* size changes: as for inclusion, only a shape change must fail */
	resize_cons(vec, "size1-+-1", size1 + 1, size2, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size1---1", size1 - 1, size2, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size1-^-2", size1 ^ 2, size2, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size2-*-2", size1, size2 * 2, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size2-div-2", size1, size2 / 2, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size2-+-1", size1, size2 + 1, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size2---1", size1, size2 - 1, size1, size2, root1,
		    root2, proof, n);
	resize_cons(vec, "size1-0", 0, size2, size1, size2, root1, root2,
		    proof, n);
	resize_cons(vec, "size2-max", size1, UINT64_MAX, size1, size2, root1,
		    root2, proof, n);
	reject_cons(vec, "sizes-swapped", size2, size1, root2, root1, proof, n);
}

static void test_negatives(void)
{
	unsigned v, i;
	cl_hash proof[CL_MERKLE_MAXPROOF], empty;

	for (i = 0; i < HB; i++)
		garbage[i] = (unsigned char)(0xa5 ^ i);
	cl_merkle_empty_root(empty);
	for (v = 0; v < NVEC; v++) {
		const struct incl_vec *iv = &incl_vecs[v];

		for (i = 0; i < iv->n; i++)
			memcpy(proof[i], kat_node[iv->p[i].level][iv->p[i].index],
			       HB);
		mutate_inclusion(iv->index, iv->size, kat_leaf[iv->index],
				 CP(proof), iv->n, kat_root[iv->size]);
	}
	for (v = 0; v < NVEC; v++) {
		const struct cons_vec *cv = &cons_vecs[v];

		for (i = 0; i < cv->n; i++)
			memcpy(proof[i], kat_node[cv->p[i].level][cv->p[i].index],
			       HB);
		mutate_consistency(cv->size1, cv->size2, kat_root[cv->size1],
				   kat_root[cv->size2], CP(proof), cv->n);
	}

	/* testdata/inclusion/additional: the empty tree proves nothing */
	for (i = 0; i < 4; i++)
		TAP_EQ_INT(cl_merkle_verify_inclusion(i, 0, kat_leaf[0], NULL, 0,
						      empty),
			   CL_EINVAL, "inclusion in the empty tree");
	TAP_EQ_INT(cl_merkle_verify_inclusion(0, 0, garbage, NULL, 0, empty),
		   CL_EINVAL, "random leaf in the empty tree");

	/* consistency edge cases (proof/verify.go) */
	TAP_EQ_INT(cl_merkle_verify_consistency(0, 0, empty, empty, NULL, 0),
		   CL_EINVAL, "consistency 0 -> 0 rejected");
	TAP_EQ_INT(cl_merkle_verify_consistency(0, 5, empty, kat_root[5], NULL,
						0),
		   CL_EINVAL, "consistency 0 -> 5 rejected");
	TAP_EQ_INT(cl_merkle_verify_consistency(5, 5, kat_root[5], kat_root[5],
						NULL, 0),
		   CL_OK, "consistency 5 -> 5, same root, empty proof");
	TAP_EQ_INT(cl_merkle_verify_consistency(5, 5, kat_root[5], kat_root[4],
						NULL, 0),
		   CL_ECORRUPT, "consistency 5 -> 5 with different roots");
	TAP_EQ_INT(cl_merkle_verify_consistency(5, 5, kat_root[5], kat_root[5],
						CP(kat_root), 1),
		   CL_EINVAL, "consistency 5 -> 5 with a non-empty proof");
	TAP_EQ_INT(cl_merkle_verify_consistency(6, 5, kat_root[6], kat_root[5],
						NULL, 0),
		   CL_EINVAL, "consistency 6 -> 5 rejected");
	TAP_EQ_INT(cl_merkle_verify_inclusion(0, 8, kat_leaf[0], NULL, 3,
					      kat_root[8]),
		   CL_EINVAL, "NULL proof with a count");

	/* huge sizes must not misbehave: right length, garbage content */
	{
		cl_hash big[CL_MERKLE_MAXPROOF];

		for (i = 0; i < CL_MERKLE_MAXPROOF; i++)
			memcpy(big[i], garbage, HB);
		/* index 2^64-2 = 0b1..10: inner 0, border 63 */
		TAP_EQ_INT(cl_merkle_verify_inclusion(UINT64_MAX - 1,
						      UINT64_MAX, garbage,
						      CP(big), 63, garbage),
			   CL_ECORRUPT, "inclusion at 2^64-2 of 2^64-1");
		TAP_EQ_INT(cl_merkle_verify_inclusion(UINT64_MAX - 1,
						      UINT64_MAX, garbage,
						      CP(big), 64, garbage),
			   CL_EINVAL, "  with 64 elements: wrong length");
		TAP_EQ_INT(cl_merkle_verify_inclusion(0, UINT64_MAX, garbage,
						      CP(big), 64, garbage),
			   CL_ECORRUPT, "inclusion 0 of 2^64-1");
		TAP_EQ_INT(cl_merkle_verify_inclusion(0, UINT64_MAX, garbage,
						      CP(big),
						      CL_MERKLE_MAXPROOF,
						      garbage),
			   CL_EINVAL, "inclusion with 128 elements");
		/* old tree is the whole left half: one element */
		TAP_EQ_INT(cl_merkle_verify_consistency(
				   (uint64_t)1 << 63, UINT64_MAX, garbage,
				   garbage, CP(big), 1),
			   CL_ECORRUPT, "consistency 2^63 -> 2^64-1");
		TAP_EQ_INT(cl_merkle_verify_consistency(
				   (uint64_t)1 << 63, UINT64_MAX, garbage,
				   garbage, CP(big), 2),
			   CL_EINVAL, "  with 2 elements: wrong length");
		TAP_EQ_INT(cl_merkle_verify_consistency(
				   UINT64_MAX - 1, UINT64_MAX, garbage,
				   garbage, CP(big), 64),
			   CL_ECORRUPT, "consistency 2^64-2 -> 2^64-1");
		TAP_EQ_INT(cl_merkle_verify_consistency(
				   3, UINT64_MAX, garbage, garbage, CP(big),
				   (size_t)CL_MERKLE_MAXPROOF + 7),
			   CL_EINVAL, "consistency with 135 elements");
	}
}

/* ---- 4. property test ----------------------------------------------- */

#define PN 70

/* Proof-source configurations for the property test. */
static const struct {
	int use_node;
	unsigned node_level;
} prop_cfg[] = {
	{ 0, 0 }, { 0, 3 }, { 1, 0 }, { 1, 2 }, { 1, 5 }, { 1, 64 },
};
#define NPROP (sizeof(prop_cfg) / sizeof(prop_cfg[0]))

static void test_property(void)
{
	static cl_hash leaves[PN], roots[PN + 1];
	struct memsrc ms[NPROP];
	struct cl_merkle_range r, rc_ranges[NPROP];
	uint64_t n, i, m, b;
	unsigned c;
	int ok;

	cl_merkle_range_init(&r);
	for (c = 0; c < NPROP; c++) {
		ms_init(&ms[c], CP(leaves), PN, prop_cfg[c].use_node,
			prop_cfg[c].node_level);
		cl_merkle_range_init(&rc_ranges[c]);
	}
	cl_merkle_range_root(&r, roots[0]);
	for (i = 0; i < PN; i++) {
		synth_leaf(i * 7919, leaves[i]);
		(void)cl_merkle_range_append(&r, leaves[i], NULL, NULL, 0);
		cl_merkle_range_root(&r, roots[i + 1]);
		for (c = 0; c < NPROP; c++)
			(void)cl_merkle_range_append(
				&rc_ranges[c], leaves[i],
				prop_cfg[c].use_node ? ms_emit : NULL, &ms[c],
				prop_cfg[c].node_level);
	}

	for (n = 1; n <= PN; n++) {
		cl_hash ref[CL_MERKLE_MAXPROOF], got[CL_MERKLE_MAXPROOF], h;
		size_t nref, ngot;

		/* roots */
		ref_mth(CP(leaves), n, h);
		ok = heq(h, roots[n]);
		for (c = 0; c < NPROP; c++) {
			cl_hash s;

			ms[c].limit = n;
			ok &= cl_merkle_subtree_hash(&ms[c].src, 0, n, s) ==
				      CL_OK &&
			      heq(s, roots[n]);
		}
		TAP_OK(ok, "size %llu: range root = RFC MTH = subtree_hash(0,n) "
			   "in every configuration",
		       (unsigned long long)n);

		/* every inclusion proof */
		ok = 1;
		for (i = 0; i < n; i++) {
			nref = 0;
			ref_path(i, CP(leaves), n, ref, &nref);
			for (c = 0; c < NPROP; c++) {
				ok &= cl_merkle_prove_inclusion(&ms[c].src, i, n,
								got, &ngot) ==
					      CL_OK &&
				      ngot == nref &&
				      memcmp(got, ref, nref * HB) == 0;
			}
			ok &= cl_merkle_verify_inclusion(i, n, leaves[i], CP(ref),
							 nref, roots[n]) == CL_OK;
			ok &= cl_merkle_verify_inclusion(i, n, leaves[i], CP(ref),
							 nref, roots[n - 1]) !=
			      CL_OK;
			if (i + 1 < n)
				ok &= cl_merkle_verify_inclusion(
					      i, n, leaves[i + 1], CP(ref), nref,
					      roots[n]) != CL_OK;
			/* neighbouring statements pass iff the shape is equal */
			ok &= incl_shape_rule(i + 1, n, i, n, leaves[i], CP(ref),
					      nref, roots[n]);
			ok &= incl_shape_rule(i - 1, n, i, n, leaves[i], CP(ref),
					      nref, roots[n]);
			ok &= incl_shape_rule(i, n + 1, i, n, leaves[i], CP(ref),
					      nref, roots[n]);
			ok &= incl_shape_rule(i, n - 1, i, n, leaves[i], CP(ref),
					      nref, roots[n]);
		}
		TAP_OK(ok, "size %llu: every inclusion proof matches the RFC "
			   "and verifies",
		       (unsigned long long)n);

		/* every consistency proof */
		ok = 1;
		for (m = 1; m <= n; m++) {
			nref = 0;
			ref_subproof(m, CP(leaves), n, 1, ref, &nref);
			for (c = 0; c < NPROP; c++) {
				ok &= cl_merkle_prove_consistency(&ms[c].src, m,
								  n, got,
								  &ngot) ==
					      CL_OK &&
				      ngot == nref &&
				      memcmp(got, ref, nref * HB) == 0;
			}
			ok &= cl_merkle_verify_consistency(m, n, roots[m],
							   roots[n], CP(ref),
							   nref) == CL_OK;
			if (m < n)
				ok &= cl_merkle_verify_consistency(
					      m, n, roots[m - 1], roots[n],
					      CP(ref), nref) != CL_OK;
			ok &= cons_shape_rule(m + 1, n, m, n, roots[m], roots[n],
					      CP(ref), nref);
			ok &= cons_shape_rule(m - 1, n, m, n, roots[m], roots[n],
					      CP(ref), nref);
			ok &= cons_shape_rule(m, n + 1, m, n, roots[m], roots[n],
					      CP(ref), nref);
			ok &= cons_shape_rule(m, n - 1, m, n, roots[m], roots[n],
					      CP(ref), nref);
		}
		TAP_OK(ok, "size %llu: every consistency proof matches the RFC "
			   "and verifies",
		       (unsigned long long)n);
	}

	/* arbitrary (also unaligned) ranges */
	for (c = 0; c < NPROP; c++) {
		ok = 1;
		ms[c].limit = PN;
		for (b = 0; b <= PN; b++)
			for (n = b; n <= PN; n++) {
				cl_hash s, h;

				ref_mth(CP(leaves) + b, n - b, h);
				ok &= cl_merkle_subtree_hash(&ms[c].src, b, n,
							     s) == CL_OK &&
				      heq(s, h);
			}
		TAP_OK(ok, "config %u: subtree_hash(b, e) = RFC MTH for all "
			   "0 <= b <= e <= %d",
		       c, PN);
		TAP_OK(!ms[c].bad, "config %u: source contract respected", c);
		ms_free(&ms[c]);
	}
}

/* ---- argument errors and propagation -------------------------------- */

static void test_errors(void)
{
	struct memsrc ms;
	cl_hash proof[CL_MERKLE_MAXPROOF], h, empty;
	size_t n;

	ms_init(&ms, CP(kat_leaf), 8, 0, 0);
	cl_merkle_empty_root(empty);
	n = 7;
	TAP_EQ_INT(cl_merkle_prove_inclusion(&ms.src, 8, 8, proof, &n),
		   CL_EINVAL, "prove inclusion index == size");
	TAP_EQ_INT(n, 0, "count cleared on error");
	TAP_EQ_INT(cl_merkle_prove_inclusion(&ms.src, 0, 0, proof, &n),
		   CL_EINVAL, "prove inclusion in the empty tree");
	TAP_EQ_INT(cl_merkle_prove_consistency(&ms.src, 0, 8, proof, &n),
		   CL_EINVAL, "prove consistency from 0");
	TAP_EQ_INT(cl_merkle_prove_consistency(&ms.src, 5, 4, proof, &n),
		   CL_EINVAL, "prove consistency 5 -> 4");
	n = 7;
	TAP_OK(cl_merkle_prove_consistency(&ms.src, 5, 5, proof, &n) == CL_OK &&
		       n == 0,
	       "prove consistency 5 -> 5 is empty");
	TAP_EQ_INT(cl_merkle_subtree_hash(&ms.src, 5, 4, h), CL_EINVAL,
		   "subtree_hash with begin > end");
	TAP_OK(cl_merkle_subtree_hash(&ms.src, 3, 3, h) == CL_OK &&
		       heq(h, empty),
	       "subtree_hash of an empty range is the empty root");
	TAP_EQ_INT(cl_merkle_subtree_hash(NULL, 0, 1, h), CL_EINVAL,
		   "subtree_hash with NULL src");
	ms.fail_leaves = 1;
	n = 7;
	TAP_EQ_INT(cl_merkle_prove_inclusion(&ms.src, 3, 8, proof, &n), CL_EIO,
		   "leaf_hashes error propagates (inclusion)");
	TAP_EQ_INT(n, 0, "count cleared on source error");
	TAP_EQ_INT(cl_merkle_prove_consistency(&ms.src, 3, 8, proof, &n),
		   CL_EIO, "leaf_hashes error propagates (consistency)");
	TAP_EQ_INT(cl_merkle_subtree_hash(&ms.src, 0, 8, h), CL_EIO,
		   "leaf_hashes error propagates (subtree)");
	ms_free(&ms);

	/* node() errors propagate too: a store with no nodes in it */
	ms_init(&ms, CP(kat_leaf), 8, 1, 1);
	TAP_EQ_INT(cl_merkle_prove_inclusion(&ms.src, 0, 8, proof, &n),
		   CL_ENOTFOUND, "node error propagates");
	ms_free(&ms);
}

/* ---- 5. cost at a million leaves ------------------------------------ */

#define BIG 1000000u
#define SMALL 1000u

struct cost {
	unsigned long leaves, calls, nodes;
	int ok;
};

static void cost_add(struct cost *c, const struct memsrc *ms)
{
	if (ms->leaves_read > c->leaves)
		c->leaves = ms->leaves_read;
	if (ms->leaf_calls > c->calls)
		c->calls = ms->leaf_calls;
	if (ms->node_calls > c->nodes)
		c->nodes = ms->node_calls;
}

/* Worst cost of a few inclusion and consistency proofs at `size`. */
static void measure(struct memsrc *ms, uint64_t size, const cl_hash *roots,
		    const uint64_t *rsize, unsigned nroots, struct cost *ci,
		    struct cost *cc)
{
	const uint64_t idx[] = { 0, 1, 255, 256, 777, size / 3, size / 2,
				 size - 257, size - 2, size - 1 };
	cl_hash proof[CL_MERKLE_MAXPROOF], leaf;
	const cl_hash *root = NULL;
	size_t n, k;
	unsigned j;

	for (j = 0; j < nroots; j++)
		if (rsize[j] == size)
			root = &roots[j];
	memset(ci, 0, sizeof(*ci));
	memset(cc, 0, sizeof(*cc));
	ci->ok = cc->ok = root != NULL;
	ms->limit = size;
	for (k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
		ms_reset_counters(ms);
		ci->ok &= cl_merkle_prove_inclusion(&ms->src, idx[k], size,
						    proof, &n) == CL_OK;
		cost_add(ci, ms);
		synth_leaf(idx[k], leaf);
		ci->ok &= root != NULL &&
			  cl_merkle_verify_inclusion(idx[k], size, leaf,
						     CP(proof), n,
						     *root) == CL_OK;
	}
	for (j = 0; j < nroots; j++) {
		if (rsize[j] >= size)
			continue;
		ms_reset_counters(ms);
		cc->ok &= cl_merkle_prove_consistency(&ms->src, rsize[j], size,
						      proof, &n) == CL_OK;
		cost_add(cc, ms);
		cc->ok &= root != NULL &&
			  cl_merkle_verify_consistency(rsize[j], size,
						       roots[j], *root,
						       CP(proof), n) == CL_OK;
	}
}

static void test_cost(void)
{
	/* sizes whose roots we keep while building the big tree */
	static const uint64_t rsize[] = { 1, 2, 3, 256, 257, 700, 999, SMALL,
					  65536, 333333, 999999, BIG };
	enum { NR = sizeof(rsize) / sizeof(rsize[0]) };
	cl_hash roots[NR], leaf;
	struct memsrc ms;
	struct cl_merkle_range r;
	struct cost si, sc, bi, bc;
	uint64_t i;
	unsigned j = 0;

	ms_init(&ms, NULL, BIG, 1, 8);
	cl_merkle_range_init(&r);
	for (i = 0; i < BIG; i++) {
		synth_leaf(i, leaf);
		(void)cl_merkle_range_append(&r, leaf, ms_emit, &ms, 8);
		if (j < NR && rsize[j] == i + 1)
			cl_merkle_range_root(&r, roots[j++]);
	}
	TAP_OK(j == NR && !ms.bad, "built a 1,000,000-leaf tree, nodes from "
				   "level 8 stored");

	measure(&ms, SMALL, CP(roots), rsize, NR, &si, &sc);
	measure(&ms, BIG, CP(roots), rsize, NR, &bi, &bc);
	printf("# worst inclusion proof: %lu leaves in %lu calls + %lu nodes "
	       "at 1e3; %lu leaves in %lu calls + %lu nodes at 1e6\n",
	       si.leaves, si.calls, si.nodes, bi.leaves, bi.calls, bi.nodes);
	printf("# worst consistency proof: %lu leaves in %lu calls + %lu nodes "
	       "at 1e3; %lu leaves in %lu calls + %lu nodes at 1e6\n",
	       sc.leaves, sc.calls, sc.nodes, bc.leaves, bc.calls, bc.nodes);
	TAP_OK(si.ok && sc.ok, "proofs at 1,000 leaves verify");
	TAP_OK(bi.ok && bc.ok, "proofs at 1,000,000 leaves verify");
	TAP_OK(bi.leaves <= 2 * 256 && bc.leaves <= 3 * 256,
	       "at 1e6 a proof reads at most a few 256-leaf chunks");
	TAP_OK(bi.nodes <= 64 && bc.nodes <= 128,
	       "at 1e6 a proof makes O(log n) node() calls");
	TAP_OK(bi.leaves <= si.leaves + 256 && bc.leaves <= sc.leaves + 256,
	       "leaf reads at 1e6 about the same as at 1e3");
	TAP_OK(!ms.bad, "source contract respected");
	ms_free(&ms);
}

int main(void)
{
	kat_setup();
	test_known_answers();
	test_vectors();
	test_negatives();
	test_property();
	test_errors();
	test_cost();
	return tap_done();
}
