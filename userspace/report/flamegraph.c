#include "report/flamegraph.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_writer.h"

#define DEFAULT_WIDTH 1200
#define DEFAULT_MIN_WIDTH_PX 0.1
#define PAD_X 10.0
#define FRAME_H 16
#define TOP_H 56    /* title and subtitle */
#define BOTTOM_H 30 /* the details line */
#define FONT_SIZE 12
#define CHAR_W (FONT_SIZE * 0.59) /* average glyph width of the font, as flamegraph.pl */

/* One drawn frame: depth 0 is the root "all". */
struct rect {
    size_t depth;
    const char *name;
    size_t name_len;
    uint64_t start, width; /* in samples */
};

struct rects {
    struct rect *items;
    size_t n, cap;
};

struct frame_ref {
    const char *name;
    size_t len;
    uint64_t start;
};

/* ---- XML text ---------------------------------------------------------------------------- */

/* Writes at most max_chars characters of s (len bytes) escaped for XML text and attribute
 * values. Invalid UTF-8, control characters and U+FFFE/U+FFFF (not XML characters) become
 * U+FFFD. Returns the number of characters written. */
static size_t xml_text(FILE *out, const char *str, size_t len, size_t max_chars)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, chars = 0;
    while (i < len && chars < max_chars) {
        unsigned char c = s[i];
        size_t n = json_utf8_sequence(s + i, len - i);
        chars++;
        if (n == 0 || (c < 0x20 && c != '\t') || c == 0x7F ||
            (n == 3 && c == 0xEF && s[i + 1] == 0xBF && (s[i + 2] == 0xBE || s[i + 2] == 0xBF))) {
            fputs("\xEF\xBF\xBD", out);
            i += n ? n : 1;
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\t': fputs("&#9;", out); break;
        default: fwrite(s + i, 1, n, out);
        }
        i += n;
    }
    return chars;
}

/* Characters in s as xml_text counts them (a bad byte is one character). */
static size_t text_chars(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, chars = 0;
    while (i < len) {
        size_t n = json_utf8_sequence(s + i, len - i);
        i += n ? n : 1;
        chars++;
    }
    return chars;
}

/* "1234567" -> "1,234,567", as flamegraph.pl prints sample counts. */
static void with_commas(uint64_t v, char *buf, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* ---- merging stacks by prefix ------------------------------------------------------------ */

/* Compares stacks frame by frame, a frame's end sorting before any character, so that all
 * stacks sharing a prefix of whole frames are adjacent ("a;b", "a;b;c", "a;b!" in that order;
 * plain strcmp would put "a;b!" between the first two). */
static int stack_cmp(const void *pa, const void *pb)
{
    const char *a = (*(const struct folded_stack *const *)pa)->stack;
    const char *b = (*(const struct folded_stack *const *)pb)->stack;
    for (;; a++, b++) {
        int ca = *a == '\0' ? -1 : *a == ';' ? 0 : (unsigned char)*a + 1;
        int cb = *b == '\0' ? -1 : *b == ';' ? 0 : (unsigned char)*b + 1;
        if (ca != cb)
            return ca < cb ? -1 : 1;
        if (ca == -1)
            return 0;
    }
}

static int rects_push(struct rects *r, size_t depth, const char *name, size_t len,
                      uint64_t start, uint64_t width)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        struct rect *items = realloc(r->items, cap * sizeof(*items));
        if (!items)
            return -1;
        r->items = items;
        r->cap = cap;
    }
    r->items[r->n++] = (struct rect){depth, name, len, start, width};
    return 0;
}

/* Splits stack into frames (pointers into it). Returns the count, or -1 out of memory. */
static long split_frames(const char *stack, struct frame_ref **frames, size_t *cap)
{
    size_t n = 0;
    if (!stack[0])
        return 0;
    for (const char *p = stack;;) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            struct frame_ref *f = realloc(*frames, c * sizeof(*f));
            if (!f)
                return -1;
            *frames = f;
            *cap = c;
        }
        (*frames)[n++] = (struct frame_ref){p, len, 0};
        if (!end)
            break;
        p = end + 1;
    }
    return (long)n;
}

