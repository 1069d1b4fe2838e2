/* Flame graphs: stacks merge by prefix with widths proportional to samples, names from the
 * target cannot break the XML, empty input still makes a valid SVG, narrow frames are cut,
 * labels are truncated to fit; folded text round-trips. Every SVG is parsed strictly with
 * libxml2; the zoom script is exercised in headless Chromium (tests/support/browser.h). */
#include <criterion/criterion.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/flamegraph.h"
#include "support/browser.h"
#include "support/tmpdir.h"

struct svg {
    char *text;
    size_t len;
    xmlDocPtr doc;
    xmlXPathContextPtr xpath;
};

/* Renders stacks and parses the result strictly (no recovery: any XML error fails). */
static void render(struct svg *s, const char *title, const struct folded_stack *stacks, size_t n,
                   const struct flamegraph_options *opts)
{
    FILE *f = open_memstream(&s->text, &s->len);
    struct error err = {{0}};
    cr_assert_eq(flamegraph_svg_write(f, title, stacks, n, opts, &err), 0, "%s", err.msg);
    fclose(f);
    s->doc = xmlReadMemory(s->text, (int)s->len, "flame.svg", NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    cr_assert_not_null(s->doc, "not well-formed XML: %s", xmlGetLastError()
                       ? xmlGetLastError()->message : "?");
    s->xpath = xmlXPathNewContext(s->doc);
    xmlXPathRegisterNs(s->xpath, BAD_CAST "s", BAD_CAST "http://www.w3.org/2000/svg");
}

static void svg_free(struct svg *s)
{
    xmlXPathFreeContext(s->xpath);
    xmlFreeDoc(s->doc);
    free(s->text);
}

static xmlXPathObjectPtr query(struct svg *s, const char *expr)
{
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, s->xpath);
    cr_assert_not_null(o, "xpath %s", expr);
    return o;
}

static int count(struct svg *s, const char *expr)
{
    xmlXPathObjectPtr o = query(s, expr);
    int n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

/* A drawn frame as read back from the SVG. */
struct frame {
    char title[512];
    char label[512];
    double x, y, w;
    char fill[32];
};

static double attr_num(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    cr_assert_not_null(v, "missing %s", name);
    double d = strtod((const char *)v, NULL);
    xmlFree(v);
    return d;
}

static size_t frames(struct svg *s, struct frame *out, size_t max)
{
    xmlXPathObjectPtr o = query(s, "//s:g[@class='f']");
    size_t n = o->nodesetval ? (size_t)o->nodesetval->nodeNr : 0;
    cr_assert_leq(n, max);
    for (size_t i = 0; i < n; i++) {
        struct frame *f = &out[i];
        memset(f, 0, sizeof(*f));
        for (xmlNodePtr c = o->nodesetval->nodeTab[i]->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            xmlChar *t = xmlNodeGetContent(c);
            if (strcmp((const char *)c->name, "title") == 0)
                snprintf(f->title, sizeof(f->title), "%s", (const char *)t);
            else if (strcmp((const char *)c->name, "text") == 0)
                snprintf(f->label, sizeof(f->label), "%s", (const char *)t);
            else if (strcmp((const char *)c->name, "rect") == 0) {
                f->x = attr_num(c, "x");
                f->y = attr_num(c, "y");
                f->w = attr_num(c, "width");
                xmlChar *fill = xmlGetProp(c, BAD_CAST "fill");
                snprintf(f->fill, sizeof(f->fill), "%s", (const char *)fill);
                xmlFree(fill);
            }
            xmlFree(t);
        }
    }
    xmlXPathFreeObject(o);
    return n;
}

static const struct frame *find(const struct frame *fs, size_t n, const char *title_prefix)
{
    for (size_t i = 0; i < n; i++)
        if (strncmp(fs[i].title, title_prefix, strlen(title_prefix)) == 0)
            return &fs[i];
    return NULL;
}

static const struct frame *must_find(const struct frame *fs, size_t n, const char *title)
{
    const struct frame *f = find(fs, n, title);
    cr_assert_not_null(f, "no frame titled '%s'", title);
    return f;
}

Test(flamegraph, merges_stacks_by_prefix_with_widths_proportional_to_samples)
{
    /* unsorted, with a duplicate stack, a frame name that is a prefix of another ("b" and
     * "b!"), and the same function under two parents */
    struct folded_stack in[] = {
        {"main;b;c", 30}, {"main;x;c", 10}, {"main;b!", 20}, {"main;b", 15},
        {"main;b;c", 25}, {"other", 100},
    };
    struct svg s;
    render(&s, "merge", in, 6, NULL);
    struct frame fs[32];
    size_t n = frames(&s, fs, 32);
    cr_expect_eq(n, 8, "all, main, b, c(under b), x, c(under x), b!, other: got %zu", n);

    const struct frame *all = must_find(fs, n, "all (200 samples, 100.00%)");
    const struct frame *mainf = must_find(fs, n, "main (100 samples, 50.00%)");
    const struct frame *b = must_find(fs, n, "b (70 samples, 35.00%)");
    const struct frame *bc = must_find(fs, n, "c (55 samples, 27.50%)");
    const struct frame *xc = must_find(fs, n, "c (10 samples, 5.00%)");
    must_find(fs, n, "x (10 samples, 5.00%)");
    must_find(fs, n, "b! (20 samples, 10.00%)");
    must_find(fs, n, "other (100 samples, 50.00%)");

    /* 1200 px wide with 10 px margins: 1180 px for 200 samples */
    double scale = 1180.0 / 200;
    cr_expect_float_eq(all->w, 1180.0, 0.01);
    cr_expect_float_eq(mainf->w, 100 * scale, 0.01);
    cr_expect_float_eq(b->w, 70 * scale, 0.01);
    cr_expect_float_eq(bc->w, 55 * scale, 0.01);
    /* children sit on their parent, one row up, inside its span */
    cr_expect_float_eq(mainf->y, all->y - 16, 0.01);
    cr_expect_float_eq(b->y, mainf->y - 16, 0.01);
    cr_expect_float_eq(bc->y, b->y - 16, 0.01);
    cr_expect_float_eq(xc->y, bc->y, 0.01);
    cr_expect(b->x >= mainf->x - 0.01 && b->x + b->w <= mainf->x + mainf->w + 0.01);
    cr_expect(bc->x >= b->x - 0.01 && bc->x + bc->w <= b->x + b->w + 0.01);
    /* same name, same colour, whatever the parent */
    cr_expect_str_eq(bc->fill, xc->fill);
    cr_expect_str_neq(b->fill, mainf->fill);

    /* the root's children tile it exactly */
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(fs[i].y - mainf->y) < 0.01)
            sum += fs[i].w;
    cr_expect_float_eq(sum, all->w, 0.05);
    cr_expect_eq(count(&s, "//s:script"), 1);
    cr_expect(strncmp(s.text, "<?xml", 5) == 0);
    svg_free(&s);
}

