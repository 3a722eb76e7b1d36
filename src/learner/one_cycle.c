/* fit_one_cycle: fastai's ParamScheduler (order 60) driving lr and mom with
 * combined cosine schedules before every training batch, at pos = pct_train
 * (training batches done / total training batches of the fit). */
#include <math.h>
#include <stdlib.h>

#include "learner/learner_internal.h"

typedef struct one_cycle_state {
    cg_one_cycle oc;
    bool drive_mom; /* the optimizer has a momentum to drive */
} one_cycle_state;

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    one_cycle_state *s = state;
    /* fastai sets 'mom' in every case, but only Adam (beta1) and SGD built with
     * a momentum read it: fastai's SGD(mom=0) has no momentum step at all. */
    cg_optim_kind kind = cg_optimizer_kind(learn->opt);
    s->drive_mom = kind == CG_OPTIM_ADAM ||
                   (kind == CG_OPTIM_SGD && cg_optimizer_group(learn->opt, 0)->h.mom != 0);
    return CG_CB_OK;
}

static cg_cb_result before_batch(cg_learner *learn, void *state) {
    one_cycle_state *s = state;
    if (!learn->training) return CG_CB_OK; /* run_valid = False */
    double lr, mom;
    cg_one_cycle_at(&s->oc, learn->pct_train, &lr, &mom);
    if (cg_optimizer_set_hyper(learn->opt, "lr", lr) != CG_OK) return CG_CB_ERROR;
    if (s->drive_mom && cg_optimizer_set_hyper(learn->opt, "mom", mom) != CG_OK) return CG_CB_ERROR;
    return CG_CB_OK;
}

cg_status cg_learner_fit_one_cycle_with(cg_learner *learn, int n_epoch, const cg_one_cycle *oc) {
    if (!learn || !oc) return cg_fail(CG_ERR_VALUE, "fit_one_cycle: learner or schedule is NULL");
    if (!(oc->lr_max > 0) || !(oc->div > 0) || !(oc->div_final > 0) || !(oc->pct_start >= 0) ||
        !(oc->pct_start <= 1))
        return cg_fail(CG_ERR_VALUE,
                       "fit_one_cycle: lr_max %g, div %g, div_final %g must be > 0 and "
                       "pct_start %g in [0,1]",
                       oc->lr_max, oc->div, oc->div_final, oc->pct_start);
    cg_status st = cg_learner_create_opt(learn);
    if (st != CG_OK) return st;
    one_cycle_state *s = malloc(sizeof *s);
    if (!s) return cg_fail(CG_ERR_NOMEM, "fit_one_cycle: no memory");
    s->oc = *oc;
    s->drive_mom = false;
    cg_callback cb = {.name = "one_cycle_scheduler",
                      .order = 60,
                      .state = s,
                      .free_state = free,
                      .before_fit = before_fit,
                      .before_batch = before_batch};
    st = cg_learner_add_cb(learn, &cb); /* owns s from here, also on failure */
    if (st != CG_OK) return st;
    st = cg_learner_fit(learn, n_epoch, oc->lr_max);
    cg_status keep = st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", cg_last_error());
    cg_learner_remove_cb(learn, "one_cycle_scheduler");
    if (keep != CG_OK) cg_fail(keep, "%s", msg);
    return keep;
}

cg_status cg_learner_fit_one_cycle(cg_learner *learn, int n_epoch, double lr_max) {
    cg_one_cycle oc = cg_one_cycle_defaults(lr_max);
    return cg_learner_fit_one_cycle_with(learn, n_epoch, &oc);
}
