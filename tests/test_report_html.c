/* The HTML report (src/report/html_report.c) and gv() (src/report/diagram.c):
 * escaping, base64 data: URIs worked out by hand (RFC 4648's examples), the
 * pixel table's per-column Greys shading, the scratch folder, the written
 * page, and Graphviz's layout of the chapter's SGD loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad.h"
#include "report/diagram.h"
#include "report/html_report.h"

/* The page r writes, read back (malloc'd). */
static char *page_of(cg_html_report *r) {
    char dir[] = "/tmp/cgrad-test-html-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/index.html", dir);
    assert_int_equal(cg_html_report_write(r, path), CG_OK);
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(cg_read_file(path, &data, &len), CG_OK);
    assert_int_equal(strlen(data), len);
    unlink(path);
    rmdir(dir);
    return data;
}

static void test_text_is_escaped(void **state) {
    (void)state;
    cg_html_report *r = cg_html_report_new("a <b> & 'c'");
    assert_non_null(r);
    assert_int_equal(cg_html_heading(r, 2, "1. x < y"), CG_OK);
    assert_int_equal(cg_html_heading(r, 2, "2. \"z\""), CG_OK);
    assert_int_equal(cg_html_para(r, "<img src=%s> & %d", "\"x.png\"", 7), CG_OK);
    assert_int_equal(cg_html_pre(r, "tensor([ 6.,  8., 20.]) <&>"), CG_OK);
    const cg_html_compare_row rows[] = {{"acc", "0.9511", "0.9511"}, {"loss", "", "0.1"}};
    assert_int_equal(cg_html_compare(r, rows, 2), CG_OK);
    /* the top losses' table: a header, rows of cells, an empty cell as a dash */
    const char *const header[] = {"image", "loss"};
    const char *const cells[] = {"valid/3/<x>.png", "0.5", "7", ""};
    assert_int_equal(cg_html_table(r, header, 2, cells, 2), CG_OK);
    assert_int_equal(cg_html_table(r, header, 0, cells, 2), CG_ERR_VALUE);
    assert_int_equal(cg_html_heading(r, 5, "no"), CG_ERR_VALUE);
    char *page = page_of(r);
    assert_non_null(strstr(page, "<title>a &lt;b&gt; &amp; &#39;c&#39;</title>"));
    assert_non_null(strstr(page, "<h2 id=\"step-1\">1. x &lt; y</h2>"));
    assert_non_null(strstr(page, "<h2 id=\"step-2\">2. &quot;z&quot;</h2>"));
    assert_non_null(strstr(page, "<p>&lt;img src=&quot;x.png&quot;&gt; &amp; 7</p>"));
    assert_non_null(strstr(page, "<pre>tensor([ 6.,  8., 20.]) &lt;&amp;&gt;</pre>"));
    assert_non_null(strstr(page, "<tr><th>acc</th><td>0.9511</td><td>0.9511</td></tr>"));
    assert_non_null(strstr(page, "<tr><th>loss</th><td>\xe2\x80\x94</td><td>0.1</td></tr>")); /* nothing published */
    assert_non_null(strstr(page, "<table class=\"cmp\"><tr><th>image</th><th>loss</th></tr>\n"
                                 "<tr><td>valid/3/&lt;x&gt;.png</td><td>0.5</td></tr>\n"
                                 "<tr><td>7</td><td>\xe2\x80\x94</td></tr>\n</table>"));
    assert_null(strstr(page, "<img src")); /* the escaped text made no element */
    /* one page: the doctype first, the browser check and the end last */
    assert_int_equal(strncmp(page, "<!DOCTYPE html>\n", 16), 0);
    assert_non_null(strstr(page, "<p id=\"cgrad-check\" data-status=\"pending\">"));
    assert_non_null(strstr(page, "naturalWidth === 0"));
    size_t n = strlen(page);
    assert_string_equal(page + n - 8, "</html>\n");
    free(page);
    cg_html_report_free(r);
}

static void test_images_are_base64_data_uris(void **state) {
    (void)state;
    cg_html_report *r = cg_html_report_new("t");
    /* RFC 4648, section 10: "f" -> "Zg==", "fo" -> "Zm8=", "foo" -> "Zm9v", "foobar" -> "Zm9vYmFy" */
    assert_int_equal(cg_html_image(r, "image/png", "f", 1, "one", NULL, 0), CG_OK);
    assert_int_equal(cg_html_image(r, "image/png", "fo", 2, "two", NULL, 0), CG_OK);
    assert_int_equal(cg_html_image(r, "image/svg+xml", "foo", 3, "three", "a caption", 480), CG_OK);
    assert_int_equal(cg_html_image(r, "image/png", "foobar", 6, "six", NULL, 0), CG_OK);
    char *page = page_of(r);
    assert_non_null(strstr(page, "<img alt=\"one\" src=\"data:image/png;base64,Zg==\">"));
    assert_non_null(strstr(page, "<img alt=\"two\" src=\"data:image/png;base64,Zm8=\">"));
    assert_non_null(strstr(page, "<img alt=\"three\" style=\"width:480px\" src=\"data:image/svg+xml;base64,Zm9v\">"
                                 "<figcaption>a caption</figcaption>"));
    assert_non_null(strstr(page, "<img alt=\"six\" src=\"data:image/png;base64,Zm9vYmFy\">"));
    free(page);
    cg_html_report_free(r);
}

