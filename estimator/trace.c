/*
 * trace.c - content-detected parsing of request traces into (P, D) pairs.
 *
 * One pass over the text, line by line (LF or CRLF; blank lines skipped).
 * The first non-empty line decides the format: a CSV header naming the Azure
 * or the processed-trace columns, or a JSON object with "input_length" and
 * "output_length" (Mooncake). CSV columns are located by header name. JSON
 * lines go through a small scanner that reads the two top-level keys and
 * skips every other value (strings, numbers, literals, nested arrays and
 * objects such as hash_ids) without building anything.
 *
 * Numbers: plain non-negative integers, the only thing real traces hold, take
 * a fast digit loop; anything else (fraction, exponent, sign, nan) is copied
 * to a small NUL-terminated buffer and read by strtod, so a field never makes
 * strtod look past the end of the caller's text.
 *
 * Arrays are sized once from the line count, so there is one allocation per
 * array and no growth.
 */
#include "estimator/trace.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUMBER_LEN  64 /* bytes; longer numeric fields are malformed */
#define CSV_MAX_COLUMNS 64 /* header columns searched for the two we need */

/* One line of text, without its terminator (LF or CRLF). */
struct line {
    const char *s;
    size_t len;
};

struct csv_columns {
    size_t prompt; /* 0-based field index */
    size_t decode;
    size_t needed; /* max(prompt, decode) + 1 */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static struct line trim(struct line l)
{
    while (l.len && is_space(l.s[0])) {
        l.s++;
        l.len--;
    }
    while (l.len && is_space(l.s[l.len - 1]))
        l.len--;
    return l;
}

/*
 * Reads a number from exactly [s, s+len). Returns 0 and *out, or -1 when the
 * text is not a complete number.
 */
static int parse_number(const char *s, size_t len, double *out)
{
    char buf[MAX_NUMBER_LEN + 1];
    uint64_t v = 0;
    size_t i;
    char *end;

    if (len == 0)
        return -1;
    /* Fast path: up to 18 digits cannot overflow uint64_t. */
    for (i = 0; i < len && i < 18 && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (i == len) {
        *out = (double)v;
        return 0;
    }
    if (len > MAX_NUMBER_LEN)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, &end);
    return end == buf + len ? 0 : -1;
}

/* Quote at most 40 bytes of a line in a message, made printable. */
static void excerpt(struct line l, char *buf, size_t size)
{
    size_t i, n = l.len < size - 1 ? l.len : size - 1;

    if (n > 40)
        n = 40;
    for (i = 0; i < n; i++)
        buf[i] = (l.s[i] >= 0x20 && l.s[i] < 0x7f) ? l.s[i] : '?';
    buf[n] = '\0';
}

/* Trims blanks and one pair of surrounding double quotes from a field. */
static struct line field_clean(struct line f)
{
    f = trim(f);
    if (f.len >= 2 && f.s[0] == '"' && f.s[f.len - 1] == '"') {
        f.s++;
        f.len -= 2;
    }
    return f;
}

/*
 * Splits a CSV line (no commas inside quoted fields: none of the formats
 * quote) into its first `max` fields. Returns how many fields it found, up
 * to max; fields[k] is field k, cleaned.
 */
static size_t csv_split(struct line l, struct line *fields, size_t max)
{
    const char *p = l.s, *end = l.s + l.len, *c;
    size_t k = 0;

    while (k < max) {
        c = memchr(p, ',', (size_t)(end - p));
        fields[k].s = p;
        fields[k].len = (size_t)((c ? c : end) - p);
        fields[k] = field_clean(fields[k]);
        k++;
        if (!c)
            break;
        p = c + 1;
    }
    return k;
}

/* Number of fields in a line, for messages. */
static size_t csv_count(struct line l)
{
    size_t n = 1, i;

    for (i = 0; i < l.len; i++)
        n += l.s[i] == ',';
    return n;
}

/* Index of the header column named `name`, or -1. Headers are short. */
static long csv_find(struct line header, const char *name)
{
    struct line f[64];
    size_t k, n = csv_split(header, f, 64), nlen = strlen(name);

    for (k = 0; k < n; k++) {
        if (f[k].len == nlen && memcmp(f[k].s, name, nlen) == 0)
            return (long)k;
    }
    return -1;
}

static int csv_header(struct line header, const char *pname, const char *dname,
                      struct csv_columns *cols)
{
    long p = csv_find(header, pname), d = csv_find(header, dname);

