/*
 * pb.c - the protobuf-c allocator of pb.h.
 */
#include <stdlib.h>

#include "archiver/wa/pballoc.h"
#include "common/banned.h"

static void *pb_alloc(void *data, size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		*(int *)data = 1;
	return p;
}

static void pb_free(void *data, void *p)
{
	(void)data;
	free(p);
}

void cl_wa_pb_init(struct cl_wa_pb *pb)
{
	pb->oom = 0;
	pb->a.alloc = pb_alloc;
	pb->a.free = pb_free;
	pb->a.allocator_data = &pb->oom;
}
