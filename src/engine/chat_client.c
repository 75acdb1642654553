/*
 * The chat client: one libuv loop, full duplex. Lines from the server
 * are shown as they arrive, made safe for the terminal; what the user
 * types goes out as it is. Works with any line-based TCP peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bufq.h"
#include "internal.h"
#include "lines.h"
#include "sockit/error.h"
#include "chat_client.h"
#include "sockit/sock.h"
#include "sockit/utf8.h"
#include "uvfd.h"

#define CLIENT_RBUF (64 * 1024)
#define LINE_MAX_SHOWN (64 * 1024) /* longer incoming lines are not shown */
#define HIGH_WATER (1024 * 1024)   /* stop reading the other side here */
#define LOW_WATER (256 * 1024)     /* and start again here */
#define OWN_PREFIX "<me> "
#define ERASE_ECHO "\033[1A\033[2K" /* up one line, clear it */

typedef struct client {
  sk_engine_t *e;
  sk__part_t part; /* how sk_engine_stop() reaches the client */
  uv_loop_t *loop; /* the caller's */
  sk__uvstream_t sock; /* on a dup of the caller's socket */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  sk__bufq_t sq; /* typed bytes on their way to the server */
  sk__source_t in;
  sk__sink_t out;
  sk__lines_t lines, own;
  bool sock_open, in_open, in_eof, shut, sock_paused, ending;
  bool mark_own, erase_echo; /* out is a tty; in is one too */
  sk_stop_t reason; /* why it ends (the first reason wins) */
  bool asked;       /* sk_engine_stop() came once already */
  char *err;
  char *show; /* one incoming line made safe */
  char rbuf[CLIENT_RBUF], inbuf[CLIENT_RBUF];
} client_t;

static void client_end(client_t *cl, sk_stop_t reason);

static void client_print(client_t *cl, const char *text, size_t len) {
  sk__msg_t *m = sk__msg_new(text, len);
  if (!m || sk__sink_push(&cl->out, m, SIZE_MAX) < 0)
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "output: %s", strerror(ENOMEM)));
  sk__msg_unref(m);
  sk__sink_flush(&cl->out);
}

/* ---- from the server ---- */

static bool incoming_line_cb(void *ctx, const char *text, size_t len,
                             bool too_long) {
  client_t *cl = ctx;
  static const char skipped[] = "*** a line over 65536 bytes not shown\n";
  if (too_long) {
    client_print(cl, skipped, sizeof skipped - 1);
    return true;
  }
  size_t n = sk_utf8_sanitize(text, len, cl->show,
                              SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN));
  cl->show[n++] = '\n';
  client_print(cl, cl->show, n);
  return true;
}

static void sock_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  client_t *cl = h->data;
  (void)hint;
  *buf = uv_buf_init(cl->rbuf, sizeof cl->rbuf);
}

static void sock_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  client_t *cl = s->data;
  if (n > 0) {
    if (sk__lines_feed(&cl->lines, LINE_MAX_SHOWN, buf->base, (size_t)n,
                       incoming_line_cb, cl) < 0)
      client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "%s", strerror(ENOMEM)));
    else if (!cl->sock_paused && sk__sink_pending(&cl->out) > HIGH_WATER) {
      uv_read_stop(s); /* the terminal is behind: let the kernel hold it */
      cl->sock_paused = true;
    }
  } else if (n == UV_EOF) {
    sk__lines_finish(&cl->lines, LINE_MAX_SHOWN, incoming_line_cb, cl);
    client_end(cl, SK_STOP_DONE);
  } else if (n == UV_ECONNRESET) {
    sk__lines_finish(&cl->lines, LINE_MAX_SHOWN, incoming_line_cb, cl);
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "connection reset by the server"));
  } else if (n < 0) {
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "read: %s", uv_strerror((int)n)));
  }
}

/* ---- to the server ---- */

static void sock_shutdown_cb(uv_shutdown_t *req, int status) {
  (void)req; /* the server answers a FIN by closing; we read until then */
  (void)status;
}

static void sock_write_cb(uv_write_t *req, int status);

