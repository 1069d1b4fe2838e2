#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

/* Placeholder until the issue that builds 'sweep' lands. */
int cmd_sweep(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "loadscope: 'sweep' is not built yet\n");
    return EXIT_RUNTIME;
}
