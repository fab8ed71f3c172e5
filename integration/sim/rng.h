/*
 * rng.h - the simulator's own pseudo-random numbers (never rand()).
 *
 * xoshiro256** (Blackman and Vigna, 2018) seeded through splitmix64, so that
 * any 64-bit seed, including 0, gives a good state. Streams are derived from
 * (seed, stream id) by hashing, so that each Attention instance draws from its
 * own stream: instance j sees the same requests whatever the Attention count,
 * which makes a sweep's neighbouring ratios use common random numbers.
 *
 * A struct afd_rng is a plain value owned by the caller; one owner, not
 * thread-safe. Nothing allocates.
 */
#ifndef AFD_SIM_RNG_H
#define AFD_SIM_RNG_H

#include <stdint.h>

struct afd_rng {
    uint64_t s[4];
};

/* Seeds stream `stream` of `seed`; equal (seed, stream) give equal output. */
void afd_rng_seed(struct afd_rng *g, uint64_t seed, uint64_t stream);

/* Next 64 random bits. */
static inline uint64_t afd_rng_next(struct afd_rng *g)
{
    uint64_t *s = g->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform on the open interval (0, 1): safe to take the log of. */
static inline double afd_rng_uniform_pos(struct afd_rng *g)
{
    return ((double)(afd_rng_next(g) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n >= 1 (Lemire's multiply, bias < n/2^64). */
static inline uint64_t afd_rng_below(struct afd_rng *g, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)afd_rng_next(g) * n) >> 64);
}

/* Standard normal (Marsaglia polar method; no cached second value). */
double afd_rng_normal(struct afd_rng *g);

/* splitmix64 finaliser, exposed for hashing seeds. */
uint64_t afd_rng_mix(uint64_t x);

#endif
