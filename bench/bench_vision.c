/* bench_vision — issue 9's two training epochs, timed, with their peak memory.
 *
 *   resnet18   fastai's vision_learner(dls, resnet18, pretrained=False) model
 *              (cg_vision_model) on MNIST_SAMPLE as ImageDataLoaders.from_folder
 *              gives it: 3x28x28 RGB /255, batch 64, the training set shuffled
 *              with drop_last, the validation set in order; Learner(...,
 *              cross_entropy, Adam, accuracy).fit_one_cycle(1, 0.1)
 *   cnn        cg_nn_mnist_cnn(1, 10) on full MNIST (60000 training rows, the
 *              10000 test rows as validation), gray 1x28x28 /255, batch 64,
 *              fit_one_cycle(1, 0.01)
 *
 * Each part runs in a process of its own (forked before anything is loaded),
 * so each peak RSS (the child's ru_maxrss, from wait4) is that part's alone.
 * Per part:
 *   load    reading and decoding the images into the in-memory uint8 datasets
 *           and making the loaders (fastai decodes per batch in workers; this
 *           loader decodes once, up front, so the load is reported apart)
 *   epoch   the one epoch of fit_one_cycle: every training batch (uint8 -> float,
 *           forward, loss, backward, Adam step) and the validation pass, in
 *           wall seconds and in CPU seconds (all threads: user + system),
 *           which a shared machine inflates far less than the wall clock
 *   RSS     the part's peak resident memory, data included
 *
 * Prints RESULT<TAB>op<TAB>value lines, the unit in each op's name (bench/run.sh
 * joins them with bench/vision_torch.py's, the same runs in plain PyTorch, and
 * prints the ratios), NOTE lines with the accuracies, and DATA<TAB>part<TAB>folder
 * lines naming the data read, which run.sh hands to the torch side so both
 * read the same files.  CGRAD_BENCH_VISION=resnet18 or cnn runs one part
 * only.  Data comes through the dataset cache ($CGRAD_HOME, filled from
 * $CGRAD_MIRROR if set), or from the folders CGRAD_BENCH_DATA_RESNET18 (an
 * image folder: train/ and valid/) and CGRAD_BENCH_DATA_CNN (MNIST's four
 * IDX files) name. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgrad.h"

static void die(const char *what) {
    fprintf(stderr, "bench_vision: %s: %s\n", what, cg_last_error());
    exit(1);
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); } /* every thread's */

/* One part: load, one epoch of fit_one_cycle, the results. */
static void run_part(const char *name) {
    bool resnet = !strcmp(name, "resnet18");
    char root[4096];
    double t0 = now();
    /* CGRAD_BENCH_DATA_RESNET18 / _CNN: another folder of the same layout
     * (e.g. a small cut of it, to try the bench out quickly) */
    const char *given = getenv(resnet ? "CGRAD_BENCH_DATA_RESNET18" : "CGRAD_BENCH_DATA_CNN");
    if (given && *given) {
        if (snprintf(root, sizeof root, "%s", given) >= (int)sizeof root) {
            fprintf(stderr, "bench_vision: data folder name too long\n");
            exit(1);
        }
    } else if (cg_dataset_get(resnet ? "mnist_sample" : "mnist", NULL, root, sizeof root) != CG_OK) {
        die(resnet ? "mnist_sample" : "mnist");
    }
    cg_image_folder_options o = cg_image_folder_defaults();
    if (!resnet) o.item.channels = 1; /* gray: cnn's 1x28x28 */
    o.batch_size = 64;
    o.seeded = true, o.seed = 42;
    cg_manual_seed(42);
    cg_dataloaders *dls = cg_image_folder_dataloaders(root, &o, NULL);
    if (!dls) die(root);
    double load = now() - t0;

    cg_module *model = resnet ? cg_vision_model("resnet18", 3, 2) : cg_nn_mnist_cnn(1, 10);
    if (!model) die("model");
    cg_metric metrics[] = {cg_metric_accuracy()};
    cg_learner *learn = cg_learner_new(dls, model, cg_loss_by_name("cross_entropy"), CG_OPTIM_ADAM,
                                       metrics, 1);
    cg_module_release(model);
    if (!learn) die("Learner");
    double t1 = now(), c1 = cpu_now();
    if (cg_learner_fit_one_cycle(learn, 1, resnet ? 0.1 : 0.01) != CG_OK) die("fit_one_cycle");
    double epoch = now() - t1, epoch_cpu = cpu_now() - c1;
    double acc = cg_recorder_value(learn->recorder, 0, 2);
    double train_loss = cg_recorder_value(learn->recorder, 0, 0);
    int64_t n_train = cg_dataloader_n(dls->train), n_valid = cg_dataloader_n(dls->valid);
    cg_learner_free(learn);
    cg_dataloaders_free(dls);
    cg_pool_trim();

    printf("DATA\t%s\t%s\n", name, root);
    printf("RESULT\t%s load (s)\t%.2f\n", name, load);
    printf("RESULT\t%s epoch (s)\t%.2f\n", name, epoch);
    printf("RESULT\t%s epoch CPU (s)\t%.2f\n", name, epoch_cpu);
    printf("NOTE\t%s: accuracy %.4f, train_loss %.4f after 1 epoch (%lld train, %lld valid rows, "
           "batch 64, OpenMP threads %d)\n",
           name, acc, train_loss, (long long)n_train, (long long)n_valid, omp_get_max_threads());
    fflush(stdout);
}

int main(void) {
    const char *only = getenv("CGRAD_BENCH_VISION");
    printf("UNITS\tin the op names\n");
    const char *parts[] = {"resnet18", "cnn"};
    for (int i = 0; i < 2; i++) {
        if (only && *only && strcmp(only, parts[i])) continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("bench_vision: fork");
            return 1;
        }
        if (pid == 0) {
            run_part(parts[i]);
            _exit(0);
        }
        int wst;
        struct rusage ru;
        if (wait4(pid, &wst, 0, &ru) < 0 || !WIFEXITED(wst) || WEXITSTATUS(wst)) {
            fprintf(stderr, "bench_vision: the %s part failed\n", parts[i]);
            return 1;
        }
        /* The child's peak resident memory over its whole life: data, model,
         * optimizer state, activations, the libraries' caches. */
        printf("RESULT\t%s peak RSS (MiB)\t%.1f\n", parts[i], (double)ru.ru_maxrss / 1024.0);
        fflush(stdout);
    }
    return 0;
}
