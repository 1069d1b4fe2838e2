#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

/* Placeholder until the issue that builds 'demo' lands. */
int cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "loadscope: 'demo' is not built yet\n");
    return EXIT_RUNTIME;
}