static void sock_flush(client_t *cl) {
  int rc = sk__bufq_write(&cl->sq, &cl->wreq, &cl->sock.stream, sock_write_cb);
  if (rc < 0) {
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "write: %s", uv_strerror(rc)));
  } else if (cl->sq.count == 0 && cl->in_eof && !cl->shut && cl->sock_open) {
    cl->shut = true;
    if (uv_shutdown(&cl->sreq, &cl->sock.stream, sock_shutdown_cb) < 0)
      client_end(cl, SK_STOP_DONE);
  }
}

static void sock_write_cb(uv_write_t *req, int status) {
  client_t *cl = req->data;
  sk__bufq_done(&cl->sq);
  if (!cl->sock_open)
    return;
  if (status < 0) {
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "write: %s", uv_strerror(status)));
    return;
  }
  if (cl->in_open && cl->in.paused && cl->sq.bytes <= LOW_WATER)
    sk__source_resume(&cl->in);
  sock_flush(cl);
}

/* With a terminal for output, the user's own lines are shown marked, in
 * place of the echo the terminal made as they were typed. */
static bool own_line_cb(void *ctx, const char *text, size_t len,
                        bool too_long) {
  client_t *cl = ctx;
  size_t pre = cl->erase_echo ? sizeof ERASE_ECHO - 1 : 0, n = 0;
  if (too_long)
    return true;
  memcpy(cl->show, ERASE_ECHO, pre);
  memcpy(cl->show + pre, OWN_PREFIX, sizeof OWN_PREFIX - 1);
  n = pre + sizeof OWN_PREFIX - 1;
  n += sk_utf8_sanitize(text, len, cl->show + n,
                        SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN));
  cl->show[n++] = '\n';
  client_print(cl, cl->show, n);
  return true;
}

static void in_cb(sk__source_t *src, ssize_t n) {
  client_t *cl = src->data;
  if (n > 0) {
    sk__msg_t *m = sk__msg_new(src->buf, (size_t)n);
    if (!m || sk__bufq_push(&cl->sq, m, SIZE_MAX) < 0) {
      sk__msg_unref(m);
      client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "input: %s", strerror(ENOMEM)));
      return;
    }
    sk__msg_unref(m);
    if (cl->mark_own)
      sk__lines_feed(&cl->own, LINE_MAX_SHOWN, src->buf, (size_t)n, own_line_cb,
                     cl);
    if (cl->sq.bytes > HIGH_WATER) /* the server is behind */
      sk__source_pause(src);
    sock_flush(cl);
    return;
  }
  /* End of input: send what is queued, then FIN; keep reading. */
  cl->in_eof = true;
  sk__source_close(src);
  cl->in_open = false;
  if (cl->sock_open)
    sock_flush(cl);
}

/* ---- ending ---- */

static void client_close_rest(client_t *cl) {
  if (cl->out.open)
    sk__sink_close(&cl->out); /* the last handle: the loop runs out */
}

/* Stops talking to the server; output drains before the loop ends. */
static void client_end(client_t *cl, sk_stop_t reason) {
  if (cl->ending)
    return;
  cl->ending = true;
  cl->reason = reason;
  if (cl->sock_open) {
    uv_close(&cl->sock.handle, NULL);
    cl->sock_open = false;
  }
  if (cl->in_open) {
    sk__source_close(&cl->in);
    cl->in_open = false;
  }
  if (sk__sink_pending(&cl->out) == 0 || cl->out.error)
    client_close_rest(cl);
}

static void out_cb(sk__sink_t *sink, int status) {
  client_t *cl = sink->data;
  size_t pending = sk__sink_pending(sink);
  if (status < 0 && !cl->ending)
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "output: %s", uv_strerror(status)));
  if (cl->ending) {
    if (pending == 0 || sink->error)
      client_close_rest(cl);
  } else if (cl->sock_paused && pending <= LOW_WATER) {
    cl->sock_paused = false;
    uv_read_start(&cl->sock.stream, sock_alloc_cb, sock_read_cb);
  }
}

/* sk_engine_stop(): the caller asks (main, on a signal). */
static void client_on_stop(void *mode, sk_stop_t reason) {
  client_t *cl = mode;
  if (cl->ending && cl->asked) /* asked again: do not wait for output */
    client_close_rest(cl);
  else
    client_end(cl, reason);
  cl->asked = true;
}

