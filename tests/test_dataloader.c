/* The DataLoader (include/cgrad/dataloader.h): every item exactly once per
 * epoch in every mode, shuffles that change per epoch and repeat per seed (and
 * equal PyTorch's), batch shapes and the last partial batch, order independent
 * of the worker count, early stops without leaks, and clear errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad.h"

/* ---- helpers ----------------------------------------------------------------- */

/* One epoch of a loader over int64 items (range(n) or a tensor dataset whose x
 * holds the item's index in its first element): the items in the order seen,
 * and the batch sizes.  Returns the number of items seen. */
static int64_t run_epoch(cg_dataloader *dl, int64_t *items, int64_t *sizes, int64_t *nbatches) {
    int64_t seen = 0, b = 0;
    cg_tensor *xb, *yb;
    while (cg_dataloader_next(dl, &xb, &yb)) {
        assert_non_null(xb);
        int64_t rows = xb->ndim ? xb->shape[0] : 1;
        int64_t per_row = rows ? cg_numel(xb) / rows : 0;
        cg_tensor *c = cg_contiguous(xb);
        for (int64_t r = 0; r < rows; r++) {
            double v = c->dtype == CG_INT64 ? (double)((int64_t *)cg_data(c))[r * per_row]
                                            : (double)((float *)cg_data(c))[r * per_row];
            items[seen++] = (int64_t)v;
        }
        if (yb) { /* y is 10 * the index: check it travels with its x */
            assert_int_equal(yb->shape[0], rows);
            cg_tensor *yc = cg_contiguous(yb);
            for (int64_t r = 0; r < rows; r++)
                assert_int_equal(((int64_t *)cg_data(yc))[r], 10 * items[seen - rows + r]);
            cg_release(yc);
        }
        sizes[b++] = rows;
        cg_release(c);
        cg_release(xb);
        cg_release(yb);
    }
    assert_int_equal(cg_dataloader_status(dl), CG_OK);
    *nbatches = b;
    return seen;
}

/* x [n, 4] float with x[i] = {i, i, i, i}; y int64 [n] = 10 i. */
static cg_dataset *indexed_tensors(int64_t n) {
    float *xs = malloc((size_t)n * 4 * sizeof *xs);
    int64_t *ys = malloc((size_t)n * sizeof *ys);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) xs[i * 4 + k] = (float)i;
        ys[i] = 10 * i;
    }
    cg_tensor *x = cg_from_floats(CG_SHAPE(n, 4), xs);
    cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(n), ys);
    cg_dataset *ds = cg_dataset_from_tensors(x, y);
    cg_release(x);
    cg_release(y);
    free(xs);
    free(ys);
    assert_non_null(ds);
    return ds;
}

/* A dataset with no get_batch: item i is (x = [i, i, i] float, y = 10 i), except
 * that item `odd` (if >= 0) has a 4-element x. */
typedef struct items_ctx { int64_t n, odd; } items_ctx;
static int64_t items_len(void *ctx) { return ((items_ctx *)ctx)->n; }
static cg_status items_get(void *ctx, int64_t i, cg_tensor **x, cg_tensor **y) {
    items_ctx *c = ctx;
    *x = cg_full(CG_FLOAT32, CG_SHAPE(i == c->odd ? 4 : 3), (double)i);
    *y = cg_scalar_of(CG_INT64, (double)(10 * i));
    return *x && *y ? CG_OK : cg_last_status();
}
static void items_free(void *ctx) { free(ctx); }
static cg_dataset *per_item_dataset(int64_t n, int64_t odd) {
    items_ctx *c = malloc(sizeof *c);
    c->n = n;
    c->odd = odd;
    static const cg_dataset_ops ops = {items_len, items_get, NULL, items_free, NULL};
    cg_dataset *ds = cg_dataset_new("per-item test", &ops, c);
    assert_non_null(ds);
    return ds;
}

/* ---- every item exactly once per epoch ---------------------------------------- */

