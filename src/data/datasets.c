/* The registry of datasets cgrad knows by name, and what is checked of each.
 * See include/cgrad/datasets.h, "WHAT IS VERIFIED, PLAINLY".
 *
 * The archives' sizes and md5s are fastai's, from fastai/data/checks.txt
 * (in fastai's repository: the table fastai's untar_data checks downloads
 * against; read at commit 29be53d7ccaf7405320e2e47db8f35182abeff0a).  The
 * IDX files' md5s are the ones published with them (and in torchvision).
 *
 * The class-folder counts are MNIST's own label counts (LeCun et al.; the same
 * counts are listed in shared/data/PROVENANCE.md): mnist_sample holds all the
 * 3s and 7s of MNIST, and mnist_png all of MNIST, one folder per digit. */
#include "cgrad/datasets.h"

#include <stdio.h>
#include <string.h>

/* ---- mnist_sample: fastai's URLs.MNIST_SAMPLE --------------------------------- */
static const cg_dataset_file mnist_sample_files[] = {
    {"https://s3.amazonaws.com/fast-ai-sample/mnist_sample.tgz", "2dbc7ec6f9259b583af0072c55816a88", true, 3214948},
};
static const cg_dataset_count mnist_sample_counts[] = {
    {"train/3", ".png", 6131},
    {"train/7", ".png", 6265},
    {"valid/3", ".png", 1010},
    {"valid/7", ".png", 1028},
};

/* ---- mnist: the canonical IDX files, md5s as published with them ------------- */
#define OSSCI_MNIST "https://ossci-datasets.s3.amazonaws.com/mnist/"
static const cg_dataset_file mnist_files[] = {
    {OSSCI_MNIST "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", false, 9912422},
    {OSSCI_MNIST "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", false, 28881},
    {OSSCI_MNIST "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", false, 1648877},
    {OSSCI_MNIST "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", false, 4542},
};

/* ---- mnist_png: fastai's URLs.MNIST ------------------------------------------- */
static const cg_dataset_file mnist_png_files[] = {
    {"https://s3.amazonaws.com/fast-ai-imageclas/mnist_png.tgz", "03639f83c4e3d19e0a3a53a8a997c487", true, 15683414},
};
static const cg_dataset_count mnist_png_counts[] = {
    {"training/0", ".png", 5923}, {"training/1", ".png", 6742}, {"training/2", ".png", 5958},
    {"training/3", ".png", 6131}, {"training/4", ".png", 5842}, {"training/5", ".png", 5421},
    {"training/6", ".png", 5918}, {"training/7", ".png", 6265}, {"training/8", ".png", 5851},
    {"training/9", ".png", 5949},
    {"testing/0", ".png", 980},   {"testing/1", ".png", 1135},  {"testing/2", ".png", 1032},
    {"testing/3", ".png", 1010},  {"testing/4", ".png", 982},   {"testing/5", ".png", 892},
    {"testing/6", ".png", 958},   {"testing/7", ".png", 1028},  {"testing/8", ".png", 974},
    {"testing/9", ".png", 1009},
};

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const cg_dataset_info registry[] = {
    {"mnist_sample", "MNIST 3s and 7s as PNG folders (fastai URLs.MNIST_SAMPLE), chapter 4's data",
     mnist_sample_files, COUNT_OF(mnist_sample_files), mnist_sample_counts, COUNT_OF(mnist_sample_counts),
     "labels.csv", 14434},
    {"mnist", "the four MNIST IDX files, gzipped (LeCun et al.), md5-verified",
     mnist_files, COUNT_OF(mnist_files), NULL, 0, NULL, 0},
    {"mnist_png", "all of MNIST as PNG folders training/0-9, testing/0-9 (fastai URLs.MNIST)",
     mnist_png_files, COUNT_OF(mnist_png_files), mnist_png_counts, COUNT_OF(mnist_png_counts), NULL, 0},
};

int cg_dataset_count_known(void) { return COUNT_OF(registry); }

const cg_dataset_info *cg_dataset_at(int i) {
    if (i < 0 || i >= COUNT_OF(registry)) {
        cg_fail(CG_ERR_VALUE, "dataset index %d out of range [0, %d)", i, COUNT_OF(registry));
        return NULL;
    }
    return &registry[i];
}

const cg_dataset_info *cg_dataset_find(const char *name) {
    for (int i = 0; name && i < COUNT_OF(registry); i++)
        if (!strcmp(registry[i].name, name)) return &registry[i];
    char known[256] = "";
    for (int i = 0; i < COUNT_OF(registry); i++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", registry[i].name);
    }
    cg_fail(CG_ERR_VALUE, "unknown dataset '%s' (known: %s; or give an archive URL)", name ? name : "(null)", known);
    return NULL;
}
