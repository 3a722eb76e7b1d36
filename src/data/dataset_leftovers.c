/* What a killed process leaves in the cache, and the lock that serialises
 * the gets of one dataset.  The names (include/cgrad/datasets.h, ATOMICITY):
 *
 *   <home>/data/.<name>.tmp.<pid>.<n>/   a dataset being built
 *   <home>/data/.<name>.old.<pid>.<n>/   an old copy being deleted (after a swap or an rm)
 *   <home>/data/.<name>.lock             the dataset's lock (flock), holding its holder's pid
 *   <home>/archive/<file>.tmp.<pid>.<n>  a download or a record being written (fileio.h's
 *                                        temp files)
 *
 * A temp file or folder is a leftover when its <pid> is no longer running:
 * kill(pid, 0) fails with ESRCH.  (A pid that was reused since makes us keep a
 * leftover, never remove a live one.)  A temp folder of dataset X is also kept
 * while X's lock is held, which covers a builder whose pid we cannot see (a
 * cache shared with another pid namespace).  A lock file is a leftover when no
 * one holds it and the pid it records is dead, or it records none (cgrad
 * before this file kept empty lock files forever).
 *
 * The lock file is deleted by whoever holds it, just before unlocking, so a
 * finished get leaves none.  That is safe with flock because a waiter, once it
 * holds the lock, checks that the path still names the file it locked; if not
 * (deleted, or replaced since), it takes the new one instead. */
#include "data/fetch_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgrad/fileio.h"

#define PATH_CAP 4096

/* ---- names and pids ------------------------------------------------------------ */

static bool pid_alive(long pid) {
    if (pid <= 0 || pid > INT_MAX) return false; /* kill(0) or kill(-1) would mean a group */
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH; /* EPERM: alive, another user's */
}

