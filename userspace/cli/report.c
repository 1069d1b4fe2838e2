#include <stdio.h>

#include "cli/commands.h"
#include "common/error.h"

/* Placeholder until the issue that builds 'report' lands. */
int cmd_report(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "loadscope: 'report' is not built yet\n");
    return EXIT_RUNTIME;
}