    if (p < 0 || d < 0)
        return -1;
    cols->prompt = (size_t)p;
    cols->decode = (size_t)d;
    cols->needed = (size_t)(p > d ? p : d) + 1;
    return 0;
}

static int csv_row(struct line l, const struct csv_columns *cols, double *p,
                   double *d, char *why)
{
    struct line f[CSV_MAX_COLUMNS];
    char buf[48];

    if (csv_split(l, f, cols->needed) < cols->needed) {
        snprintf(why, AFD_ERR_LEN, "expected at least %zu fields, got %zu",
                 cols->needed, csv_count(l));
        return -1;
    }
    if (parse_number(f[cols->prompt].s, f[cols->prompt].len, p) < 0) {
        excerpt(f[cols->prompt], buf, sizeof(buf));
        snprintf(why, AFD_ERR_LEN, "prompt length '%s' is not a number", buf);
        return -1;
    }
    if (parse_number(f[cols->decode].s, f[cols->decode].len, d) < 0) {
        excerpt(f[cols->decode], buf, sizeof(buf));
        snprintf(why, AFD_ERR_LEN, "decode length '%s' is not a number", buf);
        return -1;
    }
    return 0;
}

/* ---- JSON lines ------------------------------------------------------- */

struct scan {
    const char *s;
    size_t i, len;
};

static void skip_ws(struct scan *sc)
{
    while (sc->i < sc->len && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
                               sc->s[sc->i] == '\r' || sc->s[sc->i] == '\n'))
        sc->i++;
}

/* A string starting at the quote; sets [*start, *start + *n) to its raw
 * body (escapes left in place). */
static int scan_string(struct scan *sc, const char **start, size_t *n)
{
    size_t b;

    if (sc->i >= sc->len || sc->s[sc->i] != '"')
        return -1;
    b = ++sc->i;
    while (sc->i < sc->len && sc->s[sc->i] != '"') {
        if (sc->s[sc->i] == '\\')
            sc->i++;
        sc->i++;
    }
    if (sc->i >= sc->len)
        return -1;
    *start = sc->s + b;
    *n = sc->i - b;
    sc->i++;
    return 0;
}

/* Any value other than a string: a number or literal runs to the next
 * delimiter; arrays and objects are skipped by depth, strings inside them
 * by scan_string so brackets in strings do not count. */
static int scan_value(struct scan *sc, const char **start, size_t *n)
{
    const char *str;
    size_t b = sc->i, sn;
    int depth = 0;

    if (sc->i >= sc->len)
        return -1;
    if (sc->s[sc->i] == '"') {
        if (scan_string(sc, &str, &sn) < 0)
            return -1;
        *start = sc->s + b;
        *n = sc->i - b;
        return 0;
    }
    while (sc->i < sc->len) {
        char c = sc->s[sc->i];

        if (c == '"') {
            if (scan_string(sc, &str, &sn) < 0)
                return -1;
            continue;
        }
        if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (depth == 0)
                break;
            depth--;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' ||
                                  c == '\r' || c == '\n')) {
            break;
        }
        sc->i++;
    }
    if (depth != 0 || sc->i == b)
        return -1;
    *start = sc->s + b;
    *n = sc->i - b;
    return 0;
}

static int json_number(const char *key, const char *v, size_t n, double *out,
                       char *why)
{
    struct line f = {v, n};
    char buf[48];

    if (parse_number(v, n, out) == 0)
        return 0;
    excerpt(f, buf, sizeof(buf));
    snprintf(why, AFD_ERR_LEN, "\"%s\" value '%s' is not a number", key, buf);
    return -1;
}

