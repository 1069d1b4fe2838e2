/* From a thread's file descriptor to its file, inode type and socket, with CO-RE reads
 * (no kprobes here: this is how an fd seen at sys_enter/exit is tied to a socket). */
#ifndef LOADSCOPE_BPF_FD_BPF_H
#define LOADSCOPE_BPF_FD_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#define LS_S_IFMT 0170000
#define LS_S_IFSOCK 0140000
#define LS_S_IFIFO 0010000
#define LS_S_IFREG 0100000
#define LS_S_IFBLK 0060000
#define LS_AF_INET 2
#define LS_AF_INET6 10

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
    struct file *f = NULL;
    if (fd < 0 || fd > 0xfffffff)
        return NULL;
    struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
    if (!fdt)
        return NULL;
    unsigned int max = BPF_CORE_READ(fdt, max_fds);
    if ((unsigned long)fd >= max)
        return NULL;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
    return f;
}

static __always_inline __u32 file_type(struct file *f)
{
    return f ? (BPF_CORE_READ(f, f_inode, i_mode) & LS_S_IFMT) : 0;
}

/* The struct sock behind a socket file, or NULL. */
static __always_inline struct sock *file_sock(struct file *f)
{
    if (file_type(f) != LS_S_IFSOCK)
        return NULL;
    struct socket *so = BPF_CORE_READ(f, private_data);
    return so ? BPF_CORE_READ(so, sk) : NULL;
}

static __always_inline struct sock *fd_sock(struct task_struct *task, long fd)
{
    return file_sock(fd_file(task, fd));
}

/* Local TCP/UDP port of an inet socket (host order), 0 for other families. */
static __always_inline __u16 sock_local_port(const struct sock *sk)
{
    __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (family != LS_AF_INET && family != LS_AF_INET6)
        return 0;
    return BPF_CORE_READ(sk, __sk_common.skc_num);
}

#endif
