/* The DataLoader: batches of a dataset, in order or shuffled, made on the
 * calling thread or ahead of it by worker threads.  See include/cgrad/dataloader.h.
 *
 * HOW THE WORKERS WORK.  An epoch is a list of batches 0..len-1 over a fixed
 * order of the items (the identity, or a permutation drawn at the epoch's
 * start).  Workers claim batch numbers in increasing order under one mutex, make
 * each batch with no lock held (decoding, gathering, collating), and put batch b
 * in ring slot b % nslots.  The training thread takes batch `delivered` from its
 * slot, so batches come out in order whatever the number of workers and however
 * long each takes.  A worker may claim batch b only when b < delivered + nslots:
 * then slot b % nslots is free (its previous batch, b - nslots, has been taken),
 * and at most nslots batches wait in memory.
 *
 * Workers live for one epoch (PyTorch's persistent_workers=False): started by
 * the first next() of the epoch, joined when the epoch ends, is reset or the
 * loader is freed.  Stopping early sets `stop`; a worker finishes the batch it
 * is making, stores it, and exits; then the queued batches are released.
 *
 * OWNERSHIP.  A worker has no scope open, so the batches it makes are plain
 * references; next() hands them to the caller's scope with cg_scope_adopt.  A
 * worker's error message (errors are per thread) travels in the slot and is
 * raised again on the training thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/dataloader.h"
#include "cgrad/random.h"
#include "core/shape_check.h"

#define MAX_WORKERS 256

typedef struct batch_slot {
    int64_t batch; /* the batch it holds, or -1 when empty */
    cg_tensor *xb, *yb;
    cg_status status;
    char message[1024];
} batch_slot;

struct cg_dataloader {
    cg_dataset *ds;
    cg_dataloader_options opts;
    int64_t n, nbatches;
    cg_generator gen; /* the shuffle's own generator */
    int64_t *order;   /* item order of the current epoch, n entries */
    /* cg_dataloader_shard: this rank's items of order, n_draw of them (draw
     * points at order, or at shard_items when sharded) */
    int shard_rank, shard_world;
    bool shard_pad;
    int64_t n_draw, *draw, *shard_items;
    int64_t epoch;
    bool in_epoch;
    int64_t delivered; /* batches handed out in this epoch */
    cg_status status;

    /* Workers: only when opts.num_workers > 0, alive during an epoch. */
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t lock;
    pthread_cond_t ready; /* a slot was filled */
    pthread_cond_t space; /* a slot was emptied, or stop was set */
    batch_slot *slots;
    int nslots;
    int64_t claimed; /* next batch a worker will make */
    bool stop;
};

cg_dataloader_options cg_dataloader_defaults(void) {
    return (cg_dataloader_options){.batch_size = 64};
}

/* ---- making one batch ----------------------------------------------------- */

/* Batch b of the epoch: items order[b*bs .. min((b+1)*bs, n) - 1]. */
static cg_status make_batch(cg_dataloader *dl, int64_t b, cg_tensor **xb, cg_tensor **yb) {
    int64_t bs = dl->opts.batch_size, start = b * bs;
    int64_t count = dl->n_draw - start < bs ? dl->n_draw - start : bs;
    return cg_dataset_batch(dl->ds, dl->draw + start, count, xb, yb);
}

static void *worker_main(void *arg) {
    cg_dataloader *dl = arg;
    pthread_mutex_lock(&dl->lock);
    while (!dl->stop && dl->claimed < dl->nbatches) {
        if (dl->claimed >= dl->delivered + dl->nslots) { /* queue full: wait for the consumer */
            pthread_cond_wait(&dl->space, &dl->lock);
            continue;
        }
        int64_t b = dl->claimed++;
        pthread_mutex_unlock(&dl->lock);

        cg_tensor *xb = NULL, *yb = NULL;
        cg_status st = make_batch(dl, b, &xb, &yb);

        pthread_mutex_lock(&dl->lock);
        batch_slot *s = &dl->slots[b % dl->nslots];
        s->batch = b;
        s->xb = xb;
        s->yb = yb;
        s->status = st;
        if (st != CG_OK) snprintf(s->message, sizeof s->message, "%s", cg_last_error());
        pthread_cond_broadcast(&dl->ready);
    }
    pthread_mutex_unlock(&dl->lock);
    return NULL;
}

