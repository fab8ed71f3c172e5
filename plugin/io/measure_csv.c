/*
 * measure_csv.c - the `stage,tokens,ms` CSV (measure_csv.h).
 */
#include "plugin/io/measure_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "plugin/sys/os.h"

#define MAX_BYTES (64u << 20)
#define FIELD_LEN 64

static const char *const columns[3] = {"stage", "tokens", "ms"};

void afd_measure_set_free(struct afd_measure_set *s)
{
    int i;

    for (i = 0; i < AFD_STAGE_COUNT; i++) {
        free(s->pts[i]);
        s->pts[i] = NULL;
        s->n[i] = 0;
    }
}

static int push(struct afd_measure_set *s, size_t *cap, enum afd_stage st,
                double x, double ms, char *err)
{
    if (s->n[st] == cap[st]) {
        size_t nc = cap[st] ? 2 * cap[st] : 64;
        struct afd_fit_point *p = realloc(s->pts[st], nc * sizeof(*p));

        if (!p)
            return afd_err(err, AFD_ENOMEM,
                           "out of memory reading measurements");
        s->pts[st] = p;
        cap[st] = nc;
    }
    s->pts[st][s->n[st]].x = x;
    s->pts[st][s->n[st]].ms = ms;
    s->n[st]++;
    return AFD_OK;
}

/*
 * Splits one line (without its end) into 3 trimmed fields; col[i] is the
 * 1-based column where field i starts. Returns the number of fields found.
 */
static int split(const char *line, size_t len, char f[3][FIELD_LEN],
                 size_t col[3], size_t *too_long)
{
    size_t i = 0, start = 0;
    int k = 0;

    *too_long = 0;
    while (i <= len) {
        if (i == len || line[i] == ',') {
            if (k < 3) {
                size_t a = start, b = i;

                while (a < b && (line[a] == ' ' || line[a] == '\t'))
                    a++;
                while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
                    b--;
                col[k] = a + 1;
                if (b - a >= FIELD_LEN) {
                    *too_long = col[k];
                    b = a + FIELD_LEN - 1;
                }
                memcpy(f[k], line + a, b - a);
                f[k][b - a] = '\0';
            }
            k++;
            start = i + 1;
        }
        i++;
    }
    return k;
}

int afd_measure_parse(const char *text, const char *path,
                      struct afd_measure_set *out, char *err)
{
    size_t cap[AFD_STAGE_COUNT] = {0};
    const char *p = text;
    size_t lineno = 0;
    int header_seen = 0, rc = AFD_OK;

    memset(out, 0, sizeof(*out));
    while (*p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char f[3][FIELD_LEN];
        size_t col[3] = {1, 1, 1}, too_long, j;
        int k;

        lineno++;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        for (j = 0; j < len && (p[j] == ' ' || p[j] == '\t'); j++)
            ;
        if (j == len || p[j] == '#')
            goto next;
        k = split(p, len, f, col, &too_long);
        if (too_long) {
            rc = afd_err(err, AFD_EPARSE,
                         "%s:%zu:%zu: field longer than %d "
                         "characters",
                         path, lineno, too_long, FIELD_LEN - 1);
            goto fail;
        }
        if (k != 3) {
            rc = afd_err(err, AFD_EPARSE,
                         "%s:%zu:%zu: expected 3 fields (stage,tokens,ms), "
                         "got %d",
                         path, lineno, k < 3 ? len + 1 : col[2], k);
            goto fail;
        }
        if (!header_seen) {
            for (k = 0; k < 3; k++)
                if (strcmp(f[k], columns[k])) {
                    rc = afd_err(err, AFD_EPARSE,
                                 "%s:%zu:%zu: header column %d must be '%s', "
                                 "got '%s' (header: stage,tokens,ms)",
                                 path, lineno, col[k], k + 1, columns[k], f[k]);
                    goto fail;
                }
            header_seen = 1;
        } else {
            enum afd_stage st;
            double v[2];
            char e2[AFD_ERR_LEN];

            if (afd_stage_parse(f[0], &st) != AFD_OK) {
                rc = afd_err(err, AFD_EPARSE,
                             "%s:%zu:%zu: stage must be attention, "
                             "communication or ffn, got '%s'",
                             path, lineno, col[0], f[0]);
                goto fail;
            }
            for (k = 1; k < 3; k++) {
                if (afd_parse_double(f[k], columns[k], &v[k - 1], e2) !=
                        AFD_OK ||
                    v[k - 1] < 0) {
                    rc = afd_err(err, AFD_EPARSE,
                                 "%s:%zu:%zu: %s must be a number >= 0, got "
                                 "'%s'",
                                 path, lineno, col[k], columns[k], f[k]);
                    goto fail;
                }
            }
            rc = push(out, cap, st, v[0], v[1], err);
            if (rc != AFD_OK)
                goto fail;
        }
    next:
        if (!end)
            break;
        p = end + 1;
    }
    if (!header_seen) {
        rc = afd_err(err, AFD_EPARSE,
                     "%s:1:1: no header line 'stage,tokens,ms'", path);
        goto fail;
    }
    return AFD_OK;
fail:
    afd_measure_set_free(out);
    return rc;
}

int afd_measure_load(const char *path, struct afd_measure_set *out, char *err)
{
    char *text;
    size_t len;
    int rc = afd_read_file(path, MAX_BYTES, &text, &len, err);

    if (rc != AFD_OK)
        return rc;
    if (strlen(text) != len) {
        free(text);
        return afd_err(err, AFD_EPARSE,
                       "%s: contains a NUL byte; not a CSV "
                       "text file",
                       path);
    }
    rc = afd_measure_parse(text, path, out, err);
    free(text);
    return rc;
}
