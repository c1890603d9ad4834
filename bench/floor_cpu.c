/*
 * floor_cpu.c - a floor for durable ingest: the library work that every
 * record needs before it can be stored, with nothing else.  For each
 * line of FILE, on THREADS threads:
 *
 *   (MODE json) parse it with jansson and dump it canonically (sorted
 *   keys, compact); (MODE seal) take the line as it is;
 *   compress it with zstd level 3 and the payload dictionary;
 *   draw a fresh 32-byte key and a 32-byte salt (ChaCha20 in user space,
 *   seeded once per thread: cheaper than any system call); encrypt with
 *   XChaCha20-Poly1305; wrap the key (XSalsa20-Poly1305);
 *   hash: SHA-256(salt || plaintext), SHA-256(ciphertext) and SHA-256 of
 *   a 275-byte leaf (OpenSSL, one reused context), two keyed BLAKE2b-256
 *   (key hash, conversation tag).
 *
 * No SQLite, no Merkle tree, no de-duplication, no index: the records are
 * sealed and dropped.  Every choice here is the cheapest of its kind, so
 * chatledger cannot do the same work faster with these libraries.
 * Prints "RECORDS records WALL s wall CPU s cpu" (CPU: user plus system
 * time of the process while the threads ran).
 *
 * Then, untimed, a floor for the archive's size: the first SAMPLE records
 * (all, when fewer) are compressed each on its own with the dictionary,
 * as per-record erasure requires, at zstd levels 3 and 19; it prints
 * "size M records IN B/rec in Z3 B/rec zstd-3 Z19 B/rec zstd-19" (IN: the
 * bytes compressed, canonical in mode json).
 *
 *   floor_cpu DICT FILE THREADS json|seal
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <zstd.h>

#define MAX_THREADS 16
#define SAMPLE 20000

struct shared {
	char **lines;
	size_t *lens;
	size_t n;
	int json;
	const ZSTD_CDict *cdict;
	const EVP_MD *sha256;
	size_t next;
	pthread_mutex_t mu;
	int failed;
};

struct tstate {
	ZSTD_CCtx *zc;
	EVP_MD_CTX *md;
	unsigned char seed[randombytes_SEEDBYTES];
	uint64_t drawn;         /* draws so far, folded into the seed */
	unsigned char *zbuf, *ct;
	size_t cap;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int sha256(struct tstate *t, const EVP_MD *md, const void *a, size_t alen,
		  const void *b, size_t blen, unsigned char out[32])
{
	return EVP_DigestInit_ex2(t->md, md, NULL) == 1 &&
	       EVP_DigestUpdate(t->md, a, alen) == 1 &&
	       (blen == 0 || EVP_DigestUpdate(t->md, b, blen) == 1) &&
	       EVP_DigestFinal_ex(t->md, out, NULL) == 1 ? 0 : -1;
}

static int seal_one(struct shared *s, struct tstate *t, const char *line, size_t len)
{
	char *canon = NULL;
	const char *pt = line;
	size_t ptlen = len, z;
	unsigned char rnd[64], wrapkey[32], nonce[24], wrapped[48];
	unsigned char h[32], leaf[275];
	unsigned long long ctlen;
	int rc = -1;

	if (s->json) {
		json_error_t je;
		json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);

		if (j == NULL)
			return -1;
		canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
		json_decref(j);
		if (canon == NULL)
			return -1;
		pt = canon;
		ptlen = strlen(canon);
	}
	if (ptlen > t->cap / 2)
		goto out;
	z = ZSTD_compress_usingCDict(t->zc, t->zbuf, t->cap, pt, ptlen, s->cdict);
	if (ZSTD_isError(z))
		goto out;
	/* key (32) and salt (32): ChaCha20 keyed by the seed, whose first
	 * bytes count the draws */
	t->drawn++;
	memcpy(t->seed, &t->drawn, sizeof(t->drawn));
	randombytes_buf_deterministic(rnd, sizeof(rnd), t->seed);
	if (sha256(t, s->sha256, rnd + 32, 32, pt, ptlen, h))
		goto out;
	memset(nonce, 0, sizeof(nonce));
	crypto_aead_xchacha20poly1305_ietf_encrypt(t->ct, &ctlen, t->zbuf, z, NULL, 0,
						   NULL, nonce, rnd);
	if (sha256(t, s->sha256, t->ct, (size_t)ctlen, NULL, 0, h))
		goto out;
	memset(wrapkey, 7, sizeof(wrapkey));
	crypto_secretbox_easy(wrapped, rnd, 32, nonce, wrapkey);
	crypto_generichash(h, sizeof(h), rnd, 32, wrapkey, sizeof(wrapkey));
	crypto_generichash(h, sizeof(h), rnd + 32, 32, wrapkey, sizeof(wrapkey));
	memset(leaf, 1, sizeof(leaf));
	memcpy(leaf, h, sizeof(h));
	rc = sha256(t, s->sha256, leaf, sizeof(leaf), NULL, 0, h);
out:
	sodium_memzero(rnd, sizeof(rnd));
	free(canon);
	return rc;
}

