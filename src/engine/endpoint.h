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

#include "bufq.h"
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

/* A stream socket the caller made non-blocking and owns (an accepted
 * client): no fstat, no flags to save; polled on loop. 0 or a uv code. */
int sk__endpoint_adopt(sk__endpoint_t *e, uv_loop_t *loop, void *owner,
                       int fd);

/* Polled kinds: non-blocking, flags saved, a uv_poll on loop. Returns 0
 * or a negative code. */
int sk__endpoint_open(sk__endpoint_t *e, uv_loop_t *loop);

/* Watches for events (UV_READABLE | UV_WRITABLE; 0 stops). */
void sk__endpoint_watch(sk__endpoint_t *e, int events, uv_poll_cb cb);

/* Starts closing the poll; returns 1 when cb will be called, else 0. */
int sk__endpoint_close(sk__endpoint_t *e, uv_close_cb cb);

/* After uv_poll reported an error (libuv stops the poll then): forgets
 * the watch so that the next sk__endpoint_watch starts it again, and
 * returns the socket's pending error (-errno), or 0 when it has none. */
int sk__endpoint_poll_failed(sk__endpoint_t *e);

/* Gives the descriptor its flags back (once; the caller's order). */
void sk__endpoint_restore(sk__endpoint_t *e);

/*
 * The queue-fed writer: writes what q holds, up to SK__BUFQ_BATCH shared
 * messages per writev (sendmsg with MSG_NOSIGNAL on a socket), again
 * while the descriptor takes whole batches, and drops the references
 * written. Returns 0 (q empty, or the descriptor full: can_write is then
 * false and the owner watches UV_WRITABLE) or a negative errno. A kind
 * that cannot be polled (a file, /dev/null) is written until q is empty.
 * This is what a hub member is to the hub: an endpoint with a queue; a
 * TLS endpoint answers the same call through its session.
 */
int sk__endpoint_write_queue(sk__endpoint_t *e, sk__bufq_t *q);

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
