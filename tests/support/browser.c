#include "support/browser.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "support/tmpdir.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *browser_path(void)
{
    const char *env = getenv("CHROMIUM");
    if (env && env[0])
        return access(env, X_OK) == 0 ? env : NULL;
    /* the binary itself: Debian's /usr/bin/chromium wrapper only adds desktop flags */
    if (access("/usr/lib/chromium/chromium", X_OK) == 0)
        return "/usr/lib/chromium/chromium";
    if (access("/usr/bin/chromium", X_OK) == 0)
        return "/usr/bin/chromium";
    return NULL;
}

bool browser_available(void)
{
    return browser_path() != NULL;
}

static void logf_(struct browser *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct browser *b, const char *fmt, ...)
{
    size_t used = strlen(b->log);
    if (used + 2 >= sizeof(b->log))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->log + used, sizeof(b->log) - used - 1, fmt, ap);
    va_end(ap);
    used = strlen(b->log);
    b->log[used] = '\n';
    b->log[used + 1] = '\0';
}

static void kill_group(struct browser *b)
{
    if (b->pid > 0)
        kill(-b->pid, SIGKILL);
}

/* Reaps every process of the group (orphans come back to us: we are a subreaper). */
static void reap_group(struct browser *b)
{
    uint64_t until = now_ns() + 5000000000ULL;
    while (now_ns() < until) {
        pid_t r = waitpid(-b->pid, NULL, WNOHANG);
        if (r > 0)
            continue;
        if (r < 0 && errno == ECHILD && kill(-b->pid, 0) != 0)
            return;
        usleep(10000);
    }
}

static void fail(struct browser *b, const char *what)
{
    kill_group(b);
    reap_group(b);
    tmpdir_remove(b->profile_dir);
    cr_assert_fail("chromium: %s\n--- page log ---\n%s", what, b->log);
}

/* ---- the pipe ------------------------------------------------------------------------------ */