/* A picture written by a library call into the scratch folder is embedded, then removed. */
static void test_scratch_files_are_embedded_and_removed(void **state) {
    (void)state;
    cg_html_report *r = cg_html_report_new("t");
    char path[4096], path2[4096];
    assert_int_equal(cg_html_scratch_path(r, "a.png", path, sizeof path), CG_OK);
    assert_int_equal(cg_html_scratch_path(r, "b.svg", path2, sizeof path2), CG_OK);
    assert_int_equal(cg_html_scratch_path(r, "../x", path2, sizeof path2), CG_ERR_VALUE);
    cg_tensor *img = cg_zeros(CG_UINT8, CG_SHAPE(2, 3));
    assert_int_equal(cg_png_write(path, img), CG_OK);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(cg_html_embed_file(r, path, "a", NULL, 0), CG_OK);
    assert_int_not_equal(access(path, F_OK), 0); /* gone */
    char *page = page_of(r);
    /* every PNG starts with 89 50 4E 47 0D 0A 1A 0A: base64 "iVBORw0KGgo" */
    assert_non_null(strstr(page, "<img alt=\"a\" src=\"data:image/png;base64,iVBORw0KGgo"));
    free(page);
    /* the folder goes with the report */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    cg_html_report_free(r);
    assert_int_not_equal(stat(dir, &st), 0);
    cg_release(img);
}

/* background_gradient('Greys') per column: min white, max black, a flat column white;
 * text light where the cell's luminance is under pandas' 0.408. */
static void test_pixel_table_shading(void **state) {
    (void)state;
    cg_tensor *t = cg_from_data(CG_UINT8, CG_SHAPE(3, 2), (uint8_t[]){0, 10, 128, 10, 255, 10});
    cg_html_report *r = cg_html_report_new("t");
    assert_int_equal(cg_html_pixel_table(r, t, 4, 6), CG_OK);
    char *page = page_of(r);
    assert_non_null(strstr(page, "<tr><th></th><th>6</th><th>7</th></tr>"));
    assert_non_null(strstr(page, "<tr><th>4</th><td style=\"background:#ffffff;color:#000000\">0</td>"
                                 "<td style=\"background:#ffffff;color:#000000\">10</td></tr>"));
    /* 128 of 0..255: Greys(0.502) = 149 (test_show), luminance 0.30: light text */
    assert_non_null(strstr(page, "<tr><th>5</th><td style=\"background:#959595;color:#f1f1f1\">128</td>"));
    assert_non_null(strstr(page, "<tr><th>6</th><td style=\"background:#000000;color:#f1f1f1\">255</td>"));
    free(page);
    cg_tensor *flat = cg_zeros(CG_UINT8, CG_SHAPE(3));
    assert_int_equal(cg_html_pixel_table(r, flat, 0, 0), CG_ERR_SHAPE);
    cg_release(flat);
    cg_html_report_free(r);
    cg_release(t);
}

/* gv('init->predict->loss->gradient->step->stop; step->predict[label=repeat]') */
static void test_gv_lays_out_the_sgd_loop(void **state) {
    (void)state;
    char *svg = NULL;
    size_t n = 0;
    assert_int_equal(cg_gv_svg("init->predict->loss->gradient->step->stop\nstep->predict[label=repeat]", &svg, &n),
                     CG_OK);
    assert_int_equal(strlen(svg), n);
    assert_non_null(strstr(svg, "Generated by graphviz"));
    assert_non_null(strstr(svg, "<svg"));
    const char *nodes[] = {">init</text>", ">predict</text>", ">loss</text>", ">gradient</text>",
                           ">step</text>", ">stop</text>", ">repeat</text>"};
    for (int i = 0; i < 7; i++) assert_non_null(strstr(svg, nodes[i]));
    /* six nodes and six edges (five in the chain, the repeat) */
    int nodes_n = 0, edges_n = 0;
    for (const char *p = svg; (p = strstr(p, "class=\"node\"")); p++) nodes_n++;
    for (const char *p = svg; (p = strstr(p, "class=\"edge\"")); p++) edges_n++;
    assert_int_equal(nodes_n, 6);
    assert_int_equal(edges_n, 6);
    /* rankdir LR: the drawing is wider than tall */
    double w = 0, h = 0;
    const char *vb = strstr(svg, "viewBox=\"");
    assert_non_null(vb);
    assert_int_equal(sscanf(vb, "viewBox=\"%*f %*f %lf %lf\"", &w, &h), 2);
    assert_true(w > 3 * h);
    free(svg);
    assert_int_equal(cg_gv_svg("a -> -> }", &svg, &n), CG_ERR_FORMAT);
    assert_null(svg);
    assert_non_null(strstr(cg_last_error(), "could not parse"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_is_escaped),
        cmocka_unit_test(test_images_are_base64_data_uris),
        cmocka_unit_test(test_scratch_files_are_embedded_and_removed),
        cmocka_unit_test(test_pixel_table_shading),
        cmocka_unit_test(test_gv_lays_out_the_sgd_loop),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cg_pool_trim();
    return rc;
}
