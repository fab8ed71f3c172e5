/*
 * comm_mode.h - which token count the communication time follows, learnt
 * from the deployment's own moves (model.md section 2: B per instance, or
 * r*B aggregate).
 *
 * The two modes predict the same time wherever the fleet stands; they part
 * only when the ratio moves. A prior that names the wrong mode is the worst
 * kind of wrong: with comm binding, "per instance" says the comm time is a
 * floor that more Attention instances amortise, "aggregate" says it grows
 * with every instance added. The calibration cannot tell (at one ratio both
 * regressors are constant), so this tracker watches the mean comm time at
 * steady points: when r*B moved by more than `min_move` at an unchanged B,
 * a comm time that moved with it by more than `agg_rel` of the move says
 * aggregate, one that stayed within `pi_rel` says per instance, anything
 * between decides nothing. Once a mode is identified it keeps it until a
 * later move says otherwise; `slope`/`intercept` are then the line through
 * the last two steady points in that mode's tokens (aggregate) or the flat
 * line at the last time (per instance, aC unknown: 0).
 *
 * Until then the caller should not bet on the prior's mode when the two
 * disagree about what to do (plugin/daemon/recommend.c chooses the count
 * with the smaller worst-case loss over both; afd_comm_mode_alternative
 * gives the other mode's profile for that).
 *
 * Pure: no I/O, no clock. Plain struct, no allocation; one owner.
 */
#ifndef AFD_COMM_MODE_H
#define AFD_COMM_MODE_H

#include <stdbool.h>
#include <stdint.h>

#include "estimator/profile.h"

struct afd_comm_mode_config {
    double min_move; /* relative move of r*B that tests the mode, > 0 */
    double b_still;  /* B counts as unchanged within this fraction, > 0 */
    double agg_rel;  /* comm moved >= this x the r*B move: aggregate */
    double pi_rel;   /* comm moved <= this x the r*B move: per instance */
};

/* Defaults: min_move 0.2, b_still 0.02, agg_rel 0.25, pi_rel 0.05. */
void afd_comm_mode_config_default(struct afd_comm_mode_config *c);

struct afd_comm_mode_tracker {
    struct afd_comm_mode_config cfg;
    enum afd_comm_mode prior;     /* the configured profile's mode */
    bool identified;              /* the data chose `mode` */
    enum afd_comm_mode mode;      /* identified mode, else the prior's */
    double slope, intercept;      /* ms per token, ms: the identified line */
    bool have_ref;                /* a steady reference point is stored */
    double ref_b, ref_rb, ref_ms; /* its B, r*B (tokens) and comm time */
    uint64_t tests;               /* moves that tested the mode */
};

void afd_comm_mode_init(struct afd_comm_mode_tracker *m,
                        const struct afd_comm_mode_config *cfg,
                        enum afd_comm_mode prior);

/*
 * One steady observation: batch B, aggregate tokens r*B, mean comm time ms.
 * Non-finite or non-positive input is ignored. Returns true when this
 * observation tested the mode (identified or not).
 */
bool afd_comm_mode_observe(struct afd_comm_mode_tracker *m, double b, double rb,
                           double ms);

/*
 * The profile with the comm line the data identified (mode, slope,
 * intercept) in place of p's; p unchanged when nothing is identified or the
 * mode is p's own (the calibration then owns the line). Returns true when
 * it replaced the line.
 */
bool afd_comm_mode_apply(const struct afd_comm_mode_tracker *m,
                         struct afd_profile *p);

/*
 * The other mode's hypothesis for p at the current point (b, rb tokens):
 * comm_mode flipped, the fixed part bC (at most the current time) when
 * split_known, else none, and the rest of the current time per token in
 * the other mode's tokens, so that both hypotheses predict the same comm
 * time here and part only as r moves. Why none when the calibration has
 * not split aC from bC (its tokens never moved): the split is then the
 * prior's, and all-per-token is the other mode's extreme, so the two
 * hypotheses bracket every line through the current point.
 */
void afd_comm_mode_alternative(const struct afd_profile *p, double b, double rb,
                               bool split_known, struct afd_profile *out);

/*
 * What the tracker learnt (a snapshot keeps it across a restart or a
 * failover: the mode shows only when the ratio moves, so a new leader
 * that forgot it would hedge again until the next move). Import checks it
 * (a mode of the enum, a line of finite slope and intercept >= 0, a
 * reference point of positive B, r*B and time) and replaces the learnt part of
 * m, keeping its config and prior; AFD_EINVAL naming the field, m unchanged,
 * otherwise.
 */
struct afd_comm_mode_learnt {
    bool identified;
    enum afd_comm_mode mode;
    double slope, intercept;
    bool have_ref;
    double ref_b, ref_rb, ref_ms;
    uint64_t tests;
};

void afd_comm_mode_export(const struct afd_comm_mode_tracker *m,
                          struct afd_comm_mode_learnt *out);
int afd_comm_mode_import(struct afd_comm_mode_tracker *m,
                         const struct afd_comm_mode_learnt *in, char *err);

#endif
