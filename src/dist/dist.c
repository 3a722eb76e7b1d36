/* Data-parallel training over MPI (cgrad/dist.h): the MPI calls, the
 * broadcast of the starting weights and the bucketed gradient average.
 * Built with CGRAD_HAVE_MPI when CMake found MPI; without it every entry
 * point is here too and says "this cgrad was built without MPI". */
#include "cgrad/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/autograd.h"
#include "cgrad/tensor.h"

#ifdef CGRAD_HAVE_MPI
#include <mpi.h>
#endif

#define NO_MPI "this cgrad was built without MPI (install libopenmpi-dev and rebuild with -DCGRAD_MPI=ON)"

bool cg_dist_launched(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    return (s && *s) || getenv("PMIX_RANK") != NULL;
}

#ifdef CGRAD_HAVE_MPI

static bool g_active;
static int g_rank, g_size = 1;

bool cg_dist_available(void) { return true; }

/* The text of an MPI error code, for cg_fail. */
static cg_status mpi_fail(const char *what, int rc) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) len = 0;
    text[len < (int)sizeof text ? len : (int)sizeof text - 1] = '\0';
    return cg_fail(CG_ERR_STATE, "dist: rank %d: %s failed: %s", g_rank, what, len ? text : "unknown MPI error");
}

cg_status cg_dist_init(int *argc, char ***argv) {
    if (g_active) return CG_OK;
    int done = 0;
    MPI_Initialized(&done);
    if (!done) {
        int rc = MPI_Init(argc, argv);
        if (rc != MPI_SUCCESS) return cg_fail(CG_ERR_STATE, "dist: MPI_Init failed (code %d)", rc);
    }
    /* errors come back as codes (and become cg_fail messages), not as MPI's
     * default abort-with-its-own-text */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_active = true;
    return CG_OK;
}

void cg_dist_finalize(void) {
    if (!g_active) return;
    g_active = false;
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
    g_rank = 0, g_size = 1;
}

bool cg_dist_active(void) { return g_active; }
int cg_dist_rank(void) { return g_active ? g_rank : 0; }
int cg_dist_size(void) { return g_active ? g_size : 1; }

_Noreturn void cg_dist_abort(int code) {
    if (g_active) MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
    exit(code);
}

static cg_status need_active(const char *what) {
    return g_active ? CG_OK : cg_fail(CG_ERR_STATE, "dist: %s before cg_dist_init", what);
}

/* MPI_Bcast of rank 0's state_dict entries; buffers_only: those that are not
 * parameters (BatchNorm's running statistics and batch counts). */
static cg_status broadcast_state(cg_module *m, bool buffers_only) {
    cg_status st = need_active("broadcast");
    if (st != CG_OK) return st;
    if (!m) return cg_fail(CG_ERR_VALUE, "dist: broadcast of a NULL module");
    cg_named_tensors sd, ps = {0};
    st = cg_module_state_dict(m, &sd);
    if (st != CG_OK) return st;
    if (buffers_only && (st = cg_module_named_parameters(m, &ps)) != CG_OK) {
        cg_named_tensors_free(&sd);
        return st;
    }
    for (int i = 0; i < sd.n && st == CG_OK; i++) {
        cg_tensor *t = sd.tensors[i];
        bool is_param = false;
        for (int j = 0; j < ps.n && !is_param; j++) is_param = ps.tensors[j] == t;
        if (is_param) continue;
        if (!cg_is_contiguous(t)) {
            st = cg_fail(CG_ERR_VALUE, "dist: %s is not contiguous", sd.names[i]);
            break;
        }
        /* every rank built the same architecture: the byte counts agree; in
         * chunks under INT_MAX, MPI's count type */
        char *p = cg_data(t);
        size_t left = (size_t)cg_numel(t) * cg_dtype_size(t->dtype);
        while (left > 0 && st == CG_OK) {
            int chunk = left > (size_t)(INT_MAX / 2) ? INT_MAX / 2 : (int)left;
            int rc = MPI_Bcast(p, chunk, MPI_BYTE, 0, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS)
                st = mpi_fail(buffers_only ? "MPI_Bcast of the buffers" : "MPI_Bcast of the initial weights", rc);
            p += chunk, left -= (size_t)chunk;
        }
    }
    cg_named_tensors_free(&sd);
    cg_named_tensors_free(&ps);
    return st;
}

cg_status cg_dist_broadcast_module(cg_module *m) { return broadcast_state(m, false); }
cg_status cg_dist_broadcast_buffers(cg_module *m) { return broadcast_state(m, true); }

cg_status cg_dist_allreduce_sum(double *v, int n) {
    cg_status st = need_active("allreduce");
    if (st != CG_OK || n <= 0) return st;
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CG_OK : mpi_fail("MPI_Allreduce of the validation sums", rc);
}

