/* Temporary directories for tests, removed with their contents at the end. */
#ifndef LOADSCOPE_TESTS_TMPDIR_H
#define LOADSCOPE_TESTS_TMPDIR_H

#include <stddef.h>

/* Creates a fresh directory under /tmp named after tag; writes its path to buf. */
void tmpdir_make(const char *tag, char *buf, size_t len);
/* rm -rf path (only paths under /tmp/loadscope-test-). */
void tmpdir_remove(const char *path);

#endif
