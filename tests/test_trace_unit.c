/* Tracer pieces that need no BPF: request-head parsing, replica specs, the off-CPU
 * classification table, the per-syscall hooks' duty cycle, kernel symbols, and the one-line
 * reasons of `loadscope trace`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "syscall_nr.h"
#include "trace/http_head.h"
#include "trace/replica.h"
#include "trace/socket_duty.h"
#include "trace/symbols.h"
#include "trace/syscall_duty.h"

static struct http_head parse(const char *text)
{
    struct http_head h;
    http_head_parse((const uint8_t *)text, strlen(text), &h);
    return h;
}

Test(http_head, method_path_and_request_id)
{
    struct http_head h = parse("POST /v1/predict?model=a HTTP/1.1\r\nHost: x\r\n"
                               "x-request-id: 00000000DEADbeef\r\nContent-Length: 3\r\n\r\nabc");
    cr_expect_str_eq(h.method, "POST");
    cr_expect_str_eq(h.path, "/v1/predict?model=a");
    cr_expect(h.has_request_id);
    cr_expect_eq(h.request_id, 0xdeadbeefULL);
    cr_expect_str_eq(h.request_id_text, "00000000DEADbeef");
}

Test(http_head, non_hex_or_truncated_ids_are_not_numbers)
{
    struct http_head h = parse("GET / HTTP/1.1\r\nX-Request-Id: 7f3e-uuid-like\r\n\r\n");
    cr_expect(!h.has_request_id);
    cr_expect_str_eq(h.request_id_text, "7f3e-uuid-like");
    /* cut in the middle of the header line: the id may be incomplete, so it is not used */
    h = parse("GET / HTTP/1.1\r\nX-Request-Id: 00000000000");
    cr_expect(!h.has_request_id);
    h = parse("GET /a HTTP/1.1\r\nX-Request-Id: 123456789abcdef01\r\n\r\n"); /* 17 digits */
    cr_expect(!h.has_request_id);
}

Test(http_head, not_http_and_truncated_paths)
{
    struct http_head h;
    cr_expect(!http_head_parse((const uint8_t *)"\x16\x03\x01\x02", 4, &h), "TLS is not HTTP");
    cr_expect(!http_head_parse((const uint8_t *)"", 0, &h));
    char big[600] = "GET /";
    memset(big + 5, 'a', 500);
    big[505] = 0;
    h = parse(big);
    cr_expect_str_eq(h.method, "GET");
    cr_expect(h.path_truncated);
    cr_expect_eq(strlen(h.path), SPAN_PATH_LEN - 1);
    h = parse("GET /x\x01y HTTP/1.1\r\n\r\n");
    cr_expect_str_eq(h.path, "/x?y", "control bytes are replaced");
}

Test(replica_spec, parses_the_three_kinds)
{
    struct replica_spec s;
    struct error err = {{0}};
    cr_assert_eq(replica_spec_parse("web=port:8001", &s, &err), 0, "%s", err.msg);
    cr_expect_eq(s.kind, REPLICA_PORT);
    cr_expect_eq(s.port, 8001);
    cr_expect_str_eq(s.name, "web");
    cr_assert_eq(replica_spec_parse("w2=pid:1234", &s, &err), 0);
    cr_expect_eq(s.kind, REPLICA_PID);
    cr_expect_eq(s.pid, 1234);
    cr_assert_eq(replica_spec_parse("c=cgroup:/sys/fs/cgroup/app.slice", &s, &err), 0);
    cr_expect_eq(s.kind, REPLICA_CGROUP);
    cr_expect_str_eq(s.cgroup, "/sys/fs/cgroup/app.slice");
    cr_assert_eq(replica_spec_parse("port:9000", &s, &err), 0);
    cr_expect_str_eq(s.name, "port9000", "a default name");
    char text[300];
    replica_spec_format(&s, text, sizeof(text));
    cr_expect_str_eq(text, "port:9000");
}

