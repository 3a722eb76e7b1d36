/* fastai's ClassificationInterpretation (see interpretation.h): one pass of
 * the model over a DataLoader, per-item probabilities, targets and losses. */
#include "cgrad/interpretation.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/ops.h"
#include "cgrad/tensor.h"

void cg_interp_free(cg_interp *in) {
    if (!in) return;
    free(in->probs);
    free(in->preds);
    free(in->targets);
    free(in->losses);
    memset(in, 0, sizeof *in);
}

/* Room for n items of n_classes; CG_ERR_VALUE/NOMEM on overflow or failure. */
static cg_status grow(cg_interp *in, int64_t n, int64_t *cap) {
    if (n <= *cap) return CG_OK;
    int64_t c = *cap ? *cap : 256;
    while (c < n) {
        if (c > INT64_MAX / 2) return cg_fail(CG_ERR_VALUE, "interpretation: %lld items", (long long)n);
        c *= 2;
    }
    if ((uint64_t)c > SIZE_MAX / sizeof(double) / (uint64_t)in->n_classes)
        return cg_fail(CG_ERR_NOMEM, "interpretation: %lld items of %lld classes", (long long)c,
                       (long long)in->n_classes);
    float *p = realloc(in->probs, (size_t)c * (size_t)in->n_classes * sizeof *p);
    if (p) in->probs = p;
    int64_t *pr = realloc(in->preds, (size_t)c * sizeof *pr);
    if (pr) in->preds = pr;
    int64_t *t = realloc(in->targets, (size_t)c * sizeof *t);
    if (t) in->targets = t;
    double *l = realloc(in->losses, (size_t)c * sizeof *l);
    if (l) in->losses = l;
    if (!p || !pr || !t || !l)
        return cg_fail(CG_ERR_NOMEM, "interpretation: no memory for %lld items", (long long)c);
    *cap = c;
    return CG_OK;
}

static int64_t argmax(const float *p, int64_t c) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; j++)
        if (p[j] > p[best]) best = j;
    return best;
}

/* One batch: pred [B, C] (or [B] / [B,1] for one output), yb [B] or [B,1]. */
static cg_status add_batch(cg_interp *in, int64_t *cap, const cg_loss *loss, cg_tensor *pred,
                           cg_tensor *yb) {
    int64_t b = yb->ndim ? yb->shape[0] : 1;
    int64_t outs = pred->ndim >= 2 ? pred->shape[1] : 1;
    if (pred->ndim < 1 || pred->shape[0] != b || (pred->ndim > 2) || (yb->ndim > 1 && cg_numel(yb) != b))
        return cg_fail(CG_ERR_SHAPE, "interpretation: model output and targets disagree on the batch (%lld vs %lld items)",
                       (long long)(pred->ndim ? pred->shape[0] : 0), (long long)b);
    int64_t c = outs == 1 ? 2 : outs;
    if (in->n_classes == 0) in->n_classes = c;
    if (in->n_classes != c)
        return cg_fail(CG_ERR_SHAPE, "interpretation: %lld outputs after %lld", (long long)c,
                       (long long)in->n_classes);
    cg_status st = grow(in, in->n + b, cap);
    if (st != CG_OK) return st;
    cg_tensor *act = loss->activation ? loss->activation(pred) : pred;
    cg_tensor *p32 = act ? cg_contiguous(cg_to_dtype(cg_reshape(act, CG_SHAPE(b, outs)), CG_FLOAT32)) : NULL;
    cg_tensor *y = cg_contiguous(cg_reshape(yb, CG_SHAPE(b)));
    if (!p32 || !y) return cg_last_status();
    const float *pp = cg_data(p32);
    for (int64_t i = 0; i < b; i++) {
        int64_t at = in->n + i;
        float *dst = in->probs + at * c;
        if (outs == 1) dst[0] = 1 - pp[i], dst[1] = pp[i];
        else memcpy(dst, pp + i * outs, (size_t)outs * sizeof *dst);
        in->preds[at] = outs == 1 ? (pp[i] > 0.5f) : argmax(dst, c);
        double t = cg_get(y, (int64_t[]){i});
        if (!(t >= 0 && t < (double)c && t == floor(t)))
            return cg_fail(CG_ERR_VALUE, "interpretation: item %lld has target %g, not a class in 0..%lld",
                           (long long)at, t, (long long)(c - 1));
        in->targets[at] = (int64_t)t;
        /* the item's own loss: the loss of a batch of one */
        cg_tensor *li = loss->fn(cg_slice(pred, 0, i, i + 1, 1), cg_slice(yb, 0, i, i + 1, 1));
        double v;
        if (!li || cg_item(li, &v) != CG_OK) return cg_last_status();
        in->losses[at] = v;
    }
    in->n += b;
    return CG_OK;
}

