/* What the learner's own files share and users do not need. */
#ifndef CGRAD_LEARNER_INTERNAL_H
#define CGRAD_LEARNER_INTERNAL_H

#include "cgrad/learner.h"

/* Seconds on a monotonic clock (epoch timings, ETA). */
double cg_learner_clock(void);

/* The recorder and the NaN guard, installed by cg_learner_new. */
cg_recorder *cg_recorder_new(const cg_metric *metrics, int n_metrics);
void cg_recorder_free(cg_recorder *r);
cg_callback cg_recorder_callback(cg_recorder *r);
cg_callback cg_nan_guard_callback(void);

/* The lr of the last parameter group (what fastai's recorder logs), or NaN. */
double cg_learner_current_lr(const cg_learner *learn);

#endif
