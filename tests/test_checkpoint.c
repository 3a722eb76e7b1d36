/* Checkpoints and resume (cgrad/checkpoint.h): a fit stopped mid-epoch and
 * resumed from its last checkpoint, in a learner built from scratch, ends
 * with the same bytes — every state_dict tensor (BatchNorm's running stats and
 * num_batches_tracked included), every optimizer average and step count, the
 * recorder's losses and table — as the fit that was never stopped:
 *   - simple_net with SGD and plain fit, shuffled by a seeded loader;
 *   - a conv -> BatchNorm -> ReLU -> Dropout net with Adam and fit_one_cycle,
 *     shuffled from the default generator, so dropout masks, shuffles, Adam's
 *     step counts and the one-cycle position all have to be restored;
 * and a truncated, corrupted or mismatched checkpoint is refused, naming it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <omp.h>

#include "cgrad.h"
#include "cgrad/checkpoint.h"

#define N_EPOCHS 4

/* ---- the two setups ------------------------------------------------------- */

typedef struct rig {
    cg_dataloaders *dls;
    cg_module *model;
    cg_learner *learn;
    bool conv;
} rig;

/* Everything from cg_manual_seed(0): data, loaders, model, learner. */
static rig rig_new(bool conv) {
    rig r = {.conv = conv};
    cg_manual_seed(0);
    cg_scope_begin(); /* the tensors: the loaders keep what they need */
    cg_tensor *tx, *ty, *vx, *vy;
    if (!conv) {
        /* 40 + 20 points in 5-d; label 1 where the coordinates sum above 0 */
        tx = cg_randn(NULL, 2, (int64_t[]){40, 5});
        vx = cg_randn(NULL, 2, (int64_t[]){20, 5});
        cg_tensor *ts = cg_sum(tx, (int[]){1}, 1, true), *vs = cg_sum(vx, (int[]){1}, 1, true);
        ty = cg_to_dtype(cg_gt_s(ts, 0.0), CG_FLOAT32);
        vy = cg_to_dtype(cg_gt_s(vs, 0.0), CG_FLOAT32);
        r.dls = cg_tensor_dataloaders(tx, ty, vx, vy, 8, true, 7); /* its own generator */
        r.model = CG_SEQUENTIAL(cg_nn_linear(5, 6, true), cg_nn_relu(), cg_nn_linear(6, 1, true));
        cg_metric m = cg_metric_batch_accuracy();
        r.learn = cg_learner_new(r.dls, r.model, cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD, &m, 1);
    } else {
        /* 24 + 8 one-channel 6x6 images, 3 classes */
        tx = cg_randn(NULL, 4, (int64_t[]){24, 1, 6, 6});
        vx = cg_randn(NULL, 4, (int64_t[]){8, 1, 6, 6});
        int64_t tl[24], vl[8];
        for (int i = 0; i < 24; i++) tl[i] = i % 3;
        for (int i = 0; i < 8; i++) vl[i] = i % 3;
        ty = cg_from_data(CG_INT64, 1, (int64_t[]){24}, tl);
        vy = cg_from_data(CG_INT64, 1, (int64_t[]){8}, vl);
        cg_dataloader_options o = {.batch_size = 6, .shuffle = true}; /* the default generator */
        cg_dataset *st = cg_dataset_from_tensors(tx, ty), *sv = cg_dataset_from_tensors(vx, vy);
        cg_dataloader *dt = cg_dataloader_new(st, &o);
        o.shuffle = false;
        cg_dataloader *dv = cg_dataloader_new(sv, &o);
        cg_dataset_release(st); /* the loaders hold their own references */
        cg_dataset_release(sv);
        r.dls = cg_dataloaders_new(dt, dv);
        r.model = CG_SEQUENTIAL(cg_nn_conv2d(1, 4, (int64_t[]){3, 3}, NULL, true),
                                cg_nn_batch_norm2d(4), cg_nn_relu(), cg_nn_dropout(0.5),
                                cg_nn_flatten(1, -1), cg_nn_linear(4 * 4 * 4, 3, true));
        cg_metric m = cg_metric_accuracy();
        r.learn = cg_learner_new(r.dls, r.model, cg_loss_by_name("cross_entropy"), CG_OPTIM_ADAM, &m, 1);
    }
    cg_scope_end();
    assert_non_null(r.dls);
    assert_non_null(r.model);
    assert_non_null(r.learn);
    return r;
}

