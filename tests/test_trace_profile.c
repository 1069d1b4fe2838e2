/* CPU profile: stack samples of traced processes, symbolized (ELF through libdw, JIT frames
 * through /tmp/perf-PID.map), folded per replica. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/trace_collect.h"
#include "support/trace_procs.h"
#include "trace/trace.h"

static char *folded_of(struct trace_session *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct error err = {{0}};
    cr_assert_eq(trace_profile_write_folded(s, 0, f, &err), 0, "%s", err.msg);
    fclose(f);
    return buf;
}

Test(trace_profile, a_busy_function_appears_symbolized_in_the_folded_stacks)
{
    if (!trace_test_can_trace())
        cr_skip_test("needs root");
    struct trace_proc p;
    cr_assert_eq(trace_proc_start(&p, JOB_BURN_FUNC, 1000, 0), 0);
    char spec[64];
    snprintf(spec, sizeof(spec), "burn=pid:%d", (int)p.pid);
    struct trace_collect c;
    trace_collect_init(&c);
    struct trace_session *s = trace_test_start(spec, 99, 0, &c);
    cr_assert_not_null(s);
    trace_proc_go(&p);
    uint64_t r;
    cr_expect_eq(trace_proc_result(&p, &r, 20000), 0);
    trace_test_sleep_ms(50);
    struct trace_totals t;
    trace_stop(s, &t);
    trace_proc_stop(&p); /* gone: its symbols were read while it ran */
    char *folded = folded_of(s);
    cr_expect(t.profile_samples >= 30, "samples: %llu", (unsigned long long)t.profile_samples);
    cr_expect(strstr(folded, "trace_support_burn_cpu") != NULL, "folded stacks:\n%.2000s", folded);
    /* a line is "comm;frames count" */
    unsigned long long total = 0, n;
    char *save = NULL, *copy = strdup(folded);
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        cr_assert(sp && sscanf(sp + 1, "%llu", &n) == 1, "line has a count: %s", line);
        cr_expect(strchr(line, ';') != NULL && strchr(line, ';') < sp, "comm;frames: %s", line);
        total += n;
    }
    free(copy);
    cr_expect_eq(total, t.profile_samples, "every sample is in a line (%llu vs %llu)", total,
                 (unsigned long long)t.profile_samples);
    free(folded);
    trace_destroy(s);
    trace_collect_free(&c);
}

/* Node writes /tmp/perf-PID.map with --perf-basic-prof: JIT frames get JavaScript names. */
Test(trace_profile, node_jit_frames_are_named_from_the_perf_map)
{
    if (!trace_test_can_trace())
        cr_skip_test("needs root");
    if (system("command -v node >/dev/null 2>&1") != 0)
        cr_skip_test("node is not installed");
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char c;
        close(go[1]);
        if (read(go[0], &c, 1) != 1)
            _exit(1);
        execlp("node", "node", "--perf-basic-prof", "-e",
               "function loadscopeHotLoop(n){let x=0;for(let i=0;i<n;i++){x=(x*31+i)%1000003;}"
               "return x;}const end=Date.now()+1500;let s=0;"
               "while(Date.now()<end){s+=loadscopeHotLoop(200000);}console.log(s>0?'':'');",
               (char *)NULL);
        _exit(127);
    }
    close(go[0]);
    char spec[64];
    snprintf(spec, sizeof(spec), "node=pid:%d", (int)pid);
    struct trace_collect c;
    trace_collect_init(&c);
    struct trace_session *s = trace_test_start(spec, 99, 0, &c);
    cr_assert_not_null(s);
    if (write(go[1], "g", 1) != 1)
        cr_assert_fail("cannot start node");
    int status = 0;
    waitpid(pid, &status, 0); /* node execs after tracing started: still the same process */
    struct trace_totals t;
    trace_stop(s, &t);
    char *folded = folded_of(s);
    cr_expect(strstr(folded, "loadscopeHotLoop") != NULL, "folded stacks:\n%.3000s", folded);
    free(folded);
    trace_destroy(s);
    trace_collect_free(&c);
    close(go[1]);
    char map[64];
    snprintf(map, sizeof(map), "/tmp/perf-%d.map", (int)pid);
    unlink(map);
}
