/*
 * cmd_theta.c - `afd-sizer theta`: the workload statistics of a trace.
 *
 * Loads a trace (format recognised by content, estimator/trace.h) and prints
 * theta, sigma and the mean prompt and decode lengths by the joint
 * renewal-reward sums (model.md section 3). Malformed lines are skipped,
 * counted and reported; the command fails (exit 2) only when the file cannot
 * be read, is empty, or holds no valid request.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "plugin/cli/cli.h"
#include "plugin/io/trace_file.h"

#define CMD "afd-sizer theta"

struct theta_opts {
    const char *trace;
    bool json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: afd-sizer theta --trace PATH [--json]\n"
            "\n"
            "Workload statistics of a request trace (model.md section 3):\n"
            "theta = time-averaged per-slot load, sigma = its sd, in tokens.\n"
            "\n"
            "  --trace PATH  Azure CSV (TIMESTAMP,ContextTokens,"
            "GeneratedTokens),\n"
            "                processed CSV (num_prefill_tokens,"
            "num_decode_tokens,...)\n"
            "                or Mooncake JSON lines (input_length, "
            "output_length);\n"
            "                recognised by content\n"
            "  --json        print one JSON object instead of a table\n"
            "  --help        this text\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, CMD ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see " CMD " --help)\n");
    return AFD_EXIT_USAGE;
}

/* Returns -1 to go on, else the exit status (help printed or bad usage). */
static int parse_args(int argc, char **argv, struct theta_opts *o)
{
    int i;

    memset(o, 0, sizeof(*o));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return AFD_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            o->json = true;
        } else if (!strcmp(a, "--trace")) {
            if (o->trace)
                return usage_error("%s given twice", a);
            /* "--trace --json" is a forgotten path, not a file "--json". */
            if (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2))
                return usage_error("%s needs a value PATH", a);
            o->trace = argv[++i];
        } else if (!strncmp(a, "--trace=", 8)) {
            if (o->trace)
                return usage_error("%s given twice", "--trace");
            o->trace = a + 8;
        } else if (a[0] == '-') {
            return usage_error("unknown flag '%s'", a);
        } else {
            return usage_error("unexpected argument '%s'", a);
        }
    }
    if (!o->trace)
        return usage_error("%s is required", "--trace PATH");
    if (!*o->trace)
        return usage_error("%s must not be empty", "--trace PATH");
    return -1;
}

static int print_json(const char *path, const struct afd_trace *t,
                      const struct afd_workload_stats *s)
{
    json_t *o;
    char *text;
    int bad = 0;

    o = json_pack("{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:I}", "trace", path,
                  "format", afd_trace_format_name(t->format), "requests",
                  (json_int_t)s->requests, "theta", s->theta, "sigma", s->sigma,
                  "mean_prompt", s->mean_prompt, "mean_decode", s->mean_decode,
                  "malformed_lines", (json_int_t)t->malformed);
    if (!o)
        return AFD_EXIT_FAILURE;
    if (t->malformed) {
        bad |= json_object_set_new(o, "first_bad_line",
                                   json_integer((json_int_t)t->first_bad_line));
        bad |= json_object_set_new(o, "first_bad_reason",
                                   json_string(t->first_bad_reason));
    }
    text = bad ? NULL : json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (!text) {
        fprintf(stderr, CMD ": cannot format the JSON output\n");
        return AFD_EXIT_FAILURE;
    }
    printf("%s\n", text);
    free(text);
    return AFD_EXIT_OK;
}

static void print_table(const char *path, const struct afd_trace *t,
                        const struct afd_workload_stats *s)
{
    printf("trace        %s\n", path);
    printf("format       %s\n", afd_trace_format_name(t->format));
    printf("requests     %llu\n", (unsigned long long)s->requests);
    printf("theta        %.2f tokens (time-averaged load of one slot)\n",
           s->theta);
    printf("sigma        %.2f tokens (sd of that load)\n", s->sigma);
    printf("mean prompt  %.2f tokens\n", s->mean_prompt);
    printf("mean decode  %.2f tokens\n", s->mean_decode);
    printf("malformed    %zu lines skipped\n", t->malformed);
}

int afd_cmd_theta(int argc, char **argv)
{
    struct afd_trace trace;
    struct afd_workload_stats stats;
    struct theta_opts o;
    char err[AFD_ERR_LEN];
    int rc;

    rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    rc = afd_trace_load(o.trace, &trace, err);
    if (rc < 0) {
        fprintf(stderr, CMD ": %s\n", err);
        return rc == AFD_ENOMEM ? AFD_EXIT_FAILURE : AFD_EXIT_USAGE;
    }
    rc = afd_trace_stats(&trace, &stats, err);
    if (rc < 0) {
        fprintf(stderr, CMD ": %s: %s\n", o.trace, err);
        afd_trace_release(&trace);
        return rc == AFD_ENOMEM ? AFD_EXIT_FAILURE : AFD_EXIT_USAGE;
    }
    if (trace.malformed)
        fprintf(stderr,
                CMD ": warning: %s: %zu malformed lines skipped (first: line "
                    "%zu: %s)\n",
                o.trace, trace.malformed, trace.first_bad_line,
                trace.first_bad_reason);
    if (o.json) {
        rc = print_json(o.trace, &trace, &stats);
    } else {
        print_table(o.trace, &trace, &stats);
        rc = AFD_EXIT_OK;
    }
    afd_trace_release(&trace);
    return rc;
}
