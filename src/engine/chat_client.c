/*
 * The chat client: three endpoints on the caller's loop, full duplex.
 * Lines from the server are shown as they arrive, made safe for the
 * terminal; what the user types goes out as it is. Works with any
 * line-based TCP peer, over TLS too (--ssl: the socket is a TLS
 * endpoint; typed lines wait in the queue until the handshake is done).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bufq.h"
#include "endpoint.h"
#include "internal.h"
#include "lines.h"
#include "sockit/error.h"
#include "chat_client.h"
#include "chat_tty.h"
#include "sockit/sock.h"
#include "sockit/tls.h"
#include "sockit/utf8.h"

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
  /* Three endpoints, two with queues: the socket (typed bytes on their
   * way out), stdin, and stdout (lines shown). */
  sk__endpoint_t sock, in, out;
  sk__bufq_t sq, oq;
  uv_idle_t in_idle;   /* reads a stdin that cannot be polled (a file) */
  sk__lines_t lines, own;
  bool sock_open, in_open, in_eof, shut, sock_paused, in_paused, ending;
  int out_error;
  bool mark_own, erase_echo; /* out is a tty; in is one too */
  bool tty;      /* both are: the line editor (chat_tty.c) runs them */
  bool quitting; /* /quit or Ctrl-D: the server's close is expected */
  sk_stop_t reason; /* why it ends (the first reason wins) */
  bool asked;       /* sk_engine_stop() came once already */
  char *err;
  char *show; /* one incoming line made safe */
  char rbuf[CLIENT_RBUF], inbuf[CLIENT_RBUF];
} client_t;

static void client_end(client_t *cl, sk_stop_t reason);
static void client_close_rest(client_t *cl);
static void sock_poll_cb(uv_poll_t *p, int status, int events);
static void in_poll_cb(uv_poll_t *p, int status, int events);
static void in_idle_cb(uv_idle_t *idle);
static void out_poll_cb(uv_poll_t *p, int status, int events);
static void sock_read_pending(client_t *cl);
static void sock_tls_poll(client_t *cl, int status, int events);

/* ---- what each endpoint waits for ---- */

static void sock_watch(client_t *cl) {
  int ev = 0;
  if (cl->sock.tls) /* a record may wait for the other direction */
    ev = sk__endpoint_tls_events(&cl->sock,
                                 cl->sock_open && !cl->sock_paused,
                                 cl->sock_open && cl->sq.count > 0);
  if (cl->sock_open && !cl->sock_paused) /* TLS: poll says a record */
    ev |= UV_READABLE;
  if (!cl->sock.tls && cl->sock_open && cl->sq.count > 0 &&
      !cl->sock.can_write)
    ev |= UV_WRITABLE;
  sk__endpoint_watch(&cl->sock, ev, sock_poll_cb);
}

static void in_watch(client_t *cl) {
  bool want = cl->in_open && !cl->in_paused;
  if (cl->in.polled)
    sk__endpoint_watch(&cl->in, want ? UV_READABLE : 0, in_poll_cb);
  else if (want)
    uv_idle_start(&cl->in_idle, in_idle_cb);
  else
    uv_idle_stop(&cl->in_idle);
}

/* ---- to stdout ---- */

static void out_flush(client_t *cl) {
  if (cl->out_error == 0 && cl->oq.count > 0) {
    int rc = sk__endpoint_write_queue(&cl->out, &cl->oq);
    if (rc < 0) {
      cl->out_error = rc;
      sk__bufq_clear(&cl->oq);
      if (!cl->ending)
        client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "output: %s",
                                strerror(-rc)));
    }
  }
  sk__endpoint_watch(&cl->out,
                     cl->oq.count > 0 && !cl->out.can_write ? UV_WRITABLE : 0,
                     out_poll_cb);
  if (cl->ending) {
    if (cl->oq.count == 0 || cl->out_error)
      client_close_rest(cl);
  } else if (cl->sock_paused && cl->oq.bytes <= LOW_WATER) {
    cl->sock_paused = false;
    sock_watch(cl);
    sock_read_pending(cl); /* TLS: what was decrypted is not polled */
  }
}

