/* Flame graphs from folded stacks ("main;serve;predict;conv2d 1200": frames root first, then
 * the sample count), the format of Brendan Gregg's stackcollapse tools, which flamegraph.pl,
 * speedscope and inferno read too.
 *
 * The SVG is self-contained: frames merged by prefix, widths proportional to samples, a
 * <title> tooltip per frame (name, samples, percentage), colours derived from the name (a hot
 * palette; kernel frames, "[k] name" or "name_[k]", in blue), labels truncated to fit, frames
 * narrower than a cut-off left out, and a small click-to-zoom script that works both in a
 * standalone .svg and inline in an HTML page. Frame names come from the profiled target and
 * are escaped for XML (invalid UTF-8 and characters XML forbids become U+FFFD).
 *
 *   struct folded_stack s[] = {{"main;serve;predict", 1200}, {"main;serve;[k] tcp_recvmsg", 50}};
 *   flamegraph_svg_write(out, "CPU profile: demo", s, 2, NULL, &err);
 */
#ifndef LOADSCOPE_REPORT_FLAMEGRAPH_H
#define LOADSCOPE_REPORT_FLAMEGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

struct folded_stack {
    const char *stack; /* frames separated by ';', root first */
    uint64_t count;    /* samples */
};

/* Stacks parsed from folded text; they point into storage. */
struct folded_stacks {
    struct folded_stack *items;
    size_t n;
    char *storage;
};

struct flamegraph_options {
    unsigned width;        /* in px; 0 = 1200 */
    double min_width_px;   /* frames narrower than this are left out; 0 = 0.1 */
    const char *subtitle;  /* a line under the title; NULL = "<N> samples" */
    bool inline_html;      /* no XML prolog: the SVG goes inside an HTML page */
    bool no_script;        /* leave out the click-to-zoom script */
    const char *script_nonce; /* nonce attribute of the script, for a page with a CSP */
};

/* Writes the flame graph of stacks[0..n) as one SVG document. Stacks need not be sorted or
 * unique; stacks with count 0 are ignored. opts may be NULL. Returns 0, or -1 with err set
 * (out of memory, write error). */
int flamegraph_svg_write(FILE *out, const char *title, const struct folded_stack *stacks,
                         size_t n, const struct flamegraph_options *opts, struct error *err);

/* Writes stacks as folded text, one "stack count" line each, in the order given. Newlines in
 * a stack become spaces so that a line stays a line. Returns 0, or -1 with err set. */
int flamegraph_folded_write(FILE *out, const struct folded_stack *stacks, size_t n,
                            struct error *err);

/* Parses folded text (lines "frame;frame;frame count"; the count follows the last space;
 * blank lines skipped). Returns 0, or -1 with err set naming the bad line. Free with
 * flamegraph_stacks_free. */
int flamegraph_folded_parse(const char *text, size_t len, struct folded_stacks *out,
                            struct error *err);
void flamegraph_stacks_free(struct folded_stacks *s);

#endif
