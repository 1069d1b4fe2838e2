#include "common/escape.h"

#include <stdbool.h>
#include <string.h>

#include "common/json_writer.h"

#define REPLACEMENT "\xEF\xBF\xBD"

void escape_html(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    for (size_t i = 0; i < len;) {
        size_t n = json_utf8_sequence(s + i, len - i);
        unsigned char c = s[i];
        if (n == 0 || (c < 0x20 && c != '\t' && c != '\n') || c == 0x7F) {
            fputs(REPLACEMENT, out);
            i += n ? n : 1;
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fwrite(s + i, 1, n, out);
        }
        i += n;
    }
}

void escape_markdown(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    for (size_t i = 0; i < len;) {
        unsigned char c = s[i];
        size_t n = json_utf8_sequence(s + i, len - i);
        if (n == 0) {
            fputs(REPLACEMENT, out);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7F)
            fputc(' ', out);
        else if (c == '<')
            fputs("&lt;", out);
        else if (c == '>')
            fputs("&gt;", out);
        else if (c == '&')
            fputs("&amp;", out);
        else if (strchr("\\`*_[]|~#!{}", c))
            fprintf(out, "\\%c", c);
        else
            fwrite(s + i, 1, n, out);
        i += n;
    }
}

void escape_markdown_code(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str), run = 0, longest = 0;
    for (size_t i = 0; i < len; i++) {
        run = s[i] == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    /* CommonMark strips one space on each side when both are there */
    bool pad = len == 0 || s[0] == '`' || s[len - 1] == '`' || s[0] == ' ';
    for (size_t k = 0; k <= longest; k++)
        fputc('`', out);
    if (pad)
        fputc(' ', out);
    for (size_t i = 0; i < len;) {
        size_t n = json_utf8_sequence(s + i, len - i);
        if (n == 0)
            fputs(REPLACEMENT, out);
        else if (s[i] < 0x20 || s[i] == 0x7F)
            fputc(' ', out);
        else
            fwrite(s + i, 1, n, out);
        i += n ? n : 1;
    }
    if (pad)
        fputc(' ', out);
    for (size_t k = 0; k <= longest; k++)
        fputc('`', out);
}

void escape_csv(FILE *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t len = strlen(str);
    fputc('"', out);
    if (len && strchr("=+-@\t\r", s[0]))
        fputc('\'', out);
    for (size_t i = 0; i < len;) {
        size_t n = json_utf8_sequence(s + i, len - i);
        if (n == 0) {
            fputs(REPLACEMENT, out);
            i++;
            continue;
        }
        if (s[i] == '"')
            fputs("\"\"", out);
        else if (s[i] < 0x20 && s[i] != '\t')
            fputc(' ', out); /* one record per line, whatever a reader does with quotes */
        else
            fwrite(s + i, 1, n, out);
        i += n;
    }
    fputc('"', out);
}
