/*
 * udp_server: the tutorial's UDP server, without its flaws.
 *
 *   udp_server [host [port]]        (default 127.0.0.1 2333)
 *
 * A thread prints every datagram as it arrives, whole (up to 65,507
 * bytes, not 1024), with the sender's address, on one line: an LF
 * inside a datagram shows as U+240A, so a datagram cannot print a second
 * line that seems to come from another address. Each line typed here is
 * sent as a reply to the client that spoke last.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

#define DATAGRAM_MAX 65536

static pthread_mutex_t peer_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sockaddr_storage peer; /* who spoke last */
static socklen_t peer_len;           /* 0 until somebody speaks */

static void *receive_loop(void *arg) {
  static char datagram[DATAGRAM_MAX];
  char err[SK_ERR_LEN], name[SK_ADDRSTR_LEN + 2];
  struct sockaddr_storage from;
  socklen_t from_len;
  int fd = *(int *)arg;
  for (;;) {
    ssize_t n =
        sk_recvfrom(err, fd, datagram, sizeof datagram, &from, &from_len);
    if (n < 0) {
      fprintf(stderr, "udp_server: %s\n", err);
      continue;
    }
    pthread_mutex_lock(&peer_lock);
    memcpy(&peer, &from, sizeof from);
    peer_len = from_len;
    pthread_mutex_unlock(&peer_lock);
    sk_sockaddr_format((struct sockaddr *)&from, from_len, name,
                       SK_ADDRSTR_LEN);
    strcat(name, ": ");
    ex_print_datagram(name, datagram, (size_t)n);
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
  int rc = ex_args_parse(
      argc, argv, "udp_server",
      "Prints every UDP datagram with its sender; sends each line typed "
      "to the client that spoke last.",
      &host, &port);
  if (rc >= 0)
    return rc;

  if (sk_addr_set_inet(err, &addr, host, port, 0) < 0) {
    fprintf(stderr, "udp_server: %s\n", err);
    return 2;
  }
  int fd = sk_udp_bind(err, &addr, NULL);
  if (fd < 0) {
    fprintf(stderr, "udp_server: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("waiting for data on %s:%s\n", host, port);
  pthread_create(&receiver, NULL, receive_loop, &fd);

  sk_line_reader_t input;
  sk_line_reader_init(&input, STDIN_FILENO);
  /* Room for 65507 bytes (the largest datagram), "\r\n" and the NUL. */
  while ((n = sk_line_read(&input, line, 65510)) != 0) {
    if (n > 0 && (n = (ssize_t)sk_line_strip(line, (size_t)n)) > 0) {
      pthread_mutex_lock(&peer_lock);
      if (peer_len == 0)
        fprintf(stderr, "no client has spoken yet; reply not sent\n");
      else if (sk_sendto(err, fd, line, (size_t)n, (struct sockaddr *)&peer,
                         peer_len) < 0)
        fprintf(stderr, "udp_server: %s\n", err);
      pthread_mutex_unlock(&peer_lock);
    } else if (n < 0 && n != SK_ETOOLONG) {
      break;
    } else {
      fprintf(stderr, "input can't be %s, please input again\n",
              n ? "over 65507 bytes" : "empty");
    }
  }
  pthread_join(receiver, NULL); /* no more replies; keep printing */
  return 0;
}