static void send_raw(struct browser *b, const char *text)
{
    size_t len = strlen(text) + 1; /* the NUL ends the message */
    for (size_t off = 0; off < len;) {
        ssize_t n = write(b->to_chrome, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail(b, "the DevTools pipe closed (browser died?)");
        off += (size_t)n;
    }
}

/* Sends a command (to the page's session unless browser_level); returns its id. */
static int send_cmd(struct browser *b, const char *method, cJSON *params, bool browser_level)
{
    cJSON *msg = cJSON_CreateObject();
    int id = ++b->next_id;
    cJSON_AddNumberToObject(msg, "id", id);
    cJSON_AddStringToObject(msg, "method", method);
    cJSON_AddItemToObject(msg, "params", params ? params : cJSON_CreateObject());
    if (!browser_level && b->session[0])
        cJSON_AddStringToObject(msg, "sessionId", b->session);
    char *text = cJSON_PrintUnformatted(msg);
    send_raw(b, text);
    free(text);
    cJSON_Delete(msg);
    return id;
}

/* The next whole message, waiting at most until the deadline. */
static cJSON *read_message(struct browser *b)
{
    for (;;) {
        char *nul = b->inlen ? memchr(b->inbuf, '\0', b->inlen) : NULL;
        if (nul) {
            size_t mlen = (size_t)(nul - b->inbuf) + 1;
            cJSON *msg = cJSON_Parse(b->inbuf);
            memmove(b->inbuf, b->inbuf + mlen, b->inlen - mlen);
            b->inlen -= mlen;
            if (!msg)
                fail(b, "unparsable DevTools message");
            return msg;
        }
        uint64_t now = now_ns();
        if (now >= b->deadline_ns)
            fail(b, "no answer within the deadline (" "60 s" ")");
        struct pollfd p = {.fd = b->from_chrome, .events = POLLIN};
        int ms = (int)((b->deadline_ns - now) / 1000000) + 1;
        int r = poll(&p, 1, ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (b->incap - b->inlen < 65536) {
            b->incap = b->incap * 2 + 65536;
            b->inbuf = realloc(b->inbuf, b->incap);
            cr_assert_not_null(b->inbuf);
        }
        ssize_t n = read(b->from_chrome, b->inbuf + b->inlen, b->incap - b->inlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail(b, "the DevTools pipe closed (browser died?)");
        b->inlen += (size_t)n;
    }
}

static const char *str_at(const cJSON *o, const char *a, const char *bkey)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (bkey)
        v = cJSON_GetObjectItemCaseSensitive(v, bkey);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void console_event(struct browser *b, const cJSON *params)
{
    const char *type = str_at(params, "type", NULL);
    char text[1024] = "";
    const cJSON *arg;
    cJSON_ArrayForEach(arg, cJSON_GetObjectItemCaseSensitive(params, "args")) {
        const char *s = str_at(arg, "value", NULL);
        if (!s[0])
            s = str_at(arg, "description", NULL);
        size_t used = strlen(text);
        snprintf(text + used, sizeof(text) - used, "%s%s", used ? " " : "", s);
    }
    if (strcmp(type, "error") == 0 || strcmp(type, "assert") == 0)
        b->console_errors++;
    else if (strcmp(type, "warning") == 0)
        b->console_warnings++;
    logf_(b, "console.%s: %s", type, text);
}

static void handle_event(struct browser *b, const cJSON *msg)
{
    const char *method = str_at(msg, "method", NULL);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    if (strcmp(method, "Runtime.consoleAPICalled") == 0) {
        console_event(b, params);
    } else if (strcmp(method, "Runtime.exceptionThrown") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(params, "exceptionDetails");
        b->console_errors++;
        logf_(b, "exception: %s %s", str_at(d, "text", NULL), str_at(d, "exception",
                                                                     "description"));
    } else if (strcmp(method, "Log.entryAdded") == 0) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(params, "entry");
        const char *level = str_at(e, "level", NULL);
        if (strcmp(level, "error") == 0)
            b->console_errors++;
        else if (strcmp(level, "warning") == 0)
            b->console_warnings++;
        logf_(b, "log.%s: %s %s", level, str_at(e, "text", NULL), str_at(e, "url", NULL));
    } else if (strcmp(method, "Page.javascriptDialogOpening") == 0) {
        b->dialogs++;
        logf_(b, "dialog %s: %s", str_at(params, "type", NULL), str_at(params, "message", NULL));
        cJSON *p = cJSON_CreateObject();
        cJSON_AddBoolToObject(p, "accept", true);
        send_cmd(b, "Page.handleJavaScriptDialog", p, false);
    } else if (strcmp(method, "Network.requestWillBeSent") == 0) {
        const char *url = str_at(cJSON_GetObjectItemCaseSensitive(params, "request"), "url",
                                 NULL);
        if (strcmp(url, b->page_url) != 0 && strncmp(url, "data:", 5) != 0) {
            b->requests++;
            logf_(b, "request: %.300s", url);
        }
    } else if (strcmp(method, "Page.loadEventFired") == 0) {
        b->loaded = true;
    } else if (strcmp(method, "Inspector.targetCrashed") == 0 ||
               strcmp(method, "Target.targetCrashed") == 0) {
        fail(b, "the page crashed");
    }
}

/* Waits for the reply to command id, handling events meanwhile; returns its "result". */
static cJSON *wait_reply(struct browser *b, int id)
{
    for (;;) {
        cJSON *msg = read_message(b);
        const cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "id");
        if (cJSON_IsNumber(mid) && mid->valueint == id) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
            if (e) {
                char what[600];
                snprintf(what, sizeof(what), "command failed: %s", str_at(e, "message", NULL));
                cJSON_Delete(msg);
                fail(b, what);
            }
            cJSON *result = cJSON_DetachItemFromObjectCaseSensitive(msg, "result");
            cJSON_Delete(msg);
            return result ? result : cJSON_CreateObject();
        }
        if (!mid)
            handle_event(b, msg);
        cJSON_Delete(msg); /* replies to commands nobody waits for (dialog handling) */
    }
}