static int json_row(struct line l, double *p, double *d, char *why)
{
    struct scan sc = {l.s, 0, l.len};
    const char *key, *val;
    size_t klen, vlen;
    int have_p = 0, have_d = 0;

    skip_ws(&sc);
    if (sc.i >= sc.len || sc.s[sc.i] != '{') {
        snprintf(why, AFD_ERR_LEN, "expected a json object");
        return -1;
    }
    sc.i++;
    skip_ws(&sc);
    if (sc.i < sc.len && sc.s[sc.i] == '}')
        sc.i++;
    else {
        for (;;) {
            skip_ws(&sc);
            if (scan_string(&sc, &key, &klen) < 0)
                goto bad_syntax;
            skip_ws(&sc);
            if (sc.i >= sc.len || sc.s[sc.i] != ':')
                goto bad_syntax;
            sc.i++;
            skip_ws(&sc);
            if (scan_value(&sc, &val, &vlen) < 0)
                goto bad_syntax;
            if (klen == 12 && memcmp(key, "input_length", 12) == 0) {
                if (json_number("input_length", val, vlen, p, why) < 0)
                    return -1;
                have_p = 1;
            } else if (klen == 13 && memcmp(key, "output_length", 13) == 0) {
                if (json_number("output_length", val, vlen, d, why) < 0)
                    return -1;
                have_d = 1;
            }
            skip_ws(&sc);
            if (sc.i < sc.len && sc.s[sc.i] == ',') {
                sc.i++;
                continue;
            }
            if (sc.i < sc.len && sc.s[sc.i] == '}') {
                sc.i++;
                break;
            }
            goto bad_syntax;
        }
    }
    skip_ws(&sc);
    if (sc.i != sc.len)
        goto bad_syntax;
    if (!have_p || !have_d) {
        snprintf(why, AFD_ERR_LEN, "json object lacks \"%s\"",
                 have_p ? "output_length" : "input_length");
        return -1;
    }
    return 0;

bad_syntax:
    snprintf(why, AFD_ERR_LEN, "invalid json near byte %zu", sc.i + 1);
    return -1;
}

/* ---- driver ----------------------------------------------------------- */

static int check_lengths(double p, double d, char *why)
{
    if (!isfinite(p) || p < 0) {
        snprintf(why, AFD_ERR_LEN,
                 "prompt length must be finite and >= 0, got %g", p);
        return -1;
    }
    if (!isfinite(d) || d < 1) {
        snprintf(why, AFD_ERR_LEN,
                 "decode length must be finite and >= 1, got %g", d);
        return -1;
    }
    return 0;
}

static void note_bad(struct afd_trace *t, size_t lineno, const char *why)
{
    if (t->malformed++ == 0) {
        t->first_bad_line = lineno;
        snprintf(t->first_bad_reason, sizeof(t->first_bad_reason), "%s", why);
    }
}

/* Next line from *pos; returns 0 at end of text. */
static int next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
    const char *nl;

    if (*pos >= len)
        return 0;
    l->s = text + *pos;
    nl = memchr(l->s, '\n', len - *pos);
    l->len = nl ? (size_t)(nl - l->s) : len - *pos;
    *pos += l->len + (nl ? 1 : 0);
    if (l->len && l->s[l->len - 1] == '\r')
        l->len--;
    return 1;
}

static enum afd_trace_format detect(struct line first, struct csv_columns *cols)
{
    double p, d;
    char why[AFD_ERR_LEN];

    if (first.len && first.s[0] == '{')
        return json_row(first, &p, &d, why) == 0 ? AFD_TRACE_MOONCAKE
                                                 : AFD_TRACE_UNKNOWN;
    /* Azure's TIMESTAMP column is not needed, so it is not required. */
    if (csv_header(first, "ContextTokens", "GeneratedTokens", cols) == 0)
        return AFD_TRACE_AZURE;
    if (csv_header(first, "num_prefill_tokens", "num_decode_tokens", cols) == 0)
        return AFD_TRACE_PROCESSED;
    return AFD_TRACE_UNKNOWN;
}