static void rig_free(rig *r) {
    cg_learner_free(r->learn);
    cg_module_release(r->model);
    cg_dataloaders_free(r->dls);
}

static cg_status rig_fit(rig *r) {
    return r->conv ? cg_learner_fit_one_cycle(r->learn, N_EPOCHS, 1e-2)
                   : cg_learner_fit(r->learn, N_EPOCHS, 0.1);
}

/* ---- what must match ------------------------------------------------------ */

typedef struct snapshot {
    int n;
    size_t *sizes;
    unsigned char **bytes;
    int64_t n_losses;
    double *losses, *lrs, *values;
    int n_epochs;
} snapshot;

static void snap_add(snapshot *s, const void *p, size_t size) {
    s->sizes = realloc(s->sizes, (size_t)(s->n + 1) * sizeof *s->sizes);
    s->bytes = realloc(s->bytes, (size_t)(s->n + 1) * sizeof *s->bytes);
    assert_non_null(s->sizes);
    assert_non_null(s->bytes);
    s->bytes[s->n] = malloc(size ? size : 1);
    assert_non_null(s->bytes[s->n]);
    memcpy(s->bytes[s->n], p, size);
    s->sizes[s->n++] = size;
}

static snapshot snap_take(cg_learner *learn) {
    snapshot s = {0};
    assert_int_equal(cg_learner_create_opt(learn), CG_OK);
    cg_named_tensors sd;
    assert_int_equal(cg_module_state_dict(learn->model, &sd), CG_OK);
    for (int i = 0; i < sd.n; i++)
        snap_add(&s, cg_data(sd.tensors[i]), (size_t)cg_numel(sd.tensors[i]) * cg_dtype_size(sd.tensors[i]->dtype));
    cg_named_tensors_free(&sd);
    cg_param_group *g = cg_optimizer_group(learn->opt, 0);
    for (int i = 0; i < g->n_params; i++) {
        cg_optim_param_state ps;
        assert_int_equal(cg_optimizer_param_state(learn->opt, 0, i, &ps), CG_OK);
        if (ps.grad_avg) snap_add(&s, ps.grad_avg, (size_t)ps.numel * sizeof(float));
        if (ps.sqr_avg) snap_add(&s, ps.sqr_avg, (size_t)ps.numel * sizeof(float));
        snap_add(&s, ps.step, sizeof *ps.step);
    }
    const cg_recorder *r = learn->recorder;
    s.n_losses = r->n_losses;
    s.n_epochs = r->n_epochs;
    s.losses = malloc((size_t)(r->n_losses + 1) * sizeof(double));
    s.lrs = malloc((size_t)(r->n_losses + 1) * sizeof(double));
    s.values = malloc(((size_t)r->n_epochs * (size_t)r->n_cols + 1) * sizeof(double));
    if (r->n_losses > 0) { /* a fresh recorder has no arrays yet */
        memcpy(s.losses, r->losses, (size_t)r->n_losses * sizeof(double));
        memcpy(s.lrs, r->lrs, (size_t)r->n_losses * sizeof(double));
    }
    if (r->n_epochs > 0)
        memcpy(s.values, r->values, (size_t)r->n_epochs * (size_t)r->n_cols * sizeof(double));
    return s;
}

static void snap_free(snapshot *s) {
    for (int i = 0; i < s->n; i++) free(s->bytes[i]);
    free(s->bytes);
    free(s->sizes);
    free(s->losses);
    free(s->lrs);
    free(s->values);
}

