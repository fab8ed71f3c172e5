/* rng.c - seeding and the normal deviate for the simulator's xoshiro256**. */
#include "integration/sim/rng.h"

#include <math.h>

uint64_t afd_rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void afd_rng_seed(struct afd_rng *g, uint64_t seed, uint64_t stream)
{
    /* Hash the pair first so that (seed, stream) and (seed+1, stream-1) do
     * not start splitmix64 at neighbouring counters. */
    uint64_t x =
        afd_rng_mix(seed) ^ afd_rng_mix(stream * 0xd1b54a32d192ed03ULL);
    int i;

    for (i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        g->s[i] = afd_rng_mix(x);
    }
    /* xoshiro's only bad state is all zeros; splitmix64 output cannot give
     * four zero words in a row, but keep the invariant explicit. */
    if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3]))
        g->s[0] = 1;
}

double afd_rng_normal(struct afd_rng *g)
{
    double u, v, s;

    do {
        u = 2.0 * afd_rng_uniform_pos(g) - 1.0;
        v = 2.0 * afd_rng_uniform_pos(g) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}
