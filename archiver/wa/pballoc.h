/*
 * pb.h - protobuf-c unpacking that tells malformed input from a failed
 * allocation (protobuf-c returns NULL for both).
 *
 *   struct cl_wa_pb pb;
 *   cl_wa_pb_init(&pb);
 *   m = wa__cert_chain__unpack(&pb.a, len, p);
 *   if (m == NULL) return pb.oom ? CL_ENOMEM : CL_EINVAL;
 */
#ifndef CL_WA_PB_H
#define CL_WA_PB_H

#include <protobuf-c/protobuf-c.h>

struct cl_wa_pb {
	ProtobufCAllocator a;  /* pass &pb.a to the unpack functions */
	int oom;               /* set when an allocation failed */
};

void cl_wa_pb_init(struct cl_wa_pb *pb);

#endif
