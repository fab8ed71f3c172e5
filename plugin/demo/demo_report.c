/*
 * demo_report.c - parsing the afd-sim scenario results and rendering the
 * demo's table, timeline and JSON (the SVG is in demo_svg.c).
 */
#include "plugin/demo/demo_report.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/io/json_field.h"
#include "plugin/io/run_schema.h"

static const char *const policy_names[AFD_DEMO_N_POLICIES] = {
    "closed_loop", "static_first_phase", "best_static", "oracle"};
static const char *const policy_flags[AFD_DEMO_N_POLICIES] = {
    "closed-loop", "static-first-phase", "best-static", "oracle"};

const char *afd_demo_policy_name(enum afd_demo_policy_kind k)
{
    return (unsigned)k < AFD_DEMO_N_POLICIES ? policy_names[k] : "?";
}

const char *afd_demo_policy_flag(enum afd_demo_policy_kind k)
{
    return (unsigned)k < AFD_DEMO_N_POLICIES ? policy_flags[k] : "?";
}

void afd_demo_report_init(struct afd_demo_report *r)
{
    memset(r, 0, sizeof(*r));
}

static void policy_release(struct afd_demo_policy *p)
{
    free(p->timeline);
    free(p->commands);
    free(p->alerts);
    if (p->root)
        json_decref(p->root);
    memset(p, 0, sizeof(*p));
}

void afd_demo_report_release(struct afd_demo_report *r)
{
    int k;

    if (!r)
        return;
    for (k = 0; k < AFD_DEMO_N_POLICIES; k++)
        policy_release(&r->policies[k]);
}

/* ---- parsing ---------------------------------------------------------- */

/* Field reader state: the policy and array path, for messages. */
struct rd {
    const char *policy;
    const char *where; /* e.g. "per_phase[2]" or "" */
    char *err;
};

static int bad(const struct rd *rd, const char *key, const char *what)
{
    return afd_err(rd->err, AFD_EPARSE, "afd-sim %s result: %s%s%s %s",
                   rd->policy, rd->where, *rd->where ? "." : "", key, what);
}

/* The location of rd's object for json_field messages. */
static const char *loc(const struct rd *rd, char *buf, size_t n)
{
    snprintf(buf, n, "afd-sim %s result%s%s", rd->policy,
             *rd->where ? ": " : "", rd->where);
    return buf;
}

/* A result that does not read is a broken afd-sim run: AFD_EPARSE. */
static int parsed(int rc)
{
    return rc == AFD_OK ? AFD_OK : AFD_EPARSE;
}

/* A finite number; absent or null gives NAN unless required. */
static int num(const struct rd *rd, json_t *o, const char *key, bool required,
               double *out)
{
    char w[160];

    *out = NAN;
    return parsed(
        afd_jf_number(o, loc(rd, w, sizeof(w)), key,
                      AFD_JF_NULL_ABSENT | (required ? AFD_JF_REQUIRED : 0),
                      -HUGE_VAL, HUGE_VAL, out, rd->err));
}

/* A finite number >= 0 that must be there. */
static int num_req(const struct rd *rd, json_t *o, const char *key, double *out)
{
    char w[160];

    return parsed(afd_jf_number(o, loc(rd, w, sizeof(w)), key,
                                AFD_JF_REQUIRED | AFD_JF_NULL_ABSENT, 0,
                                HUGE_VAL, out, rd->err));
}

/* An integer count; absent or null gives -1. */
static int count(const struct rd *rd, json_t *o, const char *key, long *out)
{
    char w[160];

    *out = -1;
    return parsed(afd_jf_integer(o, loc(rd, w, sizeof(w)), key,
                                 AFD_JF_NULL_ABSENT, -999999999999999L,
                                 999999999999999L, out, rd->err));
}

