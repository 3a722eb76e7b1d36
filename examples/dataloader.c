/* fastbook chapter 4, "Stochastic Gradient Descent" -> DataLoader cells and
 * "Putting It All Together", cell by cell.  Each block starts with the Python
 * it reproduces.
 *
 * The shuffles are PyTorch's: after torch.manual_seed(0) (cg_manual_seed(0)
 * here), PyTorch's DataLoader(range(15), batch_size=5, shuffle=True) gives the
 * same three batches as this program.  (fastai's own DataLoader shuffles with
 * Python's random module, so the book's printout differs batch for batch.)
 * Prints, for instance:
 *
 *     [tensor([ 6,  2,  1,  5, 13]), tensor([ 0,  3, 12, 10,  4]), tensor([11,  8, 14,  7,  9])]
 *     (#26) [(0, 'a'),(1, 'b'),(2, 'c'),...]
 *     [(tensor([...]), ('r', 's', ...)), ...]
 *     (torch.Size([256, 784]), torch.Size([256, 1]))
 *
 * then how long the loader takes per epoch over the chapter's 12,396 training
 * images, in order and shuffled, with 0 and 2 worker threads.
 *
 * Build: it is built with the project (build/examples/dataloader). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cgrad.h"

static int failed(void) {
    fprintf(stderr, "dataloader: %s\n", cg_last_error());
    cg_scope_end();
    cg_pool_trim();
    return 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_tensor(const cg_tensor *t) {
    char *s = cg_format(t);
    printf("%s", s ? s : "?");
    free(s);
}

/* Python's tuple of one-character strings: ('r', 's', 'k') */
static void print_letters(const cg_tensor *codes) {
    const uint8_t *c = cg_data(codes);
    printf("(");
    for (int64_t i = 0; i < codes->shape[0]; i++) printf("%s'%c'", i ? ", " : "", c[i]);
    printf(codes->shape[0] == 1 ? ",)" : ")");
}

/* torch.stack([tensor(Image.open(o)) for o in (path/folder).ls().sorted()]).float()/255 */
static cg_tensor *stack_folder(const char *root, const char *folder) {
    char *dir = cg_path_join(root, folder);
    cg_strlist files = {0};
    cg_tensor *t = NULL;
    if (dir && cg_ls(dir, &files) == CG_OK) t = cg_div_s(cg_float(cg_png_read_many(&files, 0)), 255);
    cg_strlist_free(&files);
    free(dir);
    return t;
}

/* train_x = torch.cat([stacked_threes, stacked_sevens]).view(-1, 28*28)
 * train_y = tensor([1]*len(threes) + [0]*len(sevens)).unsqueeze(1) */
static cg_status xy_of(const char *path, const char *split, cg_tensor **x, cg_tensor **y) {
    char d3[64], d7[64];
    snprintf(d3, sizeof d3, "%s/3", split);
    snprintf(d7, sizeof d7, "%s/7", split);
    cg_tensor *threes = stack_folder(path, d3), *sevens = stack_folder(path, d7);
    if (!threes || !sevens) return cg_last_status();
    *x = cg_view(cg_cat((cg_tensor *[]){threes, sevens}, 2, 0), CG_SHAPE(-1, 28 * 28));
    *y = cg_unsqueeze(cg_cat((cg_tensor *[]){cg_ones(CG_FLOAT32, CG_SHAPE(threes->shape[0])),
                                            cg_zeros(CG_FLOAT32, CG_SHAPE(sevens->shape[0]))},
                             2, 0),
                      1);
    return *x && *y ? CG_OK : cg_last_status();
}

