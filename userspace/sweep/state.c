#include "sweep/state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAGIC "loadscope-sweep-state 1"

static int write_all(int fd, const char *text, struct error *err)
{
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return error_set(err, "writing sweep-state: %s", strerror(errno));
        off += (size_t)n;
    }
    return 0;
}

/* True when dir has entries other than . and .. */
static bool dir_has_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool any = false;
    while (!any && (e = readdir(d)))
        any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any;
}

static int create_state(const char *dir, const char *path, const char *const *config, size_t n,
                        bool *conflict, struct error *err)
{
    if (dir_has_entries(dir)) {
        *conflict = true;
        return error_set(err, "%s exists and is not a sweep directory (no sweep-state): choose "
                              "another --out", dir);
    }
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return error_set(err, "cannot create %s: %s", tmp, strerror(errno));
    int rc = write_all(fd, STATE_MAGIC "\n", err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char line[4200];
        snprintf(line, sizeof(line), "config %s\n", config[i]);
        rc = write_all(fd, line, err);
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = error_set(err, "cannot sync %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = error_set(err, "cannot create %s: %s", path, strerror(errno));
    return rc;
}

/* The config value of "key value", for the message naming what differs. */
static void split_config(const char *line, char *key, size_t klen, const char **value)
{
    size_t n = strcspn(line, " ");
    snprintf(key, klen, "%.*s", (int)n, line);
    *value = line[n] ? line + n + 1 : "";
}

static int config_mismatch(const char *dir, const char *stored, const char *wanted,
                           struct error *err)
{
    char key[64];
    const char *was, *now;
    split_config(stored ? stored : wanted, key, sizeof(key), &was);
    if (!stored)
        was = "(not set)";
    split_config(wanted ? wanted : stored, key, sizeof(key), &now);
    if (!wanted)
        now = "(not set)";
    return error_set(err, "%s holds a different sweep: %s is '%.150s' there, '%.150s' here "
                          "(resume with the same settings, or choose another --out)",
                     dir, key, was, now);
}

static int add_done(struct sweep_state *st, const char *line)
{
    struct sweep_state_done d = {{0}};
    char busy[32];
    if (sscanf(line, "done %63s %d %31s", d.cell, &d.exit_code, busy) != 3)
        return 0; /* a torn line */
    char *end;
    d.host_busy_cores = strtod(busy, &end);
    if (*end || end == busy)
        d.host_busy_cores = NAN;
    struct sweep_state_done *more = realloc(st->done, (st->n_done + 1) * sizeof(*more));
    if (!more)
        return -1;
    st->done = more;
    st->done[st->n_done++] = d;
    return 0;
}

static void keep_note(struct sweep_state *st, const char *line)
{
    if (st->n_notes == SWEEP_STATE_MAX_NOTES)
        return;
    char (*n)[64] = st->notes[st->n_notes];
    if (sscanf(line, "note %63s %63s", n[0], n[1]) == 2)
        st->n_notes++;
}

/* Reads an existing state: checks its configuration against config, collects done cells. */
static int read_state(struct sweep_state *st, const char *dir, const char *path,
                      const char *const *config, size_t n, bool *conflict, struct error *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return error_set(err, "cannot read %s: %s", path, strerror(errno));
    char line[4400];
    size_t seen = 0;
    int rc = 0;
    bool magic = fgets(line, sizeof(line), f) && !strcmp(line, STATE_MAGIC "\n");
    if (!magic) {
        *conflict = true;
        rc = error_set(err, "%s is not a sweep-state file of this loadscope", path);
    }
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        if (!strchr(line, '\n'))
            break; /* torn last line */
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "config ", 7)) {
            if (seen >= n || strcmp(line + 7, config[seen])) {
                *conflict = true;
                rc = config_mismatch(dir, line + 7, seen < n ? config[seen] : NULL, err);
            }
            seen++;
        } else if (!strncmp(line, "note ", 5)) {
            keep_note(st, line);
        } else if (!strncmp(line, "done ", 5) && add_done(st, line) < 0) {
            rc = error_set(err, "out of memory");
        }
    }
    fclose(f);
    if (rc == 0 && seen < n) {
        *conflict = true;
        rc = config_mismatch(dir, NULL, config[seen], err);
    }
    return rc;
}

int sweep_state_open(struct sweep_state *st, const char *dir, const char *const *config,
                     size_t n, bool *conflict, struct error *err)
{
    memset(st, 0, sizeof(*st));
    st->fd = -1;
    *conflict = false;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/sweep-state", dir);
    struct stat sb;
    st->resumed = stat(path, &sb) == 0;
    if (!st->resumed && create_state(dir, path, config, n, conflict, err) < 0)
        return -1;
    st->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (st->fd < 0)
        return error_set(err, "cannot open %s: %s", path, strerror(errno));
    if (flock(st->fd, LOCK_EX | LOCK_NB) != 0) {
        *conflict = errno == EWOULDBLOCK;
        error_set(err, *conflict ? "another sweep is running in %s" : "cannot lock %s: %s", dir,
                  strerror(errno));
        sweep_state_close(st);
        return -1;
    }
    if (st->resumed && read_state(st, dir, path, config, n, conflict, err) < 0) {
        sweep_state_close(st);
        return -1;
    }
    return 0;
}

const struct sweep_state_done *sweep_state_find(const struct sweep_state *st, const char *cell)
{
    for (size_t i = st->n_done; i-- > 0;)
        if (!strcmp(st->done[i].cell, cell))
            return &st->done[i];
    return NULL;
}

int sweep_state_mark_done(struct sweep_state *st, const char *cell, int exit_code,
                          double host_busy_cores, struct error *err)
{
    char line[160], busy[32];
    if (isnan(host_busy_cores))
        snprintf(busy, sizeof(busy), "-");
    else
        snprintf(busy, sizeof(busy), "%.3f", host_busy_cores);
    snprintf(line, sizeof(line), "done %s %d %s\n", cell, exit_code, busy);
    if (write_all(st->fd, line, err) < 0)
        return -1;
    if (fsync(st->fd) != 0)
        return error_set(err, "cannot sync sweep-state: %s", strerror(errno));
    return add_done(st, line) < 0 ? error_set(err, "out of memory") : 0;
}

const char *sweep_state_note(const struct sweep_state *st, const char *key)
{
    for (size_t i = 0; i < st->n_notes; i++)
        if (!strcmp(st->notes[i][0], key))
            return st->notes[i][1];
    return NULL;
}

int sweep_state_add_note(struct sweep_state *st, const char *key, const char *value,
                         struct error *err)
{
    char line[160];
    snprintf(line, sizeof(line), "note %s %s\n", key, value);
    if (write_all(st->fd, line, err) < 0)
        return -1;
    if (fsync(st->fd) != 0)
        return error_set(err, "cannot sync sweep-state: %s", strerror(errno));
    keep_note(st, line);
    return 0;
}

void sweep_state_close(struct sweep_state *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = -1;
    free(st->done);
    st->done = NULL;
    st->n_done = 0;
}