static cg_status bucket_reduce(cg_dist_buckets *b, int64_t n) {
    int rc = MPI_Allreduce(MPI_IN_PLACE, b->buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    b->n_calls++;
    return rc == MPI_SUCCESS ? CG_OK : mpi_fail("MPI_Allreduce of a gradient bucket", rc);
}

#else /* no MPI: the same entry points, saying so */

bool cg_dist_available(void) { return false; }
cg_status cg_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    return cg_fail(CG_ERR_VALUE, "%s", NO_MPI);
}
void cg_dist_finalize(void) {}
bool cg_dist_active(void) { return false; }
int cg_dist_rank(void) { return 0; }
int cg_dist_size(void) { return 1; }
_Noreturn void cg_dist_abort(int code) { exit(code); }
cg_status cg_dist_broadcast_module(cg_module *m) {
    (void)m;
    return cg_fail(CG_ERR_VALUE, "%s", NO_MPI);
}
cg_status cg_dist_broadcast_buffers(cg_module *m) {
    (void)m;
    return cg_fail(CG_ERR_VALUE, "%s", NO_MPI);
}
cg_status cg_dist_allreduce_sum(double *v, int n) {
    (void)v, (void)n;
    return cg_fail(CG_ERR_VALUE, "%s", NO_MPI);
}
static cg_status bucket_reduce(cg_dist_buckets *b, int64_t n) {
    (void)b, (void)n;
    return cg_fail(CG_ERR_VALUE, "%s", NO_MPI);
}

#endif

/* ---- buckets ------------------------------------------------------------------ */

cg_status cg_dist_buckets_init(cg_dist_buckets *b, double cap_mb) {
    memset(b, 0, sizeof *b);
    if (!(cap_mb > 0)) cap_mb = CG_DIST_BUCKET_CAP_MB;
    if (cap_mb > 1024) return cg_fail(CG_ERR_VALUE, "dist: bucket_cap_mb %g is over 1024", cap_mb);
    b->cap = (int64_t)(cap_mb * 1024 * 1024 / sizeof(float));
    if (b->cap < 1) b->cap = 1;
    b->buf = malloc((size_t)b->cap * sizeof *b->buf);
    return b->buf ? CG_OK : cg_fail(CG_ERR_NOMEM, "dist: no memory for a %g MB gradient bucket", cap_mb);
}

void cg_dist_buckets_free(cg_dist_buckets *b) {
    if (!b) return;
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* Copies the flat stream's range [off, off+len) between the grads (then the
 * extra value at index total-1) and buf: to_buf packs, else unpacks divided
 * by `scale`.  The stream is every parameter's grad in order, then *extra. */
static void copy_range(const cg_named_tensors *ps, int64_t off, int64_t len, float *buf, bool to_buf,
                       double *extra, float scale) {
    int64_t pos = 0;
    for (int i = 0; i < ps->n && len > 0; i++) {
        cg_tensor *p = ps->tensors[i];
        int64_t n = cg_numel(p);
        if (off >= pos + n) {
            pos += n;
            continue;
        }
        int64_t from = off - pos, take = n - from < len ? n - from : len;
        float *g = p->grad ? (float *)cg_data(p->grad) + from : NULL;
        if (to_buf) {
            if (g) memcpy(buf, g, (size_t)take * sizeof *buf);
            else memset(buf, 0, (size_t)take * sizeof *buf);
        } else if (g) {
            for (int64_t k = 0; k < take; k++) g[k] = buf[k] * scale;
        }
        buf += take, off += take, len -= take, pos += n;
    }
    if (len > 0 && extra) { /* the one extra value closes the stream */
        if (to_buf) buf[0] = (float)*extra;
        else *extra = (double)(buf[0] * scale);
    }
}

cg_status cg_dist_average_gradients(cg_dist_buckets *b, const cg_module *m, double *extra) {
    if (!b || !b->buf || !m) return cg_fail(CG_ERR_VALUE, "dist: average_gradients needs buckets and a model");
    cg_named_tensors ps;
    cg_status st = cg_module_named_parameters(m, &ps);
    if (st != CG_OK) return st;
    int64_t total = extra ? 1 : 0;
    for (int i = 0; i < ps.n && st == CG_OK; i++) {
        cg_tensor *p = ps.tensors[i];
        /* zero_grad releases the grads (set_to_none); a trainable parameter
         * this rank's backward did not reach still receives the other ranks'
         * share, so it gets a zero grad to unpack the average into. */
        if (p->requires_grad) st = cg_ensure_grad(p);
        cg_tensor *g = p->grad;
        if (g && (g->dtype != CG_FLOAT32 || !cg_is_contiguous(g) || cg_numel(g) != cg_numel(p)))
            st = cg_fail(CG_ERR_VALUE, "dist: the grad of %s is not a contiguous float32 tensor of its shape",
                         ps.names[i]);
        total += cg_numel(p);
    }
    float scale = 1.0f / (float)cg_dist_size();
    for (int64_t off = 0; off < total && st == CG_OK; off += b->cap) {
        int64_t len = total - off < b->cap ? total - off : b->cap;
        copy_range(&ps, off, len, b->buf, true, extra, scale);
        st = bucket_reduce(b, len);
        if (st == CG_OK) copy_range(&ps, off, len, b->buf, false, extra, scale);
    }
    cg_named_tensors_free(&ps);
    return st;
}

