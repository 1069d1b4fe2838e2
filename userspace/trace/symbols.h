/* Address -> function name for profile stacks: ELF symbols of a process's modules through
 * elfutils libdw (dwfl), JIT and interpreter frames through the runtime's /tmp/perf-PID.map
 * (Node --perf-basic-prof, Python 3.12+ -X perf), kernel frames through /proc/kallsyms.
 * A process's modules are reported while it is alive (symbols_prepare) and kept, so stacks of
 * processes that exited since are still named. */
#ifndef LOADSCOPE_TRACE_SYMBOLS_H
#define LOADSCOPE_TRACE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct symbols;

struct symbols *symbols_new(void);
void symbols_free(struct symbols *s);

/* Reads a process's memory map now (no-op when already done). */
void symbols_prepare(struct symbols *s, pid_t pid);

/* Writes the name of the function holding addr into buf: "func", "[module]" when the module
 * has no symbol for it, "[unknown]" otherwise. */
void symbols_user(struct symbols *s, pid_t pid, uint64_t addr, char *buf, size_t len);
/* Reads /proc/kallsyms (once; symbols_kernel does it when needed): ~0.1 s of CPU, better
 * spent before a measurement than during it. */
void symbols_load_kernel(struct symbols *s);
void symbols_kernel(struct symbols *s, uint64_t addr, char *buf, size_t len);

#endif