/* A string copied into dst (truncated); absent or null gives "". */
static int str(const struct rd *rd, json_t *o, const char *key, char *dst,
               size_t len)
{
    char w[160];

    dst[0] = '\0';
    return parsed(afd_jf_string(o, loc(rd, w, sizeof(w)), key,
                                AFD_JF_NULL_ABSENT | AFD_JF_TRUNCATE, dst, len,
                                rd->err));
}

static int parse_phase(struct rd *rd, json_t *o, struct afd_demo_phase *ph)
{
    long y;
    int rc;

    if (!json_is_object(o))
        return bad(rd, "", "must be an object");
    if ((rc = str(rd, o, AFD_RUN_NAME, ph->name, sizeof(ph->name))) ||
        (rc = num_req(rd, o, AFD_RUN_DURATION_S, &ph->duration_s)) ||
        (rc = num_req(rd, o, AFD_RUN_TPUT, &ph->throughput_per_device)) ||
        (rc = num(rd, o, AFD_RUN_X_MEAN, false,
                  &ph->attention_instances_mean)) ||
        (rc = count(rd, o, AFD_RUN_FFN, &y)) ||
        (rc = num(rd, o, AFD_RUN_BATCH, false, &ph->batch)) ||
        (rc = num(rd, o, AFD_RUN_SETTLE_S, false, &ph->settle_time_s)) ||
        (rc = num(rd, o, AFD_RUN_STATIC_X, false, &ph->static_attention)))
        return rc;
    ph->ffn_instances = (int)y;
    return AFD_OK;
}

static int parse_point(struct rd *rd, json_t *o, void *item)
{
    struct afd_demo_point *pt = item;
    long x, y;
    int rc;

    if (!json_is_object(o))
        return bad(rd, "", "must be an object");
    if ((rc = num(rd, o, AFD_RUN_T_S, true, &pt->t_s)) ||
        (rc = count(rd, o, AFD_RUN_X, &x)) ||
        (rc = count(rd, o, AFD_RUN_FFN, &y)) ||
        (rc = num(rd, o, AFD_RUN_TPUT, false, &pt->throughput_per_device)) ||
        (rc = num(rd, o, AFD_RUN_R_STAR, false, &pt->r_star)) ||
        (rc = num(rd, o, AFD_RUN_R_STAR_BARRIER, false, &pt->r_star_barrier)) ||
        (rc = str(rd, o, AFD_RUN_REGIME, pt->regime, sizeof(pt->regime))))
        return rc;
    pt->attention = (int)x;
    pt->ffn = (int)y;
    if (pt->r_star_barrier == 0) /* the wire's "0 if unknown" */
        pt->r_star_barrier = NAN;
    return AFD_OK;
}

static int parse_command(struct rd *rd, json_t *o, void *item)
{
    struct afd_demo_command *c = item;
    long id, from, to;
    int rc;

    if (!json_is_object(o))
        return bad(rd, "", "must be an object");
    if ((rc = num(rd, o, AFD_RUN_T_S, true, &c->t_s)) ||
        (rc = count(rd, o, AFD_RUN_ID, &id)) ||
        (rc = count(rd, o, AFD_RUN_FROM, &from)) ||
        (rc = count(rd, o, AFD_RUN_TO, &to)) ||
        (rc = str(rd, o, AFD_RUN_REGIME, c->regime, sizeof(c->regime))) ||
        (rc = str(rd, o, AFD_RUN_REASON, c->reason, sizeof(c->reason))))
        return rc;
    c->id = id < 0 ? 0 : (uint64_t)id;
    c->from = (int)from;
    c->to = (int)to;
    return AFD_OK;
}