/* ---- epochs --------------------------------------------------------------- */

/* Stops and joins the workers, then releases every batch still queued. */
static void stop_workers(cg_dataloader *dl) {
    if (dl->nthreads > 0) {
        pthread_mutex_lock(&dl->lock);
        dl->stop = true;
        pthread_cond_broadcast(&dl->space);
        pthread_mutex_unlock(&dl->lock);
        for (int i = 0; i < dl->nthreads; i++) pthread_join(dl->threads[i], NULL);
        dl->nthreads = 0;
    }
    for (int i = 0; i < dl->nslots; i++) {
        batch_slot *s = &dl->slots[i];
        if (s->batch < 0) continue;
        cg_release(s->xb); /* made with no scope open: ours to release */
        cg_release(s->yb);
        *s = (batch_slot){.batch = -1};
    }
}

static void end_epoch(cg_dataloader *dl) {
    stop_workers(dl);
    dl->in_epoch = false;
}

/* torch.empty((), dtype=torch.int64).random_(generator=g): two 32-bit draws,
 * high word first, folded to 63 bits. */
static uint64_t draw_int64(cg_generator *g) {
    uint64_t hi = cg_generator_u32(g), lo = cg_generator_u32(g);
    return ((hi << 32) | lo) & (UINT64_MAX >> 1);
}

/* randperm(n, generator=g) into order (or discarded when order is NULL). */
static cg_status draw_permutation(cg_generator *g, int64_t n, int64_t *order) {
    cg_scope_begin();
    cg_tensor *perm = cg_randperm(g, n);
    cg_status st = perm ? CG_OK : cg_last_status();
    if (perm && (perm->dtype != CG_INT64 || cg_numel(perm) != n || !cg_is_contiguous(perm)))
        st = cg_fail(CG_ERR_STATE, "dataloader: randperm(%lld) gave an unexpected tensor", (long long)n);
    if (st == CG_OK && order) memcpy(order, cg_data(perm), (size_t)n * sizeof *order);
    cg_scope_end();
    return st;
}

/* The item order of a new epoch, drawn exactly as PyTorch's DataLoader draws
 * it, so that the same seeds give the same batches and leave the generators in
 * the same state:
 *   - every iteration (`for b in dl`, first(dl)) draws an int64 base seed for
 *     its workers from the loader's generator, or from the default generator
 *     when it has none (fastai's DataLoader goes through the same code: an
 *     unshuffled loader advances torch's default generator by one draw per epoch);
 *   - RandomSampler with a generator yields randperm(n, generator=g) and then
 *     draws one more randperm(n) for its remainder (empty when n divides
 *     num_samples, drawn all the same);
 *   - without one, it seeds a fresh generator with an int64 drawn from the
 *     default generator and takes randperm(n) from that. */
static cg_status draw_order(cg_dataloader *dl) {
    cg_generator *base = dl->opts.seeded ? &dl->gen : cg_default_generator();
    (void)draw_int64(base); /* _BaseDataLoaderIter's _base_seed */
    if (!dl->opts.shuffle) {
        for (int64_t i = 0; i < dl->n; i++) dl->order[i] = i;
        return CG_OK;
    }
    if (dl->opts.seeded) {
        cg_status st = draw_permutation(&dl->gen, dl->n, dl->order);
        return st == CG_OK ? draw_permutation(&dl->gen, dl->n, NULL) : st;
    }
    cg_generator local;
    cg_generator_init(&local, draw_int64(cg_default_generator()));
    return draw_permutation(&local, dl->n, dl->order);
}

static cg_status start_epoch(cg_dataloader *dl) {
    end_epoch(dl);
    dl->status = CG_OK;
    dl->delivered = 0;
    dl->claimed = 0;
    dl->stop = false;
    cg_status st = draw_order(dl);
    if (st != CG_OK) return st;
    if (dl->shard_items) /* DistributedSampler: padded[i] = order[i % n], take [rank::world] */
        for (int64_t j = 0; j < dl->n_draw; j++)
            dl->shard_items[j] = dl->order[(dl->shard_rank + j * (int64_t)dl->shard_world) % dl->n];
    dl->epoch++;
    dl->in_epoch = true;
    int want = dl->opts.num_workers;
    if (want > dl->nbatches) want = (int)dl->nbatches;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&dl->threads[i], NULL, worker_main, dl) != 0) break;
        dl->nthreads++; /* if no thread starts at all, batches are made inline */
    }
    return CG_OK;
}

