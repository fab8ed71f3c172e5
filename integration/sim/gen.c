/* gen.c - parsing workload specs and drawing (P, D) requests from them. */
#include "integration/sim/gen.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "plugin/io/trace_file.h"
#include "plugin/sys/os.h"

static const char *const kind_names[] = {"geometric", "lognormal", "pareto",
                                         "fixed", "trace"};

#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* Which keys a kind needs (required) and accepts (optional). */
struct kind_keys {
    const char *required;
    const char *optional;
};

static const struct kind_keys kind_keys[] = {
    {"prompt,decode", "prompt_dist"},
    {"prompt,decode,cv", "prompt_dist"},
    {"prompt,decode,alpha", "prompt_dist"},
    {"prompt,decode", ""},
    {"", ""},
};

static const char help_text[] =
    "workload specs (--workload SPEC), KIND:KEY=VALUE,...\n"
    "  geometric:prompt=P,decode=D[,prompt_dist=fixed|exp]\n"
    "      decode ~ geometric on {1,2,...} with mean D\n"
    "  lognormal:prompt=P,decode=D,cv=C[,prompt_dist=fixed|exp]\n"
    "      decode = max(1, round(X)), X lognormal, mean D, coeff. of var. C\n"
    "  pareto:prompt=P,decode=D,alpha=A[,prompt_dist=fixed|exp]\n"
    "      decode = max(1, round(X)), X Pareto with mean D and tail A > 1\n"
    "      (theta needs A > 2, sigma A > 3)\n"
    "  fixed:prompt=P,decode=D      every request exactly (P, D), integers\n"
    "  trace:PATH                   resample (P, D) pairs jointly from a "
    "trace\n"
    "                               (Azure, processed CSV or Mooncake JSONL)\n"
    "  prompt_dist=fixed (default): every prompt is exactly P tokens (an\n"
    "  integer); prompt_dist=exp: geometric on {0,1,...} with mean P (the\n"
    "  discretised exponential).\n";

const char *afd_gen_help(void)
{
    return help_text;
}

static bool key_in_list(const char *list, const char *key, size_t klen)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == klen && !strncmp(p, key, klen))
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

static int load_trace(const char *path, struct afd_gen *g, char *err)
{
    struct afd_trace t = {0};
    size_t i;
    int rc = afd_trace_load(path, &t, err);

    if (rc)
        return rc;
    g->pairs = malloc(2 * t.n * sizeof(*g->pairs));
    if (!g->pairs) {
        afd_trace_release(&t);
        return afd_err(err, AFD_ENOMEM, "trace '%s': out of memory", path);
    }
    for (i = 0; i < t.n; i++) {
        double p = fmin(round(t.prompt[i]), (double)AFD_GEN_MAX_TOKENS);
        double d = fmin(round(t.decode[i]), (double)AFD_GEN_MAX_TOKENS);
        g->pairs[2 * i] = (int64_t)fmax(p, 0.0);
        g->pairs[2 * i + 1] = (int64_t)fmax(d, 1.0);
    }
    g->n = t.n;
    afd_trace_release(&t);
    return AFD_OK;
}

static const char *const key_names[] = {"prompt", "decode", "cv", "alpha",
                                        "prompt_dist"};
#define N_KEYS (sizeof(key_names) / sizeof(key_names[0]))

static unsigned key_index(const char *key, size_t klen)
{
    unsigned i;

    for (i = 0; i < N_KEYS; i++)
        if (strlen(key_names[i]) == klen && !strncmp(key, key_names[i], klen))
            return i;
    return (unsigned)N_KEYS;
}

/* Stores one KEY=VALUE into g; `seen` guards against repeats. */
static int set_key(struct afd_gen *g, const char *kind, const char *key,
                   const char *val, unsigned *seen, char *err)
{
    unsigned i = key_index(key, strlen(key));
    double v = 0;
    char what[64];

    if (*seen & (1u << i))
        return afd_err(err, AFD_EPARSE, "workload '%s': key '%s' given twice",
                       kind, key);
    *seen |= 1u << i;
    if (i == 4) {
        if (strcmp(val, "fixed") && strcmp(val, "exp"))
            return afd_err(err, AFD_EINVAL,
                           "workload '%s': prompt_dist must be 'fixed' or "
                           "'exp', got '%s'",
                           kind, val);
        g->prompt_exp = !strcmp(val, "exp");
        return AFD_OK;
    }
    snprintf(what, sizeof(what), "workload '%s' key '%s'", kind, key);
    if (afd_parse_double(val, what, &v, err))
        return AFD_EPARSE;
    if (i == 0)
        g->prompt = v;
    else if (i == 1)
        g->decode = v;
    else if (i == 2)
        g->cv = v;
    else
        g->alpha = v;
    return AFD_OK;
}

