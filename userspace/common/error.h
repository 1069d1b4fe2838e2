/* Errors travel up as a message in a caller-owned buffer, so the top level prints exactly one
 * line that names the problem ("loadscope: scenario.yaml:12: unknown key 'wieght'"). */
#ifndef LOADSCOPE_COMMON_ERROR_H
#define LOADSCOPE_COMMON_ERROR_H

#include <stdarg.h>

struct error {
    char msg[512];
};

/* Exit codes shared by every subcommand. */
enum exit_code {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1,   /* the run could not be carried out (I/O, target died before start) */
    EXIT_USAGE = 2,     /* bad flag, value, URL or scenario file */
    EXIT_THRESHOLD = 3, /* the run completed but a --threshold was broken */
};

/* Formats the message into err (when err is not NULL) and returns -1, so callers can write
 * `return error_set(err, "...", ...);`. */
int error_set(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message: "context: previous message". Returns -1. */
int error_prefix(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
