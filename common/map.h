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

#endif
