/*
 * udp_chat_demo: the tutorial's UDP "interactive demo": a server and a
 * client in two threads of one process.
 *
 *   udp_chat_demo [host [port]]     (default 127.0.0.1 2333)
 *
 * Each line typed is sent by the client as one datagram; the server
 * thread prints it and answers "echo: <line>" to whoever sent it, which
 * the client thread prints as it arrives. Other programs may send to the
 * server too (nc -u 127.0.0.1 2333).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sockit/sockit.h"

#define DATAGRAM_MAX 65536

static void *server_loop(void *arg) {
  static char datagram[DATAGRAM_MAX];
  char err[SK_ERR_LEN];
  struct sockaddr_storage from;
  socklen_t from_len;
  int fd = *(int *)arg;
  for (;;) {
    ssize_t n = sk_recvfrom(err, fd, datagram + 6, sizeof datagram - 6,
                            &from, &from_len);
    if (n < 0)
      continue;
    sk_utf8_print_line(stdout, "[server] got: ", datagram + 6, (size_t)n);
    memcpy(datagram, "echo: ", 6);
    if (sk_sendto(err, fd, datagram, (size_t)n + 6, (struct sockaddr *)&from,
                  from_len) < 0)
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
      sk_utf8_print_line(stdout, "[client] got: ", datagram, (size_t)n);
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

  if (sk_addr_set_inet(err, &addr, argc > 1 ? argv[1] : "127.0.0.1",
                       argc > 2 ? argv[2] : "2333", 0) < 0) {
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
