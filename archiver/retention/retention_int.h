/*
 * retention_int.h - shared by holds.c and run.c.  Not an API.
 */
#ifndef CL_RETENTION_INT_H
#define CL_RETENTION_INT_H

#include <stdint.h>

#include <jansson.h>

/* A time in ms as an RFC 3339 JSON string, or JSON null for CL_TIME_NONE
 * (new reference, NULL when out of memory). */
json_t *cl_retention_time_json(int64_t ms);

/* Append a control entry (public body, sealed payload) in its own
 * durable batch. */
struct cl_ledger;
int cl_retention_append_control(struct cl_ledger *l, const char *kind, json_t *pub,
				json_t *sealed, uint64_t *index, char **err);

/* The tokens of party selectors, as "#hex" strings appended to arr;
 * CL_EINVAL for an empty or over-long selector. */
int cl_retention_party_tokens(struct cl_ledger *l, const char *const *sel, size_t n,
			      json_t *arr);

#endif