static size_t count_lines(const char *text, size_t len)
{
    size_t n = 1;
    const char *p = text, *end = text + len;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

int afd_trace_parse(const char *text, size_t len, struct afd_trace *out,
                    char *err)
{
    struct csv_columns cols = {0, 0, 0};
    struct line l, first = {NULL, 0};
    size_t pos = 0, lineno = 0, cap;
    char why[AFD_ERR_LEN], buf[48];
    double p, d;
    int rc;

    assert(out);
    memset(out, 0, sizeof(*out));
    if (!text)
        len = 0;
    /* Skip a UTF-8 byte order mark, which some exporters prepend. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (next_line(text, len, &pos, &l)) {
        lineno++;
        if ((l = trim(l)).len) {
            first = l;
            break;
        }
    }
    if (!first.s)
        return afd_err(err, AFD_EEMPTY, "trace is empty (no non-blank line)");
    out->format = detect(first, &cols);
    if (out->format == AFD_TRACE_UNKNOWN) {
        excerpt(first, buf, sizeof(buf));
        return afd_err(err, AFD_EPARSE,
                       "unrecognised trace format at line %zu '%s'; known: "
                       "azure csv (ContextTokens,GeneratedTokens), "
                       "processed csv (num_prefill_tokens,num_decode_tokens), "
                       "mooncake jsonl (input_length,output_length)",
                       lineno, buf);
    }
    cap = count_lines(text + pos, len - pos) + 1;
    out->prompt = malloc(cap * sizeof(double));
    out->decode = malloc(cap * sizeof(double));
    if (!out->prompt || !out->decode) {
        rc = afd_err(err, AFD_ENOMEM, "cannot allocate %zu trace entries", cap);
        goto fail;
    }
    /* Mooncake's first line is data; the CSV header is not. */
    if (out->format == AFD_TRACE_MOONCAKE) {
        pos = (size_t)(first.s - text);
        lineno--;
    }
    while (next_line(text, len, &pos, &l)) {
        lineno++;
        if ((l = trim(l)).len == 0)
            continue;
        if (out->format == AFD_TRACE_MOONCAKE)
            rc = json_row(l, &p, &d, why);
        else
            rc = csv_row(l, &cols, &p, &d, why);
        if (rc < 0 || check_lengths(p, d, why) < 0) {
            note_bad(out, lineno, why);
            continue;
        }
        assert(out->n < cap);
        out->prompt[out->n] = p;
        out->decode[out->n] = d;
        out->n++;
    }
    if (out->n == 0) {
        if (out->malformed == 0)
            rc = afd_err(err, AFD_EPARSE,
                         "%s trace has a header but no data lines",
                         afd_trace_format_name(out->format));
        else
            rc = afd_err(err, AFD_EPARSE,
                         "no valid request in %s trace (%zu bad lines); "
                         "first bad line %zu: %s",
                         afd_trace_format_name(out->format), out->malformed,
                         out->first_bad_line, out->first_bad_reason);
        goto fail;
    }
    return AFD_OK;

fail:
    afd_trace_release(out);
    return rc;
}

void afd_trace_release(struct afd_trace *t)
{
    if (!t)
        return;
    free(t->prompt);
    free(t->decode);
    t->prompt = NULL;
    t->decode = NULL;
    t->n = 0;
}

const char *afd_trace_format_name(enum afd_trace_format f)
{
    switch (f) {
    case AFD_TRACE_AZURE:
        return "azure";
    case AFD_TRACE_PROCESSED:
        return "processed";
    case AFD_TRACE_MOONCAKE:
        return "mooncake";
    case AFD_TRACE_UNKNOWN:
        break;
    }
    return "unknown";
}
