/* cgrad data — get, list and remove datasets (include/cgrad/datasets.h).
 *
 *   cgrad data get mnist_sample        prints the dataset's folder on stdout,
 *                                      progress on stderr
 *   cgrad data list [--known]          what is cached: name, size, files, path
 *   cgrad data rm mnist_sample         deletes it from the cache
 *
 * Options (any subcommand): --home DIR (else $CGRAD_HOME, else ~/.cgrad),
 * --mirror DIR|URL (else $CGRAD_MIRROR; "" for none), --force, --quiet. */
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgrad.h"
#include "cli/cli_common.h"
#include "cli/cli_escape.h"
#include "cli/cli_json.h"
#include "cli/commands.h"

#define DATA_COMMON (CLI_QUIET | CLI_JSON | CLI_DATA)

static void data_usage(FILE *f) {
    fprintf(f,
            "usage: cgrad data get NAME|URL [--force] [--quiet] [--json]\n"
            "       cgrad data list [--known] [--json]\n"
            "       cgrad data rm NAME|URL [--json]\n"
            "\n"
            "Gets a dataset into the cache like fastai's untar_data, and prints its folder.\n"
            "Known names: mnist_sample, mnist, mnist_png (`cgrad data list --known`).\n"
            "\n"
            "`data get` prints the folder on stdout, its progress on stderr; the data goes to\n"
            "the cache, HOME/data/NAME (--home; data has no --out).\n"
            "\n"
            "options:\n"
            "  --mirror M      folder, file:// or http(s):// prefix serving the files (default\n"
            "                  $CGRAD_MIRROR; \"\" to use the original URLs)\n"
            "  --force         fetch again even if cached (the old copy stays until the new one is good)\n"
            "  --known         list the datasets cgrad knows, cached or not\n"
            "\n"
            "--json: get prints {\"name\", \"path\"}, list an array of {\"name\", \"bytes\", \"files\",\n"
            "\"path\"} (--known: {\"name\", \"cached\", \"description\"}), rm {\"name\", \"removed\"}.\n"
            "\n");
    cli_common_help(f, DATA_COMMON);
}

/* ---- progress on stderr ------------------------------------------------------------ */

typedef struct printer {
    bool quiet;
    bool tty;
    cg_get_stage stage; /* the stage whose line is open */
    bool line_open;
    double stage_start_s; /* when the current stage (or item) began, for rate and ETA */
    const char *item;
} printer;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *stage_verb(cg_get_stage s) {
    switch (s) {
    case CG_GET_DOWNLOAD: return "downloading";
    case CG_GET_COPY: return "copying";
    case CG_GET_EXTRACT: return "extracting";
    case CG_GET_VERIFY: return "verifying";
    default: return "";
    }
}

static void human_bytes(char *out, size_t n, uint64_t bytes) {
    if (bytes >= 1000000) snprintf(out, n, "%.1f MB", (double)bytes / 1e6);
    else if (bytes >= 1000) snprintf(out, n, "%.1f kB", (double)bytes / 1e3);
    else snprintf(out, n, "%" PRIu64 " B", bytes);
}

/* Ctrl-C: the first one cancels cleanly (the library removes its temp folder
 * and returns CG_ERR_CANCELLED at its next progress report); SA_RESETHAND
 * makes a second one kill the process as usual. */
static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) {
    (void)sig;
    interrupted = 1;
}