static cJSON *call(struct browser *b, const char *method, cJSON *params, bool browser_level)
{
    return wait_reply(b, send_cmd(b, method, params, browser_level));
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void exec_chromium(const char *bin, const char *profile, int cmd_fd, int resp_fd,
                          int log_fd)
{
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* move the pipe ends out of the way, then onto 3 and 4 (dup2 clears close-on-exec) */
    int c = fcntl(cmd_fd, F_DUPFD, 10), r = fcntl(resp_fd, F_DUPFD, 10);
    int devnull = open("/dev/null", O_RDONLY);
    if (c < 0 || r < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(log_fd, 1) < 0 ||
        dup2(log_fd, 2) < 0 || dup2(c, 3) < 0 || dup2(r, 4) < 0)
        _exit(126);
    char user_data[320];
    snprintf(user_data, sizeof(user_data), "--user-data-dir=%s/profile", profile);
    char *argv[] = {
        (char *)bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--no-default-browser-check",
        "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
        "--force-device-scale-factor=1", "--window-size=1280,900",
        "--remote-debugging-pipe", user_data, "about:blank", NULL,
    };
    execv(bin, argv);
    _exit(127);
}

struct browser *browser_start(void)
{
    const char *bin = browser_path();
    cr_assert_not_null(bin, "no Chromium (install Debian's chromium: tools/install-deps.sh)");
    struct browser *b = calloc(1, sizeof(*b));
    cr_assert_not_null(b);
    tmpdir_make("chromium", b->profile_dir, sizeof(b->profile_dir));
    char log_path[300];
    snprintf(log_path, sizeof(log_path), "%s/chromium.log", b->profile_dir);
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int cmd[2], resp[2];
    cr_assert(log_fd >= 0 && pipe2(cmd, O_CLOEXEC) == 0 && pipe2(resp, O_CLOEXEC) == 0);
    /* Orphaned Chromium helpers are reparented to us, so browser_stop can reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    b->deadline_ns = now_ns() + BROWSER_DEADLINE_S * 1000000000ULL;
    b->pid = fork();
    cr_assert(b->pid >= 0, "fork: %s", strerror(errno));
    if (b->pid == 0)
        exec_chromium(bin, b->profile_dir, cmd[0], resp[1], log_fd);
    setpgid(b->pid, b->pid);
    close(cmd[0]);
    close(resp[1]);
    close(log_fd);
    b->to_chrome = cmd[1];
    b->from_chrome = resp[0];
    signal(SIGPIPE, SIG_IGN);

    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "url", "about:blank");
    cJSON *r = call(b, "Target.createTarget", p, true);
    char target[128];
    snprintf(target, sizeof(target), "%s", str_at(r, "targetId", NULL));
    cJSON_Delete(r);
    p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "targetId", target);
    cJSON_AddBoolToObject(p, "flatten", true);
    r = call(b, "Target.attachToTarget", p, true);
    snprintf(b->session, sizeof(b->session), "%s", str_at(r, "sessionId", NULL));
    cJSON_Delete(r);
    cr_assert(b->session[0], "no DevTools session");
    const char *domains[] = {"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"};
    for (size_t i = 0; i < 4; i++)
        cJSON_Delete(call(b, domains[i], NULL, false));
    return b;
}

void browser_open(struct browser *b, const char *url)
{
    b->loaded = false;
    snprintf(b->page_url, sizeof(b->page_url), "%s", url);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "url", url);
    cJSON *r = call(b, "Page.navigate", p, false);
    const char *error = str_at(r, "errorText", NULL);
    if (error[0]) {
        char what[600];
        snprintf(what, sizeof(what), "navigating to %s: %s", url, error);
        cJSON_Delete(r);
        fail(b, what);
    }
    cJSON_Delete(r);
    while (!b->loaded) {
        cJSON *msg = read_message(b);
        if (!cJSON_GetObjectItemCaseSensitive(msg, "id"))
            handle_event(b, msg);
        cJSON_Delete(msg);
    }
    /* let scripts that run on load paint: two frames, then a little slack */
    cJSON_Delete(browser_eval(b, "new Promise(r => requestAnimationFrame(() => "
                                 "requestAnimationFrame(() => setTimeout(r, 100))))"));
}

cJSON *browser_eval(struct browser *b, const char *expression)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "expression", expression);
    cJSON_AddBoolToObject(p, "returnByValue", true);
    cJSON_AddBoolToObject(p, "awaitPromise", true);
    cJSON *r = call(b, "Runtime.evaluate", p, false);
    const cJSON *exc = cJSON_GetObjectItemCaseSensitive(r, "exceptionDetails");
    if (exc) {
        char what[1200];
        snprintf(what, sizeof(what), "evaluating %.300s: %s %s", expression,
                 str_at(exc, "text", NULL), str_at(exc, "exception", "description"));
        cJSON_Delete(r);
        fail(b, what);
    }
    cJSON *value = cJSON_DetachItemFromObjectCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r, "result"), "value");
    cJSON_Delete(r);
    return value ? value : cJSON_CreateNull();
}

void browser_exec(struct browser *b, const char *expression)
{
    cJSON_Delete(browser_eval(b, expression));
}

double browser_eval_number(struct browser *b, const char *expression)
{
    cJSON *v = browser_eval(b, expression);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", expression);
    double d = v->valuedouble;
    cJSON_Delete(v);
    return d;
}

char *browser_eval_string(struct browser *b, const char *expression)
{
    cJSON *v = browser_eval(b, expression);
    cr_assert(cJSON_IsString(v), "%s is not a string", expression);
    char *s = strdup(v->valuestring);
    cJSON_Delete(v);
    return s;
}

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static unsigned char *b64_decode(const char *s, size_t *out_len)
{
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 4 * 3 + 3);
    cr_assert_not_null(out);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            continue; /* '=' padding */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = o;
    return out;
}

