#include "support/tmpdir.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tmpdir_make(const char *tag, char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/loadscope-test-%s-XXXXXX", tag);
    cr_assert_not_null(mkdtemp(buf), "mkdtemp %s", buf);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tmpdir_remove(const char *path)
{
    if (strncmp(path, "/tmp/loadscope-test-", 20) != 0)
        return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
