/*
 * fleet.h - a resizable xA-yF deployment for scenarios: the step simulator
 * of engine.h (same model.md section 8 stage times, noise-free) whose
 * Attention count, batch, FFN count and request generator may change
 * between steps.
 *
 * Invariants: every slot of the x*B active slots holds a request at every
 * step, so a step decodes exactly x*B tokens; per-instance loads T_j are
 * kept incrementally (T_j(s+1) = T_j(s) + B - finishing loads + new loads),
 * finishing requests sit in a calendar ring as in engine.c.
 *
 * Resizing (the semantics the scenario runs document):
 *   - a slot that needs a request (a finished one's slot, the slots of a
 *     joining instance, new slots of a larger batch) takes the front of the
 *     waiting pool first, else a fresh draw from its instance's stream;
 *   - a leaving instance (always the highest-numbered one) and the slots
 *     cut by a smaller batch HAND BACK their in-flight requests: each goes
 *     to the front of the waiting pool with its prompt, the tokens decoded
 *     so far and the remaining decode, and is resumed by the next slot
 *     that frees up (load P + decoded so far). No work is lost and no
 *     token is counted twice: afd_fleet_audit checks this.
 * Draws: instance j of a phase draws from stream j of the phase's seed
 * (rng.h), so runs that differ only in x share most requests.
 *
 * Accounting: tokens (x*B per step), time (sum of step times, ms) and
 * device time (sum of step * (x + y), device-ms); throughput per device
 * is tokens / device-ms.
 *
 * Ownership: afd_fleet_new allocates for at most max_attention instances
 * of at most max_batch slots; afd_fleet_free releases (NULL ok). Generators
 * passed in phases must outlive their use. One owner, not thread-safe;
 * separate fleets may run in separate threads.
 */
#ifndef AFD_SIM_FLEET_H
#define AFD_SIM_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include "estimator/profile.h"
#include "integration/sim/engine.h"
#include "integration/sim/gen.h"

/* What the fleet runs now: set by afd_fleet_set_phase. */
struct afd_fleet_phase {
    const struct afd_gen *gen; /* request generator of new draws */
    long batch;                /* B, slots per Attention instance, >= 1 */
    long ffn;                  /* y, FFN instances, >= 1 */
    uint64_t seed;             /* instance j draws from stream j */
    double start_s;            /* scenario time at the phase start (drift) */
};

/*
 * The simulated hardware beyond its profile (afd_fleet_set_hardware):
 * from scenario time at_s on, a stage's times are multiplied by factor
 * (drift events compound); every step each stage's time is multiplied by
 * an independent lognormal factor of mean 1 and coefficient of variation
 * noise_cv (0 = none; seeded by noise_seed, so runs repeat). Stages:
 * AFD_SIM_ATTENTION, AFD_SIM_COMM, AFD_SIM_FFN (engine.h).
 */
#define AFD_FLEET_MAX_DRIFT 16
struct afd_fleet_drift {
    double at_s;
    int stage;
    double factor; /* > 0 */
};
struct afd_fleet_hw {
    double noise_cv; /* >= 0 */
    uint64_t noise_seed;
    size_t n_drift;
    struct afd_fleet_drift drift[AFD_FLEET_MAX_DRIFT];
};

/* Called for every request that finishes (its full prompt and decode). */
typedef void (*afd_fleet_finish_fn)(void *ctx, int64_t prompt, int64_t decode);

/* Running totals since afd_fleet_new (or the last afd_fleet_reset_totals). */
struct afd_fleet_totals {
    uint64_t steps;      /* steps taken */
    double tokens;       /* decoded tokens, x*B per step (exact below 2^53) */
    double time_ms;      /* sum of step times, ms */
    double device_ms;    /* sum of step * (x + y), device-ms */
    double attention_ms; /* sum of step * x, for the mean x */
    uint64_t finished;   /* requests finished */
    uint64_t bound[3];   /* steps each stage set (enum afd_sim_stage) */
};

/* Independent recount for tests: walks every request once. */
struct afd_fleet_audit {
    double tokens;     /* sum over requests of tokens decoded in the sim */
    uint64_t in_slots; /* requests held by active slots (x*B) */
    uint64_t waiting;  /* requests in the waiting pool */
    bool loads_exact;  /* every T_j equals the per-slot sum */
};

struct afd_fleet;

/*
 * Allocates an empty fleet for up to max_attention instances of up to
 * max_batch slots each (max_attention*max_batch <= AFD_SIM_MAX_SLOTS).
 * Call afd_fleet_set_phase then afd_fleet_start before stepping.
 * NULL + message on bad capacities or out of memory.
 */
struct afd_fleet *afd_fleet_new(const struct afd_profile *profile,
                                long max_attention, long max_batch, char *err);
void afd_fleet_free(struct afd_fleet *f);

/*
 * Switches to a phase: new draws come from ph->gen with streams of
 * ph->seed; the FFN count changes at once; a larger batch fills the new
 * slots (waiting pool first), a smaller one hands back the cut slots'
 * requests. In-flight requests continue. AFD_EINVAL (message names the
 * field) for a batch or ffn out of range.
 */
int afd_fleet_set_phase(struct afd_fleet *f, const struct afd_fleet_phase *ph,
                        char *err);

/*
 * Fills x instances with the requests a long-running fleet would hold:
 * each slot's is the one straddling the end of a renewal walk over many
 * mean lifetimes (length-biased and part done: the stationary state the
 * scenario's offline policies start a phase from), for a run's first
 * step. Only
 * on a fleet with no instance yet; AFD_ESTATE otherwise, AFD_EINVAL for x
 * out of 1..max_attention.
 */
int afd_fleet_start(struct afd_fleet *f, long attention, char *err);

/*
 * Changes the Attention count to x: joining instances fill their slots
 * (waiting pool first, else fresh, unaged draws); leaving ones hand their
 * requests back. AFD_EINVAL for x out of 1..max_attention.
 */
int afd_fleet_resize(struct afd_fleet *f, long attention, char *err);

/* Times the current step, accounts it, advances every slot one token and
 * refills finished slots (finish callback first). */
void afd_fleet_step(struct afd_fleet *f, struct afd_sim_step_info *info);

void afd_fleet_on_finish(struct afd_fleet *f, afd_fleet_finish_fn fn,
                         void *ctx);

/* Drift and noise as above (copied); a zeroed hw is the bare profile. */
void afd_fleet_set_hardware(struct afd_fleet *f, const struct afd_fleet_hw *hw);

/* The multiplier of stage's times at this step, drift times noise: what
 * the telemetry of this step reports on top of the profile. */
double afd_fleet_stage_scale(const struct afd_fleet *f, int stage);

long afd_fleet_attention(const struct afd_fleet *f);
long afd_fleet_ffn(const struct afd_fleet *f);
long afd_fleet_batch(const struct afd_fleet *f);
int64_t afd_fleet_now(const struct afd_fleet *f); /* step index */
/* Per-instance loads T_j at the current step (x values, read-only). */
const int64_t *afd_fleet_loads(const struct afd_fleet *f);
/* Requests waiting to be resumed. */
uint64_t afd_fleet_waiting(const struct afd_fleet *f);
void afd_fleet_totals(const struct afd_fleet *f, struct afd_fleet_totals *out);

/* Recounts tokens and loads request by request (O(x*B + waiting)). */
void afd_fleet_audit(const struct afd_fleet *f, struct afd_fleet_audit *out);

#endif
