#include "sweep/run_args.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/duration.h"

/* ---- checking the user's options ----------------------------------------------------------- */

/* True when arg spells long option name: "--name", "--name=..." or an unambiguous prefix
 * getopt_long would accept ("--us" for --users). */
static bool is_long(const char *arg, const char *name)
{
    if (strncmp(arg, "--", 2))
        return false;
    size_t len = strcspn(arg + 2, "=");
    return len >= 2 && len <= strlen(name) && !strncmp(arg + 2, name, len);
}

/* True when arg is short option c, alone or with its value glued ("-t5s"). */
static bool is_short(const char *arg, char c)
{
    return arg[0] == '-' && arg[1] == c;
}

struct forbidden {
    char short_name;
    const char *long_name;
    const char *why;
};

static const struct forbidden always[] = {
    {0, "out", "the sweep gives each cell its directory cells/NAME"},
    {'t', "run-time", "give the cell duration to the sweep: -t before --"},
    {0, "csv", "every cell writes its Locust CSVs in its own directory"},
    {0, "json", "every cell writes report.json in its own directory"},
    {0, "html", "every cell writes report.html in its own directory"},
    {0, "markdown", "every cell writes report.md in its own directory"},
    {0, "trace-out", "every cell writes trace.json in its own directory"},
    {'h', "help", "see 'loadscope run --help'"},
};

static int refuse(const char *arg, const char *why, struct error *err)
{
    return error_set(err, "run option '%s' cannot be used in a sweep: %s", arg, why);
}

int run_options_check(char *const *opts, int n, bool sweep_sets_hosts, bool sweep_sets_replicas,
                      bool load_axis, struct run_options_info *info, struct error *err)
{
    memset(info, 0, sizeof(*info));
    for (int i = 0; i < n; i++) {
        const char *a = opts[i];
        if (a[0] != '-' || !strcmp(a, "-") || !strcmp(a, "--"))
            continue; /* a value */
        for (size_t k = 0; k < sizeof(always) / sizeof(always[0]); k++)
            if ((always[k].short_name && is_short(a, always[k].short_name)) ||
                is_long(a, always[k].long_name))
                return refuse(a, always[k].why, err);
        bool host = is_short(a, 'H') || is_long(a, "host");
        bool replica = is_long(a, "replica");
        bool load = is_short(a, 'u') || is_long(a, "users") || is_long(a, "rate") ||
                    is_long(a, "stage");
        if (host && sweep_sets_hosts)
            return refuse(a, "the sweep starts the target and points each cell at it", err);
        if (replica && sweep_sets_replicas)
            return refuse(a, "the sweep names the replicas it starts", err);
        if (load && load_axis)
            return refuse(a, "the load is an axis of the sweep (--users or --rate)", err);
        info->has_host |= host;
        info->has_replica |= replica;
        info->has_load |= load;
        info->has_scenario |= is_short(a, 'f') || is_long(a, "scenario");
        info->has_endpoint |= is_short(a, 'e') || is_long(a, "endpoint");
    }
    return 0;
}

/* ---- building a cell's command line -------------------------------------------------------- */

static void add(struct run_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct run_args *a, const char *fmt, ...)
{
    if (a->oom)
        return;
    if (a->argc + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **more = realloc(a->argv, cap * sizeof(*more));
        if (!more) {
            a->oom = true;
            return;
        }
        a->argv = more;
        a->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        a->oom = true;
    va_end(ap);
    if (a->oom)
        return;
    a->argv[a->argc++] = s;
    a->argv[a->argc] = NULL;
}

static void add_endpoints(struct run_args *a, const struct demo_scenario *sc, const char *image)
{
    for (size_t i = 0; i < sc->n_endpoints; i++) {
        const struct demo_endpoint *e = &sc->endpoints[i];
        if (e->body == DEMO_BODY_MULTIPART)
            add(a, "--endpoint=%s %s weight=%u upload=file=@%s;type=image/x-portable-pixmap",
                e->method, e->path, e->weight, image);
        else if (e->body == DEMO_BODY_RAW)
            add(a, "--endpoint=%s %s weight=%u body=@%s "
                   "header=Content-Type:application/octet-stream",
                e->method, e->path, e->weight, image);
        else
            add(a, "--endpoint=%s %s weight=%u", e->method, e->path, e->weight);
    }
}

int run_args_build(struct run_args *a, const struct run_args_input *in)
{
    memset(a, 0, sizeof(*a));
    const struct sweep_target *t = in->target;
    const struct run_options_info *info = in->info;
    for (int i = 0; i < t->n_ports; i++)
        add(a, "--host=http://127.0.0.1:%d", t->ports[i]);
    bool demo = in->spec->mode == SWEEP_TARGET_DEMO;
    if (demo && in->endpoints_from && !info->has_endpoint && !info->has_scenario)
        add_endpoints(a, in->endpoints_from, in->sample_image);
    if (in->grid->load.varied)
        add(a, in->grid->load_is_rate ? "--rate=%g" : "--users=%g", in->cell->load);
    else if (demo && in->endpoints_from && !info->has_load && !info->has_scenario) {
        if (in->endpoints_from->rate > 0)
            add(a, "--rate=%g", in->endpoints_from->rate);
        else
            add(a, "--users=%u", in->endpoints_from->users);
    }
    char dur[32];
    add(a, "--run-time=%s", duration_format(in->cell_ns, dur, sizeof(dur)));
    bool name_replicas = demo || (in->spec->mode == SWEEP_TARGET_LAUNCH &&
                                  in->spec->port_per_replica);
    for (int i = 0; name_replicas && !info->has_replica && i < t->n_ports; i++) {
        if (t->n_ports == 1)
            add(a, "--replica=%s=port:%d", demo ? "demo" : "target", t->ports[i]);
        else
            add(a, "--replica=replica%d=port:%d", i + 1, t->ports[i]);
    }
    add(a, "--out=%s", in->out_dir);
    add(a, "--only-summary");
    for (int i = 0; i < in->n_opts; i++)
        add(a, "%s", in->opts[i]);
    if (a->oom) {
        run_args_free(a);
        return -1;
    }
    return 0;
}

void run_args_free(struct run_args *a)
{
    for (size_t i = 0; i < a->argc; i++)
        free(a->argv[i]);
    free(a->argv);
    memset(a, 0, sizeof(*a));
}

void run_args_quote(char *const *argv, int argc, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && off < len; i++) {
        const char *s = argv[i];
        bool plain = *s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_=:/.,@%+") == strlen(s);
        if (plain) {
            off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "", s);
            continue;
        }
        off += (size_t)snprintf(buf + off, len - off, "%s'", i ? " " : "");
        for (; *s && off + 5 < len; s++) {
            if (*s == '\'')
                off += (size_t)snprintf(buf + off, len - off, "'\\''");
            else
                buf[off++] = *s;
        }
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, "'");
    }
    if (off >= len && len > 4)
        memcpy(buf + len - 4, "...", 4);
}