/* Seconds per epoch of iterating dl (best of `epochs`), touching each batch. */
static double time_epoch(cg_dataloader *dl, int epochs, double *checksum) {
    double best = 1e9;
    for (int e = 0; e < epochs; e++) {
        double t0 = now_s();
        cg_tensor *xb, *yb;
        for (;;) { /* one scope per batch: the batch dies at its end */
            cg_scope_begin();
            bool more = cg_dataloader_next(dl, &xb, &yb);
            if (more) *checksum += cg_data_f32(xb)[0];
            cg_scope_end();
            if (!more) break;
        }
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

int main(void) {
    cg_scope_begin(); /* every tensor below dies at cg_scope_end() */
    cg_manual_seed(0);

    /* coll = range(15)
     * dl = DataLoader(coll, batch_size=5, shuffle=True)
     * list(dl) */
    cg_dataset *coll = cg_dataset_range(15);
    cg_dataloader *dl = cg_dataloader_new(coll, &(cg_dataloader_options){.batch_size = 5, .shuffle = true});
    cg_dataset_release(coll);
    if (!dl) return failed();
    cg_tensor *xb, *yb;
    printf("[");
    for (int b = 0; cg_dataloader_next(dl, &xb, &yb); b++) {
        printf("%s", b ? ", " : "");
        print_tensor(xb);
    }
    printf("]\n");
    cg_dataloader_free(dl);

    /* ds = L(enumerate(string.ascii_lowercase))
     * ds */
    int64_t index[26];
    uint8_t letters[26];
    for (int i = 0; i < 26; i++) {
        index[i] = i;
        letters[i] = (uint8_t)('a' + i);
    }
    cg_dataset *ds = cg_dataset_from_tensors(cg_from_data(CG_INT64, CG_SHAPE(26), index),
                                             cg_from_data(CG_UINT8, CG_SHAPE(26), letters));
    if (!ds) return failed();
    printf("(#%lld) [", (long long)cg_dataset_len(ds));
    for (int64_t i = 0; i < 10; i++) printf("%s(%lld, '%c')", i ? "," : "", (long long)i, 'a' + (int)i);
    printf("...]\n");

    /* dl = DataLoader(ds, batch_size=6, shuffle=True)
     * list(dl) */
    dl = cg_dataloader_new(ds, &(cg_dataloader_options){.batch_size = 6, .shuffle = true});
    cg_dataset_release(ds);
    if (!dl) return failed();
    printf("[");
    for (int b = 0; cg_dataloader_next(dl, &xb, &yb); b++) {
        printf("%s(", b ? ",\n " : "");
        print_tensor(xb);
        printf(", ");
        print_letters(yb);
        printf(")");
    }
    printf("]\n");
    cg_dataloader_free(dl);

    /* path = untar_data(URLs.MNIST_SAMPLE); train_x, train_y, valid_x, valid_y as in the chapter */
    char path[4096];
    if (cg_untar_data("mnist_sample", path, sizeof path) != CG_OK) return failed();
    cg_tensor *train_x, *train_y, *valid_x, *valid_y;
    if (xy_of(path, "train", &train_x, &train_y) != CG_OK ||
        xy_of(path, "valid", &valid_x, &valid_y) != CG_OK)
        return failed();

    /* dset = list(zip(train_x,train_y))
     * dl = DataLoader(dset, batch_size=256)
     * xb,yb = first(dl)
     * xb.shape,yb.shape */
    cg_dataset *dset = cg_dataset_from_tensors(train_x, train_y);
    cg_dataset *valid_dset = cg_dataset_from_tensors(valid_x, valid_y);
    dl = cg_dataloader_new(dset, &(cg_dataloader_options){.batch_size = 256});
    if (!dl || !valid_dset) return failed();
    if (cg_dataloader_first(dl, &xb, &yb) != CG_OK) return failed();
    char s1[64], s2[64];
    printf("(torch.Size(%s), torch.Size(%s))\n", cg_shape_str(xb, s1, sizeof s1),
           cg_shape_str(yb, s2, sizeof s2));

    /* valid_dl = DataLoader(valid_dset, batch_size=256)
     * dls = DataLoaders(dl, valid_dl) */
    cg_dataloader *valid_dl = cg_dataloader_new(valid_dset, &(cg_dataloader_options){.batch_size = 256});
    cg_dataloaders *dls = cg_dataloaders_new(dl, valid_dl);
    if (!dls) return failed();
    printf("len(dls.train) = %lld batches, len(dls.valid) = %lld batches\n",
           (long long)cg_dataloader_len(dls->train), (long long)cg_dataloader_len(dls->valid));

    /* What the loader costs per epoch of the chapter's training set. */
    double checksum = 0;
    printf("loader time per epoch over %lld x 784 floats, batch 256 (best of 5):\n",
           (long long)cg_dataset_len(dset));
    for (int shuffle = 0; shuffle < 2; shuffle++)
        for (int workers = 0; workers <= 2; workers += 2) {
            cg_dataloader *t = cg_dataloader_new(dset, &(cg_dataloader_options){
                .batch_size = 256, .shuffle = shuffle, .num_workers = workers, .seeded = true});
            if (!t) return failed();
            double sec = time_epoch(t, 5, &checksum);
            printf("  %-9s num_workers=%d: %8.3f ms\n", shuffle ? "shuffled" : "in order", workers, 1e3 * sec);
            cg_dataloader_free(t);
        }
    cg_dataloaders_free(dls);
    cg_dataset_release(dset);
    cg_dataset_release(valid_dset);
    cg_scope_end();
    cg_pool_trim();
    return checksum >= 0 ? 0 : 1;
}