static void snap_equal(const snapshot *a, const snapshot *b, int n_cols) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        assert_int_equal(a->sizes[i], b->sizes[i]);
        if (memcmp(a->bytes[i], b->bytes[i], a->sizes[i]) != 0) fail_msg("entry %d differs", i);
    }
    assert_int_equal(a->n_losses, b->n_losses);
    assert_int_equal(a->n_epochs, b->n_epochs);
    assert_memory_equal(a->losses, b->losses, (size_t)a->n_losses * sizeof(double));
    assert_memory_equal(a->lrs, b->lrs, (size_t)a->n_losses * sizeof(double));
    assert_memory_equal(a->values, b->values, (size_t)a->n_epochs * (size_t)n_cols * sizeof(double));
}

/* ---- stopping a fit mid-epoch, and counting epochs ------------------------- */

typedef struct stopper {
    int stop_epoch, stop_batch; /* cancel the fit there (-1: never) */
    int epochs_run;
} stopper;

static cg_cb_result stop_before_epoch(cg_learner *learn, void *state) {
    (void)learn;
    ((stopper *)state)->epochs_run++;
    return CG_CB_OK;
}

static cg_cb_result stop_after_batch(cg_learner *learn, void *state) {
    stopper *s = state;
    return learn->training && learn->epoch == s->stop_epoch && learn->iter == s->stop_batch
               ? CG_CB_CANCEL_FIT
               : CG_CB_OK;
}

static stopper *add_stopper(cg_learner *learn, int epoch, int batch) {
    stopper *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->stop_epoch = epoch;
    s->stop_batch = batch;
    cg_callback cb = {.name = "stopper", .order = 0, .state = s, .free_state = free,
                      .before_epoch = stop_before_epoch, .after_batch = stop_after_batch};
    assert_int_equal(cg_learner_add_cb(learn, &cb), CG_OK);
    return s;
}

static char tmpdir[64];

