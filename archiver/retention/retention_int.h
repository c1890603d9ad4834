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

#endif