static int parse_alert(struct rd *rd, json_t *o, void *item)
{
    struct afd_demo_alert *a = item;
    int rc;

    if (!json_is_object(o))
        return bad(rd, "", "must be an object");
    if ((rc = num(rd, o, AFD_RUN_T_S, true, &a->t_s)) ||
        (rc = str(rd, o, AFD_RUN_ALERTNAME, a->alertname,
                  sizeof(a->alertname))) ||
        (rc = str(rd, o, AFD_RUN_ACTION, a->action, sizeof(a->action))) ||
        (rc = str(rd, o, AFD_RUN_REGIME, a->regime, sizeof(a->regime))) ||
        (rc = str(rd, o, AFD_RUN_EXPLANATION, a->explanation,
                  sizeof(a->explanation))))
        return rc;
    return AFD_OK;
}

typedef int (*parse_item_fn)(struct rd *rd, json_t *o, void *item);

/*
 * Parses the optional array root[key] into a new array of items of size
 * item_size; absent or null gives none.
 */
static int parse_array(struct rd *rd, json_t *root, const char *key,
                       size_t item_size, parse_item_fn fn, void **out,
                       size_t *n_out)
{
    json_t *a = json_object_get(root, key), *v;
    char where[64];
    const char *saved = rd->where;
    size_t i, n;
    char *items;
    int rc;

    *out = NULL;
    *n_out = 0;
    if (!a || json_is_null(a))
        return AFD_OK;
    if (!json_is_array(a))
        return bad(rd, key, "must be an array");
    n = json_array_size(a);
    if (n > AFD_DEMO_MAX_POINTS)
        return afd_err(rd->err, AFD_EINVAL,
                       "afd-sim %s result: %s has %zu entries, more than %d",
                       rd->policy, key, n, AFD_DEMO_MAX_POINTS);
    if (n == 0)
        return AFD_OK;
    items = calloc(n, item_size);
    if (!items)
        return afd_err(rd->err, AFD_ENOMEM, "out of memory for %zu %s", n, key);
    rd->where = where;
    json_array_foreach(a, i, v)
    {
        snprintf(where, sizeof(where), "%s[%zu]", key, i);
        rc = fn(rd, v, items + i * item_size);
        if (rc) {
            rd->where = saved;
            free(items);
            return rc;
        }
    }
    rd->where = saved;
    *out = items;
    *n_out = n;
    return AFD_OK;
}

static int kind_of(const char *name, enum afd_demo_policy_kind *k)
{
    int i;

    for (i = 0; i < AFD_DEMO_N_POLICIES; i++)
        if (!strcmp(name, policy_names[i]) || !strcmp(name, policy_flags[i])) {
            *k = (enum afd_demo_policy_kind)i;
            return AFD_OK;
        }
    return AFD_EINVAL;
}

static int parse_phases(struct rd *rd, json_t *root, struct afd_demo_policy *p)
{
    json_t *a = json_object_get(root, AFD_RUN_PER_PHASE), *v;
    char where[64];
    size_t i;
    int rc;

    if (!json_is_array(a) || json_array_size(a) == 0)
        return bad(rd, "per_phase", "must be a non-empty array");
    if (json_array_size(a) > AFD_DEMO_MAX_PHASES)
        return afd_err(rd->err, AFD_EINVAL,
                       "afd-sim %s result: %zu phases, more than %d",
                       rd->policy, json_array_size(a), AFD_DEMO_MAX_PHASES);
    rd->where = where;
    json_array_foreach(a, i, v)
    {
        snprintf(where, sizeof(where), "per_phase[%zu]", i);
        if ((rc = parse_phase(rd, v, &p->phases[i])))
            return rc;
    }
    rd->where = "";
    p->n_phases = json_array_size(a);
    return AFD_OK;
}