Test(replica_spec, rejects_bad_specs_with_a_reason)
{
    const char *bad[] = {"web=port:0", "web=port:70000", "web=port:abc", "web=pid:-3",
                         "web=cgroup:relative", "web=host:1", "=port:80",
                         "a-name-that-is-far-too-long-for-a-replica=port:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct replica_spec s;
        struct error err = {{0}};
        cr_expect_eq(replica_spec_parse(bad[i], &s, &err), -1, "'%s' must be rejected", bad[i]);
        cr_expect(strlen(err.msg) > 0 && !strchr(err.msg, '\n'), "one line: %s", err.msg);
    }
}

Test(off_cpu_classification, syscalls_map_to_reasons)
{
    cr_expect_eq(syscall_block_class(NR_futex), ACC_OFF_LOCK);
    cr_expect_eq(syscall_block_class(NR_clock_nanosleep), ACC_OFF_SLEEP);
    cr_expect_eq(syscall_block_class(NR_epoll_wait), ACC_OFF_IDLE);
    cr_expect_eq(syscall_block_class(NR_accept4), ACC_OFF_IDLE);
    cr_expect_eq(syscall_block_class(NR_recvfrom), SC_BY_FD);
    cr_expect_eq(syscall_block_class(NR_connect), ACC_OFF_DOWNSTREAM);
    cr_expect_eq(syscall_block_class(NR_fsync), ACC_OFF_DISK);
    cr_expect_eq(syscall_block_class(61 /* wait4 */), ACC_OFF_OTHER);
}

#define SEC_NS 1000000000ULL

Test(syscall_duty, cheap_syscalls_keep_the_hooks_on)
{
    struct syscall_duty d;
    syscall_duty_init(&d, 0.01, 0);
    /* a model worker: 2 ms of CPU per request, 400 requests/s, 3000 syscalls on the host */
    for (int w = 0; w < 5; w++) {
        uint64_t hooks = syscall_duty_window(&d, w * SEC_NS, (w + 1) * SEC_NS);
        cr_expect_eq(hooks, SEC_NS);
        cr_expect(syscall_duty_next(&d, hooks, SEC_NS, 3000, 800000000ULL));
    }
    cr_expect_eq(d.period, 1);
    cr_expect(d.share > 0.0007 && d.share < 0.0008, "share %f", d.share);
    /* an idle replica's few syscalls are weighed against a tenth of a core, not its ~0 CPU */
    cr_expect(syscall_duty_next(&d, SEC_NS, SEC_NS, 500, 1000));
    cr_expect_eq(d.period, 1);
}

Test(syscall_duty, costly_syscalls_run_one_window_in_period)
{
    struct syscall_duty d;
    syscall_duty_init(&d, 0.01, 0);
    /* nginx: 375k syscalls on the host for 0.84 s of its CPU: 0.075 s of hooks = 8.9% -> one
     * window in 9 */
    uint64_t hooks = syscall_duty_window(&d, 0, SEC_NS);
    cr_expect_not(syscall_duty_next(&d, hooks, SEC_NS, 375000, 840000000ULL));
    cr_expect_eq(d.period, 9);
    /* detached 5 ms after the window closed: those 5 ms belong to the next window */
    syscall_duty_switched(&d, false, SEC_NS + 5000000);
    int on_at = -1;
    for (int w = 1; w < 9 && on_at < 0; w++) {
        hooks = syscall_duty_window(&d, w * SEC_NS, (w + 1) * SEC_NS);
        cr_expect_eq(hooks, w == 1 ? 5000000ULL : 0ULL, "window %d: %llu ns", w,
                     (unsigned long long)hooks);
        if (syscall_duty_next(&d, hooks, SEC_NS, 100, 840000000ULL))
            on_at = w;
    }
    cr_expect_eq(on_at, 8, "the hooks come back after 8 windows off (at %d)", on_at);
    syscall_duty_switched(&d, true, 9 * SEC_NS + 3000000);
    hooks = syscall_duty_window(&d, 9 * SEC_NS, 10 * SEC_NS);
    cr_expect_eq(hooks, SEC_NS - 3000000);
    /* a sampled window re-estimates: heavier now, capped at one window in 20 */
    cr_expect_not(syscall_duty_next(&d, hooks, SEC_NS, 5000000, SEC_NS));
    cr_expect_eq(d.period, SYSCALL_DUTY_MAX_PERIOD);
}