/* Splits "k=v,k=v" and checks every key against the kind's lists. */
static int parse_keys(struct afd_gen *g, const char *kind, const char *rest,
                      char *err)
{
    const struct kind_keys *kk = &kind_keys[g->kind];
    char buf[AFD_GEN_SPEC_LEN], *tok, *save = NULL;
    unsigned seen = 0;
    const char *p;
    int rc;

    snprintf(buf, sizeof(buf), "%s", rest);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            return afd_err(err, AFD_EPARSE,
                           "workload '%s': expected KEY=VALUE, got '%s'", kind,
                           tok);
        *eq = '\0';
        if (!key_in_list(kk->required, tok, strlen(tok)) &&
            !key_in_list(kk->optional, tok, strlen(tok)))
            return afd_err(err, AFD_EPARSE,
                           "workload '%s': unknown key '%s' (known: %s%s%s)",
                           kind, tok, kk->required, *kk->optional ? "," : "",
                           kk->optional);
        rc = set_key(g, kind, tok, eq + 1, &seen, err);
        if (rc)
            return rc;
    }
    /* every required key present? */
    for (p = kk->required; *p;) {
        size_t n = strcspn(p, ",");
        if (!(seen & (1u << key_index(p, n))))
            return afd_err(err, AFD_EPARSE,
                           "workload '%s': missing key '%.*s' (needs %s)", kind,
                           (int)n, p, kk->required);
        p += n;
        if (*p == ',')
            p++;
    }
    return AFD_OK;
}

static bool is_int(double v)
{
    return v == floor(v);
}

/* Range checks, then the derived sampling constants. */
static int check_values(struct afd_gen *g, const char *kind, char *err)
{
    if (!(g->prompt >= 0) || g->prompt > (double)AFD_GEN_MAX_TOKENS)
        return afd_err(err, AFD_EINVAL,
                       "workload '%s': prompt must be >= 0, got %g", kind,
                       g->prompt);
    if (!(g->decode >= 1) || g->decode > (double)AFD_GEN_MAX_TOKENS)
        return afd_err(err, AFD_EINVAL,
                       "workload '%s': decode must be >= 1, got %g", kind,
                       g->decode);
    if (!g->prompt_exp && !is_int(g->prompt))
        return afd_err(err, AFD_EINVAL,
                       "workload '%s': a fixed prompt must be an integer, got "
                       "%g (or use prompt_dist=exp)",
                       kind, g->prompt);
    if (g->kind == AFD_GEN_FIXED && !is_int(g->decode))
        return afd_err(err, AFD_EINVAL,
                       "workload 'fixed': decode must be an integer, got %g",
                       g->decode);
    if (g->kind == AFD_GEN_LOGNORMAL && !(g->cv > 0))
        return afd_err(err, AFD_EINVAL,
                       "workload 'lognormal': cv must be > 0, got %g", g->cv);
    if (g->kind == AFD_GEN_PARETO && !(g->alpha > 1))
        return afd_err(err, AFD_EINVAL,
                       "workload 'pareto': alpha must be > 1 (finite mean), "
                       "got %g",
                       g->alpha);
    g->log_q_prompt = g->prompt > 0 ? log(g->prompt / (1.0 + g->prompt)) : 0;
    g->log_q_decode = g->decode > 1 ? log1p(-1.0 / g->decode) : 0;
    g->ln_sigma = sqrt(log1p(g->cv * g->cv));
    g->ln_mu = log(g->decode) - 0.5 * g->ln_sigma * g->ln_sigma;
    g->pareto_xm = g->alpha > 1 ? g->decode * (g->alpha - 1) / g->alpha : 0;
    return AFD_OK;
}

