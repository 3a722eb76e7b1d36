/* Data-parallel training over MPI (cgrad/dist.h), run by CTest as
 * `mpirun --oversubscribe -np 2 test_dist_mpi` (CMakeLists.txt's MPI block);
 * run alone it has no ranks to talk to and skips.
 *
 *   - the same work as one process: every rank trains the one-process
 *     reference itself (global batch 64, no MPI), then the distributed run
 *     (32 per rank, rank 1 starting from other weights that rank 0's
 *     broadcast must overwrite); after 2 epochs of SGD (20 steps, the last of
 *     each epoch a partial batch) every weight agrees within 1e-5 relative,
 *     and the valid loss and accuracy over the whole validation set (101
 *     items, uneven shards) agree within 1e-6.  Why not bit for bit: the
 *     global batch's gradient is the mean of the ranks' two half-batch means,
 *     sums in another order (BLAS's blocked GEMM over 32 rows, not 64, then
 *     one float addition); float32 rounds each order differently, about 1e-7
 *     relative a step, and 20 steps compound that to ~1e-6.
 *   - the buffers: cg_dist_broadcast_buffers gives every rank rank 0's
 *     BatchNorm running statistics and count and leaves the parameters alone.
 *   - the buckets: a 26-float bucket cap splits 33 gradients + the loss into 2
 *     MPI_Allreduce calls and gives the hand-worked mean (1+2)/2.
 *
 * `--fail-rank R` is the failure case driven by tests/cli/dist.sh: rank R's
 * fit fails at its 3rd step while the other waits in MPI_Allreduce; the
 * program prints the message and MPI_Aborts, and the whole job must exit
 * non-zero within seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "cgrad/dist.h"

#define N_TRAIN 600 /* 9 batches of 64 and one of 24: per rank 9 x 32 + 12 */
#define N_VALID 101
#define N_IN 20

static cg_tensor *train_x, *train_y, *valid_x, *valid_y;

/* x ~ randn [n, 20], y = (x0 + x1 > 0) as int64 [n, 1] (the chapter's 0/1 targets). */
static void make_data(int64_t n, cg_tensor **x, cg_tensor **y) {
    *x = cg_randn(NULL, CG_SHAPE(n, N_IN));
    assert_non_null(*x);
    int64_t *ys = malloc((size_t)n * sizeof *ys);
    const float *xs = cg_data(*x);
    for (int64_t i = 0; i < n; i++) ys[i] = xs[i * N_IN] + xs[i * N_IN + 1] > 0;
    *y = cg_from_data(CG_INT64, CG_SHAPE(n, 1), ys);
    free(ys);
    assert_non_null(*y);
}

typedef struct run_result {
    cg_module *model;
    double valid_loss, accuracy;
} run_result;

/* simple_net on the data, SGD lr 0.5, 2 epochs; distributed: sharded + the dist callback. */
static run_result train(bool distributed, uint64_t init_seed, const cg_callback *extra) {
    cg_manual_seed(init_seed);
    cg_module *model = cg_model_create("simple_net", N_IN, 1);
    assert_non_null(model);
    cg_dataloaders *dls = cg_tensor_dataloaders(train_x, train_y, valid_x, valid_y, 64, true, 5);
    assert_non_null(dls);
    if (distributed) assert_int_equal(cg_dist_shard_loaders(dls, 64), CG_OK);
    cg_metric metrics[] = {cg_metric_batch_accuracy()};
    cg_learner *learn = cg_learner_new(dls, model, cg_loss_by_name("mnist_loss"), CG_OPTIM_SGD, metrics, 1);
    assert_non_null(learn);
    if (distributed) {
        cg_callback cb;
        assert_int_equal(cg_dist_callback(&cb), CG_OK);
        assert_int_equal(cg_learner_add_cb(learn, &cb), CG_OK);
    }
    if (extra) assert_int_equal(cg_learner_add_cb(learn, extra), CG_OK);
    cg_status st = cg_learner_fit(learn, 2, 0.5);
    if (st != CG_OK) { /* what cgrad train does: say why, then end the whole job */
        fprintf(stderr, "test_dist_mpi: rank %d: %s\n", cg_dist_rank(), cg_last_error());
        fflush(stderr);
        cg_dist_abort(3);
    }
    run_result r = {.model = model,
                    .valid_loss = cg_recorder_value(learn->recorder, 1, 1),
                    .accuracy = cg_recorder_value(learn->recorder, 1, 2)};
    assert_int_equal(learn->train_iter, 20);
    cg_learner_free(learn);
    cg_dataloaders_free(dls);
    return r; /* the model: still referenced by the caller */
}

