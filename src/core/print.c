/* Tensors printed exactly as PyTorch prints them (torch/_tensor_str.py with
 * the default print options: precision 4, threshold 1000, edgeitems 3,
 * linewidth 80).
 *
 * The steps follow PyTorch's:
 *   1. summarise: a tensor of more than 1000 elements shows only the first and
 *      last 3 entries of every dim longer than 6 (the rest becomes "...");
 *   2. choose one format for all shown elements (_Formatter):
 *        ints and bools   "{}", padded to the widest;
 *        floats, all integral     "6." (int mode), or scientific when
 *                                 max/min > 1000 or max > 1e8;
 *        floats, otherwise        "1.5000", or scientific "1.0000e-05" when
 *                                 max/min > 1000, max > 1e8 or min < 1e-4
 *      (max and min over the absolute values of the nonzero finite elements),
 *      every element right-aligned to the widest;
 *   3. nest brackets, one more space of indent per level after "tensor(",
 *      with as many elements per line as fit in 80 columns;
 *   4. add the suffixes (dtype=torch.uint8, grad_fn=<...>, requires_grad=True),
 *      wrapping to a new line when the last line would pass 80 columns.
 * Elements are read through the tensor's strides, so views print directly,
 * on the host: through t's own memory on the CPU, or a host copy of its
 * storage on another device (cg_host_begin, core/dispatch.h). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/print.h"
#include "core/dispatch.h"
#include "core/internal.h"

enum {
    PRINT_PRECISION = 4,
    PRINT_THRESHOLD = 1000,
    PRINT_EDGEITEMS = 3,
    PRINT_LINEWIDTH = 80,
};

/* ---- a growing string ----------------------------------------------------- */
typedef struct text {
    char *s;
    size_t len, cap;
    bool failed;
} text;

static void text_reserve(text *b, size_t extra) {
    if (b->failed || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = true;
        return;
    }
    b->s = s;
    b->cap = cap;
}