static int parse_policy(struct rd *rd, json_t *root, struct afd_demo_policy *p)
{
    long seed;
    int rc;

    if ((rc = str(rd, root, AFD_RUN_SCENARIO, p->scenario,
                  sizeof(p->scenario))) ||
        (rc = count(rd, root, AFD_RUN_SEED, &seed)) ||
        (rc = num_req(rd, root, AFD_RUN_TPUT, &p->throughput_per_device)) ||
        (rc = count(rd, root, AFD_RUN_SCALE_COMMANDS, &p->scale_commands)) ||
        (rc = parse_phases(rd, root, p)))
        return rc;
    p->seed = seed < 0 ? 0 : (uint64_t)seed;
    if ((rc =
             parse_array(rd, root, AFD_RUN_TIMELINE, sizeof(*p->timeline),
                         parse_point, (void **)&p->timeline, &p->n_timeline)) ||
        (rc = parse_array(rd, root, AFD_RUN_COMMANDS, sizeof(*p->commands),
                          parse_command, (void **)&p->commands,
                          &p->n_commands)) ||
        (rc = parse_array(rd, root, AFD_RUN_ALERTS, sizeof(*p->alerts),
                          parse_alert, (void **)&p->alerts, &p->n_alerts)))
        return rc;
    return AFD_OK;
}

int afd_demo_report_add(struct afd_demo_report *r, const char *text, size_t len,
                        char *err)
{
    struct afd_demo_policy *p;
    enum afd_demo_policy_kind k;
    struct rd rd = {"?", "", err};
    json_error_t jerr;
    json_t *root, *pol;
    int rc;

    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return afd_err(err, AFD_EPARSE,
                       "afd-sim output is not JSON: line %d: %s", jerr.line,
                       jerr.text);
    pol = json_object_get(root, AFD_RUN_POLICY);
    if (!json_is_object(root) || !json_is_string(pol)) {
        json_decref(root);
        return afd_err(err, AFD_EPARSE,
                       "afd-sim output has no \"policy\" string");
    }
    if (kind_of(json_string_value(pol), &k)) {
        rc = afd_err(err, AFD_EINVAL, "afd-sim output: unknown policy '%s'",
                     json_string_value(pol));
        json_decref(root);
        return rc;
    }
    if (r->policies[k].present) {
        json_decref(root);
        return afd_err(err, AFD_EINVAL, "afd-sim output: policy '%s' twice",
                       policy_names[k]);
    }
    p = calloc(1, sizeof(*p));
    if (!p) {
        json_decref(root);
        return afd_err(err, AFD_ENOMEM, "out of memory");
    }
    rd.policy = policy_names[k];
    p->kind = k;
    p->root = root;
    rc = parse_policy(&rd, root, p);
    if (rc) {
        policy_release(p);
        free(p);
        return rc;
    }
    p->present = true;
    r->policies[k] = *p; /* takes root and the arrays */
    free(p);
    return AFD_OK;
}

int afd_demo_report_check(struct afd_demo_report *r, char *err)
{
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    size_t i;
    int k;

    for (k = 0; k < AFD_DEMO_N_POLICIES; k++)
        if (!r->policies[k].present)
            return afd_err(err, AFD_EINVAL, "no result for policy '%s'",
                           policy_names[k]);
    for (k = 1; k < AFD_DEMO_N_POLICIES; k++) {
        const struct afd_demo_policy *p = &r->policies[k];
        if (strcmp(p->scenario, cl->scenario) || p->seed != cl->seed)
            return afd_err(err, AFD_EINVAL,
                           "policy '%s' ran scenario '%s' seed %llu, the "
                           "closed loop '%s' seed %llu",
                           policy_names[k], p->scenario,
                           (unsigned long long)p->seed, cl->scenario,
                           (unsigned long long)cl->seed);
        if (p->n_phases != cl->n_phases)
            return afd_err(err, AFD_EINVAL,
                           "policy '%s' has %zu phases, the closed loop %zu",
                           policy_names[k], p->n_phases, cl->n_phases);
        for (i = 0; i < p->n_phases; i++)
            if (strcmp(p->phases[i].name, cl->phases[i].name))
                return afd_err(err, AFD_EINVAL,
                               "policy '%s' phase %zu is '%s', the closed "
                               "loop's '%s'",
                               policy_names[k], i + 1, p->phases[i].name,
                               cl->phases[i].name);
    }
    snprintf(r->scenario, sizeof(r->scenario), "%s", cl->scenario);
    r->seed = cl->seed;
    return AFD_OK;
}