static bool digits(const char *s, size_t len) {
    if (len == 0 || len > 18) return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* Splits "<stem>.<kind>.<pid>.<n>" (kind "tmp" or "old"): the stem's length
 * and the pid.  False for any other name. */
static bool parse_temp_name(const char *name, size_t *stem_len, long *pid, bool *is_old) {
    size_t len = strlen(name);
    const char *last = strrchr(name, '.');
    if (!last || !digits(last + 1, len - (size_t)(last - name) - 1)) return false;
    const char *p = last;
    while (p > name && p[-1] != '.') p--;
    if (p == name || !digits(p, (size_t)(last - p))) return false;
    const char *kind_dot = p - 1; /* the '.' before <pid> */
    if (kind_dot - name < 4) return false;
    const char *kind = kind_dot - 3;
    if (kind[-1] != '.' || (strncmp(kind, "tmp", 3) && strncmp(kind, "old", 3))) return false;
    *stem_len = (size_t)(kind - 1 - name);
    *is_old = kind[0] == 'o';
    *pid = strtol(p, NULL, 10);
    return *stem_len > 0;
}

bool cg_is_temp_name(const char *name) {
    size_t stem_len;
    long pid;
    bool is_old;
    return parse_temp_name(name, &stem_len, &pid, &is_old);
}

static cg_status join(char *out, const char *a, const char *b) {
    if (snprintf(out, PATH_CAP, "%s/%s", a, b) >= PATH_CAP) return cg_fail(CG_ERR_VALUE, "%s/%s: path too long", a, b);
    return CG_OK;
}

/* True when someone holds dataset `name`'s lock right now (probed with a
 * shared, non-blocking flock; no file means no holder). */
static bool lock_is_held(const char *data_dir, const char *name, size_t name_len) {
    char path[PATH_CAP];
    if (snprintf(path, sizeof path, "%s/.%.*s.lock", data_dir, (int)name_len, name) >= (int)sizeof path) return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return false;
    bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    if (!held) flock(fd, LOCK_UN);
    close(fd);
    return held;
}

static cg_status report_removed(cg_fetch_ctx *ctx, const char *path, const char *what, long pid) {
    char msg[PATH_CAP + 256];
    if (pid > 0) snprintf(msg, sizeof msg, "removed %s, %s left by process %ld (no longer running)", path, what, pid);
    else snprintf(msg, sizeof msg, "removed %s, %s", path, what);
    return cg_fetch_report_message(ctx, CG_GET_CLEAN, path, msg);
}

/* ---- lock files ------------------------------------------------------------------ */

/* A lock file nobody holds whose pid is dead (or unrecorded) is removed, with
 * the lock held while unlinking so no one can be mid-take on it unseen. */
static cg_status sweep_lock_file(cg_fetch_ctx *ctx, const char *path) {
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return CG_OK;
    cg_status st = CG_OK;
    struct stat held, now;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* in use */
        close(fd);
        return CG_OK;
    }
    if (fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && lstat(path, &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
        char text[32] = "";
        ssize_t got = pread(fd, text, sizeof text - 1, 0);
        text[got > 0 ? got : 0] = '\0';
        size_t n = strcspn(text, "\n");
        long pid = digits(text, n) ? strtol(text, NULL, 10) : 0;
        if (pid > 0 && pid_alive(pid)) {
            /* Recorded by a live process that does not hold it right now: keep. */
        } else if (unlink(path) == 0) {
            st = pid > 0 ? report_removed(ctx, path, "a lock file", pid)
                         : report_removed(ctx, path, "a lock file no one held that names no process (left by an "
                                                     "older cgrad)", 0);
        }
    }
    flock(fd, LOCK_UN);
    close(fd);
    return st;
}

/* ---- the sweep --------------------------------------------------------------------- */

static cg_status sweep_dir(cg_fetch_ctx *ctx, const char *dir, bool is_data_dir) {
    DIR *d = opendir(dir);
    if (!d) return CG_OK; /* nothing there yet */
    cg_status st = CG_OK;
    struct dirent *e;
    char path[PATH_CAP];
    while (st == CG_OK && (e = readdir(d))) {
        const char *name = e->d_name;
        size_t len = strlen(name), stem_len;
        long pid;
        bool is_old;
        if (join(path, dir, name) != CG_OK) continue;
        if (is_data_dir && name[0] == '.' && len > 6 && !strcmp(name + len - 5, ".lock")) {
            st = sweep_lock_file(ctx, path);
            continue;
        }
        if (!parse_temp_name(name, &stem_len, &pid, &is_old) || pid_alive(pid)) continue;
        struct stat sb;
        if (lstat(path, &sb) != 0) continue;
        if (is_data_dir) {
            /* .<name>.tmp.<pid>.<n>: a folder of dataset <name>; kept while its lock is held. */
            if (name[0] != '.' || !S_ISDIR(sb.st_mode) || lock_is_held(dir, name + 1, stem_len - 1)) continue;
            if (cg_remove_tree(path) == CG_OK)
                st = report_removed(ctx, path, is_old ? "an old copy being deleted" : "a temp folder", pid);
        } else {
            if (!S_ISREG(sb.st_mode)) continue;
            if (unlink(path) == 0) st = report_removed(ctx, path, "a temp file", pid);
        }
    }
    closedir(d);
    return st;
}

cg_status cg_leftovers_sweep(cg_fetch_ctx *ctx, const char *data_dir, const char *archive_dir) {
    cg_status st = sweep_dir(ctx, data_dir, true);
    if (st == CG_OK) st = sweep_dir(ctx, archive_dir, false);
    return st;
}

/* True when `s` is "<digits>.<digits>" (pid.counter) and nothing else, so
 * dataset "a" never takes ".a.tmp.tmp.1.0" (a temp of dataset "a.tmp") for its own. */
static bool is_pid_suffix(const char *s, long *pid) {
    const char *dot = strchr(s, '.');
    if (!dot || !digits(s, (size_t)(dot - s)) || !digits(dot + 1, strlen(dot + 1))) return false;
    *pid = strtol(s, NULL, 10);
    return true;
}

static cg_status remove_own(cg_fetch_ctx *ctx, const char *path, const char *what, long pid, const char *name) {
    if (cg_remove_tree(path) != CG_OK) return CG_OK; /* best effort; the build goes on beside it */
    if (!pid_alive(pid)) return report_removed(ctx, path, what, pid);
    char msg[PATH_CAP + 256];
    snprintf(msg, sizeof msg, "removed %s, %s left by an earlier get of %s (process %ld does not hold its lock)",
             path, what, name, pid);
    return cg_fetch_report_message(ctx, CG_GET_CLEAN, path, msg);
}

cg_status cg_leftovers_remove_own(cg_fetch_ctx *ctx, const char *data_dir, const char *name,
                                  const char *archive_dir, const char *const *archives, int n) {
    char tmp_prefix[256], old_prefix[256], prefix[512], path[PATH_CAP];
    snprintf(tmp_prefix, sizeof tmp_prefix, ".%s.tmp.", name);
    snprintf(old_prefix, sizeof old_prefix, ".%s.old.", name);
    size_t tl = strlen(tmp_prefix), ol = strlen(old_prefix);
    cg_status st = CG_OK;
    struct dirent *e;
    long pid;
    DIR *d = opendir(data_dir);
    while (d && st == CG_OK && (e = readdir(d))) {
        bool tmp = !strncmp(e->d_name, tmp_prefix, tl) && is_pid_suffix(e->d_name + tl, &pid);
        bool old = !tmp && !strncmp(e->d_name, old_prefix, ol) && is_pid_suffix(e->d_name + ol, &pid);
        if ((tmp || old) && join(path, data_dir, e->d_name) == CG_OK)
            st = remove_own(ctx, path, tmp ? "a temp folder" : "an old copy being deleted", pid, name);
    }
    if (d) closedir(d);
    for (int i = 0; st == CG_OK && i < n; i++) {
        snprintf(prefix, sizeof prefix, "%s.tmp.", archives[i]);
        size_t pl = strlen(prefix);
        if (!(d = opendir(archive_dir))) break;
        while (st == CG_OK && (e = readdir(d)))
            if (!strncmp(e->d_name, prefix, pl) && is_pid_suffix(e->d_name + pl, &pid) &&
                join(path, archive_dir, e->d_name) == CG_OK)
                st = remove_own(ctx, path, "a partial download", pid, name);
        closedir(d);
    }
    return st;
}

/* ---- the lock ------------------------------------------------------------------------ */

cg_status cg_dataset_lock_take(const char *data_dir, const char *name, cg_dataset_lock *lock) {
    lock->fd = -1;
    if (snprintf(lock->path, sizeof lock->path, "%s/.%s.lock", data_dir, name) >= (int)sizeof lock->path)
        return cg_fail(CG_ERR_VALUE, "%s: path too long", data_dir);
    for (int tries = 0; tries < 100000; tries++) {
        int fd = open(lock->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
        if (fd < 0) return cg_fail(CG_ERR_IO, "%s: cannot open lock file: %s", lock->path, strerror(errno));
        while (flock(fd, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            cg_status st = cg_fail(CG_ERR_IO, "%s: cannot lock: %s", lock->path, strerror(errno));
            close(fd);
            return st;
        }
        struct stat held, now;
        if (fstat(fd, &held) == 0 && lstat(lock->path, &now) == 0 && held.st_ino == now.st_ino &&
            held.st_dev == now.st_dev) {
            /* Ours.  The pid tells a later sweep whether we are still running;
             * failing to write it only makes the file look unowned once unlocked. */
            char text[32];
            int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
            if (ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)len, 0) != len) {
                /* nothing more to do: see above */
            }
            lock->fd = fd;
            return CG_OK;
        }
        close(fd); /* deleted or replaced while we waited: take the one there now */
    }
    return cg_fail(CG_ERR_IO, "%s: the lock file kept changing while we tried to take it", lock->path);
}

void cg_dataset_unlock(cg_dataset_lock *lock) {
    if (lock->fd < 0) return;
    unlink(lock->path); /* while still held: see the top of this file */
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
    lock->fd = -1;
}