Test(syscall_duty, a_costly_start_is_cut_mid_window)
{
    struct syscall_duty d;
    syscall_duty_init(&d, 0.01, 0);
    const uint64_t ms = 1000000ULL;
    /* too soon to judge: 50 ms of hooks */
    cr_expect_not(syscall_duty_early(&d, 50000, 40 * ms, 50 * ms));
    /* idle so far: 100 syscalls in 200 ms, weighed against a tenth of a core */
    cr_expect_not(syscall_duty_early(&d, 100, 1 * ms, 200 * ms));
    cr_expect_eq(d.period, 1);
    /* nginx under load: 45k syscalls for 100 ms of CPU in 120 ms = 9% -> off now, 1 in 9 */
    cr_expect(syscall_duty_early(&d, 45000, 100 * ms, 120 * ms));
    cr_expect_eq(d.period, 9);
    syscall_duty_switched(&d, false, 121 * ms);
    /* the open window kept them 121 ms: not a sampled one; 8 more windows off, then on */
    uint64_t hooks = syscall_duty_window(&d, 0, SEC_NS);
    cr_expect_eq(hooks, 121 * ms);
    int on_at = syscall_duty_next(&d, hooks, SEC_NS, 45000, 800 * ms) ? 0 : -1;
    for (int w = 1; w < 9 && on_at < 0; w++) {
        hooks = syscall_duty_window(&d, w * SEC_NS, (w + 1) * SEC_NS);
        if (syscall_duty_next(&d, hooks, SEC_NS, 0, 800 * ms))
            on_at = w;
    }
    cr_expect_eq(on_at, 7, "on again after the window of the cut and 7 more (at %d)", on_at);
    /* a sampled window at the same cost runs whole */
    syscall_duty_switched(&d, true, 8 * SEC_NS);
    hooks = syscall_duty_window(&d, 8 * SEC_NS, 9 * SEC_NS);
    cr_expect_not(syscall_duty_next(&d, hooks, SEC_NS, 45000 * 8, 800 * ms));
    cr_expect_eq(d.period, 9);
    cr_expect_not(syscall_duty_early(&d, 45000 * 5, 500 * ms, 9 * SEC_NS + 500 * ms));
    /* the load grew: a sampled window that costs more than its period allows is cut too */
    cr_expect(syscall_duty_early(&d, 90000 * 5, 500 * ms, 9 * SEC_NS + 550 * ms));
    cr_expect_eq(d.period, 18);
    syscall_duty_switched(&d, false, 9 * SEC_NS + 550 * ms);
    /* at the longest period a sampled window runs whole, however costly */
    syscall_duty_switched(&d, true, 20 * SEC_NS);
    d.period = SYSCALL_DUTY_MAX_PERIOD;
    cr_expect_not(syscall_duty_early(&d, 5000000, 500 * ms, 20 * SEC_NS + 500 * ms));
    /* with no budget, always on */
    struct syscall_duty always;
    syscall_duty_init(&always, 0, 0);
    cr_expect_not(syscall_duty_early(&always, 60000, 100 * ms, 120 * ms));
}

Test(syscall_duty, no_budget_means_always_on)
{
    struct syscall_duty d;
    syscall_duty_init(&d, 0, 0);
    uint64_t hooks = syscall_duty_window(&d, 0, SEC_NS);
    cr_expect(syscall_duty_next(&d, hooks, SEC_NS, 5000000, SEC_NS / 10));
    cr_expect(d.share > 9.99 && d.share < 10.01, "the cost is still estimated: %f", d.share);
}