Test(flamegraph, escapes_names_from_the_target)
{
    struct folded_stack in[] = {
        {"app;<script>alert(\"x\")</script><img src=x onerror=alert(1)>", 5},
        {"app;a&b 'q' \"dq\"", 5},
        {"app;bad\xff\xfe utf8\x01;ctl\x1f", 5},
        {"app;]]><evil/>", 5},
        {"app;\xef\xbf\xbf nonchar", 5},
    };
    struct svg s;
    render(&s, "<b>title</b> & co", in, 5, NULL);
    struct frame fs[16];
    size_t n = frames(&s, fs, 16);
    cr_expect_eq(n, 8, "all, app, five children of app, ctl");
    must_find(fs, n, "<script>alert(\"x\")</script><img src=x onerror=alert(1)> (5 samples");
    must_find(fs, n, "a&b 'q' \"dq\" (5 samples");
    must_find(fs, n, "bad\xef\xbf\xbd\xef\xbf\xbd utf8\xef\xbf\xbd (5 samples");
    must_find(fs, n, "ctl\xef\xbf\xbd (5 samples");
    must_find(fs, n, "]]><evil/> (5 samples");
    must_find(fs, n, "\xef\xbf\xbd nonchar (5 samples");
    /* the only elements are ours */
    cr_expect_eq(count(&s, "//s:script"), 1);
    cr_expect_eq(count(&s, "//*[local-name()='img' or local-name()='evil']"), 0);
    cr_expect_eq(count(&s, "//@*[starts-with(name(), 'on')]"), 0);
    cr_expect_eq(count(&s, "//s:text[@class='title' and text()='<b>title</b> & co']"), 1);
    svg_free(&s);
}

Test(flamegraph, empty_input_is_a_valid_svg_saying_so)
{
    struct svg s;
    render(&s, "nothing", NULL, 0, NULL);
    cr_expect_eq(count(&s, "//s:g[@class='f']"), 0);
    cr_expect_eq(count(&s, "//s:text[text()='No samples']"), 1);
    cr_expect_eq(count(&s, "//s:text[text()='0 samples']"), 1);
    svg_free(&s);

    struct folded_stack zero[] = {{"a;b", 0}};
    render(&s, "zero", zero, 1, NULL);
    cr_expect_eq(count(&s, "//s:g[@class='f']"), 0);
    svg_free(&s);
}

