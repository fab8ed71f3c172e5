/*
 * trace.h - parsing request traces into (prompt, decode) pairs.
 *
 * Pure: the caller supplies the text (plugin/io/trace_file.h reads files). The
 * format is recognised by content, from the first non-empty line:
 *   AFD_TRACE_AZURE      CSV header TIMESTAMP,ContextTokens,GeneratedTokens
 *   AFD_TRACE_PROCESSED  CSV header num_prefill_tokens,num_decode_tokens,...
 *   AFD_TRACE_MOONCAKE   JSON lines with "input_length" and "output_length"
 * Columns are found by header name, not position. A data line that does not
 * parse, or has a negative/non-finite length, or decode < 1, is counted in
 * `malformed` (the first one's line number and reason are kept) and skipped;
 * parsing fails only when nothing valid remains.
 *
 * Ownership: afd_trace_parse fills a struct afd_trace whose arrays it
 * allocates; afd_trace_release frees them (safe on a zeroed struct).
 */
#ifndef AFD_TRACE_H
#define AFD_TRACE_H

#include <stddef.h>

#include "estimator/base/error.h"

enum afd_trace_format {
    AFD_TRACE_UNKNOWN = 0,
    AFD_TRACE_AZURE,
    AFD_TRACE_PROCESSED,
    AFD_TRACE_MOONCAKE,
};

struct afd_trace {
    enum afd_trace_format format;
    size_t n;         /* valid requests */
    double *prompt;   /* n prompt lengths, tokens */
    double *decode;   /* n decode lengths, tokens (>= 1) */
    size_t malformed; /* data lines skipped */
    size_t
        first_bad_line; /* 1-based line number of the first skip, 0 if none */
    char first_bad_reason[AFD_ERR_LEN]; /* why it was skipped */
};

/*
 * Parses len bytes of text (need not be NUL-terminated). Returns AFD_OK;
 * AFD_EPARSE when the format is not recognised (message names the formats it
 * knows) or when no valid request remains (message gives the first bad line);
 * AFD_EEMPTY on empty input; AFD_ENOMEM. On failure *out is released.
 */
int afd_trace_parse(const char *text, size_t len, struct afd_trace *out,
                    char *err);
void afd_trace_release(struct afd_trace *t);

const char *afd_trace_format_name(enum afd_trace_format f);

#endif