static void check_coverage(cg_dataset *ds, bool shuffle, bool drop_last, int workers) {
    const int64_t n = 103, bs = 10;
    cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){
        .batch_size = bs, .shuffle = shuffle, .drop_last = drop_last, .num_workers = workers,
        .seeded = true, .seed = 7});
    assert_non_null(dl);
    assert_int_equal(cg_dataloader_len(dl), drop_last ? 10 : 11);
    int64_t items[200], sizes[20], nb, first_epoch[200];
    for (int epoch = 0; epoch < 3; epoch++) {
        int64_t seen = run_epoch(dl, items, sizes, &nb);
        assert_int_equal(nb, drop_last ? 10 : 11);
        assert_int_equal(seen, drop_last ? 100 : 103);
        for (int64_t b = 0; b < nb; b++) assert_int_equal(sizes[b], b == 10 ? 3 : 10);
        int count[103] = {0};
        for (int64_t k = 0; k < seen; k++) {
            assert_true(items[k] >= 0 && items[k] < n);
            count[items[k]]++;
        }
        int once = 0;
        for (int64_t i = 0; i < n; i++) {
            assert_true(count[i] <= 1);
            once += count[i];
        }
        assert_int_equal(once, seen);
        if (!shuffle) /* in order: 0, 1, 2, ... */
            for (int64_t k = 0; k < seen; k++) assert_int_equal(items[k], k);
        if (!shuffle && drop_last) assert_int_equal(count[100] + count[101] + count[102], 0);
        if (epoch == 0) {
            memcpy(first_epoch, items, sizeof items);
        } else if (shuffle) { /* a new permutation every epoch */
            assert_memory_not_equal(first_epoch, items, (size_t)seen * sizeof *items);
        }
        assert_int_equal(cg_dataloader_epoch(dl), epoch + 1);
    }
    cg_dataloader_free(dl);
}

static void test_every_item_once(void **state) {
    (void)state;
    cg_dataset *sets[3] = {cg_dataset_range(103), indexed_tensors(103), per_item_dataset(103, -1)};
    for (int s = 0; s < 3; s++)
        for (int shuffle = 0; shuffle < 2; shuffle++)
            for (int drop = 0; drop < 2; drop++)
                for (int workers = 0; workers <= 2; workers += 2)
                    check_coverage(sets[s], shuffle, drop, workers);
    for (int s = 0; s < 3; s++) cg_dataset_release(sets[s]);
}

/* ---- seeds ------------------------------------------------------------------------ */

static void epochs_of(cg_dataset *ds, int workers, uint64_t seed, int64_t out[3][103]) {
    cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){
        .batch_size = 8, .shuffle = true, .num_workers = workers, .seeded = true, .seed = seed});
    int64_t sizes[20], nb;
    for (int e = 0; e < 3; e++) assert_int_equal(run_epoch(dl, out[e], sizes, &nb), 103);
    cg_dataloader_free(dl);
}

static void test_same_seed_same_sequence(void **state) {
    (void)state;
    cg_dataset *ds = indexed_tensors(103);
    static int64_t a[3][103], b[3][103], c[3][103], d[3][103];
    epochs_of(ds, 0, 42, a);
    epochs_of(ds, 0, 42, b);
    epochs_of(ds, 3, 42, c); /* the worker count does not change the order */
    epochs_of(ds, 0, 43, d);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(a, c, sizeof a);
    assert_memory_not_equal(a[0], d[0], sizeof a[0]);
    cg_dataset_release(ds);
}

/* DataLoader(range(15), batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(42)),
 * two epochs, from PyTorch 1.13. */
static void test_seeded_shuffle_matches_pytorch(void **state) {
    (void)state;
    static const int64_t want[2][15] = {{1, 13, 6, 14, 7, 9, 10, 8, 4, 0, 2, 5, 12, 11, 3},
                                        {10, 8, 6, 7, 11, 4, 3, 9, 1, 2, 12, 14, 0, 5, 13}};
    for (int workers = 0; workers <= 2; workers += 2) {
        cg_dataset *ds = cg_dataset_range(15);
        cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){
            .batch_size = 5, .shuffle = true, .num_workers = workers, .seeded = true, .seed = 42});
        cg_dataset_release(ds); /* the loader keeps its own reference */
        int64_t items[15], sizes[3], nb;
        for (int e = 0; e < 2; e++) {
            assert_int_equal(run_epoch(dl, items, sizes, &nb), 15);
            assert_int_equal(nb, 3);
            assert_memory_equal(items, want[e], sizeof items);
        }
        cg_dataloader_free(dl);
    }
}

