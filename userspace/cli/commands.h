/* The subcommands. Each takes the arguments after its name (argv[0] is the subcommand) and
 * returns a process exit code from common/error.h. */
#ifndef LOADSCOPE_CLI_COMMANDS_H
#define LOADSCOPE_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

#endif
