/* The chapter's first Learner (fastbook ch. 4, "Creating an Optimizer"):
 *
 *     dls = DataLoaders(dl, valid_dl)
 *     learn = Learner(dls, nn.Linear(28*28,1), opt_func=SGD,
 *                     loss_func=mnist_loss, metrics=batch_accuracy)
 *     learn.fit(10, lr=1)
 *
 * The book's last row: batch_accuracy 0.967615, valid_loss 0.038573.
 * Usage: learner_linear [seed]   (data from $CGRAD_MIRROR or the internet) */
#include <stdio.h>
#include <stdlib.h>

#include "cgrad.h"

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 42;
    char path[4096];
    if (cg_dataset_get("mnist_sample", NULL, path, sizeof path) != CG_OK) {
        fprintf(stderr, "learner_linear: %s\n", cg_last_error());
        return 1;
    }
    cg_mnist_sample data;
    if (cg_mnist_sample_load(path, &data) != CG_OK) {
        fprintf(stderr, "learner_linear: %s\n", cg_last_error());
        return 1;
    }
    cg_dataloaders *dls = cg_mnist_sample_dls(&data, 256);
    cg_manual_seed(seed);
    cg_module *model = cg_nn_linear(28 * 28, 1, true);
    cg_metric metrics[] = {cg_metric_batch_accuracy()};
    cg_learner *learn = dls && model ? cg_learner_new(dls, model, cg_loss_by_name("mnist_loss"),
                                                      CG_OPTIM_SGD, metrics, 1)
                                     : NULL;
    int rc = 1;
    if (learn && cg_learner_add_progress(learn, stdout) == CG_OK &&
        cg_learner_fit(learn, 10, 1.0) == CG_OK) {
        const cg_recorder *r = learn->recorder;
        printf("\nbatch_accuracy after 10 epochs: %.6f (book: 0.967615), valid_loss %.6f "
               "(book: 0.038573)\n",
               cg_recorder_value(r, r->n_epochs - 1, 2), cg_recorder_value(r, r->n_epochs - 1, 1));
        rc = 0;
    } else {
        fprintf(stderr, "learner_linear: %s\n", cg_last_error());
    }
    cg_learner_free(learn);
    cg_module_release(model);
    cg_dataloaders_free(dls);
    cg_mnist_sample_free(&data);
    cg_pool_trim();
    return rc;
}