/* ---- setting up ---- */

static int sock_open(client_t *cl, int fd) {
  int d = fcntl(fd, F_DUPFD_CLOEXEC, 3), rc;
  if (d < 0)
    return -errno;
  uv_handle_type type = uv_guess_handle(d);
  if (type == UV_TCP)
    rc = uv_tcp_init(cl->loop, &cl->sock.tcp);
  else if (type == UV_NAMED_PIPE)
    rc = uv_pipe_init(cl->loop, &cl->sock.pipe, 0);
  else
    rc = UV_ENOTSOCK;
  if (rc < 0) {
    close(d);
    return rc;
  }
  rc = type == UV_TCP ? uv_tcp_open(&cl->sock.tcp, d)
                      : uv_pipe_open(&cl->sock.pipe, d);
  if (rc < 0) {
    close(d);
    uv_close(&cl->sock.handle, NULL);
    return rc;
  }
  cl->sock.handle.data = cl;
  cl->wreq.data = cl;
  cl->sock_open = true;
  return 0;
}

static int stdio_open(client_t *cl, int in_fd, int out_fd) {
  int rc;
  if (in_fd >= 0) {
    rc = sk__source_open(&cl->in, cl->loop, in_fd, cl->inbuf, sizeof cl->inbuf,
                         in_cb);
    if (rc < 0)
      return sk__fail(cl->err, rc, "standard input: %s", uv_strerror(rc));
    cl->in.data = cl;
    cl->in_open = true;
  }
  if (out_fd >= 0) {
    rc = sk__sink_open(&cl->out, cl->loop, out_fd, out_cb);
    if (rc < 0)
      return sk__fail(cl->err, rc, "standard output: %s", uv_strerror(rc));
    cl->out.data = cl;
    cl->mark_own = isatty(out_fd);
    cl->erase_echo = cl->mark_own && in_fd >= 0 && isatty(in_fd);
  }
  return 0;
}

static int client_setup(client_t *cl, int fd, int in_fd, int out_fd) {
  int rc = sock_open(cl, fd);
  if (rc < 0)
    return sk__fail(cl->err, rc, "chat socket: %s", uv_strerror(rc));
  if ((rc = stdio_open(cl, in_fd, out_fd)) != 0)
    return rc;
  uv_read_start(&cl->sock.stream, sock_alloc_cb, sock_read_cb);
  if (cl->in_open)
    sk__source_resume(&cl->in);
  return 0;
}

static void client_free(client_t *cl) {
  if (cl->in_open)
    sk__source_close(&cl->in);
  if (cl->out.open)
    sk__sink_close(&cl->out);
  sk__engine_close_all(cl->e);
  sk__sink_done(&cl->out);
  sk__source_done(&cl->in);
  sk__bufq_clear(&cl->sq);
  sk__lines_free(&cl->lines);
  sk__lines_free(&cl->own);
  free(cl->show);
  free(cl);
}

int sk_chat_client_run(sk_engine_t *e, char *err, int fd, int in_fd,
                       int out_fd) {
  client_t *cl = calloc(1, sizeof *cl);
  char *show = malloc(SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN) + 32);
  int rc;
  if (!cl || !show) {
    free(cl);
    free(show);
    return sk__fail(err, -ENOMEM, "chat: %s", strerror(ENOMEM));
  }
  cl->e = e;
  cl->loop = e->loop;
  cl->err = err;
  cl->show = show;
  cl->in.orig_fd = cl->out.orig_fd = -1;
  sk__engine_attach(e, &cl->part, cl, client_on_stop);
  rc = client_setup(cl, fd, in_fd, out_fd);
  if (rc == 0) {
    uv_run(cl->loop, UV_RUN_DEFAULT);
    sk__engine_reason(e, cl->reason ? cl->reason : SK_STOP_DONE);
    rc = cl->reason == SK_STOP_ERROR ? -EIO : 0;
  } else {
    sk__engine_reason(e, SK_STOP_ERROR);
  }
  sk__engine_detach(e, &cl->part);
  client_free(cl);
  return rc;
}
