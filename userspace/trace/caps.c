/* trace_probe: can this host trace? Privileges, BTF, tracefs (mounted when missing), and
 * which BPF attach types actually work, each tried with a trivial program (a kernel can
 * refuse one type and accept another: here kprobes and fentry fail with EPERM). */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "trace/trace.h"
#include "trace/tracefs.h"

static bool has_caps(void)
{
    if (geteuid() == 0)
        return true;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return false;
    uint64_t eff = (uint64_t)data[1].effective << 32 | data[0].effective;
    bool sys_admin = eff & (1ULL << 21);
    bool bpf = eff & (1ULL << 39), perfmon = eff & (1ULL << 38);
    return sys_admin || (bpf && perfmon);
}

static int trivial_prog(enum bpf_prog_type type, enum bpf_attach_type attach, __u32 btf_id)
{
    const struct bpf_insn insns[] = {
        {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
        {.code = BPF_JMP | BPF_EXIT},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach,
                .attach_btf_id = btf_id);
    return bpf_prog_load(type, "ls_probe", "GPL", insns, 2, &opts);
}

static __u32 vmlinux_id(const char *name, int kind)
{
    struct btf *btf = btf__load_vmlinux_btf();
    if (!btf)
        return 0;
    int id = btf__find_by_name_kind(btf, name, kind);
    btf__free(btf);
    return id > 0 ? (__u32)id : 0;
}

static bool try_tp_btf(void)
{
    __u32 id = vmlinux_id("btf_trace_sched_switch", BTF_KIND_TYPEDEF);
    int fd = id ? trivial_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, id) : -1;
    if (fd < 0)
        return false;
    int link = bpf_raw_tracepoint_open(NULL, fd);
    close(fd);
    if (link < 0)
        return false;
    close(link);
    return true;
}

static bool try_fentry(void)
{
    __u32 id = vmlinux_id("do_nanosleep", BTF_KIND_FUNC);
    int fd = id ? trivial_prog(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, id) : -1;
    if (fd < 0)
        return false;
    int link = bpf_raw_tracepoint_open(NULL, fd);
    close(fd);
    if (link < 0)
        return false;
    close(link);
    return true;
}

static bool try_raw_tp(void)
{
    int fd = trivial_prog(BPF_PROG_TYPE_RAW_TRACEPOINT, 0, 0);
    if (fd < 0)
        return false;
    int link = bpf_raw_tracepoint_open("sched_switch", fd);
    close(fd);
    if (link < 0)
        return false;
    close(link);
    return true;
}

static bool attach_perf(int prog_fd, struct perf_event_attr *attr)
{
    int pfd = (int)syscall(SYS_perf_event_open, attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
    if (pfd < 0)
        return false;
    bool ok = ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog_fd) == 0;
    close(pfd);
    return ok;
}

static bool try_tracepoint(void)
{
    long id = tracefs_event_id("sched", "sched_switch");
    int fd = id > 0 ? trivial_prog(BPF_PROG_TYPE_TRACEPOINT, 0, 0) : -1;
    if (fd < 0)
        return false;
    struct perf_event_attr attr = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof(attr),
                                   .config = (__u64)id, .sample_period = 1};
    bool ok = attach_perf(fd, &attr);
    close(fd);
    return ok;
}

static bool try_perf_event(void)
{
    int fd = trivial_prog(BPF_PROG_TYPE_PERF_EVENT, 0, 0);
    if (fd < 0)
        return false;
    struct perf_event_attr attr = {.type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
                                   .config = PERF_COUNT_SW_CPU_CLOCK, .freq = 1,
                                   .sample_freq = 49};
    bool ok = attach_perf(fd, &attr);
    close(fd);
    return ok;
}

static bool try_ringbuf(void)
{
    int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "ls_probe", 0, 0, 4096, NULL);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

int trace_probe(struct trace_caps *caps, struct error *err)
{
    memset(caps, 0, sizeof(*caps));
    caps->privileged = has_caps();
    caps->btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0;
    if (!caps->privileged)
        return error_set(err, "tracing needs root or CAP_BPF+CAP_PERFMON (running as uid %d)",
                         (int)geteuid());
    if (!caps->btf)
        return error_set(err, "tracing needs kernel BTF (/sys/kernel/btf/vmlinux is missing)");
    struct error mount_err = {{0}};
    int m = tracefs_ensure(&mount_err);
    caps->tracefs = m >= 0;
    caps->tracefs_mounted_now = m == 1;
    libbpf_set_print(NULL);
    caps->tp_btf = try_tp_btf();
    caps->raw_tp = try_raw_tp();
    caps->tracepoint = caps->tracefs && try_tracepoint();
    caps->fentry = try_fentry();
    caps->perf_event = try_perf_event();
    caps->ringbuf = try_ringbuf();
    caps->task_storage = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) > 0;
    if (!caps->tp_btf && !caps->raw_tp && !caps->tracepoint)
        return error_set(err, "no tracepoint attach type works (tp_btf, raw_tp and classic "
                              "tracepoints all refused%s%s)",
                         caps->tracefs ? "" : "; ", caps->tracefs ? "" : mount_err.msg);
    if (!caps->ringbuf || !caps->task_storage)
        return error_set(err, "the kernel lacks BPF %s (Linux 5.11 or later is needed)",
                         !caps->ringbuf ? "ring buffers" : "task storage");
    return 0;
}