static int print_progress(const cg_get_progress *p, void *user) {
    printer *pr = user;
    if (interrupted) return 1;
    /* A repaired cache or a removed leftover is news, not progress: said even with --quiet. */
    if (p->stage == CG_GET_CLEAN || p->stage == CG_GET_REPAIR) {
        if (pr->line_open) fputc('\n', stderr);
        pr->line_open = false;
        fprintf(stderr, "cgrad: %s\n", cli_esc(p->message ? p->message : p->dataset));
        return 0;
    }
    if (pr->quiet) return 0;
    if (p->stage == CG_GET_RETRY) {
        if (pr->line_open) fputc('\n', stderr);
        pr->line_open = false;
        fprintf(stderr, "cgrad: %s: %s\n", cli_esc(p->item ? p->item : p->dataset),
                cli_esc(p->message ? p->message : "retrying"));
        return 0;
    }
    if (pr->line_open && p->stage != pr->stage) {
        fputc('\n', stderr);
        pr->line_open = false;
    }
    if (p->stage != pr->stage || p->done == 0) pr->stage_start_s = now_s(); /* each item starts at 0 */
    pr->stage = p->stage;
    pr->item = p->item;
    double elapsed = now_s() - pr->stage_start_s;
    bool bytes = p->stage == CG_GET_DOWNLOAD || p->stage == CG_GET_EXTRACT;
    bool finished = p->total > 0 && p->done >= p->total;
    if (!pr->tty && !finished) return 0; /* logs get one line per stage */
    char done[32], total[32];
    if (bytes) {
        human_bytes(done, sizeof done, p->done);
        human_bytes(total, sizeof total, p->total);
    } else {
        snprintf(done, sizeof done, "%" PRIu64, p->done);
        snprintf(total, sizeof total, "%" PRIu64, p->total);
    }
    fprintf(stderr, "%s%s %s", pr->tty ? "\r\033[K" : "", stage_verb(p->stage), cli_esc(p->dataset));
    if (p->total > 0) {
        int width = 30, filled = (int)((double)width * (double)p->done / (double)p->total);
        if (filled > width) filled = width;
        fprintf(stderr, " |%.*s%*s| %3d%% %s/%s%s", filled, "##############################", width - filled, "",
                (int)(100.0 * (double)p->done / (double)p->total), done, total, bytes ? "" : " files");
    } else {
        fprintf(stderr, " %s%s", done, bytes ? "" : " files");
    }
    if (finished && elapsed >= 0.05) {
        fprintf(stderr, " in %.1f s", elapsed);
    } else if (p->stage == CG_GET_DOWNLOAD && elapsed > 0.5 && p->done > 0) {
        double rate = (double)p->done / elapsed; /* bytes per second */
        char per_s[32];
        human_bytes(per_s, sizeof per_s, (uint64_t)rate);
        fprintf(stderr, " %s/s", per_s);
        if (p->total > p->done) fprintf(stderr, ", %.0f s left", (double)(p->total - p->done) / rate);
    }
    pr->line_open = true;
    if (!pr->tty) {
        fputc('\n', stderr);
        pr->line_open = false;
    }
    fflush(stderr);
    return 0;
}

/* ---- subcommands --------------------------------------------------------------------- */

static int data_get(const char *name, cg_get_options *opt, bool quiet, bool json) {
    printer pr = {.quiet = quiet, .tty = isatty(STDERR_FILENO) != 0, .stage = CG_GET_STAGE_COUNT};
    opt->progress = print_progress; /* also when quiet: it is how Ctrl-C cancels */
    opt->progress_user = &pr;
    struct sigaction sa = {.sa_handler = on_interrupt, .sa_flags = SA_RESETHAND}, old_sa;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    char path[4096];
    cg_status st = cg_dataset_get(name, opt, path, sizeof path);
    sigaction(SIGINT, &old_sa, NULL);
    if (pr.line_open) fputc('\n', stderr);
    if (st != CG_OK) return cli_fail_last();
    if (json) {
        printf("{\"name\": ");
        cli_json_string(stdout, name);
        printf(", \"path\": ");
        cli_json_string(stdout, path);
        printf("}\n");
    } else {
        printf("%s\n", cli_esc(path));
    }
    return 0;
}

