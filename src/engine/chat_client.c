/*
 * The chat client: a relay mode. Side b is the socket (a TLS endpoint
 * with --ssl), side a the user: stdin and stdout, or, when both are a
 * terminal, the line editor (chat_tty.c) as side a's own calls. The
 * relay moves the bytes; this file only configures it:
 *  - down (server to user), a filter: lines made safe for the terminal
 *    (sk_utf8_sanitize; over-long ones named, not shown);
 *  - up (user to server): typed lines as they are; at the editor,
 *    /quit and Ctrl-D say goodbye and end the input; with a terminal
 *    for output only, a filter that also shows each line marked as the
 *    user's own;
 *  - input's end is a half-close (FIN, or close_notify over TLS), and
 *    the server's close ends the run: at a terminal, unless the user
 *    quit, that is news (one line, exit 1).
 * Works with any line-based TCP peer.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_client.h"
#include "chat_tty.h"
#include "internal.h"
#include "lines.h"
#include "relay.h"
#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/utf8.h"

#define LINE_MAX_SHOWN (64 * 1024) /* longer incoming lines are not shown */
#define READ_MAX (4 * 1024) /* one read: lines, not bulk (the bound below) */
#define OWN_PREFIX "<me> "
#define SKIPPED "*** a line over 65536 bytes not shown"
#define COLOUR_NAME "\033[1;36m"
#define COLOUR_NOTICE "\033[33m"
#define COLOUR_OFF "\033[0m"
#define COLOUR_MAX (sizeof COLOUR_NAME - 1 + sizeof COLOUR_OFF - 1)

typedef struct client {
  int in_fd, out_fd;
  int handshake_ms; /* -w: the TLS handshake's bound, or 0 */
  bool tty;      /* both are a terminal: the line editor is side a */
  bool quitting; /* /quit or Ctrl-D: the server's close is expected */
  bool colour;   /* at the editor: names and notices in colour */
  sk__lines_t lines; /* down: the server's unfinished line */
  sk__lines_t own;   /* up, output-only terminal: the user's */
  char *out;         /* the down filter's output while it runs */
  size_t out_len;
  char *show;        /* one own line made safe */
  /* The editor's typed lines on their way to the relay (with their
   * newlines), [typed_off, typed_len) still to give; then EOF. */
  char *typed;
  size_t typed_len, typed_off, typed_cap;
  bool typed_eof;
  int error;         /* a failure outside the relay's calls (-errno) */
} client_t;

/* ---- down: the server's lines, made safe ---- */

/* A line (made safe, no newline) at `at` gets its name or its notice
 * in colour, in place; returns its new length (COLOUR_MAX more at
 * most). Safe text has no escape of its own: these are the only ones. */
static size_t colour_line(char *at, size_t len) {
  const char *pre = NULL, *gt;
  size_t span = 0, off = sizeof COLOUR_OFF - 1;
  if (len >= 4 && memcmp(at, "*** ", 4) == 0) {
    pre = COLOUR_NOTICE;
    span = len;
  } else if (len > 0 && at[0] == '<' && (gt = memchr(at, '>', len))) {
    pre = COLOUR_NAME;
    span = (size_t)(gt - at) + 1;
  }
  if (!pre)
    return len;
  size_t p = strlen(pre);
  memmove(at + p + span + off, at + span, len - span);
  memmove(at + p, at, span);
  memcpy(at, pre, p);
  memcpy(at + p + span, COLOUR_OFF, off);
  return len + p + off;
}

/* Sanitised straight into the relay's buffer (the filter's out_max
 * holds the most one read can make). */
static bool incoming_line_cb(void *ctx, const char *text, size_t len,
                             bool too_long) {
  client_t *cl = ctx;
  if (too_long) {
    text = SKIPPED;
    len = sizeof SKIPPED - 1;
  }
  char *at = cl->out + cl->out_len;
  size_t n = sk_utf8_sanitize(text, len, at, SK_UTF8_SANITIZED_MAX(len));
  cl->out_len += cl->colour ? colour_line(at, n) : n;
  cl->out[cl->out_len++] = '\n';
  return true;
}

static ssize_t down_filter(void *arg, const char *in, size_t n, char *out) {
  client_t *cl = arg;
  cl->out = out;
  cl->out_len = 0;
  if (n == 0)
    sk__lines_finish(&cl->lines, LINE_MAX_SHOWN, incoming_line_cb, cl);
  else if (sk__lines_feed(&cl->lines, LINE_MAX_SHOWN, in, n,
                          incoming_line_cb, cl) < 0)
    return -ENOMEM;
  return (ssize_t)cl->out_len;
}

/* The most one read makes: the carried line and the read, each byte
 * three at most once safe; per line (one per byte read, plus the
 * carried one) a newline and its colour; and the notice for the
 * over-long lines among them (each over LINE_MAX_SHOWN bytes, so three
 * at most). */