/* torch.manual_seed(0); dl = DataLoader(range(15), batch_size=5, shuffle=True):
 * two epochs, then torch.randn(3) -- the loader's draws from the default
 * generator leave it where PyTorch leaves it. */
static void test_unseeded_shuffle_follows_manual_seed(void **state) {
    (void)state;
    static const int64_t want[2][15] = {{6, 2, 1, 5, 13, 0, 3, 12, 10, 4, 11, 8, 14, 7, 9},
                                        {2, 3, 4, 8, 0, 9, 6, 12, 14, 5, 11, 10, 7, 1, 13}};
    cg_manual_seed(0);
    cg_dataset *ds = cg_dataset_range(15);
    cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 5, .shuffle = true});
    int64_t items[15], sizes[3], nb;
    for (int e = 0; e < 2; e++) {
        assert_int_equal(run_epoch(dl, items, sizes, &nb), 15);
        assert_memory_equal(items, want[e], sizeof items);
    }
    cg_tensor *r = cg_randn(NULL, CG_SHAPE(3));
    const float *p = cg_data_f32(r);
    assert_float_equal(p[0], -1.0845223665237427, 1e-6);
    assert_float_equal(p[1], -1.3985954523086548, 1e-6);
    assert_float_equal(p[2], 0.40334683656692505, 1e-6);
    cg_release(r);
    cg_dataloader_free(dl);

    /* An unshuffled epoch draws one int64 too (the iterator's base seed):
     * torch.manual_seed(0); [b for b in DataLoader(range(15), batch_size=5)];
     * torch.randn(3) gives [-0.2905, -1.0704, 1.2645]. */
    cg_manual_seed(0);
    dl = cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 5});
    run_epoch(dl, items, sizes, &nb);
    r = cg_randn(NULL, CG_SHAPE(3));
    p = cg_data_f32(r);
    assert_float_equal(p[0], -0.29050925374031067, 1e-6);
    assert_float_equal(p[1], -1.0703703165054321, 1e-6);
    assert_float_equal(p[2], 1.2644586563110352, 1e-6);
    cg_release(r);
    cg_dataloader_free(dl);
    cg_dataset_release(ds);
}

/* ---- shapes ------------------------------------------------------------------------ */

/* The chapter: dl = DataLoader(dset, batch_size=256); xb,yb = first(dl) ->
 * [256, 784], [256, 1]; 12396 items make 48 full batches and one of 108. */
static void test_chapter_shapes_and_last_batch(void **state) {
    (void)state;
    cg_tensor *x = cg_zeros(CG_FLOAT32, CG_SHAPE(12396, 784));
    cg_tensor *y = cg_zeros(CG_FLOAT32, CG_SHAPE(12396, 1));
    cg_dataset *dset = cg_dataset_from_tensors(x, y);
    cg_dataloader *dl = cg_dataloader_new(dset, &(cg_dataloader_options){.batch_size = 256});
    assert_int_equal(cg_dataloader_len(dl), 49);
    assert_int_equal(cg_dataloader_n(dl), 12396);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataloader_first(dl, &xb, &yb), CG_OK);
    assert_int_equal(xb->ndim, 2);
    assert_int_equal(xb->shape[0], 256);
    assert_int_equal(xb->shape[1], 784);
    assert_int_equal(yb->ndim, 2);
    assert_int_equal(yb->shape[0], 256);
    assert_int_equal(yb->shape[1], 1);
    /* unshuffled: a view of the dataset's rows, no copy */
    assert_ptr_equal(cg_data(xb), cg_data(x));
    cg_release(xb);
    cg_release(yb);

    int64_t b = 0, last = 0;
    cg_scope_begin(); /* batches from next() belong to the open scope */
    while (cg_dataloader_next(dl, &xb, &yb)) {
        last = xb->shape[0];
        b++;
    }
    cg_scope_end();
    assert_int_equal(b, 49);
    assert_int_equal(last, 12396 - 48 * 256);

    /* fastai's defaults: batch size 64, no shuffle, last batch kept */
    cg_dataloader *d64 = cg_dataloader_new(dset, NULL);
    assert_int_equal(cg_dataloader_batch_size(d64), 64);
    assert_int_equal(cg_dataloader_len(d64), 194);
    cg_dataloader_free(d64);

    cg_dataloader_free(dl);
    cg_dataset_release(dset);
    cg_release(x);
    cg_release(y);
}

