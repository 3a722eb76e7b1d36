/* The NaN guard (fastai's TerminateOnNaNCallback, order -9): a loss that is NaN
 * or infinite stops the fit with an error naming where it happened.  It looks
 * right after the loss, before backward and the step, so the weights the user
 * keeps are the last finite ones. */
#include <math.h>

#include "learner/learner_internal.h"

static cg_cb_result check_loss(cg_learner *learn, void *state) {
    (void)state;
    if (!learn->nan_guard || !learn->loss || isfinite(learn->loss_value)) return CG_CB_OK;
    cg_fail(CG_ERR_VALUE,
            "%s loss is %s at epoch %d, batch %lld of %lld: training stopped before the step "
            "(the weights are those of the previous batch); try a lower learning rate",
            learn->training ? "training" : "validation", isnan(learn->loss_value) ? "nan" : "inf",
            learn->epoch, (long long)learn->iter, (long long)learn->n_iter);
    return CG_CB_ERROR;
}

cg_callback cg_nan_guard_callback(void) {
    return (cg_callback){.name = "nan_guard", .order = -9, .after_loss = check_loss};
}
