/* gv() through Graphviz's library (see diagram.h). */
#include "report/diagram.h"

#include <gvc.h>
#include <stdlib.h>
#include <string.h>

#define GV_BODY_MAX (1 << 20) /* a diagram's source, 1 MiB at most */

/* Graphviz prints its warnings and errors to stderr unless a handler takes
 * them; the library prints nothing, so they are dropped here and a failure
 * is reported through cg_fail. */
static int quiet_errors(char *msg) {
    (void)msg;
    return 0;
}

cg_status cg_gv_svg(const char *body, char **svg, size_t *len) {
    *svg = NULL;
    *len = 0;
    size_t n = body ? strlen(body) : 0;
    if (!body || n > GV_BODY_MAX)
        return cg_fail(CG_ERR_VALUE, "gv: the diagram source is %s", body ? "over 1 MiB" : "missing");
    static const char head[] = "digraph G{ rankdir=\"LR\"\n", tail[] = "; }";
    char *src = malloc(sizeof head + n + sizeof tail);
    if (!src) return cg_fail(CG_ERR_NOMEM, "gv: no memory for the source");
    memcpy(src, head, sizeof head - 1);
    memcpy(src + sizeof head - 1, body, n);
    memcpy(src + sizeof head - 1 + n, tail, sizeof tail);

    agseterrf(quiet_errors);
    GVC_t *gvc = gvContext();
    Agraph_t *g = gvc ? agmemread(src) : NULL;
    cg_status st = CG_OK;
    char *out = NULL;
    unsigned int out_len = 0;
    if (!gvc) st = cg_fail(CG_ERR_NOMEM, "gv: Graphviz could not make a context");
    else if (!g) st = cg_fail(CG_ERR_FORMAT, "gv: Graphviz could not parse '%.200s'", body);
    else if (gvLayout(gvc, g, "dot") != 0) st = cg_fail(CG_ERR_VALUE, "gv: dot could not lay out '%.200s'", body);
    else if (gvRenderData(gvc, g, "svg", &out, &out_len) != 0 || !out)
        st = cg_fail(CG_ERR_IO, "gv: Graphviz could not render SVG (is its core plugin installed?)");
    if (st == CG_OK) {
        *svg = malloc((size_t)out_len + 1);
        if (!*svg) st = cg_fail(CG_ERR_NOMEM, "gv: no memory for %u bytes of SVG", out_len);
        else {
            memcpy(*svg, out, out_len);
            (*svg)[out_len] = '\0';
            *len = out_len;
        }
    }
    if (out) gvFreeRenderData(out);
    if (g) {
        gvFreeLayout(gvc, g);
        agclose(g);
    }
    if (gvc) gvFreeContext(gvc);
    free(src);
    return st;
}