/* Walks the sorted stacks keeping the path of open frames, as flamegraph.pl does: a frame
 * ends (and becomes a rect) when the next stack leaves it. */
static int merge_stacks(const struct folded_stack **sorted, size_t n, struct rects *out)
{
    struct frame_ref *open = NULL, *frames = NULL;
    size_t open_n = 0, open_cap = 0, frames_cap = 0;
    uint64_t x = 0;
    int rc = -1;
    for (size_t i = 0; i < n; i++) {
        long k = split_frames(sorted[i]->stack, &frames, &frames_cap);
        if (k < 0)
            goto out;
        size_t same = 0;
        while (same < open_n && same < (size_t)k && open[same].len == frames[same].len &&
               memcmp(open[same].name, frames[same].name, frames[same].len) == 0)
            same++;
        while (open_n > same) {
            open_n--;
            if (rects_push(out, open_n + 1, open[open_n].name, open[open_n].len,
                           open[open_n].start, x - open[open_n].start) != 0)
                goto out;
        }
        if ((size_t)k > open_cap) {
            struct frame_ref *o = realloc(open, (size_t)k * sizeof(*o));
            if (!o)
                goto out;
            open = o;
            open_cap = (size_t)k;
        }
        for (; open_n < (size_t)k; open_n++) {
            open[open_n] = frames[open_n];
            open[open_n].start = x;
        }
        x += sorted[i]->count;
    }
    while (open_n > 0) {
        open_n--;
        if (rects_push(out, open_n + 1, open[open_n].name, open[open_n].len,
                       open[open_n].start, x - open[open_n].start) != 0)
            goto out;
    }
    rc = rects_push(out, 0, "all", 3, 0, x);
out:
    free(open);
    free(frames);
    return rc;
}

/* ---- colours ----------------------------------------------------------------------------- */

static bool is_kernel(const char *name, size_t len)
{
    return (len >= 4 && memcmp(name, "[k] ", 4) == 0) ||
           (len >= 4 && memcmp(name + len - 4, "_[k]", 4) == 0);
}

/* A colour that depends only on the name, so a function keeps its colour across graphs. */
static void frame_colour(const char *name, size_t len, size_t depth, char *buf, size_t blen)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    double v1 = (h & 0xff) / 255.0, v2 = ((h >> 8) & 0xff) / 255.0,
           v3 = ((h >> 16) & 0xff) / 255.0;
    int r, g, b;
    if (depth == 0) {
        r = 200, g = 200, b = 205;
    } else if (is_kernel(name, len)) {
        r = 60 + (int)(50 * v1), g = 150 + (int)(60 * v2), b = 200 + (int)(55 * v3);
    } else if (len >= 8 && memcmp(name, "[unknown", 8) == 0) {
        r = g = b = 180 + (int)(40 * v1);
    } else {
        r = 205 + (int)(50 * v3), g = (int)(230 * v1), b = (int)(55 * v2);
    }
    snprintf(buf, blen, "rgb(%d,%d,%d)", r, g, b);
}

/* ---- SVG --------------------------------------------------------------------------------- */

/* Click a frame to zoom to it, click "Reset zoom" or the root to go back; hovering shows the
 * frame in the bottom line. Kept in CDATA so it is valid XML standalone and parses the same
 * inline in HTML; it finds its SVGs by class, so several graphs on one page do not clash. */
