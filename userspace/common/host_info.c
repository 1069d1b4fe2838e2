#include "common/host_info.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Joins root and an absolute path; root "" or "/" means the live filesystem. */
static void path_at(const char *root, const char *path, char *buf, size_t len)
{
    if (!root || !root[0] || strcmp(root, "/") == 0)
        snprintf(buf, len, "%s", path);
    else
        snprintf(buf, len, "%s%s", root, path);
}

/* Copies src into dst trimmed of surrounding whitespace, with inner runs of blanks collapsed
 * ("Intel(R) Xeon(R) CPU           E5-2680" in some cpuinfo files). */
static void copy_clean(char *dst, size_t len, const char *src)
{
    size_t n = 0;
    bool blank = false;
    while (*src && isspace((unsigned char)*src))
        src++;
    for (; *src && n + 1 < len; src++) {
        if (isspace((unsigned char)*src)) {
            blank = true;
            continue;
        }
        if (blank && n > 0 && n + 2 < len)
            dst[n++] = ' ';
        blank = false;
        dst[n++] = *src;
    }
    dst[n] = '\0';
}

/* Reads the first line of a small file into buf, without its newline. Returns 0 or -1. */
static int read_line(const char *root, const char *path, char *buf, size_t len)
{
    char full[1024];
    path_at(root, path, full, sizeof(full));
    FILE *f = fopen(full, "r");
    if (!f)
        return -1;
    char line[1024];
    int rc = fgets(line, sizeof(line), f) ? 0 : -1;
    fclose(f);
    if (rc == 0)
        copy_clean(buf, len, line);
    return rc;
}

/* Value of an os-release assignment: unquotes "..." or '...' and undoes shell backslash
 * escapes, as os-release(5) specifies. */
static void os_release_value(const char *v, char *out, size_t len)
{
    char quote = 0;
    size_t n = 0;
    if (*v == '"' || *v == '\'')
        quote = *v++;
    for (; *v && *v != '\n' && n + 1 < len; v++) {
        if (quote && *v == quote)
            break;
        if (quote == '"' && *v == '\\' && v[1] && strchr("\"\\$`", v[1]))
            v++;
        out[n++] = *v;
    }
    out[n] = '\0';
}

static void read_os(const char *root, struct host_info *h)
{
    char full[1024];
    path_at(root, "/etc/os-release", full, sizeof(full));
    FILE *f = fopen(full, "r");
    if (!f) {
        path_at(root, "/usr/lib/os-release", full, sizeof(full));
        f = fopen(full, "r");
    }
    if (!f)
        return;
    char line[1024], name[256] = "", version[256] = "";
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "PRETTY_NAME=", 12) == 0)
            os_release_value(line + 12, h->os, sizeof(h->os));
        else if (strncmp(line, "NAME=", 5) == 0)
            os_release_value(line + 5, name, sizeof(name));
        else if (strncmp(line, "VERSION=", 8) == 0)
            os_release_value(line + 8, version, sizeof(version));
    }
    fclose(f);
    if (!h->os[0] && name[0])
        snprintf(h->os, sizeof(h->os), "%s%s%s", name, version[0] ? " " : "", version);
}

/* The first of these cpuinfo keys wins: x86 and most others say "model name"; older ARM
 * kernels say "Processor" or "Hardware"; MIPS says "cpu model". */
static void read_cpu_model(const char *root, struct host_info *h)
{
    static const char *keys[] = {"model name", "Processor", "cpu model", "Hardware"};
    char full[1024];
    path_at(root, "/proc/cpuinfo", full, sizeof(full));
    FILE *f = fopen(full, "r");
    if (!f)
        return;
    char found[4][256] = {"", "", "", ""};
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        for (size_t k = 0; k < 4; k++) {
            size_t kl = strlen(keys[k]);
            if (!found[k][0] && strncmp(line, keys[k], kl) == 0 &&
                strspn(line + kl, " \t") == (size_t)(colon - line) - kl)
                copy_clean(found[k], sizeof(found[k]), colon + 1);
        }
    }
    fclose(f);
    for (size_t k = 0; k < 4; k++) {
        if (found[k][0]) {
            snprintf(h->cpu_model, sizeof(h->cpu_model), "%s", found[k]);
            return;
        }
    }
}

/* Counts CPUs in a kernel cpu list such as "0-3,8,10-11". Returns -1 if malformed. */
static int count_cpu_list(const char *s)
{
    int total = 0;
    while (*s && *s != '\n') {
        char *end;
        long a = strtol(s, &end, 10), b;
        if (end == s || a < 0)
            return -1;
        b = a;
        if (*end == '-') {
            s = end + 1;
            b = strtol(s, &end, 10);
            if (end == s || b < a)
                return -1;
        }
        total += (int)(b - a + 1);
        s = end;
        if (*s == ',')
            s++;
        else if (*s && *s != '\n')
            return -1;
    }
    return total;
}

static void read_cores(const char *root, struct host_info *h)
{
    char list[1024];
    if (read_line(root, "/sys/devices/system/cpu/online", list, sizeof(list)) == 0) {
        int n = count_cpu_list(list);
        if (n > 0) {
            h->cores = n;
            return;
        }
    }
    if (!root || !root[0] || strcmp(root, "/") == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        h->cores = n > 0 ? (int)n : 0;
    }
}

static void read_memory(const char *root, struct host_info *h)
{
    char full[1024];
    path_at(root, "/proc/meminfo", full, sizeof(full));
    FILE *f = fopen(full, "r");
    if (!f)
        return;
    char line[256];
    uint64_t kb;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kb) == 1) {
            h->memory_bytes = kb * 1024;
            break;
        }
    }
    fclose(f);
}

int host_info_read_at(const char *root, struct host_info *h, struct error *err)
{
    memset(h, 0, sizeof(*h));
    if (read_line(root, "/proc/sys/kernel/osrelease", h->kernel, sizeof(h->kernel)) != 0)
        return error_set(err, "cannot read the kernel release from %s/proc",
                         root && strcmp(root, "/") != 0 ? root : "");
    read_line(root, "/proc/sys/kernel/hostname", h->hostname, sizeof(h->hostname));
    read_os(root, h);
    read_cpu_model(root, h);
    read_cores(root, h);
    read_memory(root, h);
    return 0;
}

int host_info_read(struct host_info *h, struct error *err)
{
    return host_info_read_at("/", h, err);
}

static void kv_text(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    if (s[0])
        json_string(w, s);
    else
        json_null(w);
}

void host_info_write_json(struct json_writer *w, const struct host_info *h)
{
    json_object_begin(w);
    kv_text(w, "hostname", h->hostname);
    kv_text(w, "os", h->os);
    kv_text(w, "kernel", h->kernel);
    kv_text(w, "cpu_model", h->cpu_model);
    json_key(w, "cores");
    if (h->cores > 0)
        json_int(w, h->cores);
    else
        json_null(w);
    json_key(w, "memory_bytes");
    if (h->memory_bytes > 0)
        json_uint(w, h->memory_bytes);
    else
        json_null(w);
    json_object_end(w);
}
