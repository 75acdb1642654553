/* The endpoint: one descriptor, its kind, its flags, its poll. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "endpoint.h"
#include "sockit/tls.h"

void sk__endpoint_init(sk__endpoint_t *e, void *owner, int fd,
                       const char *name) {
  struct stat st;
  memset(e, 0, sizeof *e);
  e->fd = fd;
  e->owner = owner;
  e->saved_flags = -1;
  e->can_read = e->can_write = true;
  snprintf(e->name, sizeof e->name, "%s", name);
  if (fd < 0)
    return;
  /* A socket answers SO_TYPE (one call: a forwarder opens two endpoints
   * per connection); anything else says ENOTSOCK and is asked fstat. */
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
    e->socket = e->polled = true;
    e->dgram = type == SOCK_DGRAM;
    return;
  }
  if (fstat(fd, &st) < 0)
    return;
  e->regular = S_ISREG(st.st_mode);
  e->tty = S_ISCHR(st.st_mode) && isatty(fd);
  /* epoll refuses regular files and most devices (/dev/null): those
   * never block, so we treat them as always ready instead. */
  e->polled = S_ISFIFO(st.st_mode) || e->tty;
}

int sk__endpoint_open(sk__endpoint_t *e, uv_loop_t *loop) {
  if (!e->polled)
    return 0;
  e->saved_flags = fcntl(e->fd, F_GETFL);
  if (e->saved_flags < 0)
    return -errno;
  /* Already non-blocking (a forwarder's sockets): nothing to restore. */
  if (e->saved_flags & O_NONBLOCK)
    e->saved_flags = -1;
  else if (fcntl(e->fd, F_SETFL, e->saved_flags | O_NONBLOCK) < 0)
    return -errno;
  e->poll.data = e;
  int rc = uv_poll_init(loop, &e->poll, e->fd);
  e->poll_ready = rc == 0;
  return rc;
}

void sk__endpoint_watch(sk__endpoint_t *e, int events, uv_poll_cb cb) {
  /* libuv stops a watch that met an error (EPOLLERR) before it calls
   * back: the same events must then start it again, or a reader that
   * waits for poll after a short read never hears of the reset. */
  if (!e->polled ||
      (e->events == events &&
       (!events || uv_is_active((uv_handle_t *)&e->poll))))
    return;
  e->events = events;
  if (events)
    uv_poll_start(&e->poll, events, cb);
  else
    uv_poll_stop(&e->poll);
}

int sk__endpoint_close(sk__endpoint_t *e, uv_close_cb cb) {
  if (!e->poll_ready || uv_is_closing((uv_handle_t *)&e->poll))
    return 0;
  uv_close((uv_handle_t *)&e->poll, cb);
  return 1;
}

void sk__endpoint_restore(sk__endpoint_t *e) {
  if (e->saved_flags >= 0)
    fcntl(e->fd, F_SETFL, e->saved_flags);
  e->saved_flags = -1;
}

int sk__endpoint_adopt(sk__endpoint_t *e, uv_loop_t *loop, void *owner,
                       int fd) {
  memset(e, 0, sizeof *e);
  e->fd = fd;
  e->owner = owner;
  e->saved_flags = -1;
  e->socket = e->polled = true;
  e->can_read = e->can_write = true;
  e->poll.data = e;
  int rc = uv_poll_init_socket(loop, &e->poll, fd);
  e->poll_ready = rc == 0;
  return rc;
}

/* One writev of iov[0..n); sockets through sendmsg, so no SIGPIPE. */
static ssize_t writev_once(const sk__endpoint_t *e, struct iovec *iov,
                           unsigned n) {
  ssize_t w;
  do {
    if (e->socket) {
      struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
      w = sendmsg(e->fd, &mh, MSG_NOSIGNAL);
    } else {
      w = writev(e->fd, iov, (int)n);
    }
  } while (w < 0 && errno == EINTR);
  return w;
}

/* A TLS endpoint takes the queue one message at a time: each write
 * becomes records (a large one's sent with one send, see sk_tls_write);
 * gathering would need the messages copied into one buffer first. */
static int tls_write_queue(sk__endpoint_t *e, sk__bufq_t *q) {
  struct iovec iov[1];
  while (q->count > 0 && e->can_write) {
    sk__bufq_iov(q, iov, 1);
    ssize_t w = sk__endpoint_tls_write(e, iov[0].iov_base, iov[0].iov_len);
    if (w < 0)
      return errno == EAGAIN ? 0 : -errno;
    sk__bufq_consume(q, (size_t)w);
  }
  return 0;
}

