/* The DistributedSampler shard (cg_dataloader_shard, used by cgrad/dist.h),
 * without MPI: every rank's loader is made here in one process.  Every item
 * is seen exactly once per epoch across the ranks, plus PyTorch's padding
 * (the first total - n items of the epoch's permutation a second time); the
 * ranks' shards agree with PyTorch's hand-worked indices; the union of the
 * ranks' step-k batches is the one-process loader's batch k; and the
 * "without MPI" and bad-argument paths say what is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cgrad.h"
#include "cgrad/dist.h"

/* x [n,1] float = i, y int64 [n] = i. */
static cg_dataset *indexed(int64_t n) {
    float *xs = malloc((size_t)(n ? n : 1) * sizeof *xs);
    int64_t *ys = malloc((size_t)(n ? n : 1) * sizeof *ys);
    for (int64_t i = 0; i < n; i++) xs[i] = (float)i, ys[i] = i;
    cg_tensor *x = cg_from_floats(CG_SHAPE(n, 1), xs);
    cg_tensor *y = cg_from_data(CG_INT64, CG_SHAPE(n), ys);
    cg_dataset *ds = cg_dataset_from_tensors(x, y);
    cg_release(x), cg_release(y), free(xs), free(ys);
    assert_non_null(ds);
    return ds;
}

/* One epoch's items in order; returns how many; batch sizes into sizes. */
static int64_t epoch_items(cg_dataloader *dl, int64_t *items, int64_t *sizes, int64_t *nb) {
    int64_t seen = 0, b = 0;
    cg_tensor *xb, *yb;
    while (cg_dataloader_next(dl, &xb, &yb)) {
        cg_tensor *c = cg_contiguous(yb);
        for (int64_t r = 0; r < yb->shape[0]; r++) items[seen++] = ((int64_t *)cg_data(c))[r];
        if (sizes) sizes[b] = yb->shape[0];
        b++;
        cg_release(c), cg_release(xb), cg_release(yb);
    }
    assert_int_equal(cg_dataloader_status(dl), CG_OK);
    if (nb) *nb = b;
    return seen;
}

static cg_dataloader *loader(cg_dataset *ds, int64_t bs, bool shuffle, uint64_t seed) {
    cg_dataloader *dl = cg_dataloader_new(
        ds, &(cg_dataloader_options){.batch_size = bs, .shuffle = shuffle, .seeded = shuffle, .seed = seed});
    assert_non_null(dl);
    return dl;
}

/* PyTorch, by hand: DistributedSampler(range(5), num_replicas=2, shuffle=False)
 * pads [0,1,2,3,4] with [0]: rank 0 gets [0,2,4], rank 1 [1,3,0]; 3 ranks pad
 * with [0]: [0,3], [1,4], [2,0].  Without padding rank 1 of 2 gets [1,3]. */
static void test_hand_worked_shards(void **st) {
    (void)st;
    cg_dataset *ds = indexed(5);
    static const int64_t want2[2][3] = {{0, 2, 4}, {1, 3, 0}}, want3[3][2] = {{0, 3}, {1, 4}, {2, 0}};
    int64_t items[8];
    for (int r = 0; r < 2; r++) {
        cg_dataloader *dl = loader(ds, 2, false, 0);
        assert_int_equal(cg_dataloader_shard(dl, r, 2, true, 2), CG_OK);
        assert_int_equal(cg_dataloader_len(dl), 2); /* 3 items in batches of 2 */
        assert_int_equal(epoch_items(dl, items, NULL, NULL), 3);
        assert_memory_equal(items, want2[r], sizeof want2[r]);
        cg_dataloader_free(dl);
    }
    for (int r = 0; r < 3; r++) {
        cg_dataloader *dl = loader(ds, 1, false, 0);
        assert_int_equal(cg_dataloader_shard(dl, r, 3, true, 1), CG_OK);
        assert_int_equal(epoch_items(dl, items, NULL, NULL), 2);
        assert_memory_equal(items, want3[r], sizeof want3[r]);
        cg_dataloader_free(dl);
    }
    cg_dataloader *dl = loader(ds, 4, false, 0);
    assert_int_equal(cg_dataloader_shard(dl, 1, 2, false, 4), CG_OK);
    assert_int_equal(epoch_items(dl, items, NULL, NULL), 2);
    assert_int_equal(items[0], 1);
    assert_int_equal(items[1], 3);
    cg_dataloader_free(dl);
    cg_dataset_release(ds);
}

/* Shuffled, over 3 epochs: across the ranks every item exactly once, plus the
 * padding (the epoch's first total-n permutation entries once more); each rank
 * the same number of items; the permutation is the one-process loader's. */
