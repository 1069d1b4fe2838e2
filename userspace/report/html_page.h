/* One self-contained, offline HTML page (report.html, sweep.html) filled from a template.
 * The template's {{NAME}} markers are written by the caller's marker function; {{NONCE}} is the
 * page's random script nonce (the Content-Security-Policy runs only scripts carrying it), which
 * the caller is given to write wherever the template asks. Scripts embedded inline are checked
 * first, not trusted: text inside <script> must not contain "</script" or "<!--". */
#ifndef LOADSCOPE_REPORT_HTML_PAGE_H
#define LOADSCOPE_REPORT_HTML_PAGE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

/* Writes marker `name` (len bytes, not NUL-terminated). Returns 0, or -1 with err set. */
typedef int (*html_marker_fn)(FILE *out, const char *name, size_t len, const char *nonce,
                              const void *ctx, struct error *err);

/* Writes `page` (its name in errors) from template, after checking the NULL-terminated list of
 * scripts it embeds. Returns 0, or -1 with err set. */
int html_page_write(FILE *out, const char *page, const char *template,
                    const char *const *scripts, html_marker_fn marker, const void *ctx,
                    struct error *err);

#endif
