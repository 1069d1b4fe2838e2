/* loadscope: subcommand dispatch only. The flow of a run reads top-down from cli/run.c:
 * load (generate requests) -> trace (server side, BPF) -> correlate -> report. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "common/error.h"

#ifndef LOADSCOPE_VERSION
#define LOADSCOPE_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "drive an HTTP API with load, trace its server side, name the bottleneck"},
    {"demo", cmd_demo, "start the built-in inference server, load it, explain its bottleneck"},
    {"trace", cmd_trace, "trace server replicas without generating load"},
    {"report", cmd_report, "regenerate every output from a stored run directory"},
    {"sweep", cmd_sweep, "run a users x replicas x workers matrix and analyse scaling"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: loadscope <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`loadscope <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "-h") || !strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("loadscope %s\n", LOADSCOPE_VERSION);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "loadscope: unknown command '%s' (try 'loadscope --help')\n", name);
    return EXIT_USAGE;
}
