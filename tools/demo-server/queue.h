/* --queue: the API + Redis + model-worker shape.
 *
 * A broker process holds a FIFO of jobs. Each API serving thread keeps one TCP connection
 * to it, sends a job (the image bytes) and blocks reading the connection until the result
 * comes back, as a Flask handler blocks on a Redis reply: while the job waits in the queue
 * the API thread sleeps in read() on a downstream socket. M model-worker processes each keep
 * one connection to the broker, take the oldest job, compute it and send the result; the
 * broker forwards it to the API thread that submitted it. Throughput is therefore capped
 * by the model workers whatever the number of API workers. */
#ifndef DEMO_QUEUE_H
#define DEMO_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "predict.h"

/* The broker's main: serves listen_fd until killed (one thread per connection). Writes one
 * byte to ready_fd once it accepts. Returns only on a fatal error. */
int broker_serve(int listen_fd, int ready_fd);

/* A model worker's main: connects to the broker at port, then computes jobs forever. Writes
 * one byte to ready_fd once connected. Returns only on error. */
int model_worker_run(int broker_port, const struct model *m, const char *weights_path,
                     int ready_fd);

/* An API thread's connection to the broker, or -1. */
int queue_connect(int broker_port);

/* Submits one job and blocks until its result. queue_ms is the time from submission to the
 * model worker starting it. Returns 0, or -1 (broker gone or the job failed). */
int queue_submit(int fd, const uint8_t *img, size_t len, struct predict_result *r,
                 double *queue_ms);

#endif