static const char zoom_script[] =
    "(function(){\n"
    "var svgs=document.querySelectorAll('svg.lsflame:not([data-zoom])');\n"
    "for(var i=0;i<svgs.length;i++)setup(svgs[i]);\n"
    "function setup(svg){\n"
    " svg.setAttribute('data-zoom','ready');\n"
    " var W=+svg.getAttribute('data-width'),pad=+svg.getAttribute('data-pad'),\n"
    "  cw=+svg.getAttribute('data-charw'),eps=1e-6;\n"
    " var details=svg.querySelector('text.details'),reset=svg.querySelector('text.reset');\n"
    " var gs=svg.querySelectorAll('g.f'),fs=[];\n"
    " for(var i=0;i<gs.length;i++){var g=gs[i],r=g.querySelector('rect'),"
    "t=g.querySelector('title').textContent;\n"
    "  fs.push({g:g,r:r,t:g.querySelector('text'),x:+r.getAttribute('x'),"
    "w:+r.getAttribute('width'),y:+r.getAttribute('y'),\n"
    "   name:t.replace(/ \\([0-9,]+ samples?, [0-9.]+%\\)$/,''),info:t});}\n"
    " function place(f,x,w){f.r.setAttribute('x',x.toFixed(2));"
    "f.r.setAttribute('width',w.toFixed(2));\n"
    "  if(!f.t)return;f.t.setAttribute('x',(x+3).toFixed(2));var n=Math.floor((w-6)/cw);\n"
    "  f.t.textContent=n<3?'':f.name.length<=n?f.name:f.name.slice(0,n-2)+'..';}\n"
    " function unzoom(){for(var i=0;i<fs.length;i++){var f=fs[i];f.g.style.display='';"
    "f.g.classList.remove('parent');place(f,f.x,f.w);}reset.style.display='none';}\n"
    " function zoom(z){var s=(W-2*pad)/z.w;\n"
    "  for(var i=0;i<fs.length;i++){var f=fs[i];\n"
    "   var inside=f.x>=z.x-eps&&f.x+f.w<=z.x+z.w+eps,covers=f.x<=z.x+eps&&f.x+f.w>=z.x+z.w-eps;\n"
    "   if(f.y<=z.y&&inside){f.g.style.display='';f.g.classList.remove('parent');"
    "place(f,pad+(f.x-z.x)*s,f.w*s);}\n"
    "   else if(f.y>z.y&&covers){f.g.style.display='';f.g.classList.add('parent');"
    "place(f,pad,W-2*pad);}\n"
    "   else f.g.style.display='none';}\n"
    "  reset.style.display='';}\n"
    " svg.addEventListener('click',function(e){\n"
    "  if(e.target.closest('text.reset')){unzoom();return;}\n"
    "  var g=e.target.closest('g.f');if(!g)return;\n"
    "  for(var i=0;i<fs.length;i++)if(fs[i].g===g){fs[i].w>=W-2*pad-eps?unzoom():zoom(fs[i]);}});\n"
    " svg.addEventListener('mouseover',function(e){var g=e.target.closest('g.f');\n"
    "  if(g)details.textContent=g.querySelector('title').textContent;});\n"
    " svg.addEventListener('mouseout',function(){details.textContent=' ';});\n"
    "}\n"
    "})();\n";

static const char svg_style[] =
    ".lsflame text{font-family:Verdana,'DejaVu Sans',sans-serif;fill:#222}"
    ".lsflame .f{cursor:pointer}"
    ".lsflame .f:hover rect{stroke:#333;stroke-width:0.6}"
    ".lsflame .f.parent{opacity:0.55}"
    ".lsflame text.reset{cursor:pointer;fill:#1a5fb4}"
    ".lsflame text.title{font-size:17px}"
    ".lsflame text.sub{fill:#666}";

