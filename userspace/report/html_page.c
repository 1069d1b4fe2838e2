#include "report/html_page.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

static bool script_safe(const char *s)
{
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<'))
        if (strncasecmp(p, "</script", 8) == 0 || strncmp(p, "<!--", 4) == 0)
            return false;
    return true;
}

static int make_nonce(char *buf, size_t len, const char *page, struct error *err)
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return error_set(err, "%s: no random bytes for the script nonce: %s", page,
                         strerror(errno));
    for (size_t i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
        snprintf(buf + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

int html_page_write(FILE *out, const char *page, const char *template,
                    const char *const *scripts, html_marker_fn marker, const void *ctx,
                    struct error *err)
{
    for (; *scripts; scripts++)
        if (!script_safe(*scripts))
            return error_set(err, "%s: an embedded script contains </script or <!--", page);
    char nonce[40];
    if (make_nonce(nonce, sizeof(nonce), page, err) < 0)
        return -1;
    const char *t = template;
    for (;;) {
        const char *open = strstr(t, "{{");
        if (!open) {
            fputs(t, out);
            return 0;
        }
        const char *close = strstr(open + 2, "}}");
        if (!close)
            return error_set(err, "%s template: unclosed marker", page);
        fwrite(t, 1, (size_t)(open - t), out);
        if (marker(out, open + 2, (size_t)(close - open - 2), nonce, ctx, err) < 0)
            return -1;
        t = close + 2;
    }
}