static void test_every_item_once_per_epoch(void **st) {
    (void)st;
    static const int64_t ns[] = {10, 11, 7, 1, 12396};
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int64_t n = ns[t];
        cg_dataset *ds = indexed(n);
        for (int world = 1; world <= 4; world++) {
            int64_t per = (n + world - 1) / world, total = per * world;
            cg_dataloader *ref = loader(ds, n, true, 42); /* one batch: the permutation */
            cg_dataloader *dl[4];
            for (int r = 0; r < world; r++) {
                dl[r] = loader(ds, 3, true, 42);
                assert_int_equal(cg_dataloader_shard(dl[r], r, world, true, 3), CG_OK);
                assert_int_equal(cg_dataloader_len(dl[r]), (per + 2) / 3);
            }
            int64_t *perm = malloc((size_t)n * sizeof *perm), *items = malloc((size_t)per * sizeof *items);
            int64_t *count = malloc((size_t)n * sizeof *count);
            for (int epoch = 0; epoch < 3; epoch++) {
                assert_int_equal(epoch_items(ref, perm, NULL, NULL), n);
                memset(count, 0, (size_t)n * sizeof *count);
                for (int r = 0; r < world; r++) {
                    assert_int_equal(epoch_items(dl[r], items, NULL, NULL), per);
                    for (int64_t j = 0; j < per; j++) {
                        assert_true(items[j] >= 0 && items[j] < n);
                        count[items[j]]++;
                    }
                }
                int64_t sum = 0;
                for (int64_t k = 0; k < n; k++) { /* padded[i] = perm[i % n], i < total */
                    int64_t want = total / n + (k < total % n ? 1 : 0);
                    assert_int_equal(count[perm[k]], want);
                    sum += count[perm[k]];
                }
                assert_int_equal(sum, total);
            }
            free(perm), free(items), free(count);
            for (int r = 0; r < world; r++) cg_dataloader_free(dl[r]);
            cg_dataloader_free(ref);
        }
        cg_dataset_release(ds);
    }
}

/* 2 ranks with bs 4 each: at every step the union of their batches is the
 * one-process loader's batch of 8 (n even: no padding), the last partial one
 * included (50 = 6*8 + 2: per rank 25 = 6*4 + 1). */
static void test_union_of_rank_batches_is_the_global_batch(void **st) {
    (void)st;
    cg_dataset *ds = indexed(50);
    cg_dataloader *one = loader(ds, 8, true, 7), *r0 = loader(ds, 4, true, 7), *r1 = loader(ds, 4, true, 7);
    assert_int_equal(cg_dataloader_shard(r0, 0, 2, true, 4), CG_OK);
    assert_int_equal(cg_dataloader_shard(r1, 1, 2, true, 4), CG_OK);
    for (int epoch = 0; epoch < 2; epoch++) {
        int64_t a[50], b[25], c[25], sa[8], sb[8], sc[8], na, nb, nc;
        assert_int_equal(epoch_items(one, a, sa, &na), 50);
        assert_int_equal(epoch_items(r0, b, sb, &nb), 25);
        assert_int_equal(epoch_items(r1, c, sc, &nc), 25);
        assert_int_equal(na, 7);
        assert_int_equal(nb, 7);
        assert_int_equal(nc, 7);
        for (int64_t k = 0, off = 0, offr = 0; k < 7; k++) {
            assert_int_equal(sa[k], sb[k] + sc[k]);
            /* the global batch k, item j of it: rank j%2, its item j/2 */
            for (int64_t j = 0; j < sa[k]; j++)
                assert_int_equal(a[off + j], j % 2 ? c[offr + j / 2] : b[offr + j / 2]);
            off += sa[k], offr += sb[k];
        }
    }
    cg_dataloader_free(one), cg_dataloader_free(r0), cg_dataloader_free(r1);
    cg_dataset_release(ds);
}

static void test_errors(void **st) {
    (void)st;
    cg_dataset *ds = indexed(6);
    cg_dataloader *dl = loader(ds, 2, true, 1);
    assert_int_equal(cg_dataloader_shard(dl, 2, 2, true, 1), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "rank 2 of 2"));
    assert_int_equal(cg_dataloader_shard(dl, 0, 2, true, 0), CG_ERR_VALUE);
    cg_tensor *xb, *yb;
    assert_int_equal(cg_dataloader_first(dl, &xb, &yb), CG_OK);
    cg_release(xb), cg_release(yb);
    assert_int_equal(cg_dataloader_shard(dl, 0, 2, true, 1), CG_ERR_STATE);
    assert_non_null(strstr(cg_last_error(), "before its first epoch"));
    cg_dataloader_free(dl);
    /* the global batch must split evenly over the ranks (1 rank here: 0 cannot) */
    cg_dataloaders *dls = cg_dataloaders_new(loader(ds, 2, true, 1), loader(ds, 2, false, 0));
    assert_int_equal(cg_dist_shard_loaders(dls, 0), CG_ERR_VALUE);
    assert_non_null(strstr(cg_last_error(), "multiple of the 1 ranks"));
    assert_int_equal(cg_dist_shard_loaders(dls, 3), CG_OK); /* 1 rank: the plain loaders, bs 3 */
    assert_int_equal(cg_dataloader_len(dls->train), 2);
    cg_dataloaders_free(dls);
    cg_dataset_release(ds);
}

/* Without cg_dist_init: one rank of one, and the callback refuses to start. */
static void test_not_started(void **st) {
    (void)st;
    assert_false(cg_dist_active());
    assert_int_equal(cg_dist_rank(), 0);
    assert_int_equal(cg_dist_size(), 1);
    cg_callback cb;
    assert_int_equal(cg_dist_callback(&cb), CG_ERR_STATE);
    if (!cg_dist_available()) {
        assert_int_equal(cg_dist_init(NULL, NULL), CG_ERR_VALUE);
        assert_non_null(strstr(cg_last_error(), "this cgrad was built without MPI"));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_worked_shards),
        cmocka_unit_test(test_every_item_once_per_epoch),
        cmocka_unit_test(test_union_of_rank_batches_is_the_global_batch),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_not_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