static void write_frame(FILE *out, const struct rect *r, uint64_t total, double scale,
                        unsigned height)
{
    double x = PAD_X + (double)r->start * scale, w = (double)r->width * scale;
    double y = height - BOTTOM_H - (double)(r->depth + 1) * FRAME_H;
    char colour[32], samples[32];
    frame_colour(r->name, r->name_len, r->depth, colour, sizeof(colour));
    with_commas(r->width, samples, sizeof(samples));

    fputs("<g class=\"f\"><title>", out);
    xml_text(out, r->name, r->name_len, SIZE_MAX);
    fprintf(out, " (%s sample%s, %.2f%%)</title>", samples, r->width == 1 ? "" : "s",
            100.0 * (double)r->width / (double)total);
    fprintf(out, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"%s\" rx=\"2\"/>",
            x, y, w, FRAME_H - 1, colour);
    /* Always a <text>, even empty, so the zoom script can label a frame that grows. */
    fprintf(out, "<text x=\"%.2f\" y=\"%.1f\">", x + 3, y + FRAME_H - 4.5);
    double fit = (w - 6) / CHAR_W;
    size_t chars = fit > 0 ? (size_t)fit : 0;
    if (chars >= 3) {
        if (text_chars(r->name, r->name_len) <= chars) {
            xml_text(out, r->name, r->name_len, SIZE_MAX);
        } else {
            xml_text(out, r->name, r->name_len, chars - 2);
            fputs("..", out);
        }
    }
    fputs("</text></g>\n", out);
}

static void write_header(FILE *out, const char *title, const char *subtitle, unsigned width,
                         unsigned height, const struct flamegraph_options *o)
{
    if (!o->inline_html)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" class=\"lsflame\" "
            "width=\"%u\" height=\"%u\" viewBox=\"0 0 %u %u\" font-size=\"%d\" "
            "data-width=\"%u\" data-pad=\"%.0f\" data-charw=\"%.2f\">\n",
            width, height, width, height, FONT_SIZE, width, PAD_X, CHAR_W);
    fprintf(out, "<style>%s</style>\n", svg_style);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#fbfaf5\"/>\n",
            width, height);
    fprintf(out, "<text class=\"title\" x=\"%.1f\" y=\"24\" text-anchor=\"middle\">",
            width / 2.0);
    xml_text(out, title ? title : "Flame graph", strlen(title ? title : "Flame graph"),
             SIZE_MAX);
    fprintf(out, "</text>\n<text class=\"sub\" x=\"%.1f\" y=\"44\" text-anchor=\"middle\">",
            width / 2.0);
    xml_text(out, subtitle, strlen(subtitle), SIZE_MAX);
    fputs("</text>\n", out);
    fprintf(out, "<text class=\"reset\" x=\"%.0f\" y=\"24\" style=\"display:none\">Reset zoom"
                 "</text>\n", PAD_X);
    fprintf(out, "<text class=\"details\" x=\"%.0f\" y=\"%u\"> </text>\n", PAD_X,
            height - 10);
}

static void write_footer(FILE *out, const struct flamegraph_options *o)
{
    if (!o->no_script) {
        fputs("<script", out);
        if (o->script_nonce) {
            fputs(" nonce=\"", out);
            xml_text(out, o->script_nonce, strlen(o->script_nonce), SIZE_MAX);
            fputc('"', out);
        }
        fprintf(out, "><![CDATA[\n%s]]></script>\n", zoom_script);
    }
    fputs("</svg>\n", out);
}

