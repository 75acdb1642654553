/* libuv input and output over the caller's stdin and stdout. */
#include <errno.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "uvfd.h"

/*
 * Opens a stream handle on a dup of fd when fd is a tty, a pipe or a
 * stream socket. Returns 1 for a stream, 0 for a descriptor to use
 * directly (regular file, character device, anything else), or a
 * negative uv error code. *dup_fd is -1 on failure.
 */
static int fd_adopt(uv_loop_t *loop, sk__uvstream_t *u, int fd, int *dup_fd,
                    int *flags) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 3), rc;
  *dup_fd = -1;
  if (d < 0)
    return -errno;
  *flags = fcntl(fd, F_GETFL);
  switch (uv_guess_handle(d)) {
  case UV_TTY:
    rc = uv_tty_init(loop, &u->tty, d, 0);
    break;
  case UV_NAMED_PIPE:
    if ((rc = uv_pipe_init(loop, &u->pipe, 0)) == 0 &&
        (rc = uv_pipe_open(&u->pipe, d)) < 0)
      uv_close(&u->handle, NULL);
    break;
  case UV_TCP:
    if ((rc = uv_tcp_init(loop, &u->tcp)) == 0 &&
        (rc = uv_tcp_open(&u->tcp, d)) < 0)
      uv_close(&u->handle, NULL);
    break;
  default:
    *dup_fd = d;
    return 0;
  }
  if (rc < 0) {
    close(d);
    return rc;
  }
  *dup_fd = d;
  u->handle.data = NULL;
  return 1;
}

static void fd_restore(int fd, int flags) {
  /* libuv made the shared open file non-blocking; the next program to
   * use our stdin or stdout should not inherit that. */
  if (fd >= 0 && flags >= 0)
    fcntl(fd, F_SETFL, flags);
}

/* ---- source ---- */

static void source_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  sk__source_t *src = h->data;
  (void)hint;
  *buf = uv_buf_init(src->buf, (unsigned)src->cap);
}

static void source_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  sk__source_t *src = s->data;
  (void)buf;
  if (n == 0)
    return;
  src->cb(src, n == UV_EOF ? 0 : n);
}

static void source_fs_cb(uv_fs_t *req) {
  sk__source_t *src = req->data;
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  src->fs_busy = false;
  if (!src->open) {
    close(src->fd);
    src->fd = -1;
    return;
  }
  src->cb(src, n);
  if (n > 0 && src->open && !src->paused)
    sk__source_resume(src);
}

int sk__source_open(sk__source_t *src, uv_loop_t *loop, int fd, char *buf,
                    size_t cap, sk__source_cb cb) {
  int rc = fd_adopt(loop, &src->u, fd, &src->fd, &src->orig_flags);
  src->orig_fd = fd;
  if (rc < 0) {
    src->orig_fd = -1;
    return rc;
  }
  src->loop = loop;
  src->stream = rc == 1;
  src->u.handle.data = src;
  src->fs.data = src;
  src->open = src->paused = true;
  src->fs_busy = false;
  src->buf = buf;
  src->cap = cap;
  src->cb = cb;
  return 0;
}

void sk__source_resume(sk__source_t *src) {
  if (!src->open)
    return;
  if (src->stream) {
    if (src->paused)
      uv_read_start(&src->u.stream, source_alloc_cb, source_read_cb);
    src->paused = false;
    return;
  }
  src->paused = false;
  if (!src->fs_busy) {
    /* Offset -1 reads from the current position, as read(2) would. */
    uv_buf_t b = uv_buf_init(src->buf, (unsigned)src->cap);
    if (uv_fs_read(src->loop, &src->fs, src->fd, &b, 1, -1, source_fs_cb) == 0)
      src->fs_busy = true;
  }
}

void sk__source_pause(sk__source_t *src) {
  if (!src->open)
    return;
  if (src->stream && !src->paused)
    uv_read_stop(&src->u.stream);
  src->paused = true;
}

