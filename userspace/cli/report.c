/* loadscope report DIR: regenerates every output of a stored run from its run store, with the
 * same code `loadscope run` uses at its end: statistics rebuilt from the stored client records,
 * the analysis redone (join, timeline, breakdown, verdict), then the summary, the verdict and
 * the files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/outputs.h"
#include "cli/stored_run.h"
#include "common/error.h"
#include "report/console.h"
#include "store/client_table.h"
#include "store/server_tables.h"

static const char usage_text[] =
    "usage: loadscope report DIR [options]\n"
    "\n"
    "Regenerates every output of the run stored in DIR (written by 'loadscope run'): DIR's\n"
    "report.json, report.html, report.md, stats_*.csv, trace.json and profiles/, plus:\n"
    "      --csv PREFIX      Locust's CSVs (PREFIX_stats.csv, _stats_history.csv, _failures.csv)\n"
    "      --json FILE       the report document\n"
    "      --html FILE       the HTML report\n"
    "      --markdown FILE   the Markdown report\n"
    "      --trace-out FILE  the Perfetto / Chrome trace\n"
    "  -q, --quiet           no summary on stdout\n"
    "\n"
    "DIR/run.db is an SQLite database: query it directly (schema: userspace/store/schema.sql).\n";

enum { OPT_CSV = 256, OPT_JSON, OPT_HTML, OPT_MARKDOWN, OPT_TRACE_OUT };

static const struct option long_options[] = {
    {"csv", required_argument, NULL, OPT_CSV},
    {"json", required_argument, NULL, OPT_JSON},
    {"html", required_argument, NULL, OPT_HTML},
    {"markdown", required_argument, NULL, OPT_MARKDOWN},
    {"trace-out", required_argument, NULL, OPT_TRACE_OUT},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A run whose process died (a crash, SIGKILL) leaves the rows it had spooled beside run.db
 * (store_spool_during_run): they go into the database before anything is read. */
static int recover_spools(struct store *store, const char *dir, struct error *err)
{
    struct server_streams streams;
    uint64_t recovered = 0;
    if (client_table_add_stream(store, 1, err) < 0 ||
        server_tables_add_streams(store, &streams, err) != 0 ||
        store_recover_spools(store, &recovered, err) != 0)
        return -1;
    if (recovered)
        fprintf(stderr, "loadscope: %s: stored %llu rows its run had spooled when it stopped "
                        "without finishing\n",
                dir, (unsigned long long)recovered);
    return 0;
}

int cmd_report(int argc, char **argv)
{
    struct output_paths paths = {0};
    bool quiet = false;
    opterr = 0;
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, ":qh", long_options, NULL)) != -1) {
        switch (opt) {
        case OPT_CSV: paths.csv_prefix = optarg; break;
        case OPT_JSON: paths.json = optarg; break;
        case OPT_HTML: paths.html = optarg; break;
        case OPT_MARKDOWN: paths.markdown = optarg; break;
        case OPT_TRACE_OUT: paths.trace_out = optarg; break;
        case 'q': quiet = true; break;
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        case ':':
            fprintf(stderr, "loadscope: option '%s' needs a value\n", argv[optind - 1]);
            return EXIT_USAGE;
        default:
            fprintf(stderr, "loadscope: unknown option '%s' (see 'loadscope report --help')\n",
                    argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "loadscope: report needs one run directory (see 'loadscope report "
                        "--help')\n");
        return EXIT_USAGE;
    }
    const char *dir = argv[optind];
    struct error err = {{0}};
    struct store *store;
    if (store_open(dir, false, &store, &err) != 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (recover_spools(store, dir, &err) != 0) {
        fprintf(stderr, "loadscope: %s: %s\n", dir, err.msg);
        store_close(store);
        return EXIT_RUNTIME;
    }
    struct stored_run run;
    if (stored_run_load(store, &run, &err) != 0) {
        fprintf(stderr, "loadscope: %s: %s\n", dir, err.msg);
        store_close(store);
        return EXIT_RUNTIME;
    }
    char reason[64] = "";
    store_get_info(store, "stop_reason", reason, sizeof(reason));
    struct run_result res = {
        .stats = run.stats,
        .duration_ns = run.duration_ns,
        .stop_reason = reason,
        .thresholds = run.thresholds,
        .threshold_results = run.threshold_results,
        .threshold_count = run.threshold_count,
    };
    if (!quiet) {
        console_print_summary(stdout, &res);
        outputs_print_verdict(stdout, &run);
    }
    int code = EXIT_OK;
    if (outputs_write_all(&run, &res, &paths, quiet ? NULL : stdout, &err) != 0) {
        fprintf(stderr, "loadscope: %s\n", err.msg);
        code = EXIT_RUNTIME;
    } else if (!run.thresholds_passed) {
        code = EXIT_THRESHOLD;
    }
    stored_run_free(&run);
    store_close(store);
    return code;
}