static void text_add(text *b, const char *s, size_t n) {
    text_reserve(b, n);
    if (b->failed) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void text_puts(text *b, const char *s) { text_add(b, s, strlen(s)); }

static void text_spaces(text *b, int n) {
    for (int i = 0; i < n; i++) text_add(b, " ", 1);
}

/* ---- reading one element -------------------------------------------------- */
typedef struct element {
    double f;    /* float32 (as double), uint8, bool */
    int64_t i;   /* int64, exactly */
} element;

static element read_element(const cg_tensor *t, int64_t offset) {
    element e = {0, 0};
    const char *base = cg_data(t);
    switch (t->dtype) {
    case CG_FLOAT32: e.f = ((const float *)(const void *)base)[offset]; break;
    case CG_UINT8: e.i = ((const uint8_t *)(const void *)base)[offset]; break;
    case CG_INT64: e.i = ((const int64_t *)(const void *)base)[offset]; break;
    /* read as a byte: any nonzero byte prints True without a bool-load trap */
    case CG_BOOL: e.i = ((const uint8_t *)(const void *)base)[offset] != 0; break;
    default: break;
    }
    return e;
}

/* ---- visiting the shown elements ----------------------------------------- */
/* Calls visit(state, element) for every element that will be printed: all of
 * them, or when summarising, the first and last PRINT_EDGEITEMS of every dim
 * longer than 2 * PRINT_EDGEITEMS (PyTorch's get_summarized_data). */
typedef void (*element_visitor)(void *state, const cg_tensor *t, element e);

static void visit_shown(const cg_tensor *t, int d, int64_t offset, bool summarize,
                        element_visitor visit, void *state) {
    if (d == t->ndim) {
        visit(state, t, read_element(t, offset));
        return;
    }
    int64_t n = t->shape[d];
    bool cut = summarize && n > 2 * PRINT_EDGEITEMS;
    for (int64_t i = 0; i < n; i++) {
        if (cut && i == PRINT_EDGEITEMS) i = n - PRINT_EDGEITEMS;
        visit_shown(t, d + 1, offset + i * t->strides[d], summarize, visit, state);
    }
}

/* ---- the formatter (PyTorch's _Formatter) -------------------------------- */
typedef struct formatter {
    bool floating;
    bool int_mode;
    bool sci_mode;
    int max_width;
    /* statistics of the nonzero finite floats */
    int64_t count;
    double min_abs, max_abs;
} formatter;

/* Python's "{:.Nf}" / "{:.Ne}" of a finite double: C's printf gives the same
 * digits (both round the exact binary value, ties to even). */
static int format_finite(char *buf, size_t n, double v, bool sci, int precision) {
    return snprintf(buf, n, sci ? "%.*e" : "%.*f", precision, v);
}

/* Python prints non-finite floats as "nan", "inf", "-inf" (never "-nan"). */
static int format_nonfinite(char *buf, size_t n, double v) {
    return snprintf(buf, n, "%s", isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
}

static int format_integer(char *buf, size_t n, const cg_tensor *t, element e) {
    if (t->dtype == CG_BOOL) return snprintf(buf, n, "%s", e.i ? "True" : "False");
    return snprintf(buf, n, "%lld", (long long)e.i);
}

static void collect_stats(void *state, const cg_tensor *t, element e) {
    formatter *f = state;
    if (!f->floating) {
        char buf[64];
        int w = format_integer(buf, sizeof buf, t, e);
        if (w > f->max_width) f->max_width = w;
        return;
    }
    if (!isfinite(e.f) || e.f == 0.0) return;
    double a = fabs(e.f);
    if (f->count == 0 || a < f->min_abs) f->min_abs = a;
    if (f->count == 0 || a > f->max_abs) f->max_abs = a;
    if (e.f != ceil(e.f)) f->int_mode = false;
    f->count++;
}

static void collect_widths(void *state, const cg_tensor *t, element e) {
    (void)t;
    formatter *f = state;
    if (!isfinite(e.f) || e.f == 0.0) return;
    char buf[512];
    int w;
    if (f->sci_mode)
        w = format_finite(buf, sizeof buf, e.f, true, PRINT_PRECISION);
    else if (f->int_mode)
        w = format_finite(buf, sizeof buf, e.f, false, 0) + 1; /* the "." */
    else
        w = format_finite(buf, sizeof buf, e.f, false, PRINT_PRECISION);
    if (w > f->max_width) f->max_width = w;
}

static void formatter_init(formatter *f, const cg_tensor *t, bool summarize) {
    memset(f, 0, sizeof *f);
    f->floating = t->dtype == CG_FLOAT32;
    f->int_mode = true;
    f->max_width = 1;
    visit_shown(t, 0, 0, summarize, collect_stats, f);
    if (!f->floating || f->count == 0) return;
    bool wide_range = f->max_abs / f->min_abs > 1000.0 || f->max_abs > 1.0e8;
    f->sci_mode = f->int_mode ? wide_range : (wide_range || f->min_abs < 1.0e-4);
    visit_shown(t, 0, 0, summarize, collect_widths, f);
}

/* One element as the formatter writes it, right-aligned to max_width. */
static void format_element(text *out, const formatter *f, const cg_tensor *t, element e) {
    char buf[512];
    int w;
    if (!f->floating)
        w = format_integer(buf, sizeof buf, t, e);
    else if (!isfinite(e.f))
        w = format_nonfinite(buf, sizeof buf, e.f);
    else if (f->sci_mode)
        w = format_finite(buf, sizeof buf, e.f, true, PRINT_PRECISION);
    else if (f->int_mode) {
        w = format_finite(buf, sizeof buf - 1, e.f, false, 0);
        if (w >= 0 && (size_t)w < sizeof buf - 1) {
            buf[w++] = '.';
            buf[w] = '\0';
        }
    } else
        w = format_finite(buf, sizeof buf, e.f, false, PRINT_PRECISION);
    if (w < 0) w = 0;
    if ((size_t)w >= sizeof buf) w = (int)sizeof buf - 1;
    text_spaces(out, f->max_width - w);
    text_add(out, buf, (size_t)w);
}

/* ---- nesting (PyTorch's _vector_str and _tensor_str_with_formatter) ------ */
static void vector_str(text *out, const formatter *f, const cg_tensor *t, int64_t offset,
                       int indent, bool summarize) {
    int d = t->ndim - 1;
    int64_t n = t->shape[d];
    int element_length = f->max_width + 2; /* ", " */
    int per_line = (PRINT_LINEWIDTH - indent) / element_length;
    if (PRINT_LINEWIDTH - indent < 0) per_line = 0; /* Python floors toward -inf */
    if (per_line < 1) per_line = 1;
    bool cut = summarize && n > 2 * PRINT_EDGEITEMS;

    text_puts(out, "[");
    int64_t shown = 0; /* items written so far, "..." included */
    for (int64_t i = 0; i < n; i++) {
        if (shown > 0) {
            if (shown % per_line == 0) {
                text_puts(out, ",\n");
                text_spaces(out, indent + 1);
            } else {
                text_puts(out, ", ");
            }
        }
        if (cut && i == PRINT_EDGEITEMS) {
            text_puts(out, " ...");
            shown++;
            i = n - PRINT_EDGEITEMS - 1;
            continue;
        }
        format_element(out, f, t, read_element(t, offset + i * t->strides[d]));
        shown++;
    }
    text_puts(out, "]");
}

static void tensor_str(text *out, const formatter *f, const cg_tensor *t, int d, int64_t offset,
                       int indent, bool summarize) {
    int remaining = t->ndim - d;
    if (remaining == 1) {
        vector_str(out, f, t, offset, indent, summarize);
        return;
    }
    int64_t n = t->shape[d];
    bool cut = summarize && n > 2 * PRINT_EDGEITEMS;
    text_puts(out, "[");
    for (int64_t i = 0; i < n; i++) {
        if (i > 0) {
            /* "," + "\n" * (dim - 1) + " " * (indent + 1) between slices */
            text_puts(out, ",");
            for (int k = 0; k < remaining - 1; k++) text_puts(out, "\n");
            text_spaces(out, indent + 1);
        }
        if (cut && i == PRINT_EDGEITEMS) {
            text_puts(out, "...");
            text_puts(out, ",");
            for (int k = 0; k < remaining - 1; k++) text_puts(out, "\n");
            text_spaces(out, indent + 1);
            i = n - PRINT_EDGEITEMS;
        }
        tensor_str(out, f, t, d + 1, offset + i * t->strides[d], indent + 1, summarize);
    }
    text_puts(out, "]");
}

/* ---- suffixes (PyTorch's _add_suffixes) ---------------------------------- */
static void add_suffixes(text *out, const char *const *suffixes, int n, int indent) {
    if (out->failed) return;
    const char *last_newline = strrchr(out->s, '\n');
    /* len(s) - s.rfind("\n") + 1, with rfind giving -1 when there is none */
    long last_line_len = (long)out->len - (last_newline ? (long)(last_newline - out->s) : -1) + 1;
    for (int i = 0; i < n; i++) {
        long suffix_len = (long)strlen(suffixes[i]);
        if (last_line_len + suffix_len + 2 > PRINT_LINEWIDTH) {
            text_puts(out, ",\n");
            text_spaces(out, indent);
            last_line_len = indent + suffix_len;
        } else {
            text_puts(out, ", ");
            last_line_len += suffix_len + 2;
        }
        text_puts(out, suffixes[i]);
    }
    text_puts(out, ")");
}

/* str(tuple(shape)): "(2, 0)", "(0,)" */
static void shape_tuple(char *buf, size_t n, const cg_tensor *t) {
    size_t used = (size_t)snprintf(buf, n, "size=(");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (used < n) snprintf(buf + used, n - used, t->ndim == 1 ? ",)" : ")");
}

/* ---- public --------------------------------------------------------------- */
const char *cg_type_name(const cg_tensor *t) {
    if (!t) return "NULL";
    switch (t->dtype) {
    case CG_FLOAT32: return "torch.FloatTensor";
    case CG_UINT8: return "torch.ByteTensor";
    case CG_INT64: return "torch.LongTensor";
    case CG_BOOL: return "torch.BoolTensor";
    default: return "torch.Tensor";
    }
}

/* str(t.dtype) */
static const char *torch_dtype_name(cg_dtype dt) {
    switch (dt) {
    case CG_FLOAT32: return "dtype=torch.float32";
    case CG_UINT8: return "dtype=torch.uint8";
    case CG_INT64: return "dtype=torch.int64";
    case CG_BOOL: return "dtype=torch.bool";
    default: return "dtype=unknown";
    }
}

char *cg_format(const cg_tensor *t) {
    if (!t) {
        if (cg_last_status() == CG_OK) cg_fail(CG_ERR_VALUE, "format: NULL tensor");
        return NULL;
    }
    if (t->dtype < 0 || t->dtype >= CG_DTYPE_COUNT) {
        cg_fail(CG_ERR_DTYPE, "format: invalid dtype %d", (int)t->dtype);
        return NULL;
    }
    const char *prefix = "tensor(";
    int indent = (int)strlen(prefix);
    const char *suffixes[3];
    int nsuffixes = 0;
    char size_buf[256];

    text out = {0};
    text_puts(&out, prefix);
    int64_t numel = cg_numel(t);
    if (numel == 0) {
        /* The shape unless it is (0,), and the dtype unless it is float32. */
        text_puts(&out, "[]");
        if (t->ndim != 1) {
            shape_tuple(size_buf, sizeof size_buf, t);
            suffixes[nsuffixes++] = size_buf;
        }
        if (t->dtype != CG_FLOAT32) suffixes[nsuffixes++] = torch_dtype_name(t->dtype);
    } else {
        /* h: t's layout over a host pointer to its element 0 */
        void *host = cg_host_begin(t);
        if (!host) {
            free(out.s);
            return NULL;
        }
        cg_storage hs = {.data = host, .nbytes = 0, .device = CG_CPU};
        cg_tensor h = *t;
        h.storage = &hs;
        h.offset = 0;
        bool summarize = numel > PRINT_THRESHOLD;
        formatter f;
        formatter_init(&f, &h, summarize);
        if (h.ndim == 0)
            format_element(&out, &f, &h, read_element(&h, 0));
        else
            tensor_str(&out, &f, &h, 0, 0, indent, summarize);
        cg_host_end(t, host, false);
        /* float32, int64 and bool are PyTorch's defaults and go unnamed. */
        if (t->dtype == CG_UINT8) suffixes[nsuffixes++] = torch_dtype_name(t->dtype);
    }

    const char *grad_fn = cg_hook_grad_fn_name(t);
    char grad_fn_buf[128];
    if (grad_fn) {
        snprintf(grad_fn_buf, sizeof grad_fn_buf, "grad_fn=<%s>", grad_fn);
        suffixes[nsuffixes++] = grad_fn_buf;
    } else if (t->requires_grad) {
        suffixes[nsuffixes++] = "requires_grad=True";
    }
    add_suffixes(&out, suffixes, nsuffixes, indent);

    if (out.failed) {
        free(out.s);
        char s[128];
        cg_fail(CG_ERR_NOMEM, "format: out of memory printing a tensor of shape %s",
                cg_shape_str(t, s, sizeof s));
        return NULL;
    }
    return out.s;
}

cg_status cg_fprint(FILE *f, const cg_tensor *t) {
    if (!f) return cg_fail(CG_ERR_VALUE, "print: NULL stream");
    char *s = cg_format(t);
    if (!s) return cg_last_status() != CG_OK ? cg_last_status() : CG_ERR_VALUE;
    int rc = fprintf(f, "%s\n", s);
    free(s);
    if (rc < 0) return cg_fail(CG_ERR_IO, "print: writing to the stream failed");
    return CG_OK;
}

cg_status cg_print(const cg_tensor *t) { return cg_fprint(stdout, t); }