static void content_size(struct browser *b, double *w, double *h)
{
    cJSON *m = call(b, "Page.getLayoutMetrics", NULL, false);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(m, "cssContentSize");
    *w = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(size, "width"));
    *h = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(size, "height"));
    cJSON_Delete(m);
    cr_assert(*w > 0 && *h > 0, "empty page");
}

/* A screenshot beyond the viewport resizes the viewport while it captures: the scrollbar goes,
 * the page gets wider, and charts clear their canvas to redraw on the next frame, which the
 * capture may beat. So the viewport is made the page's size first, and frames are let pass. */
void browser_fit_viewport(struct browser *b)
{
    for (int round = 0; round < 3; round++) {
        double w, h;
        content_size(b, &w, &h);
        double vw = browser_eval_number(b, "window.innerWidth");
        double vh = browser_eval_number(b, "window.innerHeight");
        if (vh >= h && vw >= w)
            return;
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "width", vw > w ? vw : w);
        cJSON_AddNumberToObject(p, "height", h);
        cJSON_AddNumberToObject(p, "deviceScaleFactor", 1);
        cJSON_AddBoolToObject(p, "mobile", false);
        cJSON_Delete(call(b, "Emulation.setDeviceMetricsOverride", p, false));
        browser_exec(b, "new Promise(r => requestAnimationFrame(() => "
                        "requestAnimationFrame(() => setTimeout(r, 300))))");
    }
}

void browser_screenshot(struct browser *b, const char *png_path, struct image *img)
{
    browser_fit_viewport(b);
    double w, h;
    content_size(b, &w, &h);
    cJSON *p = cJSON_CreateObject(), *clip = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "format", "png");
    cJSON_AddBoolToObject(p, "captureBeyondViewport", false);
    cJSON_AddNumberToObject(clip, "x", 0);
    cJSON_AddNumberToObject(clip, "y", 0);
    cJSON_AddNumberToObject(clip, "width", w);
    cJSON_AddNumberToObject(clip, "height", h);
    cJSON_AddNumberToObject(clip, "scale", 1);
    cJSON_AddItemToObject(p, "clip", clip);
    cJSON *r = call(b, "Page.captureScreenshot", p, false);
    size_t len;
    unsigned char *png = b64_decode(str_at(r, "data", NULL), &len);
    cJSON_Delete(r);
    if (png_path) {
        FILE *f = fopen(png_path, "wb");
        cr_assert_not_null(f, "%s", png_path);
        cr_assert_eq(fwrite(png, 1, len, f), len);
        fclose(f);
    }
    image_decode_png(png, len, img);
    free(png);
}

void browser_stop(struct browser *b)
{
    if (!b)
        return;
    /* a polite close first, with a short deadline of its own */
    uint64_t deadline = now_ns() + 5000000000ULL;
    if (deadline < b->deadline_ns)
        b->deadline_ns = deadline;
    int id = send_cmd(b, "Browser.close", NULL, true);
    (void)id;
    for (int i = 0; i < 500; i++) {
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid)
            break;
        usleep(10000);
    }
    kill_group(b);
    reap_group(b);
    close(b->to_chrome);
    close(b->from_chrome);
    tmpdir_remove(b->profile_dir);
    free(b->inbuf);
    free(b);
}

int browser_leftover_processes(const char *profile_dir)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[8192];
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\0')
                buf[i] = ' ';
        buf[len] = '\0';
        if (strstr(buf, profile_dir))
            n++;
    }
    closedir(d);
    return n;
}

/* ---- PNG ----------------------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes PNG's per-row filters in place; rows are 1 filter byte + stride bytes. */
static void unfilter(unsigned char *data, unsigned height, size_t stride, unsigned bpp)
{
    for (unsigned y = 0; y < height; y++) {
        unsigned char *row = data + y * (stride + 1);
        unsigned char type = row[0], *cur = row + 1;
        const unsigned char *prev = y ? data + (y - 1) * (stride + 1) + 1 : NULL;
        cr_assert_leq(type, 4, "bad PNG filter %u", type);
        for (size_t i = 0; i < stride; i++) {
            int a = i >= bpp ? cur[i - bpp] : 0, up = prev ? prev[i] : 0;
            int c = prev && i >= bpp ? prev[i - bpp] : 0;
            int add = type == 1 ? a : type == 2 ? up : type == 3 ? (a + up) / 2
                      : type == 4 ? paeth(a, up, c) : 0;
            cur[i] = (unsigned char)(cur[i] + add);
        }
    }
}

