/* One self-contained HTML page (the report of `cgrad chapter4`): headings,
 * text, tables and pictures, every picture embedded as a data: URI, so the
 * file opens from disk anywhere, with nothing beside it.
 *
 *     cg_html_report *r = cg_html_report_new("Chapter 4");
 *     cg_html_heading(r, 2, "3. Pixel similarity");
 *     char svg[4096];
 *     cg_html_scratch_path(r, "mean3.png", svg, sizeof svg);  // a private temp file
 *     cg_show_image_png(mean3, svg, 8);                        // any library saver
 *     cg_html_embed_file(r, svg, "mean3", "show_image(mean3)"); // read, embed, delete
 *     cg_html_report_write(r, "out/index.html");               // atomically
 *     cg_html_report_free(r);
 *
 * The page carries a small script that, once loaded, checks that every <img>
 * decoded (naturalWidth > 0), every <svg> has a size, and that no element
 * refers to anything outside the page, and writes the verdict into
 * <p id="cgrad-check" data-status="ok|fail">: a headless browser reads it
 * (tests/cli/chapter4.sh).  Text passed to the cg_html_* calls is escaped;
 * only cg_html_raw takes markup. */
#ifndef CGRAD_REPORT_HTML_REPORT_H
#define CGRAD_REPORT_HTML_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cgrad/status.h"
#include "cgrad/tensor.h"

typedef struct cg_html_report cg_html_report;

cg_html_report *cg_html_report_new(const char *title);
/* Frees the page and removes its scratch folder (and anything left in it). */
void cg_html_report_free(cg_html_report *r);

/* <hN>text</hN> (level 1..4); an id "step-K" for each level-2 heading. */
cg_status cg_html_heading(cg_html_report *r, int level, const char *text);
/* <p>text</p>, printf-style; the formatted text is escaped. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
cg_status cg_html_para(cg_html_report *r, const char *fmt, ...);
/* <pre>text</pre> (escaped): what the command printed. */
cg_status cg_html_pre(cg_html_report *r, const char *text);
/* Markup as given (the caller's own, never user text). */
cg_status cg_html_raw(cg_html_report *r, const char *html);

/* A table of the book's numbers beside cgrad's: rows of (what, book, cgrad),
 * each cell text (escaped); book may be "" or NULL (nothing published). */
typedef struct cg_html_compare_row {
    const char *what, *book, *cgrad;
} cg_html_compare_row;
cg_status cg_html_compare(cg_html_report *r, const cg_html_compare_row *rows, int n);

/* A plain table: header[0..n_cols) then n_rows rows of cells (row-major,
 * n_rows * n_cols texts, escaped; NULL or "" shows an em dash). */
cg_status cg_html_table(cg_html_report *r, const char *const *header, int n_cols, const char *const *cells,
                        int n_rows);

/* df.style.background_gradient('Greys') of a 2-d tensor (the chapter's
 * im3_t[4:15,4:22]): one cell per value, each column shaded between its own
 * min and max with matplotlib's Greys, white text on dark cells (pandas'
 * threshold 0.408).  row0/col0 label the first row and column. */
cg_status cg_html_pixel_table(cg_html_report *r, const cg_tensor *t, int64_t row0, int64_t col0);

/* <figure><img src="data:MIME;base64,..."><figcaption>caption</figcaption></figure>;
 * width_px 0: the picture's own width (capped by the page). */
cg_status cg_html_image(cg_html_report *r, const char *mime, const void *data, size_t len,
                        const char *alt, const char *caption, int width_px);
/* A path in the report's scratch folder (made on first use under $TMPDIR or
 * /tmp), for a library call that writes a picture to a file. */
cg_status cg_html_scratch_path(cg_html_report *r, const char *name, char *path, size_t size);
/* Embeds the picture at path (SVG when it ends in .svg, else PNG), then
 * removes the file when it lies in the scratch folder. */
cg_status cg_html_embed_file(cg_html_report *r, const char *path, const char *alt,
                             const char *caption, int width_px);
/* Starts and ends a row of pictures side by side (show_preds' subplots). */
cg_status cg_html_row_begin(cg_html_report *r);
cg_status cg_html_row_end(cg_html_report *r);

/* The page written to path (atomically, fileio.h). */
cg_status cg_html_report_write(cg_html_report *r, const char *path);

#endif
