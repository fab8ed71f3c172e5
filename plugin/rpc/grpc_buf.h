/*
 * grpc_buf.h - protobuf-c messages into gRPC byte buffers, shared by the
 * server layer (grpc_call.c), the client layer (grpc_client.c) and the load
 * generator, which all send packed messages on the C core.
 */
#ifndef AFD_GRPC_BUF_H
#define AFD_GRPC_BUF_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

/* Packs msg into a new byte buffer; the caller destroys it. */
grpc_byte_buffer *afd_grpc_pack(const ProtobufCMessage *msg);

#endif