Test(socket_duty, above_the_budget_the_hooks_run_the_middle_of_each_window)
{
    const uint64_t ms = 1000000ULL;
    struct socket_duty d;
    socket_duty_init(&d, 0.01, 0);
    cr_expect(socket_duty_wanted(&d, 0), "on from the start");
    cr_expect(d.on);
    /* nginx: 40k requests for 0.8 s of its CPU: 60 ms of hooks = 7.5% -> 1/8 of a window,
     * 125 ms in its middle */
    uint64_t on = socket_duty_window(&d, SEC_NS);
    cr_expect_eq(on, SEC_NS);
    socket_duty_next(&d, 40000, 800 * ms, SEC_NS, SEC_NS);
    cr_expect_eq(d.period, 8);
    cr_expect_eq(d.on_at_ns, SEC_NS + 437500000ULL);
    cr_expect_eq(d.off_at_ns, SEC_NS + 562500000ULL);
    cr_expect_not(socket_duty_wanted(&d, SEC_NS));
    socket_duty_switched(&d, false, SEC_NS + 1 * ms);
    cr_expect_eq(socket_duty_next_switch(&d, SEC_NS + 1 * ms, 2 * SEC_NS), d.on_at_ns,
                 "the reader wakes for it");
    cr_expect(socket_duty_wanted(&d, SEC_NS + 440 * ms));
    socket_duty_switched(&d, true, SEC_NS + 440 * ms);
    cr_expect_eq(socket_duty_next_switch(&d, SEC_NS + 440 * ms, 2 * SEC_NS), d.off_at_ns);
    cr_expect_not(socket_duty_wanted(&d, SEC_NS + 563 * ms));
    socket_duty_switched(&d, false, SEC_NS + 563 * ms);
    cr_expect_eq(socket_duty_next_switch(&d, SEC_NS + 563 * ms, 2 * SEC_NS), 2 * SEC_NS,
                 "nothing more planned: the reader sleeps until the window ends");
    /* the window counts the 1 ms before the switch-off and the stretch */
    on = socket_duty_window(&d, 2 * SEC_NS);
    cr_expect_eq(on, 124 * ms, "on %llu ns", (unsigned long long)on);
    /* its counters stand for the whole window */
    struct replica_window w = {.start_ns = SEC_NS, .end_ns = 2 * SEC_NS, .requests = 7500,
                               .recvq_wait_ns = 1000, .bytes_in = 31, .spans_skipped = 3};
    w.recvq_hist[5] = 10;
    socket_duty_scale(&w, 125 * ms);
    cr_expect_eq(w.requests, 60000);
    cr_expect_eq(w.recvq_wait_ns, 8000);
    cr_expect_eq(w.recvq_hist[5], 80);
    cr_expect_eq(w.bytes_in, 248);
    cr_expect_eq(w.spans_skipped, 24);
    /* heavier still: capped at 1/20; the session keeps its longest period and highest cost */
    socket_duty_next(&d, 500000, 800 * ms, SEC_NS, 2 * SEC_NS);
    cr_expect_eq(d.period, DUTY_MAX_PERIOD);
    /* light again (an inference API: 2 ms per request): on all along from now */
    socket_duty_next(&d, 400, 800 * ms, SEC_NS, 3 * SEC_NS);
    cr_expect_eq(d.period, 1);
    cr_expect(socket_duty_wanted(&d, 3 * SEC_NS));
    cr_expect_eq(d.max_period, DUTY_MAX_PERIOD);
    cr_expect_float_eq(d.max_share, 500000.0 * SOCKET_HOOK_COST_NS / 800e6, 1e-9);
}

Test(socket_duty, a_whole_window_or_no_budget_is_not_scaled)
{
    struct replica_window w = {.start_ns = 0, .end_ns = SEC_NS, .requests = 100};
    socket_duty_scale(&w, SEC_NS);
    cr_expect_eq(w.requests, 100);
    socket_duty_scale(&w, 0);
    cr_expect_eq(w.requests, 100, "0: a run stored before the duty cycle");
    struct socket_duty d;
    socket_duty_init(&d, 0, 0);
    socket_duty_next(&d, 10000000, 1000, SEC_NS, SEC_NS);
    cr_expect_eq(d.period, 1, "no budget: always on");
    cr_expect(socket_duty_wanted(&d, SEC_NS + 1));
    double b;
    struct error err = {{0}};
    cr_expect_eq(socket_budget_parse("2.5%", &b, &err), 0);
    cr_expect_float_eq(b, 0.025, 1e-12);
}

