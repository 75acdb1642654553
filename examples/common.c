/* What the six examples share: see common.h. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

int ex_args_parse(int argc, char **argv, const char *name, const char *summary,
                  const char **host, const char **port) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("usage: %s [host [port]]    (default 127.0.0.1 2333)\n%s\n", name,
             summary);
      return 0;
    }
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "%s: unknown option \"%s\"; usage: %s [host [port]]\n",
              name, argv[i], name);
      return 2;
    }
  }
  if (argc > 3) {
    fprintf(stderr, "%s: too many arguments; usage: %s [host [port]]\n", name,
            name);
    return 2;
  }
  *host = argc > 1 ? argv[1] : "127.0.0.1";
  *port = argc > 2 ? argv[2] : "2333";
  return -1;
}

struct ex_reader {
  int fd;
  size_t max;        /* longest message, line ending not counted */
  size_t start, end; /* the bytes held: buf[start..end) */
  bool skipping;     /* dropping the rest of a message over max */
  char buf[];        /* max + 2 bytes: the text and "\r\n" */
};

ex_reader_t *ex_reader_new(int fd, size_t max) {
  ex_reader_t *r = malloc(sizeof *r + max + 2);
  if (r) {
    r->fd = fd;
    r->max = max;
    r->start = r->end = 0;
    r->skipping = false;
  }
  return r;
}

size_t ex_message_strip(const char *msg, size_t len) {
  if (len > 0 && msg[len - 1] == '\n')
    len--;
  if (len > 0 && msg[len - 1] == '\r')
    len--;
  return len;
}

/* A whole line held: returns its length (or 0 when it was being
 * dropped, SK_ETOOLONG when it is too long), moving past it. */
static ssize_t line_take(ex_reader_t *r, const char *nl, const char **msg) {
  size_t len = (size_t)(nl - (r->buf + r->start)) + 1;
  *msg = r->buf + r->start;
  r->start += len;
  if (r->skipping) {
    r->skipping = false;
    return 0;
  }
  return ex_message_strip(*msg, len) > r->max ? SK_ETOOLONG : (ssize_t)len;
}

/* Waits for bytes; 1 when some may be read, 0 when the sender has been
 * quiet for EX_QUIET_MS while part of a message is held, or -errno. */
static int wait_bytes(ex_reader_t *r) {
  struct pollfd p = {.fd = r->fd, .events = POLLIN};
  int quiet_ms = r->end > r->start || r->skipping ? EX_QUIET_MS : -1;
  for (;;) {
    int n = poll(&p, 1, quiet_ms);
    if (n >= 0)
      return n;
    if (errno != EINTR)
      return -errno;
  }
}

/* Makes room after the held bytes; SK_ETOOLONG when a message without
 * its newline already fills the buffer (it is dropped). */
static ssize_t room_make(ex_reader_t *r) {
  size_t held = r->end - r->start;
  memmove(r->buf, r->buf + r->start, held);
  r->start = 0;
  r->end = held;
  if (r->skipping) /* held bytes are the dropped message's */
    r->end = 0;
  if (r->skipping || held < r->max + 2)
    return 0;
  r->end = 0;
  r->skipping = true;
  return SK_ETOOLONG;
}

/* The held bytes as one message (the sender is quiet or gone): returns
 * their length, 0 when there are none or they were being dropped. */
static ssize_t held_take(ex_reader_t *r, const char **msg) {
  size_t len = r->skipping ? 0 : r->end;
  *msg = r->buf;
  r->skipping = false;
  r->start = r->end = 0;
  if (ex_message_strip(*msg, len) > r->max)
    return SK_ETOOLONG;
  return (ssize_t)len;
}

ssize_t ex_reader_next(ex_reader_t *r, const char **msg) {
  for (;;) {
    char *from = r->buf + r->start;
    char *nl = memchr(from, '\n', r->end - r->start);
    ssize_t n;
    if (nl) {
      if ((n = line_take(r, nl, msg)) != 0)
        return n;
      continue;
    }
    if ((n = room_make(r)) < 0)
      return n;
    if ((n = wait_bytes(r)) < 0)
      return n;
    if (n == 0) { /* quiet: what is held is a whole message */
      if ((n = held_take(r, msg)) != 0)
        return n;
      continue;
    }
    do
      n = read(r->fd, r->buf + r->end, r->max + 2 - r->end);
    while (n < 0 && errno == EINTR);
    if (n < 0)
      return -errno;
    if (n == 0) /* EOF: a last message without newline is whole */
      return held_take(r, msg);
    r->end += (size_t)n;
  }
}

void ex_print_datagram(const char *prefix, const char *data, size_t len) {
  size_t cap = SK_UTF8_SANITIZED_MAX(len);
  char *shown = malloc(cap);
  if (!shown)
    return;
  size_t n = sk_utf8_sanitize(data, sk_line_strip(data, len), shown, cap);
  flockfile(stdout);
  fputs(prefix, stdout);
  for (size_t i = 0; i < n; i++) {
    if (shown[i] == '\n')
      fputs("\xe2\x90\x8a", stdout); /* U+240A SYMBOL FOR LINE FEED */
    else
      putchar_unlocked(shown[i]);
  }
  putchar_unlocked('\n');
  fflush(stdout);
  funlockfile(stdout);
  free(shown);
}
