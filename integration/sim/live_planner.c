/* live_planner.c - afd-sim's line protocol with an external planner. */
#include "integration/sim/live_planner.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"

#define LINE_MAX_LEN 16384

int afd_live_planner_observe(FILE *out, const struct afd_live_obs *o, char *err)
{
    int n;

    /* Hand-written rather than jansson: fixed key order, %.17g numbers. */
    n = fprintf(out,
                "{\"observe\":{\"t_s\":%.17g,\"window_s\":%.17g,"
                "\"deployment\":\"%s\",\"workers\":{\"ready_decode\":%ld,"
                "\"expected_decode\":%ld,\"ffn\":%ld},\"traffic\":{"
                "\"duration_s\":%.17g,\"num_req\":%.17g,\"isl\":%.17g,"
                "\"osl\":%.17g}}}\n",
                o->t_s, o->window_s, o->deployment, o->ready, o->expected,
                o->ffn, o->window_s, o->num_req, o->isl, o->osl);
    if (n < 0 || fflush(out))
        return afd_err(err, AFD_EIO,
                       "cannot write the observation at t = %.0f s to the "
                       "planner (pipe closed?)",
                       o->t_s);
    return AFD_OK;
}

static int bad_line(char *err, const char *line, const char *why)
{
    return afd_err(err, AFD_EPARSE,
                   "planner answer '%.80s': %s (expected {\"replicas\": N, "
                   "\"reason\": \"...\"} or {})",
                   line, why);
}

int afd_live_planner_decision(FILE *in, long max, struct afd_live_decision *out,
                              char *err)
{
    char line[LINE_MAX_LEN];
    json_error_t je;
    json_t *root, *r, *why;
    const char *key;
    json_t *v;
    int rc = AFD_OK;

    memset(out, 0, sizeof(*out));
    if (!fgets(line, sizeof(line), in))
        return afd_err(err, AFD_EIO,
                       "the planner closed its pipe before answering");
    if (!strchr(line, '\n') && !feof(in))
        return afd_err(err, AFD_EPARSE, "planner answer longer than %d bytes",
                       LINE_MAX_LEN - 2);
    line[strcspn(line, "\r\n")] = '\0';
    root = json_loads(line, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return bad_line(err, line, "not a JSON object");
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "replicas") && strcmp(key, "reason")) {
            rc = bad_line(err, line, "unknown key");
            goto out;
        }
    }
    r = json_object_get(root, "replicas");
    why = json_object_get(root, "reason");
    if (why && !json_is_string(why)) {
        rc = bad_line(err, line, "reason must be a string");
        goto out;
    }
    if (!r || json_is_null(r))
        goto out;
    if (!json_is_integer(r)) {
        rc = bad_line(err, line, "replicas must be an integer");
        goto out;
    }
    if (json_integer_value(r) < 1 || json_integer_value(r) > max) {
        rc = afd_err(err, AFD_EINVAL,
                     "planner set %lld Attention replicas, outside 1..%ld",
                     (long long)json_integer_value(r), max);
        goto out;
    }
    out->set = true;
    out->replicas = (long)json_integer_value(r);
    if (why)
        snprintf(out->reason, sizeof(out->reason), "%s",
                 json_string_value(why));
out:
    json_decref(root);
    return rc;
}

int afd_live_planner_exchange(FILE *out, FILE *in, long max,
                              const struct afd_live_obs *o,
                              struct afd_live_decision *dec, char *err)
{
    int rc = afd_live_planner_observe(out, o, err);

    memset(dec, 0, sizeof(*dec));
    return rc ? rc : afd_live_planner_decision(in, max, dec, err);
}

void afd_live_planner_traffic(struct afd_live_obs *o, const double *req,
                              size_t n)
{
    double p = 0, d = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        p += req[2 * i];
        d += req[2 * i + 1];
    }
    o->num_req = (double)n;
    o->isl = n ? p / (double)n : 0;
    o->osl = n ? d / (double)n : 0;
}
