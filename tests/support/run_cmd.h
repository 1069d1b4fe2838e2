/* Runs `$LOADSCOPE_BIN run ARGS...` as a child process for end-to-end tests, with its stdout and
 * stderr captured, a hard time limit, and optionally a SIGINT after some time (the Ctrl-C test).
 * Also small file helpers for reading what it wrote. */
#ifndef LOADSCOPE_TESTS_RUN_CMD_H
#define LOADSCOPE_TESTS_RUN_CMD_H

#include <stddef.h>

struct cmd_result {
    int exit_code; /* -1 when killed by a signal */
    int term_signal;
    double seconds;
    char *out; /* stdout */
    char *err; /* stderr */
};

/* args: NULL-terminated, after "run". sigint_after_ms > 0 sends SIGINT then. limit_s: SIGKILL
 * after that many seconds. Returns 0 when the process ran. */
int run_loadscope(struct cmd_result *r, const char *const *args, int sigint_after_ms, int limit_s);
/* Same for any program: argv[0] is looked up in PATH, argv is NULL-terminated. */
int run_program(struct cmd_result *r, const char *const *argv, int sigint_after_ms, int limit_s);
/* $LOADSCOPE_BIN, or build/loadscope. */
const char *loadscope_bin(void);
void cmd_result_free(struct cmd_result *r);

/* Whole file as a string (NUL-terminated), NULL when missing. */
char *file_read_all(const char *path, size_t *len);
/* Line `index` (0-based) of text, copied into buf without the newline; -1 if missing. */
int text_line(const char *text, int index, char *buf, size_t len);
/* Number of lines of text. */
int text_line_count(const char *text);

#endif
