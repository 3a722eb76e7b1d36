/* How long an idle OpenMP thread spins before it sleeps, for the command line.
 *
 * libgomp lets a thread that finished its share of a parallel region spin
 * for GOMP_SPINCOUNT turns (300,000 by default) waiting for the next one,
 * then sleep.  On a quiet machine that saves the wake-up between the many
 * short regions of a training step.  On a loaded one it is what makes two
 * threads slower than one: the spinning helper takes a core from the
 * thread that has work, and from the other job.  `bench/loaded.sh` on the
 * 2-core Xeon of 4 December (family 6 model 167), seconds, the least and
 * most of 3 runs of `cgrad train --threads 2` on cuts of MNIST, with one
 * busy loop beside it and then quiet:
 *
 *   GOMP_SPINCOUNT     cnn, 6,400 digits, 1 epoch    resnet18, 1,280 digits, 2 epochs
 *                      loaded       quiet            loaded        quiet
 *   (--threads 1)      3.36-3.49                     4.24-4.30
 *   300000 (default)   5.97-6.55    2.03-2.10        11.26-12.05   2.94-3.00
 *   10000              3.45-3.60    2.00-2.06        4.91-5.03     3.02-3.07
 *   3000               3.32-3.51    2.04-2.06        4.74-4.80     2.96-3.01
 *   1000               3.40-3.46    2.10-2.19        4.67-4.78     3.22-3.26
 *   0                  3.42-3.50    2.47-2.64        4.68-4.77     3.78-3.83
 *
 * 3000 turns keep the quiet speed (within 2% of the default) and bring the
 * loaded runs to one thread's time or near it (the cnn's the same, resnet18's
 * 12% over, where fewer turns gain nothing loaded and lose 8-28% quiet).
 *
 * libgomp reads its variables once, in its constructor, before main and
 * before even an executable's .preinit_array (a setenv there was not seen:
 * OMP_DISPLAY_ENV=verbose still printed 300000), so the variable is set and
 * the program started again.  A user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY
 * is left alone (no second exec), as is a run under valgrind (below). */
#include "cli/cli_omp_env.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLI_OMP_SPINCOUNT "3000"

/* Under valgrind (its preload libraries named in LD_PRELOAD) the exec would
 * start the program outside it: valgrind refuses `cgrad` run that way
 * ("You cannot run ... directly", exit 1), so there the run goes on with
 * libgomp's default. */
static bool under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

void cli_omp_env_apply(char **argv) {
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY") || under_valgrind()) return;
    if (setenv("GOMP_SPINCOUNT", CLI_OMP_SPINCOUNT, 0) != 0) return;
    execv("/proc/self/exe", argv);
    /* no exec (no /proc): this process goes on with libgomp's default, as before */
    unsetenv("GOMP_SPINCOUNT");
}