cg_status cg_dataloader_reset(cg_dataloader *dl) {
    if (!dl) return cg_fail(CG_ERR_VALUE, "dataloader: NULL loader");
    cg_status st = start_epoch(dl);
    dl->status = st;
    return st;
}

/* Takes batch `delivered` from the workers' queue (waiting for it). */
static cg_status take_queued(cg_dataloader *dl, cg_tensor **xb, cg_tensor **yb) {
    pthread_mutex_lock(&dl->lock);
    batch_slot *s = &dl->slots[dl->delivered % dl->nslots];
    while (s->batch != dl->delivered) pthread_cond_wait(&dl->ready, &dl->lock);
    cg_status st = s->status;
    *xb = s->xb;
    *yb = s->yb;
    if (st != CG_OK) cg_fail(st, "%s", s->message); /* the worker's message, on this thread */
    *s = (batch_slot){.batch = -1};
    dl->delivered++;
    pthread_cond_broadcast(&dl->space);
    pthread_mutex_unlock(&dl->lock);
    cg_scope_adopt(*xb); /* made on a worker: now owned by the caller's scope */
    cg_scope_adopt(*yb);
    return st;
}

bool cg_dataloader_next(cg_dataloader *dl, cg_tensor **xb, cg_tensor **yb) {
    if (xb) *xb = NULL;
    if (yb) *yb = NULL;
    if (!dl || !xb || !yb) {
        cg_fail(CG_ERR_VALUE, "dataloader: NULL argument to cg_dataloader_next");
        if (dl) dl->status = CG_ERR_VALUE;
        return false;
    }
    if (!dl->in_epoch) {
        cg_status st = start_epoch(dl);
        if (st != CG_OK) {
            dl->status = st;
            return false;
        }
    }
    if (dl->delivered >= dl->nbatches) { /* the end of the epoch */
        end_epoch(dl);
        return false;
    }
    cg_status st;
    if (dl->nthreads > 0) {
        st = take_queued(dl, xb, yb);
    } else {
        st = make_batch(dl, dl->delivered, xb, yb); /* already in the caller's scope */
        dl->delivered++;
    }
    if (st != CG_OK) {
        dl->status = st;
        end_epoch(dl);
        return false;
    }
    return true;
}

cg_status cg_dataloader_status(const cg_dataloader *dl) { return dl ? dl->status : CG_ERR_VALUE; }

cg_status cg_dataloader_first(cg_dataloader *dl, cg_tensor **xb, cg_tensor **yb) {
    if (xb) *xb = NULL;
    if (yb) *yb = NULL;
    if (!dl || !xb || !yb) return cg_fail(CG_ERR_VALUE, "dataloader: NULL argument to first()");
    cg_status st = start_epoch(dl);
    if (st != CG_OK) return dl->status = st;
    if (!cg_dataloader_next(dl, xb, yb)) {
        if (dl->status != CG_OK) return dl->status;
        return dl->status = cg_fail(CG_ERR_VALUE,
                                    "dataloader: first() of an empty loader (%lld items, batch_size "
                                    "%lld%s)", (long long)dl->n, (long long)dl->opts.batch_size,
                                    dl->opts.drop_last ? ", drop_last" : "");
    }
    end_epoch(dl); /* first(dl) abandons the rest of the epoch */
    return CG_OK;
}

/* ---- creation and queries ------------------------------------------------- */

