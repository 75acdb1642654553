/*
 * tcp_chat_demo: the tutorial's "interactive demo": a TCP server and a
 * client in two threads of one process.
 *
 *   tcp_chat_demo [host [port]]     (default 127.0.0.1 2333)
 *
 * Each line typed is sent by the client; the server prints it and
 * answers "echo: <line>", which the client prints as it arrives. Other
 * programs (nc 127.0.0.1 2333) may join: each client gets its own
 * server thread, so nobody waits for anybody else.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockit/sockit.h"

#define MESSAGE_MAX 65536

/* Server side: print each line from one client and echo it back. */
static void *server_client_loop(void *arg) {
  int fd = (int)(intptr_t)arg;
  char *line = malloc(MESSAGE_MAX + 8);
  sk_line_reader_t *reader = malloc(sizeof *reader);
  ssize_t n;
  sk_line_reader_init(reader, fd);
  while (line && reader &&
         (n = sk_line_read(reader, line + 6, MESSAGE_MAX)) > 0) {
    sk_utf8_print_line(stdout, "[server] got: ", line + 6, (size_t)n);
    memcpy(line, "echo: ", 6);
    if (sk_send_all(fd, line, (size_t)n + 6) < 0)
      break;
  }
  close(fd);
  free(reader);
  free(line);
  return NULL;
}

static void *server_loop(void *arg) {
  int listener = *(int *)arg;
  char err[SK_ERR_LEN];
  pthread_t t;
  for (;;) {
    int fd = sk_accept(err, listener, NULL, NULL);
    if (fd < 0) {
      fprintf(stderr, "[server] %s\n", err);
      sleep(1);
    } else if (pthread_create(&t, NULL, server_client_loop,
                              (void *)(intptr_t)fd) == 0) {
      pthread_detach(t);
    } else {
      close(fd);
    }
  }
  return NULL;
}

/* Client side: print what the server sends while the user types. */
static void *client_receive_loop(void *arg) {
  static char line[MESSAGE_MAX + 8]; /* the longest line, plus "echo: " */
  sk_line_reader_t reader;
  ssize_t n;
  sk_line_reader_init(&reader, *(int *)arg);
  while ((n = sk_line_read(&reader, line, sizeof line)) > 0)
    sk_utf8_print_line(stdout, "[client] got: ", line, (size_t)n);
  printf("[client] the server closed the connection\n");
  exit(n < 0);
}

int main(int argc, char **argv) {
  static char line[MESSAGE_MAX];
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  pthread_t server, receiver;
  int listener, fd;
  ssize_t n;

  if (sk_addr_set_inet(err, &addr, argc > 1 ? argv[1] : "127.0.0.1",
                       argc > 2 ? argv[2] : "2333", 0) < 0) {
    fprintf(stderr, "tcp_chat_demo: %s\n", err);
    return 2;
  }
  if ((listener = sk_tcp_listen(err, &addr, NULL)) < 0 ||
      (fd = sk_tcp_connect(err, &addr, NULL)) < 0) {
    fprintf(stderr, "tcp_chat_demo: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  pthread_create(&server, NULL, server_loop, &listener);
  pthread_create(&receiver, NULL, client_receive_loop, &fd);
  printf("chat demo on %s:%s: type a line and press Enter\n", addr.host,
         argc > 2 ? argv[2] : "2333");

  sk_line_reader_t input;
  sk_line_reader_init(&input, STDIN_FILENO);
  while ((n = sk_line_read(&input, line, sizeof line)) != 0) {
    if (n > 0 && (n = (ssize_t)sk_line_strip(line, (size_t)n)) > 0) {
      line[n++] = '\n';
      sk_send_all(fd, line, (size_t)n);
    } else if (n < 0 && n != SK_ETOOLONG) {
      break;
    } else {
      fprintf(stderr, "input can't be %s, please input again\n",
              n ? "over 65534 bytes" : "empty");
    }
  }
  shutdown(fd, SHUT_WR); /* the server's echoes still arrive */
  pthread_join(receiver, NULL);
  return 0;
}
