/* How long an idle OpenMP thread spins before it sleeps, for the command line.
 *
 * libgomp lets a thread that finished its share of a parallel region spin
 * for GOMP_SPINCOUNT turns (300,000 by default) waiting for the next one,
 * then sleep.  On a quiet machine that saves the wake-up between the many
 * short regions of a training step.  On a loaded one it is what makes two
 * threads slower than one: the spinning helper takes a core from the
 * thread that has work, and from the other job.  Measured on the 2-core
 * Xeon of 4 December, a 6,400-digit cnn epoch (`cgrad train --model cnn
 * --epochs 1`, best-to-worst of 3 runs), with one busy loop beside it:
 * --threads 1 3.69-3.87 s; --threads 2 4.67-5.32 s with libgomp's default,
 * 3.70-4.14 with GOMP_SPINCOUNT=10000, 3.49-3.57 with 3000, 3.47-3.59 with
 * 1000, 3.44-3.66 with OMP_WAIT_POLICY=passive.  Quiet, on 2 threads: the
 * default 2.02-2.15 s, 10000 1.90-1.93, 3000 1.96-1.98, 1000 2.12-2.14,
 * passive 2.59.  10,000 turns keep the quiet speed and bring the loaded
 * run to one thread's.
 *
 * libgomp reads its variables once, in its constructor, before main and
 * before even an executable's .preinit_array (a setenv there was not seen:
 * OMP_DISPLAY_ENV=verbose still printed 300000), so the variable is set and
 * the program started again; a user's own GOMP_SPINCOUNT or OMP_WAIT_POLICY
 * is left alone, and sets it without the second exec. */
#include "cli/cli_omp_env.h"

#include <stdlib.h>
#include <unistd.h>

#define CLI_OMP_SPINCOUNT "10000"

void cli_omp_env_apply(char **argv) {
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY")) return;
    if (setenv("GOMP_SPINCOUNT", CLI_OMP_SPINCOUNT, 0) != 0) return;
    execv("/proc/self/exe", argv);
    /* no exec (no /proc): this process goes on with libgomp's default, as before */
    unsetenv("GOMP_SPINCOUNT");
}