int afd_gen_parse(const char *spec, struct afd_gen *out, char *err)
{
    const char *colon;
    char kind[32];
    size_t klen, k;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!spec || !*spec)
        return afd_err(err, AFD_EPARSE, "workload spec is empty (%s)",
                       "e.g. 'geometric:prompt=100,decode=500'");
    if (strlen(spec) >= AFD_GEN_SPEC_LEN)
        return afd_err(err, AFD_EPARSE, "workload spec longer than %d bytes",
                       AFD_GEN_SPEC_LEN - 1);
    colon = strchr(spec, ':');
    klen = colon ? (size_t)(colon - spec) : strlen(spec);
    snprintf(kind, sizeof(kind), "%.*s", (int)(klen < 31 ? klen : 31), spec);
    for (k = 0; k < N_KINDS; k++)
        if (klen == strlen(kind_names[k]) &&
            !strncmp(spec, kind_names[k], klen))
            break;
    if (k == N_KINDS)
        return afd_err(err, AFD_EPARSE,
                       "unknown workload kind '%s' (known: geometric, "
                       "lognormal, pareto, fixed, trace)",
                       kind);
    out->kind = (enum afd_gen_kind)k;
    if (!colon || !colon[1])
        return afd_err(err, AFD_EPARSE,
                       "workload '%s' needs parameters after ':' (%s)", kind,
                       k == AFD_GEN_TRACE ? "trace:PATH"
                                          : "e.g. prompt=100,decode=500");
    snprintf(out->spec, sizeof(out->spec), "%s", spec);
    if (out->kind == AFD_GEN_TRACE) {
        rc = load_trace(colon + 1, out, err);
        if (rc)
            afd_gen_release(out);
        return rc;
    }
    rc = parse_keys(out, kind, colon + 1, err);
    if (!rc)
        rc = check_values(out, kind, err);
    return rc;
}

void afd_gen_release(struct afd_gen *g)
{
    if (!g)
        return;
    free(g->pairs);
    g->pairs = NULL;
    g->n = 0;
}

static int64_t clamp_tokens(double v, double lo)
{
    if (!(v >= lo))
        return (int64_t)lo;
    if (v > (double)AFD_GEN_MAX_TOKENS)
        return AFD_GEN_MAX_TOKENS;
    return (int64_t)v;
}

static int64_t draw_prompt(const struct afd_gen *g, struct afd_rng *rng)
{
    if (!g->prompt_exp || g->prompt == 0)
        return (int64_t)g->prompt;
    return clamp_tokens(floor(log(afd_rng_uniform_pos(rng)) / g->log_q_prompt),
                        0.0);
}

void afd_gen_draw(const struct afd_gen *g, struct afd_rng *rng, int64_t *p,
                  int64_t *d)
{
    double x;

    switch (g->kind) {
    case AFD_GEN_TRACE: {
        uint64_t i = afd_rng_below(rng, g->n);
        *p = g->pairs[2 * i];
        *d = g->pairs[2 * i + 1];
        return;
    }
    case AFD_GEN_GEOMETRIC:
        *d = g->decode > 1
                 ? clamp_tokens(1.0 + floor(log(afd_rng_uniform_pos(rng)) /
                                            g->log_q_decode),
                                1.0)
                 : 1;
        break;
    case AFD_GEN_LOGNORMAL:
        x = exp(g->ln_mu + g->ln_sigma * afd_rng_normal(rng));
        *d = clamp_tokens(round(x), 1.0);
        break;
    case AFD_GEN_PARETO:
        x = g->pareto_xm * pow(afd_rng_uniform_pos(rng), -1.0 / g->alpha);
        *d = clamp_tokens(round(x), 1.0);
        break;
    case AFD_GEN_FIXED:
    default:
        *d = (int64_t)g->decode;
        break;
    }
    *p = draw_prompt(g, rng);
}

void afd_gen_means(const struct afd_gen *g, double *prompt, double *decode)
{
    long double sp = 0, sd = 0;
    size_t i;

    if (g->kind != AFD_GEN_TRACE) {
        *prompt = g->prompt;
        *decode = g->decode;
        return;
    }
    for (i = 0; i < g->n; i++) {
        sp += g->pairs[2 * i];
        sd += g->pairs[2 * i + 1];
    }
    *prompt = g->n ? (double)(sp / g->n) : 0;
    *decode = g->n ? (double)(sd / g->n) : 1;
}