static void out_poll_cb(uv_poll_t *p, int status, int events) {
  client_t *cl = ((sk__endpoint_t *)p->data)->owner;
  (void)events;
  if (status < 0) /* libuv stopped the poll; the write names the error */
    sk__endpoint_poll_failed(&cl->out);
  cl->out.can_write = true;
  out_flush(cl);
}

static void client_print(client_t *cl, const char *text, size_t len) {
  sk__msg_t *m = sk__msg_new(text, len);
  if (!m || (cl->out_error == 0 && sk__bufq_push(&cl->oq, m, SIZE_MAX) < 0))
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "output: %s", strerror(ENOMEM)));
  sk__msg_unref(m);
  out_flush(cl);
}

/* ---- from the server ---- */

static bool incoming_line_cb(void *ctx, const char *text, size_t len,
                             bool too_long) {
  client_t *cl = ctx;
  static const char skipped[] = "*** a line over 65536 bytes not shown\n";
  if (too_long) {
    text = skipped;
    len = sizeof skipped - 2;
  }
  size_t n = sk_utf8_sanitize(text, len, cl->show,
                              SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN));
  cl->show[n++] = '\n';
  if (cl->tty)
    sk__tty_show(cl->show, n); /* above the input line */
  else
    client_print(cl, cl->show, n);
  return true;
}

/* One read of the socket; false when it had nothing (EAGAIN). */
static bool sock_read(client_t *cl) {
  ssize_t n = sk__endpoint_read(&cl->sock, cl->rbuf, sizeof cl->rbuf);
  if (n < 0 && errno == EAGAIN)
    return false;
  if (n > 0) {
    if (sk__lines_feed(&cl->lines, LINE_MAX_SHOWN, cl->rbuf, (size_t)n,
                       incoming_line_cb, cl) < 0)
      client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "%s", strerror(ENOMEM)));
    else if (!cl->sock_paused && cl->oq.bytes > HIGH_WATER) {
      cl->sock_paused = true; /* the terminal is behind: let the kernel hold it */
      sock_watch(cl);
    }
  } else if (n == 0) {
    sk__lines_finish(&cl->lines, LINE_MAX_SHOWN, incoming_line_cb, cl);
    /* A person at a terminal is told, and the exit code says so too. */
    if (cl->tty && !cl->quitting)
      client_end(cl, sk__fail(cl->err, SK_STOP_ERROR,
                              "the server closed the connection"));
    else
      client_end(cl, SK_STOP_DONE);
  } else if (errno == ECONNRESET) {
    sk__lines_finish(&cl->lines, LINE_MAX_SHOWN, incoming_line_cb, cl);
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "connection reset by the server"));
  } else if (cl->sock.tls && errno == EPROTO) {
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "%s", cl->sock.tls->err));
  } else {
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "read: %s", strerror(errno)));
  }
  return true;
}

/* ---- to the server ---- */

/* Bytes can go out: a TLS socket once its handshake is done. */
static bool sock_ready(const client_t *cl) {
  return !cl->sock.tls || cl->sock.tls->handshaken;
}

/* Input is over: FIN, or over TLS close_notify (TLS's half-close; sent
 * when the socket takes it). 0, or -1 when the socket is gone. */
static int sock_half_close(client_t *cl) {
  if (cl->sock.tls)
    return sk__endpoint_tls_close_notify(&cl->sock) < 0 ? -1 : 0;
  return shutdown(cl->sock.fd, SHUT_WR);
}

static void sock_flush(client_t *cl) {
  if (!cl->sock_open)
    return;
  int rc = sk__endpoint_write_queue(&cl->sock, &cl->sq);
  if (rc < 0) {
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "write: %s", strerror(-rc)));
    return;
  }
  if (cl->in_open && cl->in_paused && cl->sq.bytes <= LOW_WATER) {
    cl->in_paused = false;
    in_watch(cl);
  }
  if (cl->sq.count == 0 && cl->in_eof && !cl->shut && sock_ready(cl)) {
    cl->shut = true; /* the server answers a FIN by closing; read until then */
    if (sock_half_close(cl) < 0) {
      client_end(cl, SK_STOP_DONE);
      return;
    }
  }
  if (cl->shut && cl->sock.tls && !cl->sock.tls->shut_sent &&
      sk__endpoint_tls_close_notify(&cl->sock) < 0) {
    client_end(cl, SK_STOP_DONE); /* the server is gone already */
    return;
  }
  sock_watch(cl);
}