void image_decode_png(const unsigned char *png, size_t len, struct image *img)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_assert(len > 8 && memcmp(png, sig, 8) == 0, "not a PNG");
    unsigned width = 0, height = 0, colour = 0;
    unsigned char *idat = NULL;
    size_t idat_len = 0;
    for (size_t off = 8; off + 12 <= len;) {
        uint32_t clen = be32(png + off);
        const unsigned char *type = png + off + 4, *data = png + off + 8;
        cr_assert_leq(off + 12 + clen, len, "truncated PNG");
        if (memcmp(type, "IHDR", 4) == 0) {
            width = be32(data);
            height = be32(data + 4);
            colour = data[9];
            cr_assert(data[8] == 8 && (colour == 2 || colour == 6) && data[12] == 0,
                      "unsupported PNG: depth %u colour %u interlace %u", data[8], colour,
                      data[12]);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            idat = realloc(idat, idat_len + clen);
            cr_assert_not_null(idat);
            memcpy(idat + idat_len, data, clen);
            idat_len += clen;
        }
        off += 12 + clen;
    }
    cr_assert(width && height && idat, "PNG without image data");
    unsigned bpp = colour == 6 ? 4 : 3;
    size_t stride = (size_t)width * bpp;
    uLongf raw_len = (uLongf)((stride + 1) * height);
    unsigned char *raw = malloc(raw_len);
    cr_assert_not_null(raw);
    cr_assert_eq(uncompress(raw, &raw_len, idat, idat_len), Z_OK, "corrupt PNG data");
    cr_assert_eq(raw_len, (stride + 1) * height);
    unfilter(raw, height, stride, bpp);
    img->width = width;
    img->height = height;
    img->rgba = malloc((size_t)width * height * 4);
    cr_assert_not_null(img->rgba);
    for (unsigned y = 0; y < height; y++)
        for (unsigned x = 0; x < width; x++) {
            const unsigned char *s = raw + y * (stride + 1) + 1 + (size_t)x * bpp;
            unsigned char *d = img->rgba + ((size_t)y * width + x) * 4;
            d[0] = s[0], d[1] = s[1], d[2] = s[2], d[3] = bpp == 4 ? s[3] : 255;
        }
    free(raw);
    free(idat);
}

static void clip_rect(const struct image *img, unsigned *x, unsigned *y, unsigned *w,
                      unsigned *h)
{
    if (*x > img->width)
        *x = img->width;
    if (*y > img->height)
        *y = img->height;
    if (*w > img->width - *x)
        *w = img->width - *x;
    if (*h > img->height - *y)
        *h = img->height - *y;
}

uint64_t image_count_unlike(const struct image *img, unsigned x, unsigned y, unsigned w,
                            unsigned h, const unsigned char rgb[3], int tolerance)
{
    clip_rect(img, &x, &y, &w, &h);
    uint64_t n = 0;
    for (unsigned j = y; j < y + h; j++)
        for (unsigned i = x; i < x + w; i++) {
            const unsigned char *p = img->rgba + ((size_t)j * img->width + i) * 4;
            if (abs(p[0] - rgb[0]) > tolerance || abs(p[1] - rgb[1]) > tolerance ||
                abs(p[2] - rgb[2]) > tolerance)
                n++;
        }
    return n;
}

unsigned image_distinct_colours(const struct image *img, unsigned x, unsigned y, unsigned w,
                                unsigned h, unsigned limit)
{
    clip_rect(img, &x, &y, &w, &h);
    size_t cap = 1;
    while (cap < (size_t)limit * 2)
        cap <<= 1;
    uint32_t *set = calloc(cap, sizeof(*set)); /* 0 = empty; colours stored +1 */
    cr_assert_not_null(set);
    unsigned n = 0;
    for (unsigned j = y; j < y + h && n < limit; j++)
        for (unsigned i = x; i < x + w && n < limit; i++) {
            const unsigned char *p = img->rgba + ((size_t)j * img->width + i) * 4;
            uint32_t c = ((uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]) + 1;
            size_t k = (c * 2654435761u) & (cap - 1);
            while (set[k] && set[k] != c)
                k = (k + 1) & (cap - 1);
            if (!set[k]) {
                set[k] = c;
                n++;
            }
        }
    free(set);
    return n;
}

void image_free(struct image *img)
{
    free(img->rgba);
    img->rgba = NULL;
}
