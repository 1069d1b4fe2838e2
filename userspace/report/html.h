/* The HTML report: ONE self-contained, offline file rendered from the report document
 * (docs/report-document.md). Everything is inline: the document itself (a
 * <script type="application/json"> block, re-serialized by the project's JSON writer so that
 * nothing in it can close the block), Chart.js (Debian's libjs-chart.js, embedded in the
 * binary), the page's own CSS and JavaScript, and one SVG flame graph per profiled replica
 * (report/flamegraph). The page draws its tables and charts from the JSON with createElement /
 * textContent only, never markup built from data.
 *
 * Defence in depth: a Content-Security-Policy allows no network access at all and runs only
 * scripts carrying this file's random nonce, so even a string that slipped through as markup
 * could neither run script nor load anything.
 */
#ifndef LOADSCOPE_REPORT_HTML_H
#define LOADSCOPE_REPORT_HTML_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

/* Renders the report document (JSON text, len bytes) as an HTML page to out. Returns 0, or -1
 * with err set (not JSON, not a report document, unknown schema version, nested deeper than
 * the JSON writer goes, write error). */
int html_write(FILE *out, const char *document_json, size_t len, struct error *err);

/* Same, to a file (created or truncated). */
int html_report_write(const char *path, const char *document_json, size_t len,
                      struct error *err);

#endif
