/* fastai's AvgSmoothLoss: an exponential moving average of the batch losses,
 * debiased like Adam's moments so that the first values are not pulled
 * towards the zero it starts from. */
#include <math.h>

#include "cgrad/learner.h"

void cg_smooth_loss_reset(cg_smooth_loss *s, double beta) {
    s->beta = beta;
    s->val = 0;
    s->count = 0;
}

/* torch.lerp(loss, val, beta) = loss + beta*(val - loss) */
void cg_smooth_loss_add(cg_smooth_loss *s, double loss) {
    s->count++;
    s->val = loss + s->beta * (s->val - loss);
}

double cg_smooth_loss_value(const cg_smooth_loss *s) {
    if (s->count == 0) return NAN;
    return s->val / (1 - pow(s->beta, (double)s->count));
}