void sk__source_close(sk__source_t *src) {
  if (!src->open)
    return;
  src->open = false;
  if (src->stream) {
    uv_close(&src->u.handle, NULL);
  } else if (!src->fs_busy) {
    close(src->fd);
    src->fd = -1;
  }
}

void sk__source_done(sk__source_t *src) {
  fd_restore(src->orig_fd, src->orig_flags);
  src->orig_fd = -1;
}

/* ---- sink ---- */

static void sink_write_cb(uv_write_t *req, int status) {
  sk__sink_t *sink = req->data;
  sk__bufq_done(&sink->q);
  if (!sink->open)
    return;
  if (status < 0 && sink->error == 0)
    sink->error = status;
  if (sink->error == 0)
    sk__sink_flush(sink);
  sink->cb(sink, status);
}

int sk__sink_open(sk__sink_t *sink, uv_loop_t *loop, int fd, sk__sink_cb cb) {
  int rc = fd_adopt(loop, &sink->u, fd, &sink->fd, &sink->orig_flags);
  sink->orig_fd = fd;
  if (rc < 0) {
    sink->orig_fd = -1;
    return rc;
  }
  sink->loop = loop;
  sink->stream = rc == 1;
  sink->u.handle.data = sink;
  sink->req.data = sink;
  sink->open = true;
  sink->error = 0;
  sink->cb = cb;
  return 0;
}

int sk__sink_push(sk__sink_t *sink, sk__msg_t *m, size_t limit) {
  if (!sink->open || sink->error)
    return 0; /* reported once already, through the callback */
  return sk__bufq_push(&sink->q, m, limit);
}

/* Writes the whole batch: one writev(2) per batch (never a socket here,
 * so no send() to try first), again from where a short one stopped.
 * Returns 0 or -errno. */
static int writev_all(int fd, uv_buf_t *bufs, unsigned n) {
  struct iovec iov[SK__BUFQ_BATCH];
  unsigned i = 0;
  for (unsigned k = 0; k < n; k++)
    iov[k] = (struct iovec){.iov_base = bufs[k].base, .iov_len = bufs[k].len};
  while (i < n) {
    ssize_t w = writev(fd, iov + i, (int)(n - i));
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    for (; i < n && (size_t)w >= iov[i].iov_len; i++)
      w -= (ssize_t)iov[i].iov_len;
    if (i < n) {
      iov[i].iov_base = (char *)iov[i].iov_base + w;
      iov[i].iov_len -= (size_t)w;
    }
  }
  return 0;
}

/* A regular file or device: plain blocking writes, which do not stall a
 * loop the way a full pipe would. */
static void sink_write_direct(sk__sink_t *sink) {
  uv_buf_t bufs[SK__BUFQ_BATCH];
  int status = 0;
  while (status == 0 && sink->q.count > 0) {
    unsigned n = sk__bufq_take(&sink->q, bufs, SK__BUFQ_BATCH);
    status = writev_all(sink->fd, bufs, n);
    sk__bufq_done(&sink->q);
  }
  if (status < 0) {
    sink->error = status;
    sk__bufq_clear(&sink->q);
  }
  sink->cb(sink, status);
}

void sk__sink_flush(sk__sink_t *sink) {
  if (!sink->open || sink->error || sink->q.count == 0)
    return;
  if (!sink->stream) {
    sink_write_direct(sink);
    return;
  }
  int rc = sk__bufq_write(&sink->q, &sink->req, &sink->u.stream, sink_write_cb);
  if (rc < 0) {
    sink->error = rc;
    sink->cb(sink, rc);
  }
}

size_t sk__sink_pending(const sk__sink_t *sink) {
  return sink->q.bytes;
}

void sk__sink_close(sk__sink_t *sink) {
  if (!sink->open)
    return;
  sink->open = false;
  if (sink->stream) {
    uv_close(&sink->u.handle, NULL);
  } else {
    close(sink->fd);
    sink->fd = -1;
  }
}

void sk__sink_done(sk__sink_t *sink) {
  sk__bufq_clear(&sink->q);
  fd_restore(sink->orig_fd, sink->orig_flags);
  sink->orig_fd = -1;
}
