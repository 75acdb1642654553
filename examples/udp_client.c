/*
 * udp_client: the tutorial's UDP client, without its flaws.
 *
 *   udp_client [host [port]]        (default 127.0.0.1 2333)
 *
 * Each line typed is sent as one datagram. A thread prints every reply
 * as it arrives, so a lost datagram never leaves the client stuck in
 * recvfrom. When no server listens, the kernel says so and we report
 * it. At the end of input the client waits one second for late replies.
 * A reply is printed on one line: an LF inside it shows as U+240A.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

#define DATAGRAM_MAX 65536

static void *receive_loop(void *arg) {
  static char datagram[DATAGRAM_MAX];
  char err[SK_ERR_LEN];
  int fd = *(int *)arg;
  for (;;) {
    ssize_t n = sk_recvfrom(err, fd, datagram, sizeof datagram, NULL, NULL);
    if (n == -ECONNREFUSED)
      fprintf(stderr, "udp_client: no server is listening there\n");
    else if (n < 0)
      fprintf(stderr, "udp_client: %s\n", err);
    else
      ex_print_datagram("server: ", datagram, (size_t)n);
  }
  return NULL;
}

int main(int argc, char **argv) {
  static char line[DATAGRAM_MAX];
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  pthread_t receiver;
  ssize_t n;
  const char *host, *port;
  int rc =
      ex_args_parse(argc, argv, "udp_client",
                    "Sends each line typed as one UDP datagram; prints every "
                    "reply.",
                    &host, &port);
  if (rc >= 0)
    return rc;

  if (sk_addr_set_inet(err, &addr, host, port, 0) < 0) {
    fprintf(stderr, "udp_client: %s\n", err);
    return 2;
  }
  int fd = sk_udp_connect(err, &addr, NULL);
  if (fd < 0) {
    fprintf(stderr, "udp_client: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_create(&receiver, NULL, receive_loop, &fd);

  sk_line_reader_t input;
  sk_line_reader_init(&input, STDIN_FILENO);
  /* Room for 65507 bytes (the largest datagram), "\r\n" and the NUL. */
  while ((n = sk_line_read(&input, line, 65510)) != 0) {
    if (n > 0 && (n = (ssize_t)sk_line_strip(line, (size_t)n)) > 0) {
      ssize_t sent = sk_sendto(err, fd, line, (size_t)n, NULL, 0);
      if (sent == -ECONNREFUSED) {
        /* An earlier datagram was refused; this one is not sent yet. */
        fprintf(stderr, "udp_client: no server is listening there\n");
        sent = sk_sendto(err, fd, line, (size_t)n, NULL, 0);
      }
      if (sent < 0)
        fprintf(stderr, "udp_client: %s\n", err);
    } else if (n < 0 && n != SK_ETOOLONG) {
      break;
    } else {
      fprintf(stderr, "input can't be %s, please input again\n",
              n ? "over 65507 bytes" : "empty");
    }
  }
  sleep(1); /* replies may still be on their way */
  return 0;
}
