/* learn.lr_find(): fastai's LRFinder callback (order 60) and its 'valley'
 * suggestion.  The lr grows exponentially from start_lr to end_lr over num_it
 * training batches (pos = train_iter / num_it, set before each batch); the
 * fit stops once num_it batches ran, or when the smoothed loss passes 4x the
 * best seen (stop_div).  Validation is skipped.  The weights are saved before
 * and restored after, so lr_find does not change the model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/ops.h"
#include "learner/learner_internal.h"

cg_lr_find_options cg_lr_find_defaults(void) {
    return (cg_lr_find_options){.start_lr = 1e-7, .end_lr = 10, .num_it = 100, .stop_div = true};
}

void cg_lr_find_result_free(cg_lr_find_result *r) {
    if (!r) return;
    free(r->lrs);
    free(r->losses);
    memset(r, 0, sizeof *r);
}

/* fastai's valley: lds[i] is the length of the longest decreasing subsequence
 * ending at i; the longest one overall runs from max_start to max_end, and
 * the suggestion sits at max_start + int(len/3) + int(len/6) — about halfway
 * down the steep part of it.  The scan is fastai's, including its quirk of
 * updating max_end inside the inner loop. */
int64_t cg_lr_valley(const double *lrs, const double *losses, int64_t n) {
    (void)lrs;
    if (n < 1) return -1;
    int64_t *lds = malloc((size_t)n * sizeof *lds);
    if (!lds) return -1;
    for (int64_t i = 0; i < n; i++) lds[i] = 1;
    int64_t max_start = 0, max_end = 0;
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = 0; j < i; j++) {
            if (losses[i] < losses[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
            if (lds[max_end] < lds[i]) {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    free(lds);
    double sections = (double)(max_end - max_start) / 3;
    int64_t idx = max_start + (int64_t)sections + (int64_t)(sections / 2);
    return idx < 0 ? 0 : idx >= n ? n - 1 : idx;
}

typedef struct lr_finder {
    cg_lr_find_options o;
    double best_loss;
} lr_finder;

static cg_cb_result before_fit(cg_learner *learn, void *state) {
    (void)learn;
    ((lr_finder *)state)->best_loss = INFINITY;
    return CG_CB_OK;
}

static cg_cb_result before_batch(cg_learner *learn, void *state) {
    lr_finder *f = state;
    if (!learn->training) return CG_CB_OK;
    double lr = cg_sched_exp(f->o.start_lr, f->o.end_lr, (double)learn->train_iter / f->o.num_it);
    return cg_optimizer_set_hyper(learn->opt, "lr", lr) == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

static cg_cb_result after_batch(cg_learner *learn, void *state) {
    lr_finder *f = state;
    if (!learn->training) return CG_CB_OK;
    double s = learn->smooth_loss;
    if (s < f->best_loss) f->best_loss = s;
    /* a non-finite loss means divergence too (fastai would go on with NaN
     * and drop those points afterwards; the weights are restored anyway) */
    if (f->o.stop_div && (s > 4 * f->best_loss || !isfinite(s))) return CG_CB_CANCEL_FIT;
    if (learn->train_iter >= f->o.num_it) return CG_CB_CANCEL_FIT;
    return CG_CB_OK;
}

static cg_cb_result before_validate(cg_learner *learn, void *state) {
    (void)learn, (void)state;
    return CG_CB_CANCEL_VALIDATE;
}

/* The bytes of every parameter and buffer (fastai's learn.save('_tmp')),
 * kept outside any tensor so that no scope the caller has open owns them. */
typedef struct weights_copy {
    cg_named_tensors sd;
    void **bytes;
} weights_copy;

static void weights_copy_free(weights_copy *w) {
    for (int i = 0; w->bytes && i < w->sd.n; i++) free(w->bytes[i]);
    free(w->bytes);
    cg_named_tensors_free(&w->sd);
}

static cg_status weights_save(cg_module *m, weights_copy *w) {
    cg_status st = cg_module_state_dict(m, &w->sd);
    if (st != CG_OK) return st;
    w->bytes = calloc((size_t)w->sd.n + 1, sizeof *w->bytes);
    if (!w->bytes) return cg_fail(CG_ERR_NOMEM, "lr_find: no memory to save the weights");
    for (int i = 0; i < w->sd.n; i++) {
        cg_tensor *t = w->sd.tensors[i];
        if (!cg_is_contiguous(t))
            return cg_fail(CG_ERR_STATE, "lr_find: weight '%s' is not contiguous", w->sd.names[i]);
        size_t size = (size_t)cg_numel(t) * cg_dtype_size(t->dtype);
        w->bytes[i] = malloc(size ? size : 1);
        if (!w->bytes[i]) return cg_fail(CG_ERR_NOMEM, "lr_find: no memory to save '%s'", w->sd.names[i]);
        memcpy(w->bytes[i], cg_data(t), size);
    }
    return CG_OK;
}

static void weights_restore(const weights_copy *w) {
    for (int i = 0; i < w->sd.n; i++) {
        cg_tensor *t = w->sd.tensors[i];
        memcpy(cg_data(t), w->bytes[i], (size_t)cg_numel(t) * cg_dtype_size(t->dtype));
    }
}

cg_status cg_learner_lr_find(cg_learner *learn, const cg_lr_find_options *opts,
                             cg_lr_find_result *out) {
    memset(out, 0, sizeof *out);
    cg_lr_find_options o = opts ? *opts : cg_lr_find_defaults();
    if (o.num_it < 6) o.num_it = 6; /* fastai's minimum */
    if (!(o.start_lr > 0) || !(o.end_lr > o.start_lr))
        return cg_fail(CG_ERR_VALUE, "lr_find: need 0 < start_lr < end_lr, got %g and %g",
                       o.start_lr, o.end_lr);
    if (!learn || !learn->dls || !learn->dls->train)
        return cg_fail(CG_ERR_VALUE, "lr_find: the learner needs a train DataLoader");
    int64_t n_batches = cg_dataloader_len(learn->dls->train);
    if (n_batches < 1) return cg_fail(CG_ERR_VALUE, "lr_find: the train DataLoader is empty");
    int n_epoch = (int)(o.num_it / n_batches + 1);

    cg_status st = cg_learner_create_opt(learn);
    if (st != CG_OK) return st;
    weights_copy saved = {0};
    st = weights_save(learn->model, &saved);
    if (st != CG_OK) {
        weights_copy_free(&saved);
        return st;
    }
    lr_finder *f = calloc(1, sizeof *f);
    if (!f) {
        weights_copy_free(&saved);
        return cg_fail(CG_ERR_NOMEM, "lr_find: no memory");
    }
    f->o = o;
    cg_callback cb = {.name = "lr_finder",
                      .order = 60,
                      .state = f,
                      .free_state = free,
                      .before_fit = before_fit,
                      .before_batch = before_batch,
                      .after_batch = after_batch,
                      .before_validate = before_validate};
    st = cg_learner_add_cb(learn, &cb); /* owns f from here, also on failure */
    if (st != CG_OK) {
        weights_copy_free(&saved);
        return st;
    }
    /* with self.no_logging(): self.fit(n_epoch, cbs=cb) */
    learn->logging = false;
    learn->nan_guard = false;
    st = cg_learner_fit(learn, n_epoch, learn->lr);
    learn->logging = true;
    learn->nan_guard = true;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", cg_last_error());
    cg_learner_remove_cb(learn, "lr_finder");
    /* learn.load('_tmp', with_opt=True): the weights as they were, a fresh optimizer state */
    weights_restore(&saved);
    weights_copy_free(&saved);
    cg_optimizer_zero_grad(learn->opt);
    cg_optimizer_reset_state(learn->opt);
    if (st != CG_OK) return cg_fail(st, "%s", msg);

    const cg_recorder *rec = learn->recorder;
    out->num_it = o.num_it;
    out->n = rec->n_losses;
    out->lrs = malloc((size_t)(out->n + 1) * sizeof *out->lrs);
    out->losses = malloc((size_t)(out->n + 1) * sizeof *out->losses);
    if (!out->lrs || !out->losses) {
        cg_lr_find_result_free(out);
        return cg_fail(CG_ERR_NOMEM, "lr_find: no memory for the results");
    }
    memcpy(out->lrs, rec->lrs, (size_t)out->n * sizeof *out->lrs);
    memcpy(out->losses, rec->losses, (size_t)out->n * sizeof *out->losses);

    /* the suggestion looks at lrs[num_it//10 : -5], cut at the first NaN */
    int64_t skip = o.num_it / 10, end = out->n - 5;
    for (int64_t i = skip; i < end; i++)
        if (isnan(out->losses[i])) {
            end = i;
            break;
        }
    if (end - skip < 2) {
        int64_t n = out->n;
        cg_lr_find_result_free(out);
        return cg_fail(CG_ERR_VALUE,
                       "lr_find: the loss diverged after %lld batches, too few to suggest a "
                       "learning rate (need more than %lld); try a lower start_lr",
                       (long long)n, (long long)(skip + 6));
    }
    int64_t idx = cg_lr_valley(out->lrs + skip, out->losses + skip, end - skip);
    out->valley_idx = skip + idx;
    out->valley = out->lrs[out->valley_idx];
    out->valley_loss = out->losses[out->valley_idx];
    return CG_OK;
}