cg_dataloader *cg_dataloader_new(cg_dataset *ds, const cg_dataloader_options *opts) {
    if (!ds) {
        if (cg_last_status() == CG_OK) cg_fail(CG_ERR_VALUE, "dataloader: dataset is NULL");
        return NULL;
    }
    cg_dataloader_options o = opts ? *opts : cg_dataloader_defaults();
    if (o.batch_size < 1) {
        cg_fail(CG_ERR_VALUE, "dataloader: batch_size must be >= 1, got %lld", (long long)o.batch_size);
        return NULL;
    }
    if (o.num_workers < 0 || o.num_workers > MAX_WORKERS) {
        cg_fail(CG_ERR_VALUE, "dataloader: num_workers must be between 0 and %d, got %d", MAX_WORKERS,
                o.num_workers);
        return NULL;
    }
    if (o.prefetch_factor < 0 || o.prefetch_factor > 1024) {
        cg_fail(CG_ERR_VALUE, "dataloader: prefetch_factor must be between 0 and 1024, got %d",
                o.prefetch_factor);
        return NULL;
    }
    if (o.prefetch_factor == 0) o.prefetch_factor = 2;
    int64_t n = cg_dataset_len(ds);
    if (n < 0) {
        cg_fail(CG_ERR_VALUE, "dataloader: dataset (%s) reports a negative length %lld",
                cg_dataset_kind(ds), (long long)n);
        return NULL;
    }
    cg_dataloader *dl = calloc(1, sizeof *dl);
    if (!dl) goto nomem;
    dl->opts = o;
    dl->n = n;
    dl->n_draw = n;
    /* (n + bs - 1) / bs would overflow for a batch size near INT64_MAX; this
     * cannot, and b * bs < n for every batch b, so make_batch cannot either. */
    dl->nbatches = o.drop_last ? n / o.batch_size : n == 0 ? 0 : (n - 1) / o.batch_size + 1;
    size_t order_bytes;
    if (!cg_mul_overflow_size((size_t)(n ? n : 1), sizeof *dl->order, &order_bytes)) goto nomem;
    dl->order = malloc(order_bytes);
    if (!dl->order) goto nomem;
    dl->draw = dl->order;
    if (o.num_workers > 0) {
        dl->nslots = o.num_workers * o.prefetch_factor;
        dl->threads = calloc((size_t)o.num_workers, sizeof *dl->threads);
        dl->slots = calloc((size_t)dl->nslots, sizeof *dl->slots);
        if (!dl->threads || !dl->slots) goto nomem;
        for (int i = 0; i < dl->nslots; i++) dl->slots[i].batch = -1;
    }
    pthread_mutex_init(&dl->lock, NULL);
    pthread_cond_init(&dl->ready, NULL);
    pthread_cond_init(&dl->space, NULL);
    cg_generator_init(&dl->gen, o.seed); /* used only when seeded */
    dl->ds = cg_dataset_retain(ds);
    return dl;
nomem:
    if (dl) {
        free(dl->order);
        free(dl->threads);
        free(dl->slots);
        free(dl);
    }
    cg_fail(CG_ERR_NOMEM, "dataloader: out of memory for %lld items", (long long)n);
    return NULL;
}

void cg_dataloader_free(cg_dataloader *dl) {
    if (!dl) return;
    end_epoch(dl);
    pthread_mutex_destroy(&dl->lock);
    pthread_cond_destroy(&dl->ready);
    pthread_cond_destroy(&dl->space);
    cg_dataset_release(dl->ds);
    free(dl->order);
    free(dl->shard_items);
    free(dl->threads);
    free(dl->slots);
    free(dl);
}

cg_status cg_dataloader_shard(cg_dataloader *dl, int rank, int world, bool pad, int64_t batch_size) {
    if (!dl) return cg_fail(CG_ERR_VALUE, "dataloader: NULL loader");
    if (world < 1 || rank < 0 || rank >= world)
        return cg_fail(CG_ERR_VALUE, "dataloader: shard rank %d of %d is out of range", rank, world);
    if (batch_size < 1)
        return cg_fail(CG_ERR_VALUE, "dataloader: batch_size must be >= 1, got %lld", (long long)batch_size);
    if (dl->epoch > 0 || dl->in_epoch || dl->shard_items)
        return cg_fail(CG_ERR_STATE, "dataloader: a loader is sharded once, before its first epoch");
    int64_t n = dl->n, n_draw = pad ? (n == 0 ? 0 : (n - 1) / world + 1)   /* ceil(n/world) */
                                    : (n > rank ? (n - rank - 1) / world + 1 : 0);
    if (world > 1) {
        int64_t *items = malloc((size_t)(n_draw ? n_draw : 1) * sizeof *items); /* n_draw <= n */
        if (!items) return cg_fail(CG_ERR_NOMEM, "dataloader: out of memory for a shard of %lld items",
                                   (long long)n_draw);
        dl->shard_items = dl->draw = items;
    }
    dl->shard_rank = rank, dl->shard_world = world, dl->shard_pad = pad;
    dl->n_draw = n_draw;
    dl->opts.batch_size = batch_size;
    dl->nbatches = dl->opts.drop_last ? n_draw / batch_size : n_draw == 0 ? 0 : (n_draw - 1) / batch_size + 1;
    return CG_OK;
}

