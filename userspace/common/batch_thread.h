/* The policy of loadscope's own background threads (the trace reader, the store writer).
 *
 * They wake up often (a ring buffer's records, a duty cycle's switch, a batch of rows) for a
 * little work that can wait a few milliseconds. As SCHED_NORMAL each wakeup may preempt
 * whatever runs on that core, often the very server they measure; as SCHED_BATCH they keep
 * their fair share of the CPU but wait for the running task's slice to end instead. */
#ifndef LOADSCOPE_COMMON_BATCH_THREAD_H
#define LOADSCOPE_COMMON_BATCH_THREAD_H

/* Makes the calling thread SCHED_BATCH (threads it creates inherit it). Returns 0, or -1 with
 * errno if the kernel refused (the thread then keeps its policy: not worth failing for). */
int batch_thread_enter(void);

#endif