static void *worker(void *arg)
{
	struct shared *s = arg;
	struct tstate t;

	memset(&t, 0, sizeof(t));
	t.cap = 1 << 20;
	t.zc = ZSTD_createCCtx();
	t.md = EVP_MD_CTX_new();
	t.zbuf = malloc(t.cap);
	t.ct = malloc(t.cap + 64);
	randombytes_buf(t.seed, sizeof(t.seed));
	if (t.zc == NULL || t.md == NULL || t.zbuf == NULL || t.ct == NULL) {
		s->failed = 1;
		goto out;
	}
	for (;;) {
		size_t i, end;

		pthread_mutex_lock(&s->mu);
		i = s->next;
		end = i + 64 < s->n ? i + 64 : s->n;
		s->next = end;
		pthread_mutex_unlock(&s->mu);
		if (i >= s->n)
			break;
		for (; i < end; i++)
			if (seal_one(s, &t, s->lines[i], s->lens[i])) {
				s->failed = 1;
				goto out;
			}
	}
out:
	ZSTD_freeCCtx(t.zc);
	EVP_MD_CTX_free(t.md);
	free(t.zbuf);
	free(t.ct);
	return NULL;
}

/* The per-record compressed size of the first SAMPLE records. */
static int size_floor(struct shared *s, const char *dict, size_t dlen)
{
	ZSTD_CDict *c19 = ZSTD_createCDict(dict, dlen, 19);
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	size_t i, m, cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	double in = 0, z3 = 0, z19 = 0;
	int rc = -1;

	m = s->n < SAMPLE ? s->n : SAMPLE;
	if (c19 == NULL || zc == NULL || buf == NULL || s->n == 0)
		goto out;
	for (i = 0; i < m; i++) {
		char *canon = NULL;
		const char *pt = s->lines[i];
		size_t ptlen = s->lens[i], a, b;

		if (s->json) {
			json_error_t je;
			json_t *j = json_loadb(pt, ptlen, JSON_REJECT_DUPLICATES, &je);

			canon = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS |
					       JSON_ENSURE_ASCII) : NULL;
			json_decref(j);
			if (canon == NULL)
				goto out;
			pt = canon;
			ptlen = strlen(canon);
		}
		a = ZSTD_compress_usingCDict(zc, buf, cap, pt, ptlen, s->cdict);
		b = ZSTD_compress_usingCDict(zc, buf, cap, pt, ptlen, c19);
		free(canon);
		if (ZSTD_isError(a) || ZSTD_isError(b))
			goto out;
		in += (double)ptlen;
		z3 += (double)a;
		z19 += (double)b;
	}
	printf("size %zu records %.1f B/rec in %.1f B/rec zstd-3 %.1f B/rec zstd-19\n", m,
	       in / (double)m, z3 / (double)m, z19 / (double)m);
	rc = 0;
out:
	ZSTD_freeCDict(c19);
	ZSTD_freeCCtx(zc);
	free(buf);
	return rc;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	struct shared s;
	pthread_t th[MAX_THREADS];
	FILE *f, *df;
	char *line = NULL, dict[1 << 16];
	size_t cap = 0, lcap = 0, dlen, i;
	ssize_t got;
	long nt;
	double t0, t1, c0, c1;

	if (argc != 5 || (nt = atol(argv[3])) < 1 || nt > MAX_THREADS ||
	    (strcmp(argv[4], "json") != 0 && strcmp(argv[4], "seal") != 0)) {
		fprintf(stderr, "usage: floor_cpu DICT FILE THREADS(1..%d) json|seal\n",
			MAX_THREADS);
		return 2;
	}
	if (sodium_init() < 0)
		return 2;
	df = fopen(argv[1], "rb");
	if (df == NULL) {
		perror(argv[1]);
		return 2;
	}
	dlen = fread(dict, 1, sizeof(dict), df);
	fclose(df);
	memset(&s, 0, sizeof(s));
	pthread_mutex_init(&s.mu, NULL);
	s.json = strcmp(argv[4], "json") == 0;
	s.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (s.sha256 == NULL)
		return 2;
	f = fopen(argv[2], "r");
	if (f == NULL) {
		perror(argv[2]);
		return 2;
	}
	while ((got = getline(&line, &cap, f)) >= 0) {
		size_t n = (size_t)got;

		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			n--;
		if (n == 0)
			continue;
		if (s.n == lcap) {
			lcap = lcap ? lcap * 2 : 65536;
			s.lines = realloc(s.lines, lcap * sizeof(*s.lines));
			s.lens = realloc(s.lens, lcap * sizeof(*s.lens));
			if (s.lines == NULL || s.lens == NULL)
				return 2;
		}
		s.lines[s.n] = malloc(n);
		if (s.lines[s.n] == NULL)
			return 2;
		memcpy(s.lines[s.n], line, n);
		s.lens[s.n++] = n;
	}
	fclose(f);
	free(line);
	s.cdict = ZSTD_createCDict(dict, dlen, 3);
	if (s.cdict == NULL)
		return 2;

	t0 = now();
	c0 = cpu_seconds();
	for (i = 0; i < (size_t)nt; i++)
		if (pthread_create(&th[i], NULL, worker, &s) != 0)
			return 2;
	for (i = 0; i < (size_t)nt; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	c1 = cpu_seconds();
	if (s.failed) {
		fprintf(stderr, "floor_cpu: a record failed to parse or seal\n");
		return 2;
	}
	printf("%zu records %.6f s wall %.6f s cpu\n", s.n, t1 - t0, c1 - c0);
	if (size_floor(&s, dict, dlen)) {
		fprintf(stderr, "floor_cpu: the size floor failed\n");
		return 2;
	}
	for (i = 0; i < s.n; i++)
		free(s.lines[i]);
	free(s.lines);
	free(s.lens);
	ZSTD_freeCDict((ZSTD_CDict *)s.cdict);
	EVP_MD_free((EVP_MD *)s.sha256);
	return 0;
}
