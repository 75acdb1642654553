/*
 * tcp_chat_demo: the tutorial's "interactive demo": a TCP server and a
 * client in two threads of one process.
 *
 *   tcp_chat_demo [host [port]]     (default 127.0.0.1 2333)
 *
 * Each line typed is sent by the client; the server prints it and
 * answers "echo: <line>", which the client prints as it arrives. Other
 * programs (nc 127.0.0.1 2333, the tutorial's client) may join: each
 * client gets its own server thread, so nobody waits for anybody else.
 * A message is a line, or bytes without newline once the sender has
 * sent nothing more for 200 ms (see common.h). A message over 65,534
 * bytes is dropped and its sender told so in one line:
 * "error: message over 65534 bytes; dropped".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

#define MESSAGE_MAX 65534 /* the longest message, line ending not counted */
#define TOO_LONG "error: message over 65534 bytes; dropped\n"

/* Server side: print each message from one client and echo it back;
 * a message too long is refused with one line, and serving goes on. */
static void *server_client_loop(void *arg) {
  int fd = (int)(intptr_t)arg;
  char *echo = malloc(MESSAGE_MAX + 8);
  ex_reader_t *reader = ex_reader_new(fd, MESSAGE_MAX);
  const char *msg;
  ssize_t n;
  while (echo && reader && (n = ex_reader_next(reader, &msg)) != 0) {
    if (n == SK_ETOOLONG) {
      printf("[server] a message over %d bytes dropped\n", MESSAGE_MAX);
      if (sk_send_all(fd, TOO_LONG, strlen(TOO_LONG)) < 0)
        break;
      continue;
    }
    if (n < 0)
      break;
    size_t len = ex_message_strip(msg, (size_t)n);
    sk_utf8_print_line(stdout, "[server] got: ", msg, len);
    memcpy(echo, "echo: ", 6);
    memcpy(echo + 6, msg, len);
    echo[6 + len] = '\n'; /* a quiet message's echo is a line too */
    if (sk_send_all(fd, echo, len + 7) < 0)
      break;
  }
  close(fd);
  free(reader);
  free(echo);
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
  /* The longest message, plus "echo: " */
  ex_reader_t *reader = ex_reader_new(*(int *)arg, MESSAGE_MAX + 6);
  const char *msg;
  ssize_t n = -ENOMEM;
  while (reader && (n = ex_reader_next(reader, &msg)) != 0) {
    if (n == SK_ETOOLONG)
      fprintf(stderr, "[client] dropped a message over %d bytes\n",
              MESSAGE_MAX + 6);
    else if (n < 0)
      break;
    else
      sk_utf8_print_line(stdout, "[client] got: ", msg,
                         ex_message_strip(msg, (size_t)n));
  }
  printf("[client] the server closed the connection\n");
  exit(n < 0);
}

int main(int argc, char **argv) {
  static char line[MESSAGE_MAX + 2];
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  pthread_t server, receiver;
  const char *host, *port;
  int listener, fd;
  ssize_t n;
  int rc = ex_args_parse(argc, argv, "tcp_chat_demo",
                         "A TCP echo server and its client in one process; "
                         "type lines to the client.",
                         &host, &port);
  if (rc >= 0)
    return rc;

  if (sk_addr_set_inet(err, &addr, host, port, 0) < 0) {
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
  printf("chat demo on %s:%s: type a line and press Enter\n", addr.host, port);

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
