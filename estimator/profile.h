/*
 * profile.h - hardware latency profiles (model.md section 2).
 *
 * A profile is six affine coefficients, in milliseconds and tokens:
 *     t_A(T) = aA*T + bA     T = token load of ONE Attention instance
 *     t_C(n) = aC*n + bC     n = B (per_instance) or r*B (aggregate)
 *     t_F(n) = aF*n + bF     n = r*B tokens reaching one FFN instance
 * plus the comm mode, a name and a provenance line. A struct afd_profile is a
 * plain value: copy it freely. Built-in profiles are static and read-only.
 * Loading a profile from JSON lives in the plugin (plugin/io/profile_json.h);
 * this module only validates.
 */
#ifndef AFD_PROFILE_H
#define AFD_PROFILE_H

#include <stddef.h>

#define AFD_PROFILE_NAME_LEN       64
#define AFD_PROFILE_PROVENANCE_LEN 256
#define AFD_DEFAULT_PROFILE        "paper-v1-fit"

enum afd_comm_mode {
    AFD_COMM_PER_INSTANCE = 0, /* t_C depends on B (paper v1) */
    AFD_COMM_AGGREGATE = 1,    /* t_C depends on r*B (paper v3) */
};

struct afd_profile {
    char name[AFD_PROFILE_NAME_LEN];
    char provenance[AFD_PROFILE_PROVENANCE_LEN]; /* where the numbers came from
                                                  */
    double aA; /* ms per token of Attention load */
    double bA; /* ms, Attention fixed cost per step */
    double aC; /* ms per token communicated */
    double bC; /* ms, communication fixed cost per step */
    double aF; /* ms per token through the FFN */
    double bF; /* ms, FFN fixed cost per step */
    enum afd_comm_mode comm_mode;
};

/*
 * Looks up a built-in profile by name. Returns a pointer to static storage,
 * or NULL when no built-in has that name.
 */
const struct afd_profile *afd_profile_builtin(const char *name);

/* Number of built-in profiles, and the i-th (NULL when out of range). */
size_t afd_profile_builtin_count(void);
const struct afd_profile *afd_profile_builtin_at(size_t i);

/*
 * Checks every coefficient is finite and >= 0, that aA and aF are > 0 (the
 * solver divides by them), that the comm mode is known and that the name is
 * not empty. Returns AFD_OK or AFD_EINVAL with a message naming the first bad
 * field and its value.
 */
int afd_profile_validate(const struct afd_profile *p, char *err);

/* "per_instance" / "aggregate" <-> enum. Parse returns AFD_EINVAL if unknown.
 */
const char *afd_comm_mode_name(enum afd_comm_mode mode);
int afd_comm_mode_parse(const char *s, enum afd_comm_mode *out, char *err);

/* Stage times in ms for one step (no validation; callers validated p). */
double afd_profile_t_attention(const struct afd_profile *p, double load);
double afd_profile_t_comm(const struct afd_profile *p, double batch,
                          double ratio);
double afd_profile_t_ffn(const struct afd_profile *p, double tokens);

#endif
