/* The endpoint: one descriptor, its kind, its flags, its poll. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "endpoint.h"

void sk__endpoint_init(sk__endpoint_t *e, void *owner, int fd,
                       const char *name) {
  struct stat st;
  memset(e, 0, sizeof *e);
  e->fd = fd;
  e->owner = owner;
  e->saved_flags = -1;
  e->can_read = e->can_write = true;
  snprintf(e->name, sizeof e->name, "%s", name);
  if (fd < 0 || fstat(fd, &st) < 0)
    return;
  e->socket = S_ISSOCK(st.st_mode);
  e->regular = S_ISREG(st.st_mode);
  e->tty = S_ISCHR(st.st_mode) && isatty(fd); /* no ioctl for a socket */
  /* epoll refuses regular files and most devices (/dev/null): those
   * never block, so we treat them as always ready instead. */
  e->polled = e->socket || S_ISFIFO(st.st_mode) || e->tty;
  if (e->socket) {
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    e->dgram = type == SOCK_DGRAM;
  }
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
  if (!e->polled || e->events == events)
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

int sk__endpoint_write_queue(sk__endpoint_t *e, sk__bufq_t *q) {
  struct iovec iov[SK__BUFQ_BATCH];
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
  e->events = 0;
  if (!e->socket || getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return 0;
  return -err;
}
