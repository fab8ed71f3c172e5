/*
 * shift.h - abrupt workload-shift detection from decode-step samples
 * (issue 10: within seconds, from step samples, not finished requests).
 *
 * One detector watches up to AFD_SHIFT_CHANNELS signals sampled every step
 * (e.g. the mean per-instance token load, the FFN tokens, each stage time).
 * Per channel: a baseline (mean and variance), exact over the first
 * `warmup` samples, then an EWMA with a time constant of tau_s seconds
 * (not a weight per sample: a fleet of 200 Attention instances sends 200
 * samples a step, and a per-sample weight would follow a shift's ramp as
 * fast as it comes, never seeing it), and a two-sided Page CUSUM on the
 * standardised deviation
 *     z = (x - mean) / max(sd, min_rel * |mean|)
 *     S+ = max(0, S+ + z - k),  S- = max(0, S- - z - k)
 * that fires when either exceeds h. The scale floor min_rel keeps a
 * near-noiseless channel from calling a 1% wobble a shift. On a detection
 * the channel that fired re-learns its baseline; the others keep theirs
 * (a noisy channel firing often would otherwise keep them all in warm-up)
 * and may report the same change a moment later. Units: x in the channel's own
 * units, t in seconds (injected clock). Errors: AFD_EINVAL for a bad config,
 * channel or non-finite sample (state unchanged). Plain struct, no allocation;
 * one owner, not thread-safe.
 */
#ifndef AFD_SHIFT_H
#define AFD_SHIFT_H

#include <stdbool.h>
#include <stdint.h>

#define AFD_SHIFT_CHANNELS 4

struct afd_shift_config {
    double tau_s;    /* baseline time constant, s, > 0 and finite */
    double k;        /* CUSUM allowance, standardised units, >= 0 */
    double h;        /* CUSUM threshold, > 0 */
    double min_rel;  /* scale floor as a fraction of |mean|, >= 0 */
    uint32_t warmup; /* samples before a channel may fire, >= 2 */
};

/* Defaults: tau_s 2, k 1, h 12, min_rel 0.05, warmup 20. */
void afd_shift_config_default(struct afd_shift_config *cfg);

struct afd_shift_channel {
    double mean, var; /* EWMA baseline */
    double t0, dt;    /* pace: window start, s; sample interval, s (0 not
                         known yet) */
    uint32_t wn;      /* samples in the pace window */
    double up, down;  /* CUSUM statistics */
    uint32_t n;       /* samples since the last (re)start */
};

struct afd_shift {
    struct afd_shift_config cfg;
    struct afd_shift_channel ch[AFD_SHIFT_CHANNELS];
    uint64_t shifts;                    /* detections so far */
    uint64_t fired[AFD_SHIFT_CHANNELS]; /* detections per channel */
    double fired_t[AFD_SHIFT_CHANNELS]; /* time of each one's last, s */
    double last_t;        /* time of the last detection, s; -1 none */
    int last_channel;     /* channel that fired last; -1 none */
    int last_direction;   /* +1 up, -1 down, 0 none */
    double last_baseline; /* that channel's mean before the shift */
    double last_value;    /* the sample that fired */
};

/* Starts a detector; cfg NULL = defaults. AFD_EINVAL on a bad config. */
int afd_shift_init(struct afd_shift *s, const struct afd_shift_config *cfg,
                   char *err);

/*
 * One sample x of channel `channel` at time t (s). Returns 1 when this
 * sample completes a detection (the last_* fields then describe it), 0 when
 * not, AFD_EINVAL (state unchanged) on a bad channel or non-finite x or t.
 */
int afd_shift_add(struct afd_shift *s, int channel, double t, double x,
                  char *err);

#endif