cg_status cg_interp_from_model(cg_module *model, cg_dataloader *dl, const cg_loss *loss,
                               cg_interp *out) {
    memset(out, 0, sizeof *out);
    if (!model || !dl || !loss || !loss->fn)
        return cg_fail(CG_ERR_VALUE, "interpretation: needs a model, a DataLoader and a loss");
    bool was_training = model->training;
    cg_module_eval(model);
    cg_no_grad_begin();
    int64_t cap = 0;
    cg_status st = cg_dataloader_reset(dl);
    for (;;) {
        if (st != CG_OK) break;
        cg_scope_begin();
        cg_tensor *xb, *yb;
        if (!cg_dataloader_next(dl, &xb, &yb)) {
            cg_scope_end();
            st = cg_dataloader_status(dl);
            break;
        }
        cg_tensor *pred = cg_module_forward(model, xb);
        st = pred ? add_batch(out, &cap, loss, pred, yb) : cg_last_status();
        cg_scope_end();
    }
    cg_no_grad_end();
    cg_module_train(model, was_training);
    if (st != CG_OK) cg_interp_free(out);
    return st;
}

cg_status cg_interp_from_arrays(int64_t n, int64_t n_classes, const float *probs,
                                const int64_t *targets, const double *losses, cg_interp *out) {
    memset(out, 0, sizeof *out);
    if (n < 0 || n_classes < 1 || (n > 0 && (!probs || !targets || !losses)))
        return cg_fail(CG_ERR_VALUE, "interpretation: %lld items of %lld classes", (long long)n,
                       (long long)n_classes);
    out->n_classes = n_classes;
    int64_t cap = 0;
    cg_status st = grow(out, n, &cap);
    for (int64_t i = 0; st == CG_OK && i < n; i++) {
        if (targets[i] < 0 || targets[i] >= n_classes) {
            st = cg_fail(CG_ERR_VALUE, "interpretation: item %lld has target %lld, not a class in 0..%lld",
                         (long long)i, (long long)targets[i], (long long)(n_classes - 1));
            break;
        }
        memcpy(out->probs + i * n_classes, probs + i * n_classes, (size_t)n_classes * sizeof *probs);
        out->preds[i] = argmax(probs + i * n_classes, n_classes);
        out->targets[i] = targets[i];
        out->losses[i] = losses[i];
    }
    out->n = st == CG_OK ? n : 0;
    if (st != CG_OK) cg_interp_free(out);
    return st;
}

double cg_interp_accuracy(const cg_interp *in) {
    int64_t right = 0;
    for (int64_t i = 0; i < in->n; i++) right += in->preds[i] == in->targets[i];
    return in->n ? (double)right / (double)in->n : 0;
}

double cg_interp_mean_loss(const cg_interp *in) {
    double s = 0;
    for (int64_t i = 0; i < in->n; i++) s += in->losses[i];
    return in->n ? s / (double)in->n : 0;
}

cg_status cg_interp_confusion_matrix(const cg_interp *in, int64_t *cm) {
    if (!in || !cm) return cg_fail(CG_ERR_VALUE, "confusion_matrix: NULL argument");
    memset(cm, 0, (size_t)(in->n_classes * in->n_classes) * sizeof *cm);
    for (int64_t i = 0; i < in->n; i++) cm[in->targets[i] * in->n_classes + in->preds[i]]++;
    return CG_OK;
}

/* qsort's order for top_losses: larger loss first, then lower index; a NaN
 * loss counts as the largest (it is the item most worth a look). */
typedef struct ranked {
    double loss;
    int64_t i;
} ranked;

static int by_loss(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    bool nx = isnan(x->loss), ny = isnan(y->loss);
    if (nx != ny) return nx ? -1 : 1;
    if (!nx && x->loss != y->loss) return x->loss > y->loss ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int64_t cg_interp_top_losses(const cg_interp *in, int64_t k, int64_t *idx) {
    if (!in || !idx || k <= 0 || in->n == 0) return 0;
    if (k > in->n) k = in->n;
    /* a full sort of n items is simple, and n is a valid set (thousands) */
    ranked *all = malloc((size_t)in->n * sizeof *all);
    if (!all) {
        cg_fail(CG_ERR_NOMEM, "top_losses: no memory for %lld items", (long long)in->n);
        return 0;
    }
    for (int64_t i = 0; i < in->n; i++) all[i] = (ranked){in->losses[i], i};
    qsort(all, (size_t)in->n, sizeof *all, by_loss);
    for (int64_t j = 0; j < k; j++) idx[j] = all[j].i;
    free(all);
    return k;
}
