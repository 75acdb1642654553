/* Whole writes, exact reads and bounded line reads on descriptors. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/io.h"

/* Waits until fd is ready for events; returns 0 or -errno. */
static int fd_wait(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR)
      return -errno;
  return 0;
}

/* send() with MSG_NOSIGNAL where fd is a socket, write() elsewhere. */
static ssize_t write_some(int fd, const char *buf, size_t len, int *not_sock) {
  if (!*not_sock) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0 || errno != ENOTSOCK)
      return n;
    *not_sock = 1;
  }
  return write(fd, buf, len);
}

ssize_t sk_send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  size_t done = 0;
  int not_sock = 0, rc;
  while (done < len) {
    ssize_t n = write_some(fd, p + done, len - done, &not_sock);
    if (n >= 0) {
      done += (size_t)n;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if ((rc = fd_wait(fd, POLLOUT)) < 0)
        return rc;
    } else if (errno != EINTR) {
      return -errno;
    }
  }
  return (ssize_t)done;
}

ssize_t sk_read_exact(int fd, void *buf, size_t len) {
  char *p = buf;
  size_t done = 0;
  int rc;
  while (done < len) {
    ssize_t n = read(fd, p + done, len - done);
    if (n > 0) {
      done += (size_t)n;
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if ((rc = fd_wait(fd, POLLIN)) < 0)
        return rc;
    } else if (errno != EINTR) {
      return -errno;
    }
  }
  return (ssize_t)done;
}

void sk_line_reader_init(sk_line_reader_t *r, int fd) {
  r->fd = fd;
  r->start = r->end = 0;
  r->skipping = 0;
}

/* Refills an empty buffer; returns bytes read, 0 at EOF or -errno. */
static ssize_t line_fill(sk_line_reader_t *r) {
  ssize_t n;
  int rc;
  r->start = r->end = 0;
  for (;;) {
    n = read(r->fd, r->buf, sizeof r->buf);
    if (n >= 0)
      break;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if ((rc = fd_wait(r->fd, POLLIN)) < 0)
        return rc;
    } else if (errno != EINTR) {
      return -errno;
    }
  }
  r->end = (size_t)n;
  return n;
}

ssize_t sk_line_read(sk_line_reader_t *r, char *line, size_t cap) {
  size_t len = 0;
  if (cap < 2)
    return -EINVAL;
  for (;;) {
    if (r->start == r->end) {
      ssize_t n = line_fill(r);
      if (n < 0)
        return n;
      if (n == 0)
        break;
    }
    char *from = r->buf + r->start;
    size_t avail = r->end - r->start;
    char *nl = memchr(from, '\n', avail);
    size_t take = nl ? (size_t)(nl - from) + 1 : avail;
    if (r->skipping) {
      r->start += take;
      r->skipping = !nl;
      continue;
    }
    if (take > cap - 1 - len) {
      /* The line cannot fit: drop what we have and the rest of it. */
      r->start += take;
      r->skipping = !nl;
      line[0] = '\0';
      return SK_ETOOLONG;
    }
    memcpy(line + len, from, take);
    len += take;
    r->start += take;
    if (nl)
      break;
  }
  line[len] = '\0';
  return (ssize_t)len;
}

size_t sk_line_strip(const char *line, size_t len) {
  /* A CR is part of the line ending only in front of the LF. */
  if (len == 0 || line[len - 1] != '\n')
    return len;
  len--;
  if (len > 0 && line[len - 1] == '\r')
    len--;
  return len;
}