double afd_demo_efficiency(const struct afd_demo_report *r,
                           enum afd_demo_policy_kind k)
{
    const struct afd_demo_policy *o = &r->policies[AFD_DEMO_ORACLE];

    if ((unsigned)k >= AFD_DEMO_N_POLICIES || !r->policies[k].present ||
        !o->present || !(o->throughput_per_device > 0))
        return NAN;
    return r->policies[k].throughput_per_device / o->throughput_per_device;
}

/* ---- text ------------------------------------------------------------- */

static void print_header(const struct afd_demo_report *r, FILE *out)
{
    const struct afd_demo_settings *s = &r->settings;
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    double total = 0;
    size_t i;

    for (i = 0; i < cl->n_phases; i++)
        total += cl->phases[i].duration_s;
    fprintf(out,
            "afd-sizer demo: scenario '%s', seed %llu, %zu phases, %.0f s "
            "simulated\n",
            r->scenario, (unsigned long long)r->seed, cl->n_phases, total);
    if (r->hardware[0])
        fprintf(out,
                "hardware '%s' (simulated; %s), daemon prior '%s';\n  "
                "scale-out delay %.0f s, scale-in delay %.0f s (simulated)\n",
                r->hardware,
                strcmp(r->hardware, r->prior) ? "the daemon is not told"
                                              : "the daemon is told",
                r->prior, r->scale_out_s, r->scale_in_s);
    fprintf(out,
            "controller (telemetry clock, every %ld ms): gain > %.1f%%, "
            "dwell %.1f s, cooldown %.1f s, max step %ld,\n  ack timeout "
            "%.0f s, backoff %.0f s; settled after %.0f s still past the "
            "cooldown: gain > %.1f%%;\n  "
            "alerts: debounce %.1f s, resolve %.1f s\nworkload half-life "
            "%.0f requests; liveness %.1f s; actuation delay %.1f s "
            "(simulated)\n\n",
            s->eval_interval_ms, 100 * s->gain_threshold, s->dwell_ms / 1e3,
            s->cooldown_ms / 1e3, s->max_step, s->ack_timeout_ms / 1e3,
            s->backoff_ms / 1e3, s->settle_ms / 1e3, 100 * s->settled_gain,
            s->alert_debounce_ms / 1e3, s->alert_resolve_ms / 1e3,
            s->workload_half_life, s->liveness_window_s, s->actuation_delay_s);
    fprintf(out, "phases\n  %-3s %-36s %10s %7s %5s\n", "#", "name", "duration",
            "batch", "ffn");
    for (i = 0; i < cl->n_phases; i++) {
        const struct afd_demo_phase *ph = &cl->phases[i];
        fprintf(out, "  p%-2zu %-36.36s %8.0f s %7.0f %5d\n", i + 1, ph->name,
                ph->duration_s, ph->batch, ph->ffn_instances);
    }
}

static void print_phase_columns(const struct afd_demo_policy *cl, FILE *out)
{
    size_t i;
    char h[32];

    for (i = 0; i < cl->n_phases; i++) {
        snprintf(h, sizeof(h), "p%zu", i + 1);
        fprintf(out, " %8s", h);
    }
}