static int run(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(trace_cli, one_line_reasons_and_exit_codes)
{
    const char *bin = getenv("LOADSCOPE_BIN");
    if (!bin)
        cr_skip_test("LOADSCOPE_BIN is not set (run through make)");
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof(cmd), "%s trace 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "loadscope: trace needs at least one --replica") == out, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s trace --replica web=port:x 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "loadscope: bad replica") == out, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s trace --replica web=port:80 --syscall-budget 0 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "loadscope: bad --syscall-budget '0' (a percentage, 0.01..100)\n") ==
                  out, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s run -H http://127.0.0.1:1 --syscall-budget 5x 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "bad --syscall-budget '5x'") != NULL, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s trace --replica web=port:80 --socket-budget 101 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "loadscope: bad --socket-budget '101' (a percentage, 0.01..100)\n") ==
                  out, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s run -H http://127.0.0.1:1 --socket-budget x 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "bad --socket-budget 'x'") != NULL, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s trace --replica web=port:80 --span-rate -5 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "loadscope: bad --span-rate '-5' (0..10000000)\n") == out, "%s", out);
    snprintf(cmd, sizeof(cmd), "%s run -H http://127.0.0.1:1 --span-rate lots 2>&1", bin);
    cr_expect_eq(run(cmd, out, sizeof(out)), 2);
    cr_expect(strstr(out, "--span-rate takes 0..10000000, not 'lots'") != NULL, "%s", out);
    /* nobody listens on port 1 */
    snprintf(cmd, sizeof(cmd), "%s trace --replica web=port:1 -t 1s 2>&1", bin);
    int rc = run(cmd, out, sizeof(out));
    cr_expect_eq(rc, 1, "%s", out);
    cr_expect(strstr(out, "loadscope: cannot trace: ") == out, "%s", out);
    cr_expect(strstr(out, "no process listens on TCP port 1") || strstr(out, "needs root"), "%s",
              out);
    cr_expect_eq(strchr(out, '\n') - out + 1, (long)strlen(out), "one line: %s", out);
    /* without privileges: the reason is named */
    if (geteuid() == 0 && system("command -v setpriv >/dev/null 2>&1") == 0) {
        snprintf(cmd, sizeof(cmd),
                 "setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "
                 "%s trace --replica web=pid:1 -t 1s 2>&1", bin);
        cr_expect_eq(run(cmd, out, sizeof(out)), 1, "%s", out);
        cr_expect(strstr(out, "needs root or CAP_BPF+CAP_PERFMON") != NULL, "%s", out);
    }
}

/* Kernel frames are named from /proc/kallsyms (root sees the addresses; others read zeros). */
Test(symbols, kernel_addresses_name_the_function_that_holds_them)
{
    if (geteuid() != 0)
        cr_skip_test("needs root (kallsyms addresses)");
    FILE *f = fopen("/proc/kallsyms", "r");
    cr_assert_not_null(f);
    char line[512], name[256], type;
    unsigned long long addr, want = 0;
    while (!want && fgets(line, sizeof(line), f))
        if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 &&
            !strcmp(name, "do_syscall_64"))
            want = addr;
    fclose(f);
    cr_assert(want, "do_syscall_64 in /proc/kallsyms");
    struct symbols *s = symbols_new();
    symbols_load_kernel(s);
    char buf[128];
    symbols_kernel(s, want, buf, sizeof(buf));
    cr_expect_str_eq(buf, "do_syscall_64");
    symbols_kernel(s, want + 3, buf, sizeof(buf));
    cr_expect_str_eq(buf, "do_syscall_64", "an address inside the function");
    symbols_kernel(s, 16, buf, sizeof(buf));
    cr_expect_str_eq(buf, "[unknown]", "below every symbol");
    symbols_free(s);
}
