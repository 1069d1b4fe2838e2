#include "trace/tracefs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static const char *const roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};

static const char *tracefs_root(void)
{
    char path[128];
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        snprintf(path, sizeof(path), "%s/events", roots[i]);
        if (access(path, R_OK) == 0)
            return roots[i];
    }
    return NULL;
}

int tracefs_ensure(struct error *err)
{
    if (tracefs_root())
        return 0;
    if (mount("nodev", roots[0], "tracefs", 0, NULL) < 0)
        return error_set(err, "tracefs is not mounted and mounting it on %s failed: %s",
                         roots[0], strerror(errno));
    return tracefs_root() ? 1 : error_set(err, "tracefs mounted but has no events directory");
}

long tracefs_event_id(const char *category, const char *name)
{
    const char *root = tracefs_root();
    if (!root)
        return -1;
    char path[256];
    snprintf(path, sizeof(path), "%s/events/%s/%s/id", root, category, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long id = -1;
    if (fscanf(f, "%ld", &id) != 1)
        id = -1;
    fclose(f);
    return id;
}
