/* The CPU profile: reads the kernel's stack counts (bpf/profile.bpf.c), names every new stack
 * while its process is alive, and writes folded stacks per replica. */
#ifndef LOADSCOPE_TRACE_PROFILER_H
#define LOADSCOPE_TRACE_PROFILER_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

struct profile_reader;

struct profile_reader *profile_reader_new(int stacks_fd, int counts_fd, int tgids_fd);
/* Picks up new stacks and updates counts (each window, and once more at the end). */
void profile_reader_refresh(struct profile_reader *p);
/* "comm;root;...;leaf count" lines for one replica, heaviest first. */
int profile_reader_write(struct profile_reader *p, uint32_t replica, FILE *out,
                         struct error *err);
void profile_reader_free(struct profile_reader *p);

#endif