/* Shuffled batches of a tensor dataset are gathered rows: each row is the right
 * row, and the rows are a contiguous copy. */
static void test_gathered_rows(void **state) {
    (void)state;
    cg_dataset *ds = indexed_tensors(50);
    cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){
        .batch_size = 16, .shuffle = true, .num_workers = 2, .seeded = true, .seed = 1});
    cg_tensor *xb, *yb;
    cg_scope_begin();
    while (cg_dataloader_next(dl, &xb, &yb)) {
        assert_true(cg_is_contiguous(xb));
        const float *p = cg_data_f32(xb);
        const int64_t *q = cg_data(yb);
        for (int64_t r = 0; r < xb->shape[0]; r++)
            for (int k = 0; k < 4; k++) {
                assert_float_equal(p[r * 4 + k], (float)q[r] / 10, 0);
            }
    }
    cg_scope_end();
    cg_dataloader_free(dl);
    cg_dataset_release(ds);
}

/* ---- stopping early, resetting ------------------------------------------------------ */

static void test_early_stop_and_free(void **state) {
    (void)state;
    size_t mem0 = cg_mem_in_use();
    cg_dataset *ds = per_item_dataset(1000, -1);
    for (int workers = 0; workers <= 3; workers++) {
        cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){
            .batch_size = 7, .shuffle = true, .num_workers = workers, .prefetch_factor = 3});
        cg_tensor *xb, *yb;
        assert_true(cg_dataloader_next(dl, &xb, &yb));
        cg_release(xb);
        cg_release(yb);
        /* reset mid-epoch: the next epoch is whole */
        assert_int_equal(cg_dataloader_reset(dl), CG_OK);
        int64_t n = 0;
        while (cg_dataloader_next(dl, &xb, &yb)) {
            n += xb->shape[0];
            cg_release(xb);
            cg_release(yb);
        }
        assert_int_equal(n, 1000);
        assert_int_equal(cg_dataloader_batches_done(dl), 143);
        /* stop after two batches, with the workers' queue full, and free */
        for (int k = 0; k < 2; k++) {
            assert_true(cg_dataloader_next(dl, &xb, &yb));
            cg_release(xb);
            cg_release(yb);
        }
        cg_dataloader_free(dl); /* joins the workers, releases queued batches */
    }
    cg_dataset_release(ds);
    assert_int_equal(cg_mem_in_use(), mem0); /* every batch made was released */
}

/* ---- errors ------------------------------------------------------------------------- */

static void test_bad_options(void **state) {
    (void)state;
    cg_dataset *ds = cg_dataset_range(10);
    cg_clear_error();
    assert_null(cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 0}));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "batch_size must be >= 1, got 0"));
    assert_null(cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 4, .num_workers = -1}));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "num_workers"));
    assert_null(cg_dataloader_new(NULL, NULL));

    /* first() of a loader with no batches */
    cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 20, .drop_last = true});
    assert_int_equal(cg_dataloader_len(dl), 0);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataloader_first(dl, &xb, &yb), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "empty"));
    assert_false(cg_dataloader_next(dl, &xb, &yb));
    assert_int_equal(cg_dataloader_status(dl), CG_OK); /* an empty epoch is not an error */
    cg_dataloader_free(dl);
    cg_dataset_release(ds);
}

/* Items whose shapes cannot be stacked: the error names both items and shapes,
 * and arrives the same way from worker threads. */