static int write_svg(FILE *out, const char *title, const struct rects *rects, uint64_t total,
                     const struct flamegraph_options *o)
{
    unsigned width = o->width ? o->width : DEFAULT_WIDTH;
    double min_px = o->min_width_px > 0 ? o->min_width_px : DEFAULT_MIN_WIDTH_PX;
    double scale = total ? (width - 2 * PAD_X) / (double)total : 0;
    size_t max_depth = 0;
    for (size_t i = 0; i < rects->n; i++)
        if ((double)rects->items[i].width * scale >= min_px &&
            rects->items[i].depth > max_depth)
            max_depth = rects->items[i].depth;
    unsigned height = TOP_H + BOTTOM_H + (unsigned)(max_depth + 1) * FRAME_H + 4;

    char subtitle[64], samples[32];
    with_commas(total, samples, sizeof(samples));
    snprintf(subtitle, sizeof(subtitle), "%s sample%s", samples, total == 1 ? "" : "s");
    write_header(out, title, o->subtitle ? o->subtitle : subtitle, width, height, o);
    if (total == 0) {
        fprintf(out, "<text x=\"%.1f\" y=\"%u\" text-anchor=\"middle\">No samples</text>\n",
                width / 2.0, TOP_H + FRAME_H);
    } else {
        fputs("<g class=\"frames\">\n", out);
        for (size_t i = rects->n; i-- > 0;) /* root first: a reader finds it at the top */
            if ((double)rects->items[i].width * scale >= min_px)
                write_frame(out, &rects->items[i], total, scale, height);
        fputs("</g>\n", out);
    }
    write_footer(out, o);
    return 0;
}

int flamegraph_svg_write(FILE *out, const char *title, const struct folded_stack *stacks,
                         size_t n, const struct flamegraph_options *opts, struct error *err)
{
    struct flamegraph_options defaults = {0};
    const struct flamegraph_options *o = opts ? opts : &defaults;
    const struct folded_stack **sorted = malloc((n ? n : 1) * sizeof(*sorted));
    struct rects rects = {0};
    if (!sorted)
        return error_set(err, "flame graph: out of memory");
    size_t m = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (stacks[i].count == 0 || !stacks[i].stack)
            continue;
        sorted[m++] = &stacks[i];
        total += stacks[i].count;
    }
    qsort(sorted, m, sizeof(*sorted), stack_cmp);
    int rc = merge_stacks(sorted, m, &rects);
    if (rc != 0)
        error_set(err, "flame graph: out of memory");
    else
        write_svg(out, title, &rects, total, o);
    free(rects.items);
    free(sorted);
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        return error_set(err, "writing the flame graph: %s", strerror(errno));
    return rc;
}

int flamegraph_folded_write(FILE *out, const struct folded_stack *stacks, size_t n,
                            struct error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!stacks[i].stack || stacks[i].count == 0)
            continue;
        for (const char *p = stacks[i].stack; *p; p++)
            fputc(*p == '\n' || *p == '\r' ? ' ' : *p, out);
        fprintf(out, " %" PRIu64 "\n", stacks[i].count);
    }
    if (fflush(out) != 0 || ferror(out))
        return error_set(err, "writing folded stacks: %s", strerror(errno));
    return 0;
}

int flamegraph_folded_parse(const char *text, size_t len, struct folded_stacks *out,
                            struct error *err)
{
    memset(out, 0, sizeof(*out));
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    out->storage = malloc(len + 1);
    out->items = malloc(lines * sizeof(*out->items));
    if (!out->storage || !out->items) {
        flamegraph_stacks_free(out);
        return error_set(err, "folded stacks: out of memory");
    }
    memcpy(out->storage, text, len);
    out->storage[len] = '\0';
    size_t lineno = 0;
    for (char *line = out->storage; line && line < out->storage + len + 1;) {
        char *nl = memchr(line, '\n', (size_t)(out->storage + len - line));
        if (nl)
            *nl = '\0';
        lineno++;
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0';
        if (l > 0) {
            char *space = strrchr(line, ' ');
            char *end = NULL;
            errno = 0;
            unsigned long long count = space ? strtoull(space + 1, &end, 10) : 0;
            if (!space || end == space + 1 || *end || errno || space[1] == '-') {
                flamegraph_stacks_free(out);
                return error_set(err, "folded stacks line %zu: expected 'frame;frame count'",
                                 lineno);
            }
            *space = '\0';
            out->items[out->n++] = (struct folded_stack){line, count};
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

void flamegraph_stacks_free(struct folded_stacks *s)
{
    free(s->items);
    free(s->storage);
    memset(s, 0, sizeof(*s));
}
