/* The report document (docs/report-document.md): one JSON document holding everything a report
 * shows, written by `--json FILE`, embedded by the HTML report, rendered by the Markdown report
 * and rebuilt by `loadscope report DIR`.
 *
 * It is written from the run store plus the models derived from it: the client statistics
 * (load/stats.h, live or rebuilt from the stored records — the same numbers), the thresholds'
 * results, and the analysis (join, timeline, breakdown, verdicts). Parts that only the live run
 * knows (settings, environment, self-check) are JSON fragments kept in run_info, written with
 * document_store_fragment() while the run happens. */
#ifndef LOADSCOPE_REPORT_DOCUMENT_H
#define LOADSCOPE_REPORT_DOCUMENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "common/json_writer.h"
#include "correlate/analysis.h"
#include "load/stats.h"
#include "load/threshold.h"
#include "store/store.h"

#define DOCUMENT_SCHEMA 1

struct document_inputs {
    struct store *store;
    const struct stats *stats;
    uint64_t duration_ns;
    const struct threshold *thresholds;
    const struct threshold_result *threshold_results;
    size_t threshold_count;
    const struct analysis *analysis; /* NULL: no analysis (the run ended before it began) */
};

/* Keys of the fragments in run_info. */
#define DOC_SETTINGS "doc_settings"       /* the "run.load" object */
#define DOC_ENVIRONMENT "doc_environment" /* the "environment" object */
#define DOC_SELF_CHECK "doc_self_check"   /* the "self_check" object */
#define DOC_TRACING "doc_tracing"         /* the "tracing" object */

/* Stores a JSON fragment written by fill(w, ctx) under key in run_info. */
int document_store_fragment(struct store *s, const char *key,
                            void (*fill)(struct json_writer *w, const void *ctx), const void *ctx,
                            struct error *err);

int document_write(FILE *out, const struct document_inputs *in, struct error *err);

/* The document in memory (malloc'd, NUL-terminated): for the HTML and Markdown renderers. */
int document_to_string(const struct document_inputs *in, char **out, size_t *len,
                       struct error *err);

#endif
