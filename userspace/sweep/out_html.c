/* sweep.html: one self-contained offline page. The sweep document (sweep.json) sits in a
 * <script type="application/json"> block, written by the project's JSON writer, which escapes
 * '<', '>' and '&' in every string so nothing in it can close the block; the page's script
 * draws tables and charts from it with textContent only. A Content-Security-Policy allows no
 * network access and runs only scripts that carry this page's random nonce. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "common/escape.h"
#include "sweep/outputs.h"

/* sweep_assets.S */
extern const char sweep_asset_template[];
extern const char sweep_asset_css[];
extern const char sweep_asset_js[];
/* report/html_assets.S: Debian's Chart.js, embedded once for both reports */
extern const char html_asset_chartjs[];

/* Text inside <script> must not contain "</script" or "<!--": embedded assets are checked,
 * not trusted. */
static bool script_safe(const char *s)
{
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<'))
        if (strncasecmp(p, "</script", 8) == 0 || strncmp(p, "<!--", 4) == 0)
            return false;
    return true;
}

static int make_nonce(char *buf, size_t len, struct error *err)
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return error_set(err, "sweep.html: no random bytes for the script nonce: %s",
                         strerror(errno));
    for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static int marker(FILE *out, const char *name, size_t len, const struct sweep_outputs *o,
                  const char *nonce, struct error *err)
{
#define IS(m) (len == sizeof(m) - 1 && memcmp(name, m, len) == 0)
    if (IS("NONCE")) {
        fputs(nonce, out);
    } else if (IS("TITLE")) {
        fputs("loadscope sweep \xE2\x80\x94 ", out);
        escape_html(out, o->sweep->id);
    } else if (IS("CSS")) {
        fputs(sweep_asset_css, out);
    } else if (IS("CHARTJS")) {
        fputs(html_asset_chartjs, out);
    } else if (IS("SWEEP_JS")) {
        fputs(sweep_asset_js, out);
    } else if (IS("DATA")) {
        sweep_write_json(out, o, false);
    } else {
        return error_set(err, "sweep.html template: unknown marker {{%.*s}}", (int)len, name);
    }
    return 0;
#undef IS
}

int sweep_write_html(FILE *out, const struct sweep_outputs *o, struct error *err)
{
    if (!script_safe(html_asset_chartjs) || !script_safe(sweep_asset_js))
        return error_set(err, "sweep.html: an embedded script contains </script or <!--");
    char nonce[40];
    if (make_nonce(nonce, sizeof(nonce), err) < 0)
        return -1;
    const char *t = sweep_asset_template;
    for (;;) {
        const char *open = strstr(t, "{{");
        if (!open) {
            fputs(t, out);
            return 0;
        }
        const char *close = strstr(open + 2, "}}");
        if (!close)
            return error_set(err, "sweep.html template: unclosed marker");
        fwrite(t, 1, (size_t)(open - t), out);
        if (marker(out, open + 2, (size_t)(close - open - 2), o, nonce, err) < 0)
            return -1;
        t = close + 2;
    }
}
