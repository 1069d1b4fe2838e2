/* Escapers for untrusted text (names, URLs, error messages, evidence that come from the target
 * or the user) in the human-facing formats, so that it always reads as the text it is. They
 * treat bad bytes like the JSON writer does: invalid UTF-8 becomes U+FFFD.
 *
 *   escape_html(out, s)      text or attribute value: & < > " ' as entities, control
 *                            characters (but tab and newline) as U+FFFD
 *   escape_markdown(out, s)  inside a paragraph or a table cell: no emphasis, link, code, raw
 *                            HTML or cell split ('|'); newlines and controls become spaces
 *   escape_markdown_code(out, s)  an inline code span (not in table cells): a backtick fence
 *                            longer than any run in s, newlines and controls as spaces
 *   escape_csv(out, s)       one RFC 4180 field, always quoted, with a leading ' when it would
 *                            start with = + - @ (a spreadsheet would run it as a formula)
 */
#ifndef LOADSCOPE_COMMON_ESCAPE_H
#define LOADSCOPE_COMMON_ESCAPE_H

#include <stdio.h>

void escape_html(FILE *out, const char *s);
void escape_markdown(FILE *out, const char *s);
void escape_markdown_code(FILE *out, const char *s);
void escape_csv(FILE *out, const char *s);

#endif
