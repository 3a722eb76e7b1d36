/* The chapter's simple_net through the Learner ("Adding a Nonlinearity"):
 *
 *     simple_net = nn.Sequential(nn.Linear(28*28,30), nn.ReLU(), nn.Linear(30,1))
 *     learn = Learner(dls, simple_net, opt_func=SGD,
 *                     loss_func=mnist_loss, metrics=batch_accuracy)
 *     learn.fit(40, 0.1)
 *     plt.plot(L(learn.recorder.values).itemgot(2));
 *     learn.recorder.values[-1][2]
 *
 * The book reaches batch_accuracy 0.982826 (valid_loss 0.020415).
 * Usage: simple_net [seed] [plot.png]   (writes the accuracy plot, default
 * simple_net_accuracy.png, and the loss plot beside it) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

int main(int argc, char **argv) {
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 42;
    const char *plot_path = argc > 2 ? argv[2] : "simple_net_accuracy.png";
    char path[4096];
    if (cg_dataset_get("mnist_sample", NULL, path, sizeof path) != CG_OK) {
        fprintf(stderr, "simple_net: %s\n", cg_last_error());
        return 1;
    }
    cg_mnist_sample data;
    if (cg_mnist_sample_load(path, &data) != CG_OK) {
        fprintf(stderr, "simple_net: %s\n", cg_last_error());
        return 1;
    }
    cg_dataloaders *dls = cg_mnist_sample_dls(&data, 256);
    cg_manual_seed(seed);
    cg_module *simple_net = CG_SEQUENTIAL(cg_nn_linear(28 * 28, 30, true), cg_nn_relu(),
                                          cg_nn_linear(30, 1, true));
    cg_metric metrics[] = {cg_metric_batch_accuracy()};
    cg_learner *learn = dls && simple_net
                            ? cg_learner_new(dls, simple_net, cg_loss_by_name("mnist_loss"),
                                             CG_OPTIM_SGD, metrics, 1)
                            : NULL;
    int rc = 1;
    if (learn && cg_learner_add_progress(learn, stdout) == CG_OK &&
        cg_learner_fit(learn, 40, 0.1) == CG_OK) {
        const cg_recorder *r = learn->recorder;
        /* plt.plot(L(learn.recorder.values).itemgot(2)) */
        char loss_path[4200];
        snprintf(loss_path, sizeof loss_path, "%.*s_loss.png",
                 (int)(strlen(plot_path) > 4 ? strlen(plot_path) - 4 : strlen(plot_path)), plot_path);
        if (cg_plot_metric_png(r, 2, plot_path) == CG_OK &&
            cg_plot_loss_png(r, 5, loss_path) == CG_OK) {
            printf("\nlearn.recorder.values[-1][2] = %.6f (book: 0.982826), valid_loss %.6f "
                   "(book: 0.020415)\nplots: %s, %s\n",
                   cg_recorder_value(r, r->n_epochs - 1, 2),
                   cg_recorder_value(r, r->n_epochs - 1, 1), plot_path, loss_path);
            rc = 0;
        }
    }
    if (rc) fprintf(stderr, "simple_net: %s\n", cg_last_error());
    cg_learner_free(learn);
    cg_module_release(simple_net);
    cg_dataloaders_free(dls);
    cg_mnist_sample_free(&data);
    cg_pool_trim();
    return rc;
}
