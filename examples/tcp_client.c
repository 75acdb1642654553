/*
 * tcp_client: the tutorial's TCP client, without its flaws.
 *
 *   tcp_client [host [port]]        (default 127.0.0.1 2333)
 *
 * Each line typed is sent to the server. A second thread prints what the
 * server sends at any time, so you never wait for a reply before typing.
 * Messages are lines, read whole however TCP splits them; bytes without
 * newline (what the tutorial's server sends) are a message once the
 * server has sent nothing more for 200 ms (see common.h). At the end of
 * input the client says so (shutdown) and waits for the server to finish.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "sockit/sockit.h"

#define MESSAGE_MAX 65536

static char line_out[MESSAGE_MAX];

/* Prints every message the server sends; ends the program when it leaves. */
static void *receive_loop(void *arg) {
  ex_reader_t *reader = ex_reader_new(*(int *)arg, MESSAGE_MAX - 2);
  const char *msg;
  ssize_t n;
  if (!reader) {
    fprintf(stderr, "tcp_client: out of memory\n");
    exit(1);
  }
  while ((n = ex_reader_next(reader, &msg)) != 0) {
    if (n == SK_ETOOLONG) {
      fprintf(stderr, "tcp_client: dropped a message over %d bytes\n",
              MESSAGE_MAX - 2);
    } else if (n < 0) {
      fprintf(stderr, "tcp_client: connection lost: %s\n", sk_strerror((int)n));
      exit(1);
    } else {
      sk_utf8_print_line(stdout, "server: ", msg,
                         ex_message_strip(msg, (size_t)n));
    }
  }
  printf("server closed the connection\n");
  exit(0);
}

int main(int argc, char **argv) {
  char err[SK_ERR_LEN];
  sk_addr_t addr;
  sk_sock_opts_t opts = {.timeout_ms = 5000};
  const char *host, *port;
  pthread_t receiver;
  int rc = ex_args_parse(argc, argv, "tcp_client",
                         "Sends each line typed to a TCP server; prints "
                         "what the server sends.",
                         &host, &port);
  if (rc >= 0)
    return rc;

  if (sk_addr_set_inet(err, &addr, host, port, 0) < 0) {
    fprintf(stderr, "tcp_client: %s\n", err);
    return 2;
  }
  int fd = sk_tcp_connect(err, &addr, &opts);
  if (fd < 0) {
    fprintf(stderr, "tcp_client: %s\n", err);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("connected to %s:%s\n", host, port);
  pthread_create(&receiver, NULL, receive_loop, &fd);

  sk_line_reader_t input;
  ssize_t n;
  sk_line_reader_init(&input, STDIN_FILENO);
  while ((n = sk_line_read(&input, line_out, sizeof line_out)) != 0) {
    if (n > 0 && (n = (ssize_t)sk_line_strip(line_out, (size_t)n)) > 0) {
      line_out[n++] = '\n';
      if (sk_send_all(fd, line_out, (size_t)n) < 0) {
        fprintf(stderr, "tcp_client: send: the server is gone\n");
        return 1;
      }
    } else if (n < 0 && n != SK_ETOOLONG) {
      break;
    } else {
      fprintf(stderr, "input can't be %s, please input again\n",
              n ? "over 65534 bytes" : "empty");
    }
  }

  shutdown(fd, SHUT_WR); /* no more input: let the server finish */
  pthread_join(receiver, NULL);
  return 0;
}
