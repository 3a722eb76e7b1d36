/* A self-contained HTML page built in memory (see html_report.h). */
#include "report/html_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgrad/draw.h"
#include "cgrad/fileio.h"

#define PICTURE_MAX ((size_t)64 << 20) /* one embedded picture, 64 MiB at most */

struct cg_html_report {
    char *buf; /* the page's body so far */
    size_t len, cap;
    char *title;
    char scratch[4096]; /* "" until the first cg_html_scratch_path */
    int n_steps;
    bool failed; /* out of memory once: every later call fails too */
};

/* ---- the growing buffer ------------------------------------------------------ */

static cg_status put_n(cg_html_report *r, const char *s, size_t n) {
    if (r->failed) return cg_fail(CG_ERR_NOMEM, "html report: out of memory earlier");
    if (n > SIZE_MAX / 2 - r->len - 1) {
        r->failed = true;
        return cg_fail(CG_ERR_NOMEM, "html report: the page would exceed %zu bytes", SIZE_MAX / 2);
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 1 << 16;
        while (cap < r->len + n + 1) cap *= 2;
        char *grown = realloc(r->buf, cap);
        if (!grown) {
            r->failed = true;
            return cg_fail(CG_ERR_NOMEM, "html report: no memory for %zu bytes", cap);
        }
        r->buf = grown, r->cap = cap;
    }
    memcpy(r->buf + r->len, s, n);
    r->len += n;
    r->buf[r->len] = '\0';
    return CG_OK;
}