static void test_two_ranks_do_the_work_of_one(void **st) {
    (void)st;
    if (!cg_dist_active()) skip();
    assert_int_equal(cg_dist_size(), 2);
    run_result one = train(false, 1, NULL);
    /* rank 1 starts elsewhere: the broadcast must bring rank 0's start */
    run_result two = train(true, cg_dist_rank() == 0 ? 1 : 99, NULL);
    cg_named_tensors a, b;
    assert_int_equal(cg_module_state_dict(one.model, &a), CG_OK);
    assert_int_equal(cg_module_state_dict(two.model, &b), CG_OK);
    assert_int_equal(a.n, 4);
    assert_int_equal(b.n, 4);
    for (int i = 0; i < a.n; i++) {
        const float *x = cg_data(a.tensors[i]), *y = cg_data(b.tensors[i]);
        double maxdiff = 0, maxabs = 0;
        for (int64_t k = 0; k < cg_numel(a.tensors[i]); k++) {
            maxdiff = fmax(maxdiff, fabs((double)x[k] - (double)y[k]));
            maxabs = fmax(maxabs, fabs((double)x[k]));
        }
        if (cg_dist_rank() == 0)
            printf("%-9s max |2 ranks - 1 process| = %.3g, max |w| = %.3g, relative %.3g\n", a.names[i],
                   maxdiff, maxabs, maxdiff / maxabs);
        if (maxdiff > 1e-5 * maxabs)
            fail_msg("rank %d: %s differs by %g (max |w| %g)", cg_dist_rank(), a.names[i], maxdiff, maxabs);
    }
    /* the weights moved: 20 steps of lr 0.5 are not the start */
    assert_true(fabs(one.valid_loss - 0.5) > 1e-3);
    assert_true(fabs(two.valid_loss - one.valid_loss) <= 1e-6);
    assert_true(fabs(two.accuracy - one.accuracy) <= 1e-6);
    assert_true(one.accuracy > 0.8); /* a separable problem, learnt */
    cg_named_tensors_free(&a);
    cg_named_tensors_free(&b);
    cg_module_release(one.model);
    cg_module_release(two.model);
}

/* Rank r's grads are all (r+1) (loss = (r+1) * sum(linear(ones))), the loss
 * value 1 + 2r: the average is 1.5 everywhere and 2 for the loss. */
static void test_buckets(void **st) {
    (void)st;
    if (!cg_dist_active()) skip();
    int r = cg_dist_rank();
    cg_manual_seed(3);
    cg_module *m = cg_nn_linear(10, 3, true); /* 30 + 3 gradients */
    cg_scope_begin();
    cg_tensor *out = cg_module_forward(m, cg_ones(CG_FLOAT32, CG_SHAPE(1, 10)));
    cg_tensor *loss = cg_mul_s(cg_sum(out, NULL, 0, false), (double)(r + 1));
    assert_int_equal(cg_backward(loss, NULL), CG_OK);
    cg_scope_end();
    cg_dist_buckets b;
    assert_int_equal(cg_dist_buckets_init(&b, 26.0 * 4 / (1024 * 1024)), CG_OK);
    assert_int_equal(b.cap, 26);
    double lossv = 1 + 2 * r;
    assert_int_equal(cg_dist_average_gradients(&b, m, &lossv), CG_OK);
    assert_int_equal(b.n_calls, 2); /* 34 floats in buckets of 26 */
    assert_true(fabs(lossv - 2.0) < 1e-6);
    cg_named_tensors ps;
    assert_int_equal(cg_module_named_parameters(m, &ps), CG_OK);
    for (int i = 0; i < ps.n; i++) {
        const float *g = cg_data(ps.tensors[i]->grad);
        for (int64_t k = 0; k < cg_numel(ps.tensors[i]); k++) assert_true(fabsf(g[k] - 1.5f) < 1e-6f);
    }
    cg_named_tensors_free(&ps);
    cg_dist_buckets_free(&b);
    cg_module_release(m);
}

/* A parameter one rank's backward did not reach (its grad released, as
 * zero_grad leaves it) still gets the average: rank 0's bias grads are 1,
 * rank 1 has none, so both ranks end with 0.5; the weights' 1 and 2 give 1.5. */
