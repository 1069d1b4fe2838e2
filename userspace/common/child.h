/* A child process loadscope starts (the demo server, a sweep's cells and target commands),
 * between fork and exec: only async-signal-safe calls here. */
#ifndef LOADSCOPE_COMMON_CHILD_H
#define LOADSCOPE_COMMON_CHILD_H

#include <sys/types.h>

/* Its own process group (so the whole group can be stopped together), SIGTERM when loadscope
 * dies, and signals as a freshly started program has them (nothing blocked, default actions:
 * loadscope blocks and catches some). Exits 127 if `parent` is already gone. */
void child_detach(pid_t parent);

/* stdin from /dev/null, stdout and stderr to log_fd. Exits 127 on failure. */
void child_log_to(int log_fd);

#endif