static void sock_poll_cb(uv_poll_t *p, int status, int events) {
  client_t *cl = ((sk__endpoint_t *)p->data)->owner;
  if (cl->sock.tls) {
    sock_tls_poll(cl, status, events);
    return;
  }
  if (status < 0) {
    /* libuv stopped the poll: read what came before the error (the next
     * poll reports it again), or take the error itself. */
    cl->sock.events = 0;
    if (cl->sock_open && !sock_read(cl)) {
      int e = sk__endpoint_poll_failed(&cl->sock);
      if (e == -ECONNRESET)
        client_end(cl, sk__fail(cl->err, SK_STOP_ERROR,
                                "connection reset by the server"));
      else
        client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "socket: %s",
                                strerror(e < 0 ? -e : EIO)));
    }
    sock_watch(cl);
    return;
  }
  if (events & UV_WRITABLE) {
    cl->sock.can_write = true;
    sock_flush(cl);
  }
  if ((events & (UV_READABLE | UV_DISCONNECT)) && cl->sock_open &&
      !cl->sock_paused)
    sock_read(cl);
}

/* ---- TLS on the socket (--ssl) ---- */

/* TLS: bytes already decrypted are not announced by poll: take them
 * while the socket is still read. */
static void sock_read_pending(client_t *cl) {
  while (cl->sock.tls && cl->sock_open && !cl->sock_paused &&
         sk_tls_pending(cl->sock.tls->tls) > 0 && sock_read(cl))
    ;
}

/* One handshake step; a refusal (its one line) ends the client. */
static void sock_tls_handshake(client_t *cl) {
  int rc = sk__endpoint_tls_handshake(&cl->sock);
  if (rc < 0)
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "%s", cl->sock.tls->err));
  else if (rc > 0)
    sock_flush(cl); /* what was typed meanwhile, and the watch */
  else
    sock_watch(cl);
}

/* Poll on the TLS socket: the waits it answers end, then the
 * handshake, the queue or the read goes on. */
static void sock_tls_poll(client_t *cl, int status, int events) {
  sk__endpoint_tls_ready(&cl->sock, status < 0 ? UV_READABLE | UV_WRITABLE
                                               : events);
  if (!cl->sock_open)
    return;
  if (!cl->sock.tls->handshaken) {
    if (status < 0)
      sk__endpoint_poll_failed(&cl->sock);
    sock_tls_handshake(cl);
    return;
  }
  if (cl->sock.can_write)
    sock_flush(cl);
  if (status < 0)
    cl->sock.events = 0; /* libuv stopped the poll: watch again */
  if (cl->sock_open && !cl->sock_paused && cl->sock.can_read &&
      sock_read(cl))
    sock_read_pending(cl);
  if (cl->sock_open)
    sock_watch(cl);
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

static void in_close(client_t *cl) {
  cl->in_open = false;
  in_watch(cl);
}

static void in_read(client_t *cl) {
  ssize_t n = sk__endpoint_read(&cl->in, cl->inbuf, sizeof cl->inbuf);
  if (n < 0 && errno == EAGAIN)
    return;
  if (n > 0) {
    sk__msg_t *m = sk__msg_new(cl->inbuf, (size_t)n);
    if (!m || sk__bufq_push(&cl->sq, m, SIZE_MAX) < 0) {
      sk__msg_unref(m);
      client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "input: %s", strerror(ENOMEM)));
      return;
    }
    sk__msg_unref(m);
    if (cl->mark_own)
      sk__lines_feed(&cl->own, LINE_MAX_SHOWN, cl->inbuf, (size_t)n,
                     own_line_cb, cl);
    if (cl->sq.bytes > HIGH_WATER) { /* the server is behind */
      cl->in_paused = true;
      in_watch(cl);
    }
    sock_flush(cl);
    return;
  }
  /* End of input: send what is queued, then FIN; keep reading. */
  cl->in_eof = true;
  in_close(cl);
  sock_flush(cl);
}