int64_t cg_dataloader_len(const cg_dataloader *dl) { return dl ? dl->nbatches : 0; }
int64_t cg_dataloader_n(const cg_dataloader *dl) { return dl ? dl->n : 0; }
int64_t cg_dataloader_batch_size(const cg_dataloader *dl) { return dl ? dl->opts.batch_size : 0; }
cg_dataset *cg_dataloader_dataset(const cg_dataloader *dl) { return dl ? dl->ds : NULL; }
int64_t cg_dataloader_epoch(const cg_dataloader *dl) { return dl ? dl->epoch : 0; }
int64_t cg_dataloader_batches_done(const cg_dataloader *dl) { return dl ? dl->delivered : 0; }

cg_status cg_dataloader_get_state(const cg_dataloader *dl, cg_dataloader_state *out) {
    if (!dl || !out) return cg_fail(CG_ERR_VALUE, "dataloader: get_state needs a loader and an output");
    out->epoch = dl->epoch;
    out->gen = dl->gen;
    return CG_OK;
}

cg_status cg_dataloader_set_state(cg_dataloader *dl, const cg_dataloader_state *st) {
    if (!dl || !st) return cg_fail(CG_ERR_VALUE, "dataloader: set_state needs a loader and a state");
    if (st->epoch < 0 || st->gen.index < 0 || st->gen.index > 624)
        return cg_fail(CG_ERR_VALUE, "dataloader: bad state (epoch %lld, generator index %d)",
                       (long long)st->epoch, st->gen.index);
    end_epoch(dl);
    dl->status = CG_OK;
    dl->delivered = 0;
    dl->epoch = st->epoch;
    dl->gen = st->gen;
    return CG_OK;
}

/* ---- DataLoaders ------------------------------------------------------------ */

cg_dataloaders *cg_dataloaders_new(cg_dataloader *train, cg_dataloader *valid) {
    if (!train || !valid) {
        cg_dataloader_free(train);
        cg_dataloader_free(valid);
        if (cg_last_status() == CG_OK) cg_fail(CG_ERR_VALUE, "dataloaders: a loader is NULL");
        return NULL;
    }
    cg_dataloaders *dls = malloc(sizeof *dls);
    if (!dls) {
        cg_dataloader_free(train);
        cg_dataloader_free(valid);
        cg_fail(CG_ERR_NOMEM, "dataloaders: out of memory");
        return NULL;
    }
    dls->train = train;
    dls->valid = valid;
    return dls;
}

cg_dataloaders *cg_tensor_dataloaders(cg_tensor *train_x, cg_tensor *train_y, cg_tensor *valid_x,
                                      cg_tensor *valid_y, int64_t bs, bool shuffle, uint64_t seed) {
    cg_dataset *train = cg_dataset_from_tensors(train_x, train_y);
    cg_dataset *valid = train ? cg_dataset_from_tensors(valid_x, valid_y) : NULL;
    cg_dataloaders *dls = NULL;
    if (train && valid) {
        cg_dataloader_options to = {.batch_size = bs, .shuffle = shuffle, .seeded = shuffle, .seed = seed};
        cg_dataloader_options vo = {.batch_size = bs};
        cg_dataloader *dl = cg_dataloader_new(train, &to);
        cg_dataloader *valid_dl = dl ? cg_dataloader_new(valid, &vo) : NULL;
        dls = dl && valid_dl ? cg_dataloaders_new(dl, valid_dl) : (cg_dataloader_free(dl), NULL);
    }
    cg_dataset_release(train); /* the loaders hold their own references */
    cg_dataset_release(valid);
    return dls;
}

void cg_dataloaders_free(cg_dataloaders *dls) {
    if (!dls) return;
    cg_dataloader_free(dls->train);
    cg_dataloader_free(dls->valid);
    free(dls);
}