static void print_throughput(const struct afd_demo_report *r, FILE *out)
{
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    size_t i;
    int k;

    fprintf(out,
            "\nthroughput per device (tokens/ms/device; higher is better)\n"
            "%-20s %8s",
            "policy", "overall");
    print_phase_columns(cl, out);
    fprintf(out, " %10s %9s\n", "vs oracle", "commands");
    for (k = 0; k < AFD_DEMO_N_POLICIES; k++) {
        const struct afd_demo_policy *p = &r->policies[k];
        double eff = afd_demo_efficiency(r, (enum afd_demo_policy_kind)k);
        fprintf(out, "%-20s %8.3f", policy_names[k], p->throughput_per_device);
        for (i = 0; i < p->n_phases; i++)
            fprintf(out, " %8.3f", p->phases[i].throughput_per_device);
        if (isnan(eff))
            fprintf(out, " %10s", "-");
        else
            fprintf(out, " %9.1f%%", 100 * eff);
        if (k == AFD_DEMO_CLOSED_LOOP && p->scale_commands >= 0)
            fprintf(out, " %9ld\n", p->scale_commands);
        else
            fprintf(out, " %9s\n", "-");
    }
}

/* Mean Attention instances per phase (static: the fixed x), and settle. */
static void print_instances(const struct afd_demo_report *r, FILE *out)
{
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    size_t i;
    int k;

    fprintf(out, "\nAttention instances x (mean over the phase)\n%-20s",
            "policy");
    print_phase_columns(cl, out);
    fputc('\n', out);
    for (k = 0; k < AFD_DEMO_N_POLICIES; k++) {
        const struct afd_demo_policy *p = &r->policies[k];
        fprintf(out, "%-20s", policy_names[k]);
        for (i = 0; i < p->n_phases; i++) {
            double x = p->phases[i].attention_instances_mean;
            if (isnan(x))
                x = p->phases[i].static_attention;
            if (isnan(x))
                fprintf(out, " %8s", "-");
            else
                fprintf(out, " %8.2f", x);
        }
        fputc('\n', out);
    }
    fprintf(out, "%-20s", "closed_loop settle");
    for (i = 0; i < cl->n_phases; i++) {
        double t = cl->phases[i].settle_time_s;
        char cell[32];
        if (isnan(t))
            snprintf(cell, sizeof(cell), "never");
        else
            snprintf(cell, sizeof(cell), "%.0f s", t);
        fprintf(out, " %8s", cell);
    }
    fprintf(out, "\n  (settle: simulated seconds from the phase start, or "
                 "from a hardware drift inside it,\n  to the closed loop's "
                 "settled ratio)\n");
}

/* One timeline line: phase starts, commands and alerts in time order. */
struct event {
    double t_s;
    int order; /* 0 phase, 1 command, 2 alert: ties in that order */
    size_t i;
};

static int event_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;

    if (x->t_s != y->t_s)
        return x->t_s < y->t_s ? -1 : 1;
    if (x->order != y->order)
        return x->order - y->order;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void print_event(const struct afd_demo_policy *cl, const struct event *e,
                        FILE *out)
{
    if (e->order == 0) {
        fprintf(out, "%9.1f s  phase p%zu '%s' starts\n", e->t_s, e->i + 1,
                cl->phases[e->i].name);
    } else if (e->order == 1) {
        const struct afd_demo_command *c = &cl->commands[e->i];
        fprintf(out, "%9.1f s  command #%llu: attention %d -> %d (%s): %s\n",
                e->t_s, (unsigned long long)c->id, c->from, c->to,
                *c->regime ? c->regime : "?", c->reason);
    } else {
        const struct afd_demo_alert *a = &cl->alerts[e->i];
        fprintf(out, "%9.1f s  alert %s %s (%s): %s\n", e->t_s, a->alertname,
                a->action, *a->regime ? a->regime : "?", a->explanation);
    }
}

static void print_timeline(const struct afd_demo_report *r, FILE *out)
{
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    size_t n = cl->n_phases + cl->n_commands + cl->n_alerts, i, j = 0;
    double t = 0;
    struct event *ev = calloc(n ? n : 1, sizeof(*ev));

    fprintf(out, "\ndecisions and regime alerts (closed loop, simulated "
                 "time)\n");
    if (!ev) {
        fprintf(out, "  (out of memory)\n");
        return;
    }
    for (i = 0; i < cl->n_phases; i++) {
        ev[j++] = (struct event){t, 0, i};
        t += cl->phases[i].duration_s;
    }
    for (i = 0; i < cl->n_commands; i++)
        ev[j++] = (struct event){cl->commands[i].t_s, 1, i};
    for (i = 0; i < cl->n_alerts; i++)
        ev[j++] = (struct event){cl->alerts[i].t_s, 2, i};
    qsort(ev, n, sizeof(*ev), event_cmp);
    for (i = 0; i < n; i++)
        print_event(cl, &ev[i], out);
    free(ev);
}

