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
#include "sockit/error.h"

struct sk_tls;

/* What a TLS endpoint adds to its socket: the session (the caller's)
 * and, per direction, the poll event the last call asked for, since a
 * TLS read may wait for writability and a write for readability. */
typedef struct sk__tls_end {
  struct sk_tls *tls;
  int hs_wait, rd_wait, wr_wait; /* UV_READABLE / UV_WRITABLE; 0: try */
  bool handshaken;
  bool shut_asked, shut_sent; /* close_notify wanted, and sent */
  bool truncated;             /* EOF came without close_notify */
  char err[SK_ERR_LEN];       /* the TLS failure, one line */
} sk__tls_end_t;

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
  sk__tls_end_t *tls;  /* a TLS endpoint: the socket's bytes are records */
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

/* Watches for events (UV_READABLE | UV_WRITABLE; 0 stops); starts the
 * watch again when libuv stopped it on a poll error. */
void sk__endpoint_watch(sk__endpoint_t *e, int events, uv_poll_cb cb);

/* Starts closing the poll; returns 1 when cb will be called, else 0. */
int sk__endpoint_close(sk__endpoint_t *e, uv_close_cb cb);

/* After uv_poll reported an error (libuv stops the poll then): the
 * socket's pending error (-errno), or 0 when it has none; reading it
 * clears it, so a caller that lets the next read report it does not. */
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

/* ---- TLS endpoints: a socket endpoint carrying an sk_tls_t ---- */

/* The size of one TLS record. */
#define SK__TLS_RECORD (16 * 1024)

/* A relay's buffer per direction with a TLS end: 16 records, which
 * sk_tls_write encrypts and sends with one send(). */
#define SK__TLS_BUF (16 * SK__TLS_RECORD)

/* Makes e (a stream socket) carry session t; returns 0 or -ENOMEM. */
int sk__endpoint_tls_attach(sk__endpoint_t *e, struct sk_tls *t);
void sk__endpoint_tls_detach(sk__endpoint_t *e);

/* One handshake step: 1 done, 0 waiting for poll, -1 refused (the line
 * in e->tls->err). */
int sk__endpoint_tls_handshake(sk__endpoint_t *e);

/* Read and write in sk__endpoint_read/write's terms: bytes, 0 for EOF
 * (close_notify, or a truncation noted in e->tls->truncated), or -1
 * with errno: EAGAIN (poll for what the session asked), EPROTO (the
 * line in e->tls->err), or the socket's error. */
ssize_t sk__endpoint_tls_read(sk__endpoint_t *e, char *buf, size_t len);
ssize_t sk__endpoint_tls_write(sk__endpoint_t *e, const char *buf,
                               size_t len);

/* Sends close_notify (once), now or when the socket lets it: 1 sent
 * (or nothing to send), 0 waiting, -1 failed (e->tls->err). */
int sk__endpoint_tls_close_notify(sk__endpoint_t *e);

/* What to poll for: the handshake's wait, else the read's wait if the
 * reader wants bytes and the write's if the writer has some (or a
 * close_notify is due). */
int sk__endpoint_tls_events(const sk__endpoint_t *e, bool reading,
                            bool writing);

/* Poll said events (status < 0: both): the waits they answer are over. */
void sk__endpoint_tls_ready(sk__endpoint_t *e, int events);

/* One read; notes when poll must be asked before reading again. */
static inline ssize_t sk__endpoint_read(sk__endpoint_t *e, char *buf,
                                        size_t len) {
  ssize_t n;
  if (e->tls)
    return sk__endpoint_tls_read(e, buf, len);
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
  if (e->tls)
    return sk__endpoint_tls_write(e, buf, len);
  do
    n = e->socket ? send(e->fd, buf, len, MSG_NOSIGNAL)
                  : write(e->fd, buf, len);
  while (n < 0 && errno == EINTR);
  if ((n < 0 && errno == EAGAIN) || (e->polled && n >= 0 && (size_t)n < len))
    e->can_write = false;
  return n;
}

#endif