/* ---- the line editor (a terminal for both stdin and stdout) ---- */

static void send_text(client_t *cl, const char *text, size_t len) {
  sk__msg_t *m = sk__msg_alloc(len + 1);
  if (!m || sk__bufq_push(&cl->sq, m, SIZE_MAX) < 0) {
    sk__msg_unref(m);
    client_end(cl, sk__fail(cl->err, SK_STOP_ERROR, "input: %s", strerror(ENOMEM)));
    return;
  }
  memcpy(m->data, text, len);
  m->data[len] = '\n';
  sk__msg_unref(m);
  if (cl->sq.bytes > HIGH_WATER) { /* the server is behind */
    cl->in_paused = true;
    in_watch(cl);
  }
}

static bool is_quit(const char *line) {
  return strncmp(line, "/quit", 5) == 0 && (line[5] == '\0' || line[5] == ' ');
}

/* A line typed (NULL: Ctrl-D): shown as the user's, sent; /quit and
 * Ctrl-D say goodbye and end the input (FIN once the queue is out). */
static bool tty_line_cb(void *ctx, const char *line) {
  static const char bye[] = "*** goodbye\n";
  client_t *cl = ctx;
  if (line) {
    size_t len = strlen(line), n;
    n = sk_utf8_sanitize(line, len, cl->show,
                         SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN));
    cl->show[n++] = '\n';
    sk__tty_show_own(cl->show, n, sk__tty_width(line, len));
    send_text(cl, line, len);
  }
  bool more = line && !is_quit(line);
  if (!more) {
    cl->quitting = true;
    cl->in_eof = true;
    in_close(cl);
  }
  sock_flush(cl);
  if (!more) { /* the editor stops: no input line to keep below */
    sk__tty_done_editing();
    sk__tty_show(bye, sizeof bye - 1);
  }
  return more;
}

static void in_poll_cb(uv_poll_t *p, int status, int events) {
  client_t *cl = ((sk__endpoint_t *)p->data)->owner;
  (void)events;
  if (status < 0) /* libuv stopped the poll; the read names the error */
    sk__endpoint_poll_failed(&cl->in);
  if (cl->in_open && !cl->in_paused && cl->tty)
    sk__tty_read();
  else if (cl->in_open && !cl->in_paused)
    in_read(cl);
  if (status < 0)
    in_watch(cl);
}

static void in_idle_cb(uv_idle_t *idle) {
  client_t *cl = idle->data;
  if (cl->in_open && !cl->in_paused)
    in_read(cl);
}

/* ---- ending ---- */

/* Nothing more to wait for: every watch stops, so the loop runs out. */
static void client_close_rest(client_t *cl) {
  if (cl->tty)
    sk__tty_close(); /* input line cleared, termios as it was */
  /* close_notify both ways: ours now if not yet (best effort: the
   * socket is closing either way). */
  if (cl->sock.tls && !cl->sock.tls->shut_sent)
    (void)sk__endpoint_tls_close_notify(&cl->sock);
  cl->sock_open = false;
  sock_watch(cl);
  in_close(cl);
  sk__bufq_clear(&cl->oq); /* what stdout did not take in time */
  sk__endpoint_watch(&cl->out, 0, out_poll_cb);
  sk__engine_part_close(&cl->part, NULL); /* the deadline: closed later */
}

static void deadline_cb(void *mode) {
  client_close_rest(mode); /* stdout did not take the rest in time */
}

/* Stops talking to the server; output drains (SK_ENGINE_FLUSH_MS at
 * most) before the loop ends. */
