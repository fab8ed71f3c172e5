/*
 * fuzz_svc.h - drives the daemon's gRPC service handlers (plugin/daemon/
 * services.h) on fuzzed bytes without gRPC: a stand-in for the call layer
 * (afd_grpc_reply/send/finish/..., fuzz_svc.c) replaces plugin/rpc/
 * grpc_call.c, so the bytes go through protobuf-c unpack exactly as the
 * server does (plugin/rpc/grpc_server.c: on_new, on_recv) and then into the
 * same handlers, registry and controller the daemon runs.
 *
 * Input format: a sequence of records [sel u8][len u16 LE][len bytes]. sel
 * picks the method (sel & 0x7f, modulo the methods offered); a client-stream
 * record is one message of the current call, which continues while the
 * next record selects the same method and has bit 7 clear. Every input
 * starts from a fresh registry and controller (same input, same run).
 * Threads: one; errors: none beyond what the handlers report to the call.
 */
#ifndef AFD_FUZZ_SVC_H
#define AFD_FUZZ_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "plugin/rpc/grpc_server.h"

typedef const struct afd_grpc_method *(*afd_fuzz_methods_fn)(size_t *n);

/* Runs data against the methods of the tables in fns (NULL-terminated). */
void afd_fuzz_svc_run(const afd_fuzz_methods_fn *fns, const uint8_t *data,
                      size_t size);

#endif