#define DOWN_OUT_MAX                                                      \
  (SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN + READ_MAX) +                    \
   (READ_MAX + 1) * (1 + COLOUR_MAX) + 3 * (sizeof SKIPPED + 1))

/* ---- the terminal, written whole ---- */

/* A terminal takes what is shown whole (blocking, as the editor's
 * stdio), so that the user's own lines never split a server's line. */
static ssize_t term_write(void *arg, const char *buf, size_t len) {
  client_t *cl = arg;
  size_t done = 0;
  while (done < len) {
    ssize_t n = write(cl->out_fd, buf + done, len - done);
    struct pollfd p = {.fd = cl->out_fd, .events = POLLOUT};
    if (n < 0 && errno == EAGAIN)
      poll(&p, 1, -1);
    else if (n < 0 && errno != EINTR)
      return -1;
    else if (n > 0)
      done += (size_t)n;
  }
  return (ssize_t)len;
}

/* stdin kept blocking (side a's flags stay): read only when ready. */
static ssize_t ready_read(void *arg, char *buf, size_t len) {
  client_t *cl = arg;
  struct pollfd p = {.fd = cl->in_fd, .events = POLLIN};
  ssize_t n;
  if (poll(&p, 1, 0) == 0) {
    errno = EAGAIN;
    return -1;
  }
  do
    n = read(cl->in_fd, buf, len);
  while (n < 0 && errno == EINTR);
  return n;
}

/* ---- up, to an output-only terminal: own lines shown marked ---- */

static bool own_line_cb(void *ctx, const char *text, size_t len,
                        bool too_long) {
  client_t *cl = ctx;
  size_t n = sizeof OWN_PREFIX - 1;
  if (too_long)
    return true;
  memcpy(cl->show, OWN_PREFIX, n);
  n += sk_utf8_sanitize(text, len, cl->show + n,
                        SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN));
  cl->show[n++] = '\n';
  if (term_write(cl, cl->show, n) < 0 && !cl->error)
    cl->error = -errno;
  return true;
}

/* The bytes go on as they are; each finished line is also shown. */
static ssize_t own_filter(void *arg, const char *in, size_t n, char *out) {
  client_t *cl = arg;
  memcpy(out, in, n);
  if (n > 0 && sk__lines_feed(&cl->own, LINE_MAX_SHOWN, in, n, own_line_cb,
                              cl) < 0)
    return -ENOMEM;
  return cl->error ? cl->error : (ssize_t)n;
}

/* ---- up, at the line editor ---- */

static bool typed_add(client_t *cl, const char *line, size_t len) {
  size_t keep = cl->typed_len - cl->typed_off;
  if (keep > 0) /* what the relay has not taken yet goes first */
    memmove(cl->typed, cl->typed + cl->typed_off, keep);
  cl->typed_off = 0;
  cl->typed_len = keep;
  if (keep + len + 1 > cl->typed_cap) {
    char *t = realloc(cl->typed, keep + len + 1);
    if (!t)
      return false;
    cl->typed = t;
    cl->typed_cap = keep + len + 1;
  }
  memcpy(cl->typed + keep, line, len);
  cl->typed[keep + len] = '\n';
  cl->typed_len += len + 1;
  return true;
}

static bool is_quit(const char *line) {
  return strncmp(line, "/quit", 5) == 0 && (line[5] == '\0' || line[5] == ' ');
}

/* A typed line (NULL: Ctrl-D): shown as the user's, handed to the
 * relay; /quit and Ctrl-D say goodbye and end the input. */
static bool tty_line_cb(void *ctx, const char *line) {
  static const char bye[] = "*** goodbye\n";
  client_t *cl = ctx;
  if (line) {
    size_t len = strlen(line), n;
    n = sk_utf8_sanitize(line, len, cl->show,
                         SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN));
    cl->show[n++] = '\n';
    sk__tty_show_own(cl->show, n, sk__tty_width(line, len));
    if (!typed_add(cl, line, len) && !cl->error)
      cl->error = -ENOMEM;
  }
  bool more = line && !is_quit(line);
  if (!more) { /* the editor stops: no input line to keep below */
    char notice[sizeof bye + COLOUR_MAX];
    size_t n = sizeof bye - 2; /* the newline after the colour */
    memcpy(notice, bye, n);
    n = cl->colour ? colour_line(notice, n) : n;
    notice[n++] = '\n';
    cl->quitting = cl->typed_eof = true;
    sk__tty_done_editing();
    sk__tty_show(notice, n);
  }
  return more;
}

static ssize_t typed_take(client_t *cl, char *buf, size_t len) {
  size_t n = cl->typed_len - cl->typed_off;
  if (n > len)
    n = len;
  memcpy(buf, cl->typed + cl->typed_off, n);
  cl->typed_off += n;
  return (ssize_t)n;
}

