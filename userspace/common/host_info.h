/* Facts about the machine a run happened on, for the reports' "environment" section (the
 * hostname, OS, kernel, CPU model, cores and RAM users copy by hand into their reports today).
 *
 *   struct host_info h;
 *   host_info_read(&h, &err);              // the live machine
 *   host_info_write_json(&w, &h);          // the report document's "environment" object
 */
#ifndef LOADSCOPE_COMMON_HOST_INFO_H
#define LOADSCOPE_COMMON_HOST_INFO_H

#include <stdint.h>

#include "common/error.h"
#include "common/json_writer.h"

/* A fact that could not be read is an empty string or 0 (reports show it as unknown). */
struct host_info {
    char hostname[256];
    char os[256];        /* PRETTY_NAME of os-release, e.g. "Debian GNU/Linux 12 (bookworm)" */
    char kernel[128];    /* kernel release, e.g. "6.18.44" */
    char cpu_model[256]; /* e.g. "Intel(R) Xeon(R) CPU @ 2.20GHz" */
    int cores;           /* online logical CPUs */
    uint64_t memory_bytes; /* MemTotal */
};

/* Reads the live machine (/proc, /sys, /etc/os-release). Returns 0; -1 with err set only when
 * /proc cannot be read at all (no kernel release). */
int host_info_read(struct host_info *h, struct error *err);

/* Same, with every path below root (e.g. a directory holding proc/, sys/, etc/): for tests,
 * and for reading a container's or chroot's view. root "" or "/" is the live machine. */
int host_info_read_at(const char *root, struct host_info *h, struct error *err);

/* Writes h as the report document's "environment" object (unknown facts become null). */
void host_info_write_json(struct json_writer *w, const struct host_info *h);

#endif
