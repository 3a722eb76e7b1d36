/* The OpenMP idle policy the command line runs under (cli_omp_env.c). */
#ifndef CGRAD_CLI_OMP_ENV_H
#define CGRAD_CLI_OMP_ENV_H

/* When neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY is set, sets
 * GOMP_SPINCOUNT=CLI_OMP_SPINCOUNT and runs this program again with the same
 * arguments (execv of /proc/self/exe); returns only when it does not (the
 * variables were set, the program runs under valgrind, or the exec failed:
 * the run goes on unchanged). */
void cli_omp_env_apply(char **argv);

#endif
