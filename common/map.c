/*
 * map.c - open-addressing hash map keyed by 32-byte uniform keys.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/map.h"
#include "common/status.h"
#include "common/banned.h"

void cl_map_init(struct cl_map *m)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
}

void cl_map_release(struct cl_map *m)
{
	free(m->slots);
	cl_map_init(m);
}

static size_t slot_of(const unsigned char key[32], size_t cap)
{
	return (size_t)cl_load_be64(key) & (cap - 1);
}

struct cl_map_slot *cl_map_get(const struct cl_map *m, const unsigned char key[32])
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct cl_map_slot *s = &m->slots[i];

		if (!s->used)
			return NULL;
		if (memcmp(s->key, key, 32) == 0)
			return s;
	}
}

static int grow(struct cl_map *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 1024, i;
	struct cl_map_slot *ns = calloc(ncap, sizeof(*ns));

	if (ns == NULL)
		return -1;
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slots[i].used)
			continue;
		for (j = slot_of(m->slots[i].key, ncap); ns[j].used;
		     j = (j + 1) & (ncap - 1))
			;
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

struct cl_map_slot *cl_map_put(struct cl_map *m, const unsigned char key[32])
{
	struct cl_map_slot *s = cl_map_get(m, key);
	size_t i;

	if (s)
		return s;
	if ((m->count + 1) * 4 > m->cap * 3 && grow(m) != 0)
		return NULL;
	for (i = slot_of(key, m->cap); m->slots[i].used;
	     i = (i + 1) & (m->cap - 1))
		;
	s = &m->slots[i];
	memset(s, 0, sizeof(*s));
	memcpy(s->key, key, 32);
	s->used = 1;
	m->count++;
	return s;
}

/* ---- 64-bit keys ------------------------------------------------------ */

void cl_map64_init(struct cl_map64 *m)
{
	memset(m, 0, sizeof(*m));
}

void cl_map64_release(struct cl_map64 *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	cl_map64_init(m);
}

static size_t slot64(uint64_t key, size_t cap)
{
	/* Keys are hash prefixes already; mix anyway for safety. */
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

int cl_map64_get(const struct cl_map64 *m, uint64_t key, uint64_t *val)
{
	size_t i;

	if (m->cap == 0)
		return 0;
	for (i = slot64(key, m->cap); m->used[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key) {
			*val = m->vals[i];
			return 1;
		}
	return 0;
}

static int grow64(struct cl_map64 *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 4096, i;
	uint64_t *nk = malloc(ncap * sizeof(*nk)), *nv = malloc(ncap * sizeof(*nv));
	unsigned char *nu = calloc(ncap, 1);

	if (nk == NULL || nv == NULL || nu == NULL) {
		free(nk);
		free(nv);
		free(nu);
		return CL_ENOMEM;
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->used[i])
			continue;
		for (j = slot64(m->keys[i], ncap); nu[j]; j = (j + 1) & (ncap - 1))
			;
		nu[j] = 1;
		nk[j] = m->keys[i];
		nv[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	free(m->used);
	m->keys = nk;
	m->vals = nv;
	m->used = nu;
	m->cap = ncap;
	return CL_OK;
}

int cl_map64_put(struct cl_map64 *m, uint64_t key, uint64_t val)
{
	size_t i;

	if ((m->count + 1) * 4 > m->cap * 3 && grow64(m) != CL_OK)
		return CL_ENOMEM;
	for (i = slot64(key, m->cap); m->used[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key) {
			m->vals[i] = val;
			return CL_OK;
		}
	m->used[i] = 1;
	m->keys[i] = key;
	m->vals[i] = val;
	m->count++;
	return CL_OK;
}