static void test_unstackable_items(void **state) {
    (void)state;
    cg_dataset *ds = per_item_dataset(12, 5);
    for (int workers = 0; workers <= 2; workers += 2) {
        cg_dataloader *dl = cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 4, .num_workers = workers});
        cg_tensor *xb, *yb;
        assert_true(cg_dataloader_next(dl, &xb, &yb)); /* items 0..3 are fine */
        cg_release(xb);
        cg_release(yb);
        cg_clear_error();
        assert_false(cg_dataloader_next(dl, &xb, &yb)); /* items 4..7 hold item 5 */
        assert_null(xb);
        assert_int_equal(cg_dataloader_status(dl), CG_ERR_SHAPE);
        assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
        const char *msg = cg_last_error();
        assert_non_null(strstr(msg, "item 4 (shape [3])"));
        assert_non_null(strstr(msg, "item 5 (shape [4])"));
        /* the failed epoch is over; the next call starts a new one */
        assert_true(cg_dataloader_next(dl, &xb, &yb));
        assert_int_equal(cg_dataloader_status(dl), CG_OK);
        assert_int_equal(cg_dataloader_epoch(dl), 2);
        cg_release(xb);
        cg_release(yb);
        cg_dataloader_free(dl);
    }
    cg_dataset_release(ds);
}

/* ---- image folders through worker threads ------------------------------------------- */

static void test_image_folder_loader(void **state) {
    (void)state;
    const char *mirror = getenv("CGRAD_MIRROR");
    if (!mirror) skip();
    char root[1024];
    snprintf(root, sizeof root, "%s/mnist_sample", mirror);
    assert_null(cg_image_dataloaders_from_folder("/nonexistent/mnist_sample", 64, 2, true, 0));
    assert_int_not_equal(cg_last_status(), CG_OK);
    assert_non_null(strstr(cg_last_error(), "/nonexistent/mnist_sample"));
    cg_dataloaders *dls = cg_image_dataloaders_from_folder(root, 64, 2, true, 0);
    assert_non_null(dls);
    assert_int_equal(cg_dataloader_len(dls->train), 12396 / 64); /* drop_last */
    assert_int_equal(cg_dataloader_len(dls->valid), (2038 + 63) / 64);
    /* first(dls.valid): the first 64 sorted valid/3 images, each row equal to
     * the item read on its own */
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataloader_first(dls->valid, &xb, &yb), CG_OK);
    cg_dataset *ds = cg_dataloader_dataset(dls->valid);
    for (int64_t i = 0; i < 64; i += 21) {
        cg_tensor *x, *y;
        assert_int_equal(cg_dataset_item(ds, i, &x, &y), CG_OK);
        assert_int_equal(cg_numel(x), 3 * 28 * 28);
        assert_memory_equal(cg_data(x), (float *)cg_data(xb) + i * 3 * 28 * 28, 3 * 28 * 28 * sizeof(float));
        assert_int_equal(((int64_t *)cg_data(yb))[i], 0);
        cg_release(x);
        cg_release(y);
    }
    cg_release(xb);
    cg_release(yb);
    /* one pass over valid: 1010 threes then 1028 sevens, in order */
    int64_t counts[2] = {0, 0}, batches = 0;
    cg_scope_begin();
    while (cg_dataloader_next(dls->valid, &xb, &yb)) {
        assert_int_equal(xb->dtype, CG_FLOAT32);
        assert_int_equal(xb->ndim, 4);
        assert_int_equal(xb->shape[1], 3);
        assert_int_equal(xb->shape[2], 28);
        assert_int_equal(xb->shape[3], 28);
        const int64_t *lab = cg_data(yb);
        for (int64_t r = 0; r < yb->shape[0]; r++) counts[lab[r]]++;
        batches++;
    }
    cg_scope_end();
    assert_int_equal(cg_dataloader_status(dls->valid), CG_OK);
    assert_int_equal(batches, 32);
    assert_int_equal(counts[0], 1010);
    assert_int_equal(counts[1], 1028);
    cg_dataloaders_free(dls);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_item_once),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_seeded_shuffle_matches_pytorch),
        cmocka_unit_test(test_unseeded_shuffle_follows_manual_seed),
        cmocka_unit_test(test_chapter_shapes_and_last_batch),
        cmocka_unit_test(test_gathered_rows),
        cmocka_unit_test(test_early_stop_and_free),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_unstackable_items),
        cmocka_unit_test(test_image_folder_loader),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return failed;
}
