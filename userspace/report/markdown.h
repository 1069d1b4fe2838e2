/* The Markdown report: the document people write by hand after a Locust run today
 * (../shared/user-reports/: environment, configuration, a per-endpoint table, analysis,
 * recommendations), filled in from the report document (docs/report-document.md) with the
 * verdict and its numbers, the time breakdown and the timeline's highlights.
 *
 * Strings from the target or the user (URLs, endpoint names, error messages, evidence) are
 * escaped so that they render as the text they are: no table cell split by '|', no emphasis,
 * links or raw HTML ('<' becomes &lt;), invalid UTF-8 shown as U+FFFD.
 */
#ifndef LOADSCOPE_REPORT_MARKDOWN_H
#define LOADSCOPE_REPORT_MARKDOWN_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

/* Renders the report document (JSON text, len bytes) as Markdown to out. Returns 0, or -1
 * with err set (not JSON, not a report document, unknown schema version, write error). */
int markdown_write(FILE *out, const char *document_json, size_t len, struct error *err);

/* Same, to a file (created or truncated). */
int markdown_report_write(const char *path, const char *document_json, size_t len,
                          struct error *err);

#endif