static void test_a_grad_one_rank_lacks(void **st) {
    (void)st;
    if (!cg_dist_active()) skip();
    int r = cg_dist_rank();
    cg_manual_seed(3);
    cg_module *m = cg_nn_linear(4, 2, true);
    cg_scope_begin();
    cg_tensor *out = cg_module_forward(m, cg_ones(CG_FLOAT32, CG_SHAPE(1, 4)));
    assert_int_equal(cg_backward(cg_mul_s(cg_sum(out, NULL, 0, false), (double)(r + 1)), NULL), CG_OK);
    cg_scope_end();
    cg_named_tensors ps;
    assert_int_equal(cg_module_named_parameters(m, &ps), CG_OK);
    assert_int_equal(ps.n, 2);
    assert_string_equal(ps.names[1], "bias");
    if (r == 1) {
        cg_release(ps.tensors[1]->grad);
        ps.tensors[1]->grad = NULL;
    }
    cg_dist_buckets b;
    assert_int_equal(cg_dist_buckets_init(&b, 1.0), CG_OK);
    assert_int_equal(cg_dist_average_gradients(&b, m, NULL), CG_OK);
    for (int i = 0; i < 2; i++) {
        assert_non_null(ps.tensors[i]->grad);
        const float *g = cg_data(ps.tensors[i]->grad);
        for (int64_t k = 0; k < cg_numel(ps.tensors[i]); k++)
            assert_true(fabsf(g[k] - (i == 0 ? 1.5f : 0.5f)) < 1e-6f);
    }
    cg_named_tensors_free(&ps);
    cg_dist_buckets_free(&b);
    cg_module_release(m);
}

/* Rank r fills a BatchNorm1d(3)'s weight with r+1 and its running_mean with
 * 10(r+1), running_var 20(r+1), num_batches_tracked 7(r+1): after
 * cg_dist_broadcast_buffers the buffers are rank 0's (10, 20, 7) everywhere and
 * the weight is still the rank's own. */
static void test_broadcast_buffers(void **st) {
    (void)st;
    if (!cg_dist_active()) skip();
    double r1 = cg_dist_rank() + 1;
    cg_module *bn = cg_nn_batch_norm1d(3);
    assert_non_null(bn);
    const char *names[] = {"weight", "running_mean", "running_var", "num_batches_tracked"};
    const double set[] = {r1, 10 * r1, 20 * r1, 7 * r1}, want[] = {r1, 10, 20, 7};
    cg_no_grad_begin(); /* the weight is a leaf that requires grad */
    for (int i = 0; i < 4; i++) assert_int_equal(cg_fill_(cg_module_find(bn, names[i]), set[i]), CG_OK);
    cg_no_grad_end();
    assert_int_equal(cg_dist_broadcast_buffers(bn), CG_OK);
    for (int i = 0; i < 4; i++) {
        cg_tensor *t = cg_module_find(bn, names[i]);
        for (int64_t k = 0; k < cg_numel(t); k++) {
            double v = t->dtype == CG_INT64 ? (double)((const int64_t *)cg_data(t))[k]
                                            : (double)((const float *)cg_data(t))[k];
            if (v != want[i]) fail_msg("rank %d: %s[%lld] = %g, want %g", cg_dist_rank(), names[i], (long long)k, v, want[i]);
        }
    }
    cg_module_release(bn);
}

/* --fail-rank: the rank's 3rd step fails. */
static int fail_rank = -1;
static cg_cb_result fail_at_step_3(cg_learner *learn, void *state) {
    (void)state;
    if (learn->train_iter < 2) return CG_CB_OK;
    cg_fail(CG_ERR_IO, "a failure injected by test_dist_mpi at step %lld", (long long)learn->train_iter + 1);
    return CG_CB_ERROR;
}
static void test_a_failing_rank(void **st) {
    (void)st;
    if (!cg_dist_active() || fail_rank < 0) skip();
    cg_callback cb = {.name = "fail", .order = 0, .before_batch = fail_at_step_3};
    train(true, 1, cg_dist_rank() == fail_rank ? &cb : NULL); /* aborts the job; never returns */
    fail_msg("rank %d: the fit went on after rank %d failed", cg_dist_rank(), fail_rank);
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--fail-rank")) fail_rank = atoi(argv[2]);
    if (cg_dist_launched() && cg_dist_init(&argc, &argv) != CG_OK) {
        fprintf(stderr, "test_dist_mpi: %s\n", cg_last_error());
        return 1;
    }
    if (!cg_dist_launched()) printf("test_dist_mpi: not started by mpirun: nothing to check here\n");
    cg_manual_seed(0);
    make_data(N_TRAIN, &train_x, &train_y);
    make_data(N_VALID, &valid_x, &valid_y);
    int rc;
    if (fail_rank >= 0) {
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_a_failing_rank)};
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    } else {
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_two_ranks_do_the_work_of_one),
            cmocka_unit_test(test_buckets),
            cmocka_unit_test(test_a_grad_one_rank_lacks),
            cmocka_unit_test(test_broadcast_buffers),
        };
        rc = cmocka_run_group_tests(tests, NULL, NULL);
    }
    cg_release(train_x), cg_release(train_y), cg_release(valid_x), cg_release(valid_y);
    cg_dist_finalize();
    return rc;
}
