/*
 * sockit's endpoint: one descriptor the engine moves bytes through,
 * whatever it is (stdin or stdout as a tty, pipe, file or /dev/null; a
 * stream or datagram socket; a child's pipe). It knows its kind, and so
 * which moves it allows (sendfile from a file, splice with a pipe or a
 * socket, read/write always); it saves the descriptor's flags once when
 * opened and restores them once; it is polled only when epoll can poll
 * it (regular files and most devices never block: always ready).
 */
#ifndef SOCKIT_ENDPOINT_H
#define SOCKIT_ENDPOINT_H

#include <errno.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "sockit/addr.h"

typedef struct sk__endpoint {
  int fd;
  int saved_flags;     /* fcntl flags to restore, or -1 */
  bool polled;         /* watched with uv_poll; else always ready */
  bool poll_ready;     /* poll is initialised: close it at the end */
  bool socket, dgram, regular, tty;
  bool can_read, can_write; /* last known readiness */
  int events;          /* what uv_poll watches now */
  uv_poll_t poll;      /* poll.data is the endpoint */
  void *owner;         /* the relay (or mode) it belongs to */
  char name[SK_ADDRSTR_LEN]; /* for messages: "stdin", "127.0.0.1:80" */
} sk__endpoint_t;

/* Learns what fd is (fd -1: an unused half). Opens nothing. */
void sk__endpoint_init(sk__endpoint_t *e, void *owner, int fd,
                       const char *name);

/* Polled kinds: non-blocking, flags saved, a uv_poll on loop. Returns 0
 * or a negative code. */
int sk__endpoint_open(sk__endpoint_t *e, uv_loop_t *loop);

/* Watches for events (UV_READABLE | UV_WRITABLE; 0 stops). */
void sk__endpoint_watch(sk__endpoint_t *e, int events, uv_poll_cb cb);

/* Starts closing the poll; returns 1 when cb will be called, else 0. */
int sk__endpoint_close(sk__endpoint_t *e, uv_close_cb cb);

/* Gives the descriptor its flags back (once; the caller's order). */
void sk__endpoint_restore(sk__endpoint_t *e);

/* One read; notes when poll must be asked before reading again. */
static inline ssize_t sk__endpoint_read(sk__endpoint_t *e, char *buf,
                                        size_t len) {
  ssize_t n;
  do
    n = read(e->fd, buf, len);
  while (n < 0 && errno == EINTR);
  /* A short read drained the kernel buffer: ask poll, not read again. */
  if ((n < 0 && errno == EAGAIN) || (e->polled && n > 0 && (size_t)n < len))
    e->can_read = false;
  return n;
}

/* One write (send with MSG_NOSIGNAL on a socket); notes a full one. */
static inline ssize_t sk__endpoint_write(sk__endpoint_t *e, const char *buf,
                                         size_t len) {
  ssize_t n;
  do
    n = e->socket ? send(e->fd, buf, len, MSG_NOSIGNAL)
                  : write(e->fd, buf, len);
  while (n < 0 && errno == EINTR);
  if ((n < 0 && errno == EAGAIN) || (e->polled && n >= 0 && (size_t)n < len))
    e->can_write = false;
  return n;
}

#endif
