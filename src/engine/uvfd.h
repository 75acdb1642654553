/*
 * sockit (internal): libuv reading from and writing to descriptors the
 * caller owns (stdin, stdout), whatever they are: a tty, a pipe, a
 * socket, a regular file or /dev/null.
 *
 * Each works on a dup() of the descriptor, because libuv closes what it
 * is given; the file status flags (O_NONBLOCK) that libuv changes on the
 * shared open file are put back by sk__source_done / sk__sink_done.
 */
#ifndef SOCKIT_UVFD_H
#define SOCKIT_UVFD_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "bufq.h"

typedef union sk__uvstream {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_tty_t tty;
} sk__uvstream_t;

typedef struct sk__source sk__source_t;

/* n > 0: n bytes in src->buf; 0: end of input; < 0: a uv error code. */
typedef void (*sk__source_cb)(sk__source_t *src, ssize_t n);

struct sk__source {
  sk__uvstream_t u; /* when the input is a stream */
  uv_fs_t fs;       /* when it is a file: one read at a time */
  uv_loop_t *loop;
  int fd; /* our dup */
  int orig_fd, orig_flags;
  bool stream, open, paused, fs_busy;
  char *buf; /* cap bytes, owned by the caller */
  size_t cap;
  sk__source_cb cb;
  void *data; /* for the owner */
};

/* Starts paused. Returns 0 or a negative uv error code. */
int sk__source_open(sk__source_t *src, uv_loop_t *loop, int fd, char *buf,
                    size_t cap, sk__source_cb cb);
void sk__source_resume(sk__source_t *src);
void sk__source_pause(sk__source_t *src);
/* Stops for good; no callback comes after this. */
void sk__source_close(sk__source_t *src);
/* After the loop has finished: restores the descriptor's flags. */
void sk__source_done(sk__source_t *src);

typedef struct sk__sink sk__sink_t;

/* After each write ends: status 0 or a negative uv error code. */
typedef void (*sk__sink_cb)(sk__sink_t *sink, int status);

struct sk__sink {
  sk__uvstream_t u;
  uv_write_t req;
  sk__bufq_t q;
  uv_loop_t *loop;
  int fd; /* our dup; written directly when not a stream */
  int orig_fd, orig_flags;
  bool stream, open;
  int error; /* first write error, sticky */
  sk__sink_cb cb;
  void *data;
};

/* Returns 0 or a negative uv error code. */
int sk__sink_open(sk__sink_t *sink, uv_loop_t *loop, int fd, sk__sink_cb cb);
/* Queues a reference to m; returns 0, -ENOBUFS past limit, or -ENOMEM. */
int sk__sink_push(sk__sink_t *sink, sk__msg_t *m, size_t limit);
/* Starts writing what is queued if no write is in progress. */
void sk__sink_flush(sk__sink_t *sink);
/* Bytes queued and not yet written. */
size_t sk__sink_pending(const sk__sink_t *sink);
void sk__sink_close(sk__sink_t *sink);
void sk__sink_done(sk__sink_t *sink);

#endif
