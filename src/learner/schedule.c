/* Hyper-parameter schedules, fastai's callback.schedule: each maps a position
 * pos in [0,1] (steps done / total steps) to a value. */
#include <math.h>

#include "cgrad/learner.h"

double cg_sched_lin(double start, double end, double pos) { return start + pos * (end - start); }

/* Cosine annealing: start at pos 0, end at pos 1, flat at both ends. */
double cg_sched_cos(double start, double end, double pos) {
    return start + (1 + cos(M_PI * (1 - pos))) * (end - start) / 2;
}

double cg_sched_exp(double start, double end, double pos) { return start * pow(end / start, pos); }

cg_one_cycle cg_one_cycle_defaults(double lr_max) {
    return (cg_one_cycle){.lr_max = lr_max,
                          .div = 25,
                          .div_final = 1e5,
                          .pct_start = 0.25,
                          .moms = {0.95, 0.85, 0.95}};
}

/* fastai's combined_cos(pct, start, middle, end): two cosine phases joined at
 * pct, i.e. combine_scheds([pct, 1-pct], [SchedCos(start, middle),
 * SchedCos(middle, end)]).  Each phase gets its own 0..1 position. */
static double combined_cos(double pct, double start, double middle, double end, double pos) {
    if (pos < pct) return cg_sched_cos(start, middle, pos / pct);
    if (pct >= 1) return middle;
    return cg_sched_cos(middle, end, (pos - pct) / (1 - pct));
}

void cg_one_cycle_at(const cg_one_cycle *oc, double pos, double *lr, double *mom) {
    if (lr)
        *lr = combined_cos(oc->pct_start, oc->lr_max / oc->div, oc->lr_max,
                           oc->lr_max / oc->div_final, pos);
    if (mom) *mom = combined_cos(oc->pct_start, oc->moms[0], oc->moms[1], oc->moms[2], pos);
}
