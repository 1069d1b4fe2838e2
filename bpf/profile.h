/* CPU stack samples per replica (profile.bpf.c counts, userspace symbolizes and folds). */
#ifndef LOADSCOPE_BPF_PROFILE_H
#define LOADSCOPE_BPF_PROFILE_H

#include "common.h"

#define PROFILE_STACK_DEPTH 64 /* frames kept per stack (user and kernel separately) */
#define PROFILE_COMM_LEN 16

struct stack_key {
    __u32 replica;
    __u32 tgid;
    __s32 user_stack; /* stack map ids; < 0 when the stack could not be taken */
    __s32 kernel_stack;
    char comm[PROFILE_COMM_LEN]; /* thread name */
};

#endif
