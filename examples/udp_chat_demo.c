/*
 * udp_chat_demo: the tutorial's UDP "interactive demo": a server and a
 * client in two threads of one process.
 *
 *   udp_chat_demo [host [port]]     (default 127.0.0.1 2333)
 *
 * Each line typed is sent by the client as one datagram; the server
 * thread prints it and answers "echo: <line>" to whoever sent it, which
 * the client thread prints as it arrives. Other programs may send to the
 * server too (nc -u 127.0.0.1 2333, the tutorial's client). A datagram
 * too large to echo with its prefix (65,502 bytes or more over IPv4) is
 * answered with one line that says so. An LF inside a datagram is shown
 * as U+240A, so no datagram prints a forged second line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

#define DATAGRAM_MAX 65536

/* A datagram too large to echo with its prefix: the sender learns why
 * it gets no echo, in one line, instead of waiting for one. */
static void too_large_tell(int fd, ssize_t len, struct sockaddr_storage *to,
                           socklen_t to_len) {
  char err[SK_ERR_LEN], notice[128];
  int n = snprintf(notice, sizeof notice,
                   "error: datagram of %zd bytes not echoed: with \"echo: \" "
                   "it is over the UDP limit",
                   len);
  printf("[server] datagram of %zd bytes too large to echo; sender told\n",
         len);
  if (sk_sendto(err, fd, notice, (size_t)n, (struct sockaddr *)to, to_len) < 0)
    fprintf(stderr, "[server] %s\n", err);
}

static void *server_loop(void *arg) {
  static char datagram[DATAGRAM_MAX];
  char err[SK_ERR_LEN];
  struct sockaddr_storage from;
  socklen_t from_len;
  int fd = *(int *)arg;
  for (;;) {
    ssize_t n = sk_recvfrom(err, fd, datagram + 6, sizeof datagram - 6, &from,
                            &from_len);
    if (n < 0)
      continue;
    ex_print_datagram("[server] got: ", datagram + 6, (size_t)n);
    memcpy(datagram, "echo: ", 6);
    ssize_t rc = sk_sendto(err, fd, datagram, (size_t)n + 6,
                           (struct sockaddr *)&from, from_len);
    if (rc == -EMSGSIZE)
      too_large_tell(fd, n, &from, from_len);
    else if (rc < 0)
      fprintf(stderr, "[server] %s\n", err);
  }
  return NULL;
}

static void *client_receive_loop(void *arg) {
  static char datagram[DATAGRAM_MAX];
  int fd = *(int *)arg;
  for (;;) {
    ssize_t n = sk_recvfrom(NULL, fd, datagram, sizeof datagram, NULL, NULL);
    if (n >= 0)
      ex_print_datagram("[client] got: ", datagram, (size_t)n);
  }
  return NULL;
}

int main(int argc, char **argv) {
  static char line[DATAGRAM_MAX];
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  pthread_t server, receiver;
  int server_fd, client_fd;
  ssize_t n;
  const char *host, *port;
  int rc =
      ex_args_parse(argc, argv, "udp_chat_demo",
                    "A UDP echo server and its client in one process; type "
                    "lines to the client.",
                    &host, &port);
  if (rc >= 0)
    return rc;

  if (sk_addr_set_inet(err, &addr, host, port, 0) < 0) {
    fprintf(stderr, "udp_chat_demo: %s\n", err);
    return 2;
  }
  if ((server_fd = sk_udp_bind(err, &addr, NULL)) < 0 ||
      (client_fd = sk_udp_connect(err, &addr, NULL)) < 0) {
    fprintf(stderr, "udp_chat_demo: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_create(&server, NULL, server_loop, &server_fd);
  pthread_create(&receiver, NULL, client_receive_loop, &client_fd);
  printf("UDP chat demo: type a line and press Enter\n");

  sk_line_reader_t input;
  sk_line_reader_init(&input, STDIN_FILENO);
  while ((n = sk_line_read(&input, line, 65502)) != 0) {
    if (n > 0 && (n = (ssize_t)sk_line_strip(line, (size_t)n)) > 0) {
      if (sk_sendto(err, client_fd, line, (size_t)n, NULL, 0) < 0)
        fprintf(stderr, "[client] %s\n", err);
    } else if (n < 0 && n != SK_ETOOLONG) {
      break;
    } else {
      fprintf(stderr, "input can't be %s, please input again\n",
              n ? "over 65500 bytes" : "empty");
    }
  }
  sleep(1); /* the last echoes may still be on their way */
  return 0;
}