void afd_demo_report_print(const struct afd_demo_report *r, FILE *out)
{
    print_header(r, out);
    print_throughput(r, out);
    print_instances(r, out);
    print_timeline(r, out);
    if (*r->svg_path)
        fprintf(out, "\nSVG timeline: %s\n", r->svg_path);
}

/* ---- JSON ------------------------------------------------------------- */

/* A real, or null for NAN. */
static json_t *real_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

/* root[key] (a new reference) or an empty array. */
static json_t *passthrough(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);

    return v ? json_incref(v) : json_array();
}

static json_t *settings_json(const struct afd_demo_settings *s)
{
    return json_pack(
        "{s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:f, "
        "s:f, s:f}",
        "clock", "telemetry", "eval_interval_ms",
        (json_int_t)s->eval_interval_ms, "gain_threshold", s->gain_threshold,
        "dwell_ms", (json_int_t)s->dwell_ms, "cooldown_ms",
        (json_int_t)s->cooldown_ms, "max_step", (json_int_t)s->max_step,
        "ack_timeout_ms", (json_int_t)s->ack_timeout_ms, "backoff_ms",
        (json_int_t)s->backoff_ms, "settle_ms", (json_int_t)s->settle_ms,
        "settled_gain_threshold", s->settled_gain, "alert_debounce_ms",
        (json_int_t)s->alert_debounce_ms, "alert_resolve_ms",
        (json_int_t)s->alert_resolve_ms, "workload_half_life",
        s->workload_half_life, "actuation_delay_s", s->actuation_delay_s,
        "liveness_window_s", s->liveness_window_s);
}

static json_t *policy_json(const struct afd_demo_report *r, int k)
{
    const struct afd_demo_policy *p = &r->policies[k];

    return json_pack(
        "{s:s, s:f, s:o, s:o, s:o}", "name", policy_names[k],
        "throughput_per_device", p->throughput_per_device, "per_phase",
        passthrough(p->root, "per_phase"), "scale_commands",
        p->scale_commands >= 0 ? json_integer(p->scale_commands) : json_null(),
        "efficiency_vs_oracle",
        real_or_null(afd_demo_efficiency(r, (enum afd_demo_policy_kind)k)));
}

json_t *afd_demo_report_json(const struct afd_demo_report *r)
{
    json_t *cl = r->policies[AFD_DEMO_CLOSED_LOOP].root;
    json_t *pols = json_array();
    int k;

    if (!pols)
        return NULL;
    for (k = 0; k < AFD_DEMO_N_POLICIES; k++)
        if (r->policies[k].present &&
            json_array_append_new(pols, policy_json(r, k))) {
            json_decref(pols);
            return NULL;
        }
    return json_pack(
        "{s:s, s:I, s:s, s:s, s:f, s:f, s:o, s:o, s:o, s:o, s:o, s:o}",
        "scenario", r->scenario, "seed", (json_int_t)r->seed, "hardware",
        r->hardware, "prior", r->prior, "scale_out_delay_s", r->scale_out_s,
        "scale_in_delay_s", r->scale_in_s, "settings",
        settings_json(&r->settings), "policies", pols, "timeline",
        passthrough(cl, "timeline"), "commands", passthrough(cl, "commands"),
        "alerts", passthrough(cl, "alerts"), "svg",
        *r->svg_path ? json_string(r->svg_path) : json_null());
}