static cg_status put(cg_html_report *r, const char *s) { return put_n(r, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static cg_status putf(cg_html_report *r, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return cg_fail(CG_ERR_VALUE, "html report: bad format '%s'", fmt);
    if ((size_t)n < sizeof small) return put_n(r, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return cg_fail(CG_ERR_NOMEM, "html report: no memory");
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cg_status st = put_n(r, big, (size_t)n);
    free(big);
    return st;
}

/* Text with &, <, >, " and ' escaped. */
static cg_status put_esc(cg_html_report *r, const char *s) {
    cg_status st = CG_OK;
    const char *run = s;
    for (; st == CG_OK && *s; s++) {
        const char *e = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;" : *s == '\'' ? "&#39;" : NULL;
        if (!e) continue;
        st = put_n(r, run, (size_t)(s - run));
        if (st == CG_OK) st = put(r, e);
        run = s + 1;
    }
    return st == CG_OK ? put(r, run) : st;
}

static cg_status put_base64(cg_html_report *r, const unsigned char *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char chunk[4096 + 4];
    size_t k = 0;
    cg_status st = CG_OK;
    for (size_t i = 0; st == CG_OK && i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        chunk[k++] = tab[v >> 18 & 63];
        chunk[k++] = tab[v >> 12 & 63];
        chunk[k++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        chunk[k++] = i + 2 < n ? tab[v & 63] : '=';
        if (k >= 4096) st = put_n(r, chunk, k), k = 0;
    }
    return st == CG_OK && k ? put_n(r, chunk, k) : st;
}

/* ---- the page ------------------------------------------------------------------ */

cg_html_report *cg_html_report_new(const char *title) {
    cg_html_report *r = calloc(1, sizeof *r);
    if (!r || !(r->title = strdup(title ? title : "cgrad"))) {
        free(r);
        cg_fail(CG_ERR_NOMEM, "html report: no memory");
        return NULL;
    }
    return r;
}

void cg_html_report_free(cg_html_report *r) {
    if (!r) return;
    if (r->scratch[0]) cg_remove_tree(r->scratch);
    free(r->buf);
    free(r->title);
    free(r);
}

cg_status cg_html_heading(cg_html_report *r, int level, const char *text) {
    if (level < 1 || level > 4) return cg_fail(CG_ERR_VALUE, "html report: heading level %d (1..4)", level);
    cg_status st = level == 2 ? putf(r, "<h2 id=\"step-%d\">", ++r->n_steps) : putf(r, "<h%d>", level);
    if (st == CG_OK) st = put_esc(r, text);
    return st == CG_OK ? putf(r, "</h%d>\n", level) : st;
}

cg_status cg_html_para(cg_html_report *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return cg_fail(CG_ERR_VALUE, "html report: bad format '%s'", fmt);
    char *text = malloc((size_t)n + 1);
    if (!text) return cg_fail(CG_ERR_NOMEM, "html report: no memory");
    va_start(ap, fmt);
    vsnprintf(text, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cg_status st = put(r, "<p>");
    if (st == CG_OK) st = put_esc(r, text);
    if (st == CG_OK) st = put(r, "</p>\n");
    free(text);
    return st;
}

cg_status cg_html_pre(cg_html_report *r, const char *text) {
    cg_status st = put(r, "<pre>");
    if (st == CG_OK) st = put_esc(r, text);
    return st == CG_OK ? put(r, "</pre>\n") : st;
}

cg_status cg_html_raw(cg_html_report *r, const char *html) { return put(r, html); }

cg_status cg_html_compare(cg_html_report *r, const cg_html_compare_row *rows, int n) {
    cg_status st = put(r, "<table class=\"cmp\"><tr><th></th><th>book</th><th>cgrad</th></tr>\n");
    for (int i = 0; st == CG_OK && i < n; i++) {
        const char *cells[3] = {rows[i].what, rows[i].book, rows[i].cgrad};
        st = put(r, "<tr>");
        for (int c = 0; st == CG_OK && c < 3; c++) {
            st = put(r, c ? "<td>" : "<th>");
            if (st == CG_OK) st = put_esc(r, cells[c] && *cells[c] ? cells[c] : "\xe2\x80\x94"); /* an em dash */
            if (st == CG_OK) st = put(r, c ? "</td>" : "</th>");
        }
        if (st == CG_OK) st = put(r, "</tr>\n");
    }
    return st == CG_OK ? put(r, "</table>\n") : st;
}

cg_status cg_html_table(cg_html_report *r, const char *const *header, int n_cols, const char *const *cells,
                        int n_rows) {
    if (!header || n_cols < 1 || n_rows < 0 || (n_rows && !cells))
        return cg_fail(CG_ERR_VALUE, "html table: %d columns, %d rows", n_cols, n_rows);
    cg_status st = put(r, "<table class=\"cmp\"><tr>");
    for (int c = 0; st == CG_OK && c < n_cols; c++) {
        st = put(r, "<th>");
        if (st == CG_OK) st = put_esc(r, header[c] ? header[c] : "");
        if (st == CG_OK) st = put(r, "</th>");
    }
    if (st == CG_OK) st = put(r, "</tr>\n");
    for (int i = 0; st == CG_OK && i < n_rows; i++) {
        st = put(r, "<tr>");
        for (int c = 0; st == CG_OK && c < n_cols; c++) {
            const char *v = cells[(size_t)i * (size_t)n_cols + (size_t)c];
            st = put(r, "<td>");
            if (st == CG_OK) st = put_esc(r, v && *v ? v : "\xe2\x80\x94"); /* an em dash */
            if (st == CG_OK) st = put(r, "</td>");
        }
        if (st == CG_OK) st = put(r, "</tr>\n");
    }
    return st == CG_OK ? put(r, "</table>\n") : st;
}

/* sRGB relative luminance of a gray level, as pandas' background_gradient computes it. */
static double luminance(uint8_t g) {
    double c = g / 255.0;
    return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

cg_status cg_html_pixel_table(cg_html_report *r, const cg_tensor *t, int64_t row0, int64_t col0) {
    if (!t || t->ndim != 2) return cg_fail(CG_ERR_SHAPE, "html pixel table: wants a 2-d tensor");
    int64_t h = t->shape[0], w = t->shape[1];
    if (h > 256 || w > 256)
        return cg_fail(CG_ERR_SHAPE, "html pixel table: %lldx%lld is too big (at most 256x256)", (long long)h,
                       (long long)w);
    bool integral = t->dtype != CG_FLOAT32;
    cg_status st = put(r, "<table class=\"pixels\"><tr><th></th>");
    for (int64_t j = 0; st == CG_OK && j < w; j++) st = putf(r, "<th>%lld</th>", (long long)(col0 + j));
    if (st == CG_OK) st = put(r, "</tr>\n");
    for (int64_t i = 0; st == CG_OK && i < h; i++) {
        st = putf(r, "<tr><th>%lld</th>", (long long)(row0 + i));
        for (int64_t j = 0; st == CG_OK && j < w; j++) {
            double lo = INFINITY, hi = -INFINITY; /* axis=0: the column's own range */
            for (int64_t k = 0; k < h; k++) {
                double v = cg_get(t, (int64_t[]){k, j});
                lo = fmin(lo, v), hi = fmax(hi, v);
            }
            double v = cg_get(t, (int64_t[]){i, j});
            uint8_t g = cg_greys(hi > lo ? (v - lo) / (hi - lo) : 0);
            const char *fg = luminance(g) < 0.408 ? "#f1f1f1" : "#000000";
            if (integral) st = putf(r, "<td style=\"background:#%02x%02x%02x;color:%s\">%lld</td>", g, g, g, fg, (long long)v);
            else st = putf(r, "<td style=\"background:#%02x%02x%02x;color:%s\">%.4f</td>", g, g, g, fg, v);
        }
        if (st == CG_OK) st = put(r, "</tr>\n");
    }
    return st == CG_OK ? put(r, "</table>\n") : st;
}

cg_status cg_html_image(cg_html_report *r, const char *mime, const void *data, size_t len, const char *alt,
                        const char *caption, int width_px) {
    cg_status st = put(r, "<figure><img alt=\"");
    if (st == CG_OK) st = put_esc(r, alt ? alt : "");
    if (st == CG_OK && width_px > 0) st = putf(r, "\" style=\"width:%dpx", width_px);
    if (st == CG_OK) st = putf(r, "\" src=\"data:%s;base64,", mime);
    if (st == CG_OK) st = put_base64(r, data, len);
    if (st == CG_OK) st = put(r, "\">");
    if (st == CG_OK && caption) {
        st = put(r, "<figcaption>");
        if (st == CG_OK) st = put_esc(r, caption);
        if (st == CG_OK) st = put(r, "</figcaption>");
    }
    return st == CG_OK ? put(r, "</figure>\n") : st;
}

cg_status cg_html_scratch_path(cg_html_report *r, const char *name, char *path, size_t size) {
    if (!name || !*name || strchr(name, '/'))
        return cg_fail(CG_ERR_VALUE, "html report: scratch name '%s' must be a plain file name", name ? name : "");
    if (!r->scratch[0]) {
        const char *tmp = getenv("TMPDIR");
        if (!tmp || !*tmp) tmp = "/tmp";
        int n = snprintf(r->scratch, sizeof r->scratch, "%s/cgrad-report.XXXXXX", tmp);
        if (n < 0 || (size_t)n >= sizeof r->scratch || !mkdtemp(r->scratch)) {
            int e = errno;
            r->scratch[0] = '\0';
            return cg_fail(CG_ERR_IO, "html report: cannot make a scratch folder in %s: %s", tmp, strerror(e));
        }
    }
    int n = snprintf(path, size, "%s/%s", r->scratch, name);
    if (n < 0 || (size_t)n >= size) return cg_fail(CG_ERR_VALUE, "html report: scratch path too long");
    return CG_OK;
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

cg_status cg_html_embed_file(cg_html_report *r, const char *path, const char *alt, const char *caption,
                             int width_px) {
    void *data = NULL;
    size_t len = 0;
    cg_status st = cg_read_file_bounded(path, "picture", PICTURE_MAX, &data, &len);
    if (st == CG_OK)
        st = cg_html_image(r, ends_with(path, ".svg") ? "image/svg+xml" : "image/png", data, len, alt, caption,
                           width_px);
    free(data);
    size_t sn = strlen(r->scratch);
    if (sn && !strncmp(path, r->scratch, sn) && path[sn] == '/') unlink(path);
    return st;
}

cg_status cg_html_row_begin(cg_html_report *r) { return put(r, "<div class=\"row\">\n"); }
cg_status cg_html_row_end(cg_html_report *r) { return put(r, "</div>\n"); }

/* The style and the browser check (see html_report.h). */
static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
static const char page_style[] =
    "</title>\n<style>\n"
    "body{font-family:'DejaVu Sans',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\n"
    "h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}\n"
    "pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:90%}\n"
    "figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}\n"
    "figure img{max-width:100%;border:1px solid #eee}\n"
    "figcaption{font-size:85%;color:#555;text-align:center}\n"
    ".row{display:flex;flex-wrap:wrap;gap:.5em}.row figure{flex:1 1 22%;margin:0}\n"
    "table.cmp{border-collapse:collapse;margin:.5em 0}\n"
    "table.cmp td,table.cmp th{border:1px solid #ccc;padding:.2em .6em;text-align:right}\n"
    "table.cmp th:first-child{text-align:left;font-weight:normal}\n"
    "table.pixels{border-collapse:collapse;font-size:6pt}\n"
    "table.pixels td,table.pixels th{padding:.15em .35em;text-align:right}\n"
    ".time{color:#777;font-size:85%}\n#cgrad-check{color:#999;font-size:75%}\n"
    "</style>\n</head>\n<body>\n";
static const char page_tail[] =
    "<p id=\"cgrad-check\" data-status=\"pending\">browser check: pending</p>\n"
    "<script>\n"
    "window.addEventListener('load', function () {\n"
    "  var bad = [], outside = [];\n"
    "  var imgs = document.images;\n"
    "  for (var i = 0; i < imgs.length; i++)\n"
    "    if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad.push('img ' + (imgs[i].alt || i));\n"
    "  var svgs = document.getElementsByTagName('svg');\n"
    "  for (var i = 0; i < svgs.length; i++) {\n"
    "    var b = svgs[i].getBoundingClientRect();\n"
    "    if (!(b.width > 0 && b.height > 0)) bad.push('svg ' + i);\n"
    "  }\n"
    "  var refs = document.querySelectorAll('[src],[href],[srcset],[poster],[data]');\n"
    "  for (var i = 0; i < refs.length; i++)\n"
    "    ['src', 'href', 'srcset', 'poster', 'data'].forEach(function (a) {\n"
    "      var v = refs[i].getAttribute(a);\n"
    "      if (v !== null && v.indexOf('data:') !== 0 && v.charAt(0) !== '#') outside.push(a + '=' + v);\n"
    "    });\n"
    "  var res = performance.getEntriesByType('resource');\n"
    "  for (var i = 0; i < res.length; i++)\n"
    "    if (res[i].name.indexOf('data:') !== 0) outside.push('loaded ' + res[i].name);\n"
    "  var el = document.getElementById('cgrad-check');\n"
    "  var ok = bad.length === 0 && outside.length === 0;\n"
    "  el.setAttribute('data-status', ok ? 'ok' : 'fail');\n"
    "  el.textContent = 'browser check: ' + (ok ? 'ok' : 'FAIL') + ', ' + imgs.length + ' images, ' +\n"
    "    svgs.length + ' svg' + (bad.length ? '; not shown: ' + bad.join(', ') : '') +\n"
    "    (outside.length ? '; outside the page: ' + outside.join(', ') : '');\n"
    "});\n"
    "</script>\n</body>\n</html>\n";

cg_status cg_html_report_write(cg_html_report *r, const char *path) {
    if (r->failed) return cg_fail(CG_ERR_NOMEM, "html report %s: ran out of memory while building it", path);
    cg_atomic_file *f = cg_atomic_open(path);
    if (!f) return cg_last_status();
    cg_status st = cg_atomic_write(f, page_head, sizeof page_head - 1);
    /* the title, escaped through a scratch page */
    cg_html_report *t = st == CG_OK ? cg_html_report_new("") : NULL;
    if (st == CG_OK && (!t || put_esc(t, r->title) != CG_OK)) st = cg_last_status();
    if (st == CG_OK && t->len) st = cg_atomic_write(f, t->buf, t->len);
    cg_html_report_free(t);
    if (st == CG_OK) st = cg_atomic_write(f, page_style, sizeof page_style - 1);
    if (st == CG_OK && r->len) st = cg_atomic_write(f, r->buf, r->len);
    if (st == CG_OK) st = cg_atomic_write(f, page_tail, sizeof page_tail - 1);
    if (st != CG_OK) {
        cg_atomic_abort(f);
        return st;
    }
    return cg_atomic_commit(f);
}
