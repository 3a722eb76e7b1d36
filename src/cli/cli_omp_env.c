/* How long an idle OpenMP thread spins before it sleeps, for the command line.
 *
 * libgomp lets a thread that finished its share of a parallel region spin
 * for GOMP_SPINCOUNT turns (300,000 by default) waiting for the next one,
 * then sleep.  On a quiet machine that saves the wake-up between the many
 * short regions of a training step.  On a loaded one it is what makes two
 * threads slower than one: the spinning helper takes a core from the
 * thread that has work, and from the other job.  Measured on the 2-core
 * Xeon of 4 December, seconds, the least and most of 3 runs of `cgrad
 * train ... --threads 2` (one build, one session), with one busy loop
 * beside it and then quiet:
 *
 *   GOMP_SPINCOUNT     cnn, 6,400 digits, 1 epoch    resnet18, 1,280 digits, 2 epochs
 *                      loaded       quiet            loaded        quiet
 *   (--threads 1)      3.41-3.50                     4.28-4.34
 *   300000 (default)   4.66-6.98    1.91-2.00        7.58-13.22    2.94-3.06
 *   10000              3.55-3.74    1.93-1.98        4.66-4.82     3.00-3.06
 *   3000               3.32-3.53    1.94-2.08        4.58-4.60     3.03-3.08
 *   1000               3.44-3.67    2.09-2.16        4.47-4.60     3.37-3.41
 *   0                  3.42-3.57    2.44-2.50        4.33-4.41     3.80-3.85
 *
 * 3000 turns keep the quiet speed (within 3% of the default) and bring the
 * loaded runs to one thread's time (the cnn's the same, resnet18's 6% over);
 * fewer turns lose the quiet speed, more the loaded one.
 *
 * libgomp reads its variables once, in its constructor, before main and
 * before even an executable's .preinit_array (a setenv there was not seen:
 * OMP_DISPLAY_ENV=verbose still printed 300000), so the variable is set and
 * the program started again; a user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY
 * is left alone, and sets it without the second exec (as under valgrind,
 * below, where a user who wants it sets it). */
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
