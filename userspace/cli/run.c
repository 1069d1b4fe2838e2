#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

/* Placeholder until the issue that builds 'run' lands. */
int cmd_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "loadscope: 'run' is not built yet\n");
    return EXIT_RUNTIME;
}
