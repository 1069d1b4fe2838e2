/* sweep.html: one self-contained offline page. The sweep document (sweep.json) sits in a
 * <script type="application/json"> block, written by the project's JSON writer, which escapes
 * '<', '>' and '&' in every string so nothing in it can close the block; the page's script
 * draws tables and charts from it with textContent only. A Content-Security-Policy allows no
 * network access and runs only scripts that carry this page's random nonce. */
#include <string.h>

#include "common/escape.h"
#include "report/html_page.h"
#include "sweep/outputs.h"

/* sweep_assets.S */
extern const char sweep_asset_template[];
extern const char sweep_asset_css[];
extern const char sweep_asset_js[];
/* report/html_assets.S: Debian's Chart.js, embedded once for both reports */
extern const char html_asset_chartjs[];

static int marker(FILE *out, const char *name, size_t len, const char *nonce,
                  const void *ctx, struct error *err)
{
    const struct sweep_outputs *o = ctx;
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
    const char *const scripts[] = {html_asset_chartjs, sweep_asset_js, NULL};
    return html_page_write(out, "sweep.html", sweep_asset_template, scripts, marker, o, err);
}
