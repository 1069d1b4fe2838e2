#include "common/batch_thread.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>

int batch_thread_enter(void)
{
    struct sched_param param = {.sched_priority = 0};
    int err = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param);
    if (err) {
        errno = err; /* pthread calls return the error instead of setting errno */
        return -1;
    }
    return 0;
}
