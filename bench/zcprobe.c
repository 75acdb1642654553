/*
 * zcprobe: the machine's own limit for scenario 1 (TCP throughput), with
 * nothing in the way: sendfile(2) from a file on the sending side,
 * splice(2) socket -> pipe -> /dev/null on the receiving side. No
 * event loop, no copies to user space, blocking calls.
 *
 *   zcprobe recv HOST PORT        accept one client, discard all it sends
 *   zcprobe send HOST PORT FILE   send FILE, then close
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1 << 20)

static void die(const char *what) {
  fprintf(stderr, "zcprobe: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int sock_open(const char *host, const char *port, int listening) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
  struct addrinfo *ai;
  if (getaddrinfo(host, port, &hints, &ai) != 0) {
    errno = EINVAL;
    die("address");
  }
  int fd = socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
  if (fd < 0)
    die("socket");
  if (listening) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0)
      die("listen");
  } else if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    die("connect");
  }
  freeaddrinfo(ai);
  return fd;
}

static int probe_recv(const char *host, const char *port) {
  int lfd = sock_open(host, port, 1), p[2];
  int fd = accept(lfd, NULL, NULL), null = open("/dev/null", O_WRONLY);
  if (fd < 0 || null < 0 || pipe(p) < 0)
    die("accept");
  close(lfd);
  fcntl(p[1], F_SETPIPE_SZ, CHUNK); /* best effort: 64 KiB otherwise */
  long long total = 0;
  for (;;) {
    ssize_t n = splice(fd, NULL, p[1], NULL, CHUNK, SPLICE_F_MOVE);
    if (n == 0)
      break;
    if (n < 0)
      die("splice from socket");
    for (ssize_t left = n; left > 0;) {
      ssize_t m = splice(p[0], NULL, null, NULL, (size_t)left, SPLICE_F_MOVE);
      if (m <= 0)
        die("splice to /dev/null");
      left -= m;
    }
    total += n;
  }
  fprintf(stderr, "zcprobe: received %lld bytes\n", total);
  return 0;
}

static int probe_send(const char *host, const char *port, const char *path) {
  int in = open(path, O_RDONLY), fd;
  struct stat st;
  if (in < 0 || fstat(in, &st) < 0)
    die(path);
  fd = sock_open(host, port, 0);
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = sendfile(fd, in, &off, CHUNK * 16);
    if (n <= 0)
      die("sendfile");
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "recv") == 0)
    return probe_recv(argv[2], argv[3]);
  if (argc == 5 && strcmp(argv[1], "send") == 0)
    return probe_send(argv[2], argv[3], argv[4]);
  fprintf(stderr, "usage: zcprobe recv HOST PORT | send HOST PORT FILE\n");
  return 2;
}