/* Side a's read at the editor: a typed line, EOF after /quit or Ctrl-D,
 * or EAGAIN; the editor takes a key only when one is there (its stdio
 * blocks). */
static ssize_t editor_read(void *arg, char *buf, size_t len) {
  client_t *cl = arg;
  struct pollfd p = {.fd = cl->in_fd, .events = POLLIN};
  if (cl->typed_off == cl->typed_len && !cl->typed_eof &&
      poll(&p, 1, 0) > 0)
    sk__tty_read(); /* may call tty_line_cb */
  if (cl->error) {
    errno = -cl->error;
    return -1;
  }
  if (cl->typed_off < cl->typed_len)
    return typed_take(cl, buf, len);
  if (cl->typed_eof)
    return 0;
  errno = EAGAIN;
  return -1;
}

/* Side a's write at the editor: the lines above the input line, the
 * input redrawn once for all of them. */
static ssize_t editor_write(void *arg, const char *buf, size_t len) {
  (void)arg;
  sk__tty_show(buf, len);
  return (ssize_t)len;
}

/* ---- setting up ---- */

/* Colour on a terminal unless NO_COLOR (https://no-color.org) or a
 * terminal that cannot show it. */
static bool colour_wanted(void) {
  const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
  return !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

static void peer_format(int fd, char *name, size_t len) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  snprintf(name, len, "the server");
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
    sk_sockaddr_format((struct sockaddr *)&ss, sl, name, len);
}

/* The relay joining the user (a) to the server (b), configured as the
 * kinds of stdin and stdout ask; returns as sk_relay_join. */
static int client_relay(sk_engine_t *e, char *err, client_t *cl, int fd,
                        struct sk_tls *tls) {
  char name[SK_ADDRSTR_LEN];
  bool in_tty = cl->in_fd >= 0 && isatty(cl->in_fd);
  bool out_tty = cl->out_fd >= 0 && isatty(cl->out_fd);
  sk_relay_filter_t down = {down_filter, cl, READ_MAX, DOWN_OUT_MAX};
  sk_relay_filter_t own = {own_filter, cl, READ_MAX, READ_MAX};
  sk_relay_io_t editor = {editor_read, editor_write, cl};
  sk_relay_io_t term = {ready_read, term_write, cl};
  sk_relay_opts_t o = {
      .shutdown_on_eof = true, /* read on until the server closes */
      .tls = tls,
      .handshake_timeout_ms = cl->handshake_ms,
      .down_filter = &down,
      .up_filter = out_tty && !in_tty ? &own : NULL,
      .a_io = in_tty && out_tty ? &editor : out_tty ? &term : NULL,
  };
  peer_format(fd, name, sizeof name);
  sk_relay_side_t a = {cl->in_fd, cl->out_fd, "standard input",
                       "standard output"};
  sk_relay_side_t b = {fd, fd, name, NULL};
  int rc;
  cl->tty = in_tty && out_tty;
  cl->colour = cl->tty && colour_wanted();
  if (cl->tty && (rc = sk__tty_open(cl->in_fd, cl->out_fd, cl->colour,
                                    tty_line_cb, cl)) < 0) {
    sk__engine_reason(e, SK_STOP_ERROR);
    return sk__fail(err, rc, "terminal: %s", strerror(-rc));
  }
  rc = sk_relay_join(e, err, &a, &b, &o, NULL);
  if (cl->tty)
    sk__tty_close(); /* input line cleared, termios as it was */
  /* A person at a terminal is told the server went, and the exit code
   * says so too. */
  if (rc == 0 && cl->tty && !cl->quitting && e->reason == SK_STOP_DONE) {
    e->reason = SK_STOP_ERROR;
    rc = sk__fail(err, -EIO, "the server closed the connection");
  }
  return rc;
}

int sk_chat_client_run(sk_engine_t *e, char *err, int fd, struct sk_tls *tls,
                       int in_fd, int out_fd, int handshake_ms) {
  client_t *cl = calloc(1, sizeof *cl);
  char *show = malloc(SK_UTF8_SANITIZED_MAX(LINE_MAX_SHOWN) + 32);
  int rc = -ENOMEM;
  if (cl && show) {
    cl->in_fd = in_fd;
    cl->out_fd = out_fd;
    cl->handshake_ms = handshake_ms;
    cl->show = show;
    rc = client_relay(e, err, cl, fd, tls);
  } else {
    sk__engine_reason(e, SK_STOP_ERROR);
    sk__fail(err, rc, "chat: %s", strerror(ENOMEM));
  }
  if (cl) {
    sk__lines_free(&cl->lines);
    sk__lines_free(&cl->own);
    free(cl->typed);
  }
  free(cl);
  free(show);
  return rc;
}

void sk_chat_client_resumed(void) {
  sk__tty_resume(); /* nothing when no editor runs */
}