/* --json of data list: one array. */
static void list_json(const cg_cached_dataset *cached, int n, bool known) {
    printf("[");
    if (known)
        for (int i = 0; i < cg_dataset_count_known(); i++) {
            const cg_dataset_info *info = cg_dataset_at(i);
            bool is_cached = false;
            for (int j = 0; j < n; j++) is_cached |= !strcmp(cached[j].name, info->name);
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_string(stdout, info->name);
            printf(", \"cached\": %s, \"description\": ", is_cached ? "true" : "false");
            cli_json_string(stdout, info->description);
            printf("}");
        }
    else
        for (int i = 0; i < n; i++) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_string(stdout, cached[i].name);
            printf(", \"bytes\": %" PRIu64 ", \"files\": %" PRIu64 ", \"path\": ", (uint64_t)cached[i].bytes,
                   (uint64_t)cached[i].files);
            cli_json_string(stdout, cached[i].path);
            printf("}");
        }
    printf("]\n");
}

static int data_list(const cg_get_options *opt, bool known, bool json) {
    cg_cached_dataset *cached = NULL;
    int n = 0;
    if (cg_dataset_list_cached(opt, &cached, &n) != CG_OK) return cli_fail_last();
    char home[4096] = "";
    cg_data_home(opt, home, sizeof home);
    if (json) {
        list_json(cached, n, known);
    } else if (known) {
        printf("%-14s %-8s %s\n", "name", "cached", "description");
        for (int i = 0; i < cg_dataset_count_known(); i++) {
            const cg_dataset_info *info = cg_dataset_at(i);
            bool is_cached = false;
            for (int j = 0; j < n; j++) is_cached |= !strcmp(cached[j].name, info->name);
            printf("%-14s %-8s %s\n", info->name, is_cached ? "yes" : "no", info->description);
        }
    } else if (n == 0) {
        printf("no datasets cached in %s/data\n", cli_esc(home));
    } else {
        printf("%-14s %10s %8s  %s\n", "name", "size", "files", "path");
        for (int i = 0; i < n; i++) {
            char size[32];
            human_bytes(size, sizeof size, cached[i].bytes);
            printf("%-14s %10s %8" PRIu64 "  %s\n", cli_esc(cached[i].name), size, cached[i].files,
                   cli_esc(cached[i].path));
        }
    }
    free(cached);
    return 0;
}

enum { O_FORCE, O_KNOWN };
static const cli_option data_options[] = {
    [O_FORCE] = {"--force", false}, [O_KNOWN] = {"--known", false},
};

int cmd_data(int argc, char **argv) {
    cg_get_options opt = {0};
    bool quiet = false, known = false;
    const char *action = NULL, *name = NULL, *v;
    int i = 0, n_opts = (int)(sizeof data_options / sizeof data_options[0]);
    bool dashes = false;
    cli_common c = cli_common_init(DATA_COMMON, 0);
    for (int k; (k = cli_parse("data", data_options, n_opts, &c, argc, argv, &i, &dashes, &v, data_usage)) != -2;) {
        switch (k) {
        case CLI_USAGE: return 2;
        case CLI_DONE: return 0;
        case -1:
            if (!action) action = v;
            else if (!name) name = v;
            else return cli_usage_error("data", data_usage, "unexpected argument '%s'", cli_esc(v));
            break;
        case O_FORCE: opt.force = true; break;
        case O_KNOWN: known = true; break;
        default: break;
        }
    }
    opt.home = c.home, opt.mirror = c.mirror, quiet = c.quiet; /* passed on, not through the environment */
    if (!action) return cli_usage_error("data", data_usage, "which action? (get, list or rm)");
    if (!strcmp(action, "list")) {
        if (name) return cli_usage_error("data", data_usage, "list takes no NAME (got '%s')", cli_esc(name));
        return data_list(&opt, known, c.json);
    }
    if (!strcmp(action, "get") || !strcmp(action, "rm")) {
        if (!name) {
            fprintf(stderr, "cgrad: data %s: which dataset? (e.g. mnist_sample)\n", action);
            return 2;
        }
        if (!strcmp(action, "get")) return data_get(name, &opt, quiet, c.json);
        if (cg_dataset_remove(name, &opt) != CG_OK) return cli_fail_last();
        if (c.json) {
            printf("{\"name\": ");
            cli_json_string(stdout, name);
            printf(", \"removed\": true}\n");
        }
        return 0;
    }
    return cli_usage_error("data", data_usage, "unknown action '%s'", cli_esc(action));
}