int sk__endpoint_write_queue(sk__endpoint_t *e, sk__bufq_t *q) {
  struct iovec iov[SK__BUFQ_BATCH];
  if (e->tls)
    return tls_write_queue(e, q);
  while (q->count > 0 && e->can_write) {
    unsigned n = sk__bufq_iov(q, iov, SK__BUFQ_BATCH);
    size_t want = 0;
    for (unsigned i = 0; i < n; i++)
      want += iov[i].iov_len;
    ssize_t w = writev_once(e, iov, n);
    if (w < 0 && errno == EAGAIN) {
      e->can_write = false;
      return 0;
    }
    if (w < 0)
      return -errno;
    sk__bufq_consume(q, (size_t)w);
    /* A short write on a polled descriptor: its buffer is full. */
    if (e->polled && (size_t)w < want)
      e->can_write = false;
  }
  return 0;
}

int sk__endpoint_poll_failed(sk__endpoint_t *e) {
  int err = 0;
  socklen_t len = sizeof err;
  if (!e->socket || getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return 0;
  return -err;
}

/* ---- TLS endpoints ---------------------------------------------------- */

int sk__endpoint_tls_attach(sk__endpoint_t *e, struct sk_tls *t) {
  if (!(e->tls = calloc(1, sizeof *e->tls)))
    return -ENOMEM;
  e->tls->tls = t;
  return 0;
}

void sk__endpoint_tls_detach(sk__endpoint_t *e) {
  free(e->tls);
  e->tls = NULL;
}

/* The endpoint's readiness follows the session's waits: a direction can
 * act when its last call asked for nothing. Until the handshake is
 * done, neither can. */
static void tls_sync(sk__endpoint_t *e) {
  const sk__tls_end_t *s = e->tls;
  e->can_read = s->handshaken && !s->rd_wait;
  e->can_write = s->handshaken && !s->wr_wait;
}

/* A WANT code as the poll event it waits for; 0 for anything else. */
static int tls_want(ssize_t rc) {
  return rc == SK_TLS_WANT_READ    ? UV_READABLE
         : rc == SK_TLS_WANT_WRITE ? UV_WRITABLE
                                   : 0;
}

int sk__endpoint_tls_handshake(sk__endpoint_t *e) {
  sk__tls_end_t *s = e->tls;
  int rc = sk_tls_handshake(s->err, s->tls);
  s->hs_wait = tls_want(rc);
  if (rc == 0)
    s->handshaken = true;
  tls_sync(e);
  return rc == 0 ? 1 : s->hs_wait ? 0 : -1;
}

/* A failed call in errno's terms: EAGAIN with the wait noted, the
 * socket's errno, or EPROTO for TLS (the line is in s->err). */
static ssize_t tls_failed(sk__endpoint_t *e, ssize_t rc, int *wait) {
  if ((*wait = tls_want(rc)) != 0)
    errno = EAGAIN;
  else
    errno = rc > -4096 ? (int)-rc : EPROTO;
  tls_sync(e);
  return -1;
}

ssize_t sk__endpoint_tls_read(sk__endpoint_t *e, char *buf, size_t len) {
  sk__tls_end_t *s = e->tls;
  ssize_t n = sk_tls_read(s->err, s->tls, buf, len);
  if (n >= 0)
    return n; /* decrypted bytes may remain (sk_tls_pending): read on */
  if (n == SK_ETLS_TRUNCATED) {
    s->truncated = true;
    return 0;
  }
  return tls_failed(e, n, &s->rd_wait);
}

ssize_t sk__endpoint_tls_write(sk__endpoint_t *e, const char *buf, size_t len) {
  sk__tls_end_t *s = e->tls;
  ssize_t n = sk_tls_write(s->err, s->tls, buf, len);
  return n > 0 ? n : tls_failed(e, n, &s->wr_wait);
}

int sk__endpoint_tls_close_notify(sk__endpoint_t *e) {
  sk__tls_end_t *s = e->tls;
  s->shut_asked = true;
  if (s->shut_sent || !s->handshaken)
    return 1;
  if (s->wr_wait)
    return 0;
  int rc = sk_tls_shutdown(s->err, s->tls);
  if (rc == 0) {
    s->shut_sent = true;
    return 1;
  }
  tls_failed(e, rc, &s->wr_wait);
  return s->wr_wait ? 0 : -1;
}

int sk__endpoint_tls_events(const sk__endpoint_t *e, bool reading,
                            bool writing) {
  const sk__tls_end_t *s = e->tls;
  if (!s->handshaken)
    return s->hs_wait;
  writing |= s->shut_asked && !s->shut_sent;
  return (reading ? s->rd_wait : 0) | (writing ? s->wr_wait : 0);
}

void sk__endpoint_tls_ready(sk__endpoint_t *e, int events) {
  sk__tls_end_t *s = e->tls;
  if (events & UV_DISCONNECT)
    events |= UV_READABLE; /* the next call will see the EOF */
  if (s->hs_wait & events)
    s->hs_wait = 0;
  if (s->rd_wait & events)
    s->rd_wait = 0;
  if (s->wr_wait & events)
    s->wr_wait = 0;
  tls_sync(e);
}
