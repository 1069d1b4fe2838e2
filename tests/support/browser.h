/* Headless Chromium for tests, driven over the DevTools protocol on a pipe
 * (--remote-debugging-pipe: commands on fd 3, replies and events on fd 4, NUL-separated JSON).
 *
 * Why the protocol rather than --dump-dom: it reports exactly what the tests must assert —
 * console errors and uncaught exceptions (Runtime), CSP violations and failed loads (Log),
 * JavaScript dialogs such as an injected alert() (Page), every network request (Network) —
 * and it evaluates expressions in the page and takes full-page screenshots.
 *
 * Bounded and clean: the whole session has a 60 s deadline (then Chromium is killed and the
 * test fails); Chromium runs in its own process group with a fresh profile directory, gets
 * SIGKILL if the test process dies, and browser_stop kills and reaps the whole group (the
 * test process becomes a child subreaper so that orphaned helpers come back to it).
 *
 *   struct browser *b = browser_start();
 *   browser_open(b, "file:///tmp/x/report.html");
 *   cJSON *v = browser_eval(b, "document.querySelectorAll('canvas').length");
 *   ... b->console_errors, b->dialogs, b->requests ...
 *   browser_stop(b);
 *
 * Failures (Chromium missing, no answer in time, bad PNG) fail the calling test with
 * cr_assert. browser_available() lets a test skip when there is no Chromium at all.
 */
#ifndef LOADSCOPE_TESTS_BROWSER_H
#define LOADSCOPE_TESTS_BROWSER_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BROWSER_DEADLINE_S 60
#define BROWSER_LOG_MAX 16384

struct browser {
    pid_t pid;               /* the browser process; its process group holds its helpers */
    int to_chrome, from_chrome;
    char profile_dir[256];   /* fresh --user-data-dir, removed by browser_stop */
    uint64_t deadline_ns;
    int next_id;
    char session[128];       /* the page's flattened session id */
    char *inbuf;             /* bytes read from Chromium, not yet a whole message */
    size_t inlen, incap;
    bool loaded;             /* Page.loadEventFired seen since the last browser_open */
    char page_url[1024];

    /* What the page did, since browser_start. */
    int console_errors;      /* console.error/assert, uncaught exceptions, Log errors (CSP...) */
    int console_warnings;
    int dialogs;             /* alert/confirm/prompt opened (and accepted) */
    int requests;            /* network requests other than the page itself and data: URLs */
    char log[BROWSER_LOG_MAX]; /* every console/Log/exception/dialog/request line, for messages */
};

/* An RGBA image decoded from a PNG screenshot. */
struct image {
    unsigned width, height;
    unsigned char *rgba;
};

/* The Chromium binary: $CHROMIUM, else /usr/lib/chromium/chromium, else chromium on PATH.
 * Returns NULL when there is none. */
const char *browser_path(void);
bool browser_available(void);

struct browser *browser_start(void);
/* Navigates to url and waits for the load event and two animation frames after it. */
void browser_open(struct browser *b, const char *url);
/* Evaluates a JavaScript expression in the page (promises are awaited) and returns its value
 * as JSON (caller frees with cJSON_Delete). An exception fails the test. */
cJSON *browser_eval(struct browser *b, const char *expression);
/* Same, discarding the value. */
void browser_exec(struct browser *b, const char *expression);
/* Same, for an expression whose value is a number / a string (caller frees). */
double browser_eval_number(struct browser *b, const char *expression);
char *browser_eval_string(struct browser *b, const char *expression);
/* Makes the viewport as tall as the page (no scrollbar) and waits until responsive content,
 * such as charts, has redrawn at the new size. browser_screenshot does it first; call it
 * before measuring what a screenshot will be compared with. */
void browser_fit_viewport(struct browser *b);
/* Full-page screenshot, written to png_path when it is not NULL, and decoded into img. */
void browser_screenshot(struct browser *b, const char *png_path, struct image *img);
/* Closes Chromium, kills and reaps its process group, removes its profile. */
void browser_stop(struct browser *b);

/* Processes still alive whose command line names profile_dir (should be none after stop). */
int browser_leftover_processes(const char *profile_dir);

/* Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes); fails the test on
 * anything else. */
void image_decode_png(const unsigned char *png, size_t len, struct image *img);
/* Pixels in the rectangle (clipped to the image) whose colour differs from rgb by more than
 * tolerance in any channel. */
uint64_t image_count_unlike(const struct image *img, unsigned x, unsigned y, unsigned w,
                            unsigned h, const unsigned char rgb[3], int tolerance);
/* Distinct colours in the rectangle, counted up to limit. */
unsigned image_distinct_colours(const struct image *img, unsigned x, unsigned y, unsigned w,
                                unsigned h, unsigned limit);
void image_free(struct image *img);

#endif
