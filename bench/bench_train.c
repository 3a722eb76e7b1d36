/* bench_train — the chapter's two Learner runs, timed per epoch.
 *
 *   linear epoch       Learner(dls, nn.Linear(784,1), SGD, mnist_loss,
 *                      batch_accuracy), one epoch of fit(…, lr=1): 49 training
 *                      batches of 256 (forward, loss, backward, step, the
 *                      smoothed loss) and 8 validation batches (loss + metric)
 *   simple_net epoch   the same with Linear(784,30)-ReLU-Linear(30,1), lr 0.1
 *   peak RSS           getrusage's ru_maxrss of the whole process (data included)
 *
 * Prints RESULT<TAB>op<TAB>value lines (bench/run.sh joins them with
 * bench/train_torch.py's, the same loop in plain PyTorch, and prints the
 * ratios).  Times: ms per epoch, the median of 10 epochs after 1 warm-up
 * epoch; the last line's value is MiB, not ms.  Data comes through the
 * dataset cache ($CGRAD_HOME, filled from $CGRAD_MIRROR if set). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cgrad.h"

#define EPOCHS 10

static void die(const char *what) {
    fprintf(stderr, "bench_train: %s: %s\n", what, cg_last_error());
    exit(1);
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ms per epoch of fit(EPOCHS, lr) after a 1-epoch warm-up; the
 * recorder times every epoch. */
static double time_epochs(cg_dataloaders *dls, cg_module *model, double lr, double *acc) {
    cg_metric metrics[] = {cg_metric_batch_accuracy()};
    cg_learner *learn = cg_learner_new(dls, model, cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD,
                                       metrics, 1);
    cg_module_release(model);
    if (!learn || cg_learner_fit(learn, 1, lr) != CG_OK || cg_learner_fit(learn, EPOCHS, lr) != CG_OK)
        die("fit");
    double ms[EPOCHS];
    for (int e = 0; e < EPOCHS; e++) ms[e] = 1e3 * learn->recorder->seconds[e];
    qsort(ms, EPOCHS, sizeof ms[0], compare_doubles);
    *acc = cg_recorder_value(learn->recorder, EPOCHS - 1, 2);
    cg_learner_free(learn);
    return ms[EPOCHS / 2];
}

int main(void) {
    char path[4096];
    if (cg_untar_data("mnist_sample", path, sizeof path) != CG_OK) die("mnist_sample");
    cg_mnist_sample data;
    if (cg_mnist_sample_load(path, &data) != CG_OK) die(path);
    cg_dataloaders *dls = cg_mnist_sample_dls(&data, 256);
    if (!dls) die("DataLoaders");

    double acc;
    cg_manual_seed(42);
    double linear = time_epochs(dls, cg_nn_linear(28 * 28, 1, true), 1.0, &acc);
    printf("RESULT\tlinear epoch (ms)\t%.3f\n", linear);
    printf("NOTE\tlinear: batch_accuracy %.4f after %d epochs\n", acc, EPOCHS + 1);
    cg_manual_seed(42);
    double net = time_epochs(dls,
                             CG_SEQUENTIAL(cg_nn_linear(28 * 28, 30, true), cg_nn_relu(),
                                           cg_nn_linear(30, 1, true)),
                             0.1, &acc);
    printf("RESULT\tsimple_net epoch (ms)\t%.3f\n", net);
    printf("NOTE\tsimple_net: batch_accuracy %.4f after %d epochs\n", acc, EPOCHS + 1);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("RESULT\tpeak RSS (MiB, not ms)\t%.1f\n", (double)ru.ru_maxrss / 1024.0);
    printf("NOTE\t%lld training rows, batch 256, OpenMP threads %d\n",
           (long long)data.train_x->shape[0], omp_get_max_threads());

    cg_dataloaders_free(dls);
    cg_mnist_sample_free(&data);
    cg_pool_trim();
    return 0;
}
