/* live_report.c - one closed-loop window as one Report call. */
#include "integration/sim/live_report.h"

#include <stdlib.h>

#include "estimator/base/error.h"

int afd_live_report(struct afd_grpc_client *cli, const char *deployment,
                    Afd__Sizer__V1__StepSample *smp, size_t n_smp,
                    const double *req, size_t n_req, int max_requests,
                    int timeout_ms, Afd__Sizer__V1__ReportSummary **sum,
                    char *err)
{
    size_t n_msgs, k, i, every = 1, n_send, sent = 0, done = 0;
    Afd__Sizer__V1__TelemetryBatch *b = NULL;
    Afd__Sizer__V1__FinishedRequest *fr = NULL, **frp = NULL;
    Afd__Sizer__V1__StepSample **sp = NULL;
    const ProtobufCMessage **msgs = NULL;
    int rc = AFD_OK;

    if (n_req > (size_t)max_requests)
        every = (n_req + (size_t)max_requests - 1) / (size_t)max_requests;
    n_send = (n_req + every - 1) / every;
    n_msgs = 1 + (n_smp > n_send ? n_smp : n_send) / AFD_LIVE_ITEMS_PER_MSG;
    b = calloc(n_msgs, sizeof(*b));
    msgs = calloc(n_msgs, sizeof(*msgs));
    sp = calloc(n_smp + 1, sizeof(*sp));
    fr = calloc(n_send + 1, sizeof(*fr));
    frp = calloc(n_send + 1, sizeof(*frp));
    if (!b || !msgs || !sp || !fr || !frp) {
        rc = afd_err(err, AFD_ENOMEM, "out of memory for a report");
        goto out;
    }
    for (i = 0; i < n_smp; i++)
        sp[i] = &smp[i];
    for (i = 0; i < n_send; i++) {
        afd__sizer__v1__finished_request__init(&fr[i]);
        fr[i].prompt_tokens = req[2 * i * every];
        fr[i].decode_tokens = req[2 * i * every + 1];
        /* One of every `every` sent: it stands for the ones up to the
         * next sent (the last, for the rest). */
        fr[i].weight = (double)(i + 1 < n_send ? every : n_req - i * every);
        frp[i] = &fr[i];
    }
    for (k = 0; k < n_msgs; k++) {
        size_t ns = n_smp - done < AFD_LIVE_ITEMS_PER_MSG
                        ? n_smp - done
                        : AFD_LIVE_ITEMS_PER_MSG;
        size_t nr = n_send - sent < AFD_LIVE_ITEMS_PER_MSG
                        ? n_send - sent
                        : AFD_LIVE_ITEMS_PER_MSG;
        afd__sizer__v1__telemetry_batch__init(&b[k]);
        b[k].deployment = (char *)deployment;
        b[k].n_steps = ns;
        b[k].steps = sp + done;
        b[k].n_requests = nr;
        b[k].requests = frp + sent;
        done += ns;
        sent += nr;
        msgs[k] = &b[k].base;
    }
    rc = afd_grpc_client_stream(cli, "/afd.sizer.v1.Telemetry/Report", msgs,
                                n_msgs,
                                &afd__sizer__v1__report_summary__descriptor,
                                (ProtobufCMessage **)sum, timeout_ms, err);
out:
    free(b);
    free(msgs);
    free(sp);
    free(fr);
    free(frp);
    return rc;
}
