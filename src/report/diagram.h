/* Graph diagrams laid out by Graphviz (Debian's libgvc), as fastbook's gv()
 * draws them:
 *
 *     def gv(s): return graphviz.Source('digraph G{ rankdir="LR"' + s + '; }')
 *     gv('init->predict->loss->gradient->step->stop; step->predict[label=repeat]')
 *
 * in C:
 *
 *     char *svg; size_t n;
 *     cg_gv_svg("init->predict->loss->gradient->step->stop; step->predict[label=repeat]", &svg, &n);
 *     ...; free(svg);
 *
 * The layout is dot's, rendered to SVG in memory (gvRenderData); nothing is
 * written to disk.  Internal to the report floor and the CLI. */
#ifndef CGRAD_REPORT_DIAGRAM_H
#define CGRAD_REPORT_DIAGRAM_H

#include <stddef.h>

#include "cgrad/status.h"

/* gv(body): the digraph 'digraph G{ rankdir="LR"' + body + '; }' laid out by
 * dot, as SVG text (*svg malloc'd, NUL-terminated, *len bytes without the NUL).
 * A body Graphviz cannot parse is CG_ERR_FORMAT. */
cg_status cg_gv_svg(const char *body, char **svg, size_t *len);

#endif
