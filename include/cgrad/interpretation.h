/* cgrad/interpretation.h — fastai's ClassificationInterpretation: a model's
 * predictions over a DataLoader, kept per item, for the confusion matrix and
 * the top losses.
 *
 *     interp = ClassificationInterpretation.from_learner(learn)
 *     interp.plot_confusion_matrix(); interp.plot_top_losses(9)
 *
 * in C:
 *
 *     cg_interp in;
 *     cg_interp_from_model(model, dls->valid, &loss, &in);   // eval mode, no grad
 *     int64_t *cm = malloc(in.n_classes * in.n_classes * sizeof *cm);
 *     cg_interp_confusion_matrix(&in, cm);            // cm[actual * C + predicted]
 *     int64_t top[9];
 *     int64_t k = cg_interp_top_losses(&in, 9, top);  // item indices, largest loss first
 *     cg_interp_free(&in);
 *
 * Items are in the DataLoader's order (the valid loader is not shuffled, so
 * item i is the valid set's item i).  A one-output model (mnist_loss, bce) is
 * read as two classes: p = activation(output) is class 1's probability, the
 * prediction is p > 0.5 (fastai's batch_accuracy), probs are (1 - p, p).
 * The per-item loss is the loss function on that item alone (the mean-reduced
 * loss of a batch of one), fastai's loss_func(reduction='none'). */
#ifndef CGRAD_INTERPRETATION_H
#define CGRAD_INTERPRETATION_H

#include <stdint.h>

#include "cgrad/dataloader.h"
#include "cgrad/nn.h"
#include "cgrad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_interp {
    int64_t n, n_classes;
    float *probs;     /* [n, n_classes]: the loss's activation of the model's output */
    int64_t *preds;   /* [n]: argmax of probs (first on ties) */
    int64_t *targets; /* [n]: the actual classes */
    double *losses;   /* [n]: each item's loss */
} cg_interp;

/* Runs model (put in eval mode, under no_grad) over every batch of dl and
 * keeps each item's probabilities, prediction, target and loss.  Targets must
 * be class indices in [0, n_classes) (n_classes: the model's outputs, 2 for a
 * one-output model); anything else is CG_ERR_VALUE naming the item. */
cg_status cg_interp_from_model(cg_module *model, cg_dataloader *dl, const cg_loss *loss,
                               cg_interp *out);
/* From arrays already computed (probs [n, n_classes], targets [n], losses
 * [n]), copied; preds are the argmax of probs. */
cg_status cg_interp_from_arrays(int64_t n, int64_t n_classes, const float *probs,
                                const int64_t *targets, const double *losses, cg_interp *out);
void cg_interp_free(cg_interp *in); /* leaves *in empty ({0}) */

/* The fraction of items whose prediction is the target (0 when n is 0). */
double cg_interp_accuracy(const cg_interp *in);
/* The mean of the items' losses (0 when n is 0). */
double cg_interp_mean_loss(const cg_interp *in);
/* cm[a * n_classes + p]: how many items of actual class a were predicted p
 * (rows actual, columns predicted, as plot_confusion_matrix). */
cg_status cg_interp_confusion_matrix(const cg_interp *in, int64_t *cm);
/* interp.top_losses(k): the indices of the k items with the largest losses,
 * largest first (ties: the lower index first).  Returns min(k, n). */
int64_t cg_interp_top_losses(const cg_interp *in, int64_t k, int64_t *idx);

#ifdef __cplusplus
}
#endif
#endif