/* ---- the loaders ----------------------------------------------------------------- */

cg_status cg_dist_shard_loaders(cg_dataloaders *dls, int64_t global_bs) {
    if (!dls) return cg_fail(CG_ERR_VALUE, "dist: NULL dataloaders");
    int world = cg_dist_size(), rank = cg_dist_rank();
    if (global_bs < world || global_bs % world != 0)
        return cg_fail(CG_ERR_VALUE,
                       "dist: the global batch size %lld must be a multiple of the %d ranks (each rank "
                       "takes bs/%d items per step)",
                       (long long)global_bs, world, world);
    cg_status st = cg_dataloader_shard(dls->train, rank, world, true, global_bs / world);
    return st == CG_OK ? cg_dataloader_shard(dls->valid, rank, world, false, global_bs / world) : st;
}

/* ---- the callback ------------------------------------------------------------------- */

typedef struct dist_cb {
    cg_dist_buckets buckets;
} dist_cb;

static cg_cb_result dist_before_fit(cg_learner *learn, void *state) {
    (void)state;
    return cg_dist_broadcast_module(learn->model) == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

/* DDP's broadcast_buffers: rank 0's BatchNorm running statistics on every
 * rank before it scores its validation shard.  DDP copies them before every
 * forward; training-mode forwards only write them, so once before validation
 * is the same for everything that reads them (the validation table, and the
 * model rank 0 saves). */
static cg_cb_result dist_before_validate(cg_learner *learn, void *state) {
    (void)state;
    return cg_dist_broadcast_buffers(learn->model) == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

static cg_cb_result dist_after_backward(cg_learner *learn, void *state) {
    dist_cb *d = state;
    if (!d->buckets.buf && cg_dist_buckets_init(&d->buckets, 0) != CG_OK) return CG_CB_ERROR;
    return cg_dist_average_gradients(&d->buckets, learn->model, &learn->loss_value) == CG_OK ? CG_CB_OK
                                                                                             : CG_CB_ERROR;
}

/* The recorder's sums (loss*bs, bs) and each AvgMetric's (total, count),
 * summed over the ranks. */
static cg_cb_result dist_after_validate(cg_learner *learn, void *state) {
    (void)state;
    int n = 2 + 2 * learn->n_metrics;
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        cg_fail(CG_ERR_NOMEM, "dist: no memory for the validation sums");
        return CG_CB_ERROR;
    }
    v[0] = learn->recorder->valid_total, v[1] = learn->recorder->valid_count;
    for (int i = 0; i < learn->n_metrics; i++) {
        cg_metric *m = &learn->metrics[i];
        if (m->value || m->accumulate) {
            free(v);
            cg_fail(CG_ERR_VALUE, "dist: metric %s has its own accumulate/value: it cannot be summed over ranks",
                    m->name);
            return CG_CB_ERROR;
        }
        v[2 + 2 * i] = m->total, v[3 + 2 * i] = m->count;
    }
    cg_status st = cg_dist_allreduce_sum(v, n);
    if (st == CG_OK) {
        learn->recorder->valid_total = v[0], learn->recorder->valid_count = v[1];
        for (int i = 0; i < learn->n_metrics; i++)
            learn->metrics[i].total = v[2 + 2 * i], learn->metrics[i].count = v[3 + 2 * i];
    }
    free(v);
    return st == CG_OK ? CG_CB_OK : CG_CB_ERROR;
}

static void dist_free(void *state) {
    dist_cb *d = state;
    cg_dist_buckets_free(&d->buckets);
    free(d);
}

cg_status cg_dist_callback(cg_callback *cb) {
    memset(cb, 0, sizeof *cb);
    if (!cg_dist_active()) return cg_fail(CG_ERR_STATE, "dist: the callback needs cg_dist_init first");
    dist_cb *d = calloc(1, sizeof *d);
    if (!d) return cg_fail(CG_ERR_NOMEM, "dist: no memory for the callback");
    *cb = (cg_callback){.name = "dist",
                        .order = -20,
                        .state = d,
                        .free_state = dist_free,
                        .before_fit = dist_before_fit,
                        .after_backward = dist_after_backward,
                        .before_validate = dist_before_validate,
                        .after_validate = dist_after_validate};
    return CG_OK;
}