static void client_end(client_t *cl, sk_stop_t reason) {
  if (cl->ending)
    return;
  cl->ending = true;
  cl->reason = reason;
  cl->sock_open = false;
  sock_watch(cl);
  in_close(cl);
  if (cl->oq.count == 0 || cl->out_error)
    client_close_rest(cl);
  else
    sk__engine_deadline(cl->e, &cl->part, deadline_cb);
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

/* Colour on a terminal unless NO_COLOR (https://no-color.org) or a
 * terminal that cannot show it. */
static bool colour_wanted(void) {
  const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
  return !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

/* The line editor reads and writes the terminal with blocking stdio:
 * the endpoints keep only their poll, the flags go back at once. */
static int tty_start(client_t *cl) {
  sk__endpoint_restore(&cl->out);
  sk__endpoint_restore(&cl->in);
  cl->tty = true;
  return sk__tty_open(cl->in.fd, cl->out.fd, colour_wanted(), tty_line_cb, cl);
}

static int client_setup(client_t *cl, int fd, struct sk_tls *tls,
                        int in_fd, int out_fd) {
  int rc;
  uv_idle_init(cl->loop, &cl->in_idle);
  cl->in_idle.data = cl;
  sk__endpoint_init(&cl->sock, cl, fd, "chat socket");
  if (!cl->sock.socket || cl->sock.dgram)
    return sk__fail(cl->err, -ENOTSOCK, "chat socket: %s", strerror(ENOTSOCK));
  if ((rc = sk__endpoint_open(&cl->sock, cl->loop)) < 0)
    return sk__fail(cl->err, rc, "chat socket: %s", uv_strerror(rc));
  if (tls && (rc = sk__endpoint_tls_attach(&cl->sock, tls)) < 0)
    return sk__fail(cl->err, rc, "chat socket: %s", strerror(-rc));
  cl->sock_open = true;
  sk__endpoint_init(&cl->in, cl, in_fd, "standard input");
  sk__endpoint_init(&cl->out, cl, out_fd, "standard output");
  if (in_fd >= 0) {
    if ((rc = sk__endpoint_open(&cl->in, cl->loop)) < 0)
      return sk__fail(cl->err, rc, "standard input: %s", uv_strerror(rc));
    cl->in_open = true;
  }
  if (out_fd >= 0) {
    if ((rc = sk__endpoint_open(&cl->out, cl->loop)) < 0)
      return sk__fail(cl->err, rc, "standard output: %s", uv_strerror(rc));
    cl->mark_own = cl->out.tty;
    cl->erase_echo = cl->mark_own && cl->in.tty;
  }
  if (cl->erase_echo && (rc = tty_start(cl)) < 0)
    return sk__fail(cl->err, rc, "terminal: %s", strerror(-rc));
  in_watch(cl);
  if (cl->sock.tls)
    sock_tls_handshake(cl); /* typed lines wait in the queue meanwhile */
  else
    sock_watch(cl);
  return 0;
}

static void client_free(client_t *cl) {
  if (cl->tty)
    sk__tty_close();
  sk__engine_teardown(cl->e);
  /* The reverse of opening: stdin and stdout may share a terminal. */
  sk__endpoint_restore(&cl->out);
  sk__endpoint_restore(&cl->in);
  sk__endpoint_restore(&cl->sock);
  sk__endpoint_tls_detach(&cl->sock); /* the session is the caller's */
  sk__bufq_clear(&cl->sq);
  sk__bufq_clear(&cl->oq);
  sk__lines_free(&cl->lines);
  sk__lines_free(&cl->own);
  free(cl->show);
  free(cl);
}

int sk_chat_client_run(sk_engine_t *e, char *err, int fd,
                       struct sk_tls *tls, int in_fd, int out_fd) {
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
  cl->sock.fd = cl->in.fd = cl->out.fd = -1;
  cl->sock.saved_flags = cl->in.saved_flags = cl->out.saved_flags = -1;
  sk__engine_attach(e, &cl->part, cl, client_on_stop);
  rc = client_setup(cl, fd, tls, in_fd, out_fd);
  if (rc == 0) {
    sk__engine_run(e);
    sk__engine_reason(e, cl->reason ? cl->reason : SK_STOP_DONE);
    rc = cl->reason == SK_STOP_ERROR ? -EIO : 0;
  } else {
    sk__engine_reason(e, SK_STOP_ERROR);
  }
  sk__engine_detach(e, &cl->part);
  client_free(cl);
  return rc;
}