static void make_tmp(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cgrad_ckpt_XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void rm_tmp(void) { assert_int_equal(cg_remove_tree(tmpdir), CG_OK); }

/* straight N epochs vs stopped in epoch `stop` (mid-epoch) and resumed */
static void straight_vs_resumed(bool conv, int stop) {
    rig a = rig_new(conv);
    assert_int_equal(rig_fit(&a), CG_OK);
    assert_int_equal(a.learn->recorder->n_epochs, N_EPOCHS);
    snapshot want = snap_take(a.learn);
    int n_cols = a.learn->recorder->n_cols;
    rig_free(&a);

    make_tmp();
    rig b = rig_new(conv);
    assert_int_equal(cg_learner_add_checkpoint(b.learn, tmpdir), CG_OK);
    add_stopper(b.learn, stop, 1); /* "kill" after batch 1 of epoch `stop` */
    assert_int_equal(rig_fit(&b), CG_OK);
    assert_int_equal(b.learn->recorder->n_epochs, stop);
    rig_free(&b);

    char path[256];
    assert_int_equal(cg_checkpoint_latest(tmpdir, path, sizeof path), CG_OK);
    char expect[256];
    snprintf(expect, sizeof expect, "%s/epoch-%d.safetensors", tmpdir, stop - 1);
    assert_string_equal(path, expect);

    rig c = rig_new(conv); /* a new learner, as a new process would build */
    assert_int_equal(cg_learner_resume(c.learn, tmpdir), CG_OK);
    stopper *count = add_stopper(c.learn, -1, -1);
    assert_int_equal(rig_fit(&c), CG_OK);
    assert_int_equal(count->epochs_run, N_EPOCHS - stop); /* only the epochs left ran */
    snapshot got = snap_take(c.learn);
    snap_equal(&want, &got, n_cols);
    /* and the weights did move since the checkpoint: the test compares training */
    rig d = rig_new(conv);
    assert_int_equal(cg_learner_resume(d.learn, path), CG_OK);
    snapshot at_ckpt = snap_take(d.learn);
    assert_int_equal(at_ckpt.n, got.n);
    assert_true(memcmp(at_ckpt.bytes[0], got.bytes[0], got.sizes[0]) != 0);
    snap_free(&at_ckpt);
    rig_free(&d);
    snap_free(&got);
    snap_free(&want);
    rig_free(&c);
    rm_tmp();
}

static void test_simple_net_fit(void **state) {
    (void)state;
    straight_vs_resumed(false, 2);
}

static void test_conv_bn_dropout_one_cycle(void **state) {
    (void)state;
    straight_vs_resumed(true, 1);
    straight_vs_resumed(true, 3);
}

/* ---- refused checkpoints ---------------------------------------------------- */

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void test_refused(void **state) {
    (void)state;
    make_tmp();
    rig a = rig_new(false);
    assert_int_equal(cg_learner_add_checkpoint(a.learn, tmpdir), CG_OK);
    assert_int_equal(cg_learner_fit(a.learn, 2, 0.1), CG_OK);
    rig_free(&a);
    char good[256], bad[256];
    snprintf(good, sizeof good, "%s/epoch-1.safetensors", tmpdir);
    void *data;
    size_t len;
    assert_int_equal(cg_read_file(good, &data, &len), CG_OK);

    /* truncated: half the file */
    snprintf(bad, sizeof bad, "%s/truncated.safetensors", tmpdir);
    write_bytes(bad, data, len / 2);
    rig b = rig_new(false);
    snapshot before = snap_take(b.learn);
    assert_int_equal(cg_learner_resume(b.learn, bad), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "truncated.safetensors"));
    /* nothing changed */
    snapshot after = snap_take(b.learn);
    snap_equal(&before, &after, b.learn->recorder->n_cols);
    snap_free(&before);
    snap_free(&after);

    /* a flipped byte in the JSON header */
    unsigned char *copy = malloc(len);
    memcpy(copy, data, len);
    copy[8] = '!'; /* the header's opening brace */
    write_bytes(bad, copy, len);
    assert_int_equal(cg_learner_resume(b.learn, bad), CG_ERR_FORMAT);
    free(copy);

    /* a plain model file is not a checkpoint */
    snprintf(bad, sizeof bad, "%s/model.safetensors", tmpdir);
    assert_int_equal(cg_module_save(b.model, bad, NULL), CG_OK);
    assert_int_equal(cg_learner_resume(b.learn, bad), CG_ERR_FORMAT);
    assert_non_null(strstr(cg_last_error(), "not a cgrad checkpoint"));

    /* a "last" that names something else than a file in the folder */
    snprintf(bad, sizeof bad, "%s/last", tmpdir);
    write_bytes(bad, "../etc/passwd\n", 14);
    assert_int_equal(cg_learner_resume(b.learn, tmpdir), CG_ERR_FORMAT);
    write_bytes(bad, "epoch-1.safetensors\n", 20);

    /* resumed with another number of epochs: the fit says so */
    assert_int_equal(cg_learner_resume(b.learn, tmpdir), CG_OK);
    assert_int_equal(cg_learner_fit(b.learn, 3, 0.1), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "fit of 3 epochs, the checkpoint's fit had 2"));
    rig_free(&b);

    /* another architecture: a shape that does not fit */
    rig c = rig_new(true);
    assert_int_not_equal(cg_learner_resume(c.learn, good), CG_OK);
    assert_non_null(strstr(cg_last_error(), "epoch-1.safetensors"));
    rig_free(&c);
    free(data);
    rm_tmp();
}

int main(void) {
    /* same seed and same threads: the vision kernels pick 1 or all threads per
     * call by timing, and a different split sums in another order */
    omp_set_num_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_net_fit),
        cmocka_unit_test(test_conv_bn_dropout_one_cycle),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
