/*
 * live_report.h - one telemetry window of the closed loop (live.h, step 2)
 * as one Telemetry/Report client stream: the window's step samples and
 * finished requests split into TelemetryBatch messages of at most
 * AFD_LIVE_ITEMS_PER_MSG items each (well under gRPC's 4 MB), requests
 * thinned to at most max_requests (every k-th: an unbiased thinning).
 *
 * Borrows everything it is given (nothing kept after the call); *sum is
 * the daemon's ReportSummary on AFD_OK (free it with
 * protobuf_c_message_free_unpacked). AFD_ENOMEM, or the client's error
 * (AFD_EIO with the call's status) with the message in err.
 */
#ifndef AFD_SIM_LIVE_REPORT_H
#define AFD_SIM_LIVE_REPORT_H

#include <stddef.h>

#include "plugin/rpc/grpc_client.h"
#include "proto/afd_sizer.pb-c.h"

#define AFD_LIVE_ITEMS_PER_MSG 2000

/* req: n_req (prompt, decode) pairs; max_requests >= 1; timeout_ms: wall
 * ms for the whole call. */
int afd_live_report(struct afd_grpc_client *cli, const char *deployment,
                    Afd__Sizer__V1__StepSample *smp, size_t n_smp,
                    const double *req, size_t n_req, int max_requests,
                    int timeout_ms, Afd__Sizer__V1__ReportSummary **sum,
                    char *err);

#endif
