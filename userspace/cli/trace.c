#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

/* Placeholder until the issue that builds 'trace' lands. */
int cmd_trace(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "loadscope: 'trace' is not built yet\n");
    return EXIT_RUNTIME;
}
