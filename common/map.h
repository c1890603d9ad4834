/*
 * map.h - an open-addressing hash map from 32-byte keys (already uniform:
 * hashes or tags) to a small fixed value.  Used for the per-conversation
 * chain heads.  Keys are copied; the map owns its memory.
 */
#ifndef CL_MAP_H
#define CL_MAP_H

#include <stddef.h>
#include <stdint.h>

struct cl_map_slot {
	unsigned char key[32];
	uint64_t u;            /* e.g. the chain's last index */
	unsigned char v[32];   /* e.g. the chain's last leaf hash */
	unsigned char used;
};

struct cl_map {
	struct cl_map_slot *slots;
	size_t cap;   /* power of two */
	size_t count;
};

void cl_map_init(struct cl_map *m);
void cl_map_release(struct cl_map *m);
/* The slot for key, or NULL. */
struct cl_map_slot *cl_map_get(const struct cl_map *m, const unsigned char key[32]);
/* The slot for key, created zeroed (used=1) if absent; NULL on ENOMEM. */
struct cl_map_slot *cl_map_put(struct cl_map *m, const unsigned char key[32]);


/*
 * A hash map from 64-bit keys to 64-bit values (open addressing).  Keys
 * are expected to be uniform (hash prefixes).  Duplicate keys are allowed
 * by the caller's protocol only through cl_map64_get's "first match".
 */
struct cl_map64 {
	uint64_t *keys;
	uint64_t *vals;
	unsigned char *used;
	size_t cap, count;
};

void cl_map64_init(struct cl_map64 *m);
void cl_map64_release(struct cl_map64 *m);
/* 1 and *val if present, else 0. */
int cl_map64_get(const struct cl_map64 *m, uint64_t key, uint64_t *val);
/* Insert or overwrite; CL_OK, or CL_ENOMEM (the map is unchanged). */
int cl_map64_put(struct cl_map64 *m, uint64_t key, uint64_t val);

#endif