Test(flamegraph, leaves_out_frames_narrower_than_the_cut_off)
{
    struct folded_stack in[] = {{"big;work", 999999}, {"tiny;deeper;deepest", 1}};
    struct svg s;
    render(&s, "cut", in, 2, NULL);
    struct frame fs[16];
    size_t n = frames(&s, fs, 16);
    cr_expect_eq(n, 3, "all, big, work");
    cr_expect_null(find(fs, n, "tiny"));
    /* the height follows the deepest visible frame, not the cut one */
    xmlXPathObjectPtr o = query(&s, "/s:svg");
    double h = attr_num(o->nodesetval->nodeTab[0], "height");
    xmlXPathFreeObject(o);
    cr_expect_float_eq(h, 56 + 30 + 3 * 16 + 4, 0.01);
    svg_free(&s);

    struct flamegraph_options opts = {.min_width_px = 0.0001};
    render(&s, "nocut", in, 2, &opts);
    n = frames(&s, fs, 16);
    cr_expect_eq(n, 6);
    svg_free(&s);
}

Test(flamegraph, truncates_labels_to_fit_and_colours_kernel_frames_apart)
{
    struct folded_stack in[] = {
        {"a_rather_long_function_name_that_cannot_fit_in_a_narrow_frame_at_all", 4},
        {"[k] tcp_recvmsg", 96},
        {"do_syscall_64_[k]", 100},
    };
    struct svg s;
    render(&s, "labels", in, 3, NULL);
    struct frame fs[16];
    size_t n = frames(&s, fs, 16);
    const struct frame *longf = must_find(fs, n, "a_rather_long");
    /* 4/200 of 1180 px = 23.6 px: fits (23.6 - 6) / 7.08 = 2 characters, below the minimum 3 */
    cr_expect_str_eq(longf->label, "");
    const struct frame *k = must_find(fs, n, "[k] tcp_recvmsg");
    cr_expect_str_eq(k->label, "[k] tcp_recvmsg");
    int r, g, b;
    cr_assert_eq(sscanf(k->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
    cr_expect(b > r, "kernel frames are blue: %s", k->fill);
    const struct frame *k2 = must_find(fs, n, "do_syscall_64_[k]");
    cr_assert_eq(sscanf(k2->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
    cr_expect(b > r, "kernel frames are blue: %s", k2->fill);
    svg_free(&s);

    struct folded_stack mid[] = {
        {"a_rather_long_function_name_that_cannot_fit_in_a_narrow_frame_at_all", 20},
        {"z", 80},
    };
    render(&s, "labels", mid, 2, NULL);
    n = frames(&s, fs, 16);
    longf = must_find(fs, n, "a_rather_long");
    /* 236 px: (236 - 6) / 7.08 = 32 characters, 30 of the name and ".." */
    cr_expect_str_eq(longf->label, "a_rather_long_function_name_th..");
    const struct frame *user = must_find(fs, n, "z (");
    cr_assert_eq(sscanf(user->fill, "rgb(%d,%d,%d)", &r, &g, &b), 3);
    cr_expect(r >= 205 && b <= 55, "user frames are hot: %s", user->fill);
    svg_free(&s);
}

Test(flamegraph, inline_form_has_no_prolog_and_a_nonce)
{
    struct folded_stack in[] = {{"a;b", 1}};
    struct flamegraph_options opts = {.inline_html = true, .script_nonce = "abc123"};
    struct svg s;
    render(&s, "inline", in, 1, &opts);
    cr_expect(strncmp(s.text, "<svg", 4) == 0);
    cr_expect_eq(count(&s, "//s:script[@nonce='abc123']"), 1);
    svg_free(&s);

    opts = (struct flamegraph_options){.no_script = true, .width = 600};
    render(&s, "noscript", in, 1, &opts);
    cr_expect_eq(count(&s, "//s:script"), 0);
    cr_expect_eq(count(&s, "/s:svg[@width='600']"), 1);
    svg_free(&s);
}

Test(flamegraph, folded_text_round_trips)
{
    struct folded_stack in[] = {{"main;serve;predict", 1200}, {"main;has space;x", 3},
                                {"main;line\nbreak", 2}, {"skipped", 0}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct error err = {{0}};
    cr_assert_eq(flamegraph_folded_write(f, in, 4, &err), 0, "%s", err.msg);
    fclose(f);
    cr_expect_str_eq(text, "main;serve;predict 1200\nmain;has space;x 3\nmain;line break 2\n");

    struct folded_stacks parsed;
    cr_assert_eq(flamegraph_folded_parse(text, len, &parsed, &err), 0, "%s", err.msg);
    cr_assert_eq(parsed.n, 3);
    cr_expect_str_eq(parsed.items[0].stack, "main;serve;predict");
    cr_expect_eq(parsed.items[0].count, 1200);
    cr_expect_str_eq(parsed.items[1].stack, "main;has space;x");
    cr_expect_eq(parsed.items[1].count, 3);
    cr_expect_eq(parsed.items[2].count, 2);
    flamegraph_stacks_free(&parsed);
    free(text);

    const char crlf[] = "a;b 5\r\n\r\n  \nc 7";
    cr_assert_eq(flamegraph_folded_parse(crlf, strlen(crlf), &parsed, &err), 0, "%s", err.msg);
    cr_expect_eq(parsed.n, 2);
    cr_expect_eq(parsed.items[1].count, 7);
    flamegraph_stacks_free(&parsed);

    const char *bad[] = {"a;b\n", "a;b x\n", "ok 1\na;b -3\n", "a;b 99999999999999999999999"};
    for (size_t i = 0; i < 4; i++) {
        cr_expect_eq(flamegraph_folded_parse(bad[i], strlen(bad[i]), &parsed, &err), -1,
                     "'%s' should be rejected", bad[i]);
        cr_expect(strstr(err.msg, "line") != NULL, "%s", err.msg);
    }
}

/* The frame whose tooltip starts with prefix, as a JavaScript expression. */
#define FRAME_JS(prefix) \
    "[...document.querySelectorAll('g.f')].find(g => " \
    "g.querySelector('title').textContent.startsWith('" prefix "'))"

Test(flamegraph, zooms_on_click_in_a_browser)
{
    if (!browser_available())
        cr_skip_test("no Chromium installed (tools/install-deps.sh installs it)");
    char dir[256], path[300], url[320];
    tmpdir_make("flame", dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/flame.svg", dir);
    snprintf(url, sizeof(url), "file://%s", path);
    struct folded_stack in[] = {{"main;b;c", 55}, {"main;b", 15}, {"other;o", 130}};
    FILE *f = fopen(path, "w");
    struct error err = {{0}};
    cr_assert_eq(flamegraph_svg_write(f, "zoom", in, 3, NULL, &err), 0, "%s", err.msg);
    fclose(f);

    struct browser *b = browser_start();
    char profile[256];
    snprintf(profile, sizeof(profile), "%s", b->profile_dir);
    browser_open(b, url);
    char *ready = browser_eval_string(b, "document.documentElement.getAttribute('data-zoom')");
    cr_expect_str_eq(ready, "ready");
    free(ready);
    double c_before = browser_eval_number(b, "+" FRAME_JS("c (") ".querySelector('rect')"
                                             ".getAttribute('width')");
    cr_expect_float_eq(c_before, 55 * 1180.0 / 200, 0.01);

    browser_exec(b, FRAME_JS("b (") ".querySelector('rect')"
                    ".dispatchEvent(new MouseEvent('click', {bubbles: true})), 0");
    cr_expect_float_eq(browser_eval_number(b, "+" FRAME_JS("b (") ".querySelector('rect')"
                                              ".getAttribute('width')"), 1180, 0.01);
    cr_expect_float_eq(browser_eval_number(b, "+" FRAME_JS("c (") ".querySelector('rect')"
                                              ".getAttribute('width')"), 55 * 1180.0 / 70,
                       0.01);
    char *hidden = browser_eval_string(b, FRAME_JS("other (") ".style.display");
    cr_expect_str_eq(hidden, "none");
    free(hidden);
    char *parent = browser_eval_string(b, FRAME_JS("main (") ".getAttribute('class')");
    cr_expect_str_eq(parent, "f parent", "ancestors stay, stretched and faded");
    free(parent);

    browser_exec(b, "document.querySelector('text.reset')"
                    ".dispatchEvent(new MouseEvent('click', {bubbles: true})), 0");
    cr_expect_float_eq(browser_eval_number(b, "+" FRAME_JS("c (") ".querySelector('rect')"
                                              ".getAttribute('width')"), c_before, 0.01);
    cr_expect_eq(b->console_errors, 0, "%s", b->log);
    cr_expect_eq(b->dialogs, 0, "%s", b->log);
    cr_expect_eq(b->requests, 0, "%s", b->log);
    browser_stop(b);
    cr_expect_eq(browser_leftover_processes(profile), 0, "Chromium processes left behind");
    tmpdir_remove(dir);
}
